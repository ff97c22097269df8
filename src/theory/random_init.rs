//! Linear RNNs from a random (not aligned) initialization (theory/random_init.md, RI-1..RI-8;
//! reference notes §5.3, §5.5-§5.7, checks EM1, Z1, CK1, SC1).
//!
//! - [`NtkRnn`]: the NTK-parametrized linear RNN (RI-1), its exact lag Jacobians and empirical
//!   lag-space tangent kernel (RI-3), and gradient descent on the impulse response (RI-5);
//!   [`lag_ntk`], the wide limit `Theta_jj = 2 rho^{2j} + j rho^{2(j-1)}` (RI-2), and
//!   [`lag_ntk_sd`], its leading finite-width spread (RI-4), from the moments of a circular
//!   element ([`circular_moment`]).
//! - [`memory_variance`], [`sensitivity_variance`]: the curse of memory of a scalar recurrence
//!   (RI-6), with [`finite_horizon_moments`] and their Monte Carlo estimate
//!   [`monte_carlo_moments`].
//! - [`DiagonalRnn`]: the diagonal student of the extrapolation protocol (RI-7).
//! - [`FixedPointRnn`], [`schuessler_weight_change`]: the input-driven fixed point trained on
//!   `W` and its weight change to leading and second order (RI-8).

use crate::linalg::Matrix;
use crate::random::{gaussian_matrix, rng, stream};
use rand::RngExt;
use rand_distr::StandardNormal;

// ---------------------------------------------------------------------------------------------
// Lag-space tangent kernel (Emami et al. 2021)
// ---------------------------------------------------------------------------------------------

/// Wide-limit lag-space NTK entry `Theta_jj = 2 rho^{2j} + j rho^{2(j-1)}` (RI-2): the readout
/// `C` and input `F` contribute `rho^{2j}` each, the recurrent `W` contributes `j rho^{2(j-1)}`.
/// The off-diagonal entries vanish in the limit.
pub fn lag_ntk(rho: f64, lag: usize) -> f64 {
    let r2 = rho * rho;
    let w_part = if lag == 0 {
        0.0
    } else {
        lag as f64 * r2.powi(lag as i32 - 1)
    };
    2.0 * r2.powi(lag as i32) + w_part
}

/// [`lag_ntk`] for lags `0..lags` (RI-2).
pub fn lag_kernel(rho: f64, lags: usize) -> Vec<f64> {
    (0..lags).map(|j| lag_ntk(rho, j)).collect()
}

/// Normalized trace `tau(x_1 ... x_m)` of a word in a circular element `c` (`true`) and its
/// adjoint `c*` (`false`): the number of non-crossing pairings that pair every `c` with a
/// `c*` (the free cumulants of `c` are `kappa_2(c, c*) = kappa_2(c*, c) = 1`, all others 0).
/// A word of odd length, or with unequal counts, has moment 0. Interval dynamic programme,
/// `O(m^3)`. This is the large-`n` limit of `tr(...)/n` of the same word in `G/sqrt(n)` and
/// `G^T/sqrt(n)`, `G` with i.i.d. standard normal entries (RI-4).
pub fn circular_moment(word: &[bool]) -> f64 {
    let m = word.len();
    // count[i][j] = pairings of the segment word[i..j] (j - i even), as f64 (exact up to 2^53).
    let mut count = vec![vec![0.0f64; m + 1]; m + 1];
    for (i, row) in count.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    for len in (2..=m).step_by(2) {
        for i in 0..=m - len {
            let j = i + len;
            let mut total = 0.0;
            // word[i] pairs with word[k], k = i + 1, i + 3, ...
            for k in (i + 1..j).step_by(2) {
                if word[k] != word[i] {
                    total += count[i + 1][k] * count[k + 1][j];
                }
            }
            count[i][j] = total;
        }
    }
    if m % 2 == 1 {
        0.0
    } else {
        count[0][m]
    }
}

