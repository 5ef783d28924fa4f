//! Answer types of the queries, and the pure geometry behind them.
//!
//! Every answer carries a [`Provenance`]: which RSU said it, from which state (sequence,
//! capture time), against which map and rules version, how old it is at the time of the
//! query, and a confidence in `0..=1`.

use corridor_hdmap::Manoeuvre;
use corridor_model::{
    IntersectionId, LaneId, MapVersion, MovementPhaseState, ObjectClass, RsuId, SignalGroupId, Timestamp, TrackId,
    TrackedObject,
};
use nalgebra::{ArrayStorage, Matrix4};
use std::borrow::Cow;

/// Where an answer came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Provenance {
    /// The intersection.
    pub intersection: IntersectionId,
    /// The RSU that published the state (or event).
    pub rsu: RsuId,
    /// The state's sequence number (0 for events).
    pub seq: u64,
    /// The map version the answer was computed against.
    pub map_version: MapVersion,
    /// The rules version used, if rules were consulted.
    pub rules_version: Option<MapVersion>,
    /// Capture time of the state (or time of the event).
    pub capture_time: Timestamp,
    /// `now - capture_time`, seconds.
    pub age_s: f64,
    /// Confidence in `0..=1` (see each query for what it combines).
    pub confidence: f32,
}

/// A tracked object in the ego frame: x forward, y left, origin at the ego's reference point.
///
/// `'a` is the [`Corridor`](crate::Corridor) the answer was computed from: the lane id is
/// borrowed from its state, so a query copies no string and touches no reference count.
/// [`EgoObjects::into_owned`] detaches an answer (the [`Vehicle`](crate::Vehicle) adapter
/// returns owned answers).
#[derive(Debug, Clone, PartialEq)]
pub struct EgoObject<'a> {
    /// The RSU's track id.
    pub track_id: TrackId,
    /// Its class.
    pub class: ObjectClass,
    /// Position, ego frame, metres (extrapolated to the query time with the track's velocity).
    pub position_m: [f64; 2],
    /// Velocity over ground, ego-frame axes, m/s.
    pub velocity_mps: [f64; 2],
    /// Heading relative to the ego's heading, radians.
    pub heading_rad: f64,
    /// Covariance of `[x, y, vx, vy]` in the ego frame (`R P R^T`).
    pub covariance: Matrix4<f32>,
    /// Distance from the ego, metres.
    pub distance_m: f64,
    /// Seconds since the RSU last updated this track (at the query time).
    pub age_s: f64,
    /// Whether `age_s` exceeds the object staleness window (a coasting track).
    pub stale: bool,
    /// The RSU's class confidence.
    pub confidence: f32,
    /// The lane the RSU matched it to.
    pub lane: Option<Cow<'a, LaneId>>,
}

impl EgoObject<'_> {
    /// The same object, owning its lane id.
    pub fn into_owned(self) -> EgoObject<'static> {
        EgoObject { lane: self.lane.map(|l| Cow::Owned(l.into_owned())), ..self }
    }
}

/// Objects around the ego (see [`EgoObject`] for the lifetime).
#[derive(Debug, Clone, PartialEq)]
pub struct EgoObjects<'a> {
    /// The objects, in the RSU's order.
    pub objects: Vec<EgoObject<'a>>,
    /// Where they came from; confidence is the state's freshness (`1 - age / window`).
    pub provenance: Provenance,
}

impl EgoObjects<'_> {
    /// The same answer, owning its lane ids (one reference-count increment per object with a
    /// lane), so it can outlive the [`Corridor`](crate::Corridor) borrow.
    pub fn into_owned(self) -> EgoObjects<'static> {
        EgoObjects {
            objects: self.objects.into_iter().map(EgoObject::into_owned).collect(),
            provenance: self.provenance,
        }
    }
}

/// Time until a signal group changes, seconds from the query time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeToChange {
    /// Earliest possible change.
    pub min_s: f64,
    /// Latest possible change, if the controller bounds it.
    pub max_s: Option<f64>,
    /// Most likely change, if predicted.
    pub likely_s: Option<f64>,
    /// The controller's confidence in `likely_s`.
    pub confidence: f32,
}

impl TimeToChange {
    /// `likely_s`, or `min_s` when no likely time is given.
    pub fn best_s(&self) -> f64 {
        self.likely_s.unwrap_or(self.min_s)
    }
}

/// The signal group controlling the ego's connection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SignalAnswer {
    /// The group.
    pub group: SignalGroupId,
    /// Its phase now (`None`: the map says the connection is signalised but the state carries
    /// no entry for the group).
    pub state: Option<MovementPhaseState>,
    /// When it changes.
    pub time_to_change: Option<TimeToChange>,
}

