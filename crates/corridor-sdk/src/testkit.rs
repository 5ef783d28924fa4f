//! Fixtures for tests, benches and examples: wire-encoded map and rules bundles, states and
//! events for the `maps/demo-4arm` intersection (what cloud-control and an RSU would send).
//!
//! Not part of the integration API; public so the crate's tests, benches and the Python
//! test publisher share one definition of "a plausible cloud and RSU".

use corridor_hdmap::HdMap;
use corridor_model::{
    Event, EventId, EventKind, IntersectionId, IntersectionState, LaneId, MapVersion, MovementPhaseState, RsuId,
    Severity, SignalGroupId, SignalGroupState, TimeChangeDetails, Timestamp,
};
use corridor_wire::control::{MapBundle, RulesBundle};
use corridor_wire::{encode, EncodeError, Header, Key, PayloadKind};

/// `maps/demo-4arm/demo-4arm.net.xml` and `rules.toml`, embedded.
pub const DEMO_MAP_XML: &[u8] = include_bytes!("../../../maps/demo-4arm/demo-4arm.net.xml");
/// The demo rules.
pub const DEMO_RULES_TOML: &str = include_str!("../../../maps/demo-4arm/rules.toml");
/// 2026-11-23 10:00 Asia/Shanghai (a Monday, outside the peaks, inside the south work zone's dates).
pub const MONDAY_10AM: i64 = 1_795_399_200;

/// Why a fixture could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FixtureError {
    /// The map did not import.
    #[error(transparent)]
    Import(#[from] corridor_hdmap::ImportError),
    /// The rules did not check.
    #[error("rules: {0}")]
    Rules(String),
    /// Encoding failed.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// The demo map, imported.
pub fn demo_map() -> Result<HdMap, FixtureError> {
    Ok(corridor_hdmap::import_bytes(
        corridor_hdmap::SourceFormat::Sumo,
        "demo-4arm.net.xml",
        DEMO_MAP_XML,
        &Default::default(),
    )?
    .map)
}

/// The demo rules checked against `map`.
pub fn demo_rules(map: &HdMap) -> Result<corridor_rules::RuleSet, FixtureError> {
    corridor_rules::check(DEMO_RULES_TOML, "rules.toml", &corridor_rules::hdmap::facts(map))
        .map_err(|d| FixtureError::Rules(d.render(false)))
}

/// A map bundle for `intersection` (wire bytes) and its version.
pub fn map_bundle(intersection: &IntersectionId) -> Result<(Vec<u8>, MapVersion), FixtureError> {
    let version = demo_map()?.version();
    let b = MapBundle {
        intersection: intersection.clone(),
        version,
        file_name: "demo-4arm.net.xml".into(),
        origin: None,
        source: DEMO_MAP_XML.to_vec(),
    };
    let h = Header::new(PayloadKind::Map, "cloud", 1, Timestamp::EPOCH, Timestamp::EPOCH);
    Ok((encode(&h, &b)?, version))
}

/// A rules bundle (wire bytes) and the rules version.
pub fn rules_bundle(intersection: &IntersectionId) -> Result<(Vec<u8>, MapVersion), FixtureError> {
    let map = demo_map()?;
    let set = demo_rules(&map)?;
    let version = set.version();
    let b = RulesBundle {
        intersection: intersection.clone(),
        map_version: map.version(),
        version,
        file_name: "rules.toml".into(),
        source: DEMO_RULES_TOML.to_owned(),
    };
    let h = Header::new(PayloadKind::Rules, "cloud", 1, Timestamp::EPOCH, Timestamp::EPOCH);
    Ok((encode(&h, &b)?, version))
}

/// A state of `intersection` with `n` sample objects, signal group 10 red until
/// `capture + 8 s` (likely), naming the demo map and rules.
pub fn state(
    intersection: &IntersectionId,
    seq: u64,
    capture: Timestamp,
    n: usize,
    map_version: MapVersion,
    rules_version: Option<MapVersion>,
) -> IntersectionState {
    let mut s = corridor_model::sample::intersection_state(n, seq);
    s.intersection = intersection.clone();
    if let Ok(r) = RsuId::new("rsu-a") {
        s.rsu = r;
    }
    s.seq = seq;
    let shift = capture.nanos_since(s.capture_time);
    s.capture_time = capture;
    s.ingest_time = capture.add_secs_f64(0.01);
    s.publish_time = capture.add_secs_f64(0.02);
    for o in &mut s.objects {
        o.first_seen = Timestamp::from_unix_ns(o.first_seen.unix_ns + shift);
        o.last_updated = capture;
    }
    s.map_version = map_version;
    s.rules_version = rules_version;
    s.signals = (0..12u16)
        .map(|g| SignalGroupState {
            id: SignalGroupId(g),
            state: if g == 10 {
                MovementPhaseState::StopAndRemain
            } else {
                MovementPhaseState::ProtectedMovementAllowed
            },
            timing: Some(TimeChangeDetails {
                min_end: capture.add_secs_f64(5.0),
                max_end: Some(capture.add_secs_f64(20.0)),
                likely_end: Some(capture.add_secs_f64(8.0)),
                confidence: 0.8,
            }),
        })
        .collect();
    s
}

/// A state's key and wire bytes.
pub fn encode_state(region: &str, s: &IntersectionState) -> Result<(String, Vec<u8>), FixtureError> {
    let h = Header::new(PayloadKind::IntersectionState, s.rsu.as_str(), s.seq, s.capture_time, s.publish_time);
    Ok((format!("corridor/{region}/ix/{}/state", s.intersection), encode(&h, s)?))
}

/// A stopped-vehicle event on `lane` and its key and wire bytes.
pub fn event(
    region: &str,
    intersection: &IntersectionId,
    counter: u64,
    time: Timestamp,
    lane: &str,
    map_version: MapVersion,
) -> Result<(String, Vec<u8>), FixtureError> {
    let rsu = RsuId::new("rsu-a").map_err(|e| FixtureError::Rules(e.to_string()))?;
    let e = Event {
        id: EventId::derive(&rsu, counter, EventKind::StoppedVehicle),
        kind: EventKind::StoppedVehicle,
        severity: Severity::Warning,
        intersection: intersection.clone(),
        rsu,
        time,
        position_m: Some([3.2, 20.0]),
        track: None,
        lane: Some(LaneId::new(lane)),
        signal_group: None,
        map_version,
        detail: "stopped in lane".into(),
    };
    let h = Header::new(PayloadKind::Event, e.rsu.as_str(), counter, time, time);
    let key = match corridor_model::RegionId::new(region) {
        Ok(region) => Key::Events { region, intersection: intersection.clone() }.to_string(),
        Err(_) => format!("corridor/{region}/ix/{intersection}/events"),
    };
    Ok((key, encode(&h, &e)?))
}
