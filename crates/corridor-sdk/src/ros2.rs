//! ROS 2 messages for the intersection state, CDR-encoded, on the keys the
//! zenoh-plugin-ros2dds bridge uses (sans-IO part; the publisher is
//! `vehicle::Ros2Bridge`).
//!
//! Convention (zenoh-plugin-ros2dds, documented in `docs/ros2.md`): a ROS 2 topic `/a/b/c` is
//! the zenoh key `a/b/c`, and the payload is the DDS serialized message: a 4-byte
//! encapsulation header (`00 01 00 00`: CDR, little endian) followed by the CDR body. A ROS 2
//! node behind the bridge (Autoware, rviz, `ros2 topic echo`) therefore receives
//! `corridor_msgs/msg/IntersectionState` on `/corridor/{region}/{intersection}/intersection_state`
//! (ids with `-` become `_`: ROS names allow only `[A-Za-z0-9_]`).
//!
//! The message definitions are [`INTERSECTION_STATE_MSG`], [`TRACKED_OBJECT_MSG`],
//! [`SIGNAL_GROUP_MSG`] (a `corridor_msgs` package can be generated from them); the Rust
//! structs below mirror them field for field, in order, which is what CDR needs. Encoding is
//! the `cdr` crate's (serde, XCDR1 alignment rules).

use corridor_model::{IntersectionState, MovementPhaseState, RegionId, Timestamp};
use serde::{Deserialize, Serialize};

/// `corridor_msgs/msg/IntersectionState.msg`.
pub const INTERSECTION_STATE_MSG: &str = "\
# The digital intersection state one RSU published (corridor IntersectionState).
builtin_interfaces/Time stamp          # capture time of the sensor data it fuses
string region
string intersection
string rsu
uint64 seq                             # per-RSU sequence number
string map_version                     # HD map content hash, 64 hex digits
string rules_version                   # rule set content hash, empty when none
corridor_msgs/TrackedObject[] objects
corridor_msgs/SignalGroup[] signals
";

/// `corridor_msgs/msg/TrackedObject.msg`.
pub const TRACKED_OBJECT_MSG: &str = "\
# One tracked road user, in the intersection's ENU frame (x east, y north, metres).
uint64 track_id
string object_class                    # car, truck, bus, motorcycle, cyclist, pedestrian, unknown
float32 class_confidence
geometry_msgs/Point position
geometry_msgs/Vector3 velocity         # m/s
float64 heading                        # rad, counter-clockwise from east
float32 length
float32 width
float32 height
float32[16] covariance                 # [x, y, vx, vy] 4x4, row-major
string lane                            # matched lane id, empty when off the map
";

/// `corridor_msgs/msg/SignalGroup.msg`.
pub const SIGNAL_GROUP_MSG: &str = "\
# One signal group's phase and timing (SAE J2735 MovementPhaseState).
uint16 id
uint8 state                            # J2735 MovementPhaseState numeric value
string state_name                      # e.g. protected_movement_allowed
bool has_timing
builtin_interfaces/Time min_end
builtin_interfaces/Time max_end        # zero when unknown
builtin_interfaces/Time likely_end     # zero when unknown
float32 confidence                     # of likely_end
";

/// The ROS 2 type name (DDS form is `corridor_msgs::msg::dds_::IntersectionState_`).
pub const TYPE_NAME: &str = "corridor_msgs/msg/IntersectionState";

/// `builtin_interfaces/Time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Time {
    /// Seconds since the Unix epoch.
    pub sec: i32,
    /// Nanoseconds within the second.
    pub nanosec: u32,
}

impl From<Timestamp> for Time {
    fn from(t: Timestamp) -> Self {
        let ns = t.unix_ns;
        Self { sec: ns.div_euclid(1_000_000_000) as i32, nanosec: ns.rem_euclid(1_000_000_000) as u32 }
    }
}

/// `geometry_msgs/Point` / `Vector3`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Vec3 {
    /// x.
    pub x: f64,
    /// y.
    pub y: f64,
    /// z.
    pub z: f64,
}

/// `corridor_msgs/TrackedObject`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackedObjectMsg {
    /// Track id.
    pub track_id: u64,
    /// Class name.
    pub object_class: String,
    /// Class confidence.
    pub class_confidence: f32,
    /// Position, ENU metres.
    pub position: Vec3,
    /// Velocity, ENU m/s.
    pub velocity: Vec3,
    /// Heading, rad.
    pub heading: f64,
    /// Length, m.
    pub length: f32,
    /// Width, m.
    pub width: f32,
    /// Height, m.
    pub height: f32,
    /// Covariance, row-major 4x4.
    pub covariance: [f32; 16],
    /// Lane id or empty.
    pub lane: String,
}

/// `corridor_msgs/SignalGroup`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalGroupMsg {
    /// Group id.
    pub id: u16,
    /// J2735 numeric phase state.
    pub state: u8,
    /// Phase state name.
    pub state_name: String,
    /// Whether the times below are meaningful.
    pub has_timing: bool,
    /// Earliest end.
    pub min_end: Time,
    /// Latest end (zero: unknown).
    pub max_end: Time,
    /// Likely end (zero: unknown).
    pub likely_end: Time,
    /// Confidence of the likely end.
    pub confidence: f32,
}

/// `corridor_msgs/IntersectionState`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntersectionStateMsg {
    /// Capture time.
    pub stamp: Time,
    /// Region.
    pub region: String,
    /// Intersection.
    pub intersection: String,
    /// RSU.
    pub rsu: String,
    /// Sequence number.
    pub seq: u64,
    /// Map version, hex.
    pub map_version: String,
    /// Rules version, hex or empty.
    pub rules_version: String,
    /// Objects.
    pub objects: Vec<TrackedObjectMsg>,
    /// Signal groups.
    pub signals: Vec<SignalGroupMsg>,
}

