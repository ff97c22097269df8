//! Sequence tasks and teachers (theory/rnn.md, "Sequence tasks", SQ-1..SQ-10): every generator
//! against an independent reference (naive loops, closed forms, exact moments of Gaussian
//! quadratic forms), bad inputs as errors with useful messages, and reproducibility.
mod common;
use common::EPS;
use learndyn::linalg::{self, Matrix};
use learndyn::model::rnn::{Activation, Rnn, RnnWorkspace, SeqBatch};
use learndyn::random;
use learndyn::task::sequences::{
    flip_flop, generate_inputs, integrate_targets, lag_filter, load_npy_sequences, observe,
    spectrum_matrix, InputProcess, LaggedModes, TeacherRnn,
};
use npyz::WriterBuilder;
use proptest::prelude::*;
use std::path::{Path, PathBuf};

fn gauss(seed: u64, rows: usize, cols: usize) -> Matrix {
    let mut rng = random::rng(seed, 99);
    random::gaussian_matrix(&mut rng, rows, cols)
}

fn white(n_in: usize, steps: usize, batch: usize, seed: u64) -> Matrix {
    generate_inputs(
        &InputProcess::WhiteNoise { std: 1.0 },
        n_in,
        steps,
        batch,
        seed,
    )
    .unwrap()
    .0
}

/// Naive reference for SQ-3: entry by entry, sequence by sequence.
fn naive_lag_filter(s: &[Matrix], x: &Matrix, steps: usize, batch: usize) -> Matrix {
    let (n_out, n_in) = (s[0].nrows(), s[0].ncols());
    let mut y = Matrix::zeros(n_out, steps * batch);
    for b in 0..batch {
        for t in 1..=steps {
            for (k, sk) in s.iter().enumerate() {
                if k >= t {
                    break;
                }
                for i in 0..n_out {
                    let mut acc = y.get(i, (t - 1) * batch + b);
                    for j in 0..n_in {
                        acc += sk.get(i, j) * x.get(j, (t - 1 - k) * batch + b);
                    }
                    y.set(i, (t - 1) * batch + b, acc);
                }
            }
        }
    }
    y
}

fn max_abs_diff(a: &Matrix, b: &Matrix) -> f64 {
    assert_eq!((a.nrows(), a.ncols()), (b.nrows(), b.ncols()));
    a.sub(b).max_abs()
}

fn mat_pow(w: &Matrix, k: usize) -> Matrix {
    (0..k).fold(Matrix::identity(w.nrows()), |p, _| p.matmul(w))
}

