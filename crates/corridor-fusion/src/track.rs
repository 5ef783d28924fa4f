//! One track: its filter, life cycle, class vote, size and heading smoothing.
//!
//! Life cycle (the classic M-of-N logic, Blackman & Popoli 1999, ch. 6):
//! `Tentative --M hits of N opportunities--> Confirmed --no update for coast_after_s-->
//! Coasting --update--> Confirmed`, and `Coasting --delete_coasting_after_s--> deleted`.
//! A tentative track that used N opportunities without M hits, or got no update for
//! `delete_tentative_after_s`, is deleted. An *opportunity* is a processed frame of a sensor
//! that has already detected the track and whose nominal range covers it, so sensors that
//! cannot see an object do not count against it.
//!
//! Beside M of N, every track keeps a *score*, the log-likelihood ratio of "a real object"
//! over "clutter" (Sittler 1964; Blackman & Popoli sec. 6.2): a hit adds
//! `ln(Pd N(y; 0, S) / clutter density)`, a miss `score_miss_weight * ln(1 - Pd)`, capped at
//! `score_max`. Confirmation also needs `score_confirm`; a published track below
//! `score_delete` is deleted. False alarms scattered in a large gate score little, so a flood
//! of them neither confirms nor keeps alive a track. Published tracks are also deleted when
//! their speed or position leaves what `TrackedObject::validate` accepts, when their position
//! sigma exceeds `max_position_sigma_m`, or when they duplicate an older track.

use corridor_model::detection::SensorKind;
use corridor_model::object::MAX_SPEED_MPS;
use corridor_model::{ObjectClass, Size3, Timestamp, TrackId};
use nalgebra::{Matrix2, Vector2};
use serde::{Deserialize, Serialize};

use crate::calibration::{wrap_angle, Measurement};
use crate::config::{kind_index, FusionConfig};
use crate::filter::{Cov, Gaussian, Imm, ProcessNoise, State};

/// Where a track is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackStatus {
    /// Not yet published: waiting for M of N hits.
    Tentative,
    /// Published and recently updated.
    Confirmed,
    /// Published, predicted only (no recent update).
    Coasting,
}

/// One track.
#[derive(Debug, Clone)]
pub(crate) struct Track {
    pub id: TrackId,
    pub imm: Imm,
    /// Time of the filter state.
    pub t: Timestamp,
    pub z_m: f64,
    pub status: TrackStatus,
    /// Hit (1) / miss (0) of the last opportunities, newest in bit 0.
    pub hit_bits: u32,
    /// Opportunities seen while tentative, saturating at N.
    pub opportunities: u32,
    pub first_seen: Timestamp,
    pub last_updated: Timestamp,
    /// Class votes, indexed like `ObjectClass::ALL`.
    pub class_votes: [f64; 7],
    /// The class and its confidence from the votes, kept current by `vote_class`.
    class_cache: (ObjectClass, f64),
    pub size_m: Option<[f64; 3]>,
    heading_rad: f64,
    /// A velocity fast enough to give the heading, not yet turned into an angle.
    heading_velocity: Option<Vector2<f64>>,
    /// The sensors that contributed.
    pub sensors: SensorSet,
    /// Time, position and velocity after the last update by a clock-reference sensor.
    pub reference_fix: Option<(Timestamp, Vector2<f64>, Vector2<f64>)>,
    /// Consecutive frames in which this track looked like a duplicate of an older one.
    pub duplicate_frames: u32,
    /// Tracks this one was seen apart from (both updated by detections of their own in one
    /// frame, while gated to a common detection) and when, last `APART_SLOTS` partners: two
    /// objects standing together, not a duplicate (`FusionConfig::duplicate_apart_s`).
    pub apart: [Option<(TrackId, Timestamp)>; APART_SLOTS],
    /// A passing under way: another published track came within `passing_swap_m` while the
    /// two moved relative to each other; this track's state then (`Fusion::check_passings`).
    pub passing: Option<Passing>,
    /// Confirmed in the frame being processed: a candidate for re-identification
    /// (`Fusion::reidentify` clears it).
    pub just_confirmed: bool,
    /// Track score: log-likelihood ratio of "real object" over "false alarms", capped.
    pub score: f64,
    /// Last time a sensor that should have seen it did not, while it was predicted to be
    /// hidden behind a larger track from that sensor.
    pub occluded_at: Option<Timestamp>,
    /// Position and velocity right after the last update (for re-identification).
    pub last_fix: (Vector2<f64>, Vector2<f64>),
}

