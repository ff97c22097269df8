//! Dense linear algebra: the only module that touches faer or nalgebra.
//!
//! Matrices are column-major `f64` in a plain `Vec` ([`Matrix`]) or borrowed slices
//! ([`MatRef`], [`MatMut`]), so ODE states, parameter vectors and `.npy` files (Fortran order)
//! share one layout with no copies. faer does the dense work (GEMM, SVD, symmetric eigen, QR),
//! always sequentially: callers parallelise over independent runs instead, and faer's own
//! threading hurts at the sizes used here.
//!
//! Conventions (tested in `tests/linalg.rs`):
//! - singular values are nonnegative and in **nonincreasing** order;
//! - symmetric eigenvalues are in **nondecreasing** order;
//! - `random`-free: callers pass Gaussian matrices to [`orthonormal_from`] to get Haar-distributed
//!   orthogonal matrices.

use faer::linalg::matmul::matmul;
use faer::{Accum, Par, Side};
use std::sync::Once;

pub mod lyapunov;

/// Errors of decompositions.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LinalgError {
    /// An iterative decomposition did not converge (rare; usually NaN or inf in the input).
    #[error("{what} did not converge (is the matrix finite?)")]
    NoConvergence {
        /// Which decomposition.
        what: &'static str,
    },
    /// The equation has no unique solution (e.g. a Lyapunov equation whose matrix has a pair
    /// of eigenvalues with `lambda_i + conj(lambda_j) = 0`, continuous, or
    /// `lambda_i conj(lambda_j) = 1`, discrete): the process it describes is not stable.
    #[error("{what} has no unique solution: {detail}")]
    Singular {
        /// Which equation.
        what: &'static str,
        /// Why.
        detail: String,
    },
    /// Shapes do not fit.
    #[error("shape mismatch in {what}: {detail}")]
    Shape {
        /// Which operation.
        what: &'static str,
        /// The shapes involved.
        detail: String,
    },
}

/// An owned column-major matrix: entry `(i, j)` is `data[i + j * rows]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

/// A borrowed column-major matrix view.
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a> {
    rows: usize,
    cols: usize,
    data: &'a [f64],
}

/// A mutable borrowed column-major matrix view.
#[derive(Debug)]
pub struct MatMut<'a> {
    rows: usize,
    cols: usize,
    data: &'a mut [f64],
}

fn sequential() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| faer::set_global_parallelism(Par::Seq));
}

impl Matrix {
    /// `rows x cols` zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Matrix {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// The `n x n` identity.
    pub fn identity(n: usize) -> Self {
        let mut m = Matrix::zeros(n, n);
        for i in 0..n {
            m.data[i + i * n] = 1.0;
        }
        m
    }

    /// Entry `(i, j)` is `f(i, j)`.
    pub fn from_fn(rows: usize, cols: usize, mut f: impl FnMut(usize, usize) -> f64) -> Self {
        let mut data = Vec::with_capacity(rows * cols);
        for j in 0..cols {
            for i in 0..rows {
                data.push(f(i, j));
            }
        }
        Matrix { rows, cols, data }
    }

    /// Wrap column-major data. Errors if `data.len() != rows * cols`.
    pub fn from_col_major(rows: usize, cols: usize, data: Vec<f64>) -> Result<Self, LinalgError> {
        if data.len() != rows * cols {
            return Err(LinalgError::Shape {
                what: "from_col_major",
                detail: format!("{} values for a {rows}x{cols} matrix", data.len()),
            });
        }
        Ok(Matrix { rows, cols, data })
    }

    /// Square diagonal matrix with `d` on the diagonal.
    pub fn from_diag(d: &[f64]) -> Self {
        Matrix::from_fn(d.len(), d.len(), |i, j| if i == j { d[i] } else { 0.0 })
    }

