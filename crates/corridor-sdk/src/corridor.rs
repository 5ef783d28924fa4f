//! [`Corridor`]: the sans-IO heart of the SDK. Route, states, events, maps and rules in;
//! typed answers and statuses out. Time is always an argument; nothing here does IO except
//! the optional on-disk map cache.
//!
//! Feed it every sample ([`Corridor::handle_state`], [`Corridor::handle_event`]), every
//! fetched bundle ([`Corridor::handle_map_bundle`], [`Corridor::handle_rules_bundle`]) and
//! the ego pose ([`Corridor::update_pose`]); send the requests of
//! [`Corridor::due_fetches`]; ask the queries; drain [`Corridor::poll_status`].

use corridor_hdmap::HdMap;
use corridor_model::{Event, IntersectionId, MapVersion, RegionId, Timestamp};
use corridor_rules::{Effect, RuleSet, VehicleClass};
use corridor_wire::{decode, Key, Limits};
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;

use crate::core::{AnyMap, Continuity, DropReason, SampleVerifier, SdkStats, StateCache, StateUpdate};
use crate::knowledge::{Knowledge, KnowledgeError, MapStore};
use crate::query::{
    dist2_to_polyline, to_ego, ConnectionAnswer, ConnectionChoice, EgoObjects, Hazard, InPath, InPathObject,
    InPathOptions, LaneAnswer, PathZone, Provenance, RulesAnswer, SignalAnswer, TimeToChange,
};
use crate::route::{EgoPose, Route};
use crate::trust::TrustVerifier;

/// Settings of a [`Corridor`].
#[derive(Debug, Clone)]
pub struct CorridorConfig {
    /// The region.
    pub region: RegionId,
    /// The route.
    pub route: Route,
    /// A state older than this (capture to query time) is [`Usability::Stale`], seconds.
    pub freshness_s: f64,
    /// A track not updated for this long is flagged `stale` in answers, seconds.
    pub object_stale_s: f64,
    /// Events older than this are forgotten, seconds.
    pub event_ttl_s: f64,
    /// A fetch not answered is asked again after this long, seconds.
    pub fetch_retry_s: f64,
    /// Where maps and rules are cached on disk (`None`: memory only).
    pub cache_dir: Option<PathBuf>,
    /// Verify every state, event and cloud reply (`None`: accept unsigned data). Moved into
    /// the core by [`Corridor::new`]; see [`crate::trust`].
    pub trust: Option<TrustVerifier>,
}

impl CorridorConfig {
    /// Defaults: freshness 0.5 s, object staleness 0.5 s, events kept 60 s, fetch retry 2 s,
    /// no disk cache.
    pub fn new(region: RegionId, route: Route) -> Self {
        Self {
            region,
            route,
            freshness_s: 0.5,
            object_stale_s: 0.5,
            event_ttl_s: 60.0,
            fetch_retry_s: 2.0,
            cache_dir: None,
            trust: None,
        }
    }
}

/// Whether an intersection's latest state may be used now.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Usability {
    /// Fresh, and its map is held and verified.
    Usable,
    /// No state received yet.
    NoState,
    /// The latest state is older than the freshness window.
    Stale {
        /// Its age, seconds.
        age_s: f64,
        /// The window, seconds.
        window_s: f64,
    },
    /// The state names a map version not held yet (being fetched and verified).
    MapPending {
        /// The version needed.
        version: MapVersion,
    },
    /// The map version the state names was fetched but refused.
    MapRejected {
        /// The version.
        version: MapVersion,
        /// Why.
        reason: String,
    },
}

/// Something the application should know about the data's continuity and trust.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StatusEvent {
    /// States were lost (sequence-number jump).
    SequenceGap {
        /// Intersection.
        intersection: IntersectionId,
        /// States missed.
        missed: u64,
    },
    /// The RSU restarted (sequence reset).
    RsuRestart {
        /// Intersection.
        intersection: IntersectionId,
    },
    /// The intersection's states name a new map version (queries wait for it if not held).
    MapVersionChanged {
        /// Intersection.
        intersection: IntersectionId,
        /// The version used so far (`None` on the first state).
        from: Option<MapVersion>,
        /// The new version.
        to: MapVersion,
    },
    /// A map was fetched (or loaded from the cache) and verified.
    MapReady {
        /// Intersection.
        intersection: IntersectionId,
        /// Version.
        version: MapVersion,
    },
    /// Rules were received and put in force for a map.
    RulesReady {
        /// Intersection.
        intersection: IntersectionId,
        /// Rules version.
        version: MapVersion,
    },
    /// A map or rules bundle was refused.
    BundleRejected {
        /// Intersection, when known.
        intersection: Option<IntersectionId>,
        /// Why.
        reason: String,
    },
    /// The latest state went past its freshness window without a successor.
    BecameStale {
        /// Intersection.
        intersection: IntersectionId,
        /// Age when noticed, seconds.
        age_s: f64,
    },
    /// The ego passed the intersection: unsubscribed and forgotten.
    Passed {
        /// Intersection.
        intersection: IntersectionId,
    },
}

