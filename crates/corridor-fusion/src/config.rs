//! Configuration: the sensors of one intersection and every tunable of the pipeline.
//!
//! [`FusionConfig::default`] is the documented default; each field says what it
//! changes and why its default was chosen (the crate doc gives the references).

use corridor_model::detection::SensorKind;
use corridor_model::{ObjectClass, SensorExtrinsics, SensorId};
use serde::{Deserialize, Serialize};

/// One sensor of the intersection: who it is, what it is, where it sits.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorSpec {
    /// The sensor's id, as stamped on its frames.
    pub id: SensorId,
    /// Its kind; frames claiming another kind are rejected.
    pub kind: SensorKind,
    /// Where it sits: `p_enu = extrinsics.enu_from_sensor * p_sensor`.
    pub extrinsics: SensorExtrinsics,
}

/// A value per motion class: the four process-noise groups of the issue.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PerClass {
    /// Pedestrians.
    pub pedestrian: f64,
    /// Cyclists and motorcycles.
    pub cyclist: f64,
    /// Cars and unclassified objects.
    pub car: f64,
    /// Buses and trucks.
    pub bus_truck: f64,
}

impl PerClass {
    /// The value for `class` (unknown and motorcycles take the car / cyclist value).
    pub fn get(&self, class: ObjectClass) -> f64 {
        match class {
            ObjectClass::Pedestrian => self.pedestrian,
            ObjectClass::Cyclist | ObjectClass::Motorcycle => self.cyclist,
            ObjectClass::Bus | ObjectClass::Truck => self.bus_truck,
            _ => self.car,
        }
    }
}

/// What to do with a frame whose (clock-corrected) capture time is older than the newest
/// frame already processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LatePolicy {
    /// Drop it and count it (`SensorStats::late_frames`).
    Drop,
    /// Retrodiction by replay: roll the tracker back to the snapshot taken before the late
    /// frame's capture time and re-process the stored frames in capture-time order. Only frames
    /// at most `FusionConfig::retrodiction_window_s` late are replayed; older ones are dropped.
    Replay,
}

