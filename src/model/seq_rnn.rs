//! General RNN for training: discrete-time or Euler-discretized rate dynamics, optional bias,
//! learned or fixed initial state, optional low-rank recurrence, learnable subsets, per-step
//! loss weights, and exact (full or truncated) BPTT over one flat parameter vector.
//!
//! Model (`t = 1..T`, theory/rnn.md RN-1, RN-4, RN-5):
//! - discrete: `h_t = phi(W h_{t-1} + U x_t + b)`;
//! - rate (Euler step `dt = alpha tau` of `tau dh/dt = -h + W phi(h) + U x + b`):
//!   `h_t = (1 - alpha) h_{t-1} + alpha (W phi(h_{t-1}) + U x_t + b)`;
//! - output `yhat_t = C h_t`; `h_0` is a parameter shared by all sequences;
//! - recurrent matrix `W` (full) or `W = bulk + M N^T / hidden` (low rank, `bulk` fixed).
//!
//! Loss (RN-7): `L = 1/(2B) sum_t w_t sum_b ||yhat_t - y_t||^2` with the batch's time weights.
//!
//! Gradient (RN-3, RN-4), with `e_t = w_t (yhat_t - y_t) / B` and `g_t = dL/dh_t`:
//! - discrete: `delta_t = (C^T e_t + W^T delta_{t+1}) .* phi'(a_t)` (`delta_t = dL/da_t`);
//! - rate: `g_t = C^T e_t + (1 - alpha) g_{t+1} + phi'(h_t) .* (W^T delta_{t+1})`,
//!   `delta_t = alpha g_t` (the gradient with respect to `W phi(h_{t-1}) + U x_t + b`);
//! - `dW = sum_t delta_t p_{t-1}^T` with `p = h` (discrete) or `p = phi(h)` (rate),
//!   `dU = sum_t delta_t x_t^T`, `db = sum_t delta_t`, `dC = sum_t e_t h_t^T`, summed over the
//!   batch; `dh_0 = sum_b W^T delta_1` (discrete) or
//!   `sum_b [(1 - alpha) g_1 + phi'(h_0) .* W^T delta_1]` (rate);
//! - low rank (RN-5): `dM = dW N / hidden`, `dN = dW^T M / hidden`.
//!
//! Truncated BPTT with window `k` (RN-6) drops the `t + 1 -> t` terms when `t` is a multiple of
//! `k`: the state entering each chunk is treated as a constant.
//!
//! Layout as in [`super::rnn`]: time step `t` of sequence `b` is column `(t - 1) B + b`; the
//! workspace keeps all states as one `hidden x (T + 1) B` block, so `U X`, `C H` and the
//! gradient sums are single GEMMs over `T B` columns and only the recurrences run per step.
//! Nothing is allocated per call.

use super::rnn::{Activation, SeqBatch};
pub use super::Block;
use super::ParamLayout;
use crate::error::{Error, Result};
use crate::linalg::{gemm, MatMut, MatRef, Matrix};

/// Time discretization of the RNN.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Form {
    /// `h_t = phi(W h_{t-1} + U x_t + b)` (RN-1).
    Discrete,
    /// `h_t = (1 - alpha) h_{t-1} + alpha (W phi(h_{t-1}) + U x_t + b)` (RN-4): an Euler step
    /// `dt = alpha tau` of the rate equation; `0 < alpha <= 1`.
    Rate {
        /// `dt / tau`, in `(0, 1]`.
        alpha: f64,
    },
}

/// Which parameter blocks are trained (the others keep their values and get a zero gradient).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Learn {
    /// The recurrence: `W` (full rank) or both `M` and `N` (low rank).
    pub w: bool,
    /// Input weights `U`.
    pub u: bool,
    /// Readout `C`.
    pub c: bool,
    /// Bias `b` (ignored when the spec has no bias).
    pub b: bool,
    /// Initial state `h_0`.
    pub h0: bool,
}

impl Learn {
    /// Every block learnable (including `h_0`).
    pub fn all() -> Self {
        Learn {
            w: true,
            u: true,
            c: true,
            b: true,
            h0: true,
        }
    }

