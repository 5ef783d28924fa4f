//! Coordinate frames.
//!
//! Each intersection has a local east-north-up frame ([`EnuFrame`]) anchored at
//! a WGS84 origin ([`GeoPoint`]). ENU x is east, y is north, z is up, in metres.
//! Conversions go through ECEF with the WGS84 ellipsoid (crate `map_3d`, pure
//! Rust, round trip ~1e-9 m): no PROJ on the RSU.
//!
//! Sensors are placed in that frame by [`SensorExtrinsics`]: a rigid transform
//! `enu_from_sensor` (a nalgebra `Isometry3`), so that
//! `p_enu = enu_from_sensor * p_sensor`. Covariances rotate with it:
//! `C_enu = R C_sensor R^T`.

use nalgebra::{Isometry3, Matrix3, Point3, Translation3, UnitQuaternion, Vector3};
use serde::{Deserialize, Serialize};

use crate::{check_f64, InvalidField, Validate};

/// A WGS84 position: latitude and longitude in degrees, height above the ellipsoid in metres.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeoPoint {
    /// Latitude, degrees, positive north.
    pub lat_deg: f64,
    /// Longitude, degrees, positive east.
    pub lon_deg: f64,
    /// Height above the WGS84 ellipsoid, metres.
    pub alt_m: f64,
}

impl GeoPoint {
    /// A point at the given latitude and longitude (degrees), height 0.
    pub const fn new(lat_deg: f64, lon_deg: f64) -> Self {
        Self { lat_deg, lon_deg, alt_m: 0.0 }
    }
}

impl Validate for GeoPoint {
    fn validate(&self) -> Result<(), InvalidField> {
        check_f64("lat_deg", self.lat_deg, 90.0)?;
        check_f64("lon_deg", self.lon_deg, 180.0)?;
        check_f64("alt_m", self.alt_m, 100_000.0)
    }
}

/// A local east-north-up frame anchored at a WGS84 origin.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EnuFrame {
    /// The frame's origin, usually the intersection centre.
    pub origin: GeoPoint,
}

impl EnuFrame {
    /// The ENU frame at `origin`.
    pub const fn new(origin: GeoPoint) -> Self {
        Self { origin }
    }

    /// The ENU position (metres) of a WGS84 point.
    pub fn enu_from_geo(&self, p: &GeoPoint) -> Point3<f64> {
        let o = &self.origin;
        let (e, n, u) = map_3d::geodetic2enu(
            p.lat_deg.to_radians(),
            p.lon_deg.to_radians(),
            p.alt_m,
            o.lat_deg.to_radians(),
            o.lon_deg.to_radians(),
            o.alt_m,
            map_3d::Ellipsoid::WGS84,
        );
        Point3::new(e, n, u)
    }

    /// The WGS84 position of an ENU point (metres).
    pub fn geo_from_enu(&self, p: &Point3<f64>) -> GeoPoint {
        let o = &self.origin;
        let (lat, lon, alt) = map_3d::enu2geodetic(
            p.x,
            p.y,
            p.z,
            o.lat_deg.to_radians(),
            o.lon_deg.to_radians(),
            o.alt_m,
            map_3d::Ellipsoid::WGS84,
        );
        GeoPoint { lat_deg: lat.to_degrees(), lon_deg: lon.to_degrees(), alt_m: alt }
    }
}

/// Where a sensor sits in the intersection ENU frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SensorExtrinsics {
    /// The rigid transform taking sensor-frame points to ENU: `p_enu = enu_from_sensor * p_sensor`.
    pub enu_from_sensor: Isometry3<f64>,
}

impl SensorExtrinsics {
    /// A sensor at `position_m` (ENU) looking along `yaw_rad` (counter-clockwise from east),
    /// pitched by `pitch_rad` (positive looks down) — the usual pole mount. The sensor frame is
    /// x forward, y left, z up.
    pub fn from_pose(position_m: Vector3<f64>, yaw_rad: f64, pitch_rad: f64) -> Self {
        let rotation = UnitQuaternion::from_euler_angles(0.0, pitch_rad, yaw_rad);
        Self { enu_from_sensor: Isometry3::from_parts(Translation3::from(position_m), rotation) }
    }

    /// A sensor-frame point in ENU.
    pub fn to_enu(&self, p_sensor: &Point3<f64>) -> Point3<f64> {
        self.enu_from_sensor * p_sensor
    }

    /// An ENU point in the sensor frame.
    pub fn to_sensor(&self, p_enu: &Point3<f64>) -> Point3<f64> {
        self.enu_from_sensor.inverse_transform_point(p_enu)
    }

    /// A sensor-frame covariance rotated into ENU (`R C R^T`; translation does not change it).
    pub fn covariance_to_enu(&self, cov_sensor: &Matrix3<f64>) -> Matrix3<f64> {
        let r = self.enu_from_sensor.rotation.to_rotation_matrix();
        r.matrix() * cov_sensor * r.matrix().transpose()
    }

    /// A sensor-frame direction (velocity) in ENU.
    pub fn vector_to_enu(&self, v_sensor: &Vector3<f64>) -> Vector3<f64> {
        self.enu_from_sensor.rotation * v_sensor
    }

    /// The sensor's heading in ENU (radians, counter-clockwise from east).
    pub fn yaw_rad(&self) -> f64 {
        self.enu_from_sensor.rotation.euler_angles().2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_point_east_of_the_origin_is_on_the_x_axis() {
        let f = EnuFrame::new(GeoPoint::new(39.9, 116.4));
        let p = f.enu_from_geo(&GeoPoint::new(39.9, 116.401));
        // one thousandth of a degree of longitude at 39.9 N is about 85.4 m
        assert!((p.x - 85.4).abs() < 0.2, "{p}");
        assert!(p.y.abs() < 0.01 && p.z.abs() < 0.01, "{p}");
    }

    proptest! {
        #[test]
        fn enu_round_trip_is_sub_millimetre(lat in -80.0f64..80.0, lon in -179.0f64..179.0,
                                            e in -2000.0f64..2000.0, n in -2000.0f64..2000.0, u in -50.0f64..50.0) {
            let f = EnuFrame::new(GeoPoint::new(lat, lon));
            let p = Point3::new(e, n, u);
            let back = f.enu_from_geo(&f.geo_from_enu(&p));
            prop_assert!((back - p).norm() < 1e-3, "{p} -> {back}");
        }

        #[test]
        fn extrinsics_round_trip_and_rotate_covariance(x in -50.0f64..50.0, y in -50.0f64..50.0,
                                                        yaw in -3.1f64..3.1, sx in 0.01f64..5.0, sy in 0.01f64..5.0) {
            let ext = SensorExtrinsics::from_pose(Vector3::new(x, y, 6.0), yaw, 0.0);
            let p = Point3::new(10.0, -3.0, -6.0);
            let back = ext.to_sensor(&ext.to_enu(&p));
            prop_assert!((back - p).norm() < 1e-9);
            let c = Matrix3::from_diagonal(&Vector3::new(sx * sx, sy * sy, 0.01));
            let ce = ext.covariance_to_enu(&c);
            // rotation keeps the trace and symmetry
            prop_assert!((ce.trace() - c.trace()).abs() < 1e-9);
            prop_assert!((ce - ce.transpose()).norm() < 1e-12);
            // sensor x axis maps onto the yaw direction
            let fwd = ext.vector_to_enu(&Vector3::x());
            prop_assert!((fwd.x - yaw.cos()).abs() < 1e-9 && (fwd.y - yaw.sin()).abs() < 1e-9);
        }
    }
}
