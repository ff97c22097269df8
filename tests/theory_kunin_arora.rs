//! Kunin's single neuron (theory/kunin.md KU-1..KU-3: checks K1-K4) and Arora's end-to-end
//! dynamics (theory/arora.md AR-1..AR-2: checks A1-A3).
mod common;
use common::*;
use learndyn::dynamics::GradientFlow;
use learndyn::integrate::{tableau::DOP853, Atol, Options, Workspace};
use learndyn::linalg::{self, Matrix};
use learndyn::model::init::Init;
use learndyn::model::{DeepLinearNet, Moments};
use learndyn::random;
use learndyn::theory::arora::EndToEnd;
use learndyn::theory::deep_linear::balanced_depth;
use learndyn::theory::kunin::{nu, nu_limit, SingleNeuron};

fn tight() -> Options {
    Options {
        rtol: TIGHT_RTOL,
        atol: Atol::Scalar(TIGHT_ATOL),
        ..Options::default()
    }
}

/// (R, nu0) of an init (a0, w0) for beta*.
fn r_nu0(beta: &[f64], a0: f64, w0: &[f64]) -> (f64, f64) {
    let w2: f64 = w0.iter().map(|x| x * x).sum();
    let wb: f64 = w0.iter().zip(beta).map(|(a, b)| a * b).sum();
    (a0 * a0 - w2, wb / a0)
}

/// Checks KU-3 against the reference values K1-K3 (K2 on the coth branch).
#[test]
fn k1_k3_reference_values() {
    let beta = [1.0, 0.5];
    let s = (1.25f64).sqrt();
    for (a0, w0, want) in [
        (1.0, [0.1, -0.2], "0.6495485"),
        (0.2, [0.5, 0.4], "1.4396647"), // coth branch
        (2.0, [0.01, 0.0], "0.2881726"),
    ] {
        let (r, nu0) = r_nu0(&beta, a0, &w0);
        assert_printed(nu(s, r, nu0, 1.0), want);
    }
}

/// Checks KU-3 against direct integration of the KU-1 flow (DOP853, rtol 1e-12) for four inits,
/// and KU-2's conserved `delta` (check K4).
#[test]
fn kunin_closed_form_matches_ode_and_conserves_delta() {
    let beta = vec![1.0, 0.5];
    let s = (1.25f64).sqrt();
    for (a0, w0) in [
        (1.0, [0.1, -0.2]),
        (0.2, [0.5, 0.4]),
        (2.0, [0.01, 0.0]),
        (0.05, [0.02, 0.03]),
    ] {
        let (r, nu0) = r_nu0(&beta, a0, &w0);
        let mut f = SingleNeuron {
            beta_star: beta.clone(),
            eta_a: 1.0,
            eta_w: 1.0,
        };
        let y0 = [a0, w0[0], w0[1]];
        let d0 = f.delta(&y0);
        let times: Vec<f64> = (1..=12).map(|k| 0.5 * k as f64).collect();
        let mut got = Vec::new();
        let mut ws = Workspace::new(3);
        let sol = solve_at(
            &DOP853,
            &mut f,
            0.0,
            &y0,
            6.0,
            &times,
            &tight(),
            &mut ws,
            &mut |t, y| {
                let wb = y[1] * beta[0] + y[2] * beta[1];
                got.push((t, wb / y[0]));
            },
        )
        .unwrap();
        for (t, v) in got {
            let want = nu(s, r, nu0, t);
            assert!(
                (v - want).abs() <= CLOSED_VS_ODE * want.abs().max(1.0),
                "a0={a0} t={t}: {v} vs {want}"
            );
        }
        // K4: delta conserved to integration accuracy.
        let f = SingleNeuron {
            beta_star: beta.clone(),
            eta_a: 1.0,
            eta_w: 1.0,
        };
        assert!((f.delta(&sol.y_end) - d0).abs() <= 1e3 * TIGHT_RTOL * (1.0 + d0.abs()));
        assert!((nu(s, r, nu0, 200.0) - nu_limit(s, r)).abs() <= 1e3 * EPS);
    }
}

