//! What the compiled index answers: daylight saving, date ranges, precedence,
//! classes, `next_change`, versions and the map-version refusal.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a test failure

use corridor_model::{LaneId, MapVersion, Timestamp};
use corridor_rules::{check, compile, CompiledRules, Effect, LoadError, Manoeuvre, MapFacts, QueryError, VehicleClass};

const MAP: MapVersion = MapVersion([3; 32]);

fn facts() -> MapFacts {
    let mut f = MapFacts::from_lane_ids(MAP, ["a", "b", "c"]);
    f.lanes.get_mut(&LaneId::new("a")).unwrap().centre_line_enu_m = vec![[0.0, 0.0], [10.0, 0.0]];
    f.lanes.get_mut(&LaneId::new("b")).unwrap().centre_line_enu_m = vec![[0.0, 5.0], [10.0, 5.0]];
    f.lanes.get_mut(&LaneId::new("c")).unwrap().centre_line_enu_m = vec![[100.0, 100.0]];
    f
}

fn rules(body: &str) -> CompiledRules {
    let src = format!("time_zone = \"Europe/Berlin\"\n{body}");
    match compile(&src, "t.toml", &facts()) {
        Ok(c) => c,
        Err(d) => panic!("{}", d.render(false)),
    }
}

fn t(rfc3339: &str) -> Timestamp {
    let ts: jiff::Timestamp = rfc3339.parse().unwrap();
    Timestamp::from_unix_ns(i64::try_from(ts.as_nanosecond()).unwrap())
}

fn lane(s: &str) -> LaneId {
    LaneId::new(s)
}

fn limit(c: &CompiledRules, l: &str, class: VehicleClass, at: &str) -> Option<u16> {
    c.applicable(&lane(l), class, t(at)).unwrap().speed_limit_kmh()
}

fn next(c: &CompiledRules, l: &str, class: VehicleClass, at: &str) -> Option<Timestamp> {
    c.next_change(&lane(l), class, t(at)).unwrap()
}

const CAR: VehicleClass = VehicleClass::Car;

#[test]
fn window_across_spring_forward_lasts_two_real_hours() {
    // Berlin, 2026-03-29: 02:00 CET becomes 03:00 CEST at 01:00 UTC.
    let c = rules("[[rule]]\nid = \"w\"\nscope.lanes = [\"a\"]\nvalidity.dates = [\"2026-03-29\"]\nvalidity.times = [\"01:00-04:00\"]\neffect.speed_limit_kmh = 30\n");
    assert_eq!(limit(&c, "a", CAR, "2026-03-28T23:59:59Z"), None);
    assert_eq!(limit(&c, "a", CAR, "2026-03-29T00:00:00Z"), Some(30)); // 01:00 CET
    assert_eq!(limit(&c, "a", CAR, "2026-03-29T01:30:00Z"), Some(30)); // 03:30 CEST
    assert_eq!(limit(&c, "a", CAR, "2026-03-29T01:59:59Z"), Some(30));
    assert_eq!(limit(&c, "a", CAR, "2026-03-29T02:00:00Z"), None); // 04:00 CEST
    assert_eq!(next(&c, "a", CAR, "2026-03-28T12:00:00Z"), Some(t("2026-03-29T00:00:00Z")));
    assert_eq!(next(&c, "a", CAR, "2026-03-29T00:30:00Z"), Some(t("2026-03-29T02:00:00Z")));
    assert_eq!(next(&c, "a", CAR, "2026-03-29T02:00:00Z"), None);
}

#[test]
fn window_across_fall_back_lasts_four_real_hours() {
    // Berlin, 2026-10-25: 03:00 CEST becomes 02:00 CET at 01:00 UTC.
    let c = rules("[[rule]]\nid = \"w\"\nscope.lanes = [\"a\"]\nvalidity.dates = [\"2026-10-25\"]\nvalidity.times = [\"01:00-04:00\"]\neffect.speed_limit_kmh = 30\n");
    assert_eq!(limit(&c, "a", CAR, "2026-10-24T22:59:59Z"), None);
    assert_eq!(limit(&c, "a", CAR, "2026-10-24T23:00:00Z"), Some(30)); // 01:00 CEST
    assert_eq!(limit(&c, "a", CAR, "2026-10-25T02:59:59Z"), Some(30)); // 03:59:59 CET
    assert_eq!(limit(&c, "a", CAR, "2026-10-25T03:00:00Z"), None);
    assert_eq!(next(&c, "a", CAR, "2026-10-24T23:30:00Z"), Some(t("2026-10-25T03:00:00Z")));
}

