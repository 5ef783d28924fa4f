//! Flood harness: how much does a flood of forged signed states on an intersection's state key
//! delay the valid ones? A signing RSU (certificate from a fresh root) publishes states while a
//! vehicle-side subscriber checks every sample with `corridor_security::StateGuard`; the run is
//! done once without and once with a flood thread that puts corrupted copies of a genuine state
//! on the same key as fast as it can. Prints p50/p99 of (receive + verify done) - publish time
//! of the accepted states, the counts, and the p99 ratio flood / no flood.
//!
//! `cargo run -p roadside --example flood -- [SECONDS] [PAUSE_US]` (default 5 s per run; the
//! flood thread sleeps PAUSE_US between puts, default 0: as fast as zenoh takes them). The
//! flood runs on the same machine, so an unthrottled one also measures CPU contention.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use corridor_model::detection::SensorKind;
use corridor_model::{Clock, Detection, DetectionFrame, MapVersion, ObjectClass, RsuId, SensorId, SystemClock};
use corridor_security::{Certificate, GuardConfig, SigningKey, StateGuard, TrustStore};
use corridor_wire::{encode, presets, Header, Key, PayloadKind};
use nalgebra::{Matrix3, Vector3};
use roadside::config::{RsuConfig, ZenohSection, DEFAULT_CONFIG};
use roadside::security::SecuritySection;
use roadside::RsuService;
use zenoh::Wait;

struct Outcome {
    lat_us: Vec<i64>,
    accepted: u64,
    rejected: u64,
    forged_put: u64,
    published: u64,
}

async fn one_run(seconds: u64, flood: bool, pause_us: u64) -> Outcome {
    let tmp = tempfile::tempdir().unwrap();
    let mut rng = rand_core::OsRng;
    let root = SigningKey::generate(&mut rng);
    let key = SigningKey::generate(&mut rng);
    let now = SystemClock.now();
    let cert = Certificate::rsu(
        &RsuId::new("rsu-a").unwrap(),
        *key.verifying_key(),
        ["ix-a".parse().unwrap()],
        now.add_secs_f64(-60.0),
        now.add_secs_f64(3600.0),
        1,
    )
    .issue(&root)
    .unwrap();
    let section = SecuritySection { key: tmp.path().join("rsu-a.key"), cert: tmp.path().join("rsu-a.cert") };
    std::fs::write(&section.key, key.to_pem().unwrap()).unwrap();
    std::fs::write(&section.cert, cert.to_hex()).unwrap();
    let mut trust = TrustStore::new([*root.verifying_key()]);
    trust.add_certificate(cert).unwrap();
    let guard = Arc::new(Mutex::new(StateGuard::new(trust, GuardConfig::default())));

    let port = presets::free_loopback_port().unwrap();
    let hub = zenoh::open(presets::peer(&[presets::loopback_tcp(port)], &[]).unwrap()).await.unwrap();
    let peer = || async { zenoh::open(presets::peer(&[], &[presets::loopback_tcp(port)]).unwrap()).await.unwrap() };
    let state_key = Key::State { region: "demo".parse().unwrap(), intersection: "ix-a".parse().unwrap() }.to_string();
    let lat: Arc<Mutex<Vec<i64>>> = Arc::default();
    let first: Arc<Mutex<Option<Vec<u8>>>> = Arc::default();
    let rejected = Arc::new(AtomicU64::new(0));
    let vs = peer().await;
    let maps: HashSet<MapVersion> = [MapVersion::default()].into_iter().collect();
    let (g, l, f, rj) = (guard.clone(), lat.clone(), first.clone(), rejected.clone());
    let _sub = vs
        .declare_subscriber(state_key.clone())
        .callback(move |s| {
            let bytes = s.payload().to_bytes();
            let t = SystemClock.now();
            let r = g.lock().unwrap().check_state(t, &"ix-a".parse().unwrap(), &bytes, &maps);
            match r {
                Ok(v) => {
                    let done = SystemClock.now();
                    l.lock().unwrap().push(done.nanos_since(v.state.publish_time) / 1000);
                    f.lock().unwrap().get_or_insert_with(|| bytes.to_vec());
                }
                Err(_) => {
                    rj.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
        .await
        .unwrap();

    let mut cfg = RsuConfig::parse(DEFAULT_CONFIG, "default").unwrap();
    cfg.rsu = "rsu-a".parse().unwrap();
    cfg.intersection = "ix-a".parse().unwrap();
    cfg.zenoh = ZenohSection { mode: "peer".into(), listen: vec![], connect: vec![presets::loopback_tcp(port)] };
    cfg.security = Some(section);
    let rs = peer().await;
    let rsu = RsuService::start(cfg, &rs, Arc::new(SystemClock)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;

    let on = Arc::new(AtomicBool::new(true));
    let flooder = flood.then(|| {
        let (hub, first, on, key) = (hub.clone(), first.clone(), on.clone(), state_key.clone());
        std::thread::spawn(move || {
            let p = hub.declare_publisher(key).wait().unwrap();
            let mut n = 0u64;
            while on.load(Ordering::Relaxed) {
                let genuine = first.lock().unwrap().clone();
                match genuine {
                    Some(mut forged) => {
                        let i = forged.len() - 80;
                        forged[i] ^= 1;
                        p.put(forged).wait().unwrap();
                        n += 1;
                        if pause_us > 0 {
                            std::thread::sleep(Duration::from_micros(pause_us));
                        }
                    }
                    None => std::thread::sleep(Duration::from_millis(1)),
                }
            }
            n
        })
    });
    let det = Key::Detections {
        region: "demo".parse().unwrap(),
        rsu: "rsu-a".parse().unwrap(),
        sensor: "lidar-ne".parse().unwrap(),
    };
    let p = presets::declare_publisher(&hub, &det).await.unwrap();
    for i in 0..seconds * 10 {
        let f = DetectionFrame {
            sensor: SensorId::new("lidar-ne").unwrap(),
            kind: SensorKind::Lidar,
            frame_seq: i,
            capture_time: SystemClock.now(),
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
        let h = Header::new(PayloadKind::Detections, "lidar-ne", i, f.capture_time, f.capture_time);
        p.put(encode(&h, &f).unwrap()).wait().unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    on.store(false, Ordering::Relaxed);
    let forged_put = flooder.map(|h| h.join().unwrap()).unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let published = rsu.stats().states_published;
    rsu.stop();
    let lat_us = lat.lock().unwrap().clone();
    let accepted = lat_us.len() as u64;
    Outcome { lat_us, accepted, rejected: rejected.load(Ordering::Relaxed), forged_put, published }
}

fn pct(v: &mut [i64], p: f64) -> i64 {
    v.sort_unstable();
    if v.is_empty() {
        return 0;
    }
    v[((v.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let seconds = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let pause_us = std::env::args().nth(2).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut p99 = [0i64; 2];
    for (i, flood) in [false, true].into_iter().enumerate() {
        let mut o = one_run(seconds, flood, pause_us).await;
        let (p50, q99) = (pct(&mut o.lat_us, 0.5), pct(&mut o.lat_us, 0.99));
        p99[i] = q99;
        println!(
            "flood={flood} published={} accepted={} rejected={} forged_put={} p50_us={p50} p99_us={q99}",
            o.published, o.accepted, o.rejected, o.forged_put
        );
    }
    println!("p99 ratio flood/no-flood: {:.2}", p99[1] as f64 / p99[0].max(1) as f64);
}
