//! The command line and its output contract: files, the exact records.csv header, config
//! errors that name the key and the fix, and no panics on bad input.
use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_learndyn"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("learndyn-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Run and return (exit code, stdout, stderr).
fn run(cmd: &mut Command) -> (i32, String, String) {
    let o = cmd.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn demo_writes_the_documented_files() {
    let out = tmp("demo");
    let (code, _, err) = run(bin().args(["demo", "--out"]).arg(&out).args([
        "--set",
        "train.steps=200",
        "--set",
        "output.records=21",
        "--set",
        "train.seeds=[0,1]",
    ]));
    assert_eq!(code, 0, "{err}");
    for f in [
        "records.csv",
        "summary.json",
        "manifest.json",
        "figure.png",
        "figure.svg",
        "weights/seed0_W1.npy",
        "weights/seed1_W2.npy",
    ] {
        assert!(out.join(f).is_file(), "missing {f}");
    }
    let csv = std::fs::read_to_string(out.join("records.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("source,seed,step,t,observable,index,value,kind")
    );
    let mut sources = std::collections::BTreeSet::new();
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!(f.len(), 8, "{l}");
        sources.insert(f[0].to_string());
        let theory = f[0] != "gd";
        let kind = if theory { "theory" } else { "simulation" };
        assert_eq!(
            f[7], kind,
            "the kind column says which rows are the trained network: {l}"
        );
        assert_eq!(theory, f[1].is_empty(), "theory rows leave seed empty: {l}");
        assert_eq!(theory, f[2].is_empty(), "theory rows leave step empty: {l}");
        let scalar = matches!(
            f[4],
            "loss" | "balance_drift" | "kernel_distance" | "alignment"
        );
        assert_eq!(scalar, f[5].is_empty(), "{l}");
        f[3].parse::<f64>().unwrap();
        f[6].parse::<f64>().unwrap();
    }
    let want: std::collections::BTreeSet<String> =
        ["closed_form", "reduced_ode", "gradient_flow", "gd"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    assert_eq!(sources, want);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    for key in [
        "learndyn_version",
        "git_revision",
        "config",
        "seeds",
        "command",
        "threads",
        "timings_s",
    ] {
        assert!(manifest.get(key).is_some(), "manifest lacks {key}");
    }
    assert_eq!(manifest["config"]["train"]["steps"], 200);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert!(summary["discrepancy"]["closed_form"]["mode_strength"]["max_abs"].is_number());
    assert_eq!(
        summary["time_to_half"]["closed_form"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let png = std::fs::read(out.join("figure.png")).unwrap();
    assert_eq!(&png[..4], b"\x89PNG");
}

#[test]
fn example_list_and_check_round_trip() {
    let (code, list, _) = run(bin().args(["example", "--list"]));
    assert_eq!(code, 0);
    // The descriptions start in one column, also after the longest name.
    let starts: std::collections::BTreeSet<usize> = list
        .lines()
        .map(|l| {
            let name = l.split_whitespace().next().unwrap();
            name.len() + l[name.len()..].len() - l[name.len()..].trim_start().len()
        })
        .collect();
    assert_eq!(starts.len(), 1, "misaligned example list:\n{list}");
    let dir = tmp("examples");
    for name in list
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_string())
    {
        let (code, text, err) = run(bin().args(["example", &name]));
        assert_eq!(code, 0, "{err}");
        let shipped = std::fs::read_to_string(format!(
            "{}/configs/{name}.toml",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        assert_eq!(
            text, shipped,
            "example {name} differs from configs/{name}.toml"
        );
        let path = write(&dir, &format!("{name}.toml"), &text);
        if name.starts_with("scan_") {
            // Scan specs: a dry run resolves and validates every axis.
            let (code, _, err) = run(bin().args(["scan", "--dry-run"]).arg(&path));
            assert_eq!(code, 0, "{name}: {err}");
            continue;
        }
        let (code, resolved, err) = run(bin().arg("check").arg(&path));
        assert_eq!(code, 0, "{name}: {err}");
        // The resolved config is itself a valid config.
        let again = write(&dir, &format!("{name}.resolved.toml"), &resolved);
        let (code, _, err) = run(bin().arg("check").arg(&again));
        assert_eq!(code, 0, "{name} resolved: {err}");
    }
}

/// (config text, --set overrides, fragments the error must contain).
fn bad_cases() -> Vec<(&'static str, Vec<&'static str>, Vec<&'static str>)> {
    vec![
        (
            "[train]\nlrr = 0.1\n",
            vec![],
            vec!["lrr", "expected one of", "lr"],
        ),
        ("[trian]\nlr = 0.1\n", vec![], vec!["trian"]),
        ("[train]\nlr = -0.1\n", vec![], vec!["train.lr", "> 0"]),
        ("", vec!["train.lr=0"], vec!["train.lr"]),
        ("", vec!["train.nope=1"], vec!["nope"]),
        ("", vec!["trainlr=1"], vec!["section.key=value"]),
        (
            "[model]\nhidden = 2\n",
            vec![],
            vec!["model.hidden", "rank 3"],
        ),
        (
            "[model]\ndepth = 3\nhidden = [4, 4, 4]\n",
            vec![],
            vec!["model.hidden", "depth - 1"],
        ),
        ("[model]\ndepth = 1\n", vec![], vec!["model.depth"]),
        (
            "[task]\nsingular_values = [1.0, 2.0]\n",
            vec![],
            vec!["task.singular_values", "nonincreasing"],
        ),
        (
            "[task]\nsingular_values = [3.0, 2.0, 1.0, 0.5, 0.2, 0.1, 0.05]\n",
            vec![],
            vec!["task.singular_values", "min(d_in, d_out)"],
        ),
        (
            "[task]\nsigma_yx = \"missing.npy\"\n",
            vec![],
            vec!["missing.npy"],
        ),
        (
            "[init]\nkind = \"npy\"\nweights = [\"a.npy\", \"b.npy\"]\n",
            vec![],
            vec!["a.npy"],
        ),
        (
            "[init]\nkind = \"magic\"\n",
            vec![],
            vec!["init.kind", "aligned"],
        ),
        (
            "[init]\nu0 = [1e-3, 1e-3]\n",
            vec![],
            vec!["init.u0", "per teacher mode"],
        ),
        (
            "[integrate]\nmethod = \"rk4\"\n",
            vec![],
            vec!["integrate.fixed_step"],
        ),
        (
            "[integrate]\nmethod = \"rk45\"\n",
            vec![],
            vec!["integrate.method", "dopri5"],
        ),
        (
            "[output]\nspacing = \"cubic\"\n",
            vec![],
            vec!["output.spacing", "log"],
        ),
        (
            "[output]\nobservables = [\"loss\", \"weights\"]\n",
            vec![],
            vec!["output.observables"],
        ),
        (
            "[theory]\nsources = [\"exact\"]\n",
            vec![],
            vec!["theory.sources", "closed_form"],
        ),
        ("[train]\nseeds = []\n", vec![], vec!["train.seeds"]),
        (
            "[task]\nsamples = 3\n",
            vec![],
            vec!["task.samples", "whiten"],
        ),
        ("[train\nlr = 1\n", vec![], vec!["line"]),
        ("[train]\nlr = \"fast\"\n", vec![], vec!["lr"]),
        ("[task]\nnoise_std = nan\n", vec![], vec!["task.noise_std"]),
        // Issue 15: messages that name the right key and the real problem.
        (
            "",
            vec!["train.seeds=[0,1"],
            vec!["train.seeds", "not a valid TOML value", "unclosed"],
        ),
        (
            "",
            vec!["train.steps=99999999999999999999999"],
            vec!["train.steps", "64-bit"],
        ),
        ("", vec!["model.hidden=-3"], vec!["model.hidden", "positive integers"]),
        ("", vec!["integrate.atol=inf"], vec!["integrate.atol", "finite"]),
        (
            "[model]\nkind = \"rnn\"\n[task]\nkind = \"flip_flop\"\n[analysis]\nnoise_scale = nan\n",
            vec![],
            vec!["analysis.noise_scale"],
        ),
        (
            "[scan]\nname = \"x\"\n[[axis]]\nkey = \"train.lr\"\nvalues = [0.1]\n",
            vec![],
            vec!["scan spec", "learndyn scan"],
        ),
        (
            "[model]\nkind = \"rnn\"\n[task]\nkind = \"flip_flop\"\n[sequence]\nobserved = [0]\n",
            vec![],
            vec!["sequence.observed", "teacher_rnn"],
        ),
    ]
}

#[test]
fn bad_configs_give_clear_errors_and_exit_2() {
    let dir = tmp("bad");
    for (i, (text, sets, fragments)) in bad_cases().into_iter().enumerate() {
        let path = write(&dir, &format!("bad{i}.toml"), text);
        for sub in ["check", "run"] {
            let mut cmd = bin();
            cmd.arg(sub)
                .arg(&path)
                .arg("--out")
                .arg(dir.join(format!("out{i}")));
            if sub == "check" {
                cmd = bin();
                cmd.arg(sub).arg(&path);
            }
            for s in &sets {
                cmd.args(["--set", s]);
            }
            let (code, _, err) = run(&mut cmd);
            assert_eq!(
                code, 2,
                "case {i} ({sub}) {text:?} {sets:?}: exit {code}, stderr: {err}"
            );
            assert!(!err.contains("panicked"), "case {i} panicked: {err}");
            assert!(err.starts_with("error: "), "case {i}: {err}");
            for f in &fragments {
                assert!(
                    err.contains(f),
                    "case {i} {text:?}: error lacks {f:?}: {err}"
                );
            }
        }
    }
}

#[test]
fn npy_shape_and_content_errors() {
    let dir = tmp("npy");
    // A 3x3 Sigma_yx for a 6x6 task: wrong shape, named.
    let m = learndyn::linalg::Matrix::identity(3);
    learndyn::npy::write_matrix(&dir.join("s.npy"), &m).unwrap();
    let cfg = write(&dir, "c.toml", "[task]\nsigma_yx = \"s.npy\"\n");
    let (code, _, err) = run(bin().arg("check").arg(&cfg));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("sigma_yx") && err.contains("(6, 6)"), "{err}");
    // Weights of the wrong shape for layer 2.
    learndyn::npy::write_matrix(&dir.join("w1.npy"), &learndyn::linalg::Matrix::zeros(8, 6))
        .unwrap();
    learndyn::npy::write_matrix(&dir.join("w2.npy"), &learndyn::linalg::Matrix::zeros(5, 8))
        .unwrap();
    let cfg = write(
        &dir,
        "w.toml",
        "[init]\nkind = \"npy\"\nweights = [\"w1.npy\", \"w2.npy\"]\n",
    );
    let (code, _, err) = run(bin().arg("check").arg(&cfg));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("W_2") && err.contains("(6, 8)"), "{err}");
    // Not a .npy file at all.
    std::fs::write(dir.join("junk.npy"), b"hello").unwrap();
    let cfg = write(&dir, "j.toml", "[task]\nsigma_yx = \"junk.npy\"\n");
    let (code, _, err) = run(bin().arg("check").arg(&cfg));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("junk.npy") && err.contains("npy"), "{err}");
}

#[test]
fn explicit_weights_round_trip_through_npy() {
    // Final weights written by one run start the next: the loss continues from where it was.
    let dir = tmp("roundtrip");
    let (code, _, err) = run(bin().args(["demo", "--out"]).arg(dir.join("a")).args([
        "--set",
        "train.steps=100",
        "--set",
        "train.seeds=[0]",
        "--set",
        "output.figure=false",
    ]));
    assert_eq!(code, 0, "{err}");
    let cfg = write(
        &dir,
        "next.toml",
        "[init]\nkind = \"npy\"\nweights = [\"a/weights/seed0_W1.npy\", \"a/weights/seed0_W2.npy\"]\n[train]\nsteps = 0\nseeds = [0]\n[output]\nfigure = false\n",
    );
    let (code, _, err) = run(bin().arg("run").arg(&cfg).arg("--out").arg(dir.join("b")));
    assert_eq!(code, 0, "{err}");
    let last_loss = |p: &Path| -> f64 {
        let csv = std::fs::read_to_string(p).unwrap();
        csv.lines()
            .rfind(|l| l.starts_with("gd,") && l.contains(",loss,"))
            .unwrap()
            .split(',')
            .nth(6)
            .unwrap()
            .parse()
            .unwrap()
    };
    let a = last_loss(&dir.join("a/records.csv"));
    let b = last_loss(&dir.join("b/records.csv"));
    assert!((a - b).abs() <= 1e-12 * a.abs(), "{a} vs {b}");
}

#[test]
fn diverging_run_is_recorded_not_crashed() {
    let out = tmp("diverge");
    let (code, _, err) = run(bin().args(["demo", "--out"]).arg(&out).args([
        "--set",
        "train.lr=2.0",
        "--set",
        "train.steps=300",
        "--set",
        "train.seeds=[0,1]",
        "--set",
        "theory.sources=[\"closed_form\"]",
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("diverged"), "{err}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let runs = summary["runs"].as_array().unwrap();
    assert!(
        runs.iter()
            .all(|r| r["status"] == "diverged" && r["step"].is_number()),
        "{runs:?}"
    );
}

#[test]
fn bench_ode_prints_the_peers_keys() {
    let (code, out, err) = run(bin().args([
        "bench",
        "ode",
        "--json",
        "--modes",
        "10",
        "--matrix",
        "8",
        "--repeats",
        "1",
        "--methods",
        "dopri5,dop853",
    ]));
    assert_eq!(code, 0, "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for l in &lines {
        assert!(l["workload"]
            .as_str()
            .unwrap()
            .starts_with("gradient_flow_ode_"));
        assert_eq!(l["ok"], true, "{l}");
        assert!(l["env"]["threads_setting"].is_string());
        assert_eq!(l["config"]["t_end"].as_f64(), Some(20.0));
        for name in ["learndyn-DP5", "learndyn-DOP853"] {
            let r = &l["results"][name];
            for key in ["nfev", "n_steps", "n_rejected"] {
                assert!(r[key].is_u64(), "{name} {key}: {r}");
            }
            assert!(r["wall_s"]["median"].is_f64() && r["wall_s"]["min"].is_f64());
        }
    }
    assert!(
        lines[0]["results"]["learndyn-DP5"]["err_end_rel"]
            .as_f64()
            .unwrap()
            < 1e-5
    );
    assert!(
        lines[1]["results"]["learndyn-DOP853"]["err_prod_rel"]
            .as_f64()
            .unwrap()
            < 1e-5
    );
}

#[test]
fn figure_list_and_quick_run() {
    let (code, list, err) = run(bin()
        .args(["figure", "--list", "--dir"])
        .arg(format!("{}/figures", env!("CARGO_MANIFEST_DIR"))));
    assert_eq!(code, 0, "{err}");
    // Every figure folder (one with a spec.toml) is listed, the rnn_* ones included.
    let figures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("figures");
    let mut ids = Vec::new();
    for e in std::fs::read_dir(&figures).unwrap() {
        let p = e.unwrap().path();
        if p.join("spec.toml").is_file() {
            ids.push(p.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    assert!(
        ids.len() >= 10 && ids.iter().any(|i| i.starts_with("rnn_")),
        "{ids:?}"
    );
    let listed: Vec<&str> = list
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for id in &ids {
        assert!(listed.contains(&id.as_str()), "{id} missing from {list}");
    }
    // --quick runs a figure into target/figures-quick/<id>/ and writes its plotted table; the
    // temporal-precedence figure (T = 4) titles its lag panel with the lags it shows.
    let (code, _, err) = run(bin()
        .args(["figure", "rnn_temporal_precedence", "--quick", "--dir"])
        .arg(&figures)
        .current_dir(env!("CARGO_MANIFEST_DIR")));
    assert_eq!(code, 0, "{err}");
    let quick = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/figures-quick/rnn_temporal_precedence");
    assert!(quick.join("rnn_temporal_precedence.png").is_file());
    let table = std::fs::read_to_string(quick.join("rnn_temporal_precedence.csv")).unwrap();
    assert!(
        table.contains("(lags 0-3)") && !table.contains("(lags 0-5)"),
        "{table}"
    );
    // A theory figure (kind = "theory") computes its tables from closed forms: the quick
    // chain table holds C1's lambda_1 at D = 45 (0.7385, attractors.md §3.6).
    let (code, _, err) = run(bin()
        .args(["figure", "partial_observation", "--quick", "--dir"])
        .arg(&figures)
        .current_dir(env!("CARGO_MANIFEST_DIR")));
    assert_eq!(code, 0, "{err}");
    let quick = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/figures-quick/partial_observation");
    assert!(quick.join("chain_timescales_vs_D.png").is_file());
    let chain = std::fs::read_to_string(quick.join("data/chain.csv")).unwrap();
    let row = chain.lines().find(|l| l.contains(",ok,45,25,")).unwrap();
    let lambda: f64 = row.split(',').nth(5).unwrap().parse().unwrap();
    assert!((lambda - 0.7385).abs() < 5e-5, "{row}");
    let (code, _, err) = run(bin()
        .args(["figure", "nope", "--dir"])
        .arg(format!("{}/figures", env!("CARGO_MANIFEST_DIR"))));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--list"), "{err}");
}

/// The subcommands `learndyn --help` lists (and those of `scan` and `bench`) each have a
/// section `learndyn <cmd>` in docs/cli.md and a mention in docs/README.md's index (issue 16).
#[test]
fn every_subcommand_is_documented() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let cli = std::fs::read_to_string(root.join("docs/cli.md")).unwrap();
    let index = std::fs::read_to_string(root.join("docs/README.md")).unwrap();
    let subcommands = |args: &[&str]| -> Vec<String> {
        let (code, help, _) = run(bin().args(args).arg("--help"));
        assert_eq!(code, 0);
        help.lines()
            .skip_while(|l| !l.starts_with("Commands:"))
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .filter(|c| c != "help")
            .collect()
    };
    let top = subcommands(&[]);
    assert!(top.len() >= 8, "{top:?}");
    let mut missing = Vec::new();
    for c in &top {
        if !cli.contains(&format!("## learndyn {c}\n")) {
            missing.push(format!("docs/cli.md: ## learndyn {c}"));
        }
        if !index.contains(&format!("`{c}`")) {
            missing.push(format!("docs/README.md: `{c}`"));
        }
    }
    for parent in ["scan", "bench"] {
        for c in subcommands(&[parent]) {
            if !cli.contains(&format!("### learndyn {parent} {c}\n")) {
                missing.push(format!("docs/cli.md: ### learndyn {parent} {c}"));
            }
        }
    }
    assert!(missing.is_empty(), "undocumented subcommands: {missing:?}");
}

/// The resolved config that `check` prints parses back to the same config, for every shipped
/// run config, and prints floats in shortest form and short arrays on one line (issue 16).
#[test]
fn resolved_config_text_round_trips() {
    use learndyn::experiment::{self, config::Config, examples};
    for ex in examples::EXAMPLES
        .iter()
        .filter(|e| !e.name.starts_with("scan_"))
    {
        let loaded = experiment::load_builtin(ex.name, ex.text, &[]).unwrap();
        let text = loaded.config.to_toml();
        let back = Config::from_toml(&text, ex.name, &[]).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back, loaded.config, "{}:\n{text}", ex.name);
        assert!(
            !text.contains("0.0000"),
            "{}: long float in\n{text}",
            ex.name
        );
    }
    let demo = experiment::load_builtin("demo", examples::find("demo").unwrap().text, &[])
        .unwrap()
        .config
        .to_toml();
    assert!(
        demo.contains("eps = 1e-8\n") && demo.contains("seeds = [0, 1, 2, 3, 4]\n"),
        "{demo}"
    );
}

/// `output.format = "wide"` writes `records_wide.csv` beside `records.csv`: one column per
/// source and seed, one row per (t, observable, index), and every long-form value in its cell
/// (issue 16).
#[test]
fn wide_records_hold_every_long_value() {
    let dir = tmp("wide");
    let (code, _, err) = run(bin()
        .args(["demo", "--out"])
        .arg(&dir)
        .args(["--set", "train.steps=40", "--set", "output.records=5"])
        .args([
            "--set",
            "output.format=\"wide\"",
            "--set",
            "output.figure=false",
        ]));
    assert_eq!(code, 0, "{err}");
    let wide = std::fs::read_to_string(dir.join("records_wide.csv")).unwrap();
    let mut lines = wide.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(&header[..4], &["t", "step", "observable", "index"]);
    let mut cells = std::collections::BTreeMap::new();
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!(f.len(), header.len(), "{l}");
        for (c, v) in f.iter().enumerate().skip(4).filter(|(_, v)| !v.is_empty()) {
            let key = (
                f[0].to_string(),
                f[2].to_string(),
                f[3].to_string(),
                header[c].to_string(),
            );
            assert!(
                cells.insert(key, v.to_string()).is_none(),
                "duplicate cell in {l}"
            );
        }
    }
    let long = std::fs::read_to_string(dir.join("records.csv")).unwrap();
    let mut n = 0;
    for l in long.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        let column = if f[1].is_empty() {
            f[0].to_string()
        } else {
            format!("{}_seed{}", f[0], f[1])
        };
        let key = (f[3].to_string(), f[4].to_string(), f[5].to_string(), column);
        assert_eq!(cells.get(&key).map(String::as_str), Some(f[6]), "{l}");
        n += 1;
    }
    assert_eq!(n, cells.len(), "no cell without a long-form row");
    let manifest = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"records_wide.csv\""));
}

/// Splits one CSV line with double-quoted fields (`""` inside quotes is a quote).
fn csv_fields(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Every figure writes its plotted table beside the images (`figure.csv` of a run, issue 16):
/// the loss panel's theory curve is the `closed_form` loss of `records.csv`, point for point.
#[test]
fn run_figure_table_holds_the_plotted_values() {
    let dir = tmp("figtable");
    let (code, _, err) = run(bin().args(["demo", "--out"]).arg(&dir).args([
        "--set",
        "train.steps=40",
        "--set",
        "output.records=5",
    ]));
    assert_eq!(code, 0, "{err}");
    let table = std::fs::read_to_string(dir.join("figure.csv")).unwrap();
    let mut lines = table.lines();
    assert_eq!(
        lines.next(),
        Some("panel,panel_title,series_id,series,style,x,y,lo,hi")
    );
    let plotted: Vec<(String, String)> = lines
        .map(csv_fields)
        .filter(|f| f[1] == "Loss" && f[3] == "theory (closed_form)")
        .map(|f| (f[5].clone(), f[6].clone()))
        .collect();
    let records = std::fs::read_to_string(dir.join("records.csv")).unwrap();
    let want: Vec<(String, String)> = records
        .lines()
        .filter(|l| l.starts_with("closed_form,") && l.contains(",loss,"))
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[3].to_string(), f[6].to_string())
        })
        .collect();
    assert_eq!(want.len(), 5);
    assert_eq!(plotted, want);
    let manifest = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"figure.csv\""));
}

