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
//! corridor/{region}/cloud/trust      queryable + publication on change: the trust bundle
//! ```
//! With a signing identity ([`CloudConfig::identity`]: the cloud's key and its root-signed
//! certificate, role cloud) every map, rules and catalog reply and publication is signed, with
//! the certificate's subject as the envelope sender, so vehicles and RSUs holding the region
//! root verify them (`StateGuard::check_cloud`). With a trust bundle
//! ([`CloudConfig::trust_bundle`], replaced at run time by [`CloudService::push_trust`] or the
//! admin request `{"op":"trust_push","bundle_hex":".."}`) the cloud serves it on
//! `corridor/{region}/cloud/trust` and publishes every new one there.
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
    /// Signs every map, rules and catalog envelope it serves (`None`: unsigned).
    pub identity: Option<CloudIdentity>,
    /// The trust bundle served on `corridor/{region}/cloud/trust` (`None`: not served until
    /// one is pushed).
    pub trust_bundle: Option<Vec<u8>>,
    /// The region root: with it, event uploads must be signed by an RSU certified for the
    /// event's intersection (checked against the trust bundle; unsigned or forged uploads are
    /// refused and counted in `corridor_cloud_events_refused_total{reason}`).
    pub root: Option<corridor_security::VerifyingKey>,
}

/// The cloud's signing identity: its key and the root-signed certificate (role cloud).
#[derive(Debug, Clone)]
pub struct CloudIdentity {
    signer: corridor_security::Signer,
    subject: String,
}

impl CloudIdentity {
    /// Checks that `cert` certifies `key` for the cloud role.
    pub fn new(
        key: corridor_security::SigningKey,
        cert: &corridor_security::SignedCertificate,
    ) -> Result<CloudIdentity, String> {
        let c = cert.certificate();
        if c.public_key != *key.verifying_key() {
            return Err(format!("the certificate certifies key {}, not {}", c.public_key.key_id(), key.key_id()));
        }
        if c.role != corridor_security::Role::Cloud {
            return Err(format!("the certificate's role is {:?}, not Cloud", c.role));
        }
        Ok(CloudIdentity { signer: corridor_security::Signer::new(key), subject: c.subject.clone() })
    }

    /// Reads a PKCS#8 PEM key and a hex certificate (as `cloud-control keys certify --role cloud` writes them).
    pub fn from_files(key: &std::path::Path, cert: &std::path::Path) -> Result<CloudIdentity, String> {
        let read = |p: &std::path::Path| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
        let k = corridor_security::SigningKey::from_pem(&read(key)?).map_err(|e| format!("{}: {e}", key.display()))?;
        let c = corridor_security::SignedCertificate::from_hex(&read(cert)?)
            .map_err(|e| format!("{}: {e}", cert.display()))?;
        Self::new(k, &c).map_err(|e| format!("{}: {e}", cert.display()))
    }

    /// The envelope sender (the certificate's subject).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Signs a stored map or rules envelope: re-encoded with the subject as sender, then signed.
    fn sign_stored(&self, bytes: &[u8]) -> Result<Vec<u8>, String> {
        use corridor_wire::control::{MapBundle, RulesBundle};
        let (mut header, kind) = {
            let env = corridor_wire::decode_envelope(bytes, CONTROL_LIMITS).map_err(|e| e.to_string())?;
            (env.header.clone(), env.header.kind)
        };
        header.sender = self.subject.clone();
        header.flags = 0;
        let mut out = Vec::with_capacity(bytes.len() + 80);
        let r = match kind {
            PayloadKind::Map => {
                let (_, m) = decode::<MapBundle>(bytes, CONTROL_LIMITS).map_err(|e| e.to_string())?;
                self.signer.encode_signed(&mut out, &header, &m)
            }
            PayloadKind::Rules => {
                let (_, r) = decode::<RulesBundle>(bytes, CONTROL_LIMITS).map_err(|e| e.to_string())?;
                self.signer.encode_signed(&mut out, &header, &r)
            }
            other => return Err(format!("{other:?} is not a stored bundle")),
        };
        r.map_err(|e| e.to_string())?;
        Ok(out)
    }
}

impl CloudConfig {
    /// A config with no metrics listener.
    pub fn new(region: RegionId, data_dir: PathBuf) -> Self {
        Self { region, data_dir, metrics: None, identity: None, trust_bundle: None, root: None }
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
    /// A trust bundle was refused.
    #[error("trust: {0}")]
    Trust(String),
}

struct Shared {
    store: Store,
    region: RegionId,
    registry: Mutex<RsuRegistry>,
    clock: Arc<dyn Clock>,
    changed: tokio::sync::watch::Sender<u64>,
    identity: Option<CloudIdentity>,
    trust: Mutex<Option<Vec<u8>>>,
    trust_changed: tokio::sync::watch::Sender<u64>,
    /// Verifies event uploads (with a root).
    uploads: Option<Mutex<corridor_security::StateGuard>>,
    uploads_refused: std::sync::atomic::AtomicU64,
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
        let bytes = match &self.identity {
            Some(id) => {
                let mut buf = Vec::new();
                id.signer
                    .encode_signed(
                        &mut buf,
                        &Header::new(PayloadKind::Catalog, id.subject.as_str(), c.revision, now, now),
                        &c,
                    )
                    .map_err(|e| StoreError::Db(e.to_string()))?;
                buf
            }
            None => encode(&Header::new(PayloadKind::Catalog, "cloud-control", c.revision, now, now), &c)
                .map_err(|e| StoreError::Db(e.to_string()))?,
        };
        Ok((c.revision, bytes))
    }