/// Two published tracks passing each other (`FusionConfig::passing_swap_m`), seen from one of
/// them: the other's id, and this track's own state when the passing began.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Passing {
    /// The other track.
    pub other: TrackId,
    /// When the two came within `passing_swap_m`.
    pub t0: Timestamp,
    /// This track's position and velocity then (constant-velocity model).
    pub p0: Vector2<f64>,
    /// See `p0`.
    pub v0: Vector2<f64>,
    /// The closest the two tracks came since, m.
    pub closest_m: f64,
}

/// How many partners a track remembers having been seen apart from (the oldest is forgotten).
pub(crate) const APART_SLOTS: usize = 4;

/// A set of sensor indices (at most [`SensorSet::CAPACITY`] sensors per tracker): a bit set,
/// so tracks clone without allocating.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SensorSet(u64);

impl SensorSet {
    /// The most sensors one tracker handles.
    pub const CAPACITY: usize = 64;

    /// The set `{i}`.
    pub fn single(i: u16) -> Self {
        let mut s = Self::default();
        s.insert(i);
        s
    }

    /// Adds sensor `i` (ignored beyond the capacity).
    pub fn insert(&mut self, i: u16) {
        if usize::from(i) < Self::CAPACITY {
            self.0 |= 1 << i;
        }
    }

    /// True when sensor `i` is in the set.
    pub fn contains(&self, i: u16) -> bool {
        usize::from(i) < Self::CAPACITY && self.0 & (1 << i) != 0
    }

    /// How many sensors.
    pub fn len(&self) -> usize {
        self.0.count_ones() as usize
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// The indices, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u16> {
        let mut bits = self.0;
        std::iter::from_fn(move || {
            if bits == 0 {
                return None;
            }
            let i = bits.trailing_zeros() as u16;
            bits &= bits - 1;
            Some(i)
        })
    }
}

fn class_index(c: ObjectClass) -> usize {
    ObjectClass::ALL.iter().position(|x| *x == c).unwrap_or(0)
}

impl Track {
    /// A tentative track started by `m`, seen by sensor `sensor` at `t`.
    pub fn new(id: TrackId, t: Timestamp, m: &Measurement, sensor: u16, kind: SensorKind, cfg: &FusionConfig) -> Self {
        let v0 = m.velocity_mps.unwrap_or_else(Vector2::zeros);
        let sv = if m.velocity_mps.is_some() { 1.0 } else { cfg.init_speed_sigma_mps.get(m.class) };
        let mut p = Cov::zeros();
        p.fixed_view_mut::<2, 2>(0, 0).copy_from(&m.cov_xy);
        p[(2, 2)] = sv * sv;
        p[(3, 3)] = sv * sv;
        p[(4, 4)] = 0.5 * 0.5;
        let x = State::new(m.xy_m.x, m.xy_m.y, v0.x, v0.y, 0.0);
        let heading_rad = m.heading_rad.unwrap_or_else(|| if v0.norm() > 0.5 { v0.y.atan2(v0.x) } else { 0.0 });
        let mut tr = Self {
            id,
            imm: Imm::new(
                Gaussian { x, p },
                cfg.imm,
                cfg.imm && cfg.stationary_sigma_mps > 0.0 && v0.norm() < cfg.stationary_max_speed_mps,
            ),
            t,
            z_m: m.z_m,
            status: TrackStatus::Tentative,
            hit_bits: 1,
            opportunities: 1,
            first_seen: t,
            last_updated: t,
            class_votes: [0.0; 7],
            class_cache: (ObjectClass::Unknown, 0.0),
            size_m: m.size_m.map(|s| [f64::from(s.length_m), f64::from(s.width_m), f64::from(s.height_m)]),
            heading_rad,
            heading_velocity: None,
            sensors: SensorSet::single(sensor),
            reference_fix: None,
            duplicate_frames: 0,
            apart: [None; APART_SLOTS],
            passing: None,
            just_confirmed: false,
            score: 0.0,
            occluded_at: None,
            last_fix: (m.xy_m, v0),
        };
        tr.vote_class(m, kind, cfg);
        tr
    }

