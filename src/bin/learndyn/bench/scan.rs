//! Scan engine benchmarks: overhead per point (trivial points: no theory, no training steps)
//! and the speedup from 1 to 2 threads on a scan of small points. Wall times of whole scans,
//! median of `repeats` after a warm-up.

use super::{summarize, time_it};
use learndyn::scan::{self, ScanSpec};
use serde_json::{json, Value};
use std::path::Path;

fn spec(text: &str) -> Result<ScanSpec, String> {
    ScanSpec::parse(text, "<bench>", Path::new(".")).map_err(|e| e.to_string())
}

fn time_scan(s: &ScanSpec, threads: usize, repeats: usize) -> Result<Vec<f64>, String> {
    let dir = std::env::temp_dir().join(format!("learndyn-bench-scan-{}", std::process::id()));
    let mut err = None;
    let t = time_it(repeats, || {
        let _ = std::fs::remove_dir_all(&dir);
        if let Err(e) = scan::run(s, &dir, threads, None, &|_, _| {}) {
            err = Some(e.to_string());
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
    match err {
        Some(e) => Err(e),
        None => Ok(t.wall),
    }
}

/// One JSON line: overhead per trivial point, and 1 -> 2 thread speedup on small points.
pub fn scan_line(points: usize, repeats: usize) -> Result<Value, String> {
    let trivial = spec(&format!(
        "[scan]\nname = \"trivial\"\nmetrics = [\"final_loss\"]\n\
         [base.task]\nd_in = 2\nd_out = 2\nsingular_values = [1.0]\n[base.model]\nhidden = 2\n\
         [base.train]\nsteps = 0\n[base.theory]\nsources = []\n\
         [base.output]\nobservables = [\"loss\"]\nrecords = 2\nfigure = false\nweights = false\n\
         [[axis]]\nkey = \"init.u0\"\nlinspace = [0.001, 0.1, {points}]\n"
    ))?;
    let wall = time_scan(&trivial, 1, repeats)?;
    let per_point: Vec<f64> = wall.iter().map(|w| w / points as f64).collect();
    let small = spec(
        "[scan]\nname = \"small\"\nreplicates = 4\nmetrics = [\"final_loss\", \"time_to_half\"]\n\
         [base.task]\nd_in = 6\nd_out = 6\nsingular_values = [3.0, 2.0, 1.0]\n[base.model]\nhidden = 8\n\
         [base.train]\nsteps = 1000\n[base.output]\nrecords = 51\n\
         [[axis]]\nkey = \"init.u0\"\nlogspace = [1e-4, 1e-1, 20]\n",
    )?;
    let one = time_scan(&small, 1, repeats)?;
    let two = time_scan(&small, 2, repeats)?;
    let med = |v: &[f64]| summarize(v)["median"].as_f64().unwrap_or(f64::NAN);
    let speedup = med(&one) / med(&two);
    Ok(json!({
        "workload": "scan_engine",
        "config": {"trivial_points": points, "small_runs": small.n_jobs(), "repeats": repeats},
        "results": {
            "learndyn": {
                "overhead_per_point_s": summarize(&per_point),
                "small_scan_1_thread_s": summarize(&one),
                "small_scan_2_threads_s": summarize(&two),
                "speedup_1_to_2_threads": speedup,
            }
        },
        "checks": {
            "overhead_below_1ms": {"value": med(&per_point), "pass": med(&per_point) < 1e-3},
            "speedup_at_least_1_8": {"value": speedup, "pass": speedup >= 1.8},
        },
        "env": super::env_info(1),
    }))
}