fn spectral_norm(m: &Matrix) -> f64 {
    linalg::singular_values(m.view()).unwrap()[0]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// SQ-3 vs a naive per-entry loop, including more lags than steps. Both sum the same
    /// `<= T n_in` products per entry in different orders: the difference is bounded by
    /// `2 T n_in eps sum_k ||S_k||_max max|x|` (standard summation bound, both sides).
    #[test]
    fn lag_filter_matches_naive_loop(
        n_in in 1usize..4, n_out in 1usize..4, steps in 1usize..9, batch in 1usize..4,
        lags in 1usize..12, seed in 0u64..1000,
    ) {
        let s: Vec<Matrix> = (0..lags).map(|k| gauss(seed * 31 + k as u64, n_out, n_in)).collect();
        let x = white(n_in, steps, batch, seed);
        let got = lag_filter(&s, &x, steps, batch).unwrap();
        let want = naive_lag_filter(&s, &x, steps, batch);
        let scale: f64 = s.iter().map(|m| m.max_abs()).sum::<f64>() * x.max_abs() * n_in as f64;
        let tol = 2.0 * (steps * n_in) as f64 * EPS * scale;
        prop_assert!(max_abs_diff(&got, &want) <= tol, "diff {} tol {tol}", max_abs_diff(&got, &want));
    }

    /// SQ-4: the recursion `y_t = gamma y_{t-1} + x_t` equals SQ-3 with `S_k = gamma^k I`.
    /// Rounding: each output sums `<= T` terms `gamma^k x` (powi adds `<= k eps` relative), so
    /// both are within `2 T eps sum_k |gamma|^k max|x|` of the exact sum; tolerance twice that.
    #[test]
    fn integrator_equals_geometric_lag_filter(
        n_in in 1usize..4, steps in 1usize..15, batch in 1usize..4,
        gamma in -1.2f64..1.2, seed in 0u64..1000,
    ) {
        let x = white(n_in, steps, batch, seed);
        let y = integrate_targets(&x, steps, batch, gamma).unwrap();
        let s: Vec<Matrix> = (0..steps)
            .map(|k| Matrix::identity(n_in).scale(gamma.powi(k as i32)))
            .collect();
        let want = lag_filter(&s, &x, steps, batch).unwrap();
        let geo: f64 = (0..steps).map(|k| gamma.abs().powi(k as i32)).sum();
        let tol = 4.0 * steps as f64 * EPS * geo * x.max_abs();
        prop_assert!(max_abs_diff(&y, &want) <= tol);
    }

    /// SQ-7: `W = Q D Q^T` is normal and has the requested eigenvalues: traces of powers
    /// `tr(W^k) = sum_i lambda_i^k` (k = 1..4; zeros add nothing) and, W being normal, its
    /// singular values are the sorted `|lambda_i|`. Rounding of `Q D Q^T` (and of `W^k`) is
    /// `<= c n eps rho^k` per entry with `rho = max(1, max|lambda|)`; traces add `n` entries.
    /// Tolerance `16 k n^2 eps rho^k`.
    #[test]
    fn spectrum_matrix_has_requested_normal_spectrum(
        n in 1usize..8,
        real in prop::collection::vec(-1.5f64..1.5, 0..4),
        pairs in prop::collection::vec((0.0f64..1.5, -3.1f64..3.1), 0..3),
        seed in 0u64..1000,
    ) {
        let used = real.len() + 2 * pairs.len();
        let res = spectrum_matrix(n, &real, &pairs, seed);
        if used > n {
            let msg = res.unwrap_err().to_string();
            prop_assert!(msg.contains("do not fit"), "{msg}");
            return Ok(());
        }
        let w = res.unwrap();
        let rho = real.iter().map(|x| x.abs()).chain(pairs.iter().map(|p| p.0)).fold(1.0, f64::max);
        let nf = n as f64;
        let comm = w.matmul_t(&w).sub(&w.t_matmul(&w)).max_abs();
        prop_assert!(comm <= 16.0 * nf * nf * EPS * rho * rho, "W W^T - W^T W = {comm}");
        for k in 1..=4usize {
            let want: f64 = real.iter().map(|l| l.powi(k as i32)).sum::<f64>()
                + pairs.iter().map(|&(r, th)| 2.0 * r.powi(k as i32) * (k as f64 * th).cos()).sum::<f64>();
            let got = mat_pow(&w, k).trace();
            let tol = 16.0 * k as f64 * nf * nf * EPS * rho.powi(k as i32);
            prop_assert!((got - want).abs() <= tol, "tr W^{k}: {got} vs {want} (tol {tol})");
        }
        let mut moduli: Vec<f64> = real.iter().map(|x| x.abs())
            .chain(pairs.iter().flat_map(|p| [p.0, p.0]))
            .chain(std::iter::repeat_n(0.0, n - used))
            .collect();
        moduli.sort_by(|a, b| b.total_cmp(a));
        let sv = linalg::singular_values(w.view()).unwrap();
        for (a, b) in sv.iter().zip(&moduli) {
            prop_assert!((a - b).abs() <= 16.0 * nf * nf * EPS * rho, "sv {a} vs |lambda| {b}");
        }
    }

    /// SQ-6: targets hold the sign of the last pulse at or before t (checked by scanning
    /// backwards), inputs are in {-1, 0, 1}, and t = 1 always carries a pulse.
    #[test]
    fn flip_flop_targets_hold_the_last_pulse(
        n_bits in 1usize..4, steps in 1usize..30, batch in 1usize..5,
        prob in 0.0f64..0.5, seed in 0u64..1000,
    ) {
        let d = flip_flop(n_bits, steps, batch, prob, seed).unwrap();
        prop_assert_eq!((d.x.nrows(), d.x.ncols(), d.y.nrows(), d.y.ncols()),
            (n_bits, steps * batch, n_bits, steps * batch));
        for b in 0..batch {
            for i in 0..n_bits {
                prop_assert!(d.x.get(i, b).abs() > 0.5, "no forced pulse at t = 1");
                for t in 1..=steps {
                    let xv = d.x.get(i, (t - 1) * batch + b);
                    prop_assert!(xv == 0.0 || xv.abs() == 1.0, "input {xv}");
                    let last = (1..=t).rev()
                        .map(|s| d.x.get(i, (s - 1) * batch + b))
                        .find(|v| *v != 0.0)
                        .unwrap();
                    prop_assert_eq!(d.y.get(i, (t - 1) * batch + b).to_bits(), last.to_bits());
                }
            }
        }
    }
}

