//! Arora, Cohen & Hazan (2018) and Arora, Cohen, Hu & Luo (2019): end-to-end dynamics of deep
//! linear networks from balanced initializations (theory/arora.md, AR-1..AR-2).
//!
//! If `W_{j+1}^T W_{j+1} = W_j W_j^T` at t = 0 (balanced), the end-to-end map
//! `W_e = W_N ... W_1` of gradient flow on `l(W_e)` obeys (AR-1)
//! `dW_e/dt = - sum_{j=1}^{N} (W_e W_e^T)^{(j-1)/N} grad l(W_e) (W_e^T W_e)^{(N-j)/N}`,
//! a preconditioned flow on the map alone. For `l = 1/2 ||W_e - W*||^2` (whitened inputs),
//! `grad l = W_e - W*`. Fractional powers of the PSD matrices come from their symmetric
//! eigendecompositions (negative rounding noise clipped to 0).

use crate::integrate::VectorField;
use crate::linalg::{self, Matrix};

/// The end-to-end vector field AR-1 on the flat column-major `d_out x d_in` map.
#[derive(Debug, Clone)]
pub struct EndToEnd {
    /// Depth `N` (number of weight matrices).
    pub depth: usize,
    /// The loss minimizer `W*` (`d_out x d_in`): `grad l = W_e - W*`.
    pub w_star: Matrix,
}

/// `x^p` for symmetric PSD `x` (eigenvalues clipped at 0).
fn psd_pow(x: &Matrix, p: f64) -> Matrix {
    if p == 0.0 {
        return Matrix::identity(x.nrows());
    }
    linalg::sym_fn(x.view(), |l| l.max(0.0).powf(p)).unwrap_or_else(|_| Matrix::identity(x.nrows()))
}

impl VectorField for EndToEnd {
    fn dim(&self) -> usize {
        self.w_star.nrows() * self.w_star.ncols()
    }
    fn eval(&mut self, _t: f64, y: &[f64], dy: &mut [f64]) {
        let (m, n) = (self.w_star.nrows(), self.w_star.ncols());
        let we = Matrix::from_col_major(m, n, y.to_vec()).expect("state is the map");
        let g = we.sub(&self.w_star);
        let left = we.matmul_t(&we); // W_e W_e^T (m x m)
        let right = we.t_matmul(&we); // W_e^T W_e (n x n)
        let nn = self.depth as f64;
        let mut acc = Matrix::zeros(m, n);
        for j in 1..=self.depth {
            let l = psd_pow(&left, (j as f64 - 1.0) / nn);
            let r = psd_pow(&right, (nn - j as f64) / nn);
            let term = l.matmul(&g).matmul(&r);
            for (a, b) in acc.as_mut_slice().iter_mut().zip(term.as_slice()) {
                *a += b;
            }
        }
        for (d, a) in dy.iter_mut().zip(acc.as_slice()) {
            *d = -a;
        }
    }
}

/// Singular-value dynamics (AR-2) for a map whose singular vectors align with the target's:
/// `d sigma/dt = N (sigma^2)^{1 - 1/N} (s - sigma)`, which is Saxe's depth equation (DL-9)
/// in `u = sigma`.
pub fn singular_value_rate(depth: usize, sigma: f64, s: f64) -> f64 {
    let n = depth as f64;
    n * (sigma * sigma).powf(1.0 - 1.0 / n) * (s - sigma)
}
