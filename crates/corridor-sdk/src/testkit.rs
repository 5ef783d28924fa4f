//! Fixtures for tests, benches and examples: wire-encoded map and rules bundles, states and
//! events for the `maps/demo-4arm` intersection (what cloud-control and an RSU would send),
//! and a small PKI ([`Pki`]: a region root, RSU and cloud keys and certificates) to sign them.
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
    /// Signing or certifying failed.
    #[error("pki: {0}")]
    Pki(String),
}

/// A region PKI for tests: deterministic keys (not secret!), a root, and certificates for
/// `rsu-a` (ix-a), `rsu-b` (ix-b) and the cloud (subject `cloud`, the sender of the testkit's
/// bundles), all valid over `[not_before, not_after]`.
#[derive(Debug, Clone)]
pub struct Pki {
    /// The region root.
    pub root: corridor_security::SigningKey,
    /// `rsu-a`, certified for ix-a (serial 1).
    pub rsu_a: corridor_security::SigningKey,
    /// `rsu-b`, certified for ix-b (serial 2).
    pub rsu_b: corridor_security::SigningKey,
    /// The cloud (serial 3).
    pub cloud: corridor_security::SigningKey,
    /// A store holding the root and the three certificates.
    pub store: corridor_security::TrustStore,
    next_serial: u64,
}

fn test_key(n: u64) -> Result<corridor_security::SigningKey, FixtureError> {
    corridor_security::SigningKey::from_hex(&format!("{:064x}", 0x1000_0000_u64 + n))
        .map_err(|e| FixtureError::Pki(e.to_string()))
}

impl Pki {
    /// Keys, certificates valid over `[not_before, not_after]`.
    pub fn new(not_before: Timestamp, not_after: Timestamp) -> Result<Pki, FixtureError> {
        use corridor_security::{Certificate, TrustStore};
        let pki_err = |e: corridor_security::CertError| FixtureError::Pki(e.to_string());
        let (root, rsu_a, rsu_b, cloud) = (test_key(1)?, test_key(2)?, test_key(3)?, test_key(4)?);
        let rsu = |id: &str| RsuId::new(id).map_err(|e| FixtureError::Pki(e.to_string()));
        let ixid = |id: &str| IntersectionId::new(id).map_err(|e| FixtureError::Pki(e.to_string()));
        let mut store = TrustStore::new([*root.verifying_key()]);
        let certs = [
            Certificate::rsu(&rsu("rsu-a")?, *rsu_a.verifying_key(), [ixid("ix-a")?], not_before, not_after, 1),
            Certificate::rsu(&rsu("rsu-b")?, *rsu_b.verifying_key(), [ixid("ix-b")?], not_before, not_after, 2),
            Certificate::cloud("cloud", *cloud.verifying_key(), not_before, not_after, 3),
        ];
        for c in certs {
            store.add_certificate(c.issue(&root).map_err(pki_err)?).map_err(|e| FixtureError::Pki(e.to_string()))?;
        }
        Ok(Pki { root, rsu_a, rsu_b, cloud, store, next_serial: 4 })
    }

    /// Certifies another RSU key (`subject`, `intersections`, validity) and adds it to the
    /// store; returns its serial.
    pub fn certify_rsu(
        &mut self,
        key: &corridor_security::SigningKey,
        subject: &str,
        intersections: &[&str],
        not_before: Timestamp,
        not_after: Timestamp,
    ) -> Result<u64, FixtureError> {
        let e = |e: String| FixtureError::Pki(e);
        let ixs = intersections
            .iter()
            .map(|i| IntersectionId::new(*i).map_err(|x| e(x.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        let subject = RsuId::new(subject).map_err(|x| e(x.to_string()))?;
        let serial = self.next_serial;
        self.next_serial += 1;
        let cert =
            corridor_security::Certificate::rsu(&subject, *key.verifying_key(), ixs, not_before, not_after, serial)
                .issue(&self.root)
                .map_err(|x| e(x.to_string()))?;
        self.store.add_certificate(cert).map_err(|x| e(x.to_string()))?;
        Ok(serial)
    }

    /// A deterministic extra key (`n` > 4).
    pub fn key(n: u64) -> Result<corridor_security::SigningKey, FixtureError> {
        test_key(n)
    }

    /// Revokes certificate serials with the next revocation list; returns the new bundle.
    pub fn revoke(&mut self, serials: &[u64]) -> Vec<u8> {
        let held = self.store.revocation_list().clone();
        let mut list = corridor_security::RevocationList { seq: held.seq + 1, ..held };
        list.serials.extend_from_slice(serials);
        list.serials.sort_unstable();
        list.serials.dedup();
        let signed = list.issue(&self.root);
        if let Err(e) = self.store.apply_revocation(signed) {
            tracing::warn!(error = %e, "testkit revocation");
        }
        self.bundle()
    }

    /// The trust bundle (certificates + revocation list).
    pub fn bundle(&self) -> Vec<u8> {
        corridor_security::export_bundle(&self.store)
    }

    /// A verifier trusting this root, holding the bundle, default guard settings.
    pub fn verifier(&self) -> Result<crate::trust::TrustVerifier, FixtureError> {
        crate::trust::TrustVerifier::from_root(*self.root.verifying_key(), Some(&self.bundle()))
            .map(|(v, _)| v)
            .map_err(|e| FixtureError::Pki(e.to_string()))
    }

    /// Signs the one unsigned envelope in `bytes` with `key`.
    pub fn sign(key: &corridor_security::SigningKey, mut bytes: Vec<u8>) -> Result<Vec<u8>, FixtureError> {
        corridor_security::Signer::new(key.clone())
            .sign_into(&mut bytes)
            .map_err(|e| FixtureError::Pki(e.to_string()))?;
        Ok(bytes)
    }
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
