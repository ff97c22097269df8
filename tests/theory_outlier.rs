//! The outlier-eigenvalue model of learning to integrate (theory/outlier.md OL-1..OL-8;
//! reference notes §5.2, T5.4-T5.7, checks B1-B2): closed-form losses against quadrature and
//! long lag sums, gradients against central differences, the reduced flows against the
//! reference values B1-B2 and against full-matrix gradient descent, exactness of the aligned
//! reduction, fixed points, and the stiff small-`c_star` limit.
mod common;
use common::*;
use learndyn::integrate::{quad, solve, Atol, Ivp, Method, Options, Output, Workspace};
use learndyn::linalg::{self, Matrix};
use learndyn::random;
use learndyn::theory::outlier::{
    aligned_params, full_matrix_loss_grad, project_aligned, ContinuousOutlier, DiscreteOutlier,
    LagWeights, RateOutlier,
};
use proptest::prelude::*;

fn tight() -> Options {
    Options {
        rtol: TIGHT_RTOL,
        atol: Atol::Scalar(TIGHT_ATOL),
        ..Options::default()
    }
}

/// Solve a reduced flow from `y0` and return the states at `times` (dop853, tight tolerances).
fn flow_at<F: learndyn::integrate::VectorField>(
    f: &mut F,
    y0: [f64; 3],
    times: &[f64],
) -> Vec<[f64; 3]> {
    let mut ws = Workspace::new(3);
    let mut saved = Vec::new();
    let mut cb = |_t: f64, y: &[f64]| saved.push([y[0], y[1], y[2]]);
    let t1 = *times.last().unwrap();
    solve(
        &Method::parse("dop853").unwrap(),
        f,
        &Ivp::new(0.0, &y0, t1),
        &tight(),
        &mut ws,
        &mut Output::at_times(times, &mut cb),
    )
    .unwrap();
    saved
}

/// A random unit vector of length `n` (seeded).
fn unit_vector(seed: u64, n: usize) -> Vec<f64> {
    let mut rng = random::rng(seed, random::stream::INIT);
    let g = random::gaussian_matrix(&mut rng, n, 1).into_vec();
    let nr = g.iter().map(|x| x * x).sum::<f64>().sqrt();
    g.iter().map(|x| x / nr).collect()
}

/// Central difference of `f` at `x` along coordinate `i`, step `fd_step() * max(1, |x_i|)`.
fn central(f: &mut dyn FnMut(&[f64]) -> f64, x: &[f64], i: usize) -> f64 {
    let h = fd_step() * x[i].abs().max(1.0);
    let mut xp = x.to_vec();
    let mut xm = x.to_vec();
    xp[i] += h;
    xm[i] -= h;
    (f(&xp) - f(&xm)) / (xp[i] - xm[i])
}

// ---------------------------------------------------------------------------------------------
// OL-2: continuous closed form vs quadrature.

/// OL-2 (T5.5): the closed form equals Gauss-Kronrod quadrature of
/// `1/2 int_0^inf (A e^{-c tau} - e^{-c* tau})^2 dtau` (mapped to [0, 1) by
/// `tau = x/(1-x)`). Quadrature to an absolute `1e-14 * scale`, where `scale = A^2/(4c) +
/// 1/(4c*)` bounds the sizes of the terms; the closed form (a handful of operations on numbers
/// of size `scale`) is exact to ~10 eps * scale. We require `1e-12 * scale`.
#[test]
fn continuous_loss_matches_quadrature() {
    for &(a, c, cs) in &[
        (1.0, 0.1, 0.1),
        (0.3, 1.0, 0.1),
        (2.5, 0.5, 0.05),
        (-0.7, 2.0, 1.3),
        (1.2, 0.02, 0.3),
        (0.0, 1.0, 0.5),
    ] {
        let m = ContinuousOutlier::new(cs).unwrap();
        let closed = m.loss(&[a, 1.0, 1.0 - c]);
        let scale = a * a / (4.0 * c) + 1.0 / (4.0 * cs);
        let mut f = |x: f64| {
            let tau = x / (1.0 - x);
            let e = a * (-c * tau).exp() - (-cs * tau).exp();
            0.5 * e * e / ((1.0 - x) * (1.0 - x))
        };
        let q = quad::integrate(&mut f, 0.0, 1.0, 1e-14 * scale);
        println!("OL-2 A={a} c={c} c*={cs}: closed {closed:.15e} quad {q:.15e}");
        assert!(
            (closed - q).abs() <= 1e-12 * scale,
            "A={a} c={c} c*={cs}: {closed} vs {q}"
        );
    }
    // The reference's spot value of the full matrix loss (T5.5 note): 2.490934 is not tied to
    // a stated point, so it is not checked here.
}

