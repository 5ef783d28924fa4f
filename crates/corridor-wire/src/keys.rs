//! The typed key space.
//!
//! Every key corridor uses is a variant of [`Key`]; [`Key`]'s `Display` is the
//! only place a key string is formatted and [`Key::parse`] the only place one
//! is read. A malformed key is refused with the index and text of the offending
//! segment. Wildcard selectors for subscribers come from the functions at the
//! bottom ([`states_in_region`], [`detections_of_rsu`], ...).
//!
//! ```text
//! corridor/{region}/ix/{intersection}/state         fused intersection state (bincode envelope)
//! corridor/{region}/ix/{intersection}/state/json    the same state as JSON, for non-Rust integrators
//! corridor/{region}/ix/{intersection}/events        hazards and violations
//! corridor/{region}/rsu/{rsu}/sensor/{sensor}/det       detections (bincode envelope)
//! corridor/{region}/rsu/{rsu}/sensor/{sensor}/det/json  detections as JSON
//! corridor/{region}/rsu/{rsu}/signal                signal controller phases (controller -> RSU)
//! corridor/{region}/rsu/{rsu}/alive                 liveliness token
//! corridor/{region}/rsu/{rsu}/stats                 telemetry
//! corridor/{region}/map/{intersection}              queryable: HD map by version
//! corridor/{region}/rules/{intersection}            queryable: compiled rules by version
//! corridor/{region}/catalog                         current versions
//! corridor/{region}/cloud/admin                     queryable: publish, rollback, status (cloud-control)
//! corridor/{region}/cloud/events/{rsu}              queryable: event upload, answered after the durable write
//! corridor/{region}/cloud/trust                     queryable + publication on change: the trust bundle
//!                                                   (certificates + revocation list, `corridor_security::bundle`)
//! ```

use corridor_model::{IdError, IntersectionId, RegionId, RsuId, SensorId};
use std::fmt;

/// The first segment of every corridor key.
pub const ROOT: &str = "corridor";

/// A fully specified corridor key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Key {
    /// Fused intersection state (bincode envelope).
    State {
        /// Region.
        region: RegionId,
        /// Intersection.
        intersection: IntersectionId,
    },
    /// JSON mirror of the fused state.
    StateJson {
        /// Region.
        region: RegionId,
        /// Intersection.
        intersection: IntersectionId,
    },
    /// Hazards and violations at an intersection.
    Events {
        /// Region.
        region: RegionId,
        /// Intersection.
        intersection: IntersectionId,
    },
    /// One sensor's detections (bincode envelope).
    Detections {
        /// Region.
        region: RegionId,
        /// Receiving RSU.
        rsu: RsuId,
        /// Sensor.
        sensor: SensorId,
    },
    /// One sensor's detections as JSON.
    DetectionsJson {
        /// Region.
        region: RegionId,
        /// Receiving RSU.
        rsu: RsuId,
        /// Sensor.
        sensor: SensorId,
    },
    /// Signal controller input to an RSU (the controller's phases and timing).
    Signals {
        /// Region.
        region: RegionId,
        /// Receiving RSU.
        rsu: RsuId,
    },
    /// An RSU's liveliness token.
    Alive {
        /// Region.
        region: RegionId,
        /// RSU.
        rsu: RsuId,
    },
    /// An RSU's telemetry.
    Stats {
        /// Region.
        region: RegionId,
        /// RSU.
        rsu: RsuId,
    },
    /// Queryable: an intersection's HD map.
    Map {
        /// Region.
        region: RegionId,
        /// Intersection.
        intersection: IntersectionId,
    },
    /// Queryable: an intersection's compiled rules.
    Rules {
        /// Region.
        region: RegionId,
        /// Intersection.
        intersection: IntersectionId,
    },
    /// The region's catalog of current versions.
    Catalog {
        /// Region.
        region: RegionId,
    },
    /// Queryable: cloud-control's admin requests (publish, rollback, status).
    Admin {
        /// Region.
        region: RegionId,
    },
    /// Queryable and publication: the region's trust bundle (every certificate the region root
    /// issued and the newest revocation list, root-signed items; receivers admit only what
    /// their own root signed). Published again whenever it changes.
    Trust {
        /// Region.
        region: RegionId,
    },
    /// Queryable: one RSU's event uploads; the cloud replies only once the event is stored durably.
    EventUpload {
        /// Region.
        region: RegionId,
        /// The uploading RSU.
        rsu: RsuId,
    },
}

