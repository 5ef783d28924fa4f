//! The Prometheus exporter (metrics + metrics-exporter-prometheus: the `metrics`
//! facade is what both services record into; the exporter serves the text format
//! on `http://ADDR/metrics`).
//!
//! The recorder is process-global: when the demo runs the cloud and the RSUs in
//! one process, the first service to start installs it and the others record
//! into the same one ([`install`] then returns `Ok(false)`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};

static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Installs the global Prometheus recorder with an HTTP listener on `addr` (call from
/// inside a tokio runtime). `Ok(true)` if this call installed it, `Ok(false)` if one was
/// installed already.
pub fn install(addr: SocketAddr) -> Result<bool, String> {
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return Ok(false);
    }
    match metrics_exporter_prometheus::PrometheusBuilder::new().with_http_listener(addr).install() {
        Ok(()) => Ok(true),
        Err(e) => {
            let msg = e.to_string();
            if msg.contains("already") {
                Ok(false)
            } else {
                INSTALLED.store(false, Ordering::SeqCst);
                Err(format!("metrics listener on {addr}: {msg}"))
            }
        }
    }
}
