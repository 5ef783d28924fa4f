//! `corridor-sim run --scenario NAME|PATH --out DIR`: a scenario file run end to end.
//!
//! The scenario's map is imported with `corridor_hdmap::load_path`, traffic runs on its lanes
//! ([`crate::mapworld`]), one RSU per signalized junction (the scenario's sensors, or the
//! acceptance layout) and one observing SDK vehicle run over zenoh exactly as in the demo
//! ([`crate::demo::run_system`]), with the scenario's faults injected at the sensors. Output:
//! `tracks.csv`, `gt.csv` (frame 0 = the end of the warm-up, map-frame metres, within 60 m of a
//! junction centre) and `report.json`.

use anyhow::Context;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;

use crate::demo::{run_system, DemoReport, IntersectionSpec, SystemSpec};
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
    let xml = std::fs::read_to_string(&sc.map).with_context(|| format!("reading {file}"))?;
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
    anyhow::ensure!(seconds > 0.0 && seconds.is_finite(), "--seconds must be a positive number, got {seconds}");
    run_system(SystemSpec {
        traffic: Box::new(world),
        intersections,
        faults: sc.faults.clone(),
        map_label: format!("scenario-map/{}", imported.map.version().to_hex()),
        seconds,
        warmup_s: sc.warmup_s,
        vehicles: 1,
        seed: sc.seed,
        out: opts.out,
        progress: opts.progress,
        scenario: Some(sc.name.clone()),
        control: None,
    })
    .await
}
