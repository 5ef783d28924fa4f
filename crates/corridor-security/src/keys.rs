//! Keys: P-256 ECDSA signing and verifying keys, key ids, and the strict 64-byte signature form.
//!
//! * Signatures are the fixed 64-byte `r || s` form (big-endian scalars), never DER: one
//!   encoding per signature. [`parse_signature`] refuses any other length, `r` or `s` that are
//!   zero or not below the group order, and high-`s` signatures (`s > n/2`): for every valid
//!   `(r, s)` the pair `(r, n - s)` also verifies, so accepting both would let anyone mint a
//!   second valid encoding of a message they saw. [`SigningKey::sign`] always emits low-`s`.
//! * A [`KeyId`] is the first 8 bytes of SHA-256 over the 33-byte SEC1 *compressed* public key.
//!   It travels in every signed envelope's trailer so a verifier finds the key (and rejects
//!   unknown signers) before doing any elliptic-curve arithmetic.
//! * Files: a signing key is stored as PKCS#8 PEM ([`SigningKey::to_pem`]) or as 64 hex digits
//!   ([`SigningKey::to_hex`]); a verifying key as SPKI PEM or 66 hex digits (SEC1 compressed).

use std::fmt;

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};

/// Length of a signature on the wire: `r || s`, 32 bytes each.
pub const SIGNATURE_LEN: usize = 64;
/// Length of a SEC1 compressed P-256 public key.
pub const PUBLIC_KEY_LEN: usize = 33;

/// The first 8 bytes of SHA-256 of a SEC1 compressed public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct KeyId(pub [u8; 8]);

impl KeyId {
    /// Lower-case hex, 16 digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.to_hex())
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Why a key or a signature could not be read or made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not valid hex.
    #[error("not valid hex")]
    Hex,
    /// Not a valid P-256 private scalar / public point.
    #[error("not a valid P-256 {0}")]
    Invalid(&'static str),
    /// PEM / PKCS#8 / SPKI could not be read or written.
    #[error("PEM: {0}")]
    Pem(String),
    /// The signature is not exactly [`SIGNATURE_LEN`] bytes.
    #[error("signature of {0} bytes, {SIGNATURE_LEN} expected")]
    SignatureLength(usize),
    /// `r` or `s` is zero or not below the group order.
    #[error("signature scalars out of range")]
    SignatureScalars,
    /// `s` is in the upper half of the group order (a malleated signature).
    #[error("high-s signature (non-canonical)")]
    HighS,
    /// The signature does not verify.
    #[error("signature does not verify")]
    BadSignature,
}

/// A P-256 ECDSA signing key. Its `Debug` never prints the secret.
#[derive(Clone)]
pub struct SigningKey {
    inner: p256::ecdsa::SigningKey,
    verifying: VerifyingKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({})", self.verifying.key_id())
    }
}

impl SigningKey {
    /// A new random key from a caller-provided cryptographic RNG.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        Self::wrap(p256::ecdsa::SigningKey::random(rng))
    }

    fn wrap(inner: p256::ecdsa::SigningKey) -> Self {
        let verifying = VerifyingKey::wrap(*inner.verifying_key());
        Self { inner, verifying }
    }

    /// The matching public key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.verifying
    }

    /// The key id of the public key.
    pub fn key_id(&self) -> KeyId {
        self.verifying.key_id()
    }

    /// Signs `msg` (SHA-256, RFC 6979 deterministic nonce) and returns the low-`s` `r || s` form.
    pub fn sign(&self, msg: &[u8]) -> [u8; SIGNATURE_LEN] {
        let sig: p256::ecdsa::Signature = self.inner.sign(msg);
        let sig = sig.normalize_s().unwrap_or(sig);
        let mut out = [0u8; SIGNATURE_LEN];
        out.copy_from_slice(&sig.to_bytes());
        out
    }

    /// The 32-byte secret scalar as 64 hex digits. Treat the result as a secret.
    pub fn to_hex(&self) -> String {
        hex::encode(self.inner.to_bytes())
    }

    /// Reads [`SigningKey::to_hex`].
    pub fn from_hex(s: &str) -> Result<Self, KeyError> {
        let bytes = hex::decode(s.trim()).map_err(|_| KeyError::Hex)?;
        let inner = p256::ecdsa::SigningKey::from_slice(&bytes).map_err(|_| KeyError::Invalid("private key"))?;
        Ok(Self::wrap(inner))
    }

    /// PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). Treat the result as a secret.
    pub fn to_pem(&self) -> Result<String, KeyError> {
        let pem = self.inner.to_pkcs8_pem(LineEnding::LF).map_err(|e| KeyError::Pem(e.to_string()))?;
        Ok(pem.as_str().to_owned())
    }

    /// Reads [`SigningKey::to_pem`].
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let inner = p256::ecdsa::SigningKey::from_pkcs8_pem(pem).map_err(|e| KeyError::Pem(e.to_string()))?;
        Ok(Self::wrap(inner))
    }
}

/// A P-256 ECDSA public key with its precomputed [`KeyId`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct VerifyingKey {
    inner: p256::ecdsa::VerifyingKey,
    key_id: KeyId,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyingKey({})", self.key_id)
    }
}

