//! The built-in corridor world: a straight arterial with N signalized 4-arm
//! intersections, vehicles that turn, queue and obey the signals, pedestrians
//! on the crosswalks. Deterministic for a given seed; time is stepped by the caller.
//!
//! Frame: world x east, y north, metres; intersection `k` sits at
//! `(k * spacing_m, 0)`. Right-hand traffic, one lane per direction, 3.5 m wide.
//! Each intersection's ENU frame is the world frame shifted to its centre.

use corridor_model::{MovementPhaseState, ObjectClass, Size3};
use nalgebra::Vector2;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp};

use crate::signals::SignalPlan;

/// Half the lane width: lane centres are this far right of the road centre line, m.
pub const LANE_OFFSET_M: f64 = 1.75;
/// Distance from an intersection centre to its stop lines, m.
pub const STOP_LINE_M: f64 = 12.0;
/// Distance from an intersection centre to where turn arcs start, m.
const BOX_M: f64 = 9.0;
/// Length of each side road and of the arterial beyond the end intersections, m.
const ARM_M: f64 = 150.0;

/// Parameters of the world.
#[derive(Debug, Clone)]
pub struct WorldConfig {
    /// Number of intersections along the arterial.
    pub intersections: usize,
    /// Distance between intersections, m.
    pub spacing_m: f64,
    /// Vehicle arrivals per second at each entry.
    pub arrival_rate_hz: f64,
    /// Pedestrian arrivals per second at each intersection.
    pub pedestrian_rate_hz: f64,
}

impl Default for WorldConfig {
    fn default() -> Self {
        Self { intersections: 2, spacing_m: 250.0, arrival_rate_hz: 0.09, pedestrian_rate_hz: 0.12 }
    }
}

/// A road user's state, as ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    /// Unique, never reused.
    pub id: u64,
    /// What it is.
    pub class: ObjectClass,
    /// Box size.
    pub size: Size3,
    /// Centre, world frame.
    pub position: Vector2<f64>,
    /// Heading, radians from east.
    pub heading_rad: f64,
    /// Speed along the heading, m/s.
    pub speed_mps: f64,
}

impl Agent {
    /// Velocity vector, m/s.
    pub fn velocity(&self) -> Vector2<f64> {
        Vector2::new(self.heading_rad.cos(), self.heading_rad.sin()) * self.speed_mps
    }
}

/// A path sampled as a polyline with cumulative arc length.
#[derive(Debug, Clone)]
pub(crate) struct Path {
    pub(crate) points: Vec<Vector2<f64>>,
    pub(crate) s: Vec<f64>,
    /// (s of the stop line, intersection index, signal group) for each approach on the path.
    pub(crate) stops: Vec<(f64, usize, u16)>,
}

impl Path {
    pub(crate) fn new() -> Self {
        Self { points: Vec::new(), s: Vec::new(), stops: Vec::new() }
    }

    pub(crate) fn push(&mut self, p: Vector2<f64>) {
        let s = match (self.points.last(), self.s.last()) {
            (Some(q), Some(s)) => s + (p - q).norm(),
            _ => 0.0,
        };
        if self.points.last().is_some_and(|q| (p - q).norm() < 1e-6) {
            return;
        }
        self.points.push(p);
        self.s.push(s);
    }

    /// The speed allowed at `s` by the curves within 40 m ahead: each curve's speed for
    /// `a_lat` lateral acceleration (curvature over 3 m), reachable by braking at `brake`.
    pub(crate) fn curve_speed_limit(&self, s: f64, a_lat: f64, brake: f64) -> f64 {
        let mut allowed = f64::INFINITY;
        let end = self.length() - 3.0;
        let mut d = 0.0;
        while d <= 40.0 && s + d < end {
            let (_, h0) = self.at(s + d);
            let (_, h1) = self.at(s + d + 3.0);
            let dh = (h1 - h0 + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU) - std::f64::consts::PI;
            let kappa = dh.abs() / 3.0;
            if kappa > 1e-3 {
                let vc = (a_lat / kappa).sqrt();
                allowed = allowed.min((vc * vc + 2.0 * brake * d).sqrt());
            }
            d += 1.5;
        }
        allowed
    }

