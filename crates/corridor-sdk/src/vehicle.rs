//! [`Vehicle`]: the zenoh + tokio adapter over the sans-IO [`Corridor`].
//!
//! - One zenoh subscriber per key of [`Corridor::subscriptions`] (state and events of each
//!   intersection ahead; exact keys, so the router forwards nothing else). State samples are
//!   only classified by claimed sender and queued in zenoh's callback
//!   ([`crate::intake::FairQueue`], [`INTAKE_PER_SENDER`] per sender, oldest dropped and
//!   counted as `queue_full`; a signed sample reusing a seq already accepted from its key is
//!   dropped there, counted as `replay`); one intake thread checks them (signature verification, if a
//!   verifier is set) and applies them under the core's mutex, then runs the application's
//!   callback with each accepted [`StateUpdate`]. Keep that callback short. Without a verifier
//!   there is no expensive check to keep off zenoh's thread, so while none is set, state
//!   samples are applied in zenoh's callback directly (the intake thread idles: one thread
//!   hand-off less on the capture-to-callback path). Event samples are handled in zenoh's callback.
//! - A tokio task sends the core's [`Corridor::due_fetches`] as zenoh queries
//!   (`corridor/{region}/map/{ix}?version=HEX`, `.../rules/...`) every 200 ms and hands the
//!   replies back to the core, which verifies them; unanswered fetches are retried.
//! - [`Vehicle::update_pose`] advances the route and undeclares the subscribers of the
//!   intersections passed.
//! - With a [`crate::trust::TrustVerifier`] ([`VehicleConfig::trust`]): the fetch task asks
//!   `corridor/{region}/cloud/trust` for the trust bundle until one answer is imported, and a
//!   subscriber on the same key imports every update the cloud publishes (new certificates, a
//!   newer revocation list) into the verifier, cached on disk with the maps.
//!
//! Queries ([`Vehicle::my_lane`], [`Vehicle::objects_in_ego`], ...) take the time from the
//! configured clock and run on the core under its lock.

use corridor_model::{Clock, IntersectionId, RegionId, SystemClock, Timestamp};
use corridor_rules::VehicleClass;
use corridor_wire::Key;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::core::{DropReason, SdkStats, StateUpdate};
use crate::corridor::{Corridor, CorridorConfig, QueryError, StatusEvent, Usability};
use crate::intake::{sender_of, AcceptedSeqs, FairQueue, Sender};
use crate::knowledge::Knowledge;
use crate::query::{EgoObjects, Hazard, InPath, InPathOptions, LaneAnswer};
use crate::route::{EgoPose, Route};

/// The application's callback for accepted states.
pub type StateCallback = Arc<dyn Fn(&StateUpdate) + Send + Sync>;

