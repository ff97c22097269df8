//! Sequence tasks and teachers for RNN training (theory/rnn.md, "Sequence tasks", SQ-1..SQ-10).
//!
//! Every sequence block uses the layout of [`crate::model::rnn::SeqBatch`]: time step `t`
//! (1-based, `t = 1..steps`) of sequence `b` (`0..batch`) is column `(t - 1) * batch + b` of a
//! `dim x steps * batch` matrix. So time step `t` of the whole batch is the contiguous column
//! block `(t - 1) * batch .. t * batch`, and a lag of `k` steps is a shift by `k * batch`
//! columns: lag filters are one GEMM per lag and recurrences one GEMM per step.
//!
//! Randomness (`crate::random::rng(seed, stream)`): inputs and flip-flop pulses use
//! `stream::SAMPLES`, teacher matrices (`LaggedModes`, `spectrum_matrix`) `stream::TEACHER`,
//! observation noise `stream::NOISE`, so changing one does not change the others.

use crate::error::{Error, Result};
use crate::linalg::{self, gemm, MatMut, MatRef, Matrix};
use crate::model::rnn::{Activation, SeqBatch};
use crate::random::{self, stream};
use rand::RngExt;
use rand_distr::StandardNormal;
use std::path::Path;

/// Inputs and targets of `batch` sequences of `steps` time steps. Columns follow
/// [`SeqBatch`]'s layout: column `(t - 1) * batch + b` holds time step `t = 1..steps` of
/// sequence `b`.
#[derive(Debug, Clone)]
pub struct SeqData {
    /// Inputs, `n_in x steps * batch`.
    pub x: Matrix,
    /// Targets, `n_out x steps * batch`.
    pub y: Matrix,
    /// Sequence length `T`.
    pub steps: usize,
    /// Number of sequences `B`.
    pub batch: usize,
}

impl SeqData {
    /// Input dimension `n_in` (rows of `x`).
    pub fn n_in(&self) -> usize {
        self.x.nrows()
    }
    /// Output dimension `n_out` (rows of `y`).
    pub fn n_out(&self) -> usize {
        self.y.nrows()
    }
    /// The same data as a checked [`SeqBatch`] (errors on shape mismatch or non-finite entries).
    pub fn to_batch(&self) -> Result<SeqBatch> {
        SeqBatch::new(self.x.clone(), self.y.clone(), self.steps, self.batch)
    }
}

/// How input sequences are drawn (SQ-1, SQ-2).
#[derive(Debug, Clone, PartialEq)]
pub enum InputProcess {
    /// I.i.d. `N(0, std^2)` in every step and dimension.
    WhiteNoise {
        /// Standard deviation (finite, `>= 0`).
        std: f64,
    },
    /// In every step and dimension independently: `+amplitude` or `-amplitude` (sign 50/50)
    /// with probability `prob`, else 0.
    Pulses {
        /// Pulse probability per step and dimension, in `[0, 1]`.
        prob: f64,
        /// Pulse height (finite).
        amplitude: f64,
    },
    /// Every entry equals `value`.
    Constant {
        /// The constant (finite).
        value: f64,
    },
    /// Deterministic "population" inputs for linear models (SQ-2): the batch has
    /// `n_in * steps` sequences; sequence `b = (s - 1) * n_in + j` (`s = 1..steps`,
    /// `j = 0..n_in`) is zero except for the impulse `sqrt(n_in * steps) * e_j` at time `s`.
    /// For any linear causal time-invariant model (e.g. a linear RNN from `h_0 = 0`) with
    /// targets a linear lag filter of the inputs, the mean loss (RN-2) over this batch equals
    /// the expected loss under unit-variance white-noise inputs exactly. The requested batch
    /// size is ignored; use the returned one.
    ImpulseBasis,
}

fn check_dims(steps: usize, batch: usize) -> Result<usize> {
    if steps == 0 || batch == 0 {
        return Err(Error::invalid(
            "sequence task",
            format!("need steps >= 1 and batch >= 1, got steps={steps} batch={batch}"),
        ));
    }
    steps.checked_mul(batch).ok_or_else(|| {
        Error::invalid(
            "sequence task",
            format!("steps * batch overflows (steps={steps}, batch={batch}); use fewer"),
        )
    })
}