    pub(crate) fn length(&self) -> f64 {
        self.s.last().copied().unwrap_or(0.0)
    }

    /// Position and heading at arc length `s`.
    pub(crate) fn at(&self, s: f64) -> (Vector2<f64>, f64) {
        let i = match self.s.binary_search_by(|x| x.total_cmp(&s)) {
            Ok(i) => i.min(self.points.len().saturating_sub(2)),
            Err(i) => i.saturating_sub(1).min(self.points.len().saturating_sub(2)),
        };
        let (a, b) = (self.points[i], self.points[i + 1]);
        let seg = self.s[i + 1] - self.s[i];
        let f = if seg > 0.0 { ((s - self.s[i]) / seg).clamp(0.0, 1.0) } else { 0.0 };
        let d = b - a;
        (a + d * f, d.y.atan2(d.x))
    }
}

fn right(d: Vector2<f64>) -> Vector2<f64> {
    Vector2::new(d.y, -d.x)
}

#[derive(Debug, Clone)]
pub(crate) struct Vehicle {
    pub(crate) agent: Agent,
    pub(crate) path: Path,
    pub(crate) s: f64,
    pub(crate) desired_mps: f64,
}

#[derive(Debug, Clone)]
struct Walker {
    agent: Agent,
    from: Vector2<f64>,
    to: Vector2<f64>,
    ix: usize,
    group: u16,
    walking: bool,
    walk_speed_mps: f64,
    progress_m: f64,
}

/// The world: agents, signal plans, a seeded generator.
#[derive(Debug)]
pub struct World {
    cfg: WorldConfig,
    rng: ChaCha8Rng,
    plans: Vec<SignalPlan>,
    vehicles: Vec<Vehicle>,
    walkers: Vec<Walker>,
    next_id: u64,
    next_arrival: Vec<f64>,
    next_walker: Vec<f64>,
    /// Simulation time, seconds since start.
    pub t_s: f64,
}

/// What the runners need from a traffic world: stepping, ground truth, intersections and SPaT.
/// Implemented by the hand-built corridor ([`World`]) and the HD-map world
/// ([`crate::mapworld::MapWorld`]).
pub trait Traffic: Send {
    /// Advances by `dt_s`.
    fn step(&mut self, dt_s: f64);
    /// Simulation time, s.
    fn time_s(&self) -> f64;
    /// Every agent (ground truth), sorted by id.
    fn agents(&self) -> Vec<Agent>;
    /// The signalized intersections' centres, world (map) frame.
    fn centres(&self) -> Vec<Vector2<f64>>;
    /// The SPaT of intersection `k` at the current time, absolute times from `t0`.
    fn signal_snapshot(&self, k: usize, t0: corridor_model::Timestamp) -> Vec<corridor_model::SignalGroupState>;
}

impl Traffic for World {
    fn step(&mut self, dt_s: f64) {
        World::step(self, dt_s);
    }
    fn time_s(&self) -> f64 {
        self.t_s
    }
    fn agents(&self) -> Vec<Agent> {
        World::agents(self)
    }
    fn centres(&self) -> Vec<Vector2<f64>> {
        (0..self.intersections()).map(|k| self.centre(k)).collect()
    }
    fn signal_snapshot(&self, k: usize, t0: corridor_model::Timestamp) -> Vec<corridor_model::SignalGroupState> {
        self.plans[k].snapshot(self.t_s, t0)
    }
}

/// Directions of travel.
const E: Vector2<f64> = Vector2::new(1.0, 0.0);
const W: Vector2<f64> = Vector2::new(-1.0, 0.0);
const N: Vector2<f64> = Vector2::new(0.0, 1.0);
const S: Vector2<f64> = Vector2::new(0.0, -1.0);

impl World {
    /// A world with signal plans for each intersection.
    pub fn new(cfg: WorldConfig, plans: Vec<SignalPlan>, rng: ChaCha8Rng) -> Self {
        let entries = 2 + 2 * cfg.intersections;
        Self {
            next_arrival: vec![0.0; entries],
            next_walker: vec![0.0; cfg.intersections],
            cfg,
            rng,
            plans,
            vehicles: Vec::new(),
            walkers: Vec::new(),
            next_id: 1,
            t_s: 0.0,
        }
    }

