//! Parameter scans: identical tables whatever the thread count or sharding, resume after a
//! kill -9 without lost or duplicated rows, clear errors for bad specs.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_learndyn"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("learndyn-scan-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run_ok(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{err}");
    err
}

fn smoke() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/scan_smoke.toml")
}

#[test]
fn same_table_for_1_thread_2_threads_and_3_merged_shards() {
    let d = tmp("threads");
    let (a, b, c) = (d.join("a"), d.join("b"), d.join("c"));
    run_ok(
        bin()
            .args(["scan"])
            .arg(smoke())
            .arg("--out")
            .arg(&a)
            .args(["--threads", "1"]),
    );
    run_ok(
        bin()
            .args(["scan"])
            .arg(smoke())
            .arg("--out")
            .arg(&b)
            .args(["--threads", "2"]),
    );
    for k in 1..=3 {
        run_ok(
            bin()
                .args(["scan"])
                .arg(smoke())
                .arg("--out")
                .arg(&c)
                .args(["--shard", &format!("{k}/3")]),
        );
    }
    run_ok(bin().args(["scan", "merge"]).arg(&c));
    let ta = std::fs::read(a.join("results.csv")).unwrap();
    assert_eq!(
        ta,
        std::fs::read(b.join("results.csv")).unwrap(),
        "1 vs 2 threads"
    );
    assert_eq!(
        ta,
        std::fs::read(c.join("results.csv")).unwrap(),
        "1 thread vs merged shards"
    );
    let text = String::from_utf8(ta).unwrap();
    assert_eq!(text.lines().count(), 1 + 8);
    assert!(text.lines().skip(1).all(|l| l.contains(",ok,")), "{text}");
    // The same command again resumes: nothing to run, same table.
    let err = run_ok(
        bin()
            .args(["scan"])
            .arg(smoke())
            .arg("--out")
            .arg(&a)
            .args(["--threads", "1"]),
    );
    assert!(err.contains("8 resumed, 0 run now"), "{err}");
    assert_eq!(
        text.as_bytes(),
        std::fs::read(a.join("results.csv")).unwrap()
    );
}

#[test]
fn merge_reports_missing_and_needs_all_shards() {
    let d = tmp("missing");
    run_ok(
        bin()
            .args(["scan"])
            .arg(smoke())
            .arg("--out")
            .arg(&d)
            .args(["--shard", "1/3"]),
    );
    let o = bin().args(["scan", "merge"]).arg(&d).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("missing") && err.contains("shard files absent: [2, 3]"),
        "{err}"
    );
}

#[test]
fn killed_scan_resumes_to_the_identical_table() {
    // A scan long enough to kill mid-way: 12 points x 2 replicates of a few ms each.
    let d = tmp("kill");
    let spec = d.join("spec.toml");
    std::fs::write(
        &spec,
        "[scan]\nname = \"kill\"\nreplicates = 2\n[base.task]\nd_in = 8\nd_out = 8\nsingular_values = [3.0, 2.0, 1.0]\n\
         [base.model]\nhidden = 16\n[base.train]\nsteps = 4000\nlr = 0.005\n[base.output]\nrecords = 201\n\
         [[axis]]\nkey = \"init.u0\"\nlogspace = [1e-4, 1e-1, 6]\n[[axis]]\nkey = \"init.lambda\"\nvalues = [0.0, 0.5]\n",
    )
    .unwrap();
    let (full, killed) = (d.join("full"), d.join("killed"));
    run_ok(
        bin()
            .args(["scan"])
            .arg(&spec)
            .arg("--out")
            .arg(&full)
            .args(["--threads", "2"]),
    );
    let want = std::fs::read(full.join("results.csv")).unwrap();
    let rows_of = |p: &Path| {
        std::fs::read_to_string(p)
            .map(|t| t.lines().count().saturating_sub(1))
            .unwrap_or(0)
    };
    let mut killed_mid_run = false;
    for _attempt in 0..5 {
        let _ = std::fs::remove_dir_all(&killed);
        let mut child = bin()
            .args(["scan"])
            .arg(&spec)
            .arg("--out")
            .arg(&killed)
            .args(["--threads", "2"])
            .spawn()
            .unwrap();
        let t0 = Instant::now();
        // Kill once some but not all rows are on disk.
        while rows_of(&killed.join("results.csv")) < 3 && t0.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(1));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let n = rows_of(&killed.join("results.csv"));
        if n < 24 {
            killed_mid_run = true;
            break;
        }
    }
    assert!(killed_mid_run, "could not interrupt the scan mid-run");
    let err = run_ok(
        bin()
            .args(["scan"])
            .arg(&spec)
            .arg("--out")
            .arg(&killed)
            .args(["--threads", "1"]),
    );
    assert!(err.contains("resumed"), "{err}");
    assert_eq!(
        want,
        std::fs::read(killed.join("results.csv")).unwrap(),
        "resumed table differs"
    );
}

