//! `cloud-control map ...`: import and inspect HD maps (SUMO `.net.xml[.gz]`, OpenDRIVE `.xodr`,
//! Lanelet2 `.osm`, and corridor's own `.hdmap.json`).
//!
//! `import` converts a source map into corridor's JSON form (what the cloud serves by version);
//! `inspect` prints one JSON object with the counts and the content hash. Warnings from the
//! importer (what was skipped, and why) go to stderr, one per line.

use anyhow::{bail, Context};
use clap::Subcommand;
use corridor_hdmap::{load_path, ImportOptions, Imported};
use corridor_model::GeoPoint;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Map subcommands.
#[derive(Debug, Subcommand)]
pub enum MapCommand {
    /// Import a map (format from the extension) and write corridor's JSON form.
    Import {
        /// The source map: .net.xml, .net.xml.gz, .xodr, .osm (or .hdmap.json).
        file: PathBuf,
        /// Where to write the imported map (default: FILE with its extension replaced by `.hdmap.json`).
        #[arg(long)]
        out: Option<PathBuf>,
        /// WGS84 origin `LAT,LON` (degrees) for files without a geo reference.
        #[arg(long, value_parser = parse_origin)]
        origin: Option<GeoPoint>,
    },
    /// Print one JSON object: lanes, connections, signal_groups, crosswalks, junctions, hash, ...
    Inspect {
        /// The map file.
        file: PathBuf,
        /// WGS84 origin `LAT,LON` (degrees) for files without a geo reference.
        #[arg(long, value_parser = parse_origin)]
        origin: Option<GeoPoint>,
    },
}

fn parse_origin(s: &str) -> Result<GeoPoint, String> {
    let (lat, lon) = s.split_once(',').ok_or("expected LAT,LON (degrees), e.g. 39.795,116.506")?;
    let lat: f64 = lat.trim().parse().map_err(|_| format!("latitude `{lat}` is not a number"))?;
    let lon: f64 = lon.trim().parse().map_err(|_| format!("longitude `{lon}` is not a number"))?;
    if !(lat.is_finite() && lon.is_finite() && lat.abs() <= 90.0 && lon.abs() <= 180.0) {
        return Err(format!("{lat},{lon} is not a WGS84 position"));
    }
    Ok(GeoPoint::new(lat, lon))
}

fn import(file: &Path, origin: Option<GeoPoint>) -> anyhow::Result<Imported> {
    let imported = load_path(file, &ImportOptions { origin })?;
    for w in &imported.report.warnings {
        eprintln!("warning: {w}");
    }
    Ok(imported)
}

fn default_out(file: &Path) -> PathBuf {
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = [".net.xml.gz", ".net.xml", ".xodr", ".osm", ".hdmap.json", ".json"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext))
        .unwrap_or(&name)
        .to_owned();
    file.with_file_name(format!("{stem}.hdmap.json"))
}

fn summary_json(imported: &Imported, file: &Path) -> serde_json::Value {
    let map = &imported.map;
    let mut v = serde_json::to_value(map.summary()).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("file".into(), file.display().to_string().into());
        o.insert("format".into(), serde_json::to_value(map.source_format).unwrap_or_default());
        o.insert("origin".into(), serde_json::to_value(map.origin).unwrap_or_default());
        o.insert("warnings".into(), imported.report.warnings.len().into());
    }
    v
}

/// Runs a map subcommand.
pub fn run(cmd: MapCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        MapCommand::Import { file, out, origin } => {
            let imported = import(&file, origin)?;
            let out = out.unwrap_or_else(|| default_out(&file));
            if out == file {
                bail!("refusing to overwrite the source file {}", file.display());
            }
            std::fs::write(&out, imported.map.to_json()).with_context(|| format!("writing {}", out.display()))?;
            let mut v = summary_json(&imported, &file);
            if let Some(o) = v.as_object_mut() {
                o.insert("out".into(), out.display().to_string().into());
            }
            println!("{v}");
            Ok(ExitCode::SUCCESS)
        }
        MapCommand::Inspect { file, origin } => {
            let imported = import(&file, origin)?;
            println!("{}", summary_json(&imported, &file));
            Ok(ExitCode::SUCCESS)
        }
    }
}
