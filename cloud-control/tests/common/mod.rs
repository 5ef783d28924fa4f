//! Shared helpers for cloud-control's process-level tests: a router, `cloud-control serve`,
//! the roadside binary, RSU configs, a sensor feed and a vehicle-side state recorder.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use corridor_model::detection::SensorKind;
use corridor_model::{
    Clock, Detection, DetectionFrame, IntersectionId, MapVersion, ObjectClass, SensorId, SystemClock,
};
use corridor_sdk::StateCache;
use corridor_wire::{encode, presets, Header, Key, PayloadKind};
use nalgebra::{Matrix3, Vector3};
use roadside::config::{CloudSection, RsuConfig, ZenohSection, DEFAULT_CONFIG};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use zenoh::Wait;

/// A child process killed (SIGKILL) when dropped.
pub struct Proc(pub Option<Child>);
impl Proc {
    /// Kills it now (SIGKILL: no clean shutdown, as a crash).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_cloud-control")
}

pub fn ws(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(p)
}

/// Spawns a process and waits for its first stdout line starting with `ready`.
fn spawn_ready(cmd: &mut Command, ready: &str) -> Proc {
    let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
    let out = child.stdout.take().unwrap();
    let mut reader = std::io::BufReader::new(out);
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line).unwrap();
        assert!(n > 0, "process exited before printing `{ready}`");
        if line.starts_with(ready) {
            break;
        }
    }
    // keep draining stdout so the child never blocks on a full pipe
    std::thread::spawn(move || for _ in reader.lines() {});
    Proc(Some(child))
}

pub fn router(endpoint: &str) -> Proc {
    spawn_ready(Command::new(exe()).args(["router", "--listen", endpoint]), "router listening on")
}

pub fn serve(endpoint: &str, data_dir: &Path, metrics_port: u16) -> Proc {
    spawn_ready(
        Command::new(exe()).args([
            "serve",
            "--region",
            "demo",
            "--mode",
            "client",
            "--connect",
            endpoint,
            "--data-dir",
            data_dir.to_str().unwrap(),
            "--metrics-port",
            &metrics_port.to_string(),
        ]),
        "cloud-control serving",
    )
}

/// Runs `cloud-control ARGS`; returns (exit code, stdout, stderr).
pub fn cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(exe()).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// demo-4arm's rules with the first `from` replaced by `to`, written to `dir/name`.
pub fn demo_rules_with(dir: &Path, name: &str, from: &str, to: &str) -> PathBuf {
    let path = dir.join(name);
    let text = std::fs::read_to_string(ws("maps/demo-4arm/rules.toml")).unwrap().replacen(from, to, 1);
    std::fs::write(&path, text).unwrap();
    path
}

/// `cloud-control publish --intersection ix-a --map MAP --rules RULES` plus `target` (e.g.
/// `["--connect", endpoint]` or `["--data-dir", dir]`): exit code, stdout, stderr.
pub fn publish_cli(map: &Path, rules: &Path, target: &[&str]) -> (i32, String, String) {
    let mut args =
        vec!["publish", "--intersection", "ix-a", "--map", map.to_str().unwrap(), "--rules", rules.to_str().unwrap()];
    args.extend_from_slice(target);
    cli(&args)
}

/// `cloud-control publish` of demo-4arm with its rules, the speed limit set to `limit`;
/// returns the new (map, rules) versions.
pub fn publish(endpoint: &str, dir: &Path, limit: u32) -> (MapVersion, MapVersion) {
    let rules = demo_rules_with(
        dir,
        &format!("rules-{limit}.toml"),
        "effect.speed_limit_kmh = 50",
        &format!("effect.speed_limit_kmh = {limit}"),
    );
    let (code, out, err) = publish_cli(&ws("maps/demo-4arm/demo-4arm.net.xml"), &rules, &["--connect", endpoint]);
    assert_eq!(code, 0, "publish failed: {out}\n{err}");
    entry_versions(&out)
}

pub fn entry_versions(json: &str) -> (MapVersion, MapVersion) {
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    let map = MapVersion::from_hex(v["map_version"].as_str().unwrap()).unwrap();
    let rules = MapVersion::from_hex(v["rules_version"].as_str().unwrap()).unwrap();
    (map, rules)
}

/// An RSU config: the default sensors, a client of `endpoint`, its cache in `cache_dir`.
pub fn rsu_config(rsu: &str, endpoint: &str, cache_dir: &Path) -> RsuConfig {
    let mut cfg = RsuConfig::parse(DEFAULT_CONFIG, "default").unwrap();
    cfg.rsu = rsu.parse().unwrap();
    cfg.intersection = "ix-a".parse().unwrap();
    cfg.stats_period_ms = 200;
    cfg.zenoh = ZenohSection::new("client", vec![], vec![endpoint.to_owned()]);
    cfg.cloud = Some(CloudSection { cache_dir: cache_dir.to_owned(), fetch_timeout_ms: 1000, retry_ms: 500 });
    cfg.events.sensor_silent_s = 1.0;
    cfg
}

