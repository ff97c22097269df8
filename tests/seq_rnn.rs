//! General RNN (`model::seq_rnn`, theory/rnn.md RN-4 .. RN-8): BPTT vs finite differences,
//! equality with the benchmark `Rnn`, truncated BPTT vs an independent chunked computation,
//! frozen blocks, the low-rank chain rule, rate(alpha = 1, identity) = discrete, GD vs
//! gradient flow at O(lr), and bad inputs.

use learndyn::dynamics::GradientFlow;
use learndyn::integrate::{solve, Atol, Ivp, Method, Options, Output, Workspace};
use learndyn::linalg::Matrix;
use learndyn::model::rnn::{Activation, Rnn, RnnGrad, RnnWorkspace, SeqBatch};
use learndyn::model::{Form, Learn, SeqRnn, SeqRnnSpec};
use learndyn::model::{Model, SeqRnnModel};
use learndyn::random::{gaussian_matrix, rng};
use proptest::prelude::*;

const ACTS: [Activation; 3] = [Activation::Identity, Activation::Tanh, Activation::Relu];
const EPS: f64 = f64::EPSILON;

/// Spec with every block learnable.
fn spec(
    n_in: usize,
    hidden: usize,
    n_out: usize,
    activation: Activation,
    form: Form,
    bias: bool,
    rank: Option<usize>,
) -> SeqRnnSpec {
    SeqRnnSpec {
        n_in,
        hidden,
        n_out,
        activation,
        form,
        bias,
        rank,
        learn: Learn::all(),
    }
}