/// What a key is for; it selects the QoS preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// Latest-wins state: drop under congestion, high priority, express.
    State,
    /// Sensor input: latest wins too.
    Detections,
    /// Must not be lost: block under congestion, reliable.
    Events,
    /// Telemetry: latest wins, low priority.
    Stats,
    /// Liveliness tokens.
    Alive,
    /// Queryables and the catalog.
    Control,
}

/// A key that is not a corridor key, naming the first offending segment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A segment has the wrong literal or is missing.
    #[error("key `{key}`: segment {index} is `{found}`, expected {expected}")]
    Segment {
        /// The whole key.
        key: String,
        /// Zero-based segment index.
        index: usize,
        /// The segment found (empty when missing).
        found: String,
        /// What was expected there.
        expected: &'static str,
    },
    /// A segment that should be an id is not a valid id.
    #[error("key `{key}`: segment {index}: {source}")]
    Id {
        /// The whole key.
        key: String,
        /// Zero-based segment index.
        index: usize,
        /// Why the id was refused.
        #[source]
        source: IdError,
    },
    /// The key has more segments than its form allows.
    #[error("key `{key}`: unexpected segment {index} `{found}` after the end of a {form} key")]
    Trailing {
        /// The whole key.
        key: String,
        /// Zero-based segment index.
        index: usize,
        /// The extra segment.
        found: String,
        /// Which form the key matched up to there.
        form: &'static str,
    },
}

impl Key {
    /// The key's kind.
    pub fn kind(&self) -> KeyKind {
        match self {
            Key::State { .. } | Key::StateJson { .. } => KeyKind::State,
            Key::Events { .. } | Key::EventUpload { .. } => KeyKind::Events,
            Key::Detections { .. } | Key::DetectionsJson { .. } | Key::Signals { .. } => KeyKind::Detections,
            Key::Alive { .. } => KeyKind::Alive,
            Key::Stats { .. } => KeyKind::Stats,
            Key::Map { .. } | Key::Rules { .. } | Key::Catalog { .. } | Key::Admin { .. } | Key::Trust { .. } => {
                KeyKind::Control
            }
        }
    }

    /// The key's region.
    pub fn region(&self) -> &RegionId {
        match self {
            Key::State { region, .. }
            | Key::StateJson { region, .. }
            | Key::Events { region, .. }
            | Key::Detections { region, .. }
            | Key::DetectionsJson { region, .. }
            | Key::Signals { region, .. }
            | Key::Alive { region, .. }
            | Key::Stats { region, .. }
            | Key::Map { region, .. }
            | Key::Rules { region, .. }
            | Key::Catalog { region }
            | Key::Admin { region }
            | Key::Trust { region }
            | Key::EventUpload { region, .. } => region,
        }
    }

