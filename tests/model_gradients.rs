//! The deep linear network's loss and gradient (C-1, C-2) against central finite differences
//! and against an independent backpropagation through samples; balancedness (C-4) conserved
//! by the full gradient flow. Property tests over random depths, widths and seeds.
mod common;
use common::*;
use learndyn::dynamics::GradientFlow;
use learndyn::integrate::{tableau::DOPRI5, Atol, Options, Workspace};
use learndyn::linalg::{self, Matrix};
use learndyn::model::{DeepLinearNet, Moments};
use learndyn::random;
use proptest::prelude::*;

/// Random non-whitened moments from P samples (exercises the Sigma_xx != I path).
fn sample_moments(d_in: usize, d_out: usize, p: usize, seed: u64) -> (Moments, Matrix, Matrix) {
    let mut rng = random::rng(seed, 99);
    let x = random::gaussian_matrix(&mut rng, d_in, p);
    let w = random::gaussian_matrix(&mut rng, d_out, d_in);
    let mut y = w.matmul(&x);
    let noise = random::gaussian_matrix(&mut rng, d_out, p);
    for (a, b) in y.as_mut_slice().iter_mut().zip(noise.as_slice()) {
        *a += 0.3 * b;
    }
    let pf = p as f64;
    let sigma_xx = x.matmul_t(&x).scale(1.0 / pf);
    let sigma_yx = y.matmul_t(&x).scale(1.0 / pf);
    let pinv = linalg::psd_pinv(sigma_xx.view(), 1e-12).unwrap();
    let w_star = sigma_yx.matmul(&pinv);
    let tr_yy = y.norm_fro().powi(2) / pf;
    let loss_min = 0.5 * (tr_yy - w_star.t_matmul(&sigma_yx).trace());
    (
        Moments {
            sigma_xx,
            sigma_yx,
            w_star,
            loss_min,
            whitened: false,
        },
        x,
        y,
    )
}

