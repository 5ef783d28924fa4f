//! Maps and rules the vehicle holds, by version: import, verify, index, cache on disk.
//!
//! A [`MapBundle`] carries the map's source file; [`Knowledge::from_map_bundle`] imports it
//! with `corridor-hdmap` and refuses it unless the imported map's content hash equals the
//! bundle's `version` (a corrupt or substituted map never reaches a query). A
//! [`RulesBundle`] is checked against that map with `corridor-rules` and loaded only if it
//! hashes to its announced version and was made for that map.
//!
//! [`MapStore`] keeps the knowledge per `(intersection, map version)` and, given a cache
//! directory, writes each accepted bundle there as its wire bytes
//! (`{dir}/{intersection}/map-{version}.bin`, `rules-{map}-{rules}.bin`). Loading from disk
//! goes through the same checks, so a cache file that was altered is refused (and removed)
//! rather than trusted: the file name is the hash the content must match.

use corridor_hdmap::{HdMap, ImportOptions, LaneMatcher, Manoeuvre};
use corridor_model::{GeoPoint, IntersectionId, LaneId, MapVersion};
use corridor_rules::{CompiledRules, RuleSet};
use corridor_wire::control::{MapBundle, RulesBundle};
use corridor_wire::{decode, Limits};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a map or rules bundle was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KnowledgeError {
    /// The bundle did not decode (envelope, kind, payload validation).
    #[error("{what}: does not decode: {source}")]
    Decode {
        /// `map bundle` or `rules bundle`.
        what: &'static str,
        /// The codec's error.
        source: corridor_wire::DecodeError,
    },
    /// The map's file name has no known importer.
    #[error("map bundle for {intersection}: file name `{file_name}` has no known format")]
    UnknownFormat {
        /// The intersection.
        intersection: IntersectionId,
        /// The file name in the bundle.
        file_name: String,
    },
    /// The map source did not import.
    #[error("map bundle for {intersection}: {source}")]
    Import {
        /// The intersection.
        intersection: IntersectionId,
        /// The importer's error (file:line).
        source: Box<corridor_hdmap::ImportError>,
    },
    /// The imported map does not hash to the announced version.
    #[error("map bundle for {intersection}: announced version {announced} but the source imports to {actual}")]
    MapHashMismatch {
        /// The intersection.
        intersection: IntersectionId,
        /// The version in the bundle.
        announced: MapVersion,
        /// The imported map's content hash.
        actual: MapVersion,
    },
    /// Rules arrived for a map this vehicle does not hold.
    #[error("rules for {intersection} were made for map {map_version}, which is not held")]
    MapNotHeld {
        /// The intersection.
        intersection: IntersectionId,
        /// The map version the rules name.
        map_version: MapVersion,
    },
    /// The rules source is invalid against the map (every diagnostic, `file:line:col`).
    #[error("rules for {intersection} are invalid:\n{diagnostics}")]
    RulesInvalid {
        /// The intersection.
        intersection: IntersectionId,
        /// Rendered diagnostics.
        diagnostics: String,
    },
    /// The rules do not hash to the announced version, or were made for another map.
    #[error("rules for {intersection}: {source}")]
    RulesLoad {
        /// The intersection.
        intersection: IntersectionId,
        /// The loader's error.
        source: corridor_rules::LoadError,
    },
    /// The verifier refused a cloud reply (unsigned, unknown key, bad signature, not a cloud
    /// certificate, expired, revoked).
    #[error("{what}: refused by the verifier: {reason}")]
    Unverified {
        /// `map bundle` or `rules bundle`.
        what: &'static str,
        /// The verifier's reason label.
        reason: &'static str,
    },
    /// The cache directory could not be read or written.
    #[error("map cache {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// One intersection's map at one version, indexed for queries, with the rules in force for it.
#[derive(Debug)]
pub struct Knowledge {
    /// The intersection.
    pub intersection: IntersectionId,
    /// The map.
    pub map: HdMap,
    /// Its content hash.
    pub version: MapVersion,
    /// Lane matcher over the map.
    pub matcher: LaneMatcher,
    /// Rules made for this map, if any were received.
    pub rules: Option<CompiledRules>,
    /// For each lane index: indices (into `map.connections`) of connections leaving it.
    pub(crate) from_lane: Vec<Vec<usize>>,
    /// For each lane index: the connection whose internal (`via`) lanes include it.
    pub(crate) via_of: Vec<Option<usize>>,
    /// For each connection: its corridor (ingress tail, via lanes, egress head) as polylines
    /// with half widths, for "what is in my path".
    pub(crate) corridors: Vec<Vec<CorridorPiece>>,
    /// Axis-aligned bounds of all lanes, ENU metres: `[min_x, min_y, max_x, max_y]`.
    pub bounds_m: [f64; 4],
}

/// One polyline of a connection's corridor.
#[derive(Debug, Clone)]
pub(crate) struct CorridorPiece {
    pub(crate) lane: LaneId,
    pub(crate) points: Vec<[f64; 2]>,
    pub(crate) half_width_m: f64,
    /// Bounds grown by the half width.
    pub(crate) bounds: [f64; 4],
}

fn half_width(lane: &corridor_hdmap::Lane) -> f64 {
    lane.width_m.iter().copied().fold(0.0, f64::max).max(1.0) / 2.0
}

fn bounds_of(points: &[[f64; 2]], grow: f64) -> [f64; 4] {
    let mut b = [f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY];
    for p in points {
        b = [b[0].min(p[0]), b[1].min(p[1]), b[2].max(p[0]), b[3].max(p[1])];
    }
    [b[0] - grow, b[1] - grow, b[2] + grow, b[3] + grow]
}

impl Knowledge {
    /// Indexes a map (already imported and trusted) for queries.
    pub fn from_map(intersection: IntersectionId, map: HdMap) -> Self {
        let version = map.version();
        let matcher = LaneMatcher::new(&map);
        let lane_index: HashMap<&LaneId, usize> = map.lanes.iter().enumerate().map(|(i, l)| (&l.id, i)).collect();
        let mut from_lane = vec![Vec::new(); map.lanes.len()];
        let mut via_of = vec![None; map.lanes.len()];
        let mut corridors = Vec::with_capacity(map.connections.len());
        for (ci, c) in map.connections.iter().enumerate() {
            if let Some(&li) = lane_index.get(&c.ingress) {
                from_lane[li].push(ci);
            }
            let mut pieces = Vec::new();
            let mut push = |id: &LaneId, tail: Option<bool>| {
                if let Some(lane) = lane_index.get(id).and_then(|&i| map.lanes.get(i)) {
                    let pts = &lane.centre_line_m;
                    // the ingress's last 30 m and the egress's first 30 m: the part in front of the ego
                    let points: Vec<[f64; 2]> = match tail {
                        Some(true) => trim(pts, 30.0, true),
                        Some(false) => trim(pts, 30.0, false),
                        None => pts.clone(),
                    };
                    if points.len() >= 2 {
                        let hw = half_width(lane);
                        let bounds = bounds_of(&points, hw);
                        pieces.push(CorridorPiece { lane: id.clone(), points, half_width_m: hw, bounds });
                    }
                }
            };
            push(&c.ingress, Some(true));
            for v in &c.via {
                if let Some(&li) = lane_index.get(v) {
                    via_of[li] = Some(ci);
                }
                push(v, None);
            }
            push(&c.egress, Some(false));
            corridors.push(pieces);
        }
        let all: Vec<[f64; 2]> = map.lanes.iter().flat_map(|l| l.centre_line_m.iter().copied()).collect();
        let bounds_m = if all.is_empty() { [0.0; 4] } else { bounds_of(&all, 5.0) };
        Self { intersection, map, version, matcher, rules: None, from_lane, via_of, corridors, bounds_m }
    }

    /// Imports and verifies a map bundle (already decoded).
    pub fn from_map_bundle(bundle: &MapBundle) -> Result<Self, KnowledgeError> {
        let ix = bundle.intersection.clone();
        let format = corridor_hdmap::format_of(&bundle.file_name).ok_or_else(|| KnowledgeError::UnknownFormat {
            intersection: ix.clone(),
            file_name: bundle.file_name.clone(),
        })?;
        let opts = ImportOptions { origin: bundle.origin.map(|[lat, lon]| GeoPoint::new(lat, lon)) };
        let imported = corridor_hdmap::import_bytes(format, &bundle.file_name, &bundle.source, &opts)
            .map_err(|e| KnowledgeError::Import { intersection: ix.clone(), source: Box::new(e) })?;
        let actual = imported.map.version();
        if actual != bundle.version {
            return Err(KnowledgeError::MapHashMismatch { intersection: ix, announced: bundle.version, actual });
        }
        Ok(Self::from_map(ix, imported.map))
    }

    /// Checks a rules bundle against this map and puts it in force.
    pub fn load_rules_bundle(&mut self, bundle: &RulesBundle) -> Result<(), KnowledgeError> {
        let ix = self.intersection.clone();
        if bundle.map_version != self.version {
            return Err(KnowledgeError::MapNotHeld { intersection: ix, map_version: bundle.map_version });
        }
        let set = corridor_rules::check(&bundle.source, &bundle.file_name, &corridor_rules::hdmap::facts(&self.map))
            .map_err(|d| KnowledgeError::RulesInvalid { intersection: ix.clone(), diagnostics: d.render(false) })?;
        self.load_rule_set(set, Some(&bundle.version))
    }

    /// Puts a checked rule set in force (refused if made for another map, or if it does not hash
    /// to `expected`).
    pub fn load_rule_set(&mut self, set: RuleSet, expected: Option<&MapVersion>) -> Result<(), KnowledgeError> {
        let ix = self.intersection.clone();
        let compiled = match expected {
            Some(v) => CompiledRules::load_verified(set, v, &self.version),
            None => CompiledRules::load(set, &self.version),
        }
        .map_err(|source| KnowledgeError::RulesLoad { intersection: ix, source })?;
        self.rules = Some(compiled);
        Ok(())
    }

    /// The rules version in force.
    pub fn rules_version(&self) -> Option<MapVersion> {
        self.rules.as_ref().map(CompiledRules::version)
    }

    /// Whether a point (map ENU) lies within the map's lane bounds.
    pub fn contains(&self, x: f64, y: f64) -> bool {
        let b = self.bounds_m;
        x >= b[0] && x <= b[2] && y >= b[1] && y <= b[3]
    }

    /// The rules-language manoeuvre of a map manoeuvre.
    pub(crate) fn rules_manoeuvre(m: Manoeuvre) -> Option<corridor_rules::Manoeuvre> {
        match m {
            Manoeuvre::Straight => Some(corridor_rules::Manoeuvre::Straight),
            Manoeuvre::Left => Some(corridor_rules::Manoeuvre::Left),
            Manoeuvre::Right => Some(corridor_rules::Manoeuvre::Right),
            Manoeuvre::UTurn => Some(corridor_rules::Manoeuvre::UTurn),
            Manoeuvre::Unknown => None,
        }
    }
}

/// The last (`tail`) or first `len_m` metres of a polyline.
fn trim(pts: &[[f64; 2]], len_m: f64, tail: bool) -> Vec<[f64; 2]> {
    let mut out = Vec::new();
    let mut acc = 0.0;
    let iter: Box<dyn Iterator<Item = &[f64; 2]>> =
        if tail { Box::new(pts.iter().rev()) } else { Box::new(pts.iter()) };
    let mut prev: Option<[f64; 2]> = None;
    for p in iter {
        if let Some(q) = prev {
            acc += corridor_hdmap::geom::dist(q, *p);
        }
        out.push(*p);
        prev = Some(*p);
        if acc >= len_m {
            break;
        }
    }
    if tail {
        out.reverse();
    }
    out
}

/// Decodes a map bundle from its wire bytes.
pub fn decode_map_bundle(bytes: &[u8]) -> Result<MapBundle, KnowledgeError> {
    let limits = Limits { max_message_bytes: corridor_wire::control::MAX_MAP_SOURCE + 64 * 1024 };
    decode::<MapBundle>(bytes, limits)
        .map(|(_, b)| b)
        .map_err(|source| KnowledgeError::Decode { what: "map bundle", source })
}

/// Decodes a rules bundle from its wire bytes.
pub fn decode_rules_bundle(bytes: &[u8]) -> Result<RulesBundle, KnowledgeError> {
    let limits = Limits { max_message_bytes: corridor_wire::control::MAX_RULES_SOURCE + 64 * 1024 };
    decode::<RulesBundle>(bytes, limits)
        .map(|(_, b)| b)
        .map_err(|source| KnowledgeError::Decode { what: "rules bundle", source })
}

/// Every map (and its rules) held, by intersection and version; optionally cached on disk.
#[derive(Debug, Default)]
pub struct MapStore {
    held: HashMap<(IntersectionId, MapVersion), Arc<Knowledge>>,
    cache_dir: Option<PathBuf>,
}

impl MapStore {
    /// A store, caching on disk under `cache_dir` if given (created on first write).
    pub fn new(cache_dir: Option<PathBuf>) -> Self {
        Self { held: HashMap::new(), cache_dir }
    }

    /// The knowledge of `intersection` at map `version`, if held.
    pub fn get(&self, intersection: &IntersectionId, version: &MapVersion) -> Option<&Arc<Knowledge>> {
        self.held.get(&(intersection.clone(), *version))
    }

    /// Every held knowledge of an intersection (any version).
    pub fn of(&self, intersection: &IntersectionId) -> impl Iterator<Item = &Arc<Knowledge>> {
        let ix = intersection.clone();
        self.held.iter().filter(move |((i, _), _)| *i == ix).map(|(_, k)| k)
    }

    /// Puts knowledge in the store (replacing the same version).
    pub fn insert(&mut self, k: Knowledge) -> Arc<Knowledge> {
        let k = Arc::new(k);
        self.held.insert((k.intersection.clone(), k.version), Arc::clone(&k));
        k
    }

    /// Forgets every version of an intersection except `keep`.
    pub fn retain_versions(&mut self, intersection: &IntersectionId, keep: &[MapVersion]) {
        self.held.retain(|(i, v), _| i != intersection || keep.contains(v));
    }

    /// Accepts a map bundle's wire bytes: decode, import, verify the hash, index, cache.
    pub fn accept_map_bytes(&mut self, bytes: &[u8]) -> Result<Arc<Knowledge>, KnowledgeError> {
        let bundle = decode_map_bundle(bytes)?;
        let mut k = Knowledge::from_map_bundle(&bundle)?;
        if let Some(old) = self.get(&bundle.intersection, &bundle.version) {
            // keep the rules already in force for this very map
            if let Some(r) = &old.rules {
                k.rules = Some(r.clone());
            }
        }
        self.write_cache(&bundle.intersection, &format!("map-{}.bin", bundle.version.to_hex()), bytes)?;
        Ok(self.insert(k))
    }

    /// Accepts a rules bundle's wire bytes for a map already held.
    pub fn accept_rules_bytes(&mut self, bytes: &[u8]) -> Result<Arc<Knowledge>, KnowledgeError> {
        let bundle = decode_rules_bundle(bytes)?;
        let key = (bundle.intersection.clone(), bundle.map_version);
        let Some(held) = self.held.get(&key) else {
            return Err(KnowledgeError::MapNotHeld {
                intersection: bundle.intersection,
                map_version: bundle.map_version,
            });
        };
        // rebuild the index around the new rules (maps are immutable once shared)
        let mut k = Knowledge::from_map(held.intersection.clone(), held.map.clone());
        k.load_rules_bundle(&bundle)?;
        let name = format!("rules-{}-{}.bin", bundle.map_version.to_hex(), bundle.version.to_hex());
        self.write_cache(&bundle.intersection, &name, bytes)?;
        Ok(self.insert(k))
    }

    /// Loads a map (and its newest cached rules) from the disk cache, verifying both.
    /// `Ok(None)` when not cached; a cached file that fails verification is removed and
    /// reported as the error.
    pub fn load_cached(
        &mut self,
        intersection: &IntersectionId,
        version: &MapVersion,
    ) -> Result<Option<Arc<Knowledge>>, KnowledgeError> {
        let Some(dir) = self.dir_of(intersection) else { return Ok(None) };
        let path = dir.join(format!("map-{}.bin", version.to_hex()));
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(KnowledgeError::Io { path, source }),
        };
        let checked = decode_map_bundle(&bytes).and_then(|b| {
            if &b.version != version || &b.intersection != intersection {
                return Err(KnowledgeError::MapHashMismatch {
                    intersection: intersection.clone(),
                    announced: *version,
                    actual: b.version,
                });
            }
            Knowledge::from_map_bundle(&b)
        });
        let mut k = match checked {
            Ok(k) => k,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "refusing a cached map; removing it");
                let _ = std::fs::remove_file(&path);
                return Err(e);
            }
        };
        let prefix = format!("rules-{}-", version.to_hex());
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with(&prefix) {
                    let ok = std::fs::read(entry.path())
                        .ok()
                        .and_then(|b| decode_rules_bundle(&b).ok())
                        .map(|b| k.load_rules_bundle(&b));
                    if !matches!(ok, Some(Ok(()))) {
                        tracing::warn!(path = %entry.path().display(), "refusing cached rules; removing them");
                        let _ = std::fs::remove_file(entry.path());
                    }
                }
            }
        }
        Ok(Some(self.insert(k)))
    }

    fn dir_of(&self, intersection: &IntersectionId) -> Option<PathBuf> {
        self.cache_dir.as_ref().map(|d| d.join(intersection.as_str()))
    }

    fn write_cache(&self, intersection: &IntersectionId, name: &str, bytes: &[u8]) -> Result<(), KnowledgeError> {
        let Some(dir) = self.dir_of(intersection) else { return Ok(()) };
        std::fs::create_dir_all(&dir).map_err(|source| KnowledgeError::Io { path: dir.clone(), source })?;
        let path = dir.join(name);
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, bytes).map_err(|source| KnowledgeError::Io { path: tmp.clone(), source })?;
        std::fs::rename(&tmp, &path).map_err(|source| KnowledgeError::Io { path, source })
    }

    /// The cache directory, if any.
    pub fn cache_dir(&self) -> Option<&Path> {
        self.cache_dir.as_deref()
    }
}