/// Every tunable of [`crate::Fusion`]. See the field docs for the defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FusionConfig {
    // ---- time alignment ----
    /// How long a frame may wait in the reorder buffer for slower sensors, s (default 0.10:
    /// camera latency is at most 90 ms). A frame is released earlier once every live sensor
    /// has delivered a frame at least as new.
    pub reorder_window_s: f64,
    /// Most frames held in the reorder buffer; beyond it the oldest is processed at once
    /// (default 64).
    pub max_queued_frames: usize,
    /// A capture time more than this ahead of the receive time `now` is rejected as a future
    /// timestamp, s (default 0.25: covers clock skew of tens of ms with margin).
    pub max_future_s: f64,
    /// A frame captured longer than this before its receive time is too late whatever was
    /// processed, s (default 1.0).
    pub max_frame_age_s: f64,
    /// A sensor that sent nothing for this long is not waited for, s (default 0.5).
    pub sensor_timeout_s: f64,
    /// Late frames: dropped or fused by replay (default `Replay`).
    pub late_policy: LatePolicy,
    /// How late a frame may be and still be replayed, s (default 0.3).
    pub retrodiction_window_s: f64,
    /// After a replay, a track born anew within this distance of a track that existed before
    /// the replay and is gone now takes that track's id, m (default 2.5). A late frame that
    /// now comes first can birth the same object from another detection; without this the
    /// object would change id (an ID switch for every object born near a late frame).
    pub replay_id_match_m: f64,
    /// How often the tracker state is snapshotted for replay, s of capture time (default 0.25:
    /// a clone of every track is the price; a replay re-processes at most this much more).
    pub snapshot_interval_s: f64,
    /// Speculative in-order processing (default false; the RSU's `[fusion] speculate`; needs
    /// `late_policy` `Replay` and a
    /// `retrodiction_window_s` > 0). A frame waiting in the reorder buffer is fused at once,
    /// before it is due, when every sensor it would wait for is *expected* to capture its next
    /// frame after it (last capture plus the measured frame period, without the 10 % jitter
    /// allowance of the release rule): with hardware-synchronised sensors whose frames of one
    /// instant arrive a few hundred microseconds apart, the first frames are fused while the
    /// last is still in flight. The tracker is snapshotted before the first speculative frame;
    /// if a frame captured earlier does arrive, the tracker rolls back and re-processes in
    /// capture-time order (`FusionStats::speculation_rollbacks`). Output is held back until the
    /// speculative frames are due by the release rule, so nothing speculative is ever
    /// published: the result is the same as without speculation, only sooner. The price is
    /// CPU: each run of speculative frames begins with a snapshot of the tracker and with the
    /// output fusing in order would publish then (with staggered sensors every frame begins
    /// a run); `fusion/step_4x100_200tracks`, staggered, polled once per step, costs 1.15x
    /// with it (2026-12-06, back to back: 623 against 541 us). It shortens the path from an
    /// instant's last frame to its state only where frames arrive milliseconds apart
    /// (`fusion/last_frame_4x100_200tracks_*`: 361 against 513 us); the latency harness, whose
    /// sensors share one trigger and arrive within ~0.2 ms, shows no difference. Hence off
    /// unless the sensors are triggered in a fixed order some milliseconds apart.
    pub speculate: bool,
    /// Estimate each camera's/radar's clock offset from the tracks (default true).
    pub estimate_clock_offsets: bool,
    /// Sensors whose clocks are the time reference and are never corrected (default lidar).
    pub clock_reference_kinds: Vec<SensorKind>,
    /// Prior sigma of a sensor's clock offset, s (default 0.03).
    pub clock_offset_prior_sigma_s: f64,
    /// Random walk of a clock offset per frame, s (default 0.0005: slow drift).
    pub clock_offset_drift_sigma_s: f64,
    /// Largest clock offset the estimator may report, s (default 0.1).
    pub max_clock_offset_s: f64,

    // ---- validation ----
    /// Frames with more detections than this are rejected whole (default 4096).
    pub max_detections_per_frame: usize,
    /// A detection further than this from the ENU origin is absurd, m (default 400).
    pub max_distance_from_origin_m: f64,
    /// A detection whose |z| (ENU) exceeds this is absurd, m (default 30).
    pub max_abs_height_m: f64,
    /// Largest plausible box length / width / height, m (default 30 / 5 / 6).
    pub max_size_m: [f64; 3],
    /// Largest plausible speed per class, m/s (default 12 / 25 / 60 / 40).
    pub max_speed_mps: PerClass,

    // ---- measurement model ----
    /// Lidar position sigma used when a detection carries no usable covariance, m (0.15).
    pub lidar_sigma_m: f64,
    /// Camera lateral (bearing) sigma when no usable covariance, m (0.3).
    pub camera_lateral_sigma_m: f64,
    /// Camera range sigma as a fraction of range when no usable covariance (0.05).
    pub camera_range_sigma_frac: f64,
    /// Radar position sigma when no usable covariance, m (0.5).
    pub radar_sigma_m: f64,
    /// Floor added to every measurement variance, m (default 0.05: keeps S invertible).
    pub min_position_sigma_m: f64,
    /// Nominal detection range per kind (lidar, camera, radar), m (default 80 / 60 / 150):
    /// a track inside it counts a miss when the sensor's frame does not detect it.
    pub sensor_range_m: [f64; 3],

    // ---- filter ----
    /// White-noise acceleration sigma per class, m/s^2 (default 1.0 / 1.5 / 2.5 / 1.5).
    pub accel_sigma_mps2: PerClass,
    /// Turn-rate acceleration sigma of the constant-turn model, rad/s^2 (default 0.6 / 0.8 /
    /// 0.5 / 0.3).
    pub yaw_accel_sigma_radps2: PerClass,
    /// Use the IMM of constant velocity and constant turn rate (default true); false runs the
    /// constant-velocity model alone.
    pub imm: bool,
    /// IMM model switch rate, 1/s (default 0.5: over a 0.1 s step the chance to switch from
    /// straight to turning, or back, is ~5 %). Rate-based so asynchronous steps stay consistent.
    pub imm_switch_rate_hz: f64,
    /// Stationary model of the IMM (with `imm`): a third model beside constant velocity and
    /// constant turn in which the object stands still. Its position holds, up to a random walk
    /// of this sigma per sqrt(s) (m/sqrt(s); also the sigma of its zero velocity, m/s); 0
    /// disables the model (default 0.02: a standing person's sway, 0.11 m over 30 s). A
    /// standing track averages its fixes instead of wandering with a velocity estimated from
    /// their noise, and a stop is caught within a few fixes. Measured: 0.01 as 0.02, 0.05
    /// worse on two pedestrians standing 0.18 m apart, 0.1 lost bus-occlusion's standing pair
    /// (docs/scenarios.md, "ID switches").
    pub stationary_sigma_mps: f64,
    /// The stationary model is in a track's model set only while its speed is below this, m/s
    /// (default 3.0: above a pedestrian's walking pace, so a walker's sudden stop is caught; a
    /// decelerating car passes through it a second or more before it stops); it leaves the set
    /// above 4/3 of this. At speed its probability sits at the floor and it could only cost
    /// (model-set adaptation, a variable-structure IMM); 0 keeps it out of every set.
    pub stationary_max_speed_mps: f64,
    /// Initial speed sigma of a new track per class, m/s (default 2 / 5 / 10 / 8).
    pub init_speed_sigma_mps: PerClass,
    /// Smoothing factor of box size and measured heading, 0..1 (default 0.2).
    pub size_alpha: f64,
    /// Above this speed the heading comes from the velocity, m/s (default 1.0).
    pub heading_from_velocity_min_mps: f64,

    // ---- association ----
    /// Gate on the squared Mahalanobis distance (default 13.8: chi^2, 2 dof, 99.9 %).
    pub gate_d2: f64,
    /// Cost added for a class mismatch at full confidence (default 4.0; 0 disables).
    pub class_mismatch_cost: f64,
    /// A published track's assigned detection is *ambiguous* when another published track
    /// explains it within this margin of assignment cost (squared Mahalanobis units): the
    /// swapped assignment costs less than this much more, or the rival track (unassigned)
    /// gates it at most this much worse. Ambiguous detections update no track and count as no
    /// miss, so two pedestrians passing within a metre coast through on their own velocities
    /// instead of trading identities (default 3.0; 0 disables), except that a swap of two
    /// tracks alone updates both by the detections' sum (`ambiguous_pair_sum_update`). See
    /// `assoc::ambiguous_matches`.
    pub ambiguity_margin_d2: f64,
    /// Close encounter: a published track's assigned detection is also ambiguous when another
    /// published track gates it and the two tracks' predicted positions are within this
    /// squared Mahalanobis distance of each other on the detection's covariance (e.g. 9: within
    /// 3 sigma of the sensor's noise the detection cannot say which of the two it is; 0.45 m for
    /// lidar). Default 0 (off): measured on the built-in scenarios it did not reduce ID
    /// switches and added false tracks (docs/scenarios.md, "ID switches"). A walker passing 1 cm from a standing pedestrian makes both tracks'
    /// costs differ by noise alone, beyond any cost margin. 0 disables.
    pub encounter_d2: f64,
    /// What an ambiguous detection does. True: update its assigned track's position
    /// only, holding the velocity and turn rate (`filter::update_position_held`), so each
    /// track keeps its own motion through the encounter and two objects standing together
    /// both stay updated (no coasting out, no duplicate deletion). False (default; measured
    /// better on the built-in scenarios, fewer false tracks): it updates neither track and is
    /// no miss for either (they coast on their own velocities).
    pub hold_velocity_when_ambiguous: bool,
    /// Two published tracks whose detections are an ambiguous swap (each gates both, the
    /// swapped assignment within `ambiguity_margin_d2`, no third track or unmatched rival
    /// involved) are updated by what the two detections say whichever is whose: their sum
    /// (default true). Each track gets the pseudo-measurement `z_d + z_e - z_other` with
    /// covariance `R_d + R_e + P_other`, the other track's predicted position taken as known:
    /// the pair's common motion (two people setting off together, a walker stopping beside a
    /// standing one) is followed, their separation is left as predicted. The first symmetric
    /// measurement equation of Kamen ("Multiple target tracking based on symmetric measurement
    /// equations", IEEE T-AC 1992). False: both tracks are left unupdated, as any ambiguous
    /// match. Not used with `hold_velocity_when_ambiguous`.
    pub ambiguous_pair_sum_update: bool,
    /// Weight of a camera's class vote relative to lidar's (default camera 1.0, lidar 0.4,
    /// radar 0.2).
    pub class_weight: [f64; 3],

    // ---- track management ----
    /// M of the M-of-N confirmation (default 3).
    pub confirm_m: u32,
    /// M when only one sensor has seen the track (default 5 = N: a single camera's false
    /// alarms rarely line up five times in a row, a real object seen by one sensor does).
    pub confirm_single_sensor_m: u32,
    /// N of the M-of-N confirmation, counted over frames of sensors that cover the track
    /// (default 5, at most 32).
    pub confirm_n: u32,
    /// Detection probability per kind (lidar, camera, radar), for the track score (default
    /// 0.95 / 0.90 / 0.90, the profiles').
    pub detection_probability: [f64; 3],
    /// Area a sensor of each kind covers, m^2, to turn unexplained detections per frame into a
    /// clutter density (default 20 000 / 3 000 / 10 000: 80 m all round; a 60 m, ~95 deg
    /// camera sector; radar).
    pub sensor_coverage_m2: [f64; 3],
    /// Lowest clutter density assumed per kind, 1/m^2 per frame (default 2.5e-5 / 3.3e-4 /
    /// 1e-4: the profiles' 0.5 and 1 false alarms per frame over the areas above).
    pub clutter_floor_per_m2: [f64; 3],
    /// Cap of the track score (default 40): bounds how long a real track survives misses.
    pub score_max: f64,
    /// Besides M of N, a track is confirmed only once its score reaches this (default 12: about
    /// one lidar hit and two camera hits; false alarms scattered in a large gate score little).
    pub score_confirm: f64,
    /// A published track whose score falls below this is deleted (default 0).
    pub score_delete: f64,
    /// Weight of a miss, `weight * ln(1 - Pd)` (default 0.25: misses are often occlusion or
    /// a camera's field of view, not absence).
    pub score_miss_weight: f64,
    /// A confirmed track with no update for this long is coasting, s (default 0.25).
    pub coast_after_s: f64,
    /// A coasting track is deleted after this long without update, s (default 1.5: bridges
    /// short occlusions and a sensor dropout).
    pub delete_coasting_after_s: f64,
    /// A published track that was hidden behind a larger track from the sensors that missed
    /// it (occlusion-aware coasting) is deleted only after this long without update, s
    /// (default 3.0: a bus passing a pedestrian, or a car queued beside a bus). Misses while
    /// hidden do not lower its score either.
    pub delete_occluded_after_s: f64,
    /// A tentative track is deleted after this long without update, s (default 0.3).
    pub delete_tentative_after_s: f64,
    /// A track whose position sigma grows beyond this is deleted, m (default 6).
    pub max_position_sigma_m: f64,
    /// Two published tracks whose positions and velocities agree within this squared
    /// Mahalanobis distance (on `P1 + P2`) look like one object (default 4.0).
    pub duplicate_d2: f64,
    /// After this many consecutive frames as a duplicate the younger track is deleted
    /// (default 4).
    pub duplicate_frames: u32,
    /// Two published tracks that were each updated by a detection of their own in one frame
    /// (while gated to a common detection) are two objects for this long after, s (default
    /// 5; 0 disables): they are not counted as duplicates in the frames between, when one
    /// detection explains both (a camera whose along-ray error cannot separate two pedestrians
    /// standing 0.3 m apart, a lidar frame left ambiguous). One object gives one detection per
    /// frame, so a real duplicate is never seen apart (but for a false alarm beside it).
    pub duplicate_apart_s: f64,
    /// Identity check after a passing, m (default 1.5; 0 disables). When two published tracks
    /// of one class group come within this distance of each other while their velocities
    /// differ by more than 0.5 m/s (a walker passing a standing pedestrian), each one's
    /// position and velocity then are kept; once the tracks are apart again (more than 1 m, and
    /// 0.5 m more than at their closest, within 5 s), those states moved on at their
    /// velocities say which object each track should be on. If the exchanged pairing fits
    /// much better (less than a quarter of the kept one's squared error, which must exceed
    /// 1 m^2), the two tracks exchange ids: while their detections were one point, each took
    /// the other's object. A deferred decision between two hypotheses, as a multiple-hypothesis
    /// tracker takes it (the crate doc gives the references).
    pub passing_swap_m: f64,
    /// Re-identification window, s (default 10; 0 disables). A published track that is deleted
    /// (coasted out, lost its score, or removed as a duplicate) is kept, unpublished, in a
    /// bounded *lost* pool for this long after its last update. A tentative track that is
    /// confirmed where exactly one lost track of a compatible class could be by now (see
    /// `reid_speed_mps`, `reid_min_gate_m`, `reid_max_gate_m`), and that was born after that
    /// track's last update, continues it: it takes over its id and first-seen time. Ids are
    /// still never given to a different object by design: the new track's own id was never
    /// published, and two or more candidates in the gate mean no re-identification. This joins
    /// track segments of one object across an occlusion longer than the coasting limits
    /// (track-segment association / track stitching).
    pub reid_window_s: f64,
    /// How fast the re-identification gate grows with the time since the lost track's last
    /// update, per class, m/s (default pedestrian 1.0, cyclist 3.0, car 3.0, bus/truck 3.0):
    /// the spread of where the object may be beyond its constant-velocity path (it may have
    /// stopped anywhere along that path, or changed speed by this much).
    pub reid_speed_mps: PerClass,
    /// Smallest radius of the re-identification gate, m (default 1.5).
    pub reid_min_gate_m: f64,
    /// Largest radius of the re-identification gate, m (default 7.0): beyond it the new track
    /// is more likely another object than the lost one.
    pub reid_max_gate_m: f64,
    /// A detection this close (squared Mahalanobis) to a live track does not start a new track
    /// (default 25: suppresses duplicates from camera range error).
    pub new_track_suppress_d2: f64,
}

