//! The sans-IO RSU: encoded samples in, intersection states out.
//!
//! [`RsuCore::handle_sample`] takes `(now, key, bytes)` exactly as they come off
//! zenoh. Detection frames (binary envelope or JSON) go to the fusion; signal
//! controller frames replace the current signal phases. Every refused sample
//! is counted by reason in [`RsuStats`] and the core keeps going. After input,
//! [`RsuCore::poll_state`] returns the next state to publish, if the fusion
//! produced output: objects predicted to the newest fused capture time, the
//! latest signal phases, the map version, a sequence number +1 per state.

use corridor_fusion::{FrameOutcome, Fusion, FusionConfig, FusionStats};
use corridor_model::{DetectionFrame, IntersectionState, MapVersion, SensorId, SignalFrame, Timestamp};
use corridor_wire::json::detection_frame_from_json;
use corridor_wire::{decode, Key, Limits};
use serde::Serialize;
use std::collections::BTreeMap;

use crate::config::RsuConfig;
use crate::knowledge::{KnowledgeError, MapKnowledge};

/// RSU counters (published as JSON on the stats key).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RsuStats {
    /// Samples received per input key kind (`det`, `det_json`, `signal`).
    pub samples: BTreeMap<&'static str, u64>,
    /// Samples refused before reaching the fusion, by reason (`truncated`, `json`, `sensor_mismatch`, ...).
    pub rejected: BTreeMap<String, u64>,
    /// States published.
    pub states_published: u64,
    /// The fusion's own counters (per sensor: frames, rejections by reason, late frames, clock offset).
    pub fusion: FusionStats,
    /// Fusion time of the last processed step, microseconds (measured by the service).
    pub last_fusion_us: u64,
    /// Map version in force, hex.
    pub map_version: String,
    /// The intersection served.
    pub intersection: String,
    /// Rules version in force, hex (empty: none).
    pub rules_version: String,
    /// Where the map in force came from: `cloud`, `cache`, `file` or `none`.
    pub map_source: String,
    /// Detection frames per second over the last stats period, per sensor (set by the service).
    pub input_rate_hz: BTreeMap<String, f64>,
    /// Time to encode and put the last state, microseconds (set by the service).
    pub publish_us: u64,
    /// Time to encode and sign (when `[security]` is set) the last state, microseconds.
    pub encode_sign_us: u64,
    /// Key id states and events are signed with (empty: unsigned).
    pub signing_key_id: String,
    /// Events detected since start.
    pub events_detected: u64,
    /// Events in the outbox waiting for the cloud's ack (set by the service).
    pub events_queued: u64,
    /// Map/rules switches to a new version since start.
    pub map_switches: u64,
    /// Cloud sync counters (`catalogs`, `failures`, `cache_corrupt`, `bad_bundles`, `unverified`,
    /// `trust_updates`), set by the service.
    pub cloud: BTreeMap<&'static str, u64>,
}

impl RsuStats {
    /// Every refused or dropped input by reason: rejected samples and frames the fusion refused
    /// (`frame_too_late` for late frames it could not replay, `frame_unknown_sensor`, ...).
    pub fn drop_reasons(&self) -> BTreeMap<String, u64> {
        let mut m = self.rejected.clone();
        for s in self.fusion.sensors.values() {
            for (kind, n) in &s.frames_rejected {
                let name = serde_json::to_string(kind).unwrap_or_default().trim_matches('"').to_owned();
                *m.entry(format!("frame_{name}")).or_default() += n;
            }
        }
        if self.fusion.unknown_sensor_frames > 0 {
            *m.entry("frame_unknown_sensor".into()).or_default() += self.fusion.unknown_sensor_frames;
        }
        m.retain(|_, n| *n > 0);
        m
    }

    /// Total of [`RsuStats::drop_reasons`].
    pub fn dropped_total(&self) -> u64 {
        self.drop_reasons().values().sum()
    }
}

