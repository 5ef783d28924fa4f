//! The shipped `maps/<name>/rules.toml` files, checked against their real maps
//! through the `corridor-hdmap` adapter (feature `hdmap`, on in workspace builds).
#![cfg(feature = "hdmap")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a test failure

use corridor_model::{LaneId, Timestamp};
use corridor_rules::{compile, hdmap, CompiledRules, Effect, Manoeuvre, Scope, VehicleClass};
use std::path::PathBuf;

fn load(name: &str) -> (CompiledRules, corridor_model::MapVersion) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../maps").join(name);
    let map = corridor_hdmap::load_path(dir.join(format!("{name}.net.xml")), &Default::default()).unwrap().map;
    let facts = hdmap::facts(&map);
    let text = std::fs::read_to_string(dir.join("rules.toml")).unwrap();
    let compiled = compile(&text, "rules.toml", &facts).unwrap_or_else(|d| panic!("{}", d.render(false)));
    (compiled, map.version())
}

fn t(s: &str) -> Timestamp {
    let ts: jiff::Timestamp = s.parse().unwrap();
    Timestamp::from_unix_ns(i64::try_from(ts.as_nanosecond()).unwrap())
}

#[test]
fn demo_4arm_rules_validate_and_answer() {
    let (c, map_version) = load("demo-4arm");
    assert_eq!(c.map_version(), map_version);
    assert!(c.ensure_map(&map_version).is_ok());

    // The school zone polygon covers exactly the north arm's road lanes (not the junction).
    let zone = c.rule_set().rules.iter().find(|r| r.id == "school-zone-north-30").unwrap();
    let Scope::Zone { lanes, .. } = &zone.scope else { panic!("not a zone: {:?}", zone.scope) };
    let names: Vec<&str> = lanes.iter().map(LaneId::as_str).collect();
    // Every lane of the north arm, in and out, and nothing else (the junction starts at y = 12 m).
    for lane in ["top0A0_0", "top0A0_1", "top0A0.110.00_2", "A0top0_0", "A0top0_1"] {
        assert!(names.contains(&lane), "{lane} not in {names:?}");
    }
    assert!(names.iter().all(|n| n.contains("top0")), "{names:?}");

    let q = |lane: &str, class, at: &str| c.applicable(&LaneId::new(lane), class, t(at)).unwrap();
    let school = "2026-09-08T07:30:00+08:00"; // a Tuesday in term
    assert_eq!(q("top0A0_0", VehicleClass::Car, school).speed_limit_kmh(), Some(30));
    assert_eq!(q("top0A0_0", VehicleClass::Emergency, school).speed_limit_kmh(), Some(50));
    assert_eq!(q("top0A0_0", VehicleClass::Car, "2026-10-02T07:30:00+08:00").speed_limit_kmh(), Some(50)); // National Day
    assert_eq!(q("left0A0.110.00_2", VehicleClass::Car, school).turn_allowed(Manoeuvre::Left), Some(false));
    assert_eq!(q("left0A0.110.00_2", VehicleClass::Bus, school).turn_allowed(Manoeuvre::Left), None);
    let rtor = |lane: &str| {
        q(lane, VehicleClass::Car, school).iter().find_map(|r| match r.effect {
            Effect::RightTurnOnRed { allowed } => Some(allowed),
            _ => None,
        })
    };
    assert_eq!(rtor("bottom0A0.110.00_0"), Some(true));
    assert_eq!(rtor("left0A0.110.00_0"), Some(false));
    let wz = q("bottom0A0_1", VehicleClass::Truck, "2026-12-01T12:00:00+08:00");
    assert_eq!(wz.speed_limit_kmh(), Some(30));
    assert!(wz
        .iter()
        .any(|r| matches!(&r.effect, Effect::WorkZone { merge_into: Some(l), .. } if l.as_str() == "bottom0A0_0")));
    let bus_lane = q("right0A0_0", VehicleClass::Car, "2026-09-08T17:30:00+08:00");
    assert!(bus_lane.iter().any(
        |r| matches!(r.effect, Effect::ReservedLane { reserved_for } if reserved_for.contains(VehicleClass::Bus))
    ));
}

#[test]
fn arterial_3_rules_validate() {
    let (c, map_version) = load("arterial-3");
    assert_eq!(c.map_version(), map_version);
    let q =
        |lane: &str, at: &str| c.applicable(&LaneId::new(lane), VehicleClass::Car, t(at)).unwrap().speed_limit_kmh();
    assert_eq!(q("top1B0_0", "2026-09-08T15:30:00+08:00"), Some(30));
    assert_eq!(q("top0A0_0", "2026-09-08T15:30:00+08:00"), Some(50)); // A0's north arm is not a school zone
    assert_eq!(q("B0C0_1", "2026-12-01T12:00:00+08:00"), Some(30));
}