/// Why a query has no answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// No intersection ahead on the route has the pose on one of its lanes.
    #[error("the pose is on no lane of any intersection ahead on the route")]
    OffRoute,
    /// The intersection's state may not be used now (see [`Usability`]).
    #[error("state of {intersection} is not usable: {usability:?}")]
    Unusable {
        /// Intersection.
        intersection: IntersectionId,
        /// Why.
        usability: Usability,
    },
    /// A WGS84 pose against a map without a geo origin.
    #[error("the map of {0} has no geo origin; give the pose in map ENU")]
    NoGeoOrigin(IntersectionId),
    /// The intersection is not ahead on the route.
    #[error("{0} is not ahead on the route")]
    NotOnRoute(IntersectionId),
    /// The rules could not be queried.
    #[error("rules: {0}")]
    Rules(#[from] corridor_rules::QueryError),
}

/// What to fetch from cloud-control.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FetchRequest {
    /// A map at a version.
    Map {
        /// Intersection.
        intersection: IntersectionId,
        /// Version.
        version: MapVersion,
    },
    /// A rule set at a version.
    Rules {
        /// Intersection.
        intersection: IntersectionId,
        /// Rules version.
        version: MapVersion,
    },
}

impl FetchRequest {
    /// The zenoh selector to query: `corridor/{region}/map/{ix}?version=HEX` (or `rules`).
    pub fn selector(&self, region: &RegionId) -> String {
        match self {
            FetchRequest::Map { intersection, version } => {
                format!(
                    "{}?version={}",
                    Key::Map { region: region.clone(), intersection: intersection.clone() },
                    version.to_hex()
                )
            }
            FetchRequest::Rules { intersection, version } => format!(
                "{}?version={}",
                Key::Rules { region: region.clone(), intersection: intersection.clone() },
                version.to_hex()
            ),
        }
    }

    /// The intersection.
    pub fn intersection(&self) -> &IntersectionId {
        match self {
            FetchRequest::Map { intersection, .. } | FetchRequest::Rules { intersection, .. } => intersection,
        }
    }
}

/// The SDK's sans-IO core. See the crate docs for the integrator's guide.
#[derive(Debug)]
pub struct Corridor {
    config: CorridorConfig,
    cache: StateCache,
    maps: MapStore,
    events: HashMap<IntersectionId, VecDeque<(Event, Timestamp)>>,
    seen_events: HashSet<corridor_model::EventId>,
    status: VecDeque<StatusEvent>,
    fetches: HashMap<FetchRequest, Option<Timestamp>>,
    current_map: HashMap<IntersectionId, MapVersion>,
    rejected: HashMap<(IntersectionId, MapVersion), String>,
    stale_reported: HashSet<IntersectionId>,
    /// Verified states held back: the map version the newest one names (not held yet).
    held: HashMap<IntersectionId, MapVersion>,
}

/// The maps held for one intersection, as the verifier asks about them.
struct HeldMaps<'a> {
    maps: &'a MapStore,
    intersection: Option<IntersectionId>,
}

impl corridor_security::MapVersions for HeldMaps<'_> {
    fn is_known(&self, version: &MapVersion) -> bool {
        self.intersection.as_ref().is_some_and(|ix| self.maps.get(ix, version).is_some())
    }
}

/// The trust bundle cache file under the cache dir.
const TRUST_CACHE_FILE: &str = "trust.bundle";

/// The state, knowledge, lane match and map-frame position of a located pose.
type Located<'a> = (&'a StateUpdate, &'a Arc<Knowledge>, corridor_hdmap::LaneMatch, [f64; 2]);
/// One corridor piece: lane, polyline, half width, bounds.
type Piece<'a> = (&'a corridor_model::LaneId, &'a [[f64; 2]], f64, [f64; 4]);

/// Largest number of status events kept for the application before the oldest are dropped.
const MAX_STATUS: usize = 1024;
/// Largest number of events kept per intersection.
const MAX_EVENTS: usize = 256;

