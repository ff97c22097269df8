//! The minimal model of learning to integrate: a single outlier eigenvalue of the recurrent
//! weights (theory/outlier.md, OL-1..OL-11; Bordelon, Cotler, Pehlevan & Zavatone-Veth 2025;
//! reference notes §5.2, T5.4-T5.7, checks B1-B2).
//!
//! A linear RNN with recurrent weights `W` (N x N), read-in `u` (N) and readout `v` (N), driven
//! by unit white noise, is trained to reproduce a leaky integrator. On the aligned manifold
//! `W = lambda r r^T`, `u = alpha r`, `v = beta r` (`||r|| = 1`) the loss depends only on the
//! state `[alpha, beta, lambda]` (this ordering everywhere below), and gradient flow keeps the
//! manifold invariant (OL-7). [`ContinuousOutlier`] is the continuous-time model (OL-1..OL-3),
//! [`DiscreteOutlier`] the discrete-time one with infinite or finite-sequence lag weights
//! (OL-4..OL-5), and [`full_matrix_loss_grad`] an independent computation of the same loss and
//! its gradients for arbitrary `(W, u, v)` (OL-6) that the tests compare against;
//! [`full_matrix_loss_grad_damped`] is the same for the damped-oscillation target
//! `gamma^j cos(omega j)`, whose minimal realization is a conjugate pair of outliers (OL-10),
//! and serves the full-matrix GD runs from a random bulk (OL-10, OL-11).
//!
//! Out of the domain where a loss is finite (`lambda >= 1` or `c_star <= 0` in continuous
//! time; `|lambda| >= 1` or `|gamma| >= 1` with infinite lags) losses and gradients are NaN, so
//! an ODE solve stops with a non-finite-state error instead of panicking.

use crate::error::{Error, Result};
use crate::integrate::VectorField;
use crate::linalg::Matrix;

/// Continuous-time outlier model (T5.4-T5.6; OL-1..OL-3): `dh/dt = -h + W h + u x`,
/// `y = v^T h`, unit white-noise input `x(t)`, target `y*(t) = int e^{-c_star (t - s)} x(s) ds`.
///
/// State `[alpha, beta, lambda]`: read-in gain, readout gain and outlier eigenvalue of
/// `W = lambda r r^T`; the impulse response is `A e^{-c tau}` with `A = alpha beta` and
/// `c = 1 - lambda` (decay rate per unit of network time). Requires `c_star > 0` (a leaky
/// target; the perfect integrator `c_star = 0` has infinite loss) and `lambda < 1` (a stable
/// network); outside, [`ContinuousOutlier::loss`] and the gradient are NaN.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContinuousOutlier {
    /// Target decay rate `c_star > 0` (per unit of network time).
    pub c_star: f64,
}

impl ContinuousOutlier {
    /// The model with target decay `c_star`; an error unless `c_star` is finite and positive.
    pub fn new(c_star: f64) -> Result<Self> {
        if !(c_star.is_finite() && c_star > 0.0) {
            return Err(Error::invalid(
                "c_star",
                format!(
                    "target decay rate must be finite and > 0, got {c_star}; the perfect \
                     integrator c_star = 0 has infinite loss, use a small positive value"
                ),
            ));
        }
        Ok(ContinuousOutlier { c_star })
    }

    /// `(A, c)` of a state `[alpha, beta, lambda]`, or `None` outside the domain.
    fn amp_rate(&self, y: &[f64]) -> Option<(f64, f64)> {
        let c = 1.0 - y[2];
        let cs = self.c_star;
        (c > 0.0 && cs > 0.0 && y.iter().all(|v| v.is_finite())).then_some((y[0] * y[1], c))
    }

    /// Population loss (T5.5, OL-2) of the state `[alpha, beta, lambda]`:
    /// `1/2 int_0^inf (A e^{-c tau} - e^{-c_star tau})^2 dtau
    ///  = 1/2 [A^2/(2c) - 2A/(c + c_star) + 1/(2 c_star)]`,
    /// evaluated in the residual form of OL-2 (no cancellation near the optimum). NaN outside
    /// the domain (`lambda >= 1`, `c_star <= 0`, non-finite state).
    pub fn loss(&self, y: &[f64]) -> f64 {
        let Some((a, c)) = self.amp_rate(y) else {
            return f64::NAN;
        };
        let (p, q) = (c, self.c_star);
        let d = a - 1.0;
        let num = q * (p + q) * d * d + (p - q) * (p - q) - 2.0 * q * (p - q) * d;
        num / (4.0 * p * q * (p + q))
    }

    /// `(dL/dA, dL/dc)` (T5.6, OL-3) in residual form.
    fn partials(&self, a: f64, c: f64) -> (f64, f64) {
        let cs = self.c_star;
        let s = c + cs;
        let la = ((a - 1.0) * s + (cs - c)) / (2.0 * c * s);
        let lc = a * ((c - cs) * (3.0 * c + cs) - (a - 1.0) * s * s) / (4.0 * c * c * s * s);
        (la, lc)
    }