/// Model (with a bulk `0.5 chi / sqrt(N)` when low rank), random parameters and data:
/// `W ~ 0.8/sqrt(N)`, `M, N ~ 0.7`, `U ~ 1/sqrt(n_in)`, `C ~ 1/sqrt(N)`, `b ~ 0.3`,
/// `h0 ~ 0.5` times standard normals; `x, y` standard normal. With `weights`, the time
/// weights are uniform in `[0, 2/T)` instead of `1/T`.
fn problem(
    s: SeqRnnSpec,
    t: usize,
    b: usize,
    seed: u64,
    weights: bool,
) -> (SeqRnn, Vec<f64>, SeqBatch) {
    let mut g = rng(seed, 77);
    let n = s.hidden;
    let sq = |k: usize| (k as f64).sqrt();
    let bulk = s
        .rank
        .map(|_| gaussian_matrix(&mut g, n, n).scale(0.5 / sq(n)));
    let model = SeqRnn::new(s, bulk).unwrap();
    let mut theta = vec![0.0; model.n_params()];
    for blk in model.blocks().to_vec() {
        let scale = match blk.name.as_str() {
            "w" => 0.8 / sq(n),
            "m" | "n" => 0.7,
            "u" => 1.0 / sq(s.n_in),
            "c" => 1.0 / sq(n),
            "b" => 0.3,
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
    (model, theta, data)
}

fn loss(model: &SeqRnn, theta: &[f64], data: &SeqBatch) -> f64 {
    let mut ws = model.workspace(data);
    model.loss(theta, data, &mut ws).unwrap()
}

fn grad(model: &SeqRnn, theta: &[f64], data: &SeqBatch, trunc: Option<usize>) -> (f64, Vec<f64>) {
    let mut ws = model.workspace(data);
    let mut g = vec![f64::NAN; model.n_params()];
    let l = model
        .loss_and_grad(theta, data, trunc, &mut ws, &mut g)
        .unwrap();
    (l, g)
}

/// Smallest `|input of phi|` over the forward pass (where ReLU has its kink): the
/// pre-activations `a_t = W h_{t-1} + U x_t + b` (discrete, recomputed here with loops) or the
/// states `h_0..h_{T-1}` (rate form, whose `phi` acts on the state).
fn min_kink_distance(model: &SeqRnn, theta: &[f64], data: &SeqBatch) -> f64 {
    let mut ws = model.workspace(data);
    model.loss(theta, data, &mut ws).unwrap();
    let h = ws.states().clone();
    let s = model.spec();
    let (n, t, b) = (s.hidden, data.steps(), data.batch());
    let mut amin = f64::INFINITY;
    match s.form {
        Form::Rate { .. } => {
            for col in 0..t * b {
                for i in 0..n {
                    amin = amin.min(h.get(i, col).abs());
                }
            }
        }
        Form::Discrete => {
            let w = model.effective_w(theta).unwrap();
            let u = model.get(theta, "u").unwrap();
            let bias = model.get(theta, "b");
            for col in 0..t * b {
                for i in 0..n {
                    let mut a = bias.as_ref().map_or(0.0, |bv| bv.get(i, 0));
                    for k in 0..n {
                        a += w.get(i, k) * h.get(k, col);
                    }
                    for k in 0..s.n_in {
                        a += u.get(i, k) * data.x().get(k, col);
                    }
                    amin = amin.min(a.abs());
                }
            }
        }
    }
    amin
}

/// `(sizes (N, n_in, n_out, T, B), (form index, alpha, activation index, bias, rank index,
/// time weights), seed)`.
type Case = (
    (usize, usize, usize, usize, usize),
    (usize, f64, usize, bool, usize, bool),
    u64,
);

fn case() -> impl Strategy<Value = Case> {
    (
        (1usize..=4, 1usize..=3, 1usize..=2, 1usize..=5, 1usize..=3),
        (
            0usize..3,
            0.05f64..=1.0,
            0usize..3,
            any::<bool>(),
            0usize..=4,
            any::<bool>(),
        ),
        0u64..1_000_000,
    )
}

fn form_of(fi: usize, alpha: f64) -> Form {
    match fi {
        0 => Form::Discrete,
        1 => Form::Rate { alpha },
        _ => Form::Rate { alpha: 1.0 },
    }
}

fn inf_norm(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// RN-3/RN-4/RN-5/RN-7: BPTT vs central differences with step `h = 1e-5`, every block
    /// learnable (incl. `h0`). The central difference `(L(p+h) - L(p-h)) / 2h` differs from
    /// `L'(p)` by the truncation `h^2/6 |L'''(xi)|` plus the rounding `2 dL / 2h`, where `dL` is
    /// the evaluation error of `L`, `<~ 64 eps (1 + |L|)` for these sizes (T <= 5 steps of
    /// <= 4-term sums). `L'''` along the coordinate is estimated at `p` by the 4-point stencil
    /// with `h3 = 1e-2` (its own rounding `~ 3 eps |L| / h3^3 ~ 7e-10 |L|` is negligible), and
    /// a factor 8 covers the difference between `L'''(p)` and `L'''(xi)`. So
    /// `tol = 8 h^2/6 |L'''| + 64 eps (1 + |L|) / h` (`~ 1e-9` here); a wrong BPTT term is
    /// O(1e-3 .. 1). ReLU: a kink within `h |da/dtheta|` (<~1e-4 here) of an input of `phi`
    /// would break the FD, so the case is rejected unless all those inputs exceed 1e-3.
    #[test]
    fn bptt_matches_finite_differences(
        ((n, ni, no, t, b), (fi, alpha, ai, bias, ri, weights), seed) in case()
    ) {
        let phi = ACTS[ai];
        let rank = if ri == 0 { None } else { Some(ri.min(n)) };
        let s = spec(ni, n, no, phi, form_of(fi, alpha), bias, rank);
        let (model, p, data) = problem(s, t, b, seed, weights);
        prop_assume!(phi != Activation::Relu || min_kink_distance(&model, &p, &data) > 1e-3);
        let (l0, g) = grad(&model, &p, &data, None);
        prop_assert!(l0.is_finite() && l0 >= 0.0);
        let (h, h3) = (1e-5, 1e-2);
        let at = |k: usize, d: f64| {
            let mut q = p.clone();
            q[k] += d;
            loss(&model, &q, &data)
        };
        for (k, &gk) in g.iter().enumerate() {
            let fd = (at(k, h) - at(k, -h)) / (2.0 * h);
            let l3 = (at(k, 2.0 * h3) - 2.0 * at(k, h3) + 2.0 * at(k, -h3) - at(k, -2.0 * h3))
                / (2.0 * h3 * h3 * h3);
            let tol = 8.0 * h * h / 6.0 * l3.abs() + 64.0 * EPS * (1.0 + l0.abs()) / h;
            prop_assert!((fd - gk).abs() <= tol,
                "{s:?} T={t} B={b} param {k}: fd {fd} bptt {gk} tol {tol}");
        }
    }

    /// RN-6: truncated BPTT with window `k` equals an independent computation: every
    /// sequence alone (`select`), cut into chunks, each chunk run as its own sequence from the
    /// carried-in state (taken from the full forward pass, set as that chunk's `h0`) with the
    /// chunk's time weights, full BPTT per chunk; the sum over chunks and sequences, divided by
    /// `B`, with the `h0` gradient taken from the first chunk only. Both are exact up to
    /// rounding of the same O(1) sums, so `1e-12` relative to the largest gradient entry.
    /// `k >= T` is full BPTT bit for bit (the same operations).
    #[test]
    fn truncated_bptt_equals_sum_over_chunks(
        ((n, ni, no, t, b), (fi, alpha, _ai, bias, ri, weights), seed) in case(),
        k in 1usize..=4,
    ) {
        let rank = if ri == 0 { None } else { Some(ri.min(n)) };
        let s = spec(ni, n, no, Activation::Tanh, form_of(fi, alpha), bias, rank);
        let (model, p, data) = problem(s, t, b, seed, weights);
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
                let cols = |m: &Matrix| Matrix::from_fn(m.nrows(), end - start, |i, j| m.get(i, start + j));
                let chunk = SeqBatch::new(cols(one.x()), cols(one.y()), end - start, 1)
                    .unwrap()
                    .with_time_weights(data.time_weights()[start..end].to_vec())
                    .unwrap();
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

/// RN-1..RN-3 vs the benchmark `Rnn`: discrete form, no bias, `h0 = 0`, uniform weights.
/// Both compute the same sums in a different order (and `Rnn` uses its own vectorized tanh,
/// a few ulp from libm's), so loss and gradient agree to `1e-12` relative.
#[test]
fn equals_benchmark_rnn() {
    let mut worst = 0.0f64;
    for (i, phi) in ACTS.into_iter().enumerate() {
        for &(n, ni, no, t, b) in &[(1, 1, 1, 1, 1), (4, 2, 3, 5, 3), (7, 3, 2, 9, 4)] {
            let seed = 100 + i as u64 * 10 + n as u64;
            let s = spec(ni, n, no, phi, Form::Discrete, false, None);
            let (model, mut p, data) = problem(s, t, b, seed, false);
            model.set(&mut p, "h0", &Matrix::zeros(n, 1)).unwrap();
            let get = |name: &str| model.get(&p, name).unwrap();
            let rnn = Rnn::new(get("w"), get("u"), get("c"), phi).unwrap();
            let mut rws = RnnWorkspace::for_problem(&rnn, &data);
            let mut rg = RnnGrad::zeros_like(&rnn);
            let lr = rnn.loss_and_grad(&data, &mut rws, &mut rg).unwrap();
            let (ls, gs) = grad(&model, &p, &data, None);
            assert!((lr - ls).abs() <= 1e-12 * lr, "{phi:?}: loss {lr} vs {ls}");
            let flat: Vec<f64> = [rg.w.as_slice(), rg.u.as_slice(), rg.c.as_slice()].concat();
            let gs_wuc = &gs[..flat.len()];
            let rel = max_diff(&flat, gs_wuc) / inf_norm(&flat);
            worst = worst.max(rel);
            assert!(rel <= 1e-12, "{phi:?} N={n} T={t}: rel grad diff {rel}");
        }
    }
    eprintln!("equals_benchmark_rnn: worst relative gradient difference {worst:.2e}");
}

/// Frozen blocks get exactly 0; learnable blocks are bit-identical to the all-learnable
/// gradient (the same operations), for all 32 subsets, full and low rank, both forms.
#[test]
fn frozen_blocks_have_exactly_zero_gradient() {
    for (rank, form) in [(None, Form::Discrete), (Some(2), Form::Rate { alpha: 0.3 })] {
        let s = spec(2, 4, 2, Activation::Tanh, form, true, rank);
        let (all, p, data) = problem(s, 5, 3, 5, true);
        let (_, g_all) = grad(&all, &p, &data, Some(2));
        for mask in 0u32..32 {
            let learn = Learn {
                w: mask & 1 != 0,
                u: mask & 2 != 0,
                c: mask & 4 != 0,
                b: mask & 8 != 0,
                h0: mask & 16 != 0,
            };
            let model = SeqRnn::new(SeqRnnSpec { learn, ..s }, all.bulk().cloned()).unwrap();
            let (_, g) = grad(&model, &p, &data, Some(2));
            for blk in model.blocks() {
                let r = blk.offset..blk.offset + blk.len();
                if blk.learnable {
                    assert!(g[r.clone()]
                        .iter()
                        .zip(&g_all[r])
                        .all(|(a, c)| a.to_bits() == c.to_bits()));
                } else {
                    assert!(
                        g[r].iter().all(|v| v.to_bits() == 0),
                        "{} mask {mask}",
                        blk.name
                    );
                }
            }
        }
    }
}

/// RN-5: the low-rank gradient is the chain rule applied to the full-rank `dW` at
/// `W = bulk + M N^T / hidden`: `dM = dW N / hidden`, `dN = dW^T M / hidden`. The full-rank
/// model is given the same effective `W` (the same bits), so the two forward passes agree;
/// `1e-13` relative covers the different summation order of the final products.
#[test]
fn low_rank_gradient_follows_the_chain_rule() {
    for (form, phi) in [
        (Form::Discrete, Activation::Tanh),
        (Form::Rate { alpha: 0.4 }, Activation::Tanh),
        (Form::Discrete, Activation::Identity),
    ] {
        let (n, r) = (6, 2);
        let s = spec(2, n, 3, phi, form, true, Some(r));
        let (lowr, p, data) = problem(s, 6, 2, 21, true);
        let full = SeqRnn::new(SeqRnnSpec { rank: None, ..s }, None).unwrap();
        let mut q = vec![0.0; full.n_params()];
        full.set(&mut q, "w", &lowr.effective_w(&p).unwrap())
            .unwrap();
        for name in ["u", "c", "b", "h0"] {
            full.set(&mut q, name, &lowr.get(&p, name).unwrap())
                .unwrap();
        }
        let (l_low, g_low) = grad(&lowr, &p, &data, None);
        let (l_full, g_full) = grad(&full, &q, &data, None);
        assert!((l_low - l_full).abs() <= 1e-14 * l_full);
        let dw = full.get(&g_full, "w").unwrap();
        let m = lowr.get(&p, "m").unwrap();
        let nn = lowr.get(&p, "n").unwrap();
        let dm_ref = dw.matmul(&nn).scale(1.0 / n as f64);
        let dn_ref = dw.t_matmul(&m).scale(1.0 / n as f64);
        let dm = lowr.get(&g_low, "m").unwrap();
        let dn = lowr.get(&g_low, "n").unwrap();
        let scale = dm_ref.max_abs().max(dn_ref.max_abs());
        assert!(dm.sub(&dm_ref).max_abs() <= 1e-13 * scale);
        assert!(dn.sub(&dn_ref).max_abs() <= 1e-13 * scale);
        for name in ["u", "c", "b", "h0"] {
            let a = lowr.get(&g_low, name).unwrap();
            let c = full.get(&g_full, name).unwrap();
            assert!(
                a.sub(&c).max_abs() <= 1e-13 * c.max_abs().max(1e-300),
                "{name}"
            );
        }
    }
}

/// RN-4 at `alpha = 1` with identity `phi`: `h_t = 0 h_{t-1} + (W h_{t-1} + U x_t + b)`, the
/// discrete update; backward `g_t = C^T e_t + 0 g_{t+1} + W^T delta_{t+1}`, `delta_t = g_t`,
/// the discrete recursion. Same sums, so agreement to a few ulp (`1e-13` relative).
#[test]
fn rate_alpha_one_identity_equals_discrete() {
    for (rank, bias, weights) in [
        (None, true, true),
        (Some(2), false, false),
        (None, false, true),
    ] {
        let s = spec(3, 5, 2, Activation::Identity, Form::Discrete, bias, rank);
        let (disc, p, data) = problem(s, 7, 3, 8, weights);
        let rate = SeqRnn::new(
            SeqRnnSpec {
                form: Form::Rate { alpha: 1.0 },
                ..s
            },
            disc.bulk().cloned(),
        )
        .unwrap();
        for trunc in [None, Some(3)] {
            let (ld, gd) = grad(&disc, &p, &data, trunc);
            let (lr, gr) = grad(&rate, &p, &data, trunc);
            assert!((ld - lr).abs() <= 1e-13 * ld);
            assert!(max_diff(&gd, &gr) <= 1e-13 * inf_norm(&gd));
        }
    }
}

/// RN-8 (C-5, C-6): plain GD `theta -= lr grad` for `1/lr` steps vs the gradient flow at
/// `t = 1` (DOPRI5, rtol 1e-12, error ~1e-11 << the GD errors ~1e-3). GD's global error is
/// `O(lr)`, so the fitted log-log slope of `||theta_GD - theta_flow||` against `lr` is 1
/// within 0.15.
#[test]
fn gd_converges_to_gradient_flow_linearly_in_lr() {
    for (form, rank) in [(Form::Rate { alpha: 0.5 }, None), (Form::Discrete, Some(2))] {
        let s = spec(2, 3, 2, Activation::Tanh, form, true, rank);
        let (model, p0, data) = problem(s, 4, 3, 3, true);
        let mut flow = GradientFlow::new(SeqRnnModel::new(&model, &data, None).unwrap());
        let opts = Options {
            rtol: 1e-12,
            atol: Atol::Scalar(1e-14),
            ..Options::default()
        };
        let mut ows = Workspace::new(p0.len());
        let sol = solve(
            &Method::parse("dopri5").unwrap(),
            &mut flow,
            &Ivp::new(0.0, &p0, 1.0),
            &opts,
            &mut ows,
            &mut Output::end(),
        )
        .unwrap();
        let lf0 = flow.model().loss(&p0).unwrap();
        let lf1 = flow.model().loss(&sol.y_end).unwrap();
        assert!(lf1 < lf0, "the flow decreases the loss: {lf0} -> {lf1}");
        let lrs: [f64; 4] = [0.04, 0.02, 0.01, 0.005];
        let mut errs = Vec::new();
        let mut ws = model.workspace(&data);
        let mut g = vec![0.0; p0.len()];
        for &lr in &lrs {
            let mut th = p0.clone();
            let steps = (1.0 / lr).round() as usize;
            for _ in 0..steps {
                model
                    .loss_and_grad(&th, &data, None, &mut ws, &mut g)
                    .unwrap();
                th.iter_mut().zip(&g).for_each(|(x, gv)| *x -= lr * gv);
            }
            let e = th
                .iter()
                .zip(&sol.y_end)
                .map(|(a, c)| (a - c) * (a - c))
                .sum::<f64>()
                .sqrt();
            errs.push(e);
        }
        let xs: Vec<f64> = lrs.iter().map(|v| v.ln()).collect();
        let ys: Vec<f64> = errs.iter().map(|v| v.ln()).collect();
        let (mx, my) = (xs.iter().sum::<f64>() / 4.0, ys.iter().sum::<f64>() / 4.0);
        let slope = xs
            .iter()
            .zip(&ys)
            .map(|(x, y)| (x - mx) * (y - my))
            .sum::<f64>()
            / xs.iter().map(|x| (x - mx) * (x - mx)).sum::<f64>();
        let ratios: Vec<f64> = errs.windows(2).map(|w| w[0] / w[1]).collect();
        let errs_s: Vec<String> = errs.iter().map(|e| format!("{e:.3e}")).collect();
        eprintln!("{form:?} rank {rank:?}: GD-flow errors {errs_s:?}, ratios {ratios:.3?}, slope {slope:.4}");
        assert!((slope - 1.0).abs() < 0.15, "slope {slope}, errors {errs:?}");
    }
}

/// `select` keeps order and time weights, and the loss is the mean of per-sequence losses
/// (`L = 1/B sum_b L_b` by RN-7).
#[test]
fn select_gives_consistent_sub_batches() {
    let s = spec(
        2,
        3,
        2,
        Activation::Tanh,
        Form::Rate { alpha: 0.7 },
        true,
        None,
    );
    let (model, p, data) = problem(s, 4, 3, 9, true);
    let sub = data.select(&[2, 0]).unwrap();
    assert_eq!((sub.steps(), sub.batch()), (4, 2));
    assert_eq!(sub.time_weights(), data.time_weights());
    for step in 0..4 {
        assert_eq!(
            sub.x().get(1, step * 2).to_bits(),
            data.x().get(1, step * 3 + 2).to_bits()
        );
        assert_eq!(
            sub.y().get(0, step * 2 + 1).to_bits(),
            data.y().get(0, step * 3).to_bits()
        );
    }
    let total = loss(&model, &p, &data);
    let mean: f64 = (0..3)
        .map(|b| loss(&model, &p, &data.select(&[b]).unwrap()))
        .sum::<f64>()
        / 3.0;
    assert!((total - mean).abs() <= 1e-14 * total);
}

#[test]
fn bad_inputs_are_errors() {
    let s = spec(2, 3, 2, Activation::Tanh, Form::Discrete, true, None);
    let (model, p, data) = problem(s, 4, 2, 1, false);
    let msg = |e: learndyn::Error| e.to_string();
    // Data whose n_in / n_out do not fit the model.
    let other = SeqBatch::new(Matrix::zeros(3, 8), Matrix::zeros(2, 8), 4, 2).unwrap();
    let mut ws = model.workspace(&data);
    let e = model.loss(&p, &other, &mut ws).unwrap_err();
    assert!(msg(e).contains("n_in"));
    let mut g = vec![0.0; model.n_params()];
    assert!(model
        .loss_and_grad(&p, &other, None, &mut ws, &mut g)
        .is_err());
    assert!(SeqRnnModel::new(&model, &other, None).is_err());
    // T = 0.
    assert!(SeqBatch::new(Matrix::zeros(2, 0), Matrix::zeros(2, 0), 0, 2).is_err());
    // NaN in theta: the message names the block.
    let mut q = p.clone();
    let u_off = model.block("u").unwrap().offset;
    q[u_off + 1] = f64::NAN;
    let e = model.loss(&q, &data, &mut ws).unwrap_err();
    assert!(msg(e).contains("block `u`"));
    assert!(model
        .loss_and_grad(&q, &data, None, &mut ws, &mut g)
        .is_err());
    // theta / grad of the wrong length; truncation 0; a workspace for other data.
    assert!(model.loss(&p[1..], &data, &mut ws).is_err());
    assert!(model.effective_w(&p[1..]).is_err());
    assert!(model.get(&p[1..], "w").is_none());
    assert!(model
        .loss_and_grad(&p, &data, None, &mut ws, &mut g[1..])
        .is_err());
    let e = model
        .loss_and_grad(&p, &data, Some(0), &mut ws, &mut g)
        .unwrap_err();
    assert!(msg(e).contains("truncation"));
    let longer = SeqBatch::new(Matrix::zeros(2, 10), Matrix::zeros(2, 10), 5, 2).unwrap();
    assert!(model
        .loss(&p, &data, &mut model.workspace(&longer))
        .is_err());
    // Bulk: wrong shape, non-finite, or given to a full-rank model.
    let lr = SeqRnnSpec { rank: Some(1), ..s };
    let e = SeqRnn::new(lr, Some(Matrix::zeros(3, 2))).unwrap_err();
    assert!(msg(e).contains("bulk"));
    let mut nanbulk = Matrix::zeros(3, 3);
    nanbulk.set(1, 1, f64::NAN);
    assert!(SeqRnn::new(lr, Some(nanbulk)).is_err());
    assert!(msg(SeqRnn::new(s, Some(Matrix::zeros(3, 3))).unwrap_err()).contains("bulk"));
    // Bad spec values.
    assert!(SeqRnn::new(SeqRnnSpec { rank: Some(0), ..s }, None).is_err());
    assert!(SeqRnn::new(SeqRnnSpec { rank: Some(4), ..s }, None).is_err());
    assert!(SeqRnn::new(SeqRnnSpec { hidden: 0, ..s }, None).is_err());
    for alpha in [0.0, -0.5, 1.5, f64::NAN] {
        let e = SeqRnn::new(
            SeqRnnSpec {
                form: Form::Rate { alpha },
                ..s
            },
            None,
        )
        .unwrap_err();
        assert!(msg(e).contains("alpha"));
    }
    // set: unknown block / wrong shape.
    let mut q = p.clone();
    assert!(msg(model.set(&mut q, "m", &Matrix::zeros(3, 1)).unwrap_err()).contains("no block"));
    assert!(model.set(&mut q, "u", &Matrix::zeros(2, 3)).is_err());
    // Time weights: wrong length, negative, NaN; select out of range or empty.
    assert!(data.clone().with_time_weights(vec![0.25; 3]).is_err());
    assert!(data
        .clone()
        .with_time_weights(vec![0.5, -0.1, 0.3, 0.3])
        .is_err());
    assert!(data
        .clone()
        .with_time_weights(vec![0.5, f64::NAN, 0.3, 0.3])
        .is_err());
    assert!(data.select(&[0, 2]).is_err());
    assert!(data.select(&[]).is_err());
    // The benchmark Rnn refuses non-uniform time weights, and accepts the explicit default.
    let get = |name: &str| model.get(&p, name).unwrap();
    let rnn = Rnn::new(get("w"), get("u"), get("c"), Activation::Tanh).unwrap();
    let mut rws = RnnWorkspace::for_problem(&rnn, &data);
    let weighted = data
        .clone()
        .with_time_weights(vec![0.1, 0.2, 0.3, 0.4])
        .unwrap();
    assert!(msg(rnn.loss(&weighted, &mut rws).unwrap_err()).contains("time weights"));
    let explicit = data.clone().with_time_weights(vec![0.25; 4]).unwrap();
    assert_eq!(
        rnn.loss(&explicit, &mut rws).unwrap().to_bits(),
        rnn.loss(&data, &mut rws).unwrap().to_bits()
    );
    // The good call still works with the same workspace.
    assert!(model
        .loss_and_grad(&p, &data, Some(2), &mut ws, &mut g)
        .unwrap()
        .is_finite());
}

/// RN-9: frozen state noise is an additive drive, so BPTT stays exact (central finite
/// differences, tanh, both forms) and the noise changes the loss.
#[test]
fn state_noise_keeps_bptt_exact() {
    for form in [Form::Discrete, Form::Rate { alpha: 0.3 }] {
        let (model, theta, data) = problem(
            spec(2, 5, 3, Activation::Tanh, form, true, None),
            6,
            4,
            11,
            false,
        );
        let mut g = rng(12, 78);
        let xi = gaussian_matrix(&mut g, 5, 6 * 4).scale(0.3);
        let noisy = data.clone().with_state_noise(xi).unwrap();
        let (l0, _) = grad(&model, &theta, &data, None);
        let (l, gr) = grad(&model, &theta, &noisy, None);
        assert!((l - l0).abs() > 1e-6, "noise must change the loss");
        let h = 1e-5;
        let mut worst: f64 = 0.0;
        for k in 0..theta.len() {
            let mut p = theta.clone();
            p[k] += h;
            let lp = loss(&model, &p, &noisy);
            p[k] -= 2.0 * h;
            let lm = loss(&model, &p, &noisy);
            let fd = (lp - lm) / (2.0 * h);
            worst = worst.max((fd - gr[k]).abs() / (1.0 + gr[k].abs()));
        }
        // Central differences: h^2 |L'''| / 6 + eps |L| / h, with O(1) derivatives here.
        assert!(worst < 1e-8, "{form:?}: worst FD error {worst:.2e}");
        // Shape errors name the problem.
        let bad = data.clone().with_state_noise(Matrix::zeros(4, 24)).unwrap();
        let mut ws = model.workspace(&bad);
        let err = model.loss(&theta, &bad, &mut ws).unwrap_err().to_string();
        assert!(err.contains("state noise"), "{err}");
    }
}
