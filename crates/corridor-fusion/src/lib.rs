//! Sans-IO multi-sensor fusion and tracking for one corridor intersection.
//!
//! The roadside unit (RSU) feeds every received [`DetectionFrame`](corridor_model::DetectionFrame)
//! to [`Fusion::handle_frame`], calls [`Fusion::handle_timeout`] when [`Fusion::poll_timeout`]
//! says, and publishes what [`Fusion::poll_output`] returns: the confirmed and coasting tracks
//! as [`TrackedObject`](corridor_model::TrackedObject)s, predicted to the newest processed
//! capture time and sorted by track id. Like `quinn-proto`, the crate does no IO: no tokio, no
//! zenoh, no wall clock; time enters only as the `now` argument (the RSU's receive time) and as
//! the sensors' capture stamps, so a run is reproducible bit for bit. No `unsafe`, no panics on
//! input: bad input is refused with a typed, counted reason ([`FusionStats`]).
//!
//! ```text
//! handle_frame(now, frame)
//!   validate (validate.rs) --> refuse frame / count bad detections
//!   calibrate (calibration.rs): sensor frame -> ENU, covariance rotated R C R^T
//!   clock-correct the capture time (align.rs), reorder buffer (fusion.rs)
//! release in capture-time order; late frames -> replay (retrodiction) or drop, counted
//!   per frame: pre-gate (grid) -> IMM predict (filter.rs) -> Mahalanobis gate, class cost
//!            -> clusters -> Kuhn-Munkres per cluster (assoc.rs), confirmed tracks first
//!            -> sequential update (track.rs) -> births -> duplicates -> life cycle
//! poll_output(): confirmed + coasting tracks predicted to the capture time
//! ```
//!
//! # The pipeline, and why each choice
//!
//! 1. **Validation** ([`validate`]). NaN/inf, negative or absurd sizes, speeds above the
//!    class's plausible maximum, positions far from the intersection or far above the road,
//!    broken covariances, unknown sensors, a frame whose kind contradicts its sensor's, capture
//!    times in the future (`max_future_s`), oversized frames. A bad detection is dropped alone
//!    and counted per sensor and [`DetectionRejection`]; a bad frame is refused with a
//!    [`FrameRejection`]. The step keeps going.
//! 2. **Calibration** ([`calibration`]). Each sensor's extrinsic isometry maps its detections to
//!    the intersection ENU frame; the covariance is rotated (`R C R^T`), not only the mean
//!    moved, so a camera's long along-ray axis stays along the ray. Detections without a usable
//!    covariance get their kind's noise profile (`lidar_sigma_m`; camera
//!    `camera_lateral_sigma_m` across and `camera_range_sigma_frac * range` along the ray).
//!    Tracking runs on the ground plane (x, y); height is smoothed separately.
//! 3. **Time alignment** ([`align`], [`Fusion`]). Frames are processed strictly in
//!    (clock-corrected) capture-time order. A frame waits in a bounded reorder buffer until no
//!    live sensor can still deliver an earlier one (it delivered one at least as new, or its
//!    next capture, from its measured frame period, is later), or `reorder_window_s` has
//!    passed (`poll_timeout` tells the RSU when): with fast links a frame is fused a link
//!    latency after capture, not a frame period. A frame older than what was processed is
//!    *late*: within `retrodiction_window_s` it is fused by **replay** (the tracker rolls back
//!    to a snapshot and re-processes the stored frames with the late one in order; births
//!    replayed from the same detection keep their ids), otherwise it is dropped and counted;
//!    it is never silently fused out of order. A replay can birth an object from another
//!    detection than the first time (the late frame now comes first); a track born during the
//!    replay then takes the id of the track that existed before it, is gone now and was within
//!    `replay_id_match_m`, so a late frame never renames the objects born near it.
//!    **Speculation** (`speculate`, off by default, the RSU's `[fusion] speculate`; its CPU
//!    cost and when it pays are in `FusionConfig::speculate`): a waiting frame is fused at once when every
//!    sensor it waits for is expected to capture its next frame after it (last capture plus
//!    the measured period, by more than three times the measured trigger jitter): with
//!    hardware-synchronised sensors the frames of one instant arrive one after the other, and
//!    without this all of them are fused only once the last is in. This is optimistic
//!    synchronisation with rollback (Jefferson's Time Warp, ACM TOPLAS 1985) on the replay
//!    machinery: the tracker is snapshotted before the first speculative frame of a run and
//!    the output fusing in order would publish then is built, a frame
//!    captured earlier that still arrives rolls it back (`speculation_rollbacks`; not a late
//!    frame), and nothing speculative is published: `poll_output` gives exactly what fusing
//!    in order gives, at the same moments (`tests/speculation.rs` checks this bit for bit),
//!    only with less work left when the last frame arrives
//!    (`fusion/last_frame_4x100_200tracks_*`). Camera (and radar) clock offsets are estimated
//!    from the tracks: a skew `d` shows as innovations `-v d` against targets moving at `v`,
//!    measured against the reference sensors' (lidar's) raw fixes; a scalar Kalman filter
//!    smooths the weighted least-squares estimate, and the residual timing uncertainty is
//!    added to the measurement noise along the velocity (`R + sigma_t^2 v v^T`).
//! 4. **Association** ([`assoc`]). Global nearest neighbour (GNN): gating by squared
//!    Mahalanobis distance against a chi-square quantile (`gate_d2` = 13.8, 2 dof, 99.9 %), a
//!    class-aware cost (`class_mismatch_cost`), and an optimal assignment with
//!    `pathfinding`'s Kuhn-Munkres on integer weights (never NaN/inf; rows <= columns via one
//!    "missed" column per track). GNN rather than JPDA because the sensors are accurate and
//!    the scene sparse relative to the gates (Blackman & Popoli 1999, ch. 6; Bar-Shalom,
//!    Willett & Tian 2011 for JPDA); gated pairs split into independent clusters (connected
//!    components, as in Reid 1979's MHT clustering), so a 200 x 400 problem is a few hundred
//!    1 x 1 and small problems. A uniform grid pre-gates so only nearby pairs are scored, and
//!    only tracks with a candidate are predicted. Published tracks are matched first and
//!    tentative tracks take the leftovers (the matching cascade of DeepSORT, Wojke et al.
//!    2017), so a young false track never steals an established track's detection.
//!    **Ambiguous assignments** ([`assoc::ambiguous_matches`]): when another published track
//!    explains a published track's assigned detection within `ambiguity_margin_d2` (3.0) of
//!    assignment cost (the swapped assignment of two matched tracks costs less than that much
//!    more, or an unmatched rival gates it less than that much worse), the detection updates
//!    neither track and counts as a miss for neither: the tracks coast through on their own
//!    velocities until the detections separate (the conservative GNN of Blackman & Popoli
//!    1999, sec. 6.4.3, rather than a coin toss). On the built-in scenarios the ID swaps were
//!    pedestrians walking past (0.1 m lateral) pedestrians standing at the kerb; see
//!    `docs/scenarios.md`, "ID switches", for the causes found and the figures before/after.
//!    **Ambiguous pairs updated by their sum** (`ambiguous_pair_sum_update`, on): when the
//!    ambiguity is a swap of two matched published tracks and nothing else (each gates both
//!    detections), what the two detections say whichever is whose still updates both: their
//!    sum, a measurement of the pair's centroid that no assignment can get wrong (the first of
//!    Kamen's symmetric measurement equations, "Multiple target tracking based on symmetric
//!    measurement equations", IEEE T-AC 1992). Each track takes `z_d + z_e - z_other` with
//!    covariance `R_d + R_e + P_other` (the other's prediction as known), a position update
//!    without class, size or heading. The pair's common motion is followed (a walker stopping
//!    beside a standing pedestrian, two people setting off together), their separation is left
//!    as predicted; withheld instead, the walker's track coasted on past the stander, and two
//!    standing tracks stayed put while their people walked off.
//! 5. **Filters** ([`filter`]). An interacting multiple model (IMM, Blom & Bar-Shalom 1988) of
//!    constant velocity and constant turn rate (coordinated turn, EKF) on `[x, y, vx, vy,
//!    omega]`: CV alone lags a car turning at 30 deg/s by about half a metre, the IMM by a
//!    tenth (`tests/faults.rs`). AB3DMOT (Weng et al. 2020) shows a plain CV Kalman filter with
//!    a good association is a strong baseline; the turn model is added for intersections,
//!    where turning is the norm. Process noise is per class (`accel_sigma_mps2`,
//!    `yaw_accel_sigma_radps2`: pedestrian, cyclist, car, bus/truck). Heading comes from the
//!    velocity when moving and from the smoothed box heading (pi-ambiguity resolved) when not;
//!    size and height are exponentially smoothed (`size_alpha`, camera weighted half). The
//!    published covariance is the full 4x4 of `[x, y, vx, vy]`.
//!    **Stationary model** (`stationary_sigma_mps`, 0.02 m/sqrt(s)): a third IMM model in
//!    which the object stands still, its position a random walk of that sigma (a standing
//!    person's sway) and its velocity zero. While an object stands, CV and CT estimate a
//!    velocity from the noise and let the position wander with it (1 m/s^2 of process noise
//!    for a pedestrian); the stationary model averages the fixes instead, so a standing track
//!    holds its position (RMS error 0.05 m against CV/CT's 0.08 m with 20 Hz lidar fixes) and
//!    a stop is caught within a few fixes (mean error 0.13 m against 0.26 m in the second
//!    after it; `filter` tests). Two people standing 0.18 m apart, about the lidar's noise,
//!    keep two distinct, stable tracks instead of wandering across each other. This is the
//!    stopped-target model of move-stop-move ground targets (Kirubarajan & Bar-Shalom,
//!    "Tracking evasive move-stop-move targets with a GMTI radar using a VS-IMM estimator",
//!    IEEE T-AES 2003). Its state is the position; mixing pads its zero velocity and turn
//!    rate with fixed variances (the usual zero padding: mixing in the moving models' own
//!    velocity instead, Granstrom, Willett & Bar-Shalom, IEEE T-AES 2015, measured no better
//!    here). Model-set adaptation (variable-structure IMM, Li & Bar-Shalom, IEEE T-AC 1996):
//!    the model joins a track's set below `stationary_max_speed_mps` (3 m/s, above a walking
//!    pace) and leaves it above 4 m/s, where its probability sits at the floor anyway, so
//!    moving traffic pays nothing for it.
//! 6. **Late fusion of camera and lidar.** Every frame is a sequential Kalman update at its
//!    own capture time; each sensor's covariance carries its strength (camera: precise bearing,
//!    poor range; lidar: precise position). Class evidence is a weighted vote
//!    (`class_weight`: camera 1.0, lidar 0.4) so the camera decides the class and lidar the
//!    position. Each track records the sensors that contributed.
//! 7. **Track management** ([`track`]). Tentative -> confirmed when M of the last N
//!    opportunities were hits (`confirm_m`/`confirm_n`, Blackman & Popoli sec. 6.3; one sensor
//!    alone needs `confirm_single_sensor_m`) *and* the track score reaches `score_confirm`;
//!    confirmed -> coasting after `coast_after_s` without update -> deleted after
//!    `delete_coasting_after_s`, or when the score (a capped log-likelihood ratio of "object" vs
//!    "clutter", Sittler 1964, Blackman & Popoli sec. 6.2, with the clutter density estimated
//!    online per sensor) drops below `score_delete`, or when it is the younger of two tracks
//!    that agreed on one object for `duplicate_frames` frames (frames in which one detection
//!    explained both: two pedestrians side by side each get a detection of their own), unless
//!    the two were *seen apart* within `duplicate_apart_s` (5 s): each updated by a detection
//!    of its own in one frame. One object gives one detection per frame, so two people
//!    standing 0.3 m apart, whom the cameras alone cannot separate while a bus hides them from
//!    the lidars, stay two tracks. Coasting bridges occlusions and
//!    sensor dropouts with the same id; ids are never reused (a replay gives a re-born track
//!    the id its birth got the first time).
//!    **Occlusion-aware coasting**: when a sensor that has seen a published track misses it
//!    while the track is predicted to be at least half hidden, from that sensor, behind a
//!    nearer published track with a larger footprint (bearing intervals of the tracks' boxes,
//!    the way the sensors' own occlusion works), the miss is not counted (no M-of-N miss, no
//!    score penalty) and the track may coast up to `delete_occluded_after_s` (3 s) instead of
//!    `delete_coasting_after_s` (1.5 s). This is a state-dependent detection probability
//!    (Pd ~ 0 where the target is predicted to be hidden), the use of "negative" sensor
//!    evidence of Koch (Information Fusion, 2007) and of Wyffels & Campbell's occlusion
//!    reasoning (IEEE T-RO, 2015), reduced to a per-sensor visibility test: a pedestrian
//!    behind a bus keeps its id through a 2-3 s occlusion without making every unseen track
//!    live longer (which would add false tracks after real departures).
//!    **Passings decided on separation** (`passing_swap_m`, 1.5 m; `Fusion::check_passings`):
//!    when two published tracks of one class group come within 1.5 m of each other with
//!    velocities more than 0.5 m/s apart (a walker passing a standing pedestrian), each keeps
//!    its state then; while their detections are one point, the ambiguity test withholds
//!    what it can, but the assignment may still give each track the other's object (the
//!    tracks *coalesce*, the failure of nearest-neighbour and JPDA trackers on close targets
//!    that Blom & Bloem, "Probabilistic data association avoiding track coalescence", IEEE
//!    T-AC 2000, analyse). Once the tracks are apart again (1 m, within 5 s), the states from
//!    before, moved on at their velocities, decide which object each track is on: if the
//!    exchanged pairing fits far better (a quarter of the kept one's squared error, which
//!    must exceed 1 m^2), the two tracks exchange ids. This is the deferred decision of a
//!    multiple-hypothesis tracker (Reid 1979; Blackman, "Multiple hypothesis tracking for
//!    multiple target tracking", IEEE AES Magazine 2004), limited to the two hypotheses
//!    "kept" and "exchanged" of one pair, and taken when the measurements have separated.
//!    The exchange corrects the frames after it only: between the moment the tracks took
//!    each other's objects and the decision (about a second on the scenarios), each id is
//!    published on the other object, up to about 1 m from its own. Since the stationary model
//!    and the pair-sum update, the tracks of a walker passing through a standing pedestrian no
//!    longer coalesce in the tests' passings, and the decision has nothing left to correct
//!    there; it stays as the check for what still does.
//!    **Re-identification** (`reid_window_s`, 10 s; `Fusion::reidentify`): a deleted
//!    published track goes to a bounded pool of *lost* tracks (at most 128, unpublished) for
//!    10 s after its last update. A tentative track that is confirmed, was born after a lost
//!    track's last update, has a compatible class and lies within that track's gate (its
//!    constant-velocity path since the last update, since the object may have stopped
//!    anywhere on it, widened by `reid_speed_mps` x elapsed time within `reid_min_gate_m` ..
//!    `reid_max_gate_m`: 1.5-7 m) continues it, taking its id, but only when exactly one lost
//!    track's gate holds it (with two candidates nobody gets an id) and, when both move (above
//!    0.5 m/s), not against the lost track's direction (on the scenarios every wrong
//!    continuation was an outbound object lost at the edge of the area and an inbound one
//!    born there). This is track-segment
//!    association (track stitching) across gaps longer than coasting can bridge (Yeom,
//!    Kirubarajan & Bar-Shalom, "Track segment association, fine-step IMM and initialization
//!    with Doppler for improved track performance", IEEE T-AES 2004; in multi-object
//!    tracking, the tracklet re-identification of DeepSORT, Wojke et al. 2017, with a motion
//!    gate instead of appearance, which the sensors do not give). An id is never reused after
//!    its object is gone for longer than the window, the new track's own id is never
//!    published, and an ambiguous gate gives a new id; a continuation can still be wrong (a
//!    different object alone in the gate), which the gate's limits keep rare. Optional, off by default (measured worse, see
//!    `docs/scenarios.md`): a *close-encounter* test (`encounter_d2`) and a held-velocity
//!    update of ambiguous detections (`hold_velocity_when_ambiguous`,
//!    [`filter::update_position_held`]).
//!
//! All tunables are in [`FusionConfig`]; its field docs give each default and why.
//!
//! # Performance
//! One step (4 frames x 100 detections into 200 live tracks, one core) is measured by the
//! criterion bench `fusion/step_4x100_200tracks` (`cargo bench -p corridor-fusion`), next to
//! `step_4x25_50tracks` and `step_4x500_1000tracks`. The step is single threaded: with
//! clusters this small there is nothing worth the cost of rayon's fork-join on a shared
//! two-core machine.
//!
//! # Dependencies
//! `nalgebra` (fixed-size matrices; the model crate's types), `pathfinding` (Kuhn-Munkres, a
//! maintained crate the workspace already vets), `serde` (the config is read from the RSU's
//! file, the stats are published), `thiserror` (typed errors). Nothing async, nothing IO.
//!
//! # Limits
//! At most 64 sensors per [`Fusion`]. [`Fusion::new`] takes any config: check a loaded one
//! with [`FusionConfig::validate`]. The ground-plane state ignores slopes. Occlusion is
//! reasoned about only between tracks (an object hidden by something never tracked, a wall or
//! a parked lorry outside the sensors' range, is a plain miss, bridged by ordinary coasting);
//! lane matching is another crate's job, so [`TrackedObject::lane`](corridor_model::TrackedObject)
//! stays `None`.
//!
//! # Accuracy
//! End to end on the built-in scenarios (`corridor-sim run --scenario NAME`, scored within 60 m
//! of the junction, 2 m match threshold, cross-checked with py-motmetrics): see
//! `docs/scenarios.md` and `simulations/tests/scenarios.rs`.
#![forbid(unsafe_code)]

pub mod align;
pub mod assoc;
pub mod calibration;
pub mod config;
pub mod filter;
mod fusion;
pub mod stats;
pub mod track;
pub mod validate;

pub use config::{ConfigError, FusionConfig, LatePolicy, PerClass, SensorSpec};
pub use fusion::{FrameOutcome, Fusion, FusionOutput};
pub use stats::{FusionStats, SensorStats};
pub use track::TrackStatus;
pub use validate::{DetectionRejection, FrameRejection, FrameRejectionKind};
