//! The compiled rule set: an index answering "what applies to lane L, class C
//! at time T" and "when does that answer change next".
//!
//! [`CompiledRules`] keeps, for every (lane, class) pair, the rules that can
//! apply there, sorted by precedence (scope specificity, then priority, then
//! id). A query converts `T` to civil day and second-of-day in the rule set's
//! time zone once, then walks that list and lets the first rule in force win
//! each answer slot. No allocation, no hashing beyond the lane id lookup.
//!
//! The RSU loads a [`RuleSet`] with [`CompiledRules::load`], which refuses a
//! set validated against another map version than the one it runs.

use corridor_model::{LaneId, MapVersion, Timestamp};
use jiff::tz::{AmbiguousOffset, TimeZone};
use serde::Serialize;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::class::VehicleClass;
use crate::effect::{Effect, Manoeuvre, SLOT_COUNT};
use crate::ruleset::{Rule, RuleSet, Scope, FORMAT_VERSION};
use crate::validity::{civil_from_day, day_from_civil, weekday_of_day, DAY_S, MAX_YEAR, MIN_YEAR};

const NS_PER_S: i64 = 1_000_000_000;
const NONE: u32 = u32::MAX;
const CLASSES: usize = VehicleClass::ALL.len();
/// `next_change` looks at most this many days on which some rule can change.
pub const MAX_BOUNDARY_DAYS: usize = 1000;

/// Why a rule set cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The rules were validated against another map than the one running.
    #[error("rules were validated against map {compiled_for} but map {running} is running; refusing them")]
    MapVersionMismatch {
        /// The map version recorded in the rule set.
        compiled_for: MapVersion,
        /// The map version the caller runs.
        running: MapVersion,
    },
    /// The rule set's content hash is not the one announced.
    #[error("rule set hash {actual} differs from the announced version {expected}")]
    VersionMismatch {
        /// The announced version.
        expected: MapVersion,
        /// The hash of what was received.
        actual: MapVersion,
    },
    /// The time zone is not in the tz database.
    #[error("unknown time zone `{name}`")]
    UnknownTimeZone {
        /// The name.
        name: String,
    },
    /// A language version this build does not read.
    #[error("rule set format {format} is not supported (this build reads {FORMAT_VERSION})")]
    UnsupportedFormat {
        /// The format found.
        format: u32,
    },
    /// A rule with more than 255 date ranges or time windows.
    #[error("rule `{rule}` has more than 255 date ranges or time windows")]
    TooComplex {
        /// The rule.
        rule: String,
    },
    /// A rule names a lane the rule set's lane list lacks (a corrupt or hand-made set).
    #[error("rule `{rule}` names lane `{lane}`, which is not in the rule set's lane list")]
    UnknownLane {
        /// The rule.
        rule: String,
        /// The lane.
        lane: String,
    },
}

/// Why a query cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The lane is not in the map the rules were compiled for.
    #[error("lane `{lane}` is not in the map the rules were compiled for")]
    UnknownLane {
        /// The lane asked for.
        lane: String,
    },
    /// The time cannot be placed in the calendar.
    #[error("time {unix_ns} ns is outside the supported range")]
    TimeOutOfRange {
        /// The time asked for.
        unix_ns: i64,
    },
}

/// The answer to one query: for each slot, the winning rule (if any).
#[derive(Clone, Copy)]
pub struct Effects<'a> {
    rules: &'a [Rule],
    slots: [u32; SLOT_COUNT],
}

impl PartialEq for Effects<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.slots == other.slots && std::ptr::eq(self.rules, other.rules)
    }
}

impl std::fmt::Debug for Effects<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter().map(|r| (&r.id, &r.effect))).finish()
    }
}

/// One applicable effect, as printed by `cloud-control rules query`.
#[derive(Debug, Clone, Serialize)]
pub struct AppliedEffect<'a> {
    /// The rule that decided it.
    pub rule: &'a str,
    /// Its scope kind (`lanes`, `zone`, `intersection`).
    pub scope: &'static str,
    /// Its priority.
    pub priority: i32,
    /// The effect.
    #[serde(flatten)]
    pub effect: &'a Effect,
}

impl<'a> Effects<'a> {
    /// For each slot (see [`Effect::slot`]), the index of the winning rule in [`RuleSet::rules`].
    pub fn rule_indices(&self) -> [Option<usize>; SLOT_COUNT] {
        self.slots.map(|s| (s != NONE).then_some(s as usize))
    }

