//! The field topology: a Zenoh router (cloud-control's thin router, started as a
//! separate process), the RSU, a sensor and a vehicle all as Zenoh *clients*.
#![allow(clippy::unwrap_used)] // test helpers

mod common;

use corridor_model::detection::SensorKind;
use corridor_model::{Clock, Detection, DetectionFrame, IntersectionId, ObjectClass, SensorId, SystemClock};
use corridor_sdk::{Vehicle, VehicleConfig};
use corridor_wire::{encode, presets, Header, Key, PayloadKind};
use nalgebra::{Matrix3, Vector3};
use roadside::config::ZenohSection;
use roadside::RsuService;
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use zenoh::Wait;

struct KillOnDrop(std::process::Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn cloud_control() -> std::path::PathBuf {
    // the workspace's cloud-control binary, built next to this test's binary
    let mut p = std::env::current_exe().unwrap();
    p.pop();
    if p.ends_with("deps") {
        p.pop();
    }
    p.join("cloud-control")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsu_and_vehicle_as_clients_of_a_router_process() {
    let exe = cloud_control();
    if !exe.exists() {
        let status = Command::new(env!("CARGO")).args(["build", "-q", "-p", "cloud-control"]).status().unwrap();
        assert!(status.success(), "building cloud-control");
    }
    let port = common::free_port();
    let endpoint = presets::loopback_tcp(port);
    let mut child = Command::new(&exe).args(["router", "--listen", &endpoint]).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let _router = KillOnDrop(child);
    assert!(line.starts_with("router listening on"), "{line}");

    let mut cfg = common::rsu_config("rsu-a", "ix-a", port, false);
    cfg.zenoh = ZenohSection::new("client", vec![], vec![endpoint.clone()]);
    let rsu_session = zenoh::open(cfg.zenoh.to_zenoh().unwrap()).await.unwrap();
    let rsu = RsuService::start(cfg.clone(), &rsu_session, Arc::new(SystemClock)).await.unwrap();
    let vehicle = Vehicle::connect(
        VehicleConfig::new(
            cfg.region.clone(),
            vec![IntersectionId::new("ix-a").unwrap()],
            presets::client(std::slice::from_ref(&endpoint)).unwrap(),
        ),
        None,
    )
    .await
    .unwrap();
    let sensor = zenoh::open(presets::client(std::slice::from_ref(&endpoint)).unwrap()).await.unwrap();
    let key = Key::Detections { region: cfg.region.clone(), rsu: cfg.rsu.clone(), sensor: "lidar-ne".parse().unwrap() };
    let publisher = presets::declare_publisher(&sensor, &key).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in 0..30u64 {
        let f = DetectionFrame {
            sensor: SensorId::new("lidar-ne").unwrap(),
            kind: SensorKind::Lidar,
            frame_seq: i,
            capture_time: SystemClock.now(),
            detections: vec![Detection {
                class: ObjectClass::Bus,
                class_confidence: 0.9,
                position_m: Vector3::new(15.0, 2.0, -4.5),
                position_cov: Matrix3::from_diagonal_element(0.0225),
                velocity_mps: None,
                heading_rad: None,
                size_m: None,
            }],
        };
        let h = Header::new(PayloadKind::Detections, "lidar-ne", i, f.capture_time, f.capture_time);
        publisher.put(encode(&h, &f).unwrap()).wait().unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let latest = vehicle.latest(&IntersectionId::new("ix-a").unwrap()).expect("a state through the router");
    assert_eq!(latest.state.rsu.as_str(), "rsu-a");
    assert_eq!(latest.state.objects.len(), 1);
    assert!(vehicle.stats().accepted >= 10, "{:?}", vehicle.stats());
    assert_eq!(rsu.stats().dropped_total(), 0);
    rsu.stop();
}