    /// The track's most likely class (Unknown only when nothing else was voted).
    pub fn class(&self) -> (ObjectClass, f64) {
        self.class_cache
    }

    /// Recomputes [`Track::class`] from the votes.
    fn classify(&self) -> (ObjectClass, f64) {
        let total: f64 = self.class_votes.iter().sum();
        let mut best = (ObjectClass::Unknown, 0.0);
        for (i, v) in self.class_votes.iter().enumerate().skip(1) {
            if *v > best.1 {
                best = (ObjectClass::ALL[i], *v);
            }
        }
        if total <= 0.0 || best.1 <= 0.0 {
            return (ObjectClass::Unknown, 0.0);
        }
        (best.0, (best.1 / total).clamp(0.0, 1.0))
    }

    /// Process noise for the track's current class.
    pub fn noise(&self, cfg: &FusionConfig) -> ProcessNoise {
        let c = self.class().0;
        ProcessNoise {
            accel_sigma_mps2: cfg.accel_sigma_mps2.get(c),
            yaw_accel_sigma_radps2: cfg.yaw_accel_sigma_radps2.get(c),
            stationary_sigma_mps: if cfg.imm { cfg.stationary_sigma_mps } else { 0.0 },
            stationary_max_speed_mps: cfg.stationary_max_speed_mps,
        }
    }

    /// Predicts the filter to `t` (no-op when already there).
    pub fn predict_to(&mut self, t: Timestamp, cfg: &FusionConfig) {
        let dt_s = t.secs_since(self.t);
        if dt_s != 0.0 {
            let noise = self.noise(cfg);
            self.imm.predict(dt_s, &noise, cfg.imm_switch_rate_hz);
            self.t = t;
        }
    }

    /// Cheap constant-velocity guess of the position at `t`, without touching the filter.
    pub fn position_guess(&self, t: Timestamp) -> Vector2<f64> {
        let g = &self.imm.models[0].x;
        let dt_s = t.secs_since(self.t);
        Vector2::new(g[0] + g[2] * dt_s, g[1] + g[3] * dt_s)
    }

    /// Updates with `m` from sensor `sensor` at the track's time. Returns false when the
    /// update was numerically impossible (the track is then left as predicted). `held`: the
    /// detection could be another close track's (a close encounter), so only the position is
    /// updated and the velocity and turn rate are held ([`Imm::update_held`]).
    pub fn update(&mut self, m: &Measurement, sensor: u16, kind: SensorKind, cfg: &FusionConfig, held: bool) -> bool {
        let ok = if held { self.imm.update_held(&m.xy_m, &m.cov_xy) } else { self.imm.update(&m.xy_m, &m.cov_xy) };
        if !ok {
            return false;
        }
        self.fixed_by(sensor);
        let a = cfg.size_alpha.clamp(0.0, 1.0) * if kind == SensorKind::Camera { 0.5 } else { 1.0 };
        self.z_m += a * (m.z_m - self.z_m);
        if let Some(s) = m.size_m {
            let meas = [f64::from(s.length_m), f64::from(s.width_m), f64::from(s.height_m)];
            self.size_m = Some(match self.size_m {
                None => meas,
                Some(old) => {
                    [old[0] + a * (meas[0] - old[0]), old[1] + a * (meas[1] - old[1]), old[2] + a * (meas[2] - old[2])]
                }
            });
        }
        self.vote_class(m, kind, cfg);
        let g = &self.imm.models[0].x;
        let speed = (g[2] * g[2] + g[3] * g[3]).sqrt();
        if speed > cfg.heading_from_velocity_min_mps {
            // resolved lazily (atan2 only when the heading is read)
            self.heading_velocity = Some(Vector2::new(g[2], g[3]));
        } else if let Some(h) = m.heading_rad {
            self.heading_rad = self.heading_rad();
            self.heading_velocity = None;
            // boxes are symmetric: take whichever of h, h + pi is closer to the current heading
            let mut d = wrap_angle(h - self.heading_rad);
            if d.abs() > std::f64::consts::FRAC_PI_2 {
                d = wrap_angle(d + std::f64::consts::PI);
            }
            self.heading_rad = wrap_angle(self.heading_rad + a * d);
        }
        true
    }

