//! [`TrustVerifier`]: the SDK's [`SampleVerifier`], backed by `corridor_security::StateGuard`.
//!
//! With a verifier installed, nothing reaches the application that the guard did not pass:
//!
//! | sample | checks, in order (first failure wins, counted under its label) |
//! |---|---|
//! | state `corridor/{region}/ix/{ix}/state` | envelope (`malformed`, `wrong_kind`) → signed by a known key with a strict signature (`unsigned`, `unknown_key`, `signature_encoding`, `bad_signature`) → signer certified for *that* intersection (`not_certified`) → certificate valid now, not revoked (`cert_not_yet_valid`, `cert_expired`, `revoked`) → freshness (`stale`, `future_dated`) → replay window (`replay`) → map version held (else *held*, see below) |
//! | event `.../ix/{ix}/events` | the same up to freshness; duplicates are dropped by event id (`out_of_order`) |
//! | map / rules bundle from cloud-control | signed by a cloud certificate valid now and not revoked, then the content hash must equal the version asked for |
//!
//! **Unknown map version.** A state that passes every check but names a map version the SDK
//! does not hold is *held*: not delivered, counted in [`crate::SdkStats::held`], and the
//! intersection reports [`crate::Usability::MapPending`]. The [`crate::Corridor`] loads that map
//! from its disk cache or queues a fetch by hash (`corridor/{region}/map/{ix}?version=HEX`);
//! the reply is checked (cloud signature, then content hash) and from then on states naming it
//! are accepted. A held state never advanced the replay window, so nothing is lost but the
//! states received while the map was in flight.
//!
//! **Trust updates.** [`crate::Corridor::import_trust_bundle`] admits what the vehicle's own
//! root signed from a trust bundle (new certificates, a newer revocation list; never a
//! rollback) and caches it as `{cache_dir}/trust.bundle`; the [`crate::Vehicle`] fetches the
//! bundle from `corridor/{region}/cloud/trust` at start and applies every update published
//! there.
//!
//! Setting it up (see also `docs/security.md` §5):
//!
//! ```no_run
//! # fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use corridor_sdk::{trust::TrustVerifier, CorridorConfig, Route};
//! let trust = TrustVerifier::from_files("keys/root.pub".as_ref(), Some("keys/trust.bundle".as_ref()))?;
//! let mut cfg = CorridorConfig::new("demo".parse()?, Route::intersections(vec!["ix-a".parse()?]));
//! cfg.trust = Some(trust); // or VehicleConfig::trust for the zenoh Vehicle
//! let core = corridor_sdk::Corridor::new(cfg);
//! # Ok(()) }
//! ```

use std::path::Path;

use corridor_model::{IntersectionState, Timestamp};
use corridor_security::{
    import_bundle, CanonError, Counters, GuardConfig, ImportReport, MapVersions, Rejection, StateGuard, TrustStore,
    VerifyingKey,
};
use corridor_wire::{Header, Key};

use crate::core::{AnyMap, Refusal, SampleVerifier};

/// Why a [`TrustVerifier`] could not be set up from files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustSetupError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The root public key file is not a P-256 SPKI PEM (or its hex).
    #[error("{path}: not a root public key (SPKI PEM or SEC1 hex): {reason}")]
    Root {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The trust bundle does not parse.
    #[error("{path}: not a trust bundle: {source}")]
    Bundle {
        /// The file.
        path: String,
        /// Why.
        source: CanonError,
    },
}

/// A [`SampleVerifier`] running every check of `corridor_security::StateGuard`.
#[derive(Debug, Clone)]
pub struct TrustVerifier {
    guard: StateGuard,
}

impl TrustVerifier {
    /// A verifier over a ready guard.
    pub fn new(guard: StateGuard) -> Self {
        Self { guard }
    }

    /// A verifier trusting `root`, with the certificates and revocation list of `bundle` (what
    /// `root` did not sign is refused and reported), default settings (200 ms freshness, 50 ms
    /// clock offset).
    pub fn from_root(root: VerifyingKey, bundle: Option<&[u8]>) -> Result<(Self, ImportReport), CanonError> {
        Self::from_root_with(root, bundle, GuardConfig::default())
    }

