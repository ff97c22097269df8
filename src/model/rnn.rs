//! Discrete-time vanilla RNN and its exact BPTT gradient.
//!
//! Model (`t = 1..T`, one sequence of a batch of `B`):
//! `h_0 = 0`, `a_t = W h_{t-1} + U x_t`, `h_t = phi(a_t)`, `yhat_t = C h_t`, with
//! `W: N x N`, `U: N x n_in`, `C: n_out x N`.
//!
//! Loss (mean over batch and time, factor 1/2):
//! `L = 1/(2 B T) sum_{b,t} ||yhat_t - y_t||^2`.
//!
//! Gradient (backpropagation through time), with `e_t = (yhat_t - y_t) / (B T)` and
//! `delta_{T+1} = 0`:
//! `delta_t = (C^T e_t + W^T delta_{t+1}) .* phi'(a_t)`,
//! `dW = sum_t delta_t h_{t-1}^T`, `dU = sum_t delta_t x_t^T`, `dC = sum_t e_t h_t^T`.
//!
//! Batch layout (column-major, built for GEMMs): time step `t` of sequence `b` is column
//! `(t - 1) B + b` of the data blocks `X` (`n_in x T B`) and `Y` (`n_out x T B`). The workspace
//! keeps all hidden states as one `N x (T + 1) B` block (`h_0 = 0` in the first `B` columns), so
//! the input term `U X`, the outputs `C H`, and the three gradient sums are each one GEMM over
//! `T B` columns; only the recurrences `W h_{t-1}` and `W^T delta_{t+1}` run per time step
//! (`N x N` times `N x B`; the backward one reads a copy of `W^T` made once per call).
//! `phi'(a_t)` is recovered from `h_t` (`1 - h^2` for tanh, `h > 0` for ReLU), so
//! pre-activations are not stored. The forward tanh is a vectorized `expm1`-based kernel
//! accurate to a few ulp (`Activation::apply` uses libm's `tanh`). Nothing is allocated per
//! call.

use super::seq_batch::check_finite;
pub use super::seq_batch::SeqBatch;
use crate::error::{Error, Result};
use crate::linalg::{gemm, MatMut, MatRef, Matrix};

/// Elementwise nonlinearity `phi` of the RNN (configs: `"identity"` or `"linear"`, `"tanh"`,
/// `"relu"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `phi(a) = a` (a linear RNN).
    #[serde(alias = "linear")]
    Identity,
    /// `phi(a) = tanh(a)`.
    Tanh,
    /// `phi(a) = max(a, 0)`; `phi'(0)` is taken as 0.
    Relu,
}