    /// Gradient `[dL/dalpha, dL/dbeta, dL/dlambda] = [beta L_A, alpha L_A, -L_c]` (OL-3) of
    /// [`ContinuousOutlier::loss`] at `y`, written into `g` (length 3). NaN outside the domain.
    pub fn gradient(&self, y: &[f64], g: &mut [f64]) {
        let Some((a, c)) = self.amp_rate(y) else {
            g[..3].fill(f64::NAN);
            return;
        };
        let (la, lc) = self.partials(a, c);
        g[0] = y[1] * la;
        g[1] = y[0] * la;
        g[2] = -lc;
    }
}

impl VectorField for ContinuousOutlier {
    fn dim(&self) -> usize {
        3
    }
    /// Gradient flow (T5.6, OL-3): `d[alpha, beta, lambda]/dt = -grad L`.
    fn eval(&mut self, _t: f64, y: &[f64], dydt: &mut [f64]) {
        self.gradient(y, dydt);
        for d in dydt.iter_mut() {
            *d = -*d;
        }
    }
}

/// Weights `w_k` of the squared impulse-response errors at lag `k` in the discrete loss (OL-4,
/// OL-5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LagWeights {
    /// `w_k = 1` for all `k >= 0`: the stationary loss (T5.7), finite only for `|lambda| < 1`
    /// and `|gamma| < 1`.
    Infinite,
    /// `w_k = (T - k)/T` for `k = 0..T-1` (`T = steps >= 1`): the loss averaged over the `T`
    /// output steps of length-`T` sequences started from `h_0 = 0` (OL-5), which is what BPTT
    /// on finite sequences minimizes. Finite for every `lambda` and `gamma`.
    Finite {
        /// Sequence length `T` (number of time steps).
        steps: usize,
    },
}

impl LagWeights {
    /// An error unless the weights are usable (`steps >= 1`).
    fn check(&self) -> Result<()> {
        match self {
            LagWeights::Finite { steps: 0 } => Err(Error::invalid(
                "weights.steps",
                "the sequence length T must be at least 1",
            )),
            _ => Ok(()),
        }
    }
}

/// Discrete-time outlier model (T5.7; OL-4, OL-5) for `h_t = W h_{t-1} + u x_t`,
/// `y_t = v^T h_t`, unit white-noise scalar inputs `x_t`, target impulse response `gamma^k`:
/// `L = 1/2 sum_k w_k (alpha beta lambda^k - gamma^k)^2` on the state `[alpha, beta, lambda]`
/// (`W = lambda r r^T`, `u = alpha r`, `v = beta r`), with lag weights `w_k` from
/// [`LagWeights`]. Time `t` of the gradient flow is learning rate times GD steps (C-6).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DiscreteOutlier {
    /// Target per-step decay `gamma` (impulse response `gamma^k` at lag `k`).
    pub gamma: f64,
    /// Lag weights.
    pub weights: LagWeights,
}

impl DiscreteOutlier {
    /// The model; an error unless `gamma` is finite, `|gamma| < 1` for
    /// [`LagWeights::Infinite`], and `steps >= 1` for [`LagWeights::Finite`].
    pub fn new(gamma: f64, weights: LagWeights) -> Result<Self> {
        weights.check()?;
        if !gamma.is_finite() || (weights == LagWeights::Infinite && gamma.abs() >= 1.0) {
            return Err(Error::invalid(
                "gamma",
                format!(
                    "target decay must be finite, and |gamma| < 1 with infinite lag weights \
                     (got {gamma}); for gamma = 1 (the perfect integrator) use \
                     LagWeights::Finite"
                ),
            ));
        }
        Ok(DiscreteOutlier { gamma, weights })
    }

    /// Loss (OL-4 for `Infinite`, in the residual form
    /// `[QR (A-1)^2 + 2 Q lambda (lambda-gamma)(A-1) + (lambda-gamma)^2 (1 + lambda gamma)]
    ///  / (2 P Q R)`, `P = 1 - lambda^2`, `Q = 1 - gamma^2`, `R = 1 - lambda gamma`;
    /// OL-5 as a direct `T`-term sum for `Finite`). NaN outside the domain.
    pub fn loss(&self, y: &[f64]) -> f64 {
        let (a, l, gm) = (y[0] * y[1], y[2], self.gamma);
        match self.weights {
            LagWeights::Infinite => {
                if !(l.abs() < 1.0 && gm.abs() < 1.0 && a.is_finite()) {
                    return f64::NAN;
                }
                let (p, q, r) = (1.0 - l * l, 1.0 - gm * gm, 1.0 - l * gm);
                let (d, e) = (a - 1.0, l - gm);
                (q * r * d * d + 2.0 * q * l * e * d + e * e * (1.0 + l * gm)) / (2.0 * p * q * r)
            }
            LagWeights::Finite { steps } => {
                if steps == 0 {
                    return f64::NAN;
                }
                let (mut lk, mut gk, mut sum) = (1.0, 1.0, 0.0);
                for k in 0..steps {
                    let e = a * lk - gk;
                    sum += (steps - k) as f64 * e * e;
                    lk *= l;
                    gk *= gm;
                }
                0.5 * sum / steps as f64
            }
        }
    }

