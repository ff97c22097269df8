//! Dense output (IN-3, IN-4, IN-6): the state anywhere inside an accepted step, from the step's
//! stages, for saving at requested times and for locating events. Saving never shortens steps.

use super::kernels::lin_comb;
use super::tableau::{
    DenseOutput, DOP853_DENSE_A, DOP853_DENSE_C, DOP853_DENSE_D, DOPRI5_DENSE, TSIT5_DENSE,
};
use super::{Scheme, Stats, VectorField, Workspace};

/// An accepted step `[t, t_new]` of size `h` (`t_new` is `t1` itself on the last step, where
/// `t + h` may differ from it by rounding), taken with `scheme`.
#[derive(Clone, Copy)]
pub(super) struct AcceptedStep {
    /// The scheme that took the step (its stages are in the workspace).
    pub(super) scheme: Scheme,
    /// Start time.
    pub(super) t: f64,
    /// Step size.
    pub(super) h: f64,
    /// End time.
    pub(super) t_new: f64,
}

/// Make the dense output of the accepted step `[t, t + h]` usable (once per step). Only DOP853
/// needs work: three extra stages (3 RHS evaluations) and the coefficient vectors
/// `r2 = y_new - y`, `r3 = h k_0 - r2`, `r4 = r2 - h k_12 - r3`, `r5..r8 = h sum_j d_{m,j} k_j`
/// (HNW I, `dop853.f` `contd8`), stored in `ws.dense`.
pub(super) fn prepare<F: VectorField + ?Sized>(
    step: &AcceptedStep,
    field: &mut F,
    ws: &mut Workspace,
    stats: &mut Stats,
) {
    let (t, h) = (step.t, step.h);
    if ws.dense_ready {
        return;
    }
    ws.dense_ready = true;
    let Scheme::Erk(tab) = step.scheme else {
        return;
    };
    if tab.dense != DenseOutput::Dop853 {
        return;
    }
    let n = ws.n;
    for m in 0..3 {
        let slot = 13 + m;
        let (done, rest) = ws.k.split_at_mut(slot * n);
        lin_comb(
            &mut ws.y_stage,
            Some(&ws.y),
            h,
            &DOP853_DENSE_A[m][..slot],
            done,
        );
        field.eval(t + DOP853_DENSE_C[m] * h, &ws.y_stage, &mut rest[..n]);
        stats.rhs_evals += 1;
    }
    let (r, dense_rest) = ws.dense.split_at_mut(3 * n);
    for i in 0..n {
        let r2 = ws.y_new[i] - ws.y[i];
        let r3 = h * ws.k[i] - r2;
        let r4 = r2 - h * ws.k[12 * n + i] - r3;
        r[i] = r2;
        r[n + i] = r3;
        r[2 * n + i] = r4;
    }
    for m in 0..4 {
        lin_comb(
            &mut dense_rest[m * n..(m + 1) * n],
            None,
            h,
            &DOP853_DENSE_D[m],
            &ws.k,
        );
    }
}

/// Dense output at `t + theta h` (0 <= theta <= 1) into `ws.y_out`, from the accepted step's
/// `y` (start), `y_new` (end), stages `k` and end derivative `f_new` (IN-3).
pub(super) fn interpolate(scheme: Scheme, theta: f64, h: f64, ws: &mut Workspace) {
    let n = ws.n;
    let dense = match scheme {
        Scheme::Erk(tab) => tab.dense,
        Scheme::Ros2 => DenseOutput::Hermite,
    };
    match dense {
        DenseOutput::Dopri5 => {
            // y(t + theta h) = y0 + theta (r2 + (1 - theta)(r3 + theta (r4 + (1 - theta) r5)))
            // with r2 = y1 - y0, r3 = h k1 - r2, r4 = r2 - h k7 - r3,
            // r5 = h sum_i d_i k_i (HNW I, Section II.6; dopri5.f contd5).
            let th1 = 1.0 - theta;
            for i in 0..n {
                let y0 = ws.y[i];
                let r2 = ws.y_new[i] - y0;
                let r3 = h * ws.k[i] - r2;
                let r4 = r2 - h * ws.k[6 * n + i] - r3;
                let mut r5 = 0.0;
                for (j, d) in DOPRI5_DENSE.iter().enumerate() {
                    if *d != 0.0 {
                        r5 += d * ws.k[j * n + i];
                    }
                }
                r5 *= h;
                ws.y_out[i] = y0 + theta * (r2 + th1 * (r3 + theta * (r4 + th1 * r5)));
            }
        }
        DenseOutput::Tsit5 => {
            // y(t + theta h) = y + h sum_i b_i(theta) k_i, b_i polynomials in theta.
            let mut w = [0.0; 7];
            for (wi, poly) in w.iter_mut().zip(TSIT5_DENSE.iter()) {
                *wi = poly.iter().rev().fold(0.0, |acc, c| acc * theta + c);
            }
            lin_comb(&mut ws.y_out, Some(&ws.y), h, &w, &ws.k);
        }
        DenseOutput::Dop853 => {
            // contd8 (dop853.f): r1 = y, r2..r8 prepared in `ws.dense` by `prepare`.
            let (s1, th) = (1.0 - theta, theta);
            let r = |m: usize, i: usize| ws.dense[m * n + i];
            for i in 0..n {
                let conpar = r(3, i) + th * (r(4, i) + s1 * (r(5, i) + th * r(6, i)));
                ws.y_out[i] =
                    ws.y[i] + th * (r(0, i) + s1 * (r(1, i) + th * (r(2, i) + s1 * conpar)));
            }
        }
        DenseOutput::Hermite => {
            let t2 = theta * theta;
            let t3 = t2 * theta;
            let h00 = 2.0 * t3 - 3.0 * t2 + 1.0;
            let h10 = t3 - 2.0 * t2 + theta;
            let h01 = -2.0 * t3 + 3.0 * t2;
            let h11 = t3 - t2;
            for i in 0..n {
                ws.y_out[i] =
                    h00 * ws.y[i] + h10 * h * ws.k[i] + h01 * ws.y_new[i] + h11 * h * ws.f_new[i];
            }
        }
    }
}