    /// Number of rows.
    pub fn nrows(&self) -> usize {
        self.rows
    }
    /// Number of columns.
    pub fn ncols(&self) -> usize {
        self.cols
    }
    /// Column-major data.
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }
    /// Mutable column-major data.
    pub fn as_mut_slice(&mut self) -> &mut [f64] {
        &mut self.data
    }
    /// Consume into column-major data.
    pub fn into_vec(self) -> Vec<f64> {
        self.data
    }
    /// Entry `(i, j)`.
    #[inline]
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[i + j * self.rows]
    }
    /// Set entry `(i, j)`.
    #[inline]
    pub fn set(&mut self, i: usize, j: usize, v: f64) {
        self.data[i + j * self.rows] = v;
    }
    /// Borrow as a view.
    pub fn view(&self) -> MatRef<'_> {
        MatRef {
            rows: self.rows,
            cols: self.cols,
            data: &self.data,
        }
    }
    /// Borrow as a mutable view.
    pub fn view_mut(&mut self) -> MatMut<'_> {
        MatMut {
            rows: self.rows,
            cols: self.cols,
            data: &mut self.data,
        }
    }
    /// The transpose (a copy).
    pub fn transpose(&self) -> Matrix {
        Matrix::from_fn(self.cols, self.rows, |i, j| self.get(j, i))
    }
    /// Columns `0..k` (a copy).
    pub fn first_cols(&self, k: usize) -> Matrix {
        Matrix {
            rows: self.rows,
            cols: k,
            data: self.data[..self.rows * k].to_vec(),
        }
    }
    /// `self * other` (allocating).
    pub fn matmul(&self, other: &Matrix) -> Matrix {
        let mut out = Matrix::zeros(self.rows, other.cols);
        gemm(
            out.view_mut(),
            self.view(),
            false,
            other.view(),
            false,
            1.0,
            false,
        );
        out
    }
    /// `self^T * other` (allocating).
    pub fn t_matmul(&self, other: &Matrix) -> Matrix {
        let mut out = Matrix::zeros(self.cols, other.cols);
        gemm(
            out.view_mut(),
            self.view(),
            true,
            other.view(),
            false,
            1.0,
            false,
        );
        out
    }
    /// `self * other^T` (allocating).
    pub fn matmul_t(&self, other: &Matrix) -> Matrix {
        let mut out = Matrix::zeros(self.rows, other.rows);
        gemm(
            out.view_mut(),
            self.view(),
            false,
            other.view(),
            true,
            1.0,
            false,
        );
        out
    }
    /// Elementwise `self - other`.
    pub fn sub(&self, other: &Matrix) -> Matrix {
        let mut m = self.clone();
        for (a, b) in m.data.iter_mut().zip(&other.data) {
            *a -= b;
        }
        m
    }
    /// `self + s * other` (elementwise).
    pub fn add_scaled(mut self, other: &Matrix, s: f64) -> Matrix {
        for (a, b) in self.data.iter_mut().zip(&other.data) {
            *a += s * b;
        }
        self
    }
    /// Multiply every entry by `s`.
    pub fn scale(mut self, s: f64) -> Matrix {
        self.data.iter_mut().for_each(|x| *x *= s);
        self
    }
    /// Frobenius norm.
    pub fn norm_fro(&self) -> f64 {
        self.view().norm_fro()
    }
    /// Trace (sum of the diagonal of the leading square block).
    pub fn trace(&self) -> f64 {
        (0..self.rows.min(self.cols)).map(|i| self.get(i, i)).sum()
    }
    /// Largest absolute entry.
    pub fn max_abs(&self) -> f64 {
        self.data.iter().fold(0.0, |m, x| m.max(x.abs()))
    }
}

impl<'a> MatRef<'a> {
    /// View `rows x cols` column-major data. Errors if the length does not match.
    pub fn new(rows: usize, cols: usize, data: &'a [f64]) -> Result<Self, LinalgError> {
        if data.len() != rows * cols {
            return Err(LinalgError::Shape {
                what: "MatRef::new",
                detail: format!("{} values for a {rows}x{cols} view", data.len()),
            });
        }
        Ok(MatRef { rows, cols, data })
    }
    /// Number of rows.
    pub fn nrows(&self) -> usize {
        self.rows
    }
    /// Number of columns.
    pub fn ncols(&self) -> usize {
        self.cols
    }
    /// Entry `(i, j)`.
    #[inline]
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[i + j * self.rows]
    }
    /// Column-major data.
    pub fn as_slice(&self) -> &'a [f64] {
        self.data
    }
    /// Copy into an owned matrix.
    pub fn to_owned(&self) -> Matrix {
        Matrix {
            rows: self.rows,
            cols: self.cols,
            data: self.data.to_vec(),
        }
    }
    /// Frobenius norm.
    pub fn norm_fro(&self) -> f64 {
        self.data.iter().map(|x| x * x).sum::<f64>().sqrt()
    }
    fn faer(&self) -> faer::MatRef<'a, f64> {
        faer::MatRef::from_column_major_slice(self.data, self.rows, self.cols)
    }
}

