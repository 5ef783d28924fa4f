//! `corridor-sim sumo` on the real SUMO scenarios in `../shared/realmaps/sumo` (read in place,
//! never copied into the repository; SUMO runs in a copy under the test's temporary directory
//! because these scenarios write their outputs beside their files). A short window each: a
//! fast warm-up so traffic has arrived, then 20 s of real time, RSUs at the first junctions.
//! `CORRIDOR_REALMAPS` overrides the location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{check_outputs, run_sumo};
use std::path::PathBuf;

fn realmaps() -> PathBuf {
    std::env::var_os("CORRIDOR_REALMAPS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/realmaps"))
}

fn run(cfg: &str, extra: &[&str]) -> serde_json::Value {
    let cfg = realmaps().join("sumo").join(cfg);
    assert!(cfg.is_file(), "{} is missing (CORRIDOR_REALMAPS?)", cfg.display());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut args = vec!["--seconds", "20"];
    args.extend_from_slice(extra);
    let stdout = run_sumo(&cfg, &out, &args);
    assert!(stdout.lines().last().unwrap().starts_with("summary: "), "{stdout}");
    let r = check_outputs(&out);
    // the scenario's files were not touched: SUMO ran in the copy
    assert!(out.join("scenario").is_dir());
    // every RSU runs the network and rules the in-process cloud published, and matched most of
    // what it tracked to the network's lanes (projected nets: through the net -> map similarity)
    let n = r["junctions"].as_array().unwrap().len();
    assert_eq!(r["cloud"]["rsus_on_published"].as_u64().unwrap() as usize, n, "{}", r["cloud"]);
    assert_eq!(r["cloud"]["events"]["lost"], 0, "{}", r["cloud"]);
    let lanes = &r["lane_matching"];
    assert!(lanes["fraction"].as_f64().unwrap() >= 0.6, "{lanes}");
    r
}

fn fixed_time_exact(r: &serde_json::Value) {
    let f = &r["spat_fixed_time"];
    assert!(f["samples"].as_u64().unwrap() > 0, "{f}");
    assert!(f["mean_abs_s"].as_f64().unwrap() < 1e-6, "{f}");
}

#[test]
fn bologna_acosta() {
    // 7 real UTOPIA fixed-time programmes (joined TLS): 3 RSUs
    let r = run("bologna_acosta/run.sumocfg", &["--warmup", "300", "--max-junctions", "3"]);
    assert_eq!(r["tl_junctions_in_net"], 16);
    assert_eq!(r["junctions"].as_array().unwrap().len(), 3);
    fixed_time_exact(&r);
}

#[test]
fn bologna_pasubio() {
    let r = run("bologna_pasubio/run.sumocfg", &["--warmup", "300", "--max-junctions", "3"]);
    assert_eq!(r["tl_junctions_in_net"], 15);
    fixed_time_exact(&r);
}

#[test]
fn ingolstadt_fkk_in() {
    // the config asks for 0.2 s steps: the driver runs 0.1 s
    let r = run("sumo_game_fkk_in/fkk_in.sumocfg", &["--warmup", "60"]);
    assert_eq!(r["tl_junctions_in_net"], 2);
}

#[test]
fn braunschweig_fokr_bs() {
    // demand starts at 15:00 (the config's begin); one TLS with the DLR_UT plan
    let r = run("sumo_game_fokr_bs_demo/fokr_bs_demo.sumocfg", &["--warmup", "120"]);
    assert_eq!(r["tl_junctions_in_net"], 1);
    assert!(r["t_start_s"].as_f64().unwrap() >= 54_000.0);
}

#[test]
fn hamburg_tavf() {
    // 54 TL junctions; netconvert's actuated programmes: reported, not exact
    let r = run("tavf_hamburg/run_simulation.sumocfg", &["--warmup", "300", "--max-junctions", "3"]);
    assert_eq!(r["tl_junctions_in_net"], 54);
    assert_eq!(r["junctions"].as_array().unwrap().len(), 3);
    let a = &r["spat_adaptive"];
    assert!(a["samples"].as_u64().unwrap() + r["spat_fixed_time"]["samples"].as_u64().unwrap() > 0, "{a}");
}
