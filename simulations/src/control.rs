//! The control plane of a simulated run, shared by the demo, the scenario runner and the SUMO
//! co-simulation.
//!
//! ```text
//!  hub session ── CloudService (in-process, redb in the run's scratch dir)
//!       │            map + rules published per intersection, events stored on ack
//!       │ catalog / map / rules / event uploads
//!  one session per RSU ── RsuService with [cloud]: map and rules fetched, verified, cached
//!                         on disk; events queued in its redb outbox and uploaded
//! ```
//!
//! [`Plane`] owns the cloud and the RSUs so that the scripted control faults can stop and start
//! them mid-run ([`spawn_faults`]): `cloud_down` stops the cloud for a window and starts it again
//! on the same database (the RSUs keep publishing from their cache and queue their events on
//! disk); `rsu_restart` stops one RSU (its session closes, so its liveliness token goes) and
//! starts it again from its on-disk cache. After the run, [`Plane::drain_events`] waits for the
//! outboxes to empty, and [`Plane::cloud_report`] / [`finish_faults`] build the `cloud` and
//! `faults` sections of `report.json` from what the RSUs published live, what the cloud stored
//! and what the observing vehicles received.

use anyhow::Context;
use cloud_control::{CloudConfig, CloudService, PublishRequest};
use corridor_model::{
    Clock, Event, IntersectionId, MapVersion, RegionId, RsuId, SensorExtrinsics, SensorId, Timestamp,
};
use corridor_sdk::{Continuity, StateUpdate};
use corridor_wire::control::CatalogEntry;
use corridor_wire::{decode, keys, Limits};
use nalgebra::Vector2;
use roadside::config::{CloudSection, SensorSection, ZenohSection};
use roadside::{RsuConfig, RsuService};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::scenario::Fault;
use crate::sensors::SensorProfile;

/// How long a restart waits for the previous instance's files (redb locks) to be released.
const REOPEN_TIMEOUT: Duration = Duration::from_secs(5);

/// A publish request for `intersection` from a map file (name, bytes) and optional rules (name, text).
pub(crate) fn publish_request(
    intersection: &str,
    map_file: &(String, Vec<u8>),
    rules: Option<&(String, String)>,
) -> anyhow::Result<PublishRequest> {
    Ok(PublishRequest {
        intersection: IntersectionId::new(intersection)?,
        map_file_name: map_file.0.clone(),
        map_source_hex: hex::encode(&map_file.1),
        origin: None,
        rules_file_name: rules.map(|r| r.0.clone()),
        rules_source: rules.map(|r| r.1.clone()),
    })
}

/// The RSU config sections of a sensor layout: `place` maps a sensor's position relative to the
/// junction centre and its yaw (radians) to the RSU's tracking frame.
pub(crate) fn sensor_sections(
    sensors: &[(String, SensorProfile, SensorExtrinsics)],
    place: impl Fn(Vector2<f64>, f64) -> (Vector2<f64>, f64),
) -> anyhow::Result<Vec<SensorSection>> {
    sensors
        .iter()
        .map(|(id, p, ext)| {
            let t = ext.enu_from_sensor.translation.vector;
            let (xy, yaw) = place(Vector2::new(t.x, t.y), ext.yaw_rad());
            Ok(SensorSection {
                id: SensorId::new(id)?,
                kind: p.kind,
                position_m: [xy.x, xy.y, t.z],
                yaw_deg: yaw.to_degrees(),
                pitch_deg: 0.0,
            })
        })
        .collect()
}

/// An RSU of a run: a zenoh peer of the hub; with `cache_dir`, synced from the cloud.
pub(crate) fn rsu_config(
    region: &RegionId,
    rsu: &str,
    intersection: &str,
    map_version: MapVersion,
    sensors: Vec<SensorSection>,
    cache_dir: Option<PathBuf>,
    hub_ep: &str,
) -> anyhow::Result<RsuConfig> {
    Ok(RsuConfig {
        region: region.clone(),
        rsu: RsuId::new(rsu)?,
        intersection: IntersectionId::new(intersection)?,
        map_version: map_version.to_hex(),
        map: None,
        rules: None,
        json_mirror: false,
        input_queue: 1024,
        stats_period_ms: 1000,
        metrics_port: 0,
        cloud: cache_dir.map(|cache_dir| CloudSection { cache_dir, fetch_timeout_ms: 2000, retry_ms: 500 }),
        events: Default::default(),
        fusion: Default::default(),
        security: None,
        zenoh: ZenohSection::new("peer", vec![], vec![hub_ep.to_owned()]),
        sensors,
    })
}

