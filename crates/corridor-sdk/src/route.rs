//! Routes and ego poses: which intersections the vehicle will cross, in order, and how far
//! along it is.
//!
//! A [`Route`] is either a list of intersections ([`Route::intersections`]) or a polyline
//! matched to intersections with their maps ([`Route::from_polyline`]): an intersection is on
//! the route when a point of the (densified) polyline lies on one of its map's lanes; stops
//! come in the order the polyline reaches them, and each records the lanes the polyline runs
//! along there (which tells [`crate::Corridor::my_lane`] which connection the ego will take).
//!
//! Progress: with a polyline, the ego pose is projected onto it and a stop is *behind* once
//! the ego is more than [`PASSED_MARGIN_M`] past the last point of the polyline on that map.
//! With a list, a stop is behind once the ego has been inside its map and is now inside a
//! later stop's map, or has left it again.

use corridor_model::{EnuFrame, GeoPoint, IntersectionId, LaneId};
use nalgebra::Point3;

use crate::knowledge::Knowledge;

/// Metres past an intersection's last route point before it counts as behind.
pub const PASSED_MARGIN_M: f64 = 10.0;
/// Spacing of the densified route polyline used for matching, metres.
const DENSIFY_M: f64 = 2.0;

/// A position: ENU metres in the maps' frame, or WGS84.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Position {
    /// East/north metres in the map frame of the intersection being asked about (the maps of
    /// one corridor normally share one frame).
    Enu {
        /// East, metres.
        x_m: f64,
        /// North, metres.
        y_m: f64,
    },
    /// WGS84; converted into each map's frame through the map's geo origin.
    Wgs84(GeoPoint),
}

/// The ego vehicle's pose.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EgoPose {
    /// Where the ego's reference point is.
    pub position: Position,
    /// Heading, radians counter-clockwise from east (ENU convention).
    pub heading_rad: f64,
}

impl EgoPose {
    /// A pose in map ENU metres.
    pub fn enu(x_m: f64, y_m: f64, heading_rad: f64) -> Self {
        Self { position: Position::Enu { x_m, y_m }, heading_rad }
    }

    /// A pose in WGS84 degrees, heading counter-clockwise from east.
    pub fn wgs84(lat_deg: f64, lon_deg: f64, heading_rad: f64) -> Self {
        Self { position: Position::Wgs84(GeoPoint::new(lat_deg, lon_deg)), heading_rad }
    }

    /// The position in `k`'s map frame (`None`: WGS84 pose but the map has no geo origin).
    pub fn in_map(&self, k: &Knowledge) -> Option<[f64; 2]> {
        to_map(&self.position, k)
    }
}

fn to_map(p: &Position, k: &Knowledge) -> Option<[f64; 2]> {
    match p {
        Position::Enu { x_m, y_m } => Some([*x_m, *y_m]),
        Position::Wgs84(g) => {
            let e = EnuFrame::new(k.map.origin?).enu_from_geo(g);
            Some([e.x, e.y])
        }
    }
}

/// Why a polyline route could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// Fewer than two points.
    #[error("a route polyline needs at least 2 points, got {0}")]
    TooShort(usize),
    /// A point is not finite.
    #[error("route point {0} is not finite")]
    NotFinite(usize),
    /// WGS84 points, but a map has no geo origin to place them.
    #[error("route is in WGS84 but the map of {0} has no geo origin")]
    NoGeoOrigin(IntersectionId),
}

/// One intersection on the route.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteStop {
    /// The intersection.
    pub intersection: IntersectionId,
    /// Lanes of its map the route runs along, in order (empty for a list route).
    pub lanes: Vec<LaneId>,
    /// Arc length along the route where it first / last lies on this map (polyline routes).
    pub span_m: Option<(f64, f64)>,
}

