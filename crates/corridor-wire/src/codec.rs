//! The codec: the one module that knows bincode.
//!
//! bincode 2.0.1 (pinned: 3.0.0 is a tombstone and RUSTSEC-2025-0141 marks the
//! crate unmaintained) with the `standard` config (little endian, varint
//! integers). Most payloads go through bincode's serde integration; the two
//! hot messages, the intersection state and the sensors' detection frames, have
//! a flat wire form written with bincode's native `Encode`/`BorrowDecode` (see
//! `codec/flat.rs` for the layouts and why). Both were measured against bitcode in `benches/codec.rs` (see
//! BENCHMARKS.md); swapping codecs means changing this module only.
//!
//! Decoding is strict and never panics:
//! 1. the total size is checked against [`Limits::max_message_bytes`] before
//!    anything is allocated;
//! 2. the fixed header is read: magic, schema version, payload kind, flags;
//! 3. `payload_len` must match the bytes that follow exactly (no trailing bytes);
//! 4. no length prefix inside the payload is trusted for an allocation: bincode
//!    decodes under a fixed claim limit (64 MiB), serde caps preallocation for
//!    sequences, and the flat state reserves at most 256 elements before they
//!    decode, so a forged length fails with a typed error instead of allocating
//!    what it claims;
//! 5. the payload must be consumed exactly, then it is validated
//!    ([`corridor_model::Validate`]: NaN, infinities, absurd values).

use corridor_model::{
    DetectionFrame, IdError, IntersectionState, InvalidField, RsuId, SignalFrame, Timestamp, Validate,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::envelope::{
    Envelope, Header, PayloadKind, SignatureTrailer, FIXED_HEADER_LEN, FLAG_SIGNED, MAGIC, MAX_SIGNATURE_LEN,
    SCHEMA_VERSION, TRAILER_FIXED_LEN,
};

/// Size limits applied when decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest whole message accepted, bytes.
    pub max_message_bytes: usize,
}

impl Default for Limits {
    /// 4 MiB: a 200-object state is ~30 kB, a large HD map a few MB.
    fn default() -> Self {
        Self { max_message_bytes: 4 * 1024 * 1024 }
    }
}

/// Hard cap on what bincode may allocate for one payload (the message limit can't exceed it).
const BINCODE_LIMIT: usize = 64 * 1024 * 1024;

fn config() -> bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<BINCODE_LIMIT>,
> {
    bincode::config::standard().with_limit::<BINCODE_LIMIT>()
}

mod flat;

pub use flat::MAX_SENSORS_PER_STATE;

/// A payload type that travels in an envelope.
///
/// Payloads are written with bincode through serde by default; a hot payload can override
/// [`WirePayload::encode_payload`] and [`WirePayload::decode_payload`] with a hand-shaped form
/// (the intersection state does: see the `flat` module).
pub trait WirePayload: Serialize + DeserializeOwned + Validate {
    /// The envelope's payload kind for this type.
    const KIND: PayloadKind;

    /// Appends the payload's encoding to `buf`.
    fn encode_payload(&self, buf: &mut Vec<u8>) -> Result<(), EncodeError> {
        bincode::serde::encode_into_std_write(self, buf, config())?;
        Ok(())
    }

    /// Decodes a payload from the start of `bytes`; returns it and the bytes used.
    fn decode_payload(bytes: &[u8]) -> Result<(Self, usize), DecodeError> {
        // the borrowing decoder hands strings to visitors as slices of the message: an id costs
        // one allocation (its Arc), not a String and then the Arc
        Ok(bincode::serde::borrow_decode_from_slice(bytes, config())?)
    }
}

impl WirePayload for IntersectionState {
    const KIND: PayloadKind = PayloadKind::IntersectionState;

    fn encode_payload(&self, buf: &mut Vec<u8>) -> Result<(), EncodeError> {
        flat::encode_state(self, buf)
    }

