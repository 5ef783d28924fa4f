//! Simulated roadside sensors with the default acceptance profiles.
//!
//! | | lidar | camera |
//! |---|---|---|
//! | rate | 10 Hz | 15 Hz |
//! | noise | 0.15 m in x and y | bearing: 0.3 m lateral; range: 5 % of range |
//! | detection probability | 0.95 within 80 m | 0.90 within 60 m, 120 deg field of view |
//! | false alarms per frame | 0.5 | 1 |
//! | latency (capture to publish) | 20-50 ms | 40-90 ms |
//! | clock skew | 0 | fixed per camera, up to +-20 ms |
//! | class | right 80 %, else a neighbour class | right 95 % |
//!
//! Occlusion: an object whose bearing interval, seen from the sensor, is at
//! least 70 % covered by a nearer and larger object is not detected.
//! Detections are produced in the sensor frame (x forward, y left, z up) with
//! the covariance the sensor would report.

use corridor_model::detection::SensorKind;
use corridor_model::{Detection, DetectionFrame, ObjectClass, SensorExtrinsics, SensorId, Size3, Timestamp};
use nalgebra::{Matrix2, Matrix3, Point3, Rotation2, Vector2, Vector3};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Poisson};

use crate::world::Agent;

/// A sensor's noise and timing profile.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorProfile {
    /// Kind.
    pub kind: SensorKind,
    /// Frames per second.
    pub rate_hz: f64,
    /// Detection range, m.
    pub range_m: f64,
    /// Horizontal field of view, radians (2 pi: all around).
    pub fov_rad: f64,
    /// Probability of detecting a visible object.
    pub p_detect: f64,
    /// Mean false alarms per frame.
    pub false_alarms: f64,
    /// Latency bounds (uniform), s.
    pub latency_s: (f64, f64),
    /// Largest clock skew magnitude, s.
    pub max_skew_s: f64,
    /// Probability the class is right.
    pub p_class: f64,
}

impl SensorProfile {
    /// The default lidar profile.
    pub fn lidar() -> Self {
        Self {
            kind: SensorKind::Lidar,
            rate_hz: 10.0,
            range_m: 80.0,
            fov_rad: std::f64::consts::TAU,
            p_detect: 0.95,
            false_alarms: 0.5,
            latency_s: (0.020, 0.050),
            max_skew_s: 0.0,
            p_class: 0.8,
        }
    }

    /// The default camera profile.
    pub fn camera() -> Self {
        Self {
            kind: SensorKind::Camera,
            rate_hz: 15.0,
            range_m: 60.0,
            fov_rad: 120f64.to_radians(),
            p_detect: 0.90,
            false_alarms: 1.0,
            latency_s: (0.040, 0.090),
            max_skew_s: 0.020,
            p_class: 0.95,
        }
    }
}

/// One simulated sensor.
#[derive(Debug, Clone)]
pub struct SimSensor {
    /// Id.
    pub id: SensorId,
    /// Profile.
    pub profile: SensorProfile,
    /// Pose in its intersection's ENU frame.
    pub extrinsics: SensorExtrinsics,
    /// The intersection centre in world coordinates (ENU = world - centre).
    pub centre: Vector2<f64>,
    /// This sensor's clock minus true time, s.
    pub skew_s: f64,
    /// Next capture time, s of simulation time.
    pub next_capture_s: f64,
    frame_seq: u64,
}

impl SimSensor {
    /// A sensor; the skew and the phase of its first capture are drawn from `rng`.
    pub fn new(
        id: SensorId,
        profile: SensorProfile,
        extrinsics: SensorExtrinsics,
        centre: Vector2<f64>,
        rng: &mut ChaCha8Rng,
    ) -> Self {
        let skew_s =
            if profile.max_skew_s > 0.0 { rng.gen_range(-profile.max_skew_s..profile.max_skew_s) } else { 0.0 };
        let next_capture_s = rng.gen_range(0.0..1.0 / profile.rate_hz);
        Self { id, profile, extrinsics, centre, skew_s, next_capture_s, frame_seq: 0 }
    }