    /// `W` (or `M`, `N`), `U`, `C` and `b` learnable; `h_0` fixed.
    pub fn weights() -> Self {
        Learn {
            h0: false,
            ..Learn::all()
        }
    }
}

/// Architecture of a [`SeqRnn`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeqRnnSpec {
    /// Input dimension `n_in >= 1`.
    pub n_in: usize,
    /// Hidden size `N >= 1`.
    pub hidden: usize,
    /// Output dimension `n_out >= 1`.
    pub n_out: usize,
    /// Nonlinearity `phi`.
    pub activation: Activation,
    /// Discrete or rate dynamics.
    pub form: Form,
    /// Whether the bias block `b` exists.
    pub bias: bool,
    /// `None`: full `W`; `Some(R)` with `1 <= R <= hidden`: `W = bulk + M N^T / hidden`.
    pub rank: Option<usize>,
    /// Learnable blocks.
    pub learn: Learn,
}

/// A general RNN over a flat parameter vector `theta` (see the module docs and [`SeqRnn::blocks`]
/// for the layout). The model holds only the architecture and the fixed low-rank bulk.
#[derive(Debug, Clone)]
pub struct SeqRnn {
    spec: SeqRnnSpec,
    layout: ParamLayout,
    /// Fixed part of `W` for a low-rank model (`hidden x hidden`; zeros if none was given).
    bulk: Option<Matrix>,
}

/// Preallocated buffers for [`SeqRnn::loss`] and [`SeqRnn::loss_and_grad`] at fixed
/// `(hidden, n_out, T, B)`.
#[derive(Debug, Clone)]
pub struct SeqRnnWorkspace {
    n: usize,
    n_out: usize,
    t: usize,
    b: usize,
    /// `[h_0 | h_1 | ... | h_T]`, `N x (T + 1) B`.
    h: Matrix,
    /// Rate form only: `phi(h)` for the same columns (`0 x 0` for the discrete form).
    r: Matrix,
    /// `[delta_1 | ... | delta_T]`, `N x T B`.
    d: Matrix,
    /// `[e_1 | ... | e_T]`, `n_out x T B`.
    e: Matrix,
    /// Effective recurrent matrix, `N x N`.
    weff: Matrix,
    /// Gradient with respect to the effective `W` (low rank only), `N x N`.
    dw: Matrix,
    /// `N x B` scratch (`W^T delta_{t+1}`).
    tmp: Matrix,
    /// Rate form: `g_{t+1}`, `N x B`.
    gnext: Matrix,
}

impl SeqRnnWorkspace {
    /// All hidden states of the last forward pass, `hidden x (T + 1) B`: column `t B + b` is
    /// `h_t` of sequence `b` (`t = 0..=T`, so the first `B` columns are `h_0`).
    pub fn states(&self) -> &Matrix {
        &self.h
    }
}