impl Default for FusionConfig {
    fn default() -> Self {
        Self {
            reorder_window_s: 0.10,
            max_queued_frames: 64,
            max_future_s: 0.25,
            max_frame_age_s: 1.0,
            sensor_timeout_s: 0.5,
            late_policy: LatePolicy::Replay,
            retrodiction_window_s: 0.3,
            replay_id_match_m: 2.5,
            snapshot_interval_s: 0.25,
            speculate: false,
            estimate_clock_offsets: true,
            clock_reference_kinds: vec![SensorKind::Lidar],
            clock_offset_prior_sigma_s: 0.03,
            clock_offset_drift_sigma_s: 0.0005,
            max_clock_offset_s: 0.1,
            max_detections_per_frame: 4096,
            max_distance_from_origin_m: 400.0,
            max_abs_height_m: 30.0,
            max_size_m: [30.0, 5.0, 6.0],
            max_speed_mps: PerClass { pedestrian: 12.0, cyclist: 25.0, car: 60.0, bus_truck: 40.0 },
            lidar_sigma_m: 0.15,
            camera_lateral_sigma_m: 0.3,
            camera_range_sigma_frac: 0.05,
            radar_sigma_m: 0.5,
            min_position_sigma_m: 0.05,
            sensor_range_m: [80.0, 60.0, 150.0],
            accel_sigma_mps2: PerClass { pedestrian: 1.0, cyclist: 1.5, car: 2.5, bus_truck: 1.5 },
            yaw_accel_sigma_radps2: PerClass { pedestrian: 0.6, cyclist: 0.8, car: 0.5, bus_truck: 0.3 },
            imm: true,
            imm_switch_rate_hz: 0.5,
            stationary_sigma_mps: 0.02,
            stationary_max_speed_mps: 3.0,
            init_speed_sigma_mps: PerClass { pedestrian: 2.0, cyclist: 5.0, car: 10.0, bus_truck: 8.0 },
            size_alpha: 0.2,
            heading_from_velocity_min_mps: 1.0,
            gate_d2: 13.8,
            class_mismatch_cost: 4.0,
            ambiguity_margin_d2: 3.0,
            encounter_d2: 0.0,
            hold_velocity_when_ambiguous: false,
            ambiguous_pair_sum_update: true,
            class_weight: [0.4, 1.0, 0.2],
            confirm_m: 3,
            confirm_single_sensor_m: 5,
            confirm_n: 5,
            detection_probability: [0.95, 0.90, 0.90],
            sensor_coverage_m2: [20_000.0, 3_000.0, 10_000.0],
            clutter_floor_per_m2: [2.5e-5, 3.3e-4, 1.0e-4],
            score_max: 40.0,
            score_confirm: 12.0,
            score_delete: 0.0,
            score_miss_weight: 0.25,
            coast_after_s: 0.25,
            delete_coasting_after_s: 1.5,
            delete_occluded_after_s: 3.0,
            delete_tentative_after_s: 0.3,
            max_position_sigma_m: 6.0,
            duplicate_d2: 4.0,
            duplicate_frames: 4,
            duplicate_apart_s: 5.0,
            passing_swap_m: 1.5,
            new_track_suppress_d2: 25.0,
            reid_window_s: 10.0,
            reid_speed_mps: PerClass { pedestrian: 1.0, cyclist: 3.0, car: 3.0, bus_truck: 3.0 },
            reid_min_gate_m: 1.5,
            reid_max_gate_m: 7.0,
        }
    }
}