    fn decode_payload(bytes: &[u8]) -> Result<(Self, usize), DecodeError> {
        flat::decode_state(bytes)
    }
}

impl WirePayload for DetectionFrame {
    const KIND: PayloadKind = PayloadKind::Detections;

    fn encode_payload(&self, buf: &mut Vec<u8>) -> Result<(), EncodeError> {
        flat::encode_frame(self, buf)
    }

    fn decode_payload(bytes: &[u8]) -> Result<(Self, usize), DecodeError> {
        flat::decode_frame(bytes)
    }
}

impl WirePayload for SignalFrame {
    const KIND: PayloadKind = PayloadKind::Signals;
}

impl WirePayload for corridor_model::Event {
    const KIND: PayloadKind = PayloadKind::Event;
}

impl WirePayload for crate::control::MapBundle {
    const KIND: PayloadKind = PayloadKind::Map;
}

impl WirePayload for crate::control::RulesBundle {
    const KIND: PayloadKind = PayloadKind::Rules;
}

impl WirePayload for crate::control::Catalog {
    const KIND: PayloadKind = PayloadKind::Catalog;
}

/// Why a message could not be encoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The sender name is not a key-safe id.
    #[error("sender: {0}")]
    Sender(#[from] IdError),
    /// The payload is larger than a u32 length can say.
    #[error("payload of {0} bytes is too large")]
    TooLarge(usize),
    /// bincode refused the value.
    #[error("bincode: {0}")]
    Bincode(#[from] bincode::error::EncodeError),
    /// More distinct sensors in one state than an object's sensor mask can name.
    #[error("more than {0} distinct sensors in one state")]
    TooManySensors(usize),
}

/// Why a message was refused. Every variant is a typed, recoverable error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Larger than the configured limit (checked before any allocation).
    #[error("message of {len} bytes exceeds the limit of {limit} bytes")]
    Oversized {
        /// Message length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// Shorter than its header says.
    #[error("truncated: {needed} bytes needed, {got} present")]
    Truncated {
        /// Bytes the header requires.
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// Not a corridor envelope.
    #[error("bad magic {0:02x?}: not a corridor envelope")]
    BadMagic([u8; 4]),
    /// Written by a schema version this build does not read.
    #[error("schema version {found} is not supported (this build reads {supported})")]
    SchemaVersion {
        /// The version in the message.
        found: u16,
        /// The version this build reads.
        supported: u16,
    },
    /// Unknown payload kind byte.
    #[error("unknown payload kind {0}")]
    UnknownKind(u8),
    /// A different payload kind than the caller expected.
    #[error("payload kind {found:?} where {expected:?} was expected")]
    WrongKind {
        /// The kind in the message.
        found: PayloadKind,
        /// The kind expected.
        expected: PayloadKind,
    },
    /// Flags this version does not understand (e.g. a signed message to an unsigned reader).
    #[error("unsupported flags {0:#04x}")]
    Flags(u8),
    /// The sender name is not a key-safe id.
    #[error("sender: {0}")]
    Sender(IdError),
    /// Bytes after the declared payload.
    #[error("{0} trailing bytes after the payload")]
    TrailingBytes(usize),
    /// The signature trailer is malformed (bad length).
    #[error("signature trailer: length {0} outside 1..={MAX_SIGNATURE_LEN}")]
    SignatureLength(usize),
    /// bincode could not decode the payload.
    #[error("payload: {0}")]
    Payload(#[from] bincode::error::DecodeError),
    /// The payload decoded but a value is invalid (NaN, infinite, out of range).
    #[error("payload: {0}")]
    Invalid(#[from] InvalidField),
}

impl DecodeError {
    /// A short, stable reason label for counters (`oversized`, `truncated`, ...).
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::Oversized { .. } => "oversized",
            DecodeError::Truncated { .. } => "truncated",
            DecodeError::BadMagic(_) => "bad_magic",
            DecodeError::SchemaVersion { .. } => "schema_version",
            DecodeError::UnknownKind(_) => "unknown_kind",
            DecodeError::WrongKind { .. } => "wrong_kind",
            DecodeError::Flags(_) => "flags",
            DecodeError::Sender(_) => "sender",
            DecodeError::TrailingBytes(_) => "trailing_bytes",
            DecodeError::SignatureLength(_) => "signature_length",
            DecodeError::Payload(_) => "payload",
            DecodeError::Invalid(_) => "invalid_value",
        }
    }
}

/// Appends an envelope with `header` and `payload` to `buf`.
pub fn encode_into<T: WirePayload>(buf: &mut Vec<u8>, header: &Header, payload: &T) -> Result<(), EncodeError> {
    RsuId::new(&header.sender)?; // same rules as every key-safe id
    let start = buf.len();
    buf.extend_from_slice(&MAGIC);
    buf.extend_from_slice(&header.schema_version.to_le_bytes());
    buf.push(T::KIND as u8);
    buf.push(header.flags);
    buf.extend_from_slice(&header.seq.to_le_bytes());
    buf.extend_from_slice(&header.capture_time.unix_ns.to_le_bytes());
    buf.extend_from_slice(&header.publish_time.unix_ns.to_le_bytes());
    let len_at = buf.len();
    buf.extend_from_slice(&[0u8; 4]);
    buf.push(header.sender.len() as u8); // <= 64, checked above
    buf.extend_from_slice(header.sender.as_bytes());
    let payload_start = buf.len();
    if let Err(e) = payload.encode_payload(buf) {
        buf.truncate(start);
        return Err(e);
    }
    let payload_len = buf.len() - payload_start;
    let len = u32::try_from(payload_len).map_err(|_| {
        buf.truncate(start);
        EncodeError::TooLarge(payload_len)
    })?;
    buf[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
    Ok(())
}

/// Signs the envelope that `buf` holds (exactly one, unsigned, starting at byte 0): sets the
/// signed flag, calls `sign` with the bytes the signature covers, and appends the trailer.
pub fn sign_envelope<E>(
    buf: &mut Vec<u8>,
    key_id: [u8; 8],
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, E>,
) -> Result<(), SignError<E>> {
    if buf.len() < FIXED_HEADER_LEN || buf[..4] != MAGIC || buf[7] != 0 {
        return Err(SignError::NotAnUnsignedEnvelope);
    }
    buf[7] |= FLAG_SIGNED;
    let sig = match sign(buf) {
        Ok(sig) => sig,
        Err(e) => {
            buf[7] &= !FLAG_SIGNED;
            return Err(SignError::Signer(e));
        }
    };
    if sig.is_empty() || sig.len() > MAX_SIGNATURE_LEN {
        buf[7] &= !FLAG_SIGNED;
        return Err(SignError::SignatureLength(sig.len()));
    }
    buf.extend_from_slice(&key_id);
    buf.extend_from_slice(&(sig.len() as u16).to_le_bytes());
    buf.extend_from_slice(&sig);
    Ok(())
}

/// Why an envelope could not be signed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError<E> {
    /// The buffer does not hold one unsigned envelope.
    #[error("the buffer does not hold an unsigned corridor envelope")]
    NotAnUnsignedEnvelope,
    /// The signer produced a signature of an unusable length.
    #[error("signature of {0} bytes (1..={MAX_SIGNATURE_LEN} allowed)")]
    SignatureLength(usize),
    /// The signer failed.
    #[error("signer: {0}")]
    Signer(E),
}

/// Encodes an envelope into a new buffer.
pub fn encode<T: WirePayload>(header: &Header, payload: &T) -> Result<Vec<u8>, EncodeError> {
    let mut buf = Vec::with_capacity(256);
    encode_into(&mut buf, header, payload)?;
    Ok(buf)
}

fn read<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(src) = bytes.get(at..at + N) {
        out.copy_from_slice(src);
    }
    out
}

/// Reads and checks the header; the payload stays encoded. Allocates only the sender name.
pub fn decode_envelope(bytes: &[u8], limits: Limits) -> Result<Envelope<'_>, DecodeError> {
    if bytes.len() > limits.max_message_bytes {
        return Err(DecodeError::Oversized { len: bytes.len(), limit: limits.max_message_bytes });
    }
    if bytes.len() < FIXED_HEADER_LEN {
        return Err(DecodeError::Truncated { needed: FIXED_HEADER_LEN, got: bytes.len() });
    }
    let magic: [u8; 4] = read(bytes, 0);
    if magic != MAGIC {
        return Err(DecodeError::BadMagic(magic));
    }
    let schema_version = u16::from_le_bytes(read(bytes, 4));
    if schema_version != SCHEMA_VERSION {
        return Err(DecodeError::SchemaVersion { found: schema_version, supported: SCHEMA_VERSION });
    }
    let kind = PayloadKind::from_u8(bytes[6]).ok_or(DecodeError::UnknownKind(bytes[6]))?;
    let flags = bytes[7];
    if flags & !FLAG_SIGNED != 0 {
        return Err(DecodeError::Flags(flags));
    }
    let seq = u64::from_le_bytes(read(bytes, 8));
    let capture_time = Timestamp::from_unix_ns(i64::from_le_bytes(read(bytes, 16)));
    let publish_time = Timestamp::from_unix_ns(i64::from_le_bytes(read(bytes, 24)));
    let payload_len = u32::from_le_bytes(read(bytes, 32)) as usize;
    let sender_len = bytes[36] as usize;
    let payload_start = FIXED_HEADER_LEN + sender_len;
    let payload_end = payload_start.saturating_add(payload_len);
    let mut needed = payload_end;
    let mut signature = None;
    if flags & FLAG_SIGNED != 0 {
        let trailer = payload_end.saturating_add(TRAILER_FIXED_LEN);
        if bytes.len() < trailer {
            return Err(DecodeError::Truncated { needed: trailer, got: bytes.len() });
        }
        let key_id: [u8; 8] = read(bytes, payload_end);
        let sig_len = u16::from_le_bytes(read(bytes, payload_end + 8)) as usize;
        if sig_len == 0 || sig_len > MAX_SIGNATURE_LEN {
            return Err(DecodeError::SignatureLength(sig_len));
        }
        needed = trailer + sig_len;
        if bytes.len() >= needed {
            signature = Some(SignatureTrailer { key_id, signature: &bytes[trailer..needed] });
        }
    }
    if bytes.len() < needed {
        return Err(DecodeError::Truncated { needed, got: bytes.len() });
    }
    if bytes.len() > needed {
        return Err(DecodeError::TrailingBytes(bytes.len() - needed));
    }
    let sender = std::str::from_utf8(&bytes[FIXED_HEADER_LEN..payload_start])
        .map_err(|_| DecodeError::Sender(IdError::Empty { kind: "sender" }))
        .and_then(|s| RsuId::new(s).map_err(DecodeError::Sender))?;
    Ok(Envelope {
        header: Header {
            schema_version,
            kind,
            flags,
            seq,
            capture_time,
            publish_time,
            sender: sender.as_str().to_owned(),
        },
        payload: &bytes[payload_start..payload_end],
        signed_bytes: &bytes[..payload_end],
        signature,
    })
}

/// Decodes a whole message of payload type `T`: header checks, strict payload decode, validation.
pub fn decode<T: WirePayload>(bytes: &[u8], limits: Limits) -> Result<(Header, T), DecodeError> {
    let env = decode_envelope(bytes, limits)?;
    if env.header.kind != T::KIND {
        return Err(DecodeError::WrongKind { found: env.header.kind, expected: T::KIND });
    }
    let (value, used) = T::decode_payload(env.payload)?;
    if used != env.payload.len() {
        return Err(DecodeError::TrailingBytes(env.payload.len() - used));
    }
    value.validate()?;
    Ok((env.header, value))
}