/// The RSU's logic, with no IO.
#[derive(Debug)]
pub struct RsuCore {
    config: RsuConfig,
    map_version: MapVersion,
    knowledge: Option<MapKnowledge>,
    fusion: Fusion,
    signals: Option<SignalFrame>,
    seq: u64,
    last_ingest: Timestamp,
    stats: RsuStats,
    limits: Limits,
    last_frame: BTreeMap<SensorId, Timestamp>,
}

impl RsuCore {
    /// An RSU for `config` with the default fusion tuning, except that the fusion's sanity
    /// bound on a detection's distance from the frame origin (`max_distance_from_origin_m`) is
    /// widened by the farthest sensor's distance from it: an RSU tracking in a city map's frame
    /// stands anywhere in that map, not at its origin; and `[fusion] speculate` from the config.
    pub fn new(config: RsuConfig) -> Self {
        let mut fusion = FusionConfig { speculate: config.fusion.speculate, ..FusionConfig::default() };
        let farthest = config.sensors.iter().map(|s| s.position_m[0].hypot(s.position_m[1])).fold(0.0, f64::max);
        fusion.max_distance_from_origin_m += farthest;
        Self::with_fusion(config, fusion)
    }

    /// An RSU with explicit fusion tuning.
    pub fn with_fusion(config: RsuConfig, fusion: FusionConfig) -> Self {
        let sensors = config.sensors.iter().map(|s| s.spec()).collect();
        let map_version = config.map_version();
        Self {
            fusion: Fusion::new(fusion, sensors),
            map_version,
            knowledge: None,
            signals: None,
            seq: 0,
            last_ingest: Timestamp::EPOCH,
            stats: RsuStats {
                map_version: map_version.to_hex(),
                intersection: config.intersection.to_string(),
                map_source: "none".into(),
                ..RsuStats::default()
            },
            limits: Limits::default(),
            last_frame: BTreeMap::new(),
            config,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RsuConfig {
        &self.config
    }

    /// Puts a map (and its rules) in force: objects are lane-matched against it and every
    /// following state names its version. Refused if the config names another version.
    pub fn set_knowledge(&mut self, k: MapKnowledge) -> Result<(), KnowledgeError> {
        let configured = self.config.map_version();
        if configured != MapVersion::default() && configured != k.map_version() {
            return Err(KnowledgeError::VersionMismatch { configured, actual: k.map_version() });
        }
        self.swap_knowledge(k, "file");
        Ok(())
    }

    /// Puts a map (and its rules) in force unconditionally, e.g. a version from the cloud; called
    /// between two frames, so every state before names the old version and every state after the
    /// new one, with no gap in sequence numbers. `source` is reported in the stats.
    pub fn swap_knowledge(&mut self, k: MapKnowledge, source: &str) {
        if self.knowledge.is_some() {
            self.stats.map_switches += 1;
        }
        self.set_map_version(k.map_version());
        self.stats.rules_version = k.rules_version().map(|v| v.to_hex()).unwrap_or_default();
        self.stats.map_source = source.to_owned();
        self.knowledge = Some(k);
    }

    /// When each configured sensor's last frame arrived (`None`: never since start).
    pub fn last_frames(&self) -> Vec<(SensorId, Option<Timestamp>)> {
        self.config.sensors.iter().map(|s| (s.id.clone(), self.last_frame.get(&s.id).copied())).collect()
    }

    /// Counts detected events.
    pub fn count_events(&mut self, n: u64) {
        self.stats.events_detected += n;
    }

    /// Replaces the rules in force, if they were validated against the map in force; otherwise
    /// refuses them and keeps the current rules.
    pub fn replace_rules(&mut self, set: corridor_rules::RuleSet) -> Result<(), KnowledgeError> {
        match &mut self.knowledge {
            Some(k) => k.replace_rules(set),
            None => Err(KnowledgeError::Load(corridor_rules::LoadError::MapVersionMismatch {
                compiled_for: set.map_version,
                running: self.map_version,
            })),
        }
    }

    /// The map and rules in force.
    pub fn knowledge(&self) -> Option<&MapKnowledge> {
        self.knowledge.as_ref()
    }

    /// Switches the map version named by every following state (between two frames).
    pub fn set_map_version(&mut self, v: MapVersion) {
        self.map_version = v;
        self.stats.map_version = v.to_hex();
    }

    fn reject(&mut self, reason: impl Into<String>) {
        *self.stats.rejected.entry(reason.into()).or_default() += 1;
    }

    /// Handles one input sample received at `now`. Refusals are counted, never fatal.
    pub fn handle_sample(&mut self, now: Timestamp, key: &str, bytes: &[u8]) {
        let parsed = Key::parse(key);
        let ours = |region: &corridor_model::RegionId, rsu: &corridor_model::RsuId| {
            *region == self.config.region && *rsu == self.config.rsu
        };
        match parsed {
            Ok(Key::Detections { region, rsu, sensor }) if ours(&region, &rsu) => {
                *self.stats.samples.entry("det").or_default() += 1;
                match decode::<DetectionFrame>(bytes, self.limits) {
                    Ok((_, frame)) if frame.sensor == sensor => self.fuse(now, frame),
                    Ok(_) => self.reject("sensor_mismatch"),
                    Err(e) => {
                        tracing::debug!(%key, error = %e, "refused detection frame");
                        self.reject(e.reason())
                    }
                }
            }
            Ok(Key::DetectionsJson { region, rsu, sensor }) if ours(&region, &rsu) => {
                *self.stats.samples.entry("det_json").or_default() += 1;
                if bytes.len() > self.limits.max_message_bytes {
                    return self.reject("oversized");
                }
                match detection_frame_from_json(bytes) {
                    Ok(frame) if frame.sensor == sensor => self.fuse(now, frame),
                    Ok(_) => self.reject("sensor_mismatch"),
                    Err(e) => {
                        tracing::debug!(%key, error = %e, "refused JSON detection frame");
                        self.reject("json")
                    }
                }
            }
            Ok(Key::Signals { region, rsu }) if ours(&region, &rsu) => {
                *self.stats.samples.entry("signal").or_default() += 1;
                match decode::<SignalFrame>(bytes, self.limits) {
                    Ok((_, frame)) => {
                        if self.signals.as_ref().is_none_or(|s| s.time <= frame.time) {
                            self.signals = Some(frame);
                        } else {
                            self.reject("signal_out_of_order");
                        }
                    }
                    Err(e) => self.reject(e.reason()),
                }
            }
            _ => self.reject("bad_key"),
        }
    }

    fn fuse(&mut self, now: Timestamp, frame: DetectionFrame) {
        self.last_ingest = now;
        self.last_frame.insert(frame.sensor.clone(), now);
        if let FrameOutcome::Rejected(r) = self.fusion.handle_frame(now, frame) {
            tracing::debug!(reason = ?r, "fusion refused a frame");
        }
    }

    /// Releases frames whose wait in the reorder buffer is over.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.fusion.handle_timeout(now);
    }

    /// When [`RsuCore::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.fusion.poll_timeout()
    }