/// The route: stops in order, the polyline if any, and the progress along it.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    stops: Vec<RouteStop>,
    /// Polyline in a local frame, with cumulative arc length.
    path: Vec<([f64; 2], f64)>,
    /// How to bring positions into the path's frame.
    frame: PathFrame,
    /// Index of the first stop not yet passed.
    next: usize,
    /// Stops (by index) the ego has been inside (list routes).
    visited: Vec<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum PathFrame {
    /// The path is in map ENU (positions given in ENU are used as they are).
    Enu,
    /// The path is in ENU around this origin (WGS84 positions are converted).
    Geo(GeoPoint),
}

impl Route {
    /// A route through these intersections, in order.
    pub fn intersections(list: impl IntoIterator<Item = IntersectionId>) -> Self {
        let stops: Vec<RouteStop> =
            list.into_iter().map(|intersection| RouteStop { intersection, lanes: Vec::new(), span_m: None }).collect();
        let n = stops.len();
        Self { stops, path: Vec::new(), frame: PathFrame::Enu, next: 0, visited: vec![false; n] }
    }

    /// Matches a polyline (all ENU in the maps' frame, or all WGS84) to the intersections
    /// whose maps it runs through, in route order.
    pub fn from_polyline(points: &[Position], maps: &[&Knowledge]) -> Result<Self, RouteError> {
        if points.len() < 2 {
            return Err(RouteError::TooShort(points.len()));
        }
        let geo = matches!(points[0], Position::Wgs84(_));
        let frame = match points[0] {
            Position::Wgs84(g) => PathFrame::Geo(g),
            Position::Enu { .. } => PathFrame::Enu,
        };
        let mut path: Vec<([f64; 2], f64)> = Vec::new();
        for (i, p) in points.iter().enumerate() {
            let xy = match (p, frame) {
                (Position::Enu { x_m, y_m }, _) => [*x_m, *y_m],
                (Position::Wgs84(g), PathFrame::Geo(o)) => {
                    let e = EnuFrame::new(o).enu_from_geo(g);
                    [e.x, e.y]
                }
                (Position::Wgs84(_), PathFrame::Enu) => return Err(RouteError::NotFinite(i)),
            };
            if !(xy[0].is_finite() && xy[1].is_finite()) {
                return Err(RouteError::NotFinite(i));
            }
            let s = path.last().map_or(0.0, |(q, s)| s + corridor_hdmap::geom::dist(*q, xy));
            path.push((xy, s));
        }
        // densify, then match every sample against every map
        let mut samples: Vec<(Position, f64, f64)> = Vec::new(); // position, s, heading
        for w in path.windows(2) {
            let ((a, sa), (b, sb)) = (w[0], w[1]);
            let len = sb - sa;
            let n = (len / DENSIFY_M).ceil().max(1.0) as usize;
            let heading = corridor_hdmap::geom::heading_rad(a, b);
            for k in 0..n {
                let t = k as f64 / n as f64;
                let xy = [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t];
                samples.push((Self::position_of(frame, xy), sa + len * t, heading));
            }
        }
        if let Some(&(b, sb)) = path.last() {
            let heading = path.len().checked_sub(2).map_or(0.0, |i| corridor_hdmap::geom::heading_rad(path[i].0, b));
            samples.push((Self::position_of(frame, b), sb, heading));
        }
        let mut stops: Vec<RouteStop> = Vec::new();
        for k in maps {
            if geo && k.map.origin.is_none() {
                return Err(RouteError::NoGeoOrigin(k.intersection.clone()));
            }
            let mut lanes: Vec<LaneId> = Vec::new();
            let mut span: Option<(f64, f64)> = None;
            for (p, s, h) in &samples {
                let Some([x, y]) = to_map(p, k) else { continue };
                if !k.contains(x, y) {
                    continue;
                }
                if let Some(m) = k.matcher.match_position(x, y, Some(*h)) {
                    span = Some(span.map_or((*s, *s), |(a, _)| (a, *s)));
                    if lanes.last() != Some(&m.lane) {
                        lanes.push(m.lane);
                    }
                }
            }
            if let Some(span) = span {
                stops.push(RouteStop { intersection: k.intersection.clone(), lanes, span_m: Some(span) });
            }
        }
        stops.sort_by(|a, b| {
            let (sa, sb) = (a.span_m.map_or(0.0, |s| s.0), b.span_m.map_or(0.0, |s| s.0));
            sa.total_cmp(&sb)
        });
        let n = stops.len();
        Ok(Self { stops, path, frame, next: 0, visited: vec![false; n] })
    }

