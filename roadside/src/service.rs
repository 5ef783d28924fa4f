//! The zenoh edge of the RSU.
//!
//! ```text
//! zenoh callbacks (det, det/json, signal)      fusion thread
//!   try_send (now, key, bytes) --bounded queue--> RsuCore::handle_sample
//!   full? count `queue_full`, drop the new one     drain, handle_timeout, poll_state
//!                                                  encode + put(state), put(json), put(stats)
//! ```
//! The callbacks do no work beyond a reference count and a `try_send`, so a flood on an
//! input key cannot stall zenoh's receive path; the bounded queue caps memory
//! and the `queue_full` counter makes the flood visible. One thread owns the
//! core, so the fusion needs no locks and a map switch happens between frames.
//!
//! With a `[cloud]` section, two tokio tasks run beside the fusion thread:
//! the [`CloudSync`] (catalog, map and rules, verified and cached; a new
//! version is handed to the fusion thread as a `Control::SetKnowledge`) and the
//! event uploader (oldest outbox entry first, one query per event on
//! `corridor/{region}/cloud/events/{rsu}`, deleted on the cloud's ack, retried
//! with exponential backoff from 200 ms to 10 s). The fusion thread runs the
//! [`EventDetector`] on every state, writes each event to the [`Outbox`]
//! before publishing it on `corridor/{region}/ix/{intersection}/events`.

