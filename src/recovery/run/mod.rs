//! `learndyn recovery run SPEC` (issue 12 item 3): data -> fit -> score for every
//! combination of a run spec's axes ([`spec::RunSpec`]) into one results table, on the scan
//! engine ([`crate::scan::engine`]): parallel, resumable after `kill -9`, shardable, runnable
//! as a SLURM job array, and the same table whatever the thread count, order or sharding.
//!
//! A job `(point, replicate)` generates the point's dataset in memory
//! ([`crate::recovery::dataset::generate`], seed [`spec::replicate_seed`]), fits it with the
//! point's [`crate::recovery::fit::FitSpec`] into a network folder under
//! `points/p<point>_r<replicate>/model/`, scores that folder as `learndyn recovery score`
//! does ([`crate::recovery::score`]) and writes one row:
//! `point,replicate,seed,<axis keys>,status,message,<job columns>,<score columns>`
//! ([`columns`]). `seed` is the dataset's seed; `status` is `ok`, `diverged` (the fit is not
//! finite) or `failed` (`message` says why); the value cells of a row that is not `ok` are
//! `nan`. Library code never prints; progress goes to a callback.

pub mod columns;
pub mod spec;

use crate::error::Result;
use crate::recovery::{dataset, score};
use crate::scan::engine::{self, fmt_f64, Jobs, ScanReport, Shard};
use columns::{number, score_columns, JOB_COLUMNS};
use spec::{Job, Keep, MetricId, RunSpec};
use std::path::{Path, PathBuf};

/// The header of a run's table (see the module docs).
pub fn header(spec: &RunSpec) -> Vec<String> {
    let mut h = vec!["point".to_string(), "replicate".into(), "seed".into()];
    h.extend(spec.axis_keys());
    h.push("status".into());
    h.push("message".into());
    h.extend(JOB_COLUMNS.iter().map(|c| c.to_string()));
    h.extend(
        score_columns(spec.score.metrics.as_deref())
            .into_iter()
            .map(|c| c.0),
    );
    h
}

/// The folder of job `(point, replicate)`'s files under the run's output folder.
pub fn point_dir(dir: &Path, point: u64, replicate: u64) -> PathBuf {
    dir.join("points").join(format!("p{point}_r{replicate}"))
}

/// The jobs of a run spec.
struct RecoveryJobs<'a> {
    spec: &'a RunSpec,
    header: Vec<String>,
    scores: Vec<(String, MetricId, &'static str)>,
}

/// How a job ended: its value cells, or why it diverged.
enum Outcome {
    Ok(Vec<f64>),
    Diverged(String),
}

impl RecoveryJobs<'_> {
    fn n_values(&self) -> usize {
        JOB_COLUMNS.len() + self.scores.len()
    }

    /// Data -> fit -> score of one job in `work` (emptied first).
    fn compute(&self, job: &Job, work: &Path) -> Result<Outcome> {
        let keep = self.spec.run.keep;
        let d = dataset::generate(&job.dataset)?;
        std::fs::create_dir_all(work).map_err(|e| crate::error::Error::io(work, e))?;
        if keep != Keep::None {
            crate::npy::write_atomic(&work.join("spec.toml"), job.dataset.canonical().as_bytes())?;
            let fit = toml::to_string(&job.fit).unwrap_or_default();
            crate::npy::write_atomic(&work.join("fit.toml"), fit.as_bytes())?;
        }
        let model = work.join("model");
        let fit = job.fit.fit(&d, &model, job.dataset.seed)?;
        if let Some(why) = fit.diverged {
            return Ok(Outcome::Diverged(why));
        }
        let fitted = score::Fitted::read(&model, &d)?;
        let wanted = |id: &str| {
            self.scores
                .iter()
                .any(|(_, m, _)| columns::id_name(*m) == id)
        };
        let report = score::score_selected(&d, &fitted, &wanted)?;
        if keep != Keep::None {
            report.write(work)?;
            let _ = std::fs::copy(model.join("fit.json"), work.join("fit.json"));
        }
        let mut values = vec![
            d.meta.neurons as f64,
            d.latents.shape[2] as f64,
            fit.state_dim as f64,
            fit.one_step_r2_train,
            fit.one_step_r2_eval,
        ];
        for (_, id, field) in &self.scores {
            let m = report.metrics.get(&columns::id_name(*id));
            values.push(m.map_or(f64::NAN, |m| number(&m[*field])));
        }
        Ok(Outcome::Ok(values))
    }

    /// Remove what `keep` does not keep of a job's folder.
    fn clean(&self, work: &Path) {
        match self.spec.run.keep {
            Keep::None => {
                let _ = std::fs::remove_dir_all(work);
            }
            Keep::Scores => {
                let _ = std::fs::remove_dir_all(work.join("model"));
            }
            Keep::All => {}
        }
    }
}

