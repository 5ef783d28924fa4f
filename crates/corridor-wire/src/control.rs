//! Control-plane payloads: HD maps, rule sets and the catalog served by cloud-control.
//!
//! A map travels as its **source file** (SUMO, OpenDRIVE or Lanelet2 bytes) plus
//! the version the cloud computed from it. The receiver imports the source with
//! `corridor-hdmap` and must check that the imported map's content hash equals
//! [`MapBundle::version`]: a bundle whose hash does not match is corrupt and is
//! refused. Shipping the source keeps one importer as the single definition of
//! what a map means, so a map never changes meaning in transit.
//!
//! A rule set travels as its TOML source plus the map version it was compiled
//! against and its own version; the receiver compiles it against the map it
//! holds (`corridor_rules::CompiledRules::load` refuses another map version).
//!
//! The [`Catalog`] names the current map and rules version per intersection; the
//! cloud publishes it on `corridor/{region}/catalog` whenever it changes
//! (`revision` grows by one per change) and answers queries on the same key.

use corridor_model::{IntersectionId, InvalidField, MapVersion, RegionId, Timestamp, Validate};
use serde::{Deserialize, Serialize};

/// Largest accepted map source, bytes (the codec's message limit applies on top).
pub const MAX_MAP_SOURCE: usize = 32 * 1024 * 1024;
/// Largest accepted rules source, bytes.
pub const MAX_RULES_SOURCE: usize = 4 * 1024 * 1024;

/// An HD map as served by the cloud.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapBundle {
    /// The intersection the map is for.
    pub intersection: IntersectionId,
    /// Content hash of the imported map (`corridor_hdmap::HdMap::version`).
    pub version: MapVersion,
    /// File name the source was published under; its extension selects the importer
    /// (`.net.xml`, `.xodr`, `.osm`, optionally `.gz`).
    pub file_name: String,
    /// WGS84 origin (lat, lon in degrees) used at import for sources without a geo reference.
    pub origin: Option<[f64; 2]>,
    /// The source file's bytes.
    pub source: Vec<u8>,
}

/// A rule set as served by the cloud.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RulesBundle {
    /// The intersection the rules are for.
    pub intersection: IntersectionId,
    /// The map version the rules were checked against.
    pub map_version: MapVersion,
    /// Version of the compiled rule set (`corridor_rules::CompiledRules::version`).
    pub version: MapVersion,
    /// File name, for diagnostics.
    pub file_name: String,
    /// The TOML source.
    pub source: String,
}

/// The current versions of one intersection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogEntry {
    /// The intersection.
    pub intersection: IntersectionId,
    /// The current map version.
    pub map_version: MapVersion,
    /// The current rules version, if the intersection has rules.
    pub rules_version: Option<MapVersion>,
    /// When this version became current.
    pub since: Timestamp,
}

/// Every intersection's current versions in a region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    /// The region.
    pub region: RegionId,
    /// Grows by one with every change; a receiver ignores a catalog older than the one it holds.
    pub revision: u64,
    /// One entry per intersection, sorted by intersection id.
    pub entries: Vec<CatalogEntry>,
}

impl Catalog {
    /// The entry of one intersection.
    pub fn entry(&self, intersection: &IntersectionId) -> Option<&CatalogEntry> {
        self.entries.iter().find(|e| &e.intersection == intersection)
    }
}

impl Validate for MapBundle {
    fn validate(&self) -> Result<(), InvalidField> {
        if self.source.len() > MAX_MAP_SOURCE {
            return Err(InvalidField::out_of_range("source", self.source.len(), "map source larger than 32 MiB"));
        }
        if self.file_name.is_empty() || self.file_name.len() > 255 || self.file_name.contains(['/', '\\']) {
            return Err(InvalidField::out_of_range("file_name", &self.file_name, "not a plain file name"));
        }
        if let Some([lat, lon]) = self.origin {
            if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
                return Err(InvalidField::out_of_range("origin.lat", lat, "not a latitude"));
            }
            if !(lon.is_finite() && (-180.0..=180.0).contains(&lon)) {
                return Err(InvalidField::out_of_range("origin.lon", lon, "not a longitude"));
            }
        }
        Ok(())
    }
}

impl Validate for RulesBundle {
    fn validate(&self) -> Result<(), InvalidField> {
        if self.source.len() > MAX_RULES_SOURCE {
            return Err(InvalidField::out_of_range("source", self.source.len(), "rules source larger than 4 MiB"));
        }
        if self.file_name.len() > 255 {
            return Err(InvalidField::out_of_range("file_name", self.file_name.len(), "longer than 255 bytes"));
        }
        Ok(())
    }
}

impl Validate for Catalog {
    fn validate(&self) -> Result<(), InvalidField> {
        if self.entries.windows(2).any(|w| w[0].intersection >= w[1].intersection) {
            return Err(InvalidField::out_of_range("entries", self.entries.len(), "not sorted by unique intersection"));
        }
        Ok(())
    }
}
