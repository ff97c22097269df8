//! Linear-RNN learning dynamics (theory/lrnn.md LR-1..LR-3): the per-mode reduced ODE against
//! the reference values P1-P4 and against the full matrix gradient flow from aligned inits.
mod common;
use common::*;
use learndyn::integrate::{solve, Atol, Crossing, Event, Ivp, Method, Options, Output, Workspace};
use learndyn::linalg::{self, Matrix};
use learndyn::random;
use learndyn::theory::lrnn::{lag_products, FullLinearRnnFlow, LrnnModes};

fn tight() -> Options {
    Options {
        rtol: TIGHT_RTOL,
        atol: Atol::Scalar(TIGHT_ATOL),
        ..Options::default()
    }
}

fn reduced_at(s: Vec<f64>, init: [f64; 3], t: f64) -> Vec<f64> {
    let lags = s.len();
    let mut f = LrnnModes { s: vec![s] };
    let mut ws = Workspace::new(3);
    let sol = solve(
        &Method::parse("dop853").unwrap(),
        &mut f,
        &Ivp::new(0.0, &init, t),
        &tight(),
        &mut ws,
        &mut Output::end(),
    )
    .unwrap();
    lag_products(&sol.y_end, 0, lags)
}

/// Times at which each lag product first reaches half of its target (events, LR-2).
fn half_times(s: Vec<f64>, init: [f64; 3], t_end: f64) -> Vec<f64> {
    let lags = s.len();
    let targets = s.clone();
    let mut f = LrnnModes { s: vec![s] };
    let mut ws = Workspace::new(3);
    let mut out = Output::end();
    for (k, &sk) in targets.iter().enumerate() {
        out = out.with_event(Event::new(
            move |_, y: &[f64]| y[0] * y[1].powi(k as i32) * y[2] - 0.5 * sk,
            Crossing::Rising,
        ));
    }
    let sol = solve(
        &Method::parse("dop853").unwrap(),
        &mut f,
        &Ivp::new(0.0, &init, t_end),
        &tight(),
        &mut ws,
        &mut out,
    )
    .unwrap();
    (0..lags)
        .map(|k| {
            sol.events
                .iter()
                .find(|h| h.index == k)
                .map(|h| h.t)
                .unwrap_or(f64::NAN)
        })
        .collect()
}

/// Checks LR-2 against P1: lag products at t = 5, and the geometric target at late times.
#[test]
fn p1_geometric_mode_products() {
    let s = vec![1.0, 0.5, 0.25, 0.125];
    let got = reduced_at(s.clone(), [0.05, 0.1, 0.05], 5.0);
    for (g, want) in got.iter().zip(["0.99721", "0.50009", "0.25079", "0.12577"]) {
        assert_printed(*g, want);
    }
    let late = reduced_at(s.clone(), [0.05, 0.1, 0.05], 40.0);
    for (g, w) in late.iter().zip(&s) {
        assert!((g - w).abs() < 1e-8, "{g} vs {w}");
    }
}

/// Checks LR-2 against P2: a lag-0-only target is learned as the two-layer logistic.
#[test]
fn p2_lag_zero_mode_is_the_two_layer_logistic() {
    for (s0, want) in [(1.0, "4.6052"), (2.0, "2.4759")] {
        let t = half_times(vec![s0, 0.0, 0.0, 0.0], [0.01, 0.01, 0.01], 20.0);
        assert_printed(t[0], want);
    }
}

/// Checks LR-2 against P3: the half-times of the lag products increase with the lag.
#[test]
fn p3_temporal_precedence() {
    for (gamma, want) in [
        (0.5, ["4.513", "5.003", "5.208", "5.334"]),
        (0.9, ["4.344", "4.596", "4.671", "4.712"]),
    ] {
        let s: Vec<f64> = (0..4).map(|k| gamma_pow(gamma, k)).collect();
        let t = half_times(s, [0.01, 0.01, 0.01], 30.0);
        // The reference values sit 0 to 0.0009 ABOVE these event-located times, never below:
        // they are the first point of a time grid of step ~1e-3 after the crossing, while the
        // events here are located to ~1e-10 on the dense output (P2, which has an analytic
        // value, matches to the printed digits). So: ref - 1e-3 < t <= ref + half a digit.
        for (g, w) in t.iter().zip(want) {
            let r: f64 = w.parse().unwrap();
            assert!(
                *g > r - 1e-3 && *g <= r + 5e-4,
                "gamma {gamma}: {g} vs reference {w}"
            );
        }
        // Later lags (closer to the output... here: larger k) are learned later, in order.
        assert!(t.windows(2).all(|w| w[1] > w[0]), "{t:?}");
    }
}

fn gamma_pow(g: f64, k: i32) -> f64 {
    g.powi(k)
}

