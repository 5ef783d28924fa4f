//! corridor's security core: who may say what, and checking that they said it.
//!
//! This crate is **sans-IO**: no tokio, no zenoh, no wall clock, no files. Keys are generated
//! from a caller-provided RNG, time is passed in as a [`corridor_model::Timestamp`], and the SDK
//! / RSU / cloud binaries do the IO (distributing trust anchors and revocation lists over Zenoh,
//! caching them on disk as the canonical bytes this crate produces).
//!
//! | module | what it holds |
//! |---|---|
//! | [`keys`] | P-256 ECDSA [`SigningKey`] / [`VerifyingKey`], [`KeyId`], strict 64-byte low-s signatures |
//! | [`cert`] | [`Certificate`] (subject, [`Role`], key, intersections, validity, serial), canonical bytes |
//! | [`revocation`] | [`RevocationList`]: root-signed, sequence-numbered, never rolled back |
//! | [`trust`] | [`TrustStore`]: roots, admitted certificates, the newest revocation list |
//! | [`signer`] | [`Signer`]: the producer side, signs envelopes via `corridor_wire::sign_envelope` |
//! | [`bundle`] | trust bundle: certificates + revocation list as one blob, cached on disk / served by the cloud |
//! | [`guard`] | [`StateGuard`]: the vehicle-side checks, [`Rejection`] with counter labels |
//!
//! # Trust model
//!
//! ```text
//! region root key (offline; its public key is the trust anchor shipped to every vehicle/RSU)
//!   ├── signs Certificate { role: Cloud, subject: "cloud", key, validity, serial }
//!   ├── signs Certificate { role: Rsu, subject: <RSU id>, key, intersections: [..], validity, serial }
//!   └── signs RevocationList { seq, revoked serials, revoked key ids }
//! cloud key  ── signs map, rules and catalog envelopes
//! RSU key    ── signs intersection-state and event envelopes, only for its intersections
//! ```
//!
//! There is no intermediate CA: one level keeps verification to one signature per message (the
//! certificate's signature is checked once, when it enters the [`TrustStore`]). ECDSA P-256 is
//! the curve IEEE 1609.2 and ETSI TS 103 097 use; `p256` 0.13 (RustCrypto, pure Rust) is used
//! rather than 0.14 because 0.13 shares `rand_core` 0.6 with the workspace's `rand` 0.8.
//!
//! # What is signed
//!
//! The signature covers the corridor-wire envelope from byte 0 up to the end of the payload
//! (`Envelope::signed_bytes`): magic, schema version, payload kind, flags **with the signed bit
//! already set**, seq, capture and publish times, payload length, sender and payload. The
//! trailer follows: 8-byte key id, u16 signature length (always 64), then `r || s` (32 bytes
//! each, big endian, `s <= n/2`). ECDSA over SHA-256 of those bytes, RFC 6979 nonces. The codec
//! refuses trailing bytes after the trailer; [`keys::parse_signature`] refuses any length but
//! 64, out-of-range scalars and high-s twins, so each message has exactly one valid encoding.
//!
//! # Check order (vehicle side)
//!
//! See [`guard`]: envelope → signed → known key id → signature encoding → signature → certified
//! for that intersection → certificate valid now and not revoked → freshness → replay → map
//! version known. Cheap structural checks run before any elliptic-curve arithmetic; nothing from
//! the message is trusted (or counted under a semantic reason) before its signature verifies.
//!
//! # Operator key setup (the CLI comes later; these are the steps it will wrap)
//!
//! 1. **Generate the region root** on an offline machine: [`SigningKey::generate`] with the OS
//!    RNG, store [`SigningKey::to_pem`] offline, and distribute [`VerifyingKey::to_pem`] (or its
//!    hex) as the trust anchor: baked into vehicle and RSU configs, served by the cloud.
//! 2. **Certify the cloud**: generate the cloud key on the cloud host, carry its public key to
//!    the root machine, [`Certificate::cloud`] with a validity period (e.g. one year) and a fresh
//!    serial, [`Certificate::issue`] with the root, and publish the certificate bytes.
//! 3. **Certify an RSU**: generate its key on the RSU (the secret never leaves it), then
//!    [`Certificate::rsu`] naming the RSU id (= its envelope sender) and exactly the
//!    intersections it publishes for, a validity period (e.g. 90 days; renew before expiry with
//!    a new serial), issue with the root. The cloud distributes the certificate; the RSU's
//!    [`Signer`] signs with the key.
//! 4. **Revoke** a lost or retired key: add its serial (or key id) to the cumulative
//!    [`RevocationList`], increment `seq`, [`RevocationList::issue`] with the root, and hand it
//!    to the cloud to publish. Receivers apply it with [`TrustStore::apply_revocation`], which
//!    refuses older lists. An RSU that lost its sequence counter gets a new key (step 3) and
//!    its old key is revoked.
#![forbid(unsafe_code)]

pub mod bundle;
mod canon;
pub mod cert;
pub mod guard;
pub mod keys;
pub mod revocation;
pub mod signer;
pub mod trust;

pub use bundle::{export_bundle, import_bundle, ImportReport};
pub use canon::CanonError;
pub use cert::{CertError, Certificate, Role, SignedCertificate};
pub use guard::{
    Counters, GuardConfig, MapVersions, Rejection, ReplayWindow, StateGuard, Verified, VerifiedCloud, VerifiedEvent,
};
pub use keys::{KeyError, KeyId, ParsedSignature, SigningKey, VerifyingKey, SIGNATURE_LEN};
pub use revocation::{RevocationList, SignedRevocationList};
pub use signer::{SignError, Signer};
pub use trust::{CertRejection, TrustError, TrustStore};