    /// [`TrustVerifier::from_root`] with explicit guard settings.
    pub fn from_root_with(
        root: VerifyingKey,
        bundle: Option<&[u8]>,
        config: GuardConfig,
    ) -> Result<(Self, ImportReport), CanonError> {
        let mut store = TrustStore::new([root]);
        let report = match bundle {
            Some(b) => import_bundle(&mut store, b)?,
            None => ImportReport::default(),
        };
        Ok((Self::new(StateGuard::new(store, config)), report))
    }

    /// Reads the root public key (`root.pub` as written by `cloud-control keys gen-root`: SPKI
    /// PEM, or SEC1 hex) and optionally a trust bundle (`cloud-control keys bundle`).
    pub fn from_files(root_pub: &Path, bundle: Option<&Path>) -> Result<Self, TrustSetupError> {
        let read =
            |p: &Path| std::fs::read(p).map_err(|source| TrustSetupError::Io { path: p.display().to_string(), source });
        let text = String::from_utf8_lossy(&read(root_pub)?).into_owned();
        let root = VerifyingKey::from_pem(&text)
            .or_else(|_| VerifyingKey::from_hex(text.trim()))
            .map_err(|e| TrustSetupError::Root { path: root_pub.display().to_string(), reason: e.to_string() })?;
        let bytes = bundle.map(read).transpose()?;
        let (v, report) = Self::from_root(root, bytes.as_deref()).map_err(|source| TrustSetupError::Bundle {
            path: bundle.map(|p| p.display().to_string()).unwrap_or_default(),
            source,
        })?;
        for refused in &report.refused {
            tracing::warn!(error = %refused, "trust bundle: refused an entry");
        }
        Ok(v)
    }

    /// The guard (trust store, counters, replay windows).
    pub fn guard(&self) -> &StateGuard {
        &self.guard
    }

    /// The guard, to change the trust store.
    pub fn guard_mut(&mut self) -> &mut StateGuard {
        &mut self.guard
    }
}

fn refusal(r: Rejection) -> Refusal {
    match r {
        Rejection::UnknownMap(v) => Refusal::MapUnknown(v),
        r => Refusal::Rejected(r.reason()),
    }
}

impl SampleVerifier for TrustVerifier {
    fn verify(&mut self, key: &str, bytes: &[u8], now: Timestamp) -> Result<(), &'static str> {
        self.verify_with_maps(key, bytes, now, &AnyMap).map_err(|r| match r {
            Refusal::Rejected(label) => label,
            Refusal::MapUnknown(_) => "unknown_map",
        })
    }

    fn verify_with_maps(
        &mut self,
        key: &str,
        bytes: &[u8],
        now: Timestamp,
        maps: &dyn MapVersions,
    ) -> Result<(), Refusal> {
        match Key::parse(key) {
            Ok(Key::State { .. }) => self.verify_state(key, bytes, now, maps).map(|_| ()),
            Ok(Key::Events { intersection, .. }) => {
                self.guard.check_event(now, &intersection, bytes, true).map(|_| ()).map_err(refusal)
            }
            _ => Err(Refusal::Rejected("bad_key")),
        }
    }

    fn verify_state(
        &mut self,
        key: &str,
        bytes: &[u8],
        now: Timestamp,
        maps: &dyn MapVersions,
    ) -> Result<Option<(Header, IntersectionState)>, Refusal> {
        match Key::parse(key) {
            Ok(Key::State { intersection, .. }) => self
                .guard
                .check_state(now, &intersection, bytes, maps)
                .map(|v| Some((v.header, v.state)))
                .map_err(refusal),
            _ => self.verify_with_maps(key, bytes, now, maps).map(|()| None),
        }
    }

    fn verify_cloud(&mut self, bytes: &[u8], now: Timestamp) -> Result<(), &'static str> {
        self.guard.check_cloud(now, bytes).map(|_| ()).map_err(|r| r.reason())
    }

    fn trust_store_mut(&mut self) -> Option<&mut TrustStore> {
        Some(self.guard.trust_mut())
    }

    fn counters(&self) -> Option<&Counters> {
        Some(self.guard.counters())
    }
}
