//! Gated recurrent unit (GRU) network for training and dynamics analysis (theory/gru.md,
//! GRU-1 .. GRU-7; Cho et al. 2014), over one flat parameter vector like [`super::seq_rnn`].
//!
//! Cell (GRU-1, PyTorch's convention), for `t = 1..T` with `h_0` a parameter shared by all
//! sequences:
//! - reset gate `r_t = sigmoid(W_ir x_t + W_hr h_{t-1} + b_r)`;
//! - update gate `z_t = sigmoid(W_iz x_t + W_hz h_{t-1} + b_z)`;
//! - candidate `n_t = tanh(W_in x_t + b_in + xi_t + r_t .* (W_hn h_{t-1} + b_hn))`;
//! - state `h_t = (1 - z_t) .* n_t + z_t .* h_{t-1}`; output `yhat_t = C h_t (+ d)`.
//!
//! `xi_t` is the batch's optional frozen state noise ([`SeqBatch::with_state_noise`], `N x T B`),
//! added to the candidate's drive as RN-9 adds it to the RNN's drive `U x_t + b`.
//!
//! Loss (GRU-2 = RN-7): `L = 1/(2B) sum_t w_t sum_b ||yhat_t - y_t||^2` with the batch's time
//! weights `w_t` (default `1/T`; a readout at the last step only is `w = (0, .., 0, 1)`).
//!
//! Gradient (GRU-3), with `e_t = w_t (yhat_t - y_t) / B` and `g_t = dL/dh_t`
//! `= C^T e_t + (gradient from h_{t+1})`:
//! - `a^n_t = g_t (1 - z_t)(1 - n_t^2)`, `a^z_t = g_t (h_{t-1} - n_t) z_t (1 - z_t)`,
//!   `a^r_t = a^n_t (W_hn h_{t-1} + b_hn) r_t (1 - r_t)` (gradients of the pre-activations);
//! - `delta^i_t = [a^r; a^z; a^n]` (w.r.t. `W_i x_t + b_i`), `delta^h_t = [a^r; a^z; a^n .* r_t]`
//!   (w.r.t. `W_h h_{t-1}`, and its last third w.r.t. `b_hn`);
//! - `g_{t-1} += z_t .* g_t + W_h^T delta^h_t`;
//! - `dW_i = sum delta^i x^T`, `db_i = sum delta^i`, `dW_h = sum delta^h h_{t-1}^T`,
//!   `db_hn = sum (a^n .* r)`, `dC = sum e h^T`, `dd = sum e`, `dh_0 = sum_b g_0`.
//!
//! Truncated BPTT with window `k` (GRU-4 = RN-6) drops the `t + 1 -> t` term when `k` divides
//! `t`. Dynamics (GRU-5, GRU-6): [`GruMap`] is the one-step map at a constant input with its
//! analytic Jacobian, a [`crate::analysis::fixed_points::StateMap`] for [`crate::analysis::fixed_points::find_fixed_points`].
//!
//! Layout as in [`super::seq_rnn`]: time step `t` of sequence `b` is column `(t - 1) B + b`; the
//! gates are stacked `[r; z; n]` (`3N` rows, PyTorch's `weight_ih_l0` / `weight_hh_l0` order),
//! so the input drive is one GEMM over all `T B` columns and each step one `3N x N` GEMM.
//! Nothing is allocated per call of [`Gru::loss`] / [`Gru::loss_and_grad`].

use super::rnn::{Activation, SeqBatch};
use super::seq_rnn::Block;
use super::ParamLayout;
use crate::error::{Error, Result};
use crate::linalg::{gemm, MatMut, MatRef, Matrix};
use crate::random;
use rand::RngExt;
use rand_distr::StandardNormal;

mod map;

use super::sequence::{SequenceModel, SequenceNet};

pub use map::GruMap;

/// Architecture of a [`Gru`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GruSpec {
    /// Input dimension `n_in >= 1`.
    pub n_in: usize,
    /// Hidden size `N >= 1`.
    pub hidden: usize,
    /// Output dimension `n_out >= 1`.
    pub n_out: usize,
    /// Whether the gate biases `b_i = [b_r; b_z; b_in]` and `b_hn` exist.
    pub bias: bool,
    /// Whether the readout bias `d` exists (`yhat = C h + d`).
    pub readout_bias: bool,
    /// Whether `h_0` is trained (it is always a block; frozen blocks get a zero gradient).
    pub learn_h0: bool,
}

