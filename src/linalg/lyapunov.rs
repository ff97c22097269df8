//! Lyapunov equations by the Bartels–Stewart method on the complex Schur form (PO-2, PO-3 in
//! `theory/partial_observation.md`).
//!
//! Continuous: `A X + X A^T + Q = 0`; discrete (Stein): `X = A X A^T + Q`. `A` is `n x n`
//! real, `Q` is `n x n` real symmetric, and the solution `X` is returned symmetrized. The
//! Schur form `A = U T U^*` (nalgebra; `T` upper triangular, `U` unitary) is backward stable
//! also for the non-normal and defective matrices of feed-forward chains, where a solve through
//! eigenvectors would not be; each column of `U^* X U` is then one triangular solve, so the
//! cost is `O(n^3)` flops and `O(n^2)` memory.
//!
//! nalgebra's QR iteration can stall on clustered eigenvalues of strongly non-normal matrices
//! (it lacks LAPACK's neighbouring-entry deflation test). Then the solvers fall back to
//! iterations in real arithmetic, the scaled matrix-sign-function Newton iteration (Roberts
//! 1980; Byers 1987) for the continuous equation and squared Smith doubling for the discrete
//! one, and accept their result only if its relative residual is below `sqrt(eps)`.

use super::{LinalgError, Matrix};
use nalgebra::DMatrix;
use num_complex::Complex64;

/// Which Lyapunov equation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Continuous,
    Discrete,
}

/// Solve the continuous Lyapunov equation `A X + X A^T + Q = 0` for symmetric `X` (`n x n`).
/// For a stable `A` (every eigenvalue with negative real part) and `Q` the covariance of white
/// noise, `X` is the stationary covariance of `dx = A x dt + dW`. Errors on shapes that do not
/// fit, non-finite input, or a singular equation (`lambda_i + conj(lambda_j) = 0`).
pub fn continuous(a: &Matrix, q: &Matrix) -> Result<Matrix, LinalgError> {
    solve(a, q, Kind::Continuous)
}

/// Solve the discrete Lyapunov (Stein) equation `X = A X A^T + Q` for symmetric `X`
/// (`n x n`). For a stable `A` (spectral radius below 1), `X` is the stationary covariance of
/// `x_{t+1} = A x_t + xi_t` with `Cov(xi) = Q`. Errors as [`continuous`], singular when
/// `lambda_i conj(lambda_j) = 1`.
pub fn discrete(a: &Matrix, q: &Matrix) -> Result<Matrix, LinalgError> {
    solve(a, q, Kind::Discrete)
}

/// [`continuous`] by the scaled matrix-sign-function iteration alone (its fallback; also an
/// independent check of the Schur path). Errors when it does not converge or its relative
/// residual exceeds `sqrt(eps)`.
pub fn continuous_by_sign_function(a: &Matrix, q: &Matrix) -> Result<Matrix, LinalgError> {
    check(a, q, "continuous Lyapunov equation")?;
    iterative(a, q, Kind::Continuous, "continuous Lyapunov equation")
}

/// [`discrete`] by squared Smith doubling alone (its fallback; also an independent check).
pub fn discrete_by_doubling(a: &Matrix, q: &Matrix) -> Result<Matrix, LinalgError> {
    check(a, q, "discrete Lyapunov equation")?;
    iterative(a, q, Kind::Discrete, "discrete Lyapunov equation")
}

fn check(a: &Matrix, q: &Matrix, what: &'static str) -> Result<(), LinalgError> {
    let n = a.nrows();
    if a.ncols() != n || q.nrows() != n || q.ncols() != n {
        return Err(LinalgError::Shape {
            what,
            detail: format!(
                "A is {}x{}, Q is {}x{} (both must be n x n)",
                a.nrows(),
                a.ncols(),
                q.nrows(),
                q.ncols()
            ),
        });
    }
    if a.as_slice()
        .iter()
        .chain(q.as_slice())
        .any(|x| !x.is_finite())
    {
        return Err(LinalgError::NoConvergence { what });
    }
    Ok(())
}

fn to_complex(m: &Matrix) -> DMatrix<Complex64> {
    DMatrix::from_fn(m.nrows(), m.ncols(), |i, j| {
        Complex64::new(m.get(i, j), 0.0)
    })
}

