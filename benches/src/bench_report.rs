//! `bench-report`: turns criterion's results and the demo's summary into BENCHMARKS.md.
//!
//! Every figure is reported as a median and, where the bench has a baseline
//! measured in the same run, as a ratio to it (these machines are shared and
//! noisy: absolute numbers drift, ratios much less). Run through
//! `benches/run.sh`, which runs the benches first.

use anyhow::Context;
use clap::Parser;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Writes BENCHMARKS.md.
#[derive(Debug, Parser)]
struct Cli {
    /// criterion's output directory (target/criterion).
    #[arg(long, default_value = "target/criterion")]
    criterion: PathBuf,
    /// A file with the demo's output (optional).
    #[arg(long)]
    demo: Option<PathBuf>,
    /// Latency-harness JSON reports as `LABEL=FILE` (repeatable), e.g. `unpinned=target/latency.json`.
    #[arg(long)]
    latency: Vec<String>,
    /// Scale-harness JSON reports as `LABEL=FILE` (repeatable).
    #[arg(long)]
    scale: Vec<String>,
    /// Knee searches' JSON reports (`scale --find-knee`, repeatable).
    #[arg(long)]
    knee: Vec<PathBuf>,
    /// Latency-harness JSON reports per transport variant as `LABEL=FILE` (repeatable).
    #[arg(long)]
    transport: Vec<String>,
    /// Cargo.lock, for the zenoh version.
    #[arg(long, default_value = "Cargo.lock")]
    lock: PathBuf,
    /// Where to write.
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
}

/// Bench id -> (baseline bench id, what the baseline is).
const BASELINES: &[(&str, &str, &str)] = &[
    ("codec/state200_roundtrip", "codec/state200_roundtrip_bitcode", "bitcode 0.6 on the same state"),
    ("codec/detections200_roundtrip", "codec/state200_roundtrip", "the 200-object state round trip"),
    ("fusion/step_4x100_200tracks", "fusion/step_4x25_50tracks", "the 4x25 -> 50-track step (growth of cost)"),
    ("fusion/step_4x500_1000tracks", "fusion/step_4x25_50tracks", "the 4x25 -> 50-track step (growth of cost)"),
];

/// Targets from the issues: bench id -> (limit in ns, text).
const TARGETS: &[(&str, f64, &str)] = &[
    ("codec/state200_roundtrip", 20_000.0, "< 20 us"),
    ("fusion/step_4x100_200tracks", 500_000.0, "< 0.5 ms"),
    ("hdmap/match_200lanes", 1_000.0, "< 1 us"),
    ("rules/query", 1_000.0, "< 1 us"),
    ("sdk/objects_in_ego_200", 5_000.0, "< 5 us"),
    ("sdk/my_lane_query", 2_000.0, "< 2 us"),
];

fn collect(dir: &Path, out: &mut BTreeMap<String, f64>) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
    for e in entries {
        let p = e?.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "new") {
                let bench = p.join("benchmark.json");
                let est = p.join("estimates.json");
                if bench.exists() && est.exists() {
                    let b: serde_json::Value = serde_json::from_slice(&std::fs::read(&bench)?)
                        .with_context(|| format!("{}", bench.display()))?;
                    let e: serde_json::Value =
                        serde_json::from_slice(&std::fs::read(&est)?).with_context(|| format!("{}", est.display()))?;
                    if let (Some(id), Some(median)) = (b["full_id"].as_str(), e["median"]["point_estimate"].as_f64()) {
                        out.insert(id.to_owned(), median);
                    }
                }
            } else {
                collect(&p, out)?;
            }
        }
    }
    Ok(())
}

fn human(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} us", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

fn load(spec: &str) -> anyhow::Result<(String, serde_json::Value)> {
    let (label, file) = spec.split_once('=').unwrap_or(("run", spec));
    if !Path::new(file).exists() {
        return Ok((label.to_owned(), serde_json::json!({ "error": format!("not run ({file} missing)") })));
    }
    let v = serde_json::from_slice(&std::fs::read(file).with_context(|| format!("reading {file}"))?)
        .with_context(|| format!("parsing {file}"))?;
    Ok((label.to_owned(), v))
}

