//! GRU runs end to end through the one pipeline (`model.kind = "gru"`, theory/gru.md): the
//! shipped `gru_flip_flop` example trained from the command line has the flip-flop skeleton
//! (8 stable fixed points whose readouts are the corners of the output cube, GRU-5), GD with
//! BPTT approaches the GRU's gradient flow at first order in lr (C-6, the `gradient_flow`
//! source), and every optimizer trains.
mod common;

use common::slope;
use learndyn::experiment::{self, examples, Observable, RunOutput, Source};
use learndyn::npy;
use learndyn::task::sequences::flip_flop;
use learndyn::train::TrainStatus;
use std::path::PathBuf;
use std::process::Command;

/// Runs the shipped `gru_flip_flop` example without its `train.batch_size` (so that `gd`, which
/// is full batch, may be chosen) and with `overrides`.
fn run_flip_flop(overrides: &[&str]) -> RunOutput {
    let ex = examples::find("gru_flip_flop").expect("example");
    let text = ex.text.replace("batch_size = 64\n", "");
    assert_ne!(text, ex.text, "the example sets train.batch_size");
    let o: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let loaded = experiment::load_builtin("gru_flip_flop", &text, &o).expect("config");
    experiment::run(&loaded, &mut |_| {}).expect("run")
}

/// The last value of the loss recorded by `source` (seed 0 for simulations), with its `t`.
fn last_loss(out: &RunOutput, source: Source) -> (f64, f64) {
    out.records
        .iter()
        .filter(|r| {
            r.source == source && r.observable == Observable::Loss && r.seed.is_none_or(|s| s == 0)
        })
        .map(|r| (r.t, r.value))
        .next_back()
        .expect("loss records")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("learndyn-gru-runs-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// The shipped `gru_flip_flop` example, run as a user runs it (`learndyn run <config>`): the
/// trained GRU holds the 3 bits (final loss < 1e-3) and its stable fixed points under zero
/// input are 8, one per corner of the output cube (GRU-5, Sussillo & Barak 2013).
///
/// The readout tolerance follows from the final loss: while the targets hold corner `c` the
/// network sits at its attractor `h*_c`, so a readout error `delta_c = ||C h*_c + d - c||`
/// costs at least `f_c delta_c^2 / 2` of the loss `L = 1/(2BT) sum ||yhat - y||^2`, where `f_c`
/// is the fraction of (sequence, step) targets equal to `c`. Hence `delta_c <= sqrt(2 L / f_c)`.
/// Measured (one core): final loss 3.7e-5, index histogram (8, 12, 6, 1), about 8 s.
#[test]
fn shipped_gru_flip_flop_has_one_stable_fixed_point_per_corner() {
    let out = tmp("flip-flop");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let status = Command::new(env!("CARGO_BIN_EXE_learndyn"))
        .arg("run")
        .arg(root.join("configs/gru_flip_flop.toml"))
        .arg("--out")
        .arg(&out)
        .output()
        .expect("learndyn runs");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let final_loss = summary["runs"][0]["final_loss"].as_f64().unwrap();
    assert!(final_loss < 1e-3, "final loss {final_loss}");

    let c = npy::read_matrix(&out.join("weights/seed0_c.npy")).unwrap();
    let d = npy::read_matrix(&out.join("weights/seed0_d.npy")).unwrap();
    let x = npy::read_matrix(&out.join("fixed_points/seed0.npy")).unwrap();
    let fp: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("fixed_points/seed0.json")).unwrap(),
    )
    .unwrap();
    let points = fp["points"].as_array().unwrap();
    let (n_out, n) = (c.nrows(), c.ncols());
    assert_eq!(
        (n_out, d.nrows() * d.ncols(), x.ncols(), x.nrows()),
        (3, 3, n, points.len())
    );
    eprintln!(
        "GRU flip-flop: final loss {final_loss:.3e}, index histogram {}",
        fp["index_histogram"]
    );
    // f_c: the corner occupancy of the training targets (the example's task: 3 bits, T = 50,
    // B = 256, pulse probability 0.1, task.seed 0).
    let data = flip_flop(3, 50, 256, 0.1, 0).unwrap();
    let mut occupancy = std::collections::BTreeMap::new();
    for col in 0..data.y.ncols() {
        let corner: Vec<bool> = (0..3).map(|i| data.y.get(i, col) > 0.0).collect();
        *occupancy.entry(corner).or_insert(0.0) += 1.0 / data.y.ncols() as f64;
    }
    assert_eq!(occupancy.len(), 8);
    let mut corners = std::collections::BTreeSet::new();
    for p in (0..x.nrows()).filter(|&p| points[p]["stable"].as_bool().unwrap()) {
        let y: Vec<f64> = (0..n_out)
            .map(|i| d.as_slice()[i] + (0..n).map(|j| c.get(i, j) * x.get(p, j)).sum::<f64>())
            .collect();
        let corner: Vec<bool> = y.iter().map(|v| *v > 0.0).collect();
        let delta = y
            .iter()
            .map(|v| (v.abs() - 1.0).powi(2))
            .sum::<f64>()
            .sqrt();
        let tol = (2.0 * final_loss / occupancy[&corner]).sqrt();
        eprintln!("stable point {p}: corner {corner:?}, readout error {delta:.2e} <= {tol:.2e}");
        assert!(
            delta <= tol,
            "stable point {p}: readout {y:?} is {delta:.3e} from its corner, more than sqrt(2 L / f_c) = {tol:.3e}"
        );
        assert!(corners.insert(corner));
    }
    assert_eq!(corners.len(), 8, "every corner once: {corners:?}");
    let _ = std::fs::remove_dir_all(&out);
}

