//! Event detection: hazards, violations and RSU faults from the tracks, the map
//! and the signal state. Sans-IO: every call takes the time (the state's capture
//! time, or `now` for sensor silence) and returns the events found.
//!
//! | kind | condition |
//! |---|---|
//! | wrong way | a vehicle faster than `wrong_way_min_speed_mps` on a one-way driving lane, moving more than 120 degrees against the lane's direction |
//! | pedestrian on carriageway | a pedestrian on a driving or junction lane and not on a crosswalk, or on a crosswalk whose signal group shows red |
//! | stopped vehicle | a vehicle slower than `stopped_speed_mps` in a driving lane for more than `stopped_after_s`, unless a signal group of its lane's movements shows red/amber (it is queueing) |
//! | red-light running | a vehicle's matched lane changes from an ingress lane to a lane of one of its movements (internal or egress) while that movement's signal group shows red |
//! | RSU fault | a configured sensor silent for more than `sensor_silent_s` (once per silence) |
//!
//! Dedup: one event per (track, kind) for as long as the track lives; a track
//! that disappears is forgotten, so the detector's memory is bounded by the live tracks.

use corridor_hdmap::{geom, LaneKind, TravelDirection};
use corridor_model::{
    EventKind, IntersectionState, LaneId, MovementPhaseState, ObjectClass, SensorId, Severity, SignalGroupId,
    Timestamp, TrackId, TrackedObject,
};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::config::EventsSection;
use crate::knowledge::MapKnowledge;

/// An event found, before the outbox gives it an id.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// What.
    pub kind: EventKind,
    /// How urgent.
    pub severity: Severity,
    /// When (capture time of the state, or `now` for faults).
    pub time: Timestamp,
    /// Where, ENU metres.
    pub position_m: Option<[f64; 2]>,
    /// The track.
    pub track: Option<TrackId>,
    /// The lane.
    pub lane: Option<LaneId>,
    /// The signal group (red-light running, pedestrian against the signal).
    pub signal_group: Option<SignalGroupId>,
    /// Human-readable detail.
    pub detail: String,
}

/// The detector's memory.
#[derive(Debug)]
pub struct EventDetector {
    cfg: EventsSection,
    fired: HashSet<(TrackId, EventKind)>,
    stopped_since: HashMap<TrackId, Timestamp>,
    last_lane: HashMap<TrackId, LaneId>,
    silent: BTreeSet<SensorId>,
    started: Option<Timestamp>,
}

fn is_vehicle(c: ObjectClass) -> bool {
    matches!(c, ObjectClass::Car | ObjectClass::Bus | ObjectClass::Truck | ObjectClass::Motorcycle)
}

fn is_red(s: MovementPhaseState) -> bool {
    matches!(s, MovementPhaseState::StopAndRemain | MovementPhaseState::StopThenProceed)
}

impl EventDetector {
    /// A detector with these thresholds.
    pub fn new(cfg: EventsSection) -> Self {
        Self {
            cfg,
            fired: HashSet::new(),
            stopped_since: HashMap::new(),
            last_lane: HashMap::new(),
            silent: BTreeSet::new(),
            started: None,
        }
    }

    fn fire(&mut self, out: &mut Vec<Found>, o: &TrackedObject, f: Found) {
        if self.fired.insert((o.track_id, f.kind)) {
            out.push(f);
        }
    }

