//! The trust store: region root keys (trust anchors), the certificates they issued, and the
//! newest revocation list. Everything that enters is signature-checked on the way in; time and
//! revocation are checked on every use ([`TrustStore::verify_certificate`]) because both change
//! while a certificate sits in the store.
//!
//! The store is plain data with a `version` counter that bumps on every accepted change, so the
//! SDK can persist it (the canonical bytes of each item) and tell when its cache is stale.

use std::collections::BTreeMap;

use corridor_model::Timestamp;

use crate::cert::{CertError, Certificate, SignedCertificate};
use crate::keys::{KeyError, KeyId, VerifyingKey};
use crate::revocation::{RevocationList, SignedRevocationList};

/// Why a certificate or revocation list was not admitted to the store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// Issued by a key that is not a trust anchor of this store.
    #[error("issuer {0} is not a trust anchor")]
    UnknownIssuer(KeyId),
    /// The issuer's signature does not verify.
    #[error("issuer signature: {0}")]
    Signature(#[from] KeyError),
    /// The certificate is malformed.
    #[error("certificate: {0}")]
    Certificate(#[from] CertError),
    /// A revocation list not newer than the one held (rollback refused).
    #[error("revocation list seq {offered} is not newer than the held seq {held}")]
    RevocationRollback {
        /// The offered list's seq.
        offered: u64,
        /// The held list's seq.
        held: u64,
    },
    /// A different certificate with the same key id is already held.
    #[error("a different certificate for key {0} is already held")]
    KeyIdCollision(KeyId),
}

/// Why a held certificate is not usable now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertRejection {
    /// No certificate for this key id.
    #[error("no certificate for key {0}")]
    UnknownKey(KeyId),
    /// `now` is before `not_before`.
    #[error("certificate {serial} not valid before {not_before}")]
    NotYetValid {
        /// Certificate serial.
        serial: u64,
        /// Its start.
        not_before: Timestamp,
    },
    /// `now` is after `not_after`.
    #[error("certificate {serial} expired at {not_after}")]
    Expired {
        /// Certificate serial.
        serial: u64,
        /// Its end.
        not_after: Timestamp,
    },
    /// The serial or key id is on the revocation list.
    #[error("certificate {serial} (key {key_id}) is revoked")]
    Revoked {
        /// Certificate serial.
        serial: u64,
        /// Its key id.
        key_id: KeyId,
    },
}

/// Trust anchors, admitted certificates (by subject key id) and the newest revocation list.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    roots: BTreeMap<KeyId, VerifyingKey>,
    certificates: BTreeMap<KeyId, SignedCertificate>,
    revocation: RevocationList,
    revocation_signed: Option<SignedRevocationList>,
    version: u64,
}

impl TrustStore {
    /// A store trusting these region root keys.
    pub fn new(roots: impl IntoIterator<Item = VerifyingKey>) -> Self {
        let roots = roots.into_iter().map(|k| (k.key_id(), k)).collect();
        Self { roots, ..Self::default() }
    }

    /// Bumps on every accepted change (certificate added, newer revocation list).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The trust anchors.
    pub fn roots(&self) -> impl Iterator<Item = &VerifyingKey> {
        self.roots.values()
    }

    /// The held revocation list (seq 0 and empty until one is applied).
    pub fn revocation_list(&self) -> &RevocationList {
        &self.revocation
    }

    /// The held revocation list with its signature (to pass on, e.g. in a trust bundle).
    pub fn signed_revocation_list(&self) -> Option<&SignedRevocationList> {
        self.revocation_signed.as_ref()
    }

    /// Admitted certificates, ordered by key id.
    pub fn certificates(&self) -> impl Iterator<Item = &SignedCertificate> {
        self.certificates.values()
    }

    /// Admits a certificate whose issuer is a trust anchor and whose signature verifies.
    /// Validity period and revocation are *not* checked here (a certificate may be distributed
    /// before it starts); [`TrustStore::verify_certificate`] checks them at each use.
    /// Re-adding the identical certificate is a no-op.
    pub fn add_certificate(&mut self, cert: SignedCertificate) -> Result<(), TrustError> {
        let issuer_id = cert.certificate().issuer_key_id;
        let issuer = self.roots.get(&issuer_id).ok_or(TrustError::UnknownIssuer(issuer_id))?;
        cert.verify_signature(issuer)?;
        let key_id = cert.certificate().public_key.key_id();
        match self.certificates.get(&key_id) {
            Some(held) if *held == cert => return Ok(()),
            Some(held) if held.certificate().serial != cert.certificate().serial => {
                return Err(TrustError::KeyIdCollision(key_id))
            }
            _ => {}
        }
        self.certificates.insert(key_id, cert);
        self.version += 1;
        Ok(())
    }

    /// Parses and admits a certificate from its canonical bytes.
    pub fn add_certificate_bytes(&mut self, bytes: &[u8]) -> Result<(), TrustError> {
        self.add_certificate(SignedCertificate::from_bytes(bytes)?)
    }

    /// Replaces the revocation list with a newer one signed by a trust anchor. An older list, or
    /// a different list with the same seq, is refused (never roll back); the identical list is
    /// a no-op.
    pub fn apply_revocation(&mut self, list: SignedRevocationList) -> Result<(), TrustError> {
        let issuer_id = list.list().issuer_key_id;
        let issuer = self.roots.get(&issuer_id).ok_or(TrustError::UnknownIssuer(issuer_id))?;
        list.verify_signature(issuer)?;
        let held = self.revocation.seq;
        let offered = list.list().seq;
        if offered == held && *list.list() == self.revocation {
            return Ok(());
        }
        if offered <= held {
            return Err(TrustError::RevocationRollback { offered, held });
        }
        self.revocation = list.list().clone();
        self.revocation_signed = Some(list);
        self.version += 1;
        Ok(())
    }

    /// The certificate for `key_id`, without time or revocation checks.
    pub fn certificate(&self, key_id: &KeyId) -> Option<&Certificate> {
        self.certificates.get(key_id).map(SignedCertificate::certificate)
    }

    /// The certificate for `key_id` if it is valid at `now` and not revoked.
    pub fn verify_certificate(&self, key_id: &KeyId, now: Timestamp) -> Result<&Certificate, CertRejection> {
        let cert = self.certificate(key_id).ok_or(CertRejection::UnknownKey(*key_id))?;
        check_certificate(cert, &self.revocation, now)?;
        Ok(cert)
    }
}

/// Time and revocation checks for one certificate.
pub(crate) fn check_certificate(cert: &Certificate, crl: &RevocationList, now: Timestamp) -> Result<(), CertRejection> {
    if now < cert.not_before {
        return Err(CertRejection::NotYetValid { serial: cert.serial, not_before: cert.not_before });
    }
    if now > cert.not_after {
        return Err(CertRejection::Expired { serial: cert.serial, not_after: cert.not_after });
    }
    let key_id = cert.public_key.key_id();
    if crl.is_revoked(cert.serial, key_id) {
        return Err(CertRejection::Revoked { serial: cert.serial, key_id });
    }
    Ok(())
}
