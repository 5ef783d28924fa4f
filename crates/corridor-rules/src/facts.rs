//! What the validator needs to know about a map, and nothing more.
//!
//! [`MapFacts`] is this crate's own view of an HD map: its content hash, its
//! lane ids with (optionally) centre-line points in the intersection's ENU
//! frame for zone scopes, and (optionally) its IANA time zone. It keeps the
//! rules core independent of `corridor-hdmap`; the `hdmap` feature adds the
//! adapter from that crate's map.

use corridor_model::{LaneId, MapVersion};
use std::collections::BTreeMap;

/// One lane, as far as the rules care.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LaneFacts {
    /// Centre-line points, metres in the intersection's ENU frame (east, north).
    /// Used to resolve zone scopes (a lane is in a zone when its centre line
    /// enters the polygon); may be empty (the lane is then in no zone).
    pub centre_line_enu_m: Vec<[f64; 2]>,
}

/// The facts about a map that rules are validated and compiled against.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MapFacts {
    /// The map's content hash; a compiled rule set records it.
    pub version: MapVersion,
    /// Every lane of the map.
    pub lanes: BTreeMap<LaneId, LaneFacts>,
    /// The intersection's IANA time zone, if the map carries one.
    pub time_zone: Option<String>,
}

impl MapFacts {
    /// Facts for a map with these lane ids and no geometry.
    pub fn from_lane_ids<I, S>(version: MapVersion, lanes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        MapFacts {
            version,
            lanes: lanes.into_iter().map(|l| (LaneId::new(l), LaneFacts::default())).collect(),
            time_zone: None,
        }
    }

    /// The lanes whose centre line enters `polygon_enu_m` (a point inside, or a
    /// segment crossing its boundary), in id order.
    pub fn lanes_in_zone(&self, polygon_enu_m: &[[f64; 2]]) -> Vec<LaneId> {
        self.lanes
            .iter()
            .filter(|(_, f)| polyline_enters_polygon(&f.centre_line_enu_m, polygon_enu_m))
            .map(|(id, _)| id.clone())
            .collect()
    }
}

/// Whether a polyline has a point inside `polygon` or a segment crossing one of its edges.
pub fn polyline_enters_polygon(line: &[[f64; 2]], polygon: &[[f64; 2]]) -> bool {
    if line.iter().any(|p| point_in_polygon(*p, polygon)) {
        return true;
    }
    let n = polygon.len();
    line.windows(2).any(|seg| (0..n).any(|i| segments_cross(seg[0], seg[1], polygon[i], polygon[(i + 1) % n])))
}

fn orient(a: [f64; 2], b: [f64; 2], c: [f64; 2]) -> f64 {
    (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
}

/// Whether segments `p1-p2` and `q1-q2` intersect (touching counts).
fn segments_cross(p1: [f64; 2], p2: [f64; 2], q1: [f64; 2], q2: [f64; 2]) -> bool {
    let (d1, d2) = (orient(q1, q2, p1), orient(q1, q2, p2));
    let (d3, d4) = (orient(p1, p2, q1), orient(p1, p2, q2));
    if ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0)) && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0)) {
        return true;
    }
    let on = |a: [f64; 2], b: [f64; 2], c: [f64; 2], d: f64| {
        d == 0.0 && c[0] >= a[0].min(b[0]) && c[0] <= a[0].max(b[0]) && c[1] >= a[1].min(b[1]) && c[1] <= a[1].max(b[1])
    };
    on(q1, q2, p1, d1) || on(q1, q2, p2, d2) || on(p1, p2, q1, d3) || on(p1, p2, q2, d4)
}

/// Even-odd point-in-polygon test (the polygon is closed implicitly).
pub fn point_in_polygon(p: [f64; 2], polygon: &[[f64; 2]]) -> bool {
    let mut inside = false;
    let n = polygon.len();
    for i in 0..n {
        let a = polygon[i];
        let b = polygon[(i + n - 1) % n];
        if (a[1] > p[1]) != (b[1] > p[1]) {
            let x = a[0] + (p[1] - a[1]) * (b[0] - a[0]) / (b[1] - a[1]);
            if p[0] < x {
                inside = !inside;
            }
        }
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_resolution() {
        let mut f = MapFacts::from_lane_ids(MapVersion::default(), ["a", "b"]);
        f.lanes.get_mut(&LaneId::new("a")).unwrap().centre_line_enu_m = vec![[1.0, 1.0], [50.0, 1.0]];
        f.lanes.get_mut(&LaneId::new("b")).unwrap().centre_line_enu_m = vec![[-5.0, -5.0]];
        let square = [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]];
        assert_eq!(f.lanes_in_zone(&square), vec![LaneId::new("a")]);
        assert!(!point_in_polygon([11.0, 5.0], &square));
        assert!(point_in_polygon([5.0, 5.0], &square));
        // A lane crossing the zone with no vertex inside is in it.
        assert!(polyline_enters_polygon(&[[-5.0, 5.0], [20.0, 5.0]], &square));
        assert!(!polyline_enters_polygon(&[[-5.0, 20.0], [20.0, 20.0]], &square));
    }
}
