//! Fault: the cloud is killed (SIGKILL) while an RSU runs, then restarted.
//!
//! Router, `cloud-control serve` and the test's sessions are separate; the RSU
//! runs in-process (RsuService) as a Zenoh client of the router process.
//! 1. publish v1 -> the RSU fetches it on start; its states name v1
//! 2. cloud killed -> states go on, still on v1 (served from what the RSU holds);
//!    a sensor falls silent -> a fault event, queued on disk (not acked)
//! 3. v2 published into the database while the cloud is down (`publish --data-dir`)
//! 4. cloud restarted -> the RSU resyncs to v2 between two frames (no sequence gap),
//!    the outbox drains, and every event seen on the events key is in the cloud's
//!    store exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use cloud_control::Store;
use common::*;
use corridor_model::{Event, EventKind, SystemClock};
use corridor_wire::{decode, presets, Key, Limits};
use roadside::RsuService;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud_killed_rsu_keeps_serving_queues_events_and_resyncs_on_return() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("cloud-data");
    let endpoint = presets::loopback_tcp(presets::free_loopback_port().unwrap());
    let _router = router(&endpoint);
    let mut cloud = serve(&endpoint, &data, 0);
    let (v1_map, v1_rules) = publish(&endpoint, dir.path(), 50);

    let test = client(&endpoint).await;
    let vehicle = Vehicle::new(&test).await;
    let events: Arc<Mutex<Vec<Event>>> = Arc::default();
    let ev = Arc::clone(&events);
    let _events_sub = test
        .declare_subscriber(
            Key::Events { region: "demo".parse().unwrap(), intersection: "ix-a".parse().unwrap() }.to_string(),
        )
        .callback(move |s| {
            let (_, e) = decode::<Event>(&s.payload().to_bytes(), Limits::default()).unwrap();
            ev.lock().unwrap().push(e);
        })
        .await
        .unwrap();

    let cfg = rsu_config("rsu-a", &endpoint, &dir.path().join("rsu-cache"));
    let rsu_session = client(&endpoint).await;
    let rsu = RsuService::start(cfg, &rsu_session, Arc::new(SystemClock)).await.unwrap();
    let on = Arc::new(AtomicBool::new(true));
    let _feed = feed(client(&endpoint).await, "rsu-a", Arc::clone(&on));

    wait_for(15.0, "states on v1", || vehicle.last_version() == Some(v1_map)).await;
    assert_eq!(rsu.stats().rules_version, v1_rules.to_hex());
    assert_eq!(rsu.stats().map_source, "cloud");
    // three sensors never send: one fault each, uploaded and acked
    wait_for(15.0, "3 fault events acked", || events.lock().unwrap().len() >= 3 && rsu.events_queued() == 0).await;

    // 2. the cloud dies
    cloud.kill();
    let before = vehicle.count();
    on.store(false, Ordering::SeqCst); // lidar-ne falls silent too: a 4th fault, queued
    wait_for(10.0, "a fault event queued while the cloud is down", || rsu.events_queued() >= 1).await;
    on.store(true, Ordering::SeqCst);
    wait_for(10.0, "states keep flowing without the cloud", || vehicle.count() >= before + 20).await;
    assert_eq!(vehicle.last_version(), Some(v1_map), "still on the version it had");
    assert!(rsu.events_queued() >= 1, "the event waits on disk");

    // 3. a new rules version goes into the database while no server runs
    let rules60 =
        demo_rules_with(dir.path(), "rules-60.toml", "effect.speed_limit_kmh = 50", "effect.speed_limit_kmh = 60");
    let (code, out, err) =
        publish_cli(&ws("maps/demo-4arm/demo-4arm.net.xml"), &rules60, &["--data-dir", data.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (_, v2_rules) = entry_versions(&out);
    assert_ne!(v2_rules, v1_rules);

    // 4. the cloud returns: resync and drain
    let _cloud = serve(&endpoint, &data, 0);
    wait_for(20.0, "the RSU switched to the new rules", || rsu.stats().rules_version == v2_rules.to_hex()).await;
    wait_for(25.0, "the outbox drained", || rsu.events_queued() == 0).await;
    let n = vehicle.count();
    wait_for(10.0, "states after the switch", || vehicle.count() >= n + 5).await;

    let stats = vehicle.cache.lock().unwrap().stats().clone();
    assert_eq!(stats.gaps, 0, "no state lost through the outage and the switch: {stats:?}");
    assert_eq!(stats.restarts, 0);
    let seen = vehicle.seen.lock().unwrap().clone();
    assert!(seen.windows(2).all(|w| w[1].0 == w[0].0 + 1), "sequence numbers contiguous");
    assert_eq!(rsu.stats().map_switches, 1, "{:?}", rsu.stats());

    rsu.stop();
    drop(_cloud);
    let store = Store::open(&data.join("cloud.redb")).unwrap();
    let stored: Vec<Event> = store.events().unwrap();
    let published: BTreeSet<_> = events.lock().unwrap().iter().map(|e| e.id).collect();
    let stored_ids: BTreeSet<_> = stored.iter().map(|e| e.id).collect();
    assert_eq!(stored.len(), stored_ids.len(), "each event stored once");
    assert_eq!(stored_ids, published, "every event the RSU published reached the store");
    assert!(stored.len() >= 4, "{stored:?}");
    assert!(stored.iter().all(|e| e.kind == EventKind::RsuFault && e.rsu.as_str() == "rsu-a"));
    assert!(stored.iter().any(|e| e.detail.contains("lidar-ne")), "the fault raised during the outage arrived");
}
