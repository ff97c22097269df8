//! Deep linear network `f(x) = W_L ... W_1 x` and its squared loss (theory/conventions.md).
//!
//! Parameters are one flat vector: layer `l` (1-based, `l = 1..L`) is the
//! `dims[l] x dims[l-1]` matrix `W_l`, stored column-major at [`DeepLinearNet::offset`].
//!
//! Loss (C-1, expectation convention):
//! `L = 1/2 E||y - W_e x||^2 = 1/2 tr((W_e - W*) Sigma_xx (W_e - W*)^T) + L_min`,
//! with `W_e = W_L ... W_1`, `W* Sigma_xx = Sigma_yx` and `L_min` the unexplainable part.
//! The residual form avoids the cancellation of `tr Sigma_yy - 2 tr(Sigma_yx^T W_e) + ...`
//! near the optimum. Gradient (C-2): with `G = (W_e - W*) Sigma_xx = W_e Sigma_xx - Sigma_yx`,
//! `dL/dW_l = (W_L ... W_{l+1})^T G (W_{l-1} ... W_1)^T`.

use crate::error::{Error, Result};
use crate::linalg::{gemm, MatMut, MatRef, Matrix};

/// Second-order statistics that fully determine the squared loss of a linear network.
///
/// For a finite sample `X` (`d_in x P`), `Y` (`d_out x P`) these are the empirical moments
/// `X X^T / P`, `Y X^T / P`, so the loss and gradient below are exactly those of the
/// finite-sample loss `1/(2P) ||W_e X - Y||_F^2`.
#[derive(Debug, Clone)]
pub struct Moments {
    /// `Sigma_xx = E[x x^T]`, `d_in x d_in`.
    pub sigma_xx: Matrix,
    /// `Sigma_yx = E[y x^T]`, `d_out x d_in`.
    pub sigma_yx: Matrix,
    /// A minimizer `W* = Sigma_yx Sigma_xx^+` of the loss over all linear maps, `d_out x d_in`.
    pub w_star: Matrix,
    /// The loss of `W*` (label noise and unexplainable variance); `>= 0`.
    pub loss_min: f64,
    /// True when `Sigma_xx` is exactly the identity (multiplications by it are skipped).
    pub whitened: bool,
}

impl Moments {
    /// Input dimension.
    pub fn d_in(&self) -> usize {
        self.sigma_xx.nrows()
    }
    /// Output dimension.
    pub fn d_out(&self) -> usize {
        self.sigma_yx.nrows()
    }
}

/// Architecture of a deep linear network: layer widths `[d_in, h_1, ..., h_{L-1}, d_out]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeepLinearNet {
    dims: Vec<usize>,
    offsets: Vec<usize>,
}

/// Preallocated buffers for [`DeepLinearNet::loss_and_grad`].
#[derive(Debug, Clone)]
pub struct DlnWorkspace {
    /// Prefix products `P_l = W_l ... W_1` (`dims[l] x d_in`) at index `l-1`, for `l >= 2`
    /// (index 0 is unused: `P_1 = W_1` is read from the parameters).
    prefix: Vec<Matrix>,
    /// Backpropagated `B_l = (W_L ... W_{l+1})^T G` (`dims[l] x d_in`), at index `l-1`.
    back: Vec<Matrix>,
    /// Residual `W_e - W*`.
    resid: Matrix,
    /// `G = resid * Sigma_xx`.
    g: Matrix,
}

impl DeepLinearNet {
    /// A network with layer widths `dims = [d_in, h_1, ..., d_out]`; needs at least 2 weight
    /// matrices (`dims.len() >= 3`) and every width >= 1.
    pub fn new(dims: Vec<usize>) -> Result<Self> {
        if dims.len() < 3 {
            return Err(Error::invalid(
                "model.depth",
                format!(
                    "a deep linear network needs at least 2 weight matrices, got {}",
                    dims.len().saturating_sub(1)
                ),
            ));
        }
        if let Some(i) = dims.iter().position(|&d| d == 0) {
            return Err(Error::invalid(
                "model widths",
                format!("layer {i} has width 0; every width must be >= 1"),
            ));
        }
        let mut offsets = Vec::with_capacity(dims.len());
        let mut off = 0;
        for l in 1..dims.len() {
            offsets.push(off);
            off += dims[l] * dims[l - 1];
        }
        offsets.push(off);
        Ok(DeepLinearNet { dims, offsets })
    }

