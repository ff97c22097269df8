//! RNN BPTT: gradient vs finite differences (proptest), vs an independent forward-mode (JVP)
//! implementation, and bad inputs. The peers' benchmark problem is tested with the benchmark
//! code, in the binary (`src/bin/learndyn/bench/tests.rs`).

use learndyn::linalg::Matrix;
use learndyn::model::rnn::{Activation, Rnn, RnnGrad, RnnWorkspace, SeqBatch};
use learndyn::random::portable;
use proptest::prelude::*;

const ACTS: [Activation; 3] = [Activation::Identity, Activation::Tanh, Activation::Relu];

/// A random problem from the portable RNG: `W` scaled by `0.8/sqrt(N)`, the rest unit-variance.
fn problem(
    n: usize,
    n_in: usize,
    n_out: usize,
    t: usize,
    b: usize,
    phi: Activation,
    seed: u64,
) -> (Rnn, SeqBatch) {
    let w = portable::unit_matrix(seed, 1, n, n).scale(0.8 / (n as f64).sqrt());
    let u = portable::unit_matrix(seed, 2, n, n_in);
    let c = portable::unit_matrix(seed, 3, n_out, n);
    let x = portable::unit_matrix(seed, 4, n_in, t * b);
    let y = portable::unit_matrix(seed, 5, n_out, t * b);
    (
        Rnn::new(w, u, c, phi).unwrap(),
        SeqBatch::new(x, y, t, b).unwrap(),
    )
}

/// Parameters flattened as `[W | U | C]` (column-major each).
fn flat(r: &Rnn) -> Vec<f64> {
    [r.w().as_slice(), r.u().as_slice(), r.c().as_slice()].concat()
}

fn flat_grad(g: &RnnGrad) -> Vec<f64> {
    [g.w.as_slice(), g.u.as_slice(), g.c.as_slice()].concat()
}

/// An RNN like `r` with flat parameters `p`.
fn with_params(r: &Rnn, p: &[f64]) -> Rnn {
    let (n, ni, no) = (r.hidden(), r.n_in(), r.n_out());
    let (a, rest) = p.split_at(n * n);
    let (bb, cc) = rest.split_at(n * ni);
    Rnn::new(
        Matrix::from_col_major(n, n, a.to_vec()).unwrap(),
        Matrix::from_col_major(n, ni, bb.to_vec()).unwrap(),
        Matrix::from_col_major(no, n, cc.to_vec()).unwrap(),
        r.activation(),
    )
    .unwrap()
}

/// Independent reference: an unrolled forward pass with plain loops (no GEMM, no workspace),
/// carrying forward-mode tangents along the parameter direction `dir = [dW | dU | dC]`.
/// Returns `(loss, directional derivative, min |a_t| over all pre-activations)`.
fn jvp(r: &Rnn, data: &SeqBatch, dir: &[f64]) -> (f64, f64, f64) {
    let (n, ni, no) = (r.hidden(), r.n_in(), r.n_out());
    let (t, b) = (data.steps(), data.batch());
    let d = with_params(r, dir);
    let (w, u, c) = (r.w(), r.u(), r.c());
    let (dw, du, dc) = (d.w(), d.u(), d.c());
    let phi = r.activation();
    let (mut loss, mut dloss, mut amin) = (0.0, 0.0, f64::INFINITY);
    for bb in 0..b {
        let mut h = vec![0.0; n];
        let mut dh = vec![0.0; n];
        for tt in 0..t {
            let col = tt * b + bb;
            let mut hn = vec![0.0; n];
            let mut dhn = vec![0.0; n];
            for i in 0..n {
                let (mut a, mut da) = (0.0, 0.0);
                for k in 0..n {
                    a += w.get(i, k) * h[k];
                    da += dw.get(i, k) * h[k] + w.get(i, k) * dh[k];
                }
                for k in 0..ni {
                    let xv = data.x().get(k, col);
                    a += u.get(i, k) * xv;
                    da += du.get(i, k) * xv;
                }
                amin = f64::min(amin, a.abs());
                hn[i] = phi.apply(a);
                dhn[i] = phi.derivative(a) * da;
            }
            h = hn;
            dh = dhn;
            for o in 0..no {
                let (mut yh, mut dyh) = (0.0, 0.0);
                for k in 0..n {
                    yh += c.get(o, k) * h[k];
                    dyh += dc.get(o, k) * h[k] + c.get(o, k) * dh[k];
                }
                let e = yh - data.y().get(o, col);
                loss += 0.5 * e * e;
                dloss += e * dyh;
            }
        }
    }
    let tb = (t * b) as f64;
    (loss / tb, dloss / tb, amin)
}