fn dims_strategy() -> impl Strategy<Value = Vec<usize>> {
    (2usize..=4).prop_flat_map(|depth| prop::collection::vec(1usize..=5, depth + 1))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    /// Checks C-2 against central differences of the C-1 loss (non-whitened moments).
    #[test]
    fn gradient_matches_central_differences(dims in dims_strategy(), seed in 0u64..1000) {
        let net = DeepLinearNet::new(dims.clone()).unwrap();
        let (m, _, _) = sample_moments(dims[0], *dims.last().unwrap(), 7, seed);
        let mut rng = random::rng(seed, 5);
        let theta: Vec<f64> = random::gaussian_matrix(&mut rng, net.n_params(), 1).into_vec();
        let mut ws = net.workspace();
        let mut grad = vec![0.0; theta.len()];
        net.loss_and_grad(&theta, &m, &mut grad, &mut ws);
        let h = fd_step();
        let gmax = grad.iter().fold(0.0f64, |a, g| a.max(g.abs())).max(1.0);
        for i in 0..theta.len() {
            let mut tp = theta.clone();
            tp[i] += h;
            let mut tm = theta.clone();
            tm[i] -= h;
            let fd = (net.loss(&tp, &m, &mut ws) - net.loss(&tm, &m, &mut ws)) / (2.0 * h);
            prop_assert!((fd - grad[i]).abs() <= FD_RTOL * gmax,
                "param {i}: fd {fd} vs analytic {}", grad[i]);
        }
    }

    /// Checks C-1 and C-2: the moment form equals backpropagation through the samples of the
    /// model DL-1 (an independent implementation).
    #[test]
    fn moment_loss_equals_sample_backprop(dims in dims_strategy(), seed in 0u64..1000, p in 1usize..12) {
        // Independent implementation: backprop through the P samples (no moments).
        let net = DeepLinearNet::new(dims.clone()).unwrap();
        let (m, x, y) = sample_moments(dims[0], *dims.last().unwrap(), p, seed);
        let mut rng = random::rng(seed, 6);
        let theta: Vec<f64> = random::gaussian_matrix(&mut rng, net.n_params(), 1).into_vec();
        let mut ws = net.workspace();
        let mut g1 = vec![0.0; theta.len()];
        let mut g2 = vec![0.0; theta.len()];
        let l1 = net.loss_and_grad(&theta, &m, &mut g1, &mut ws);
        let l2 = net.sample_loss_and_grad(&theta, &x, &y, &mut g2);
        // Both are sums of O(P * size) rounded terms of magnitude ~ l. The moment form also uses
        // W* = Sigma_yx Sigma_xx^+ and its loss floor, whose rounding error grows with the
        // condition number of Sigma_xx (normal equations; near-singular when P ~ d_in), so the
        // tolerance is 1e3 eps sqrt(size) times cond(Sigma_xx) over its nonzero eigenvalues.
        let (w, _) = linalg::sym_eig(m.sigma_xx.view()).unwrap();
        let wmax = w.iter().fold(0.0f64, |a, x| a.max(*x));
        let wmin = w.iter().filter(|x| **x > 1e-12 * wmax).fold(f64::INFINITY, |a, x| a.min(*x));
        let cond = (wmax / wmin).max(1.0);
        let size = (theta.len() * p) as f64;
        let tol = 1e3 * EPS * size.sqrt() * cond;
        // Directions of Sigma_xx below the pseudo-inverse cutoff (eigenvalue lambda_d) are left
        // out of W*, but the samples still carry them: the two losses then differ by the
        // cross term W_e v (Sigma_yx v), |Sigma_yx v| <= sqrt(tr Sigma_yy lambda_d)
        // (Cauchy-Schwarz), i.e. by at most ||W_e|| sqrt(tr_yy lambda_d) (regression case
        // dims [2, 1, 1], seed 77, p = 2: two nearly collinear samples, lambda_d = 1.9e-13);
        // the gradients by that bound times the other layers' norms.
        let dropped = w.iter().filter(|x| **x <= 1e-12 * wmax).fold(0.0f64, |a, x| a.max(x.abs()));
        let tr_yy = y.norm_fro().powi(2) / p as f64;
        let leak = (tr_yy * dropped).sqrt();
        let layers_norm: f64 = net.unpack(&theta).iter().map(|l| l.norm_fro().max(1.0)).product();
        let we_norm = net.end_to_end(&theta).norm_fro();
        prop_assert!(
            (l1 - l2).abs() <= tol * l2.abs().max(1.0) + 2.0 * leak * we_norm,
            "loss {l1} vs {l2}"
        );
        let gmax = g2.iter().fold(0.0f64, |a, g| a.max(g.abs())).max(1.0);
        for (a, b) in g1.iter().zip(&g2) {
            prop_assert!((a - b).abs() <= tol * gmax + 2.0 * leak * layers_norm, "grad {a} vs {b}");
        }
    }

    /// Checks C-4: the full gradient flow conserves the balance matrices.
    #[test]
    fn gradient_flow_conserves_balancedness(dims in dims_strategy(), seed in 0u64..1000) {
        // C-4: d/dt (W_{l+1}^T W_{l+1} - W_l W_l^T) = 0 exactly under gradient flow, so the
        // drift is integration error: with local error control at rtol, atol the drift stays
        // within ~100 x (rtol x |D|scale + atol) over this short horizon.
        let net = DeepLinearNet::new(dims.clone()).unwrap();
        let (m, _, _) = sample_moments(dims[0], *dims.last().unwrap(), 9, seed);
        let mut rng = random::rng(seed, 7);
        let theta0: Vec<f64> = random::gaussian_matrix(&mut rng, net.n_params(), 1)
            .scale(0.5).into_vec();
        let d0 = net.balance_matrices(&theta0);
        let rtol = 1e-10;
        let opts = Options { rtol, atol: Atol::Scalar(1e-12), ..Options::default() };
        let mut field = GradientFlow::new(learndyn::model::DeepLinearModel::new(&net, &m, None));
        let mut ws = Workspace::new(theta0.len());
        let sol = solve_at(&DOPRI5, &mut field, 0.0, &theta0, 2.0, &[], &opts, &mut ws, &mut |_, _| {}).unwrap();
        let d1 = net.balance_matrices(&sol.y_end);
        let wscale = sol.y_end.iter().chain(&theta0).fold(1.0f64, |a, x| a.max(x.abs()));
        for (a, b) in d1.iter().zip(&d0) {
            let drift = a.sub(b).max_abs();
            prop_assert!(drift <= 100.0 * rtol * wscale * wscale, "drift {drift:e}");
        }
    }
}

/// Checks C-1's floor `L_min` and C-2's zero at a network map equal to `W*`.
#[test]
fn gradient_is_zero_at_the_teacher_map() {
    // With a two-layer net W2 W1 = W*, the gradient vanishes (loss at its floor).
    let (m, _, _) = sample_moments(3, 2, 20, 1);
    let net = DeepLinearNet::new(vec![3, 3, 2]).unwrap();
    let w1 = Matrix::identity(3);
    let theta = net.pack(&[w1, m.w_star.clone()]).unwrap();
    let mut ws = net.workspace();
    let mut g = vec![0.0; theta.len()];
    let l = net.loss_and_grad(&theta, &m, &mut g, &mut ws);
    assert!((l - m.loss_min).abs() <= 1e3 * EPS * m.loss_min.max(1.0));
    let gmax = g.iter().fold(0.0f64, |a, x| a.max(x.abs()));
    assert!(
        gmax <= 1e3 * EPS * m.sigma_yx.max_abs().max(1.0),
        "{gmax:e}"
    );
}
