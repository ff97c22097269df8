//! One step of each latent form and its exact backward pass (theory/recovery.md RF-3), on a
//! batch of `b` columns. The input drive of every bin is computed once per pass
//! ([`Cell::drive`]); the step reads column block `s` of it.
//!
//! GRU (PyTorch's convention, gates stacked `[r; z; n]`): `hh = W_h h + b_h`,
//! `r = sigmoid(a_r + hh_r)`, `z = sigmoid(a_z + hh_z)`, `n = tanh(a_n + r .* hh_n)`,
//! `p = (1 - z) .* n + z .* h` with the drive `a = W_i x + b_i`. Backward with `g = dL/dp`:
//! `a^n = g (1 - z)(1 - n^2)`, `a^z = g (h - n) z (1 - z)`, `a^r = a^n hh_n r (1 - r)`;
//! `dL/da = [a^r; a^z; a^n]`, `dL/dhh = [a^r; a^z; a^n .* r]`,
//! `dL/dh = g .* z + W_h^T dL/dhh`.

use super::model::{mmut, mref};
use crate::linalg::gemm;
use crate::model::ParamLayout;

/// The latent dynamics with its sizes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell {
    /// `p = tanh(W h + U x + b)`.
    Rnn {
        /// Latent size.
        k: usize,
        /// Inputs.
        n_in: usize,
    },
    /// `p = A h + U x + b`.
    Linear {
        /// Latent size.
        k: usize,
        /// Inputs.
        n_in: usize,
    },
    /// The GRU.
    Gru {
        /// Latent size.
        k: usize,
        /// Inputs.
        n_in: usize,
    },
    /// The rate RNN's Euler map `p = (1 - alpha) h + alpha (W tanh(h) + U x + b)`.
    Rate {
        /// Latent size.
        k: usize,
        /// Inputs.
        n_in: usize,
        /// The Euler fraction `dt / tau`, in (0, 1].
        alpha: f64,
    },
    /// The tanh RNN with a rank-`rank` recurrence `W = M N^T / k` (`M`, `N`: `k x rank`).
    LowRank {
        /// Latent size.
        k: usize,
        /// Inputs.
        n_in: usize,
        /// Rank of the recurrence.
        rank: usize,
    },
}

/// Saved activations of the GRU (empty for the other forms), `k x T B` each.
#[derive(Debug, Clone, Default)]
pub struct Gates {
    r: Vec<f64>,
    z: Vec<f64>,
    n: Vec<f64>,
    hhn: Vec<f64>,
    /// `3k x b` scratch: `W_h h + b_h` forward, `dL/dhh` backward.
    hh: Vec<f64>,
    /// The recurrence's input (`h` or `tanh(h)`), `k x b` (the other forms).
    src: Vec<f64>,
    /// Scratch of the recurrence's backward pass.
    rec: RecScratch,
}

/// Scratch of `Cell::recurrence_back`.
#[derive(Debug, Clone, Default)]
pub struct RecScratch {
    /// `dL/d src`, `k x b`.
    gsrc: Vec<f64>,
    /// `rank x b` products of the low-rank recurrence.
    t1: Vec<f64>,
    /// See `t1`.
    t2: Vec<f64>,
}

impl Gates {
    /// Buffers for `tb` columns.
    pub fn new(cell: &Cell, tb: usize) -> Self {
        match *cell {
            Cell::Gru { k, .. } => Gates {
                r: vec![0.0; k * tb],
                z: vec![0.0; k * tb],
                n: vec![0.0; k * tb],
                hhn: vec![0.0; k * tb],
                hh: vec![0.0; 3 * k * tb],
                ..Gates::default()
            },
            Cell::LowRank { k, rank, .. } => Gates {
                src: vec![0.0; k * tb],
                rec: RecScratch {
                    gsrc: vec![0.0; k * tb],
                    t1: vec![0.0; rank * tb],
                    t2: vec![0.0; rank * tb],
                },
                ..Gates::default()
            },
            _ => {
                let k = cell.k();
                Gates {
                    src: vec![0.0; k * tb],
                    rec: RecScratch {
                        gsrc: vec![0.0; k * tb],
                        ..RecScratch::default()
                    },
                    ..Gates::default()
                }
            }
        }
    }
}

/// Arguments of one backward step.
pub struct Back<'a> {
    /// The step's (mixed) start state `k x b`.
    pub ht: &'a [f64],
    /// Its output `k x b`.
    pub p: &'a [f64],
    /// `dL/dp`, `k x b`.
    pub gp: &'a [f64],
    /// The bin.
    pub s: usize,
    /// Batch columns.
    pub b: usize,
    /// Out: `dL/dht`, `k x b`.
    pub ght: &'a mut [f64],
    /// Out: `dL/d drive`, column block `s` written.
    pub ddrive: &'a mut [f64],
}

