//! End-to-end scenarios on the synthetic scene generator: accuracy, ID stability, faults.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::*;
use corridor_fusion::{DetectionRejection, FrameOutcome, FrameRejection, Fusion, FusionConfig};
use corridor_model::detection::SensorKind;
use corridor_model::ObjectClass;

/// Mixed traffic: cars both ways on both roads, a bus, a cyclist, pedestrians on crosswalks.
fn traffic() -> Vec<Target> {
    vec![
        line(1, ObjectClass::Car, (-60.0, -1.75), (10.0, 0.0), 0.0, 11.0),
        line(2, ObjectClass::Car, (60.0, 1.75), (-9.0, 0.0), 0.5, 12.0),
        line(3, ObjectClass::Car, (1.75, -55.0), (0.0, 8.0), 1.0, 13.0),
        line(4, ObjectClass::Bus, (-1.75, 55.0), (0.0, -6.0), 0.0, 14.0),
        line(5, ObjectClass::Cyclist, (-40.0, -5.5), (4.5, 0.0), 0.0, 15.0),
        line(6, ObjectClass::Pedestrian, (-9.0, 12.0), (1.3, 0.0), 0.0, 14.0),
        line(7, ObjectClass::Pedestrian, (12.0, 9.0), (0.0, -1.4), 1.0, 14.0),
        line(8, ObjectClass::Car, (-50.0, -5.25), (7.0, 0.0), 1.5, 14.0),
        line(9, ObjectClass::Pedestrian, (14.0, -14.0), (0.0, 0.0), 0.0, 15.0),
    ]
}

#[test]
fn mixed_traffic_is_tracked_without_id_switches() {
    let scene = Scene::new(traffic(), 7);
    let frames = scene.frames(15.0);
    let mut f = Fusion::new(FusionConfig::default(), scene.specs());
    let outputs = run(&mut f, &frames, 15.0);
    let s = score(&scene.targets, &outputs, 2.5, 0.5);
    eprintln!(
        "recall {:.3} switches {} false {} mean err {:.3} max err {:.3} latency {:?} stats {:?}",
        s.recall(),
        s.id_switches,
        s.false_objects,
        s.mean_error_m(),
        s.max_error_m(),
        s.confirm_latency_s,
        f.track_counts()
    );
    assert!(s.recall() > 0.97, "recall {}", s.recall());
    assert_eq!(s.id_switches, 0, "{:?}", s.ids_per_truth);
    assert!(s.mean_error_m() < 0.35, "mean error {}", s.mean_error_m());
    // false objects: fewer than 1 % of output objects
    let total: usize = outputs.iter().map(|o| o.objects.len()).sum();
    assert!((s.false_objects as f64) < 0.01 * total as f64, "false {} of {}", s.false_objects, total);
    // every truth confirmed within 0.5 s of appearing
    for (tid, lat) in &s.confirm_latency_s {
        assert!(*lat < 0.5, "truth {tid} confirmed after {lat} s");
    }
    assert_eq!(s.confirm_latency_s.len(), scene.targets.len());
    // late fusion: the camera's class wins over lidar's weaker votes, and objects in the middle
    // carry both kinds of sensor
    let end = outputs.iter().rev().find(|o| secs(o.capture_time) < 10.0).unwrap();
    let t_end = secs(end.capture_time);
    let mut checked = 0;
    for tg in &scene.targets {
        let Some((p, _)) = tg.state(t_end) else { continue };
        let Some(o) = end.objects.iter().find(|o| (o.position_m.xy() - p).norm() < 1.0) else { continue };
        assert_eq!(o.class, tg.class, "truth {} at {p}", tg.truth_id);
        assert!(o.class_confidence > 0.5, "{o:?}");
        if p.norm() < 20.0 {
            let kinds: Vec<_> = o.sensors.iter().map(|s| f.sensor_kind(s).unwrap()).collect();
            assert!(kinds.contains(&SensorKind::Camera) && kinds.contains(&SensorKind::Lidar), "{:?}", o.sensors);
        }
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} objects checked");
    // the reorder buffer keeps replays (retrodiction) rare with the profiles' latencies
    let st = f.stats();
    assert!(st.replays * 50 <= st.frames_processed, "{} replays for {} frames", st.replays, st.frames_processed);
    // counters add up
    for (id, st) in &f.stats().sensors {
        assert!(st.frames_processed > 100, "{id}: {st:?}");
        assert_eq!(
            st.frames_processed + st.dropped_frames + st.frames_rejected_total()
                - st.frames_rejected.get(&corridor_fusion::FrameRejectionKind::TooLate).copied().unwrap_or(0),
            st.frames_received,
            "{id}: {st:?}"
        );
    }
    // outputs are sorted by id, predicted to their capture time, sensors sorted
    for o in &outputs {
        assert!(o.objects.windows(2).all(|w| w[0].track_id < w[1].track_id));
        for obj in &o.objects {
            assert!(obj.sensors.windows(2).all(|w| w[0] < w[1]));
            assert!(obj.lane.is_none());
            assert!(corridor_model::Validate::validate(obj).is_ok(), "{obj:?}");
        }
    }
    // capture times never go backwards
    assert!(outputs.windows(2).all(|w| w[0].capture_time <= w[1].capture_time));
}