fn check_prob(what: &str, p: f64) -> Result<()> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(Error::invalid(
            what,
            format!("a probability must lie in [0, 1], got {p}"),
        ))
    }
}

fn check_finite_value(what: &str, v: f64) -> Result<()> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(Error::invalid(what, format!("must be finite, got {v}")))
    }
}

/// Draw inputs: an `n_in x steps * B` matrix in the [`SeqBatch`] layout and the batch size
/// `B` actually used (`batch`, except `n_in * steps` for [`InputProcess::ImpulseBasis`]).
/// Random processes use stream `SAMPLES` of `seed`, filled column by column (time-major).
pub fn generate_inputs(
    p: &InputProcess,
    n_in: usize,
    steps: usize,
    batch: usize,
    seed: u64,
) -> Result<(Matrix, usize)> {
    if n_in == 0 {
        return Err(Error::invalid("inputs.n_in", "need n_in >= 1"));
    }
    let mut rng = random::rng(seed, stream::SAMPLES);
    match *p {
        InputProcess::WhiteNoise { std } => {
            if !(std.is_finite() && std >= 0.0) {
                return Err(Error::invalid(
                    "inputs.std",
                    format!("must be finite and >= 0, got {std}"),
                ));
            }
            let tb = check_dims(steps, batch)?;
            let x = Matrix::from_fn(n_in, tb, |_, _| std * rng.sample::<f64, _>(StandardNormal));
            Ok((x, batch))
        }
        InputProcess::Pulses { prob, amplitude } => {
            check_prob("inputs.prob", prob)?;
            check_finite_value("inputs.amplitude", amplitude)?;
            let tb = check_dims(steps, batch)?;
            let x = Matrix::from_fn(n_in, tb, |_, _| {
                if rng.random_bool(prob) {
                    if rng.random_bool(0.5) {
                        amplitude
                    } else {
                        -amplitude
                    }
                } else {
                    0.0
                }
            });
            Ok((x, batch))
        }
        InputProcess::Constant { value } => {
            check_finite_value("inputs.value", value)?;
            let tb = check_dims(steps, batch)?;
            Ok((Matrix::from_fn(n_in, tb, |_, _| value), batch))
        }
        InputProcess::ImpulseBasis => {
            let b = n_in.checked_mul(steps).ok_or_else(|| {
                Error::invalid("inputs", "n_in * steps overflows; use fewer steps")
            })?;
            let tb = check_dims(steps, b)?;
            let amp = (b as f64).sqrt();
            let mut x = Matrix::zeros(n_in, tb);
            for s in 0..steps {
                for j in 0..n_in {
                    let seq = s * n_in + j;
                    x.set(j, s * b + seq, amp);
                }
            }
            Ok((x, b))
        }
    }
}

fn check_block(what: &str, m: &Matrix, steps: usize, batch: usize) -> Result<()> {
    let tb = check_dims(steps, batch)?;
    if m.ncols() != tb || m.nrows() == 0 {
        return Err(Error::Shape {
            what: what.into(),
            expected: format!("(dim >= 1, steps * batch = {tb})"),
            got: format!("({}, {})", m.nrows(), m.ncols()),
        });
    }
    Ok(())
}

