//! Time alignment: per-sensor clock offset estimation from the tracks.
//!
//! A sensor whose clock runs `delta` ahead stamps a measurement taken at true time `t` as
//! `t + delta`. Fused at the stamped time, a target moving with velocity `v` shows an
//! innovation `y = z - H x(t + delta) ~ -v delta`. Over the confirmed, moving tracks a frame
//! updates, the weighted least-squares estimate of the residual offset is
//! `delta_hat = -sum(v^T S^-1 y) / sum(v^T S^-1 v)` with variance `1 / sum(v^T S^-1 v)`
//! (`S` the innovation covariance, so a camera's long range axis counts little). A scalar
//! Kalman filter (random-walk offset) smooths the per-frame estimates; the frame's capture
//! time is corrected by the estimate before it enters the reorder buffer. This is the
//! "temporal calibration from motion" idea of online spatio-temporal calibration (e.g. Li &
//! Mourikis 2014, Furgale et al. 2013), reduced to the one unknown that matters here.
//!
//! Reference sensors (lidar by default) define the time base and are never corrected:
//! offsets are relative, so something must be held fixed.

use nalgebra::{Matrix2, Vector2};

/// Running clock offset estimate of one sensor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClockOffsetEstimator {
    offset_s: f64,
    var_s2: f64,
    num: f64,
    den: f64,
}

/// Frames whose evidence is weaker than this (`sum v^T S^-1 v`, 1/s^2) are ignored: a
/// residual sigma above ~100 ms says nothing useful.
const MIN_INFORMATION_PER_S2: f64 = 1.0 / (0.1 * 0.1);

/// How much a frame's nominal information is discounted for correlated track errors.
const INFORMATION_DEFLATION: f64 = 4.0;

impl ClockOffsetEstimator {
    /// An estimator at offset 0 with prior sigma `prior_sigma_s`.
    pub fn new(prior_sigma_s: f64) -> Self {
        Self { offset_s: 0.0, var_s2: prior_sigma_s * prior_sigma_s, num: 0.0, den: 0.0 }
    }

    /// The current offset estimate (sensor clock minus reference), s.
    pub fn offset_s(&self) -> f64 {
        self.offset_s
    }

    /// Its standard deviation, s.
    pub fn sigma_s(&self) -> f64 {
        self.var_s2.sqrt()
    }

    /// Adds one update's evidence: track velocity `v_mps` at the fused time, innovation
    /// `y_m = z - Hx`, inverse innovation covariance `s_inv`.
    pub fn add(&mut self, v_mps: &Vector2<f64>, y_m: &Vector2<f64>, s_inv: &Matrix2<f64>) {
        let sv = s_inv * v_mps;
        let num = sv.dot(y_m);
        let den = sv.dot(v_mps);
        if num.is_finite() && den.is_finite() && den > 0.0 {
            self.num += num;
            self.den += den;
        }
    }

    /// Closes a frame: folds its evidence into the estimate. `drift_sigma_s` is the random
    /// walk per frame; the estimate is kept within `+-max_offset_s`.
    pub fn finish_frame(&mut self, drift_sigma_s: f64, max_offset_s: f64) {
        let (num, den) = (self.num, self.den);
        self.num = 0.0;
        self.den = 0.0;
        self.var_s2 += drift_sigma_s * drift_sigma_s;
        if den < MIN_INFORMATION_PER_S2 {
            return;
        }
        // the stamps were `residual` too late: the measurement belongs `residual` earlier
        let residual_s = (-num / den).clamp(-max_offset_s, max_offset_s);
        // innovations of one frame are correlated through the shared track errors: count
        // their information at a fraction
        let k = self.var_s2 / (self.var_s2 + INFORMATION_DEFLATION / den);
        self.offset_s = (self.offset_s + k * residual_s).clamp(-max_offset_s, max_offset_s);
        self.var_s2 *= 1.0 - k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_constant_offset_from_noisy_innovations() {
        let mut e = ClockOffsetEstimator::new(0.03);
        let true_offset = 0.02;
        let s_inv = Matrix2::from_diagonal_element(1.0 / 0.09);
        let mut seed = 1u64;
        for frame in 0..100 {
            for k in 0..8 {
                let a = f64::from(k) * 0.8 + f64::from(frame) * 0.1;
                let v = Vector2::new(a.cos(), a.sin()) * 8.0;
                // innovation of the residual offset, plus +-0.3 m noise
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let n = ((seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.6;
                let y = -v * (true_offset - e.offset_s()) + Vector2::new(n, -n * 0.5);
                e.add(&v, &y, &s_inv);
            }
            e.finish_frame(0.0005, 0.1);
        }
        assert!((e.offset_s() - true_offset).abs() < 0.003, "{}", e.offset_s());
        assert!(e.sigma_s() < 0.005, "{}", e.sigma_s());
    }

    #[test]
    fn ignores_frames_without_motion() {
        let mut e = ClockOffsetEstimator::new(0.03);
        e.add(&Vector2::new(0.1, 0.0), &Vector2::new(5.0, 0.0), &Matrix2::identity());
        e.finish_frame(0.0005, 0.1);
        assert_eq!(e.offset_s(), 0.0);
    }
}