/// J2735 numeric value and name of a phase state.
fn phase(s: MovementPhaseState) -> (u8, String) {
    let name = format!("{s:?}");
    // snake_case the variant name
    let mut snake = String::with_capacity(name.len() + 4);
    for (i, ch) in name.chars().enumerate() {
        if ch.is_ascii_uppercase() {
            if i > 0 {
                snake.push('_');
            }
            snake.push(ch.to_ascii_lowercase());
        } else {
            snake.push(ch);
        }
    }
    (s as u8, snake)
}

/// The message for a state.
pub fn to_msg(region: &RegionId, s: &IntersectionState) -> IntersectionStateMsg {
    IntersectionStateMsg {
        stamp: s.capture_time.into(),
        region: region.as_str().to_owned(),
        intersection: s.intersection.as_str().to_owned(),
        rsu: s.rsu.as_str().to_owned(),
        seq: s.seq,
        map_version: s.map_version.to_hex(),
        rules_version: s.rules_version.map(|v| v.to_hex()).unwrap_or_default(),
        objects: s
            .objects
            .iter()
            .map(|o| {
                let mut covariance = [0f32; 16];
                for (i, c) in covariance.iter_mut().enumerate() {
                    *c = o.covariance[(i / 4, i % 4)];
                }
                TrackedObjectMsg {
                    track_id: o.track_id.0,
                    object_class: o.class.as_str().to_owned(),
                    class_confidence: o.class_confidence,
                    position: Vec3 { x: o.position_m.x, y: o.position_m.y, z: o.position_m.z },
                    velocity: Vec3 { x: o.velocity_mps.x, y: o.velocity_mps.y, z: o.velocity_mps.z },
                    heading: o.heading_rad,
                    length: o.size_m.length_m,
                    width: o.size_m.width_m,
                    height: o.size_m.height_m,
                    covariance,
                    lane: o.lane.as_ref().map(|l| l.as_str().to_owned()).unwrap_or_default(),
                }
            })
            .collect(),
        signals: s
            .signals
            .iter()
            .map(|g| {
                let (state, state_name) = phase(g.state);
                SignalGroupMsg {
                    id: g.id.0,
                    state,
                    state_name,
                    has_timing: g.timing.is_some(),
                    min_end: g.timing.map(|t| t.min_end.into()).unwrap_or_default(),
                    max_end: g.timing.and_then(|t| t.max_end).map(Time::from).unwrap_or_default(),
                    likely_end: g.timing.and_then(|t| t.likely_end).map(Time::from).unwrap_or_default(),
                    confidence: g.timing.map_or(0.0, |t| t.confidence),
                }
            })
            .collect(),
    }
}

/// Why a message could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
#[error("CDR: {0}")]
pub struct CdrError(#[from] cdr::Error);

/// The DDS serialized form: encapsulation header `00 01 00 00` (CDR_LE) + CDR body.
pub fn encode(msg: &IntersectionStateMsg) -> Result<Vec<u8>, CdrError> {
    Ok(cdr::serialize::<_, _, cdr::CdrLe>(msg, cdr::Infinite)?)
}

/// Decodes the DDS serialized form (for tests and ROS-side tools written in Rust).
pub fn decode(bytes: &[u8]) -> Result<IntersectionStateMsg, CdrError> {
    Ok(cdr::deserialize::<IntersectionStateMsg>(bytes)?)
}

/// A ROS 2 name segment: `[A-Za-z0-9_]`, other characters become `_`; a leading digit gets
/// an `_` in front.
pub fn ros_name(s: &str) -> String {
    let mut out: String = s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// The ROS 2 topic of an intersection's state: `/corridor/{region}/{intersection}/intersection_state`.
pub fn topic(region: &str, intersection: &str) -> String {
    format!("/corridor/{}/{}/intersection_state", ros_name(region), ros_name(intersection))
}

/// The zenoh key the zenoh-plugin-ros2dds bridge uses for a topic: the topic without its
/// leading `/`, under the bridge's optional namespace `prefix` (empty for none).
pub fn zenoh_key(prefix: &str, topic: &str) -> String {
    let t = topic.trim_start_matches('/');
    let p = prefix.trim_matches('/');
    if p.is_empty() {
        t.to_owned()
    } else {
        format!("{p}/{t}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corridor_model::sample;

    #[test]
    fn a_state_round_trips_through_cdr_with_the_encapsulation_header() {
        let s = sample::intersection_state(3, 7);
        let msg = to_msg(&RegionId::new("demo").unwrap(), &s);
        let bytes = encode(&msg).unwrap();
        assert_eq!(&bytes[..4], &[0, 1, 0, 0]);
        // stamp first: int32 sec, uint32 nanosec, little endian
        let sec = i32::from_le_bytes(bytes[4..8].try_into().unwrap());
        assert_eq!(i64::from(sec), s.capture_time.unix_ns.div_euclid(1_000_000_000));
        let back = decode(&bytes).unwrap();
        assert_eq!(back, msg);
        assert_eq!(back.objects.len(), 3);
    }

    #[test]
    fn names_follow_ros_rules_and_the_bridge_key_drops_the_slash() {
        assert_eq!(topic("demo", "ix-a"), "/corridor/demo/ix_a/intersection_state");
        assert_eq!(zenoh_key("", "/corridor/demo/ix_a/intersection_state"), "corridor/demo/ix_a/intersection_state");
        assert_eq!(zenoh_key("/robot1", "/x/y"), "robot1/x/y");
        assert_eq!(ros_name("9a-b"), "_9a_b");
    }
}