    /// `(dL/dA, dL/dlambda)` at `A = alpha beta` (OL-4 residual forms / OL-5 sums).
    fn partials(&self, a: f64, l: f64) -> (f64, f64) {
        let gm = self.gamma;
        match self.weights {
            LagWeights::Infinite => {
                if !(l.abs() < 1.0 && gm.abs() < 1.0) {
                    return (f64::NAN, f64::NAN);
                }
                let (p, r) = (1.0 - l * l, 1.0 - l * gm);
                let la = ((a - 1.0) * r + l * (l - gm)) / (p * r);
                let ll = a * ((a - 1.0) * l * r * r + (l - gm) * (1.0 - gm * l * l * l))
                    / (p * p * r * r);
                (la, ll)
            }
            LagWeights::Finite { steps } => {
                if steps == 0 {
                    return (f64::NAN, f64::NAN);
                }
                let (mut lk, mut klk1, mut gk) = (1.0, 0.0, 1.0); // l^k, k l^{k-1}, gm^k
                let (mut la, mut ll) = (0.0, 0.0);
                for k in 0..steps {
                    let we = (steps - k) as f64 * (a * lk - gk);
                    la += we * lk;
                    ll += we * a * klk1;
                    klk1 = (k + 1) as f64 * lk;
                    lk *= l;
                    gk *= gm;
                }
                (la / steps as f64, ll / steps as f64)
            }
        }
    }

    /// Gradient `[dL/dalpha, dL/dbeta, dL/dlambda] = [beta L_A, alpha L_A, L_lambda]` of
    /// [`DiscreteOutlier::loss`] at `y`, written into `g` (length 3). NaN outside the domain.
    pub fn gradient(&self, y: &[f64], g: &mut [f64]) {
        if !y[..3].iter().all(|v| v.is_finite()) {
            g[..3].fill(f64::NAN);
            return;
        }
        let (la, ll) = self.partials(y[0] * y[1], y[2]);
        g[0] = y[1] * la;
        g[1] = y[0] * la;
        g[2] = ll;
    }
}

impl VectorField for DiscreteOutlier {
    fn dim(&self) -> usize {
        3
    }
    /// Gradient flow `d[alpha, beta, lambda]/dt = -grad L` (OL-3 analogue for OL-4/OL-5).
    fn eval(&mut self, _t: f64, y: &[f64], dydt: &mut [f64]) {
        self.gradient(y, dydt);
        for d in dydt.iter_mut() {
            *d = -*d;
        }
    }
}

/// The outlier model of the rate (Euler) RNN `h_t = (1 - a) h_{t-1} + a (W h_{t-1} + U x_t)`,
/// `y_t = C h_t` (identity `phi`, `a = dt / tau`), on the aligned manifold `W = lambda r r^T`,
/// `U = b r`, `C = c r^T` (OL-9): the effective one-step eigenvalue is
/// `mu = 1 - a + a lambda` and the impulse response `a b c mu^k`, so with the target
/// `s gamma^k` the loss is `L = 1/2 sum_k w_k (a b c mu^k - s gamma^k)^2
/// = s^2 L_disc(a b / s, c, mu)` in terms of [`DiscreteOutlier`]. State `[b, c, lambda]`
/// (input gain, readout gain, eigenvalue of `W`); its gradient flow is not the discrete
/// model's (the parametrization differs by the factors `a`).
///
/// With `s = a` and `gamma = e^{-c_star a}` this is the Euler discretization of the
/// continuous model [`ContinuousOutlier`]: `L / a -> ` OL-2 and, in the time `a t`, the flow
/// tends to OL-3 as `a -> 0` (checked at first order in `a`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateOutlier {
    /// `a = dt / tau`, in (0, 1].
    pub alpha: f64,
    /// Target amplitude `s` (1 for the integrate task's `y_t = sum_s gamma^(t-s) x_s`).
    pub scale: f64,
    /// The discrete model of the one-step map (target decay `gamma`, lag weights).
    pub map: DiscreteOutlier,
}

impl RateOutlier {
    /// Error unless `alpha` lies in (0, 1], `scale` is finite and nonzero, and
    /// [`DiscreteOutlier::new`] accepts `gamma` and `weights`.
    pub fn new(alpha: f64, scale: f64, gamma: f64, weights: LagWeights) -> Result<Self> {
        if !(alpha > 0.0 && alpha <= 1.0) {
            return Err(Error::invalid(
                "alpha",
                format!("dt / tau must lie in (0, 1], got {alpha}"),
            ));
        }
        if !scale.is_finite() || scale == 0.0 {
            return Err(Error::invalid(
                "scale",
                format!("target amplitude must be finite and nonzero, got {scale}"),
            ));
        }
        Ok(RateOutlier {
            alpha,
            scale,
            map: DiscreteOutlier::new(gamma, weights)?,
        })
    }

    /// The discrete state `[a b / s, c, mu]` of the one-step map.
    fn one_step(&self, y: &[f64]) -> [f64; 3] {
        let a = self.alpha;
        [a * y[0] / self.scale, y[1], 1.0 - a + a * y[2]]
    }

    /// Loss `s^2 L_disc(a b / s, c, mu)` (OL-9).
    pub fn loss(&self, y: &[f64]) -> f64 {
        self.scale * self.scale * self.map.loss(&self.one_step(y))
    }

