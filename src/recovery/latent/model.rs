//! The latent model bound to a dataset's trials: loss and exact gradient (BPTT) of every
//! training procedure (theory/recovery.md RF-3 .. RF-6), as a [`Model`] for learndyn's one
//! [`crate::train::Trainer`].
//!
//! Layout: bin `s` of batch trial `b` is column `s B + b` of every time-major buffer (state
//! `k x T B`, observations `n x T B`), so the input drive and the readout are one GEMM over all
//! bins and each step is one GEMM of the batch.
//!
//! Parallelism: a batch of `B` trials runs as `max(1, B / CHUNK)` contiguous chunks of nearly
//! equal size (rayon, one chunk per task), each with its own buffers; losses and gradients are
//! summed in chunk order. The chunking depends only on `B`, never on the thread count, so the
//! numbers are the same on any number of threads; a batch under `2 CHUNK` trials is one chunk.
//!
//! Forward, for `s = 0 .. T - 2`: `ht_s = h_s + alpha_s (z_s - h_s)` on the forced rows
//! (`alpha_s = alpha` where bin `s` is fully observed, else 0), `p_{s+1} = F(ht_s, x_s)`, and
//! `h_{s+1} = p_{s+1}` except at a shooting start, where `h_{s+1}` is the segment's learned
//! state and `penalty/2 mean (p - h)^2` is added. The loss is the readout's over observed
//! entries of every bin, `h_0` included.

use super::cell::{self, Cell};
use super::spec::{Initial, Procedure, ReadoutKind};
use crate::error::{Error, Result};
use crate::linalg::{gemm, MatMut, MatRef};
use crate::model::{Block, Model, ParamLayout};

/// Time-major data of a set of trials (`B` of them, `T` bins each).
#[derive(Debug, Clone)]
pub struct SeqData {
    /// Bins `T`.
    pub bins: usize,
    /// Trials `B`.
    pub trials: usize,
    /// Observations `n x T B` (missing entries 0).
    pub y: Vec<f64>,
    /// 1 where observed, 0 where missing, `n x T B`.
    pub mask: Vec<f64>,
    /// Inputs `n_in x T B`.
    pub x: Vec<f64>,
    /// Data-inferred states of the forced rows `kf x T B` (valid where `forced` is 1).
    pub z: Vec<f64>,
    /// 1 for a fully observed bin (forcing allowed), `T B`.
    pub forced: Vec<f64>,
    /// Encoder features `nf x B`.
    pub feat: Vec<f64>,
    /// Rows of `y`.
    pub n: usize,
    /// Rows of `x`.
    pub n_in: usize,
    /// Rows of `z`.
    pub kf: usize,
    /// Rows of `feat`.
    pub nf: usize,
}

impl SeqData {
    /// The sub-batch of trials `idx` (same layout, `idx.len()` trials).
    pub(crate) fn gather(&self, idx: &[usize]) -> SeqData {
        let (t, bo, bn) = (self.bins, self.trials, idx.len());
        let pick = |v: &[f64], rows: usize, per_bin: bool| -> Vec<f64> {
            let steps = if per_bin { t } else { 1 };
            let mut out = Vec::with_capacity(rows * steps * bn);
            for s in 0..steps {
                for &b in idx {
                    let c = s * bo + b;
                    out.extend_from_slice(&v[c * rows..(c + 1) * rows]);
                }
            }
            out
        };
        SeqData {
            bins: t,
            trials: bn,
            y: pick(&self.y, self.n, true),
            mask: pick(&self.mask, self.n, true),
            x: pick(&self.x, self.n_in, true),
            z: pick(&self.z, self.kf, true),
            forced: pick(&self.forced, 1, true),
            feat: pick(&self.feat, self.nf, false),
            ..*self
        }
    }
}

