//! Lanelet2 has no junction element; corridor derives junctions and conflict zones from where
//! lanelets cross. This checks the derived conflicts against the lanelet2 routing graph's own
//! `conflicting` relation on the real Lanelet2 maps (tests/python/lanelet2_conflicts.py).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failure

mod common;

use std::collections::BTreeSet;

use corridor_hdmap::{load_path, ImportOptions, SourceFormat};

fn our_pairs(map: &corridor_hdmap::HdMap) -> BTreeSet<(i64, i64)> {
    let via = |id: u32| {
        let c = map.connections.iter().find(|c| c.id == id).expect("zone names a connection");
        c.via[0].as_str().parse::<i64>().expect("lanelet ids are integers")
    };
    // lanelet2's vehicle routing graph knows only lanelets a car may use
    let driving = |id: i64| {
        map.lanes.iter().any(|l| l.id.as_str() == id.to_string() && l.kind == corridor_hdmap::LaneKind::Driving)
    };
    map.conflict_zones
        .iter()
        .map(|z| (via(z.connections[0]), via(z.connections[1])))
        .filter(|(a, b)| a != b && driving(*a) && driving(*b))
        .map(|(a, b)| (a.min(b), a.max(b)))
        .collect()
}

#[test]
fn derived_conflicts_agree_with_the_lanelet2_routing_graph() {
    let files: Vec<_> = common::realmap_files()
        .into_iter()
        .filter(|f| corridor_hdmap::format_of(&f.display().to_string()) == Some(SourceFormat::Lanelet2))
        .collect();
    assert_eq!(files.len(), 3, "{files:?}");
    for f in &files {
        let p = f.display().to_string();
        let map = load_path(f, &ImportOptions::default()).unwrap().map;
        let theirs: BTreeSet<(i64, i64)> =
            serde_json::from_value::<Vec<(i64, i64)>>(common::run_python("lanelet2_conflicts.py", &[&p]))
                .unwrap()
                .into_iter()
                .collect();
        let ours = our_pairs(&map);
        let agree = ours.intersection(&theirs).count();
        let precision = agree as f64 / ours.len().max(1) as f64;
        let recall = agree as f64 / theirs.len().max(1) as f64;
        eprintln!(
            "{p}: junctions {} zones {} pairs ours {} lanelet2 {} agree {agree} precision {precision:.2} recall {recall:.2}",
            map.junctions.len(),
            map.conflict_zones.len(),
            ours.len(),
            theirs.len()
        );
        // every zone lies in a derived junction and joins two movements through it
        for z in &map.conflict_zones {
            let j = z.junction.as_deref().expect("zone in a junction");
            assert!(map.junctions.iter().any(|x| x.id == j), "{p}: zone in unknown junction {j}");
            assert!(z.centre_m.iter().all(|v| v.is_finite()));
        }
        if !theirs.is_empty() {
            assert!(!ours.is_empty(), "{p}: lanelet2 finds conflicts, we derived none");
            assert!(
                precision >= 0.9,
                "{p}: precision {precision:.2}: we call lanelets conflicting that lanelet2 does not"
            );
        }
    }
}
