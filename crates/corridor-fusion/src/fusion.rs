//! The [`Fusion`] state machine: reorder buffer, per-frame association and update, track
//! management and output. Sans-IO: time only enters as `now` and as capture timestamps.

use std::collections::VecDeque;

use corridor_model::detection::SensorKind;
use corridor_model::{DetectionFrame, SensorId, Timestamp, TrackId, TrackedObject};
use nalgebra::{Matrix2, Matrix4, Vector2, Vector3};

use crate::align::ClockOffsetEstimator;
use crate::assoc::{ambiguous_matches, assign, class_mismatch, AmbiguityScratch, AssignScratch, Candidate, Grid};
use crate::calibration::{to_enu, Measurement, SensorPose};
use crate::config::{kind_index, FusionConfig, LatePolicy, SensorSpec};
use crate::filter::{max_eigen_2x2, predict, MotionModel, State};
use crate::stats::{FusionStats, SensorStats};
use crate::track::{Passing, SensorSet, Track, TrackStatus};
use crate::validate::{check_detection, FrameRejection};

/// The fused output of one or more processed frames.
#[derive(Debug, Clone, PartialEq)]
pub struct FusionOutput {
    /// The newest processed (clock-corrected) capture time; every object is predicted to it.
    pub capture_time: Timestamp,
    /// Confirmed and coasting tracks, sorted by track id.
    pub objects: Vec<TrackedObject>,
}

/// What happened to a frame given to [`Fusion::handle_frame`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FrameOutcome {
    /// Waiting in the reorder buffer; call `handle_timeout` at `poll_timeout`.
    Queued,
    /// Fused now (possibly together with earlier buffered frames, or by replay).
    Processed,
    /// Refused whole; counted in the stats.
    Rejected(FrameRejection),
}

/// A validated frame waiting in the reorder buffer, already in ENU.
#[derive(Debug, Clone)]
pub(crate) struct PendingFrame {
    /// Clock-corrected capture time.
    pub aligned: Timestamp,
    pub sensor: u16,
    pub seq: u64,
    pub measurements: Vec<Measurement>,
    /// Already processed once (being replayed): not counted again, no clock evidence.
    pub replayed: bool,
}

/// A deleted published track, kept unpublished for re-identification (`reid_window_s`).
#[derive(Debug, Clone)]
struct Lost {
    id: TrackId,
    class: corridor_model::ObjectClass,
    first_seen: Timestamp,
    last_updated: Timestamp,
    /// Position and velocity right after the last update.
    fix: (Vector2<f64>, Vector2<f64>),
}

/// Above this speed a lost and a new track have a direction to compare (re-identification
/// refuses a new track moving against the lost one's direction), m/s.
const REID_MOVING_MPS: f64 = 0.5;

/// Two tracks pass each other (`FusionConfig::passing_swap_m`) only when their velocities differ
/// by more than this, m/s: people standing or walking together are no passing.
const PASSING_MIN_REL_MPS: f64 = 0.5;

/// A passing is decided once the two tracks are this far apart again, m, and at least
/// `PASSING_SEPARATED_M` further apart than at their closest.
const PASSING_END_M: f64 = 1.0;

/// See `PASSING_END_M`, m.
const PASSING_SEPARATED_M: f64 = 0.5;

/// A passing still undecided after this long is dropped (the two stayed together: the
/// constant-velocity guess from before says nothing any more), s.
const PASSING_MAX_S: f64 = 5.0;

/// The ids are exchanged when the exchanged pairing costs less than this fraction of the kept
/// one...
const PASSING_SWAP_RATIO: f64 = 0.25;

/// ...and the kept pairing is off by more than this (squared metres, position plus velocity
/// over 1 s): a swap corrects a clear error, never noise.
const PASSING_MIN_COST_M2: f64 = 1.0;

/// The most lost tracks kept for re-identification (the oldest go first).
const MAX_LOST: usize = 128;

/// Processing order of frames: capture time, then sensor, then sequence number.
type FrameKey = (Timestamp, u16, u64);

/// The tracker state before the frame `key` was processed.
#[derive(Debug, Clone)]
struct Snapshot {
    key: FrameKey,
    tracks: Vec<Track>,
    lost: Vec<Lost>,
    last_processed: Option<Timestamp>,
    /// `(tracks_created, tracks_confirmed, tracks_deleted)`.
    counters: (u64, u64, u64),
    /// Each sensor's clutter density estimate (updated by every processed frame).
    clutter: Vec<f64>,
}

impl PendingFrame {
    fn key(&self) -> FrameKey {
        (self.aligned, self.sensor, self.seq)
    }
}

/// Per-sensor runtime state.
#[derive(Debug, Clone)]
struct SensorRt {
    spec: SensorSpec,
    pose: SensorPose,
    /// ENU ground position of the sensor.
    xy_m: Vector2<f64>,
    /// Estimated false-alarm density of this sensor, 1/m^2 per frame.
    clutter_per_m2: f64,
    /// Clock offset estimator (sensor clock minus reference); `None` for reference sensors
    /// or when estimation is off.
    clock: Option<ClockOffsetEstimator>,
    /// Newest clock-corrected capture time received.
    last_aligned: Option<Timestamp>,
    /// Estimated frame period (clock-corrected capture interval), s.
    period_s: Option<f64>,
    /// Mean absolute deviation of the capture interval from the period (trigger jitter), s.
    jitter_s: f64,
    /// Capture time and sequence number of the last frame received (duplicate check).
    last_frame: Option<(Timestamp, u64)>,
    /// Receive time of the newest frame.
    last_received: Option<Timestamp>,
}

impl SensorRt {
    fn clock_offset_s(&self) -> f64 {
        self.clock.map_or(0.0, |c| c.offset_s())
    }
}

/// The most processed frames kept for replay (memory bound under a frame flood).
const MAX_HISTORY_FRAMES: usize = 256;

/// Gain of the frame-period (and trigger jitter) low-pass filters.
const PERIOD_GAIN: f64 = 0.1;

/// Speculation needs another sensor's next capture expected this many jitters after a frame.
const SPECULATION_JITTERS: f64 = 3.0;

/// A reference sensor's fix older than this is not used for clock offset evidence, s.
const REFERENCE_FIX_MAX_AGE_S: f64 = 0.3;

/// Gain of the per-frame low-pass estimate of a sensor's clutter density.
const CLUTTER_GAIN: f64 = 0.05;

/// Pairs further than this (squared Mahalanobis) give no clock offset evidence.
const CLOCK_EVIDENCE_MAX_D2: f64 = 25.0;

/// Upper bounds of the detection-sigma buckets of the pre-gate grids, m.
const SIGMA_BUCKETS_M: [f64; 3] = [0.5, 1.5, f64::INFINITY];

/// True when two tracks' position and velocity agree within `max_d2` (each on `P1 + P2`).
fn same_object(a: &Track, b: &Track, max_d2: f64) -> bool {
    let (ga, gb) = (&a.imm.models[0], &b.imm.models[0]);
    let d2 = |i: usize| {
        let s = ga.p.fixed_view::<2, 2>(i, i) + gb.p.fixed_view::<2, 2>(i, i);
        let y = ga.x.fixed_rows::<2>(i) - gb.x.fixed_rows::<2>(i);
        s.try_inverse().map_or(f64::INFINITY, |si| (y.transpose() * si * y)[(0, 0)])
    };
    a.t == b.t && d2(0) < max_d2 && d2(2) < max_d2
}

/// The track score of a hit by `z`, `r` (log-likelihood ratio, Blackman & Popoli sec. 6.2):
/// `ln(Pd N(y; 0, S) / clutter density)` on the CV model's prediction; 0 when `S` is singular.
fn hit_score(tr: &Track, z: &Vector2<f64>, r: &Matrix2<f64>, pd: f64, clutter: f64) -> f64 {
    let g = &tr.imm.models[0];
    let s = g.p.fixed_view::<2, 2>(0, 0) + r;
    let y = z - g.x.fixed_rows::<2>(0);
    match s.try_inverse() {
        Some(si) if s.determinant() > 0.0 => {
            let d2 = (y.transpose() * si * y)[(0, 0)];
            pd.ln() - 0.5 * d2 - (std::f64::consts::TAU * s.determinant().sqrt()).ln() - clutter.ln()
        }
        _ => 0.0,
    }
}

/// Starts a passing of tracks `a` and `b` (both published, gated to one detection) when
/// neither is in one, they are of one class group, within `radius_m` of each other and moving
/// relative to each other (`FusionConfig::passing_swap_m`).
fn start_passing(tracks: &mut [Track], a: usize, b: usize, t: Timestamp, radius_m: f64) {
    if tracks[a].passing.is_some() || tracks[b].passing.is_some() {
        return;
    }
    if class_mismatch(tracks[a].class().0, tracks[b].class().0) > 0.25 {
        return;
    }
    let state = |tr: &Track| {
        let g = &tr.imm.models[0].x;
        (tr.position_guess(t), Vector2::new(g[2], g[3]))
    };
    let ((xa, va), (xb, vb)) = (state(&tracks[a]), state(&tracks[b]));
    let d = (xa - xb).norm();
    if d >= radius_m || (va - vb).norm() <= PASSING_MIN_REL_MPS {
        return;
    }
    let (ida, idb) = (tracks[a].id, tracks[b].id);
    tracks[a].passing = Some(Passing { other: idb, t0: t, p0: xa, v0: va, closest_m: d });
    tracks[b].passing = Some(Passing { other: ida, t0: t, p0: xb, v0: vb, closest_m: d });
}

