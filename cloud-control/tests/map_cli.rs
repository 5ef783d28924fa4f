//! `cloud-control map import|inspect` end to end, running the binary.

use std::path::PathBuf;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cloud-control"))
}

fn demo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../maps/demo-4arm/demo-4arm.net.xml")
}

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn inspect_prints_counts_and_hash() {
    let v = json(&bin().args(["map", "inspect"]).arg(demo()).output().unwrap());
    // 4 arms x (3 ingress + 2 egress lanes) road lanes, plus internal lanes
    assert!(v["lanes"].as_u64().unwrap() >= 20, "{v}");
    // 4 approaches x (right, 2 straight, left) = 16 signalised movements at A0, plus 4 x 3 lane
    // links where each approach widens from 2 to 3 lanes (the left-turn pocket)
    assert_eq!(v["connections"], 16 + 12, "{v}");
    assert_eq!(v["controllers"], 1, "{v}");
    assert_eq!(v["signal_groups"], 16, "{v}");
    assert_eq!(v["junctions"].as_u64().unwrap(), 9, "{v}");
    assert_eq!(v["crosswalks"], 0, "{v}");
    assert_eq!(v["hash"].as_str().unwrap().len(), 64, "{v}");
    // placed where the README says
    assert!((v["origin"]["lat_deg"].as_f64().unwrap() - 39.795).abs() < 1e-6, "{v}");
}

#[test]
fn import_writes_json_that_inspects_to_the_same_hash() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo.hdmap.json");
    let v = json(&bin().args(["map", "import"]).arg(demo()).arg("--out").arg(&out).output().unwrap());
    assert!(out.exists());
    let back = json(&bin().args(["map", "inspect"]).arg(&out).output().unwrap());
    assert_eq!(v["hash"], back["hash"]);
    assert_eq!(v["lanes"], back["lanes"]);
    // the JSON keeps the source format it came from
    assert_eq!(back["format"], "sumo");
    assert_eq!(back["warnings"], 0);
}

#[test]
fn origin_is_used_where_the_file_has_no_geo_reference() {
    let dir = tempfile::tempdir().unwrap();
    let src = std::fs::read_to_string(demo()).unwrap();
    let start = src.find("<location").unwrap();
    let end = start + src[start..].find("/>").unwrap() + 2;
    let local = format!(
        "{}<location netOffset=\"0.00,0.00\" convBoundary=\"0.00,0.00,300.00,300.00\" projParameter=\"!\"/>{}",
        &src[..start],
        &src[end..]
    );
    let f = dir.path().join("local.net.xml");
    std::fs::write(&f, local).unwrap();
    let without = json(&bin().args(["map", "inspect"]).arg(&f).output().unwrap());
    assert!(without["origin"].is_null(), "{without}");
    let with = json(&bin().args(["map", "inspect"]).arg(&f).args(["--origin", "48.1,11.5"]).output().unwrap());
    assert!((with["origin"]["lon_deg"].as_f64().unwrap() - 11.5).abs() < 1e-9, "{with}");
    assert_ne!(with["hash"], without["hash"], "the origin is part of the map's content");
    let bad = bin().args(["map", "inspect"]).arg(&f).args(["--origin", "91,0"]).output().unwrap();
    assert!(!bad.status.success());
}

#[test]
fn bad_input_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("broken.net.xml");
    std::fs::write(&f, "<net>\n<edge id=\"e\">\n<lane id=\"e_0\" speed=\"13\" shape=\"0,0 10,0\"/>\n</edge>\n<connection from=\"e\" to=\"x\" fromLane=\"0\" toLane=\"0\"/>\n</net>\n").unwrap();
    let out = bin().args(["map", "inspect"]).arg(&f).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.net.xml:5") && err.contains("x_0"), "{err}");
    let out = bin().args(["map", "inspect", "map.txt"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown map format"));
}
