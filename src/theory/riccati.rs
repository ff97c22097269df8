//! Exact two-layer dynamics from lambda-balanced initializations (theory/riccati.md):
//! the matrix Riccati solution of Fukumizu (1998) generalized to lambda != 0
//! (Braun et al. 2022; Dominé et al. 2025), for any input, hidden and output widths.
//!
//! With whitened inputs, `Q = [W1^T; W2]` (`(Ni + No) x Nh`) and `P = Q Q^T`, gradient flow
//! from an init with `W2^T W2 - W1 W1^T = lambda I` obeys `dP/dt = F P + P F - P^2` (RC-2) with
//! `F = [[-lambda/2 I, Sigma_yx^T], [Sigma_yx, lambda/2 I]]` (RC-1), solved by (RC-3)
//! `P(t) = e^{Ft} P0 (I + K(t) P0)^{-1} e^{Ft}`, `K(t) = (e^{2Ft} - I) / (2F)`.
//! `P` composes (`P(t + s)` from `P(t)`), so long horizons are stepped in pieces of bounded
//! `|mu| dt` to avoid overflow of `e^{2Ft}` (RC-4).

use crate::error::{Error, Result};
use crate::linalg::{self, Matrix};

/// The Riccati propagator for one teacher and balance `lambda`.
#[derive(Debug, Clone)]
pub struct Riccati {
    ni: usize,
    no: usize,
    /// Eigenvalues of F (nondecreasing).
    mu: Vec<f64>,
    /// Eigenvectors of F (columns).
    o: Matrix,
}

/// Largest `|mu| dt` per composition step (RC-4): `e^{2 mu dt} <= e^8`, far from overflow and
/// with negligible cancellation in `(I + K P)^{-1}`.
const MAX_MU_DT: f64 = 4.0;

impl Riccati {
    /// Propagator for `sigma_yx` (`No x Ni`) and balance `lambda` (RC-1).
    pub fn new(sigma_yx: &Matrix, lambda: f64) -> Result<Riccati> {
        let (no, ni) = (sigma_yx.nrows(), sigma_yx.ncols());
        let n = ni + no;
        let f = Matrix::from_fn(n, n, |i, j| match (i < ni, j < ni) {
            (true, true) => {
                if i == j {
                    -0.5 * lambda
                } else {
                    0.0
                }
            }
            (false, false) => {
                if i == j {
                    0.5 * lambda
                } else {
                    0.0
                }
            }
            (true, false) => sigma_yx.get(j - ni, i),
            (false, true) => sigma_yx.get(i - ni, j),
        });
        let (mu, o) = linalg::sym_eig(f.view())?;
        Ok(Riccati { ni, no, mu, o })
    }

    /// `O diag(g(mu)) O^T`.
    fn spectral(&self, g: impl Fn(f64) -> f64) -> Matrix {
        let n = self.mu.len();
        let og = Matrix::from_fn(n, n, |i, j| self.o.get(i, j) * g(self.mu[j]));
        og.matmul_t(&self.o)
    }

    /// `P(t0 + dt)` from `P(t0)` in one composition step (RC-3).
    fn step(&self, p: &Matrix, dt: f64) -> Result<Matrix> {
        let n = self.mu.len();
        let e = self.spectral(|m| (m * dt).exp());
        // K = (e^{2 mu dt} - 1) / (2 mu), with the limit dt on mu = 0.
        let k = self.spectral(|m| {
            if (m * dt).abs() < 1e-8 {
                dt * (1.0 + m * dt)
            } else {
                (2.0 * m * dt).exp_m1() / (2.0 * m)
            }
        });
        let mut m = k.matmul(p);
        for i in 0..n {
            m.set(i, i, m.get(i, i) + 1.0);
        }
        let y = linalg::solve(&m, &e)?;
        let pn = e.matmul(p).matmul(&y);
        // Symmetrize: P is symmetric in exact arithmetic.
        Ok(Matrix::from_fn(n, n, |i, j| {
            0.5 * (pn.get(i, j) + pn.get(j, i))
        }))
    }