/// Pulse statistics (SQ-1, SQ-6): after t = 1 the flip-flop pulses with probability `prob`,
/// `Pulses` with `prob` and sign 50/50. Counts are binomial: 5 standard deviations.
#[test]
fn pulse_frequencies_match_prob() {
    let (n_bits, steps, batch, prob) = (3, 200, 50, 0.1);
    let d = flip_flop(n_bits, steps, batch, prob, 7).unwrap();
    let trials = (n_bits * (steps - 1) * batch) as f64;
    let hits = (batch..steps * batch)
        .flat_map(|c| (0..n_bits).map(move |i| (i, c)))
        .filter(|&(i, c)| d.x.get(i, c) != 0.0)
        .count() as f64;
    let sd = (trials * prob * (1.0 - prob)).sqrt();
    assert!(
        (hits - trials * prob).abs() <= 5.0 * sd,
        "{hits} pulses in {trials}"
    );

    let (x, b) = generate_inputs(
        &InputProcess::Pulses {
            prob: 0.3,
            amplitude: 2.5,
        },
        4,
        100,
        50,
        3,
    )
    .unwrap();
    assert_eq!(b, 50);
    let m = x.as_slice().len() as f64;
    let pos = x.as_slice().iter().filter(|v| **v == 2.5).count() as f64;
    let neg = x.as_slice().iter().filter(|v| **v == -2.5).count() as f64;
    let zero = x.as_slice().iter().filter(|v| **v == 0.0).count() as f64;
    assert_eq!(pos + neg + zero, m, "values other than 0, +-amplitude");
    let sd = (m * 0.15 * 0.85).sqrt();
    assert!((pos - 0.15 * m).abs() <= 5.0 * sd && (neg - 0.15 * m).abs() <= 5.0 * sd);
}

/// SQ-1: white noise has mean 0 and variance std^2. Sample mean of M iid N(0, s^2) has sd
/// `s / sqrt(M)`; sample variance has sd `s^2 sqrt(2 / (M - 1))`. 5 sd each.
#[test]
fn white_noise_moments() {
    let std = 1.7;
    let (x, _) = generate_inputs(&InputProcess::WhiteNoise { std }, 3, 500, 20, 11).unwrap();
    let v = x.as_slice();
    let m = v.len() as f64;
    let mean = v.iter().sum::<f64>() / m;
    let var = v.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (m - 1.0);
    assert!(mean.abs() <= 5.0 * std / m.sqrt(), "mean {mean}");
    assert!(
        (var - std * std).abs() <= 5.0 * std * std * (2.0 / (m - 1.0)).sqrt(),
        "var {var}"
    );
    let (c, _) = generate_inputs(&InputProcess::Constant { value: -0.25 }, 2, 3, 4, 0).unwrap();
    assert!(c
        .as_slice()
        .iter()
        .all(|v| v.to_bits() == (-0.25f64).to_bits()));
}

/// The dense map `D` (`n_out T x n_in T`, block (t, s) = `M_{t-s}` for `t >= s`) from the
/// stacked input sequence to the stacked output sequence of a lag filter.
fn toeplitz(m: &[Matrix], steps: usize) -> Matrix {
    let (n_out, n_in) = (m[0].nrows(), m[0].ncols());
    Matrix::from_fn(n_out * steps, n_in * steps, |r, c| {
        let (t, i) = (r / n_out, r % n_out);
        let (s, j) = (c / n_in, c % n_in);
        if t >= s && t - s < m.len() {
            m[t - s].get(i, j)
        } else {
            0.0
        }
    })
}