/// Linear lag filter (SQ-3): `y_t = sum_{k=0}^{t-1} S_k x_{t-k}` for every sequence, with
/// `S_k = s[k]` (`n_out x n_in`, `k = 0..s.len()`); lags `k >= s.len()` contribute 0.
/// `x` is `n_in x steps * batch`; returns `n_out x steps * batch` (same layout).
pub fn lag_filter(s: &[Matrix], x: &Matrix, steps: usize, batch: usize) -> Result<Matrix> {
    check_block("lag_filter inputs x", x, steps, batch)?;
    let first = s
        .first()
        .ok_or_else(|| Error::invalid("lag_filter.s", "need at least one lag matrix S_0"))?;
    let (n_out, n_in) = (first.nrows(), first.ncols());
    if n_out == 0 || n_in != x.nrows() {
        return Err(Error::Shape {
            what: "lag_filter S_0".into(),
            expected: format!("(n_out >= 1, n_in = {})", x.nrows()),
            got: format!("({n_out}, {n_in})"),
        });
    }
    for (k, sk) in s.iter().enumerate() {
        if (sk.nrows(), sk.ncols()) != (n_out, n_in) {
            return Err(Error::Shape {
                what: format!("lag_filter S_{k}"),
                expected: format!("({n_out}, {n_in}) like S_0"),
                got: format!("({}, {})", sk.nrows(), sk.ncols()),
            });
        }
    }
    let mut y = Matrix::zeros(n_out, steps * batch);
    // Lag k: output columns k*B.. receive S_k times input columns ..(T-k)*B (a column shift).
    for (k, sk) in s.iter().enumerate().take(steps) {
        let cols = (steps - k) * batch;
        let xs = MatRef::new(n_in, cols, &x.as_slice()[..n_in * cols])?;
        let ys = MatMut::new(n_out, cols, &mut y.as_mut_slice()[n_out * k * batch..])?;
        gemm(ys, sk.view(), false, xs, false, 1.0, true);
    }
    Ok(y)
}

/// Leaky integration targets (SQ-4): `y_t = sum_{s<=t} gamma^{t-s} x_s` per dimension and
/// sequence, computed by the recursion `y_t = gamma y_{t-1} + x_t`, `y_0 = 0` (`gamma = 1`:
/// the perfect integrator). Equals [`lag_filter`] with `S_k = gamma^k I`. Shapes as `x`.
pub fn integrate_targets(x: &Matrix, steps: usize, batch: usize, gamma: f64) -> Result<Matrix> {
    check_block("integrate_targets inputs x", x, steps, batch)?;
    check_finite_value("integrate_targets.gamma", gamma)?;
    let block = x.nrows() * batch;
    let mut y = x.clone();
    let data = y.as_mut_slice();
    for t in 1..steps {
        let (prev, cur) = data.split_at_mut(t * block);
        let prev = &prev[(t - 1) * block..];
        for (c, p) in cur[..block].iter_mut().zip(prev) {
            *c += gamma * p;
        }
    }
    Ok(y)
}

/// Proca-type lagged-mode teacher (SQ-5): `S_k = U diag(s_{0,k}, .., s_{K-1,k}) V^T` with
/// orthonormal columns `U` (`d_out x K`) and `V` (`d_in x K`); mode `a` has lag profile
/// `profiles[a][k]`, `k = 0..L` (all profiles have the same length `L`).
#[derive(Debug, Clone, PartialEq)]
pub struct LaggedModes {
    /// Output directions `u_a` as columns, `d_out x K`, orthonormal.
    pub u: Matrix,
    /// Input directions `v_a` as columns, `d_in x K`, orthonormal.
    pub v: Matrix,
    /// `profiles[a][k]`: strength of mode `a` at lag `k` (`K` rows of length `L`).
    pub profiles: Vec<Vec<f64>>,
}

