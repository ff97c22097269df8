//! GRU network (`model::gru`, theory/gru.md GRU-1 .. GRU-7): the forward pass vs a naive loop,
//! BPTT vs finite differences for every block, truncated BPTT vs an independent chunked
//! computation, the one-step map and its Jacobian, the linearization at the origin, the
//! initializations, bad inputs, and training on the flip-flop task (GD smoke test; Adam plus
//! fixed points, 8 stable points on the 3-bit flip-flop).

// The reference implementations index like the equations on purpose.
#![allow(clippy::needless_range_loop)]

use learndyn::analysis::fixed_points::{find_fixed_points, sample_inits, FpOptions, StateMap};
use learndyn::linalg::{self, Matrix};
use learndyn::model::gru::{Gru, GruInit, GruModel, GruSpec};
use learndyn::model::rnn::SeqBatch;
use learndyn::model::Model;
use learndyn::random::{gaussian_matrix, rng};
use learndyn::task::sequences::flip_flop;
use learndyn::train::{Optimizer, TrainSettings, TrainStatus, Trainer};
use proptest::prelude::*;
use std::time::Instant;

const EPS: f64 = f64::EPSILON;

fn spec(n_in: usize, hidden: usize, n_out: usize, bias: bool, readout_bias: bool) -> GruSpec {
    GruSpec {
        n_in,
        hidden,
        n_out,
        bias,
        readout_bias,
        learn_h0: true,
    }
}

/// Random parameters (`wi ~ 1/sqrt(n_in)`, `wh, c ~ 1/sqrt(N)`, biases `~ 0.5`, `h0 ~ 0.5`
/// times standard normals) and data (`x, y` standard normal); with `weights` the time weights
/// are in `[0, 2/T)` instead of `1/T`, with `noise` a frozen state noise `0.3 N(0, 1)` is
/// attached.
fn problem(
    s: GruSpec,
    t: usize,
    b: usize,
    seed: u64,
    weights: bool,
    noise: bool,
) -> (Gru, Vec<f64>, SeqBatch) {
    let mut g = rng(seed, 91);
    let model = Gru::new(s).unwrap();
    let mut theta = vec![0.0; model.n_params()];
    let sq = |k: usize| (k as f64).sqrt();
    for blk in model.blocks().to_vec() {
        let scale = match blk.name.as_str() {
            "wi" => 1.0 / sq(s.n_in),
            "wh" | "c" => 1.0 / sq(s.hidden),
            _ => 0.5,
        };
        let m = gaussian_matrix(&mut g, blk.rows, blk.cols).scale(scale);
        model.set(&mut theta, &blk.name, &m).unwrap();
    }
    let x = gaussian_matrix(&mut g, s.n_in, t * b);
    let y = gaussian_matrix(&mut g, s.n_out, t * b);
    let mut data = SeqBatch::new(x, y, t, b).unwrap();
    if weights {
        let w = gaussian_matrix(&mut g, t, 1)
            .as_slice()
            .iter()
            .map(|z| (1.0 + z.tanh()) / t as f64)
            .collect();
        data = data.with_time_weights(w).unwrap();
    }
    if noise {
        let xi = gaussian_matrix(&mut g, s.hidden, t * b).scale(0.3);
        data = data.with_state_noise(xi).unwrap();
    }
    (model, theta, data)
}

fn loss(model: &Gru, theta: &[f64], data: &SeqBatch) -> f64 {
    let mut ws = model.workspace(data);
    model.loss(theta, data, &mut ws).unwrap()
}

