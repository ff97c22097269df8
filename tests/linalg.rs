//! `linalg` on its own (issue 14 item 16): the thin SVD reconstructs its matrix, orders the
//! singular values and has orthonormal factors; `singular_values` agrees with it; a matrix of
//! known singular values gets them back. Tolerances are backward-stable-SVD bounds: a small
//! multiple of `eps * max(m, n) * ||A||_2`.

use learndyn::linalg::{self, Matrix};
use learndyn::random::{gaussian_matrix, rng};
use proptest::prelude::*;

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
