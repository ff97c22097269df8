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

/// A 2-unit discrete tanh RNN `h' = tanh(diag(g) h + u)`: for gains > 1 every unit is
/// bistable.
fn write_network(dir: &Path, gain: [f64; 2], readout: Option<&Matrix>) {
    write_coupled(dir, gain, 0.0, readout);
}

/// As [`write_network`] with symmetric coupling `c` between the units (no invariant axes).
fn write_coupled(dir: &Path, gain: [f64; 2], coupling: f64, readout: Option<&Matrix>) {
    std::fs::write(
        dir.join("network.json"),
        r#"{"form": "rnn", "activation": "tanh"}"#,
    )
    .unwrap();
    npy::write_matrix(
        &dir.join("w.npy"),
        &Matrix::from_fn(2, 2, |i, j| if i == j { gain[i] } else { coupling }),
    )
    .unwrap();
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

/// RS-11, RM-11, RM-13: the bistable tanh teacher's 9 fixed points are found (gains 2 and
/// 2.5: h* = tanh(g h*) = 0.9575040240772687 and 0.9856, multipliers g (1 - h*^2) and g at
/// the origin, as rates ln(mu) / dt); the same weights handed in as a model folder with the
/// trials' initial states score perfectly, with the same fixed-point graph; a monostable
/// network (gain 0.5) loses every stable point.
#[test]
fn a_network_folder_is_a_teacher_and_a_model() {
    let teacher = tmp("teacher");
    write_network(&teacher, [2.0, 2.5], None);
    let d = dataset(&teacher);
    let t = &d.truth;
    let mut hist = [0usize; 3];
    for p in &t.fixed_points {
        hist[p.n_unstable] += 1;
    }
    assert_eq!(hist, [4, 4, 1], "{:?}", t.fixed_points);
    // h* by bisection on tanh(g h) - h over (0.5, 1).
    let star = |g: f64| {
        let (mut lo, mut hi) = (0.5f64, 1.0f64);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if (g * mid).tanh() > mid {
                lo = mid
            } else {
                hi = mid
            }
        }
        lo
    };
    let h = [star(2.0), star(2.5)];
    assert!((h[0] - 0.957_504_024_077_268_7).abs() < 1e-15);
    let mut rates = [
        (2.0 * (1.0 - h[0] * h[0])).ln(),
        (2.5 * (1.0 - h[1] * h[1])).ln(),
    ];
    rates.sort_by(|a, b| b.total_cmp(a));
    for p in t.fixed_points.iter().filter(|p| p.stable) {
        for (j, v) in p.x.iter().enumerate() {
            assert!((v.abs() - h[j]).abs() < 1e-9, "{:?}", p.x);
        }
        for (k, [re, im]) in p.eigenvalues.iter().enumerate() {
            assert!(
                (re - rates[k]).abs() < 1e-9 && im.abs() < 1e-12,
                "{re} {im}"
            );
        }
    }
    let origin = t.fixed_points.iter().find(|p| p.n_unstable == 2).unwrap();
    assert!((origin.eigenvalues[0][0] - 2.5f64.ln()).abs() < 1e-12);
    assert!((origin.eigenvalues[1][0] - 2f64.ln()).abs() < 1e-12);
    // Truth as a model: perfect.
    let r = score::score(&d, &Fitted::truth(&d)).unwrap();
    assert_eq!(value(&r, "M10"), 1.0, "{}", r.metrics["M10"]);
    assert_eq!(value(&r, "M9"), 0.0, "{}", r.metrics["M9"]);
    // The weights as a model folder: learndyn runs them from each trial's initial state
    // (deterministic trials: the latents are reproduced exactly), finds the fixed points
    // and runs the queries itself.
    let model = tmp("model");
    let c = Matrix::from_fn(d.meta.neurons, 2, |i, j| d.readout.matrix[i][j]);
    write_network(&model, [2.0, 2.5], Some(&c));
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
    // RM-13: the same fixed-point graph. With coupling there are no invariant axes, so the
    // unstable manifolds end generically in the stable points: each saddle's two branches in
    // its two neighbouring wells (4 x 2 edges) and the origin's 2 x 2 branches in 4 of them.
    let coupled = tmp("coupled");
    write_coupled(&coupled, [2.0, 2.5], 0.2, None);
    let dc = dataset(&coupled);
    let model = tmp("coupled-model");
    write_coupled(&model, [2.0, 2.5], 0.2, None);
    let h0c = Matrix::from_fn(tr, k, |i, j| dc.latents.get(i, 0, j));
    npy::write_matrix(&model.join("initial_states.npy"), &h0c).unwrap();
    let r = score::score(&dc, &Fitted::read(&model, &dc).unwrap()).unwrap();
    let m11 = &r.metrics["M11"];
    assert_eq!(value(&r, "M11"), 1.0, "{m11}");
    assert_eq!(m11["graph_edit_distance"], 0, "{m11}");
    assert!(m11["true_graph_edges"].as_u64().unwrap() >= 8, "{m11}");
    // Gain 0.5: one stable point at the origin, none of the four true attractors.
    let weak = tmp("weak");
    write_network(&weak, [0.5, 0.5], None);
    npy::write_matrix(&weak.join("initial_states.npy"), &h0).unwrap();
    let r = score::score(&d, &Fitted::read(&weak, &d).unwrap()).unwrap();
    assert_eq!(
        r.metrics["M10"]["recall"].as_f64(),
        Some(0.0),
        "{}",
        r.metrics["M10"]
    );
    assert_eq!(r.metrics["M10"]["model_stable"].as_u64(), Some(1));
    // Graph: only the origin is matched (index 2 vs 0: relabelled), 8 true points are
    // missing with every true edge, the model has none: 1 + 8 + edges.
    let m11 = &r.metrics["M11"];
    let edges = m11["true_graph_edges"].as_u64().unwrap();
    assert_eq!(
        m11["graph_edit_distance"].as_u64(),
        Some(9 + edges),
        "{m11}"
    );
    // A folder without initial states or latents is an error that says what to add.
    let bare = tmp("bare");
    write_network(&bare, [2.0, 2.5], None);
    let e = Fitted::read(&bare, &d).unwrap_err().to_string();
    assert!(e.contains("initial_states.npy"), "{e}");
}
