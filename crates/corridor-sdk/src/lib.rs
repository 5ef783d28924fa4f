//! The corridor vehicle SDK: receive, check and query digital intersection state.
//!
//! Two layers, as in quinn (`quinn-proto` under `quinn`):
//! - [`core`]: the sans-IO [`StateCache`]. Feed it `(key, bytes, now)` for every
//!   sample; it decodes, checks, keeps the latest state per intersection and
//!   counts every message it drops and why. No zenoh, no tokio, no clock.
//! - [`vehicle`] (feature `zenoh`, on by default): [`Vehicle`], the zenoh
//!   adapter. It subscribes to exactly the intersections asked for, runs the
//!   cache in the subscriber callback and hands each accepted state to the
//!   application's callback, or lets the application poll the latest.
//!
//! ```no_run
//! # async fn demo() -> Result<(), corridor_sdk::SdkError> {
//! use corridor_model::{IntersectionId, RegionId};
//! use corridor_sdk::{Vehicle, VehicleConfig};
//! let cfg = VehicleConfig::new(
//!     RegionId::new("demo").unwrap(),
//!     vec![IntersectionId::new("ix-a").unwrap()],
//!     corridor_wire::presets::client(&["tcp/127.0.0.1:7447".into()]).unwrap(),
//! );
//! let vehicle = Vehicle::connect(cfg, Some(std::sync::Arc::new(|u: &corridor_sdk::StateUpdate| {
//!     println!("{} objects at {}", u.state.objects.len(), u.state.intersection);
//! }))).await?;
//! let latest = vehicle.latest(&IntersectionId::new("ix-a").unwrap());
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod core;
#[cfg(feature = "zenoh")]
pub mod vehicle;

pub use crate::core::{DropReason, SdkStats, StateCache, StateUpdate};
#[cfg(feature = "zenoh")]
pub use vehicle::{SdkError, StateCallback, Vehicle, VehicleConfig};
