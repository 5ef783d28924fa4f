//! The producer side: an RSU or cloud instance signs each envelope it publishes with its
//! certified key, through [`corridor_wire::sign_envelope`] (which sets the signed flag first, so
//! the flag itself is covered by the signature, and appends the `key_id | len | r || s` trailer).

use std::convert::Infallible;

use corridor_wire::{encode_into, EncodeError, Header, WirePayload};

use crate::keys::{KeyId, SigningKey, SIGNATURE_LEN};

/// Why a message could not be signed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The payload could not be encoded.
    #[error("encode: {0}")]
    Encode(#[from] EncodeError),
    /// The buffer does not hold exactly one unsigned envelope.
    #[error("sign: {0}")]
    Envelope(#[from] corridor_wire::SignError<Infallible>),
}

/// Signs envelopes with one key.
#[derive(Debug, Clone)]
pub struct Signer {
    key: SigningKey,
}

impl Signer {
    /// A signer for this (certified) key.
    pub fn new(key: SigningKey) -> Self {
        Self { key }
    }

    /// The key id written into every trailer.
    pub fn key_id(&self) -> KeyId {
        self.key.key_id()
    }

    /// Signs the one unsigned envelope `buf` holds (starting at byte 0) in place: sets the
    /// signed flag and appends the 74-byte trailer (8-byte key id, u16 length 64, `r || s`).
    pub fn sign_into(&self, buf: &mut Vec<u8>) -> Result<(), SignError> {
        corridor_wire::sign_envelope(buf, self.key.key_id().0, |signed| {
            Ok::<_, Infallible>(self.key.sign(signed).to_vec())
        })?;
        Ok(())
    }

    /// Clears `buf`, encodes `payload` under `header` and signs it.
    pub fn encode_signed<T: WirePayload>(
        &self,
        buf: &mut Vec<u8>,
        header: &Header,
        payload: &T,
    ) -> Result<(), SignError> {
        buf.clear();
        buf.reserve(SIGNATURE_LEN + 10);
        encode_into(buf, header, payload)?;
        self.sign_into(buf)
    }
}
