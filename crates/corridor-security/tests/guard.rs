//! End-to-end tests of the vehicle-side guard: one test per attack in issue 10's list, plus the
//! malleability, trailing-byte and check-order cases. Each asserts the rejection reason, the
//! counters, and that nothing was accepted.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::collections::HashSet;
use std::time::Duration;

use corridor_model::{sample, IntersectionId, MapVersion, RsuId, Timestamp};
use corridor_security::keys::malleate;
use corridor_security::{
    Certificate, GuardConfig, Rejection, RevocationList, SignedCertificate, Signer, SigningKey, StateGuard, TrustError,
    TrustStore, SIGNATURE_LEN,
};
use corridor_wire::{Header, PayloadKind};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

const T0: i64 = 1_763_856_000_000_000_000;
const MS: i64 = 1_000_000;
const DAY: i64 = 86_400_000_000_000;

fn ts(ns: i64) -> Timestamp {
    Timestamp::from_unix_ns(ns)
}

fn ix(s: &str) -> IntersectionId {
    IntersectionId::new(s).unwrap()
}

struct World {
    root: SigningKey,
    rsu_a: SigningKey,
    rsu_b: SigningKey,
    cloud: SigningKey,
    cert_a: SignedCertificate,
    guard: StateGuard,
    maps: HashSet<MapVersion>,
    rng: ChaCha20Rng,
}

fn world() -> World {
    let mut rng = ChaCha20Rng::seed_from_u64(10);
    let root = SigningKey::generate(&mut rng);
    let rsu_a = SigningKey::generate(&mut rng);
    let rsu_b = SigningKey::generate(&mut rng);
    let cloud = SigningKey::generate(&mut rng);
    let cert_a = Certificate::rsu(
        &RsuId::new("rsu-a").unwrap(),
        *rsu_a.verifying_key(),
        [ix("ix-a"), ix("ix-a2")],
        ts(T0 - DAY),
        ts(T0 + DAY),
        1,
    )
    .issue(&root)
    .unwrap();
    let cert_b = Certificate::rsu(
        &RsuId::new("rsu-b").unwrap(),
        *rsu_b.verifying_key(),
        [ix("ix-b")],
        ts(T0 - DAY),
        ts(T0 + DAY),
        2,
    )
    .issue(&root)
    .unwrap();
    let cert_cloud =
        Certificate::cloud("cloud", *cloud.verifying_key(), ts(T0 - DAY), ts(T0 + DAY), 3).issue(&root).unwrap();
    let mut trust = TrustStore::new([*root.verifying_key()]);
    trust.add_certificate(cert_a.clone()).unwrap();
    trust.add_certificate(cert_b).unwrap();
    trust.add_certificate(cert_cloud).unwrap();
    let guard = StateGuard::new(trust, GuardConfig::default());
    let maps: HashSet<MapVersion> = [MapVersion([7; 32])].into_iter().collect();
    World { root, rsu_a, rsu_b, cloud, cert_a, guard, maps, rng }
}

/// A signed state from `key` (sender `sender`) for `intersection`, captured at `capture_ns`.
fn state_msg(key: &SigningKey, sender: &str, intersection: &str, seq: u64, capture_ns: i64) -> Vec<u8> {
    let mut state = sample::intersection_state(3, seq);
    state.intersection = ix(intersection);
    state.rsu = RsuId::new(sender).unwrap();
    state.capture_time = ts(capture_ns);
    let header = Header::new(PayloadKind::IntersectionState, sender, seq, ts(capture_ns), ts(capture_ns + MS));
    let mut buf = Vec::new();
    Signer::new(key.clone()).encode_signed(&mut buf, &header, &state).unwrap();
    buf
}

fn check(w: &mut World, now_ns: i64, intersection: &str, bytes: &[u8]) -> Result<u64, Rejection> {
    let maps = w.maps.clone();
    w.guard.check_state(ts(now_ns), &ix(intersection), bytes, &maps).map(|v| v.header.seq)
}

fn reason(r: Result<u64, Rejection>) -> &'static str {
    match r {
        Ok(seq) => panic!("accepted seq {seq}, expected a rejection"),
        Err(e) => e.reason(),
    }
}

