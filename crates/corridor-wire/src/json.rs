//! JSON forms for integrators that do not speak Rust (or bincode).
//!
//! A non-Rust sensor publishes a [`JsonDetectionFrame`] on
//! `corridor/{region}/rsu/{rsu}/sensor/{sensor}/det/json`; an RSU with
//! `json_mirror = true` publishes every state as a [`JsonIntersectionState`] on
//! `corridor/{region}/ix/{intersection}/state/json`. Both are plain JSON
//! objects with units in the field names; matrices are row-major nested arrays.
//! Times are integer UTC nanoseconds. See README "JSON interface".
//!
//! Detection frame example:
//! ```json
//! {"sensor":"cam-0","kind":"camera","frame_seq":7,"capture_time_ns":1700000000000000000,
//!  "detections":[{"class":"car","class_confidence":0.9,"position_m":[12.0,-1.5,0.0],
//!                 "position_sigma_m":[0.5,0.3,0.2]}]}
//! ```
//! `position_sigma_m` (per-axis standard deviations) or `position_cov` (3x3) may be
//! given; without either the sensor kind's default noise applies.

use corridor_model::detection::SensorKind;
use corridor_model::{
    Detection, DetectionFrame, IntersectionState, InvalidField, MovementPhaseState, ObjectClass, SensorId, Size3,
    Timestamp, Validate,
};
use nalgebra::{Matrix3, Vector3};
use serde::{Deserialize, Serialize};

/// Why a JSON message was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    /// Not valid JSON for the schema (serde_json names line and column).
    #[error("json: {0}")]
    Syntax(#[from] serde_json::Error),
    /// The sensor id is not a key-safe id.
    #[error("sensor: {0}")]
    Sensor(#[from] corridor_model::IdError),
    /// Unknown object class.
    #[error("detections[{index}].class: unknown class `{class}`")]
    UnknownClass {
        /// Detection index.
        index: usize,
        /// The class text.
        class: String,
    },
    /// A value failed validation.
    #[error("detections[{index}].{source}")]
    Invalid {
        /// Detection index.
        index: usize,
        /// The failure.
        source: InvalidField,
    },
}

/// One detection, JSON form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonDetection {
    /// `car`, `bus`, `truck`, `motorcycle`, `cyclist`, `pedestrian` or `unknown`.
    pub class: String,
    /// 0..=1.
    #[serde(default = "one")]
    pub class_confidence: f32,
    /// Sensor frame (x forward, y left, z up), metres.
    pub position_m: [f64; 3],
    /// Per-axis standard deviation, metres.
    #[serde(default)]
    pub position_sigma_m: Option<[f64; 3]>,
    /// Full covariance, row-major, m^2 (wins over `position_sigma_m`).
    #[serde(default)]
    pub position_cov: Option<[[f64; 3]; 3]>,
    /// Sensor frame velocity, m/s.
    #[serde(default)]
    pub velocity_mps: Option<[f64; 3]>,
    /// Sensor frame heading, radians.
    #[serde(default)]
    pub heading_rad: Option<f64>,
    /// Length, width, height, metres.
    #[serde(default)]
    pub size_m: Option<[f32; 3]>,
}

fn one() -> f32 {
    1.0
}

/// A detection frame, JSON form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonDetectionFrame {
    /// Sensor id (must match the key's sensor segment).
    pub sensor: String,
    /// `lidar`, `camera` or `radar`.
    pub kind: SensorKind,
    /// The sensor's frame counter.
    #[serde(default)]
    pub frame_seq: u64,
    /// Capture time, UTC ns.
    pub capture_time_ns: i64,
    /// The detections.
    pub detections: Vec<JsonDetection>,
}

/// Default per-axis sigma when a JSON detection gives none, by sensor kind.
fn default_sigma(kind: SensorKind) -> [f64; 3] {
    match kind {
        SensorKind::Lidar => [0.15, 0.15, 0.15],
        SensorKind::Camera => [2.0, 0.3, 0.3],
        SensorKind::Radar => [0.3, 1.0, 1.0],
    }
}

/// Parses and validates a JSON detection frame.
pub fn detection_frame_from_json(bytes: &[u8]) -> Result<DetectionFrame, JsonError> {
    let j: JsonDetectionFrame = serde_json::from_slice(bytes)?;
    let sensor = SensorId::new(&j.sensor)?;
    let mut detections = Vec::with_capacity(j.detections.len());
    for (index, d) in j.detections.into_iter().enumerate() {
        let class =
            ObjectClass::parse(&d.class).ok_or_else(|| JsonError::UnknownClass { index, class: d.class.clone() })?;
        let position_cov = match (d.position_cov, d.position_sigma_m) {
            (Some(c), _) => Matrix3::from_fn(|r, k| c[r][k]),
            (None, s) => {
                let s = s.unwrap_or_else(|| default_sigma(j.kind));
                Matrix3::from_diagonal(&Vector3::new(s[0] * s[0], s[1] * s[1], s[2] * s[2]))
            }
        };
        let det = Detection {
            class,
            class_confidence: d.class_confidence,
            position_m: Vector3::from(d.position_m),
            position_cov,
            velocity_mps: d.velocity_mps.map(Vector3::from),
            heading_rad: d.heading_rad,
            size_m: d.size_m.map(|s| Size3::new(s[0], s[1], s[2])),
        };
        det.validate().map_err(|source| JsonError::Invalid { index, source })?;
        detections.push(det);
    }
    Ok(DetectionFrame {
        sensor,
        kind: j.kind,
        frame_seq: j.frame_seq,
        capture_time: Timestamp::from_unix_ns(j.capture_time_ns),
        detections,
    })
}

