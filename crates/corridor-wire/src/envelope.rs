//! The envelope: a fixed little-endian header in front of every binary message.
//!
//! Byte layout (all integers little endian):
//!
//! ```text
//! offset  size  field
//!  0       4    magic            b"CRDR"
//!  4       2    schema_version   u16, currently 1 (SCHEMA_VERSION)
//!  6       1    payload_kind     u8, see PayloadKind
//!  7       1    flags            u8, bit 0 = signed (other bits must be 0)
//!  8       8    seq              u64, per-sender sequence number
//! 16       8    capture_ns       i64, the time the payload is valid for (UTC ns)
//! 24       8    publish_ns       i64, when the sender published it (UTC ns)
//! 32       4    payload_len      u32, bytes of payload after the sender name
//! 36       1    sender_len       u8, 1..=64
//! 37       n    sender           ASCII key-safe id of the producing RSU / sensor / cloud
//! 37+n     m    payload          bincode 2 (standard config) of the payload type
//! -- only when flags bit 0 (signed) is set: --
//! 37+n+m   8    key_id           the signer's key id
//! 45+n+m   2    sig_len          u16, 1..=512
//! 47+n+m   k    signature        over bytes 0..37+n+m (header with the signed flag set,
//!                                sender, payload)
//! ```
//!
//! The header is fixed-size and read before anything is allocated, so the
//! size limit and the schema version are checked first. The codec checks the
//! signature trailer's *structure* only; verifying it against a key is the
//! trust layer's job ([`Envelope::signed_bytes`] is exactly what was signed).

use corridor_model::Timestamp;

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: u16 = 1;
/// The magic bytes at the start of every envelope.
pub const MAGIC: [u8; 4] = *b"CRDR";
/// Size of the fixed part of the header, before the sender name.
pub const FIXED_HEADER_LEN: usize = 37;
/// Flag bit: the envelope carries a signature trailer.
pub const FLAG_SIGNED: u8 = 0b0000_0001;
/// The longest signature accepted, bytes.
pub const MAX_SIGNATURE_LEN: usize = 512;
/// Size of the signature trailer before the signature bytes (key id + length).
pub const TRAILER_FIXED_LEN: usize = 10;

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

/// The signature trailer of a signed envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignatureTrailer<'a> {
    /// The signer's key id.
    pub key_id: [u8; 8],
    /// The signature bytes (not verified by the codec).
    pub signature: &'a [u8],
}

/// A decoded header and a view of the still-encoded payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// The header.
    pub header: Header,
    /// The payload bytes (bincode).
    pub payload: &'a [u8],
    /// The bytes a signature covers: header, sender and payload.
    pub signed_bytes: &'a [u8],
    /// The signature trailer, when the signed flag is set.
    pub signature: Option<SignatureTrailer<'a>>,
}