/// A configuration value out of its domain, named.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("fusion config: `{field}` = {value} ({reason})")]
pub struct ConfigError {
    /// The field.
    pub field: &'static str,
    /// Its value, rendered.
    pub value: String,
    /// What is expected.
    pub reason: &'static str,
}

impl FusionConfig {
    /// Checks every field's domain (finite, positive where a scale, ordered where a range).
    /// [`crate::Fusion::new`] takes any config; call this when loading one from a file.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |field: &'static str, value: &dyn std::fmt::Debug, reason: &'static str| {
            Err(ConfigError { field, value: format!("{value:?}"), reason })
        };
        let positive: [(&'static str, f64); 28] = [
            ("delete_occluded_after_s", self.delete_occluded_after_s),
            ("replay_id_match_m", self.replay_id_match_m),
            ("reorder_window_s", self.reorder_window_s),
            ("max_future_s", self.max_future_s),
            ("max_frame_age_s", self.max_frame_age_s),
            ("sensor_timeout_s", self.sensor_timeout_s),
            ("snapshot_interval_s", self.snapshot_interval_s),
            ("clock_offset_prior_sigma_s", self.clock_offset_prior_sigma_s),
            ("max_clock_offset_s", self.max_clock_offset_s),
            ("max_distance_from_origin_m", self.max_distance_from_origin_m),
            ("max_abs_height_m", self.max_abs_height_m),
            ("lidar_sigma_m", self.lidar_sigma_m),
            ("camera_lateral_sigma_m", self.camera_lateral_sigma_m),
            ("camera_range_sigma_frac", self.camera_range_sigma_frac),
            ("radar_sigma_m", self.radar_sigma_m),
            ("min_position_sigma_m", self.min_position_sigma_m),
            ("gate_d2", self.gate_d2),
            ("score_max", self.score_max),
            ("coast_after_s", self.coast_after_s),
            ("delete_coasting_after_s", self.delete_coasting_after_s),
            ("delete_tentative_after_s", self.delete_tentative_after_s),
            ("max_position_sigma_m", self.max_position_sigma_m),
            ("duplicate_d2", self.duplicate_d2),
            ("new_track_suppress_d2", self.new_track_suppress_d2),
            ("heading_from_velocity_min_mps", self.heading_from_velocity_min_mps),
            ("accel_sigma_mps2.car", self.accel_sigma_mps2.car),
            ("init_speed_sigma_mps.car", self.init_speed_sigma_mps.car),
            ("max_speed_mps.car", self.max_speed_mps.car),
        ];
        for (field, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return err(field, &v, "must be finite and > 0");
            }
        }
        let non_negative: [(&'static str, f64); 16] = [
            ("stationary_sigma_mps", self.stationary_sigma_mps),
            ("stationary_max_speed_mps", self.stationary_max_speed_mps),
            ("passing_swap_m", self.passing_swap_m),
            ("duplicate_apart_s", self.duplicate_apart_s),
            ("reid_window_s", self.reid_window_s),
            ("reid_min_gate_m", self.reid_min_gate_m),
            ("reid_max_gate_m", self.reid_max_gate_m),
            ("ambiguity_margin_d2", self.ambiguity_margin_d2),
            ("encounter_d2", self.encounter_d2),
            ("retrodiction_window_s", self.retrodiction_window_s),
            ("clock_offset_drift_sigma_s", self.clock_offset_drift_sigma_s),
            ("imm_switch_rate_hz", self.imm_switch_rate_hz),
            ("class_mismatch_cost", self.class_mismatch_cost),
            ("score_confirm", self.score_confirm),
            ("score_miss_weight", self.score_miss_weight),
            ("size_alpha", self.size_alpha),
        ];
        for (field, v) in non_negative {
            if !(v.is_finite() && v >= 0.0) {
                return err(field, &v, "must be finite and >= 0");
            }
        }
        for (field, t) in [
            ("max_speed_mps", &self.max_speed_mps),
            ("accel_sigma_mps2", &self.accel_sigma_mps2),
            ("yaw_accel_sigma_radps2", &self.yaw_accel_sigma_radps2),
            ("init_speed_sigma_mps", &self.init_speed_sigma_mps),
            ("reid_speed_mps", &self.reid_speed_mps),
        ] {
            if [t.pedestrian, t.cyclist, t.car, t.bus_truck].iter().any(|v| !(v.is_finite() && *v > 0.0)) {
                return err(field, t, "every class must be finite and > 0");
            }
        }
        for (field, a) in [
            ("max_size_m", &self.max_size_m),
            ("sensor_range_m", &self.sensor_range_m),
            ("sensor_coverage_m2", &self.sensor_coverage_m2),
            ("clutter_floor_per_m2", &self.clutter_floor_per_m2),
        ] {
            if a.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
                return err(field, a, "every kind must be finite and > 0");
            }
        }
        if self.class_weight.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
            return err("class_weight", &self.class_weight, "must be finite and >= 0");
        }
        if self.detection_probability.iter().any(|p| !(*p > 0.0 && *p < 1.0)) {
            return err("detection_probability", &self.detection_probability, "must be in (0, 1)");
        }
        if self.size_alpha > 1.0 {
            return err("size_alpha", &self.size_alpha, "must be <= 1");
        }
        if !(1..=32).contains(&self.confirm_n) {
            return err("confirm_n", &self.confirm_n, "must be in 1..=32");
        }
        if self.confirm_m == 0 || self.confirm_m > self.confirm_n || self.confirm_single_sensor_m > self.confirm_n {
            return err(
                "confirm_m",
                &self.confirm_m,
                "must be in 1..=confirm_n (and confirm_single_sensor_m <= confirm_n)",
            );
        }
        if self.score_delete >= self.score_max || self.score_confirm > self.score_max {
            return err(
                "score_delete",
                &self.score_delete,
                "needs score_delete < score_max and score_confirm <= score_max",
            );
        }
        if self.coast_after_s > self.delete_coasting_after_s {
            return err("coast_after_s", &self.coast_after_s, "must be <= delete_coasting_after_s");
        }
        if self.max_queued_frames == 0 || self.max_detections_per_frame == 0 {
            return err("max_queued_frames", &self.max_queued_frames, "buffers must hold at least one");
        }
        Ok(())
    }
}