/// Initial parameters (GRU-7), drawn by [`Gru::init`] from stream
/// [`random::stream::INIT`] of the seed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GruInit {
    /// PyTorch's default: every weight and bias entry (gates and readout) i.i.d.
    /// `U(-gain / sqrt(N), gain / sqrt(N))`; `gain = 1` is PyTorch's `nn.GRU` + `nn.Linear`.
    Uniform {
        /// Scale of the bound (`>= 0`, finite).
        gain: f64,
    },
    /// Weights i.i.d. `N(0, gain^2 / fan_in)` (`fan_in = n_in` for `W_i`, `N` for `W_h` and
    /// `C`); all biases 0.
    Gaussian {
        /// Standard deviation times `sqrt(fan_in)` (`>= 0`, finite).
        gain: f64,
    },
}

/// A GRU network over a flat parameter vector `theta` (see the module docs and
/// [`Gru::blocks`] for the layout). The model holds only the architecture.
#[derive(Debug, Clone)]
pub struct Gru {
    spec: GruSpec,
    layout: ParamLayout,
}

/// Preallocated buffers for [`Gru::loss`] and [`Gru::loss_and_grad`] at fixed
/// `(hidden, n_out, T, B)`.
#[derive(Debug, Clone)]
pub struct GruWorkspace {
    n: usize,
    n_out: usize,
    t: usize,
    b: usize,
    /// `[h_0 | h_1 | ... | h_T]`, `N x (T + 1) B`.
    h: Matrix,
    /// Gate activations `[r_t; z_t; n_t]` per column, `3N x T B` (input drives before the
    /// recurrence overwrites them).
    g: Matrix,
    /// `W_hn h_{t-1} + b_hn`, `N x T B`.
    hn: Matrix,
    /// Recurrent pre-activations `W_h h_{t-1}` of one step, `3N x B`.
    gh: Matrix,
    /// `[e_1 | ... | e_T]`, `n_out x T B`.
    e: Matrix,
    /// `g_t = dL/dh_t`, `N x T B`.
    dh: Matrix,
    /// `delta^i_t`, `3N x T B`.
    di: Matrix,
    /// `delta^h_t`, `3N x T B`.
    dhh: Matrix,
    /// Gradient carried from `h_t` to `h_{t-1}`, `N x B` (after the backward pass: `g_0`).
    carry: Matrix,
}

impl GruWorkspace {
    /// All hidden states of the last forward pass, `hidden x (T + 1) B`: column `t B + b` is
    /// `h_t` of sequence `b` (`t = 0..=T`, so the first `B` columns are `h_0`).
    pub fn states(&self) -> &Matrix {
        &self.h
    }
}

/// The vectorized block tanh of the RNNs (a few ulp from libm, identical on every CPU).
const TANH: Activation = Activation::Tanh;

/// `sigmoid(x) = (1 + tanh(x / 2)) / 2`, the form the forward pass evaluates (with the block
/// tanh); exact at 0.
#[inline]
fn sigmoid(x: f64) -> f64 {
    0.5 + 0.5 * (0.5 * x).tanh()
}

