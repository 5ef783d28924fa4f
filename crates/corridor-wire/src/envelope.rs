//! The envelope: a fixed little-endian header in front of every binary message.
//!
//! Byte layout (all integers little endian):
//!
//! ```text
//! offset  size  field
//!  0       4    magic            b"CRDR"
//!  4       2    schema_version   u16, currently 1 (SCHEMA_VERSION)
//!  6       1    payload_kind     u8, see PayloadKind
//!  7       1    flags            u8, bit 0 = signed (reserved for the trust layer; must be 0 in v1)
//!  8       8    seq              u64, per-sender sequence number
//! 16       8    capture_ns       i64, the time the payload is valid for (UTC ns)
//! 24       8    publish_ns       i64, when the sender published it (UTC ns)
//! 32       4    payload_len      u32, bytes of payload after the sender name
//! 36       1    sender_len       u8, 1..=64
//! 37       n    sender           ASCII key-safe id of the producing RSU / sensor / cloud
//! 37+n     m    payload          bincode 2 (standard config) of the payload type
//! ```
//!
//! The header is fixed-size and read before anything is allocated, so the
//! size limit and the schema version are checked first. `flags` and the
//! header layout leave room for the trust layer: a signed message sets bit 0
//! and appends a key id and a signature over bytes `0..37+n+m`.

use corridor_model::Timestamp;

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: u16 = 1;
/// The magic bytes at the start of every envelope.
pub const MAGIC: [u8; 4] = *b"CRDR";
/// Size of the fixed part of the header, before the sender name.
pub const FIXED_HEADER_LEN: usize = 37;

/// What the payload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
#[non_exhaustive]
pub enum PayloadKind {
    /// [`corridor_model::DetectionFrame`].
    Detections = 1,
    /// [`corridor_model::IntersectionState`].
    IntersectionState = 2,
    /// A hazard or violation event.
    Event = 3,
    /// RSU telemetry.
    Stats = 4,
    /// An HD map.
    Map = 5,
    /// A compiled rule set.
    Rules = 6,
    /// The catalog of current versions.
    Catalog = 7,
    /// [`corridor_model::SignalFrame`] from a signal controller.
    Signals = 8,
}

impl PayloadKind {
    /// From the wire byte.
    pub fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            1 => Self::Detections,
            2 => Self::IntersectionState,
            3 => Self::Event,
            4 => Self::Stats,
            5 => Self::Map,
            6 => Self::Rules,
            7 => Self::Catalog,
            8 => Self::Signals,
            _ => return None,
        })
    }
}

/// The decoded header of an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Schema version the message was written with.
    pub schema_version: u16,
    /// What the payload is.
    pub kind: PayloadKind,
    /// Flags (bit 0: signed).
    pub flags: u8,
    /// Per-sender sequence number.
    pub seq: u64,
    /// Time the payload is valid for.
    pub capture_time: Timestamp,
    /// Time the sender published it.
    pub publish_time: Timestamp,
    /// The producing RSU, sensor or cloud instance (a key-safe id).
    pub sender: String,
}

impl Header {
    /// A v1 header with no flags.
    pub fn new(
        kind: PayloadKind,
        sender: impl Into<String>,
        seq: u64,
        capture_time: Timestamp,
        publish_time: Timestamp,
    ) -> Self {
        Self { schema_version: SCHEMA_VERSION, kind, flags: 0, seq, capture_time, publish_time, sender: sender.into() }
    }
}

/// A decoded header and a view of the still-encoded payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// The header.
    pub header: Header,
    /// The payload bytes (bincode).
    pub payload: &'a [u8],
}
