//! Re-identification (`FusionConfig::reid_window_s`): a track deleted after an occlusion longer
//! than the coasting limits is continued, with its id, by the track confirmed where the object
//! reappears; and never by a track of another object (another class, outside the gate, or two
//! lost tracks that could both be it).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;

use corridor_fusion::{Fusion, FusionConfig};
use corridor_model::{Detection, DetectionFrame, ObjectClass, Size3, TrackId};
use nalgebra::{Matrix3, Point3};

mod common;
use common::{lidar, ts};

/// Per output: its time and the published `(id, x, y, class)`.
type Outputs = Vec<(f64, Vec<(TrackId, f64, f64, ObjectClass)>)>;

/// Runs two lidars (alternating, 20 Hz in all) for `t_end_s`; `objects(t)` gives the visible
/// objects (class, x, y) at `t`. Returns, per output, the published `(id, x, y, class)`.
fn run(cfg: FusionConfig, t_end_s: f64, objects: impl Fn(f64) -> Vec<(ObjectClass, f64, f64)>) -> (Fusion, Outputs) {
    let (a, b) = (lidar("a", 30.0, 30.0), lidar("b", -30.0, -30.0));
    let mut f = Fusion::new(cfg, vec![a.clone(), b.clone()]);
    let mut out = Vec::new();
    let n = (t_end_s / 0.05) as u64;
    for k in 0..n {
        let t = k as f64 * 0.05;
        let spec = if k % 2 == 0 { &a } else { &b };
        let detections = objects(t)
            .into_iter()
            .map(|(class, x, y)| Detection {
                class,
                class_confidence: 0.9,
                position_m: spec.extrinsics.to_sensor(&Point3::new(x, y, 0.8)).coords,
                position_cov: Matrix3::from_diagonal_element(0.0225),
                velocity_mps: None,
                heading_rad: None,
                size_m: Some(if class == ObjectClass::Pedestrian {
                    Size3::new(0.6, 0.6, 1.7)
                } else {
                    Size3::new(4.5, 1.8, 1.5)
                }),
            })
            .collect();
        let fr =
            DetectionFrame { sensor: spec.id.clone(), kind: spec.kind, frame_seq: k, capture_time: ts(t), detections };
        f.handle_frame(ts(t + 0.02), fr);
        while let Some(due) = f.poll_timeout().filter(|d| *d <= ts(t + 0.02)) {
            f.handle_timeout(due);
        }
        if let Some(o) = f.poll_output() {
            out.push((t, o.objects.iter().map(|x| (x.track_id, x.position_m.x, x.position_m.y, x.class)).collect()));
        }
    }
    (f, out)
}

/// The ids published near `(x, y)` (within 1.5 m) in outputs between `t0` and `t1`.
fn ids_near(out: &Outputs, t0: f64, t1: f64, x: f64, y: f64) -> BTreeSet<TrackId> {
    out.iter()
        .filter(|(t, _)| *t >= t0 && *t <= t1)
        .flat_map(|(_, o)| o.iter().filter(|p| (p.1 - x).hypot(p.2 - y) < 1.5).map(|p| p.0))
        .collect()
}

#[test]
fn a_pedestrian_hidden_five_seconds_keeps_its_id() {
    // walks at 1 m/s along x, unseen from 2 s to 7 s (longer than any coasting limit)
    let walker = |t: f64| vec![(ObjectClass::Pedestrian, -5.0 + t, 3.0)];
    let (f, out) = run(FusionConfig::default(), 10.0, |t| if (2.0..7.0).contains(&t) { vec![] } else { walker(t) });
    let before = ids_near(&out, 1.0, 2.0, -3.5, 3.0);
    assert_eq!(before.len(), 1, "{out:?}");
    // the track coasted out and was deleted during the occlusion
    assert!(out.iter().any(|(t, o)| (4.0..7.0).contains(t) && o.is_empty()), "not deleted while hidden");
    let after: BTreeSet<TrackId> =
        out.iter().filter(|(t, _)| *t >= 7.5).flat_map(|(_, o)| o.iter().map(|p| p.0)).collect();
    assert_eq!(after, before, "re-identified with the same id");
    assert_eq!(f.stats().tracks_reidentified, 1);

    // without re-identification it is a new id
    let cfg = FusionConfig { reid_window_s: 0.0, ..FusionConfig::default() };
    let (f, out) = run(cfg, 10.0, |t| if (2.0..7.0).contains(&t) { vec![] } else { walker(t) });
    let after: BTreeSet<TrackId> =
        out.iter().filter(|(t, _)| *t >= 7.5).flat_map(|(_, o)| o.iter().map(|p| p.0)).collect();
    assert_eq!(after.len(), 1);
    assert!(after.is_disjoint(&ids_near(&out, 1.0, 2.0, -3.5, 3.0)));
    assert_eq!(f.stats().tracks_reidentified, 0);
}

#[test]
fn another_object_never_gets_a_lost_id() {
    // a pedestrian standing at (0, 0) leaves the scene at 2 s for good; at 4 s a car appears
    // where it stood, and a pedestrian 20 m away: neither is it
    let (f, out) = run(FusionConfig::default(), 7.0, |t| {
        let mut v = Vec::new();
        if t < 2.0 {
            v.push((ObjectClass::Pedestrian, 0.0, 0.0));
        }
        if t >= 4.0 {
            v.push((ObjectClass::Car, 0.5, 0.0));
            v.push((ObjectClass::Pedestrian, 20.0, 0.0));
        }
        v
    });
    let lost = ids_near(&out, 0.5, 2.0, 0.0, 0.0);
    assert_eq!(lost.len(), 1);
    let later: BTreeSet<TrackId> =
        out.iter().filter(|(t, _)| *t >= 4.0).flat_map(|(_, o)| o.iter().map(|p| p.0)).collect();
    assert_eq!(later.len(), 2, "{out:?}");
    assert!(later.is_disjoint(&lost), "a lost id went to another object: {later:?} {lost:?}");
    assert_eq!(f.stats().tracks_reidentified, 0);
}

#[test]
fn two_lost_tracks_that_could_both_be_it_give_no_re_identification() {
    // two pedestrians 1.5 m apart vanish at 2 s; at 4.5 s one reappears between them
    let (f, out) = run(FusionConfig::default(), 7.0, |t| {
        if t < 2.0 {
            vec![(ObjectClass::Pedestrian, 0.0, 0.0), (ObjectClass::Pedestrian, 1.5, 0.0)]
        } else if t >= 4.5 {
            vec![(ObjectClass::Pedestrian, 0.75, 0.3)]
        } else {
            vec![]
        }
    });
    let lost: BTreeSet<TrackId> =
        out.iter().filter(|(t, _)| *t < 2.0).flat_map(|(_, o)| o.iter().map(|p| p.0)).collect();
    assert_eq!(lost.len(), 2);
    let later: BTreeSet<TrackId> =
        out.iter().filter(|(t, _)| *t >= 4.5).flat_map(|(_, o)| o.iter().map(|p| p.0)).collect();
    assert_eq!(later.len(), 1, "{out:?}");
    assert!(later.is_disjoint(&lost), "ambiguous: no id may be taken over");
    assert_eq!(f.stats().tracks_reidentified, 0);
}