/// Per-batch buffers (allocated once per batch size).
#[derive(Debug, Clone, Default)]
struct Buffers {
    b: usize,
    h: Vec<f64>,
    ht: Vec<f64>,
    p: Vec<f64>,
    drive: Vec<f64>,
    gates: cell::Gates,
    eta: Vec<f64>,
    e: Vec<f64>,
    g: Vec<f64>,
    gp: Vec<f64>,
    ght: Vec<f64>,
    dgrive: Vec<f64>,
}

/// A latent model and the data it is fitted to.
#[derive(Debug, Clone)]
pub struct LatentModel {
    cell: Cell,
    readout: ReadoutKind,
    initial: Initial,
    procedure: Procedure,
    learn_readout: bool,
    layout: ParamLayout,
    data: SeqData,
    /// Shooting segment starts (bins), empty unless multiple shooting.
    starts: Vec<usize>,
    /// The chunks of the last batch, with the batch's trial indices.
    parts: Option<(Vec<usize>, Vec<Part>)>,
    encoder_ridge: f64,
}

/// Trials per parallel chunk (see the module docs). 64 columns keep each step's GEMM wide
/// enough to run near the GEMM rate while a 128-trial batch already splits over 2 threads.
const CHUNK: usize = 64;

/// One chunk of a batch: its trials, their data and its buffers.
#[derive(Debug, Clone)]
struct Part {
    /// Indices into the model's trials (the shooting block's order).
    idx: Vec<usize>,
    /// The chunk's data; `None` when the chunk is the model's whole data set.
    data: Option<SeqData>,
    buf: Buffers,
    /// The chunk's gradient (several chunks only).
    grad: Vec<f64>,
    loss: f64,
}

/// The batch-wide normalizers of the loss: observed entries and shooting entries.
#[derive(Debug, Clone, Copy)]
struct Norm {
    count: f64,
    n_shoot: f64,
}

/// The chunks of batch `idx` (`full`: `idx` is every trial of `data`, in order).
fn split(data: &SeqData, idx: &[usize], full: bool) -> Vec<Part> {
    let n = (idx.len() / CHUNK).max(1);
    (0..n)
        .map(|j| {
            let piece = &idx[j * idx.len() / n..(j + 1) * idx.len() / n];
            Part {
                idx: piece.to_vec(),
                data: if full && n == 1 {
                    None
                } else {
                    Some(data.gather(piece))
                },
                buf: Buffers::default(),
                grad: Vec::new(),
                loss: 0.0,
            }
        })
        .collect()
}

impl LatentModel {
    /// Bind `cell` to `data`. `shooting` says whether this instance carries the multiple
    /// shooting states of its trials (the training model; a validation model runs free).
    pub fn new(
        cell: Cell,
        readout: ReadoutKind,
        initial: Initial,
        procedure: Procedure,
        data: SeqData,
        shooting: bool,
    ) -> Result<Self> {
        let (k, n) = (cell.k(), data.n);
        if data.kf > k || data.bins < 2 || data.trials == 0 {
            return Err(Error::invalid(
                "fit",
                format!(
                    "need >= 2 bins and >= 1 trial (got {} bins, {} trials)",
                    data.bins, data.trials
                ),
            ));
        }
        let learn_readout = !procedure.forces();
        let mut shapes = cell.shapes();
        shapes.push(("c", n, k, learn_readout));
        shapes.push(("d", n, 1, learn_readout));
        match initial {
            Initial::Encoder { .. } => {
                shapes.push(("enc", k, data.nf, true));
                shapes.push(("enc_b", k, 1, true));
            }
            Initial::Shared => shapes.push(("h0", k, 1, true)),
            Initial::Zero => {}
        }
        let starts = match procedure {
            Procedure::MultipleShooting { segment, .. } if shooting => (1..)
                .map(|j| j * segment)
                .take_while(|&s| s < data.bins)
                .collect(),
            _ => Vec::new(),
        };
        if !starts.is_empty() {
            shapes.push(("shoot", k, data.trials * starts.len(), true));
        }
        let layout = ParamLayout::new("LatentModel", &shapes);
        Ok(LatentModel {
            cell,
            readout,
            initial,
            procedure,
            learn_readout,
            layout,
            data,
            starts,
            parts: None,
            encoder_ridge: 0.0,
        })
    }

