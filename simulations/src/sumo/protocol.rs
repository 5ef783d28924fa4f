//! The line-delimited JSON the SUMO driver (`simulations/python/sumo_driver.py`) writes, and
//! the conversion of SUMO objects into simulation agents.
//!
//! SUMO reports a vehicle's front-bumper middle and an angle in degrees, 0 = north, clockwise;
//! corridor wants the box centre and a heading in radians from east, counter-clockwise. The
//! centre is the front backed off by half the length along the heading.

use corridor_model::{ObjectClass, Size3};
use nalgebra::Vector2;
use serde::Deserialize;
use std::collections::BTreeMap;

use crate::world::Agent;

use super::spat::{Phase, Programme};

/// The driver's first line.
#[derive(Debug, Clone, Deserialize)]
pub struct Meta {
    /// Absolute path of the net file.
    pub net_file: String,
    /// Step length, s.
    pub step: f64,
    /// Time of the first streamed step, s.
    pub start: f64,
    /// Time of the last step, s.
    pub end: f64,
    /// Every non-internal junction.
    pub junctions: Vec<MetaJunction>,
    /// Traffic lights by id.
    pub tls: BTreeMap<String, MetaTls>,
}

/// A junction and its position in net coordinates.
#[derive(Debug, Clone, Deserialize)]
pub struct MetaJunction {
    /// SUMO id.
    pub id: String,
    /// Net x, m.
    pub x: f64,
    /// Net y, m.
    pub y: f64,
}

/// A traffic light's programmes.
#[derive(Debug, Clone, Deserialize)]
pub struct MetaTls {
    /// By programme id.
    pub programs: BTreeMap<String, MetaProgram>,
    /// The junctions it controls.
    #[serde(default)]
    pub junctions: Vec<String>,
}

/// One programme as the driver sends it.
#[derive(Debug, Clone, Deserialize)]
pub struct MetaProgram {
    /// SUMO's `TrafficLightType` number.
    #[serde(rename = "type")]
    pub kind: i64,
    /// `[duration, minDur, maxDur, state, next]` per phase (`next`: the phases that may follow,
    /// empty for the next in order).
    pub phases: Vec<(f64, f64, f64, String, Vec<i64>)>,
}

impl MetaProgram {
    /// As a [`Programme`].
    pub fn programme(&self) -> Programme {
        Programme {
            kind: self.kind,
            phases: self
                .phases
                .iter()
                .map(|(d, lo, hi, s, next)| Phase {
                    duration_s: *d,
                    min_s: *lo,
                    max_s: *hi,
                    state: s.as_bytes().to_vec(),
                    next: next.first().and_then(|n| usize::try_from(*n).ok()),
                })
                .collect(),
        }
    }
}

/// One object: `[id, vclass, x, y, angle_deg, speed, length, width, height]`.
pub type RawObject = (String, String, f64, f64, f64, f64, f64, f64, f64);

/// A traffic light at one step: `[program, phase, state, next_switch, spent]`.
pub type RawTls = (String, usize, String, f64, f64);

/// One streamed line after the meta line.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Line {
    /// A simulation step.
    Step {
        /// Simulation time, s.
        t: f64,
        /// Objects.
        o: Vec<RawObject>,
        /// Traffic lights.
        s: BTreeMap<String, RawTls>,
    },
    /// The end of the run.
    End {
        /// Simulation time, s.
        t: f64,
    },
    /// The meta line (only first).
    Meta(Box<Meta>),
}

/// SUMO's vehicle class as an object class.
pub fn object_class(vclass: &str) -> ObjectClass {
    match vclass {
        "bus" | "coach" => ObjectClass::Bus,
        "truck" | "trailer" => ObjectClass::Truck,
        "motorcycle" | "moped" => ObjectClass::Motorcycle,
        "bicycle" | "scooter" => ObjectClass::Cyclist,
        "pedestrian" => ObjectClass::Pedestrian,
        "tram" | "rail_urban" | "rail" | "rail_electric" | "rail_fast" | "ship" | "container" | "cable_car"
        | "subway" | "aircraft" | "wheelchair" | "drone" => ObjectClass::Unknown,
        _ => ObjectClass::Car,
    }
}

