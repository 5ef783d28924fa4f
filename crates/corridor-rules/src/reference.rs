//! A straightforward interpreter of a [`RuleSet`], the oracle for the compiled index.
//!
//! It reads every rule for every query and uses jiff's own calendar (zoned
//! date-time, weekday, date differences) rather than the index's day-number
//! arithmetic, so the property tests compare two independent computations.
//! Slow by design; not for production queries.

use corridor_model::{LaneId, Timestamp};

use crate::class::VehicleClass;
use crate::effect::SLOT_COUNT;
use crate::ruleset::RuleSet;

/// For each slot, the index (in `set.rules`) of the winning rule; `None` if
/// `lane` is not in the set or the time zone or time cannot be read.
pub fn applicable(
    set: &RuleSet,
    lane: &LaneId,
    class: VehicleClass,
    at: Timestamp,
) -> Option<[Option<usize>; SLOT_COUNT]> {
    if !set.lanes.contains(lane) {
        return None;
    }
    let tz = jiff::tz::TimeZone::get(&set.time_zone).ok()?;
    let secs = at.unix_ns.div_euclid(1_000_000_000);
    let zoned = jiff::Timestamp::from_second(secs).ok()?.to_zoned(tz);
    let epoch = jiff::civil::Date::new(1970, 1, 1).ok()?;
    let day = zoned.date().since(epoch).ok()?.get_days();
    let weekday = u32::from(zoned.weekday().to_monday_zero_offset() as u8);
    let sod = zoned.hour() as u32 * 3600 + zoned.minute() as u32 * 60 + zoned.second() as u32;

    let mut best: [Option<usize>; SLOT_COUNT] = [None; SLOT_COUNT];
    for (i, r) in set.rules.iter().enumerate() {
        let in_force = r.scope.covers(lane)
            && r.classes.contains(class)
            && r.validity.weekdays.contains(weekday)
            && (r.validity.dates.is_empty() || r.validity.dates.iter().any(|d| d.from_day <= day && day <= d.to_day))
            && (r.validity.windows.is_empty() || r.validity.windows.iter().any(|w| w.start_s <= sod && sod < w.end_s));
        if !in_force {
            continue;
        }
        let slot = r.effect.slot();
        // Strictly greater precedence replaces; ties keep the earlier rule.
        if best[slot].is_none_or(|b| r.precedence() > set.rules[b].precedence()) {
            best[slot] = Some(i);
        }
    }
    Some(best)
}
