//! Calibration: a sensor-frame detection placed in the intersection ENU frame.
//!
//! The mean moves with the sensor's extrinsic isometry (`p_enu = enu_from_sensor * p_sensor`)
//! and the covariance **rotates** with it (`C_enu = R C_sensor R^T`; a translation does not
//! change a covariance). A camera's elongated along-ray ellipse therefore keeps pointing along
//! the ray in ENU. When a detection carries no usable covariance (zero or not positive
//! definite), the sensor kind's noise profile from [`FusionConfig`] is used instead: lidar
//! isotropic, camera `sigma_range = frac * range` along the ray and `sigma_lateral` across it.
//! Tracking runs on the ground plane, so the ENU covariance is marginalised to its x-y block.

use corridor_model::detection::SensorKind;
use corridor_model::{Detection, ObjectClass, SensorExtrinsics, Size3};
use nalgebra::{Matrix2, Matrix3, Vector2, Vector3};

use crate::config::FusionConfig;
use crate::validate::{check_enu_position, DetectionRejection};

/// One detection in the ENU frame, ready for association.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// Ground-plane position, ENU m.
    pub xy_m: Vector2<f64>,
    /// Height of the box centre, ENU m.
    pub z_m: f64,
    /// Covariance of `xy_m`, m^2 (symmetric positive definite).
    pub cov_xy: Matrix2<f64>,
    /// Class as reported.
    pub class: ObjectClass,
    /// Its confidence, 0..=1.
    pub class_confidence: f64,
    /// Heading in ENU (radians, CCW from east), if measured.
    pub heading_rad: Option<f64>,
    /// Velocity in ENU, if measured.
    pub velocity_mps: Option<Vector2<f64>>,
    /// Box size, if measured.
    pub size_m: Option<Size3>,
}

/// Sensor-frame covariance from the kind's noise profile, for detections without one.
pub fn profile_covariance(kind: SensorKind, p_sensor: &Vector3<f64>, cfg: &FusionConfig) -> Matrix3<f64> {
    match kind {
        SensorKind::Lidar => Matrix3::from_diagonal_element(cfg.lidar_sigma_m.powi(2)),
        SensorKind::Radar => Matrix3::from_diagonal_element(cfg.radar_sigma_m.powi(2)),
        SensorKind::Camera => {
            let range_m = p_sensor.norm();
            let lat2 = cfg.camera_lateral_sigma_m.powi(2);
            if range_m < 1e-3 {
                return Matrix3::from_diagonal_element(lat2);
            }
            let u = p_sensor / range_m;
            let along2 = (cfg.camera_range_sigma_frac * range_m).powi(2).max(lat2);
            let uut = u * u.transpose();
            uut * along2 + (Matrix3::identity() - uut) * lat2
        }
    }
}

/// Places `det` (from a sensor of `kind` at `ext`) in ENU. Expects a detection that passed
/// [`crate::validate::check_detection`].
pub fn to_enu(
    det: &Detection,
    kind: SensorKind,
    pose: &SensorPose,
    cfg: &FusionConfig,
) -> Result<Measurement, DetectionRejection> {
    let p_enu = pose.rotation * det.position_m + pose.translation_m;
    check_enu_position(p_enu.x, p_enu.y, p_enu.z, cfg)?;
    let c = &det.position_cov;
    // positive definite by Sylvester's criterion (the matrix is symmetric: validated before)
    let m2 = c[(0, 0)] * c[(1, 1)] - c[(0, 1)] * c[(1, 0)];
    let usable = c[(0, 0)] > 1e-8 && c[(1, 1)] > 1e-8 && c[(2, 2)] > 1e-8 && m2 > 0.0 && c.determinant() > 0.0;
    let cov_sensor = if usable { *c } else { profile_covariance(kind, &det.position_m, cfg) };
    // only the ground-plane block of R C R^T is needed: R_xy C R_xy^T
    let r_xy = pose.rotation.fixed_view::<2, 3>(0, 0);
    let cov_enu_xy = r_xy * cov_sensor * r_xy.transpose();
    let floor = cfg.min_position_sigma_m.powi(2);
    let cov_xy = (cov_enu_xy + cov_enu_xy.transpose()) * 0.5 + Matrix2::from_diagonal_element(floor);
    let heading_rad = det.heading_rad.map(|h| wrap_angle(h + pose.yaw_rad));
    let velocity_mps = det.velocity_mps.map(|v| (pose.rotation * v).xy());
    Ok(Measurement {
        xy_m: p_enu.xy(),
        z_m: p_enu.z,
        cov_xy,
        class: det.class,
        class_confidence: f64::from(det.class_confidence).clamp(0.0, 1.0),
        heading_rad,
        velocity_mps,
        size_m: det.size_m,
    })
}

