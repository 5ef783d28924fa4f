//! SUMO co-simulation: `corridor-sim sumo --sumocfg FILE --out DIR [--seconds N]`.
//!
//! ```text
//!  sumo_driver.py (libsumo, 0.1 s steps) --JSON lines--> sim thread
//!     sim thread: SUMO objects -> agents (centre, heading); 4 SimSensors per TL junction,
//!                 interpolated between steps at 10 ms; SPaT from the TLS programmes
//!     | det, signal  (zenoh peer "hub")
//!     v
//!  one roadside::RsuService per traffic-light junction (own zenoh peer, own fusion thread)
//!     | state
//!     v
//!  one corridor_sdk::Vehicle per junction (what it knew at each 0.1 s tick is scored)
//! ```
//!
//! - Junctions: every non-internal junction whose type starts with `traffic_light` in the net
//!   as imported by `corridor_hdmap::load_path` (sorted by id; `--max-junctions K` keeps the
//!   first K, `--bbox` those inside a net-coordinate box). Its signal groups are the TLS link
//!   indices whose connections cross it (the importer's `tl:linkIndex` groups).
//! - Frames: each RSU's frame is the net's cartesian frame shifted to the junction centre
//!   (SUMO's position of the junction), so tracks convert back to net coordinates by adding
//!   the centre. The sensors are the default layout of [`crate::sensors::default_layout`].
//! - Time: SUMO time `t` maps to UTC `t0 + t`; the run is paced to real time so latencies are
//!   real. Sensors start at `start` (after `--warmup`); the first second is not scored (tracks
//!   need M-of-N frames to confirm).
//! - Scoring: per junction, ground truth within [`SCORE_RADIUS_M`] of its centre against that
//!   junction's tracks (2 m threshold), with [`crate::score::score`]; then
//!   `sumo_report.py` scores the same CSVs with py-motmetrics and draws `report.html`.
//!
//! Outputs in `--out`: `tracks.csv`, `gt.csv` (MOTChallenge-style, net coordinates, object
//! centres; track ids are `junction_index * 10^7 + track id`), `junctions.csv`, `signals.csv`,
//! `report.json`, `report.html` (+ `img/*.png`), `sumo.log` (the driver's stderr).

pub mod frame;
pub mod protocol;
pub mod spat;

use anyhow::{bail, Context};
use corridor_model::{
    Clock, IntersectionId, ObjectClass, RegionId, RsuId, SensorId, SignalFrame, SignalGroupId, SignalGroupState,
    SystemClock, TimeChangeDetails, Timestamp,
};
use corridor_sdk::{StateUpdate, Vehicle};
use corridor_wire::{encode, presets, Header, Key, PayloadKind};
use hdrhistogram::Histogram;
use nalgebra::Vector2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use zenoh::Wait;

use crate::control::{finish_faults, publish_request, rsu_config, sensor_sections, spawn_faults, Plane};
use crate::score::{score, to_csv, MotRow, MotScore};
use crate::sensors::{default_layout, SimSensor};
use crate::world::Agent;
use protocol::{agent_of, interpolate, Line, Meta, RawTls};
use spat::{group_timing, Now, Programme};

/// Scoring radius around each junction centre, m.
pub const SCORE_RADIUS_M: f64 = 50.0;
/// Match threshold, m.
pub const MATCH_THRESHOLD_M: f64 = 2.0;
/// Objects further than this from every RSU are not streamed (sensor poles sit 21 m from the
/// centre and see 80 m).
const STREAM_RADIUS_M: f64 = 110.0;
/// Seconds after the sensors start that are not scored.
const SETTLE_S: f64 = 1.0;
const DT_S: f64 = 0.01;
/// Falling this far behind real time re-anchors the simulation clock (a slip), s.
const SLIP_S: f64 = 0.05;
const DRIVER: &str = include_str!("../../python/sumo_driver.py");
const REPORT: &str = include_str!("../../python/sumo_report.py");

/// What to run.
#[derive(Debug, Clone)]
pub struct SumoConfig {
    /// The SUMO configuration.
    pub sumocfg: PathBuf,
    /// Output directory.
    pub out: PathBuf,
    /// Seconds of simulation time to run (paced to real time) after the warm-up.
    pub seconds: f64,
    /// Seconds SUMO runs (fast, no sensors) before the sensors start.
    pub warmup_s: f64,
    /// SUMO `--begin` override.
    pub begin: Option<f64>,
    /// Keep only the first K TL junctions (sorted by id).
    pub max_junctions: Option<usize>,
    /// Keep only TL junctions inside `[xmin, ymin, xmax, ymax]` (net coordinates).
    pub bbox: Option<[f64; 4]>,
    /// Seed of the sensors (and of SUMO).
    pub seed: u64,
    /// The Python interpreter with libsumo, motmetrics and matplotlib.
    pub python: PathBuf,
    /// Run SUMO from a copy of the configuration's directory under `out/scenario` (SUMO
    /// scenarios write their outputs beside their files).
    pub copy_scenario: bool,
    /// Run `sumo_report.py` (py-motmetrics and the HTML report).
    pub html: bool,
    /// Live progress line on stderr.
    pub progress: bool,
    /// The rules file published with the network (default: [`frame::default_rules`]).
    pub rules: Option<PathBuf>,
    /// A faults file (`[[fault]]` tables of kind `cloud_down` / `rsu_restart`, times in seconds
    /// after the sensors start, `rsu` a SUMO junction id with an RSU).
    pub faults: Option<PathBuf>,
}

/// One junction with an RSU.
#[derive(Debug, Clone, serde::Serialize)]
pub struct JunctionInfo {
    /// Index (track ids are `index * 10^7 + track`).
    pub index: usize,
    /// SUMO id.
    pub id: String,
    /// The corridor intersection id.
    pub intersection: String,
    /// Centre in net coordinates.
    pub x: f64,
    /// Centre in net coordinates.
    pub y: f64,
    /// Signal groups: (traffic light, link index).
    pub groups: Vec<(String, u16)>,
}

/// Scores of one junction or class.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Scored {
    /// Junction (or `all`).
    pub junction: String,
    /// Class (or `all`).
    pub class: String,
    /// The scores.
    #[serde(flatten)]
    pub score: MotScore,
    /// Matches / ground truth.
    pub recall: f64,
}

