//! The RSU with an HD map and traffic rules: objects are lane-matched, states name the map and
//! rules versions, and a rule set validated against another map is refused (the rules in force
//! stay).
#![allow(clippy::unwrap_used)] // test helpers

use corridor_hdmap::{ImportOptions, LaneMatcher};
use corridor_model::detection::SensorKind;
use corridor_model::{Detection, DetectionFrame, MapVersion, ObjectClass, SensorId, Timestamp};
use corridor_wire::{encode, Header, PayloadKind};
use nalgebra::{Matrix3, Point3};
use roadside::config::DEFAULT_CONFIG;
use roadside::knowledge::{KnowledgeError, MapKnowledge};
use roadside::{RsuConfig, RsuCore};
use std::path::{Path, PathBuf};

fn maps() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../maps")
}

fn knowledge() -> MapKnowledge {
    MapKnowledge::load(&maps().join("demo-4arm/demo-4arm.net.xml"), Some(&maps().join("demo-4arm/rules.toml"))).unwrap()
}

#[test]
fn states_name_map_and_rules_versions_and_objects_get_lanes() {
    let cfg = RsuConfig::parse(DEFAULT_CONFIG, "default").unwrap();
    let lidar = cfg.sensors.iter().find(|s| s.id.as_str() == "lidar-ne").unwrap().spec();
    let k = knowledge();
    let map_version = k.map_version();
    let rules_version = k.rules_version().expect("rules in force");
    // the middle of an approach lane within 50 m of the lidar, where no other lane overlaps: internal
    // (junction) lanes share their end points, so a point there matches either of them on a rounding
    // error and the test would check the tie-break, not the RSU
    let sensor_xy = lidar.extrinsics.enu_from_sensor.translation.vector.xy();
    let matcher = LaneMatcher::new(k.map());
    let (lane, p) = k
        .map()
        .lanes
        .iter()
        .filter(|l| !l.id.as_str().starts_with(':') && l.centre_line_m.len() >= 2)
        .map(|l| {
            let a = l.centre_line_m[0];
            let b = l.centre_line_m[l.centre_line_m.len() - 1];
            (l.id.clone(), [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0])
        })
        .find(|(id, p)| {
            (nalgebra::Vector2::new(p[0], p[1]) - sensor_xy).norm() < 50.0
                && matcher.match_position(p[0], p[1], None).is_some_and(|m| m.lane == *id)
        })
        .expect("an approach lane near the pole");
    let expected = Some(lane.clone());

    let mut core = RsuCore::new(cfg);
    core.set_knowledge(k).unwrap();
    let p_sensor = lidar.extrinsics.to_sensor(&Point3::new(p[0], p[1], 0.8));
    let t0 = Timestamp::from_secs_f64(1_000.0);
    let mut last = None;
    for i in 0..20u64 {
        let t = t0.add_secs_f64(i as f64 * 0.1);
        let f = DetectionFrame {
            sensor: SensorId::new("lidar-ne").unwrap(),
            kind: SensorKind::Lidar,
            frame_seq: i,
            capture_time: t,
            detections: vec![Detection {
                class: ObjectClass::Car,
                class_confidence: 0.9,
                position_m: p_sensor.coords,
                position_cov: Matrix3::from_diagonal_element(0.0225),
                velocity_mps: None,
                heading_rad: None,
                size_m: None,
            }],
        };
        let bytes = encode(&Header::new(PayloadKind::Detections, "lidar-ne", i, t, t), &f).unwrap();
        core.handle_sample(t, "corridor/demo/rsu/rsu-a/sensor/lidar-ne/det", &bytes);
        core.handle_timeout(t.add_secs_f64(0.5));
        if let Some(s) = core.poll_state(t.add_secs_f64(0.5)) {
            last = Some(s);
        }
    }
    let state = last.expect("states");
    assert_eq!(state.map_version, map_version);
    assert_eq!(state.rules_version, Some(rules_version));
    assert_eq!(state.objects.len(), 1);
    assert_eq!(state.objects[0].lane, expected, "{:?}", state.objects[0].position_m);
}

#[test]
fn rules_for_another_map_are_refused_and_the_rules_in_force_stay() {
    let mut core = RsuCore::new(RsuConfig::parse(DEFAULT_CONFIG, "default").unwrap());
    core.set_knowledge(knowledge()).unwrap();
    let before = core.knowledge().unwrap().rules_version();
    let other =
        corridor_hdmap::load_path(maps().join("arterial-3/arterial-3.net.xml"), &ImportOptions::default()).unwrap().map;
    let text = std::fs::read_to_string(maps().join("arterial-3/rules.toml")).unwrap();
    let set = corridor_rules::check(&text, "arterial-3/rules.toml", &corridor_rules::hdmap::facts(&other)).unwrap();
    let err = core.replace_rules(set).unwrap_err();
    assert!(
        matches!(err, KnowledgeError::Load(corridor_rules::LoadError::MapVersionMismatch { compiled_for, running })
            if compiled_for == other.version() && running == core.knowledge().unwrap().map_version()),
        "{err}"
    );
    assert_eq!(core.knowledge().unwrap().rules_version(), before);
}

#[test]
fn a_config_naming_another_map_version_is_refused() {
    let mut cfg = RsuConfig::parse(DEFAULT_CONFIG, "default").unwrap();
    cfg.map_version = MapVersion([1; 32]).to_hex();
    let err = RsuCore::new(cfg).set_knowledge(knowledge()).unwrap_err();
    assert!(matches!(err, KnowledgeError::VersionMismatch { .. }), "{err}");
}

#[test]
fn invalid_rules_are_refused_with_file_line_col() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("rules.toml");
    let text = std::fs::read_to_string(maps().join("demo-4arm/rules.toml")).unwrap();
    // point the first lane reference at a lane that does not exist
    let first_lane = text.find("lanes = [\"").expect("a lane scope in the shipped rules") + "lanes = [\"".len();
    let broken =
        format!("{}no-such-lane{}", &text[..first_lane], &text[first_lane + text[first_lane..].find('"').unwrap()..]);
    std::fs::write(&bad, broken).unwrap();
    let err = MapKnowledge::load(&maps().join("demo-4arm/demo-4arm.net.xml"), Some(&bad)).unwrap_err().to_string();
    assert!(err.contains("no-such-lane"), "{err}");
    assert!(err.contains(&format!("{}:", bad.display())), "names the file: {err}");
}