    /// Add `ridge/2 |enc|^2` (the encoder's weights, not its bias) to the loss; 0 for none.
    /// Without an encoder it does nothing.
    pub fn with_encoder_ridge(mut self, ridge: f64) -> Self {
        self.encoder_ridge = ridge;
        self
    }

    /// The parameter layout.
    pub fn layout(&self) -> &ParamLayout {
        &self.layout
    }

    /// The data.
    pub fn data(&self) -> &SeqData {
        &self.data
    }

    /// The cell.
    pub fn cell(&self) -> &Cell {
        &self.cell
    }

    /// The latent states `k x T B` (column `s B + b`, `B` the last batch's trials) of the last
    /// forward pass (after [`Model::loss`]); empty before the first pass.
    pub fn states(&self) -> Vec<f64> {
        let Some((idx, parts)) = &self.parts else {
            return Vec::new();
        };
        if let [one] = parts.as_slice() {
            return one.buf.h.clone();
        }
        let (k, t, b) = (self.cell.k(), self.data.bins, idx.len());
        let mut h = vec![0.0; k * t * b];
        let mut first = 0;
        for p in parts {
            let bp = p.idx.len();
            for s in 0..t {
                let dst = (s * b + first) * k;
                h[dst..dst + bp * k].copy_from_slice(&p.buf.h[s * bp * k..(s + 1) * bp * k]);
            }
            first += bp;
        }
        h
    }

    /// Initial states `k x B` of every trial under `theta` (without running the dynamics).
    pub fn initial_states(&self, theta: &[f64]) -> Vec<f64> {
        let k = self.cell.k();
        let mut h0 = vec![0.0; k * self.data.trials];
        self.initial_into(theta, &self.data, &mut h0);
        h0
    }

    fn block(&self, name: &str) -> &Block {
        self.layout
            .block(name)
            .expect("LatentModel blocks are fixed at construction")
    }

    fn initial_into(&self, theta: &[f64], d: &SeqData, h0: &mut [f64]) {
        let k = self.cell.k();
        match self.initial {
            Initial::Zero => h0.iter_mut().for_each(|v| *v = 0.0),
            Initial::Shared => {
                let r = self.block("h0").range();
                for c in h0.chunks_mut(k) {
                    c.copy_from_slice(&theta[r.clone()]);
                }
            }
            Initial::Encoder { .. } => {
                let (e, eb) = (self.block("enc").range(), self.block("enc_b").range());
                for c in h0.chunks_mut(k) {
                    c.copy_from_slice(&theta[eb.clone()]);
                }
                if d.nf > 0 {
                    gemm(
                        mmut(k, d.trials, h0),
                        mref(k, d.nf, &theta[e]),
                        false,
                        mref(d.nf, d.trials, &d.feat),
                        false,
                        1.0,
                        true,
                    );
                }
            }
        }
    }

