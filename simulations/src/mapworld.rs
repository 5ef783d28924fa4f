//! Traffic on an HD map: vehicles and cyclists drive the lanes and connections of a
//! [`corridor_hdmap::HdMap`], stop at the signalized junctions' stop lines by the SUMO
//! `<tlLogic>` fixed-time programmes read from the `.net.xml`, and pedestrians cross every arm of
//! each signalized junction while the parallel through traffic has green.
//!
//! Frame: the map's own ENU frame (metres); the intersections are the map's `traffic_light`
//! junctions, in id order. Deterministic for a given seed.
//!
//! Routes: from every entry lane (a driving lane that no lane continues) a depth-first walk over
//! the connections enumerates the routes to an exit (at most 32 lanes long). A new vehicle picks
//! its entry approach by demand, then a route whose manoeuvre sequence at the signalized
//! junctions is drawn from the turning ratios (every route with that sequence equally likely).
//! No lane changes; vehicles follow their leader with IDM (shared with [`crate::world`]).
//!
//! Crosswalks: the map's own crosswalks where it has them; otherwise one across each arm of
//! each signalized junction, 1.5 m inside the stop lines, spanning the arm's lanes plus 2.5 m
//! either side. Their signal is the group of a through movement parallel to them.
//!
//! Why read `<tlLogic>` here: the HD-map model keeps signal groups (which movements a group
//! controls) but no programmes; the plan is SUMO's, read with `quick-xml` like the importer.

use corridor_hdmap::{HdMap, LaneKind, Manoeuvre, VehicleClass};
use corridor_model::{MovementPhaseState, ObjectClass, SignalGroupState, Size3, Timestamp};
use nalgebra::Vector2;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp};
use std::collections::{BTreeMap, HashMap};

use crate::signals::{Interval, SignalPlan};
use crate::world::{idm_step, Agent, Path, Traffic, Vehicle};

/// Vehicles per hour entering at each approach, per class, and pedestrians per hour per crosswalk.
#[derive(Debug, Clone, PartialEq)]
pub struct Demand {
    /// Cars per hour per approach.
    pub car: f64,
    /// Buses per hour per approach.
    pub bus: f64,
    /// Trucks per hour per approach.
    pub truck: f64,
    /// Cyclists per hour per approach.
    pub cyclist: f64,
    /// Pedestrians per hour per crosswalk.
    pub pedestrian: f64,
}

impl Default for Demand {
    fn default() -> Self {
        Self { car: 300.0, bus: 20.0, truck: 20.0, cyclist: 30.0, pedestrian: 60.0 }
    }
}

/// Parameters of a map world.
#[derive(Debug, Clone, PartialEq)]
pub struct MapWorldConfig {
    /// Arrivals.
    pub demand: Demand,
    /// Relative weights of left, straight, right at a signalized junction.
    pub turning: [f64; 3],
}

impl Default for MapWorldConfig {
    fn default() -> Self {
        Self { demand: Demand::default(), turning: [0.2, 0.6, 0.2] }
    }
}

/// Errors building a map world.
#[derive(Debug, thiserror::Error)]
pub enum MapWorldError {
    /// The map has no signalized junction.
    #[error("{file}: the map has no traffic_light junction to put an RSU at")]
    NoSignals {
        /// The map file.
        file: String,
    },
    /// The signal programmes could not be read.
    #[error("{file}: {message}")]
    Programme {
        /// The map file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// No route from any entry to an exit.
    #[error("{file}: no route through the map for road vehicles")]
    NoRoutes {
        /// The map file.
        file: String,
    },
}

/// One route: the path and the manoeuvres taken at signalized junctions.
#[derive(Debug, Clone)]
struct Route {
    path: Path,
    manoeuvres: Vec<Manoeuvre>,
    /// Lowest lane index of the entry lane's road (0 = rightmost), for cyclists.
    entry_lane_rank: usize,
    allows_bicycle: bool,
    allows_bus: bool,
}

#[derive(Debug, Clone)]
struct Crossing {
    from: Vector2<f64>,
    to: Vector2<f64>,
    ix: usize,
    group: u16,
}

#[derive(Debug, Clone)]
struct Walker {
    agent: Agent,
    crossing: usize,
    /// Along the sidewalk to the kerb, across, along the far sidewalk away.
    legs: [Vector2<f64>; 4],
    /// Current leg (0..3); leg 1 (the crossing) starts only on green.
    leg: usize,
    walking: bool,
    walk_speed_mps: f64,
    progress_m: f64,
}

/// The map world.
#[derive(Debug)]
pub struct MapWorld {
    cfg: MapWorldConfig,
    rng: ChaCha8Rng,
    centres: Vec<Vector2<f64>>,
    junction_ids: Vec<String>,
    plans: Vec<SignalPlan>,
    /// Per approach (entry road), its routes.
    approaches: Vec<Vec<Route>>,
    crossings: Vec<Crossing>,
    vehicles: Vec<Vehicle>,
    walkers: Vec<Walker>,
    next_id: u64,
    /// Next arrival time per (approach, class index 0..4).
    next_arrival: Vec<[f64; 4]>,
    next_walker: Vec<f64>,
    t_s: f64,
}

fn v2(p: [f64; 2]) -> Vector2<f64> {
    Vector2::new(p[0], p[1])
}

/// SUMO programmes: controller id -> (offset s, phases (duration s, state string)).
pub type TlLogics = BTreeMap<String, (f64, Vec<(f64, String)>)>;

/// A route being enumerated: lanes so far, stops (lane index in the route, junction, group),
/// manoeuvres at signalized junctions.
type Partial<'a> = (Vec<&'a str>, Vec<(usize, usize, u16)>, Vec<Manoeuvre>);