/// SQ-2 (impulse-basis identity) for a linear RNN student and a lagged-mode teacher (SQ-5).
/// (a) The RNN loss (RN-2) on the impulse batch equals the lag-sum formula
/// `1/(2T) sum_k (T - k) ||C W^k U - S_k||_F^2` exactly (rounding only: `<= 1e2 T N eps`
/// relative, for the products `C W^k U` and the sums), and the lag-sum formula equals
/// `tr(D^T D) / (2T)` of the dense Toeplitz error map (an independent form of the same
/// expectation). (b) The RNN loss on `P` white-noise sequences is a mean of `P` iid copies of
/// `x^T A x / (2T)` with `A = D^T D`, `x ~ N(0, I)`, whose variance is `2 ||A||_F^2 / (2T)^2`
/// exactly; the Monte Carlo mean must be within 5 standard errors.
#[test]
fn impulse_basis_loss_equals_white_noise_expectation() {
    let (n_in, n_out, n, steps) = (3, 2, 5, 6);
    let teacher = LaggedModes::random(
        n_in,
        n_out,
        vec![vec![1.0, 0.6, 0.3, 0.1], vec![0.0, 0.5, -0.5, 0.2]],
        4,
    )
    .unwrap();
    let s = teacher.lag_matrices();
    let w = gauss(1, n, n).scale(0.3);
    let u = gauss(2, n, n_in);
    let c = gauss(3, n_out, n);
    let rnn = Rnn::new(w.clone(), u.clone(), c.clone(), Activation::Identity).unwrap();
    // Error lag matrices D_k = C W^k U - S_k, k < T (S_k = 0 beyond the teacher's lags).
    let d: Vec<Matrix> = (0..steps)
        .map(|k| {
            let m = c.matmul(&mat_pow(&w, k)).matmul(&u);
            match s.get(k) {
                Some(sk) => m.sub(sk),
                None => m,
            }
        })
        .collect();
    let exact: f64 = d
        .iter()
        .enumerate()
        .map(|(k, dk)| (steps - k) as f64 * dk.norm_fro().powi(2))
        .sum::<f64>()
        / (2.0 * steps as f64);
    let big = toeplitz(&d, steps);
    let via_trace = big.norm_fro().powi(2) / (2.0 * steps as f64);
    let rel_tol = 1e2 * (steps * n) as f64 * EPS;
    assert!(
        (via_trace - exact).abs() <= rel_tol * exact,
        "{via_trace} vs {exact}"
    );

    let loss_on = |x: Matrix, batch: usize| {
        let y = lag_filter(&s, &x, steps, batch).unwrap();
        let data = SeqBatch::new(x, y, steps, batch).unwrap();
        let mut ws = RnnWorkspace::for_problem(&rnn, &data);
        rnn.loss(&data, &mut ws).unwrap()
    };
    let (xi, bi) = generate_inputs(&InputProcess::ImpulseBasis, n_in, steps, 1, 0).unwrap();
    assert_eq!(bi, n_in * steps);
    let impulse = loss_on(xi, bi);
    println!("SQ-2: impulse-batch loss {impulse:.15}, lag-sum formula {exact:.15}");
    assert!(
        (impulse - exact).abs() <= rel_tol * exact,
        "impulse {impulse} vs exact {exact} (rel tol {rel_tol:e})"
    );

    let p = 20_000;
    let mc = loss_on(white(n_in, steps, p, 5), p);
    let a = big.t_matmul(&big);
    let var = 2.0 * a.norm_fro().powi(2) / (2.0 * steps as f64).powi(2);
    let se = (var / p as f64).sqrt();
    println!(
        "SQ-2: Monte Carlo ({p} sequences) {mc:.6}, exact {exact:.6}, z = {:.2}",
        (mc - exact) / se
    );
    assert!(
        (mc - exact).abs() <= 5.0 * se,
        "MC {mc} vs {exact}, se {se}"
    );
}

/// ImpulseBasis layout (SQ-2): sequence `(s - 1) n_in + j` has exactly one nonzero entry,
/// `sqrt(n_in T)` in row `j` at time `s`.
#[test]
fn impulse_basis_layout() {
    let (n_in, steps) = (2, 3);
    let (x, b) = generate_inputs(&InputProcess::ImpulseBasis, n_in, steps, 99, 0).unwrap();
    assert_eq!((b, x.ncols()), (6, 18));
    let amp = 6f64.sqrt();
    for seq in 0..b {
        let (s, j) = (seq / n_in, seq % n_in);
        for t in 0..steps {
            for i in 0..n_in {
                let want = if t == s && i == j { amp } else { 0.0 };
                assert_eq!(x.get(i, t * b + seq).to_bits(), want.to_bits());
            }
        }
    }
}

/// SQ-5: U and V have orthonormal columns, `S_k v_a = s_{a,k} u_a`, and the C-3 sign
/// convention holds. Orthonormality from Householder QR: `<= 10 d eps`.
#[test]
fn lagged_modes_structure() {
    let prof = vec![vec![2.0, 1.0, 0.5], vec![0.3, -0.7, 0.0]];
    let lm = LaggedModes::random(4, 3, prof.clone(), 9).unwrap();
    let tol = 10.0 * 4.0 * EPS;
    assert!(lm.u.t_matmul(&lm.u).sub(&Matrix::identity(2)).max_abs() <= tol);
    assert!(lm.v.t_matmul(&lm.v).sub(&Matrix::identity(2)).max_abs() <= tol);
    let s = lm.lag_matrices();
    assert_eq!(s.len(), 3);
    for (k, sk) in s.iter().enumerate() {
        let sv = sk.matmul(&lm.v);
        for (a, pa) in prof.iter().enumerate() {
            for i in 0..3 {
                let want = pa[k] * lm.u.get(i, a);
                // |s| <= 2: orthonormality error of V (<= tol per entry, K = 2 of them) and
                // the rounding of two products of length <= 4.
                let tol_s = 2.0 * (2.0 * tol + 8.0 * EPS);
                assert!((sv.get(i, a) - want).abs() <= tol_s, "S_{k} v_{a}");
            }
        }
    }
    for a in 0..2 {
        let col: Vec<f64> = (0..4).map(|i| lm.v.get(i, a)).collect();
        let big = col
            .iter()
            .copied()
            .fold(0.0f64, |m, v| if v.abs() > m.abs() { v } else { m });
        assert!(big > 0.0, "largest entry of v_{a} must be positive");
    }
    for (profiles, msg) in [
        (vec![], "mode profiles"),
        (vec![vec![1.0]; 4], "mode profiles"),
        (vec![vec![1.0, 2.0], vec![1.0]], "same number"),
        (vec![vec![f64::NAN]], "not finite"),
    ] {
        let e = LaggedModes::random(4, 3, profiles, 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains(msg), "{e}");
    }
}

