//! Fixed-point / slow-point finder (theory/fixed_points.md, FP-1..FP-5); the nonsymmetric
//! eigen-decomposition it relies on is tested in `tests/linalg.rs`. References are independent: closed forms (rotation
//! blocks, triangular matrices, the flip-flop skeleton FP-4, `f'(x)` at the roots), invariants
//! (trace, determinant by LU), central finite differences, bisection, and the exact affine solve
//! (FP-5).

mod common;

use common::EPS;
use learndyn::analysis::fixed_points::{
    find_fixed_points, linear_fixed_point, match_sets, sample_inits, FpOptions, RnnMap, StateMap,
    TimeKind,
};
use learndyn::linalg::{self, Matrix};
use learndyn::model::rnn::Activation;
use learndyn::random::{gaussian_matrix, rng};
use learndyn::Error;
use proptest::prelude::*;
use rand::RngExt;

/// LAPACK-style backward error of a dense eigen-solver: the computed eigenpairs are exact for
/// `A + E` with `||E|| <= p(n) eps ||A||`; we take the modest `p(n) = 10 n`.
fn backward(a: &Matrix) -> f64 {
    10.0 * a.nrows() as f64 * EPS * a.norm_fro()
}

#[test]
fn eig_rejects_bad_input() {
    assert!(linalg::eig(&Matrix::zeros(2, 3)).is_err());
    let mut a = Matrix::identity(3);
    a.set(1, 2, f64::NAN);
    assert!(linalg::eigenvalues(&a).is_err());
    assert!(linalg::eig(&Matrix::zeros(0, 0)).unwrap().0.is_empty());
}

const ACTS: [Activation; 3] = [Activation::Identity, Activation::Tanh, Activation::Relu];