impl LaggedModes {
    /// Random orthonormal `U`, `V` (Haar, from `linalg::orthonormal_from` of Gaussian matrices
    /// drawn from stream `TEACHER` of `seed`: first `d_out x d_out` for `U`, then
    /// `d_in x d_in` for `V`, first `K` columns kept). Sign convention as C-3: each `(u_a, v_a)`
    /// pair is flipped together so that the largest-magnitude entry of `v_a` is positive
    /// (this leaves every `S_k` unchanged). Errors if `K = 0`, `K > min(d_in, d_out)`, the
    /// profiles are empty, of different lengths, or not finite.
    pub fn random(d_in: usize, d_out: usize, profiles: Vec<Vec<f64>>, seed: u64) -> Result<Self> {
        if d_in == 0 || d_out == 0 {
            return Err(Error::invalid(
                "lagged_modes.d_in/d_out",
                "dimensions must be >= 1",
            ));
        }
        let k = profiles.len();
        if k == 0 || k > d_in.min(d_out) {
            return Err(Error::invalid(
                "lagged_modes.profiles",
                format!(
                    "need 1 to min(d_in, d_out) = {} mode profiles, got {k}",
                    d_in.min(d_out)
                ),
            ));
        }
        let len = profiles[0].len();
        if len == 0 || profiles.iter().any(|p| p.len() != len) {
            return Err(Error::invalid(
                "lagged_modes.profiles",
                format!(
                    "every mode needs the same number (>= 1) of lags; got lengths {:?}",
                    profiles.iter().map(Vec::len).collect::<Vec<_>>()
                ),
            ));
        }
        if let Some((a, l)) = profiles
            .iter()
            .enumerate()
            .find_map(|(a, p)| p.iter().position(|v| !v.is_finite()).map(|l| (a, l)))
        {
            return Err(Error::invalid(
                "lagged_modes.profiles",
                format!("profile of mode {a} at lag {l} is not finite"),
            ));
        }
        let mut rng = random::rng(seed, stream::TEACHER);
        let mut u = linalg::orthonormal_from(&random::gaussian_matrix(&mut rng, d_out, d_out))?
            .first_cols(k);
        let mut v =
            linalg::orthonormal_from(&random::gaussian_matrix(&mut rng, d_in, d_in))?.first_cols(k);
        for a in 0..k {
            let imax = (0..d_in).fold(0, |bi, i| {
                if v.get(i, a).abs() > v.get(bi, a).abs() {
                    i
                } else {
                    bi
                }
            });
            if v.get(imax, a) < 0.0 {
                for i in 0..d_in {
                    v.set(i, a, -v.get(i, a));
                }
                for i in 0..d_out {
                    u.set(i, a, -u.get(i, a));
                }
            }
        }
        Ok(LaggedModes { u, v, profiles })
    }

    /// Number of lags `L` (length of each profile).
    pub fn lags(&self) -> usize {
        self.profiles.first().map_or(0, Vec::len)
    }

    /// `[S_0, .., S_{L-1}]`, each `d_out x d_in`, `S_k = U diag(profiles[.][k]) V^T`.
    pub fn lag_matrices(&self) -> Vec<Matrix> {
        (0..self.lags())
            .map(|l| {
                let us = Matrix::from_fn(self.u.nrows(), self.u.ncols(), |i, a| {
                    self.u.get(i, a) * self.profiles[a][l]
                });
                us.matmul_t(&self.v)
            })
            .collect()
    }
}

/// n-bit flip-flop (SQ-6; Sussillo & Barak 2013): `n_bits x steps * batch` inputs and targets.
/// Input of bit `i`: at `t = 1` a pulse `+1` or `-1` (50/50) is forced; at every later step a
/// pulse with probability `prob` (sign 50/50), else 0. Target of bit `i` at `t`: the sign of
/// the most recent pulse of bit `i` at a step `<= t` (held between pulses). Stream `SAMPLES`.
pub fn flip_flop(
    n_bits: usize,
    steps: usize,
    batch: usize,
    prob: f64,
    seed: u64,
) -> Result<SeqData> {
    if n_bits == 0 {
        return Err(Error::invalid("flip_flop.n_bits", "need n_bits >= 1"));
    }
    check_prob("flip_flop.prob", prob)?;
    let tb = check_dims(steps, batch)?;
    let mut rng = random::rng(seed, stream::SAMPLES);
    let mut x = Matrix::zeros(n_bits, tb);
    let mut y = Matrix::zeros(n_bits, tb);
    for t in 0..steps {
        for b in 0..batch {
            let col = t * batch + b;
            for i in 0..n_bits {
                let pulse = t == 0 || rng.random_bool(prob);
                if pulse {
                    let sign = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
                    x.set(i, col, sign);
                    y.set(i, col, sign);
                } else {
                    y.set(i, col, y.get(i, col - batch));
                }
            }
        }
    }
    Ok(SeqData { x, y, steps, batch })
}

