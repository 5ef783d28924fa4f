//! The end-to-end demo: one process, an embedded zenoh peer network on loopback.
//!
//! ```text
//!  sim thread (world + 4 sensors and a signal controller per intersection)
//!     | det, signal  (zenoh peer "hub", listening on a free loopback port)
//!     v
//!  RSU per intersection (roadside::RsuService, own zenoh peer, own fusion thread)
//!     | state
//!     v
//!  vehicles (corridor_sdk::Vehicle, one zenoh peer each, subscribed along their route)
//! ```
//! The world runs in real time (10 ms steps) so latencies are real. After the
//! run, what the first vehicle (subscribed to every intersection) knew at each
//! 0.1 s tick, predicted to that tick, is scored against ground truth within
//! 60 m of each intersection centre (2 m match threshold).

use anyhow::Context;
use corridor_model::{Clock, IntersectionId, RegionId, RsuId, SensorId, SignalFrame, SystemClock, Timestamp};
use corridor_sdk::{StateUpdate, Vehicle};
use corridor_wire::{encode, presets, Header, Key, PayloadKind};
use hdrhistogram::Histogram;
use nalgebra::Vector2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use roadside::config::{SensorSection, ZenohSection};
use roadside::{RsuConfig, RsuService};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use zenoh::Wait;

use crate::score::{score, to_csv, MotRow, MotScore};
use crate::sensors::{default_layout, SimSensor};
use crate::signals::SignalPlan;
use crate::world::{Agent, World, WorldConfig};

/// Scoring radius around each intersection centre, m.
pub const SCORE_RADIUS_M: f64 = 60.0;
/// Match threshold, m.
pub const MATCH_THRESHOLD_M: f64 = 2.0;
/// Simulated seconds the world runs before sensors start, so traffic has arrived.
const WARMUP_S: f64 = 40.0;
const DT_S: f64 = 0.01;

/// What to run.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// Seconds of real time.
    pub seconds: f64,
    /// Intersections (one RSU each).
    pub intersections: usize,
    /// SDK vehicles.
    pub vehicles: usize,
    /// Seed.
    pub seed: u64,
    /// Output directory for CSV and JSON.
    pub out: Option<PathBuf>,
    /// Print a live progress line on stderr.
    pub progress: bool,
}

/// What the demo measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DemoReport {
    /// Tracking scores over all intersections.
    pub score: MotScore,
    /// Capture -> vehicle callback latency percentiles, microseconds (includes the simulated
    /// sensor latency of 20-90 ms).
    pub latency_p50_us: u64,
    /// 99th percentile of the same.
    pub latency_p99_us: u64,
    /// RSU ingest -> vehicle callback, p50, microseconds: the corridor pipeline alone.
    pub pipeline_p50_us: u64,
    /// The same, p99.
    pub pipeline_p99_us: u64,
    /// States received by all vehicles.
    pub states_received: u64,
    /// States published by all RSUs.
    pub states_published: u64,
    /// Messages dropped anywhere (RSU input rejections, SDK drops).
    pub dropped: u64,
    /// The same, by reason (`rsu:<reason>`, `sdk:<reason>`).
    pub drop_reasons: std::collections::BTreeMap<String, u64>,
    /// Vehicles.
    pub vehicles: usize,
    /// RSUs.
    pub rsus: usize,
}

impl DemoReport {
    /// Prints the details and, last, the stable summary line.
    pub fn print(&self) {
        let s = &self.score;
        println!(
            "tracking: gt_objects={} tracks={} mota={:.3} motp_m={:.3} idf1={:.3} id_switches={} fp={} fn={}",
            s.gt_ids, s.track_ids, s.mota, s.motp_m, s.idf1, s.id_switches, s.false_positives, s.false_negatives
        );
        println!(
            "transport: rsus={} vehicles={} states_published={} states_received={} pipeline_p50_us={} pipeline_p99_us={}",
            self.rsus, self.vehicles, self.states_published, self.states_received, self.pipeline_p50_us, self.pipeline_p99_us
        );
        let reasons: Vec<String> = self.drop_reasons.iter().map(|(k, n)| format!("{k}={n}")).collect();
        println!("drops: total={} {}", self.dropped, reasons.join(" "));
        println!(
            "summary: objects={} mota={:.3} idf1={:.3} latency_p50_us={} latency_p99_us={} dropped={}",
            s.gt_ids_matched, s.mota, s.idf1, self.latency_p50_us, self.latency_p99_us, self.dropped
        );
    }
}

