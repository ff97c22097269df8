//! `learndyn recovery run SPEC`: data -> fit -> score over a grid into one table that is the
//! same whatever the thread count, interruption (kill -9) or sharding; bad specs refused with
//! exit code 2 before any work; and the table's scores are the scores of
//! `recovery data` + `recovery fit` + `recovery score` run by hand.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_learndyn"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("learndyn-rrun-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[track_caller]
fn run_ok(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{err}");
    err
}

/// The dataset of every test: the 2-bit flip-flop, a fraction of its units seen with
/// Gaussian noise (a few tenths of a second per job).
const DATASET: &str = "seed = 3\n\
[system]\nkind = \"flip_flop\"\nbits = 2\npulse_prob = 0.02\namplitude = 1.0\npulse_steps = 5\n\
[trials]\ncount = 30\nsteps = 80\ndt = 0.1\nprocess_noise = 0.05\n\
[observe]\nmixing = \"subset\"\nnoise = \"gaussian\"\nnoise_std = 0.1\n";

/// The run of the tests: 2 fractions x 2 fitters x 2 replicates = 8 jobs.
fn spec_text(keep: &str) -> String {
    format!(
        "{DATASET}[run]\nname = \"t\"\nreplicates = 2\nkeep = \"{keep}\"\n[fit]\nmethod = \"observed\"\n\
         [[axis]]\nkey = \"observe.fraction\"\nvalues = [0.5, 1.0]\n\
         [[axis]]\nkey = \"fit\"\nvalues = [{{ method = \"observed\" }}, {{ method = \"lds\", latent = 1, ridge = 0.01 }}]\n\
         labels = [\"observed\", \"lds1\"]\n"
    )
}

fn write_spec(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("spec.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn run_spec(spec: &Path, out: &Path, extra: &[&str]) -> String {
    run_ok(
        bin()
            .args(["recovery", "run"])
            .arg(spec)
            .arg("--out")
            .arg(out)
            .args(extra),
    )
}

/// The uninterrupted table on 2 threads, computed once for every test that compares to it.
fn reference() -> &'static (PathBuf, Vec<u8>) {
    static REF: OnceLock<(PathBuf, Vec<u8>)> = OnceLock::new();
    REF.get_or_init(|| {
        let d = tmp("reference");
        let spec = write_spec(&d, &spec_text("none"));
        run_spec(&spec, &d.join("out"), &["--threads", "2"]);
        let table = std::fs::read(d.join("out/results.csv")).unwrap();
        (spec, table)
    })
}

