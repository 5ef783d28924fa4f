//! The sans-IO contract: reorder buffer, timeouts, outputs, counters, on hand-made frames.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use corridor_fusion::{FrameOutcome, Fusion, FusionConfig, SensorSpec};
use corridor_model::detection::SensorKind;
use corridor_model::{Detection, DetectionFrame, ObjectClass, SensorId, Size3, Timestamp};
use nalgebra::{Matrix3, Point3, Vector3};

mod common;
use common::{lidar, ts, T0_NS};

/// A frame of `spec` at capture time `t_s` seeing a car at `(10 + 8 t, 2)`, noise free.
fn frame(spec: &SensorSpec, seq: u64, t_s: f64) -> DetectionFrame {
    let p = spec.extrinsics.to_sensor(&Point3::new(10.0 + 8.0 * t_s, 2.0, 0.8)).coords;
    DetectionFrame {
        sensor: spec.id.clone(),
        kind: spec.kind,
        frame_seq: seq,
        capture_time: ts(t_s),
        detections: vec![Detection {
            class: ObjectClass::Car,
            class_confidence: 0.9,
            position_m: p,
            position_cov: Matrix3::from_diagonal_element(0.0225),
            velocity_mps: None,
            heading_rad: None,
            size_m: Some(Size3::new(4.5, 1.8, 1.5)),
        }],
    }
}

#[test]
fn the_state_machine_can_move_between_threads() {
    fn is_send_sync<T: Send + Sync + 'static>() {}
    is_send_sync::<Fusion>();
    is_send_sync::<corridor_fusion::FusionOutput>();
    is_send_sync::<corridor_fusion::FusionStats>();
}

/// The release rule alone (no speculation: a frame is fused when it is due, not before).
fn in_order_only() -> FusionConfig {
    FusionConfig { speculate: false, ..FusionConfig::default() }
}

#[test]
fn a_frame_waits_for_live_sensors_or_its_timeout() {
    let (a, b) = (lidar("a", 30.0, 30.0), lidar("b", -30.0, -30.0));
    let mut f = Fusion::new(in_order_only(), vec![a.clone(), b.clone()]);
    assert_eq!(f.poll_timeout(), None);
    assert!(f.poll_output().is_none());
    // b has never been heard of: a's first frame is not held back
    assert_eq!(f.handle_frame(ts(0.02), frame(&a, 1, 0.0)), FrameOutcome::Processed);
    assert_eq!(f.handle_frame(ts(0.03), frame(&b, 1, 0.0)), FrameOutcome::Processed);
    assert_eq!(f.poll_output().map(|o| o.capture_time), Some(ts(0.0)));
    assert!(f.poll_output().is_none(), "nothing new");
    // a duplicate delivery is refused and counted
    assert!(matches!(
        f.handle_frame(ts(0.035), frame(&b, 1, 0.0)),
        FrameOutcome::Rejected(corridor_fusion::FrameRejection::Duplicate)
    ));
    assert_eq!(f.stats().sensors[&b.id].frames_rejected_total(), 1);

    // now b is live and behind: a's next frame waits for it
    assert_eq!(f.handle_frame(ts(0.12), frame(&a, 2, 0.1)), FrameOutcome::Queued);
    assert_eq!(f.poll_timeout(), Some(ts(0.2)));
    f.handle_timeout(ts(0.15));
    assert!(f.poll_output().is_none());
    assert_eq!(f.stats().queued_frames, 1);
    // b catches up: both released, in capture order
    assert_eq!(f.handle_frame(ts(0.16), frame(&b, 2, 0.1)), FrameOutcome::Processed);
    assert_eq!(f.poll_timeout(), None);
    assert_eq!(f.poll_output().map(|o| o.capture_time), Some(ts(0.1)));

    // b falls silent: a's frame is released by the timeout
    assert_eq!(f.handle_frame(ts(0.22), frame(&a, 3, 0.2)), FrameOutcome::Queued);
    let due = f.poll_timeout().unwrap();
    assert_eq!(due, ts(0.3));
    f.handle_timeout(due);
    assert_eq!(f.poll_output().map(|o| o.capture_time), Some(ts(0.2)));
    // after the sensor timeout b is not waited for at all
    assert_eq!(f.handle_frame(ts(0.92), frame(&a, 4, 0.9)), FrameOutcome::Processed);
    assert_eq!(f.stats().sensors[&a.id].frames_processed, 4);
    assert_eq!(f.stats().sensors[&b.id].frames_processed, 2);
}