/// A JSON number as text, `?` when absent.
fn num(v: &serde_json::Value, k: &str) -> String {
    v[k].as_f64().map(|x| format!("{x}")).unwrap_or_else(|| "?".into())
}

/// The cost of trust (`latency --signed`): the signed e2e against the unsigned e2e of the same
/// run (both with the demo map), and the vehicle's verifier counters; "not run" for a file
/// without the `signed_*` keys.
fn signed_table(md: &mut String, specs: &[String]) -> anyhow::Result<()> {
    writeln!(
        md,
        "\nSigned (`--signed`): the RSU signs every state (ECDSA P-256), the vehicle verifies every one with"
    )?;
    writeln!(
        md,
        "`TrustVerifier` (fresh root made by the harness); both this run and the unsigned e2e above run with the"
    )?;
    writeln!(md, "demo map. Ratio = signed e2e / unsigned e2e of the same run. Microseconds.\n")?;
    writeln!(md, "| placement | unsigned e2e p50 | unsigned e2e p99 | signed e2e p50 | signed e2e p99 | ratio p50 | ratio p99 | verified | rejected | held |")?;
    writeln!(md, "|---|---|---|---|---|---|---|---|---|---|")?;
    for spec in specs {
        let (label, v) = load(spec)?;
        if v.get("signed_e2e_p50_us").is_none() {
            let why = v["error"].as_str().unwrap_or("not run (no `signed_*` keys: run latency with --signed)");
            writeln!(md, "| {label} | {why} | | | | | | | | |")?;
            continue;
        }
        writeln!(
            md,
            "| {label} | {} | {} | {} | {} | {}x | {}x | {} | {} | {} |",
            num(&v, "e2e_p50_us"),
            num(&v, "e2e_p99_us"),
            num(&v, "signed_e2e_p50_us"),
            num(&v, "signed_e2e_p99_us"),
            num(&v, "signed_ratio_p50"),
            num(&v, "signed_ratio_p99"),
            num(&v, "signed_verified"),
            num(&v, "signed_rejected"),
            num(&v, "signed_held")
        )?;
    }
    Ok(())
}

fn scale_row(md: &mut String, label: &str, v: &serde_json::Value) -> anyhow::Result<()> {
    if let Some(e) = v["error"].as_str() {
        writeln!(md, "| {label} | {e} | | | | | | | |")?;
        return Ok(());
    }
    let hz = v["min_rsu_hz"].as_f64().unwrap_or(0.0);
    let del = v["delivery_ratio_min"].as_f64().unwrap_or(0.0);
    let p99 = v["e2e_p99_us"].as_f64().unwrap_or(f64::MAX);
    writeln!(
        md,
        "| {label} | {} x {} + {} | {hz} ({:.3}x) | {del} ({:.4}x) | {} | {:.0} ({:.2}x) | {} | {} | {} |",
        num(v, "rsus"),
        num(v, "objects"),
        num(v, "vehicles"),
        hz / 9.9,
        del / 0.999,
        num(v, "e2e_p50_us"),
        p99,
        p99 / 50_000.0,
        num(v, "cpu_percent"),
        num(v, "peak_rss_mib"),
        if v["holds"].as_bool().unwrap_or(false) { "yes" } else { "**no**" }
    )?;
    Ok(())
}

