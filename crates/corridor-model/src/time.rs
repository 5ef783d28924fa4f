//! Time: UTC nanosecond timestamps and an injectable clock.
//!
//! Every message carries the time it is valid for (the sensor's capture time)
//! and the time it was published, both as [`Timestamp`]: nanoseconds since the
//! Unix epoch, UTC, in an `i64` (good until 2262). Cores never read the wall
//! clock: they take `now` as an argument or hold a [`Clock`]. Tests and
//! simulations drive a [`ManualClock`].

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, Sub};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Nanoseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp {
    /// Nanoseconds since 1970-01-01T00:00:00Z.
    pub unix_ns: i64,
}

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Self = Self { unix_ns: 0 };

    /// From nanoseconds since the epoch.
    pub const fn from_unix_ns(unix_ns: i64) -> Self {
        Self { unix_ns }
    }

    /// From (fractional) seconds since the epoch.
    pub fn from_secs_f64(s: f64) -> Self {
        Self { unix_ns: (s * 1e9).round() as i64 }
    }

    /// Seconds since the epoch as `f64` (loses precision below ~0.1 us for current dates).
    pub fn as_secs_f64(self) -> f64 {
        self.unix_ns as f64 * 1e-9
    }

    /// Signed seconds from `earlier` to `self` (negative when `self` is earlier).
    pub fn secs_since(self, earlier: Timestamp) -> f64 {
        (self.unix_ns - earlier.unix_ns) as f64 * 1e-9
    }

    /// Signed nanoseconds from `earlier` to `self`.
    pub fn nanos_since(self, earlier: Timestamp) -> i64 {
        self.unix_ns.saturating_sub(earlier.unix_ns)
    }

    /// `self + secs`, for signed fractional seconds.
    pub fn add_secs_f64(self, secs: f64) -> Self {
        Self { unix_ns: self.unix_ns.saturating_add((secs * 1e9).round() as i64) }
    }
}

impl Add<Duration> for Timestamp {
    type Output = Timestamp;
    fn add(self, d: Duration) -> Timestamp {
        Timestamp { unix_ns: self.unix_ns.saturating_add(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)) }
    }
}

impl Sub<Duration> for Timestamp {
    type Output = Timestamp;
    fn sub(self, d: Duration) -> Timestamp {
        Timestamp { unix_ns: self.unix_ns.saturating_sub(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)) }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.unix_ns.div_euclid(1_000_000_000);
        let ns = self.unix_ns.rem_euclid(1_000_000_000);
        write!(f, "{s}.{ns:09}")
    }
}

/// A source of "now". Cores hold one of these instead of reading the wall clock.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The system's real-time clock. Used by the binaries and IO adapters only.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place the wall clock is read
    fn now(&self) -> Timestamp {
        let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Timestamp { unix_ns: i64::try_from(d.as_nanos()).unwrap_or(i64::MAX) }
    }
}

/// A clock that only moves when told to. Clones share the same time.
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    unix_ns: Arc<AtomicI64>,
}

impl ManualClock {
    /// A clock stopped at `t`.
    pub fn new(t: Timestamp) -> Self {
        Self { unix_ns: Arc::new(AtomicI64::new(t.unix_ns)) }
    }

    /// Sets the time (may move backwards: tests of clock faults need that).
    pub fn set(&self, t: Timestamp) {
        self.unix_ns.store(t.unix_ns, Ordering::SeqCst);
    }

    /// Moves the time forward by `d`.
    pub fn advance(&self, d: Duration) {
        self.unix_ns.fetch_add(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp { unix_ns: self.unix_ns.load(Ordering::SeqCst) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_is_shared_by_clones() {
        let c = ManualClock::new(Timestamp::from_unix_ns(1_000));
        let c2 = c.clone();
        c.advance(Duration::from_micros(3));
        assert_eq!(c2.now(), Timestamp::from_unix_ns(4_000));
        c2.set(Timestamp::from_unix_ns(10));
        assert_eq!(c.now().unix_ns, 10);
    }

    #[test]
    fn arithmetic_and_display() {
        let t = Timestamp::from_secs_f64(1.5);
        assert_eq!(t.unix_ns, 1_500_000_000);
        assert_eq!((t + Duration::from_millis(500)).secs_since(t), 0.5);
        assert_eq!((t - Duration::from_secs(2)).to_string(), "-1.500000000");
        assert_eq!(t.add_secs_f64(-0.25).unix_ns, 1_250_000_000);
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.now().unix_ns > 1_577_836_800_000_000_000);
    }
}