    /// `P(t1)` from `P(t0) = p`, stepping so that `|mu| dt <= 4` (RC-4).
    pub fn propagate(&self, p: &Matrix, dt: f64) -> Result<Matrix> {
        if dt < 0.0 || !dt.is_finite() {
            return Err(Error::invalid(
                "riccati dt",
                format!("need a finite dt >= 0, got {dt}"),
            ));
        }
        let mu_max = self.mu.iter().fold(0.0f64, |a, m| a.max(m.abs()));
        let pieces = ((mu_max * dt / MAX_MU_DT).ceil() as usize).max(1);
        let h = dt / pieces as f64;
        let mut cur = p.clone();
        for _ in 0..pieces {
            cur = self.step(&cur, h)?;
        }
        Ok(cur)
    }

    /// `P0 = Q Q^T` with `Q = [W1^T; W2]` (RC-1).
    pub fn p_of(&self, w1: &Matrix, w2: &Matrix) -> Matrix {
        let (nh, ni) = (w1.nrows(), w1.ncols());
        let no = w2.nrows();
        let q = Matrix::from_fn(ni + no, nh, |i, j| {
            if i < ni {
                w1.get(j, i)
            } else {
                w2.get(i - ni, j)
            }
        });
        q.matmul_t(&q)
    }

    /// The end-to-end map `W2 W1 = P[Ni.., ..Ni]` (`No x Ni`).
    pub fn map_of(&self, p: &Matrix) -> Matrix {
        Matrix::from_fn(self.no, self.ni, |i, j| p.get(self.ni + i, j))
    }

    /// `W1^T W1 = P[..Ni, ..Ni]` (`Ni x Ni`).
    pub fn w1tw1_of(&self, p: &Matrix) -> Matrix {
        Matrix::from_fn(self.ni, self.ni, |i, j| p.get(i, j))
    }

    /// `W2 W2^T = P[Ni.., Ni..]` (`No x No`).
    pub fn w2w2t_of(&self, p: &Matrix) -> Matrix {
        Matrix::from_fn(self.no, self.no, |i, j| p.get(self.ni + i, self.ni + j))
    }
}

/// The balance `lambda` of a two-layer init if it is lambda-balanced,
/// `W2^T W2 - W1 W1^T = lambda I` to a relative tolerance `rtol` of the weights' scale
/// (convention of the authors' code: `lambda = (W2^T W2 - W1 W1^T)[0, 0]`); else `None`.
pub fn lambda_balance(w1: &Matrix, w2: &Matrix, rtol: f64) -> Option<f64> {
    let d = w2.t_matmul(w2).sub(&w1.matmul_t(w1));
    let lambda = d.get(0, 0);
    let scale = w1.norm_fro().powi(2) + w2.norm_fro().powi(2) + lambda.abs();
    let n = d.nrows();
    let off = (0..n)
        .flat_map(|i| (0..n).map(move |j| (i, j)))
        .map(|(i, j)| (d.get(i, j) - if i == j { lambda } else { 0.0 }).abs())
        .fold(0.0, f64::max);
    (off <= rtol * scale.max(f64::MIN_POSITIVE)).then_some(lambda)
}

