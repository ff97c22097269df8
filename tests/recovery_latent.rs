//! Latent fitters (theory/recovery.md RF-3 .. RF-6; issue 12's checks "gradients of every
//! training procedure against finite differences", "teacher forcing at alpha = 1 and free
//! running at alpha = 0 are the two limits of generalized teacher forcing", and "each fitter
//! recovers a known small system in its easy regime").

use learndyn::model::Model;
use learndyn::random;
use learndyn::recovery::latent::{Cell, Initial, LatentModel, Procedure, ReadoutKind, SeqData};
use rand::RngExt;

/// Random time-major data: `n` neurons, `n_in` inputs, `t` bins, `b` trials, `kf` forced rows,
/// encoder features over 2 bins; a few missing entries (and so a few unforced bins).
fn data(n: usize, n_in: usize, t: usize, b: usize, kf: usize, counts: bool) -> SeqData {
    let mut rng = random::rng(7, 0);
    let cols = t * b;
    let mut y: Vec<f64> = (0..n * cols)
        .map(|_| {
            if counts {
                f64::from(rng.random_range(0u32..4))
            } else {
                rng.random_range(-1.0..1.0)
            }
        })
        .collect();
    let mut mask = vec![1.0; n * cols];
    let mut forced = vec![1.0; cols];
    for c in [1usize, 4, cols - 2] {
        mask[c * n + 1] = 0.0;
        y[c * n + 1] = 0.0;
        forced[c] = 0.0;
    }
    let nf = 2 * n;
    SeqData {
        bins: t,
        trials: b,
        y,
        mask,
        x: (0..n_in * cols)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect(),
        z: (0..kf * cols)
            .map(|_| rng.random_range(-0.8..0.8))
            .collect(),
        forced,
        feat: (0..nf * b).map(|_| rng.random_range(-1.0..1.0)).collect(),
        n,
        n_in,
        kf,
        nf,
    }
}

fn theta_for(m: &LatentModel, seed: u64) -> Vec<f64> {
    let mut rng = random::rng(seed, 0);
    (0..m.n_params())
        .map(|_| 0.6 * rng.random_range(-1.0..1.0))
        .collect()
}

fn cells(k: usize, n_in: usize) -> [Cell; 5] {
    [
        Cell::Rnn { k, n_in },
        Cell::Linear { k, n_in },
        Cell::Gru { k, n_in },
        Cell::Rate {
            k,
            n_in,
            alpha: 0.3,
        },
        Cell::LowRank { k, n_in, rank: 2 },
    ]
}

fn procedures() -> [Procedure; 4] {
    [
        Procedure::FreeRunning,
        Procedure::TeacherForcing,
        Procedure::Gtf { alpha: 0.4 },
        Procedure::MultipleShooting {
            segment: 2,
            penalty: 0.7,
        },
    ]
}

/// Central differences of the (batch) loss against the analytic gradient, on learnable
/// entries; frozen entries must get exactly 0. Step `h = 1e-5`: the truncation error is
/// `h^2/6 |L'''| ~ 1e-11` and the rounding error `eps |L| / h ~ 1e-11` for these O(1) losses,
/// so `1e-7 (1 + |g|)` leaves a factor > 1000 and still catches any missing term (those are
/// O(1e-2) and larger).
fn check_fd(m: &mut LatentModel, theta: &[f64], batch: Option<&[usize]>, label: &str) {
    let n = m.n_params();
    let mut g = vec![0.0; n];
    let mut scratch = vec![0.0; n];
    m.loss_and_grad(theta, batch, &mut g).unwrap();
    let blocks = m.blocks();
    let h = 1e-5;
    let mut worst = 0.0f64;
    for blk in &blocks {
        for i in blk.range() {
            if !blk.learnable {
                assert_eq!(g[i], 0.0, "{label}: frozen {} has gradient", blk.name);
                continue;
            }
            let mut tp = theta.to_vec();
            tp[i] += h;
            let lp = m.loss_and_grad(&tp, batch, &mut scratch).unwrap();
            tp[i] -= 2.0 * h;
            let lm = m.loss_and_grad(&tp, batch, &mut scratch).unwrap();
            let fd = (lp - lm) / (2.0 * h);
            let err = (fd - g[i]).abs() / (1.0 + g[i].abs());
            assert!(
                err < 1e-7,
                "{label}: block {} entry {}: analytic {} vs fd {fd}",
                blk.name,
                i - blk.offset,
                g[i]
            );
            worst = worst.max(err);
        }
    }
    assert!(g.iter().any(|v| v.abs() > 1e-6), "{label}: zero gradient");
}