/// `tau(c*^a c^a c*^b c^b)` ([`circular_moment`]): the limit of `tr(P_a P_b)/n` with
/// `P_a = (A^a)^T A^a`, `A = G/sqrt(n)`. `m(a, a) = a + 1` (the second Fuss-Catalan moment).
pub fn power_gram_moment(a: usize, b: usize) -> f64 {
    circular_moment(&word(&[(false, a), (true, a), (false, b), (true, b)]))
}

/// The word `x_1^{k_1} x_2^{k_2} ...` of `(is_c, k)` runs.
fn word(runs: &[(bool, usize)]) -> Vec<bool> {
    runs.iter()
        .flat_map(|&(x, k)| std::iter::repeat_n(x, k))
        .collect()
}

/// Leading-order standard deviation of the empirical `Theta_jm` (RI-3) of one network of width
/// `n` around its wide limit ([`lag_ntk`] on the diagonal, 0 off it) (RI-4). To leading order
/// the spread comes from the Gaussian quadratic forms in `F` and `C` at fixed `W` (the
/// fluctuations of normalized traces of products of `A` are `O(1/n)`):
/// `Theta_jm - E = n^{-1} (F^T Y F - E + C^T Y' C - E)` with
/// `Y = (A^j)^T A^m + sum_{k < min(j,m)} rho^{2k} (A^{j-1-k})^T A^{m-1-k}` (and `Y'` the same
/// with `A` and `A^T` exchanged, equal in law), so
/// `sd^2 = (2/n) sum_{t,t'} w_t w_t' [tau(Y_t Y_t'^T) + tau(Y_t Y_t')]`, each trace a
/// [`circular_moment`] times `rho^{word length}`. On the diagonal `j = m = 0` this is
/// `2/sqrt(n)` (two `chi^2_n / n`).
pub fn lag_ntk_sd(rho: f64, j: usize, m: usize, n: usize) -> f64 {
    let r2 = rho * rho;
    // Terms (a, b, w) of Y = sum w (A^a)^T A^b.
    let mut terms = vec![(j, m, 1.0)];
    for k in 0..j.min(m) {
        terms.push((j - 1 - k, m - 1 - k, r2.powi(k as i32)));
    }
    let mut var = 0.0;
    for &(a, b, w) in &terms {
        for &(a2, b2, w2) in &terms {
            let scale = rho.powi((a + b + a2 + b2) as i32);
            // tau(Y_t Y_t'^T): A^{aT} A^b A^{b'T} A^{a'}; tau(Y_t Y_t'): A^{aT} A^b A^{a'T} A^{b'}.
            let yyt = circular_moment(&word(&[(false, a), (true, b), (false, b2), (true, a2)]));
            let yy = circular_moment(&word(&[(false, a), (true, b), (false, a2), (true, b2)]));
            var += w * w2 * scale * (yyt + yy);
        }
    }
    (2.0 * var / n as f64).sqrt()
}

/// Linear RNN in NTK parametrization (RI-1): `h_t = n^{-1/2} W h_{t-1} + F x_t`,
/// `y_t = n^{-1/2} C h_t`, scalar input and output, `W` entries `N(0, rho^2)`, `F`, `C`
/// entries `N(0, 1)`, all trained. Impulse response `K_j = n^{-1/2} C A^j F`, `A = W/sqrt(n)`.
#[derive(Debug, Clone)]
pub struct NtkRnn {
    /// Recurrent weights `W` (`n x n`, column-major), unscaled.
    pub w: Matrix,
    /// Input weights `F` (length `n`).
    pub f: Vec<f64>,
    /// Readout weights `C` (length `n`).
    pub c: Vec<f64>,
}

/// `y = s A x` for the column-major square `a`.
fn matvec(a: &Matrix, x: &[f64], s: f64) -> Vec<f64> {
    let n = a.nrows();
    let mut y = vec![0.0; n];
    for (col, &xj) in a.as_slice().chunks_exact(n).zip(x) {
        let sx = s * xj;
        for (yi, &aij) in y.iter_mut().zip(col) {
            *yi += aij * sx;
        }
    }
    y
}

