//! The sans-IO registry of RSUs: liveliness (seen, lost) and their latest stats.
//!
//! The service feeds it liveliness changes on `corridor/{region}/rsu/*/alive`
//! (zenoh reports a token's disappearance when the RSU's session closes or its
//! lease expires) and the JSON stats each RSU publishes every second on
//! `corridor/{region}/rsu/*/stats`. Unknown stats fields are ignored, missing
//! ones stay empty, so RSUs of another version still show up.

use corridor_model::{RsuId, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the cloud knows about one RSU.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RsuStatus {
    /// The RSU.
    pub rsu: Option<RsuId>,
    /// Its liveliness token is present.
    pub alive: bool,
    /// Last liveliness change or stats message.
    pub last_seen: Timestamp,
    /// How many times its token appeared (1 = never restarted since the cloud started).
    pub appearances: u64,
    /// The intersection it serves (from its stats).
    pub intersection: Option<String>,
    /// Map version in force (from its stats).
    pub map_version: Option<String>,
    /// Rules version in force (from its stats).
    pub rules_version: Option<String>,
    /// Where its map came from: `cloud`, `cache`, `file`, `none`.
    pub map_source: Option<String>,
    /// Detection frames per second, per sensor.
    pub input_rate_hz: BTreeMap<String, f64>,
    /// Fusion time of the last step, microseconds.
    pub fusion_us: Option<u64>,
    /// Time to publish the last state, microseconds.
    pub publish_us: Option<u64>,
    /// States published since start.
    pub states_published: Option<u64>,
    /// Inputs refused since start.
    pub dropped: Option<u64>,
    /// Events waiting in its outbox for the cloud's ack.
    pub events_queued: Option<u64>,
}

/// Every RSU seen.
#[derive(Debug, Default)]
pub struct RsuRegistry {
    rsus: BTreeMap<RsuId, RsuStatus>,
}

impl RsuRegistry {
    /// A liveliness token appeared (`alive`) or disappeared.
    pub fn handle_alive(&mut self, now: Timestamp, rsu: RsuId, alive: bool) {
        let s = self.rsus.entry(rsu.clone()).or_insert_with(|| RsuStatus { rsu: Some(rsu), ..RsuStatus::default() });
        if alive && !s.alive {
            s.appearances += 1;
        }
        s.alive = alive;
        s.last_seen = now;
    }

    /// A stats message (JSON) from an RSU.
    pub fn handle_stats(&mut self, now: Timestamp, rsu: RsuId, json: &[u8]) -> Result<(), serde_json::Error> {
        let v: serde_json::Value = serde_json::from_slice(json)?;
        let s = self.rsus.entry(rsu.clone()).or_insert_with(|| RsuStatus { rsu: Some(rsu), ..RsuStatus::default() });
        s.last_seen = now;
        let str_of = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
        let u64_of = |k: &str| v.get(k).and_then(serde_json::Value::as_u64);
        s.intersection = str_of("intersection").or(s.intersection.take());
        s.map_version = str_of("map_version");
        s.rules_version = str_of("rules_version").filter(|r| !r.is_empty());
        s.map_source = str_of("map_source");
        s.fusion_us = u64_of("last_fusion_us");
        s.publish_us = u64_of("publish_us");
        s.states_published = u64_of("states_published");
        s.events_queued = u64_of("events_queued");
        s.dropped = v.get("rejected").and_then(|r| r.as_object()).map(|o| o.values().filter_map(|n| n.as_u64()).sum());
        s.input_rate_hz = v
            .get("input_rate_hz")
            .and_then(|r| r.as_object())
            .map(|o| o.iter().filter_map(|(k, n)| n.as_f64().map(|n| (k.clone(), n))).collect())
            .unwrap_or_default();
        Ok(())
    }

    /// Every RSU, sorted by id.
    pub fn snapshot(&self) -> Vec<RsuStatus> {
        self.rsus.values().cloned().collect()
    }

    /// How many RSUs are alive.
    pub fn alive_count(&self) -> usize {
        self.rsus.values().filter(|s| s.alive).count()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn alive_lost_and_back_count_appearances_and_stats_fill_the_row() {
        let mut r = RsuRegistry::default();
        let a: RsuId = "rsu-a".parse().unwrap();
        let t = |s: f64| Timestamp::from_secs_f64(s);
        r.handle_alive(t(1.0), a.clone(), true);
        r.handle_stats(
            t(2.0),
            a.clone(),
            br#"{"intersection":"ix-a","map_version":"ab","rules_version":"","input_rate_hz":{"lidar-ne":10.0},
                 "rejected":{"json":2,"truncated":1},"last_fusion_us":120,"states_published":9,"extra":[1]}"#,
        )
        .unwrap();
        assert!(r.handle_stats(t(2.5), a.clone(), b"{not json").is_err());
        r.handle_alive(t(3.0), a.clone(), false);
        assert_eq!(r.alive_count(), 0);
        r.handle_alive(t(4.0), a.clone(), true);
        let s = &r.snapshot()[0];
        assert!(s.alive);
        assert_eq!(s.appearances, 2);
        assert_eq!(s.last_seen, t(4.0));
        assert_eq!(s.intersection.as_deref(), Some("ix-a"));
        assert_eq!(s.rules_version, None);
        assert_eq!(s.dropped, Some(3));
        assert_eq!(s.input_rate_hz["lidar-ne"], 10.0);
    }
}
