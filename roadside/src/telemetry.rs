//! Prometheus metrics for the RSU (metrics + metrics-exporter-prometheus: the
//! `metrics` facade is recorded into; the exporter serves the text format on
//! `http://127.0.0.1:{metrics_port}/metrics`). The recorder is process-global:
//! in the demo, where the cloud and the RSUs share a process, the first to
//! start installs it and the others record into it. Every series carries an
//! `rsu` label.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::core::RsuStats;

static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Installs the global recorder with an HTTP listener (inside a tokio runtime).
/// `Ok(false)`: one was installed already.
pub fn install(addr: SocketAddr) -> Result<bool, String> {
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return Ok(false);
    }
    match metrics_exporter_prometheus::PrometheusBuilder::new().with_http_listener(addr).install() {
        Ok(()) => Ok(true),
        Err(e) if e.to_string().contains("already") => Ok(false),
        Err(e) => {
            INSTALLED.store(false, Ordering::SeqCst);
            Err(format!("metrics listener on {addr}: {e}"))
        }
    }
}

/// Records one stats snapshot as gauges (a no-op without an installed recorder).
pub fn record(s: &RsuStats, rsu: &str) {
    let rsu = rsu.to_owned();
    metrics::gauge!("corridor_rsu_states_published", "rsu" => rsu.clone()).set(s.states_published as f64);
    metrics::gauge!("corridor_rsu_fusion_us", "rsu" => rsu.clone()).set(s.last_fusion_us as f64);
    metrics::gauge!("corridor_rsu_publish_us", "rsu" => rsu.clone()).set(s.publish_us as f64);
    metrics::gauge!("corridor_rsu_events_queued", "rsu" => rsu.clone()).set(s.events_queued as f64);
    metrics::gauge!("corridor_rsu_map_switches", "rsu" => rsu.clone()).set(s.map_switches as f64);
    for (reason, n) in s.drop_reasons() {
        metrics::gauge!("corridor_rsu_rejected", "rsu" => rsu.clone(), "reason" => reason).set(n as f64);
    }
    for (sensor, hz) in &s.input_rate_hz {
        metrics::gauge!("corridor_rsu_input_rate_hz", "rsu" => rsu.clone(), "sensor" => sensor.clone()).set(*hz);
    }
    for (name, n) in &s.cloud {
        metrics::gauge!("corridor_rsu_cloud", "rsu" => rsu.clone(), "counter" => *name).set(*n as f64);
    }
}