/// A track's CV guess at the frame time, for pre-gating and birth suppression.
#[derive(Debug, Clone, Copy)]
struct TrackGeom {
    guess: Vector2<f64>,
    p_guess: Matrix2<f64>,
    /// Upper bound of the position sigma of the guess, m.
    sigma_t: f64,
}

/// Reusable per-frame buffers.
#[derive(Debug, Default, Clone)]
struct Scratch {
    min_d2: Vec<f64>,
    geom: Vec<TrackGeom>,
    by_det: Vec<(u32, u32)>,
    det_count: Vec<u8>,
    dup_flag: Vec<bool>,
    pairs: Vec<Candidate>,
    /// The pairs of one stage of the matching cascade.
    stage: Vec<Candidate>,
    near: Vec<u32>,
    det_sigma: Vec<f64>,
    bucket_xy: [Vec<Vector2<f64>>; SIGMA_BUCKETS_M.len()],
    bucket_idx: [Vec<u32>; SIGMA_BUCKETS_M.len()],
    grids: [Grid; SIGMA_BUCKETS_M.len()],
    matched_det: Vec<bool>,
    matched_track: Vec<bool>,
    /// Published tracks that can hide others: (id, position, half length, footprint area).
    occluders: Vec<(TrackId, Vector2<f64>, f64, f64)>,
    assign: AssignScratch,
    ambiguity: AmbiguityScratch,
    /// Published tracks whose detection in this frame was ambiguous (not updated, no miss).
    ambiguous_track: Vec<bool>,
    /// Detections left unused because ambiguous (no birth from them).
    ambiguous_det: Vec<u32>,
    /// Per match: ambiguous, update the position only (velocity held).
    held: Vec<bool>,
    /// `(detection, track)` of the published gated pairs (close-encounter test).
    enc: Vec<(u32, u32)>,
    /// Ambiguous swaps updated by their detections' sum: `(track a, det, track b, det)`.
    sme: Vec<(u32, u32, u32, u32)>,
}

/// Multi-sensor fusion and tracking for one intersection. See the crate doc for the pipeline.
#[derive(Debug, Clone)]
pub struct Fusion {
    cfg: FusionConfig,
    /// Sorted by sensor id, so index order is id order.
    sensors: Vec<SensorRt>,
    /// Reorder buffer, sorted by `(aligned, sensor, seq)`.
    queue: Vec<PendingFrame>,
    tracks: Vec<Track>,
    /// Deleted published tracks that a new track may continue (re-identification), oldest
    /// first, at most `MAX_LOST`.
    lost: Vec<Lost>,
    next_id: u64,
    last_processed: Option<Timestamp>,
    output_dirty: bool,
    stats: FusionStats,
    /// Processed frames still inside the retrodiction window (replay policy).
    history: VecDeque<PendingFrame>,
    /// Tracker states taken before a processed frame, every `snapshot_interval_s`.
    snapshots: VecDeque<Snapshot>,
    /// Which id each recent birth got, so a replay gives the same birth the same id.
    births: VecDeque<(FrameKey, u32, TrackId)>,
    replaying: bool,
    /// Frames fused speculatively (`FusionConfig::speculate`) that are not due yet, in key
    /// order: output waits until this is empty.
    unconfirmed: Vec<FrameKey>,
    /// Newest capture time of the frames fused when due (or confirmed since): what the
    /// tracker would have processed without speculation. A frame older than this is late; one
    /// between this and `last_processed` is a speculation miss (rolled back, not late).
    last_confirmed: Option<Timestamp>,
    /// The output of the frames that are due while later ones fused speculatively are not.
    held_output: Option<FusionOutput>,
    /// The first frame of the newest speculative run: `held_output` was built just before it
    /// (None after a rollback).
    run_first: Option<FrameKey>,
    scratch: Scratch,
}