impl Corridor {
    /// A core following `config.route`.
    pub fn new(mut config: CorridorConfig) -> Self {
        let trust = config.trust.take();
        let mut cache = StateCache::new(
            config.region.clone(),
            config.route.ahead().iter().map(|s| s.intersection.clone()).collect::<Vec<_>>(),
        );
        let maps = MapStore::new(config.cache_dir.clone());
        if let Some(mut t) = trust {
            // a cached bundle (from an earlier run) adds only what this root signed, and never
            // rolls the revocation list back
            if let Some(dir) = &config.cache_dir {
                if let Ok(bytes) = std::fs::read(dir.join(TRUST_CACHE_FILE)) {
                    match corridor_security::import_bundle(t.guard_mut().trust_mut(), &bytes) {
                        Ok(r) => tracing::debug!(certificates = r.certificates, "trust bundle from the cache"),
                        Err(e) => tracing::warn!(error = %e, "cached trust bundle refused"),
                    }
                }
            }
            cache.set_verifier(Box::new(t));
        }
        Self {
            config,
            cache,
            maps,
            events: HashMap::new(),
            seen_events: HashSet::new(),
            status: VecDeque::new(),
            fetches: HashMap::new(),
            current_map: HashMap::new(),
            rejected: HashMap::new(),
            stale_reported: HashSet::new(),
            held: HashMap::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &CorridorConfig {
        &self.config
    }

    /// The route (with progress).
    pub fn route(&self) -> &Route {
        &self.config.route
    }

    /// Replaces the route (e.g. after matching a polyline once maps arrived). Intersections no
    /// longer ahead are unsubscribed and forgotten; new ones are subscribed. Returns
    /// `(added, removed)`.
    pub fn set_route(&mut self, route: Route) -> (Vec<IntersectionId>, Vec<IntersectionId>) {
        let old: Vec<IntersectionId> = self.config.route.ahead().iter().map(|s| s.intersection.clone()).collect();
        let new: Vec<IntersectionId> = route.ahead().iter().map(|s| s.intersection.clone()).collect();
        let removed: Vec<IntersectionId> = old.iter().filter(|i| !new.contains(i)).cloned().collect();
        let added: Vec<IntersectionId> = new.iter().filter(|i| !old.contains(i)).cloned().collect();
        for ix in &removed {
            self.forget(ix);
        }
        for ix in &added {
            self.cache.subscribe(ix.clone());
        }
        self.config.route = route;
        (added, removed)
    }

    fn forget(&mut self, ix: &IntersectionId) {
        self.cache.unsubscribe(ix);
        self.held.remove(ix);
        self.events.remove(ix);
        self.current_map.remove(ix);
        self.fetches.retain(|f, _| f.intersection() != ix);
    }

    /// Sets the security hook every state and event sample passes before decoding (e.g. a
    /// [`TrustVerifier`]; or set [`CorridorConfig::trust`]).
    pub fn set_verifier(&mut self, verifier: Box<dyn SampleVerifier>) {
        self.cache.set_verifier(verifier);
    }

    /// Whether a verifier checks samples.
    pub fn verifies(&self) -> bool {
        self.cache.verifier().is_some()
    }

    /// The verifier's accepted / rejected counters by reason (`None` without a verifier that
    /// keeps them). Rejected samples are also in [`SdkStats::dropped`] under the same labels.
    pub fn trust_counters(&self) -> Option<&corridor_security::Counters> {
        self.cache.verifier().and_then(|v| v.counters())
    }

    /// The verifier's trust store (`None` without one).
    pub fn trust_store(&mut self) -> Option<&corridor_security::TrustStore> {
        self.cache.verifier_mut().and_then(|v| v.trust_store_mut()).map(|s| &*s)
    }

    /// Imports a trust bundle (from `corridor/{region}/cloud/trust`, or a file): admits the
    /// certificates the vehicle's root signed and a newer revocation list (never an older
    /// one); from then on states signed by a revoked key are rejected as `revoked`. With a
    /// cache dir, the resulting trust (certificates + list) is written to
    /// `{cache_dir}/trust.bundle`. `Ok(None)` when no verifier holds a trust store.
    pub fn import_trust_bundle(
        &mut self,
        bytes: &[u8],
    ) -> Result<Option<corridor_security::ImportReport>, corridor_security::CanonError> {
        let Some(store) = self.cache.verifier_mut().and_then(|v| v.trust_store_mut()) else { return Ok(None) };
        let before = store.version();
        let report = corridor_security::import_bundle(store, bytes)?;
        let changed = store.version() != before;
        let exported = changed.then(|| corridor_security::export_bundle(store));
        for refused in &report.refused {
            tracing::warn!(error = %refused, "trust bundle: refused an entry");
        }
        if let (Some(bytes), Some(dir)) = (exported, &self.config.cache_dir) {
            let write = std::fs::create_dir_all(dir)
                .and_then(|()| std::fs::write(dir.join(".trust.bundle.tmp"), &bytes))
                .and_then(|()| std::fs::rename(dir.join(".trust.bundle.tmp"), dir.join(TRUST_CACHE_FILE)));
            if let Err(e) = write {
                tracing::warn!(dir = %dir.display(), error = %e, "caching the trust bundle");
            }
        }
        Ok(Some(report))
    }

    /// The keys to subscribe to: state and events of every intersection ahead.
    pub fn subscriptions(&self) -> Vec<Key> {
        let r = &self.config.region;
        self.config
            .route
            .ahead()
            .iter()
            .flat_map(|s| {
                [
                    Key::State { region: r.clone(), intersection: s.intersection.clone() },
                    Key::Events { region: r.clone(), intersection: s.intersection.clone() },
                ]
            })
            .collect()
    }

    fn push_status(&mut self, e: StatusEvent) {
        if self.status.len() >= MAX_STATUS {
            self.status.pop_front();
        }
        self.status.push_back(e);
    }

    /// The next status event, oldest first.
    pub fn poll_status(&mut self) -> Option<StatusEvent> {
        self.status.pop_front()
    }

    /// Counts a sample dropped before it was handled (e.g. [`DropReason::QueueFull`]; only the
    /// zenoh adapter's intake queue drops samples before the core sees them).
    #[cfg(feature = "zenoh")]
    pub(crate) fn count_dropped(&mut self, reason: DropReason) {
        self.cache.count(Err(reason));
    }

    /// Handles a state sample. Accepted states replace the intersection's latest; a map
    /// version not held is looked up in the disk cache, else queued for fetching.
    ///
    /// With a verifier, a verified state naming a map version not held is
    /// [`DropReason::MapUnknown`]: held (not delivered), the map is loaded from the disk cache
    /// (then the state is re-checked at once) or fetched, and the intersection is
    /// [`Usability::MapPending`] until a state naming a held map is accepted.
    pub fn handle_state(&mut self, key: &str, bytes: &[u8], now: Timestamp) -> Result<StateUpdate, DropReason> {
        let intersection = match Key::parse(key) {
            Ok(Key::State { intersection, .. }) => Some(intersection),
            _ => None,
        };
        let held = HeldMaps { maps: &self.maps, intersection };
        let update = match self.cache.handle_sample_with_maps(key, bytes, now, &held) {
            Ok(u) => u,
            Err(DropReason::MapUnknown(version)) => {
                let Some(ix) = held.intersection else { return Err(DropReason::BadKey) };
                self.held.insert(ix.clone(), version);
                self.ensure_knowledge(&ix, &version, None);
                if self.maps.get(&ix, &version).is_none() {
                    return Err(DropReason::MapUnknown(version));
                }
                // loaded from the disk cache: the held state was not recorded anywhere, check it again
                let held = HeldMaps { maps: &self.maps, intersection: Some(ix) };
                self.cache.handle_sample_with_maps(key, bytes, now, &held)?
            }
            Err(e) => return Err(e),
        };
        let ix = update.state.intersection.clone();
        self.held.remove(&ix);
        self.stale_reported.remove(&ix);
        match update.continuity {
            Continuity::Gap { missed } => {
                self.push_status(StatusEvent::SequenceGap { intersection: ix.clone(), missed })
            }
            Continuity::Restart => self.push_status(StatusEvent::RsuRestart { intersection: ix.clone() }),
            _ => {}
        }
        let version = update.state.map_version;
        let previous = self.current_map.insert(ix.clone(), version);
        if previous != Some(version) {
            self.push_status(StatusEvent::MapVersionChanged { intersection: ix.clone(), from: previous, to: version });
            // keep the previous version until the new one is ready; drop older ones
            let keep: Vec<MapVersion> = [Some(version), previous].into_iter().flatten().collect();
            self.maps.retain_versions(&ix, &keep);
        }
        self.ensure_knowledge(&ix, &version, update.state.rules_version);
        Ok(update)
    }

    fn ensure_knowledge(&mut self, ix: &IntersectionId, version: &MapVersion, rules: Option<MapVersion>) {
        if self.maps.get(ix, version).is_none() && !self.rejected.contains_key(&(ix.clone(), *version)) {
            match self.maps.load_cached(ix, version) {
                Ok(Some(_)) => self.push_status(StatusEvent::MapReady { intersection: ix.clone(), version: *version }),
                Ok(None) => {}
                Err(e) => self.push_status(StatusEvent::BundleRejected {
                    intersection: Some(ix.clone()),
                    reason: format!("cached: {e}"),
                }),
            }
        }
        match self.maps.get(ix, version) {
            None => {
                if !self.rejected.contains_key(&(ix.clone(), *version)) {
                    self.fetches
                        .entry(FetchRequest::Map { intersection: ix.clone(), version: *version })
                        .or_insert(None);
                }
            }
            Some(k) => {
                if let Some(rv) = rules {
                    if k.rules_version() != Some(rv) {
                        self.fetches
                            .entry(FetchRequest::Rules { intersection: ix.clone(), version: rv })
                            .or_insert(None);
                    }
                }
            }
        }
    }

    /// Handles an event sample (`corridor/{region}/ix/{intersection}/events`).
    pub fn handle_event(&mut self, key: &str, bytes: &[u8], now: Timestamp) -> Result<Event, DropReason> {
        let result = self.accept_event(key, bytes, now);
        self.cache.count(result.as_ref().map(|_| ()).map_err(|e| *e));
        result
    }

    fn accept_event(&mut self, key: &str, bytes: &[u8], now: Timestamp) -> Result<Event, DropReason> {
        let ix = match Key::parse(key) {
            Ok(Key::Events { region, intersection }) if region == self.config.region => intersection,
            Ok(Key::Events { .. }) => return Err(DropReason::NotSubscribed),
            _ => return Err(DropReason::BadKey),
        };
        if !self.cache.is_subscribed(&ix) {
            return Err(DropReason::NotSubscribed);
        }
        self.cache.verify(key, bytes, now, &AnyMap)?;
        let (_, event): (_, Event) = decode(bytes, Limits::default()).map_err(|e| DropReason::Decode(e.reason()))?;
        if event.intersection != ix {
            return Err(DropReason::KeyMismatch);
        }
        if !self.seen_events.insert(event.id) {
            return Err(DropReason::OutOfOrder);
        }
        let q = self.events.entry(ix).or_default();
        if q.len() >= MAX_EVENTS {
            if let Some((old, _)) = q.pop_front() {
                self.seen_events.remove(&old.id);
            }
        }
        q.push_back((event.clone(), now));
        Ok(event)
    }

    /// Handles a fetched map bundle (wire bytes): verified, indexed, cached, then the
    /// states naming it become usable.
    ///
    /// With a verifier, the bundle must first pass its cloud check (signed by a cloud
    /// certificate valid now and not revoked): else [`KnowledgeError::Unverified`], counted in
    /// [`SdkStats::cloud_rejected`], and the fetch is retried.
    pub fn handle_map_bundle(&mut self, bytes: &[u8], now: Timestamp) -> Result<MapVersion, KnowledgeError> {
        self.verify_cloud("map bundle", bytes, now)?;
        match self.maps.accept_map_bytes(bytes) {
            Ok(k) => {
                let (ix, v) = (k.intersection.clone(), k.version);
                self.fetches.remove(&FetchRequest::Map { intersection: ix.clone(), version: v });
                self.push_status(StatusEvent::MapReady { intersection: ix.clone(), version: v });
                let rules =
                    self.cache.latest(&ix).filter(|u| u.state.map_version == v).and_then(|u| u.state.rules_version);
                self.ensure_knowledge(&ix, &v, rules);
                Ok(v)
            }
            Err(e) => {
                if let KnowledgeError::MapHashMismatch { intersection, announced, .. } = &e {
                    self.rejected.insert((intersection.clone(), *announced), e.to_string());
                    self.fetches.remove(&FetchRequest::Map { intersection: intersection.clone(), version: *announced });
                }
                let ix = match &e {
                    KnowledgeError::MapHashMismatch { intersection, .. }
                    | KnowledgeError::Import { intersection, .. }
                    | KnowledgeError::UnknownFormat { intersection, .. } => Some(intersection.clone()),
                    _ => None,
                };
                self.push_status(StatusEvent::BundleRejected { intersection: ix, reason: e.to_string() });
                Err(e)
            }
        }
    }

    /// Handles a fetched rules bundle (wire bytes) for a map already held.
    pub fn handle_rules_bundle(&mut self, bytes: &[u8], now: Timestamp) -> Result<MapVersion, KnowledgeError> {
        self.verify_cloud("rules bundle", bytes, now)?;
        match self.maps.accept_rules_bytes(bytes) {
            Ok(k) => {
                let v = k.rules_version().unwrap_or_default();
                self.fetches.remove(&FetchRequest::Rules { intersection: k.intersection.clone(), version: v });
                self.push_status(StatusEvent::RulesReady { intersection: k.intersection.clone(), version: v });
                Ok(v)
            }
            Err(e) => {
                self.push_status(StatusEvent::BundleRejected { intersection: None, reason: e.to_string() });
                Err(e)
            }
        }
    }

    fn verify_cloud(&mut self, what: &'static str, bytes: &[u8], now: Timestamp) -> Result<(), KnowledgeError> {
        let Some(v) = self.cache.verifier_mut() else { return Ok(()) };
        if let Err(reason) = v.verify_cloud(bytes, now) {
            self.cache.count_cloud_rejected();
            let e = KnowledgeError::Unverified { what, reason };
            self.push_status(StatusEvent::BundleRejected { intersection: None, reason: e.to_string() });
            return Err(e);
        }
        Ok(())
    }

    /// Puts a map (and optionally a checked rule set) in force from local files, as if
    /// fetched: for vehicles that ship their maps, and for tests.
    pub fn insert_map(
        &mut self,
        intersection: IntersectionId,
        map: HdMap,
        rules: Option<RuleSet>,
    ) -> Result<MapVersion, KnowledgeError> {
        let mut k = Knowledge::from_map(intersection.clone(), map);
        if let Some(set) = rules {
            k.load_rule_set(set, None)?;
        }
        let v = k.version;
        self.fetches.remove(&FetchRequest::Map { intersection: intersection.clone(), version: v });
        self.maps.insert(k);
        self.push_status(StatusEvent::MapReady { intersection, version: v });
        Ok(v)
    }

    /// The knowledge (map, matcher, rules) held for an intersection at a version.
    pub fn knowledge(&self, intersection: &IntersectionId, version: &MapVersion) -> Option<&Arc<Knowledge>> {
        self.maps.get(intersection, version)
    }

    /// Fetches to send now: new ones, and those unanswered for `fetch_retry_s`. Marks them sent.
    pub fn due_fetches(&mut self, now: Timestamp) -> Vec<FetchRequest> {
        let retry = self.config.fetch_retry_s;
        let mut due = Vec::new();
        for (req, sent) in self.fetches.iter_mut() {
            if sent.is_none_or(|t| now.secs_since(t) >= retry) {
                *sent = Some(now);
                due.push(req.clone());
            }
        }
        due
    }

    /// Updates the route progress from the ego pose. Intersections passed are unsubscribed,
    /// forgotten, reported as [`StatusEvent::Passed`] and returned (the IO layer undeclares
    /// their subscribers). Also reports states that went stale.
    pub fn update_pose(&mut self, pose: &EgoPose, now: Timestamp) -> Vec<IntersectionId> {
        let origin = self
            .config
            .route
            .ahead()
            .iter()
            .filter_map(|s| self.any_knowledge(&s.intersection))
            .find_map(|k| k.map.origin);
        let progress = self.config.route.progress_m(pose, origin);
        let inside: Vec<bool> = self
            .config
            .route
            .stops()
            .iter()
            .map(|s| {
                self.any_knowledge(&s.intersection)
                    .and_then(|k| {
                        let p = pose.in_map(k)?;
                        Some(k.contains(p[0], p[1]) && k.matcher.match_position(p[0], p[1], None).is_some())
                    })
                    .unwrap_or(false)
            })
            .collect();
        let passed = self.config.route.advance(progress, |i| inside.get(i).copied().unwrap_or(false));
        for ix in &passed {
            self.forget(ix);
            self.push_status(StatusEvent::Passed { intersection: ix.clone() });
        }
        self.tick(now);
        passed
    }

    /// Reports states that went stale since the last call (as [`StatusEvent::BecameStale`])
    /// and forgets expired events.
    pub fn tick(&mut self, now: Timestamp) {
        let window = self.config.freshness_s;
        let mut newly = Vec::new();
        for s in self.config.route.ahead() {
            if let Some(u) = self.cache.latest(&s.intersection) {
                let age = now.secs_since(u.state.capture_time);
                if age > window && !self.stale_reported.contains(&s.intersection) {
                    newly.push((s.intersection.clone(), age));
                }
            }
        }
        for (ix, age_s) in newly {
            self.stale_reported.insert(ix.clone());
            self.push_status(StatusEvent::BecameStale { intersection: ix, age_s });
        }
        let ttl = self.config.event_ttl_s;
        for q in self.events.values_mut() {
            while q.front().is_some_and(|(e, _)| now.secs_since(e.time) > ttl) {
                if let Some((e, _)) = q.pop_front() {
                    self.seen_events.remove(&e.id);
                }
            }
        }
    }

    fn any_knowledge(&self, ix: &IntersectionId) -> Option<&Arc<Knowledge>> {
        match self.current_map.get(ix) {
            Some(v) => self.maps.get(ix, v),
            None => self.maps.of(ix).next(),
        }
    }

    /// Whether an intersection's latest state may be used at `now`.
    pub fn usability(&self, intersection: &IntersectionId, now: Timestamp) -> Usability {
        if let Some(v) = self.held.get(intersection) {
            if let Some(reason) = self.rejected.get(&(intersection.clone(), *v)) {
                return Usability::MapRejected { version: *v, reason: reason.clone() };
            }
            if self.maps.get(intersection, v).is_none() {
                return Usability::MapPending { version: *v };
            }
        }
        let Some(u) = self.cache.latest(intersection) else { return Usability::NoState };
        let v = u.state.map_version;
        if let Some(reason) = self.rejected.get(&(intersection.clone(), v)) {
            return Usability::MapRejected { version: v, reason: reason.clone() };
        }
        if self.maps.get(intersection, &v).is_none() {
            return Usability::MapPending { version: v };
        }
        let age_s = now.secs_since(u.state.capture_time);
        if age_s > self.config.freshness_s {
            return Usability::Stale { age_s, window_s: self.config.freshness_s };
        }
        Usability::Usable
    }

    /// The latest accepted state of an intersection, usable or not (check
    /// [`Corridor::usability`] before presenting it as current).
    pub fn latest(&self, intersection: &IntersectionId) -> Option<&StateUpdate> {
        self.cache.latest(intersection)
    }

    /// Counters (states and events).
    pub fn stats(&self) -> &SdkStats {
        self.cache.stats()
    }

    /// The usable state and its knowledge, or why not.
    fn usable(&self, ix: &IntersectionId, now: Timestamp) -> Result<(&StateUpdate, &Arc<Knowledge>), QueryError> {
        match self.usability(ix, now) {
            Usability::Usable => {}
            usability => return Err(QueryError::Unusable { intersection: ix.clone(), usability }),
        }
        let u = self
            .cache
            .latest(ix)
            .ok_or_else(|| QueryError::Unusable { intersection: ix.clone(), usability: Usability::NoState })?;
        let k = self.maps.get(ix, &u.state.map_version).ok_or_else(|| QueryError::Unusable {
            intersection: ix.clone(),
            usability: Usability::MapPending { version: u.state.map_version },
        })?;
        Ok((u, k))
    }

    fn provenance(&self, u: &StateUpdate, k: &Knowledge, now: Timestamp, rules: bool) -> Provenance {
        let age_s = now.secs_since(u.state.capture_time);
        let fresh = (1.0 - age_s.max(0.0) / self.config.freshness_s).clamp(0.0, 1.0) as f32;
        Provenance {
            intersection: u.state.intersection.clone(),
            rsu: u.state.rsu.clone(),
            seq: u.state.seq,
            map_version: k.version,
            rules_version: if rules { k.rules_version() } else { None },
            capture_time: u.state.capture_time,
            age_s,
            confidence: fresh,
        }
    }

    /// The objects of one intersection in the ego frame: position and velocity rotated (x
    /// forward, y left), covariance rotated (`R P R^T`), extrapolated to `now`, each with its
    /// age and a `stale` flag.
    pub fn objects_in_ego(
        &self,
        intersection: &IntersectionId,
        pose: &EgoPose,
        now: Timestamp,
    ) -> Result<EgoObjects<'_>, QueryError> {
        let (u, k) = self.usable(intersection, now)?;
        let ego = pose.in_map(k).ok_or_else(|| QueryError::NoGeoOrigin(intersection.clone()))?;
        let (sin, cos) = pose.heading_rad.sin_cos();
        let state_age = now.secs_since(u.state.capture_time);
        let stale = self.config.object_stale_s;
        let objects =
            u.state.objects.iter().map(|o| to_ego(o, ego, cos, sin, pose.heading_rad, state_age, now, stale)).collect();
        Ok(EgoObjects { objects, provenance: self.provenance(u, k, now, false) })
    }

    /// Finds the route intersection whose lanes hold the pose (first ahead first).
    fn locate(&self, pose: &EgoPose, now: Timestamp) -> Result<Located<'_>, QueryError> {
        let mut first_err: Option<QueryError> = None;
        for stop in self.config.route.ahead() {
            let ix = &stop.intersection;
            let (u, k) = match self.usable(ix, now) {
                Ok(x) => x,
                Err(e) => {
                    // a pending or stale intersection the pose may be in: report it unless a
                    // later one answers
                    let inside = self.any_knowledge(ix).and_then(|k| pose.in_map(k)).zip(self.any_knowledge(ix));
                    let relevant = match inside {
                        Some((p, k)) => k.contains(p[0], p[1]),
                        None => true,
                    };
                    if relevant && first_err.is_none() {
                        first_err = Some(e);
                    }
                    continue;
                }
            };
            let Some(p) = pose.in_map(k) else {
                first_err.get_or_insert(QueryError::NoGeoOrigin(ix.clone()));
                continue;
            };
            if !k.contains(p[0], p[1]) {
                continue;
            }
            if let Some(m) = k.matcher.match_position(p[0], p[1], Some(pose.heading_rad)) {
                return Ok((u, k, m, p));
            }
        }
        Err(first_err.unwrap_or(QueryError::OffRoute))
    }