    /// Captures the agents at true time `t_s`; returns the frame (stamped with this sensor's
    /// skewed clock, `t0` + `t_s` + skew) and its latency in seconds.
    pub fn capture(
        &mut self,
        agents: &[Agent],
        t_s: f64,
        t0: Timestamp,
        rng: &mut ChaCha8Rng,
    ) -> (DetectionFrame, f64) {
        self.frame_seq += 1;
        self.next_capture_s = t_s + 1.0 / self.profile.rate_hz;
        let origin = self.extrinsics.enu_from_sensor.translation.vector;
        let sensor_xy = Vector2::new(origin.x, origin.y);
        let yaw = self.extrinsics.yaw_rad();
        // visible candidates: (range, bearing, half-width angle, footprint area, agent)
        let mut seen: Vec<(f64, f64, f64, f64, &Agent)> = agents
            .iter()
            .filter_map(|a| {
                let rel = (a.position - self.centre) - sensor_xy;
                let range = rel.norm();
                let bearing = rel.y.atan2(rel.x);
                let off_axis =
                    (bearing - yaw + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU) - std::f64::consts::PI;
                if range > self.profile.range_m || range < 1.0 || off_axis.abs() > self.profile.fov_rad / 2.0 {
                    return None;
                }
                let half = 0.5 * f64::from(a.size.length_m.max(a.size.width_m)) * 0.8;
                Some((range, bearing, (half / range).atan(), f64::from(a.size.length_m * a.size.width_m), a))
            })
            .collect();
        seen.sort_by(|x, y| x.0.total_cmp(&y.0));
        let mut detections = Vec::new();
        for (i, &(range, bearing, half, area, agent)) in seen.iter().enumerate() {
            // occlusion by nearer, larger objects
            let covered: f64 = seen[..i]
                .iter()
                .filter(|o| o.3 > area)
                .map(|o| {
                    let d =
                        (o.1 - bearing + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU) - std::f64::consts::PI;
                    let lo = (d - o.2).max(-half);
                    let hi = (d + o.2).min(half);
                    (hi - lo).max(0.0)
                })
                .sum();
            if covered >= 0.7 * 2.0 * half {
                continue;
            }
            if rng.gen::<f64>() > self.profile.p_detect {
                continue;
            }
            let class = if rng.gen::<f64>() < self.profile.p_class { agent.class } else { confuse(agent.class, rng) };
            detections.push(self.measure(agent.position - self.centre, range, bearing, agent, class, rng));
        }
        // false alarms inside the field of view, within 50 m
        let n_fa = Poisson::new(self.profile.false_alarms).map(|p| p.sample(rng) as usize).unwrap_or(0);
        for _ in 0..n_fa {
            let r = rng.gen_range(5.0..50.0f64.min(self.profile.range_m));
            let b = yaw + rng.gen_range(-0.5..0.5) * self.profile.fov_rad.min(std::f64::consts::PI * 1.99);
            let p = sensor_xy + Vector2::new(b.cos(), b.sin()) * r;
            let fake = Agent {
                id: 0,
                class: if rng.gen::<bool>() { ObjectClass::Pedestrian } else { ObjectClass::Car },
                size: Size3::new(1.0, 1.0, 1.5),
                position: p,
                heading_rad: 0.0,
                speed_mps: 0.0,
            };
            detections.push(self.measure(p, r, b, &fake, fake.class, rng));
        }
        let latency = rng.gen_range(self.profile.latency_s.0..self.profile.latency_s.1);
        let capture_time = t0.add_secs_f64(t_s + self.skew_s);
        (
            DetectionFrame {
                sensor: self.id.clone(),
                kind: self.profile.kind,
                frame_seq: self.frame_seq,
                capture_time,
                detections,
            },
            latency,
        )
    }

