//! The overlap-space learning dynamics of linear low-rank RNNs (theory/low_rank.md, LK-1..LK-6):
//! the overlap loss and gradient equal the network's, the overlap flow equals the full gradient
//! flow of the rank-R RNN on overlap-closed inits (zero bulk, a bulk orthogonal to the trained
//! vectors) to the integration tolerance, and the size of what a random bulk adds.

use learndyn::dynamics::GradientFlow;
use learndyn::integrate::{solve, Atol, Ivp, Method, Options, Output, VectorField, Workspace};
use learndyn::linalg::{self, Matrix};
use learndyn::model::rnn::{Activation, SeqBatch};
use learndyn::model::{Form, Learn, Model, SeqRnn, SeqRnnModel, SeqRnnSpec};
use learndyn::random::{gaussian_matrix, rng};
use learndyn::task::sequences::{generate_inputs, integrate_targets, InputProcess};
use learndyn::theory::low_rank::{stack_vectors, OverlapFlow, Trained};

/// The fixed part of `W`.
#[derive(Debug, Clone, Copy)]
enum Bulk {
    /// `W0 = 0`.
    Zero,
    /// `W0 = g P chi P` with `P` the projector off the span of the initial trained vectors
    /// (LK-3's closed class with a nonzero bulk).
    Orthogonal(f64),
    /// `W0 = g chi`, `chi_ij ~ N(0, 1/N)` (LK-6: not closed).
    Random(f64),
}

/// One rank-R problem on the integrate task (impulse basis, `T` steps, `gamma`).
struct Problem {
    model: SeqRnn,
    data: SeqBatch,
    theta0: Vec<f64>,
    reduced: OverlapFlow,
}

/// The trained vectors `[M, N, U, C^T]` of `theta`.
fn vectors(model: &SeqRnn, theta: &[f64]) -> Matrix {
    let b = |name: &str| model.get(theta, name).unwrap();
    stack_vectors(&b("m"), &b("n"), &b("u"), &b("c")).unwrap()
}

/// Init (seed `seed`, stream 91): `M, N ~ N(0, 1)`, `U ~ N(0, in^2)`, `C ~ N(0, out^2 / N)`.
#[allow(clippy::too_many_arguments)]
fn problem(
    n: usize,
    rank: usize,
    d: usize,
    steps: usize,
    form: Form,
    bulk: Bulk,
    (in_scale, out_scale): (f64, f64),
    seed: u64,
) -> Problem {
    let spec = SeqRnnSpec {
        n_in: d,
        hidden: n,
        n_out: d,
        activation: Activation::Identity,
        form,
        bias: false,
        rank: Some(rank),
        learn: Learn {
            w: true,
            u: true,
            c: true,
            b: false,
            h0: false,
        },
    };
    let mut g = rng(seed, 91);
    let m = gaussian_matrix(&mut g, n, rank);
    let nn = gaussian_matrix(&mut g, n, rank);
    let u = gaussian_matrix(&mut g, n, d).scale(in_scale);
    let c = gaussian_matrix(&mut g, d, n).scale(out_scale / (n as f64).sqrt());
    let chi = gaussian_matrix(&mut g, n, n).scale(1.0 / (n as f64).sqrt());
    let v0 = stack_vectors(&m, &nn, &u, &c).unwrap();
    let w0 = match bulk {
        Bulk::Zero => None,
        Bulk::Random(gain) => Some(chi.scale(gain)),
        Bulk::Orthogonal(gain) => {
            let q = linalg::orthonormal_from(&v0).unwrap();
            let p = Matrix::identity(n).sub(&q.matmul_t(&q));
            Some(p.matmul(&chi).matmul(&p).scale(gain))
        }
    };
    let model = SeqRnn::new(spec, w0).unwrap();
    let mut theta0 = vec![0.0; model.n_params()];
    for (name, value) in [("m", &m), ("n", &nn), ("u", &u), ("c", &c)] {
        model.set(&mut theta0, name, value).unwrap();
    }
    let (x, b) = generate_inputs(&InputProcess::ImpulseBasis, d, steps, 1, 0).unwrap();
    let y = integrate_targets(&x, steps, b, GAMMA).unwrap();
    let data = SeqBatch::new(x, y, steps, b).unwrap();
    let reduced = overlap_flow(rank, form, d, steps, &v0);
    Problem {
        model,
        data,
        theta0,
        reduced,
    }
}

