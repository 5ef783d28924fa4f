//! Scenario files: what `corridor-sim run --scenario NAME|PATH` runs.
//!
//! A scenario is a TOML file (the format is documented in `docs/scenarios.md`): the map, the
//! RSUs and their sensors, the traffic demand and turning ratios, duration, seed and scripted
//! faults. Built-in scenarios live in `simulations/scenarios/` and are compiled into the binary
//! ([`builtin`]). Parsing keeps the byte span of every checked value (`serde_spanned`), so a
//! bad value is reported as `file:line:col: field: message`.

use serde::Deserialize;
use serde_spanned::Spanned;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::mapworld::{Demand, MapWorldConfig};
use crate::sensors::{default_layout, SensorProfile};
use corridor_model::SensorExtrinsics;
use nalgebra::Vector3;

/// The built-in scenarios: `(name, TOML text)`.
pub const BUILTIN: [(&str, &str); 5] = [
    ("dense-4arm", include_str!("../scenarios/dense-4arm.toml")),
    ("bus-occlusion", include_str!("../scenarios/bus-occlusion.toml")),
    ("sensor-dropout", include_str!("../scenarios/sensor-dropout.toml")),
    ("clock-skew", include_str!("../scenarios/clock-skew.toml")),
    ("cloud-outage", include_str!("../scenarios/cloud-outage.toml")),
];

/// The text of a built-in scenario.
pub fn builtin(name: &str) -> Option<&'static str> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// A bad scenario file: where and what.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}:{line}:{col}: {field}: {message}")]
pub struct ScenarioError {
    /// The file (or `builtin:NAME`).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// The field (dotted path), or `toml` for syntax errors.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// One sensor of an RSU.
#[derive(Debug, Clone)]
pub struct SensorSpec {
    /// Sensor id (key-safe).
    pub id: String,
    /// Noise and timing profile.
    pub profile: SensorProfile,
    /// Pose in the intersection's ENU frame.
    pub extrinsics: SensorExtrinsics,
}

/// One RSU: a signalized junction of the map and its sensors.
#[derive(Debug, Clone)]
pub struct RsuSpec {
    /// The junction id in the map.
    pub junction: String,
    /// Its sensors.
    pub sensors: Vec<SensorSpec>,
}

/// A scripted fault.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// A sensor publishes nothing in `[from_s, to_s)`.
    SensorDropout {
        /// Sensor id.
        sensor: String,
        /// Junction (None: every RSU with that sensor).
        rsu: Option<String>,
        /// Start, s after the scenario start.
        from_s: f64,
        /// End.
        to_s: f64,
    },
    /// A sensor's clock runs `offset_ms` ahead (negative: behind).
    ClockSkew {
        /// Sensor id.
        sensor: String,
        /// Junction (None: every RSU with that sensor).
        rsu: Option<String>,
        /// Offset, ms.
        offset_ms: f64,
    },
    /// A sensor's false alarms are multiplied by `factor` in `[from_s, to_s)`.
    DetectionFlood {
        /// Sensor id.
        sensor: String,
        /// Junction (None: every RSU with that sensor).
        rsu: Option<String>,
        /// Factor on the false alarms per frame.
        factor: f64,
        /// Start, s.
        from_s: f64,
        /// End, s.
        to_s: f64,
    },
    /// Garbage published on every sensor input key, `rate_hz` messages per second per key.
    MalformedMessages {
        /// Messages per second per sensor key.
        rate_hz: f64,
    },
    /// Cloud-control is stopped in `[from_s, to_s)` and started again on its database: the RSUs
    /// keep publishing on their cached map and rules and queue their events on disk.
    CloudDown {
        /// Stop, s after the scenario start.
        from_s: f64,
        /// Start again.
        to_s: f64,
    },
    /// The RSU of junction `rsu` is stopped at `from_s` and restarted from its on-disk cache at
    /// `to_s`.
    RsuRestart {
        /// The junction whose RSU restarts.
        rsu: String,
        /// Stop, s after the scenario start.
        from_s: f64,
        /// Restart.
        to_s: f64,
    },
}

