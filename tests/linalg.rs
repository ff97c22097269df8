//! `linalg` on its own (issue 14 item 16): the thin SVD reconstructs its matrix, orders the
//! singular values and has orthonormal factors; `singular_values` agrees with it; a matrix of
//! known singular values gets them back. The nonsymmetric eigen-decomposition (FP-3): rotation
//! blocks, triangular matrices, trace and determinant of random matrices, its order. Tolerances are backward-stable-SVD bounds: a small
//! multiple of `eps * max(m, n) * ||A||_2`.

use learndyn::linalg::{self, Matrix};
use learndyn::random::{gaussian_matrix, rng};
use num_complex::Complex64;
use proptest::prelude::*;
use rand::RngExt;

const EPS: f64 = f64::EPSILON;

fn max_abs(m: &Matrix) -> f64 {
    m.as_slice().iter().fold(0.0, |a, x| a.max(x.abs()))
}

/// `||Q^T Q - I||_max` for a matrix with orthonormal columns.
fn orthonormality_error(q: &Matrix) -> f64 {
    max_abs(&q.t_matmul(q).sub(&Matrix::identity(q.ncols())))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// `A = U diag(s) V^T`, `s` nonincreasing and >= 0, `U`, `V` orthonormal, for random
    /// rectangular `A` of either shape.
    #[test]
    fn svd_reconstructs_orders_and_is_orthonormal(
        rows in 1usize..12, cols in 1usize..12, seed in 0u64..1000, scale in -3i32..4,
    ) {
        let a = gaussian_matrix(&mut rng(seed, 0), rows, cols).scale(10f64.powi(scale));
        let d = linalg::svd(a.view()).unwrap();
        let k = rows.min(cols);
        prop_assert_eq!(d.s.len(), k);
        prop_assert_eq!((d.u.nrows(), d.u.ncols(), d.v.nrows(), d.v.ncols()), (rows, k, cols, k));
        prop_assert!(d.s.iter().all(|&x| x >= 0.0));
        prop_assert!(d.s.windows(2).all(|w| w[0] >= w[1]), "{:?}", d.s);
        let norm = d.s[0];
        let n = rows.max(cols) as f64;
        let us = Matrix::from_fn(rows, k, |i, j| d.u.get(i, j) * d.s[j]);
        let err = max_abs(&us.matmul_t(&d.v).sub(&a));
        prop_assert!(err <= 16.0 * EPS * n * norm, "reconstruction {err:e} vs ||A|| {norm:e}");
        prop_assert!(orthonormality_error(&d.u) <= 16.0 * EPS * n);
        prop_assert!(orthonormality_error(&d.v) <= 16.0 * EPS * n);
        let s = linalg::singular_values(a.view()).unwrap();
        for (x, y) in s.iter().zip(&d.s) {
            prop_assert!((x - y).abs() <= 16.0 * EPS * n * norm);
        }
    }
}

/// `Q1 diag(s) Q2^T` with random orthogonal `Q1`, `Q2` and chosen `s` (one repeated, one
/// zero) gets `s` back, in nonincreasing order, to `eps * n * s_max`.
#[test]
fn svd_recovers_known_singular_values() {
    let n = 7;
    let want = [5.0, 3.0, 3.0, 1.0, 1e-3, 1e-9, 0.0];
    let q1 = linalg::orthonormal_from(&gaussian_matrix(&mut rng(1, 0), n, n)).unwrap();
    let q2 = linalg::orthonormal_from(&gaussian_matrix(&mut rng(2, 0), n, n)).unwrap();
    // Shuffled on purpose: the SVD must sort them.
    let order = [3, 0, 6, 1, 5, 2, 4];
    let qs = Matrix::from_fn(n, n, |i, j| q1.get(i, j) * want[order[j]]);
    let a = qs.matmul_t(&q2);
    let d = linalg::svd(a.view()).unwrap();
    for (got, w) in d.s.iter().zip(want) {
        assert!(
            (got - w).abs() <= 16.0 * EPS * n as f64 * want[0],
            "{:?} vs {want:?}",
            d.s
        );
    }
}