/// An event as the RSU published it live.
#[derive(Debug, Clone)]
struct LiveEvent {
    /// When the hub received it (the event was in its RSU's outbox from just before).
    seen: Timestamp,
}

/// One RSU slot: its config, and the running service while it runs.
struct Slot {
    cfg: RsuConfig,
    svc: Option<RsuService>,
    session: Option<zenoh::Session>,
    /// Counters of the instances that were stopped (a restart starts from zero).
    retired_published: u64,
    retired_drops: BTreeMap<String, u64>,
    starts: u32,
}

/// The cloud and the RSUs of a run.
pub struct Plane {
    hub: zenoh::Session,
    region: RegionId,
    clock: Arc<dyn Clock>,
    cloud_dir: PathBuf,
    cloud_security: Option<CloudSecurity>,
    cloud: Option<CloudService>,
    cloud_starts: u32,
    publishes: usize,
    rsus: Vec<Slot>,
    events: Arc<Mutex<BTreeMap<String, LiveEvent>>>,
    _events_sub: zenoh::pubsub::Subscriber<()>,
}

/// What a signed run's cloud holds (see `DemoPki` in the demo): its certified signing identity,
/// the region's trust bundle it serves, and the root it verifies event uploads against. Kept by
/// the [`Plane`], so a cloud restarted after a `cloud_down` fault signs and verifies as before.
#[derive(Clone)]
pub struct CloudSecurity {
    /// The cloud's key and certificate.
    pub identity: cloud_control::CloudIdentity,
    /// The trust bundle served on `corridor/{region}/cloud/trust`.
    pub trust_bundle: Vec<u8>,
    /// The region root.
    pub root: corridor_security::VerifyingKey,
}

impl Plane {
    /// A plane on the hub session; with `with_cloud`, cloud-control starts in `scratch/cloud`.
    pub async fn new(
        hub: &zenoh::Session,
        region: RegionId,
        clock: Arc<dyn Clock>,
        scratch: PathBuf,
        with_cloud: bool,
    ) -> anyhow::Result<Plane> {
        let events: Arc<Mutex<BTreeMap<String, LiveEvent>>> = Arc::default();
        let log = Arc::clone(&events);
        let seen_clock = Arc::clone(&clock);
        let sub = hub
            .declare_subscriber(format!("{}/{region}/ix/*/events", keys::ROOT))
            .callback(move |sample| match decode::<Event>(&sample.payload().to_bytes(), Limits::default()) {
                Ok((_, e)) => {
                    log.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(e.id.to_string(), LiveEvent { seen: seen_clock.now() });
                }
                Err(e) => tracing::warn!(error = %e, "live event not decodable"),
            })
            .await
            .map_err(|e| anyhow::anyhow!("events subscriber: {e}"))?;
        let mut plane = Plane {
            hub: hub.clone(),
            region,
            clock,
            cloud_dir: scratch.join("cloud"),
            cloud_security: None,
            cloud: None,
            cloud_starts: 0,
            publishes: 0,
            rsus: Vec::new(),
            events,
            _events_sub: sub,
        };
        if with_cloud {
            plane.start_cloud().await?;
        }
        Ok(plane)
    }

    /// The cloud, while it runs.
    pub fn cloud(&self) -> Option<&CloudService> {
        self.cloud.as_ref()
    }

    /// Makes every later start of the cloud sign, serve the trust bundle and verify uploads.
    pub fn secure_cloud(&mut self, security: CloudSecurity) {
        self.cloud_security = Some(security);
    }