#[test]
fn a_valid_state_is_accepted_and_counted() {
    let mut w = world();
    let msg = state_msg(&w.rsu_a, "rsu-a", "ix-a", 1, T0);
    assert_eq!(check(&mut w, T0 + 30 * MS, "ix-a", &msg).unwrap(), 1);
    assert_eq!(w.guard.counters().accepted, 1);
    assert_eq!(w.guard.counters().total_rejected(), 0);
}

#[test]
fn forged_signature_is_rejected() {
    let mut w = world();
    // An attacker signs with its own key but claims rsu-a's key id.
    let attacker = SigningKey::generate(&mut w.rng);
    let mut msg = state_msg(&attacker, "rsu-a", "ix-a", 1, T0);
    let at = msg.len() - SIGNATURE_LEN - 10;
    msg[at..at + 8].copy_from_slice(&w.rsu_a.key_id().0);
    assert_eq!(reason(check(&mut w, T0, "ix-a", &msg)), "bad_signature");
    // A genuine message with one payload bit flipped.
    let mut msg = state_msg(&w.rsu_a, "rsu-a", "ix-a", 2, T0);
    msg[60] ^= 0x01;
    assert_eq!(reason(check(&mut w, T0, "ix-a", &msg)), "bad_signature");
    // The attacker under its own (uncertified) key id: rejected before any EC math.
    let msg = state_msg(&attacker, "rsu-a", "ix-a", 3, T0);
    assert_eq!(reason(check(&mut w, T0, "ix-a", &msg)), "unknown_key");
    assert_eq!(w.guard.counters().accepted, 0);
    assert_eq!(w.guard.counters().rejected("bad_signature"), 2);
    assert_eq!(w.guard.counters().rejected("unknown_key"), 1);
}

#[test]
fn an_rsu_not_certified_for_the_intersection_is_rejected() {
    let mut w = world();
    // rsu-b is certified for ix-b only; a valid signature for ix-a is not enough.
    let msg = state_msg(&w.rsu_b, "rsu-b", "ix-a", 1, T0);
    assert_eq!(reason(check(&mut w, T0, "ix-a", &msg)), "not_certified");
    // rsu-a's message received on ix-b's key.
    let msg = state_msg(&w.rsu_a, "rsu-a", "ix-b", 2, T0);
    assert_eq!(reason(check(&mut w, T0, "ix-b", &msg)), "not_certified");
    // rsu-a's state for ix-a2 delivered on ix-a's key: payload names another intersection.
    let msg = state_msg(&w.rsu_a, "rsu-a", "ix-a2", 3, T0);
    assert_eq!(reason(check(&mut w, T0, "ix-a", &msg)), "not_certified");
    // rsu-a's key, but claiming to be rsu-b.
    let msg = state_msg(&w.rsu_a, "rsu-b", "ix-a", 4, T0);
    assert_eq!(reason(check(&mut w, T0, "ix-a", &msg)), "not_certified");
    // A cloud key may not publish states.
    let msg = state_msg(&w.cloud, "cloud", "ix-a", 5, T0);
    assert_eq!(reason(check(&mut w, T0, "ix-a", &msg)), "not_certified");
    assert_eq!(w.guard.counters().rejected("not_certified"), 5);
    assert_eq!(w.guard.counters().accepted, 0);
}

#[test]
fn a_replayed_message_is_rejected() {
    let mut w = world();
    let m10 = state_msg(&w.rsu_a, "rsu-a", "ix-a", 10, T0);
    let m9 = state_msg(&w.rsu_a, "rsu-a", "ix-a", 9, T0);
    assert!(check(&mut w, T0, "ix-a", &m10).is_ok());
    assert_eq!(reason(check(&mut w, T0 + MS, "ix-a", &m10)), "replay");
    // Late but unseen, inside the window: accepted once.
    assert!(check(&mut w, T0 + MS, "ix-a", &m9).is_ok());
    assert_eq!(reason(check(&mut w, T0 + 2 * MS, "ix-a", &m9)), "replay");
    // Jump ahead by more than the window: seq 10 area falls out and stays refused.
    let m100 = state_msg(&w.rsu_a, "rsu-a", "ix-a", 100, T0);
    let m20 = state_msg(&w.rsu_a, "rsu-a", "ix-a", 20, T0);
    assert!(check(&mut w, T0 + 2 * MS, "ix-a", &m100).is_ok());
    assert_eq!(reason(check(&mut w, T0 + 3 * MS, "ix-a", &m20)), "replay");
    assert_eq!(w.guard.counters().accepted, 3);
    assert_eq!(w.guard.counters().rejected("replay"), 3);
    // Windows are per key: rsu-b's seq 10 is independent.
    let b10 = state_msg(&w.rsu_b, "rsu-b", "ix-b", 10, T0);
    assert!(check(&mut w, T0 + 3 * MS, "ix-b", &b10).is_ok());
}

