//! The sans-IO core of the SDK: decode, check, keep the latest, count drops.
//!
//! Acceptance rules for a sample on a state key:
//! 1. the key parses as `corridor/{region}/ix/{intersection}/state` of a
//!    subscribed intersection in our region (else `bad_key` / `not_subscribed`);
//! 2. the envelope and payload decode (else the codec's reason: `truncated`,
//!    `oversized`, `schema_version`, `invalid_value`, ...);
//! 3. the state names the same intersection as its key (else `key_mismatch`);
//! 4. from the same RSU, a sequence number at or below the last one is
//!    `out_of_order`, unless its capture time is newer, which is an RSU
//!    restart (accepted, counted in `restarts`). A jump forward counts the
//!    missed states in `gaps`.
//!
//! Latest wins: an accepted state replaces the previous one for its intersection.

use corridor_model::{IntersectionId, IntersectionState, RegionId, RsuId, Timestamp};
use corridor_wire::{decode, Header, Key, Limits};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// Why a sample was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DropReason {
    /// The key is not a corridor state key.
    BadKey,
    /// A state for an intersection we did not subscribe to.
    NotSubscribed,
    /// The message did not decode; the codec's reason label.
    Decode(&'static str),
    /// The state names another intersection than its key.
    KeyMismatch,
    /// Older than (or a duplicate of) the state we hold from that RSU.
    OutOfOrder,
}

impl DropReason {
    /// A stable label for counters and logs.
    pub fn label(&self) -> &'static str {
        match self {
            DropReason::BadKey => "bad_key",
            DropReason::NotSubscribed => "not_subscribed",
            DropReason::Decode(r) => r,
            DropReason::KeyMismatch => "key_mismatch",
            DropReason::OutOfOrder => "out_of_order",
        }
    }
}

/// Counters the application can read at any time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SdkStats {
    /// Samples seen.
    pub received: u64,
    /// States accepted.
    pub accepted: u64,
    /// Samples dropped, by reason label.
    pub dropped: BTreeMap<&'static str, u64>,
    /// States missed, judged by sequence-number jumps.
    pub gaps: u64,
    /// RSU restarts seen (sequence reset with newer capture time).
    pub restarts: u64,
}

impl SdkStats {
    /// Total dropped samples.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }
}

/// An accepted state, as handed to the application.
#[derive(Debug, Clone)]
pub struct StateUpdate {
    /// The state.
    pub state: Arc<IntersectionState>,
    /// Its envelope header.
    pub header: Header,
    /// When this vehicle received it.
    pub received_at: Timestamp,
}

impl StateUpdate {
    /// Capture-to-receive latency, seconds (needs the vehicle and RSU clocks in sync).
    pub fn latency_s(&self) -> f64 {
        self.received_at.secs_since(self.state.capture_time)
    }
}

/// Latest state per subscribed intersection, with drop accounting.
#[derive(Debug)]
pub struct StateCache {
    region: RegionId,
    subscribed: BTreeSet<IntersectionId>,
    latest: HashMap<IntersectionId, StateUpdate>,
    last_seq: HashMap<(IntersectionId, RsuId), (u64, Timestamp)>,
    stats: SdkStats,
    limits: Limits,
}

impl StateCache {
    /// A cache for `intersections` in `region`.
    pub fn new(region: RegionId, intersections: impl IntoIterator<Item = IntersectionId>) -> Self {
        Self {
            region,
            subscribed: intersections.into_iter().collect(),
            latest: HashMap::new(),
            last_seq: HashMap::new(),
            stats: SdkStats::default(),
            limits: Limits::default(),
        }
    }

    /// The subscribed intersections, sorted.
    pub fn intersections(&self) -> impl Iterator<Item = &IntersectionId> {
        self.subscribed.iter()
    }

    /// The region.
    pub fn region(&self) -> &RegionId {
        &self.region
    }

    /// Handles one sample received at `now`. Returns the accepted update, or why it was dropped
    /// (already counted in [`StateCache::stats`]).
    pub fn handle_sample(&mut self, key: &str, bytes: &[u8], now: Timestamp) -> Result<StateUpdate, DropReason> {
        self.stats.received += 1;
        let result = self.accept(key, bytes, now);
        match &result {
            Ok(_) => self.stats.accepted += 1,
            Err(reason) => *self.stats.dropped.entry(reason.label()).or_default() += 1,
        }
        result
    }

