//! The importers never panic: mutated and random input gives `Ok` or `Err`, nothing else.
//! (CI runs this; the cargo-fuzz targets in `fuzz/` do the same for longer.)
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failure

use corridor_hdmap::{import_bytes, ImportOptions, LaneMatcher, SourceFormat};
use proptest::prelude::*;
use std::io::Write;

const SEEDS: [(SourceFormat, &str); 3] = [
    (SourceFormat::Sumo, include_str!("fixtures/tiny.net.xml")),
    (SourceFormat::OpenDrive, include_str!("fixtures/tiny.xodr")),
    (SourceFormat::Lanelet2, include_str!("fixtures/tiny.osm")),
];

const NASTY: [&str; 14] = [
    "",
    "NaN",
    "inf",
    "-inf",
    "-1",
    "1e308",
    "-1e308",
    "0",
    "abc",
    "99999999999999999999",
    "1,2,3",
    "0,0 0,0",
    "end",
    "-0",
];

fn run(format: SourceFormat, bytes: &[u8]) {
    if let Ok(i) = import_bytes(format, "fuzz", bytes, &ImportOptions::default()) {
        // whatever came out is usable: hash, JSON, matcher
        let _ = i.map.version();
        let _ = i.map.to_json();
        let m = LaneMatcher::new(&i.map);
        let _ = m.match_position(0.0, 0.0, Some(1.0));
    }
}

/// Replaces the `k`-th quoted attribute value with `v`.
fn replace_value(text: &str, k: usize, v: &str) -> String {
    let quotes: Vec<usize> = text.match_indices('"').map(|(i, _)| i).collect();
    let pairs = quotes.len() / 2;
    if pairs == 0 {
        return text.to_owned();
    }
    let i = k % pairs;
    let (a, b) = (quotes[2 * i], quotes[2 * i + 1]);
    format!("{}\"{}\"{}", &text[..a], v, &text[b + 1..])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn attribute_values_replaced_with_nasty_ones(seed in 0usize..3, edits in proptest::collection::vec((0usize..400, 0usize..NASTY.len()), 1..4)) {
        let (f, text) = SEEDS[seed];
        let mut t = text.to_owned();
        for (k, v) in edits {
            t = replace_value(&t, k, NASTY[v]);
        }
        run(f, t.as_bytes());
    }

    #[test]
    fn bytes_flipped_or_cut(seed in 0usize..3, flips in proptest::collection::vec((0usize..10_000, any::<u8>()), 0..8), cut in 0usize..10_000) {
        let (f, text) = SEEDS[seed];
        let mut b = text.as_bytes().to_vec();
        for (i, v) in flips {
            let n = b.len();
            b[i % n] = v;
        }
        b.truncate(cut.max(1).min(b.len()));
        run(f, &b);
    }

    #[test]
    fn random_bytes(seed in 0usize..3, b in proptest::collection::vec(any::<u8>(), 0..512)) {
        run(SEEDS[seed].0, &b);
    }

    #[test]
    fn gzipped_sumo_mutations(flips in proptest::collection::vec((0usize..2000, any::<u8>()), 0..4)) {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(SEEDS[0].1.as_bytes()).unwrap();
        let mut b = gz.finish().unwrap();
        for (i, v) in flips {
            let n = b.len();
            b[i % n] = v;
        }
        run(SourceFormat::Sumo, &b);
    }
}

#[test]
fn seeds_import() {
    for (f, t) in SEEDS {
        import_bytes(f, "seed", t.as_bytes(), &ImportOptions::default()).unwrap();
    }
}