/// `learndyn theory partial-observation --json`: the documented keys, QO1 (`w = 2`: B_hat = 2/3,
/// timescale 3, teacher timescales 1), and clear input errors (exit 2).
#[test]
fn theory_partial_observation_json_contract() {
    let dir = tmp("partial-observation");
    let b =
        learndyn::linalg::Matrix::from_fn(2, 2, |i, j| if (i, j) == (0, 1) { 2.0 } else { 0.0 });
    let path = dir.join("B.npy");
    learndyn::npy::write_matrix(&path, &b).unwrap();
    let (code, out, err) = run(bin()
        .args(["theory", "partial-observation", "--teacher"])
        .arg(&path)
        .args(["--observed", "0", "--json"]));
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!((v["B_hat"][0][0].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-15);
    assert_eq!(v["eigenvalues"][0][1].as_f64(), Some(0.0));
    assert!((v["timescales"][0].as_f64().unwrap() - 3.0).abs() < 1e-12);
    assert_eq!(v["teacher_timescales"], serde_json::json!([1.0, 1.0]));
    for bad in [
        vec!["--observed", "2"],
        vec!["--observed", "0,x"],
        vec!["--observed", "0,0"],
    ] {
        let (code, _, err) = run(bin()
            .args(["theory", "partial-observation", "--teacher"])
            .arg(&path)
            .args(&bad));
        assert_eq!(code, 2, "{bad:?}: {err}");
        assert!(err.contains("observed"), "{bad:?}: {err}");
    }
}

/// `learndyn theory mean-field --json`: the documented keys, check MF1's kappa at
/// (sigma_mn, g) = (2, 0.5) (MF-3), the trivial branch below the onset, and clear input errors
/// (exit 2) for a negative or chaotic g and a non-positive sigma_m.
#[test]
fn theory_mean_field_json_contract() {
    let (code, out, err) = run(bin().args([
        "theory",
        "mean-field",
        "--sigma-mn",
        "2",
        "--g",
        "0.5",
        "--json",
    ]));
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!((v["kappa"].as_f64().unwrap() - 1.2895).abs() < 5e-5);
    assert!((v["delta0"].as_f64().unwrap() - 1.78786).abs() < 1e-5);
    assert_eq!(v["stable"], "nontrivial");
    assert_eq!(v["outlier"].as_f64(), Some(2.0));
    assert_eq!(v["nontrivial"]["kappa"], v["kappa"]);
    assert_eq!(v["trivial"]["kappa"].as_f64(), Some(0.0));
    assert_eq!(v["quadrature"]["rule"], "gauss-hermite");
    assert!(v["error_estimate"].as_f64().unwrap() < 1e-9);
    let (code, out, err) = run(bin().args([
        "theory",
        "mean-field",
        "--sigma-mn",
        "0.5",
        "--g",
        "0.2",
        "--json",
    ]));
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["stable"], "trivial");
    assert_eq!(v["kappa"].as_f64(), Some(0.0));
    assert!(v["nontrivial"].is_null());
    let (code, out, err) = run(bin().args(["theory", "mean-field", "--sigma-mn", "2", "--g", "0"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("kappa = 1.337109"), "{out}");
    for (bad, what) in [
        (vec!["--sigma-mn", "2", "--g", "-0.5"], "g"),
        (vec!["--sigma-mn", "2", "--g", "1.5"], "g"),
        (
            vec!["--sigma-mn", "2", "--g", "0.5", "--sigma-m", "0"],
            "sigma_m",
        ),
        (vec!["--sigma-mn", "nan", "--g", "0.5"], "sigma_mn"),
    ] {
        let (code, _, err) = run(bin().args(["theory", "mean-field"]).args(&bad));
        assert_eq!(code, 2, "{bad:?}: {err}");
        assert!(err.contains(&format!("{what}:")), "{bad:?}: {err}");
    }
}

/// `learndyn theory lag-kernel --json`: the documented keys, check EM1's row at rho = 0.8
/// (RI-2), the C + F and W parts summing to Theta, the leading-order sd with `--width` (RI-4:
/// `2 / sqrt(n)` at lag 0), the table, and clear input errors (exit 2).
#[test]
fn theory_lag_kernel_json_contract() {
    let (code, out, err) = run(bin().args([
        "theory",
        "lag-kernel",
        "--rho",
        "0.8",
        "--lags",
        "8",
        "--width",
        "400",
        "--json",
    ]));
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let theta: Vec<f64> = serde_json::from_value(v["theta"].clone()).unwrap();
    assert_eq!(theta.len(), 8);
    for (j, want) in [
        (0, 2.000),
        (1, 2.280),
        (2, 2.099),
        (3, 1.753),
        (5, 1.054),
        (7, 0.569),
    ] {
        assert!((theta[j] - want).abs() <= 5e-4, "lag {j}: {}", theta[j]);
    }
    for j in 0..8 {
        let parts = v["c_part"][j].as_f64().unwrap()
            + v["f_part"][j].as_f64().unwrap()
            + v["w_part"][j].as_f64().unwrap();
        assert!((parts - theta[j]).abs() < 1e-12);
    }
    assert_eq!(v["lags"][7].as_u64(), Some(7));
    assert_eq!(v["width"].as_u64(), Some(400));
    assert!((v["sd"][0].as_f64().unwrap() - 0.1).abs() < 1e-12);
    let (code, out, err) = run(bin().args(["theory", "lag-kernel", "--rho", "1", "--lags", "3"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("4.000000"), "{out}");
    let (code, out, _) = run(bin().args(["theory", "lag-kernel", "--rho", "0.5", "--json"]));
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["sd"].is_null());
    for (bad, what) in [
        (vec!["--rho", "-0.5"], "rho"),
        (vec!["--rho", "nan"], "rho"),
        (vec!["--rho", "0.8", "--lags", "0"], "lags"),
        (
            vec!["--rho", "0.8", "--lags", "20", "--width", "100"],
            "lags",
        ),
        (vec!["--rho", "0.8", "--width", "0"], "width"),
    ] {
        let (code, _, err) = run(bin().args(["theory", "lag-kernel"]).args(&bad));
        assert_eq!(code, 2, "{bad:?}: {err}");
        assert!(err.contains(&format!("{what}:")), "{bad:?}: {err}");
    }
}

/// `output.format = "parquet"` writes `records.parquet` beside `records.csv`: the same rows in
/// the same order, with typed nullable integer columns (issue 16 item 1). Read back with the
/// parquet crate's row reader and compared cell by cell with the CSV.
#[test]
fn parquet_records_are_the_csv_rows() {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;
    let dir = tmp("parquet");
    let (code, _, err) = run(bin()
        .args(["demo", "--out"])
        .arg(&dir)
        .args(["--set", "train.steps=40", "--set", "output.records=5"])
        .args([
            "--set",
            "output.format=\"parquet\"",
            "--set",
            "output.figure=false",
        ]));
    assert_eq!(code, 0, "{err}");
    let file = std::fs::File::open(dir.join("records.parquet")).unwrap();
    let reader = SerializedFileReader::new(file).unwrap();
    let names: Vec<String> = reader
        .metadata()
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    let long = std::fs::read_to_string(dir.join("records.csv")).unwrap();
    let mut lines = long.lines();
    assert_eq!(names.join(","), lines.next().unwrap());
    let mut n = 0;
    for (row, line) in reader.get_row_iter(None).unwrap().zip(lines) {
        let row = row.unwrap();
        let cells: Vec<String> = row
            .get_column_iter()
            .map(|(_, f)| match f {
                Field::Null => String::new(),
                Field::Str(s) => s.clone(),
                Field::Long(v) => v.to_string(),
                Field::Double(v) => v.to_string(),
                other => panic!("unexpected field {other:?}"),
            })
            .collect();
        let want: Vec<&str> = line.split(',').collect();
        for (c, (got, want)) in cells.iter().zip(&want).enumerate() {
            if names[c] == "t" || names[c] == "value" {
                let (g, w): (f64, f64) = (got.parse().unwrap(), want.parse().unwrap());
                assert!(g == w || (g.is_nan() && w.is_nan()), "{line}: {}", names[c]);
            } else {
                assert_eq!(got, want, "{line}: {}", names[c]);
            }
        }
        n += 1;
    }
    assert_eq!(
        n,
        long.lines().count() - 1,
        "every CSV row is in the Parquet file"
    );
    let manifest = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"records.parquet\""));
}

/// Sizes that cannot fit are refused before anything is allocated: exit 2 with the estimate,
/// the memory available and the key to lower (issue 15). The child runs under a 4 GB
/// address-space limit, so a regression that allocates fails fast (abort or panic, not 2)
/// instead of exhausting the machine.
#[test]
fn huge_sizes_are_refused_before_allocation() {
    use std::os::unix::process::CommandExt;
    let dir = tmp("huge");
    let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
    let cases = [
        (
            "check",
            "demo.toml",
            "model.hidden=1000000000",
            "model.hidden",
        ),
        (
            "run",
            "demo.toml",
            "model.hidden=1000000000",
            "model.hidden",
        ),
        ("run", "demo.toml", "model.hidden=100000000", "model.hidden"),
        ("check", "demo.toml", "task.d_in=1000000000", "task.d_in"),
        (
            "run",
            "rnn_flip_flop.toml",
            "model.hidden=1000000",
            "model.hidden",
        ),
        (
            "check",
            "gru_flip_flop.toml",
            "model.hidden=1000000",
            "model.hidden",
        ),
        (
            "run",
            "rnn_flip_flop.toml",
            "sequence.steps=100000000",
            "sequence.steps",
        ),
    ];
    for (cmd, config, set, key) in cases {
        let mut c = bin();
        c.arg(cmd).arg(configs.join(config)).args(["--set", set]);
        if cmd == "run" {
            c.arg("--out").arg(dir.join("out"));
        }
        // SAFETY: setrlimit is async-signal-safe; the closure touches no shared state.
        unsafe {
            c.pre_exec(|| {
                let lim = libc::rlimit {
                    rlim_cur: 4 << 30,
                    rlim_max: 4 << 30,
                };
                libc::setrlimit(libc::RLIMIT_AS, &lim);
                Ok(())
            });
        }
        let (code, _, err) = run(&mut c);
        assert_eq!(code, 2, "{cmd} {config} {set}: {err}");
        assert!(
            err.contains("needs about") && err.contains("available") && err.contains(key),
            "{cmd} {config} {set}: {err}"
        );
        assert!(!dir.join("out").join("records.csv").exists());
    }
}

/// A run folder never looks complete while inconsistent (issue 15): a rerun removes the old
/// manifest before computing, so a rerun killed with SIGKILL leaves no manifest (incomplete);
/// a finished run's manifest lists each file's SHA-256, which matches; the next run takes over
/// the dead writer's lock and removes its temporary files.
#[test]
fn killed_rerun_leaves_an_incomplete_folder_not_a_lying_one() {
    let dir = tmp("killed-rerun");
    let out = dir.join("out");
    let (code, _, err) = run(bin().args(["demo", "--out"]).arg(&out).args([
        "--set",
        "train.steps=200",
        "--set",
        "output.figure=false",
    ]));
    assert_eq!(code, 0, "{err}");
    let hashes_match = |out: &Path| {
        let m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap())
                .unwrap();
        let files = m["files_sha256"].as_object().unwrap().clone();
        assert!(files.contains_key("records.csv"));
        files.iter().all(|(f, h)| {
            let bytes = std::fs::read(out.join(f)).unwrap();
            use sha2::Digest;
            let got: String = sha2::Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            got == h.as_str().unwrap()
        })
    };
    assert!(hashes_match(&out));
    // A long rerun with another learning rate, killed mid-run.
    let mut child = bin()
        .args(["demo", "--out"])
        .arg(&out)
        .args(["--set", "train.steps=50000000", "--set", "train.lr=0.001"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lock = out.join(".run.lock");
    let t0 = std::time::Instant::now();
    while !lock.exists() && t0.elapsed() < std::time::Duration::from_secs(30) {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !out.join("manifest.json").exists() || hashes_match(&out),
        "an interrupted rerun left a manifest that does not describe the files"
    );
    // A dead writer's temporary file (PID beyond pid_max never runs) is cleaned up.
    let stale = out.join(".records.csv.4294967-0.tmp");
    std::fs::write(&stale, b"partial").unwrap();
    let (code, _, err) = run(bin().args(["demo", "--out"]).arg(&out).args([
        "--set",
        "train.steps=200",
        "--set",
        "output.figure=false",
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(!stale.exists(), "stale temporary file left behind");
    assert!(!lock.exists());
    assert!(hashes_match(&out));
}

/// A `.npy` file as numpy writes it (version 1.0, C order).
fn npy_bytes(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let tuple = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {tuple}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

/// `.npy` messages name the right key and the real problem (issue 15): a truncated float64
/// file says it is truncated with the byte counts; float32 is accepted for deep-linear
/// inputs as for sequences (converted exactly); a bad `sequence.targets` is reported under
/// `sequence.targets`, and an empty path under its key.
#[test]
fn npy_messages_name_the_key_and_the_problem() {
    let dir = tmp("npy-msg");
    // 6x6 float64 identity, truncated to 100 of its 288 data bytes.
    let eye: Vec<u8> = (0..36)
        .flat_map(|k| if k % 7 == 0 { 1.0f64 } else { 0.0 }.to_le_bytes())
        .collect();
    std::fs::write(
        dir.join("t.npy"),
        &npy_bytes("<f8", &[6, 6], &eye)[..128 + 100],
    )
    .unwrap();
    let cfg = write(&dir, "t.toml", "[task]\nsigma_yx = \"t.npy\"\n");
    let (code, _, err) = run(bin().arg("check").arg(&cfg));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("truncated") && err.contains("288") && err.contains("100"),
        "{err}"
    );
    // float32 is read (exactly) like float64.
    let eye32: Vec<u8> = (0..36)
        .flat_map(|k| if k % 7 == 0 { 1.0f32 } else { 0.0 }.to_le_bytes())
        .collect();
    std::fs::write(dir.join("f.npy"), npy_bytes("<f4", &[6, 6], &eye32)).unwrap();
    let cfg = write(&dir, "f.toml", "[task]\nsigma_yx = \"f.npy\"\n");
    let (code, _, err) = run(bin().arg("check").arg(&cfg));
    assert_eq!(code, 0, "{err}");
    // Sequences: good inputs, 2-D targets.
    let x: Vec<u8> = (0..2 * 5).flat_map(|k| (k as f64).to_le_bytes()).collect();
    std::fs::write(dir.join("x.npy"), npy_bytes("<f8", &[2, 5, 1], &x)).unwrap();
    std::fs::write(dir.join("y.npy"), npy_bytes("<f8", &[2, 5], &x)).unwrap();
    let seq = |targets: &str| {
        format!(
            "[model]\nkind = \"rnn\"\nhidden = 4\n[task]\nkind = \"npy\"\nd_in = 1\nd_out = 1\n\
             [sequence]\ninputs = \"x.npy\"\ntargets = \"{targets}\"\n"
        )
    };
    let cfg = write(&dir, "s.toml", &seq("y.npy"));
    let (code, _, err) = run(bin().arg("check").arg(&cfg));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("sequence.targets"), "{err}");
    let cfg = write(&dir, "e.toml", &seq(""));
    let (code, _, err) = run(bin().arg("check").arg(&cfg));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("sequence.targets") && err.contains("empty"),
        "{err}"
    );
}

/// A run refuses to start when its output would not fit on the disk (the check, with an
/// impossible size), and `scan slurm --out` naming a file says so (issue 15).
#[test]
fn output_room_and_slurm_out_file() {
    let dir = tmp("room");
    let err = learndyn::record::folder::check_room(&dir, u128::MAX).unwrap_err();
    assert!(err.to_string().contains("free"), "{err}");
    learndyn::record::folder::check_room(&dir, 0).unwrap();
    let file = dir.join("a-file");
    std::fs::write(&file, b"").unwrap();
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/scan_smoke.toml");
    let (code, _, err) = run(bin()
        .args(["scan", "slurm"])
        .arg(&spec)
        .args(["--shards", "2", "--out"])
        .arg(&file));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is a file") && err.contains("a-file"), "{err}");
}

/// Every shipped `configs/recovery_*.toml` makes a dataset whose truth, scored as a model
/// through the CLI, has R^2 = 1 both ways and no spurious attractor; a typo in a spec, a
/// missing model folder and a wrong-shape latents file are input errors (exit 2) that say
/// what is wrong.
#[test]
fn recovery_data_and_score_through_the_cli() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut specs: Vec<PathBuf> = std::fs::read_dir(root.join("configs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            // Run specs (`recovery run`) are run by tests/recovery_run.rs.
            name.starts_with("recovery_") && !name.starts_with("recovery_run")
        })
        .collect();
    specs.sort();
    assert!(specs.len() >= 8, "one shipped spec per system");
    let out = tmp("recovery");
    for spec in &specs {
        let dir = out.join(spec.file_stem().unwrap());
        let (code, _, err) = run(bin()
            .args(["recovery", "data"])
            .arg(spec)
            .arg("--out")
            .arg(&dir));
        assert_eq!(code, 0, "{}: {err}", spec.display());
        for f in [
            "observations.npy",
            "inputs.npy",
            "dataset.json",
            "truth/latents.npy",
            "truth/attractors.json",
        ] {
            assert!(dir.join(f).is_file(), "{f}");
        }
        let (code, stdout, err) = run(bin().args(["recovery", "score"]).arg(&dir).arg("truth"));
        assert_eq!(code, 0, "{}: {err}", spec.display());
        assert!(stdout.contains("M10"), "{stdout}");
        let s: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("score-truth/score.json")).unwrap(),
        )
        .unwrap();
        for id in ["M4", "M5"] {
            let v = s["metrics"][id]["value"].as_f64().unwrap();
            assert!((v - 1.0).abs() < 1e-9, "{}: {id} = {v}", spec.display());
        }
        assert_eq!(
            s["metrics"]["M15"]["value"].as_f64(),
            Some(0.0),
            "{}",
            spec.display()
        );
        // The figure's table holds the true points and the truth-as-model's points in the
        // same place: every model point has a true point at distance 0 in the projection.
        let csv = std::fs::read_to_string(dir.join("score-truth/figure.csv")).unwrap();
        let pts = |prefix: &str| -> Vec<(f64, f64)> {
            csv.lines()
                .filter(|l| l.starts_with("0,")) // the state-space panel
                .filter(|l| {
                    l.split(',')
                        .nth(3)
                        .is_some_and(|s| s.trim_matches('"').starts_with(prefix))
                })
                .map(|l| {
                    let c: Vec<&str> = l.split(',').collect();
                    (c[5].parse().unwrap(), c[6].parse().unwrap())
                })
                .collect()
        };
        let truth = [
            pts("true stable"),
            pts("true unstable"),
            pts("true attractor set"),
        ]
        .concat();
        assert!(
            !pts("model").is_empty(),
            "{}: no model points drawn",
            spec.display()
        );
        for (x, y) in pts("model") {
            let d = truth
                .iter()
                .map(|t| (t.0 - x).hypot(t.1 - y))
                .fold(f64::INFINITY, f64::min);
            assert!(
                d < 1e-9,
                "{}: model point ({x}, {y}) is {d} from every true point",
                spec.display()
            );
        }
    }
    let bad = write(
        &out,
        "typo.toml",
        "[system]\nkind = \"duffing\"\ndleta = 0.5\n",
    );
    let (code, _, err) = run(bin().args(["recovery", "data"]).arg(&bad));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("dleta"), "{err}");
    let huge = write(
        &out,
        "huge.toml",
        "[system]\nkind = \"duffing\"\n[trials]\ncount = 100000000\nsteps = 1000\n",
    );
    let (code, _, err) = run(bin()
        .args(["recovery", "data"])
        .arg(&huge)
        .arg("--out")
        .arg(out.join("huge")));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("trials.count") && err.contains("available"),
        "{err}"
    );
    let ds = out.join("recovery_duffing");
    // A folder without its manifest (written last) is an interrupted write, not a dataset.
    let broken = out.join("broken");
    assert_eq!(
        run(bin()
            .args(["recovery", "data"])
            .arg(&specs[0])
            .arg("--out")
            .arg(&broken))
        .0,
        0
    );
    std::fs::remove_file(broken.join("manifest.json")).unwrap();
    let (code, _, err) = run(bin().args(["recovery", "score"]).arg(&broken).arg("truth"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("manifest.json"), "{err}");
    let (code, _, err) = run(bin()
        .args(["recovery", "score"])
        .arg(&ds)
        .arg(out.join("no-such-model")));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("latents.npy"), "{err}");
}

