//! The RSU's on-disk cache of the map and rules fetched from the cloud.
//!
//! ```text
//! {cache_dir}/{intersection}/map-{hex}.bin     encoded MapBundle envelope, as the cloud served it
//! {cache_dir}/{intersection}/rules-{hex}.bin   encoded RulesBundle envelope
//! {cache_dir}/{intersection}/current.json      {"map": hex, "rules": hex|null}: the versions in force
//! ```
//! Files are written to a temporary name, synced, then renamed, so a crash
//! leaves the old file or the new one, never half of one. On load every bundle
//! is decoded and re-imported and must hash to its version
//! ([`MapKnowledge::from_bundles`]); a file that does not is deleted and
//! reported as corrupt, so the sync fetches it again.

use corridor_model::{IntersectionId, MapVersion};
use corridor_wire::control::{MapBundle, RulesBundle};
use corridor_wire::{decode, Limits};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::knowledge::{KnowledgeError, MapKnowledge};

/// Decode limit for cached and fetched bundles (maps up to 32 MiB of source).
pub const BUNDLE_LIMITS: Limits = Limits { max_message_bytes: 40 * 1024 * 1024 };

/// The versions in force, as recorded in `current.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Current {
    /// Map version.
    pub map: MapVersion,
    /// Rules version.
    pub rules: Option<MapVersion>,
}

/// Why the cache could not give knowledge.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// File IO.
    #[error("cache {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A cached file failed its check (decode or content hash); it was deleted.
    #[error("cache {path} is corrupt ({detail}); deleted, it will be fetched again")]
    Corrupt {
        /// The file.
        path: String,
        /// What failed.
        detail: String,
    },
}

/// One intersection's cache directory.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// The cache of `intersection` under `cache_dir` (created if missing).
    pub fn open(cache_dir: &Path, intersection: &IntersectionId) -> Result<Cache, CacheError> {
        let dir = cache_dir.join(intersection.as_str());
        std::fs::create_dir_all(&dir).map_err(|source| CacheError::Io { path: dir.display().to_string(), source })?;
        Ok(Cache { dir })
    }

    /// The map file of a version.
    pub fn map_path(&self, v: &MapVersion) -> PathBuf {
        self.dir.join(format!("map-{}.bin", v.to_hex()))
    }

    /// The rules file of a version.
    pub fn rules_path(&self, v: &MapVersion) -> PathBuf {
        self.dir.join(format!("rules-{}.bin", v.to_hex()))
    }

    fn current_path(&self) -> PathBuf {
        self.dir.join("current.json")
    }

    /// Writes a file atomically (temp file, fsync, rename).
    fn write(&self, path: &Path, bytes: &[u8]) -> Result<(), CacheError> {
        let io = |source| CacheError::Io { path: path.display().to_string(), source };
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(bytes).map_err(io)?;
        f.sync_all().map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Stores encoded bundles exactly as the cloud served them.
    pub fn store(&self, map: (&MapVersion, &[u8]), rules: Option<(&MapVersion, &[u8])>) -> Result<(), CacheError> {
        self.write(&self.map_path(map.0), map.1)?;
        if let Some((v, bytes)) = rules {
            self.write(&self.rules_path(v), bytes)?;
        }
        Ok(())
    }

    /// Records the versions in force.
    pub fn set_current(&self, c: Current) -> Result<(), CacheError> {
        let json = serde_json::to_vec(&c).unwrap_or_default();
        self.write(&self.current_path(), &json)
    }

    /// The versions in force, if recorded.
    pub fn current(&self) -> Option<Current> {
        let bytes = std::fs::read(self.current_path()).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The raw bytes of a cached version, if present.
    pub fn read(&self, path: &Path) -> Option<Vec<u8>> {
        std::fs::read(path).ok()
    }

    fn corrupt(&self, path: &Path, detail: impl ToString) -> CacheError {
        let _ = std::fs::remove_file(path);
        tracing::warn!(file = %path.display(), detail = %detail.to_string(), "corrupt cache file deleted");
        CacheError::Corrupt { path: path.display().to_string(), detail: detail.to_string() }
    }

    /// Loads and verifies a version from the cache: `Ok(None)` if a file is missing,
    /// `Err(Corrupt)` (file deleted) if one fails its check.
    pub fn load(&self, c: Current) -> Result<Option<MapKnowledge>, CacheError> {
        let map_path = self.map_path(&c.map);
        let Some(map_bytes) = self.read(&map_path) else { return Ok(None) };
        let map = match decode::<MapBundle>(&map_bytes, BUNDLE_LIMITS) {
            Ok((_, m)) if m.version == c.map => m,
            Ok((_, m)) => return Err(self.corrupt(&map_path, format!("holds version {}", m.version.short()))),
            Err(e) => return Err(self.corrupt(&map_path, e)),
        };
        let rules = match c.rules {
            None => None,
            Some(v) => {
                let path = self.rules_path(&v);
                let Some(bytes) = self.read(&path) else { return Ok(None) };
                match decode::<RulesBundle>(&bytes, BUNDLE_LIMITS) {
                    Ok((_, r)) if r.version == v => Some(r),
                    Ok(_) => return Err(self.corrupt(&path, "holds another version")),
                    Err(e) => return Err(self.corrupt(&path, e)),
                }
            }
        };
        match MapKnowledge::from_bundles(&map, rules.as_ref()) {
            Ok(k) => Ok(Some(k)),
            Err(e @ KnowledgeError::HashMismatch { what: "rules", .. }) => {
                Err(self.corrupt(&self.rules_path(&c.rules.unwrap_or_default()), e))
            }
            Err(KnowledgeError::Rules(d)) => Err(self.corrupt(&self.rules_path(&c.rules.unwrap_or_default()), d)),
            Err(e) => Err(self.corrupt(&map_path, e)),
        }
    }

    /// Loads the versions in force, if the cache has them intact.
    pub fn load_current(&self) -> Result<Option<(Current, MapKnowledge)>, CacheError> {
        let Some(c) = self.current() else { return Ok(None) };
        Ok(self.load(c)?.map(|k| (c, k)))
    }
}
