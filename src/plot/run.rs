//! The figure of a run (`figure.png`, `figure.svg` in its output folder), laid out from its
//! records only. Deep linear networks: (a) mode strengths, theory vs the seed-mean GD with a
//! min-max band over seeds; (b) loss on a log axis; (c) |theory - GD| per mode over time. RNNs:
//! see [`draw_rnn_figure`].

use super::{draw_panels, Panel, PlotError, Series, SeriesStyle};
use crate::experiment::config::ModelKind;
use crate::experiment::{Observable, Record, Source};
use std::collections::BTreeMap;
use std::path::Path;

/// Per (observable, index): time -> values over seeds (GD) or the single theory value.
type Traj = BTreeMap<u64, Vec<f64>>;

/// Values of `observable` from `source`; for GD only the seeds in `seeds` (the ones that did
/// not diverge, as in `summary.json`).
fn collect(
    records: &[Record],
    source: Source,
    observable: Observable,
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

/// Theory source drawn as the line (closed form if present, else reduced ODE, else the full
/// gradient flow), whether the gradient flow gets markers, and the simulated optimizer.
fn sources(records: &[Record]) -> (Option<Source>, bool, Source) {
    let theory_source = [Source::ClosedForm, Source::ReducedOde, Source::GradientFlow]
        .into_iter()
        .find(|s| records.iter().any(|r| r.source == *s));
    let gf_markers = theory_source != Some(Source::GradientFlow)
        && records.iter().any(|r| r.source == Source::GradientFlow);
    let sim = records
        .iter()
        .map(|r| r.source)
        .find(|s| s.is_simulation())
        .unwrap_or(Source::Gd);
    (theory_source, gf_markers, sim)
}

/// Legend text of the reference line: the full gradient flow is named as such, other sources
/// are "theory (source)".
fn theory_label(source: Option<Source>) -> String {
    match source {
        Some(Source::GradientFlow) => "full gradient flow".to_string(),
        s => format!("theory ({})", s.map_or("", |s| s.name())),
    }
}

/// One panel of `observable` over time for the indices `keep` accepts: the seed-mean
/// simulation with its min-max band, the theory line, gradient-flow markers; plus the
/// `|theory - mean|` series per index.
#[allow(clippy::too_many_arguments)]
fn time_panel(
    records: &[Record],
    seeds: &[u64],
    observable: Observable,
    keep: &dyn Fn(usize) -> bool,
    label: &dyn Fn(usize) -> String,
    title: &str,
    y_label: &str,
    log_time: bool,
) -> (Panel, Vec<Series>) {
    let (theory_source, gf_markers, sim) = sources(records);
    let sim_label = sim.name().to_uppercase();
    let gd_modes = collect(records, sim, observable, seeds);
    let mut series = Vec::new();
    let mut diff_series = Vec::new();
    let th_modes = theory_source.map(|s| collect(records, s, observable, seeds));
    let gf_modes = collect(records, Source::GradientFlow, observable, seeds);
    let mut first = true;
    for (color, (idx, traj)) in gd_modes
        .iter()
        .filter(|(i, _)| keep(i.unwrap_or(0)))
        .enumerate()
    {
        let a = idx.unwrap_or(0);
        let (t, mean, lo, hi) = stats(traj);
        series.push(Series {
            label: format!("{sim_label} {} (mean, min-max over seeds)", label(a)),
            style: SeriesStyle::Simulation,
            color,
            x: t.clone(),
            y: mean.clone(),
            lo: Some(lo),
            hi: Some(hi),
        });
        if let Some(th) = th_modes.as_ref().and_then(|m| m.get(idx)) {
            let (tt, tv, _, _) = stats(th);
            series.push(Series {
                label: if first {
                    theory_label(theory_source)
                } else {
                    String::new()
                },
                style: SeriesStyle::Theory,
                color,
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
                label: label(a),
                style: SeriesStyle::Simulation,
                color,
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
                    label: if first {
                        "full gradient flow".into()
                    } else {
                        String::new()
                    },
                    style: SeriesStyle::Marker,
                    color,
                    x,
                    y,
                    lo: None,
                    hi: None,
                });
            }
        }
        first = false;
    }
    let panel = Panel {
        title: title.into(),
        x_label: "gradient-flow time t = lr x step".into(),
        y_label: y_label.into(),
        log_x: log_time,
        log_y: false,
        series,
    };
    (panel, diff_series)
}

