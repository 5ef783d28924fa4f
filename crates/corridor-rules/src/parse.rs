//! The rules language: TOML text -> validated [`RuleSet`], every error in one pass.
//!
//! Parsing is two steps. TOML syntax and field names/types are read by the
//! `toml` crate into raw structs whose leaves keep their byte spans
//! (`serde_spanned::Spanned`); a syntax error stops there (there is nothing
//! sound to check after it). Then every rule is checked against the language
//! and the map ([`MapFacts`]) and all problems are collected, each with the
//! span of the offending text; contradictions between rules are checked last.
//! The language itself is documented in `docs/rules.md`.

use corridor_model::LaneId;
use serde::Deserialize;
use serde_spanned::Spanned;
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use crate::class::{ClassSet, VehicleClass};
use crate::diag::{Diagnostic, Diagnostics, RuleError};
use crate::effect::{Effect, Manoeuvre, SLOT_NAMES};
use crate::facts::MapFacts;
use crate::ruleset::{Rule, RuleSet, Scope, FORMAT_VERSION};
use crate::validity::{parse_date, parse_window, DateError, DateRange, Validity, Weekdays, WindowError};

/// Lowest speed limit accepted, km/h.
pub const MIN_SPEED_KMH: u16 = 5;
/// Highest speed limit accepted, km/h.
pub const MAX_SPEED_KMH: u16 = 130;
/// Most date ranges, and most time windows, one rule may have.
pub const MAX_RANGES: usize = 255;
/// Priorities are within `-PRIORITY_MAX..=PRIORITY_MAX`.
pub const PRIORITY_MAX: i64 = 1_000_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    format: Option<Spanned<i64>>,
    time_zone: Option<Spanned<String>>,
    /// Informational: the map (intersection) the file is written for.
    #[allow(dead_code)]
    map: Option<String>,
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    calendars: BTreeMap<String, Vec<Spanned<String>>>,
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Option<Spanned<String>>,
    #[allow(dead_code)]
    description: Option<String>,
    priority: Option<Spanned<i64>>,
    // Tables are not `Spanned`: toml 0.8 cannot span a table written with dotted keys.
    scope: Option<RawScope>,
    validity: Option<RawValidity>,
    classes: Option<Spanned<Vec<Spanned<String>>>>,
    except: Option<Vec<Spanned<String>>>,
    effect: Option<RawEffect>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScope {
    lanes: Option<Spanned<Vec<Spanned<String>>>>,
    zone: Option<Spanned<Vec<[f64; 2]>>>,
    intersection: Option<Spanned<bool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawValidity {
    dates: Option<Spanned<Vec<Spanned<String>>>>,
    calendar: Option<Spanned<String>>,
    weekdays: Option<Spanned<toml::Value>>,
    times: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEffect {
    speed_limit_kmh: Option<Spanned<i64>>,
    prohibit_turn: Option<Spanned<String>>,
    permit_turn: Option<Spanned<String>>,
    right_turn_on_red: Option<Spanned<bool>>,
    work_zone: Option<RawWorkZone>,
    reserved_for: Option<Spanned<Vec<Spanned<String>>>>,
    control: Option<Spanned<String>>,
    no_stopping: Option<Spanned<bool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkZone {
    speed_limit_kmh: Option<Spanned<i64>>,
    merge_into: Option<Spanned<String>>,
}

/// Where a rule's parts are in the file (for contradiction reports).
struct Placed {
    rule: Rule,
    id_span: Range<usize>,
    /// Lanes covered, as a bit set over the map's lane order.
    lane_bits: Vec<u64>,
}

struct Checker<'a> {
    facts: &'a MapFacts,
    lane_index: HashMap<&'a LaneId, usize>,
    diags: Vec<Diagnostic>,
    calendars: BTreeMap<String, Vec<DateRange>>,
}

/// Parses and validates a rules file against a map.
///
/// Returns the canonical [`RuleSet`], or every problem found, each placed at
/// `file_name:line:col`.
pub fn check(source: &str, file_name: &str, facts: &MapFacts) -> Result<RuleSet, Diagnostics> {
    let raw: RawFile = match toml::from_str(source) {
        Ok(r) => r,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let d = Diagnostic::new(RuleError::Syntax { message: e.message().trim().to_owned() }, span, "here");
            return Err(Diagnostics::new(file_name, source, vec![d]));
        }
    };
    let mut c = Checker {
        facts,
        lane_index: facts.lanes.keys().enumerate().map(|(i, l)| (l, i)).collect(),
        diags: Vec::new(),
        calendars: BTreeMap::new(),
    };

    if let Some(f) = &raw.format {
        if *f.get_ref() != i64::from(FORMAT_VERSION) {
            c.diags.push(Diagnostic::new(
                RuleError::Invalid {
                    message: format!("unsupported format {}; this version reads format {FORMAT_VERSION}", f.get_ref()),
                },
                f.span(),
                "unsupported",
            ));
        }
    }
    let time_zone = c.time_zone(raw.time_zone.as_ref());
    for (name, ranges) in &raw.calendars {
        let parsed = ranges.iter().filter_map(|r| c.date_range(r)).collect();
        c.calendars.insert(name.clone(), parsed);
    }

    let mut placed: Vec<Placed> = Vec::new();
    let mut seen: HashMap<String, Range<usize>> = HashMap::new();
    for r in &raw.rule {
        // Duplicate ids are found on the raw ids, so a rule with other errors still counts.
        let mut duplicate = false;
        if let Some(id) = r.get_ref().id.as_ref() {
            if let Some(first) = seen.get(id.get_ref()) {
                c.diags.push(
                    Diagnostic::new(
                        RuleError::DuplicateId { id: id.get_ref().clone() },
                        id.span(),
                        "defined again here",
                    )
                    .with_related(first.clone(), "first defined here"),
                );
                duplicate = true;
            } else {
                seen.insert(id.get_ref().clone(), id.span());
            }
        }
        let Some(rule) = c.rule(r) else { continue };
        let (Some(id), false) = (r.get_ref().id.as_ref(), duplicate) else {
            continue;
        };
        let lane_bits = c.lane_bits(&rule.scope);
        placed.push(Placed { rule, id_span: id.span(), lane_bits });
    }
    c.contradictions(&placed);

    match time_zone {
        Some(tz) if c.diags.is_empty() => {
            let mut set = RuleSet {
                format: FORMAT_VERSION,
                time_zone: tz,
                map_version: facts.version,
                lanes: facts.lanes.keys().cloned().collect(),
                rules: placed.into_iter().map(|p| p.rule).collect(),
            };
            set.canonicalize();
            Ok(set)
        }
        _ => Err(Diagnostics::new(file_name, source, c.diags)),
    }
}

impl Checker<'_> {
    fn err(&mut self, error: RuleError, span: Range<usize>, label: &str) {
        self.diags.push(Diagnostic::new(error, span, label));
    }

    fn time_zone(&mut self, tz: Option<&Spanned<String>>) -> Option<String> {
        match tz {
            Some(tz) => {
                if jiff::tz::TimeZone::get(tz.get_ref()).is_ok() {
                    Some(tz.get_ref().clone())
                } else {
                    self.err(
                        RuleError::UnknownTimeZone { name: tz.get_ref().clone() },
                        tz.span(),
                        "not in the tz database",
                    );
                    None
                }
            }
            None => match &self.facts.time_zone {
                Some(name) if jiff::tz::TimeZone::get(name).is_ok() => Some(name.clone()),
                _ => {
                    self.err(RuleError::MissingTimeZone, 0..0, "add `time_zone = \"Area/City\"` at the top");
                    None
                }
            },
        }
    }

    fn date_range(&mut self, s: &Spanned<String>) -> Option<DateRange> {
        let text = s.get_ref().trim();
        let (a, b) = text.split_once("..").unwrap_or((text, text));
        let mut day = |part: &str| match parse_date(part.trim()) {
            Ok(d) => Some(d),
            Err(DateError::Format) => {
                self.err(
                    RuleError::ImpossibleDate {
                        text: part.trim().to_owned(),
                        reason: "write dates as YYYY-MM-DD".to_owned(),
                    },
                    s.span(),
                    "not a date",
                );
                None
            }
            Err(DateError::Impossible(reason)) => {
                self.err(RuleError::ImpossibleDate { text: part.trim().to_owned(), reason }, s.span(), "no such day");
                None
            }
        };
        let from_day = day(a);
        let to_day = if text.contains("..") { day(b) } else { from_day };
        let (from_day, to_day) = (from_day?, to_day?);
        if to_day < from_day {
            self.err(RuleError::InvertedDateRange { text: text.to_owned() }, s.span(), "ends before it starts");
            return None;
        }
        Some(DateRange { from_day, to_day })
    }

    fn lane(&mut self, s: &Spanned<String>) -> Option<LaneId> {
        let id = LaneId::new(s.get_ref());
        if self.facts.lanes.contains_key(&id) {
            Some(id)
        } else {
            self.err(
                RuleError::UnknownLane { lane: s.get_ref().clone(), map: self.facts.version.short() },
                s.span(),
                "not a lane of the map",
            );
            None
        }
    }

    fn speed(&mut self, s: &Spanned<i64>) -> Option<u16> {
        let v = *s.get_ref();
        if v < i64::from(MIN_SPEED_KMH) || v > i64::from(MAX_SPEED_KMH) {
            self.err(
                RuleError::SpeedOutOfRange { value: v, min: MIN_SPEED_KMH, max: MAX_SPEED_KMH },
                s.span(),
                "out of range",
            );
            return None;
        }
        u16::try_from(v).ok()
    }

    fn class_list(&mut self, names: &[Spanned<String>], allow_all: bool) -> Option<ClassSet> {
        let mut set = ClassSet::EMPTY;
        let mut ok = true;
        for n in names {
            match VehicleClass::parse(n.get_ref()) {
                Some(c) => set = set.with(c),
                None if allow_all && n.get_ref() == "all" => set = ClassSet::ALL,
                None => {
                    self.err(RuleError::UnknownClass { name: n.get_ref().clone() }, n.span(), "unknown class");
                    ok = false;
                }
            }
        }
        ok.then_some(set)
    }

    fn rule(&mut self, r: &Spanned<RawRule>) -> Option<Rule> {
        let rule_span = r.span();
        let head = rule_span.start..rule_span.start;
        let raw = r.get_ref();
        let n_before = self.diags.len();

        let id = match &raw.id {
            Some(id) => {
                let s = id.get_ref();
                if s.is_empty()
                    || s.len() > 64
                    || !s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                {
                    self.err(
                        RuleError::Invalid {
                            message: format!("rule id `{s}` must be 1 to 64 characters of A-Z a-z 0-9 - _ ."),
                        },
                        id.span(),
                        "bad id",
                    );
                }
                Some(s.clone())
            }
            None => {
                self.err(RuleError::Missing { field: "id" }, head.clone(), "this rule has no id");
                None
            }
        };

        let priority = match &raw.priority {
            Some(p) if p.get_ref().abs() > PRIORITY_MAX => {
                self.err(
                    RuleError::Invalid {
                        message: format!("priority {} is outside -{PRIORITY_MAX}..={PRIORITY_MAX}", p.get_ref()),
                    },
                    p.span(),
                    "out of range",
                );
                0
            }
            Some(p) => i32::try_from(*p.get_ref()).unwrap_or(0),
            None => 0,
        };

        let scope = match &raw.scope {
            Some(s) => self.scope(s, &head),
            None => {
                self.err(RuleError::Missing { field: "scope" }, head.clone(), "this rule has no scope");
                None
            }
        };

        let validity = match &raw.validity {
            Some(v) => self.validity(v),
            None => Some(Validity::default()),
        };

        let mut classes = match &raw.classes {
            Some(list) => {
                let set = self.class_list(list.get_ref(), true);
                if list.get_ref().is_empty() {
                    self.err(RuleError::Invalid { message: "`classes` is empty".to_owned() }, list.span(), "empty");
                }
                set
            }
            None => Some(ClassSet::ALL),
        };
        if let Some(except) = &raw.except {
            if let (Some(ex), Some(cl)) = (self.class_list(except, false), classes) {
                let left = ClassSet::from_bits(cl.bits() & !ex.bits());
                if left.is_empty() {
                    let span = raw.classes.as_ref().map_or(head.clone(), |c| c.span());
                    self.err(
                        RuleError::Invalid { message: "`except` leaves no class".to_owned() },
                        span,
                        "no class left",
                    );
                    classes = None;
                } else {
                    classes = Some(left);
                }
            }
        }

        let effect = match &raw.effect {
            Some(e) => self.effect(e, scope.as_ref(), &head),
            None => {
                self.err(RuleError::Missing { field: "effect" }, head, "this rule has no effect");
                None
            }
        };

        if self.diags.len() != n_before {
            return None;
        }
        Some(Rule { id: id?, scope: scope?, validity: validity?, classes: classes?, priority, effect: effect? })
    }

    fn scope(&mut self, raw: &RawScope, head: &Range<usize>) -> Option<Scope> {
        let spans: Vec<Range<usize>> = [
            raw.lanes.as_ref().map(|l| l.span()),
            raw.zone.as_ref().map(|z| z.span()),
            raw.intersection.as_ref().map(|i| i.span()),
        ]
        .into_iter()
        .flatten()
        .collect();
        if spans.len() != 1 {
            self.err(
                RuleError::Invalid {
                    message: format!(
                        "a scope is exactly one of `lanes`, `zone` or `intersection = true`; this one has {}",
                        spans.len()
                    ),
                },
                spans.get(1).cloned().unwrap_or_else(|| head.clone()),
                "ambiguous scope",
            );
            return None;
        }
        if let Some(lanes) = &raw.lanes {
            if lanes.get_ref().is_empty() {
                self.err(RuleError::Invalid { message: "`scope.lanes` is empty".to_owned() }, lanes.span(), "no lane");
                return None;
            }
            let ids: Vec<Option<LaneId>> = lanes.get_ref().iter().map(|l| self.lane(l)).collect();
            let mut ids: Vec<LaneId> = ids.into_iter().collect::<Option<_>>()?;
            ids.sort();
            ids.dedup();
            return Some(Scope::Lanes { lanes: ids });
        }
        if let Some(zone) = &raw.zone {
            let poly = zone.get_ref();
            if poly.len() < 3 || poly.iter().flatten().any(|v| !v.is_finite()) {
                self.err(
                    RuleError::Invalid {
                        message: "a zone is a polygon of at least 3 finite [east_m, north_m] points".to_owned(),
                    },
                    zone.span(),
                    "bad polygon",
                );
                return None;
            }
            let lanes = self.facts.lanes_in_zone(poly);
            if lanes.is_empty() {
                self.err(
                    RuleError::Invalid { message: "the zone covers no lane of the map".to_owned() },
                    zone.span(),
                    "no lane centre line inside",
                );
                return None;
            }
            return Some(Scope::Zone { polygon_enu_m: poly.clone(), lanes });
        }
        match &raw.intersection {
            Some(b) if *b.get_ref() => Some(Scope::Intersection),
            Some(b) => {
                self.err(
                    RuleError::Invalid {
                        message: "`intersection = false` is not a scope; give `lanes` or `zone`".to_owned(),
                    },
                    b.span(),
                    "false",
                );
                None
            }
            None => None,
        }
    }

    fn validity(&mut self, raw: &RawValidity) -> Option<Validity> {
        let n_before = self.diags.len();
        let mut out = Validity::default();
        if let (Some(_), Some(cal)) = (&raw.dates, &raw.calendar) {
            self.err(
                RuleError::Invalid { message: "give `dates` or `calendar`, not both".to_owned() },
                cal.span(),
                "both given",
            );
        }
        if let Some(dates) = &raw.dates {
            out.dates = dates.get_ref().iter().filter_map(|d| self.date_range(d)).collect();
            if dates.get_ref().is_empty() {
                self.err(
                    RuleError::Invalid { message: "`validity.dates` is empty".to_owned() },
                    dates.span(),
                    "no date",
                );
            }
        }
        if let Some(cal) = &raw.calendar {
            match self.calendars.get(cal.get_ref()) {
                Some(ranges) if !ranges.is_empty() => out.dates = ranges.clone(),
                Some(_) => self.err(
                    RuleError::Invalid { message: format!("calendar `{}` has no valid date", cal.get_ref()) },
                    cal.span(),
                    "empty calendar",
                ),
                None => self.err(
                    RuleError::UnknownCalendar { name: cal.get_ref().clone() },
                    cal.span(),
                    "not under [calendars]",
                ),
            }
        }
        if let Some(wd) = &raw.weekdays {
            let parsed = match wd.get_ref() {
                toml::Value::String(s) => Weekdays::parse(s),
                toml::Value::Array(items) => items.iter().try_fold(Weekdays(0), |acc, item| {
                    item.as_str().and_then(Weekdays::parse).map(|w| Weekdays(acc.0 | w.0))
                }),
                _ => None,
            };
            match parsed {
                Some(w) if w.0 != 0 => out.weekdays = w,
                _ => self.err(RuleError::BadWeekdays { text: wd.get_ref().to_string() }, wd.span(), "not weekdays"),
            }
        }
        if let Some(times) = &raw.times {
            for t in times.get_ref() {
                match parse_window(t.get_ref()) {
                    Ok(w) => out.windows.push(w),
                    Err(WindowError::Empty) => {
                        self.err(RuleError::EmptyTimeWindow { text: t.get_ref().clone() }, t.span(), "empty window")
                    }
                    Err(WindowError::Inverted) => self.diags.push(
                        Diagnostic::new(
                            RuleError::InvertedTimeWindow { text: t.get_ref().clone() },
                            t.span(),
                            "inverted window",
                        )
                        .with_help("a window across midnight is written as two: \"22:00-24:00\", \"00:00-06:00\""),
                    ),
                    Err(WindowError::Malformed(reason)) => {
                        self.err(RuleError::BadTimeWindow { text: t.get_ref().clone(), reason }, t.span(), "bad window")
                    }
                }
            }
            if times.get_ref().is_empty() {
                self.err(
                    RuleError::Invalid { message: "`validity.times` is empty".to_owned() },
                    times.span(),
                    "no window",
                );
            }
        }
        if out.dates.len() > MAX_RANGES || out.windows.len() > MAX_RANGES {
            let span = [
                raw.dates.as_ref().map(|d| d.span()),
                raw.calendar.as_ref().map(|c| c.span()),
                raw.times.as_ref().map(|t| t.span()),
            ]
            .into_iter()
            .flatten()
            .next()
            .unwrap_or(0..0);
            self.err(
                RuleError::Invalid {
                    message: format!("a rule has at most {MAX_RANGES} date ranges and {MAX_RANGES} time windows"),
                },
                span,
                "too many",
            );
        }
        (self.diags.len() == n_before).then_some(out)
    }

    fn effect(&mut self, raw: &RawEffect, scope: Option<&Scope>, head: &Range<usize>) -> Option<Effect> {
        let wz_span = raw.work_zone.as_ref().and_then(|w| {
            w.speed_limit_kmh.as_ref().map(|s| s.span()).or_else(|| w.merge_into.as_ref().map(|m| m.span()))
        });
        let present: Vec<Option<Range<usize>>> = [
            raw.speed_limit_kmh.as_ref().map(|v| Some(v.span())),
            raw.prohibit_turn.as_ref().map(|v| Some(v.span())),
            raw.permit_turn.as_ref().map(|v| Some(v.span())),
            raw.right_turn_on_red.as_ref().map(|v| Some(v.span())),
            raw.work_zone.as_ref().map(|_| wz_span.clone()),
            raw.reserved_for.as_ref().map(|v| Some(v.span())),
            raw.control.as_ref().map(|v| Some(v.span())),
            raw.no_stopping.as_ref().map(|v| Some(v.span())),
        ]
        .into_iter()
        .flatten()
        .collect();
        let count = present.len();
        if count != 1 {
            let span = present.iter().skip(1).flatten().next().cloned().unwrap_or_else(|| head.clone());
            self.err(RuleError::EffectCount { count }, span, if count == 0 { "no effect" } else { "another effect" });
            return None;
        }
        if let Some(s) = &raw.speed_limit_kmh {
            return self.speed(s).map(|limit_kmh| Effect::SpeedLimit { limit_kmh });
        }
        for (t, allowed) in [(&raw.prohibit_turn, false), (&raw.permit_turn, true)] {
            if let Some(t) = t {
                return match Manoeuvre::parse(t.get_ref()) {
                    Some(manoeuvre) => Some(Effect::Turn { manoeuvre, allowed }),
                    None => {
                        self.err(
                            RuleError::UnknownManoeuvre { name: t.get_ref().clone() },
                            t.span(),
                            "unknown manoeuvre",
                        );
                        None
                    }
                };
            }
        }
        if let Some(b) = &raw.right_turn_on_red {
            return Some(Effect::RightTurnOnRed { allowed: *b.get_ref() });
        }
        if let Some(wz) = &raw.work_zone {
            let n_before = self.diags.len();
            let speed_limit_kmh = wz.speed_limit_kmh.as_ref().and_then(|s| self.speed(s));
            let merge_into = wz.merge_into.as_ref().and_then(|m| {
                let lane = self.lane(m)?;
                if scope.is_some_and(|s| s.covers(&lane)) {
                    self.err(
                        RuleError::Invalid {
                            message: format!("`merge_into` lane `{lane}` is itself closed by this work zone"),
                        },
                        m.span(),
                        "closed lane",
                    );
                    return None;
                }
                Some(lane)
            });
            return (self.diags.len() == n_before).then_some(Effect::WorkZone { speed_limit_kmh, merge_into });
        }
        if let Some(list) = &raw.reserved_for {
            let set = self.class_list(list.get_ref(), false)?;
            if set.is_empty() {
                self.err(RuleError::Invalid { message: "`reserved_for` is empty".to_owned() }, list.span(), "nobody");
                return None;
            }
            return Some(Effect::ReservedLane { reserved_for: set });
        }
        if let Some(c) = &raw.control {
            return match c.get_ref().as_str() {
                "stop" => Some(Effect::Stop),
                "yield" => Some(Effect::Yield),
                other => {
                    self.err(
                        RuleError::Invalid { message: format!("control `{other}` is neither \"stop\" nor \"yield\"") },
                        c.span(),
                        "unknown control",
                    );
                    None
                }
            };
        }
        if let Some(b) = &raw.no_stopping {
            if *b.get_ref() {
                return Some(Effect::NoStopping);
            }
            self.err(
                RuleError::Invalid { message: "`no_stopping = false` says nothing; remove the rule".to_owned() },
                b.span(),
                "false",
            );
        }
        None
    }

    fn lane_bits(&self, scope: &Scope) -> Vec<u64> {
        let n = self.facts.lanes.len();
        let mut bits = vec![0u64; n.div_ceil(64)];
        match scope {
            Scope::Intersection => {
                for i in 0..n {
                    bits[i / 64] |= 1 << (i % 64);
                }
            }
            Scope::Lanes { lanes } | Scope::Zone { lanes, .. } => {
                for l in lanes {
                    if let Some(&i) = self.lane_index.get(l) {
                        bits[i / 64] |= 1 << (i % 64);
                    }
                }
            }
        }
        bits
    }

    /// Reports every pair of rules that fill the same slot with different
    /// effects, with equal precedence, for some common lane, class and instant.
    fn contradictions(&mut self, placed: &[Placed]) {
        let mut by_slot: BTreeMap<(usize, u8, i32), Vec<&Placed>> = BTreeMap::new();
        for p in placed {
            by_slot.entry((p.rule.effect.slot(), p.rule.scope.specificity(), p.rule.priority)).or_default().push(p);
        }
        for ((slot, _, _), group) in by_slot {
            for (j, b) in group.iter().enumerate() {
                // Report each rule once, against the first rule it contradicts.
                let other = group[..j].iter().find(|a| {
                    a.rule.effect != b.rule.effect
                        && a.rule.classes.intersects(b.rule.classes)
                        && a.lane_bits.iter().zip(&b.lane_bits).any(|(x, y)| x & y != 0)
                        && a.rule.validity.overlaps(&b.rule.validity)
                });
                if let Some(a) = other {
                    self.diags.push(
                        Diagnostic::new(
                            RuleError::Contradiction {
                                rule: b.rule.id.clone(),
                                other: a.rule.id.clone(),
                                slot: SLOT_NAMES[slot].to_owned(),
                            },
                            b.id_span.clone(),
                            "this rule",
                        )
                        .with_related(a.id_span.clone(), "contradicts this one")
                        .with_help(
                            "narrow the scope, classes or validity of one of them, or give one a higher `priority`",
                        ),
                    );
                }
            }
        }
    }
}
