//! `cloud-control rules ...`: check and query rule files against a map.
//!
//! Thin IO around `corridor-rules`: read the files, load the map through
//! `corridor-hdmap`, hand the text to the rules core, print. Exit codes:
//! 0 valid / answered, 1 the rules file is invalid (diagnostics on stderr),
//! 2 anything else (missing file, unreadable map, unknown lane, bad time).

use anyhow::{anyhow, Context};
use clap::Subcommand;
use corridor_model::{LaneId, Timestamp};
use corridor_rules::{CompiledRules, Diagnostics, MapFacts, VehicleClass};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Rules subcommands.
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Validate a rules file against a map: prints a one-line summary (exit 0) or every error with
    /// its file:line:col on stderr (exit 1).
    Check {
        /// The rules file (e.g. maps/demo-4arm/rules.toml).
        rules: PathBuf,
        /// The map the rules are for (.net.xml, .xodr, .osm or corridor JSON).
        #[arg(long)]
        map: PathBuf,
    },
    /// Print, as JSON, the effects in force for one lane, class and time, and when they next change.
    Query {
        /// The rules file.
        rules: PathBuf,
        /// The map the rules are for.
        #[arg(long)]
        map: PathBuf,
        /// Lane id, as in the map.
        #[arg(long)]
        lane: String,
        /// Road user class: car, bus, truck, taxi, cyclist, pedestrian, emergency, automated.
        #[arg(long)]
        class: String,
        /// The instant, RFC 3339 (e.g. 2026-09-08T07:30:00+08:00).
        #[arg(long)]
        at: String,
    },
}

/// Runs a rules subcommand.
pub fn run(cmd: RulesCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        RulesCommand::Check { rules, map } => check(&rules, &map),
        RulesCommand::Query { rules, map, lane, class, at } => query(&rules, &map, &lane, &class, &at),
    }
}

fn load_facts(map: &Path) -> anyhow::Result<MapFacts> {
    let imported = corridor_hdmap::load_path(map, &Default::default())
        .with_context(|| format!("loading map {}", map.display()))?;
    Ok(corridor_rules::hdmap::facts(&imported.map))
}

fn read_rules(rules: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(rules).with_context(|| format!("reading rules file {}", rules.display()))
}

fn report(d: &Diagnostics) -> ExitCode {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    eprint!("{}", d.render(color));
    ExitCode::from(1)
}

fn check(rules: &Path, map: &Path) -> anyhow::Result<ExitCode> {
    let facts = load_facts(map)?;
    let text = read_rules(rules)?;
    let name = rules.display().to_string();
    match corridor_rules::compile(&text, &name, &facts) {
        Ok(c) => {
            let set = c.rule_set();
            println!(
                "{name}: ok: {} rules over {} lanes, time zone {}, rules version {}, map version {}",
                set.rules.len(),
                set.lanes.len(),
                set.time_zone,
                c.version().short(),
                c.map_version().short()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(d) => Ok(report(&d)),
    }
}

fn query(rules: &Path, map: &Path, lane: &str, class: &str, at: &str) -> anyhow::Result<ExitCode> {
    let class: VehicleClass = class.parse().map_err(|e| anyhow!("--class: {e}"))?;
    let at_ts: jiff::Timestamp = at.parse().with_context(|| format!("--at `{at}` is not an RFC 3339 time"))?;
    let at_ns = i64::try_from(at_ts.as_nanosecond()).map_err(|_| anyhow!("--at `{at}` is out of range"))?;
    let facts = load_facts(map)?;
    let text = read_rules(rules)?;
    let compiled: CompiledRules = match corridor_rules::compile(&text, &rules.display().to_string(), &facts) {
        Ok(c) => c,
        Err(d) => return Ok(report(&d)),
    };
    let lane = LaneId::new(lane);
    let t = Timestamp::from_unix_ns(at_ns);
    let effects = compiled.applicable(&lane, class, t)?;
    let next = compiled.next_change(&lane, class, t)?;
    let tz = compiled.time_zone().clone();
    // RFC 3339 with the intersection's UTC offset, e.g. 2026-09-08T09:00:00+08:00.
    let rfc = |t: Timestamp| {
        jiff::Timestamp::from_nanosecond(i128::from(t.unix_ns))
            .map(|ts| ts.to_zoned(tz.clone()).strftime("%Y-%m-%dT%H:%M:%S%.f%:z").to_string())
            .ok()
    };
    let local = at_ts.to_zoned(tz.clone());
    let out = serde_json::json!({
        "lane": lane.as_str(),
        "class": class.as_str(),
        "at": rfc(t),
        "time_zone": local.time_zone().iana_name(),
        "rules_version": compiled.version().to_hex(),
        "map_version": compiled.map_version().to_hex(),
        "effects": effects.applied(),
        "speed_limit_kmh": effects.speed_limit_kmh(),
        "next_change": next.and_then(rfc),
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(ExitCode::SUCCESS)
}
