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
use rand::RngExt;

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
    Ok(linalg::eigenvalues(&havok_operator(
        trials, n_delays, rank,
    )?)?)
}

/// The delay-embedding operator itself (`r x r`, in the embedding's principal coordinates),
/// whose eigenvalues [`havok_eigenvalues`] returns: the matrix DSA's Procrustes scores compare.
pub fn havok_operator(trials: &[Matrix], n_delays: usize, rank: usize) -> Result<Matrix> {
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
    Ok(super::regress::fit_affine(&x, &y, 0.0)?.a)
}

/// Largest operator size [`procrustes_scores`] optimizes over (its cost grows like `r^3` per
/// step times the starts: at `r = 100`, the 50-unit chain's rank, it took minutes).
pub const PROCRUSTES_MAX_RANK: usize = 24;

/// DSA's Procrustes scores of two operators of the same size (Ostrow et al. 2023;
/// attractors.md §6 M7; theory/recovery.md RM-14), on Frobenius-normalized `A`, `B`:
/// `f = max_{C orthogonal} <A, C B C^T>`, returned as `(angular, euclidean)` with
/// `angular = arccos(f)` (radians) and `euclidean = sqrt(2 - 2 f)` (= min |A - C B C^T|_F).
/// The maximum is found by Riemannian gradient ascent on the orthogonal group
/// (`C <- C expm(eta skew(C^T G))`, backtracking) then the shifted polar iteration, from
/// sign-diagonal matrices (all of them for `r <= 8`, else 64 seeded ones, each first improved
/// by greedy sign flips) and `restarts` seeded random orthogonal matrices (both components of
/// O(r)), keeping the best. `None` when the
/// sizes differ, exceed [`PROCRUSTES_MAX_RANK`], or an operator is zero.
pub fn procrustes_scores(
    a: &Matrix,
    b: &Matrix,
    restarts: usize,
    seed: u64,
) -> Result<Option<(f64, f64)>> {
    let r = a.nrows();
    if b.nrows() != r || a.ncols() != r || b.ncols() != r || r > PROCRUSTES_MAX_RANK {
        return Ok(None);
    }
    let (na, nb) = (a.norm_fro(), b.norm_fro());
    if na == 0.0 || nb == 0.0 {
        return Ok(None);
    }
    let (a, b) = (a.clone().scale(1.0 / na), b.clone().scale(1.0 / nb));
    let f = |c: &Matrix| -> f64 {
        let m = c.matmul(&b).matmul_t(c);
        a.as_slice()
            .iter()
            .zip(m.as_slice())
            .map(|(x, y)| x * y)
            .sum()
    };
    let mut rng = crate::random::rng(seed, 0xD5A);
    let mut best = f64::NEG_INFINITY;
    // Starts: every sign-diagonal matrix for r <= 8 (principal coordinates of conjugate
    // operators differ by signs when the singular values are distinct, and those are local
    // maxima of one another), then random orthogonal ones.
    let signs = if r <= 8 { 1usize << r } else { 64 };
    // <A, D B D> for D = diag(d): sum_ij A_ij B_ij d_i d_j; greedy single flips to a local max.
    let w = Matrix::from_fn(r, r, |i, j| a.get(i, j) * b.get(i, j));
    let greedy = |d: &mut Vec<f64>| loop {
        let mut flipped = false;
        for i in 0..r {
            // Flipping d_i changes the sum by -2 d_i sum_{j != i} (w_ij + w_ji) d_j.
            let delta: f64 = -2.0
                * d[i]
                * (0..r)
                    .filter(|&j| j != i)
                    .map(|j| (w.get(i, j) + w.get(j, i)) * d[j])
                    .sum::<f64>();
            if delta > 1e-15 {
                d[i] = -d[i];
                flipped = true;
            }
        }
        if !flipped {
            break;
        }
    };
    for k in 0..signs + restarts {
        let mut c = if k < signs {
            let mut d: Vec<f64> = (0..r)
                .map(|i| {
                    let bit = if r <= 8 {
                        k & (1 << i) != 0
                    } else {
                        rng.random::<bool>()
                    };
                    if bit {
                        -1.0
                    } else {
                        1.0
                    }
                })
                .collect();
            greedy(&mut d);
            Matrix::from_diag(&d)
        } else {
            let g = crate::random::gaussian_matrix(&mut rng, r, r);
            let mut q = linalg::orthonormal_from(&g)?;
            if k % 2 == 0 {
                // The other component of O(r): flip one column.
                for i in 0..r {
                    q.set(i, 0, -q.get(i, 0));
                }
            }
            q
        };
        let mut val = f(&c);
        let mut eta = 1.0;
        for _ in 0..500 {
            // Euclidean gradient of <A, C B C^T>: A C B^T + A^T C B.
            let g = a
                .matmul(&c)
                .matmul_t(&b)
                .add_scaled(&a.transpose().matmul(&c).matmul(&b), 1.0);
            let ctg = c.transpose().matmul(&g);
            let omega = Matrix::from_fn(r, r, |i, j| 0.5 * (ctg.get(i, j) - ctg.get(j, i)));
            if omega.norm_fro() < 1e-13 {
                break;
            }
            let mut improved = false;
            while eta > 1e-12 {
                let cand = c.matmul(&linalg::expm(&omega.clone().scale(eta))?);
                let v = f(&cand);
                if v > val {
                    c = cand;
                    val = v;
                    eta *= 2.0;
                    improved = true;
                    break;
                }
                eta *= 0.5;
            }
            if !improved {
                break;
            }
        }
        // Polish by the shifted polar iteration C <- polar(G(C) + sigma C), sigma = 2 >=
        // the objective's curvature bound on normalized operators: monotone, and it keeps
        // converging where the gradient steps crawl (near-degenerate directions).
        for _ in 0..2000 {
            let g = a
                .matmul(&c)
                .matmul_t(&b)
                .add_scaled(&a.transpose().matmul(&c).matmul(&b), 1.0)
                .add_scaled(&c, 2.0);
            let svd = linalg::svd(g.view())?;
            let cand = svd.u.matmul_t(&svd.v);
            let v = f(&cand);
            if v <= val + 1e-16 {
                if v > val {
                    val = v;
                }
                break;
            }
            c = cand;
            val = v;
        }
        best = best.max(val);
    }
    let cos = best.clamp(-1.0, 1.0);
    Ok(Some((cos.acos(), (2.0 - 2.0 * cos).max(0.0).sqrt())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A noise-free linear system `x_{t+1} = B x_t`, `B = [[0.9, -0.3], [0.3, 0.9]]`: with
    /// `n_delays = 1` the operator's eigenvalues are B's, `0.9 +- 0.3i`, to rounding; with
    /// `n_delays = 3` the embedding has rank 2 and gives them again; an affine map of the
    /// states changes neither.
    #[test]
    fn procrustes_scores_are_zero_for_conjugates_and_known_for_a_rotation_pair() {
        let a = Matrix::from_fn(3, 3, |i, j| ((i * 3 + j) as f64 * 0.7).sin());
        let q = linalg::orthonormal_from(&Matrix::from_fn(3, 3, |i, j| {
            ((i + 2 * j) as f64).cos() + f64::from(u8::from(i == j))
        }))
        .unwrap();
        let b = q.matmul(&a).matmul_t(&q).scale(2.5);
        let (ang, euc) = procrustes_scores(&a, &b, 8, 1).unwrap().unwrap();
        assert!(ang < 1e-6 && euc < 1e-6, "{ang} {euc}");
        // Rotations by +-theta in the plane are conjugate (by a reflection): distance 0;
        // a rotation and a scaling are not: cos = <R, I>/(|R||I|) = cos(theta).
        let th = 0.4f64;
        let rot = Matrix::from_fn(2, 2, |i, j| match (i, j) {
            (0, 0) | (1, 1) => th.cos(),
            (0, 1) => -th.sin(),
            _ => th.sin(),
        });
        let (ang, _) = procrustes_scores(&rot, &rot.transpose(), 8, 2)
            .unwrap()
            .unwrap();
        assert!(ang < 1e-6, "{ang}");
        let (ang, _) = procrustes_scores(&rot, &Matrix::identity(2), 8, 3)
            .unwrap()
            .unwrap();
        assert!((ang - th).abs() < 1e-9, "{ang}");
    }

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
