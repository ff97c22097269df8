//! More than 200 bad inputs through the binary (issue 15): every one exits 2 with a message
//! that starts with `error: `, none panics, aborts or is killed. The table of cases (command,
//! exit code, first message line) is written to `target/bad_inputs.md`.
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_learndyn"))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// (description, arguments).
fn cases(dir: &Path) -> Vec<(String, Vec<String>)> {
    let cfg = |name: &str| root().join("configs").join(name).display().to_string();
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let mut check = |config: &str, set: &str| {
        out.push((
            format!("check {config} --set {set}"),
            vec!["check".into(), cfg(config), "--set".into(), set.into()],
        ));
    };
    let numeric = [
        "train.lr",
        "train.steps",
        "train.eps",
        "train.divergence_factor",
        "model.depth",
        "model.hidden",
        "task.d_in",
        "task.d_out",
        "task.samples",
        "task.noise_std",
        "task.seed",
        "init.scale",
        "init.u0",
        "init.lambda",
        "output.records",
        "integrate.rtol",
        "integrate.atol",
        "integrate.max_steps",
        "train.seeds",
    ];
    for key in numeric {
        for v in ["\"x\"", "true", "{a = 1}"] {
            check("demo.toml", &format!("{key}={v}"));
        }
    }
    for key in [
        "train.lr",
        "train.eps",
        "task.noise_std",
        "integrate.rtol",
        "integrate.atol",
    ] {
        for v in ["nan", "inf", "-inf", "-1.0"] {
            check("demo.toml", &format!("{key}={v}"));
        }
    }
    for key in [
        "train.steps",
        "model.depth",
        "task.d_in",
        "task.d_out",
        "output.records",
        "integrate.max_steps",
        "task.seed",
    ] {
        check("demo.toml", &format!("{key}=-1"));
    }
    for (key, v) in [
        ("model.kind", "\"nope\""),
        ("task.kind", "\"nope\""),
        ("init.kind", "\"nope\""),
        ("train.optimizer", "\"nope\""),
        ("train.schedule", "\"nope\""),
        ("output.spacing", "\"nope\""),
        ("output.format", "\"nope\""),
        ("integrate.method", "\"nope\""),
        ("model.kind", "3"),
        ("task.kind", "3"),
        ("init.kind", "3"),
        ("train.optimizer", "3"),
        ("output.format", "3"),
    ] {
        check("demo.toml", &format!("{key}={v}"));
    }
    for (key, v) in [
        ("train.seeds", "[0,1"),
        ("train.steps", "99999999999999999999999"),
        ("model.hidden", "-3"),
        ("model.hidden", "0"),
        ("model.hidden", "[]"),
        ("model.hidden", "[4, 4]"),
        ("train.seeds", "[]"),
        ("output.records", "1"),
        ("task.d_in", "0"),
        ("task.singular_values", "[]"),
        ("task.singular_values", "[1.0, 2.0]"),
        ("task.singular_values", "[1, 1, 1, 1, 1, 1, 1]"),
        ("model.depth", "1"),
        ("model.depth", "6519842672169907272"),
        ("integrate.max_steps", "0"),
        ("train.batch_size", "4"),
        ("train.clip", "1.0"),
        ("train.schedule", "\"step\""),
        ("init.lambda", "nan"),
        ("init.u0", "[1.0, 2.0]"),
        ("model.hidden", "1000000000"),
        ("model.hidden", "100000000"),
        ("task.d_in", "1000000000"),
        ("task.sigma_yx", "\"missing.npy\""),
        ("rnn.g", "1.0"),
        ("sequence.steps", "5"),
        ("analysis.fixed_points", "true"),
        ("gru.gain", "1.0"),
        ("train.divergence_factor", "nan"),
        ("train.divergence_factor", "-1.0"),
    ] {
        check("demo.toml", &format!("{key}={v}"));
    }
    for section in [
        "model",
        "task",
        "init",
        "train",
        "output",
        "integrate",
        "theory",
        "nonsense",
    ] {
        check("demo.toml", &format!("{section}.nope=1"));
    }
    for set in [
        "trainlr=1",
        "train.lr",
        "=1",
        "a.b.c=1",
        "train.=1",
        ".lr=1",
    ] {
        check("demo.toml", set);
    }
    let rnn_numeric = [
        "rnn.alpha",
        "rnn.g",
        "rnn.noise_std",
        "rnn.rank",
        "sequence.steps",
        "sequence.sequences",
        "sequence.input_std",
        "sequence.pulse_prob",
        "analysis.n_inits",
        "analysis.tol_q",
        "analysis.noise_scale",
        "analysis.tol_unique",
    ];
    for key in rnn_numeric {
        for v in ["\"x\"", "true"] {
            check("rnn_flip_flop.toml", &format!("{key}={v}"));
        }
    }
    for key in [
        "rnn.g",
        "rnn.noise_std",
        "sequence.input_std",
        "analysis.noise_scale",
        "analysis.tol_q",
        "analysis.tol_unique",
    ] {
        check("rnn_flip_flop.toml", &format!("{key}=nan"));
    }
    for (key, v) in [
        ("rnn.form", "\"nope\""),
        ("rnn.activation", "\"nope\""),
        ("sequence.input", "\"nope\""),
        ("sequence.profile", "\"nope\""),
        ("sequence.readout", "\"nope\""),
        ("rnn.alpha", "0.0"),
        ("rnn.alpha", "2.0"),
        ("sequence.steps", "0"),
        ("sequence.sequences", "0"),
        ("model.hidden", "0"),
        ("model.hidden", "1000000"),
        ("sequence.steps", "100000000"),
        ("task.d_out", "2"),
        ("task.kind", "\"linear_teacher\""),
        ("sequence.observed", "[0]"),
        ("sequence.lags", "[1]"),
        ("sequence.inputs", "\"x.npy\""),
        ("gru.gain", "1.0"),
        ("init.scale", "1.0"),
        ("analysis.input", "[1.0]"),
        ("analysis.tol_q", "1.0"),
        ("rnn.rank", "1000"),
        ("train.truncation", "0"),
        ("train.clip", "-1.0"),
    ] {
        check("rnn_flip_flop.toml", &format!("{key}={v}"));
    }
    for (key, v) in [
        ("gru.init", "\"nope\""),
        ("gru.gain", "\"x\""),
        ("gru.gain", "nan"),
        ("gru.bias", "3"),
        ("rnn.g", "1.0"),
        ("model.hidden", "1000000"),
        ("gru.learn_h0", "\"x\""),
    ] {
        check("gru_flip_flop.toml", &format!("{key}={v}"));
    }
    // Files.
    let junk = dir.join("junk.toml");
    std::fs::write(&junk, [0xffu8, 0xfe, 0x00, 0x41]).unwrap();
    let unclosed = dir.join("unclosed.toml");
    std::fs::write(&unclosed, "[train\nlr = 0.1\n").unwrap();
    let dup = dir.join("dup.toml");
    std::fs::write(&dup, "[train]\nlr = 0.1\nlr = 0.2\n").unwrap();
    for p in [
        dir.join("missing.toml").display().to_string(),
        dir.display().to_string(),
        junk.display().to_string(),
        unclosed.display().to_string(),
        dup.display().to_string(),
        cfg("scan_smoke.toml"),
    ] {
        for cmd in ["check", "run"] {
            let mut a = vec![cmd.to_string(), p.clone()];
            if cmd == "run" {
                a.extend(["--out".to_string(), dir.join("o").display().to_string()]);
            }
            out.push((format!("{cmd} {p}"), a));
        }
    }
    // Other commands.
    let table = root()
        .join("figures/lazy_rich/data/results.csv")
        .display()
        .to_string();
    let spec = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let s_len2 = spec(
        "s1.toml",
        "[scan]\nname = \"x\"\n[[axis]]\nkey = \"train.lr\"\nlinspace = [0, 1]\n",
    );
    let s_float = spec(
        "s2.toml",
        "[scan]\nname = \"x\"\n[[axis]]\nkey = \"train.lr\"\nlinspace = [0.1, 1, 2.5]\n",
    );
    let s_empty = spec(
        "s3.toml",
        "[scan]\nname = \"x\"\n[[axis]]\nkey = \"train.lr\"\nvalues = []\n",
    );
    let s_key = spec(
        "s4.toml",
        "[scan]\nname = \"x\"\n[[axis]]\nkey = \"train.nope\"\nvalues = [1]\n",
    );
    let s_two = spec("s5.toml", "[scan]\nname = \"x\"\n[[axis]]\nkey = \"train.lr\"\nvalues = [0.1]\nlinspace = [0.1, 1, 3]\n");
    let s_metric = spec("s6.toml", "[scan]\nname = \"x\"\nmetrics = [\"nope\"]\n[[axis]]\nkey = \"train.lr\"\nvalues = [0.1]\n");
    let s_rep = spec(
        "s7.toml",
        "[scan]\nname = \"x\"\nreplicates = 0\n[[axis]]\nkey = \"train.lr\"\nvalues = [0.1]\n",
    );
    let s_log = spec(
        "s8.toml",
        "[scan]\nname = \"x\"\n[[axis]]\nkey = \"train.lr\"\nlogspace = [0, 1, 3]\n",
    );
    let a_file = dir.join("a-file");
    std::fs::write(&a_file, b"").unwrap();
    let npy_bad = dir.join("bad.npy");
    std::fs::write(&npy_bad, b"not npy").unwrap();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<String>>();
    let mut other: Vec<Vec<String>> = vec![
        s(&["example", "nope"]),
        s(&["plot", "missing.csv", "--x", "a", "--z", "b"]),
        s(&["plot", &table, "--x", "nope", "--z", "kernel_distance"]),
        s(&["plot", &table, "--x", "init.lambda", "--z", "nope"]),
        s(&["plot", &table, "--x", "init.lambda", "--z", "status"]),
        s(&["plot", &table, "--x", "init.lambda", "--z", "message"]),
        s(&[
            "plot",
            &table,
            "--x",
            "init.lambda",
            "--y",
            "init.lambda",
            "--z",
            "kernel_distance",
        ]),
        s(&["plot", &table, "--x", "status", "--z", "kernel_distance"]),
        s(&["scan", &s_len2, "--dry-run"]),
        s(&["scan", &s_float, "--dry-run"]),
        s(&["scan", &s_empty, "--dry-run"]),
        s(&["scan", &s_key, "--dry-run"]),
        s(&["scan", &s_two, "--dry-run"]),
        s(&["scan", &s_metric, "--dry-run"]),
        s(&["scan", &s_rep, "--dry-run"]),
        s(&["scan", &s_log, "--dry-run"]),
        s(&[
            "scan",
            &cfg("scan_smoke.toml"),
            "--shard",
            "0/2",
            "--out",
            &dir.join("sh").display().to_string(),
        ]),
        s(&[
            "scan",
            &cfg("scan_smoke.toml"),
            "--shard",
            "3/2",
            "--out",
            &dir.join("sh").display().to_string(),
        ]),
        s(&[
            "scan",
            &cfg("scan_smoke.toml"),
            "--shard",
            "x",
            "--out",
            &dir.join("sh").display().to_string(),
        ]),
        s(&["scan", &cfg("scan_smoke.toml"), "--shard", "slurm"]),
        s(&[
            "scan",
            &cfg("scan_smoke.toml"),
            "--out",
            &a_file.display().to_string(),
        ]),
        s(&["scan", &cfg("demo.toml"), "--dry-run"]),
        s(&["scan", "merge", &dir.display().to_string()]),
        s(&["scan", "slurm", &cfg("scan_smoke.toml"), "--shards", "0"]),
        s(&[
            "scan",
            "slurm",
            &cfg("scan_smoke.toml"),
            "--shards",
            "2",
            "--out",
            &a_file.display().to_string(),
        ]),
        s(&["scan"]),
        s(&["figure", "nope"]),
        s(&[
            "theory",
            "partial-observation",
            "--teacher",
            "missing.npy",
            "--observed",
            "0",
        ]),
        s(&[
            "theory",
            "partial-observation",
            "--teacher",
            &npy_bad.display().to_string(),
            "--observed",
            "0",
        ]),
        s(&["bench", "nope"]),
        s(&["nope"]),
        s(&["run"]),
        s(&["check", &cfg("demo.toml"), "--nope"]),
    ];
    for a in other.drain(..) {
        out.push((a.join(" "), a));
    }
    out
}