/// RF-3 .. RF-6: every form x procedure x readout x initial state, full batch and a
/// reordered minibatch (the shooting states are indexed by the original trial).
#[test]
fn rf3_rf6_gradients_of_every_procedure_match_finite_differences() {
    let (n, n_in, t, b, k, kf) = (4, 2, 7, 3, 3, 2);
    let initials = [Initial::Encoder { bins: 2 }, Initial::Shared, Initial::Zero];
    let mut case = 0u64;
    for cell in cells(k, n_in) {
        for proc in procedures() {
            for readout in [ReadoutKind::Gaussian, ReadoutKind::Poisson] {
                let initial = initials[case as usize % 3];
                case += 1;
                let counts = readout == ReadoutKind::Poisson;
                let mut m = LatentModel::new(
                    cell,
                    readout,
                    initial,
                    proc,
                    data(n, n_in, t, b, kf, counts),
                    true,
                )
                .unwrap();
                let theta = theta_for(&m, case);
                let label = format!("{cell:?} {proc:?} {readout:?} {initial:?}");
                check_fd(&mut m, &theta, None, &label);
                check_fd(&mut m, &theta, Some(&[2, 0]), &format!("{label} batch"));
            }
        }
    }
}

/// RF-3 .. RF-6 on a batch that runs as several parallel chunks (130 trials: 2 chunks of
/// 65): the chunked loss and gradient match finite differences for every form and procedure,
/// including the shooting states of both chunks.
#[test]
fn rf3_rf6_chunked_batches_match_finite_differences() {
    let (n, n_in, t, b, k, kf) = (3, 1, 4, 130, 2, 1);
    for (case, cell) in cells(k, n_in).into_iter().enumerate() {
        for proc in procedures() {
            let mut m = LatentModel::new(
                cell,
                ReadoutKind::Poisson,
                Initial::Encoder { bins: 2 },
                proc,
                data(n, n_in, t, b, kf, true),
                true,
            )
            .unwrap();
            let theta = theta_for(&m, case as u64 + 40);
            check_fd(&mut m, &theta, None, &format!("chunked {cell:?} {proc:?}"));
        }
    }
}

