//! The validator: every error of the issue list, each at its exact `file:line:col`, in one pass.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a test failure

use corridor_model::MapVersion;
use corridor_rules::{check, Diagnostics, MapFacts};

fn facts() -> MapFacts {
    MapFacts::from_lane_ids(MapVersion([1; 32]), ["E1_0", "E1_1", "E2_0"])
}

fn errors(src: &str) -> Diagnostics {
    match check(src, "rules.toml", &facts()) {
        Ok(set) => panic!("expected errors, got a valid set of {} rules", set.rules.len()),
        Err(d) => d,
    }
}

/// `(location, code)` of every diagnostic.
fn located(d: &Diagnostics) -> Vec<(String, &'static str)> {
    d.items.iter().map(|i| (d.location(i), i.error.code())).collect()
}

#[test]
fn every_error_in_one_pass_with_exact_locations() {
    let src = include_str!("fixtures/all_errors.toml");
    let d = errors(src);
    let got = located(&d);
    let want: Vec<(String, &str)> = [
        ("rules.toml:6:24", "rules::unknown_lane"),
        ("rules.toml:7:19", "rules::inverted_window"),
        ("rules.toml:7:34", "rules::empty_window"),
        ("rules.toml:8:19", "rules::impossible_date"),
        ("rules.toml:9:19", "rules::unknown_class"),
        ("rules.toml:10:26", "rules::speed_out_of_range"),
        ("rules.toml:13:6", "rules::duplicate_id"),
        ("rules.toml:24:6", "rules::contradiction"),
    ]
    .into_iter()
    .map(|(l, c)| (l.to_owned(), c))
    .collect();
    assert_eq!(got, want, "\n{}", d.render(false));

    // The rendered report names each place and underlines the offending text.
    let out = d.render(false);
    for (loc, _) in &want {
        assert!(out.contains(&format!("[{loc}]")), "{loc} missing from:\n{out}");
    }
    assert!(out.contains("unknown lane `E9_9`"), "{out}");
    assert!(out.contains("February 2026 has 28 days"), "{out}");
    assert!(out.contains("first defined here"), "{out}");
    assert!(out.contains("contradicts this one"), "{out}");
    assert!(out.contains("8 errors in rules.toml"), "{out}");
}

#[test]
fn duplicate_points_at_both_definitions() {
    let d = errors(include_str!("fixtures/all_errors.toml"));
    let dup = d.items.iter().find(|i| i.error.code() == "rules::duplicate_id").unwrap();
    let src = include_str!("fixtures/all_errors.toml");
    assert_eq!(corridor_rules::diag::line_col(src, dup.related[0].0.start), (5, 6));
    assert_eq!(&src[dup.span.clone()], "\"limit-a\"");
}

fn one(src: &str) -> (String, &'static str, String) {
    let d = errors(src);
    assert_eq!(d.items.len(), 1, "{}", d.render(false));
    let i = &d.items[0];
    (d.location(i), i.error.code(), i.error.to_string())
}

const HEAD: &str = "time_zone = \"Europe/Berlin\"\n[[rule]]\nid = \"r\"\nscope.lanes = [\"E1_0\"]\n";

#[test]
fn syntax_error_is_placed() {
    let (loc, code, _) = one("time_zone = \"Europe/Berlin\"\n[[rule]]\nid = \"r\n");
    assert_eq!(code, "rules::syntax");
    assert_eq!(loc, "rules.toml:3:8");
}

#[test]
fn unknown_field_is_a_syntax_error_at_the_field() {
    let (loc, code, msg) = one(&format!("{HEAD}effect.speed_limit_kmh = 30\nvalidty.times = [\"07:00-08:00\"]\n"));
    assert_eq!(code, "rules::syntax");
    assert!(msg.contains("validty"), "{msg}");
    assert_eq!(loc, "rules.toml:6:1");
}

