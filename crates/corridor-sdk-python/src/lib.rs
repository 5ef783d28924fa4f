//! Python binding of the corridor SDK's sans-IO core (`corridor_sdk.Corridor`).
//!
//! The network stays in Python (the `eclipse-zenoh` client): the application subscribes to
//! the keys of `Corridor.subscriptions()`, passes every sample's key and bytes to
//! `handle_state` / `handle_event`, sends the selectors of `due_fetches()` as zenoh queries
//! and passes the replies to `handle_map_bundle` / `handle_rules_bundle`. Queries return
//! plain dicts; times are Unix seconds (float). Guide: `docs/sdk-python.md`.
#![allow(clippy::too_many_arguments)]

use corridor_model::{IntersectionId, RegionId, Timestamp};
use corridor_sdk::{
    Continuity, Corridor as Core, CorridorConfig, EgoPose, InPathOptions, PathZone, Provenance, Route, StatusEvent,
    Usability, VehicleClass,
};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::sync::{Mutex, MutexGuard, PoisonError};

create_exception!(
    corridor_sdk,
    QueryError,
    PyException,
    "A query has no answer (off route, stale state, map pending, ...)."
);

fn ts(now_s: f64) -> Timestamp {
    Timestamp::from_secs_f64(now_s)
}

fn ix(s: &str) -> PyResult<IntersectionId> {
    IntersectionId::new(s).map_err(|e| PyValueError::new_err(format!("intersection `{s}`: {e}")))
}

fn class(s: &str) -> PyResult<VehicleClass> {
    VehicleClass::parse(s).ok_or_else(|| PyValueError::new_err(format!("unknown vehicle class `{s}`")))
}

fn pose(x: f64, y: f64, heading: f64, wgs84: bool) -> EgoPose {
    if wgs84 {
        EgoPose::wgs84(x, y, heading)
    } else {
        EgoPose::enu(x, y, heading)
    }
}

fn qerr(e: corridor_sdk::QueryError) -> PyErr {
    QueryError::new_err(e.to_string())
}

fn usability_name(u: &Usability) -> &'static str {
    match u {
        Usability::Usable => "usable",
        Usability::NoState => "no_state",
        Usability::Stale { .. } => "stale",
        Usability::MapPending { .. } => "map_pending",
        Usability::MapRejected { .. } => "map_rejected",
        _ => "unknown",
    }
}

fn provenance<'py>(py: Python<'py>, p: &Provenance) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("intersection", p.intersection.as_str())?;
    d.set_item("rsu", p.rsu.as_str())?;
    d.set_item("seq", p.seq)?;
    d.set_item("map_version", p.map_version.to_hex())?;
    d.set_item("rules_version", p.rules_version.map(|v| v.to_hex()))?;
    d.set_item("capture_time", p.capture_time.as_secs_f64())?;
    d.set_item("age_s", p.age_s)?;
    d.set_item("confidence", p.confidence)?;
    Ok(d)
}

fn ego_object<'py>(py: Python<'py>, o: &corridor_sdk::EgoObject) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("track_id", o.track_id.0)?;
    d.set_item("class", o.class.as_str())?;
    d.set_item("x", o.position_m[0])?;
    d.set_item("y", o.position_m[1])?;
    d.set_item("vx", o.velocity_mps[0])?;
    d.set_item("vy", o.velocity_mps[1])?;
    d.set_item("heading", o.heading_rad)?;
    let cov: Vec<Vec<f32>> = (0..4).map(|r| (0..4).map(|c| o.covariance[(r, c)]).collect()).collect();
    d.set_item("covariance", cov)?;
    d.set_item("distance_m", o.distance_m)?;
    d.set_item("age_s", o.age_s)?;
    d.set_item("stale", o.stale)?;
    d.set_item("confidence", o.confidence)?;
    d.set_item("lane", o.lane.as_ref().map(|l| l.as_str().to_owned()))?;
    Ok(d)
}

/// The SDK core: route, states, maps, rules, queries.
#[pyclass(module = "corridor_sdk")]
struct Corridor {
    /// The core behind a lock: zenoh callbacks and the application's loop may share it.
    core: Mutex<Core>,
}

