//! Fixed points and slow points of recurrent dynamics (`theory/fixed_points.md`, FP-1..FP-5;
//! Sussillo & Barak 2013, Golub & Sussillo 2018).
//!
//! A [`StateMap`] is either a discrete map `x -> F(x)` or a continuous flow `dx/dt = f(x)`. Its
//! *residual* is `F(x) - x` or `f(x)`; fixed points are the zeros of the residual. From many
//! initial states ([`sample_inits`]), [`find_fixed_points`] minimizes
//! `q(x) = 1/2 ||residual(x)||^2` (FP-1) with Levenberg-Marquardt steps (FP-2), keeps the
//! minima with small `q` (fixed points `q <= tol_q`, slow points up to `tol_slow`), removes
//! duplicates and distance outliers, and classifies each point by the eigenvalues of its
//! Jacobian (FP-3).
//!
//! Why Levenberg-Marquardt rather than Adam (what FixedPointFinder uses): with analytic
//! Jacobians the Gauss-Newton model `J^T J` is the Hessian of `q` up to terms proportional to the
//! residual, so near a regular fixed point (attractor *or* saddle) the iteration converges
//! quadratically to rounding level in a few steps, without a learning rate or schedule to tune.
//! Far from a zero, the damping `mu` makes the step a short gradient-descent step on `q`, so the
//! iteration still decreases `q` monotonically. One step costs `O(n^3)` (an `n x n` solve),
//! which is cheap for the state sizes analysed here (up to a few hundred units).
//!
//! Everything is deterministic: inits come from [`crate::random::rng`] with the options' seed,
//! the minimization has no randomness, and the output is sorted.

use super::spectra;
use crate::error::{Error, Result};
use crate::linalg::{self, Matrix};
use crate::model::rnn::{Activation, Rnn};
use num_complex::Complex64;
use rand::RngExt;
use rand_distr::StandardNormal;

/// Random stream of [`sample_inits`] (the seed is [`FpOptions::seed`]).
pub const STREAM_FP_INITS: u64 = 40;

pub use crate::model::state_map::{StateMap, TimeKind};

/// Adapter for RNNs with a constant drive `drive` (e.g. `U u` for a constant input `u`, plus a
/// bias): discrete `F(h) = phi(W h + drive)`; rate (continuous) `f(h) = -h + W phi(h) + drive`.
/// `w` is `n x n`, `drive` has length `n`.
#[derive(Debug, Clone)]
pub struct RnnMap {
    /// Recurrent weights `W`, `n x n`.
    pub w: Matrix,
    /// Constant drive, length `n`.
    pub drive: Vec<f64>,
    /// The nonlinearity `phi`. For ReLU `phi'(0)` is taken as 0 (as in [`Activation`]).
    pub activation: Activation,
    /// `false`: the discrete map `F(h) = phi(W h + drive)`; `true`: the rate flow
    /// `dh/dt = -h + W phi(h) + drive`.
    pub continuous: bool,
}

impl RnnMap {
    /// The discrete map of a trained [`Rnn`] (`h_t = phi(W h_{t-1} + U x_t)`) held at the
    /// constant input `input` (length `n_in`): `drive = U input`. Errors if the input length
    /// differs from `n_in` or an entry is not finite.
    pub fn from_rnn(rnn: &Rnn, input: &[f64]) -> Result<Self> {
        if input.len() != rnn.n_in() {
            return Err(Error::Shape {
                what: "fixed-point input".into(),
                expected: format!("({},)", rnn.n_in()),
                got: format!("({},)", input.len()),
            });
        }
        if input.iter().any(|v| !v.is_finite()) {
            return Err(Error::invalid(
                "fixed-point input",
                "contains NaN or inf; pass a finite constant input",
            ));
        }
        let u = rnn.u();
        let drive = (0..rnn.hidden())
            .map(|i| (0..rnn.n_in()).map(|j| u.get(i, j) * input[j]).sum())
            .collect();
        Ok(RnnMap {
            w: rnn.w().clone(),
            drive,
            activation: rnn.activation(),
            continuous: false,
        })
    }

