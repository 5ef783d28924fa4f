//! `cloud-control publish | rollback | status`: the traffic engineer's and operator's commands.
//!
//! `publish` validates locally first (diagnostics printed, exit 1, nothing sent), then
//! either sends the request to a running `cloud-control serve` over Zenoh (the
//! default: `--connect`, the server validates again and answers with the new
//! catalog entry) or, with `--data-dir`, writes the database directly (only
//! while no server holds it: redb locks the file; the server publishes the
//! catalog when it next starts). `rollback` works the same way; `status` asks
//! the running server.
//!
//! Over a hardened network (docs/security.md section 6) every one of them takes the same
//! `--tls DIR --cn NAME` as `serve` and `router` ([`crate::tls_args::TlsArgs`], flattened once
//! into [`Target`]): mutual TLS with a certificate from the operator's transport CA, and
//! `--connect tls/HOST:PORT`. Behind a router with the access-control list the certificate's
//! CN must be one of the router's `--admin` names (or a `--cloud` name): any other identity's
//! admin query is dropped at the router and the command ends with "no cloud-control serve
//! answered" (exit 1). A `tls/` endpoint without `--tls` is refused before connecting.

use anyhow::{anyhow, Context};
use clap::Args;
use cloud_control::{AdminRequest, PublishRequest, RsuStatus, Store};
use corridor_model::{IntersectionId, RegionId, SystemClock, Timestamp};
use corridor_wire::control::CatalogEntry;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Where the command goes.
#[derive(Debug, Args)]
pub struct Target {
    /// Region.
    #[arg(long, default_value = "demo")]
    region: String,
    /// Zenoh endpoint(s) of the server or a router (client mode).
    #[arg(long, default_value = "tcp/127.0.0.1:7448")]
    connect: Vec<String>,
    /// Open the database in this data directory directly instead (no server may run on it).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// How long to wait for the server's answer, seconds.
    #[arg(long, default_value_t = 30)]
    timeout_s: u64,
    /// Mutual TLS with the router or server (its CN must be an `--admin` of an ACL router).
    #[command(flatten)]
    tls: crate::tls_args::TlsArgs,
}

/// The zenoh client config for `target`: mutual TLS with `--tls`; a `tls/` endpoint without
/// it is refused with the fix named.
fn client_config(target: &Target) -> anyhow::Result<zenoh::Config> {
    let config = corridor_wire::presets::client(&target.connect)?;
    if target.tls.tls.is_none() {
        if let Some(e) = target.connect.iter().find(|e| e.starts_with("tls/")) {
            anyhow::bail!(
                "--connect {e}: a TLS endpoint needs --tls DIR --cn NAME (a certificate from the operator's \
                 transport CA: cloud-control tls issue --cn NAME --out DIR)"
            );
        }
    }
    target.tls.apply(config)
}

/// `publish` options.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The intersection.
    #[arg(long)]
    intersection: String,
    /// The map file (.net.xml[.gz], .xodr, .osm, .hdmap.json).
    #[arg(long)]
    map: PathBuf,
    /// The rules file (TOML).
    #[arg(long)]
    rules: Option<PathBuf>,
    /// WGS84 origin LAT,LON for maps without a geo reference.
    #[arg(long)]
    origin: Option<String>,
    #[command(flatten)]
    target: Target,
}

/// `rollback` options.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The intersection.
    #[arg(long)]
    intersection: String,
    /// The map or rules version to return to (hex; a unique prefix is enough).
    #[arg(long)]
    to: String,
    #[command(flatten)]
    target: Target,
}

/// `status` options.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    target: Target,
}

fn ix(s: &str) -> anyhow::Result<IntersectionId> {
    s.parse().map_err(|e| anyhow!("--intersection `{s}`: {e}"))
}

fn origin(s: &Option<String>) -> anyhow::Result<Option<[f64; 2]>> {
    let Some(s) = s else { return Ok(None) };
    let (a, b) = s.split_once(',').ok_or_else(|| anyhow!("--origin `{s}`: expected LAT,LON"))?;
    let lat: f64 = a.trim().parse().map_err(|_| anyhow!("--origin: latitude `{a}` is not a number"))?;
    let lon: f64 = b.trim().parse().map_err(|_| anyhow!("--origin: longitude `{b}` is not a number"))?;
    Ok(Some([lat, lon]))
}

#[allow(clippy::disallowed_methods, reason = "the CLI stamps the time of a direct database write")]
fn now() -> Timestamp {
    use corridor_model::Clock;
    SystemClock.now()
}

fn open_store(dir: &std::path::Path) -> anyhow::Result<Store> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    Store::open(&dir.join("cloud.redb")).context("opening the database (is a server running on it?)")
}

fn ask(target: &Target, req: &AdminRequest) -> anyhow::Result<Result<String, String>> {
    let region: RegionId = target.region.parse().map_err(|e| anyhow!("--region: {e}"))?;
    let body = serde_json::to_vec(req)?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    rt.block_on(async {
        let session = zenoh::open(client_config(target)?)
            .await
            .map_err(|e| anyhow!("connecting to {:?}: {e}", target.connect))?;
        let key = corridor_wire::Key::Admin { region }.to_string();
        let replies = session
            .get(&key)
            .payload(body)
            .timeout(Duration::from_secs(target.timeout_s))
            .await
            .map_err(|e| anyhow!("query {key}: {e}"))?;
        let out = match replies.recv_async().await {
            Ok(r) => match r.result() {
                Ok(s) => Ok(String::from_utf8_lossy(&s.payload().to_bytes()).into_owned()),
                Err(e) => Err(String::from_utf8_lossy(&e.payload().to_bytes()).into_owned()),
            },
            Err(_) => {
                let acl = if target.tls.tls.is_some() {
                    " behind an access-control router, is this certificate's CN one of its --admin names?"
                } else {
                    ""
                };
                Err(format!("no cloud-control serve answered on {key} via {:?} (is it running?{acl})", target.connect))
            }
        };
        let _ = session.close().await;
        Ok(out)
    })
}

