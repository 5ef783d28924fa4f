//! The digital intersection state: what one RSU says about one intersection at one instant.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::ids::{IntersectionId, RsuId};
use crate::object::TrackedObject;
use crate::signal::SignalGroupState;
use crate::time::Timestamp;
use crate::{InvalidField, Validate};

/// The content hash of an HD map or a rule set (BLAKE3, 32 bytes). Its hex form is the version.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct MapVersion(pub [u8; 32]);

impl MapVersion {
    /// Lower-case hex of the hash.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses 64 hex characters.
    pub fn from_hex(s: &str) -> Option<Self> {
        if s.len() != 64 || !s.is_ascii() {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Self(out))
    }

    /// The first 12 hex characters, for logs and progress lines.
    pub fn short(&self) -> String {
        self.to_hex()[..12].to_owned()
    }
}

impl fmt::Debug for MapVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MapVersion({})", self.short())
    }
}

impl fmt::Display for MapVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The fused state of one intersection, as published by its RSU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntersectionState {
    /// Which intersection.
    pub intersection: IntersectionId,
    /// The RSU that produced it.
    pub rsu: RsuId,
    /// Per-RSU sequence number, +1 per published state; a restart starts again at 0.
    pub seq: u64,
    /// The time the state is valid for: the capture time of the newest fused detections.
    pub capture_time: Timestamp,
    /// When the RSU received the newest fused detections (its ingest time).
    pub ingest_time: Timestamp,
    /// When the RSU published it.
    pub publish_time: Timestamp,
    /// Content hash of the HD map the objects' lanes and the signal groups refer to.
    pub map_version: MapVersion,
    /// Content hash of the rule set in force, if any.
    pub rules_version: Option<MapVersion>,
    /// Tracked objects, sorted by track id.
    pub objects: Vec<TrackedObject>,
    /// Signal groups, sorted by id.
    pub signals: Vec<SignalGroupState>,
}

impl Validate for IntersectionState {
    fn validate(&self) -> Result<(), InvalidField> {
        for o in &self.objects {
            o.validate()?;
        }
        for s in &self.signals {
            if let Some(t) = &s.timing {
                if !t.confidence.is_finite() || !(0.0..=1.0).contains(&t.confidence) {
                    return Err(InvalidField::out_of_range(
                        format!("signals[{}].timing.confidence", s.id),
                        t.confidence,
                        "outside 0..=1",
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_version_hex_round_trip() {
        let mut b = [0u8; 32];
        b[0] = 0xab;
        b[31] = 0x01;
        let v = MapVersion(b);
        let hex = v.to_hex();
        assert_eq!(hex.len(), 64);
        assert!(hex.starts_with("ab00"));
        assert_eq!(MapVersion::from_hex(&hex), Some(v));
        assert_eq!(MapVersion::from_hex("zz"), None);
        assert_eq!(MapVersion::from_hex(&"g".repeat(64)), None);
    }
}