    /// `W v` for `v` of length `n` into `out`.
    fn w_times(&self, v: &[f64], out: &mut [f64]) {
        let n = self.w.nrows();
        out.copy_from_slice(&self.drive);
        for (j, &vj) in v.iter().enumerate() {
            if vj != 0.0 {
                let col = &self.w.as_slice()[j * n..(j + 1) * n];
                for (o, &wij) in out.iter_mut().zip(col) {
                    *o += wij * vj;
                }
            }
        }
    }
}

impl StateMap for RnnMap {
    fn dim(&self) -> usize {
        self.w.nrows()
    }

    fn kind(&self) -> TimeKind {
        if self.continuous {
            TimeKind::Continuous
        } else {
            TimeKind::Discrete
        }
    }

    fn residual(&self, x: &[f64], out: &mut [f64]) {
        let phi = self.activation;
        if self.continuous {
            // f(h) = -h + W phi(h) + drive
            let ph: Vec<f64> = x.iter().map(|&h| phi.apply(h)).collect();
            self.w_times(&ph, out);
            for (o, &h) in out.iter_mut().zip(x) {
                *o -= h;
            }
        } else {
            // F(h) - h = phi(W h + drive) - h
            self.w_times(x, out);
            for (o, &h) in out.iter_mut().zip(x) {
                *o = phi.apply(*o) - h;
            }
        }
    }

    fn jacobian(&self, x: &[f64], jac: &mut Matrix) {
        let n = self.w.nrows();
        let phi = self.activation;
        if self.continuous {
            // df/dh = -I + W diag(phi'(h)): column j of W scaled by phi'(h_j).
            for (j, &xj) in x.iter().enumerate().take(n) {
                let d = phi.derivative(xj);
                for i in 0..n {
                    let delta = if i == j { 1.0 } else { 0.0 };
                    jac.set(i, j, self.w.get(i, j) * d - delta);
                }
            }
        } else {
            // dF/dh = diag(phi'(a)) W with a = W h + drive: row i of W scaled by phi'(a_i).
            let mut a = vec![0.0; n];
            self.w_times(x, &mut a);
            for j in 0..n {
                for (i, &ai) in a.iter().enumerate() {
                    jac.set(i, j, phi.derivative(ai) * self.w.get(i, j));
                }
            }
        }
    }

    fn check(&self) -> Result<()> {
        let n = self.w.nrows();
        if n == 0 || self.w.ncols() != n {
            return Err(Error::Shape {
                what: "RnnMap w".into(),
                expected: "(n, n) with n >= 1".into(),
                got: format!("({}, {})", self.w.nrows(), self.w.ncols()),
            });
        }
        if self.drive.len() != n {
            return Err(Error::Shape {
                what: "RnnMap drive".into(),
                expected: format!("({n},)"),
                got: format!("({},)", self.drive.len()),
            });
        }
        if self.w.as_slice().iter().any(|v| !v.is_finite())
            || self.drive.iter().any(|v| !v.is_finite())
        {
            return Err(Error::invalid(
                "RnnMap",
                "w or drive contains NaN or inf; fixed points need finite weights",
            ));
        }
        Ok(())
    }
}