use corridor_model::{Clock, MapVersion, Timestamp};
use corridor_wire::{encode_into, keys, presets, Header, Key, PayloadKind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;
use zenoh::Wait;

use crate::cache::Cache;
use crate::cloud::{CloudSync, SyncCounters, Update, SOURCE_CACHE, SOURCE_CLOUD};
use crate::config::RsuConfig;
use crate::core::{RsuCore, RsuStats};
use crate::events::EventDetector;
use crate::knowledge::{KnowledgeError, MapKnowledge};
use crate::outbox::Outbox;

/// Why the RSU could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The map or rules were refused.
    #[error(transparent)]
    Knowledge(#[from] KnowledgeError),
    /// The `[security]` key or certificate was refused.
    #[error(transparent)]
    Identity(#[from] crate::security::IdentityError),
    /// Zenoh refused a declaration.
    #[error("zenoh: {0}")]
    Zenoh(#[from] zenoh::Error),
    /// The cache or the event outbox could not be opened.
    #[error("{0}")]
    Storage(String),
}

/// One input sample: receive time, key, payload.
/// The payload travels as zenoh's reference-counted `ZBytes` (no copy in the callback); the
/// fusion thread reads it as one slice (`to_bytes`, borrowed when the payload is contiguous).
type Input = (Timestamp, String, zenoh::bytes::ZBytes);

/// Commands to the fusion thread besides input.
enum Control {
    SetMapVersion(MapVersion),
    SetKnowledge(Box<MapKnowledge>, &'static str),
}

/// What the cloud link adds to a running RSU.
struct CloudParts {
    sync_task: tokio::task::JoinHandle<()>,
    upload_task: tokio::task::JoinHandle<()>,
}

/// A running RSU.
pub struct RsuService {
    stats: Arc<Mutex<RsuStats>>,
    queue_full: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    control: SyncSender<Control>,
    worker: Option<JoinHandle<()>>,
    cloud: Option<CloudParts>,
    outbox: Option<Arc<Outbox>>,
    _subscribers: Vec<zenoh::pubsub::Subscriber<()>>,
    _token: zenoh::liveliness::LivelinessToken,
}

impl RsuService {
    /// Starts the RSU on an open zenoh session: loads the map and rules the config names
    /// (refusing invalid ones), then subscribes and starts the fusion thread.
    ///
    /// With a `[cloud]` section: loads the cached version (verified), else the config's map file,
    /// then asks the cloud once (bounded by `fetch_timeout_ms`) and switches to its current
    /// version; starts the sync and the event uploader (needs a tokio runtime).
    pub async fn start(
        config: RsuConfig,
        session: &zenoh::Session,
        clock: Arc<dyn Clock>,
    ) -> Result<RsuService, StartError> {
        let mut core = RsuCore::new(config.clone());
        let Some(cloud) = config.cloud.clone() else {
            if let Some(map) = &config.map {
                core.set_knowledge(MapKnowledge::load(map, config.rules.as_deref())?)?;
            }
            return Self::start_inner(core, session, clock, None).await;
        };
        let cache =
            Cache::open(&cloud.cache_dir, &config.intersection).map_err(|e| StartError::Storage(e.to_string()))?;
        let mut sync = CloudSync::new(
            session.clone(),
            config.region.clone(),
            config.intersection.clone(),
            cache,
            Duration::from_millis(cloud.fetch_timeout_ms),
        );
        if let Some(sec) = &config.security {
            if let Some(v) = crate::security::load_cloud_verifier(sec, &cloud.cache_dir, Arc::clone(&clock))? {
                tracing::info!("maps, rules and catalogs must be signed by a certified cloud key");
                sync.set_verifier(Arc::new(v));
            }
        }
        if let Some(u) = sync.load_cache() {
            tracing::info!(map = %u.current.map.short(), "map and rules from the cache");
            core.swap_knowledge(u.knowledge, SOURCE_CACHE);
        } else if let Some(map) = &config.map {
            let k = MapKnowledge::load(map, config.rules.as_deref())?;
            sync.set_in_force(Some(crate::cache::Current { map: k.map_version(), rules: k.rules_version() }));
            core.set_knowledge(k)?;
        }
        match sync.poll().await {
            Ok(Some(u)) => core.swap_knowledge(u.knowledge, SOURCE_CLOUD),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cloud unreachable at start; serving what the cache has"),
        }
        let outbox = Arc::new(
            Outbox::open(&cloud.cache_dir.join(format!("events-{}.redb", config.rsu)))
                .map_err(|e| StartError::Storage(e.to_string()))?,
        );
        let counters = Arc::clone(&sync.counters);
        Self::start_inner(core, session, clock, Some((sync, outbox, counters, Duration::from_millis(cloud.retry_ms))))
            .await
    }

    /// Starts on an already built core (e.g. one given a map by the caller).
    pub async fn start_with_core(
        core: RsuCore,
        session: &zenoh::Session,
        clock: Arc<dyn Clock>,
    ) -> zenoh::Result<RsuService> {
        Self::start_inner(core, session, clock, None).await.map_err(|e| zenoh::Error::from(e.to_string()))
    }

    async fn start_inner(
        core: RsuCore,
        session: &zenoh::Session,
        clock: Arc<dyn Clock>,
        cloud: Option<(CloudSync, Arc<Outbox>, Arc<SyncCounters>, Duration)>,
    ) -> Result<RsuService, StartError> {
        let mut core = core;
        let config = core.config().clone();
        let signer = match &config.security {
            Some(sec) => {
                let (signer, cert) = crate::security::load_signer(sec, &config.rsu, &config.intersection)?;
                tracing::info!(key_id = %signer.key_id(), serial = cert.certificate().serial, "signing states and events");
                // sequence numbers rise across restarts (see RsuCore::start_seq_after)
                core.start_seq_after(u64::try_from(clock.now().unix_ns / 1000).unwrap_or(0));
                Some(signer)
            }
            None => None,
        };
        if let (Some(s), Some((_, outbox, _, _))) = (&signer, &cloud) {
            outbox.set_signer(s.clone());
        }
        if config.metrics_port != 0 {
            crate::telemetry::install(([127, 0, 0, 1], config.metrics_port).into()).map_err(StartError::Storage)?;
        }
        let region = config.region.clone();
        let rsu = config.rsu.clone();
        let state_key = Key::State { region: region.clone(), intersection: config.intersection.clone() };
        let json_key = Key::StateJson { region: region.clone(), intersection: config.intersection.clone() };
        let stats_key = Key::Stats { region: region.clone(), rsu: rsu.clone() };
        let state_pub = presets::declare_publisher(session, &state_key).await?;
        let json_pub =
            if config.json_mirror { Some(presets::declare_publisher(session, &json_key).await?) } else { None };
        let stats_pub = presets::declare_publisher(session, &stats_key).await?;
        let events_pub = presets::declare_publisher(
            session,
            &Key::Events { region: region.clone(), intersection: config.intersection.clone() },
        )
        .await?;
        let token = session
            .liveliness()
            .declare_token(Key::Alive { region: region.clone(), rsu: rsu.clone() }.to_string())
            .await?;

        let (tx, rx) = sync_channel::<Input>(config.input_queue);
        let (ctl_tx, ctl_rx) = sync_channel::<Control>(16);
        let queue_full = Arc::new(AtomicU64::new(0));
        let mut subscribers = Vec::new();
        for selector in [
            keys::detections_of_rsu(&region, &rsu),
            Key::Signals { region: region.clone(), rsu: rsu.clone() }.to_string(),
        ] {
            let tx = tx.clone();
            let clock = Arc::clone(&clock);
            let queue_full = Arc::clone(&queue_full);
            let sub = session
                .declare_subscriber(selector)
                .callback(move |sample| {
                    let input = (clock.now(), sample.key_expr().as_str().to_owned(), sample.payload().clone());
                    if let Err(TrySendError::Full(_)) = tx.try_send(input) {
                        queue_full.fetch_add(1, Ordering::Relaxed);
                    }
                })
                .await?;
            subscribers.push(sub);
        }
        drop(tx);

        let stats = Arc::new(Mutex::new(RsuStats::default()));
        let notify = Arc::new(tokio::sync::Notify::new());
        let (outbox, counters) = match &cloud {
            Some((_, o, c, _)) => (Some(Arc::clone(o)), Some(Arc::clone(c))),
            None => (None, None),
        };
        let cloud_parts = cloud.map(|(sync, outbox, _, retry)| {
            let tx = ctl_tx.clone();
            let sync_task = tokio::spawn(sync.run(retry, move |u: Update| {
                if tx.send(Control::SetKnowledge(Box::new(u.knowledge), SOURCE_CLOUD)).is_err() {
                    tracing::warn!("fusion thread gone; update dropped");
                }
            }));
            let upload_task = tokio::spawn(upload(
                session.clone(),
                Key::EventUpload { region: region.clone(), rsu: rsu.clone() }.to_string(),
                outbox,
                Arc::clone(&notify),
            ));
            CloudParts { sync_task, upload_task }
        });
        let stop = Arc::new(AtomicBool::new(false));
        let worker_outbox = outbox.clone();
        let worker = {
            let stats = Arc::clone(&stats);
            let stop = Arc::clone(&stop);
            let queue_full = Arc::clone(&queue_full);
            let period = Duration::from_millis(config.stats_period_ms.max(10));
            std::thread::Builder::new()
                .name(format!("rsu-{rsu}"))
                .spawn(move || {
                    Worker {
                        detector: EventDetector::new(core.config().events.clone()),
                        core,
                        rx,
                        ctl_rx,
                        clock,
                        state_pub,
                        json_pub,
                        stats_pub,
                        events_pub,
                        stats,
                        stop,
                        queue_full,
                        period,
                        buf: Vec::new(),
                        signer,
                        encode_sign_us: 0,
                        outbox: worker_outbox,
                        notify,
                        counters,
                        prev_frames: std::collections::BTreeMap::new(),
                        rates: std::collections::BTreeMap::new(),
                        local_counter: 0,
                        publish_us: 0,
                    }
                    .run()
                })
                .map_err(|e| StartError::Storage(format!("fusion thread: {e}")))?
        };
        Ok(RsuService {
            stats,
            queue_full,
            stop,
            control: ctl_tx,
            worker: Some(worker),
            cloud: cloud_parts,
            outbox,
            _subscribers: subscribers,
            _token: token,
        })
    }

    /// Events waiting in the outbox for the cloud's ack (0 without a `[cloud]` section).
    pub fn events_queued(&self) -> u64 {
        self.outbox.as_ref().map(|o| o.len()).unwrap_or(0)
    }

    /// A snapshot of the counters (refreshed by the fusion thread about every 100 ms).
    pub fn stats(&self) -> RsuStats {
        let mut s = self.stats.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let full = self.queue_full.load(Ordering::Relaxed);
        if full > 0 {
            s.rejected.insert("queue_full".into(), full);
        }
        s
    }

    /// Switches the map version named by the states, atomically between two frames.
    pub fn set_map_version(&self, v: MapVersion) {
        let _ = self.control.try_send(Control::SetMapVersion(v));
    }

    /// Stops the fusion thread and the cloud tasks and undeclares everything.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(c) = self.cloud.take() {
            c.sync_task.abort();
            c.upload_task.abort();
        }
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

impl Drop for RsuService {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(c) = self.cloud.take() {
            c.sync_task.abort();
            c.upload_task.abort();
        }
    }
}

/// Uploads the outbox, oldest first, until the cloud acks each event (its id as the reply);
/// backs off exponentially (200 ms .. 10 s) while the cloud does not answer.
async fn upload(session: zenoh::Session, key: String, outbox: Arc<Outbox>, notify: Arc<tokio::sync::Notify>) {
    let mut backoff = Duration::from_millis(200);
    loop {
        let batch = match outbox.peek(32) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "outbox");
                Vec::new()
            }
        };
        if batch.is_empty() {
            // wake on a new event, or look again in a while
            let _ = tokio::time::timeout(Duration::from_secs(1), notify.notified()).await;
            continue;
        }
        let mut failed = false;
        for q in batch {
            let acked = match session.get(&key).payload(q.bytes.clone()).timeout(Duration::from_secs(2)).await {
                Ok(replies) => match replies.recv_async().await {
                    Ok(r) => match r.result() {
                        Ok(s) => s.payload().to_bytes().as_ref() == q.event.id.to_string().as_bytes(),
                        Err(e) => {
                            tracing::warn!(id = %q.event.id, error = %String::from_utf8_lossy(&e.payload().to_bytes()), "cloud refused event");
                            false
                        }
                    },
                    Err(_) => false,
                },
                Err(_) => false,
            };
            if !acked {
                failed = true;
                break;
            }
            if let Err(e) = outbox.remove(q.seq) {
                tracing::error!(error = %e, "outbox remove");
            }
            metrics::counter!("corridor_rsu_events_uploaded_total").increment(1);
        }
        if failed {
            tracing::debug!(backoff_ms = backoff.as_millis() as u64, "event upload failed; backing off");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(10));
        } else {
            backoff = Duration::from_millis(200);
        }
    }
}

