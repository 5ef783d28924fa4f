//! Offline, deterministic replay of a scenario through `corridor_fusion` alone: the same world,
//! sensors, seeds and faults as `corridor-sim run --scenario NAME`, but no zenoh and no real
//! time. Each frame reaches the fusion at its capture time plus its simulated latency
//! (quantised to the world's 10 ms step, as the real run's publisher does), the reorder
//! buffer's timeouts are served when due, and the scored tracks are what a vehicle receiving
//! every output 1 ms after it was produced knew at each 0.1 s tick. A 90 s scenario runs in a
//! few seconds, so a fusion change can be measured on all four scenarios in under a minute.
//!
//! ```text
//! cargo run --release -p simulations --example fusion_offline -- dense-4arm OUT_DIR [--seconds N] [--config cfg.json]
//! ```
//!
//! Writes `OUT_DIR/gt.csv`, `OUT_DIR/tracks.csv` (the columns of the real run) and
//! `OUT_DIR/tracks_debug.csv` (`frame,id,since_update_s,age_s,sensors`: the track's time since
//! its last update, its age and the sensors that saw it), `OUT_DIR/replays.csv` (the capture
//! times of replayed late frames) and prints our scorer's result. `--config` reads a
//! `FusionConfig` as JSON (missing fields keep their defaults) for tuning experiments.
//! `simulations/python/idsw_report.py OUT_DIR` lists and classifies every ID switch.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a developer tool

use std::fmt::Write as _;

use corridor_fusion::{Fusion, FusionConfig, FusionOutput, SensorSpec};
use corridor_model::{DetectionFrame, SensorId, Timestamp};
use nalgebra::Vector2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use simulations::mapworld::MapWorld;
use simulations::scenario::{load, Fault};
use simulations::score::{score, to_csv, MotRow};
use simulations::sensors::{default_layout, SimSensor};
use simulations::world::Traffic;

