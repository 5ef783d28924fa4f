//! The cloud signs and distributes trust: in-process `CloudService` with a signing identity and
//! a trust bundle; an SDK `Vehicle` holding only the region root fetches the bundle from
//! `corridor/demo/cloud/trust`, verifies the cloud-signed map, accepts the RSU's signed states,
//! and rejects them as `revoked` once the cloud pushes a bundle revoking that RSU.
#![allow(clippy::unwrap_used)]

use cloud_control::{CloudConfig, CloudIdentity, CloudService, PublishRequest};
use corridor_model::{Clock, IntersectionId, SystemClock};
use corridor_sdk::testkit::{self, Pki};
use corridor_sdk::{TrustVerifier, Usability, Vehicle, VehicleConfig};
use corridor_wire::presets;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cloud_signs_its_replies_and_a_pushed_revocation_reaches_a_running_vehicle() {
    let ix = IntersectionId::new("ix-a").unwrap();
    let now = SystemClock.now();
    let mut pki = Pki::new(now.add_secs_f64(-86_400.0), now.add_secs_f64(86_400.0)).unwrap();
    let cloud_cert =
        pki.store.certificates().find(|c| c.certificate().public_key == *pki.cloud.verifying_key()).unwrap().clone();
    let port = presets::free_loopback_port().unwrap();
    let endpoint = presets::loopback_tcp(port);
    let hub = zenoh::open(presets::peer(std::slice::from_ref(&endpoint), &[]).unwrap()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = CloudConfig::new("demo".parse().unwrap(), dir.path().join("cloud"));
    cfg.identity = Some(CloudIdentity::new(pki.cloud.clone(), &cloud_cert).unwrap());
    cfg.trust_bundle = Some(pki.bundle());
    let cloud = CloudService::start(&hub, cfg, Arc::new(SystemClock)).await.unwrap();
    let entry = cloud
        .publish(
            PublishRequest::from_files(
                ix.clone(),
                &common::ws("maps/demo-4arm/demo-4arm.net.xml"),
                Some(&common::ws("maps/demo-4arm/rules.toml")),
                None,
            )
            .unwrap(),
        )
        .unwrap();

    // what the cloud serves is signed by its certified key, with its subject as sender
    let replies = hub.get(format!("corridor/demo/map/ix-a?version={}", entry.map_version.to_hex())).await.unwrap();
    let map = replies.recv_async().await.unwrap().result().unwrap().payload().to_bytes().into_owned();
    let mut guard = pki.verifier().unwrap();
    let verified = guard.guard_mut().check_cloud(SystemClock.now(), &map).unwrap();
    assert_eq!(verified.envelope.header.sender, "cloud");

    // rsu-a publishes signed states naming the published map and rules
    let stop = Arc::new(AtomicBool::new(false));
    let (s2, stop2, key) = (hub.clone(), Arc::clone(&stop), pki.rsu_a.clone());
    let (mv, rv, ix2) = (entry.map_version, entry.rules_version, ix.clone());
    let rsu = tokio::spawn(async move {
        let mut seq = 0;
        while !stop2.load(Ordering::Relaxed) {
            seq += 1;
            let st = testkit::state(&ix2, seq, SystemClock.now(), 5, mv, rv);
            let (k, b) = testkit::encode_state("demo", &st).unwrap();
            let _ = s2.put(k, Pki::sign(&key, b).unwrap()).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });

    // a vehicle that knows only the root
    let (bare, _) = TrustVerifier::from_root(*pki.root.verifying_key(), None).unwrap();
    let vcfg = VehicleConfig::new(
        "demo".parse().unwrap(),
        vec![ix.clone()],
        presets::peer(&[], std::slice::from_ref(&endpoint)).unwrap(),
    )
    .trust(bare);
    let v = Vehicle::connect(vcfg, None).await.unwrap();
    common::wait_for(15.0, "the vehicle to accept verified states", || {
        v.stats().accepted >= 5 && v.usability(&ix) == Usability::Usable
    })
    .await;
    assert_eq!(v.stats().cloud_rejected, 0);

    // revoke rsu-a and push the bundle through the cloud
    let report = cloud.push_trust(pki.revoke(&[1])).unwrap();
    assert!(report.revocation_applied);
    common::wait_for(10.0, "rsu-a's states to be rejected as revoked", || {
        v.stats().dropped.get("revoked").copied().unwrap_or(0) >= 3
    })
    .await;
    let frozen = v.stats().accepted;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(v.stats().accepted, frozen, "nothing from the revoked key is accepted");
    stop.store(true, Ordering::Relaxed);
    let _ = rsu.await;
    v.close().await.unwrap();
    cloud.stop();
    hub.close().await.unwrap();
}

/// With the region root, the cloud stores only event uploads signed by an RSU certified for
/// the event's intersection; forged or unsigned ones are refused and counted, valid ones are
/// stored (and acknowledged) as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_uploads_must_be_signed_by_a_certified_rsu() {
    let ix = IntersectionId::new("ix-a").unwrap();
    let now = SystemClock.now();
    let pki = Pki::new(now.add_secs_f64(-86_400.0), now.add_secs_f64(86_400.0)).unwrap();
    let port = presets::free_loopback_port().unwrap();
    let endpoint = presets::loopback_tcp(port);
    let hub = zenoh::open(presets::peer(std::slice::from_ref(&endpoint), &[]).unwrap()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = CloudConfig::new("demo".parse().unwrap(), dir.path().join("cloud"));
    cfg.root = Some(*pki.root.verifying_key());
    cfg.trust_bundle = Some(pki.bundle());
    let cloud = CloudService::start(&hub, cfg, Arc::new(SystemClock)).await.unwrap();
    let mv = corridor_model::MapVersion([1; 32]);
    let upload = |bytes: Vec<u8>| {
        let hub = hub.clone();
        async move {
            let replies = hub.get("corridor/demo/cloud/events/rsu-a").payload(bytes).await.unwrap();
            replies.recv_async().await.unwrap().result().is_ok()
        }
    };
    let (_, unsigned) = testkit::event("demo", &ix, 1, now, "A0top0_1", mv).unwrap();
    assert!(!upload(unsigned.clone()).await, "unsigned upload refused");
    let mut forged = Pki::sign(&pki.rsu_a, unsigned.clone()).unwrap();
    let at = forged.len() - 80;
    forged[at] ^= 1;
    assert!(!upload(forged).await, "forged upload refused");
    assert!(!upload(Pki::sign(&pki.rsu_b, unsigned.clone()).unwrap()).await, "rsu-b is not certified for ix-a");
    assert_eq!(cloud.uploads_refused(), 3);
    assert_eq!(cloud.store().event_count().unwrap(), 0);
    // valid, even an hour late (outbox after an outage)
    let (_, late) = testkit::event("demo", &ix, 2, now.add_secs_f64(-3600.0), "A0top0_1", mv).unwrap();
    assert!(upload(Pki::sign(&pki.rsu_a, late).unwrap()).await);
    assert!(upload(Pki::sign(&pki.rsu_a, unsigned).unwrap()).await);
    assert_eq!(cloud.store().event_count().unwrap(), 2);
    cloud.stop();
    hub.close().await.unwrap();
}

/// An RSU with `[security] root` takes maps, rules and catalogs only from a cloud the region
/// root certified: against a signing cloud it fetches the trust bundle (and caches it), then the
/// signed catalog, map and rules; against a cloud that does not sign, it refuses everything
/// (`unverified`) and runs without a map from the cloud.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rsu_with_the_root_accepts_only_what_a_certified_cloud_signed() {
    let now = SystemClock.now();
    let pki = Pki::new(now.add_secs_f64(-86_400.0), now.add_secs_f64(86_400.0)).unwrap();
    let keys = tempfile::tempdir().unwrap();
    let rsu_cert =
        pki.store.certificates().find(|c| c.certificate().public_key == *pki.rsu_a.verifying_key()).unwrap().clone();
    let section = roadside::security::SecuritySection {
        key: keys.path().join("rsu-a.key"),
        cert: keys.path().join("rsu-a.cert"),
        root: Some(keys.path().join("root.pub")),
        trust_bundle: None,
    };
    std::fs::write(&section.key, pki.rsu_a.to_pem().unwrap()).unwrap();
    std::fs::write(&section.cert, rsu_cert.to_hex()).unwrap();
    std::fs::write(keys.path().join("root.pub"), pki.root.verifying_key().to_pem().unwrap()).unwrap();
    let cloud_cert =
        pki.store.certificates().find(|c| c.certificate().public_key == *pki.cloud.verifying_key()).unwrap().clone();

    for signed in [true, false] {
        let port = presets::free_loopback_port().unwrap();
        let endpoint = presets::loopback_tcp(port);
        let hub = zenoh::open(presets::peer(std::slice::from_ref(&endpoint), &[]).unwrap()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = CloudConfig::new("demo".parse().unwrap(), dir.path().join("cloud"));
        if signed {
            cfg.identity = Some(CloudIdentity::new(pki.cloud.clone(), &cloud_cert).unwrap());
            cfg.trust_bundle = Some(pki.bundle());
        }
        let cloud = CloudService::start(&hub, cfg, Arc::new(SystemClock)).await.unwrap();
        let entry = cloud
            .publish(
                PublishRequest::from_files(
                    "ix-a".parse().unwrap(),
                    &common::ws("maps/demo-4arm/demo-4arm.net.xml"),
                    Some(&common::ws("maps/demo-4arm/rules.toml")),
                    None,
                )
                .unwrap(),
            )
            .unwrap();
        let cache = dir.path().join("rsu-cache");
        let mut rsu_cfg = common::rsu_config("rsu-a", &endpoint, &cache);
        rsu_cfg.zenoh = roadside::config::ZenohSection::new("peer", vec![], vec![endpoint.clone()]);
        rsu_cfg.security = Some(section.clone());
        let session = zenoh::open(rsu_cfg.zenoh.to_zenoh().unwrap()).await.unwrap();
        let rsu = roadside::RsuService::start(rsu_cfg, &session, Arc::new(SystemClock)).await.unwrap();
        if signed {
            common::wait_for(10.0, "the RSU to run the signed map from the cloud", || {
                let s = rsu.stats();
                s.map_source == "cloud" && s.map_version == entry.map_version.to_hex()
            })
            .await;
            let s = rsu.stats();
            assert_eq!(s.cloud.get("unverified").copied(), Some(0), "{:?}", s.cloud);
            assert!(s.cloud.get("trust_updates").copied().unwrap_or(0) >= 1, "{:?}", s.cloud);
            assert!(cache.join("trust.bundle").is_file(), "the trust bundle is cached on disk");
        } else {
            common::wait_for(10.0, "the RSU to refuse the unsigned catalog", || {
                rsu.stats().cloud.get("unverified").copied().unwrap_or(0) >= 2
            })
            .await;
            let s = rsu.stats();
            assert_ne!(s.map_source, "cloud", "an unsigned map was taken");
            assert_ne!(s.map_version, entry.map_version.to_hex());
        }
        rsu.stop();
        session.close().await.unwrap();
        cloud.stop();
        hub.close().await.unwrap();
    }
}
