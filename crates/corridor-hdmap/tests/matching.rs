//! Lane matching: points sampled on a lane's centre line match that lane (property test on real
//! and generated maps); off the map gives no lane; heading picks between opposite lanes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failure

mod common;

use corridor_hdmap::{geom, load_path, HdMap, ImportOptions, LaneKind, LaneMatcher};
use proptest::prelude::*;
use std::sync::OnceLock;

fn maps() -> &'static Vec<(String, HdMap, LaneMatcher)> {
    static MAPS: OnceLock<Vec<(String, HdMap, LaneMatcher)>> = OnceLock::new();
    MAPS.get_or_init(|| {
        let r = common::realmaps_dir();
        [
            common::workspace_root().join("maps/demo-4arm/demo-4arm.net.xml"),
            r.join("sumo/sumo_game_fokr_bs_demo/fokr_bs_demo/fokr_bs.net.xml.gz"),
            r.join("opendrive/commonroad/MONAEast.xodr"),
            r.join("opendrive/commonroad/USA_Lanker-1_17_T-1.xodr"),
            r.join("lanelet2/tier4_test_intersection_tokyo/lanelet2_map.osm"),
        ]
        .into_iter()
        .map(|p| {
            let m = load_path(&p, &ImportOptions::default()).unwrap().map;
            let matcher = LaneMatcher::new(&m);
            (p.display().to_string(), m, matcher)
        })
        .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// A point on lane L's centre line, with L's heading, matches L, unless another lane's
    /// centre line passes through the same point in the same direction (merging lanes at a
    /// junction, which no matcher can tell apart): then that lane must really be there.
    #[test]
    fn a_point_on_a_centre_line_matches_its_lane(map_i in 0usize..5, lane_f in 0.0f64..1.0, s_f in 0.02f64..0.98) {
        let (name, map, matcher) = &maps()[map_i];
        let lanes: Vec<_> = map.lanes.iter().filter(|l| l.length_m() > 1.0 && l.width_m.iter().all(|w| *w > 0.5)).collect();
        let lane = lanes[((lane_f * lanes.len() as f64) as usize).min(lanes.len() - 1)];
        let (p, h) = geom::point_at(&lane.centre_line_m, s_f * lane.length_m()).unwrap();
        let m = matcher.match_position(p[0], p[1], Some(h));
        let m = m.unwrap_or_else(|| panic!("{name}: {} at {p:?} matched nothing", lane.id));
        if m.lane != lane.id {
            let other = &map.lanes[m.lane_index];
            let pr = geom::project(&other.centre_line_m, p).unwrap();
            prop_assert!(pr.lateral_m.abs() < 0.05, "{name}: {} at {p:?} matched {} {pr:?}", lane.id, other.id);
            prop_assert!(m.heading_error_rad.unwrap().abs() < 0.2, "{name}: {} matched {} {m:?}", lane.id, other.id);
        } else {
            prop_assert!((m.s_m - s_f * lane.length_m()).abs() < 0.05, "{name}: s {} vs {}", m.s_m, s_f * lane.length_m());
            prop_assert!(m.lateral_m.abs() < 0.01);
        }
    }

    /// Far from every lane: nothing, never a wrong lane.
    #[test]
    fn off_the_map_is_no_lane(map_i in 0usize..5, angle in 0.0f64..std::f64::consts::TAU, dist_m in 20_000.0f64..50_000.0) {
        let (_, _, matcher) = &maps()[map_i];
        prop_assert!(matcher.match_position(dist_m * angle.cos(), dist_m * angle.sin(), None).is_none());
    }
}

#[test]
fn most_centre_line_points_match_their_own_lane() {
    // the proptest above allows indistinguishable overlaps; make sure they are the exception
    for (name, map, matcher) in maps() {
        let (mut own, mut total) = (0, 0);
        for l in map.lanes.iter().filter(|l| l.length_m() > 1.0) {
            let (p, h) = geom::point_at(&l.centre_line_m, l.length_m() / 2.0).unwrap();
            total += 1;
            if matcher.match_position(p[0], p[1], Some(h)).is_some_and(|m| m.lane == l.id) {
                own += 1;
            }
        }
        assert!(own as f64 >= 0.9 * total as f64, "{name}: only {own}/{total} mid points match their own lane");
    }
}

#[test]
fn beside_the_lane_and_past_its_end_is_no_lane() {
    let (_, map, matcher) = &maps()[0]; // demo-4arm
    for l in map.lanes.iter().filter(|l| l.kind == LaneKind::Driving && l.successors.is_empty()) {
        // lanes leaving the map: just past their end there is nothing
        let pts = &l.centre_line_m;
        let (a, b) = (pts[pts.len() - 2], pts[pts.len() - 1]);
        let h = geom::heading_rad(a, b);
        let beyond = [b[0] + 2.0 * h.cos(), b[1] + 2.0 * h.sin()];
        assert!(matcher.match_position(beyond[0], beyond[1], None).is_none(), "{} {beyond:?}", l.id);
    }
    // 20 m beside the outermost lane of an arm, in the fields
    assert!(matcher.match_position(50.0, 50.0, None).is_none());
    assert!(matcher.match_position(f64::NAN, 0.0, None).is_none());
}

#[test]
fn heading_picks_the_direction_of_travel() {
    let (_, map, matcher) = &maps()[0];
    // a point on a lane: with the reverse heading it must not match that lane
    let l = map.lanes.iter().find(|l| l.kind == LaneKind::Driving && l.length_m() > 50.0).unwrap();
    let (p, h) = geom::point_at(&l.centre_line_m, 20.0).unwrap();
    let fwd = matcher.match_position(p[0], p[1], Some(h)).unwrap();
    assert_eq!(fwd.lane, l.id);
    assert!(fwd.heading_error_rad.unwrap().abs() < 1e-6);
    let back = matcher.match_position(p[0], p[1], Some(h + std::f64::consts::PI));
    assert!(back.as_ref().is_none_or(|m| m.lane != l.id), "{back:?}");
    // lateral offset sign: 1 m to the left of travel is +1
    let left = [p[0] - h.sin(), p[1] + h.cos()];
    let m = matcher.match_position(left[0], left[1], Some(h)).unwrap();
    assert_eq!(m.lane, l.id);
    assert!((m.lateral_m - 1.0).abs() < 1e-6, "{m:?}");
}
