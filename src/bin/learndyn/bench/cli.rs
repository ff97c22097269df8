//! The `learndyn bench ...` subcommands: their arguments and the printed table; the
//! workloads themselves are the sibling modules.

use anyhow::Context;
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Gradient-flow ODEs (peers' workload 3): K Saxe modes and the two-layer matrix flow.
    Ode {
        /// Print one JSON line per configuration (append to the peers' results.jsonl).
        #[arg(long)]
        json: bool,
        /// Mode counts K of the modes problem (comma separated; "" to skip).
        #[arg(long, default_value = "10,100,1000", value_parser = parse_sizes)]
        modes: Sizes,
        /// Sizes N of the matrix problem (comma separated; "" to skip).
        #[arg(long, default_value = "16,64,256", value_parser = parse_sizes)]
        matrix: Sizes,
        /// Methods (comma separated).
        #[arg(long, value_delimiter = ',', default_value = "dopri5,tsit5,dop853")]
        methods: Vec<String>,
        /// Relative tolerance(s), comma separated: a list runs a work-precision sweep (one
        /// line per tolerance) with atol = rtol / 100 unless --atol is given.
        #[arg(long, default_value = "1e-8", value_parser = parse_floats)]
        rtol: Floats,
        /// Absolute tolerance [default: 1e-10, or rtol / 100 for a sweep].
        #[arg(long)]
        atol: Option<f64>,
        /// Timed repeats after one warm-up.
        #[arg(long, default_value_t = 5)]
        repeats: usize,
    },
    /// Deep linear network, full-batch GD on data (peers' workload 1): identical problems,
    /// loss checked against the peers' to 1e-9, time per step.
    Gd {
        /// Print one JSON line per configuration (append to the peers' results.jsonl).
        #[arg(long)]
        json: bool,
        /// Timed repeats after one warm-up.
        #[arg(long, default_value_t = 5)]
        repeats: usize,
        /// Only configurations with N in this list (default: the peers' 64, 256, 1024).
        #[arg(long, default_value = "64,256,1024", value_parser = parse_sizes)]
        n: Sizes,
    },
    /// Vanilla RNN, full-batch BPTT (peers' workload 2): identical problems, loss checked
    /// against the peers' to 1e-9, time per step.
    Rnn {
        /// Print one JSON line per configuration (append to the peers' results.jsonl).
        #[arg(long)]
        json: bool,
        /// Timed repeats after one warm-up.
        #[arg(long, default_value_t = 5)]
        repeats: usize,
        /// Only configurations with N in this list (default: the peers' 64, 256, 512).
        #[arg(long, default_value = "64,256,512", value_parser = parse_sizes)]
        n: Sizes,
    },
    /// Latent GRU with an exp-Poisson readout fitted by Adam (peers' workload 4): identical
    /// problems, loss checked against the peers' to 1e-9 when recorded, time per step and the
    /// share of the GEMM bound.
    Fit {
        /// Print one JSON line per configuration (append to the peers' results.jsonl).
        #[arg(long)]
        json: bool,
        /// Timed repeats after one warm-up.
        #[arg(long, default_value_t = 5)]
        repeats: usize,
        /// Only configurations with N in this list (default: the peers' 64, 128).
        #[arg(long, default_value = "64,128", value_parser = parse_sizes)]
        n: Sizes,
    },
    /// Scan engine: overhead per trivial point and 1 -> 2 thread speedup.
    Scan {
        /// Print a JSON line instead of a summary.
        #[arg(long)]
        json: bool,
        /// Trivial points for the overhead measurement.
        #[arg(long, default_value_t = 2000)]
        points: usize,
        /// Timed repeats after one warm-up.
        #[arg(long, default_value_t = 5)]
        repeats: usize,
    },
    /// Draw the work-precision figure from benchmark JSON lines (learndyn's and the peers').
    PlotWp {
        /// Results file (JSON lines).
        results: PathBuf,
        /// Output stem: writes STEM.png and STEM.svg.
        #[arg(long)]
        out: PathBuf,
    },
}