/// An empty dimension gives an empty decomposition, not an error.
#[test]
fn svd_of_an_empty_matrix_is_empty() {
    let d = linalg::svd(Matrix::zeros(3, 0).view()).unwrap();
    assert!(d.s.is_empty());
    assert_eq!((d.u.nrows(), d.u.ncols(), d.v.nrows()), (3, 0, 0));
}

/// LAPACK-style backward error of a dense eigen-solver: the computed eigenpairs are exact for
/// `A + E` with `||E|| <= p(n) eps ||A||`; we take the modest `p(n) = 10 n`.
fn backward(a: &Matrix) -> f64 {
    10.0 * a.nrows() as f64 * EPS * a.norm_fro()
}

/// Eigenvalue condition numbers `kappa_i = ||l_i|| ||r_i|| / |l_i^T r_i|` (Wilkinson), from the
/// right eigenvectors of `A` and of `A^T` (the left ones). Needs distinct moduli so both sorts
/// agree.
fn eig_conditions(a: &Matrix) -> Vec<f64> {
    let (w, r) = linalg::eig(a).unwrap();
    let (wt, l) = linalg::eig(&a.transpose()).unwrap();
    w.iter()
        .zip(&wt)
        .zip(r.iter().zip(&l))
        .map(|((x, y), (ri, li))| {
            assert!((x - y).norm() <= 1e-8 * (1.0 + x.norm()), "{x} vs {y}");
            // l^T r (no conjugation: l is a right eigenvector of A^T).
            let dot: Complex64 = li.iter().zip(ri).map(|(p, q)| p * q).sum();
            1.0 / dot.norm()
        })
        .collect()
}

fn assert_eigvecs(a: &Matrix, w: &[Complex64], v: &[Vec<Complex64>]) {
    let n = a.nrows();
    let tol = backward(a);
    for (lam, vk) in w.iter().zip(v) {
        let norm: f64 = vk.iter().map(|z| z.norm_sqr()).sum::<f64>().sqrt();
        assert!((norm - 1.0).abs() <= 4.0 * n as f64 * EPS, "norm {norm}");
        let res: f64 = (0..n)
            .map(|i| {
                let av: Complex64 = (0..n).map(|j| vk[j] * a.get(i, j)).sum();
                (av - lam * vk[i]).norm_sqr()
            })
            .sum::<f64>()
            .sqrt();
        assert!(res <= tol, "||A v - lambda v|| = {res:e} > {tol:e}");
    }
}

/// Checks FP-3: the eigenvalues (`linalg::eig`) and their documented order.
/// Rotation-scaling blocks `r [[cos t, -sin t], [sin t, cos t]]` have eigenvalues
/// `r e^{+-i t}`; a normal matrix, so every eigenvalue has condition 1 and the error is at most
/// the backward error. Order: modulus descending, `+im` first.
#[test]
fn eig_rotation_blocks_give_conjugate_pairs() {
    let blocks = [(1.5, 0.3), (0.7, 2.0)];
    let mut a = Matrix::zeros(5, 5);
    for (b, &(r, t)) in blocks.iter().enumerate() {
        let k = 2 * b;
        a.set(k, k, r * f64::cos(t));
        a.set(k, k + 1, -r * f64::sin(t));
        a.set(k + 1, k, r * f64::sin(t));
        a.set(k + 1, k + 1, r * f64::cos(t));
    }
    a.set(4, 4, -1.0);
    let want = [
        Complex64::from_polar(1.5, 0.3),
        Complex64::from_polar(1.5, -0.3),
        Complex64::new(-1.0, 0.0),
        Complex64::from_polar(0.7, 2.0),
        Complex64::from_polar(0.7, -2.0),
    ];
    let (w, v) = linalg::eig(&a).unwrap();
    let w2 = linalg::eigenvalues(&a).unwrap();
    let tol = backward(&a);
    for ((got, got2), want) in w.iter().zip(&w2).zip(&want) {
        assert!((got - want).norm() <= tol, "{got} vs {want} (tol {tol:e})");
        assert!((got2 - want).norm() <= tol, "{got2} vs {want}");
    }
    assert_eigvecs(&a, &w, &v);
}

