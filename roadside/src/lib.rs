//! The corridor roadside unit (RSU).
//!
//! One RSU serves one intersection: it subscribes to its sensors' detection
//! keys and its signal controller, fuses detections into tracks
//! (`corridor-fusion`), attaches the signal phases and the map version, and
//! publishes the digital intersection state on
//! `corridor/{region}/ix/{intersection}/state`.
//!
//! - [`config`]: the TOML configuration ([`config::RsuConfig`]) with a commented default.
//! - [`knowledge`]: the HD map, its lane matcher and the compiled rules in force
//!   ([`knowledge::MapKnowledge`]); loading them is the only file IO besides the config.
//! - [`core`]: the sans-IO RSU ([`core::RsuCore`]): bytes in, states out, every
//!   rejection counted by reason.
//! - [`service`]: the zenoh edge ([`service::RsuService`]): subscribers feed a
//!   bounded queue, one fusion thread drains it and publishes.
//! - [`cloud`] and [`cache`]: map and rules from cloud-control, cached on disk and
//!   verified by content hash, switched in between two frames.
//! - [`events`]: sans-IO hazard/violation/fault detection; [`outbox`]: the persisted
//!   event queue, emptied only by the cloud's acks.
//! - [`telemetry`]: Prometheus metrics.
#![forbid(unsafe_code)]

pub mod cache;
pub mod cloud;
pub mod config;
pub mod core;
pub mod events;
pub mod knowledge;
pub mod outbox;
pub mod security;
pub mod service;
pub mod telemetry;

pub use config::RsuConfig;
pub use core::{RsuCore, RsuStats};
pub use service::RsuService;