    fn position_of(frame: PathFrame, xy: [f64; 2]) -> Position {
        match frame {
            PathFrame::Enu => Position::Enu { x_m: xy[0], y_m: xy[1] },
            PathFrame::Geo(o) => Position::Wgs84(EnuFrame::new(o).geo_from_enu(&Point3::new(xy[0], xy[1], 0.0))),
        }
    }

    /// Every stop, passed or not.
    pub fn stops(&self) -> &[RouteStop] {
        &self.stops
    }

    /// The stops not yet passed, in order.
    pub fn ahead(&self) -> &[RouteStop] {
        self.stops.get(self.next..).unwrap_or(&[])
    }

    /// The stop of an intersection, if it is still ahead.
    pub fn stop_ahead(&self, intersection: &IntersectionId) -> Option<&RouteStop> {
        self.ahead().iter().find(|s| &s.intersection == intersection)
    }

    /// Arc length of the ego along the polyline (`None` for list routes or when the pose
    /// cannot be placed in the path's frame).
    pub fn progress_m(&self, pose: &EgoPose, origin_hint: Option<GeoPoint>) -> Option<f64> {
        if self.path.len() < 2 {
            return None;
        }
        let xy = match (pose.position, self.frame) {
            (Position::Enu { x_m, y_m }, PathFrame::Enu) => [x_m, y_m],
            (Position::Wgs84(g), PathFrame::Geo(o)) => {
                let e = EnuFrame::new(o).enu_from_geo(&g);
                [e.x, e.y]
            }
            (Position::Wgs84(g), PathFrame::Enu) => {
                let e = EnuFrame::new(origin_hint?).enu_from_geo(&g);
                [e.x, e.y]
            }
            (Position::Enu { x_m, y_m }, PathFrame::Geo(o)) => {
                let g = EnuFrame::new(origin_hint?).geo_from_enu(&Point3::new(x_m, y_m, 0.0));
                let e = EnuFrame::new(o).enu_from_geo(&g);
                [e.x, e.y]
            }
        };
        let pts: Vec<[f64; 2]> = self.path.iter().map(|(p, _)| *p).collect();
        corridor_hdmap::geom::project(&pts, xy).map(|p| p.s_m)
    }

    /// Advances past the stops behind the ego. `inside(i)` says whether the pose is inside
    /// stop `i`'s map (used for list routes); `progress_m` is the ego's arc length on the
    /// polyline, if any. Returns the stops just passed.
    pub fn advance(&mut self, progress_m: Option<f64>, inside: impl Fn(usize) -> bool) -> Vec<IntersectionId> {
        let start = self.next;
        match progress_m {
            Some(s) => {
                while let Some(stop) = self.stops.get(self.next) {
                    match stop.span_m {
                        Some((_, end)) if s > end + PASSED_MARGIN_M => self.next += 1,
                        _ => break,
                    }
                }
            }
            None => {
                // the furthest stop the ego is inside: everything before it is behind
                let inside_now: Vec<usize> = (self.next..self.stops.len()).filter(|&i| inside(i)).collect();
                for &i in &inside_now {
                    self.visited[i] = true;
                }
                if let Some(&furthest) = inside_now.last() {
                    self.next = self.next.max(furthest);
                }
                // a visited stop the ego has left again is behind
                while self.next < self.stops.len() && self.visited[self.next] && !inside_now.contains(&self.next) {
                    self.next += 1;
                }
            }
        }
        self.stops[start..self.next].iter().map(|s| s.intersection.clone()).collect()
    }
}
