//! `cloud-control router`: a thin Zenoh router on the zenoh library.
//!
//! The field topology is RSUs and vehicles as Zenoh **clients** of routers;
//! this subcommand runs one with corridor's router preset (multicast scouting
//! off, explicit endpoints), so a deployment needs no separate `zenohd` build.
//! It prints `router listening on ...` once it is up and runs until Ctrl-C.

use anyhow::Context;
use clap::Args;
use std::process::ExitCode;

/// Router options.
#[derive(Debug, Args)]
pub struct RouterArgs {
    /// Endpoints to listen on (repeatable).
    #[arg(long, default_value = "tcp/127.0.0.1:7447")]
    listen: Vec<String>,
    /// Other routers to link to (repeatable).
    #[arg(long)]
    connect: Vec<String>,
}

/// Runs the router until Ctrl-C.
pub fn run(args: RouterArgs) -> anyhow::Result<ExitCode> {
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().context("tokio runtime")?;
    rt.block_on(async {
        let config = corridor_wire::presets::router(&args.listen, &args.connect)?;
        let session =
            zenoh::open(config).await.map_err(|e| anyhow::anyhow!("starting the router on {:?}: {e}", args.listen))?;
        println!("router listening on {} (zid {})", args.listen.join(", "), session.zid());
        tracing::info!(listen = ?args.listen, connect = ?args.connect, "router up");
        tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
        session.close().await.map_err(|e| anyhow::anyhow!("closing: {e}"))?;
        Ok(ExitCode::SUCCESS)
    })
}
