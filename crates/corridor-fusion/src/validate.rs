//! Validation of incoming frames and detections, with typed, countable reasons.
//!
//! A bad frame (unknown sensor, wrong kind, timestamp from the future, too late, too large) is
//! refused whole with a [`FrameRejection`]; a bad detection (NaN/inf, absurd size, speed or
//! position, broken covariance) is refused alone with a [`DetectionRejection`] and the rest of
//! the frame is used. Every refusal is counted per sensor in [`crate::FusionStats`].

use corridor_model::detection::SensorKind;
use corridor_model::{Detection, SensorId, Validate};
use serde::{Deserialize, Serialize};

use crate::config::FusionConfig;

/// Why a whole frame was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameRejection {
    /// The frame names a sensor that is not configured.
    #[error("unknown sensor `{0}`")]
    UnknownSensor(SensorId),
    /// The frame's kind differs from the configured kind of its sensor.
    #[error("sensor `{sensor}` is configured as {expected:?} but the frame says {got:?}")]
    KindMismatch {
        /// The sensor.
        sensor: SensorId,
        /// Its configured kind.
        expected: SensorKind,
        /// The kind in the frame.
        got: SensorKind,
    },
    /// The capture time is further ahead of the receive time than `max_future_s`.
    #[error("capture time is {ahead_s:.3} s ahead of the receive time")]
    FutureTimestamp {
        /// How far ahead, s.
        ahead_s: f64,
    },
    /// The frame is older than what has been processed and cannot be fused any more.
    #[error("frame is {late_s:.3} s older than the newest processed frame")]
    TooLate {
        /// How late, s.
        late_s: f64,
    },
    /// The same frame (capture time and sequence number) as the sensor's previous one: a
    /// duplicate delivery.
    #[error("duplicate of the previous frame")]
    Duplicate,
    /// The frame has more detections than `max_detections_per_frame`.
    #[error("frame has {0} detections, more than allowed")]
    TooManyDetections(usize),
}

impl FrameRejection {
    /// The reason without its payload, for counting.
    pub fn kind(&self) -> FrameRejectionKind {
        match self {
            FrameRejection::UnknownSensor(_) => FrameRejectionKind::UnknownSensor,
            FrameRejection::KindMismatch { .. } => FrameRejectionKind::KindMismatch,
            FrameRejection::FutureTimestamp { .. } => FrameRejectionKind::FutureTimestamp,
            FrameRejection::TooLate { .. } => FrameRejectionKind::TooLate,
            FrameRejection::TooManyDetections(_) => FrameRejectionKind::TooManyDetections,
            FrameRejection::Duplicate => FrameRejectionKind::Duplicate,
        }
    }
}

/// [`FrameRejection`] without payload: a key for counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FrameRejectionKind {
    /// See [`FrameRejection::UnknownSensor`].
    UnknownSensor,
    /// See [`FrameRejection::KindMismatch`].
    KindMismatch,
    /// See [`FrameRejection::FutureTimestamp`].
    FutureTimestamp,
    /// See [`FrameRejection::TooLate`].
    TooLate,
    /// See [`FrameRejection::TooManyDetections`].
    TooManyDetections,
    /// See [`FrameRejection::Duplicate`].
    Duplicate,
}

/// Why one detection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DetectionRejection {
    /// A NaN or infinite number anywhere.
    #[error("NaN or infinite value")]
    NonFinite,
    /// Position too far from the intersection or too high/low.
    #[error("absurd position")]
    AbsurdPosition,
    /// Speed above the class's plausible maximum.
    #[error("absurd speed")]
    AbsurdSpeed,
    /// Negative or implausibly large box.
    #[error("absurd size")]
    AbsurdSize,
    /// Covariance with negative variance, asymmetric or not positive semi-definite.
    #[error("invalid covariance")]
    InvalidCovariance,
    /// Confidence outside 0..=1, or another out-of-range field.
    #[error("invalid field")]
    InvalidField,
}

/// Checks one detection in the sensor frame (field sanity, covariance, size, speed).
/// The position relative to the intersection is checked after the transform
/// ([`check_enu_position`]).
pub fn check_detection(det: &Detection, cfg: &FusionConfig) -> Result<(), DetectionRejection> {
    // `Validate::validate` renders field names eagerly; run it only to name a failure.
    if !fast_model_checks(det) {
        return Err(match det.validate() {
            Err(field) => classify_field(&field.field, field.reason),
            Ok(()) => DetectionRejection::InvalidField,
        });
    }
    let c = &det.position_cov;
    let scale = c.diagonal().amax().max(1e-12);
    if (c - c.transpose()).amax() > 1e-6 * scale {
        return Err(DetectionRejection::InvalidCovariance);
    }
    // 2x2 and 3x3 leading minors must not be (clearly) negative: PSD check by Sylvester on the
    // symmetric matrix with a relative tolerance.
    let m2 = c[(0, 0)] * c[(1, 1)] - c[(0, 1)] * c[(1, 0)];
    if m2 < -1e-9 * scale * scale || c.determinant() < -1e-9 * scale * scale * scale {
        return Err(DetectionRejection::InvalidCovariance);
    }
    if let Some(s) = det.size_m {
        let dims = [f64::from(s.length_m), f64::from(s.width_m), f64::from(s.height_m)];
        if dims.iter().zip(cfg.max_size_m.iter()).any(|(d, max)| *d > *max) {
            return Err(DetectionRejection::AbsurdSize);
        }
    }
    if let Some(v) = det.velocity_mps {
        if v.xy().norm() > cfg.max_speed_mps.get(det.class) {
            return Err(DetectionRejection::AbsurdSpeed);
        }
    }
    Ok(())
}