impl SeqRnn {
    /// A model with architecture `spec`. `bulk` is the fixed random part `g chi`
    /// (`hidden x hidden`) of a low-rank model (`None` means 0). Errors if a size is 0, the rank
    /// is 0 or exceeds `hidden`, `alpha` is outside `(0, 1]`, or `bulk` is given for a full-rank
    /// model, has the wrong shape or a non-finite entry.
    pub fn new(spec: SeqRnnSpec, bulk: Option<Matrix>) -> Result<Self> {
        let SeqRnnSpec {
            n_in,
            hidden: n,
            n_out,
            ..
        } = spec;
        if n_in == 0 || n == 0 || n_out == 0 {
            return Err(Error::invalid(
                "SeqRnnSpec sizes",
                format!("need n_in, hidden, n_out >= 1, got n_in={n_in} hidden={n} n_out={n_out}"),
            ));
        }
        if let Form::Rate { alpha } = spec.form {
            if !(alpha > 0.0 && alpha <= 1.0) {
                return Err(Error::invalid(
                    "SeqRnnSpec.form alpha",
                    format!("alpha = dt/tau must be in (0, 1], got {alpha}"),
                ));
            }
        }
        if let Some(r) = spec.rank {
            if r == 0 || r > n {
                return Err(Error::invalid(
                    "SeqRnnSpec.rank",
                    format!("rank must be in 1..=hidden = {n}, got {r}; use None for full W"),
                ));
            }
        }
        if let Some(bk) = &bulk {
            if spec.rank.is_none() {
                return Err(Error::invalid(
                    "SeqRnn bulk",
                    "a bulk matrix is only used by a low-rank model; set spec.rank or pass None",
                ));
            }
            if bk.nrows() != n || bk.ncols() != n {
                return Err(Error::Shape {
                    what: "SeqRnn bulk".into(),
                    expected: format!("({n}, {n}) = (hidden, hidden)"),
                    got: format!("({}, {})", bk.nrows(), bk.ncols()),
                });
            }
            if let Some(k) = bk.as_slice().iter().position(|v| !v.is_finite()) {
                return Err(Error::invalid(
                    "SeqRnn bulk",
                    format!(
                        "entry ({}, {}) is {}; all entries must be finite",
                        k % n,
                        k / n,
                        bk.as_slice()[k]
                    ),
                ));
            }
        }
        let l = spec.learn;
        let mut shapes: Vec<(&'static str, usize, usize, bool)> = match spec.rank {
            None => vec![("w", n, n, l.w)],
            Some(r) => vec![("m", n, r, l.w), ("n", n, r, l.w)],
        };
        shapes.push(("u", n, n_in, l.u));
        shapes.push(("c", n_out, n, l.c));
        if spec.bias {
            shapes.push(("b", n, 1, l.b));
        }
        shapes.push(("h0", n, 1, l.h0));
        let layout = ParamLayout::new("SeqRnn", &shapes);
        let bulk = spec
            .rank
            .map(|_| bulk.unwrap_or_else(|| Matrix::zeros(n, n)));
        Ok(SeqRnn { spec, layout, bulk })
    }

    /// The architecture.
    pub fn spec(&self) -> &SeqRnnSpec {
        &self.spec
    }

    /// Length of the flat parameter vector (learnable and frozen blocks).
    pub fn n_params(&self) -> usize {
        self.layout.n_params()
    }

    /// The blocks of the flat vector, in order: full rank `w, u, c, [b], h0`; low rank
    /// `m, n, u, c, [b], h0` (`h0` always present, frozen unless `learn.h0`).
    pub fn blocks(&self) -> &[Block] {
        self.layout.blocks()
    }

    /// The block called `name`, if the model has one.
    pub fn block(&self, name: &str) -> Option<&Block> {
        self.layout.block(name)
    }

    /// The low-rank bulk (`hidden x hidden`), `None` for a full-rank model.
    pub fn bulk(&self) -> Option<&Matrix> {
        self.bulk.as_ref()
    }

    /// Block `name` of `theta` as a `rows x cols` matrix (vectors as `n x 1`); `None` if there
    /// is no such block or `theta.len() != n_params`.
    pub fn get(&self, theta: &[f64], name: &str) -> Option<Matrix> {
        self.layout.get(theta, name)
    }

    /// Write `value` into block `name` of `theta`. Errors on an unknown name, a `theta` of the
    /// wrong length, or a `value` of the wrong shape.
    pub fn set(&self, theta: &mut [f64], name: &str, value: &Matrix) -> Result<()> {
        self.layout.set(theta, name, value)
    }

    /// The recurrent matrix (`hidden x hidden`): `W` (full rank) or `bulk + M N^T / hidden`
    /// (RN-5). Errors if `theta.len() != n_params`.
    pub fn effective_w(&self, theta: &[f64]) -> Result<Matrix> {
        self.check_len("theta", theta.len())?;
        let n = self.spec.hidden;
        let mut w = Matrix::zeros(n, n);
        self.fill_weff(theta, &mut w);
        Ok(w)
    }

