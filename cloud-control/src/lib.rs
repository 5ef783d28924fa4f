//! cloud-control as a library: the cloud tier of corridor.
//!
//! It keeps HD maps and rule sets by (intersection, version) in an embedded
//! database, makes one version current per intersection, serves them over
//! Zenoh queryables, publishes the catalog on every change, stores the events
//! RSUs upload (idempotently, acknowledging only after the durable commit) and
//! watches every RSU's liveliness token and stats.
//!
//! - [`store`]: the redb database ([`store::Store`]): maps, rules, current
//!   versions, history (for rollback), events by id, the catalog revision.
//! - [`validate`]: what a publish must pass before anything is stored (the map
//!   imports with `corridor-hdmap`, the rules compile against it with `corridor-rules`).
//! - [`health`]: the sans-IO registry of RSUs (alive, last seen, versions, rates).
//! - [`admin`]: the admin protocol (publish, rollback, status) spoken on
//!   `corridor/{region}/cloud/admin`.
//! - [`service`]: the Zenoh edge ([`CloudService`]), embeddable in-process
//!   (the demo) or run by `cloud-control serve`.
//! - [`telemetry`]: the Prometheus exporter.
//! - [`pki`]: the transport CA and node certificates for zenoh's mutual TLS (`cloud-control tls`).
//!
//! Embedding (e.g. in the demo):
//! ```no_run
//! # async fn f(session: zenoh::Session) -> Result<(), Box<dyn std::error::Error>> {
//! use cloud_control::{CloudConfig, CloudService, PublishRequest};
//! let cfg = CloudConfig::new("demo".parse()?, "/tmp/cloud-data".into());
//! let cloud = CloudService::start(&session, cfg, std::sync::Arc::new(corridor_model::SystemClock)).await?;
//! let req = PublishRequest::from_files("ix-a".parse()?, "maps/demo-4arm/demo-4arm.net.xml".as_ref(),
//!     Some("maps/demo-4arm/rules.toml".as_ref()), None)?;
//! let entry = cloud.publish(req)?; // validated, stored, current, catalog published
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod admin;
pub mod health;
pub mod pki;
pub mod service;
pub mod store;
pub mod telemetry;
pub mod validate;

pub use admin::{AdminRequest, PublishRequest};
pub use health::{RsuRegistry, RsuStatus};
pub use service::{CloudConfig, CloudError, CloudIdentity, CloudService};
pub use store::{Store, StoreError};
pub use validate::{validate, ValidateError, Validated};