/// Checks KU-2 with `eta_a != eta_w` along the KU-1 flow (check K4).
#[test]
fn unequal_learning_rates_conserve_the_weighted_delta() {
    // K4 with eta_a != eta_w: delta = eta_w a^2 - eta_a ||w||^2.
    let mut f = SingleNeuron {
        beta_star: vec![1.0, -0.5, 0.25],
        eta_a: 0.3,
        eta_w: 2.0,
    };
    let y0 = [0.4, 0.1, 0.2, -0.3];
    let d0 = f.delta(&y0);
    let mut ws = Workspace::new(4);
    let sol = solve_at(
        &DOP853,
        &mut f,
        0.0,
        &y0,
        10.0,
        &[],
        &tight(),
        &mut ws,
        &mut |_, _| {},
    )
    .unwrap();
    assert!((f.delta(&sol.y_end) - d0).abs() <= 1e3 * TIGHT_RTOL * (1.0 + d0.abs()));
}

/// Checks C-4 under the layer-wise flow (A1) and AR-1 from an unaligned balanced init (A2).
#[test]
fn a1_a2_end_to_end_flow_reproduces_the_layerwise_product() {
    // N = 3, 3x3, T = orthogonal diag(2, 1, .5) orthogonal, balanced unaligned init.
    let n = 3;
    let mut rng = random::rng(5, 1);
    let o1 = linalg::orthonormal_from(&random::gaussian_matrix(&mut rng, n, n)).unwrap();
    let o2 = linalg::orthonormal_from(&random::gaussian_matrix(&mut rng, n, n)).unwrap();
    let t = o1
        .matmul(&Matrix::from_diag(&[2.0, 1.0, 0.5]))
        .matmul_t(&o2);
    let m = Moments {
        sigma_xx: Matrix::identity(n),
        sigma_yx: t.clone(),
        w_star: t.clone(),
        loss_min: 0.0,
        whitened: true,
    };
    let net = DeepLinearNet::new(vec![n, n, n, n]).unwrap();
    let init = Init::LambdaBalanced {
        scale: 0.8,
        lambda: 0.0,
    };
    let theta0 = init
        .sample(
            &net,
            &Matrix::zeros(n, 0),
            &Matrix::zeros(n, 0),
            &mut random::rng(6, 1),
        )
        .unwrap();
    let times = [0.5, 1.0, 2.0, 4.0];
    // Layer-wise gradient flow, and A1: balancedness conserved.
    let mut layerwise = Vec::new();
    let mut ws = Workspace::new(theta0.len());
    let mut gf = GradientFlow::new(learndyn::model::DeepLinearModel::new(&net, &m, None));
    let sol = solve_at(
        &DOP853,
        &mut gf,
        0.0,
        &theta0,
        4.0,
        &times,
        &tight(),
        &mut ws,
        &mut |_, y| layerwise.push(net.end_to_end(y)),
    )
    .unwrap();
    for (d1, d0) in net
        .balance_matrices(&sol.y_end)
        .iter()
        .zip(net.balance_matrices(&theta0))
    {
        assert!(
            d1.sub(&d0).max_abs() < 1e-10,
            "A1 drift {:e}",
            d1.sub(&d0).max_abs()
        );
    }
    // End-to-end flow AR-1 from W_e(0).
    let we0 = net.end_to_end(&theta0);
    let mut e2e = EndToEnd {
        depth: 3,
        w_star: t,
    };
    let mut ws = Workspace::new(n * n);
    let mut direct = Vec::new();
    solve_at(
        &DOP853,
        &mut e2e,
        0.0,
        we0.as_slice(),
        4.0,
        &times,
        &tight(),
        &mut ws,
        &mut |_, y| direct.push(Matrix::from_col_major(n, n, y.to_vec()).unwrap()),
    )
    .unwrap();
    for (a, b) in layerwise.iter().zip(&direct) {
        let err = a.sub(b).max_abs();
        // Both are integrated at rtol 1e-12; fractional powers cost a few ulps per evaluation.
        assert!(err <= 1e-9, "A2: {err:e}");
    }
}

