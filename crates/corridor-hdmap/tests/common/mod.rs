//! Shared helpers for the integration tests: where the real maps and Python are.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failure
#![allow(dead_code)]

use std::path::PathBuf;

/// `../shared/realmaps` next to the workspace (override: `CORRIDOR_REALMAPS`).
pub fn realmaps_dir() -> PathBuf {
    if let Ok(p) = std::env::var("CORRIDOR_REALMAPS") {
        return PathBuf::from(p);
    }
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/realmaps");
    assert!(d.is_dir(), "real maps not found at {} (set CORRIDOR_REALMAPS)", d.display());
    d
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every map file under the real-maps folder (SUMO nets, OpenDRIVE, Lanelet2 OSM), sorted.
pub fn realmap_files() -> Vec<PathBuf> {
    fn walk(d: &std::path::Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> =
            std::fs::read_dir(d).expect("read realmaps dir").flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out);
            } else if corridor_hdmap::format_of(&p.display().to_string())
                .is_some_and(|f| f != corridor_hdmap::SourceFormat::Json)
            {
                out.push(p);
            }
        }
    }
    let mut v = Vec::new();
    walk(&realmaps_dir(), &mut v);
    v
}

/// The Python with sumolib and lanelet2: `CORRIDOR_PYTHON`, else `<workspace>/.venv/bin/python`.
/// Panics (the test fails, it is never skipped) when missing.
pub fn python() -> PathBuf {
    let p = std::env::var("CORRIDOR_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join(".venv/bin/python"));
    assert!(p.exists(), "Python not found at {}: run scripts/setup-venv.sh (or set CORRIDOR_PYTHON)", p.display());
    p
}

/// The venv's bin directory (netconvert lives next to python).
pub fn venv_bin() -> PathBuf {
    python().parent().expect("python has a parent dir").to_path_buf()
}

/// Runs a helper script from tests/python with arguments, returns stdout parsed as JSON.
pub fn run_python(script: &str, args: &[&str]) -> serde_json::Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python").join(script);
    let out = std::process::Command::new(python()).arg(&script).args(args).output().expect("run python");
    assert!(
        out.status.success(),
        "{} failed: {}\n(if a module is missing, run scripts/setup-venv.sh)",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{}: bad JSON ({e}): {}", script.display(), String::from_utf8_lossy(&out.stdout)))
}
