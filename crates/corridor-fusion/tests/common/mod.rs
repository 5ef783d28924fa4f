//! A small deterministic synthetic-scene generator for the fusion tests and bench.
//!
//! Targets move on lines or arcs; four sensors sit on poles at the corners (two lidars, two
//! cameras) with the default profiles: lidar 10 Hz, sigma 0.15 m, Pd 0.95 within 80 m,
//! 0.5 false alarms per frame, latency 20-50 ms; camera 15 Hz, 0.3 m lateral and 5 % range
//! sigma, Pd 0.90 within 60 m, 1 false alarm per frame, latency 40-90 ms, clock skew. An object
//! hidden behind a larger one from a sensor's viewpoint is not detected. All noise comes from a
//! seeded ChaCha8 generator, so a scene is reproducible bit for bit.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use corridor_fusion::{Fusion, FusionOutput, SensorSpec};
use corridor_model::detection::SensorKind;
use corridor_model::{Detection, DetectionFrame, ObjectClass, SensorExtrinsics, SensorId, Size3, Timestamp, TrackId};
use nalgebra::{Matrix3, Point3, Vector2, Vector3};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Poisson};
use std::collections::BTreeMap;

/// Scenario start time (2025-11-23, an arbitrary fixed UTC instant).
pub const T0_NS: i64 = 1_763_856_000_000_000_000;

pub fn ts(t_s: f64) -> Timestamp {
    Timestamp::from_unix_ns(T0_NS + (t_s * 1e9).round() as i64)
}

/// A lidar spec on a 5 m pole at `(x, y)`, facing the centre.
pub fn lidar(name: &str, x: f64, y: f64) -> SensorSpec {
    SensorSpec {
        id: SensorId::new(name).unwrap(),
        kind: SensorKind::Lidar,
        extrinsics: SensorExtrinsics::from_pose(Vector3::new(x, y, 5.0), (-y).atan2(-x), 0.0),
    }
}

pub fn secs(t: Timestamp) -> f64 {
    (t.unix_ns - T0_NS) as f64 * 1e-9
}

/// How a target moves.
#[derive(Debug, Clone, Copy)]
pub enum Motion {
    /// `p(t) = p0 + v (t - t_start)`.
    Line { p0: Vector2<f64>, v: Vector2<f64> },
    /// Circle around `centre`, starting at angle `a0`, turning at `omega` (rad/s, CCW > 0).
    Arc { centre: Vector2<f64>, radius_m: f64, a0: f64, omega: f64 },
    /// A straight line then an arc: enters the arc at `t_turn_s` (relative to start).
    LineThenArc { p0: Vector2<f64>, v: Vector2<f64>, t_turn_s: f64, omega: f64 },
    /// Moves at `v` until `t_stop_s`, stands until `t_go_s`, then sets off accelerating at
    /// `accel_mps2` up to `v2` (times relative to start; `f64::INFINITY`: at `v2` at once, a
    /// pedestrian waiting at the kerb).
    StopAndGo { p0: Vector2<f64>, v: Vector2<f64>, t_stop_s: f64, t_go_s: f64, v2: Vector2<f64>, accel_mps2: f64 },
}

#[derive(Debug, Clone)]
pub struct Target {
    pub truth_id: u32,
    pub class: ObjectClass,
    pub size: Size3,
    pub motion: Motion,
    pub t_start_s: f64,
    pub t_end_s: f64,
}