#[test]
fn partial_last_row_is_dropped_on_resume() {
    let d = tmp("partial");
    run_ok(bin().args(["scan"]).arg(smoke()).arg("--out").arg(&d));
    let path = d.join("results.csv");
    let full = std::fs::read_to_string(&path).unwrap();
    // Simulate a kill in the middle of writing the last row.
    let cut = full.trim_end().rfind('\n').unwrap() + 15;
    std::fs::write(&path, &full[..cut]).unwrap();
    let err = run_ok(bin().args(["scan"]).arg(smoke()).arg("--out").arg(&d));
    assert!(
        err.contains("dropped 1 partial or invalid rows") && err.contains("1 run now"),
        "{err}"
    );
    assert_eq!(full, std::fs::read_to_string(&path).unwrap());
}

#[test]
fn bad_specs_give_clear_errors() {
    let d = tmp("bad");
    let cases: &[(&str, &[&str])] = &[
        (
            "[scan]\n[[axis]]\nkey = \"train.lrr\"\nvalues = [0.1]\n",
            &["lrr", "unknown field"],
        ),
        (
            "[scan]\n[[axis]]\nkey = \"trian.lr\"\nvalues = [0.1]\n",
            &["trian"],
        ),
        (
            "[scan]\n[[axis]]\nkey = \"train.lr\"\nvalues = []\n",
            &["train.lr", "empty"],
        ),
        (
            "[scan]\n[[axis]]\nkey = \"train.lr\"\nlogspace = [0.0, 1.0, 3]\n",
            &["train.lr", "logspace"],
        ),
        (
            "[scan]\n[[axis]]\nkey = \"lr\"\nvalues = [0.1]\n",
            &["section.key"],
        ),
        ("[scan]\nreplicate = 3\n", &["replicate"]),
        (
            "[scan]\nmetrics = [\"speed\"]\n",
            &["scan.metrics", "final_loss"],
        ),
        (
            "[scan]\n[[axis]]\nkeys = [\"train.lr\", \"train.steps\"]\nvalues = [[0.1]]\n",
            &["zipped"],
        ),
        (
            "[scan]\n[derived]\n\"train.steps\" = \"10 / train.nope\"\n",
            &["derived.train.steps", "train.nope"],
        ),
    ];
    for (i, (text, frags)) in cases.iter().enumerate() {
        let spec = d.join(format!("bad{i}.toml"));
        std::fs::write(&spec, text).unwrap();
        let o = bin()
            .args(["scan"])
            .arg(&spec)
            .arg("--dry-run")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "case {i}: {err}");
        assert!(!err.contains("panicked"), "case {i}: {err}");
        for f in *frags {
            assert!(err.contains(f), "case {i}: error lacks {f:?}: {err}");
        }
    }
    for bad in ["4/3", "0/3", "1/0", "x/2", "3"] {
        let o = bin()
            .args(["scan"])
            .arg(smoke())
            .args(["--out"])
            .arg(d.join("s"))
            .args(["--shard", bad])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{bad}: {err}");
        assert!(err.contains("shard"), "{bad}: {err}");
    }
}

#[test]
fn slurm_script_names_the_array_and_the_resume_command() {
    let d = tmp("slurm");
    let o = bin()
        .args(["scan", "slurm"])
        .arg(smoke())
        .args(["--shards", "3", "--out"])
        .arg(&d)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(d.join("scan.sbatch")).unwrap();
    assert!(text.starts_with("#!/bin/bash\n"));
    assert!(text.contains("#SBATCH --array=0-2"));
    assert!(text.contains(" scan ") && text.contains("--threads"));
    assert!(text.contains("scan merge"));
}

