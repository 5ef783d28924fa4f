//! When a rule is in force: date ranges, weekdays and time-of-day windows.
//!
//! All three are **civil** (wall-clock) notions in the intersection's IANA
//! time zone. A rule is valid at an instant `t` when, with `L` the civil
//! date-time of `t` in that zone, `L`'s date is in one of the date ranges
//! (inclusive), its weekday is in the weekday set, and its time of day is in
//! one of the windows `[start, end)`. Daylight saving follows from that
//! definition: a `01:00-04:00` window on the night clocks spring forward lasts
//! two real hours, on the night they fall back four.
//!
//! Dates are held as day numbers (days since 1970-01-01, civil, proleptic
//! Gregorian) so the compiled index compares integers only.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Seconds in a civil day.
pub const DAY_S: u32 = 86_400;

/// First year accepted in a date.
pub const MIN_YEAR: i32 = 1970;
/// Last year accepted in a date.
pub const MAX_YEAR: i32 = 2200;

/// Days from 1970-01-01 to `y-m-d` (proleptic Gregorian; H. Hinnant's `days_from_civil`).
pub fn day_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400) as u32; // [0, 399]
    let mp = (m + 9) % 12; // March = 0
    let doy = (153 * mp + 2) / 5 + d - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe as i32 - 719_468
}

/// The civil date `(year, month, day)` of a day number (inverse of [`day_from_civil`]).
pub fn civil_from_day(z: i32) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097) as u32;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe as i32 + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Weekday of a day number: 0 = Monday ... 6 = Sunday.
pub fn weekday_of_day(day: i32) -> u32 {
    // 1970-01-01 was a Thursday (3).
    (day + 3).rem_euclid(7) as u32
}

/// Days in `month` of `year`.
pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// Renders a day number as `YYYY-MM-DD`.
pub fn format_day(day: i32) -> String {
    let (y, m, d) = civil_from_day(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Why a date could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateError {
    /// Not `YYYY-MM-DD`.
    Format,
    /// Well formed but not a day of the calendar (the reason in words).
    Impossible(String),
}

/// Parses `YYYY-MM-DD` into a day number.
pub fn parse_date(s: &str) -> Result<i32, DateError> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(DateError::Format);
    }
    let num = |r: std::ops::Range<usize>| -> Result<u32, DateError> {
        let part = s.get(r).ok_or(DateError::Format)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return Err(DateError::Format);
        }
        part.parse().map_err(|_| DateError::Format)
    };
    let (y, m, d) = (num(0..4)? as i32, num(5..7)?, num(8..10)?);
    if !(MIN_YEAR..=MAX_YEAR).contains(&y) {
        return Err(DateError::Impossible(format!("year {y} is outside {MIN_YEAR}..={MAX_YEAR}")));
    }
    if !(1..=12).contains(&m) {
        return Err(DateError::Impossible(format!("there is no month {m}")));
    }
    let dim = days_in_month(y, m);
    if d == 0 || d > dim {
        return Err(DateError::Impossible(format!("{} {y} has {dim} days", MONTHS[(m - 1) as usize])));
    }
    Ok(day_from_civil(y, m, d))
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// An inclusive range of civil dates, as day numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateRange {
    /// First day (inclusive).
    pub from_day: i32,
    /// Last day (inclusive).
    pub to_day: i32,
}

impl DateRange {
    /// Every day.
    pub const ALWAYS: DateRange = DateRange { from_day: i32::MIN / 2, to_day: i32::MAX / 2 };

    /// Whether `day` is in the range.
    pub fn contains(&self, day: i32) -> bool {
        self.from_day <= day && day <= self.to_day
    }
}

impl fmt::Display for DateRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.from_day == self.to_day {
            f.write_str(&format_day(self.from_day))
        } else {
            write!(f, "{}..{}", format_day(self.from_day), format_day(self.to_day))
        }
    }
}

impl Serialize for DateRange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DateRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let bad = |_| serde::de::Error::custom(format!("bad date range `{s}`"));
        let (a, b) = s.split_once("..").unwrap_or((&s, &s));
        Ok(DateRange { from_day: parse_date(a).map_err(bad)?, to_day: parse_date(b).map_err(bad)? })
    }
}

