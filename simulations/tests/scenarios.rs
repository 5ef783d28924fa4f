//! Built-in scenarios end to end through `corridor-sim run` (real time over zenoh on loopback),
//! checked against the acceptance thresholds, and our scorer cross-checked with py-motmetrics.
//!
//! Windows are shortened (`--seconds`) so CI stays fast; the thresholds are the acceptance ones:
//! MOTA >= 0.90, IDF1 >= 0.90, ID switches <= 1 per 100 ground-truth tracks.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use simulations::score::{from_csv, score};
use std::path::{Path, PathBuf};
use std::process::Command;

fn run(scenario: &str, seconds: &str, dir: &Path) -> serde_json::Value {
    run_file(Path::new(scenario), scenario, seconds, dir)
}

/// Runs a scenario (built-in name or file) whose name is `name`.
fn run_file(scenario: &Path, name: &str, seconds: &str, dir: &Path) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_corridor-sim"))
        .args(["run", "--scenario"])
        .arg(scenario)
        .args(["--seconds", seconds, "--quiet", "--out"])
        .arg(dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    let last = stdout.trim_end().lines().last().unwrap();
    assert!(last.starts_with(&format!("summary: scenario={name} ")), "{last}");
    eprintln!("{stdout}");
    serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap()
}

fn assert_acceptance(report: &serde_json::Value) {
    let s = &report["score"];
    let (mota, idf1) = (s["mota"].as_f64().unwrap(), s["idf1"].as_f64().unwrap());
    let (idsw, gt_ids) = (s["id_switches"].as_u64().unwrap(), s["gt_ids"].as_u64().unwrap());
    assert!(gt_ids >= 15, "too little traffic to judge: {s}");
    assert!(mota >= 0.90, "MOTA {mota}: {s}");
    assert!(idf1 >= 0.90, "IDF1 {idf1}: {s}");
    // the target, <= 1 per 100 ground-truth tracks: these windows have 21-46 (at most
    // one switch each) and had 0 offline (docs/scenarios.md, "ID switches": dense-4arm's
    // walker passing through a standing pedestrian, 2 of 46 in its 20 s before passings were
    // decided on separation); the full 90/60 s runs have 1/95, 0/81, 0/49, 0/67 (the car lost 27 s
    // in a queue; "Standing pairs: a stationary model, ...")
    assert!(idsw * 100 <= gt_ids.max(100), "{idsw} ID switches for {gt_ids} ground-truth tracks: {s}");
}

#[test]
fn dense_4arm_meets_the_acceptance_thresholds() {
    let dir = tempfile::tempdir().unwrap();
    let r = run("dense-4arm", "20", dir.path());
    assert_acceptance(&r);
    // pedestrians, cyclists and cars were all there and scored
    for c in ["car", "pedestrian", "cyclist"] {
        assert!(r["per_class"][c]["gt_ids"].as_u64().unwrap_or(0) >= 1, "no {c}: {}", r["per_class"]);
    }
}

#[test]
fn bus_occlusion_meets_the_acceptance_thresholds() {
    let dir = tempfile::tempdir().unwrap();
    let r = run("bus-occlusion", "20", dir.path());
    assert_acceptance(&r);
    assert!(r["per_class"]["bus"]["gt_ids"].as_u64().unwrap_or(0) >= 1, "{}", r["per_class"]);
}

#[test]
fn sensor_dropout_meets_the_acceptance_thresholds_and_the_sensor_returns() {
    let dir = tempfile::tempdir().unwrap();
    let r = run("sensor-dropout", "16", dir.path());
    assert_acceptance(&r);
    // 3 s of a 10 Hz lidar were not published
    let n = r["injected"]["dropout_frames"].as_u64().unwrap();
    assert!((28..=32).contains(&n), "{n}");
}

#[test]
fn clock_skew_meets_the_acceptance_thresholds() {
    let dir = tempfile::tempdir().unwrap();
    let r = run("clock-skew", "20", dir.path());
    assert_acceptance(&r);
}

fn python() -> PathBuf {
    let p = std::env::var_os("CORRIDOR_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python"));
    assert!(p.exists(), "Python not found at {}: run scripts/setup-venv.sh (or set CORRIDOR_PYTHON)", p.display());
    p
}

