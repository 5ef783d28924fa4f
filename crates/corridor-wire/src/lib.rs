//! corridor's wire format: everything that crosses a process boundary.
//!
//! | module | what it holds |
//! |---|---|
//! | [`keys`] | the typed key space (DESIGN section 4): build and parse every key; nowhere else formats a key |
//! | [`envelope`] | the envelope header every binary message carries (schema version, sender, sequence, times, kind) |
//! | [`control`] | control-plane payloads: map and rules bundles, the catalog of current versions |
//! | [`codec`] | the one place bincode is used: encode/decode with a size limit checked before allocation |
//! | [`json`] | JSON forms of detections and state for integrators that do not speak Rust |
//! | [`presets`] | zenoh config presets (peer on loopback, client, router) and QoS per key kind (feature `zenoh`) |
//!
//! The key space, envelope and codec are sans-IO and do not need zenoh; the
//! presets are behind the default `zenoh` feature.
#![forbid(unsafe_code)]

pub mod codec;
pub mod control;
pub mod envelope;
pub mod json;
pub mod keys;
#[cfg(feature = "zenoh")]
pub mod presets;

pub use codec::{
    decode, decode_envelope, encode, encode_into, sign_envelope, DecodeError, EncodeError, Limits, SignError,
    WirePayload,
};
pub use envelope::{Envelope, Header, PayloadKind, SignatureTrailer, SCHEMA_VERSION};
pub use keys::{Key, KeyError, KeyKind};