/// The numerically stable form of Braun et al. (2022) and Dominé et al. (2025) for square
/// networks (`Ni = No = Nh = N`) from a lambda-balanced init (RC-6): with
/// `Sigma_yx = U S V^T`, `Lambda = diag(sqrt(s^2 + lambda^2/4))`, `X = diag(lambda / (sqrt(lambda^2 + 4 s^2) + 2 s))`,
/// `A = (I + X^2)^{-1/2}`, `B = W2^T U (A + XA) + W1 V (A - XA)`,
/// `C = W2^T U (A - XA) - W1 V (A + XA)`, `G = e^{-Lt} C^T B^{-T} e^{-Lt}`,
/// `Z = [V((A - XA) - (A + XA) G); U((A + XA) + (A - XA) G)]`,
/// `M = 4 e^{-Lt} B^{-1} B^{-T} e^{-Lt} + (I - e^{-2Lt}) L^{-1} - e^{-Lt} B^{-1} C (e^{-2Lt} - I) L^{-1} C^T B^{-T} e^{-Lt}`,
/// `P(t) = Z M^{-1} Z^T`. Only decaying exponentials appear, so it is accurate at any `t`
/// without stepping. Errors if `B` is singular (a mode starts exactly at the saddle).
pub fn stable_square(
    sigma_yx: &Matrix,
    w1: &Matrix,
    w2: &Matrix,
    lambda: f64,
    t: f64,
) -> Result<Matrix> {
    let n = sigma_yx.nrows();
    if sigma_yx.ncols() != n
        || w1.nrows() != n
        || w1.ncols() != n
        || w2.nrows() != n
        || w2.ncols() != n
    {
        return Err(Error::invalid(
            "stable_square",
            "needs Ni = No = Nh (square networks)",
        ));
    }
    let svd = linalg::svd(sigma_yx.view())?;
    let (u, s, v) = (&svd.u, &svd.s, &svd.v);
    let lam: Vec<f64> = s
        .iter()
        .map(|x| (x * x + 0.25 * lambda * lambda).sqrt())
        .collect();
    let xd: Vec<f64> = s
        .iter()
        .map(|x| lambda / ((lambda * lambda + 4.0 * x * x).sqrt() + 2.0 * x))
        .collect();
    let ad: Vec<f64> = xd.iter().map(|x| 1.0 / (1.0 + x * x).sqrt()).collect();
    let diag_mul = |m: &Matrix, d: &dyn Fn(usize) -> f64| {
        Matrix::from_fn(m.nrows(), m.ncols(), |i, j| m.get(i, j) * d(j))
    };
    let plus = |j: usize| ad[j] + xd[j] * ad[j];
    let minus = |j: usize| ad[j] - xd[j] * ad[j];
    let w2tu = w2.t_matmul(u);
    let w1v = w1.matmul(v);
    let add = |a: &Matrix, b: &Matrix, sb: f64| {
        Matrix::from_fn(a.nrows(), a.ncols(), |i, j| a.get(i, j) + sb * b.get(i, j))
    };
    let b = add(&diag_mul(&w2tu, &plus), &diag_mul(&w1v, &minus), 1.0);
    let c = add(&diag_mul(&w2tu, &minus), &diag_mul(&w1v, &plus), -1.0);
    let e: Vec<f64> = lam.iter().map(|l| (-l * t).exp()).collect();
    // B^{-T} E and friends via solves (B^{-1} Y = solve(B, Y); B^{-T} Y = solve(B^T, Y)).
    let bt = b.transpose();
    let e_mat = Matrix::from_diag(&e);
    let binv_t_e = linalg::solve(&bt, &e_mat)?; // B^{-T} E
                                                // G = E C^T B^{-T} E
    let ct_binv_t_e = c.t_matmul(&binv_t_e);
    let g = Matrix::from_fn(n, n, |i, j| e[i] * ct_binv_t_e.get(i, j));
    let left = Matrix::from_fn(n, n, |i, j| if i == j { minus(j) } else { 0.0 })
        .sub(&Matrix::from_fn(n, n, |i, j| plus(i) * g.get(i, j)));
    let right = Matrix::from_fn(n, n, |i, j| if i == j { plus(j) } else { 0.0 })
        .add_scaled(&Matrix::from_fn(n, n, |i, j| minus(i) * g.get(i, j)), 1.0);
    let ztop = v.matmul(&left);
    let zbot = u.matmul(&right);
    // M = 4 E B^{-1} B^{-T} E + (I - E^2) L^{-1} - E B^{-1} C (E^2 - I) L^{-1} C^T B^{-T} E
    let e_binv = binv_t_e.transpose(); // E B^{-1} = (B^{-T} E)^T
    let term1 = e_binv.matmul(&binv_t_e).scale(4.0);
    let term2 = Matrix::from_diag(
        &lam.iter()
            .zip(&e)
            .map(|(l, ei)| (1.0 - ei * ei) / l)
            .collect::<Vec<_>>(),
    );
    let mid = Matrix::from_diag(
        &lam.iter()
            .zip(&e)
            .map(|(l, ei)| (ei * ei - 1.0) / l)
            .collect::<Vec<_>>(),
    );
    let term3 = e_binv
        .matmul(&c)
        .matmul(&mid)
        .matmul(&c.transpose())
        .matmul(&binv_t_e);
    let m = term1.add_scaled(&term2, 1.0).sub(&term3);
    let z = Matrix::from_fn(2 * n, n, |i, j| {
        if i < n {
            ztop.get(i, j)
        } else {
            zbot.get(i - n, j)
        }
    });
    // P = Z M^{-1} Z^T
    let minv_zt = linalg::solve(&m, &z.transpose())?;
    let p = z.matmul(&minv_zt);
    Ok(Matrix::from_fn(2 * n, 2 * n, |i, j| {
        0.5 * (p.get(i, j) + p.get(j, i))
    }))
}