    /// Centre of intersection `k`, world frame.
    pub fn centre(&self, k: usize) -> Vector2<f64> {
        Vector2::new(k as f64 * self.cfg.spacing_m, 0.0)
    }

    /// Number of intersections.
    pub fn intersections(&self) -> usize {
        self.cfg.intersections
    }

    /// The signal plan of intersection `k`.
    pub fn plan(&self, k: usize) -> &SignalPlan {
        &self.plans[k]
    }

    /// Every agent, sorted by id.
    pub fn agents(&self) -> Vec<Agent> {
        let mut v: Vec<Agent> =
            self.vehicles.iter().map(|v| v.agent.clone()).chain(self.walkers.iter().map(|w| w.agent.clone())).collect();
        v.sort_by_key(|a| a.id);
        v
    }

    fn group_for(d: Vector2<f64>) -> u16 {
        if d.x.abs() > 0.5 {
            1
        } else {
            2
        }
    }

    /// Builds a route entering along `d` at intersection `first` and turning at `turn_at` to `d2`.
    fn route(&self, entry: Vector2<f64>, d: Vector2<f64>, turn_at: Option<(usize, Vector2<f64>)>) -> Path {
        let mut path = Path::new();
        path.push(entry);
        let mut pos = entry;
        let mut dir = d;
        let n = self.cfg.intersections;
        // visit intersections in travel order while on the arterial, or the one side-road junction
        loop {
            // next intersection ahead along dir
            let next = (0..n)
                .map(|k| (k, self.centre(k)))
                .filter(|(_, c)| {
                    let rel = c + right(dir) * LANE_OFFSET_M - pos;
                    rel.dot(&dir) > STOP_LINE_M - 1e-6 && (rel - dir * rel.dot(&dir)).norm() < 1.0
                })
                .min_by(|a, b| (a.1 - pos).norm().total_cmp(&(b.1 - pos).norm()));
            let Some((k, c)) = next else {
                // run out to the end of the road
                let end = pos + dir * 160.0;
                path.push(end);
                return path;
            };
            let lane = right(dir) * LANE_OFFSET_M;
            let stop = c - dir * STOP_LINE_M + lane;
            path.push(stop);
            let stop_s = path.length();
            path.stops.push((stop_s, k, Self::group_for(dir)));
            let turn = turn_at.filter(|(tk, _)| *tk == k).map(|(_, d2)| d2);
            match turn {
                Some(d2) if (d2 - dir).norm() > 1e-6 => {
                    let a = c - dir * BOX_M + lane;
                    let b = c + d2 * BOX_M + right(d2) * LANE_OFFSET_M;
                    let ctrl = c + lane + right(d2) * LANE_OFFSET_M;
                    path.push(a);
                    for i in 1..=16 {
                        let t = i as f64 / 16.0;
                        path.push(a * (1.0 - t) * (1.0 - t) + ctrl * 2.0 * t * (1.0 - t) + b * t * t);
                    }
                    pos = b;
                    dir = d2;
                }
                _ => {
                    let b = c + dir * BOX_M + lane;
                    path.push(b);
                    pos = b;
                }
            }
            // leaving along a side road: no more intersections ahead
            if dir.y.abs() > 0.5 {
                path.push(pos + dir * (ARM_M - BOX_M));
                return path;
            }
        }
    }