/// Bound on `sum_k ||C A^k B||` used for the rounding tolerance of teacher-vs-lag-filter
/// comparisons: each product of `k + 2` matrices and the state recursion add
/// `O((k + 2) N eps)` relative error per term.
fn series_scale(c: &Matrix, a: &Matrix, b: &Matrix, steps: usize) -> f64 {
    let (nc, na, nb) = (spectral_norm(c), spectral_norm(a), spectral_norm(b));
    (0..steps).map(|k| nc * na.powi(k as i32) * nb).sum()
}

/// SQ-8 (linear cases): a discrete identity-activation teacher read out through C equals the
/// lag filter with `S_k = C W^k U`; the rate (Euler) teacher equals it with
/// `S_k = C A^k (alpha U)`, `A = (1 - alpha) I + alpha W`. Tolerance
/// `4 (T + 2) N eps sum_k ||C|| ||A||^k ||U|| max|x| sqrt(n_in)`.
#[test]
fn linear_teacher_equals_lag_filter() {
    let (n_in, n_out, n, steps, batch) = (2, 3, 6, 12, 4);
    let w = spectrum_matrix(n, &[0.9, -0.5], &[(0.95, 0.4)], 17).unwrap();
    let u = gauss(21, n, n_in);
    let c = gauss(22, n_out, n);
    let x = white(n_in, steps, batch, 23);
    for alpha in [None, Some(0.3)] {
        let teacher = TeacherRnn {
            w: w.clone(),
            u: u.clone(),
            c: Some(c.clone()),
            activation: Activation::Identity,
            alpha,
        };
        let h = teacher.states(&x, steps, batch).unwrap();
        assert_eq!((h.nrows(), h.ncols()), (n, steps * batch));
        let y = observe(&h, None, teacher.c.as_ref(), 0.0, 0).unwrap();
        let (a, b) = match alpha {
            None => (w.clone(), u.clone()),
            Some(al) => (
                Matrix::identity(n).scale(1.0 - al).add_scaled(&w, al),
                u.clone().scale(al),
            ),
        };
        let s: Vec<Matrix> = (0..steps)
            .map(|k| c.matmul(&mat_pow(&a, k)).matmul(&b))
            .collect();
        let want = lag_filter(&s, &x, steps, batch).unwrap();
        let tol = 4.0
            * (steps + 2) as f64
            * n as f64
            * EPS
            * series_scale(&c, &a, &b, steps)
            * x.max_abs()
            * (n_in as f64).sqrt();
        let diff = max_abs_diff(&y, &want);
        println!("SQ-8 alpha {alpha:?}: max |C h - lag filter| = {diff:e} (tol {tol:e})");
        assert!(diff <= tol);
    }
}

/// SQ-8 (nonlinear): tanh teacher, discrete and rate, against a naive per-sequence loop
/// that uses libm tanh and vector arithmetic. Both evaluate the same sums in different
/// orders; errors stay `<= 4 N eps (||W|| + ||U|| |x|)` per step and tanh/contracting
/// dynamics (|tanh'| <= 1, ||W|| < 1 here) do not amplify them: tolerance
/// `8 T N eps (1 + ||U|| max|x|)`.
#[test]
fn tanh_teacher_matches_naive_loop() {
    let (n_in, n, steps, batch) = (2, 5, 10, 3);
    let w = spectrum_matrix(n, &[0.8], &[(0.9, 1.0)], 2).unwrap();
    let u = gauss(5, n, n_in);
    let x = white(n_in, steps, batch, 6);
    for alpha in [None, Some(0.5)] {
        let teacher = TeacherRnn {
            w: w.clone(),
            u: u.clone(),
            c: None,
            activation: Activation::Tanh,
            alpha,
        };
        let h = teacher.states(&x, steps, batch).unwrap();
        let mut worst = 0.0f64;
        for b in 0..batch {
            let mut hv = vec![0.0; n];
            for t in 0..steps {
                let col = t * batch + b;
                let next: Vec<f64> = (0..n)
                    .map(|i| {
                        let inp: f64 = (0..n_in).map(|j| u.get(i, j) * x.get(j, col)).sum();
                        match alpha {
                            None => {
                                let rec: f64 = (0..n).map(|j| w.get(i, j) * hv[j]).sum();
                                (rec + inp).tanh()
                            }
                            Some(a) => {
                                let rec: f64 = (0..n).map(|j| w.get(i, j) * hv[j].tanh()).sum();
                                (1.0 - a) * hv[i] + a * (rec + inp)
                            }
                        }
                    })
                    .collect();
                for (i, v) in next.iter().enumerate() {
                    worst = worst.max((h.get(i, col) - v).abs());
                }
                hv = next;
            }
        }
        let tol = 8.0 * (steps * n) as f64 * EPS * (1.0 + spectral_norm(&u) * x.max_abs());
        assert!(worst <= tol, "alpha {alpha:?}: {worst} > {tol}");
    }
}