#[test]
fn unknown_time_zone_and_missing_time_zone() {
    let (loc, code, _) = one("time_zone = \"Mars/Olympus\"\n");
    assert_eq!((loc.as_str(), code), ("rules.toml:1:13", "rules::unknown_time_zone"));
    let (loc, code, _) = one("[[rule]]\nid = \"r\"\nscope.intersection = true\neffect.no_stopping = true\n");
    assert_eq!((loc.as_str(), code), ("rules.toml:1:1", "rules::missing_time_zone"));
}

#[test]
fn map_time_zone_is_used_when_the_file_has_none() {
    let mut f = facts();
    f.time_zone = Some("Asia/Shanghai".into());
    let set =
        check("[[rule]]\nid = \"r\"\nscope.intersection = true\neffect.no_stopping = true\n", "r.toml", &f).unwrap();
    assert_eq!(set.time_zone, "Asia/Shanghai");
}

#[test]
fn inverted_date_range_and_bad_weekdays_and_unknown_calendar() {
    let (loc, code, _) =
        one(&format!("{HEAD}validity.dates = [\"2026-05-01..2026-04-01\"]\neffect.no_stopping = true\n"));
    assert_eq!((loc.as_str(), code), ("rules.toml:5:19", "rules::inverted_dates"));
    let (loc, code, _) = one(&format!("{HEAD}validity.weekdays = \"mon-funday\"\neffect.no_stopping = true\n"));
    assert_eq!((loc.as_str(), code), ("rules.toml:5:21", "rules::bad_weekdays"));
    let (loc, code, _) = one(&format!("{HEAD}validity.calendar = \"holidays\"\neffect.no_stopping = true\n"));
    assert_eq!((loc.as_str(), code), ("rules.toml:5:21", "rules::unknown_calendar"));
}

#[test]
fn impossible_time_and_month() {
    let (loc, code, msg) = one(&format!("{HEAD}validity.times = [\"07:00-25:00\"]\neffect.no_stopping = true\n"));
    assert_eq!((loc.as_str(), code), ("rules.toml:5:19", "rules::bad_window"));
    assert!(msg.contains("25:00"), "{msg}");
    let (_, code, msg) = one(&format!("{HEAD}validity.dates = [\"2026-13-01\"]\neffect.no_stopping = true\n"));
    assert_eq!(code, "rules::impossible_date");
    assert!(msg.contains("no month 13"), "{msg}");
}

#[test]
fn effect_problems() {
    let (loc, code, _) = one(&format!("{HEAD}effect.speed_limit_kmh = 2\n"));
    assert_eq!((loc.as_str(), code), ("rules.toml:5:26", "rules::speed_out_of_range"));
    let (_, code, _) = one(&format!("{HEAD}effect = {{ speed_limit_kmh = 30, no_stopping = true }}\n"));
    assert_eq!(code, "rules::effect_count");
    let (loc, code, _) = one(&format!("{HEAD}effect.prohibit_turn = \"sideways\"\n"));
    assert_eq!((loc.as_str(), code), ("rules.toml:5:24", "rules::unknown_manoeuvre"));
    let (loc, code, _) = one(&format!("{HEAD}effect.work_zone = {{ merge_into = \"E7_7\" }}\n"));
    assert_eq!((loc.as_str(), code), ("rules.toml:5:35", "rules::unknown_lane"));
    let (_, code, msg) = one(&format!("{HEAD}effect.work_zone = {{ merge_into = \"E1_0\" }}\n"));
    assert_eq!(code, "rules::invalid");
    assert!(msg.contains("itself closed"), "{msg}");
}

#[test]
fn except_removes_classes_and_unknown_except_is_reported() {
    let set = check(
        &format!("{HEAD}classes = [\"all\"]\nexcept = [\"bus\", \"emergency\"]\neffect.no_stopping = true\n"),
        "r",
        &facts(),
    )
    .unwrap();
    let names: Vec<&str> = set.rules[0].classes.iter().map(|c| c.as_str()).collect();
    assert_eq!(names, ["car", "truck", "taxi", "cyclist", "pedestrian", "automated"]);
    let (loc, code, _) = one(&format!("{HEAD}except = [\"tram\"]\neffect.no_stopping = true\n"));
    assert_eq!((loc.as_str(), code), ("rules.toml:5:11", "rules::unknown_class"));
}

