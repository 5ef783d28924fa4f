//! Verification through the SDK (sans-IO `Corridor` with a `TrustVerifier`): one test per attack
//! of issue 10, each asserting the drop reason, that nothing reached the application (no
//! accepted update, no latest state, no hazard) and that a valid message still passes.
#![allow(clippy::unwrap_used)]

use corridor_model::{IntersectionId, MapVersion, RsuId, Timestamp};
use corridor_sdk::testkit::{self, Pki, MONDAY_10AM};
use corridor_sdk::{Corridor, CorridorConfig, DropReason, FetchRequest, Route, StatusEvent, Usability};
use corridor_security::SigningKey;

const DAY: f64 = 86_400.0;

fn ix(s: &str) -> IntersectionId {
    IntersectionId::new(s).unwrap()
}

fn t(s: f64) -> Timestamp {
    Timestamp::from_secs_f64(MONDAY_10AM as f64 + s)
}

fn pki() -> Pki {
    Pki::new(t(-DAY), t(DAY)).unwrap()
}

fn versions() -> (MapVersion, MapVersion) {
    (testkit::map_bundle(&ix("ix-a")).unwrap().1, testkit::rules_bundle(&ix("ix-a")).unwrap().1)
}

/// A state of `intersection` from `rsu`, signed with `key`, captured at `at`.
fn signed(key: &SigningKey, rsu: &str, intersection: &str, seq: u64, at: f64) -> (String, Vec<u8>) {
    let (mv, rv) = versions();
    let mut s = testkit::state(&ix(intersection), seq, t(at), 5, mv, Some(rv));
    s.rsu = RsuId::new(rsu).unwrap();
    let (k, b) = testkit::encode_state("demo", &s).unwrap();
    (k, Pki::sign(key, b).unwrap())
}

fn core_with(pki: &Pki, cache_dir: Option<std::path::PathBuf>) -> Corridor {
    let mut cfg = CorridorConfig::new("demo".parse().unwrap(), Route::intersections(vec![ix("ix-a"), ix("ix-b")]));
    cfg.trust = Some(pki.verifier().unwrap());
    cfg.cache_dir = cache_dir;
    Corridor::new(cfg)
}

/// A corridor holding the ix-a map and rules, fetched signed by the cloud.
fn ready(pki: &Pki) -> Corridor {
    let mut c = core_with(pki, None);
    let map = Pki::sign(&pki.cloud, testkit::map_bundle(&ix("ix-a")).unwrap().0).unwrap();
    c.handle_map_bundle(&map, t(0.0)).unwrap();
    let rules = Pki::sign(&pki.cloud, testkit::rules_bundle(&ix("ix-a")).unwrap().0).unwrap();
    c.handle_rules_bundle(&rules, t(0.0)).unwrap();
    c
}

/// Feeds a state; asserts it is dropped under `label` and that nothing reached the application.
fn refused(c: &mut Corridor, (k, b): &(String, Vec<u8>), now: f64, label: &str) {
    let before = c.latest(&ix("ix-a")).map(|u| u.state.seq);
    let r = c.handle_state(k, b, t(now));
    assert_eq!(r.as_ref().map(|u| u.state.seq).unwrap_err().label(), label);
    assert_eq!(c.latest(&ix("ix-a")).map(|u| u.state.seq), before, "nothing new reached the application");
    assert!(c.stats().dropped.get(label).copied().unwrap_or(0) >= 1, "{:?}", c.stats());
    assert!(c.trust_counters().unwrap().rejected(label) >= 1);
}

#[test]
fn a_valid_signed_state_is_delivered_and_counted_as_verified() {
    let pki = pki();
    let mut c = ready(&pki);
    let u = c.handle_state(
        &signed(&pki.rsu_a, "rsu-a", "ix-a", 1, 0.0).0,
        &signed(&pki.rsu_a, "rsu-a", "ix-a", 1, 0.0).1,
        t(0.03),
    );
    assert_eq!(u.unwrap().state.seq, 1);
    assert_eq!(c.usability(&ix("ix-a"), t(0.05)), Usability::Usable);
    let s = c.stats();
    assert_eq!((s.verified, s.unverified, s.held, s.dropped_total()), (1, 0, 0, 0));
    assert_eq!(c.trust_counters().unwrap().accepted, 3, "map, rules and the state");
}

