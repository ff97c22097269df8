//! Partial observation of linear teachers (theory/partial_observation.md, PO-1..PO-9), checked
//! against the closed forms and tables QO1-QO3 of `theory.md` §5.9 and C1 of `attractors.md`
//! §3.6/§8, the Lyapunov residual (an independent check of both covariance solvers), and the
//! finite-data ridge fit on simulated trajectories (batch-means standard errors).

use learndyn::linalg::{lyapunov, Matrix};
use learndyn::random::{gaussian_matrix, rng};
use learndyn::theory::partial_obs::{
    chain_cov, euler_student, ridge_fit, stationary_cov, stationary_student, Problem, Solve,
    TimeKind,
};
use rand_distr::{Distribution, StandardNormal};

const EPS: f64 = f64::EPSILON;

fn chain(n: usize, w: f64) -> Matrix {
    Matrix::from_fn(n, n, |i, j| if j == i + 1 { w } else { 0.0 })
}

fn problem<'a>(b: &'a Matrix, observed: &'a [usize], time: TimeKind) -> Problem<'a> {
    Problem {
        teacher: b,
        noise: None,
        observed,
        time,
        obs_noise: 0.0,
    }
}

fn max_abs(m: &Matrix) -> f64 {
    m.as_slice().iter().fold(0.0, |a, x| a.max(x.abs()))
}

/// QO1: D = 2 chain observed at the driven neuron 0: PO-1 with the PO-5 covariance gives
/// `B_hat = w^2/(2 + w^2)` to rounding; PO-7 timescales.
#[test]
fn qo1_two_unit_chain_closed_form() {
    for (w, table) in [(1.0, 1.0 / 3.0), (2.0, 2.0 / 3.0), (5.0, 0.925926)] {
        let b = chain(2, w);
        let s = stationary_student(&problem(&b, &[0], TimeKind::Continuous)).unwrap();
        let exact = w * w / (2.0 + w * w);
        assert!((s.b_hat.get(0, 0) - exact).abs() < 8.0 * EPS, "w = {w}");
        // The table is printed to 6 decimals.
        assert!((exact - table).abs() < 5e-7);
        assert_eq!(s.solve, Solve::Chain);
        // Spurious slow mode: the teacher decays at rate 1, the student slower.
        assert!((s.timescales[0] - 1.0 / (1.0 - exact)).abs() < 1e-12);
        assert_eq!(s.teacher_timescales, vec![1.0, 1.0]);
    }
}

/// QO2 and QO3: chains observed at their most downstream neuron (table to 6 decimals; PO-1 with
/// PO-5), and the dense Bartels–Stewart path (PO-2) agrees with the chain series.
#[test]
fn qo2_qo3_downstream_neuron_of_a_chain() {
    let cases = [
        (3, 2.0, 0.888889),
        (10, 0.5, 0.133974),
        (10, 1.0, 0.716227),
        (10, 2.0, 0.999985),
        (10, 5.0, 1.000000),
    ];
    for (n, w, table) in cases {
        let b = chain(n, w);
        let chain_fit = stationary_student(&problem(&b, &[0], TimeKind::Continuous)).unwrap();
        let got = chain_fit.b_hat.get(0, 0);
        assert!((got - table).abs() < 5e-7, "D = {n}, w = {w}: {got}");
        // Q given explicitly as a (non-identity-looking) scaled identity forces the dense path;
        // Sigma scales with Q, B_hat does not.
        let q = Matrix::identity(n).scale(2.0);
        let dense = stationary_student(&Problem {
            noise: Some(&q),
            ..problem(&b, &[0], TimeKind::Continuous)
        })
        .unwrap();
        assert_eq!(dense.solve, Solve::Dense);
        // Forward error of a backward-stable solve: eps * D * cond, cond ~ w^(2(D-1)) bounded
        // here by the 1e-9 of w = 5, D = 10 (Sigma entries span 5^18).
        assert!(
            (dense.b_hat.get(0, 0) - got).abs() < 1e3 * EPS * (n as f64) * w.powi(2),
            "D = {n}, w = {w}: dense {} vs chain {got}",
            dense.b_hat.get(0, 0)
        );
    }
}