/// The docs' Python example of the file exchange (docs/examples/recovery_exchange.py, stdlib
/// only) runs end to end through the CLI: data, latents and fixed points, queries,
/// trajectories, score. Its crude latents (smoothed neurons) explain the latents well (M5 >
/// 0.9) yet miss the mechanism (no true stable point recovered): the benchmark's point.
/// Skipped (passing) where python3 is missing.
#[test]
fn python_file_exchange_example_runs() {
    if std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("python3 not found: skipped");
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = tmp("python-exchange");
    let (data, model) = (out.join("duffing"), out.join("crude"));
    let spec = out.join("small.toml");
    let text = std::fs::read_to_string(root.join("configs/recovery_duffing.toml"))
        .unwrap()
        .replace("count = 200", "count = 40");
    std::fs::write(&spec, text).unwrap();
    let (code, _, err) = run(bin()
        .args(["recovery", "data"])
        .arg(&spec)
        .arg("--out")
        .arg(&data));
    assert_eq!(code, 0, "{err}");
    let script = root.join("docs/examples/recovery_exchange.py");
    let py = |what: &str| {
        let o = std::process::Command::new("python3")
            .arg(&script)
            .arg(&data)
            .arg(&model)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    py("first pass");
    let (code, _, err) = run(bin().args(["recovery", "queries"]).arg(&data).arg(&model));
    assert_eq!(code, 0, "{err}");
    py("second pass");
    assert!(model.join("trajectories.npy").is_file());
    let (code, _, err) = run(bin().args(["recovery", "score"]).arg(&data).arg(&model));
    assert_eq!(code, 0, "{err}");
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("score/score.json")).unwrap())
            .unwrap();
    let m = &s["metrics"];
    assert!(m["M5"]["value"].as_f64().unwrap() > 0.9, "{}", m["M5"]);
    assert_eq!(m["M10"]["recall"].as_f64(), Some(0.0), "{}", m["M10"]);
    assert!(m["M9"]["value"].as_f64().is_some(), "{}", m["M9"]);
}