    /// Layer widths `[d_in, h_1, ..., d_out]`.
    pub fn dims(&self) -> &[usize] {
        &self.dims
    }
    /// Number of weight matrices `L`.
    pub fn depth(&self) -> usize {
        self.dims.len() - 1
    }
    /// Input dimension.
    pub fn d_in(&self) -> usize {
        self.dims[0]
    }
    /// Output dimension.
    pub fn d_out(&self) -> usize {
        self.dims[self.dims.len() - 1]
    }
    /// Total number of parameters.
    pub fn n_params(&self) -> usize {
        self.offsets[self.depth()]
    }
    /// Shape `(rows, cols) = (dims[l], dims[l-1])` of layer `l` (1-based).
    pub fn layer_shape(&self, l: usize) -> (usize, usize) {
        (self.dims[l], self.dims[l - 1])
    }
    /// Offset of layer `l` (1-based) in the flat parameter vector.
    pub fn offset(&self, l: usize) -> usize {
        self.offsets[l - 1]
    }
    /// View of `W_l` (1-based) inside `params`.
    pub fn layer<'a>(&self, params: &'a [f64], l: usize) -> MatRef<'a> {
        let (r, c) = self.layer_shape(l);
        let o = self.offset(l);
        MatRef::new(r, c, &params[o..o + r * c]).expect("layer view matches its shape")
    }
    /// Mutable view of `W_l` (1-based) inside `params`.
    pub fn layer_mut<'a>(&self, params: &'a mut [f64], l: usize) -> MatMut<'a> {
        let (r, c) = self.layer_shape(l);
        let o = self.offset(l);
        MatMut::new(r, c, &mut params[o..o + r * c]).expect("layer view matches its shape")
    }
    /// Concatenate per-layer matrices (`W_1, ..., W_L`) into a flat parameter vector,
    /// checking each shape.
    pub fn pack(&self, layers: &[Matrix]) -> Result<Vec<f64>> {
        if layers.len() != self.depth() {
            return Err(Error::invalid(
                "weights",
                format!(
                    "expected {} weight matrices, got {}",
                    self.depth(),
                    layers.len()
                ),
            ));
        }
        let mut p = Vec::with_capacity(self.n_params());
        for (l, w) in layers.iter().enumerate() {
            let (r, c) = self.layer_shape(l + 1);
            if (w.nrows(), w.ncols()) != (r, c) {
                return Err(Error::Shape {
                    what: format!("W_{}", l + 1),
                    expected: format!("({r}, {c})"),
                    got: format!("({}, {})", w.nrows(), w.ncols()),
                });
            }
            p.extend_from_slice(w.as_slice());
        }
        Ok(p)
    }
    /// Split a flat parameter vector into owned matrices `W_1, ..., W_L`.
    pub fn unpack(&self, params: &[f64]) -> Vec<Matrix> {
        (1..=self.depth())
            .map(|l| self.layer(params, l).to_owned())
            .collect()
    }

    /// End-to-end map `W_e = W_L ... W_1` (`d_out x d_in`).
    pub fn end_to_end(&self, params: &[f64]) -> Matrix {
        let mut acc = self.layer(params, 1).to_owned();
        for l in 2..=self.depth() {
            let w = self.layer(params, l);
            let mut next = Matrix::zeros(w.nrows(), acc.ncols());
            gemm(next.view_mut(), w, false, acc.view(), false, 1.0, false);
            acc = next;
        }
        acc
    }

    /// Buffers for [`Self::loss_and_grad`].
    pub fn workspace(&self) -> DlnWorkspace {
        let d_in = self.d_in();
        DlnWorkspace {
            prefix: (1..=self.depth())
                .map(|l| Matrix::zeros(self.dims[l], d_in))
                .collect(),
            back: (1..=self.depth())
                .map(|l| Matrix::zeros(self.dims[l], d_in))
                .collect(),
            resid: Matrix::zeros(self.d_out(), d_in),
            g: Matrix::zeros(self.d_out(), d_in),
        }
    }

    /// Loss `L(theta)` (C-1) and its exact gradient (C-2) written into `grad`
    /// (same layout as `params`). No allocation.
    pub fn loss_and_grad(
        &self,
        params: &[f64],
        moments: &Moments,
        grad: &mut [f64],
        ws: &mut DlnWorkspace,
    ) -> f64 {
        self.scaled_gradient(params, moments, 1.0, grad, ws);
        // After scaled_gradient, ws.resid = W_e - W* and ws.g = resid Sigma_xx (non-whitened).
        let quad = if moments.whitened {
            ws.resid.as_slice().iter().map(|x| x * x).sum::<f64>()
        } else {
            ws.resid
                .as_slice()
                .iter()
                .zip(ws.g.as_slice())
                .map(|(a, b)| a * b)
                .sum::<f64>()
        };
        0.5 * quad + moments.loss_min
    }

    /// `out = alpha * grad L(theta)` (C-2) without computing the loss: the gradient-flow
    /// right-hand side is `alpha = -1`. The GEMMs write the scaled blocks straight into `out`;
    /// no copies, no allocation. Leaves `W_e - W*` in the workspace.
    pub fn scaled_gradient(
        &self,
        params: &[f64],
        moments: &Moments,
        alpha: f64,
        out: &mut [f64],
        ws: &mut DlnWorkspace,
    ) {
        let depth = self.depth();
        self.forward_prefix(params, ws);
        // resid = W_e - W*, where W_e = P_L (P_1 = W_1 is read from params).
        {
            // depth >= 2 (checked in `new`), so W_e = P_L lives in the workspace.
            let we = ws.prefix[depth - 1].as_slice();
            for ((r, a), b) in ws
                .resid
                .as_mut_slice()
                .iter_mut()
                .zip(we)
                .zip(moments.w_star.as_slice())
            {
                *r = a - b;
            }
        }
        if !moments.whitened {
            gemm(
                ws.g.view_mut(),
                ws.resid.view(),
                false,
                moments.sigma_xx.view(),
                false,
                1.0,
                false,
            );
        }
        // Backward: B_L = G; out_l = alpha B_l P_{l-1}^T (P_0 = I); B_{l-1} = W_l^T B_l.
        let DlnWorkspace {
            prefix,
            back,
            resid,
            g,
        } = ws;
        let g_ref = if moments.whitened { &*resid } else { &*g };
        for l in (2..=depth).rev() {
            let (lo, hi) = back.split_at_mut(l - 1);
            let b_l = if l == depth { g_ref } else { &hi[0] };
            let p_prev = if l == 2 {
                self.layer(params, 1)
            } else {
                prefix[l - 2].view()
            };
            gemm(
                self.layer_mut(out, l),
                b_l.view(),
                false,
                p_prev,
                true,
                alpha,
                false,
            );
            if l == 2 {
                // B_1 = W_2^T B_2 is the gradient of W_1 itself: write it scaled into out.
                gemm(
                    self.layer_mut(out, 1),
                    self.layer(params, 2),
                    true,
                    b_l.view(),
                    false,
                    alpha,
                    false,
                );
            } else {
                gemm(
                    lo[l - 2].view_mut(),
                    self.layer(params, l),
                    true,
                    b_l.view(),
                    false,
                    1.0,
                    false,
                );
            }
        }
    }

    /// Loss only (C-1).
    pub fn loss(&self, params: &[f64], moments: &Moments, ws: &mut DlnWorkspace) -> f64 {
        let depth = self.depth();
        self.forward_prefix(params, ws);
        let we = &ws.prefix[depth - 1];
        let resid = we.sub(&moments.w_star);
        let quad = if moments.whitened {
            resid.as_slice().iter().map(|x| x * x).sum::<f64>()
        } else {
            let g = resid.matmul(&moments.sigma_xx);
            resid
                .as_slice()
                .iter()
                .zip(g.as_slice())
                .map(|(a, b)| a * b)
                .sum::<f64>()
        };
        0.5 * quad + moments.loss_min
    }

    /// Prefix products `P_l = W_l ... W_1` into `ws.prefix[l - 1]` for `l >= 2` (`P_1 = W_1`
    /// is read from `params` directly).
    fn forward_prefix(&self, params: &[f64], ws: &mut DlnWorkspace) {
        for l in 2..=self.depth() {
            let (lo, hi) = ws.prefix.split_at_mut(l - 1);
            let p_prev = if l == 2 {
                self.layer(params, 1)
            } else {
                lo[l - 2].view()
            };
            gemm(
                hi[0].view_mut(),
                self.layer(params, l),
                false,
                p_prev,
                false,
                1.0,
                false,
            );
        }
    }

    /// Loss `1/(2P) ||W_e X - Y||_F^2` and its gradient by backpropagation through the samples
    /// (`x`: `d_in x P`, `y`: `d_out x P`). An independent implementation of the finite-sample
    /// loss, used to check [`Self::loss_and_grad`] with empirical [`Moments`]. Allocates.
    pub fn sample_loss_and_grad(
        &self,
        params: &[f64],
        x: &Matrix,
        y: &Matrix,
        grad: &mut [f64],
    ) -> f64 {
        let p = x.ncols() as f64;
        let mut h = vec![x.clone()];
        for l in 1..=self.depth() {
            let w = self.layer(params, l);
            let mut next = Matrix::zeros(w.nrows(), x.ncols());
            gemm(
                next.view_mut(),
                w,
                false,
                h[l - 1].view(),
                false,
                1.0,
                false,
            );
            h.push(next);
        }
        let resid = h[self.depth()].sub(y);
        let loss = 0.5 * resid.as_slice().iter().map(|r| r * r).sum::<f64>() / p;
        let mut g = resid.scale(1.0 / p);
        for l in (1..=self.depth()).rev() {
            gemm(
                self.layer_mut(grad, l),
                g.view(),
                false,
                h[l - 1].view(),
                true,
                1.0,
                false,
            );
            if l > 1 {
                g = self.layer(params, l).to_owned().t_matmul(&g);
            }
        }
        loss
    }

    /// Balancedness matrices `D_l = W_{l+1}^T W_{l+1} - W_l W_l^T` (`dims[l] x dims[l]`),
    /// `l = 1..L-1`, conserved by gradient flow (C-4).
    pub fn balance_matrices(&self, params: &[f64]) -> Vec<Matrix> {
        (1..self.depth())
            .map(|l| {
                let upper = self.layer(params, l + 1).to_owned();
                let lower = self.layer(params, l).to_owned();
                upper.t_matmul(&upper).sub(&lower.matmul_t(&lower))
            })
            .collect()
    }
}

