//! Criterion benches of one full fusion step: 4 sensor frames (2 lidar, 2 camera) of N
//! detections each into M live tracks, then `poll_output`.
//!
//! Ids: `fusion/step_4x25_50tracks`, `fusion/step_4x100_200tracks` (the figure to beat:
//! median < 0.5 ms on one core), `fusion/step_4x500_1000tracks`; and
//! `fusion/last_frame_4x100_200tracks_in_order` / `_speculative`: only the last frame of the
//! step, the work left between the last frame's arrival and the output (speculation fuses the
//! first three as they arrive).
//! Targets circle the intersection (so the scene is stationary however many iterations run);
//! each sensor sees half of them: each lidar every other target, each camera the half nearest
//! to it (cameras see up to 60 m), so every target gets about two updates per step.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::cell::Cell;

use corridor_fusion::{Fusion, FusionConfig, SensorSpec};
use corridor_model::detection::SensorKind;
use corridor_model::{Detection, DetectionFrame, ObjectClass, SensorExtrinsics, SensorId, Size3, Timestamp};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use nalgebra::{Matrix3, Point3, Vector3};

const T0_NS: i64 = 1_763_856_000_000_000_000;
const STEP_S: f64 = 0.1;

struct Scene {
    n_targets: usize,
    area_m: f64,
    sensors: Vec<SensorSpec>,
    /// Time between two sensors' captures of one step, s: 10 ms (free-running sensors), or
    /// 0.4 ms for hardware-synchronised ones (`synchronised`).
    stagger_s: f64,
}