/// The same checks as `corridor_model`'s `Validate for Detection`, without allocating:
/// true when they all pass.
fn fast_model_checks(det: &Detection) -> bool {
    use corridor_model::object::{MAX_RANGE_M, MAX_SIZE_M, MAX_SPEED_MPS};
    let ok = |v: f64, max: f64| v.is_finite() && v.abs() <= max;
    det.position_m.iter().all(|v| ok(*v, MAX_RANGE_M))
        && det.position_cov.iter().all(|v| ok(*v, 1.0e6))
        && (0..3).all(|i| det.position_cov[(i, i)] >= 0.0)
        && det.velocity_mps.is_none_or(|v| v.iter().all(|c| ok(*c, MAX_SPEED_MPS)))
        && det.heading_rad.is_none_or(|h| ok(h, 4.0 * std::f64::consts::PI))
        && det.size_m.is_none_or(|s| {
            [s.length_m, s.width_m, s.height_m].iter().all(|v| ok(f64::from(*v), MAX_SIZE_M) && *v >= 0.0)
        })
        && ok(f64::from(det.class_confidence), 1.0)
        && det.class_confidence >= 0.0
}

/// Checks a detection's ENU position against the intersection's plausible volume.
pub fn check_enu_position(x_m: f64, y_m: f64, z_m: f64, cfg: &FusionConfig) -> Result<(), DetectionRejection> {
    if !(x_m.is_finite() && y_m.is_finite() && z_m.is_finite()) {
        return Err(DetectionRejection::NonFinite);
    }
    if x_m.hypot(y_m) > cfg.max_distance_from_origin_m || z_m.abs() > cfg.max_abs_height_m {
        return Err(DetectionRejection::AbsurdPosition);
    }
    Ok(())
}

/// Maps a failed `corridor_model::Validate` check onto a reason.
fn classify_field(field: &str, reason: &str) -> DetectionRejection {
    if reason == "not finite" {
        DetectionRejection::NonFinite
    } else if field.starts_with("position_cov") {
        DetectionRejection::InvalidCovariance
    } else if field.starts_with("position_m") {
        DetectionRejection::AbsurdPosition
    } else if field.starts_with("velocity_mps") {
        DetectionRejection::AbsurdSpeed
    } else if field.starts_with("size_m") {
        DetectionRejection::AbsurdSize
    } else {
        DetectionRejection::InvalidField
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corridor_model::{ObjectClass, Size3};
    use nalgebra::{Matrix3, Vector3};

    fn det() -> Detection {
        Detection {
            class: ObjectClass::Car,
            class_confidence: 0.9,
            position_m: Vector3::new(10.0, 2.0, -5.0),
            position_cov: Matrix3::from_diagonal_element(0.02),
            velocity_mps: None,
            heading_rad: None,
            size_m: Some(Size3::new(4.5, 1.8, 1.5)),
        }
    }

    #[test]
    fn each_bad_field_has_its_reason() {
        let cfg = FusionConfig::default();
        assert_eq!(check_detection(&det(), &cfg), Ok(()));
        type Mutation = Box<dyn Fn(&mut Detection)>;
        let cases: Vec<(Mutation, DetectionRejection)> = vec![
            (Box::new(|d| d.position_m.x = f64::NAN), DetectionRejection::NonFinite),
            (Box::new(|d| d.position_cov[(1, 1)] = f64::INFINITY), DetectionRejection::NonFinite),
            (Box::new(|d| d.position_m.y = 1e7), DetectionRejection::AbsurdPosition),
            (Box::new(|d| d.position_cov[(0, 0)] = -1.0), DetectionRejection::InvalidCovariance),
            (Box::new(|d| d.position_cov[(0, 1)] = 0.5), DetectionRejection::InvalidCovariance),
            (
                Box::new(|d| {
                    d.position_cov[(0, 1)] = 0.5;
                    d.position_cov[(1, 0)] = 0.5;
                }),
                DetectionRejection::InvalidCovariance,
            ),
            (Box::new(|d| d.size_m = Some(Size3::new(4.0, 12.0, 1.5))), DetectionRejection::AbsurdSize),
            (Box::new(|d| d.size_m = Some(Size3::new(-1.0, 1.0, 1.5))), DetectionRejection::AbsurdSize),
            (Box::new(|d| d.velocity_mps = Some(Vector3::new(65.0, 0.0, 0.0))), DetectionRejection::AbsurdSpeed),
            (Box::new(|d| d.class_confidence = 1.5), DetectionRejection::InvalidField),
        ];
        for (i, (mutate, want)) in cases.into_iter().enumerate() {
            let mut d = det();
            mutate(&mut d);
            assert_eq!(check_detection(&d, &cfg), Err(want), "case {i}");
        }
        // a pedestrian at car speed is absurd, a car is not
        let mut d = det();
        d.velocity_mps = Some(Vector3::new(20.0, 0.0, 0.0));
        assert_eq!(check_detection(&d, &cfg), Ok(()));
        d.class = ObjectClass::Pedestrian;
        assert_eq!(check_detection(&d, &cfg), Err(DetectionRejection::AbsurdSpeed));
    }

    #[test]
    fn enu_position_bounds() {
        let cfg = FusionConfig::default();
        assert_eq!(check_enu_position(100.0, -50.0, 0.5, &cfg), Ok(()));
        assert_eq!(check_enu_position(500.0, 0.0, 0.0, &cfg), Err(DetectionRejection::AbsurdPosition));
        assert_eq!(check_enu_position(0.0, 0.0, -40.0, &cfg), Err(DetectionRejection::AbsurdPosition));
        assert_eq!(check_enu_position(f64::NAN, 0.0, 0.0, &cfg), Err(DetectionRejection::NonFinite));
    }
}