/// A normal `n x n` matrix with prescribed eigenvalues (SQ-7): `W = Q D Q^T` with `Q` random
/// orthogonal (Haar, stream `TEACHER` of `seed`) and `D` block diagonal: first the real
/// eigenvalues `real` as 1x1 blocks, then for each `(r, theta)` in `complex_pairs` the block
/// `r [[cos theta, -sin theta], [sin theta, cos theta]]` (eigenvalues `r e^{+-i theta}`), and
/// the remaining `n - real.len() - 2 complex_pairs.len()` dimensions eigenvalue 0.
/// Errors if the eigenvalues do not fit in `n`, or any value is not finite, or `r < 0`.
pub fn spectrum_matrix(
    n: usize,
    real: &[f64],
    complex_pairs: &[(f64, f64)],
    seed: u64,
) -> Result<Matrix> {
    let used = real.len() + 2 * complex_pairs.len();
    if n == 0 || used > n {
        return Err(Error::invalid(
            "spectrum",
            format!(
                "{} real + 2 x {} complex eigenvalues do not fit in n = {n}; increase n or list fewer",
                real.len(),
                complex_pairs.len()
            ),
        ));
    }
    if let Some(i) = real.iter().position(|v| !v.is_finite()) {
        return Err(Error::invalid(
            "spectrum.real",
            format!("eigenvalue {i} is not finite"),
        ));
    }
    if let Some(i) = complex_pairs
        .iter()
        .position(|&(r, th)| !(r.is_finite() && th.is_finite() && r >= 0.0))
    {
        return Err(Error::invalid(
            "spectrum.complex_pairs",
            format!("pair {i} needs a finite radius >= 0 and a finite angle (radians)"),
        ));
    }
    let mut d = Matrix::zeros(n, n);
    for (i, &l) in real.iter().enumerate() {
        d.set(i, i, l);
    }
    for (p, &(r, th)) in complex_pairs.iter().enumerate() {
        let i = real.len() + 2 * p;
        let (s, c) = th.sin_cos();
        d.set(i, i, r * c);
        d.set(i, i + 1, -r * s);
        d.set(i + 1, i, r * s);
        d.set(i + 1, i + 1, r * c);
    }
    let mut rng = random::rng(seed, stream::TEACHER);
    let q = linalg::orthonormal_from(&random::gaussian_matrix(&mut rng, n, n))?;
    Ok(q.matmul(&d).matmul_t(&q))
}

/// A teacher RNN (SQ-8) that generates target trajectories from inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct TeacherRnn {
    /// Recurrent weights `W`, `N x N` (e.g. from [`spectrum_matrix`] or a `.npy` file).
    pub w: Matrix,
    /// Input weights `U`, `N x n_in`.
    pub u: Matrix,
    /// Optional readout `C`, `n_out x N` (used by [`observe`] when passed there).
    pub c: Option<Matrix>,
    /// Nonlinearity `phi`.
    pub activation: Activation,
    /// `None`: discrete `h_t = phi(W h_{t-1} + U x_t)` (RN-1). `Some(a)`, `0 < a <= 1`: rate
    /// network, Euler step `a = dt / tau`: `h_t = (1 - a) h_{t-1} + a (W phi(h_{t-1}) + U x_t)`.
    pub alpha: Option<f64>,
}

impl TeacherRnn {
    fn validate(&self, x: &Matrix, steps: usize, batch: usize) -> Result<()> {
        let n = self.w.nrows();
        if n == 0 || self.w.ncols() != n {
            return Err(Error::Shape {
                what: "teacher W".into(),
                expected: "(N, N) with N >= 1".into(),
                got: format!("({}, {})", self.w.nrows(), self.w.ncols()),
            });
        }
        if self.u.nrows() != n || self.u.ncols() == 0 {
            return Err(Error::Shape {
                what: "teacher U".into(),
                expected: format!("(N = {n}, n_in >= 1)"),
                got: format!("({}, {})", self.u.nrows(), self.u.ncols()),
            });
        }
        if let Some(c) = &self.c {
            if c.ncols() != n || c.nrows() == 0 {
                return Err(Error::Shape {
                    what: "teacher C".into(),
                    expected: format!("(n_out >= 1, N = {n})"),
                    got: format!("({}, {})", c.nrows(), c.ncols()),
                });
            }
        }
        for (what, m) in [("teacher W", &self.w), ("teacher U", &self.u)] {
            if m.as_slice().iter().any(|v| !v.is_finite()) {
                return Err(Error::invalid(what, "entries must be finite"));
            }
        }
        if let Some(a) = self.alpha {
            if !(a > 0.0 && a <= 1.0) {
                return Err(Error::invalid(
                    "teacher alpha",
                    format!("the Euler step dt/tau must lie in (0, 1], got {a}"),
                ));
            }
        }
        check_block("teacher inputs x", x, steps, batch)?;
        if x.nrows() != self.u.ncols() {
            return Err(Error::Shape {
                what: "teacher inputs x".into(),
                expected: format!("(n_in = {}, steps * batch)", self.u.ncols()),
                got: format!("({}, {})", x.nrows(), x.ncols()),
            });
        }
        Ok(())
    }