/// SPaT prediction error, seconds.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SpatError {
    /// Samples with a predicted and an actual change.
    pub samples: u64,
    /// Mean absolute error.
    pub mean_abs_s: f64,
    /// 95th percentile of the absolute error.
    pub p95_abs_s: f64,
    /// Largest absolute error.
    pub max_abs_s: f64,
    /// Actual change inside the predicted [min, max] window, fraction.
    pub within_window: f64,
}

/// What the run measured (`report.json`, before the motmetrics section is added).
#[derive(Debug, Clone, serde::Serialize)]
pub struct SumoReport {
    /// The SUMO configuration.
    pub sumocfg: String,
    /// The net file.
    pub net_file: String,
    /// The map version of the imported net.
    pub map_version: String,
    /// TL junctions in the net.
    pub tl_junctions_in_net: usize,
    /// Junctions with an RSU.
    pub junctions: Vec<JunctionInfo>,
    /// SUMO time of the first scored frame, s.
    pub t_start_s: f64,
    /// SUMO time of the last step, s.
    pub t_end_s: f64,
    /// Scoring radius, m.
    pub score_radius_m: f64,
    /// Match threshold, m.
    pub match_threshold_m: f64,
    /// corridor's scorer over all junctions (per-junction counts summed; IDF1 from summed
    /// identity true positives).
    pub overall: Scored,
    /// Per junction.
    pub per_junction: Vec<Scored>,
    /// Per class over all junctions (false positives cannot be attributed to a class: every
    /// track is counted against each class, so read FN, ID switches and recall here).
    pub per_class: Vec<Scored>,
    /// Capture -> vehicle latency p50, us.
    pub latency_p50_us: u64,
    /// Capture -> vehicle latency p99, us.
    pub latency_p99_us: u64,
    /// RSU ingest -> vehicle, p50, us.
    pub pipeline_p50_us: u64,
    /// RSU ingest -> vehicle, p99, us.
    pub pipeline_p99_us: u64,
    /// Capture -> vehicle latency histogram: (upper bound ms, count).
    pub latency_hist_ms: Vec<(f64, u64)>,
    /// States published by the RSUs.
    pub states_published: u64,
    /// States received by the vehicles.
    pub states_received: u64,
    /// Messages dropped anywhere.
    pub dropped: u64,
    /// By reason.
    pub drop_reasons: BTreeMap<String, u64>,
    /// SPaT error for fixed-time programmes.
    pub spat_fixed_time: SpatError,
    /// SPaT error for actuated and other programmes.
    pub spat_adaptive: SpatError,
    /// SUMO objects seen (streamed) during the run.
    pub sumo_objects: usize,
    /// Steps where SUMO or the sim thread fell behind real time by more than 50 ms, so the
    /// simulation clock slipped (the run then takes longer than `--seconds`).
    pub late_steps: u64,
    /// Cloud-control in the run: the published map (the imported network) and rules versions,
    /// what each RSU runs, events uploaded and acked.
    pub cloud: Option<crate::control::CloudReport>,
    /// The scripted control faults (`--faults`) and what they did.
    pub faults: Vec<crate::control::FaultRecord>,
    /// Objects the vehicles received within the scoring radius, and how many carried a lane id
    /// (RSUs match objects to the network's lanes), overall and per class.
    pub lane_matching: LaneMatching,
}

/// Lane-matching coverage of the received objects.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LaneMatching {
    /// Object reports (objects x states) within the scoring radius.
    pub objects: u64,
    /// Of those, with a lane id.
    pub with_lane: u64,
    /// `with_lane / objects`.
    pub fraction: f64,
    /// The same per class: `(objects, with_lane, fraction)`.
    pub per_class: BTreeMap<String, (u64, u64, f64)>,
}

impl LaneMatching {
    fn count(&mut self, class: &str, matched: bool) {
        self.objects += 1;
        self.with_lane += u64::from(matched);
        let e = self.per_class.entry(class.to_owned()).or_insert((0, 0, 0.0));
        e.0 += 1;
        e.1 += u64::from(matched);
    }

    fn finish(&mut self) {
        let f = |n: u64, d: u64| if d > 0 { n as f64 / d as f64 } else { 0.0 };
        self.fraction = f(self.with_lane, self.objects);
        for e in self.per_class.values_mut() {
            e.2 = f(e.1, e.0);
        }
    }
}

impl SumoReport {
    /// Prints a summary; the last line is `summary: ...`.
    pub fn print(&self) {
        for s in &self.per_junction {
            println!(
                "junction {:>3}: gt={} mota={:.3} idf1={:.3} motp_m={:.3} idsw={} fp={} fn={}",
                s.junction,
                s.score.gt,
                s.score.mota,
                s.score.idf1,
                s.score.motp_m,
                s.score.id_switches,
                s.score.false_positives,
                s.score.false_negatives
            );
        }
        for s in &self.per_class {
            println!(
                "class {:>10}: gt={} recall={:.3} idsw={} fn={}",
                s.class, s.score.gt, s.recall, s.score.id_switches, s.score.false_negatives
            );
        }
        println!(
            "spat: fixed_time n={} mean={:.3}s p95={:.3}s; adaptive n={} mean={:.3}s p95={:.3}s",
            self.spat_fixed_time.samples,
            self.spat_fixed_time.mean_abs_s,
            self.spat_fixed_time.p95_abs_s,
            self.spat_adaptive.samples,
            self.spat_adaptive.mean_abs_s,
            self.spat_adaptive.p95_abs_s
        );
        if let Some(c) = &self.cloud {
            println!(
                "cloud: published={} rsus_on_published={}/{} events_published={} acked={} lost={}",
                c.publishes,
                c.rsus_on_published,
                c.rsus.len(),
                c.events.published_live,
                c.events.uploaded_acked,
                c.events.lost
            );
        }
        for f in &self.faults {
            println!("{}", f.line());
        }
        println!(
            "lanes: objects={} with_lane={} fraction={:.3}",
            self.lane_matching.objects, self.lane_matching.with_lane, self.lane_matching.fraction
        );
        let s = &self.overall.score;
        println!(
            "summary: junctions={} objects={} mota={:.3} idf1={:.3} latency_p50_us={} latency_p99_us={} dropped={}",
            self.junctions.len(),
            s.gt_ids,
            s.mota,
            s.idf1,
            self.latency_p50_us,
            self.latency_p99_us,
            self.dropped
        );
    }
}