#[test]
fn window_inside_the_repeated_hour_applies_twice() {
    let c = rules("[[rule]]\nid = \"w\"\nscope.lanes = [\"a\"]\nvalidity.dates = [\"2026-10-25\"]\nvalidity.times = [\"02:30-02:45\"]\neffect.no_stopping = true\n");
    let on = |at: &str| !c.applicable(&lane("a"), CAR, t(at)).unwrap().is_empty();
    assert!(on("2026-10-25T00:35:00Z")); // 02:35 CEST
    assert!(!on("2026-10-25T01:00:00Z")); // 02:00 CET
    assert!(on("2026-10-25T01:35:00Z")); // 02:35 CET
    assert_eq!(next(&c, "a", CAR, "2026-10-25T00:00:00Z"), Some(t("2026-10-25T00:30:00Z")));
    assert_eq!(next(&c, "a", CAR, "2026-10-25T00:35:00Z"), Some(t("2026-10-25T00:45:00Z")));
    assert_eq!(next(&c, "a", CAR, "2026-10-25T00:50:00Z"), Some(t("2026-10-25T01:30:00Z")));
    assert_eq!(next(&c, "a", CAR, "2026-10-25T01:40:00Z"), Some(t("2026-10-25T01:45:00Z")));
}

#[test]
fn window_ending_in_the_skipped_hour_ends_at_the_transition() {
    let c = rules("[[rule]]\nid = \"w\"\nscope.lanes = [\"a\"]\nvalidity.dates = [\"2026-03-29\"]\nvalidity.times = [\"01:00-02:30\"]\neffect.no_stopping = true\n");
    assert!(!c.applicable(&lane("a"), CAR, t("2026-03-29T00:59:59Z")).unwrap().is_empty());
    assert!(c.applicable(&lane("a"), CAR, t("2026-03-29T01:00:00Z")).unwrap().is_empty()); // 03:00 CEST
    assert_eq!(next(&c, "a", CAR, "2026-03-29T00:10:00Z"), Some(t("2026-03-29T01:00:00Z")));
}

#[test]
fn rule_valid_only_on_a_date_range() {
    let c = rules("[[rule]]\nid = \"sept\"\nscope.lanes = [\"a\"]\nvalidity.dates = [\"2026-09-01..2026-09-30\"]\neffect.speed_limit_kmh = 40\n");
    // Local midnight in Berlin (CEST, +02:00) bounds the range.
    assert_eq!(limit(&c, "a", CAR, "2026-08-31T21:59:59Z"), None);
    assert_eq!(limit(&c, "a", CAR, "2026-08-31T22:00:00Z"), Some(40));
    assert_eq!(limit(&c, "a", CAR, "2026-09-15T12:00:00Z"), Some(40));
    assert_eq!(limit(&c, "a", CAR, "2026-09-30T21:59:59Z"), Some(40));
    assert_eq!(limit(&c, "a", CAR, "2026-09-30T22:00:00Z"), None);
    assert_eq!(next(&c, "a", CAR, "2026-01-01T00:00:00Z"), Some(t("2026-08-31T22:00:00Z")));
    assert_eq!(next(&c, "a", CAR, "2026-09-10T00:00:00Z"), Some(t("2026-09-30T22:00:00Z")));
    assert_eq!(next(&c, "a", CAR, "2026-10-10T00:00:00Z"), None);
}