    /// Buffers for this model on batches shaped like `data` (same `T` and `B`).
    pub fn workspace(&self, data: &SeqBatch) -> SeqRnnWorkspace {
        let (n, n_out, t, b) = (
            self.spec.hidden,
            self.spec.n_out,
            data.steps(),
            data.batch(),
        );
        let rate = matches!(self.spec.form, Form::Rate { .. });
        let low_rank = self.spec.rank.is_some();
        SeqRnnWorkspace {
            n,
            n_out,
            t,
            b,
            h: Matrix::zeros(n, (t + 1) * b),
            r: if rate {
                Matrix::zeros(n, (t + 1) * b)
            } else {
                Matrix::zeros(0, 0)
            },
            d: Matrix::zeros(n, t * b),
            e: Matrix::zeros(n_out, t * b),
            weff: Matrix::zeros(n, n),
            dw: if low_rank {
                Matrix::zeros(n, n)
            } else {
                Matrix::zeros(0, 0)
            },
            tmp: Matrix::zeros(n, b),
            gnext: if rate {
                Matrix::zeros(n, b)
            } else {
                Matrix::zeros(0, 0)
            },
        }
    }

    /// Loss `1/(2B) sum_t w_t sum_b ||yhat_t - y_t||^2` (RN-7; forward pass only). Errors if
    /// `theta` has the wrong length or a non-finite entry, or `data` / `ws` do not fit.
    pub fn loss(&self, theta: &[f64], data: &SeqBatch, ws: &mut SeqRnnWorkspace) -> Result<f64> {
        self.check(theta, data, ws)?;
        Ok(self.forward(theta, data, ws))
    }

    /// Loss and its exact gradient by BPTT into `grad` (length `n_params`, same layout as
    /// `theta`; frozen blocks get exactly 0). `truncation`: `None` is full BPTT; `Some(k)`,
    /// `k >= 1`, is truncated BPTT (RN-6): the sequence is cut into chunks of `k` steps
    /// (`1..k, k+1..2k, ...`); the forward state is carried across chunk boundaries but no
    /// gradient flows back across them (the state entering a chunk is a constant; `h_0` still
    /// gets the gradient of the first chunk). `k >= T` equals full BPTT. Returns the loss.
    /// Errors on a `theta` / `grad` of the wrong length, a non-finite `theta`, `k = 0`, or
    /// `data` / `ws` that do not fit.
    pub fn loss_and_grad(
        &self,
        theta: &[f64],
        data: &SeqBatch,
        truncation: Option<usize>,
        ws: &mut SeqRnnWorkspace,
        grad: &mut [f64],
    ) -> Result<f64> {
        self.check(theta, data, ws)?;
        self.check_len("gradient buffer", grad.len())?;
        let k = match truncation {
            None => usize::MAX,
            Some(0) => {
                return Err(Error::invalid(
                    "BPTT truncation",
                    "window must be >= 1 step; use None for full BPTT",
                ))
            }
            Some(k) => k,
        };
        let loss = self.forward(theta, data, ws);
        self.backward(theta, k, ws);
        self.gradients(theta, data, ws, grad);
        Ok(loss)
    }

    fn check_len(&self, what: &str, len: usize) -> Result<()> {
        self.layout.check_len(what, len)
    }

    fn check(&self, theta: &[f64], data: &SeqBatch, ws: &SeqRnnWorkspace) -> Result<()> {
        self.layout.check_theta(theta)?;
        if data.n_in() != self.spec.n_in || data.n_out() != self.spec.n_out {
            return Err(Error::Shape {
                what: "SeqRnn data (n_in, n_out)".into(),
                expected: format!("({}, {})", self.spec.n_in, self.spec.n_out),
                got: format!("({}, {})", data.n_in(), data.n_out()),
            });
        }
        if let Some(xi) = data.state_noise() {
            if xi.nrows() != self.spec.hidden {
                return Err(Error::Shape {
                    what: "SeqRnn state noise".into(),
                    expected: format!("({}, T B) = (hidden, T B)", self.spec.hidden),
                    got: format!("({}, {})", xi.nrows(), xi.ncols()),
                });
            }
        }
        let want = (
            self.spec.hidden,
            self.spec.n_out,
            data.steps(),
            data.batch(),
        );
        let got = (ws.n, ws.n_out, ws.t, ws.b);
        let rate = matches!(self.spec.form, Form::Rate { .. });
        let parts_ok =
            (ws.r.ncols() > 0) == rate && (ws.dw.ncols() > 0) == self.spec.rank.is_some();
        if want != got || !parts_ok {
            return Err(Error::Shape {
                what: "SeqRnn workspace (hidden, n_out, T, B)".into(),
                expected: format!("{want:?}; make it with SeqRnn::workspace(data)"),
                got: format!("{got:?}"),
            });
        }
        Ok(())
    }

