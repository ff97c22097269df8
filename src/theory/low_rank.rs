//! Learning dynamics of linear low-rank RNNs in overlap space (theory/low_rank.md, LK-1..LK-6).
//!
//! Model (LK-1): `h_t = (1 - alpha) h_{t-1} + alpha (W h_{t-1} + U x_t)` from `h_0 = 0`
//! (`alpha = 1`: the discrete RNN), `yhat_t = C h_t`, `W = W0 + M N^T / n` with a fixed bulk
//! `W0` and trained `M`, `N` (`n x R`), `U` (`n x d_in`), `C` (`d_out x n`). With unit white
//! inputs the loss is `L = 1/2 sum_k w_k ||a_k - Sigma_k||_F^2` over the lag maps
//! `a_k = C A^k (alpha U)`, `A = (1 - alpha) I + alpha W` (LK-2).
//!
//! Put the trained vectors side by side, `V = [M, N, U, C^T]` (`n x p`, `p = 2R + d_in + d_out`),
//! and let `G = V^T V` be their overlaps. When the bulk annihilates their span from both sides
//! (`W0 V = 0`, `W0^T V = 0`; e.g. `W0 = 0`), `W` and `W^T` map the span into itself, the loss is
//! a function of `G` alone and gradient flow is `dV/dt = -V X(G)`, so that
//! `dG/dt = -(X^T G + G X)` is closed (LK-3, LK-4) for any init, aligned or not.
//! [`OverlapFlow`] integrates it in the transported frame `V = V_0 Phi`,
//! `dPhi/dt = -Phi X(Phi^T G_0 Phi)`, `Phi(0) = I` (LK-5): the same flow, which also carries
//! the overlaps `V_0^T V = G_0 Phi` with the initial vectors (for `W - W_0`);
//! [`OverlapFlow::observe`] maps a state to the observables.

use crate::error::{Error, Result};
use crate::integrate::VectorField;
use crate::linalg::{self, Matrix};
use num_complex::Complex64;

/// Which blocks are trained (the others keep their initial values, LK-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trained {
    /// `M` and `N` (the low-rank part of `W`).
    pub mn: bool,
    /// The input weights `U`.
    pub u: bool,
    /// The readout `C`.
    pub c: bool,
}

/// The overlap-space gradient flow LK-4 of a linear rank-`R` RNN whose bulk annihilates the
/// span of its trained vectors, in the frame of LK-5. State: `Phi` (`p x p`, column-major)
/// with `V = V_0 Phi`, so `G = V^T V = Phi^T G_0 Phi`; block order `[M, N, U, C^T]` of `V`.
#[derive(Debug, Clone)]
pub struct OverlapFlow {
    rank: usize,
    d_in: usize,
    d_out: usize,
    /// Hidden size `n` of the `1 / n` in `W = W0 + M N^T / n` (a parameter of the flow, not
    /// its dimension).
    n: f64,
    alpha: f64,
    /// Target lag maps `Sigma_k` (`d_out x d_in`), `k = 0..K-1`.
    sigma: Vec<Matrix>,
    /// Lag weights `w_k`.
    weights: Vec<f64>,
    trained: Trained,
    /// Overlaps of the initial vectors, `G_0 = V_0^T V_0`.
    g0: Matrix,
    /// `G_0^{1/2}` (eigenvalues below `p eps max` set to 0), for the singular values of
    /// `W - W_0`.
    g0_root: Matrix,
}

/// The observables of one overlap state (LK-5).
#[derive(Debug, Clone)]
pub struct OverlapState {
    /// The loss LK-2.
    pub loss: f64,
    /// `C W^k U`, `k = 0..K-1` (the lag products of `W`, not of the rate map `A`).
    pub w_lag_maps: Vec<Matrix>,
    /// The eigenvalues of `N^T M / n`: the nonzero eigenvalues of `M N^T / n`.
    pub eigenvalues: Vec<Complex64>,
    /// Singular values of `M N^T / n - M_0 N_0^T / n`, nonincreasing (length `p`).
    pub delta_singular_values: Vec<f64>,
}