/// SQ-9: rows are selected in the given order (bitwise), and the added noise has mean 0 and
/// standard deviation `noise_std` (5 standard errors on mean and variance, as above).
#[test]
fn observe_selects_rows_and_adds_noise_of_the_right_std() {
    let states = gauss(40, 6, 2000);
    let rows = [4usize, 1, 4];
    let clean = observe(&states, Some(&rows), None, 0.0, 0).unwrap();
    assert_eq!((clean.nrows(), clean.ncols()), (3, 2000));
    for (i, &r) in rows.iter().enumerate() {
        for j in 0..2000 {
            assert_eq!(clean.get(i, j).to_bits(), states.get(r, j).to_bits());
        }
    }
    let sigma = 0.4;
    let noisy = observe(&states, Some(&rows), None, sigma, 8).unwrap();
    let res = noisy.sub(&clean);
    let v = res.as_slice();
    let m = v.len() as f64;
    let mean = v.iter().sum::<f64>() / m;
    let var = v.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (m - 1.0);
    println!(
        "SQ-9: noise mean {mean:e}, std {} (want {sigma})",
        var.sqrt()
    );
    assert!(mean.abs() <= 5.0 * sigma / m.sqrt());
    assert!((var - sigma * sigma).abs() <= 5.0 * sigma * sigma * (2.0 / (m - 1.0)).sqrt());
    // Readout form and errors.
    let c = gauss(41, 2, 6);
    let through_c = observe(&states, None, Some(&c), 0.0, 0).unwrap();
    assert!(max_abs_diff(&through_c, &c.matmul(&states)) <= 0.0);
    let e = observe(&states, Some(&[6]), None, 0.0, 0)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unit 6 does not exist") && e.contains("N = 6"),
        "{e}"
    );
    let e = observe(&states, Some(&[0]), Some(&c), 0.0, 0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("not both"), "{e}");
    let e = observe(&states, None, None, -1.0, 0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("noise_std"), "{e}");
}

/// Teacher errors: shapes, alpha, and divergence named by step.
#[test]
fn teacher_rnn_errors() {
    let x = white(2, 50, 1, 0);
    let mut t = TeacherRnn {
        w: Matrix::identity(3).scale(3.0),
        u: gauss(0, 3, 2).scale(1e300),
        c: None,
        activation: Activation::Identity,
        alpha: None,
    };
    let e = t.states(&x, 50, 1).unwrap_err().to_string();
    assert!(e.contains("not finite at step"), "{e}");
    t.u = gauss(0, 3, 1);
    let e = t.states(&x, 50, 1).unwrap_err().to_string();
    assert!(e.contains("n_in = 1"), "{e}");
    t.u = gauss(0, 3, 2);
    t.alpha = Some(1.5);
    let e = t.states(&x, 50, 1).unwrap_err().to_string();
    assert!(e.contains("(0, 1]"), "{e}");
}