/// GD with BPTT approaches the GRU's gradient flow (the `gradient_flow` source, the same loss
/// integrated at rtol 1e-10) at first order in lr (C-6): at a fixed flow time t = 1 the loss
/// error halves with lr (fitted order within 0.15 of 1 over lr = 0.04, 0.02, 0.01).
#[test]
fn gru_gd_approaches_the_gradient_flow_at_order_one() {
    let lrs: [f64; 3] = [0.04, 0.02, 0.01];
    let mut errs = Vec::new();
    for lr in lrs {
        let steps = (1.0 / lr).round() as u64;
        let out = run_flip_flop(&[
            "model.hidden=6",
            "sequence.steps=8",
            "sequence.sequences=16",
            "train.optimizer=\"gd\"",
            // No clipping: the flow is the unclipped gradient's.
            "train.clip=1e300",
            &format!("train.lr={lr}"),
            &format!("train.steps={steps}"),
            "output.records=2",
            "theory.sources=[\"gradient_flow\"]",
            "analysis.fixed_points=false",
            "integrate.rtol=1e-10",
            "integrate.atol=1e-12",
        ]);
        let (t_gf, flow) = last_loss(&out, Source::GradientFlow);
        let (t_gd, gd) = last_loss(&out, Source::Gd);
        assert!((t_gf - 1.0).abs() < 1e-12 && (t_gd - 1.0).abs() < 1e-12);
        errs.push((gd - flow).abs());
    }
    let p = slope(&lrs, &errs);
    eprintln!("GRU GD vs flow, loss at t = 1: errors {errs:?}, order {p:.3}");
    assert!((p - 1.0).abs() < 0.15, "order {p:.3} from errors {errs:?}");
}

/// Every optimizer trains a GRU through the pipeline: the run completes and
/// the last recorded loss is below the first.
#[test]
fn every_optimizer_lowers_the_gru_loss() {
    for (opt, lr) in [("gd", 0.5), ("sgd", 0.5), ("adam", 0.01)] {
        let mut o = vec![
            "model.hidden=8".to_string(),
            "sequence.steps=20".into(),
            "sequence.sequences=32".into(),
            format!("train.optimizer=\"{opt}\""),
            format!("train.lr={lr}"),
            "train.steps=200".into(),
            "output.records=5".into(),
            "analysis.fixed_points=false".into(),
        ];
        if opt != "gd" {
            o.push("train.batch_size=16".into());
        }
        let out = run_flip_flop(&o.iter().map(String::as_str).collect::<Vec<_>>());
        let run = &out.summary.runs[0];
        assert_eq!(run.status, TrainStatus::Completed, "{opt}");
        let loss: Vec<f64> = out
            .records
            .iter()
            .filter(|r| r.observable == Observable::Loss)
            .map(|r| r.value)
            .collect();
        let (first, last) = (loss[0], *loss.last().unwrap());
        eprintln!("{opt}: loss {first:.4} -> {last:.4}");
        assert!(last < first, "{opt}: loss {first} -> {last}");
        assert_eq!(
            run.final_loss, last,
            "{opt}: final_loss is the last recorded loss"
        );
    }
}
