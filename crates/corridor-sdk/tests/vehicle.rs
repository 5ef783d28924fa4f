//! The zenoh adapter end to end: an in-test cloud (map and rules queryables serving bundles
//! of maps/demo-4arm, honouring `?version=`) and an RSU-like state publisher; a `Vehicle`
//! fetches by version and answers queries; the ROS 2 bridge and the Python binding are
//! checked from Python (Zenoh Python client).
#![allow(clippy::unwrap_used)]

use corridor_model::{Clock, IntersectionId, RegionId, SystemClock};
use corridor_sdk::testkit;
use corridor_sdk::vehicle::Ros2Bridge;
use corridor_sdk::{EgoPose, Usability, Vehicle, VehicleClass, VehicleConfig};
use corridor_wire::presets;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use zenoh::Wait;

fn ix() -> IntersectionId {
    IntersectionId::new("ix-a").unwrap()
}

/// The cloud's queryables and an RSU publishing states every 50 ms, on one listening peer.
struct World {
    session: zenoh::Session,
    _queryables: Vec<zenoh::query::Queryable<()>>,
    stop: Arc<AtomicBool>,
    endpoint: String,
}

impl World {
    async fn start() -> World {
        let port = presets::free_loopback_port().unwrap();
        let endpoint = presets::loopback_tcp(port);
        let session = zenoh::open(presets::peer(std::slice::from_ref(&endpoint), &[]).unwrap()).await.unwrap();
        let (map, mv) = testkit::map_bundle(&ix()).unwrap();
        let (rules, rv) = testkit::rules_bundle(&ix()).unwrap();
        let mut queryables = Vec::new();
        for (what, bytes, version) in [("map", map, mv), ("rules", rules, rv)] {
            let q = session
                .declare_queryable(format!("corridor/demo/{what}/ix-a"))
                .callback(move |query| {
                    let wanted = query.parameters().get("version").map(str::to_owned);
                    if wanted.is_none() || wanted.as_deref() == Some(version.to_hex().as_str()) {
                        let _ = query.reply(query.key_expr().clone(), bytes.clone()).wait();
                    }
                })
                .await
                .unwrap();
            queryables.push(q);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let (s2, stop2) = (session.clone(), Arc::clone(&stop));
        tokio::spawn(async move {
            let mut seq = 0;
            while !stop2.load(Ordering::Relaxed) {
                seq += 1;
                let st = testkit::state(&ix(), seq, SystemClock.now(), 5, mv, Some(rv));
                let (k, b) = testkit::encode_state("demo", &st).unwrap();
                let _ = s2.put(k, b).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        World { session, _queryables: queryables, stop, endpoint }
    }

    async fn close(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.session.close().await;
    }
}

fn approaching() -> EgoPose {
    EgoPose::enu(3.2, -22.0, std::f64::consts::FRAC_PI_2)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vehicle_fetches_the_map_its_states_name_and_answers_queries() {
    let world = World::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = VehicleConfig::new(
        RegionId::new("demo").unwrap(),
        vec![ix()],
        presets::peer(&[], std::slice::from_ref(&world.endpoint)).unwrap(),
    );
    cfg.cache_dir = Some(dir.path().into());
    let v = Vehicle::connect(cfg, None).await.unwrap();
    let mut usable = false;
    for _ in 0..200 {
        if v.usability(&ix()) == Usability::Usable
            && v.my_lane(&approaching(), VehicleClass::Car).is_ok_and(|a| a.rules.is_some())
        {
            usable = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(usable, "never usable: {:?} {:?}", v.usability(&ix()), v.stats());
    let a = v.my_lane(&approaching(), VehicleClass::Car).unwrap();
    assert_eq!(a.signal.unwrap().group.0, 10);
    assert!(a.rules.unwrap().speed_limit_kmh.is_some());
    assert_eq!(v.objects_in_ego(&ix(), &approaching()).unwrap().objects.len(), 5);
    let st = v.poll_status();
    assert!(st.iter().any(|s| matches!(s, corridor_sdk::StatusEvent::MapReady { .. })), "{st:?}");
    // the map was cached on disk for the next start
    assert!(std::fs::read_dir(dir.path().join("ix-a")).unwrap().count() >= 2);
    v.close().await.unwrap();
    world.close().await;
}

fn python() -> std::path::PathBuf {
    let p = std::env::var_os("CORRIDOR_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"));
    assert!(p.exists(), "{} is missing: run scripts/setup-venv.sh (scripts/test.sh does)", p.display());
    p
}

/// Runs a script under tests/py, waits for its `ready` line, returns its last stdout line.
fn run_python(script: &str, args: &[&str]) -> std::process::Child {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py").join(script);
    Command::new(python()).arg(path).args(args).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap()
}

async fn wait_output(mut child: std::process::Child) -> serde_json::Value {
    let out = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        if let Some(stdout) = child.stdout.take() {
            for line in BufReader::new(stdout).lines() {
                lines.push(line.unwrap());
            }
        }
        let status = child.wait().unwrap();
        (status, lines)
    })
    .await
    .unwrap();
    assert!(out.0.success(), "python failed: {:?} {:?}", out.0, out.1);
    serde_json::from_str(out.1.last().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ros2_bridge_publishes_cdr_that_a_zenoh_python_client_decodes() {
    let world = World::start().await;
    let session = zenoh::open(presets::peer(&[], std::slice::from_ref(&world.endpoint)).unwrap()).await.unwrap();
    let region = RegionId::new("demo").unwrap();
    let bridge = Ros2Bridge::new(session.clone(), region.clone(), "");
    let key = bridge.key(&ix());
    assert_eq!(key, "corridor/demo/ix_a/intersection_state");
    let v = Vehicle::with_session(session, region, vec![ix()], Arc::new(SystemClock), Some(bridge.callback()))
        .await
        .unwrap();
    let child = run_python("ros2_sub.py", &[&world.endpoint, &key]);
    let out = wait_output(child).await;
    assert_eq!(out["key"], key);
    let msg = &out["msg"];
    assert_eq!(msg["intersection"], "ix-a");
    assert_eq!(msg["rsu"], "rsu-a");
    assert_eq!(msg["region"], "demo");
    assert_eq!(msg["objects"].as_array().unwrap().len(), 5);
    assert_eq!(msg["map_version"].as_str().unwrap().len(), 64);
    let sg10 = msg["signals"].as_array().unwrap().iter().find(|s| s["id"] == 10).unwrap();
    assert_eq!(sg10["state"], 3); // J2735 stop-and-remain
    assert_eq!(sg10["state_name"], "stop_and_remain");
    // the decoded object matches the state the vehicle holds for that sequence number
    let seq = msg["seq"].as_u64().unwrap();
    let held = v.latest(&ix()).unwrap();
    assert!(held.state.seq >= seq);
    let o = &msg["objects"][0];
    assert!(o["covariance"].as_array().unwrap().len() == 16);
    assert!(o["position"][0].as_f64().unwrap().abs() <= 60.0);
    v.close().await.unwrap();
    world.close().await;
}

/// Makes sure the `corridor_sdk` Python module is importable (scripts/test.sh installs it
/// with maturin first; a bare `cargo test` builds it here).
fn ensure_python_module() {
    let ok = Command::new(python()).args(["-c", "import corridor_sdk"]).status().unwrap().success();
    if ok {
        return;
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let maturin = python().with_file_name("maturin");
    let status = Command::new(maturin)
        .args(["develop", "-q", "-m", "crates/corridor-sdk-python/Cargo.toml"])
        .env("VIRTUAL_ENV", python().parent().unwrap().parent().unwrap())
        .current_dir(root)
        .status()
        .unwrap();
    assert!(status.success(), "maturin develop failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_binding_follows_an_rsu_and_fetches_its_map() {
    ensure_python_module();
    let world = World::start().await;
    let child = run_python("sdk_follow.py", &[&world.endpoint, "demo", "ix-a", "3.2", "-22.0", "1.5707963"]);
    let out = wait_output(child).await;
    let lane = &out["lane"];
    assert_eq!(lane["lane"], "bottom0A0.110.00_1");
    assert_eq!(lane["signal"]["group"], 10);
    assert_eq!(lane["signal"]["state"], "StopAndRemain");
    let likely = lane["signal"]["likely_s"].as_f64().unwrap();
    assert!(likely > 6.0 && likely <= 8.0, "{likely}");
    assert!(lane["rules"]["speed_limit_kmh"].as_f64().is_some());
    assert_eq!(lane["provenance"]["rsu"], "rsu-a");
    assert_eq!(out["n_objects"], 5);
    assert!(out["stats"]["accepted"].as_u64().unwrap() >= 1);
    assert!(out["status"].as_array().unwrap().iter().any(|s| s.as_str().unwrap().starts_with("map_ready")));
    world.close().await;
}

/// A stand-in for signature verification: samples from sender `flood` cost 2 ms and are refused.
struct SlowOnForgeries;
impl corridor_sdk::SampleVerifier for SlowOnForgeries {
    fn verify(&mut self, _key: &str, bytes: &[u8], _now: corridor_model::Timestamp) -> Result<(), &'static str> {
        let env = corridor_wire::decode_envelope(bytes, corridor_wire::Limits::default()).map_err(|_| "malformed")?;
        if env.header.sender == "flood" {
            std::thread::sleep(Duration::from_millis(2));
            return Err("bad_signature");
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_one_sender_does_not_hold_back_another_senders_states() {
    let port = presets::free_loopback_port().unwrap();
    let hub = zenoh::open(presets::peer(&[presets::loopback_tcp(port)], &[]).unwrap()).await.unwrap();
    let vs = zenoh::open(presets::peer(&[], &[presets::loopback_tcp(port)]).unwrap()).await.unwrap();
    let got: Arc<std::sync::Mutex<Vec<u64>>> = Arc::default();
    let g = Arc::clone(&got);
    let cb: corridor_sdk::StateCallback = Arc::new(move |u: &corridor_sdk::StateUpdate| {
        if u.state.intersection.as_str() == "ix-b" {
            g.lock().unwrap().push(u.state.seq);
        }
    });
    let ixs = vec![ix(), IntersectionId::new("ix-b").unwrap()];
    let v =
        Vehicle::with_session(vs, RegionId::new("demo").unwrap(), ixs, Arc::new(SystemClock), Some(cb)).await.unwrap();
    v.with_core(|c| c.set_verifier(Box::new(SlowOnForgeries)));
    tokio::time::sleep(Duration::from_millis(300)).await;

    // the flood: 3000 states from sender `flood` on ix-a's key, each costing the verifier 2 ms
    let flood = {
        let hub = hub.clone();
        std::thread::spawn(move || {
            let mut st = testkit::state(&ix(), 1, SystemClock.now(), 1, Default::default(), None);
            let p = hub.declare_publisher("corridor/demo/ix/ix-a/state").wait().unwrap();
            for seq in 0..3000u64 {
                st.seq = seq;
                let h = corridor_wire::Header::new(
                    corridor_wire::PayloadKind::IntersectionState,
                    "flood",
                    seq,
                    st.capture_time,
                    st.publish_time,
                );
                p.put(corridor_wire::encode(&h, &st).unwrap()).wait().unwrap();
            }
        })
    };
    // meanwhile rsu-b publishes 20 states of ix-b, 20 ms apart
    let ixb = IntersectionId::new("ix-b").unwrap();
    for seq in 1..=20u64 {
        let mut st = testkit::state(&ixb, seq, SystemClock.now(), 1, Default::default(), None);
        st.rsu = "rsu-b".parse().unwrap();
        let (k, b) = testkit::encode_state("demo", &st).unwrap();
        hub.put(k, b).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    flood.join().unwrap();
    // 3000 x 2 ms = 6 s of verification if the flood were not bounded: wait at most 2 s
    for _ in 0..40 {
        if got.lock().unwrap().len() == 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(*got.lock().unwrap(), (1..=20).collect::<Vec<u64>>(), "every rsu-b state, in order");
    let stats = v.stats();
    let (full, refused) = (
        stats.dropped.get("queue_full").copied().unwrap_or(0),
        stats.dropped.get("bad_signature").copied().unwrap_or(0),
    );
    assert!(full > 0, "the flood overflowed its own queue: {stats:?}");
    assert!(refused > 0, "forgeries reached the verifier and were refused: {stats:?}");
    assert!(full + refused <= 3000, "{stats:?}");
    v.close().await.unwrap();
}
