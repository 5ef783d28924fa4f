//! Signed RSU output checked the way a vehicle checks it: RSUs run with a `[security]` section
//! (a real root-issued certificate, key and certificate read from files), a real zenoh
//! subscriber on the intersection's state key collects what they publish, and the
//! `corridor_security::StateGuard` decides. Each test asserts that a bad message is refused
//! with its own reason, i.e. it would never reach the application.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use corridor_model::detection::SensorKind;
use corridor_model::{
    Clock, Detection, DetectionFrame, IntersectionId, MapVersion, ObjectClass, RegionId, RsuId, SensorId, SystemClock,
    Timestamp,
};
use corridor_security::{
    Certificate, GuardConfig, RevocationList, SignedCertificate, SigningKey, StateGuard, TrustStore,
};
use corridor_wire::{encode, presets, Header, Key, PayloadKind};
use nalgebra::{Matrix3, Vector3};
use roadside::security::SecuritySection;
use roadside::RsuService;
use zenoh::Wait;

fn frame(seq: u64) -> DetectionFrame {
    DetectionFrame {
        sensor: SensorId::new("lidar-ne").unwrap(),
        kind: SensorKind::Lidar,
        frame_seq: seq,
        capture_time: SystemClock.now(),
        detections: vec![Detection {
            class: ObjectClass::Car,
            class_confidence: 0.9,
            position_m: Vector3::new(20.0, 0.0, -5.0),
            position_cov: Matrix3::from_diagonal_element(0.0225),
            velocity_mps: None,
            heading_rad: None,
            size_m: None,
        }],
    }
}

/// Raw envelopes with their receive time.
type Received = Vec<(Timestamp, Vec<u8>)>;

/// What a run produced: the trust material and the raw envelopes received on each state key
/// with their receive time.
struct Run {
    root: SigningKey,
    certs: Vec<SignedCertificate>,
    keys: Vec<SigningKey>,
    ix_a: Vec<(Timestamp, Vec<u8>)>,
    ix_b: Vec<(Timestamp, Vec<u8>)>,
    /// States rsu-a says it published.
    published_a: u64,
    /// Forged messages the flood thread put.
    forged_put: u64,
}

impl Run {
    fn trust(&self) -> TrustStore {
        let mut t = TrustStore::new([*self.root.verifying_key()]);
        for c in &self.certs {
            t.add_certificate(c.clone()).unwrap();
        }
        t
    }

    fn guard(&self) -> StateGuard {
        StateGuard::new(self.trust(), GuardConfig::default())
    }
}

fn maps() -> HashSet<MapVersion> {
    // the test RSU config names the zero map version
    [MapVersion::default()].into_iter().collect()
}

fn ix(s: &str) -> IntersectionId {
    s.parse().unwrap()
}

fn write_identity(dir: &Path, name: &str, key: &SigningKey, cert: &SignedCertificate) -> SecuritySection {
    let section = SecuritySection::signing(dir.join(format!("{name}.key")), dir.join(format!("{name}.cert")));
    std::fs::write(&section.key, key.to_pem().unwrap()).unwrap();
    std::fs::write(&section.cert, format!("{}\n", cert.to_hex())).unwrap();
    section
}

/// rsu-a (certified for ix-a) and rsu-b (certified for ix-b) publish signed states for ~2 s.
async fn run() -> Run {
    run_with(false).await
}