/// A [`DeepLinearNet`] bound to its task: the [`super::Model`] of deep linear runs.
///
/// The full-batch loss and gradient are the moment forms (C-1, C-2) on `moments`. With a finite
/// training set `data = (X, Y)` (`X`: `d_in x P`, `Y`: `d_out x P`), minibatches are sets of its
/// columns, on which the loss is `1/(2B) ||W_e X_B - Y_B||_F^2`
/// ([`DeepLinearNet::sample_loss_and_grad`]); without data there are no minibatches.
#[derive(Debug, Clone)]
pub struct DeepLinearModel<'a> {
    net: &'a DeepLinearNet,
    moments: &'a Moments,
    data: Option<(&'a Matrix, &'a Matrix)>,
    ws: DlnWorkspace,
    // Minibatch buffers (`d_in x B`, `d_out x B`), resized to the batch on first use.
    xb: Matrix,
    yb: Matrix,
}

impl<'a> DeepLinearModel<'a> {
    /// `net` on the population loss given by `moments`, with the training samples `data`
    /// (whose empirical moments `moments` should be) for minibatches, if any.
    pub fn new(
        net: &'a DeepLinearNet,
        moments: &'a Moments,
        data: Option<(&'a Matrix, &'a Matrix)>,
    ) -> Self {
        DeepLinearModel {
            net,
            moments,
            data,
            ws: net.workspace(),
            xb: Matrix::zeros(0, 0),
            yb: Matrix::zeros(0, 0),
        }
    }

