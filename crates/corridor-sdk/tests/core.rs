//! The sans-IO core end to end on the demo-4arm map: maps by version (pending until verified),
//! queries, statuses, disk cache, route matching and progress.
#![allow(clippy::unwrap_used)]

use corridor_model::{IntersectionId, MapVersion, RegionId, Timestamp};
use corridor_sdk::testkit::{self, MONDAY_10AM};
use corridor_sdk::{
    ConnectionChoice, Corridor, CorridorConfig, EgoPose, FetchRequest, InPathOptions, PathZone, Position, QueryError,
    Route, StatusEvent, Usability, VehicleClass,
};
use std::f64::consts::FRAC_PI_2;

fn ix(s: &str) -> IntersectionId {
    IntersectionId::new(s).unwrap()
}

fn t(s: f64) -> Timestamp {
    Timestamp::from_unix_ns(MONDAY_10AM * 1_000_000_000).add_secs_f64(s)
}

fn core(cache: Option<std::path::PathBuf>) -> Corridor {
    let mut cfg = CorridorConfig::new(RegionId::new("demo").unwrap(), Route::intersections([ix("ix-a")]));
    cfg.cache_dir = cache;
    Corridor::new(cfg)
}

fn statuses(c: &mut Corridor) -> Vec<StatusEvent> {
    std::iter::from_fn(|| c.poll_status()).collect()
}

/// Feeds a state; returns (map version, rules version).
fn feed(c: &mut Corridor, seq: u64, at: f64) -> (MapVersion, MapVersion) {
    let (_, mv) = testkit::map_bundle(&ix("ix-a")).unwrap();
    let (_, rv) = testkit::rules_bundle(&ix("ix-a")).unwrap();
    let s = testkit::state(&ix("ix-a"), seq, t(at), 20, mv, Some(rv));
    let (k, b) = testkit::encode_state("demo", &s).unwrap();
    c.handle_state(&k, &b, t(at + 0.03)).unwrap();
    (mv, rv)
}

fn ready(c: &mut Corridor) {
    let (m, _) = testkit::map_bundle(&ix("ix-a")).unwrap();
    c.handle_map_bundle(&m, t(0.0)).unwrap();
    let (r, _) = testkit::rules_bundle(&ix("ix-a")).unwrap();
    c.handle_rules_bundle(&r, t(0.0)).unwrap();
}

// north-bound on the middle lane of the south approach, 10 m before the stop line
fn approaching() -> EgoPose {
    EgoPose::enu(3.2, -22.0, FRAC_PI_2)
}

#[test]
fn a_state_is_unusable_until_its_map_is_fetched_and_verified() {
    let mut c = core(None);
    let (mv, rv) = feed(&mut c, 1, 0.0);
    assert_eq!(c.usability(&ix("ix-a"), t(0.05)), Usability::MapPending { version: mv });
    let err = c.my_lane(&approaching(), VehicleClass::Car, t(0.05)).unwrap_err();
    assert!(matches!(err, QueryError::Unusable { usability: Usability::MapPending { .. }, .. }), "{err:?}");
    assert_eq!(c.due_fetches(t(0.05)), vec![FetchRequest::Map { intersection: ix("ix-a"), version: mv }]);
    assert_eq!(
        FetchRequest::Map { intersection: ix("ix-a"), version: mv }.selector(&RegionId::new("demo").unwrap()),
        format!("corridor/demo/map/ix-a?version={}", mv.to_hex())
    );
    // not re-sent before the retry interval, re-sent after
    assert!(c.due_fetches(t(0.5)).is_empty());
    assert_eq!(c.due_fetches(t(2.1)).len(), 1);
    let (m, _) = testkit::map_bundle(&ix("ix-a")).unwrap();
    assert_eq!(c.handle_map_bundle(&m, t(0.1)).unwrap(), mv);
    // now the rules the state names are wanted
    assert_eq!(c.due_fetches(t(0.1)), vec![FetchRequest::Rules { intersection: ix("ix-a"), version: rv }]);
    assert_eq!(c.usability(&ix("ix-a"), t(0.1)), Usability::Usable);
    let st = statuses(&mut c);
    assert!(st.contains(&StatusEvent::MapVersionChanged { intersection: ix("ix-a"), from: None, to: mv }));
    assert!(st.contains(&StatusEvent::MapReady { intersection: ix("ix-a"), version: mv }));
}

