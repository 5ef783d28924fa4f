//! `latency`: the end-to-end latency harness.
//!
//! In one run, with one CPU placement (whatever this process was started with; the
//! report says which CPUs it was allowed), it measures:
//! 1. **raw**: Zenoh ping-pong between two sessions in this process over loopback TCP,
//!    1 KiB payloads, express, the same zenoh version and presets as corridor: the floor.
//! 2. **e2e**: corridor itself: 4 sensors (the default 2 lidar + 2 camera layout) each
//!    publishing `--objects` detections at `--hz`, stamped at capture; a roadside
//!    `RsuService` in its own session fuses and publishes; a vehicle (`corridor_sdk::Vehicle`)
//!    in a third session records capture -> callback latency.
//! 3. **fusion**: the fusion step alone (4 frames into the live tracks), same data, no IO.
//!
//! ```text
//! cargo run --release -p benches --bin latency -- --objects 200 --hz 10 --seconds 20 --json out.json
//! taskset -c 0 cargo run --release -p benches --bin latency -- ...     # all threads on one vCPU
//! ```
//! JSON fields: `raw_p50_us, raw_p90_us, raw_p99_us, raw_p999_us, raw_max_us`, the same for
//! `e2e_` and `fusion_`, `ratio_p50, ratio_p90, ratio_p99` (e2e / raw), `cpus_allowed`,
//! `states`, `objects`, `hz`.

use anyhow::Context;
use clap::Parser;
use corridor_fusion::{Fusion, FusionConfig, SensorSpec};
use corridor_model::detection::SensorKind;
use corridor_model::{
    Clock, Detection, DetectionFrame, ObjectClass, SensorExtrinsics, SensorId, Size3, SystemClock, Timestamp,
};
use corridor_sdk::{StateUpdate, Vehicle};
use corridor_wire::{encode, presets, Header, Key, PayloadKind};
use hdrhistogram::Histogram;
use nalgebra::{Matrix3, Point3, Vector3};
use roadside::config::{RsuConfig, ZenohSection, DEFAULT_CONFIG};
use roadside::RsuService;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use zenoh::Wait;

/// corridor latency harness.
#[derive(Debug, Parser)]
struct Cli {
    /// Objects in the scene (each sensor reports every one).
    #[arg(long, default_value_t = 200)]
    objects: usize,
    /// Sensor frame rate.
    #[arg(long, default_value_t = 10.0)]
    hz: f64,
    /// Seconds of corridor traffic.
    #[arg(long, default_value_t = 20.0)]
    seconds: f64,
    /// Raw ping-pong round trips.
    #[arg(long, default_value_t = 5000)]
    pings: usize,
    /// Write the JSON report here.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

fn histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, 60_000_000, 3)?)
}

fn percentiles(prefix: &str, h: &Histogram<u64>, out: &mut serde_json::Map<String, serde_json::Value>) {
    for (name, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999)] {
        out.insert(format!("{prefix}_{name}_us"), h.value_at_quantile(q).into());
    }
    out.insert(format!("{prefix}_max_us"), h.max().into());
}

