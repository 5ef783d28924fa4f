//! RSU configuration: TOML, with the commented default in `roadside.default.toml`.
//!
//! Errors name the file and the field (toml's messages carry line and column;
//! our own checks add the field path).

use corridor_fusion::SensorSpec;
use corridor_model::detection::SensorKind;
use corridor_model::{IntersectionId, MapVersion, RegionId, RsuId, SensorExtrinsics, SensorId};
use nalgebra::Vector3;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The commented default configuration.
pub const DEFAULT_CONFIG: &str = include_str!("../roadside.default.toml");

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// TOML syntax or a field of the wrong type (the message has line and column).
    #[error("{path}: {source}")]
    Toml {
        /// The file.
        path: String,
        /// toml's error.
        source: toml::de::Error,
    },
    /// A field has a value we refuse.
    #[error("{path}: field `{field}` = {value}: {reason}")]
    Field {
        /// The file.
        path: String,
        /// The field path.
        field: String,
        /// The value.
        value: String,
        /// Why.
        reason: String,
    },
}

/// How the RSU joins the zenoh network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZenohSection {
    /// `peer` or `client`.
    pub mode: String,
    /// Endpoints to listen on.
    #[serde(default)]
    pub listen: Vec<String>,
    /// Endpoints to connect to.
    #[serde(default)]
    pub connect: Vec<String>,
    /// Mutual TLS (`[zenoh.tls]`: `ca`, `cert`, `key` PEM files from `cloud-control tls issue`;
    /// the certificate's common name is this RSU's identity in the router's access-control
    /// list). With it every endpoint must be `tls/HOST:PORT`. See docs/security.md §6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<corridor_wire::presets::TlsFiles>,
}

impl ZenohSection {
    /// A section without TLS.
    pub fn new(mode: &str, listen: Vec<String>, connect: Vec<String>) -> Self {
        ZenohSection { mode: mode.to_owned(), listen, connect, tls: None }
    }

    /// The zenoh config for this section (multicast scouting off; TLS-only with mutual
    /// authentication when `tls` is set).
    pub fn to_zenoh(&self) -> Result<zenoh::Config, corridor_wire::presets::PresetError> {
        let config = match self.mode.as_str() {
            "client" => corridor_wire::presets::client(&self.connect),
            _ => corridor_wire::presets::peer(&self.listen, &self.connect),
        }?;
        match &self.tls {
            Some(files) => corridor_wire::presets::secure(config, files),
            None => Ok(config),
        }
    }
}

/// One sensor's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensorSection {
    /// Sensor id (the `{sensor}` key segment).
    pub id: SensorId,
    /// `lidar`, `camera` or `radar`.
    pub kind: SensorKind,
    /// ENU position, metres.
    pub position_m: [f64; 3],
    /// Heading, degrees counter-clockwise from east.
    pub yaw_deg: f64,
    /// Pitch, degrees, positive looks down.
    #[serde(default)]
    pub pitch_deg: f64,
}

impl SensorSection {
    /// The fusion crate's view of this sensor.
    pub fn spec(&self) -> SensorSpec {
        SensorSpec {
            id: self.id.clone(),
            kind: self.kind,
            extrinsics: SensorExtrinsics::from_pose(
                Vector3::from(self.position_m),
                self.yaw_deg.to_radians(),
                self.pitch_deg.to_radians(),
            ),
        }
    }
}

/// Where the RSU gets its map and rules from the cloud (the `[cloud]` section; without it the
/// RSU works from the local `map`/`rules` files only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudSection {
    /// Cache directory: map/rules bundles fetched from the cloud (verified by hash on load) and
    /// the event outbox (`events.redb`).
    pub cache_dir: std::path::PathBuf,
    /// How long one query to the cloud may take, ms.
    #[serde(default = "default_fetch_timeout")]
    pub fetch_timeout_ms: u64,
    /// How often to ask the cloud for its catalog (besides the catalog publications), ms.
    #[serde(default = "default_retry")]
    pub retry_ms: u64,
}

