//! Helpers for the SUMO tests: run the binary, parse and check its outputs.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The project's Python (fails, never skips, without it).
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("CORRIDOR_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    assert!(venv.exists(), "no {} and no CORRIDOR_PYTHON: run scripts/setup-venv.sh", venv.display());
    venv
}

/// Runs `corridor-sim sumo` and returns its stdout.
pub fn run_sumo(cfg: &Path, out: &Path, extra: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_corridor-sim"))
        .arg("sumo")
        .arg("--sumocfg")
        .arg(cfg)
        .arg("--out")
        .arg(out)
        .arg("--python")
        .arg(python())
        .arg("--quiet")
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let log = std::fs::read_to_string(out.join("sumo.log")).unwrap_or_default();
    assert!(
        o.status.success(),
        "corridor-sim sumo failed: {}\nstdout:\n{stdout}\nstderr:\n{}\nsumo.log:\n{log}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    stdout
}

/// One parsed MOT row.
#[derive(Debug, Clone)]
pub struct Row {
    pub frame: u64,
    pub id: u64,
    pub x: f64,
    pub y: f64,
    pub class: String,
}

/// Parses a MOTChallenge-style CSV, checking the header and every field.
pub fn read_mot(path: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("frame,id,x,y,z,vx,vy,class,confidence"), "{}", path.display());
    lines
        .enumerate()
        .map(|(i, l)| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 9, "{}:{}: {l}", path.display(), i + 2);
            for v in &f[2..7] {
                assert!(v.parse::<f64>().unwrap().is_finite(), "{}:{}: {l}", path.display(), i + 2);
            }
            let conf: f64 = f[8].parse().unwrap();
            assert!((0.0..=1.0).contains(&conf), "{l}");
            Row {
                frame: f[0].parse().unwrap(),
                id: f[1].parse().unwrap(),
                x: f[2].parse().unwrap(),
                y: f[3].parse().unwrap(),
                class: f[7].to_owned(),
            }
        })
        .collect()
}

/// Checks every output of a run and returns report.json.
pub fn check_outputs(out: &Path) -> serde_json::Value {
    for f in ["tracks.csv", "gt.csv", "signals.csv", "junctions.csv", "report.json", "report.html"] {
        assert!(out.join(f).is_file(), "missing {f}");
    }
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let radius = r["score_radius_m"].as_f64().unwrap();
    let centres: Vec<(f64, f64)> = r["junctions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| (j["x"].as_f64().unwrap(), j["y"].as_f64().unwrap()))
        .collect();
    assert!(!centres.is_empty());
    let gt = read_mot(&out.join("gt.csv"));
    let tracks = read_mot(&out.join("tracks.csv"));
    assert!(!gt.is_empty(), "no ground truth near any junction");
    assert!(!tracks.is_empty(), "no tracks");
    // ground truth lies in the scored area; ids are unique per frame
    let near = |x: f64, y: f64| centres.iter().any(|(cx, cy)| (x - cx).hypot(y - cy) <= radius + 1e-3);
    assert!(gt.iter().all(|r| near(r.x, r.y)));
    assert!(tracks.iter().all(|r| near(r.x, r.y)));
    let mut seen = BTreeSet::new();
    assert!(gt.iter().all(|r| seen.insert((r.frame, r.id))), "duplicate gt id in a frame");
    // frames are SUMO time / 0.1 s, inside the run
    let (t0, t1) = (r["t_start_s"].as_f64().unwrap(), r["t_end_s"].as_f64().unwrap());
    for row in gt.iter().chain(&tracks) {
        let t = row.frame as f64 * 0.1;
        assert!(t >= t0 - 0.051 && t <= t1 + 0.051, "frame {} outside {t0}..{t1}", row.frame);
    }
    let classes: BTreeSet<&str> = gt.iter().map(|r| r.class.as_str()).collect();
    assert!(classes
        .iter()
        .all(|c| ["car", "bus", "truck", "cyclist", "pedestrian", "motorcycle", "unknown"].contains(c)));
    // signals.csv parses; predictions are finite and non-negative
    let sig = std::fs::read_to_string(out.join("signals.csv")).unwrap();
    let mut lines = sig.lines();
    assert_eq!(
        lines.next(),
        Some("time,junction,controller,group,state,min_ttc,max_ttc,predicted_ttc,actual_ttc,fixed_time")
    );
    let mut n = 0;
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!(f.len(), 10, "{l}");
        assert!(f[0].parse::<f64>().is_ok() && f[3].parse::<u16>().is_ok() && f[4].len() == 1, "{l}");
        for v in &f[5..9] {
            if !v.is_empty() {
                assert!(v.parse::<f64>().unwrap() >= -1e-6, "{l}");
            }
        }
        n += 1;
    }
    assert!(n > 0, "no signal rows");
    // scores: plausible bounds, and the two scorers agree
    let ours = &r["overall"];
    let mm = &r["motmetrics"]["overall"];
    for s in [ours, mm] {
        let mota = s["mota"].as_f64().unwrap();
        let idf1 = s["idf1"].as_f64().unwrap();
        assert!(mota <= 1.0 && mota > -1.0, "{s}");
        assert!((0.0..=1.0).contains(&idf1), "{s}");
    }
    let motp = ours["motp_m"].as_f64().unwrap();
    assert!((0.0..r["match_threshold_m"].as_f64().unwrap()).contains(&motp), "{ours}");
    let d = |k: &str| (ours[k].as_f64().unwrap() - mm[k].as_f64().unwrap()).abs();
    assert!(d("mota") < 1e-3, "MOTA: corridor {} vs motmetrics {}", ours["mota"], mm["mota"]);
    assert!(d("idf1") < 1e-3, "IDF1: corridor {} vs motmetrics {}", ours["idf1"], mm["idf1"]);
    assert_eq!(ours["gt"], mm["gt"]);
    // every gt row is within 50 m of at least one junction (of several where they overlap)
    assert!(ours["gt"].as_u64().unwrap() >= gt.len() as u64);
    // counts add up
    let g = ours["gt"].as_u64().unwrap();
    assert_eq!(ours["matches"].as_u64().unwrap() + ours["false_negatives"].as_u64().unwrap(), g);
    // latencies were measured and states flowed
    assert!(r["states_received"].as_u64().unwrap() > 0);
    let (p50, p99) = (r["latency_p50_us"].as_u64().unwrap(), r["latency_p99_us"].as_u64().unwrap());
    assert!(p50 > 0 && p50 <= p99, "{p50} {p99}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.matches("data:image/png;base64,").count() >= 3, "report.html lacks its plots");
    // tracks carry their junction in the id
    let ids: HashMap<u64, usize> = tracks.iter().map(|t| (t.id, (t.id / 10_000_000) as usize)).collect();
    assert!(ids.values().all(|k| *k < centres.len()));
    r
}