/// Options of [`sample_inits`] and [`find_fixed_points`]. Defaults follow FixedPointFinder
/// (Golub & Sussillo 2018) where it has a counterpart.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FpOptions {
    /// Number of initial states drawn by [`sample_inits`]. Default 1024.
    pub n_inits: usize,
    /// Standard deviation of the i.i.d. Gaussian noise added to each sampled state, in state
    /// units (absolute, as in FixedPointFinder's example). Default 0.5.
    pub noise_scale: f64,
    /// Maximum number of Levenberg-Marquardt trial steps per init (accepted or rejected).
    /// Default 500.
    pub max_iters: usize,
    /// A minimum with `q <= tol_q` is a fixed point (`is_fixed`). Default 1e-12.
    pub tol_q: f64,
    /// A minimum with `tol_q < q <= tol_slow` is kept as a slow point; larger `q` counts as not
    /// converged and is dropped. Must be `>= tol_q`. Default 1e-6.
    pub tol_slow: f64,
    /// Stop when an accepted step is shorter than `tol_step * (||x|| + tol_step)` (2-norms).
    /// Default 1e-14: the iteration polishes to rounding level (see [`find_fixed_points`]).
    pub tol_step: f64,
    /// Two points closer than this (2-norm) are duplicates; the one with smaller `q` is kept.
    /// Default 1e-3.
    pub tol_unique: f64,
    /// Drop points with `||x* - c|| / d_bar > outlier_distance_scale`, where `c` is the
    /// centroid of the inits and `d_bar` their mean distance to it. `f64::INFINITY` disables
    /// the filter. Default 10.
    pub outlier_distance_scale: f64,
    /// Eigenvalues with `||lambda| - 1| <= marginal_tol` (discrete) or
    /// `|Re lambda| <= marginal_tol` (continuous) are marginal, neither stable nor unstable.
    /// Default 1e-3.
    pub marginal_tol: f64,
    /// Seed of [`sample_inits`] (stream [`STREAM_FP_INITS`]). Default 0.
    pub seed: u64,
}

impl Default for FpOptions {
    fn default() -> Self {
        FpOptions {
            n_inits: 1024,
            noise_scale: 0.5,
            max_iters: 500,
            tol_q: 1e-12,
            tol_slow: 1e-6,
            tol_step: 1e-14,
            tol_unique: 1e-3,
            outlier_distance_scale: 10.0,
            marginal_tol: 1e-3,
            seed: 0,
        }
    }
}

impl FpOptions {
    /// Check every field; errors name the field and the allowed range.
    pub fn validate(&self) -> Result<()> {
        let pos = |name: &str, v: f64| -> Result<()> {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(Error::invalid(
                    format!("fixed_points.{name}"),
                    format!("{v} must be finite and > 0"),
                ))
            }
        };
        if self.n_inits == 0 {
            return Err(Error::invalid("fixed_points.n_inits", "must be >= 1"));
        }
        if !(self.noise_scale.is_finite() && self.noise_scale >= 0.0) {
            return Err(Error::invalid(
                "fixed_points.noise_scale",
                format!("{} must be finite and >= 0", self.noise_scale),
            ));
        }
        if self.max_iters == 0 {
            return Err(Error::invalid("fixed_points.max_iters", "must be >= 1"));
        }
        pos("tol_q", self.tol_q)?;
        pos("tol_slow", self.tol_slow)?;
        if self.tol_slow < self.tol_q {
            return Err(Error::invalid(
                "fixed_points.tol_slow",
                format!(
                    "{} is below tol_q = {}; the slow-point threshold must be >= tol_q",
                    self.tol_slow, self.tol_q
                ),
            ));
        }
        pos("tol_step", self.tol_step)?;
        pos("tol_unique", self.tol_unique)?;
        if self.outlier_distance_scale.is_nan() || self.outlier_distance_scale <= 0.0 {
            return Err(Error::invalid(
                "fixed_points.outlier_distance_scale",
                format!(
                    "{} must be > 0 (use inf to disable the outlier filter)",
                    self.outlier_distance_scale
                ),
            ));
        }
        if !(self.marginal_tol.is_finite() && self.marginal_tol >= 0.0) {
            return Err(Error::invalid(
                "fixed_points.marginal_tol",
                format!("{} must be finite and >= 0", self.marginal_tol),
            ));
        }
        Ok(())
    }
}