/// A catalog entry as printed by `publish` and `rollback`: versions in hex, time in RFC 3339.
fn entry_json(e: &CatalogEntry) -> String {
    let since =
        jiff::Timestamp::from_nanosecond(i128::from(e.since.unix_ns)).map(|t| t.to_string()).unwrap_or_default();
    serde_json::json!({
        "intersection": e.intersection.as_str(),
        "map_version": e.map_version.to_hex(),
        "rules_version": e.rules_version.map(|r| r.to_hex()),
        "since": since,
    })
    .to_string()
}

/// The server's reply (a CatalogEntry) re-rendered with [`entry_json`].
fn entry_reply(out: Result<String, String>) -> Result<String, String> {
    out.and_then(|s| {
        serde_json::from_str::<CatalogEntry>(&s).map(|e| entry_json(&e)).map_err(|e| format!("bad reply `{s}`: {e}"))
    })
}

fn finish(out: Result<String, String>) -> ExitCode {
    match out {
        Ok(s) => {
            println!("{s}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// `publish`.
pub fn publish(a: PublishArgs) -> anyhow::Result<ExitCode> {
    let req = PublishRequest::from_files(ix(&a.intersection)?, &a.map, a.rules.as_deref(), origin(&a.origin)?)?;
    let validated = match req.validate() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!("nothing was published; the current version is unchanged");
            return Ok(ExitCode::from(1));
        }
    };
    for w in &validated.warnings {
        eprintln!("warning: {w}");
    }
    if let Some(dir) = &a.target.data_dir {
        let store = open_store(dir)?;
        let entry = store.publish(&validated, now())?;
        return Ok(finish(Ok(entry_json(&entry))));
    }
    Ok(finish(entry_reply(ask(&a.target, &AdminRequest::Publish(req))?)))
}

/// `rollback`.
pub fn rollback(a: RollbackArgs) -> anyhow::Result<ExitCode> {
    let intersection = ix(&a.intersection)?;
    if let Some(dir) = &a.target.data_dir {
        let store = open_store(dir)?;
        return Ok(finish(
            store.rollback(&intersection, &a.to, now()).map(|e| entry_json(&e)).map_err(|e| e.to_string()),
        ));
    }
    Ok(finish(entry_reply(ask(&a.target, &AdminRequest::Rollback { intersection, to: a.to })?)))
}

/// `trust push` options.
#[derive(Debug, Args)]
pub struct TrustPushArgs {
    /// The trust bundle file (`cloud-control keys bundle --out FILE`).
    #[arg(long)]
    bundle: PathBuf,
    #[command(flatten)]
    target: Target,
}

/// `trust push`: the running cloud serves and publishes the new bundle on
/// `corridor/{region}/cloud/trust`; vehicles and RSUs apply it on arrival.
pub fn trust_push(a: TrustPushArgs) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&a.bundle).with_context(|| format!("reading {}", a.bundle.display()))?;
    corridor_security::bundle::parse_bundle(&bytes)
        .map_err(|e| anyhow!("{}: not a trust bundle: {e}", a.bundle.display()))?;
    Ok(finish(ask(&a.target, &AdminRequest::TrustPush { bundle_hex: hex::encode(&bytes) })?))
}

/// `status`.
pub fn status(a: StatusArgs) -> anyhow::Result<ExitCode> {
    let out = match ask(&a.target, &AdminRequest::Status)? {
        Ok(s) => s,
        Err(e) => return Ok(finish(Err(e))),
    };
    if a.json {
        println!("{out}");
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<RsuStatus> = serde_json::from_str(&out).context("status reply")?;
    print!("{}", table(&rows, now()));
    Ok(ExitCode::SUCCESS)
}

fn short(v: &Option<String>) -> String {
    v.as_deref().map(|s| s.chars().take(12).collect()).unwrap_or_else(|| "-".into())
}

/// The status table.
pub fn table(rows: &[RsuStatus], now: Timestamp) -> String {
    let mut out = format!(
        "{:<12} {:<10} {:<6} {:>9} {:<12} {:<12} {:<6} {:>10} {:>9} {:>9} {:>7} {:>6}\n",
        "RSU", "IX", "ALIVE", "SEEN_S", "MAP", "RULES", "SOURCE", "IN_HZ", "FUSE_US", "PUB_US", "DROPPED", "EVQ"
    );
    for r in rows {
        let hz = r.input_rate_hz.values().fold(0.0, |a, b| a + b);
        out += &format!(
            "{:<12} {:<10} {:<6} {:>9.1} {:<12} {:<12} {:<6} {:>10.1} {:>9} {:>9} {:>7} {:>6}\n",
            r.rsu.as_ref().map(|r| r.to_string()).unwrap_or_default(),
            r.intersection.as_deref().unwrap_or("-"),
            if r.alive { "yes" } else { "NO" },
            now.secs_since(r.last_seen),
            short(&r.map_version),
            short(&r.rules_version),
            r.map_source.as_deref().unwrap_or("-"),
            hz,
            r.fusion_us.map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
            r.publish_us.map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
            r.dropped.map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
            r.events_queued.map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
        );
    }
    out
}
