//! Motion filters: constant velocity (CV), constant turn rate (CT) and their IMM.
//!
//! The state is `[x, y, vx, vy, omega]` (ENU m, m/s, rad/s) for both models so the interacting
//! multiple model (IMM, Blom & Bar-Shalom 1988) can mix them without padding. CV ignores
//! `omega` (and keeps it with a small random walk); CT rotates the velocity by `omega * dt`
//! (the coordinated-turn model of Bar-Shalom, Li & Kirubarajan, "Estimation with
//! Applications to Tracking and Navigation", 2001, sec. 11.7), linearised for its covariance
//! (EKF). Process noise is discrete white-noise acceleration with a per-class sigma
//! (pedestrians turn and stop quickly but slowly; trucks barely accelerate), plus a turn-rate
//! random walk for CT. Measurements are ground-plane positions (`H = [I2 0]`).
//!
//! Covariances are re-symmetrised after every step; a property test checks that they stay
//! symmetric positive definite.

use nalgebra::{Matrix2, SMatrix, SVector, Vector2};

/// Filter state `[x, y, vx, vy, omega]`.
pub type State = SVector<f64, 5>;
/// Its covariance.
pub type Cov = SMatrix<f64, 5, 5>;

/// A Gaussian estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gaussian {
    /// Mean.
    pub x: State,
    /// Covariance.
    pub p: Cov,
}

/// A motion model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MotionModel {
    /// Constant velocity.
    ConstantVelocity,
    /// Constant turn rate (coordinated turn).
    ConstantTurn,
}

/// Process noise of one track (set by its class).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessNoise {
    /// White-noise acceleration sigma, m/s^2.
    pub accel_sigma_mps2: f64,
    /// Turn-rate random-walk sigma, rad/s^2 (CT model).
    pub yaw_accel_sigma_radps2: f64,
}

/// The turn-rate random walk of the CV model, rad/s^2: keeps `omega` from freezing.
const CV_YAW_SIGMA_RADPS2: f64 = 0.05;

/// Predicts `g` by `dt_s` under `model`.
pub fn predict(model: MotionModel, g: &Gaussian, dt_s: f64, noise: &ProcessNoise) -> Gaussian {
    let x = &g.x;
    let mut f = Cov::identity();
    let mut xn = *x;
    let (vx, vy, w) = (x[2], x[3], x[4]);
    let t = dt_s;
    match model {
        MotionModel::ConstantVelocity => {
            f[(0, 2)] = t;
            f[(1, 3)] = t;
            xn[0] = x[0] + vx * t;
            xn[1] = x[1] + vy * t;
        }
        MotionModel::ConstantTurn => {
            let (s, c, a, b, da, db) = ct_terms(w, t);
            xn[0] = x[0] + a * vx - b * vy;
            xn[1] = x[1] + b * vx + a * vy;
            xn[2] = c * vx - s * vy;
            xn[3] = s * vx + c * vy;
            f[(0, 2)] = a;
            f[(0, 3)] = -b;
            f[(1, 2)] = b;
            f[(1, 3)] = a;
            f[(2, 2)] = c;
            f[(2, 3)] = -s;
            f[(3, 2)] = s;
            f[(3, 3)] = c;
            f[(0, 4)] = da * vx - db * vy;
            f[(1, 4)] = db * vx + da * vy;
            f[(2, 4)] = -t * s * vx - t * c * vy;
            f[(3, 4)] = t * c * vx - t * s * vy;
        }
    }
    let mut p = match model {
        // F = [[I, t I, 0], [0, I, 0], [0, 0, 1]]: F P F^T in closed form, a quarter of the
        // flops of the general product
        MotionModel::ConstantVelocity => cv_propagate(&g.p, t),
        MotionModel::ConstantTurn => ct_propagate(&g.p, &f),
    };
    let ta = t.abs();
    let qa = noise.accel_sigma_mps2 * noise.accel_sigma_mps2;
    let (q11, q12, q22) = (qa * ta.powi(4) / 4.0, qa * ta.powi(3) / 2.0 * t.signum(), qa * ta * ta);
    for i in 0..2 {
        p[(i, i)] += q11;
        p[(i, i + 2)] += q12;
        p[(i + 2, i)] += q12;
        p[(i + 2, i + 2)] += q22;
    }
    let yaw_sigma = match model {
        MotionModel::ConstantVelocity => CV_YAW_SIGMA_RADPS2,
        MotionModel::ConstantTurn => noise.yaw_accel_sigma_radps2,
    };
    p[(4, 4)] += yaw_sigma * yaw_sigma * ta;
    Gaussian { x: xn, p: symmetrize(&p) }
}