    /// Makes the next state's sequence number `base + 1` (if that is higher than the current
    /// one). A signing RSU starts from its start time in microseconds since the epoch, so its
    /// sequence numbers keep rising across restarts and a vehicle's replay window (per key) does
    /// not refuse a restarted RSU's states.
    pub fn start_seq_after(&mut self, base: u64) {
        self.seq = self.seq.max(base);
    }

    /// The next state to publish, stamped `now` as its publish time.
    pub fn poll_state(&mut self, now: Timestamp) -> Option<IntersectionState> {
        let mut out = self.fusion.poll_output()?;
        if let Some(k) = &self.knowledge {
            k.match_lanes(&mut out.objects);
        }
        self.seq += 1;
        self.stats.states_published += 1;
        let mut signals = self.signals.as_ref().map(|s| s.groups.clone()).unwrap_or_default();
        signals.sort_by_key(|g| g.id);
        Some(IntersectionState {
            intersection: self.config.intersection.clone(),
            rsu: self.config.rsu.clone(),
            seq: self.seq,
            capture_time: out.capture_time,
            ingest_time: self.last_ingest,
            publish_time: now,
            map_version: self.map_version,
            rules_version: self.knowledge.as_ref().and_then(MapKnowledge::rules_version),
            objects: out.objects,
            signals,
        })
    }

