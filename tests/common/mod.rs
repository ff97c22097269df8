//! Test tolerances, derived in one place. Every tolerance states where it comes from.
#![allow(dead_code)]

pub mod table;

/// Machine epsilon.
pub const EPS: f64 = f64::EPSILON;

/// Check `got` against a reference value printed as `printed` in
/// `../shared/references/theory.md`: they must agree to half a unit in the last printed digit.
#[track_caller]
pub fn assert_printed(got: f64, printed: &str) {
    let want: f64 = printed.parse().unwrap();
    let decimals = printed.split('.').nth(1).map_or(0, |d| d.len()) as i32;
    let tol = 0.5 * 10f64.powi(-decimals) * (1.0 + 1e-9);
    assert!(
        (got - want).abs() <= tol,
        "got {got}, reference {printed} (tolerance {tol:e})"
    );
}

/// Tight integration tolerance used when an ODE solution serves as a reference.
pub const TIGHT_RTOL: f64 = 1e-12;
/// Absolute tolerance paired with [`TIGHT_RTOL`].
pub const TIGHT_ATOL: f64 = 1e-14;

/// Agreement required between a closed form and an ODE integrated at [`TIGHT_RTOL`]:
/// global error of an order-5 method accumulates to ~100x the local tolerance over the
/// O(10-100) steps of these problems, so 1e-9 leaves margin (the bound).
pub const CLOSED_VS_ODE: f64 = 1e-9;

/// Full finite-width gradient flow vs closed form (issue bound).
pub const FULL_GF_VS_CLOSED: f64 = 1e-7;

/// Central finite differences with step h have truncation error O(h^2 f''') and rounding
/// error O(eps |f| / h); h = eps^(1/3) balances them at ~eps^(2/3) ~ 4e-11 relative. We allow
/// 1e3 times that for the condition of products of several matrices.
pub fn fd_step() -> f64 {
    EPS.powf(1.0 / 3.0)
}
/// Relative tolerance for central finite-difference gradient checks (see [`fd_step`]).
pub const FD_RTOL: f64 = 4e-8;

/// Observed convergence order must be within this of the declared order (issue bound).
pub const ORDER_SLACK: f64 = 0.2;

/// Least-squares slope of log(err) against log(h).
pub fn slope(hs: &[f64], errs: &[f64]) -> f64 {
    let xs: Vec<f64> = hs.iter().map(|h| h.ln()).collect();
    let ys: Vec<f64> = errs.iter().map(|e| e.ln()).collect();
    let n = xs.len() as f64;
    let mx = xs.iter().sum::<f64>() / n;
    let my = ys.iter().sum::<f64>() / n;
    let sxy: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    sxy / sxx
}

/// Relative difference `|a - b| / max(|b|, floor)`.
pub fn rel(a: f64, b: f64, floor: f64) -> f64 {
    (a - b).abs() / b.abs().max(floor)
}

/// The pre-issue-3 call shape, kept for tests: integrate with an explicit tableau and save at
/// `times` into `on_save`.
#[allow(clippy::too_many_arguments)]
pub fn solve_at<F: learndyn::integrate::VectorField + ?Sized>(
    tableau: &'static learndyn::integrate::Tableau,
    field: &mut F,
    t0: f64,
    y0: &[f64],
    t1: f64,
    times: &[f64],
    opts: &learndyn::integrate::Options,
    ws: &mut learndyn::integrate::Workspace,
    on_save: &mut dyn FnMut(f64, &[f64]),
) -> Result<learndyn::integrate::Solution, learndyn::integrate::IntegrateError> {
    use learndyn::integrate::{solve, Ivp, Method, Output};
    solve(
        &Method::Explicit(tableau),
        field,
        &Ivp::new(t0, y0, t1),
        opts,
        ws,
        &mut Output::at_times(times, on_save),
    )
}
