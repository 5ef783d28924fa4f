//! The Zenoh edge of the cloud ([`CloudService`]).
//!
//! ```text
//! corridor/{region}/map/*            queryable  latest map bundle, or ?version=HEX
//! corridor/{region}/rules/*          queryable  latest rules bundle, or ?version=HEX
//! corridor/{region}/catalog          queryable + publication on every change (revision +1)
//! corridor/{region}/cloud/admin      queryable  publish / rollback / status (JSON, see `admin`)
//! corridor/{region}/cloud/events/*   queryable  one encoded Event per query; the reply (the
//!                                               event id) is sent only after the durable commit
//! corridor/{region}/rsu/*/alive      liveliness subscriber (with history): seen / lost
//! corridor/{region}/rsu/*/stats      subscriber: the RSUs' JSON stats
//! ```
//! Each queryable is drained by its own tokio task; database writes are short
//! redb transactions, map validation runs on the blocking pool.

use corridor_model::{Clock, Event, IntersectionId, MapVersion, RegionId};
use corridor_wire::control::CatalogEntry;
use corridor_wire::{decode, encode, keys, presets, Header, Key, PayloadKind};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::task::JoinHandle;

use crate::admin::{AdminRequest, PublishRequest};
use crate::health::{RsuRegistry, RsuStatus};
use crate::store::{Store, StoreError, CONTROL_LIMITS};
use crate::validate::ValidateError;

/// How the cloud runs.
#[derive(Debug, Clone)]
pub struct CloudConfig {
    /// The region it serves (`corridor/{region}/...`).
    pub region: RegionId,
    /// Where the database lives (`cloud.redb` inside).
    pub data_dir: PathBuf,
    /// Prometheus metrics listener (`None`: no HTTP listener).
    pub metrics: Option<SocketAddr>,
}

impl CloudConfig {
    /// A config with no metrics listener.
    pub fn new(region: RegionId, data_dir: PathBuf) -> Self {
        Self { region, data_dir, metrics: None }
    }

    /// The database file.
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("cloud.redb")
    }
}