const DT_S: f64 = 0.01;
const SCORE_RADIUS_M: f64 = 60.0;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = args.first().ok_or_else(|| anyhow::anyhow!("usage: fusion_offline SCENARIO OUT_DIR"))?;
    let out = std::path::PathBuf::from(args.get(1).ok_or_else(|| anyhow::anyhow!("no OUT_DIR"))?);
    let opt = |k: &str| args.iter().position(|a| a == k).and_then(|i| args.get(i + 1)).cloned();
    let sc = load(name).map_err(|e| anyhow::anyhow!("{e}"))?;
    let seconds: f64 = opt("--seconds").map_or(Ok(sc.duration_s), |s| s.parse())?;
    let cfg: FusionConfig = match opt("--config") {
        Some(p) => serde_json::from_slice(&std::fs::read(&p)?)?,
        None => FusionConfig::default(),
    };

    let file = sc.map.display().to_string();
    let imported = corridor_hdmap::load_path(&sc.map, &corridor_hdmap::ImportOptions::default())?;
    let xml = std::fs::read_to_string(&sc.map)?;
    let mut world = MapWorld::new(&file, &imported.map, &xml, sc.traffic.clone(), ChaCha8Rng::seed_from_u64(sc.seed))?;
    let junctions: Vec<String> = world.junction_ids().to_vec();
    while world.time_s() < sc.warmup_s {
        world.step(DT_S);
    }
    let centres = world.centres();
    let start_s = world.time_s();
    let t0 = Timestamp::from_secs_f64(1.7e9);
    let mut rng = ChaCha8Rng::seed_from_u64(sc.seed ^ 0x5e45_0123);
    // (intersection, junction, sensor), in the order of the real run (same random draws)
    let mut sensors: Vec<(usize, String, SimSensor)> = Vec::new();
    let mut fusions = Vec::new();
    for (k, j) in junctions.iter().enumerate() {
        let layout = match sc.rsus.iter().find(|r| &r.junction == j) {
            Some(r) => r.sensors.iter().map(|s| (s.id.clone(), s.profile.clone(), s.extrinsics)).collect(),
            None => default_layout(),
        };
        let mut specs = Vec::new();
        for (id, profile, ext) in &layout {
            let sid = SensorId::new(id)?;
            specs.push(SensorSpec { id: sid.clone(), kind: profile.kind, extrinsics: *ext });
            let mut sim = SimSensor::new(sid, profile.clone(), *ext, centres[k], &mut rng);
            for f in &sc.faults {
                if let Fault::ClockSkew { sensor, rsu, offset_ms } = f {
                    if sensor == id && rsu.as_ref().is_none_or(|r| r == j) {
                        sim.skew_s = offset_ms / 1000.0;
                    }
                }
            }
            sensors.push((k, j.clone(), sim));
        }
        fusions.push(Fusion::new(cfg.clone(), specs));
    }

    // (arrival, intersection, frame)
    let mut pending: Vec<(Timestamp, usize, DetectionFrame)> = Vec::new();
    let mut outputs: Vec<Vec<(Timestamp, FusionOutput)>> = vec![Vec::new(); junctions.len()];
    let mut replays: Vec<(usize, Timestamp)> = Vec::new();
    let mut gt = Vec::new();
    let steps = (seconds / DT_S).round() as u64;
    let mut fusion_ns = 0u128;
    let poll = |k: usize, f: &mut Fusion, now: Timestamp, outputs: &mut Vec<Vec<(Timestamp, FusionOutput)>>| {
        if let Some(o) = f.poll_output() {
            outputs[k].push((now.add_secs_f64(0.001), o));
        }
    };
    for step in 0..steps {
        world.step(DT_S);
        let t_s = world.time_s();
        let rel_s = t_s - start_s;
        let now = t0.add_secs_f64(t_s);
        // reorder-buffer timeouts due before this step
        for (k, f) in fusions.iter_mut().enumerate() {
            while let Some(pt) = f.poll_timeout().filter(|pt| *pt <= now) {
                f.handle_timeout(pt);
                poll(k, f, pt, &mut outputs);
            }
        }
        let agents = world.agents();
        for (k, junction, sensor) in sensors.iter_mut() {
            if t_s + 1e-9 < sensor.next_capture_s {
                continue;
            }
            let dropped = sc.faults.iter().any(|f| match f {
                Fault::SensorDropout { sensor: s, rsu, from_s, to_s } => {
                    s == sensor.id.as_str()
                        && rsu.as_ref().is_none_or(|r| r == junction)
                        && (*from_s..*to_s).contains(&rel_s)
                }
                _ => false,
            });
            if dropped {
                sensor.next_capture_s = t_s + 1.0 / sensor.profile.rate_hz;
                continue;
            }
            let flood: f64 = sc
                .faults
                .iter()
                .map(|f| match f {
                    Fault::DetectionFlood { sensor: s, rsu, factor, from_s, to_s }
                        if s == sensor.id.as_str()
                            && rsu.as_ref().is_none_or(|r| r == junction)
                            && (*from_s..*to_s).contains(&rel_s) =>
                    {
                        *factor
                    }
                    _ => 1.0,
                })
                .product();
            let base_fa = sensor.profile.false_alarms;
            sensor.profile.false_alarms = base_fa * flood;
            let (frame, latency_s) = sensor.capture(&agents, t_s, t0, &mut rng);
            sensor.profile.false_alarms = base_fa;
            pending.push((t0.add_secs_f64(t_s + latency_s), *k, frame));
        }
        pending.sort_by_key(|p| p.0);
        let ready = pending.iter().take_while(|p| p.0 <= now).count();
        for (_, k, frame) in pending.drain(..ready) {
            let f = &mut fusions[k];
            let before = f.stats().replays;
            let capture = frame.capture_time;
            #[allow(clippy::disallowed_methods, reason = "a developer tool timing the fusion")]
            let started = std::time::Instant::now();
            f.handle_frame(now, frame);
            fusion_ns += started.elapsed().as_nanos();
            if f.stats().replays > before {
                replays.push((k, capture));
            }
            poll(k, f, now, &mut outputs);
        }
        if (step + 1) % 10 == 0 {
            let frame = (rel_s / 0.1).round() as u64;
            for a in &agents {
                if centres.iter().any(|c| (a.position - c).norm() <= SCORE_RADIUS_M) {
                    let v = a.velocity();
                    gt.push(MotRow {
                        frame,
                        id: a.id,
                        x: a.position.x,
                        y: a.position.y,
                        z: f64::from(a.size.height_m) / 2.0,
                        vx: v.x,
                        vy: v.y,
                        class: a.class.as_str(),
                        confidence: 1.0,
                    });
                }
            }
        }
    }

    // what the vehicle knew at each tick
    let tick0 = t0.add_secs_f64(start_s);
    let last_frame = gt.iter().map(|r| r.frame).max().unwrap_or(0);
    let gt_frames: std::collections::BTreeSet<u64> = gt.iter().map(|r| r.frame).collect();
    let mut rows = Vec::new();
    let mut debug = String::from("frame,id,since_update_s,age_s,sensors\n");
    for frame in 0..=last_frame {
        if !gt_frames.contains(&frame) {
            continue;
        }
        let t = tick0.add_secs_f64(frame as f64 * 0.1);
        for (k, list) in outputs.iter().enumerate() {
            let Some((_, o)) = list.iter().rev().find(|(rx, _)| *rx <= t) else { continue };
            let dt = t.secs_since(o.capture_time);
            if !(0.0..=1.0).contains(&dt) {
                continue;
            }
            for obj in &o.objects {
                let w = Vector2::new(obj.position_m.x, obj.position_m.y)
                    + Vector2::new(obj.velocity_mps.x, obj.velocity_mps.y) * dt
                    + centres[k];
                if (w - centres[k]).norm() > SCORE_RADIUS_M {
                    continue;
                }
                let id = (k as u64) * 10_000_000 + obj.track_id.0;
                rows.push(MotRow {
                    frame,
                    id,
                    x: w.x,
                    y: w.y,
                    z: obj.position_m.z,
                    vx: obj.velocity_mps.x,
                    vy: obj.velocity_mps.y,
                    class: obj.class.as_str(),
                    confidence: f64::from(obj.class_confidence),
                });
                let names: Vec<&str> = obj.sensors.iter().map(|s| s.as_str()).collect();
                let _ = writeln!(
                    debug,
                    "{frame},{id},{:.3},{:.3},{}",
                    t.secs_since(obj.last_updated),
                    t.secs_since(obj.first_seen),
                    names.join("|")
                );
            }
        }
    }
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("gt.csv"), to_csv(&gt))?;
    std::fs::write(out.join("tracks.csv"), to_csv(&rows))?;
    std::fs::write(out.join("tracks_debug.csv"), debug)?;
    let mut rp = String::from("rsu,capture_rel_s\n");
    for (k, c) in &replays {
        let _ = writeln!(rp, "{k},{:.3}", c.secs_since(tick0));
    }
    std::fs::write(out.join("replays.csv"), rp)?;
    let s = score(&gt, &rows, 2.0);
    println!(
        "offline: scenario={} gt_tracks={} mota={:.4} idf1={:.4} id_switches={} fp={} fn={} replays={} fusion_ms={:.0}",
        sc.name,
        s.gt_ids,
        s.mota,
        s.idf1,
        s.id_switches,
        s.false_positives,
        s.false_negatives,
        replays.len(),
        fusion_ns as f64 / 1e6
    );
    Ok(())
}