fn sigmoid(a: f64) -> f64 {
    1.0 / (1.0 + (-a).exp())
}

impl Cell {
    /// Latent size.
    pub fn k(&self) -> usize {
        match *self {
            Cell::Rnn { k, .. }
            | Cell::Linear { k, .. }
            | Cell::Gru { k, .. }
            | Cell::Rate { k, .. }
            | Cell::LowRank { k, .. } => k,
        }
    }
    /// Inputs.
    pub fn n_in(&self) -> usize {
        match *self {
            Cell::Rnn { n_in, .. }
            | Cell::Linear { n_in, .. }
            | Cell::Gru { n_in, .. }
            | Cell::Rate { n_in, .. }
            | Cell::LowRank { n_in, .. } => n_in,
        }
    }
    /// Rows of the drive (`k`, or `3k` for the GRU).
    pub fn drive_rows(&self) -> usize {
        match *self {
            Cell::Gru { k, .. } => 3 * k,
            _ => self.k(),
        }
    }
    /// Names of the drive's weight and bias blocks and of the recurrent block.
    fn names(&self) -> (&'static str, &'static str, &'static str) {
        match self {
            Cell::Rnn { .. } | Cell::Rate { .. } | Cell::LowRank { .. } => ("u", "b", "w"),
            Cell::Linear { .. } => ("u", "b", "a"),
            Cell::Gru { .. } => ("wi", "bi", "wh"),
        }
    }
    /// The dynamics' blocks `(name, rows, cols, learnable)`.
    pub fn shapes(&self) -> Vec<(&'static str, usize, usize, bool)> {
        let (k, n_in, r) = (self.k(), self.n_in(), self.drive_rows());
        let (u, b, w) = self.names();
        let mut v = match *self {
            Cell::LowRank { rank, .. } => vec![("m", k, rank, true), ("n", k, rank, true)],
            _ => vec![(w, r, k, true)],
        };
        v.extend([(u, r, n_in, true), (b, r, 1, true)]);
        if let Cell::Gru { .. } = self {
            v.push(("bh", r, 1, true));
        }
        v
    }

    /// `drive = U x + b` (`W_i x + b_i`) for all `tb` columns of `x`.
    pub fn drive(&self, theta: &[f64], l: &ParamLayout, x: &[f64], tb: usize, drive: &mut [f64]) {
        let (r, n_in) = (self.drive_rows(), self.n_in());
        let (u, b, _) = self.names();
        let bias = &theta[range(l, b)];
        for col in drive[..r * tb].chunks_mut(r) {
            col.copy_from_slice(bias);
        }
        if n_in > 0 {
            gemm(
                mmut(r, tb, drive),
                mref(r, n_in, &theta[range(l, u)]),
                false,
                mref(n_in, tb, x),
                false,
                1.0,
                true,
            );
        }
    }

    /// Gradients of the drive's blocks from `ddrive` (`drive_rows x tb`).
    pub fn drive_back(&self, l: &ParamLayout, x: &[f64], tb: usize, dd: &[f64], grad: &mut [f64]) {
        let (r, n_in) = (self.drive_rows(), self.n_in());
        let (u, b, _) = self.names();
        if n_in > 0 {
            gemm(
                mmut(r, n_in, &mut grad[range(l, u)]),
                mref(r, tb, dd),
                false,
                mref(n_in, tb, x),
                true,
                1.0,
                true,
            );
        }
        let gb = range(l, b);
        for col in dd[..r * tb].chunks(r) {
            for (g, v) in grad[gb.clone()].iter_mut().zip(col) {
                *g += v;
            }
        }
    }