fn solve(a: &Matrix, q: &Matrix, kind: Kind) -> Result<Matrix, LinalgError> {
    let what = match kind {
        Kind::Continuous => "continuous Lyapunov equation",
        Kind::Discrete => "discrete Lyapunov equation",
    };
    check(a, q, what)?;
    let n = a.nrows();
    if n == 0 {
        return Ok(Matrix::zeros(0, 0));
    }
    // Deflate a subdiagonal entry below `tol (|h_ii| + |h_i+1,i+1|)`. LAPACK uses one ulp
    // plus a test on the neighbouring entries (Ahues-Tisseur) that nalgebra lacks; with one
    // ulp alone its QR can stall on clustered eigenvalues of non-normal matrices, so a few
    // ulps, then more, each perturbing A by at most that relative amount (backward stable).
    // LAPACK's iteration cap: 30 QR sweeps per eigenvalue.
    let Some(schur) = [4.0, 64.0]
        .iter()
        .find_map(|&k| to_complex(a).try_schur(k * f64::EPSILON, 30 * n.max(10)))
    else {
        return iterative(a, q, kind, what);
    };
    let (u, t) = schur.unpack();
    let qt = u.adjoint() * to_complex(q) * &u;
    let y = triangular_solve(&t, &qt, kind, what)?;
    let x = &u * y * u.adjoint();
    Ok(Matrix::from_fn(n, n, |i, j| {
        0.5 * (x[(i, j)].re + x[(j, i)].re)
    }))
}

/// Solve `T Y + Y T^* = -Qt` (continuous) or `Y = T Y T^* + Qt` (discrete) for upper
/// triangular `T`, column by column from the last: column `j` involves only columns `l > j`.
fn triangular_solve(
    t: &DMatrix<Complex64>,
    qt: &DMatrix<Complex64>,
    kind: Kind,
    what: &'static str,
) -> Result<DMatrix<Complex64>, LinalgError> {
    let n = t.nrows();
    let scale = t.iter().map(|z| z.norm()).fold(1.0_f64, f64::max);
    let tiny = f64::EPSILON * scale;
    let mut y = DMatrix::<Complex64>::zeros(n, n);
    let mut acc = vec![Complex64::new(0.0, 0.0); n];
    let mut rhs = vec![Complex64::new(0.0, 0.0); n];
    for j in (0..n).rev() {
        // acc = sum_{l > j} conj(T_jl) y_l
        acc.iter_mut().for_each(|z| *z = Complex64::new(0.0, 0.0));
        for l in j + 1..n {
            let c = t[(j, l)].conj();
            if c != Complex64::new(0.0, 0.0) {
                for (i, a) in acc.iter_mut().enumerate() {
                    *a += c * y[(i, l)];
                }
            }
        }
        let tjj = t[(j, j)].conj();
        match kind {
            // (T + conj(T_jj) I) y_j = -q_j - acc
            Kind::Continuous => {
                for i in 0..n {
                    rhs[i] = -qt[(i, j)] - acc[i];
                }
            }
            // (I - conj(T_jj) T) y_j = q_j + T acc
            Kind::Discrete => {
                for i in 0..n {
                    let mut s = qt[(i, j)];
                    for k in i..n {
                        s += t[(i, k)] * acc[k];
                    }
                    rhs[i] = s;
                }
            }
        }
        for i in (0..n).rev() {
            let (diag, mut s) = match kind {
                Kind::Continuous => (t[(i, i)] + tjj, rhs[i]),
                Kind::Discrete => (Complex64::new(1.0, 0.0) - tjj * t[(i, i)], rhs[i]),
            };
            for k in i + 1..n {
                let tik = match kind {
                    Kind::Continuous => t[(i, k)],
                    Kind::Discrete => -tjj * t[(i, k)],
                };
                s -= tik * y[(k, j)];
            }
            if diag.norm() <= tiny {
                return Err(LinalgError::Singular {
                    what,
                    detail: format!(
                        "eigenvalues {:.6} and {:.6} of A make it singular; A must be stable ({})",
                        t[(i, i)],
                        t[(j, j)],
                        match kind {
                            Kind::Continuous => "every eigenvalue with negative real part",
                            Kind::Discrete => "every eigenvalue inside the unit circle",
                        }
                    ),
                });
            }
            y[(i, j)] = s / diag;
        }
    }
    Ok(y)
}