/// `y = s A^T x` for the column-major square `a`.
fn t_matvec(a: &Matrix, x: &[f64], s: f64) -> Vec<f64> {
    let n = a.nrows();
    a.as_slice()
        .chunks_exact(n)
        .map(|col| s * dot(col, x))
        .collect()
}

fn dot(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(a, b)| a * b).sum()
}

/// Gradient of `1/2 sum_j (K_j - K*_j)^2` with respect to the blocks of an [`NtkRnn`] (RI-5).
#[derive(Debug, Clone)]
pub struct NtkGradient {
    /// `dL/dW` (`n x n`, column-major).
    pub w: Matrix,
    /// `dL/dF`.
    pub f: Vec<f64>,
    /// `dL/dC`.
    pub c: Vec<f64>,
}

impl NtkRnn {
    /// Draw a network of width `n` (RI-1) from `random::rng(seed, stream::INIT)`: `W` column by
    /// column, then `F`, then `C`.
    pub fn sample(n: usize, rho: f64, seed: u64) -> Self {
        let mut r = rng(seed, stream::INIT);
        let w = gaussian_matrix(&mut r, n, n).scale(rho);
        let f = (0..n).map(|_| r.sample::<f64, _>(StandardNormal)).collect();
        let c = (0..n).map(|_| r.sample::<f64, _>(StandardNormal)).collect();
        NtkRnn { w, f, c }
    }

    /// Width `n`.
    pub fn width(&self) -> usize {
        self.f.len()
    }

    /// `(u_k, v_k)` for `k = 0..lags`: `u_k = (A^k)^T C^T`, `v_k = A^k F` (RI-3).
    fn powers(&self, lags: usize) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
        let s = 1.0 / (self.width() as f64).sqrt();
        let (mut u, mut v) = (vec![self.c.clone()], vec![self.f.clone()]);
        for k in 1..lags {
            u.push(t_matvec(&self.w, &u[k - 1], s));
            v.push(matvec(&self.w, &v[k - 1], s));
        }
        (u, v)
    }

    /// Impulse response `K_j = n^{-1/2} C A^j F`, `j = 0..lags` (RI-1).
    pub fn impulse_response(&self, lags: usize) -> Vec<f64> {
        let s = 1.0 / (self.width() as f64).sqrt();
        self.powers(lags)
            .1
            .iter()
            .map(|v| s * dot(&self.c, v))
            .collect()
    }

    /// Empirical lag-space tangent kernel `Theta_jm = <dK_j/dtheta, dK_m/dtheta>` over all of
    /// `W`, `F`, `C`, `j, m = 0..lags`, from the exact Jacobians (RI-3):
    /// `Theta_jm = (v_j.v_m + u_j.u_m)/n + n^{-2} sum_{k<j, l<m} (u_k.u_l)(v_{j-1-k}.v_{m-1-l})`.
    pub fn empirical_ntk(&self, lags: usize) -> Matrix {
        let n = self.width() as f64;
        let (u, v) = self.powers(lags);
        let gram = |x: &[Vec<f64>]| Matrix::from_fn(lags, lags, |i, j| dot(&x[i], &x[j]));
        let (gu, gv) = (gram(&u), gram(&v));
        Matrix::from_fn(lags, lags, |j, m| {
            let mut w_part = 0.0;
            for k in 0..j {
                for l in 0..m {
                    w_part += gu.get(k, l) * gv.get(j - 1 - k, m - 1 - l);
                }
            }
            (gv.get(j, m) + gu.get(j, m)) / n + w_part / (n * n)
        })
    }

    /// Loss `1/2 sum_j (K_j - K*_j)^2` over the lags of `target` and its exact gradient (RI-5):
    /// `dL/dC = n^{-1/2} sum_j r_j v_j`, `dL/dF = n^{-1/2} sum_j r_j u_j`,
    /// `dL/dW = n^{-1} sum_k u_k g_k^T` with `g_k = sum_{j>k} r_j v_{j-1-k}`, `r = K - K*`.
    pub fn loss_and_grad(&self, target: &[f64]) -> (f64, NtkGradient) {
        let lags = target.len();
        let n = self.width();
        let s = 1.0 / (n as f64).sqrt();
        let (u, v) = self.powers(lags);
        let r: Vec<f64> = v
            .iter()
            .zip(target)
            .map(|(vj, t)| s * dot(&self.c, vj) - t)
            .collect();
        let loss = 0.5 * r.iter().map(|x| x * x).sum::<f64>();
        let combine = |x: &[Vec<f64>]| {
            let mut out = vec![0.0; n];
            for (xj, rj) in x.iter().zip(&r) {
                for (o, a) in out.iter_mut().zip(xj) {
                    *o += s * rj * a;
                }
            }
            out
        };
        let (gc, gf) = (combine(&v), combine(&u));
        let mut gw = Matrix::zeros(n, n);
        for (k, uk) in u.iter().enumerate().take(lags.saturating_sub(1)) {
            let mut g = vec![0.0; n];
            for (j, rj) in r.iter().enumerate().skip(k + 1) {
                for (gi, a) in g.iter_mut().zip(&v[j - 1 - k]) {
                    *gi += rj * a;
                }
            }
            // column b of u_k g^T is u_k g_b.
            for (col, gb) in gw.as_mut_slice().chunks_exact_mut(n).zip(&g) {
                let sg = gb / n as f64;
                for (x, a) in col.iter_mut().zip(uk) {
                    *x += a * sg;
                }
            }
        }
        (
            loss,
            NtkGradient {
                w: gw,
                f: gf,
                c: gc,
            },
        )
    }

    /// One gradient-descent step `theta <- theta - lr grad L` on all blocks (RI-5); returns the
    /// loss before the step.
    pub fn gd_step(&mut self, target: &[f64], lr: f64) -> f64 {
        let (loss, g) = self.loss_and_grad(target);
        for (x, d) in self.w.as_mut_slice().iter_mut().zip(g.w.as_slice()) {
            *x -= lr * d;
        }
        for (x, d) in self.f.iter_mut().zip(&g.f) {
            *x -= lr * d;
        }
        for (x, d) in self.c.iter_mut().zip(&g.c) {
            *x -= lr * d;
        }
        loss
    }
}