    /// Loss (and, with `grad`, its gradient) on the trials `batch` (all when `None`).
    fn run(
        &mut self,
        theta: &[f64],
        batch: Option<&[usize]>,
        mut grad: Option<&mut [f64]>,
    ) -> Result<f64> {
        use rayon::prelude::*;
        self.layout.check_len("theta", theta.len())?;
        let full: Vec<usize>;
        let idx: &[usize] = match batch {
            Some(b) => b,
            None => {
                full = (0..self.data.trials).collect();
                &full
            }
        };
        let mut parts = match self.parts.take() {
            Some((i, p)) if i.as_slice() == idx => p,
            _ => split(&self.data, idx, batch.is_none()),
        };
        let data_of = |p: &Part| -> f64 { p.data.as_ref().unwrap_or(&self.data).mask.iter().sum() };
        let norm = Norm {
            count: parts.iter().map(data_of).sum::<f64>().max(1.0),
            n_shoot: (self.cell.k() * idx.len() * self.starts.len()).max(1) as f64,
        };
        let loss = if parts.len() == 1 {
            // One chunk writes the caller's gradient directly.
            let one = &mut parts[0];
            let d = one.data.as_ref().unwrap_or(&self.data);
            self.forward_backward(&mut one.buf, theta, d, &one.idx, grad.as_deref_mut(), norm)
        } else {
            let want = grad.is_some();
            let n = self.layout.n_params();
            let this = &*self;
            parts.par_iter_mut().for_each(|p| {
                let d = p.data.as_ref().unwrap_or(&this.data);
                if want && p.grad.len() != n {
                    p.grad = vec![0.0; n];
                }
                let g = want.then_some(p.grad.as_mut_slice());
                p.loss = this.forward_backward(&mut p.buf, theta, d, &p.idx, g, norm);
            });
            if let Some(g) = grad.as_deref_mut() {
                g.copy_from_slice(&parts[0].grad);
                for p in &parts[1..] {
                    g.iter_mut().zip(&p.grad).for_each(|(a, b)| *a += b);
                }
            }
            parts.iter().map(|p| p.loss).sum()
        };
        self.parts = Some((idx.to_vec(), parts));
        Ok(loss + self.encoder_ridge_term(theta, grad))
    }

    /// `ridge/2 |enc|^2` (once per batch, not per chunk), its gradient added to `grad`.
    fn encoder_ridge_term(&self, theta: &[f64], grad: Option<&mut [f64]>) -> f64 {
        if self.encoder_ridge <= 0.0 || !matches!(self.initial, Initial::Encoder { .. }) {
            return 0.0;
        }
        let e = self.block("enc").range();
        if let Some(g) = grad {
            for i in e.clone() {
                g[i] += self.encoder_ridge * theta[i];
            }
        }
        0.5 * self.encoder_ridge * theta[e].iter().map(|v| v * v).sum::<f64>()
    }

