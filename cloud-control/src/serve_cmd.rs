//! `cloud-control serve`: run the cloud until Ctrl-C.
//!
//! Settings come from `--config FILE` (TOML, see `cloud-control.default.toml`)
//! and/or flags (a flag given wins over the file). Prints one line
//! `cloud-control serving region R (data DIR, zenoh MODE ...)` on stdout once
//! every queryable is declared.

use anyhow::Context;
use clap::Args;
use cloud_control::{CloudConfig, CloudService};
use corridor_model::{RegionId, SystemClock};
use serde::Deserialize;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// The commented default configuration of `cloud-control serve`.
pub const DEFAULT_CONFIG: &str = include_str!("../cloud-control.default.toml");

/// `serve` options.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML configuration (see --print-default-config); flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Print the commented default configuration and exit.
    #[arg(long)]
    print_default_config: bool,
    /// Region served.
    #[arg(long)]
    region: Option<String>,
    /// Data directory (the database is DIR/cloud.redb).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Zenoh mode: peer or client.
    #[arg(long)]
    mode: Option<String>,
    /// Zenoh endpoints to listen on (repeatable).
    #[arg(long)]
    listen: Vec<String>,
    /// Zenoh endpoints to connect to (repeatable).
    #[arg(long)]
    connect: Vec<String>,
    /// Prometheus metrics port on 127.0.0.1 (0: off).
    #[arg(long)]
    metrics_port: Option<u16>,
    /// The cloud's signing key (PKCS#8 PEM, `keys certify --role cloud`): sign maps, rules, catalogs.
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// The cloud's certificate (hex), with --key.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// A trust bundle to serve on corridor/{region}/cloud/trust (`keys bundle`).
    #[arg(long)]
    trust_bundle: Option<PathBuf>,
    /// The region root public key (`root.pub`): event uploads must then be signed by a
    /// certified RSU (checked against the trust bundle).
    #[arg(long)]
    root_pub: Option<PathBuf>,
    /// Mutual TLS (overrides `[zenoh.tls]` of the file).
    #[command(flatten)]
    tls: crate::tls_args::TlsArgs,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    region: String,
    data_dir: PathBuf,
    #[serde(default)]
    metrics_port: u16,
    /// Signing key and certificate files (both or neither).
    #[serde(default)]
    key: Option<PathBuf>,
    #[serde(default)]
    cert: Option<PathBuf>,
    #[serde(default)]
    trust_bundle: Option<PathBuf>,
    #[serde(default)]
    root_pub: Option<PathBuf>,
    zenoh: ZenohFile,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ZenohFile {
    mode: String,
    #[serde(default)]
    listen: Vec<String>,
    #[serde(default)]
    connect: Vec<String>,
    /// `[zenoh.tls]`: `ca`, `cert`, `key` PEM files (mutual TLS).
    #[serde(default)]
    tls: Option<corridor_wire::presets::TlsFiles>,
}

fn parse_file(text: &str, path: &str) -> anyhow::Result<FileConfig> {
    toml::from_str(text).with_context(|| path.to_owned())
}

/// Runs the server.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    if args.print_default_config {
        print!("{DEFAULT_CONFIG}");
        return Ok(ExitCode::SUCCESS);
    }
    let file = match &args.config {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            parse_file(&text, &p.display().to_string())?
        }
        None => parse_file(DEFAULT_CONFIG, "default config")?,
    };
    let region_s = args.region.unwrap_or(file.region);
    let region: RegionId = region_s.parse().map_err(|e| anyhow::anyhow!("region `{region_s}`: {e}"))?;
    let data_dir = args.data_dir.unwrap_or(file.data_dir);
    let mode = args.mode.unwrap_or(file.zenoh.mode);
    let listen = if args.listen.is_empty() { file.zenoh.listen } else { args.listen };
    let connect = if args.connect.is_empty() { file.zenoh.connect } else { args.connect };
    let metrics_port = args.metrics_port.unwrap_or(file.metrics_port);
    let identity = match (args.key.or(file.key), args.cert.or(file.cert)) {
        (Some(k), Some(c)) => Some(cloud_control::CloudIdentity::from_files(&k, &c).map_err(|e| anyhow::anyhow!(e))?),
        (None, None) => None,
        _ => anyhow::bail!("key and cert go together: give both or neither"),
    };
    let trust_bundle = match args.trust_bundle.or(file.trust_bundle) {
        Some(p) => Some(std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?),
        None => None,
    };
    let signed = identity.as_ref().map(|i| i.subject().to_owned());
    let root = match args.root_pub.or(file.root_pub) {
        Some(p) => {
            let text = std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
            Some(
                corridor_security::VerifyingKey::from_pem(&text)
                    .map_err(|e| anyhow::anyhow!("{}: not a root public key: {e}", p.display()))?,
            )
        }
        None => None,
    };
    let zcfg = match mode.as_str() {
        "peer" => corridor_wire::presets::peer(&listen, &connect)?,
        "client" => corridor_wire::presets::client(&connect)?,
        other => anyhow::bail!("zenoh mode `{other}`: expected peer or client"),
    };
    let tls = match args.tls.files()? {
        Some(files) => Some(files),
        None => file.zenoh.tls,
    };
    let zcfg = match &tls {
        Some(files) => {
            for f in [&files.ca, &files.cert, &files.key] {
                anyhow::ensure!(f.is_file(), "zenoh TLS: {} not found (cloud-control tls issue)", f.display());
            }
            corridor_wire::presets::secure(zcfg, files)?
        }
        None => zcfg,
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().context("tokio")?;
    rt.block_on(async move {
        let session = loop {
            match zenoh::open(zcfg.clone()).await {
                Ok(s) => break s,
                Err(e) if mode == "client" => {
                    tracing::warn!(error = %e, "zenoh router unreachable; retrying in 1 s");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
                Err(e) => anyhow::bail!("opening zenoh session: {e}"),
            }
        };
        let mut cfg = CloudConfig::new(region.clone(), data_dir.clone());
        if metrics_port != 0 {
            cfg.metrics = Some(([127, 0, 0, 1], metrics_port).into());
        }
        cfg.identity = identity;
        cfg.trust_bundle = trust_bundle;
        cfg.root = root;
        let cloud = CloudService::start(&session, cfg, Arc::new(SystemClock)).await?;
        println!(
            "cloud-control serving region {region} (data {}, zenoh {mode} listen {listen:?} connect {connect:?}, signed {}, metrics {})",
            data_dir.display(),
            signed.as_deref().unwrap_or("no"),
            if metrics_port == 0 { "off".to_owned() } else { format!("http://127.0.0.1:{metrics_port}/metrics") }
        );
        tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
        cloud.stop();
        session.close().await.map_err(|e| anyhow::anyhow!("closing: {e}"))?;
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_commented_default_parses() {
        let c = parse_file(DEFAULT_CONFIG, "default").unwrap();
        assert_eq!(c.region, "demo");
        assert_eq!(c.zenoh.mode, "peer");
        assert!(parse_file("region = 1", "x.toml").unwrap_err().to_string().contains("x.toml"));
    }
}