/// C1 (attractors.md §3.6/§8): the Jordan shift observed at its 25 most downstream units, on the
/// paper's D grid (PO-5 covariance, PO-6 spectrum, PO-7 timescales). lambda_1 to 4 decimals,
/// tau_1 and tau_2 to 2 decimals.
#[test]
fn po6_spurious_slow_modes_vs_population_size() {
    let table = [
        (25, 0.0, 1.00, 1.00),
        (45, 0.7385, 3.82, 3.71),
        (81, 0.8160, 5.44, 5.44),
        (146, 0.8765, 8.10, 8.10),
        (263, 0.8993, 9.93, 9.93),
        (474, 0.9366, 15.77, 8.47),
        (854, 0.9592, 24.53, 7.50),
        (1540, 0.9721, 35.87, 6.87),
        (2775, 0.9804, 51.00, 6.36),
        (5000, 0.9860, 71.29, 5.92),
    ];
    let observed: Vec<usize> = (0..25).collect();
    for (n, l1, t1, t2) in table {
        let b = chain(n, 1.0);
        let s = stationary_student(&problem(&b, &observed, TimeKind::Continuous)).unwrap();
        let lam = s.eigenvalues[0].re;
        assert!((lam - l1).abs() < 5e-5, "D = {n}: lambda_1 = {lam}");
        assert!(
            (s.timescales[0] - t1).abs() < 5e-3,
            "D = {n}: tau_1 = {}",
            s.timescales[0]
        );
        // tau_2 is the next distinct timescale (a conjugate pair shares one).
        let next = s
            .timescales
            .iter()
            .copied()
            .find(|&t| (t - s.timescales[0]).abs() > 1e-9)
            .unwrap_or(s.timescales[0]);
        let second = if s.eigenvalues[0].im.abs() > 1e-12 {
            s.timescales[0]
        } else {
            next
        };
        assert!((second - t2).abs() < 5e-3, "D = {n}: tau_2 = {second}");
        assert!(s.teacher_timescales.iter().all(|&t| t == 1.0));
    }
}

/// PO-9: with every unit observed the fit is the teacher, to 1e-12, on the chain path and on
/// the dense path (a random stable non-normal teacher, continuous and discrete time).
#[test]
fn po9_full_observation_recovers_the_teacher() {
    let all: Vec<usize> = (0..25).collect();
    let b = chain(25, 1.0);
    let s = stationary_student(&problem(&b, &all, TimeKind::Continuous)).unwrap();
    assert!(max_abs(&s.b_hat.sub(&b)) < 1e-12);
    assert!(s.eigenvalues.iter().all(|l| l.norm() == 0.0));
    let mut r = rng(7, 0);
    let g = gaussian_matrix(&mut r, 20, 20).scale(0.5 / 20f64.sqrt());
    let all: Vec<usize> = (0..20).collect();
    for time in [TimeKind::Continuous, TimeKind::Discrete] {
        let s = stationary_student(&problem(&g, &all, time)).unwrap();
        assert_eq!(s.solve, Solve::Dense);
        assert!(max_abs(&s.b_hat.sub(&g)) < 1e-12, "{time:?}");
    }
}

/// PO-9: observing the upstream end of a chain, or a discrete-time chain anywhere, gives the
/// exact sub-chain: no spurious slow mode.
#[test]
fn po9_upstream_and_discrete_observation_give_the_exact_subchain() {
    let b = chain(12, 1.5);
    let upstream: Vec<usize> = (7..12).collect();
    let downstream: Vec<usize> = (0..5).collect();
    let cases = [
        (&upstream, TimeKind::Continuous),
        (&upstream, TimeKind::Discrete),
        (&downstream, TimeKind::Discrete),
    ];
    for (o, time) in cases {
        let s = stationary_student(&problem(&b, o, time)).unwrap();
        assert_eq!(s.b_hat, chain(5, 1.5), "{o:?} {time:?}");
        assert!(s.eigenvalues.iter().all(|l| l.norm() == 0.0));
    }
}