const SCALE_HEAD: &str = "| run | RSUs x objects + vehicles | min RSU Hz (/ 9.9 target) | min delivery (/ 0.999 target) | p50 us | p99 us (/ 50 ms limit) | CPU % (100 = 1 vCPU) | peak RSS MiB | holds |\n|---|---|---|---|---|---|---|---|---|";

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut results = BTreeMap::new();
    collect(&cli.criterion, &mut results)?;
    anyhow::ensure!(!results.is_empty(), "no criterion results under {}: run benches/run.sh", cli.criterion.display());
    let lock = std::fs::read_to_string(&cli.lock).with_context(|| format!("reading {}", cli.lock.display()))?;
    let zenoh = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"zenoh\"\n"))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = ")))
        .unwrap_or("?")
        .trim_matches('"')
        .to_owned();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name").map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned()))
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let date = std::process::Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d %H:%M UTC")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();

    let mut md = String::new();
    writeln!(md, "# corridor benchmarks\n")?;
    writeln!(md, "Generated by `benches/run.sh` (do not edit by hand).\n")?;
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let loadavg = loadavg.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
    writeln!(md, "- date: {date}\n- cpu: {cpu} ({cores} vCPUs, shared and noisy)\n- zenoh: {zenoh}")?;
    writeln!(
        md,
        "- load average (1, 5, 15 min) when the report was written: {loadavg} (other jobs share the machine;"
    )?;
    writeln!(md, "  each harness JSON records its own `loadavg_*`)\n")?;
    writeln!(md, "Medians from criterion. Ratios compare with a baseline measured in the same run.\n")?;
    writeln!(md, "| bench | median | target | baseline | ratio to baseline |")?;
    writeln!(md, "|---|---|---|---|---|")?;
    for (id, median) in &results {
        let target = TARGETS
            .iter()
            .find(|t| t.0 == id)
            .map(|t| format!("{} {}", t.2, if *median < t.1 { "met" } else { "**missed**" }))
            .unwrap_or_default();
        let (base, ratio) = match BASELINES.iter().find(|b| b.0 == id) {
            Some((_, b, what)) => match results.get(*b) {
                Some(bm) => (what.to_string(), format!("{:.2}x", median / bm)),
                None => (what.to_string(), "n/a".into()),
            },
            None => (String::new(), String::new()),
        };
        writeln!(md, "| `{id}` | {} | {target} | {base} | {ratio} |", human(*median))?;
    }
    if !cli.latency.is_empty() {
        writeln!(md, "\n## End-to-end latency (`benches/src/latency.rs`)\n")?;
        writeln!(md, "Raw Zenoh 1 KiB ping-pong round trip (the floor) and corridor capture -> vehicle callback")?;
        writeln!(md, "(200 objects x 4 sensors at 10 Hz through a roadside in its own session), back to back in one")?;
        writeln!(md, "process with the same CPU placement. Microseconds.\n")?;
        writeln!(md, "| placement | raw p50 | raw p90 | raw p99 | e2e p50 | e2e p90 | e2e p99 | fusion p50 | ratio p50 | ratio p90 | ratio p99 |")?;
        writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|")?;
        for spec in &cli.latency {
            let (label, file) = spec.split_once('=').unwrap_or(("run", spec.as_str()));
            let v: serde_json::Value =
                serde_json::from_slice(&std::fs::read(file).with_context(|| format!("reading {file}"))?)
                    .with_context(|| format!("parsing {file}"))?;
            let f = |k: &str| v[k].as_f64().map(|x| format!("{x}")).unwrap_or_else(|| "?".into());
            writeln!(
                md,
                "| {label} (cpus {}) | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                v["cpus_allowed"].as_str().unwrap_or("?"),
                f("raw_p50_us"),
                f("raw_p90_us"),
                f("raw_p99_us"),
                f("e2e_p50_us"),
                f("e2e_p90_us"),
                f("e2e_p99_us"),
                f("fusion_p50_us"),
                f("ratio_p50"),
                f("ratio_p90"),
                f("ratio_p99")
            )?;
        }
    }
    if !cli.latency.is_empty() {
        writeln!(
            md,
            "\nIssue #9's bound: e2e p99 <= 1.3 x raw p99 + fusion p99, and below 2 ms. Beside it, the floor with the"
        )?;
        writeln!(
            md,
            "threads idle between messages as corridor's are: the same ping-pong paced at the state rate (one round"
        )?;
        writeln!(md, "trip per 100 ms, `raw_paced_*`), and e2e as a ratio to that floor.\n")?;
        writeln!(md, "| placement | bound (us) | e2e p99 | met | paced raw p50 | paced raw p90 | paced raw p99 | e2e / paced p50 | e2e / paced p90 | e2e / paced p99 |")?;
        writeln!(md, "|---|---|---|---|---|---|---|---|---|---|")?;
        for spec in &cli.latency {
            let (label, v) = load(spec)?;
            let met = match v["target_met"].as_bool() {
                Some(true) => "yes",
                Some(false) => "no",
                None => "?",
            };
            writeln!(
                md,
                "| {label} | {} | {} | {met} | {} | {} | {} | {} | {} | {} |",
                num(&v, "target_p99_us"),
                num(&v, "e2e_p99_us"),
                num(&v, "raw_paced_p50_us"),
                num(&v, "raw_paced_p90_us"),
                num(&v, "raw_paced_p99_us"),
                num(&v, "ratio_paced_p50"),
                num(&v, "ratio_paced_p90"),
                num(&v, "ratio_paced_p99")
            )?;
        }
        writeln!(
            md,
            "\nThe RSU in a separate process (`--split`: sensors and vehicle in the harness process, the RSU"
        )?;
        writeln!(md, "in a child; every hop crosses a process boundary), ratios to the same run's raw floor:\n")?;
        writeln!(md, "| placement | split e2e p50 | split e2e p90 | split e2e p99 | ratio p50 | ratio p99 |")?;
        writeln!(md, "|---|---|---|---|---|---|")?;
        for spec in &cli.latency {
            let (label, v) = load(spec)?;
            writeln!(
                md,
                "| {label} | {} | {} | {} | {} | {} |",
                num(&v, "split_e2e_p50_us"),
                num(&v, "split_e2e_p90_us"),
                num(&v, "split_e2e_p99_us"),
                num(&v, "split_ratio_p50"),
                num(&v, "split_ratio_p99")
            )?;
        }
        signed_table(&mut md, &cli.latency)?;
        writeln!(
            md,
            "\nWhere the time goes (p50 / p99, us, from the state's own stamps; in-process run). `capture -> ingest`:"
        )?;
        writeln!(
            md,
            "sensor encode, zenoh hop, RSU callback; `ingest -> fused`: hand-off to the fusion thread and the"
        )?;
        writeln!(
            md,
            "fusion step; `fused -> callback`: state encode, put, zenoh hop, SDK decode. The fusion step and the"
        )?;
        writeln!(md, "state's encode and decode are also timed alone.\n")?;
        writeln!(md, "| placement | capture -> ingest | ingest -> fused | fused -> callback | fusion alone | state encode | state decode | split: capture -> ingest | split: ingest -> fused | split: fused -> callback |")?;
        writeln!(md, "|---|---|---|---|---|---|---|---|---|---|")?;
        for spec in &cli.latency {
            let (label, v) = load(spec)?;
            let pair = |k: &str| format!("{} / {}", num(&v, &format!("{k}_p50_us")), num(&v, &format!("{k}_p99_us")));
            writeln!(
                md,
                "| {label} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                pair("cap_ingest"),
                pair("ingest_fused"),
                pair("fused_cb"),
                pair("fusion"),
                pair("state_encode"),
                pair("state_decode"),
                pair("split_cap_ingest"),
                pair("split_ingest_fused"),
                pair("split_fused_cb")
            )?;
        }
    }
    if !cli.transport.is_empty() {
        writeln!(md, "\n## Transports (`latency --transport X`, docs/transports.md)\n")?;
        writeln!(
            md,
            "Each row is one run of the latency harness (unpinned): its own raw floor over the same transport"
        )?;
        writeln!(
            md,
            "and configuration, then corridor in-process and split. Ratios: e2e to the row's raw floor, and the"
        )?;
        writeln!(md, "row's figure to the `tcp` row's (the default presets). Microseconds.\n")?;
        writeln!(md, "| transport | raw p50 | raw p99 | paced raw p50 | e2e p50 | e2e p99 | split e2e p50 | split e2e p99 | e2e p50 vs tcp | split p50 vs tcp | split p99 vs tcp |")?;
        writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|")?;
        let rows: Vec<(String, serde_json::Value)> =
            cli.transport.iter().map(|s| load(s)).collect::<anyhow::Result<_>>()?;
        let tcp = rows.iter().find(|r| r.0 == "tcp").map(|r| r.1.clone()).unwrap_or_default();
        for (label, v) in &rows {
            let vs = |k: &str| match (v[k].as_f64(), tcp[k].as_f64()) {
                (Some(x), Some(y)) if y > 0.0 => format!("{:.2}x", x / y),
                _ => "?".into(),
            };
            if v["error"].is_string() {
                writeln!(md, "| {label} | {} | | | | | | | | | |", v["error"].as_str().unwrap_or(""))?;
                continue;
            }
            writeln!(
                md,
                "| {label} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                num(v, "raw_p50_us"),
                num(v, "raw_p99_us"),
                num(v, "raw_paced_p50_us"),
                num(v, "e2e_p50_us"),
                num(v, "e2e_p99_us"),
                num(v, "split_e2e_p50_us"),
                num(v, "split_e2e_p99_us"),
                vs("e2e_p50_us"),
                vs("split_e2e_p50_us"),
                vs("split_e2e_p99_us")
            )?;
        }
    }
    if !cli.scale.is_empty() || !cli.knee.is_empty() {
        writeln!(md, "\n## Scale (`benches/src/scale.rs`)\n")?;
        writeln!(
            md,
            "N RSUs (real `RsuService` pipeline, 4 sensors each) x M objects at 10 Hz, V vehicles (SDK) each on a"
        )?;
        writeln!(
            md,
            "route of 4 intersections, one process, RSUs and vehicles clients of one zenoh router on loopback."
        )?;
        writeln!(
            md,
            "Each figure with its ratio to the target in brackets (>= 1x meets it for rate and delivery, < 1x for p99)."
        )?;
        writeln!(md, "Delivery counts a state delivered if the vehicle got it or a newer one of the same RSU by the")?;
        writeln!(md, "next publish + 50 ms (latest wins; exact definition in the module doc).\n")?;
        writeln!(md, "{SCALE_HEAD}")?;
        for spec in &cli.scale {
            let (label, v) = load(spec)?;
            scale_row(&mut md, &label, &v)?;
        }
        for k in cli.knee.iter().filter(|k| k.exists()) {
            let v: serde_json::Value =
                serde_json::from_slice(&std::fs::read(k).with_context(|| format!("reading {}", k.display()))?)
                    .with_context(|| format!("parsing {}", k.display()))?;
            let over_vehicles = v["knee_over"].as_str() == Some("vehicles");
            writeln!(md)?;
            writeln!(md, "{SCALE_HEAD}")?;
            for t in v["trials"].as_array().into_iter().flatten() {
                scale_row(&mut md, &format!("knee trial ({} s)", num(&v, "knee_seconds")), t)?;
            }
            let fixed = if over_vehicles {
                format!("N = {}, M = {}", num(&v, "rsus"), num(&v, "objects"))
            } else {
                format!("M = {}, V = {}", num(&v, "objects"), num(&v, "vehicles"))
            };
            let what = if over_vehicles { "V" } else { "N" };
            writeln!(
                md,
                "\n**Knee over {what}** ({fixed}; {}): **{what} = {}** holds; first failing {what} tried: {} (resolution {}).",
                v["criteria"].as_str().unwrap_or(""),
                if v["knee"].is_null() { num(&v, "knee_rsus") } else { num(&v, "knee") },
                v["knee_first_failing"]
                    .as_u64()
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| format!("none up to the search limit ({})", num(&v, "knee_max"))),
                num(&v, "resolution")
            )?;
        }
    }
    if let Some(demo) = &cli.demo {
        let text = std::fs::read_to_string(demo).with_context(|| format!("reading {}", demo.display()))?;
        writeln!(md, "\n## Demo (`cargo run --release -- demo --seconds 20 --quiet`)\n")?;
        writeln!(md, "Latency `latency_p50_us` runs from the simulated sensor's capture (it includes the simulated")?;
        writeln!(md, "sensor latency of 20-90 ms and the fusion's reorder wait); `pipeline_*` runs from the RSU's")?;
        writeln!(md, "receipt of the newest fused frame to the vehicle callback.\n")?;
        writeln!(md, "```text\n{}\n```", text.trim())?;
    }
    std::fs::write(&cli.out, md).with_context(|| format!("writing {}", cli.out.display()))?;
    println!("wrote {} with {} benches", cli.out.display(), results.len());
    Ok(())
}
