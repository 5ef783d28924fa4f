//! The zenoh edge of the RSU.
//!
//! ```text
//! zenoh callbacks (det, det/json, signal)      fusion thread
//!   try_send (now, key, bytes) --bounded queue--> RsuCore::handle_sample
//!   full? count `queue_full`, drop the new one     drain, handle_timeout, poll_state
//!                                                  encode + put(state), put(json), put(stats)
//! ```
//! The callbacks do no work beyond a copy and a `try_send`, so a flood on an
//! input key cannot stall zenoh's receive path; the bounded queue caps memory
//! and the `queue_full` counter makes the flood visible. One thread owns the
//! core, so the fusion needs no locks and a map switch happens between frames.

use corridor_model::{Clock, MapVersion, Timestamp};
use corridor_wire::{encode_into, keys, presets, Header, Key, PayloadKind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;
use zenoh::Wait;

use crate::config::RsuConfig;
use crate::core::{RsuCore, RsuStats};
use crate::knowledge::{KnowledgeError, MapKnowledge};

/// Why the RSU could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The map or rules were refused.
    #[error(transparent)]
    Knowledge(#[from] KnowledgeError),
    /// Zenoh refused a declaration.
    #[error("zenoh: {0}")]
    Zenoh(#[from] zenoh::Error),
}

/// One input sample: receive time, key, payload.
type Input = (Timestamp, String, Vec<u8>);

/// Commands to the fusion thread besides input.
enum Control {
    SetMapVersion(MapVersion),
}

/// A running RSU.
pub struct RsuService {
    stats: Arc<Mutex<RsuStats>>,
    queue_full: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    control: SyncSender<Control>,
    worker: Option<JoinHandle<()>>,
    _subscribers: Vec<zenoh::pubsub::Subscriber<()>>,
    _token: zenoh::liveliness::LivelinessToken,
}

impl RsuService {
    /// Starts the RSU on an open zenoh session: loads the map and rules the config names
    /// (refusing invalid ones), then subscribes and starts the fusion thread.
    pub async fn start(
        config: RsuConfig,
        session: &zenoh::Session,
        clock: Arc<dyn Clock>,
    ) -> Result<RsuService, StartError> {
        let mut core = RsuCore::new(config.clone());
        if let Some(map) = &config.map {
            core.set_knowledge(MapKnowledge::load(map, config.rules.as_deref())?)?;
        }
        Ok(Self::start_with_core(core, session, clock).await?)
    }

    /// Starts on an already built core (e.g. one given a map by the caller).
    pub async fn start_with_core(
        core: RsuCore,
        session: &zenoh::Session,
        clock: Arc<dyn Clock>,
    ) -> zenoh::Result<RsuService> {
        let config = core.config().clone();
        let region = config.region.clone();
        let rsu = config.rsu.clone();
        let state_key = Key::State { region: region.clone(), intersection: config.intersection.clone() };
        let json_key = Key::StateJson { region: region.clone(), intersection: config.intersection.clone() };
        let stats_key = Key::Stats { region: region.clone(), rsu: rsu.clone() };
        let state_pub = presets::declare_publisher(session, &state_key).await?;
        let json_pub =
            if config.json_mirror { Some(presets::declare_publisher(session, &json_key).await?) } else { None };
        let stats_pub = presets::declare_publisher(session, &stats_key).await?;
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
                    let input =
                        (clock.now(), sample.key_expr().as_str().to_owned(), sample.payload().to_bytes().into_owned());
                    if let Err(TrySendError::Full(_)) = tx.try_send(input) {
                        queue_full.fetch_add(1, Ordering::Relaxed);
                    }
                })
                .await?;
            subscribers.push(sub);
        }
        drop(tx);

        let stats = Arc::new(Mutex::new(RsuStats::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let worker = {
            let stats = Arc::clone(&stats);
            let stop = Arc::clone(&stop);
            let queue_full = Arc::clone(&queue_full);
            let period = Duration::from_millis(config.stats_period_ms.max(10));
            std::thread::Builder::new()
                .name(format!("rsu-{rsu}"))
                .spawn(move || {
                    Worker {
                        core,
                        rx,
                        ctl_rx,
                        clock,
                        state_pub,
                        json_pub,
                        stats_pub,
                        stats,
                        stop,
                        queue_full,
                        period,
                        buf: Vec::new(),
                    }
                    .run()
                })
                .map_err(|e| zenoh::Error::from(e.to_string()))?
        };
        Ok(RsuService {
            stats,
            queue_full,
            stop,
            control: ctl_tx,
            worker: Some(worker),
            _subscribers: subscribers,
            _token: token,
        })
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

    /// Stops the fusion thread and undeclares everything.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

impl Drop for RsuService {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
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
    stats: Arc<Mutex<RsuStats>>,
    stop: Arc<AtomicBool>,
    queue_full: Arc<AtomicU64>,
    period: Duration,
    buf: Vec<u8>,
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
            while let Ok(Control::SetMapVersion(v)) = self.ctl_rx.try_recv() {
                self.core.set_map_version(v);
            }
            let started = std::time::Instant::now();
            if let Some((t, key, bytes)) = first {
                self.core.handle_sample(t, &key, &bytes);
                // drain what else is already queued, so one state covers it all
                while let Ok((t, key, bytes)) = self.rx.try_recv() {
                    self.core.handle_sample(t, &key, &bytes);
                }
            }
            let now = self.clock.now();
            self.core.handle_timeout(now);
            if let Some(state) = self.core.poll_state(now) {
                self.core.record_fusion_time(started.elapsed().as_micros() as u64);
                self.publish(&state);
            }
            let now = self.clock.now();
            if now >= next_snapshot {
                next_snapshot = now + Duration::from_millis(100);
                let mut snap = self.core.stats().clone();
                let full = self.queue_full.load(Ordering::Relaxed);
                if full > 0 {
                    snap.rejected.insert("queue_full".into(), full);
                }
                if now >= next_stats {
                    next_stats = now + self.period;
                    match serde_json::to_vec(&snap) {
                        Ok(json) => {
                            if let Err(e) = self.stats_pub.put(json).wait() {
                                tracing::warn!(error = %e, "stats publish failed");
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "stats encode failed"),
                    }
                }
                *self.stats.lock().unwrap_or_else(PoisonError::into_inner) = snap;
            }
        }
    }

    fn publish(&mut self, state: &corridor_model::IntersectionState) {
        let header = Header::new(
            PayloadKind::IntersectionState,
            state.rsu.as_str(),
            state.seq,
            state.capture_time,
            state.publish_time,
        );
        self.buf.clear();
        match encode_into(&mut self.buf, &header, state) {
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