impl Gru {
    /// A model with architecture `spec`. Errors if a size is 0.
    pub fn new(spec: GruSpec) -> Result<Self> {
        let GruSpec {
            n_in,
            hidden: n,
            n_out,
            ..
        } = spec;
        if n_in == 0 || n == 0 || n_out == 0 {
            return Err(Error::invalid(
                "GruSpec sizes",
                format!("need n_in, hidden, n_out >= 1, got n_in={n_in} hidden={n} n_out={n_out}"),
            ));
        }
        let mut shapes: Vec<(&'static str, usize, usize, bool)> =
            vec![("wi", 3 * n, n_in, true), ("wh", 3 * n, n, true)];
        if spec.bias {
            shapes.push(("bi", 3 * n, 1, true));
            shapes.push(("bhn", n, 1, true));
        }
        shapes.push(("c", n_out, n, true));
        if spec.readout_bias {
            shapes.push(("d", n_out, 1, true));
        }
        shapes.push(("h0", n, 1, spec.learn_h0));
        let layout = ParamLayout::new("Gru", &shapes);
        Ok(Gru { spec, layout })
    }

    /// The architecture.
    pub fn spec(&self) -> &GruSpec {
        &self.spec
    }

    /// Length of the flat parameter vector (learnable and frozen blocks).
    pub fn n_params(&self) -> usize {
        self.layout.n_params()
    }

    /// The blocks of the flat vector, in order: `wi` (`3N x n_in`, rows `[W_ir; W_iz; W_in]`),
    /// `wh` (`3N x N`, rows `[W_hr; W_hz; W_hn]`), then with `bias` `bi` (`3N x 1`,
    /// `[b_r; b_z; b_in]`) and `bhn` (`N x 1`), `c` (`n_out x N`), with `readout_bias` `d`
    /// (`n_out x 1`), and `h0` (`N x 1`, frozen unless `learn_h0`). All column-major.
    pub fn blocks(&self) -> &[Block] {
        self.layout.blocks()
    }

    /// The block called `name`, if the model has one.
    pub fn block(&self, name: &str) -> Option<&Block> {
        self.layout.block(name)
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

    /// Initial parameters (GRU-7) from stream [`random::stream::INIT`] of `seed`: the blocks are
    /// filled in block order, each column-major, from one generator; `h0` is 0. Errors if the
    /// gain is negative or not finite.
    pub fn init(&self, init: GruInit, seed: u64) -> Result<Vec<f64>> {
        let gain = match init {
            GruInit::Uniform { gain } | GruInit::Gaussian { gain } => gain,
        };
        if !(gain.is_finite() && gain >= 0.0) {
            return Err(Error::invalid(
                "GRU init gain",
                format!("{gain} must be finite and >= 0"),
            ));
        }
        let mut rng = random::rng(seed, random::stream::INIT);
        let mut theta = vec![0.0; self.layout.n_params()];
        let sq = |k: usize| (k as f64).sqrt();
        for blk in self.layout.blocks() {
            if blk.name == "h0" {
                continue;
            }
            let dst = &mut theta[range(blk)];
            match init {
                GruInit::Uniform { gain } => {
                    let k = gain / sq(self.spec.hidden);
                    if k > 0.0 {
                        dst.iter_mut().for_each(|v| *v = rng.random_range(-k..k));
                    }
                }
                GruInit::Gaussian { gain } => {
                    let fan_in = match blk.name.as_str() {
                        "wi" => self.spec.n_in,
                        "wh" | "c" => self.spec.hidden,
                        _ => continue,
                    };
                    let s = gain / sq(fan_in);
                    dst.iter_mut()
                        .for_each(|v| *v = s * rng.sample::<f64, _>(StandardNormal));
                }
            }
        }
        Ok(theta)
    }

    /// Buffers for this model on batches shaped like `data` (same `T` and `B`).
    pub fn workspace(&self, data: &SeqBatch) -> GruWorkspace {
        let (n, n_out, t, b) = (
            self.spec.hidden,
            self.spec.n_out,
            data.steps(),
            data.batch(),
        );
        GruWorkspace {
            n,
            n_out,
            t,
            b,
            h: Matrix::zeros(n, (t + 1) * b),
            g: Matrix::zeros(3 * n, t * b),
            hn: Matrix::zeros(n, t * b),
            gh: Matrix::zeros(3 * n, b),
            e: Matrix::zeros(n_out, t * b),
            dh: Matrix::zeros(n, t * b),
            di: Matrix::zeros(3 * n, t * b),
            dhh: Matrix::zeros(3 * n, t * b),
            carry: Matrix::zeros(n, b),
        }
    }

    /// Loss `1/(2B) sum_t w_t sum_b ||yhat_t - y_t||^2` (GRU-2; forward pass only). Errors if
    /// `theta` has the wrong length or a non-finite entry, or `data` / `ws` do not fit.
    pub fn loss(&self, theta: &[f64], data: &SeqBatch, ws: &mut GruWorkspace) -> Result<f64> {
        self.check(theta, data, ws)?;
        Ok(self.forward(theta, data, ws))
    }

    /// Loss and its exact gradient by BPTT (GRU-3) into `grad` (length `n_params`, same layout
    /// as `theta`; a frozen `h0` gets exactly 0). `truncation`: `None` is full BPTT; `Some(k)`,
    /// `k >= 1`, is truncated BPTT (GRU-4, the semantics of RN-6): chunks of `k` steps
    /// (`1..k, k+1..2k, ...`); the forward state is carried across chunk boundaries but no
    /// gradient flows back across them (`h_0` still gets the gradient of the first chunk).
    /// `k >= T` equals full BPTT. Returns the loss. Errors on a `theta` / `grad` of the wrong
    /// length, a non-finite `theta`, `k = 0`, or `data` / `ws` that do not fit.
    pub fn loss_and_grad(
        &self,
        theta: &[f64],
        data: &SeqBatch,
        truncation: Option<usize>,
        ws: &mut GruWorkspace,
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
        self.gradients(data, ws, grad);
        Ok(loss)
    }

    fn check_len(&self, what: &str, len: usize) -> Result<()> {
        self.layout.check_len(what, len)
    }

    fn check_theta(&self, theta: &[f64]) -> Result<()> {
        self.layout.check_theta(theta)
    }

    fn check(&self, theta: &[f64], data: &SeqBatch, ws: &GruWorkspace) -> Result<()> {
        self.check_theta(theta)?;
        let s = &self.spec;
        if data.n_in() != s.n_in || data.n_out() != s.n_out {
            return Err(Error::Shape {
                what: "Gru data (n_in, n_out)".into(),
                expected: format!("({}, {})", s.n_in, s.n_out),
                got: format!("({}, {})", data.n_in(), data.n_out()),
            });
        }
        if let Some(xi) = data.state_noise() {
            if xi.nrows() != s.hidden {
                return Err(Error::Shape {
                    what: "Gru state noise".into(),
                    expected: format!("({}, T B) = (hidden, T B)", s.hidden),
                    got: format!("({}, {})", xi.nrows(), xi.ncols()),
                });
            }
        }
        let want = (s.hidden, s.n_out, data.steps(), data.batch());
        let got = (ws.n, ws.n_out, ws.t, ws.b);
        if want != got {
            return Err(Error::Shape {
                what: "Gru workspace (hidden, n_out, T, B)".into(),
                expected: format!("{want:?}; make it with Gru::workspace(data)"),
                got: format!("{got:?}"),
            });
        }
        Ok(())
    }

    fn slice<'a>(&self, theta: &'a [f64], name: &str) -> Option<&'a [f64]> {
        self.block(name).map(|b| &theta[range(b)])
    }