/// The interpreter: `CORRIDOR_PYTHON`, else the repository's `.venv/bin/python`, else `python3`.
pub fn default_python() -> PathBuf {
    if let Some(p) = std::env::var_os("CORRIDOR_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("python3")
}

fn intersection_name(index: usize, id: &str) -> String {
    let clean: String =
        id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    let mut s = format!("j{index}-{clean}");
    s.truncate(60);
    s
}

struct Driver {
    child: Child,
    lines: BufReader<ChildStdout>,
}

impl Driver {
    fn next_line(&mut self) -> anyhow::Result<Option<Line>> {
        let mut buf = String::new();
        if self.lines.read_line(&mut buf).context("reading the SUMO driver's output")? == 0 {
            return Ok(None);
        }
        serde_json::from_str(&buf).map(Some).with_context(|| {
            format!(
                "the SUMO driver wrote a line that is not the protocol: {}",
                buf.chars().take(200).collect::<String>()
            )
        })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Latency histograms shared by the vehicles' callbacks.
struct Latencies {
    capture: Histogram<u64>,
    pipeline: Histogram<u64>,
    received: u64,
}

/// One signals.csv row.
#[derive(Debug, Clone)]
struct SignalRow {
    t: f64,
    junction: usize,
    controller: String,
    group: u16,
    code: u8,
    min_ttc: Option<f64>,
    max_ttc: Option<f64>,
    likely_ttc: Option<f64>,
    fixed: bool,
}

/// Runs the co-simulation, writes every output and returns the report.
pub async fn run_sumo(cfg: SumoConfig) -> anyhow::Result<SumoReport> {
    anyhow::ensure!(cfg.sumocfg.is_file(), "--sumocfg {}: no such file", cfg.sumocfg.display());
    std::fs::create_dir_all(&cfg.out).with_context(|| format!("creating {}", cfg.out.display()))?;
    let out = cfg.out.canonicalize()?;
    let scripts = out.join(".scripts");
    std::fs::create_dir_all(&scripts)?;
    std::fs::write(scripts.join("sumo_driver.py"), DRIVER)?;
    std::fs::write(scripts.join("sumo_report.py"), REPORT)?;

    // the driver
    let log = std::fs::File::create(out.join("sumo.log"))?;
    let mut cmd = Command::new(&cfg.python);
    cmd.arg(scripts.join("sumo_driver.py"))
        .arg("--sumocfg")
        .arg(&cfg.sumocfg)
        .arg("--seconds")
        .arg(format!("{}", cfg.seconds + SETTLE_S))
        .arg("--warmup")
        .arg(format!("{}", cfg.warmup_s))
        .arg("--seed")
        .arg(format!("{}", cfg.seed % 1_000_000));
    if cfg.copy_scenario {
        cmd.arg("--sandbox").arg(out.join("scenario"));
    }
    if let Some(b) = cfg.begin {
        cmd.arg("--begin").arg(format!("{b}"));
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .with_context(|| format!("starting the SUMO driver with {}", cfg.python.display()))?;
    let stdout = child.stdout.take().context("driver stdout")?;
    let mut stdin = child.stdin.take().context("driver stdin")?;
    let mut driver = Driver { child, lines: BufReader::with_capacity(1 << 20, stdout) };
    let meta = match driver.next_line()? {
        Some(Line::Meta(m)) => *m,
        Some(other) => bail!("the SUMO driver's first line is not meta: {other:?}"),
        None => bail!("the SUMO driver exited before starting; see {}", out.join("sumo.log").display()),
    };

    // the map and the junctions
    let imported = corridor_hdmap::load_path(&meta.net_file, &Default::default())
        .with_context(|| format!("importing {}", meta.net_file))?;
    let map = imported.map;
    let net_pos: HashMap<&str, (f64, f64)> = meta.junctions.iter().map(|j| (j.id.as_str(), (j.x, j.y))).collect();
    let mut tl: Vec<&corridor_hdmap::Junction> =
        map.junctions.iter().filter(|j| j.kind.starts_with("traffic_light")).collect();
    tl.sort_by(|a, b| a.id.cmp(&b.id));
    let tl_in_net = tl.len();
    let mut junctions = Vec::new();
    for j in tl {
        let Some(&(x, y)) = net_pos.get(j.id.as_str()) else {
            tracing::warn!(junction = %j.id, "traffic-light junction unknown to SUMO; skipped");
            continue;
        };
        if let Some([x0, y0, x1, y1]) = cfg.bbox {
            if !(x0..=x1).contains(&x) || !(y0..=y1).contains(&y) {
                continue;
            }
        }
        if cfg.max_junctions.is_some_and(|k| junctions.len() >= k) {
            break;
        }
        let mut groups: Vec<(String, u16)> = map
            .signal_groups
            .iter()
            .filter(|g| g.junctions.contains(&j.id))
            .map(|g| (g.signal.controller.clone(), g.signal.group.0))
            .collect();
        groups.sort();
        groups.dedup();
        let index = junctions.len();
        junctions.push(JunctionInfo {
            index,
            id: j.id.clone(),
            intersection: intersection_name(index, &j.id),
            x,
            y,
            groups,
        });
    }
    if junctions.is_empty() {
        bail!("{}: no traffic-light junction to place an RSU at (after --bbox / --max-junctions)", meta.net_file);
    }
    let faults = match &cfg.faults {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("--faults {}", p.display()))?;
            let ids: Vec<String> = junctions.iter().map(|j| j.id.clone()).collect();
            crate::scenario::parse_control_faults(&p.display().to_string(), &text, &ids)?
        }
        None => Vec::new(),
    };
    let centres: Vec<Vector2<f64>> = junctions.iter().map(|j| Vector2::new(j.x, j.y)).collect();
    let sel = serde_json::json!({
        "centres": centres.iter().map(|c| [c.x, c.y]).collect::<Vec<_>>(),
        "radius": STREAM_RADIUS_M,
    });
    writeln!(stdin, "{sel}").context("writing the junction selection to the SUMO driver")?;
    stdin.flush()?;

    // zenoh: the hub, one RSU and one vehicle per junction
    let region = RegionId::new("sumo")?;
    let port = presets::free_loopback_port().context("binding a loopback port")?;
    let hub_ep = presets::loopback_tcp(port);
    let hub = zenoh::open(presets::peer(std::slice::from_ref(&hub_ep), &[])?)
        .await
        .map_err(|e| anyhow::anyhow!("opening the hub zenoh session on {hub_ep}: {e}"))?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let layout = default_layout();
    let map_version = map.version();

    // cloud-control in-process: the imported network is each intersection's map bundle, with
    // the given rules or a generated default; every RSU fetches both from it
    let net_bytes = std::fs::read(&meta.net_file).with_context(|| format!("reading {}", meta.net_file))?;
    let net_name = Path::new(&meta.net_file)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| anyhow::anyhow!("{}: no file name", meta.net_file))?;
    let rules = match &cfg.rules {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("--rules {}", p.display()))?;
            let name = p.file_name().map_or_else(|| "rules.toml".into(), |n| n.to_string_lossy().into_owned());
            (name, text)
        }
        None => {
            let stem = net_name.trim_end_matches(".gz").trim_end_matches(".net.xml");
            let text = frame::default_rules(&map, stem);
            std::fs::write(out.join("rules.toml"), &text)?;
            ("rules.toml".to_owned(), text)
        }
    };
    let scratch = out.join(".control");
    let _ = std::fs::remove_dir_all(&scratch);
    let mut plane = Plane::new(&hub, region.clone(), Arc::clone(&clock), scratch.clone(), true).await?;
    let map_file = (net_name, net_bytes);
    for j in &junctions {
        plane.publish(publish_request(&j.intersection, &map_file, Some(&rules))?).with_context(|| {
            format!(
                "the cloud refused the network {} with these rules (--rules, or the generated default)",
                meta.net_file
            )
        })?;
    }
    // RSUs track in the map's frame (so they match lanes): their poles are placed through each
    // junction's net -> map similarity
    let map_centre: HashMap<&str, Vector2<f64>> =
        map.junctions.iter().map(|j| (j.id.as_str(), Vector2::new(j.centre_m[0], j.centre_m[1]))).collect();
    let pairs: Vec<(Vector2<f64>, Vector2<f64>)> = meta
        .junctions
        .iter()
        .filter_map(|j| map_centre.get(j.id.as_str()).map(|m| (Vector2::new(j.x, j.y), *m)))
        .collect();
    let mut net_frames = Vec::new();
    for j in &junctions {
        let c = Vector2::new(j.x, j.y);
        let m = *map_centre.get(j.id.as_str()).ok_or_else(|| anyhow::anyhow!("junction {} not in the map", j.id))?;
        let f = frame::NetToMap::fit(c, m, &pairs);
        let cfg = rsu_config(
            &region,
            &format!("rsu-{}", j.index),
            &j.intersection,
            map_version,
            sensor_sections(&layout, |p, yaw| (f.to_map(c + p), yaw + f.rotation()))?,
            Some(scratch.join(format!("rsu-{}", j.index))),
            &hub_ep,
        )?;
        plane.add_rsu(cfg).await.map_err(|e| anyhow::anyhow!("RSU {}: {e}", j.id))?;
        net_frames.push(f);
    }
    let latencies = Arc::new(Mutex::new(Latencies {
        capture: Histogram::new_with_bounds(1, 60_000_000, 3)?,
        pipeline: Histogram::new_with_bounds(1, 60_000_000, 3)?,
        received: 0,
    }));
    let observed: Arc<Vec<Mutex<Vec<StateUpdate>>>> =
        Arc::new((0..junctions.len()).map(|_| Mutex::new(Vec::new())).collect());
    let mut vehicles = Vec::new();
    for j in &junctions {
        let lat = Arc::clone(&latencies);
        let obs = Arc::clone(&observed);
        let k = j.index;
        let callback: corridor_sdk::StateCallback = Arc::new(move |u: &StateUpdate| {
            let capture_us = (u.latency_s() * 1e6).max(1.0) as u64;
            let pipeline_us = (u.received_at.secs_since(u.state.ingest_time) * 1e6).max(1.0) as u64;
            let mut l = lat.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = l.capture.record(capture_us.min(60_000_000));
            let _ = l.pipeline.record(pipeline_us.min(60_000_000));
            l.received += 1;
            drop(l);
            if let Some(m) = obs.get(k) {
                m.lock().unwrap_or_else(PoisonError::into_inner).push(u.clone());
            }
        });
        let session = zenoh::open(presets::peer(&[], std::slice::from_ref(&hub_ep))?)
            .await
            .map_err(|e| anyhow::anyhow!("vehicle {}: {e}", j.id))?;
        vehicles.push(
            Vehicle::with_session(
                session,
                region.clone(),
                vec![IntersectionId::new(&j.intersection)?],
                Arc::clone(&clock),
                Some(callback),
            )
            .await
            .map_err(|e| anyhow::anyhow!("vehicle {}: {e}", j.id))?,
        );
    }
    let mut det_pubs = Vec::new();
    let mut sig_pubs = Vec::new();
    let mut sensors = Vec::new();
    let mut sensor_rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x5e45_0123);
    for j in &junctions {
        let rsu = RsuId::new(format!("rsu-{}", j.index))?;
        for (id, profile, ext) in &layout {
            let sensor = SensorId::new(id)?;
            let key = Key::Detections { region: region.clone(), rsu: rsu.clone(), sensor: sensor.clone() };
            det_pubs.push(presets::declare_publisher(&hub, &key).await.map_err(|e| anyhow::anyhow!("{key}: {e}"))?);
            sensors.push((j.index, SimSensor::new(sensor, profile.clone(), *ext, centres[j.index], &mut sensor_rng)));
        }
        let key = Key::Signals { region: region.clone(), rsu };
        sig_pubs.push(presets::declare_publisher(&hub, &key).await.map_err(|e| anyhow::anyhow!("{key}: {e}"))?);
    }
    // let gossip connect the peers before traffic starts
    tokio::time::sleep(Duration::from_millis(800)).await;

    let sim = SimInput {
        driver,
        meta: meta.clone(),
        junctions: junctions.clone(),
        centres: centres.clone(),
        sensors,
        det_pubs,
        sig_pubs,
        rng: sensor_rng,
        clock: Arc::clone(&clock),
        progress: cfg.progress,
        stats: Arc::clone(&latencies),
    };
    // the control faults, timed from the sensors' start
    let plane = Arc::new(tokio::sync::Mutex::new(plane));
    let faults_stop = Arc::new(AtomicBool::new(false));
    let faults_start = clock.now();
    let fault_task = spawn_faults(
        Arc::clone(&plane),
        &faults,
        true,
        |id| junctions.iter().position(|j| j.id == id),
        faults_start,
        Arc::clone(&clock),
        Arc::clone(&faults_stop),
    )?;
    let handle = std::thread::Builder::new().name("sumo-sim".into()).spawn(move || run_sim(sim))?;
    let sim_out = tokio::task::spawn_blocking(move || handle.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the simulation thread panicked"))??;
    drop(stdin);
    faults_stop.store(true, Ordering::Relaxed);
    let mut fault_records = fault_task.await.context("the fault task failed")?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let plane = Arc::try_unwrap(plane).map_err(|_| anyhow::anyhow!("the control plane is still shared"))?.into_inner();

    // drops and latencies; the cloud acks what the outboxes still hold
    if !plane.drain_events(Duration::from_secs(15)).await {
        tracing::warn!(queued = plane.events_queued(), "events still queued 15 s after the run");
    }
    let states_published = plane.states_published();
    let mut drop_reasons = plane.drop_reasons();
    for v in &vehicles {
        for (k, n) in v.stats().dropped {
            *drop_reasons.entry(format!("sdk:{k}")).or_insert(0) += n;
        }
    }
    let cloud = plane.cloud_report();
    let observed: Vec<Vec<StateUpdate>> =
        observed.iter().map(|m| std::mem::take(&mut *m.lock().unwrap_or_else(PoisonError::into_inner))).collect();
    finish_faults(&mut fault_records, &plane, &observed.iter().flatten().collect::<Vec<_>>(), faults_start);
    plane.shutdown().await;
    let _ = std::fs::remove_dir_all(&scratch);
    drop(vehicles);
    drop(hub);

    // tracks at each scored tick
    let first_frame = ((sim_out.t_start + SETTLE_S) / 0.1).round() as i64;
    let frames: Vec<(i64, Timestamp)> = sim_out.frames.iter().copied().filter(|f| f.0 >= first_frame).collect();
    let gt: Vec<MotRow> = sim_out.gt.into_iter().filter(|r| r.frame as i64 >= first_frame).collect();
    let mut tracks = Vec::new();
    let mut lanes = LaneMatching::default();
    for (k, list) in observed.iter().enumerate() {
        let first = frames.first().map(|f| f.1);
        for u in list.iter().filter(|u| first.is_some_and(|t| u.received_at >= t)) {
            for o in &u.state.objects {
                let p = net_frames[k].to_net(Vector2::new(o.position_m.x, o.position_m.y));
                if (p - centres[k]).norm() <= SCORE_RADIUS_M {
                    lanes.count(o.class.as_str(), o.lane.is_some());
                }
            }
        }
        tracks.extend(tracks_at_ticks(list, k, &net_frames[k], centres[k], &frames));
    }
    lanes.finish();
    let mut report = assemble(
        &cfg,
        &meta,
        map_version.to_hex(),
        tl_in_net,
        &junctions,
        &gt,
        &tracks,
        &sim_out.signals,
        &latencies,
        states_published,
        drop_reasons,
        first_frame as f64 * 0.1,
        sim_out.t_end,
        sim_out.objects,
        sim_out.late_steps,
    );
    report.cloud = cloud;
    report.faults = fault_records;
    report.lane_matching = lanes;

    std::fs::write(out.join("gt.csv"), to_csv(&gt))?;
    std::fs::write(out.join("tracks.csv"), to_csv(&tracks))?;
    let mut jcsv = String::from("index,id,intersection,x,y\n");
    for j in &junctions {
        jcsv.push_str(&format!("{},{},{},{:.3},{:.3}\n", j.index, j.id, j.intersection, j.x, j.y));
    }
    std::fs::write(out.join("junctions.csv"), jcsv)?;
    std::fs::write(out.join("signals.csv"), signals_csv(&sim_out.signals, &junctions, meta.step))?;
    std::fs::write(out.join("report.json"), serde_json::to_vec_pretty(&report)?)?;
    if cfg.html {
        let status = Command::new(&cfg.python)
            .arg(scripts.join("sumo_report.py"))
            .arg(&out)
            .status()
            .with_context(|| format!("running sumo_report.py with {}", cfg.python.display()))?;
        anyhow::ensure!(status.success(), "sumo_report.py failed ({status})");
    }
    Ok(report)
}

