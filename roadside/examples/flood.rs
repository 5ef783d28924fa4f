//! Flood harness: how much does a flood of forged signed states on an intersection's state key
//! delay the valid ones? Two signing RSUs (certificates from a fresh root; rsu-a for ix-a, rsu-b
//! for ix-b) publish states; a `corridor_sdk::Vehicle` follows both intersections and checks every
//! state with `corridor_security::StateGuard` as its `SampleVerifier` (so the measured path is
//! the SDK's: zenoh callback -> per-sender intake queue -> intake thread -> guard -> application
//! callback). The run is done without a flood and then with a flood thread putting forgeries
//! on ix-a's key, in one process, back to back. For each intersection it prints p50/p99 of
//! (application callback) - (RSU publish time) of the accepted states and the p99 ratio to the
//! no-flood run, plus the counts (accepted, the guard's rejections and ECDSA verifications, and
//! the intake's `queue_full` drops). Flood kinds:
//!
//! - `copy`: tampered copies of a genuine rsu-a state (one payload byte flipped, the genuine
//!   signature kept): what anyone who can publish on the key can do without a key. The guard's
//!   pre-checks refuse these as `replay` (their seq is consumed) before any EC math.
//! - `fresh`: new states signed by an attacker key under rsu-a's key id, with fresh sequence
//!   numbers: each costs one ECDSA verification (`bad_signature`); this is also what every
//!   `copy` forgery cost before the pre-checks. They share rsu-a's intake queue; rsu-b's is its own.
//!
//! `cargo run --release -p roadside --example flood -- [SECONDS] [PAUSE_US] [copy|fresh|both] [--acl|--acl-unscoped]`
//! (default 5 s per run; PAUSE_US 0: as fast as zenoh takes them; both). The flood runs on the
//! same machine, so an unthrottled one also measures CPU contention.
//!
//! Networks:
//! - default (open): every node is a zenoh peer of one hub peer on loopback TCP, no TLS, no
//!   access control; the flooder publishes from the hub.
//! - `--acl`: a TLS router with `corridor_wire::presets::access_control` (transport CA and
//!   certificates from `cloud_control::pki`, fresh per process): the RSUs are clients with RSU
//!   certificates scoped to their intersections (`rsu-a=ix-a`, `rsu-b=ix-b`) and publish their
//!   sensors' detections from their own sessions; the vehicle is a client with a vehicle
//!   certificate (`veh-1`). Each flood kind is run twice, from a client with (a) a vehicle
//!   certificate (`veh-flood`) and (b) the certificate of the *other* RSU (`rsu-b`, scoped to
//!   ix-b), both putting on ix-a's key; the flooder reads the genuine state it forges from its
//!   own subscription, as an attacker on the network would.
//! - `--acl-unscoped`: the same with the RSUs given unscoped (`rsu-a`, `rsu-b`: the ACL before
//!   per-intersection scoping), so rsu-b's flood reaches the vehicle.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use corridor_model::detection::SensorKind;
use corridor_model::{
    Clock, Detection, DetectionFrame, IntersectionId, IntersectionState, MapVersion, ObjectClass, RsuId, SensorId,
    SystemClock, Timestamp,
};
use corridor_sdk::{SampleVerifier, StateCallback, StateUpdate, Vehicle};
use corridor_security::{Certificate, GuardConfig, Signer, SigningKey, StateGuard, TrustStore, SIGNATURE_LEN};
use corridor_wire::presets::{AclIdentities, TlsFiles};
use corridor_wire::{decode, encode, presets, Header, Key, Limits, PayloadKind};
use nalgebra::{Matrix3, Vector3};
use roadside::config::{RsuConfig, ZenohSection, DEFAULT_CONFIG};
use roadside::security::SecuritySection;
use roadside::RsuService;
use zenoh::Wait;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Flood {
    None,
    Copy,
    Fresh,
}

