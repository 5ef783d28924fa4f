//! Deterministic sample values for tests, benches and fuzz seeds.
//!
//! Plain functions of a seed (a small xorshift generator, no `rand`), so a
//! benchmark in one crate and a test in another build the same state.

#![allow(clippy::expect_used)] // only literal ids, never input

use nalgebra::{Matrix3, Matrix4, Vector3};

use crate::detection::SensorKind;
use crate::ids::{IntersectionId, LaneId, RsuId, SensorId, SignalGroupId, TrackId};
use crate::object::{ObjectClass, Size3, TrackedObject};
use crate::signal::{MovementPhaseState, SignalGroupState, TimeChangeDetails};
use crate::state::{IntersectionState, MapVersion};
use crate::time::Timestamp;
use crate::{Detection, DetectionFrame};

const LITERAL: &str = "literal id is valid";

/// A tiny deterministic generator (xorshift64*).
#[derive(Debug, Clone)]
pub struct SampleRng(u64);

impl SampleRng {
    /// Seeded generator (seed 0 is mapped to a fixed non-zero state).
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
    }
}

/// A plausible intersection state with `n_objects` objects and 8 signal groups.
pub fn intersection_state(n_objects: usize, seed: u64) -> IntersectionState {
    let mut rng = SampleRng::new(seed);
    let t0 = Timestamp::from_unix_ns(1_763_856_000_000_000_000);
    let sensors: Vec<SensorId> =
        ["cam-0", "cam-1", "lidar-0", "lidar-1"].iter().filter_map(|s| SensorId::new(s).ok()).collect();
    let objects = (0..n_objects)
        .map(|i| {
            let class = ObjectClass::ALL[1 + (rng.next_u64() % 6) as usize];
            let heading = rng.uniform(-3.1, 3.1);
            let speed = rng.uniform(0.0, 15.0);
            TrackedObject {
                track_id: TrackId(i as u64 + 1),
                class,
                class_confidence: rng.uniform(0.5, 1.0) as f32,
                position_m: Vector3::new(rng.uniform(-60.0, 60.0), rng.uniform(-60.0, 60.0), 0.0),
                velocity_mps: Vector3::new(speed * heading.cos(), speed * heading.sin(), 0.0),
                heading_rad: heading,
                size_m: Size3::new(4.5, 1.8, 1.5),
                covariance: Matrix4::from_diagonal(&nalgebra::Vector4::new(0.04, 0.04, 0.25, 0.25)),
                first_seen: t0.add_secs_f64(-rng.uniform(0.0, 30.0)),
                last_updated: t0,
                sensors: sensors[..1 + (i % 4)].iter().cloned().collect(),
                lane: Some(LaneId::new(format!("e{}_{}", i % 8, i % 3))),
            }
        })
        .collect();
    let signals = (0..8u16)
        .map(|g| SignalGroupState {
            id: SignalGroupId(g),
            state: if g % 2 == 0 {
                MovementPhaseState::ProtectedMovementAllowed
            } else {
                MovementPhaseState::StopAndRemain
            },
            timing: Some(TimeChangeDetails {
                min_end: t0.add_secs_f64(5.0),
                max_end: Some(t0.add_secs_f64(25.0)),
                likely_end: Some(t0.add_secs_f64(12.0)),
                confidence: 0.9,
            }),
        })
        .collect();
    IntersectionState {
        intersection: IntersectionId::new("ix-sample").expect(LITERAL),
        rsu: RsuId::new("rsu-sample").expect(LITERAL),
        seq: seed,
        capture_time: t0,
        ingest_time: t0.add_secs_f64(0.03),
        publish_time: t0.add_secs_f64(0.031),
        map_version: MapVersion([7; 32]),
        rules_version: Some(MapVersion([9; 32])),
        objects,
        signals,
    }
}

/// A plausible lidar frame with `n` detections.
pub fn detection_frame(n: usize, seed: u64) -> DetectionFrame {
    let mut rng = SampleRng::new(seed);
    DetectionFrame {
        sensor: SensorId::new("lidar-0").expect(LITERAL),
        kind: SensorKind::Lidar,
        frame_seq: seed,
        capture_time: Timestamp::from_unix_ns(1_763_856_000_000_000_000),
        detections: (0..n)
            .map(|_| Detection {
                class: ObjectClass::Car,
                class_confidence: 0.8,
                position_m: Vector3::new(rng.uniform(1.0, 80.0), rng.uniform(-40.0, 40.0), -5.0),
                position_cov: Matrix3::from_diagonal_element(0.0225),
                velocity_mps: None,
                heading_rad: Some(rng.uniform(-3.0, 3.0)),
                size_m: Some(Size3::new(4.5, 1.8, 1.5)),
            })
            .collect(),
    }
}