#[test]
fn an_unsigned_state_is_dropped() {
    let pki = pki();
    let mut c = ready(&pki);
    let (mv, rv) = versions();
    let s = testkit::state(&ix("ix-a"), 1, t(0.0), 5, mv, Some(rv));
    refused(&mut c, &testkit::encode_state("demo", &s).unwrap(), 0.02, "unsigned");
    assert_eq!(c.usability(&ix("ix-a"), t(0.05)), Usability::NoState);
}

#[test]
fn a_forged_signature_is_dropped() {
    let pki = pki();
    let mut c = ready(&pki);
    let (k, mut b) = signed(&pki.rsu_a, "rsu-a", "ix-a", 1, 0.0);
    let at = b.len() - 80; // a payload byte (the trailer is the last 74): the signature no longer matches
    b[at] ^= 0x01;
    refused(&mut c, &(k.clone(), b), 0.02, "bad_signature");
    // signed by a key the root never certified, claiming to be rsu-a
    let rogue = Pki::key(9).unwrap();
    refused(&mut c, &signed(&rogue, "rsu-a", "ix-a", 2, 0.0), 0.02, "unknown_key");
    assert!(c.handle_state(&k, &signed(&pki.rsu_a, "rsu-a", "ix-a", 3, 0.0).1, t(0.02)).is_ok());
}

#[test]
fn an_rsu_not_certified_for_the_intersection_is_dropped() {
    let pki = pki();
    let mut c = ready(&pki);
    // rsu-b holds a valid certificate, for ix-b only
    refused(&mut c, &signed(&pki.rsu_b, "rsu-b", "ix-a", 1, 0.0), 0.02, "not_certified");
    // rsu-b's key claiming to be rsu-a
    refused(&mut c, &signed(&pki.rsu_b, "rsu-a", "ix-a", 2, 0.0), 0.02, "not_certified");
}

#[test]
fn a_replayed_state_is_dropped() {
    let pki = pki();
    let mut c = ready(&pki);
    let m = signed(&pki.rsu_a, "rsu-a", "ix-a", 5, 0.0);
    c.handle_state(&m.0, &m.1, t(0.02)).unwrap();
    refused(&mut c, &m, 0.05, "replay");
    assert_eq!(c.stats().accepted, 1);
}

#[test]
fn stale_and_future_dated_states_are_dropped() {
    let pki = pki();
    let mut c = ready(&pki);
    refused(&mut c, &signed(&pki.rsu_a, "rsu-a", "ix-a", 1, 0.0), 1.0, "stale");
    refused(&mut c, &signed(&pki.rsu_a, "rsu-a", "ix-a", 2, 1.0), 0.0, "future_dated");
    // within 200 ms + 50 ms offset either way: fine
    assert!(c
        .handle_state(
            &signed(&pki.rsu_a, "rsu-a", "ix-a", 3, 0.0).0,
            &signed(&pki.rsu_a, "rsu-a", "ix-a", 3, 0.0).1,
            t(0.2)
        )
        .is_ok());
}

#[test]
fn a_revoked_key_is_dropped_after_a_bundle_update_and_an_old_bundle_does_not_undo_it() {
    let mut pki = pki();
    let mut c = ready(&pki);
    let old_bundle = pki.bundle();
    assert!(c
        .handle_state(
            &signed(&pki.rsu_a, "rsu-a", "ix-a", 1, 0.0).0,
            &signed(&pki.rsu_a, "rsu-a", "ix-a", 1, 0.0).1,
            t(0.02)
        )
        .is_ok());
    let revoked = pki.revoke(&[1]);
    let report = c.import_trust_bundle(&revoked).unwrap().unwrap();
    assert!(report.revocation_applied);
    refused(&mut c, &signed(&pki.rsu_a, "rsu-a", "ix-a", 2, 0.0), 0.02, "revoked");
    // the old bundle (no revocation) changes nothing
    let report = c.import_trust_bundle(&old_bundle).unwrap().unwrap();
    assert!(!report.revocation_applied);
    refused(&mut c, &signed(&pki.rsu_a, "rsu-a", "ix-a", 3, 0.0), 0.02, "revoked");
    assert!(c.import_trust_bundle(b"garbage").is_err());
}

