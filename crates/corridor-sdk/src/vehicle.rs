//! [`Vehicle`]: the zenoh adapter over [`StateCache`].
//!
//! One zenoh subscriber per intersection asked for (exact keys, so the router
//! never forwards other intersections). Samples are handled in zenoh's
//! callback: decode, check, update the cache under a short mutex, then the
//! application's callback runs with the accepted [`StateUpdate`]. Keep that
//! callback short; hand heavy work to your own thread.

use corridor_model::{Clock, IntersectionId, RegionId, SystemClock};
use corridor_wire::Key;
use std::sync::{Arc, Mutex, PoisonError};

use crate::core::{SdkStats, StateCache, StateUpdate};

/// The application's callback for accepted states.
pub type StateCallback = Arc<dyn Fn(&StateUpdate) + Send + Sync>;

/// Why the vehicle could not connect.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SdkError {
    /// Zenoh refused to open the session or declare a subscriber.
    #[error("zenoh: {0}")]
    Zenoh(#[from] zenoh::Error),
}

/// What a vehicle subscribes to and how it reaches the network.
pub struct VehicleConfig {
    /// The region.
    pub region: RegionId,
    /// The intersections to follow (e.g. along the route).
    pub intersections: Vec<IntersectionId>,
    /// The zenoh config (see `corridor_wire::presets`).
    pub zenoh: zenoh::Config,
    /// The clock used to stamp receive times.
    pub clock: Arc<dyn Clock>,
}

impl VehicleConfig {
    /// A config with the system clock.
    pub fn new(region: RegionId, intersections: Vec<IntersectionId>, zenoh: zenoh::Config) -> Self {
        Self { region, intersections, zenoh, clock: Arc::new(SystemClock) }
    }
}

/// A connected vehicle.
pub struct Vehicle {
    session: zenoh::Session,
    cache: Arc<Mutex<StateCache>>,
    _subscribers: Vec<zenoh::pubsub::Subscriber<()>>,
}

impl Vehicle {
    /// Opens a zenoh session and subscribes to the configured intersections.
    pub async fn connect(config: VehicleConfig, on_state: Option<StateCallback>) -> Result<Vehicle, SdkError> {
        let session = zenoh::open(config.zenoh).await?;
        Self::with_session(session, config.region, config.intersections, config.clock, on_state).await
    }

    /// Subscribes on an already open session (several vehicles in one process may share nothing
    /// but the process; the demo opens one session per vehicle).
    pub async fn with_session(
        session: zenoh::Session,
        region: RegionId,
        intersections: Vec<IntersectionId>,
        clock: Arc<dyn Clock>,
        on_state: Option<StateCallback>,
    ) -> Result<Vehicle, SdkError> {
        let cache = Arc::new(Mutex::new(StateCache::new(region.clone(), intersections.iter().cloned())));
        let mut subscribers = Vec::with_capacity(intersections.len());
        for ix in intersections {
            let key = Key::State { region: region.clone(), intersection: ix };
            let cache = Arc::clone(&cache);
            let clock = Arc::clone(&clock);
            let on_state = on_state.clone();
            let sub = session
                .declare_subscriber(key.to_string())
                .callback(move |sample| {
                    let now = clock.now();
                    let bytes = sample.payload().to_bytes();
                    let result = cache.lock().unwrap_or_else(PoisonError::into_inner).handle_sample(
                        sample.key_expr().as_str(),
                        &bytes,
                        now,
                    );
                    match result {
                        Ok(update) => {
                            if let Some(cb) = &on_state {
                                cb(&update);
                            }
                        }
                        Err(reason) => {
                            tracing::debug!(key = %sample.key_expr(), reason = reason.label(), "dropped state sample")
                        }
                    }
                })
                .await?;
            subscribers.push(sub);
        }
        Ok(Vehicle { session, cache, _subscribers: subscribers })
    }

    /// The latest accepted state of an intersection.
    pub fn latest(&self, intersection: &IntersectionId) -> Option<StateUpdate> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner).latest(intersection).cloned()
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> SdkStats {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner).stats().clone()
    }

    /// The zenoh session (for the application's own keys).
    pub fn session(&self) -> &zenoh::Session {
        &self.session
    }

    /// Undeclares everything and closes the session.
    pub async fn close(self) -> Result<(), SdkError> {
        drop(self._subscribers);
        self.session.close().await?;
        Ok(())
    }
}