/// The table as header -> column of cells.
fn columns(table: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_reader(table);
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    let rows = r
        .records()
        .map(|x| x.unwrap().iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

#[test]
fn the_table_has_one_ok_row_per_job_with_the_documented_columns() {
    let (_, table) = reference();
    let (header, rows) = columns(table);
    assert_eq!(
        header[..8],
        [
            "point",
            "replicate",
            "seed",
            "observe.fraction",
            "fit",
            "status",
            "message",
            "neurons"
        ]
    );
    for c in [
        "M4_state_R2",
        "M5_latent_R2",
        "M10_stable_fp_F1",
        "M17_matched",
    ] {
        assert!(header.iter().any(|h| h == c), "no column {c}");
    }
    assert_eq!(rows.len(), 8);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    for r in &rows {
        assert_eq!(r[col("status")], "ok", "{r:?}");
        // observe.fraction of the 2 units.
        let want = if r[col("observe.fraction")] == "0.5" {
            "1.0"
        } else {
            "2.0"
        };
        assert_eq!(r[col("neurons")], want);
        assert_eq!(r[col("system_dim")], "2.0");
        // Replicate 0 uses the spec's seed; replicate 1 one derived from it, the same at
        // every point (one dataset per replicate, common to the grid).
        if r[1] == "0" {
            assert_eq!(r[2], "3");
        } else {
            assert_ne!(r[2], "3");
            assert_eq!(r[2], rows[1][2]);
        }
        let state = if r[col("fit")] == "lds1" {
            "1.0"
        } else {
            &r[col("neurons")]
        };
        assert_eq!(r[col("state_dim")], state);
    }
    // Same dataset (same replicate), different fitters: with both units seen, a 1-D LDS
    // explains less of the 2-D latent state than the 2-D observed-unit student; with one
    // unit seen, both are the same 1-D model (up to the LDS's ridge of 0.01).
    let value = |p: &str, rep: &str, c: &str| -> f64 {
        let r = rows.iter().find(|r| r[0] == p && r[1] == rep).unwrap();
        r[col(c)].parse().unwrap()
    };
    for rep in ["0", "1"] {
        assert!(
            value("2", rep, "M5_latent_R2") > value("3", rep, "M5_latent_R2") + 0.2,
            "replicate {rep}"
        );
        let (a, b) = (
            value("0", rep, "M4_state_R2"),
            value("1", rep, "M4_state_R2"),
        );
        assert!((a - b).abs() < 1e-3, "replicate {rep}: {a} vs {b}");
    }
}

#[test]
fn one_and_two_threads_give_the_identical_table() {
    let (spec, want) = reference();
    let d = tmp("threads");
    run_spec(spec, &d, &["--threads", "1"]);
    assert_eq!(*want, std::fs::read(d.join("results.csv")).unwrap());
    // keep = "none": no per-point files are left.
    assert!(!d.join("points").exists());
}

#[test]
fn a_killed_run_resumes_to_the_identical_table() {
    let (spec, want) = reference();
    let d = tmp("kill");
    let rows_of = |p: &Path| {
        std::fs::read_to_string(p)
            .map(|t| t.lines().count().saturating_sub(1))
            .unwrap_or(0)
    };
    let results = d.join("results.csv");
    let mut killed_mid_run = false;
    for _attempt in 0..5 {
        let _ = std::fs::remove_dir_all(&d);
        let mut child = bin()
            .args(["recovery", "run"])
            .arg(spec)
            .arg("--out")
            .arg(&d)
            .args(["--threads", "1"])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let t0 = Instant::now();
        while rows_of(&results) < 2 && t0.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(2));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        if rows_of(&results) < 8 {
            killed_mid_run = true;
            break;
        }
    }
    assert!(killed_mid_run, "could not interrupt the run mid-way");
    let err = run_spec(spec, &d, &["--threads", "2"]);
    assert!(err.contains("resumed"), "{err}");
    assert_eq!(
        *want,
        std::fs::read(&results).unwrap(),
        "resumed table differs"
    );

    // A kill in the middle of writing a row: the partial row is dropped and rerun.
    let text = String::from_utf8(want.clone()).unwrap();
    let cut = text.trim_end().rfind('\n').unwrap() + 20;
    std::fs::write(&results, &text[..cut]).unwrap();
    let err = run_spec(spec, &d, &[]);
    assert!(
        err.contains("dropped 1 partial or invalid rows") && err.contains("1 run now"),
        "{err}"
    );
    assert_eq!(*want, std::fs::read(&results).unwrap());
}

#[test]
fn merged_shards_equal_the_unsharded_table() {
    let (spec, want) = reference();
    let d = tmp("shards");
    for k in 1..=3 {
        run_spec(spec, &d, &["--shard", &format!("{k}/3"), "--threads", "1"]);
    }
    run_ok(bin().args(["recovery", "run", "merge"]).arg(&d));
    assert_eq!(*want, std::fs::read(d.join("results.csv")).unwrap());
    // The same table plots like a scan's.
    run_ok(
        bin()
            .arg("plot")
            .arg(d.join("results.csv"))
            .args(["--x", "observe.fraction", "--z", "M4_state_R2"])
            .args(["--where", "fit=lds1", "--out"])
            .arg(d.join("fig")),
    );
    assert!(d.join("fig.png").is_file());
}

#[test]
fn slurm_script_runs_the_shards_and_names_the_merge() {
    let (spec, _) = reference();
    let d = tmp("slurm");
    run_ok(
        bin()
            .args(["recovery", "run", "slurm"])
            .arg(spec)
            .args(["--shards", "4", "--out"])
            .arg(&d),
    );
    let text = std::fs::read_to_string(d.join("scan.sbatch")).unwrap();
    assert!(text.contains("#SBATCH --array=0-3"), "{text}");
    assert!(
        text.contains(" recovery run ") && text.contains("--shard slurm"),
        "{text}"
    );
    assert!(text.contains("recovery run merge"), "{text}");
}

fn fails(spec: &str) -> String {
    let d = tmp(&format!(
        "bad-{:x}",
        spec.len() * 31 + spec.bytes().map(usize::from).sum::<usize>()
    ));
    let p = write_spec(&d, spec);
    let o: Output = bin()
        .args(["recovery", "run"])
        .arg(&p)
        .arg("--out")
        .arg(d.join("out"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{spec}\n{err}");
    // Nothing ran: no table.
    assert!(!d.join("out/results.csv").exists(), "{err}");
    err
}

#[test]
fn bad_keys_exit_2_naming_the_key_before_any_work() {
    let base = format!("{DATASET}[fit]\nmethod = \"observed\"\n");
    // A typo in an axis key.
    let err = fails(&format!(
        "{base}[[axis]]\nkey = \"observe.noise_sdt\"\nvalues = [0.1, 0.2]\n"
    ));
    assert!(err.contains("observe.noise_sdt: unknown field"), "{err}");
    // A typo in a section of an axis key.
    let err = fails(&format!(
        "{base}[[axis]]\nkey = \"obsreve.noise_std\"\nvalues = [0.1]\n"
    ));
    assert!(err.contains("obsreve"), "{err}");
    // An option the method does not take.
    let err = fails(&format!(
        "{DATASET}[fit]\nmethod = \"observed\"\nlatent = 2\n"
    ));
    assert!(err.contains("fit.latent"), "{err}");
    // An unknown method, through an axis.
    let err = fails(&format!(
        "{base}[[axis]]\nkey = \"fit.method\"\nvalues = [\"observed\", \"lsd\"]\n"
    ));
    assert!(err.contains("lsd") && err.contains("point 1"), "{err}");
    // Unknown fields of [run] and [score], an unknown section, and a bad metric ID.
    let err = fails(&format!("{base}[run]\nreplicate = 2\n"));
    assert!(err.contains("run.replicate"), "{err}");
    let err = fails(&format!("{base}[score]\nmetrics = [\"M4\", \"M99\"]\n"));
    assert!(err.contains("M99"), "{err}");
    let err = fails(&format!("{base}[fitt]\nmethod = \"lds\"\n"));
    assert!(err.contains("fitt"), "{err}");
    // No [fit] at all, and a fraction outside (0, 1].
    let err = fails(DATASET);
    assert!(err.contains("[fit]"), "{err}");
    let err = fails(&format!(
        "{base}[[axis]]\nkey = \"observe.fraction\"\nvalues = [0.5, 1.5]\n"
    ));
    assert!(err.contains("observe.fraction"), "{err}");
    // Labels that do not match the values.
    let err = fails(&format!(
        "{base}[[axis]]\nkey = \"observe.noise_std\"\nvalues = [0.1, 0.2]\nlabels = [\"a\"]\n"
    ));
    assert!(err.contains("labels"), "{err}");
}

/// The `score.json` metrics of a score folder.
fn metrics(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("score.json")).unwrap();
    serde_json::from_str::<serde_json::Value>(&text).unwrap()["metrics"].clone()
}

#[test]
fn table_scores_are_those_of_data_fit_score_run_by_hand() {
    // Replicate 1 at point 3 (fraction 1.0, lds with latent 1 and ridge 0.01), by hand.
    let (_, want) = reference();
    let (header, rows) = columns(want);
    let row = rows
        .iter()
        .find(|r| r[0] == "3" && r[1] == "1")
        .expect("row (3, 1)");
    let seed = &row[2];
    let d = tmp("by-hand");
    let ds_spec = d.join("ds.toml");
    std::fs::write(
        &ds_spec,
        DATASET
            .replace("seed = 3\n", &format!("seed = {seed}\n"))
            .replace("noise_std = 0.1\n", "noise_std = 0.1\nneurons = 2\n"),
    )
    .unwrap();
    let (data, model) = (d.join("data"), d.join("model"));
    run_ok(
        bin()
            .args(["recovery", "data"])
            .arg(&ds_spec)
            .arg("--out")
            .arg(&data),
    );
    run_ok(
        bin()
            .args(["recovery", "fit"])
            .arg(&data)
            .args([
                "--method", "lds", "--latent", "1", "--ridge", "0.01", "--out",
            ])
            .arg(&model),
    );
    run_ok(
        bin()
            .args(["recovery", "score"])
            .arg(&data)
            .arg(&model)
            .arg("--out")
            .arg(d.join("score")),
    );
    let m = metrics(&d.join("score"));
    let fit: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("fit.json")).unwrap()).unwrap();
    let cell = |name: &str| -> f64 {
        let i = header.iter().position(|h| h == name).unwrap();
        row[i].parse().unwrap()
    };
    let same = |table: f64, by_hand: &serde_json::Value, what: &str| {
        let h = by_hand.as_f64().unwrap_or(f64::NAN);
        assert!(
            table.to_bits() == h.to_bits() || (table.is_nan() && by_hand.is_null()),
            "{what}: table {table}, by hand {by_hand}"
        );
    };
    same(
        cell("one_step_r2_train"),
        &fit["one_step_r2_train"],
        "one-step R^2",
    );
    same(
        cell("one_step_r2_eval"),
        &fit["one_step_r2_eval"],
        "one-step R^2 (eval)",
    );
    // Every score column, value for value (bit for bit: the same computation).
    let mut compared = 0;
    for (i, h) in header.iter().enumerate() {
        let Some((id, field)) = h.split_once('_').filter(|(id, _)| id.starts_with('M')) else {
            continue;
        };
        let entry = &m[id];
        let key = if field == entry["name"].as_str().unwrap() {
            "value"
        } else {
            field
        };
        let v = &entry[key];
        let v = match v {
            serde_json::Value::Bool(b) => serde_json::Value::from(u8::from(*b)),
            other => other.clone(),
        };
        same(row[i].parse().unwrap(), &v, h);
        compared += 1;
    }
    assert!(compared > 50, "{compared} score columns");
    // The science: a linear model has one fixed point, so it finds none of the flip-flop's
    // four stable points.
    assert_eq!(m["M10"]["true_stable"], 4);
    assert_eq!(m["M10"]["model_stable"], 1);
    assert!(cell("M10_stable_fp_F1").abs() < f64::EPSILON);
}