    /// Looks at one state (its objects already lane-matched) and returns the new events.
    pub fn observe(&mut self, state: &IntersectionState, k: Option<&MapKnowledge>) -> Vec<Found> {
        let t = state.capture_time;
        if !(self.fired.is_empty() && self.stopped_since.is_empty() && self.last_lane.is_empty()) {
            let live: HashSet<TrackId> = state.objects.iter().map(|o| o.track_id).collect();
            self.fired.retain(|(id, _)| live.contains(id));
            self.stopped_since.retain(|id, _| live.contains(id));
            self.last_lane.retain(|id, _| live.contains(id));
        }
        let Some(k) = k else { return Vec::new() };
        let signal: BTreeMap<SignalGroupId, MovementPhaseState> =
            state.signals.iter().map(|g| (g.id, g.state)).collect();
        let mut out = Vec::new();
        for o in &state.objects {
            let p = [o.position_m.x, o.position_m.y];
            let base = |kind, severity, detail: String| Found {
                kind,
                severity,
                time: t,
                position_m: Some(p),
                track: Some(o.track_id),
                lane: o.lane.clone(),
                signal_group: None,
                detail,
            };
            let speed = o.speed_mps();
            let on = k.matcher().match_position(p[0], p[1], None).and_then(|m| {
                let lane = k.map().lanes.get(m.lane_index)?;
                let half = lane.width_m.first().copied().unwrap_or(3.2) / 2.0;
                (m.lateral_m.abs() <= half).then_some((lane, m.s_m))
            });
            if o.class == ObjectClass::Pedestrian {
                let crosswalk = k.map().crosswalks.iter().find(|c| {
                    let len = geom::polyline_length_m(&c.centre_line_m);
                    geom::project(&c.centre_line_m, p)
                        .is_some_and(|pr| pr.lateral_m.abs() <= c.width_m / 2.0 && (-0.5..=len + 0.5).contains(&pr.s_m))
                });
                let red_crossing = crosswalk
                    .and_then(|c| c.signal.as_ref())
                    .and_then(|s| signal.get(&s.group).map(|st| (s.group, *st)))
                    .filter(|(_, st)| is_red(*st));
                let on_road = on.is_some_and(|(l, _)| matches!(l.kind, LaneKind::Driving | LaneKind::Internal));
                if let Some((g, _)) = red_crossing {
                    let mut f = base(
                        EventKind::PedestrianOnCarriageway,
                        Severity::Critical,
                        format!("pedestrian on a crosswalk against signal group {g}"),
                    );
                    f.signal_group = Some(g);
                    self.fire(&mut out, o, f);
                } else if on_road && crosswalk.is_none() {
                    let lane = on.map(|(l, _)| l.id.clone());
                    let mut f = base(
                        EventKind::PedestrianOnCarriageway,
                        Severity::Critical,
                        format!(
                            "pedestrian on lane {} outside a crosswalk",
                            lane.as_ref().map(|l| l.as_str()).unwrap_or("?")
                        ),
                    );
                    f.lane = lane;
                    self.fire(&mut out, o, f);
                }
                continue;
            }
            if !is_vehicle(o.class) {
                continue;
            }
            // wrong way
            if let Some((lane, s)) = on {
                let one_way = matches!(lane.direction, TravelDirection::Forward | TravelDirection::Backward);
                if lane.kind == LaneKind::Driving && one_way && speed >= self.cfg.wrong_way_min_speed_mps {
                    if let Some((_, mut heading)) = geom::point_at(&lane.centre_line_m, s) {
                        if lane.direction == TravelDirection::Backward {
                            heading += std::f64::consts::PI;
                        }
                        let moving = o.velocity_mps.y.atan2(o.velocity_mps.x);
                        if geom::angle_diff_rad(moving, heading).abs() > 120f64.to_radians() {
                            let mut f = base(
                                EventKind::WrongWay,
                                Severity::Critical,
                                format!("{:?} at {speed:.1} m/s against lane {}", o.class, lane.id),
                            );
                            f.lane = Some(lane.id.clone());
                            self.fire(&mut out, o, f);
                        }
                    }
                }
            }
            // red-light running: ingress lane -> a lane of one of its movements, on red
            if let Some(now_lane) = &o.lane {
                if let Some(prev) = self.last_lane.get(&o.track_id).filter(|l| *l != now_lane).cloned() {
                    let crossed = k.map().connections_from(&prev).find(|c| {
                        (c.via.first() == Some(now_lane) || (c.via.is_empty() && &c.egress == now_lane))
                            && c.signal.as_ref().and_then(|s| signal.get(&s.group)).is_some_and(|st| is_red(*st))
                    });
                    if let Some(c) = crossed {
                        let g = c.signal.as_ref().map(|s| s.group);
                        let mut f = base(
                            EventKind::RedLightRunning,
                            Severity::Warning,
                            format!("{:?} crossed the stop line of {prev} on red", o.class),
                        );
                        f.lane = Some(prev.clone());
                        f.signal_group = g;
                        self.fire(&mut out, o, f);
                    }
                }
                self.last_lane.insert(o.track_id, now_lane.clone());
            }
            // stopped vehicle
            let in_lane = on.filter(|(l, _)| l.kind == LaneKind::Driving && speed < self.cfg.stopped_speed_mps);
            if let Some((lane, _)) = in_lane {
                let since = *self.stopped_since.entry(o.track_id).or_insert(t);
                let queueing = k
                    .map()
                    .connections_from(&lane.id)
                    .filter_map(|c| c.signal.as_ref().and_then(|s| signal.get(&s.group)))
                    .any(|st| !st.is_green());
                if t.secs_since(since) > self.cfg.stopped_after_s && !queueing {
                    let mut f = base(
                        EventKind::StoppedVehicle,
                        Severity::Warning,
                        format!("{:?} standing in lane {} for {:.0} s", o.class, lane.id, t.secs_since(since)),
                    );
                    f.lane = Some(lane.id.clone());
                    self.fire(&mut out, o, f);
                }
            } else {
                self.stopped_since.remove(&o.track_id);
            }
        }
        out
    }