    fn forward_backward(
        &self,
        buf: &mut Buffers,
        theta: &[f64],
        d: &SeqData,
        idx: &[usize],
        grad: Option<&mut [f64]>,
        norm: Norm,
    ) -> f64 {
        let (k, b, t, n) = (self.cell.k(), d.trials, d.bins, d.n);
        let tb = t * b;
        if buf.b != b || buf.h.len() != k * tb {
            *buf = Buffers {
                b,
                h: vec![0.0; k * tb],
                ht: vec![0.0; k * tb],
                p: vec![0.0; k * tb],
                drive: vec![0.0; self.cell.drive_rows() * tb],
                gates: cell::Gates::new(&self.cell, tb),
                eta: vec![0.0; n * tb],
                e: vec![0.0; n * tb],
                g: vec![0.0; k * tb],
                gp: vec![0.0; k * b],
                ght: vec![0.0; k * b],
                dgrive: vec![0.0; self.cell.drive_rows() * tb],
            };
        }
        let alpha = self.procedure.alpha();
        let (penalty, shoot) = match self.procedure {
            Procedure::MultipleShooting { penalty, .. } if !self.starts.is_empty() => {
                (penalty, Some(self.block("shoot").range()))
            }
            _ => (0.0, None),
        };
        let Norm { count, n_shoot } = norm;
        // Forward.
        self.initial_into(theta, d, &mut buf.h[..k * b]);
        self.cell
            .drive(theta, &self.layout, &d.x, tb, &mut buf.drive);
        let mut pen = 0.0;
        let mut seg = 0usize;
        for s in 0..t - 1 {
            let (cur, rest) = buf.h.split_at_mut((s + 1) * k * b);
            let hs = &cur[s * k * b..];
            let ht = &mut buf.ht[s * k * b..(s + 1) * k * b];
            mix(hs, ht, d, s, k, alpha);
            let p = &mut buf.p[(s + 1) * k * b..(s + 2) * k * b];
            self.cell
                .step(theta, &self.layout, ht, &buf.drive, s, b, p, &mut buf.gates);
            let hn = &mut rest[..k * b];
            if seg < self.starts.len() && self.starts[seg] == s + 1 {
                let r = shoot.clone().expect("shooting block");
                for (i, &tr) in idx.iter().enumerate() {
                    let off = r.start + (tr * self.starts.len() + seg) * k;
                    hn[i * k..(i + 1) * k].copy_from_slice(&theta[off..off + k]);
                }
                pen += p
                    .iter()
                    .zip(hn.iter())
                    .map(|(a, c)| (a - c).powi(2))
                    .sum::<f64>();
                seg += 1;
            } else {
                hn.copy_from_slice(p);
            }
        }
        let (c, dd) = (self.block("c").range(), self.block("d").range());
        for col in buf.eta.chunks_mut(n) {
            col.copy_from_slice(&theta[dd.clone()]);
        }
        gemm(
            mmut(n, tb, &mut buf.eta),
            mref(n, k, &theta[c.clone()]),
            false,
            mref(k, tb, &buf.h),
            false,
            1.0,
            true,
        );
        let mut loss = 0.0;
        for i in 0..n * tb {
            let (eta, y, m) = (buf.eta[i], d.y[i], d.mask[i]);
            let (l, e) = match self.readout {
                ReadoutKind::Gaussian => (0.5 * (eta - y).powi(2), eta - y),
                ReadoutKind::Poisson => {
                    let r = eta.exp();
                    (r - y * eta, r - y)
                }
            };
            loss += m * l;
            buf.e[i] = m * e / count;
        }
        loss = loss / count + 0.5 * penalty * pen / n_shoot;
        let Some(grad) = grad else {
            return loss;
        };
        grad.iter_mut().for_each(|v| *v = 0.0);
        // Readout gradients: G = C^T E (every bin), dC = E H^T, dd = sum E.
        gemm(
            mmut(k, tb, &mut buf.g),
            mref(n, k, &theta[c.clone()]),
            true,
            mref(n, tb, &buf.e),
            false,
            1.0,
            false,
        );
        if self.learn_readout {
            gemm(
                mmut(n, k, &mut grad[c]),
                mref(n, tb, &buf.e),
                false,
                mref(k, tb, &buf.h),
                true,
                1.0,
                true,
            );
            for col in buf.e.chunks(n) {
                for (gd, e) in grad[dd.clone()].iter_mut().zip(col) {
                    *gd += e;
                }
            }
        }
        // Backward through time: buf.g[s] accumulates dL/dh_s.
        let mut seg = self.starts.len();
        for s in (0..t - 1).rev() {
            let gn = &buf.g[(s + 1) * k * b..(s + 2) * k * b];
            if seg > 0 && self.starts[seg - 1] == s + 1 {
                seg -= 1;
                let r = shoot.clone().expect("shooting block");
                let p = &buf.p[(s + 1) * k * b..(s + 2) * k * b];
                let hn = &buf.h[(s + 1) * k * b..(s + 2) * k * b];
                let w = penalty / n_shoot;
                for (i, &tr) in idx.iter().enumerate() {
                    let off = r.start + (tr * self.starts.len() + seg) * k;
                    for j in 0..k {
                        let q = i * k + j;
                        let diff = w * (p[q] - hn[q]);
                        buf.gp[q] = diff;
                        grad[off + j] += gn[q] - diff;
                    }
                }
            } else {
                buf.gp.copy_from_slice(gn);
            }
            let ht = &buf.ht[s * k * b..(s + 1) * k * b];
            let p = &buf.p[(s + 1) * k * b..(s + 2) * k * b];
            self.cell.step_back(
                theta,
                &self.layout,
                cell::Back {
                    ht,
                    p,
                    gp: &buf.gp,
                    s,
                    b,
                    ght: &mut buf.ght,
                    ddrive: &mut buf.dgrive,
                },
                &mut buf.gates,
                grad,
            );
            // dL/dh_s += (1 - alpha_s) dL/dht_s on forced rows, dL/dht_s elsewhere.
            let gs = &mut buf.g[s * k * b..(s + 1) * k * b];
            for i in 0..b {
                let a = alpha * d.forced[s * b + i];
                for j in 0..k {
                    let f = if j < d.kf { 1.0 - a } else { 1.0 };
                    gs[i * k + j] += f * buf.ght[i * k + j];
                }
            }
        }
        self.cell
            .drive_back(&self.layout, &d.x, tb, &buf.dgrive, grad);
        // Initial state.
        let g0 = &buf.g[..k * b];
        match self.initial {
            Initial::Zero => {}
            Initial::Shared => {
                let r = self.block("h0").range();
                for col in g0.chunks(k) {
                    for (gd, v) in grad[r.clone()].iter_mut().zip(col) {
                        *gd += v;
                    }
                }
            }
            Initial::Encoder { .. } => {
                let (e, eb) = (self.block("enc").range(), self.block("enc_b").range());
                if d.nf > 0 {
                    gemm(
                        mmut(k, d.nf, &mut grad[e]),
                        mref(k, b, g0),
                        false,
                        mref(d.nf, b, &d.feat),
                        true,
                        1.0,
                        true,
                    );
                }
                for col in g0.chunks(k) {
                    for (gd, v) in grad[eb.clone()].iter_mut().zip(col) {
                        *gd += v;
                    }
                }
            }
        }
        loss
    }
}