impl Fusion {
    /// A tracker for `sensors` (duplicate ids: the last one wins).
    pub fn new(config: FusionConfig, sensors: Vec<SensorSpec>) -> Self {
        let mut rts: Vec<SensorRt> = Vec::with_capacity(sensors.len());
        for spec in sensors {
            let kind = spec.kind;
            let p = spec.extrinsics.enu_from_sensor.translation.vector;
            let rt = SensorRt {
                pose: SensorPose::new(&spec.extrinsics),
                clutter_per_m2: config.clutter_floor_per_m2[kind_index(kind)],
                xy_m: Vector2::new(p.x, p.y),
                spec,
                clock: (config.estimate_clock_offsets && !config.clock_reference_kinds.contains(&kind))
                    .then(|| ClockOffsetEstimator::new(config.clock_offset_prior_sigma_s)),
                last_aligned: None,
                last_received: None,
                last_frame: None,
                period_s: None,
                jitter_s: 0.0,
            };
            match rts.binary_search_by(|s| s.spec.id.cmp(&rt.spec.id)) {
                Ok(i) => rts[i] = rt,
                Err(i) => rts.insert(i, rt),
            }
        }
        // a track's sensor set is a 64-bit set: sensors beyond it are not configured (their
        // frames are refused as unknown)
        rts.truncate(SensorSet::CAPACITY);
        let mut stats = FusionStats::default();
        for s in &rts {
            stats.sensors.insert(s.spec.id.clone(), SensorStats::default());
        }
        Self {
            cfg: config,
            sensors: rts,
            queue: Vec::new(),
            tracks: Vec::new(),
            lost: Vec::new(),
            next_id: 1,
            last_processed: None,
            output_dirty: false,
            history: VecDeque::new(),
            snapshots: VecDeque::new(),
            births: VecDeque::new(),
            replaying: false,
            unconfirmed: Vec::new(),
            last_confirmed: None,
            held_output: None,
            run_first: None,
            stats,
            scratch: Scratch::default(),
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &FusionConfig {
        &self.cfg
    }

    /// Counters (see [`FusionStats`]).
    pub fn stats(&self) -> &FusionStats {
        &self.stats
    }

    /// The newest processed (clock-corrected) capture time.
    pub fn last_processed(&self) -> Option<Timestamp> {
        self.last_processed
    }

    /// Number of live tracks by status `(tentative, confirmed, coasting)`.
    pub fn track_counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for t in &self.tracks {
            match t.status {
                TrackStatus::Tentative => c.0 += 1,
                TrackStatus::Confirmed => c.1 += 1,
                TrackStatus::Coasting => c.2 += 1,
            }
        }
        c
    }

    /// The current clock offset estimate of a sensor (sensor clock minus reference), s.
    pub fn clock_offset_s(&self, sensor: &SensorId) -> Option<f64> {
        self.sensor_index(sensor).map(|i| self.sensors[i].clock_offset_s())
    }

    fn sensor_index(&self, id: &SensorId) -> Option<usize> {
        self.sensors.binary_search_by(|s| s.spec.id.cmp(id)).ok()
    }

    fn sensor_stats(&mut self, si: usize) -> &mut SensorStats {
        let id = &self.sensors[si].spec.id;
        self.stats.sensors.entry(id.clone()).or_default()
    }

    fn reject(&mut self, si: usize, r: FrameRejection) -> FrameOutcome {
        *self.sensor_stats(si).frames_rejected.entry(r.kind()).or_insert(0) += 1;
        FrameOutcome::Rejected(r)
    }

    /// Feed one received frame; `now` is the RSU's receive time. Never panics; invalid
    /// detections are rejected and counted per sensor and reason; the rest of the frame is used.
    pub fn handle_frame(&mut self, now: Timestamp, frame: DetectionFrame) -> FrameOutcome {
        let Some(si) = self.sensor_index(&frame.sensor) else {
            self.stats.unknown_sensor_frames += 1;
            return FrameOutcome::Rejected(FrameRejection::UnknownSensor(frame.sensor));
        };
        {
            let st = self.sensor_stats(si);
            st.frames_received += 1;
            st.last_capture_time = Some(frame.capture_time);
        }
        let kind = self.sensors[si].spec.kind;
        if frame.kind != kind {
            let sensor = frame.sensor;
            return self.reject(si, FrameRejection::KindMismatch { sensor, expected: kind, got: frame.kind });
        }
        // saturating: a capture stamp from outside can be any i64
        let ahead_s = frame.capture_time.nanos_since(now) as f64 * 1e-9;
        if ahead_s > self.cfg.max_future_s {
            return self.reject(si, FrameRejection::FutureTimestamp { ahead_s });
        }
        if -ahead_s > self.cfg.max_frame_age_s {
            self.sensor_stats(si).late_frames += 1;
            self.sensor_stats(si).dropped_frames += 1;
            return self.reject(si, FrameRejection::TooLate { late_s: -ahead_s });
        }
        if frame.detections.len() > self.cfg.max_detections_per_frame {
            return self.reject(si, FrameRejection::TooManyDetections(frame.detections.len()));
        }
        let last = (frame.capture_time, frame.frame_seq);
        if self.sensors[si].last_frame == Some(last) {
            return self.reject(si, FrameRejection::Duplicate);
        }
        self.sensors[si].last_frame = Some(last);
        let aligned = frame.capture_time.add_secs_f64(-self.sensors[si].clock_offset_s());
        // the speculative frames are the newest processed: a frame that sorts before one of
        // them (an earlier capture, or the same capture time from a sensor of lower index)
        // but after the last frame fused in order is not late: without speculation it would
        // have been fused before them. Roll back and fuse in order.
        if self.unconfirmed.last().is_some_and(|k| (aligned, si as u16, frame.frame_seq) < *k)
            && self.last_confirmed.is_none_or(|c| aligned >= c)
        {
            let pending = self.convert(si, aligned, &frame);
            let key = pending.key();
            self.note_received(si, aligned, now);
            match self.replay(pending) {
                Ok(()) => {
                    self.stats.speculation_rollbacks += 1;
                    let pos = self.unconfirmed.partition_point(|k| *k < key);
                    self.unconfirmed.insert(pos, key);
                    self.release(now);
                    self.stats.queued_frames = self.queue.len() as u64;
                    return FrameOutcome::Processed;
                }
                // no snapshot old enough (cannot happen while speculation holds one): late
                Err(_) => {
                    self.sensor_stats(si).late_frames += 1;
                    self.sensor_stats(si).dropped_frames += 1;
                    let late_s = self.last_processed.map_or(0.0, |lp| lp.secs_since(aligned));
                    return self.reject(si, FrameRejection::TooLate { late_s });
                }
            }
        }
        if let Some(lp) = self.last_confirmed.or(self.last_processed) {
            if aligned < lp {
                let late_s = lp.secs_since(aligned);
                self.sensor_stats(si).late_frames += 1;
                let key = (aligned, si as u16, frame.frame_seq);
                let replayable = self.cfg.late_policy == LatePolicy::Replay
                    && late_s <= self.cfg.retrodiction_window_s
                    && self.snapshots.iter().any(|s| s.key <= key);
                if replayable {
                    let pending = self.convert(si, aligned, &frame);
                    self.note_received(si, aligned, now);
                    if self.replay(pending).is_ok() {
                        self.sensor_stats(si).replayed_frames += 1;
                        return FrameOutcome::Processed;
                    }
                }
                self.sensor_stats(si).dropped_frames += 1;
                return self.reject(si, FrameRejection::TooLate { late_s });
            }
        }
        let pending = self.convert(si, aligned, &frame);
        self.note_received(si, aligned, now);
        let key = pending.key();
        let pos = self.queue.partition_point(|f| f.key() < key);
        self.queue.insert(pos, pending);
        self.release(now);
        self.stats.queued_frames = self.queue.len() as u64;
        if self.queue.iter().any(|f| f.key() == key) {
            FrameOutcome::Queued
        } else {
            FrameOutcome::Processed
        }
    }

    fn note_received(&mut self, si: usize, aligned: Timestamp, now: Timestamp) {
        let rt = &mut self.sensors[si];
        if let Some(prev) = rt.last_aligned {
            // frame period: a low-passed interval between consecutive captures; gaps (drops,
            // dropouts) longer than twice the current estimate are not intervals
            let dt_s = aligned.secs_since(prev);
            if dt_s > 1e-3 {
                rt.period_s = Some(match rt.period_s {
                    None => dt_s,
                    Some(p) if dt_s < 2.0 * p => {
                        rt.jitter_s += PERIOD_GAIN * ((dt_s - p).abs() - rt.jitter_s);
                        p + PERIOD_GAIN * (dt_s - p)
                    }
                    Some(p) => p,
                });
            }
        }
        rt.last_aligned = Some(rt.last_aligned.map_or(aligned, |t| t.max(aligned)));
        rt.last_received = Some(rt.last_received.map_or(now, |t| t.max(now)));
    }

    /// Validates and transforms a frame's detections, counting rejections.
    fn convert(&mut self, si: usize, aligned: Timestamp, frame: &DetectionFrame) -> PendingFrame {
        let kind = self.sensors[si].spec.kind;
        let pose = self.sensors[si].pose;
        let mut measurements = Vec::with_capacity(frame.detections.len());
        let mut rejected = Vec::new();
        for det in &frame.detections {
            match check_detection(det, &self.cfg).and_then(|()| to_enu(det, kind, &pose, &self.cfg)) {
                Ok(m) => measurements.push(m),
                Err(r) => rejected.push(r),
            }
        }
        let st = self.sensor_stats(si);
        st.detections_accepted += measurements.len() as u64;
        for r in rejected {
            *st.detections_rejected.entry(r).or_insert(0) += 1;
        }
        PendingFrame { aligned, sensor: si as u16, seq: frame.frame_seq, measurements, replayed: false }
    }

    /// Release/process whatever the reorder buffer holds that is due at `now`.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.release(now);
        self.stats.queued_frames = self.queue.len() as u64;
    }

