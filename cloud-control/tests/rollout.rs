//! Rollout: a new map (and rules) published while an RSU runs. The RSU's states switch to the
//! new map version between two frames: every state before names the old version, every state
//! after the new one, and the sequence numbers run on without a gap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use corridor_model::SystemClock;
use corridor_wire::presets;
use roadside::RsuService;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_map_rolls_out_between_two_frames_without_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = presets::loopback_tcp(presets::free_loopback_port().unwrap());
    let _router = router(&endpoint);
    let _cloud = serve(&endpoint, &dir.path().join("cloud-data"), 0);
    let (v1_map, _) = publish(&endpoint, dir.path(), 50);

    let test = client(&endpoint).await;
    let vehicle = Vehicle::new(&test).await;
    let rsu_session = client(&endpoint).await;
    let rsu = RsuService::start(
        rsu_config("rsu-r", &endpoint, &dir.path().join("cache")),
        &rsu_session,
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    let _feed = feed(client(&endpoint).await, "rsu-r", Arc::new(AtomicBool::new(true)));
    wait_for(15.0, "states on v1", || vehicle.count() >= 10 && vehicle.last_version() == Some(v1_map)).await;

    // another map for the same intersection: arterial-3 with its rules
    let (code, out, err) = publish_cli(
        &ws("maps/arterial-3/arterial-3.net.xml"),
        &ws("maps/arterial-3/rules.toml"),
        &["--connect", &endpoint],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let (v2_map, v2_rules) = entry_versions(&out);
    assert_ne!(v2_map, v1_map);
    wait_for(15.0, "states on v2", || vehicle.last_version() == Some(v2_map)).await;
    let n = vehicle.count();
    wait_for(10.0, "more states on v2", || vehicle.count() >= n + 5).await;

    let seen = vehicle.seen.lock().unwrap().clone();
    assert!(seen.windows(2).all(|w| w[1].0 == w[0].0 + 1), "sequence numbers contiguous: {seen:?}");
    let switch = seen.iter().position(|s| s.1 == v2_map).unwrap();
    assert!(switch > 0);
    assert!(seen[..switch].iter().all(|s| s.1 == v1_map), "before: old version only");
    assert!(seen[switch..].iter().all(|s| s.1 == v2_map), "after: new version only");
    assert_eq!(vehicle.cache.lock().unwrap().stats().gaps, 0);
    let st = rsu.stats();
    assert_eq!((st.map_switches, st.rules_version.as_str()), (1, v2_rules.to_hex().as_str()));
    rsu.stop();
}