    /// The winning rules, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = &'a Rule> + '_ {
        let rules = self.rules;
        self.slots.iter().filter(|s| **s != NONE).filter_map(move |s| rules.get(*s as usize))
    }

    /// Whether no rule applies.
    pub fn is_empty(&self) -> bool {
        self.slots.iter().all(|s| *s == NONE)
    }

    /// The speed limit in force, km/h (the lower of a speed-limit rule and a work zone's limit).
    pub fn speed_limit_kmh(&self) -> Option<u16> {
        self.iter()
            .filter_map(|r| match &r.effect {
                Effect::SpeedLimit { limit_kmh } => Some(*limit_kmh),
                Effect::WorkZone { speed_limit_kmh, .. } => *speed_limit_kmh,
                _ => None,
            })
            .min()
    }

    /// Whether manoeuvre `m` is explicitly permitted (`Some(true)`), prohibited
    /// (`Some(false)`), or not ruled on (`None`).
    pub fn turn_allowed(&self, m: Manoeuvre) -> Option<bool> {
        self.iter().find_map(|r| match &r.effect {
            Effect::Turn { manoeuvre, allowed } if *manoeuvre == m => Some(*allowed),
            _ => None,
        })
    }

    /// The effect in slot `slot`, if any.
    pub fn slot(&self, slot: usize) -> Option<&'a Rule> {
        self.slots.get(slot).filter(|s| **s != NONE).and_then(|s| self.rules.get(*s as usize))
    }

    /// The applicable effects, in slot order, ready to serialise.
    pub fn applied(&self) -> Vec<AppliedEffect<'a>> {
        self.iter()
            .map(|r| AppliedEffect { rule: &r.id, scope: r.scope.kind(), priority: r.priority, effect: &r.effect })
            .collect()
    }
}

/// A rule set compiled for fast queries.
#[derive(Debug, Clone)]
pub struct CompiledRules {
    set: RuleSet,
    version: MapVersion,
    tz: TimeZone,
    lane_index: HashMap<LaneId, u32, BuildHasherDefault<Fnv1a>>,
    /// `offsets[lane * CLASSES + class] .. offsets[.. + 1]` indexes `candidates`.
    offsets: Vec<u32>,
    /// Per (lane, class), the rules that can apply, in precedence order, each
    /// with its validity inlined so a query reads one contiguous run of memory.
    candidates: Vec<Cand>,
    /// Date ranges of all rules, `(from_day, to_day)`; `Cand::dates_at` indexes it.
    dates: Vec<(i32, i32)>,
    /// Time windows of all rules, `(start_s, end_s)`; `Cand::windows_at` indexes it.
    windows: Vec<(u32, u32)>,
    /// UTC offsets of the zone, for fast civil-time conversion.
    offsets_table: OffsetTable,
}

/// One candidate rule of a (lane, class) list: 16 bytes.
#[derive(Debug, Clone, Copy)]
struct Cand {
    rule: u32,
    dates_at: u32,
    windows_at: u32,
    n_dates: u8,
    n_windows: u8,
    slot: u8,
    weekdays: u8,
}

impl Cand {
    #[inline]
    fn in_force(&self, c: &CompiledRules, day: i32, weekday: u32, sod: u32) -> bool {
        if self.weekdays & (1 << weekday) == 0 {
            return false;
        }
        let (d0, w0) = (self.dates_at as usize, self.windows_at as usize);
        (self.n_dates == 0 || c.dates[d0..d0 + usize::from(self.n_dates)].iter().any(|&(a, b)| a <= day && day <= b))
            && (self.n_windows == 0
                || c.windows[w0..w0 + usize::from(self.n_windows)].iter().any(|&(a, b)| a <= sod && sod < b))
    }
}

/// FNV-1a: a fast hash for short lane ids (they come from our own map, so no HashDoS concern).
#[derive(Default)]
struct Fnv1a(u64);

impl Hasher for Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The zone's UTC offset as a step function over 1970..=2200, so a query
/// converts to civil time with one binary search; outside that range jiff answers.
#[derive(Debug, Clone, Default)]
struct OffsetTable {
    from_s: i64,
    to_s: i64,
    /// Offset before the first transition.
    first_offset_s: i32,
    /// Transition instants (Unix s) and the offset from each on.
    transitions_s: Vec<i64>,
    offsets_s: Vec<i32>,
}