/// PO-2/PO-3/PO-5: the residual of the Lyapunov equation is at the level of a backward-stable
/// solve, `||res|| <= c n eps ||A|| ||X||`, for the dense solver on random stable matrices
/// and for the chain series (an independent check of PO-5).
#[test]
fn po2_po3_po5_lyapunov_residuals() {
    let n = 30;
    let mut r = rng(11, 0);
    let g = gaussian_matrix(&mut r, n, n).scale(0.8 / (n as f64).sqrt());
    let h = gaussian_matrix(&mut r, n, n);
    let q = h.matmul_t(&h);
    let eye = Matrix::identity(n);
    let a = g.sub(&eye);
    let x = lyapunov::continuous(&a, &q).unwrap();
    let res = a
        .matmul(&x)
        .add_scaled(&x.matmul_t(&a), 1.0)
        .add_scaled(&q, 1.0);
    let bound = |a: &Matrix, x: &Matrix| 10.0 * n as f64 * EPS * a.norm_fro() * x.norm_fro();
    assert!(
        res.norm_fro() < bound(&a, &x),
        "continuous residual {}",
        res.norm_fro()
    );
    let x = lyapunov::discrete(&g, &q).unwrap();
    let res = g.matmul(&x).matmul_t(&g).add_scaled(&q, 1.0).sub(&x);
    assert!(
        res.norm_fro() < bound(&g, &x),
        "discrete residual {}",
        res.norm_fro()
    );
    // The chain series solves the continuous equation for B = shift(w), Q = I.
    for w in [0.5, 1.0, 2.0, -1.3] {
        let n = 15;
        let b = chain(n, w);
        let sigma = Matrix::from_fn(n, n, |i, j| chain_cov(i, j, n, w, TimeKind::Continuous));
        let a = b.sub(&Matrix::identity(n));
        let res = a
            .matmul(&sigma)
            .add_scaled(&sigma.matmul_t(&a), 1.0)
            .add_scaled(&Matrix::identity(n), 1.0);
        assert!(
            res.norm_fro() < bound(&a, &sigma),
            "w = {w}: {}",
            res.norm_fro()
        );
        let dense = stationary_cov(&b, None, TimeKind::Continuous).unwrap();
        assert!(dense.sub(&sigma).norm_fro() < 1e3 * bound(&a, &sigma));
    }
}

/// An unstable teacher has no stationary state: a clear error, not a number. PO-7 gives a
/// marginal mode an infinite timescale in both times.
#[test]
fn unstable_teacher_is_an_error() {
    use learndyn::theory::partial_obs::timescale;
    use num_complex::Complex64;
    assert_eq!(
        timescale(Complex64::new(1.0, 0.0), TimeKind::Continuous),
        f64::INFINITY
    );
    assert_eq!(
        timescale(Complex64::new(0.0, 1.0), TimeKind::Discrete),
        f64::INFINITY
    );
    assert_eq!(timescale(Complex64::new(0.0, 0.0), TimeKind::Discrete), 0.0);
    let b = Matrix::from_diag(&[1.2, 0.1]);
    let e = stationary_student(&problem(&b, &[0], TimeKind::Continuous)).unwrap_err();
    assert!(e.to_string().contains("no stationary state"), "{e}");
    let e = stationary_student(&problem(&b, &[0, 0], TimeKind::Discrete)).unwrap_err();
    assert!(e.to_string().contains("twice"), "{e}");
}

/// Simulate the continuous teacher by Euler–Maruyama with step alpha (`dW ~ sqrt(alpha) N`),
/// or the discrete teacher (alpha = 1, `xi ~ N`), observed at `o` with noise `s`; returns the
/// observed trajectory, `d x (steps + 1)`.
fn simulate(b: &Matrix, o: &[usize], alpha: f64, s: f64, steps: usize, seed: u64) -> Matrix {
    let n = b.nrows();
    let mut r = rng(seed, 1);
    let mut x = vec![0.0; n];
    let mut next = vec![0.0; n];
    let mut out = Vec::with_capacity(o.len() * (steps + 1));
    let sd = alpha.sqrt();
    for t in 0..=steps + 1000 {
        if t >= 1000 {
            for &k in o {
                let e: f64 = StandardNormal.sample(&mut r);
                out.push(x[k] + s * e);
            }
        }
        for i in 0..n {
            let drive: f64 = (0..n).map(|j| b.get(i, j) * x[j]).sum();
            let e: f64 = StandardNormal.sample(&mut r);
            next[i] = x[i] + alpha * (drive - x[i]) + sd * e;
        }
        std::mem::swap(&mut x, &mut next);
    }
    Matrix::from_col_major(o.len(), steps + 1, out).unwrap()
}

/// Mean and standard error of a statistic over independent replicates.
fn mean_sem(v: &[f64]) -> (f64, f64) {
    let k = v.len() as f64;
    let m = v.iter().sum::<f64>() / k;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (k - 1.0);
    (m, (var / k).sqrt())
}