#[test]
fn an_expired_or_not_yet_valid_certificate_is_dropped() {
    let mut pki = pki();
    let old = Pki::key(10).unwrap();
    pki.certify_rsu(&old, "rsu-old", &["ix-a"], t(-2.0 * DAY), t(-60.0)).unwrap();
    let early = Pki::key(11).unwrap();
    pki.certify_rsu(&early, "rsu-new", &["ix-a"], t(60.0), t(DAY)).unwrap();
    let mut c = ready(&pki);
    refused(&mut c, &signed(&old, "rsu-old", "ix-a", 1, 0.0), 0.02, "cert_expired");
    refused(&mut c, &signed(&early, "rsu-new", "ix-a", 1, 0.0), 0.02, "cert_not_yet_valid");
}

#[test]
fn a_truncated_signature_is_dropped() {
    let pki = pki();
    let mut c = ready(&pki);
    let (k, b) = signed(&pki.rsu_a, "rsu-a", "ix-a", 1, 0.0);
    refused(&mut c, &(k.clone(), b[..b.len() - 1].to_vec()), 0.02, "malformed");
    // a consistent trailer declaring a 63-byte signature
    let mut short = b[..b.len() - 1].to_vec();
    let at = short.len() - 63 - 2;
    short[at..at + 2].copy_from_slice(&63u16.to_le_bytes());
    refused(&mut c, &(k.clone(), short), 0.02, "signature_encoding");
    assert!(c.handle_state(&k, &b, t(0.02)).is_ok(), "the intact message still passes");
}

#[test]
fn an_unknown_map_version_is_held_fetched_verified_then_accepted() {
    let pki = pki();
    let mut c = core_with(&pki, None);
    let (mv, _) = versions();
    let m1 = signed(&pki.rsu_a, "rsu-a", "ix-a", 1, 0.0);
    // held: not delivered, not a drop, the intersection waits for that map
    assert_eq!(c.handle_state(&m1.0, &m1.1, t(0.02)).unwrap_err(), DropReason::MapUnknown(mv));
    assert!(c.latest(&ix("ix-a")).is_none());
    assert_eq!(c.usability(&ix("ix-a"), t(0.03)), Usability::MapPending { version: mv });
    assert_eq!((c.stats().held, c.stats().dropped_total()), (1, 0));
    let due = c.due_fetches(t(0.03));
    assert!(due.contains(&FetchRequest::Map { intersection: ix("ix-a"), version: mv }), "{due:?}");
    // the cloud's reply, unsigned or signed by an RSU key: refused, the fetch stays due
    let (map, _) = testkit::map_bundle(&ix("ix-a")).unwrap();
    assert!(c.handle_map_bundle(&map, t(0.1)).is_err());
    assert!(c.handle_map_bundle(&Pki::sign(&pki.rsu_a, map.clone()).unwrap(), t(0.1)).is_err());
    assert_eq!(c.stats().cloud_rejected, 2);
    assert_eq!(c.usability(&ix("ix-a"), t(0.1)), Usability::MapPending { version: mv });
    let m2 = signed(&pki.rsu_a, "rsu-a", "ix-a", 2, 0.1);
    assert!(c.handle_state(&m2.0, &m2.1, t(0.12)).is_err(), "still held");
    // signed by the cloud: verified (signature, then content hash) and in force
    assert_eq!(c.handle_map_bundle(&Pki::sign(&pki.cloud, map).unwrap(), t(0.2)).unwrap(), mv);
    let m3 = signed(&pki.rsu_a, "rsu-a", "ix-a", 3, 0.2);
    assert_eq!(c.handle_state(&m3.0, &m3.1, t(0.22)).unwrap().state.seq, 3);
    assert_eq!(c.usability(&ix("ix-a"), t(0.23)), Usability::Usable);
    assert_eq!((c.stats().held, c.stats().accepted), (2, 1));
    let statuses: Vec<StatusEvent> = std::iter::from_fn(|| c.poll_status()).collect();
    assert!(statuses.contains(&StatusEvent::MapReady { intersection: ix("ix-a"), version: mv }), "{statuses:?}");
}

