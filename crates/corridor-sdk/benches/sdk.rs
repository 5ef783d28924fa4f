//! SDK query benches: `sdk/objects_in_ego_200` (200 objects into the ego frame with rotated
//! covariance) and `sdk/my_lane_query` (lane match + connection + signal + rules) on the
//! demo-4arm map.
#![allow(missing_docs)]
#![allow(clippy::expect_used)]

use corridor_model::{IntersectionId, RegionId, Timestamp};
use corridor_sdk::testkit::{self, MONDAY_10AM};
use corridor_sdk::{Corridor, CorridorConfig, EgoPose, Route, VehicleClass};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

fn setup(n: usize) -> (Corridor, IntersectionId, Timestamp) {
    let ix = IntersectionId::new("ix-a").expect("id");
    let mut c =
        Corridor::new(CorridorConfig::new(RegionId::new("demo").expect("id"), Route::intersections([ix.clone()])));
    let t0 = Timestamp::from_unix_ns(MONDAY_10AM * 1_000_000_000);
    let (m, mv) = testkit::map_bundle(&ix).expect("map");
    let (r, rv) = testkit::rules_bundle(&ix).expect("rules");
    let s = testkit::state(&ix, 1, t0, n, mv, Some(rv));
    let (k, b) = testkit::encode_state("demo", &s).expect("state");
    c.handle_state(&k, &b, t0).expect("accepted");
    c.handle_map_bundle(&m, t0).expect("map accepted");
    c.handle_rules_bundle(&r, t0).expect("rules accepted");
    (c, ix, t0.add_secs_f64(0.05))
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("sdk");
    let (core, ix, now) = setup(200);
    let pose = EgoPose::enu(3.2, -22.0, std::f64::consts::FRAC_PI_2);
    g.bench_function("objects_in_ego_200", |b| {
        b.iter(|| black_box(core.objects_in_ego(black_box(&ix), black_box(&pose), now).expect("answer")))
    });
    g.bench_function("my_lane_query", |b| {
        b.iter(|| black_box(core.my_lane(black_box(&pose), VehicleClass::Car, now).expect("answer")))
    });
    g.finish();
}

criterion_group!(sdk, benches);
criterion_main!(sdk);