#[test]
fn derived_values_and_zipped_axes() {
    let d = tmp("derived");
    let spec = d.join("spec.toml");
    std::fs::write(
        &spec,
        "[scan]\nname = \"z\"\n[base.train]\nseeds = [0]\n[[axis]]\nkeys = [\"train.lr\", \"model.hidden\"]\nvalues = [[0.02, 4], [0.04, 8]]\n\
         [derived]\n\"train.steps\" = \"2 / train.lr\"\n",
    )
    .unwrap();
    let o = bin()
        .args(["scan"])
        .arg(&spec)
        .arg("--dry-run")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("2 points x 1 replicates"), "{out}");
    assert!(
        out.contains("steps = 100") && out.contains("steps = 50"),
        "{out}"
    );
    assert!(out.contains("hidden = 8"), "{out}");
}

#[test]
fn plot_draws_heatmaps_and_lines_from_a_scan_table() {
    let d = tmp("plot");
    run_ok(bin().args(["scan"]).arg(smoke()).arg("--out").arg(&d));
    let table = d.join("results.csv");
    run_ok(
        bin()
            .arg("plot")
            .arg(&table)
            .args([
                "--x",
                "init.u0",
                "--y",
                "train.lr",
                "--z",
                "t_half_gd_m0",
                "--out",
            ])
            .arg(d.join("hm")),
    );
    run_ok(
        bin()
            .arg("plot")
            .arg(&table)
            .args([
                "--x",
                "init.u0",
                "--z",
                "t_half_gd_m0,t_half_theory_m0",
                "--group",
                "train.lr",
                "--out",
            ])
            .arg(d.join("ln")),
    );
    for f in ["hm.png", "hm.svg", "ln.png", "ln.svg"] {
        let bytes = std::fs::read(d.join(f)).unwrap();
        assert!(bytes.len() > 1000, "{f}");
    }
    assert!(std::fs::read_to_string(d.join("hm.svg"))
        .unwrap()
        .contains("t_half_gd_m0"));
    // Unknown columns are named in the error.
    let o = bin()
        .arg("plot")
        .arg(&table)
        .args(["--x", "init.u0", "--z", "nope"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("nope") && err.contains("columns are"), "{err}");
}

/// A scan over an RNN base config (the integrator): one row per point, the same table with 1
/// and 2 threads, and the theory and BPTT half-times of the outlier model agree to O(lr).
#[test]
fn rnn_scan_over_the_integrator_leak() {
    let d = tmp("rnn");
    let spec = d.join("spec.toml");
    std::fs::write(
        &spec,
        r#"
[scan]
name = "rnn_gamma"
seed = 1
replicates = 1
metrics = ["final_loss", "time_to_half"]

[base.model]
kind = "rnn"
hidden = 4
[base.rnn]
activation = "identity"
init = "aligned"
[base.task]
kind = "integrate"
d_in = 1
d_out = 1
[base.sequence]
steps = 30
input = "impulse_basis"
[base.train]
lr = 0.005
steps = 600
seeds = [0]
[base.theory]
sources = ["reduced_ode"]
[base.output]
records = 31

[[axis]]
key = "sequence.gamma"
values = [0.5, 0.8, 0.95]
"#,
    )
    .unwrap();
    let (a, b) = (d.join("a"), d.join("b"));
    run_ok(
        bin()
            .arg("scan")
            .arg(&spec)
            .arg("--out")
            .arg(&a)
            .args(["--threads", "1"]),
    );
    run_ok(
        bin()
            .arg("scan")
            .arg(&spec)
            .arg("--out")
            .arg(&b)
            .args(["--threads", "2"]),
    );
    let ta = std::fs::read_to_string(a.join("results.csv")).unwrap();
    assert_eq!(ta, std::fs::read_to_string(b.join("results.csv")).unwrap());
    let mut lines = ta.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 3);
    for r in &rows {
        assert_eq!(r[col("status")], "ok");
        let gd: f64 = r[col("t_half_gd_m0")].parse().unwrap();
        let th: f64 = r[col("t_half_theory_m0")].parse().unwrap();
        // GD at lr = 0.005 lags the flow by O(lr) in time.
        assert!((gd - th).abs() < 0.05, "gd {gd} vs theory {th}");
    }
}