    /// Gradient with respect to `[b, c, lambda]` by the chain rule through the one-step map `[a b / s, c, 1 - a + a lambda]`.
    pub fn gradient(&self, y: &[f64], g: &mut [f64]) {
        let z = self.one_step(y);
        let mut gd = [0.0; 3];
        self.map.gradient(&z, &mut gd);
        let (a, s2) = (self.alpha, self.scale * self.scale);
        g[0] = s2 * gd[0] * a / self.scale;
        g[1] = s2 * gd[1];
        g[2] = s2 * gd[2] * a;
    }
}

impl VectorField for RateOutlier {
    fn dim(&self) -> usize {
        3
    }
    /// Gradient flow `d[b, c, lambda]/dt = -grad L` (OL-9).
    fn eval(&mut self, _t: f64, y: &[f64], dydt: &mut [f64]) {
        self.gradient(y, dydt);
        for d in dydt.iter_mut() {
            *d = -*d;
        }
    }
}

/// Loss and gradients of the full-matrix discrete linear RNN (OL-6).
#[derive(Debug, Clone, PartialEq)]
pub struct FullLossGrad {
    /// `L = 1/2 sum_{k<K} w_k (v^T W^k u - gamma^k)^2`.
    pub loss: f64,
    /// `dL/dW`, `N x N`.
    pub dw: Matrix,
    /// `dL/du`, length `N`.
    pub du: Vec<f64>,
    /// `dL/dv`, length `N`.
    pub dv: Vec<f64>,
    /// Number of lags `K` summed (`T` for finite weights; the truncation point otherwise).
    pub lags: usize,
}

/// Relative size below which the tail of the infinite lag sum is dropped (OL-6).
const TAIL_RTOL: f64 = 1e-18;
/// Largest number of lags summed for infinite weights before giving up.
const MAX_LAGS: usize = 1_000_000;

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// `out = W x[..N]` for an `N x N` matrix.
fn matvec(w: &Matrix, x: &[f64], out: &mut [f64]) {
    out.fill(0.0);
    for (j, &xj) in x.iter().take(w.ncols()).enumerate() {
        for (i, o) in out.iter_mut().enumerate() {
            *o += w.get(i, j) * xj;
        }
    }
}

/// `out = W^T x` for an `N x N` matrix.
fn matvec_t(w: &Matrix, x: &[f64], out: &mut [f64]) {
    for (j, o) in out.iter_mut().enumerate() {
        *o = (0..w.nrows()).map(|i| w.get(i, j) * x[i]).sum();
    }
}

/// Tail bound for infinite lags: a power `m = 2^b` with `s = ||W^m||_F < 1`, and a bound `C`
/// on `||W^r||_2` for `0 <= r < m` (product of the Frobenius norms of the squarings, each at
/// least 1). An error if no `m <= 2^30` gives `s < 1` (spectral radius of `W` not below 1).
fn contraction(w: &Matrix) -> Result<(f64, f64, f64)> {
    let mut p = w.clone();
    let mut c = 1.0;
    let mut m = 1.0;
    for _ in 0..=30 {
        let s = p.norm_fro();
        if !s.is_finite() {
            break;
        }
        if s < 1.0 {
            return Ok((m, s, c));
        }
        c *= s;
        m *= 2.0;
        p = p.matmul(&p);
    }
    Err(Error::invalid(
        "w",
        "the spectral radius of W must be below 1 for LagWeights::Infinite (the lag sum \
         diverges); shrink W or use LagWeights::Finite",
    ))
}

/// Independent full-matrix computation (OL-6) for the discrete linear RNN
/// `h_t = W h_{t-1} + u x_t`, `y_t = v^T h_t` with parameters `W` (`N x N`), `u` (`N`), `v`
/// (`N`), under the loss `L = 1/2 sum_k w_k (v^T W^k u - gamma^k)^2` of [`DiscreteOutlier`]:
/// loss and gradients `dL/dW`, `dL/du`, `dL/dv`, by a forward pass `q_k = W^k u` and the
/// backward (BPTT) recursion `z_{K-1} = 0`, `z_m = w_{m+1} e_{m+1} v + W^T z_{m+1}`,
/// `dL/dW = sum_m z_m q_m^T`, `dL/du = w_0 e_0 v + W^T z_0`, `dL/dv = sum_k w_k e_k q_k`.
///
/// `Finite { steps: T }` sums exactly `T` lags. `Infinite` sums lags until a rigorous bound on
/// the remaining `sum_{k >= K} (1 + k)(|v^T W^k u| + |gamma|^k)` is below `1e-18` times the
/// sum of `|v^T W^k u| + |gamma|^k` so far; it needs the spectral radius of `W` below 1 and
/// `|gamma| < 1`. Errors: shape mismatches, non-finite input, and those domain conditions.
pub fn full_matrix_loss_grad(
    w: &Matrix,
    u: &[f64],
    v: &[f64],
    gamma: f64,
    weights: &LagWeights,
) -> Result<FullLossGrad> {
    full_matrix_loss_grad_damped(w, u, v, gamma, 0.0, weights)
}