impl OffsetTable {
    fn new(tz: &TimeZone) -> Self {
        let from_s = i64::from(day_from_civil(MIN_YEAR, 1, 1)) * i64::from(DAY_S);
        let to_s = i64::from(day_from_civil(MAX_YEAR + 1, 1, 1)) * i64::from(DAY_S);
        let Ok(from) = jiff::Timestamp::from_second(from_s) else { return OffsetTable::default() };
        let mut t =
            OffsetTable { from_s, to_s, first_offset_s: tz.to_offset(from).seconds(), ..OffsetTable::default() };
        for tr in tz.following(from) {
            let at = tr.timestamp().as_second();
            if at > to_s {
                break;
            }
            t.transitions_s.push(at);
            t.offsets_s.push(tr.offset().seconds());
        }
        t
    }

    #[inline]
    fn offset_s(&self, s: i64) -> Option<i32> {
        if s < self.from_s || s >= self.to_s {
            return None;
        }
        let i = self.transitions_s.partition_point(|&t| t <= s);
        Some(if i == 0 { self.first_offset_s } else { self.offsets_s[i - 1] })
    }
}

impl CompiledRules {
    /// Compiles a validated rule set (any map version; see [`Self::load`] for the RSU's check).
    pub fn new(set: RuleSet) -> Result<Self, LoadError> {
        if set.format != FORMAT_VERSION {
            return Err(LoadError::UnsupportedFormat { format: set.format });
        }
        let tz =
            TimeZone::get(&set.time_zone).map_err(|_| LoadError::UnknownTimeZone { name: set.time_zone.clone() })?;
        let version = set.version();
        let lane_index: HashMap<LaneId, u32, BuildHasherDefault<Fnv1a>> =
            set.lanes.iter().enumerate().map(|(i, l)| (l.clone(), i as u32)).collect();
        let n_lanes = set.lanes.len();
        let mut lists: Vec<Vec<Cand>> = vec![Vec::new(); n_lanes * CLASSES];
        let (mut dates, mut windows) = (Vec::new(), Vec::new());
        let mut compact = Vec::with_capacity(set.rules.len());
        for (ri, r) in set.rules.iter().enumerate() {
            let v = &r.validity;
            let (Ok(n_dates), Ok(n_windows)) = (u8::try_from(v.dates.len()), u8::try_from(v.windows.len())) else {
                return Err(LoadError::TooComplex { rule: r.id.clone() });
            };
            compact.push(Cand {
                rule: ri as u32,
                dates_at: dates.len() as u32,
                windows_at: windows.len() as u32,
                n_dates,
                n_windows,
                slot: r.effect.slot() as u8,
                weekdays: v.weekdays.0,
            });
            dates.extend(v.dates.iter().map(|d| (d.from_day, d.to_day)));
            windows.extend(v.windows.iter().map(|w| (w.start_s, w.end_s)));
        }
        let mut order: Vec<usize> = (0..set.rules.len()).collect();
        // Precedence: higher (specificity, priority) first; ties by position (rules are sorted by id).
        order.sort_by(|&a, &b| set.rules[b].precedence().cmp(&set.rules[a].precedence()).then(a.cmp(&b)));
        for &ri in &order {
            let rule = &set.rules[ri];
            let lanes: Vec<usize> = match &rule.scope {
                Scope::Intersection => (0..n_lanes).collect(),
                Scope::Lanes { lanes } | Scope::Zone { lanes, .. } => lanes
                    .iter()
                    .map(|l| {
                        lane_index
                            .get(l)
                            .map(|i| *i as usize)
                            .ok_or_else(|| LoadError::UnknownLane { rule: rule.id.clone(), lane: l.to_string() })
                    })
                    .collect::<Result<_, _>>()?,
            };
            for lane in lanes {
                for c in rule.classes.iter() {
                    lists[lane * CLASSES + c.index()].push(compact[ri]);
                }
            }
        }
        let mut offsets = Vec::with_capacity(lists.len() + 1);
        let mut candidates = Vec::with_capacity(lists.iter().map(Vec::len).sum());
        offsets.push(0);
        for l in &lists {
            candidates.extend_from_slice(l);
            offsets.push(candidates.len() as u32);
        }
        let offsets_table = OffsetTable::new(&tz);
        Ok(CompiledRules { set, version, tz, lane_index, offsets, candidates, dates, windows, offsets_table })
    }