/// Checks AR-1 from an aligned map (A3): the projected singular values follow DL-9, in its
/// closed form DL-10, as AR-2 states.
#[test]
fn a3_aligned_end_to_end_flow_is_the_saxe_depth_equation() {
    // Aligned W_e(0) = U diag(u0) V^T: each singular value follows DL-9, closed form DL-10.
    let (n, depth) = (3, 4);
    let s = [2.0, 1.0, 0.5];
    let u0 = [0.05, 0.05, 0.05];
    let mut rng = random::rng(9, 2);
    let u = linalg::orthonormal_from(&random::gaussian_matrix(&mut rng, n, n)).unwrap();
    let v = linalg::orthonormal_from(&random::gaussian_matrix(&mut rng, n, n)).unwrap();
    let t = u.matmul(&Matrix::from_diag(&s)).matmul_t(&v);
    let we0 = u.matmul(&Matrix::from_diag(&u0)).matmul_t(&v);
    let mut e2e = EndToEnd { depth, w_star: t };
    let mut ws = Workspace::new(n * n);
    let times = [1.0, 3.0, 6.0, 12.0];
    let mut got = Vec::new();
    solve_at(
        &DOP853,
        &mut e2e,
        0.0,
        we0.as_slice(),
        12.0,
        &times,
        &tight(),
        &mut ws,
        &mut |tt, y| {
            let we = Matrix::from_col_major(n, n, y.to_vec()).unwrap();
            got.push((tt, u.t_matmul(&we).matmul(&v)));
        },
    )
    .unwrap();
    for (tt, proj) in got {
        for a in 0..n {
            let want = balanced_depth(s[a], depth, u0[a], tt).unwrap();
            assert!(
                rel(proj.get(a, a), want, 1e-6) < 1e-8,
                "t={tt} mode {a}: {} vs {want}",
                proj.get(a, a)
            );
        }
    }
}