/// Lazy-regime lag error after `steps` of gradient descent with rate `lr` when the kernel is
/// diagonal and frozen (RI-5): `r_j(k) / r_j(0) = (1 - lr Theta_jj)^k`, which is
/// `exp(-lr Theta_jj t)` at gradient-flow time `t = lr k` up to `O(lr^2 Theta^2 k)`.
pub fn lazy_residual(theta_jj: f64, lr: f64, steps: usize) -> f64 {
    (1.0 - lr * theta_jj).powi(steps as i32)
}

// ---------------------------------------------------------------------------------------------
// Curse of memory (Zucchet et al. 2024)
// ---------------------------------------------------------------------------------------------

/// Stationary `E h^2 = 1/(1 - lambda^2)` of `h_t = lambda h_{t-1} + x_t`, unit white `x`
/// (RI-6); infinite for `|lambda| >= 1`.
pub fn memory_variance(lambda: f64) -> f64 {
    if lambda.abs() >= 1.0 {
        return f64::INFINITY;
    }
    1.0 / (1.0 - lambda * lambda)
}

/// Stationary `Var(dh_t/dlambda) = sum_k k^2 lambda^{2(k-1)} = (1 + lambda^2)/(1 - lambda^2)^3`
/// (RI-6); infinite for `|lambda| >= 1`.
pub fn sensitivity_variance(lambda: f64) -> f64 {
    if lambda.abs() >= 1.0 {
        return f64::INFINITY;
    }
    let l2 = lambda * lambda;
    (1.0 + l2) / (1.0 - l2).powi(3)
}

