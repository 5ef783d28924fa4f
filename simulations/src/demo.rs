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
//! On an HD map the run is signed end to end: a region root generated in memory certifies
//! cloud-control (which signs maps, rules and catalogs and serves the trust bundle) and each
//! RSU (which signs states and events, key and certificate written to the run's scratch dir),
//! and every vehicle verifies through the SDK's `TrustVerifier` (`trust:` line).
//!
//! The world runs in real time (10 ms steps) so latencies are real. After the
//! run, what the first vehicle (subscribed to every intersection) knew at each
//! 0.1 s tick, predicted to that tick, is scored against ground truth within
//! 60 m of each intersection centre (2 m match threshold).

use anyhow::Context;
use corridor_model::{Clock, IntersectionId, RegionId, RsuId, SensorId, SignalFrame, SystemClock, Timestamp};
use corridor_sdk::{Continuity, StateUpdate, Vehicle};
use corridor_wire::{encode, presets, Header, Key, PayloadKind};
use hdrhistogram::Histogram;
use nalgebra::Vector2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use zenoh::Wait;

use crate::control::{finish_faults, publish_request, rsu_config, sensor_sections, spawn_faults, Plane};
use crate::scenario::Fault;
use crate::score::{score, score_per_class, to_csv, MotRow, MotScore};
use crate::sensors::{default_layout, SensorProfile, SimSensor};
use crate::signals::SignalPlan;
use crate::world::{Agent, Traffic, World, WorldConfig};
use corridor_model::SensorExtrinsics;

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
    /// Which world: the HD map embedded in the binary (the default), a map file, or the
    /// hand-built corridor.
    pub map: MapChoice,
}

/// The world a demo runs on.
#[derive(Debug, Clone)]
pub enum MapChoice {
    /// `maps/arterial-3` (three signalized 4-arm junctions, its rules), compiled into the binary
    /// so `cargo run --release` needs no files.
    Embedded,
    /// A SUMO `.net.xml` (with `rules.toml` beside it, if there is one): one RSU per signalized
    /// junction, traffic on its lanes.
    File(PathBuf),
    /// The hand-built corridor (no HD map: no cloud, no lane queries).
    HandBuilt,
}

/// The map `cargo run --release` runs on.
const EMBEDDED_MAP: &[u8] = include_bytes!("../../maps/arterial-3/arterial-3.net.xml");
/// Its rules.
const EMBEDDED_RULES: &str = include_str!("../../maps/arterial-3/rules.toml");

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
    /// Scores per ground-truth class (a track counts for the class of the object it matched most).
    pub per_class: std::collections::BTreeMap<String, MotScore>,
    /// The scenario run, if any.
    pub scenario: Option<String>,
    /// Faults injected, by kind (`dropout_frames`, `flood_frames`, `malformed_sent`).
    pub injected: std::collections::BTreeMap<String, u64>,
    /// Cloud rollout and SDK signal-timing figures (runs on an HD map).
    pub control: Option<ControlReport>,
    /// Cloud-control in the run: versions published, what each RSU runs, events acked (runs on
    /// an HD map).
    pub cloud: Option<crate::control::CloudReport>,
    /// The scripted control faults (`cloud_down`, `rsu_restart`) and what they did.
    pub faults: Vec<crate::control::FaultRecord>,
    /// Signing and verification (runs on an HD map are signed).
    pub trust: Option<TrustReport>,
}

/// What the vehicles' verifiers did in a signed run.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TrustReport {
    /// Certificates in the region's trust bundle (cloud + RSUs).
    pub certificates: usize,
    /// The vehicles' freshness window, ms.
    pub freshness_ms: u64,
    /// States and events that passed every check, all vehicles.
    pub verified: u64,
    /// States and events refused by the verifiers (by reason in `reasons`).
    pub rejected: u64,
    /// Verified states held until their map was fetched and verified.
    pub held: u64,
    /// Map/rules bundles refused by the verifiers.
    pub cloud_rejected: u64,
    /// Rejections by reason.
    pub reasons: std::collections::BTreeMap<String, u64>,
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
        if let Some(c) = &self.control {
            println!(
                "cloud: published={} rules {} -> {} at t={:.0}s, rsus_on_new_rules={}/{}",
                c.published,
                c.rules_before.as_deref().unwrap_or("-"),
                c.rules_after.as_deref().unwrap_or("-"),
                c.rollout_at_s.unwrap_or(f64::NAN),
                c.rsus_on_new_rules,
                self.rsus
            );
            println!(
                "sdk: lane_queries={} refused={} time_to_change_err_mean_s={:.3} time_to_change_err_p95_s={:.3}",
                c.ttc_samples, c.queries_refused, c.ttc_err_mean_s, c.ttc_err_p95_s
            );
        }
        match &self.trust {
            Some(t) => {
                let by: Vec<String> = t.reasons.iter().map(|(k, n)| format!("{k}:{n}")).collect();
                println!(
                    "trust: signed=yes certificates={} freshness_ms={} verified={} rejected={} held_for_map={} cloud_rejected={}{}",
                    t.certificates,
                    t.freshness_ms,
                    t.verified,
                    t.rejected,
                    t.held,
                    t.cloud_rejected,
                    if by.is_empty() { String::new() } else { format!(" rejected_by={}", by.join(",")) }
                )
            }
            None if self.scenario.is_none() => println!("trust: signed=no (no cloud on the hand-built corridor)"),
            None => {}
        }
        let reasons: Vec<String> = self.drop_reasons.iter().map(|(k, n)| format!("{k}={n}")).collect();
        println!("drops: total={} {}", self.dropped, reasons.join(" "));
        println!(
            "summary: objects={} mota={:.3} idf1={:.3} latency_p50_us={} latency_p99_us={} dropped={}",
            s.gt_ids_matched, s.mota, s.idf1, self.latency_p50_us, self.latency_p99_us, self.dropped
        );
    }
}