impl Target {
    /// Position and velocity at `t_s`, if alive.
    pub fn state(&self, t_s: f64) -> Option<(Vector2<f64>, Vector2<f64>)> {
        if t_s < self.t_start_s || t_s > self.t_end_s {
            return None;
        }
        let tau = t_s - self.t_start_s;
        Some(match self.motion {
            Motion::Line { p0, v } => (p0 + v * tau, v),
            Motion::Arc { centre, radius_m, a0, omega } => {
                let a = a0 + omega * tau;
                let p = centre + Vector2::new(a.cos(), a.sin()) * radius_m;
                let v = Vector2::new(-a.sin(), a.cos()) * radius_m * omega;
                (p, v)
            }
            Motion::LineThenArc { p0, v, t_turn_s, omega } => {
                if tau <= t_turn_s {
                    (p0 + v * tau, v)
                } else {
                    let p1 = p0 + v * t_turn_s;
                    let dt = tau - t_turn_s;
                    let (s, c) = (omega * dt).sin_cos();
                    let (a, b) = if omega.abs() > 1e-9 { (s / omega, (1.0 - c) / omega) } else { (dt, 0.0) };
                    let p = p1 + Vector2::new(a * v.x - b * v.y, b * v.x + a * v.y);
                    let vn = Vector2::new(c * v.x - s * v.y, s * v.x + c * v.y);
                    (p, vn)
                }
            }
            Motion::StopAndGo { p0, v, t_stop_s, t_go_s, v2, accel_mps2 } => {
                let stop = p0 + v * t_stop_s;
                if tau <= t_stop_s {
                    (p0 + v * tau, v)
                } else if tau <= t_go_s {
                    (stop, Vector2::zeros())
                } else if accel_mps2.is_infinite() || v2 == Vector2::zeros() {
                    (stop + v2 * (tau - t_go_s), v2)
                } else {
                    // speed ramps up at accel_mps2 until |v2|, then holds
                    let (top, dir) = (v2.norm(), v2.normalize());
                    let t_ramp = top / accel_mps2;
                    let s = tau - t_go_s;
                    let (dist, speed) = if s < t_ramp {
                        (0.5 * accel_mps2 * s * s, accel_mps2 * s)
                    } else {
                        (0.5 * top * t_ramp + top * (s - t_ramp), top)
                    };
                    (stop + dir * dist, dir * speed)
                }
            }
        })
    }
}

pub fn typical_size(class: ObjectClass) -> Size3 {
    match class {
        ObjectClass::Pedestrian => Size3::new(0.6, 0.6, 1.7),
        ObjectClass::Cyclist => Size3::new(1.8, 0.7, 1.6),
        ObjectClass::Bus => Size3::new(12.0, 2.5, 3.2),
        ObjectClass::Truck => Size3::new(9.0, 2.5, 3.5),
        _ => Size3::new(4.5, 1.8, 1.5),
    }
}

pub fn line(truth_id: u32, class: ObjectClass, p0: (f64, f64), v: (f64, f64), t_start_s: f64, t_end_s: f64) -> Target {
    Target {
        truth_id,
        class,
        size: typical_size(class),
        motion: Motion::Line { p0: Vector2::new(p0.0, p0.1), v: Vector2::new(v.0, v.1) },
        t_start_s,
        t_end_s,
    }
}

/// One simulated sensor.
#[derive(Debug, Clone)]
pub struct SimSensor {
    pub id: SensorId,
    pub kind: SensorKind,
    pub extrinsics: SensorExtrinsics,
    pub rate_hz: f64,
    pub phase_s: f64,
    /// Added to the true capture time in the stamp (sensor clock minus true time).
    pub clock_skew_s: f64,
    pub latency_s: (f64, f64),
    pub p_detect: f64,
    pub range_m: f64,
    /// Half field of view, rad (PI: all around).
    pub half_fov_rad: f64,
    pub false_alarms_per_frame: f64,
    /// No frames in `[from, to)` (dropout).
    pub dropout_s: Option<(f64, f64)>,
}

impl SimSensor {
    pub fn spec(&self) -> SensorSpec {
        SensorSpec { id: self.id.clone(), kind: self.kind, extrinsics: self.extrinsics }
    }
}

/// Two lidars and two cameras on 6 m poles at the corners `(+-c, +-c)`, looking at the centre.
pub fn corner_sensors(c: f64) -> Vec<SimSensor> {
    let mk = |name: &str, kind: SensorKind, x: f64, y: f64, phase_s: f64, skew: f64| {
        let yaw = (-y).atan2(-x);
        let (rate_hz, latency_s, p_detect, range_m, half_fov_rad, fa) = match kind {
            SensorKind::Camera => (15.0, (0.040, 0.090), 0.90, 60.0, 1.2, 1.0),
            _ => (10.0, (0.020, 0.050), 0.95, 80.0, std::f64::consts::PI, 0.5),
        };
        SimSensor {
            id: SensorId::new(name).unwrap(),
            kind,
            extrinsics: SensorExtrinsics::from_pose(Vector3::new(x, y, 6.0), yaw, 0.12),
            rate_hz,
            phase_s,
            clock_skew_s: skew,
            latency_s,
            p_detect,
            range_m,
            half_fov_rad,
            false_alarms_per_frame: fa,
            dropout_s: None,
        }
    };
    vec![
        mk("lidar-ne", SensorKind::Lidar, c, c, 0.0, 0.0),
        mk("lidar-sw", SensorKind::Lidar, -c, -c, 0.05, 0.0),
        mk("cam-nw", SensorKind::Camera, -c, c, 0.01, 0.0),
        mk("cam-se", SensorKind::Camera, c, -c, 0.04, 0.0),
    ]
}

