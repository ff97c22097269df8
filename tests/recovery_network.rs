//! Teacher and fitted networks in the standard weights form (theory/recovery.md RS-11,
//! RM-11): a network folder is a ground-truth system whose attractors learndyn finds itself,
//! and a fitted model that learndyn runs, linearizes and searches for fixed points.

use learndyn::linalg::Matrix;
use learndyn::npy;
use learndyn::recovery::dataset::{self, Dataset};
use learndyn::recovery::score::{self, Fitted};
use learndyn::recovery::spec::Spec;
use std::path::{Path, PathBuf};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("learndyn-network-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A 2-unit discrete tanh RNN `h' = tanh(g h + u)`: for g = 2 every unit is bistable.
fn write_network(dir: &Path, gain: f64, readout: Option<&Matrix>) {
    std::fs::write(
        dir.join("network.json"),
        r#"{"form": "rnn", "activation": "tanh"}"#,
    )
    .unwrap();
    npy::write_matrix(&dir.join("w.npy"), &Matrix::identity(2).scale(gain)).unwrap();
    npy::write_matrix(&dir.join("u.npy"), &Matrix::identity(2)).unwrap();
    if let Some(c) = readout {
        npy::write_matrix(&dir.join("c.npy"), c).unwrap();
    }
}

fn dataset(teacher: &Path) -> Dataset {
    let text = format!(
        "seed = 2\n[system]\nkind = \"network\"\npath = {:?}\npulse_probability = 0.05\npulse_amplitude = 2.0\n\
         [trials]\ncount = 40\nsteps = 100\ndt = 1.0\n\
         [observe]\nmixing = \"linear\"\nneurons = 8\nnoise = \"gaussian\"\n[split]\nheld_out = 2\n",
        teacher.display().to_string()
    );
    dataset::generate(&Spec::parse(&text, "<test>").expect("spec")).expect("dataset")
}

fn value(r: &score::Report, id: &str) -> f64 {
    r.metrics[id]["value"].as_f64().unwrap_or(f64::NAN)
}

/// RS-11, RM-11: the bistable tanh teacher's 9 fixed points are found (h* = tanh(2 h*) =
/// 0.9575040240772687, multipliers 2 (1 - h*^2) and 2 at the origin, as rates ln(mu) / dt);
/// the same weights handed in as a model folder with the trials' initial states score
/// perfectly; a monostable network (gain 0.5) loses every stable point.
#[test]
fn a_network_folder_is_a_teacher_and_a_model() {
    let teacher = tmp("teacher");
    write_network(&teacher, 2.0, None);
    let d = dataset(&teacher);
    let t = &d.truth;
    let mut hist = [0usize; 3];
    for p in &t.fixed_points {
        hist[p.n_unstable] += 1;
    }
    assert_eq!(hist, [4, 4, 1], "{:?}", t.fixed_points);
    let h = 0.957_504_024_077_268_7_f64;
    assert!((h - (2.0 * h).tanh()).abs() < 1e-15);
    let stable_rate = (2.0 * (1.0 - h * h)).ln();
    for p in t.fixed_points.iter().filter(|p| p.stable) {
        assert!(p.x.iter().all(|v| (v.abs() - h).abs() < 1e-9), "{:?}", p.x);
        for [re, im] in &p.eigenvalues {
            assert!(
                (re - stable_rate).abs() < 1e-9 && im.abs() < 1e-12,
                "{re} {im}"
            );
        }
    }
    let origin = t.fixed_points.iter().find(|p| p.n_unstable == 2).unwrap();
    assert!((origin.eigenvalues[0][0] - 2f64.ln()).abs() < 1e-12);
    // Truth as a model: perfect.
    let r = score::score(&d, &Fitted::truth(&d)).unwrap();
    assert_eq!(value(&r, "M10"), 1.0, "{}", r.metrics["M10"]);
    assert_eq!(value(&r, "M9"), 0.0, "{}", r.metrics["M9"]);
    // The weights as a model folder: learndyn runs them from each trial's initial state
    // (deterministic trials: the latents are reproduced exactly), finds the fixed points
    // and runs the queries itself.
    let model = tmp("model");
    let c = Matrix::from_fn(d.meta.neurons, 2, |i, j| d.readout.matrix[i][j]);
    write_network(&model, 2.0, Some(&c));
    let [tr, _, k] = d.latents.shape;
    let h0 = Matrix::from_fn(tr, k, |i, j| d.latents.get(i, 0, j));
    npy::write_matrix(&model.join("initial_states.npy"), &h0).unwrap();
    let f = Fitted::read(&model, &d).unwrap();
    let err = f
        .latents
        .data
        .iter()
        .zip(&d.latents.data)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(err < 1e-12, "latents reproduced to {err}");
    let r = score::score(&d, &f).unwrap();
    for id in ["M4", "M5"] {
        assert!(
            (value(&r, id) - 1.0).abs() < 1e-9,
            "{id}: {}",
            r.metrics[id]
        );
    }
    assert_eq!(value(&r, "M10"), 1.0, "{}", r.metrics["M10"]);
    assert_eq!(value(&r, "M11"), 1.0, "{}", r.metrics["M11"]);
    assert!(value(&r, "M12") < 1e-6, "{}", r.metrics["M12"]);
    assert_eq!(value(&r, "M9"), 0.0, "{}", r.metrics["M9"]);
    assert_eq!(value(&r, "M17"), 0.0, "{}", r.metrics["M17"]);
    // Gain 0.5: one stable point at the origin, none of the four true attractors.
    let weak = tmp("weak");
    write_network(&weak, 0.5, None);
    npy::write_matrix(&weak.join("initial_states.npy"), &h0).unwrap();
    let r = score::score(&d, &Fitted::read(&weak, &d).unwrap()).unwrap();
    assert_eq!(
        r.metrics["M10"]["recall"].as_f64(),
        Some(0.0),
        "{}",
        r.metrics["M10"]
    );
    assert_eq!(r.metrics["M10"]["model_stable"].as_u64(), Some(1));
    // A folder without initial states or latents is an error that says what to add.
    let bare = tmp("bare");
    write_network(&bare, 2.0, None);
    let e = Fitted::read(&bare, &d).unwrap_err().to_string();
    assert!(e.contains("initial_states.npy"), "{e}");
}
