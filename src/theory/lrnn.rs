//! Learning dynamics of linear RNNs read out at the last step (theory/lrnn.md, LR-1..LR-3;
//! Proca, Dominé, Shanahan & Mediano 2025 type; reference notes §5.1, T5.1-T5.3).
//!
//! Model: `h_0 = 0`, `h_t = W h_{t-1} + B x_t` (`t = 1..T`), `yhat = C h_T`, with inputs white
//! and independent across time. With `Sigma_k = E[y x_{T-k}^T]` (lag `k = 0..T-1`) the loss is
//! `L = 1/2 sum_k ||Sigma_k - C W^k B||_F^2 + const` (LR-1). [`FullLinearRnnFlow`] is its full
//! matrix gradient flow; [`LrnnModes`] the decoupled per-mode reduction (LR-2) that holds when
//! `Sigma_k = U S_k V^T` share singular vectors and the init is aligned.

use crate::integrate::VectorField;
use crate::linalg::Matrix;

/// Per-mode reduced ODE (LR-2): state `[c, a, b]` per mode (mode-major); with
/// `e_k = s_k - c a^k b`: `dc/dt = sum_k e_k a^k b`, `db/dt = sum_k e_k c a^k`,
/// `da/dt = sum_k e_k c b k a^{k-1}`. `s[mode][k]` are the lag singular values.
#[derive(Debug, Clone)]
pub struct LrnnModes {
    /// Lag profiles `s_k` per mode (`k = 0..T-1`).
    pub s: Vec<Vec<f64>>,
}

impl VectorField for LrnnModes {
    fn dim(&self) -> usize {
        3 * self.s.len()
    }
    fn eval(&mut self, _t: f64, y: &[f64], dy: &mut [f64]) {
        for (m, s) in self.s.iter().enumerate() {
            let (c, a, b) = (y[3 * m], y[3 * m + 1], y[3 * m + 2]);
            let (mut dc, mut da, mut db) = (0.0, 0.0, 0.0);
            let mut ak = 1.0; // a^k
            let mut akm1 = 0.0; // k a^{k-1}
            for (k, &sk) in s.iter().enumerate() {
                let e = sk - c * ak * b;
                dc += e * ak * b;
                db += e * c * ak;
                da += e * c * b * akm1;
                // next: k+1 a^k
                akm1 = (k + 1) as f64 * ak;
                ak *= a;
            }
            dy[3 * m] = dc;
            dy[3 * m + 1] = da;
            dy[3 * m + 2] = db;
        }
    }
}

/// Lag products `c a^k b` of one mode in `state` (LR-2 observables).
pub fn lag_products(state: &[f64], mode: usize, lags: usize) -> Vec<f64> {
    let (c, a, b) = (state[3 * mode], state[3 * mode + 1], state[3 * mode + 2]);
    (0..lags).map(|k| c * a.powi(k as i32) * b).collect()
}

/// Full matrix gradient flow of LR-1 on the flat column-major state `[C, W, B]`
/// (`C: n_out x N`, `W: N x N`, `B: N x n_in`), with `E_k = Sigma_k - C W^k B`:
/// `dC/dt = sum_k E_k (W^k B)^T`, `dB/dt = sum_k (C W^k)^T E_k`,
/// `dW/dt = sum_k sum_{j<k} (C W^j)^T E_k (W^{k-1-j} B)^T` (LR-3). Allocates per evaluation
/// (small reference problems only).
#[derive(Debug, Clone)]
pub struct FullLinearRnnFlow {
    /// `Sigma_k`, `k = 0..T-1`, each `n_out x n_in`.
    pub sigma: Vec<Matrix>,
    /// Hidden size `N`.
    pub n: usize,
}

impl FullLinearRnnFlow {
    fn split(&self, y: &[f64]) -> (Matrix, Matrix, Matrix) {
        let (no, ni, n) = (self.sigma[0].nrows(), self.sigma[0].ncols(), self.n);
        let c = Matrix::from_col_major(no, n, y[..no * n].to_vec()).expect("C block");
        let w = Matrix::from_col_major(n, n, y[no * n..no * n + n * n].to_vec()).expect("W block");
        let b = Matrix::from_col_major(n, ni, y[no * n + n * n..].to_vec()).expect("B block");
        (c, w, b)
    }

    /// Pack `C, W, B` into the flat state.
    pub fn pack(c: &Matrix, w: &Matrix, b: &Matrix) -> Vec<f64> {
        c.as_slice()
            .iter()
            .chain(w.as_slice())
            .chain(b.as_slice())
            .copied()
            .collect()
    }

    /// The lag maps `C W^k B`, `k = 0..T-1`, of a state.
    pub fn lag_maps(&self, y: &[f64]) -> Vec<Matrix> {
        let (c, w, b) = self.split(y);
        let mut wk_b = b.clone();
        let mut out = Vec::with_capacity(self.sigma.len());
        for _ in 0..self.sigma.len() {
            out.push(c.matmul(&wk_b));
            wk_b = w.matmul(&wk_b);
        }
        out
    }
}

impl VectorField for FullLinearRnnFlow {
    fn dim(&self) -> usize {
        let (no, ni, n) = (self.sigma[0].nrows(), self.sigma[0].ncols(), self.n);
        no * n + n * n + n * ni
    }
    fn eval(&mut self, _t: f64, y: &[f64], dy: &mut [f64]) {
        let (c, w, b) = self.split(y);
        let t = self.sigma.len();
        // W^j B and C W^j for j = 0..T-1.
        let mut wb = vec![b.clone()];
        let mut cw = vec![c.clone()];
        for j in 1..t {
            wb.push(w.matmul(&wb[j - 1]));
            cw.push(cw[j - 1].matmul(&w));
        }
        let mut dc = Matrix::zeros(c.nrows(), c.ncols());
        let mut dw = Matrix::zeros(w.nrows(), w.ncols());
        let mut db = Matrix::zeros(b.nrows(), b.ncols());
        for k in 0..t {
            let e = self.sigma[k].sub(&c.matmul(&wb[k]));
            dc = dc.add_scaled(&e.matmul_t(&wb[k]), 1.0);
            db = db.add_scaled(&cw[k].t_matmul(&e), 1.0);
            for j in 0..k {
                dw = dw.add_scaled(&cw[j].t_matmul(&e).matmul_t(&wb[k - 1 - j]), 1.0);
            }
        }
        let flat = Self::pack(&dc, &dw, &db);
        dy.copy_from_slice(&flat);
    }
}