/// A received frame: when the RSU gets it, and the frame.
#[derive(Debug, Clone)]
pub struct Received {
    pub recv_s: f64,
    pub true_capture_s: f64,
    pub frame: DetectionFrame,
}

pub struct Scene {
    pub targets: Vec<Target>,
    pub sensors: Vec<SimSensor>,
    pub seed: u64,
    /// Camera class confidence; lidar reports 0.6.
    pub camera_class_conf: f32,
}

impl Scene {
    pub fn new(targets: Vec<Target>, seed: u64) -> Self {
        Self { targets, sensors: corner_sensors(25.0), seed, camera_class_conf: 0.9 }
    }

    pub fn specs(&self) -> Vec<SensorSpec> {
        self.sensors.iter().map(SimSensor::spec).collect()
    }

    /// Every frame captured in `[0, t_end_s)`, ordered by receive time.
    pub fn frames(&self, t_end_s: f64) -> Vec<Received> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut out = Vec::new();
        for (si, s) in self.sensors.iter().enumerate() {
            let mut k = 0u64;
            loop {
                let t = s.phase_s + k as f64 / s.rate_hz;
                if t >= t_end_s {
                    break;
                }
                k += 1;
                if let Some((a, b)) = s.dropout_s {
                    if t >= a && t < b {
                        continue;
                    }
                }
                let detections = self.detect(si, t, &mut rng);
                let latency = rng.gen_range(s.latency_s.0..s.latency_s.1);
                out.push(Received {
                    recv_s: t + latency,
                    true_capture_s: t,
                    frame: DetectionFrame {
                        sensor: s.id.clone(),
                        kind: s.kind,
                        frame_seq: k,
                        capture_time: ts(t + s.clock_skew_s),
                        detections,
                    },
                });
            }
        }
        out.sort_by(|a, b| a.recv_s.total_cmp(&b.recv_s).then(a.frame.sensor.cmp(&b.frame.sensor)));
        out
    }

    fn detect(&self, si: usize, t: f64, rng: &mut ChaCha8Rng) -> Vec<Detection> {
        let s = &self.sensors[si];
        let sxy = s.extrinsics.enu_from_sensor.translation.vector.xy();
        // visible targets with their bearing, range and angular half width
        type Visible = (usize, Vector2<f64>, Vector2<f64>, f64, f64, f64);
        let mut vis: Vec<Visible> = Vec::new();
        for (ti, tg) in self.targets.iter().enumerate() {
            let Some((p, v)) = tg.state(t) else { continue };
            let d = p - sxy;
            let range = d.norm();
            let p_sensor = s.extrinsics.to_sensor(&Point3::new(p.x, p.y, f64::from(tg.size.height_m) / 2.0));
            let bearing = p_sensor.y.atan2(p_sensor.x);
            if range > s.range_m || bearing.abs() > s.half_fov_rad {
                continue;
            }
            let half_w = (0.5 * f64::from(tg.size.length_m.max(tg.size.width_m)) / range.max(1.0)).atan();
            vis.push((ti, p, v, range, d.y.atan2(d.x), half_w));
        }
        let mut dets = Vec::new();
        for &(ti, p, v, range, az, half_w) in &vis {
            let tg = &self.targets[ti];
            // occluded by a larger, nearer object covering its centre bearing
            let occluded = vis.iter().any(|&(oj, _, _, r2, az2, hw2)| {
                let o = &self.targets[oj];
                oj != ti
                    && r2 < range - 1.0
                    && o.size.length_m * o.size.width_m > tg.size.length_m * tg.size.width_m
                    && angle_diff(az, az2).abs() < hw2 - 0.3 * half_w
            });
            if occluded || rng.gen::<f64>() > s.p_detect {
                continue;
            }
            let z = f64::from(tg.size.height_m) / 2.0;
            let p_sensor = s.extrinsics.to_sensor(&Point3::new(p.x, p.y, z)).coords;
            let cov = noise_cov(s.kind, &p_sensor);
            let noisy = p_sensor + sample_gauss3(&cov, rng);
            let (class, conf) = match s.kind {
                SensorKind::Camera => (tg.class, self.camera_class_conf),
                _ => {
                    if rng.gen::<f64>() < 0.15 {
                        (ObjectClass::Unknown, 0.3)
                    } else {
                        (tg.class, 0.6)
                    }
                }
            };
            let yaw = s.extrinsics.yaw_rad();
            let heading = v.y.atan2(v.x) - yaw;
            let size = if s.kind == SensorKind::Lidar { Some(tg.size) } else { None };
            dets.push(Detection {
                class,
                class_confidence: conf,
                position_m: noisy,
                position_cov: cov,
                velocity_mps: None,
                heading_rad: if v.norm() > 0.5 { Some(heading) } else { None },
                size_m: size,
            });
        }
        let n_fa = Poisson::new(s.false_alarms_per_frame.max(1e-9)).map(|d| d.sample(rng) as usize).unwrap_or(0);
        for _ in 0..n_fa {
            let r = rng.gen_range(5.0..s.range_m);
            let b = rng.gen_range(-s.half_fov_rad.min(1.2)..s.half_fov_rad.min(1.2));
            let p_sensor = Vector3::new(r * b.cos(), r * b.sin(), -5.0);
            let class = [ObjectClass::Car, ObjectClass::Pedestrian, ObjectClass::Cyclist][rng.gen_range(0..3)];
            dets.push(Detection {
                class,
                class_confidence: 0.5,
                position_m: p_sensor,
                position_cov: noise_cov(s.kind, &p_sensor),
                velocity_mps: None,
                heading_rad: None,
                size_m: None,
            });
        }
        dets
    }
}