#[allow(clippy::disallowed_methods)] // the harness measures wall time
async fn raw_ping_pong(pings: usize) -> anyhow::Result<Histogram<u64>> {
    let port = presets::free_loopback_port()?;
    let ep = presets::loopback_tcp(port);
    let a = zenoh::open(presets::peer(std::slice::from_ref(&ep), &[])?).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let b = zenoh::open(presets::peer(&[], std::slice::from_ref(&ep))?).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let q = presets::qos(corridor_wire::KeyKind::State);
    let ping = a
        .declare_publisher("corridor/bench/ping")
        .congestion_control(q.congestion_control)
        .priority(q.priority)
        .express(true)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let pong = b
        .declare_publisher("corridor/bench/pong")
        .congestion_control(q.congestion_control)
        .priority(q.priority)
        .express(true)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let _echo = b
        .declare_subscriber("corridor/bench/ping")
        .callback(move |s| {
            let _ = pong.put(s.payload().clone()).wait();
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (tx, rx) = std::sync::mpsc::sync_channel::<()>(16);
    let _back = a
        .declare_subscriber("corridor/bench/pong")
        .callback(move |_| {
            let _ = tx.try_send(());
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let payload = vec![0xA5u8; 1024];
    tokio::task::spawn_blocking(move || -> anyhow::Result<Histogram<u64>> {
        let mut h = histogram()?;
        let warmup = 200;
        for i in 0..pings + warmup {
            let t = std::time::Instant::now();
            ping.put(payload.clone()).wait().map_err(|e| anyhow::anyhow!("{e}"))?;
            if rx.recv_timeout(Duration::from_secs(1)).is_err() {
                continue; // a lost ping (Drop under congestion): not a latency sample
            }
            if i >= warmup {
                h.record((t.elapsed().as_micros() as u64).max(1))?;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        Ok(h)
    })
    .await?
}

/// Objects on circles around the centre; positions at time `t_s`.
fn scene(n: usize, t_s: f64) -> Vec<Vector3<f64>> {
    (0..n)
        .map(|i| {
            let r = 8.0 + 40.0 * (i as f64 / n.max(1) as f64);
            let w = 6.0 / r * if i % 2 == 0 { 1.0 } else { -1.0 };
            let a = i as f64 * 2.399 + w * t_s;
            Vector3::new(r * a.cos(), r * a.sin(), 0.8)
        })
        .collect()
}

fn frame(
    sensor: &SensorId,
    kind: SensorKind,
    ext: &SensorExtrinsics,
    seq: u64,
    t: Timestamp,
    objs: &[Vector3<f64>],
) -> DetectionFrame {
    DetectionFrame {
        sensor: sensor.clone(),
        kind,
        frame_seq: seq,
        capture_time: t,
        detections: objs
            .iter()
            .map(|p| Detection {
                class: ObjectClass::Car,
                class_confidence: 0.9,
                position_m: ext.to_sensor(&Point3::from(*p)).coords,
                position_cov: Matrix3::from_diagonal_element(0.0225),
                velocity_mps: None,
                heading_rad: None,
                size_m: Some(Size3::new(4.5, 1.8, 1.5)),
            })
            .collect(),
    }
}

#[allow(clippy::disallowed_methods)] // the harness measures wall time
fn fusion_alone(cfg: &RsuConfig, objects: usize, hz: f64, frames: usize) -> anyhow::Result<Histogram<u64>> {
    let specs: Vec<SensorSpec> = cfg.sensors.iter().map(|s| s.spec()).collect();
    let mut fusion = Fusion::new(FusionConfig::default(), specs.clone());
    let mut h = histogram()?;
    let t0 = Timestamp::from_secs_f64(1_700_000_000.0);
    for k in 0..frames {
        let t = t0.add_secs_f64(k as f64 / hz);
        let objs = scene(objects, k as f64 / hz);
        let batch: Vec<DetectionFrame> =
            specs.iter().map(|s| frame(&s.id, s.kind, &s.extrinsics, k as u64, t, &objs)).collect();
        let start = std::time::Instant::now();
        for f in batch {
            fusion.handle_frame(t, f);
        }
        fusion.handle_timeout(t.add_secs_f64(0.0005));
        let out = fusion.poll_output();
        let us = start.elapsed().as_micros() as u64;
        if k >= 20 {
            h.record(us.max(1))?;
        }
        std::hint::black_box(out);
    }
    Ok(h)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    anyhow::ensure!(
        cli.hz > 0.0 && cli.seconds > 0.0 && cli.objects > 0,
        "--objects, --hz and --seconds must be positive"
    );
    let cpus = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Cpus_allowed_list:").map(|v| v.trim().to_owned())))
        .unwrap_or_else(|| "unknown".into());
    eprintln!("latency: cpus allowed {cpus}; raw ping-pong ({} round trips, 1 KiB)...", cli.pings);
    let raw = raw_ping_pong(cli.pings).await?;

    eprintln!("latency: corridor e2e ({} objects x 4 sensors at {} Hz for {} s)...", cli.objects, cli.hz, cli.seconds);
    let port = presets::free_loopback_port()?;
    let ep = presets::loopback_tcp(port);
    let hub = zenoh::open(presets::peer(std::slice::from_ref(&ep), &[])?).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut cfg = RsuConfig::parse(DEFAULT_CONFIG, "default")?;
    cfg.zenoh = ZenohSection { mode: "peer".into(), listen: vec![], connect: vec![ep.clone()] };
    let rsu_session = zenoh::open(cfg.zenoh.to_zenoh()?).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let rsu = RsuService::start(cfg.clone(), &rsu_session, clock.clone()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let e2e = Arc::new(Mutex::new(histogram()?));
    let e2e_cb = e2e.clone();
    let states = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let states_cb = states.clone();
    let vsession =
        zenoh::open(presets::peer(&[], std::slice::from_ref(&ep))?).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let vehicle = Vehicle::with_session(
        vsession,
        cfg.region.clone(),
        vec![cfg.intersection.clone()],
        clock.clone(),
        Some(Arc::new(move |u: &StateUpdate| {
            if !u.state.objects.is_empty() {
                let _ =
                    e2e_cb.lock().unwrap_or_else(PoisonError::into_inner).record((u.latency_s() * 1e6).max(1.0) as u64);
            }
            states_cb.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut pubs = Vec::new();
    for s in &cfg.sensors {
        let key = Key::Detections { region: cfg.region.clone(), rsu: cfg.rsu.clone(), sensor: s.id.clone() };
        pubs.push((s.spec(), presets::declare_publisher(&hub, &key).await.map_err(|e| anyhow::anyhow!("{e}"))?));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let objects = cli.objects;
    let (hz, seconds) = (cli.hz, cli.seconds);
    let pub_clock = clock.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let start = pub_clock.now();
        let frames = (seconds * hz) as u64;
        for k in 0..frames {
            let due = start.add_secs_f64(k as f64 / hz);
            let now = pub_clock.now();
            if due > now {
                std::thread::sleep(Duration::from_nanos(due.nanos_since(now) as u64));
            }
            let objs = scene(objects, k as f64 / hz);
            let t = pub_clock.now();
            for (spec, p) in &pubs {
                let f = frame(&spec.id, spec.kind, &spec.extrinsics, k, t, &objs);
                let h = Header::new(PayloadKind::Detections, spec.id.as_str(), k, t, pub_clock.now());
                p.put(encode(&h, &f)?).wait().map_err(|e| anyhow::anyhow!("{e}"))?;
            }
        }
        Ok(())
    })
    .await??;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rsu_stats = rsu.stats();
    rsu.stop();
    drop(vehicle);

    eprintln!("latency: fusion step alone...");
    let fusion = fusion_alone(&cfg, cli.objects, cli.hz, 200)?;
    let e2e = e2e.lock().unwrap_or_else(PoisonError::into_inner).clone();
    anyhow::ensure!(!e2e.is_empty(), "no corridor state reached the vehicle (RSU stats: {rsu_stats:?})");
    let mut out = serde_json::Map::new();
    percentiles("raw", &raw, &mut out);
    percentiles("e2e", &e2e, &mut out);
    percentiles("fusion", &fusion, &mut out);
    for q in ["p50", "p90", "p99"] {
        let r = out[&format!("e2e_{q}_us")].as_f64().unwrap_or(0.0)
            / out[&format!("raw_{q}_us")].as_f64().unwrap_or(1.0).max(1.0);
        out.insert(format!("ratio_{q}"), ((r * 100.0).round() / 100.0).into());
    }
    out.insert("cpus_allowed".into(), cpus.into());
    out.insert("objects".into(), cli.objects.into());
    out.insert("hz".into(), cli.hz.into());
    out.insert("states".into(), states.load(std::sync::atomic::Ordering::Relaxed).into());
    out.insert("rsu_dropped".into(), rsu_stats.dropped_total().into());
    let doc = serde_json::Value::Object(out);
    println!("{}", serde_json::to_string_pretty(&doc)?);
    if let Some(path) = cli.json {
        std::fs::write(&path, serde_json::to_vec_pretty(&doc)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