/// `learndyn recovery fit`: the latent LDS fits a dataset and its folder scores through the
/// CLI; a bad `--latent` is an input error (exit 2) naming the flag.
#[test]
fn recovery_fit_then_score_through_the_cli() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = tmp("recovery-fit");
    let spec = out.join("small.toml");
    let text = std::fs::read_to_string(root.join("configs/recovery_duffing.toml"))
        .unwrap()
        .replace("count = 200", "count = 30");
    std::fs::write(&spec, text).unwrap();
    let data = out.join("duffing");
    let (code, _, err) = run(bin()
        .args(["recovery", "data"])
        .arg(&spec)
        .arg("--out")
        .arg(&data));
    assert_eq!(code, 0, "{err}");
    let (code, stdout, err) = run(bin()
        .args(["recovery", "fit"])
        .arg(&data)
        .args(["--method", "lds", "--latent", "2"]));
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("one-step R^2"), "{stdout}");
    let fit: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("fit-lds/fit.json")).unwrap())
            .unwrap();
    assert!(fit["one_step_r2_train"].as_f64().unwrap() > 0.9, "{fit}");
    let (code, _, err) = run(bin()
        .args(["recovery", "score"])
        .arg(&data)
        .arg(data.join("fit-lds")));
    assert_eq!(code, 0, "{err}");
    // A linear model of a bistable system: one fixed point, the two foci not recovered.
    let s: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(data.join("fit-lds/score/score.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        s["metrics"]["M10"]["recall"].as_f64(),
        Some(0.0),
        "{}",
        s["metrics"]["M10"]
    );
    let (code, _, err) = run(bin()
        .args(["recovery", "fit"])
        .arg(&data)
        .args(["--method", "lds", "--latent", "0"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--latent"), "{err}");
}