    /// `p = F(ht, drive_s)` for the `b` columns of bin `s`.
    #[allow(clippy::too_many_arguments)]
    pub fn step(
        &self,
        theta: &[f64],
        l: &ParamLayout,
        ht: &[f64],
        drive: &[f64],
        s: usize,
        b: usize,
        p: &mut [f64],
        gates: &mut Gates,
    ) {
        let (k, r) = (self.k(), self.drive_rows());
        let (_, _, w) = self.names();
        let ds = &drive[s * r * b..(s + 1) * r * b];
        match *self {
            Cell::Rnn { .. } | Cell::Linear { .. } | Cell::Rate { .. } | Cell::LowRank { .. } => {
                p.copy_from_slice(ds);
                // The recurrence reads h (tanh RNN, linear) or tanh(h) (rate RNN).
                let src = &mut gates.src[..k * b];
                match *self {
                    Cell::Rate { .. } => src.iter_mut().zip(ht).for_each(|(v, h)| *v = h.tanh()),
                    _ => src.copy_from_slice(ht),
                }
                self.recurrence(theta, l, src, p, &mut gates.rec.t1);
                match *self {
                    Cell::Rnn { .. } | Cell::LowRank { .. } => {
                        p.iter_mut().for_each(|v| *v = v.tanh());
                    }
                    Cell::Rate { alpha, .. } => p
                        .iter_mut()
                        .zip(ht)
                        .for_each(|(v, h)| *v = (1.0 - alpha) * h + alpha * *v),
                    _ => {}
                }
            }
            Cell::Gru { .. } => {
                let hh = &mut gates.hh[..r * b];
                let bh = &theta[range(l, "bh")];
                for col in hh.chunks_mut(r) {
                    col.copy_from_slice(bh);
                }
                gemm(
                    mmut(r, b, hh),
                    mref(r, k, &theta[range(l, w)]),
                    false,
                    mref(k, b, ht),
                    false,
                    1.0,
                    true,
                );
                let o = s * k * b;
                for c in 0..b {
                    for j in 0..k {
                        let (a, h) = (&ds[c * r..(c + 1) * r], &hh[c * r..(c + 1) * r]);
                        let rg = sigmoid(a[j] + h[j]);
                        let zg = sigmoid(a[k + j] + h[k + j]);
                        let ng = (a[2 * k + j] + rg * h[2 * k + j]).tanh();
                        let q = c * k + j;
                        p[q] = (1.0 - zg) * ng + zg * ht[q];
                        gates.r[o + q] = rg;
                        gates.z[o + q] = zg;
                        gates.n[o + q] = ng;
                        gates.hhn[o + q] = h[2 * k + j];
                    }
                }
            }
        }
    }

    /// `p += W src` for the `b = src.len() / k` columns of `src`: the dense `W`, or the
    /// low-rank `M (N^T src) / k` through `t` (`rank x b`).
    fn recurrence(
        &self,
        theta: &[f64],
        l: &ParamLayout,
        src: &[f64],
        p: &mut [f64],
        t: &mut [f64],
    ) {
        let k = self.k();
        let b = src.len() / k;
        match *self {
            Cell::LowRank { rank, .. } => {
                let (m, n) = (&theta[range(l, "m")], &theta[range(l, "n")]);
                gemm(
                    mmut(rank, b, t),
                    mref(k, rank, n),
                    true,
                    mref(k, b, src),
                    false,
                    1.0,
                    false,
                );
                gemm(
                    mmut(k, b, p),
                    mref(k, rank, m),
                    false,
                    mref(rank, b, t),
                    false,
                    1.0 / k as f64,
                    true,
                );
            }
            _ => {
                let (_, _, w) = self.names();
                gemm(
                    mmut(k, b, p),
                    mref(k, k, &theta[range(l, w)]),
                    false,
                    mref(k, b, src),
                    false,
                    1.0,
                    true,
                );
            }
        }
    }

    /// Backward of [`Cell::recurrence`] with `delta = dL/dp`: `sc.gsrc = W^T delta` and the
    /// recurrent blocks' gradients accumulated into `grad` (`dW += delta src^T`; low rank:
    /// `dM += delta (N^T src)^T / k`, `dN += src (M^T delta)^T / k`).
    fn recurrence_back(
        &self,
        theta: &[f64],
        l: &ParamLayout,
        src: &[f64],
        delta: &[f64],
        grad: &mut [f64],
        sc: &mut RecScratch,
    ) {
        let k = self.k();
        let b = src.len() / k;
        let gsrc = &mut sc.gsrc[..k * b];
        match *self {
            Cell::LowRank { rank, .. } => {
                let (mr, nr) = (range(l, "m"), range(l, "n"));
                let s = 1.0 / k as f64;
                let (t1, t2) = (&mut sc.t1[..rank * b], &mut sc.t2[..rank * b]);
                gemm(
                    mmut(rank, b, t1),
                    mref(k, rank, &theta[mr.clone()]),
                    true,
                    mref(k, b, delta),
                    false,
                    1.0,
                    false,
                );
                gemm(
                    mmut(rank, b, t2),
                    mref(k, rank, &theta[nr.clone()]),
                    true,
                    mref(k, b, src),
                    false,
                    1.0,
                    false,
                );
                gemm(
                    mmut(k, b, gsrc),
                    mref(k, rank, &theta[nr.clone()]),
                    false,
                    mref(rank, b, t1),
                    false,
                    s,
                    false,
                );
                gemm(
                    mmut(k, rank, &mut grad[mr]),
                    mref(k, b, delta),
                    false,
                    mref(rank, b, t2),
                    true,
                    s,
                    true,
                );
                gemm(
                    mmut(k, rank, &mut grad[nr]),
                    mref(k, b, src),
                    false,
                    mref(rank, b, t1),
                    true,
                    s,
                    true,
                );
            }
            _ => {
                let (_, _, w) = self.names();
                let wr = range(l, w);
                gemm(
                    mmut(k, b, gsrc),
                    mref(k, k, &theta[wr.clone()]),
                    true,
                    mref(k, b, delta),
                    false,
                    1.0,
                    false,
                );
                gemm(
                    mmut(k, k, &mut grad[wr]),
                    mref(k, b, delta),
                    false,
                    mref(k, b, src),
                    true,
                    1.0,
                    true,
                );
            }
        }
    }

