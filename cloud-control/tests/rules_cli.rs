//! `cloud-control rules check|query` end to end: exit codes, stderr naming
//! `file:line:col`, the one-line summary, and the JSON answer on the shipped maps.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a test failure

use std::path::PathBuf;
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cloud-control"))
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn map(name: &str) -> PathBuf {
    repo().join("maps").join(name).join(format!("{name}.net.xml"))
}

fn rules(name: &str) -> PathBuf {
    repo().join("maps").join(name).join("rules.toml")
}

fn run(args: &[&std::ffi::OsStr]) -> Output {
    bin().args(args).env("NO_COLOR", "1").output().expect("cloud-control runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn shipped_rules_check_clean_against_their_maps() {
    for name in ["demo-4arm", "arterial-3"] {
        let out = run(&[
            "rules".as_ref(),
            "check".as_ref(),
            rules(name).as_os_str(),
            "--map".as_ref(),
            map(name).as_os_str(),
        ]);
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{name}: {}{}", stdout, text(&out.stderr));
        assert_eq!(stdout.lines().count(), 1, "{stdout}");
        assert!(stdout.contains(": ok: "), "{stdout}");
        assert!(stdout.contains("time zone Asia/Shanghai"), "{stdout}");
    }
}

#[test]
fn invalid_rules_exit_1_with_every_error_at_file_line_col() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("rules_cli");
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        concat!(
            "time_zone = \"Asia/Shanghai\"\n",
            "[[rule]]\n",
            "id = \"a\"\n",
            "scope.lanes = [\"top0A0_0\", \"nowhere_0\"]\n",
            "validity.times = [\"09:00-07:00\"]\n",
            "effect.speed_limit_kmh = 300\n",
        ),
    )
    .unwrap();
    let out =
        run(&["rules".as_ref(), "check".as_ref(), bad.as_os_str(), "--map".as_ref(), map("demo-4arm").as_os_str()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty());
    let name = bad.display().to_string();
    for loc in ["4:28", "5:19", "6:26"] {
        assert!(stderr.contains(&format!("{name}:{loc}")), "{loc} missing:\n{stderr}");
    }
    assert!(stderr.contains("unknown lane `nowhere_0`"), "{stderr}");
    assert!(stderr.contains("3 errors in"), "{stderr}");
}

#[test]
fn query_prints_effects_as_json() {
    let args = |lane: &str, class: &str, at: &str| -> Output {
        run(&[
            "rules".as_ref(),
            "query".as_ref(),
            rules("demo-4arm").as_os_str(),
            "--map".as_ref(),
            map("demo-4arm").as_os_str(),
            "--lane".as_ref(),
            lane.as_ref(),
            "--class".as_ref(),
            class.as_ref(),
            "--at".as_ref(),
            at.as_ref(),
        ])
    };
    // A school Tuesday, 07:30 in Beijing: the north arm's school zone applies to cars.
    let out = args("top0A0_0", "car", "2026-09-08T07:30:00+08:00");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["speed_limit_kmh"], 30);
    assert_eq!(v["next_change"], "2026-09-08T09:00:00+08:00");
    let rules: Vec<&str> = v["effects"].as_array().unwrap().iter().map(|e| e["rule"].as_str().unwrap()).collect();
    assert!(rules.contains(&"school-zone-north-30"), "{rules:?}");

    // The same lane on a Saturday: the base limit.
    let v: serde_json::Value =
        serde_json::from_slice(&args("top0A0_0", "car", "2026-09-12T07:30:00+08:00").stdout).unwrap();
    assert_eq!(v["speed_limit_kmh"], 50);

    // No left turn from the west on weekday mornings, except buses.
    let left = |class: &str| -> serde_json::Value {
        let v: serde_json::Value =
            serde_json::from_slice(&args("left0A0.110.00_2", class, "2026-09-08T08:00:00+08:00").stdout).unwrap();
        v["effects"].as_array().unwrap().iter().find(|e| e["kind"] == "turn").cloned().unwrap_or_default()
    };
    assert_eq!(left("car")["allowed"], false);
    assert_eq!(left("bus"), serde_json::Value::Null);

    // Usage errors exit 2.
    assert_eq!(args("no-such-lane", "car", "2026-09-08T07:30:00+08:00").status.code(), Some(2));
    assert_eq!(args("top0A0_0", "hovercraft", "2026-09-08T07:30:00+08:00").status.code(), Some(2));
    assert_eq!(args("top0A0_0", "car", "yesterday").status.code(), Some(2));
}