/// Reads every `<tlLogic>` of a SUMO net: `id -> (offset_s, phases (duration_s, state))`.
pub fn read_tl_logics(file: &str, xml: &str) -> Result<TlLogics, MapWorldError> {
    use quick_xml::events::Event;
    let err = |message: String| MapWorldError::Programme { file: file.to_owned(), message };
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out: BTreeMap<String, (f64, Vec<(f64, String)>)> = BTreeMap::new();
    let mut current: Option<String> = None;
    loop {
        let ev =
            reader.read_event().map_err(|e| err(format!("XML error at byte {}: {e}", reader.buffer_position())))?;
        let (e, empty) = match &ev {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(e) if e.name().as_ref() == b"tlLogic" => {
                current = None;
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let mut attrs = HashMap::new();
        for a in e.attributes().flatten() {
            let v = a.unescape_value().map(|v| v.into_owned()).unwrap_or_default();
            attrs.insert(String::from_utf8_lossy(a.key.as_ref()).into_owned(), v);
        }
        match e.name().as_ref() {
            b"tlLogic" => {
                let id = attrs.get("id").cloned().ok_or_else(|| err("<tlLogic> without id".into()))?;
                let offset = attrs.get("offset").map_or(Ok(0.0), |o| {
                    o.parse::<f64>().map_err(|_| err(format!("<tlLogic id=\"{id}\"> offset `{o}` is not a number")))
                })?;
                // the first programme of a controller is the one that runs
                if !out.contains_key(&id) {
                    out.insert(id.clone(), (offset, Vec::new()));
                    current = (!empty).then_some(id);
                } else {
                    current = None;
                }
            }
            b"phase" => {
                let Some(id) = &current else { continue };
                let d = attrs.get("duration").and_then(|d| d.parse::<f64>().ok()).filter(|d| *d > 0.0);
                let (Some(d), Some(state)) = (d, attrs.get("state")) else {
                    return Err(err(format!("<tlLogic id=\"{id}\">: a <phase> needs a positive duration and a state")));
                };
                if let Some(e) = out.get_mut(id) {
                    e.1.push((d, state.clone()));
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// A fixed-time plan from SUMO phases: one group per link index (`G`/`g` green, `y` amber,
/// everything else red).
pub fn plan_from_phases(offset_s: f64, phases: &[(f64, String)]) -> SignalPlan {
    let links = phases.iter().map(|(_, s)| s.chars().count()).max().unwrap_or(0);
    let cycle: f64 = phases.iter().map(|(d, _)| d).sum();
    let groups = (0..links)
        .map(|i| {
            let mut t = 0.0;
            let mut iv: Vec<Interval> = Vec::new();
            for (d, state) in phases {
                let st = match state.chars().nth(i) {
                    Some('G') => MovementPhaseState::ProtectedMovementAllowed,
                    Some('g') => MovementPhaseState::PermissiveMovementAllowed,
                    Some('y' | 'Y') => MovementPhaseState::PermissiveClearance,
                    _ => MovementPhaseState::StopAndRemain,
                };
                match iv.last_mut() {
                    Some(last) if last.2 == st => last.1 = t + d,
                    _ => iv.push((t, t + d, st)),
                }
                t += d;
            }
            (i as u16, iv)
        })
        .collect();
    SignalPlan { cycle_s: cycle, offset_s, groups }
}

fn heading_at_end(pts: &[[f64; 2]]) -> Vector2<f64> {
    let n = pts.len();
    if n < 2 {
        return Vector2::new(1.0, 0.0);
    }
    let d = v2(pts[n - 1]) - v2(pts[n - 2]);
    d.try_normalize(1e-9).unwrap_or(Vector2::new(1.0, 0.0))
}

impl MapWorld {
    /// A world on `map`, with the signal programmes of the SUMO net `net_xml` (its text).
    pub fn new(
        file: &str,
        map: &HdMap,
        net_xml: &str,
        cfg: MapWorldConfig,
        rng: ChaCha8Rng,
    ) -> Result<Self, MapWorldError> {
        let logics = read_tl_logics(file, net_xml)?;
        let mut junction_ids = Vec::new();
        let mut centres = Vec::new();
        let mut plans = Vec::new();
        for j in map.junctions.iter().filter(|j| j.kind.starts_with("traffic_light")) {
            let Some((offset, phases)) = logics.get(&j.id) else { continue };
            junction_ids.push(j.id.clone());
            centres.push(v2(j.centre_m));
            plans.push(plan_from_phases(*offset, phases));
        }
        if junction_ids.is_empty() {
            return Err(MapWorldError::NoSignals { file: file.to_owned() });
        }
        let lanes: HashMap<&str, &corridor_hdmap::Lane> = map.lanes.iter().map(|l| (l.id.as_str(), l)).collect();
        let mut conns: HashMap<&str, Vec<&corridor_hdmap::Connection>> = HashMap::new();
        for c in &map.connections {
            conns.entry(c.ingress.as_str()).or_default().push(c);
        }
        let continued: std::collections::HashSet<&str> = map.connections.iter().map(|c| c.egress.as_str()).collect();
        let is_road = |l: &corridor_hdmap::Lane| {
            l.kind == LaneKind::Driving && l.allowed.contains(VehicleClass::Car) && l.centre_line_m.len() >= 2
        };
        // entries grouped by road
        let mut by_road: BTreeMap<String, Vec<&corridor_hdmap::Lane>> = BTreeMap::new();
        for l in map.lanes.iter().filter(|l| is_road(l) && !continued.contains(l.id.as_str())) {
            by_road.entry(l.road.clone().unwrap_or_else(|| l.id.as_str().to_owned())).or_default().push(l);
        }
        let mut approaches = Vec::new();
        for (_, entry_lanes) in by_road {
            let mut routes = Vec::new();
            for (rank, lane) in entry_lanes.iter().enumerate() {
                let mut stack: Vec<Partial<'_>> = vec![(vec![lane.id.as_str()], vec![], vec![])];
                while let Some((seq, stops, mans)) = stack.pop() {
                    let Some(last) = seq.last().copied() else { continue };
                    let next = conns.get(last).map(Vec::as_slice).unwrap_or_default();
                    let next: Vec<_> =
                        next.iter().filter(|c| lanes.get(c.egress.as_str()).is_some_and(|l| is_road(l))).collect();
                    if next.is_empty() || seq.len() > 32 {
                        routes.push(build_route(&lanes, &seq, &stops, mans, rank));
                        continue;
                    }
                    for c in next {
                        let mut seq2 = seq.clone();
                        let mut stops2 = stops.clone();
                        let mut mans2 = mans.clone();
                        let sig = c
                            .signal
                            .as_ref()
                            .and_then(|s| junction_ids.iter().position(|j| *j == s.controller).map(|k| (k, s.group.0)));
                        if let Some((k, g)) = sig {
                            // stop at the end of the ingress lane (index in seq)
                            stops2.push((seq2.len() - 1, k, g));
                            mans2.push(c.manoeuvre);
                        }
                        seq2.extend(c.via.iter().map(|v| v.as_str()));
                        seq2.push(c.egress.as_str());
                        if seq2[..seq2.len() - 1].contains(&c.egress.as_str()) {
                            continue; // a loop
                        }
                        stack.push((seq2, stops2, mans2));
                    }
                }
            }
            routes.retain(|r| r.path.length() > 20.0);
            if !routes.is_empty() {
                approaches.push(routes);
            }
        }
        if approaches.is_empty() {
            return Err(MapWorldError::NoRoutes { file: file.to_owned() });
        }
        let crossings = build_crossings(map, &junction_ids, &centres);
        let n_app = approaches.len();
        let n_cross = crossings.len();
        Ok(Self {
            cfg,
            rng,
            centres,
            junction_ids,
            plans,
            approaches,
            crossings,
            vehicles: Vec::new(),
            walkers: Vec::new(),
            next_id: 1,
            next_arrival: vec![[0.0; 4]; n_app],
            next_walker: vec![0.0; n_cross],
            t_s: 0.0,
        })
    }

    /// The signalized junctions' ids (one RSU each), in the order of [`Traffic::centres`].
    pub fn junction_ids(&self) -> &[String] {
        &self.junction_ids
    }

    /// The signal plan of intersection `k`.
    pub fn plan(&self, k: usize) -> &SignalPlan {
        &self.plans[k]
    }

    /// Number of entry approaches and crosswalks (for checks and logs).
    pub fn layout_counts(&self) -> (usize, usize, usize) {
        (self.approaches.len(), self.approaches.iter().map(Vec::len).sum(), self.crossings.len())
    }

    fn spawn_vehicle(&mut self, approach: usize, class_idx: usize) {
        let routes = &self.approaches[approach];
        let (class, size, v0) = match class_idx {
            0 => (ObjectClass::Car, Size3::new(4.6, 1.85, 1.5), self.rng.gen_range(11.0..14.0)),
            1 => (ObjectClass::Bus, Size3::new(12.0, 2.55, 3.2), 10.0),
            2 => (ObjectClass::Truck, Size3::new(9.0, 2.5, 3.5), 10.5),
            _ => (ObjectClass::Cyclist, Size3::new(1.8, 0.6, 1.7), self.rng.gen_range(4.0..6.0)),
        };
        // candidate routes for the class; cyclists keep to the rightmost lane
        let cand: Vec<usize> = (0..routes.len())
            .filter(|&i| match class {
                ObjectClass::Cyclist => routes[i].entry_lane_rank == 0 && routes[i].allows_bicycle,
                ObjectClass::Bus => routes[i].allows_bus,
                _ => true,
            })
            .collect();
        let cand = if cand.is_empty() { (0..routes.len()).collect() } else { cand };
        // weight by turning ratios, shared evenly among routes with the same manoeuvres
        let mut sig_count: HashMap<Vec<Manoeuvre>, usize> = HashMap::new();
        for &i in &cand {
            *sig_count.entry(routes[i].manoeuvres.clone()).or_default() += 1;
        }
        let weight = |r: &Route| -> f64 {
            let w: f64 = r
                .manoeuvres
                .iter()
                .map(|m| match m {
                    Manoeuvre::Left => self.cfg.turning[0],
                    Manoeuvre::Straight => self.cfg.turning[1],
                    Manoeuvre::Right => self.cfg.turning[2],
                    _ => 0.0,
                })
                .product();
            w / sig_count.get(&r.manoeuvres).copied().unwrap_or(1) as f64
        };
        let total: f64 = cand.iter().map(|&i| weight(&routes[i])).sum();
        let pick = if total > 0.0 {
            let mut x = self.rng.gen::<f64>() * total;
            let mut chosen = cand[cand.len() - 1];
            for &i in &cand {
                x -= weight(&routes[i]);
                if x <= 0.0 {
                    chosen = i;
                    break;
                }
            }
            chosen
        } else {
            cand[self.rng.gen_range(0..cand.len())]
        };
        let path = routes[pick].path.clone();
        let (p, h) = path.at(0.0);
        if self.vehicles.iter().any(|v| (v.agent.position - p).norm() < 14.0) {
            return; // the entry must be clear
        }
        let id = self.next_id;
        self.next_id += 1;
        self.vehicles.push(Vehicle {
            agent: Agent { id, class, size, position: p, heading_rad: h, speed_mps: v0 * 0.8 },
            path,
            s: 0.0,
            desired_mps: v0,
        });
    }

    fn spawn_walker(&mut self, crossing: usize) {
        let c = &self.crossings[crossing];
        let forward = self.rng.gen::<bool>();
        let (from, to) = if forward { (c.from, c.to) } else { (c.to, c.from) };
        // people wait spread over the kerb: up to 2.5 m back from the road, +-1.8 m across the
        // crosswalk's width, so a group waiting is not one point
        // and keep a personal distance of 1.2 m from everyone else waiting (up to 20 tries)
        let u = (to - from).normalize();
        let mut spot = (from, to);
        for _ in 0..20 {
            let across = Vector2::new(-u.y, u.x) * self.rng.gen_range(-1.8..1.8);
            let back = self.rng.gen_range(0.0..2.5);
            spot = (from + across - u * back, to + across);
            if self.walkers.iter().all(|w| (w.legs[1] - spot.0).norm() >= 1.2 && (w.legs[2] - spot.1).norm() >= 1.2) {
                break;
            }
        }
        let (from, to) = spot;
        // they come along the sidewalk from outside the scored area and leave the same way, so
        // nobody appears or vanishes in front of the sensors
        let centre = self.centres[c.ix];
        // the arm's axis: perpendicular to the crosswalk, pointing away from the junction
        let perp = Vector2::new(-u.y, u.x);
        let axis = if perp.dot(&((from + to) / 2.0 - centre)) >= 0.0 { perp } else { -perp };
        let legs = [from + axis * 52.0, from, to, to + axis * 52.0];
        let d = from - legs[0];
        let id = self.next_id;
        self.next_id += 1;
        let speed = self.rng.gen_range(1.1..1.6);
        self.walkers.push(Walker {
            agent: Agent {
                id,
                class: ObjectClass::Pedestrian,
                size: Size3::new(0.5, 0.5, 1.75),
                position: legs[0],
                heading_rad: d.y.atan2(d.x),
                speed_mps: speed,
            },
            crossing,
            legs,
            leg: 0,
            walking: true,
            walk_speed_mps: speed,
            progress_m: 0.0,
        });
    }

    fn step_walkers(&mut self, dt_s: f64) {
        let t = self.t_s;
        // people do not walk through each other: a walker closing on someone ahead going the
        // same way (within 0.9 m across, 1.5 m ahead) keeps that person's pace
        let snapshot: Vec<(Vector2<f64>, f64, f64, bool)> =
            self.walkers.iter().map(|w| (w.agent.position, w.agent.heading_rad, w.walk_speed_mps, w.walking)).collect();
        let mut pace: Vec<f64> = snapshot.iter().map(|x| x.2).collect();
        for (i, &(p, h, _, walking)) in snapshot.iter().enumerate() {
            if !walking {
                continue;
            }
            let dir = Vector2::new(h.cos(), h.sin());
            for (j, &(q, hq, vq, wq)) in snapshot.iter().enumerate() {
                if i == j || !wq || (hq - h).cos() < 0.9 {
                    continue;
                }
                let rel = q - p;
                let along = rel.dot(&dir);
                let across = (rel - dir * along).norm();
                if along > 0.0 && along < 1.5 && across < 0.9 {
                    pace[i] = pace[i].min(vq * (along / 1.5).clamp(0.5, 1.0));
                }
            }
        }
        for (w, pace) in self.walkers.iter_mut().zip(pace) {
            if w.walking {
                // people speed up over about a second (1.5 m/s^2) and slow down at once
                w.agent.speed_mps = pace.min(w.agent.speed_mps + 1.5 * dt_s);
            }
            let c = &self.crossings[w.crossing];
            let (from, to) = (w.legs[w.leg], w.legs[w.leg + 1]);
            let len = (to - from).norm().max(1e-6);
            if !w.walking {
                let plan = &self.plans[c.ix];
                if plan.state(c.group, t).is_green() && plan.time_to_change(c.group, t) > len / w.walk_speed_mps + 2.0 {
                    w.walking = true;
                }
                continue;
            }
            w.progress_m += w.agent.speed_mps * dt_s;
            let d = to - from;
            w.agent.heading_rad = d.y.atan2(d.x);
            if w.progress_m >= len && w.leg < 2 {
                w.leg += 1;
                w.progress_m = 0.0;
                w.agent.position = to;
                if w.leg == 1 {
                    // at the kerb: wait for green (or go on if there is time left)
                    w.walking = false;
                    w.agent.speed_mps = 0.0;
                }
                continue;
            }
            let f = (w.progress_m / len).min(1.0);
            w.agent.position = from + d * f;
        }
        self.walkers.retain(|w| w.leg < 2 || w.progress_m < (w.legs[3] - w.legs[2]).norm());
    }
}

fn build_route(
    lanes: &HashMap<&str, &corridor_hdmap::Lane>,
    seq: &[&str],
    stops: &[(usize, usize, u16)],
    manoeuvres: Vec<Manoeuvre>,
    rank: usize,
) -> Route {
    let mut path = Path::new();
    let mut allows_bicycle = true;
    let mut allows_bus = true;
    for (i, id) in seq.iter().enumerate() {
        let Some(l) = lanes.get(id) else { continue };
        for p in &l.centre_line_m {
            path.push(v2(*p));
        }
        if l.kind != LaneKind::Internal {
            allows_bicycle &= l.allowed.contains(VehicleClass::Bicycle);
            allows_bus &= l.allowed.contains(VehicleClass::Bus);
        }
        for &(at, k, g) in stops.iter().filter(|s| s.0 == i) {
            path.stops.push((path.length(), k, g));
            let _ = at;
        }
    }
    Route { path, manoeuvres, entry_lane_rank: rank, allows_bicycle, allows_bus }
}

fn build_crossings(map: &HdMap, junction_ids: &[String], centres: &[Vector2<f64>]) -> Vec<Crossing> {
    let lanes: HashMap<&str, &corridor_hdmap::Lane> = map.lanes.iter().map(|l| (l.id.as_str(), l)).collect();
    let mut out = Vec::new();
    for (k, (jid, c)) in junction_ids.iter().zip(centres).enumerate() {
        let conns: Vec<_> =
            map.connections.iter().filter(|x| x.signal.as_ref().is_some_and(|s| &s.controller == jid)).collect();
        // the group of a through movement along direction `d` (either way)
        let through_group = |d: Vector2<f64>| -> Option<u16> {
            conns.iter().find_map(|x| {
                let l = lanes.get(x.ingress.as_str())?;
                let h = heading_at_end(&l.centre_line_m);
                (x.manoeuvre == Manoeuvre::Straight && h.dot(&d).abs() > 0.9)
                    .then(|| x.signal.as_ref().map(|s| s.group.0))?
            })
        };
        let mapped: Vec<_> = map.crosswalks.iter().filter(|w| w.junction.as_deref() == Some(jid.as_str())).collect();
        if !mapped.is_empty() {
            for w in mapped {
                let (Some(a), Some(b)) = (w.centre_line_m.first(), w.centre_line_m.last()) else { continue };
                let (a, b) = (v2(*a), v2(*b));
                let group = w.signal.as_ref().map(|s| s.group.0).or_else(|| through_group((b - a).normalize()));
                if let Some(group) = group {
                    out.push(Crossing { from: a, to: b, ix: k, group });
                }
            }
            continue;
        }
        // synthesize: one crossing per arm (ingress lanes grouped by approach direction)
        let mut arms: Vec<(Vector2<f64>, f64, Vec<f64>)> = Vec::new(); // (axis outward, stop dist, lateral offsets)
        for x in &conns {
            let Some(l) = lanes.get(x.ingress.as_str()) else { continue };
            let Some(end) = l.centre_line_m.last() else { continue };
            let h = heading_at_end(&l.centre_line_m);
            let axis = -h;
            let rel = v2(*end) - c;
            let perp = Vector2::new(-axis.y, axis.x);
            match arms.iter_mut().find(|a| a.0.dot(&axis) > 0.9) {
                Some(a) => {
                    a.1 = a.1.min(rel.dot(&axis));
                    a.2.push(rel.dot(&perp));
                }
                None => arms.push((axis, rel.dot(&axis), vec![rel.dot(&perp)])),
            }
        }
        // egress lanes widen the arm to the other side
        for x in &conns {
            let Some(l) = lanes.get(x.egress.as_str()) else { continue };
            let Some(start) = l.centre_line_m.first() else { continue };
            let rel = v2(*start) - c;
            for a in arms.iter_mut() {
                let perp = Vector2::new(-a.0.y, a.0.x);
                if rel.dot(&a.0) > 0.0 && (rel.dot(&a.0) - a.1).abs() < 6.0 {
                    a.2.push(rel.dot(&perp));
                }
            }
        }
        for (axis, stop, offs) in arms {
            let perp = Vector2::new(-axis.y, axis.x);
            let lo = offs.iter().copied().fold(f64::INFINITY, f64::min) - 2.5;
            let hi = offs.iter().copied().fold(f64::NEG_INFINITY, f64::max) + 2.5;
            let along = (stop - 1.5).max(3.0);
            let Some(group) = through_group(perp) else { continue };
            out.push(Crossing { from: c + axis * along + perp * lo, to: c + axis * along + perp * hi, ix: k, group });
        }
    }
    out
}

impl Traffic for MapWorld {
    fn step(&mut self, dt_s: f64) {
        self.t_s += dt_s;
        let t = self.t_s;
        let d = self.cfg.demand.clone();
        let rates = [d.car, d.bus, d.truck, d.cyclist];
        for a in 0..self.next_arrival.len() {
            for (ci, rate) in rates.iter().enumerate() {
                if *rate <= 0.0 {
                    continue;
                }
                if t >= self.next_arrival[a][ci] {
                    if self.next_arrival[a][ci] > 0.0 {
                        self.spawn_vehicle(a, ci);
                    }
                    let gap = Exp::new(rate / 3600.0).map(|e| e.sample(&mut self.rng)).unwrap_or(3600.0);
                    self.next_arrival[a][ci] = t + gap.max(1.0);
                }
            }
        }
        if d.pedestrian > 0.0 {
            for k in 0..self.next_walker.len() {
                if t >= self.next_walker[k] {
                    if self.next_walker[k] > 0.0 {
                        self.spawn_walker(k);
                    }
                    let gap = Exp::new(d.pedestrian / 3600.0).map(|e| e.sample(&mut self.rng)).unwrap_or(3600.0);
                    self.next_walker[k] = t + gap.max(1.5);
                }
            }
        }
        idm_step(&mut self.vehicles, &self.plans, t, dt_s);
        self.step_walkers(dt_s);
    }

    fn time_s(&self) -> f64 {
        self.t_s
    }

    fn agents(&self) -> Vec<Agent> {
        let mut v: Vec<Agent> =
            self.vehicles.iter().map(|v| v.agent.clone()).chain(self.walkers.iter().map(|w| w.agent.clone())).collect();
        v.sort_by_key(|a| a.id);
        v
    }

    fn centres(&self) -> Vec<Vector2<f64>> {
        self.centres.clone()
    }

    fn signal_snapshot(&self, k: usize, t0: Timestamp) -> Vec<SignalGroupState> {
        self.plans[k].snapshot(self.t_s, t0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rand::SeedableRng;

    fn demo_world(cfg: MapWorldConfig) -> MapWorld {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../maps/demo-4arm/demo-4arm.net.xml");
        let map = corridor_hdmap::load_path(path, &corridor_hdmap::ImportOptions::default()).unwrap().map;
        let xml = std::fs::read_to_string(path).unwrap();
        MapWorld::new(path, &map, &xml, cfg, ChaCha8Rng::seed_from_u64(3)).unwrap()
    }

    #[test]
    fn the_demo_map_has_one_signalized_junction_routes_and_crossings() {
        let w = demo_world(MapWorldConfig::default());
        assert_eq!(w.junction_ids(), ["A0"]);
        let (approaches, routes, crossings) = w.layout_counts();
        assert_eq!(approaches, 4);
        assert!(routes >= 12, "{routes}");
        assert_eq!(crossings, 4);
        // SUMO's programme: 90 s, link 0 green for the first 33 s
        assert!((w.plan(0).cycle_s - 90.0).abs() < 1e-9);
        assert!(w.plan(0).state(0, 10.0).is_green());
        assert!(!w.plan(0).state(0, 40.0).is_green());
    }

    #[test]
    fn traffic_flows_stops_at_red_and_everyone_stays_on_the_map() {
        let mut w = demo_world(MapWorldConfig::default());
        let mut seen = std::collections::BTreeSet::new();
        let mut classes = std::collections::BTreeSet::new();
        for _ in 0..12_000 {
            w.step(0.01);
            for a in w.agents() {
                assert!(a.position.norm() < 200.0, "{a:?}");
                seen.insert(a.id);
                classes.insert(a.class.as_str());
            }
        }
        assert!(seen.len() > 30, "{}", seen.len());
        for c in ["car", "pedestrian"] {
            assert!(classes.contains(c), "{classes:?}");
        }
        // someone stopped at a red light: a vehicle with zero speed near a stop line
        assert!(w.vehicles.iter().any(|v| v.agent.speed_mps < 0.1) || w.walkers.iter().any(|w| !w.walking));
    }
}