impl OverlapFlow {
    /// The flow for rank `rank`, hidden size `n`, Euler factor `alpha` (1: discrete), targets
    /// `sigma` and lag weights `weights` (one per lag), trained blocks `trained`, from the
    /// initial vectors `v0 = [M, N, U, C^T]` (`n x p`). Errors on inconsistent sizes.
    pub fn new(
        rank: usize,
        alpha: f64,
        sigma: Vec<Matrix>,
        weights: Vec<f64>,
        trained: Trained,
        v0: &Matrix,
    ) -> Result<Self> {
        let (d_out, d_in) = sigma
            .first()
            .map(|s| (s.nrows(), s.ncols()))
            .ok_or_else(|| Error::invalid("OverlapFlow", "need at least one lag"))?;
        let p = 2 * rank + d_in + d_out;
        if v0.ncols() != p || weights.len() != sigma.len() || rank == 0 {
            return Err(Error::invalid(
                "OverlapFlow",
                format!(
                    "need rank >= 1, v0 with 2R + d_in + d_out = {p} columns (got {}) and one \
                     weight per lag ({} weights, {} lags)",
                    v0.ncols(),
                    weights.len(),
                    sigma.len()
                ),
            ));
        }
        if sigma
            .iter()
            .any(|s| s.nrows() != d_out || s.ncols() != d_in)
        {
            return Err(Error::invalid("OverlapFlow", "all lag maps need one shape"));
        }
        let g0 = v0.t_matmul(v0);
        let (lam, q) = linalg::sym_eig(g0.view())?;
        let floor = p as f64 * f64::EPSILON * lam.iter().fold(0.0f64, |a, &l| a.max(l.abs()));
        let root_diag: Vec<f64> = lam
            .iter()
            .map(|&l| if l > floor { l.sqrt() } else { 0.0 })
            .collect();
        let g0_root = q.matmul(&Matrix::from_diag(&root_diag)).matmul_t(&q);
        Ok(OverlapFlow {
            rank,
            d_in,
            d_out,
            n: v0.nrows() as f64,
            alpha,
            sigma,
            weights,
            trained,
            g0,
            g0_root,
        })
    }

    /// Number of overlap vectors `p = 2R + d_in + d_out`.
    pub fn p(&self) -> usize {
        2 * self.rank + self.d_in + self.d_out
    }

    /// The initial state `Phi(0) = I`.
    pub fn initial_state(&self) -> Vec<f64> {
        Matrix::identity(self.p()).into_vec()
    }

    /// The overlaps `G = Phi^T G_0 Phi` of a state.
    pub fn overlaps(&self, y: &[f64]) -> Matrix {
        let phi = self.frame(y);
        phi.t_matmul(&self.g0).matmul(&phi)
    }

    /// Column offsets of the blocks `M, N, U, C^T` in `V`.
    fn offsets(&self) -> (usize, usize, usize, usize) {
        let r = self.rank;
        (0, r, 2 * r, 2 * r + self.d_in)
    }

    /// `Phi` of a state.
    fn frame(&self, y: &[f64]) -> Matrix {
        let p = self.p();
        Matrix::from_col_major(p, p, y[..p * p].to_vec()).expect("Phi block")
    }

    /// The restriction of `c0 I + c1 W` to the span (LK-3): `(c0 I + c1 W) V = V hat`, with
    /// `W V = M (N^T V) / n`; `transposed` gives that of `c0 I + c1 W^T` (`W^T V = N M^T V / n`).
    fn restricted(&self, g: &Matrix, c0: f64, c1: f64, transposed: bool) -> Matrix {
        let p = self.p();
        let (om, on, _, _) = self.offsets();
        let (to, from) = if transposed { (on, om) } else { (om, on) };
        let mut a = Matrix::from_fn(p, p, |i, j| if i == j { c0 } else { 0.0 });
        for r in 0..self.rank {
            for j in 0..p {
                a.set(
                    to + r,
                    j,
                    a.get(to + r, j) + c1 * g.get(from + r, j) / self.n,
                );
            }
        }
        a
    }

    /// Selection matrix of `cols` columns from offset `at` (`p x cols`).
    fn select(&self, at: usize, cols: usize) -> Matrix {
        Matrix::from_fn(self.p(), cols, |i, j| if i == at + j { 1.0 } else { 0.0 })
    }