    /// Run the teacher from `h_0 = 0` on inputs `x` (`n_in x steps * batch`) and return all
    /// states `[h_1 | .. | h_T]`, `N x steps * batch` (same layout). Errors on bad shapes, or
    /// if the states overflow (name the step; lower the spectral radius or the number of steps).
    pub fn states(&self, x: &Matrix, steps: usize, batch: usize) -> Result<Matrix> {
        self.validate(x, steps, batch)?;
        let n = self.w.nrows();
        let block = n * batch;
        let mut h = Matrix::zeros(n, steps * batch);
        gemm(
            h.view_mut(),
            self.u.view(),
            false,
            x.view(),
            false,
            1.0,
            false,
        );
        // h now holds U x_t in every block; add the recurrent term step by step.
        let mut prev = Matrix::zeros(n, batch);
        let mut rec = Matrix::zeros(n, batch);
        for t in 0..steps {
            match self.alpha {
                None => gemm(
                    rec.view_mut(),
                    self.w.view(),
                    false,
                    prev.view(),
                    false,
                    1.0,
                    false,
                ),
                Some(_) => {
                    let act = self.activation;
                    let phi = Matrix::from_fn(n, batch, |i, j| act.apply(prev.get(i, j)));
                    gemm(
                        rec.view_mut(),
                        self.w.view(),
                        false,
                        phi.view(),
                        false,
                        1.0,
                        false,
                    );
                }
            }
            let cur = &mut h.as_mut_slice()[t * block..(t + 1) * block];
            for ((c, r), p) in cur.iter_mut().zip(rec.as_slice()).zip(prev.as_slice()) {
                *c = match self.alpha {
                    None => self.activation.apply(*r + *c),
                    Some(a) => (1.0 - a) * p + a * (*r + *c),
                };
            }
            if let Some(k) = cur.iter().position(|v| !v.is_finite()) {
                return Err(Error::invalid(
                    "teacher states",
                    format!(
                        "h_t is not finite at step t = {} (unit {}, sequence {}); lower the \
                         spectral radius of W, the input scale or the number of steps",
                        t + 1,
                        k % n,
                        k / n
                    ),
                ));
            }
            prev.as_mut_slice().copy_from_slice(cur);
        }
        Ok(h)
    }
}