/// A time-of-day window `[start_s, end_s)` in seconds since civil midnight; `end_s <= 86400`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeWindow {
    /// Start, seconds since midnight (inclusive).
    pub start_s: u32,
    /// End, seconds since midnight (exclusive); 86400 is `24:00`.
    pub end_s: u32,
}

impl TimeWindow {
    /// The whole day.
    pub const ALL_DAY: TimeWindow = TimeWindow { start_s: 0, end_s: DAY_S };

    /// Whether `sod` (seconds of day) is inside.
    pub fn contains(&self, sod: u32) -> bool {
        self.start_s <= sod && sod < self.end_s
    }
}

fn fmt_hm(s: u32) -> String {
    format!("{:02}:{:02}", s / 3600, (s % 3600) / 60)
}

impl fmt::Display for TimeWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", fmt_hm(self.start_s), fmt_hm(self.end_s))
    }
}

impl Serialize for TimeWindow {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TimeWindow {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        match parse_window(&s) {
            Ok(w) => Ok(w),
            Err(_) => Err(serde::de::Error::custom(format!("bad time window `{s}`"))),
        }
    }
}

/// Why a time window could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowError {
    /// Not `HH:MM-HH:MM`, or an hour/minute out of range (the reason in words).
    Malformed(String),
    /// Start equals end.
    Empty,
    /// End before start.
    Inverted,
}

fn parse_hm(s: &str) -> Result<u32, WindowError> {
    let bad = || WindowError::Malformed(format!("`{s}` is not a time HH:MM"));
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 24 || m > 59 || (h == 24 && m != 0) {
        return Err(WindowError::Malformed(format!("{h:02}:{m:02} is not a time of day (00:00 to 24:00)")));
    }
    Ok(h * 3600 + m * 60)
}

/// Parses `HH:MM-HH:MM` (end may be `24:00`).
pub fn parse_window(s: &str) -> Result<TimeWindow, WindowError> {
    let (a, b) = s
        .split_once('-')
        .ok_or_else(|| WindowError::Malformed("a window is written START-END, e.g. 07:00-09:00".to_owned()))?;
    let (start_s, end_s) = (parse_hm(a)?, parse_hm(b)?);
    if start_s == end_s {
        return Err(WindowError::Empty);
    }
    if end_s < start_s {
        return Err(WindowError::Inverted);
    }
    Ok(TimeWindow { start_s, end_s })
}

/// A set of weekdays: bit 0 = Monday ... bit 6 = Sunday.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Weekdays(pub u8);

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Weekdays {
    /// Every day of the week.
    pub const ALL: Weekdays = Weekdays(0x7f);

    /// Whether weekday `wd` (0 = Monday) is in the set.
    pub fn contains(self, wd: u32) -> bool {
        self.0 & (1 << wd) != 0
    }

    fn day_index(name: &str) -> Option<u32> {
        let n = name.trim().to_ascii_lowercase();
        let n = n.get(..3).filter(|_| n.len() == 3 || DAY_FULL.contains(&n.as_str()))?;
        DAY_NAMES.iter().position(|d| *d == n).map(|i| i as u32)
    }

    /// Parses one item: a day (`mon`, `monday`), a range (`mon-fri`, wrapping
    /// allowed: `fri-mon`), or `weekdays`, `weekend`, `daily`.
    pub fn parse_item(item: &str) -> Option<Weekdays> {
        match item.trim().to_ascii_lowercase().as_str() {
            "weekdays" => return Some(Weekdays(0x1f)),
            "weekend" => return Some(Weekdays(0x60)),
            "daily" | "all" => return Some(Weekdays::ALL),
            _ => {}
        }
        if let Some((a, b)) = item.split_once('-') {
            let (a, b) = (Self::day_index(a)?, Self::day_index(b)?);
            let mut bits = 0u8;
            let mut d = a;
            loop {
                bits |= 1 << d;
                if d == b {
                    break;
                }
                d = (d + 1) % 7;
            }
            return Some(Weekdays(bits));
        }
        Self::day_index(item).map(|d| Weekdays(1 << d))
    }

    /// Parses a comma-separated list of items (see [`Self::parse_item`]).
    pub fn parse(s: &str) -> Option<Weekdays> {
        let mut bits = 0u8;
        for item in s.split(',') {
            bits |= Self::parse_item(item)?.0;
        }
        Some(Weekdays(bits))
    }
}