/// `N` of parameters `(W, u, v)` of shapes `N x N`, `N`, `N` with `N >= 1`; a shape error
/// otherwise (shared by the discrete OL-6 and continuous OL-12 losses).
pub(crate) fn check_shapes(w: &Matrix, u: &[f64], v: &[f64]) -> Result<usize> {
    let n = u.len();
    if n == 0 || w.nrows() != n || w.ncols() != n || v.len() != n {
        return Err(Error::Shape {
            what: "(W, u, v)".into(),
            expected: format!("W {n} x {n}, u and v of equal nonzero length {n}"),
            got: format!("W {} x {}, v {}", w.nrows(), w.ncols(), v.len()),
        });
    }
    Ok(n)
}

/// [`full_matrix_loss_grad`] for the damped-oscillation target `k_j = gamma^j cos(omega j)`
/// (OL-10; `omega = 0` is the leaky integrator, bit for bit): loss
/// `L = 1/2 sum_k w_k (v^T W^k u - gamma^k cos(omega k))^2` and its gradients. The minimal
/// realization of this target is two-dimensional, with the conjugate pair of eigenvalues
/// `gamma e^{+-i omega}`. Since `|gamma^k cos(omega k)| <= |gamma|^k`, the tail bound of
/// [`full_matrix_loss_grad`] for infinite lags holds unchanged. Errors as
/// [`full_matrix_loss_grad`], plus a non-finite `omega`.
pub fn full_matrix_loss_grad_damped(
    w: &Matrix,
    u: &[f64],
    v: &[f64],
    gamma: f64,
    omega: f64,
    weights: &LagWeights,
) -> Result<FullLossGrad> {
    let n = check_shapes(w, u, v)?;
    if !(w.as_slice().iter().chain(u).chain(v).all(|x| x.is_finite())
        && gamma.is_finite()
        && omega.is_finite())
    {
        return Err(Error::invalid(
            "(W, u, v, gamma, omega)",
            "parameters must be finite (no NaN or inf)",
        ));
    }
    weights.check()?;
    // Target k_j = gamma^j cos(omega j); cos(0) = 1 exactly, so omega = 0 is gamma^j bit for bit.
    let target = |k: usize, gk: f64| gk * (omega * k as f64).cos();
    // Forward pass: q_k = W^k u and errors e_k = v^T q_k - k_k.
    // q_k is qs[k n..(k + 1) n] (flat, lag-major).
    let mut qs: Vec<f64> = u.to_vec();
    let mut errs: Vec<f64> = Vec::new();
    let mut next = vec![0.0; n];
    match *weights {
        LagWeights::Finite { steps } => {
            let mut gk = 1.0;
            for k in 0..steps {
                errs.push(dot(v, &qs[k * n..]) - target(k, gk));
                gk *= gamma;
                if k + 1 < steps {
                    matvec(w, &qs[k * n..], &mut next);
                    qs.extend_from_slice(&next);
                }
            }
        }
        LagWeights::Infinite => {
            if gamma.abs() >= 1.0 {
                return Err(Error::invalid(
                    "gamma",
                    format!("|gamma| must be < 1 for LagWeights::Infinite, got {gamma}"),
                ));
            }
            let (m, s, c) = contraction(w)?;
            let (vn, ga) = (norm(v), gamma.abs());
            let (mut gk, mut acc) = (1.0, 0.0);
            loop {
                let k = errs.len();
                let a = dot(v, &qs[k * n..]);
                let tk = target(k, gk);
                errs.push(a - tk);
                acc += a.abs() + tk.abs();
                gk *= gamma;
                matvec(w, &qs[k * n..], &mut next);
                qs.extend_from_slice(&next);
                // Tail from K = k + 1 (OL-6): |v^T W^{K+i} u| <= ||v|| C s^{floor(i/m)} ||q_K||.
                let kk = (k + 1) as f64;
                let tail_a =
                    vn * c * norm(&next) * m * (kk / (1.0 - s) + m / ((1.0 - s) * (1.0 - s)));
                let tail_g =
                    ga.powf(kk) * ((1.0 + kk) / (1.0 - ga) + ga / ((1.0 - ga) * (1.0 - ga)));
                if tail_a + tail_g <= TAIL_RTOL * acc {
                    break;
                }
                if k + 1 >= MAX_LAGS {
                    return Err(Error::invalid(
                        "w",
                        format!(
                            "the infinite lag sum needs more than {MAX_LAGS} terms (spectral \
                             radius of W or |gamma| too close to 1); use LagWeights::Finite"
                        ),
                    ));
                }
            }
            qs.truncate(errs.len() * n);
        }
    }
    let kl = errs.len();
    let wt = |k: usize| match *weights {
        LagWeights::Infinite => 1.0,
        LagWeights::Finite { steps } => (steps - k) as f64 / steps as f64,
    };
    let g: Vec<f64> = (0..kl).map(|k| wt(k) * errs[k]).collect();
    let loss = 0.5 * g.iter().zip(&errs).map(|(gk, ek)| gk * ek).sum::<f64>();
    let mut dv = vec![0.0; n];
    for (gk, q) in g.iter().zip(qs.chunks_exact(n)) {
        for (d, qi) in dv.iter_mut().zip(q) {
            *d += gk * qi;
        }
    }
    // Backward pass.
    let mut dw = Matrix::zeros(n, n);
    let mut z = vec![0.0; n]; // z_{K-1}
    let mut tmp = vec![0.0; n];
    for mm in (0..kl.saturating_sub(1)).rev() {
        matvec_t(w, &z, &mut tmp);
        for ((zi, vi), ti) in z.iter_mut().zip(v).zip(&tmp) {
            *zi = g[mm + 1] * vi + ti;
        }
        let q = &qs[mm * n..(mm + 1) * n];
        for (j, qj) in q.iter().enumerate() {
            for (i, zi) in z.iter().enumerate() {
                dw.set(i, j, dw.get(i, j) + zi * qj);
            }
        }
    }
    matvec_t(w, &z, &mut tmp);
    let du: Vec<f64> = (0..n).map(|i| g[0] * v[i] + tmp[i]).collect();
    Ok(FullLossGrad {
        loss,
        dw,
        du,
        dv,
        lags: kl,
    })
}