/// Checks AR-2: along the layer-wise gradient flow of a balanced depth-`N` network with singular
/// vectors aligned to the teacher's, the singular values of the end-to-end map change at
/// `singular_value_rate(N, sigma, s) = N (sigma^2)^{1 - 1/N} (s - sigma)`.
///
/// Independent reference: the flow of all weights (not the end-to-end field `EndToEnd`) integrated
/// by DOP853, the singular values of `W_e(t)` from an SVD, and their time derivative by a central
/// difference `D = (sigma(t + h) - sigma(t - h)) / 2h`. Its error is the truncation `h^2/6
/// |sigma'''|` plus `e / h`, where `e` bounds the error of each computed `sigma`: the flow's global
/// error (`FULL_GF_VS_CLOSED`, relative, as for every full flow vs closed form) and the SVD's
/// backward error `10 n eps ||W_e||_F`. `sigma'''` is estimated from the same trajectory by the
/// 4-point stencil at `H = 0.05`; the tolerance takes twice that estimate. The test also checks
/// that this tolerance rejects the two-layer rate `2 sigma (s - sigma)`, so it could fail for a
/// wrong exponent or prefactor.
#[test]
fn ar2_singular_value_rate_matches_the_layerwise_flow() {
    use learndyn::theory::arora::singular_value_rate;
    let n = 3;
    let s = [2.0, 1.0, 0.5];
    let u0: f64 = 0.05;
    let (h, big_h) = (1e-3, 0.05);
    let centres = [0.5, 1.0, 2.0, 3.0, 5.0, 8.0];
    for depth in [3usize, 4] {
        let mut rng = random::rng(31, depth as u64);
        let mut orth =
            || linalg::orthonormal_from(&random::gaussian_matrix(&mut rng, n, n)).unwrap();
        let (u, v) = (orth(), orth());
        let hidden: Vec<Matrix> = (1..depth).map(|_| orth()).collect();
        // Balanced aligned layers: W_1 = R_1 a V^T, W_l = R_l a R_{l-1}^T, W_N = U a R_{N-1}^T
        // with the same scalar a = u0^{1/N} in every layer, so W_{l+1}^T W_{l+1} = W_l W_l^T.
        let a = Matrix::from_diag(&[u0.powf(1.0 / depth as f64); 3]);
        let layers: Vec<Matrix> = (0..depth)
            .map(|l| {
                let left = if l + 1 == depth { &u } else { &hidden[l] };
                let right = if l == 0 { &v } else { &hidden[l - 1] };
                left.matmul(&a).matmul_t(right)
            })
            .collect();
        let net = DeepLinearNet::new(vec![n; depth + 1]).unwrap();
        let theta0 = net.pack(&layers).unwrap();
        let teacher = u.matmul(&Matrix::from_diag(&s)).matmul_t(&v);
        let m = Moments {
            sigma_xx: Matrix::identity(n),
            sigma_yx: teacher.clone(),
            w_star: teacher,
            loss_min: 0.0,
            whitened: true,
        };
        // Save times per centre t: t - 2H, t - H, t - h, t, t + h, t + H, t + 2H (increasing).
        let offsets = [-2.0 * big_h, -big_h, -h, 0.0, h, big_h, 2.0 * big_h];
        let times: Vec<f64> = centres
            .iter()
            .flat_map(|t| offsets.iter().map(move |o| t + o))
            .collect();
        let mut sigmas: Vec<(Vec<f64>, f64)> = Vec::new();
        let mut ws = Workspace::new(theta0.len());
        let mut gf = GradientFlow::new(learndyn::model::DeepLinearModel::new(&net, &m, None));
        solve_at(
            &DOP853,
            &mut gf,
            0.0,
            &theta0,
            *times.last().unwrap(),
            &times,
            &tight(),
            &mut ws,
            &mut |_, y| {
                let we = net.end_to_end(y);
                let sv = linalg::singular_values(we.view()).unwrap();
                sigmas.push((sv, we.norm_fro()));
            },
        )
        .unwrap();
        let mut rejects_two_layer_rate = false;
        let (mut worst, mut worst_tol) = (0.0f64, f64::INFINITY);
        for (c, t) in centres.iter().enumerate() {
            let at = |k: usize, a: usize| sigmas[7 * c + k].0[a];
            let we_norm = sigmas[7 * c + 2].1.max(sigmas[7 * c + 4].1);
            for (a, &s_a) in s.iter().enumerate() {
                // Singular values are sorted nonincreasing; equal u0 and s_0 > s_1 > s_2 keep the
                // mode order for t > 0, so index a is mode a.
                let d = (at(4, a) - at(2, a)) / (2.0 * h);
                let third =
                    (at(6, a) - 2.0 * at(5, a) + 2.0 * at(1, a) - at(0, a)) / (2.0 * big_h.powi(3));
                let sigma = at(3, a);
                let e = FULL_GF_VS_CLOSED * sigma.max(1e-3 * s_a) + 10.0 * n as f64 * EPS * we_norm;
                let tol = 2.0 * h * h / 6.0 * third.abs() + e / h;
                // AR-2 at the computed sigma(t); its own error e moves the rate by
                // |d rate / d sigma| e = O(e), far below e / h.
                let want = singular_value_rate(depth, sigma, s_a);
                assert!(
                    (d - want).abs() <= tol,
                    "N = {depth}, t = {t}, mode {a}: sigma {sigma}, FD rate {d} vs AR-2 {want} \
                     (tolerance {tol:e})"
                );
                if (d - want).abs() / tol > worst / worst_tol {
                    (worst, worst_tol) = ((d - want).abs(), tol);
                }
                if (d - 2.0 * sigma * (s_a - sigma)).abs() > 10.0 * tol {
                    rejects_two_layer_rate = true;
                }
            }
        }
        eprintln!(
            "AR-2, N = {depth}: worst |FD - AR-2| = {worst:.2e} at tolerance {worst_tol:.2e}"
        );
        assert!(
            rejects_two_layer_rate,
            "N = {depth}: the check cannot tell N from 2"
        );
    }
}