    fn view<'a>(&self, theta: &'a [f64], name: &str) -> MatRef<'a> {
        let b = self.block(name).expect("block exists for this spec");
        mat_ref(b.rows, b.cols, &theta[range(b)])
    }

    /// Forward pass into `ws.h`, `ws.g`, `ws.hn`; errors `e_t = w_t (yhat_t - y_t) / B` into
    /// `ws.e`; returns the loss.
    fn forward(&self, theta: &[f64], data: &SeqBatch, ws: &mut GruWorkspace) -> f64 {
        let (n, t, b) = (ws.n, ws.t, ws.b);
        let (n3, nb) = (3 * n, n * b);
        let GruWorkspace {
            h, g, hn, gh, e, ..
        } = ws;
        let h = h.as_mut_slice();
        let h0 = self.slice(theta, "h0").expect("h0 always present");
        for col in h[..nb].chunks_exact_mut(n) {
            col.copy_from_slice(h0);
        }
        // Input drives of all gates for all steps at once: W_i X (+ b_i), 3N x T B.
        gemm(
            g.view_mut(),
            self.view(theta, "wi"),
            false,
            data.x().view(),
            false,
            1.0,
            false,
        );
        let g = g.as_mut_slice();
        if let Some(bi) = self.slice(theta, "bi") {
            for col in g.chunks_exact_mut(n3) {
                col.iter_mut().zip(bi).for_each(|(v, bv)| *v += bv);
            }
        }
        // Frozen state noise enters the candidate's drive (GRU-1): additive, so the backward
        // pass is unchanged.
        if let Some(xi) = data.state_noise() {
            for (col, x) in g.chunks_exact_mut(n3).zip(xi.as_slice().chunks_exact(n)) {
                col[2 * n..].iter_mut().zip(x).for_each(|(v, xv)| *v += xv);
            }
        }
        let wh = self.view(theta, "wh");
        let bhn = self.slice(theta, "bhn");
        let (gh, hn) = (gh.as_mut_slice(), hn.as_mut_slice());
        for step in 1..=t {
            let (prev, cur) = h.split_at_mut(step * nb);
            let prev = &prev[(step - 1) * nb..];
            let cur = &mut cur[..nb];
            gemm(
                mat_mut(n3, b, gh),
                wh,
                false,
                mat_ref(n, b, prev),
                false,
                1.0,
                false,
            );
            let c0 = (step - 1) * b;
            for col in 0..b {
                let gc = &mut g[(c0 + col) * n3..(c0 + col + 1) * n3];
                let ghc = &gh[col * n3..(col + 1) * n3];
                let hnc = &mut hn[(c0 + col) * n..(c0 + col + 1) * n];
                let (hp, hc) = (
                    &prev[col * n..(col + 1) * n],
                    &mut cur[col * n..(col + 1) * n],
                );
                // sigmoid(a) = (1 + tanh(a / 2)) / 2: libm's exp/tanh per element dominated
                // the step; the block tanh vectorizes.
                gc[..2 * n]
                    .iter_mut()
                    .zip(ghc)
                    .for_each(|(v, w)| *v = 0.5 * (*v + w));
                TANH.apply_in_place(&mut gc[..2 * n]);
                gc[..2 * n].iter_mut().for_each(|v| *v = 0.5 + 0.5 * *v);
                for i in 0..n {
                    let a = ghc[2 * n + i] + bhn.map_or(0.0, |v| v[i]);
                    hnc[i] = a;
                    gc[2 * n + i] += gc[i] * a;
                }
                TANH.apply_in_place(&mut gc[2 * n..]);
                for i in 0..n {
                    let (z, c) = (gc[n + i], gc[2 * n + i]);
                    hc[i] = (1.0 - z) * c + z * hp[i];
                }
            }
        }
        gemm(
            e.view_mut(),
            self.view(theta, "c"),
            false,
            mat_ref(n, t * b, &h[nb..]),
            false,
            1.0,
            false,
        );
        let d = self.slice(theta, "d");
        let no = ws.n_out;
        let inv_b = 1.0 / b as f64;
        let mut loss = 0.0;
        for ((es, y), &w) in e
            .as_mut_slice()
            .chunks_exact_mut(no * b)
            .zip(data.y().as_slice().chunks_exact(no * b))
            .zip(data.time_weights())
        {
            let mut s = 0.0;
            let c = w * inv_b;
            for (k, (ev, yv)) in es.iter_mut().zip(y).enumerate() {
                let dv = *ev + d.map_or(0.0, |d| d[k % no]) - yv;
                s += dv * dv;
                *ev = dv * c;
            }
            loss += w * s;
        }
        0.5 * inv_b * loss
    }

    /// Backward signals (GRU-3) into `ws.dh`, `ws.di`, `ws.dhh`, and `g_0` into `ws.carry`,
    /// from a finished forward pass; no gradient flows from `t + 1` to `t` when `k` divides `t`.
    fn backward(&self, theta: &[f64], k: usize, ws: &mut GruWorkspace) {
        let (n, t, b) = (ws.n, ws.t, ws.b);
        let (n3, nb) = (3 * n, n * b);
        // Direct terms C^T e_t for all t in one GEMM (N x T B).
        gemm(
            ws.dh.view_mut(),
            self.view(theta, "c"),
            true,
            ws.e.view(),
            false,
            1.0,
            false,
        );
        let wh = self.view(theta, "wh");
        let GruWorkspace {
            h,
            g,
            hn,
            dh,
            di,
            dhh,
            carry,
            ..
        } = ws;
        let (h, g, hn) = (h.as_slice(), g.as_slice(), hn.as_slice());
        let (dh, di, dhh) = (dh.as_mut_slice(), di.as_mut_slice(), dhh.as_mut_slice());
        let carry = carry.as_mut_slice();
        for step in (1..=t).rev() {
            let c0 = (step - 1) * b;
            let gcur = &mut dh[c0 * n..c0 * n + nb];
            if step < t && step % k != 0 {
                gcur.iter_mut().zip(carry.iter()).for_each(|(v, c)| *v += c);
            }
            let prev = &h[c0 * n..c0 * n + nb];
            for col in 0..b {
                let j = c0 + col;
                let gc = &g[j * n3..(j + 1) * n3];
                let hnc = &hn[j * n..(j + 1) * n];
                let (dic, dhc) = (
                    &mut di[j * n3..(j + 1) * n3],
                    &mut dhh[j * n3..(j + 1) * n3],
                );
                let (gt, hp) = (&gcur[col * n..(col + 1) * n], &prev[col * n..(col + 1) * n]);
                let cc = &mut carry[col * n..(col + 1) * n];
                for i in 0..n {
                    let (r, z, c) = (gc[i], gc[n + i], gc[2 * n + i]);
                    let an = gt[i] * (1.0 - z) * (1.0 - c * c);
                    let az = gt[i] * (hp[i] - c) * z * (1.0 - z);
                    let ar = an * hnc[i] * r * (1.0 - r);
                    dic[i] = ar;
                    dic[n + i] = az;
                    dic[2 * n + i] = an;
                    dhc[i] = ar;
                    dhc[n + i] = az;
                    dhc[2 * n + i] = an * r;
                    cc[i] = gt[i] * z;
                }
            }
            // g_{t-1} = z_t .* g_t + W_h^T delta^h_t (before the t - 1 direct term is added).
            gemm(
                mat_mut(n, b, carry),
                wh,
                true,
                mat_ref(n3, b, &dhh[c0 * n3..]),
                false,
                1.0,
                true,
            );
        }
    }

    /// Parameter gradients from the backward signals into `grad` (a frozen `h0` gets 0).
    fn gradients(&self, data: &SeqBatch, ws: &GruWorkspace, grad: &mut [f64]) {
        let (n, t, b) = (ws.n, ws.t, ws.b);
        let (n3, tb) = (3 * n, t * b);
        grad.fill(0.0);
        let blk = |name: &str| self.block(name).expect("block exists for this spec");
        let wi = blk("wi");
        gemm(
            mat_mut(n3, self.spec.n_in, &mut grad[range(wi)]),
            ws.di.view(),
            false,
            data.x().view(),
            true,
            1.0,
            false,
        );
        let wh = blk("wh");
        gemm(
            mat_mut(n3, n, &mut grad[range(wh)]),
            ws.dhh.view(),
            false,
            mat_ref(n, tb, ws.h.as_slice()),
            true,
            1.0,
            false,
        );
        let c = blk("c");
        gemm(
            mat_mut(self.spec.n_out, n, &mut grad[range(c)]),
            ws.e.view(),
            false,
            mat_ref(n, tb, &ws.h.as_slice()[n * b..]),
            true,
            1.0,
            false,
        );
        let col_sum = |dst: &mut [f64], src: &[f64], rows: usize, skip: usize| {
            for col in src.chunks_exact(rows) {
                dst.iter_mut().zip(&col[skip..]).for_each(|(g, v)| *g += v);
            }
        };
        if let Some(bi) = self.block("bi") {
            col_sum(&mut grad[range(bi)], ws.di.as_slice(), n3, 0);
            let bhn = blk("bhn");
            col_sum(&mut grad[range(bhn)], ws.dhh.as_slice(), n3, 2 * n);
        }
        if let Some(d) = self.block("d") {
            col_sum(&mut grad[range(d)], ws.e.as_slice(), self.spec.n_out, 0);
        }
        let h0 = blk("h0");
        if h0.learnable {
            col_sum(&mut grad[range(h0)], ws.carry.as_slice(), n, 0);
        }
    }
}