    /// Position update by a pseudo-measurement `z`, `r` from sensor `sensor` (an ambiguous
    /// pair's detection sum, `FusionConfig::ambiguous_pair_sum_update`): the filter, the hit and
    /// the sensor, but no class vote, size, height or heading (those would need to know which
    /// detection is this track's). False (track left as predicted) when numerically impossible.
    pub fn update_by_pair_sum(&mut self, z: &Vector2<f64>, r: &Matrix2<f64>, sensor: u16) -> bool {
        if !self.imm.update(z, r) {
            return false;
        }
        self.fixed_by(sensor);
        true
    }

    /// Bookkeeping after a successful filter update by `sensor`: the time and state of the last
    /// fix, a hit in the M-of-N history, and the sensor in the set that saw the track.
    fn fixed_by(&mut self, sensor: u16) {
        self.last_updated = self.t;
        let g = self.imm.combined_mean();
        self.last_fix = (Vector2::new(g[0], g[1]), Vector2::new(g[2], g[3]));
        self.record(true);
        self.sensors.insert(sensor);
    }

    fn vote_class(&mut self, m: &Measurement, kind: SensorKind, cfg: &FusionConfig) {
        let w = cfg.class_weight[kind_index(kind)];
        if m.class == ObjectClass::Unknown || w <= 0.0 {
            return;
        }
        let conf = m.class_confidence.clamp(0.0, 1.0);
        let rest = (1.0 - conf) / 5.0;
        let ci = class_index(m.class);
        for (i, v) in self.class_votes.iter_mut().enumerate().skip(1) {
            *v = 0.95 * *v + w * if i == ci { conf } else { rest };
        }
        self.class_cache = self.classify();
    }

    /// Notes that this track and `other` were each updated by a detection of their own at `t`.
    pub fn note_apart(&mut self, other: TrackId, t: Timestamp) {
        let slot = self
            .apart
            .iter()
            .position(|s| s.is_some_and(|(id, _)| id == other))
            .or_else(|| self.apart.iter().position(Option::is_none))
            .unwrap_or_else(|| {
                // all taken: forget the partner seen apart longest ago
                let mut oldest = 0;
                for (i, s) in self.apart.iter().enumerate() {
                    if let (Some((_, a)), Some((_, b))) = (s, self.apart[oldest]) {
                        if *a < b {
                            oldest = i;
                        }
                    }
                }
                oldest
            });
        self.apart[slot] = Some((other, t));
    }

    /// True when this track was seen apart from `other` within `window_s` before `t`.
    pub fn seen_apart_from(&self, other: TrackId, t: Timestamp, window_s: f64) -> bool {
        self.apart.iter().flatten().any(|(id, at)| *id == other && t.secs_since(*at) <= window_s)
    }

    /// Adds `delta` to the track score, capped at `score_max`.
    pub fn add_score(&mut self, delta: f64, cfg: &FusionConfig) {
        if delta.is_finite() {
            self.score = (self.score + delta).min(cfg.score_max);
        }
    }

    /// Records one opportunity (a covering sensor's frame): hit or miss.
    pub fn record(&mut self, hit: bool) {
        self.hit_bits = (self.hit_bits << 1) | u32::from(hit);
        self.opportunities = self.opportunities.saturating_add(1);
    }

    /// Hits within the last `n` opportunities.
    pub fn hits_in_window(&self, n: u32) -> u32 {
        let mask = if n >= 32 { u32::MAX } else { (1u32 << n) - 1 };
        (self.hit_bits & mask).count_ones()
    }

