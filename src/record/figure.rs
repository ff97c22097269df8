//! The run figure, built from records only: (a) mode strengths, theory vs the seed-mean GD with
//! a min-max band over seeds; (b) loss on a log axis; (c) |theory - GD| per mode over time.

use crate::experiment::{Record, Source};
use crate::plot::{draw_panels, Panel, PlotError, Series, SeriesStyle};
use std::collections::BTreeMap;
use std::path::Path;

/// Per (observable, index): time -> values over seeds (GD) or the single theory value.
type Traj = BTreeMap<u64, Vec<f64>>;

/// Values of `observable` from `source`; for GD only the seeds in `seeds` (the ones that did
/// not diverge, as in `summary.json`).
fn collect(
    records: &[Record],
    source: Source,
    observable: &str,
    seeds: &[u64],
) -> BTreeMap<Option<usize>, Traj> {
    let mut out: BTreeMap<Option<usize>, Traj> = BTreeMap::new();
    for r in records {
        let seed_ok = r.seed.is_none_or(|s| seeds.contains(&s));
        if r.source == source && r.observable == observable && seed_ok {
            out.entry(r.index)
                .or_default()
                .entry(r.t.to_bits())
                .or_default()
                .push(r.value);
        }
    }
    out
}

/// (t, mean, min, max) over the values at each time.
fn stats(traj: &Traj) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut t = Vec::new();
    let mut mean = Vec::new();
    let mut lo = Vec::new();
    let mut hi = Vec::new();
    let mut pts: Vec<(f64, &Vec<f64>)> =
        traj.iter().map(|(k, v)| (f64::from_bits(*k), v)).collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n_max = pts.iter().map(|p| p.1.len()).max().unwrap_or(0);
    for (time, v) in pts {
        // Only times where every seed still has a value (diverged seeds stop early).
        if v.len() < n_max {
            continue;
        }
        t.push(time);
        mean.push(v.iter().sum::<f64>() / v.len() as f64);
        lo.push(v.iter().cloned().fold(f64::INFINITY, f64::min));
        hi.push(v.iter().cloned().fold(f64::NEG_INFINITY, f64::max));
    }
    (t, mean, lo, hi)
}

fn thin(t: &[f64], y: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let stride = (t.len() / n.max(1)).max(1);
    let idx: Vec<usize> = (0..t.len()).step_by(stride).collect();
    (
        idx.iter().map(|&i| t[i]).collect(),
        idx.iter().map(|&i| y[i]).collect(),
    )
}

