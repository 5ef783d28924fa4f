//! `corridor-sim run --scenario NAME|PATH --out DIR`: a scenario file run end to end.
//!
//! The scenario's map is imported with `corridor_hdmap::load_path`, traffic runs on its lanes
//! ([`crate::mapworld`]), and cloud-control (in-process), one RSU per signalized junction (the
//! scenario's sensors, or the acceptance layout) and one observing SDK vehicle run over zenoh
//! exactly as in the demo ([`crate::demo::run_system`]). The cloud serves the map and the rules
//! file beside it (`rules.toml`, if there is one); the RSUs fetch, verify and cache them, match
//! objects to lanes and upload their events. The scenario's sensor faults are injected at the
//! sensors; `cloud_down` and `rsu_restart` stop and start the cloud and RSUs
//! ([`crate::control`]). Output: `tracks.csv`, `gt.csv` (frame 0 = the end of the warm-up,
//! map-frame metres, within 60 m of a junction centre) and `report.json` (with `cloud` and
//! `faults` sections).

use anyhow::Context;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;

use crate::demo::{run_system, ControlPlane, DemoReport, IntersectionSpec, SystemSpec};
use crate::mapworld::MapWorld;
use crate::scenario::Scenario;
use crate::sensors::default_layout;

/// How to run a scenario.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Override the scenario's duration, s.
    pub seconds: Option<f64>,
    /// Output directory.
    pub out: Option<PathBuf>,
    /// Live progress line.
    pub progress: bool,
}

/// Key-safe id from a junction id.
fn key_safe(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c.to_ascii_lowercase() } else { '-' })
        .collect()
}

/// Runs a scenario and scores it.
pub async fn run_scenario(sc: &Scenario, opts: RunOptions) -> anyhow::Result<DemoReport> {
    let file = sc.map.display().to_string();
    let imported = corridor_hdmap::load_path(&sc.map, &corridor_hdmap::ImportOptions::default())
        .with_context(|| format!("importing the map of scenario `{}`", sc.name))?;
    let bytes = std::fs::read(&sc.map).with_context(|| format!("reading {file}"))?;
    let xml = String::from_utf8(bytes.clone()).with_context(|| format!("{file} is not UTF-8 XML"))?;
    // the rules beside the map, if the map ships them, are published with it
    let rules_path = sc.map.with_file_name("rules.toml");
    let rules = match std::fs::read_to_string(&rules_path) {
        Ok(text) => Some(("rules.toml".to_owned(), text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => anyhow::bail!("reading {}: {e}", rules_path.display()),
    };
    let world = MapWorld::new(&file, &imported.map, &xml, sc.traffic.clone(), ChaCha8Rng::seed_from_u64(sc.seed))?;
    let mut intersections = Vec::new();
    for j in world.junction_ids() {
        let sensors = match sc.rsus.iter().find(|r| &r.junction == j) {
            Some(r) => r.sensors.iter().map(|s| (s.id.clone(), s.profile.clone(), s.extrinsics)).collect(),
            None if sc.rsus.is_empty() => default_layout(),
            None => anyhow::bail!(
                "scenario `{}`: junction `{j}` of {file} has no [[rsu]] (list every signalized junction, or none)",
                sc.name
            ),
        };
        intersections.push(IntersectionSpec {
            junction: j.clone(),
            intersection: format!("ix-{}", key_safe(j)),
            rsu: format!("rsu-{}", key_safe(j)),
            sensors,
        });
    }
    for r in &sc.rsus {
        anyhow::ensure!(
            world.junction_ids().contains(&r.junction),
            "scenario `{}`: [[rsu]] junction `{}` is not a signalized junction of {file} (those are: {})",
            sc.name,
            r.junction,
            world.junction_ids().join(", ")
        );
    }
    let seconds = opts.seconds.unwrap_or(sc.duration_s);
    let plans = (0..intersections.len()).map(|k| world.plan(k).clone()).collect();
    let file_name = sc
        .map
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| anyhow::anyhow!("{file}: no file name"))?;
    anyhow::ensure!(seconds > 0.0 && seconds.is_finite(), "--seconds must be a positive number, got {seconds}");
    run_system(SystemSpec {
        traffic: Box::new(world),
        intersections,
        faults: sc.faults.clone(),
        map_label: format!("map/{}", imported.map.version().to_hex()),
        seconds,
        warmup_s: sc.warmup_s,
        vehicles: 1,
        seed: sc.seed,
        out: opts.out,
        progress: opts.progress,
        scenario: Some(sc.name.clone()),
        control: Some(ControlPlane {
            map_file: (file_name, bytes),
            map: imported.map,
            rules,
            rollout_at_s: seconds,
            rollout_rules: None,
            plans,
        }),
    })
    .await
}
