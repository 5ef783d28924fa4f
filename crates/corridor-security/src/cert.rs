//! Certificates: a region root key vouches that a public key belongs to a cloud instance or to
//! an RSU, for which intersections, and for how long.
//!
//! Canonical byte layout (little-endian integers; the issuer signs bytes `0..end` of the
//! to-be-signed part, and the 64-byte `r || s` signature follows):
//!
//! ```text
//! offset  size  field
//!  0       4    magic             b"CRCT"
//!  4       1    layout version    1
//!  5       1    role              1 = cloud, 2 = rsu
//!  6       8    serial            u64, unique per issuer (what revocation lists name)
//! 14       8    not_before        i64 UTC ns, inclusive
//! 22       8    not_after         i64 UTC ns, inclusive
//! 30       8    issuer key id     the root's KeyId
//! 38      33    public key        SEC1 compressed P-256 point
//! 71     1+s    subject           u8 length + key-safe id (1..=64 bytes), e.g. the RSU id or "cloud"
//!  ..      2    n                 u16, number of intersections (0 for cloud, >= 1 for an RSU)
//!  ..   n*(1+l) intersections     u8 length + key-safe id each, strictly ascending (sorted, unique)
//! end     64    signature         issuer's ECDSA P-256 signature over bytes 0..end
//! ```
//!
//! Decoding is strict: unknown role, unsorted or duplicate intersections, an empty or
//! non-key-safe subject, `not_before > not_after` or any trailing byte is an error, so a
//! certificate has exactly one encoding and its signature covers all of it.

use corridor_model::{IntersectionId, RsuId, Timestamp};

use crate::canon::{put_str8, CanonError, Reader};
use crate::keys::{KeyError, KeyId, SigningKey, VerifyingKey, PUBLIC_KEY_LEN, SIGNATURE_LEN};

const MAGIC: [u8; 4] = *b"CRCT";
const LAYOUT_VERSION: u8 = 1;

/// What a certified key may sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
#[non_exhaustive]
pub enum Role {
    /// The cloud tier: maps, rules, catalogs.
    Cloud = 1,
    /// A roadside unit: intersection states and events for the intersections it names.
    Rsu = 2,
}

impl Role {
    /// From the wire byte.
    pub fn from_u8(b: u8) -> Option<Self> {
        match b {
            1 => Some(Self::Cloud),
            2 => Some(Self::Rsu),
            _ => None,
        }
    }
}

/// Why a certificate could not be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    /// The bytes are not a canonical certificate.
    #[error("certificate encoding: {0}")]
    Encoding(#[from] CanonError),
    /// A key or the signature is invalid.
    #[error("certificate key/signature: {0}")]
    Key(#[from] KeyError),
    /// The subject is not a key-safe id.
    #[error("subject {0:?} is not a key-safe id")]
    Subject(String),
    /// `not_before` is after `not_after`.
    #[error("validity period is empty ({not_before} > {not_after})")]
    Validity {
        /// Start.
        not_before: Timestamp,
        /// End.
        not_after: Timestamp,
    },
    /// An RSU certificate must name at least one intersection, a cloud certificate none.
    #[error("a {0:?} certificate with {1} intersections")]
    Intersections(Role, usize),
}

/// The certified statement: "this key belongs to `subject`, acting as `role`, for these
/// intersections, between these times", issued by the key `issuer_key_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// Who holds the key: the RSU id (equal to the envelope `sender`) or a cloud instance name.
    pub subject: String,
    /// What the key may sign.
    pub role: Role,
    /// The certified public key.
    pub public_key: VerifyingKey,
    /// Intersections an RSU may publish for (sorted, unique; empty for cloud).
    pub intersections: Vec<IntersectionId>,
    /// Valid from (inclusive).
    pub not_before: Timestamp,
    /// Valid until (inclusive).
    pub not_after: Timestamp,
    /// The issuing root's key id (set by [`Certificate::issue`]).
    pub issuer_key_id: KeyId,
    /// Serial number, unique per issuer; revocation lists name it.
    pub serial: u64,
}

impl Certificate {
    /// A certificate for an RSU key (the issuer key id is filled in by [`Certificate::issue`]).
    pub fn rsu(
        rsu: &RsuId,
        public_key: VerifyingKey,
        intersections: impl IntoIterator<Item = IntersectionId>,
        not_before: Timestamp,
        not_after: Timestamp,
        serial: u64,
    ) -> Self {
        Self {
            subject: rsu.as_str().to_owned(),
            role: Role::Rsu,
            public_key,
            intersections: intersections.into_iter().collect(),
            not_before,
            not_after,
            issuer_key_id: KeyId([0; 8]),
            serial,
        }
    }

    /// A certificate for a cloud key.
    pub fn cloud(
        subject: &str,
        public_key: VerifyingKey,
        not_before: Timestamp,
        not_after: Timestamp,
        serial: u64,
    ) -> Self {
        Self {
            subject: subject.to_owned(),
            role: Role::Cloud,
            public_key,
            intersections: Vec::new(),
            not_before,
            not_after,
            issuer_key_id: KeyId([0; 8]),
            serial,
        }
    }

    /// Whether `now` is within `not_before..=not_after`.
    pub fn is_valid_at(&self, now: Timestamp) -> bool {
        self.not_before <= now && now <= self.not_after
    }