    /// Parses a concrete key (no wildcards).
    pub fn parse(key: &str) -> Result<Key, KeyError> {
        let segs: Vec<&str> = key.split('/').collect();
        let seg = |i: usize| segs.get(i).copied().unwrap_or("");
        let literal = |i: usize, want: &'static str| -> Result<(), KeyError> {
            if seg(i) == want {
                Ok(())
            } else {
                Err(KeyError::Segment { key: key.to_owned(), index: i, found: seg(i).to_owned(), expected: want })
            }
        };
        let id_err = |i: usize| move |source| KeyError::Id { key: key.to_owned(), index: i, source };
        let end = |n: usize, form: &'static str| -> Result<(), KeyError> {
            match segs.get(n) {
                None => Ok(()),
                Some(extra) => {
                    Err(KeyError::Trailing { key: key.to_owned(), index: n, found: (*extra).to_owned(), form })
                }
            }
        };
        if seg(0) != ROOT {
            return Err(KeyError::Segment {
                key: key.to_owned(),
                index: 0,
                found: seg(0).to_owned(),
                expected: "`corridor`",
            });
        }
        let region = RegionId::new(seg(1)).map_err(id_err(1))?;
        match seg(2) {
            "ix" => {
                let intersection = IntersectionId::new(seg(3)).map_err(id_err(3))?;
                match seg(4) {
                    "state" if segs.len() == 5 => Ok(Key::State { region, intersection }),
                    "state" => {
                        literal(5, "json").map_err(|_| KeyError::Segment {
                            key: key.to_owned(),
                            index: 5,
                            found: seg(5).to_owned(),
                            expected: "`json` or the end of the key",
                        })?;
                        end(6, "state/json")?;
                        Ok(Key::StateJson { region, intersection })
                    }
                    "events" => {
                        end(5, "events")?;
                        Ok(Key::Events { region, intersection })
                    }
                    found => Err(KeyError::Segment {
                        key: key.to_owned(),
                        index: 4,
                        found: found.to_owned(),
                        expected: "`state` or `events`",
                    }),
                }
            }
            "rsu" => {
                let rsu = RsuId::new(seg(3)).map_err(id_err(3))?;
                match seg(4) {
                    "sensor" => {
                        let sensor = SensorId::new(seg(5)).map_err(id_err(5))?;
                        literal(6, "det").map_err(|_| KeyError::Segment {
                            key: key.to_owned(),
                            index: 6,
                            found: seg(6).to_owned(),
                            expected: "`det`",
                        })?;
                        if segs.len() == 7 {
                            return Ok(Key::Detections { region, rsu, sensor });
                        }
                        literal(7, "json").map_err(|_| KeyError::Segment {
                            key: key.to_owned(),
                            index: 7,
                            found: seg(7).to_owned(),
                            expected: "`json` or the end of the key",
                        })?;
                        end(8, "det/json")?;
                        Ok(Key::DetectionsJson { region, rsu, sensor })
                    }
                    "signal" => {
                        end(5, "signal")?;
                        Ok(Key::Signals { region, rsu })
                    }
                    "alive" => {
                        end(5, "alive")?;
                        Ok(Key::Alive { region, rsu })
                    }
                    "stats" => {
                        end(5, "stats")?;
                        Ok(Key::Stats { region, rsu })
                    }
                    found => Err(KeyError::Segment {
                        key: key.to_owned(),
                        index: 4,
                        found: found.to_owned(),
                        expected: "`sensor`, `signal`, `alive` or `stats`",
                    }),
                }
            }
            "map" | "rules" => {
                let intersection = IntersectionId::new(seg(3)).map_err(id_err(3))?;
                end(4, if seg(2) == "map" { "map" } else { "rules" })?;
                Ok(if seg(2) == "map" {
                    Key::Map { region, intersection }
                } else {
                    Key::Rules { region, intersection }
                })
            }
            "catalog" => {
                end(3, "catalog")?;
                Ok(Key::Catalog { region })
            }
            "cloud" => match seg(3) {
                "admin" => {
                    end(4, "cloud/admin")?;
                    Ok(Key::Admin { region })
                }
                "trust" => {
                    end(4, "cloud/trust")?;
                    Ok(Key::Trust { region })
                }
                "events" => {
                    let rsu = RsuId::new(seg(4)).map_err(id_err(4))?;
                    end(5, "cloud/events")?;
                    Ok(Key::EventUpload { region, rsu })
                }
                found => Err(KeyError::Segment {
                    key: key.to_owned(),
                    index: 3,
                    found: found.to_owned(),
                    expected: "`admin`, `trust` or `events`",
                }),
            },
            found => Err(KeyError::Segment {
                key: key.to_owned(),
                index: 2,
                found: found.to_owned(),
                expected: "`ix`, `rsu`, `map`, `rules`, `catalog` or `cloud`",
            }),
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::State { region, intersection } => write!(f, "{ROOT}/{region}/ix/{intersection}/state"),
            Key::StateJson { region, intersection } => write!(f, "{ROOT}/{region}/ix/{intersection}/state/json"),
            Key::Events { region, intersection } => write!(f, "{ROOT}/{region}/ix/{intersection}/events"),
            Key::Detections { region, rsu, sensor } => write!(f, "{ROOT}/{region}/rsu/{rsu}/sensor/{sensor}/det"),
            Key::DetectionsJson { region, rsu, sensor } => {
                write!(f, "{ROOT}/{region}/rsu/{rsu}/sensor/{sensor}/det/json")
            }
            Key::Signals { region, rsu } => write!(f, "{ROOT}/{region}/rsu/{rsu}/signal"),
            Key::Alive { region, rsu } => write!(f, "{ROOT}/{region}/rsu/{rsu}/alive"),
            Key::Stats { region, rsu } => write!(f, "{ROOT}/{region}/rsu/{rsu}/stats"),
            Key::Map { region, intersection } => write!(f, "{ROOT}/{region}/map/{intersection}"),
            Key::Rules { region, intersection } => write!(f, "{ROOT}/{region}/rules/{intersection}"),
            Key::Catalog { region } => write!(f, "{ROOT}/{region}/catalog"),
            Key::Admin { region } => write!(f, "{ROOT}/{region}/cloud/admin"),
            Key::Trust { region } => write!(f, "{ROOT}/{region}/cloud/trust"),
            Key::EventUpload { region, rsu } => write!(f, "{ROOT}/{region}/cloud/events/{rsu}"),
        }
    }
}

