//! The RSU's link to cloud-control: catalog, map and rules sync.
//!
//! ```text
//! start:   cache current.json -> verified knowledge (or the config's map file)
//!          one catalog query (fetch_timeout_ms) -> fetch what differs -> switch
//! running: catalog publications + a catalog query every retry_ms
//!          entry differs from what is in force -> bundle from the cache if intact,
//!          else queried by version -> verified by hash -> cached -> handed to the
//!          fusion thread, which swaps it in between two frames
//! cloud down: queries time out, the RSU keeps what it has; the next answer resyncs
//! ```
//! The sync never blocks the fusion thread: it builds the new [`MapKnowledge`]
//! (import + rules check) on the blocking pool and sends it over a channel.
//!
//! With a [`CloudVerifier`] (`[security] root`), every catalog, map and rules envelope must be
//! signed by a cloud key the region root certified before it is decoded (refusals counted as
//! `unverified`; what is in force stays), and the sync fetches and follows the region's trust
//! bundle on `corridor/{region}/cloud/trust` (counted as `trust_updates`).

use corridor_model::{IntersectionId, MapVersion, RegionId};
use corridor_wire::control::{Catalog, MapBundle, RulesBundle};
use corridor_wire::{decode, Key};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::cache::{Cache, CacheError, Current, BUNDLE_LIMITS};
use crate::knowledge::MapKnowledge;
use crate::security::CloudVerifier;

/// Where the knowledge in force came from (reported in the stats as `map_source`).
pub const SOURCE_CLOUD: &str = "cloud";
/// Loaded from the on-disk cache.
pub const SOURCE_CACHE: &str = "cache";
/// Loaded from the config's map file.
pub const SOURCE_FILE: &str = "file";

/// Counters of the sync (shared with the stats).
#[derive(Debug, Default)]
pub struct SyncCounters {
    /// Catalog answers or publications handled.
    pub catalogs: AtomicU64,
    /// Switches to a new version.
    pub switches: AtomicU64,
    /// Queries that failed (timeout, no answer, refused).
    pub failures: AtomicU64,
    /// Cache files found corrupt (and refetched).
    pub cache_corrupt: AtomicU64,
    /// Bundles from the cloud that failed verification.
    pub bad_bundles: AtomicU64,
    /// Catalogs, maps or rules refused because they were not signed by a certified cloud key.
    pub unverified: AtomicU64,
    /// New trust bundles imported (fetched or published).
    pub trust_updates: AtomicU64,
}

/// A fetched, verified version ready to swap in.
pub struct Update {
    /// The knowledge.
    pub knowledge: MapKnowledge,
    /// Its versions.
    pub current: Current,
}

/// Syncs one intersection's map and rules.
pub struct CloudSync {
    session: zenoh::Session,
    region: RegionId,
    intersection: IntersectionId,
    cache: Cache,
    timeout: Duration,
    in_force: Option<Current>,
    revision: u64,
    verifier: Option<Arc<CloudVerifier>>,
    /// Counters.
    pub counters: Arc<SyncCounters>,
}

#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("no answer from the cloud on {0}")]
    NoAnswer(String),
    #[error("cloud refused {key}: {msg}")]
    Refused { key: String, msg: String },
    #[error("{key}: {msg}")]
    Bad { key: String, msg: String },
}

impl CloudSync {
    /// A sync for `intersection`, caching under `cache`.
    pub fn new(
        session: zenoh::Session,
        region: RegionId,
        intersection: IntersectionId,
        cache: Cache,
        timeout: Duration,
    ) -> Self {
        Self {
            session,
            region,
            intersection,
            cache,
            timeout,
            in_force: None,
            revision: 0,
            verifier: None,
            counters: Arc::default(),
        }
    }

    /// Requires every catalog, map and rules envelope to be signed by a certified cloud key.
    pub fn set_verifier(&mut self, verifier: Arc<CloudVerifier>) {
        self.verifier = Some(verifier);
    }

    /// Checks a cloud envelope when a verifier is set.
    fn verify(&self, what: &str, bytes: &[u8]) -> Result<(), String> {
        match &self.verifier {
            Some(v) => v.check(bytes).map_err(|reason| {
                self.counters.unverified.fetch_add(1, Ordering::Relaxed);
                format!("{what}: refused ({reason}): not signed by a cloud key the region root certified")
            }),
            None => Ok(()),
        }
    }