/// The coordinated-turn terms for turn rate `w` over `t`: `s = sin(wt)`, `c = cos(wt)`,
/// `a = s/w`, `b = (1-c)/w` and `da/dw`, `db/dw`. For a small turn angle `u = wt` their series
/// (relative error below 1e-9 under 0.02 rad) avoid the trigonometry and the cancellation of
/// the closed forms.
fn ct_terms(w: f64, t: f64) -> (f64, f64, f64, f64, f64, f64) {
    let u = w * t;
    if u.abs() < 0.02 {
        let u2 = u * u;
        (
            u * (1.0 - u2 / 6.0),
            1.0 - u2 / 2.0 + u2 * u2 / 24.0,
            t * (1.0 - u2 / 6.0),
            w * t * t * (0.5 - u2 / 24.0),
            -w * t * t * t / 3.0 * (1.0 - u2 / 10.0),
            t * t / 2.0 * (1.0 - u2 / 4.0),
        )
    } else {
        ct_terms_closed(w, t)
    }
}

/// [`ct_terms`] in closed form (`w != 0`).
fn ct_terms_closed(w: f64, t: f64) -> (f64, f64, f64, f64, f64, f64) {
    let (s, c) = (w * t).sin_cos();
    (s, c, s / w, (1.0 - c) / w, (t * c * w - s) / (w * w), (t * s * w - (1.0 - c)) / (w * w))
}

/// `F P F^T` for the CT Jacobian, using its sparsity: rows 0..4 mix only columns 2..5 beyond
/// the identity, row 4 is the identity. `F (F P)^T = F P F^T` for symmetric `P`.
fn ct_propagate(p: &Cov, f: &Cov) -> Cov {
    let rows = |m: &Cov| -> Cov {
        let mut out = *m;
        for j in 0..5 {
            let (m2, m3, m4) = (m[(2, j)], m[(3, j)], m[(4, j)]);
            out[(0, j)] += f[(0, 2)] * m2 + f[(0, 3)] * m3 + f[(0, 4)] * m4;
            out[(1, j)] += f[(1, 2)] * m2 + f[(1, 3)] * m3 + f[(1, 4)] * m4;
            out[(2, j)] = f[(2, 2)] * m2 + f[(2, 3)] * m3 + f[(2, 4)] * m4;
            out[(3, j)] = f[(3, 2)] * m2 + f[(3, 3)] * m3 + f[(3, 4)] * m4;
        }
        out
    };
    rows(&rows(p).transpose())
}

/// `F P F^T` for the CV transition.
fn cv_propagate(p: &Cov, t: f64) -> Cov {
    // rows: A = F P (row i += t * row i+2 for i in 0..2), then columns: A F^T likewise
    let mut a = *p;
    for i in 0..2 {
        for j in 0..5 {
            a[(i, j)] += t * p[(i + 2, j)];
        }
    }
    let mut out = a;
    for j in 0..2 {
        for i in 0..5 {
            out[(i, j)] += t * a[(i, j + 2)];
        }
    }
    out
}

/// `(P + P^T) / 2`.
fn symmetrize(p: &Cov) -> Cov {
    (p + p.transpose()) * 0.5
}

/// Kalman position update of one Gaussian; returns the updated estimate and the log-likelihood
/// of `z`, or `None` when the innovation covariance is not invertible.
pub fn update_position(g: &Gaussian, z: &Vector2<f64>, r: &Matrix2<f64>) -> Option<(Gaussian, f64)> {
    let s = g.p.fixed_view::<2, 2>(0, 0) + r;
    let s_inv = s.try_inverse()?;
    let det = s.determinant();
    if det.is_nan() || det <= 0.0 {
        return None;
    }
    let y = z - g.x.fixed_rows::<2>(0);
    let pht = g.p.fixed_view::<5, 2>(0, 0).into_owned();
    let k = pht * s_inv;
    let x = g.x + k * y;
    let p = g.p - k * pht.transpose();
    let d2 = (y.transpose() * s_inv * y)[(0, 0)];
    let log_l = -0.5 * d2 - 0.5 * det.ln() - (2.0 * std::f64::consts::PI).ln();
    Some((Gaussian { x, p: symmetrize(&p) }, log_l))
}

