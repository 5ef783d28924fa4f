//! Typed identifiers.
//!
//! Names that appear inside Zenoh keys ([`RegionId`], [`IntersectionId`],
//! [`RsuId`], [`SensorId`]) are validated at construction: 1 to 64 characters
//! out of `[A-Za-z0-9_.-]`, so they can never inject a `/`, `*`, `$`, `?` or `#`
//! into a key expression. Deserialisation goes through the same check.
//! Numeric ids ([`TrackId`], [`SignalGroupId`]) are plain newtypes.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::sync::Arc;

/// Why a name was refused as an id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The name was empty.
    #[error("{kind} id is empty")]
    Empty {
        /// Which kind of id.
        kind: &'static str,
    },
    /// The name was longer than [`MAX_ID_LEN`].
    #[error("{kind} id `{name}` is longer than {MAX_ID_LEN} characters")]
    TooLong {
        /// Which kind of id.
        kind: &'static str,
        /// The refused name.
        name: String,
    },
    /// The name had a character outside `[A-Za-z0-9_.-]`.
    #[error("{kind} id `{name}` has the character {ch:?}; allowed are A-Z a-z 0-9 _ . -")]
    BadChar {
        /// Which kind of id.
        kind: &'static str,
        /// The refused name.
        name: String,
        /// The first offending character.
        ch: char,
    },
}

/// The longest name accepted for a key-safe id.
pub const MAX_ID_LEN: usize = 64;

fn check_name(kind: &'static str, name: &str) -> Result<(), IdError> {
    if name.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if name.len() > MAX_ID_LEN {
        return Err(IdError::TooLong { kind, name: name.to_owned() });
    }
    if let Some(ch) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))) {
        return Err(IdError::BadChar { kind, name: name.to_owned(), ch });
    }
    Ok(())
}

macro_rules! name_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Validates `name` and wraps it.
            pub fn new(name: impl AsRef<str>) -> Result<Self, IdError> {
                let name = name.as_ref();
                check_name($kind, name)?;
                Ok(Self(Arc::from(name)))
            }

            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), &*self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                // a visitor over &str: one allocation (the Arc), not a String and then the Arc
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        write!(f, "a {} id", $kind)
                    }
                    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<$name, E> {
                        $name::new(s).map_err(E::custom)
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}

name_id!(
    /// A deployment region, the first segment after `corridor/` in every key (e.g. `beijing-yz`).
    RegionId,
    "region"
);
name_id!(
    /// One intersection (one digital intersection, one state key).
    IntersectionId,
    "intersection"
);
name_id!(
    /// One roadside unit: the service that fuses one intersection's sensors.
    RsuId,
    "rsu"
);
name_id!(
    /// One sensor (camera or lidar) attached to an RSU.
    SensorId,
    "sensor"
);

/// A lane of an HD map. Lane ids come from the source format (SUMO lane ids
/// such as `-E1_0` or `:J0_3_0`, OpenDRIVE road/section/lane triples, Lanelet2
/// ids) and never appear in keys, so they are free text.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct LaneId(pub Arc<str>);

impl<'de> Deserialize<'de> for LaneId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // one allocation (the Arc) from a borrowed or transient &str
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = LaneId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a lane id")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<LaneId, E> {
                Ok(LaneId::new(s))
            }
        }
        d.deserialize_str(V)
    }
}

impl LaneId {
    /// Wraps a lane id.
    pub fn new(id: impl AsRef<str>) -> Self {
        Self(Arc::from(id.as_ref()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LaneId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for LaneId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LaneId({:?})", &*self.0)
    }
}

/// A track id, unique for the lifetime of one RSU's tracker and never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TrackId(pub u64);

impl fmt::Display for TrackId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A signal group (J2735 `SignalGroupID`, 0..=255; SUMO `linkIndex` can be larger, so u16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SignalGroupId(pub u16);

impl fmt::Display for SignalGroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_key_safe_names() {
        for n in ["a", "ix-01", "rsu_7", "beijing.yz", "A1"] {
            assert_eq!(RsuId::new(n).map(|r| r.to_string()), Ok(n.to_owned()));
        }
    }

    #[test]
    fn refuses_key_syntax_and_names_the_character() {
        assert_eq!(IntersectionId::new(""), Err(IdError::Empty { kind: "intersection" }));
        for (n, ch) in [("a/b", '/'), ("*", '*'), ("x?y", '?'), ("$z", '$'), ("a b", ' '), ("é", 'é')] {
            match SensorId::new(n) {
                Err(IdError::BadChar { ch: got, kind: "sensor", .. }) => assert_eq!(got, ch, "{n}"),
                other => panic!("{n}: {other:?}"),
            }
        }
        assert!(matches!(RegionId::new("x".repeat(65)), Err(IdError::TooLong { .. })));
    }

    #[test]
    fn deserialisation_validates() {
        let ok: RsuId = serde_json::from_str("\"rsu-1\"").unwrap();
        assert_eq!(ok.as_str(), "rsu-1");
        let err = serde_json::from_str::<RsuId>("\"rsu/1\"").unwrap_err();
        assert!(err.to_string().contains("'/'"), "{err}");
    }
}
