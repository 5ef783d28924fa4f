//! What the RSU knows about its intersection besides what it sees: the HD map
//! (with a lane matcher over it) and the traffic rules in force.
//!
//! Loaded at start from the config's `map` and `rules` paths. The rules are
//! validated against that very map; a rule set delivered later (e.g. by the
//! cloud) is accepted only if it was validated against the map version in
//! force ([`MapKnowledge::replace_rules`]), otherwise it is refused and the
//! rules already in force stay.

use corridor_hdmap::{HdMap, ImportOptions, LaneMatcher};
use corridor_model::{MapVersion, TrackedObject};
use corridor_rules::{CompiledRules, LoadError, RuleSet};
use std::path::Path;

/// Why the map or the rules could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KnowledgeError {
    /// The map did not import.
    #[error("map: {0}")]
    Map(#[from] corridor_hdmap::ImportError),
    /// The rules file could not be read.
    #[error("rules {path}: {source}")]
    RulesIo {
        /// The file.
        path: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// The rules are invalid (every diagnostic, `file:line:col`).
    #[error("rules are invalid:\n{0}")]
    Rules(String),
    /// The config names a map version other than the map file's.
    #[error("config map_version {configured} does not match the map file's version {actual}")]
    VersionMismatch {
        /// From the config.
        configured: MapVersion,
        /// From the file.
        actual: MapVersion,
    },
    /// A rule set for another map version.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A bundle's content does not hash to the version it claims (corrupt in transit or on disk).
    #[error("{what} {file}: content hash {actual} does not match the version {claimed}")]
    HashMismatch {
        /// `map` or `rules`.
        what: &'static str,
        /// The bundle's file name.
        file: String,
        /// The version the bundle claims.
        claimed: MapVersion,
        /// What the content hashes to.
        actual: MapVersion,
    },
}

/// The map, its matcher and the rules in force.
#[derive(Debug)]
pub struct MapKnowledge {
    map: HdMap,
    version: MapVersion,
    matcher: LaneMatcher,
    rules: Option<CompiledRules>,
}

impl MapKnowledge {
    /// Loads the map (and the rules, validated against it) from files.
    pub fn load(map_path: &Path, rules_path: Option<&Path>) -> Result<Self, KnowledgeError> {
        let imported = corridor_hdmap::load_path(map_path, &ImportOptions::default())?;
        for w in &imported.report.warnings {
            tracing::warn!(map = %map_path.display(), "{w:?}");
        }
        let mut k = Self::from_map(imported.map);
        if let Some(path) = rules_path {
            let file = path.display().to_string();
            let text = std::fs::read_to_string(path)
                .map_err(|source| KnowledgeError::RulesIo { path: file.clone(), source })?;
            let set = corridor_rules::check(&text, &file, &corridor_rules::hdmap::facts(&k.map))
                .map_err(|d| KnowledgeError::Rules(d.render(false)))?;
            k.replace_rules(set)?;
        }
        Ok(k)
    }

    /// Builds the knowledge from cloud bundles, re-importing the map source and re-checking the
    /// rules; refuses a bundle whose content does not hash to the version it names.
    pub fn from_bundles(
        map: &corridor_wire::control::MapBundle,
        rules: Option<&corridor_wire::control::RulesBundle>,
    ) -> Result<Self, KnowledgeError> {
        let format = corridor_hdmap::format_of(&map.file_name)
            .ok_or_else(|| corridor_hdmap::ImportError::UnknownFormat { file: map.file_name.clone() })?;
        let opts = ImportOptions { origin: map.origin.map(|[lat, lon]| corridor_model::GeoPoint::new(lat, lon)) };
        let imported = corridor_hdmap::import_bytes(format, &map.file_name, &map.source, &opts)?;
        let mut k = Self::from_map(imported.map);
        if k.version != map.version {
            return Err(KnowledgeError::HashMismatch {
                what: "map",
                file: map.file_name.clone(),
                claimed: map.version,
                actual: k.version,
            });
        }
        if let Some(r) = rules {
            let set = corridor_rules::check(&r.source, &r.file_name, &corridor_rules::hdmap::facts(&k.map))
                .map_err(|d| KnowledgeError::Rules(d.render(false)))?;
            k.replace_rules(set)?;
            let actual = k.rules_version().unwrap_or_default();
            if actual != r.version {
                return Err(KnowledgeError::HashMismatch {
                    what: "rules",
                    file: r.file_name.clone(),
                    claimed: r.version,
                    actual,
                });
            }
        }
        Ok(k)
    }

    /// The lane matcher.
    pub fn matcher(&self) -> &LaneMatcher {
        &self.matcher
    }

    /// Knowledge of a map with no rules yet.
    pub fn from_map(map: HdMap) -> Self {
        let version = map.version();
        let matcher = LaneMatcher::new(&map);
        Self { map, version, matcher, rules: None }
    }

    /// Puts a rule set in force if it was validated against this map's version; otherwise
    /// refuses it and keeps the rules in force.
    pub fn replace_rules(&mut self, set: RuleSet) -> Result<(), KnowledgeError> {
        self.rules = Some(CompiledRules::load(set, &self.version)?);
        Ok(())
    }

    /// The map's content hash.
    pub fn map_version(&self) -> MapVersion {
        self.version
    }

    /// The version of the rules in force.
    pub fn rules_version(&self) -> Option<MapVersion> {
        self.rules.as_ref().map(CompiledRules::version)
    }

    /// The rules in force.
    pub fn rules(&self) -> Option<&CompiledRules> {
        self.rules.as_ref()
    }

    /// The map.
    pub fn map(&self) -> &HdMap {
        &self.map
    }

    /// Sets each object's `lane` from its position and heading (`None` off the map).
    pub fn match_lanes(&self, objects: &mut [TrackedObject]) {
        for o in objects {
            let heading = (o.speed_mps() > 1.0).then_some(o.heading_rad);
            o.lane = self.matcher.match_position(o.position_m.x, o.position_m.y, heading).map(|m| m.lane);
        }
    }
}