    /// The next time `handle_timeout` should be called, if any: when the oldest waiting
    /// frame, or the oldest frame fused speculatively, is due at the latest.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let waiting = self.queue.first().map(|f| f.aligned);
        let speculative = self.unconfirmed.first().map(|k| k.0);
        let oldest = match (waiting, speculative) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        oldest.map(|t| t.add_secs_f64(self.cfg.reorder_window_s))
    }

    /// True when no live sensor other than the frame's can still deliver a frame captured
    /// before `t`: it already delivered one at least as new, or its next capture (last capture
    /// plus 0.9 of its frame period, for jitter) is after `t`. So a frame waits
    /// only for frames actually in flight, not for the next frame of every sensor.
    fn all_caught_up(&self, t: Timestamp, sensor: u16, now: Timestamp) -> bool {
        self.sensors.iter().enumerate().all(|(i, s)| {
            if i == sensor as usize {
                return true;
            }
            match (s.last_received, s.last_aligned) {
                (Some(rx), Some(la)) => {
                    now.secs_since(rx) > self.cfg.sensor_timeout_s
                        || la >= t
                        || s.period_s.is_some_and(|p| la.add_secs_f64(0.9 * p) > t)
                }
                _ => true,
            }
        })
    }

    /// True when a frame captured at `t` by `sensor` is due: waited `reorder_window_s`, or
    /// no other live sensor can still deliver an earlier frame ([`Fusion::all_caught_up`]).
    fn due(&self, t: Timestamp, sensor: u16, now: Timestamp) -> bool {
        now >= t.add_secs_f64(self.cfg.reorder_window_s) || self.all_caught_up(t, sensor, now)
    }

    /// True when every other live sensor that could still deliver a frame captured before `t`
    /// is expected to capture its next frame after `t`, by more than three times its measured
    /// trigger jitter (last capture plus its period, minus the allowance): fusing the frame at
    /// `t` now is a good bet. Hardware-triggered sensors (microseconds of jitter) qualify
    /// almost always; free-running ones whose captures fall close together do not, which
    /// keeps rollbacks rare.
    fn probably_next(&self, t: Timestamp, sensor: u16, now: Timestamp) -> bool {
        self.sensors.iter().enumerate().all(|(i, s)| {
            if i == sensor as usize {
                return true;
            }
            match (s.last_received, s.last_aligned) {
                (Some(rx), Some(la)) => {
                    now.secs_since(rx) > self.cfg.sensor_timeout_s
                        || la >= t
                        || s.period_s.is_some_and(|p| {
                            // a frame of the same capture time sorts by sensor index
                            let next = la.add_secs_f64(p - SPECULATION_JITTERS * s.jitter_s);
                            next > t || (next == t && i > sensor as usize)
                        })
                }
                _ => true,
            }
        })
    }

    fn speculation_on(&self) -> bool {
        self.cfg.speculate && self.cfg.late_policy == LatePolicy::Replay && self.cfg.retrodiction_window_s > 0.0
    }

    fn release(&mut self, now: Timestamp) {
        let confirmed = self.confirm(now);
        self.release_due(now);
        self.speculate(now);
        if self.unconfirmed.is_empty() {
            self.held_output = None;
        } else if confirmed {
            // only some speculative frames became due: what fusing in order publishes now is
            // the state after them, before the rest
            self.hold_confirmed_output();
        }
    }

    /// Fuses the waiting frames that are due, oldest first.
    fn release_due(&mut self, now: Timestamp) {
        while let Some(front) = self.queue.first() {
            let forced = self.queue.len() > self.cfg.max_queued_frames.max(1);
            if !(forced || self.due(front.aligned, front.sensor, now)) {
                break;
            }
            if forced {
                self.stats.forced_releases += 1;
            }
            let frame = self.queue.remove(0);
            // frames fused speculatively before this one are due with it
            let key = frame.key();
            self.unconfirmed.retain(|k| *k > key);
            self.last_confirmed = Some(self.last_confirmed.map_or(key.0, |c| c.max(key.0)));
            self.process(frame);
        }
    }

    /// Fuses waiting frames that are not due yet but probably next ([`Fusion::probably_next`]).
    fn speculate(&mut self, now: Timestamp) {
        if !self.speculation_on() {
            return;
        }
        while let Some(front) = self.queue.first() {
            if !self.probably_next(front.aligned, front.sensor, now) {
                break;
            }
            let frame = self.queue.remove(0);
            if self.unconfirmed.is_empty() {
                if self.output_dirty {
                    // what fusing in order publishes now: the frames fused so far
                    self.held_output = self.output_now();
                    self.output_dirty = false;
                }
                self.snapshot_before_speculation(frame.key());
                self.run_first = Some(frame.key());
            }
            self.unconfirmed.push(frame.key());
            self.stats.speculative_frames += 1;
            self.process(frame);
        }
    }

    /// Confirms, oldest first, the speculatively fused frames that are due now. True when
    /// any was (they count as processed now: there is new output).
    fn confirm(&mut self, now: Timestamp) -> bool {
        let mut any = false;
        while let Some(&(t, sensor, _)) = self.unconfirmed.first() {
            if !self.due(t, sensor, now) {
                break;
            }
            self.unconfirmed.remove(0);
            self.last_confirmed = Some(self.last_confirmed.map_or(t, |c| c.max(t)));
            self.output_dirty = true;
            any = true;
        }
        any
    }

    /// Holds the output of the due frames for `poll_output` while later speculative ones are
    /// not due. When the first of those began its run in this release (staggered sensors: the
    /// frames before it were confirmed, then it was fused), `speculate` built that output
    /// already; otherwise (a run of several frames only partly due) this rolls back to a
    /// snapshot before them, re-fuses the due frames, holds their output, snapshots, and
    /// re-fuses the speculative rest.
    fn hold_confirmed_output(&mut self) {
        let Some(&first) = self.unconfirmed.first() else {
            return;
        };
        if self.run_first == Some(first) {
            return;
        }
        let Some(idx) = self.snapshots.iter().rposition(|s| s.key <= first) else {
            return;
        };
        self.redo(idx, None, Some(first));
        self.stats.replays += 1;
        self.stats.speculation_rollbacks += 1;
    }

    /// A snapshot of the tracker as it is, so that a speculation miss rolls back only the
    /// speculative frames. Its key sorts right after the newest frame processed (or at the
    /// first speculative frame when none was).
    fn snapshot_before_speculation(&mut self, first: FrameKey) {
        let key = match self.history.back() {
            Some(f) => {
                let (t, s, seq) = f.key();
                (t, s, seq.saturating_add(1)).min(first)
            }
            None => first,
        };
        self.push_snapshot(key);
    }

    /// Snapshots the tracker as "the state before frame `key`", unless a snapshot at or after
    /// `key` is already the newest (snapshots stay in key order).
    fn push_snapshot(&mut self, key: FrameKey) {
        if self.snapshots.back().is_some_and(|s| s.key >= key) {
            return;
        }
        self.snapshots.push_back(Snapshot {
            key,
            tracks: self.tracks.clone(),
            lost: self.lost.clone(),
            last_processed: self.last_processed,
            counters: (self.stats.tracks_created, self.stats.tracks_confirmed, self.stats.tracks_deleted),
            clutter: self.sensors.iter().map(|s| s.clutter_per_m2).collect(),
        });
    }

    /// Fuses one frame into the tracks at its capture time.
    fn process(&mut self, frame: PendingFrame) {
        let replay_on = self.cfg.late_policy == LatePolicy::Replay && self.cfg.retrodiction_window_s > 0.0;
        if replay_on
            && self.snapshots.back().is_none_or(|s| frame.aligned.secs_since(s.key.0) >= self.cfg.snapshot_interval_s)
        {
            self.push_snapshot(frame.key());
        }
        let frame_key = frame.key();
        let t = frame.aligned;
        let si = frame.sensor;
        let kind = self.sensors[si as usize].spec.kind;
        let sensor_xy = self.sensors[si as usize].xy_m;
        let cfg = &self.cfg;
        let meas = &frame.measurements;
        let sc = &mut self.scratch;

        // 1. pre-gate: grids over the detections, bucketed by their size (sigma) so that a
        // few far camera detections do not widen every track's search
        sc.det_sigma.clear();
        sc.det_sigma.extend(meas.iter().map(|m| max_eigen_2x2(&m.cov_xy).max(0.0).sqrt()));
        let mut bucket_sigma = [0.0f64; SIGMA_BUCKETS_M.len()];
        for b in 0..SIGMA_BUCKETS_M.len() {
            sc.bucket_xy[b].clear();
            sc.bucket_idx[b].clear();
        }
        for (di, (m, sd)) in meas.iter().zip(&sc.det_sigma).enumerate() {
            let b = SIGMA_BUCKETS_M.iter().position(|lim| *sd <= *lim).unwrap_or(SIGMA_BUCKETS_M.len() - 1);
            sc.bucket_xy[b].push(m.xy_m);
            sc.bucket_idx[b].push(di as u32);
            bucket_sigma[b] = bucket_sigma[b].max(*sd);
        }
        for b in 0..SIGMA_BUCKETS_M.len() {
            sc.grids[b].build(&sc.bucket_xy[b], 8.0);
        }
        sc.min_d2.clear();
        sc.min_d2.resize(meas.len(), f64::INFINITY);
        sc.pairs.clear();
        sc.geom.clear();
        // pre-gate on the CV guess with the gate inflated by half: only tracks that pass are
        // predicted with the full IMM (the expensive part)
        let clock_var_s2 = self.sensors[si as usize].clock.map_or(0.0, |c| c.sigma_s().powi(2));
        let k_pre = (1.5 * cfg.gate_d2).sqrt();
        let k2_pre = k_pre * k_pre;
        for (ti, tr) in self.tracks.iter_mut().enumerate() {
            let guess = tr.position_guess(t);
            let g = &tr.imm.models[0];
            let dt = t.secs_since(tr.t).abs();
            let (pp, pv, vv) = (
                g.p.fixed_view::<2, 2>(0, 0).into_owned(),
                g.p.fixed_view::<2, 2>(0, 2).into_owned(),
                g.p.fixed_view::<2, 2>(2, 2).into_owned(),
            );
            let speed = (g.x[2] * g.x[2] + g.x[3] * g.x[3]).sqrt();
            // the CV guess's covariance moved by dt in closed form, inflated by a slack for the
            // turn model's different mean
            let slack = speed * dt * dt * g.x[4].abs() + 0.3;
            let qa = cfg.accel_sigma_mps2.car * dt * dt * 0.5;
            let p_guess = pp
                + (pv + pv.transpose()) * dt
                + vv * (dt * dt)
                + Matrix2::from_diagonal_element(qa * qa + slack * slack);
            let sigma_t = max_eigen_2x2(&p_guess).max(0.0).sqrt();
            sc.geom.push(TrackGeom { guess, p_guess, sigma_t });
            sc.near.clear();
            for (b, b_sigma) in bucket_sigma.iter().enumerate() {
                if sc.bucket_idx[b].is_empty() {
                    continue;
                }
                let radius = k_pre * (sigma_t + b_sigma);
                let (xy, idx, sig, near) = (&sc.bucket_xy[b], &sc.bucket_idx[b], &sc.det_sigma, &mut sc.near);
                sc.grids[b].for_each_near(&guess, radius, |li| {
                    let di = idx[li as usize];
                    let d = xy[li as usize] - guess;
                    let r = k_pre * (sigma_t + sig[di as usize]);
                    if d.x.abs() <= r && d.y.abs() <= r {
                        near.push(di);
                    }
                });
            }
            if sc.near.is_empty() {
                continue;
            }
            sc.near.retain(|&di| {
                let m = &meas[di as usize];
                let y = m.xy_m - guess;
                (p_guess + m.cov_xy).try_inverse().is_some_and(|si| (y.transpose() * si * y)[(0, 0)] <= k2_pre)
            });
            if sc.near.is_empty() {
                continue;
            }
            tr.predict_to(t, cfg);
            self.stats.gating_predictions += 1;
            let (c_x, c_pp) = tr.imm.combined_position();
            // timing uncertainty of this sensor's clock seen as position uncertainty along
            // the track's velocity: R_eff = R + sigma_t^2 v v^T
            let v = Vector2::new(c_x[2], c_x[3]);
            let p_xy = c_pp + v * v.transpose() * clock_var_s2;
            let (tclass, tconf) = tr.class();
            for &di in &sc.near {
                let m = &meas[di as usize];
                let s = p_xy + m.cov_xy;
                let Some(s_inv) = s.try_inverse() else {
                    continue;
                };
                let y = m.xy_m - c_x.fixed_rows::<2>(0);
                let d2 = (y.transpose() * s_inv * y)[(0, 0)];
                if !d2.is_finite() {
                    continue;
                }
                let slot = &mut sc.min_d2[di as usize];
                *slot = slot.min(d2);
                if d2 < cfg.gate_d2 {
                    let penalty =
                        cfg.class_mismatch_cost * tconf.min(m.class_confidence) * class_mismatch(tclass, m.class);
                    sc.pairs.push(Candidate { track: ti as u32, det: di, cost: d2 + penalty });
                }
            }
        }

        self.stats.gated_pairs += sc.pairs.len() as u64;
        self.stats.greedy_clusters = sc.assign.greedy_clusters;

        // 2. global assignment, cluster by cluster, in two stages (a matching cascade, as in
        // DeepSORT): published tracks first, then tentative tracks on the leftover detections,
        // so a young track never steals the detection of an established one.
        let tracks = &self.tracks;
        sc.stage.clear();
        sc.stage.extend(sc.pairs.iter().filter(|c| tracks[c.track as usize].status != TrackStatus::Tentative));
        let mut matches = assign(tracks.len(), meas.len(), &sc.stage, cfg.gate_d2, &mut sc.assign);
        if sc.stage.len() < sc.pairs.len() {
            sc.matched_det.clear();
            sc.matched_det.resize(meas.len(), false);
            for &(_, di) in &matches {
                sc.matched_det[di as usize] = true;
            }
            sc.stage.clear();
            let matched_det = &sc.matched_det;
            sc.stage.extend(
                sc.pairs.iter().filter(|c| {
                    tracks[c.track as usize].status == TrackStatus::Tentative && !matched_det[c.det as usize]
                }),
            );
            matches.extend(assign(tracks.len(), meas.len(), &sc.stage, cfg.gate_d2, &mut sc.assign));
        }

        // 2b. ambiguity: a detection that another published track explains almost as well as
        // the one it was assigned to (assignment-cost margin), or that cannot tell its track
        // from another close one (close encounter: the two predicted positions are within
        // `encounter_d2` of each other on the detection's covariance), is not trusted to say
        // which object is which. With `hold_velocity_when_ambiguous` it updates its track's
        // position only (velocity and turn rate held, so a walker passing a standing
        // pedestrian keeps walking and two people standing together both stay updated);
        // otherwise it updates neither track and is no miss for either.
        sc.ambiguous_track.clear();
        sc.ambiguous_track.resize(self.tracks.len(), false);
        sc.ambiguous_det.clear();
        sc.held.clear();
        sc.held.resize(matches.len(), false);
        sc.sme.clear();
        if !matches.is_empty() && (cfg.ambiguity_margin_d2 > 0.0 || cfg.encounter_d2 > 0.0) {
            let published = |t: u32| tracks[t as usize].status != TrackStatus::Tentative;
            if cfg.ambiguity_margin_d2 > 0.0 {
                let flags = ambiguous_matches(
                    tracks.len(),
                    meas.len(),
                    &sc.pairs,
                    &matches,
                    published,
                    cfg.ambiguity_margin_d2,
                    &mut sc.ambiguity,
                );
                for (h, f) in sc.held.iter_mut().zip(flags) {
                    *h |= f;
                }
            }
            if cfg.encounter_d2 > 0.0 {
                // (detection, track) of the published pairs, for the detections two published
                // tracks gate
                sc.enc.clear();
                sc.enc.extend(sc.pairs.iter().filter(|c| published(c.track)).map(|c| (c.det, c.track)));
                sc.enc.sort_unstable();
                for (k, &(a, d)) in matches.iter().enumerate() {
                    if sc.held[k] || !published(a) {
                        continue;
                    }
                    let lo = sc.enc.partition_point(|p| p.0 < d);
                    let hi = sc.enc.partition_point(|p| p.0 <= d);
                    if hi - lo < 2 {
                        continue;
                    }
                    let Some(r_inv) = meas[d as usize].cov_xy.try_inverse() else {
                        continue;
                    };
                    let pa = tracks[a as usize].imm.combined_mean().fixed_rows::<2>(0).into_owned();
                    sc.held[k] = sc.enc[lo..hi].iter().any(|&(_, b)| {
                        let pb = tracks[b as usize].imm.combined_mean().fixed_rows::<2>(0).into_owned();
                        let y = pa - pb;
                        b != a && (y.transpose() * r_inv * y)[(0, 0)] < cfg.encounter_d2
                    });
                }
            }
            let n_held = sc.held.iter().filter(|h| **h).count();
            self.stats.ambiguous_detections += n_held as u64;
            if n_held > 0 && !cfg.hold_velocity_when_ambiguous && cfg.ambiguous_pair_sum_update {
                for (k, &(ta, da)) in matches.iter().enumerate() {
                    if let Some(k2) = sc.ambiguity.swap_partner(k).filter(|k2| *k2 > k && sc.held[*k2]) {
                        let (tb, db) = matches[k2];
                        sc.sme.push((ta, da, tb, db));
                    }
                }
            }
            if n_held > 0 && !cfg.hold_velocity_when_ambiguous {
                let mut flag = sc.held.iter();
                let (amb_track, amb_det) = (&mut sc.ambiguous_track, &mut sc.ambiguous_det);
                matches.retain(|&(ti, di)| {
                    let ambiguous = flag.next().copied().unwrap_or(false);
                    if ambiguous {
                        amb_track[ti as usize] = true;
                        amb_det.push(di);
                    }
                    !ambiguous
                });
                sc.held.clear();
                sc.held.resize(matches.len(), false);
            }
        }

        // 3. updates, misses
        sc.matched_det.clear();
        sc.matched_det.resize(meas.len(), false);
        for &di in &sc.ambiguous_det {
            sc.matched_det[di as usize] = true;
        }
        sc.matched_track.clear();
        sc.matched_track.resize(self.tracks.len(), false);
        let pd = cfg.detection_probability[kind_index(kind)].clamp(0.01, 0.999);
        let clutter = self.sensors[si as usize].clutter_per_m2;
        let clock = &mut self.sensors[si as usize].clock;
        for (k, &(ti, di)) in matches.iter().enumerate() {
            let held = sc.held.get(k).copied().unwrap_or(false);
            let tr = &mut self.tracks[ti as usize];
            let mut m = std::borrow::Cow::Borrowed(&meas[di as usize]);
            if let Some(est) = clock.as_mut() {
                let g = &tr.imm.models[0];
                let v = Vector2::new(g.x[2], g.x[3]);
                let r_eff = m.cov_xy + v * v.transpose() * clock_var_s2;
                if let Some((t_ref, p_ref, v_ref)) =
                    tr.reference_fix.filter(|_| tr.status != TrackStatus::Tentative && !frame.replayed && !held)
                {
                    // evidence for the clock offset: the innovation against the track as the
                    // reference sensors alone placed it (extrapolated from their last update),
                    // so this sensor's own past updates do not dilute it
                    let dt_ref = t.secs_since(t_ref);
                    if dt_ref.abs() <= REFERENCE_FIX_MAX_AGE_S {
                        let s = g.p.fixed_view::<2, 2>(0, 0)
                            + r_eff
                            + Matrix2::from_diagonal_element(cfg.lidar_sigma_m.powi(2));
                        if let Some(s_inv) = s.try_inverse() {
                            let y = m.xy_m - (p_ref + v_ref * dt_ref);
                            // only confident pairs: a false alarm that took a missed
                            // detection's place adds weight without signal (attenuation)
                            if (y.transpose() * s_inv * y)[(0, 0)] < CLOCK_EVIDENCE_MAX_D2 {
                                est.add(&v, &y, &s_inv);
                            }
                        }
                    }
                }
                m.to_mut().cov_xy = r_eff;
            }
            let score_hit = hit_score(tr, &m.xy_m, &m.cov_xy, pd, clutter);
            if tr.update(&m, si, kind, cfg, held) {
                tr.add_score(score_hit, cfg);
                if clock.is_none() && cfg.estimate_clock_offsets && !held {
                    let g = &tr.imm.models[0].x;
                    // the raw measurement, not the fused state: the fused state carries the
                    // skewed sensors' bias
                    tr.reference_fix = Some((t, m.xy_m, Vector2::new(g[2], g[3])));
                }
                sc.matched_track[ti as usize] = true;
            }
            sc.matched_det[di as usize] = true;
        }
        // ambiguous swaps (`ambiguous_pair_sum_update`): each track of the pair is updated by
        // what the two detections say whichever is whose, their sum (Kamen's symmetric
        // measurement equation), the other track's prediction taken as known:
        // z_a' = z_d + z_e - z_b, R_a' = R_d + R_e + P_b (both from the predictions before
        // either update)
        for &(ta, da, tb, db) in &sc.sme {
            let (ma, mb) = (&meas[da as usize], &meas[db as usize]);
            let (ga, gb) =
                (self.tracks[ta as usize].imm.combined_position(), self.tracks[tb as usize].imm.combined_position());
            let clock_cov = |g: &(State, Matrix2<f64>)| {
                let v = Vector2::new(g.0[2], g.0[3]);
                v * v.transpose() * clock_var_s2
            };
            let r_sum = ma.cov_xy + mb.cov_xy + clock_cov(&ga) + clock_cov(&gb);
            let z_sum = ma.xy_m + mb.xy_m;
            let pseudo = |other: &(State, Matrix2<f64>)| (z_sum - other.0.fixed_rows::<2>(0), r_sum + other.1);
            let (za, zb) = (pseudo(&gb), pseudo(&ga));
            for (ti, (z, r)) in [(ta, za), (tb, zb)] {
                let tr = &mut self.tracks[ti as usize];
                let score_hit = hit_score(tr, &z, &r, pd, clutter);
                if tr.update_by_pair_sum(&z, &r, si) {
                    tr.add_score(score_hit, cfg);
                    sc.matched_track[ti as usize] = true;
                    sc.ambiguous_track[ti as usize] = false;
                }
            }
        }
        if let Some(est) = clock.as_mut() {
            est.finish_frame(cfg.clock_offset_drift_sigma_s, cfg.max_clock_offset_s);
            let offset_s = est.offset_s();
            let id = &self.sensors[si as usize].spec.id;
            if let Some(st) = self.stats.sensors.get_mut(id) {
                st.clock_offset_s = offset_s;
            }
        }
        let range_m = cfg.sensor_range_m[kind_index(kind)];
        let score_miss = (1.0 - pd).max(1e-6).ln() * cfg.score_miss_weight;
        // occluders: published tracks with a known footprint of at least 4 m^2 (cars and up)
        sc.occluders.clear();
        let any_published_miss =
            self.tracks.iter().enumerate().any(|(ti, tr)| {
                !sc.matched_track[ti] && tr.status != TrackStatus::Tentative && tr.sensors.contains(si)
            });
        for tr in self.tracks.iter().filter(|tr| any_published_miss && tr.status != TrackStatus::Tentative) {
            if let Some([l, w, _]) = tr.size_m {
                if l * w >= 4.0 {
                    sc.occluders.push((tr.id, tr.position_guess(t), 0.5 * l.max(w), l * w));
                }
            }
        }
        for (ti, tr) in self.tracks.iter_mut().enumerate() {
            if sc.matched_track[ti] || sc.ambiguous_track[ti] || !tr.sensors.contains(si) {
                continue;
            }
            let p = tr.position_guess(t);
            if (p - sensor_xy).norm() > range_m {
                continue;
            }
            if tr.status != TrackStatus::Tentative && hidden_from(sensor_xy, tr, p, &sc.occluders) {
                // predicted to be hidden from this sensor: not a miss (occlusion-aware coasting)
                tr.occluded_at = Some(t);
                continue;
            }
            tr.record(false);
            tr.add_score(score_miss, cfg);
        }

        // 4. births, unless a live track is close (on the CV guess: cheap and good enough
        // to suppress duplicates)
        let k_supp = cfg.new_track_suppress_d2.max(0.0).sqrt();
        for (di, m) in meas.iter().enumerate() {
            if sc.matched_det[di] || sc.min_d2[di] < cfg.new_track_suppress_d2 {
                continue;
            }
            let sd = sc.det_sigma[di];
            let near_track = sc.geom.iter().any(|g| {
                let y = m.xy_m - g.guess;
                let r = k_supp * (g.sigma_t + sd);
                y.x.abs() <= r
                    && y.y.abs() <= r
                    && (g.p_guess + m.cov_xy)
                        .try_inverse()
                        .is_some_and(|si| (y.transpose() * si * y)[(0, 0)] < cfg.new_track_suppress_d2)
            });
            if !near_track {
                // a birth replayed from the same detection keeps the id it was given first
                let memo = if self.replaying {
                    self.births.iter().find(|(k, d, _)| *k == frame_key && *d == di as u32).map(|b| b.2)
                } else {
                    None
                };
                let id = memo.unwrap_or_else(|| {
                    let id = TrackId(self.next_id);
                    self.next_id += 1;
                    if replay_on {
                        self.births.push_back((frame_key, di as u32, id));
                    }
                    id
                });
                self.tracks.push(Track::new(id, t, m, si, kind, cfg));
                self.stats.tracks_created += 1;
            }
        }

        // clutter density of this sensor: detections no track explained, per covered area
        let unmatched = sc.matched_det.iter().filter(|m| !**m).count() as f64;
        let kind_i = kind_index(kind);
        let rt = &mut self.sensors[si as usize];
        let observed = unmatched / cfg.sensor_coverage_m2[kind_i].max(1.0);
        rt.clutter_per_m2 =
            (rt.clutter_per_m2 + CLUTTER_GAIN * (observed - rt.clutter_per_m2)).max(cfg.clutter_floor_per_m2[kind_i]);

        // 5. duplicates: two published tracks on one object (e.g. a false-alarm track that
        // drifted onto a real one) agree in position and velocity frame after frame; the
        // younger one is dropped after `duplicate_frames` such frames, so the older id stays
        self.mark_duplicates(t);
        if self.cfg.passing_swap_m > 0.0 {
            self.check_passings(t);
        }

        // 6. life cycle
        let cfg = &self.cfg;
        let stats = &mut self.stats;
        let lost = &mut self.lost;
        let mut confirmed_now = false;
        self.tracks.retain_mut(|tr| {
            let was_tentative = tr.status == TrackStatus::Tentative;
            let keep = tr.manage(t, cfg);
            if !keep {
                stats.tracks_deleted += 1;
                if !was_tentative && cfg.reid_window_s > 0.0 {
                    lost.push(Lost {
                        id: tr.id,
                        class: tr.class().0,
                        first_seen: tr.first_seen,
                        last_updated: tr.last_updated,
                        fix: tr.last_fix,
                    });
                }
            } else if was_tentative && tr.status != TrackStatus::Tentative {
                stats.tracks_confirmed += 1;
                tr.just_confirmed = true;
                confirmed_now = true;
            }
            keep
        });
        stats.live_tracks = self.tracks.len() as u64;
        if !frame.replayed {
            stats.frames_processed += 1;
            let id = &self.sensors[si as usize].spec.id;
            if let Some(st) = stats.sensors.get_mut(id) {
                st.frames_processed += 1;
            }
        }
        self.reidentify(t, confirmed_now);
        self.last_processed = Some(self.last_processed.map_or(t, |lp| lp.max(t)));
        self.output_dirty = true;
        if replay_on {
            self.history.push_back(frame);
            self.prune_history();
        }
    }

    /// Re-identification (track-segment association): each track confirmed in this frame
    /// (marked `just_confirmed`) that was born after a lost track's last
    /// update, of a compatible class, and lies within that lost track's gate, while no other
    /// lost track's gate holds it, continues the lost track: it takes over its id and
    /// first-seen time. The gate is the lost track's constant-velocity path since its last
    /// update (it may have stopped anywhere on it) widened by `reid_speed_mps` times the time
    /// since, within `[reid_min_gate_m, reid_max_gate_m]`. Bounded: at most `MAX_LOST` lost
    /// tracks, only for tracks confirmed in this frame.
    fn reidentify(&mut self, t: Timestamp, confirmed_now: bool) {
        let cfg = &self.cfg;
        let window = cfg.reid_window_s;
        self.lost.retain(|l| t.secs_since(l.last_updated) <= window);
        if self.lost.len() > MAX_LOST {
            let excess = self.lost.len() - MAX_LOST;
            self.lost.drain(..excess);
        }
        if !confirmed_now {
            return;
        }
        let mut renamed = false;
        for tr in self.tracks.iter_mut().filter(|tr| tr.just_confirmed) {
            tr.just_confirmed = false;
            tr.duplicate_frames = 0;
            let class = tr.class().0;
            let p = tr.position_guess(t);
            let g = &tr.imm.models[0].x;
            let v_new = Vector2::new(g[2], g[3]);
            let mut best: Option<usize> = None;
            let mut n_in_gate = 0;
            for (i, l) in self.lost.iter().enumerate() {
                if tr.first_seen <= l.last_updated || class_mismatch(class, l.class) > 0.25 {
                    continue;
                }
                let dt = t.secs_since(l.last_updated);
                let (p0, v) = l.fix;
                // motion consistency: an object moving the other way is another object (an
                // outbound car lost at the edge of the area, an inbound one born there)
                if v.norm() > REID_MOVING_MPS && v_new.norm() > REID_MOVING_MPS && v.dot(&v_new) < 0.0 {
                    continue;
                }
                let p1 = p0 + v * dt;
                // distance from p to the segment p0 -> p1
                let seg = p1 - p0;
                let len2 = seg.norm_squared();
                let u = if len2 > 1e-9 { ((p - p0).dot(&seg) / len2).clamp(0.0, 1.0) } else { 0.0 };
                let d = (p - (p0 + seg * u)).norm();
                let gate = (cfg.reid_min_gate_m + cfg.reid_speed_mps.get(l.class) * dt)
                    .min(cfg.reid_max_gate_m)
                    .max(cfg.reid_min_gate_m);
                if d <= gate {
                    n_in_gate += 1;
                    best = Some(i);
                }
            }
            if let (1, Some(i)) = (n_in_gate, best) {
                let l = self.lost.remove(i);
                tr.id = l.id;
                tr.first_seen = tr.first_seen.min(l.first_seen);
                self.stats.tracks_reidentified += 1;
                renamed = true;
            }
        }
        if renamed {
            // tracks are kept in id order (the younger of two has the larger index)
            self.tracks.sort_by_key(|t| t.id);
        }
    }

    /// Finds pairs of published tracks gated to the same detection of the current frame that
    /// are statistically the same (position and velocity within `duplicate_d2` on `P1 + P2`)
    /// and were not both updated (one detection for two tracks), and counts frames on the
    /// younger one. Two pedestrians walking side by side, half a metre apart, agree in velocity
    /// and nearly in position, but every lidar frame has a detection for each: a pair both
    /// updated in one frame is remembered as seen apart (`Track::note_apart`) and is no
    /// duplicate for `duplicate_apart_s` after. The same pairs start passings
    /// (`passing_swap_m`, decided in `check_passings`).
    fn mark_duplicates(&mut self, t: Timestamp) {
        let apart_s = self.cfg.duplicate_apart_s;
        let sc = &mut self.scratch;
        let tracks = &mut self.tracks;
        // only detections gated to two or more published tracks can reveal a duplicate
        sc.det_count.clear();
        sc.det_count.resize(sc.det_sigma.len(), 0);
        for c in &sc.pairs {
            if tracks[c.track as usize].status != TrackStatus::Tentative {
                let n = &mut sc.det_count[c.det as usize];
                *n = n.saturating_add(1);
            }
        }
        sc.by_det.clear();
        for c in &sc.pairs {
            if sc.det_count[c.det as usize] >= 2 && tracks[c.track as usize].status != TrackStatus::Tentative {
                sc.by_det.push((c.det, c.track));
            }
        }
        sc.by_det.sort_unstable();
        sc.dup_flag.clear();
        sc.dup_flag.resize(tracks.len(), false);
        let mut i = 0;
        while i < sc.by_det.len() {
            let mut j = i + 1;
            while j < sc.by_det.len() && sc.by_det[j].0 == sc.by_det[i].0 {
                j += 1;
            }
            for a in i..j {
                for b in a + 1..j {
                    let (ta, tb) = (sc.by_det[a].1 as usize, sc.by_det[b].1 as usize);
                    // two objects side by side each get a detection of their own (both
                    // tracks updated in this frame): only a pair that one detection explains
                    // (at most one of them updated) is a duplicate
                    let both_updated = sc.matched_track[ta] && sc.matched_track[tb];
                    let (ida, idb) = (tracks[ta].id, tracks[tb].id);
                    if self.cfg.passing_swap_m > 0.0 {
                        start_passing(tracks, ta, tb, t, self.cfg.passing_swap_m);
                    }
                    if both_updated {
                        // evidence of two objects, remembered for `duplicate_apart_s`: between
                        // such frames (a camera that cannot separate them, a lidar frame left
                        // ambiguous) two people standing together are still two
                        if apart_s > 0.0 {
                            tracks[ta].note_apart(idb, t);
                            tracks[tb].note_apart(ida, t);
                        }
                    } else if same_object(&tracks[ta], &tracks[tb], self.cfg.duplicate_d2)
                        && !(apart_s > 0.0 && tracks[ta.max(tb)].seen_apart_from(tracks[ta.min(tb)].id, t, apart_s))
                    {
                        // tracks are kept in id order: the larger index is the younger
                        sc.dup_flag[ta.max(tb)] = true;
                    }
                }
            }
            i = j;
        }
        // a track gated in this frame and not flagged is no duplicate (any more)
        for c in &sc.pairs {
            if !sc.dup_flag[c.track as usize] {
                tracks[c.track as usize].duplicate_frames = 0;
            }
        }
        for (ti, flagged) in sc.dup_flag.iter().enumerate() {
            if *flagged {
                let tr = &mut tracks[ti];
                tr.duplicate_frames = tr.duplicate_frames.saturating_add(1);
            }
        }
    }

    /// Decides the passings under way (`FusionConfig::passing_swap_m`): once two passing tracks
    /// are apart again, each track's state from before the passing, moved on at its velocity
    /// then, says which object each track should be on now. When the exchanged pairing fits
    /// far better than the kept one (each track took the other's object while their detections
    /// could not be told apart), the two tracks exchange ids and first-seen times: the
    /// deferred decision of a multiple-hypothesis tracker (Blackman 2004) between the two
    /// hypotheses "kept" and "exchanged", taken once the detections have separated.
    fn check_passings(&mut self, t: Timestamp) {
        // exchanges are applied after the loop, which looks tracks up by id (in id order)
        let mut exchanges: Vec<(usize, usize)> = Vec::new();
        for i in 0..self.tracks.len() {
            let Some(pa) = self.tracks[i].passing else {
                continue;
            };
            let me = self.tracks[i].id;
            let partner = self
                .tracks
                .binary_search_by_key(&pa.other, |tr| tr.id)
                .ok()
                .and_then(|j| self.tracks[j].passing.filter(|pb| pb.other == me).map(|pb| (j, pb)));
            let Some((j, pb)) = partner else {
                // the other track is gone (or renamed): nothing left to decide
                self.tracks[i].passing = None;
                continue;
            };
            if j < i {
                continue; // the pair was handled from j
            }
            let state = |tr: &Track| {
                let g = &tr.imm.models[0].x;
                (tr.position_guess(t), Vector2::new(g[2], g[3]))
            };
            let ((xa, va), (xb, vb)) = (state(&self.tracks[i]), state(&self.tracks[j]));
            let d = (xa - xb).norm();
            let closest_m = pa.closest_m.min(d);
            let dt = t.secs_since(pa.t0);
            if !(0.0..=PASSING_MAX_S).contains(&dt) {
                self.tracks[i].passing = None;
                self.tracks[j].passing = None;
                continue;
            }
            if !(d > PASSING_END_M && d > closest_m + PASSING_SEPARATED_M) {
                self.tracks[i].passing = Some(Passing { closest_m, ..pa });
                self.tracks[j].passing = Some(Passing { closest_m, ..pb });
                continue;
            }
            // where each object should be now, by its motion before the passing
            let cost = |x: Vector2<f64>, v: Vector2<f64>, p: &Passing| {
                (x - (p.p0 + p.v0 * dt)).norm_squared() + (v - p.v0).norm_squared()
            };
            let kept = cost(xa, va, &pa) + cost(xb, vb, &pb);
            let exchanged = cost(xa, va, &pb) + cost(xb, vb, &pa);
            if kept > PASSING_MIN_COST_M2 && exchanged < PASSING_SWAP_RATIO * kept {
                exchanges.push((i, j));
            }
            self.tracks[i].passing = None;
            self.tracks[j].passing = None;
        }
        if exchanges.is_empty() {
            return;
        }
        for (i, j) in exchanges {
            let (ida, fa) = (self.tracks[i].id, self.tracks[i].first_seen);
            let (idb, fb) = (self.tracks[j].id, self.tracks[j].first_seen);
            self.tracks[i].id = idb;
            self.tracks[i].first_seen = fb;
            self.tracks[j].id = ida;
            self.tracks[j].first_seen = fa;
            self.stats.passing_swaps += 1;
        }
        // tracks are kept in id order
        self.tracks.sort_by_key(|t| t.id);
    }

    /// Keeps the snapshots, frames and births a replay within the window can need.
    fn prune_history(&mut self) {
        let Some(lp) = self.last_processed else {
            return;
        };
        let horizon = lp.add_secs_f64(-self.cfg.retrodiction_window_s);
        while self.snapshots.len() >= 2 && self.snapshots[1].key.0 <= horizon {
            self.snapshots.pop_front();
        }
        // bounded memory whatever the frame rate: a snapshot whose following frames are no
        // longer all kept cannot be replayed from
        while self.history.len() > MAX_HISTORY_FRAMES {
            if let Some(f) = self.history.pop_front() {
                let key = f.key();
                while self.snapshots.front().is_some_and(|s| s.key <= key) {
                    self.snapshots.pop_front();
                }
            }
        }
        if let Some(oldest) = self.snapshots.front().map(|s| s.key) {
            while self.history.front().is_some_and(|f| f.key() < oldest) {
                self.history.pop_front();
            }
            while self.births.front().is_some_and(|b| b.0 < oldest) {
                self.births.pop_front();
            }
        } else {
            // nothing can be replayed: keep nothing
            self.history.clear();
            self.births.clear();
        }
    }

    /// Retrodiction by replay: rolls the tracks back to the newest snapshot before `late` and
    /// re-processes the stored frames with `late` among them, in capture-time order. Returns
    /// the frame back when no snapshot is old enough.
    fn replay(&mut self, late: PendingFrame) -> Result<(), PendingFrame> {
        let Some(idx) = self.snapshots.iter().rposition(|s| s.key <= late.key()) else {
            return Err(late);
        };
        self.redo(idx, Some(late), None);
        self.stats.replays += 1;
        Ok(())
    }

    /// Rolls the tracker back to snapshot `idx` and re-processes the stored frames after it,
    /// with `late` (if any) among them, in capture-time order. With `output_at`, the output of
    /// the state just before the first frame at or after that key is built on the way (held
    /// for `poll_output`) and a snapshot is taken there.
    fn redo(&mut self, idx: usize, late: Option<PendingFrame>, output_at: Option<FrameKey>) {
        // the snapshot stays: the frames after it are re-processed into the history, so it can
        // serve another late frame (or speculation miss) before the next one is taken
        self.snapshots.truncate(idx + 1);
        // the output built before the run's first frame is not the rolled-back state's
        self.run_first = None;
        let Some(snap) = self.snapshots.back().cloned() else {
            return;
        };
        // the tracks before the rollback: a replay that births an object from another frame
        // than the first time (the late frame now comes first) must not rename it
        let before: Vec<(TrackId, TrackStatus, Timestamp, Vector2<f64>)> =
            self.tracks.iter().map(|t| (t.id, t.status, t.first_seen, t.position_guess(t.t))).collect();
        let first_new_id = self.next_id;
        self.tracks = snap.tracks;
        self.lost = snap.lost;
        self.last_processed = snap.last_processed;
        (self.stats.tracks_created, self.stats.tracks_confirmed, self.stats.tracks_deleted) = snap.counters;
        for (s, c) in self.sensors.iter_mut().zip(snap.clutter) {
            s.clutter_per_m2 = c;
        }
        let split = self.history.partition_point(|f| f.key() < snap.key);
        let mut redo: Vec<PendingFrame> = self.history.drain(split..).collect();
        for f in &mut redo {
            f.replayed = true;
        }
        if let Some(mut late) = late {
            late.replayed = false;
            let key = late.key();
            let pos = redo.partition_point(|f| f.key() < key);
            redo.insert(pos, late);
        }
        self.replaying = true;
        let mut output_at = output_at;
        for f in redo {
            if output_at.is_some_and(|k| f.key() >= k) {
                output_at = None;
                self.held_output = self.output_now();
                self.push_snapshot(f.key());
            }
            self.process(f);
        }
        self.replaying = false;
        self.keep_ids_across_replay(&before, first_new_id);
    }

    /// After a replay: a track born during the replay with a fresh id takes the id of a track
    /// that existed before the replay, is gone now and was within `replay_id_match_m` of it
    /// (nearest first), with its published status. Ids are still never reused: the fresh id is
    /// simply never published.
    fn keep_ids_across_replay(
        &mut self,
        before: &[(TrackId, TrackStatus, Timestamp, Vector2<f64>)],
        first_new_id: u64,
    ) {
        let live: std::collections::HashSet<TrackId> = self.tracks.iter().map(|t| t.id).collect();
        let mut orphans: Vec<&(TrackId, TrackStatus, Timestamp, Vector2<f64>)> =
            before.iter().filter(|o| !live.contains(&o.0)).collect();
        if orphans.is_empty() {
            return;
        }
        let max_d = self.cfg.replay_id_match_m;
        let mut renames = Vec::new();
        for t in self.tracks.iter_mut().filter(|t| t.id.0 >= first_new_id) {
            let p = t.position_guess(t.t);
            let best = orphans
                .iter()
                .enumerate()
                .map(|(i, o)| (i, (o.3 - p).norm()))
                .filter(|(_, d)| *d <= max_d)
                .min_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((i, _)) = best {
                let o = orphans.swap_remove(i);
                renames.push((t.id, o.0));
                t.id = o.0;
                t.first_seen = t.first_seen.min(o.2);
                if o.1 != TrackStatus::Tentative && t.status == TrackStatus::Tentative {
                    t.status = TrackStatus::Confirmed;
                }
            }
        }
        for b in self.births.iter_mut() {
            if let Some((_, to)) = renames.iter().find(|(from, _)| *from == b.2) {
                b.2 = *to;
            }
        }
        if !renames.is_empty() {
            self.tracks.sort_by_key(|t| t.id);
        }
    }

    /// After processing, the fused output to publish (confirmed + coasting tracks predicted to
    /// `capture_time`, the newest processed capture time, sorted by track id); None when
    /// nothing new.
    ///
    /// Nothing fused speculatively is published: while speculative frames are not due, the
    /// output is the state after the frames that are (built by a rollback when only some of
    /// the speculative frames became due), exactly what fusing in order would publish.
    pub fn poll_output(&mut self) -> Option<FusionOutput> {
        if !self.unconfirmed.is_empty() {
            let held = self.held_output.take()?;
            self.output_dirty = false;
            self.stats.outputs += 1;
            return Some(held);
        }
        if !self.output_dirty {
            return None;
        }
        self.output_dirty = false;
        let out = self.output_now()?;
        self.stats.outputs += 1;
        Some(out)
    }

    /// The confirmed and coasting tracks predicted to the newest processed capture time.
    fn output_now(&self) -> Option<FusionOutput> {
        let capture_time = self.last_processed?;
        let mut objects: Vec<TrackedObject> = self
            .tracks
            .iter()
            .filter(|t| t.status != TrackStatus::Tentative)
            .map(|t| self.object(t, capture_time))
            .collect();
        if !objects.is_sorted_by_key(|o| o.track_id) {
            objects.sort_by_key(|o| o.track_id);
        }
        Some(FusionOutput { capture_time, objects })
    }

    /// Every live track, tentative ones included, predicted to the newest processed capture
    /// time, sorted by id: for debugging and tests (`poll_output` is what to publish).
    pub fn all_tracks(&self) -> Vec<(TrackStatus, TrackedObject)> {
        let Some(t) = self.last_processed else {
            return Vec::new();
        };
        let mut v: Vec<(TrackStatus, TrackedObject)> =
            self.tracks.iter().map(|tr| (tr.status, self.object(tr, t))).collect();
        v.sort_by_key(|(_, o)| o.track_id);
        v
    }

    fn object(&self, tr: &Track, t: Timestamp) -> TrackedObject {
        // the combined estimate, moved to `t` with the turn model at the combined turn rate
        // (one prediction instead of a full IMM cycle; exact for tracks updated at `t`)
        let mut g = tr.imm.combined();
        let dt_s = t.secs_since(tr.t);
        if dt_s != 0.0 {
            g = predict(MotionModel::ConstantTurn, &g, dt_s, &tr.noise(&self.cfg));
        }
        let (class, conf) = tr.class();
        let mut covariance = Matrix4::<f32>::zeros();
        for r in 0..4 {
            for c in 0..4 {
                covariance[(r, c)] = g.p[(r, c)] as f32;
            }
        }
        let speed = (g.x[2] * g.x[2] + g.x[3] * g.x[3]).sqrt();
        let heading_rad =
            if speed > self.cfg.heading_from_velocity_min_mps { g.x[3].atan2(g.x[2]) } else { tr.heading_rad() };
        TrackedObject {
            track_id: tr.id,
            class,
            class_confidence: conf as f32,
            position_m: Vector3::new(g.x[0], g.x[1], tr.z_m),
            velocity_mps: Vector3::new(g.x[2], g.x[3], 0.0),
            heading_rad,
            size_m: tr.size(),
            covariance,
            first_seen: tr.first_seen,
            last_updated: tr.last_updated,
            sensors: tr
                .sensors
                .iter()
                .filter_map(|i| self.sensors.get(usize::from(i)).map(|s| s.spec.id.clone()))
                .collect(),
            lane: None,
        }
    }

    /// The kind of a configured sensor.
    pub fn sensor_kind(&self, sensor: &SensorId) -> Option<SensorKind> {
        self.sensor_index(sensor).map(|i| self.sensors[i].spec.kind)
    }
}