/// A comma-separated list of floats.
/// A comma-separated list of numbers (`--rtol 1e-6,1e-9`).
#[derive(Clone, Debug)]
pub struct Floats(Vec<f64>);

fn parse_floats(s: &str) -> Result<Floats, String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| match x.parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
            _ => Err(format!("'{x}' is not a positive number")),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Floats)
}

/// A comma-separated list of sizes; the empty string is the empty list.
/// A comma-separated list of sizes (`--n 16,64`).
#[derive(Clone, Debug)]
pub struct Sizes(Vec<usize>);

fn parse_sizes(s: &str) -> Result<Sizes, String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| {
            x.parse::<usize>()
                .map_err(|_| format!("'{x}' is not a size; give e.g. 10,100,1000 or \"\" to skip"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Sizes)
}

pub fn bench(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Ode {
            json,
            modes,
            matrix,
            methods,
            rtol,
            atol,
            repeats,
        } => {
            use super::ode;
            let sweep = rtol.0.len() > 1;
            let mut lines = Vec::new();
            for &r in &rtol.0 {
                let b = ode::OdeBench {
                    rtol: r,
                    atol: atol.unwrap_or(if sweep { r / 100.0 } else { 1e-10 }),
                    repeats,
                    methods: methods.clone(),
                    ..ode::OdeBench::default()
                };
                for &k in &modes.0 {
                    lines.push(ode::modes_line(&b, k).map_err(anyhow::Error::msg)?);
                }
                for &n in &matrix.0 {
                    lines.push(ode::matrix_line(&b, n).map_err(anyhow::Error::msg)?);
                }
            }
            for line in &lines {
                if json {
                    println!("{}", serde_json::to_string(line)?);
                } else {
                    print_bench_row(line);
                }
            }
            Ok(())
        }
        BenchCommand::Rnn { json, repeats, n } => {
            use super::rnn;
            for &(nn, t, b, phi, steps) in rnn::CONFIGS.iter() {
                if !n.0.contains(&nn) {
                    continue;
                }
                let line =
                    rnn::rnn_line(nn, t, b, phi, steps, repeats, 0).map_err(anyhow::Error::msg)?;
                if json {
                    println!("{}", serde_json::to_string(&line)?);
                } else {
                    let r = &line["results"]["learndyn"];
                    println!(
                        "{phi:<8} N={nn} T={t} B={b} S={steps}: {:.4} ms/step (min {:.4}); loss {} -> {}; checks {}",
                        1e3 * r["time_per_step_s"]["median"].as_f64().unwrap_or(f64::NAN),
                        1e3 * r["time_per_step_s"]["min"].as_f64().unwrap_or(f64::NAN),
                        r["loss_0"],
                        r["loss_S"],
                        if line["ok"] == true { "ok" } else { "FAILED" }
                    );
                }
            }
            Ok(())
        }
        BenchCommand::Fit { json, repeats, n } => {
            use super::fit;
            for c in fit::CONFIGS {
                if !n.0.contains(&c.0) {
                    continue;
                }
                let line = fit::fit_line(c, repeats, 0).map_err(anyhow::Error::msg)?;
                if json {
                    println!("{}", serde_json::to_string(&line)?);
                } else {
                    let r = &line["results"]["learndyn"];
                    let (nn, t, b, _, _, steps) = c;
                    println!(
                        "GRU fit N={nn} T={t} B={b} S={steps}: {:.3} ms/step (min {:.3}); loss {} -> {}; wall/GEMM-bound {:.2}; checks {}",
                        1e3 * r["time_per_step_s"]["median"].as_f64().unwrap_or(f64::NAN),
                        1e3 * r["time_per_step_s"]["min"].as_f64().unwrap_or(f64::NAN),
                        r["loss_0"],
                        r["loss_S"],
                        r["wall_over_gemm_bound"].as_f64().unwrap_or(f64::NAN),
                        if line["ok"] == true { "ok" } else { "FAILED" }
                    );
                }
            }
            Ok(())
        }
        BenchCommand::Gd { json, repeats, n } => {
            use super::gd;
            for (nn, l, p, steps) in gd::CONFIGS {
                if !n.0.contains(&nn) {
                    continue;
                }
                let line = gd::gd_line(nn, l, p, steps, repeats, 0).map_err(anyhow::Error::msg)?;
                if json {
                    println!("{}", serde_json::to_string(&line)?);
                } else {
                    let r = &line["results"]["learndyn"];
                    println!(
                        "N={nn} L={l} P={p} S={steps}: {:.4} ms/step (min {:.4}); loss {} -> {}; wall/GEMM-bound {:.2}; checks {}",
                        1e3 * r["time_per_step_s"]["median"].as_f64().unwrap_or(f64::NAN),
                        1e3 * r["time_per_step_s"]["min"].as_f64().unwrap_or(f64::NAN),
                        r["loss_0"],
                        r["loss_S"],
                        r["wall_over_gemm_bound"].as_f64().unwrap_or(f64::NAN),
                        if line["ok"] == true { "ok" } else { "FAILED" }
                    );
                }
            }
            Ok(())
        }
        BenchCommand::Scan {
            json,
            points,
            repeats,
        } => {
            let line = super::scan::scan_line(points, repeats).map_err(anyhow::Error::msg)?;
            if json {
                println!("{}", serde_json::to_string(&line)?);
            } else {
                let r = &line["results"]["learndyn"];
                println!(
                    "overhead per trivial point: {:.1} us (median of {repeats}); small scan: 1 thread {:.3} s, 2 threads {:.3} s, speedup {:.2}x",
                    1e6 * r["overhead_per_point_s"]["median"].as_f64().unwrap_or(f64::NAN),
                    r["small_scan_1_thread_s"]["median"].as_f64().unwrap_or(f64::NAN),
                    r["small_scan_2_threads_s"]["median"].as_f64().unwrap_or(f64::NAN),
                    r["speedup_1_to_2_threads"].as_f64().unwrap_or(f64::NAN)
                );
            }
            Ok(())
        }
        BenchCommand::PlotWp { results, out } => {
            let text = std::fs::read_to_string(&results)
                .with_context(|| format!("reading {}", results.display()))?;
            let lines: Vec<serde_json::Value> = text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(serde_json::from_str)
                .collect::<Result<_, _>>()
                .with_context(|| format!("{} is not JSON lines", results.display()))?;
            let points = super::wp::collect(&lines);
            super::wp::draw(&points, &out)?;
            eprintln!("wrote {}.png and {}.svg", out.display(), out.display());
            Ok(())
        }
    }
}

