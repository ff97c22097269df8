//! `analysis::spectra`: the one eigenvalue ordering (AN-1, FP-3) and the one timescale
//! convention (AN-2) that RNN observables and fixed-point classification share.
use learndyn::analysis::spectra::{
    effective_rank, sort_eigenvalues, sorted_eigenvalues, timescale, TimeKind,
};
use learndyn::linalg::Matrix;
use num_complex::Complex64;

fn c(re: f64, im: f64) -> Complex64 {
    Complex64::new(re, im)
}

/// Checks AN-1: discrete spectra by modulus, continuous by real part, most persistent first;
/// ties (a conjugate pair, equal moduli) by real then imaginary part, descending; NaN last.
#[test]
fn an1_eigenvalues_are_sorted_most_persistent_first() {
    let mut ev = vec![
        c(-0.9, 0.0),
        c(0.1, 0.5),
        c(0.9, 0.0),
        c(0.1, -0.5),
        c(f64::NAN, 0.0),
    ];
    sort_eigenvalues(&mut ev, TimeKind::Discrete);
    // |-0.9| = |0.9| = 0.9 > |0.1 +- 0.5i| = 0.51: the tie goes to the larger real part.
    let want = [c(0.9, 0.0), c(-0.9, 0.0), c(0.1, 0.5), c(0.1, -0.5)];
    assert_eq!(&ev[..4], &want);
    assert!(ev[4].re.is_nan());
    let mut ev = vec![c(-3.0, 0.0), c(-0.5, 2.0), c(0.2, 0.0), c(-0.5, -2.0)];
    sort_eigenvalues(&mut ev, TimeKind::Continuous);
    // By real part: the unstable 0.2 first, then the slow rotation pair, then -3.
    assert_eq!(
        ev,
        vec![c(0.2, 0.0), c(-0.5, 2.0), c(-0.5, -2.0), c(-3.0, 0.0)]
    );
    // From a matrix: a diagonal matrix's eigenvalues are its diagonal, in this order.
    let mut m = Matrix::zeros(3, 3);
    for (i, d) in [0.3, -0.8, 0.5].into_iter().enumerate() {
        m.set(i, i, d);
    }
    let ev = sorted_eigenvalues(&m, TimeKind::Discrete).unwrap();
    let re: Vec<f64> = ev.iter().map(|z| z.re).collect();
    assert_eq!(re, vec![-0.8, 0.5, 0.3]);
    let ev = sorted_eigenvalues(&m, TimeKind::Continuous).unwrap();
    let re: Vec<f64> = ev.iter().map(|z| z.re).collect();
    assert_eq!(re, vec![0.5, 0.3, -0.8]);
}

/// Checks AN-2: `-1/ln|lambda|` steps (discrete), `-1/Re lambda` (continuous); a marginal mode
/// has timescale `+inf` in both (not `-inf`), an unstable one a negative timescale (its growth
/// e-folding time); the rate form's `tau / (1 - Re lambda)` is the continuous timescale of
/// `lambda - 1`.
#[test]
fn an2_timescale_convention() {
    let eps = f64::EPSILON;
    // x_{t+1} = 0.5 x_t decays by e in 1/ln 2 steps.
    let t = timescale(c(0.5, 0.0), TimeKind::Discrete);
    assert!((t - 1.0 / 2f64.ln()).abs() <= 4.0 * eps * t);
    // A rotation keeps the modulus: the timescale sees only |lambda|.
    let z = c(0.6, 0.8 * 0.5);
    let t = timescale(z, TimeKind::Discrete);
    assert!((t + 1.0 / z.norm().ln()).abs() <= 4.0 * eps * t);
    assert_eq!(timescale(c(1.0, 0.0), TimeKind::Discrete), f64::INFINITY);
    assert_eq!(timescale(c(-1.0, 0.0), TimeKind::Discrete), f64::INFINITY);
    assert_eq!(timescale(c(0.0, 0.0), TimeKind::Continuous), f64::INFINITY);
    assert_eq!(timescale(c(-0.0, 3.0), TimeKind::Continuous), f64::INFINITY);
    assert_eq!(timescale(c(-2.0, 1.0), TimeKind::Continuous), 0.5);
    assert!(timescale(c(1.5, 0.0), TimeKind::Discrete) < 0.0);
    assert_eq!(timescale(c(0.25, 0.0), TimeKind::Continuous), -4.0);
    // Rate RNN with W eigenvalue 0.9: linearization -1 + 0.9, timescale 1 / (1 - 0.9) tau.
    let lambda = c(0.9, 0.0);
    let t = timescale(lambda - 1.0, TimeKind::Continuous);
    assert_eq!(t, 1.0 / (1.0 - 0.9));
    assert!(timescale(c(f64::NAN, 0.0), TimeKind::Continuous).is_nan());
}

/// Checks AN-3 at its limits: equal weights give the count, one weight gives 1, none gives 0.
#[test]
fn an3_effective_rank_limits() {
    assert!((effective_rank(&[1.0; 5]) - 5.0).abs() <= 8.0 * f64::EPSILON * 5.0);
    assert_eq!(effective_rank(&[3.0, 0.0, 0.0]), 1.0);
    assert_eq!(effective_rank(&[]), 0.0);
    assert_eq!(effective_rank(&[f64::NAN, 1.0]), 0.0);
}
