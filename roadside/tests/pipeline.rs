//! roadside and the vehicle SDK in separate zenoh sessions over loopback TCP:
#![allow(clippy::unwrap_used)] // test helpers
//! the vehicle gets only the intersections it asked for, a malformed message on
//! the state key is counted and skipped, and state keeps flowing.

mod common;

use corridor_model::detection::SensorKind;
use corridor_model::{Clock, Detection, DetectionFrame, IntersectionId, ObjectClass, RegionId, SensorId, SystemClock};
use corridor_sdk::{StateUpdate, Vehicle};
use corridor_wire::{encode, presets, Header, Key, PayloadKind};
use nalgebra::{Matrix3, Vector3};
use roadside::RsuService;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use zenoh::Wait;

fn frame(seq: u64, x_m: f64) -> DetectionFrame {
    DetectionFrame {
        sensor: SensorId::new("lidar-ne").unwrap(),
        kind: SensorKind::Lidar,
        frame_seq: seq,
        capture_time: SystemClock.now(),
        detections: vec![Detection {
            class: ObjectClass::Car,
            class_confidence: 0.9,
            position_m: Vector3::new(x_m, 0.0, -5.0),
            position_cov: Matrix3::from_diagonal_element(0.0225),
            velocity_mps: None,
            heading_rad: None,
            size_m: None,
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vehicle_gets_only_its_intersection_and_survives_garbage() {
    let port = common::free_port();
    let hub = common::hub(port).await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let sa = common::peer_of(port).await;
    let sb = common::peer_of(port).await;
    let rsu_a = RsuService::start(common::rsu_config("rsu-a", "ix-a", port, false), &sa, clock.clone()).await.unwrap();
    let rsu_b = RsuService::start(common::rsu_config("rsu-b", "ix-b", port, false), &sb, clock.clone()).await.unwrap();

    let seen: Arc<Mutex<Vec<(String, u64, usize)>>> = Arc::default();
    let seen_cb = seen.clone();
    let vs = common::peer_of(port).await;
    let vehicle = Vehicle::with_session(
        vs,
        RegionId::new("demo").unwrap(),
        vec![IntersectionId::new("ix-a").unwrap()],
        clock.clone(),
        Some(Arc::new(move |u: &StateUpdate| {
            seen_cb.lock().unwrap().push((u.state.intersection.to_string(), u.state.seq, u.state.objects.len()));
        })),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;

    let region = RegionId::new("demo").unwrap();
    let mut pubs = vec![];
    for rsu in ["rsu-a", "rsu-b"] {
        let key =
            Key::Detections { region: region.clone(), rsu: rsu.parse().unwrap(), sensor: "lidar-ne".parse().unwrap() };
        pubs.push(presets::declare_publisher(&hub, &key).await.unwrap());
    }
    let state_key = Key::State { region: region.clone(), intersection: "ix-a".parse().unwrap() }.to_string();
    let mut before_garbage = 0;
    for i in 0..40u64 {
        for p in &pubs {
            let f = frame(i, 20.0);
            let h = Header::new(PayloadKind::Detections, "lidar-ne", i, f.capture_time, f.capture_time);
            p.put(encode(&h, &f).unwrap()).wait().unwrap();
        }
        if i == 20 {
            before_garbage = seen.lock().unwrap().len();
            hub.put(&state_key, b"definitely not a corridor envelope, but long enough to hold its header".to_vec())
                .await
                .unwrap();
            hub.put(&state_key, vec![b'C', b'R', b'D', b'R', 1, 0, 2]).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(400)).await;

    let seen = seen.lock().unwrap().clone();
    let stats = vehicle.stats();
    assert!(before_garbage >= 5, "states before the garbage: {before_garbage}");
    assert!(
        seen.len() > before_garbage + 5,
        "state kept flowing after the garbage: {} then {}",
        before_garbage,
        seen.len()
    );
    assert!(seen.iter().all(|(ix, _, _)| ix == "ix-a"), "only ix-a: {seen:?}");
    assert!(seen.windows(2).all(|w| w[1].1 > w[0].1), "sequence numbers increase");
    assert!(seen.iter().any(|(_, _, n)| *n == 1), "the car is tracked: {seen:?}");
    assert_eq!(stats.dropped.get("bad_magic"), Some(&1), "{stats:?}");
    assert_eq!(stats.dropped.get("truncated"), Some(&1), "{stats:?}");
    // accepted counts events too (the RSU reports its three silent sensors as faults)
    assert!(stats.accepted as usize >= seen.len(), "{stats:?}");
    assert_eq!(stats.dropped.values().sum::<u64>(), 2, "only the two garbage samples were dropped: {stats:?}");
    // ix-b was published (its RSU got its detections) but never reached this vehicle
    assert!(rsu_b.stats().states_published > 10);
    assert_eq!(vehicle.latest(&IntersectionId::new("ix-b").unwrap()).map(|u| u.state.seq), None);
    assert_eq!(rsu_a.stats().dropped_total(), 0, "{:?}", rsu_a.stats().drop_reasons());
    rsu_a.stop();
    rsu_b.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_on_an_input_key_is_counted_and_the_rsu_keeps_serving() {
    let port = common::free_port();
    let hub = common::hub(port).await;
    let sa = common::peer_of(port).await;
    let mut cfg = common::rsu_config("rsu-a", "ix-a", port, false);
    cfg.input_queue = 8;
    let rsu = RsuService::start(cfg, &sa, Arc::new(SystemClock)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let key = Key::Detections {
        region: "demo".parse().unwrap(),
        rsu: "rsu-a".parse().unwrap(),
        sensor: "lidar-ne".parse().unwrap(),
    };
    // Block: every sample reaches the RSU, so its accounting can be checked exactly
    let publ =
        hub.declare_publisher(key.to_string()).congestion_control(zenoh::qos::CongestionControl::Block).await.unwrap();
    // a burst of garbage far faster than anything drains it
    for _ in 0..5000 {
        publ.put(vec![0u8; 64]).wait().unwrap();
    }
    // then real frames
    for i in 0..20u64 {
        let f = frame(i, 25.0);
        let h = Header::new(PayloadKind::Detections, "lidar-ne", i, f.capture_time, f.capture_time);
        publ.put(encode(&h, &f).unwrap()).wait().unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let s = rsu.stats();
    let reasons = s.drop_reasons();
    assert!(reasons.get("bad_magic").copied().unwrap_or(0) > 0, "{reasons:?}");
    // every sample is accounted for: refused, dropped at the full queue, or fused
    let fused = s.fusion.sensors[&SensorId::new("lidar-ne").unwrap()].frames_received;
    let refused = reasons.get("bad_magic").copied().unwrap_or(0) + reasons.get("queue_full").copied().unwrap_or(0);
    assert_eq!(refused + fused, 5020, "{reasons:?}, fused {fused}");
    assert!(fused >= 15, "the real frames after the flood got through: {fused}");
    assert!(s.states_published >= 10, "kept serving: {} states", s.states_published);
    rsu.stop();
}