const DAY_FULL: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

impl fmt::Display for Weekdays {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = (0..7).filter(|d| self.contains(*d)).map(|d| DAY_NAMES[d as usize]).collect();
        f.write_str(&names.join(","))
    }
}

impl fmt::Debug for Weekdays {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Weekdays({self})")
    }
}

impl Serialize for Weekdays {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Weekdays {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        if s.is_empty() {
            return Ok(Weekdays(0));
        }
        Weekdays::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("bad weekdays `{s}`")))
    }
}

/// When a rule is in force (see the module doc for the exact meaning).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Validity {
    /// Date ranges (inclusive); empty = every date.
    pub dates: Vec<DateRange>,
    /// Weekdays.
    pub weekdays: Weekdays,
    /// Time-of-day windows; empty = all day.
    pub windows: Vec<TimeWindow>,
}

impl Default for Validity {
    fn default() -> Self {
        Validity { dates: Vec::new(), weekdays: Weekdays::ALL, windows: Vec::new() }
    }
}

impl Validity {
    /// Whether civil day `day` is one on which the rule can be in force.
    pub fn on_day(&self, day: i32) -> bool {
        self.weekdays.contains(weekday_of_day(day))
            && (self.dates.is_empty() || self.dates.iter().any(|r| r.contains(day)))
    }

    /// Whether the rule is in force at civil day `day`, second of day `sod`.
    #[inline]
    pub fn contains(&self, day: i32, sod: u32) -> bool {
        self.on_day(day) && (self.windows.is_empty() || self.windows.iter().any(|w| w.contains(sod)))
    }

    /// Whether some civil instant is in both validities (exact).
    pub fn overlaps(&self, other: &Validity) -> bool {
        let wa: &[TimeWindow] = if self.windows.is_empty() { &[TimeWindow::ALL_DAY] } else { &self.windows };
        let wb: &[TimeWindow] = if other.windows.is_empty() { &[TimeWindow::ALL_DAY] } else { &other.windows };
        let windows_meet = wa.iter().any(|a| wb.iter().any(|b| a.start_s.max(b.start_s) < a.end_s.min(b.end_s)));
        let mask = self.weekdays.0 & other.weekdays.0;
        if !windows_meet || mask == 0 {
            return false;
        }
        let da: &[DateRange] = if self.dates.is_empty() { &[DateRange::ALWAYS] } else { &self.dates };
        let db: &[DateRange] = if other.dates.is_empty() { &[DateRange::ALWAYS] } else { &other.dates };
        da.iter().any(|a| {
            db.iter().any(|b| {
                let (lo, hi) = (a.from_day.max(b.from_day), a.to_day.min(b.to_day));
                lo <= hi && (hi - lo >= 6 || (lo..=hi).any(|d| mask & (1 << weekday_of_day(d)) != 0))
            })
        })
    }

    /// Whether the rule's validity can change at some instant of civil day `day`
    /// (a window edge, or the first or last day of a run of valid days).
    pub fn is_boundary_day(&self, day: i32) -> bool {
        self.on_day(day) && (!self.windows.is_empty() || !self.on_day(day - 1) || !self.on_day(day + 1))
    }