#[test]
fn absurd_capture_times_are_refused_without_overflow() {
    let a = lidar("a", 30.0, 30.0);
    let mut f = Fusion::new(FusionConfig::default(), vec![a.clone()]);
    for (unix_ns, future) in [(i64::MIN, false), (i64::MAX, true), (0, false), (T0_NS + 3_600_000_000_000, true)] {
        let mut fr = frame(&a, 1, 0.0);
        fr.capture_time = Timestamp::from_unix_ns(unix_ns);
        let got = f.handle_frame(ts(0.05), fr);
        match got {
            FrameOutcome::Rejected(corridor_fusion::FrameRejection::FutureTimestamp { .. }) => {
                assert!(future)
            }
            FrameOutcome::Rejected(corridor_fusion::FrameRejection::TooLate { .. }) => {
                assert!(!future)
            }
            other => panic!("{unix_ns}: {other:?}"),
        }
    }
    assert_eq!(f.stats().sensors[&a.id].frames_rejected_total(), 4);
    assert_eq!(f.handle_frame(ts(0.05), frame(&a, 2, 0.0)), FrameOutcome::Processed);
}

#[test]
fn out_of_order_arrival_is_processed_in_capture_order() {
    let (a, b) = (lidar("a", 30.0, 30.0), lidar("b", -30.0, -30.0));
    let mut f = Fusion::new(in_order_only(), vec![a.clone(), b.clone()]);
    f.handle_frame(ts(0.02), frame(&a, 1, 0.0));
    f.handle_frame(ts(0.03), frame(&b, 1, 0.0));
    // b's 0.15 arrives before a's 0.10 (a is slower): b waits, a's frame is not late
    assert_eq!(f.handle_frame(ts(0.17), frame(&b, 2, 0.15)), FrameOutcome::Queued);
    assert_eq!(f.handle_frame(ts(0.18), frame(&a, 2, 0.10)), FrameOutcome::Processed);
    // a's frame period is now known (0.1 s): its next capture (~0.2) is after b's 0.15, so
    // nothing from a can precede b's frame any more and it is released too
    assert_eq!(f.last_processed(), Some(ts(0.15)));
    // likewise a's 0.2 needs no wait: b's next capture is expected around 0.3
    assert_eq!(f.handle_frame(ts(0.22), frame(&a, 3, 0.2)), FrameOutcome::Processed);
    assert_eq!(f.last_processed(), Some(ts(0.2)));
    // but a frame captured after b's expected next capture waits for it
    assert_eq!(f.handle_frame(ts(0.32), frame(&a, 4, 0.3)), FrameOutcome::Queued);
    let st = &f.stats().sensors[&a.id];
    assert_eq!(st.late_frames, 0);
    f.handle_timeout(f.poll_timeout().unwrap());
    assert_eq!(f.last_processed(), Some(ts(0.3)));
}

