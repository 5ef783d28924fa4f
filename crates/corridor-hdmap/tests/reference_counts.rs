//! Our importers' counts against the source tools': sumolib for SUMO nets, the lanelet2
//! package for Lanelet2 OSM (tests/python/reference_counts.py). Python must be there: the test
//! fails (never skips) and says to run scripts/setup-venv.sh.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failure

mod common;

use corridor_hdmap::{load_path, ImportOptions, SourceFormat};

fn check(path: &std::path::Path) {
    let p = path.display().to_string();
    let want = common::run_python("reference_counts.py", &[&p]);
    let m = load_path(path, &ImportOptions::default()).unwrap_or_else(|e| panic!("{e}")).map;
    let got = serde_json::to_value(m.summary()).unwrap();
    let mut keys = vec!["lanes", "connections", "signal_groups", "crosswalks"];
    if m.source_format == SourceFormat::Sumo {
        keys.extend(["junctions", "controllers"]);
    }
    for k in keys {
        assert_eq!(got[k], want[k], "{p}: `{k}` ours {} vs reference {}", got[k], want[k]);
    }
    eprintln!("{p}: {want}");
}

#[test]
fn sumo_and_lanelet2_counts_match_the_source_tools() {
    let mut files: Vec<_> = common::realmap_files()
        .into_iter()
        .filter(|f| {
            matches!(
                corridor_hdmap::format_of(&f.display().to_string()),
                Some(SourceFormat::Sumo | SourceFormat::Lanelet2)
            )
        })
        .collect();
    files.push(common::workspace_root().join("maps/demo-4arm/demo-4arm.net.xml"));
    files.push(common::workspace_root().join("maps/arterial-3/arterial-3.net.xml"));
    assert_eq!(files.len(), 6 + 3 + 2, "{files:?}");
    for f in &files {
        check(f);
    }
}
