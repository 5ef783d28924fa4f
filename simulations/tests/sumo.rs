//! `corridor-sim sumo` end to end: the generated 4-arm scenario for a short window (real time),
//! then the outputs are parsed and checked, and corridor's scorer is compared with
//! py-motmetrics. Needs the project venv (`scripts/setup-venv.sh`; `CORRIDOR_PYTHON` overrides).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{check_outputs, run_sumo};
use std::path::Path;

#[test]
fn sumo_4arm_runs_end_to_end_and_both_scorers_agree() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cfg = repo.join("simulations/sumo/4arm/4arm.sumocfg");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // the cloud goes down for 3 s mid-run
    let faults = dir.path().join("faults.toml");
    std::fs::write(&faults, "[[fault]]\nkind = \"cloud_down\"\nfrom_s = 4\nto_s = 7\n").unwrap();
    // 70..86 s holds switches of the 90 s programme (the longest phase is 33 s)
    let stdout = run_sumo(&cfg, &out, &["--seconds", "15", "--warmup", "70", "--faults", faults.to_str().unwrap()]);
    assert!(stdout.lines().last().unwrap().starts_with("summary: junctions=1 "), "{stdout}");
    let r = check_outputs(&out);
    // the 4-arm junction runs a fixed-time programme: every prediction is exact
    let fixed = &r["spat_fixed_time"];
    assert!(fixed["samples"].as_u64().unwrap() > 100, "{fixed}");
    assert!(fixed["mean_abs_s"].as_f64().unwrap() < 1e-6, "{fixed}");
    assert!(fixed["p95_abs_s"].as_f64().unwrap() < 1e-6, "{fixed}");
    assert!((fixed["within_window"].as_f64().unwrap() - 1.0).abs() < 1e-9, "{fixed}");
    assert_eq!(r["junctions"][0]["id"], "A0");
    // with traffic on every arm for 15 s, the tracker must find most of it
    let s = &r["motmetrics"]["overall"];
    assert!(s["recall"].as_f64().unwrap() > 0.5, "{s}");
    // cloud-control joined: the imported network and the generated rules were published, the
    // RSU fetched both and runs exactly those versions; its events were all acked
    let c = &r["cloud"];
    assert_eq!(c["published"].as_array().unwrap().len(), 1, "{c}");
    let published = &c["published"][0];
    assert_eq!(published["map_version"].as_str().unwrap(), &r["map_version"].as_str().unwrap()[..12], "{c}");
    assert!(!published["rules_version"].as_str().unwrap().is_empty(), "{c}");
    assert_eq!(c["rsus_on_published"], 1, "{c}");
    let rsu = &c["rsus"][0];
    assert_eq!(rsu["map_source"], "cloud", "{c}");
    assert_eq!((&rsu["map_version"], &rsu["rules_version"]), (&published["map_version"], &published["rules_version"]));
    assert_eq!(c["events"]["lost"], 0, "{c}");
    assert_eq!(c["events"]["published_live"], c["events"]["uploaded_acked"], "{c}");
    assert!(out.join("rules.toml").is_file(), "the generated rules are kept with the outputs");
    // the RSU matched what it tracks to the network's lanes: most cars carry a lane id
    let lanes = &r["lane_matching"];
    let (cars, with_lane, fraction) = (
        lanes["per_class"]["car"][0].as_u64().unwrap(),
        lanes["per_class"]["car"][1].as_u64().unwrap(),
        lanes["per_class"]["car"][2].as_f64().unwrap(),
    );
    assert!(cars > 100 && with_lane <= cars, "{lanes}");
    assert!(fraction >= 0.8, "only {fraction} of car reports have a lane: {lanes}");
    assert!(lanes["fraction"].as_f64().unwrap() >= 0.7, "{lanes}");
    // the outage: the RSU kept publishing and the vehicle kept receiving (~10 Hz for 3 s);
    // whatever it detected meanwhile was acked after the cloud came back
    let f = &r["faults"][0];
    assert_eq!(f["kind"], "cloud_down", "{f}");
    assert!(f["error"].is_null(), "{f}");
    assert!(f["states_published_during"].as_u64().unwrap() >= 20, "{f}");
    assert!(f["states_received_during"].as_u64().unwrap() >= 20, "{f}");
    assert_eq!(f["events_delivered_after"], f["events_during"], "{f}");
    assert_eq!(f["lost"], 0, "{f}");
    assert_eq!(c["cloud_starts"], 2, "{c}");
}
