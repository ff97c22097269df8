//! Closed forms of `theory/deep_linear.md` against the reference check values (S1-S7) and
//! against the reduced mode ODE integrated at tight tolerance (DL-5 .. DL-10).
mod common;
use common::*;
use learndyn::integrate::{tableau::DOPRI5, Atol, Options, Workspace};
use learndyn::model::init::mode_layer_scalars;
use learndyn::theory::deep_linear::*;

fn tight() -> Options {
    Options {
        rtol: TIGHT_RTOL,
        atol: Atol::Scalar(TIGHT_ATOL),
        ..Options::default()
    }
}

/// Integrate the reduced ODE (DL-5) for one mode from layer scalars `a0`, saving u at `times`.
fn reduced(s: f64, a0: &[f64], times: &[f64]) -> Vec<f64> {
    let depth = a0.len();
    let mut ode = ModeOde { s: vec![s], depth };
    let mut ws = Workspace::new(depth);
    let mut out = Vec::new();
    let t1 = times.iter().cloned().fold(0.0, f64::max);
    solve_at(
        &DOPRI5,
        &mut ode,
        0.0,
        a0,
        t1,
        times,
        &tight(),
        &mut ws,
        &mut |_, y| out.push(y.iter().product::<f64>()),
    )
    .unwrap();
    out
}

/// Checks DL-6 against the reference values S1.
#[test]
fn s1_logistic_values() {
    let expect = [
        (0.5, "0.0199586"),
        (1.0, "0.3557125"),
        (1.5, "2.189612"),
        (2.0, "2.945721"),
    ];
    for (t, u) in expect {
        assert_printed(balanced_two_layer(3.0, 1e-3, t), u);
    }
}

/// Checks DL-6's learning times (S2, S3) through DL-10's learning-time integral at L = 2.
#[test]
fn s2_s3_learning_times() {
    // S2: half-way time (1/6) ln 2999; S3: time from eps to s - eps. In layer scalars a = sqrt(u).
    let t_half = depth_time_to_reach(3.0, 2, 1e-3f64.sqrt(), 1.5f64.sqrt());
    assert_printed(t_half, "1.334339");
    let t_full = depth_time_to_reach(3.0, 2, 1e-3f64.sqrt(), (3.0 - 1e-3f64).sqrt());
    assert_printed(t_full, "2.668678");
}

/// Checks DL-10's plateau times against S4 (L = 2, 3, 4, 6).
#[test]
fn s4_depth_plateau_times() {
    // a0 = 0.1, s = 2, time to reach u = s/2.
    for (depth, expect) in [
        (2, "1.323326"),
        (3, "4.661328"),
        (4, "24.904556"),
        (6, "1250.0214"),
    ] {
        let a_half = 1.0f64.powf(1.0 / depth as f64);
        assert_printed(depth_time_to_reach(2.0, depth, 0.1, a_half), expect);
    }
}

/// Checks DL-8 against the reference values S5-S7.
#[test]
fn s5_s7_unbalanced_values() {
    assert_printed(unbalanced_two_layer(2.0, 1e-3, 0.5, 1.0), "1.5939810");
    assert_printed(unbalanced_two_layer(2.0, 1e-3, 4.0, 1.0), "1.9884651");
    assert_printed(unbalanced_two_layer(2.0, 0.0, 10.0, 1.0), "1.9999531");
}

/// Checks DL-7: balanced with `u0 < 0`, the mode decays monotonically to `0-`, as the reduced
/// ODE DL-5 does.
#[test]
fn sign_pitfall_negative_u0_decays_to_zero() {
    // Balanced, u0 < 0: stuck at the saddle, u -> 0- (never blows up).
    let mut prev = -1e-3;
    for k in 1..200 {
        let u = balanced_two_layer(3.0, -1e-3, k as f64 * 0.1);
        assert!(u.is_finite() && u < 0.0 && u > prev, "k={k}: {u}");
        prev = u;
    }
    let got = balanced_two_layer(3.0, -1e-3, 1.0);
    let ode = reduced(3.0, &mode_layer_scalars(-1e-3, 0.0, 2), &[1.0])[0];
    assert!(rel(got, ode, 1e-300) < CLOSED_VS_ODE);
}

/// Checks DL-8 (and DL-6 at lambda = 0) against the reduced ODE DL-5 at rtol 1e-12.
#[test]
fn two_layer_closed_forms_match_reduced_ode() {
    let times = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0];
    for &(s, u0, lambda) in &[
        (3.0, 1e-3, 0.0),
        (1.0, 0.2, 0.0),
        (2.0, 1e-3, 0.5),
        (2.0, 1e-3, -0.5),
        (2.0, -0.3, 1.5),
        (2.0, 0.0, 10.0),
        (0.5, 2.0, 0.3),
        (1.5, -0.05, 0.0),
    ] {
        let ode = reduced(s, &mode_layer_scalars(u0, lambda, 2), &times);
        for (t, u_ode) in times.iter().zip(ode) {
            let u = unbalanced_two_layer(s, u0, lambda, *t);
            assert!(
                (u - u_ode).abs() <= CLOSED_VS_ODE * u_ode.abs().max(s * 1e-3),
                "s={s} u0={u0} lambda={lambda} t={t}: closed {u} vs ode {u_ode}"
            );
        }
    }
}