/// How the connection in a [`LaneAnswer`] was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionChoice {
    /// The ego is inside the junction, on this connection.
    OnIt,
    /// The route's next lanes say so.
    Route,
    /// The ego's lane has only this connection.
    OnlyOne,
    /// Several are possible and the route does not say: the straight one (a guess).
    GuessStraight,
    /// Several are possible and none is straight: the first one (a guess).
    GuessFirst,
}

/// The connection the ego is on or will take.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionAnswer {
    /// Connection id in the map.
    pub id: u32,
    /// Ingress lane.
    pub ingress: LaneId,
    /// Egress lane.
    pub egress: LaneId,
    /// What it does.
    pub manoeuvre: Manoeuvre,
    /// How it was chosen.
    pub chosen_by: ConnectionChoice,
}

/// The rules in force now for the ego's class on its lane.
#[derive(Debug, Clone, PartialEq)]
pub struct RulesAnswer {
    /// Speed limit, km/h (rules first; the map's lane limit if no rule sets one).
    pub speed_limit_kmh: Option<f64>,
    /// Whether the connection's manoeuvre is permitted (`None`: no rule says).
    pub turn_allowed: Option<bool>,
    /// Right turn on red: allowed (after a stop), prohibited, or not ruled on.
    pub right_on_red: Option<bool>,
    /// The lane is closed (work zone).
    pub closed: bool,
    /// The lane to merge into when closed.
    pub merge_into: Option<LaneId>,
    /// False when the lane is reserved for other classes (e.g. a bus lane) now.
    pub may_use_lane: bool,
    /// Must stop (stop sign) before entering.
    pub must_stop: bool,
    /// Ids of the winning rules.
    pub rule_ids: Vec<String>,
}

/// Everything about the ego's lane.
#[derive(Debug, Clone, PartialEq)]
pub struct LaneAnswer {
    /// The lane.
    pub lane: LaneId,
    /// Arc length along the lane, metres.
    pub s_m: f64,
    /// Lateral offset (left positive), metres.
    pub lateral_m: f64,
    /// Distance to the lane's end (the stop line on an ingress lane), metres.
    pub to_lane_end_m: f64,
    /// The connection on or ahead.
    pub connection: Option<ConnectionAnswer>,
    /// Its signal group.
    pub signal: Option<SignalAnswer>,
    /// The rules (`None` when no rules are held for this map).
    pub rules: Option<RulesAnswer>,
    /// Where it came from; confidence combines the state's freshness, the lane match
    /// (lateral offset vs half width) and 0.5 when the connection is a guess.
    pub provenance: Provenance,
}

/// What part of the ego's path an object enters.
#[derive(Debug, Clone, PartialEq)]
pub enum PathZone {
    /// The corridor of a lane on the ego's path (its lane, the connection's internal lanes,
    /// the egress).
    Lane(LaneId),
    /// A conflict zone of the ego's connection.
    ConflictZone(u32),
}

/// An object predicted to enter the ego's path.
#[derive(Debug, Clone, PartialEq)]
pub struct InPathObject {
    /// The object, in the ego frame.
    pub object: EgoObject<'static>,
    /// Seconds from the query time until it is first predicted in the path (0: already in).
    pub time_to_enter_s: f64,
    /// Where.
    pub zone: PathZone,
}

/// The answer of [`crate::Corridor::in_path`].
#[derive(Debug, Clone, PartialEq)]
pub struct InPath {
    /// Objects, soonest first.
    pub objects: Vec<InPathObject>,
    /// The lane the path was built from.
    pub lane: LaneId,
    /// Provenance (as for [`LaneAnswer`]).
    pub provenance: Provenance,
}

/// Options of [`crate::Corridor::in_path`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InPathOptions {
    /// How far ahead to predict, seconds.
    pub horizon_s: f64,
    /// Prediction step, seconds.
    pub step_s: f64,
    /// Objects within this distance of the ego now are taken to be the ego itself.
    pub ego_radius_m: f64,
    /// Radius of a conflict zone around its centre, metres.
    pub conflict_radius_m: f64,
}

impl Default for InPathOptions {
    fn default() -> Self {
        Self { horizon_s: 5.0, step_s: 0.25, ego_radius_m: 2.0, conflict_radius_m: 3.0 }
    }
}

/// An event concerning the route.
#[derive(Debug, Clone, PartialEq)]
pub struct Hazard {
    /// The event.
    pub event: corridor_model::Event,
    /// Whether its lane is one the route runs along (`None`: unknown, no lane or no route lanes).
    pub on_route_lane: Option<bool>,
    /// Provenance: the event's RSU, time and map version; confidence 1, or 0.5 when the event
    /// names another map version than the intersection's current state.
    pub provenance: Provenance,
}