    /// Imports a trust bundle (fetched or published) when a verifier is set.
    fn import_trust(&self, bytes: &[u8]) {
        if let Some(v) = &self.verifier {
            match v.import(bytes) {
                Ok(true) => {
                    self.counters.trust_updates.fetch_add(1, Ordering::Relaxed);
                    tracing::info!("trust bundle from the cloud imported");
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "trust bundle from the cloud refused"),
            }
        }
    }

    /// Asks the cloud for the region's trust bundle (when verifying).
    pub async fn fetch_trust(&self) {
        if self.verifier.is_none() {
            return;
        }
        let key = Key::Trust { region: self.region.clone() }.to_string();
        match self.query(key).await {
            Ok(bytes) => self.import_trust(&bytes),
            Err(e) => tracing::debug!(error = %e, "trust bundle"),
        }
    }

    /// Loads the versions in force from the cache (verified); a corrupt file is deleted and counted.
    pub fn load_cache(&mut self) -> Option<Update> {
        match self.cache.load_current() {
            Ok(Some((current, knowledge))) => {
                self.in_force = Some(current);
                Some(Update { knowledge, current })
            }
            Ok(None) => None,
            Err(e) => {
                if matches!(e, CacheError::Corrupt { .. }) {
                    self.counters.cache_corrupt.fetch_add(1, Ordering::Relaxed);
                }
                tracing::warn!(error = %e, "cache");
                None
            }
        }
    }

    /// Records what is in force (e.g. a map loaded from the config file).
    pub fn set_in_force(&mut self, c: Option<Current>) {
        self.in_force = c;
    }

    async fn query(&self, selector: String) -> Result<Vec<u8>, FetchError> {
        let replies = self
            .session
            .get(&selector)
            .timeout(self.timeout)
            .await
            .map_err(|e| FetchError::Bad { key: selector.clone(), msg: e.to_string() })?;
        match replies.recv_async().await {
            Ok(r) => match r.result() {
                Ok(s) => Ok(s.payload().to_bytes().into_owned()),
                Err(e) => Err(FetchError::Refused {
                    key: selector,
                    msg: String::from_utf8_lossy(&e.payload().to_bytes()).into_owned(),
                }),
            },
            Err(_) => Err(FetchError::NoAnswer(selector)),
        }
    }

    /// Asks the cloud for the catalog and, if the intersection's entry differs from what is in
    /// force, fetches and verifies the new version. `Ok(None)`: nothing to change.
    pub async fn poll(&mut self) -> Result<Option<Update>, String> {
        self.fetch_trust().await;
        let key = Key::Catalog { region: self.region.clone() }.to_string();
        let bytes = self.query(key.clone()).await.map_err(|e| {
            self.counters.failures.fetch_add(1, Ordering::Relaxed);
            e.to_string()
        })?;
        self.verify(&key, &bytes)?;
        match decode::<Catalog>(&bytes, BUNDLE_LIMITS) {
            Ok((_, c)) => self.handle_catalog(c).await,
            Err(e) => Err(format!("{key}: {e}")),
        }
    }

    /// Handles a catalog (published or queried).
    pub async fn handle_catalog(&mut self, catalog: Catalog) -> Result<Option<Update>, String> {
        self.counters.catalogs.fetch_add(1, Ordering::Relaxed);
        if catalog.region != self.region {
            return Ok(None);
        }
        // a catalog older than one already acted on is ignored (revisions restart only with a new database)
        if catalog.revision < self.revision && self.in_force.is_some() {
            return Ok(None);
        }
        self.revision = catalog.revision;
        let Some(entry) = catalog.entry(&self.intersection) else { return Ok(None) };
        let want = Current { map: entry.map_version, rules: entry.rules_version };
        if self.in_force == Some(want) {
            return Ok(None);
        }
        let update = self.fetch(want).await.inspect_err(|_| {
            self.counters.failures.fetch_add(1, Ordering::Relaxed);
        })?;
        self.in_force = Some(want);
        self.counters.switches.fetch_add(1, Ordering::Relaxed);
        Ok(Some(update))
    }

    async fn bundle_bytes(&self, what: &str, v: &MapVersion, path: std::path::PathBuf) -> Result<Vec<u8>, String> {
        if let Some(b) = self.cache.read(&path) {
            return Ok(b);
        }
        let key = if what == "map" {
            Key::Map { region: self.region.clone(), intersection: self.intersection.clone() }
        } else {
            Key::Rules { region: self.region.clone(), intersection: self.intersection.clone() }
        };
        self.query(format!("{key}?version={}", v.to_hex())).await.map_err(|e| e.to_string())
    }