impl Fault {
    /// The fault's kind as written in scenario files.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::SensorDropout { .. } => "sensor_dropout",
            Fault::ClockSkew { .. } => "clock_skew",
            Fault::DetectionFlood { .. } => "detection_flood",
            Fault::MalformedMessages { .. } => "malformed_messages",
            Fault::CloudDown { .. } => "cloud_down",
            Fault::RsuRestart { .. } => "rsu_restart",
        }
    }

    /// Faults of the control plane (cloud and RSU processes) rather than of the sensors.
    pub fn is_control(&self) -> bool {
        matches!(self, Fault::CloudDown { .. } | Fault::RsuRestart { .. })
    }
}

/// A parsed, checked scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Name (from the file, or its stem).
    pub name: String,
    /// One line about it.
    pub description: String,
    /// The map file, resolved.
    pub map: PathBuf,
    /// Seconds scored (after the warm-up).
    pub duration_s: f64,
    /// Seconds of traffic before the sensors start.
    pub warmup_s: f64,
    /// Seed of traffic and sensors.
    pub seed: u64,
    /// Traffic.
    pub traffic: MapWorldConfig,
    /// RSUs (empty: one per signalized junction with the default layout).
    pub rsus: Vec<RsuSpec>,
    /// Faults.
    pub faults: Vec<Fault>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    name: Option<String>,
    #[serde(default)]
    description: String,
    map: Spanned<String>,
    duration_s: Spanned<f64>,
    warmup_s: Option<Spanned<f64>>,
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    traffic: RawTraffic,
    #[serde(default)]
    rsu: Vec<RawRsu>,
    #[serde(default)]
    fault: Vec<Spanned<RawFault>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTraffic {
    #[serde(default)]
    demand: BTreeMap<String, Spanned<f64>>,
    #[serde(default)]
    turning: BTreeMap<String, Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRsu {
    junction: Spanned<String>,
    #[serde(default)]
    sensor: Vec<RawSensor>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSensor {
    id: Spanned<String>,
    profile: Spanned<String>,
    position_m: Spanned<Vec<f64>>,
    yaw_deg: Spanned<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFault {
    kind: Spanned<String>,
    sensor: Option<Spanned<String>>,
    rsu: Option<Spanned<String>>,
    from_s: Option<Spanned<f64>>,
    to_s: Option<Spanned<f64>>,
    offset_ms: Option<Spanned<f64>>,
    factor: Option<Spanned<f64>>,
    rate_hz: Option<Spanned<f64>>,
}

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn err(&self, span: Range<usize>, field: &str, message: impl Into<String>) -> ScenarioError {
        let (line, col) = line_col(self.text, span.start);
        ScenarioError { file: self.file.to_owned(), line, col, field: field.to_owned(), message: message.into() }
    }

    fn num(&self, v: &Spanned<f64>, field: &str, ok: impl Fn(f64) -> bool, what: &str) -> Result<f64, ScenarioError> {
        let x = *v.get_ref();
        if x.is_finite() && ok(x) {
            Ok(x)
        } else {
            Err(self.err(v.span(), field, format!("{x} is not {what}")))
        }
    }
}

fn line_col(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(at, |i| at - i - 1) + 1;
    (line, col)
}

/// The traffic-light junctions of a map file (what `rsu = ...` may name when no `[[rsu]]` is
/// listed); empty when the map does not import (the runner then reports the map itself).
fn signalized_junctions(map: &Path) -> Vec<String> {
    match corridor_hdmap::load_path(map, &corridor_hdmap::ImportOptions::default()) {
        Ok(imported) => imported
            .map
            .junctions
            .iter()
            .filter(|j| j.kind.starts_with("traffic_light"))
            .map(|j| j.id.clone())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The directory relative map paths are resolved against: the repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Loads a scenario by built-in name or path.
pub fn load(name_or_path: &str) -> Result<Scenario, ScenarioError> {
    if let Some(text) = builtin(name_or_path) {
        return parse(&format!("builtin:{name_or_path}"), text, None);
    }
    let path = Path::new(name_or_path);
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: name_or_path.to_owned(),
        line: 0,
        col: 0,
        field: "file".into(),
        message: format!(
            "cannot read it ({e}); built-in scenarios are: {}",
            BUILTIN.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
        ),
    })?;
    parse(name_or_path, &text, path.parent())
}

/// Parses and checks a scenario. `dir` is the scenario file's directory (map paths are tried
/// relative to it first, then to the repository root, then to the working directory).
pub fn parse(file: &str, text: &str, dir: Option<&Path>) -> Result<Scenario, ScenarioError> {
    let cx = Ctx { file, text };
    let raw: Raw = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let (line, _) = line_col(text, span.start);
        let field = text
            .lines()
            .nth(line.saturating_sub(1))
            .and_then(|l| l.split_once('=').map(|(k, _)| k.trim().to_owned()))
            .filter(|k| !k.is_empty() && !k.starts_with('['))
            .unwrap_or_else(|| "toml".into());
        cx.err(span, &field, e.message().trim().to_owned())
    })?;
    // map
    let map_rel = raw.map.get_ref();
    let candidates: Vec<PathBuf> =
        [dir.map(|d| d.join(map_rel)), Some(repo_root().join(map_rel)), Some(map_rel.into())]
            .into_iter()
            .flatten()
            .collect();
    let map = candidates.iter().find(|p| p.is_file()).cloned().ok_or_else(|| {
        cx.err(
            raw.map.span(),
            "map",
            format!("`{map_rel}` not found (relative to the scenario file or the repository)"),
        )
    })?;
    if corridor_hdmap::format_of(map_rel) != Some(corridor_hdmap::SourceFormat::Sumo) || map_rel.ends_with(".gz") {
        return Err(cx.err(
            raw.map.span(),
            "map",
            format!("`{map_rel}`: this runner needs a plain SUMO .net.xml (it reads the signal programmes)"),
        ));
    }
    let duration_s = cx.num(&raw.duration_s, "duration_s", |x| x > 0.0 && x <= 3600.0, "a duration in (0, 3600] s")?;
    let warmup_s = match &raw.warmup_s {
        Some(w) => cx.num(w, "warmup_s", |x| (0.0..=600.0).contains(&x), "a warm-up in [0, 600] s")?,
        None => 60.0,
    };
    // traffic
    let mut demand = Demand::default();
    for (k, v) in &raw.traffic.demand {
        let field = format!("traffic.demand.{k}");
        let x = cx.num(v, &field, |x| (0.0..=3600.0).contains(&x), "a rate in [0, 3600] per hour")?;
        match k.as_str() {
            "car" => demand.car = x,
            "bus" => demand.bus = x,
            "truck" => demand.truck = x,
            "cyclist" => demand.cyclist = x,
            "pedestrian" => demand.pedestrian = x,
            _ => {
                return Err(cx.err(v.span(), &field, "unknown class (car, bus, truck, cyclist, pedestrian)"));
            }
        }
    }
    let mut turning = MapWorldConfig::default().turning;
    for (k, v) in &raw.traffic.turning {
        let field = format!("traffic.turning.{k}");
        let x = cx.num(v, &field, |x| (0.0..=1.0).contains(&x), "a ratio in [0, 1]")?;
        match k.as_str() {
            "left" => turning[0] = x,
            "straight" => turning[1] = x,
            "right" => turning[2] = x,
            _ => return Err(cx.err(v.span(), &field, "unknown manoeuvre (left, straight, right)")),
        }
    }
    if turning.iter().sum::<f64>() <= 0.0 {
        return Err(cx.err(0..0, "traffic.turning", "the ratios sum to zero"));
    }
    // RSUs
    let mut rsus = Vec::new();
    for (i, r) in raw.rsu.iter().enumerate() {
        let mut sensors = Vec::new();
        if r.sensor.is_empty() {
            sensors = default_layout()
                .into_iter()
                .map(|(id, profile, extrinsics)| SensorSpec { id, profile, extrinsics })
                .collect();
        }
        for (j, s) in r.sensor.iter().enumerate() {
            let f = |name: &str| format!("rsu[{i}].sensor[{j}].{name}");
            if corridor_model::SensorId::new(s.id.get_ref()).is_err() {
                return Err(cx.err(s.id.span(), &f("id"), format!("`{}` is not a key-safe id", s.id.get_ref())));
            }
            if sensors.iter().any(|x: &SensorSpec| &x.id == s.id.get_ref()) {
                return Err(cx.err(s.id.span(), &f("id"), format!("`{}` twice on this RSU", s.id.get_ref())));
            }
            let profile = match s.profile.get_ref().as_str() {
                "lidar" => SensorProfile::lidar(),
                "camera" => SensorProfile::camera(),
                other => {
                    return Err(cx.err(s.profile.span(), &f("profile"), format!("`{other}`: expected lidar or camera")))
                }
            };
            let p = s.position_m.get_ref();
            if p.len() != 3 || p.iter().any(|x| !x.is_finite() || x.abs() > 500.0) {
                return Err(cx.err(s.position_m.span(), &f("position_m"), "expected [x, y, z] in metres within 500 m"));
            }
            let yaw = cx.num(&s.yaw_deg, &f("yaw_deg"), |x| x.abs() <= 360.0, "an angle within +-360 deg")?;
            sensors.push(SensorSpec {
                id: s.id.get_ref().clone(),
                profile,
                extrinsics: SensorExtrinsics::from_pose(Vector3::new(p[0], p[1], p[2]), yaw.to_radians(), 0.0),
            });
        }
        if rsus.iter().any(|x: &RsuSpec| &x.junction == r.junction.get_ref()) {
            return Err(cx.err(r.junction.span(), &format!("rsu[{i}].junction"), "this junction has an RSU already"));
        }
        rsus.push(RsuSpec { junction: r.junction.get_ref().clone(), sensors });
    }
    // faults
    let known_sensors: Vec<String> = if rsus.is_empty() {
        default_layout().into_iter().map(|(id, _, _)| id).collect()
    } else {
        rsus.iter().flat_map(|r| r.sensors.iter().map(|s| s.id.clone())).collect()
    };
    let rsu_junctions = || -> Vec<String> {
        if rsus.is_empty() {
            signalized_junctions(&map)
        } else {
            rsus.iter().map(|x| x.junction.clone()).collect()
        }
    };
    let faults = faults_of(&cx, &raw.fault, &rsu_junctions, Some(&known_sensors))?;
    let name = raw.name.clone().unwrap_or_else(|| {
        Path::new(file)
            .file_stem()
            .map_or_else(|| file.to_owned(), |s| s.to_string_lossy().trim_end_matches(".toml").to_owned())
    });
    Ok(Scenario {
        name,
        description: raw.description,
        map,
        duration_s,
        warmup_s,
        seed: raw.seed,
        traffic: MapWorldConfig { demand, turning },
        rsus,
        faults,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFaults {
    #[serde(default)]
    fault: Vec<Spanned<RawFault>>,
}

/// Parses a faults file for a runner that applies only the control faults (`corridor-sim sumo
/// --faults FILE`): `[[fault]]` tables of kind `cloud_down` or `rsu_restart` (fields as in a
/// scenario), where `rsu` names one of `junctions`. Errors name `file:line:col: field`.
pub fn parse_control_faults(file: &str, text: &str, junctions: &[String]) -> Result<Vec<Fault>, ScenarioError> {
    let cx = Ctx { file, text };
    let raw: RawFaults = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        cx.err(span, "toml", e.message().trim().to_owned())
    })?;
    faults_of(&cx, &raw.fault, &|| junctions.to_vec(), None)
}

/// Checks `[[fault]]` tables. `junctions` lists what `rsu_restart` may name (called only when one
/// does); `sensors` what sensor faults may name, `None` when this runner applies no sensor faults.
fn faults_of(
    cx: &Ctx<'_>,
    raw: &[Spanned<RawFault>],
    junctions: &dyn Fn() -> Vec<String>,
    sensors: Option<&[String]>,
) -> Result<Vec<Fault>, ScenarioError> {
    let mut faults = Vec::new();
    for (i, sf) in raw.iter().enumerate() {
        let f = sf.get_ref();
        let field = |n: &str| format!("fault[{i}].{n}");
        let need = |v: &Option<Spanned<f64>>, n: &str| -> Result<Spanned<f64>, ScenarioError> {
            v.clone()
                .ok_or_else(|| cx.err(f.kind.span(), &field(n), format!("missing for kind `{}`", f.kind.get_ref())))
        };
        let sensor = || -> Result<String, ScenarioError> {
            let s =
                f.sensor.as_ref().ok_or_else(|| cx.err(f.kind.span(), &field("sensor"), "missing: which sensor"))?;
            Ok(s.get_ref().clone())
        };
        let window = || -> Result<(f64, f64), ScenarioError> {
            let from = need(&f.from_s, "from_s")?;
            let to = need(&f.to_s, "to_s")?;
            let a = cx.num(&from, &field("from_s"), |x| x >= 0.0, "a time >= 0 s")?;
            let b = cx.num(&to, &field("to_s"), |x| x > a, "a time after from_s")?;
            Ok((a, b))
        };
        let fault = match f.kind.get_ref().as_str() {
            "sensor_dropout" => {
                let (from_s, to_s) = window()?;
                Fault::SensorDropout { sensor: sensor()?, rsu: f.rsu.as_ref().map(|r| r.get_ref().clone()), from_s, to_s }
            }
            "clock_skew" => {
                let o = need(&f.offset_ms, "offset_ms")?;
                let offset_ms = cx.num(&o, &field("offset_ms"), |x| x.abs() <= 1000.0, "an offset within +-1000 ms")?;
                Fault::ClockSkew { sensor: sensor()?, rsu: f.rsu.as_ref().map(|r| r.get_ref().clone()), offset_ms }
            }
            "detection_flood" => {
                let fa = need(&f.factor, "factor")?;
                let factor = cx.num(&fa, &field("factor"), |x| (1.0..=1000.0).contains(&x), "a factor in [1, 1000]")?;
                let (from_s, to_s) = window()?;
                Fault::DetectionFlood { sensor: sensor()?, rsu: f.rsu.as_ref().map(|r| r.get_ref().clone()), factor, from_s, to_s }
            }
            "malformed_messages" => {
                let r = need(&f.rate_hz, "rate_hz")?;
                let rate_hz = cx.num(&r, &field("rate_hz"), |x| x > 0.0 && x <= 1000.0, "a rate in (0, 1000] Hz")?;
                Fault::MalformedMessages { rate_hz }
            }
            k @ ("cloud_down" | "rsu_restart") => {
                if let Some(s) = &f.sensor {
                    return Err(cx.err(s.span(), &field("sensor"), format!("not used by `{k}` (it stops a service, not a sensor)")));
                }
                let (from_s, to_s) = window()?;
                if to_s - from_s > 600.0 {
                    let span = f.to_s.as_ref().map_or(f.kind.span(), Spanned::span);
                    return Err(cx.err(span, &field("to_s"), format!("{to_s}: `{k}` windows are at most 600 s")));
                }
                if k == "cloud_down" {
                    if let Some(r) = &f.rsu {
                        return Err(cx.err(r.span(), &field("rsu"), "not used by `cloud_down` (the cloud serves every RSU)"));
                    }
                    Fault::CloudDown { from_s, to_s }
                } else {
                    let r = f.rsu.as_ref().ok_or_else(|| {
                        cx.err(f.kind.span(), &field("rsu"), "missing: which RSU restarts (a signalized junction id of the map)")
                    })?;
                    let junctions = junctions();
                    if !junctions.contains(r.get_ref()) {
                        return Err(cx.err(
                            r.span(),
                            &field("rsu"),
                            format!("no RSU at junction `{}` (known: {})", r.get_ref(), junctions.join(", ")),
                        ));
                    }
                    Fault::RsuRestart { rsu: r.get_ref().clone(), from_s, to_s }
                }
            }
            other => {
                return Err(cx.err(
                    f.kind.span(),
                    &field("kind"),
                    format!("unknown fault `{other}` (sensor_dropout, clock_skew, detection_flood, malformed_messages, cloud_down, rsu_restart)"),
                ))
            }
        };
        // a sensor named by a fault must exist (on the default layout when no RSU is listed)
        let sensor_fault = match &fault {
            Fault::SensorDropout { sensor, .. }
            | Fault::ClockSkew { sensor, .. }
            | Fault::DetectionFlood { sensor, .. } => Some(sensor.as_str()),
            Fault::MalformedMessages { .. } => Some(""),
            Fault::CloudDown { .. } | Fault::RsuRestart { .. } => None,
        };
        if let Some(sensor) = sensor_fault {
            let Some(known) = sensors else {
                return Err(cx.err(
                    f.kind.span(),
                    &field("kind"),
                    format!("`{}` is not applied by this runner (it applies cloud_down and rsu_restart)", fault.kind()),
                ));
            };
            if !sensor.is_empty() && !known.iter().any(|k| k == sensor) {
                let span = f.sensor.as_ref().map_or(f.kind.span(), Spanned::span);
                return Err(cx.err(
                    span,
                    &field("sensor"),
                    format!("no sensor `{sensor}` (known: {})", known.join(", ")),
                ));
            }
        }
        faults.push(fault);
    }
    Ok(faults)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const GOOD: &str = r#"
map = "maps/demo-4arm/demo-4arm.net.xml"
duration_s = 30
seed = 3
[traffic]
demand = { car = 400, pedestrian = 100 }
turning = { left = 0.3, straight = 0.5, right = 0.2 }
[[fault]]
kind = "sensor_dropout"
sensor = "lidar-ne"
from_s = 5
to_s = 8
"#;

    #[test]
    fn every_builtin_parses() {
        for (name, text) in BUILTIN {
            let s = parse(name, text, None).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(s.name, name);
            assert!(s.map.is_file());
        }
    }

    #[test]
    fn a_good_file_parses_with_its_values() {
        let s = parse("x.toml", GOOD, None).unwrap();
        assert_eq!(s.traffic.demand.car, 400.0);
        assert_eq!(s.traffic.turning, [0.3, 0.5, 0.2]);
        assert_eq!(s.faults.len(), 1);
        assert_eq!(s.warmup_s, 60.0);
    }

    fn bad(text: &str) -> ScenarioError {
        parse("bad.toml", text, None).unwrap_err()
    }

    #[test]
    fn bad_values_name_the_file_line_and_field() {
        let e = bad(&GOOD.replace("left = 0.3", "left = 1.5"));
        assert_eq!((e.file.as_str(), e.line, e.field.as_str()), ("bad.toml", 7, "traffic.turning.left"), "{e}");
        let e = bad(&GOOD.replace("to_s = 8", "to_s = 2"));
        assert_eq!((e.line, e.field.as_str()), (12, "fault[0].to_s"), "{e}");
        let e = bad(&GOOD.replace("duration_s = 30", "duration_s = \"long\""));
        assert_eq!((e.line, e.field.as_str()), (3, "duration_s"), "{e}");
        let e = bad(&GOOD.replace("lidar-ne", "lidar-xx"));
        assert_eq!(e.field, "fault[0].sensor", "{e}");
        assert!(e.message.contains("lidar-xx"), "{e}");
        let e = bad(&GOOD.replace("demo-4arm.net.xml\"", "nope.net.xml\""));
        assert_eq!((e.line, e.field.as_str()), (2, "map"), "{e}");
        let e = bad(&GOOD.replace("seed = 3", "seed = 3\nspeed = 4"));
        assert!(e.message.contains("unknown field"), "{e}");
        assert_eq!(e.line, 5, "{e}");
        let e = bad(&GOOD.replace("car = 400", "tram = 400"));
        assert_eq!(e.field, "traffic.demand.tram", "{e}");
        assert!(e.to_string().starts_with("bad.toml:"), "{e}");
    }

    #[test]
    fn control_faults_parse_and_bad_fields_are_named() {
        let text = format!(
            "{GOOD}\n[[fault]]\nkind = \"cloud_down\"\nfrom_s = 3\nto_s = 23\n\n[[fault]]\nkind = \"rsu_restart\"\nrsu = \"A0\"\nfrom_s = 5\nto_s = 6\n"
        );
        let s = parse("x.toml", &text, None).unwrap();
        assert_eq!(s.faults[1], Fault::CloudDown { from_s: 3.0, to_s: 23.0 });
        assert_eq!(s.faults[2], Fault::RsuRestart { rsu: "A0".into(), from_s: 5.0, to_s: 6.0 });
        assert!(s.faults[2].is_control() && !s.faults[0].is_control());
        // an unknown junction names the field and lists the known ones
        let e = bad(&text.replace("rsu = \"A0\"", "rsu = \"B7\""));
        assert_eq!((e.line, e.field.as_str()), (21, "fault[2].rsu"), "{e}");
        assert!(e.message.contains("known: A0"), "{e}");
        // a missing RSU, a window backwards, a sensor on a cloud fault
        let e = bad(&text.replace("rsu = \"A0\"\n", ""));
        assert_eq!(e.field, "fault[2].rsu", "{e}");
        assert!(e.message.contains("missing"), "{e}");
        let e = bad(&text.replace("to_s = 23", "to_s = 1"));
        assert_eq!((e.line, e.field.as_str()), (17, "fault[1].to_s"), "{e}");
        let e = bad(&text.replace("kind = \"cloud_down\"", "kind = \"cloud_down\"\nsensor = \"cam-nw\""));
        assert_eq!(e.field, "fault[1].sensor", "{e}");
        let e = bad(&text.replace("kind = \"cloud_down\"", "kind = \"cloud_down\"\nrsu = \"A0\""));
        assert_eq!(e.field, "fault[1].rsu", "{e}");
        let e = bad(&text.replace("to_s = 23", "to_s = 900"));
        assert_eq!(e.field, "fault[1].to_s", "{e}");
        // the old spelling is an unknown field, not silently ignored
        let e = bad(&text.replace("from_s = 3\n", "at_s = 3\n"));
        assert!(e.message.contains("unknown field"), "{e}");
    }

    #[test]
    fn a_control_faults_file_parses_and_refuses_what_the_runner_cannot_apply() {
        let ids = vec!["A0".to_owned(), "B0".to_owned()];
        let text = "[[fault]]\nkind = \"cloud_down\"\nfrom_s = 4\nto_s = 7\n\n[[fault]]\nkind = \"rsu_restart\"\nrsu = \"B0\"\nfrom_s = 9\nto_s = 10\n";
        let f = parse_control_faults("f.toml", text, &ids).unwrap();
        assert_eq!(
            f,
            vec![
                Fault::CloudDown { from_s: 4.0, to_s: 7.0 },
                Fault::RsuRestart { rsu: "B0".into(), from_s: 9.0, to_s: 10.0 }
            ]
        );
        let e = parse_control_faults("f.toml", &text.replace("\"B0\"", "\"C9\""), &ids).unwrap_err();
        assert_eq!((e.file.as_str(), e.line, e.field.as_str()), ("f.toml", 8, "fault[1].rsu"), "{e}");
        let e = parse_control_faults(
            "f.toml",
            "[[fault]]\nkind = \"sensor_dropout\"\nsensor = \"lidar-ne\"\nfrom_s = 1\nto_s = 2\n",
            &ids,
        )
        .unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (2, "fault[0].kind"), "{e}");
        assert!(e.message.contains("not applied by this runner"), "{e}");
        let e = parse_control_faults("f.toml", "duration_s = 3\n", &ids).unwrap_err();
        assert!(e.message.contains("unknown field"), "{e}");
    }
}
