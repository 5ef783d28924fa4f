//! Control-plane payloads and events survive the codec, and bad ones are refused.
#![allow(clippy::unwrap_used)] // test helpers

use corridor_model::{Event, EventId, EventKind, IntersectionId, MapVersion, RegionId, RsuId, Severity, Timestamp};
use corridor_wire::control::{Catalog, CatalogEntry, MapBundle, RulesBundle};
use corridor_wire::{decode, encode, DecodeError, Header, Limits, WirePayload};

fn header<T: WirePayload>() -> Header {
    Header::new(T::KIND, "cloud", 1, Timestamp::from_unix_ns(1), Timestamp::from_unix_ns(2))
}

fn ix(s: &str) -> IntersectionId {
    IntersectionId::new(s).unwrap()
}

#[test]
fn bundles_catalog_and_events_round_trip() {
    let map = MapBundle {
        intersection: ix("ix-1"),
        version: MapVersion([7; 32]),
        file_name: "demo-4arm.net.xml".into(),
        origin: Some([52.0, 13.0]),
        source: b"<net/>".to_vec(),
    };
    let bytes = encode(&header::<MapBundle>(), &map).unwrap();
    assert_eq!(decode::<MapBundle>(&bytes, Limits::default()).unwrap().1, map);

    let rules = RulesBundle {
        intersection: ix("ix-1"),
        map_version: MapVersion([7; 32]),
        version: MapVersion([8; 32]),
        file_name: "rules.toml".into(),
        source: "[[rule]]".into(),
    };
    let bytes = encode(&header::<RulesBundle>(), &rules).unwrap();
    assert_eq!(decode::<RulesBundle>(&bytes, Limits::default()).unwrap().1, rules);

    let catalog = Catalog {
        region: RegionId::new("r").unwrap(),
        revision: 3,
        entries: vec![
            CatalogEntry {
                intersection: ix("a"),
                map_version: MapVersion([1; 32]),
                rules_version: None,
                since: Timestamp::from_unix_ns(5),
            },
            CatalogEntry {
                intersection: ix("b"),
                map_version: MapVersion([2; 32]),
                rules_version: Some(MapVersion([3; 32])),
                since: Timestamp::from_unix_ns(6),
            },
        ],
    };
    let bytes = encode(&header::<Catalog>(), &catalog).unwrap();
    let back = decode::<Catalog>(&bytes, Limits::default()).unwrap().1;
    assert_eq!(back.entry(&ix("b")).and_then(|e| e.rules_version), Some(MapVersion([3; 32])));
    assert_eq!(back, catalog);

    let rsu = RsuId::new("rsu-1").unwrap();
    let event = Event {
        id: EventId::derive(&rsu, 9, EventKind::RedLightRunning),
        kind: EventKind::RedLightRunning,
        severity: Severity::Warning,
        intersection: ix("ix-1"),
        rsu,
        time: Timestamp::from_unix_ns(10),
        position_m: Some([1.0, -2.0]),
        track: None,
        lane: None,
        signal_group: None,
        map_version: MapVersion([7; 32]),
        detail: "crossed on red".into(),
    };
    let bytes = encode(&header::<Event>(), &event).unwrap();
    assert_eq!(decode::<Event>(&bytes, Limits::default()).unwrap().1, event);
}

#[test]
fn invalid_payloads_are_refused_with_the_field() {
    let bad = MapBundle {
        intersection: ix("ix-1"),
        version: MapVersion([0; 32]),
        file_name: "../etc/passwd".into(),
        origin: None,
        source: vec![],
    };
    let bytes = encode(&header::<MapBundle>(), &bad);
    // Encoding validates too or the decoder refuses; either way the field is named.
    let err = match bytes {
        Ok(b) => decode::<MapBundle>(&b, Limits::default()).unwrap_err().to_string(),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("file_name"), "{err}");

    let unsorted = Catalog {
        region: RegionId::new("r").unwrap(),
        revision: 1,
        entries: vec![
            CatalogEntry {
                intersection: ix("b"),
                map_version: MapVersion([1; 32]),
                rules_version: None,
                since: Timestamp::from_unix_ns(1),
            },
            CatalogEntry {
                intersection: ix("a"),
                map_version: MapVersion([1; 32]),
                rules_version: None,
                since: Timestamp::from_unix_ns(1),
            },
        ],
    };
    match encode(&header::<Catalog>(), &unsorted) {
        Ok(b) => assert!(matches!(decode::<Catalog>(&b, Limits::default()), Err(DecodeError::Invalid(_)))),
        Err(e) => assert!(e.to_string().contains("entries"), "{e}"),
    }
}