#[test]
fn a_track_is_confirmed_predicted_to_the_capture_time_and_deleted_after_coasting() {
    let (a, b) = (lidar("a", 30.0, 30.0), lidar("b", -30.0, -30.0));
    let mut f = Fusion::new(FusionConfig::default(), vec![a.clone(), b.clone()]);
    let mut confirmed_at = None;
    let mut last = None;
    for k in 0..20u64 {
        let t = k as f64 * 0.05;
        let spec = if k % 2 == 0 { &a } else { &b };
        f.handle_frame(ts(t + 0.02), frame(spec, k, t));
        while let Some(due) = f.poll_timeout().filter(|d| *d <= ts(t + 0.02)) {
            f.handle_timeout(due);
        }
        if let Some(o) = f.poll_output() {
            if confirmed_at.is_none() && !o.objects.is_empty() {
                confirmed_at = Some(t);
            }
            last = Some(o);
        }
    }
    let confirmed_at = confirmed_at.unwrap();
    assert!(confirmed_at < 0.16, "confirmed after {confirmed_at} s");
    let o = last.unwrap();
    assert_eq!(o.objects.len(), 1);
    let obj = &o.objects[0];
    let t = (o.capture_time.unix_ns - T0_NS) as f64 * 1e-9;
    assert!((obj.position_m.x - (10.0 + 8.0 * t)).abs() < 0.2, "{:?} at {t}", obj.position_m);
    assert!((obj.velocity_mps.x - 8.0).abs() < 0.5 && obj.velocity_mps.y.abs() < 0.5, "{:?}", obj.velocity_mps);
    assert!(obj.heading_rad.abs() < 0.1);
    assert_eq!(obj.sensors.as_slice(), &[a.id.clone(), b.id.clone()]);
    assert_eq!(obj.class, ObjectClass::Car);
    assert!((obj.size_m.length_m - 4.5).abs() < 0.01);
    // full covariance: symmetric, positive diagonal
    let c = obj.covariance;
    assert!((c - c.transpose()).amax() < 1e-6 && (0..4).all(|i| c[(i, i)] > 0.0));
    let id = obj.track_id;

    // the object disappears: the track coasts, then is deleted; its id never returns
    let mut gone_at = None;
    for k in 20..80u64 {
        let t = k as f64 * 0.05;
        let spec = if k % 2 == 0 { &a } else { &b };
        let mut fr = frame(spec, k, t);
        fr.detections.clear();
        f.handle_frame(ts(t + 0.02), fr);
        if let Some(o) = f.poll_output() {
            if gone_at.is_none() && o.objects.is_empty() {
                gone_at = Some(t);
            }
            if gone_at.is_some() {
                assert!(o.objects.iter().all(|x| x.track_id != id));
            }
        }
    }
    let gone_at = gone_at.unwrap();
    assert!(gone_at > 1.2 && gone_at < 3.0, "deleted at {gone_at}");
    assert_eq!(f.stats().tracks_deleted, 1);
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    fn any_f64() -> impl Strategy<Value = f64> {
        prop_oneof![
            4 => -100.0f64..100.0,
            1 => Just(f64::NAN),
            1 => Just(f64::INFINITY),
            1 => Just(-1e300),
            1 => any::<f64>(),
        ]
    }

    fn any_detection() -> impl Strategy<Value = Detection> {
        (any_f64(), any_f64(), any_f64(), any_f64(), any_f64(), any::<bool>(), 0usize..7, any::<f32>()).prop_map(
            |(x, y, z, c, h, vel, class, conf)| Detection {
                class: ObjectClass::ALL[class],
                class_confidence: conf,
                position_m: Vector3::new(x, y, z),
                position_cov: Matrix3::new(c, 0.1, 0.0, 0.1, c.abs(), 0.0, 0.0, 0.0, 0.04),
                velocity_mps: vel.then_some(Vector3::new(h, -h, 0.0)),
                heading_rad: Some(h),
                size_m: Some(Size3::new(h as f32, 1.8, 1.5)),
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn arbitrary_frames_never_panic_and_outputs_stay_valid(
            frames in proptest::collection::vec(
                (0usize..3, -2.0f64..2.0, 0.0f64..0.3, proptest::collection::vec(any_detection(), 0..6), any::<bool>()),
                1..40,
            )
        ) {
            let specs = vec![lidar("a", 30.0, 30.0), lidar("b", -30.0, -30.0)];
            let mut f = Fusion::new(FusionConfig::default(), specs.clone());
            let mut now = 0.0;
            for (k, (si, dt_cap, latency, dets, timeout)) in frames.into_iter().enumerate() {
                now += 0.03;
                let sensor = if si < 2 { specs[si].id.clone() } else { SensorId::new("ghost").unwrap() };
                let fr = DetectionFrame {
                    sensor,
                    kind: SensorKind::Lidar,
                    frame_seq: k as u64,
                    capture_time: ts(now - latency + dt_cap * 0.1),
                    detections: dets,
                };
                f.handle_frame(ts(now), fr);
                if timeout {
                    if let Some(t) = f.poll_timeout() {
                        f.handle_timeout(t);
                    }
                }
                if let Some(o) = f.poll_output() {
                    for obj in &o.objects {
                        prop_assert!(corridor_model::Validate::validate(obj).is_ok(), "{obj:?}");
                    }
                }
            }
        }
    }
}