fn ix_name(k: usize) -> String {
    format!("ix-{}", (b'a' + k as u8) as char)
}

/// Latency histograms shared by the vehicles' callbacks.
struct Latencies {
    capture: Histogram<u64>,
    pipeline: Histogram<u64>,
    received: u64,
}

/// Runs the demo and scores it.
pub async fn run_demo(cfg: DemoConfig) -> anyhow::Result<DemoReport> {
    let region = RegionId::new("demo")?;
    let port = presets::free_loopback_port().context("binding a loopback port")?;
    let hub_ep = presets::loopback_tcp(port);
    let hub = zenoh::open(presets::peer(std::slice::from_ref(&hub_ep), &[])?)
        .await
        .map_err(|e| anyhow::anyhow!("opening the hub zenoh session on {hub_ep}: {e}"))?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let layout = default_layout();
    let map_version = corridor_model::MapVersion(
        *blake3::hash(format!("builtin-corridor/{}x250m/v1", cfg.intersections).as_bytes()).as_bytes(),
    );

    // RSUs
    let mut rsus = Vec::new();
    let mut rsu_sessions = Vec::new();
    for k in 0..cfg.intersections {
        let rsu_cfg = RsuConfig {
            region: region.clone(),
            rsu: RsuId::new(format!("rsu-{}", (b'a' + k as u8) as char))?,
            intersection: IntersectionId::new(ix_name(k))?,
            map_version: map_version.to_hex(),
            map: None,
            rules: None,
            json_mirror: false,
            input_queue: 1024,
            stats_period_ms: 1000,
            metrics_port: 0,
            cloud: None,
            events: Default::default(),
            security: None,
            zenoh: ZenohSection { mode: "peer".into(), listen: vec![], connect: vec![hub_ep.clone()] },
            sensors: layout
                .iter()
                .map(|(id, p, ext)| {
                    let t = ext.enu_from_sensor.translation.vector;
                    Ok(SensorSection {
                        id: SensorId::new(id)?,
                        kind: p.kind,
                        position_m: [t.x, t.y, t.z],
                        yaw_deg: ext.yaw_rad().to_degrees(),
                        pitch_deg: 0.0,
                    })
                })
                .collect::<Result<_, corridor_model::IdError>>()?,
        };
        let session =
            zenoh::open(rsu_cfg.zenoh.to_zenoh()?).await.map_err(|e| anyhow::anyhow!("RSU {k} session: {e}"))?;
        rsus.push(
            RsuService::start(rsu_cfg, &session, Arc::clone(&clock))
                .await
                .map_err(|e| anyhow::anyhow!("RSU {k}: {e}"))?,
        );
        rsu_sessions.push(session);
    }

    // vehicles: the first follows every intersection (and is the one scored), the others a route each
    let latencies = Arc::new(Mutex::new(Latencies {
        capture: Histogram::new_with_bounds(1, 60_000_000, 3)?,
        pipeline: Histogram::new_with_bounds(1, 60_000_000, 3)?,
        received: 0,
    }));
    let observed: Arc<Mutex<Vec<StateUpdate>>> = Arc::new(Mutex::new(Vec::new()));
    let mut vehicles = Vec::new();
    for v in 0..cfg.vehicles {
        let route: Vec<IntersectionId> = if v == 0 || v % 2 == 1 {
            (0..cfg.intersections).map(|k| IntersectionId::new(ix_name(k))).collect::<Result<_, _>>()?
        } else {
            vec![IntersectionId::new(ix_name(v / 2 % cfg.intersections))?]
        };
        let lat = Arc::clone(&latencies);
        let obs = (v == 0).then(|| Arc::clone(&observed));
        let callback: corridor_sdk::StateCallback = Arc::new(move |u: &StateUpdate| {
            let capture_us = (u.latency_s() * 1e6).max(1.0) as u64;
            let pipeline_us = (u.received_at.secs_since(u.state.ingest_time) * 1e6).max(1.0) as u64;
            let mut l = lat.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = l.capture.record(capture_us.min(60_000_000));
            let _ = l.pipeline.record(pipeline_us.min(60_000_000));
            l.received += 1;
            drop(l);
            if let Some(obs) = &obs {
                obs.lock().unwrap_or_else(PoisonError::into_inner).push(u.clone());
            }
        });
        let session = zenoh::open(presets::peer(&[], std::slice::from_ref(&hub_ep))?)
            .await
            .map_err(|e| anyhow::anyhow!("vehicle {v} session: {e}"))?;
        vehicles.push(
            Vehicle::with_session(session, region.clone(), route, Arc::clone(&clock), Some(callback))
                .await
                .map_err(|e| anyhow::anyhow!("vehicle {v}: {e}"))?,
        );
    }
    // let gossip connect the peers before traffic starts
    tokio::time::sleep(Duration::from_millis(800)).await;

    // the world and its sensors
    let n = cfg.intersections;
    let plans = (0..n).map(|k| SignalPlan::two_phase(k as f64 * 18.0)).collect();
    let mut world = World::new(
        WorldConfig { intersections: n, ..WorldConfig::default() },
        plans,
        ChaCha8Rng::seed_from_u64(cfg.seed),
    );
    while world.t_s < WARMUP_S {
        world.step(DT_S);
    }
    let mut sensor_rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x5e45_0123);
    let mut sensors = Vec::new();
    let mut det_pubs = Vec::new();
    let mut sig_pubs = Vec::new();
    for k in 0..n {
        let rsu = RsuId::new(format!("rsu-{}", (b'a' + k as u8) as char))?;
        for (id, profile, ext) in &layout {
            let sensor = SensorId::new(id)?;
            let key = Key::Detections { region: region.clone(), rsu: rsu.clone(), sensor: sensor.clone() };
            det_pubs.push(presets::declare_publisher(&hub, &key).await.map_err(|e| anyhow::anyhow!("{key}: {e}"))?);
            sensors.push((k, SimSensor::new(sensor, profile.clone(), *ext, world.centre(k), &mut sensor_rng)));
        }
        let key = Key::Signals { region: region.clone(), rsu };
        sig_pubs.push(presets::declare_publisher(&hub, &key).await.map_err(|e| anyhow::anyhow!("{key}: {e}"))?);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let progress_stats = Arc::clone(&latencies);
    let seconds = cfg.seconds;
    let progress = cfg.progress;
    let sim_clock = Arc::clone(&clock);
    let sim = std::thread::Builder::new().name("sim".into()).spawn(move || {
        run_world(world, sensors, det_pubs, sig_pubs, sensor_rng, sim_clock, seconds, progress, progress_stats, stop)
    })?;
    let (gt_rows, t0, centres) = tokio::task::spawn_blocking(move || sim.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the simulation thread panicked"))?;

    // let the last states arrive
    tokio::time::sleep(Duration::from_millis(300)).await;
    let states_published: u64 = rsus.iter().map(|r| r.stats().states_published).sum();
    let mut drop_reasons = std::collections::BTreeMap::new();
    for r in &rsus {
        for (k, n) in r.stats().drop_reasons() {
            *drop_reasons.entry(format!("rsu:{k}")).or_insert(0) += n;
        }
    }
    for v in &vehicles {
        for (k, n) in v.stats().dropped {
            *drop_reasons.entry(format!("sdk:{k}")).or_insert(0) += n;
        }
    }
    let dropped: u64 = drop_reasons.values().sum();
    let observed = std::mem::take(&mut *observed.lock().unwrap_or_else(PoisonError::into_inner));
    let track_rows = tracks_at_ticks(&observed, t0, &centres, gt_rows.iter().map(|r| r.frame).max().unwrap_or(0));
    let gt_frames: std::collections::BTreeSet<u64> = gt_rows.iter().map(|r| r.frame).collect();
    let track_rows: Vec<MotRow> = track_rows.into_iter().filter(|r| gt_frames.contains(&r.frame)).collect();
    let sc = score(&gt_rows, &track_rows, MATCH_THRESHOLD_M);
    let l = latencies.lock().unwrap_or_else(PoisonError::into_inner);
    let report = DemoReport {
        score: sc,
        latency_p50_us: l.capture.value_at_quantile(0.5),
        latency_p99_us: l.capture.value_at_quantile(0.99),
        pipeline_p50_us: l.pipeline.value_at_quantile(0.5),
        pipeline_p99_us: l.pipeline.value_at_quantile(0.99),
        states_received: l.received,
        states_published,
        dropped,
        drop_reasons,
        vehicles: cfg.vehicles,
        rsus: n,
    };
    drop(l);
    if let Some(dir) = &cfg.out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::write(dir.join("gt.csv"), to_csv(&gt_rows))
            .with_context(|| format!("writing {}/gt.csv", dir.display()))?;
        std::fs::write(dir.join("tracks.csv"), to_csv(&track_rows))
            .with_context(|| format!("writing {}/tracks.csv", dir.display()))?;
        std::fs::write(dir.join("report.json"), serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}/report.json", dir.display()))?;
    }
    for r in rsus {
        r.stop();
    }
    drop(vehicles);
    drop(rsu_sessions);
    drop(hub);
    Ok(report)
}