/// The overlap flow of the integrate task from `v0`: LK-2 with `Sigma_k = gamma^k I`,
/// `w_k = (T - k) / T` (OL-5), every block trained.
fn overlap_flow(rank: usize, form: Form, d: usize, steps: usize, v0: &Matrix) -> OverlapFlow {
    let alpha = match form {
        Form::Rate { alpha } => alpha,
        Form::Discrete => 1.0,
    };
    let t = steps as f64;
    let sigma = (0..steps)
        .map(|k| Matrix::identity(d).scale(GAMMA.powi(k as i32)))
        .collect();
    let weights = (0..steps).map(|k| (t - k as f64) / t).collect();
    let trained = Trained {
        mn: true,
        u: true,
        c: true,
    };
    OverlapFlow::new(rank, alpha, sigma, weights, trained, v0).unwrap()
}

/// `p` restarted from the aligned init `M = N = sqrt(lambda N) r`, `U = b r`, `C = c r^T`
/// (`r` a random unit vector, seed `seed`; rank one, `d = 1`): `G_0` has rank one.
fn aligned(p: Problem, (lambda, b, c): (f64, f64, f64), seed: u64) -> Problem {
    let n = p.model.spec().hidden;
    let mut g = rng(seed, 93);
    let r = linalg::orthonormal_from(&gaussian_matrix(&mut g, n, 1)).unwrap();
    let mut theta = p.theta0.clone();
    let mn = r.clone().scale((lambda * n as f64).sqrt());
    p.model.set(&mut theta, "m", &mn).unwrap();
    p.model.set(&mut theta, "n", &mn).unwrap();
    p.model.set(&mut theta, "u", &r.clone().scale(b)).unwrap();
    p.model
        .set(&mut theta, "c", &r.transpose().scale(c))
        .unwrap();
    let v0 = vectors(&p.model, &theta);
    let steps = p.data.steps();
    let reduced = overlap_flow(1, p.model.spec().form, 1, steps, &v0);
    Problem {
        theta0: theta,
        reduced,
        ..p
    }
}

const GAMMA: f64 = 0.9;

fn opts(rtol: f64, atol: f64) -> Options {
    Options {
        rtol,
        atol: Atol::Scalar(atol),
        ..Options::default()
    }
}

/// States of `field` from `y0` at `times` (DOPRI5 at `o`).
fn trajectory(
    field: &mut dyn VectorField,
    y0: &[f64],
    times: &[f64],
    o: &Options,
) -> Vec<Vec<f64>> {
    let mut out = Vec::new();
    let mut ws = Workspace::new(y0.len());
    let mut on_save = |_t: f64, y: &[f64]| out.push(y.to_vec());
    solve(
        &Method::parse("dopri5").unwrap(),
        field,
        &Ivp::new(0.0, y0, *times.last().unwrap()),
        o,
        &mut ws,
        &mut Output::at_times(times, &mut on_save),
    )
    .unwrap();
    out
}

/// The full flow's overlaps `V^T V` and loss, and the reduced ones, at `times`.
fn compare(p: &Problem, times: &[f64], o: &Options) -> Vec<(Matrix, f64, Matrix, f64)> {
    let mut flow = GradientFlow::new(SeqRnnModel::new(&p.model, &p.data, None).unwrap());
    let full = trajectory(&mut flow, &p.theta0, times, o);
    let mut red = p.reduced.clone();
    let y0 = red.initial_state();
    let reduced = trajectory(&mut red, &y0, times, o);
    full.iter()
        .zip(&reduced)
        .map(|(theta, phi)| {
            let v = vectors(&p.model, theta);
            let g = p.reduced.overlaps(phi);
            let lf = flow.model().loss(theta).unwrap();
            let lr = p.reduced.loss_of(&g);
            (v.t_matmul(&v), lf, g, lr)
        })
        .collect()
}

