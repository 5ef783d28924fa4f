//! Criterion benches for corridor-hdmap.
//!
//! - `hdmap/match_200lanes`: one lane-matching query (position + heading) on a generated map
//!   of 200 lanes (10 east-west and 10 north-south roads of 10 lanes each, 400 m long, gently
//!   curved, crossing each other like junctions), over a fixed set of query points on and off
//!   the lanes.
//! - `hdmap/import_largest_realmap`: importing the largest real map (the Ingolstadt cutmap,
//!   5.6 MB of SUMO XML gzipped to 0.7 MB), read from `../shared/realmaps` or `CORRIDOR_REALMAPS`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failure
#![allow(missing_docs)] // criterion_group! generates an undocumented fn

use corridor_hdmap::{ClassSet, HdMap, Lane, LaneKind, LaneMatcher, SourceFormat, TravelDirection};
use corridor_model::LaneId;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use std::path::PathBuf;

fn map_200_lanes() -> HdMap {
    let mut m = HdMap::empty(SourceFormat::Json);
    for road in 0..20 {
        let ns = road >= 10;
        let base = (road % 10) as f64 * 40.0 - 180.0;
        for lane in 0..10 {
            let off = base + lane as f64 * 3.5;
            let pts: Vec<[f64; 2]> = (0..=80)
                .map(|i| {
                    let t = i as f64 * 5.0 - 200.0;
                    let bend = 3.0 * (t / 60.0).sin();
                    if ns {
                        [off + bend, t]
                    } else {
                        [t, off + bend]
                    }
                })
                .collect();
            m.lanes.push(Lane {
                id: LaneId::new(format!("r{road}_l{lane}")),
                road: Some(format!("r{road}")),
                junction: None,
                kind: LaneKind::Driving,
                width_m: vec![3.5; pts.len()],
                centre_line_m: pts,
                speed_limit_mps: Some(13.9),
                allowed: ClassSet::ROAD_VEHICLES,
                direction: if lane < 5 { TravelDirection::Forward } else { TravelDirection::Backward },
                successors: Vec::new(),
            });
        }
    }
    m.normalize();
    m
}

fn queries() -> Vec<(f64, f64, f64)> {
    // deterministic pseudo-random points in the map's extent, with a heading
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..4096)
        .map(|_| (next() * 420.0 - 210.0, next() * 420.0 - 210.0, (next() * 2.0 - 1.0) * std::f64::consts::PI))
        .collect()
}

fn bench(c: &mut Criterion) {
    let map = map_200_lanes();
    assert_eq!(map.lanes.len(), 200);
    let matcher = LaneMatcher::new(&map);
    let qs = queries();
    let hits = qs.iter().filter(|q| matcher.match_position(q.0, q.1, Some(q.2)).is_some()).count();
    eprintln!("match_200lanes: {} segments, {hits}/{} queries on a lane", matcher.segment_count(), qs.len());
    let mut g = c.benchmark_group("hdmap");
    let mut i = 0usize;
    g.bench_function("match_200lanes", |b| {
        b.iter(|| {
            let q = qs[i % qs.len()];
            i += 1;
            black_box(matcher.match_position(black_box(q.0), black_box(q.1), Some(q.2)))
        })
    });
    let realmaps = std::env::var("CORRIDOR_REALMAPS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/realmaps"));
    let largest = realmaps.join("sumo/ingolstadt_forschungskreuzung_cutmap/Forschungskreuzung_cutmap.net.xml.gz");
    match std::fs::read(&largest) {
        Ok(bytes) => {
            g.sample_size(10);
            g.bench_function("import_largest_realmap", |b| {
                b.iter(|| {
                    corridor_hdmap::import_bytes(SourceFormat::Sumo, "cutmap", black_box(&bytes), &Default::default())
                        .map(|i| i.map.lanes.len())
                })
            });
        }
        Err(e) => eprintln!("skipping hdmap/import_largest_realmap: {}: {e}", largest.display()),
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
