//! Signal groups and their phases, modelled on SAE J2735 SPaT.
//!
//! [`MovementPhaseState`] mirrors J2735's `MovementPhaseState` enumeration
//! (values 0..=9 keep their J2735 numbers), which ETSI SPATEM shares. The
//! timing ([`TimeChangeDetails`]) mirrors J2735 `TimeChangeDetails`: the
//! earliest (`min_end`), latest (`max_end`) and most likely (`likely_end`) time
//! the current phase ends, as absolute UTC times rather than J2735's
//! tenths-of-a-second-in-the-hour (convert at the J2735 boundary).

use serde::{Deserialize, Serialize};

use crate::ids::SignalGroupId;
use crate::time::Timestamp;

/// The state of one signal group (J2735 `MovementPhaseState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum MovementPhaseState {
    /// 0: no information.
    Unavailable = 0,
    /// 1: signal dark (off).
    Dark = 1,
    /// 2: flashing red: stop, then proceed when safe.
    StopThenProceed = 2,
    /// 3: red.
    StopAndRemain = 3,
    /// 4: red + amber before green (some European programmes).
    PreMovement = 4,
    /// 5: green, permissive (yield to conflicting traffic).
    PermissiveMovementAllowed = 5,
    /// 6: green, protected (no conflicting traffic).
    ProtectedMovementAllowed = 6,
    /// 7: amber after permissive green.
    PermissiveClearance = 7,
    /// 8: amber after protected green.
    ProtectedClearance = 8,
    /// 9: flashing amber: proceed with caution.
    CautionConflictingTraffic = 9,
}

impl MovementPhaseState {
    /// Every state, in J2735 numbering order (`ALL[n] as u8 == n`).
    pub const ALL: [MovementPhaseState; 10] = [
        Self::Unavailable,
        Self::Dark,
        Self::StopThenProceed,
        Self::StopAndRemain,
        Self::PreMovement,
        Self::PermissiveMovementAllowed,
        Self::ProtectedMovementAllowed,
        Self::PermissiveClearance,
        Self::ProtectedClearance,
        Self::CautionConflictingTraffic,
    ];

    /// May a vehicle enter the intersection on this phase (permissive or protected green)?
    pub fn is_green(self) -> bool {
        matches!(self, Self::PermissiveMovementAllowed | Self::ProtectedMovementAllowed)
    }

    /// Is this a red (stop) phase, including red + amber and flashing red?
    pub fn is_red(self) -> bool {
        matches!(self, Self::StopAndRemain | Self::PreMovement | Self::StopThenProceed)
    }

    /// Is this amber (clearance)?
    pub fn is_amber(self) -> bool {
        matches!(self, Self::PermissiveClearance | Self::ProtectedClearance)
    }

    /// A one-letter code in SUMO's style (`r`, `y`, `g`, `G`, `u`, `o`, `O`), for CSV and logs.
    pub fn sumo_char(self) -> char {
        match self {
            Self::Unavailable => '?',
            Self::Dark => 'O',
            Self::StopThenProceed => 's',
            Self::StopAndRemain => 'r',
            Self::PreMovement => 'u',
            Self::PermissiveMovementAllowed => 'g',
            Self::ProtectedMovementAllowed => 'G',
            Self::PermissiveClearance | Self::ProtectedClearance => 'y',
            Self::CautionConflictingTraffic => 'o',
        }
    }
}

/// When the current phase of a signal group ends (J2735 `TimeChangeDetails`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TimeChangeDetails {
    /// Earliest time the phase can end.
    pub min_end: Timestamp,
    /// Latest time the phase can end (`None`: unknown, e.g. actuated without a max).
    pub max_end: Option<Timestamp>,
    /// Most likely end.
    pub likely_end: Option<Timestamp>,
    /// Confidence in `likely_end`, 0..=1 (J2735 `TimeIntervalConfidence`, simplified).
    pub confidence: f32,
}

/// One signal group at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SignalGroupState {
    /// The group (matches the map's connection `signal_group`).
    pub id: SignalGroupId,
    /// Its current phase.
    pub state: MovementPhaseState,
    /// When that phase ends, if known.
    pub timing: Option<TimeChangeDetails>,
}

impl SignalGroupState {
    /// Seconds from `now` to the likely end of the phase (or the minimum end when no likely end is given).
    pub fn time_to_change_s(&self, now: Timestamp) -> Option<f64> {
        let t = self.timing?;
        Some(t.likely_end.unwrap_or(t.min_end).secs_since(now).max(0.0))
    }
}

/// What a signal controller reports: every group's phase at one instant.
/// The RSU attaches the latest one to the state it publishes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalFrame {
    /// The controller's time for this report.
    pub time: Timestamp,
    /// Every signal group, sorted by id.
    pub groups: Vec<SignalGroupState>,
}

impl crate::Validate for SignalFrame {
    fn validate(&self) -> Result<(), crate::InvalidField> {
        for g in &self.groups {
            if let Some(t) = &g.timing {
                if !t.confidence.is_finite() || !(0.0..=1.0).contains(&t.confidence) {
                    return Err(crate::InvalidField::out_of_range(
                        format!("groups[{}].timing.confidence", g.id),
                        t.confidence,
                        "outside 0..=1",
                    ));
                }
            }
        }
        Ok(())
    }
}