/// Which network the run uses (see the module doc).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Net {
    Open,
    /// The TLS router with the ACL; `scoped`: RSU identities scoped to their intersections.
    Acl {
        scoped: bool,
    },
}

/// Whose certificate the flooder holds on an ACL network (on the open network: none, it
/// publishes from the hub peer).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Flooder {
    Hub,
    Vehicle,
    OtherRsu,
}

impl Flooder {
    fn name(self) -> &'static str {
        match self {
            Flooder::Hub => "hub",
            Flooder::Vehicle => "veh-flood",
            Flooder::OtherRsu => "rsu-b",
        }
    }
}

/// A transport CA and the identities of the ACL runs, in a temporary directory.
struct Tls {
    _dir: tempfile::TempDir,
    files: std::collections::HashMap<&'static str, TlsFiles>,
}

impl Tls {
    fn new() -> Tls {
        use cloud_control::pki;
        let dir = tempfile::tempdir().unwrap();
        let now = jiff::Timestamp::now();
        let ca = pki::generate_ca("flood-ca", now, 2).unwrap();
        let mut files = std::collections::HashMap::new();
        for cn in ["router-1", "rsu-a", "rsu-b", "veh-1", "veh-flood"] {
            let sans: Vec<String> = if cn == "router-1" { vec!["localhost".into()] } else { vec![] };
            let node = pki::issue(&ca, cn, &sans, now, 2).unwrap();
            let out: PathBuf = dir.path().join(cn);
            files.insert(cn, pki::write_identity(&out, cn, &node, &ca.cert).unwrap());
        }
        Tls { _dir: dir, files }
    }

    fn router(&self, port: u16, scoped: bool) -> zenoh::Config {
        let config = presets::router(&[presets::loopback_tls(port)], &[]).unwrap();
        let config = presets::secure(config, &self.files["router-1"]).unwrap();
        let rsus = if scoped {
            vec!["rsu-a=ix-a".parse().unwrap(), "rsu-b=ix-b".parse().unwrap()]
        } else {
            vec!["rsu-a".into(), "rsu-b".into()]
        };
        presets::access_control(config, &AclIdentities { rsus, ..AclIdentities::default() }).unwrap()
    }

    fn client(&self, port: u16, cn: &str) -> zenoh::Config {
        presets::secure(presets::client(&[presets::loopback_tls(port)]).unwrap(), &self.files[cn]).unwrap()
    }
}

/// The guard as the SDK's verifier; mirrors its ECDSA count into `ecdsa`.
struct GuardVerifier {
    guard: StateGuard,
    maps: HashSet<MapVersion>,
    ecdsa: Arc<AtomicU64>,
}

impl SampleVerifier for GuardVerifier {
    fn verify(&mut self, key: &str, bytes: &[u8], now: Timestamp) -> Result<(), &'static str> {
        let ix = match Key::parse(key) {
            Ok(Key::State { intersection, .. }) => intersection,
            _ => return Ok(()), // events: not what this harness measures
        };
        let r = self.guard.check_state(now, &ix, bytes, &self.maps).map(|_| ()).map_err(|e| e.reason());
        self.ecdsa.store(self.guard.counters().signature_verifications, Ordering::Relaxed);
        r
    }
}

/// The forgery number `n` made from a genuine state.
fn forge(kind: Flood, genuine: &[u8], attacker: &Signer, n: u64) -> Vec<u8> {
    match kind {
        Flood::None | Flood::Copy => {
            let mut forged = genuine.to_vec();
            let i = forged.len() - 80;
            forged[i] ^= 1;
            forged
        }
        Flood::Fresh => {
            let (h, state): (Header, IntersectionState) = decode(genuine, Limits::default()).unwrap();
            let header = Header::new(h.kind, h.sender.clone(), h.seq + 1_000_000 + n, h.capture_time, h.publish_time);
            let mut buf = Vec::new();
            attacker.encode_signed(&mut buf, &header, &state).unwrap();
            // claim the genuine key id
            let (b, g) = (buf.len(), genuine.len());
            buf[b - SIGNATURE_LEN - 10..b - SIGNATURE_LEN - 2]
                .copy_from_slice(&genuine[g - SIGNATURE_LEN - 10..g - SIGNATURE_LEN - 2]);
            buf
        }
    }
}

