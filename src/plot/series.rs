//! The data of a panel: a [`Panel`] is one set of axes holding [`Series`]; preparing a
//! series cuts it into drawable runs and bands in plotting coordinates. Shared by the panel
//! drawing (`panels`) and the legends (`legend`), which both read it.

use plotters::prelude::*;

use super::text::{text_width, TICK_PX};
use super::ticks::{tick_label, to_plot, Axis};

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesStyle {
    /// Thin dashed line in the series colour, no band; drawn above simulation
    /// lines.
    Theory,
    /// Thicker solid line in a lighter tint of the series colour, with a
    /// shaded band between [`Series::lo`] and [`Series::hi`] when both are
    /// given.
    Simulation,
    /// Small filled circles, no line and no band.
    Marker,
    /// Larger open circles, drawn above [`SeriesStyle::Marker`]s so a filled marker at the
    /// same place stays visible inside (e.g. a model's points over the true ones).
    OpenMarker,
}

/// One curve on a panel.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text; an empty string gives no legend entry.
    pub label: String,
    /// How the curve is drawn.
    pub style: SeriesStyle,
    /// Index into the fixed colour-blind-friendly palette (cycles after eight
    /// colours); series with the same index share a colour.
    pub color: usize,
    /// Abscissae.
    pub x: Vec<f64>,
    /// Ordinates (same length as `x`; if not, the shorter length is used).
    pub y: Vec<f64>,
    /// Lower edge of the band (same length as `x`); only drawn for
    /// [`SeriesStyle::Simulation`] and only together with `hi`.
    pub lo: Option<Vec<f64>>,
    /// Upper edge of the band (same length as `x`); only drawn for
    /// [`SeriesStyle::Simulation`] and only together with `lo`.
    pub hi: Option<Vec<f64>>,
}

/// One set of axes.
#[derive(Debug, Clone)]
pub struct Panel {
    /// Title above the axes; empty for none.
    pub title: String,
    /// Label of the horizontal axis.
    pub x_label: String,
    /// Label of the vertical axis.
    pub y_label: String,
    /// Logarithmic horizontal axis (decade range, non-positive x dropped).
    pub log_x: bool,
    /// Logarithmic vertical axis (decade range, non-positive y dropped).
    pub log_y: bool,
    /// The curves, in legend order.
    pub series: Vec<Series>,
}

/// Smallest accepted panel size (width, height), in pixels.
pub(super) const PANEL_MIN: (u32, u32) = (240, 180);
/// Largest accepted panel side, in pixels.
pub(super) const PANEL_MAX: u32 = 4096;
/// Largest accepted figure side, in pixels.
pub(super) const FIGURE_MAX: u32 = 16384;

/// One band sample: x, lower edge (`None`: down to the bottom of the axis), upper edge.
pub(super) type BandPoint = (f64, Option<f64>, f64);

/// A series cut into runs of drawable points, in plotting coordinates.
pub(super) struct Prepared<'a> {
    pub(super) src: &'a Series,
    pub(super) runs: Vec<Vec<(f64, f64)>>,
    pub(super) bands: Vec<Vec<BandPoint>>,
}

/// A panel ready to draw.
pub(super) struct PreparedPanel<'a> {
    pub(super) panel: &'a Panel,
    pub(super) x: Axis,
    pub(super) y: Axis,
    pub(super) series: Vec<Prepared<'a>>,
    pub(super) legend: SeriesLabelPosition,
    /// Extra right margin in pixels for a legend drawn outside the plotting area (when every
    /// corner inside would hide data); 0 for a legend inside, at `legend`.
    pub(super) legend_outside: u32,
}