    /// Loads a rule set on an RSU that runs map `running_map`: refuses a set
    /// validated against any other map version, then compiles it.
    pub fn load(set: RuleSet, running_map: &MapVersion) -> Result<Self, LoadError> {
        if set.map_version != *running_map {
            return Err(LoadError::MapVersionMismatch { compiled_for: set.map_version, running: *running_map });
        }
        Self::new(set)
    }

    /// Like [`Self::load`], and also checks that the set hashes to the announced `expected` version.
    pub fn load_verified(set: RuleSet, expected: &MapVersion, running_map: &MapVersion) -> Result<Self, LoadError> {
        let actual = set.version();
        if actual != *expected {
            return Err(LoadError::VersionMismatch { expected: *expected, actual });
        }
        Self::load(set, running_map)
    }

    /// Checks that the rules were validated against `running_map`.
    pub fn ensure_map(&self, running_map: &MapVersion) -> Result<(), LoadError> {
        if self.set.map_version == *running_map {
            Ok(())
        } else {
            Err(LoadError::MapVersionMismatch { compiled_for: self.set.map_version, running: *running_map })
        }
    }

    /// The rule set's version (content hash).
    pub fn version(&self) -> MapVersion {
        self.version
    }

    /// The map version the rules were validated against.
    pub fn map_version(&self) -> MapVersion {
        self.set.map_version
    }

    /// The rule set.
    pub fn rule_set(&self) -> &RuleSet {
        &self.set
    }

    /// The time zone validity windows are read in.
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    fn candidates(&self, lane: &LaneId, class: VehicleClass) -> Result<&[Cand], QueryError> {
        let li = *self.lane_index.get(lane).ok_or_else(|| QueryError::UnknownLane { lane: lane.to_string() })? as usize;
        let k = li * CLASSES + class.index();
        let (a, b) = (self.offsets[k] as usize, self.offsets[k + 1] as usize);
        Ok(&self.candidates[a..b])
    }

    /// Civil (day number, second of day) of Unix second `s` in the rule set's zone.
    fn civil_of_s(&self, s: i64) -> Result<(i32, u32), QueryError> {
        let ts = jiff::Timestamp::from_second(s)
            .map_err(|_| QueryError::TimeOutOfRange { unix_ns: s.saturating_mul(NS_PER_S) })?;
        let offset_s = match self.offsets_table.offset_s(s) {
            Some(o) => o,
            None => self.tz.to_offset(ts).seconds(),
        };
        let local = s + i64::from(offset_s);
        Ok((local.div_euclid(i64::from(DAY_S)) as i32, local.rem_euclid(i64::from(DAY_S)) as u32))
    }

    #[inline]
    fn eval(&self, cands: &[Cand], day: i32, sod: u32) -> [u32; SLOT_COUNT] {
        let mut slots = [NONE; SLOT_COUNT];
        let mut filled = 0u32;
        let weekday = weekday_of_day(day);
        for c in cands {
            if filled & (1 << c.slot) != 0 {
                continue;
            }
            if c.in_force(self, day, weekday, sod) {
                slots[usize::from(c.slot)] = c.rule;
                filled |= 1 << c.slot;
            }
        }
        slots
    }