/// The chunked loss is the loss of the whole batch: with the readout's normalizer (observed
/// entries) pooled over chunks, it equals the count-weighted sum of the chunks' own losses
/// (each run as a one-chunk batch), to rounding (`1e-13` relative: a few hundred terms of
/// size O(1) summed in another order). And the numbers do not depend on the thread count:
/// a 1-thread and a 2-thread pool give the same bits.
#[test]
fn rf3_chunked_batches_equal_the_sum_over_chunks_on_any_thread_count() {
    let (n, n_in, t, b, k, kf) = (3, 2, 6, 200, 4, 0);
    let d = data(n, n_in, t, b, kf, true);
    let mk = || {
        LatentModel::new(
            Cell::Gru { k, n_in },
            ReadoutKind::Poisson,
            Initial::Encoder { bins: 2 },
            Procedure::FreeRunning,
            d.clone(),
            false,
        )
        .unwrap()
    };
    let mut m = mk();
    let theta = theta_for(&m, 5);
    let p = theta.len();
    let run_in = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let mut g = vec![0.0; p];
        let mut mm = mk();
        let l = pool.install(|| mm.loss_and_grad(&theta, None, &mut g).unwrap());
        (l, g)
    };
    let (l1, g1) = run_in(1);
    let (l2, g2) = run_in(2);
    assert_eq!(
        l1.to_bits(),
        l2.to_bits(),
        "loss depends on the thread count"
    );
    assert!(
        g1.iter().zip(&g2).all(|(a, c)| a.to_bits() == c.to_bits()),
        "gradient depends on the thread count"
    );
    // 200 trials run as 3 chunks: [0, 66), [66, 133), [133, 200).
    let count = |idx: &[usize]| -> f64 {
        idx.iter()
            .map(|&tr| {
                (0..t)
                    .map(|s| {
                        let c = s * b + tr;
                        d.mask[c * n..(c + 1) * n].iter().sum::<f64>()
                    })
                    .sum::<f64>()
            })
            .sum()
    };
    let all: Vec<usize> = (0..b).collect();
    let total = count(&all);
    let (mut l_ref, mut g_ref) = (0.0, vec![0.0; p]);
    let mut g = vec![0.0; p];
    for (lo, hi) in [(0, 66), (66, 133), (133, 200)] {
        let idx: Vec<usize> = (lo..hi).collect();
        let w = count(&idx) / total;
        l_ref += w * m.loss_and_grad(&theta, Some(&idx), &mut g).unwrap();
        g_ref.iter_mut().zip(&g).for_each(|(a, v)| *a += w * v);
    }
    assert!((l1 - l_ref).abs() <= 1e-13 * l_ref.abs(), "{l1} vs {l_ref}");
    let scale = g_ref.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    for (i, (a, r)) in g1.iter().zip(&g_ref).enumerate() {
        assert!((a - r).abs() <= 1e-13 * scale, "entry {i}: {a} vs {r}");
    }
    // The states of a chunked pass come back in the batch's layout (column s B + b).
    m.loss(&theta).unwrap();
    let h = m.states();
    assert_eq!(h.len(), k * t * b);
    let mut one = mk();
    let idx: Vec<usize> = (66..133).collect();
    one.loss_and_grad(&theta, Some(&idx), &mut g).unwrap();
    let hp = one.states();
    for s in 0..t {
        for (j, &tr) in idx.iter().enumerate() {
            let (a, c) = ((s * b + tr) * k, (s * idx.len() + j) * k);
            assert_eq!(&h[a..a + k], &hp[c..c + k], "bin {s} trial {tr}");
        }
    }
}

/// RF-4: GTF at alpha = 0 is free running (same loss, same gradient on every block GTF
/// trains; the readout is frozen under forcing).
#[test]
fn rf4_gtf_at_alpha_zero_is_free_running() {
    let (n, n_in, t, b, k, kf) = (4, 2, 9, 3, 3, 3);
    for cell in cells(k, n_in) {
        let mk = |p| {
            LatentModel::new(
                cell,
                ReadoutKind::Gaussian,
                Initial::Encoder { bins: 2 },
                p,
                data(n, n_in, t, b, kf, false),
                true,
            )
            .unwrap()
        };
        let (mut free, mut gtf) = (
            mk(Procedure::FreeRunning),
            mk(Procedure::Gtf { alpha: 0.0 }),
        );
        let theta = theta_for(&free, 3);
        let (mut g1, mut g2) = (vec![0.0; theta.len()], vec![0.0; theta.len()]);
        let l1 = free.loss_and_grad(&theta, None, &mut g1).unwrap();
        let l2 = gtf.loss_and_grad(&theta, None, &mut g2).unwrap();
        assert!(
            (l1 - l2).abs() <= 1e-15 * l1.abs(),
            "{cell:?}: {l1} vs {l2}"
        );
        for blk in gtf.blocks() {
            for i in blk.range() {
                if blk.learnable {
                    assert!(
                        (g1[i] - g2[i]).abs() <= 1e-14 * (1.0 + g1[i].abs()),
                        "{cell:?} {}: {} vs {}",
                        blk.name,
                        g1[i],
                        g2[i]
                    );
                }
            }
        }
    }
}