/// PO-8: the ridge fit of simulated data converges to the stationary student of the simulated
/// (Euler) process, within 4 batch-means standard errors; that student converges to the
/// continuous one at first order in the step (C1's last bullet).
#[test]
fn po8_ridge_fit_converges_to_the_stationary_student() {
    let b = chain(2, 2.0);
    let o = [0usize];
    let alpha = 0.01;
    let p = problem(&b, &o, TimeKind::Continuous);
    let target = euler_student(&p, alpha).unwrap().get(0, 0);
    let fits: Vec<f64> = (0..8)
        .map(|seed| {
            let x = simulate(&b, &o, alpha, 0.0, 400_000, seed);
            ridge_fit(&x, alpha, 0.0).unwrap().get(0, 0)
        })
        .collect();
    let (m, sem) = mean_sem(&fits);
    assert!(sem < 0.01, "too little data to test anything: sem {sem}");
    assert!(
        (m - target).abs() < 4.0 * sem,
        "ridge {m} +- {sem} vs {target}"
    );
    // First-order convergence of the Euler student to PO-1 (2/3 for w = 2).
    let exact = stationary_student(&p).unwrap().b_hat.get(0, 0);
    let err = |a: f64| (euler_student(&p, a).unwrap().get(0, 0) - exact).abs();
    let ratio = err(0.01) / err(0.005);
    assert!((ratio - 2.0).abs() < 0.1, "order-1 ratio {ratio}");
}

/// PO-4: observation noise attenuates the fit, `B_hat = (B Sigma)_oo (Sigma_oo + s^2 I)^-1`;
/// for a scalar AR(1) `b Sigma / (Sigma + s^2)` with `Sigma = 1/(1 - b^2)`, and the one-step
/// least-squares fit of simulated noisy observations converges to it.
#[test]
fn po4_observation_noise_attenuates_the_fit() {
    let b = Matrix::from_diag(&[0.9]);
    let s = 0.7;
    let p = Problem {
        obs_noise: s,
        ..problem(&b, &[0], TimeKind::Discrete)
    };
    let sigma = 1.0 / (1.0 - 0.81);
    let exact = 0.9 * sigma / (sigma + s * s);
    let got = stationary_student(&p).unwrap().b_hat.get(0, 0);
    assert!((got - exact).abs() < 8.0 * EPS);
    // Discrete-time simulation: x_{t+1} = B x_t + xi_t is the Euler map with alpha = 1.
    let fits: Vec<f64> = (0..8)
        .map(|seed| {
            let x = simulate(&b, &[0], 1.0, s, 50_000, 100 + seed);
            ridge_fit(&x, 1.0, 0.0).unwrap().get(0, 0)
        })
        .collect();
    let (m, sem) = mean_sem(&fits);
    assert!(sem < 0.005, "sem {sem}");
    assert!((m - exact).abs() < 4.0 * sem, "fit {m} +- {sem} vs {exact}");
}

/// PO-2/PO-3: the fallback iterations (sign function, Smith doubling) agree with Bartels-Stewart
/// on random stable matrices, non-normal ones included: two independent solvers of one
/// equation, to `sqrt(eps)` relative (the fallback's acceptance level).
#[test]
fn po2_po3_fallback_iterations_agree_with_bartels_stewart() {
    let n = 40;
    let mut r = rng(23, 0);
    for (k, spread) in [0.5, 3.0].into_iter().enumerate() {
        // A Gaussian similarity of a stable diagonal: non-normal, cond(S) grows with spread.
        let s = gaussian_matrix(&mut r, n, n).add_scaled(&Matrix::identity(n), 1.0 / spread);
        let d = Matrix::from_diag(
            &(0..n)
                .map(|i| 0.9 * (i as f64 / n as f64) - 0.4)
                .collect::<Vec<_>>(),
        );
        let b = learndyn::linalg::solve(&s.transpose(), &s.matmul(&d).transpose())
            .unwrap()
            .transpose();
        let h = gaussian_matrix(&mut r, n, n);
        let q = h.matmul_t(&h);
        let a = b.sub(&Matrix::identity(n));
        let x = lyapunov::continuous(&a, &q).unwrap();
        let y = lyapunov::continuous_by_sign_function(&a, &q).unwrap();
        let rel = y.sub(&x).norm_fro() / x.norm_fro();
        assert!(
            rel < EPS.sqrt(),
            "case {k}: continuous relative difference {rel:e}"
        );
        let x = lyapunov::discrete(&b, &q).unwrap();
        let y = lyapunov::discrete_by_doubling(&b, &q).unwrap();
        let rel = y.sub(&x).norm_fro() / x.norm_fro();
        assert!(
            rel < EPS.sqrt(),
            "case {k}: discrete relative difference {rel:e}"
        );
    }
    // An unstable A is refused by both.
    let a = Matrix::from_diag(&[0.5, -1.0]);
    assert!(lyapunov::continuous_by_sign_function(&a, &Matrix::identity(2)).is_err());
    let b = Matrix::from_diag(&[1.5, 0.1]);
    assert!(lyapunov::discrete_by_doubling(&b, &Matrix::identity(2)).is_err());
}