/// Grid values are the decimals a user means (issue 16): a log axis hits every decade exactly
/// (`1e-4, 1e-3, ..., 1` as the doubles those literals parse to) and a linear axis hits
/// `0.1, 0.2, ...` exactly, so `d["init.u0"] == 0.01` selects rows in pandas.
#[test]
fn grid_values_are_exact_decimals() {
    use learndyn::scan::ScanSpec;
    let spec = ScanSpec::parse(
        "[scan]\n[[axis]]\nkey = \"init.u0\"\nlogspace = [1e-4, 1.0, 5]\n\
         [[axis]]\nkey = \"train.lr\"\nlinspace = [0.0, 1.0, 11]\n",
        "test",
        Path::new("."),
    )
    .unwrap();
    let values = |a: usize| -> Vec<f64> {
        spec.axes[a]
            .values
            .iter()
            .map(|v| v[0].as_float().unwrap())
            .collect()
    };
    assert_eq!(values(0), vec![1e-4, 1e-3, 1e-2, 1e-1, 1.0]);
    let tenths: Vec<f64> = (0..=10)
        .map(|k| format!("0.{k}").parse().unwrap())
        .collect();
    let mut want = tenths[..10].to_vec();
    want.push(1.0);
    assert_eq!(values(1), want);
}

/// Resume verifies every kept row (issue 15): a corrupted middle row (a metric that is not a
/// number), a row with another seed than its job's, and two different copies of one key are
/// all rerun, and the table ends identical to the clean one.
#[test]
fn corrupted_middle_rows_are_rerun_on_resume() {
    let d = tmp("corrupt");
    run_ok(bin().args(["scan"]).arg(smoke()).arg("--out").arg(&d));
    let path = d.join("results.csv");
    let full = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = full.lines().map(str::to_string).collect();
    assert!(lines.len() >= 5, "the smoke scan has at least 4 rows");
    // Row 1: last metric garbled. Row 2: wrong seed. Row 3: a second, different copy.
    let mut f: Vec<String> = lines[1].split(',').map(str::to_string).collect();
    *f.last_mut().unwrap() = "0.3x".into();
    lines[1] = f.join(",");
    let mut f: Vec<String> = lines[2].split(',').map(str::to_string).collect();
    f[2] = "12345".into();
    lines[2] = f.join(",");
    let mut f: Vec<String> = lines[3].split(',').map(str::to_string).collect();
    *f.last_mut().unwrap() = "0.5".into();
    lines.push(f.join(","));
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let err = run_ok(bin().args(["scan"]).arg(smoke()).arg("--out").arg(&d));
    assert!(err.contains("3 run now"), "{err}");
    assert_eq!(full, std::fs::read_to_string(&path).unwrap());
}

/// `scan merge` refuses a key held twice, in one shard file (identical or not) or in two,
/// naming the point, the replicate and the files (issue 15).
#[test]
fn merge_refuses_duplicated_rows() {
    let d = tmp("merge-dup");
    for k in 1..=2 {
        run_ok(
            bin()
                .args(["scan"])
                .arg(smoke())
                .arg("--out")
                .arg(&d)
                .args(["--shard", &format!("{k}/2")]),
        );
    }
    let shard = d.join("results.shard-1-of-2.csv");
    let clean = std::fs::read_to_string(&shard).unwrap();
    let first_row = clean.lines().nth(1).unwrap().to_string();
    for (what, extra) in [
        ("identical copies", first_row.clone()),
        ("with different values", {
            let mut f: Vec<&str> = first_row.split(',').collect();
            *f.last_mut().unwrap() = "0.5";
            f.join(",")
        }),
    ] {
        std::fs::write(&shard, format!("{clean}{extra}\n")).unwrap();
        let o = bin().args(["scan", "merge"]).arg(&d).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        let key: Vec<&str> = first_row.split(',').take(2).collect();
        assert!(
            err.contains(&format!("({}, {})", key[0], key[1]))
                && err.contains("results.shard-1-of-2.csv")
                && err.contains(what),
            "{err}"
        );
    }
    // The same row in the other shard's file.
    std::fs::write(&shard, &clean).unwrap();
    let other = d.join("results.shard-2-of-2.csv");
    let text = std::fs::read_to_string(&other).unwrap();
    std::fs::write(&other, format!("{text}{first_row}\n")).unwrap();
    let o = bin().args(["scan", "merge"]).arg(&d).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("results.shard-2-of-2.csv"), "{err}");
}