impl std::str::FromStr for Key {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Key, KeyError> {
        Key::parse(s)
    }
}

/// Selector: every intersection state (binary) in a region.
pub fn states_in_region(region: &RegionId) -> String {
    format!("{ROOT}/{region}/ix/*/state")
}

/// Selector: every detection key (binary and JSON) of one RSU's sensors.
pub fn detections_of_rsu(region: &RegionId, rsu: &RsuId) -> String {
    format!("{ROOT}/{region}/rsu/{rsu}/sensor/*/det/**")
}

/// Selector: every RSU liveliness token in a region.
pub fn alive_in_region(region: &RegionId) -> String {
    format!("{ROOT}/{region}/rsu/*/alive")
}

/// Selector: every RSU's event upload key in a region (the cloud's ingest queryable).
pub fn event_uploads_in_region(region: &RegionId) -> String {
    format!("{ROOT}/{region}/cloud/events/*")
}

/// Selector: every RSU's stats in a region.
pub fn stats_in_region(region: &RegionId) -> String {
    format!("{ROOT}/{region}/rsu/*/stats")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn r() -> RegionId {
        RegionId::new("bj").unwrap()
    }
    fn ix() -> IntersectionId {
        IntersectionId::new("ix-1").unwrap()
    }
    fn rsu() -> RsuId {
        RsuId::new("rsu-1").unwrap()
    }
    fn s() -> SensorId {
        SensorId::new("lidar-0").unwrap()
    }

    #[test]
    fn every_key_round_trips_and_has_the_documented_form() {
        let cases = [
            (Key::State { region: r(), intersection: ix() }, "corridor/bj/ix/ix-1/state"),
            (Key::StateJson { region: r(), intersection: ix() }, "corridor/bj/ix/ix-1/state/json"),
            (Key::Events { region: r(), intersection: ix() }, "corridor/bj/ix/ix-1/events"),
            (Key::Detections { region: r(), rsu: rsu(), sensor: s() }, "corridor/bj/rsu/rsu-1/sensor/lidar-0/det"),
            (
                Key::DetectionsJson { region: r(), rsu: rsu(), sensor: s() },
                "corridor/bj/rsu/rsu-1/sensor/lidar-0/det/json",
            ),
            (Key::Signals { region: r(), rsu: rsu() }, "corridor/bj/rsu/rsu-1/signal"),
            (Key::Alive { region: r(), rsu: rsu() }, "corridor/bj/rsu/rsu-1/alive"),
            (Key::Stats { region: r(), rsu: rsu() }, "corridor/bj/rsu/rsu-1/stats"),
            (Key::Map { region: r(), intersection: ix() }, "corridor/bj/map/ix-1"),
            (Key::Rules { region: r(), intersection: ix() }, "corridor/bj/rules/ix-1"),
            (Key::Catalog { region: r() }, "corridor/bj/catalog"),
            (Key::Admin { region: r() }, "corridor/bj/cloud/admin"),
            (Key::Trust { region: r() }, "corridor/bj/cloud/trust"),
            (Key::EventUpload { region: r(), rsu: rsu() }, "corridor/bj/cloud/events/rsu-1"),
        ];
        for (key, text) in cases {
            assert_eq!(key.to_string(), text);
            assert_eq!(Key::parse(text), Ok(key));
        }
    }

    #[test]
    fn a_bad_key_names_the_offending_segment() {
        let seg = |k: &str| match Key::parse(k) {
            Err(KeyError::Segment { index, found, .. }) => (index, found),
            Err(KeyError::Id { index, .. }) => (index, "<id>".to_owned()),
            Err(KeyError::Trailing { index, found, .. }) => (index, found),
            Ok(k) => panic!("accepted {k}"),
        };
        assert_eq!(seg("zenoh/bj/catalog"), (0, "zenoh".into()));
        assert_eq!(seg("corridor/bj/ixx/a/state"), (2, "ixx".into()));
        assert_eq!(seg("corridor/bj/ix/a/stat"), (4, "stat".into()));
        assert_eq!(seg("corridor/bj/ix/a/state/xml"), (5, "xml".into()));
        assert_eq!(seg("corridor/bj/ix/*/state"), (3, "<id>".into()));
        assert_eq!(seg("corridor/bj/rsu/r/sensor/s/detections"), (6, "detections".into()));
        assert_eq!(seg("corridor/bj/catalog/extra"), (3, "extra".into()));
        assert_eq!(seg("corridor//catalog"), (1, "<id>".into()));
        assert_eq!(seg("corridor/bj/rsu/r/alive/x"), (5, "x".into()));
        assert_eq!(seg("corridor/bj/cloud/adm"), (3, "adm".into()));
        assert_eq!(seg("corridor/bj/cloud/admin/x"), (4, "x".into()));
        assert_eq!(seg("corridor/bj/cloud/events"), (4, "<id>".into()));
        assert_eq!(seg("corridor/bj/cloud/events/r/x"), (5, "x".into()));
        let msg = Key::parse("corridor/bj/ix/a/stat").unwrap_err().to_string();
        assert!(msg.contains("segment 4 is `stat`"), "{msg}");
    }

    #[test]
    fn selectors_are_valid_zenoh_wildcards_over_our_keys() {
        assert_eq!(states_in_region(&r()), "corridor/bj/ix/*/state");
        assert_eq!(detections_of_rsu(&r(), &rsu()), "corridor/bj/rsu/rsu-1/sensor/*/det/**");
        assert_eq!(event_uploads_in_region(&r()), "corridor/bj/cloud/events/*");
        assert_eq!(Key::EventUpload { region: r(), rsu: rsu() }.kind(), KeyKind::Events);
        assert_eq!(Key::Admin { region: r() }.kind(), KeyKind::Control);
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "[a-z/*$?#-]{0,40}") {
            let _ = Key::parse(&s);
        }

        #[test]
        fn ids_round_trip_through_keys(a in "[A-Za-z0-9_.-]{1,20}", b in "[A-Za-z0-9_.-]{1,20}") {
            let key = Key::Detections { region: RegionId::new(&a).unwrap(), rsu: RsuId::new(&b).unwrap(), sensor: SensorId::new(&a).unwrap() };
            prop_assert_eq!(Key::parse(&key.to_string()), Ok(key));
        }
    }
}
