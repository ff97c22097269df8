//! The score figure of `learndyn recovery score` (`figure.png`, `.svg`, `.csv`): (a) the state
//! space in the first two principal axes of the true latents, with a few true trajectories, the
//! true fixed points and attractor sets, and the model's points mapped into true coordinates
//! (RM-1), coloured by kind; (b) the slowest timescale at each matched fixed point, model vs
//! truth, beside the identity.

use super::{draw_panels, Panel, PlotError, Series, SeriesStyle};
use crate::linalg::{self, Matrix};
use crate::recovery::dataset::Dataset;
use crate::recovery::score::Report;
use std::path::Path;

/// The first two principal axes of the true latents (mean and `dim x 2` axes; the identity's
/// columns when `dim <= 2`).
fn axes(d: &Dataset) -> (Vec<f64>, Matrix) {
    let z = &d.latents;
    let dim = z.shape[2];
    let n = z.shape[0] * z.shape[1];
    let step = (n / 20_000).max(1);
    let rows: Vec<&[f64]> = z.data.chunks(dim).step_by(step).collect();
    let mean: Vec<f64> = (0..dim)
        .map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / rows.len() as f64)
        .collect();
    if dim <= 2 {
        return (mean, Matrix::identity(dim));
    }
    let xc = Matrix::from_fn(rows.len(), dim, |i, j| rows[i][j] - mean[j]);
    match linalg::svd(xc.view()) {
        Ok(s) => (mean, s.v.first_cols(2)),
        Err(_) => (
            mean,
            Matrix::from_fn(dim, 2, |i, j| f64::from(u8::from(i == j))),
        ),
    }
}

fn project(x: &[f64], mean: &[f64], v: &Matrix) -> (f64, f64) {
    let c = |k: usize| {
        if k >= v.ncols() {
            return 0.0;
        }
        x.iter()
            .zip(mean)
            .enumerate()
            .map(|(i, (a, m))| (a - m) * v.get(i, k))
            .sum()
    };
    (c(0), c(1))
}

fn markers(label: &str, color: usize, pts: &[(f64, f64)]) -> Series {
    styled(label, SeriesStyle::Marker, color, pts)
}

fn styled(label: &str, style: SeriesStyle, color: usize, pts: &[(f64, f64)]) -> Series {
    Series {
        label: label.into(),
        style,
        color,
        x: pts.iter().map(|p| p.0).collect(),
        y: pts.iter().map(|p| p.1).collect(),
        lo: None,
        hi: None,
    }
}

/// Draw the score figure of `report` on dataset `d` to `<stem>.png/.svg/.csv`.
pub fn draw_score_figure(d: &Dataset, report: &Report, stem: &Path) -> Result<(), PlotError> {
    let f = &report.figure;
    let (mean, v) = axes(d);
    let mut state = Vec::new();
    let [_, tm, dim] = d.latents.shape;
    for (k, &trial) in d.meta.splits.train.iter().take(3).enumerate() {
        let pts: Vec<(f64, f64)> = (0..tm)
            .map(|s| {
                let o = (trial * tm + s) * dim;
                project(&d.latents.data[o..o + dim], &mean, &v)
            })
            .collect();
        let label = if k == 0 { "true trajectories" } else { "" };
        state.push(styled(label, SeriesStyle::Simulation, 7, &pts));
    }
    let p = |x: &Vec<f64>| project(x, &mean, &v);
    let sets: Vec<(f64, f64)> = f.true_sets.iter().map(p).collect();
    if !sets.is_empty() {
        state.push(markers("true attractor set", 2, &sets));
    }
    let group = |want: &dyn Fn(usize) -> bool, pts: &[(Vec<f64>, usize)]| -> Vec<(f64, f64)> {
        pts.iter().filter(|q| want(q.1)).map(|q| p(&q.0)).collect()
    };
    let ts = group(&|u| u == 0, &f.true_points);
    let tu = group(&|u| u > 0, &f.true_points);
    let model: Vec<(Vec<f64>, usize)> = f
        .model_points
        .iter()
        .map(|q| (q.0.clone(), if q.2 > 0 { usize::MAX } else { q.1 }))
        .collect();
    let ms = group(&|u| u == 0, &model);
    let mu = group(&|u| u > 0 && u != usize::MAX, &model);
    let mm = group(&|u| u == usize::MAX, &model);
    for (label, color, pts) in [
        ("true stable", 0, &ts),
        ("true unstable", 1, &tu),
        ("model stable", 3, &ms),
        ("model unstable", 4, &mu),
        ("model slow (marginal)", 5, &mm),
    ] {
        if !pts.is_empty() {
            let style = if label.starts_with("model") {
                SeriesStyle::OpenMarker
            } else {
                SeriesStyle::Marker
            };
            state.push(styled(label, style, color, pts));
        }
    }
    let axis = if dim <= 2 { "true x" } else { "true PC" };
    let mut panels = vec![Panel {
        title: format!("state space: {}", report.model),
        x_label: format!("{axis} 1"),
        y_label: format!("{axis} 2"),
        log_x: false,
        log_y: false,
        series: state,
    }];
    if !f.timescales.is_empty() {
        // The identity line spans the data with a factor 2 to spare (so one point still has a
        // visible line through it).
        let lo = f
            .timescales
            .iter()
            .map(|t| t.0.min(t.1))
            .fold(f64::INFINITY, f64::min)
            / 2.0;
        let hi = f
            .timescales
            .iter()
            .map(|t| t.0.max(t.1))
            .fold(0.0, f64::max)
            * 2.0;
        panels.push(Panel {
            title: "slowest timescale at matched fixed points".into(),
            x_label: "true timescale".into(),
            y_label: "model timescale".into(),
            log_x: true,
            log_y: true,
            series: vec![
                Series {
                    label: "model = true".into(),
                    style: SeriesStyle::Theory,
                    color: 7,
                    x: vec![lo, hi],
                    y: vec![lo, hi],
                    lo: None,
                    hi: None,
                },
                markers("matched points", 0, &f.timescales),
            ],
        });
    }
    draw_panels(&panels, stem, (560, 440))
}