/// Rotates a ground-plane object into the ego frame (the hot loop of `objects_in_ego`).
#[inline]
#[allow(clippy::too_many_arguments, reason = "hot loop: plain values, no struct to build per call")]
pub(crate) fn to_ego<'a>(
    o: &'a TrackedObject,
    ego: [f64; 2],
    cos: f64,
    sin: f64,
    heading: f64,
    state_age_s: f64,
    now: Timestamp,
    stale_after_s: f64,
) -> EgoObject<'a> {
    // extrapolate to now with the track's velocity
    let px = o.position_m.x + o.velocity_mps.x * state_age_s - ego[0];
    let py = o.position_m.y + o.velocity_mps.y * state_age_s - ego[1];
    // R = [[c, s], [-s, c]] rotates ENU into the ego frame (x forward, y left)
    let x = cos * px + sin * py;
    let y = -sin * px + cos * py;
    let vx = cos * o.velocity_mps.x + sin * o.velocity_mps.y;
    let vy = -sin * o.velocity_mps.x + cos * o.velocity_mps.y;
    let age_s = now.secs_since(o.last_updated);
    EgoObject {
        track_id: o.track_id,
        class: o.class,
        position_m: [x, y],
        velocity_mps: [vx, vy],
        heading_rad: wrap_pi(o.heading_rad - heading),
        covariance: rotate_cov(&o.covariance, cos as f32, sin as f32),
        // not `hypot`: its overflow care costs more than the rest of the rotation, and ground
        // distances of a few hundred metres cannot overflow
        distance_m: (x * x + y * y).sqrt(),
        age_s,
        stale: age_s > stale_after_s,
        confidence: o.class_confidence,
        lane: o.lane.as_ref().map(Cow::Borrowed),
    }
}

/// An angle wrapped to `[-pi, pi]`: one add for the usual case, `rem_euclid` (an fmod) only
/// for angles more than a turn away.
#[inline]
fn wrap_pi(d: f64) -> f64 {
    use std::f64::consts::{PI, TAU};
    let d = if d > PI {
        d - TAU
    } else if d < -PI {
        d + TAU
    } else {
        d
    };
    if (-PI..=PI).contains(&d) {
        d
    } else {
        corridor_hdmap::geom::angle_diff_rad(d, 0.0)
    }
}

/// `R P R^T` with `R = diag(Q, Q)`, `Q = [[c, s], [-s, c]]`, block by block, on the
/// column-major array (fixed indices: no bounds checks in the hot loop).
#[inline]
pub(crate) fn rotate_cov(p: &Matrix4<f32>, c: f32, s: f32) -> Matrix4<f32> {
    let m = &p.data.0; // m[col][row]
    let mut out = [[0.0_f32; 4]; 4];
    for bi in 0..2 {
        for bj in 0..2 {
            let (r, k) = (2 * bi, 2 * bj);
            let (a, b, cc, d) = (m[k][r], m[k + 1][r], m[k][r + 1], m[k + 1][r + 1]);
            // Q B
            let (m00, m01) = (c * a + s * cc, c * b + s * d);
            let (m10, m11) = (-s * a + c * cc, -s * b + c * d);
            // (Q B) Q^T, Q^T = [[c, -s], [s, c]]
            out[k][r] = m00 * c + m01 * s;
            out[k + 1][r] = -m00 * s + m01 * c;
            out[k][r + 1] = m10 * c + m11 * s;
            out[k + 1][r + 1] = -m10 * s + m11 * c;
        }
    }
    Matrix4::from_data(ArrayStorage(out))
}

/// Squared distance from `p` to the polyline, or `None` when the polyline has < 2 points.
pub(crate) fn dist2_to_polyline(pts: &[[f64; 2]], p: [f64; 2]) -> f64 {
    let mut best = f64::INFINITY;
    for w in pts.windows(2) {
        let (a, b) = (w[0], w[1]);
        let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
        let l2 = dx * dx + dy * dy;
        let t = if l2 > 0.0 { (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / l2).clamp(0.0, 1.0) } else { 0.0 };
        let (qx, qy) = (a[0] + dx * t - p[0], a[1] + dy * t - p[1]);
        best = best.min(qx * qx + qy * qy);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::Matrix2;

    #[test]
    fn covariance_rotation_matches_r_p_rt() {
        let p = Matrix4::new(4.0, 1.0, 0.5, 0.1, 1.0, 2.0, 0.2, 0.3, 0.5, 0.2, 1.0, 0.4, 0.1, 0.3, 0.4, 3.0);
        let th = 0.7_f32;
        let (c, s) = (th.cos(), th.sin());
        let q = Matrix2::new(c, s, -s, c);
        let mut r = Matrix4::zeros();
        r.fixed_view_mut::<2, 2>(0, 0).copy_from(&q);
        r.fixed_view_mut::<2, 2>(2, 2).copy_from(&q);
        let want = r * p * r.transpose();
        let got = rotate_cov(&p, c, s);
        assert!((want - got).abs().max() < 1e-5, "{want} vs {got}");
    }
}