    /// The effects in force for `class` on `lane` at `at`: per slot, the rule
    /// with the most specific scope, then the highest priority, among those in force.
    pub fn applicable(&self, lane: &LaneId, class: VehicleClass, at: Timestamp) -> Result<Effects<'_>, QueryError> {
        let cands = self.candidates(lane, class)?;
        let (day, sod) = self.civil_of_s(at.unix_ns.div_euclid(NS_PER_S))?;
        Ok(Effects { rules: &self.set.rules, slots: self.eval(cands, day, sod) })
    }

    /// The first instant after `at` at which [`Self::applicable`] gives a
    /// different answer for this lane and class, or `None` if it does not
    /// change within the next [`MAX_BOUNDARY_DAYS`] days on which some rule
    /// starts or stops (in practice: never).
    pub fn next_change(
        &self,
        lane: &LaneId,
        class: VehicleClass,
        at: Timestamp,
    ) -> Result<Option<Timestamp>, QueryError> {
        let cands = self.candidates(lane, class)?;
        let at_s = at.unix_ns.div_euclid(NS_PER_S);
        let (day0, sod0) = self.civil_of_s(at_s)?;
        let current = self.eval(cands, day0, sod0);
        let rules = &self.set.rules;
        let mut from_day = day0 - 1;
        let last_day = day_from_civil(MAX_YEAR + 1, 12, 31);
        let mut instants: Vec<i64> = Vec::new();
        let mut civil: Vec<i64> = Vec::new();
        for _ in 0..MAX_BOUNDARY_DAYS {
            let Some(d) =
                cands.iter().filter_map(|c| rules[c.rule as usize].validity.next_boundary_day(from_day)).min()
            else {
                return Ok(None);
            };
            if d > last_day {
                // Only the open ends of "always" ranges lie beyond the calendar's last year.
                return Ok(None);
            }
            civil.clear();
            instants.clear();
            let day_start = i64::from(d) * i64::from(DAY_S);
            for c in cands {
                let v = &rules[c.rule as usize].validity;
                if !v.is_boundary_day(d) {
                    continue;
                }
                if v.windows.is_empty() {
                    civil.extend([day_start, day_start + i64::from(DAY_S)]);
                } else {
                    for w in &v.windows {
                        civil.extend([day_start + i64::from(w.start_s), day_start + i64::from(w.end_s)]);
                    }
                }
            }
            civil.sort_unstable();
            civil.dedup();
            for &c in &civil {
                self.instants_of_civil(c, &mut instants);
            }
            self.transitions_on_day(d, &mut instants);
            instants.sort_unstable();
            instants.dedup();
            for &t in &instants {
                if t.saturating_mul(NS_PER_S) <= at.unix_ns {
                    continue;
                }
                let (dd, ss) = self.civil_of_s(t)?;
                if self.eval(cands, dd, ss) != current {
                    return Ok(Some(Timestamp::from_unix_ns(t.saturating_mul(NS_PER_S))));
                }
            }
            from_day = d + 1;
        }
        Ok(None)
    }

    /// The instants (Unix seconds) whose civil time is `civil_s` (seconds since
    /// 1970-01-01T00:00 civil): one, two in a fold, none in a gap (the gap's
    /// transition instant is added by [`Self::transitions_on_day`]).
    fn instants_of_civil(&self, civil_s: i64, out: &mut Vec<i64>) {
        let day = civil_s.div_euclid(i64::from(DAY_S));
        let sod = civil_s.rem_euclid(i64::from(DAY_S));
        let Ok(day) = i32::try_from(day) else { return };
        let (y, m, d) = civil_from_day(day);
        let (Ok(y), Ok(m), Ok(d)) = (i16::try_from(y), i8::try_from(m), i8::try_from(d)) else {
            return;
        };
        let (h, mi, s) = ((sod / 3600) as i8, ((sod % 3600) / 60) as i8, (sod % 60) as i8);
        let Ok(dt) = jiff::civil::DateTime::new(y, m, d, h, mi, s, 0) else {
            return;
        };
        match self.tz.to_ambiguous_timestamp(dt).offset() {
            AmbiguousOffset::Unambiguous { offset } => out.push(civil_s - i64::from(offset.seconds())),
            AmbiguousOffset::Fold { before, after } => {
                out.push(civil_s - i64::from(before.seconds()));
                out.push(civil_s - i64::from(after.seconds()));
            }
            AmbiguousOffset::Gap { .. } => {}
        }
    }

    /// Time zone transitions whose civil time (before or after) falls on civil day `day`.
    fn transitions_on_day(&self, day: i32, out: &mut Vec<i64>) {
        let start = i64::from(day) * i64::from(DAY_S);
        let Ok(from) = jiff::Timestamp::from_second(start - 2 * i64::from(DAY_S)) else {
            return;
        };
        for tr in self.tz.following(from) {
            let t = tr.timestamp().as_second();
            if t > start + 3 * i64::from(DAY_S) {
                break;
            }
            let after = t + i64::from(tr.offset().seconds());
            let before = jiff::Timestamp::from_second(t - 1)
                .map(|p| t + i64::from(self.tz.to_offset(p).seconds()))
                .unwrap_or(after);
            if [before, after].iter().any(|c| c.div_euclid(i64::from(DAY_S)) == i64::from(day)) {
                out.push(t);
            }
        }
    }
}
