//! A tiny strict reader/writer for the crate's own canonical byte layouts (certificates,
//! revocation lists). Little-endian integers, length-prefixed strings; the reader refuses to
//! read past the end and [`Reader::finish`] refuses trailing bytes, so every value has exactly
//! one encoding.

/// Why canonical bytes could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CanonError {
    /// Ran out of bytes.
    #[error("truncated at byte {0}")]
    Truncated(usize),
    /// Bytes left after the value.
    #[error("{0} trailing bytes")]
    TrailingBytes(usize),
    /// Wrong magic or layout version.
    #[error("not a {0} (bad magic or version)")]
    Magic(&'static str),
    /// A field has a value outside its domain.
    #[error("invalid {0}")]
    Invalid(&'static str),
}

pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    pub(crate) fn position(&self) -> usize {
        self.at
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], CanonError> {
        let end = self.at.checked_add(n).ok_or(CanonError::Truncated(self.at))?;
        let out = self.bytes.get(self.at..end).ok_or(CanonError::Truncated(self.at))?;
        self.at = end;
        Ok(out)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], CanonError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, CanonError> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, CanonError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, CanonError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, CanonError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    pub(crate) fn i64(&mut self) -> Result<i64, CanonError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    /// A u8-length-prefixed UTF-8 string.
    pub(crate) fn str8(&mut self, what: &'static str) -> Result<&'a str, CanonError> {
        let n = self.u8()? as usize;
        std::str::from_utf8(self.take(n)?).map_err(|_| CanonError::Invalid(what))
    }

    pub(crate) fn finish(self) -> Result<(), CanonError> {
        match self.bytes.len() - self.at {
            0 => Ok(()),
            n => Err(CanonError::TrailingBytes(n)),
        }
    }
}

/// Appends a u8-length-prefixed string (callers guarantee `s.len() <= 255`).
pub(crate) fn put_str8(buf: &mut Vec<u8>, s: &str) {
    buf.push(s.len() as u8);
    buf.extend_from_slice(s.as_bytes());
}