#[test]
fn kept_scores_and_every_scalar_score_field_has_a_column_or_a_reason() {
    use learndyn::recovery::run::columns::{id_name, NOT_IN_TABLE, SCORE_COLUMNS};
    let d = tmp("keep");
    let spec = write_spec(
        &d,
        &spec_text("scores").replace("replicates = 2", "replicates = 1"),
    );
    run_spec(&spec, &d.join("out"), &[]);
    let p = d.join("out/points/p3_r0");
    for f in ["spec.toml", "fit.toml", "fit.json", "score.json"] {
        assert!(p.join(f).is_file(), "no {f}");
    }
    assert!(!p.join("model").exists(), "keep = scores keeps no model");
    // The kept spec makes the point's dataset again.
    run_ok(
        bin()
            .args(["recovery", "data"])
            .arg(p.join("spec.toml"))
            .arg("--out")
            .arg(d.join("again")),
    );
    let ds: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("again/dataset.json")).unwrap())
            .unwrap();
    assert_eq!(ds["neurons"], 2);
    // Every scalar field of every metric is a column or listed as left out, so a field added
    // to the scorer cannot silently miss the table. Scored here: the kept model scores, and
    // the truth of systems with a limit cycle and a line attractor (M13, M14 apply).
    let mut reports = vec![metrics(&p), metrics(&d.join("out/points/p0_r0"))];
    for (name, sys) in [
        ("vdp", "kind = \"van_der_pol\"\n"),
        ("line", "kind = \"integrator\"\ndim = 2\nleak = 0.0\n"),
    ] {
        let ds = d.join(format!("{name}.toml"));
        std::fs::write(
            &ds,
            format!("[system]\n{sys}[trials]\ncount = 20\nsteps = 60\n[observe]\nneurons = 6\n"),
        )
        .unwrap();
        let data = d.join(name);
        run_ok(
            bin()
                .args(["recovery", "data"])
                .arg(&ds)
                .arg("--out")
                .arg(&data),
        );
        run_ok(bin().args(["recovery", "score"]).arg(&data).arg("truth"));
        reports.push(metrics(&data.join("score-truth")));
    }
    for m in &reports {
        for (id, name, fields) in SCORE_COLUMNS {
            let entry = &m[id_name(id)];
            assert_eq!(entry["name"], name, "{id:?}");
            for (k, v) in entry.as_object().unwrap() {
                let scalar = v.is_number() || v.is_boolean();
                let listed = k == "value"
                    || fields.contains(&k.as_str())
                    || NOT_IN_TABLE.contains(&(id, k.as_str()));
                assert!(!scalar || listed, "{id:?}.{k} = {v} has no column");
            }
        }
    }
    let applied: BTreeMap<String, bool> = ["M13", "M14"]
        .iter()
        .map(|id| {
            (
                id.to_string(),
                reports.iter().any(|m| !m[id]["value"].is_null()),
            )
        })
        .collect();
    assert!(applied.values().all(|b| *b), "{applied:?}");
}

