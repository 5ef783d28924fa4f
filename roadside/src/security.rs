//! The RSU's signing identity: the `[security]` config section names its private key (PKCS#8
//! PEM, as written by `cloud-control keys certify`) and its root-signed certificate (hex). At
//! start the pair is checked (the certificate certifies this key, role RSU, subject = this RSU
//! id, covers this intersection) and becomes a [`Signer`]; every state and event the RSU then
//! publishes carries the signed-envelope trailer with the key id of that certificate.
//!
//! Without the section the RSU publishes unsigned envelopes (tests and the demo default).

use std::path::{Path, PathBuf};

use corridor_model::{IntersectionId, RsuId};
use corridor_security::{Role, SignedCertificate, Signer, SigningKey};
use serde::{Deserialize, Serialize};

/// `[security]`: the RSU's certified key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySection {
    /// Private key file (PKCS#8 PEM, mode 0600), e.g. `keys/rsu-a.key`.
    pub key: PathBuf,
    /// Certificate file (hex of the canonical bytes), e.g. `keys/rsu-a.cert`.
    pub cert: PathBuf,
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
