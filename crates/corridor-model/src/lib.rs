//! corridor's domain model: the nouns every other crate speaks.
//!
//! This crate is **sans-IO**: no tokio, no zenoh, no wall clock inside. Time
//! enters through [`time::Clock`], positions are typed by frame, and every
//! identifier that ends up in a Zenoh key is validated at construction so a
//! key built from it is always well formed.
//!
//! | module | what it holds |
//! |---|---|
//! | [`ids`] | typed ids: region, intersection, RSU, sensor, track, lane, signal group |
//! | [`time`] | UTC-nanosecond [`time::Timestamp`], [`time::Clock`] with a manual clock for tests |
//! | [`frames`] | WGS84 origin <-> local ENU, sensor extrinsics as isometries |
//! | [`detection`] | what a sensor reports: one frame of detections in the sensor frame |
//! | [`object`] | what the RSU publishes: a tracked object in the intersection ENU frame |
//! | [`signal`] | signal group phases, modelled on SAE J2735 SPaT `MovementPhaseState` |
//! | [`state`] | the digital intersection state: objects + signals + map version |
//! | [`event`] | hazards, violations and RSU faults (never lost: queued, acknowledged, idempotent by id) |
//!
//! Units and frames are in field names (`position_m`, `speed_mps`, `heading_rad`),
//! transforms are named `enu_from_sensor` so `p_enu = enu_from_sensor * p_sensor`.
#![forbid(unsafe_code)]

pub mod detection;
pub mod event;
pub mod frames;
pub mod ids;
pub mod object;
pub mod sample;
pub mod signal;
pub mod state;
pub mod time;

pub use detection::{Detection, DetectionFrame};
pub use event::{Event, EventId, EventKind, Severity};
pub use frames::{EnuFrame, GeoPoint, SensorExtrinsics};
pub use ids::{IdError, IntersectionId, LaneId, RegionId, RsuId, SensorId, SignalGroupId, TrackId};
pub use object::{ObjectClass, SensorList, Size3, TrackedObject};
pub use signal::{MovementPhaseState, SignalFrame, SignalGroupState, TimeChangeDetails};
pub use state::{IntersectionState, MapVersion};
pub use time::{Clock, ManualClock, SystemClock, Timestamp};

/// A value that must be finite and within physical bounds before it is
/// accepted from outside (decoders, simulators, sensors).
pub trait Validate {
    /// Returns the first offending field and its value, if any.
    fn validate(&self) -> Result<(), InvalidField>;
}

/// A field that failed validation, with its path and value rendered for humans.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid field `{field}`: {value} ({reason})")]
pub struct InvalidField {
    /// Dotted path of the field, e.g. `objects[3].position_m.x`.
    pub field: String,
    /// The offending value, rendered.
    pub value: String,
    /// Why it is invalid.
    pub reason: &'static str,
}

impl InvalidField {
    /// A field that is NaN or infinite.
    pub fn non_finite(field: impl Into<String>, value: f64) -> Self {
        Self { field: field.into(), value: value.to_string(), reason: "not finite" }
    }

    /// A field outside its physical range.
    pub fn out_of_range(field: impl Into<String>, value: impl ToString, reason: &'static str) -> Self {
        Self { field: field.into(), value: value.to_string(), reason }
    }
}

/// Checks that `v` is finite and `|v| <= max_abs`. The field name is only rendered on failure
/// (pass `format_args!`), so validating a 200-object state allocates nothing.
#[inline]
pub(crate) fn check_f64(field: impl std::fmt::Display, v: f64, max_abs: f64) -> Result<(), InvalidField> {
    if v.abs() <= max_abs {
        return Ok(()); // false for NaN; the common case stays one comparison
    }
    field_error(field, v, max_abs)
}

#[cold]
fn field_error(field: impl std::fmt::Display, v: f64, max_abs: f64) -> Result<(), InvalidField> {
    if !v.is_finite() {
        return Err(InvalidField::non_finite(field.to_string(), v));
    }
    if v.abs() > max_abs {
        return Err(InvalidField::out_of_range(field.to_string(), v, "magnitude too large"));
    }
    Ok(())
}
