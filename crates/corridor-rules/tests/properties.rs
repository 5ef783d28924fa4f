//! Property tests: the compiled index against the straightforward interpreter,
//! `next_change` against a minute-by-minute scan, and the parser against
//! random and mutated text (it must never panic).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a test failure

use corridor_model::{LaneId, MapVersion, Timestamp};
use corridor_rules::effect::Manoeuvre;
use corridor_rules::ruleset::FORMAT_VERSION;
use corridor_rules::validity::{day_from_civil, DateRange, TimeWindow, Validity, Weekdays};
use corridor_rules::{check, reference, synth, ClassSet, CompiledRules, Effect, Rule, RuleSet, Scope, VehicleClass};
use proptest::prelude::*;

const LANES: [&str; 5] = ["l0", "l1", "l2", "l3", "l4"];
const ZONES: [&str; 5] = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Shanghai", "UTC"];

fn lane_subset() -> impl Strategy<Value = Vec<LaneId>> {
    proptest::sample::subsequence(LANES.to_vec(), 1..=3).prop_map(|v| v.into_iter().map(LaneId::new).collect())
}

fn scope() -> impl Strategy<Value = Scope> {
    prop_oneof![
        3 => lane_subset().prop_map(|lanes| Scope::Lanes { lanes }),
        1 => lane_subset().prop_map(|lanes| Scope::Zone { polygon_enu_m: vec![[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], lanes }),
        1 => Just(Scope::Intersection),
    ]
}

fn date_range() -> impl Strategy<Value = DateRange> {
    let start = day_from_civil(2026, 1, 1);
    (0i32..700, 0i32..200).prop_map(move |(a, len)| DateRange { from_day: start + a, to_day: start + a + len })
}

fn window() -> impl Strategy<Value = TimeWindow> {
    // Minute-aligned, a few hours long, biased towards the night (DST changes happen at 01:00-03:00).
    (prop_oneof![0u32..6 * 60, 0u32..24 * 60], 1u32..8 * 60).prop_map(|(s, len)| {
        let start_s = s * 60;
        TimeWindow { start_s, end_s: (start_s + len * 60).min(86_400) }
    })
}

fn validity() -> impl Strategy<Value = Validity> {
    (
        prop_oneof![Just(vec![]), proptest::collection::vec(date_range(), 1..3)],
        prop_oneof![Just(0x7fu8), 1u8..0x80],
        prop_oneof![Just(vec![]), proptest::collection::vec(window(), 1..3)],
    )
        .prop_map(|(dates, wd, windows)| Validity { dates, weekdays: Weekdays(wd), windows })
}

fn effect() -> impl Strategy<Value = Effect> {
    prop_oneof![
        (1u16..4).prop_map(|k| Effect::SpeedLimit { limit_kmh: k * 10 }),
        (0usize..4, any::<bool>()).prop_map(|(m, allowed)| Effect::Turn { manoeuvre: Manoeuvre::ALL[m], allowed }),
        any::<bool>().prop_map(|allowed| Effect::RightTurnOnRed { allowed }),
        Just(Effect::Stop),
        Just(Effect::Yield),
        Just(Effect::NoStopping),
        Just(Effect::WorkZone { speed_limit_kmh: Some(30), merge_into: None }),
    ]
}

fn rule() -> impl Strategy<Value = (Scope, Validity, u8, i32, Effect)> {
    (scope(), validity(), 1u8..=255, 0i32..3, effect())
}

fn rule_set(max_rules: usize) -> impl Strategy<Value = RuleSet> {
    (0usize..ZONES.len(), proptest::collection::vec(rule(), 0..max_rules)).prop_map(|(tz, rules)| {
        let mut set = RuleSet {
            format: FORMAT_VERSION,
            time_zone: ZONES[tz].to_owned(),
            map_version: MapVersion([5; 32]),
            lanes: LANES.iter().map(LaneId::new).collect(),
            rules: rules
                .into_iter()
                .enumerate()
                .map(|(i, (scope, validity, classes, priority, effect))| Rule {
                    id: format!("r{i:03}"),
                    scope,
                    validity,
                    classes: ClassSet::from_bits(classes),
                    priority,
                    effect,
                })
                .collect(),
        };
        set.canonicalize();
        set
    })
}

/// Seconds since the epoch: anywhere in 2026-2027, or within 3 h of a DST change in one of the zones.
fn instant() -> impl Strategy<Value = i64> {
    let near = [
        "2026-03-29T01:00:00Z", // Berlin spring
        "2026-10-25T01:00:00Z", // Berlin autumn
        "2026-03-08T07:00:00Z", // New York spring
        "2026-11-01T06:00:00Z", // New York autumn
        "2026-04-04T15:00:00Z", // Lord Howe autumn (30 min)
        "2026-10-03T15:30:00Z", // Lord Howe spring (30 min)
    ]
    .map(|s| s.parse::<jiff::Timestamp>().unwrap().as_second());
    prop_oneof![
        1_767_225_600i64..1_830_297_600,
        (0usize..near.len(), -3 * 3600i64..3 * 3600).prop_map(move |(i, d)| near[i] + d),
    ]
}

fn class() -> impl Strategy<Value = VehicleClass> {
    (0usize..8).prop_map(|i| VehicleClass::ALL[i])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn compiled_index_agrees_with_the_interpreter(
        set in rule_set(40),
        queries in proptest::collection::vec((0usize..LANES.len(), class(), instant(), 0i64..1_000_000_000), 1..40),
    ) {
        let compiled = CompiledRules::new(set.clone()).unwrap();
        for (l, c, s, ns) in queries {
            let lane = LaneId::new(LANES[l]);
            let at = Timestamp::from_unix_ns(s * 1_000_000_000 + ns);
            let fast = compiled.applicable(&lane, c, at).unwrap().rule_indices();
            let slow = reference::applicable(&set, &lane, c, at).unwrap();
            prop_assert_eq!(fast, slow, "lane {} class {} at {}", lane, c, at);
        }
    }

    #[test]
    fn next_change_agrees_with_a_minute_scan(
        set in rule_set(8),
        l in 0usize..LANES.len(),
        c in class(),
        s in instant(),
    ) {
        let compiled = CompiledRules::new(set).unwrap();
        let lane = LaneId::new(LANES[l]);
        let at = Timestamp::from_unix_ns(s * 1_000_000_000 + 1);
        let now = compiled.applicable(&lane, c, at).unwrap().rule_indices();
        // Every boundary is minute-aligned in every zone used here, so the first change is on a minute.
        let first_minute = (s / 60 + 1) * 60;
        let horizon_s = 3 * 86_400;
        let scanned = (0..horizon_s / 60)
            .map(|k| first_minute + 60 * k)
            .find(|m| compiled.applicable(&lane, c, Timestamp::from_unix_ns(m * 1_000_000_000)).unwrap().rule_indices() != now);
        let got = compiled.next_change(&lane, c, at).unwrap();
        match scanned {
            Some(m) => prop_assert_eq!(got, Some(Timestamp::from_unix_ns(m * 1_000_000_000))),
            None => prop_assert!(got.is_none_or(|g| g.unix_ns >= (first_minute + horizon_s) * 1_000_000_000), "{:?}", got),
        }
    }

    #[test]
    fn parser_never_panics_on_random_text(text in "\\PC{0,300}") {
        let facts = synth::map(5);
        if let Err(d) = check(&text, "fuzz.toml", &facts) {
            let _ = d.render(false);
        }
    }

    #[test]
    fn parser_never_panics_on_mutated_rule_files(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..3, "[\\[\\]\"=.,\\n a-z0-9é-]{0,4}"), 1..6),
    ) {
        let facts = synth::map(20);
        let mut text = synth::rules_toml(12, 20, 7);
        for (at, op, s) in edits {
            let mut i = at.index(text.len() + 1);
            while !text.is_char_boundary(i) { i -= 1; }
            match op {
                0 => text.insert_str(i, &s),
                1 => { let mut j = (i + s.len() + 1).min(text.len()); while !text.is_char_boundary(j) { j += 1; } text.replace_range(i..j, ""); }
                _ => { let mut j = (i + s.len()).min(text.len()); while !text.is_char_boundary(j) { j += 1; } text.replace_range(i..j, &s); }
            }
        }
        match check(&text, "fuzz.toml", &facts) {
            Ok(set) => {
                let c = CompiledRules::new(set).unwrap();
                let t = Timestamp::from_unix_ns(1_790_000_000_000_000_000);
                let lane = LaneId::new("L003");
                let _ = c.applicable(&lane, VehicleClass::Bus, t).unwrap();
                let _ = c.next_change(&lane, VehicleClass::Bus, t).unwrap();
            }
            Err(d) => {
                prop_assert!(!d.items.is_empty());
                let _ = d.render(false);
                for i in &d.items { prop_assert!(i.span.end <= text.len()); }
            }
        }
    }
}

#[test]
fn synthetic_thousand_rule_file_is_valid() {
    let facts = synth::map(200);
    let set = check(&synth::rules_toml(1000, 200, 42), "synth.toml", &facts)
        .unwrap_or_else(|d| panic!("{}", d.render(false)));
    assert_eq!(set.rules.len(), 1000);
    assert!(set.rules.iter().any(|r| matches!(r.scope, Scope::Zone { .. })));
    assert!(set.rules.iter().any(|r| matches!(r.scope, Scope::Intersection)));
}