/// KU-2's direction of laziness is one-sided for the single neuron (issue 14 item 1): the NTK
/// of `f = a w.x` on whitened inputs is `K = w w^T + a^2 I`. Downstream (`delta = +16`, `a`
/// large) `a^2 I` dominates and hardly moves, so the kernel distance is `O((|w|^2 / a^2)^2)`,
/// below 0.01: lazy. Upstream (`delta = -16`, `w` large) `w w^T` dominates and `w` rotates onto
/// `beta*`, so the distance is about `1 - cos^2(theta)` of that rotation (0.88 here; exactly the
/// distance to the limit kernel with `w_inf` along `beta*`): rich, not lazy. Direct integration (DOP853) to t = 400: upstream, the part of `w` across `beta*`
/// decays only at the rate `a^2 ~ 0.08` (so t = 400 leaves e^-32 of it).
#[test]
fn ku2_laziness_is_one_sided_in_delta() {
    let beta = vec![1.0, 0.5];
    let dir = [1.0 / 2f64.sqrt(), -1.0 / 2f64.sqrt()];
    let kernel = |y: &[f64]| {
        let (a, w) = (y[0], &y[1..]);
        Matrix::from_fn(2, 2, |i, j| w[i] * w[j] + if i == j { a * a } else { 0.0 })
    };
    let distance = |k0: &Matrix, k1: &Matrix| {
        let dot: f64 = k0
            .as_slice()
            .iter()
            .zip(k1.as_slice())
            .map(|(x, y)| x * y)
            .sum();
        1.0 - dot / (k0.norm_fro() * k1.norm_fro())
    };
    let run = |a0: f64, wn: f64| {
        let mut f = SingleNeuron {
            beta_star: beta.clone(),
            eta_a: 1.0,
            eta_w: 1.0,
        };
        let y0 = [a0, wn * dir[0], wn * dir[1]];
        let mut ws = Workspace::new(3);
        let sol = solve_at(
            &DOP853,
            &mut f,
            0.0,
            &y0,
            400.0,
            &[400.0],
            &tight(),
            &mut ws,
            &mut |_, _| {},
        )
        .unwrap();
        (distance(&kernel(&y0), &kernel(&sol.y_end)), f.delta(&y0))
    };
    // Downstream: |w0| = 0.5, a0^2 = 16 + 0.25.
    let (down, delta) = run((16.25f64).sqrt(), 0.5);
    assert!((delta - 16.0).abs() < 1e-12);
    assert!(down < 0.01, "downstream kernel distance {down}");
    // Upstream: a0 = 0.5, |w0|^2 = 16 + 0.25.
    let (up, delta) = run(0.5, (16.25f64).sqrt());
    assert!((delta + 16.0).abs() < 1e-12);
    let s = (1.25f64).sqrt();
    // Leading order plus the a^2 I terms of both kernels (a0^2 = 0.25, a_inf^2 = s / |w_inf|).
    let w_inf2 = 0.5 * (16.0 + (256.0f64 + 4.0 * 1.25).sqrt());
    let a_inf2 = w_inf2 - 16.0;
    let k0 = Matrix::from_fn(2, 2, |i, j| {
        16.25 * dir[i] * dir[j] + if i == j { 0.25 } else { 0.0 }
    });
    let b = [beta[0] / s, beta[1] / s];
    let k1 = Matrix::from_fn(2, 2, |i, j| {
        w_inf2 * b[i] * b[j] + if i == j { a_inf2 } else { 0.0 }
    });
    let predicted = distance(&k0, &k1);
    assert!(
        (up - predicted).abs() < 1e-6,
        "upstream kernel distance {up}, predicted {predicted}"
    );
}
