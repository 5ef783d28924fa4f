//! What a publish must pass before anything is stored.
//!
//! The map source is imported with `corridor-hdmap` (the format from the file
//! name; the version is the imported map's content hash); the rules are
//! compiled with `corridor-rules` against that very map. Any error returns the
//! validator's own diagnostics (importer errors name file and line; rule errors
//! are rendered `file:line:col`) and nothing is stored.

use corridor_hdmap::{import_bytes, ImportOptions};
use corridor_model::{GeoPoint, IntersectionId, Validate};
use corridor_wire::control::{MapBundle, RulesBundle};

/// A map (and rules) that passed validation, ready to store.
#[derive(Debug, Clone)]
pub struct Validated {
    /// The map bundle (source + content hash).
    pub map: MapBundle,
    /// The rules bundle, if rules were given.
    pub rules: Option<RulesBundle>,
    /// Importer warnings (what was skipped), one line each.
    pub warnings: Vec<String>,
}

/// Why a publish was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ValidateError {
    /// The map file name has no known extension.
    #[error("map {0}: unknown format (expected .net.xml[.gz], .xodr, .osm or .hdmap.json)")]
    Format(String),
    /// The map did not import.
    #[error("map is invalid: {0}")]
    Map(String),
    /// The rules did not compile against the map (every diagnostic, `file:line:col`).
    #[error("rules are invalid:\n{0}")]
    Rules(String),
    /// A bundle field is out of range (size, file name, origin).
    #[error("bundle: {0}")]
    Bundle(String),
}

/// Validates a map source (and optional rules source) for `intersection`.
pub fn validate(
    intersection: &IntersectionId,
    map_file_name: &str,
    map_source: Vec<u8>,
    origin: Option<[f64; 2]>,
    rules: Option<(&str, String)>,
) -> Result<Validated, ValidateError> {
    let format =
        corridor_hdmap::format_of(map_file_name).ok_or_else(|| ValidateError::Format(map_file_name.to_owned()))?;
    let opts = ImportOptions { origin: origin.map(|[lat, lon]| GeoPoint::new(lat, lon)) };
    let imported =
        import_bytes(format, map_file_name, &map_source, &opts).map_err(|e| ValidateError::Map(e.to_string()))?;
    let warnings = imported.report.warnings.iter().map(|w| w.to_string()).collect();
    let map = MapBundle {
        intersection: intersection.clone(),
        version: imported.map.version(),
        file_name: map_file_name.to_owned(),
        origin,
        source: map_source,
    };
    map.validate().map_err(|e| ValidateError::Bundle(e.to_string()))?;
    let rules = match rules {
        None => None,
        Some((file_name, source)) => {
            let facts = corridor_rules::hdmap::facts(&imported.map);
            let compiled = corridor_rules::compile(&source, file_name, &facts)
                .map_err(|d| ValidateError::Rules(d.render(false)))?;
            let bundle = RulesBundle {
                intersection: intersection.clone(),
                map_version: compiled.map_version(),
                version: compiled.version(),
                file_name: file_name.to_owned(),
                source,
            };
            bundle.validate().map_err(|e| ValidateError::Bundle(e.to_string()))?;
            Some(bundle)
        }
    };
    Ok(Validated { map, rules, warnings })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ws(p: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(p)
    }

    #[test]
    fn a_good_map_and_rules_validate_and_bad_rules_name_the_line() {
        let ix: IntersectionId = "ix-a".parse().unwrap();
        let map = std::fs::read(ws("maps/demo-4arm/demo-4arm.net.xml")).unwrap();
        let rules = std::fs::read_to_string(ws("maps/demo-4arm/rules.toml")).unwrap();
        let v = validate(&ix, "demo-4arm.net.xml", map.clone(), None, Some(("rules.toml", rules.clone()))).unwrap();
        assert_eq!(v.rules.as_ref().unwrap().map_version, v.map.version);
        let bad = rules.replacen("[[rule]]", "[[rule]]\nbogus_field = 1", 1);
        let err = validate(&ix, "demo-4arm.net.xml", map.clone(), None, Some(("rules.toml", bad))).unwrap_err();
        assert!(matches!(err, ValidateError::Rules(ref d) if d.contains("rules.toml:")), "{err}");
        let err = validate(&ix, "demo-4arm.net.xml", b"<net><edge".to_vec(), None, None).unwrap_err();
        assert!(matches!(err, ValidateError::Map(_)), "{err}");
        let err = validate(&ix, "demo.txt", map, None, None).unwrap_err();
        assert!(matches!(err, ValidateError::Format(_)), "{err}");
    }
}