/// The sim thread: steps the world in real time, runs the sensors and the signal controllers,
/// publishes their output, records ground truth every 0.1 s. Returns (gt rows, t0, centres).
#[allow(clippy::too_many_arguments)]
fn run_world(
    mut world: World,
    mut sensors: Vec<(usize, SimSensor)>,
    det_pubs: Vec<zenoh::pubsub::Publisher<'static>>,
    sig_pubs: Vec<zenoh::pubsub::Publisher<'static>>,
    mut rng: ChaCha8Rng,
    clock: Arc<dyn Clock>,
    seconds: f64,
    progress: bool,
    stats: Arc<Mutex<Latencies>>,
    stop: Arc<AtomicBool>,
) -> (Vec<MotRow>, Timestamp, Vec<Vector2<f64>>) {
    let start_s = world.t_s;
    // t0 maps simulation time to UTC: utc = t0 + t_s
    let wall_start = clock.now();
    let t0 = wall_start.add_secs_f64(-start_s);
    let centres: Vec<Vector2<f64>> = (0..world.intersections()).map(|k| world.centre(k)).collect();
    let mut pending: Vec<(Timestamp, usize, Vec<u8>)> = Vec::new();
    let mut gt = Vec::new();
    let steps = (seconds / DT_S).round() as u64;
    let mut last_progress = 0u64;
    for step in 0..steps {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        world.step(DT_S);
        let t_s = world.t_s;
        // pace to real time
        let due = t0.add_secs_f64(t_s);
        let now = clock.now();
        if due > now {
            std::thread::sleep(Duration::from_nanos(due.nanos_since(now) as u64));
        }
        let agents = world.agents();
        for (i, (k, sensor)) in sensors.iter_mut().enumerate() {
            if t_s + 1e-9 >= sensor.next_capture_s {
                let (frame, latency_s) = sensor.capture(&agents, t_s, t0, &mut rng);
                let header = Header::new(
                    PayloadKind::Detections,
                    sensor.id.as_str(),
                    frame.frame_seq,
                    frame.capture_time,
                    frame.capture_time,
                );
                match encode(&header, &frame) {
                    Ok(bytes) => pending.push((t0.add_secs_f64(t_s + latency_s), i, bytes)),
                    Err(e) => tracing::error!(sensor = %sensor.id, intersection = k, error = %e, "encode failed"),
                }
            }
        }
        // release frames whose latency has passed
        let now = clock.now();
        pending.sort_by_key(|p| p.0);
        let ready = pending.iter().take_while(|p| p.0 <= now).count();
        for (_, i, bytes) in pending.drain(..ready) {
            if let Err(e) = det_pubs[i].put(bytes).wait() {
                tracing::warn!(error = %e, "detection publish failed");
            }
        }
        if step % 10 == 0 {
            let frame = (t_s / 0.1).round() as u64;
            for (k, pubr) in sig_pubs.iter().enumerate() {
                let sf = SignalFrame { time: t0.add_secs_f64(t_s), groups: world.plan(k).snapshot(t_s, t0) };
                let header = Header::new(PayloadKind::Signals, "signal-ctl", frame, sf.time, sf.time);
                if let Ok(bytes) = encode(&header, &sf) {
                    let _ = pubr.put(bytes).wait();
                }
            }
            gt.extend(gt_rows(&agents, &centres, frame));
        }
        if progress && step - last_progress >= 100 {
            last_progress = step;
            let l = stats.lock().unwrap_or_else(PoisonError::into_inner);
            let p50 = l.capture.value_at_quantile(0.5);
            let received = l.received;
            drop(l);
            eprint!(
                "\r  t={:5.1}s/{:.0}s  agents={:3}  states received={:6}  capture->vehicle p50={:6.1} ms ",
                t_s - start_s,
                seconds,
                agents.len(),
                received,
                p50 as f64 / 1000.0
            );
            let _ = std::io::stderr().flush();
        }
    }
    if progress {
        eprintln!();
    }
    (gt, t0, centres)
}

