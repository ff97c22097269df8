//! One trial step of an explicit Runge-Kutta method (IN-1) and its error norm (IN-2, IN-5).

use super::kernels::{error_sums, lin_comb, AtolRef};
use super::{Atol, Options, Stats, Tableau, VectorField, Workspace};

/// Evaluate stages 2..s and the new state `y_new = y + h sum b_i k_i` (IN-1).
pub(super) fn take_stages<F: VectorField + ?Sized>(
    tableau: &Tableau,
    field: &mut F,
    t: f64,
    h: f64,
    keep_prev_stage: bool,
    ws: &mut Workspace,
    stats: &mut Stats,
) {
    let n = ws.n;
    let s = tableau.stages;
    for i in 1..s {
        let (done, rest) = ws.k.split_at_mut(i * n);
        lin_comb(&mut ws.y_stage, Some(&ws.y), h, tableau.a_row(i), done);
        if keep_prev_stage && i == s - 2 {
            // Input of the second-to-last stage, for the stiffness test only.
            ws.y_prev_stage.copy_from_slice(&ws.y_stage);
        }
        field.eval(t + tableau.c[i] * h, &ws.y_stage, &mut rest[..n]);
        stats.rhs_evals += 1;
    }
    if tableau.fsal {
        // The last stage was evaluated at y + h sum a_{s,j} k_j = y_new: take the buffer.
        std::mem::swap(&mut ws.y_new, &mut ws.y_stage);
    } else {
        lin_comb(&mut ws.y_new, Some(&ws.y), h, tableau.b, &ws.k);
    }
}

/// Error norm of an accepted-or-rejected trial (IN-2): the RMS norm of `h sum_j e_j k_j`
/// scaled by `atol + rtol max(|y|, |y_new|)`; for tableaux with a second estimate (`e3`,
/// DOP853) Hairer's combination `|h| e5^2 / sqrt(e5^2 + 0.01 e3^2)` of the two RMS norms
/// (`dop853.f`), which behaves like `O(h^8)`. One fused pass over memory.
pub(super) fn error_norm(tab: &Tableau, h: f64, opts: &Options, ws: &mut Workspace) -> f64 {
    let n = ws.n.max(1) as f64;
    let atol = match &opts.atol {
        Atol::Scalar(a) => AtolRef::Scalar(*a),
        Atol::PerComponent(v) => AtolRef::PerComponent(v),
    };
    let e = tab.e.unwrap_or(&[]);
    match tab.e3 {
        None => {
            let (s5, _) = error_sums(e, &[], h, &ws.k, &ws.y, &ws.y_new, atol, opts.rtol);
            (s5 / n).sqrt()
        }
        Some(e3) => {
            let (s5, s3) = error_sums(e, e3, 1.0, &ws.k, &ws.y, &ws.y_new, atol, opts.rtol);
            let deno = s5 + 0.01 * s3;
            let deno = if deno > 0.0 { deno } else { 1.0 };
            h.abs() * s5 / (n * deno).sqrt()
        }
    }
}