/// A random RNN map of size `n` (W scaled by `1.2/sqrt(n)`), and a state where ReLU is at least
/// `margin` away from its kink in every coordinate that matters.
fn random_map(n: usize, act: Activation, continuous: bool, seed: u64) -> (RnnMap, Vec<f64>) {
    let mut r = rng(seed, 5);
    let w = gaussian_matrix(&mut r, n, n).scale(1.2 / (n as f64).sqrt());
    let drive: Vec<f64> = gaussian_matrix(&mut r, n, 1).scale(0.5).into_vec();
    let map = RnnMap {
        w,
        drive,
        activation: act,
        continuous,
    };
    let margin = 1e-2;
    loop {
        let x = gaussian_matrix(&mut r, n, 1).into_vec();
        // Arguments of phi: a = W x + drive (discrete) or x itself (continuous).
        let args: Vec<f64> = if continuous {
            x.clone()
        } else {
            (0..n)
                .map(|i| map.drive[i] + (0..n).map(|j| map.w.get(i, j) * x[j]).sum::<f64>())
                .collect()
        };
        if args.iter().all(|a| a.abs() > margin) {
            return (map, x);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Checks the Jacobians that FP-2 (the Levenberg-Marquardt step) and FP-3 (stability) use.
    /// Analytic Jacobians (`diag(phi'(a)) W`, `-I + W diag(phi'(h))`) vs central differences of
    /// the map (`F = residual + x` for discrete maps). Truncation error `h^2/6 |phi'''| |w|^3`
    /// with `|tanh'''| <= 2` (zero for identity and for ReLU away from kinks: `h = 1e-5` stays
    /// within the `1e-2` margin), rounding `~4 eps (|F| + |x|) / h`.
    #[test]
    fn rnn_map_jacobian_matches_central_differences(
        act_ix in 0usize..3, continuous in any::<bool>(), seed in 0u64..1000, n in 1usize..7
    ) {
        let act = ACTS[act_ix];
        let (map, x) = random_map(n, act, continuous, seed);
        prop_assert_eq!(map.dim(), n);
        prop_assert_eq!(map.kind(), if continuous { TimeKind::Continuous } else { TimeKind::Discrete });
        let mut jac = Matrix::zeros(n, n);
        map.jacobian(&x, &mut jac);
        let h = 1e-5;
        let wmax = map.w.max_abs().max(1.0);
        let eval = |y: &[f64]| -> Vec<f64> {
            let mut out = vec![0.0; n];
            map.residual(y, &mut out);
            if !continuous {
                for (o, v) in out.iter_mut().zip(y) { *o += v; }
            }
            out
        };
        let scale = 1.0 + eval(&x).iter().chain(&x).fold(0.0f64, |m, v| m.max(v.abs())) + wmax;
        let tol = h * h / 3.0 * wmax.powi(3) + 8.0 * EPS * scale * wmax / h;
        for j in 0..n {
            let mut xp = x.clone();
            let mut xm = x.clone();
            xp[j] += h;
            xm[j] -= h;
            let (fp, fm) = (eval(&xp), eval(&xm));
            for i in 0..n {
                let fd = (fp[i] - fm[i]) / (2.0 * h);
                prop_assert!((fd - jac.get(i, j)).abs() <= tol,
                    "{act:?} cont={continuous} ({i},{j}): fd {fd} vs {} (tol {tol:e})", jac.get(i, j));
            }
        }
    }
}

/// Checks FP-1's residual `r(x)` for both RNN forms.
/// The residual itself against a direct evaluation of the two RNN forms.
#[test]
fn rnn_map_residual_is_the_documented_map() {
    for &act in &ACTS {
        for continuous in [false, true] {
            let (map, x) = random_map(4, act, continuous, 11);
            let mut got = vec![0.0; 4];
            map.residual(&x, &mut got);
            for i in 0..4 {
                let want = if continuous {
                    -x[i]
                        + map.drive[i]
                        + (0..4)
                            .map(|j| map.w.get(i, j) * act.apply(x[j]))
                            .sum::<f64>()
                } else {
                    act.apply(map.drive[i] + (0..4).map(|j| map.w.get(i, j) * x[j]).sum::<f64>())
                        - x[i]
                };
                assert!((got[i] - want).abs() <= 16.0 * EPS * (1.0 + want.abs()));
            }
        }
    }
}

/// Positive root of `tanh(g x) = x` for `g > 1` by bisection on `[0.1, 1]` (where the sign of
/// `tanh(g x) - x` changes for the `g` used here) down to adjacent floats.
fn tanh_root(g: f64) -> f64 {
    let r = |x: f64| (g * x).tanh() - x;
    let (mut lo, mut hi) = (0.1, 1.0);
    assert!(r(lo) > 0.0 && r(hi) < 0.0);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if r(mid) > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

fn scalar_map(g: f64) -> RnnMap {
    RnnMap {
        w: Matrix::from_diag(&[g]),
        drive: vec![0.0],
        activation: Activation::Tanh,
        continuous: false,
    }
}

fn grid_states(lo: f64, hi: f64, m: usize) -> Matrix {
    Matrix::from_fn(1, m, |_, j| lo + (hi - lo) * j as f64 / (m - 1) as f64)
}

/// FP-1..FP-3 on `x -> tanh(g x)`: for `g = 2` the fixed points are `-x*, x*` (stable, multiplier
/// `g (1 - x*^2)`) and `0` (unstable, multiplier `g`); for `g = 0.5` only `0` (stable). The
/// roots are simple (`|g(1 - x*^2) - 1| ~ 0.8`), so the finder is accurate to rounding; we
/// require the stated 1e-10 against bisection.
#[test]
fn scalar_tanh_map_fixed_points() {
    let opts = FpOptions {
        n_inits: 256,
        ..FpOptions::default()
    };
    let inits = sample_inits(&grid_states(-1.5, 1.5, 31), &opts).unwrap();
    let g = 2.0;
    let set = find_fixed_points(&scalar_map(g), &inits, &opts).unwrap();
    assert_eq!(set.kind, TimeKind::Discrete);
    assert_eq!(set.n_not_converged, 0);
    assert_eq!(set.points.len(), 3, "{:?}", set.points);
    let xs = tanh_root(g);
    let mult = g * (1.0 - xs * xs);
    for (p, want) in set.points.iter().zip([-xs, xs, 0.0]) {
        assert!(p.is_fixed);
        assert!((p.x[0] - want).abs() <= 1e-10, "{} vs {want}", p.x[0]);
        assert!(p.q <= opts.tol_q);
    }
    for p in &set.points[..2] {
        assert!(p.stable && p.n_unstable == 0 && p.n_marginal == 0);
        // d/dx of g(1 - x^2) is at most 2g, times the 1e-10 location error, plus rounding.
        assert!((p.eigenvalues[0].re - mult).abs() <= 2.0 * g * 1e-10 + 8.0 * EPS);
        assert!(p.eigenvalues[0].im.abs() <= 8.0 * EPS);
        let tau = -1.0 / mult.ln();
        assert!(
            (p.timescales[0] - tau).abs() <= 1e-8 * tau,
            "{} vs {tau}",
            p.timescales[0]
        );
    }
    let origin = &set.points[2];
    assert!(!origin.stable && origin.n_unstable == 1);
    assert!((origin.eigenvalues[0].re - g).abs() <= 8.0 * EPS);
    assert!(origin.timescales[0] < 0.0, "growth time is negative");
    assert_eq!(set.index_histogram(), vec![2, 1]);

    let set = find_fixed_points(&scalar_map(0.5), &inits, &opts).unwrap();
    assert_eq!(set.points.len(), 1);
    let p = &set.points[0];
    assert!(p.x[0].abs() <= 1e-10 && p.stable && p.is_fixed);
    assert!((p.eigenvalues[0].re - 0.5).abs() <= 8.0 * EPS);
    assert!(set.n_duplicates + 1 + set.n_not_converged == 256);
}

/// Bound on the distance of the finder's point from the exact affine fixed point:
/// the finder stops when a step is `<= 1e-14 (||x|| + 1e-14)`, leaving a residual
/// `<= sigma_max * step`, and evaluates the residual with rounding `~4 n eps (||W|| ||x|| +
/// ||b|| + ||x||)`; both become a state error after dividing by `sigma_min`. The LU solve adds
/// `10 n eps kappa ||x||`.
fn linear_bound(m: &Matrix, w: &Matrix, b: &[f64], x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let s = linalg::singular_values(m.view()).unwrap();
    let (smax, smin) = (s[0], *s.last().unwrap());
    let xn = x.iter().map(|v| v * v).sum::<f64>().sqrt();
    let bn = b.iter().map(|v| v * v).sum::<f64>().sqrt();
    let step = 1e-14 * (xn + 1e-14);
    let rounding = 4.0 * n * EPS * (w.norm_fro() * xn + bn + xn);
    (smax * step + rounding) / smin + 10.0 * n * EPS * (smax / smin) * xn
}

/// FP-5: a linear RNN (identity activation) with a random stable `W` has exactly one fixed
/// point, the exact affine solve; discrete `(I - W) x = b` and rate `(W - I) x + b = 0`.
/// Stability and the leading Jacobian eigenvalue follow FP-3.
#[test]
fn linear_rnn_has_the_exact_affine_fixed_point() {
    let n = 6;
    let mut r = rng(3, 9);
    let w = gaussian_matrix(&mut r, n, n).scale(0.5 / (n as f64).sqrt());
    let b = gaussian_matrix(&mut r, n, 1).into_vec();
    let rho = linalg::eigenvalues(&w).unwrap()[0].norm();
    assert!(rho < 1.0, "spectral radius {rho}");
    let states = gaussian_matrix(&mut r, n, 20);
    let opts = FpOptions {
        n_inits: 64,
        ..FpOptions::default()
    };
    let inits = sample_inits(&states, &opts).unwrap();
    for continuous in [false, true] {
        let map = RnnMap {
            w: w.clone(),
            drive: b.clone(),
            activation: Activation::Identity,
            continuous,
        };
        let set = find_fixed_points(&map, &inits, &opts).unwrap();
        assert_eq!(set.points.len(), 1, "continuous={continuous}");
        assert_eq!(set.n_not_converged, 0);
        let (exact, m) = if continuous {
            let a = w.sub(&Matrix::identity(n));
            (linear_fixed_point(&a, &b, TimeKind::Continuous).unwrap(), a)
        } else {
            let exact = linear_fixed_point(&w, &b, TimeKind::Discrete).unwrap();
            (exact, Matrix::identity(n).sub(&w))
        };
        // The exact solve is a solution: ||M x -/+ b|| at rounding level.
        let mx = m.matmul(&Matrix::from_col_major(n, 1, exact.clone()).unwrap());
        let sign = if continuous { 1.0 } else { -1.0 };
        let res: f64 = (0..n)
            .map(|i| (mx.get(i, 0) + sign * b[i]).abs())
            .fold(0.0, f64::max);
        assert!(
            res <= 8.0 * n as f64 * EPS * (m.norm_fro() * 10.0 + 1.0),
            "residual {res:e}"
        );
        let p = &set.points[0];
        let err =
            p.x.iter()
                .zip(&exact)
                .map(|(u, v)| (u - v).abs())
                .fold(0.0, f64::max);
        let bound = linear_bound(&m, &w, &b, &exact);
        assert!(
            err <= bound && bound <= 1e-10,
            "err {err:e}, bound {bound:e}"
        );
        // Stability = the spectrum of W (discrete) or W - I (continuous): stable here.
        assert!(p.stable && p.is_fixed);
        let lead = if continuous {
            p.eigenvalues[0].re
        } else {
            p.eigenvalues[0].norm()
        };
        let want = if continuous {
            linalg::eigenvalues(&m)
                .unwrap()
                .iter()
                .map(|z| z.re)
                .fold(f64::NEG_INFINITY, f64::max)
        } else {
            rho
        };
        assert!((lead - want).abs() <= backward(&m), "{lead} vs {want}");
    }
}

/// `W = Q diag(1, 0.5, -0.3, 0.2) Q^T` has eigenvalue 1: a line attractor along `q_1`.
fn line_attractor(seed: u64) -> (Matrix, Vec<f64>) {
    let q = linalg::orthonormal_from(&gaussian_matrix(&mut rng(seed, 2), 4, 4)).unwrap();
    let d = Matrix::from_diag(&[1.0, 0.5, -0.3, 0.2]);
    let w = q.matmul(&d).matmul_t(&q);
    (w, (0..4).map(|i| q.get(i, 0)).collect())
}

/// FP-5's singular case: `linear_fixed_point` refuses (typed error, says why), and the finder
/// returns points on the line, each with exactly one marginal direction (FP-3).
#[test]
fn line_attractor_is_singular_and_marginal() {
    let (w, v) = line_attractor(4);
    let b = vec![0.0; 4];
    match linear_fixed_point(&w, &b, TimeKind::Discrete) {
        Err(Error::Invalid { what, message }) => {
            assert_eq!(what, "linear fixed point");
            assert!(message.contains("singular") && message.contains("eigenvalue 1"));
        }
        other => panic!("expected a singular-matrix error, got {other:?}"),
    }
    let a = w.sub(&Matrix::identity(4));
    assert!(matches!(
        linear_fixed_point(&a, &b, TimeKind::Continuous),
        Err(Error::Invalid { .. })
    ));
    assert!(matches!(
        linear_fixed_point(&w, &[0.0; 3], TimeKind::Discrete),
        Err(Error::Shape { .. })
    ));

    let map = RnnMap {
        w,
        drive: b,
        activation: Activation::Identity,
        continuous: false,
    };
    let opts = FpOptions {
        n_inits: 32,
        ..FpOptions::default()
    };
    let inits = sample_inits(&gaussian_matrix(&mut rng(1, 1), 4, 8), &opts).unwrap();
    let set = find_fixed_points(&map, &inits, &opts).unwrap();
    assert!(
        set.points.len() > 1,
        "a continuum gives many distinct points"
    );
    for p in &set.points {
        assert_eq!((p.n_marginal, p.n_unstable, p.stable), (1, 0, false));
        // Distance from the line span(v).
        let t: f64 = p.x.iter().zip(&v).map(|(a, b)| a * b).sum();
        let off =
            p.x.iter()
                .zip(&v)
                .map(|(a, b)| (a - t * b).powi(2))
                .sum::<f64>()
                .sqrt();
        assert!(off <= 1e-10, "off the line by {off:e}");
    }
}

/// The idealized 3-bit flip-flop (FP-4): `x_i' = -(2 x_i - 6 x_i^2 + 4 x_i^3)` per coordinate.
struct FlipFlop;

fn ff(x: f64) -> f64 {
    -(2.0 * x - 6.0 * x * x + 4.0 * x * x * x)
}
fn dff(x: f64) -> f64 {
    -(2.0 - 12.0 * x + 12.0 * x * x)
}

impl StateMap for FlipFlop {
    fn dim(&self) -> usize {
        3
    }
    fn kind(&self) -> TimeKind {
        TimeKind::Continuous
    }
    fn residual(&self, x: &[f64], out: &mut [f64]) {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = ff(v);
        }
    }
    fn jacobian(&self, x: &[f64], jac: &mut Matrix) {
        for (i, &xi) in x.iter().enumerate() {
            for j in 0..3 {
                jac.set(i, j, if i == j { dff(xi) } else { 0.0 });
            }
        }
    }
}

fn flip_flop_exact() -> Vec<Vec<f64>> {
    let v = [0.0, 0.5, 1.0];
    let mut out = Vec::new();
    for a in v {
        for b in v {
            for c in v {
                out.push(vec![a, b, c]);
            }
        }
    }
    out
}

/// Check C3 / FP-4: from 1024 inits the finder returns exactly `{0, 0.5, 1}^3`, 8 stable and
/// 12/6/1 with 1/2/3 unstable directions; eigenvalues `f'(x_i) in {-2, 1}` and timescales
/// `-1/f'`; the match with the exact set is perfect in both directions.
fn check_flip_flop(inits: &Matrix, opts: &FpOptions) {
    let set = find_fixed_points(&FlipFlop, inits, opts).unwrap();
    assert_eq!(set.kind, TimeKind::Continuous);
    assert_eq!(
        set.points.len(),
        27,
        "drops: not converged {}, outliers {}",
        set.n_not_converged,
        set.n_outliers
    );
    assert_eq!(set.index_histogram(), vec![8, 12, 6, 1]);
    let found: Vec<Vec<f64>> = set.points.iter().map(|p| p.x.clone()).collect();
    let exact = flip_flop_exact();
    let m = match_sets(&found, &exact, opts.tol_unique);
    assert!(
        m.unmatched_a.is_empty() && m.unmatched_b.is_empty(),
        "{m:?}"
    );
    assert_eq!(m.pairs.len(), 27);
    // Simple roots, |f'| >= 1: location error ~ rounding of f (a few eps) / |f'|.
    let worst = m.pairs.iter().map(|p| p.2).fold(0.0, f64::max);
    assert!(worst <= 64.0 * EPS, "worst distance {worst:e}");
    for (k, p) in set.points.iter().enumerate() {
        assert!(p.is_fixed);
        let (_, j, _) = m.pairs[k];
        let stable_want = exact[j].iter().all(|&c| (c - 0.5).abs() > 0.25);
        assert_eq!(p.stable, stable_want, "{:?}", p.x);
        let n_half = exact[j].iter().filter(|&&c| (c - 0.5).abs() < 0.25).count();
        assert_eq!(p.n_unstable, n_half);
        let mut want: Vec<f64> = exact[j].iter().map(|&c| dff(c)).collect();
        want.sort_by(|a, b| b.total_cmp(a));
        for ((ev, w), tau) in p.eigenvalues.iter().zip(&want).zip(&p.timescales) {
            // f'' is at most 12 in [0, 1]; times the 64 eps location error.
            assert!((ev.re - w).abs() <= 12.0 * 64.0 * EPS && ev.im.abs() <= 8.0 * EPS);
            assert!(
                (tau + 1.0 / w).abs() <= 1e-12,
                "timescale {tau} vs {}",
                -1.0 / w
            );
        }
    }
    // Deterministic: the same inputs give bitwise the same points.
    let again = find_fixed_points(&FlipFlop, inits, opts).unwrap();
    for (p, r) in set.points.iter().zip(&again.points) {
        assert!(p
            .x
            .iter()
            .zip(&r.x)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
    }
}

/// C3 / FP-4, through the whole finder (FP-1..FP-3), with inits uniform in `[-0.25, 1.25]^3` plus
/// the default `N(0, 0.5^2)` noise.
#[test]
fn flip_flop_skeleton_from_uniform_inits() {
    let opts = FpOptions::default();
    let mut r = rng(5, 1);
    let states = Matrix::from_fn(3, 256, |_, _| r.random_range(-0.25..1.25));
    let inits = sample_inits(&states, &opts).unwrap();
    assert_eq!((inits.nrows(), inits.ncols()), (3, 1024));
    check_flip_flop(&inits, &opts);
}

/// C3 / FP-4, through the whole finder (FP-1..FP-3), with inits sampled around trajectories of the
/// flow itself (forward Euler, dt = 0.05, 40 steps from uniform starts in the cube), as
/// FixedPointFinder does with RNN hidden states.
#[test]
fn flip_flop_skeleton_from_trajectories() {
    let opts = FpOptions {
        seed: 3,
        ..FpOptions::default()
    };
    let mut r = rng(6, 1);
    let mut cols = Vec::new();
    for _ in 0..32 {
        let mut x: Vec<f64> = (0..3).map(|_| r.random_range(0.0..1.0)).collect();
        for _ in 0..40 {
            cols.extend_from_slice(&x);
            for v in x.iter_mut() {
                *v += 0.05 * ff(*v);
            }
        }
    }
    let m = cols.len() / 3;
    let states = Matrix::from_col_major(3, m, cols).unwrap();
    let inits = sample_inits(&states, &opts).unwrap();
    check_flip_flop(&inits, &opts);
}

/// Checks FP-2's initial states: observed states drawn uniformly with replacement, plus
/// `N(0, noise_scale^2)` noise; deterministic in the seed.
#[test]
fn sample_inits_draws_states_plus_noise() {
    let states = Matrix::from_fn(2, 3, |i, j| (10 * j + i) as f64 * 100.0);
    let opts = FpOptions {
        n_inits: 4000,
        noise_scale: 0.5,
        ..FpOptions::default()
    };
    let inits = sample_inits(&states, &opts).unwrap();
    // Each init is within 7 sigma of exactly one state column (columns are 1000 apart).
    let mut counts = [0usize; 3];
    let mut noise = Vec::new();
    for k in 0..inits.ncols() {
        let j = (inits.get(0, k) / 1000.0).round() as usize;
        counts[j] += 1;
        for i in 0..2 {
            noise.push(inits.get(i, k) - states.get(i, j));
        }
    }
    // Uniform with replacement: each count ~ Binomial(4000, 1/3), sd ~ 30; 5 sd.
    for c in counts {
        assert!((c as f64 - 4000.0 / 3.0).abs() <= 150.0, "{counts:?}");
    }
    let var = noise.iter().map(|z| z * z).sum::<f64>() / noise.len() as f64;
    // Sample variance of 8000 normals: relative sd sqrt(2/8000) ~ 0.016; 5 sd.
    assert!((var / 0.25 - 1.0).abs() <= 0.08, "noise variance {var}");
    // Deterministic in the seed, different across seeds.
    assert_eq!(inits, sample_inits(&states, &opts).unwrap());
    let other = FpOptions {
        seed: 1,
        ..opts.clone()
    };
    assert_ne!(inits, sample_inits(&states, &other).unwrap());
    assert!(matches!(
        sample_inits(&Matrix::zeros(2, 0), &opts),
        Err(Error::Shape { .. })
    ));
}

#[test]
fn bad_inputs_are_typed_errors() {
    let map = scalar_map(2.0);
    let opts = FpOptions::default();
    assert!(matches!(
        find_fixed_points(&map, &Matrix::zeros(2, 5), &opts),
        Err(Error::Shape { .. })
    ));
    let bad = FpOptions {
        tol_slow: 1e-14,
        ..FpOptions::default()
    };
    match find_fixed_points(&map, &Matrix::zeros(1, 5), &bad) {
        Err(Error::Invalid { what, .. }) => assert_eq!(what, "fixed_points.tol_slow"),
        other => panic!("{other:?}"),
    }
    let inconsistent = RnnMap {
        w: Matrix::identity(3),
        drive: vec![0.0; 2],
        activation: Activation::Tanh,
        continuous: true,
    };
    assert!(matches!(
        find_fixed_points(&inconsistent, &Matrix::zeros(3, 2), &opts),
        Err(Error::Shape { .. })
    ));
    let mut nan = Matrix::zeros(1, 3);
    nan.set(0, 1, f64::NAN);
    assert!(matches!(
        find_fixed_points(&map, &nan, &opts),
        Err(Error::Invalid { .. })
    ));
}

#[test]
fn match_sets_permutation_and_missing_points() {
    let a = flip_flop_exact();
    // b = a in reverse order, each point moved by 1e-4.
    let b: Vec<Vec<f64>> = a
        .iter()
        .rev()
        .map(|p| p.iter().map(|v| v + 1e-4).collect())
        .collect();
    let m = match_sets(&a, &b, 1e-3);
    assert!(m.unmatched_a.is_empty() && m.unmatched_b.is_empty());
    for (k, &(i, j, d)) in m.pairs.iter().enumerate() {
        assert_eq!((i, j), (k, 26 - k));
        assert!((d - 3f64.sqrt() * 1e-4).abs() <= 1e-15);
    }
    // Drop point 5 of b and move point 0 of b away: both show up as unmatched.
    let mut c = b.clone();
    c.remove(5);
    c[0][0] += 0.1;
    let m = match_sets(&a, &c, 1e-3);
    assert_eq!(m.unmatched_a, vec![26 - 5, 26]);
    assert_eq!(m.unmatched_b, vec![0]);
    assert_eq!(m.pairs.len(), 25);
    // Symmetric in the two directions.
    let r = match_sets(&c, &a, 1e-3);
    assert_eq!(r.unmatched_a, m.unmatched_b);
    assert_eq!(r.unmatched_b, m.unmatched_a);
    // Empty sets.
    let e = match_sets(&[], &a, 1e-3);
    assert!(e.pairs.is_empty() && e.unmatched_b.len() == 27);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Points on a unit grid, shuffled and perturbed by less than tol/2 (tol = 0.2 < 1/2 of the
    /// spacing): the matching recovers the permutation exactly.
    #[test]
    fn match_sets_recovers_permutations(seed in 0u64..10_000, k in 1usize..20) {
        let mut r = rng(seed, 8);
        let a: Vec<Vec<f64>> = (0..k).map(|i| vec![i as f64, (i % 3) as f64]).collect();
        let mut perm: Vec<usize> = (0..k).collect();
        for i in (1..k).rev() {
            let j = r.random_range(0..=i);
            perm.swap(i, j);
        }
        let b: Vec<Vec<f64>> = perm
            .iter()
            .map(|&i| a[i].iter().map(|v| v + r.random_range(-0.07..0.07)).collect())
            .collect();
        let m = match_sets(&a, &b, 0.2);
        prop_assert!(m.unmatched_a.is_empty() && m.unmatched_b.is_empty());
        for &(i, j, d) in &m.pairs {
            prop_assert_eq!(perm[j], i);
            prop_assert!(d <= 0.07 * 2f64.sqrt());
        }
    }
}

/// `write`: the npy holds one row per point (read back bit for bit), the JSON parses and has
/// every documented field.
#[test]
fn write_round_trips() {
    let opts = FpOptions {
        n_inits: 128,
        ..FpOptions::default()
    };
    let inits = sample_inits(&grid_states(-1.5, 1.5, 31), &opts).unwrap();
    let set = find_fixed_points(&scalar_map(2.0), &inits, &opts).unwrap();
    let dir = std::env::temp_dir().join(format!("learndyn-fp-{}", std::process::id()));
    let paths = learndyn::record::write_fixed_points(&set, &dir, "fps").unwrap();
    assert_eq!(paths, vec![dir.join("fps.npy"), dir.join("fps.json")]);
    let m = learndyn::npy::read_matrix(&paths[0]).unwrap();
    assert_eq!((m.nrows(), m.ncols()), (3, 1));
    for (i, p) in set.points.iter().enumerate() {
        assert_eq!(m.get(i, 0).to_bits(), p.x[0].to_bits());
    }
    let text = std::fs::read_to_string(&paths[1]).unwrap();
    let j: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(j["kind"], "discrete");
    assert_eq!(j["n_points"], 3);
    assert_eq!(j["n_inits"], 128);
    for key in [
        "n_not_converged",
        "n_duplicates",
        "n_outliers",
        "index_histogram",
        "options",
    ] {
        assert!(!j[key].is_null(), "missing {key}");
    }
    assert_eq!(
        j["options"]["tol_q"].as_f64().unwrap().to_bits(),
        opts.tol_q.to_bits()
    );
    let pts = j["points"].as_array().unwrap();
    assert_eq!(pts.len(), 3);
    for (pj, p) in pts.iter().zip(&set.points) {
        assert_eq!(pj["q"].as_f64().unwrap().to_bits(), p.q.to_bits());
        assert_eq!(pj["n_unstable"], p.n_unstable);
        assert_eq!(pj["n_marginal"], p.n_marginal);
        assert_eq!(pj["stable"], p.stable);
        assert_eq!(pj["is_fixed"], p.is_fixed);
        assert_eq!(
            pj["eigenvalues_re"][0].as_f64().unwrap().to_bits(),
            p.eigenvalues[0].re.to_bits()
        );
        assert_eq!(pj["eigenvalues_im"].as_array().unwrap().len(), 1);
        assert_eq!(pj["timescales"].as_array().unwrap().len(), 1);
        assert!(pj["speed"].is_number());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `RnnMap::from_rnn`: the drive is `U u` and the map is the trained RNN's step
/// `h -> phi(W h + U u)`; a wrong input length is a typed error.
#[test]
fn rnn_map_from_rnn_holds_the_input() {
    use learndyn::model::rnn::Rnn;
    let mut r = rng(12, 1);
    let (n, n_in) = (4, 2);
    let w = gaussian_matrix(&mut r, n, n).scale(0.5);
    let u = gaussian_matrix(&mut r, n, n_in);
    let c = gaussian_matrix(&mut r, 1, n);
    let rnn = Rnn::new(w.clone(), u.clone(), c, Activation::Tanh).unwrap();
    let input = [0.3, -1.2];
    let map = RnnMap::from_rnn(&rnn, &input).unwrap();
    assert!(!map.continuous && map.activation == Activation::Tanh);
    let h = gaussian_matrix(&mut r, n, 1).into_vec();
    let mut got = vec![0.0; n];
    map.residual(&h, &mut got);
    for i in 0..n {
        let a: f64 = (0..n).map(|j| w.get(i, j) * h[j]).sum::<f64>()
            + (0..n_in).map(|j| u.get(i, j) * input[j]).sum::<f64>();
        assert!((got[i] - (a.tanh() - h[i])).abs() <= 16.0 * EPS);
    }
    assert!(matches!(
        RnnMap::from_rnn(&rnn, &[1.0]),
        Err(Error::Shape { .. })
    ));
}