/// Checks LR-2 against P4: the fixed point `cb = 1`, `a = 0.5`, and conservation of `c^2 - b^2`.
#[test]
fn p4_geometric_target_fixed_point_and_conservation() {
    let mut f = LrnnModes {
        s: vec![vec![1.0, 0.5, 0.25, 0.125]],
    };
    let y0 = [0.05, 0.1, 0.05];
    let mut ws = Workspace::new(3);
    let sol = solve(
        &Method::parse("dop853").unwrap(),
        &mut f,
        &Ivp::new(0.0, &y0, 60.0),
        &tight(),
        &mut ws,
        &mut Output::end(),
    )
    .unwrap();
    let (c, a, b) = (sol.y_end[0], sol.y_end[1], sol.y_end[2]);
    assert!(
        (c * b - 1.0).abs() < 1e-9 && (a - 0.5).abs() < 1e-9,
        "cb {} a {a}",
        c * b
    );
    // c^2 - b^2 is conserved (LR-2).
    assert!(((c * c - b * b) - (y0[0] * y0[0] - y0[2] * y0[2])).abs() < 1e3 * TIGHT_RTOL);
}

/// Checks LR-2 against the full matrix flow LR-3 from aligned inits (3x3, T = 4, three modes).
#[test]
fn reduced_modes_match_the_full_matrix_flow_from_aligned_inits() {
    // 3x3 matrices, T = 4, three modes with different lag profiles; aligned init
    // C = U c R^T, W = R a R^T, B = R b V^T (LR-2's assumptions).
    let n = 3;
    let mut rng = random::rng(21, 1);
    let mut orth = || linalg::orthonormal_from(&random::gaussian_matrix(&mut rng, n, n)).unwrap();
    let (u, v, r) = (orth(), orth(), orth());
    let profiles = [
        vec![1.0, 0.5, 0.25, 0.125],
        vec![0.8, 0.72, 0.648, 0.583],
        vec![0.5, 0.0, 0.0, 0.0],
    ];
    let inits = [[0.05, 0.1, 0.05], [0.1, 0.2, 0.08], [0.02, 0.05, 0.03]];
    let sigma: Vec<Matrix> = (0..4)
        .map(|k| {
            u.matmul(&Matrix::from_diag(&[
                profiles[0][k],
                profiles[1][k],
                profiles[2][k],
            ]))
            .matmul_t(&v)
        })
        .collect();
    let d = |i: usize| Matrix::from_diag(&[inits[0][i], inits[1][i], inits[2][i]]);
    let c0 = u.matmul(&d(0)).matmul_t(&r);
    let w0 = r.matmul(&d(1)).matmul_t(&r);
    let b0 = r.matmul(&d(2)).matmul_t(&v);
    let mut full = FullLinearRnnFlow { sigma, n };
    let y0 = FullLinearRnnFlow::pack(&c0, &w0, &b0);
    let times = [1.0, 3.0, 6.0, 12.0];
    let mut full_maps = Vec::new();
    let mut ws = Workspace::new(y0.len());
    let mut cb = |_: f64, y: &[f64]| full_maps.push(y.to_vec());
    solve(
        &Method::parse("dop853").unwrap(),
        &mut full,
        &Ivp::new(0.0, &y0, 12.0),
        &tight(),
        &mut ws,
        &mut Output::at_times(&times, &mut cb),
    )
    .unwrap();
    let mut modes = LrnnModes {
        s: profiles.to_vec(),
    };
    let m0: Vec<f64> = inits.iter().flatten().copied().collect();
    let mut red = Vec::new();
    let mut ws2 = Workspace::new(9);
    let mut cb2 = |_: f64, y: &[f64]| red.push(y.to_vec());
    solve(
        &Method::parse("dop853").unwrap(),
        &mut modes,
        &Ivp::new(0.0, &m0, 12.0),
        &tight(),
        &mut ws2,
        &mut Output::at_times(&times, &mut cb2),
    )
    .unwrap();
    for (yf, yr) in full_maps.iter().zip(&red) {
        let maps = full.lag_maps(yf);
        for (k, map) in maps.iter().enumerate() {
            let proj = u.t_matmul(map).matmul(&v);
            for m in 0..3 {
                let want = lag_products(yr, m, 4)[k];
                assert!(
                    (proj.get(m, m) - want).abs() <= FULL_GF_VS_CLOSED * want.abs().max(1e-3),
                    "mode {m} lag {k}: {} vs {want}",
                    proj.get(m, m)
                );
            }
        }
    }
}

