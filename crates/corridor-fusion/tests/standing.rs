//! Two pedestrians standing together 0.18 m apart, about the lidar's noise (0.15 m): the pair
//! behind dense-4arm's last ID switches (`docs/scenarios.md`, "ID switches"). A walker stops
//! beside a standing pedestrian, both stand, then both set off the same way. Which track is
//! which must survive the arrival (the walker's track must stop where the walker stops, not
//! coast on past the stander), the standing (the two tracks must hold their positions: the
//! stationary model, `FusionConfig::stationary_sigma_mps`) and the setting off (both tracks must
//! follow while their detections cannot be told apart: the pair-sum update,
//! `FusionConfig::ambiguous_pair_sum_update`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::*;
use corridor_fusion::{Fusion, FusionConfig, FusionOutput};
use corridor_model::{ObjectClass, TrackId};
use nalgebra::Vector2;

/// Stands (or walks at `v` until `stop_s`), stands until `go_s`, then sets off at 1.5 m/s^2 to
/// `v2` (the scenarios' pedestrians accelerate so).
fn stand_then_go(id: u32, p0: (f64, f64), v: (f64, f64), stop_s: f64, go_s: f64, v2: (f64, f64), end_s: f64) -> Target {
    Target {
        truth_id: id,
        class: ObjectClass::Pedestrian,
        size: typical_size(ObjectClass::Pedestrian),
        motion: Motion::StopAndGo {
            p0: Vector2::new(p0.0, p0.1),
            v: Vector2::new(v.0, v.1),
            t_stop_s: stop_s,
            t_go_s: go_s,
            v2: Vector2::new(v2.0, v2.1),
            accel_mps2: 1.5,
        },
        t_start_s: 0.0,
        t_end_s: end_s,
    }
}

/// Dense-4arm's pair, with its sensor layout (poles 15 m out diagonally): pedestrian 1 stands
/// at (-9.36, 9.38); pedestrian 2 walks up along +x at 1.21 m/s and stops at 5 s, 0.18 m short
/// of it; both stand until `go_s`, then set off along -y (to 1.48 and 1.21 m/s).
fn pair_scene(seed: u64, go_s: f64, end_s: f64) -> Scene {
    let stop = Vector2::new(-9.54, 9.42);
    let targets = vec![
        stand_then_go(1, (-9.36, 9.38), (0.0, 0.0), 0.0, go_s, (0.0, -1.48), end_s),
        stand_then_go(2, (stop.x - 1.21 * 5.0, stop.y), (1.21, 0.0), 5.0, go_s, (0.0, -1.21), end_s),
    ];
    let mut scene = Scene::new(targets, seed);
    scene.sensors = corner_sensors(15.0);
    scene
}

fn fuse(cfg: &FusionConfig, scene: &Scene, end_s: f64) -> Vec<FusionOutput> {
    let frames = scene.frames(end_s);
    let mut f = Fusion::new(cfg.clone(), scene.specs());
    run(&mut f, &frames, end_s)
}

/// The published track nearest truth `id` at the output's time.
fn nearest(scene: &Scene, o: &FusionOutput, id: u32) -> Option<TrackId> {
    let p = scene.targets.iter().find(|t| t.truth_id == id)?.state(common::secs(o.capture_time))?.0;
    o.objects
        .iter()
        .min_by(|a, b| (a.position_m.xy() - p).norm().total_cmp(&(b.position_m.xy() - p).norm()))
        .map(|x| x.track_id)
}

/// Whether, over the last 5 s before they set off (at 25 s), each pedestrian's nearest track is
/// the one it had before the walker arrived (at 4 s) in at least 90 % of the outputs.
fn holds_who_is_who(cfg: &FusionConfig, seed: u64) -> bool {
    let scene = pair_scene(seed, 25.0, 25.0);
    let outputs = fuse(cfg, &scene, 25.0);
    let at = |t_s: f64| outputs.iter().find(|o| common::secs(o.capture_time) >= t_s);
    let Some(before) = at(4.0) else { return false };
    let (id1, id2) = (nearest(&scene, before, 1), nearest(&scene, before, 2));
    if id1.is_none() || id1 == id2 {
        return false;
    }
    let window: Vec<&FusionOutput> =
        outputs.iter().filter(|o| (20.0..25.0).contains(&common::secs(o.capture_time))).collect();
    let held = window.iter().filter(|o| nearest(&scene, o, 1) == id1 && nearest(&scene, o, 2) == id2).count();
    !window.is_empty() && held as f64 >= 0.9 * window.len() as f64
}

#[test]
fn a_walker_stopping_beside_a_standing_pedestrian_and_the_stander_keep_their_tracks() {
    let without_stationary = FusionConfig { stationary_sigma_mps: 0.0, ..FusionConfig::default() };
    let without_pair_sum = FusionConfig { ambiguous_pair_sum_update: false, ..FusionConfig::default() };
    let (mut held, mut held_no_st, mut held_no_sum) = (0, 0, 0);
    for seed in 7000..7016 {
        held += usize::from(holds_who_is_who(&FusionConfig::default(), seed));
        held_no_st += usize::from(holds_who_is_who(&without_stationary, seed));
        held_no_sum += usize::from(holds_who_is_who(&without_pair_sum, seed));
    }
    eprintln!(
        "who is who held over 20 s of standing: {held} of 16 ({held_no_st} without the stationary model, \
         {held_no_sum} without the pair-sum update)"
    );
    // before: a coin toss (the walker's track coasted on past the stander while their
    // detections were withheld as ambiguous, and standing tracks wandered across each other)
    assert!(held >= 14, "who is who held in only {held} of 16 runs");
}

#[test]
fn a_pair_that_stood_together_sets_off_with_its_ids() {
    // the whole of dense-4arm's pair: arrival, 30 s standing, setting off; scored as the
    // scenarios are (2 m, CLEAR MOT)
    let mut switches = 0;
    let mut pairs_switched = 0;
    for seed in 7000..7032 {
        let scene = pair_scene(seed, 35.0, 45.0);
        let outputs = fuse(&FusionConfig::default(), &scene, 45.0);
        let n = score(&scene.targets, &outputs, 2.0, 1.0).id_switches;
        switches += n;
        pairs_switched += usize::from(n > 0);
    }
    eprintln!("32 pairs: {switches} ID switches, {pairs_switched} pairs switched");
    // before: 16 of 32 pairs switched (2 switches each); what remains is the setting off, when
    // the pedestrian who accelerates longer pulls ahead of its lagging track before the two
    // detections separate
    assert!(pairs_switched <= 8, "{pairs_switched} of 32 pairs switched ids ({switches} switches)");
}