/// Index of a sensor kind into the `[lidar, camera, radar]` arrays of [`FusionConfig`].
pub(crate) fn kind_index(kind: SensorKind) -> usize {
    match kind {
        SensorKind::Lidar => 0,
        SensorKind::Camera => 1,
        SensorKind::Radar => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_valid_and_bad_values_are_named() {
        assert_eq!(FusionConfig::default().validate(), Ok(()));
        let bad = FusionConfig { gate_d2: f64::NAN, ..FusionConfig::default() };
        assert_eq!(bad.validate().map_err(|e| e.field), Err("gate_d2"));
        let bad = FusionConfig { confirm_m: 9, ..FusionConfig::default() };
        assert_eq!(bad.validate().map_err(|e| e.field), Err("confirm_m"));
        let bad = FusionConfig { detection_probability: [0.9, 1.0, 0.9], ..FusionConfig::default() };
        assert_eq!(bad.validate().map_err(|e| e.field), Err("detection_probability"));
    }

    #[test]
    fn the_config_round_trips_through_serde_with_defaults_for_missing_fields() {
        let json = r#"{ "gate_d2": 9.21, "late_policy": "drop", "clock_reference_kinds": ["lidar", "radar"] }"#;
        let cfg: FusionConfig = serde_json::from_str(json).unwrap();
        assert_eq!(cfg.gate_d2, 9.21);
        assert_eq!(cfg.late_policy, LatePolicy::Drop);
        assert_eq!(cfg.clock_reference_kinds, vec![SensorKind::Lidar, SensorKind::Radar]);
        assert_eq!(cfg.reorder_window_s, FusionConfig::default().reorder_window_s);
    }
}
