//! The RSU's persisted event outbox (redb, `{cache_dir}/events.redb`).
//!
//! An event is written here (one transaction, durable on return) before it is
//! published or uploaded, and deleted only when the cloud has acknowledged it,
//! so a crash, a restart or a cloud outage loses nothing. The per-RSU event
//! counter that [`EventId::derive`] needs lives in the same database and is
//! bumped in the same transaction, so ids stay unique across restarts.
//!
//! ```text
//! queue  seq (u64)   -> encoded Event envelope, oldest first
//! meta   "counter"   -> events ever queued (the EventId counter)
//! ```

use corridor_model::{Event, EventId, IntersectionId, MapVersion, RsuId};
use corridor_wire::{encode, Header, PayloadKind};
use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};
use std::path::Path;

use crate::events::Found;

const QUEUE: TableDefinition<u64, &[u8]> = TableDefinition::new("queue");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// Why the outbox failed.
#[derive(Debug, thiserror::Error)]
#[error("event outbox: {0}")]
pub struct OutboxError(String);

fn err<E: std::fmt::Display>(e: E) -> OutboxError {
    OutboxError(e.to_string())
}

/// The outbox.
pub struct Outbox {
    db: Database,
    /// With `[security]`: every queued event is signed (the cloud verifies uploads).
    signer: std::sync::OnceLock<corridor_security::Signer>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Outbox")
    }
}

/// One queued event: its queue position, the event and its encoded form (what is uploaded).
#[derive(Debug, Clone)]
pub struct Queued {
    /// Queue position.
    pub seq: u64,
    /// The event.
    pub event: Event,
    /// The encoded envelope.
    pub bytes: Vec<u8>,
}

impl Outbox {
    /// Opens (or creates) the outbox file.
    pub fn open(path: &Path) -> Result<Outbox, OutboxError> {
        let db = Database::create(path).map_err(|e| OutboxError(format!("{}: {e}", path.display())))?;
        let w = db.begin_write().map_err(err)?;
        {
            w.open_table(QUEUE).map_err(err)?;
            w.open_table(META).map_err(err)?;
        }
        w.commit().map_err(err)?;
        Ok(Outbox { db, signer: std::sync::OnceLock::new() })
    }

    /// Signs every event queued from now on (set once, at start, from the RSU's `[security]`).
    pub fn set_signer(&self, signer: corridor_security::Signer) {
        let _ = self.signer.set(signer);
    }

    /// Gives a found event its id and queues it durably (signed, with a signer). Returns the event.
    pub fn push(
        &self,
        rsu: &RsuId,
        intersection: &IntersectionId,
        map_version: MapVersion,
        f: Found,
    ) -> Result<Queued, OutboxError> {
        let w = self.db.begin_write().map_err(err)?;
        let queued = {
            let mut meta = w.open_table(META).map_err(err)?;
            let counter = meta.get("counter").map_err(err)?.map(|v| v.value()).unwrap_or(0) + 1;
            meta.insert("counter", counter).map_err(err)?;
            let mut detail = f.detail;
            detail.truncate(corridor_model::event::MAX_EVENT_DETAIL);
            let event = Event {
                id: EventId::derive(rsu, counter, f.kind),
                kind: f.kind,
                severity: f.severity,
                intersection: intersection.clone(),
                rsu: rsu.clone(),
                time: f.time,
                position_m: f.position_m,
                track: f.track,
                lane: f.lane,
                signal_group: f.signal_group,
                map_version,
                detail,
            };
            let header = Header::new(PayloadKind::Event, rsu.as_str(), counter, f.time, f.time);
            let bytes = match self.signer.get() {
                Some(s) => {
                    let mut b = Vec::new();
                    s.encode_signed(&mut b, &header, &event).map_err(err)?;
                    b
                }
                None => encode(&header, &event).map_err(err)?,
            };
            w.open_table(QUEUE).map_err(err)?.insert(counter, bytes.as_slice()).map_err(err)?;
            Queued { seq: counter, event, bytes }
        };
        w.commit().map_err(err)?;
        Ok(queued)
    }

    /// The oldest `n` queued events.
    pub fn peek(&self, n: usize) -> Result<Vec<Queued>, OutboxError> {
        let r = self.db.begin_read().map_err(err)?;
        let t = r.open_table(QUEUE).map_err(err)?;
        let mut out = Vec::new();
        for item in t.iter().map_err(err)?.take(n) {
            let (k, v) = item.map_err(err)?;
            let bytes = v.value().to_vec();
            match corridor_wire::decode::<Event>(&bytes, crate::cache::BUNDLE_LIMITS) {
                Ok((_, event)) => out.push(Queued { seq: k.value(), event, bytes }),
                Err(e) => tracing::error!(seq = k.value(), error = %e, "undecodable event in the outbox kept"),
            }
        }
        Ok(out)
    }

    /// Deletes an acknowledged event.
    pub fn remove(&self, seq: u64) -> Result<(), OutboxError> {
        let w = self.db.begin_write().map_err(err)?;
        w.open_table(QUEUE).map_err(err)?.remove(seq).map_err(err)?;
        w.commit().map_err(err)
    }

    /// Events waiting for the cloud's ack.
    pub fn len(&self) -> u64 {
        let Ok(r) = self.db.begin_read() else { return 0 };
        r.open_table(QUEUE).ok().and_then(|t| t.len().ok()).unwrap_or(0)
    }

    /// Nothing waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use corridor_model::{EventKind, Severity, Timestamp};

    fn found(n: u64) -> Found {
        Found {
            kind: EventKind::StoppedVehicle,
            severity: Severity::Warning,
            time: Timestamp::from_secs_f64(n as f64),
            position_m: Some([0.0, 0.0]),
            track: None,
            lane: None,
            signal_group: None,
            detail: "d".repeat(2000),
        }
    }

    #[test]
    fn events_survive_reopen_ids_stay_unique_and_only_acked_ones_leave() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.redb");
        let rsu: RsuId = "rsu-a".parse().unwrap();
        let ix: IntersectionId = "ix-a".parse().unwrap();
        let first = {
            let o = Outbox::open(&path).unwrap();
            let a = o.push(&rsu, &ix, MapVersion::default(), found(1)).unwrap();
            let b = o.push(&rsu, &ix, MapVersion::default(), found(2)).unwrap();
            assert_ne!(a.event.id, b.event.id);
            assert_eq!(a.event.detail.len(), corridor_model::event::MAX_EVENT_DETAIL);
            assert_eq!(o.len(), 2);
            o.remove(a.seq).unwrap();
            a.event.id
        };
        let o = Outbox::open(&path).unwrap();
        assert_eq!(o.len(), 1);
        let c = o.push(&rsu, &ix, MapVersion::default(), found(3)).unwrap();
        assert_ne!(c.event.id, first, "the counter survived the restart");
        let q = o.peek(10).unwrap();
        assert_eq!(q.iter().map(|q| q.event.time.as_secs_f64()).collect::<Vec<_>>(), [2.0, 3.0]);
    }
}