#[test]
fn no_contradiction_when_precedence_or_time_or_class_differs() {
    let base = "time_zone = \"Europe/Berlin\"\n";
    let rule = |id: &str, extra: &str, limit: u32| {
        format!("[[rule]]\nid = \"{id}\"\nscope.lanes = [\"E1_0\"]\n{extra}effect.speed_limit_kmh = {limit}\n")
    };
    for (a, b) in [
        ("priority = 1\n", ""),                                                     // priority differs
        ("validity.weekdays = \"sat,sun\"\n", "validity.weekdays = \"mon-fri\"\n"), // days disjoint
        ("validity.times = [\"07:00-09:00\"]\n", "validity.times = [\"09:00-10:00\"]\n"), // windows touch
        ("classes = [\"bus\"]\n", "classes = [\"all\"]\nexcept = [\"bus\"]\n"),     // classes disjoint
    ] {
        let src = format!("{base}{}{}", rule("a", a, 30), rule("b", b, 50));
        assert!(check(&src, "r", &facts()).is_ok(), "{a} / {b}");
    }
    // Same effect twice is not a contradiction.
    let src = format!("{base}{}{}", rule("a", "", 30), rule("b", "", 30));
    assert!(check(&src, "r", &facts()).is_ok());
    // A zone rule and a lane rule never tie (different specificity).
    let src = format!(
        "{base}{}[[rule]]\nid = \"z\"\nscope.intersection = true\neffect.speed_limit_kmh = 50\n",
        rule("a", "", 30)
    );
    assert!(check(&src, "r", &facts()).is_ok());
}

#[test]
fn valid_file_gives_canonical_sorted_set() {
    let src = format!(
        "time_zone = \"Europe/Berlin\"\n{}{}",
        "[[rule]]\nid = \"b\"\nscope.lanes = [\"E1_1\", \"E1_0\"]\neffect.right_turn_on_red = true\n",
        "[[rule]]\nid = \"a\"\nscope.intersection = true\neffect.control = \"yield\"\n"
    );
    let set = check(&src, "r", &facts()).unwrap();
    let ids: Vec<&str> = set.rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["a", "b"]);
    assert_eq!(set.map_version, MapVersion([1; 32]));
    assert_eq!(set.lanes.len(), 3);
}

#[test]
fn missing_fields_point_at_the_rule_header() {
    let (loc, code, msg) = one("time_zone = \"Europe/Berlin\"\n\n[[rule]]\nid = \"r\"\nscope.intersection = true\n");
    assert_eq!((loc.as_str(), code), ("rules.toml:3:1", "rules::missing_field"));
    assert!(msg.contains("`effect`"), "{msg}");
    let (loc, code, _) = one("time_zone = \"Europe/Berlin\"\n[[rule]]\nid = \"r\"\neffect.no_stopping = true\n");
    assert_eq!((loc.as_str(), code), ("rules.toml:2:1", "rules::missing_field"));
}

#[test]
fn scope_must_be_exactly_one_form_and_zones_must_cover_a_lane() {
    let (loc, code, _) = one(
        "time_zone = \"Europe/Berlin\"\n[[rule]]\nid = \"r\"\nscope.lanes = [\"E1_0\"]\nscope.intersection = true\neffect.no_stopping = true\n",
    );
    assert_eq!((loc.as_str(), code), ("rules.toml:5:22", "rules::invalid"));
    // The test map has no geometry, so no zone can cover a lane.
    let (loc, code, msg) = one(
        "time_zone = \"Europe/Berlin\"\n[[rule]]\nid = \"r\"\nscope.zone = [[0, 0], [1, 0], [0, 1]]\neffect.no_stopping = true\n",
    );
    assert_eq!((loc.as_str(), code), ("rules.toml:4:14", "rules::invalid"));
    assert!(msg.contains("covers no lane"), "{msg}");
}
