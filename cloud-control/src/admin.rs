//! The admin protocol on `corridor/{region}/cloud/admin`: one JSON request per query,
//! one reply (JSON on success, a plain-text error via `reply_err` otherwise).
//!
//! ```text
//! {"op":"publish","intersection":"ix-a","map_file_name":"x.net.xml","map_source_hex":"3c6e...",
//!  "origin":null,"rules_file_name":"rules.toml","rules_source":"format = 1 ..."}
//!     -> the new CatalogEntry (JSON)                      | error: the validator's diagnostics
//! {"op":"rollback","intersection":"ix-a","to":"3f2a9c"}    -> the new CatalogEntry | error
//! {"op":"status"}                                          -> [RsuStatus, ...]
//! {"op":"trust_push","bundle_hex":"4352..."}               -> {"certificates":N,"revocation_list":bool}
//! ```
//! The map source travels hex-encoded so that gzip'ed nets survive JSON.

use corridor_model::IntersectionId;
use serde::{Deserialize, Serialize};
use std::path::Path;

use crate::validate::{validate, ValidateError, Validated};

/// One admin request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum AdminRequest {
    /// Validate, store and make current.
    Publish(PublishRequest),
    /// Make an earlier version current again.
    Rollback {
        /// The intersection.
        intersection: IntersectionId,
        /// Map or rules version (hex, a unique prefix is enough).
        to: String,
    },
    /// Every RSU the cloud has seen.
    Status,
    /// Serve (and publish) a new trust bundle (`cloud-control keys bundle` output, hex).
    TrustPush {
        /// The bundle bytes, hex.
        bundle_hex: String,
    },
}

/// A map (and rules) to publish for one intersection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PublishRequest {
    /// The intersection.
    pub intersection: IntersectionId,
    /// The map's file name (its extension selects the importer).
    pub map_file_name: String,
    /// The map source, hex.
    pub map_source_hex: String,
    /// WGS84 origin `[lat, lon]` for sources without a geo reference.
    pub origin: Option<[f64; 2]>,
    /// The rules' file name (for diagnostics).
    pub rules_file_name: Option<String>,
    /// The rules source (TOML).
    pub rules_source: Option<String>,
}

impl PublishRequest {
    /// Reads the map (and rules) files.
    pub fn from_files(
        intersection: IntersectionId,
        map: &Path,
        rules: Option<&Path>,
        origin: Option<[f64; 2]>,
    ) -> std::io::Result<Self> {
        let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let map_source = std::fs::read(map)
            .map_err(|e| std::io::Error::new(e.kind(), format!("reading map {}: {e}", map.display())))?;
        let rules_source = rules
            .map(|r| {
                std::fs::read_to_string(r)
                    .map_err(|e| std::io::Error::new(e.kind(), format!("reading rules {}: {e}", r.display())))
            })
            .transpose()?;
        Ok(Self {
            intersection,
            map_file_name: name(map),
            map_source_hex: hex::encode(map_source),
            origin,
            rules_file_name: rules.map(name),
            rules_source,
        })
    }

    /// Validates the request (see [`crate::validate`]).
    pub fn validate(&self) -> Result<Validated, ValidateError> {
        let source =
            hex::decode(&self.map_source_hex).map_err(|e| ValidateError::Bundle(format!("map_source_hex: {e}")))?;
        let rules = self.rules_source.clone().map(|s| (self.rules_file_name.as_deref().unwrap_or("rules.toml"), s));
        validate(&self.intersection, &self.map_file_name, source, self.origin, rules)
    }
}
