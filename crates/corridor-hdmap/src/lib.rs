//! corridor's HD map: lanes, connections, signal groups, stop lines, crosswalks, junctions and
//! conflict zones of an intersection, in its local ENU frame; importers for SUMO `.net.xml`,
//! ASAM OpenDRIVE `.xodr` and Lanelet2 OSM; a content hash ([`MapVersion`]) over a canonical
//! encoding; and lane matching over an R*-tree.
//!
//! This crate is **sans-IO**: importers take bytes (`&[u8]`) and a file name for messages;
//! [`load_path`] is the one thin helper that reads a file.
//!
//! | module | what it holds |
//! |---|---|
//! | [`model`] | [`HdMap`] and its parts; [`HdMap::normalize`], [`HdMap::version`] |
//! | [`canon`] | the canonical byte encoding the version hashes |
//! | [`matching`] | [`LaneMatcher`]: position (+ heading) -> lane, `s`, lateral offset |
//! | [`sumo`], [`opendrive`], [`lanelet2`] | the importers |
//! | [`error`] | [`ImportError`] (file:line:element id) and [`ImportReport`] warnings |
//! | [`geom`], [`proj`] | polyline geometry; transverse Mercator / UTM |
//!
//! ```no_run
//! let imported = corridor_hdmap::load_path("maps/demo-4arm/demo-4arm.net.xml", &Default::default())?;
//! let map = imported.map;
//! println!("version {}", map.version());
//! let matcher = corridor_hdmap::LaneMatcher::new(&map);
//! if let Some(m) = matcher.match_position(3.0, -20.0, Some(1.57)) {
//!     println!("lane {} s={:.1} m lateral={:.2} m", m.lane, m.s_m, m.lateral_m);
//! }
//! # Ok::<(), corridor_hdmap::ImportError>(())
//! ```
#![forbid(unsafe_code)]

pub mod canon;
mod derive;
pub mod error;
pub mod geom;
mod georef;
pub mod lanelet2;
pub mod matching;
pub mod model;
pub mod opendrive;
pub mod proj;
pub mod sumo;
mod xml;

pub use corridor_model::MapVersion;
pub use error::{ImportError, ImportReport, Location, Warning};
pub use matching::{LaneMatch, LaneMatcher, MatchOptions};
pub use model::*;

use corridor_model::GeoPoint;
use std::path::Path;

/// Options for importers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportOptions {
    /// WGS84 origin of the local frame for sources without a geo reference (SUMO nets with
    /// `projParameter="!"`, OpenDRIVE without `geoReference`); for Lanelet2 (WGS84 nodes) the
    /// ENU origin to use instead of the centre of the map's extent. Ignored, with a warning,
    /// where the source has its own projection.
    pub origin: Option<GeoPoint>,
}

/// A map and what the importer had to say about it.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The map, normalised.
    pub map: HdMap,
    /// Warnings: everything skipped or approximated.
    pub report: ImportReport,
}

/// The format of a map file, from its name.
pub fn format_of(file_name: &str) -> Option<SourceFormat> {
    let n = file_name.to_ascii_lowercase();
    if n.ends_with(".net.xml") || n.ends_with(".net.xml.gz") {
        Some(SourceFormat::Sumo)
    } else if n.ends_with(".xodr") {
        Some(SourceFormat::OpenDrive)
    } else if n.ends_with(".osm") {
        Some(SourceFormat::Lanelet2)
    } else if n.ends_with(".json") {
        Some(SourceFormat::Json)
    } else {
        None
    }
}

/// Imports a map of a known format from its bytes. `file` is only used in messages.
pub fn import_bytes(
    format: SourceFormat,
    file: &str,
    bytes: &[u8],
    opts: &ImportOptions,
) -> Result<Imported, ImportError> {
    match format {
        SourceFormat::Sumo => sumo::import_sumo(file, bytes, opts),
        SourceFormat::OpenDrive => opendrive::import_opendrive(file, bytes, opts),
        SourceFormat::Lanelet2 => lanelet2::import_lanelet2(file, bytes, opts),
        SourceFormat::Json => {
            let mut map: HdMap = serde_json::from_slice(bytes).map_err(|e| ImportError::Xml {
                file: file.to_owned(),
                line: u32::try_from(e.line()).unwrap_or(u32::MAX),
                message: format!("bad corridor map JSON: {e}"),
            })?;
            map.normalize();
            Ok(Imported { map, report: ImportReport::default() })
        }
    }
}

/// Reads and imports a map file; the format comes from the extension.
pub fn load_path(path: impl AsRef<Path>, opts: &ImportOptions) -> Result<Imported, ImportError> {
    let path = path.as_ref();
    let file = path.display().to_string();
    let format = format_of(&file).ok_or_else(|| ImportError::UnknownFormat { file: file.clone() })?;
    let bytes = std::fs::read(path).map_err(|source| ImportError::Io { file: file.clone(), source })?;
    import_bytes(format, &file, &bytes, opts)
}