    fn accept(&mut self, key: &str, bytes: &[u8], now: Timestamp) -> Result<StateUpdate, DropReason> {
        let intersection = match Key::parse(key) {
            Ok(Key::State { region, intersection }) if region == self.region => intersection,
            Ok(Key::State { .. }) => return Err(DropReason::NotSubscribed),
            _ => return Err(DropReason::BadKey),
        };
        if !self.subscribed.contains(&intersection) {
            return Err(DropReason::NotSubscribed);
        }
        let (header, state): (Header, IntersectionState) =
            decode(bytes, self.limits).map_err(|e| DropReason::Decode(e.reason()))?;
        if state.intersection != intersection {
            return Err(DropReason::KeyMismatch);
        }
        let source = (intersection.clone(), state.rsu.clone());
        if let Some(&(last, last_capture)) = self.last_seq.get(&source) {
            if state.seq <= last {
                if state.capture_time > last_capture {
                    self.stats.restarts += 1;
                } else {
                    return Err(DropReason::OutOfOrder);
                }
            } else if state.seq > last + 1 {
                self.stats.gaps += state.seq - last - 1;
            }
        }
        self.last_seq.insert(source, (state.seq, state.capture_time));
        let update = StateUpdate { state: Arc::new(state), header, received_at: now };
        self.latest.insert(intersection, update.clone());
        Ok(update)
    }

    /// The latest accepted state of an intersection.
    pub fn latest(&self, intersection: &IntersectionId) -> Option<&StateUpdate> {
        self.latest.get(intersection)
    }

    /// Counters.
    pub fn stats(&self) -> &SdkStats {
        &self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corridor_model::sample;
    use corridor_wire::{encode, PayloadKind};

    fn ix(s: &str) -> IntersectionId {
        IntersectionId::new(s).unwrap()
    }

    fn msg(intersection: &str, seq: u64, capture_s: f64) -> (String, Vec<u8>) {
        let mut st = sample::intersection_state(3, seq);
        st.intersection = ix(intersection);
        st.seq = seq;
        st.capture_time = Timestamp::from_secs_f64(capture_s);
        let h = Header::new(PayloadKind::IntersectionState, st.rsu.as_str(), seq, st.capture_time, st.publish_time);
        (format!("corridor/r/ix/{intersection}/state"), encode(&h, &st).unwrap())
    }

    fn cache() -> StateCache {
        StateCache::new(RegionId::new("r").unwrap(), [ix("a")])
    }

    #[test]
    fn keeps_the_latest_and_counts_gaps() {
        let mut c = cache();
        for (seq, t) in [(1, 1.0), (2, 1.1), (5, 1.4)] {
            let (k, b) = msg("a", seq, t);
            assert_eq!(c.handle_sample(&k, &b, Timestamp::from_secs_f64(t + 0.01)).unwrap().state.seq, seq);
        }
        assert_eq!(c.latest(&ix("a")).unwrap().state.seq, 5);
        assert_eq!(c.stats().gaps, 2);
        assert_eq!(c.stats().accepted, 3);
    }

    #[test]
    fn drops_are_counted_by_reason_and_do_not_disturb_the_latest() {
        let mut c = cache();
        let (k, b) = msg("a", 7, 2.0);
        c.handle_sample(&k, &b, Timestamp::EPOCH).unwrap();
        let (kb, bb) = msg("b", 8, 2.1);
        assert_eq!(c.handle_sample(&kb, &bb, Timestamp::EPOCH).unwrap_err(), DropReason::NotSubscribed);
        assert_eq!(c.handle_sample(&k, &b[..10], Timestamp::EPOCH).unwrap_err(), DropReason::Decode("truncated"));
        assert_eq!(c.handle_sample("garbage/key", &b, Timestamp::EPOCH).unwrap_err(), DropReason::BadKey);
        assert_eq!(c.handle_sample(&k, &b, Timestamp::EPOCH).unwrap_err(), DropReason::OutOfOrder);
        // a state whose body names intersection b, sent on a's key
        assert_eq!(c.handle_sample(&k, &bb, Timestamp::EPOCH).unwrap_err(), DropReason::KeyMismatch);
        let s = c.stats();
        assert_eq!((s.received, s.accepted, s.dropped_total()), (6, 1, 5));
        assert_eq!(s.dropped.get("truncated"), Some(&1));
        assert_eq!(c.latest(&ix("a")).unwrap().state.seq, 7);
    }

    #[test]
    fn an_rsu_restart_is_accepted_and_counted() {
        let mut c = cache();
        let (k, b) = msg("a", 100, 5.0);
        c.handle_sample(&k, &b, Timestamp::EPOCH).unwrap();
        let (k, b) = msg("a", 0, 9.0);
        assert_eq!(c.handle_sample(&k, &b, Timestamp::EPOCH).unwrap().state.seq, 0);
        assert_eq!(c.stats().restarts, 1);
    }
}
