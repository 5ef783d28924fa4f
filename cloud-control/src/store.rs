//! The cloud's embedded database (redb: a pure-Rust, ACID, single-file store;
//! every write below is one transaction, durable when `commit` returns).
//!
//! ```text
//! maps     "ix/hex(version)"  -> encoded MapBundle envelope (served as is)
//! rules    "ix/hex(version)"  -> encoded RulesBundle envelope
//! current  "ix"               -> JSON CatalogEntry (the version in force)
//! history  ("ix", n)          -> JSON HistoryEntry (every version that was current, in order)
//! meta     "revision"         -> catalog revision (+1 per change)
//! events   EventId (u128)     -> encoded Event envelope (insert-if-absent: idempotent)
//! ```
//! Only [`Store`] touches redb; the rest of the crate sees typed values.

use corridor_model::{Event, EventId, IntersectionId, MapVersion, RegionId, Timestamp};
use corridor_wire::control::{Catalog, CatalogEntry, MapBundle, RulesBundle};
use corridor_wire::{decode, encode, Header, Limits, PayloadKind};
use redb::{Database, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::path::Path;

use crate::validate::Validated;

const MAPS: TableDefinition<&str, &[u8]> = TableDefinition::new("maps");
const RULES: TableDefinition<&str, &[u8]> = TableDefinition::new("rules");
const CURRENT: TableDefinition<&str, &str> = TableDefinition::new("current");
const HISTORY: TableDefinition<(&str, u64), &str> = TableDefinition::new("history");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const EVENTS: TableDefinition<u128, &[u8]> = TableDefinition::new("events");

/// The decode limit for stored and served control payloads (maps up to 32 MiB of source).
pub const CONTROL_LIMITS: Limits = Limits { max_message_bytes: 40 * 1024 * 1024 };

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database could not be opened (e.g. another process holds it).
    #[error("database {path}: {source}")]
    Open {
        /// The file.
        path: String,
        /// redb's error.
        source: redb::DatabaseError,
    },
    /// A transaction failed.
    #[error("database: {0}")]
    Db(String),
    /// A stored value did not decode (the file is damaged).
    #[error("database: stored {what} does not decode: {detail}")]
    Corrupt {
        /// Which value.
        what: String,
        /// Why.
        detail: String,
    },
    /// Rollback to a version the intersection never had.
    #[error("intersection {intersection} has no version starting with `{to}` in its history")]
    UnknownVersion {
        /// The intersection.
        intersection: IntersectionId,
        /// The requested version (hex prefix).
        to: String,
    },
    /// The version prefix matches more than one version.
    #[error("`{to}` matches more than one version of {intersection}: give more hex digits")]
    Ambiguous {
        /// The intersection.
        intersection: IntersectionId,
        /// The requested prefix.
        to: String,
    },
}

fn dberr<E: std::fmt::Display>(e: E) -> StoreError {
    StoreError::Db(e.to_string())
}

/// One entry of an intersection's history: a version that was made current.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The map version.
    pub map_version: MapVersion,
    /// The rules version.
    pub rules_version: Option<MapVersion>,
    /// When it became current.
    pub since: Timestamp,
    /// `publish` or `rollback`.
    pub action: String,
}

/// The cloud's database.
pub struct Store {
    db: Database,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

fn vkey(ix: &IntersectionId, v: &MapVersion) -> String {
    format!("{ix}/{}", v.to_hex())
}

impl Store {
    /// Opens (or creates) the database file `path` and its tables.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let db =
            Database::create(path).map_err(|source| StoreError::Open { path: path.display().to_string(), source })?;
        let w = db.begin_write().map_err(dberr)?;
        {
            w.open_table(MAPS).map_err(dberr)?;
            w.open_table(RULES).map_err(dberr)?;
            w.open_table(CURRENT).map_err(dberr)?;
            w.open_table(HISTORY).map_err(dberr)?;
            w.open_table(META).map_err(dberr)?;
            w.open_table(EVENTS).map_err(dberr)?;
        }
        w.commit().map_err(dberr)?;
        Ok(Store { db })
    }