    /// Rows `at..at + rows` of `m`.
    fn rows(m: &Matrix, at: usize, rows: usize) -> Matrix {
        Matrix::from_fn(rows, m.ncols(), |i, j| m.get(at + i, j))
    }

    /// `P_k = A_hat^k E_U` and `Q_k = A_check^k E_C` for `k = 0..K-1` (LK-3).
    fn powers(&self, g: &Matrix) -> (Vec<Matrix>, Vec<Matrix>) {
        let (_, _, ou, oc) = self.offsets();
        let a_hat = self.restricted(g, 1.0 - self.alpha, self.alpha, false);
        let a_check = self.restricted(g, 1.0 - self.alpha, self.alpha, true);
        let lags = self.sigma.len();
        let mut pk = vec![self.select(ou, self.d_in)];
        let mut qk = vec![self.select(oc, self.d_out)];
        for k in 1..lags {
            pk.push(a_hat.matmul(&pk[k - 1]));
            qk.push(a_check.matmul(&qk[k - 1]));
        }
        (pk, qk)
    }

    /// The lag maps `a_k = alpha E_C^T G P_k` (LK-2, LK-3).
    fn lag_maps(&self, g: &Matrix, pk: &[Matrix]) -> Vec<Matrix> {
        let (_, _, _, oc) = self.offsets();
        let gc = Self::rows(g, oc, self.d_out);
        pk.iter().map(|p| gc.matmul(p).scale(self.alpha)).collect()
    }

    /// The loss LK-2 of an overlap matrix `G`.
    pub fn loss_of(&self, g: &Matrix) -> f64 {
        let (pk, _) = self.powers(g);
        self.loss_from(&self.lag_maps(g, &pk))
    }

    fn loss_from(&self, a: &[Matrix]) -> f64 {
        a.iter()
            .zip(&self.sigma)
            .zip(&self.weights)
            .map(|((ak, sk), &w)| 0.5 * w * ak.sub(sk).norm_fro().powi(2))
            .sum()
    }

    /// The coefficients `X` of the gradient in the span, `dL/dV = V X` (LK-3), `p x p`.
    pub fn gradient_coefficients(&self, g: &Matrix) -> Matrix {
        let p = self.p();
        let (om, on, ou, oc) = self.offsets();
        let (pk, qk) = self.powers(g);
        let a = self.lag_maps(g, &pk);
        let e: Vec<Matrix> = a
            .iter()
            .zip(&self.sigma)
            .zip(&self.weights)
            .map(|((ak, sk), &w)| ak.sub(sk).scale(w))
            .collect();
        let alpha = self.alpha;
        let mut x = Matrix::zeros(p, p);
        let put = |x: &mut Matrix, at: usize, block: &Matrix| {
            for j in 0..block.ncols() {
                for i in 0..p {
                    x.set(i, at + j, block.get(i, j));
                }
            }
        };
        if self.trained.c {
            // dL/dC^T = sum_k A^k (alpha U) E_k^T = V sum_k alpha P_k E_k^T.
            let mut xc = Matrix::zeros(p, self.d_out);
            for (pk, ek) in pk.iter().zip(&e) {
                xc = xc.add_scaled(&pk.matmul_t(ek), alpha);
            }
            put(&mut x, oc, &xc);
        }
        if self.trained.u {
            // dL/dU = alpha sum_k (A^T)^k C^T E_k = V sum_k alpha Q_k E_k.
            let mut xu = Matrix::zeros(p, self.d_in);
            for (qk, ek) in qk.iter().zip(&e) {
                xu = xu.add_scaled(&qk.matmul(ek), alpha);
            }
            put(&mut x, ou, &xu);
        }
        if self.trained.mn {
            // dL/dA = V Y V^T, Y = alpha sum_k sum_{j<k} Q_j E_k P_{k-1-j}^T; dL/dW = alpha dL/dA;
            // dL/dM = dL/dW N / n = V (alpha / n) Y G E_N, dL/dN = V (alpha / n) Y^T G E_M.
            let mut y = Matrix::zeros(p, p);
            for (k, ek) in e.iter().enumerate() {
                for j in 0..k {
                    y = y.add_scaled(&qk[j].matmul(ek).matmul_t(&pk[k - 1 - j]), alpha);
                }
            }
            let s = alpha / self.n;
            let g_n = g.matmul(&self.select(on, self.rank));
            let g_m = g.matmul(&self.select(om, self.rank));
            put(&mut x, om, &y.matmul(&g_n).scale(s));
            put(&mut x, on, &y.t_matmul(&g_m).scale(s));
        }
        x
    }

