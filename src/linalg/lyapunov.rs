//! Lyapunov equations by the Bartels–Stewart method on the complex Schur form (PO-2, PO-3 in
//! `theory/partial_observation.md`).
//!
//! Continuous: `A X + X A^T + Q = 0`; discrete (Stein): `X = A X A^T + Q`. `A` is `n x n`
//! real, `Q` is `n x n` real symmetric, and the solution `X` is returned symmetrized. The
//! Schur form `A = U T U^*` (nalgebra; `T` upper triangular, `U` unitary) is backward stable
//! also for the non-normal and defective matrices of feed-forward chains, where a solve through
//! eigenvectors would not be; each column of `U^* X U` is then one triangular solve, so the
//! cost is `O(n^3)` flops and `O(n^2)` memory.

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
    if n == 0 {
        return Ok(Matrix::zeros(0, 0));
    }
    let (u, t) = to_complex(a)
        .try_schur(f64::EPSILON, 1000 + 100 * n)
        .ok_or(LinalgError::NoConvergence { what })?
        .unpack();
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