/// LK-1, LK-2, LK-3: at the random inits of closed problems (zero and orthogonal bulk,
/// both forms, R = 1, 2, d = 1, 2), the overlap loss equals the network loss and `V X` equals
/// the BPTT gradient `[dL/dM, dL/dN, dL/dU, dL/dC^T]`, to 1e-12 relative (rounding of `O(T^2)`
/// products of `p x p` matrices).
#[test]
fn lk2_lk3_overlap_loss_and_gradient_equal_the_network_ones() {
    let cases = [
        (1, 1, Form::Discrete, Bulk::Zero),
        (2, 2, Form::Discrete, Bulk::Orthogonal(0.7)),
        (1, 2, Form::Rate { alpha: 0.4 }, Bulk::Orthogonal(0.5)),
        (2, 1, Form::Rate { alpha: 0.7 }, Bulk::Zero),
    ];
    for (case, &(rank, d, form, bulk)) in cases.iter().enumerate() {
        let p = problem(30, rank, d, 8, form, bulk, (0.8, 1.5), case as u64);
        let mut ws = p.model.workspace(&p.data);
        let mut grad = vec![0.0; p.model.n_params()];
        let loss = p
            .model
            .loss_and_grad(&p.theta0, &p.data, None, &mut ws, &mut grad)
            .unwrap();
        let v = vectors(&p.model, &p.theta0);
        let g = v.t_matmul(&v);
        let lr = p.reduced.loss_of(&g);
        let x = p.reduced.gradient_coefficients(&g);
        let dv = vectors(&p.model, &grad);
        let vx = v.matmul(&x);
        let dl = (lr - loss).abs() / loss;
        let dg = vx.sub(&dv).max_abs() / dv.max_abs();
        eprintln!("case {case}: loss {loss:.6e}, rel diff {dl:.2e}; gradient rel diff {dg:.2e}");
        assert!(dl < 1e-12 && dg < 1e-12, "case {case}: {dl:.2e} {dg:.2e}");
    }
}

/// LK-4, LK-5: on overlap-closed inits (zero bulk, discrete, R = 1; orthogonal bulk g = 0.8,
/// rate form alpha = 0.5, R = 2, d = 2; the aligned init `M = N = sqrt(0.05 N) r`,
/// `U = 0.1 r`, `C = 0.1 r^T` of rank-one overlaps, the outlier model's manifold) the overlap
/// flow equals the full gradient flow of the
/// N = 40 rank-R RNN. Both are integrated by DOPRI5 at rtol = 1e-10, atol = 1e-12; each has a
/// global error of at most ~100 rtol times the state scale (CLOSED_VS_ODE's rationale:
/// accumulation over the O(100) steps), so the overlaps may differ by 2 * 100 * rtol *
/// max|G| = 2e-8 max|G| and the loss by 2e-8 times the initial loss.
#[test]
fn lk4_lk5_overlap_flow_equals_the_full_flow_on_closed_inits() {
    let (rtol, atol) = (1e-10, 1e-12);
    let times: Vec<f64> = (0..=8).map(|i| 4.0 * i as f64).collect();
    let problems = [
        (
            problem(40, 1, 1, 12, Form::Discrete, Bulk::Zero, (0.5, 1.0), 10),
            "zero bulk",
        ),
        (
            problem(
                40,
                2,
                2,
                12,
                Form::Rate { alpha: 0.5 },
                Bulk::Orthogonal(0.8),
                (0.5, 1.0),
                11,
            ),
            "orthogonal bulk",
        ),
        (
            aligned(
                problem(40, 1, 1, 12, Form::Discrete, Bulk::Zero, (0.5, 1.0), 12),
                (0.05, 0.1, 0.1),
                12,
            ),
            "aligned (rank-one G0)",
        ),
    ];
    for (case, (p, what)) in problems.iter().enumerate() {
        let rows = compare(p, &times, &opts(rtol, atol));
        let scale = rows.iter().map(|r| r.0.max_abs()).fold(0.0, f64::max);
        let loss0 = rows[0].1;
        let dg = rows
            .iter()
            .map(|r| r.0.sub(&r.2).max_abs())
            .fold(0.0, f64::max);
        let dl = rows.iter().map(|r| (r.1 - r.3).abs()).fold(0.0, f64::max);
        let last = rows.last().unwrap();
        eprintln!(
            "{what}: max|G| {scale:.3}, max overlap diff {dg:.2e} ({:.2e} of max|G|), loss {loss0:.4} -> {:.3e}, max loss diff {dl:.2e}",
            dg / scale,
            last.1
        );
        // The aligned init is small (its outlier learns at the rate 2 lambda / N of LK-1's
        // parametrization); the other two learn most of the task.
        let learned = if case < 2 { 0.2 } else { 0.9 };
        assert!(last.1 < learned * loss0, "{what}: the network learns");
        assert!(
            dg <= 2.0 * 100.0 * rtol * scale,
            "{what}: overlaps {dg:.2e}"
        );
        assert!(dl <= 2.0 * 100.0 * rtol * loss0, "{what}: loss {dl:.2e}");
    }
}