/// Position update that holds the velocity and turn rate: the gain's rows for `[vx, vy,
/// omega]` are zeroed (a suboptimal gain, so the covariance takes the Joseph form
/// `(I - K H) P (I - K H)^T + K R K^T`, which stays consistent for any gain). Used when the
/// measurement cannot be told apart from another track's (a close encounter): the position
/// follows the detections, the motion stays the track's own. `None` when `S` is singular.
pub fn update_position_held(g: &Gaussian, z: &Vector2<f64>, r: &Matrix2<f64>) -> Option<Gaussian> {
    let s = g.p.fixed_view::<2, 2>(0, 0) + r;
    let s_inv = s.try_inverse()?;
    let y = z - g.x.fixed_rows::<2>(0);
    let mut k = SMatrix::<f64, 5, 2>::zeros();
    k.fixed_view_mut::<2, 2>(0, 0).copy_from(&(g.p.fixed_view::<2, 2>(0, 0) * s_inv));
    let x = g.x + k * y;
    let mut a = Cov::identity();
    a.fixed_view_mut::<5, 2>(0, 0).copy_from(&(SMatrix::<f64, 5, 2>::identity() - k));
    let p = a * g.p * a.transpose() + k * r * k.transpose();
    if !x.iter().chain(p.iter()).all(|v| v.is_finite()) {
        return None;
    }
    Some(Gaussian { x, p: symmetrize(&p) })
}

/// The moment-matched mixture `w0 N(x0, P0) + w1 N(x1, P1)` (`w0 + w1 = 1`), given
/// `spread = (x0 - x1)(x0 - x1)^T`.
fn mix2(g: &[Gaussian; 2], w0: f64, w1: f64, spread: &Cov) -> Gaussian {
    let x = g[0].x * w0 + g[1].x * w1;
    // bitwise symmetric inputs (every step ends in `symmetrize`) give a bitwise symmetric sum
    let p = g[0].p * w0 + g[1].p * w1 + spread * (w0 * w1);
    Gaussian { x, p }
}

/// Interacting multiple model filter of CV and CT (or CV alone when disabled).
#[derive(Debug, Clone, PartialEq)]
pub struct Imm {
    /// Per-model estimates: `[CV, CT]`.
    pub models: [Gaussian; 2],
    /// Model probabilities.
    pub mu: [f64; 2],
    /// False: only the CV model runs.
    pub enabled: bool,
}

impl Imm {
    /// A filter starting at `g`, models equally likely (CV only when `!enabled`).
    pub fn new(g: Gaussian, enabled: bool) -> Self {
        let mu = if enabled { [0.5, 0.5] } else { [1.0, 0.0] };
        Self { models: [g, g], mu, enabled }
    }

    /// Mixing and prediction by `dt_s`; `switch_rate_hz` sets the Markov transition matrix.
    pub fn predict(&mut self, dt_s: f64, noise: &ProcessNoise, switch_rate_hz: f64) {
        if dt_s == 0.0 {
            return;
        }
        if !self.enabled {
            self.models[0] = predict(MotionModel::ConstantVelocity, &self.models[0], dt_s, noise);
            return;
        }
        let p_switch = (1.0 - (-switch_rate_hz.max(0.0) * dt_s.abs()).exp()).clamp(0.0, 0.5);
        let pi = [[1.0 - p_switch, p_switch], [p_switch, 1.0 - p_switch]];
        let mut c = [0.0; 2];
        for (j, cj) in c.iter_mut().enumerate() {
            *cj = pi[0][j] * self.mu[0] + pi[1][j] * self.mu[1];
        }
        // with two models the spread-of-means term of the mixture is w0 w1 (x0-x1)(x0-x1)^T:
        // one outer product serves both mixed estimates
        let delta = self.models[0].x - self.models[1].x;
        let spread = delta * delta.transpose();
        let mut mixed = [self.models[0], self.models[1]];
        for (j, m) in mixed.iter_mut().enumerate() {
            if c[j] <= 1e-300 {
                continue;
            }
            let (w0, w1) = (pi[0][j] * self.mu[0] / c[j], pi[1][j] * self.mu[1] / c[j]);
            *m = mix2(&self.models, w0, w1, &spread);
        }
        self.models[0] = predict(MotionModel::ConstantVelocity, &mixed[0], dt_s, noise);
        self.models[1] = predict(MotionModel::ConstantTurn, &mixed[1], dt_s, noise);
        let sum = c[0] + c[1];
        self.mu = if sum > 0.0 { [c[0] / sum, c[1] / sum] } else { [0.5, 0.5] };
    }