#[test]
fn a_stale_message_is_rejected() {
    let mut w = world();
    // Default: 200 ms window + 50 ms clock offset tolerance.
    let msg = state_msg(&w.rsu_a, "rsu-a", "ix-a", 1, T0);
    assert_eq!(reason(check(&mut w, T0 + 251 * MS, "ix-a", &msg)), "stale");
    assert!(check(&mut w, T0 + 240 * MS, "ix-a", &msg).is_ok(), "inside window + tolerance");
    // A tighter configuration.
    let trust = w.guard.trust().clone();
    let mut strict = StateGuard::new(trust, GuardConfig { max_clock_offset: Duration::ZERO, ..GuardConfig::default() });
    let msg = state_msg(&w.rsu_a, "rsu-a", "ix-a", 2, T0);
    let err = strict.check_state(ts(T0 + 201 * MS), &ix("ix-a"), &msg, &w.maps).unwrap_err();
    assert_eq!(err.reason(), "stale");
    assert_eq!(strict.counters().accepted, 0);
}

#[test]
fn a_future_dated_message_is_rejected() {
    let mut w = world();
    let msg = state_msg(&w.rsu_a, "rsu-a", "ix-a", 1, T0 + 80 * MS);
    assert_eq!(reason(check(&mut w, T0, "ix-a", &msg)), "future_dated");
    // 40 ms ahead is within the 50 ms clock offset tolerance.
    let msg = state_msg(&w.rsu_a, "rsu-a", "ix-a", 2, T0 + 40 * MS);
    assert!(check(&mut w, T0, "ix-a", &msg).is_ok());
    assert_eq!(w.guard.counters().rejected("future_dated"), 1);
}

#[test]
fn a_revoked_key_is_rejected_and_revocation_never_rolls_back() {
    let mut w = world();
    let msg = state_msg(&w.rsu_a, "rsu-a", "ix-a", 1, T0);
    let crl1 = RevocationList {
        seq: 1,
        issued_at: ts(T0),
        serials: vec![w.cert_a.certificate().serial],
        ..Default::default()
    }
    .issue(&w.root);
    w.guard.trust_mut().apply_revocation(crl1.clone()).unwrap();
    assert_eq!(reason(check(&mut w, T0, "ix-a", &msg)), "revoked");
    // Revocation by key id works as well (rsu-b).
    let crl2 = RevocationList {
        seq: 2,
        issued_at: ts(T0),
        serials: vec![w.cert_a.certificate().serial],
        key_ids: vec![w.rsu_b.key_id()],
        ..Default::default()
    }
    .issue(&w.root);
    // The wire form round trips and is what gets applied.
    let crl2 = corridor_security::SignedRevocationList::from_bytes(crl2.to_bytes()).unwrap();
    w.guard.trust_mut().apply_revocation(crl2).unwrap();
    let msg_b = state_msg(&w.rsu_b, "rsu-b", "ix-b", 1, T0);
    assert_eq!(reason(check(&mut w, T0, "ix-b", &msg_b)), "revoked");
    // An older (or empty, lower-seq) list cannot un-revoke.
    let err = w.guard.trust_mut().apply_revocation(crl1).unwrap_err();
    assert!(matches!(err, TrustError::RevocationRollback { offered: 1, held: 2 }), "{err}");
    // A list signed by a non-root key is refused.
    let fake = RevocationList { seq: 3, ..Default::default() }.issue(&w.rsu_a);
    assert!(matches!(w.guard.trust_mut().apply_revocation(fake), Err(TrustError::UnknownIssuer(_))));
    assert_eq!(w.guard.trust().revocation_list().seq, 2);
    assert_eq!(reason(check(&mut w, T0, "ix-a", &msg)), "revoked");
    assert_eq!(w.guard.counters().accepted, 0);
}