    /// Stores a validated map (and rules) and makes it the intersection's current version,
    /// in one transaction. Returns the new catalog entry.
    pub fn publish(&self, v: &Validated, now: Timestamp) -> Result<CatalogEntry, StoreError> {
        let ix = v.map.intersection.clone();
        let map_bytes = encode(&Header::new(PayloadKind::Map, "cloud-control", 0, now, now), &v.map).map_err(dberr)?;
        let rules_bytes = match &v.rules {
            Some(r) => Some(encode(&Header::new(PayloadKind::Rules, "cloud-control", 0, now, now), r).map_err(dberr)?),
            None => None,
        };
        let entry = CatalogEntry {
            intersection: ix.clone(),
            map_version: v.map.version,
            rules_version: v.rules.as_ref().map(|r| r.version),
            since: now,
        };
        let w = self.db.begin_write().map_err(dberr)?;
        {
            w.open_table(MAPS)
                .map_err(dberr)?
                .insert(vkey(&ix, &v.map.version).as_str(), map_bytes.as_slice())
                .map_err(dberr)?;
            if let (Some(r), Some(bytes)) = (&v.rules, &rules_bytes) {
                w.open_table(RULES)
                    .map_err(dberr)?
                    .insert(vkey(&ix, &r.version).as_str(), bytes.as_slice())
                    .map_err(dberr)?;
            }
            make_current(&w, &entry, "publish")?;
        }
        w.commit().map_err(dberr)?;
        Ok(entry)
    }

    /// Makes an earlier version current again: the latest history entry whose map or rules
    /// version starts with `to` (hex).
    pub fn rollback(&self, ix: &IntersectionId, to: &str, now: Timestamp) -> Result<CatalogEntry, StoreError> {
        let to_l = to.to_ascii_lowercase();
        let history = self.history(ix)?;
        let matches = |h: &HistoryEntry| {
            !to_l.is_empty()
                && (h.map_version.to_hex().starts_with(&to_l)
                    || h.rules_version.is_some_and(|r| r.to_hex().starts_with(&to_l)))
        };
        let found: Vec<&HistoryEntry> = history.iter().filter(|h| matches(h)).collect();
        let distinct: std::collections::BTreeSet<_> =
            found.iter().map(|h| (h.map_version.to_hex(), h.rules_version.map(|r| r.to_hex()))).collect();
        if distinct.len() > 1 {
            return Err(StoreError::Ambiguous { intersection: ix.clone(), to: to.to_owned() });
        }
        let h =
            found.last().ok_or_else(|| StoreError::UnknownVersion { intersection: ix.clone(), to: to.to_owned() })?;
        let entry = CatalogEntry {
            intersection: ix.clone(),
            map_version: h.map_version,
            rules_version: h.rules_version,
            since: now,
        };
        let w = self.db.begin_write().map_err(dberr)?;
        make_current(&w, &entry, "rollback")?;
        w.commit().map_err(dberr)?;
        Ok(entry)
    }

    /// The catalog: every intersection's current versions and the revision.
    pub fn catalog(&self, region: &RegionId) -> Result<Catalog, StoreError> {
        let r = self.db.begin_read().map_err(dberr)?;
        let revision =
            r.open_table(META).map_err(dberr)?.get("revision").map_err(dberr)?.map(|v| v.value()).unwrap_or(0);
        let mut entries = Vec::new();
        for item in r.open_table(CURRENT).map_err(dberr)?.iter().map_err(dberr)? {
            let (_, v) = item.map_err(dberr)?;
            entries.push(parse_json::<CatalogEntry>("catalog entry", v.value())?);
        }
        entries.sort_by(|a, b| a.intersection.cmp(&b.intersection));
        Ok(Catalog { region: region.clone(), revision, entries })
    }

    /// The current entry of one intersection.
    pub fn current(&self, ix: &IntersectionId) -> Result<Option<CatalogEntry>, StoreError> {
        let r = self.db.begin_read().map_err(dberr)?;
        let t = r.open_table(CURRENT).map_err(dberr)?;
        let v = t.get(ix.as_str()).map_err(dberr)?;
        v.map(|v| parse_json("catalog entry", v.value())).transpose()
    }

    /// Every version the intersection had, oldest first.
    pub fn history(&self, ix: &IntersectionId) -> Result<Vec<HistoryEntry>, StoreError> {
        let r = self.db.begin_read().map_err(dberr)?;
        let t = r.open_table(HISTORY).map_err(dberr)?;
        let mut out = Vec::new();
        for item in t.range((ix.as_str(), 0)..=(ix.as_str(), u64::MAX)).map_err(dberr)? {
            let (_, v) = item.map_err(dberr)?;
            out.push(parse_json("history entry", v.value())?);
        }
        Ok(out)
    }

