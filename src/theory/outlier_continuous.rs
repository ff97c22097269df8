//! The continuous-time full-matrix loss of learning a leaky integrator (theory/outlier.md
//! OL-12): the network `dh/dt = -h + W h + u x`, `y = v^T h`, white input, target
//! `y*(t) = int e^{-c*(t-s)} x(s) ds`, for arbitrary `W` (not only on the aligned manifold of
//! OL-1..OL-3), in closed form through two Lyapunov equations; and plain gradient descent on
//! it (the setting of Bordelon et al.'s lazy vs rich comparison).
//!
//! With `A = W - I` stable and `M = c* I - A`:
//! `L = 1/2 int_0^inf (v^T e^{A tau} u - e^{-c* tau})^2 dtau
//!    = 1/2 v^T P v - v^T M^{-1} u + 1/(4 c*)`, `A P + P A^T + u u^T = 0`;
//! `dL/dW = Q P - M^{-T} v u^T M^{-T}`, `dL/du = Q u - M^{-T} v`, `dL/dv = P v - M^{-1} u`,
//! with the adjoint `A^T Q + Q A + v v^T = 0`.

use super::outlier::{check_shapes, gd_with, FullGdRun, FullLossGrad, FullParams};
use crate::error::{Error, Result};
use crate::linalg::{lyapunov, solve, Matrix};

/// OL-12: the loss and its gradients at `(w, u, v)` for the target decay rate `c_star > 0`.
/// [`FullLossGrad::lags`] is 0 (no lag sum). Errors on shapes that do not fit, a non-positive
/// or non-finite `c_star`, and an unstable `W - I` (an eigenvalue of `W` with real part >= 1:
/// the impulse response does not decay and the loss is infinite).
pub fn loss_grad(w: &Matrix, u: &[f64], v: &[f64], c_star: f64) -> Result<FullLossGrad> {
    let n = check_shapes(w, u, v)?;
    if !(c_star.is_finite() && c_star > 0.0) {
        return Err(Error::invalid(
            "c_star",
            format!("the target decay rate must be finite and positive, got {c_star}"),
        ));
    }
    let top = crate::linalg::eigenvalues(w)?
        .iter()
        .map(|z| z.re)
        .fold(f64::NEG_INFINITY, f64::max);
    if top.is_nan() || top >= 1.0 {
        return Err(Error::invalid(
            "W",
            format!(
                "W - I must be stable (every eigenvalue of W with real part < 1), got real \
                 part {top}: the continuous-time loss is infinite there"
            ),
        ));
    }
    let a = w.clone().add_scaled(&Matrix::identity(n), -1.0);
    let col = |x: &[f64]| Matrix::from_fn(n, 1, |i, _| x[i]);
    let (uc, vc) = (col(u), col(v));
    let p = lyapunov::continuous(&a, &uc.matmul_t(&uc))?;
    let q = lyapunov::continuous(&a.transpose(), &vc.matmul_t(&vc))?;
    // M = c* I - A; m_u = M^{-1} u, m_v = M^{-T} v.
    let m = Matrix::identity(n).scale(c_star).sub(&a);
    let mu = solve(&m, &uc)?;
    let mv = solve(&m.transpose(), &vc)?;
    let pv = p.matmul(&vc);
    let vpv = vc.t_matmul(&pv).get(0, 0);
    let vmu = vc.t_matmul(&mu).get(0, 0);
    let loss = 0.5 * vpv - vmu + 0.25 / c_star;
    // dL/dW = Q P - m_v m_u^T (M^{-T} v u^T M^{-T} = m_v (M^{-1} u)^T).
    let dw = q.matmul(&p).sub(&mv.matmul_t(&mu));
    let qu = q.matmul(&uc);
    let du = (0..n).map(|i| qu.get(i, 0) - mv.get(i, 0)).collect();
    let dv = (0..n).map(|i| pv.get(i, 0) - mu.get(i, 0)).collect();
    Ok(FullLossGrad {
        loss,
        dw,
        du,
        dv,
        lags: 0,
    })
}

/// Plain gradient descent on OL-12: `steps` updates `theta <- theta - eta grad L` of all of
/// `(W, u, v)` from `init` (flow time `t = eta k`, C-6). A step that leaves the stable region
/// or makes anything non-finite ends the run with [`FullGdRun::diverged_at`]. Errors: a bad
/// `init` (shapes, an unstable `W0`), `c_star` or `eta`.
pub fn gd(init: FullParams, c_star: f64, eta: f64, steps: usize) -> Result<FullGdRun> {
    gd_with(init, eta, steps, true, |w, u, v| loss_grad(w, u, v, c_star))
}
