//! `cloud-control publish / rollback / status` against a running `serve` (separate processes):
//! invalid uploads are refused with the validator's diagnostics and change nothing; a
//! rollback changes the catalog; `status` shows an RSU alive, lost within 2 s, and back;
//! the Prometheus endpoint answers.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::disallowed_methods, reason = "the tests measure how fast the cloud sees an RSU go")]

mod common;

use common::*;
use corridor_model::SystemClock;
use corridor_wire::control::Catalog;
use corridor_wire::{decode, presets, Key, Limits};
use roadside::RsuService;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn catalog(session: &zenoh::Session) -> Catalog {
    let replies = session
        .get(Key::Catalog { region: "demo".parse().unwrap() }.to_string())
        .timeout(Duration::from_secs(5))
        .await
        .unwrap();
    let r = replies.recv_async().await.unwrap();
    decode::<Catalog>(&r.result().unwrap().payload().to_bytes(), Limits::default()).unwrap().1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_uploads_change_nothing_rollback_and_status_follow_rsus() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = presets::loopback_tcp(presets::free_loopback_port().unwrap());
    let metrics_port = presets::free_loopback_port().unwrap();
    let _router = router(&endpoint);
    let _cloud = serve(&endpoint, &dir.path().join("cloud-data"), metrics_port);
    let (v1_map, v1_rules) = publish(&endpoint, dir.path(), 50);
    let (_, v2_rules) = publish(&endpoint, dir.path(), 60);
    let test = client(&endpoint).await;
    let c = catalog(&test).await;
    assert_eq!(c.revision, 2);
    assert_eq!(c.entries[0].rules_version, Some(v2_rules));

    // invalid rules: refused with file:line:col, nothing stored
    let bad_rules =
        demo_rules_with(dir.path(), "bad.toml", "scope.intersection = true", "scope.lanes = [\"no-such-lane\"]");
    let map = ws("maps/demo-4arm/demo-4arm.net.xml");
    let (code, _, err) = publish_cli(&map, &bad_rules, &["--connect", &endpoint]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("bad.toml:"), "diagnostics name file:line:col: {err}");
    assert!(err.contains("nothing was published"), "{err}");
    // an invalid map: refused too
    let bad_map = dir.path().join("broken.net.xml");
    std::fs::write(&bad_map, "<net><edge id=\"e\"><lane id=\"l\" shape=\"zz\"/></edge>").unwrap();
    let (code, _, err) =
        cli(&["publish", "--intersection", "ix-a", "--map", bad_map.to_str().unwrap(), "--connect", &endpoint]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("map is invalid") && err.contains("broken.net.xml"), "{err}");
    // the server validates too: a raw admin request with bad rules is refused the same way
    let mut req =
        cloud_control::PublishRequest::from_files("ix-a".parse().unwrap(), &map, Some(&bad_rules), None).unwrap();
    req.rules_file_name = Some("raw.toml".into());
    let replies = test
        .get(Key::Admin { region: "demo".parse().unwrap() }.to_string())
        .payload(serde_json::to_vec(&cloud_control::AdminRequest::Publish(req)).unwrap())
        .timeout(Duration::from_secs(10))
        .await
        .unwrap();
    let r = replies.recv_async().await.unwrap();
    let e = String::from_utf8_lossy(&r.result().unwrap_err().payload().to_bytes()).into_owned();
    assert!(e.contains("raw.toml:"), "{e}");
    let c = catalog(&test).await;
    assert_eq!((c.revision, c.entries[0].rules_version), (2, Some(v2_rules)), "current version untouched");

    // rollback to v1's rules by a prefix of its hash
    let (code, out, err) =
        cli(&["rollback", "--intersection", "ix-a", "--to", &v1_rules.to_hex()[..12], "--connect", &endpoint]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(entry_versions(&out), (v1_map, v1_rules));
    let c = catalog(&test).await;
    assert_eq!((c.revision, c.entries[0].rules_version), (3, Some(v1_rules)));
    let (code, _, err) = cli(&["rollback", "--intersection", "ix-a", "--to", "ffffffffffff", "--connect", &endpoint]);
    assert_eq!(code, 1);
    assert!(err.contains("no version starting with"), "{err}");

    // status: an RSU appears, disappears (seen within 2 s), comes back
    let cfg = rsu_config("rsu-c", &endpoint, &dir.path().join("cache"));
    let s1 = client(&endpoint).await;
    let rsu = RsuService::start(cfg.clone(), &s1, Arc::new(SystemClock)).await.unwrap();
    wait_for(10.0, "rsu-c alive in status", || alive(&endpoint, "rsu-c") == Some((true, 1))).await;
    // the table fills in from the RSU's stats (every 200 ms here)
    wait_for(10.0, "the status table shows rsu-c's map version and input rate", || {
        let (_, table, _) = cli(&["status", "--connect", &endpoint]);
        table.lines().any(|l| {
            l.starts_with("rsu-c") && l.contains("yes") && l.contains(&v1_map.to_hex()[..12]) && l.contains("ix-a")
        })
    })
    .await;
    rsu.stop();
    s1.close().await.unwrap();
    let lost = Instant::now();
    wait_for(5.0, "rsu-c lost", || alive(&endpoint, "rsu-c") == Some((false, 1))).await;
    assert!(lost.elapsed() < Duration::from_secs(2) + Duration::from_millis(1500), "seen lost in {:?}", lost.elapsed());
    let s2 = client(&endpoint).await;
    let _rsu = RsuService::start(cfg, &s2, Arc::new(SystemClock)).await.unwrap();
    wait_for(10.0, "rsu-c back", || alive(&endpoint, "rsu-c") == Some((true, 2))).await;

    // Prometheus text on the metrics port
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", metrics_port)).unwrap();
    conn.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut body = String::new();
    conn.read_to_string(&mut body).unwrap();
    assert!(body.contains("corridor_cloud_publish_total"), "{body}");
    assert!(body.contains("corridor_cloud_rsu_alive{rsu=\"rsu-c\"} 1"), "{body}");
    assert!(body.contains("corridor_cloud_catalog_revision 3"), "{body}");
}