    fn spawn_vehicle(&mut self, entry_idx: usize) {
        let n = self.cfg.intersections;
        let last = self.centre(n - 1);
        let (entry, d, home) = match entry_idx {
            0 => (Vector2::new(-ARM_M, 0.0) + right(E) * LANE_OFFSET_M, E, None),
            1 => (last + Vector2::new(ARM_M, 0.0) + right(W) * LANE_OFFSET_M, W, None),
            i => {
                let k = (i - 2) / 2;
                let c = self.centre(k);
                if (i - 2) % 2 == 0 {
                    (c + Vector2::new(0.0, ARM_M) + right(S) * LANE_OFFSET_M, S, Some(k))
                } else {
                    (c + Vector2::new(0.0, -ARM_M) + right(N) * LANE_OFFSET_M, N, Some(k))
                }
            }
        };
        // the entry must be clear
        if self.vehicles.iter().any(|v| (v.agent.position - entry).norm() < 12.0) {
            return;
        }
        let left = Vector2::new(-d.y, d.x);
        let r: f64 = self.rng.gen();
        let turn_dir = if r < 0.2 {
            Some(left)
        } else if r < 0.4 {
            Some(right(d))
        } else {
            None
        };
        let turn_at = match (home, turn_dir) {
            (Some(k), Some(t)) => Some((k, t)),
            (Some(k), None) => Some((k, d)),
            (None, Some(t)) => Some((self.rng.gen_range(0..n), t)),
            (None, None) => None,
        };
        let path = self.route(entry, d, turn_at);
        let c: f64 = self.rng.gen();
        let (class, size, v0) = if c < 0.72 {
            (ObjectClass::Car, Size3::new(4.6, 1.85, 1.5), self.rng.gen_range(11.0..15.0))
        } else if c < 0.80 {
            (ObjectClass::Bus, Size3::new(12.0, 2.55, 3.2), 10.0)
        } else if c < 0.87 {
            (ObjectClass::Truck, Size3::new(9.0, 2.5, 3.5), 10.5)
        } else {
            (ObjectClass::Cyclist, Size3::new(1.8, 0.6, 1.7), self.rng.gen_range(4.0..6.0))
        };
        let (p, h) = path.at(0.0);
        let id = self.next_id;
        self.next_id += 1;
        self.vehicles.push(Vehicle {
            agent: Agent { id, class, size, position: p, heading_rad: h, speed_mps: v0 * 0.8 },
            path,
            s: 0.0,
            desired_mps: v0,
        });
    }

    fn spawn_walker(&mut self, k: usize) {
        let c = self.centre(k);
        // four crosswalks, 15 m from the centre, spanning the 7 m road plus 2 m each side
        let arm: usize = self.rng.gen_range(0..4);
        let sign = if self.rng.gen::<bool>() { 1.0 } else { -1.0 };
        let (from, to, group) = match arm {
            0 => (c + Vector2::new(15.0, -5.5 * sign), c + Vector2::new(15.0, 5.5 * sign), 4),
            1 => (c + Vector2::new(-15.0, -5.5 * sign), c + Vector2::new(-15.0, 5.5 * sign), 4),
            2 => (c + Vector2::new(-5.5 * sign, 15.0), c + Vector2::new(5.5 * sign, 15.0), 3),
            _ => (c + Vector2::new(-5.5 * sign, -15.0), c + Vector2::new(5.5 * sign, -15.0), 3),
        };
        let d = to - from;
        let id = self.next_id;
        self.next_id += 1;
        let speed = self.rng.gen_range(1.1..1.6);
        self.walkers.push(Walker {
            agent: Agent {
                id,
                class: ObjectClass::Pedestrian,
                size: Size3::new(0.5, 0.5, 1.75),
                position: from,
                heading_rad: d.y.atan2(d.x),
                speed_mps: 0.0,
            },
            from,
            to,
            ix: k,
            group,
            walking: false,
            walk_speed_mps: speed,
            progress_m: 0.0,
        });
    }

    /// Advances the world by `dt_s`.
    pub fn step(&mut self, dt_s: f64) {
        self.t_s += dt_s;
        let t = self.t_s;
        // arrivals
        for i in 0..self.next_arrival.len() {
            if t >= self.next_arrival[i] {
                self.spawn_vehicle(i);
                let gap = Exp::new(self.cfg.arrival_rate_hz).map(|e| e.sample(&mut self.rng)).unwrap_or(10.0);
                self.next_arrival[i] = t + gap.max(1.5);
            }
        }
        for k in 0..self.next_walker.len() {
            if t >= self.next_walker[k] {
                self.spawn_walker(k);
                let gap = Exp::new(self.cfg.pedestrian_rate_hz).map(|e| e.sample(&mut self.rng)).unwrap_or(10.0);
                self.next_walker[k] = t + gap.max(2.0);
            }
        }
        self.step_vehicles(dt_s);
        self.step_walkers(dt_s);
    }

    fn step_vehicles(&mut self, dt_s: f64) {
        idm_step(&mut self.vehicles, &self.plans, self.t_s, dt_s);
    }