/// The same two moments after `horizon` steps from `h_0 = 0` (RI-6):
/// `E h_T^2 = sum_{k<T} lambda^{2k}`, `Var(dh_T/dlambda) = sum_{0<k<T} k^2 lambda^{2(k-1)}`.
pub fn finite_horizon_moments(lambda: f64, horizon: usize) -> (f64, f64) {
    let l2 = lambda * lambda;
    let (mut eh2, mut var_s, mut p) = (0.0, 0.0, 1.0); // p = lambda^{2k}
    for k in 0..horizon {
        eh2 += p;
        if k > 0 {
            var_s += (k * k) as f64 * p / l2;
        }
        p *= l2;
    }
    (eh2, var_s)
}

/// Monte Carlo estimates of the two moments of [`finite_horizon_moments`] (RI-6): the mean
/// squares of `h_T` and `s_T = dh_T/dlambda` over `chains` independent chains of `horizon`
/// steps from `h_0 = s_0 = 0`, `s_t = lambda s_{t-1} + h_{t-1}`, `h_t = lambda h_{t-1} + x_t`,
/// the `x_t` drawn chain by chain from `random::rng(seed, stream::SAMPLES)`. Both are centred
/// Gaussians, so each estimate has relative sd `sqrt(2 / chains)`.
pub fn monte_carlo_moments(lambda: f64, horizon: usize, chains: usize, seed: u64) -> (f64, f64) {
    let mut r = rng(seed, stream::SAMPLES);
    let (mut sum_h2, mut sum_s2) = (0.0, 0.0);
    for _ in 0..chains {
        let (mut h, mut s) = (0.0f64, 0.0f64);
        for _ in 0..horizon {
            s = lambda * s + h;
            h = lambda * h + r.sample::<f64, _>(StandardNormal);
        }
        sum_h2 += h * h;
        sum_s2 += s * s;
    }
    let m = chains as f64;
    (sum_h2 / m, sum_s2 / m)
}

// ---------------------------------------------------------------------------------------------
// Extrapolation beyond the training length (Cohen-Karlik et al. 2023)
// ---------------------------------------------------------------------------------------------

/// Diagonal linear RNN with scalar input and output (RI-7): impulse response
/// `k_j = sum_i c_i b_i a_i^j`; all of `a`, `b`, `c` trained.
#[derive(Debug, Clone)]
pub struct DiagonalRnn {
    /// Diagonal recurrence `a_i`.
    pub a: Vec<f64>,
    /// Input weights `b_i`.
    pub b: Vec<f64>,
    /// Readout weights `c_i`.
    pub c: Vec<f64>,
}

/// Initialization of a [`DiagonalRnn`] (RI-7).
#[derive(Debug, Clone, Copy)]
pub enum DiagonalInit {
    /// `a ~ s U(-1, 1)`, `b, c ~ s N(0, 1)`.
    Small {
        /// Scale `s`.
        s: f64,
    },
    /// `a ~ U(-a_max, a_max)`, `b, c ~ N(0, 1)`.
    Large {
        /// Largest `|a|`.
        a_max: f64,
    },
}

impl DiagonalRnn {
    /// Draw `d` states from `random::rng(seed, stream::INIT)`: all `a`, then `b`, then `c`.
    pub fn sample(d: usize, init: DiagonalInit, seed: u64) -> Self {
        let mut r = rng(seed, stream::INIT);
        let (sa, amax, sbc) = match init {
            DiagonalInit::Small { s } => (s, 1.0, s),
            DiagonalInit::Large { a_max } => (1.0, a_max, 1.0),
        };
        let a = (0..d)
            .map(|_| sa * r.random_range(-amax..amax))
            .collect::<Vec<f64>>();
        let b = (0..d)
            .map(|_| sbc * r.sample::<f64, _>(StandardNormal))
            .collect();
        let c = (0..d)
            .map(|_| sbc * r.sample::<f64, _>(StandardNormal))
            .collect();
        DiagonalRnn { a, b, c }
    }