#[test]
fn precedence_scope_first_then_priority() {
    let c = rules(concat!(
        "[[rule]]\nid = \"all-50\"\nscope.intersection = true\npriority = 100\neffect.speed_limit_kmh = 50\n",
        "[[rule]]\nid = \"zone-40\"\nscope.zone = [[-1, -1], [11, -1], [11, 1], [-1, 1]]\neffect.speed_limit_kmh = 40\n",
        "[[rule]]\nid = \"lane-30\"\nscope.lanes = [\"a\"]\nvalidity.times = [\"07:00-09:00\"]\neffect.speed_limit_kmh = 30\n",
        "[[rule]]\nid = \"lane-20\"\nscope.lanes = [\"a\"]\npriority = 5\nvalidity.times = [\"08:00-08:30\"]\neffect.speed_limit_kmh = 20\n",
    ));
    // Zone covers lane a only (b's centre line is at y = 5).
    assert_eq!(limit(&c, "a", CAR, "2026-06-01T04:00:00Z"), Some(40)); // 06:00 local: zone beats intersection despite priority
    assert_eq!(limit(&c, "b", CAR, "2026-06-01T04:00:00Z"), Some(50));
    assert_eq!(limit(&c, "a", CAR, "2026-06-01T05:10:00Z"), Some(30)); // 07:10: lane beats zone
    assert_eq!(limit(&c, "a", CAR, "2026-06-01T06:10:00Z"), Some(20)); // 08:10: higher priority among lanes
    assert_eq!(limit(&c, "a", CAR, "2026-06-01T06:40:00Z"), Some(30));
    let e = c.applicable(&lane("a"), CAR, t("2026-06-01T06:10:00Z")).unwrap();
    assert_eq!(e.applied().iter().map(|a| a.rule).collect::<Vec<_>>(), ["lane-20"]);
    assert_eq!(next(&c, "a", CAR, "2026-06-01T04:00:00Z"), Some(t("2026-06-01T05:00:00Z")));
    assert_eq!(next(&c, "a", CAR, "2026-06-01T05:10:00Z"), Some(t("2026-06-01T06:00:00Z")));
}

#[test]
fn school_zone_and_no_left_turn_except_buses() {
    let c = rules(concat!(
        "[calendars]\nschool_days = [\"2026-09-01..2026-10-23\", \"2026-11-02..2026-12-18\"]\n",
        "[[rule]]\nid = \"school-30\"\nscope.lanes = [\"a\", \"b\"]\nvalidity.calendar = \"school_days\"\nvalidity.weekdays = \"mon-fri\"\n",
        "validity.times = [\"07:00-09:00\", \"15:00-17:00\"]\nexcept = [\"emergency\"]\neffect.speed_limit_kmh = 30\n",
        "[[rule]]\nid = \"no-left\"\nscope.lanes = [\"a\"]\nvalidity.weekdays = \"mon-fri\"\nvalidity.times = [\"07:00-09:00\"]\n",
        "classes = [\"all\"]\nexcept = [\"bus\"]\neffect.prohibit_turn = \"left\"\n",
    ));
    // Tuesday 2026-09-08, 07:30 CEST = 05:30 UTC.
    let school_morning = "2026-09-08T05:30:00Z";
    assert_eq!(limit(&c, "a", CAR, school_morning), Some(30));
    assert_eq!(limit(&c, "a", VehicleClass::Emergency, school_morning), None);
    assert_eq!(limit(&c, "a", CAR, "2026-09-08T13:30:00Z"), Some(30)); // 15:30
    assert_eq!(limit(&c, "a", CAR, "2026-09-08T10:00:00Z"), None); // 12:00
    assert_eq!(limit(&c, "a", CAR, "2026-09-12T05:30:00Z"), None); // Saturday
    assert_eq!(limit(&c, "a", CAR, "2026-10-27T06:30:00Z"), None); // autumn holidays (CET)
    let left = |class, at: &str| c.applicable(&lane("a"), class, t(at)).unwrap().turn_allowed(Manoeuvre::Left);
    assert_eq!(left(CAR, school_morning), Some(false));
    assert_eq!(left(VehicleClass::Bus, school_morning), None);
    assert_eq!(left(CAR, "2026-09-12T05:30:00Z"), None);
    // Next change for a car at 07:30 on a school Tuesday: both end at 09:00 local.
    assert_eq!(next(&c, "a", CAR, school_morning), Some(t("2026-09-08T07:00:00Z")));
}