fn angle_diff(a: f64, b: f64) -> f64 {
    let d = (a - b).rem_euclid(std::f64::consts::TAU);
    if d > std::f64::consts::PI {
        d - std::f64::consts::TAU
    } else {
        d
    }
}

/// The sensor-frame noise covariance of the profiles.
pub fn noise_cov(kind: SensorKind, p_sensor: &Vector3<f64>) -> Matrix3<f64> {
    match kind {
        SensorKind::Camera => {
            let r = p_sensor.norm().max(1.0);
            let u = p_sensor / r;
            let along = (0.05 * r).max(0.3).powi(2);
            let lat = 0.3f64.powi(2);
            let uut = u * u.transpose();
            uut * along + (Matrix3::identity() - uut) * lat
        }
        _ => Matrix3::from_diagonal_element(0.15f64.powi(2)),
    }
}

fn sample_gauss3(cov: &Matrix3<f64>, rng: &mut ChaCha8Rng) -> Vector3<f64> {
    let n = Normal::new(0.0, 1.0).unwrap();
    let l = cov.cholesky().map(|c| c.l()).unwrap_or_else(Matrix3::zeros);
    l * Vector3::new(n.sample(rng), n.sample(rng), n.sample(rng))
}

/// Drives `fusion` with `frames` in receive order, calling `handle_timeout` when due, and
/// collects every output.
pub fn run(fusion: &mut Fusion, frames: &[Received], t_end_s: f64) -> Vec<FusionOutput> {
    run_timed(fusion, frames, t_end_s).into_iter().map(|(_, o)| o).collect()
}

/// [`run`], with the (virtual) time at which each output became available.
pub fn run_timed(fusion: &mut Fusion, frames: &[Received], t_end_s: f64) -> Vec<(Timestamp, FusionOutput)> {
    let mut outputs = Vec::new();
    let drain = |f: &mut Fusion, until: Timestamp, outputs: &mut Vec<(Timestamp, FusionOutput)>| {
        while let Some(t) = f.poll_timeout() {
            if t > until {
                break;
            }
            f.handle_timeout(t);
            if let Some(o) = f.poll_output() {
                outputs.push((t, o));
            }
        }
    };
    for r in frames {
        let now = ts(r.recv_s);
        drain(fusion, now, &mut outputs);
        fusion.handle_frame(now, r.frame.clone());
        if let Some(o) = fusion.poll_output() {
            outputs.push((now, o));
        }
    }
    drain(fusion, ts(t_end_s + 1.0), &mut outputs);
    outputs
}