/// Event detection thresholds (the `[events]` section; every field has a default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsSection {
    /// A vehicle standing still this long in a running lane is a stopped vehicle, seconds.
    pub stopped_after_s: f64,
    /// Below this speed a vehicle counts as standing, m/s.
    pub stopped_speed_mps: f64,
    /// A sensor silent this long is an RSU fault, seconds.
    pub sensor_silent_s: f64,
    /// Wrong-way detection ignores vehicles slower than this, m/s.
    pub wrong_way_min_speed_mps: f64,
}

impl Default for EventsSection {
    fn default() -> Self {
        Self { stopped_after_s: 10.0, stopped_speed_mps: 0.5, sensor_silent_s: 2.0, wrong_way_min_speed_mps: 2.0 }
    }
}

/// Fusion options for operators (the `[fusion]` section; every field has a default). The rest
/// of the tracker's tuning is `corridor_fusion::FusionConfig`'s defaults, fitted to the
/// acceptance sensor profiles.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FusionSection {
    /// Speculative in-order processing (`FusionConfig::speculate`, default false): fuse a
    /// waiting frame before it is due when every sensor it waits for is expected to capture
    /// after it. The state is published at the same moments with the same content, with less
    /// work left when the last frame of an instant arrives; it costs CPU (a snapshot of the
    /// tracker and an output per run of speculative frames). Worth it with sensors triggered in a
    /// fixed order some milliseconds apart; with one common trigger it changes nothing.
    pub speculate: bool,
}

/// The whole RSU configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RsuConfig {
    /// Region.
    pub region: RegionId,
    /// This RSU.
    pub rsu: RsuId,
    /// The intersection it serves.
    pub intersection: IntersectionId,
    /// Map content hash, hex.
    #[serde(default = "zero_hash")]
    pub map_version: String,
    /// The HD map file (SUMO `.net.xml[.gz]`, OpenDRIVE `.xodr`, Lanelet2 `.osm`, corridor
    /// `.hdmap.json`): objects are lane-matched against it and states name its version.
    #[serde(default)]
    pub map: Option<std::path::PathBuf>,
    /// The traffic rules file (`rules.toml`), checked against `map`.
    #[serde(default)]
    pub rules: Option<std::path::PathBuf>,
    /// Publish the JSON mirror of the state too.
    #[serde(default)]
    pub json_mirror: bool,
    /// Input queue capacity.
    #[serde(default = "default_queue")]
    pub input_queue: usize,
    /// Stats period, ms.
    #[serde(default = "default_stats_period")]
    pub stats_period_ms: u64,
    /// Prometheus metrics on `127.0.0.1:PORT/metrics` (0: off).
    #[serde(default)]
    pub metrics_port: u16,
    /// Zenoh.
    pub zenoh: ZenohSection,
    /// Map and rules from cloud-control, cached on disk; events uploaded to it.
    #[serde(default)]
    pub cloud: Option<CloudSection>,
    /// Event detection thresholds.
    #[serde(default)]
    pub events: EventsSection,
    /// Fusion options.
    #[serde(default)]
    pub fusion: FusionSection,
    /// Sign every state and event with this certified key (absent: unsigned).
    #[serde(default)]
    pub security: Option<crate::security::SecuritySection>,
    /// Sensors.
    #[serde(default)]
    pub sensors: Vec<SensorSection>,
}

fn zero_hash() -> String {
    MapVersion::default().to_hex()
}
fn default_queue() -> usize {
    1024
}
fn default_stats_period() -> u64 {
    1000
}
fn default_fetch_timeout() -> u64 {
    2000
}
fn default_retry() -> u64 {
    2000
}

impl RsuConfig {
    /// Parses and checks a configuration; `path` is used in messages only.
    pub fn parse(text: &str, path: &str) -> Result<Self, ConfigError> {
        let cfg: RsuConfig =
            toml::from_str(text).map_err(|source| ConfigError::Toml { path: path.to_owned(), source })?;
        cfg.check(path)?;
        Ok(cfg)
    }