#[test]
fn a_map_in_the_disk_cache_lets_a_held_state_through_at_once() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    {
        let mut c = core_with(&pki, Some(dir.path().to_owned()));
        let map = Pki::sign(&pki.cloud, testkit::map_bundle(&ix("ix-a")).unwrap().0).unwrap();
        c.handle_map_bundle(&map, t(0.0)).unwrap();
    }
    let mut c = core_with(&pki, Some(dir.path().to_owned()));
    let m = signed(&pki.rsu_a, "rsu-a", "ix-a", 1, 0.0);
    assert_eq!(c.handle_state(&m.0, &m.1, t(0.02)).unwrap().state.seq, 1);
    assert_eq!(c.stats().held, 1, "held once, then re-checked after the cache load");
}

#[test]
fn a_cached_trust_bundle_is_used_on_the_next_start() {
    let mut pki = pki();
    let dir = tempfile::tempdir().unwrap();
    // a vehicle that only knows the root: every state is from an unknown key
    let mut bare = pki.clone();
    bare.store = corridor_security::TrustStore::new([*pki.root.verifying_key()]);
    let mut c = core_with(&bare, Some(dir.path().to_owned()));
    let m = signed(&pki.rsu_a, "rsu-a", "ix-a", 1, 0.0);
    assert_eq!(c.handle_state(&m.0, &m.1, t(0.02)).unwrap_err().label(), "unknown_key");
    // the bundle arrives (from the cloud) with rsu-b revoked, and is cached
    let bundle = pki.revoke(&[2]);
    c.import_trust_bundle(&bundle).unwrap().unwrap();
    drop(c);
    let mut c = core_with(&bare, Some(dir.path().to_owned()));
    let map = Pki::sign(&pki.cloud, testkit::map_bundle(&ix("ix-a")).unwrap().0).unwrap();
    c.handle_map_bundle(&map, t(0.0)).unwrap();
    assert!(c.handle_state(&m.0, &m.1, t(0.02)).is_ok(), "rsu-a's certificate came from the cache");
    assert_eq!(c.trust_store().unwrap().revocation_list().seq, 1);
}

#[test]
fn events_are_verified_and_forged_or_replayed_ones_never_become_hazards() {
    let pki = pki();
    let mut c = ready(&pki);
    let (mv, _) = versions();
    let (k, b) = testkit::event("demo", &ix("ix-a"), 1, t(0.0), "A0top0_1", mv).unwrap();
    // unsigned
    assert_eq!(c.handle_event(&k, &b, t(0.02)).unwrap_err().label(), "unsigned");
    // signed by rsu-b (certified for ix-b only), and forged
    assert_eq!(
        c.handle_event(&k, &Pki::sign(&pki.rsu_b, b.clone()).unwrap(), t(0.02)).unwrap_err().label(),
        "not_certified"
    );
    let mut forged = Pki::sign(&pki.rsu_a, b.clone()).unwrap();
    let at = forged.len() - 80;
    forged[at] ^= 1;
    assert_eq!(c.handle_event(&k, &forged, t(0.02)).unwrap_err().label(), "bad_signature");
    // stale
    let good = Pki::sign(&pki.rsu_a, b).unwrap();
    assert_eq!(c.handle_event(&k, &good, t(5.0)).unwrap_err().label(), "stale");
    assert!(c.hazards(t(0.05)).is_empty(), "nothing refused became a hazard");
    // valid, then replayed
    assert!(c.handle_event(&k, &good, t(0.02)).is_ok());
    assert_eq!(c.handle_event(&k, &good, t(0.03)).unwrap_err(), DropReason::OutOfOrder);
    assert_eq!(c.hazards(t(0.05)).len(), 1);
}