// ---------------------------------------------------------------------------------------------
// OL-4: discrete closed form vs a long explicit lag sum.

/// OL-4 (T5.7): the infinite-lag closed form equals `1/2 sum_{k<K} (A lambda^k - gamma^k)^2`
/// with `K = 20000` (the tail is below `0.95^40000 ~ 1e-891`, i.e. zero in f64). Summing `K`
/// nonnegative terms in order accumulates rounding below `K eps` relative in the worst case,
/// ~`sqrt(K) eps` typically; we require `1e-12` relative (the terms that matter are the first
/// few hundred, so `~500 eps`).
#[test]
fn discrete_infinite_loss_matches_long_sum() {
    for &(a, l, gm) in &[
        (1.0, 0.9, 0.9),
        (0.2, 0.05, 0.9),
        (1.7, -0.6, 0.3),
        (-0.4, 0.95, -0.95),
        (1.0, 0.5, 0.0),
    ] {
        let m = DiscreteOutlier::new(gm, LagWeights::Infinite).unwrap();
        let closed = m.loss(&[a, 1.0, l]);
        let mut sum = 0.0;
        let (mut lk, mut gk) = (1.0f64, 1.0f64);
        for _ in 0..20000 {
            let e = a * lk - gk;
            sum += e * e;
            lk *= l;
            gk *= gm;
        }
        let sum = 0.5 * sum;
        println!("OL-4 A={a} lambda={l} gamma={gm}: closed {closed:.15e} sum {sum:.15e}");
        assert!(
            (closed - sum).abs() <= 1e-12 * sum.max(1e-300),
            "{closed} vs {sum}"
        );
    }
    // At the optimum the residual form is exactly zero.
    let m = DiscreteOutlier::new(0.9, LagWeights::Infinite).unwrap();
    assert_eq!(m.loss(&[1.0, 1.0, 0.9]).to_bits(), 0.0f64.to_bits());
}

/// Domain of OL-2, OL-4 and OL-6: NaN (not a panic) outside it, and errors from the constructors.
#[test]
fn out_of_domain_is_nan_or_error() {
    assert!(ContinuousOutlier::new(0.0).is_err());
    assert!(ContinuousOutlier::new(f64::NAN).is_err());
    assert!(DiscreteOutlier::new(1.0, LagWeights::Infinite).is_err());
    assert!(DiscreteOutlier::new(0.5, LagWeights::Finite { steps: 0 }).is_err());
    assert!(DiscreteOutlier::new(1.0, LagWeights::Finite { steps: 10 }).is_ok());
    let c = ContinuousOutlier::new(0.1).unwrap();
    assert!(c.loss(&[1.0, 1.0, 1.0]).is_nan());
    let mut g = [0.0; 3];
    c.gradient(&[1.0, 1.0, 1.5], &mut g);
    assert!(g.iter().all(|x| x.is_nan()));
    let d = DiscreteOutlier::new(0.5, LagWeights::Infinite).unwrap();
    assert!(d.loss(&[1.0, 1.0, -1.0]).is_nan());
    let r = unit_vector(1, 3);
    let (w, u, v) = aligned_params(&[1.0, 1.0, 1.2], &r).unwrap();
    assert!(full_matrix_loss_grad(&w, &u, &v, 0.5, &LagWeights::Infinite).is_err());
    assert!(full_matrix_loss_grad(&w, &u, &v, 0.5, &LagWeights::Finite { steps: 7 }).is_ok());
    assert!(full_matrix_loss_grad(&w, &u[..2], &v, 0.5, &LagWeights::Infinite).is_err());
    assert!(aligned_params(&[1.0, 1.0, 0.5], &[1.0, 1.0]).is_err());
}

// ---------------------------------------------------------------------------------------------
// Gradients vs central differences (OL-3, OL-4, OL-5, OL-6).