/// Draw `<stem>.png` and `<stem>.svg` for a run; the GD mean and band are over `seeds`.
pub fn draw_run_figure(
    records: &[Record],
    seeds: &[u64],
    stem: &Path,
    log_time: bool,
) -> Result<(), PlotError> {
    // The theory line: closed form if present, else reduced ODE, else full gradient flow.
    let theory_source = [Source::ClosedForm, Source::ReducedOde, Source::GradientFlow]
        .into_iter()
        .find(|s| records.iter().any(|r| r.source == *s));
    let gf_markers = theory_source != Some(Source::GradientFlow)
        && records.iter().any(|r| r.source == Source::GradientFlow);
    let mut panels = Vec::new();

    // (a) mode strengths
    // The simulated optimizer of this run (gd, sgd or adam).
    let sim = records
        .iter()
        .map(|r| r.source)
        .find(|s| s.is_simulation())
        .unwrap_or(Source::Gd);
    let sim_label = sim.name().to_uppercase();
    let gd_modes = collect(records, sim, "mode_strength", seeds);
    let mut series = Vec::new();
    let mut diff_series = Vec::new();
    let th_modes = theory_source.map(|s| collect(records, s, "mode_strength", seeds));
    let gf_modes = collect(records, Source::GradientFlow, "mode_strength", seeds);
    for (k, (idx, traj)) in gd_modes.iter().enumerate() {
        let a = idx.unwrap_or(0);
        let (t, mean, lo, hi) = stats(traj);
        series.push(Series {
            label: format!("{sim_label} mode {a} (mean, min-max over seeds)"),
            style: SeriesStyle::Simulation,
            color: a,
            x: t.clone(),
            y: mean.clone(),
            lo: Some(lo),
            hi: Some(hi),
        });
        if let Some(th) = th_modes.as_ref().and_then(|m| m.get(idx)) {
            let (tt, tv, _, _) = stats(th);
            series.push(Series {
                label: if k == 0 {
                    format!("theory ({})", theory_source.map_or("", |s| s.name()))
                } else {
                    String::new()
                },
                style: SeriesStyle::Theory,
                color: a,
                x: tt.clone(),
                y: tv.clone(),
                lo: None,
                hi: None,
            });
            // |theory - GD mean| at the shared times.
            let tmap: BTreeMap<u64, f64> =
                tt.iter().zip(&tv).map(|(t, v)| (t.to_bits(), *v)).collect();
            let (dx, dy): (Vec<f64>, Vec<f64>) = t
                .iter()
                .zip(&mean)
                .filter_map(|(t, m)| tmap.get(&t.to_bits()).map(|v| (*t, (v - m).abs())))
                .unzip();
            diff_series.push(Series {
                label: format!("mode {a}"),
                style: SeriesStyle::Simulation,
                color: a,
                x: dx,
                y: dy,
                lo: None,
                hi: None,
            });
        }
        if gf_markers {
            if let Some(gf) = gf_modes.get(idx) {
                let (gt, gv, _, _) = stats(gf);
                let (x, y) = thin(&gt, &gv, 25);
                series.push(Series {
                    label: if k == 0 {
                        "full gradient flow".into()
                    } else {
                        String::new()
                    },
                    style: SeriesStyle::Marker,
                    color: a,
                    x,
                    y,
                    lo: None,
                    hi: None,
                });
            }
        }
    }
    panels.push(Panel {
        title: "Mode strengths u_a(t) = u_a^T W_e v_a".into(),
        x_label: "gradient-flow time t = lr x step".into(),
        y_label: "mode strength".into(),
        log_x: log_time,
        log_y: false,
        series,
    });

    // (b) loss
    let mut series = Vec::new();
    if let Some(gd) = collect(records, sim, "loss", seeds).get(&None) {
        let (t, mean, lo, hi) = stats(gd);
        series.push(Series {
            label: format!("{sim_label} (mean, min-max over seeds)"),
            style: SeriesStyle::Simulation,
            color: 7,
            x: t,
            y: mean,
            lo: Some(lo),
            hi: Some(hi),
        });
    }
    if let Some(src) = theory_source {
        if let Some(th) = collect(records, src, "loss", seeds).get(&None) {
            let (t, v, _, _) = stats(th);
            series.push(Series {
                label: format!("theory ({})", src.name()),
                style: SeriesStyle::Theory,
                color: 7,
                x: t,
                y: v,
                lo: None,
                hi: None,
            });
        }
    }
    if gf_markers {
        if let Some(gf) = collect(records, Source::GradientFlow, "loss", seeds).get(&None) {
            let (t, v, _, _) = stats(gf);
            let (x, y) = thin(&t, &v, 25);
            series.push(Series {
                label: "full gradient flow".into(),
                style: SeriesStyle::Marker,
                color: 7,
                x,
                y,
                lo: None,
                hi: None,
            });
        }
    }
    if !series.is_empty() {
        panels.push(Panel {
            title: "Loss".into(),
            x_label: "gradient-flow time t = lr x step".into(),
            y_label: "loss".into(),
            log_x: log_time,
            log_y: true,
            series,
        });
    }

    // (c) discrepancy
    if diff_series.iter().any(|s| s.y.iter().any(|v| *v > 0.0)) {
        panels.push(Panel {
            title: format!("|theory - {sim_label} mean| per mode"),
            x_label: "gradient-flow time t = lr x step".into(),
            y_label: "absolute discrepancy".into(),
            log_x: log_time,
            log_y: true,
            series: diff_series,
        });
    }
    draw_panels(&panels, stem, (560, 440))
}