    /// The encoded map bundle of a version (`None`: the current one), as served.
    pub fn map_bytes(&self, ix: &IntersectionId, version: Option<MapVersion>) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(v) = self.resolve(ix, version, |e| Some(e.map_version))? else { return Ok(None) };
        self.get_bytes(MAPS, &vkey(ix, &v))
    }

    /// The encoded rules bundle of a version (`None`: the current one), as served.
    pub fn rules_bytes(&self, ix: &IntersectionId, version: Option<MapVersion>) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(v) = self.resolve(ix, version, |e| e.rules_version)? else { return Ok(None) };
        self.get_bytes(RULES, &vkey(ix, &v))
    }

    /// A map bundle, decoded.
    pub fn map(&self, ix: &IntersectionId, version: Option<MapVersion>) -> Result<Option<MapBundle>, StoreError> {
        self.map_bytes(ix, version)?
            .map(|b| decode::<MapBundle>(&b, CONTROL_LIMITS).map(|(_, m)| m).map_err(|e| corrupt("map", e)))
            .transpose()
    }

    /// A rules bundle, decoded.
    pub fn rules(&self, ix: &IntersectionId, version: Option<MapVersion>) -> Result<Option<RulesBundle>, StoreError> {
        self.rules_bytes(ix, version)?
            .map(|b| decode::<RulesBundle>(&b, CONTROL_LIMITS).map(|(_, m)| m).map_err(|e| corrupt("rules", e)))
            .transpose()
    }

    fn resolve(
        &self,
        ix: &IntersectionId,
        version: Option<MapVersion>,
        pick: impl Fn(&CatalogEntry) -> Option<MapVersion>,
    ) -> Result<Option<MapVersion>, StoreError> {
        match version {
            Some(v) => Ok(Some(v)),
            None => Ok(self.current(ix)?.as_ref().and_then(pick)),
        }
    }

    fn get_bytes(&self, table: TableDefinition<&str, &[u8]>, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let r = self.db.begin_read().map_err(dberr)?;
        let t = r.open_table(table).map_err(dberr)?;
        let v = t.get(key).map_err(dberr)?;
        Ok(v.map(|v| v.value().to_vec()))
    }

    /// Stores an event unless one with its id is stored already. Returns `true` if it was new.
    /// Durable when it returns `Ok`.
    pub fn insert_event(&self, event: &Event) -> Result<bool, StoreError> {
        let bytes = encode(&Header::new(PayloadKind::Event, event.rsu.as_str(), 0, event.time, event.time), event)
            .map_err(dberr)?;
        let w = self.db.begin_write().map_err(dberr)?;
        let new = {
            let mut t = w.open_table(EVENTS).map_err(dberr)?;
            let exists = t.get(event.id.0).map_err(dberr)?.is_some();
            if !exists {
                t.insert(event.id.0, bytes.as_slice()).map_err(dberr)?;
            }
            !exists
        };
        w.commit().map_err(dberr)?;
        Ok(new)
    }

    /// Every stored event, ordered by id.
    pub fn events(&self) -> Result<Vec<Event>, StoreError> {
        let r = self.db.begin_read().map_err(dberr)?;
        let t = r.open_table(EVENTS).map_err(dberr)?;
        let mut out = Vec::new();
        for item in t.iter().map_err(dberr)? {
            let (k, v) = item.map_err(dberr)?;
            let (_, e) = decode::<Event>(v.value(), CONTROL_LIMITS)
                .map_err(|e| corrupt(&format!("event {}", EventId(k.value())), e))?;
            out.push(e);
        }
        Ok(out)
    }

    /// How many events are stored.
    pub fn event_count(&self) -> Result<u64, StoreError> {
        let r = self.db.begin_read().map_err(dberr)?;
        let t = r.open_table(EVENTS).map_err(dberr)?;
        redb::ReadableTableMetadata::len(&t).map_err(dberr)
    }
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { what: what.to_owned(), detail: e.to_string() }
}

fn parse_json<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| corrupt(what, e))
}

