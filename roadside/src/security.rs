//! The RSU's signing identity: the `[security]` config section names its private key (PKCS#8
//! PEM, as written by `cloud-control keys certify`) and its root-signed certificate (hex). At
//! start the pair is checked (the certificate certifies this key, role RSU, subject = this RSU
//! id, covers this intersection) and becomes a [`Signer`]; every state and event the RSU then
//! publishes carries the signed-envelope trailer with the key id of that certificate.
//!
//! Without the section the RSU publishes unsigned envelopes (tests and the demo default).
//!
//! With `root` (the region root public key) the RSU also checks what the cloud serves: maps,
//! rules and catalogs are accepted only when signed by a cloud key the root certified
//! ([`CloudVerifier`], used by [`crate::cloud::CloudSync`]). The cloud's certificate and the
//! revocation list come from the region's trust bundle: `trust_bundle` to start from, then the
//! bundle the cloud serves and publishes on `corridor/{region}/cloud/trust`, cached as
//! `{cache_dir}/trust.bundle`. `import_bundle` admits only what the root signed and never rolls
//! the revocation list back, so a stale or tampered cache file cannot weaken trust.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use corridor_model::{Clock, IntersectionId, RsuId};
use corridor_security::{
    import_bundle, GuardConfig, ImportReport, Role, SignedCertificate, Signer, SigningKey, StateGuard, TrustStore,
    VerifyingKey,
};
use serde::{Deserialize, Serialize};

/// `[security]`: the RSU's certified key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySection {
    /// Private key file (PKCS#8 PEM, mode 0600), e.g. `keys/rsu-a.key`.
    pub key: PathBuf,
    /// Certificate file (hex of the canonical bytes), e.g. `keys/rsu-a.cert`.
    pub cert: PathBuf,
    /// The region root public key (`root.pub`, SPKI PEM): with it, maps, rules and catalogs
    /// from the cloud must be signed by a cloud key the root certified (needs `[cloud]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<PathBuf>,
    /// A trust bundle to start from (`cloud-control keys bundle`), before the cloud's arrives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_bundle: Option<PathBuf>,
}

impl SecuritySection {
    /// A signing identity only (no cloud verification).
    pub fn signing(key: PathBuf, cert: PathBuf) -> Self {
        SecuritySection { key, cert, root: None, trust_bundle: None }
    }
}

/// Why the signing identity was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// A file could not be read.
    #[error("[security] {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// A file does not hold what it should, or the pair does not fit this RSU.
    #[error("[security] {path}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

fn read(path: &Path) -> Result<String, IdentityError> {
    std::fs::read_to_string(path).map_err(|source| IdentityError::Io { path: path.display().to_string(), source })
}

/// Loads and checks the key and certificate; returns the signer and the certificate.
pub fn load_signer(
    section: &SecuritySection,
    rsu: &RsuId,
    intersection: &IntersectionId,
) -> Result<(Signer, SignedCertificate), IdentityError> {
    let invalid = |p: &Path, reason: String| IdentityError::Invalid { path: p.display().to_string(), reason };
    let key = SigningKey::from_pem(&read(&section.key)?).map_err(|e| invalid(&section.key, e.to_string()))?;
    let cert = SignedCertificate::from_hex(&read(&section.cert)?).map_err(|e| invalid(&section.cert, e.to_string()))?;
    let c = cert.certificate();
    if c.public_key != *key.verifying_key() {
        return Err(invalid(
            &section.cert,
            format!("certifies key {}, but the key file holds {}", c.public_key.key_id(), key.key_id()),
        ));
    }
    if c.role != Role::Rsu {
        return Err(invalid(&section.cert, format!("role {:?}, not Rsu", c.role)));
    }
    if c.subject != rsu.as_str() {
        return Err(invalid(&section.cert, format!("subject {:?} is not this RSU {:?}", c.subject, rsu.as_str())));
    }
    if !c.covers(intersection) {
        return Err(invalid(&section.cert, format!("does not cover intersection {intersection}")));
    }
    Ok((Signer::new(key), cert))
}

