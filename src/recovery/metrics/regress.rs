//! Regression-based metrics: variance-weighted R^2 (M1, M4, M5), affine maps between latent
//! spaces, and cycle-consistency (M6, CtDB's definition).

use crate::error::{Error, Result};
use crate::linalg::{self, Matrix};

/// Variance-weighted R^2 `1 - sum_d SS_res_d / sum_d SS_tot_d` of `pred` against `truth`
/// (both `samples x dims`; `SS_tot` about each column mean of `truth`). Errors on a shape
/// mismatch or a constant truth.
pub fn vw_r2(truth: &Matrix, pred: &Matrix) -> Result<f64> {
    if truth.nrows() != pred.nrows() || truth.ncols() != pred.ncols() || truth.nrows() == 0 {
        return Err(Error::Shape {
            what: "R^2 prediction".into(),
            expected: format!("({}, {})", truth.nrows(), truth.ncols()),
            got: format!("({}, {})", pred.nrows(), pred.ncols()),
        });
    }
    let n = truth.nrows();
    let (mut res, mut tot) = (0.0, 0.0);
    for j in 0..truth.ncols() {
        let mean = (0..n).map(|i| truth.get(i, j)).sum::<f64>() / n as f64;
        for i in 0..n {
            res += (truth.get(i, j) - pred.get(i, j)).powi(2);
            tot += (truth.get(i, j) - mean).powi(2);
        }
    }
    if tot <= 0.0 {
        return Err(Error::invalid(
            "R^2",
            "the reference is constant; R^2 is undefined",
        ));
    }
    Ok(1.0 - res / tot)
}

/// An affine map `y = a x + b`: `a` is `out x in`, `b` has length `out`.
#[derive(Debug, Clone)]
pub struct Affine {
    /// Linear part, `out x in`.
    pub a: Matrix,
    /// Offset, length `out`.
    pub b: Vec<f64>,
}

impl Affine {
    /// Apply to every row of `x` (`samples x in`): `samples x out`.
    pub fn apply(&self, x: &Matrix) -> Matrix {
        let xa = x.matmul_t(&self.a);
        Matrix::from_fn(xa.nrows(), xa.ncols(), |i, j| xa.get(i, j) + self.b[j])
    }

    /// Apply to one point (length `in`).
    pub fn apply_point(&self, x: &[f64]) -> Vec<f64> {
        (0..self.a.nrows())
            .map(|i| {
                self.b[i]
                    + (0..self.a.ncols())
                        .map(|j| self.a.get(i, j) * x[j])
                        .sum::<f64>()
            })
            .collect()
    }
}

fn centred(x: &Matrix) -> (Matrix, Vec<f64>) {
    let n = x.nrows() as f64;
    let mean: Vec<f64> = (0..x.ncols())
        .map(|j| (0..x.nrows()).map(|i| x.get(i, j)).sum::<f64>() / n)
        .collect();
    (
        Matrix::from_fn(x.nrows(), x.ncols(), |i, j| x.get(i, j) - mean[j]),
        mean,
    )
}

/// Least-squares affine map `y ≈ a x + b` from the rows of `x` (`samples x in`) to those of
/// `y` (`samples x out`), on centred data, with ridge `ridge * samples` on the normal
/// equations. Solved through the SVD of the centred `x` (minimum-norm solution, singular
/// values below `max(rows, cols) eps sigma_max` cut off), so a rank-deficient `x` (a latent
/// that never moves) gives the minimum-norm map rather than an error.
pub fn fit_affine(x: &Matrix, y: &Matrix, ridge: f64) -> Result<Affine> {
    if x.nrows() != y.nrows() || x.nrows() == 0 {
        return Err(Error::Shape {
            what: "affine fit".into(),
            expected: format!("the same number of samples ({})", x.nrows()),
            got: format!("{}", y.nrows()),
        });
    }
    let (xc, mx) = centred(x);
    let (yc, my) = centred(y);
    let svd = linalg::svd(xc.view())?;
    let smax = svd.s.first().copied().unwrap_or(0.0);
    let cut = x.nrows().max(x.ncols()) as f64 * f64::EPSILON * smax;
    let lam = ridge * x.nrows() as f64;
    // A^T = V diag(s / (s^2 + lam)) U^T Yc  (in x out).
    let uty = svd.u.t_matmul(&yc);
    let k = svd.s.len();
    let scaled = Matrix::from_fn(k, y.ncols(), |r, c| {
        let s = svd.s[r];
        if s > cut {
            uty.get(r, c) * s / (s * s + lam)
        } else {
            0.0
        }
    });
    let at = svd.v.matmul(&scaled);
    let a = at.transpose();
    let b: Vec<f64> = (0..y.ncols())
        .map(|i| my[i] - (0..x.ncols()).map(|j| a.get(i, j) * mx[j]).sum::<f64>())
        .collect();
    Ok(Affine { a, b })
}