    /// Checks sensor silence: `last_frame` has each configured sensor's last frame receipt time
    /// (`None`: never). One fault per silence; a sensor that comes back can fault again.
    pub fn observe_sensors(
        &mut self,
        now: Timestamp,
        last_frame: impl IntoIterator<Item = (SensorId, Option<Timestamp>)>,
    ) -> Vec<Found> {
        let started = *self.started.get_or_insert(now);
        let mut out = Vec::new();
        for (sensor, last) in last_frame {
            let since = last.unwrap_or(started);
            if now.secs_since(since) > self.cfg.sensor_silent_s {
                if self.silent.insert(sensor.clone()) {
                    out.push(Found {
                        kind: EventKind::RsuFault,
                        severity: Severity::Info,
                        time: now,
                        position_m: None,
                        track: None,
                        lane: None,
                        signal_group: None,
                        detail: format!("sensor {sensor} silent for {:.1} s", now.secs_since(since)),
                    });
                }
            } else {
                self.silent.remove(&sensor);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use corridor_hdmap::{ClassSet, Connection, Crosswalk, HdMap, Lane, Manoeuvre, SignalRef, SourceFormat};
    use corridor_model::{IntersectionId, MapVersion, RsuId, SignalGroupState, Size3};
    use nalgebra::{Matrix4, Vector3};

    // An eastbound approach `in` (x -100..-12), the junction lane `:c` (-12..12), the exit `out`
    // (12..100), all at y = -1.75; movement in -> out on signal group 1; a crosswalk across the
    // approach at x = -14 on signal group 2.
    fn knowledge() -> MapKnowledge {
        let lane = |id: &str, kind, x0: f64, x1: f64| Lane {
            id: LaneId::new(id),
            road: None,
            junction: None,
            kind,
            centre_line_m: vec![[x0, -1.75], [x1, -1.75]],
            width_m: vec![3.5, 3.5],
            speed_limit_mps: None,
            allowed: ClassSet(u16::MAX),
            direction: TravelDirection::Forward,
            successors: vec![],
        };
        let signal = |g| Some(SignalRef { controller: "c".into(), group: SignalGroupId(g) });
        let mut map = HdMap::empty(SourceFormat::Json);
        map.lanes = vec![
            lane("in", LaneKind::Driving, -100.0, -12.0),
            lane(":c", LaneKind::Internal, -12.0, 12.0),
            lane("out", LaneKind::Driving, 12.0, 100.0),
        ];
        map.connections = vec![Connection {
            id: 0,
            ingress: LaneId::new("in"),
            egress: LaneId::new("out"),
            via: vec![LaneId::new(":c")],
            junction: None,
            manoeuvre: Manoeuvre::Straight,
            signal: signal(1),
            conflict_zones: vec![],
            priority: Default::default(),
        }];
        map.crosswalks = vec![Crosswalk {
            id: "cw".into(),
            junction: None,
            centre_line_m: vec![[-14.0, -10.0], [-14.0, 10.0]],
            width_m: 4.0,
            signal: signal(2),
        }];
        map.normalize();
        MapKnowledge::from_map(map)
    }

    fn obj(id: u64, class: ObjectClass, x: f64, y: f64, vx: f64) -> TrackedObject {
        TrackedObject {
            track_id: TrackId(id),
            class,
            class_confidence: 0.9,
            position_m: Vector3::new(x, y, 0.0),
            velocity_mps: Vector3::new(vx, 0.0, 0.0),
            heading_rad: 0.0,
            size_m: Size3::new(4.5, 1.8, 1.5),
            covariance: Matrix4::identity(),
            first_seen: Timestamp::EPOCH,
            last_updated: Timestamp::EPOCH,
            sensors: Default::default(),
            lane: None,
        }
    }

    fn state(
        t: f64,
        mut objects: Vec<TrackedObject>,
        g1: MovementPhaseState,
        g2: MovementPhaseState,
    ) -> IntersectionState {
        let k = knowledge();
        k.match_lanes(&mut objects);
        IntersectionState {
            intersection: IntersectionId::new("ix").unwrap(),
            rsu: RsuId::new("rsu").unwrap(),
            seq: 1,
            capture_time: Timestamp::from_secs_f64(t),
            ingest_time: Timestamp::from_secs_f64(t),
            publish_time: Timestamp::from_secs_f64(t),
            map_version: MapVersion::default(),
            rules_version: None,
            objects,
            signals: vec![
                SignalGroupState { id: SignalGroupId(1), state: g1, timing: None },
                SignalGroupState { id: SignalGroupId(2), state: g2, timing: None },
            ],
        }
    }

    const GREEN: MovementPhaseState = MovementPhaseState::ProtectedMovementAllowed;
    const RED: MovementPhaseState = MovementPhaseState::StopAndRemain;

    fn kinds(f: &[Found]) -> Vec<EventKind> {
        f.iter().map(|f| f.kind).collect()
    }

    #[test]
    fn wrong_way_fires_once_per_track_and_not_for_the_right_way() {
        let k = knowledge();
        let mut d = EventDetector::new(EventsSection::default());
        let right = obj(1, ObjectClass::Car, -50.0, -1.75, 10.0);
        let wrong = obj(2, ObjectClass::Car, -40.0, -1.75, -10.0);
        let f = d.observe(&state(1.0, vec![right.clone(), wrong.clone()], GREEN, RED), Some(&k));
        assert_eq!(kinds(&f), vec![EventKind::WrongWay]);
        assert_eq!(f[0].track, Some(TrackId(2)));
        assert_eq!(f[0].lane.as_ref().map(|l| l.as_str()), Some("in"));
        // dedup: the same track again gives nothing
        assert!(d.observe(&state(1.1, vec![right, wrong.clone()], GREEN, RED), Some(&k)).is_empty());
        // a track that vanished and a new one with another id fires again
        assert!(d.observe(&state(1.2, vec![], GREEN, RED), Some(&k)).is_empty());
        let again = obj(3, ObjectClass::Truck, -40.0, -1.75, -8.0);
        assert_eq!(kinds(&d.observe(&state(1.3, vec![again], GREEN, RED), Some(&k))), vec![EventKind::WrongWay]);
    }

    #[test]
    fn pedestrian_on_the_road_or_on_a_red_crosswalk() {
        let k = knowledge();
        let mut d = EventDetector::new(EventsSection::default());
        let on_road = obj(1, ObjectClass::Pedestrian, -40.0, -1.5, 0.0);
        let on_crosswalk = obj(2, ObjectClass::Pedestrian, -14.0, -1.0, 0.0);
        let on_sidewalk = obj(3, ObjectClass::Pedestrian, -40.0, 8.0, 0.0);
        let f = d.observe(&state(1.0, vec![on_road, on_crosswalk.clone(), on_sidewalk], GREEN, GREEN), Some(&k));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!((f[0].kind, f[0].track), (EventKind::PedestrianOnCarriageway, Some(TrackId(1))));
        // the crosswalk's signal turns red while the pedestrian is on it
        let f = d.observe(&state(2.0, vec![on_crosswalk], GREEN, RED), Some(&k));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!((f[0].track, f[0].signal_group), (Some(TrackId(2)), Some(SignalGroupId(2))));
    }

    #[test]
    fn stopped_vehicle_after_the_threshold_unless_queueing_at_red() {
        let k = knowledge();
        let mut d = EventDetector::new(EventsSection::default());
        let car = obj(1, ObjectClass::Car, -60.0, -1.75, 0.0);
        for t in [0.0, 5.0, 10.0] {
            assert!(d.observe(&state(t, vec![car.clone()], GREEN, RED), Some(&k)).is_empty());
        }
        let f = d.observe(&state(10.5, vec![car.clone()], GREEN, RED), Some(&k));
        assert_eq!(kinds(&f), vec![EventKind::StoppedVehicle]);
        // another car standing as long, but its movement is red: queueing, no event
        let mut d = EventDetector::new(EventsSection::default());
        for t in [0.0, 5.0, 11.0, 20.0] {
            assert!(d.observe(&state(t, vec![car.clone()], RED, RED), Some(&k)).is_empty());
        }
    }

    #[test]
    fn red_light_running_when_crossing_into_the_junction_on_red() {
        let k = knowledge();
        let mut d = EventDetector::new(EventsSection::default());
        let before = obj(1, ObjectClass::Car, -14.5, -1.75, 12.0);
        let after = obj(1, ObjectClass::Car, -10.0, -1.75, 12.0);
        assert!(d.observe(&state(1.0, vec![before.clone()], RED, GREEN), Some(&k)).is_empty());
        let f = d.observe(&state(1.1, vec![after.clone()], RED, GREEN), Some(&k));
        assert_eq!(kinds(&f), vec![EventKind::RedLightRunning]);
        assert_eq!(f[0].signal_group, Some(SignalGroupId(1)));
        // the same crossing on green is fine
        let mut d = EventDetector::new(EventsSection::default());
        let (mut b2, mut a2) = (before, after);
        b2.track_id = TrackId(2);
        a2.track_id = TrackId(2);
        assert!(d.observe(&state(1.0, vec![b2], GREEN, GREEN), Some(&k)).is_empty());
        assert!(d.observe(&state(1.1, vec![a2], GREEN, GREEN), Some(&k)).is_empty());
    }

    #[test]
    fn a_silent_sensor_is_one_fault_per_silence() {
        let mut d = EventDetector::new(EventsSection::default());
        let s = SensorId::new("lidar-ne").unwrap();
        let t = Timestamp::from_secs_f64;
        assert!(d.observe_sensors(t(0.0), [(s.clone(), None)]).is_empty());
        assert!(d.observe_sensors(t(1.9), [(s.clone(), None)]).is_empty());
        let f = d.observe_sensors(t(2.1), [(s.clone(), None)]);
        assert_eq!(kinds(&f), vec![EventKind::RsuFault]);
        assert!(f[0].detail.contains("lidar-ne"), "{}", f[0].detail);
        assert!(d.observe_sensors(t(5.0), [(s.clone(), None)]).is_empty());
        // it comes back, then goes silent again: a second fault
        assert!(d.observe_sensors(t(6.0), [(s.clone(), Some(t(5.9)))]).is_empty());
        assert_eq!(d.observe_sensors(t(8.5), [(s.clone(), Some(t(6.0)))]).len(), 1);
    }

    #[test]
    fn without_a_map_only_faults_are_detected() {
        let mut d = EventDetector::new(EventsSection::default());
        let wrong = obj(2, ObjectClass::Car, -40.0, -1.75, -10.0);
        assert!(d.observe(&state(1.0, vec![wrong], GREEN, RED), None).is_empty());
    }
}