    /// The first day `>= from_day` that [`Self::is_boundary_day`], if any.
    pub fn next_boundary_day(&self, from_day: i32) -> Option<i32> {
        let ranges: &[DateRange] = if self.dates.is_empty() { &[DateRange::ALWAYS] } else { &self.dates };
        let mut best: Option<i32> = None;
        for r in ranges {
            if r.to_day < from_day {
                continue;
            }
            let start = r.from_day.max(from_day);
            if best.is_some_and(|b| b <= start) {
                continue;
            }
            // Within 8 consecutive days of a range, any boundary day shows up unless
            // the rule is valid all day every day (then only the range's ends count).
            let scan_end = r.to_day.min(start.saturating_add(8));
            let mut found = (start..=scan_end).find(|d| self.is_boundary_day(*d));
            if found.is_none() && scan_end < r.to_day && self.is_boundary_day(r.to_day) {
                found = Some(r.to_day);
            }
            if let Some(f) = found {
                best = Some(best.map_or(f, |b| b.min(f)));
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days_round_trip_and_weekdays() {
        assert_eq!(day_from_civil(1970, 1, 1), 0);
        assert_eq!(weekday_of_day(0), 3); // Thursday
        let d = day_from_civil(2026, 11, 23);
        assert_eq!(weekday_of_day(d), 0); // a Monday
        for z in [-1000, 0, 59, 60, 20_000, 56_000, 84_000] {
            let (y, m, dd) = civil_from_day(z);
            assert_eq!(day_from_civil(y, m, dd), z);
        }
        assert_eq!(format_day(day_from_civil(2024, 2, 29)), "2024-02-29");
    }

    #[test]
    fn dates_are_checked() {
        assert!(parse_date("2026-09-01").is_ok());
        assert_eq!(parse_date("2026-02-29"), Err(DateError::Impossible("February 2026 has 28 days".into())));
        assert!(parse_date("2028-02-29").is_ok());
        assert!(matches!(parse_date("2026-13-01"), Err(DateError::Impossible(_))));
        assert!(matches!(parse_date("2026-04-31"), Err(DateError::Impossible(_))));
        assert_eq!(parse_date("2026-9-1"), Err(DateError::Format));
        assert_eq!(parse_date("2026-09-0x"), Err(DateError::Format));
    }

    #[test]
    fn windows_are_checked() {
        assert_eq!(parse_window("07:00-09:00"), Ok(TimeWindow { start_s: 7 * 3600, end_s: 9 * 3600 }));
        assert_eq!(parse_window("22:00-24:00").map(|w| w.end_s), Ok(DAY_S));
        assert_eq!(parse_window("09:00-09:00"), Err(WindowError::Empty));
        assert_eq!(parse_window("09:00-07:00"), Err(WindowError::Inverted));
        assert!(matches!(parse_window("25:00-26:00"), Err(WindowError::Malformed(_))));
        assert!(matches!(parse_window("7-9"), Err(WindowError::Malformed(_))));
    }

    #[test]
    fn weekdays_parse() {
        assert_eq!(Weekdays::parse("mon-fri"), Some(Weekdays(0x1f)));
        assert_eq!(Weekdays::parse("fri-mon"), Some(Weekdays(0b111_0001)));
        assert_eq!(Weekdays::parse("sat,sunday"), Some(Weekdays(0x60)));
        assert_eq!(Weekdays::parse("weekdays"), Some(Weekdays(0x1f)));
        assert_eq!(Weekdays::parse("funday"), None);
        assert_eq!(Weekdays(0x1f).to_string(), "mon,tue,wed,thu,fri");
    }

    #[test]
    fn overlap_is_exact() {
        let day = day_from_civil(2026, 11, 23); // Monday
        let monday_only = Validity {
            dates: vec![DateRange { from_day: day, to_day: day }],
            weekdays: Weekdays::ALL,
            windows: vec![TimeWindow { start_s: 0, end_s: 3600 }],
        };
        let weekend = Validity { weekdays: Weekdays(0x60), ..Validity::default() };
        assert!(!monday_only.overlaps(&weekend));
        let late = Validity { windows: vec![TimeWindow { start_s: 3600, end_s: 7200 }], ..Validity::default() };
        assert!(!monday_only.overlaps(&late), "touching windows do not overlap");
        assert!(monday_only.overlaps(&Validity::default()));
    }

    #[test]
    fn boundary_days() {
        let a = day_from_civil(2026, 1, 1);
        let v = Validity { dates: vec![DateRange { from_day: a, to_day: a + 100 }], ..Validity::default() };
        assert_eq!(v.next_boundary_day(a - 50), Some(a));
        assert_eq!(v.next_boundary_day(a + 1), Some(a + 100));
        assert_eq!(v.next_boundary_day(a + 101), None);
        assert_eq!(Validity::default().next_boundary_day(0), None);
        let weekdays = Validity { weekdays: Weekdays(0x1f), ..Validity::default() };
        let mon = day_from_civil(2026, 11, 23);
        assert_eq!(weekdays.next_boundary_day(mon + 1), Some(mon + 4)); // Friday ends the run
    }
}
