//! Faults around the RSU's cache, with the roadside *binary* as a separate process:
//! 1. RSU killed (SIGKILL) and restarted while the cloud is down too: it starts from
//!    its on-disk cache (same map/rules version), vehicles see the restart (the
//!    sequence starts again) and receive states again.
//! 2. A cached map file corrupted while the RSU is down: detected by hash on the next
//!    start, deleted, fetched again from the cloud, rewritten intact.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::disallowed_methods, reason = "the tests measure how fast the cloud sees an RSU go")]

mod common;

use common::*;
use corridor_wire::control::MapBundle;
use corridor_wire::{decode, presets, Key};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

fn roadside_exe() -> PathBuf {
    let p = std::path::Path::new(exe()).with_file_name("roadside");
    if !p.exists() {
        let ok = Command::new(env!("CARGO")).args(["build", "-q", "-p", "roadside"]).status().unwrap().success();
        assert!(ok, "building roadside");
    }
    p
}

fn start_rsu(config: &std::path::Path) -> Proc {
    Proc(Some(
        Command::new(roadside_exe())
            .args(["--config", config.to_str().unwrap()])
            .stdout(Stdio::null())
            .env("RUST_LOG", "warn")
            .spawn()
            .unwrap(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsu_restarts_from_its_cache_and_a_corrupt_cache_file_is_refetched() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("cloud-data");
    let cache_dir = dir.path().join("rsu-cache");
    let endpoint = presets::loopback_tcp(presets::free_loopback_port().unwrap());
    let _router = router(&endpoint);
    let mut cloud = serve(&endpoint, &data, 0);
    let (v1_map, v1_rules) = publish(&endpoint, dir.path(), 50);

    let cfg = rsu_config("rsu-b", &endpoint, &cache_dir);
    let cfg_path = dir.path().join("rsu-b.toml");
    std::fs::write(&cfg_path, toml::to_string(&cfg).unwrap()).unwrap();

    let test = client(&endpoint).await;
    let vehicle = Vehicle::new(&test).await;
    let stats: Arc<Mutex<Option<serde_json::Value>>> = Arc::default();
    let st = Arc::clone(&stats);
    let _stats_sub = test
        .declare_subscriber(Key::Stats { region: "demo".parse().unwrap(), rsu: "rsu-b".parse().unwrap() }.to_string())
        .callback(move |s| *st.lock().unwrap() = serde_json::from_slice(&s.payload().to_bytes()).ok())
        .await
        .unwrap();
    let stat = |k: &str| stats.lock().unwrap().as_ref().map(|v| v[k].clone()).unwrap_or_default();
    let _feed = feed(client(&endpoint).await, "rsu-b", Arc::new(AtomicBool::new(true)));

    let mut rsu = start_rsu(&cfg_path);
    wait_for(20.0, "states on v1 from the first RSU run", || vehicle.last_version() == Some(v1_map)).await;
    wait_for(5.0, "stats say the map came from the cloud", || stat("map_source") == "cloud").await;
    let map_file = cache_dir.join("ix-a").join(format!("map-{}.bin", v1_map.to_hex()));
    assert!(map_file.exists(), "the map is cached at {}", map_file.display());

    // 1. the RSU crashes: the cloud sees it gone within 2 s; then the cloud goes down too and
    //    the restarted RSU runs from its cache
    assert_eq!(alive(&endpoint, "rsu-b"), Some((true, 1)));
    rsu.kill();
    let killed = std::time::Instant::now();
    wait_for(5.0, "the cloud sees rsu-b lost", || alive(&endpoint, "rsu-b") == Some((false, 1))).await;
    assert!(killed.elapsed() < std::time::Duration::from_millis(2500), "lost after {:?}", killed.elapsed());
    cloud.kill();
    let before = vehicle.count();
    *stats.lock().unwrap() = None;
    let mut rsu = start_rsu(&cfg_path);
    wait_for(20.0, "states again after the restart", || vehicle.count() >= before + 10).await;
    assert_eq!(vehicle.last_version(), Some(v1_map));
    wait_for(5.0, "stats say the map came from the cache", || stat("map_source") == "cache").await;
    assert_eq!(stat("rules_version"), v1_rules.to_hex());
    let s = vehicle.cache.lock().unwrap().stats().clone();
    assert_eq!(s.restarts, 1, "the vehicle saw the RSU restart: {s:?}");

    // 2. corrupt the cached map while the RSU is down; the cloud is back
    rsu.kill();
    let mut bytes = std::fs::read(&map_file).unwrap();
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 64] {
        *b ^= 0x5a;
    }
    std::fs::write(&map_file, &bytes).unwrap();
    let _cloud = serve(&endpoint, &data, 0);
    *stats.lock().unwrap() = None;
    let before = vehicle.count();
    let _rsu = start_rsu(&cfg_path);
    wait_for(20.0, "states after the corrupt-cache restart", || vehicle.count() >= before + 10).await;
    wait_for(5.0, "the corruption was counted", || stat("cloud")["cache_corrupt"].as_u64() == Some(1)).await;
    assert_eq!(stat("map_source"), "cloud", "refetched from the cloud");
    assert_eq!(vehicle.last_version(), Some(v1_map));
    let (_, bundle) = decode::<MapBundle>(&std::fs::read(&map_file).unwrap(), roadside::cache::BUNDLE_LIMITS).unwrap();
    assert_eq!(bundle.version, v1_map, "the cache file was rewritten intact");
    assert_eq!(vehicle.cache.lock().unwrap().stats().restarts, 2);
}
