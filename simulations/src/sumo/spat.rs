//! SPaT from a SUMO traffic-light programme: per link index (= signal group), the state and
//! the earliest, latest and likely end of that state.
//!
//! SUMO gives, per traffic light, the active programme, the phase index, the state string (one
//! character per link index), the absolute time of the next phase switch and the time spent in
//! the phase. A signal group keeps its state across several phases when its character does not
//! change, so its end is found by walking the programme forward from the current phase until
//! the character changes:
//!
//! - fixed-time (`static`) programmes: every phase lasts `duration`, so min, max and likely end
//!   coincide and are exact (confidence 1);
//! - actuated and other adaptive programmes: the current phase ends no earlier than its start +
//!   `minDur` and no later than start + `maxDur`; SUMO's `nextSwitch` is the likely end; later
//!   phases add `minDur`, `maxDur` and `duration`. The confidence is 0.5 and the error against
//!   the actual switch is reported, not hidden.
//!
//! A phase's `next` attribute (SUMO jumps there instead of to the following phase) is honoured;
//! when it lists several candidates (actuated choice), the first is taken.
//!
//! Sans-IO: times are seconds of simulation time.

use corridor_model::MovementPhaseState;

/// One phase of a programme.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    /// Nominal duration, s.
    pub duration_s: f64,
    /// Shortest duration (actuated), s.
    pub min_s: f64,
    /// Longest duration (actuated), s.
    pub max_s: f64,
    /// One character per link index.
    pub state: Vec<u8>,
    /// The phase that follows (SUMO's `next`; the first when several may), `None`: the next in
    /// order.
    pub next: Option<usize>,
}

/// A traffic-light programme.
#[derive(Debug, Clone, PartialEq)]
pub struct Programme {
    /// SUMO's `TrafficLightType` number: 0 static, 3 actuated, 4 delay-based, ...
    pub kind: i64,
    /// Phases in order.
    pub phases: Vec<Phase>,
}

impl Programme {
    /// Fixed-time: every phase lasts exactly its duration.
    pub fn is_fixed_time(&self) -> bool {
        self.kind == 0
    }
}

/// Where the traffic light is now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Now {
    /// Simulation time, s.
    pub t_s: f64,
    /// Phase index.
    pub phase: usize,
    /// Absolute time of the next switch, s.
    pub next_switch_s: f64,
    /// Time spent in the current phase, s.
    pub spent_s: f64,
}

/// One group's state and timing, absolute seconds of simulation time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupTiming {
    /// SUMO's character for the group.
    pub code: u8,
    /// The J2735 state.
    pub state: MovementPhaseState,
    /// Earliest end, s.
    pub min_end_s: f64,
    /// Latest end, s (`None`: the group never changes in this programme).
    pub max_end_s: Option<f64>,
    /// Likely end, s (`None`: never changes).
    pub likely_end_s: Option<f64>,
    /// Confidence in the likely end.
    pub confidence: f32,
}

/// SUMO's link state character as a J2735 movement phase state.
pub fn phase_state(code: u8) -> MovementPhaseState {
    match code {
        b'G' => MovementPhaseState::ProtectedMovementAllowed,
        b'g' => MovementPhaseState::PermissiveMovementAllowed,
        b'y' | b'Y' => MovementPhaseState::PermissiveClearance,
        b'r' | b'R' => MovementPhaseState::StopAndRemain,
        b'u' => MovementPhaseState::PreMovement,
        b's' => MovementPhaseState::StopThenProceed,
        b'o' => MovementPhaseState::CautionConflictingTraffic,
        b'O' => MovementPhaseState::Dark,
        _ => MovementPhaseState::Unavailable,
    }
}