    /// The cloud's config: its data directory, and the run's security if any.
    fn cloud_config(&self) -> CloudConfig {
        let mut cfg = CloudConfig::new(self.region.clone(), self.cloud_dir.clone());
        if let Some(sec) = &self.cloud_security {
            cfg.identity = Some(sec.identity.clone());
            cfg.trust_bundle = Some(sec.trust_bundle.clone());
            cfg.root = Some(sec.root);
        }
        cfg
    }

    /// Starts cloud-control on its database (retrying while a stopped instance still holds it).
    pub async fn start_cloud(&mut self) -> anyhow::Result<()> {
        if self.cloud.is_some() {
            return Ok(());
        }
        let started = self.clock.now();
        loop {
            let cfg = self.cloud_config();
            match CloudService::start(&self.hub, cfg, Arc::clone(&self.clock)).await {
                Ok(svc) => {
                    self.cloud = Some(svc);
                    self.cloud_starts += 1;
                    return Ok(());
                }
                Err(cloud_control::CloudError::Store(e))
                    if self.clock.now().secs_since(started) < REOPEN_TIMEOUT.as_secs_f64() =>
                {
                    tracing::debug!(error = %e, "cloud database still held by the stopped instance; retrying");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(anyhow::anyhow!("cloud-control: {e}")),
            }
        }
    }

    /// Stops cloud-control (its queryables and subscribers go; the database stays on disk).
    pub fn stop_cloud(&mut self) {
        if let Some(c) = self.cloud.take() {
            c.stop();
        }
    }

    /// Validates, stores and makes current a map and rules version (the cloud must be up).
    pub fn publish(&mut self, req: PublishRequest) -> anyhow::Result<CatalogEntry> {
        let ix = req.intersection.to_string();
        let cloud = self.cloud.as_ref().ok_or_else(|| anyhow::anyhow!("publishing {ix}: the cloud is down"))?;
        let entry = cloud.publish(req).map_err(|e| anyhow::anyhow!("publishing {ix}: {e}"))?;
        self.publishes += 1;
        Ok(entry)
    }

    /// Adds an RSU and starts it.
    pub async fn add_rsu(&mut self, cfg: RsuConfig) -> anyhow::Result<usize> {
        self.rsus.push(Slot {
            cfg,
            svc: None,
            session: None,
            retired_published: 0,
            retired_drops: BTreeMap::new(),
            starts: 0,
        });
        let k = self.rsus.len() - 1;
        self.start_rsu(k).await?;
        Ok(k)
    }

    /// Starts RSU `k` on a new session (from its cache, when it has one).
    pub async fn start_rsu(&mut self, k: usize) -> anyhow::Result<()> {
        let clock = Arc::clone(&self.clock);
        let slot = self.rsus.get_mut(k).ok_or_else(|| anyhow::anyhow!("no RSU {k}"))?;
        if slot.svc.is_some() {
            return Ok(());
        }
        let name = slot.cfg.rsu.to_string();
        let session =
            zenoh::open(slot.cfg.zenoh.to_zenoh()?).await.map_err(|e| anyhow::anyhow!("RSU {name} session: {e}"))?;
        let started = clock.now();
        let svc = loop {
            match RsuService::start(slot.cfg.clone(), &session, Arc::clone(&clock)).await {
                Ok(svc) => break svc,
                // the stopped instance's outbox (redb) is released once its tasks are gone
                Err(roadside::service::StartError::Storage(e))
                    if clock.now().secs_since(started) < REOPEN_TIMEOUT.as_secs_f64() =>
                {
                    tracing::debug!(rsu = %name, error = %e, "RSU storage still held; retrying");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(anyhow::anyhow!("RSU {name}: {e}")),
            }
        };
        slot.svc = Some(svc);
        slot.session = Some(session);
        slot.starts += 1;
        Ok(())
    }

    /// Stops RSU `k` and closes its session (its liveliness token goes, as in a crash).
    pub async fn stop_rsu(&mut self, k: usize) -> anyhow::Result<()> {
        let slot = self.rsus.get_mut(k).ok_or_else(|| anyhow::anyhow!("no RSU {k}"))?;
        if let Some(svc) = slot.svc.take() {
            let s = svc.stats();
            slot.retired_published += s.states_published;
            for (r, n) in s.drop_reasons() {
                *slot.retired_drops.entry(r).or_insert(0) += n;
            }
            tokio::task::spawn_blocking(move || svc.stop()).await.context("stopping the RSU")?;
        }
        if let Some(session) = slot.session.take() {
            if let Err(e) = session.close().await {
                tracing::warn!(error = %e, "closing an RSU session");
            }
        }
        Ok(())
    }

    /// RSUs.
    pub fn len(&self) -> usize {
        self.rsus.len()
    }

    /// No RSUs.
    pub fn is_empty(&self) -> bool {
        self.rsus.is_empty()
    }

    /// RSU `k`'s config.
    pub fn rsu_config(&self, k: usize) -> Option<&RsuConfig> {
        self.rsus.get(k).map(|s| &s.cfg)
    }

    /// States RSU `k` published, over all its starts.
    pub fn states_published_of(&self, k: usize) -> u64 {
        self.rsus
            .get(k)
            .map(|s| s.retired_published + s.svc.as_ref().map_or(0, |r| r.stats().states_published))
            .unwrap_or(0)
    }

    /// States every RSU published, over all starts.
    pub fn states_published(&self) -> u64 {
        (0..self.rsus.len()).map(|k| self.states_published_of(k)).sum()
    }

    /// Inputs the RSUs refused, by `rsu:<reason>`, over all starts.
    pub fn drop_reasons(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for s in &self.rsus {
            let live = s.svc.as_ref().map(|r| r.stats().drop_reasons()).unwrap_or_default();
            for (k, n) in s.retired_drops.iter().chain(live.iter()) {
                *out.entry(format!("rsu:{k}")).or_insert(0) += n;
            }
        }
        out
    }

    /// Events waiting in the outboxes of the running RSUs.
    pub fn events_queued(&self) -> u64 {
        self.rsus.iter().filter_map(|s| s.svc.as_ref()).map(RsuService::events_queued).sum()
    }

    /// Waits until every outbox is empty (the cloud acked everything), at most `timeout`.
    pub async fn drain_events(&self, timeout: Duration) -> bool {
        if self.cloud.is_none() {
            return self.events_queued() == 0;
        }
        let start = self.clock.now();
        loop {
            if self.events_queued() == 0 {
                return true;
            }
            if self.clock.now().secs_since(start) > timeout.as_secs_f64() {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The ids of the events in the cloud's database while the cloud is stopped (opened
    /// read-only for the moment; retried while the stopped instance still holds the file).
    async fn stored_ids_offline(&self) -> anyhow::Result<BTreeSet<String>> {
        let path = CloudConfig::new(self.region.clone(), self.cloud_dir.clone()).db_path();
        let started = self.clock.now();
        loop {
            match cloud_control::Store::open(&path) {
                Ok(store) => {
                    let list = store.events().map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                    return Ok(list.into_iter().map(|e| e.id.to_string()).collect());
                }
                Err(_) if self.clock.now().secs_since(started) < REOPEN_TIMEOUT.as_secs_f64() => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(anyhow::anyhow!("{}: {e}", path.display())),
            }
        }
    }

    /// Events published live, by id.
    fn live_events(&self) -> BTreeMap<String, LiveEvent> {
        self.events.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Ids of the events the cloud stored (acked) from this run's RSUs.
    fn stored_ids(&self) -> BTreeSet<String> {
        let ours: BTreeSet<String> = self.rsus.iter().map(|s| s.cfg.rsu.to_string()).collect();
        match self.cloud.as_ref().map(|c| c.store().events()) {
            Some(Ok(list)) => {
                list.into_iter().filter(|e| ours.contains(e.rsu.as_str())).map(|e| e.id.to_string()).collect()
            }
            Some(Err(e)) => {
                tracing::error!(error = %e, "reading the cloud's events");
                BTreeSet::new()
            }
            None => BTreeSet::new(),
        }
    }

    /// The `cloud` section of the report: what is current, which version each RSU runs, events.
    pub fn cloud_report(&self) -> Option<CloudReport> {
        let cloud = self.cloud.as_ref()?;
        let mut published = Vec::new();
        let mut rsus = Vec::new();
        for s in &self.rsus {
            let entry = cloud.store().current(&s.cfg.intersection).ok().flatten();
            let (map_v, rules_v) = match &entry {
                Some(e) => (e.map_version.short(), e.rules_version.map(|v| v.short()).unwrap_or_default()),
                None => (String::new(), String::new()),
            };
            if entry.is_some()
                && !published.iter().any(|p: &PublishedVersion| p.intersection == s.cfg.intersection.as_str())
            {
                published.push(PublishedVersion {
                    intersection: s.cfg.intersection.to_string(),
                    map_version: map_v.clone(),
                    rules_version: rules_v.clone(),
                });
            }
            let stats = s.svc.as_ref().map(|r| r.stats()).unwrap_or_default();
            let short = |hex: &str| hex.chars().take(12).collect::<String>();
            let (m, r) = (short(&stats.map_version), short(&stats.rules_version));
            rsus.push(RsuVersion {
                rsu: s.cfg.rsu.to_string(),
                intersection: s.cfg.intersection.to_string(),
                on_published: entry.is_some() && m == map_v && r == rules_v,
                map_version: m,
                rules_version: r,
                map_source: stats.map_source.clone(),
                starts: s.starts,
                events_queued: s.svc.as_ref().map_or(0, RsuService::events_queued),
            });
        }
        let live = self.live_events();
        let stored = self.stored_ids();
        let lost = live.keys().filter(|id| !stored.contains(*id)).count() as u64;
        Some(CloudReport {
            publishes: self.publishes,
            cloud_starts: self.cloud_starts,
            rsus_on_published: rsus.iter().filter(|r| r.on_published).count(),
            published,
            rsus,
            events: EventTotals {
                published_live: live.len() as u64,
                uploaded_acked: stored.len() as u64,
                queued_at_end: self.events_queued(),
                lost,
            },
        })
    }

    /// Stops every RSU and the cloud, and closes the RSU sessions.
    pub async fn shutdown(mut self) {
        for k in 0..self.rsus.len() {
            if let Err(e) = self.stop_rsu(k).await {
                tracing::warn!(error = %e, "stopping an RSU");
            }
        }
        self.stop_cloud();
    }
}

/// The `cloud` section of `report.json`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CloudReport {
    /// Versions published (map and rules per intersection, plus any rollout).
    pub publishes: usize,
    /// Times the cloud started (1 + one per `cloud_down`).
    pub cloud_starts: u32,
    /// The current version of each intersection at the end (12-hex-digit prefixes).
    pub published: Vec<PublishedVersion>,
    /// What each RSU runs at the end.
    pub rsus: Vec<RsuVersion>,
    /// RSUs running exactly the published map and rules.
    pub rsus_on_published: usize,
    /// Events: published live by the RSUs, acked by the cloud, still queued, lost.
    pub events: EventTotals,
}

/// An intersection's current version.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PublishedVersion {
    /// The intersection.
    pub intersection: String,
    /// Map version (prefix).
    pub map_version: String,
    /// Rules version (prefix; empty: none).
    pub rules_version: String,
}

/// The version an RSU runs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RsuVersion {
    /// The RSU.
    pub rsu: String,
    /// Its intersection.
    pub intersection: String,
    /// Map version in force (prefix).
    pub map_version: String,
    /// Rules version in force (prefix).
    pub rules_version: String,
    /// Where it came from (`cloud`, `cache`).
    pub map_source: String,
    /// Map and rules are the published ones.
    pub on_published: bool,
    /// Times it started (1 + restarts).
    pub starts: u32,
    /// Events in its outbox at the end.
    pub events_queued: u64,
}

/// Event totals of a run.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct EventTotals {
    /// Distinct events the RSUs published live (each was in an outbox first).
    pub published_live: u64,
    /// Distinct events the cloud stored and acked.
    pub uploaded_acked: u64,
    /// Events still in the outboxes at the end.
    pub queued_at_end: u64,
    /// Events published live that the cloud never stored.
    pub lost: u64,
}

/// What one scripted control fault did (`faults` in `report.json`).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FaultRecord {
    /// `cloud_down` or `rsu_restart`.
    pub kind: &'static str,
    /// The junction whose RSU restarted.
    pub rsu: Option<String>,
    /// Scripted window, s after the run start.
    pub from_s: f64,
    /// Scripted end.
    pub to_s: f64,
    /// When the stop happened, s after the run start.
    pub applied_from_s: f64,
    /// When the start happened.
    pub applied_to_s: f64,
    /// States all RSUs published inside the window.
    pub states_published_during: u64,
    /// States the observing vehicles received inside the window.
    pub states_received_during: u64,
    /// Events detected inside the window (queued in an outbox, then published live: counted by
    /// when the hub received them).
    pub events_during: u64,
    /// Most events waiting in the outboxes at once inside the window.
    pub events_queued_peak: u64,
    /// Of `events_during`, those the cloud stored and acked by the end.
    pub events_delivered_after: u64,
    /// Of `events_during`, those never stored.
    pub lost: u64,
    /// For `cloud_down`: events of the window found in the cloud's database at the end of the
    /// outage, read before the cloud came back (0: nothing was acked while it was down).
    pub events_stored_while_down: u64,
    /// The database's event ids at the end of a `cloud_down` (filled by the fault task).
    #[serde(skip)]
    stored_at_restart: BTreeSet<String>,
    /// For `rsu_restart`: how the RSU and the vehicles came back.
    pub restart: Option<RestartRecord>,
    /// What the scoring leaves out because of this fault: nothing.
    pub scoring_excludes: &'static str,
    /// The fault could not be applied.
    pub error: Option<String>,
    /// The run ended inside the window (the service was started again at the end).
    pub cut_short: bool,
}

impl FaultRecord {
    /// One line for the run's printout.
    pub fn line(&self) -> String {
        let mut l = format!(
            "fault {}{}: {:.1}-{:.1}s states_published_during={} states_received_during={} events_during={} queued_peak={} delivered_after={} lost={}",
            self.kind,
            self.rsu.as_deref().map(|r| format!(" {r}")).unwrap_or_default(),
            self.applied_from_s,
            self.applied_to_s,
            self.states_published_during,
            self.states_received_during,
            self.events_during,
            self.events_queued_peak,
            self.events_delivered_after,
            self.lost
        );
        if let Some(r) = &self.restart {
            l.push_str(&format!(
                " map_source_after={} first_state_after_ms={:.0} restarts_seen={}",
                r.map_source_after,
                r.first_state_after_ms.unwrap_or(f64::NAN),
                r.restarts_seen
            ));
        }
        if let Some(e) = &self.error {
            l.push_str(&format!(" error={e}"));
        }
        l
    }
}

/// How an RSU restart went.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RestartRecord {
    /// The intersection.
    pub intersection: String,
    /// Where the restarted RSU's map came from (`cache` when it restarted from disk).
    pub map_source_after: String,
    /// Map version in force after the restart (prefix).
    pub map_version_after: String,
    /// Restart -> first state from this intersection at the vehicle, ms.
    pub first_state_after_ms: Option<f64>,
    /// Restart -> first state with tracked objects at the vehicle, ms.
    pub first_objects_after_ms: Option<f64>,
    /// Longest time between two states from this intersection at the vehicle around the restart, ms.
    pub vehicle_gap_ms: Option<f64>,
    /// States the vehicle marked `Continuity::Restart` after the restart.
    pub restarts_seen: u64,
    /// States the vehicle marked `Continuity::Gap` after the stop.
    pub gaps_seen: u64,
}

