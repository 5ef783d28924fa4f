//! What a rule does: speed limits, turn permissions, right turn on red, work
//! zones, reserved (bus/priority) lanes, stop/yield control, no stopping.
//!
//! Every effect fills one **slot** of the answer; within a slot exactly one
//! rule wins (the most specific scope, then the highest priority). Turns have
//! one slot per manoeuvre, so "no left turn" and "u-turn allowed" coexist.

use corridor_model::LaneId;
use serde::{Deserialize, Serialize};

use crate::class::ClassSet;

/// A turning movement at the intersection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Manoeuvre {
    /// Left turn.
    Left,
    /// Right turn.
    Right,
    /// Straight on.
    Straight,
    /// U-turn.
    UTurn,
}

impl Manoeuvre {
    /// Every manoeuvre, in slot order.
    pub const ALL: [Manoeuvre; 4] = [Manoeuvre::Left, Manoeuvre::Right, Manoeuvre::Straight, Manoeuvre::UTurn];

    /// The name used in rule files.
    pub fn as_str(self) -> &'static str {
        match self {
            Manoeuvre::Left => "left",
            Manoeuvre::Right => "right",
            Manoeuvre::Straight => "straight",
            Manoeuvre::UTurn => "u_turn",
        }
    }

    /// Parses a name of [`Self::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// The effect of one rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Effect {
    /// Maximum speed.
    SpeedLimit {
        /// The limit in km/h.
        limit_kmh: u16,
    },
    /// A manoeuvre is permitted (`allowed = true`) or prohibited.
    Turn {
        /// Which manoeuvre.
        manoeuvre: Manoeuvre,
        /// Permitted or prohibited.
        allowed: bool,
    },
    /// Right turn on red is allowed (after a stop) or not.
    RightTurnOnRed {
        /// Allowed or not.
        allowed: bool,
    },
    /// The lanes in scope are closed (work zone): merge, and respect the limit.
    WorkZone {
        /// Speed limit through the work zone, km/h.
        speed_limit_kmh: Option<u16>,
        /// The lane to merge into.
        merge_into: Option<LaneId>,
    },
    /// A bus or priority lane: only these classes may drive in it.
    ReservedLane {
        /// Who may use the lane.
        reserved_for: ClassSet,
    },
    /// Stop before entering (stop sign).
    Stop,
    /// Give way before entering (yield sign).
    Yield,
    /// No stopping on the lane.
    NoStopping,
}

/// Number of answer slots (see [`Effect::slot`]).
pub const SLOT_COUNT: usize = 10;

/// Names of the slots, by index (used in messages).
pub const SLOT_NAMES: [&str; SLOT_COUNT] = [
    "speed limit",
    "left turn",
    "right turn",
    "straight on",
    "u-turn",
    "right turn on red",
    "work zone",
    "reserved lane",
    "stop/yield",
    "no stopping",
];

impl Effect {
    /// The answer slot this effect fills.
    pub fn slot(&self) -> usize {
        match self {
            Effect::SpeedLimit { .. } => 0,
            Effect::Turn { manoeuvre, .. } => 1 + *manoeuvre as usize,
            Effect::RightTurnOnRed { .. } => 5,
            Effect::WorkZone { .. } => 6,
            Effect::ReservedLane { .. } => 7,
            Effect::Stop | Effect::Yield => 8,
            Effect::NoStopping => 9,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_distinct_per_kind_and_manoeuvre() {
        let effects = [
            Effect::SpeedLimit { limit_kmh: 30 },
            Effect::Turn { manoeuvre: Manoeuvre::Left, allowed: false },
            Effect::Turn { manoeuvre: Manoeuvre::Right, allowed: false },
            Effect::Turn { manoeuvre: Manoeuvre::Straight, allowed: false },
            Effect::Turn { manoeuvre: Manoeuvre::UTurn, allowed: false },
            Effect::RightTurnOnRed { allowed: true },
            Effect::WorkZone { speed_limit_kmh: None, merge_into: None },
            Effect::ReservedLane { reserved_for: ClassSet::ALL },
            Effect::Stop,
            Effect::NoStopping,
        ];
        let slots: Vec<usize> = effects.iter().map(Effect::slot).collect();
        assert_eq!(slots, (0..SLOT_COUNT).collect::<Vec<_>>());
        assert_eq!(Effect::Yield.slot(), Effect::Stop.slot());
        let json = serde_json::to_string(&Effect::Turn { manoeuvre: Manoeuvre::UTurn, allowed: false }).unwrap();
        assert_eq!(json, r#"{"kind":"turn","manoeuvre":"u_turn","allowed":false}"#);
    }
}
