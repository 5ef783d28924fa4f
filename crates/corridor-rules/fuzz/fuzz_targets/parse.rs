//! Fuzz target: the rules parser and validator never panic, on any text; a
//! file that validates also compiles and answers queries without panicking.
#![no_main]

use corridor_model::{LaneId, Timestamp};
use corridor_rules::{check, synth, CompiledRules, MapFacts, VehicleClass};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn facts() -> &'static MapFacts {
    static FACTS: OnceLock<MapFacts> = OnceLock::new();
    FACTS.get_or_init(|| synth::map(20))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match check(text, "fuzz.toml", facts()) {
        Ok(set) => {
            if let Ok(c) = CompiledRules::new(set) {
                let lane = LaneId::new(synth::lane_name(3));
                for (i, class) in VehicleClass::ALL.into_iter().enumerate() {
                    let t = Timestamp::from_unix_ns(1_790_000_000_000_000_000 + i as i64 * 3_600_000_000_000);
                    let _ = c.applicable(&lane, class, t);
                    let _ = c.next_change(&lane, class, t);
                }
            }
        }
        Err(d) => {
            let _ = d.render(false);
        }
    }
});