/// Principal axes of the centred rows of `x`: (mean, `dims x dims` rotation, columns =
/// axes by variance descending).
fn pca(x: &Matrix) -> Result<(Vec<f64>, Matrix)> {
    let (xc, mean) = centred(x);
    let svd = linalg::svd(xc.view())?;
    // Complete V to a square basis when samples < dims (rare; keeps shapes simple).
    let v = if svd.v.ncols() == x.ncols() {
        svd.v
    } else {
        linalg::orthonormal_from(&Matrix::from_fn(x.ncols(), x.ncols(), |i, j| {
            if j < svd.v.ncols() {
                svd.v.get(i, j)
            } else {
                f64::from(u8::from(i == j))
            }
        }))?
    };
    Ok((mean, v))
}

fn rotate(x: &Matrix, mean: &[f64], v: &Matrix) -> Matrix {
    let xc = Matrix::from_fn(x.nrows(), x.ncols(), |i, j| x.get(i, j) - mean[j]);
    xc.matmul(v)
}

/// Cycle-consistency (M6, CtDB `get_cycle_consistency`): latents `z` and log-rates `l`
/// (`samples x k`, `samples x neurons`) are PCA-rotated with axes fitted on the training
/// rows; `L ≈ z W^T + b` is fitted on train; with `V_k` the top right singular vectors of
/// `W` holding `1 - variance_threshold` of `sum sigma^2`, the score is
/// `vw_r2(z_val, z_val V_k V_k^T)` for the rotated validation latents: the share of latent
/// variance in directions that move the rates.
pub fn cycle_consistency(
    z_train: &Matrix,
    logr_train: &Matrix,
    z_val: &Matrix,
    variance_threshold: f64,
) -> Result<f64> {
    let (mz, vz) = pca(z_train)?;
    let (ml, vl) = pca(logr_train)?;
    let zt = rotate(z_train, &mz, &vz);
    let lt = rotate(logr_train, &ml, &vl);
    let w = fit_affine(&zt, &lt, 0.0)?.a;
    let svd = linalg::svd(w.view())?;
    let total: f64 = svd.s.iter().map(|s| s * s).sum();
    let mut acc = 0.0;
    let mut k = svd.s.len();
    for (i, s) in svd.s.iter().enumerate() {
        acc += s * s;
        if acc >= (1.0 - variance_threshold) * total {
            k = i + 1;
            break;
        }
    }
    let vk = svd.v.first_cols(k);
    let zv = rotate(z_val, &mz, &vz);
    let rec = zv.matmul(&vk).matmul_t(&vk);
    vw_r2(&zv, &rec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rand(seed: u64, r: usize, c: usize) -> Matrix {
        crate::random::gaussian_matrix(&mut crate::random::rng(seed, 1), r, c)
    }

    #[test]
    fn vw_r2_hand_example() {
        let t = Matrix::from_fn(3, 2, |i, j| [[1.0, 0.0], [2.0, 2.0], [3.0, 4.0]][i][j]);
        let p = Matrix::from_fn(3, 2, |i, j| [[1.0, 1.0], [2.0, 2.0], [4.0, 4.0]][i][j]);
        // SS_res = 1 + 1 = 2; SS_tot = 2 + 8 = 10.
        assert!((vw_r2(&t, &p).unwrap() - 0.8).abs() < 1e-15);
        assert!((vw_r2(&t, &t).unwrap() - 1.0).abs() < 1e-15);
    }

    #[test]
    fn affine_fit_recovers_a_known_map_and_handles_rank_deficiency() {
        let x = rand(1, 200, 3);
        let a = rand(2, 4, 3);
        let y = Affine {
            a: a.clone(),
            b: vec![1.0, -2.0, 0.5, 3.0],
        }
        .apply(&x);
        let f = fit_affine(&x, &y, 0.0).unwrap();
        assert!(f.a.sub(&a).max_abs() < 1e-10);
        assert!((f.b[1] + 2.0).abs() < 1e-10);
        // A constant column: the minimum-norm map puts 0 on it.
        let xd = Matrix::from_fn(200, 3, |i, j| if j == 2 { 1.0 } else { x.get(i, j) });
        let f = fit_affine(&xd, &y, 0.0).unwrap();
        assert!(f.a.get(0, 2).abs() < 1e-12);
    }

    #[test]
    fn cycle_consistency_is_the_rate_moving_share_of_latent_variance() {
        // z = (u, v): rates depend on u only. Share of rotated-latent variance along u.
        let n = 4000;
        let g = rand(3, n, 2);
        let z = Matrix::from_fn(n, 2, |i, j| g.get(i, j) * if j == 0 { 2.0 } else { 1.0 });
        let l = Matrix::from_fn(n, 3, |i, j| (j as f64 + 1.0) * z.get(i, 0));
        let c = cycle_consistency(&z, &l, &z, 0.01).unwrap();
        // Expected: var(u) / (var(u) + var(v)) = 4 / 5 up to sampling error of the variances.
        let vu: f64 = (0..n).map(|i| z.get(i, 0).powi(2)).sum::<f64>();
        let vv: f64 = (0..n).map(|i| z.get(i, 1).powi(2)).sum::<f64>();
        assert!((c - vu / (vu + vv)).abs() < 0.01, "{c}");
        let l2 = Matrix::from_fn(n, 3, |i, j| z.get(i, 0) + (j as f64) * z.get(i, 1));
        assert!((cycle_consistency(&z, &l2, &z, 0.01).unwrap() - 1.0).abs() < 1e-12);
    }
}
