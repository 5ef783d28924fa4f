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
//!
//! Each accepted [`StateUpdate`] says how it follows the previous one from its RSU
//! ([`Continuity`]), so a gap or a restart is visible to the application as a typed value,
//! not only as a counter.
//!
//! **Security hook**: before decoding, every sample goes through the cache's
//! [`SampleVerifier`] if one is set ([`StateCache::set_verifier`]). The SDK's implementation is
//! [`crate::trust::TrustVerifier`] (signature, certificate for the intersection, revocation,
//! freshness, replay, map version known); a sample the verifier refuses is dropped with its
//! reason label and never reaches the application. A state whose map version is not held yet
//! ([`Refusal::MapUnknown`]) is *held*, not dropped: counted in [`SdkStats::held`], not
//! delivered, and the [`crate::Corridor`] fetches that map (see its docs).

use corridor_model::{IntersectionId, IntersectionState, MapVersion, RegionId, RsuId, Timestamp};
use corridor_security::{Counters, MapVersions, TrustStore};
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
    /// Refused by the [`SampleVerifier`]; its reason label.
    Unverified(&'static str),
    /// Dropped unchecked because its sender's intake queue was full (a flood from that sender;
    /// see [`crate::intake`]).
    QueueFull,
    /// Verified except that it names a map version not held yet: held back (not delivered)
    /// until that map is fetched and verified. Counted in [`SdkStats::held`], not as a drop.
    MapUnknown(MapVersion),
}

/// Why a [`SampleVerifier`] refused a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// Dropped, counted under this label (`bad_signature`, `not_certified`, `revoked`, ...).
    Rejected(&'static str),
    /// Authentic, authorised, fresh and new, but the map version it names is not held: the SDK
    /// holds it back and fetches the map.
    MapUnknown(MapVersion),
}

/// Map versions as the SDK's lower layers see them: [`StateCache`] alone holds no maps, so it
/// lets the map check pass ([`crate::Corridor`] passes its map store instead).
pub(crate) struct AnyMap;

impl MapVersions for AnyMap {
    fn is_known(&self, _version: &MapVersion) -> bool {
        true
    }
}

/// The highest state rate an RSU is taken to publish at: a sequence jump larger than this rate
/// times the capture-time gap is a re-based sequence (a restarted signing RSU), not lost states.
pub const MAX_STATE_RATE_HZ: f64 = 1000.0;

/// The security hook: checks a sample's bytes before they are decoded.
///
/// Return `Err(label)` to drop the sample (counted under `label`, e.g. `bad_signature`,
/// `not_certified`, `revoked`, `stale`, `replay`). Runs under the cache's lock: keep it short.
/// [`crate::trust::TrustVerifier`] is the implementation backed by
/// `corridor_security::StateGuard`; the provided methods let it see the maps the SDK holds,
/// check cloud replies and take trust-bundle updates. A custom verifier only needs `verify`.
pub trait SampleVerifier: Send {
    /// Checks one sample received on `key` at `now`.
    fn verify(&mut self, key: &str, bytes: &[u8], now: Timestamp) -> Result<(), &'static str>;

    /// Checks one sample knowing which map versions the SDK holds for its intersection.
    /// Default: [`SampleVerifier::verify`].
    fn verify_with_maps(
        &mut self,
        key: &str,
        bytes: &[u8],
        now: Timestamp,
        _maps: &dyn MapVersions,
    ) -> Result<(), Refusal> {
        self.verify(key, bytes, now).map_err(Refusal::Rejected)
    }

    /// Checks a **state** sample like [`SampleVerifier::verify_with_maps`]; a verifier that
    /// decoded the state to check it returns it, so the SDK does not decode the same bytes a
    /// second time (about as long as the decode itself: 12 us for 200 objects). Default: the
    /// check alone, `None` (the SDK decodes).
    fn verify_state(
        &mut self,
        key: &str,
        bytes: &[u8],
        now: Timestamp,
        maps: &dyn MapVersions,
    ) -> Result<Option<(Header, IntersectionState)>, Refusal> {
        self.verify_with_maps(key, bytes, now, maps).map(|()| None)
    }

    /// Checks a reply from cloud-control (map, rules bundle) before it is imported.
    /// Default: accept (the content hash is still checked against the version asked for).
    fn verify_cloud(&mut self, _bytes: &[u8], _now: Timestamp) -> Result<(), &'static str> {
        Ok(())
    }

    /// The trust store, for verifiers that hold one (to import trust bundles).
    fn trust_store_mut(&mut self) -> Option<&mut TrustStore> {
        None
    }

    /// Accepted / rejected counters of the verifier, if it keeps them.
    fn counters(&self) -> Option<&Counters> {
        None
    }
}

