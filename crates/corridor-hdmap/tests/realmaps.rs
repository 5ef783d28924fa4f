//! Every map file under ../shared/realmaps imports, with sane content: well-formed lanes near
//! the origin, a matchable driving lane, the same version on a second import.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failure

mod common;

use corridor_hdmap::{load_path, ImportOptions, LaneMatcher};

#[test]
fn every_real_map_imports() {
    let files = common::realmap_files();
    // 6 SUMO nets, 2 OpenDRIVE files, 3 Lanelet2 maps (SOURCES.md)
    assert_eq!(files.len(), 11, "expected the 11 real maps, found {files:?}");
    for f in &files {
        let imported = load_path(f, &ImportOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        let m = &imported.map;
        let s = m.summary();
        eprintln!(
            "{}: {} warnings: {}",
            f.display(),
            imported.report.warnings.len(),
            serde_json::to_string(&s).unwrap()
        );
        for w in imported.report.warnings.iter().filter(|w| !w.message.starts_with("static")).take(8) {
            eprintln!("   {w}");
        }
        assert!(s.lanes > 10, "{}: {s:?}", f.display());
        if m.source_format != corridor_hdmap::SourceFormat::Lanelet2 {
            assert!(s.junctions >= 1, "{}: {s:?}", f.display());
        }
        // every lane is well formed
        for l in &m.lanes {
            assert!(
                l.centre_line_m.len() >= 2 && l.centre_line_m.len() == l.width_m.len(),
                "{}: {}",
                f.display(),
                l.id
            );
            assert!(l.width_m.iter().all(|w| w.is_finite() && *w >= 0.0), "{}: {}", f.display(), l.id);
        }
        // the map lies near its ENU origin (an intersection or a district, not a continent)
        let far = m.lanes.iter().flat_map(|l| l.centre_line_m.iter()).map(|p| p[0].hypot(p[1])).fold(0.0, f64::max);
        assert!(far < 10_000.0, "{}: a lane point is {far} m from the origin", f.display());
        // the matcher finds the mid point of a driving lane
        let matcher = LaneMatcher::new(m);
        let lane = m
            .lanes
            .iter()
            .find(|l| l.kind == corridor_hdmap::LaneKind::Driving && l.length_m() > 5.0)
            .expect("a driving lane");
        let (p, _) = corridor_hdmap::geom::point_at(&lane.centre_line_m, lane.length_m() / 2.0).unwrap();
        assert!(matcher.match_position(p[0], p[1], None).is_some(), "{}: {}", f.display(), lane.id);
        // the version is stable: import again, same hash
        let again = load_path(f, &ImportOptions::default()).unwrap();
        assert_eq!(again.map.version(), m.version(), "{}", f.display());
    }
}