impl Activation {
    /// Parse `"identity"` (or `"linear"`), `"tanh"`, `"relu"`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "identity" | "linear" => Ok(Activation::Identity),
            "tanh" => Ok(Activation::Tanh),
            "relu" => Ok(Activation::Relu),
            _ => Err(Error::invalid(
                "activation",
                format!("unknown activation `{s}`; use identity, tanh or relu"),
            )),
        }
    }

    /// `v <- phi(v)` elementwise. tanh uses the vectorized kernel of the benchmark RNN
    /// (accurate to a few ulp of libm's `tanh`, and identical on every CPU: no FMA
    /// contraction), which is several times faster than calling libm per element.
    pub fn apply_in_place(self, v: &mut [f64]) {
        match self {
            Activation::Identity => {}
            Activation::Tanh => tanh_in_place(v),
            Activation::Relu => v.iter_mut().for_each(|x| *x = x.max(0.0)),
        }
    }

    /// The name [`Activation::parse`] accepts (as the peers spell it).
    pub fn name(self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
        }
    }

    /// `phi(a)`.
    #[inline]
    pub fn apply(self, a: f64) -> f64 {
        match self {
            Activation::Identity => a,
            Activation::Tanh => a.tanh(),
            Activation::Relu => a.max(0.0),
        }
    }

    /// `phi'(a)`.
    #[inline]
    pub fn derivative(self, a: f64) -> f64 {
        match self {
            Activation::Identity => 1.0,
            Activation::Tanh => {
                let h = a.tanh();
                1.0 - h * h
            }
            Activation::Relu => {
                if a > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
        }
    }

    /// `phi'(a)` expressed through `h = phi(a)` (what BPTT has stored).
    #[inline]
    pub fn derivative_from_output(self, h: f64) -> f64 {
        match self {
            Activation::Identity => 1.0,
            Activation::Tanh => 1.0 - h * h,
            Activation::Relu => {
                if h > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
        }
    }
}

/// Gradient of the loss, with the parameters' shapes.
#[derive(Debug, Clone)]
pub struct RnnGrad {
    /// `dL/dW`, `N x N`.
    pub w: Matrix,
    /// `dL/dU`, `N x n_in`.
    pub u: Matrix,
    /// `dL/dC`, `n_out x N`.
    pub c: Matrix,
}

impl RnnGrad {
    /// Zeros shaped like the parameters of `rnn`.
    pub fn zeros_like(rnn: &Rnn) -> Self {
        RnnGrad {
            w: Matrix::zeros(rnn.w.nrows(), rnn.w.ncols()),
            u: Matrix::zeros(rnn.u.nrows(), rnn.u.ncols()),
            c: Matrix::zeros(rnn.c.nrows(), rnn.c.ncols()),
        }
    }
}

/// Preallocated buffers for [`Rnn::loss`], [`Rnn::loss_and_grad`] and [`Rnn::gd_step`] at
/// fixed `(N, n_out, T, B)`.
#[derive(Debug, Clone)]
pub struct RnnWorkspace {
    n: usize,
    n_out: usize,
    t: usize,
    b: usize,
    /// Hidden states `[h_0 | h_1 | ... | h_T]`, `N x (T + 1) B` (`h_0 = 0`).
    h: Matrix,
    /// Backward signals `[delta_1 | ... | delta_T]`, `N x T B`.
    d: Matrix,
    /// Output errors `[e_1 | ... | e_T]`, `n_out x T B`.
    e: Matrix,
    /// `W^T` (`N x N`), copied once per backward pass so the recurrence reads a plain operand.
    wt: Matrix,
}

impl RnnWorkspace {
    /// Buffers for hidden size `n`, output size `n_out`, `t` time steps, `b` sequences.
    pub fn new(n: usize, n_out: usize, t: usize, b: usize) -> Self {
        RnnWorkspace {
            n,
            n_out,
            t,
            b,
            h: Matrix::zeros(n, (t + 1) * b),
            d: Matrix::zeros(n, t * b),
            e: Matrix::zeros(n_out, t * b),
            wt: Matrix::zeros(n, n),
        }
    }

    /// Buffers that fit `rnn` on `data`.
    pub fn for_problem(rnn: &Rnn, data: &SeqBatch) -> Self {
        Self::new(rnn.hidden(), rnn.n_out(), data.steps(), data.batch())
    }

    /// Hidden states of the last forward pass, `N x (T + 1) B`: column `t B + b` is `h_t` of
    /// sequence `b` (`t = 0..=T`). After a gradient call, `h_t` still holds the forward values.
    pub fn hidden_states(&self) -> &Matrix {
        &self.h
    }
}

/// A vanilla RNN `h_t = phi(W h_{t-1} + U x_t)`, `yhat_t = C h_t`, `h_0 = 0`.
#[derive(Debug, Clone)]
pub struct Rnn {
    /// Recurrent weights `W`, `N x N`.
    w: Matrix,
    /// Input weights `U`, `N x n_in`.
    u: Matrix,
    /// Readout `C`, `n_out x N`.
    c: Matrix,
    phi: Activation,
}

impl Rnn {
    /// An RNN from `W` (`N x N`), `U` (`N x n_in`), `C` (`n_out x N`). Errors on inconsistent
    /// shapes, a zero size, or a non-finite entry.
    pub fn new(w: Matrix, u: Matrix, c: Matrix, phi: Activation) -> Result<Self> {
        let n = w.nrows();
        let shape_err = |what: &str, expected: String, m: &Matrix| Error::Shape {
            what: what.into(),
            expected,
            got: format!("({}, {})", m.nrows(), m.ncols()),
        };
        if n == 0 || w.ncols() != n {
            return Err(shape_err("RNN W", "(N, N) with N >= 1".into(), &w));
        }
        if u.nrows() != n || u.ncols() == 0 {
            return Err(shape_err("RNN U", format!("({n}, n_in >= 1)"), &u));
        }
        if c.ncols() != n || c.nrows() == 0 {
            return Err(shape_err("RNN C", format!("(n_out >= 1, {n})"), &c));
        }
        check_finite("RNN W", &w)?;
        check_finite("RNN U", &u)?;
        check_finite("RNN C", &c)?;
        Ok(Rnn { w, u, c, phi })
    }

    /// Hidden size `N`.
    pub fn hidden(&self) -> usize {
        self.w.nrows()
    }
    /// Input size `n_in`.
    pub fn n_in(&self) -> usize {
        self.u.ncols()
    }
    /// Output size `n_out`.
    pub fn n_out(&self) -> usize {
        self.c.nrows()
    }
    /// The nonlinearity.
    pub fn activation(&self) -> Activation {
        self.phi
    }
    /// `W`, `N x N`.
    pub fn w(&self) -> &Matrix {
        &self.w
    }
    /// `U`, `N x n_in`.
    pub fn u(&self) -> &Matrix {
        &self.u
    }
    /// `C`, `n_out x N`.
    pub fn c(&self) -> &Matrix {
        &self.c
    }

    /// Overwrite the parameters with those of `other` (same shapes; a copy, no allocation).
    pub fn copy_params_from(&mut self, other: &Rnn) -> Result<()> {
        if self.w.nrows() != other.w.nrows()
            || self.u.ncols() != other.u.ncols()
            || self.c.nrows() != other.c.nrows()
        {
            return Err(Error::Shape {
                what: "RNN parameters".into(),
                expected: format!(
                    "N={} n_in={} n_out={}",
                    self.hidden(),
                    self.n_in(),
                    self.n_out()
                ),
                got: format!(
                    "N={} n_in={} n_out={}",
                    other.hidden(),
                    other.n_in(),
                    other.n_out()
                ),
            });
        }
        self.w.as_mut_slice().copy_from_slice(other.w.as_slice());
        self.u.as_mut_slice().copy_from_slice(other.u.as_slice());
        self.c.as_mut_slice().copy_from_slice(other.c.as_slice());
        self.phi = other.phi;
        Ok(())
    }

    fn check(&self, data: &SeqBatch, ws: &RnnWorkspace) -> Result<()> {
        if data.n_in() != self.n_in() || data.n_out() != self.n_out() {
            return Err(Error::Shape {
                what: "RNN data".into(),
                expected: format!("n_in = {}, n_out = {}", self.n_in(), self.n_out()),
                got: format!("n_in = {}, n_out = {}", data.n_in(), data.n_out()),
            });
        }
        if !data.has_default_time_weights() {
            return Err(Error::invalid(
                "RNN time weights",
                format!(
                    "Rnn computes the uniform mean (w_t = 1/T = 1/{}); use model::seq_rnn::SeqRnn \
                     for non-uniform time weights",
                    data.steps()
                ),
            ));
        }
        if data.state_noise().is_some() {
            return Err(Error::invalid(
                "RNN state noise",
                "Rnn has no state noise; use model::seq_rnn::SeqRnn",
            ));
        }
        let want = (self.hidden(), self.n_out(), data.steps(), data.batch());
        let got = (ws.n, ws.n_out, ws.t, ws.b);
        if want != got {
            return Err(Error::Shape {
                what: "RNN workspace (N, n_out, T, B)".into(),
                expected: format!("{want:?}"),
                got: format!("{got:?}"),
            });
        }
        Ok(())
    }

    /// Forward pass into `ws.h`, then `e = C H_{1..T} - Y` into `ws.e`, scaled by `scale`
    /// after the squares are summed; returns `sum ||yhat - y||^2`.
    fn forward_error(&self, data: &SeqBatch, ws: &mut RnnWorkspace, scale: Option<f64>) -> f64 {
        let (n, t, b) = (ws.n, ws.t, ws.b);
        let nb = n * b;
        let h = ws.h.as_mut_slice();
        h[..nb].fill(0.0);
        let (_, states) = h.split_at_mut(nb);
        // All input terms at once: a_t <- U x_t for t = 1..T (N x T B).
        gemm(
            mat_mut(n, t * b, states),
            self.u.view(),
            false,
            data.x().view(),
            false,
            1.0,
            false,
        );
        for step in 1..=t {
            let (prev, cur) = h.split_at_mut(step * nb);
            let prev = &prev[(step - 1) * nb..];
            let cur = &mut cur[..nb];
            if step > 1 {
                // h_0 = 0: the first step has no recurrent term.
                gemm(
                    mat_mut(n, b, cur),
                    self.w.view(),
                    false,
                    mat_ref(n, b, prev),
                    false,
                    1.0,
                    true,
                );
            }
            match self.phi {
                Activation::Identity => {}
                Activation::Tanh => tanh_in_place(cur),
                Activation::Relu => cur.iter_mut().for_each(|v| *v = v.max(0.0)),
            }
        }
        gemm(
            ws.e.view_mut(),
            self.c.view(),
            false,
            mat_ref(n, t * b, &ws.h.as_slice()[nb..]),
            false,
            1.0,
            false,
        );
        error_pass(ws.e.as_mut_slice(), data.y().as_slice(), scale)
    }

    /// Loss `1/(2 B T) sum ||yhat_t - y_t||^2` (forward pass only).
    pub fn loss(&self, data: &SeqBatch, ws: &mut RnnWorkspace) -> Result<f64> {
        self.check(data, ws)?;
        let tb = (data.steps() * data.batch()) as f64;
        Ok(0.5 * self.forward_error(data, ws, None) / tb)
    }

    /// Forward pass, errors `e_t` and backward signals `delta_t` in `ws`; returns the loss.
    fn backprop(&self, data: &SeqBatch, ws: &mut RnnWorkspace) -> f64 {
        let (n, t, b) = (ws.n, ws.t, ws.b);
        let nb = n * b;
        let tb = (t * b) as f64;
        let loss = 0.5 * self.forward_error(data, ws, Some(1.0 / tb)) / tb;
        // Direct terms C^T e_t for all t in one GEMM (N x T B).
        gemm(
            ws.d.view_mut(),
            self.c.view(),
            true,
            ws.e.view(),
            false,
            1.0,
            false,
        );
        {
            let wt = ws.wt.as_mut_slice();
            let w = self.w.as_slice();
            for j in 0..n {
                for i in 0..n {
                    wt[j + i * n] = w[i + j * n];
                }
            }
        }
        let hs = &ws.h.as_slice()[nb..];
        let d = ws.d.as_mut_slice();
        for step in (1..=t).rev() {
            let (cur, next) = d.split_at_mut(step * nb);
            let cur = &mut cur[(step - 1) * nb..];
            if step < t {
                gemm(
                    mat_mut(n, b, cur),
                    ws.wt.view(),
                    false,
                    mat_ref(n, b, &next[..nb]),
                    false,
                    1.0,
                    true,
                );
            }
            let hcur = &hs[(step - 1) * nb..step * nb];
            match self.phi {
                Activation::Identity => {}
                Activation::Tanh => cur
                    .iter_mut()
                    .zip(hcur)
                    .for_each(|(g, &hv)| *g *= 1.0 - hv * hv),
                Activation::Relu => cur.iter_mut().zip(hcur).for_each(|(g, &hv)| {
                    if hv <= 0.0 {
                        *g = 0.0;
                    }
                }),
            }
        }
        loss
    }

    /// `dst = alpha * grad + (dst if accumulate)` for the three sums, from a finished backprop.
    fn grad_gemms(
        ws: &RnnWorkspace,
        data: &SeqBatch,
        gw: MatMut<'_>,
        gu: MatMut<'_>,
        gc: MatMut<'_>,
        alpha: f64,
        accumulate: bool,
    ) {
        let (n, t, b) = (ws.n, ws.t, ws.b);
        let tb = t * b;
        let h = ws.h.as_slice();
        // dW = [delta_1..delta_T] [h_0..h_{T-1}]^T
        gemm(
            gw,
            ws.d.view(),
            false,
            mat_ref(n, tb, &h[..n * tb]),
            true,
            alpha,
            accumulate,
        );
        // dU = [delta_1..delta_T] [x_1..x_T]^T
        gemm(
            gu,
            ws.d.view(),
            false,
            data.x().view(),
            true,
            alpha,
            accumulate,
        );
        // dC = [e_1..e_T] [h_1..h_T]^T
        gemm(
            gc,
            ws.e.view(),
            false,
            mat_ref(n, tb, &h[n * b..]),
            true,
            alpha,
            accumulate,
        );
    }

    /// Loss and its exact gradient (BPTT, see the module docs) into `grad`. Errors if `data`,
    /// `ws` or `grad` do not fit this RNN; no allocation.
    pub fn loss_and_grad(
        &self,
        data: &SeqBatch,
        ws: &mut RnnWorkspace,
        grad: &mut RnnGrad,
    ) -> Result<f64> {
        self.check(data, ws)?;
        let shapes_ok = grad.w.nrows() == self.w.nrows()
            && grad.w.ncols() == self.w.ncols()
            && grad.u.nrows() == self.u.nrows()
            && grad.u.ncols() == self.u.ncols()
            && grad.c.nrows() == self.c.nrows()
            && grad.c.ncols() == self.c.ncols();
        if !shapes_ok {
            return Err(Error::Shape {
                what: "RNN gradient buffers (W, U, C)".into(),
                expected: format!(
                    "({0}, {0}), ({0}, {1}), ({2}, {0})",
                    self.hidden(),
                    self.n_in(),
                    self.n_out()
                ),
                got: format!(
                    "({}, {}), ({}, {}), ({}, {})",
                    grad.w.nrows(),
                    grad.w.ncols(),
                    grad.u.nrows(),
                    grad.u.ncols(),
                    grad.c.nrows(),
                    grad.c.ncols()
                ),
            });
        }
        let loss = self.backprop(data, ws);
        Self::grad_gemms(
            ws,
            data,
            grad.w.view_mut(),
            grad.u.view_mut(),
            grad.c.view_mut(),
            1.0,
            false,
        );
        Ok(loss)
    }

    /// One plain GD step `theta -= eta * grad` on all of `(W, U, C)` at once; returns the loss
    /// before the step. The update is fused into the gradient GEMMs (`W += (-eta) D H^T`, ...),
    /// which run after the last use of the old parameters, so this is the simultaneous update.
    pub fn gd_step(&mut self, data: &SeqBatch, ws: &mut RnnWorkspace, eta: f64) -> Result<f64> {
        self.check(data, ws)?;
        let loss = self.backprop(data, ws);
        let Rnn { w, u, c, .. } = self;
        Self::grad_gemms(
            ws,
            data,
            w.view_mut(),
            u.view_mut(),
            c.view_mut(),
            -eta,
            true,
        );
        Ok(loss)
    }
}

/// `v <- tanh(v)` elementwise with [`tanh_fast`], in 4-wide AVX2 vectors when the CPU has
/// them (same IEEE operations, so the same bits as the portable path; no FMA contraction).
fn tanh_in_place(v: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            unsafe { tanh_in_place_avx2(v) };
            return;
        }
    }
    v.iter_mut().for_each(|x| *x = tanh_fast(*x));
}