    /// Everything about the ego's lane: the lane (matched from position and heading), the
    /// connection it is on or will take, the signal group controlling it with its phase and
    /// time to change, and the rules in force now for `class`.
    pub fn my_lane(&self, pose: &EgoPose, class: VehicleClass, now: Timestamp) -> Result<LaneAnswer, QueryError> {
        let (u, k, m, _) = self.locate(pose, now)?;
        let (conn_idx, choice) = self.choose_connection(k, &m);
        let conn = conn_idx.and_then(|i| k.map.connections.get(i));
        let lane = k.map.lanes.get(m.lane_index);
        let to_lane_end_m = lane.map_or(0.0, |l| (l.length_m() - m.s_m).max(0.0));
        let signal = conn.and_then(|c| c.signal.as_ref()).map(|sref| {
            let g = u.state.signals.iter().find(|g| g.id == sref.group);
            SignalAnswer {
                group: sref.group,
                state: g.map(|g| g.state),
                time_to_change: g.and_then(|g| g.timing).map(|t| TimeToChange {
                    min_s: t.min_end.secs_since(now).max(0.0),
                    max_s: t.max_end.map(|e| e.secs_since(now).max(0.0)),
                    likely_s: t.likely_end.map(|e| e.secs_since(now).max(0.0)),
                    confidence: t.confidence,
                }),
            }
        });
        let rules = match &k.rules {
            None => None,
            Some(r) => {
                let eff = r.applicable(&m.lane, class, now)?;
                let mut ans = RulesAnswer {
                    speed_limit_kmh: eff
                        .speed_limit_kmh()
                        .map(f64::from)
                        .or_else(|| lane.and_then(|l| l.speed_limit_mps).map(|v| v * 3.6)),
                    turn_allowed: conn
                        .and_then(|c| Knowledge::rules_manoeuvre(c.manoeuvre))
                        .and_then(|mv| eff.turn_allowed(mv)),
                    right_on_red: None,
                    closed: false,
                    merge_into: None,
                    may_use_lane: true,
                    must_stop: false,
                    rule_ids: Vec::new(),
                };
                for rule in eff.iter() {
                    ans.rule_ids.push(rule.id.clone());
                    match &rule.effect {
                        Effect::RightTurnOnRed { allowed } => ans.right_on_red = Some(*allowed),
                        Effect::WorkZone { merge_into, .. } => {
                            ans.closed = true;
                            ans.merge_into = merge_into.clone();
                        }
                        Effect::ReservedLane { reserved_for } => ans.may_use_lane = reserved_for.contains(class),
                        Effect::Stop => ans.must_stop = true,
                        _ => {}
                    }
                }
                Some(ans)
            }
        };
        let mut provenance = self.provenance(u, k, now, rules.is_some());
        let hw = lane.map_or(1.75, |l| l.width_m.first().copied().unwrap_or(3.5) / 2.0).max(0.5);
        let lane_q = (1.0 - (m.lateral_m.abs() / hw) * 0.5).clamp(0.0, 1.0) as f32;
        let guess = matches!(choice, Some(ConnectionChoice::GuessStraight | ConnectionChoice::GuessFirst));
        provenance.confidence *= lane_q * if guess { 0.5 } else { 1.0 };
        Ok(LaneAnswer {
            lane: m.lane.clone(),
            s_m: m.s_m,
            lateral_m: m.lateral_m,
            to_lane_end_m,
            connection: conn.zip(choice).map(|(c, chosen_by)| ConnectionAnswer {
                id: c.id,
                ingress: c.ingress.clone(),
                egress: c.egress.clone(),
                manoeuvre: c.manoeuvre,
                chosen_by,
            }),
            signal,
            rules,
            provenance,
        })
    }