/// Compare `grad` with central differences of `loss`; tolerance `FD_RTOL * max(|g|, |L|, 1)`
/// (see `common::fd_step`: the truncation error is `h^2 |L'''|` relative to the loss scale).
fn check_fd(loss: &mut dyn FnMut(&[f64]) -> f64, x: &[f64], grad: &[f64], what: &str) {
    let l0 = loss(x).abs();
    for (i, &gi) in grad.iter().enumerate().take(x.len()) {
        let fd = central(loss, x, i);
        let tol = FD_RTOL * gi.abs().max(l0).max(1.0);
        assert!(
            (fd - gi).abs() <= tol,
            "{what}: component {i}: analytic {gi} vs fd {fd} (tol {tol:e}) at {x:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// OL-3: the continuous gradient equals central differences of OL-2 (moderate domain
    /// `c in [0.2, 2]`, `c* in [0.1, 1]`, where the third derivatives are O(1/c^4) <= 625).
    #[test]
    fn continuous_gradient_fd(al in -1.5f64..1.5, be in -1.5f64..1.5, c in 0.2f64..2.0,
                              cs in 0.1f64..1.0) {
        let m = ContinuousOutlier::new(cs).unwrap();
        let y = [al, be, 1.0 - c];
        let mut g = [0.0; 3];
        m.gradient(&y, &mut g);
        check_fd(&mut |x| m.loss(x), &y, &g, "continuous");
    }

    /// OL-4/OL-5: the discrete gradients (infinite and finite lag weights) equal central
    /// differences of the losses.
    #[test]
    fn discrete_gradient_fd(al in -1.5f64..1.5, be in -1.5f64..1.5, l in -0.8f64..0.8,
                            gm in -0.9f64..0.9, steps in 1usize..40) {
        for weights in [LagWeights::Infinite, LagWeights::Finite { steps }] {
            let m = DiscreteOutlier::new(gm, weights).unwrap();
            let y = [al, be, l];
            let mut g = [0.0; 3];
            m.gradient(&y, &mut g);
            check_fd(&mut |x| m.loss(x), &y, &g, &format!("{weights:?}"));
        }
    }

    /// OL-6: the full-matrix gradients (BPTT recursion) equal central differences of the
    /// full-matrix loss at random, non-aligned `(W, u, v)` with `||W||_F = 0.8` (so the
    /// infinite lag sum converges).
    #[test]
    fn full_matrix_gradient_fd(seed in 0u64..1000, n in 1usize..5, steps in 1usize..30,
                               gm in -0.9f64..0.9) {
        let mut rng = random::rng(seed, random::stream::INIT);
        let g = random::gaussian_matrix(&mut rng, n, n);
        let w = g.clone().scale(0.8 / g.norm_fro());
        let u = random::gaussian_matrix(&mut rng, n, 1).into_vec();
        let v = random::gaussian_matrix(&mut rng, n, 1).into_vec();
        for weights in [LagWeights::Infinite, LagWeights::Finite { steps }] {
            let pack = |w: &Matrix, u: &[f64], v: &[f64]| -> Vec<f64> {
                w.as_slice().iter().chain(u).chain(v).copied().collect()
            };
            let mut loss = |x: &[f64]| {
                let w = Matrix::from_col_major(n, n, x[..n * n].to_vec()).unwrap();
                full_matrix_loss_grad(&w, &x[n * n..n * n + n], &x[n * n + n..], gm, &weights)
                    .unwrap()
                    .loss
            };
            let r = full_matrix_loss_grad(&w, &u, &v, gm, &weights).unwrap();
            let x = pack(&w, &u, &v);
            let grad = pack(&r.dw, &r.du, &r.dv);
            check_fd(&mut loss, &x, &grad, &format!("full {weights:?}"));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// OL-7: the aligned manifold is invariant; the reduction is exact.

/// Size of the lag terms entering a gradient at an aligned state:
/// `S = max(1, |alpha|, |beta|)^2 * sum_k (1 + k)(|A lambda^k| + |gamma|^k)` over the `K` lags
/// summed. Each lag term of the full-matrix recursion and of the reduced sums is formed with
/// O(N) flops, so both are exact to a few `N eps` per term, and at most `~N K eps S` overall;
/// the tests allow `8 N K eps S`.
fn lag_scale(y: [f64; 3], gm: f64, lags: usize) -> f64 {
    let a = y[0] * y[1];
    let s: f64 = (0..lags)
        .map(|k| (1.0 + k as f64) * ((a * y[2].powi(k as i32)).abs() + gm.abs().powi(k as i32)))
        .sum();
    y[0].abs().max(y[1].abs()).max(1.0).powi(2) * s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// OL-7: at an aligned point (OL-1), the full-matrix gradient equals the reduced gradient
    /// lifted back, `(dW, du, dv) = (g_lambda r r^T, g_alpha r, g_beta r)`, and the full loss
    /// equals the reduced loss, for infinite and finite lag weights. Tolerance `8 N K eps S`
    /// (`lag_scale`): rounding of `K` lag terms of size up to `S`, each from O(N) flops.
    #[test]
    fn reduction_is_exact(seed in 0u64..1000, n in 1usize..6, al in -1.5f64..1.5,
                          be in -1.5f64..1.5, l in -0.9f64..0.9, gm in -0.9f64..0.9,
                          steps in 1usize..40) {
        let r = unit_vector(seed, n);
        let y = [al, be, l];
        for weights in [LagWeights::Infinite, LagWeights::Finite { steps }] {
            let m = DiscreteOutlier::new(gm, weights).unwrap();
            let mut g = [0.0; 3];
            m.gradient(&y, &mut g);
            let (w, u, v) = aligned_params(&y, &r).unwrap();
            let full = full_matrix_loss_grad(&w, &u, &v, gm, &weights).unwrap();
            let (lw, lu, lv) = aligned_params(&g, &r).unwrap();
            let tol = 8.0 * n as f64 * full.lags as f64 * EPS * lag_scale(y, gm, full.lags);
            let dl = (full.loss - m.loss(&y)).abs();
            prop_assert!(dl <= tol, "{:?}: loss {} vs {} (tol {:e})", weights, full.loss, m.loss(&y), tol);
            let dw = full.dw.sub(&lw).max_abs();
            let du = full.du.iter().zip(&lu).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            let dv = full.dv.iter().zip(&lv).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            prop_assert!(dw.max(du).max(dv) <= tol,
                "{:?}: gradient mismatch dW {:e} du {:e} dv {:e} (tol {:e})", weights, dw, du, dv, tol);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// B1: continuous-time reduced flow.

/// B1 (T5.6, the OL-3 flow): c* = 0.1 from alpha = beta = 0.1, lambda = 0: (A, lambda) at t = 0.5,
/// 1, 2, 3 to the printed digits; converged to (1, 0.9) by t = 5.
#[test]
fn b1_continuous_sigmoidal_learning() {
    let mut m = ContinuousOutlier::new(0.1).unwrap();
    let times = [0.5, 1.0, 2.0, 3.0, 5.0];
    let ys = flow_at(&mut m, [0.1, 0.1, 0.0], &times);
    let want = [
        ("0.0247", "0.0067"),
        ("0.0607", "0.0235"),
        ("0.3575", "0.1811"),
        ("0.9971", "0.9003"),
    ];
    for (y, (wa, wl)) in ys.iter().zip(want) {
        println!("B1: A = {:.6}, lambda = {:.6}", y[0] * y[1], y[2]);
        assert_printed(y[0] * y[1], wa);
        assert_printed(y[2], wl);
    }
    // Converged by t = 5 to the precision of the printed B1 values (4 decimals, i.e. half a
    // unit = 5e-5), the precision at which the reference states it. At t = 3 the distance is
    // ~3e-3 and the slowest rate at the fixed point is 4.90 (OL-8), so e^{-2 * 4.9} ~ 6e-5
    // shrinks it to ~2e-7 by t = 5 (measured: |A - 1| = 1.6e-7, |lambda - 0.9| = 1.6e-8).
    let y5 = ys[4];
    println!(
        "B1 t=5: A - 1 = {:e}, lambda - 0.9 = {:e}",
        y5[0] * y5[1] - 1.0,
        y5[2] - 0.9
    );
    assert_printed(y5[0] * y5[1], "1.0000");
    assert_printed(y5[2], "0.9000");
}

// ---------------------------------------------------------------------------------------------
// B2: discrete-time full-matrix GD vs the reduced ODE.

struct GdRun {
    state: [f64; 3],
    max_leak: f64,
    max_scale: f64,
    steps: usize,
}

/// Full-matrix GD on `(W, u, v)` from the aligned init `[alpha, beta, lambda]` along `r` for
/// time `t_end = eta * steps`, with infinite lag weights and target `gamma`.
fn full_gd(r: &[f64], y0: [f64; 3], gamma: f64, eta: f64, t_end: f64) -> GdRun {
    let (mut w, mut u, mut v) = aligned_params(&y0, r).unwrap();
    let steps = (t_end / eta).round() as usize;
    let mut max_leak: f64 = 0.0;
    let mut max_scale: f64 = 1.0;
    for _ in 0..steps {
        let g = full_matrix_loss_grad(&w, &u, &v, gamma, &LagWeights::Infinite).unwrap();
        w = w.add_scaled(&g.dw, -eta);
        for (x, d) in u.iter_mut().zip(&g.du) {
            *x -= eta * d;
        }
        for (x, d) in v.iter_mut().zip(&g.dv) {
            *x -= eta * d;
        }
        let p = project_aligned(&w, &u, &v, r).unwrap();
        max_leak = max_leak.max(p.leak);
        let nu = u.iter().map(|x| x * x).sum::<f64>().sqrt();
        let nv = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        max_scale = max_scale.max(w.norm_fro()).max(nu).max(nv);
    }
    GdRun {
        state: project_aligned(&w, &u, &v, r).unwrap().state,
        max_leak,
        max_scale,
        steps,
    }
}

/// B2 (T5.7): OL-4's reduced ODE and GD on OL-6's full-matrix gradient (OL-7); gamma = 0.9, init
/// alpha = beta = 0.1, lambda = 0.05, N = 4, random unit r.
#[test]
fn b2_discrete_full_gd_vs_reduced_ode() {
    let r = unit_vector(2025, 4);
    let y0 = [0.1, 0.1, 0.05];
    let gamma = 0.9;
    let mut m = DiscreteOutlier::new(gamma, LagWeights::Infinite).unwrap();
    let ode = flow_at(&mut m, y0, &[2.0])[0];
    println!("B2 ODE t=2: {ode:?}");
    for (x, want) in ode.iter().zip(["0.7263", "0.7263", "0.4135"]) {
        assert_printed(*x, want);
    }
    let gd = full_gd(&r, y0, gamma, 0.002, 2.0);
    println!(
        "B2 GD eta=0.002 t=2: {:?}, max leak {:e} over {} steps (scale {})",
        gd.state, gd.max_leak, gd.steps, gd.max_scale
    );
    for (x, want) in gd.state.iter().zip(["0.7247", "0.7247", "0.4105"]) {
        assert_printed(*x, want);
    }
    // Off-manifold leak (OL-7): the exact flow has none (the manifold is invariant), so the
    // leak is rounding. Each GD step adds at most ~4 eps * scale off the manifold (the update's
    // subtraction and the O(N)-flop products that form the rank-1 terms), so a worst-case,
    // coherent linear accumulation gives 4 eps * scale * steps; we allow twice that. The
    // linearized off-manifold dynamics could amplify the rounding (second derivatives of the
    // lag maps weighted by the errors e_k, O(1) early on); this bound does not include that
    // factor: it relies on the linear accumulation being pessimistic by orders of magnitude
    // (measured: 7.7e-16 vs the bound 1.8e-12 at t = 2).
    let bound = 8.0 * EPS * gd.max_scale * gd.steps as f64;
    assert!(
        gd.max_leak <= bound,
        "leak {:e} > bound {bound:e}",
        gd.max_leak
    );
}

/// B2: the GD-vs-ODE difference at t = 2 is O(eta) (C-6, T0.2): slope of log difference vs
/// log eta over eta = 0.004, 0.002, 0.001 within 0.1 of 1.
#[test]
fn b2_gd_converges_to_flow_at_first_order() {
    let r = unit_vector(2025, 4);
    let y0 = [0.1, 0.1, 0.05];
    let mut m = DiscreteOutlier::new(0.9, LagWeights::Infinite).unwrap();
    let ode = flow_at(&mut m, y0, &[2.0])[0];
    let etas = [0.004, 0.002, 0.001];
    let diffs: Vec<f64> = etas
        .iter()
        .map(|&eta| {
            let gd = full_gd(&r, y0, 0.9, eta, 2.0);
            gd.state
                .iter()
                .zip(&ode)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max)
        })
        .collect();
    let p = slope(&etas, &diffs);
    println!("B2 GD-ODE differences {diffs:?}, observed order {p}");
    assert!((p - 1.0).abs() <= 0.1, "order {p}");
}

/// B2: both the reduced ODE and full GD (eta = 0.002) converge to (1, 1, 0.9) by t = 20.
/// Tolerance 1e-6: the ODE is integrated at rtol 1e-12 and the slowest nonzero rate at the
/// fixed point (OL-8 Hessian, eigenvalue 5.71) makes the distance e^{-5.7 * 15} ~ 1e-37 after
/// the t ~ 5 transient; GD has the same fixed point (a zero of the gradient) and contracts at
/// rate (1 - eta mu) per step for every Hessian eigenvalue mu < 2/eta = 1000 (the largest is
/// 268.7 at the fixed point, OL-8). eta = 0.01 exceeds 2/268.7 = 0.0074 and is reported, not
/// asserted: GD then does not settle.
#[test]
fn b2_converges_to_fixed_point() {
    let r = unit_vector(2025, 4);
    let y0 = [0.1, 0.1, 0.05];
    let mut m = DiscreteOutlier::new(0.9, LagWeights::Infinite).unwrap();
    let times = [5.0, 10.0, 20.0];
    let ys = flow_at(&mut m, y0, &times);
    for (t, y) in times.iter().zip(&ys) {
        println!("B2 ODE t={t}: {y:?}");
    }
    let gd = full_gd(&r, y0, 0.9, 0.002, 20.0);
    println!(
        "B2 GD eta=0.002 t=20: {:?} (leak {:e})",
        gd.state, gd.max_leak
    );
    for (x, want) in ys[2].iter().zip([1.0, 1.0, 0.9]) {
        assert!((x - want).abs() <= 1e-6, "ODE {:?}", ys[2]);
    }
    for (x, want) in gd.state.iter().zip([1.0, 1.0, 0.9]) {
        assert!((x - want).abs() <= 1e-6, "GD {:?}", gd.state);
    }
    let unstable = full_gd(&r, y0, 0.9, 0.01, 20.0);
    println!(
        "B2 GD eta=0.01 t=20 (above 2/lambda_max): {:?}",
        unstable.state
    );
}

// ---------------------------------------------------------------------------------------------
// OL-8: fixed points.

/// OL-8: A = 1, c = c* (continuous) and A = 1, lambda = gamma (discrete, infinite weights)
/// have zero gradient, also unbalanced (alpha != beta); the full-matrix gradient vanishes there
/// too.
#[test]
fn fixed_points_have_zero_gradient() {
    let mut g = [0.0; 3];
    for &cs in &[0.01, 0.1, 0.7] {
        let m = ContinuousOutlier::new(cs).unwrap();
        for (al, be) in [(1.0, 1.0), (2.0, 0.5), (0.25, 4.0)] {
            m.gradient(&[al, be, 1.0 - cs], &mut g);
            // Residual forms: (A - 1) and (c - c*) are exact to one rounding of 1 - cs.
            let tol = 4.0 * EPS / (cs * cs) * (al.abs() + be.abs());
            assert!(g.iter().all(|x| x.abs() <= tol), "c*={cs}: {g:?}");
            assert!(m.loss(&[al, be, 1.0 - cs]).abs() <= tol);
        }
    }
    for &gm in &[-0.5, 0.3, 0.9] {
        let m = DiscreteOutlier::new(gm, LagWeights::Infinite).unwrap();
        for (al, be) in [(1.0, 1.0), (2.0, 0.5)] {
            m.gradient(&[al, be, gm], &mut g);
            assert!(g.iter().all(|x| x.abs() <= EPS), "gamma={gm}: {g:?}");
            let r = unit_vector(7, 3);
            let (w, u, v) = aligned_params(&[al, be, gm], &r).unwrap();
            let full = full_matrix_loss_grad(&w, &u, &v, gm, &LagWeights::Infinite).unwrap();
            let tol = 8.0 * 3.0 * full.lags as f64 * EPS * lag_scale([al, be, gm], gm, full.lags);
            assert!(
                full.dw.max_abs() <= tol,
                "{:e} vs {tol:e}",
                full.dw.max_abs()
            );
            assert!(full.du.iter().chain(&full.dv).all(|x| x.abs() <= tol));
        }
    }
}

/// Hessian in `[alpha, beta, lambda]` at a balanced fixed point (OL-8), from the closed-form
/// second derivatives `(L_AA, L_Ax, L_xx)` in `(A, x)`: eigenvalues 0 (the conserved
/// `alpha^2 - beta^2` direction) and those of `[[2 L_AA, sqrt2 L_Ax], [sqrt2 L_Ax, L_xx]]`.
fn hessian_eigs(laa: f64, lax: f64, lxx: f64) -> [f64; 3] {
    let (a, b, d) = (2.0 * laa, 2f64.sqrt() * lax, lxx);
    let (m, r) = (0.5 * (a + d), (0.25 * (a - d) * (a - d) + b * b).sqrt());
    [0.0, m - r, m + r]
}

/// OL-8: the Hessian of the reduced loss at the fixed point, by central differences of the
/// analytic gradient, has the closed-form eigenvalues (discrete gamma = 0.9: 0, 5.711, 268.70,
/// giving the GD stability limit eta < 2/268.70 = 0.00744; continuous c* = 0.1: 0, 4.900,
/// 255.10). Tolerance `FD_RTOL * lambda_max` (central differences of a gradient, see
/// `common::fd_step`).
#[test]
fn fixed_point_hessian() {
    let fd_hessian = |grad: &dyn Fn(&[f64], &mut [f64]), y: [f64; 3]| {
        let mut h = Matrix::zeros(3, 3);
        for j in 0..3 {
            let step = fd_step() * y[j].abs().max(1.0);
            let (mut yp, mut ym) = (y, y);
            yp[j] += step;
            ym[j] -= step;
            let (mut gp, mut gm) = ([0.0; 3], [0.0; 3]);
            grad(&yp, &mut gp);
            grad(&ym, &mut gm);
            for i in 0..3 {
                h.set(i, j, (gp[i] - gm[i]) / (yp[j] - ym[j]));
            }
        }
        let sym = Matrix::from_fn(3, 3, |i, j| 0.5 * (h.get(i, j) + h.get(j, i)));
        linalg::sym_eig(sym.view()).unwrap().0
    };
    let gm = 0.9;
    let d = DiscreteOutlier::new(gm, LagWeights::Infinite).unwrap();
    let p = 1.0 - gm * gm;
    let want_d = hessian_eigs(1.0 / p, gm / (p * p), (1.0 + gm * gm) / (p * p * p));
    let got_d = fd_hessian(&|y, g| d.gradient(y, g), [1.0, 1.0, gm]);
    let cs = 0.1;
    let c = ContinuousOutlier::new(cs).unwrap();
    // x = lambda = 1 - c: L_Ax = -L_Ac = 1/(4c^2), L_xx = L_cc = 1/(4c^3).
    let want_c = hessian_eigs(0.5 / cs, 0.25 / (cs * cs), 0.25 / (cs * cs * cs));
    let got_c = fd_hessian(&|y, g| c.gradient(y, g), [1.0, 1.0, 1.0 - cs]);
    println!("OL-8 Hessian eigenvalues: discrete {got_d:?} (closed {want_d:?}); continuous {got_c:?} (closed {want_c:?})");
    for (got, want) in [(got_d, want_d), (got_c, want_c)] {
        let tol = FD_RTOL * want[2];
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() <= tol, "{got:?} vs {want:?}");
        }
    }
    assert!(2.0 / want_d[2] < 0.0075 && 2.0 / want_d[2] > 0.0074);
}

/// OL-8, finite lag weights: the fixed point reached by the reduced flow from the B2 init,
/// for several sequence lengths T (and the perfect integrator gamma = 1, which only finite
/// weights allow). Reported, and checked to be a stationary point of the loss.
#[test]
fn finite_weights_fixed_point() {
    for &gm in &[0.9, 1.0] {
        for &steps in &[1usize, 2, 5, 10, 50] {
            let mut m = DiscreteOutlier::new(gm, LagWeights::Finite { steps }).unwrap();
            let y = flow_at(&mut m, [0.1, 0.1, 0.05], &[200.0])[0];
            let mut g = [0.0; 3];
            m.gradient(&y, &mut g);
            let (a, l) = (y[0] * y[1], y[2]);
            let loss = m.loss(&y);
            println!(
                "finite T={steps} gamma={gm}: A = {a:.12}, lambda = {l:.12}, L = {loss:e}, \
                 |grad| = {:e}",
                g.iter().map(|x| x.abs()).fold(0.0, f64::max)
            );
            // The flow reached a zero-loss point: states are accurate to ~1e-12 (rtol 1e-12),
            // where L = O(1e-24); 1e-18 leaves margin for the Hessian's size.
            assert!(loss <= 1e-18, "T={steps}: L = {loss:e}");
            // L = 1/2 sum w_k e_k^2 bounds each error: |A - 1| = |e_0| <= sqrt(2L/w_0).
            assert!((a - 1.0).abs() <= (2.0 * loss).sqrt() * (1.0 + 1e-9) + 4.0 * EPS);
            if steps == 1 {
                // Only lag 0 is weighted: dL/dlambda = 0 identically, lambda never moves.
                assert_eq!(l.to_bits(), 0.05f64.to_bits());
            } else {
                // |A lambda - gamma| = |e_1| <= sqrt(2L/w_1), w_1 = (T-1)/T.
                let w1 = (steps - 1) as f64 / steps as f64;
                let e1 = (2.0 * loss / w1).sqrt();
                let bound = (e1 + gm.abs() * (2.0 * loss).sqrt()) / a.abs() + 8.0 * EPS;
                assert!((l - gm).abs() <= bound, "T={steps}: lambda {l} vs {gm}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Stiffness.

/// Small c* makes the flow stiff near the optimum: the Hessian eigenvalues at the fixed point
/// are 0, 49.99 and 250050 for c* = 0.01 (OL-8 closed form, `hessian_eigs`), so an explicit
/// method's stable step is ~3.3/250050 ~ 1.3e-5 while the slow mode needs t ~ 1. c* = 0.01
/// integrates to convergence by t = 20 with `auto` and `ros2` (default rtol 1e-8, atol 1e-10).
/// Convergence tolerance 1e-6 = 100 rtol: near the fixed point the flow contracts, so the
/// global error stays within a modest multiple of the per-step tolerance. Step counts are
/// reported (dopri5's too, capped at 2e6 attempts), not asserted.
#[test]
fn stiff_small_c_star() {
    let cs = 0.01;
    let eigs = hessian_eigs(0.5 / cs, 0.25 / (cs * cs), 0.25 / (cs * cs * cs));
    println!("stiff: Hessian eigenvalues at the fixed point {eigs:?}");
    let y0 = [0.1, 0.1, 0.0];
    for name in ["auto", "ros2", "dopri5"] {
        let mut m = ContinuousOutlier::new(cs).unwrap();
        let mut ws = Workspace::new(3);
        let opts = Options {
            max_steps: 2_000_000,
            ..Options::default()
        };
        let res = solve(
            &Method::parse(name).unwrap(),
            &mut m,
            &Ivp::new(0.0, &y0, 20.0),
            &opts,
            &mut ws,
            &mut Output::end(),
        );
        match res {
            Ok(sol) => {
                let (a, l) = (sol.y_end[0] * sol.y_end[1], sol.y_end[2]);
                println!(
                    "stiff {name}: A - 1 = {:e}, lambda - 0.99 = {:e}, stats {:?}, switched at {:?}",
                    a - 1.0,
                    l - (1.0 - cs),
                    sol.stats,
                    sol.switched_to_stiff_at
                );
                if name != "dopri5" {
                    assert!((a - 1.0).abs() <= 1e-6 && (l - (1.0 - cs)).abs() <= 1e-6);
                }
            }
            Err(e) => {
                println!("stiff {name}: {e}");
                assert_eq!(name, "dopri5", "{name} must solve the stiff problem: {e}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// OL-9: the rate (Euler) RNN's outlier model.

/// OL-9: the rate model's gradient equals central differences of its loss (finite and
/// infinite lags), and with `alpha = 1`, `scale = 1` it is the discrete model exactly.
#[test]
fn rate_outlier_gradient_and_alpha_one() {
    for weights in [LagWeights::Infinite, LagWeights::Finite { steps: 17 }] {
        for (alpha, y) in [
            (0.3, [0.4, 0.7, 0.5]),
            (0.05, [1.3, -0.2, 0.8]),
            (1.0, [0.2, 0.3, 0.1]),
        ] {
            let m = RateOutlier::new(alpha, 0.7, 0.85, weights).unwrap();
            let mut g = [0.0; 3];
            m.gradient(&y, &mut g);
            check_fd(&mut |x: &[f64]| m.loss(x), &y, &g, "rate outlier");
        }
        let r = RateOutlier::new(1.0, 1.0, 0.85, weights).unwrap();
        let d = DiscreteOutlier::new(0.85, weights).unwrap();
        let y = [0.4, 0.7, 0.5];
        let (mut gr, mut gd) = ([0.0; 3], [0.0; 3]);
        r.gradient(&y, &mut gr);
        d.gradient(&y, &mut gd);
        assert_eq!(r.loss(&y).to_bits(), d.loss(&y).to_bits());
        for i in 0..3 {
            assert!(
                (gr[i] - gd[i]).abs() <= 4.0 * EPS * gd[i].abs(),
                "{i}: {gr:?} vs {gd:?}"
            );
        }
    }
}

/// OL-9 -> OL-2/OL-3: the rate RNN with step `a`, target amplitude `a` and decay
/// `gamma = e^{-c* a}` is the Euler discretization of the continuous model. Its loss over `a`
/// tends to OL-2 and its flow, read at time `t' / a`, to the continuous flow (B1's setting:
/// c* = 0.1, init 0.1, 0.1, 0), both at first order in `a`.
#[test]
fn rate_outlier_tends_to_the_continuous_model() {
    let c_star = 0.1;
    let cont = ContinuousOutlier::new(c_star).unwrap();
    let y = [0.6, 0.8, 0.5];
    let steps = [0.04, 0.02, 0.01];
    let mut loss_err = Vec::new();
    let mut flow_err = Vec::new();
    let mut c = cont;
    let reference = flow_at(&mut c, [0.1, 0.1, 0.0], &[2.0])[0];
    for &a in &steps {
        let mut m = RateOutlier::new(a, a, (-c_star * a).exp(), LagWeights::Infinite).unwrap();
        loss_err.push((m.loss(&y) / a - cont.loss(&y)).abs());
        let got = flow_at(&mut m, [0.1, 0.1, 0.0], &[2.0 / a])[0];
        flow_err.push(
            (0..3)
                .map(|i| (got[i] - reference[i]).abs())
                .fold(0.0, f64::max),
        );
    }
    let (pl, pf) = (slope(&steps, &loss_err), slope(&steps, &flow_err));
    eprintln!("rate -> continuous: loss errors {loss_err:?} (order {pl:.3}), flow errors {flow_err:?} (order {pf:.3})");
    assert!((pl - 1.0).abs() < ORDER_SLACK, "loss order {pl}");
    assert!((pf - 1.0).abs() < ORDER_SLACK, "flow order {pf}");
}
