//! Shared pieces of the harnesses: the synthetic scene, detection frames, histograms,
//! CPU and memory readings from `/proc`. Each harness binary includes it and uses a part.
#![allow(dead_code)]

use corridor_model::detection::SensorKind;
use corridor_model::{Detection, DetectionFrame, ObjectClass, SensorExtrinsics, SensorId, Size3, Timestamp};
use hdrhistogram::Histogram;
use nalgebra::{Matrix3, Point3, Vector3};

/// A latency histogram, 1 us to 60 s, 3 significant digits.
pub fn histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, 60_000_000, 3)?)
}

/// Inserts `{prefix}_p50_us`, `_p90_us`, `_p99_us`, `_p999_us`, `_max_us`.
pub fn percentiles(prefix: &str, h: &Histogram<u64>, out: &mut serde_json::Map<String, serde_json::Value>) {
    for (name, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999)] {
        out.insert(format!("{prefix}_{name}_us"), h.value_at_quantile(q).into());
    }
    out.insert(format!("{prefix}_max_us"), h.max().into());
}

/// Objects on circles around the centre; positions at time `t_s` (`phase` shifts the layout,
/// so RSUs of the scale harness do not all see the same scene).
pub fn scene(n: usize, t_s: f64, phase: f64) -> Vec<Vector3<f64>> {
    (0..n)
        .map(|i| {
            let r = 8.0 + 40.0 * (i as f64 / n.max(1) as f64);
            let w = 6.0 / r * if i % 2 == 0 { 1.0 } else { -1.0 };
            let a = i as f64 * 2.399 + w * t_s + phase;
            Vector3::new(r * a.cos(), r * a.sin(), 0.8)
        })
        .collect()
}

/// What one sensor reports of `objs` (every object, in the sensor's frame).
pub fn frame(
    sensor: &SensorId,
    kind: SensorKind,
    ext: &SensorExtrinsics,
    seq: u64,
    t: Timestamp,
    objs: &[Vector3<f64>],
) -> DetectionFrame {
    DetectionFrame {
        sensor: sensor.clone(),
        kind,
        frame_seq: seq,
        capture_time: t,
        detections: objs
            .iter()
            .map(|p| Detection {
                class: ObjectClass::Car,
                class_confidence: 0.9,
                position_m: ext.to_sensor(&Point3::from(*p)).coords,
                position_cov: Matrix3::from_diagonal_element(0.0225),
                velocity_mps: None,
                heading_rad: None,
                size_m: Some(Size3::new(4.5, 1.8, 1.5)),
            })
            .collect(),
    }
}

/// The CPUs this process may run on (`Cpus_allowed_list` of /proc/self/status).
pub fn cpus_allowed() -> String {
    proc_status("Cpus_allowed_list:").unwrap_or_else(|| "unknown".into())
}

/// Peak resident set size of this process, MiB (`VmHWM`).
pub fn peak_rss_mib() -> f64 {
    proc_status("VmHWM:")
        .and_then(|v| v.trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

fn proc_status(field: &str) -> Option<String> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(field).map(|v| v.trim().to_owned()))
}

/// CPU time (user + system) this process has used so far, seconds (/proc/self/stat, in clock
/// ticks of 1/100 s, the Linux `USER_HZ`).
pub fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // fields after the `(comm)`: state is field 3; utime and stime are fields 14 and 15
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Sorted-sample percentile (nearest rank) of a slice, 0 when empty.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// The 1-minute load average (/proc/loadavg): these machines are shared, so reports say how busy.
pub fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}
