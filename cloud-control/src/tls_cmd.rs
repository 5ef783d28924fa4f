//! `cloud-control tls ...`: the operator's transport PKI for zenoh's mutual TLS (the CA and
//! one certificate per node identity), on top of [`cloud_control::pki`]. The certificate's
//! common name is the identity the router's access-control list names
//! (`cloud-control router --tls ... --rsu NAME --cloud NAME`). See docs/security.md,
//! "Transport: TLS and access control". Every command prints one JSON line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use cloud_control::pki;

/// `cloud-control tls ...`.
#[derive(Debug, Subcommand)]
pub enum TlsCommand {
    /// Generate the transport CA in DIR (ca.pem, ca.key; refuses to overwrite a ca.key).
    InitCa(InitCaArgs),
    /// Issue a node certificate (CN = its identity) signed by the CA.
    Issue(IssueArgs),
}

/// `tls init-ca`.
#[derive(Debug, Args)]
pub struct InitCaArgs {
    /// Directory for ca.pem / ca.key.
    #[arg(long)]
    out: PathBuf,
    /// The CA's common name.
    #[arg(long, default_value = "corridor-transport-ca")]
    name: String,
    /// Validity in days.
    #[arg(long, default_value_t = 3650)]
    valid_days: u32,
}

/// `tls issue`.
#[derive(Debug, Args)]
pub struct IssueArgs {
    /// The CA directory (from `tls init-ca`).
    #[arg(long)]
    ca: PathBuf,
    /// The node's identity: its certificate common name (e.g. rsu-a, cloud, router-1, veh-42).
    #[arg(long)]
    cn: String,
    /// Host names or IP addresses the node is reached by (routers: the name in `tls/NAME:PORT`);
    /// repeatable. Nodes that only connect need none.
    #[arg(long = "san")]
    sans: Vec<String>,
    /// Validity in days.
    #[arg(long, default_value_t = 365)]
    valid_days: u32,
    /// Output directory (CN.pem, CN.key, ca.pem).
    #[arg(long)]
    out: PathBuf,
}

/// Runs a `tls` subcommand.
pub fn run(cmd: TlsCommand) -> anyhow::Result<ExitCode> {
    let now = jiff::Timestamp::now();
    match cmd {
        TlsCommand::InitCa(a) => {
            let ca = pki::generate_ca(&a.name, now, a.valid_days)?;
            let (cert, key) = pki::write_ca(&a.out, &ca)?;
            println!("{}", serde_json::json!({"ca": a.name, "cert": cert, "key": key, "valid_days": a.valid_days}));
        }
        TlsCommand::Issue(a) => {
            let ca = pki::read_ca(&a.ca)?;
            let node = pki::issue(&ca, &a.cn, &a.sans, now, a.valid_days)?;
            let files = pki::write_identity(&a.out, &a.cn, &node, &ca.cert)?;
            println!(
                "{}",
                serde_json::json!({"cn": a.cn, "sans": a.sans, "cert": files.cert, "key": files.key, "ca": files.ca, "valid_days": a.valid_days})
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
