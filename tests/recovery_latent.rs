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

fn cells(k: usize, n_in: usize) -> [Cell; 3] {
    [
        Cell::Rnn { k, n_in },
        Cell::Linear { k, n_in },
        Cell::Gru { k, n_in },
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
        Cell::Rnn { .. } | Cell::Linear { .. } => {
            let wname = if matches!(cell, Cell::Rnn { .. }) {
                "w"
            } else {
                "a"
            };
            let (w, u, b) = (get(wname), get("u"), get("b"));
            (0..k)
                .map(|r| {
                    let a = affine(&w, h, r) + affine(&u, x, r) + b.get(r, 0);
                    if matches!(cell, Cell::Rnn { .. }) {
                        a.tanh()
                    } else {
                        a
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
                    for q in 0..n {
                        let eta = dd.get(q, 0) + (0..k).map(|j| c.get(q, j) * h[j]).sum::<f64>();
                        total += match readout {
                            ReadoutKind::Gaussian => 0.5 * (eta - y[q]).powi(2),
                            ReadoutKind::Poisson => eta.exp() - y[q] * eta,
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