/// Over zenoh: a `Vehicle` that starts with only the root public key fetches the trust bundle
/// from `corridor/demo/cloud/trust`, accepts rsu-a's signed states, and once the cloud
/// publishes a bundle revoking rsu-a, rejects its states as `revoked` while it keeps running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_vehicle_rejects_an_rsu_once_its_revocation_is_pushed() {
    use corridor_model::{Clock, SystemClock};
    use corridor_wire::presets;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    use zenoh::Wait;

    let now = SystemClock.now();
    let pki = Arc::new(Mutex::new(Pki::new(now.add_secs_f64(-DAY), now.add_secs_f64(DAY)).unwrap()));
    let port = presets::free_loopback_port().unwrap();
    let endpoint = presets::loopback_tcp(port);
    let cloud = zenoh::open(presets::peer(std::slice::from_ref(&endpoint), &[]).unwrap()).await.unwrap();
    let map = {
        let p = pki.lock().unwrap();
        Pki::sign(&p.cloud, testkit::map_bundle(&ix("ix-a")).unwrap().0).unwrap()
    };
    let mv = versions().0;
    let map_q = cloud
        .declare_queryable("corridor/demo/map/ix-a")
        .callback(move |q| {
            let _ = q.reply(q.key_expr().clone(), map.clone()).wait();
        })
        .await
        .unwrap();
    let p2 = Arc::clone(&pki);
    let trust_q = cloud
        .declare_queryable("corridor/demo/cloud/trust")
        .callback(move |q| {
            let bundle = p2.lock().unwrap().bundle();
            let _ = q.reply(q.key_expr().clone(), bundle).wait();
        })
        .await
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let (s2, stop2, rsu_key) = (cloud.clone(), Arc::clone(&stop), pki.lock().unwrap().rsu_a.clone());
    let publisher = tokio::spawn(async move {
        let mut seq = 0;
        while !stop2.load(Ordering::Relaxed) {
            seq += 1;
            let st = testkit::state(&ix("ix-a"), seq, SystemClock.now(), 5, mv, None);
            let (k, b) = testkit::encode_state("demo", &st).unwrap();
            let _ = s2.put(k, Pki::sign(&rsu_key, b).unwrap()).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let root = *pki.lock().unwrap().root.verifying_key();
    let (bare, _) = corridor_sdk::TrustVerifier::from_root(root, None).unwrap();
    let cfg = corridor_sdk::VehicleConfig::new(
        "demo".parse().unwrap(),
        vec![ix("ix-a")],
        presets::peer(&[], std::slice::from_ref(&endpoint)).unwrap(),
    )
    .trust(bare);
    let v = corridor_sdk::Vehicle::connect(cfg, None).await.unwrap();
    let mut accepted = 0;
    for _ in 0..200 {
        accepted = v.stats().accepted;
        if accepted >= 5 && v.usability(&ix("ix-a")) == Usability::Usable {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(accepted >= 5, "never accepted: {:?}", v.stats());
    // revoke rsu-a (serial 1) and push the new bundle
    let bundle = pki.lock().unwrap().revoke(&[1]);
    cloud.put("corridor/demo/cloud/trust", bundle).await.unwrap();
    let mut revoked = 0;
    for _ in 0..200 {
        revoked = v.stats().dropped.get("revoked").copied().unwrap_or(0);
        if revoked >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(revoked >= 3, "never revoked: {:?}", v.stats());
    let frozen = v.stats().accepted;
    // past the 0.5 s freshness window: the last accepted state is now stale, nothing replaced it
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(v.stats().accepted, frozen, "nothing from the revoked key is accepted any more");
    assert!(matches!(v.usability(&ix("ix-a")), Usability::Stale { .. }), "{:?}", v.usability(&ix("ix-a")));
    stop.store(true, Ordering::Relaxed);
    let _ = publisher.await;
    v.close().await.unwrap();
    drop((map_q, trust_q));
    cloud.close().await.unwrap();
}
