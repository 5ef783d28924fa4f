//! Revocation lists: the region root's signed list of certificate serials and key ids that must
//! no longer be trusted, with a sequence number so a newer list replaces an older one and an
//! old list can never be replayed to un-revoke a key.
//!
//! Canonical byte layout (little-endian; the root signs bytes `0..end`):
//!
//! ```text
//! offset  size  field
//!  0       4    magic          b"CRRL"
//!  4       1    layout version 1
//!  5       8    seq            u64, strictly increasing per issuer
//! 13       8    issued_at      i64 UTC ns
//! 21       8    issuer key id  the root's KeyId
//! 29       4    n_serials      u32, then n_serials x u64, strictly ascending
//!  ..      4    n_keys         u32, then n_keys x 8-byte key id, strictly ascending
//! end     64    signature      root's ECDSA P-256 signature over bytes 0..end
//! ```
//!
//! A list is cumulative: each new list names everything revoked so far (a revoked key stays
//! revoked until its certificate expires and the operator chooses to drop it).

use corridor_model::Timestamp;

use crate::canon::{CanonError, Reader};
use crate::keys::{KeyError, KeyId, SigningKey, VerifyingKey, SIGNATURE_LEN};

const MAGIC: [u8; 4] = *b"CRRL";
const LAYOUT_VERSION: u8 = 1;

/// The content of a revocation list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RevocationList {
    /// Sequence number: a list only replaces one with a smaller `seq`.
    pub seq: u64,
    /// When the root issued it.
    pub issued_at: Timestamp,
    /// The issuing root's key id (set by [`RevocationList::issue`]).
    pub issuer_key_id: KeyId,
    /// Revoked certificate serials (sorted, unique).
    pub serials: Vec<u64>,
    /// Revoked key ids (sorted, unique).
    pub key_ids: Vec<KeyId>,
}

impl RevocationList {
    /// Whether a certificate with this serial or key id is revoked.
    pub fn is_revoked(&self, serial: u64, key_id: KeyId) -> bool {
        self.serials.binary_search(&serial).is_ok() || self.key_ids.binary_search(&key_id).is_ok()
    }

    /// Canonicalises (sorts, dedups), sets the issuer and signs with the root key.
    pub fn issue(mut self, root: &SigningKey) -> SignedRevocationList {
        self.serials.sort_unstable();
        self.serials.dedup();
        self.key_ids.sort_unstable();
        self.key_ids.dedup();
        self.issuer_key_id = root.key_id();
        let mut bytes = self.tbs_bytes();
        let signature = root.sign(&bytes);
        bytes.extend_from_slice(&signature);
        SignedRevocationList { list: self, bytes }
    }

    /// The to-be-signed bytes (see the module doc).
    pub fn tbs_bytes(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(41 + self.serials.len() * 8 + self.key_ids.len() * 8);
        buf.extend_from_slice(&MAGIC);
        buf.push(LAYOUT_VERSION);
        buf.extend_from_slice(&self.seq.to_le_bytes());
        buf.extend_from_slice(&self.issued_at.unix_ns.to_le_bytes());
        buf.extend_from_slice(&self.issuer_key_id.0);
        buf.extend_from_slice(&(self.serials.len() as u32).to_le_bytes());
        for s in &self.serials {
            buf.extend_from_slice(&s.to_le_bytes());
        }
        buf.extend_from_slice(&(self.key_ids.len() as u32).to_le_bytes());
        for k in &self.key_ids {
            buf.extend_from_slice(&k.0);
        }
        buf
    }
}

/// A revocation list with the root's signature, and its canonical bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRevocationList {
    list: RevocationList,
    bytes: Vec<u8>,
}

impl SignedRevocationList {
    /// The list.
    pub fn list(&self) -> &RevocationList {
        &self.list
    }

    /// Canonical bytes: to-be-signed part then signature.
    pub fn to_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Parses canonical bytes strictly (sorted unique entries, no trailing bytes). Does not
    /// check the signature; [`crate::TrustStore::apply_revocation`] does.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CanonError> {
        let mut r = Reader::new(bytes);
        if r.array::<4>()? != MAGIC || r.u8()? != LAYOUT_VERSION {
            return Err(CanonError::Magic("revocation list"));
        }
        let seq = r.u64()?;
        let issued_at = Timestamp::from_unix_ns(r.i64()?);
        let issuer_key_id = KeyId(r.array()?);
        let n = r.u32()? as usize;
        let raw = r.take(n.checked_mul(8).ok_or(CanonError::Truncated(r.position()))?)?;
        let serials: Vec<u64> =
            raw.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect();
        if serials.windows(2).any(|w| w[0] >= w[1]) {
            return Err(CanonError::Invalid("serial order"));
        }
        let n = r.u32()? as usize;
        let raw = r.take(n.checked_mul(8).ok_or(CanonError::Truncated(r.position()))?)?;
        let key_ids: Vec<KeyId> = raw.chunks_exact(8).map(|c| KeyId(c.try_into().unwrap_or([0; 8]))).collect();
        if key_ids.windows(2).any(|w| w[0] >= w[1]) {
            return Err(CanonError::Invalid("key id order"));
        }
        let _signature: [u8; SIGNATURE_LEN] = r.array()?;
        r.finish()?;
        Ok(Self { list: RevocationList { seq, issued_at, issuer_key_id, serials, key_ids }, bytes: bytes.to_vec() })
    }

    /// Checks the root's signature.
    pub fn verify_signature(&self, root: &VerifyingKey) -> Result<(), KeyError> {
        if root.key_id() != self.list.issuer_key_id {
            return Err(KeyError::BadSignature);
        }
        let split = self.bytes.len() - SIGNATURE_LEN;
        root.verify(&self.bytes[..split], &self.bytes[split..])
    }
}