/// A sensor's extrinsics in the form the hot path uses: the rotation as a matrix, the
/// translation and the yaw, computed once per sensor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SensorPose {
    /// `R` of `enu_from_sensor`.
    pub rotation: Matrix3<f64>,
    /// The sensor's position in ENU, m.
    pub translation_m: Vector3<f64>,
    /// The sensor's heading in ENU, radians CCW from east.
    pub yaw_rad: f64,
}

impl SensorPose {
    /// Precomputes `ext`.
    pub fn new(ext: &SensorExtrinsics) -> Self {
        Self {
            rotation: *ext.enu_from_sensor.rotation.to_rotation_matrix().matrix(),
            translation_m: ext.enu_from_sensor.translation.vector,
            yaw_rad: ext.yaw_rad(),
        }
    }
}

/// Wraps an angle to (-pi, pi].
pub fn wrap_angle(a: f64) -> f64 {
    let two_pi = std::f64::consts::TAU;
    let mut r = a.rem_euclid(two_pi);
    if r > std::f64::consts::PI {
        r -= two_pi;
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det_at(p: Vector3<f64>, cov: Matrix3<f64>) -> Detection {
        Detection {
            class: ObjectClass::Car,
            class_confidence: 0.8,
            position_m: p,
            position_cov: cov,
            velocity_mps: Some(Vector3::new(1.0, 0.0, 0.0)),
            heading_rad: Some(0.0),
            size_m: None,
        }
    }

    #[test]
    fn camera_ellipse_rotates_with_the_sensor() {
        let cfg = FusionConfig { min_position_sigma_m: 0.0, ..FusionConfig::default() };
        // camera at (-30, -30) looking north-east (yaw 45 deg); object 40 m straight ahead
        let ext = SensorExtrinsics::from_pose(Vector3::new(-30.0, -30.0, 6.0), std::f64::consts::FRAC_PI_4, 0.0);
        let p = Vector3::new(40.0, 0.0, -6.0);
        let cov = Matrix3::from_diagonal(&Vector3::new(4.0, 0.09, 0.01)); // 2 m along the ray, 0.3 m across
        let m = to_enu(&det_at(p, cov), SensorKind::Camera, &SensorPose::new(&ext), &cfg).unwrap();
        let s = 40.0 / 2f64.sqrt();
        assert!((m.xy_m - Vector2::new(-30.0 + s, -30.0 + s)).norm() < 1e-9, "{}", m.xy_m);
        // the major axis of the ENU ellipse points along (1, 1)/sqrt 2 with variance 4
        let eig = m.cov_xy.symmetric_eigen();
        let (imax, _) = eig.eigenvalues.argmax();
        assert!((eig.eigenvalues[imax] - 4.0).abs() < 1e-9);
        let axis = eig.eigenvectors.column(imax);
        assert!((axis[0].abs() - 0.5f64.sqrt()).abs() < 1e-9 && (axis[1].abs() - 0.5f64.sqrt()).abs() < 1e-9);
        assert!(axis[0] * axis[1] > 0.0, "major axis along the ray, not across it");
        // heading and velocity rotate too
        assert!((m.heading_rad.unwrap() - std::f64::consts::FRAC_PI_4).abs() < 1e-12);
        let v = m.velocity_mps.unwrap();
        assert!((v - Vector2::new(0.5f64.sqrt(), 0.5f64.sqrt())).norm() < 1e-12);
    }

    #[test]
    fn missing_covariance_falls_back_to_the_profile() {
        let cfg = FusionConfig { min_position_sigma_m: 0.0, ..FusionConfig::default() };
        let ext = SensorExtrinsics::from_pose(Vector3::new(0.0, 0.0, 0.0), std::f64::consts::FRAC_PI_2, 0.0);
        let m = to_enu(
            &det_at(Vector3::new(50.0, 0.0, 0.0), Matrix3::zeros()),
            SensorKind::Camera,
            &SensorPose::new(&ext),
            &cfg,
        )
        .unwrap();
        // ray points north: y variance (2.5 m)^2, x variance 0.3^2
        assert!((m.cov_xy[(1, 1)] - 6.25).abs() < 1e-9 && (m.cov_xy[(0, 0)] - 0.09).abs() < 1e-9, "{}", m.cov_xy);
        let m = to_enu(
            &det_at(Vector3::new(50.0, 0.0, 0.0), Matrix3::zeros()),
            SensorKind::Lidar,
            &SensorPose::new(&ext),
            &cfg,
        )
        .unwrap();
        assert!((m.cov_xy - Matrix2::from_diagonal_element(0.0225)).norm() < 1e-12);
    }

    #[test]
    fn wrap_angle_range() {
        for a in [-10.0, -std::f64::consts::PI, 0.0, 3.0, 7.0, 100.0] {
            let w = wrap_angle(a);
            assert!(w > -std::f64::consts::PI - 1e-12 && w <= std::f64::consts::PI + 1e-12);
            assert!(
                ((a - w) / std::f64::consts::TAU).fract().abs() < 1e-9
                    || ((a - w) / std::f64::consts::TAU).fract().abs() > 1.0 - 1e-9
            );
        }
    }
}