enum Action {
    CloudStop,
    CloudStart,
    RsuStop(usize),
    RsuStart(usize),
}

/// Starts the scripted control faults (`cloud_down`, `rsu_restart`) on a task. `start` is the UTC
/// of the run's start (fault times are seconds after it); `rsu_of` maps a junction id to its RSU
/// index. Set `stop` to end the task early: what is still stopped is started again. Errors: a
/// fault naming an unknown junction, or a cloud fault in a run without a cloud.
pub fn spawn_faults(
    plane: Arc<tokio::sync::Mutex<Plane>>,
    faults: &[Fault],
    has_cloud: bool,
    rsu_of: impl Fn(&str) -> Option<usize>,
    start: Timestamp,
    clock: Arc<dyn Clock>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<tokio::task::JoinHandle<Vec<FaultRecord>>> {
    let mut records = Vec::new();
    let mut actions: Vec<(f64, usize, Action)> = Vec::new();
    for f in faults {
        match f {
            Fault::CloudDown { from_s, to_s } => {
                anyhow::ensure!(has_cloud, "fault `cloud_down` needs a run with cloud-control (a run on an HD map)");
                let i = records.len();
                actions.push((*from_s, i, Action::CloudStop));
                actions.push((*to_s, i, Action::CloudStart));
                records.push(FaultRecord {
                    kind: "cloud_down",
                    from_s: *from_s,
                    to_s: *to_s,
                    scoring_excludes: "nothing",
                    ..Default::default()
                });
            }
            Fault::RsuRestart { rsu, from_s, to_s } => {
                let k =
                    rsu_of(rsu).ok_or_else(|| anyhow::anyhow!("fault `rsu_restart`: no RSU at junction `{rsu}`"))?;
                let i = records.len();
                actions.push((*from_s, i, Action::RsuStop(k)));
                actions.push((*to_s, i, Action::RsuStart(k)));
                records.push(FaultRecord {
                    kind: "rsu_restart",
                    rsu: Some(rsu.clone()),
                    from_s: *from_s,
                    to_s: *to_s,
                    scoring_excludes: "nothing",
                    restart: Some(RestartRecord::default()),
                    ..Default::default()
                });
            }
            _ => {}
        }
    }
    actions.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(tokio::spawn(async move {
        let mut published_at_start = vec![0u64; records.len()];
        let mut open = vec![false; records.len()];
        let mut next = 0usize;
        loop {
            let ending = stop.load(Ordering::Relaxed);
            let now_s = clock.now().secs_since(start);
            while next < actions.len() && (actions[next].0 <= now_s || ending) {
                let (_, i, action) = &actions[next];
                let at_s = clock.now().secs_since(start);
                let mut p = plane.lock().await;
                let result = match action {
                    Action::CloudStop => {
                        p.stop_cloud();
                        Ok(())
                    }
                    Action::CloudStart => {
                        // the outboxes' last sample of the outage
                        let q = p.events_queued();
                        records[*i].events_queued_peak = records[*i].events_queued_peak.max(q);
                        // what the database holds at the end of the outage, read before the
                        // cloud (and so any RSU upload) is back
                        match p.stored_ids_offline().await {
                            Ok(ids) => records[*i].stored_at_restart = ids,
                            Err(e) => records[*i].error = Some(e.to_string()),
                        }
                        p.start_cloud().await
                    }
                    Action::RsuStop(k) => p.stop_rsu(*k).await,
                    Action::RsuStart(k) => p.start_rsu(*k).await,
                };
                let r = &mut records[*i];
                if let Err(e) = result {
                    tracing::error!(kind = r.kind, error = %e, "fault action failed");
                    r.error = Some(e.to_string());
                }
                match action {
                    Action::CloudStop | Action::RsuStop(_) => {
                        r.applied_from_s = at_s;
                        published_at_start[*i] = p.states_published();
                        open[*i] = true;
                    }
                    Action::CloudStart | Action::RsuStart(_) => {
                        r.applied_to_s = at_s;

                        r.cut_short = ending && at_s + 0.2 < r.to_s;
                        r.states_published_during = p.states_published().saturating_sub(published_at_start[*i]);
                        open[*i] = false;
                    }
                }
                if let (Action::RsuStart(k), Some(rr)) = (action, r.restart.as_mut()) {
                    // the restarted RSU's stats name its map once its fusion thread has run
                    let mut stats = roadside::RsuStats::default();
                    for _ in 0..40 {
                        stats = p.rsus.get(*k).and_then(|s| s.svc.as_ref()).map(|s| s.stats()).unwrap_or_default();
                        if !stats.map_source.is_empty() {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    rr.intersection = p.rsu_config(*k).map(|c| c.intersection.to_string()).unwrap_or_default();
                    rr.map_source_after = stats.map_source;
                    rr.map_version_after = stats.map_version.chars().take(12).collect();
                }
                drop(p);
                next += 1;
            }
            if next >= actions.len() {
                break;
            }
            // the outboxes fill while the cloud is down
            if open.iter().zip(&records).any(|(o, r)| *o && r.kind == "cloud_down") {
                let q = plane.lock().await.events_queued();
                for (o, r) in open.iter().zip(records.iter_mut()) {
                    if *o {
                        r.events_queued_peak = r.events_queued_peak.max(q);
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        records
    }))
}

/// Completes the fault records after the run (and after [`Plane::drain_events`]): events detected
/// in each window and whether the cloud stored them; states the vehicles received in each window;
/// for a restart, when the vehicle saw the RSU again and how it marked it. `start` is the UTC of
/// the run's start; `observed` every state the observing vehicles received, in arrival order per
/// intersection.
pub fn finish_faults(records: &mut [FaultRecord], plane: &Plane, observed: &[&StateUpdate], start: Timestamp) {
    let live = plane.live_events();
    let stored = plane.stored_ids();
    for r in records.iter_mut() {
        let (a, b) = (start.add_secs_f64(r.applied_from_s), start.add_secs_f64(r.applied_to_s.max(r.applied_from_s)));
        let during: Vec<&String> = live.iter().filter(|(_, e)| e.seen >= a && e.seen < b).map(|(id, _)| id).collect();
        r.events_stored_while_down = during.iter().filter(|id| r.stored_at_restart.contains(**id)).count() as u64;
        let restarted = r.restart.as_ref().map(|rr| rr.intersection.clone());
        r.events_during = during.len() as u64;
        r.events_delivered_after = during.iter().filter(|id| stored.contains(**id)).count() as u64;
        r.lost = r.events_during - r.events_delivered_after;
        r.states_received_during = observed.iter().filter(|u| u.received_at >= a && u.received_at < b).count() as u64;
        if let (Some(ix), Some(rr)) = (restarted, r.restart.as_mut()) {
            let mine: Vec<&&StateUpdate> = observed.iter().filter(|u| u.state.intersection.as_str() == ix).collect();
            let after: Vec<&&&StateUpdate> = mine.iter().filter(|u| u.received_at >= b).collect();
            rr.first_state_after_ms = after.first().map(|u| u.received_at.secs_since(b) * 1e3);
            rr.first_objects_after_ms =
                after.iter().find(|u| !u.state.objects.is_empty()).map(|u| u.received_at.secs_since(b) * 1e3);
            rr.restarts_seen = after.iter().filter(|u| u.continuity == Continuity::Restart).count() as u64;
            rr.gaps_seen =
                mine.iter().filter(|u| u.received_at >= a && matches!(u.continuity, Continuity::Gap { .. })).count()
                    as u64;
            let last_before = mine.iter().rev().find(|u| u.received_at < a).map(|u| u.received_at);
            rr.vehicle_gap_ms = match (last_before, after.first()) {
                (Some(x), Some(y)) => Some(y.received_at.secs_since(x) * 1e3),
                _ => None,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sensors_are_placed_by_the_given_transform() {
        let layout = crate::sensors::default_layout();
        let s = sensor_sections(&layout, |p, yaw| (p + Vector2::new(100.0, -50.0), yaw + 0.5)).unwrap();
        assert_eq!(s.len(), layout.len());
        let t = layout[0].2.enu_from_sensor.translation.vector;
        assert!((s[0].position_m[0] - (t.x + 100.0)).abs() < 1e-9 && (s[0].position_m[1] - (t.y - 50.0)).abs() < 1e-9);
        assert!((s[0].yaw_deg - (layout[0].2.yaw_rad() + 0.5).to_degrees()).abs() < 1e-9);
        assert_eq!(s[0].position_m[2], t.z);
    }
}