    /// Whether this certificate lets its key publish for `intersection`.
    pub fn covers(&self, intersection: &IntersectionId) -> bool {
        self.role == Role::Rsu && self.intersections.binary_search(intersection).is_ok()
    }

    /// Validates, canonicalises (sorts and dedups the intersections), sets the issuer and signs
    /// with the region root key.
    pub fn issue(mut self, issuer: &SigningKey) -> Result<SignedCertificate, CertError> {
        self.intersections.sort();
        self.intersections.dedup();
        self.issuer_key_id = issuer.key_id();
        self.check()?;
        let mut bytes = self.tbs_bytes();
        let signature = issuer.sign(&bytes);
        bytes.extend_from_slice(&signature);
        Ok(SignedCertificate { cert: self, signature, bytes })
    }

    fn check(&self) -> Result<(), CertError> {
        RsuId::new(&self.subject).map_err(|_| CertError::Subject(self.subject.clone()))?;
        if self.not_before > self.not_after {
            return Err(CertError::Validity { not_before: self.not_before, not_after: self.not_after });
        }
        let n = self.intersections.len();
        let ok = match self.role {
            Role::Rsu => (1..=usize::from(u16::MAX)).contains(&n),
            Role::Cloud => n == 0,
        };
        if !ok {
            return Err(CertError::Intersections(self.role, n));
        }
        Ok(())
    }

    /// The to-be-signed bytes (see the module doc).
    pub fn tbs_bytes(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(128 + self.intersections.len() * 16);
        buf.extend_from_slice(&MAGIC);
        buf.push(LAYOUT_VERSION);
        buf.push(self.role as u8);
        buf.extend_from_slice(&self.serial.to_le_bytes());
        buf.extend_from_slice(&self.not_before.unix_ns.to_le_bytes());
        buf.extend_from_slice(&self.not_after.unix_ns.to_le_bytes());
        buf.extend_from_slice(&self.issuer_key_id.0);
        buf.extend_from_slice(&self.public_key.to_sec1());
        put_str8(&mut buf, &self.subject);
        buf.extend_from_slice(&(self.intersections.len() as u16).to_le_bytes());
        for ix in &self.intersections {
            put_str8(&mut buf, ix.as_str());
        }
        buf
    }
}

/// A certificate with its issuer's signature, and its canonical bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCertificate {
    cert: Certificate,
    signature: [u8; SIGNATURE_LEN],
    bytes: Vec<u8>,
}

impl SignedCertificate {
    /// The certified statement.
    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }

    /// The issuer's signature.
    pub fn signature(&self) -> &[u8; SIGNATURE_LEN] {
        &self.signature
    }

    /// The canonical bytes: to-be-signed part then signature (for files and the wire).
    pub fn to_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The canonical bytes as hex (for text files).
    pub fn to_hex(&self) -> String {
        hex::encode(&self.bytes)
    }

    /// Reads [`SignedCertificate::to_hex`].
    pub fn from_hex(s: &str) -> Result<Self, CertError> {
        let bytes = hex::decode(s.trim()).map_err(|_| CertError::Key(KeyError::Hex))?;
        Self::from_bytes(&bytes)
    }

    /// Parses canonical bytes strictly. Does **not** check the signature: that needs the
    /// issuer's key, see [`SignedCertificate::verify_signature`] and [`crate::TrustStore`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CertError> {
        let mut r = Reader::new(bytes);
        if r.array::<4>()? != MAGIC || r.u8()? != LAYOUT_VERSION {
            return Err(CanonError::Magic("certificate").into());
        }
        let role = Role::from_u8(r.u8()?).ok_or(CanonError::Invalid("role"))?;
        let serial = r.u64()?;
        let not_before = Timestamp::from_unix_ns(r.i64()?);
        let not_after = Timestamp::from_unix_ns(r.i64()?);
        let issuer_key_id = KeyId(r.array()?);
        let public_key = VerifyingKey::from_sec1(r.take(PUBLIC_KEY_LEN)?)?;
        let subject = r.str8("subject")?.to_owned();
        let n = r.u16()? as usize;
        let mut intersections: Vec<IntersectionId> = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            let ix = IntersectionId::new(r.str8("intersection")?).map_err(|_| CanonError::Invalid("intersection"))?;
            if intersections.last().is_some_and(|prev| *prev >= ix) {
                return Err(CanonError::Invalid("intersection order").into());
            }
            intersections.push(ix);
        }
        let tbs_len = r.position();
        let signature: [u8; SIGNATURE_LEN] = r.array()?;
        r.finish()?;
        let cert =
            Certificate { subject, role, public_key, intersections, not_before, not_after, issuer_key_id, serial };
        cert.check()?;
        // Belt and braces: the strict reader should make this impossible, but the signature
        // must cover exactly the one canonical encoding.
        if cert.tbs_bytes() != bytes[..tbs_len] {
            return Err(CanonError::Invalid("non-canonical encoding").into());
        }
        Ok(Self { cert, signature, bytes: bytes.to_vec() })
    }

    /// Checks the issuer's signature (strict low-`s`) over the to-be-signed bytes.
    pub fn verify_signature(&self, issuer: &VerifyingKey) -> Result<(), KeyError> {
        if issuer.key_id() != self.cert.issuer_key_id {
            return Err(KeyError::BadSignature);
        }
        let tbs = &self.bytes[..self.bytes.len() - SIGNATURE_LEN];
        issuer.verify(tbs, &self.signature)
    }
}