impl DemoReport {
    /// Prints the details and, last, the scenario summary line:
    /// `summary: scenario=.. gt_tracks=.. mota=.. motp_m=.. idf1=.. id_switches=.. fp=.. fn=.. latency_p50_us=.. latency_p99_us=.. dropped=..`
    pub fn print_run(&self) {
        let s = &self.score;
        for (c, cs) in &self.per_class {
            println!(
                "class {c}: gt_tracks={} mota={:.3} idf1={:.3} id_switches={} fp={} fn={}",
                cs.gt_ids, cs.mota, cs.idf1, cs.id_switches, cs.false_positives, cs.false_negatives
            );
        }
        let inj: Vec<String> = self.injected.iter().map(|(k, n)| format!("{k}={n}")).collect();
        if !inj.is_empty() {
            println!("faults injected: {}", inj.join(" "));
        }
        for f in &self.faults {
            println!("{}", f.line());
        }
        let reasons: Vec<String> = self.drop_reasons.iter().map(|(k, n)| format!("{k}={n}")).collect();
        println!("drops: total={} {}", self.dropped, reasons.join(" "));
        println!(
            "summary: scenario={} gt_tracks={} mota={:.3} motp_m={:.3} idf1={:.3} id_switches={} fp={} fn={} latency_p50_us={} latency_p99_us={} dropped={}",
            self.scenario.as_deref().unwrap_or("-"),
            s.gt_ids,
            s.mota,
            s.motp_m,
            s.idf1,
            s.id_switches,
            s.false_positives,
            s.false_negatives,
            self.latency_p50_us,
            self.latency_p99_us,
            self.dropped
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

/// One intersection of a run: its names and sensors.
#[derive(Debug, Clone)]
pub struct IntersectionSpec {
    /// The junction's id in the map (what faults name with `rsu = ...`).
    pub junction: String,
    /// Intersection id (key-safe).
    pub intersection: String,
    /// RSU id (key-safe).
    pub rsu: String,
    /// Sensors: id, profile, pose in the intersection's ENU frame.
    pub sensors: Vec<(String, SensorProfile, SensorExtrinsics)>,
}

/// Everything a run needs: the traffic, the intersections (in the order of
/// [`Traffic::centres`]), faults, timing and outputs.
pub struct SystemSpec {
    /// The traffic world.
    pub traffic: Box<dyn Traffic>,
    /// One per signalized intersection.
    pub intersections: Vec<IntersectionSpec>,
    /// Scripted faults.
    pub faults: Vec<Fault>,
    /// Label hashed into the map version the RSUs announce.
    pub map_label: String,
    /// Seconds scored.
    pub seconds: f64,
    /// Seconds of traffic before the sensors start.
    pub warmup_s: f64,
    /// SDK vehicles.
    pub vehicles: usize,
    /// Seed of the sensors.
    pub seed: u64,
    /// Output directory.
    pub out: Option<PathBuf>,
    /// Live progress on stderr.
    pub progress: bool,
    /// Scenario name for the report.
    pub scenario: Option<String>,
    /// Cloud-control and the map-aware parts (RSUs on the map frame, SDK lane queries), for runs
    /// on an HD map; `None` for the hand-built corridor.
    pub control: Option<ControlPlane>,
}

/// The control plane of a run on an HD map: cloud-control in-process serves the map and rules,
/// RSUs fetch them (and track in the map's frame), vehicles ask the SDK for their lane's signal
/// timing, and a new rules version rolls out mid-run.
pub struct ControlPlane {
    /// The map's file name (its extension selects the importer) and source bytes.
    pub map_file: (String, Vec<u8>),
    /// The imported map (for the vehicles' query poses).
    pub map: corridor_hdmap::HdMap,
    /// Rules file name and source, published with the map.
    pub rules: Option<(String, String)>,
    /// Seconds into the run at which `rollout_rules` is published as the new version.
    pub rollout_at_s: f64,
    /// The rules published mid-run (file name, source).
    pub rollout_rules: Option<(String, String)>,
    /// Each intersection's signal plan (the simulated controller), to score time-to-change.
    pub plans: Vec<SignalPlan>,
}

/// What the control plane did in a run.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ControlReport {
    /// Map and rules versions published at start, per intersection.
    pub published: usize,
    /// Rules version before and after the mid-run rollout (hex prefixes).
    pub rules_before: Option<String>,
    /// The rules version rolled out.
    pub rules_after: Option<String>,
    /// Seconds into the run when the rollout was published.
    pub rollout_at_s: Option<f64>,
    /// RSUs whose last state names the rolled-out rules version.
    pub rsus_on_new_rules: usize,
    /// SDK lane queries that answered with a signal group and its time to change.
    pub ttc_samples: usize,
    /// Mean absolute error of the predicted time to change (likely, else min) against the
    /// simulated controller's next switch, seconds.
    pub ttc_err_mean_s: f64,
    /// 95th percentile of the same.
    pub ttc_err_p95_s: f64,
    /// Lane queries refused (state not yet usable: map pending, stale).
    pub queries_refused: usize,
}

/// One SDK lane query: when, which intersection, which group, predicted seconds to change.
struct TtcSample {
    at: Timestamp,
    ix: usize,
    group: u16,
    predicted_s: f64,
}

/// A pose on each signalised ingress lane of each junction, 15 m before its stop line.
fn query_poses(map: &corridor_hdmap::HdMap, junctions: &[String]) -> Vec<Vec<corridor_sdk::EgoPose>> {
    junctions
        .iter()
        .map(|j| {
            let mut lanes: Vec<&corridor_model::LaneId> = map
                .connections
                .iter()
                .filter(|c| c.signal.is_some() && c.junction.as_deref() == Some(j.as_str()))
                .map(|c| &c.ingress)
                .collect();
            lanes.sort();
            lanes.dedup();
            lanes
                .into_iter()
                .filter_map(|id| map.lane(id))
                .filter(|l| l.length_m() > 20.0)
                .filter_map(|l| corridor_hdmap::geom::point_at(&l.centre_line_m, l.length_m() - 15.0))
                .map(|(p, h)| corridor_sdk::EgoPose::enu(p[0], p[1], h))
                .collect()
        })
        .collect()
}

/// Runs the demo and scores it.
pub async fn run_demo(cfg: DemoConfig) -> anyhow::Result<DemoReport> {
    let map_input = match &cfg.map {
        MapChoice::HandBuilt => None,
        MapChoice::Embedded => Some((
            "arterial-3.net.xml".to_owned(),
            EMBEDDED_MAP.to_vec(),
            Some(("rules.toml".to_owned(), EMBEDDED_RULES.to_owned())),
        )),
        MapChoice::File(path) => {
            let file = path.display().to_string();
            let bytes = std::fs::read(path).with_context(|| format!("reading {file}"))?;
            // rules beside the map, if the map ships them
            let rules_path = path.with_file_name("rules.toml");
            let rules = match std::fs::read_to_string(&rules_path) {
                Ok(text) => Some(("rules.toml".to_owned(), text)),
                Err(_) => None,
            };
            Some((file, bytes, rules))
        }
    };
    if let Some((file, bytes, rules)) = map_input {
        let format = corridor_hdmap::format_of(&file)
            .ok_or_else(|| anyhow::anyhow!("{file}: not a map file name (.net.xml, .xodr, .osm)"))?;
        let imported = corridor_hdmap::import_bytes(format, &file, &bytes, &corridor_hdmap::ImportOptions::default())
            .with_context(|| format!("importing {file}"))?;
        let xml = String::from_utf8(bytes.clone()).with_context(|| format!("{file} is not UTF-8 XML"))?;
        let world = crate::mapworld::MapWorld::new(
            &file,
            &imported.map,
            &xml,
            crate::mapworld::MapWorldConfig::default(),
            ChaCha8Rng::seed_from_u64(cfg.seed),
        )?;
        let intersections: Vec<IntersectionSpec> = world
            .junction_ids()
            .iter()
            .enumerate()
            .map(|(k, j)| IntersectionSpec {
                junction: j.clone(),
                intersection: ix_name(k),
                rsu: format!("rsu-{}", (b'a' + k as u8) as char),
                sensors: default_layout(),
            })
            .collect();
        let plans = (0..intersections.len()).map(|k| world.plan(k).clone()).collect();
        // the rollout: the city lowers the urban default speed limit by 10 km/h mid-run
        let rollout_rules = rules.as_ref().and_then(|(name, text)| {
            let at = text.find("effect.speed_limit_kmh = ")?;
            let rest = &text[at + "effect.speed_limit_kmh = ".len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let v: u32 = digits.parse().ok()?;
            let changed = format!(
                "{}effect.speed_limit_kmh = {}{}",
                &text[..at],
                v.saturating_sub(10).max(10),
                &rest[digits.len()..]
            );
            Some((name.clone(), changed))
        });
        let file_name = std::path::Path::new(&file)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| file.clone());
        return run_system(SystemSpec {
            traffic: Box::new(world),
            intersections,
            faults: Vec::new(),
            map_label: format!("map/{}", imported.map.version().to_hex()),
            seconds: cfg.seconds,
            warmup_s: 60.0,
            vehicles: cfg.vehicles,
            seed: cfg.seed,
            out: cfg.out,
            progress: cfg.progress,
            scenario: None,
            control: Some(ControlPlane {
                map_file: (file_name, bytes),
                map: imported.map,
                rules,
                rollout_at_s: cfg.seconds / 2.0,
                rollout_rules,
                plans,
            }),
        })
        .await;
    }
    let n = cfg.intersections;
    let plans = (0..n).map(|k| SignalPlan::two_phase(k as f64 * 18.0)).collect();
    let world = World::new(
        WorldConfig { intersections: n, ..WorldConfig::default() },
        plans,
        ChaCha8Rng::seed_from_u64(cfg.seed),
    );
    let intersections = (0..n)
        .map(|k| IntersectionSpec {
            junction: ix_name(k),
            intersection: ix_name(k),
            rsu: format!("rsu-{}", (b'a' + k as u8) as char),
            sensors: default_layout(),
        })
        .collect();
    run_system(SystemSpec {
        traffic: Box::new(world),
        intersections,
        faults: Vec::new(),
        map_label: format!("builtin-corridor/{n}x250m/v1"),
        seconds: cfg.seconds,
        warmup_s: WARMUP_S,
        vehicles: cfg.vehicles,
        seed: cfg.seed,
        out: cfg.out,
        progress: cfg.progress,
        scenario: None,
        control: None,
    })
    .await
}

/// Runs a system over zenoh on loopback and scores what the first vehicle knew.
pub async fn run_system(spec: SystemSpec) -> anyhow::Result<DemoReport> {
    let SystemSpec {
        mut traffic,
        intersections,
        faults,
        map_label,
        seconds,
        warmup_s,
        vehicles: n_vehicles,
        seed,
        out,
        progress,
        scenario,
        control,
    } = spec;
    let region = RegionId::new("demo")?;
    let port = presets::free_loopback_port().context("binding a loopback port")?;
    let hub_ep = presets::loopback_tcp(port);
    let hub = zenoh::open(presets::peer(std::slice::from_ref(&hub_ep), &[])?)
        .await
        .map_err(|e| anyhow::anyhow!("opening the hub zenoh session on {hub_ep}: {e}"))?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let map_version = corridor_model::MapVersion(*blake3::hash(map_label.as_bytes()).as_bytes());
    let n = intersections.len();
    anyhow::ensure!(n == traffic.centres().len(), "{n} intersections for {} centres", traffic.centres().len());

    // cloud-control, in-process on the hub: every intersection's map and rules published
    let scratch = std::env::temp_dir().join(format!("corridor-demo-{}-{port}", std::process::id()));
    let mut control_report = ControlReport::default();
    // on an HD map everything is signed: a region PKI made for this run
    let pki = match &control {
        Some(_) => Some(DemoPki::new(&intersections, clock.now(), seed, &scratch.join("keys"))?),
        None => None,
    };
    let mut plane = Plane::new(&hub, region.clone(), Arc::clone(&clock), scratch.clone(), false).await?;
    if let Some(p) = &pki {
        plane.secure_cloud(crate::control::CloudSecurity {
            identity: p.cloud.clone(),
            trust_bundle: p.bundle.clone(),
            root: p.root,
        });
    }
    if let Some(cp) = &control {
        plane.start_cloud().await?;
        for ix in &intersections {
            let entry = plane.publish(publish_request(&ix.intersection, &cp.map_file, cp.rules.as_ref())?)?;
            control_report.published += 1;
            control_report.rules_before = entry.rules_version.map(|v| v.short());
        }
    }
    let centres0 = traffic.centres();

    // RSUs
    for (k, ix) in intersections.iter().enumerate() {
        // on an HD map the RSU tracks in the map's frame: its poles sit around the junction centre
        let offset = if control.is_some() { centres0[k] } else { Vector2::zeros() };
        let mut rsu_cfg = rsu_config(
            &region,
            &ix.rsu,
            &ix.intersection,
            control.as_ref().map_or(map_version, |cp| cp.map.version()),
            sensor_sections(&ix.sensors, |p, yaw| (p + offset, yaw))?,
            control.as_ref().map(|_| scratch.join(format!("rsu-{k}"))),
            &hub_ep,
        )?;
        rsu_cfg.security = pki.as_ref().and_then(|p| p.rsus.get(k).cloned());
        plane.add_rsu(rsu_cfg).await.map_err(|e| anyhow::anyhow!("RSU {k}: {e}"))?;
    }
    let plane = Arc::new(tokio::sync::Mutex::new(plane));

    // vehicles: the first follows every intersection (and is the one scored), the others a route each
    let latencies = Arc::new(Mutex::new(Latencies {
        capture: Histogram::new_with_bounds(1, 60_000_000, 3)?,
        pipeline: Histogram::new_with_bounds(1, 60_000_000, 3)?,
        received: 0,
    }));
    let observed: Arc<Mutex<Vec<StateUpdate>>> = Arc::new(Mutex::new(Vec::new()));
    let mut vehicles = Vec::new();
    for v in 0..n_vehicles {
        let route: Vec<IntersectionId> = if v == 0 || v % 2 == 1 {
            intersections.iter().map(|ix| IntersectionId::new(&ix.intersection)).collect::<Result<_, _>>()?
        } else {
            vec![IntersectionId::new(&intersections[v / 2 % n].intersection)?]
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
        let mut vcfg = corridor_sdk::CorridorConfig::new(region.clone(), corridor_sdk::Route::intersections(route));
        vcfg.trust = pki.as_ref().map(|p| p.verifier.clone());
        vehicles.push(
            Vehicle::follow(session, vcfg, Arc::clone(&clock), Some(callback))
                .await
                .map_err(|e| anyhow::anyhow!("vehicle {v}: {e}"))?,
        );
    }
    // let gossip connect the peers before traffic starts
    tokio::time::sleep(Duration::from_millis(800)).await;

    // the world and its sensors
    while traffic.time_s() < warmup_s {
        traffic.step(DT_S);
    }
    let centres = traffic.centres();
    // the world's clock when the sensors start (run_world's t0 is the wall time of this instant)
    let sim_start_s = traffic.time_s();
    let mut sensor_rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5e45_0123);
    let mut sensors = Vec::new();
    let mut det_pubs = Vec::new();
    let mut sig_pubs = Vec::new();
    for (k, ix) in intersections.iter().enumerate() {
        let rsu = RsuId::new(&ix.rsu)?;
        for (id, profile, ext) in &ix.sensors {
            let sensor = SensorId::new(id)?;
            let key = Key::Detections { region: region.clone(), rsu: rsu.clone(), sensor: sensor.clone() };
            det_pubs.push(presets::declare_publisher(&hub, &key).await.map_err(|e| anyhow::anyhow!("{key}: {e}"))?);
            let mut sim = SimSensor::new(sensor, profile.clone(), *ext, centres[k], &mut sensor_rng);
            for f in &faults {
                if let Fault::ClockSkew { sensor, rsu, offset_ms } = f {
                    if sensor == id && rsu.as_ref().is_none_or(|r| *r == ix.junction) {
                        sim.skew_s = offset_ms / 1000.0;
                    }
                }
            }
            sensors.push((k, ix.junction.clone(), sim));
        }
        let key = Key::Signals { region: region.clone(), rsu };
        sig_pubs.push(presets::declare_publisher(&hub, &key).await.map_err(|e| anyhow::anyhow!("{key}: {e}"))?);
    }

    // the vehicles ask the SDK, once a second, for the signal timing of an approach lane at each
    // intersection on their route; mid-run a new rules version rolls out through the cloud
    let vehicles = Arc::new(vehicles);
    let samples: Arc<Mutex<(Vec<TtcSample>, usize)>> = Arc::new(Mutex::new((Vec::new(), 0)));
    let mut control_tasks = Vec::new();
    if let Some(cp) = &control {
        let poses = query_poses(&cp.map, &intersections.iter().map(|ix| ix.junction.clone()).collect::<Vec<_>>());
        let (vs, samples, clock) = (Arc::clone(&vehicles), Arc::clone(&samples), Arc::clone(&clock));
        let routes: Vec<Vec<usize>> =
            (0..vs.len()).map(|v| if v == 0 || v % 2 == 1 { (0..n).collect() } else { vec![v / 2 % n] }).collect();
        control_tasks.push(tokio::spawn(async move {
            let mut tick = 0usize;
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                tick += 1;
                for (v, vehicle) in vs.iter().enumerate() {
                    for &k in &routes[v] {
                        let Some(pose) = poses[k].get((tick + v) % poses[k].len().max(1)) else { continue };
                        let now = clock.now();
                        match vehicle.my_lane(pose, corridor_sdk::VehicleClass::Car) {
                            Ok(lane) => {
                                let Some(sig) = lane.signal else { continue };
                                let Some(t) = sig.time_to_change else { continue };
                                let mut g = samples.lock().unwrap_or_else(PoisonError::into_inner);
                                g.0.push(TtcSample { at: now, ix: k, group: sig.group.0, predicted_s: t.best_s() });
                            }
                            Err(_) => samples.lock().unwrap_or_else(PoisonError::into_inner).1 += 1,
                        }
                    }
                }
            }
        }));
    }
    let rollout = match &control {
        Some(cp) if cp.rollout_rules.is_some() => Some((cp.rollout_at_s, cp.rollout_rules.clone())),
        _ => None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let progress_stats = Arc::clone(&latencies);
    let sim_clock = Arc::clone(&clock);
    // the scripted control faults run on their own task, timed from the sensors' start
    let faults_stop = Arc::new(AtomicBool::new(false));
    let junctions: Vec<String> = intersections.iter().map(|ix| ix.junction.clone()).collect();
    let fault_task = spawn_faults(
        Arc::clone(&plane),
        &faults,
        control.is_some(),
        |j| junctions.iter().position(|x| x == j),
        clock.now(),
        Arc::clone(&clock),
        Arc::clone(&faults_stop),
    )?;
    let sim = std::thread::Builder::new().name("sim".into()).spawn(move || {
        let run = SimRun { faults, seconds, progress, stats: progress_stats, stop };
        run_world(traffic, sensors, det_pubs, sig_pubs, sensor_rng, sim_clock, run)
    })?;
    let sim = tokio::task::spawn_blocking(move || sim.join());
    if let (Some((at_s, Some(rules))), Some(cp)) = (rollout, &control) {
        tokio::time::sleep(Duration::from_secs_f64(at_s)).await;
        for ix in &intersections {
            let entry = plane
                .lock()
                .await
                .publish(publish_request(&ix.intersection, &cp.map_file, Some(&rules))?)
                .map_err(|e| anyhow::anyhow!("rolling out rules: {e}"))?;
            control_report.rules_after = entry.rules_version.map(|v| v.short());
        }
        control_report.rollout_at_s = Some(at_s);
        if progress {
            eprintln!("\ncloud: rules {} rolled out", control_report.rules_after.as_deref().unwrap_or("-"));
        }
    }
    let (gt_rows, t0, injected) = sim.await?.map_err(|_| anyhow::anyhow!("the simulation thread panicked"))?;
    for t in control_tasks {
        t.abort();
    }
    faults_stop.store(true, Ordering::Relaxed);
    let mut fault_records = fault_task.await.context("the fault task failed")?;

    // let the last states arrive; the cloud acks what the outboxes still hold
    tokio::time::sleep(Duration::from_millis(300)).await;
    let plane = Arc::try_unwrap(plane).map_err(|_| anyhow::anyhow!("the control plane is still shared"))?.into_inner();
    if !plane.drain_events(Duration::from_secs(15)).await {
        tracing::warn!(queued = plane.events_queued(), "events still queued 15 s after the run");
    }
    let states_published = plane.states_published();
    let mut drop_reasons = plane.drop_reasons();
    for v in vehicles.iter() {
        for (k, n) in v.stats().dropped {
            *drop_reasons.entry(format!("sdk:{k}")).or_insert(0) += n;
        }
    }
    let dropped: u64 = drop_reasons.values().sum();
    let trust = pki.as_ref().map(|p| {
        let mut t = TrustReport {
            certificates: p.certificates,
            freshness_ms: DEMO_FRESHNESS.as_millis() as u64,
            ..TrustReport::default()
        };
        for v in vehicles.iter() {
            let s = v.stats();
            t.verified += s.verified;
            t.rejected += s.unverified;
            t.held += s.held;
            t.cloud_rejected += s.cloud_rejected;
            if let Some(c) = v.with_core(|c| c.trust_counters().cloned()) {
                for (reason, n) in c.rejected {
                    if reason != "unknown_map" {
                        *t.reasons.entry(reason.to_owned()).or_insert(0) += n;
                    }
                }
            }
        }
        t
    });
    let observed = std::mem::take(&mut *observed.lock().unwrap_or_else(PoisonError::into_inner));
    finish_faults(&mut fault_records, &plane, &observed.iter().collect::<Vec<_>>(), t0);
    let names: Vec<&str> = intersections.iter().map(|ix| ix.intersection.as_str()).collect();
    let map_frame = control.is_some();
    let track_rows =
        tracks_at_ticks(&observed, t0, &names, &centres, map_frame, gt_rows.iter().map(|r| r.frame).max().unwrap_or(0));
    if let Some(cp) = &control {
        // which RSUs publish under the rolled-out rules now
        let want = control_report.rules_after.clone();
        control_report.rsus_on_new_rules = names
            .iter()
            .filter(|name| {
                observed
                    .iter()
                    .rev()
                    .find(|u| u.state.intersection.as_str() == **name)
                    .and_then(|u| u.state.rules_version)
                    .map(|v| v.short())
                    == want
            })
            .count();
        let (list, refused) = std::mem::take(&mut *samples.lock().unwrap_or_else(PoisonError::into_inner));
        let mut errs: Vec<f64> = list
            .iter()
            .filter_map(|x| {
                let plan = cp.plans.get(x.ix)?;
                let actual = plan.time_to_change(x.group, sim_start_s + x.at.secs_since(t0));
                Some((x.predicted_s - actual).abs())
            })
            .collect();
        errs.sort_by(f64::total_cmp);
        control_report.ttc_samples = errs.len();
        control_report.queries_refused = refused;
        if !errs.is_empty() {
            control_report.ttc_err_mean_s = errs.iter().sum::<f64>() / errs.len() as f64;
            control_report.ttc_err_p95_s = errs[((errs.len() - 1) as f64 * 0.95).round() as usize];
        }
    }
    let gt_frames: std::collections::BTreeSet<u64> = gt_rows.iter().map(|r| r.frame).collect();
    let track_rows: Vec<MotRow> = track_rows.into_iter().filter(|r| gt_frames.contains(&r.frame)).collect();
    let sc = score(&gt_rows, &track_rows, MATCH_THRESHOLD_M);
    let per_class = score_per_class(&gt_rows, &track_rows, MATCH_THRESHOLD_M);
    let (latency_p50_us, latency_p99_us, pipeline_p50_us, pipeline_p99_us, states_received) = {
        let l = latencies.lock().unwrap_or_else(PoisonError::into_inner);
        (
            l.capture.value_at_quantile(0.5),
            l.capture.value_at_quantile(0.99),
            l.pipeline.value_at_quantile(0.5),
            l.pipeline.value_at_quantile(0.99),
            l.received,
        )
    };
    let report = DemoReport {
        score: sc,
        latency_p50_us,
        latency_p99_us,
        pipeline_p50_us,
        pipeline_p99_us,
        states_received,
        states_published,
        dropped,
        drop_reasons,
        vehicles: n_vehicles,
        rsus: n,
        per_class,
        scenario,
        injected,
        control: control.as_ref().map(|_| control_report),
        cloud: plane.cloud_report(),
        faults: fault_records,
        trust,
    };
    if let Some(dir) = &out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::write(dir.join("gt.csv"), to_csv(&gt_rows))
            .with_context(|| format!("writing {}/gt.csv", dir.display()))?;
        std::fs::write(dir.join("tracks.csv"), to_csv(&track_rows))
            .with_context(|| format!("writing {}/tracks.csv", dir.display()))?;
        std::fs::write(dir.join("report.json"), serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}/report.json", dir.display()))?;
    }
    plane.shutdown().await;
    drop(vehicles);
    let _ = std::fs::remove_dir_all(&scratch);
    drop(hub);
    Ok(report)
}

/// The vehicles' freshness window in the signed demo (printed on the `trust:` line): the
/// simulated sensors alone add 20-90 ms of latency, the fusion waits for the slowest, and the
/// demo also runs in debug builds on loaded CI machines (p99 capture-to-vehicle 190-310 ms
/// measured), so 1 s rather than the guard's 200 ms default. Queries still treat states older
/// than the SDK's 0.5 s window as `Stale`.
const DEMO_FRESHNESS: Duration = Duration::from_millis(1000);

/// The region PKI of a signed run: made in memory, RSU keys written to the scratch dir (the RSU
/// reads its `[security]` files like in the field).
struct DemoPki {
    root: corridor_security::VerifyingKey,
    cloud: cloud_control::CloudIdentity,
    rsus: Vec<roadside::security::SecuritySection>,
    bundle: Vec<u8>,
    certificates: usize,
    verifier: corridor_sdk::TrustVerifier,
}

impl DemoPki {
    fn new(
        intersections: &[IntersectionSpec],
        now: Timestamp,
        seed: u64,
        dir: &std::path::Path,
    ) -> anyhow::Result<DemoPki> {
        use corridor_security::{Certificate, SigningKey, TrustStore};
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed ^ 0x7275_7374);
        let root = SigningKey::generate(&mut rng);
        let (from, to) = (now.add_secs_f64(-3600.0), now.add_secs_f64(86_400.0));
        let mut store = TrustStore::new([*root.verifying_key()]);
        let cloud_key = SigningKey::generate(&mut rng);
        let cloud_cert = Certificate::cloud("cloud-control", *cloud_key.verifying_key(), from, to, 1).issue(&root)?;
        store.add_certificate(cloud_cert.clone())?;
        let cloud = cloud_control::CloudIdentity::new(cloud_key, &cloud_cert).map_err(|e| anyhow::anyhow!(e))?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        // the RSUs check the cloud's signatures against the root and follow its trust bundle
        let root_path = dir.join("root.pub");
        std::fs::write(&root_path, root.verifying_key().to_pem()?)
            .with_context(|| format!("writing {}", root_path.display()))?;
        let mut rsus = Vec::new();
        for (k, ix) in intersections.iter().enumerate() {
            let key = SigningKey::generate(&mut rng);
            let cert = Certificate::rsu(
                &RsuId::new(&ix.rsu)?,
                *key.verifying_key(),
                [IntersectionId::new(&ix.intersection)?],
                from,
                to,
                2 + k as u64,
            )
            .issue(&root)?;
            store.add_certificate(cert.clone())?;
            let (key_path, cert_path) = (dir.join(format!("{}.key", ix.rsu)), dir.join(format!("{}.cert", ix.rsu)));
            std::fs::write(&key_path, key.to_pem()?).with_context(|| format!("writing {}", key_path.display()))?;
            std::fs::write(&cert_path, cert.to_hex()).with_context(|| format!("writing {}", cert_path.display()))?;
            rsus.push(roadside::security::SecuritySection {
                root: Some(root_path.clone()),
                ..roadside::security::SecuritySection::signing(key_path, cert_path)
            });
        }
        let bundle = corridor_security::export_bundle(&store);
        let config = corridor_security::GuardConfig { freshness: DEMO_FRESHNESS, ..Default::default() };
        let (verifier, _) = corridor_sdk::TrustVerifier::from_root_with(*root.verifying_key(), Some(&bundle), config)?;
        Ok(DemoPki {
            root: *root.verifying_key(),
            cloud,
            rsus,
            bundle,
            certificates: intersections.len() + 1,
            verifier,
        })
    }
}