impl<'a> MatMut<'a> {
    /// View `rows x cols` mutable column-major data. Errors if the length does not match.
    pub fn new(rows: usize, cols: usize, data: &'a mut [f64]) -> Result<Self, LinalgError> {
        if data.len() != rows * cols {
            return Err(LinalgError::Shape {
                what: "MatMut::new",
                detail: format!("{} values for a {rows}x{cols} view", data.len()),
            });
        }
        Ok(MatMut { rows, cols, data })
    }
    /// Number of rows.
    pub fn nrows(&self) -> usize {
        self.rows
    }
    /// Number of columns.
    pub fn ncols(&self) -> usize {
        self.cols
    }
    /// Mutable column-major data.
    pub fn as_mut_slice(&mut self) -> &mut [f64] {
        self.data
    }
    /// Reborrow as an immutable view.
    pub fn as_ref(&self) -> MatRef<'_> {
        MatRef {
            rows: self.rows,
            cols: self.cols,
            data: self.data,
        }
    }
    fn faer(&mut self) -> faer::MatMut<'_, f64> {
        faer::MatMut::from_column_major_slice_mut(self.data, self.rows, self.cols)
    }
}

/// `dst = alpha * op(a) * op(b)` (or `dst += ...` when `accumulate`), where `op(x)` is `x^T`
/// if the matching flag is set. Sequential faer GEMM, no allocation.
///
/// # Panics
/// If the shapes do not conform (a programming error, never user input).
#[track_caller]
pub fn gemm(
    mut dst: MatMut<'_>,
    a: MatRef<'_>,
    trans_a: bool,
    b: MatRef<'_>,
    trans_b: bool,
    alpha: f64,
    accumulate: bool,
) {
    let fa = if trans_a {
        a.faer().transpose()
    } else {
        a.faer()
    };
    let fb = if trans_b {
        b.faer().transpose()
    } else {
        b.faer()
    };
    assert!(
        fa.nrows() == dst.rows && fb.ncols() == dst.cols && fa.ncols() == fb.nrows(),
        "gemm shape mismatch: ({}x{}) * ({}x{}) -> ({}x{})",
        fa.nrows(),
        fa.ncols(),
        fb.nrows(),
        fb.ncols(),
        dst.rows,
        dst.cols
    );
    let accum = if accumulate {
        Accum::Add
    } else {
        Accum::Replace
    };
    matmul(dst.faer(), accum, fa, fb, alpha, Par::Seq);
    clear_upper_simd_state();
}

/// Clear the upper halves of the vector registers after faer's AVX-512 kernels, which return
/// with them dirty. Without this, every later call into code with legacy (non-VEX) SSE
/// encoding, such as glibc's `exp`/`tanh` wrappers, pays the SSE/AVX transition penalty:
/// measured 170 ns instead of 8 ns per `exp` after a GEMM (the GRU fit's gates and Poisson
/// readout spent 87% of their time there).
#[inline]
pub fn clear_upper_simd_state() {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: `vzeroupper` exists whenever AVX does (checked above) and only zeroes the
            // upper register halves, which hold no live values between calls.
            unsafe { std::arch::x86_64::_mm256_zeroupper() };
        }
    }
}

/// Thin singular value decomposition `a = u diag(s) v^T` with `k = min(rows, cols)`:
/// `u` is `rows x k`, `s` has length `k` (nonnegative, nonincreasing), `v` is `cols x k`.
#[derive(Debug, Clone)]
pub struct Svd {
    /// Left singular vectors as columns (`rows x k`).
    pub u: Matrix,
    /// Singular values, nonincreasing.
    pub s: Vec<f64>,
    /// Right singular vectors as columns (`cols x k`).
    pub v: Matrix,
}