/// The one-step map of `cell` from `h` under input `x`, coded from the equations of
/// theory/recovery.md RF-3 independently of the library's batched kernels.
fn step(cell: Cell, m: &LatentModel, theta: &[f64], h: &[f64], x: &[f64]) -> Vec<f64> {
    let l = m.layout();
    let get = |name: &str| l.get(theta, name).unwrap();
    let k = cell.k();
    let affine = |w: &learndyn::linalg::Matrix, v: &[f64], r: usize| -> f64 {
        (0..v.len()).map(|j| w.get(r, j) * v[j]).sum::<f64>()
    };
    match cell {
        Cell::Rnn { .. } | Cell::Linear { .. } | Cell::Rate { .. } | Cell::LowRank { .. } => {
            let w = match cell {
                Cell::Linear { .. } => get("a"),
                Cell::LowRank { .. } => get("m").matmul_t(&get("n")).scale(1.0 / k as f64),
                _ => get("w"),
            };
            let (u, b) = (get("u"), get("b"));
            let src: Vec<f64> = match cell {
                Cell::Rate { .. } => h.iter().map(|v| v.tanh()).collect(),
                _ => h.to_vec(),
            };
            (0..k)
                .map(|r| {
                    let a = affine(&w, &src, r) + affine(&u, x, r) + b.get(r, 0);
                    match cell {
                        Cell::Rnn { .. } | Cell::LowRank { .. } => a.tanh(),
                        Cell::Rate { alpha, .. } => (1.0 - alpha) * h[r] + alpha * a,
                        _ => a,
                    }
                })
                .collect()
        }
        Cell::Gru { .. } => {
            let (wh, wi, bi, bh) = (get("wh"), get("wi"), get("bi"), get("bh"));
            let sig = |a: f64| 1.0 / (1.0 + (-a).exp());
            let gate = |r: usize| affine(&wi, x, r) + bi.get(r, 0);
            let rec = |r: usize| affine(&wh, h, r) + bh.get(r, 0);
            (0..k)
                .map(|j| {
                    let rr = sig(gate(j) + rec(j));
                    let zz = sig(gate(k + j) + rec(k + j));
                    let nn = (gate(2 * k + j) + rr * rec(2 * k + j)).tanh();
                    (1.0 - zz) * nn + zz * h[j]
                })
                .collect()
        }
    }
}

/// RF-4: GTF at alpha = 1 is one-step teacher forcing: with every bin observed and every
/// latent row forced (`kf = k`), the loss is the readout's on `h_0` plus, for each later bin,
/// on the one-step prediction from the previous bin's data-inferred state, `F(z_s, x_s)`.
#[test]
fn rf4_gtf_at_alpha_one_is_one_step_teacher_forcing() {
    let (n, n_in, t, b, k) = (4, 2, 8, 3, 3);
    for cell in cells(k, n_in) {
        for readout in [ReadoutKind::Gaussian, ReadoutKind::Poisson] {
            let mut d = data(n, n_in, t, b, k, readout == ReadoutKind::Poisson);
            d.mask.iter_mut().for_each(|v| *v = 1.0);
            d.forced.iter_mut().for_each(|v| *v = 1.0);
            let mut tf = LatentModel::new(
                cell,
                readout,
                Initial::Shared,
                Procedure::Gtf { alpha: 1.0 },
                d.clone(),
                true,
            )
            .unwrap();
            let theta = theta_for(&tf, 11);
            let got = tf.loss(&theta).unwrap();
            let l = tf.layout();
            let (c, dd, h0) = (
                l.get(&theta, "c").unwrap(),
                l.get(&theta, "d").unwrap(),
                l.get(&theta, "h0").unwrap(),
            );
            let col = |v: &[f64], rows: usize, s: usize, i: usize| -> Vec<f64> {
                v[(s * b + i) * rows..(s * b + i + 1) * rows].to_vec()
            };
            let mut total = 0.0;
            for i in 0..b {
                for s in 0..t {
                    let h = if s == 0 {
                        (0..k).map(|j| h0.get(j, 0)).collect()
                    } else {
                        step(
                            cell,
                            &tf,
                            &theta,
                            &col(&d.z, k, s - 1, i),
                            &col(&d.x, n_in, s - 1, i),
                        )
                    };
                    let y = col(&d.y, n, s, i);
                    for (q, yq) in y.iter().enumerate() {
                        let eta = dd.get(q, 0) + (0..k).map(|j| c.get(q, j) * h[j]).sum::<f64>();
                        total += match readout {
                            ReadoutKind::Gaussian => 0.5 * (eta - yq).powi(2),
                            ReadoutKind::Poisson => eta.exp() - yq * eta,
                        };
                    }
                }
            }
            let want = total / (n * t * b) as f64;
            assert!(
                (got - want).abs() <= 1e-13 * want.abs().max(1.0),
                "{cell:?} {readout:?}: {got} vs {want}"
            );
            // And TeacherForcing is the same procedure.
            let mut tf2 = LatentModel::new(
                cell,
                readout,
                Initial::Shared,
                Procedure::TeacherForcing,
                d,
                true,
            )
            .unwrap();
            assert_eq!(tf2.loss(&theta).unwrap(), got);
        }
    }
}