/// With `flood`, a thread re-publishes corrupted copies of rsu-a's first state on ix-a's key
/// as fast as it can (sleeping 1 ms between puts) while the RSUs run.
async fn run_with(flood: bool) -> Run {
    let tmp = tempfile::tempdir().unwrap();
    let mut rng = rand_core::OsRng;
    let root = SigningKey::generate(&mut rng);
    let now = SystemClock.now();
    let (from, to) = (now.add_secs_f64(-3600.0), now.add_secs_f64(86_400.0));
    let mut certs = vec![];
    let mut keys = vec![];
    let mut sections = vec![];
    for (serial, (rsu, ixid)) in [("rsu-a", "ix-a"), ("rsu-b", "ix-b")].into_iter().enumerate() {
        let key = SigningKey::generate(&mut rng);
        let cert =
            Certificate::rsu(&RsuId::new(rsu).unwrap(), *key.verifying_key(), [ix(ixid)], from, to, serial as u64 + 1)
                .issue(&root)
                .unwrap();
        sections.push(write_identity(tmp.path(), rsu, &key, &cert));
        certs.push(cert);
        keys.push(key);
    }

    let port = common::free_port();
    let hub = common::hub(port).await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let region = RegionId::new("demo").unwrap();
    let mut received = vec![];
    let mut subs = vec![];
    for ixid in ["ix-a", "ix-b"] {
        let got: Arc<Mutex<Received>> = Arc::default();
        let got_cb = got.clone();
        let key = Key::State { region: region.clone(), intersection: ix(ixid) }.to_string();
        let vs = common::peer_of(port).await;
        let sub = vs
            .declare_subscriber(key)
            .callback(move |s| got_cb.lock().unwrap().push((SystemClock.now(), s.payload().to_bytes().into_owned())))
            .await
            .unwrap();
        subs.push((vs, sub));
        received.push(got);
    }
    let mut rsus = vec![];
    for (i, (rsu, ixid)) in [("rsu-a", "ix-a"), ("rsu-b", "ix-b")].into_iter().enumerate() {
        let mut cfg = common::rsu_config(rsu, ixid, port, false);
        cfg.security = Some(sections[i].clone());
        let s = common::peer_of(port).await;
        rsus.push((RsuService::start(cfg, &s, clock.clone()).await.unwrap(), s));
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    let flooding = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flooder = flood.then(|| {
        let (hub, latest, on) = (hub.clone(), received[0].clone(), flooding.clone());
        let key = Key::State { region: region.clone(), intersection: ix("ix-a") }.to_string();
        std::thread::spawn(move || {
            let publisher = hub.declare_publisher(key).wait().unwrap();
            let mut n = 0u64;
            while on.load(std::sync::atomic::Ordering::SeqCst) {
                let last = latest.lock().unwrap().first().map(|(_, b)| b.clone());
                if let Some(mut forged) = last {
                    let i = forged.len() - 80;
                    forged[i] ^= 0x01;
                    publisher.put(forged).wait().unwrap();
                    n += 1;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            n
        })
    });
    let mut pubs = vec![];
    for rsu in ["rsu-a", "rsu-b"] {
        let key =
            Key::Detections { region: region.clone(), rsu: rsu.parse().unwrap(), sensor: "lidar-ne".parse().unwrap() };
        pubs.push(presets::declare_publisher(&hub, &key).await.unwrap());
    }
    for i in 0..30u64 {
        for p in &pubs {
            let f = frame(i);
            let h = Header::new(PayloadKind::Detections, "lidar-ne", i, f.capture_time, f.capture_time);
            p.put(encode(&h, &f).unwrap()).wait().unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    flooding.store(false, std::sync::atomic::Ordering::SeqCst);
    let forged_put = flooder.map(|h| h.join().unwrap()).unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats = rsus[0].0.stats();
    let published_a = stats.states_published;
    assert_eq!(stats.signing_key_id, keys[0].key_id().to_hex(), "the RSU reports its signing key");
    for (r, _) in rsus {
        r.stop();
    }
    let ix_a = received[0].lock().unwrap().clone();
    let ix_b = received[1].lock().unwrap().clone();
    assert!(ix_a.len() >= 10 && ix_b.len() >= 10, "states received: {} / {}", ix_a.len(), ix_b.len());
    Run { root, certs, keys, ix_a, ix_b, published_a, forged_put }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_signed_state_verifies_and_replays_are_refused() {
    let r = run().await;
    let mut g = r.guard();
    for (t, bytes) in &r.ix_a {
        let v = g.check_state(*t, &ix("ix-a"), bytes, &maps()).unwrap();
        assert_eq!(v.signer, r.keys[0].key_id());
        assert_eq!(v.state.rsu.as_str(), "rsu-a");
    }
    // the same bytes again, still fresh: a replay
    let (t, bytes) = r.ix_a.last().unwrap();
    assert_eq!(g.check_state(*t, &ix("ix-a"), bytes, &maps()).unwrap_err().reason(), "replay");
    assert_eq!(g.counters().rejected("replay"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_truncated_signatures_are_refused() {
    let r = run().await;
    let mut g = r.guard();
    let (t, bytes) = r.ix_a[3].clone();
    // flip one payload byte (before the 74-byte trailer): the signature no longer verifies
    let mut forged = bytes.clone();
    let i = forged.len() - 80;
    forged[i] ^= 0x01;
    assert_eq!(g.check_state(t, &ix("ix-a"), &forged, &maps()).unwrap_err().reason(), "bad_signature");
    // a flipped signature byte
    let mut forged = bytes.clone();
    let n = forged.len();
    forged[n - 1] ^= 0x80;
    let reason = g.check_state(t, &ix("ix-a"), &forged, &maps()).unwrap_err().reason();
    assert!(matches!(reason, "bad_signature" | "signature_encoding"), "{reason}");
    // truncated signature: the trailer is short
    let cut = &bytes[..bytes.len() - 1];
    let reason = g.check_state(t, &ix("ix-a"), cut, &maps()).unwrap_err().reason();
    assert!(matches!(reason, "malformed" | "signature_encoding"), "{reason}");
    // signed by a key with no certificate
    let stranger = corridor_security::Signer::new(SigningKey::generate(&mut rand_core::OsRng));
    let state = r.guard().check_state(t, &ix("ix-a"), &bytes, &maps()).unwrap().state;
    let header =
        Header::new(PayloadKind::IntersectionState, "rsu-a", state.seq, state.capture_time, state.publish_time);
    let mut buf = Vec::new();
    stranger.encode_signed(&mut buf, &header, &state).unwrap();
    assert_eq!(g.check_state(t, &ix("ix-a"), &buf, &maps()).unwrap_err().reason(), "unknown_key");
    // the genuine message still passes afterwards: the forgeries changed nothing
    g.check_state(t, &ix("ix-a"), &bytes, &maps()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rsu_not_certified_for_the_intersection_is_refused() {
    let r = run().await;
    let mut g = r.guard();
    // rsu-b's genuine, validly signed state, replayed onto ix-a's key
    let (t, bytes) = &r.ix_b[2];
    assert_eq!(g.check_state(*t, &ix("ix-a"), bytes, &maps()).unwrap_err().reason(), "not_certified");
    // on its own key it is fine
    g.check_state(*t, &ix("ix-b"), bytes, &maps()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_and_future_dated_states_are_refused() {
    let r = run().await;
    let mut g = r.guard();
    let (t, bytes) = &r.ix_a[4];
    assert_eq!(g.check_state(t.add_secs_f64(1.0), &ix("ix-a"), bytes, &maps()).unwrap_err().reason(), "stale");
    assert_eq!(g.check_state(t.add_secs_f64(-1.0), &ix("ix-a"), bytes, &maps()).unwrap_err().reason(), "future_dated");
    g.check_state(*t, &ix("ix-a"), bytes, &maps()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_and_an_expired_certificate_are_refused() {
    let r = run().await;
    let mut g = r.guard();
    let (t, bytes) = &r.ix_a[5];
    // expired: the same message checked after the certificate's end
    let after = r.certs[0].certificate().not_after.add_secs_f64(1.0);
    assert_eq!(g.check_state(after, &ix("ix-a"), bytes, &maps()).unwrap_err().reason(), "cert_expired");
    // revoked by key id, with a root-signed list
    let list = RevocationList { seq: 1, issued_at: *t, key_ids: vec![r.keys[0].key_id()], ..Default::default() };
    g.trust_mut().apply_revocation(list.issue(&r.root)).unwrap();
    assert_eq!(g.check_state(*t, &ix("ix-a"), bytes, &maps()).unwrap_err().reason(), "revoked");
    // rsu-b is untouched
    let (tb, bb) = &r.ix_b[5];
    g.check_state(*tb, &ix("ix-b"), bb, &maps()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_map_version_is_refused_until_the_map_is_known() {
    let r = run().await;
    let mut g = r.guard();
    let (t, bytes) = &r.ix_a[6];
    let none: HashSet<MapVersion> = HashSet::new();
    assert_eq!(g.check_state(*t, &ix("ix-a"), bytes, &none).unwrap_err().reason(), "unknown_map");
    // once the map is fetched and verified, the same state is accepted (the window was not advanced)
    g.check_state(*t, &ix("ix-a"), bytes, &maps()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_forged_states_is_rejected_and_every_valid_state_still_arrives() {
    let r = run_with(true).await;
    let mut g = r.guard();
    let mut accepted = 0u64;
    for (t, bytes) in &r.ix_a {
        match g.check_state(*t, &ix("ix-a"), bytes, &maps()) {
            Ok(v) => {
                assert_eq!(v.signer, r.keys[0].key_id());
                accepted += 1;
            }
            // tampered copies of the first genuine state: its seq is consumed
            Err(e) => assert_eq!(e.reason(), "replay", "{e}"),
        }
    }
    assert!(r.forged_put >= 100, "the flood ran: {} forged puts", r.forged_put);
    assert_eq!(g.counters().rejected("replay"), r.forged_put, "every forged state seen and refused");
    assert_eq!(accepted, r.published_a, "every valid state delivered despite the flood");
    // the flood was refused by the pre-checks: one ECDSA verification per valid state only
    assert_eq!(g.counters().signature_verifications, accepted, "no EC math spent on the flood");
}
