//! Criterion benches: `rules/query` (one `applicable` lookup on 1,000 rules
//! over a 200-lane map) and `rules/compile_1000` (parse + validate + index).
#![allow(missing_docs)] // criterion generates undocumented items

use corridor_model::{LaneId, Timestamp};
use corridor_rules::{compile, synth, VehicleClass};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

fn rules(c: &mut Criterion) {
    let facts = synth::map(200);
    let text = synth::rules_toml(1000, 200, 42);
    let compiled = match compile(&text, "synth.toml", &facts) {
        Ok(c) => c,
        Err(d) => panic!("{}", d.render(false)),
    };
    // A fixed, varied workload: lanes, classes and times (2026-2027, every hour of the week).
    let queries: Vec<(LaneId, VehicleClass, Timestamp)> = (0..4096u64)
        .map(|i| {
            let lane = LaneId::new(synth::lane_name((i * 37 % 200) as usize));
            let class = VehicleClass::ALL[(i % 8) as usize];
            let t = Timestamp::from_unix_ns((1_767_225_600 + (i * 7_919 * 1_800 % 63_072_000) as i64) * 1_000_000_000);
            (lane, class, t)
        })
        .collect();
    let mut g = c.benchmark_group("rules");
    let mut k = 0usize;
    g.bench_function("query", |b| {
        b.iter(|| {
            let (lane, class, t) = &queries[k % queries.len()];
            k += 1;
            let e = compiled.applicable(black_box(lane), black_box(*class), black_box(*t));
            black_box(e.map(|e| e.rule_indices()))
        })
    });
    g.bench_function("next_change", |b| {
        b.iter(|| {
            let (lane, class, t) = &queries[k % queries.len()];
            k += 1;
            black_box(compiled.next_change(black_box(lane), black_box(*class), black_box(*t)))
        })
    });
    g.sample_size(20);
    g.bench_function("compile_1000", |b| {
        b.iter(|| compile(black_box(&text), "synth.toml", &facts).map(|c| c.version()))
    });
    g.finish();
}

criterion_group!(benches, rules);
criterion_main!(benches);