mod easy {
    //! Each latent fitter in its easy regime (full observation, low noise), through the
    //! dataset pipeline and the scorer.

    use learndyn::linalg::{self, Matrix};
    use learndyn::npy;
    use learndyn::recovery::dataset::{self, Dataset};
    use learndyn::recovery::fit::{self, FitMethod};
    use learndyn::recovery::inspect;
    use learndyn::recovery::latent::{self, LatentForm, LatentSpec, Procedure};
    use learndyn::recovery::network::Network;
    use learndyn::recovery::score::{self, Fitted};
    use learndyn::recovery::spec::Spec;
    use std::path::PathBuf;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("learndyn-latent-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn dataset(text: &str) -> Dataset {
        dataset::generate(&Spec::parse(text, "<test>").unwrap()).unwrap()
    }

    fn fit_latent(d: &Dataset, spec: &LatentSpec, name: &str) -> PathBuf {
        let dir = tmp(name);
        let r = latent::fit(d, spec, &dir, &mut |_| {}).unwrap();
        eprintln!(
            "{name}: {} best step {} R^2 {:.4} / {:?}",
            r.status, r.best_step, r.r2_train, r.r2_eval
        );
        dir
    }

    fn m(dir: &std::path::Path, name: &str) -> Matrix {
        npy::read_matrix(&dir.join(format!("{name}.npy"))).unwrap()
    }

    /// A fully observed 4-unit chain (no observation noise): the latent linear system
    /// trained by teacher forcing with `k = n` minimizes the one-step squared error, which
    /// with the readout frozen at the (invertible) principal axes is the least-squares
    /// problem of RF-1 in rotated and scaled coordinates. Its matrix mapped back to neuron
    /// space, `C A C^-1`, therefore equals RF-1's `A_hat` (itself within 4.5 standard errors
    /// of the true transition, `recovery_fit::observed_student_recovers_a_fully_observed_linear_system`).
    /// Tolerance 2e-3 entrywise: 10x below the sampling standard error of the entries
    /// (~0.02 at 20 x 400 transitions, falling like 1/sqrt(T)), so a wrong fit fails while
    /// Adam's residual optimization error (measured 2e-15: the problem is a well-conditioned
    /// quadratic) passes.
    #[test]
    fn rf3_teacher_forced_linear_rnn_recovers_the_linear_systems_matrix() {
        let d = dataset(
            "seed = 4\n[system]\nkind = \"linear\"\nteacher = \"chain\"\ndim = 4\n\
             [trials]\ncount = 20\nsteps = 400\ndt = 0.05\nprocess_noise = 1.0\nsubsteps = 5\n\
             [observe]\nmixing = \"subset\"\nneurons = 4\nnoise = \"none\"\n",
        );
        let ls = tmp("chain-ls");
        fit::fit(&d, FitMethod::Observed, None, 0.0, &ls).unwrap();
        let a_ls = m(&ls, "a");
        let spec = LatentSpec {
            procedure: Procedure::TeacherForcing,
            steps: 3000,
            lr: 2e-2,
            validate_every: 500,
            ..LatentSpec::new(LatentForm::Linear, 4)
        };
        let dir = fit_latent(&d, &spec, "chain-tf");
        let (a, c) = (m(&dir, "a"), m(&dir, "c"));
        let ci = linalg::solve(&c, &Matrix::identity(4)).unwrap();
        let a_y = c.matmul(&a).matmul(&ci);
        let mut worst = 0.0f64;
        for i in 0..4 {
            for j in 0..4 {
                worst = worst.max((a_y.get(i, j) - a_ls.get(i, j)).abs());
            }
        }
        eprintln!("largest |C A C^-1 - A_LS| entry: {worst:.2e}");
        assert!(worst < 2e-3, "{worst}");
    }

