//! An outside peer we did not write: the Zenoh Python client publishes JSON
#![allow(clippy::unwrap_used)] // test helpers
//! detections that the RSU accepts, and reads the JSON state mirror it publishes.

mod common;

use corridor_model::{SensorId, SystemClock};
use roadside::RsuService;
use std::process::Command;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_zenoh_client_feeds_the_rsu_and_reads_its_state() {
    let python = common::python();
    let port = common::free_port();
    let hub = common::hub(port).await;
    let s = common::peer_of(port).await;
    let rsu =
        RsuService::start(common::rsu_config("rsu-a", "ix-a", port, true), &s, Arc::new(SystemClock)).await.unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/outside_peer.py");
    let endpoint = corridor_wire::presets::loopback_tcp(port);
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python).arg(script).args(["--endpoint", &endpoint, "--seconds", "3"]).output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "python failed: {}\n{}", String::from_utf8_lossy(&out.stderr), stdout);
    let doc: serde_json::Value = serde_json::from_str(stdout.trim().lines().last().unwrap()).unwrap();
    assert_eq!(doc["zenoh_version"], "1.10.2");
    let sent = doc["sent"].as_u64().unwrap();
    assert!(sent >= 20, "{doc}");
    assert!(doc["states"].as_u64().unwrap() >= 10, "python received JSON states: {doc}");
    assert_eq!(doc["max_objects"], 1, "{doc}");
    let last = &doc["last"];
    assert_eq!(last["intersection"], "ix-a");
    assert_eq!(last["rsu"], "rsu-a");
    let obj = &last["objects"][0];
    assert_eq!(obj["class"], "pedestrian");
    // lidar-ne sits at (15, 15) looking -135 deg: 20 m ahead is about (0.86, 0.86)
    let (x, y) = (obj["position_m"][0].as_f64().unwrap(), obj["position_m"][1].as_f64().unwrap());
    assert!((x - 0.86).abs() < 0.5 && (y - 0.86).abs() < 0.5, "{obj}");
    assert_eq!(obj["sensors"][0], "lidar-ne");
    let stats = rsu.stats();
    assert_eq!(stats.samples.get("det_json").copied(), Some(sent), "every JSON frame reached the RSU: {stats:?}");
    assert_eq!(stats.fusion.sensors[&SensorId::new("lidar-ne").unwrap()].frames_received, sent);
    assert!(stats.drop_reasons().is_empty(), "{:?}", stats.drop_reasons());
    rsu.stop();
    drop(hub);
}