#[test]
fn an_expired_or_not_yet_valid_certificate_is_rejected() {
    let mut w = world();
    let later = T0 + 2 * DAY;
    let msg = state_msg(&w.rsu_a, "rsu-a", "ix-a", 1, later);
    assert_eq!(reason(check(&mut w, later, "ix-a", &msg)), "cert_expired");
    let early = T0 - 2 * DAY;
    let msg = state_msg(&w.rsu_a, "rsu-a", "ix-a", 2, early);
    assert_eq!(reason(check(&mut w, early, "ix-a", &msg)), "cert_not_yet_valid");
    assert_eq!(w.guard.counters().accepted, 0);
}

#[test]
fn an_unknown_map_version_is_rejected_until_known_then_accepted() {
    let mut w = world();
    let mut state = sample::intersection_state(3, 1);
    state.intersection = ix("ix-a");
    state.capture_time = ts(T0);
    let new_map = MapVersion([42; 32]);
    state.map_version = new_map;
    let header = Header::new(PayloadKind::IntersectionState, "rsu-a", 1, ts(T0), ts(T0));
    let mut msg = Vec::new();
    Signer::new(w.rsu_a.clone()).encode_signed(&mut msg, &header, &state).unwrap();
    match check(&mut w, T0 + 10 * MS, "ix-a", &msg) {
        Err(Rejection::UnknownMap(v)) => assert_eq!(v, new_map),
        other => panic!("expected unknown_map, got {other:?}"),
    }
    // The rejection did not advance the replay window.
    assert!(w.guard.replay_window(&w.rsu_a.key_id()).is_none());
    // The SDK fetches the map by hash, verifies it, and stores it.
    w.maps.insert(new_map);
    assert_eq!(check(&mut w, T0 + 60 * MS, "ix-a", &msg).unwrap(), 1);
    assert_eq!(w.guard.counters().rejected("unknown_map"), 1);
    assert_eq!(w.guard.counters().accepted, 1);
}

#[test]
fn a_truncated_signature_is_rejected() {
    let mut w = world();
    let msg = state_msg(&w.rsu_a, "rsu-a", "ix-a", 1, T0);
    // Bytes cut off the end: the codec sees fewer bytes than the trailer declares.
    let cut = &msg[..msg.len() - 1];
    assert_eq!(reason(check(&mut w, T0, "ix-a", cut)), "malformed");
    // A consistent trailer whose signature is 63 bytes long.
    let mut short = msg[..msg.len() - 1].to_vec();
    let len_at = short.len() - (SIGNATURE_LEN - 1) - 2;
    short[len_at..len_at + 2].copy_from_slice(&((SIGNATURE_LEN - 1) as u16).to_le_bytes());
    assert_eq!(reason(check(&mut w, T0, "ix-a", &short)), "signature_encoding");
    // A 65-byte signature (valid one plus a zero) is refused as well.
    let mut long = msg.clone();
    long.push(0);
    let len_at = long.len() - (SIGNATURE_LEN + 1) - 2;
    long[len_at..len_at + 2].copy_from_slice(&((SIGNATURE_LEN + 1) as u16).to_le_bytes());
    assert_eq!(reason(check(&mut w, T0, "ix-a", &long)), "signature_encoding");
    assert!(check(&mut w, T0, "ix-a", &msg).is_ok(), "the intact message still passes");
}

#[test]
fn a_malleated_high_s_signature_is_rejected() {
    let mut w = world();
    let msg = state_msg(&w.rsu_a, "rsu-a", "ix-a", 1, T0);
    let sig_at = msg.len() - SIGNATURE_LEN;
    let sig: [u8; SIGNATURE_LEN] = msg[sig_at..].try_into().unwrap();
    let twin = malleate(&sig).unwrap();
    assert_ne!(twin, sig);
    assert_eq!(twin[..32], sig[..32], "same r");
    let mut forged = msg.clone();
    forged[sig_at..].copy_from_slice(&twin);
    let err = w.guard.check_state(ts(T0), &ix("ix-a"), &forged, &w.maps.clone()).unwrap_err();
    assert_eq!(err.reason(), "signature_encoding");
    assert!(err.to_string().contains("high-s"), "{err}");
    // r = 0 / s >= n are out of range.
    let mut zero = msg.clone();
    zero[sig_at..sig_at + 32].fill(0);
    assert_eq!(reason(check(&mut w, T0, "ix-a", &zero)), "signature_encoding");
    let mut big = msg.clone();
    big[sig_at + 32..].fill(0xff);
    assert_eq!(reason(check(&mut w, T0, "ix-a", &big)), "signature_encoding");
    assert!(check(&mut w, T0, "ix-a", &msg).is_ok());
}

