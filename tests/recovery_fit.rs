//! Built-in least-squares fitters (theory/recovery.md RF-1, RF-2; issue 12's checks "each
//! fitter recovers a known small system in its easy regime" and "the least-squares student
//! converges to the partial-observation closed form as the data length grows").

use learndyn::linalg::{self, Matrix};
use learndyn::npy;
use learndyn::recovery::dataset::{self, Dataset};
use learndyn::recovery::fit::{self, FitMethod};
use learndyn::recovery::score::{self, Fitted};
use learndyn::recovery::spec::Spec;
use learndyn::theory::partial_obs::{stationary_student, Problem, TimeKind};
use std::path::PathBuf;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("learndyn-fit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Chain teacher `dx = (B - I) x dt + sigma dW`, `D` units, `neurons` of them observed
/// without noise.
fn chain(dim: usize, neurons: usize, trials: usize, steps: usize) -> Dataset {
    let text = format!(
        "seed = 4\n[system]\nkind = \"linear\"\nteacher = \"chain\"\ndim = {dim}\n\
         [trials]\ncount = {trials}\nsteps = {steps}\ndt = 0.05\nprocess_noise = 1.0\nsubsteps = 5\n\
         [observe]\nmixing = \"subset\"\nneurons = {neurons}\nnoise = \"none\"\n"
    );
    dataset::generate(&Spec::parse(&text, "<test>").unwrap()).unwrap()
}

/// The exact per-sample transition of the Euler-Maruyama trials: `A = M^S`, `M = I + h (B - I)`,
/// and the per-sample noise covariance `Q = sigma^2 h sum_s M^s M^sT` (`S` substeps of `h`).
fn transition(dim: usize) -> (Matrix, Matrix) {
    let h = 0.05 / 5.0;
    let m = Matrix::from_fn(dim, dim, |i, j| {
        f64::from(u8::from(i == j)) * (1.0 - h) + h * f64::from(u8::from(j == i + 1))
    });
    let (mut a, mut q) = (Matrix::identity(dim), Matrix::zeros(dim, dim));
    for _ in 0..5 {
        q = q.add_scaled(&a.matmul(&a.transpose()), h);
        a = m.matmul(&a);
    }
    (a, q)
}

fn read_a(dir: &std::path::Path) -> Matrix {
    npy::read_matrix(&dir.join("a.npy")).unwrap()
}

/// RF-1: fully observed, the observed-unit student's `A` is the exact transition (permuted as
/// the subset readout orders the units) within 4.5 standard errors entrywise. The standard
/// error of entry (i, j) of a least-squares fit with white Gaussian residuals is
/// `sqrt(Q_ii [(Z Z^T)^-1]_jj)` given the design `Z` (here exactly, conditional on `Z`):
/// the tolerance falls like `1/sqrt(transitions)`. The fitted network also scores like the
/// truth's fixed point (F1 = 1, timescale error small).
#[test]
fn observed_student_recovers_a_fully_observed_linear_system() {
    let dim = 4;
    let d = chain(dim, dim, 20, 400);
    let dir = tmp("full");
    let r = fit::fit(&d, FitMethod::Observed, None, 0.0, &dir).unwrap();
    assert_eq!(r.latent, dim);
    let a_hat = read_a(&dir);
    let (a, q) = transition(dim);
    let units = d.readout.units.clone().unwrap();
    // The design Z = [x_t; 1] over all training transitions.
    let tm = d.meta.time;
    let train = &d.meta.splits.train;
    let rows = train.len() * (tm - 1);
    let z = Matrix::from_fn(rows, dim + 1, |r, c| {
        if c < dim {
            d.observations.get(train[r / (tm - 1)], r % (tm - 1), c)
        } else {
            1.0
        }
    });
    let zi = linalg::solve(&z.t_matmul(&z), &Matrix::identity(dim + 1)).unwrap();
    let mut worst = 0.0f64;
    for i in 0..dim {
        for j in 0..dim {
            let se = (q.get(units[i], units[i]) * zi.get(j, j)).sqrt();
            let zscore = (a_hat.get(i, j) - a.get(units[i], units[j])) / se;
            worst = worst.max(zscore.abs());
        }
    }
    eprintln!("largest |z| over the 16 entries: {worst:.3}");
    assert!(worst < 4.5, "largest z-score {worst}");
    let f = Fitted::read(&dir, &d).unwrap();
    let s = score::score(&d, &f).unwrap();
    assert_eq!(
        s.metrics["M10"]["value"].as_f64(),
        Some(1.0),
        "{}",
        s.metrics["M10"]
    );
}

/// RF-1 vs PO-1/PO-3: observed at 2 of 4 chain units (discrete time, the exact per-sample
/// transition and noise), the student converges to the stationary closed form: 16 times the
/// data shrinks the error at least twofold (1/sqrt(T) predicts fourfold), and the long fit is
/// within 0.02 of it entrywise (its standard error is ~0.004; the trials' transient from the
/// initial box adds a bias of order (relaxation time / trial length) ~ 1e-3).
#[test]
fn observed_student_converges_to_the_partial_observation_closed_form() {
    let dim = 4;
    let (a, q) = transition(dim);
    let err = |steps: usize| {
        let d = chain(dim, 2, 8, steps);
        let units = d.readout.units.clone().unwrap();
        let closed = stationary_student(&Problem {
            teacher: &a,
            noise: Some(&q),
            observed: &units,
            time: TimeKind::Discrete,
            obs_noise: 0.0,
        })
        .unwrap();
        let dir = tmp(&format!("partial-{steps}"));
        fit::fit(&d, FitMethod::Observed, None, 0.0, &dir).unwrap();
        let a_hat = read_a(&dir);
        (0..2)
            .flat_map(|i| (0..2).map(move |j| (i, j)))
            .map(|(i, j)| (a_hat.get(i, j) - closed.b_hat.get(i, j)).abs())
            .fold(0.0, f64::max)
    };
    let (short, long) = (err(1000), err(16000));
    eprintln!("max entry error vs the closed form: {short:.5} (1000 steps) -> {long:.5} (16000)");
    assert!(long < short / 2.0, "error {short} -> {long}");
    assert!(long < 0.02, "error {long}");
}

/// RM-3: M12's `model_top_multiplier` of a linear fit is the largest |eigenvalue| of its
/// matrix `A` (the fitted top discrete eigenvalue, one bin per step), and
/// `true_top_multiplier` the truth's `exp(max Re lambda dt)`: `exp(-dt)` for the chain
/// `B - I` (every eigenvalue -1), 1 for a line attractor (its marginal direction).
#[test]
fn rm3_top_multiplier_of_a_linear_fit_is_its_matrix_top_eigenvalue() {
    let d = chain(3, 3, 10, 200);
    let dir = tmp("top-multiplier");
    fit::fit(&d, FitMethod::Observed, None, 0.0, &dir).unwrap();
    let top = linalg::eigenvalues(&read_a(&dir))
        .unwrap()
        .iter()
        .map(|z| z.norm())
        .fold(0.0, f64::max);
    let r = score::score(&d, &Fitted::read(&dir, &d).unwrap()).unwrap();
    let m12 = &r.metrics["M12"];
    let model = m12["model_top_multiplier"]
        .as_f64()
        .expect("model multiplier");
    assert!((model - top).abs() < 1e-9 * top, "{model} vs |eig A| {top}");
    let truth = m12["true_top_multiplier"]
        .as_f64()
        .expect("true multiplier");
    assert!((truth - (-0.05f64).exp()).abs() < 1e-12, "{truth}");
    let line = Spec::parse(
        "[system]\nkind = \"integrator\"\ndim = 2\nleak = 0.0\n[trials]\ncount = 10\nsteps = 50\n\
         [observe]\nneurons = 4\n",
        "<test>",
    )
    .unwrap();
    let d = dataset::generate(&line).unwrap();
    let r = score::score(&d, &Fitted::truth(&d)).unwrap();
    let truth = r.metrics["M12"]["true_top_multiplier"].as_f64();
    assert_eq!(truth, Some(1.0), "{}", r.metrics["M12"]);
}

/// A regressor without variance (the trio's second input channel is always zero) makes the
/// least-squares Gram matrix singular: the error names the ridge and the fix, and a small
/// ridge fits.
#[test]
fn collinear_regressors_error_names_the_ridge_and_a_small_ridge_fits() {
    let text = "seed = 0\n[system]\nkind = \"trio\"\nmechanism = \"line\"\n\
                [trials]\ncount = 20\nsteps = 200\ndt = 0.001\nprocess_noise = 0.01\nsubsteps = 4\n\
                [observe]\nmixing = \"linear\"\nneurons = 6\nnoise = \"gaussian\"\nnoise_std = 0.001\nbin = 10\n";
    let d = dataset::generate(&Spec::parse(text, "<test>").unwrap()).unwrap();
    let dir = tmp("collinear");
    let e = fit::fit(&d, FitMethod::Lds, Some(2), 0.0, &dir.join("m0"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("ridge") && e.contains("collinear"), "{e}");
    fit::fit(&d, FitMethod::Lds, Some(2), 1e-6, &dir.join("m1")).expect("ridge 1e-6 fits");
    let _ = std::fs::remove_dir_all(&dir);
}
