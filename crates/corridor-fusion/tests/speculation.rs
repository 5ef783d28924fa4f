//! Speculative in-order processing (`FusionConfig::speculate`): frames of synchronised sensors
//! are fused as they arrive, a frame captured earlier that arrives later rolls the tracker
//! back, and what is published is exactly what the release rule alone publishes, at the same
//! moments (only the fusion work is done sooner).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::BTreeMap;

use common::*;
use corridor_fusion::{FrameOutcome, Fusion, FusionConfig, FusionOutput};
use corridor_model::{ObjectClass, TrackId};

fn config(speculate: bool) -> FusionConfig {
    // clock offsets are estimated from each frame's evidence in processing order; a rollback
    // changes that order, so the equality checks below run without the estimator
    FusionConfig { speculate, estimate_clock_offsets: false, ..FusionConfig::default() }
}

/// Crossing traffic in the middle of the corner sensors' view.
fn targets() -> Vec<Target> {
    vec![
        line(1, ObjectClass::Car, (-40.0, -2.0), (8.0, 0.0), 0.0, 10.0),
        line(2, ObjectClass::Car, (40.0, 2.0), (-7.0, 0.0), 0.0, 10.0),
        line(3, ObjectClass::Pedestrian, (-3.0, -12.0), (0.0, 1.3), 0.0, 10.0),
        line(4, ObjectClass::Cyclist, (2.0, 30.0), (0.0, -4.0), 0.0, 10.0),
        line(5, ObjectClass::Car, (-25.0, 25.0), (5.0, -5.0), 0.5, 9.0),
    ]
}

/// The corner sensors all at 10 Hz, capturing `spacing_s` apart in a fixed order (hardware
/// synchronised, as on poles with a common trigger), with `latency_s` from capture to the RSU.
fn synchronised(spacing_s: f64, latency_s: (f64, f64)) -> Scene {
    let mut scene = Scene::new(targets(), 7);
    for (i, s) in scene.sensors.iter_mut().enumerate() {
        s.rate_hz = 10.0;
        s.phase_s = spacing_s * i as f64;
        s.latency_s = latency_s;
    }
    scene
}

/// Asserts that two runs published the same outputs at the same moments: same capture times,
/// the same objects (positions and velocities bit for bit) under one consistent renaming of
/// track ids (a rollback may draw a fresh id that is never published, shifting later ids).
fn assert_same_outputs(
    a: &[(corridor_model::Timestamp, FusionOutput)],
    b: &[(corridor_model::Timestamp, FusionOutput)],
) {
    assert_eq!(a.len(), b.len(), "number of outputs");
    let mut ids: BTreeMap<TrackId, TrackId> = BTreeMap::new();
    for ((ta, oa), (tb, ob)) in a.iter().zip(b) {
        assert_eq!(ta, tb, "output moment");
        assert_eq!(oa.capture_time, ob.capture_time);
        assert_eq!(oa.objects.len(), ob.objects.len(), "objects at {:?}", oa.capture_time);
        for x in &oa.objects {
            let y =
                ob.objects.iter().find(|y| y.position_m == x.position_m).unwrap_or_else(|| {
                    panic!("no object at {:?} in the other run at {:?}", x.position_m, oa.capture_time)
                });
            assert_eq!(x.velocity_mps, y.velocity_mps);
            assert_eq!(x.class, y.class);
            assert_eq!(*ids.entry(x.track_id).or_insert(y.track_id), y.track_id, "ids renamed consistently");
        }
    }
}

/// Runs `frames` through speculative and in-order fusion, asserts they published the same, and
/// returns both fusions and the in-order outputs.
fn fuse_both_ways(
    scene: &Scene,
    frames: &[Received],
    t_end_s: f64,
) -> (Fusion, Fusion, Vec<(corridor_model::Timestamp, FusionOutput)>) {
    let mut spec = Fusion::new(config(true), scene.specs());
    let mut order = Fusion::new(config(false), scene.specs());
    let a = run_timed(&mut spec, frames, t_end_s);
    let b = run_timed(&mut order, frames, t_end_s);
    assert_same_outputs(&a, &b);
    (spec, order, b)
}

#[test]
fn synchronised_frames_are_fused_as_they_arrive_and_published_when_the_last_is_in() {
    let scene = synchronised(0.0004, (0.002, 0.002_001));
    let frames = scene.frames(3.0);
    let mut spec = Fusion::new(config(true), scene.specs());
    let mut order = Fusion::new(config(false), scene.specs());
    let mut outcomes = (Vec::new(), Vec::new());
    for r in &frames {
        let now = ts(r.recv_s);
        outcomes.0.push(spec.handle_frame(now, r.frame.clone()));
        outcomes.1.push(order.handle_frame(now, r.frame.clone()));
        let (a, b) = (spec.poll_output(), order.poll_output());
        assert_eq!(a.is_some(), b.is_some(), "output at {now:?}");
        if let (Some(a), Some(b)) = (a, b) {
            assert_eq!(a, b, "same output");
        }
    }
    // once the frame periods are known (third instant on), every frame of an instant but the
    // last waits without speculation and is fused at once with it
    for (i, (s, o)) in outcomes.0.iter().zip(&outcomes.1).enumerate().skip(8) {
        assert_eq!(*s, FrameOutcome::Processed, "frame {i}");
        let last_of_instant = i % 4 == 3;
        assert_eq!(*o, if last_of_instant { FrameOutcome::Processed } else { FrameOutcome::Queued }, "frame {i}");
    }
    let st = spec.stats();
    assert!(st.speculative_frames >= 3 * (frames.len() as u64 / 4 - 2), "{st:?}");
    assert_eq!(st.speculation_rollbacks, 0);
    assert_eq!(st.outputs, order.stats().outputs);
}