/// Split a series into runs of consecutive drawable points.
pub(super) fn prepare_series(s: &Series, log_x: bool, log_y: bool) -> Prepared<'_> {
    let mut runs = Vec::new();
    let mut cur = Vec::new();
    for (&x, &y) in s.x.iter().zip(&s.y) {
        match (to_plot(x, log_x), to_plot(y, log_y)) {
            (Some(px), Some(py)) => cur.push((px, py)),
            _ => {
                if !cur.is_empty() {
                    runs.push(std::mem::take(&mut cur));
                }
            }
        }
    }
    if !cur.is_empty() {
        runs.push(cur);
    }

    let mut bands = Vec::new();
    if let (SeriesStyle::Simulation, Some(lo), Some(hi)) = (s.style, &s.lo, &s.hi) {
        let mut cur: Vec<BandPoint> = Vec::new();
        for ((&x, &l), &h) in s.x.iter().zip(lo).zip(hi) {
            let px = to_plot(x, log_x);
            let ph = to_plot(h, log_y);
            let pl = match to_plot(l, log_y) {
                Some(v) => Some(Some(v)),
                // A lower edge at or below zero on a log axis: down to the axis.
                None if log_y && l.is_finite() => Some(None),
                None => None,
            };
            match (px, pl, ph) {
                (Some(px), Some(pl), Some(ph)) => cur.push((px, pl, ph)),
                _ => {
                    if cur.len() > 1 {
                        bands.push(std::mem::take(&mut cur));
                    }
                    cur.clear();
                }
            }
        }
        if cur.len() > 1 {
            bands.push(cur);
        }
    }
    Prepared {
        src: s,
        runs,
        bands,
    }
}

/// Pixel sizes of the areas around the plot: (caption, x labels, y labels).
pub(super) fn label_areas(p: &Panel, y: &Axis) -> (u32, u32, u32) {
    let caption = if p.title.is_empty() { 0 } else { 34 };
    let x_area = if p.x_label.is_empty() { 28 } else { 50 };
    let widest = y
        .ticks
        .iter()
        .map(|&t| text_width(&tick_label(y, t), TICK_PX))
        .max()
        .unwrap_or(0);
    let y_area = widest + 12 + if p.y_label.is_empty() { 0 } else { 26 };
    (caption, x_area, y_area)
}

/// Margins around each panel, in pixels.
pub(super) const MARGIN: u32 = 8;
/// Extra right margin so the last x tick label is not cut.
pub(super) const MARGIN_RIGHT: u32 = 22;

/// The figure-ready table of `panels` (`<stem>.csv` beside the images): header
/// `panel,panel_title,series_id,series,style,x,y,lo,hi`, one row per drawn point, panels and
/// series from 0 in drawing order, `series` the legend label (empty for a curve that shares
/// the entry of another); `lo`, `hi` empty without a band.
pub fn panels_csv(panels: &[Panel]) -> String {
    use super::output::{cell, text_cell};
    let mut s = String::from("panel,panel_title,series_id,series,style,x,y,lo,hi\n");
    for (i, p) in panels.iter().enumerate() {
        for (sid, ser) in p.series.iter().enumerate() {
            let style = match ser.style {
                SeriesStyle::Theory => "theory",
                SeriesStyle::Simulation => "simulation",
                SeriesStyle::Marker => "marker",
                SeriesStyle::OpenMarker => "open_marker",
            };
            for (k, (&x, &y)) in ser.x.iter().zip(&ser.y).enumerate() {
                s.push_str(&format!("{i},"));
                text_cell(&mut s, &p.title);
                s.push_str(&format!(",{sid},"));
                text_cell(&mut s, &ser.label);
                s.push_str(&format!(",{style},"));
                cell(&mut s, x);
                s.push(',');
                cell(&mut s, y);
                s.push(',');
                if let (Some(lo), Some(hi)) = (&ser.lo, &ser.hi) {
                    cell(&mut s, lo.get(k).copied().unwrap_or(f64::NAN));
                    s.push(',');
                    cell(&mut s, hi.get(k).copied().unwrap_or(f64::NAN));
                } else {
                    s.push(',');
                }
                s.push('\n');
            }
        }
    }
    s
}