pub async fn client(endpoint: &str) -> zenoh::Session {
    zenoh::open(presets::client(&[endpoint.to_owned()]).unwrap()).await.unwrap()
}

/// One encoded lidar-ne frame number `seq` captured at `t`: a car 20 m ahead of the sensor
/// (near the default intersection's centre).
pub fn lidar_frame(seq: u64, t: corridor_model::Timestamp) -> Vec<u8> {
    let f = DetectionFrame {
        sensor: SensorId::new("lidar-ne").unwrap(),
        kind: SensorKind::Lidar,
        frame_seq: seq,
        capture_time: t,
        detections: vec![Detection {
            class: ObjectClass::Car,
            class_confidence: 0.9,
            position_m: Vector3::new(20.0, 0.0, -5.0),
            position_cov: Matrix3::from_diagonal_element(0.0225),
            velocity_mps: None,
            heading_rad: None,
            size_m: None,
        }],
    };
    encode(&Header::new(PayloadKind::Detections, "lidar-ne", seq, t, t), &f).unwrap()
}

/// Publishes one lidar-ne frame (a car near the centre) every 100 ms while `on` is set.
pub fn feed(session: zenoh::Session, rsu: &str, on: Arc<std::sync::atomic::AtomicBool>) -> std::thread::JoinHandle<()> {
    let key = Key::Detections {
        region: "demo".parse().unwrap(),
        rsu: rsu.parse().unwrap(),
        sensor: "lidar-ne".parse().unwrap(),
    };
    std::thread::spawn(move || {
        let publisher = session.declare_publisher(key.to_string()).wait().unwrap();
        let mut i = 0u64;
        loop {
            if on.load(std::sync::atomic::Ordering::SeqCst) {
                i += 1;
                #[allow(clippy::disallowed_methods)]
                let t = SystemClock.now();
                if publisher.put(lidar_frame(i, t)).wait().is_err() {
                    return;
                }
            }
            if session.is_closed() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    })
}

/// The vehicle side: every state of ix-a through the SDK's StateCache, and (seq, map version) of each.
#[derive(Clone)]
pub struct Vehicle {
    pub cache: Arc<Mutex<StateCache>>,
    pub seen: Arc<Mutex<Vec<(u64, MapVersion)>>>,
    _sub: Arc<zenoh::pubsub::Subscriber<()>>,
}

impl Vehicle {
    pub async fn new(session: &zenoh::Session) -> Vehicle {
        let ix: IntersectionId = "ix-a".parse().unwrap();
        let cache = Arc::new(Mutex::new(StateCache::new("demo".parse().unwrap(), [ix.clone()])));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (c, s) = (Arc::clone(&cache), Arc::clone(&seen));
        let sub = session
            .declare_subscriber(Key::State { region: "demo".parse().unwrap(), intersection: ix }.to_string())
            .callback(move |sample| {
                #[allow(clippy::disallowed_methods)]
                let now = SystemClock.now();
                if let Ok(u) =
                    c.lock().unwrap().handle_sample(sample.key_expr().as_str(), &sample.payload().to_bytes(), now)
                {
                    s.lock().unwrap().push((u.state.seq, u.state.map_version));
                }
            })
            .await
            .unwrap();
        Vehicle { cache, seen, _sub: Arc::new(sub) }
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    pub fn last_version(&self) -> Option<MapVersion> {
        self.seen.lock().unwrap().last().map(|s| s.1)
    }
}

/// Waits until `f` holds, polling every 100 ms, at most `secs`; panics with `what` otherwise.
pub async fn wait_for(secs: f64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(secs);
    while !f() {
        assert!(tokio::time::Instant::now() < deadline, "timed out after {secs} s waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `cloud-control status --json`.
pub fn status(endpoint: &str) -> Vec<serde_json::Value> {
    let (code, out, err) = cli(&["status", "--json", "--connect", endpoint]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(out.trim()).unwrap()
}

/// (alive, appearances) of an RSU in the cloud's status.
pub fn alive(endpoint: &str, rsu: &str) -> Option<(bool, u64)> {
    status(endpoint)
        .into_iter()
        .find(|r| r["rsu"] == rsu)
        .map(|r| (r["alive"].as_bool().unwrap(), r["appearances"].as_u64().unwrap()))
}
