//! Detections: what one sensor reports about one instant.
//!
//! A [`DetectionFrame`] holds every detection a sensor produced from one
//! capture, in the **sensor's own frame** (x forward, y left, z up), stamped
//! with the sensor's capture time (the sensor's clock, which may be skewed).
//! The RSU places it in the intersection frame with the sensor's extrinsics.

use nalgebra::{Matrix3, Vector3};
use serde::{Deserialize, Serialize};

use crate::ids::SensorId;
use crate::object::{ObjectClass, Size3, MAX_RANGE_M, MAX_SPEED_MPS};
use crate::time::Timestamp;
use crate::{check_f64, InvalidField, Validate};

/// What kind of sensor produced a frame; it sets the measurement noise model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SensorKind {
    /// Lidar: good range, good position in every direction, weaker class.
    Lidar,
    /// Camera: good bearing and class, poor range.
    Camera,
    /// Radar: good range and radial speed.
    Radar,
}

impl SensorKind {
    /// Every kind, in wire order (the flat detection frame writes a kind as its index here).
    pub const ALL: [SensorKind; 3] = [SensorKind::Lidar, SensorKind::Camera, SensorKind::Radar];
}

/// One detected object in the sensor frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// Class as the sensor's perception reports it.
    pub class: ObjectClass,
    /// Confidence of the class, 0..=1.
    pub class_confidence: f32,
    /// Object centre in the sensor frame, metres.
    pub position_m: Vector3<f64>,
    /// Measurement covariance of `position_m` in the sensor frame, m^2.
    pub position_cov: Matrix3<f64>,
    /// Measured velocity in the sensor frame, if the sensor measures it.
    pub velocity_mps: Option<Vector3<f64>>,
    /// Heading in the sensor frame (radians), if measured.
    pub heading_rad: Option<f64>,
    /// Box size, if measured.
    pub size_m: Option<Size3>,
}

/// Every detection from one capture of one sensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectionFrame {
    /// The sensor.
    pub sensor: SensorId,
    /// Its kind.
    pub kind: SensorKind,
    /// The sensor's own frame counter.
    pub frame_seq: u64,
    /// Capture time on the sensor's clock.
    pub capture_time: Timestamp,
    /// The detections.
    pub detections: Vec<Detection>,
}

impl Validate for Detection {
    fn validate(&self) -> Result<(), InvalidField> {
        for (i, v) in self.position_m.iter().enumerate() {
            check_f64(format_args!("position_m[{i}]"), *v, MAX_RANGE_M)?;
        }
        for (i, v) in self.position_cov.iter().enumerate() {
            check_f64(format_args!("position_cov[{i}]"), *v, 1.0e6)?;
        }
        for i in 0..3 {
            if self.position_cov[(i, i)] < 0.0 {
                return Err(InvalidField::out_of_range(
                    format!("position_cov[{i},{i}]"),
                    self.position_cov[(i, i)],
                    "negative variance",
                ));
            }
        }
        if let Some(v) = &self.velocity_mps {
            for (i, c) in v.iter().enumerate() {
                check_f64(format_args!("velocity_mps[{i}]"), *c, MAX_SPEED_MPS)?;
            }
        }
        if let Some(h) = self.heading_rad {
            check_f64("heading_rad", h, 4.0 * std::f64::consts::PI)?;
        }
        if let Some(s) = &self.size_m {
            s.validate()?;
        }
        check_f64("class_confidence", f64::from(self.class_confidence), 1.0)?;
        if self.class_confidence < 0.0 {
            return Err(InvalidField::out_of_range("class_confidence", self.class_confidence, "negative confidence"));
        }
        Ok(())
    }
}

impl Validate for DetectionFrame {
    /// Checks every detection; the first bad one is named by index (`detections[3].position_m[0]`).
    fn validate(&self) -> Result<(), InvalidField> {
        for (i, d) in self.detections.iter().enumerate() {
            d.validate().map_err(|e| InvalidField { field: format!("detections[{i}].{}", e.field), ..e })?;
        }
        Ok(())
    }
}