    fn measure(
        &self,
        p_enu: Vector2<f64>,
        range: f64,
        bearing: f64,
        agent: &Agent,
        class: ObjectClass,
        rng: &mut ChaCha8Rng,
    ) -> Detection {
        let z_enu = f64::from(agent.size.height_m) / 2.0;
        let (p_noisy, cov_xy_enu) = match self.profile.kind {
            SensorKind::Camera => {
                let sr = 0.05 * range;
                let sb = 0.3 / range;
                let r = range + gauss(rng, sr);
                let b = bearing + gauss(rng, sb);
                let origin = self.extrinsics.enu_from_sensor.translation.vector;
                let p = Vector2::new(origin.x, origin.y) + Vector2::new(b.cos(), b.sin()) * r;
                let rot = Rotation2::new(bearing);
                let c = rot.matrix() * Matrix2::new(sr * sr, 0.0, 0.0, 0.3 * 0.3) * rot.matrix().transpose();
                (p, c)
            }
            _ => {
                let s = 0.15;
                (p_enu + Vector2::new(gauss(rng, s), gauss(rng, s)), Matrix2::from_diagonal_element(s * s))
            }
        };
        // into the sensor frame: position by the inverse pose, covariance by the inverse rotation
        let p_sensor = self.extrinsics.to_sensor(&Point3::new(p_noisy.x, p_noisy.y, z_enu + gauss(rng, 0.1)));
        let mut cov_enu = Matrix3::zeros();
        cov_enu.fixed_view_mut::<2, 2>(0, 0).copy_from(&cov_xy_enu);
        cov_enu[(2, 2)] = 0.01;
        let r = self.extrinsics.enu_from_sensor.rotation.to_rotation_matrix();
        let cov_sensor = r.matrix().transpose() * cov_enu * r.matrix();
        let lidar = self.profile.kind == SensorKind::Lidar;
        Detection {
            class,
            class_confidence: if lidar { 0.75 } else { 0.9 },
            position_m: p_sensor.coords,
            position_cov: (cov_sensor + cov_sensor.transpose()) * 0.5,
            velocity_mps: None,
            heading_rad: lidar.then(|| agent.heading_rad - self.extrinsics.yaw_rad() + gauss(rng, 0.1)),
            size_m: Some(Size3::new(
                (f64::from(agent.size.length_m) * (1.0 + gauss(rng, 0.05))).max(0.2) as f32,
                (f64::from(agent.size.width_m) * (1.0 + gauss(rng, 0.05))).max(0.2) as f32,
                agent.size.height_m,
            )),
        }
    }
}

fn gauss(rng: &mut ChaCha8Rng, sigma: f64) -> f64 {
    Normal::new(0.0, sigma).map(|n| n.sample(rng)).unwrap_or(0.0)
}

fn confuse(c: ObjectClass, rng: &mut ChaCha8Rng) -> ObjectClass {
    match c {
        ObjectClass::Car => {
            if rng.gen::<bool>() {
                ObjectClass::Truck
            } else {
                ObjectClass::Unknown
            }
        }
        ObjectClass::Bus => ObjectClass::Truck,
        ObjectClass::Truck => ObjectClass::Bus,
        ObjectClass::Pedestrian => ObjectClass::Cyclist,
        ObjectClass::Cyclist => ObjectClass::Pedestrian,
        other => other,
    }
}

/// The default four sensors of one intersection: lidars on the NE and SW poles, cameras on
/// the NW and SE poles, 15 m from the centre diagonally, 6 m up, each looking at the centre.
pub fn default_layout() -> Vec<(String, SensorProfile, SensorExtrinsics)> {
    let pole = |x: f64, y: f64| SensorExtrinsics::from_pose(Vector3::new(x, y, 6.0), (-y).atan2(-x), 0.0);
    vec![
        ("lidar-ne".into(), SensorProfile::lidar(), pole(15.0, 15.0)),
        ("lidar-sw".into(), SensorProfile::lidar(), pole(-15.0, -15.0)),
        ("cam-nw".into(), SensorProfile::camera(), pole(-15.0, 15.0)),
        ("cam-se".into(), SensorProfile::camera(), pole(15.0, -15.0)),
    ]
}
