//! Legends of panels: the corner that hides the least data, and the entries
//! (a sample of each labelled series' style beside its label) on a white
//! semi-opaque box with a border.

use plotters::prelude::*;

use super::color::{palette, tint};
use super::series::{
    label_areas, Panel, Prepared, PreparedPanel, SeriesStyle, MARGIN, MARGIN_RIGHT,
};
use super::text::{text_width, FONT, LEGEND_PX};
use super::ticks::{Axis, Ticked};

/// Width in pixels of the legend's line sample.
const LEGEND_SAMPLE: u32 = 34;

/// Size in pixels `(width, height)` of the legend box of `series`, `None` without labels.
pub(super) fn legend_box(series: &[Prepared<'_>]) -> Option<(u32, u32)> {
    let labels: Vec<&str> = series
        .iter()
        .map(|s| s.src.label.as_str())
        .filter(|l| !l.is_empty())
        .collect();
    if labels.is_empty() {
        return None;
    }
    let w = labels
        .iter()
        .map(|l| text_width(l, LEGEND_PX))
        .max()
        .unwrap_or(0)
        + LEGEND_SAMPLE
        + 26;
    Some((w, labels.len() as u32 * 19 + 22))
}

/// Legend corner covering the fewest data points, preferring upper corners, and how many
/// (sampled) data points it still covers: `0` means the legend hides nothing.
pub(super) fn choose_legend(
    p: &Panel,
    series: &[Prepared<'_>],
    x: &Axis,
    y: &Axis,
    size: (u32, u32),
) -> (SeriesLabelPosition, usize) {
    let (caption, x_area, y_area) = label_areas(p, y);
    let plot_w = f64::from(size.0.saturating_sub(y_area + MARGIN + MARGIN_RIGHT).max(1));
    let plot_h = f64::from(size.1.saturating_sub(caption + x_area + 2 * MARGIN).max(1));
    let Some((box_w, box_h)) = legend_box(series) else {
        return (SeriesLabelPosition::UpperRight, 0);
    };
    let bw = (f64::from(box_w) / plot_w).min(1.0);
    let bh = (f64::from(box_h) / plot_h).min(1.0);

    let nx = |v: f64| (v - x.lo) / (x.hi - x.lo);
    let ny = |v: f64| (v - y.lo) / (y.hi - y.lo);
    let mut pts: Vec<(f64, f64)> = Vec::new();
    let mut add_path = |path: &mut dyn Iterator<Item = (f64, f64)>| {
        let mut prev: Option<(f64, f64)> = None;
        for (a, b) in path {
            let q = (nx(a), ny(b));
            if let Some(p0) = prev {
                for i in 1..4 {
                    let t = f64::from(i) / 4.0;
                    pts.push((p0.0 + (q.0 - p0.0) * t, p0.1 + (q.1 - p0.1) * t));
                }
            }
            pts.push(q);
            prev = Some(q);
        }
    };
    for s in series {
        for r in &s.runs {
            add_path(&mut r.iter().copied());
        }
        for b in &s.bands {
            add_path(&mut b.iter().map(|&(a, _, h)| (a, h)));
            add_path(&mut b.iter().map(|&(a, l, _)| (a, l.unwrap_or(y.lo))));
        }
    }
    let corners = [
        (SeriesLabelPosition::UpperRight, 1.0 - bw, 1.0 - bh, 0usize),
        (SeriesLabelPosition::UpperLeft, 0.0, 1.0 - bh, 0),
        (SeriesLabelPosition::LowerRight, 1.0 - bw, 0.0, 1),
        (SeriesLabelPosition::LowerLeft, 0.0, 0.0, 1),
    ];
    // A small gap around the box: a line grazing its border is covered too.
    let (gx, gy) = (0.02, 0.03);
    let mut best = (SeriesLabelPosition::UpperRight, usize::MAX, usize::MAX);
    for (pos, x0, y0, penalty) in corners {
        let inside = pts
            .iter()
            .filter(|&&(a, b)| {
                a >= x0 - gx && a <= x0 + bw + gx && b >= y0 - gy && b <= y0 + bh + gy
            })
            .count();
        // Lower corners only when they are clearly emptier.
        let score = inside + penalty * (pts.len() / 50 + 1);
        if score < best.1 {
            best = (pos, score, inside);
        }
    }
    (best.0, best.2)
}

/// Draw the legend of `pp` on its `chart`: one entry per labelled series, in
/// the caller's order, at `position` of the chart's plotting area; nothing if
/// no series is labelled.
pub(super) fn draw_legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<Ticked, Ticked>>,
    pp: &PreparedPanel<'_>,
    position: SeriesLabelPosition,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let mut any_label = false;
    for s in pp.series.iter().filter(|s| !s.src.label.is_empty()) {
        any_label = true;
        let c = palette(s.src.color);
        let style = s.src.style;
        let has_band = !s.bands.is_empty();
        let w = LEGEND_SAMPLE as i32 - 4;
        let anno = chart
            .draw_series(std::iter::empty::<PathElement<(f64, f64)>>())?
            .label(s.src.label.as_str());
        match style {
            SeriesStyle::Theory => {
                let st = c.stroke_width(2);
                anno.legend(move |p| {
                    EmptyElement::at(p)
                        + PathElement::new(vec![(0, 0), (9, 0)], st)
                        + PathElement::new(vec![(w / 2 - 4, 0), (w / 2 + 5, 0)], st)
                        + PathElement::new(vec![(w - 9, 0), (w, 0)], st)
                });
            }
            SeriesStyle::Simulation => {
                let band = if has_band { c.mix(0.2) } else { TRANSPARENT };
                let line = tint(c, 0.35).stroke_width(3);
                anno.legend(move |p| {
                    EmptyElement::at(p)
                        + Rectangle::new([(0, -7), (w, 7)], band.filled())
                        + PathElement::new(vec![(0, 0), (w, 0)], line)
                });
            }
            SeriesStyle::Marker => {
                anno.legend(move |p| EmptyElement::at(p) + Circle::new((w / 2, 0), 4, c.filled()));
            }
            SeriesStyle::OpenMarker => {
                anno.legend(move |p| {
                    EmptyElement::at(p) + Circle::new((w / 2, 0), 6, c.stroke_width(2))
                });
            }
        }
    }
    if any_label {
        chart
            .configure_series_labels()
            .position(position)
            .legend_area_size(LEGEND_SAMPLE)
            .margin(8)
            .label_font((FONT, LEGEND_PX))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.6))
            .draw()?;
    }
    Ok(())
}