    fn choose_connection(
        &self,
        k: &Knowledge,
        m: &corridor_hdmap::LaneMatch,
    ) -> (Option<usize>, Option<ConnectionChoice>) {
        if let Some(Some(ci)) = k.via_of.get(m.lane_index) {
            return (Some(*ci), Some(ConnectionChoice::OnIt));
        }
        let Some(cands) = k.from_lane.get(m.lane_index) else { return (None, None) };
        match cands.len() {
            0 => return (None, None),
            1 => return (Some(cands[0]), Some(ConnectionChoice::OnlyOne)),
            _ => {}
        }
        if let Some(stop) = self.config.route.stop_ahead(&k.intersection) {
            if !stop.lanes.is_empty() {
                for &ci in cands {
                    if let Some(c) = k.map.connections.get(ci) {
                        if stop.lanes.contains(&c.egress) || c.via.iter().any(|v| stop.lanes.contains(v)) {
                            return (Some(ci), Some(ConnectionChoice::Route));
                        }
                    }
                }
            }
        }
        for &ci in cands {
            if k.map.connections.get(ci).is_some_and(|c| c.manoeuvre == corridor_hdmap::Manoeuvre::Straight) {
                return (Some(ci), Some(ConnectionChoice::GuessStraight));
            }
        }
        (Some(cands[0]), Some(ConnectionChoice::GuessFirst))
    }

