//! Dynamical similarity without alignment (M7, Ostrow et al. 2023; attractors.md §3.1),
//! eigenvalue ("wasserstein") score: the linear operator of a delay embedding (HAVOK / Hankel
//! DMD) of each system's trajectories, then the optimal transport between the two operators'
//! eigenvalues ([`super::matching::eigenvalue_wasserstein`]).
//!
//! learndyn's implementation (not the `DSA` package): per trial, rows `[x_t, x_{t+1}, ...,
//! x_{t+d-1}]` (`d = n_delays`, delay interval 1) are stacked over trials and centred; the
//! top-`rank` right singular vectors `W` give coordinates `c_t = h_t W`; `A` is the least-squares
//! map `c_{t+1} ≈ A c_t + b` within trials (ridge 0). Eigenvalues of `A` are those of the discrete
//! operator (similarity-invariant, so scaling the coordinates by the singular values, as the
//! DSA package does, changes nothing). When `rank` is the full embedding rank the eigenvalues are
//! invariant under any invertible affine map of the states.

use crate::error::{Error, Result};
use crate::linalg::{self, Matrix};
use num_complex::Complex64;

/// The trials projected on their top `components` principal axes (pooled over trials) and
/// scaled to unit variance per axis: any invertible affine map of the states changes the
/// result only by an orthogonal rotation (whitening is unique up to one), so a truncated-rank
/// embedding of it has the same operator eigenvalues. Axes with zero variance are dropped.
pub fn whitened(trials: &[Matrix], components: usize) -> Result<Vec<Matrix>> {
    let n = trials.first().map_or(0, |t| t.ncols());
    let total: usize = trials.iter().map(|t| t.nrows()).sum();
    let mut all = Matrix::zeros(total, n);
    let mut r = 0;
    for t in trials {
        for s in 0..t.nrows() {
            for j in 0..n {
                all.set(r, j, t.get(s, j));
            }
            r += 1;
        }
    }
    let mean: Vec<f64> = (0..n)
        .map(|j| (0..total).map(|i| all.get(i, j)).sum::<f64>() / total as f64)
        .collect();
    for i in 0..total {
        for (j, m) in mean.iter().enumerate() {
            all.set(i, j, all.get(i, j) - m);
        }
    }
    let svd = linalg::svd(all.view())?;
    let smax = svd.s.first().copied().unwrap_or(0.0);
    let keep = svd
        .s
        .iter()
        .take(components)
        .filter(|&&s| s > total.max(n) as f64 * f64::EPSILON * smax)
        .count();
    // Unit variance: coordinates (x - mean) v_k / (s_k / sqrt(total)).
    let scale: Vec<f64> = svd.s[..keep]
        .iter()
        .map(|s| (total as f64).sqrt() / s)
        .collect();
    Ok(trials
        .iter()
        .map(|t| {
            Matrix::from_fn(t.nrows(), keep, |s, k| {
                (0..n)
                    .map(|j| (t.get(s, j) - mean[j]) * svd.v.get(j, k))
                    .sum::<f64>()
                    * scale[k]
            })
        })
        .collect())
}

