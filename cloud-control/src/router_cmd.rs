//! `cloud-control router`: a thin Zenoh router on the zenoh library.
//!
//! The field topology is RSUs and vehicles as Zenoh **clients** of routers;
//! this subcommand runs one with corridor's router preset (multicast scouting
//! off, explicit endpoints), so a deployment needs no separate `zenohd` build.
//! It prints `router listening on ...` once it is up and runs until Ctrl-C.
//!
//! Hardened (docs/security.md, "Transport: TLS and access control"): `--tls DIR --cn NAME`
//! makes every link mutual TLS with the certificate `DIR/NAME.pem` (`cloud-control tls issue`),
//! and `--rsu`/`--cloud`/`--peer-router`/`--admin` (repeatable certificate common names) turn
//! on the access-control list of `corridor_wire::presets::access_control`: only RSUs may publish
//! state and events (`--rsu CN=IX,...` only for those intersections and on its own RSU keys; a
//! bare `--rsu CN` for any intersection), only the cloud maps, rules, catalog and trust, only
//! admins (and clouds) may send cloud-control's admin requests; everyone else may only subscribe
//! and query. `--print-config` prints the resulting zenoh config (JSON) and exits, e.g. to run
//! the same policy on a stock `zenohd`.

use anyhow::Context;
use clap::Args;
use std::process::ExitCode;

use corridor_wire::presets::{self, AclIdentities, RsuIdentity};

/// Router options.
#[derive(Debug, Args)]
pub struct RouterArgs {
    /// Endpoints to listen on (repeatable).
    #[arg(long, default_value = "tcp/127.0.0.1:7447")]
    listen: Vec<String>,
    /// Other routers to link to (repeatable).
    #[arg(long)]
    connect: Vec<String>,
    #[command(flatten)]
    tls: crate::tls_args::TlsArgs,
    /// An RSU identity allowed to publish state and events; repeatable. `CN=IX[,IX...]`
    /// scopes it: it may then put only on the state/events keys of those intersections and on
    /// its own corridor/*/rsu/CN/** keys (the CN must be the RSU id). A bare `CN` keeps the
    /// unscoped meaning: state and events of ANY intersection, any RSU's keys. Give each CN
    /// once. Any of --rsu/--cloud/--peer-router/--admin turns the access-control list on
    /// (needs --tls).
    // parsed with FromStr explicitly: clap's default would take `From<String>` (unscoped)
    #[arg(long = "rsu", requires = "tls", value_name = "CN[=IX,...]", value_parser = parse_rsu)]
    rsus: Vec<RsuIdentity>,
    /// Cloud identities allowed to publish/serve maps, rules, catalog and trust; repeatable.
    #[arg(long = "cloud", requires = "tls")]
    clouds: Vec<String>,
    /// Other routers' identities, trusted to forward anything on corridor keys; repeatable.
    #[arg(long = "peer-router", requires = "tls")]
    routers: Vec<String>,
    /// Operator identities allowed to run `publish`, `rollback`, `status`, `trust push`
    /// through this router (they may query corridor/*/cloud/admin); repeatable.
    #[arg(long = "admin", requires = "tls")]
    admins: Vec<String>,
    /// Print the zenoh config as JSON and exit.
    #[arg(long)]
    print_config: bool,
}

fn parse_rsu(text: &str) -> Result<RsuIdentity, presets::AclError> {
    text.parse()
}

fn config(args: &RouterArgs) -> anyhow::Result<zenoh::Config> {
    let mut config = presets::router(&args.listen, &args.connect)?;
    if let Some(files) = args.tls.files()? {
        config = presets::secure(config, &files)?;
        let ids = AclIdentities {
            rsus: args.rsus.clone(),
            clouds: args.clouds.clone(),
            routers: args.routers.clone(),
            admins: args.admins.clone(),
        };
        if ids != AclIdentities::default() {
            ids.validate().map_err(|e| anyhow::anyhow!("--rsu/--cloud/--peer-router/--admin: {e}"))?;
            config = presets::access_control(config, &ids)?;
        }
    }
    Ok(config)
}

/// Runs the router until Ctrl-C.
pub fn run(args: RouterArgs) -> anyhow::Result<ExitCode> {
    let config = config(&args)?;
    if args.print_config {
        println!("{config}");
        return Ok(ExitCode::SUCCESS);
    }
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().context("tokio runtime")?;
    rt.block_on(async {
        let session =
            zenoh::open(config).await.map_err(|e| anyhow::anyhow!("starting the router on {:?}: {e}", args.listen))?;
        println!("router listening on {} (zid {})", args.listen.join(", "), session.zid());
        tracing::info!(listen = ?args.listen, connect = ?args.connect, tls = args.tls.tls.is_some(), "router up");
        tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
        session.close().await.map_err(|e| anyhow::anyhow!("closing: {e}"))?;
        Ok(ExitCode::SUCCESS)
    })
}