/// Checks DL-10's inverted closed form of the DL-9 mode against the reduced ODE DL-5
/// (L = 2, 3, 4).
#[test]
fn depth_closed_form_matches_reduced_ode_l2_l3_l4() {
    for depth in [2usize, 3, 4] {
        for &(s, u0) in &[(2.0, 1e-3), (1.0, 0.1), (3.0, 0.5), (0.5, 1.5)] {
            let scal = mode_layer_scalars(u0, 0.0, depth);
            let t_end = 30.0 / s;
            let times: Vec<f64> = (1..=12).map(|k| t_end * k as f64 / 12.0).collect();
            let ode = reduced(s, &scal, &times);
            for (t, u_ode) in times.iter().zip(ode) {
                let u = balanced_depth(s, depth, u0, *t).unwrap();
                assert!(
                    rel(u, u_ode, 1e-300) < CLOSED_VS_ODE,
                    "L={depth} s={s} u0={u0} t={t}: closed {u} vs ode {u_ode}"
                );
            }
        }
    }
}

/// Checks DL-5 from balanced layer scalars against the single-scalar form DL-9.
#[test]
fn general_mode_ode_reduces_to_balanced_scalar_form() {
    // DL-5 from balanced layer scalars == DL-9 single-scalar ODE.
    for depth in [2usize, 3, 5] {
        let s = vec![2.0, 1.0];
        let a0 = 0.3f64;
        let mut gen = ModeOde {
            s: s.clone(),
            depth,
        };
        let mut bal = BalancedModeOde {
            s: s.clone(),
            depth,
        };
        let y_gen: Vec<f64> = vec![a0; 2 * depth];
        let y_bal = vec![a0; 2];
        let mut ws_g = Workspace::new(y_gen.len());
        let mut ws_b = Workspace::new(2);
        let g = solve_at(
            &DOPRI5,
            &mut gen,
            0.0,
            &y_gen,
            3.0,
            &[],
            &tight(),
            &mut ws_g,
            &mut |_, _| {},
        )
        .unwrap();
        let b = solve_at(
            &DOPRI5,
            &mut bal,
            0.0,
            &y_bal,
            3.0,
            &[],
            &tight(),
            &mut ws_b,
            &mut |_, _| {},
        )
        .unwrap();
        for alpha in 0..2 {
            let u_gen = gen.strength(&g.y_end, alpha);
            let u_bal = b.y_end[alpha].powi(depth as i32);
            assert!(rel(u_gen, u_bal, 1e-300) < CLOSED_VS_ODE, "L={depth}");
        }
    }
}

/// Checks the limits of DL-6, DL-8 and DL-10: `u(0) = u0` and `u(t) -> s`.
#[test]
fn limits_t0_and_infinity() {
    assert!(rel(unbalanced_two_layer(2.0, 0.1, 0.7, 0.0), 0.1, 0.0) < 1e2 * EPS);
    assert!(rel(balanced_two_layer(2.0, 0.1, 0.0), 0.1, 0.0) < 1e2 * EPS);
    assert!(rel(unbalanced_two_layer(2.0, 0.1, 0.7, 1e3), 2.0, 0.0) < 1e2 * EPS);
    assert!(rel(balanced_depth(2.0, 4, 0.1, 1e4).unwrap(), 2.0, 0.0) < 1e3 * EPS);
    assert!(rel(balanced_depth(2.0, 3, 0.1, 0.0).unwrap(), 0.1, 0.0) < 1e2 * EPS);
}

/// Checks DL-3's layer scalars: their product is `u0` and their balance is `lambda`.
#[test]
fn layer_scalars_have_product_and_balance() {
    for depth in [2usize, 3, 4, 6] {
        for &(u0, lambda) in &[
            (1e-3, 0.0),
            (0.5, 1.0),
            (-0.2, 0.3),
            (2.0, -0.1),
            (0.0, 0.5),
        ] {
            let a = mode_layer_scalars(u0, lambda, depth);
            let p: f64 = a.iter().product();
            assert!(
                (p - u0).abs() <= 1e3 * EPS * u0.abs().max(1e-300) + 1e-300,
                "{depth} {u0} {lambda}: {p}"
            );
            for l in 0..depth - 1 {
                let bal = a[l + 1] * a[l + 1] - a[l] * a[l];
                assert!(
                    (bal - lambda).abs() < 1e3 * EPS * (1.0 + lambda.abs() + a[l + 1] * a[l + 1])
                );
            }
        }
    }
}