#[test]
fn a_map_whose_source_does_not_hash_to_its_version_is_refused() {
    let mut c = core(None);
    let (mv, _) = feed(&mut c, 1, 0.0);
    let mut bundle = corridor_sdk::knowledge::decode_map_bundle(&testkit::map_bundle(&ix("ix-a")).unwrap().0).unwrap();
    // a tampered source: one lane speed changed
    let text = String::from_utf8(bundle.source.clone()).unwrap().replacen("speed=\"13.89\"", "speed=\"23.89\"", 1);
    bundle.source = text.into_bytes();
    let h = corridor_wire::Header::new(corridor_wire::PayloadKind::Map, "cloud", 2, Timestamp::EPOCH, Timestamp::EPOCH);
    let bytes = corridor_wire::encode(&h, &bundle).unwrap();
    let err = c.handle_map_bundle(&bytes, t(0.1)).unwrap_err();
    assert!(err.to_string().contains("announced version"), "{err}");
    assert!(matches!(c.usability(&ix("ix-a"), t(0.1)), Usability::MapRejected { version, .. } if version == mv));
    assert!(c.my_lane(&approaching(), VehicleClass::Car, t(0.1)).is_err());
}

#[test]
fn my_lane_gives_connection_signal_time_to_change_and_rules() {
    let mut c = core(None);
    feed(&mut c, 1, 0.0);
    ready(&mut c);
    let a = c.my_lane(&approaching(), VehicleClass::Car, t(0.4)).unwrap();
    assert_eq!(a.lane.as_str(), "bottom0A0.110.00_1");
    assert!((a.to_lane_end_m - 10.0).abs() < 0.5, "{}", a.to_lane_end_m);
    let conn = a.connection.unwrap();
    assert_eq!((conn.egress.as_str(), conn.chosen_by), ("A0top0_1", ConnectionChoice::OnlyOne));
    let sig = a.signal.unwrap();
    assert_eq!(sig.group.0, 10);
    assert!(sig.state.unwrap().is_red());
    let ttc = sig.time_to_change.unwrap();
    // likely end is capture + 8 s, asked 0.4 s after capture
    assert!((ttc.likely_s.unwrap() - 7.6).abs() < 1e-6);
    assert!((ttc.min_s - 4.6).abs() < 1e-6);
    assert!((ttc.max_s.unwrap() - 19.6).abs() < 1e-6);
    let rules = a.rules.unwrap();
    assert_eq!(rules.speed_limit_kmh, Some(50.0));
    assert!(!rules.closed);
    assert_eq!(a.provenance.rsu.as_str(), "rsu-a");
    assert!((a.provenance.age_s - 0.4).abs() < 1e-9);
    assert!(a.provenance.rules_version.is_some());
    // stale after the freshness window: an error, never an old answer
    let err = c.my_lane(&approaching(), VehicleClass::Car, t(3.0)).unwrap_err();
    assert!(matches!(err, QueryError::Unusable { usability: Usability::Stale { .. }, .. }), "{err:?}");
}

#[test]
fn rules_in_force_depend_on_the_lane_and_the_class() {
    let mut c = core(None);
    feed(&mut c, 1, 0.0);
    ready(&mut c);
    // the south approach's inner upstream lane is a work zone in November 2026
    let upstream = EgoPose::enu(3.2, -80.0, FRAC_PI_2);
    let a = c.my_lane(&upstream, VehicleClass::Car, t(0.1)).unwrap();
    assert_eq!(a.lane.as_str(), "bottom0A0_1");
    let r = a.rules.unwrap();
    assert!(r.closed);
    assert_eq!(r.merge_into.as_ref().map(|l| l.as_str()), Some("bottom0A0_0"));
    assert_eq!(r.speed_limit_kmh, Some(30.0));
    // two straight connections leave this lane: a guess, with lower confidence
    assert_eq!(a.connection.unwrap().chosen_by, ConnectionChoice::GuessStraight);
    assert!(a.provenance.confidence <= 0.5);
}

#[test]
fn objects_in_the_ego_frame_are_rotated_with_their_covariance() {
    let mut c = core(None);
    feed(&mut c, 1, 0.0);
    ready(&mut c);
    let s = c.latest(&ix("ix-a")).unwrap().state.clone();
    let pose = EgoPose::enu(10.0, 5.0, FRAC_PI_2); // facing north
    let out = c.objects_in_ego(&ix("ix-a"), &pose, t(0.0)).unwrap();
    assert_eq!(out.objects.len(), s.objects.len());
    for (o, e) in s.objects.iter().zip(&out.objects) {
        // facing north: forward = north (y - 5), left = west (-(x - 10))
        assert!((e.position_m[0] - (o.position_m.y - 5.0)).abs() < 1e-9);
        assert!((e.position_m[1] + (o.position_m.x - 10.0)).abs() < 1e-9);
        assert!((e.velocity_mps[0] - o.velocity_mps.y).abs() < 1e-9);
        // the diagonal covariance swaps x and y variances
        assert!((e.covariance[(0, 0)] - o.covariance[(1, 1)]).abs() < 1e-6);
        assert!(!e.stale);
    }
    assert_eq!(out.provenance.confidence, 1.0);
}

