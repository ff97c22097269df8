//! One trial step of ROS2 (IN-7), the L-stable Rosenbrock method for stiff problems.

use super::kernels::scaled;
use super::{Options, Stats, VectorField, Workspace};
use crate::linalg;

/// ROS2's `gamma = 1 + 1/sqrt(2)` (L-stable choice).
const GAMMA: f64 = 1.0 + std::f64::consts::FRAC_1_SQRT_2;

/// One ROS2 attempt from `(t, ws.y)` with `ws.k[..n] = f(t, y)`: fills `ws.y_new` and stores
/// `k1`, `k2` in stage slots 1 and 2; returns the error norm, or `None` if the linear system
/// is singular. Jacobian by forward differences (n evaluations), refreshed every attempt.
///
/// `(I - g h J) k1 = f(y)`, `(I - g h J) k2 = f(y + h k1) - 2 k1`,
/// `y_new = y + h (3/2 k1 + 1/2 k2)`, error `y_new - (y + h k1) = h (k1 + k2) / 2`.
pub(super) fn step<F: VectorField + ?Sized>(
    field: &mut F,
    t: f64,
    h: f64,
    opts: &Options,
    ws: &mut Workspace,
    stats: &mut Stats,
) -> Option<f64> {
    let n = ws.n;
    ws.ros_mut();
    let Workspace {
        k,
        y,
        y_new,
        y_stage,
        scale,
        ros,
        ..
    } = ws;
    let ros = ros.as_mut().expect("allocated above");
    ros.f0.copy_from_slice(&k[..n]);
    // Jacobian column j: (f(y + d e_j) - f(y)) / d, d = sqrt(eps) max(|y_j|, 1e-8 ... ).
    y_stage.copy_from_slice(y);
    for j in 0..n {
        let yj = y[j];
        let d = f64::EPSILON.sqrt() * yj.abs().max(1e-5);
        y_stage[j] = yj + d;
        let d = y_stage[j] - yj; // the increment actually represented
        field.eval(t, y_stage, &mut ros.tmp);
        stats.rhs_evals += 1;
        for i in 0..n {
            ros.jac[i + j * n] = (ros.tmp[i] - ros.f0[i]) / d;
        }
        y_stage[j] = yj;
    }
    stats.jacobians += 1;
    // M = I - gamma h J, factorized.
    let gh = GAMMA * h;
    for (m, jv) in ros.lu.iter_mut().zip(&ros.jac) {
        *m = -gh * jv;
    }
    for i in 0..n {
        ros.lu[i + i * n] += 1.0;
    }
    if linalg::lu_in_place(&mut ros.lu, n, &mut ros.piv).is_err() {
        return None;
    }
    stats.factorizations += 1;
    let (k1, rest) = k[n..].split_at_mut(n);
    let k2 = &mut rest[..n];
    k1.copy_from_slice(&ros.f0);
    linalg::lu_solve_in_place(&ros.lu, n, &ros.piv, k1);
    for i in 0..n {
        y_stage[i] = y[i] + h * k1[i];
    }
    field.eval(t + h, y_stage, k2);
    stats.rhs_evals += 1;
    for i in 0..n {
        k2[i] -= 2.0 * k1[i];
    }
    linalg::lu_solve_in_place(&ros.lu, n, &ros.piv, k2);
    let mut sum = 0.0;
    for i in 0..n {
        y_new[i] = y[i] + h * (1.5 * k1[i] + 0.5 * k2[i]);
        scale[i] = opts.atol.get(i) + opts.rtol * y[i].abs().max(y_new[i].abs());
        let r = scaled(0.5 * h * (k1[i] + k2[i]), scale[i]);
        sum += r * r;
    }
    Some((sum / n.max(1) as f64).sqrt())
}