/// Initial states for [`find_fixed_points`]: `opts.n_inits` columns (`dim x n_inits`), each a
/// column of `states` (`dim x m`, e.g. hidden states collected along trajectories) drawn
/// uniformly **with replacement**, plus i.i.d. `N(0, noise_scale^2)` noise (as
/// FixedPointFinder's `sample_states`). Deterministic given `opts.seed`. Errors if `states` has
/// no columns or rows, a non-finite entry, or the options are invalid.
pub fn sample_inits(states: &Matrix, opts: &FpOptions) -> Result<Matrix> {
    opts.validate()?;
    let (dim, m) = (states.nrows(), states.ncols());
    if dim == 0 || m == 0 {
        return Err(Error::Shape {
            what: "fixed-point states".into(),
            expected: "(dim >= 1, m >= 1)".into(),
            got: format!("({dim}, {m})"),
        });
    }
    if states.as_slice().iter().any(|v| !v.is_finite()) {
        return Err(Error::invalid(
            "fixed-point states",
            "contains NaN or inf; sample inits from finite states",
        ));
    }
    let mut rng = crate::random::rng(opts.seed, STREAM_FP_INITS);
    let mut out = Matrix::zeros(dim, opts.n_inits);
    for k in 0..opts.n_inits {
        let col = rng.random_range(0..m);
        for i in 0..dim {
            let z: f64 = rng.sample(StandardNormal);
            out.set(i, k, states.get(i, col) + opts.noise_scale * z);
        }
    }
    Ok(out)
}

/// One fixed or slow point with its linearization (FP-3).
#[derive(Debug, Clone)]
pub struct FixedPoint {
    /// The point `x*`, length `dim`.
    pub x: Vec<f64>,
    /// `q(x*) = 1/2 ||residual(x*)||^2` (FP-1).
    pub q: f64,
    /// Relative speed `||residual(x*)|| / max(||x*||, f64::MIN_POSITIVE)`: comparable across
    /// state scales (the floor only avoids 0/0 at the origin; there compare `q` instead).
    pub speed: f64,
    /// Levenberg-Marquardt trial steps used (accepted and rejected).
    pub iterations: usize,
    /// Eigenvalues of the Jacobian `dF/dx` (discrete) or `df/dx` (continuous) at `x*`, most
    /// unstable first: discrete by `|lambda|` descending, continuous by `Re(lambda)` descending
    /// (ties: real part, then imaginary part descending, so conjugate pairs are adjacent).
    pub eigenvalues: Vec<Complex64>,
    /// Number of unstable directions: `|lambda| > 1 + marginal_tol` (discrete) or
    /// `Re(lambda) > marginal_tol` (continuous).
    pub n_unstable: usize,
    /// Number of marginal directions: `||lambda| - 1| <= marginal_tol` (discrete) or
    /// `|Re(lambda)| <= marginal_tol` (continuous). Line/ring attractors show up here.
    pub n_marginal: usize,
    /// `n_unstable == 0 && n_marginal == 0`: asymptotically stable.
    pub stable: bool,
    /// e-folding time of each eigen-direction, in the order of `eigenvalues`: discrete
    /// `-1 / ln|lambda|` (steps), continuous `-1 / Re(lambda)` (time units). Positive: decay
    /// time; negative: growth time; infinite at `|lambda| = 1` / `Re(lambda) = 0`.
    pub timescales: Vec<f64>,
    /// `q <= tol_q` (a fixed point); otherwise a slow point (`q <= tol_slow`).
    pub is_fixed: bool,
}

/// The result of [`find_fixed_points`]: the distinct fixed and slow points, sorted by
/// `n_unstable`, then lexicographically by `x`, and what was dropped on the way.
#[derive(Debug, Clone)]
pub struct FixedPointSet {
    /// Discrete map or continuous flow.
    pub kind: TimeKind,
    /// The points (see the sort order above).
    pub points: Vec<FixedPoint>,
    /// Number of initial states.
    pub n_inits: usize,
    /// Inits whose minimum had `q > tol_slow` or became non-finite.
    pub n_not_converged: usize,
    /// Converged inits dropped as duplicates (within `tol_unique` of a point with smaller `q`).
    pub n_duplicates: usize,
    /// Distinct points dropped as distance outliers.
    pub n_outliers: usize,
    /// The options used.
    pub options: FpOptions,
}

impl FixedPointSet {
    /// Count of **fixed** points (`is_fixed`; slow points are not counted) by number of
    /// unstable directions: entry `k` is the number with `n_unstable == k`; length
    /// `max n_unstable + 1` (empty when there is no fixed point).
    pub fn index_histogram(&self) -> Vec<usize> {
        let mut h = Vec::new();
        for p in self.points.iter().filter(|p| p.is_fixed) {
            if h.len() <= p.n_unstable {
                h.resize(p.n_unstable + 1, 0);
            }
            h[p.n_unstable] += 1;
        }
        h
    }
}