    /// Reads and parses a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io { path: p.clone(), source })?;
        Self::parse(&text, &p)
    }

    /// The map version as a hash.
    pub fn map_version(&self) -> MapVersion {
        MapVersion::from_hex(&self.map_version).unwrap_or_default()
    }

    fn check(&self, path: &str) -> Result<(), ConfigError> {
        let field = |field: &str, value: String, reason: &str| ConfigError::Field {
            path: path.to_owned(),
            field: field.to_owned(),
            value,
            reason: reason.to_owned(),
        };
        if MapVersion::from_hex(&self.map_version).is_none() {
            return Err(field("map_version", format!("{:?}", self.map_version), "expected 64 hex characters"));
        }
        if !matches!(self.zenoh.mode.as_str(), "peer" | "client") {
            return Err(field("zenoh.mode", format!("{:?}", self.zenoh.mode), "expected \"peer\" or \"client\""));
        }
        if let Some(tls) = &self.zenoh.tls {
            let sides = [("zenoh.listen", &self.zenoh.listen), ("zenoh.connect", &self.zenoh.connect)];
            for (name, endpoints) in sides {
                if let Some(bad) = endpoints.iter().find(|e| !e.starts_with("tls/")) {
                    return Err(field(
                        name,
                        format!("{bad:?}"),
                        "with [zenoh.tls] every endpoint must be tls/HOST:PORT",
                    ));
                }
            }
            for (name, file) in [("zenoh.tls.ca", &tls.ca), ("zenoh.tls.cert", &tls.cert), ("zenoh.tls.key", &tls.key)]
            {
                if file.as_os_str().is_empty() {
                    return Err(field(name, "\"\"".into(), "must name a PEM file"));
                }
            }
        }
        if self.rules.is_some() && self.map.is_none() {
            return Err(field("rules", format!("{:?}", self.rules), "rules need a `map` to be checked against"));
        }
        if self.input_queue == 0 {
            return Err(field("input_queue", "0".into(), "must be at least 1"));
        }
        if let Some(c) = &self.cloud {
            if c.cache_dir.as_os_str().is_empty() {
                return Err(field("cloud.cache_dir", "\"\"".into(), "must name a directory"));
            }
            if c.fetch_timeout_ms == 0 || c.retry_ms == 0 {
                return Err(field("cloud.retry_ms", format!("{}/{}", c.fetch_timeout_ms, c.retry_ms), "must be > 0"));
            }
        }
        let e = &self.events;
        for (name, v) in [
            ("events.stopped_after_s", e.stopped_after_s),
            ("events.stopped_speed_mps", e.stopped_speed_mps),
            ("events.sensor_silent_s", e.sensor_silent_s),
            ("events.wrong_way_min_speed_mps", e.wrong_way_min_speed_mps),
        ] {
            if !v.is_finite() || !(0.0..=3600.0).contains(&v) {
                return Err(field(name, v.to_string(), "not a finite value in 0..=3600"));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, s) in self.sensors.iter().enumerate() {
            if !seen.insert(s.id.clone()) {
                return Err(field(&format!("sensors[{i}].id"), format!("{:?}", s.id.as_str()), "duplicate sensor id"));
            }
            for (k, v) in s.position_m.iter().enumerate() {
                if !v.is_finite() || v.abs() > 10_000.0 {
                    return Err(field(
                        &format!("sensors[{i}].position_m[{k}]"),
                        v.to_string(),
                        "not a finite position within 10 km",
                    ));
                }
            }
            for (name, v) in [("yaw_deg", s.yaw_deg), ("pitch_deg", s.pitch_deg)] {
                if !v.is_finite() || v.abs() > 360.0 {
                    return Err(field(
                        &format!("sensors[{i}].{name}"),
                        v.to_string(),
                        "not an angle within +-360 degrees",
                    ));
                }
            }
        }
        self.zenoh
            .to_zenoh()
            .map_err(|e| field(&format!("zenoh.{}", e.key.replace("/endpoints", "")), e.value, &e.message))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commented_default_parses() {
        let cfg = RsuConfig::parse(DEFAULT_CONFIG, "roadside.default.toml").unwrap();
        assert_eq!(cfg.sensors.len(), 4);
        assert_eq!(cfg.rsu.as_str(), "rsu-a");
        assert_eq!(cfg.map_version(), MapVersion::default());
    }

    const TLS_COMMENTED: &str =
        "# [zenoh.tls]\n# ca = \"pki/rsu-a/ca.pem\"\n# cert = \"pki/rsu-a/rsu-a.pem\"\n# key = \"pki/rsu-a/rsu-a.key\"";
    const TLS_ON: &str =
        "[zenoh.tls]\nca = \"pki/rsu-a/ca.pem\"\ncert = \"pki/rsu-a/rsu-a.pem\"\nkey = \"pki/rsu-a/rsu-a.key\"";

    #[test]
    fn zenoh_tls_makes_a_mutual_tls_config() {
        assert!(DEFAULT_CONFIG.contains(TLS_COMMENTED));
        let text = DEFAULT_CONFIG
            .replacen("listen = [\"tcp/127.0.0.1:7447\"]", "listen = [\"tls/localhost:7447\"]", 1)
            .replacen(TLS_COMMENTED, TLS_ON, 1);
        let cfg = RsuConfig::parse(&text, "x.toml").unwrap();
        let tls = cfg.zenoh.tls.as_ref().unwrap();
        assert_eq!(tls.key, std::path::Path::new("pki/rsu-a/rsu-a.key"));
        let z = cfg.zenoh.to_zenoh().unwrap();
        assert_eq!(z.get_json("transport/link/tls/enable_mtls").unwrap(), "true");
        assert!(z.get_json("transport/link/tls/root_ca_certificate").unwrap().contains("pki/rsu-a/ca.pem"));
    }

    #[test]
    fn bad_values_name_file_and_field() {
        let cases = [
            ("rsu = \"rsu-a\"", "rsu = \"rsu/a\"", "rsu/a"),
            ("map_version = \"0000", "map_version = \"zz00", "map_version"),
            ("mode = \"peer\"", "mode = \"mesh\"", "zenoh.mode"),
            ("position_m = [15.0, 15.0, 6.0]", "position_m = [15.0, 1e9, 6.0]", "sensors[0].position_m[1]"),
            ("id = \"cam-nw\"", "id = \"lidar-ne\"", "sensors[2].id"),
            ("kind = \"camera\"", "kind = \"sonar\"", "sonar"),
            ("json_mirror = false", "json_mirror = false\nbogus = 1", "bogus"),
            ("listen = [\"tcp/127.0.0.1:7447\"]", "listen = [\"nonsense\"]", "zenoh.listen"),
            ("# [cloud]\n# cache_dir = \"rsu-cache\"", "[cloud]\ncache_dir = \"\"", "cloud.cache_dir"),
            ("# [events]\n# stopped_after_s = 10.0", "[events]\nstopped_after_s = -1.0", "events.stopped_after_s"),
            ("# [fusion]\n# speculate = false", "[fusion]\nspeculative = true", "speculative"),
            ("# [fusion]\n# speculate = false", "[fusion]\nspeculate = 1", "speculate = 1"),
        ];
        for (from, to, want) in cases {
            assert!(DEFAULT_CONFIG.contains(from), "{from}");
            let text = DEFAULT_CONFIG.replacen(from, to, 1);
            let err = RsuConfig::parse(&text, "x.toml").unwrap_err().to_string();
            assert!(err.starts_with("x.toml: "), "{err}");
            assert!(err.contains(want), "{err} should name {want}");
        }
        // TLS with a plain TCP endpoint, and a TLS table with an unknown field
        let bogus = TLS_ON.replacen("[zenoh.tls]", "[zenoh.tls]\npassword = \"x\"", 1);
        for (to, want) in [(TLS_ON, "zenoh.listen"), (bogus.as_str(), "password")] {
            let text = DEFAULT_CONFIG.replacen(TLS_COMMENTED, to, 1);
            let err = RsuConfig::parse(&text, "x.toml").unwrap_err().to_string();
            assert!(err.starts_with("x.toml: ") && err.contains(want), "{err} should name {want}");
        }
    }
}
