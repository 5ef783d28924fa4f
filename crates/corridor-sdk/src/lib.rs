//! The corridor vehicle SDK: follow a route, receive and check digital intersection state,
//! and ask what a planner needs: objects in the ego frame, the ego lane's signal and time to
//! change, the rules in force, what is in the ego's path, and the hazards ahead. Every answer
//! says how old it is, which RSU and map version it came from, and how confident it is; data
//! that may not be used (stale, map not verified yet) is an error, never a silent old answer.
//!
//! # Layers
//!
//! | layer | what | IO |
//! |---|---|---|
//! | [`Corridor`] ([`corridor`]) | the sans-IO core: route, states, events, maps, rules, queries, statuses | none (time is an argument); optional disk cache |
//! | [`Vehicle`] ([`vehicle`], feature `zenoh`, default) | subscribes, fetches maps/rules, runs the core | zenoh + tokio |
//! | `corridor_sdk` Python package (`crates/corridor-sdk-python`) | the core from Python; network via the Zenoh Python client | `docs/sdk-python.md` |
//! | [`ros2`] + [`vehicle::Ros2Bridge`] | states as ROS 2 `corridor_msgs/msg/IntersectionState` (CDR) on zenoh-plugin-ros2dds keys | `docs/ros2.md` |
//!
//! # 1. Follow a route
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use corridor_model::{IntersectionId, RegionId};
//! use corridor_sdk::{EgoPose, Vehicle, VehicleClass, VehicleConfig};
//! let mut cfg = VehicleConfig::new(
//!     RegionId::new("demo")?,
//!     vec![IntersectionId::new("ix-a")?, IntersectionId::new("ix-b")?], // in route order
//!     corridor_wire::presets::client(&["tcp/127.0.0.1:7447".into()])?,
//! );
//! cfg.cache_dir = Some("/var/cache/corridor".into()); // maps and rules survive restarts
//! let vehicle = Vehicle::connect(cfg, None).await?;
//! // every planning cycle:
//! let pose = EgoPose::enu(3.2, -22.0, std::f64::consts::FRAC_PI_2); // or EgoPose::wgs84(lat, lon, heading)
//! vehicle.update_pose(&pose); // drops intersections behind the vehicle
//! match vehicle.my_lane(&pose, VehicleClass::Car) {
//!     Ok(lane) => {
//!         if let Some(t) = lane.signal.and_then(|s| s.time_to_change) {
//!             println!("signal changes in {:.1} s (min {:.1})", t.best_s(), t.min_s);
//!         }
//!     }
//!     Err(e) => println!("no answer now: {e}"),
//! }
//! # Ok(()) }
//! ```
//!
//! A route is a list of intersections ([`Route::intersections`]) or a polyline in WGS84 or
//! map ENU matched to intersections with their maps ([`Route::from_polyline`]: an
//! intersection is on the route when a point of the polyline lies on one of its lanes, in the
//! order the polyline reaches them; fetch candidate maps with
//! [`Vehicle::fetch_latest_maps`], then [`Vehicle::set_route`]). The vehicle subscribes to
//! exactly `corridor/{region}/ix/{ix}/state` and `.../events` of the intersections ahead.
//! [`Vehicle::update_pose`] drops intersections behind: on a polyline, once the ego is
//! [`route::PASSED_MARGIN_M`] past the route's last point on that map; on a list, once the ego
//! has been inside a map and left it (or is inside a later one).
//!
//! **Maps and rules by version.** Each state names its map (and rules) version. If that
//! version is not held, the state is kept but marked [`Usability::MapPending`] and the map is
//! fetched from cloud-control (`corridor/{region}/map/{ix}?version=HEX`, then `.../rules/...`),
//! imported, and accepted only if it hashes to the version named
//! ([`KnowledgeError::MapHashMismatch`] otherwise, and the state stays unusable:
//! [`Usability::MapRejected`]). With a cache dir, bundles are stored as
//! `{dir}/{ix}/map-{version}.bin` / `rules-{map}-{rules}.bin` and verified again when loaded;
//! a file that fails is removed and fetched anew. Vehicles that ship their maps call
//! [`Corridor::insert_map`] (via [`Vehicle::with_core`]).
//!
//! # 2. Queries
//!
//! All on [`Corridor`] (time passed in) and on [`Vehicle`] (time from its clock):
//!
//! | query | answer | notes |
//! |---|---|---|
//! | [`Corridor::my_lane`]`(pose, class, now)` | [`LaneAnswer`]: lane, `s`, lateral offset, distance to the stop line; [`ConnectionAnswer`] (on it, or ahead: chosen by the route's lanes, else the only one, else a flagged guess); [`SignalAnswer`] (group, phase, [`TimeToChange`] min / max / likely); [`RulesAnswer`] for the class now (speed limit, turn allowed, right on red, closure + merge lane, reserved lane, stop) | lane from `corridor_hdmap::LaneMatcher` with position and heading; rules from `corridor_rules::CompiledRules` |
//! | [`Corridor::objects_in_ego`]`(ix, pose, now)` | [`EgoObjects`]: each object's position and velocity in the ego frame (x forward, y left), covariance `R P R^T`, distance, age, `stale` flag | extrapolated to `now` with the track's velocity; lane ids are borrowed from the state (`into_owned()` to keep the answer; `Vehicle` returns it owned) |
//! | [`Corridor::in_path`]`(pose, class, options, now)` | [`InPath`]: objects whose constant-velocity prediction over `options.horizon_s` enters the ego lane ahead, the connection's internal lanes and egress, or its conflict zones; soonest first | objects within `ego_radius_m` are taken as the ego itself |
//! | [`Corridor::hazards`]`(now)` | [`Hazard`]s: events of the intersections ahead, most severe first, with `on_route_lane` when the route's lanes are known | events expire after `event_ttl_s` |
//!
//! Every answer has a [`Provenance`]: intersection, RSU, sequence number, map and rules
//! version, capture time, `age_s` at the query, and `confidence` (state freshness
//! `1 - age/window`; for lanes also the lateral offset, halved when the connection is a guess).
//!
//! # 3. Statuses: gaps, restarts, staleness, map changes
//!
//! - [`Corridor::usability`]: [`Usability::Usable`], `NoState`, `Stale` (older than
//!   [`CorridorConfig::freshness_s`], default 0.5 s), `MapPending`, `MapRejected`. Queries
//!   return [`QueryError::Unusable`] with it instead of an answer.
//! - [`Corridor::poll_status`] / [`Vehicle::poll_status`]: [`StatusEvent`]s in order:
//!   `SequenceGap { missed }`, `RsuRestart`, `MapVersionChanged { from, to }`, `MapReady`,
//!   `RulesReady`, `BundleRejected`, `BecameStale`, `Passed`.
//! - each [`StateUpdate`] carries its [`Continuity`] (`First`, `Continuous`, `Gap`, `Restart`);
//!   [`SdkStats`] counts received / accepted / dropped by reason / gaps / restarts.
//!
//! # 4. Errors
//!
//! [`QueryError`] (no answer: off route, unusable, WGS84 pose against a map without a geo
//! origin, rules query failure), [`KnowledgeError`] (a map or rules bundle refused, naming
//! the intersection, version, file and line), [`RouteError`] (polyline too short, not
//! finite, no geo origin), [`SdkError`] (zenoh, no reply), [`DropReason`] (why a sample was
//! dropped; its `label()` is the counter name).
//!
//! # 5. Trust: verifying what the vehicle receives
//!
//! Give the vehicle the region's root public key (`root.pub`) and, optionally, a trust bundle
//! (`trust.bundle`; both from `cloud-control keys ...`, see `docs/security.md`):
//!
//! ```no_run
//! # async fn demo(zcfg: zenoh::Config) -> Result<(), Box<dyn std::error::Error>> {
//! use corridor_sdk::{TrustVerifier, Vehicle, VehicleConfig};
//! let trust = TrustVerifier::from_files("keys/root.pub".as_ref(), Some("keys/trust.bundle".as_ref()))?;
//! let cfg = VehicleConfig::new("demo".parse()?, vec!["ix-a".parse()?], zcfg).trust(trust);
//! let vehicle = Vehicle::connect(cfg, None).await?;
//! let stats = vehicle.stats(); // verified, unverified, held, dropped by reason
//! # Ok(()) }
//! ```
//!
//! Then every state and event passes `corridor_security::StateGuard` before it is decoded for
//! the application: signature, signer certified for that intersection, certificate valid and
//! not revoked, freshness (200 ms + 50 ms clock offset), replay window; a refused sample is
//! counted in [`SdkStats::dropped`] under its reason (`bad_signature`, `not_certified`,
//! `revoked`, `stale`, `replay`, ...) and never reaches a callback or a query. A verified state
//! naming a map the vehicle does not hold is *held* ([`SdkStats::held`],
//! [`Usability::MapPending`]) while the map is fetched by hash, checked (cloud signature, then
//! content hash) and put in force; maps and rules bundles not signed by a cloud certificate are
//! refused ([`SdkStats::cloud_rejected`]). The vehicle fetches the trust bundle from
//! `corridor/{region}/cloud/trust` at start and applies every published update (a revocation
//! takes effect on the next sample), caching it in the cache dir. With the sans-IO core set
//! [`CorridorConfig::trust`]; details in [`trust`]. Without a verifier the SDK accepts unsigned
//! data (the [`SampleVerifier`] hook can also take a custom verifier).
//!
//! # Examples
//!
//! `examples/minimal_vehicle.rs` (time to green and speed limit for its lane),
//! `examples/planner.rs` (polyline route, objects in path, time to change, rules, statuses,
//! hazards), `examples/python_vehicle.py` (the same from Python).
#![forbid(unsafe_code)]

pub mod core;
pub mod corridor;
pub mod intake;
pub mod knowledge;
pub mod query;
pub mod ros2;
pub mod route;
pub mod testkit;
pub mod trust;
#[cfg(feature = "zenoh")]
pub mod vehicle;

pub use crate::core::{
    Continuity, DropReason, Refusal, SampleVerifier, SdkStats, StateCache, StateUpdate, MAX_STATE_RATE_HZ,
};
pub use crate::corridor::{Corridor, CorridorConfig, FetchRequest, QueryError, StatusEvent, Usability};
pub use crate::knowledge::{Knowledge, KnowledgeError, MapStore};
pub use crate::query::{
    ConnectionAnswer, ConnectionChoice, EgoObject, EgoObjects, Hazard, InPath, InPathObject, InPathOptions, LaneAnswer,
    PathZone, Provenance, RulesAnswer, SignalAnswer, TimeToChange,
};
pub use crate::route::{EgoPose, Position, Route, RouteError, RouteStop};
pub use crate::trust::TrustVerifier;
pub use corridor_rules::VehicleClass;
#[cfg(feature = "zenoh")]
pub use vehicle::{SdkError, StateCallback, Vehicle, VehicleConfig};