/// The timing of link `index` given the programme, where the light is, and its current state
/// string (which wins over the programme's if they disagree, e.g. after a TraCI override).
pub fn group_timing(prog: &Programme, now: Now, state: &[u8], index: usize) -> Option<GroupTiming> {
    let code = *state.get(index)?;
    let n = prog.phases.len();
    let fixed = prog.is_fixed_time();
    let likely0 = now.next_switch_s.max(now.t_s);
    let (mut min_end, mut max_end, mut likely) = match prog.phases.get(now.phase) {
        Some(p) if !fixed => {
            let start = now.t_s - now.spent_s;
            ((start + p.min_s).max(now.t_s).min(likely0), (start + p.max_s).max(likely0), likely0)
        }
        _ => (likely0, likely0, likely0),
    };
    let mut changes = false;
    let mut idx = now.phase;
    for _ in 0..n {
        idx = match prog.phases.get(idx).and_then(|p| p.next) {
            Some(next) if next < n => next,
            _ => (idx + 1) % n,
        };
        let p = &prog.phases[idx];
        if p.state.get(index) != Some(&code) {
            changes = true;
            break;
        }
        if fixed {
            min_end += p.duration_s;
            max_end += p.duration_s;
        } else {
            min_end += p.min_s;
            max_end += p.max_s;
        }
        likely += p.duration_s;
    }
    Some(GroupTiming {
        code,
        state: phase_state(code),
        min_end_s: if changes { min_end } else { now.t_s },
        max_end_s: changes.then_some(max_end),
        likely_end_s: changes.then_some(likely),
        confidence: if fixed { 1.0 } else { 0.5 },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phase(d: f64, s: &str) -> Phase {
        Phase { duration_s: d, min_s: d, max_s: d, state: s.as_bytes().to_vec(), next: None }
    }

    fn fixed() -> Programme {
        Programme { kind: 0, phases: vec![phase(30.0, "Gr"), phase(3.0, "yr"), phase(30.0, "rG"), phase(3.0, "ry")] }
    }

    #[test]
    fn fixed_time_walks_phases_with_the_same_character() {
        let p = fixed();
        // t=10 in phase 0 (switch at 30): group 0 green until 30; group 1 red through phases 0, 1
        let now = Now { t_s: 10.0, phase: 0, next_switch_s: 30.0, spent_s: 10.0 };
        let g0 = group_timing(&p, now, b"Gr", 0).unwrap();
        assert_eq!(g0.state, MovementPhaseState::ProtectedMovementAllowed);
        assert_eq!((g0.min_end_s, g0.max_end_s, g0.likely_end_s), (30.0, Some(30.0), Some(30.0)));
        let g1 = group_timing(&p, now, b"Gr", 1).unwrap();
        assert_eq!(g1.likely_end_s, Some(33.0));
        assert_eq!(g1.confidence, 1.0);
        // group 0 red spans phases 2 and 3 (wrapping): from phase 2 at t=40 until 66
        let now = Now { t_s: 40.0, phase: 2, next_switch_s: 63.0, spent_s: 7.0 };
        assert_eq!(group_timing(&p, now, b"rG", 0).unwrap().likely_end_s, Some(66.0));
    }

    #[test]
    fn next_attribute_jumps_instead_of_walking_on() {
        // SUMO's net 1996 in Hamburg: phase 1 jumps back to 0; phase 2 is only reached by TraCI
        let mut p = Programme { kind: 0, phases: vec![phase(38.0, "Gr"), phase(3.0, "yr"), phase(4.0, "rG")] };
        p.phases[1].next = Some(0);
        let now = Now { t_s: 0.0, phase: 1, next_switch_s: 3.0, spent_s: 0.0 };
        // group 1 is red in phases 1 and 0, which now loop: it never turns green (phase 2 would)
        let g = group_timing(&p, now, b"yr", 1).unwrap();
        assert_eq!(g.likely_end_s, None);
        p.phases[1].next = None;
        assert_eq!(group_timing(&p, now, b"yr", 1).unwrap().likely_end_s, Some(3.0));
        p.phases[1].next = Some(0);
        // group 0: amber until 3, then green again (phase 0)
        assert_eq!(group_timing(&p, now, b"yr", 0).unwrap().likely_end_s, Some(3.0));
        let now = Now { t_s: 3.0, phase: 0, next_switch_s: 41.0, spent_s: 0.0 };
        assert_eq!(group_timing(&p, now, b"Gr", 0).unwrap().likely_end_s, Some(41.0));
    }

    #[test]
    fn actuated_gives_a_window_and_never_changing_groups_have_no_end() {
        let p = Programme {
            kind: 3,
            phases: vec![
                Phase { duration_s: 20.0, min_s: 10.0, max_s: 50.0, state: b"Grg".to_vec(), next: None },
                Phase { duration_s: 3.0, min_s: 3.0, max_s: 3.0, state: b"yrg".to_vec(), next: None },
                Phase { duration_s: 20.0, min_s: 10.0, max_s: 50.0, state: b"rGg".to_vec(), next: None },
            ],
        };
        let now = Now { t_s: 105.0, phase: 0, next_switch_s: 120.0, spent_s: 5.0 };
        let g = group_timing(&p, now, b"Grg", 0).unwrap();
        assert_eq!((g.min_end_s, g.max_end_s, g.likely_end_s), (110.0, Some(150.0), Some(120.0)));
        assert_eq!(g.confidence, 0.5);
        let g = group_timing(&p, now, b"Grg", 1).unwrap();
        assert_eq!((g.min_end_s, g.max_end_s, g.likely_end_s), (113.0, Some(153.0), Some(123.0)));
        let g = group_timing(&p, now, b"Grg", 2).unwrap();
        assert_eq!((g.max_end_s, g.likely_end_s), (None, None));
        assert!(group_timing(&p, now, b"Grg", 3).is_none());
    }
}