/// Targets from teacher states (SQ-9): `states` is `N x steps * batch`; returns
/// `m x steps * batch` where the rows are `states[observed[i], .]` in the given order
/// (`m = observed.len()`, repeats allowed), or `C states` (`m = n_out`) when `c` is given, or
/// all `N` rows when both are `None`; plus i.i.d. `N(0, noise_std^2)` observation noise from
/// stream `NOISE` of `seed` (none when `noise_std = 0`). Passing both `observed` and `c` is an
/// error (ambiguous).
pub fn observe(
    states: &Matrix,
    observed: Option<&[usize]>,
    c: Option<&Matrix>,
    noise_std: f64,
    seed: u64,
) -> Result<Matrix> {
    if !(noise_std.is_finite() && noise_std >= 0.0) {
        return Err(Error::invalid(
            "observe.noise_std",
            format!("must be finite and >= 0, got {noise_std}"),
        ));
    }
    let n = states.nrows();
    let mut out = match (observed, c) {
        (Some(_), Some(_)) => {
            return Err(Error::invalid(
                "observe",
                "pass either `observed` rows or a readout `c`, not both",
            ))
        }
        (Some(rows), None) => {
            if rows.is_empty() {
                return Err(Error::invalid(
                    "observe.observed",
                    "list at least one observed unit (or pass None to observe all)",
                ));
            }
            if let Some(&r) = rows.iter().find(|&&r| r >= n) {
                return Err(Error::invalid(
                    "observe.observed",
                    format!("unit {r} does not exist: the teacher has N = {n} units (0-based)"),
                ));
            }
            Matrix::from_fn(rows.len(), states.ncols(), |i, j| states.get(rows[i], j))
        }
        (None, Some(c)) => {
            if c.ncols() != n || c.nrows() == 0 {
                return Err(Error::Shape {
                    what: "observe readout c".into(),
                    expected: format!("(n_out >= 1, N = {n})"),
                    got: format!("({}, {})", c.nrows(), c.ncols()),
                });
            }
            c.matmul(states)
        }
        (None, None) => states.clone(),
    };
    if noise_std > 0.0 {
        let mut rng = random::rng(seed, stream::NOISE);
        let noise = random::gaussian_matrix(&mut rng, out.nrows(), out.ncols());
        for (o, z) in out.as_mut_slice().iter_mut().zip(noise.as_slice()) {
            *o += noise_std * z;
        }
    }
    Ok(out)
}

fn check_sequences_array(path: &Path, a: &crate::npy::Array3, role: &str) -> Result<()> {
    let bad = |message: String| Error::Npy {
        path: path.display().to_string(),
        message,
    };
    let [b, t, d] = a.shape;
    for (len, axis) in [
        (b, "batch (axis 0)"),
        (t, "time (axis 1)"),
        (d, "dim (axis 2)"),
    ] {
        if len == 0 {
            return Err(bad(format!(
                "{role}: the {axis} axis has length 0 (shape [{b}, {t}, {d}]); \
                 need at least one sequence, one time step and one dimension"
            )));
        }
    }
    if let Some(k) = a.data.iter().position(|v| !v.is_finite()) {
        let (bi, ti, di) = (k / (t * d), (k / d) % t, k % d);
        return Err(bad(format!(
            "{role}: entry at [batch {bi}, time {ti}, dim {di}] (0-based) is {}; every entry \
             must be finite",
            a.data[k]
        )));
    }
    Ok(())
}

/// Load user sequences (SQ-10): `inputs` and `targets` are `.npy` arrays of shape
/// `[batch, time, dim]` (float64 or float32, C or Fortran order). Entry `[b, t, d]` (0-based)
/// goes to row `d`, column `t * batch + b` (time step `t + 1` in the [`SeqBatch`] layout).
/// Errors name the file and the problem: unreadable, not 3-D, a zero-length axis, a non-finite
/// entry (with its batch, time and dim index), or batch/time sizes that differ between files.
pub fn load_npy_sequences(inputs: &Path, targets: &Path) -> Result<SeqData> {
    let xa = crate::npy::read_array3(inputs)?;
    check_sequences_array(inputs, &xa, "inputs")?;
    let ya = crate::npy::read_array3(targets)?;
    check_sequences_array(targets, &ya, "targets")?;
    let [bx, tx, dx] = xa.shape;
    let [by, ty, dy] = ya.shape;
    if (bx, tx) != (by, ty) {
        return Err(Error::invalid(
            format!("{} and {}", inputs.display(), targets.display()),
            format!(
                "inputs have [batch, time] = [{bx}, {tx}] but targets have [{by}, {ty}]; \
                 both files must hold the same sequences with the same number of steps"
            ),
        ));
    }
    let to_block = |a: &crate::npy::Array3, d: usize| {
        Matrix::from_fn(d, tx * bx, |i, col| a.get(col % bx, col / bx, i))
    };
    Ok(SeqData {
        x: to_block(&xa, dx),
        y: to_block(&ya, dy),
        steps: tx,
        batch: bx,
    })
}