/// Why the vehicle could not connect or fetch.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SdkError {
    /// Zenoh refused to open the session, declare a subscriber or send a query.
    #[error("zenoh: {0}")]
    Zenoh(#[from] zenoh::Error),
    /// Nothing answered a query in time.
    #[error("no reply on {0}")]
    NoReply(String),
    /// A reply was refused.
    #[error(transparent)]
    Knowledge(#[from] crate::knowledge::KnowledgeError),
}

/// What a vehicle subscribes to and how it reaches the network.
pub struct VehicleConfig {
    /// The region.
    pub region: RegionId,
    /// The intersections to follow, in route order (ignored when `route` is set).
    pub intersections: Vec<IntersectionId>,
    /// A route (list or matched polyline); `None`: the `intersections`.
    pub route: Option<Route>,
    /// The zenoh config (see `corridor_wire::presets`).
    pub zenoh: zenoh::Config,
    /// The clock used to stamp receive times and answer queries.
    pub clock: Arc<dyn Clock>,
    /// Disk cache for maps and rules.
    pub cache_dir: Option<PathBuf>,
    /// Freshness window of states, seconds (default 0.5).
    pub freshness_s: f64,
    /// Verify every state, event and cloud reply (see [`crate::trust`]); `None`: unsigned.
    pub trust: Option<crate::trust::TrustVerifier>,
}

impl VehicleConfig {
    /// A config with the system clock, no disk cache, a 0.5 s freshness window.
    pub fn new(region: RegionId, intersections: Vec<IntersectionId>, zenoh: zenoh::Config) -> Self {
        Self {
            region,
            intersections,
            route: None,
            zenoh,
            clock: Arc::new(SystemClock),
            cache_dir: None,
            freshness_s: 0.5,
            trust: None,
        }
    }

    /// Verifies everything with `trust` (e.g. `TrustVerifier::from_files(root.pub, trust.bundle)`).
    pub fn trust(mut self, trust: crate::trust::TrustVerifier) -> Self {
        self.trust = Some(trust);
        self
    }

    fn corridor_config(&mut self) -> CorridorConfig {
        let route = self.route.take().unwrap_or_else(|| Route::intersections(self.intersections.clone()));
        let mut c = CorridorConfig::new(self.region.clone(), route);
        c.cache_dir = self.cache_dir.clone();
        c.freshness_s = self.freshness_s;
        c.trust = self.trust.take();
        c
    }
}

type Subscribers = HashMap<IntersectionId, Vec<zenoh::pubsub::Subscriber<()>>>;

/// State samples queued per claimed sender before the intake thread checks them (about a
/// second of one intersection at 10-20 Hz). Large enough that a burst of cheap forgeries
/// claiming a sender does not evict its genuine states before the intake thread reaches them;
/// small enough that a sender's own valid state waits behind at most this many of its samples.
pub const INTAKE_PER_SENDER: usize = 16;

/// A received state sample: zenoh key, payload, receive time.
type Received = (String, Vec<u8>, Timestamp);

/// The state intake: zenoh's callback pushes, the intake thread pops (see the module doc).
struct Intake {
    queue: Mutex<(FairQueue<Sender, Received>, AcceptedSeqs)>,
    ready: std::sync::Condvar,
    stop: std::sync::atomic::AtomicBool,
}

impl Intake {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            queue: Mutex::new((FairQueue::new(INTAKE_PER_SENDER), AcceptedSeqs::default())),
            ready: std::sync::Condvar::new(),
            stop: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Queues a sample; `Err(reason)` if a sample was dropped for it: the sample itself when
    /// it reuses a seq already accepted from its signing key (`replay`), or its sender's oldest
    /// queued sample when that queue was full (`queue_full`).
    fn push(&self, sample: Received) -> Result<(), DropReason> {
        let (sender, seq) = sender_of(&sample.0, &sample.1);
        let mut guard = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let (queue, accepted) = &mut *guard;
        if accepted.contains(&sender, seq) {
            return Err(DropReason::Unverified("replay"));
        }
        let dropped = queue.push(sender, seq, sample).is_some();
        drop(guard);
        self.ready.notify_one();
        if dropped {
            Err(DropReason::QueueFull)
        } else {
            Ok(())
        }
    }

    /// Records that a state from `sender` with `seq` was accepted.
    fn accepted(&self, sender: &Sender, seq: u64) {
        if let Sender::Key(key) = sender {
            self.queue.lock().unwrap_or_else(PoisonError::into_inner).1.record(*key, seq);
        }
    }

    /// The next sample, blocking; `None` once stopped.
    fn pop(&self) -> Option<(Sender, Received)> {
        let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if self.stop.load(std::sync::atomic::Ordering::Acquire) {
                return None;
            }
            if let Some(next) = q.0.pop() {
                return Some(next);
            }
            q = self.ready.wait(q).unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn stop(&self) {
        self.stop.store(true, std::sync::atomic::Ordering::Release);
        let _guard = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        self.ready.notify_all();
    }
}

/// The intake thread: checks and applies queued state samples in fair order.
fn intake_loop(intake: Arc<Intake>, core: Arc<Mutex<Corridor>>, on_state: Option<StateCallback>) {
    while let Some((sender, (key, bytes, now))) = intake.pop() {
        let result = lock(&core).handle_state(&key, &bytes, now);
        match result {
            Ok(update) => {
                intake.accepted(&sender, update.header.seq);
                if let Some(cb) = &on_state {
                    cb(&update);
                }
            }
            Err(reason) => tracing::debug!(%key, reason = reason.label(), "dropped state sample"),
        }
    }
}

/// A connected vehicle.
pub struct Vehicle {
    session: zenoh::Session,
    core: Arc<Mutex<Corridor>>,
    clock: Arc<dyn Clock>,
    subscribers: Mutex<Subscribers>,
    fetcher: tokio::task::JoinHandle<()>,
    intake: Arc<Intake>,
    /// The application's callback, run in zenoh's callback while no verifier is set.
    on_state: Option<StateCallback>,
    _trust_updates: Option<zenoh::pubsub::Subscriber<()>>,
}

fn lock(core: &Mutex<Corridor>) -> MutexGuard<'_, Corridor> {
    core.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Vehicle {
    /// Opens a zenoh session, subscribes along the route and starts fetching maps and rules.
    pub async fn connect(mut config: VehicleConfig, on_state: Option<StateCallback>) -> Result<Vehicle, SdkError> {
        let cc = config.corridor_config();
        let session = zenoh::open(config.zenoh).await?;
        Self::follow(session, cc, config.clock, on_state).await
    }

    /// Subscribes on an already open session to a list of intersections (the demo opens one
    /// session per vehicle).
    pub async fn with_session(
        session: zenoh::Session,
        region: RegionId,
        intersections: Vec<IntersectionId>,
        clock: Arc<dyn Clock>,
        on_state: Option<StateCallback>,
    ) -> Result<Vehicle, SdkError> {
        Self::follow(session, CorridorConfig::new(region, Route::intersections(intersections)), clock, on_state).await
    }

    /// The general constructor: a [`CorridorConfig`] (route, freshness, cache dir) on an open
    /// session.
    pub async fn follow(
        session: zenoh::Session,
        config: CorridorConfig,
        clock: Arc<dyn Clock>,
        on_state: Option<StateCallback>,
    ) -> Result<Vehicle, SdkError> {
        let core = Arc::new(Mutex::new(Corridor::new(config)));
        let trust_updates = if lock(&core).verifies() {
            let key = Key::Trust { region: lock(&core).config().region.clone() };
            let c = Arc::clone(&core);
            Some(
                session
                    .declare_subscriber(key.to_string())
                    .callback(move |sample| {
                        import_trust(&c, &sample.payload().to_bytes(), "published");
                    })
                    .await?,
            )
        } else {
            None
        };
        let fetcher = tokio::spawn(fetch_loop(session.clone(), Arc::clone(&core), Arc::clone(&clock)));
        let intake = Intake::new();
        {
            let (intake, core, on_state) = (Arc::clone(&intake), Arc::clone(&core), on_state.clone());
            std::thread::Builder::new()
                .name("corridor-intake".into())
                .spawn(move || intake_loop(intake, core, on_state))
                .map_err(|e| SdkError::NoReply(format!("starting the intake thread: {e}")))?;
        }
        let v = Vehicle {
            session,
            core,
            clock,
            subscribers: Mutex::new(HashMap::new()),
            fetcher,
            intake,
            on_state,
            _trust_updates: trust_updates,
        };
        let ahead: Vec<IntersectionId> = lock(&v.core).route().ahead().iter().map(|s| s.intersection.clone()).collect();
        for ix in ahead {
            v.subscribe(ix).await?;
        }
        Ok(v)
    }

    async fn subscribe(&self, ix: IntersectionId) -> Result<(), SdkError> {
        let region = lock(&self.core).config().region.clone();
        let mut subs = Vec::with_capacity(2);
        {
            let key = Key::State { region: region.clone(), intersection: ix.clone() };
            let (core, clock, intake) = (Arc::clone(&self.core), Arc::clone(&self.clock), Arc::clone(&self.intake));
            let on_state = self.on_state.clone();
            subs.push(
                self.session
                    .declare_subscriber(key.to_string())
                    .callback(move |sample| {
                        let now = clock.now();
                        let mut c = lock(&core);
                        if !c.verifies() {
                            let key = sample.key_expr().as_str();
                            let result = c.handle_state(key, &sample.payload().to_bytes(), now);
                            drop(c);
                            match result {
                                Ok(update) => {
                                    if let Some(cb) = &on_state {
                                        cb(&update);
                                    }
                                }
                                Err(reason) => tracing::debug!(%key, reason = reason.label(), "dropped state sample"),
                            }
                            return;
                        }
                        drop(c);
                        let bytes = sample.payload().to_bytes().into_owned();
                        if let Err(reason) = intake.push((sample.key_expr().as_str().to_owned(), bytes, now)) {
                            lock(&core).count_dropped(reason);
                        }
                    })
                    .await?,
            );
        }
        {
            let key = Key::Events { region, intersection: ix.clone() };
            let (core, clock) = (Arc::clone(&self.core), Arc::clone(&self.clock));
            subs.push(
                self.session
                    .declare_subscriber(key.to_string())
                    .callback(move |sample| {
                        let now = clock.now();
                        let bytes = sample.payload().to_bytes();
                        if let Err(reason) = lock(&core).handle_event(sample.key_expr().as_str(), &bytes, now) {
                            tracing::debug!(key = %sample.key_expr(), reason = reason.label(), "dropped event sample");
                        }
                    })
                    .await?,
            );
        }
        self.subscribers.lock().unwrap_or_else(PoisonError::into_inner).insert(ix, subs);
        Ok(())
    }

    fn unsubscribe(&self, ixs: &[IntersectionId]) {
        let mut subs = self.subscribers.lock().unwrap_or_else(PoisonError::into_inner);
        for ix in ixs {
            subs.remove(ix); // dropping a subscriber undeclares it
        }
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Advances the route from the ego pose: passed intersections are unsubscribed and
    /// forgotten (and returned).
    pub fn update_pose(&self, pose: &EgoPose) -> Vec<IntersectionId> {
        let passed = lock(&self.core).update_pose(pose, self.now());
        self.unsubscribe(&passed);
        passed
    }

    /// Replaces the route (e.g. a polyline matched with [`Vehicle::fetch_latest_maps`]).
    pub async fn set_route(&self, route: Route) -> Result<(), SdkError> {
        let (added, removed) = lock(&self.core).set_route(route);
        self.unsubscribe(&removed);
        for ix in added {
            self.subscribe(ix).await?;
        }
        Ok(())
    }

    /// Fetches the current map of each intersection (no version: the latest the cloud
    /// serves), verifies and holds them; returns them for [`Route::from_polyline`].
    pub async fn fetch_latest_maps(&self, intersections: &[IntersectionId]) -> Result<Vec<Arc<Knowledge>>, SdkError> {
        let region = lock(&self.core).config().region.clone();
        let mut out = Vec::new();
        for ix in intersections {
            let selector = Key::Map { region: region.clone(), intersection: ix.clone() }.to_string();
            let bytes =
                query_one(&self.session, &selector).await?.ok_or_else(|| SdkError::NoReply(selector.clone()))?;
            let mut core = lock(&self.core);
            let v = core.handle_map_bundle(&bytes, self.clock.now())?;
            if let Some(k) = core.knowledge(ix, &v) {
                out.push(Arc::clone(k));
            }
        }
        Ok(out)
    }

    /// The ego's lane, connection, signal (time to change) and rules now. See [`Corridor::my_lane`].
    pub fn my_lane(&self, pose: &EgoPose, class: VehicleClass) -> Result<LaneAnswer, QueryError> {
        lock(&self.core).my_lane(pose, class, self.now())
    }

    /// Objects of an intersection in the ego frame. See [`Corridor::objects_in_ego`].
    pub fn objects_in_ego(
        &self,
        intersection: &IntersectionId,
        pose: &EgoPose,
    ) -> Result<EgoObjects<'static>, QueryError> {
        lock(&self.core).objects_in_ego(intersection, pose, self.now()).map(EgoObjects::into_owned)
    }

    /// Objects predicted to enter the ego's path. See [`Corridor::in_path`].
    pub fn in_path(&self, pose: &EgoPose, class: VehicleClass, options: InPathOptions) -> Result<InPath, QueryError> {
        lock(&self.core).in_path(pose, class, options, self.now())
    }

    /// Hazards on the route ahead. See [`Corridor::hazards`].
    pub fn hazards(&self) -> Vec<Hazard> {
        lock(&self.core).hazards(self.now())
    }

    /// Whether an intersection's state may be used now.
    pub fn usability(&self, intersection: &IntersectionId) -> Usability {
        lock(&self.core).usability(intersection, self.now())
    }

    /// Status events since the last call (gaps, restarts, map changes, staleness, passed).
    pub fn poll_status(&self) -> Vec<StatusEvent> {
        let mut core = lock(&self.core);
        core.tick(self.clock.now());
        std::iter::from_fn(|| core.poll_status()).collect()
    }

    /// Runs `f` on the core under its lock (for anything not wrapped here).
    pub fn with_core<R>(&self, f: impl FnOnce(&mut Corridor) -> R) -> R {
        f(&mut lock(&self.core))
    }

    /// The latest accepted state of an intersection (check [`Vehicle::usability`] before
    /// presenting it as current).
    pub fn latest(&self, intersection: &IntersectionId) -> Option<StateUpdate> {
        lock(&self.core).latest(intersection).cloned()
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> SdkStats {
        lock(&self.core).stats().clone()
    }

    /// The zenoh session (for the application's own keys).
    pub fn session(&self) -> &zenoh::Session {
        &self.session
    }

    /// Undeclares everything and closes the session.
    pub async fn close(self) -> Result<(), SdkError> {
        self.fetcher.abort();
        self.intake.stop();
        self.subscribers.lock().unwrap_or_else(PoisonError::into_inner).clear();
        self.session.close().await?;
        Ok(())
    }
}

impl Drop for Vehicle {
    fn drop(&mut self) {
        self.fetcher.abort();
        self.intake.stop();
    }
}

/// The first successful reply's payload on `selector` (2 s timeout).
async fn query_one(session: &zenoh::Session, selector: &str) -> Result<Option<Vec<u8>>, SdkError> {
    let replies = session.get(selector).timeout(Duration::from_secs(2)).await?;
    while let Ok(reply) = replies.recv_async().await {
        if let Ok(sample) = reply.result() {
            return Ok(Some(sample.payload().to_bytes().into_owned()));
        }
    }
    Ok(None)
}

/// Imports a trust bundle into the core's verifier; true when it parsed.
fn import_trust(core: &Mutex<Corridor>, bytes: &[u8], source: &str) -> bool {
    match lock(core).import_trust_bundle(bytes) {
        Ok(Some(r)) => {
            tracing::info!(
                source,
                certificates = r.certificates,
                refused = r.refused.len(),
                revocation_applied = r.revocation_applied,
                "trust bundle imported"
            );
            true
        }
        Ok(None) => true,
        Err(e) => {
            tracing::warn!(source, error = %e, "trust bundle refused");
            false
        }
    }
}

async fn fetch_loop(session: zenoh::Session, core: Arc<Mutex<Corridor>>, clock: Arc<dyn Clock>) {
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    // the trust bundle is asked for until one answer is imported (updates come by subscription)
    let mut trust_due = lock(&core).verifies();
    let mut trust_asked: Option<Timestamp> = None;
    loop {
        tick.tick().await;
        if trust_due {
            let (now, retry, region) = {
                let c = lock(&core);
                (clock.now(), c.config().fetch_retry_s, c.config().region.clone())
            };
            if trust_asked.is_none_or(|t| now.secs_since(t) >= retry) {
                trust_asked = Some(now);
                let selector = Key::Trust { region }.to_string();
                if let Ok(Some(bytes)) = query_one(&session, &selector).await {
                    trust_due = !import_trust(&core, &bytes, "queried");
                }
            }
        }
        let (due, region) = {
            let mut c = lock(&core);
            (c.due_fetches(clock.now()), c.config().region.clone())
        };
        for req in due {
            let selector = req.selector(&region);
            match query_one(&session, &selector).await {
                Ok(Some(bytes)) => {
                    let mut c = lock(&core);
                    let now = clock.now();
                    let r = match req {
                        crate::corridor::FetchRequest::Map { .. } => c.handle_map_bundle(&bytes, now).map(|_| ()),
                        crate::corridor::FetchRequest::Rules { .. } => c.handle_rules_bundle(&bytes, now).map(|_| ()),
                    };
                    if let Err(e) = r {
                        tracing::warn!(%selector, error = %e, "refused a fetched bundle");
                    }
                }
                Ok(None) => tracing::debug!(%selector, "no reply; will retry"),
                Err(e) => tracing::debug!(%selector, error = %e, "query failed; will retry"),
            }
        }
    }
}

/// Republishes accepted states as ROS 2 `corridor_msgs/msg/IntersectionState` (CDR) on the
/// keys of the zenoh-plugin-ros2dds convention (see [`crate::ros2`] and `docs/ros2.md`).
///
/// ```no_run
/// # async fn demo(session: zenoh::Session, region: corridor_model::RegionId) -> Result<(), corridor_sdk::SdkError> {
/// let bridge = corridor_sdk::vehicle::Ros2Bridge::new(session.clone(), region.clone(), "");
/// let v = corridor_sdk::Vehicle::with_session(session, region, vec![], std::sync::Arc::new(corridor_model::SystemClock),
///     Some(bridge.callback())).await?;
/// # Ok(()) }
/// ```
pub struct Ros2Bridge {
    session: zenoh::Session,
    region: RegionId,
    prefix: String,
}

impl Ros2Bridge {
    /// A bridge publishing under the ros2dds namespace `prefix` (empty: none).
    pub fn new(session: zenoh::Session, region: RegionId, prefix: &str) -> Arc<Self> {
        Arc::new(Self { session, region, prefix: prefix.to_owned() })
    }

    /// The zenoh key a ROS 2 subscriber (behind the bridge) receives an intersection on.
    pub fn key(&self, intersection: &IntersectionId) -> String {
        crate::ros2::zenoh_key(&self.prefix, &crate::ros2::topic(self.region.as_str(), intersection.as_str()))
    }

    /// Publishes one state.
    pub fn publish(&self, update: &StateUpdate) -> Result<(), SdkError> {
        use zenoh::Wait;
        let msg = crate::ros2::to_msg(&self.region, &update.state);
        let bytes = crate::ros2::encode(&msg).map_err(|e| SdkError::NoReply(e.to_string()))?;
        self.session.put(self.key(&update.state.intersection), bytes).wait()?;
        Ok(())
    }

    /// A state callback that publishes every accepted state.
    pub fn callback(self: &Arc<Self>) -> StateCallback {
        let me = Arc::clone(self);
        Arc::new(move |u: &StateUpdate| {
            if let Err(e) = me.publish(u) {
                tracing::warn!(error = %e, "ROS 2 republish failed");
            }
        })
    }
}