/// Two scans into one folder cannot both succeed (issue 15): while one writes, the other is
/// refused with the writer's PID, and the first finishes a complete table.
#[test]
fn concurrent_scans_into_one_folder_are_refused() {
    let d = tmp("concurrent");
    let spec = d.join("spec.toml");
    std::fs::write(
        &spec,
        "[scan]\nname = \"conc\"\nreplicates = 2\n[base.task]\nd_in = 8\nd_out = 8\nsingular_values = [3.0, 2.0, 1.0]\n\
         [base.model]\nhidden = 16\n[base.train]\nsteps = 4000\nlr = 0.005\n[base.output]\nrecords = 201\n\
         [[axis]]\nkey = \"init.u0\"\nlogspace = [1e-4, 1e-1, 6]\n",
    )
    .unwrap();
    let out = d.join("out");
    let mut first = bin()
        .args(["scan"])
        .arg(&spec)
        .arg("--out")
        .arg(&out)
        .args(["--threads", "1"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lock = out.join(".results.csv.lock");
    let t0 = Instant::now();
    while !lock.exists() && t0.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(1));
    }
    let o = bin()
        .args(["scan"])
        .arg(&spec)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    let first_status = first.wait().unwrap();
    assert!(first_status.success());
    assert!(
        !o.status.success(),
        "the second scan must not succeed: {err}"
    );
    assert!(err.contains(&format!("PID {}", first.id())), "{err}");
    let table = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert_eq!(table.lines().count(), 1 + 12, "{table}");
    assert!(!lock.exists(), "the lock is released");
}

/// `plot` refuses a heatmap over one column twice, and a text column as a metric, with what
/// is wrong (issue 15).
#[test]
fn plot_refuses_same_axes_and_text_columns() {
    let table = Path::new(env!("CARGO_MANIFEST_DIR")).join("figures/lazy_rich/data/results.csv");
    let d = tmp("plot-bad");
    for (args, want) in [
        (
            vec![
                "--x",
                "init.lambda",
                "--y",
                "init.lambda",
                "--z",
                "kernel_distance",
            ],
            "same column",
        ),
        (vec!["--x", "init.lambda", "--z", "status"], "not numeric"),
    ] {
        let o = bin()
            .arg("plot")
            .arg(&table)
            .args(&args)
            .arg("--out")
            .arg(d.join("p"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

/// Scan messages that name the real problem (issue 15): a `linspace` without an integer
/// count, a malformed SLURM variable, and `--out` pointing at a file.
#[test]
fn scan_messages_name_the_problem() {
    let d = tmp("scan-msg");
    let err_of = |cmd: &mut Command| {
        let o = cmd.output().unwrap();
        assert_eq!(o.status.code(), Some(2));
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    for (range, name) in [
        ("linspace = [0, 1]", "linspace"),
        ("logspace = [0.1, 1, 2.5]", "logspace"),
    ] {
        let spec = d.join(format!("{name}.toml"));
        std::fs::write(
            &spec,
            format!("[scan]\nname = \"x\"\n[[axis]]\nkey = \"train.lr\"\n{range}\n"),
        )
        .unwrap();
        let err = err_of(bin().arg("scan").arg(&spec).arg("--dry-run"));
        assert!(
            err.contains("[start, stop, count]") && err.contains("train.lr"),
            "{err}"
        );
    }
    let err = err_of(
        bin()
            .arg("scan")
            .arg(smoke())
            .args(["--shard", "slurm", "--out"])
            .arg(d.join("s"))
            .env("SLURM_ARRAY_TASK_ID", "x")
            .env("SLURM_ARRAY_TASK_COUNT", "2"),
    );
    assert!(
        err.contains("SLURM_ARRAY_TASK_ID") && err.contains("'x'"),
        "{err}"
    );
    let file = d.join("a-file");
    std::fs::write(&file, b"").unwrap();
    let err = err_of(bin().arg("scan").arg(smoke()).arg("--out").arg(&file));
    assert!(err.contains("is a file"), "{err}");
}