/// `||A X + X A^T + Q||_F` (continuous) or `||A X A^T + Q - X||_F` (discrete).
fn residual(a: &Matrix, q: &Matrix, x: &Matrix, kind: Kind) -> f64 {
    match kind {
        Kind::Continuous => a
            .matmul(x)
            .add_scaled(&x.matmul_t(a), 1.0)
            .add_scaled(q, 1.0)
            .norm_fro(),
        Kind::Discrete => a.matmul(x).matmul_t(a).add_scaled(q, 1.0).sub(x).norm_fro(),
    }
}

/// `(A^-1, ln|det A|)` by LU with partial pivoting.
fn inverse_logdet(a: &Matrix, what: &'static str) -> Result<(Matrix, f64), LinalgError> {
    let n = a.nrows();
    let mut lu = a.as_slice().to_vec();
    let mut piv = vec![0; n];
    super::lu_in_place(&mut lu, n, &mut piv).map_err(|_| LinalgError::Singular {
        what,
        detail: "A is singular: an eigenvalue is 0, so A is not stable".into(),
    })?;
    let logdet = (0..n).map(|i| lu[i + i * n].abs().ln()).sum();
    let mut inv = Matrix::identity(n);
    for j in 0..n {
        super::lu_solve_in_place(&lu, n, &piv, &mut inv.as_mut_slice()[j * n..(j + 1) * n]);
    }
    Ok((inv, logdet))
}

/// The fallback solvers (see the module docs), checked by their residual.
fn iterative(
    a: &Matrix,
    q: &Matrix,
    kind: Kind,
    what: &'static str,
) -> Result<Matrix, LinalgError> {
    let n = a.nrows();
    let unstable = || LinalgError::Singular {
        what,
        detail: match kind {
            Kind::Continuous => "A must be stable (every eigenvalue with negative real part)",
            Kind::Discrete => "A must be stable (every eigenvalue inside the unit circle)",
        }
        .into(),
    };
    let mut x = q.clone();
    let mut ak = a.clone();
    let mut converged = false;
    for _ in 0..100 {
        match kind {
            // sign([[A, Q], [0, -A^T]]) = [[-I, 2X], [0, I]]: Newton on the blocks, scaled by
            // c = |det A_k|^(1/n) so the iteration converges in a few dozen steps at most.
            Kind::Continuous => {
                let (inv, logdet) = inverse_logdet(&ak, what)?;
                let c = (logdet / n as f64).exp();
                let next = ak.clone().scale(0.5 / c).add_scaled(&inv, 0.5 * c);
                let back = inv.matmul(&x).matmul_t(&inv);
                x = x.scale(0.5 / c).add_scaled(&back, 0.5 * c);
                let change = next.sub(&ak).norm_fro();
                ak = next;
                if change <= 1e-13 * ak.norm_fro() {
                    converged = true;
                    break;
                }
            }
            // X_{k+1} = X_k + A_k X_k A_k^T, A_{k+1} = A_k^2: X_k sums A^j Q A^jT, j < 2^k.
            Kind::Discrete => {
                let add = ak.matmul(&x).matmul_t(&ak);
                x = x.add_scaled(&add, 1.0);
                ak = ak.matmul(&ak);
                // A^(2^k) grows without bound for |lambda| >= 1 (well before overflow).
                if !(ak.max_abs() < 1e100 && x.max_abs() < 1e200) {
                    return Err(unstable());
                }
                if add.norm_fro() <= f64::EPSILON * x.norm_fro() {
                    converged = true;
                    break;
                }
            }
        }
    }
    if kind == Kind::Continuous {
        x = x.scale(0.5);
        // The limit of A_k is -I for a stable A (+I on unstable directions).
        if ak.add_scaled(&Matrix::identity(n), 1.0).max_abs() > 1e-6 {
            return Err(unstable());
        }
    }
    let x = Matrix::from_fn(n, n, |i, j| 0.5 * (x.get(i, j) + x.get(j, i)));
    let scale = a.norm_fro() * x.norm_fro() + q.norm_fro();
    let res = residual(a, q, &x, kind);
    // Not backward stable, so a looser acceptance than the Schur path's: sqrt(eps) relative.
    let accepted = scale.is_finite() && res <= f64::EPSILON.sqrt() * scale; // false for NaN
    if !converged || !accepted {
        return Err(LinalgError::NoConvergence { what });
    }
    Ok(x)
}
