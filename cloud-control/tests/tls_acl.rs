//! Transport hardening over real zenoh on loopback: a router with mutual TLS and the
//! access-control list of `corridor_wire::presets::access_control`, and clients holding
//! certificates from `cloud_control::pki` (the code behind `cloud-control tls`). Checks that an
//! RSU's state reaches a vehicle, a vehicle's put on the same key is dropped at the router, only
//! the cloud's queryable answers map queries, the cloud (not an RSU) may publish the catalog,
//! and that a client without a certificate, with a certificate of another CA, or over plain
//! TCP cannot connect at all. Also runs `cloud-control tls` and `router --tls` as an operator would.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cloud_control::pki;
use corridor_wire::presets::{self, AclIdentities, TlsFiles};
use zenoh::Wait;

mod common;

const STATE: &str = "corridor/demo/ix/ix-a/state";
const STATE_B: &str = "corridor/demo/ix/ix-b/state";
const MAP: &str = "corridor/demo/map/ix-a";
const CATALOG: &str = "corridor/demo/catalog";

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

/// A CA and identities router-1 (reachable as localhost), rsu-a, cloud, veh-1, veh-2.
struct Pki {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    ca: pki::PemPair,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca = pki::generate_ca("test-ca", now(), 10).unwrap();
        let root = dir.path().to_owned();
        Pki { _dir: dir, root, ca }
    }

    fn identity(&self, cn: &str) -> TlsFiles {
        let sans: Vec<String> = if cn.starts_with("router") { vec!["localhost".into()] } else { vec![] };
        let node = pki::issue(&self.ca, cn, &sans, now(), 10).unwrap();
        pki::write_identity(&self.root.join(cn), cn, &node, &self.ca.cert).unwrap()
    }
}

async fn router(pki: &Pki, port: u16) -> zenoh::Session {
    let ids =
        AclIdentities { rsus: vec!["rsu-a".into()], clouds: vec!["cloud".into()], routers: vec![], admins: vec![] };
    router_with(pki, port, &ids).await
}

/// The TLS router (identity router-1) on `port` with the ACL for `ids`.
async fn router_with(pki: &Pki, port: u16, ids: &AclIdentities) -> zenoh::Session {
    let config = presets::router(&[presets::loopback_tls(port)], &[]).unwrap();
    let config = presets::secure(config, &pki.identity("router-1")).unwrap();
    let config = presets::access_control(config, ids).unwrap();
    zenoh::open(config).await.unwrap()
}

async fn client(files: &TlsFiles, port: u16) -> zenoh::Result<zenoh::Session> {
    let config = presets::secure(presets::client(&[presets::loopback_tls(port)]).unwrap(), files).unwrap();
    zenoh::open(config).await
}

type Got = Arc<Mutex<Vec<String>>>;

async fn recorder(session: &zenoh::Session, key: &str) -> (zenoh::pubsub::Subscriber<()>, Got) {
    let got: Got = Arc::default();
    let g = got.clone();
    let sub = session
        .declare_subscriber(key)
        .callback(move |s| g.lock().unwrap().push(String::from_utf8_lossy(&s.payload().to_bytes()).into_owned()))
        .await
        .unwrap();
    (sub, got)
}