/// SUMO's angle (degrees, 0 = north, clockwise) as a heading (radians from east, CCW).
pub fn heading_from_sumo_angle(angle_deg: f64) -> f64 {
    (90.0 - angle_deg).to_radians()
}

/// A SUMO object as an agent: centre = front bumper - length/2 along the heading.
pub fn agent_of(raw: &RawObject, id: u64) -> Agent {
    let (_, vclass, x, y, angle, speed, length, width, height) = raw;
    let heading = heading_from_sumo_angle(*angle);
    let class = object_class(vclass);
    // a pedestrian's position is already its centre
    let back = if class == ObjectClass::Pedestrian { 0.0 } else { length / 2.0 };
    let centre = Vector2::new(*x, *y) - Vector2::new(heading.cos(), heading.sin()) * back;
    Agent {
        id,
        class,
        size: Size3::new(length.max(0.2) as f32, width.max(0.2) as f32, height.max(0.2) as f32),
        position: centre,
        heading_rad: heading,
        speed_mps: *speed,
    }
}

/// `a` and `b` blended: `alpha` = 0 gives `a`, 1 gives `b` (position and heading, the heading
/// the short way round).
pub fn interpolate(a: &Agent, b: &Agent, alpha: f64) -> Agent {
    let d =
        (b.heading_rad - a.heading_rad + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU) - std::f64::consts::PI;
    Agent {
        position: a.position + (b.position - a.position) * alpha,
        heading_rad: a.heading_rad + d * alpha,
        speed_mps: a.speed_mps + (b.speed_mps - a.speed_mps) * alpha,
        ..b.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(angle: f64, vclass: &str) -> RawObject {
        ("v1".into(), vclass.into(), 100.0, 50.0, angle, 10.0, 4.0, 1.8, 1.5)
    }

    #[test]
    fn front_bumper_is_backed_off_half_a_length_along_the_heading() {
        // heading north (0 deg): the centre is 2 m south of the front
        let a = agent_of(&raw(0.0, "passenger"), 1);
        assert!((a.position - Vector2::new(100.0, 48.0)).norm() < 1e-9, "{:?}", a.position);
        assert!((a.velocity() - Vector2::new(0.0, 10.0)).norm() < 1e-9);
        // heading east (90 deg): 2 m west
        let a = agent_of(&raw(90.0, "bus"), 1);
        assert!((a.position - Vector2::new(98.0, 50.0)).norm() < 1e-9);
        assert_eq!(a.class, ObjectClass::Bus);
        // pedestrians are not moved
        let a = agent_of(&raw(90.0, "pedestrian"), 1);
        assert!((a.position - Vector2::new(100.0, 50.0)).norm() < 1e-9);
        assert_eq!(object_class("bicycle"), ObjectClass::Cyclist);
        assert_eq!(object_class("delivery"), ObjectClass::Car);
    }

    #[test]
    fn interpolation_takes_the_short_way_round() {
        let a = agent_of(&raw(350.0, "passenger"), 1);
        let b = agent_of(&raw(10.0, "passenger"), 1);
        let m = interpolate(&a, &b, 0.5);
        let north = std::f64::consts::FRAC_PI_2;
        let diff =
            (m.heading_rad - north + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU) - std::f64::consts::PI;
        assert!(diff.abs() < 1e-9, "{}", m.heading_rad);
    }

    #[test]
    fn lines_parse() {
        let l: Line = serde_json::from_str(
            r#"{"type":"step","t":1.5,"o":[["v1","bus",1,2,90,3,12,2.5,3.4]],"s":{"A":["0",1,"Gr",30.0,2.0]}}"#,
        )
        .unwrap();
        match l {
            Line::Step { t, o, s } => {
                assert_eq!(t, 1.5);
                assert_eq!(o.len(), 1);
                assert_eq!(s["A"].2, "Gr");
            }
            other => panic!("{other:?}"),
        }
    }
}