    /// Counters, with the fusion's counters refreshed.
    pub fn stats(&mut self) -> &RsuStats {
        self.stats.fusion = self.fusion.stats().clone();
        &self.stats
    }

    /// Records the fusion time of the last step (measured by the IO layer).
    pub fn record_fusion_time(&mut self, us: u64) {
        self.stats.last_fusion_us = us;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_CONFIG;
    use corridor_model::detection::SensorKind;
    use corridor_model::{Detection, ObjectClass, SensorId};
    use corridor_wire::{encode, Header, PayloadKind};
    use nalgebra::{Matrix3, Vector3};

    fn core() -> RsuCore {
        RsuCore::new(RsuConfig::parse(DEFAULT_CONFIG, "default").unwrap())
    }

    fn frame(sensor: &str, t: Timestamp, seq: u64) -> DetectionFrame {
        DetectionFrame {
            sensor: SensorId::new(sensor).unwrap(),
            kind: SensorKind::Lidar,
            frame_seq: seq,
            capture_time: t,
            detections: vec![Detection {
                class: ObjectClass::Car,
                class_confidence: 0.9,
                // lidar-ne looks south-west from (15, 15, 6): 20 m ahead is near the centre
                position_m: Vector3::new(20.0, 0.0, -5.0),
                position_cov: Matrix3::from_diagonal_element(0.0225),
                velocity_mps: None,
                heading_rad: None,
                size_m: None,
            }],
        }
    }

    fn bytes(f: &DetectionFrame) -> Vec<u8> {
        encode(&Header::new(PayloadKind::Detections, f.sensor.as_str(), f.frame_seq, f.capture_time, f.capture_time), f)
            .unwrap()
    }

    const KEY: &str = "corridor/demo/rsu/rsu-a/sensor/lidar-ne/det";

    #[test]
    fn an_rsu_far_from_the_map_origin_still_tracks() {
        // the same poles, 2 km east of the frame's origin (a junction in a city-wide map)
        let mut cfg = RsuConfig::parse(DEFAULT_CONFIG, "default").unwrap();
        for s in &mut cfg.sensors {
            s.position_m[0] += 2000.0;
        }
        let mut c = RsuCore::new(cfg);
        let t0 = Timestamp::from_secs_f64(1000.0);
        let mut objects = 0;
        for i in 0..30u64 {
            let t = t0.add_secs_f64(i as f64 * 0.1);
            c.handle_sample(t, KEY, &bytes(&frame("lidar-ne", t, i)));
            let later = t.add_secs_f64(0.5);
            c.handle_timeout(later);
            if let Some(s) = c.poll_state(later) {
                objects += s.objects.len();
                assert!(s.objects.iter().all(|o| (o.position_m.x - 2000.0).abs() < 30.0), "{:?}", s.objects);
            }
        }
        assert!(objects > 0, "the detections near (2000, 0) were refused: {:?}", c.stats().fusion);
    }

    #[test]
    fn fusion_speculate_in_the_config_reaches_the_fusion() {
        // two lidars triggered 10 ms apart, frames 2 ms after capture: with speculation a
        // frame is fused on arrival (the other lidar captures after it), without it waits
        for speculate in [false, true] {
            let mut cfg = RsuConfig::parse(DEFAULT_CONFIG, "default").unwrap();
            cfg.fusion.speculate = speculate;
            let mut c = RsuCore::new(cfg);
            let t0 = Timestamp::from_secs_f64(1000.0);
            for i in 0..20u64 {
                for (k, sensor) in ["lidar-ne", "lidar-sw"].into_iter().enumerate() {
                    let t = t0.add_secs_f64(i as f64 * 0.1 + k as f64 * 0.01);
                    let key = format!("corridor/demo/rsu/rsu-a/sensor/{sensor}/det");
                    c.handle_sample(t.add_secs_f64(0.002), &key, &bytes(&frame(sensor, t, i)));
                }
            }
            let st = &c.stats().fusion;
            assert_eq!(st.speculative_frames > 0, speculate, "speculate {speculate}: {st:?}");
            assert_eq!(st.frames_processed + st.queued_frames, 40, "{st:?}");
        }
    }

    #[test]
    fn frames_become_states_with_increasing_sequence_numbers() {
        let mut c = core();
        let t0 = Timestamp::from_secs_f64(1000.0);
        let mut states = vec![];
        for i in 0..30u64 {
            let t = t0.add_secs_f64(i as f64 * 0.1);
            c.handle_sample(t, KEY, &bytes(&frame("lidar-ne", t, i)));
            let later = t.add_secs_f64(0.5);
            c.handle_timeout(later);
            if let Some(s) = c.poll_state(later) {
                states.push(s);
            }
        }
        assert!(!states.is_empty());
        assert!(states.windows(2).all(|w| w[1].seq == w[0].seq + 1));
        let mut core = core();
        core.start_seq_after(1_000_000);
        core.start_seq_after(5);
        assert_eq!(core.seq, 1_000_000, "never moves back");
        let last = states.last().unwrap();
        assert_eq!(last.objects.len(), 1, "{last:?}");
        // lidar-ne at (15,15) facing -135 deg: 20 m forward is (15-14.1, 15-14.1)
        let p = last.objects[0].position_m;
        assert!((p.x - 0.86).abs() < 0.5 && (p.y - 0.86).abs() < 0.5, "{p}");
        assert_eq!(c.stats().samples.get("det"), Some(&30));
    }

    #[test]
    fn bad_input_is_counted_and_the_core_keeps_going() {
        let mut c = core();
        let t = Timestamp::from_secs_f64(5.0);
        let good = bytes(&frame("lidar-ne", t, 1));
        c.handle_sample(t, KEY, &good[..20]);
        c.handle_sample(t, "corridor/demo/rsu/rsu-a/sensor/lidar-sw/det", &good); // frame says lidar-ne
        c.handle_sample(t, "corridor/demo/rsu/rsu-b/sensor/lidar-ne/det", &good); // not our RSU
        c.handle_sample(t, "corridor/demo/rsu/rsu-a/sensor/lidar-ne/det/json", b"{not json");
        let mut nan = frame("lidar-ne", t, 2);
        nan.detections[0].position_m.y = f64::NAN;
        c.handle_sample(t, KEY, &bytes(&nan));
        let s = c.stats().clone();
        assert_eq!(s.rejected.get("truncated"), Some(&1));
        assert_eq!(s.rejected.get("sensor_mismatch"), Some(&1));
        assert_eq!(s.rejected.get("bad_key"), Some(&1));
        assert_eq!(s.rejected.get("json"), Some(&1));
        assert_eq!(s.rejected.get("invalid_value"), Some(&1));
        assert_eq!(s.dropped_total(), 5);
        // and a good frame still goes through
        c.handle_sample(t, KEY, &good);
        assert_eq!(c.stats().fusion.sensors[&SensorId::new("lidar-ne").unwrap()].frames_received, 1);
    }

    #[test]
    fn json_detections_are_accepted() {
        let mut c = core();
        let json = br#"{"sensor":"cam-nw","kind":"camera","capture_time_ns":5000000000,"detections":[{"class":"pedestrian","position_m":[10,0,-5]}]}"#;
        c.handle_sample(Timestamp::from_secs_f64(5.01), "corridor/demo/rsu/rsu-a/sensor/cam-nw/det/json", json);
        let s = c.stats();
        assert_eq!(s.samples.get("det_json"), Some(&1));
        assert!(s.rejected.is_empty(), "{:?}", s.rejected);
        assert_eq!(s.fusion.sensors[&SensorId::new("cam-nw").unwrap()].frames_received, 1);
    }
}