/// Checks FP-3: the eigenvalues from `linalg::eig` of non-normal matrices.
/// Triangular matrices: the eigenvalues are the diagonal. The matrix is not normal, so the
/// tolerance is `kappa_i * backward` with the measured condition numbers.
#[test]
fn eig_triangular_has_its_diagonal() {
    let diag = [3.0, -2.0, 1.0, 0.5, -0.25, 0.1];
    let n = diag.len();
    let mut r = rng(7, 1);
    let a = Matrix::from_fn(n, n, |i, j| match i.cmp(&j) {
        std::cmp::Ordering::Equal => diag[i],
        std::cmp::Ordering::Less => r.random_range(-1.0..1.0),
        std::cmp::Ordering::Greater => 0.0,
    });
    let (w, v) = linalg::eig(&a).unwrap();
    let kappa = eig_conditions(&a);
    // `diag` is already in modulus-descending order.
    for ((got, &want), k) in w.iter().zip(&diag).zip(&kappa) {
        let tol = k * backward(&a);
        assert!(
            (got - Complex64::new(want, 0.0)).norm() <= tol,
            "{got} vs {want}, kappa {k:.2}, tol {tol:e}"
        );
    }
    assert_eigvecs(&a, &w, &v);
    // A lower-triangular one too (the transpose).
    let w_t = linalg::eigenvalues(&a.transpose()).unwrap();
    for ((got, &want), k) in w_t.iter().zip(&diag).zip(&kappa) {
        assert!((got - Complex64::new(want, 0.0)).norm() <= k * backward(&a));
    }
}

/// `det(A)` from an LU factorization: product of the pivots, sign from the row swaps.
fn det_lu(a: &Matrix) -> f64 {
    let n = a.nrows();
    let mut lu = a.as_slice().to_vec();
    let mut piv = vec![0; n];
    linalg::lu_in_place(&mut lu, n, &mut piv).unwrap();
    let mut d = 1.0;
    for (k, &p) in piv.iter().enumerate() {
        d *= lu[k + k * n];
        if p != k {
            d = -d;
        }
    }
    d
}

/// Checks FP-3: eigenvalues and eigenvectors of random matrices (`linalg::eig`).
/// Random Gaussian matrices: `sum lambda = tr A` and `prod lambda = det A` (by LU), the
/// imaginary parts cancel in conjugate pairs, moduli are nonincreasing, and `A v = lambda v`.
/// First-order perturbation: `|d sum| <= sum kappa_i ||E||`, `|d prod / prod| <=
/// sum kappa_i ||E|| / |lambda_i|` (plus LU's own `n eps` relative error on det).
#[test]
fn eig_random_matrix_trace_and_determinant() {
    for seed in 0..6u64 {
        let n = 4 + seed as usize;
        let a = gaussian_matrix(&mut rng(seed, 3), n, n);
        let (w, v) = linalg::eig(&a).unwrap();
        assert_eq!(w.len(), n);
        for p in w.windows(2) {
            assert!(p[0].norm() >= p[1].norm(), "order {p:?}");
        }
        let kappa = eig_conditions(&a);
        let e = backward(&a);
        let sum: Complex64 = w.iter().sum();
        let tol_tr: f64 = kappa.iter().map(|k| k * e).sum();
        assert!(
            (sum.re - a.trace()).abs() <= tol_tr,
            "trace {sum} vs {}",
            a.trace()
        );
        assert!(
            sum.im.abs() <= tol_tr,
            "imaginary parts do not cancel: {sum}"
        );
        let prod: Complex64 = w.iter().product();
        let det = det_lu(&a);
        let tol_det: f64 = kappa
            .iter()
            .zip(&w)
            .map(|(k, l)| k * e / l.norm())
            .sum::<f64>()
            + 4.0 * n as f64 * EPS;
        assert!(
            (prod - det).norm() <= tol_det * det.abs(),
            "seed {seed}: prod {prod} vs det {det} (rel tol {tol_det:e})"
        );
        assert_eigvecs(&a, &w, &v);
    }
}
