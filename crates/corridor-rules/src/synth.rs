//! Synthetic maps and rule files, for benches and tests.
//!
//! Deterministic (a fixed-seed xorshift), valid by construction: every rule
//! gets its own priority, so no two rules ever tie.

use corridor_model::MapVersion;
use std::fmt::Write;

use crate::facts::{LaneFacts, MapFacts};

/// A lane id of the synthetic map (`L000`, `L001`, ...).
pub fn lane_name(i: usize) -> String {
    format!("L{i:03}")
}

/// A map of `n_lanes` lanes on a 20 x k grid, 10 m apart, each lane a 2-point centre line.
pub fn map(n_lanes: usize) -> MapFacts {
    let mut facts = MapFacts::from_lane_ids(MapVersion([7; 32]), (0..n_lanes).map(lane_name));
    for (i, lane) in facts.lanes.values_mut().enumerate() {
        let (x, y) = ((i % 20) as f64 * 10.0, (i / 20) as f64 * 10.0);
        *lane = LaneFacts { centre_line_enu_m: vec![[x, y], [x + 5.0, y]] };
    }
    facts
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A rules file of `n_rules` rules over [`map`]`(n_lanes)`: mostly lane
/// scopes of 1 to 3 lanes, some zones, a few intersection-wide rules; a mix
/// of every effect, class list, date range, weekday set and time window.
pub fn rules_toml(n_rules: usize, n_lanes: usize, seed: u64) -> String {
    let mut rng = XorShift(seed.max(1));
    let mut out = String::from("format = 1\ntime_zone = \"Europe/Berlin\"\n\n[calendars]\nterm = [\"2026-09-01..2026-10-23\", \"2026-11-02..2026-12-18\"]\n");
    let classes = ["car", "bus", "truck", "taxi", "cyclist", "pedestrian", "emergency", "automated"];
    let manoeuvres = ["left", "right", "straight", "u_turn"];
    for i in 0..n_rules {
        let _ = writeln!(out, "\n[[rule]]\nid = \"r{i:05}\"\npriority = {i}");
        match rng.below(50) {
            0 => out.push_str("scope.intersection = true\n"),
            1..=3 => {
                let (x, y) = (rng.below(20) as f64 * 10.0 - 1.0, rng.below(n_lanes.div_ceil(20)) as f64 * 10.0 - 1.0);
                let _ = writeln!(
                    out,
                    "scope.zone = [[{x}, {y}], [{}, {y}], [{}, {}], [{x}, {}]]",
                    x + 22.0,
                    x + 22.0,
                    y + 12.0,
                    y + 12.0
                );
            }
            _ => {
                let k = 1 + rng.below(3);
                let lanes: Vec<String> = (0..k).map(|_| format!("\"{}\"", lane_name(rng.below(n_lanes)))).collect();
                let _ = writeln!(out, "scope.lanes = [{}]", lanes.join(", "));
            }
        }
        match rng.below(4) {
            0 => {}
            1 => out.push_str("validity.calendar = \"term\"\nvalidity.weekdays = \"mon-fri\"\nvalidity.times = [\"07:00-09:00\", \"15:00-17:00\"]\n"),
            2 => {
                let h = rng.below(22);
                let _ = writeln!(out, "validity.weekdays = \"sat,sun\"\nvalidity.times = [\"{h:02}:00-{:02}:30\"]", h + 1);
            }
            _ => {
                let m = 1 + rng.below(12);
                let _ = writeln!(out, "validity.dates = [\"2026-{m:02}-01..2027-{m:02}-10\"]\nvalidity.times = [\"06:00-22:00\"]");
            }
        }
        match rng.below(3) {
            0 => {}
            1 => {
                let _ = writeln!(out, "classes = [\"{}\", \"{}\"]", classes[rng.below(8)], classes[rng.below(8)]);
            }
            _ => {
                let _ = writeln!(out, "classes = [\"all\"]\nexcept = [\"{}\"]", classes[rng.below(8)]);
            }
        }
        let _ = match rng.below(8) {
            0 => writeln!(out, "effect.speed_limit_kmh = {}", 10 + 10 * rng.below(8)),
            1 => writeln!(out, "effect.prohibit_turn = \"{}\"", manoeuvres[rng.below(4)]),
            2 => writeln!(out, "effect.permit_turn = \"{}\"", manoeuvres[rng.below(4)]),
            3 => writeln!(out, "effect.right_turn_on_red = {}", rng.below(2) == 0),
            4 => writeln!(out, "effect.work_zone = {{ speed_limit_kmh = 30 }}"),
            5 => writeln!(out, "effect.reserved_for = [\"bus\", \"taxi\"]"),
            6 => writeln!(out, "effect.control = \"{}\"", if rng.below(2) == 0 { "stop" } else { "yield" }),
            _ => writeln!(out, "effect.no_stopping = true"),
        };
    }
    out
}