/// Whether the track at `p` is at least half hidden, seen from `sensor`, behind nearer and
/// larger tracks (bearing intervals, as a sensor's occlusion works).
fn hidden_from(
    sensor: Vector2<f64>,
    tr: &Track,
    p: Vector2<f64>,
    occluders: &[(TrackId, Vector2<f64>, f64, f64)],
) -> bool {
    let rel = p - sensor;
    let range = rel.norm();
    if range < 1.0 {
        return false;
    }
    let (half_m, area) = tr.size_m.map_or((0.3, 0.36), |[l, w, _]| (0.5 * l.max(w), l * w));
    let bearing = rel.y.atan2(rel.x);
    let half = (half_m / range).atan();
    let mut covered = 0.0;
    for &(id, q, q_half_m, q_area) in occluders {
        if id == tr.id || q_area <= area {
            continue;
        }
        let rq = q - sensor;
        // cheap pre-test before any trigonometry: in front of the target's ray, nearer, and
        // laterally close enough to cover some of it
        let dir = rel / range;
        let along = dir.dot(&rq);
        let lateral = (dir.x * rq.y - dir.y * rq.x).abs();
        if along <= 0.0 || along >= range || lateral > q_half_m + half_m + 0.5 {
            continue;
        }
        let q_range = rq.norm();
        if q_range >= range || q_range < 1.0 {
            continue;
        }
        let d = (rq.y.atan2(rq.x) - bearing + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU)
            - std::f64::consts::PI;
        let q_half = (q_half_m / q_range).atan();
        let lo = (d - q_half).max(-half);
        let hi = (d + q_half).min(half);
        covered += (hi - lo).max(0.0);
    }
    covered >= half
}
