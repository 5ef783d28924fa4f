//! Shared helpers for the roadside integration tests: free ports, sessions, configs.
#![allow(dead_code, clippy::unwrap_used)]

use corridor_wire::presets;
use roadside::config::{RsuConfig, ZenohSection, DEFAULT_CONFIG};

pub fn free_port() -> u16 {
    presets::free_loopback_port().unwrap()
}

pub async fn hub(port: u16) -> zenoh::Session {
    zenoh::open(presets::peer(&[presets::loopback_tcp(port)], &[]).unwrap()).await.unwrap()
}

pub async fn peer_of(port: u16) -> zenoh::Session {
    zenoh::open(presets::peer(&[], &[presets::loopback_tcp(port)]).unwrap()).await.unwrap()
}

/// The default config renamed to `rsu`/`intersection`, connecting to the hub at `port`.
pub fn rsu_config(rsu: &str, intersection: &str, port: u16, json_mirror: bool) -> RsuConfig {
    let mut cfg = RsuConfig::parse(DEFAULT_CONFIG, "default").unwrap();
    cfg.rsu = rsu.parse().unwrap();
    cfg.intersection = intersection.parse().unwrap();
    cfg.json_mirror = json_mirror;
    cfg.stats_period_ms = 200;
    cfg.zenoh = ZenohSection::new("peer", vec![], vec![presets::loopback_tcp(port)]);
    cfg
}

/// The Python interpreter of the project's venv (scripts/setup-venv.sh makes it).
pub fn python() -> std::path::PathBuf {
    let p = std::env::var_os("CORRIDOR_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python"));
    assert!(
        p.exists(),
        "{} is missing: run scripts/setup-venv.sh (scripts/test.sh does) to install the outside tools",
        p.display()
    );
    p
}