    /// The moment-matched combination of the models.
    pub fn combined(&self) -> Gaussian {
        if !self.enabled {
            return self.models[0];
        }
        let delta = self.models[0].x - self.models[1].x;
        mix2(&self.models, self.mu[0], self.mu[1], &(delta * delta.transpose()))
    }

    /// Position update; returns `false` (and leaves the filter unchanged) when it is
    /// numerically impossible.
    pub fn update(&mut self, z: &Vector2<f64>, r: &Matrix2<f64>) -> bool {
        if !self.enabled {
            return match update_position(&self.models[0], z, r) {
                Some((g, _)) => {
                    self.models[0] = g;
                    true
                }
                None => false,
            };
        }
        let (Some((g0, l0)), Some((g1, l1))) =
            (update_position(&self.models[0], z, r), update_position(&self.models[1], z, r))
        else {
            return false;
        };
        let lmax = l0.max(l1);
        let w0 = self.mu[0] * (l0 - lmax).exp();
        let w1 = self.mu[1] * (l1 - lmax).exp();
        let sum = w0 + w1;
        if sum.is_nan() || sum <= 0.0 || !sum.is_finite() {
            return false;
        }
        // keep both models alive: a model at probability 0 could never come back
        let mu0 = (w0 / sum).clamp(1e-4, 1.0 - 1e-4);
        self.mu = [mu0, 1.0 - mu0];
        self.models = [g0, g1];
        true
    }
}

impl Imm {
    /// Position update holding each model's velocity and turn rate
    /// ([`update_position_held`]); the model probabilities are kept (the measurement is not
    /// trusted as evidence about the motion). Returns `false` (filter unchanged) when
    /// numerically impossible.
    pub fn update_held(&mut self, z: &Vector2<f64>, r: &Matrix2<f64>) -> bool {
        let n = if self.enabled { 2 } else { 1 };
        let mut out = self.models;
        for (o, m) in out.iter_mut().zip(&self.models).take(n) {
            match update_position_held(m, z, r) {
                Some(g) => *o = g,
                None => return false,
            }
        }
        self.models = out;
        true
    }
}