#[test]
fn the_shipped_example_runs_and_shows_linear_fits_miss_the_attractors() {
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/recovery_run_example.toml");
    let d = tmp("example");
    run_spec(&spec, &d, &[]);
    let (header, rows) = columns(&std::fs::read(d.join("results.csv")).unwrap());
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(rows.len(), 8);
    for r in &rows {
        assert_eq!(r[col("status")], "ok", "{r:?}");
        // Linear models have one fixed point: none of the four stable ones is found.
        assert_eq!(r[col("M10_true_stable")], "4.0");
        assert_eq!(r[col("M10_model_stable")], "1.0");
        assert_eq!(r[col("M10_stable_fp_F1")], "0.0");
    }
    // Seeing both units explains the latent state better than seeing one (observed-unit
    // student, low noise).
    let m5 = |fraction: &str| -> f64 {
        let r = rows
            .iter()
            .find(|r| {
                r[col("observe.fraction")] == fraction
                    && r[col("observe.noise_std")] == "0.05"
                    && r[col("fit")] == "observed"
            })
            .unwrap();
        r[col("M5_latent_R2")].parse().unwrap()
    };
    assert!(
        m5("1.0") > m5("0.5") + 0.1,
        "{} vs {}",
        m5("1.0"),
        m5("0.5")
    );
}