struct Worker {
    core: RsuCore,
    rx: Receiver<Input>,
    ctl_rx: Receiver<Control>,
    clock: Arc<dyn Clock>,
    state_pub: zenoh::pubsub::Publisher<'static>,
    json_pub: Option<zenoh::pubsub::Publisher<'static>>,
    stats_pub: zenoh::pubsub::Publisher<'static>,
    events_pub: zenoh::pubsub::Publisher<'static>,
    detector: EventDetector,
    outbox: Option<Arc<Outbox>>,
    notify: Arc<tokio::sync::Notify>,
    counters: Option<Arc<SyncCounters>>,
    prev_frames: std::collections::BTreeMap<String, u64>,
    rates: std::collections::BTreeMap<String, f64>,
    local_counter: u64,
    publish_us: u64,
    stats: Arc<Mutex<RsuStats>>,
    stop: Arc<AtomicBool>,
    queue_full: Arc<AtomicU64>,
    period: Duration,
    buf: Vec<u8>,
    signer: Option<corridor_security::Signer>,
    encode_sign_us: u64,
}

impl Worker {
    #[allow(clippy::disallowed_methods)] // the IO edge measures its own step time
    fn run(mut self) {
        let mut next_stats = self.clock.now() + self.period;
        let mut next_snapshot = self.clock.now();
        while !self.stop.load(Ordering::Relaxed) {
            let now = self.clock.now();
            let wait = self
                .core
                .poll_timeout()
                .map(|t| Duration::from_nanos(t.nanos_since(now).max(0) as u64))
                .unwrap_or(Duration::from_millis(50))
                .min(Duration::from_millis(50));
            let first = match self.rx.recv_timeout(wait) {
                Ok(input) => Some(input),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            while let Ok(c) = self.ctl_rx.try_recv() {
                match c {
                    Control::SetMapVersion(v) => self.core.set_map_version(v),
                    Control::SetKnowledge(k, source) => {
                        tracing::info!(map = %k.map_version().short(), source, "switching map/rules between frames");
                        self.core.swap_knowledge(*k, source)
                    }
                }
            }
            let started = std::time::Instant::now();
            if let Some((t, key, bytes)) = first {
                self.core.handle_sample(t, &key, &bytes.to_bytes());
                // drain what else is already queued, so one state covers it all
                while let Ok((t, key, bytes)) = self.rx.try_recv() {
                    self.core.handle_sample(t, &key, &bytes.to_bytes());
                }
            }
            let now = self.clock.now();
            self.core.handle_timeout(now);
            if let Some(state) = self.core.poll_state(now) {
                self.core.record_fusion_time(started.elapsed().as_micros() as u64);
                let t_pub = std::time::Instant::now();
                self.publish(&state);
                self.publish_us = t_pub.elapsed().as_micros() as u64;
                let found = self.detector.observe(&state, self.core.knowledge());
                self.emit(found, state.map_version);
            }
            let now = self.clock.now();
            if now >= next_snapshot {
                next_snapshot = now + Duration::from_millis(100);
                let silent = self.detector.observe_sensors(now, self.core.last_frames());
                let mv = self.core.stats().map_version.clone();
                self.emit(silent, MapVersion::from_hex(&mv).unwrap_or_default());
                let mut snap = self.core.stats().clone();
                let full = self.queue_full.load(Ordering::Relaxed);
                if full > 0 {
                    snap.rejected.insert("queue_full".into(), full);
                }
                snap.publish_us = self.publish_us;
                snap.encode_sign_us = self.encode_sign_us;
                snap.signing_key_id = self.signer.as_ref().map(|s| s.key_id().to_hex()).unwrap_or_default();
                snap.events_queued = self.outbox.as_ref().map(|o| o.len()).unwrap_or(0);
                if let Some(c) = &self.counters {
                    for (name, v) in [
                        ("catalogs", &c.catalogs),
                        ("failures", &c.failures),
                        ("switches", &c.switches),
                        ("cache_corrupt", &c.cache_corrupt),
                        ("bad_bundles", &c.bad_bundles),
                        ("unverified", &c.unverified),
                        ("trust_updates", &c.trust_updates),
                    ] {
                        snap.cloud.insert(name, v.load(Ordering::Relaxed));
                    }
                }
                if now >= next_stats {
                    let period_s = (self.period.as_secs_f64() + now.secs_since(next_stats)).max(1e-3);
                    next_stats = now + self.period;
                    for (id, s) in &snap.fusion.sensors {
                        let prev = self.prev_frames.insert(id.to_string(), s.frames_received).unwrap_or(0);
                        let rate = s.frames_received.saturating_sub(prev) as f64 / period_s;
                        self.core_rate(id.to_string(), rate);
                    }
                    snap.input_rate_hz = self.rates.clone();
                    crate::telemetry::record(&snap, self.core.config().rsu.as_str());
                    match serde_json::to_vec(&snap) {
                        Ok(json) => {
                            if let Err(e) = self.stats_pub.put(json).wait() {
                                tracing::warn!(error = %e, "stats publish failed");
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "stats encode failed"),
                    }
                }
                snap.input_rate_hz = self.rates.clone();
                *self.stats.lock().unwrap_or_else(PoisonError::into_inner) = snap;
            }
        }
    }

    fn core_rate(&mut self, sensor: String, hz: f64) {
        self.rates.insert(sensor, (hz * 10.0).round() / 10.0);
    }

    /// Queues (durably, first) and publishes found events.
    fn emit(&mut self, found: Vec<crate::events::Found>, map_version: MapVersion) {
        if found.is_empty() {
            return;
        }
        self.core.count_events(found.len() as u64);
        let cfg = self.core.config();
        let (rsu, ix, region) = (cfg.rsu.clone(), cfg.intersection.clone(), cfg.region.clone());
        for f in found {
            metrics::counter!("corridor_rsu_events_total", "rsu" => rsu.to_string(), "kind" => f.kind.label())
                .increment(1);
            let event = match &self.outbox {
                Some(o) => match o.push(&rsu, &ix, map_version, f) {
                    Ok(q) => q.event,
                    Err(e) => {
                        tracing::error!(error = %e, "event not queued");
                        continue;
                    }
                },
                None => {
                    // no cloud: events only go to vehicles; the id counter lives in memory
                    self.local_counter += 1;
                    corridor_model::Event {
                        id: corridor_model::EventId::derive(&rsu, self.local_counter, f.kind),
                        kind: f.kind,
                        severity: f.severity,
                        intersection: ix.clone(),
                        rsu: rsu.clone(),
                        time: f.time,
                        position_m: f.position_m,
                        track: f.track,
                        lane: f.lane,
                        signal_group: f.signal_group,
                        map_version,
                        detail: f.detail,
                    }
                }
            };
            tracing::info!(region = %region, id = %event.id, kind = event.kind.label(), detail = %event.detail, "event");
            let header = Header::new(PayloadKind::Event, rsu.as_str(), 0, event.time, event.time);
            let mut bytes = Vec::new();
            let encoded = match &self.signer {
                Some(signer) => signer.encode_signed(&mut bytes, &header, &event).map_err(|e| e.to_string()),
                None => encode_into(&mut bytes, &header, &event).map_err(|e| e.to_string()),
            };
            match encoded {
                Ok(()) => {
                    if let Err(e) = self.events_pub.put(bytes).wait() {
                        tracing::warn!(error = %e, "event publish failed");
                    }
                }
                Err(e) => tracing::error!(error = %e, "event encode failed"),
            }
        }
        self.notify.notify_one();
    }

    fn publish(&mut self, state: &corridor_model::IntersectionState) {
        let header = Header::new(
            PayloadKind::IntersectionState,
            state.rsu.as_str(),
            state.seq,
            state.capture_time,
            state.publish_time,
        );
        #[allow(clippy::disallowed_methods, reason = "the IO edge measures encode + sign")]
        let t0 = std::time::Instant::now();
        let encoded = match &self.signer {
            Some(signer) => signer.encode_signed(&mut self.buf, &header, state).map_err(|e| e.to_string()),
            None => {
                self.buf.clear();
                encode_into(&mut self.buf, &header, state).map_err(|e| e.to_string())
            }
        };
        self.encode_sign_us = t0.elapsed().as_micros() as u64;
        match encoded {
            Ok(()) => {
                if let Err(e) = self.state_pub.put(self.buf.as_slice()).wait() {
                    tracing::warn!(error = %e, "state publish failed");
                }
            }
            Err(e) => tracing::error!(error = %e, "state encode failed"),
        }
        if let Some(json_pub) = &self.json_pub {
            match corridor_wire::json::state_to_json(state) {
                Ok(json) => {
                    if let Err(e) = json_pub.put(json).wait() {
                        tracing::warn!(error = %e, "json state publish failed");
                    }
                }
                Err(e) => tracing::error!(error = %e, "json state encode failed"),
            }
        }
    }
}