#[test]
fn a_frame_captured_before_speculative_ones_rolls_back_and_the_result_is_the_in_order_one() {
    // 1-4 ms of random latency against 0.4 ms between captures: frames often arrive out of
    // capture order. +-0.05 ms of trigger jitter, and every 17th frame triggered 0.6 ms early:
    // then the capture order is not the expected one and speculation guesses wrong
    let scene = synchronised(0.0004, (0.001, 0.004));
    let mut frames = scene.frames(10.0);
    for (i, r) in frames.iter_mut().enumerate() {
        let mut jitter_ns = ((i as i64 * 7_919 + 13) % 101 - 50) * 1_000;
        if i % 17 == 5 {
            jitter_ns -= 600_000;
        }
        r.frame.capture_time = corridor_model::Timestamp::from_unix_ns(r.frame.capture_time.unix_ns + jitter_ns);
    }
    let (spec, order, b) = fuse_both_ways(&scene, &frames, 10.0);
    let st = spec.stats();
    assert!(st.speculative_frames > 100, "{st:?}");
    assert!(st.speculation_rollbacks >= 5, "misses are rolled back: {st:?}");
    assert_eq!(st.replays, st.speculation_rollbacks + order.stats().replays);
    for (id, s) in &st.sensors {
        // late only where fusing in order is late too (the first instant, before the other
        // sensors were heard of): a speculation miss is not a late frame
        let o = &order.stats().sensors[id];
        assert_eq!((s.late_frames, s.frames_processed), (o.late_frames, o.frames_processed), "{id}");
    }
    assert!(st.sensors.values().map(|s| s.late_frames).sum::<u64>() <= 4);
    // and the tracking itself is good: every object kept one id
    let score = score(&scene.targets, &b.into_iter().map(|(_, o)| o).collect::<Vec<_>>(), 2.0, 1.0);
    assert_eq!(score.id_switches, 0, "{:?}", score.ids_per_truth);
}

#[test]
fn unsynchronised_sensors_with_the_acceptance_latencies_give_the_in_order_result() {
    // the acceptance profile: lidars at 10 Hz (20-50 ms), cameras at 15 Hz (40-90 ms),
    // different phases; speculation only fires where another sensor's next capture is
    // expected just after a frame
    let scene = Scene::new(targets(), 11);
    let frames = scene.frames(10.0);
    let (spec, order, _) = fuse_both_ways(&scene, &frames, 10.0);
    assert_eq!(spec.stats().replays - spec.stats().speculation_rollbacks, order.stats().replays);
}

#[test]
fn frames_of_one_capture_instant_are_fused_in_sensor_order_without_rollbacks() {
    // one trigger for all four sensors: equal capture times, which fusion orders by sensor;
    // speculation must not bet on a frame that a same-instant frame of a lower sensor index
    // will still precede
    let scene = synchronised(0.0, (0.001, 0.004));
    let frames = scene.frames(6.0);
    let (spec, _, _) = fuse_both_ways(&scene, &frames, 6.0);
    let st = spec.stats();
    assert!(st.speculative_frames > 50, "{st:?}");
    assert_eq!(st.speculation_rollbacks, 0, "{st:?}");
}

#[test]
fn speculation_is_off_without_replay() {
    let scene = synchronised(0.0004, (0.002, 0.002_001));
    let frames = scene.frames(2.0);
    let cfg = FusionConfig { late_policy: corridor_fusion::LatePolicy::Drop, ..config(true) };
    let mut f = Fusion::new(cfg, scene.specs());
    run(&mut f, &frames, 2.0);
    assert_eq!(f.stats().speculative_frames, 0);
}

#[test]
fn staggered_sensors_publish_the_in_order_output_without_rolling_back() {
    // captures 10 ms apart, 50 ms to the RSU: a frame's arrival makes the frames before it
    // due while it is not due itself, so what fusing in order publishes then is the state
    // before it, which speculation has fused past already. That output was built when the
    // frame began its speculative run; rebuilding it by a rollback (as before) cost a
    // rollback and a re-fusion about twice per instant
    let scene = synchronised(0.01, (0.05, 0.050_001));
    let frames = scene.frames(5.0);
    let (spec, _, _) = fuse_both_ways(&scene, &frames, 5.0);
    let st = spec.stats();
    assert!(st.speculative_frames >= frames.len() as u64 / 2, "{st:?}");
    assert_eq!(st.speculation_rollbacks, 0, "{st:?}");
    assert_eq!(st.replays, 0, "{st:?}");
}