/// Workspace of one Levenberg-Marquardt run (allocated once per call of
/// [`find_fixed_points`]).
struct LmWork {
    jac: Matrix,
    normal: Vec<f64>,
    normal0: Vec<f64>,
    piv: Vec<usize>,
    r: Vec<f64>,
    r_new: Vec<f64>,
    g: Vec<f64>,
    dx: Vec<f64>,
    x_new: Vec<f64>,
}

impl LmWork {
    fn new(n: usize) -> Self {
        LmWork {
            jac: Matrix::zeros(n, n),
            normal: vec![0.0; n * n],
            normal0: vec![0.0; n * n],
            piv: vec![0; n],
            r: vec![0.0; n],
            r_new: vec![0.0; n],
            g: vec![0.0; n],
            dx: vec![0.0; n],
            x_new: vec![0.0; n],
        }
    }
}

fn half_sq(v: &[f64]) -> f64 {
    0.5 * v.iter().map(|x| x * x).sum::<f64>()
}

fn norm2(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// Minimize `q` from `x` in place (FP-2). Returns `(q, trial steps)`; `q` is NaN if the
/// residual became non-finite.
fn levenberg_marquardt(
    map: &dyn StateMap,
    x: &mut [f64],
    opts: &FpOptions,
    w: &mut LmWork,
) -> (f64, usize) {
    let n = x.len();
    let discrete = map.kind() == TimeKind::Discrete;
    map.residual(x, &mut w.r);
    let mut q = half_sq(&w.r);
    if !q.is_finite() {
        return (f64::NAN, 0);
    }
    // Nielsen's damping update (Madsen, Nielsen & Tingleff 2004, sec. 3.2): mu starts at
    // 1e-3 * max diag(J^T J), shrinks by at most 3x after a good step, doubles-and-doubles
    // after a bad one.
    let mut mu = -1.0;
    let mut nu = 2.0;
    let mut trials = 0;
    'outer: while trials < opts.max_iters && q > 0.0 {
        map.jacobian(x, &mut w.jac);
        if discrete {
            for i in 0..n {
                let v = w.jac.get(i, i);
                w.jac.set(i, i, v - 1.0);
            }
        }
        let js = w.jac.as_slice();
        if js.iter().any(|v| !v.is_finite()) {
            return (f64::NAN, trials);
        }
        // g = J^T r, normal = J^T J (column-major, symmetric).
        for j in 0..n {
            let cj = &js[j * n..(j + 1) * n];
            w.g[j] = cj.iter().zip(&w.r).map(|(a, b)| a * b).sum();
            for k in 0..=j {
                let ck = &js[k * n..(k + 1) * n];
                let v: f64 = cj.iter().zip(ck).map(|(a, b)| a * b).sum();
                w.normal0[j + k * n] = v;
                w.normal0[k + j * n] = v;
            }
        }
        if mu < 0.0 {
            let dmax = (0..n).map(|i| w.normal0[i + i * n]).fold(0.0, f64::max);
            mu = if dmax > 0.0 { 1e-3 * dmax } else { 1e-3 };
        }
        loop {
            if trials >= opts.max_iters {
                break 'outer;
            }
            trials += 1;
            w.normal.copy_from_slice(&w.normal0);
            for i in 0..n {
                w.normal[i + i * n] += mu;
            }
            for (d, &gi) in w.dx.iter_mut().zip(&w.g) {
                *d = -gi;
            }
            let solved = linalg::lu_in_place(&mut w.normal, n, &mut w.piv).is_ok();
            if solved {
                linalg::lu_solve_in_place(&w.normal, n, &w.piv, &mut w.dx);
            }
            let mut q_new = f64::NAN;
            if solved && w.dx.iter().all(|v| v.is_finite()) {
                for ((xn, &xi), &di) in w.x_new.iter_mut().zip(x.iter()).zip(&w.dx) {
                    *xn = xi + di;
                }
                map.residual(&w.x_new, &mut w.r_new);
                q_new = half_sq(&w.r_new);
            }
            // Reduction predicted by the damped Gauss-Newton model: 1/2 dx^T (mu dx - g) >= 0.
            let pred: f64 = 0.5
                * w.dx
                    .iter()
                    .zip(&w.g)
                    .map(|(d, gi)| d * (mu * d - gi))
                    .sum::<f64>();
            if q_new.is_finite() && q_new < q && pred > 0.0 {
                let rho = (q - q_new) / pred;
                let step = norm2(&w.dx);
                x.copy_from_slice(&w.x_new);
                std::mem::swap(&mut w.r, &mut w.r_new);
                q = q_new;
                mu *= f64::max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0).powi(3));
                nu = 2.0;
                if step <= opts.tol_step * (norm2(x) + opts.tol_step) {
                    break 'outer;
                }
                continue 'outer;
            }
            mu *= nu;
            nu *= 2.0;
            if mu >= 1e300 || !mu.is_finite() {
                // No step of any length decreases q: a local minimum to rounding level.
                break 'outer;
            }
        }
    }
    (q, trials)
}