/// Waits (up to 5 s) until `got` holds `want`.
async fn arrives(got: &Got, want: &str) -> bool {
    for _ in 0..100 {
        if got.lock().unwrap().iter().any(|s| s == want) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

async fn replies(session: &zenoh::Session, selector: &str) -> Vec<String> {
    let rx = session.get(selector).timeout(Duration::from_secs(2)).await.unwrap();
    let mut out = vec![];
    while let Ok(reply) = rx.recv_async().await {
        if let Ok(sample) = reply.result() {
            out.push(String::from_utf8_lossy(&sample.payload().to_bytes()).into_owned());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_rsus_publish_state_only_the_cloud_serves_and_vehicles_read() {
    let pki = Pki::new();
    let port = presets::free_loopback_port().unwrap();
    let _router = router(&pki, port).await;
    let rsu = client(&pki.identity("rsu-a"), port).await.unwrap();
    let cloud = client(&pki.identity("cloud"), port).await.unwrap();
    let veh = client(&pki.identity("veh-1"), port).await.unwrap();
    let rogue = client(&pki.identity("veh-2"), port).await.unwrap();

    // a vehicle subscribes to the state key and the catalog
    let (_s1, states) = recorder(&veh, STATE).await;
    let (_s2, catalogs) = recorder(&veh, CATALOG).await;
    // the cloud serves the map; a rogue vehicle tries to serve it too
    let _q1 = cloud.declare_queryable(MAP).callback(|q| q.reply(MAP, "map-from-cloud").wait().unwrap()).await.unwrap();
    let _q2 = rogue.declare_queryable(MAP).callback(|q| q.reply(MAP, "map-from-rogue").wait().unwrap()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;

    // the rogue vehicle's puts come first, then the RSU's and the cloud's
    rogue.put(STATE, "forged-by-vehicle").await.unwrap();
    rsu.put(CATALOG, "catalog-by-rsu").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    rsu.put(STATE, "state-from-rsu").await.unwrap();
    cloud.put(CATALOG, "catalog-from-cloud").await.unwrap();
    assert!(arrives(&states, "state-from-rsu").await, "the RSU's state reached the vehicle");
    assert!(arrives(&catalogs, "catalog-from-cloud").await, "the cloud's catalog reached the vehicle");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(*states.lock().unwrap(), vec!["state-from-rsu".to_owned()], "the vehicle's put was denied");
    assert_eq!(*catalogs.lock().unwrap(), vec!["catalog-from-cloud".to_owned()], "the RSU's catalog put was denied");

    // vehicles and RSUs may query; only the cloud's queryable answers
    assert_eq!(replies(&veh, MAP).await, vec!["map-from-cloud".to_owned()]);
    assert_eq!(replies(&rsu, MAP).await, vec!["map-from-cloud".to_owned()]);
}

/// Per-intersection scoping (`--rsu rsu-b=ix-b`): rsu-b may put on ix-b's state and events and
/// on its own RSU keys, not on ix-a's state or events nor on rsu-a's keys; rsu-a, given without
/// scoping (`--rsu rsu-a`), may still put on any intersection's state, as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scoped_rsu_identity_publishes_only_for_its_own_intersections() {
    let pki = Pki::new();
    let port = presets::free_loopback_port().unwrap();
    let ids = AclIdentities {
        rsus: vec!["rsu-a".into(), "rsu-b=ix-b".parse().unwrap()],
        clouds: vec!["cloud".into()],
        ..AclIdentities::default()
    };
    let _router = router_with(&pki, port, &ids).await;
    let rsu_a = client(&pki.identity("rsu-a"), port).await.unwrap();
    let rsu_b = client(&pki.identity("rsu-b"), port).await.unwrap();
    let veh = client(&pki.identity("veh-1"), port).await.unwrap();
    let (_s1, states) = recorder(&veh, "corridor/demo/ix/*/state").await;
    let (_s2, events) = recorder(&veh, "corridor/demo/ix/*/events").await;
    let (_s3, rsu_keys) = recorder(&veh, "corridor/demo/rsu/**").await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    // rsu-b, one session (one link to the router, so its puts stay in this order): the denied
    // puts go first, each followed by an allowed one on the same subscriber's keys
    rsu_b.put(STATE, "ix-a-state-by-rsu-b").await.unwrap();
    rsu_b.put("corridor/demo/ix/ix-a/events", "ix-a-event-by-rsu-b").await.unwrap();
    rsu_b.put("corridor/demo/rsu/rsu-a/stats", "rsu-a-stats-by-rsu-b").await.unwrap();
    rsu_b.put(STATE_B, "ix-b-state-by-rsu-b").await.unwrap();
    rsu_b.put("corridor/demo/ix/ix-b/events", "ix-b-event-by-rsu-b").await.unwrap();
    rsu_b.put("corridor/demo/rsu/rsu-b/stats", "rsu-b-stats-by-rsu-b").await.unwrap();
    // rsu-a, unscoped: both intersections
    rsu_a.put(STATE, "ix-a-state-by-rsu-a").await.unwrap();
    rsu_a.put(STATE_B, "ix-b-state-by-rsu-a").await.unwrap();

    for (got, want) in [
        (&states, "ix-b-state-by-rsu-b"),
        (&events, "ix-b-event-by-rsu-b"),
        (&rsu_keys, "rsu-b-stats-by-rsu-b"),
        (&states, "ix-a-state-by-rsu-a"),
        (&states, "ix-b-state-by-rsu-a"),
    ] {
        assert!(arrives(got, want).await, "{want} did not reach the vehicle");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut got_states = states.lock().unwrap().clone();
    got_states.sort();
    assert_eq!(
        got_states,
        vec!["ix-a-state-by-rsu-a", "ix-b-state-by-rsu-a", "ix-b-state-by-rsu-b"],
        "rsu-b's put on ix-a's state key was denied"
    );
    assert_eq!(*events.lock().unwrap(), vec!["ix-b-event-by-rsu-b"], "rsu-b's ix-a event was denied");
    assert_eq!(*rsu_keys.lock().unwrap(), vec!["rsu-b-stats-by-rsu-b"], "rsu-b's put on rsu-a's keys was denied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_a_valid_certificate_cannot_connect() {
    let pki = Pki::new();
    let port = presets::free_loopback_port().unwrap();
    let _router = router(&pki, port).await;
    let veh = pki.identity("veh-1");
    // the certified vehicle connects
    client(&veh, port).await.unwrap().close().await.unwrap();

    // no client certificate: trusts the router's CA but presents nothing
    let mut config = presets::client(&[presets::loopback_tls(port)]).unwrap();
    config
        .insert_json5("transport/link/tls/root_ca_certificate", &format!("{:?}", veh.ca.display().to_string()))
        .unwrap();
    assert!(zenoh::open(config).await.is_err(), "a client without a certificate was admitted");

    // a certificate from another CA
    let other = Pki::new();
    let mut stranger = other.identity("veh-1");
    stranger.ca = veh.ca.clone(); // it trusts the real router, but its own certificate is foreign
    assert!(client(&stranger, port).await.is_err(), "a certificate of another CA was admitted");

    // plain TCP to the TLS port
    let plain = presets::client(&[presets::loopback_tcp(port)]).unwrap();
    assert!(zenoh::open(plain).await.is_err(), "a plain TCP client was admitted");

    // the secure preset refuses non-TLS endpoints up front
    let e = presets::secure(presets::client(&[presets::loopback_tcp(port)]).unwrap(), &veh).unwrap_err();
    assert_eq!(e.key, "connect/endpoints");
}

/// A `cloud-control serve` process (identity `cloud` from `tls_dir`) stopped when dropped.
struct Serve(std::process::Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `cloud-control serve` as a client of the TLS router at `endpoint`, as an operator runs
/// it, and waits for its "serving" line.
async fn serve_over_tls(endpoint: &str, tls_dir: &Path, data: &Path) -> Serve {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cloud-control"))
        .args(["serve", "--region", "demo", "--mode", "client", "--connect", endpoint])
        .args(["--data-dir", &data.display().to_string()])
        .args(["--tls", &tls_dir.display().to_string(), "--cn", "cloud"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let serve = Serve(child);
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).map(|_| line)
    })
    .await
    .unwrap()
    .unwrap();
    assert!(line.starts_with("cloud-control serving region demo"), "{line}");
    serve
}

fn run(args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cloud-control")).args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_operator_commands_make_a_ca_certificates_and_a_router_config() {
    let dir = tempfile::tempdir().unwrap();
    let d = |p: &str| dir.path().join(p).display().to_string();
    let out = run(&["tls", "init-ca", "--out", &d("ca")]);
    assert!(out.contains("\"ca\":\"corridor-transport-ca\""), "{out}");
    run(&["tls", "issue", "--ca", &d("ca"), "--cn", "router-1", "--san", "localhost", "--out", &d("router-1")]);
    let out = run(&["tls", "issue", "--ca", &d("ca"), "--cn", "rsu-a", "--out", &d("rsu-a")]);
    assert!(out.contains("\"cn\":\"rsu-a\""), "{out}");
    for f in ["router-1/router-1.pem", "router-1/router-1.key", "router-1/ca.pem", "rsu-a/rsu-a.key"] {
        assert!(Path::new(&d(f)).is_file(), "{f}");
    }
    let config = run(&[
        "router",
        "--listen",
        "tls/localhost:7447",
        "--tls",
        &d("router-1"),
        "--cn",
        "router-1",
        "--rsu",
        "rsu-a",
        "--rsu",
        "rsu-b=ix-b,ix-c",
        "--cloud",
        "cloud",
        "--print-config",
    ]);
    let v: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(v["transport"]["link"]["tls"]["enable_mtls"], true);
    assert_eq!(v["access_control"]["enabled"], true);
    assert_eq!(v["access_control"]["default_permission"], "deny");
    let subjects = v["access_control"]["subjects"].to_string();
    assert!(subjects.contains("rsu-a") && subjects.contains("cloud"), "{subjects}");
    // the scoped RSU has its own subject and put rule, naming its intersections only
    let subject =
        |id: &str| v["access_control"]["subjects"].as_array().unwrap().iter().find(|s| s["id"] == id).cloned().unwrap();
    assert_eq!(subject("rsu")["cert_common_names"], serde_json::json!(["rsu-a"]));
    assert_eq!(subject("rsu:rsu-b")["cert_common_names"], serde_json::json!(["rsu-b"]));
    let put = v["access_control"]["rules"].as_array().unwrap().iter().find(|r| r["id"] == "rsu_put:rsu-b").unwrap();
    let keys = put["key_exprs"].to_string();
    assert!(keys.contains("corridor/*/ix/ix-b/state") && keys.contains("corridor/*/ix/ix-c/events"), "{keys}");
    assert!(!keys.contains("ix-a") && keys.contains("corridor/*/rsu/rsu-b/**"), "{keys}");
    // bad scoping is refused, naming the value
    for (bad, want) in [
        ("rsu-b=ix b", "rsu identity `rsu-b=ix b`: intersection id `ix b` has the character ' '"),
        ("rsu-b=", "rsu identity `rsu-b=`: no intersection after `=`"),
        ("=ix-b", "rsu identity `=ix-b`: the certificate common name is empty"),
        ("rsu-a=ix-a", "rsu identity `rsu-a` is given more than once (`rsu-a` and `rsu-a=ix-a`)"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_cloud-control"))
            .args(["router", "--listen", "tls/localhost:7447", "--tls", &d("router-1"), "--cn", "router-1"])
            .args(["--rsu", "rsu-a", "--rsu", bad, "--print-config"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "--rsu {bad:?} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "--rsu {bad:?}: {err}");
    }
    // a second init-ca in the same directory is refused (the CA key is never overwritten)
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cloud-control"))
        .args(["tls", "init-ca", "--out", &d("ca")])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to overwrite"));
}

/// The services themselves over mutual TLS behind the ACL: an `RsuService` whose session comes
/// from its config's `[zenoh.tls]`, fed by a sensor on its host (the RSU's identity), reaches a
/// certified vehicle; `cloud-control serve --tls DIR --cn cloud` connects and answers the
/// vehicle's catalog query.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rsu_service_and_the_cloud_server_run_over_mutual_tls_behind_the_acl() {
    use corridor_model::{Clock, IntersectionState, SystemClock};
    use corridor_wire::{decode, Limits};
    use roadside::config::{RsuConfig, ZenohSection, DEFAULT_CONFIG};

    let pki = Pki::new();
    let port = presets::free_loopback_port().unwrap();
    let _router = router(&pki, port).await;
    let mut cfg = RsuConfig::parse(DEFAULT_CONFIG, "default").unwrap();
    cfg.zenoh = ZenohSection {
        tls: Some(pki.identity("rsu-a")),
        ..ZenohSection::new("client", vec![], vec![presets::loopback_tls(port)])
    };
    let rsu_session = zenoh::open(cfg.zenoh.to_zenoh().unwrap()).await.unwrap();
    let rsu = roadside::RsuService::start(cfg, &rsu_session, Arc::new(SystemClock)).await.unwrap();

    let veh = client(&pki.identity("veh-1"), port).await.unwrap();
    let got: Arc<Mutex<Vec<IntersectionState>>> = Arc::default();
    let g = got.clone();
    let _sub = veh
        .declare_subscriber(STATE)
        .callback(move |s| {
            if let Ok((_, state)) = decode::<IntersectionState>(&s.payload().to_bytes(), Limits::default()) {
                g.lock().unwrap().push(state);
            }
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // a lidar on the RSU's host publishes with the RSU's identity (the ACL lets only RSUs put
    // under corridor/*/rsu/**)
    let det = corridor_wire::Key::Detections {
        region: "demo".parse().unwrap(),
        rsu: "rsu-a".parse().unwrap(),
        sensor: "lidar-ne".parse().unwrap(),
    }
    .to_string();
    for i in 1..=30u64 {
        #[allow(clippy::disallowed_methods, reason = "a live sensor stamps its frames with the wall clock")]
        let t = SystemClock.now();
        rsu_session.put(&det, common::lidar_frame(i, t)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        if got.lock().unwrap().iter().any(|s| !s.objects.is_empty()) {
            break;
        }
    }
    {
        let states = got.lock().unwrap();
        assert!(!states.is_empty(), "no state from the TLS RSU reached the vehicle");
        assert!(states.iter().all(|s| s.rsu.as_str() == "rsu-a"));
        assert!(states.iter().any(|s| !s.objects.is_empty()), "the RSU fused the lidar's car");
    }
    rsu.stop();

    // the cloud server over TLS, as an operator runs it
    pki.identity("cloud");
    let data = tempfile::tempdir().unwrap();
    let _serve = serve_over_tls(&presets::loopback_tls(port), &pki.root.join("cloud"), data.path()).await;
    let mut answered = false;
    for _ in 0..20 {
        let rx = veh.get(CATALOG).timeout(Duration::from_secs(1)).await.unwrap();
        while let Ok(reply) = rx.recv_async().await {
            answered |= reply.result().is_ok();
        }
        if answered {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(answered, "the TLS cloud answered the vehicle's catalog query");
}

/// The admin commands over mutual TLS through the ACL router: `status` and `publish` with an
/// `--admin` identity reach a TLS `cloud-control serve`; without a certificate, with a
/// vehicle's certificate (not an admin: the router drops its admin query), or over plain TCP
/// they fail with a clear error and a non-zero exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_run_over_mutual_tls_only_for_admin_identities() {
    let pki = Pki::new();
    let port = presets::free_loopback_port().unwrap();
    let config = presets::router(&[presets::loopback_tls(port)], &[]).unwrap();
    let config = presets::secure(config, &pki.identity("router-1")).unwrap();
    let ids = AclIdentities {
        rsus: vec!["rsu-a".into()],
        clouds: vec!["cloud".into()],
        routers: vec![],
        admins: vec!["ops-1".into()],
    };
    let _router = zenoh::open(presets::access_control(config, &ids).unwrap()).await.unwrap();
    pki.identity("cloud");
    pki.identity("ops-1");
    pki.identity("veh-1");
    let dir = |cn: &str| pki.root.join(cn).display().to_string();
    let ep = presets::loopback_tls(port);
    let data = tempfile::tempdir().unwrap();
    let _serve = serve_over_tls(&ep, &pki.root.join("cloud"), data.path()).await;

    let cli = |args: &[&str]| {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        async move {
            tokio::task::spawn_blocking(move || {
                std::process::Command::new(env!("CARGO_BIN_EXE_cloud-control")).args(&args).output().unwrap()
            })
            .await
            .unwrap()
        }
    };
    let maps = Path::new(env!("CARGO_MANIFEST_DIR")).join("../maps/demo-4arm");
    let (map, rules) = (maps.join("demo-4arm.net.xml"), maps.join("rules.toml"));
    let (map, rules) = (map.display().to_string(), rules.display().to_string());
    let (ops, veh) = (dir("ops-1"), dir("veh-1"));

    // the admin identity: status, then publish
    let out = cli(&["status", "--json", "--connect", &ep, "--tls", &ops, "--cn", "ops-1", "--timeout-s", "10"]).await;
    assert!(out.status.success(), "status over TLS: {}", String::from_utf8_lossy(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(rows.is_array(), "{rows}");
    let publish = |tls: &str, cn: &str, rules: Option<&str>| {
        let mut a =
            vec!["publish", "--intersection", "ix-a", "--map", &map, "--connect", &ep, "--tls", tls, "--cn", cn];
        if let Some(r) = rules {
            a.extend(["--rules", r]);
        }
        a.extend(["--timeout-s", if cn == "ops-1" { "10" } else { "3" }]);
        cli(&a)
    };
    let out = publish(&ops, "ops-1", Some(&rules)).await;
    assert!(out.status.success(), "publish over TLS: {}", String::from_utf8_lossy(&out.stderr));
    let entry: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(entry["intersection"], "ix-a");
    assert_eq!(entry["map_version"].as_str().unwrap().len(), 64, "{entry}");

    // no certificate: refused before connecting, the fix named
    let out = cli(&["status", "--connect", &ep]).await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs --tls DIR --cn NAME"), "{err}");
    // plain TCP to the TLS port: no session
    let out = cli(&["status", "--connect", &presets::loopback_tcp(port), "--timeout-s", "3"]).await;
    assert!(!out.status.success(), "plain TCP to the TLS router succeeded");
    // a vehicle's certificate: connected, but the router drops its admin query
    let out = publish(&veh, "veh-1", None).await;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no cloud-control serve answered") && err.contains("--admin"), "{err}");
}
