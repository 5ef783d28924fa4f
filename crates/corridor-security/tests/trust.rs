//! Tests of keys, certificates and the trust store: serialisation round trips, strict
//! decoding (tampering, trailing bytes), and admission rules.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use corridor_model::{IntersectionId, RsuId, Timestamp};
use corridor_security::{
    CertError, Certificate, KeyError, ReplayWindow, SignedCertificate, SigningKey, TrustError, TrustStore, VerifyingKey,
};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

fn ts(ns: i64) -> Timestamp {
    Timestamp::from_unix_ns(ns)
}

fn keys(n: usize) -> Vec<SigningKey> {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    (0..n).map(|_| SigningKey::generate(&mut rng)).collect()
}

fn rsu_cert(root: &SigningKey, key: &SigningKey) -> SignedCertificate {
    let ixs = ["ix-2", "ix-1", "ix-2"].map(|s| IntersectionId::new(s).unwrap());
    Certificate::rsu(&RsuId::new("rsu-7").unwrap(), *key.verifying_key(), ixs, ts(0), ts(1_000), 77)
        .issue(root)
        .unwrap()
}

#[test]
fn keys_round_trip_through_hex_and_pem() {
    let k = &keys(1)[0];
    let from_hex = SigningKey::from_hex(&k.to_hex()).unwrap();
    assert_eq!(from_hex.key_id(), k.key_id());
    let pem = k.to_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert_eq!(SigningKey::from_pem(&pem).unwrap().key_id(), k.key_id());
    let vk = k.verifying_key();
    assert_eq!(vk.to_hex().len(), 66);
    assert_eq!(VerifyingKey::from_hex(&vk.to_hex()).unwrap(), *vk);
    assert_eq!(VerifyingKey::from_pem(&vk.to_pem().unwrap()).unwrap(), *vk);
    // A signature made by the restored key verifies under the original public key.
    let sig = from_hex.sign(b"hello");
    vk.verify(b"hello", &sig).unwrap();
    assert_eq!(vk.verify(b"hellO", &sig), Err(KeyError::BadSignature));
    assert!(matches!(vk.verify(b"hello", &sig[..63]), Err(KeyError::SignatureLength(63))));
    // Wrong lengths and non-keys are refused.
    assert!(VerifyingKey::from_sec1(&[2u8; 34]).is_err());
    assert!(SigningKey::from_hex("zz").is_err());
    assert!(SigningKey::from_hex(&"00".repeat(32)).is_err(), "zero scalar");
}

#[test]
fn key_ids_are_distinct_and_derived_from_the_public_key() {
    let ks = keys(3);
    assert_ne!(ks[0].key_id(), ks[1].key_id());
    assert_ne!(ks[1].key_id(), ks[2].key_id());
    assert_eq!(ks[0].key_id(), ks[0].verifying_key().key_id());
    assert_eq!(ks[0].key_id().to_hex().len(), 16);
}

#[test]
fn certificates_are_canonical_and_round_trip() {
    let ks = keys(2);
    let cert = rsu_cert(&ks[0], &ks[1]);
    let c = cert.certificate();
    assert_eq!(c.intersections.iter().map(|i| i.as_str()).collect::<Vec<_>>(), ["ix-1", "ix-2"], "sorted, deduped");
    assert_eq!(c.issuer_key_id, ks[0].key_id());
    let back = SignedCertificate::from_bytes(cert.to_bytes()).unwrap();
    assert_eq!(back, cert);
    assert_eq!(SignedCertificate::from_hex(&cert.to_hex()).unwrap(), cert);
    back.verify_signature(ks[0].verifying_key()).unwrap();
    // Trailing byte, truncation.
    let mut long = cert.to_bytes().to_vec();
    long.push(0);
    assert!(matches!(SignedCertificate::from_bytes(&long), Err(CertError::Encoding(_))));
    let short = &cert.to_bytes()[..cert.to_bytes().len() - 1];
    assert!(matches!(SignedCertificate::from_bytes(short), Err(CertError::Encoding(_))));
}

#[test]
fn invalid_certificates_cannot_be_issued() {
    let ks = keys(2);
    let vk = *ks[1].verifying_key();
    let empty = Certificate::rsu(&RsuId::new("rsu-1").unwrap(), vk, [], ts(0), ts(1), 1).issue(&ks[0]);
    assert!(matches!(empty, Err(CertError::Intersections(..))));
    let backwards = Certificate::cloud("cloud", vk, ts(5), ts(1), 1).issue(&ks[0]);
    assert!(matches!(backwards, Err(CertError::Validity { .. })));
    let bad_subject = Certificate::cloud("no spaces", vk, ts(0), ts(1), 1).issue(&ks[0]);
    assert!(matches!(bad_subject, Err(CertError::Subject(_))));
}

#[test]
fn the_trust_store_admits_only_root_signed_certificates() {
    let ks = keys(3);
    let (root, rsu, other) = (&ks[0], &ks[1], &ks[2]);
    let mut store = TrustStore::new([*root.verifying_key()]);
    // Issued by a key that is not a root.
    let rogue = rsu_cert(other, rsu);
    assert!(matches!(store.add_certificate(rogue), Err(TrustError::UnknownIssuer(_))));
    // Tampered: change the serial byte after signing.
    let good = rsu_cert(root, rsu);
    let mut bytes = good.to_bytes().to_vec();
    bytes[6] ^= 1;
    assert!(matches!(store.add_certificate_bytes(&bytes), Err(TrustError::Signature(KeyError::BadSignature))));
    assert_eq!(store.version(), 0);
    store.add_certificate_bytes(good.to_bytes()).unwrap();
    assert_eq!(store.version(), 1);
    store.add_certificate(good.clone()).unwrap();
    assert_eq!(store.version(), 1, "re-adding the same certificate is a no-op");
    let c = store.verify_certificate(&rsu.key_id(), ts(500)).unwrap();
    assert_eq!(c.serial, 77);
    assert!(store.verify_certificate(&rsu.key_id(), ts(1_001)).is_err());
    assert!(store.verify_certificate(&other.key_id(), ts(500)).is_err());
}

#[test]
fn the_replay_window_slides() {
    let mut w = ReplayWindow::default();
    assert!(w.would_accept(5));
    w.record(5);
    assert!(!w.would_accept(5));
    assert!(w.would_accept(4) && w.would_accept(6));
    w.record(5 + 63);
    assert!(w.would_accept(6), "63 behind: still inside the window");
    assert!(!w.would_accept(5) && !w.would_accept(4), "64 or more behind: too old");
    w.record(6);
    assert!(!w.would_accept(6));
    w.record(1_000);
    assert!(!w.would_accept(68) && !w.would_accept(1_000) && w.would_accept(999));
    assert_eq!(w.highest(), Some(1_000));
}