/// Checks that `r` is a unit vector (to `1e-12`).
fn check_unit(r: &[f64]) -> Result<()> {
    let nr = norm(r);
    if r.is_empty() || (nr - 1.0).abs() > 1e-12 || nr.is_nan() {
        return Err(Error::invalid(
            "r",
            format!("must be a nonempty unit vector, got norm {nr}; normalize it first"),
        ));
    }
    Ok(())
}

/// Aligned parameters (T5.4, OL-1) from `[alpha, beta, lambda]` and a unit vector `r` (length
/// `N`): `(W, u, v) = (lambda r r^T, alpha r, beta r)`, `W` of size `N x N`. The same linear map
/// lifts a reduced gradient `[g_alpha, g_beta, g_lambda]` to the full one on the manifold
/// (OL-7). An error unless `||r|| = 1` to `1e-12`.
pub fn aligned_params(state: &[f64; 3], r: &[f64]) -> Result<(Matrix, Vec<f64>, Vec<f64>)> {
    check_unit(r)?;
    let n = r.len();
    let [alpha, beta, lambda] = *state;
    let w = Matrix::from_fn(n, n, |i, j| lambda * r[i] * r[j]);
    Ok((
        w,
        r.iter().map(|x| alpha * x).collect(),
        r.iter().map(|x| beta * x).collect(),
    ))
}

/// Projection of `(W, u, v)` onto the aligned manifold of a unit vector `r` (OL-7).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlignedProjection {
    /// `[alpha, beta, lambda] = [r^T u, r^T v, r^T W r]`.
    pub state: [f64; 3],
    /// Off-manifold leak: the largest of `||u - alpha r||`, `||v - beta r||` and
    /// `||W - lambda r r^T||_F` (0 exactly on the manifold).
    pub leak: f64,
}