#[test]
fn two_hundred_bad_inputs_exit_2_with_a_message() {
    let dir = std::env::temp_dir().join(format!("learndyn-bad-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cases = cases(&dir);
    assert!(cases.len() >= 200, "only {} cases", cases.len());
    let mut table =
        String::from("| # | command | exit | first line of the message |\n|---|---|---|---|\n");
    let mut bad = Vec::new();
    for (i, (what, args)) in cases.iter().enumerate() {
        let o = bin()
            .args(args)
            .current_dir(&dir)
            .env_remove("SLURM_ARRAY_TASK_ID")
            .env_remove("SLURM_ARRAY_TASK_COUNT")
            .output()
            .unwrap();
        let code = o.status.code().unwrap_or(-1);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        let first = err.lines().next().unwrap_or("").replace('|', "\\\\|");
        let short: String = first.chars().take(160).collect();
        let _ = writeln!(
            table,
            "| {} | `{}` | {code} | {short} |",
            i + 1,
            what.replace(&*root().display().to_string(), ".")
        );
        if code != 2 || err.contains("panicked") || !err.starts_with("error") {
            bad.push(format!("{what}: exit {code}: {first}"));
        }
    }
    let _ = std::fs::create_dir_all(root().join("target"));
    std::fs::write(root().join("target/bad_inputs.md"), &table).unwrap();
    assert!(
        bad.is_empty(),
        "{} of {} cases misbehave:\n{}",
        bad.len(),
        cases.len(),
        bad.join("\n")
    );
}