#[test]
fn unknown_lane_is_a_query_error() {
    let c = rules("[[rule]]\nid = \"x\"\nscope.intersection = true\neffect.no_stopping = true\n");
    assert_eq!(
        c.applicable(&lane("zz"), CAR, t("2026-01-01T00:00:00Z")).unwrap_err(),
        QueryError::UnknownLane { lane: "zz".into() }
    );
    assert!(c.next_change(&lane("zz"), CAR, t("2026-01-01T00:00:00Z")).is_err());
}

#[test]
fn version_is_a_content_hash_and_records_the_map() {
    let a = "time_zone = \"Europe/Berlin\"\n[[rule]]\nid = \"x\"\nscope.lanes = [\"a\"]\neffect.speed_limit_kmh = 30\n[[rule]]\nid = \"y\"\nscope.lanes = [\"b\"]\neffect.no_stopping = true\n";
    let reordered = "# a comment\ntime_zone = \"Europe/Berlin\"\n\n[[rule]]\nid = \"y\"\nscope.lanes = [\"b\"]\neffect = { no_stopping = true }\n[[rule]]\nid = \"x\"\nscope.lanes = [\"a\"]\neffect.speed_limit_kmh = 30\n";
    let changed = a.replace("= 30", "= 40");
    let set_a = check(a, "a", &facts()).unwrap();
    assert_eq!(set_a.version(), check(reordered, "b", &facts()).unwrap().version());
    assert_ne!(set_a.version(), check(&changed, "c", &facts()).unwrap().version());
    let mut other_map = facts();
    other_map.version = MapVersion([4; 32]);
    assert_ne!(set_a.version(), check(a, "a", &other_map).unwrap().version());

    // The RSU refuses a set validated against another map.
    let running = MapVersion([9; 32]);
    match CompiledRules::load(set_a.clone(), &running) {
        Err(LoadError::MapVersionMismatch { compiled_for, running: r }) => {
            assert_eq!((compiled_for, r), (MAP, running));
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let c = CompiledRules::load(set_a.clone(), &MAP).unwrap();
    assert_eq!(c.map_version(), MAP);
    assert_eq!(c.version(), set_a.version());
    assert!(c.ensure_map(&MAP).is_ok());
    assert!(c.ensure_map(&running).is_err());
    // An announced version that does not match the content is refused too.
    assert!(matches!(
        CompiledRules::load_verified(set_a.clone(), &MapVersion([0; 32]), &MAP),
        Err(LoadError::VersionMismatch { .. })
    ));
    assert!(CompiledRules::load_verified(set_a.clone(), &set_a.version(), &MAP).is_ok());

    // The set survives JSON (the form it travels in) with the same version.
    let json = serde_json::to_string(&set_a).unwrap();
    let back: corridor_rules::RuleSet = serde_json::from_str(&json).unwrap();
    assert_eq!(back, set_a);
    assert_eq!(back.version(), set_a.version());
}

#[test]
fn effects_serialise_for_the_cli() {
    let c = rules(concat!(
        "[[rule]]\nid = \"wz\"\nscope.lanes = [\"a\"]\neffect.work_zone = { speed_limit_kmh = 30, merge_into = \"b\" }\n",
        "[[rule]]\nid = \"bus\"\nscope.lanes = [\"b\"]\neffect.reserved_for = [\"bus\", \"taxi\"]\n",
        "[[rule]]\nid = \"rtor\"\nscope.lanes = [\"a\"]\neffect.right_turn_on_red = true\n",
    ));
    let e = c.applicable(&lane("a"), CAR, t("2026-01-01T00:00:00Z")).unwrap();
    let json = serde_json::to_value(e.applied()).unwrap();
    assert_eq!(
        json,
        serde_json::json!([
            {"rule": "rtor", "scope": "lanes", "priority": 0, "kind": "right_turn_on_red", "allowed": true},
            {"rule": "wz", "scope": "lanes", "priority": 0, "kind": "work_zone", "speed_limit_kmh": 30, "merge_into": "b"},
        ])
    );
    assert_eq!(e.speed_limit_kmh(), Some(30));
    let b = c.applicable(&lane("b"), CAR, t("2026-01-01T00:00:00Z")).unwrap();
    assert!(matches!(b.iter().next().map(|r| &r.effect), Some(Effect::ReservedLane { .. })));
}