fn dist(a: &[f64], b: &[f64]) -> f64 {
    if a.len() != b.len() {
        return f64::INFINITY;
    }
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

/// Classify the Jacobian eigenvalues at a point (FP-3): sorted eigenvalues, n_unstable,
/// n_marginal, timescales.
fn classify(
    kind: TimeKind,
    jac: &Matrix,
    marginal_tol: f64,
) -> Result<(Vec<Complex64>, usize, usize, Vec<f64>)> {
    let ev = spectra::sorted_eigenvalues(jac, kind)?;
    let center = kind.marginal();
    let key = |z: &Complex64| kind.persistence(*z);
    let n_unstable = ev.iter().filter(|z| key(z) > center + marginal_tol).count();
    let n_marginal = ev
        .iter()
        .filter(|z| (key(z) - center).abs() <= marginal_tol)
        .count();
    let timescales = ev.iter().map(|&z| spectra::timescale(z, kind)).collect();
    Ok((ev, n_unstable, n_marginal, timescales))
}

/// Fixed and slow points of `map` from the initial states `inits` (`dim x n`, one init per
/// column, e.g. from [`sample_inits`]).
///
/// From each init, Levenberg-Marquardt (FP-2) minimizes `q` (FP-1) until an accepted step is
/// shorter than `tol_step * (||x|| + tol_step)`, no damped step decreases `q` any more, or
/// `max_iters` trial steps were used. Reaching `q < tol_q` is deliberately *not* a stop: just
/// below `tol_q = 1e-12` a point can still be `~1e-6 / sigma_min(J)` from the zero, and the
/// quadratic convergence there makes polishing to rounding level cost one to three more steps.
/// Then: minima with `q > tol_slow` (or non-finite) are dropped; duplicates within `tol_unique`
/// are merged keeping the smallest `q`; distance outliers are dropped (see
/// [`FpOptions::outlier_distance_scale`]; skipped when all inits coincide); each survivor's
/// Jacobian is eigen-decomposed and classified (FP-3). Points are sorted by `n_unstable`, then
/// lexicographically by `x`. Errors if the map is inconsistent, `inits` has the wrong number of
/// rows or no column or a non-finite entry, the options are invalid, or an eigen-decomposition
/// fails.
pub fn find_fixed_points(
    map: &dyn StateMap,
    inits: &Matrix,
    opts: &FpOptions,
) -> Result<FixedPointSet> {
    find_fixed_points_observed(map, inits, opts, &mut || {})
}

/// [`find_fixed_points`], calling `on_init` once after each init's search finished (so a
/// caller can show progress over the `inits.ncols()` searches, the bulk of the cost).
pub fn find_fixed_points_observed(
    map: &dyn StateMap,
    inits: &Matrix,
    opts: &FpOptions,
    on_init: &mut dyn FnMut(),
) -> Result<FixedPointSet> {
    map.check()?;
    opts.validate()?;
    let n = map.dim();
    if n == 0 || inits.nrows() != n || inits.ncols() == 0 {
        return Err(Error::Shape {
            what: "fixed-point inits".into(),
            expected: format!("({n}, n_inits >= 1)"),
            got: format!("({}, {})", inits.nrows(), inits.ncols()),
        });
    }
    if inits.as_slice().iter().any(|v| !v.is_finite()) {
        return Err(Error::invalid(
            "fixed-point inits",
            "contains NaN or inf; every initial state must be finite",
        ));
    }
    let m = inits.ncols();
    let mut work = LmWork::new(n);
    // (x, q, trials) of every converged init.
    let mut found: Vec<(Vec<f64>, f64, usize)> = Vec::new();
    let mut n_not_converged = 0;
    for k in 0..m {
        let mut x = inits.as_slice()[k * n..(k + 1) * n].to_vec();
        let (q, trials) = levenberg_marquardt(map, &mut x, opts, &mut work);
        on_init();
        if q.is_finite() && q <= opts.tol_slow && x.iter().all(|v| v.is_finite()) {
            found.push((x, q, trials));
        } else {
            n_not_converged += 1;
        }
    }
    // De-duplicate: smallest q first (ties by init index: stable sort), keep a point unless
    // it lies within tol_unique of one already kept.
    found.sort_by(|a, b| a.1.total_cmp(&b.1));
    let mut unique: Vec<(Vec<f64>, f64, usize)> = Vec::new();
    for cand in found.iter() {
        if unique.iter().all(|u| dist(&u.0, &cand.0) > opts.tol_unique) {
            unique.push(cand.clone());
        }
    }
    let n_duplicates = found.len() - unique.len();
    // Distance outliers relative to the inits' centroid and mean spread.
    let mut centroid = vec![0.0; n];
    for k in 0..m {
        for (i, c) in centroid.iter_mut().enumerate() {
            *c += inits.get(i, k) / m as f64;
        }
    }
    let d_bar = (0..m)
        .map(|k| dist(&inits.as_slice()[k * n..(k + 1) * n], &centroid))
        .sum::<f64>()
        / m as f64;
    let before = unique.len();
    if d_bar > 0.0 && opts.outlier_distance_scale.is_finite() {
        unique.retain(|u| dist(&u.0, &centroid) / d_bar <= opts.outlier_distance_scale);
    }
    let n_outliers = before - unique.len();
    let kind = map.kind();
    let mut points = Vec::with_capacity(unique.len());
    for (x, q, iterations) in unique {
        map.jacobian(&x, &mut work.jac);
        let (eigenvalues, n_unstable, n_marginal, timescales) =
            classify(kind, &work.jac, opts.marginal_tol)?;
        map.residual(&x, &mut work.r);
        let speed = norm2(&work.r) / norm2(&x).max(f64::MIN_POSITIVE);
        points.push(FixedPoint {
            is_fixed: q <= opts.tol_q,
            stable: n_unstable == 0 && n_marginal == 0,
            x,
            q,
            speed,
            iterations,
            eigenvalues,
            n_unstable,
            n_marginal,
            timescales,
        });
    }
    points.sort_by(|a, b| {
        a.n_unstable.cmp(&b.n_unstable).then_with(|| {
            a.x.iter()
                .zip(&b.x)
                .map(|(u, v)| u.total_cmp(v))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        })
    });
    Ok(FixedPointSet {
        kind,
        points,
        n_inits: m,
        n_not_converged,
        n_duplicates,
        n_outliers,
        options: opts.clone(),
    })
}

/// A one-to-one matching between two point sets (see [`match_sets`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SetMatch {
    /// `(index in a, index in b, 2-norm distance)`, sorted by index in `a`.
    pub pairs: Vec<(usize, usize, f64)>,
    /// Indices of `a` with no partner in `b`, ascending.
    pub unmatched_a: Vec<usize>,
    /// Indices of `b` with no partner in `a`, ascending.
    pub unmatched_b: Vec<usize>,
}

