//! The trust bundle: the certificates and the revocation list a [`TrustStore`] holds, as one
//! canonical byte blob. It is what the cloud hands out and what RSUs and vehicles cache on
//! disk (sans-IO: this module makes and reads the bytes; the caller writes the file or sends
//! them over Zenoh). The **trust anchors are not in the bundle**: they come from the
//! receiver's own configuration (`root.pub`), and everything in a bundle is signature-checked
//! against them on import, so a bundle from an untrusted source or a corrupted cache file can
//! add nothing that the root did not sign.
//!
//! Layout (little-endian):
//!
//! ```text
//! magic b"CRTB" | version 1 | n_certs u32 | n_certs x (len u32, certificate bytes)
//! | crl_len u32 (0: no list) | revocation list bytes
//! ```

use crate::canon::{CanonError, Reader};
use crate::cert::SignedCertificate;
use crate::revocation::SignedRevocationList;
use crate::trust::{TrustError, TrustStore};

const MAGIC: [u8; 4] = *b"CRTB";
const LAYOUT_VERSION: u8 = 1;

/// What [`import_bundle`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Certificates admitted (new or already held).
    pub certificates: usize,
    /// Certificates refused, with why (unknown issuer, bad signature, key id collision).
    pub refused: Vec<TrustError>,
    /// Whether the bundle's revocation list replaced the held one.
    pub revocation_applied: bool,
}

/// The store's certificates and revocation list as bundle bytes.
pub fn export_bundle(store: &TrustStore) -> Vec<u8> {
    let mut buf = Vec::with_capacity(1024);
    buf.extend_from_slice(&MAGIC);
    buf.push(LAYOUT_VERSION);
    let certs: Vec<&SignedCertificate> = store.certificates().collect();
    buf.extend_from_slice(&(certs.len() as u32).to_le_bytes());
    for c in certs {
        buf.extend_from_slice(&(c.to_bytes().len() as u32).to_le_bytes());
        buf.extend_from_slice(c.to_bytes());
    }
    match store.signed_revocation_list() {
        Some(l) => {
            buf.extend_from_slice(&(l.to_bytes().len() as u32).to_le_bytes());
            buf.extend_from_slice(l.to_bytes());
        }
        None => buf.extend_from_slice(&0u32.to_le_bytes()),
    }
    buf
}

/// Parses a bundle strictly (no trailing bytes). A malformed bundle changes nothing.
pub fn parse_bundle(bytes: &[u8]) -> Result<(Vec<SignedCertificate>, Option<SignedRevocationList>), CanonError> {
    let mut r = Reader::new(bytes);
    if r.array::<4>()? != MAGIC || r.u8()? != LAYOUT_VERSION {
        return Err(CanonError::Magic("trust bundle"));
    }
    let n = r.u32()? as usize;
    let mut certs = Vec::with_capacity(n.min(4096));
    for _ in 0..n {
        let len = r.u32()? as usize;
        let c =
            SignedCertificate::from_bytes(r.take(len)?).map_err(|_| CanonError::Invalid("certificate in bundle"))?;
        certs.push(c);
    }
    let len = r.u32()? as usize;
    let crl = if len == 0 { None } else { Some(SignedRevocationList::from_bytes(r.take(len)?)?) };
    r.finish()?;
    Ok((certs, crl))
}

/// Parses a bundle and admits what the store's anchors signed: each certificate through
/// [`TrustStore::add_certificate`] (refusals are reported, not fatal), then the revocation list
/// if it is newer than the held one (an older one is ignored: never roll back).
pub fn import_bundle(store: &mut TrustStore, bytes: &[u8]) -> Result<ImportReport, CanonError> {
    let (certs, crl) = parse_bundle(bytes)?;
    let mut report = ImportReport::default();
    for c in certs {
        match store.add_certificate(c) {
            Ok(()) => report.certificates += 1,
            Err(e) => report.refused.push(e),
        }
    }
    if let Some(crl) = crl {
        let before = store.revocation_list().seq;
        match store.apply_revocation(crl) {
            Ok(()) => report.revocation_applied = store.revocation_list().seq != before,
            Err(TrustError::RevocationRollback { .. }) => {}
            Err(e) => report.refused.push(e),
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::{Certificate, RevocationList, SigningKey};
    use corridor_model::{RsuId, Timestamp};
    use rand_chacha::rand_core::SeedableRng;

    fn setup() -> (SigningKey, TrustStore, SigningKey) {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        let root = SigningKey::generate(&mut rng);
        let rsu = SigningKey::generate(&mut rng);
        let mut store = TrustStore::new([*root.verifying_key()]);
        let cert = Certificate::rsu(
            &RsuId::new("rsu-a").unwrap(),
            *rsu.verifying_key(),
            ["ix-a".parse().unwrap()],
            Timestamp::from_unix_ns(0),
            Timestamp::from_unix_ns(i64::MAX),
            1,
        )
        .issue(&root)
        .unwrap();
        store.add_certificate(cert).unwrap();
        let crl = RevocationList { seq: 3, serials: vec![9], ..Default::default() }.issue(&root);
        store.apply_revocation(crl).unwrap();
        (root, store, rsu)
    }

    #[test]
    fn round_trip_into_a_fresh_store() {
        let (root, store, rsu) = setup();
        let bytes = export_bundle(&store);
        let mut fresh = TrustStore::new([*root.verifying_key()]);
        let report = import_bundle(&mut fresh, &bytes).unwrap();
        assert_eq!(report, ImportReport { certificates: 1, refused: vec![], revocation_applied: true });
        assert!(fresh.certificate(&rsu.key_id()).is_some());
        assert_eq!(fresh.revocation_list().seq, 3);
        assert_eq!(export_bundle(&fresh), bytes, "canonical");
        // importing again changes nothing
        let again = import_bundle(&mut fresh, &bytes).unwrap();
        assert!(!again.revocation_applied && again.refused.is_empty());
    }

    #[test]
    fn another_root_admits_nothing_and_garbage_is_refused() {
        let (_, store, rsu) = setup();
        let bytes = export_bundle(&store);
        let other = SigningKey::generate(&mut rand_chacha::ChaCha20Rng::seed_from_u64(8));
        let mut fresh = TrustStore::new([*other.verifying_key()]);
        let report = import_bundle(&mut fresh, &bytes).unwrap();
        assert_eq!(report.certificates, 0);
        assert_eq!(report.refused.len(), 2, "{report:?}");
        assert!(fresh.certificate(&rsu.key_id()).is_none());
        let mut long = bytes.clone();
        long.push(0);
        assert!(parse_bundle(&long).is_err());
        assert!(parse_bundle(&bytes[..bytes.len() - 1]).is_err());
        assert!(parse_bundle(b"CRTB").is_err());
    }

    #[test]
    fn an_older_list_in_a_bundle_does_not_roll_back() {
        let (root, mut store, _) = setup();
        let old = TrustStore::new([*root.verifying_key()]);
        let mut with_old = old.clone();
        with_old.apply_revocation(RevocationList { seq: 1, ..Default::default() }.issue(&root)).unwrap();
        let report = import_bundle(&mut store, &export_bundle(&with_old)).unwrap();
        assert!(!report.revocation_applied);
        assert_eq!(store.revocation_list().seq, 3);
    }
}