fn copy_faer(m: faer::MatRef<'_, f64>) -> Matrix {
    Matrix::from_fn(m.nrows(), m.ncols(), |i, j| m[(i, j)])
}

/// Thin SVD, singular values sorted nonincreasing (ties keep faer's order).
pub fn svd(a: MatRef<'_>) -> Result<Svd, LinalgError> {
    sequential();
    let k = a.rows.min(a.cols);
    if k == 0 {
        return Ok(Svd {
            u: Matrix::zeros(a.rows, 0),
            s: vec![],
            v: Matrix::zeros(a.cols, 0),
        });
    }
    let f = a
        .faer()
        .thin_svd()
        .map_err(|_| LinalgError::NoConvergence { what: "SVD" })?;
    let s: Vec<f64> = (0..k).map(|i| f.S()[i]).collect();
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&i, &j| s[j].total_cmp(&s[i]));
    let uf = f.U();
    let vf = f.V();
    let u = Matrix::from_fn(a.rows, k, |i, j| uf[(i, order[j])]);
    let v = Matrix::from_fn(a.cols, k, |i, j| vf[(i, order[j])]);
    let s = order.iter().map(|&i| s[i]).collect();
    Ok(Svd { u, s, v })
}

/// Singular values only, nonnegative and nonincreasing, length `min(rows, cols)`.
pub fn singular_values(a: MatRef<'_>) -> Result<Vec<f64>, LinalgError> {
    sequential();
    if a.rows.min(a.cols) == 0 {
        return Ok(vec![]);
    }
    let mut s = a
        .faer()
        .singular_values()
        .map_err(|_| LinalgError::NoConvergence { what: "SVD" })?;
    s.sort_by(|x, y| y.total_cmp(x));
    Ok(s)
}

/// Symmetric eigendecomposition `a = q diag(w) q^T` of the symmetric part of square `a`
/// (only the lower triangle is read). Eigenvalues `w` are nondecreasing; `q` has the
/// eigenvectors as columns.
pub fn sym_eig(a: MatRef<'_>) -> Result<(Vec<f64>, Matrix), LinalgError> {
    sequential();
    if a.rows != a.cols {
        return Err(LinalgError::Shape {
            what: "sym_eig",
            detail: format!("{}x{} is not square", a.rows, a.cols),
        });
    }
    if a.rows == 0 {
        return Ok((vec![], Matrix::zeros(0, 0)));
    }
    let e = a
        .faer()
        .self_adjoint_eigen(Side::Lower)
        .map_err(|_| LinalgError::NoConvergence {
            what: "symmetric eigendecomposition",
        })?;
    let n = a.rows;
    let w: Vec<f64> = (0..n).map(|i| e.S()[i]).collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| w[i].total_cmp(&w[j]));
    let uf = e.U();
    let q = Matrix::from_fn(n, n, |i, j| uf[(i, order[j])]);
    Ok((order.iter().map(|&i| w[i]).collect(), q))
}

/// `f(a)` for symmetric `a`: `q diag(f(w)) q^T` from [`sym_eig`].
pub fn sym_fn(a: MatRef<'_>, f: impl Fn(f64) -> f64) -> Result<Matrix, LinalgError> {
    let (w, q) = sym_eig(a)?;
    let n = w.len();
    let qf = Matrix::from_fn(n, n, |i, j| q.get(i, j) * f(w[j]));
    Ok(qf.matmul_t(&q))
}

/// Orthonormalize the columns of `a` (`rows >= cols`) by Householder QR with the sign of each
/// column fixed so that `R` has a nonnegative diagonal. For `a` with i.i.d. standard Gaussian
/// entries the result is Haar-distributed (Mezzadri 2007).
pub fn orthonormal_from(a: &Matrix) -> Result<Matrix, LinalgError> {
    sequential();
    if a.rows < a.cols {
        return Err(LinalgError::Shape {
            what: "orthonormal_from",
            detail: format!("need rows >= cols, got {}x{}", a.rows, a.cols),
        });
    }
    let qr = a.view().faer().qr();
    let q = qr.compute_thin_Q();
    let r = qr.thin_R();
    let mut out = copy_faer(q.as_ref());
    for j in 0..a.cols {
        if r[(j, j)] < 0.0 {
            for i in 0..a.rows {
                let v = out.get(i, j);
                out.set(i, j, -v);
            }
        }
    }
    Ok(out)
}