    /// A stored map or rules envelope as served: signed when the cloud has an identity.
    fn served(&self, bytes: Vec<u8>) -> Result<Vec<u8>, String> {
        match &self.identity {
            Some(id) => id.sign_stored(&bytes),
            None => Ok(bytes),
        }
    }

    fn push_trust(&self, bundle: Vec<u8>) -> Result<corridor_security::ImportReport, CloudError> {
        // only a well-formed bundle is served; its items are checked by every receiver
        let (certs, crl) = corridor_security::bundle::parse_bundle(&bundle)
            .map_err(|e| CloudError::Trust(format!("not a trust bundle: {e}")))?;
        if let Some(g) = &self.uploads {
            let mut g = g.lock().unwrap_or_else(PoisonError::into_inner);
            if let Err(e) = corridor_security::import_bundle(g.trust_mut(), &bundle) {
                tracing::warn!(error = %e, "trust bundle not applied to upload checks");
            }
        }
        *self.trust.lock().unwrap_or_else(PoisonError::into_inner) = Some(bundle);
        self.trust_changed.send_modify(|n| *n += 1);
        tracing::info!(
            certificates = certs.len(),
            revocation_seq = crl.as_ref().map_or(0, |l| l.list().seq),
            "trust bundle pushed"
        );
        Ok(corridor_security::ImportReport {
            certificates: certs.len(),
            refused: Vec::new(),
            revocation_applied: crl.is_some(),
        })
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
        let (trust_changed, mut trust_rx) = tokio::sync::watch::channel(0u64);
        let region = config.region.clone();
        let shared = Arc::new(Shared {
            store,
            region: region.clone(),
            registry: Mutex::new(RsuRegistry::default()),
            clock: Arc::clone(&clock),
            changed,
            identity: config.identity.clone(),
            trust: Mutex::new(None),
            trust_changed,
            uploads: config.root.map(|r| {
                Mutex::new(corridor_security::StateGuard::new(
                    corridor_security::TrustStore::new([r]),
                    corridor_security::GuardConfig::default(),
                ))
            }),
            uploads_refused: Default::default(),
        });
        if let Some(b) = config.trust_bundle.clone() {
            shared.push_trust(b)?;
        }
        let mut tasks = Vec::new();

        // trust bundle: queryable, and a publication on every push
        let trust_key = Key::Trust { region: region.clone() };
        let trust_pub = presets::declare_publisher(session, &trust_key).await?;
        {
            let shared = Arc::clone(&shared);
            tasks.push(tokio::spawn(async move {
                while trust_rx.changed().await.is_ok() {
                    let bundle = shared.trust.lock().unwrap_or_else(PoisonError::into_inner).clone();
                    if let Some(b) = bundle {
                        if let Err(e) = trust_pub.put(b).await {
                            tracing::warn!(error = %e, "trust bundle publish failed");
                        }
                    }
                }
            }));
        }
        let q = session.declare_queryable(trust_key.to_string()).await?;
        let s = Arc::clone(&shared);
        tasks.push(tokio::spawn(async move {
            while let Ok(query) = q.recv_async().await {
                let bundle = s.trust.lock().unwrap_or_else(PoisonError::into_inner).clone();
                match bundle {
                    Some(b) => reply(&query, b).await,
                    None => reply_err(&query, "no trust bundle configured".into()).await,
                }
            }
        }));

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
                    match got.map(|b| b.map(|b| s.served(b))) {
                        Ok(Some(Ok(bytes))) => reply(&query, bytes).await,
                        Ok(Some(Err(e))) => reply_err(&query, format!("signing the {what} of {ix}: {e}")).await,
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
                // with a root: signed by an RSU certified for the event's intersection, not
                // revoked (no freshness: the outbox may deliver hours late)
                if let Some(g) = &s.uploads {
                    let checked = g.lock().unwrap_or_else(PoisonError::into_inner).check_event(
                        s.clock.now(),
                        &event.intersection,
                        &bytes,
                        false,
                    );
                    if let Err(r) = checked {
                        metrics::counter!("corridor_cloud_events_refused_total", "reason" => r.reason()).increment(1);
                        s.uploads_refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        tracing::warn!(%from, reason = r.reason(), "event upload refused");
                        reply_err(&query, format!("event upload refused: {r}")).await;
                        continue;
                    }
                }
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
                        AdminRequest::TrustPush { bundle_hex } => {
                            let bytes = hex::decode(bundle_hex.trim())
                                .map_err(|e| CloudError::Trust(format!("bundle_hex: {e}")))?;
                            let r = s2.push_trust(bytes)?;
                            serde_json::json!({"certificates": r.certificates, "revocation_list": r.revocation_applied})
                        }
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

    /// Replaces the trust bundle served on `corridor/{region}/cloud/trust` and publishes it
    /// (vehicles and RSUs import what their root signed; a revocation takes effect on arrival).
    pub fn push_trust(&self, bundle: Vec<u8>) -> Result<corridor_security::ImportReport, CloudError> {
        self.shared.push_trust(bundle)
    }

    /// Event uploads refused by the signature checks (with [`CloudConfig::root`]).
    pub fn uploads_refused(&self) -> u64 {
        self.shared.uploads_refused.load(std::sync::atomic::Ordering::Relaxed)
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