    /// The observables of a state (LK-5): loss, `C W^k U`, the eigenvalues of `N^T M / n` and
    /// the singular values of the learned change `(M N^T - M_0 N_0^T) / n`.
    pub fn observe(&self, y: &[f64]) -> Result<OverlapState> {
        let phi = self.frame(y);
        let g = phi.t_matmul(&self.g0).matmul(&phi);
        let (pk, _) = self.powers(&g);
        let loss = self.loss_from(&self.lag_maps(&g, &pk));
        let (om, on, ou, oc) = self.offsets();
        let r = self.rank;
        // W restricted to the span (alpha-free): W V = V W_hat.
        let w_hat = self.restricted(&g, 0.0, 1.0, false);
        let gc = Self::rows(&g, oc, self.d_out);
        let mut x = self.select(ou, self.d_in);
        let mut w_lag_maps = Vec::with_capacity(self.sigma.len());
        for _ in 0..self.sigma.len() {
            w_lag_maps.push(gc.matmul(&x));
            x = w_hat.matmul(&x);
        }
        let nm = Matrix::from_fn(r, r, |i, j| g.get(on + i, om + j) / self.n);
        let eigenvalues = linalg::eigenvalues(&nm)?;
        // M N^T - M_0 N_0^T = V_0 B V_0^T with B = Phi_M Phi_N^T - E_M E_N^T; its singular
        // values are those of G_0^{1/2} B G_0^{1/2} / n (exactly 0 at Phi = I).
        let phi_m = phi.matmul(&self.select(om, r));
        let phi_n = phi.matmul(&self.select(on, r));
        let mut b = phi_m.matmul_t(&phi_n);
        for i in 0..r {
            b.set(om + i, on + i, b.get(om + i, on + i) - 1.0);
        }
        let delta = self
            .g0_root
            .matmul(&b)
            .matmul(&self.g0_root)
            .scale(1.0 / self.n);
        let delta_singular_values = linalg::singular_values(delta.view())?;
        Ok(OverlapState {
            loss,
            w_lag_maps,
            eigenvalues,
            delta_singular_values,
        })
    }
}

impl VectorField for OverlapFlow {
    fn dim(&self) -> usize {
        self.p() * self.p()
    }

    /// LK-5: `dPhi/dt = -Phi X(G)`, `G = Phi^T G_0 Phi` (so `dG/dt = -(X^T G + G X)`, LK-4).
    fn eval(&mut self, _t: f64, y: &[f64], dy: &mut [f64]) {
        let phi = self.frame(y);
        let g = phi.t_matmul(&self.g0).matmul(&phi);
        let x = self.gradient_coefficients(&g);
        let d = phi.matmul(&x).scale(-1.0);
        dy.copy_from_slice(d.as_slice());
    }
}

/// `[M, N, U, C^T]` (`n x (2R + d_in + d_out)`) from the blocks of a rank-`R` RNN.
pub fn stack_vectors(m: &Matrix, n: &Matrix, u: &Matrix, c: &Matrix) -> Result<Matrix> {
    let rows = m.nrows();
    if n.nrows() != rows || u.nrows() != rows || c.ncols() != rows || m.ncols() != n.ncols() {
        return Err(Error::invalid(
            "stack_vectors",
            "M, N, U (n x .) and C (. x n) must share n, M and N the rank",
        ));
    }
    let ct = c.transpose();
    let blocks = [m, n, u, &ct];
    let cols: usize = blocks.iter().map(|b| b.ncols()).sum();
    let mut v = Matrix::zeros(rows, cols);
    let mut at = 0;
    for b in blocks {
        for j in 0..b.ncols() {
            for i in 0..rows {
                v.set(i, at + j, b.get(i, j));
            }
        }
        at += b.ncols();
    }
    Ok(v)
}