/// How an accepted state follows the previous one from the same RSU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Continuity {
    /// The first state seen from this RSU for this intersection.
    First,
    /// The next sequence number: nothing was missed.
    Continuous,
    /// `missed` states were lost in between (sequence-number jump).
    Gap {
        /// How many sequence numbers were skipped.
        missed: u64,
    },
    /// The RSU restarted: its sequence number went back with a newer capture time, or (a
    /// signing RSU, whose sequence starts at its start time in microseconds so that replay
    /// windows survive restarts) jumped ahead by more than it could have published in the time
    /// since the last state (see [`MAX_STATE_RATE_HZ`]).
    Restart,
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
            DropReason::Unverified(r) => r,
            DropReason::QueueFull => "queue_full",
            DropReason::MapUnknown(_) => "unknown_map",
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
    /// Samples that passed the [`SampleVerifier`] (0 without one).
    pub verified: u64,
    /// Samples the verifier refused (also in `dropped`, under their reason labels).
    pub unverified: u64,
    /// Verified states held back because the map version they name was not held yet (not
    /// delivered, not in `dropped`; the map is fetched and later states are accepted).
    pub held: u64,
    /// Cloud replies (map, rules bundles) the verifier refused.
    pub cloud_rejected: u64,
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
    /// How it follows the previous state from its RSU.
    pub continuity: Continuity,
}

impl StateUpdate {
    /// Capture-to-receive latency, seconds (needs the vehicle and RSU clocks in sync).
    pub fn latency_s(&self) -> f64 {
        self.received_at.secs_since(self.state.capture_time)
    }
}

/// Latest state per subscribed intersection, with drop accounting.
pub struct StateCache {
    region: RegionId,
    subscribed: BTreeSet<IntersectionId>,
    latest: HashMap<IntersectionId, StateUpdate>,
    last_seq: HashMap<(IntersectionId, RsuId), (u64, Timestamp)>,
    stats: SdkStats,
    limits: Limits,
    verifier: Option<Box<dyn SampleVerifier>>,
}