#[test]
fn trailing_bytes_and_unsigned_messages_are_rejected() {
    let mut w = world();
    let mut msg = state_msg(&w.rsu_a, "rsu-a", "ix-a", 1, T0);
    msg.push(0);
    let err = w.guard.check_state(ts(T0), &ix("ix-a"), &msg, &w.maps.clone()).unwrap_err();
    assert_eq!(err.reason(), "malformed");
    assert!(err.to_string().contains("trailing"), "{err}");
    let state = sample::intersection_state(3, 1);
    let header = Header::new(PayloadKind::IntersectionState, "rsu-a", 1, ts(T0), ts(T0));
    let unsigned = corridor_wire::encode(&header, &state).unwrap();
    assert_eq!(reason(check(&mut w, T0, "ix-a", &unsigned)), "unsigned");
    assert_eq!(w.guard.counters().accepted, 0);
}

#[test]
fn the_signature_is_checked_before_anything_the_message_claims() {
    let mut w = world();
    // Forged, stale, uncertified intersection and a huge seq: reported as a bad signature.
    let attacker = SigningKey::generate(&mut w.rng);
    let mut msg = state_msg(&attacker, "rsu-a", "ix-zzz", u64::MAX, T0 - 10_000 * MS);
    let at = msg.len() - SIGNATURE_LEN - 10;
    msg[at..at + 8].copy_from_slice(&w.rsu_a.key_id().0);
    assert_eq!(reason(check(&mut w, T0, "ix-a", &msg)), "bad_signature");
    // Genuine but uncertified and stale: authorisation is reported before freshness.
    let msg = state_msg(&w.rsu_b, "rsu-b", "ix-a", 1, T0 - 10_000 * MS);
    assert_eq!(reason(check(&mut w, T0, "ix-a", &msg)), "not_certified");
    // Genuine, revoked and stale: revocation before freshness.
    let crl = RevocationList { seq: 1, key_ids: vec![w.rsu_a.key_id()], ..Default::default() }.issue(&w.root);
    w.guard.trust_mut().apply_revocation(crl).unwrap();
    let msg = state_msg(&w.rsu_a, "rsu-a", "ix-a", 1, T0 - 10_000 * MS);
    assert_eq!(reason(check(&mut w, T0, "ix-a", &msg)), "revoked");
}

#[test]
fn a_flood_of_forged_messages_does_not_block_or_poison_valid_ones() {
    let mut w = world();
    let attacker = SigningKey::generate(&mut w.rng);
    let mut accepted = 0;
    for i in 0..200u64 {
        // Unknown key id, and a forgery under rsu-a's key id with a far-future seq.
        let unknown = state_msg(&attacker, "rsu-a", "ix-a", u64::MAX - i, T0);
        let mut forged = state_msg(&attacker, "rsu-a", "ix-a", u64::MAX - i, T0);
        let at = forged.len() - SIGNATURE_LEN - 10;
        forged[at..at + 8].copy_from_slice(&w.rsu_a.key_id().0);
        assert_eq!(reason(check(&mut w, T0, "ix-a", &unknown)), "unknown_key");
        assert_eq!(reason(check(&mut w, T0, "ix-a", &forged)), "bad_signature");
        let valid = state_msg(&w.rsu_a, "rsu-a", "ix-a", i + 1, T0);
        accepted += u64::from(check(&mut w, T0, "ix-a", &valid).is_ok());
    }
    assert_eq!(accepted, 200, "every valid message got through");
    let c = w.guard.counters();
    assert_eq!((c.accepted, c.rejected("unknown_key"), c.rejected("bad_signature")), (200, 200, 200));
    // The window was advanced by valid messages only.
    assert_eq!(w.guard.replay_window(&w.rsu_a.key_id()).unwrap().highest(), Some(200));
}