/// Distinct forgeries made per flood.
const FORGERIES: u64 = 500;

struct Outcome {
    /// Per intersection (ix-a, ix-b): latencies of accepted states, us.
    lat_us: [Vec<i64>; 2],
    published: [u64; 2],
    forged_put: u64,
    /// Flooder puts zenoh refused (counted, the flood goes on).
    put_errors: u64,
    ecdsa: u64,
    rejected: u64,
    queue_full: u64,
    dropped: String,
}

fn frame(i: u64) -> DetectionFrame {
    DetectionFrame {
        sensor: SensorId::new("lidar-ne").unwrap(),
        kind: SensorKind::Lidar,
        frame_seq: i,
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

async fn one_run(seconds: u64, kind: Flood, pause_us: u64, net: Net, flooder_id: Flooder, tls: &Tls) -> Outcome {
    let tmp = tempfile::tempdir().unwrap();
    let mut rng = rand_core::OsRng;
    let root = SigningKey::generate(&mut rng);
    let now = SystemClock.now();
    let mut trust = TrustStore::new([*root.verifying_key()]);
    let mut sections = vec![];
    for (serial, (rsu, ix)) in [("rsu-a", "ix-a"), ("rsu-b", "ix-b")].into_iter().enumerate() {
        let key = SigningKey::generate(&mut rng);
        let cert = Certificate::rsu(
            &RsuId::new(rsu).unwrap(),
            *key.verifying_key(),
            [ix.parse().unwrap()],
            now.add_secs_f64(-60.0),
            now.add_secs_f64(3600.0),
            serial as u64 + 1,
        )
        .issue(&root)
        .unwrap();
        let section =
            SecuritySection::signing(tmp.path().join(format!("{rsu}.key")), tmp.path().join(format!("{rsu}.cert")));
        std::fs::write(&section.key, key.to_pem().unwrap()).unwrap();
        std::fs::write(&section.cert, cert.to_hex()).unwrap();
        trust.add_certificate(cert).unwrap();
        sections.push(section);
    }

    let port = presets::free_loopback_port().unwrap();
    let hub = match net {
        Net::Open => presets::peer(&[presets::loopback_tcp(port)], &[]).unwrap(),
        Net::Acl { scoped } => tls.router(port, scoped),
    };
    let hub = zenoh::open(hub).await.unwrap();
    // a node's session: a peer of the hub, or a TLS client of the router with `cn`'s certificate
    let node = |cn: &str| {
        let config = match net {
            Net::Open => presets::peer(&[], &[presets::loopback_tcp(port)]).unwrap(),
            Net::Acl { .. } => tls.client(port, cn),
        };
        async move { zenoh::open(config).await.unwrap() }
    };
    let region: corridor_model::RegionId = "demo".parse().unwrap();
    let ixs: Vec<IntersectionId> = vec!["ix-a".parse().unwrap(), "ix-b".parse().unwrap()];

    // the vehicle
    let lat: Arc<Mutex<[Vec<i64>; 2]>> = Arc::default();
    let l = lat.clone();
    let on_state: StateCallback = Arc::new(move |u: &StateUpdate| {
        let done = SystemClock.now();
        let i = usize::from(u.state.intersection.as_str() == "ix-b");
        l.lock().unwrap()[i].push(done.nanos_since(u.state.publish_time) / 1000);
    });
    let vehicle =
        Vehicle::with_session(node("veh-1").await, region.clone(), ixs.clone(), Arc::new(SystemClock), Some(on_state))
            .await
            .unwrap();
    let ecdsa = Arc::new(AtomicU64::new(0));
    let maps: HashSet<MapVersion> = [MapVersion::default()].into_iter().collect();
    let verifier =
        GuardVerifier { guard: StateGuard::new(trust, GuardConfig::default()), maps, ecdsa: Arc::clone(&ecdsa) };
    vehicle.with_core(|c| c.set_verifier(Box::new(verifier)));

    // the flooder's session; its raw subscriber keeps the first genuine ix-a state to forge from
    let flood_session = match flooder_id {
        Flooder::Hub => hub.clone(),
        id => node(id.name()).await,
    };
    let state_key = Key::State { region: region.clone(), intersection: ixs[0].clone() }.to_string();
    let first: Arc<Mutex<Option<Vec<u8>>>> = Arc::default();
    let f = first.clone();
    let _raw = flood_session
        .declare_subscriber(state_key.clone())
        .callback(move |s| {
            f.lock().unwrap().get_or_insert_with(|| s.payload().to_bytes().into_owned());
        })
        .await
        .unwrap();

    let mut rsus = vec![];
    for (i, (rsu, ix)) in [("rsu-a", "ix-a"), ("rsu-b", "ix-b")].into_iter().enumerate() {
        let mut cfg = RsuConfig::parse(DEFAULT_CONFIG, "default").unwrap();
        cfg.rsu = rsu.parse().unwrap();
        cfg.intersection = ix.parse().unwrap();
        cfg.zenoh = match net {
            Net::Open => ZenohSection::new("peer", vec![], vec![presets::loopback_tcp(port)]),
            Net::Acl { .. } => ZenohSection {
                tls: Some(tls.files[rsu].clone()),
                ..ZenohSection::new("client", vec![], vec![presets::loopback_tls(port)])
            },
        };
        cfg.security = Some(sections[i].clone());
        let rs = zenoh::open(cfg.zenoh.to_zenoh().unwrap()).await.unwrap();
        rsus.push((RsuService::start(cfg, &rs, Arc::new(SystemClock)).await.unwrap(), rs));
    }
    tokio::time::sleep(Duration::from_millis(600)).await;

    let on = Arc::new(AtomicBool::new(true));
    let flooder = (kind != Flood::None).then(|| {
        let (hub, first, on, key) = (flood_session.clone(), first.clone(), on.clone(), state_key.clone());
        let attacker = Signer::new(SigningKey::generate(&mut rng));
        std::thread::spawn(move || {
            let p = hub.declare_publisher(key).wait().unwrap();
            let (mut n, mut put_errors) = (0u64, 0u64);
            // forgeries are made once and cycled, so the flooder's own signing does not compete
            // with the vehicle for CPU; a forged seq is never accepted, so a repeat still costs
            // the vehicle one verification
            let mut forged: Vec<Vec<u8>> = vec![];
            while on.load(Ordering::Relaxed) {
                let genuine = first.lock().unwrap().clone();
                match genuine {
                    Some(genuine) => {
                        if forged.is_empty() {
                            forged = (0..FORGERIES).map(|i| forge(kind, &genuine, &attacker, i)).collect();
                        }
                        // a refused put is counted, not fatal: the run must still report
                        if let Err(e) = p.put(forged[(n % FORGERIES) as usize].clone()).wait() {
                            if put_errors == 0 {
                                eprintln!("flooder: put failed: {e}");
                            }
                            put_errors += 1;
                        }
                        n += 1;
                        if pause_us > 0 {
                            std::thread::sleep(Duration::from_micros(pause_us));
                        }
                    }
                    None => std::thread::sleep(Duration::from_millis(1)),
                }
            }
            (n, put_errors)
        })
    });
    // the sensors: from the hub on the open network; behind the ACL from each RSU's own session
    // (only an RSU identity may put under its corridor/*/rsu/{rsu}/** keys)
    let mut pubs = vec![];
    for (rsu, (_, rs)) in ["rsu-a", "rsu-b"].into_iter().zip(&rsus) {
        let det =
            Key::Detections { region: region.clone(), rsu: rsu.parse().unwrap(), sensor: "lidar-ne".parse().unwrap() };
        let from = if net == Net::Open { &hub } else { rs };
        pubs.push(presets::declare_publisher(from, &det).await.unwrap());
    }
    for i in 0..seconds * 10 {
        for p in &pubs {
            let f = frame(i);
            let h = Header::new(PayloadKind::Detections, "lidar-ne", i, f.capture_time, f.capture_time);
            p.put(encode(&h, &f).unwrap()).wait().unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    on.store(false, Ordering::Relaxed);
    let (forged_put, put_errors) = flooder.map(|h| h.join().unwrap()).unwrap_or((0, 0));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let published = [rsus[0].0.stats().states_published, rsus[1].0.stats().states_published];
    for (r, _) in rsus {
        r.stop();
    }
    let stats = vehicle.stats();
    let queue_full = stats.dropped.get("queue_full").copied().unwrap_or(0);
    let rejected = stats.dropped_total() - queue_full;
    let dropped = format!("{:?}", stats.dropped);
    let lat_us = lat.lock().unwrap().clone();
    vehicle.close().await.unwrap();
    Outcome {
        lat_us,
        published,
        forged_put,
        put_errors,
        ecdsa: ecdsa.load(Ordering::Relaxed),
        rejected,
        queue_full,
        dropped,
    }
}

fn pct(v: &mut [i64], p: f64) -> i64 {
    v.sort_unstable();
    if v.is_empty() {
        return 0;
    }
    v[((v.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (flags, args): (Vec<String>, Vec<String>) = std::env::args().skip(1).partition(|a| a.starts_with("--"));
    let net = match flags.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => Net::Open,
        ["--acl"] => Net::Acl { scoped: true },
        ["--acl-unscoped"] => Net::Acl { scoped: false },
        other => panic!("unknown flags {other:?}: give at most one of --acl, --acl-unscoped"),
    };
    let seconds = args.first().and_then(|s| s.parse().ok()).unwrap_or(5);
    let pause_us = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let floods = match args.get(2).map(String::as_str) {
        Some("copy") => vec![Flood::Copy],
        Some("fresh") => vec![Flood::Fresh],
        _ => vec![Flood::Copy, Flood::Fresh],
    };
    let flooders = match net {
        Net::Open => vec![Flooder::Hub],
        Net::Acl { .. } => vec![Flooder::Vehicle, Flooder::OtherRsu],
    };
    let mut runs = vec![(Flood::None, Flooder::Hub)];
    for kind in floods {
        runs.extend(flooders.iter().map(|f| (kind, *f)));
    }
    let tls = Tls::new();
    let net_name = match net {
        Net::Open => "open",
        Net::Acl { scoped: true } => "acl-scoped",
        Net::Acl { scoped: false } => "acl-unscoped",
    };
    let mut base = [0i64; 2];
    for (kind, flooder) in runs {
        let mut o = one_run(seconds, kind, pause_us, net, flooder, &tls).await;
        let mut line = format!(
            "net={net_name} flood={kind:?} flooder={} pause_us={pause_us} forged_put={} put_errors={} rejected={} queue_full={} ecdsa={}",
            if kind == Flood::None { "-" } else { flooder.name() },
            o.forged_put,
            o.put_errors,
            o.rejected,
            o.queue_full,
            o.ecdsa
        );
        for (i, ix) in ["ix-a", "ix-b"].into_iter().enumerate() {
            let (p50, p99) = (pct(&mut o.lat_us[i], 0.5), pct(&mut o.lat_us[i], 0.99));
            if kind == Flood::None {
                base[i] = p99;
            }
            line += &format!(
                " | {ix}: published={} accepted={} p50_us={p50} p99_us={p99} p99_ratio={:.2}",
                o.published[i],
                o.lat_us[i].len(),
                p99 as f64 / base[i].max(1) as f64
            );
        }
        println!("{line} | dropped={}", o.dropped);
    }
}