/// A tracked object, JSON form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonObject {
    /// Stable track id.
    pub track_id: u64,
    /// Class name.
    pub class: String,
    /// Class confidence.
    pub class_confidence: f32,
    /// ENU metres.
    pub position_m: [f64; 3],
    /// ENU m/s.
    pub velocity_mps: [f64; 3],
    /// Radians, counter-clockwise from east.
    pub heading_rad: f64,
    /// Length, width, height.
    pub size_m: [f32; 3],
    /// Covariance of `[x, y, vx, vy]`, row-major.
    pub covariance: [[f32; 4]; 4],
    /// Seconds since the track was created, at the state's capture time.
    pub age_s: f64,
    /// Contributing sensors.
    pub sensors: Vec<String>,
    /// Matched lane.
    pub lane: Option<String>,
}

/// A signal group, JSON form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonSignal {
    /// Signal group id.
    pub id: u16,
    /// J2735 MovementPhaseState name in snake case (`stop_and_remain`, `protected_movement_allowed`, ...).
    pub state: MovementPhaseState,
    /// Earliest end, UTC ns.
    pub min_end_ns: Option<i64>,
    /// Latest end, UTC ns.
    pub max_end_ns: Option<i64>,
    /// Likely end, UTC ns.
    pub likely_end_ns: Option<i64>,
}

/// The intersection state, JSON form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonIntersectionState {
    /// Intersection id.
    pub intersection: String,
    /// Producing RSU.
    pub rsu: String,
    /// Sequence number.
    pub seq: u64,
    /// Capture time, UTC ns.
    pub capture_time_ns: i64,
    /// Publish time, UTC ns.
    pub publish_time_ns: i64,
    /// Map version (hex BLAKE3).
    pub map_version: String,
    /// Rules version (hex), if any.
    pub rules_version: Option<String>,
    /// Objects.
    pub objects: Vec<JsonObject>,
    /// Signal groups.
    pub signals: Vec<JsonSignal>,
}

impl From<&IntersectionState> for JsonIntersectionState {
    fn from(s: &IntersectionState) -> Self {
        Self {
            intersection: s.intersection.to_string(),
            rsu: s.rsu.to_string(),
            seq: s.seq,
            capture_time_ns: s.capture_time.unix_ns,
            publish_time_ns: s.publish_time.unix_ns,
            map_version: s.map_version.to_hex(),
            rules_version: s.rules_version.map(|v| v.to_hex()),
            objects: s
                .objects
                .iter()
                .map(|o| JsonObject {
                    track_id: o.track_id.0,
                    class: o.class.as_str().to_owned(),
                    class_confidence: o.class_confidence,
                    position_m: o.position_m.into(),
                    velocity_mps: o.velocity_mps.into(),
                    heading_rad: o.heading_rad,
                    size_m: [o.size_m.length_m, o.size_m.width_m, o.size_m.height_m],
                    covariance: std::array::from_fn(|r| std::array::from_fn(|c| o.covariance[(r, c)])),
                    age_s: o.age_s(s.capture_time),
                    sensors: o.sensors.iter().map(|x| x.to_string()).collect(),
                    lane: o.lane.as_ref().map(|l| l.to_string()),
                })
                .collect(),
            signals: s
                .signals
                .iter()
                .map(|g| JsonSignal {
                    id: g.id.0,
                    state: g.state,
                    min_end_ns: g.timing.map(|t| t.min_end.unix_ns),
                    max_end_ns: g.timing.and_then(|t| t.max_end.map(|x| x.unix_ns)),
                    likely_end_ns: g.timing.and_then(|t| t.likely_end.map(|x| x.unix_ns)),
                })
                .collect(),
        }
    }
}

/// The JSON mirror of a state, as bytes.
pub fn state_to_json(s: &IntersectionState) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&JsonIntersectionState::from(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minimal_json_frame_parses_with_default_noise() {
        let f = detection_frame_from_json(
            br#"{"sensor":"cam-0","kind":"camera","capture_time_ns":5,"detections":[{"class":"car","position_m":[10,1,0]}]}"#,
        )
        .unwrap();
        assert_eq!(f.sensor.as_str(), "cam-0");
        assert_eq!(f.detections.len(), 1);
        assert_eq!(f.detections[0].position_cov[(0, 0)], 4.0);
        assert_eq!(f.detections[0].class_confidence, 1.0);
    }

    #[test]
    fn bad_json_frames_name_what_is_wrong() {
        let cases: [(&[u8], &str); 5] = [
            (br#"{"sensor":"c","kind":"camera","capture_time_ns":5,"detections":[{"class":"tank","position_m":[1,1,0]}]}"#, "unknown class `tank`"),
            (br#"{"sensor":"c","kind":"sonar","capture_time_ns":5,"detections":[]}"#, "unknown variant `sonar`"),
            (br#"{"sensor":"c","kind":"lidar","capture_time_ns":5,"detections":[{"class":"car","position_m":[1e9,1,0]}]}"#, "position_m[0]"),
            (br#"{"sensor":"c/d","kind":"lidar","capture_time_ns":5,"detections":[]}"#, "sensor"),
            (br#"{"sensor":"c","kind":"lidar","capture_time_ns":5,"detections":[],"extra":1}"#, "unknown field `extra`"),
        ];
        for (bytes, want) in cases {
            let err = detection_frame_from_json(bytes).unwrap_err().to_string();
            assert!(err.contains(want), "{err} should contain {want}");
        }
    }
}
