//! The figure of `learndyn recovery inspect` (`figure.png`, `.svg`, `.csv`): the model's fixed
//! points in the data's top principal components (PC1-PC2 and PC1-PC3), coloured by stability,
//! over a few trials' observed activity and the model's predictions of it.

use super::{draw_panels, Panel, PlotError, Series, SeriesStyle};
use crate::recovery::inspect::Inspection;
use std::path::Path;

fn series(label: &str, style: SeriesStyle, color: usize, pts: Vec<(f64, f64)>) -> Series {
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

/// Draw `insp` to `<stem>.png/.svg/.csv`.
pub fn draw_inspect_figure(insp: &Inspection, stem: &Path) -> Result<(), PlotError> {
    let n_pc = insp.pc_explained.len();
    let planes: Vec<(usize, usize)> = [(0, 1), (0, 2)]
        .into_iter()
        .filter(|&(_, b)| b < n_pc)
        .collect();
    let mut panels = Vec::new();
    for (a, b) in planes {
        let pick = |v: &[f64]| (v[a], v[b]);
        let mut s = Vec::new();
        for (i, (obs, pred)) in insp.trajectories.iter().enumerate() {
            let first = i == 0;
            s.push(series(
                if first { "observed (trials)" } else { "" },
                SeriesStyle::Simulation,
                7,
                obs.iter().map(|v| pick(v)).collect(),
            ));
            if let Some(p) = pred {
                s.push(series(
                    if first { "model prediction" } else { "" },
                    SeriesStyle::Simulation,
                    0,
                    p.iter().map(|v| pick(v)).collect(),
                ));
            }
        }
        for (kind, color, style) in [
            ("stable", 2, SeriesStyle::Marker),
            ("marginal", 5, SeriesStyle::Marker),
            ("saddle", 1, SeriesStyle::OpenMarker),
            ("unstable", 3, SeriesStyle::OpenMarker),
        ] {
            let pts: Vec<(f64, f64)> = insp
                .points
                .iter()
                .filter(|p| p.kind == kind && p.in_data_domain)
                .filter_map(|p| p.pcs.as_ref().map(|v| pick(v)))
                .collect();
            if !pts.is_empty() {
                s.push(series(&format!("{kind} fixed points"), style, color, pts));
            }
        }
        panels.push(Panel {
            title: format!("fixed points in the data's PC{}-PC{}", a + 1, b + 1),
            x_label: format!(
                "PC{} ({:.0}% of variance)",
                a + 1,
                100.0 * insp.pc_explained[a]
            ),
            y_label: format!(
                "PC{} ({:.0}% of variance)",
                b + 1,
                100.0 * insp.pc_explained[b]
            ),
            log_x: false,
            log_y: false,
            series: s,
        });
    }
    if panels.is_empty() {
        return Ok(());
    }
    draw_panels(&panels, stem, (560, 440))
}
