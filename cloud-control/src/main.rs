//! `cloud-control`: the cloud tier's command line.
//!
//! Subcommands for traffic engineers (`map ...`, `rules ...`, `publish`,
//! `rollback`) and operators (`serve`, `status`, `router`, `keys`, `tls`). Each group of
//! subcommands lives in its own module; `main` only parses and dispatches. The
//! service itself is the `cloud_control` library (see its crate docs).

mod admin_cmd;
mod keys_cmd;
mod map_cmd;
mod router_cmd;
mod rules_cmd;
mod serve_cmd;
mod tls_args;
mod tls_cmd;

use clap::{Parser, Subcommand};

/// corridor cloud-control: HD maps and traffic rules as code.
#[derive(Debug, Parser)]
#[command(name = "cloud-control", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Import and inspect HD maps (SUMO .net.xml, OpenDRIVE .xodr, Lanelet2 .osm).
    #[command(subcommand)]
    Map(map_cmd::MapCommand),
    /// Check and query traffic rule files against a map.
    #[command(subcommand)]
    Rules(rules_cmd::RulesCommand),
    /// Run a Zenoh router that RSUs, vehicles and the cloud connect to as clients.
    Router(router_cmd::RouterArgs),
    /// Run the cloud: maps/rules queryables, catalog, event ingest, RSU health, metrics.
    Serve(serve_cmd::ServeArgs),
    /// Validate a map (and rules) and make it the intersection's current version.
    Publish(admin_cmd::PublishArgs),
    /// Make an earlier version of an intersection current again.
    Rollback(admin_cmd::RollbackArgs),
    /// Every RSU the cloud has seen: alive, last seen, versions, rates, latency.
    Status(admin_cmd::StatusArgs),
    /// Operator key setup: region root, RSU/cloud certificates, revocation (docs/security.md).
    #[command(subcommand)]
    Keys(keys_cmd::KeysCommand),
    /// Transport TLS: the CA and node certificates for zenoh's mutual TLS (docs/security.md).
    #[command(subcommand)]
    Tls(tls_cmd::TlsCommand),
    /// Trust distribution: push a new trust bundle to the running cloud.
    #[command(subcommand)]
    Trust(TrustCommand),
}

#[derive(Debug, Subcommand)]
enum TrustCommand {
    /// Serve and publish a new trust bundle (e.g. after `keys revoke` + `keys bundle`).
    Push(admin_cmd::TrustPushArgs),
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Map(cmd) => map_cmd::run(cmd),
        Command::Rules(cmd) => rules_cmd::run(cmd),
        Command::Router(args) => router_cmd::run(args),
        Command::Serve(args) => serve_cmd::run(args),
        Command::Publish(args) => admin_cmd::publish(args),
        Command::Rollback(args) => admin_cmd::rollback(args),
        Command::Status(args) => admin_cmd::status(args),
        Command::Keys(cmd) => keys_cmd::run(cmd),
        Command::Tls(cmd) => tls_cmd::run(cmd),
        Command::Trust(TrustCommand::Push(args)) => admin_cmd::trust_push(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
