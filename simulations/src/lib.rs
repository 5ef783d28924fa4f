//! corridor simulations: a built-in corridor of signalized intersections,
//! simulated roadside sensors, and scoring against ground truth.
//!
//! - [`world`]: the deterministic traffic world (vehicles that turn and queue, pedestrians).
//! - [`mapworld`]: traffic on an HD map (lanes, connections, SUMO fixed-time programmes).
//! - [`run`]: `corridor-sim run --scenario`: a scenario end to end over zenoh.
//! - [`scenario`]: scenario files (TOML) and the built-in scenarios.
//! - [`signals`]: fixed-time signal plans and the SPaT they produce.
//! - [`sensors`]: lidar and camera models with the default acceptance profiles.
//! - [`score`]: MOTChallenge-style CSV and CLEAR MOT / IDF1 scoring.
//! - [`control`]: the control plane of a run: cloud-control in-process, RSUs synced from it,
//!   the scripted `cloud_down` / `rsu_restart` faults, the `cloud` and `faults` report sections.
//! - [`demo`]: the end-to-end demo: sensors, RSUs and vehicles as zenoh peers on loopback.
//! - [`sumo`]: SUMO co-simulation: one RSU per traffic-light junction of a SUMO scenario.
#![forbid(unsafe_code)]

pub mod control;
pub mod demo;
pub mod mapworld;
pub mod run;
pub mod scenario;
pub mod score;
pub mod sensors;
pub mod signals;
pub mod sumo;
pub mod world;