    /// `k_j`, `j = 0..lags`.
    pub fn impulse_response(&self, lags: usize) -> Vec<f64> {
        let mut k = vec![0.0; lags];
        for ((a, b), c) in self.a.iter().zip(&self.b).zip(&self.c) {
            let mut p = c * b;
            for kj in k.iter_mut() {
                *kj += p;
                p *= a;
            }
        }
        k
    }

    /// Loss `1/2 sum_j (k_j - t_j)^2` over the lags of `target`, then one GD step with rate
    /// `lr` on `a`, `b`, `c` (exact gradient: `dk_j/dc_i = b_i a_i^j`, `dk_j/db_i = c_i a_i^j`,
    /// `dk_j/da_i = c_i b_i j a_i^{j-1}`). Returns the loss before the step.
    pub fn gd_step(&mut self, target: &[f64], lr: f64) -> f64 {
        let k = self.impulse_response(target.len());
        let r: Vec<f64> = k.iter().zip(target).map(|(x, t)| x - t).collect();
        let loss = 0.5 * r.iter().map(|x| x * x).sum::<f64>();
        for ((a, b), c) in self
            .a
            .iter_mut()
            .zip(self.b.iter_mut())
            .zip(self.c.iter_mut())
        {
            let (mut ga, mut gb, mut gc) = (0.0, 0.0, 0.0);
            let (mut p, mut dp) = (1.0, 0.0); // a^j, j a^{j-1}
            for (j, rj) in r.iter().enumerate() {
                gc += rj * *b * p;
                gb += rj * *c * p;
                ga += rj * *c * *b * dp;
                dp = (j + 1) as f64 * p;
                p *= *a;
            }
            *a -= lr * ga;
            *b -= lr * gb;
            *c -= lr * gc;
        }
        loss
    }

    /// Effective number of states `(sum |b_i c_i|)^2 / sum (b_i c_i)^2` (RI-7).
    pub fn effective_states(&self) -> f64 {
        let w: Vec<f64> = self.b.iter().zip(&self.c).map(|(b, c)| b * c).collect();
        let l1: f64 = w.iter().map(|x| x.abs()).sum();
        let l2: f64 = w.iter().map(|x| x * x).sum();
        l1 * l1 / l2
    }
}

// ---------------------------------------------------------------------------------------------
// Weight change for an input-driven fixed point (Schuessler et al. 2020)
// ---------------------------------------------------------------------------------------------

/// Large-`N` leading-order weight change `||Delta W||_F = |z_hat - z0| (1 - g^2)` of a linear RNN
/// trained on `W` to the fixed-point output `z_hat` (RI-8, T5.9).
pub fn schuessler_weight_change(z_hat: f64, z0: f64, g: f64) -> f64 {
    (z_hat - z0).abs() * (1.0 - g * g)
}

/// Linear RNN `tau dx/dt = -x + W x + w_in u` with constant `u = 1` read out at its fixed point,
/// `z = w_out^T (I - W)^{-1} w_in`, trained on `W` only (RI-8). `W0 = g chi / sqrt(N)`; `w_in`
/// and `w_out` are uniformly random directions of norm `sqrt(N)` and `1/sqrt(N)`.
#[derive(Debug, Clone)]
pub struct FixedPointRnn {
    /// Initial recurrent weights `W0`.
    pub w0: Matrix,
    /// Input weights, `||w_in|| = sqrt(N)`.
    pub w_in: Vec<f64>,
    /// Readout, `||w_out|| = 1/sqrt(N)`.
    pub w_out: Vec<f64>,
}