/// Why the cloud could not start or a request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CloudError {
    /// The database refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The publish did not validate (nothing stored).
    #[error(transparent)]
    Validate(#[from] ValidateError),
    /// The data directory could not be created.
    #[error("data dir {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Zenoh refused a declaration.
    #[error("zenoh: {0}")]
    Zenoh(#[from] zenoh::Error),
    /// The metrics listener could not start.
    #[error("{0}")]
    Metrics(String),
}

struct Shared {
    store: Store,
    region: RegionId,
    registry: Mutex<RsuRegistry>,
    clock: Arc<dyn Clock>,
    changed: tokio::sync::watch::Sender<u64>,
}

impl Shared {
    fn publish(&self, req: &PublishRequest) -> Result<CatalogEntry, CloudError> {
        let validated = match req.validate() {
            Ok(v) => v,
            Err(e) => {
                metrics::counter!("corridor_cloud_publish_rejected_total").increment(1);
                return Err(e.into());
            }
        };
        let entry = self.store.publish(&validated, self.clock.now())?;
        metrics::counter!("corridor_cloud_publish_total").increment(1);
        tracing::info!(intersection = %entry.intersection, map = %entry.map_version.short(),
            rules = ?entry.rules_version.map(|r| r.short()), "published");
        self.announce();
        Ok(entry)
    }

    fn rollback(&self, ix: &IntersectionId, to: &str) -> Result<CatalogEntry, CloudError> {
        let entry = self.store.rollback(ix, to, self.clock.now())?;
        tracing::info!(intersection = %ix, map = %entry.map_version.short(), "rolled back");
        self.announce();
        Ok(entry)
    }

    fn announce(&self) {
        self.changed.send_modify(|n| *n += 1);
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, RsuRegistry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn catalog_bytes(&self) -> Result<(u64, Vec<u8>), CloudError> {
        let now = self.clock.now();
        let c = self.store.catalog(&self.region)?;
        let bytes = encode(&Header::new(PayloadKind::Catalog, "cloud-control", c.revision, now, now), &c)
            .map_err(|e| StoreError::Db(e.to_string()))?;
        Ok((c.revision, bytes))
    }
}

/// A running cloud: the database and every queryable and subscriber.
pub struct CloudService {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
    _alive: zenoh::pubsub::Subscriber<()>,
    _stats: zenoh::pubsub::Subscriber<()>,
}

impl CloudService {
    /// Opens the database in `config.data_dir` and declares everything on `session`.
    /// Must be called inside a tokio runtime.
    pub async fn start(
        session: &zenoh::Session,
        config: CloudConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<CloudService, CloudError> {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|source| CloudError::DataDir { path: config.data_dir.display().to_string(), source })?;
        if let Some(addr) = config.metrics {
            crate::telemetry::install(addr).map_err(CloudError::Metrics)?;
        }
        let store = Store::open(&config.db_path())?;
        let (changed, changed_rx) = tokio::sync::watch::channel(0u64);
        let region = config.region.clone();
        let shared = Arc::new(Shared {
            store,
            region: region.clone(),
            registry: Mutex::new(RsuRegistry::default()),
            clock: Arc::clone(&clock),
            changed,
        });
        let mut tasks = Vec::new();

        // catalog: publication on every change (and once at start)
        let catalog_key = Key::Catalog { region: region.clone() };
        let catalog_pub = presets::declare_publisher(session, &catalog_key).await?;
        {
            let shared = Arc::clone(&shared);
            let mut rx = changed_rx;
            tasks.push(tokio::spawn(async move {
                loop {
                    match shared.catalog_bytes() {
                        Ok((rev, bytes)) => {
                            metrics::gauge!("corridor_cloud_catalog_revision").set(rev as f64);
                            if let Err(e) = catalog_pub.put(bytes).await {
                                tracing::warn!(error = %e, "catalog publish failed");
                            }
                        }
                        Err(e) => tracing::error!(error = %e, "catalog"),
                    }
                    if rx.changed().await.is_err() {
                        break;
                    }
                }
            }));
        }

        let q = session.declare_queryable(catalog_key.to_string()).await?;
        let s = Arc::clone(&shared);
        tasks.push(tokio::spawn(async move {
            while let Ok(query) = q.recv_async().await {
                match s.catalog_bytes() {
                    Ok((_, bytes)) => reply(&query, bytes).await,
                    Err(e) => reply_err(&query, e.to_string()).await,
                }
            }
        }));

        for what in ["map", "rules"] {
            let q = session.declare_queryable(format!("{}/{region}/{what}/*", keys::ROOT)).await?;
            let s = Arc::clone(&shared);
            tasks.push(tokio::spawn(async move {
                while let Ok(query) = q.recv_async().await {
                    let ix = match Key::parse(query.key_expr().as_str()) {
                        Ok(Key::Map { intersection, .. } | Key::Rules { intersection, .. }) => intersection,
                        _ => {
                            reply_err(&query, format!("`{}` is not a map/rules key", query.key_expr())).await;
                            continue;
                        }
                    };
                    let version = match query.parameters().get("version") {
                        None => None,
                        Some(h) => match MapVersion::from_hex(h) {
                            Some(v) => Some(v),
                            None => {
                                reply_err(&query, format!("version `{h}` is not 64 hex characters")).await;
                                continue;
                            }
                        },
                    };
                    let got =
                        if what == "map" { s.store.map_bytes(&ix, version) } else { s.store.rules_bytes(&ix, version) };
                    match got {
                        Ok(Some(bytes)) => reply(&query, bytes).await,
                        Ok(None) => reply_err(&query, format!("no {what} for {ix} (version {version:?})")).await,
                        Err(e) => reply_err(&query, e.to_string()).await,
                    }
                }
            }));
        }

        let q = session.declare_queryable(keys::event_uploads_in_region(&region)).await?;
        let s = Arc::clone(&shared);
        tasks.push(tokio::spawn(async move {
            while let Ok(query) = q.recv_async().await {
                let from = match Key::parse(query.key_expr().as_str()) {
                    Ok(Key::EventUpload { rsu, .. }) => rsu,
                    _ => continue,
                };
                let bytes = query.payload().map(|p| p.to_bytes().into_owned()).unwrap_or_default();
                let event = match decode::<Event>(&bytes, CONTROL_LIMITS) {
                    Ok((_, e)) if e.rsu == from => e,
                    Ok((_, e)) => {
                        reply_err(&query, format!("event from {} uploaded on {from}'s key", e.rsu)).await;
                        continue;
                    }
                    Err(e) => {
                        metrics::counter!("corridor_cloud_events_refused_total").increment(1);
                        reply_err(&query, format!("event refused: {e}")).await;
                        continue;
                    }
                };
                // the ack goes out only after the commit returned
                match s.store.insert_event(&event) {
                    Ok(new) => {
                        let label = if new { "stored" } else { "duplicate" };
                        metrics::counter!("corridor_cloud_events_total", "result" => label).increment(1);
                        tracing::debug!(id = %event.id, kind = event.kind.label(), label, "event");
                        reply(&query, event.id.to_string().into_bytes()).await;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "storing event");
                        reply_err(&query, e.to_string()).await;
                    }
                }
            }
        }));

        let q = session.declare_queryable(Key::Admin { region: region.clone() }.to_string()).await?;
        let s = Arc::clone(&shared);
        tasks.push(tokio::spawn(async move {
            while let Ok(query) = q.recv_async().await {
                let bytes = query.payload().map(|p| p.to_bytes().into_owned()).unwrap_or_default();
                let req: AdminRequest = match serde_json::from_slice(&bytes) {
                    Ok(r) => r,
                    Err(e) => {
                        reply_err(&query, format!("admin request is not valid JSON: {e}")).await;
                        continue;
                    }
                };
                let s2 = Arc::clone(&s);
                let out = tokio::task::spawn_blocking(move || -> Result<serde_json::Value, CloudError> {
                    Ok(match req {
                        AdminRequest::Publish(p) => serde_json::to_value(s2.publish(&p)?).unwrap_or_default(),
                        AdminRequest::Rollback { intersection, to } => {
                            serde_json::to_value(s2.rollback(&intersection, &to)?).unwrap_or_default()
                        }
                        AdminRequest::Status => serde_json::to_value(s2.registry().snapshot()).unwrap_or_default(),
                    })
                })
                .await;
                match out {
                    Ok(Ok(v)) => reply(&query, v.to_string().into_bytes()).await,
                    Ok(Err(e)) => reply_err(&query, e.to_string()).await,
                    Err(e) => reply_err(&query, format!("admin task failed: {e}")).await,
                }
            }
        }));

        let s = Arc::clone(&shared);
        let alive = session
            .liveliness()
            .declare_subscriber(keys::alive_in_region(&region))
            .history(true)
            .callback(move |sample| {
                if let Ok(Key::Alive { rsu, .. }) = Key::parse(sample.key_expr().as_str()) {
                    let up = sample.kind() == zenoh::sample::SampleKind::Put;
                    tracing::info!(%rsu, alive = up, "rsu liveliness");
                    metrics::gauge!("corridor_cloud_rsu_alive", "rsu" => rsu.to_string()).set(if up {
                        1.0
                    } else {
                        0.0
                    });
                    let mut r = s.registry();
                    r.handle_alive(s.clock.now(), rsu, up);
                    metrics::gauge!("corridor_cloud_rsus_alive").set(r.alive_count() as f64);
                }
            })
            .await?;
        let s = Arc::clone(&shared);
        let stats = session
            .declare_subscriber(keys::stats_in_region(&region))
            .callback(move |sample| {
                if let Ok(Key::Stats { rsu, .. }) = Key::parse(sample.key_expr().as_str()) {
                    let bytes = sample.payload().to_bytes();
                    if let Err(e) = s.registry().handle_stats(s.clock.now(), rsu.clone(), &bytes) {
                        tracing::debug!(%rsu, error = %e, "stats refused");
                    }
                }
            })
            .await?;
        tracing::info!(%region, db = %config.db_path().display(), "cloud-control up");
        Ok(CloudService { shared, tasks, _alive: alive, _stats: stats })
    }

    /// Validates, stores and makes current a map (and rules); publishes the catalog.
    /// On a validation error nothing is stored and the current version stays.
    pub fn publish(&self, req: PublishRequest) -> Result<CatalogEntry, CloudError> {
        self.shared.publish(&req)
    }

    /// Makes an earlier version current again; publishes the catalog.
    pub fn rollback(&self, ix: &IntersectionId, to: &str) -> Result<CatalogEntry, CloudError> {
        self.shared.rollback(ix, to)
    }

    /// Every RSU seen, sorted by id.
    pub fn status(&self) -> Vec<RsuStatus> {
        self.shared.registry().snapshot()
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.shared.store
    }

    /// Stops every task and undeclares everything.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for CloudService {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn reply(query: &zenoh::query::Query, bytes: Vec<u8>) {
    if let Err(e) = query.reply(query.key_expr().clone(), bytes).await {
        tracing::warn!(error = %e, key = %query.key_expr(), "reply failed");
    }
}

async fn reply_err(query: &zenoh::query::Query, msg: String) {
    tracing::debug!(key = %query.key_expr(), %msg, "query refused");
    if let Err(e) = query.reply_err(msg).await {
        tracing::warn!(error = %e, "error reply failed");
    }
}