/// Same seed, same data (bitwise); another seed, other data.
#[test]
fn same_seed_same_data() {
    let bits = |m: &Matrix| m.as_slice().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    let procs = [
        InputProcess::WhiteNoise { std: 1.0 },
        InputProcess::Pulses {
            prob: 0.5,
            amplitude: 1.0,
        },
    ];
    for p in &procs {
        let a = generate_inputs(p, 3, 10, 4, 5).unwrap().0;
        let b = generate_inputs(p, 3, 10, 4, 5).unwrap().0;
        let c = generate_inputs(p, 3, 10, 4, 6).unwrap().0;
        assert_eq!(bits(&a), bits(&b));
        assert_ne!(bits(&a), bits(&c));
    }
    let f1 = flip_flop(3, 20, 4, 0.2, 1).unwrap();
    let f2 = flip_flop(3, 20, 4, 0.2, 1).unwrap();
    let f3 = flip_flop(3, 20, 4, 0.2, 2).unwrap();
    assert_eq!(bits(&f1.x), bits(&f2.x));
    assert_eq!(bits(&f1.y), bits(&f2.y));
    assert_ne!(bits(&f1.x), bits(&f3.x));
    let w1 = spectrum_matrix(4, &[0.5], &[(0.9, 0.2)], 3).unwrap();
    let w2 = spectrum_matrix(4, &[0.5], &[(0.9, 0.2)], 3).unwrap();
    let w3 = spectrum_matrix(4, &[0.5], &[(0.9, 0.2)], 4).unwrap();
    assert_eq!(bits(&w1), bits(&w2));
    assert_ne!(bits(&w1), bits(&w3));
    let l1 = LaggedModes::random(3, 3, vec![vec![1.0, 0.5]], 3).unwrap();
    let l2 = LaggedModes::random(3, 3, vec![vec![1.0, 0.5]], 3).unwrap();
    assert_eq!(bits(&l1.u), bits(&l2.u));
    assert_eq!(bits(&l1.v), bits(&l2.v));
    let st = gauss(0, 3, 10);
    let o1 = observe(&st, None, None, 0.1, 3).unwrap();
    let o2 = observe(&st, None, None, 0.1, 3).unwrap();
    let o3 = observe(&st, None, None, 0.1, 4).unwrap();
    assert_eq!(bits(&o1), bits(&o2));
    assert_ne!(bits(&o1), bits(&o3));
}

/// Bad arguments of the generators are errors naming the field.
#[test]
fn generator_argument_errors() {
    let e = generate_inputs(&InputProcess::WhiteNoise { std: -1.0 }, 2, 3, 4, 0).unwrap_err();
    assert!(e.to_string().contains("inputs.std"), "{e}");
    let e = generate_inputs(
        &InputProcess::Pulses {
            prob: 1.5,
            amplitude: 1.0,
        },
        2,
        3,
        4,
        0,
    )
    .unwrap_err();
    assert!(e.to_string().contains("[0, 1]"), "{e}");
    let e = generate_inputs(&InputProcess::Constant { value: 0.0 }, 2, 0, 4, 0).unwrap_err();
    assert!(e.to_string().contains("steps >= 1"), "{e}");
    let e = flip_flop(0, 3, 4, 0.1, 0).unwrap_err();
    assert!(e.to_string().contains("n_bits"), "{e}");
    let x = white(2, 3, 4, 0);
    let e = lag_filter(&[Matrix::zeros(1, 3)], &x, 3, 4).unwrap_err();
    assert!(e.to_string().contains("n_in = 2"), "{e}");
    let e = lag_filter(&[], &x, 3, 4).unwrap_err();
    assert!(e.to_string().contains("at least one lag"), "{e}");
    let e = integrate_targets(&x, 4, 4, 1.0).unwrap_err();
    assert!(e.to_string().contains("steps * batch = 16"), "{e}");
}

// ---- .npy sequence files (SQ-10) ----