#[test]
fn cloud_messages_need_a_cloud_certificate() {
    let mut w = world();
    // A map-kind envelope: encode a payload, relabel the kind, sign.
    let sign_as_map = |key: &SigningKey, sender: &str| {
        let state = sample::intersection_state(1, 1);
        let header = Header::new(PayloadKind::IntersectionState, sender, 1, ts(T0), ts(T0));
        let mut buf = corridor_wire::encode(&header, &state).unwrap();
        buf[6] = PayloadKind::Map as u8;
        Signer::new(key.clone()).sign_into(&mut buf).unwrap();
        buf
    };
    let map = sign_as_map(&w.cloud, "cloud");
    let ok = w.guard.check_cloud(ts(T0 + 365 * MS), &map).unwrap();
    assert_eq!(ok.envelope.header.kind, PayloadKind::Map);
    assert_eq!(ok.signer, w.cloud.key_id());
    let by_rsu = sign_as_map(&w.rsu_a, "rsu-a");
    assert_eq!(w.guard.check_cloud(ts(T0), &by_rsu).unwrap_err().reason(), "not_certified");
    let expired = w.guard.check_cloud(ts(T0 + 2 * DAY), &map).unwrap_err();
    assert_eq!(expired.reason(), "cert_expired");
    // A state is not accepted through the cloud path.
    let state = state_msg(&w.rsu_a, "rsu-a", "ix-a", 1, T0);
    assert_eq!(w.guard.check_cloud(ts(T0), &state).unwrap_err().reason(), "wrong_kind");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]
    /// Flipping any bits of any single byte of a valid signed state makes it rejected
    /// (never accepted, never a panic), whatever byte it is: header, payload or trailer.
    #[test]
    fn any_single_byte_change_is_rejected(pos in 0usize..10_000, flip in 1u8..=255) {
        let mut w = world();
        let msg = state_msg(&w.rsu_a, "rsu-a", "ix-a", 1, T0);
        let mut bad = msg.clone();
        let at = pos % bad.len();
        bad[at] ^= flip;
        proptest::prop_assert!(check(&mut w, T0, "ix-a", &bad).is_err(), "byte {} ^ {:#04x} accepted", at, flip);
        proptest::prop_assert_eq!(w.guard.counters().accepted, 0);
        proptest::prop_assert!(check(&mut w, T0, "ix-a", &msg).is_ok());
    }
}

/// `forged` carrying `genuine`'s key id and signature (a copy-and-tamper forgery).
fn with_trailer_of(mut forged: Vec<u8>, genuine: &[u8]) -> Vec<u8> {
    let (n, g) = (forged.len(), genuine.len());
    forged[n - SIGNATURE_LEN - 10..].copy_from_slice(&genuine[g - SIGNATURE_LEN - 10..]);
    forged
}

#[test]
fn floods_made_without_the_key_cost_no_signature_verification() {
    let mut w = world();
    let genuine = state_msg(&w.rsu_a, "rsu-a", "ix-a", 5, T0);
    assert_eq!(check(&mut w, T0, "ix-a", &genuine).unwrap(), 5);
    assert_eq!(w.guard.counters().signature_verifications, 1);
    let attacker = SigningKey::generate(&mut w.rng);
    for i in 0..100u64 {
        // an exact duplicate, and copies with one payload byte changed: seq 5 is consumed
        assert_eq!(reason(check(&mut w, T0, "ix-a", &genuine)), "replay");
        let mut tampered = genuine.clone();
        let at = tampered.len() - SIGNATURE_LEN - 20 - (i as usize % 50);
        tampered[at] ^= 0x01;
        assert_eq!(reason(check(&mut w, T0, "ix-a", &tampered)), "replay");
        // a new message with a fresh seq under rsu-a's key id and genuine signature
        let fresh = with_trailer_of(state_msg(&attacker, "rsu-a", "ix-a", 6 + i, T0), &genuine);
        assert_eq!(reason(check(&mut w, T0, "ix-a", &fresh)), "bad_signature");
        // the genuine message replayed onto an intersection rsu-a is not certified for
        assert_eq!(reason(check(&mut w, T0, "ix-b", &genuine)), "not_certified");
    }
    let c = w.guard.counters();
    assert_eq!(c.signature_verifications, 1, "no ECDSA work for 400 forgeries");
    assert_eq!((c.rejected("replay"), c.rejected("bad_signature"), c.rejected("not_certified")), (200, 100, 100));
    // a forgery with a fresh signature does cost one verification, and is refused
    let mut forged = state_msg(&attacker, "rsu-a", "ix-a", 7, T0);
    let at = forged.len() - SIGNATURE_LEN - 10;
    forged[at..at + 8].copy_from_slice(&w.rsu_a.key_id().0);
    assert_eq!(reason(check(&mut w, T0, "ix-a", &forged)), "bad_signature");
    assert_eq!(w.guard.counters().signature_verifications, 2);
    // and the genuine stream goes on: the pre-checks changed no state
    let next = state_msg(&w.rsu_a, "rsu-a", "ix-a", 6, T0);
    assert_eq!(check(&mut w, T0, "ix-a", &next).unwrap(), 6);
    assert_eq!(w.guard.replay_window(&w.rsu_a.key_id()).unwrap().highest(), Some(6));
}

