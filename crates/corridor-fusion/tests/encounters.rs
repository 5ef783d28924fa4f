//! Close encounters of pedestrians, the pairs behind the built-in scenarios' last ID switches
//! (`docs/scenarios.md`, "ID switches"): two people standing together are two objects, not a
//! duplicate (`FusionConfig::duplicate_apart_s`); a walker passing through a standing
//! pedestrian, or another walker, keeps its id (`FusionConfig::passing_swap_m`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::BTreeSet;

use common::*;
use corridor_fusion::{Fusion, FusionConfig, FusionOutput};
use corridor_model::detection::SensorKind;
use corridor_model::ObjectClass;
use nalgebra::Vector2;

/// A pedestrian that walks at `v` until `t_stop_s`, stands until `t_go_s`, then walks at `v2`.
fn stop_and_go(truth_id: u32, p0: (f64, f64), v: (f64, f64), stop_go_s: (f64, f64), v2: (f64, f64)) -> Target {
    Target {
        truth_id,
        class: ObjectClass::Pedestrian,
        size: typical_size(ObjectClass::Pedestrian),
        motion: Motion::StopAndGo {
            p0: Vector2::new(p0.0, p0.1),
            v: Vector2::new(v.0, v.1),
            t_stop_s: stop_go_s.0,
            t_go_s: stop_go_s.1,
            v2: Vector2::new(v2.0, v2.1),
            accel_mps2: f64::INFINITY,
        },
        t_start_s: 0.0,
        t_end_s: 56.0,
    }
}

/// A waits at the kerb at (6, -4); B walks up along -y at 1.2 m/s, through A (0.1 m aside),
/// and stops 0.3 m beyond it at 8 s; both stand until 50 s, then walk off. Both lidars are
/// hidden from 20 s to 20.6 s (a bus passing), so only the cameras, whose along-ray error is
/// a metre here, see the pair. Returns, over the standing time [12 s, 50 s], the ids published
/// near the pair and the fraction of outputs that held exactly two there.
fn kerb_pair(cfg: &FusionConfig, seed: u64) -> (BTreeSet<u64>, f64) {
    let targets = vec![
        stop_and_go(1, (6.0, -4.0), (0.0, 0.0), (0.0, 50.0), (0.0, -1.4)),
        stop_and_go(2, (6.1, -4.3 + 9.6), (0.0, -1.2), (8.0, 50.0), (0.0, -1.1)),
    ];
    let mut scene = Scene::new(targets, seed);
    for s in scene.sensors.iter_mut().filter(|s| s.kind == SensorKind::Lidar) {
        s.dropout_s = Some((20.0, 20.6));
    }
    let frames = scene.frames(56.0);
    let mut f = Fusion::new(cfg.clone(), scene.specs());
    let outputs = run(&mut f, &frames, 56.0);
    let centre = Vector2::new(6.05, -4.15);
    let window: Vec<&FusionOutput> = outputs.iter().filter(|o| (12.0..50.0).contains(&secs(o.capture_time))).collect();
    let near = |o: &FusionOutput| -> Vec<u64> {
        o.objects.iter().filter(|x| (x.position_m.xy() - centre).norm() < 1.5).map(|x| x.track_id.0).collect()
    };
    let ids: BTreeSet<u64> = window.iter().flat_map(|o| near(o)).collect();
    let two = window.iter().filter(|o| near(o).len() == 2).count() as f64 / window.len().max(1) as f64;
    (ids, two)
}

#[test]
fn two_pedestrians_standing_together_keep_two_tracks() {
    let old = FusionConfig { duplicate_apart_s: 0.0, ..FusionConfig::default() };
    let mut merged_without = 0;
    for seed in 9200..9212 {
        let (ids, two) = kerb_pair(&FusionConfig::default(), seed);
        assert_eq!(ids.len(), 2, "seed {seed}: ids near the pair while standing: {ids:?}");
        assert_eq!(two, 1.0, "seed {seed}: two tracks in only {:.3} of the outputs", two);
        let (_, two_old) = kerb_pair(&old, seed);
        merged_without += usize::from(two_old < 1.0);
    }
    // the pair merged into one track (one deleted as a duplicate) in 4 of the 12 runs before
    eprintln!("without duplicate_apart_s: one track lost in {merged_without} of 12 runs");
}