    fn slice<'a>(&self, theta: &'a [f64], name: &str) -> Option<&'a [f64]> {
        self.block(name).map(|b| &theta[b.range()])
    }

    fn view<'a>(&self, theta: &'a [f64], name: &str) -> MatRef<'a> {
        let b = self.block(name).expect("block exists for this spec");
        mat_ref(b.rows, b.cols, &theta[b.range()])
    }

    /// `dst = W` (full) or `bulk + M N^T / hidden` (low rank).
    fn fill_weff(&self, theta: &[f64], dst: &mut Matrix) {
        match &self.bulk {
            None => dst
                .as_mut_slice()
                .copy_from_slice(self.slice(theta, "w").expect("full rank has w")),
            Some(bulk) => {
                dst.as_mut_slice().copy_from_slice(bulk.as_slice());
                let inv_n = 1.0 / self.spec.hidden as f64;
                gemm(
                    dst.view_mut(),
                    self.view(theta, "m"),
                    false,
                    self.view(theta, "n"),
                    true,
                    inv_n,
                    true,
                );
            }
        }
    }

    /// Forward pass into `ws.h` (and `ws.r`), errors `e_t = w_t (yhat_t - y_t) / B` into `ws.e`;
    /// returns the loss.
    fn forward(&self, theta: &[f64], data: &SeqBatch, ws: &mut SeqRnnWorkspace) -> f64 {
        let (n, t, b) = (ws.n, ws.t, ws.b);
        let nb = n * b;
        let phi = self.spec.activation;
        self.fill_weff(theta, &mut ws.weff);
        let h0 = self.slice(theta, "h0").expect("h0 always present");
        let bias = self.slice(theta, "b");
        let h = ws.h.as_mut_slice();
        for col in h[..nb].chunks_exact_mut(n) {
            col.copy_from_slice(h0);
        }
        // Input drive for all steps at once: z_t = U x_t (+ b), N x T B.
        gemm(
            mat_mut(n, t * b, &mut h[nb..]),
            self.view(theta, "u"),
            false,
            data.x().view(),
            false,
            1.0,
            false,
        );
        if let Some(bv) = bias {
            for col in h[nb..].chunks_exact_mut(n) {
                col.iter_mut().zip(bv).for_each(|(v, bi)| *v += bi);
            }
        }
        // Frozen state noise (RN-9): an additive drive, so the backward pass is unchanged.
        if let Some(xi) = data.state_noise() {
            h[nb..]
                .iter_mut()
                .zip(xi.as_slice())
                .for_each(|(v, x)| *v += x);
        }
        match self.spec.form {
            Form::Discrete => {
                for step in 1..=t {
                    let (prev, cur) = h.split_at_mut(step * nb);
                    let prev = &prev[(step - 1) * nb..];
                    let cur = &mut cur[..nb];
                    gemm(
                        mat_mut(n, b, cur),
                        ws.weff.view(),
                        false,
                        mat_ref(n, b, prev),
                        false,
                        1.0,
                        true,
                    );
                    phi.apply_in_place(cur);
                }
            }
            Form::Rate { alpha } => {
                let r = ws.r.as_mut_slice();
                for step in 1..=t {
                    let (prev, cur) = h.split_at_mut(step * nb);
                    let prev = &prev[(step - 1) * nb..];
                    let cur = &mut cur[..nb];
                    let rprev = &mut r[(step - 1) * nb..step * nb];
                    rprev.copy_from_slice(prev);
                    phi.apply_in_place(rprev);
                    gemm(
                        mat_mut(n, b, cur),
                        ws.weff.view(),
                        false,
                        mat_ref(n, b, rprev),
                        false,
                        1.0,
                        true,
                    );
                    cur.iter_mut()
                        .zip(prev)
                        .for_each(|(v, &hp)| *v = alpha * *v + (1.0 - alpha) * hp);
                }
                r[t * nb..].copy_from_slice(&h[t * nb..]);
                phi.apply_in_place(&mut r[t * nb..]);
            }
        }
        gemm(
            ws.e.view_mut(),
            self.view(theta, "c"),
            false,
            mat_ref(n, t * b, &ws.h.as_slice()[nb..]),
            false,
            1.0,
            false,
        );
        let no_b = ws.n_out * b;
        let inv_b = 1.0 / b as f64;
        let mut loss = 0.0;
        for ((e, y), &w) in
            ws.e.as_mut_slice()
                .chunks_exact_mut(no_b)
                .zip(data.y().as_slice().chunks_exact(no_b))
                .zip(data.time_weights())
        {
            let mut s = 0.0;
            let c = w * inv_b;
            for (ev, yv) in e.iter_mut().zip(y) {
                let d = *ev - yv;
                s += d * d;
                *ev = d * c;
            }
            loss += w * s;
        }
        0.5 * inv_b * loss
    }

    /// Backward signals `delta_t` into `ws.d` (and `g_1` into `ws.gnext` for the rate form)
    /// from a finished forward pass; no gradient flows from `t + 1` to `t` when `k` divides `t`.
    fn backward(&self, theta: &[f64], k: usize, ws: &mut SeqRnnWorkspace) {
        let (n, t, b) = (ws.n, ws.t, ws.b);
        let nb = n * b;
        let phi = self.spec.activation;
        // Direct terms C^T e_t for all t in one GEMM (N x T B).
        gemm(
            ws.d.view_mut(),
            self.view(theta, "c"),
            true,
            ws.e.view(),
            false,
            1.0,
            false,
        );
        let hs = &ws.h.as_slice()[nb..];
        let d = ws.d.as_mut_slice();
        match self.spec.form {
            Form::Discrete => {
                for step in (1..=t).rev() {
                    let (cur, next) = d.split_at_mut(step * nb);
                    let cur = &mut cur[(step - 1) * nb..];
                    if step < t && step % k != 0 {
                        gemm(
                            mat_mut(n, b, cur),
                            ws.weff.view(),
                            true,
                            mat_ref(n, b, &next[..nb]),
                            false,
                            1.0,
                            true,
                        );
                    }
                    let hcur = &hs[(step - 1) * nb..step * nb];
                    cur.iter_mut()
                        .zip(hcur)
                        .for_each(|(g, &hv)| *g *= phi.derivative_from_output(hv));
                }
            }
            Form::Rate { alpha } => {
                let rs = &ws.r.as_slice()[nb..];
                let gnext = ws.gnext.as_mut_slice();
                let tmp = ws.tmp.as_mut_slice();
                for step in (1..=t).rev() {
                    let (cur, next) = d.split_at_mut(step * nb);
                    let cur = &mut cur[(step - 1) * nb..];
                    if step < t && step % k != 0 {
                        gemm(
                            mat_mut(n, b, tmp),
                            ws.weff.view(),
                            true,
                            mat_ref(n, b, &next[..nb]),
                            false,
                            1.0,
                            false,
                        );
                        let rcur = &rs[(step - 1) * nb..step * nb];
                        for (((g, &gn), &tv), &rv) in
                            cur.iter_mut().zip(gnext.iter()).zip(tmp.iter()).zip(rcur)
                        {
                            *g += (1.0 - alpha) * gn + phi.derivative_from_output(rv) * tv;
                        }
                    }
                    gnext.copy_from_slice(cur);
                    cur.iter_mut().for_each(|g| *g *= alpha);
                }
            }
        }
    }

    /// Parameter gradients from `ws.d`, `ws.e`, `ws.h` (`ws.r`) into `grad` (frozen blocks 0).
    fn gradients(
        &self,
        theta: &[f64],
        data: &SeqBatch,
        ws: &mut SeqRnnWorkspace,
        grad: &mut [f64],
    ) {
        let (n, t, b) = (ws.n, ws.t, ws.b);
        let (nb, tb) = (n * b, t * b);
        grad.fill(0.0);
        let l = self.spec.learn;
        let pre: &[f64] = match self.spec.form {
            Form::Discrete => &ws.h.as_slice()[..n * tb],
            Form::Rate { .. } => &ws.r.as_slice()[..n * tb],
        };
        if l.w {
            match self.spec.rank {
                None => {
                    let blk = self.block("w").expect("full rank has w");
                    gemm(
                        mat_mut(n, n, &mut grad[blk.range()]),
                        ws.d.view(),
                        false,
                        mat_ref(n, tb, pre),
                        true,
                        1.0,
                        false,
                    );
                }
                Some(r) => {
                    gemm(
                        ws.dw.view_mut(),
                        ws.d.view(),
                        false,
                        mat_ref(n, tb, pre),
                        true,
                        1.0,
                        false,
                    );
                    let inv_n = 1.0 / n as f64;
                    let bm = self.block("m").expect("low rank has m");
                    let bn = self.block("n").expect("low rank has n");
                    // dM = dW N / hidden, dN = dW^T M / hidden (RN-5).
                    gemm(
                        mat_mut(n, r, &mut grad[bm.range()]),
                        ws.dw.view(),
                        false,
                        self.view(theta, "n"),
                        false,
                        inv_n,
                        false,
                    );
                    gemm(
                        mat_mut(n, r, &mut grad[bn.range()]),
                        ws.dw.view(),
                        true,
                        self.view(theta, "m"),
                        false,
                        inv_n,
                        false,
                    );
                }
            }
        }
        if l.u {
            let blk = self.block("u").expect("u always present");
            gemm(
                mat_mut(n, self.spec.n_in, &mut grad[blk.range()]),
                ws.d.view(),
                false,
                data.x().view(),
                true,
                1.0,
                false,
            );
        }
        if l.c {
            let blk = self.block("c").expect("c always present");
            gemm(
                mat_mut(self.spec.n_out, n, &mut grad[blk.range()]),
                ws.e.view(),
                false,
                mat_ref(n, tb, &ws.h.as_slice()[nb..]),
                true,
                1.0,
                false,
            );
        }
        if let Some(blk) = self.block("b").filter(|blk| blk.learnable) {
            let gb = &mut grad[blk.range()];
            for col in ws.d.as_slice().chunks_exact(n) {
                gb.iter_mut().zip(col).for_each(|(g, v)| *g += v);
            }
        }
        if l.h0 {
            let blk = self.block("h0").expect("h0 always present");
            let tmp = ws.tmp.as_mut_slice();
            // W^T delta_1 for every sequence.
            gemm(
                mat_mut(n, b, tmp),
                ws.weff.view(),
                true,
                mat_ref(n, b, &ws.d.as_slice()[..nb]),
                false,
                1.0,
                false,
            );
            if let Form::Rate { alpha } = self.spec.form {
                let phi = self.spec.activation;
                let r0 = &ws.r.as_slice()[..nb];
                for ((tv, &rv), &g1) in tmp.iter_mut().zip(r0).zip(ws.gnext.as_slice()) {
                    *tv = (1.0 - alpha) * g1 + phi.derivative_from_output(rv) * *tv;
                }
            }
            let gh = &mut grad[blk.range()];
            for col in tmp.chunks_exact(n) {
                gh.iter_mut().zip(col).for_each(|(g, v)| *g += v);
            }
        }
    }
}

#[inline]
fn mat_ref(rows: usize, cols: usize, data: &[f64]) -> MatRef<'_> {
    MatRef::new(rows, cols, &data[..rows * cols]).expect("SeqRnn buffer views have exact lengths")
}

#[inline]
fn mat_mut(rows: usize, cols: usize, data: &mut [f64]) -> MatMut<'_> {
    MatMut::new(rows, cols, &mut data[..rows * cols])
        .expect("SeqRnn buffer views have exact lengths")
}