struct SimInput {
    driver: Driver,
    meta: Meta,
    junctions: Vec<JunctionInfo>,
    centres: Vec<Vector2<f64>>,
    sensors: Vec<(usize, SimSensor)>,
    det_pubs: Vec<zenoh::pubsub::Publisher<'static>>,
    sig_pubs: Vec<zenoh::pubsub::Publisher<'static>>,
    rng: ChaCha8Rng,
    clock: Arc<dyn Clock>,
    progress: bool,
    stats: Arc<Mutex<Latencies>>,
}

struct SimOutput {
    t_start: f64,
    t_end: f64,
    /// Every step: (frame, the UTC time it was simulated at).
    frames: Vec<(i64, Timestamp)>,
    gt: Vec<MotRow>,
    signals: Vec<SignalRow>,
    objects: usize,
    late_steps: u64,
}

type Snapshot = (f64, HashMap<u64, Agent>);

/// The sim thread: reads SUMO steps, runs the sensors at 10 ms between them (objects
/// interpolated), publishes detections and signals paced to real time, records ground truth.
fn run_sim(mut s: SimInput) -> anyhow::Result<SimOutput> {
    let programmes: HashMap<(String, String), Programme> = s
        .meta
        .tls
        .iter()
        .flat_map(|(tid, t)| t.programs.iter().map(move |(pid, p)| ((tid.clone(), pid.clone()), p.programme())))
        .collect();
    let mut ids: HashMap<String, u64> = HashMap::new();
    let mut pending: Vec<(Timestamp, usize, Vec<u8>)> = Vec::new();
    let mut gt = Vec::new();
    let mut frames = Vec::new();
    let mut signals = Vec::new();
    let mut late_steps = 0u64;
    let mut prev: Option<Snapshot> = None;
    let mut t0 = s.clock.now();
    let mut t_start = s.meta.start;
    let mut t_end = s.meta.start;
    let mut steps = 0u64;
    let r2 = STREAM_RADIUS_M * STREAM_RADIUS_M;
    loop {
        let Some(line) = s.driver.next_line()? else {
            tracing::warn!("the SUMO driver stopped without an end line; see sumo.log");
            break;
        };
        let (t, objs, tls) = match line {
            Line::Step { t, o, s } => (t, o, s),
            Line::End { .. } => break,
            Line::Meta(_) => bail!("a second meta line from the SUMO driver"),
        };
        let mut cur: HashMap<u64, Agent> = HashMap::with_capacity(objs.len());
        for raw in &objs {
            let next_id = ids.len() as u64 + 1;
            let id = *ids.entry(raw.0.clone()).or_insert(next_id);
            cur.insert(id, agent_of(raw, id));
        }
        let Some((t_prev, prev_agents)) = prev.take() else {
            // first step: t0 maps SUMO time to UTC
            t0 = s.clock.now().add_secs_f64(-t);
            t_start = t;
            prev = Some((t, cur));
            continue;
        };
        // when SUMO (or this machine) cannot keep up with real time, slip: re-anchor t0 so the
        // sensors capture "now" instead of publishing frames that are already too old
        let lag = s.clock.now().secs_since(t0.add_secs_f64(t_prev));
        if lag > SLIP_S {
            t0 = t0.add_secs_f64(lag);
            late_steps += 1;
        }
        // sensors between the previous step and this one
        let span = (t - t_prev).max(1e-6);
        let ticks = (span / DT_S).round().max(1.0) as usize;
        for i in 1..=ticks {
            let tau = t_prev + span * i as f64 / ticks as f64;
            let alpha = (tau - t_prev) / span;
            let due = t0.add_secs_f64(tau);
            let now = s.clock.now();
            if due > now {
                std::thread::sleep(Duration::from_nanos(due.nanos_since(now) as u64));
            }
            if s.sensors.iter().any(|(_, sn)| tau + 1e-9 >= sn.next_capture_s) {
                let agents: Vec<Agent> =
                    cur.iter().filter_map(|(id, b)| prev_agents.get(id).map(|a| interpolate(a, b, alpha))).collect();
                let near: Vec<Vec<Agent>> = s
                    .centres
                    .iter()
                    .map(|c| agents.iter().filter(|a| (a.position - c).norm_squared() <= r2).cloned().collect())
                    .collect();
                for (i, (k, sensor)) in s.sensors.iter_mut().enumerate() {
                    if tau + 1e-9 >= sensor.next_capture_s {
                        let (frame, latency_s) = sensor.capture(&near[*k], tau, t0, &mut s.rng);
                        let header = Header::new(
                            PayloadKind::Detections,
                            sensor.id.as_str(),
                            frame.frame_seq,
                            frame.capture_time,
                            frame.capture_time,
                        );
                        match encode(&header, &frame) {
                            Ok(bytes) => pending.push((t0.add_secs_f64(tau + latency_s), i, bytes)),
                            Err(e) => tracing::error!(sensor = %sensor.id, junction = k, error = %e, "encode failed"),
                        }
                    }
                }
            }
            let now = s.clock.now();
            pending.sort_by_key(|p| p.0);
            let ready = pending.iter().take_while(|p| p.0 <= now).count();
            for (_, i, bytes) in pending.drain(..ready) {
                if let Err(e) = s.det_pubs[i].put(bytes).wait() {
                    tracing::warn!(error = %e, "detection publish failed");
                }
            }
        }
        // the step itself: signals and ground truth
        let frame = (t / 0.1).round() as i64;
        frames.push((frame, t0.add_secs_f64(t)));
        for (k, j) in s.junctions.iter().enumerate() {
            let mut groups = Vec::new();
            for (ctl, g) in &j.groups {
                let Some(row) = signal_row(&programmes, tls.get(ctl), ctl, *g, k, t) else { continue };
                let at = |x: Option<f64>| x.map(|d| t0.add_secs_f64(t + d));
                groups.push(SignalGroupState {
                    id: SignalGroupId(*g),
                    state: spat::phase_state(row.code),
                    timing: row.min_ttc.map(|m| TimeChangeDetails {
                        min_end: t0.add_secs_f64(t + m),
                        max_end: at(row.max_ttc),
                        likely_end: at(row.likely_ttc),
                        confidence: if row.fixed { 1.0 } else { 0.5 },
                    }),
                });
                signals.push(row);
            }
            let sf = SignalFrame { time: t0.add_secs_f64(t), groups };
            let header = Header::new(PayloadKind::Signals, "signal-ctl", frame as u64, sf.time, sf.time);
            match encode(&header, &sf) {
                Ok(bytes) => {
                    if let Err(e) = s.sig_pubs[k].put(bytes).wait() {
                        tracing::warn!(error = %e, "signal publish failed");
                    }
                }
                Err(e) => tracing::error!(junction = %j.id, error = %e, "signal encode failed"),
            }
        }
        let mut ids_sorted: Vec<&u64> = cur.keys().collect();
        ids_sorted.sort();
        for id in ids_sorted {
            let a = &cur[id];
            if s.centres.iter().any(|c| (a.position - c).norm() <= SCORE_RADIUS_M) {
                let v = a.velocity();
                gt.push(MotRow {
                    frame: frame as u64,
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
        t_end = t;
        steps += 1;
        if s.progress && steps.is_multiple_of(50) {
            let l = s.stats.lock().unwrap_or_else(PoisonError::into_inner);
            let (p50, received) = (l.capture.value_at_quantile(0.5), l.received);
            drop(l);
            eprint!(
                "\r  t={:7.1}s ({:5.1}/{:.0}s)  objects={:4}  states received={:7}  capture->vehicle p50={:6.1} ms ",
                t,
                t - t_start,
                s.meta.end - t_start,
                cur.len(),
                received,
                p50 as f64 / 1000.0
            );
            let _ = std::io::stderr().flush();
        }
        prev = Some((t, cur));
    }
    if s.progress {
        eprintln!();
    }
    // the last frames still in flight
    let now = s.clock.now();
    for (due, i, bytes) in pending.drain(..) {
        if due > now.add_secs_f64(0.2) {
            continue;
        }
        let _ = s.det_pubs[i].put(bytes).wait();
    }
    Ok(SimOutput { t_start, t_end, frames, gt, signals, objects: ids.len(), late_steps })
}

fn signal_row(
    programmes: &HashMap<(String, String), Programme>,
    raw: Option<&RawTls>,
    ctl: &str,
    group: u16,
    junction: usize,
    t: f64,
) -> Option<SignalRow> {
    let (prog_id, phase, state, next_switch, spent) = raw?;
    let state = state.as_bytes();
    let code = *state.get(usize::from(group))?;
    let now = Now { t_s: t, phase: *phase, next_switch_s: *next_switch, spent_s: *spent };
    let timing = programmes
        .get(&(ctl.to_owned(), prog_id.clone()))
        .and_then(|p| group_timing(p, now, state, usize::from(group)).map(|g| (g, p.is_fixed_time())));
    Some(match timing {
        Some((g, fixed)) => SignalRow {
            t,
            junction,
            controller: ctl.to_owned(),
            group,
            code,
            min_ttc: Some(g.min_end_s - t),
            max_ttc: g.max_end_s.map(|e| e - t),
            likely_ttc: g.likely_end_s.map(|e| e - t),
            fixed,
        },
        None => SignalRow {
            t,
            junction,
            controller: ctl.to_owned(),
            group,
            code,
            min_ttc: None,
            max_ttc: None,
            likely_ttc: Some(next_switch - t),
            fixed: false,
        },
    })
}

/// For each signals row, the actual time to the group's next change (None when the run ends
/// first). SUMO executes a switch due at `T` at the start of the step from `T` and its state
/// query shows the new state from `T + step` on, so the switch time is the first step showing
/// the new state minus one step.
fn actual_ttc(rows: &[SignalRow], step_s: f64) -> Vec<Option<f64>> {
    let mut out = vec![None; rows.len()];
    let mut by_group: BTreeMap<(usize, &str, u16), Vec<usize>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        by_group.entry((r.junction, r.controller.as_str(), r.group)).or_default().push(i);
    }
    for idx in by_group.values() {
        let mut next_change: Option<f64> = None;
        for w in (0..idx.len()).rev() {
            let r = &rows[idx[w]];
            if let Some(&n) = idx.get(w + 1) {
                if rows[n].code != r.code {
                    next_change = Some(rows[n].t - step_s);
                }
            }
            out[idx[w]] = next_change.map(|c| c - r.t);
        }
    }
    out
}

fn spat_error(rows: &[SignalRow], actual: &[Option<f64>], fixed: bool) -> SpatError {
    let mut errs = Vec::new();
    let mut within = 0u64;
    for (r, a) in rows.iter().zip(actual) {
        if r.fixed != fixed {
            continue;
        }
        if let (Some(p), Some(a)) = (r.likely_ttc, a) {
            errs.push((p - a).abs());
            if r.min_ttc.is_some_and(|m| m <= a + 1e-6) && r.max_ttc.is_some_and(|m| a - 1e-6 <= m) {
                within += 1;
            }
        }
    }
    if errs.is_empty() {
        return SpatError::default();
    }
    errs.sort_by(f64::total_cmp);
    let n = errs.len();
    SpatError {
        samples: n as u64,
        mean_abs_s: errs.iter().sum::<f64>() / n as f64,
        p95_abs_s: errs[((n as f64 * 0.95).ceil() as usize).clamp(1, n) - 1],
        max_abs_s: errs[n - 1],
        within_window: within as f64 / n as f64,
    }
}

fn signals_csv(rows: &[SignalRow], junctions: &[JunctionInfo], step_s: f64) -> String {
    let actual = actual_ttc(rows, step_s);
    let f = |x: Option<f64>| x.map(|v| format!("{v:.3}")).unwrap_or_default();
    let mut s =
        String::from("time,junction,controller,group,state,min_ttc,max_ttc,predicted_ttc,actual_ttc,fixed_time\n");
    for (r, a) in rows.iter().zip(actual) {
        let j = junctions.get(r.junction).map(|j| j.id.as_str()).unwrap_or("?");
        s.push_str(&format!(
            "{:.2},{},{},{},{},{},{},{},{},{}\n",
            r.t,
            j,
            r.controller,
            r.group,
            r.code as char,
            f(r.min_ttc),
            f(r.max_ttc),
            f(r.likely_ttc),
            f(a),
            u8::from(r.fixed)
        ));
    }
    s
}

/// What junction `k`'s vehicle knew at each tick: the latest state received by then, its
/// objects predicted to the tick, within the scoring radius, in net coordinates.
fn tracks_at_ticks(
    observed: &[StateUpdate],
    k: usize,
    to_net: &frame::NetToMap,
    centre: Vector2<f64>,
    frames: &[(i64, Timestamp)],
) -> Vec<MotRow> {
    let mut rows = Vec::new();
    let mut i = 0usize;
    // track ids restart with the RSU: the vehicle knows (Continuity::Restart), so ids published
    // after the e-th restart are scored as new tracks (crate::demo::RESTART_ID_STRIDE)
    let mut epoch = 0u64;
    for &(frame, t) in frames {
        while i < observed.len() && observed[i].received_at <= t {
            epoch += u64::from(observed[i].continuity == corridor_sdk::Continuity::Restart);
            i += 1;
        }
        let Some(u) = i.checked_sub(1).and_then(|x| observed.get(x)) else { continue };
        let dt = t.secs_since(u.state.capture_time);
        if !(0.0..=1.0).contains(&dt) {
            continue; // older than a second: stale, a vehicle would not use it
        }
        // the RSU tracks in the map's frame: positions and velocities back to net coordinates
        rows.extend(u.state.objects.iter().filter_map(|o| {
            let mut net = o.clone();
            let p = to_net.to_net(Vector2::new(o.position_m.x, o.position_m.y));
            let v = to_net.vec_to_net(Vector2::new(o.velocity_mps.x, o.velocity_mps.y));
            (net.position_m.x, net.position_m.y) = (p.x, p.y);
            (net.velocity_mps.x, net.velocity_mps.y) = (v.x, v.y);
            crate::demo::object_row(&net, frame as u64, k, dt, Vector2::zeros(), centre, SCORE_RADIUS_M)
                .map(|r| MotRow { id: r.id + epoch * crate::demo::RESTART_ID_STRIDE, ..r })
        }));
    }
    rows
}

fn scored(junction: &str, class: &str, s: MotScore) -> Scored {
    let recall = if s.gt > 0 { s.matches as f64 / s.gt as f64 } else { 0.0 };
    Scored { junction: junction.to_owned(), class: class.to_owned(), score: s, recall }
}

/// Sums per-junction scores: counts add up, MOTA and MOTP from the sums, IDF1 from the summed
/// identity true positives (what py-motmetrics' overall row does).
fn sum_scores(parts: &[MotScore]) -> MotScore {
    let mut s = MotScore::default();
    let (mut idtp2, mut ids_denom, mut dist) = (0.0, 0.0, 0.0);
    for p in parts {
        s.gt += p.gt;
        s.matches += p.matches;
        s.false_negatives += p.false_negatives;
        s.false_positives += p.false_positives;
        s.id_switches += p.id_switches;
        s.gt_ids += p.gt_ids;
        s.gt_ids_matched += p.gt_ids_matched;
        s.track_ids += p.track_ids;
        let rows = (p.gt + p.matches + p.false_positives) as f64; // gt rows + track rows
        idtp2 += p.idf1 * rows;
        ids_denom += rows;
        dist += p.motp_m * p.matches as f64;
    }
    s.mota =
        if s.gt > 0 { 1.0 - (s.false_negatives + s.false_positives + s.id_switches) as f64 / s.gt as f64 } else { 0.0 };
    s.motp_m = if s.matches > 0 { dist / s.matches as f64 } else { 0.0 };
    s.idf1 = if ids_denom > 0.0 { idtp2 / ids_denom } else { 0.0 };
    s
}

#[allow(clippy::too_many_arguments)]
fn assemble(
    cfg: &SumoConfig,
    meta: &Meta,
    map_version: String,
    tl_in_net: usize,
    junctions: &[JunctionInfo],
    gt: &[MotRow],
    tracks: &[MotRow],
    signals: &[SignalRow],
    latencies: &Mutex<Latencies>,
    states_published: u64,
    drop_reasons: BTreeMap<String, u64>,
    t_start_s: f64,
    t_end_s: f64,
    objects: usize,
    late_steps: u64,
) -> SumoReport {
    let mut per_junction = Vec::new();
    let mut parts = Vec::new();
    let mut class_parts: BTreeMap<&'static str, Vec<MotScore>> = BTreeMap::new();
    for j in junctions {
        let c = Vector2::new(j.x, j.y);
        let g: Vec<MotRow> =
            gt.iter().filter(|r| (Vector2::new(r.x, r.y) - c).norm() <= SCORE_RADIUS_M).cloned().collect();
        let t: Vec<MotRow> = tracks.iter().filter(|r| r.id / 10_000_000 == j.index as u64).cloned().collect();
        let s = score(&g, &t, MATCH_THRESHOLD_M);
        per_junction.push(scored(&j.id, "all", s.clone()));
        parts.push(s);
        for class in ObjectClass::ALL {
            let gc: Vec<MotRow> = g.iter().filter(|r| r.class == class.as_str()).cloned().collect();
            if !gc.is_empty() {
                class_parts.entry(class.as_str()).or_default().push(score(&gc, &t, MATCH_THRESHOLD_M));
            }
        }
    }
    let per_class = class_parts.iter().map(|(c, p)| scored("all", c, sum_scores(p))).collect();
    let actual = actual_ttc(signals, meta.step);
    let l = latencies.lock().unwrap_or_else(PoisonError::into_inner);
    let mut hist = Vec::new();
    for v in l.capture.iter_linear(5_000) {
        if v.count_since_last_iteration() > 0 {
            hist.push((v.value_iterated_to() as f64 / 1000.0, v.count_since_last_iteration()));
        }
    }
    let dropped = drop_reasons.values().sum();
    SumoReport {
        sumocfg: cfg.sumocfg.display().to_string(),
        net_file: meta.net_file.clone(),
        map_version,
        tl_junctions_in_net: tl_in_net,
        junctions: junctions.to_vec(),
        t_start_s,
        t_end_s,
        score_radius_m: SCORE_RADIUS_M,
        match_threshold_m: MATCH_THRESHOLD_M,
        overall: scored("all", "all", sum_scores(&parts)),
        per_junction,
        per_class,
        latency_p50_us: l.capture.value_at_quantile(0.5),
        latency_p99_us: l.capture.value_at_quantile(0.99),
        pipeline_p50_us: l.pipeline.value_at_quantile(0.5),
        pipeline_p99_us: l.pipeline.value_at_quantile(0.99),
        latency_hist_ms: hist,
        states_published,
        states_received: l.received,
        dropped,
        drop_reasons,
        spat_fixed_time: spat_error(signals, &actual, true),
        spat_adaptive: spat_error(signals, &actual, false),
        sumo_objects: objects,
        late_steps,
        cloud: None,
        faults: Vec::new(),
        lane_matching: LaneMatching::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn srow(t: f64, code: u8, likely: f64) -> SignalRow {
        SignalRow {
            t,
            junction: 0,
            controller: "A".into(),
            group: 0,
            code,
            min_ttc: Some(likely),
            max_ttc: Some(likely),
            likely_ttc: Some(likely),
            fixed: true,
        }
    }

    #[test]
    fn actual_time_to_change_and_spat_error() {
        // green until 3 (shown red from the step after, 4): exact until t=1, 0.5 s off at t=2
        let rows = vec![srow(0.0, b'G', 3.0), srow(1.0, b'G', 2.0), srow(2.0, b'G', 1.5), srow(4.0, b'r', 9.0)];
        let a = actual_ttc(&rows, 1.0);
        assert_eq!(a, vec![Some(3.0), Some(2.0), Some(1.0), None]);
        let e = spat_error(&rows, &a, true);
        assert_eq!(e.samples, 3);
        assert!((e.mean_abs_s - 0.5 / 3.0).abs() < 1e-9);
        assert!((e.max_abs_s - 0.5).abs() < 1e-9);
        assert_eq!(spat_error(&rows, &a, false).samples, 0);
    }

    #[test]
    fn summed_scores_match_scoring_the_union_when_junctions_are_disjoint() {
        let row = |f: u64, id: u64, x: f64| MotRow {
            frame: f,
            id,
            x,
            y: 0.0,
            z: 0.0,
            vx: 0.0,
            vy: 0.0,
            class: "car",
            confidence: 1.0,
        };
        let g1: Vec<MotRow> = (0..10).map(|f| row(f, 1, 0.0)).collect();
        let t1: Vec<MotRow> = (0..10).filter(|f| *f != 4).map(|f| row(f, 7, 0.5)).collect();
        let g2: Vec<MotRow> = (0..10).map(|f| row(f, 2, 500.0)).collect();
        let t2: Vec<MotRow> = (0..10).map(|f| row(f, if f < 5 { 8 } else { 9 }, 500.0)).collect();
        let sum = sum_scores(&[score(&g1, &t1, 2.0), score(&g2, &t2, 2.0)]);
        let all = score(&[g1, g2].concat(), &[t1, t2].concat(), 2.0);
        assert!((sum.mota - all.mota).abs() < 1e-12);
        assert!((sum.idf1 - all.idf1).abs() < 1e-12, "{} {}", sum.idf1, all.idf1);
        assert!((sum.motp_m - all.motp_m).abs() < 1e-12);
    }

    #[test]
    fn intersection_names_are_key_safe() {
        let n = intersection_name(3, "cluster_123#4:5");
        assert_eq!(n, "j3-cluster_123_4_5");
        assert!(IntersectionId::new(intersection_name(1, &"x".repeat(200))).is_ok());
    }
}
