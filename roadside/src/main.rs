//! `roadside`: run one RSU from a TOML config.
//!
//! ```text
//! roadside --config rsu.toml          run until Ctrl-C
//! roadside --print-default-config     the commented default config
//! ```
//! With a `[cloud]` section the RSU takes its map and rules from cloud-control (see
//! `roadside::cloud`) and uploads its events; without it, it runs from the local files.

use anyhow::Context;
use clap::Parser;
use corridor_model::SystemClock;
use roadside::config::DEFAULT_CONFIG;
use roadside::{RsuConfig, RsuService};
use std::path::PathBuf;
use std::sync::Arc;

/// corridor roadside unit: fuses one intersection's sensors and publishes its state over Zenoh.
#[derive(Debug, Parser)]
#[command(name = "roadside", version, about)]
struct Cli {
    /// The RSU configuration (see --print-default-config).
    #[arg(long, required_unless_present = "print_default_config")]
    config: Option<PathBuf>,
    /// Print the commented default configuration and exit.
    #[arg(long)]
    print_default_config: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if cli.print_default_config {
        print!("{DEFAULT_CONFIG}");
        return Ok(());
    }
    let path = cli.config.context("--config is required")?;
    let config = RsuConfig::load(&path)?;
    let zenoh_config = config.zenoh.to_zenoh().context("zenoh config")?;
    // a client whose router is not up yet keeps trying: the RSU starts in any order
    let session = loop {
        match zenoh::open(zenoh_config.clone()).await {
            Ok(s) => break s,
            Err(e) if config.zenoh.mode == "client" => {
                tracing::warn!(error = %e, "zenoh router unreachable; retrying in 2 s");
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => return Ok(()),
                    _ = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
                }
            }
            Err(e) => anyhow::bail!("opening zenoh session: {e}"),
        }
    };
    tracing::info!(rsu = %config.rsu, intersection = %config.intersection, sensors = config.sensors.len(), "roadside starting");
    let service = RsuService::start(config, &session, Arc::new(SystemClock))
        .await
        .map_err(|e| anyhow::anyhow!("starting RSU: {e}"))?;
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tick.tick() => {
                let s = service.stats();
                tracing::info!(states = s.states_published, dropped = s.dropped_total(), fusion_us = s.last_fusion_us,
                    map = %s.map_version.get(..12).unwrap_or(""), map_source = %s.map_source,
                    events = s.events_detected, events_queued = service.events_queued(), "roadside running");
            }
        }
    }
    tracing::info!("roadside stopping");
    service.stop();
    session.close().await.map_err(|e| anyhow::anyhow!("closing zenoh session: {e}"))?;
    Ok(())
}