    /// Advances the life cycle at frame time `t`; returns false when the track must be deleted.
    pub fn manage(&mut self, t: Timestamp, cfg: &FusionConfig) -> bool {
        let n = cfg.confirm_n.clamp(1, 32);
        let since_update_s = t.secs_since(self.last_updated);
        match self.status {
            TrackStatus::Tentative => {
                let hits = self.hits_in_window(n);
                let enough = if self.sensors.len() >= 2 {
                    hits >= cfg.confirm_m.min(n)
                } else {
                    hits >= cfg.confirm_single_sensor_m.min(n)
                };
                if enough && self.score >= cfg.score_confirm {
                    self.status = TrackStatus::Confirmed;
                } else if since_update_s > cfg.delete_tentative_after_s || self.opportunities >= n {
                    return false;
                }
            }
            TrackStatus::Confirmed | TrackStatus::Coasting => {
                // hidden behind a larger track when last missed: coast longer (occlusion-aware)
                let hidden = self
                    .occluded_at
                    .is_some_and(|o| o >= self.last_updated && t.secs_since(o) <= cfg.coast_after_s.max(0.3));
                let limit_s = if hidden { cfg.delete_occluded_after_s } else { cfg.delete_coasting_after_s };
                if since_update_s > limit_s
                    || self.duplicate_frames >= cfg.duplicate_frames
                    || self.score < cfg.score_delete
                {
                    return false;
                }
                self.status =
                    if since_update_s > cfg.coast_after_s { TrackStatus::Coasting } else { TrackStatus::Confirmed };
            }
        }
        let g = &self.imm.models[0];
        let pos_var = super::filter::max_eigen_2x2(&Matrix2::new(g.p[(0, 0)], g.p[(0, 1)], g.p[(1, 0)], g.p[(1, 1)]));
        let speed = (g.x[2] * g.x[2] + g.x[3] * g.x[3]).sqrt();
        // never publish what `TrackedObject::validate` would refuse downstream
        let max_speed = (cfg.max_speed_mps.get(self.class().0) * 1.5).min(MAX_SPEED_MPS);
        let dist_m = (g.x[0] * g.x[0] + g.x[1] * g.x[1]).sqrt();
        pos_var.sqrt() <= cfg.max_position_sigma_m
            && speed <= max_speed
            && dist_m <= cfg.max_distance_from_origin_m * 1.5
            && g.x.iter().all(|v| v.is_finite())
    }

    /// The smoothed heading: from the velocity when moving, from the measured box otherwise.
    pub fn heading_rad(&self) -> f64 {
        match self.heading_velocity {
            Some(v) => v.y.atan2(v.x),
            None => self.heading_rad,
        }
    }

    /// The box size to publish: smoothed, or the class's typical size.
    pub fn size(&self) -> Size3 {
        match self.size_m {
            Some([l, w, h]) => Size3::new(l as f32, w as f32, h as f32),
            None => match self.class().0 {
                ObjectClass::Pedestrian => Size3::new(0.6, 0.6, 1.7),
                ObjectClass::Cyclist | ObjectClass::Motorcycle => Size3::new(1.8, 0.7, 1.6),
                ObjectClass::Bus => Size3::new(12.0, 2.5, 3.2),
                ObjectClass::Truck => Size3::new(9.0, 2.5, 3.5),
                _ => Size3::new(4.5, 1.8, 1.5),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensor_set_is_a_sorted_bit_set() {
        let mut s = SensorSet::single(5);
        for i in [63, 0, 5, 17, 64, 200] {
            s.insert(i);
        }
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![0, 5, 17, 63]);
        assert_eq!(s.len(), 4);
        assert!(s.contains(17) && !s.contains(16) && !s.contains(64));
        assert!(SensorSet::default().is_empty());
    }

    #[test]
    fn m_of_n_window_counts_recent_hits_only() {
        let cfg = FusionConfig::default();
        let m = Measurement {
            xy_m: Vector2::new(1.0, 2.0),
            z_m: 0.8,
            cov_xy: Matrix2::from_diagonal_element(0.02),
            class: ObjectClass::Pedestrian,
            class_confidence: 0.8,
            heading_rad: None,
            velocity_mps: None,
            size_m: None,
        };
        let mut t = Track::new(TrackId(1), Timestamp::from_unix_ns(0), &m, 0, SensorKind::Lidar, &cfg);
        assert_eq!(t.class(), (ObjectClass::Pedestrian, t.class().1));
        assert!(t.class().1 > 0.5);
        for hit in [false, true, false, false, false] {
            t.record(hit);
        }
        // newest first: 0 0 0 1 0 | 1 (birth)
        assert_eq!(t.hits_in_window(5), 1);
        assert_eq!(t.hits_in_window(6), 2);
        assert_eq!(t.size(), Size3::new(0.6, 0.6, 1.7), "class default size");
    }
}
