//! Events: hazards, violations and RSU faults, detected at the roadside.
//!
//! Events are the one message kind that must never be lost: the RSU writes each
//! to a persisted queue, sends it to the cloud, and forgets it only once the
//! cloud has acknowledged that it stored it durably. Storage is idempotent by
//! [`EventId`], so a retried event is stored once.
//!
//! An [`EventId`] is chosen by the producer and is unique per (RSU, event):
//! [`EventId::derive`] hashes the RSU id, a per-RSU counter that survives
//! restarts (it lives beside the queue on disk) and the kind.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{IntersectionId, LaneId, RsuId, SignalGroupId, TrackId};
use crate::state::MapVersion;
use crate::time::Timestamp;
use crate::{check_f64, InvalidField, Validate};

/// Longest accepted [`Event::detail`], bytes.
pub const MAX_EVENT_DETAIL: usize = 1024;

/// A globally unique event id (128 bits, rendered as 32 hex characters).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventId(pub u128);

impl EventId {
    /// The id of the `counter`-th event of `rsu` (the counter must survive RSU restarts).
    pub fn derive(rsu: &RsuId, counter: u64, kind: EventKind) -> Self {
        let mut h = blake3::Hasher::new();
        h.update(b"corridor-event-v1\0");
        h.update(rsu.as_str().as_bytes());
        h.update(&[0]);
        h.update(&counter.to_le_bytes());
        h.update(&[kind as u8]);
        let d = h.finalize();
        let mut b = [0u8; 16];
        b.copy_from_slice(&d.as_bytes()[..16]);
        Self(u128::from_le_bytes(b))
    }

    /// Parses 32 hex characters.
    pub fn from_hex(s: &str) -> Option<Self> {
        if s.len() != 32 || !s.is_ascii() {
            return None;
        }
        u128::from_str_radix(s, 16).ok().map(Self)
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({self})")
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum EventKind {
    /// A vehicle moving against its lane's direction.
    WrongWay = 1,
    /// A pedestrian on the carriageway (outside a crosswalk, or on one against the signal).
    PedestrianOnCarriageway = 2,
    /// A vehicle standing still in a running lane (not queued at a red signal).
    StoppedVehicle = 3,
    /// A vehicle crossing the stop line while its signal group shows red.
    RedLightRunning = 4,
    /// The RSU itself is degraded: a sensor silent, fusion overloaded, cloud unreachable.
    RsuFault = 5,
}

impl EventKind {
    /// A stable lower-case label (metrics, logs, JSON).
    pub fn label(self) -> &'static str {
        match self {
            Self::WrongWay => "wrong_way",
            Self::PedestrianOnCarriageway => "pedestrian_on_carriageway",
            Self::StoppedVehicle => "stopped_vehicle",
            Self::RedLightRunning => "red_light_running",
            Self::RsuFault => "rsu_fault",
        }
    }
}

/// How urgent the event is for a vehicle nearby.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    /// For the record (e.g. an RSU fault that does not affect traffic).
    Info,
    /// Vehicles should take it into account.
    Warning,
    /// A hazard in or near a vehicle's path now.
    Critical,
}

/// One hazard, violation or fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique id; storage is idempotent on it.
    pub id: EventId,
    /// What happened.
    pub kind: EventKind,
    /// How urgent it is.
    pub severity: Severity,
    /// Where.
    pub intersection: IntersectionId,
    /// Who detected it.
    pub rsu: RsuId,
    /// When it was observed (capture time of the state it was detected in).
    pub time: Timestamp,
    /// Position in the intersection ENU frame, metres (none for RSU faults).
    pub position_m: Option<[f64; 2]>,
    /// The track involved, if any.
    pub track: Option<TrackId>,
    /// The lane involved, if any.
    pub lane: Option<LaneId>,
    /// The signal group involved (red-light running), if any.
    pub signal_group: Option<SignalGroupId>,
    /// The map version the detection used.
    pub map_version: MapVersion,
    /// Human-readable detail (at most [`MAX_EVENT_DETAIL`] bytes).
    pub detail: String,
}

impl Validate for Event {
    fn validate(&self) -> Result<(), InvalidField> {
        if let Some([x, y]) = self.position_m {
            check_f64("position_m.x", x, 1.0e6)?;
            check_f64("position_m.y", y, 1.0e6)?;
        }
        if self.detail.len() > MAX_EVENT_DETAIL {
            return Err(InvalidField::out_of_range("detail", self.detail.len(), "longer than 1024 bytes"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_per_counter_and_kind_and_round_trip_as_hex() {
        let rsu = RsuId::new("rsu-a").unwrap();
        let a = EventId::derive(&rsu, 1, EventKind::WrongWay);
        let b = EventId::derive(&rsu, 2, EventKind::WrongWay);
        let c = EventId::derive(&rsu, 1, EventKind::StoppedVehicle);
        let other = EventId::derive(&RsuId::new("rsu-b").unwrap(), 1, EventKind::WrongWay);
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, other);
        assert_eq!(a, EventId::derive(&rsu, 1, EventKind::WrongWay));
        assert_eq!(EventId::from_hex(&a.to_string()), Some(a));
        assert_eq!(EventId::from_hex("xyz"), None);
    }
}
