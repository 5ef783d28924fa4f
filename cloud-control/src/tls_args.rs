//! `--tls DIR --cn NAME`: the one clap argument group for mutual TLS, shared by `serve`,
//! `router` and the admin commands (`publish`, `rollback`, `status`, `trust push`).
//!
//! `DIR` is what `cloud-control tls issue --cn NAME --out DIR` wrote (`DIR/ca.pem`,
//! `DIR/NAME.pem`, `DIR/NAME.key`); the certificate's common name is the node's identity in a
//! router's access-control list (docs/security.md section 6). With it the zenoh config goes
//! through `corridor_wire::presets::secure` (TLS only, mutual authentication), so every
//! endpoint must be `tls/HOST:PORT`.

use anyhow::ensure;
use clap::Args;
use corridor_wire::presets::{self, TlsFiles};
use std::path::PathBuf;

/// Mutual TLS options.
#[derive(Debug, Clone, Default, Args)]
pub struct TlsArgs {
    /// Mutual TLS: the directory from `cloud-control tls issue --cn NAME --out DIR`
    /// (DIR/ca.pem, DIR/NAME.pem, DIR/NAME.key); endpoints must then be tls/HOST:PORT.
    #[arg(long, requires = "cn", value_name = "DIR")]
    pub tls: Option<PathBuf>,
    /// The certificate's common name (with --tls): this node's identity in the router's
    /// access-control list.
    #[arg(long, value_name = "NAME")]
    pub cn: Option<String>,
}

impl TlsArgs {
    /// The certificate files, checked to exist; `None` without `--tls`.
    pub fn files(&self) -> anyhow::Result<Option<TlsFiles>> {
        let (Some(dir), Some(cn)) = (&self.tls, &self.cn) else { return Ok(None) };
        let files = TlsFiles::in_dir(dir, cn);
        for f in [&files.ca, &files.cert, &files.key] {
            ensure!(
                f.is_file(),
                "--tls {}: {} not found (cloud-control tls issue --cn {cn} --out {})",
                dir.display(),
                f.display(),
                dir.display()
            );
        }
        Ok(Some(files))
    }

    /// `config` made mutual-TLS with [`TlsArgs::files`] (unchanged without `--tls`).
    pub fn apply(&self, config: zenoh::Config) -> anyhow::Result<zenoh::Config> {
        match self.files()? {
            Some(files) => Ok(presets::secure(config, &files)?),
            None => Ok(config),
        }
    }
}