/// LR-2 between modes (issue 13 item 5, issue 14 item 13): with the delay profile each mode
/// has one target, `s = 1` at its own lag `k_m` of `T = 3` (`Sigma_k = U diag(delta_{k, k_m})
/// V^T`), and from the same small aligned init the modes are learned in lag order. Unlike P3
/// (one mode, where `product_k / target_k = cb (a/gamma)^k` orders the lags trivially), this
/// compares different modes of equal strength. A geometric mode `c a^k b` fits a lone lag only
/// partly, so each mode's learning time is the first time its product at its lag reaches half
/// of its best fit: lag 0 fits exactly (`a -> 0`, best fit 1); lag 2, the last lag, has the
/// supremum 1 (`a -> infinity`, `cb = a^-2`: the residuals `1/a^2`, `1/a` vanish); lag 1 has the
/// finite optimum `a = 1`, `cb = 1/3` (product 1/3), checked against the converged product. The times are located by events on
/// the reduced ODE and, for lags 0 and 1, on the full matrix flow (LR-3) of one network holding
/// the three modes, where they agree to the full flow's tolerance.
#[test]
fn lr2_delay_modes_are_learned_in_lag_order() {
    let lags = [0usize, 1, 2];
    let t_len = 3;
    let init = [0.05, 0.05, 0.05];
    let profile =
        |k: usize| -> Vec<f64> { (0..t_len).map(|j| if j == k { 1.0 } else { 0.0 }).collect() };
    let late = reduced_at(profile(1), init, 400.0)[1];
    let mid = reduced_at(profile(1), init, 200.0)[1];
    assert!(
        (late - mid).abs() < 1e-9,
        "lag 1 not converged: {mid} -> {late}"
    );
    // Best fit of lag 1: min over (x = cb, a) of x^2 + (x a - 1)^2 + x^2 a^4 has a^4 = 1,
    // x = 1/3, so the product x a = 1/3 exactly.
    assert!((late - 1.0 / 3.0).abs() < 1e-9, "lag 1 best fit {late}");
    let best = [1.0, late, 1.0];
    let reduced: Vec<f64> = lags
        .iter()
        .map(|&k| {
            let half = 0.5 * best[k];
            let mut f = LrnnModes {
                s: vec![profile(k)],
            };
            let mut ws = Workspace::new(3);
            let mut out = Output::end().with_event(Event::new(
                move |_, y: &[f64]| y[0] * y[1].powi(k as i32) * y[2] - half,
                Crossing::Rising,
            ));
            let sol = solve(
                &Method::parse("dop853").unwrap(),
                &mut f,
                &Ivp::new(0.0, &init, 400.0),
                &tight(),
                &mut ws,
                &mut out,
            )
            .unwrap();
            sol.events.first().map_or(f64::NAN, |h| h.t)
        })
        .collect();
    assert!(
        reduced.windows(2).all(|w| w[1] > w[0]),
        "modes learned in lag order: {reduced:?}"
    );
    // Full flow: the three modes in one 3-unit network, aligned init.
    let n = 3;
    let mut rng = random::rng(5, 1);
    let mut orth = || linalg::orthonormal_from(&random::gaussian_matrix(&mut rng, n, n)).unwrap();
    let (u, v, r) = (orth(), orth(), orth());
    let sigma: Vec<Matrix> = (0..t_len)
        .map(|k| {
            let d: Vec<f64> = lags
                .iter()
                .map(|&km| if km == k { 1.0 } else { 0.0 })
                .collect();
            u.matmul(&Matrix::from_diag(&d)).matmul_t(&v)
        })
        .collect();
    let diag = |x: f64| Matrix::from_diag(&[x; 3]);
    let c0 = u.matmul(&diag(init[0])).matmul_t(&r);
    let w0 = r.matmul(&diag(init[1])).matmul_t(&r);
    let b0 = r.matmul(&diag(init[2])).matmul_t(&v);
    let y0 = FullLinearRnnFlow::pack(&c0, &w0, &b0);
    let mut full = FullLinearRnnFlow {
        sigma: sigma.clone(),
        n,
    };
    let mut out = Output::end();
    for (m, &k) in lags.iter().enumerate() {
        let probe = FullLinearRnnFlow {
            sigma: sigma.clone(),
            n,
        };
        let (u2, v2, half) = (u.clone(), v.clone(), 0.5 * best[m]);
        out = out.with_event(Event::new(
            move |_, y: &[f64]| u2.t_matmul(&probe.lag_maps(y)[k]).matmul(&v2).get(m, m) - half,
            Crossing::Rising,
        ));
    }
    let mut ws = Workspace::new(y0.len());
    let sol = solve(
        &Method::parse("dop853").unwrap(),
        &mut full,
        &Ivp::new(0.0, &y0, 1.2 * reduced[1]),
        &tight(),
        &mut ws,
        &mut out,
    )
    .unwrap();
    // Lags 0 and 1 only: on the lag-2 mode's long plateau the full flow leaves the aligned
    // manifold (its cross-mode lag-2 projections grow from 1e-13 at t = 50 to 5e-5 at t = 100
    // from rounding), so LR-2 no longer describes it there (theory/lrnn.md).
    for (m, want) in reduced.iter().enumerate().take(2) {
        let got = sol
            .events
            .iter()
            .find(|h| h.index == m)
            .map(|h| h.t)
            .unwrap_or_else(|| {
                panic!(
                    "mode {m}: no event; events {:?}, reduced {reduced:?}, end {}",
                    sol.events
                        .iter()
                        .map(|h| (h.index, h.t))
                        .collect::<Vec<_>>(),
                    sol.t_end
                )
            });
        assert!(
            (got - want).abs() <= FULL_GF_VS_CLOSED * want,
            "mode {m} (lag {}): full flow {got} vs reduced {want}",
            lags[m]
        );
    }
    eprintln!("delay modes: learning times by lag {reduced:?}, lag-1 best fit {late}");
}