    /// Backward of [`Cell::step`]: `dL/dht`, the drive's gradient of bin `s`, and the
    /// recurrent blocks' gradients (accumulated into `grad`).
    pub fn step_back(
        &self,
        theta: &[f64],
        l: &ParamLayout,
        a: Back<'_>,
        gates: &mut Gates,
        grad: &mut [f64],
    ) {
        let (k, r, b, s) = (self.k(), self.drive_rows(), a.b, a.s);
        let (_, _, w) = self.names();
        let dd = &mut a.ddrive[s * r * b..(s + 1) * r * b];
        // `delta`: gradient of the recurrent product's output (k x b, or 3k x b for the GRU).
        match *self {
            Cell::Rnn { .. } | Cell::Linear { .. } | Cell::Rate { .. } | Cell::LowRank { .. } => {
                // delta = dL/d(pre-activation), the drive's gradient.
                for ((d, g), p) in dd[..k * b].iter_mut().zip(a.gp).zip(a.p) {
                    *d = match *self {
                        Cell::Rnn { .. } | Cell::LowRank { .. } => g * (1.0 - p * p),
                        Cell::Rate { alpha, .. } => alpha * g,
                        _ => *g,
                    };
                }
                let src = &mut gates.src[..k * b];
                match *self {
                    Cell::Rate { .. } => src.iter_mut().zip(a.ht).for_each(|(v, h)| *v = h.tanh()),
                    _ => src.copy_from_slice(a.ht),
                }
                self.recurrence_back(theta, l, src, &dd[..k * b], grad, &mut gates.rec);
                let gsrc = &gates.rec.gsrc[..k * b];
                match *self {
                    Cell::Rate { alpha, .. } => {
                        for (((o, g), gs), sv) in
                            a.ght.iter_mut().zip(a.gp).zip(gsrc).zip(src.iter())
                        {
                            *o = (1.0 - alpha) * g + (1.0 - sv * sv) * gs;
                        }
                    }
                    _ => a.ght.copy_from_slice(gsrc),
                }
                return;
            }
            Cell::Gru { .. } => {
                let o = s * k * b;
                for c in 0..b {
                    for j in 0..k {
                        let q = c * k + j;
                        let (rg, zg, ng) = (gates.r[o + q], gates.z[o + q], gates.n[o + q]);
                        let g = a.gp[q];
                        let an = g * (1.0 - zg) * (1.0 - ng * ng);
                        let az = g * (a.ht[q] - ng) * zg * (1.0 - zg);
                        let ar = an * gates.hhn[o + q] * rg * (1.0 - rg);
                        dd[c * r + j] = ar;
                        dd[c * r + k + j] = az;
                        dd[c * r + 2 * k + j] = an;
                        a.ght[q] = g * zg;
                    }
                }
            }
        }
        // The recurrent product's gradient: W^T delta into ght, delta ht^T into dW (for the
        // GRU, delta = dL/dhh, kept in the forward's `hh` scratch).
        let delta: &[f64] = match self {
            Cell::Gru { .. } => {
                let hh = &mut gates.hh[..r * b];
                hh.copy_from_slice(dd);
                for c in 0..b {
                    for j in 0..k {
                        hh[c * r + 2 * k + j] *= gates.r[s * k * b + c * k + j];
                    }
                }
                let gb = range(l, "bh");
                for col in hh.chunks(r) {
                    for (g, v) in grad[gb.clone()].iter_mut().zip(col) {
                        *g += v;
                    }
                }
                hh
            }
            _ => dd,
        };
        let wr = range(l, w);
        gemm(
            mmut(k, b, a.ght),
            mref(r, k, &theta[wr.clone()]),
            true,
            mref(r, b, delta),
            false,
            1.0,
            true,
        );
        gemm(
            mmut(r, k, &mut grad[wr]),
            mref(r, b, delta),
            false,
            mref(k, b, a.ht),
            true,
            1.0,
            true,
        );
    }
}

fn range(l: &ParamLayout, name: &str) -> std::ops::Range<usize> {
    l.block(name)
        .expect("a cell's blocks are in its model's layout")
        .range()
}