/// LK-6: a random bulk `g chi` is not an `O(1/sqrt N)` correction to the bulk-free overlap
/// flow. Rank one, discrete, T = 10, from the same random init with and without the bulk: the
/// largest loss difference over t in [0, 6] at N = 200 and 800. If the bulk entered at
/// `O(1/sqrt N)`, quadrupling N would halve it; it does not shrink (ratio > 0.75 asserted,
/// 0.5 would be the `1/sqrt N` law), and it grows with g. Without the bulk the two flows agree
/// at both N to the integration tolerance (LK-4).
#[test]
fn lk6_random_bulk_is_an_order_one_correction() {
    let times: Vec<f64> = (0..=4).map(|i| 1.5 * i as f64).collect();
    let o = opts(1e-8, 1e-10);
    let mut by_n = Vec::new();
    for &n in &[200usize, 800] {
        let mut diffs = Vec::new();
        for &gain in &[0.0, 0.25, 0.5] {
            let p = problem(
                n,
                1,
                1,
                10,
                Form::Discrete,
                Bulk::Random(gain),
                (0.5, 1.0),
                3,
            );
            let rows = compare(&p, &times, &o);
            let dl = rows.iter().map(|r| (r.1 - r.3).abs()).fold(0.0, f64::max);
            let l: Vec<String> = rows
                .iter()
                .map(|r| format!("{:.4}/{:.4}", r.1, r.3))
                .collect();
            eprintln!(
                "N {n}, g {gain}: max loss diff {dl:.3e}; loss with/without bulk {}",
                l.join(" ")
            );
            diffs.push(dl);
        }
        assert!(diffs[0] < 1e-9, "N {n}: no bulk, exact: {:.2e}", diffs[0]);
        assert!(
            diffs[1] > 0.05 && diffs[2] > diffs[1],
            "N {n}: grows with g: {diffs:?}"
        );
        by_n.push(diffs[2]);
    }
    let ratio = by_n[1] / by_n[0];
    eprintln!("g = 0.5: loss difference N = 800 over N = 200: {ratio:.3} (1/sqrt N law: 0.5)");
    assert!(ratio > 0.75, "ratio {ratio:.3}");
}

/// LK-6, the part of a random bulk that is `O(1/sqrt N)`: the static one, at the init, for
/// vectors aligned with one random unit direction `r` (independent of `chi`):
/// `M = N = sqrt(lambda N) r`, `U = b r`, `C = c r^T`. To first order in g the bulk changes the
/// lag maps by `delta a_k = c b g k lambda^(k-1) r^T chi r`, and `r^T chi r ~ N(0, 1/N)` exactly,
/// so the loss changes by `delta L = g c b S z / sqrt N`, `S = sum_k w_k e_k k lambda^(k-1)`,
/// `z ~ N(0, 1)`. Over 24 bulk draws at N = 200 and 800 (g = 0.1, T = 10) the RMS of
/// `delta L sqrt(N) / (g c b |S|)` is 1 up to sampling error (relative sd `1/sqrt(48)` = 0.14)
/// and the `O(g)` second-order words: asserted in [0.6, 1.5]. The dynamics is not closed at
/// this order (`lk6_random_bulk_is_an_order_one_correction`).
#[test]
fn lk6_initial_bulk_correction_is_order_one_over_sqrt_n() {
    let (lambda, b, c, gain, steps): (f64, f64, f64, f64, usize) = (0.3, 0.5, 0.5, 0.1, 10);
    let t = steps as f64;
    let s: f64 = (0..steps)
        .map(|k| {
            let w = (t - k as f64) / t;
            let e = c * b * lambda.powi(k as i32) - GAMMA.powi(k as i32);
            w * e * k as f64 * lambda.powi(k as i32 - 1)
        })
        .sum();
    for &n in &[200usize, 800] {
        let mut rms = 0.0;
        let draws = 24;
        for draw in 0..draws {
            let p = problem(
                n,
                1,
                1,
                steps,
                Form::Discrete,
                Bulk::Random(gain),
                (0.5, 1.0),
                100 + draw,
            );
            let p = aligned(p, (lambda, b, c), 1000 * n as u64 + draw);
            let mut ws = p.model.workspace(&p.data);
            let with_bulk = p.model.loss(&p.theta0, &p.data, &mut ws).unwrap();
            let v = vectors(&p.model, &p.theta0);
            let free = p.reduced.loss_of(&v.t_matmul(&v));
            let z = (with_bulk - free) * (n as f64).sqrt() / (gain * c * b * s.abs());
            rms += z * z / draws as f64;
        }
        let rms = rms.sqrt();
        eprintln!("N {n}: RMS of delta L sqrt(N) / (g c b |S|) = {rms:.3} (predicted 1)");
        assert!((0.6..=1.5).contains(&rms), "N {n}: {rms:.3}");
    }
}