impl std::fmt::Debug for StateCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateCache")
            .field("region", &self.region)
            .field("subscribed", &self.subscribed)
            .field("stats", &self.stats)
            .field("verifier", &self.verifier.is_some())
            .finish_non_exhaustive()
    }
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
            verifier: None,
        }
    }

    /// Sets the security hook every sample passes before it is decoded (see [`SampleVerifier`]).
    pub fn set_verifier(&mut self, verifier: Box<dyn SampleVerifier>) {
        self.verifier = Some(verifier);
    }

    /// Starts accepting states of `intersection`.
    pub fn subscribe(&mut self, intersection: IntersectionId) {
        self.subscribed.insert(intersection);
    }

    /// Stops accepting states of `intersection` and forgets its latest state.
    pub fn unsubscribe(&mut self, intersection: &IntersectionId) {
        self.subscribed.remove(intersection);
        self.latest.remove(intersection);
        self.last_seq.retain(|(ix, _), _| ix != intersection);
    }

    /// Whether states of `intersection` are accepted.
    pub fn is_subscribed(&self, intersection: &IntersectionId) -> bool {
        self.subscribed.contains(intersection)
    }

    /// Runs the security hook (if any) on a sample; used for every key kind.
    pub(crate) fn verify(
        &mut self,
        key: &str,
        bytes: &[u8],
        now: Timestamp,
        maps: &dyn MapVersions,
    ) -> Result<(), DropReason> {
        let Some(v) = &mut self.verifier else { return Ok(()) };
        let result = v.verify_with_maps(key, bytes, now, maps);
        self.tally(result)
    }

    /// [`StateCache::verify`] for a state sample, keeping what the verifier decoded.
    fn verify_state(
        &mut self,
        key: &str,
        bytes: &[u8],
        now: Timestamp,
        maps: &dyn MapVersions,
    ) -> Result<Option<(Header, IntersectionState)>, DropReason> {
        let Some(v) = &mut self.verifier else { return Ok(None) };
        let result = v.verify_state(key, bytes, now, maps);
        self.tally(result)
    }

    /// Counts a verifier's answer (`verified` / `unverified`) and types its refusal.
    fn tally<T>(&mut self, result: Result<T, Refusal>) -> Result<T, DropReason> {
        match result {
            Ok(checked) => {
                self.stats.verified += 1;
                Ok(checked)
            }
            Err(Refusal::Rejected(label)) => {
                self.stats.unverified += 1;
                Err(DropReason::Unverified(label))
            }
            Err(Refusal::MapUnknown(v)) => Err(DropReason::MapUnknown(v)),
        }
    }

    /// The security hook, if set.
    pub(crate) fn verifier_mut(&mut self) -> Option<&mut (dyn SampleVerifier + 'static)> {
        self.verifier.as_deref_mut()
    }

    /// The security hook, if set.
    pub(crate) fn verifier(&self) -> Option<&(dyn SampleVerifier + 'static)> {
        self.verifier.as_deref()
    }

    /// Counts a refused cloud reply.
    pub(crate) fn count_cloud_rejected(&mut self) {
        self.stats.cloud_rejected += 1;
    }

    /// Counts a sample of another kind (events) in the same counters.
    pub(crate) fn count(&mut self, result: Result<(), DropReason>) {
        self.stats.received += 1;
        match result {
            Ok(()) => self.stats.accepted += 1,
            Err(DropReason::MapUnknown(_)) => self.stats.held += 1,
            Err(reason) => *self.stats.dropped.entry(reason.label()).or_default() += 1,
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
    ///
    /// The cache holds no maps, so a verifier's map check passes here; [`crate::Corridor`]
    /// calls [`StateCache::handle_sample_with_maps`] with its map store.
    pub fn handle_sample(&mut self, key: &str, bytes: &[u8], now: Timestamp) -> Result<StateUpdate, DropReason> {
        self.handle_sample_with_maps(key, bytes, now, &AnyMap)
    }

    /// [`StateCache::handle_sample`], with the map versions held for the sample's intersection
    /// (a verified state naming another version is [`DropReason::MapUnknown`]: held, counted in
    /// [`SdkStats::held`]).
    pub fn handle_sample_with_maps(
        &mut self,
        key: &str,
        bytes: &[u8],
        now: Timestamp,
        maps: &dyn MapVersions,
    ) -> Result<StateUpdate, DropReason> {
        let result = self.accept(key, bytes, now, maps);
        self.count(result.as_ref().map(|_| ()).map_err(|e| *e));
        result
    }

    fn accept(
        &mut self,
        key: &str,
        bytes: &[u8],
        now: Timestamp,
        maps: &dyn MapVersions,
    ) -> Result<StateUpdate, DropReason> {
        let intersection = match Key::parse(key) {
            Ok(Key::State { region, intersection }) if region == self.region => intersection,
            Ok(Key::State { .. }) => return Err(DropReason::NotSubscribed),
            _ => return Err(DropReason::BadKey),
        };
        if !self.subscribed.contains(&intersection) {
            return Err(DropReason::NotSubscribed);
        }
        let checked = self.verify_state(key, bytes, now, maps)?;
        let (header, state): (Header, IntersectionState) = match checked {
            // the verifier decoded (and validated) these very bytes; the SDK's size limit still holds
            Some(decoded) if bytes.len() <= self.limits.max_message_bytes => decoded,
            _ => decode(bytes, self.limits).map_err(|e| DropReason::Decode(e.reason()))?,
        };
        if state.intersection != intersection {
            return Err(DropReason::KeyMismatch);
        }
        let source = (intersection.clone(), state.rsu.clone());
        let mut continuity = Continuity::First;
        if let Some(&(last, last_capture)) = self.last_seq.get(&source) {
            continuity = Continuity::Continuous;
            if state.seq <= last {
                if state.capture_time > last_capture {
                    self.stats.restarts += 1;
                    continuity = Continuity::Restart;
                } else {
                    return Err(DropReason::OutOfOrder);
                }
            } else if state.seq > last + 1 {
                let missed = state.seq - last - 1;
                let elapsed_s = state.capture_time.secs_since(last_capture).max(0.0);
                if missed as f64 > MAX_STATE_RATE_HZ * elapsed_s + 1.0 {
                    // more states than any RSU publishes in that time: a new sequence base
                    self.stats.restarts += 1;
                    continuity = Continuity::Restart;
                } else {
                    self.stats.gaps += missed;
                    continuity = Continuity::Gap { missed };
                }
            }
        }
        self.last_seq.insert(source, (state.seq, state.capture_time));
        let update = StateUpdate { state: Arc::new(state), header, received_at: now, continuity };
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
        assert_eq!(c.latest(&ix("a")).unwrap().continuity, Continuity::Gap { missed: 2 });
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
        let u = c.handle_sample(&k, &b, Timestamp::EPOCH).unwrap();
        assert_eq!((u.state.seq, u.continuity), (0, Continuity::Restart));
        assert_eq!(c.stats().restarts, 1);
        // a signing RSU restarts with its sequence based on its start time (us): a jump far
        // beyond what it could publish in the 0.5 s since the last state is a restart too
        let base = 1_795_399_200_000_000u64;
        let (k, b) = msg("a", base, 9.5);
        let u = c.handle_sample(&k, &b, Timestamp::EPOCH).unwrap();
        assert_eq!(u.continuity, Continuity::Restart);
        // while a few states lost on the way are a gap
        let (k, b) = msg("a", base + 4, 9.9);
        let u = c.handle_sample(&k, &b, Timestamp::EPOCH).unwrap();
        assert_eq!(u.continuity, Continuity::Gap { missed: 3 });
        assert_eq!((c.stats().restarts, c.stats().gaps), (2, 3));
    }

    struct RejectAll;
    impl SampleVerifier for RejectAll {
        fn verify(&mut self, _key: &str, _bytes: &[u8], _now: Timestamp) -> Result<(), &'static str> {
            Err("bad_signature")
        }
    }

    #[test]
    fn the_security_hook_drops_samples_before_they_reach_the_application() {
        let mut c = cache();
        c.set_verifier(Box::new(RejectAll));
        let (k, b) = msg("a", 1, 1.0);
        assert_eq!(c.handle_sample(&k, &b, Timestamp::EPOCH).unwrap_err(), DropReason::Unverified("bad_signature"));
        assert!(c.latest(&ix("a")).is_none());
        assert_eq!(c.stats().dropped.get("bad_signature"), Some(&1));
    }
}