fn tmp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("learndyn_sequences_{}_{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Write `data` (given in C order for `shape`) as a `.npy` of element type `T`, in C or
/// Fortran order.
fn write_npy<T: npyz::AutoSerialize + Copy>(path: &Path, shape: &[u64], data: &[T], fortran: bool) {
    let file = std::fs::File::create(path).unwrap();
    let mut w = std::io::BufWriter::new(file);
    let order = if fortran {
        npyz::Order::Fortran
    } else {
        npyz::Order::C
    };
    let mut writer = npyz::WriteOptions::<T>::new()
        .default_dtype()
        .order(order)
        .shape(shape)
        .writer(&mut w)
        .begin_nd()
        .unwrap();
    if fortran {
        // Fortran order: the first index varies fastest.
        let strides: Vec<usize> = (0..shape.len())
            .map(|a| shape[a + 1..].iter().product::<u64>() as usize)
            .collect();
        let total = data.len();
        let mut idx = vec![0usize; shape.len()];
        for _ in 0..total {
            let c: usize = idx.iter().zip(&strides).map(|(i, s)| i * s).sum();
            writer.push(&data[c]).unwrap();
            for a in 0..shape.len() {
                idx[a] += 1;
                if idx[a] < shape[a] as usize {
                    break;
                }
                idx[a] = 0;
            }
        }
    } else {
        writer.extend(data.iter().copied()).unwrap();
    }
    writer.finish().unwrap();
}

/// Test values exactly representable in f32: `(b, t, d) -> 100 b + 10 t + d + 0.5 * tag`.
fn entry(b: usize, t: usize, d: usize, tag: f64) -> f64 {
    100.0 * b as f64 + 10.0 * t as f64 + d as f64 + 0.5 * tag
}

fn c_order(bsz: usize, t: usize, d: usize, tag: f64) -> Vec<f64> {
    let mut v = Vec::new();
    for bi in 0..bsz {
        for ti in 0..t {
            for di in 0..d {
                v.push(entry(bi, ti, di, tag));
            }
        }
    }
    v
}

/// Round trip (SQ-10): `[B, T, D]` arrays (float64 C order, float32 Fortran order) map entry
/// `(b, t, d)` to `(d, t B + b)` exactly.
#[test]
fn npy_sequences_round_trip() {
    let dir = tmp_dir("ok");
    let (bsz, t, dx, dy) = (3, 4, 2, 1);
    let xp = dir.join("x.npy");
    let yp = dir.join("y.npy");
    write_npy(
        &xp,
        &[bsz as u64, t as u64, dx as u64],
        &c_order(bsz, t, dx, 0.0),
        false,
    );
    let y32: Vec<f32> = c_order(bsz, t, dy, 1.0).iter().map(|v| *v as f32).collect();
    write_npy(&yp, &[bsz as u64, t as u64, dy as u64], &y32, true);
    let data = load_npy_sequences(&xp, &yp).unwrap();
    assert_eq!(
        (data.steps, data.batch, data.n_in(), data.n_out()),
        (t, bsz, dx, dy)
    );
    for b in 0..bsz {
        for ti in 0..t {
            for d in 0..dx {
                assert_eq!(
                    data.x.get(d, ti * bsz + b).to_bits(),
                    entry(b, ti, d, 0.0).to_bits()
                );
            }
            for d in 0..dy {
                assert_eq!(
                    data.y.get(d, ti * bsz + b).to_bits(),
                    entry(b, ti, d, 1.0).to_bits()
                );
            }
        }
    }
    data.to_batch().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Bad files (SQ-10): each error names the file and the problem.
#[test]
fn npy_sequences_bad_inputs() {
    let dir = tmp_dir("bad");
    let good = dir.join("good.npy");
    write_npy(&good, &[2, 3, 1], &c_order(2, 3, 1, 0.0), false);
    let check = |path: &Path, other: &Path, want: &[&str]| {
        let e = load_npy_sequences(path, other).unwrap_err().to_string();
        for w in want {
            assert!(e.contains(w), "message `{e}` lacks `{w}`");
        }
    };
    // Batch mismatch between the two files.
    let b3 = dir.join("batch3.npy");
    write_npy(&b3, &[3, 3, 1], &c_order(3, 3, 1, 0.0), false);
    check(&good, &b3, &["good.npy", "batch3.npy", "[2, 3]", "[3, 3]"]);
    // Time mismatch.
    let t4 = dir.join("time4.npy");
    write_npy(&t4, &[2, 4, 1], &c_order(2, 4, 1, 0.0), false);
    check(&good, &t4, &["[batch, time] = [2, 3]", "[2, 4]"]);
    // NaN, located.
    let nan = dir.join("nan.npy");
    let mut v = c_order(2, 3, 2, 0.0);
    v[(3 + 2) * 2 + 1] = f64::NAN; // [b = 1, t = 2, d = 1]
    write_npy(&nan, &[2, 3, 2], &v, false);
    check(
        &good,
        &nan,
        &["nan.npy", "targets", "batch 1, time 2, dim 1", "NaN"],
    );
    // T = 0.
    let t0 = dir.join("t0.npy");
    write_npy::<f64>(&t0, &[2, 0, 1], &[], false);
    check(&t0, &good, &["t0.npy", "time (axis 1)", "length 0"]);
    // B = 0.
    let b0 = dir.join("b0.npy");
    write_npy::<f64>(&b0, &[0, 3, 1], &[], false);
    check(&b0, &good, &["b0.npy", "batch (axis 0)"]);
    // 2-D array.
    let two = dir.join("two.npy");
    write_npy(&two, &[2, 3], &[0.0f64; 6], false);
    check(&two, &good, &["two.npy", "expected a 3-D array", "2-D"]);
    // Integer dtype.
    let int = dir.join("int.npy");
    write_npy(&int, &[2, 3, 1], &[1i64; 6], false);
    check(&good, &int, &["int.npy", "float64 or float32"]);
    // Missing / unreadable.
    check(&dir.join("missing.npy"), &good, &["missing.npy"]);
    let junk = dir.join("junk.npy");
    std::fs::write(&junk, b"not numpy").unwrap();
    check(&junk, &good, &["junk.npy", "not a valid .npy"]);
    std::fs::remove_dir_all(&dir).unwrap();
}