/// The realized quantities of one [`FixedPointRnn`] at its init that enter RI-8.
#[derive(Debug, Clone, Copy)]
pub struct FixedPointInit {
    /// Initial output `z0 = w_out^T q0`.
    pub z0: f64,
    /// `||p0||`, `p0 = (I - W0)^{-T} w_out` (the gradient's left factor).
    pub p_norm: f64,
    /// `||q0||`, `q0 = (I - W0)^{-1} w_in = x*` (the gradient's right factor).
    pub q_norm: f64,
    /// `kappa0 = q0^T (I - W0)^{-1} p0`, the first-order coefficient.
    pub kappa: f64,
    /// `||r_perp||`: `r = (I - W0)^{-T} q0` without its component along `p0`.
    pub r_perp: f64,
    /// `||s_perp||`: `s = (I - W0)^{-1} p0` without its component along `q0`.
    pub s_perp: f64,
    /// `tau(X) = tr(X)/N` with `X = M0^T M0`, `M0 = (I - W0)^{-1}`; tends to `1/(1 - g^2)`.
    pub tau_x: f64,
    /// `tau(X^2) = tr(X^2)/N`.
    pub tau_x2: f64,
    /// `sigma = ||q0||^2 ||s||^2 + ||p0||^2 ||r||^2` (2 at `g = 0`), the second-order scale.
    pub sigma: f64,
}

impl FixedPointInit {
    /// `P = ||p0||^2 ||q0||^2`, the rate `dz/dE` at the init (`1/(1 - g^2)^2` for large `N`).
    pub fn rate(&self) -> f64 {
        (self.p_norm * self.q_norm).powi(2)
    }

    /// The expansion variable `x = (z_hat - z0) / P` (RI-8).
    pub fn x(&self, z_hat: f64) -> f64 {
        (z_hat - self.z0) / self.rate()
    }

    /// `eps = kappa0 x`, the first-order relative correction (RI-8).
    pub fn epsilon(&self, z_hat: f64) -> f64 {
        self.kappa * self.x(z_hat)
    }

    /// The second-order coefficient `c2 = 7 kappa0^2 / 4 - 3 sigma / 8` (RI-8).
    pub fn c2(&self) -> f64 {
        1.75 * self.kappa * self.kappa - 0.375 * self.sigma
    }

    /// Gradient-flow weight change to second order in `x` (RI-8):
    /// `||Delta W||_F = |z_hat - z0| / sqrt(P) (1 - kappa0 x + c2 x^2)`.
    pub fn weight_change(&self, z_hat: f64) -> f64 {
        let x = self.x(z_hat);
        (z_hat - self.z0).abs() / self.rate().sqrt() * (1.0 - self.kappa * x + self.c2() * x * x)
    }

    /// Leading-order `sigma_2 / sigma_1` of `Delta W`: `x^2 sqrt(P) ||r_perp|| ||s_perp|| / 12`
    /// (RI-8).
    pub fn sv_ratio(&self, z_hat: f64) -> f64 {
        self.x(z_hat).powi(2) * self.rate().sqrt() * self.r_perp * self.s_perp / 12.0
    }

    /// Relative sd of `||p0|| ||q0|| / (||w_out|| ||w_in||)` over the input and readout
    /// directions at this `W0`: `sqrt((tau(X^2)/tau(X)^2 - 1)/(N + 2))` (RI-8).
    pub fn norm_sd(&self, n: usize) -> f64 {
        ((self.tau_x2 / (self.tau_x * self.tau_x) - 1.0) / (n as f64 + 2.0)).sqrt()
    }
}

/// Result of [`FixedPointRnn::train`].
#[derive(Debug, Clone)]
pub struct FixedPointTrained {
    /// `Delta W = W - W0`.
    pub delta_w: Matrix,
    /// Final output `z`.
    pub z: f64,
    /// Gradient steps taken.
    pub steps: usize,
}

fn unit_direction(r: &mut rand::rngs::ChaCha8Rng, n: usize, norm: f64) -> Vec<f64> {
    let v: Vec<f64> = (0..n).map(|_| r.sample::<f64, _>(StandardNormal)).collect();
    let s = norm / dot(&v, &v).sqrt();
    v.into_iter().map(|x| s * x).collect()
}