/// Draw `<stem>.png` and `<stem>.svg` for a run; the GD mean and band are over `seeds`.
pub fn draw_run_figure(
    records: &[Record],
    seeds: &[u64],
    stem: &Path,
    log_time: bool,
) -> Result<(), PlotError> {
    if records.iter().any(|r| {
        matches!(
            r.observable,
            Observable::EigenvalueRe | Observable::EigenvalueIm
        ) || r.observable == Observable::LagProduct
    }) {
        return draw_rnn_figure(records, seeds, &[], stem, log_time);
    }
    let (_, _, sim) = sources(records);
    let sim_label = sim.name().to_uppercase();
    let mut panels = Vec::new();
    // (a) mode strengths
    let (panel, diff_series) = time_panel(
        records,
        seeds,
        Observable::ModeStrength,
        &|_| true,
        &|a| format!("mode {a}"),
        "Mode strengths u_a(t) = u_a^T W_e v_a",
        "mode strength",
        log_time,
    );
    panels.push(panel);

    // (b) loss
    if let Some(p) = loss_panel(records, seeds, log_time) {
        panels.push(p);
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

/// The loss panel (log y): seed-mean simulation with band, theory line, flow markers.
fn loss_panel(records: &[Record], seeds: &[u64], log_time: bool) -> Option<Panel> {
    let (theory_source, gf_markers, sim) = sources(records);
    let sim_label = sim.name().to_uppercase();
    let mut series = Vec::new();
    if let Some(gd) = collect(records, sim, Observable::Loss, seeds).get(&None) {
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
        if let Some(th) = collect(records, src, Observable::Loss, seeds).get(&None) {
            let (t, v, _, _) = stats(th);
            series.push(Series {
                label: theory_label(Some(src)),
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
        if let Some(gf) = collect(records, Source::GradientFlow, Observable::Loss, seeds).get(&None)
        {
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
    (!series.is_empty()).then(|| Panel {
        title: "Loss".into(),
        x_label: "gradient-flow time t = lr x step".into(),
        y_label: "loss".into(),
        log_x: log_time,
        log_y: true,
        series,
    })
}

/// One fixed point for the figure: its position in two chosen coordinates and its number of
/// unstable directions.
#[derive(Debug, Clone, PartialEq)]
pub struct FixedPointMark {
    /// Coordinates of the fixed point to draw: its readout `C x*` (one per output), or its
    /// first state coordinates without a readout.
    pub coords: Vec<f64>,
    /// Unstable directions (0 = stable).
    pub n_unstable: usize,
}

/// The RNN run figure: (a) mode strengths or lag products, theory vs the seed-mean
/// simulation; (b) loss; (c) the leading eigenvalues of `W` over time (real parts); (d) the
/// eigenvalues of `W` in the complex plane at the first and last record of the first seed,
/// with the trajectory of the leading one; (e) fixed points (if `fixed` is not empty),
/// coloured by their number of unstable directions.
pub fn draw_rnn_figure(
    records: &[Record],
    seeds: &[u64],
    fixed: &[FixedPointMark],
    stem: &Path,
    log_time: bool,
) -> Result<(), PlotError> {
    let mut panels = Vec::new();
    let has = |o: Observable| records.iter().any(|r| r.observable == o);
    if let Some(p) = strengths_panel(records, seeds, log_time) {
        panels.push(p);
    }
    if let Some(p) = loss_panel(records, seeds, log_time) {
        panels.push(p);
    }
    if has(Observable::EigenvalueRe) && has(Observable::EigenvalueIm) {
        panels.push(moduli_panel(records, seeds, log_time));
        panels.push(complex_plane(records, seeds));
    }
    if !fixed.is_empty() {
        // Every pair of the first three coordinates: with three outputs, (0, 1) alone would
        // merge the 8 corners of the flip-flop cube into 4 (issue 14 item 9).
        let dims = fixed
            .iter()
            .map(|f| f.coords.len())
            .min()
            .unwrap_or(0)
            .min(3);
        for i in 0..dims {
            for j in i + 1..dims {
                panels.push(fixed_point_panel(fixed, (i, j), seeds));
            }
        }
    }
    draw_panels(&panels, stem, (560, 440))
}

/// Panel (a) of the RNN figure: the first lag products of mode 0 if recorded, else the mode
/// strengths; `None` if neither is recorded.
fn strengths_panel(records: &[Record], seeds: &[u64], log_time: bool) -> Option<Panel> {
    let has = |o: Observable| records.iter().any(|r| r.observable == o);
    if has(Observable::LagProduct) {
        // Index a T + k: take mode 0's lags (k = index while below the first mode's count).
        let steps = records
            .iter()
            .filter(|r| r.observable == Observable::LagProduct)
            .filter_map(|r| r.index)
            .max()
            .map_or(0, |m| m + 1);
        let modes = records
            .iter()
            .filter(|r| r.observable == Observable::ModeStrength)
            .filter_map(|r| r.index)
            .max()
            .map_or(1, |m| m + 1);
        let per_mode = steps / modes.max(1);
        let shown = per_mode.min(6);
        let title = format!(
            "Lag products u^T C W^k U v of mode 0 (lags 0-{})",
            shown.saturating_sub(1)
        );
        let (p, _) = time_panel(
            records,
            seeds,
            Observable::LagProduct,
            // The first few lags: later ones repeat the pattern and would crowd the legend.
            &|i| i < shown,
            &|k| format!("lag {k}"),
            &title,
            "lag product",
            log_time,
        );
        Some(p)
    } else if has(Observable::ModeStrength) {
        let (p, _) = time_panel(
            records,
            seeds,
            Observable::ModeStrength,
            &|_| true,
            &|a| format!("mode {a}"),
            "Mode strengths u_a^T C W^lag_a U v_a",
            "mode strength",
            log_time,
        );
        Some(p)
    } else {
        None
    }
}

/// Panel (c) of the RNN figure: the moduli of the three leading eigenvalues of `W` over time.
fn moduli_panel(records: &[Record], seeds: &[u64], log_time: bool) -> Panel {
    // Moduli: sorted moduli are continuous in W, unlike the real part of the i-th
    // eigenvalue sorted by modulus (which jumps between complex pairs).
    let mut im: BTreeMap<(Source, Option<u64>, u64, Option<usize>), f64> = BTreeMap::new();
    for r in records
        .iter()
        .filter(|r| r.observable == Observable::EigenvalueIm)
    {
        im.insert((r.source, r.seed, r.t.to_bits(), r.index), r.value);
    }
    let moduli: Vec<Record> = records
        .iter()
        .filter(|r| r.observable == Observable::EigenvalueRe && r.index.is_some_and(|i| i < 3))
        .filter_map(|r| {
            im.get(&(r.source, r.seed, r.t.to_bits(), r.index))
                // The modulus, carried in an eigenvalue_re record for time_panel only.
                .map(|v| Record {
                    value: r.value.hypot(*v),
                    ..r.clone()
                })
        })
        .collect();
    let (p, _) = time_panel(
        &moduli,
        seeds,
        Observable::EigenvalueRe,
        &|i| i < 3,
        &|i| format!("|lambda_{i}|"),
        "Leading eigenvalues of W (moduli)",
        "|lambda|",
        log_time,
    );
    p
}

/// Panel (e) of the RNN figure: the fixed points in readout space, coordinates `i` and `j`, one
/// colour per number of unstable directions.
fn fixed_point_panel(fixed: &[FixedPointMark], (i, j): (usize, usize), seeds: &[u64]) -> Panel {
    let mut series = Vec::new();
    let max_u = fixed.iter().map(|f| f.n_unstable).max().unwrap_or(0);
    for u in 0..=max_u {
        let (x, y): (Vec<f64>, Vec<f64>) = fixed
            .iter()
            .filter(|f| f.n_unstable == u)
            .map(|f| (f.coords[i], f.coords[j]))
            .unzip();
        if x.is_empty() {
            continue;
        }
        series.push(Series {
            label: if u == 0 {
                format!("stable ({})", x.len())
            } else {
                format!("{u} unstable dir. ({})", x.len())
            },
            style: SeriesStyle::Marker,
            color: u,
            x,
            y,
            lo: None,
            hi: None,
        });
    }
    Panel {
        title: format!(
            "Fixed points of seed {} ({} seed{}), outputs {i} and {j}",
            seeds.first().map_or("-".to_string(), u64::to_string),
            seeds.len(),
            if seeds.len() == 1 { "" } else { "s" }
        ),
        x_label: format!("output {i} of the fixed point"),
        y_label: format!("output {j} of the fixed point"),
        log_x: false,
        log_y: false,
        series,
    }
}

/// Eigenvalues of `W` of the first seed in the complex plane: all of them at the first and the
/// last record time, the path of the leading one, the theory's leading eigenvalue path, and
/// the unit circle.
fn complex_plane(records: &[Record], seeds: &[u64]) -> Panel {
    let (theory_source, _, sim) = sources(records);
    let seed = seeds.first().copied();
    // (t bits, index) -> (re, im)
    let mut pts: BTreeMap<(u64, usize), (f64, f64)> = BTreeMap::new();
    let mut th: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
    for r in records {
        let Some(i) = r.index else { continue };
        if r.observable != Observable::EigenvalueRe && r.observable != Observable::EigenvalueIm {
            continue;
        }
        let slot = if r.source == sim && r.seed == seed {
            pts.entry((r.t.to_bits(), i)).or_insert((0.0, 0.0))
        } else if Some(r.source) == theory_source && i == 0 {
            th.entry(r.t.to_bits()).or_insert((0.0, 0.0))
        } else {
            continue;
        };
        match r.observable {
            Observable::EigenvalueRe => slot.0 = r.value,
            Observable::EigenvalueIm => slot.1 = r.value,
            _ => {}
        }
    }
    let mut times: Vec<u64> = pts.keys().map(|k| k.0).collect();
    times.sort_by(|a, b| f64::from_bits(*a).total_cmp(&f64::from_bits(*b)));
    times.dedup();
    let mut series = Vec::new();
    let circle: (Vec<f64>, Vec<f64>) = (0..=120)
        .map(|k| {
            let a = std::f64::consts::TAU * k as f64 / 120.0;
            (a.cos(), a.sin())
        })
        .unzip();
    series.push(Series {
        label: "unit circle".into(),
        style: SeriesStyle::Theory,
        color: 7,
        x: circle.0,
        y: circle.1,
        lo: None,
        hi: None,
    });
    for (c, (name, tb)) in [("start", times.first()), ("end", times.last())]
        .into_iter()
        .enumerate()
    {
        if let Some(&tb) = tb {
            let (x, y): (Vec<f64>, Vec<f64>) = pts
                .iter()
                .filter(|((t, _), _)| *t == tb)
                .map(|(_, v)| *v)
                .unzip();
            series.push(Series {
                label: format!("{name} (t = {:.3})", f64::from_bits(tb)),
                style: SeriesStyle::Marker,
                color: c,
                x,
                y,
                lo: None,
                hi: None,
            });
        }
    }
    let (x, y): (Vec<f64>, Vec<f64>) = times
        .iter()
        .filter_map(|tb| pts.get(&(*tb, 0)).copied())
        .unzip();
    series.push(Series {
        label: format!("{} leading eigenvalue over time", sim.name().to_uppercase()),
        style: SeriesStyle::Marker,
        color: 2,
        x,
        y,
        lo: None,
        hi: None,
    });
    if !th.is_empty() {
        let mut tv: Vec<(u64, (f64, f64))> = th.into_iter().collect();
        tv.sort_by(|a, b| f64::from_bits(a.0).total_cmp(&f64::from_bits(b.0)));
        let (x, y): (Vec<f64>, Vec<f64>) = tv.into_iter().map(|(_, v)| v).unzip();
        series.push(Series {
            label: theory_label(theory_source),
            style: SeriesStyle::Theory,
            color: 3,
            x,
            y,
            lo: None,
            hi: None,
        });
    }
    Panel {
        title: "Eigenvalues of W (first seed in the mean)".into(),
        x_label: "Re lambda".into(),
        y_label: "Im lambda".into(),
        log_x: false,
        log_y: false,
        series,
    }
}

/// The figure of a run's output: the RNN figure (with the first seed's fixed points mapped
/// through its readout `C` to outputs 0 and 1, or the first two state coordinates when there
/// is a single output) for RNN runs, the deep-linear run figure otherwise.
pub fn draw_output_figure(
    output: &crate::experiment::RunOutput,
    stem: &Path,
    log_time: bool,
) -> Result<(), PlotError> {
    let seeds = &output.summary.seeds_in_mean;
    if output.model_kind == ModelKind::DeepLinear {
        return draw_run_figure(&output.records, seeds, stem, log_time);
    }
    let mut marks = Vec::new();
    if let Some((seed, set)) = output.fixed_points.first() {
        let c = output
            .final_weights
            .iter()
            .find(|(s, _)| s == seed)
            .and_then(|(_, blocks)| blocks.iter().find(|(n, _)| n == "c").map(|(_, c)| c));
        for p in &set.points {
            let coords = match c {
                Some(c) if c.nrows() >= 2 => (0..c.nrows())
                    .map(|row| (0..c.ncols()).map(|j| c.get(row, j) * p.x[j]).sum())
                    .collect(),
                _ => p.x.iter().take(3).copied().collect(),
            };
            marks.push(FixedPointMark {
                coords,
                n_unstable: p.n_unstable,
            });
        }
    }
    draw_rnn_figure(&output.records, seeds, &marks, stem, log_time)
}