#[test]
fn a_nan_detection_is_rejected_and_counted_and_the_rest_is_used() {
    let scene = Scene::new(traffic(), 3);
    let mut frames = scene.frames(4.0);
    // poison one detection in 10 lidar frames
    let mut poisoned = 0;
    for r in frames.iter_mut().filter(|r| r.frame.sensor.as_str() == "lidar-ne").take(10) {
        if let Some(d) = r.frame.detections.first_mut() {
            d.position_m.x = f64::NAN;
            poisoned += 1;
        }
    }
    let mut f = Fusion::new(FusionConfig::default(), scene.specs());
    let outputs = run(&mut f, &frames, 4.0);
    let st = &f.stats().sensors[&corridor_model::SensorId::new("lidar-ne").unwrap()];
    assert_eq!(st.detections_rejected.get(&DetectionRejection::NonFinite).copied(), Some(poisoned));
    let s = score(&scene.targets, &outputs, 2.5, 0.5);
    assert!(s.recall() > 0.95, "recall {}", s.recall());
    assert_eq!(s.id_switches, 0);
}

#[test]
fn frame_level_rejections_are_typed_and_counted() {
    let scene = Scene::new(traffic(), 5);
    let frames = scene.frames(1.0);
    let mut f = Fusion::new(FusionConfig::default(), scene.specs());
    let mut fr = frames[0].frame.clone();
    fr.sensor = corridor_model::SensorId::new("nobody").unwrap();
    assert!(matches!(f.handle_frame(ts(0.1), fr), FrameOutcome::Rejected(FrameRejection::UnknownSensor(_))));
    assert_eq!(f.stats().unknown_sensor_frames, 1);
    let mut fr = frames[0].frame.clone();
    fr.capture_time = ts(5.0);
    assert!(matches!(f.handle_frame(ts(0.1), fr), FrameOutcome::Rejected(FrameRejection::FutureTimestamp { .. })));
    let mut fr = frames[0].frame.clone();
    fr.kind = match fr.kind {
        corridor_model::detection::SensorKind::Lidar => corridor_model::detection::SensorKind::Camera,
        _ => corridor_model::detection::SensorKind::Lidar,
    };
    assert!(matches!(f.handle_frame(ts(0.1), fr), FrameOutcome::Rejected(FrameRejection::KindMismatch { .. })));
    let id = frames[0].frame.sensor.clone();
    let st = &f.stats().sensors[&id];
    assert_eq!(st.frames_received, 2);
    assert_eq!(st.frames_rejected_total(), 2);
}

#[test]
fn the_same_seed_gives_the_same_tracks() {
    let scene = Scene::new(traffic(), 11);
    let frames = scene.frames(5.0);
    let mut a = Fusion::new(FusionConfig::default(), scene.specs());
    let mut b = Fusion::new(FusionConfig::default(), scene.specs());
    let oa = run(&mut a, &frames, 5.0);
    let ob = run(&mut b, &frames, 5.0);
    assert!(!oa.is_empty());
    assert_eq!(oa, ob);
}

#[test]
fn outputs_wait_only_for_frames_in_flight() {
    // fast links (1-3 ms): a frame should not wait for the next frame of every other sensor
    let mut scene = Scene::new(traffic(), 13);
    for s in &mut scene.sensors {
        s.latency_s = (0.001, 0.003);
    }
    let frames = scene.frames(6.0);
    let mut f = Fusion::new(FusionConfig::default(), scene.specs());
    let outputs = run_timed(&mut f, &frames, 6.0);
    let mut lat: Vec<f64> = outputs
        .iter()
        .filter(|(_, o)| secs(o.capture_time) > 1.0)
        .map(|(now, o)| now.secs_since(o.capture_time))
        .collect();
    lat.sort_by(f64::total_cmp);
    let (p50, p99) = (lat[lat.len() / 2], lat[lat.len() * 99 / 100]);
    assert!(p50 < 0.005 && p99 < 0.02, "capture to output p50 {p50} s, p99 {p99} s");
    // with the profiles' latencies (20-90 ms) the wait is bounded by the reorder window
    let scene = Scene::new(traffic(), 13);
    let frames = scene.frames(6.0);
    let mut f = Fusion::new(FusionConfig::default(), scene.specs());
    let outputs = run_timed(&mut f, &frames, 6.0);
    let worst = outputs.iter().map(|(now, o)| now.secs_since(o.capture_time)).fold(0.0, f64::max);
    assert!(worst <= FusionConfig::default().reorder_window_s + 0.06, "worst {worst}");
}