impl FixedPointRnn {
    /// Draw `W0` (column by column), then `w_in`, then `w_out` from
    /// `random::rng(seed, stream::INIT)` (RI-8).
    pub fn sample(n: usize, g: f64, seed: u64) -> Self {
        let mut r = rng(seed, stream::INIT);
        let w0 = gaussian_matrix(&mut r, n, n).scale(g / (n as f64).sqrt());
        let w_in = unit_direction(&mut r, n, (n as f64).sqrt());
        let w_out = unit_direction(&mut r, n, 1.0 / (n as f64).sqrt());
        FixedPointRnn { w0, w_in, w_out }
    }

    fn resolvent(&self) -> crate::Result<Matrix> {
        let n = self.w_in.len();
        let a = Matrix::identity(n).sub(&self.w0);
        Ok(crate::linalg::solve(&a, &Matrix::identity(n))?)
    }

    /// The realized init quantities of RI-8 (one `O(N^3)` inverse and one product).
    pub fn init_quantities(&self) -> crate::Result<FixedPointInit> {
        let n = self.w_in.len();
        let m = self.resolvent()?;
        let q = matvec(&m, &self.w_in, 1.0);
        let p = t_matvec(&m, &self.w_out, 1.0);
        let mp = matvec(&m, &p, 1.0);
        let r = t_matvec(&m, &q, 1.0);
        let perp = |x: &[f64], along: &[f64]| {
            let c = dot(x, along) / dot(along, along);
            let y: Vec<f64> = x.iter().zip(along).map(|(a, b)| a - c * b).collect();
            dot(&y, &y).sqrt()
        };
        let x = m.t_matmul(&m);
        let nf = n as f64;
        Ok(FixedPointInit {
            z0: dot(&self.w_out, &q),
            p_norm: dot(&p, &p).sqrt(),
            q_norm: dot(&q, &q).sqrt(),
            kappa: dot(&q, &mp),
            r_perp: perp(&r, &p),
            s_perp: perp(&mp, &q),
            tau_x: x.trace() / nf,
            tau_x2: x.norm_fro().powi(2) / nf,
            sigma: dot(&q, &q) * dot(&mp, &mp) + dot(&p, &p) * dot(&r, &r),
        })
    }

    /// Gradient descent on `L = 1/2 (z_hat - z)^2` over `W` with rate `lr`, until
    /// `|z_hat - z| <= tol` or `max_steps` (RI-8). The gradient `-(z_hat - z) p q^T`
    /// (`p = (I - W)^{-T} w_out`, `q = (I - W)^{-1} w_in`) is rank one, so the inverse is kept
    /// by Sherman-Morrison updates: `O(N^2)` per step after one `O(N^3)` inverse.
    pub fn train(
        &self,
        z_hat: f64,
        lr: f64,
        tol: f64,
        max_steps: usize,
    ) -> crate::Result<FixedPointTrained> {
        let n = self.w_in.len();
        let mut m = self.resolvent()?;
        let mut dw = Matrix::zeros(n, n);
        let mut steps = 0;
        loop {
            let q = matvec(&m, &self.w_in, 1.0);
            let z = dot(&self.w_out, &q);
            let e = z_hat - z;
            if e.abs() <= tol || steps == max_steps {
                return Ok(FixedPointTrained {
                    delta_w: dw,
                    z,
                    steps,
                });
            }
            let p = t_matvec(&m, &self.w_out, 1.0);
            // W += alpha p q^T; (I - W - alpha p q^T)^{-1} = M + alpha M p q^T M / (1 - alpha q^T M p).
            let alpha = lr * e;
            for (col, qb) in dw.as_mut_slice().chunks_exact_mut(n).zip(&q) {
                for (x, pa) in col.iter_mut().zip(&p) {
                    *x += alpha * pa * qb;
                }
            }
            let mp = matvec(&m, &p, 1.0);
            let qm = t_matvec(&m, &q, 1.0);
            let c = alpha / (1.0 - alpha * dot(&q, &mp));
            for (col, qmb) in m.as_mut_slice().chunks_exact_mut(n).zip(&qm) {
                for (x, mpa) in col.iter_mut().zip(&mp) {
                    *x += c * mpa * qmb;
                }
            }
            steps += 1;
        }
    }
}
