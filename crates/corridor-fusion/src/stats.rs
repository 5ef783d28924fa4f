//! Counters for the RSU's stats: per sensor frames and detections accepted, rejections by
//! reason, late and dropped frames, the clock offset estimate; per tracker tracks created,
//! confirmed and deleted. Maps are `BTreeMap`s so the output order is deterministic.
//! Step time is measured by the caller (this crate has no clock).

use std::collections::BTreeMap;

use corridor_model::{SensorId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::validate::{DetectionRejection, FrameRejectionKind};

/// Counters of one sensor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SensorStats {
    /// Frames received (accepted or not).
    pub frames_received: u64,
    /// Frames fused (in order, or by replay).
    pub frames_processed: u64,
    /// Frames refused whole, by reason.
    pub frames_rejected: BTreeMap<FrameRejectionKind, u64>,
    /// Frames that arrived older than the newest processed frame (replayed or dropped).
    pub late_frames: u64,
    /// Late frames fused by replay (retrodiction).
    pub replayed_frames: u64,
    /// Late frames dropped (older than the retrodiction window or `max_frame_age_s`, or
    /// policy `Drop`). Each is also counted in `frames_rejected[TooLate]`: do not add the two.
    pub dropped_frames: u64,
    /// Detections accepted into the reorder buffer.
    pub detections_accepted: u64,
    /// Detections refused, by reason.
    pub detections_rejected: BTreeMap<DetectionRejection, u64>,
    /// Current clock offset estimate (sensor clock minus reference), s.
    pub clock_offset_s: f64,
    /// Capture time of the newest frame received (sensor clock).
    pub last_capture_time: Option<Timestamp>,
}

impl SensorStats {
    /// Total detections refused.
    pub fn detections_rejected_total(&self) -> u64 {
        self.detections_rejected.values().sum()
    }

    /// Total frames refused.
    pub fn frames_rejected_total(&self) -> u64 {
        self.frames_rejected.values().sum()
    }
}

/// Counters of the whole fusion.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FusionStats {
    /// Per configured sensor.
    pub sensors: BTreeMap<SensorId, SensorStats>,
    /// Frames from sensors that are not configured (one counter: ids from outside are not
    /// trusted as map keys).
    pub unknown_sensor_frames: u64,
    /// Frames processed in total.
    pub frames_processed: u64,
    /// Frames released before every sensor caught up because the buffer was full.
    pub forced_releases: u64,
    /// Replays (retrodiction runs).
    pub replays: u64,
    /// Frames fused speculatively, before they were due (`FusionConfig::speculate`).
    pub speculative_frames: u64,
    /// Rollbacks of speculative processing: a frame captured before frames already fused
    /// speculatively arrived after them (each is also a replay; the frame is not late).
    pub speculation_rollbacks: u64,
    /// Outputs produced by `poll_output`.
    pub outputs: u64,
    /// Tracks started (tentative).
    pub tracks_created: u64,
    /// Tracks that reached confirmed.
    pub tracks_confirmed: u64,
    /// Tracks deleted.
    pub tracks_deleted: u64,
    /// Tracks alive now (any status).
    pub live_tracks: u64,
    /// Track/detection pairs that passed the gate, in total (association load).
    pub gated_pairs: u64,
    /// Full IMM predictions done for gating, in total (the filter load; tracks far from
    /// every detection of a frame are not predicted for it).
    pub gating_predictions: u64,
    /// Association clusters too large for Kuhn-Munkres (more than
    /// [`crate::assoc::MAX_EXACT_CLUSTER_PAIRS`] pairs), assigned greedily instead, in total.
    pub greedy_clusters: u64,
    /// Frames waiting in the reorder buffer now.
    pub queued_frames: u64,
    /// Detections not used because two published tracks explained them almost equally well
    /// (ambiguous assignments, `FusionConfig::ambiguity_margin_d2`).
    pub ambiguous_detections: u64,
    /// Confirmed tracks that continued a lost track (took over its id; `reid_window_s`).
    pub tracks_reidentified: u64,
    /// Passings after which two tracks exchanged their ids because each had taken the other's
    /// object (`FusionConfig::passing_swap_m`).
    pub passing_swaps: u64,
}