fn gt_rows(agents: &[Agent], centres: &[Vector2<f64>], frame: u64) -> Vec<MotRow> {
    agents
        .iter()
        .filter(|a| centres.iter().any(|c| (a.position - c).norm() <= SCORE_RADIUS_M))
        .map(|a| {
            let v = a.velocity();
            MotRow {
                frame,
                id: a.id,
                x: a.position.x,
                y: a.position.y,
                z: f64::from(a.size.height_m) / 2.0,
                vx: v.x,
                vy: v.y,
                class: a.class.as_str(),
                confidence: 1.0,
            }
        })
        .collect()
}

/// What the observing vehicle knew at each 0.1 s tick: per intersection, the latest state
/// received by then, its objects predicted to the tick, in world coordinates.
fn tracks_at_ticks(observed: &[StateUpdate], t0: Timestamp, centres: &[Vector2<f64>], last_frame: u64) -> Vec<MotRow> {
    let mut rows = Vec::new();
    let mut by_ix: Vec<Vec<&StateUpdate>> = vec![Vec::new(); centres.len()];
    for u in observed {
        let name = u.state.intersection.as_str();
        if let Some(k) = (0..centres.len()).find(|&k| ix_name(k) == name) {
            by_ix[k].push(u);
        }
    }
    let first_frame = observed.iter().map(|u| (u.received_at.secs_since(t0) / 0.1).ceil() as u64).min().unwrap_or(0);
    for frame in first_frame..=last_frame {
        let t = t0.add_secs_f64(frame as f64 * 0.1);
        for (k, list) in by_ix.iter().enumerate() {
            let Some(u) = list.iter().rev().find(|u| u.received_at <= t) else { continue };
            let dt = t.secs_since(u.state.capture_time);
            if !(0.0..=1.0).contains(&dt) {
                continue; // a state older than a second is stale: the vehicle would not use it
            }
            for o in &u.state.objects {
                let p = Vector2::new(o.position_m.x, o.position_m.y)
                    + Vector2::new(o.velocity_mps.x, o.velocity_mps.y) * dt;
                if p.norm() > SCORE_RADIUS_M {
                    continue;
                }
                let w = p + centres[k];
                rows.push(MotRow {
                    frame,
                    id: (k as u64) * 10_000_000 + o.track_id.0,
                    x: w.x,
                    y: w.y,
                    z: o.position_m.z,
                    vx: o.velocity_mps.x,
                    vy: o.velocity_mps.y,
                    class: o.class.as_str(),
                    confidence: f64::from(o.class_confidence),
                });
            }
        }
    }
    rows
}