/// Greedy one-to-one matching of two point sets within `tol` (2-norm), reported in both
/// directions: all pairs closer than `tol` are taken in order of increasing distance (ties by
/// index), each point used at most once. The greedy matching is maximal; it is also the unique
/// (hence optimal) one whenever `tol` is below half the smallest distance between two points of
/// the same set, the regime this is meant for. Points of different lengths never match; a NaN
/// `tol` matches nothing.
pub fn match_sets(a: &[Vec<f64>], b: &[Vec<f64>], tol: f64) -> SetMatch {
    let mut cand: Vec<(f64, usize, usize)> = Vec::new();
    for (i, pa) in a.iter().enumerate() {
        for (j, pb) in b.iter().enumerate() {
            let d = dist(pa, pb);
            if d <= tol {
                cand.push((d, i, j));
            }
        }
    }
    cand.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
    let mut used_a = vec![false; a.len()];
    let mut used_b = vec![false; b.len()];
    let mut pairs = Vec::new();
    for (d, i, j) in cand {
        if !used_a[i] && !used_b[j] {
            used_a[i] = true;
            used_b[j] = true;
            pairs.push((i, j, d));
        }
    }
    pairs.sort_by_key(|p| p.0);
    let unmatched = |used: &[bool]| {
        used.iter()
            .enumerate()
            .filter(|(_, &u)| !u)
            .map(|(i, _)| i)
            .collect()
    };
    SetMatch {
        pairs,
        unmatched_a: unmatched(&used_a),
        unmatched_b: unmatched(&used_b),
    }
}