fn print_bench_row(line: &serde_json::Value) {
    let c = &line["config"];
    let size = if c["problem"] == "modes" {
        format!("modes K={}", c["K"])
    } else {
        format!("matrix N={}", c["N"])
    };
    if let Some(results) = line["results"].as_object() {
        for (name, r) in results {
            let err = r
                .get("err_end_rel")
                .or_else(|| r.get("err_prod_rel"))
                .and_then(|v| v.as_f64())
                .unwrap_or(f64::NAN);
            let bound = r
                .get("wall_over_gemm_bound")
                .and_then(|v| v.as_f64())
                .map(|x| format!("  wall/GEMM-bound {x:.2}"))
                .unwrap_or_default();
            println!(
                "{size:<14} {name:<16} {:>10.4} ms (min {:.4})  nfev {:>6}  steps {}+{}  rel err {:.1e}{bound}",
                1e3 * r["wall_s"]["median"].as_f64().unwrap_or(f64::NAN),
                1e3 * r["wall_s"]["min"].as_f64().unwrap_or(f64::NAN),
                r["nfev"],
                r["n_steps"],
                r["n_rejected"],
                err
            );
        }
    }
    if line["ok"] != true {
        println!("{size:<14} CHECKS FAILED: {}", line["checks"]);
    }
}