    /// The network.
    pub fn net(&self) -> &'a DeepLinearNet {
        self.net
    }
}

impl super::Model for DeepLinearModel<'_> {
    fn n_params(&self) -> usize {
        self.net.n_params()
    }

    fn blocks(&self) -> Vec<super::Block> {
        (1..=self.net.depth())
            .map(|l| {
                let (rows, cols) = self.net.layer_shape(l);
                super::Block {
                    name: format!("W{l}"),
                    offset: self.net.offset(l),
                    rows,
                    cols,
                    learnable: true,
                }
            })
            .collect()
    }

    fn n_samples(&self) -> usize {
        self.data.map_or(0, |(x, _)| x.ncols())
    }

    fn loss(&mut self, theta: &[f64]) -> Result<f64> {
        Ok(self.net.loss(theta, self.moments, &mut self.ws))
    }

    fn loss_and_grad(
        &mut self,
        theta: &[f64],
        batch: Option<&[usize]>,
        grad: &mut [f64],
    ) -> Result<f64> {
        let (Some(idx), Some((x, y))) = (batch, self.data) else {
            return Ok(self
                .net
                .loss_and_grad(theta, self.moments, grad, &mut self.ws));
        };
        if self.xb.ncols() != idx.len() {
            self.xb = Matrix::zeros(x.nrows(), idx.len());
            self.yb = Matrix::zeros(y.nrows(), idx.len());
        }
        for (c, &k) in idx.iter().enumerate() {
            if k >= x.ncols() {
                return Err(Error::invalid(
                    "minibatch",
                    format!("sample {k} of a training set of {}", x.ncols()),
                ));
            }
            for r in 0..x.nrows() {
                self.xb.set(r, c, x.get(r, k));
            }
            for r in 0..y.nrows() {
                self.yb.set(r, c, y.get(r, k));
            }
        }
        Ok(self
            .net
            .sample_loss_and_grad(theta, &self.xb, &self.yb, grad))
    }

    fn neg_gradient(&mut self, theta: &[f64], out: &mut [f64]) -> Result<()> {
        // The fused form: the GEMMs write -grad straight into `out`, no loss.
        self.net
            .scaled_gradient(theta, self.moments, -1.0, out, &mut self.ws);
        Ok(())
    }
}