    async fn fetch(&mut self, want: Current) -> Result<Update, String> {
        // a cached copy that verifies is used as is; one that does not is deleted and refetched
        match self.cache.load(want) {
            Ok(Some(knowledge)) => {
                self.cache.set_current(want).map_err(|e| e.to_string())?;
                return Ok(Update { knowledge, current: want });
            }
            Ok(None) => {}
            Err(e) => {
                self.counters.cache_corrupt.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "cache");
            }
        }
        let map_bytes = self.bundle_bytes("map", &want.map, self.cache.map_path(&want.map)).await?;
        self.verify("map bundle", &map_bytes)?;
        let rules_bytes = match want.rules {
            Some(v) => Some(self.bundle_bytes("rules", &v, self.cache.rules_path(&v)).await?),
            None => None,
        };
        if let Some(b) = &rules_bytes {
            self.verify("rules bundle", b)?;
        }
        let (map_bytes2, rules_bytes2) = (map_bytes.clone(), rules_bytes.clone());
        let counters = Arc::clone(&self.counters);
        let knowledge = tokio::task::spawn_blocking(move || -> Result<MapKnowledge, String> {
            let (_, map) = decode::<MapBundle>(&map_bytes2, BUNDLE_LIMITS).map_err(|e| format!("map bundle: {e}"))?;
            let rules = match &rules_bytes2 {
                Some(b) => Some(decode::<RulesBundle>(b, BUNDLE_LIMITS).map_err(|e| format!("rules bundle: {e}"))?.1),
                None => None,
            };
            if map.version != want.map || rules.as_ref().map(|r| r.version) != want.rules {
                counters.bad_bundles.fetch_add(1, Ordering::Relaxed);
                return Err("the cloud answered with another version than asked".into());
            }
            MapKnowledge::from_bundles(&map, rules.as_ref()).map_err(|e| {
                counters.bad_bundles.fetch_add(1, Ordering::Relaxed);
                e.to_string()
            })
        })
        .await
        .map_err(|e| e.to_string())??;
        self.cache
            .store((&want.map, &map_bytes), want.rules.as_ref().zip(rules_bytes.as_deref()))
            .map_err(|e| e.to_string())?;
        self.cache.set_current(want).map_err(|e| e.to_string())?;
        Ok(Update { knowledge, current: want })
    }

    /// Runs forever: catalog publications plus a poll every `retry`; every update goes to `apply`.
    pub async fn run(mut self, retry: Duration, apply: impl Fn(Update) + Send + 'static) {
        let key = Key::Catalog { region: self.region.clone() }.to_string();
        let sub = match self.session.declare_subscriber(&key).await {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::error!(error = %e, "catalog subscriber");
                None
            }
        };
        let trust_sub = match &self.verifier {
            Some(_) => {
                match self.session.declare_subscriber(Key::Trust { region: self.region.clone() }.to_string()).await {
                    Ok(s) => Some(s),
                    Err(e) => {
                        tracing::error!(error = %e, "trust subscriber");
                        None
                    }
                }
            }
            None => None,
        };
        let mut tick = tokio::time::interval(retry);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let result = tokio::select! {
                _ = tick.tick() => self.poll().await,
                s = async { match &sub { Some(s) => s.recv_async().await.ok(), None => std::future::pending().await } } => {
                    match s.map(|s| s.payload().to_bytes().into_owned()) {
                        Some(bytes) => match self.verify("catalog publication", &bytes) {
                            Ok(()) => match decode::<Catalog>(&bytes, BUNDLE_LIMITS) {
                                Ok((_, c)) => self.handle_catalog(c).await,
                                Err(e) => Err(format!("catalog publication: {e}")),
                            },
                            Err(e) => Err(e),
                        },
                        None => Ok(None),
                    }
                }
                t = async { match &trust_sub { Some(s) => s.recv_async().await.ok(), None => std::future::pending().await } } => {
                    if let Some(t) = t {
                        self.import_trust(&t.payload().to_bytes());
                    }
                    Ok(None)
                }
            };
            match result {
                Ok(Some(u)) => {
                    tracing::info!(map = %u.current.map.short(), rules = ?u.current.rules.map(|r| r.short()), "new version from the cloud");
                    apply(u)
                }
                Ok(None) => {}
                Err(e) => tracing::debug!(error = %e, "cloud sync"),
            }
        }
    }
}