    fn integrator() -> Dataset {
        dataset(
            "seed = 0\n[system]\nkind = \"integrator\"\ndim = 2\nleak = 0.0\ndecay = 1.0\n\
             coherences = [-0.2, -0.1, 0.1, 0.2]\ninput_noise = 0.1\nextent = 1.0\n\
             [trials]\ncount = 60\nsteps = 100\ndt = 0.1\nprocess_noise = 0.02\n\
             [observe]\nmixing = \"linear\"\nneurons = 20\nnoise = \"gaussian\"\nnoise_std = 0.05\n\
             [split]\ntrain = 0.7\nvalidation = 0.15\n",
        )
    }

    /// The line attractor's marginal eigenvalue: a free-running latent linear system fitted
    /// to the 2-d integrator (one direction integrates the input, eigenvalue 1 per bin; the
    /// other decays, e^{-0.1} = 0.905) has its top eigenvalue at 1 within 5e-3, a twentieth of
    /// the gap to the decaying mode (so a point attractor fails); the teacher-forced fit equals
    /// the least-squares LDS of RF-2 on the same principal axes to 1e-4 (the same one-step
    /// problem, see the previous test; their sampling error, ~1e-3, is common to both).
    #[test]
    fn rf3_linear_rnn_finds_the_line_attractors_marginal_eigenvalue() {
        let d = integrator();
        let top = |a: &Matrix| {
            linalg::eigenvalues(a)
                .unwrap()
                .into_iter()
                .map(|z| z.re)
                .fold(f64::NEG_INFINITY, f64::max)
        };
        let base = LatentSpec {
            steps: 1500,
            validate_every: 100,
            ..LatentSpec::new(LatentForm::Linear, 2)
        };
        let free = top(&m(&fit_latent(&d, &base, "int-free"), "a"));
        let tf_spec = LatentSpec {
            procedure: Procedure::TeacherForcing,
            ..base
        };
        let tf = top(&m(&fit_latent(&d, &tf_spec, "int-tf"), "a"));
        let lds = tmp("int-lds");
        fit::fit(&d, FitMethod::Lds, Some(2), 0.0, &lds).unwrap();
        let ls = top(&m(&lds, "a"));
        eprintln!("top eigenvalue: free {free:.6}, teacher forced {tf:.6}, least squares {ls:.6}");
        assert!(
            (free - 1.0).abs() < 5e-3,
            "free-running top eigenvalue {free}"
        );
        assert!(
            (tf - ls).abs() < 1e-4,
            "teacher forced {tf} vs least squares {ls}"
        );
    }