/// What the sim thread runs besides the world and the sensors.
struct SimRun {
    faults: Vec<Fault>,
    seconds: f64,
    progress: bool,
    stats: Arc<Mutex<Latencies>>,
    stop: Arc<AtomicBool>,
}

fn fault_targets(sensor: &str, rsu: &Option<String>, id: &SensorId, junction: &str) -> bool {
    sensor == id.as_str() && rsu.as_ref().is_none_or(|r| r == junction)
}

/// The sim thread: steps the world in real time, runs the sensors (with the scripted faults)
/// and the signal controllers, publishes their output, records ground truth every 0.1 s.
/// Returns (gt rows, UTC of frame 0, injected fault counts).
fn run_world(
    mut world: Box<dyn Traffic>,
    mut sensors: Vec<(usize, String, SimSensor)>,
    det_pubs: Vec<zenoh::pubsub::Publisher<'static>>,
    sig_pubs: Vec<zenoh::pubsub::Publisher<'static>>,
    mut rng: ChaCha8Rng,
    clock: Arc<dyn Clock>,
    run: SimRun,
) -> (Vec<MotRow>, Timestamp, std::collections::BTreeMap<String, u64>) {
    use rand::Rng as _;
    let start_s = world.time_s();
    // t0 maps simulation time to UTC: utc = t0 + t_s
    let wall_start = clock.now();
    let t0 = wall_start.add_secs_f64(-start_s);
    let centres = world.centres();
    let mut pending: Vec<(Timestamp, usize, Vec<u8>)> = Vec::new();
    let mut gt = Vec::new();
    let mut injected = std::collections::BTreeMap::new();
    let malformed_hz: f64 =
        run.faults.iter().map(|f| if let Fault::MalformedMessages { rate_hz } = f { *rate_hz } else { 0.0 }).sum();
    let mut next_malformed = vec![0.0f64; sensors.len()];
    let steps = (run.seconds / DT_S).round() as u64;
    let mut last_progress = 0u64;
    for step in 0..steps {
        if run.stop.load(Ordering::Relaxed) {
            break;
        }
        world.step(DT_S);
        let t_s = world.time_s();
        let rel_s = t_s - start_s;
        // pace to real time
        let due = t0.add_secs_f64(t_s);
        let now = clock.now();
        if due > now {
            std::thread::sleep(Duration::from_nanos(due.nanos_since(now) as u64));
        }
        let agents = world.agents();
        for (i, (k, junction, sensor)) in sensors.iter_mut().enumerate() {
            if malformed_hz > 0.0 && rel_s >= next_malformed[i] {
                next_malformed[i] = rel_s + 1.0 / malformed_hz;
                // garbage: random bytes, or a valid frame cut short
                let len = rng.gen_range(1..200);
                let bytes: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
                pending.push((t0.add_secs_f64(t_s), i, bytes));
                *injected.entry("malformed_sent".to_owned()).or_insert(0) += 1;
            }
            if t_s + 1e-9 < sensor.next_capture_s {
                continue;
            }
            let dropped = run.faults.iter().any(|f| match f {
                Fault::SensorDropout { sensor: s, rsu, from_s, to_s } => {
                    fault_targets(s, rsu, &sensor.id, junction) && (*from_s..*to_s).contains(&rel_s)
                }
                _ => false,
            });
            if dropped {
                sensor.next_capture_s = t_s + 1.0 / sensor.profile.rate_hz;
                *injected.entry("dropout_frames".to_owned()).or_insert(0) += 1;
                continue;
            }
            let flood: f64 = run
                .faults
                .iter()
                .map(|f| match f {
                    Fault::DetectionFlood { sensor: s, rsu, factor, from_s, to_s }
                        if fault_targets(s, rsu, &sensor.id, junction) && (*from_s..*to_s).contains(&rel_s) =>
                    {
                        *factor
                    }
                    _ => 1.0,
                })
                .product();
            let base_fa = sensor.profile.false_alarms;
            if flood > 1.0 {
                sensor.profile.false_alarms = base_fa * flood;
                *injected.entry("flood_frames".to_owned()).or_insert(0) += 1;
            }
            let (frame, latency_s) = sensor.capture(&agents, t_s, t0, &mut rng);
            sensor.profile.false_alarms = base_fa;
            let header = Header::new(
                PayloadKind::Detections,
                sensor.id.as_str(),
                frame.frame_seq,
                frame.capture_time,
                frame.capture_time,
            );
            match encode(&header, &frame) {
                Ok(bytes) => pending.push((t0.add_secs_f64(t_s + latency_s), i, bytes)),
                Err(e) => tracing::error!(sensor = %sensor.id, intersection = *k, error = %e, "encode failed"),
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
        if (step + 1) % 10 == 0 {
            let frame = (rel_s / 0.1).round() as u64;
            for (k, pubr) in sig_pubs.iter().enumerate() {
                let sf = SignalFrame { time: t0.add_secs_f64(t_s), groups: world.signal_snapshot(k, t0) };
                let header = Header::new(PayloadKind::Signals, "signal-ctl", frame, sf.time, sf.time);
                if let Ok(bytes) = encode(&header, &sf) {
                    let _ = pubr.put(bytes).wait();
                }
            }
            gt.extend(gt_rows(&agents, &centres, frame));
        }
        if run.progress && step - last_progress >= 100 {
            last_progress = step;
            let l = run.stats.lock().unwrap_or_else(PoisonError::into_inner);
            let p50 = l.capture.value_at_quantile(0.5);
            let received = l.received;
            drop(l);
            eprint!(
                "\r  t={:5.1}s/{:.0}s  agents={:3}  states received={:6}  capture->vehicle p50={:6.1} ms ",
                rel_s,
                run.seconds,
                agents.len(),
                received,
                p50 as f64 / 1000.0
            );
            let _ = std::io::stderr().flush();
        }
    }
    if run.progress {
        eprintln!();
    }
    (gt, t0.add_secs_f64(start_s), injected)
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

/// Track ids restart with their RSU; a vehicle knows it (the SDK marks the first state after a
/// restart `Continuity::Restart`), so the scored id of a track published after the RSU's `e`-th
/// restart is `k * 10^7 + e * RESTART_ID_STRIDE + track id`: a new track, never a reused id.
pub(crate) const RESTART_ID_STRIDE: u64 = 1_000_000;

/// One published object as a scored row: predicted `dt` seconds ahead, moved from its RSU's
/// frame (whose origin is `frame_origin` in world coordinates) to the world, kept only within
/// `radius_m` of the junction `centre`. Row ids are `k * 10^7 + track id` (unique per junction).
pub(crate) fn object_row(
    o: &corridor_model::TrackedObject,
    frame: u64,
    k: usize,
    dt: f64,
    frame_origin: Vector2<f64>,
    centre: Vector2<f64>,
    radius_m: f64,
) -> Option<MotRow> {
    let w = Vector2::new(o.position_m.x, o.position_m.y)
        + Vector2::new(o.velocity_mps.x, o.velocity_mps.y) * dt
        + frame_origin;
    if (w - centre).norm() > radius_m {
        return None;
    }
    Some(MotRow {
        frame,
        id: (k as u64) * 10_000_000 + o.track_id.0,
        x: w.x,
        y: w.y,
        z: o.position_m.z,
        vx: o.velocity_mps.x,
        vy: o.velocity_mps.y,
        class: o.class.as_str(),
        confidence: f64::from(o.class_confidence),
    })
}

/// What the observing vehicle knew at each 0.1 s tick: per intersection, the latest state
/// received by then, its objects predicted to the tick, in world coordinates.
fn tracks_at_ticks(
    observed: &[StateUpdate],
    t0: Timestamp,
    names: &[&str],
    centres: &[Vector2<f64>],
    map_frame: bool,
    last_frame: u64,
) -> Vec<MotRow> {
    let mut rows = Vec::new();
    // per intersection: each state and its RSU epoch (restarts the vehicle saw before it)
    let mut by_ix: Vec<Vec<(&StateUpdate, u64)>> = vec![Vec::new(); centres.len()];
    for u in observed {
        let name = u.state.intersection.as_str();
        if let Some(k) = names.iter().position(|n| *n == name) {
            let epoch = by_ix[k].last().map_or(0, |(_, e)| *e) + u64::from(u.continuity == Continuity::Restart);
            by_ix[k].push((u, epoch));
        }
    }
    let first_frame = observed.iter().map(|u| (u.received_at.secs_since(t0) / 0.1).ceil() as u64).min().unwrap_or(0);
    for frame in first_frame..=last_frame {
        let t = t0.add_secs_f64(frame as f64 * 0.1);
        for (k, list) in by_ix.iter().enumerate() {
            let Some((u, epoch)) = list.iter().rev().find(|(u, _)| u.received_at <= t) else { continue };
            let dt = t.secs_since(u.state.capture_time);
            if !(0.0..=1.0).contains(&dt) {
                continue; // a state older than a second is stale: the vehicle would not use it
            }
            // RSUs on an HD map publish in its frame; the hand-built corridor's in each centre's
            let frame_origin = if map_frame { Vector2::zeros() } else { centres[k] };
            rows.extend(
                u.state
                    .objects
                    .iter()
                    .filter_map(|o| object_row(o, frame, k, dt, frame_origin, centres[k], SCORE_RADIUS_M))
                    .map(|r| MotRow { id: r.id + epoch * RESTART_ID_STRIDE, ..r }),
            );
        }
    }
    rows
}
