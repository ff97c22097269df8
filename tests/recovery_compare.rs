//! `learndyn recovery compare`: DSA between datasets (theory/recovery.md RM-5, RM-14;
//! attractors.md C2's last criterion: "DSA places the 3 classes in separate clusters").
use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_learndyn"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("learndyn-cmp-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A Galgali-trio dataset (C2's systems, 60 trials of 0.5 s, 10 noisy linear mixtures).
fn trio(dir: &Path, mech: &str, seed: u64) -> PathBuf {
    let spec = dir.join(format!("{mech}{seed}.toml"));
    std::fs::write(
        &spec,
        format!(
            "seed = {seed}\n[system]\nkind = \"trio\"\nmechanism = \"{mech}\"\n\
             [trials]\ncount = 60\nsteps = 500\ndt = 0.001\nprocess_noise = 0.01\nsubsteps = 2\n\
             [observe]\nmixing = \"linear\"\nneurons = 10\nnoise = \"gaussian\"\n\
             noise_std = 0.001\nbin = 5\n"
        ),
    )
    .unwrap();
    let out = dir.join(format!("{mech}{seed}"));
    let o = bin()
        .args(["recovery", "data"])
        .arg(&spec)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

/// RM-5 / RM-14 on C2: three noise draws (and mixings) of each of the saddle, the line
/// attractor and the point attractor, whose condition averages coincide, fall into three
/// clusters under DSA: every within-mechanism distance is below every between-mechanism
/// one, for the eigenvalue (Wasserstein) score and for the Procrustes angle. The embedding is
/// the systems' own: 2 whitened principal axes, no extra delay (the 2-D state is Markov, so
/// delays add only noise directions), rank 2, all 60 trials.
#[test]
fn rm5_rm14_dsa_places_the_galgali_trio_in_three_clusters() {
    let dir = tmp("trio");
    let mut inputs = Vec::new();
    let mut labels = Vec::new();
    for mech in ["saddle", "line", "point"] {
        for seed in 1..=3 {
            inputs.push(trio(&dir, mech, seed));
            labels.push(mech);
        }
    }
    let out = dir.join("cmp");
    let o = bin()
        .args(["recovery", "compare"])
        .args(&inputs)
        .arg("--labels")
        .arg(labels.join(","))
        .args([
            "--components",
            "2",
            "--delays",
            "1",
            "--rank",
            "2",
            "--trials",
            "60",
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    eprintln!("{stdout}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("dsa.json")).unwrap()).unwrap();
    for score in ["wasserstein", "angular"] {
        let s = &doc["separation"][score];
        let (w, b) = (
            s["max_within"].as_f64().unwrap(),
            s["min_between"].as_f64().unwrap(),
        );
        assert!(
            s["separated"].as_bool().unwrap() && w < b,
            "{score}: within {w} vs between {b}"
        );
    }
    // 9 inputs: 36 pairs, one CSV row each.
    let csv = std::fs::read_to_string(out.join("dsa.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 36);
}

/// Bad input names the option and exits 2.
#[test]
fn compare_refuses_bad_input_with_exit_2() {
    let dir = tmp("bad");
    let a = trio(&dir, "point", 1);
    let b = trio(&dir, "line", 1);
    let cases: [(Vec<&str>, &str); 3] = [
        (vec!["--labels", "x"], "--labels"),
        (vec!["--components", "11"], "--components"),
        (vec!["--trials", "0"], "--trials"),
    ];
    for (extra, needle) in cases {
        let o = bin()
            .args(["recovery", "compare"])
            .arg(&a)
            .arg(&b)
            .args(&extra)
            .arg("--out")
            .arg(dir.join("o"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(needle), "{extra:?}: {err}");
    }
    let o = bin()
        .args(["recovery", "compare"])
        .arg(&a)
        .arg(dir.join("missing"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing"));
}