#[test]
fn in_path_finds_an_object_crossing_the_ego_lane_ahead() {
    let mut c = core(None);
    let (mv, rv) = testkit::map_bundle(&ix("ix-a"))
        .map(|(_, v)| v)
        .map(|v| (v, testkit::rules_bundle(&ix("ix-a")).unwrap().1))
        .unwrap();
    let mut s = testkit::state(&ix("ix-a"), 1, t(0.0), 3, mv, Some(rv));
    // object 0: pedestrian west of the lane walking east across it at 1.5 m/s, 15 m ahead
    s.objects[0].position_m = nalgebra::Vector3::new(-3.0, -7.0, 0.0);
    s.objects[0].velocity_mps = nalgebra::Vector3::new(1.5, 0.0, 0.0);
    s.objects[0].size_m = corridor_model::Size3::new(0.5, 0.5, 1.7);
    // object 1: car far east driving east: never in the path
    s.objects[1].position_m = nalgebra::Vector3::new(80.0, -6.4, 0.0);
    s.objects[1].velocity_mps = nalgebra::Vector3::new(10.0, 0.0, 0.0);
    // object 2: parked far south-west
    s.objects[2].position_m = nalgebra::Vector3::new(-100.0, -100.0, 0.0);
    s.objects[2].velocity_mps = nalgebra::Vector3::zeros();
    let (k, b) = testkit::encode_state("demo", &s).unwrap();
    c.handle_state(&k, &b, t(0.0)).unwrap();
    ready(&mut c);
    let p = c.in_path(&approaching(), VehicleClass::Car, InPathOptions::default(), t(0.0)).unwrap();
    assert_eq!(p.objects.len(), 1, "{:?}", p.objects);
    let hit = &p.objects[0];
    assert_eq!(hit.object.track_id, s.objects[0].track_id);
    assert!(hit.time_to_enter_s > 0.5 && hit.time_to_enter_s < 5.0, "{}", hit.time_to_enter_s);
    assert!(matches!(hit.zone, PathZone::Lane(_) | PathZone::ConflictZone(_)));
}

#[test]
fn gaps_restarts_and_staleness_are_typed_statuses() {
    let mut c = core(None);
    feed(&mut c, 1, 0.0);
    feed(&mut c, 5, 0.4);
    feed(&mut c, 0, 0.5); // restart
    let st = statuses(&mut c);
    assert!(st.contains(&StatusEvent::SequenceGap { intersection: ix("ix-a"), missed: 3 }), "{st:?}");
    assert!(st.contains(&StatusEvent::RsuRestart { intersection: ix("ix-a") }));
    c.tick(t(2.0));
    assert!(matches!(c.poll_status(), Some(StatusEvent::BecameStale { age_s, .. }) if age_s > 1.0));
    c.tick(t(3.0)); // reported once
    assert_eq!(c.poll_status(), None);
}

#[test]
fn maps_are_cached_on_disk_and_a_tampered_cache_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = core(Some(dir.path().into()));
    let (mv, _) = feed(&mut c, 1, 0.0);
    ready(&mut c);
    let file = dir.path().join("ix-a").join(format!("map-{}.bin", mv.to_hex()));
    assert!(file.exists());
    // a new vehicle finds the map (and rules) in the cache: no fetch
    let mut c2 = core(Some(dir.path().into()));
    feed(&mut c2, 1, 0.0);
    assert_eq!(c2.usability(&ix("ix-a"), t(0.1)), Usability::Usable);
    assert!(c2.due_fetches(t(0.1)).is_empty());
    assert!(c2.my_lane(&approaching(), VehicleClass::Car, t(0.1)).unwrap().rules.is_some());
    // tamper with the cached map: refused, removed, fetched again
    let mut bytes = std::fs::read(&file).unwrap();
    let n = bytes.len();
    bytes[n - 100] ^= 0x20;
    std::fs::write(&file, bytes).unwrap();
    let mut c3 = core(Some(dir.path().into()));
    feed(&mut c3, 1, 0.0);
    assert_eq!(c3.usability(&ix("ix-a"), t(0.1)), Usability::MapPending { version: mv });
    assert!(!file.exists());
    assert_eq!(c3.due_fetches(t(0.1)).len(), 1);
}

