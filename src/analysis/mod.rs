//! Observables of a network state: loss, mode strengths, singular values of the end-to-end
//! map, balancedness drift.

use crate::linalg::{self, Matrix};
use crate::model::DeepLinearNet;
use crate::Result;

/// Mode strengths `u_alpha = u_alpha^T W_e v_alpha` (C-3): projections of the end-to-end map
/// `w_e` (`d_out x d_in`) on the teacher's singular vectors (`u`: `d_out x r`, `v`: `d_in x r`),
/// so labels stay attached to teacher modes through crossings. Length `r`.
pub fn mode_strengths(w_e: &Matrix, u: &Matrix, v: &Matrix) -> Vec<f64> {
    let wv = w_e.matmul(v);
    (0..u.ncols())
        .map(|a| (0..u.nrows()).map(|i| u.get(i, a) * wv.get(i, a)).sum())
        .collect()
}

/// Singular values of `w_e`, nonincreasing, length `min(d_out, d_in)`.
pub fn singular_values(w_e: &Matrix) -> Result<Vec<f64>> {
    Ok(linalg::singular_values(w_e.view())?)
}

/// Balancedness drift `max_l ||D_l(theta) - D_l(theta_0)||_F` with
/// `D_l = W_{l+1}^T W_{l+1} - W_l W_l^T` (C-4); `initial` from
/// [`DeepLinearNet::balance_matrices`] at the start.
pub fn balance_drift(net: &DeepLinearNet, params: &[f64], initial: &[Matrix]) -> f64 {
    net.balance_matrices(params)
        .iter()
        .zip(initial)
        .map(|(d, d0)| d.sub(d0).norm_fro())
        .fold(0.0, f64::max)
}
