//! `cloud-control keys gen-root | certify | revoke | show` end to end, running the binary, and
//! the files it writes read back with `corridor-security` (as an RSU or vehicle would).

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use corridor_security::{SignedCertificate, SignedRevocationList, SigningKey, TrustStore, VerifyingKey};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cloud-control"))
}

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn run(args: &[&str], dir: &Path) -> std::process::Output {
    bin().current_dir(dir).args(args).output().unwrap()
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn gen_root_certify_revoke_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let root = json(&run(&["keys", "gen-root", "--out", "root"], d));
    let root_pub = VerifyingKey::from_pem(&std::fs::read_to_string(d.join("root/root.pub")).unwrap()).unwrap();
    assert_eq!(root["root_key_id"], root_pub.key_id().to_hex());
    SigningKey::from_pem(&std::fs::read_to_string(d.join("root/root.key")).unwrap()).unwrap();
    #[cfg(unix)]
    assert_eq!(mode(&d.join("root/root.key")), 0o600);
    // never overwrite a root
    let again = run(&["keys", "gen-root", "--out", "root"], d);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("refusing to overwrite"));

    let rsu = json(&run(
        &[
            "keys",
            "certify",
            "--root",
            "root",
            "--role",
            "rsu",
            "--id",
            "rsu-a",
            "--intersections",
            "ix-b,ix-a",
            "--valid-days",
            "365",
            "--out",
            "rsu-a",
        ],
        d,
    ));
    assert_eq!(rsu["role"], "rsu");
    assert_eq!(rsu["serial"], 1);
    assert_eq!(rsu["intersections"], serde_json::json!(["ix-a", "ix-b"]));
    #[cfg(unix)]
    assert_eq!(mode(&d.join("rsu-a/rsu-a.key")), 0o600);
    let key = SigningKey::from_pem(&std::fs::read_to_string(d.join("rsu-a/rsu-a.key")).unwrap()).unwrap();
    assert_eq!(rsu["key_id"], key.key_id().to_hex());
    let cert = SignedCertificate::from_hex(&std::fs::read_to_string(d.join("rsu-a/rsu-a.cert")).unwrap()).unwrap();
    assert_eq!(cert.certificate().public_key, *key.verifying_key());
    cert.verify_signature(&root_pub).unwrap();
    let days = (cert.certificate().not_after.unix_ns - cert.certificate().not_before.unix_ns) / 86_400_000_000_000;
    assert_eq!(days, 365);
    // the out dir carries the anchor too
    assert_eq!(std::fs::read(d.join("rsu-a/root.pub")).unwrap(), std::fs::read(d.join("root/root.pub")).unwrap());

    let cloud =
        json(&run(&["keys", "certify", "--root", "root", "--role", "cloud", "--id", "cloud", "--out", "cloud"], d));
    assert_eq!(cloud["role"], "cloud");
    assert_eq!(cloud["serial"], 2, "serials are never reused");
    // a cloud certificate takes no intersections; an RSU one needs some
    assert!(!run(
        &[
            "keys",
            "certify",
            "--root",
            "root",
            "--role",
            "cloud",
            "--id",
            "c2",
            "--intersections",
            "ix-a",
            "--out",
            "x"
        ],
        d
    )
    .status
    .success());
    let no_ix = run(&["keys", "certify", "--root", "root", "--role", "rsu", "--id", "rsu-z", "--out", "x"], d);
    assert!(!no_ix.status.success());
    assert!(String::from_utf8_lossy(&no_ix.stderr).contains("--intersections"));

    // the trust store admits both
    let mut store = TrustStore::new([root_pub]);
    store.add_certificate(cert.clone()).unwrap();
    store
        .add_certificate_bytes(
            &hex::decode(std::fs::read_to_string(d.join("cloud/cloud.cert")).unwrap().trim()).unwrap(),
        )
        .unwrap();
    let now = cert.certificate().not_before.add_secs_f64(1.0);
    store.verify_certificate(&key.key_id(), now).unwrap();

    // revoke the RSU's key: the list is root-signed, seq 1, and the store applies it
    let rev = json(&run(&["keys", "revoke", "--root", "root", "--key-id", &key.key_id().to_hex()], d));
    assert_eq!(rev["seq"], 1);
    assert_eq!(rev["key_ids"], serde_json::json!([key.key_id().to_hex()]));
    let crl_hex = std::fs::read_to_string(d.join("root/revocations.crl")).unwrap();
    let crl = SignedRevocationList::from_bytes(&hex::decode(crl_hex.trim()).unwrap()).unwrap();
    store.apply_revocation(crl).unwrap();
    assert!(store.verify_certificate(&key.key_id(), now).is_err(), "revoked key still accepted");
    // cumulative: a second revocation keeps the first
    let rev2 = json(&run(&["keys", "revoke", "--root", "root", "--serial", "2"], d));
    assert_eq!(rev2["seq"], 2);
    assert_eq!(rev2["key_ids"], serde_json::json!([key.key_id().to_hex()]));
    assert_eq!(rev2["serials"], serde_json::json!([2]));

    // the bundle carries both certificates and the newest list into a store that only has the anchor
    let b = json(&run(&["keys", "bundle", "--root", "root", "--out", "trust.bundle"], d));
    assert_eq!(b["certificates"], 2);
    assert_eq!(b["revocation_seq"], 2);
    let mut cached = TrustStore::new([root_pub]);
    let report =
        corridor_security::import_bundle(&mut cached, &std::fs::read(d.join("trust.bundle")).unwrap()).unwrap();
    assert_eq!(report.certificates, 2);
    assert!(report.revocation_applied);
    assert!(cached.verify_certificate(&key.key_id(), now).is_err(), "the bundle's list revokes rsu-a");

    // show verifies against the root
    let shown = json(&run(&["keys", "show", "rsu-a/rsu-a.cert", "--root-pub", "root/root.pub"], d));
    assert_eq!(shown["signature_ok"], true);
    assert_eq!(shown["subject"], "rsu-a");
    let other = json(&run(&["keys", "gen-root", "--out", "other"], d));
    assert_ne!(other["root_key_id"], root["root_key_id"]);
    let bad = run(&["keys", "show", "rsu-a/rsu-a.cert", "--root-pub", "other/root.pub"], d);
    assert_eq!(bad.status.code(), Some(1));
}

#[test]
fn certify_an_existing_public_key_and_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    json(&run(&["keys", "gen-root", "--out", "root"], d));
    // the RSU keeps its secret: only its public key is carried to the root
    let rsu_key = SigningKey::generate(&mut rand_core::OsRng);
    std::fs::write(d.join("rsu.pub"), rsu_key.verifying_key().to_pem().unwrap()).unwrap();
    let v = json(&run(
        &[
            "keys",
            "certify",
            "--root",
            "root",
            "--role",
            "rsu",
            "--id",
            "rsu-b",
            "--intersections",
            "ix-b",
            "--public-key",
            "rsu.pub",
            "--out",
            "out",
        ],
        d,
    ));
    assert_eq!(v["key_id"], rsu_key.key_id().to_hex());
    assert!(!d.join("out/rsu-b.key").exists(), "no secret written when certifying a given key");
    let bad = run(&["keys", "revoke", "--root", "root", "--key-id", "zz"], d);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("16 hex digits"));
    let missing = run(&["keys", "certify", "--root", "nowhere", "--role", "cloud", "--id", "c", "--out", "o"], d);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nowhere/root.key"));
}