    fn step_walkers(&mut self, dt_s: f64) {
        let t = self.t_s;
        for w in &mut self.walkers {
            if !w.walking {
                let state = self.plans[w.ix].state(w.group, t);
                // start only with enough green left to cross
                let left = self.plans[w.ix].time_to_change(w.group, t);
                if state.is_green() && left > 8.0 {
                    w.walking = true;
                    w.agent.speed_mps = w.walk_speed_mps;
                }
                continue;
            }
            w.progress_m += w.agent.speed_mps * dt_s;
            let d = w.to - w.from;
            let f = (w.progress_m / d.norm()).min(1.0);
            w.agent.position = w.from + d * f;
        }
        self.walkers.retain(|w| !w.walking || w.progress_m < (w.to - w.from).norm());
    }

    /// The phase of every signal group of intersection `k` at the world's time.
    pub fn signal_state(&self, k: usize, group: u16) -> MovementPhaseState {
        self.plans[k].state(group, self.t_s)
    }
}

/// Car following (IDM, Treiber et al. 2000) along fixed paths, stopping at red stop lines;
/// vehicles at the end of their path leave.
pub(crate) fn idm_step(vehicles: &mut Vec<Vehicle>, plans: &[SignalPlan], t: f64, dt_s: f64) {
    let snapshot: Vec<(Vector2<f64>, f64, f64, f64)> = vehicles
        .iter()
        .map(|v| (v.agent.position, v.agent.heading_rad, v.agent.speed_mps, v.agent.size.length_m as f64))
        .collect();
    let mut accel = vec![0.0; vehicles.len()];
    for (i, v) in vehicles.iter().enumerate() {
        let (p, h, speed, len) = snapshot[i];
        let dir = Vector2::new(h.cos(), h.sin());
        // nearest leader ahead in our lane
        let mut gap = f64::INFINITY;
        let mut lead_speed = 0.0;
        for (j, &(q, hq, vq, lq)) in snapshot.iter().enumerate() {
            if i == j {
                continue;
            }
            let rel = q - p;
            let along = rel.dot(&dir);
            let lateral = (rel - dir * along).norm();
            let dh = (hq - h).sin().abs() + if (hq - h).cos() < 0.0 { 2.0 } else { 0.0 };
            if along > 0.0 && along < 60.0 && lateral < 1.6 && dh < 0.9 {
                let g = along - (len + lq) / 2.0;
                if g < gap {
                    gap = g;
                    lead_speed = vq;
                }
            }
        }
        // signals: a stop line ahead on red or amber (when we can still stop) is a standing leader
        for &(stop_s, k, group) in &v.path.stops {
            let dist = stop_s - v.s - len / 2.0;
            if !(-0.5..=80.0).contains(&dist) {
                continue;
            }
            let state = plans[k].state(group, t);
            let must_stop = match state {
                s if s.is_green() => false,
                s if s.is_amber() => dist > speed * speed / (2.0 * 3.0),
                _ => true,
            };
            if must_stop && dist.max(0.0) < gap {
                gap = dist.max(0.0);
                lead_speed = 0.0;
            }
        }
        // IDM
        let (a_max, b, s0, th): (f64, f64, f64, f64) = (1.5, 2.0, 2.0, 1.2);
        // slow for curves ahead: lateral acceleration at most 2.5 m/s^2, braking 2 m/s^2 to get there
        let v0 = v.desired_mps.min(v.path.curve_speed_limit(v.s, 2.5, 2.0)).max(2.0);
        let s_star = s0 + speed * th + speed * (speed - lead_speed) / (2.0 * (a_max * b).sqrt());
        let interaction = if gap.is_finite() { (s_star.max(0.0) / gap.max(0.1)).powi(2) } else { 0.0 };
        accel[i] = (a_max * (1.0 - (speed / v0).powi(4) - interaction)).max(-8.0);
    }
    for (v, a) in vehicles.iter_mut().zip(accel) {
        let speed = (v.agent.speed_mps + a * dt_s).max(0.0);
        v.s += speed * dt_s;
        v.agent.speed_mps = speed;
        let (p, h) = v.path.at(v.s);
        v.agent.position = p;
        v.agent.heading_rad = h;
    }
    vehicles.retain(|v| v.s < v.path.length() - 1.0);
}