#[test]
fn our_scorer_agrees_with_py_motmetrics() {
    let dir = tempfile::tempdir().unwrap();
    let _ = run("bus-occlusion", "15", dir.path());
    let gt = from_csv(&std::fs::read_to_string(dir.path().join("gt.csv")).unwrap()).unwrap();
    let tracks = from_csv(&std::fs::read_to_string(dir.path().join("tracks.csv")).unwrap()).unwrap();
    let ours = score(&gt, &tracks, 2.0);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/motmetrics_score.py");
    let out = Command::new(python())
        .arg(script)
        .arg(dir.path().join("gt.csv"))
        .arg(dir.path().join("tracks.csv"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mm: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!("ours {ours:?}\nmotmetrics {mm}");
    assert_eq!(mm["motmetrics_version"], "1.4.0");
    assert!(ours.gt > 500, "{ours:?}");
    assert!((ours.mota - mm["mota"].as_f64().unwrap()).abs() < 1e-3, "{ours:?} vs {mm}");
    assert!((ours.idf1 - mm["idf1"].as_f64().unwrap()).abs() < 1e-3, "{ours:?} vs {mm}");
    assert!((ours.motp_m - mm["motp_m"].as_f64().unwrap()).abs() < 1e-3, "{ours:?} vs {mm}");
    assert_eq!(ours.id_switches, mm["id_switches"].as_u64().unwrap());
    assert_eq!(ours.false_positives, mm["false_positives"].as_u64().unwrap());
    assert_eq!(ours.false_negatives, mm["false_negatives"].as_u64().unwrap());
    assert_eq!(ours.gt, mm["gt"].as_u64().unwrap());
}

#[test]
fn a_bad_scenario_file_is_refused_naming_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.toml");
    std::fs::write(&f, "map = \"maps/demo-4arm/demo-4arm.net.xml\"\nduration_s = -3\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_corridor-sim")).args(["run", "--scenario"]).arg(&f).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:2:14: duration_s"), "{err}");
}

/// The control faults, with CI-short windows: the cloud down for 3 s (with a lidar silent
/// inside it, so the RSU detects an RSU-fault event while it cannot upload) and the RSU restarted.
/// Service continued, every event queued during the outage was acked after it, nothing was lost.
#[test]
fn cloud_down_and_rsu_restart_keep_the_service_and_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("control-faults.toml");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut text = std::fs::read_to_string(repo.join("simulations/scenarios/sensor-dropout.toml")).unwrap();
    text = text.replace("name = \"sensor-dropout\"", "name = \"control-faults\"");
    text = text.replace("from_s = 8\nto_s = 11", "from_s = 3\nto_s = 6");
    text.push_str(
        "\n[[fault]]\nkind = \"cloud_down\"\nfrom_s = 3\nto_s = 6\n\n[[fault]]\nkind = \"rsu_restart\"\nrsu = \"A0\"\nfrom_s = 9\nto_s = 9.5\n",
    );
    std::fs::write(&f, text).unwrap();
    let out = dir.path().join("out");
    let r = run_file(&f, "control-faults", "15", &out);
    let faults = r["faults"].as_array().unwrap();
    assert_eq!(faults.len(), 2, "{r}");
    let (down, restart) = (&faults[0], &faults[1]);
    assert_eq!(down["kind"], "cloud_down");
    assert_eq!(restart["kind"], "rsu_restart");
    for f in faults {
        assert!(f["error"].is_null(), "{f}");
        assert_eq!(f["scoring_excludes"], "nothing");
        assert_eq!(f["lost"], 0, "{f}");
    }
    // the cloud was down ~3 s and the RSU kept publishing from its cache (10 Hz: ~30 states)
    let window = down["applied_to_s"].as_f64().unwrap() - down["applied_from_s"].as_f64().unwrap();
    assert!((2.5..=5.0).contains(&window), "{down}");
    assert!(down["states_published_during"].as_u64().unwrap() >= 20, "{down}");
    assert!(down["states_received_during"].as_u64().unwrap() >= 20, "{down}");
    // the silent lidar was detected while the cloud was down: queued on disk, acked after
    let during = down["events_during"].as_u64().unwrap();
    assert!(during >= 1, "no event during the outage: {down}");
    // every one of them sat in the outbox until the cloud came back
    assert!(down["events_queued_peak"].as_u64().unwrap() >= during, "{down}");
    assert_eq!(down["events_delivered_after"].as_u64().unwrap(), during, "{down}");
    assert_eq!(down["events_stored_while_down"], 0, "{down}");
    // the RSU came back from its cache; the vehicle saw the restart and states flowed again
    let rr = &restart["restart"];
    assert_eq!(rr["map_source_after"], "cache", "{rr}");
    assert!(rr["restarts_seen"].as_u64().unwrap() >= 1, "{rr}");
    assert!(rr["first_state_after_ms"].as_f64().unwrap() < 3000.0, "{rr}");
    assert!(rr["first_objects_after_ms"].as_f64().unwrap() < 3000.0, "{rr}");
    // every event the RSU published live was acked by the cloud, exactly the same count
    let c = &r["cloud"];
    assert_eq!(c["cloud_starts"], 2, "{c}");
    assert_eq!(c["rsus_on_published"], 1, "{c}");
    assert_eq!(c["rsus"][0]["starts"], 2, "{c}");
    let ev = &c["events"];
    assert_eq!(ev["published_live"], ev["uploaded_acked"], "{ev}");
    assert_eq!(ev["lost"], 0, "{ev}");
    assert_eq!(ev["queued_at_end"], 0, "{ev}");
    // tracking held up over the whole run, nothing excluded (each track alive across the
    // restart counts one ID switch, so IDF1 is not judged here)
    let mota = r["score"]["mota"].as_f64().unwrap();
    assert!(mota >= 0.85, "MOTA {mota}: {}", r["score"]);
}