/// Exact fixed point of an affine map (FP-5): discrete `x = A x + b`, solved as
/// `(I - A) x = b`; continuous `dx/dt = A x + b`, solved as `A x = -b`. `a` is `n x n`, `b` has
/// length `n`. Errors (typed, with the reason) on mismatched shapes, non-finite entries, or a
/// singular system: reciprocal condition number `sigma_min / sigma_max <= 10 n eps`, where the
/// LU solution could have no correct digit. Singular means `A` has an eigenvalue 1 (discrete)
/// or 0 (continuous): the fixed points form an affine subspace (a line attractor) or do not
/// exist.
pub fn linear_fixed_point(a: &Matrix, b: &[f64], kind: TimeKind) -> Result<Vec<f64>> {
    let n = a.nrows();
    if n == 0 || a.ncols() != n {
        return Err(Error::Shape {
            what: "linear fixed point A".into(),
            expected: "(n, n) with n >= 1".into(),
            got: format!("({}, {})", a.nrows(), a.ncols()),
        });
    }
    if b.len() != n {
        return Err(Error::Shape {
            what: "linear fixed point b".into(),
            expected: format!("({n},)"),
            got: format!("({},)", b.len()),
        });
    }
    if a.as_slice().iter().chain(b).any(|v| !v.is_finite()) {
        return Err(Error::invalid(
            "linear fixed point",
            "A or b contains NaN or inf; pass finite values",
        ));
    }
    let (m, rhs) = match kind {
        TimeKind::Discrete => (
            Matrix::identity(n).sub(a),
            Matrix::from_col_major(n, 1, b.to_vec())?,
        ),
        TimeKind::Continuous => (
            a.clone(),
            Matrix::from_col_major(n, 1, b.iter().map(|v| -v).collect())?,
        ),
    };
    let s = linalg::singular_values(m.view())?;
    let (smax, smin) = (s[0], s[n - 1]);
    let limit = 10.0 * n as f64 * f64::EPSILON;
    if smin.is_nan() || smin <= limit * smax {
        let (sys, ev) = match kind {
            TimeKind::Discrete => ("I - A", "1"),
            TimeKind::Continuous => ("A", "0"),
        };
        return Err(Error::invalid(
            "linear fixed point",
            format!(
                "{sys} is singular (sigma_min / sigma_max = {:.3e} <= {limit:.1e}): A has an \
                 eigenvalue {ev}, so the fixed points form an affine subspace (e.g. a line \
                 attractor) or do not exist; there is no unique fixed point to return",
                if smax > 0.0 { smin / smax } else { 0.0 }
            ),
        ));
    }
    Ok(linalg::solve(&m, &rhs)?.into_vec())
}