fn make_current(w: &redb::WriteTransaction, entry: &CatalogEntry, action: &str) -> Result<(), StoreError> {
    let ix = entry.intersection.as_str();
    let json = serde_json::to_string(entry).map_err(dberr)?;
    w.open_table(CURRENT).map_err(dberr)?.insert(ix, json.as_str()).map_err(dberr)?;
    let mut h = w.open_table(HISTORY).map_err(dberr)?;
    let next = h
        .range((ix, 0)..=(ix, u64::MAX))
        .map_err(dberr)?
        .next_back()
        .transpose()
        .map_err(dberr)?
        .map(|(k, _)| k.value().1 + 1)
        .unwrap_or(0);
    let he = HistoryEntry {
        map_version: entry.map_version,
        rules_version: entry.rules_version,
        since: entry.since,
        action: action.to_owned(),
    };
    h.insert((ix, next), serde_json::to_string(&he).map_err(dberr)?.as_str()).map_err(dberr)?;
    let mut m = w.open_table(META).map_err(dberr)?;
    let rev = m.get("revision").map_err(dberr)?.map(|v| v.value()).unwrap_or(0);
    m.insert("revision", rev + 1).map_err(dberr)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use corridor_model::{EventKind, RsuId, Severity};

    fn ws(p: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(p)
    }

    fn validated(ix: &IntersectionId, limit: &str) -> Validated {
        let map = std::fs::read(ws("maps/demo-4arm/demo-4arm.net.xml")).unwrap();
        let rules = std::fs::read_to_string(ws("maps/demo-4arm/rules.toml")).unwrap().replacen(
            "effect.speed_limit_kmh = 50",
            &format!("effect.speed_limit_kmh = {limit}"),
            1,
        );
        crate::validate(ix, "demo-4arm.net.xml", map, None, Some(("rules.toml", rules))).unwrap()
    }

    fn event(rsu: &RsuId, n: u64) -> Event {
        Event {
            id: EventId::derive(rsu, n, EventKind::WrongWay),
            kind: EventKind::WrongWay,
            severity: Severity::Critical,
            intersection: "ix-a".parse().unwrap(),
            rsu: rsu.clone(),
            time: Timestamp::from_secs_f64(n as f64),
            position_m: Some([1.0, 2.0]),
            track: None,
            lane: None,
            signal_group: None,
            map_version: MapVersion::default(),
            detail: "x".into(),
        }
    }

    #[test]
    fn publish_rollback_catalog_and_events_persist_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cloud.redb");
        let ix: IntersectionId = "ix-a".parse().unwrap();
        let region: RegionId = "demo".parse().unwrap();
        let v1 = validated(&ix, "50");
        let v2 = validated(&ix, "60");
        let r1 = v1.rules.as_ref().unwrap().version;
        let r2 = v2.rules.as_ref().unwrap().version;
        assert_ne!(r1, r2);
        let rsu: RsuId = "rsu-a".parse().unwrap();
        {
            let s = Store::open(&path).unwrap();
            assert_eq!(s.catalog(&region).unwrap().revision, 0);
            s.publish(&v1, Timestamp::from_secs_f64(1.0)).unwrap();
            s.publish(&v2, Timestamp::from_secs_f64(2.0)).unwrap();
            let c = s.catalog(&region).unwrap();
            assert_eq!((c.revision, c.entries.len()), (2, 1));
            assert_eq!(c.entries[0].rules_version, Some(r2));
            // both rules versions stay servable by version
            assert!(s.rules(&ix, Some(r1)).unwrap().is_some());
            assert_eq!(s.rules(&ix, None).unwrap().unwrap().version, r2);
            assert_eq!(s.map(&ix, None).unwrap().unwrap().version, v1.map.version);
            // events: idempotent by id
            assert!(s.insert_event(&event(&rsu, 1)).unwrap());
            assert!(!s.insert_event(&event(&rsu, 1)).unwrap());
            assert!(s.insert_event(&event(&rsu, 2)).unwrap());
            // a rollback to an unknown or ambiguous version changes nothing
            assert!(matches!(s.rollback(&ix, "ffffffff", Timestamp::EPOCH), Err(StoreError::UnknownVersion { .. })));
            let map_hex = v1.map.version.to_hex();
            assert!(matches!(s.rollback(&ix, &map_hex[..8], Timestamp::EPOCH), Err(StoreError::Ambiguous { .. })));
            assert_eq!(s.catalog(&region).unwrap().revision, 2);
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(s.event_count().unwrap(), 2);
        let e = s.rollback(&ix, &r1.to_hex()[..10], Timestamp::from_secs_f64(3.0)).unwrap();
        assert_eq!(e.rules_version, Some(r1));
        let c = s.catalog(&region).unwrap();
        assert_eq!((c.revision, c.entries[0].rules_version), (3, Some(r1)));
        let h = s.history(&ix).unwrap();
        assert_eq!(h.iter().map(|h| h.action.as_str()).collect::<Vec<_>>(), ["publish", "publish", "rollback"]);
        assert_eq!(s.events().unwrap().len(), 2);
    }
}