/// A signed event from `key` (sender and event RSU `sender`) at `intersection`, at `time_ns`.
fn event_msg(key: &SigningKey, sender: &str, intersection: &str, time_ns: i64) -> Vec<u8> {
    use corridor_model::{Event, EventId, EventKind, Severity};
    let rsu = RsuId::new(sender).unwrap();
    let event = Event {
        id: EventId::derive(&rsu, 1, EventKind::StoppedVehicle),
        kind: EventKind::StoppedVehicle,
        severity: Severity::Warning,
        intersection: ix(intersection),
        rsu,
        time: ts(time_ns),
        position_m: Some([1.0, 2.0]),
        track: None,
        lane: None,
        signal_group: None,
        map_version: MapVersion([7; 32]),
        detail: "stopped".into(),
    };
    let header = Header::new(PayloadKind::Event, sender, 0, ts(time_ns), ts(time_ns));
    let mut buf = Vec::new();
    Signer::new(key.clone()).encode_signed(&mut buf, &header, &event).unwrap();
    buf
}

#[test]
fn events_get_the_same_checks_as_states_except_replay_and_map() {
    let mut w = world();
    let now = ts(T0 + 20 * MS);
    let ok = event_msg(&w.rsu_a, "rsu-a", "ix-a", T0);
    let v = w.guard.check_event(now, &ix("ix-a"), &ok, true).unwrap();
    assert_eq!(v.event.intersection, ix("ix-a"));
    // the same bytes twice pass the guard: the event id dedup is the caller's (SDK, cloud store)
    assert!(w.guard.check_event(now, &ix("ix-a"), &ok, true).is_ok());
    let mut forged = ok.clone();
    let n = forged.len();
    forged[n - 1] ^= 1;
    let r = |res: Result<corridor_security::VerifiedEvent, Rejection>| res.unwrap_err().reason();
    assert_eq!(r(w.guard.check_event(now, &ix("ix-a"), &forged, true)), "bad_signature");
    assert_eq!(r(w.guard.check_event(now, &ix("ix-a"), &ok[..n - 3], true)), "malformed");
    // rsu-b is not certified for ix-a
    let b = event_msg(&w.rsu_b, "rsu-b", "ix-a", T0);
    assert_eq!(r(w.guard.check_event(now, &ix("ix-a"), &b, true)), "not_certified");
    // an event for ix-a sent on ix-a2's key (both certified): the payload must match the key
    assert_eq!(r(w.guard.check_event(now, &ix("ix-a2"), &ok, true)), "not_certified");
    // stale live, accepted as a late upload
    let later = ts(T0 + 10_000 * MS);
    assert_eq!(r(w.guard.check_event(later, &ix("ix-a"), &ok, true)), "stale");
    assert!(w.guard.check_event(later, &ix("ix-a"), &ok, false).is_ok());
    // a state is not an event
    let state = state_msg(&w.rsu_a, "rsu-a", "ix-a", 1, T0);
    assert_eq!(r(w.guard.check_event(now, &ix("ix-a"), &state, true)), "wrong_kind");
    // revoked: even uploads are refused
    let crl = RevocationList { seq: 1, serials: vec![1], ..Default::default() }.issue(&w.root);
    w.guard.trust_mut().apply_revocation(crl).unwrap();
    assert_eq!(r(w.guard.check_event(now, &ix("ix-a"), &ok, false)), "revoked");
    assert_eq!(w.guard.counters().accepted, 3);
    assert_eq!(w.guard.counters().total_rejected(), 7);
}
