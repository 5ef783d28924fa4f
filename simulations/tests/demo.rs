//! The demo end to end through its command line (the stable interface):
#![allow(clippy::unwrap_used)] // test helpers
//! `corridor-sim demo --seconds N` prints, last, the summary line.

use std::process::Command;

fn field(line: &str, name: &str) -> f64 {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {line}"))
        .parse()
        .unwrap_or_else(|e| panic!("{name} in {line}: {e}"))
}

#[test]
fn demo_runs_and_prints_the_summary_line_last() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_corridor-sim"))
        .args(["demo", "--seconds", "8", "--quiet", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    let last = stdout.trim_end().lines().last().unwrap();
    let keys: Vec<&str> =
        last.trim_start_matches("summary: ").split_whitespace().map(|kv| kv.split('=').next().unwrap()).collect();
    assert!(last.starts_with("summary: "), "{last}");
    assert_eq!(keys, ["objects", "mota", "idf1", "latency_p50_us", "latency_p99_us", "dropped"]);
    // a working corridor: objects tracked, decent accuracy, every latency measured
    assert!(field(last, "objects") >= 10.0, "{stdout}");
    assert!(field(last, "mota") >= 0.7, "{stdout}");
    assert!(field(last, "idf1") >= 0.7, "{stdout}");
    let (p50, p99) = (field(last, "latency_p50_us"), field(last, "latency_p99_us"));
    assert!(p50 > 0.0 && p99 >= p50, "{last}");
    // the files an outside scorer reads
    let tracks = std::fs::read_to_string(dir.path().join("tracks.csv")).unwrap();
    let gt = std::fs::read_to_string(dir.path().join("gt.csv")).unwrap();
    for csv in [&tracks, &gt] {
        assert!(csv.starts_with("frame,id,x,y,z,vx,vy,class,confidence\n"));
        assert!(csv.lines().count() > 100);
    }
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    assert!((report["score"]["mota"].as_f64().unwrap() - field(last, "mota")).abs() < 0.0006, "{report}");
    assert_eq!(report["rsus"], 3, "the embedded arterial-3 map: three signalized junctions");
    assert_eq!(report["vehicles"], 12);
    // cloud-control served map and rules; the mid-run rules rollout reached every RSU
    let c = &report["control"];
    assert_eq!(c["published"], 3, "{c}");
    assert_ne!(c["rules_before"], c["rules_after"], "{c}");
    assert_eq!(c["rsus_on_new_rules"], 3, "{c}");
    assert!(stdout.contains("cloud: published=3"), "{stdout}");
    // signed end to end: RSUs and the cloud sign, every vehicle verifies, nothing is refused
    let trust = stdout.lines().find(|l| l.starts_with("trust: signed=yes")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(field(trust, "verified") > 0.0, "{trust}");
    assert_eq!(field(trust, "rejected"), 0.0, "{trust}");
    assert_eq!(field(trust, "cloud_rejected"), 0.0, "{trust}");
    assert_eq!(report["trust"]["certificates"], 4, "cloud + 3 RSUs");
    assert_eq!(report["trust"]["rejected"], 0, "{}", report["trust"]);
    // the vehicles' SDK lane queries: fixed-time signals are predicted to the tenth of a second
    assert!(c["ttc_samples"].as_u64().unwrap() > 20, "{c}");
    assert!(c["ttc_err_p95_s"].as_f64().unwrap() < 0.2, "{c}");
}

#[test]
fn the_hand_built_corridor_still_runs() {
    let out = Command::new(env!("CARGO_BIN_EXE_corridor-sim"))
        .args(["demo", "--hand-built", "--intersections", "2", "--vehicles", "3", "--seconds", "6", "--quiet"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    let last = stdout.trim_end().lines().last().unwrap();
    assert!(field(last, "objects") >= 5.0, "{stdout}");
    assert!(!stdout.contains("cloud:"), "no HD map, no cloud: {stdout}");
}

#[test]
fn bad_arguments_are_refused_with_a_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_corridor-sim")).args(["demo", "--seconds", "0"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("seconds"), "{err}");
}

#[test]
fn the_demo_runs_on_the_shipped_4arm_map() {
    let dir = tempfile::tempdir().unwrap();
    let map = concat!(env!("CARGO_MANIFEST_DIR"), "/../maps/demo-4arm/demo-4arm.net.xml");
    let out = Command::new(env!("CARGO_BIN_EXE_corridor-sim"))
        .args(["demo", "--seconds", "8", "--quiet", "--vehicles", "3", "--map", map, "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    let last = stdout.trim_end().lines().last().unwrap();
    assert!(last.starts_with("summary: objects="), "{last}");
    assert!(field(last, "objects") >= 10.0, "{stdout}");
    assert!(field(last, "mota") >= 0.8, "{stdout}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(report["rsus"], 1, "one signalized junction, one RSU");
}