impl Corridor {
    fn inner(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[pymethods]
impl Corridor {
    /// `Corridor(region, intersections, cache_dir=None, freshness_s=0.5)`: follows the
    /// intersections in route order.
    #[new]
    #[pyo3(signature = (region, intersections, cache_dir=None, freshness_s=0.5))]
    fn new(region: &str, intersections: Vec<String>, cache_dir: Option<String>, freshness_s: f64) -> PyResult<Self> {
        let region = RegionId::new(region).map_err(|e| PyValueError::new_err(format!("region `{region}`: {e}")))?;
        let list = intersections.iter().map(|s| ix(s)).collect::<PyResult<Vec<_>>>()?;
        let mut cfg = CorridorConfig::new(region, Route::intersections(list));
        cfg.cache_dir = cache_dir.map(Into::into);
        cfg.freshness_s = freshness_s;
        Ok(Self { core: Mutex::new(Core::new(cfg)) })
    }

    /// The zenoh keys to subscribe to (state and events of each intersection ahead).
    fn subscriptions(&self) -> Vec<String> {
        self.inner().subscriptions().iter().map(ToString::to_string).collect()
    }

    /// Handles a state sample; returns a summary dict if accepted, else None (see `stats()`).
    fn handle_state<'py>(
        &self,
        py: Python<'py>,
        key: &str,
        payload: &[u8],
        now_s: f64,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        match self.inner().handle_state(key, payload, ts(now_s)) {
            Err(_) => Ok(None),
            Ok(u) => {
                let d = PyDict::new(py);
                d.set_item("intersection", u.state.intersection.as_str())?;
                d.set_item("rsu", u.state.rsu.as_str())?;
                d.set_item("seq", u.state.seq)?;
                d.set_item("objects", u.state.objects.len())?;
                d.set_item("map_version", u.state.map_version.to_hex())?;
                d.set_item(
                    "continuity",
                    match u.continuity {
                        Continuity::First => "first".to_owned(),
                        Continuity::Continuous => "continuous".to_owned(),
                        Continuity::Gap { missed } => format!("gap:{missed}"),
                        Continuity::Restart => "restart".to_owned(),
                        _ => "unknown".to_owned(),
                    },
                )?;
                Ok(Some(d))
            }
        }
    }

    /// Handles an event sample; True if accepted.
    fn handle_event(&self, key: &str, payload: &[u8], now_s: f64) -> bool {
        self.inner().handle_event(key, payload, ts(now_s)).is_ok()
    }

    /// Handles a fetched map bundle; returns its version (hex); raises ValueError if refused.
    fn handle_map_bundle(&self, payload: &[u8], now_s: f64) -> PyResult<String> {
        self.inner()
            .handle_map_bundle(payload, ts(now_s))
            .map(|v| v.to_hex())
            .map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// Handles a fetched rules bundle; returns its version (hex); raises ValueError if refused.
    fn handle_rules_bundle(&self, payload: &[u8], now_s: f64) -> PyResult<String> {
        self.inner()
            .handle_rules_bundle(payload, ts(now_s))
            .map(|v| v.to_hex())
            .map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// Loads a map (and rules) from local files instead of fetching; returns the map version.
    #[pyo3(signature = (intersection, map_path, rules_path=None))]
    fn load_map_file(&self, intersection: &str, map_path: &str, rules_path: Option<&str>) -> PyResult<String> {
        let map = corridor_hdmap::load_path(map_path, &Default::default())
            .map_err(|e| PyValueError::new_err(e.to_string()))?
            .map;
        let rules = match rules_path {
            None => None,
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| PyValueError::new_err(format!("{p}: {e}")))?;
                Some(
                    corridor_rules::check(&text, p, &corridor_rules::hdmap::facts(&map))
                        .map_err(|d| PyValueError::new_err(d.render(false)))?,
                )
            }
        };
        self.inner()
            .insert_map(ix(intersection)?, map, rules)
            .map(|v| v.to_hex())
            .map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// Selectors to query now (maps and rules named by states and not held).
    fn due_fetches(&self, now_s: f64) -> Vec<String> {
        let mut core = self.inner();
        let region = core.config().region.clone();
        core.due_fetches(ts(now_s)).iter().map(|f| f.selector(&region)).collect()
    }

    /// Advances the route; returns the intersections passed.
    #[pyo3(signature = (x, y, heading, now_s, wgs84=false))]
    fn update_pose(&self, x: f64, y: f64, heading: f64, now_s: f64, wgs84: bool) -> Vec<String> {
        self.inner().update_pose(&pose(x, y, heading, wgs84), ts(now_s)).iter().map(|i| i.as_str().to_owned()).collect()
    }

    /// `usable`, `no_state`, `stale`, `map_pending` or `map_rejected`.
    fn usability(&self, intersection: &str, now_s: f64) -> PyResult<&'static str> {
        Ok(usability_name(&self.inner().usability(&ix(intersection)?, ts(now_s))))
    }

    /// The ego's lane, connection, signal (time to change) and rules; raises QueryError.
    #[pyo3(signature = (x, y, heading, vehicle_class, now_s, wgs84=false))]
    fn my_lane<'py>(
        &self,
        py: Python<'py>,
        x: f64,
        y: f64,
        heading: f64,
        vehicle_class: &str,
        now_s: f64,
        wgs84: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let a = self.inner().my_lane(&pose(x, y, heading, wgs84), class(vehicle_class)?, ts(now_s)).map_err(qerr)?;
        let d = PyDict::new(py);
        d.set_item("lane", a.lane.as_str())?;
        d.set_item("s_m", a.s_m)?;
        d.set_item("lateral_m", a.lateral_m)?;
        d.set_item("to_lane_end_m", a.to_lane_end_m)?;
        if let Some(c) = &a.connection {
            let cd = PyDict::new(py);
            cd.set_item("id", c.id)?;
            cd.set_item("ingress", c.ingress.as_str())?;
            cd.set_item("egress", c.egress.as_str())?;
            cd.set_item("manoeuvre", format!("{:?}", c.manoeuvre).to_lowercase())?;
            cd.set_item("chosen_by", format!("{:?}", c.chosen_by))?;
            d.set_item("connection", cd)?;
        } else {
            d.set_item("connection", py.None())?;
        }
        if let Some(s) = &a.signal {
            let sd = PyDict::new(py);
            sd.set_item("group", s.group.0)?;
            sd.set_item("state", s.state.map(|st| format!("{st:?}")))?;
            sd.set_item("is_green", s.state.map(|st| st.is_green()))?;
            if let Some(t) = &s.time_to_change {
                sd.set_item("min_s", t.min_s)?;
                sd.set_item("max_s", t.max_s)?;
                sd.set_item("likely_s", t.likely_s)?;
                sd.set_item("confidence", t.confidence)?;
            }
            d.set_item("signal", sd)?;
        } else {
            d.set_item("signal", py.None())?;
        }
        if let Some(r) = &a.rules {
            let rd = PyDict::new(py);
            rd.set_item("speed_limit_kmh", r.speed_limit_kmh)?;
            rd.set_item("turn_allowed", r.turn_allowed)?;
            rd.set_item("right_on_red", r.right_on_red)?;
            rd.set_item("closed", r.closed)?;
            rd.set_item("merge_into", r.merge_into.as_ref().map(|l| l.as_str().to_owned()))?;
            rd.set_item("may_use_lane", r.may_use_lane)?;
            rd.set_item("rule_ids", r.rule_ids.clone())?;
            d.set_item("rules", rd)?;
        } else {
            d.set_item("rules", py.None())?;
        }
        d.set_item("provenance", provenance(py, &a.provenance)?)?;
        Ok(d)
    }