    /// The 3-bit flip-flop seen through 20 neurons with small Gaussian noise: a free-running
    /// latent GRU (k = 6, encoder initial states, the defaults' clipping and schedule) finds
    /// the 8 stable fixed points (F1 = 1), and the latents it exports are those the network
    /// folder gives when run from its initial states (learndyn's GRU of the folder against the
    /// fitter's cell: the bias merge of RF-3) and that `learndyn simulate` gives.
    #[test]
    fn rf3_latent_gru_recovers_the_flip_flops_eight_attractors() {
        let d = dataset(
            "seed = 0\n[system]\nkind = \"flip_flop\"\nbits = 3\npulse_prob = 0.02\namplitude = 1.0\n\
             pulse_steps = 5\n[trials]\ncount = 60\nsteps = 100\ndt = 0.1\nprocess_noise = 0.05\n\
             substeps = 10\n[observe]\nmixing = \"linear\"\nneurons = 20\nnoise = \"gaussian\"\n\
             noise_std = 0.05\n[split]\ntrain = 0.7\nvalidation = 0.15\n",
        );
        let spec = LatentSpec {
            steps: 1500,
            validate_every: 100,
            ..LatentSpec::new(LatentForm::Gru, 6)
        };
        let dir = fit_latent(&d, &spec, "ff-gru");
        // Exported latents = the folder's network run from initial_states.npy.
        let net = Network::load(&dir).unwrap();
        let lat = npy::read_array3(&dir.join("latents.npy")).unwrap();
        let h0 = m(&dir, "initial_states");
        let [_, tm, k] = lat.shape;
        let mut worst = 0.0f64;
        for t in [0usize, 7, 59] {
            let x = Matrix::from_fn(tm, d.meta.inputs, |s, j| d.inputs.get(t, s, j));
            let h0t: Vec<f64> = (0..k).map(|j| h0.get(t, j)).collect();
            let run = net.run(&h0t, &x, d.meta.dt, d.meta.dt).unwrap();
            for s in 0..tm {
                for j in 0..k {
                    worst = worst.max((run.get(s, j) - lat.get(t, s, j)).abs());
                }
            }
        }
        assert!(
            worst < 1e-12,
            "exported latents differ from the network run by {worst}"
        );
        let s = score::score(&d, &Fitted::read(&dir, &d).unwrap()).unwrap();
        eprintln!("{}", s.summary());
        assert_eq!(
            s.metrics["M10"]["value"].as_f64(),
            Some(1.0),
            "{}",
            s.metrics["M10"]
        );
        // Without the truth, `recovery inspect` finds the 8 stable points too, and its
        // held-out R^2 (the network folder run by the scorer's reader) equals the fitter's own
        // (its latent model's free-running means) to rounding: two implementations.
        let insp = inspect::inspect(&d, &dir, None).unwrap();
        eprintln!("{}", insp.summary());
        assert_eq!(insp.counts["stable"], 8, "{:?}", insp.counts);
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("fit.json")).unwrap()).unwrap();
        let (a, b) = (
            insp.r2_heldout.unwrap(),
            report["r2_eval"].as_f64().unwrap(),
        );
        assert!((a - b).abs() < 1e-9, "inspect R^2 {a} vs fit R^2 {b}");
        // `learndyn simulate` from the exported initial states under the dataset's inputs
        // reproduces the exported latents.
        let data_dir = tmp("ff-data");
        d.write(&data_dir).unwrap();
        let sim = dir.join("sim");
        let st = std::process::Command::new(env!("CARGO_BIN_EXE_learndyn"))
            .arg("simulate")
            .arg(&dir)
            .arg("--initial")
            .arg(dir.join("initial_states.npy"))
            .arg("--inputs")
            .arg(data_dir.join("inputs.npy"))
            .arg("--out")
            .arg(&sim)
            .status()
            .unwrap();
        assert!(st.success());
        let traj = npy::read_array3(&sim.join("trajectories.npy")).unwrap();
        assert_eq!(traj.shape, lat.shape);
        let worst = traj
            .data
            .iter()
            .zip(&lat.data)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(
            worst < 1e-12,
            "simulate differs from the exported latents by {worst}"
        );
    }
}

/// Issue 12's new-user case: a bistable system (Duffing, 2 stable points and a saddle) seen
/// through 20 noisy neurons. The default latent GRU fit (encoder initial states, clipping, the
/// cosine schedule; no invented input pulse) finds both attractors and the saddle in the data's
/// domain; one shared initial state for every trial (the old trial-mean route) is warned about.
#[test]
fn rf3_default_gru_fit_finds_both_attractors_of_a_bistable_system() {
    use learndyn::recovery::{dataset, inspect, latent, spec::Spec};
    let d = dataset::generate(
        &Spec::parse(
            "seed = 0\n[system]\nkind = \"duffing\"\ndelta = 0.5\nalpha = 1.0\nbeta = 0.1\n\
             [trials]\ncount = 60\nsteps = 200\ndt = 0.05\n\
             [observe]\nmixing = \"linear\"\nneurons = 20\nnoise = \"gaussian\"\nnoise_std = 0.05\n\
             [split]\ntrain = 0.7\nvalidation = 0.15\n",
            "<test>",
        )
        .unwrap(),
    )
    .unwrap();
    let dir = std::env::temp_dir().join(format!("learndyn-latent-duffing-{}", std::process::id()));
    let spec = latent::LatentSpec {
        steps: 1000,
        validate_every: 250,
        ..latent::LatentSpec::new(latent::LatentForm::Gru, 4)
    };
    let r = latent::fit(&d, &spec, &dir, &mut |_| {}).unwrap();
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let insp = inspect::inspect(&d, &dir, None).unwrap();
    eprintln!("{}", insp.summary());
    assert_eq!(insp.counts["stable"], 2, "{:?}", insp.counts);
    assert_eq!(insp.counts["saddle"], 1, "{:?}", insp.counts);
    let shared = latent::LatentSpec {
        steps: 50,
        initial: latent::Initial::Shared,
        ..spec
    };
    let r = latent::fit(&d, &shared, &dir.join("shared"), &mut |_| {}).unwrap();
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("cannot tell trials apart")),
        "{:?}",
        r.warnings
    );
}