impl VerifyingKey {
    fn wrap(inner: p256::ecdsa::VerifyingKey) -> Self {
        let sec1 = inner.to_encoded_point(true);
        let digest = Sha256::digest(sec1.as_bytes());
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        Self { inner, key_id: KeyId(id) }
    }

    /// The key id: first 8 bytes of SHA-256 of [`VerifyingKey::to_sec1`].
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The 33-byte SEC1 compressed point.
    pub fn to_sec1(&self) -> [u8; PUBLIC_KEY_LEN] {
        let mut out = [0u8; PUBLIC_KEY_LEN];
        out.copy_from_slice(self.inner.to_encoded_point(true).as_bytes());
        out
    }

    /// Reads a SEC1 compressed point (exactly 33 bytes: no uncompressed form, no trailing bytes).
    pub fn from_sec1(bytes: &[u8]) -> Result<Self, KeyError> {
        if bytes.len() != PUBLIC_KEY_LEN {
            return Err(KeyError::Invalid("compressed public key"));
        }
        let inner = p256::ecdsa::VerifyingKey::from_sec1_bytes(bytes)
            .map_err(|_| KeyError::Invalid("compressed public key"))?;
        Ok(Self::wrap(inner))
    }

    /// The SEC1 compressed point as 66 hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.to_sec1())
    }

    /// Reads [`VerifyingKey::to_hex`].
    pub fn from_hex(s: &str) -> Result<Self, KeyError> {
        let bytes = hex::decode(s.trim()).map_err(|_| KeyError::Hex)?;
        Self::from_sec1(&bytes)
    }

    /// SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn to_pem(&self) -> Result<String, KeyError> {
        self.inner.to_public_key_pem(LineEnding::LF).map_err(|e| KeyError::Pem(e.to_string()))
    }

    /// Reads [`VerifyingKey::to_pem`].
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let inner = p256::ecdsa::VerifyingKey::from_public_key_pem(pem).map_err(|e| KeyError::Pem(e.to_string()))?;
        Ok(Self::wrap(inner))
    }

    /// Verifies a strict 64-byte low-`s` signature over `msg` (see [`parse_signature`]).
    pub fn verify(&self, msg: &[u8], signature: &[u8]) -> Result<(), KeyError> {
        let sig = parse_signature(signature)?;
        self.verify_parsed(msg, &sig)
    }

    /// Verifies an already parsed signature (the elliptic-curve step alone).
    pub fn verify_parsed(&self, msg: &[u8], sig: &ParsedSignature) -> Result<(), KeyError> {
        self.inner.verify(msg, &sig.0).map_err(|_| KeyError::BadSignature)
    }

    /// Verifies against a SHA-256 digest computed by the caller.
    pub fn verify_prehash(&self, digest: &[u8; 32], sig: &ParsedSignature) -> Result<(), KeyError> {
        self.inner.verify_prehash(digest, &sig.0).map_err(|_| KeyError::BadSignature)
    }
}

/// A signature that passed [`parse_signature`]: right length, scalars in range, low `s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedSignature(p256::ecdsa::Signature);

/// Parses the strict wire form: exactly 64 bytes, `0 < r, s < n`, and `s <= n/2`.
/// Cheap (no curve arithmetic), so it runs before any verification.
pub fn parse_signature(bytes: &[u8]) -> Result<ParsedSignature, KeyError> {
    if bytes.len() != SIGNATURE_LEN {
        return Err(KeyError::SignatureLength(bytes.len()));
    }
    let sig = p256::ecdsa::Signature::from_slice(bytes).map_err(|_| KeyError::SignatureScalars)?;
    if sig.normalize_s().is_some() {
        return Err(KeyError::HighS);
    }
    Ok(ParsedSignature(sig))
}

/// Returns the high-`s` twin `(r, n - s)` of a valid signature. For tests of malleability
/// rejection; the twin verifies under plain ECDSA but [`parse_signature`] refuses it.
pub fn malleate(signature: &[u8; SIGNATURE_LEN]) -> Result<[u8; SIGNATURE_LEN], KeyError> {
    let sig = p256::ecdsa::Signature::from_slice(signature).map_err(|_| KeyError::SignatureScalars)?;
    let (r, s) = sig.split_scalars();
    let neg = -s;
    let twin = p256::ecdsa::Signature::from_scalars(r, neg).map_err(|_| KeyError::SignatureScalars)?;
    let mut out = [0u8; SIGNATURE_LEN];
    out.copy_from_slice(&twin.to_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;

    #[test]
    fn the_high_s_twin_verifies_under_plain_ecdsa_but_not_here() {
        let key = SigningKey::generate(&mut rand_chacha::ChaCha20Rng::seed_from_u64(1));
        let sig = key.sign(b"state");
        let twin = malleate(&sig).unwrap();
        // Plain ECDSA accepts both encodings: that is the malleability.
        let raw = p256::ecdsa::Signature::from_slice(&twin).unwrap();
        assert!(key.verifying_key().inner.verify(b"state", &raw).is_ok());
        // The strict form refuses the twin and accepts the original.
        assert_eq!(key.verifying_key().verify(b"state", &twin), Err(KeyError::HighS));
        assert_eq!(key.verifying_key().verify(b"state", &sig), Ok(()));
        assert!(parse_signature(&sig).is_ok());
    }
}