fn bptt(r: &Rnn, data: &SeqBatch) -> (f64, Vec<f64>) {
    let mut ws = RnnWorkspace::for_problem(r, data);
    let mut g = RnnGrad::zeros_like(r);
    let loss = r.loss_and_grad(data, &mut ws, &mut g).unwrap();
    (loss, flat_grad(&g))
}

fn loss_at(r: &Rnn, data: &SeqBatch, p: &[f64]) -> f64 {
    let rp = with_params(r, p);
    let mut ws = RnnWorkspace::for_problem(&rp, data);
    rp.loss(data, &mut ws).unwrap()
}

fn sizes() -> impl Strategy<Value = (usize, usize, usize, usize, usize, usize, u64)> {
    (
        1usize..=5,
        1usize..=3,
        1usize..=3,
        1usize..=6,
        1usize..=3,
        0usize..3,
        0u64..1_000_000,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Checks RN-3 against central differences of the loss.
    /// Central differences with step `h = 1e-5`: truncation error `~h^2 |L'''| ~ 1e-10` and
    /// rounding error `~eps |L| / h ~ 1e-11` for the O(1) losses here, so `1e-7 (1 + |g|)` has
    /// a margin of ~100x while any wrong term in BPTT (O(1e-2..1) here) fails. ReLU: a kink
    /// within `h |da/dtheta|` (<~1e-4 for these sizes) of a pre-activation would break the FD,
    /// so the case is rejected unless all `|a_t| > 1e-3`.
    #[test]
    fn bptt_matches_finite_differences((n, ni, no, t, b, ai, seed) in sizes()) {
        let phi = ACTS[ai];
        let (r, data) = problem(n, ni, no, t, b, phi, seed);
        let p = flat(&r);
        let (_, _, amin) = jvp(&r, &data, &vec![0.0; p.len()]);
        prop_assume!(phi != Activation::Relu || amin > 1e-3);
        let (loss, g) = bptt(&r, &data);
        prop_assert!(loss.is_finite() && loss >= 0.0);
        let h = 1e-5;
        for k in 0..p.len() {
            let mut q = p.clone();
            q[k] = p[k] + h;
            let lp = loss_at(&r, &data, &q);
            q[k] = p[k] - h;
            let lm = loss_at(&r, &data, &q);
            let fd = (lp - lm) / (2.0 * h);
            prop_assert!((fd - g[k]).abs() <= 1e-7 * (1.0 + g[k].abs()),
                "{phi:?} N={n} n_in={ni} n_out={no} T={t} B={b} param {k}: fd {fd} bptt {}", g[k]);
        }
    }

    /// Checks RN-1..RN-3 against an independent forward-mode implementation of the model and
    /// loss.
    /// Forward-mode tangents (an independent, loop-based implementation) along a random
    /// direction equal `<BPTT grad, direction>`; both are exact up to rounding, so 1e-10.
    #[test]
    fn bptt_matches_forward_mode_jvp((n, ni, no, t, b, ai, seed) in sizes()) {
        let phi = ACTS[ai];
        let (r, data) = problem(n, ni, no, t, b, phi, seed);
        let (loss, g) = bptt(&r, &data);
        let dir = portable::unit(seed, 9, g.len());
        let (loss_ref, dd, _) = jvp(&r, &data, &dir);
        let dot: f64 = g.iter().zip(&dir).map(|(a, d)| a * d).sum();
        let scale: f64 = g.iter().zip(&dir).map(|(a, d)| (a * d).abs()).sum::<f64>();
        prop_assert!((loss - loss_ref).abs() <= 1e-12 * loss_ref.abs().max(1e-300) + 1e-300,
            "loss {loss} vs {loss_ref}");
        prop_assert!((dot - dd).abs() <= 1e-10 * scale.max(1e-300),
            "{phi:?}: <g, d> = {dot}, jvp = {dd}");
    }
}

/// Checks C-6's GD step `theta - eta grad L` in `Rnn::gd_step`.
#[test]
fn gd_step_equals_explicit_gradient_update() {
    for phi in ACTS {
        let (r, data) = problem(4, 2, 3, 5, 3, phi, 11);
        let (loss, g) = bptt(&r, &data);
        let eta = 0.1;
        let mut r2 = r.clone();
        let mut ws = RnnWorkspace::for_problem(&r2, &data);
        let l2 = r2.gd_step(&data, &mut ws, eta).unwrap();
        assert_eq!(loss.to_bits(), l2.to_bits());
        for ((p0, p1), gk) in flat(&r).iter().zip(flat(&r2)).zip(&g) {
            assert!((p0 - eta * gk - p1).abs() <= 1e-15 * (1.0 + p0.abs()));
        }
    }
}

#[test]
fn bad_inputs_are_errors() {
    let (r, data) = problem(3, 2, 2, 4, 2, Activation::Tanh, 1);
    // T = 0, B = 0.
    assert!(SeqBatch::new(Matrix::zeros(2, 0), Matrix::zeros(2, 0), 0, 2).is_err());
    assert!(SeqBatch::new(Matrix::zeros(2, 0), Matrix::zeros(2, 0), 3, 0).is_err());
    // X / Y with the wrong number of columns.
    assert!(SeqBatch::new(Matrix::zeros(2, 7), Matrix::zeros(2, 8), 4, 2).is_err());
    assert!(SeqBatch::new(Matrix::zeros(2, 8), Matrix::zeros(2, 9), 4, 2).is_err());
    // NaN / inf in the data.
    let mut x = data.x().clone();
    x.set(1, 3, f64::NAN);
    assert!(SeqBatch::new(x, data.y().clone(), 4, 2).is_err());
    let mut y = data.y().clone();
    y.set(0, 0, f64::INFINITY);
    assert!(SeqBatch::new(data.x().clone(), y, 4, 2).is_err());
    // Inconsistent parameter shapes and NaN parameters.
    assert!(Rnn::new(
        Matrix::zeros(3, 2),
        Matrix::zeros(3, 2),
        Matrix::zeros(2, 3),
        Activation::Tanh
    )
    .is_err());
    assert!(Rnn::new(
        Matrix::zeros(3, 3),
        Matrix::zeros(2, 2),
        Matrix::zeros(2, 3),
        Activation::Tanh
    )
    .is_err());
    assert!(Rnn::new(
        Matrix::zeros(3, 3),
        Matrix::zeros(3, 2),
        Matrix::zeros(2, 4),
        Activation::Tanh
    )
    .is_err());
    assert!(Rnn::new(
        Matrix::zeros(0, 0),
        Matrix::zeros(0, 2),
        Matrix::zeros(2, 0),
        Activation::Tanh
    )
    .is_err());
    let mut w = r.w().clone();
    w.set(0, 0, f64::NAN);
    assert!(Rnn::new(w, r.u().clone(), r.c().clone(), Activation::Tanh).is_err());
    // Data whose n_in / n_out do not fit the RNN.
    let other = SeqBatch::new(Matrix::zeros(3, 8), Matrix::zeros(2, 8), 4, 2).unwrap();
    let mut ws = RnnWorkspace::new(3, 2, 4, 2);
    let mut g = RnnGrad::zeros_like(&r);
    assert!(r.loss(&other, &mut ws).is_err());
    assert!(r.loss_and_grad(&other, &mut ws, &mut g).is_err());
    // A workspace of the wrong size.
    let mut bad_ws = RnnWorkspace::new(3, 2, 5, 2);
    assert!(r.loss(&data, &mut bad_ws).is_err());
    assert!(r.loss_and_grad(&data, &mut bad_ws, &mut g).is_err());
    assert!(r.clone().gd_step(&data, &mut bad_ws, 0.1).is_err());
    // Gradient buffers of the wrong shape.
    let mut bad_g = RnnGrad {
        w: Matrix::zeros(3, 3),
        u: Matrix::zeros(3, 1),
        c: Matrix::zeros(2, 3),
    };
    assert!(r.loss_and_grad(&data, &mut ws, &mut bad_g).is_err());
    // Unknown activation names.
    assert!(Activation::parse("sigmoid").is_err());
    // The good call still works with the same workspace.
    assert!(r.loss_and_grad(&data, &mut ws, &mut g).unwrap().is_finite());
}