/// How long after a truth ends its coasting track is not counted as false, s.
pub const GHOST_S: f64 = 2.0;

/// Accuracy of a run against the truth.
#[derive(Debug, Default)]
pub struct Score {
    /// Track ids assigned to each truth over time (in order of first appearance).
    pub ids_per_truth: BTreeMap<u32, Vec<TrackId>>,
    /// Identity switches (a truth's matched id changes).
    pub id_switches: usize,
    /// Truth instances (truth, output) that had a track within the match radius.
    pub matched: usize,
    /// Truth instances that had none.
    pub missed: usize,
    /// Output objects not matched to any truth.
    pub false_objects: usize,
    /// Position errors of matched pairs, m.
    pub errors_m: Vec<f64>,
    /// Seconds from each truth's start to its first matched output.
    pub confirm_latency_s: BTreeMap<u32, f64>,
}

impl Score {
    pub fn mean_error_m(&self) -> f64 {
        self.errors_m.iter().sum::<f64>() / self.errors_m.len().max(1) as f64
    }

    pub fn max_error_m(&self) -> f64 {
        self.errors_m.iter().copied().fold(0.0, f64::max)
    }

    pub fn recall(&self) -> f64 {
        self.matched as f64 / (self.matched + self.missed).max(1) as f64
    }
}

/// Scores outputs against targets (CLEAR MOT matching: previous correspondences first, then
/// nearest first, within `radius_m`), only for truths
/// that exist for at least `settle_s` (so confirmation time does not count as a miss) and
/// are inside `area_m` of the origin.
pub fn score(targets: &[Target], outputs: &[FusionOutput], radius_m: f64, settle_s: f64) -> Score {
    let mut s = Score::default();
    let mut last_id: BTreeMap<u32, TrackId> = BTreeMap::new();
    for out in outputs {
        let t = secs(out.capture_time);
        let mut pairs = Vec::new();
        let mut truths = Vec::new();
        for tg in targets {
            if let Some((p, _)) = tg.state(t) {
                truths.push((tg.truth_id, p, t - tg.t_start_s));
                for (oi, o) in out.objects.iter().enumerate() {
                    let d = (o.position_m.xy() - p).norm();
                    if d <= radius_m {
                        pairs.push((d, tg.truth_id, oi));
                    }
                }
            }
        }
        // CLEAR-MOT style: a truth keeps its previous track while that track is within the
        // radius; only then nearest-first matching of the rest
        pairs.sort_by(|a, b| {
            let keep = |p: &(f64, u32, usize)| last_id.get(&p.1) != Some(&out.objects[p.2].track_id);
            keep(a).cmp(&keep(b)).then(a.0.total_cmp(&b.0))
        });
        let mut used_t = std::collections::BTreeSet::new();
        let mut used_o = std::collections::BTreeSet::new();
        for (d, tid, oi) in pairs {
            if used_t.contains(&tid) || used_o.contains(&oi) {
                continue;
            }
            used_t.insert(tid);
            used_o.insert(oi);
            let id = out.objects[oi].track_id;
            s.errors_m.push(d);
            s.matched += 1;
            let ids = s.ids_per_truth.entry(tid).or_default();
            if !ids.contains(&id) {
                ids.push(id);
            }
            if let Some(prev) = last_id.insert(tid, id) {
                if prev != id {
                    s.id_switches += 1;
                }
            }
            if let Some(tg) = targets.iter().find(|x| x.truth_id == tid) {
                s.confirm_latency_s.entry(tid).or_insert(t - tg.t_start_s);
            }
        }
        for (tid, _, age) in truths {
            if !used_t.contains(&tid) && age >= settle_s {
                s.missed += 1;
            }
        }
        // objects near a truth that ended less than `GHOST_S` ago (extrapolated) are coasting
        // on a real object, not false
        for (oi, o) in out.objects.iter().enumerate() {
            if used_o.contains(&oi) {
                continue;
            }
            let ghost = targets.iter().any(|tg| {
                let since = t - tg.t_end_s;
                since > 0.0
                    && since < GHOST_S
                    && tg.state(tg.t_end_s).is_some_and(|(p, v)| {
                        (o.position_m.xy() - (p + v * since)).norm() <= radius_m + 0.5 * since * since * 3.0
                    })
            });
            if !ghost {
                s.false_objects += 1;
            }
        }
    }
    s
}