/// The largest eigenvalue of a symmetric 2x2 matrix.
pub fn max_eigen_2x2(m: &Matrix2<f64>) -> f64 {
    let (a, b, d) = (m[(0, 0)], m[(0, 1)], m[(1, 1)]);
    let mean = 0.5 * (a + d);
    let r = (0.25 * (a - d) * (a - d) + b * b).sqrt();
    mean + r
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn noise() -> ProcessNoise {
        ProcessNoise { accel_sigma_mps2: 2.0, yaw_accel_sigma_radps2: 0.5 }
    }

    fn is_spd(p: &Cov) -> bool {
        (p - p.transpose()).amax() <= 1e-9 * p.amax().max(1.0) && p.cholesky().is_some()
    }

    #[test]
    fn ct_with_zero_turn_rate_equals_cv() {
        let g = Gaussian { x: State::new(1.0, 2.0, 3.0, -1.0, 0.0), p: Cov::identity() };
        let a = predict(MotionModel::ConstantVelocity, &g, 0.5, &noise());
        let b = predict(MotionModel::ConstantTurn, &g, 0.5, &noise());
        assert!((a.x - b.x).norm() < 1e-12);
        assert!((a.x - State::new(2.5, 1.5, 3.0, -1.0, 0.0)).norm() < 1e-12);
    }

    #[test]
    fn cv_closed_form_equals_the_matrix_product() {
        let mut p = Cov::from_fn(|i, j| ((i * 5 + j) as f64 * 0.37).sin());
        p = p * p.transpose() + Cov::identity();
        let mut f = Cov::identity();
        f[(0, 2)] = 0.3;
        f[(1, 3)] = 0.3;
        assert!((cv_propagate(&p, 0.3) - f * p * f.transpose()).amax() < 1e-12);
    }

    #[test]
    fn ct_sparse_product_equals_the_matrix_product() {
        let mut p = Cov::from_fn(|i, j| ((i * 7 + j * 3) as f64 * 0.41).cos());
        p = p * p.transpose() + Cov::identity();
        let g = Gaussian { x: State::new(1.0, 2.0, 6.0, -2.0, 0.3), p };
        let n0 = ProcessNoise { accel_sigma_mps2: 0.0, yaw_accel_sigma_radps2: 0.0 };
        let got = predict(MotionModel::ConstantTurn, &g, 0.2, &n0).p;
        // the Jacobian by finite differences, then the dense product
        let base = predict(MotionModel::ConstantTurn, &Gaussian { x: g.x, p: Cov::zeros() }, 0.2, &n0).x;
        let mut f = Cov::zeros();
        for k in 0..5 {
            let mut x = g.x;
            x[k] += 1e-7;
            let col = (predict(MotionModel::ConstantTurn, &Gaussian { x, p: Cov::zeros() }, 0.2, &n0).x - base) / 1e-7;
            f.set_column(k, &col);
        }
        assert!((got - f * p * f.transpose()).amax() < 1e-4, "{}", got - f * p * f.transpose());
    }

    #[test]
    fn ct_series_and_closed_form_agree_below_the_switch() {
        for (w, t) in [(0.19, 0.1), (-0.19, 0.1), (0.5, 0.03), (0.05, 0.1)] {
            let (x, y) = (ct_terms(w, t), ct_terms_closed(w, t));
            let (x, y) = ([x.0, x.1, x.2, x.3, x.4, x.5], [y.0, y.1, y.2, y.3, y.4, y.5]);
            for k in 0..6 {
                let scale = y[k].abs().max(1e-12);
                assert!((x[k] - y[k]).abs() / scale < 1e-7, "w {w} t {t} term {k}: {} vs {}", x[k], y[k]);
            }
        }
    }

    #[test]
    fn ct_turns_a_quarter_circle() {
        // 10 m/s east, turning left at pi/2 rad/s: after 1 s heading north, at (r, r), r = 10/(pi/2)
        let w = std::f64::consts::FRAC_PI_2;
        let g = Gaussian { x: State::new(0.0, 0.0, 10.0, 0.0, w), p: Cov::identity() };
        let b = predict(MotionModel::ConstantTurn, &g, 1.0, &noise());
        let r = 10.0 / w;
        assert!((b.x[0] - r).abs() < 1e-9 && (b.x[1] - r).abs() < 1e-9, "{}", b.x);
        assert!(b.x[2].abs() < 1e-9 && (b.x[3] - 10.0).abs() < 1e-9);
    }

    #[test]
    fn ct_jacobian_matches_finite_differences() {
        let g = Gaussian { x: State::new(1.0, -2.0, 7.0, 3.0, 0.4), p: Cov::zeros() };
        let n0 = ProcessNoise { accel_sigma_mps2: 0.0, yaw_accel_sigma_radps2: 0.0 };
        let dt = 0.3;
        // P' = F P F^T with P = e_k e_k^T gives column k of F in column k (times itself)
        let base = predict(MotionModel::ConstantTurn, &g, dt, &n0).x;
        for k in 0..5 {
            let mut gp = g;
            gp.p[(k, k)] = 1.0;
            let pk = predict(MotionModel::ConstantTurn, &gp, dt, &n0).p;
            let f_col_sq = pk.diagonal();
            let h = 1e-6;
            let mut xh = g;
            xh.x[k] += h;
            let num = (predict(MotionModel::ConstantTurn, &xh, dt, &n0).x - base) / h;
            for i in 0..5 {
                assert!(
                    (num[i] * num[i] - f_col_sq[i]).abs() < 1e-4,
                    "F[{i},{k}]: {} vs {}",
                    num[i],
                    f_col_sq[i].sqrt()
                );
            }
        }
    }

    #[test]
    fn a_held_update_moves_the_position_and_keeps_the_motion() {
        let g = Gaussian {
            x: State::new(0.0, 0.0, 1.2, 0.0, 0.1),
            p: Cov::from_diagonal(&State::new(0.04, 0.04, 0.2, 0.2, 0.1)),
        };
        let mut imm = Imm::new(g, true);
        imm.predict(0.1, &noise(), 0.5);
        let before = imm.clone();
        let r = Matrix2::from_diagonal_element(0.0225);
        assert!(imm.update_held(&Vector2::new(-0.3, 0.2), &r));
        for (m, b) in imm.models.iter().zip(&before.models) {
            assert_eq!(m.x.fixed_rows::<3>(2), b.x.fixed_rows::<3>(2), "velocity and turn rate held");
            assert!(m.x[0] < b.x[0] - 0.1 && m.x[1] > b.x[1] + 0.05, "position follows: {}", m.x);
            assert!(m.p[(0, 0)] < b.p[(0, 0)] && m.p[(1, 1)] < b.p[(1, 1)]);
            assert!(is_spd(&m.p));
        }
        assert_eq!(imm.mu, before.mu, "no evidence about the motion model");
        // the full update would have slowed the track down
        let mut full = before.clone();
        assert!(full.update(&Vector2::new(-0.3, 0.2), &r));
        assert!(full.combined().x[2] < 1.1);
    }

    #[test]
    fn imm_prefers_the_turn_model_on_a_turning_target() {
        let w = 0.5;
        let mut imm = Imm::new(
            Gaussian {
                x: State::new(0.0, 0.0, 10.0, 0.0, 0.0),
                p: Cov::from_diagonal(&State::new(0.1, 0.1, 1.0, 1.0, 0.3)),
            },
            true,
        );
        let r = Matrix2::from_diagonal_element(0.02);
        let dt = 0.1;
        for k in 1..=40 {
            imm.predict(dt, &noise(), 0.5);
            let t = k as f64 * dt;
            let z = Vector2::new(10.0 / w * (w * t).sin(), 10.0 / w * (1.0 - (w * t).cos()));
            assert!(imm.update(&z, &r));
        }
        assert!(imm.mu[1] > 0.8, "mu {:?}", imm.mu);
        let c = imm.combined();
        assert!((c.x[4] - w).abs() < 0.05, "omega {}", c.x[4]);
    }

    proptest! {
        #[test]
        fn covariance_stays_spd(
            steps in proptest::collection::vec((0.001f64..0.5, -50.0f64..50.0, -50.0f64..50.0, 0.01f64..9.0, 0.01f64..9.0, -0.9f64..0.9, 0u8..3), 1..60),
            w0 in -1.0f64..1.0, v0 in -20.0f64..20.0, imm_on in any::<bool>(),
        ) {
            let g = Gaussian { x: State::new(0.0, 0.0, v0, 0.0, w0), p: Cov::from_diagonal(&State::new(1.0, 1.0, 25.0, 25.0, 0.25)) };
            let mut imm = Imm::new(g, imm_on);
            for (dt, zx, zy, sx, sy, rho, upd) in steps {
                imm.predict(dt, &noise(), 0.5);
                let c = rho * sx.sqrt() * sy.sqrt();
                let r = Matrix2::new(sx, c, c, sy);
                match upd {
                    1 => { imm.update(&Vector2::new(zx, zy), &r); }
                    2 => { imm.update_held(&Vector2::new(zx, zy), &r); }
                    _ => {}
                }
                for m in &imm.models {
                    prop_assert!(is_spd(&m.p), "{}", m.p);
                }
                prop_assert!(is_spd(&imm.combined().p));
                prop_assert!((imm.mu[0] + imm.mu[1] - 1.0).abs() < 1e-9);
            }
        }
    }
}
