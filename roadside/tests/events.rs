//! Events end to end on a real map (demo-4arm): a pedestrian standing in a driving lane, away
//! from any crosswalk, is reported once on `corridor/{region}/ix/{intersection}/events`; the
//! three configured sensors that never send are reported as RSU faults; the stats carry the
//! input rate per sensor and where the map came from.
#![allow(clippy::unwrap_used)]

mod common;

use corridor_hdmap::{geom, LaneKind};
use corridor_model::detection::SensorKind;
use corridor_model::{Clock, Detection, DetectionFrame, Event, EventKind, ObjectClass, SensorId, SystemClock};
use corridor_wire::{decode, encode, Header, Key, Limits, PayloadKind};
use nalgebra::{Matrix3, Vector3};
use roadside::RsuService;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use zenoh::Wait;

fn ws(p: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(p)
}

/// A point in the middle of a driving lane 12-30 m from the centre, off every crosswalk.
fn lane_point() -> [f64; 2] {
    let map = corridor_hdmap::load_path(ws("maps/demo-4arm/demo-4arm.net.xml"), &Default::default()).unwrap().map;
    for lane in map.lanes.iter().filter(|l| l.kind == LaneKind::Driving) {
        let len = geom::polyline_length_m(&lane.centre_line_m);
        for i in 0..20 {
            let (p, _) = geom::point_at(&lane.centre_line_m, len * i as f64 / 20.0).unwrap();
            let r = (p[0] * p[0] + p[1] * p[1]).sqrt();
            let near_crosswalk = map.crosswalks.iter().any(|c| {
                geom::project(&c.centre_line_m, p).is_some_and(|pr| pr.lateral_m.abs() < c.width_m / 2.0 + 3.0)
            });
            if (12.0..30.0).contains(&r) && !near_crosswalk {
                return p;
            }
        }
    }
    panic!("no lane point found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pedestrian_in_a_driving_lane_and_silent_sensors_become_events() {
    let port = common::free_port();
    let hub = common::hub(port).await;
    let mut cfg = common::rsu_config("rsu-a", "ix-a", port, false);
    cfg.map = Some(ws("maps/demo-4arm/demo-4arm.net.xml"));
    cfg.events.sensor_silent_s = 1.0;
    cfg.metrics_port = common::free_port();
    let events: Arc<Mutex<Vec<Event>>> = Arc::default();
    let ev = Arc::clone(&events);
    let _sub = hub
        .declare_subscriber(
            Key::Events { region: cfg.region.clone(), intersection: cfg.intersection.clone() }.to_string(),
        )
        .callback(move |s| {
            ev.lock().unwrap().push(decode::<Event>(&s.payload().to_bytes(), Limits::default()).unwrap().1)
        })
        .await
        .unwrap();
    let rsu_session = common::peer_of(port).await;
    let rsu = RsuService::start(cfg.clone(), &rsu_session, Arc::new(SystemClock)).await.unwrap();

    // lidar-ne stands at (15, 15, 6) looking along -135 degrees: ENU -> sensor frame
    let p = lane_point();
    let (dx, dy) = (p[0] - 15.0, p[1] - 15.0);
    let yaw = (-135f64).to_radians();
    let in_sensor = Vector3::new(yaw.cos() * dx + yaw.sin() * dy, -yaw.sin() * dx + yaw.cos() * dy, -6.0);
    let key = Key::Detections { region: cfg.region.clone(), rsu: cfg.rsu.clone(), sensor: "lidar-ne".parse().unwrap() };
    let publisher = hub.declare_publisher(key.to_string()).await.unwrap();
    let mut rates = Vec::new();
    for i in 0..30u64 {
        if i >= 20 {
            rates.push(rsu.stats().input_rate_hz.get("lidar-ne").copied().unwrap_or(0.0));
        }
        let t = SystemClock.now();
        let f = DetectionFrame {
            sensor: SensorId::new("lidar-ne").unwrap(),
            kind: SensorKind::Lidar,
            frame_seq: i,
            capture_time: t,
            detections: vec![Detection {
                class: ObjectClass::Pedestrian,
                class_confidence: 0.9,
                position_m: in_sensor,
                position_cov: Matrix3::from_diagonal_element(0.01),
                velocity_mps: None,
                heading_rad: None,
                size_m: None,
            }],
        };
        publisher.put(encode(&Header::new(PayloadKind::Detections, "lidar-ne", i, t, t), &f).unwrap()).wait().unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let events = events.lock().unwrap().clone();
    let peds: Vec<_> = events.iter().filter(|e| e.kind == EventKind::PedestrianOnCarriageway).collect();
    assert_eq!(peds.len(), 1, "one event per track and kind: {events:#?}");
    let e = peds[0];
    let [x, y] = e.position_m.unwrap();
    assert!((x - p[0]).abs() < 1.5 && (y - p[1]).abs() < 1.5, "at {x},{y}, expected {p:?}");
    assert!(e.track.is_some() && e.lane.is_some(), "{e:?}");
    assert_eq!(Some(e.map_version), corridor_model::MapVersion::from_hex(&rsu.stats().map_version));
    let faults: Vec<_> = events.iter().filter(|e| e.kind == EventKind::RsuFault).map(|e| e.detail.clone()).collect();
    assert_eq!(faults.len(), 3, "{faults:?}");
    assert!(faults.iter().all(|d| !d.contains("lidar-ne")), "{faults:?}");
    let st = rsu.stats();
    assert_eq!(st.map_source, "file");
    assert_eq!(st.events_detected, 4);
    // measured over 200 ms stats periods while the feed ran at 10 Hz
    assert!(rates.iter().any(|hz| (4.0..=16.0).contains(hz)), "lidar-ne at ~10 Hz: {rates:?}");
    assert_eq!(st.input_rate_hz.get("cam-nw"), Some(&0.0));

    // the same figures on the Prometheus endpoint
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", cfg.metrics_port)).unwrap();
    conn.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut body = String::new();
    conn.read_to_string(&mut body).unwrap();
    assert!(body.contains("kind=\"pedestrian_on_carriageway\"} 1"), "{body}");
    assert!(body.contains("corridor_rsu_input_rate_hz{rsu=\"rsu-a\",sensor=\"lidar-ne\"}"), "{body}");
    assert!(body.contains("corridor_rsu_states_published{rsu=\"rsu-a\"}"), "{body}");
    rsu.stop();
}
