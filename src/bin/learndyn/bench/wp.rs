//! Work-precision figure from benchmark JSON lines (learndyn's and the peers'): for each
//! problem, error against wall time and against right-hand-side evaluations, one line per
//! solver over the tolerance sweep.

use learndyn::plot::{draw_panels, Panel, PlotError, Series, SeriesStyle};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// (problem label) -> (solver) -> points (wall_s, nfev, error), sorted by rtol.
type Points = BTreeMap<String, BTreeMap<String, Vec<(f64, f64, f64, f64)>>>;

/// Collect points from JSON lines (`workload` `gradient_flow_ode_*`).
pub fn collect(lines: &[Value]) -> Points {
    let mut out: Points = BTreeMap::new();
    for l in lines {
        let w = l["workload"].as_str().unwrap_or("");
        if !w.starts_with("gradient_flow_ode") {
            continue;
        }
        let c = &l["config"];
        let problem = if w.ends_with("modes") {
            format!("modes K = {}", c["K"])
        } else {
            format!("matrix N = {}", c["N"])
        };
        let rtol = c["rtol"].as_f64().unwrap_or(f64::NAN);
        if let Some(results) = l["results"].as_object() {
            for (name, r) in results {
                let err = r
                    .get("err_end_rel")
                    .or_else(|| r.get("err_prod_rel"))
                    .and_then(Value::as_f64);
                let wall = r["wall_s"]["median"].as_f64();
                let nfev = r["nfev"].as_f64();
                if let (Some(e), Some(w), Some(f)) = (err, wall, nfev) {
                    out.entry(problem.clone())
                        .or_default()
                        .entry(name.clone())
                        .or_default()
                        .push((rtol, w, f, e));
                }
            }
        }
    }
    for solvers in out.values_mut() {
        for pts in solvers.values_mut() {
            pts.sort_by(|a, b| b.0.total_cmp(&a.0));
        }
    }
    out
}

/// Draw `<stem>.png` / `.svg`: two panels per problem (error vs wall time, error vs RHS evals).
pub fn draw(points: &Points, stem: &Path) -> Result<(), PlotError> {
    let mut panels = Vec::new();
    for (problem, solvers) in points {
        for (x_label, pick) in [
            ("wall time per solve [s]", 1usize),
            ("right-hand-side evaluations", 2usize),
        ] {
            let series = solvers
                .iter()
                .enumerate()
                .map(|(i, (name, pts))| Series {
                    label: name.clone(),
                    style: if name.starts_with("learndyn") {
                        SeriesStyle::Simulation
                    } else {
                        SeriesStyle::Theory
                    },
                    color: i,
                    x: pts
                        .iter()
                        .map(|p| if pick == 1 { p.1 } else { p.2 })
                        .collect(),
                    y: pts.iter().map(|p| p.3).collect(),
                    lo: None,
                    hi: None,
                })
                .collect();
            panels.push(Panel {
                title: format!(
                    "{problem}: error vs {}",
                    if pick == 1 { "time" } else { "work" }
                ),
                x_label: x_label.into(),
                y_label: "relative error at t = 20".into(),
                log_x: true,
                log_y: true,
                series,
            });
        }
    }
    draw_panels(&panels, stem, (560, 440))
}