impl Jobs for RecoveryJobs<'_> {
    fn header(&self) -> &[String] {
        &self.header
    }
    fn n_points(&self) -> u64 {
        self.spec.n_points()
    }
    fn replicates(&self) -> u64 {
        self.spec.run.replicates
    }
    fn run(&self, point: u64, replicate: u64, dir: &Path) -> Result<Vec<String>> {
        let job = self.spec.job(point, replicate)?;
        let mut row = vec![
            point.to_string(),
            replicate.to_string(),
            job.dataset.seed.to_string(),
        ];
        row.extend(self.spec.cells(point));
        let work = point_dir(dir, point, replicate);
        // A kill may have left a partial folder of this job.
        let _ = std::fs::remove_dir_all(&work);
        let nan = vec!["nan".to_string(); self.n_values()];
        match self.compute(&job, &work) {
            Ok(Outcome::Ok(values)) => {
                row.extend(["ok".to_string(), String::new()]);
                row.extend(values.into_iter().map(fmt_f64));
            }
            Ok(Outcome::Diverged(why)) => {
                row.extend(["diverged".to_string(), why]);
                row.extend(nan);
            }
            Err(e) => {
                // Paths inside the output folder are named relative to it, so the message
                // (and the table) does not depend on where the run was put.
                let prefix = format!("{}/", dir.display());
                row.extend(["failed".to_string(), e.to_string().replace(&prefix, "")]);
                row.extend(nan);
            }
        }
        self.clean(&work);
        Ok(row)
    }
    fn row_is_valid(&self, point: u64, replicate: u64, row: &[String]) -> bool {
        let Ok(job) = self.spec.job(point, replicate) else {
            return false;
        };
        let mut want = vec![
            point.to_string(),
            replicate.to_string(),
            job.dataset.seed.to_string(),
        ];
        want.extend(self.spec.cells(point));
        engine::standard_row_is_valid(&self.header, row, &want)
    }
    fn manifest(&self) -> serde_json::Value {
        let spec = self.spec;
        serde_json::json!({
            "kind": "recovery",
            "name": spec.run.name,
            "spec_origin": spec.origin,
            // The spec text, the resolved base document (a base file can change under a
            // spec) and the grid values.
            "spec_fingerprint": format!(
                "{:016x}",
                engine::fingerprint(&format!(
                    "{}\n{}\n{}",
                    spec.text,
                    toml::Value::Table(spec.base.clone()),
                    serde_json::to_string(&spec.axes).unwrap_or_default()
                ))
            ),
            "points": spec.n_points(),
            "replicates": spec.run.replicates,
            "jobs": spec.n_points() * spec.run.replicates,
            "header": self.header,
            "axes": spec.axes,
            // The document every point starts from: the dataset spec's keys and [fit].
            "base": spec.base,
            "score": spec.score,
            "keep": spec.run.keep,
            "learndyn_version": env!("CARGO_PKG_VERSION"),
        })
    }
    fn finish(&self, dir: &Path, jobs: &[(u64, u64)]) -> Result<()> {
        // A kill between a row and its cleanup leaves files `keep` does not want.
        for &(p, r) in jobs {
            let work = point_dir(dir, p, r);
            if work.exists() {
                self.clean(&work);
            }
        }
        let _ = std::fs::remove_dir(dir.join("points")); // only if empty
        Ok(())
    }
}

/// Run (or resume) a recovery run into `dir` with `threads` workers, all jobs or `shard`'s
/// ([`engine::run`]); `progress(done, total)` is called as jobs finish.
pub fn run(
    spec: &RunSpec,
    dir: &Path,
    threads: usize,
    shard: Option<Shard>,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<ScanReport> {
    let jobs = RecoveryJobs {
        spec,
        header: header(spec),
        scores: score_columns(spec.score.metrics.as_deref()),
    };
    engine::run(&jobs, dir, threads, shard, progress)
}