    /// Objects whose predicted position (constant velocity, every `step_s` up to `horizon_s`)
    /// enters the ego's path: its lane ahead, the connection's internal lanes and egress, and
    /// the connection's conflict zones. Soonest first.
    pub fn in_path(
        &self,
        pose: &EgoPose,
        class: VehicleClass,
        options: InPathOptions,
        now: Timestamp,
    ) -> Result<InPath, QueryError> {
        let lane_answer = self.my_lane(pose, class, now)?;
        let (u, k, m, ego) = self.locate(pose, now)?;
        let mut pieces: Vec<Piece<'_>> = Vec::new();
        let mut zones: Vec<(u32, [f64; 2])> = Vec::new();
        let own: Vec<[f64; 2]>;
        match lane_answer.connection.as_ref().and_then(|c| k.corridors.get(c.id as usize).map(|p| (c, p))) {
            Some((c, corridor)) => {
                for p in corridor {
                    pieces.push((&p.lane, &p.points, p.half_width_m, p.bounds));
                }
                if let Some(conn) = k.map.connections.get(c.id as usize) {
                    for z in &k.map.conflict_zones {
                        if conn.conflict_zones.contains(&z.id) {
                            zones.push((z.id, z.centre_m));
                        }
                    }
                }
            }
            None => {
                if let Some(l) = k.map.lanes.get(m.lane_index) {
                    own = l.centre_line_m.clone();
                    let hw = l.width_m.first().copied().unwrap_or(3.5) / 2.0;
                    let mut b = [f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY];
                    for p in &own {
                        b = [b[0].min(p[0]), b[1].min(p[1]), b[2].max(p[0]), b[3].max(p[1])];
                    }
                    pieces.push((&l.id, &own, hw, [b[0] - hw, b[1] - hw, b[2] + hw, b[3] + hw]));
                }
            }
        }
        let (sin, cos) = pose.heading_rad.sin_cos();
        let state_age = now.secs_since(u.state.capture_time);
        let steps = (options.horizon_s / options.step_s.max(0.01)).ceil() as usize;
        let mut out = Vec::new();
        for o in &u.state.objects {
            let p0 = [o.position_m.x + o.velocity_mps.x * state_age, o.position_m.y + o.velocity_mps.y * state_age];
            if (p0[0] - ego[0]).hypot(p0[1] - ego[1]) < options.ego_radius_m {
                continue;
            }
            let half = f64::from(o.size_m.width_m.max(o.size_m.length_m)) / 2.0;
            let mut hit: Option<(f64, PathZone)> = None;
            'time: for i in 0..=steps {
                let t = i as f64 * options.step_s;
                let p = [p0[0] + o.velocity_mps.x * t, p0[1] + o.velocity_mps.y * t];
                for (lane, pts, hw, b) in &pieces {
                    if p[0] < b[0] - half || p[0] > b[2] + half || p[1] < b[1] - half || p[1] > b[3] + half {
                        continue;
                    }
                    let r = hw + half;
                    if dist2_to_polyline(pts, p) <= r * r {
                        hit = Some((t, PathZone::Lane((*lane).clone())));
                        break 'time;
                    }
                }
                for (id, c) in &zones {
                    let r = options.conflict_radius_m + half;
                    if (p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2) <= r * r {
                        hit = Some((t, PathZone::ConflictZone(*id)));
                        break 'time;
                    }
                }
            }
            if let Some((t, zone)) = hit {
                let object =
                    to_ego(o, ego, cos, sin, pose.heading_rad, state_age, now, self.config.object_stale_s).into_owned();
                out.push(InPathObject { object, time_to_enter_s: t, zone });
            }
        }
        out.sort_by(|a, b| a.time_to_enter_s.total_cmp(&b.time_to_enter_s));
        Ok(InPath { objects: out, lane: lane_answer.lane, provenance: lane_answer.provenance })
    }

    /// Hazards and events at the intersections still ahead on the route, most severe first,
    /// then newest first. Events older than `event_ttl_s` are left out.
    pub fn hazards(&self, now: Timestamp) -> Vec<Hazard> {
        let mut out = Vec::new();
        for stop in self.config.route.ahead() {
            let Some(q) = self.events.get(&stop.intersection) else { continue };
            let current = self.current_map.get(&stop.intersection);
            for (e, _) in q {
                let age_s = now.secs_since(e.time);
                if age_s > self.config.event_ttl_s {
                    continue;
                }
                let on_route_lane = match (&e.lane, stop.lanes.is_empty()) {
                    (Some(l), false) => Some(stop.lanes.contains(l)),
                    _ => None,
                };
                let confidence = if current.is_some_and(|v| *v != e.map_version) { 0.5 } else { 1.0 };
                out.push(Hazard {
                    event: e.clone(),
                    on_route_lane,
                    provenance: Provenance {
                        intersection: e.intersection.clone(),
                        rsu: e.rsu.clone(),
                        seq: 0,
                        map_version: e.map_version,
                        rules_version: None,
                        capture_time: e.time,
                        age_s,
                        confidence,
                    },
                });
            }
        }
        out.sort_by(|a, b| b.event.severity.cmp(&a.event.severity).then(b.event.time.cmp(&a.event.time)));
        out
    }
}