#[test]
fn hazards_on_the_route_ahead_carry_their_provenance() {
    let mut c = core(None);
    let (mv, _) = feed(&mut c, 1, 0.0);
    let (k, b) = testkit::event("demo", &ix("ix-a"), 1, t(0.2), "A0top0_1", mv).unwrap();
    c.handle_event(&k, &b, t(0.25)).unwrap();
    // a duplicate (same event id) is dropped
    assert!(c.handle_event(&k, &b, t(0.3)).is_err());
    let h = c.hazards(t(1.0));
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].event.kind, corridor_model::EventKind::StoppedVehicle);
    assert_eq!(h[0].provenance.map_version, mv);
    assert!((h[0].provenance.age_s - 0.8).abs() < 1e-9);
    // forgotten after the event TTL
    assert!(c.hazards(t(100.0)).is_empty());
}

#[test]
fn a_polyline_route_is_matched_to_intersections_and_passed_ones_are_dropped() {
    let mut probe = core(None);
    ready(&mut probe);
    let (_, mv) = testkit::map_bundle(&ix("ix-a")).unwrap();
    let k = probe.knowledge(&ix("ix-a"), &mv).unwrap().clone();
    // from the south, straight through to the north arm and beyond the map
    let pts: Vec<Position> =
        [[3.2, -140.0], [3.2, 0.0], [3.2, 300.0]].iter().map(|p| Position::Enu { x_m: p[0], y_m: p[1] }).collect();
    let route = Route::from_polyline(&pts, &[&k]).unwrap();
    assert_eq!(route.stops().len(), 1);
    assert_eq!(route.stops()[0].intersection, ix("ix-a"));
    assert!(route.stops()[0].lanes.iter().any(|l| l.as_str() == "A0top0_1"));
    // the route makes the connection choice on a lane with two straight connections
    let mut cfg = CorridorConfig::new(RegionId::new("demo").unwrap(), route);
    cfg.freshness_s = 10.0;
    let mut c = Corridor::new(cfg);
    feed(&mut c, 1, 0.0);
    ready(&mut c);
    let a = c.my_lane(&EgoPose::enu(3.2, -80.0, FRAC_PI_2), VehicleClass::Car, t(0.1)).unwrap();
    assert_eq!(a.connection.unwrap().chosen_by, ConnectionChoice::Route);
    assert!(c.update_pose(&EgoPose::enu(3.2, 0.0, FRAC_PI_2), t(0.2)).is_empty());
    assert_eq!(c.subscriptions().len(), 2);
    // beyond the last route point on the map: passed, unsubscribed, forgotten
    let passed = c.update_pose(&EgoPose::enu(3.2, 175.0, FRAC_PI_2), t(0.3));
    assert_eq!(passed, vec![ix("ix-a")]);
    assert!(c.subscriptions().is_empty());
    assert!(c.latest(&ix("ix-a")).is_none());
    assert!(statuses(&mut c).contains(&StatusEvent::Passed { intersection: ix("ix-a") }));
}

#[test]
fn a_list_route_drops_an_intersection_once_the_ego_has_left_it() {
    let mut cfg = CorridorConfig::new(RegionId::new("demo").unwrap(), Route::intersections([ix("ix-a")]));
    cfg.freshness_s = 10.0;
    let mut c = Corridor::new(cfg);
    feed(&mut c, 1, 0.0);
    ready(&mut c);
    assert!(c.update_pose(&EgoPose::enu(3.2, -20.0, FRAC_PI_2), t(0.1)).is_empty());
    assert_eq!(c.update_pose(&EgoPose::enu(3.2, 400.0, FRAC_PI_2), t(0.2)), vec![ix("ix-a")]);
}

#[test]
fn wgs84_poses_are_placed_through_the_map_origin() {
    let mut c = core(None);
    feed(&mut c, 1, 0.0);
    ready(&mut c);
    let (_, mv) = testkit::map_bundle(&ix("ix-a")).unwrap();
    let origin = c.knowledge(&ix("ix-a"), &mv).unwrap().map.origin.unwrap();
    let g = corridor_model::EnuFrame::new(origin).geo_from_enu(&nalgebra::Point3::new(3.2, -22.0, 0.0));
    let a = c.my_lane(&EgoPose::wgs84(g.lat_deg, g.lon_deg, FRAC_PI_2), VehicleClass::Car, t(0.1)).unwrap();
    assert_eq!(a.lane.as_str(), "bottom0A0.110.00_1");
}