/// Pedestrian 1 walks along +x at `speed_mps`, `lateral_m` beside pedestrian 2, who stands at
/// the origin (`other_v`: or walks at that velocity). Scored with the scenarios' 2 m match
/// threshold: the ID switches and the passings decided by exchanging ids.
fn passing(cfg: &FusionConfig, lateral_m: f64, speed_mps: f64, other_v: (f64, f64), seed: u64) -> (usize, u64) {
    let targets = vec![
        line(1, ObjectClass::Pedestrian, (-7.0, lateral_m), (speed_mps, 0.0), 0.0, 12.0),
        line(2, ObjectClass::Pedestrian, (-other_v.0 * 5.0, -other_v.1 * 5.0), other_v, 0.0, 12.0),
    ];
    let scene = Scene::new(targets, seed);
    let frames = scene.frames(12.0);
    let mut f = Fusion::new(cfg.clone(), scene.specs());
    let outputs = run(&mut f, &frames, 12.0);
    (score(&scene.targets, &outputs, 2.0, 0.5).id_switches, f.stats().passing_swaps)
}

#[test]
fn a_walker_passing_through_a_standing_pedestrian_keeps_its_id() {
    // with the defaults the two tracks no longer take each other's objects: the stander's track
    // holds its position (stationary model) and the frames whose detections cannot be told
    // apart update the pair by their sum (`ambiguous_pair_sum_update`), so the passing decision
    // has nothing to correct. Without the pair-sum update they coalesce as before, and the
    // passing decision (`passing_swap_m`) gives the ids back.
    let d = FusionConfig::default();
    let no_passing = FusionConfig { passing_swap_m: 0.0, ..d.clone() };
    let coalescing = FusionConfig { ambiguous_pair_sum_update: false, ..d.clone() };
    let (mut switches, mut switches_no_passing, mut swaps) = (0, 0, 0);
    let (mut switches_coalescing, mut swaps_coalescing) = (0, 0);
    for seed in 8000..8016 {
        // the walker's and the stander's detections are one point (within the lidar's noise)
        for (lateral_m, speed_mps) in [(0.01, 1.4), (0.0, 1.2), (0.05, 1.6)] {
            let (n, k) = passing(&d, lateral_m, speed_mps, (0.0, 0.0), seed);
            switches += n;
            swaps += k;
            switches_no_passing += passing(&no_passing, lateral_m, speed_mps, (0.0, 0.0), seed).0;
            let (n, k) = passing(&coalescing, lateral_m, speed_mps, (0.0, 0.0), seed);
            switches_coalescing += n;
            swaps_coalescing += k;
        }
    }
    eprintln!(
        "48 passings: {switches} ID switches, {swaps} decided by exchange ({switches_no_passing} switches \
         without passing_swap_m); without the pair-sum update {switches_coalescing} switches, \
         {swaps_coalescing} decided by exchange"
    );
    assert_eq!(switches, 0, "ID switches over 48 passings");
    assert_eq!(switches_no_passing, 0, "ID switches over 48 passings without passing_swap_m");
    assert_eq!(switches_coalescing, 0, "ID switches over 48 passings without the pair-sum update");
    // there each track took the other's object in some passings, and the exchange gave the ids
    // back
    assert!(swaps_coalescing > 0, "no passing was decided by exchanging ids");
}

#[test]
fn walkers_passing_each_other_are_never_exchanged() {
    // head-on, crossing at right angles and overtaking, 0.1-0.3 m apart: the tracks stay on
    // their objects, so no passing may exchange them
    let mut switches = 0;
    for seed in 8100..8108 {
        for (lateral_m, other_v) in [(0.1, (-1.3, 0.0)), (0.2, (0.0, 1.3)), (0.3, (0.6, 0.0))] {
            switches += passing(&FusionConfig::default(), lateral_m, 1.4, other_v, seed).0;
        }
    }
    assert_eq!(switches, 0, "ID switches over 24 passings of two walkers");
}