fn range(b: &Block) -> std::ops::Range<usize> {
    b.offset..b.offset + b.len()
}

#[inline]
fn mat_ref(rows: usize, cols: usize, data: &[f64]) -> MatRef<'_> {
    MatRef::new(rows, cols, &data[..rows * cols]).expect("Gru buffer views have exact lengths")
}

#[inline]
fn mat_mut(rows: usize, cols: usize, data: &mut [f64]) -> MatMut<'_> {
    MatMut::new(rows, cols, &mut data[..rows * cols]).expect("Gru buffer views have exact lengths")
}

/// A GRU on its sequences.
pub type GruModel<'a> = SequenceModel<'a, Gru>;

impl SequenceNet for Gru {
    type Workspace = GruWorkspace;
    fn n_params(&self) -> usize {
        Gru::n_params(self)
    }
    fn blocks(&self) -> &[Block] {
        Gru::blocks(self)
    }
    fn workspace(&self, data: &SeqBatch) -> GruWorkspace {
        Gru::workspace(self, data)
    }
    fn loss(&self, theta: &[f64], data: &SeqBatch, ws: &mut GruWorkspace) -> Result<f64> {
        Gru::loss(self, theta, data, ws)
    }
    fn loss_and_grad(
        &self,
        theta: &[f64],
        data: &SeqBatch,
        truncation: Option<usize>,
        ws: &mut GruWorkspace,
        grad: &mut [f64],
    ) -> Result<f64> {
        Gru::loss_and_grad(self, theta, data, truncation, ws, grad)
    }
}
