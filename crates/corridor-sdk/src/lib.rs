//! The corridor vehicle SDK (guide written below).
#![forbid(unsafe_code)]

pub mod core;
pub mod corridor;
pub mod knowledge;
pub mod query;
pub mod ros2;
pub mod route;
pub mod testkit;
#[cfg(feature = "zenoh")]
pub mod vehicle;

pub use crate::core::{Continuity, DropReason, SampleVerifier, SdkStats, StateCache, StateUpdate};
pub use crate::corridor::{Corridor, CorridorConfig, FetchRequest, QueryError, StatusEvent, Usability};
pub use crate::knowledge::{Knowledge, KnowledgeError, MapStore};
pub use crate::query::{
    ConnectionAnswer, ConnectionChoice, EgoObject, EgoObjects, Hazard, InPath, InPathObject, InPathOptions, LaneAnswer,
    PathZone, Provenance, RulesAnswer, SignalAnswer, TimeToChange,
};
pub use crate::route::{EgoPose, Position, Route, RouteError, RouteStop};
pub use corridor_rules::VehicleClass;
#[cfg(feature = "zenoh")]
pub use vehicle::{SdkError, StateCallback, Vehicle, VehicleConfig};