/// [`tanh_in_place`] compiled for AVX2.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn tanh_in_place_avx2(v: &mut [f64]) {
    v.iter_mut().for_each(|x| *x = tanh_fast(*x));
}

/// `tanh(a) = E / (E + 2)` with `E = expm1(2|a|)`, sign restored; written without calls so the
/// loop over a block vectorizes (libm's `expm1`/`tanh` dominated the tanh RNN step otherwise).
/// `expm1(x)`: `x = k ln2 + r` (Cody-Waite, `|r| <= ln2 / 2`), `expm1(r)` by its Taylor
/// polynomial to degree 13 (truncation `< 0.35^14 / 14! ~ 4e-18`), then
/// `expm1(x) = 2^k expm1(r) + (2^k - 1)`; for `k = 0` this is `expm1(r)` itself, so small `a`
/// keep full relative accuracy, and for `k >= 1` the result exceeds 0.4 (no cancellation).
/// A few ulp from the true value (checked against libm in the unit test). `|a|` is clamped to
/// 20 (`tanh(20) = 1 - 8.5e-18` rounds to 1), infinities give `+-1`, NaN propagates.
#[inline]
fn tanh_fast(a: f64) -> f64 {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000); // ln 2, high 21 bits
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76); // ln 2 - LN2_HI
    const SHIFT: f64 = 6_755_399_441_055_744.0; // 1.5 * 2^52: round to nearest integer
    let ax = a.abs();
    let x = 2.0 * if ax > 20.0 { 20.0 } else { ax };
    let shifted = x * LOG2E + SHIFT;
    let kf = shifted - SHIFT;
    let r = (x - kf * LN2_HI) - kf * LN2_LO;
    // expm1(r) = r + r^2 p(r), p(r) = sum_{j=0}^{11} r^j / (j + 2)!, by Estrin's scheme
    // (short dependency chains, so consecutive elements overlap in the pipeline).
    let r2 = r * r;
    let r4 = r2 * r2;
    let r8 = r4 * r4;
    let q0 = 1.0 / 2.0 + r * (1.0 / 6.0);
    let q1 = 1.0 / 24.0 + r * (1.0 / 120.0);
    let q2 = 1.0 / 720.0 + r * (1.0 / 5_040.0);
    let q3 = 1.0 / 40_320.0 + r * (1.0 / 362_880.0);
    let q4 = 1.0 / 3_628_800.0 + r * (1.0 / 39_916_800.0);
    let q5 = 1.0 / 479_001_600.0 + r * (1.0 / 6_227_020_800.0);
    let p = (q0 + q1 * r2) + (q2 + q3 * r2) * r4 + (q4 + q5 * r2) * r8;
    let em1_r = r2 * p + r;
    // 2^k for 0 <= k <= 58: the low mantissa bits of `shifted` are `2^51 + k`; shifting
    // `bits + 1023` left by 52 drops the `2^51` and leaves the exponent field `k + 1023`
    // (integer-only, so it vectorizes; a NaN input gives some finite 2^k and a NaN result).
    let two_k = f64::from_bits(shifted.to_bits().wrapping_add(1023) << 52);
    let e = two_k * em1_r + (two_k - 1.0);
    (e / (e + 2.0)).copysign(a)
}