fn grad(model: &Gru, theta: &[f64], data: &SeqBatch, trunc: Option<usize>) -> (f64, Vec<f64>) {
    let mut ws = model.workspace(data);
    let mut g = vec![f64::NAN; model.n_params()];
    let l = model
        .loss_and_grad(theta, data, trunc, &mut ws, &mut g)
        .unwrap();
    (l, g)
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Naive GRU-1 on one sequence with plain `Vec` math: the states `h_0..h_T`, read from the
/// blocks by `Gru::get` with the documented gate order `[r; z; n]`.
fn naive_states(model: &Gru, theta: &[f64], data: &SeqBatch, seq: usize) -> Vec<Vec<f64>> {
    let s = *model.spec();
    let n = s.hidden;
    let wi = model.get(theta, "wi").unwrap();
    let wh = model.get(theta, "wh").unwrap();
    let zero = |k: usize| Matrix::zeros(k, 1);
    let bi = model.get(theta, "bi").unwrap_or_else(|| zero(3 * n));
    let bhn = model.get(theta, "bhn").unwrap_or_else(|| zero(n));
    let mut h = model.get(theta, "h0").unwrap().as_slice().to_vec();
    let mut out = vec![h.clone()];
    for step in 0..data.steps() {
        let col = step * data.batch() + seq;
        let mut next = vec![0.0; n];
        for i in 0..n {
            let (mut ar, mut az, mut an, mut hn) = (
                bi.get(i, 0),
                bi.get(n + i, 0),
                bi.get(2 * n + i, 0),
                bhn.get(i, 0),
            );
            for k in 0..s.n_in {
                let x = data.x().get(k, col);
                ar += wi.get(i, k) * x;
                az += wi.get(n + i, k) * x;
                an += wi.get(2 * n + i, k) * x;
            }
            for k in 0..n {
                ar += wh.get(i, k) * h[k];
                az += wh.get(n + i, k) * h[k];
                hn += wh.get(2 * n + i, k) * h[k];
            }
            if let Some(xi) = data.state_noise() {
                an += xi.get(i, col);
            }
            let (r, z) = (sigmoid(ar), sigmoid(az));
            let c = (an + r * hn).tanh();
            next[i] = (1.0 - z) * c + z * h[i];
        }
        h = next;
        out.push(h.clone());
    }
    out
}

/// Naive GRU-2 loss from [`naive_states`]: `1/(2B) sum_t w_t sum_b ||C h_t + d - y_t||^2`.
fn naive_loss(model: &Gru, theta: &[f64], data: &SeqBatch) -> f64 {
    let s = *model.spec();
    let c = model.get(theta, "c").unwrap();
    let d = model.get(theta, "d");
    let (t, b) = (data.steps(), data.batch());
    let mut total = 0.0;
    for seq in 0..b {
        let hs = naive_states(model, theta, data, seq);
        for step in 1..=t {
            let col = (step - 1) * b + seq;
            for o in 0..s.n_out {
                let mut y = d.as_ref().map_or(0.0, |d| d.get(o, 0));
                for k in 0..s.hidden {
                    y += c.get(o, k) * hs[step][k];
                }
                let e = y - data.y().get(o, col);
                total += data.time_weights()[step - 1] * e * e;
            }
        }
    }
    total / (2.0 * b as f64)
}

fn inf_norm(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

/// Central difference of `f` along coordinate `k` of `p` and its derived tolerance (as in
/// tests/seq_rnn.rs): step `h = 1e-5`; the truncation `h^2/6 |f'''(xi)|`, with `f'''` from the
/// 4-point stencil at `h3 = 1e-2` times a safety factor 8 for `xi != p`, plus the rounding
/// `64 eps (1 + |f|) / h` (the evaluation error of `f`, sums of <= 64 O(1) terms here, divided
/// by `2h` twice). Returns `(fd, tol)`.
fn central_difference(f: &dyn Fn(&[f64]) -> f64, p: &[f64], k: usize) -> (f64, f64) {
    let (h, h3) = (1e-5, 1e-2);
    let at = |d: f64| {
        let mut q = p.to_vec();
        q[k] += d;
        f(&q)
    };
    let fd = (at(h) - at(-h)) / (2.0 * h);
    let f3 = (at(2.0 * h3) - 2.0 * at(h3) + 2.0 * at(-h3) - at(-2.0 * h3)) / (2.0 * h3 * h3 * h3);
    let tol = 8.0 * h * h / 6.0 * f3.abs() + 64.0 * EPS * (1.0 + at(0.0).abs()) / h;
    (fd, tol)
}

/// `(sizes (N, n_in, n_out, T, B), (bias, readout bias, time weights, noise), seed)`.
type Case = (
    (usize, usize, usize, usize, usize),
    (bool, bool, bool, bool),
    u64,
);

fn case() -> impl Strategy<Value = Case> {
    (
        (1usize..=4, 1usize..=3, 1usize..=2, 1usize..=5, 1usize..=3),
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
        0u64..1_000_000,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// GRU-2/GRU-3: BPTT vs central differences for every parameter (all blocks learnable,
    /// incl. `h0`), tolerance derived in [`central_difference`] (`~1e-9` here; a wrong BPTT
    /// term is O(1e-3 .. 1)).
    #[test]
    fn gru3_bptt_matches_finite_differences(
        ((n, ni, no, t, b), (bias, rb, weights, noise), seed) in case()
    ) {
        let (model, p, data) = problem(spec(ni, n, no, bias, rb), t, b, seed, weights, noise);
        let (l0, g) = grad(&model, &p, &data, None);
        prop_assert!(l0.is_finite() && l0 >= 0.0);
        let f = |q: &[f64]| loss(&model, q, &data);
        for (k, &gk) in g.iter().enumerate() {
            let (fd, tol) = central_difference(&f, &p, k);
            prop_assert!((fd - gk).abs() <= tol,
                "{:?} T={t} B={b} param {k}: fd {fd} bptt {gk} tol {tol}", model.spec());
        }
    }

    /// GRU-4 (= RN-6): truncated BPTT with window `k` equals an independent computation:
    /// every sequence alone, cut into chunks, each chunk run as its own sequence from the
    /// carried-in state (from the full forward pass, set as that chunk's `h0`) with the chunk's
    /// time weights and noise, full BPTT per chunk; summed over chunks and sequences divided by
    /// `B`, with the `h0` gradient from the first chunk only. Both are exact up to rounding of
    /// the same O(1) sums: `1e-12` relative to the largest gradient entry. `k >= T` is full
    /// BPTT bit for bit.
    #[test]
    fn gru4_truncated_bptt_equals_sum_over_chunks(
        ((n, ni, no, t, b), (bias, rb, weights, noise), seed) in case(),
        k in 1usize..=4,
    ) {
        let (model, p, data) = problem(spec(ni, n, no, bias, rb), t, b, seed, weights, noise);
        let (l_full, g_full) = grad(&model, &p, &data, None);
        let (l_tr, g_tr) = grad(&model, &p, &data, Some(k));
        prop_assert_eq!(l_full.to_bits(), l_tr.to_bits());
        for kk in [t, t + 3] {
            let (l2, g2) = grad(&model, &p, &data, Some(kk));
            prop_assert_eq!(l2.to_bits(), l_full.to_bits());
            prop_assert!(g2.iter().zip(&g_full).all(|(a, c)| a.to_bits() == c.to_bits()));
        }
        let mut ws = model.workspace(&data);
        model.loss(&p, &data, &mut ws).unwrap();
        let states = ws.states().clone();
        let h0_blk = model.block("h0").unwrap().clone();
        let mut reference = vec![0.0; p.len()];
        let mut l_ref = 0.0;
        for seq in 0..b {
            let one = data.select(&[seq]).unwrap();
            let mut start = 0;
            while start < t {
                let end = (start + k).min(t);
                let cols = |m: &Matrix| {
                    Matrix::from_fn(m.nrows(), end - start, |i, j| m.get(i, start + j))
                };
                let mut chunk = SeqBatch::new(cols(one.x()), cols(one.y()), end - start, 1)
                    .unwrap()
                    .with_time_weights(data.time_weights()[start..end].to_vec())
                    .unwrap();
                if let Some(xi) = one.state_noise() {
                    chunk = chunk.with_state_noise(cols(xi)).unwrap();
                }
                let mut q = p.clone();
                let carried = Matrix::from_fn(n, 1, |i, _| states.get(i, start * b + seq));
                model.set(&mut q, "h0", &carried).unwrap();
                let (lc, gc) = grad(&model, &q, &chunk, None);
                l_ref += lc / b as f64;
                for (j, gv) in gc.iter().enumerate() {
                    let in_h0 = (h0_blk.offset..h0_blk.offset + n).contains(&j);
                    if start == 0 || !in_h0 {
                        reference[j] += gv / b as f64;
                    }
                }
                start = end;
            }
        }
        let scale = inf_norm(&g_tr).max(inf_norm(&reference));
        prop_assert!((l_ref - l_tr).abs() <= 1e-12 * l_tr.abs(), "loss {l_tr} vs {l_ref}");
        prop_assert!(max_diff(&g_tr, &reference) <= 1e-12 * scale,
            "k={k} T={t}: max diff {} scale {scale}", max_diff(&g_tr, &reference));
    }
}

/// GRU-3, block by block on one larger problem (N = 6, n_in = 3, n_out = 2, T = 7, B = 4,
/// all biases, time weights and state noise): every entry of every block within its derived
/// tolerance; prints the worst error and the worst error/tolerance ratio per block.
#[test]
fn gru3_every_block_matches_finite_differences() {
    let (model, p, data) = problem(spec(3, 6, 2, true, true), 7, 4, 2024, true, true);
    let (_, g) = grad(&model, &p, &data, None);
    let f = |q: &[f64]| loss(&model, q, &data);
    for blk in model.blocks() {
        let (mut worst, mut ratio) = (0.0f64, 0.0f64);
        for k in blk.offset..blk.offset + blk.len() {
            let (fd, tol) = central_difference(&f, &p, k);
            let err = (fd - g[k]).abs();
            assert!(
                err <= tol,
                "block {} entry {k}: fd {fd} bptt {} tol {tol}",
                blk.name,
                g[k]
            );
            worst = worst.max(err);
            ratio = ratio.max(err / tol);
        }
        eprintln!(
            "GRU-3 block {:>3} ({}x{}): max |fd - bptt| {worst:.2e}, max err/tol {ratio:.2}",
            blk.name, blk.rows, blk.cols
        );
    }
}

/// GRU-1/GRU-2: the vectorized forward pass equals the naive per-step loop: states and loss
/// agree to `1e-13` relative (the same operations in a different summation order, O(10)
/// terms per sum, differences of a few ulp), with and without biases, noise and weights.
#[test]
fn gru1_forward_matches_naive_loop() {
    for (i, &(bias, rb, weights, noise)) in [
        (false, false, false, false),
        (true, false, true, false),
        (false, true, false, true),
        (true, true, true, true),
    ]
    .iter()
    .enumerate()
    {
        let (model, p, data) = problem(
            spec(3, 5, 2, bias, rb),
            6,
            3,
            300 + i as u64,
            weights,
            noise,
        );
        let mut ws = model.workspace(&data);
        let l = model.loss(&p, &data, &mut ws).unwrap();
        let ln = naive_loss(&model, &p, &data);
        assert!((l - ln).abs() <= 1e-13 * ln, "loss {l} vs naive {ln}");
        for seq in 0..3 {
            for (step, hn) in naive_states(&model, &p, &data, seq).iter().enumerate() {
                for (k, &v) in hn.iter().enumerate() {
                    let got = ws.states().get(k, step * 3 + seq);
                    assert!(
                        (got - v).abs() <= 1e-13,
                        "h_{step}[{k}] seq {seq}: {got} vs {v}"
                    );
                }
            }
        }
    }
}

/// GRU-5: the map's residual is `F(h) - h` with `F` one step of the model (a `T = 1` batch
/// from `h0 = h` at input `x`), and its Jacobian matches central differences of `F` within the
/// tolerance of [`central_difference`], at random states, with and without biases.
#[test]
fn gru5_map_and_jacobian() {
    for (i, bias) in [false, true].into_iter().enumerate() {
        let (model, mut p, _) = problem(
            spec(2, 5, 1, bias, false),
            1,
            1,
            500 + i as u64,
            false,
            false,
        );
        let mut g = rng(600 + i as u64, 1);
        let x = gaussian_matrix(&mut g, 2, 1);
        let h = gaussian_matrix(&mut g, 5, 1).scale(0.7);
        let map = model.state_map(&p, x.as_slice()).unwrap();
        assert_eq!(map.dim(), 5);
        let mut res = vec![0.0; 5];
        map.residual(h.as_slice(), &mut res);
        model.set(&mut p, "h0", &h).unwrap();
        let one = SeqBatch::new(x.clone(), Matrix::zeros(1, 1), 1, 1).unwrap();
        let mut ws = model.workspace(&one);
        model.loss(&p, &one, &mut ws).unwrap();
        for k in 0..5 {
            let f = ws.states().get(k, 1);
            assert!(
                (res[k] + h.get(k, 0) - f).abs() <= 1e-14,
                "F_{k}: {} vs {f}",
                res[k] + h.get(k, 0)
            );
        }
        let mut jac = Matrix::zeros(5, 5);
        map.jacobian(h.as_slice(), &mut jac);
        let mut worst = 0.0f64;
        for row in 0..5 {
            let f = |q: &[f64]| {
                let mut r = vec![0.0; 5];
                map.residual(q, &mut r);
                r[row] + q[row]
            };
            for col in 0..5 {
                let (fd, tol) = central_difference(&f, h.as_slice(), col);
                let err = (fd - jac.get(row, col)).abs();
                assert!(
                    err <= tol,
                    "J[{row},{col}]: fd {fd} analytic {} tol {tol}",
                    jac.get(row, col)
                );
                worst = worst.max(err);
            }
        }
        eprintln!("GRU-5 Jacobian (bias {bias}): max |fd - analytic| {worst:.2e}");
    }
}

/// GRU-6: without biases the origin is a fixed point and its Jacobian is exactly
/// `I/2 + W_hn/4` (`r = z = 1/2`, `n = 0`; every factor is a power of 2, so bit for bit);
/// with biases it is the map's Jacobian at 0.
#[test]
fn gru6_origin_jacobian() {
    let (model, p, _) = problem(spec(2, 4, 1, false, false), 1, 1, 7, false, false);
    let j = model.origin_jacobian(&p).unwrap();
    let wh = model.get(&p, "wh").unwrap();
    for r in 0..4 {
        for c in 0..4 {
            let want = 0.25 * wh.get(8 + r, c) + if r == c { 0.5 } else { 0.0 };
            assert_eq!(j.get(r, c).to_bits(), want.to_bits());
        }
    }
    let map = model.state_map(&p, &[0.0, 0.0]).unwrap();
    let mut res = vec![1.0; 4];
    map.residual(&[0.0; 4], &mut res);
    assert!(res.iter().all(|&v| v == 0.0));
    let (model, p, _) = problem(spec(2, 4, 1, true, false), 1, 1, 8, false, false);
    let mut jm = Matrix::zeros(4, 4);
    model
        .state_map(&p, &[0.0, 0.0])
        .unwrap()
        .jacobian(&[0.0; 4], &mut jm);
    assert_eq!(model.origin_jacobian(&p).unwrap().as_slice(), jm.as_slice());
    assert!(linalg::eigenvalues(&jm).unwrap().len() == 4);
}

/// GRU-7: `Uniform { gain }` draws every weight and bias in `[-gain/sqrt(N), gain/sqrt(N))`
/// with the spread of a uniform law; `Gaussian { gain }` has zero biases and per-block standard
/// deviations `gain / sqrt(fan_in)` (checked to 5 standard errors); `h0 = 0`; same seed, same
/// vector; another seed, another vector.
#[test]
fn gru7_initializations() {
    let model = Gru::new(spec(4, 64, 3, true, true)).unwrap();
    let th = model.init(GruInit::Uniform { gain: 1.0 }, 3).unwrap();
    assert_eq!(th, model.init(GruInit::Uniform { gain: 1.0 }, 3).unwrap());
    assert_ne!(th, model.init(GruInit::Uniform { gain: 1.0 }, 4).unwrap());
    let k = 1.0 / 8.0;
    let h0 = model.block("h0").unwrap();
    assert!(th[h0.offset..].iter().all(|&v| v == 0.0));
    let body = &th[..h0.offset];
    assert!(body.iter().all(|&v| (-k..k).contains(&v)));
    let var = body.iter().map(|v| v * v).sum::<f64>() / body.len() as f64;
    // Uniform on [-k, k): variance k^2/3; standard error of the mean square ~ k^2 / sqrt(5 m).
    assert!((var - k * k / 3.0).abs() <= 5.0 * k * k / (5.0 * body.len() as f64).sqrt());
    let th = model.init(GruInit::Gaussian { gain: 2.0 }, 3).unwrap();
    for blk in model.blocks() {
        let v = &th[blk.offset..blk.offset + blk.len()];
        let fan = match blk.name.as_str() {
            "wi" => 4.0,
            "wh" | "c" => 64.0,
            _ => {
                assert!(v.iter().all(|&x| x == 0.0), "{} not zero", blk.name);
                continue;
            }
        };
        let ms = v.iter().map(|x| x * x).sum::<f64>() / v.len() as f64;
        let want = 4.0 / fan;
        // Mean square of m Gaussians: relative standard error sqrt(2/m).
        assert!(
            (ms / want - 1.0).abs() <= 5.0 * (2.0 / v.len() as f64).sqrt(),
            "{}: {ms} vs {want}",
            blk.name
        );
    }
    assert!(model.init(GruInit::Gaussian { gain: f64::NAN }, 0).is_err());
    assert!(model.init(GruInit::Uniform { gain: -1.0 }, 0).is_err());
}

/// A fixed `h0` gets exactly 0 and every other entry is bit-identical to the all-learnable
/// gradient; the block layout is the documented one.
#[test]
fn frozen_h0_and_layout() {
    let s = spec(2, 3, 2, true, true);
    let (model, p, data) = problem(s, 4, 2, 9, true, false);
    let names: Vec<&str> = model.blocks().iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["wi", "wh", "bi", "bhn", "c", "d", "h0"]);
    assert_eq!(model.n_params(), 9 * 2 + 9 * 3 + 9 + 3 + 2 * 3 + 2 + 3);
    let (_, g_all) = grad(&model, &p, &data, Some(2));
    let frozen = Gru::new(GruSpec {
        learn_h0: false,
        ..s
    })
    .unwrap();
    let (_, g) = grad(&frozen, &p, &data, Some(2));
    let h0 = frozen.block("h0").unwrap().clone();
    assert!(!h0.learnable);
    for (k, (a, c)) in g.iter().zip(&g_all).enumerate() {
        if k >= h0.offset {
            assert_eq!(*a, 0.0);
        } else {
            assert_eq!(a.to_bits(), c.to_bits());
        }
    }
    let bare = Gru::new(spec(2, 3, 2, false, false)).unwrap();
    let names: Vec<&str> = bare.blocks().iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["wi", "wh", "c", "h0"]);
}

/// Typed errors for bad sizes, theta, buffers, truncation, workspaces, data and map inputs.
#[test]
fn bad_inputs_are_errors() {
    assert!(Gru::new(spec(0, 3, 1, true, true)).is_err());
    assert!(Gru::new(spec(1, 0, 1, true, true)).is_err());
    let (model, p, data) = problem(spec(2, 3, 1, true, false), 4, 2, 1, false, false);
    let mut ws = model.workspace(&data);
    let mut g = vec![0.0; model.n_params()];
    assert!(model.loss(&p[1..], &data, &mut ws).is_err());
    let mut bad = p.clone();
    bad[5] = f64::NAN;
    assert!(model.loss(&bad, &data, &mut ws).is_err());
    assert!(model
        .loss_and_grad(&p, &data, Some(0), &mut ws, &mut g)
        .is_err());
    assert!(model
        .loss_and_grad(&p, &data, None, &mut ws, &mut g[1..])
        .is_err());
    let other = data.select(&[0]).unwrap();
    assert!(model.loss(&p, &other, &mut ws).is_err());
    let (_, _, wrong) = problem(spec(3, 3, 1, true, false), 4, 2, 1, false, false);
    assert!(model
        .loss(&p, &wrong, &mut model.workspace(&wrong))
        .is_err());
    let noisy = SeqBatch::new(data.x().clone(), data.y().clone(), 4, 2)
        .unwrap()
        .with_state_noise(Matrix::zeros(2, 8))
        .unwrap();
    assert!(model.loss(&p, &noisy, &mut ws).is_err());
    assert!(model.state_map(&p, &[0.0]).is_err());
    assert!(model.state_map(&p, &[0.0, f64::INFINITY]).is_err());
    assert!(model
        .set(&mut p.clone(), "w", &Matrix::zeros(1, 1))
        .is_err());
    assert!(model
        .set(&mut p.clone(), "c", &Matrix::zeros(3, 1))
        .is_err());
    assert!(model.get(&p, "b").is_none());
}

/// The minibatch objective equals the model on the selected sub-batch, bit for bit.
#[test]
fn objective_minibatch_is_the_selected_sub_batch() {
    let (model, p, data) = problem(spec(2, 3, 2, true, true), 5, 6, 4, true, true);
    let mut obj = GruModel::new(&model, &data, Some(2)).unwrap();
    let idx = [1usize, 3, 4];
    let mut g1 = vec![0.0; model.n_params()];
    let l1 = obj.loss_and_grad(&p, Some(&idx), &mut g1).unwrap();
    let (l2, g2) = grad(&model, &p, &data.select(&idx).unwrap(), Some(2));
    assert_eq!(l1.to_bits(), l2.to_bits());
    assert_eq!(g1, g2);
    let l_all = obj.loss_and_grad(&p, None, &mut g1).unwrap();
    assert_eq!(l_all.to_bits(), loss(&model, &p, &data).to_bits());
}

/// Settings of the flip-flop runs: Adam (0.9, 0.999, 1e-8), clip 10, constant schedule.
fn adam(lr: f64, steps: u64, batch: usize) -> TrainSettings {
    let adam = Optimizer::Adam {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
    };
    TrainSettings {
        batch_size: Some(batch),
        clip: Some(10.0),
        ..TrainSettings::new(lr, steps, adam)
    }
}

/// GD smoke test: full-batch gradient descent on a 2-bit flip-flop (N = 8, T = 20, B = 32,
/// lr = 0.5, 300 steps, PyTorch init) completes and lowers the loss by at least a third.
#[test]
fn gd_lowers_the_flip_flop_loss() {
    let data = flip_flop(2, 20, 32, 0.1, 1).unwrap().to_batch().unwrap();
    let model = Gru::new(spec(2, 8, 2, true, true)).unwrap();
    let mut theta = model.init(GruInit::Uniform { gain: 1.0 }, 0).unwrap();
    let mut obj = GruModel::new(&model, &data, None).unwrap();
    let settings = TrainSettings::new(0.5, 300, Optimizer::Gd);
    let mut losses = Vec::new();
    let status = Trainer::new(settings)
        .train(
            &mut obj,
            &mut theta,
            &mut rng(0, 11),
            &[0, 300],
            &mut |s, _| losses.push(s.loss),
        )
        .unwrap();
    assert_eq!(status, TrainStatus::Completed);
    eprintln!("GD flip-flop loss {} -> {}", losses[0], losses[1]);
    assert!(losses[1] < losses[0] * 2.0 / 3.0, "{losses:?}");
}

/// Train a GRU with Adam on the 3-bit flip-flop (256 sequences of `t` steps, pulse
/// probability 0.1, PyTorch init) and count the stable fixed points under zero input (1024
/// inits sampled from the training trajectories plus N(0, 0.5^2), finder defaults except
/// `tol_q = 1e-20`: the true attractors polish to `q ~ 1e-32`, while with the default `1e-12`
/// regions of saturated update gates (`1 - z ~ 1e-6`, `|lambda| = 1` to 6 digits) far from the
/// data also pass as "fixed points").
/// Returns `(final loss, stable fixed points, all fixed points, seconds of training)`.
fn flip_flop_run(
    seed: u64,
    hidden: usize,
    lr: f64,
    steps: u64,
    batch: usize,
    t: usize,
) -> (f64, usize, usize, f64) {
    let data = flip_flop(3, t, 256, 0.1, 1000 + seed)
        .unwrap()
        .to_batch()
        .unwrap();
    let model = Gru::new(spec(3, hidden, 3, true, true)).unwrap();
    let mut theta = model.init(GruInit::Uniform { gain: 1.0 }, seed).unwrap();
    let mut obj = GruModel::new(&model, &data, None).unwrap();
    let mut last = f64::NAN;
    let start = Instant::now();
    let status = Trainer::new(adam(lr, steps, batch))
        .train(
            &mut obj,
            &mut theta,
            &mut rng(seed, 11),
            &[steps],
            &mut |s, _| last = s.loss,
        )
        .unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(status, TrainStatus::Completed);
    obj.loss(&theta).unwrap();
    let opts = FpOptions {
        seed,
        tol_q: 1e-20,
        ..FpOptions::default()
    };
    let inits = sample_inits(obj.workspace().states(), &opts).unwrap();
    let map = model.state_map(&theta, &[0.0; 3]).unwrap();
    let set = find_fixed_points(&map, &inits, &opts).unwrap();
    let fixed = set.points.iter().filter(|p| p.is_fixed).count();
    let stable = set.points.iter().filter(|p| p.is_fixed && p.stable).count();
    eprintln!(
        "flip-flop GRU seed {seed} N={hidden} lr={lr} steps={steps} batch={batch} T={t}: loss {last:.3e}, \
         {stable} stable of {fixed} fixed points, histogram {:?}, max |lambda| of index-0 points {:.5}, train {secs:.1} s",
        set.index_histogram(),
        set.points.iter().filter(|p| p.is_fixed && p.n_unstable == 0).map(|p| p.eigenvalues[0].norm()).fold(0.0, f64::max)
    );
    (last, stable, fixed, secs)
}

/// GRU on the 3-bit flip-flop (the settings for `configs/gru_flip_flop.toml`: N = 32, Adam
/// lr 0.01, 3000 steps, batch 64, T = 50, clip 10): 8 stable fixed points (one per corner of
/// the output cube) for each of 3 seeds. Measured (seeds 0..4, one core): 8 stable each,
/// histograms (8,11,4,1), (8,12,5,1), (8,12,6,1), (10,12,5,1), (9,12,6,1); training 11-14 s
/// per seed.
#[test]
#[ignore = "trains 3 GRUs; run with --ignored"]
fn gru_flip_flop_has_eight_stable_fixed_points() {
    for seed in 0..3 {
        let (_, stable, _, _) = flip_flop_run(seed, 32, 0.01, 3000, 64, 50);
        assert_eq!(stable, 8, "seed {seed}");
    }
}