/// `ht = h + alpha_s (z - h)` on the forced rows of bin `s`, `ht = h` elsewhere.
fn mix(h: &[f64], ht: &mut [f64], d: &SeqData, s: usize, k: usize, alpha: f64) {
    let b = d.trials;
    ht.copy_from_slice(&h[..k * b]);
    if alpha == 0.0 || d.kf == 0 {
        return;
    }
    for i in 0..b {
        let a = alpha * d.forced[s * b + i];
        if a == 0.0 {
            continue;
        }
        let z = &d.z[(s * b + i) * d.kf..(s * b + i + 1) * d.kf];
        for (j, zj) in z.iter().enumerate() {
            let q = i * k + j;
            ht[q] += a * (zj - h[q]);
        }
    }
}

impl Model for LatentModel {
    fn n_params(&self) -> usize {
        self.layout.n_params()
    }
    fn blocks(&self) -> Vec<Block> {
        self.layout.blocks().to_vec()
    }
    fn n_samples(&self) -> usize {
        self.data.trials
    }
    fn loss(&mut self, theta: &[f64]) -> Result<f64> {
        self.run(theta, None, None)
    }
    fn loss_and_grad(
        &mut self,
        theta: &[f64],
        batch: Option<&[usize]>,
        grad: &mut [f64],
    ) -> Result<f64> {
        self.layout.check_len("gradient", grad.len())?;
        self.run(theta, batch, Some(grad))
    }
}

/// A `rows x cols` view of the first `rows * cols` entries.
pub(super) fn mref(rows: usize, cols: usize, data: &[f64]) -> MatRef<'_> {
    MatRef::new(rows, cols, &data[..rows * cols]).expect("LatentModel views have exact lengths")
}

/// A mutable `rows x cols` view of the first `rows * cols` entries.
pub(super) fn mmut(rows: usize, cols: usize, data: &mut [f64]) -> MatMut<'_> {
    MatMut::new(rows, cols, &mut data[..rows * cols]).expect("LatentModel views have exact lengths")
}
