//! Fixed-time signal plans, as a simple controller runs them.
//!
//! Four signal groups per intersection: 1 arterial (east-west) vehicles,
//! 2 side-road (north-south) vehicles, 3 pedestrians crossing the side road
//! arms (walk with group 1), 4 pedestrians crossing the arterial arms (walk with
//! group 2). A plan is a list of `(start_s, end_s, state)` per group over one
//! cycle, shifted by the intersection's offset (a green wave along the arterial).
//! Because the plan is fixed, every phase's end is known exactly: min, max and
//! likely end coincide and the confidence is 1.

use corridor_model::{MovementPhaseState, SignalGroupId, SignalGroupState, TimeChangeDetails, Timestamp};

use MovementPhaseState::{PermissiveClearance as Amber, PermissiveMovementAllowed as Green, StopAndRemain as Red};

/// One interval of a group's cycle: `(start_s, end_s, state)`.
pub type Interval = (f64, f64, MovementPhaseState);

/// A fixed-time plan for one intersection.
#[derive(Debug, Clone)]
pub struct SignalPlan {
    /// Cycle length, s.
    pub cycle_s: f64,
    /// Offset of this intersection's cycle, s.
    pub offset_s: f64,
    /// Per group: intervals `(start_s, end_s, state)` covering `[0, cycle_s)`.
    pub groups: Vec<(u16, Vec<Interval>)>,
}

impl SignalPlan {
    /// The demo's two-phase plan: 60 s cycle, arterial green 25 s, side road green 25 s.
    pub fn two_phase(offset_s: f64) -> Self {
        Self {
            cycle_s: 60.0,
            offset_s,
            groups: vec![
                (1, vec![(0.0, 25.0, Green), (25.0, 28.0, Amber), (28.0, 60.0, Red)]),
                (2, vec![(0.0, 30.0, Red), (30.0, 55.0, Green), (55.0, 58.0, Amber), (58.0, 60.0, Red)]),
                (3, vec![(0.0, 18.0, Green), (18.0, 60.0, Red)]),
                (4, vec![(0.0, 30.0, Red), (30.0, 48.0, Green), (48.0, 60.0, Red)]),
            ],
        }
    }

    fn phase(&self, group: u16, t_s: f64) -> Option<(f64, MovementPhaseState)> {
        let local = (t_s - self.offset_s).rem_euclid(self.cycle_s);
        let (_, intervals) = self.groups.iter().find(|(g, _)| *g == group)?;
        let i = intervals.iter().position(|(a, b, _)| local >= *a && local < *b)?;
        let (_, mut end, state) = intervals[i];
        // merge with following intervals of the same state (wrapping once around the cycle)
        let mut j = (i + 1) % intervals.len();
        let mut extra = 0.0;
        while intervals[j].2 == state && j != i {
            if j == 0 {
                extra = self.cycle_s;
            }
            end = intervals[j].1 + extra;
            j = (j + 1) % intervals.len();
        }
        Some((end - local, state))
    }

    /// The state of `group` at `t_s` (seconds of simulation time).
    pub fn state(&self, group: u16, t_s: f64) -> MovementPhaseState {
        self.phase(group, t_s).map(|(_, s)| s).unwrap_or(MovementPhaseState::Unavailable)
    }

    /// Seconds until `group` changes state.
    pub fn time_to_change(&self, group: u16, t_s: f64) -> f64 {
        self.phase(group, t_s).map(|(d, _)| d).unwrap_or(0.0)
    }

    /// Every group's state at `t_s`, with exact timing, as absolute times from `t0`.
    pub fn snapshot(&self, t_s: f64, t0: Timestamp) -> Vec<SignalGroupState> {
        self.groups
            .iter()
            .filter_map(|(g, _)| {
                let (left, state) = self.phase(*g, t_s)?;
                let end = t0.add_secs_f64(t_s + left);
                Some(SignalGroupState {
                    id: SignalGroupId(*g),
                    state,
                    timing: Some(TimeChangeDetails {
                        min_end: end,
                        max_end: Some(end),
                        likely_end: Some(end),
                        confidence: 1.0,
                    }),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_phase_plan_states_and_merged_red() {
        let p = SignalPlan::two_phase(0.0);
        assert_eq!(p.state(1, 10.0), Green);
        assert_eq!(p.state(1, 26.0), Amber);
        assert_eq!(p.state(2, 10.0), Red);
        assert!((p.time_to_change(1, 10.0) - 15.0).abs() < 1e-9);
        // group 2 red runs 58..60 and wraps into 0..30: 32 s of red from t=58
        assert!((p.time_to_change(2, 58.0) - 32.0).abs() < 1e-9);
        let p = SignalPlan::two_phase(18.0);
        assert_eq!(p.state(1, 18.0 + 10.0), Green);
        assert_eq!(p.state(1, 5.0), Red);
    }

    #[test]
    fn conflicting_vehicle_groups_are_never_both_green() {
        let p = SignalPlan::two_phase(7.0);
        for i in 0..1200 {
            let t = i as f64 * 0.1;
            assert!(!(p.state(1, t).is_green() && p.state(2, t).is_green()), "t={t}");
        }
    }
}