/// Moore-Penrose pseudo-inverse of a symmetric positive semidefinite matrix: eigenvalues
/// below `rtol * max eigenvalue` are treated as zero.
pub fn psd_pinv(a: MatRef<'_>, rtol: f64) -> Result<Matrix, LinalgError> {
    let (w, _) = sym_eig(a)?;
    let wmax = w.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
    let cut = rtol * wmax;
    sym_fn(a, |x| if x > cut { 1.0 / x } else { 0.0 })
}

/// Matrix exponential `exp(a)` of a square matrix (nalgebra's Pade scaling-and-squaring).
/// Used as an independent oracle for the integrators and linear dynamics.
pub fn expm(a: &Matrix) -> Result<Matrix, LinalgError> {
    if a.rows != a.cols {
        return Err(LinalgError::Shape {
            what: "expm",
            detail: format!("{}x{} is not square", a.rows, a.cols),
        });
    }
    let m = nalgebra::DMatrix::from_column_slice(a.rows, a.cols, &a.data);
    let e = m.exp();
    Ok(Matrix {
        rows: a.rows,
        cols: a.cols,
        data: e.as_slice().to_vec(),
    })
}

/// In-place LU factorization with partial pivoting of the `n x n` column-major matrix `a`
/// (`P a = L U`, unit-diagonal `L` below, `U` on and above the diagonal); `piv[k]` is the row
/// swapped with row `k` at step `k`. No allocation: meant for the small dense systems of
/// implicit ODE steps. Errors if a pivot is zero or not finite (singular matrix), or if `a` does
/// not hold `n * n` entries or `piv` fewer than `n` (a real check, not a debug assertion: the
/// release build runs the tests too).
pub fn lu_in_place(a: &mut [f64], n: usize, piv: &mut [usize]) -> Result<(), LinalgError> {
    if a.len() != n * n || piv.len() < n {
        return Err(LinalgError::Shape {
            what: "LU factorization",
            detail: format!(
                "{} entries for a {n}x{n} matrix and {} pivots",
                a.len(),
                piv.len()
            ),
        });
    }
    for k in 0..n {
        let (mut p, mut best) = (k, a[k + k * n].abs());
        for i in k + 1..n {
            let v = a[i + k * n].abs();
            if v > best {
                p = i;
                best = v;
            }
        }
        piv[k] = p;
        if best == 0.0 || !best.is_finite() {
            return Err(LinalgError::NoConvergence {
                what: "LU factorization (singular matrix)",
            });
        }
        if p != k {
            for j in 0..n {
                a.swap(k + j * n, p + j * n);
            }
        }
        let inv = 1.0 / a[k + k * n];
        for i in k + 1..n {
            a[i + k * n] *= inv;
        }
        for j in k + 1..n {
            let akj = a[k + j * n];
            if akj != 0.0 {
                for i in k + 1..n {
                    a[i + j * n] -= a[i + k * n] * akj;
                }
            }
        }
    }
    Ok(())
}

/// Solve `A x = b` in place (`b` becomes `x`) with the factors from [`lu_in_place`].
pub fn lu_solve_in_place(lu: &[f64], n: usize, piv: &[usize], b: &mut [f64]) {
    for (k, &p) in piv.iter().enumerate().take(n) {
        b.swap(k, p);
    }
    for j in 0..n {
        let bj = b[j];
        if bj != 0.0 {
            for i in j + 1..n {
                b[i] -= lu[i + j * n] * bj;
            }
        }
    }
    for j in (0..n).rev() {
        b[j] /= lu[j + j * n];
        let bj = b[j];
        if bj != 0.0 {
            for i in 0..j {
                b[i] -= lu[i + j * n] * bj;
            }
        }
    }
}