/// Eigenvalues of the delay-embedding operator of `trials` (each `time x dims`, rows =
/// samples, same `dims`), with `n_delays >= 1` and `rank >= 1` (capped at the embedding
/// dimension). Errors when a trial is shorter than `n_delays + 1` samples.
pub fn havok_eigenvalues(
    trials: &[Matrix],
    n_delays: usize,
    rank: usize,
) -> Result<Vec<Complex64>> {
    let Some(first) = trials.first() else {
        return Err(Error::invalid("DSA", "no trials"));
    };
    let n = first.ncols();
    let width = n * n_delays;
    let rows_per: Vec<usize> = trials
        .iter()
        .map(|t| t.nrows().saturating_sub(n_delays - 1))
        .collect();
    if trials.iter().any(|t| t.ncols() != n) || rows_per.iter().any(|&r| r < 2) {
        return Err(Error::invalid(
            "DSA",
            format!(
                "every trial needs {} dims and at least {} samples",
                n,
                n_delays + 1
            ),
        ));
    }
    let total: usize = rows_per.iter().sum();
    let mut h = Matrix::zeros(total, width);
    let mut r0 = 0;
    for (t, &rows) in trials.iter().zip(&rows_per) {
        for s in 0..rows {
            for d in 0..n_delays {
                for j in 0..n {
                    h.set(r0 + s, d * n + j, t.get(s + d, j));
                }
            }
        }
        r0 += rows;
    }
    for j in 0..width {
        let m = (0..total).map(|i| h.get(i, j)).sum::<f64>() / total as f64;
        for i in 0..total {
            h.set(i, j, h.get(i, j) - m);
        }
    }
    let svd = linalg::svd(h.view())?;
    let smax = svd.s.first().copied().unwrap_or(0.0);
    // The numerical rank: singular values above max(rows, cols) eps sigma_max.
    let numeric = svd
        .s
        .iter()
        .filter(|&&s| s > total.max(width) as f64 * f64::EPSILON * smax)
        .count();
    let r = rank.min(numeric).max(1);
    let c = h.matmul(&svd.v.first_cols(r));
    // Pairs (c_t, c_{t+1}) within trials.
    let pairs: usize = rows_per.iter().map(|r| r - 1).sum();
    let (mut x, mut y) = (Matrix::zeros(pairs, r), Matrix::zeros(pairs, r));
    let (mut p, mut base) = (0, 0);
    for &rows in &rows_per {
        for s in 0..rows - 1 {
            for j in 0..r {
                x.set(p, j, c.get(base + s, j));
                y.set(p, j, c.get(base + s + 1, j));
            }
            p += 1;
        }
        base += rows;
    }
    // Affine least squares c_{t+1} ≈ A c_t + b: the intercept makes it exact for affine
    // dynamics (the pair means differ from the all-sample mean used to centre).
    let a = super::regress::fit_affine(&x, &y, 0.0)?.a;
    Ok(linalg::eigenvalues(&a)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A noise-free linear system `x_{t+1} = B x_t`, `B = [[0.9, -0.3], [0.3, 0.9]]`: with
    /// `n_delays = 1` the operator's eigenvalues are B's, `0.9 +- 0.3i`, to rounding; with
    /// `n_delays = 3` the embedding has rank 2 and gives them again; an affine map of the
    /// states changes neither.
    #[test]
    fn linear_systems_give_their_own_eigenvalues_invariant_under_affine_maps() {
        let mut trials = Vec::new();
        for k in 0..5 {
            let mut x = vec![1.0 + k as f64, -0.5 * k as f64];
            let mut t = Matrix::zeros(40, 2);
            for s in 0..40 {
                t.set(s, 0, x[0]);
                t.set(s, 1, x[1]);
                x = vec![0.9 * x[0] - 0.3 * x[1], 0.3 * x[0] + 0.9 * x[1]];
            }
            trials.push(t);
        }
        let ev = havok_eigenvalues(&trials, 1, 10).unwrap();
        for z in &ev {
            assert!(
                (z.re - 0.9).abs() < 1e-9 && (z.im.abs() - 0.3).abs() < 1e-9,
                "{ev:?}"
            );
        }
        let mapped: Vec<Matrix> = trials
            .iter()
            .map(|t| {
                Matrix::from_fn(t.nrows(), 2, |s, i| {
                    3.0 + [2.0, 0.5][i] * t.get(s, 0) + [-1.0, 1.0][i] * t.get(s, 1)
                })
            })
            .collect();
        let ev2 = havok_eigenvalues(&mapped, 1, 10).unwrap();
        assert!(super::super::matching::eigenvalue_wasserstein(&ev, &ev2) < 1e-18);
        let ev3 = havok_eigenvalues(&mapped, 3, 10).unwrap();
        assert_eq!(ev3.len(), 2);
        assert!(
            super::super::matching::eigenvalue_wasserstein(&ev, &ev3) < 1e-18,
            "{ev3:?}"
        );
    }
}