/// Project `(W, u, v)` (`N x N`, `N`, `N`) onto the aligned manifold of the unit vector `r`:
/// `alpha = r^T u`, `beta = r^T v`, `lambda = r^T W r`, plus the off-manifold leak. Errors on
/// shape mismatch or non-unit `r`.
pub fn project_aligned(w: &Matrix, u: &[f64], v: &[f64], r: &[f64]) -> Result<AlignedProjection> {
    check_unit(r)?;
    let n = r.len();
    if w.nrows() != n || w.ncols() != n || u.len() != n || v.len() != n {
        return Err(Error::Shape {
            what: "(W, u, v) vs r".into(),
            expected: format!("W {n} x {n}, u and v of length {n}"),
            got: format!(
                "W {} x {}, u {}, v {}",
                w.nrows(),
                w.ncols(),
                u.len(),
                v.len()
            ),
        });
    }
    let mut wr = vec![0.0; n];
    matvec(w, r, &mut wr);
    let (alpha, beta, lambda) = (dot(r, u), dot(r, v), dot(r, &wr));
    let off = |x: &[f64], s: f64| {
        x.iter()
            .zip(r)
            .map(|(xi, ri)| (xi - s * ri).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let mut ow = 0.0;
    for j in 0..n {
        for i in 0..n {
            ow += (w.get(i, j) - lambda * r[i] * r[j]).powi(2);
        }
    }
    Ok(AlignedProjection {
        state: [alpha, beta, lambda],
        leak: off(u, alpha).max(off(v, beta)).max(ow.sqrt()),
    })
}

/// Parameters `(W, u, v)` of the full-matrix discrete linear RNN of [`full_matrix_loss_grad`]:
/// `W` (`N x N`), read-in `u` and readout `v` (length `N`).
#[derive(Debug, Clone, PartialEq)]
pub struct FullParams {
    /// Recurrent weights, `N x N`.
    pub w: Matrix,
    /// Read-in, length `N`.
    pub u: Vec<f64>,
    /// Readout, length `N`.
    pub v: Vec<f64>,
}

impl FullParams {
    /// The random bulk init of OL-10 and OL-11, all from
    /// `random::rng(seed, random::stream::INIT)` in this order: `W0 = g chi / sqrt(N)` (`chi`
    /// standard Gaussian, so the bulk has radius `~ g`), then `u` and `v` with entries
    /// `N(0, s^2 / N)` (so `||u||, ||v|| ~ s`). `n = 0` gives empty parameters, which
    /// [`full_matrix_gd`] rejects.
    pub fn random_bulk(seed: u64, n: usize, g: f64, s: f64) -> Self {
        use crate::random::{gaussian_matrix, rng, stream};
        let mut r = rng(seed, stream::INIT);
        let w = gaussian_matrix(&mut r, n, n).scale(g / (n.max(1) as f64).sqrt());
        let sc = s / (n.max(1) as f64).sqrt();
        let u = gaussian_matrix(&mut r, n, 1).scale(sc).into_vec();
        let v = gaussian_matrix(&mut r, n, 1).scale(sc).into_vec();
        Self { w, u, v }
    }
}

/// The result of [`full_matrix_gd`].
#[derive(Debug, Clone, PartialEq)]
pub struct FullGdRun {
    /// The parameters after the last step.
    pub params: FullParams,
    /// The loss before each step and, last, at the final parameters (`steps + 1` values; fewer
    /// if the run diverged).
    pub losses: Vec<f64>,
    /// The step at which the loss, a gradient or the parameters became non-finite, if any: the
    /// run stops there, `params` are the last finite parameters and `losses` holds the finite
    /// losses before it.
    pub diverged_at: Option<usize>,
}

/// Plain full-batch gradient descent on the exact expected loss of
/// [`full_matrix_loss_grad_damped`] (OL-6, OL-10): `steps` updates
/// `theta <- theta - eta grad L(theta)` of all of `(W, u, v)` from `init`, for the target
/// `gamma^j cos(omega j)` under `weights`. Step `k` is gradient-flow time `t = eta k` (C-6).
/// A step that makes the loss, a gradient or the parameters non-finite (GD diverging) ends the
/// run with [`FullGdRun::diverged_at`] set. Errors: those of [`full_matrix_loss_grad_damped`]
/// (at any step: e.g. the spectral radius reaching 1 under infinite lags; non-finite `init`),
/// and a non-finite or non-positive `eta`.
pub fn full_matrix_gd(
    init: FullParams,
    gamma: f64,
    omega: f64,
    weights: &LagWeights,
    eta: f64,
    steps: usize,
) -> Result<FullGdRun> {
    // Finite parameters with an infinite-lag sum that no longer converges: diverged.
    let stop_on_err = matches!(weights, LagWeights::Infinite);
    gd_with(init, eta, steps, stop_on_err, |w, u, v| {
        full_matrix_loss_grad_damped(w, u, v, gamma, omega, weights)
    })
}

/// Plain gradient descent on the loss `f` (shared by OL-6/OL-10's discrete and OL-12's
/// continuous losses): `steps` updates of all of `(W, u, v)` from `init`. A step that makes
/// the loss, a gradient or the parameters non-finite ends the run with `diverged_at`; so does
/// an error of `f` after the first step when `stop_on_err` (the loss left its domain).
pub(crate) fn gd_with(
    init: FullParams,
    eta: f64,
    steps: usize,
    stop_on_err: bool,
    f: impl Fn(&Matrix, &[f64], &[f64]) -> Result<FullLossGrad>,
) -> Result<FullGdRun> {
    if !(eta.is_finite() && eta > 0.0) {
        return Err(Error::invalid(
            "eta",
            format!("the learning rate must be finite and positive, got {eta}"),
        ));
    }
    let FullParams {
        mut w,
        mut u,
        mut v,
    } = init;
    let mut losses = Vec::with_capacity(steps + 1);
    let finite = |r: &FullLossGrad| {
        r.loss.is_finite()
            && r.dw
                .as_slice()
                .iter()
                .chain(&r.du)
                .chain(&r.dv)
                .all(|x| x.is_finite())
    };
    let mut r = f(&w, &u, &v)?;
    for step in 0..steps {
        if !finite(&r) {
            return Ok(FullGdRun {
                params: FullParams { w, u, v },
                losses,
                diverged_at: Some(step),
            });
        }
        losses.push(r.loss);
        let nw = w.clone().add_scaled(&r.dw, -eta);
        let nu: Vec<f64> = u.iter().zip(&r.du).map(|(x, d)| x - eta * d).collect();
        let nv: Vec<f64> = v.iter().zip(&r.dv).map(|(x, d)| x - eta * d).collect();
        if !nw
            .as_slice()
            .iter()
            .chain(&nu)
            .chain(&nv)
            .all(|x| x.is_finite())
        {
            return Ok(FullGdRun {
                params: FullParams { w, u, v },
                losses,
                diverged_at: Some(step + 1),
            });
        }
        (w, u, v) = (nw, nu, nv);
        r = match f(&w, &u, &v) {
            Ok(r) => r,
            Err(_) if stop_on_err => {
                return Ok(FullGdRun {
                    params: FullParams { w, u, v },
                    losses,
                    diverged_at: Some(step + 1),
                })
            }
            Err(e) => return Err(e),
        };
    }
    let diverged_at = (!finite(&r)).then_some(steps);
    if diverged_at.is_none() {
        losses.push(r.loss);
    }
    Ok(FullGdRun {
        params: FullParams { w, u, v },
        losses,
        diverged_at,
    })
}

/// The curvature `s` of OL-10's tolerance: the smallest eigenvalue of the 2x2 Schur
/// complement, on the eigenvalue coordinates `(Re mu, Im mu)`, of the Hessian of
/// `L(c, mu) = 1/2 sum_j (2 Re(c mu^j) - k_j)^2` (infinite lags) at its minimum `c = 1/2`,
/// `mu = z = gamma e^{i omega}` (`|z| < 1`, `Im z != 0`). At zero residual the Hessian is
/// `J^T J` with `J_j = d a_j / d(Re c, Im c, Re mu, Im mu) = 2 (Re mu^j, -Im mu^j,
/// Re(c j mu^{j-1}), -Im(c j mu^{j-1}))`. Minimising over the amplitude `c` at fixed `mu`,
/// `L >= 1/2 s |mu - z|^2` to second order, so a final loss `L` bounds the pair's error by
/// `sqrt(2 L / s)` (if the rest of the network adds nothing to the response). 54.58 at
/// `gamma = 0.9`, `omega = 0.5`. NaN for `|z| >= 1` or a real `z` (where the amplitude block
/// is singular).
pub fn pair_eigenvalue_curvature(z: num_complex::Complex64) -> f64 {
    use num_complex::Complex64;
    if z.norm().is_nan() || z.norm() >= 1.0 || z.im == 0.0 {
        return f64::NAN;
    }
    let c = Complex64::new(0.5, 0.0);
    let mut h = [[0.0f64; 4]; 4];
    let mut zj = Complex64::new(1.0, 0.0); // z^j
    let mut zj1 = Complex64::new(0.0, 0.0); // j z^{j-1}
    for j in 0..MAX_LAGS {
        let d = c * zj1;
        let jac = [2.0 * zj.re, -2.0 * zj.im, 2.0 * d.re, -2.0 * d.im];
        for (row, ja) in h.iter_mut().zip(&jac) {
            for (x, jb) in row.iter_mut().zip(&jac) {
                *x += ja * jb;
            }
        }
        zj1 = zj1 * z + zj;
        zj *= z;
        if j > 10 && zj.norm() * (1.0 + j as f64) < 1e-300 {
            break;
        }
    }
    // S = H_mm - H_mc H_cc^{-1} H_cm (2x2 blocks: c = 0..2, mu = 2..4).
    let det = h[0][0] * h[1][1] - h[0][1] * h[1][0];
    let inv = [
        [h[1][1] / det, -h[0][1] / det],
        [-h[1][0] / det, h[0][0] / det],
    ];
    let mut sc = [[0.0f64; 2]; 2];
    for a in 0..2 {
        for b in 0..2 {
            let mut x = h[2 + a][2 + b];
            for (p, ip) in inv.iter().enumerate() {
                for (q, ipq) in ip.iter().enumerate() {
                    x -= h[2 + a][p] * ipq * h[q][2 + b];
                }
            }
            sc[a][b] = x;
        }
    }
    let (tr, dt) = (
        sc[0][0] + sc[1][1],
        sc[0][0] * sc[1][1] - sc[0][1] * sc[1][0],
    );
    0.5 * tr - (0.25 * tr * tr - dt).max(0.0).sqrt()
}

/// The curvature `s_T` of a single-mode fit of the leaky integrator (OL-11): the Schur
/// complement on `lambda` of the Hessian of `L(A, lambda) = 1/2 sum_k w_k (A lambda^k -
/// gamma^k)^2` at its minimum `A = 1`, `lambda = gamma`, `H = sum_k w_k J_k J_k^T` with
/// `J_k = (gamma^k, k gamma^{k-1})`. Minimising over the amplitude at fixed `lambda`,
/// `L >= 1/2 s_T (lambda - gamma)^2` to second order: a response that is one mode `A mu^k`
/// with final loss `L` has `|mu - gamma| <= sqrt(2 L / s_T)` (to second order). Infinite lags:
/// `1 / (1 - gamma^2)^3` (OL-8's entries). NaN for infinite lags with `|gamma| >= 1`, for
/// `T < 2` (then `lambda` is not determined, OL-8) and for a non-finite `gamma`.
pub fn single_mode_curvature(gamma: f64, weights: &LagWeights) -> f64 {
    match *weights {
        LagWeights::Infinite => {
            if gamma.abs() < 1.0 {
                (1.0 - gamma * gamma).powi(-3)
            } else {
                f64::NAN
            }
        }
        LagWeights::Finite { steps } => {
            if steps < 2 || !gamma.is_finite() {
                return f64::NAN;
            }
            let (mut haa, mut hal, mut hll) = (0.0, 0.0, 0.0);
            let mut gk1 = 0.0; // gamma^{k-1} (0 for k = 0, where it is multiplied by k = 0)
            let mut gk = 1.0; // gamma^k
            for k in 0..steps {
                let w = (steps - k) as f64 / steps as f64;
                let d = k as f64 * gk1;
                haa += w * gk * gk;
                hal += w * gk * d;
                hll += w * d * d;
                gk1 = gk;
                gk *= gamma;
            }
            hll - hal * hal / haa
        }
    }
}
