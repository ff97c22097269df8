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

/// `<K_a, K_b>_F` for two-layer tangent kernels `K = I_No (x) P + Q (x) I_Ni` (T0.4 on whitened
/// inputs), `P = W1^T W1` (`Ni x Ni`), `Q = W2 W2^T` (`No x No`):
/// `No tr(P_a P_b) + tr(P_a) tr(Q_b) + tr(Q_a) tr(P_b) + Ni tr(Q_a Q_b)` (RL-1).
pub fn kernel_inner(pa: &Matrix, qa: &Matrix, pb: &Matrix, qb: &Matrix) -> f64 {
    let (ni, no) = (pa.nrows() as f64, qa.nrows() as f64);
    let tr_prod = |a: &Matrix, b: &Matrix| -> f64 {
        a.as_slice()
            .iter()
            .zip(b.as_slice())
            .map(|(x, y)| x * y)
            .sum()
    };
    no * tr_prod(pa, pb) + pa.trace() * qb.trace() + qa.trace() * pb.trace() + ni * tr_prod(qa, qb)
}

/// Kernel distance `S = 1 - <K_0, K_t> / (||K_0|| ||K_t||)` (T0.5, RL-2) of the two-layer
/// tangent kernel from its value at initialization: 0 while learning is lazy (the kernel does
/// not move), up to 1 when it is rich.
pub fn kernel_distance(p0: &Matrix, q0: &Matrix, p: &Matrix, q: &Matrix) -> f64 {
    let n0 = kernel_inner(p0, q0, p0, q0).sqrt();
    let n1 = kernel_inner(p, q, p, q).sqrt();
    if n0 == 0.0 || n1 == 0.0 {
        return f64::NAN;
    }
    (1.0 - kernel_inner(p0, q0, p, q) / (n0 * n1)).max(0.0)
}

/// Alignment of the first layer with the teacher's input modes, `||W1 V||_F^2 / ||W1||_F^2` from
/// `P = W1^T W1` and `V` (`Ni x r`) (RL-3): 1 when the hidden representation only reads the
/// teacher's input directions.
pub fn input_alignment(p: &Matrix, v: &Matrix) -> f64 {
    let pv = p.matmul(v);
    let num: f64 = (0..v.ncols())
        .map(|a| {
            (0..v.nrows())
                .map(|i| v.get(i, a) * pv.get(i, a))
                .sum::<f64>()
        })
        .sum();
    let den = p.trace();
    if den > 0.0 {
        num / den
    } else {
        f64::NAN
    }
}

// Fixed points and slow points of recurrent dynamics (FP-1..FP-5); documented inside.
pub mod fixed_points;
pub mod spectra;
