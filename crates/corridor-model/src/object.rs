//! Tracked objects: what an RSU publishes about each road user it tracks.

use nalgebra::{Matrix4, Vector3};
use serde::{Deserialize, Serialize};

use crate::ids::{LaneId, SensorId, TrackId};
use crate::time::Timestamp;
use crate::{check_f64, InvalidField, Validate};

/// What kind of road user an object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ObjectClass {
    /// Not classified (yet).
    Unknown,
    /// Passenger car, van, taxi.
    Car,
    /// Bus.
    Bus,
    /// Truck, lorry.
    Truck,
    /// Motorcycle, scooter.
    Motorcycle,
    /// Bicycle with rider.
    Cyclist,
    /// Person on foot.
    Pedestrian,
}

impl ObjectClass {
    /// Every class, in wire order.
    pub const ALL: [ObjectClass; 7] = [
        ObjectClass::Unknown,
        ObjectClass::Car,
        ObjectClass::Bus,
        ObjectClass::Truck,
        ObjectClass::Motorcycle,
        ObjectClass::Cyclist,
        ObjectClass::Pedestrian,
    ];

    /// The class's name as used in CSV and JSON (`car`, `pedestrian`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectClass::Unknown => "unknown",
            ObjectClass::Car => "car",
            ObjectClass::Bus => "bus",
            ObjectClass::Truck => "truck",
            ObjectClass::Motorcycle => "motorcycle",
            ObjectClass::Cyclist => "cyclist",
            ObjectClass::Pedestrian => "pedestrian",
        }
    }

    /// Parses a name written by [`ObjectClass::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// True for road users that walk or ride without a body (pedestrian, cyclist).
    pub fn is_vulnerable(self) -> bool {
        matches!(self, ObjectClass::Pedestrian | ObjectClass::Cyclist | ObjectClass::Motorcycle)
    }
}

/// Bounding box size in metres.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Size3 {
    /// Along the heading.
    pub length_m: f32,
    /// Across the heading.
    pub width_m: f32,
    /// Vertical.
    pub height_m: f32,
}

impl Size3 {
    /// A box of the given size.
    pub const fn new(length_m: f32, width_m: f32, height_m: f32) -> Self {
        Self { length_m, width_m, height_m }
    }
}

/// The largest object size accepted from outside, metres (an articulated bus is ~25 m).
pub const MAX_SIZE_M: f64 = 40.0;
/// The largest speed accepted from outside, m/s (~250 km/h).
pub const MAX_SPEED_MPS: f64 = 70.0;
/// The largest distance from the intersection origin accepted, metres.
pub const MAX_RANGE_M: f64 = 10_000.0;

impl Validate for Size3 {
    fn validate(&self) -> Result<(), InvalidField> {
        for (name, v) in
            [("size_m.length_m", self.length_m), ("size_m.width_m", self.width_m), ("size_m.height_m", self.height_m)]
        {
            check_f64(name, f64::from(v), MAX_SIZE_M)?;
            if v < 0.0 {
                return Err(InvalidField::out_of_range(name, v, "negative size"));
            }
        }
        Ok(())
    }
}

/// The sensors behind a track: a small vector, inline up to four ids (`smallvec`: well kept, and
/// `Vec`-like: build one with `.collect()`, `.into()` from a `Vec`, or `SensorList::new()`).
pub type SensorList = smallvec::SmallVec<[SensorId; 4]>;

/// One tracked road user in the intersection's ENU frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackedObject {
    /// Stable id, never reused by the producing RSU.
    pub track_id: TrackId,
    /// Most likely class.
    pub class: ObjectClass,
    /// Probability of `class`, 0..=1.
    pub class_confidence: f32,
    /// Centre of the object, ENU metres.
    pub position_m: Vector3<f64>,
    /// Velocity, ENU m/s.
    pub velocity_mps: Vector3<f64>,
    /// Heading, radians counter-clockwise from east.
    pub heading_rad: f64,
    /// Bounding box.
    pub size_m: Size3,
    /// Covariance of the ground-plane state `[x, y, vx, vy]` (m, m/s).
    pub covariance: Matrix4<f32>,
    /// When the track was created.
    pub first_seen: Timestamp,
    /// When a detection last updated it.
    pub last_updated: Timestamp,
    /// Which sensors have contributed to this track: a set, kept sorted by name (the wire
    /// decodes it in name order). Inline up to four (the usual pole
    /// layout), so a state of 200 objects does not cost 200 heap allocations to build or decode.
    pub sensors: SensorList,
    /// The lane it was matched to, if any.
    pub lane: Option<LaneId>,
}

impl TrackedObject {
    /// Age of the track at `t`, seconds.
    pub fn age_s(&self, t: Timestamp) -> f64 {
        t.secs_since(self.first_seen)
    }

    /// Ground speed, m/s.
    pub fn speed_mps(&self) -> f64 {
        self.velocity_mps.xy().norm()
    }
}

impl TrackedObject {
    /// Every check of [`Validate::validate`] as one branch-free expression: the common case (a
    /// valid object) costs a few dozen comparisons; only a failure takes the path that finds and
    /// names the field.
    #[inline]
    fn is_plainly_valid(&self) -> bool {
        let p = &self.position_m;
        let v = &self.velocity_mps;
        let s = &self.size_m;
        let size_ok = |x: f32| (0.0..=MAX_SIZE_M as f32).contains(&x);
        let cov_ok = self.covariance.iter().fold(true, |ok, c| ok & c.is_finite());
        (p.x.abs() <= MAX_RANGE_M)
            & (p.y.abs() <= MAX_RANGE_M)
            & (p.z.abs() <= MAX_RANGE_M)
            & (v.x.abs() <= MAX_SPEED_MPS)
            & (v.y.abs() <= MAX_SPEED_MPS)
            & (v.z.abs() <= MAX_SPEED_MPS)
            & (self.heading_rad.abs() <= 4.0 * std::f64::consts::PI)
            & (self.class_confidence.abs() <= 1.0)
            & size_ok(s.length_m)
            & size_ok(s.width_m)
            & size_ok(s.height_m)
            & cov_ok
    }
}

impl Validate for TrackedObject {
    fn validate(&self) -> Result<(), InvalidField> {
        if self.is_plainly_valid() {
            return Ok(());
        }
        let id = self.track_id;
        for (i, v) in self.position_m.iter().enumerate() {
            check_f64(format_args!("objects[{id}].position_m[{i}]"), *v, MAX_RANGE_M)?;
        }
        for (i, v) in self.velocity_mps.iter().enumerate() {
            check_f64(format_args!("objects[{id}].velocity_mps[{i}]"), *v, MAX_SPEED_MPS)?;
        }
        check_f64(format_args!("objects[{id}].heading_rad"), self.heading_rad, 4.0 * std::f64::consts::PI)?;
        check_f64(format_args!("objects[{id}].class_confidence"), f64::from(self.class_confidence), 1.0)?;
        self.size_m.validate().map_err(|e| InvalidField { field: format!("objects[{id}].{}", e.field), ..e })?;
        if let Some(v) = self.covariance.iter().find(|v| !v.is_finite()) {
            return Err(InvalidField::non_finite(format!("objects[{id}].covariance"), f64::from(*v)));
        }
        Ok(())
    }
}