/// A cheap deterministic hash noise in [-1, 1].
fn noise(a: u64, b: u64) -> f64 {
    let mut x = a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    (x >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
}

impl Scene {
    fn new(n_targets: usize) -> Self {
        // 200 targets within 45 m of the centre, poles at (+-30, +-30): every detection within
        // ~90 m of its sensor; larger scenes scale the area to keep the density
        let scale = (n_targets as f64 / 200.0).sqrt();
        let area_m = 90.0 * scale;
        let c = 20.0 * scale;
        let mk = |name: &str, kind, x: f64, y: f64| SensorSpec {
            id: SensorId::new(name).unwrap(),
            kind,
            extrinsics: SensorExtrinsics::from_pose(Vector3::new(x, y, 6.0), (-y).atan2(-x), 0.1),
        };
        let sensors = vec![
            mk("lidar-ne", SensorKind::Lidar, c, c),
            mk("lidar-sw", SensorKind::Lidar, -c, -c),
            mk("cam-nw", SensorKind::Camera, -c, c),
            mk("cam-se", SensorKind::Camera, c, -c),
        ];
        Self { n_targets, area_m, sensors, stagger_s: 0.01 }
    }

    /// Target `i` on its circle at time `t_s`.
    fn target(&self, i: usize, t_s: f64) -> (f64, f64) {
        let r = 3.0 + (self.area_m * 0.5 - 3.0) * (((i * 7919) % 1000) as f64 / 1000.0).sqrt();
        let speed = 3.0 + 9.0 * ((i * 104_729) % 97) as f64 / 97.0;
        let dir = if i & 1 == 0 { 1.0 } else { -1.0 };
        let a = (i as f64) * 2.399_963 + dir * speed / r * t_s;
        (r * a.cos(), r * a.sin())
    }

    fn frames(&self, step: u64) -> Vec<(Timestamp, DetectionFrame)> {
        let t_s = step as f64 * STEP_S;
        let mut out = Vec::new();
        for (k, s) in self.sensors.iter().enumerate() {
            let t_cap = t_s + self.stagger_s * k as f64;
            let mut detections = Vec::with_capacity(self.n_targets / 2);
            // lidars (80 m range) split the targets by parity; cameras (60 m) see the half
            // nearest to them, as the profiles' ranges imply
            let sxy = s.extrinsics.enu_from_sensor.translation.vector.xy();
            let mut seen: Vec<(f64, usize)> = (0..self.n_targets)
                .map(|i| {
                    let (x, y) = self.target(i, t_cap);
                    ((x - sxy.x).hypot(y - sxy.y), i)
                })
                .collect();
            if s.kind == SensorKind::Camera {
                seen.sort_by(|a, b| a.0.total_cmp(&b.0));
                seen.truncate(self.n_targets / 2);
            } else {
                seen.retain(|(_, i)| (i + k) & 1 == 0);
            }
            for (_, i) in seen {
                let (x, y) = self.target(i, t_cap);
                let p = s.extrinsics.to_sensor(&Point3::new(x, y, 0.8)).coords;
                let cov = match s.kind {
                    SensorKind::Camera => {
                        let r = p.norm().max(1.0);
                        let u = p / r;
                        let uut = u * u.transpose();
                        uut * (0.05 * r).max(0.3).powi(2) + (Matrix3::identity() - uut) * 0.09
                    }
                    _ => Matrix3::from_diagonal_element(0.0225),
                };
                let sd = cov.cholesky().map(|c| c.l()).unwrap_or_else(Matrix3::zeros);
                let n = Vector3::new(
                    noise(step, (i * 8 + k) as u64),
                    noise(step, (i * 8 + k + 3) as u64),
                    noise(step, (i * 8 + k + 5) as u64),
                );
                detections.push(Detection {
                    class: ObjectClass::Car,
                    class_confidence: 0.8,
                    position_m: p + sd * n,
                    position_cov: cov,
                    velocity_mps: None,
                    heading_rad: None,
                    size_m: Some(Size3::new(4.5, 1.8, 1.5)),
                });
            }
            let cap = Timestamp::from_unix_ns(T0_NS + (t_cap * 1e9) as i64);
            let frame =
                DetectionFrame { sensor: s.id.clone(), kind: s.kind, frame_seq: step, capture_time: cap, detections };
            out.push((cap.add_secs_f64(0.05), frame));
        }
        out
    }
}

fn step(f: &mut Fusion, frames: Vec<(Timestamp, DetectionFrame)>) -> usize {
    for (now, fr) in frames {
        f.handle_frame(now, fr);
    }
    f.poll_output().map_or(0, |o| o.objects.len())
}

fn bench_step(c: &mut Criterion, n_dets: usize, n_tracks: usize) {
    let scene = Scene::new(n_tracks);
    assert_eq!(n_dets * 2, n_tracks);
    let mut fusion = Fusion::new(FusionConfig::default(), scene.sensors.clone());
    let mut k = 0u64;
    for _ in 0..30 {
        step(&mut fusion, scene.frames(k));
        k += 1;
    }
    let (_, confirmed, coasting) = fusion.track_counts();
    assert!(confirmed + coasting >= n_tracks * 95 / 100, "only {confirmed} + {coasting} tracks for {n_tracks} targets");
    let counter = Cell::new(k);
    let mut group = c.benchmark_group("fusion");
    group.bench_function(format!("step_4x{n_dets}_{n_tracks}tracks"), |b| {
        b.iter_batched(
            || {
                let k = counter.get();
                counter.set(k + 1);
                scene.frames(k)
            },
            |frames| step(&mut fusion, frames),
            BatchSize::SmallInput,
        )
    });
    group.finish();
    let (_, confirmed, coasting) = fusion.track_counts();
    assert!(confirmed + coasting >= n_tracks * 95 / 100, "tracking degraded: {confirmed} + {coasting}");
}

/// The work left when the last frame of an instant arrives: the first three frames are handed
/// in (untimed; with `speculate` they are fused right then), the timed part is the fourth
/// frame's `handle_frame` and `poll_output`, i.e. the RSU's latency from the last frame to the
/// state, without and with speculation (`FusionConfig::speculate`).
fn bench_last_frame(c: &mut Criterion, n_dets: usize, n_tracks: usize, speculate: bool) {
    // synchronised sensors: every frame of a step waits for the last one without speculation
    let scene = Scene { stagger_s: 0.0004, ..Scene::new(n_tracks) };
    let cfg = FusionConfig { speculate, ..FusionConfig::default() };
    let mut fusion = Fusion::new(cfg, scene.sensors.clone());
    let mut k = 0u64;
    for _ in 0..30 {
        step(&mut fusion, scene.frames(k));
        k += 1;
    }
    let name = if speculate { "speculative" } else { "in_order" };
    let mut group = c.benchmark_group("fusion");
    group.bench_function(format!("last_frame_4x{n_dets}_{n_tracks}tracks_{name}"), |b| {
        #[allow(clippy::disallowed_methods, reason = "the bench times only the last frame itself")]
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iters {
                let mut frames = scene.frames(k);
                k += 1;
                let Some((now, last)) = frames.pop() else { continue };
                for (t, fr) in frames {
                    fusion.handle_frame(t, fr);
                }
                let start = std::time::Instant::now();
                fusion.handle_frame(now, last);
                let out = fusion.poll_output();
                total += start.elapsed();
                assert!(
                    out.is_some_and(|o| o.objects.len() >= n_tracks * 95 / 100),
                    "no full output after the last frame"
                );
            }
            total
        })
    });
    group.finish();
    let st = fusion.stats();
    assert_eq!(st.speculative_frames > 0, speculate, "speculation {speculate}: {st:?}");
}

fn benches(c: &mut Criterion) {
    bench_step(c, 25, 50);
    bench_step(c, 100, 200);
    bench_step(c, 500, 1000);
    bench_last_frame(c, 100, 200, false);
    bench_last_frame(c, 100, 200, true);
}

criterion_group!(fusion_benches, benches);
criterion_main!(fusion_benches);