/// Checks the cloud's signed replies and publications for an RSU (see the module docs).
pub struct CloudVerifier {
    guard: Mutex<StateGuard>,
    clock: Arc<dyn Clock>,
    bundle_file: PathBuf,
    last_bundle: Mutex<Vec<u8>>,
}

impl CloudVerifier {
    /// A verifier trusting `root`, starting from the cached bundle in `bundle_file` (if any and
    /// valid) and `initial` (the config's bundle).
    pub fn new(root: VerifyingKey, initial: Option<&[u8]>, bundle_file: PathBuf, clock: Arc<dyn Clock>) -> Self {
        let v = CloudVerifier {
            guard: Mutex::new(StateGuard::new(TrustStore::new([root]), GuardConfig::default())),
            clock,
            bundle_file,
            last_bundle: Mutex::new(Vec::new()),
        };
        let cached = std::fs::read(&v.bundle_file).ok();
        for (what, bytes) in [("config", initial), ("cache", cached.as_deref())] {
            if let Some(b) = bytes {
                match v.import_only(b) {
                    Ok(r) => tracing::info!(from = what, certificates = r.certificates, "trust bundle"),
                    Err(e) => tracing::warn!(from = what, error = %e, "trust bundle refused"),
                }
            }
        }
        v
    }

    fn import_only(&self, bytes: &[u8]) -> Result<ImportReport, String> {
        let mut g = self.guard.lock().unwrap_or_else(PoisonError::into_inner);
        import_bundle(g.trust_mut(), bytes).map_err(|e| e.to_string())
    }

    /// Imports a bundle from the cloud and caches it on disk (atomically). `Ok(false)`: the same
    /// bytes as the last one imported (nothing to do).
    pub fn import(&self, bytes: &[u8]) -> Result<bool, String> {
        {
            let last = self.last_bundle.lock().unwrap_or_else(PoisonError::into_inner);
            if *last == bytes {
                return Ok(false);
            }
        }
        let report = self.import_only(bytes)?;
        if !report.refused.is_empty() {
            tracing::warn!(refused = report.refused.len(), "trust bundle: some certificates refused");
        }
        let tmp = self.bundle_file.with_extension("bundle.tmp");
        let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, &self.bundle_file));
        if let Err(e) = written {
            tracing::warn!(file = %self.bundle_file.display(), error = %e, "caching the trust bundle");
        }
        *self.last_bundle.lock().unwrap_or_else(PoisonError::into_inner) = bytes.to_vec();
        Ok(true)
    }

    /// Checks a cloud message (map, rules or catalog envelope): `Err` names the reason label.
    pub fn check(&self, bytes: &[u8]) -> Result<(), &'static str> {
        let now = self.clock.now();
        let mut g = self.guard.lock().unwrap_or_else(PoisonError::into_inner);
        g.check_cloud(now, bytes).map(|_| ()).map_err(|r| r.reason())
    }
}

/// The section's cloud verifier, if it names a `root`: the root key and the optional initial
/// bundle are read now (errors name the file); the cloud's bundles are cached in `cache_dir`.
pub fn load_cloud_verifier(
    section: &SecuritySection,
    cache_dir: &Path,
    clock: Arc<dyn Clock>,
) -> Result<Option<CloudVerifier>, IdentityError> {
    let Some(root_path) = &section.root else { return Ok(None) };
    let invalid = |p: &Path, reason: String| IdentityError::Invalid { path: p.display().to_string(), reason };
    let root = VerifyingKey::from_pem(&read(root_path)?).map_err(|e| invalid(root_path, e.to_string()))?;
    let initial = match &section.trust_bundle {
        Some(p) => {
            Some(std::fs::read(p).map_err(|source| IdentityError::Io { path: p.display().to_string(), source })?)
        }
        None => None,
    };
    if let (Some(p), Some(b)) = (&section.trust_bundle, &initial) {
        corridor_security::bundle::parse_bundle(b).map_err(|e| invalid(p, e.to_string()))?;
    }
    Ok(Some(CloudVerifier::new(root, initial.as_deref(), cache_dir.join("trust.bundle"), clock)))
}