#[inline]
fn mat_ref(rows: usize, cols: usize, data: &[f64]) -> MatRef<'_> {
    MatRef::new(rows, cols, &data[..rows * cols]).expect("RNN buffer views have exact lengths")
}

#[inline]
fn mat_mut(rows: usize, cols: usize, data: &mut [f64]) -> MatMut<'_> {
    MatMut::new(rows, cols, &mut data[..rows * cols]).expect("RNN buffer views have exact lengths")
}

/// `sum (e - y)^2` over `e` (which holds `yhat`); overwrites `e` by `e - y`, times `scale` if
/// given. Eight partial sums so that the loop vectorizes.
fn error_pass(e: &mut [f64], y: &[f64], scale: Option<f64>) -> f64 {
    let c = scale.unwrap_or(1.0);
    let mut acc = [0.0f64; 8];
    let mut ec = e.chunks_exact_mut(8);
    let mut yc = y.chunks_exact(8);
    for (ee, yy) in (&mut ec).zip(&mut yc) {
        for k in 0..8 {
            let d = ee[k] - yy[k];
            acc[k] += d * d;
            ee[k] = d * c;
        }
    }
    for (k, (ee, yy)) in ec
        .into_remainder()
        .iter_mut()
        .zip(yc.remainder())
        .enumerate()
    {
        let d = *ee - yy;
        acc[k] += d * d;
        *ee = d * c;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
}

#[cfg(test)]
mod tests {
    use super::tanh_fast;

    #[test]
    fn tanh_fast_is_within_a_few_ulp_of_libm() {
        let mut worst = 0.0f64;
        for i in -400_000i32..=400_000 {
            let a = f64::from(i) * 6e-5 + 1e-7 * f64::from(i % 7);
            let (f, g) = (tanh_fast(a), a.tanh());
            worst = worst.max((f - g).abs() / g.abs().max(f64::MIN_POSITIVE));
        }
        for a in [
            1e-300, 1e-20, 1e-9, 3e-4, 0.3465, 0.3466, 19.9, 20.0, 20.1, 700.0,
        ] {
            for s in [a, -a] {
                let (f, g) = (tanh_fast(s), s.tanh());
                worst = worst.max((f - g).abs() / g.abs());
            }
        }
        assert!(worst < 1e-15, "max rel err {worst}");
        assert_eq!(tanh_fast(0.0).to_bits(), 0.0f64.to_bits());
        assert_eq!(tanh_fast(f64::INFINITY).to_bits(), 1.0f64.to_bits());
        assert_eq!(tanh_fast(f64::NEG_INFINITY).to_bits(), (-1.0f64).to_bits());
        assert!(tanh_fast(f64::NAN).is_nan());
        // The vectorized path gives the same bits as the scalar one.
        let xs: Vec<f64> = (0..1001).map(|i| f64::from(i - 500) * 0.037).collect();
        let mut v = xs.clone();
        super::tanh_in_place(&mut v);
        assert!(xs
            .iter()
            .zip(&v)
            .all(|(x, y)| tanh_fast(*x).to_bits() == y.to_bits()));
    }
}