/// Solve `A X = B` for square `A` (`n x n`) and `B` (`n x m`) by LU with partial pivoting.
pub fn solve(a: &Matrix, b: &Matrix) -> Result<Matrix, LinalgError> {
    let n = a.rows;
    if a.cols != n || b.rows != n {
        return Err(LinalgError::Shape {
            what: "solve",
            detail: format!("A is {}x{}, B is {}x{}", a.rows, a.cols, b.rows, b.cols),
        });
    }
    let mut lu = a.data.clone();
    let mut piv = vec![0usize; n];
    lu_in_place(&mut lu, n, &mut piv)?;
    let mut x = b.clone();
    for j in 0..b.cols {
        lu_solve_in_place(&lu, n, &piv, &mut x.data[j * n..(j + 1) * n]);
    }
    Ok(x)
}

// Nonsymmetric eigen-decomposition (fixed-point analysis, FP-3).
use num_complex::Complex64;

/// Ordering key of [`eig`]: modulus descending, then real part descending, then imaginary part
/// descending, so a complex-conjugate pair is adjacent with `+im` first and the order is total
/// (NaN-free input assumed; `total_cmp` keeps it deterministic anyway).
fn eig_order(a: &Complex64, b: &Complex64) -> std::cmp::Ordering {
    b.norm()
        .total_cmp(&a.norm())
        .then(b.re.total_cmp(&a.re))
        .then(b.im.total_cmp(&a.im))
}

fn check_square_finite(a: &Matrix, what: &'static str) -> Result<(), LinalgError> {
    if a.rows != a.cols {
        return Err(LinalgError::Shape {
            what,
            detail: format!("{}x{} is not square", a.rows, a.cols),
        });
    }
    if a.data.iter().any(|x| !x.is_finite()) {
        return Err(LinalgError::NoConvergence { what });
    }
    Ok(())
}

/// Eigenvalues of a square real (generally nonsymmetric) matrix `a` (`n x n`), length `n`,
/// sorted by **modulus descending**, then real part descending, then imaginary part descending
/// (a complex-conjugate pair is adjacent, `+im` first). faer's real Schur (Francis QR)
/// algorithm; no eigenvectors are formed, so this is cheaper than [`eig`]. Errors on a
/// non-square or non-finite matrix, or if the QR iteration does not converge.
pub fn eigenvalues(a: &Matrix) -> Result<Vec<Complex64>, LinalgError> {
    sequential();
    check_square_finite(a, "eigenvalues")?;
    if a.rows == 0 {
        return Ok(vec![]);
    }
    let mut w = a
        .view()
        .faer()
        .eigenvalues()
        .map_err(|_| LinalgError::NoConvergence {
            what: "eigenvalues",
        })?;
    w.sort_by(eig_order);
    Ok(w)
}

/// Eigen-decomposition `a v_k = lambda_k v_k` of a square real (generally nonsymmetric) matrix
/// `a` (`n x n`). Returns `(values, vectors)`: `values` (length `n`) in the order of
/// [`eigenvalues`] (modulus descending, then real part, then imaginary part descending), and
/// `vectors[k]` (length `n`) the right eigenvector of `values[k]`, scaled to unit 2-norm (its
/// complex phase is arbitrary; for a real eigenvalue it is real). For a defective matrix the
/// vectors of a repeated eigenvalue are (nearly) parallel: this is a diagonalization only when
/// `a` is diagonalizable. Errors on a non-square or non-finite matrix, or if the QR iteration
/// does not converge.
pub fn eig(a: &Matrix) -> Result<(Vec<Complex64>, Vec<Vec<Complex64>>), LinalgError> {
    sequential();
    check_square_finite(a, "eigendecomposition")?;
    let n = a.rows;
    if n == 0 {
        return Ok((vec![], vec![]));
    }
    let e = a
        .view()
        .faer()
        .eigen()
        .map_err(|_| LinalgError::NoConvergence {
            what: "eigendecomposition",
        })?;
    let s = e.S();
    let u = e.U();
    let values: Vec<Complex64> = (0..n).map(|k| s[k]).collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| eig_order(&values[i], &values[j]));
    let vectors = order
        .iter()
        .map(|&k| {
            let v: Vec<Complex64> = (0..n).map(|i| u[(i, k)]).collect();
            let norm = v.iter().map(|z| z.norm_sqr()).sum::<f64>().sqrt();
            if norm > 0.0 {
                v.into_iter().map(|z| z / norm).collect()
            } else {
                v
            }
        })
        .collect();
    Ok((order.iter().map(|&k| values[k]).collect(), vectors))
}