    /// Objects of an intersection in the ego frame (x forward, y left); raises QueryError.
    #[pyo3(signature = (intersection, x, y, heading, now_s, wgs84=false))]
    fn objects_in_ego<'py>(
        &self,
        py: Python<'py>,
        intersection: &str,
        x: f64,
        y: f64,
        heading: f64,
        now_s: f64,
        wgs84: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let core = self.inner();
        let a = core.objects_in_ego(&ix(intersection)?, &pose(x, y, heading, wgs84), ts(now_s)).map_err(qerr)?;
        let d = PyDict::new(py);
        let list = PyList::empty(py);
        for o in &a.objects {
            list.append(ego_object(py, o)?)?;
        }
        d.set_item("objects", list)?;
        d.set_item("provenance", provenance(py, &a.provenance)?)?;
        Ok(d)
    }

    /// Objects predicted to enter the ego's path within `horizon_s`; raises QueryError.
    #[pyo3(signature = (x, y, heading, vehicle_class, now_s, horizon_s=5.0, wgs84=false))]
    fn in_path<'py>(
        &self,
        py: Python<'py>,
        x: f64,
        y: f64,
        heading: f64,
        vehicle_class: &str,
        now_s: f64,
        horizon_s: f64,
        wgs84: bool,
    ) -> PyResult<Bound<'py, PyList>> {
        let opts = InPathOptions { horizon_s, ..InPathOptions::default() };
        let a =
            self.inner().in_path(&pose(x, y, heading, wgs84), class(vehicle_class)?, opts, ts(now_s)).map_err(qerr)?;
        let list = PyList::empty(py);
        for o in &a.objects {
            let d = ego_object(py, &o.object)?;
            d.set_item("time_to_enter_s", o.time_to_enter_s)?;
            match &o.zone {
                PathZone::Lane(l) => d.set_item("zone", format!("lane:{l}"))?,
                PathZone::ConflictZone(z) => d.set_item("zone", format!("conflict_zone:{z}"))?,
            }
            list.append(d)?;
        }
        Ok(list)
    }

    /// Events on the route ahead, most severe first.
    fn hazards<'py>(&self, py: Python<'py>, now_s: f64) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for h in self.inner().hazards(ts(now_s)) {
            let d = PyDict::new(py);
            d.set_item("kind", h.event.kind.label())?;
            d.set_item("severity", format!("{:?}", h.event.severity).to_lowercase())?;
            d.set_item("detail", h.event.detail.clone())?;
            d.set_item("lane", h.event.lane.as_ref().map(|l| l.as_str().to_owned()))?;
            d.set_item("on_route_lane", h.on_route_lane)?;
            d.set_item("provenance", provenance(py, &h.provenance)?)?;
            list.append(d)?;
        }
        Ok(list)
    }

    /// Status events since the last call, as strings (`sequence_gap ix missed=3`, ...).
    fn poll_status(&self, now_s: f64) -> Vec<String> {
        let mut core = self.inner();
        core.tick(ts(now_s));
        std::iter::from_fn(|| core.poll_status())
            .map(|e| match e {
                StatusEvent::SequenceGap { intersection, missed } => {
                    format!("sequence_gap {intersection} missed={missed}")
                }
                StatusEvent::RsuRestart { intersection } => format!("rsu_restart {intersection}"),
                StatusEvent::MapVersionChanged { intersection, to, .. } => {
                    format!("map_version_changed {intersection} to={}", to.to_hex())
                }
                StatusEvent::MapReady { intersection, version } => {
                    format!("map_ready {intersection} {}", version.to_hex())
                }
                StatusEvent::RulesReady { intersection, version } => {
                    format!("rules_ready {intersection} {}", version.to_hex())
                }
                StatusEvent::BundleRejected { reason, .. } => format!("bundle_rejected {reason}"),
                StatusEvent::BecameStale { intersection, age_s } => format!("stale {intersection} age_s={age_s:.3}"),
                StatusEvent::Passed { intersection } => format!("passed {intersection}"),
                other => format!("{other:?}"),
            })
            .collect()
    }

    /// Counters: received, accepted, gaps, restarts, dropped (by reason).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let core = self.inner();
        let s = core.stats();
        let d = PyDict::new(py);
        d.set_item("received", s.received)?;
        d.set_item("accepted", s.accepted)?;
        d.set_item("gaps", s.gaps)?;
        d.set_item("restarts", s.restarts)?;
        let dropped = PyDict::new(py);
        for (k, v) in &s.dropped {
            dropped.set_item(*k, *v)?;
        }
        d.set_item("dropped", dropped)?;
        Ok(d)
    }
}

/// The `corridor_sdk` Python module.
#[pymodule]
#[pyo3(name = "corridor_sdk")]
fn corridor_sdk_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Corridor>()?;
    m.add("QueryError", m.py().get_type::<QueryError>())?;
    Ok(())
}
