//! Figures: theory-vs-simulation line plots with bands, written as PNG and SVG.
//!
//! A figure is a row (or, with more than three panels, a grid three columns
//! wide) of [`Panel`]s. Each panel holds [`Series`] drawn in one of three
//! [`SeriesStyle`]s:
//!
//! * [`SeriesStyle::Theory`]: a thin dashed line, the prediction;
//! * [`SeriesStyle::Simulation`]: a thicker, lighter solid line with an
//!   optional shaded band (for example a quantile range over seeds);
//! * [`SeriesStyle::Marker`]: small filled circles without a line.
//!
//! Colours come from a fixed colour-blind-friendly palette (Okabe–Ito, with an
//! olive in place of its yellow, which is too pale on white), indexed by
//! [`Series::color`] and cycling after eight entries, so the theory and the
//! simulation of the same quantity can share a colour. Layers are drawn in a
//! fixed order whatever the order of the series: bands, simulation lines,
//! theory lines, markers, so a dashed theory curve stays visible on top of the
//! simulation it predicts. The legend lists the labelled series in the order
//! given, in the corner that hides the least data (an upper corner unless a
//! lower one is clearly emptier), on a white semi-opaque box with a border.
//!
//! Axis ranges come from the finite data, bands included: linear axes get 5 %
//! padding, logarithmic axes span whole decades and label them as powers of
//! ten. On a logarithmic axis non-positive values are dropped (a band's lower
//! edge at or below zero is drawn down to the bottom of the axis). Non-finite
//! values are dropped everywhere and break the line they sit on; mismatched
//! lengths use the shortest. [`draw_panels`] writes `<stem>.png` and
//! `<stem>.svg` with the same layout, each through a temporary file in the
//! same directory that is renamed into place, so a reader never sees half a
//! figure.
//!
//! [`draw_heatmap`] draws a [`Heatmap`]: a grid of cells coloured on a
//! viridis scale, with a colorbar on the right spanning the height of the
//! plot, ticks at the cell centres of short axes, values written in the cells
//! of small grids, and missing cells grey and hatched. It writes its two files
//! the same way.
//!
//! Text is set in DejaVu Sans, embedded in the binary and registered with
//! plotters at the first call, so no system font is needed.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::register_font;
use plotters::style::text_anchor::{HPos, Pos, VPos};

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

/// Errors from drawing.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The backend failed (I/O, font, encoding); message says which file.
    #[error("could not draw figure {path}: {message}")]
    Backend {
        /// The file that could not be written.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// Nothing to draw on a log axis (all values non-positive), or no finite
    /// data; for a heatmap also an empty or ill-shaped grid or bad centres.
    #[error("panel '{panel}': {message}")]
    NoData {
        /// Title of the offending panel (or heatmap).
        panel: String,
        /// What is missing.
        message: String,
    },
}

/// Font family name under which DejaVu Sans is registered with plotters.
const FONT: &str = "sans-serif";
/// Title font size in pixels.
const TITLE_PX: f64 = 20.0;
/// Axis-label font size in pixels.
const AXIS_PX: f64 = 18.0;
/// Tick-label font size in pixels.
const TICK_PX: f64 = 15.0;
/// Legend font size in pixels.
const LEGEND_PX: f64 = 15.0;
/// Width in pixels of the legend's line sample.
const LEGEND_SAMPLE: u32 = 34;
/// Smallest accepted panel size (width, height), in pixels.
const PANEL_MIN: (u32, u32) = (240, 180);
/// Largest accepted panel side, in pixels.
const PANEL_MAX: u32 = 4096;
/// Largest accepted figure side, in pixels.
const FIGURE_MAX: u32 = 16384;

/// Okabe–Ito colours (yellow replaced by Paul Tol's olive), in the order
/// they are handed out.
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(230, 159, 0),   // orange
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(0, 0, 0),       // black
    RGBColor(153, 153, 51),  // olive
];

/// Palette colour for index `i`, cycling.
fn palette(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// `c` blended towards white by `t` in [0, 1].
fn tint(c: RGBColor, t: f64) -> RGBColor {
    let mix = |v: u8| (f64::from(v) + (255.0 - f64::from(v)) * t).round() as u8;
    RGBColor(mix(c.0), mix(c.1), mix(c.2))
}

/// Register the embedded fonts with plotters, once per process.
fn ensure_fonts() -> Result<(), String> {
    static FONTS: OnceLock<Result<(), String>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
                .map_err(|_| "embedded DejaVu Sans is not a valid font".to_string())?;
            register_font(FONT, FontStyle::Bold, dejavu::sans::bold())
                .map_err(|_| "embedded DejaVu Sans Bold is not a valid font".to_string())?;
            Ok(())
        })
        .clone()
}

/// One axis after preparation, in plotting coordinates (log10 of the data on
/// a logarithmic axis).
#[derive(Debug, Clone)]
struct Axis {
    log: bool,
    lo: f64,
    hi: f64,
    /// Labelled ticks.
    ticks: Vec<f64>,
    /// Unlabelled grid lines.
    minor: Vec<f64>,
    /// Tick spacing on a linear axis (formatting precision).
    step: f64,
    /// Linear labels in scientific notation.
    sci: bool,
}

/// An [`Axis`] as a plotters coordinate: linear in plotting coordinates, with
/// our own ticks (labels come from [`tick_label`] through the mesh formatter).
struct Ticked(Axis);

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        // Halved so that huge ranges do not overflow.
        let t = (value * 0.5 - self.0.lo * 0.5) / (self.0.hi * 0.5 - self.0.lo * 0.5);
        let px = f64::from(limit.0) + t * f64::from(limit.1 - limit.0);
        if px.is_finite() {
            px.round().clamp(-1e6, 1e6) as i32
        } else {
            limit.0
        }
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.0.minor.clone()
        } else {
            self.0.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.0.lo..self.0.hi
    }
}

/// One band sample: x, lower edge (`None`: down to the bottom of the axis), upper edge.
type BandPoint = (f64, Option<f64>, f64);

/// A series cut into runs of drawable points, in plotting coordinates.
struct Prepared<'a> {
    src: &'a Series,
    runs: Vec<Vec<(f64, f64)>>,
    bands: Vec<Vec<BandPoint>>,
}

/// A panel ready to draw.
struct PreparedPanel<'a> {
    panel: &'a Panel,
    x: Axis,
    y: Axis,
    series: Vec<Prepared<'a>>,
    legend: SeriesLabelPosition,
}

/// Value `v` in plotting coordinates, or `None` if it cannot be drawn.
fn to_plot(v: f64, log: bool) -> Option<f64> {
    if !v.is_finite() {
        None
    } else if log {
        (v > 0.0).then(|| v.log10()).filter(|l| l.is_finite())
    } else {
        Some(v)
    }
}

/// Split a series into runs of consecutive drawable points.
fn prepare_series(s: &Series, log_x: bool, log_y: bool) -> Prepared<'_> {
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

/// Running minimum and maximum.
#[derive(Clone, Copy)]
struct Extent(Option<(f64, f64)>);

impl Extent {
    fn add(&mut self, v: f64) {
        self.0 = Some(match self.0 {
            None => (v, v),
            Some((a, b)) => (a.min(v), b.max(v)),
        });
    }
}

/// Number of decimals needed to write multiples of `step` exactly (at most 12).
fn decimals_for(step: f64) -> usize {
    (0..=12)
        .find(|&d| {
            let s = step * 10f64.powi(d as i32);
            (s - s.round()).abs() < 1e-6 * s.abs().max(1.0)
        })
        .unwrap_or(12)
}

/// Nice linear ticks in `[lo, hi]`, about `target` of them, and their spacing.
fn linear_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, f64) {
    let t = target.max(1) as f64;
    // Written so that it stays finite even when `hi - lo` overflows.
    let raw = hi / t - lo / t;
    if !(raw.is_finite() && raw > 0.0) {
        return (vec![lo, hi], hi - lo);
    }
    let mag = 10f64.powf(raw.log10().floor());
    // The step among 1, 2, 5 (times a power of ten) whose tick count is
    // closest to the target, preferring the larger step on ties.
    let count = |step: f64| (hi / step).floor() - (lo / step).ceil() + 1.0;
    let step = [10.0, 5.0, 2.0, 1.0]
        .iter()
        .map(|m| m * mag)
        .min_by(|&a, &b| {
            let da = (count(a) - target as f64).abs();
            let db = (count(b) - target as f64).abs();
            da.total_cmp(&db)
        })
        .unwrap_or(mag);
    if !(step.is_finite() && step > 0.0) {
        return (vec![lo, hi], raw);
    }
    let k0 = (lo / step - 1e-9).ceil();
    let k1 = (hi / step + 1e-9).floor();
    if !(k0.is_finite() && k1.is_finite()) || k1 - k0 > 50.0 || k1 < k0 {
        return (vec![lo, hi], step);
    }
    let ticks = (0..=((k1 - k0) as i64))
        .map(|i| (k0 + i as f64) * step)
        .collect();
    (ticks, step)
}

/// Build an axis from the extent of the data in plotting coordinates.
fn make_axis(min: f64, max: f64, log: bool, target: usize) -> Axis {
    if log {
        let mut lo = (min + 1e-9).floor();
        let mut hi = (max - 1e-9).ceil();
        if hi <= lo {
            lo = min.round() - 1.0;
            hi = min.round() + 1.0;
        }
        let decades = (hi - lo).round().max(1.0) as i64;
        let stride = ((decades as f64) / target.max(1) as f64).ceil().max(1.0) as i64;
        let first = lo as i64;
        let mut ticks = Vec::new();
        let mut minor = Vec::new();
        for k in first..=first + decades {
            if k.rem_euclid(stride) == 0 {
                ticks.push(k as f64);
            } else if decades <= 40 {
                minor.push(k as f64);
            }
            if stride == 1 && decades <= 6 && k < first + decades {
                minor.extend((2..=9).map(|m| k as f64 + f64::from(m).log10()));
            }
        }
        Axis {
            log,
            lo,
            hi,
            ticks,
            minor,
            step: 1.0,
            sci: false,
        }
    } else {
        let span = max - min;
        let pad = if span > 0.0 && span.is_finite() {
            0.05 * span
        } else if span > 0.0 {
            0.05 * max - 0.05 * min
        } else if min != 0.0 {
            0.05 * min.abs()
        } else {
            1.0
        };
        let (mut lo, mut hi) = (min - pad, max + pad);
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            lo = min;
            hi = max;
        }
        if lo >= hi {
            // Range too narrow for f64 (or infinite): a unit-free fallback.
            lo = min - 1.0;
            hi = max + 1.0;
        }
        let (ticks, step) = linear_ticks(lo, hi, target);
        let big = lo.abs().max(hi.abs());
        Axis {
            log,
            lo,
            hi,
            ticks,
            minor: Vec::new(),
            step,
            sci: !(1e-3..1e5).contains(&big),
        }
    }
}

/// `n` written with superscript digits.
fn superscript(n: i64) -> String {
    const SUP: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let mut s = String::new();
    if n < 0 {
        s.push('⁻');
    }
    for c in n.unsigned_abs().to_string().chars() {
        s.push(SUP[c.to_digit(10).unwrap_or(0) as usize]);
    }
    s
}

/// Replace an ASCII minus with the typographic one.
fn typographic_minus(s: String) -> String {
    s.replace('-', "\u{2212}")
}

/// Trim trailing zeros of a decimal mantissa ("1.500" -> "1.5", "2.0" -> "2").
fn trim_mantissa(m: &str) -> &str {
    if m.contains('.') {
        m.trim_end_matches('0').trim_end_matches('.')
    } else {
        m
    }
}

/// Tick label for plotting coordinate `v` on `axis`.
fn tick_label(axis: &Axis, v: f64) -> String {
    if axis.log {
        return format!("10{}", superscript(v.round() as i64));
    }
    let scale = axis.lo.abs().max(axis.hi.abs());
    let v = if v.abs() <= scale * 1e-12 { 0.0 } else { v };
    if axis.sci {
        if v == 0.0 {
            return "0".to_string();
        }
        let e = v.abs().log10().floor();
        let d = decimals_for(axis.step / 10f64.powf(e)).min(6);
        let s = format!("{v:.d$e}");
        let (m, ex) = s.split_once('e').unwrap_or((&s, "0"));
        return typographic_minus(format!("{}e{}", trim_mantissa(m), ex));
    }
    let d = decimals_for(axis.step).min(10);
    typographic_minus(format!("{v:.d$}"))
}

/// Width in pixels of `text` at `px` pixels, or an estimate if the font fails.
fn text_width(text: &str, px: f64) -> u32 {
    (FONT, px)
        .into_font()
        .box_size(text)
        .map(|(w, _)| w)
        .unwrap_or_else(|_| (text.chars().count() as f64 * px * 0.62) as u32)
}

/// Pixel sizes of the areas around the plot: (caption, x labels, y labels).
fn label_areas(p: &Panel, y: &Axis) -> (u32, u32, u32) {
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
const MARGIN: u32 = 8;
/// Extra right margin so the last x tick label is not cut.
const MARGIN_RIGHT: u32 = 22;

/// Legend corner covering the fewest data points, preferring upper corners.
fn choose_legend(
    p: &Panel,
    series: &[Prepared<'_>],
    x: &Axis,
    y: &Axis,
    size: (u32, u32),
) -> SeriesLabelPosition {
    let labels: Vec<&str> = series
        .iter()
        .map(|s| s.src.label.as_str())
        .filter(|l| !l.is_empty())
        .collect();
    let (caption, x_area, y_area) = label_areas(p, y);
    let plot_w = f64::from(size.0.saturating_sub(y_area + MARGIN + MARGIN_RIGHT).max(1));
    let plot_h = f64::from(size.1.saturating_sub(caption + x_area + 2 * MARGIN).max(1));
    let box_w = labels
        .iter()
        .map(|l| text_width(l, LEGEND_PX))
        .max()
        .unwrap_or(0)
        + LEGEND_SAMPLE
        + 26;
    let box_h = labels.len() as u32 * 19 + 22;
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
    let mut best = (SeriesLabelPosition::UpperRight, usize::MAX);
    for (pos, x0, y0, penalty) in corners {
        let inside = pts
            .iter()
            .filter(|&&(a, b)| a >= x0 && a <= x0 + bw && b >= y0 && b <= y0 + bh)
            .count();
        // Lower corners only when they are clearly emptier.
        let score = inside + penalty * (pts.len() / 50 + 1);
        if score < best.1 {
            best = (pos, score);
        }
    }
    best.0
}

/// Check and prepare one panel.
fn prepare_panel(p: &Panel, size: (u32, u32)) -> Result<PreparedPanel<'_>, PlotError> {
    let series: Vec<Prepared<'_>> = p
        .series
        .iter()
        .filter(|s| !s.x.is_empty())
        .map(|s| prepare_series(s, p.log_x, p.log_y))
        .collect();
    let mut ex = Extent(None);
    let mut ey = Extent(None);
    for s in &series {
        for &(a, b) in s.runs.iter().flatten() {
            ex.add(a);
            ey.add(b);
        }
        for &(a, l, h) in s.bands.iter().flatten() {
            ex.add(a);
            ey.add(h);
            if let Some(l) = l {
                ey.add(l);
            }
        }
    }
    let (Some((x0, x1)), Some((y0, y1))) = (ex.0, ey.0) else {
        let message = if p.log_x || p.log_y {
            "no positive finite data to draw on a logarithmic axis"
        } else {
            "no finite data to draw"
        };
        return Err(PlotError::NoData {
            panel: p.title.clone(),
            message: message.to_string(),
        });
    };
    let x_target = ((size.0 as usize).saturating_sub(100) / 70).clamp(3, 8);
    let y_target = ((size.1 as usize).saturating_sub(100) / 50).clamp(3, 8);
    let x = make_axis(x0, x1, p.log_x, x_target);
    let y = make_axis(y0, y1, p.log_y, y_target);
    let legend = choose_legend(p, &series, &x, &y, size);
    Ok(PreparedPanel {
        panel: p,
        x,
        y,
        series,
        legend,
    })
}

/// Draw one prepared panel into `area`.
fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    pp: &PreparedPanel<'_>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let p = pp.panel;
    let (x, y) = (&pp.x, &pp.y);
    let (_, x_area, y_area) = label_areas(p, y);

    let mut builder = ChartBuilder::on(area);
    builder
        .margin(MARGIN)
        .margin_right(MARGIN_RIGHT)
        .x_label_area_size(x_area)
        .y_label_area_size(y_area);
    if !p.title.is_empty() {
        builder.caption(
            &p.title,
            // Not `.style(Bold)`: plotters keeps the regular glyphs then.
            (FONT, TITLE_PX, FontStyle::Bold).into_font(),
        );
    }
    let mut chart = builder.build_cartesian_2d(Ticked(x.clone()), Ticked(y.clone()))?;

    let fx = |v: &f64| tick_label(x, *v);
    let fy = |v: &f64| tick_label(y, *v);
    chart
        .configure_mesh()
        .x_desc(p.x_label.as_str())
        .y_desc(p.y_label.as_str())
        .axis_desc_style((FONT, AXIS_PX))
        .label_style((FONT, TICK_PX))
        .x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .bold_line_style(BLACK.mix(0.12))
        .light_line_style(BLACK.mix(0.035))
        .axis_style(BLACK.stroke_width(1))
        .set_all_tick_mark_size(5)
        .draw()?;

    // Bands first, under every line.
    for s in &pp.series {
        let fill = palette(s.src.color).mix(0.2).filled();
        for band in &s.bands {
            let poly: Vec<(f64, f64)> = band
                .iter()
                .map(|&(a, _, h)| (a, h))
                .chain(band.iter().rev().map(|&(a, l, _)| (a, l.unwrap_or(y.lo))))
                .collect();
            chart.draw_series(std::iter::once(Polygon::new(poly, fill)))?;
        }
    }
    // Lines: simulation below theory, then markers on top.
    for pass in [
        SeriesStyle::Simulation,
        SeriesStyle::Theory,
        SeriesStyle::Marker,
    ] {
        for s in pp.series.iter().filter(|s| s.src.style == pass) {
            let c = palette(s.src.color);
            match pass {
                SeriesStyle::Simulation => {
                    let st = tint(c, 0.35).stroke_width(3);
                    chart.draw_series(
                        s.runs
                            .iter()
                            .filter(|r| r.len() > 1)
                            .map(|r| PathElement::new(r.clone(), st)),
                    )?;
                    chart.draw_series(
                        s.runs
                            .iter()
                            .filter(|r| r.len() == 1)
                            .map(|r| Circle::new(r[0], 2, tint(c, 0.35).filled())),
                    )?;
                }
                SeriesStyle::Theory => {
                    let st = c.stroke_width(2);
                    chart.draw_series(
                        s.runs
                            .iter()
                            .filter(|r| r.len() > 1)
                            .map(|r| DashedPathElement::new(r.clone(), 9, 5, st)),
                    )?;
                    chart.draw_series(
                        s.runs
                            .iter()
                            .filter(|r| r.len() == 1)
                            .map(|r| Circle::new(r[0], 2, c.filled())),
                    )?;
                }
                SeriesStyle::Marker => {
                    chart.draw_series(
                        s.runs
                            .iter()
                            .flatten()
                            .map(|&q| Circle::new(q, 4, c.filled())),
                    )?;
                }
            }
        }
    }
    // Frame on all four sides.
    chart.draw_series(std::iter::once(Rectangle::new(
        [(x.lo, y.lo), (x.hi, y.hi)],
        BLACK.stroke_width(1),
    )))?;

    // Legend entries, in the caller's order.
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
        }
    }
    if any_label {
        chart
            .configure_series_labels()
            .position(pp.legend.clone())
            .legend_area_size(LEGEND_SAMPLE)
            .margin(8)
            .label_font((FONT, LEGEND_PX))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.6))
            .draw()?;
    }
    Ok(())
}

/// Fill `root` white and draw every panel into its cell.
fn draw_figure<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    prepared: &[PreparedPanel<'_>],
    grid: (usize, usize),
) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let cells = root.split_evenly(grid);
    for (cell, pp) in cells.iter().zip(prepared) {
        draw_panel(cell, pp).map_err(|e| format!("panel '{}': {e}", pp.panel.title))?;
    }
    root.present().map_err(|e| e.to_string())
}

/// A figure ready to be drawn on any plotters backend.
trait Render {
    /// Draw the whole figure on `root`, background included, and present it;
    /// `bitmap` tells the PNG from the SVG backend, whose text sits
    /// differently about its anchor.
    fn render<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        bitmap: bool,
    ) -> Result<(), String>;
}

/// Prepared panels laid out on a grid of (rows, columns).
struct PanelFigure<'a, 'b> {
    prepared: &'b [PreparedPanel<'a>],
    grid: (usize, usize),
}

impl Render for PanelFigure<'_, '_> {
    fn render<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        _bitmap: bool,
    ) -> Result<(), String> {
        draw_figure(root, self.prepared, self.grid)
    }
}

/// `dir/<prefix><name><suffix>`, keeping every dot already in `name`.
fn with_suffix(dir: &Path, prefix: &str, name: &std::ffi::OsStr, suffix: &str) -> PathBuf {
    let mut s = OsString::from(prefix);
    s.push(name);
    s.push(suffix);
    dir.join(s)
}

/// A [`PlotError::Backend`] about `path`.
fn backend_err(path: &Path, message: String) -> PlotError {
    PlotError::Backend {
        path: path.display().to_string(),
        message,
    }
}

/// The files of one figure: final names and the temporaries they are
/// written through.
struct Targets {
    dir: PathBuf,
    png: PathBuf,
    svg: PathBuf,
    png_tmp: PathBuf,
    svg_tmp: PathBuf,
}

impl Targets {
    /// `<stem>.png` and `<stem>.svg` (dots in the file name kept), with
    /// hidden temporaries in the same directory, unique per process and call.
    fn new(stem: &Path) -> Result<Self, PlotError> {
        let name = stem
            .file_name()
            .ok_or_else(|| backend_err(stem, "stem has no file name".to_string()))?;
        let dir = match stem.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        // Unique per process and call, so concurrent writers never share a temporary.
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        let tag = format!(
            "{}-{}",
            std::process::id(),
            CALLS.fetch_add(1, Ordering::Relaxed)
        );
        Ok(Targets {
            png: with_suffix(&dir, "", name, ".png"),
            svg: with_suffix(&dir, "", name, ".svg"),
            png_tmp: with_suffix(&dir, ".", name, &format!(".{tag}.tmp.png")),
            svg_tmp: with_suffix(&dir, ".", name, &format!(".{tag}.tmp.svg")),
            dir,
        })
    }

    /// Create the directory, then draw `fig` at `size` to the SVG and the PNG,
    /// each through its temporary file renamed into place.
    fn write<R: Render>(&self, fig: &R, size: (u32, u32)) -> Result<(), PlotError> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| backend_err(&self.dir, format!("cannot create directory: {e}")))?;

        // SVG into memory, then to disk.
        let mut svg_text = String::new();
        {
            let root = SVGBackend::with_string(&mut svg_text, size).into_drawing_area();
            fig.render(&root, false)
                .map_err(|m| backend_err(&self.svg, m))?;
        }
        let finish = |tmp: &Path, fin: &Path, r: Result<(), String>| -> Result<(), PlotError> {
            let r = r.and_then(|()| std::fs::rename(tmp, fin).map_err(|e| e.to_string()));
            if let Err(m) = r {
                let _ = std::fs::remove_file(tmp);
                return Err(backend_err(fin, m));
            }
            Ok(())
        };
        let r = std::fs::write(&self.svg_tmp, svg_text.as_bytes()).map_err(|e| e.to_string());
        finish(&self.svg_tmp, &self.svg, r)?;

        // PNG: the bitmap backend picks the encoder from the extension, so the
        // temporary file ends in `.png`.
        let r = {
            let root = BitMapBackend::new(&self.png_tmp, size).into_drawing_area();
            fig.render(&root, true)
        };
        finish(&self.png_tmp, &self.png, r)
    }
}

/// Draw `panels` side by side (one row; or a grid with `ncols` columns if more than 3 panels: choose rows = ceil(n/ncols) with ncols = min(n, 3)) and write `<stem>.png` and `<stem>.svg`.
/// `panel_size` is (width, height) in pixels of one panel; PNG and SVG have the same layout.
///
/// Every panel is checked before anything is written, so a [`PlotError::NoData`]
/// leaves no file behind. `panel_size` is clamped to 240×180 … 4096×4096; the
/// parent directory of `stem` is created if missing; `stem` keeps any dots in
/// its file name (`fig.v2` gives `fig.v2.png`). Each file is drawn to a hidden
/// temporary file in the same directory and renamed into place.
///
/// # Errors
/// [`PlotError::NoData`] if `panels` is empty or a panel has nothing drawable
/// (no finite data, or no positive data on a logarithmic axis);
/// [`PlotError::Backend`] if a file cannot be drawn, encoded or written.
pub fn draw_panels(panels: &[Panel], stem: &Path, panel_size: (u32, u32)) -> Result<(), PlotError> {
    if panels.is_empty() {
        return Err(PlotError::NoData {
            panel: String::new(),
            message: "no panels to draw".to_string(),
        });
    }
    let size = (
        panel_size.0.clamp(PANEL_MIN.0, PANEL_MAX),
        panel_size.1.clamp(PANEL_MIN.1, PANEL_MAX),
    );
    let targets = Targets::new(stem)?;

    let ncols = panels.len().min(3);
    let nrows = panels.len().div_ceil(ncols);
    let too_big = || {
        backend_err(
            stem,
            format!("figure of {nrows}×{ncols} panels is too large"),
        )
    };
    let width = u32::try_from(ncols)
        .ok()
        .and_then(|c| c.checked_mul(size.0))
        .filter(|&w| w <= FIGURE_MAX)
        .ok_or_else(too_big)?;
    let height = u32::try_from(nrows)
        .ok()
        .and_then(|r| r.checked_mul(size.1))
        .filter(|&h| h <= FIGURE_MAX)
        .ok_or_else(too_big)?;

    // Fonts first: preparing a panel measures its tick labels.
    ensure_fonts().map_err(|m| backend_err(stem, m))?;
    let prepared = panels
        .iter()
        .map(|p| prepare_panel(p, size))
        .collect::<Result<Vec<_>, _>>()?;
    let figure = PanelFigure {
        prepared: &prepared,
        grid: (nrows, ncols),
    };
    targets.write(&figure, (width, height))
}

/// A heatmap over two axes: cell (i, j) has value `z[i][j]` at x = `x[j]`
/// (columns), y = `y[i]` (rows).
///
/// Drawn by [`draw_heatmap`]. Rows go upwards (row 0 at the bottom), as on
/// any numeric axis. Cell edges sit halfway between neighbouring centres
/// (geometrically halfway on a logarithmic axis) and the outer edges half a
/// cell beyond the outermost centres; a single centre gets a cell half its
/// magnitude wide on either side (one decade wide on a logarithmic axis; ±0.5
/// around zero).
#[derive(Debug, Clone, Default)]
pub struct Heatmap {
    /// Title above the plot; empty for none.
    pub title: String,
    /// Label of the horizontal axis.
    pub x_label: String,
    /// Label of the vertical axis.
    pub y_label: String,
    /// Label of the colorbar.
    pub z_label: String,
    /// Cell centres along x, strictly ascending, finite (positive if
    /// `log_x`); one per column.
    pub x: Vec<f64>,
    /// Cell centres along y, strictly ascending, finite (positive if
    /// `log_y`); one per row.
    pub y: Vec<f64>,
    /// `y.len()` rows of `x.len()` values. A non-finite value (NaN for a
    /// missing run) is drawn as a missing cell: light grey, hatched.
    pub z: Vec<Vec<f64>>,
    /// Logarithmic x axis: edges at geometric midpoints, decade ticks.
    pub log_x: bool,
    /// Logarithmic y axis: edges at geometric midpoints, decade ticks.
    pub log_y: bool,
    /// Colour scale on log10(z); non-positive z are drawn as missing cells.
    pub log_z: bool,
}

/// Smallest accepted heatmap size (width, height), in pixels.
const HEAT_MIN: (u32, u32) = (320, 240);
/// Most cells along an axis that still get a tick at every cell centre.
const CENTRE_TICKS_MAX: usize = 10;
/// Most cells along each axis for which the values are written in the cells.
const ANNOTATE_MAX: usize = 8;
/// Largest and smallest font size of the values written in the cells, pixels.
const ANNOTATE_PX: (f64, f64) = (15.0, 9.0);
/// Width of the colorbar, pixels.
const CBAR_W: i32 = 18;
/// Smallest gap between the plot and the colorbar, pixels.
const CBAR_GAP: i32 = 18;
/// Length of the outward tick marks, pixels.
const TICK_LEN: i32 = 5;
/// Gap between a tick mark and its label, pixels.
const TICK_GAP: i32 = 4;
/// Side of the "missing" key under the colorbar, pixels.
const KEY_SIDE: i32 = 13;
/// Fill of missing cells.
const MISSING_FILL: RGBColor = RGBColor(226, 226, 226);
/// Hatching over missing cells.
const MISSING_HATCH: RGBColor = RGBColor(150, 150, 150);
/// Spacing of the hatching, pixels along each axis.
const HATCH_STEP: i32 = 6;
/// Legend text of the missing-cell key.
const MISSING_TEXT: &str = "missing";

/// Viridis (matplotlib's default colour map) at eleven evenly spaced points,
/// as tabulated by viridisLite (`viridis(11)`).
const VIRIDIS: [(u8, u8, u8); 11] = [
    (0x44, 0x01, 0x54),
    (0x48, 0x24, 0x75),
    (0x41, 0x44, 0x87),
    (0x35, 0x5f, 0x8d),
    (0x2a, 0x78, 0x8e),
    (0x21, 0x91, 0x8c),
    (0x22, 0xa8, 0x84),
    (0x44, 0xbf, 0x70),
    (0x7a, 0xd1, 0x51),
    (0xbd, 0xdf, 0x26),
    (0xfd, 0xe7, 0x25),
];

/// Viridis colour at `t` in [0, 1] (clamped; non-finite gives the low end),
/// quantised to 256 steps and interpolated linearly between the control
/// points.
fn viridis(t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let s = (t * 255.0).round() / 255.0 * (VIRIDIS.len() - 1) as f64;
    let i = (s.floor() as usize).min(VIRIDIS.len() - 2);
    let f = s - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    let mix = |p: u8, q: u8| (f64::from(p) + (f64::from(q) - f64::from(p)) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Relative luminance of an sRGB colour (WCAG definition).
fn luminance(c: RGBColor) -> f64 {
    let lin = |v: u8| {
        let v = f64::from(v) / 255.0;
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(c.0) + 0.7152 * lin(c.1) + 0.0722 * lin(c.2)
}

/// Black or white, whichever contrasts more with `background`.
fn text_on(background: RGBColor) -> RGBColor {
    let l = luminance(background);
    if (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) {
        BLACK
    } else {
        WHITE
    }
}

/// Fraction of the way from `lo` to `hi` at which `v` lies (overflow-safe).
fn fraction(v: f64, lo: f64, hi: f64) -> f64 {
    (v * 0.5 - lo * 0.5) / (hi * 0.5 - lo * 0.5)
}

/// Pixel of plotting coordinate `v` when `lo..hi` maps onto `p0..p1`.
fn to_px(v: f64, lo: f64, hi: f64, p0: i32, p1: i32) -> i32 {
    let px = f64::from(p0) + fraction(v, lo, hi) * f64::from(p1 - p0);
    if px.is_finite() {
        px.round().clamp(-1e6, 1e6) as i32
    } else {
        p0
    }
}

/// `v` rounded to three significant digits, as (mantissa, decimal exponent)
/// with the mantissa in [1, 10) written without trailing zeros.
fn sig3(v: f64) -> (String, i32) {
    let s = format!("{:.2e}", v.abs());
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    (trim_mantissa(m).to_string(), e.parse().unwrap_or(0))
}

/// `m×10ⁿ`, or `10ⁿ` when the mantissa is one.
fn power_form(m: &str, e: i32) -> String {
    if m == "1" {
        format!("10{}", superscript(i64::from(e)))
    } else {
        format!("{m}×10{}", superscript(i64::from(e)))
    }
}

/// A value written in a cell: three significant digits, plain from 10⁻³ up
/// to 10⁵ (`0.00123`, `86400`), as a power of ten outside (`1.23×10⁵`), with
/// a typographic minus.
fn value_label(v: f64) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    let sign = if v < 0.0 { "\u{2212}" } else { "" };
    let (m, e) = sig3(v);
    if (-3..5).contains(&e) {
        // Through the rounded mantissa, so 1234.5 gives 1230.
        let r: f64 = format!("{m}e{e}").parse().unwrap_or(v.abs());
        let d = (2 - e).max(0) as usize;
        let s = format!("{r:.d$}");
        format!("{sign}{}", trim_mantissa(&s))
    } else {
        format!("{sign}{}", power_form(&m, e))
    }
}

/// Labels of cell centres `c` (data values): powers of ten on a logarithmic
/// axis (`10⁻³`, `3×10⁻³`), otherwise three significant digits with a common
/// number of decimals (powers of ten when the values are very large or small).
fn centre_labels(c: &[f64], log: bool) -> Vec<String> {
    if log {
        return c
            .iter()
            .map(|&v| {
                let p = v.log10();
                if (p - p.round()).abs() < 1e-9 {
                    format!("10{}", superscript(p.round() as i64))
                } else {
                    let (m, e) = sig3(v);
                    power_form(&m, e)
                }
            })
            .collect();
    }
    let big = c.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    if big == 0.0 || !(1e-3..1e5).contains(&big) {
        return c.iter().map(|&v| value_label(v)).collect();
    }
    let decimals = c
        .iter()
        .filter(|v| **v != 0.0)
        .map(|&v| {
            let d = (2 - sig3(v).1).clamp(0, 12) as usize;
            let s = format!("{:.d$}", v.abs());
            trim_mantissa(&s)
                .split_once('.')
                .map_or(0, |(_, f)| f.len())
        })
        .max()
        .unwrap_or(0);
    c.iter()
        .map(|&v| {
            let v = if v == 0.0 { 0.0 } else { v };
            typographic_minus(format!("{v:.decimals$}"))
        })
        .collect()
}

/// One axis of a heatmap, in plotting coordinates (log10 on a log axis).
#[derive(Debug, Clone)]
struct HeatAxis {
    log: bool,
    /// Cell centres.
    centres: Vec<f64>,
    /// Cell edges, one more than the centres, ascending.
    edges: Vec<f64>,
    /// Labels of the centres, used when there are few cells.
    labels: Vec<String>,
}

impl HeatAxis {
    /// Check the centres `c` of the axis called `name` and place the edges.
    fn new(name: &str, c: &[f64], log: bool) -> Result<Self, String> {
        let mut centres = Vec::with_capacity(c.len());
        for (i, &v) in c.iter().enumerate() {
            if !v.is_finite() {
                return Err(format!("{name}[{i}] = {v} is not finite"));
            }
            match to_plot(v, log) {
                Some(p) => centres.push(p),
                None => {
                    return Err(format!(
                        "{name}[{i}] = {v} is not positive on a logarithmic axis"
                    ))
                }
            }
        }
        if let Some(i) = centres.windows(2).position(|w| w[0] >= w[1]) {
            return Err(format!(
                "{name} must be strictly ascending ({name}[{i}] = {}, {name}[{}] = {})",
                c[i],
                i + 1,
                c[i + 1]
            ));
        }
        let edges = match centres.as_slice() {
            [] => return Err(format!("{name} is empty")),
            &[p] => {
                let half = if log { 0.5 } else { 0.5 * p.abs() };
                let (lo, hi) = ((p - half).max(-f64::MAX), (p + half).min(f64::MAX));
                if lo < hi {
                    vec![lo, hi]
                } else {
                    vec![p - 0.5, p + 0.5]
                }
            }
            ps => {
                let n = ps.len();
                let mut e = Vec::with_capacity(n + 1);
                e.push(ps[0] - (ps[1] * 0.5 - ps[0] * 0.5));
                e.extend(ps.windows(2).map(|w| w[0] * 0.5 + w[1] * 0.5));
                e.push(ps[n - 1] + (ps[n - 1] * 0.5 - ps[n - 2] * 0.5));
                e
            }
        };
        let (lo, hi) = (edges[0], edges[edges.len() - 1]);
        if !(lo.is_finite() && hi.is_finite() && lo < hi && (hi * 0.5 - lo * 0.5) > 0.0) {
            return Err(format!(
                "the cells along {name} span no representable range"
            ));
        }
        Ok(HeatAxis {
            log,
            labels: centre_labels(c, log),
            centres,
            edges,
        })
    }

    fn lo(&self) -> f64 {
        self.edges[0]
    }

    fn hi(&self) -> f64 {
        self.edges[self.edges.len() - 1]
    }
}

/// A tick mark at a plotting coordinate, labelled or not.
#[derive(Debug, Clone)]
struct Tick {
    at: f64,
    label: Option<String>,
}

/// Ticks on a logarithmic scale `lo..hi` (log10 units), about `target` of
/// them: decades when at least three fit; else 1-2-5 (or 1…9) times a decade
/// when that gives two to `target` ticks; else two decades if they fit; else
/// 1-2-5 times a decade however many; else (less than a factor of two)
/// nicely spaced values on the linear scale.
fn log_ticks(lo: f64, hi: f64, target: usize) -> Vec<Tick> {
    let inside = |p: f64| p >= lo - 1e-9 && p <= hi + 1e-9 && p.is_finite();
    let k0 = (lo - 1e-9).ceil();
    let k1 = (hi + 1e-9).floor();
    let mut decades = Vec::new();
    if k0.is_finite() && k1.is_finite() && k1 >= k0 && k1 - k0 < 1e4 {
        let (k0, k1) = (k0 as i64, k1 as i64);
        let stride = ((k1 - k0 + 1) as f64 / target.max(2) as f64)
            .ceil()
            .max(1.0) as i64;
        let mut ks: Vec<i64> = (k0..=k1).filter(|k| k.rem_euclid(stride) == 0).collect();
        if ks.len() < 2 {
            ks = (k0..=k1).step_by(stride as usize).collect();
        }
        decades = ks
            .into_iter()
            .map(|k| Tick {
                at: k as f64,
                label: Some(format!("10{}", superscript(k))),
            })
            .collect();
    }
    if decades.len() >= 3 {
        return decades;
    }
    let (f0, f1) = ((lo - 1e-9).floor(), (hi + 1e-9).ceil());
    let mut sub: Vec<Vec<Tick>> = Vec::new();
    if f0.is_finite() && f1.is_finite() && f1 - f0 <= 3.0 {
        for mantissas in [&[1u8, 2, 5][..], &[1, 2, 3, 4, 5, 6, 7, 8, 9]] {
            let mut ticks = Vec::new();
            let mut k = f0 as i64;
            while k as f64 <= f1 {
                for &m in mantissas {
                    let at = k as f64 + f64::from(m).log10();
                    if inside(at) {
                        let label = power_form(&m.to_string(), k as i32);
                        ticks.push(Tick {
                            at,
                            label: Some(label),
                        });
                    }
                }
                k += 1;
            }
            sub.push(ticks);
        }
    }
    if let Some(t) = sub
        .iter()
        .find(|t| t.len() >= 2 && t.len() <= target.max(3))
    {
        return t.clone();
    }
    if decades.len() >= 2 {
        return decades;
    }
    if let Some(t) = sub.into_iter().find(|t| t.len() >= 2) {
        return t;
    }
    // Less than a factor of two: a linear scale in data units.
    let (a, b) = (10f64.powf(lo), 10f64.powf(hi));
    linear_scale_ticks(a, b, target)
        .into_iter()
        .filter(|t| t.at > 0.0)
        .map(|t| Tick {
            at: t.at.log10(),
            label: t.label,
        })
        .filter(|t| inside(t.at))
        .collect()
}

/// Labelled nice ticks on a linear scale `lo..hi`, about `target` of them.
fn linear_scale_ticks(lo: f64, hi: f64, target: usize) -> Vec<Tick> {
    let (ticks, step) = linear_ticks(lo, hi, target);
    let big = lo.abs().max(hi.abs());
    let axis = Axis {
        log: false,
        lo,
        hi,
        ticks: Vec::new(),
        minor: Vec::new(),
        step,
        sci: !(1e-3..1e5).contains(&big),
    };
    let eps = (hi * 0.5 - lo * 0.5).abs() * 1e-9;
    ticks
        .into_iter()
        .filter(|&t| t.is_finite() && t >= lo - eps && t <= hi + eps)
        .map(|t| Tick {
            at: t,
            label: Some(tick_label(&axis, t)),
        })
        .collect()
}

/// Ticks on the scale `lo..hi` (logarithmic or not), about `target` of them.
fn scale_ticks(lo: f64, hi: f64, log: bool, target: usize) -> Vec<Tick> {
    if log {
        log_ticks(lo, hi, target)
    } else {
        linear_scale_ticks(lo, hi, target)
    }
}

/// Smallest stride such that labelling every stride-th tick (from the
/// first) leaves at least `gap` pixels between neighbouring labels; `px` are
/// the tick positions and `extent` the label sizes along the axis.
fn label_stride(px: &[i32], extent: &[f64], gap: f64) -> usize {
    let n = px.len();
    (1..n.max(2))
        .find(|&k| {
            let idx: Vec<usize> = (0..n).step_by(k).collect();
            idx.windows(2).all(|w| {
                let d = f64::from((px[w[1]] - px[w[0]]).abs());
                d >= (extent[w[0]] + extent[w[1]]) / 2.0 + gap
            })
        })
        .unwrap_or(n.max(1))
}

/// Keep only every stride-th label so that labels do not overlap.
fn thin_labels(ticks: &mut [Tick], px: &[i32], extent: &[f64], gap: f64) {
    let k = label_stride(px, extent, gap);
    for (i, t) in ticks.iter_mut().enumerate() {
        if i % k != 0 {
            t.label = None;
        }
    }
}

/// Ticks for an axis drawn from pixel `p0` (its low end) to `p1`: at the
/// cell centres when there are one to [`CENTRE_TICKS_MAX`] cells, else nice
/// ticks, about one per `per_tick` pixels (3 to 8); labels are thinned so
/// they do not overlap. `extent` gives a label's size along the axis.
fn heat_axis_ticks(
    axis: &HeatAxis,
    p0: i32,
    p1: i32,
    per_tick: i32,
    extent: &dyn Fn(&str) -> f64,
) -> Vec<Tick> {
    let (lo, hi) = (axis.lo(), axis.hi());
    let measure = |ticks: &[Tick]| -> (Vec<i32>, Vec<f64>) {
        let px = ticks.iter().map(|t| to_px(t.at, lo, hi, p0, p1)).collect();
        let ext = ticks
            .iter()
            .map(|t| t.label.as_deref().map_or(0.0, extent))
            .collect();
        (px, ext)
    };
    const GAP: f64 = 8.0;
    let mut ticks: Vec<Tick> = if !axis.centres.is_empty() && axis.centres.len() <= CENTRE_TICKS_MAX
    {
        axis.centres
            .iter()
            .zip(&axis.labels)
            .map(|(&at, l)| Tick {
                at,
                label: Some(l.clone()),
            })
            .collect()
    } else {
        let first = ((p1 - p0).abs() / per_tick.max(1)).clamp(3, 8) as usize;
        let mut best = scale_ticks(lo, hi, axis.log, first);
        for target in (2..first).rev() {
            let (px, ext) = measure(&best);
            if label_stride(&px, &ext, GAP) == 1 {
                break;
            }
            best = scale_ticks(lo, hi, axis.log, target);
        }
        best
    };
    let (px, ext) = measure(&ticks);
    thin_labels(&mut ticks, &px, &ext, GAP);
    ticks
}

/// Pixel geometry of a heatmap figure.
#[derive(Debug, Clone, Copy)]
struct HeatLayout {
    /// Plot area: left, top (inclusive), right, bottom (exclusive).
    left: i32,
    top: i32,
    right: i32,
    bottom: i32,
    /// Left edge of the colorbar.
    bar_left: i32,
    /// Widest colorbar tick label.
    z_tick_w: i32,
}

/// A heatmap ready to draw.
struct PreparedHeatmap<'a> {
    map: &'a Heatmap,
    size: (u32, u32),
    x: HeatAxis,
    y: HeatAxis,
    /// Colour coordinate (z or log10 z) of each cell, `None` if missing.
    cells: Vec<Vec<Option<f64>>>,
    z_lo: f64,
    z_hi: f64,
    x_ticks: Vec<Tick>,
    y_ticks: Vec<Tick>,
    z_ticks: Vec<Tick>,
    /// Font size of the values written in the cells, if they are written.
    annotate: Option<f64>,
    any_missing: bool,
    layout: HeatLayout,
}

/// Height in pixels of one line of text at `px` pixels.
fn line_height(px: f64) -> i32 {
    (px * 1.25).ceil() as i32
}

/// Check a heatmap and compute its colour range, ticks and layout.
fn prepare_heatmap(map: &Heatmap, size: (u32, u32)) -> Result<PreparedHeatmap<'_>, PlotError> {
    let no_data = |message: String| PlotError::NoData {
        panel: map.title.clone(),
        message,
    };
    let (nx, ny) = (map.x.len(), map.y.len());
    if nx == 0 || ny == 0 {
        return Err(no_data(format!(
            "empty grid: x has {nx} centres, y has {ny}"
        )));
    }
    if map.z.len() != ny {
        return Err(no_data(format!(
            "z has {} rows but y has {ny} centres",
            map.z.len()
        )));
    }
    if let Some((i, row)) = map.z.iter().enumerate().find(|(_, r)| r.len() != nx) {
        return Err(no_data(format!(
            "z row {i} has {} values but x has {nx} centres",
            row.len()
        )));
    }
    let x = HeatAxis::new("x", &map.x, map.log_x).map_err(no_data)?;
    let y = HeatAxis::new("y", &map.y, map.log_y).map_err(no_data)?;

    let cells: Vec<Vec<Option<f64>>> = map
        .z
        .iter()
        .map(|row| row.iter().map(|&v| to_plot(v, map.log_z)).collect())
        .collect();
    let mut ez = Extent(None);
    for &v in cells.iter().flatten().flatten() {
        ez.add(v);
    }
    let Some((z0, z1)) = ez.0 else {
        return Err(no_data(if map.log_z {
            "no positive finite z to draw on a logarithmic colour scale".to_string()
        } else {
            "no finite z to draw".to_string()
        }));
    };
    let (z_lo, z_hi) = if z0 < z1 && (z1 * 0.5 - z0 * 0.5) > 0.0 {
        (z0, z1)
    } else {
        // A constant: a symmetric range around it.
        let half = if map.log_z { 0.5 } else { 0.5 * z0.abs() };
        let (lo, hi) = ((z0 - half).max(-f64::MAX), (z0 + half).min(f64::MAX));
        if lo < hi {
            (lo, hi)
        } else {
            (z0 - 1.0, z0 + 1.0)
        }
    };
    let any_missing = cells.iter().flatten().any(Option::is_none);

    let (w, h) = (size.0 as i32, size.1 as i32);
    let m = MARGIN as i32;
    let tick_row = line_height(TICK_PX);
    let axis_row = line_height(AXIS_PX);
    // Vertical: title, room for half a tick label, plot, tick labels, x label.
    let title_h = if map.title.is_empty() {
        0
    } else {
        line_height(TITLE_PX) + 4
    };
    let top = m + title_h + tick_row / 2 + 2;
    let x_label_h = if map.x_label.is_empty() {
        0
    } else {
        axis_row + 6
    };
    let bottom = h - m - x_label_h - tick_row - TICK_LEN - TICK_GAP;
    let row_extent = |_: &str| f64::from(tick_row);
    let y_ticks = heat_axis_ticks(&y, bottom, top, 45, &row_extent);
    let z_axis = HeatAxis {
        log: map.log_z,
        centres: Vec::new(),
        edges: vec![z_lo, z_hi],
        labels: Vec::new(),
    };
    let z_ticks = heat_axis_ticks(&z_axis, bottom, top, 45, &row_extent);
    let widest = |ticks: &[Tick]| {
        ticks
            .iter()
            .filter_map(|t| t.label.as_deref())
            .map(|l| text_width(l, TICK_PX) as i32)
            .max()
            .unwrap_or(0)
    };
    let y_tick_w = widest(&y_ticks);
    let z_tick_w = widest(&z_ticks);
    let y_label_w = if map.y_label.is_empty() {
        0
    } else {
        axis_row + 6
    };
    let left0 = m + y_label_w + y_tick_w + TICK_GAP + TICK_LEN + 1;
    let z_label_w = if map.z_label.is_empty() {
        0
    } else {
        8 + axis_row
    };
    let bar_col = CBAR_W + TICK_LEN + TICK_GAP + z_tick_w + z_label_w;
    let key_col = if any_missing {
        KEY_SIDE + 6 + text_width(MISSING_TEXT, TICK_PX) as i32
    } else {
        0
    };
    let col = bar_col.max(key_col);

    // Horizontal: widen the gap to the colorbar (or the left margin) when
    // the outermost x labels would run into it.
    let col_extent = |l: &str| f64::from(text_width(l, TICK_PX));
    let (mut extra_left, mut extra_gap) = (0, 0);
    let mut x_ticks = Vec::new();
    let mut layout = HeatLayout {
        left: left0,
        top,
        right: left0 + 1,
        bottom,
        bar_left: left0 + 1 + CBAR_GAP,
        z_tick_w,
    };
    for _ in 0..4 {
        let left = left0 + extra_left;
        let bar_left = w - m - col;
        let right = (bar_left - CBAR_GAP - extra_gap).max(left + 40);
        layout = HeatLayout {
            left,
            top,
            right,
            bottom,
            bar_left: bar_left.max(right + CBAR_GAP),
            z_tick_w,
        };
        x_ticks = heat_axis_ticks(&x, left, right, 90, &col_extent);
        let (mut over_l, mut over_r) = (0, 0);
        for t in &x_ticks {
            if let Some(l) = &t.label {
                let p = to_px(t.at, x.lo(), x.hi(), left, right);
                let half = (col_extent(l) / 2.0).ceil() as i32;
                over_l = over_l.max(m - (p - half));
                over_r = over_r.max(p + half - (layout.bar_left - 8));
            }
        }
        if (over_l <= 0 && over_r <= 0) || right <= left + 40 {
            break;
        }
        extra_left += over_l.max(0);
        extra_gap += over_r.max(0);
    }

    // Values in the cells: one font size for all, the largest that fits.
    let annotate = if nx <= ANNOTATE_MAX && ny <= ANNOTATE_MAX {
        let lay = layout;
        let mut px = ANNOTATE_PX.0;
        loop {
            let fits = map.z.iter().enumerate().all(|(i, row)| {
                let y0 = to_px(y.edges[i + 1], y.lo(), y.hi(), lay.bottom, lay.top);
                let y1 = to_px(y.edges[i], y.lo(), y.hi(), lay.bottom, lay.top);
                row.iter().enumerate().all(|(j, &v)| {
                    if cells[i][j].is_none() {
                        return true;
                    }
                    let x0 = to_px(x.edges[j], x.lo(), x.hi(), lay.left, lay.right);
                    let x1 = to_px(x.edges[j + 1], x.lo(), x.hi(), lay.left, lay.right);
                    let tw = f64::from(text_width(&value_label(v), px));
                    tw + 6.0 <= f64::from(x1 - x0) && px * 1.15 + 2.0 <= f64::from(y1 - y0)
                })
            });
            if fits {
                break Some(px);
            }
            px -= 1.0;
            if px < ANNOTATE_PX.1 {
                break None;
            }
        }
    } else {
        None
    };

    Ok(PreparedHeatmap {
        map,
        size,
        x,
        y,
        cells,
        z_lo,
        z_hi,
        x_ticks,
        y_ticks,
        z_ticks,
        annotate,
        any_missing,
        layout,
    })
}

/// Fill the pixel rectangle `[x0, x1) × [y0, y1)` as a missing cell: light
/// grey with diagonal hatching aligned across neighbouring cells.
fn draw_missing<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (x0, y0, x1, y1): (i32, i32, i32, i32),
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.draw(&Rectangle::new([(x0, y0), (x1, y1)], MISSING_FILL.filled()))?;
    let (xa, xb, ya, yb) = (x0, x1 - 1, y0, y1 - 1);
    let mut c = (xa + ya).div_euclid(HATCH_STEP) * HATCH_STEP;
    if c < xa + ya {
        c += HATCH_STEP;
    }
    while c <= xb + yb {
        // The line x + y = c ("/" on screen) clipped to the cell.
        let xs = xa.max(c - yb);
        let xe = xb.min(c - ya);
        if xs <= xe {
            root.draw(&PathElement::new(
                vec![(xs, c - xs), (xe, c - xe)],
                MISSING_HATCH.stroke_width(1),
            ))?;
        }
        c += HATCH_STEP;
    }
    Ok(())
}

/// Where horizontal text sits about its anchor on a backend, in fractions
/// of the font size.
#[derive(Debug, Clone, Copy)]
struct TextMetrics {
    /// From a top-anchored position down to the baseline.
    baseline: f64,
    /// Height of capitals and digits.
    cap: f64,
}

impl TextMetrics {
    /// Bitmap: ab_glyph scales DejaVu so that ascent − descent is the size
    /// (capitals 0.626 of it) and plotters puts the baseline half a size
    /// below a top anchor. SVG: the font size is written as size / 1.24 and
    /// the baseline 0.76 em below a top anchor.
    fn of(bitmap: bool) -> Self {
        if bitmap {
            TextMetrics {
                baseline: 0.5,
                cap: 0.626,
            }
        } else {
            TextMetrics {
                baseline: 0.76 / 1.24,
                cap: 0.729 / 1.24,
            }
        }
    }
}

/// Vertical placement of a line of text.
#[derive(Debug, Clone, Copy)]
enum Place {
    /// Top of the capitals at the given pixel row.
    CapTop,
    /// Middle of the capitals (digits) at the given pixel row.
    CapMiddle,
}

impl PreparedHeatmap<'_> {
    /// Colour of colour coordinate `v`.
    fn colour(&self, v: f64) -> RGBColor {
        viridis(fraction(v, self.z_lo, self.z_hi))
    }

    /// Draw horizontal `text` in `font` and `colour`, anchored horizontally
    /// by `h` at `x` and placed vertically by `place` at `y`.
    #[allow(clippy::too_many_arguments)]
    fn text<DB: DrawingBackend>(
        root: &DrawingArea<DB, Shift>,
        met: TextMetrics,
        text: &str,
        font: FontDesc<'_>,
        colour: RGBColor,
        (h, place): (HPos, Place),
        x: i32,
        y: i32,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let size = font.get_size();
        let baseline = f64::from(y)
            + match place {
                Place::CapTop => met.cap * size,
                Place::CapMiddle => 0.5 * met.cap * size,
            };
        let top = (baseline - met.baseline * size).round() as i32;
        let style = TextStyle::from(font)
            .color(&colour)
            .pos(Pos::new(h, VPos::Top));
        root.draw_text(text, &style, (x, top))
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        bitmap: bool,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let map = self.map;
        let met = TextMetrics::of(bitmap);
        let l = self.layout;
        let (x, y) = (&self.x, &self.y);
        let px = |v: f64| to_px(v, x.lo(), x.hi(), l.left, l.right);
        let py = |v: f64| to_px(v, y.lo(), y.hi(), l.bottom, l.top);
        let pz = |v: f64| to_px(v, self.z_lo, self.z_hi, l.bottom, l.top);
        let w = self.size.0 as i32;
        let m = MARGIN as i32;
        let tick_font = || (FONT, TICK_PX).into_font();
        let axis_font = || (FONT, AXIS_PX).into_font();
        root.fill(&WHITE)?;

        // Cells, half-open pixel rectangles so neighbours tile exactly.
        for (i, row) in self.cells.iter().enumerate() {
            let (y0, y1) = (py(y.edges[i + 1]), py(y.edges[i]));
            if y0 >= y1 {
                continue;
            }
            for (j, cell) in row.iter().enumerate() {
                let (x0, x1) = (px(x.edges[j]), px(x.edges[j + 1]));
                if x0 >= x1 {
                    continue;
                }
                match cell {
                    Some(v) => {
                        let c = self.colour(*v);
                        root.draw(&Rectangle::new([(x0, y0), (x1, y1)], c.filled()))?;
                        if let Some(size) = self.annotate {
                            Self::text(
                                root,
                                met,
                                &value_label(map.z[i][j]),
                                (FONT, size).into_font(),
                                text_on(c),
                                (HPos::Center, Place::CapMiddle),
                                (x0 + x1) / 2,
                                (y0 + y1) / 2,
                            )?;
                        }
                    }
                    None => draw_missing(root, (x0, y0, x1, y1))?,
                }
            }
        }
        let frame = BLACK.stroke_width(1);
        root.draw(&Rectangle::new(
            [(l.left - 1, l.top - 1), (l.right, l.bottom)],
            frame,
        ))?;

        // Axis ticks, outwards.
        let label_top = l.bottom + TICK_LEN + TICK_GAP;
        for t in &self.x_ticks {
            let p = px(t.at);
            root.draw(&PathElement::new(
                vec![(p, l.bottom), (p, l.bottom + TICK_LEN)],
                frame,
            ))?;
            if let Some(s) = &t.label {
                let at = (HPos::Center, Place::CapTop);
                Self::text(root, met, s, tick_font(), BLACK, at, p, label_top)?;
            }
        }
        for t in &self.y_ticks {
            let p = py(t.at);
            let x0 = l.left - 1 - TICK_LEN;
            root.draw(&PathElement::new(vec![(x0, p), (l.left - 1, p)], frame))?;
            if let Some(s) = &t.label {
                let at = (HPos::Right, Place::CapMiddle);
                Self::text(root, met, s, tick_font(), BLACK, at, x0 - TICK_GAP, p)?;
            }
        }

        // Colorbar: one strip per pixel row, framed, ticks on the right.
        let bar_right = l.bar_left + CBAR_W;
        let span = f64::from((l.bottom - l.top).max(1));
        for row in l.top..l.bottom {
            let t = (f64::from(l.bottom - row) - 0.5) / span;
            root.draw(&Rectangle::new(
                [(l.bar_left, row), (bar_right, row + 1)],
                viridis(t).filled(),
            ))?;
        }
        root.draw(&Rectangle::new(
            [(l.bar_left - 1, l.top - 1), (bar_right, l.bottom)],
            frame,
        ))?;
        for t in &self.z_ticks {
            let p = pz(t.at);
            let x1 = bar_right + TICK_LEN;
            root.draw(&PathElement::new(vec![(bar_right, p), (x1, p)], frame))?;
            if let Some(s) = &t.label {
                let at = (HPos::Left, Place::CapMiddle);
                Self::text(root, met, s, tick_font(), BLACK, at, x1 + TICK_GAP, p)?;
            }
        }
        if self.any_missing {
            let (kx, ky) = (l.bar_left, label_top);
            draw_missing(root, (kx, ky, kx + KEY_SIDE, ky + KEY_SIDE))?;
            root.draw(&Rectangle::new(
                [(kx, ky), (kx + KEY_SIDE - 1, ky + KEY_SIDE - 1)],
                MISSING_HATCH.stroke_width(1),
            ))?;
            let at = (HPos::Left, Place::CapMiddle);
            let (tx, ty) = (kx + KEY_SIDE + 6, ky + KEY_SIDE / 2);
            Self::text(root, met, MISSING_TEXT, tick_font(), BLACK, at, tx, ty)?;
        }

        // Axis labels, colorbar label and title.
        if !map.x_label.is_empty() {
            let at = (HPos::Center, Place::CapTop);
            let (cx, cy) = ((l.left + l.right) / 2, label_top + line_height(TICK_PX) + 6);
            Self::text(root, met, &map.x_label, axis_font(), BLACK, at, cx, cy)?;
        }
        // Rotated labels read upwards; centred on the plot's height.
        let mid_y = (l.top + l.bottom) / 2;
        let half_axis = line_height(AXIS_PX) / 2;
        let upright = || {
            TextStyle::from(axis_font().transform(FontTransform::Rotate270))
                .pos(Pos::new(HPos::Center, VPos::Center))
        };
        if !map.y_label.is_empty() {
            root.draw_text(&map.y_label, &upright(), (m + half_axis, mid_y))?;
        }
        if !map.z_label.is_empty() {
            let cx = bar_right + TICK_LEN + TICK_GAP + l.z_tick_w + 8 + half_axis;
            root.draw_text(&map.z_label, &upright(), (cx, mid_y))?;
        }
        if !map.title.is_empty() {
            // Not `.style(Bold)`: plotters keeps the regular glyphs then.
            let font = (FONT, TITLE_PX, FontStyle::Bold).into_font();
            let tw = font.box_size(&map.title).map_or(0, |(a, _)| a as i32);
            // Centred over the plot, shifted to stay inside the figure.
            let c = ((l.left + l.right) / 2).min(w - m - tw / 2).max(m + tw / 2);
            let at = (HPos::Center, Place::CapTop);
            Self::text(root, met, &map.title, font, BLACK, at, c, m + 3)?;
        }
        Ok(())
    }
}

impl Render for PreparedHeatmap<'_> {
    fn render<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        bitmap: bool,
    ) -> Result<(), String> {
        self.draw(root, bitmap)
            .map_err(|e| format!("heatmap '{}': {e}", self.map.title))?;
        root.present().map_err(|e| e.to_string())
    }
}

/// Draw a heatmap with a colorbar and write `<stem>.png` and `<stem>.svg`
/// atomically, with the same conventions as [`draw_panels`].
///
/// Cells are filled with a viridis colour map (perceptually uniform,
/// colour-blind safe, 256 steps interpolated from the standard viridis
/// control points) over the range of the finite z (of log10 z with
/// [`Heatmap::log_z`]); a constant z is drawn in the middle colour of a
/// symmetric range around it. Missing cells (non-finite z, or non-positive z
/// on a log colour scale) are light grey and hatched, with a "missing" key
/// under the colorbar. The colorbar on the right spans exactly the height of
/// the plot and carries its own ticks and [`Heatmap::z_label`]. Axes with at
/// most ten cells have a tick at every cell centre (`10⁻³`, `3×10⁻³` on a
/// logarithmic axis), longer axes have nice ticks (decades on a logarithmic
/// axis); labels that would overlap are thinned. Grids of at most 8×8 cells
/// have each value written in its cell (three significant digits, black or
/// white, whichever contrasts more), in the largest font from 15 px down to
/// 9 px that fits every cell, or not at all if none does.
///
/// `size` is the (width, height) of the figure in pixels, clamped to
/// 320×240 … 4096×4096. Everything is checked before anything is written.
///
/// # Errors
/// [`PlotError::NoData`] if the grid is empty, `z` does not have `y.len()`
/// rows of `x.len()` values, the centres are not finite and strictly
/// ascending (and positive on a logarithmic axis), or no cell has a
/// drawable value; [`PlotError::Backend`] if a file cannot be drawn,
/// encoded or written.
pub fn draw_heatmap(map: &Heatmap, stem: &Path, size: (u32, u32)) -> Result<(), PlotError> {
    let size = (
        size.0.clamp(HEAT_MIN.0, PANEL_MAX),
        size.1.clamp(HEAT_MIN.1, PANEL_MAX),
    );
    let targets = Targets::new(stem)?;
    ensure_fonts().map_err(|m| backend_err(stem, m))?;
    let prepared = prepare_heatmap(map, size)?;
    targets.write(&prepared, size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("learndyn-plot-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn series(label: &str, style: SeriesStyle, color: usize, x: &[f64], y: &[f64]) -> Series {
        Series {
            label: label.to_string(),
            style,
            color,
            x: x.to_vec(),
            y: y.to_vec(),
            lo: None,
            hi: None,
        }
    }

    fn demo_panels() -> Vec<Panel> {
        let t: Vec<f64> = (0..200).map(|i| f64::from(i) * 0.05).collect();
        let theory: Vec<f64> = t.iter().map(|&t| 1.0 - (-0.8 * t).exp()).collect();
        let sim: Vec<f64> = t
            .iter()
            .map(|&t| 1.0 - (-0.8 * t).exp() + 0.02 * (3.0 * t).sin())
            .collect();
        let mut s = series("mode 1 simulation", SeriesStyle::Simulation, 0, &t, &sim);
        s.lo = Some(sim.iter().map(|v| v - 0.06).collect());
        s.hi = Some(sim.iter().map(|v| v + 0.06).collect());
        let theory2: Vec<f64> = t.iter().map(|&t| 0.5 * (1.0 - (-0.3 * t).exp())).collect();
        let xm: Vec<f64> = (0..10).map(f64::from).collect();
        let ym: Vec<f64> = xm
            .iter()
            .map(|&t| 0.5 * (1.0 - (-0.3 * t).exp()) + 0.01)
            .collect();
        let lin = Panel {
            title: "Mode strengths".to_string(),
            x_label: "time t".to_string(),
            y_label: "singular value".to_string(),
            log_x: false,
            log_y: false,
            series: vec![
                s,
                series("mode 1 theory", SeriesStyle::Theory, 0, &t, &theory),
                series("mode 2 theory", SeriesStyle::Theory, 1, &t, &theory2),
                series("mode 2 samples", SeriesStyle::Marker, 1, &xm, &ym),
            ],
        };
        let steps: Vec<f64> = (0..120).map(|i| 10f64.powf(f64::from(i) / 30.0)).collect();
        let loss: Vec<f64> = steps.iter().map(|&s| 2.0 / (1.0 + 0.05 * s)).collect();
        let loss_sim: Vec<f64> = steps
            .iter()
            .map(|&s| 2.0 / (1.0 + 0.05 * s) * (1.0 + 0.1 * (s.ln()).sin()))
            .collect();
        let mut ls = series("simulation", SeriesStyle::Simulation, 2, &steps, &loss_sim);
        ls.lo = Some(loss_sim.iter().map(|v| v * 0.7).collect());
        ls.hi = Some(loss_sim.iter().map(|v| v * 1.4).collect());
        let log = Panel {
            title: "Loss".to_string(),
            x_label: "step".to_string(),
            y_label: "loss".to_string(),
            log_x: true,
            log_y: true,
            series: vec![
                ls,
                series("theory", SeriesStyle::Theory, 2, &steps, &loss),
                series(
                    "",
                    SeriesStyle::Marker,
                    6,
                    &[0.0, -1.0, 10.0],
                    &[1.0, 1.0, 0.1],
                ),
            ],
        };
        vec![lin, log]
    }

    #[test]
    fn draws_two_panel_figure() {
        let dir = scratch_dir("two");
        let stem = dir.join("fig.v1");
        draw_panels(&demo_panels(), &stem, (520, 400)).unwrap();
        let png = std::fs::read(dir.join("fig.v1.png")).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let svg = std::fs::read_to_string(dir.join("fig.v1.svg")).unwrap();
        assert!(svg.contains("<svg"));
        assert!(svg.contains("mode 1 theory"));
        assert!(svg.contains("mode 2 samples"));
        // No temporary file left behind.
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 2, "{left:?}");
        if let Ok(keep) = std::env::var("LEARNDYN_PLOT_KEEP") {
            std::fs::copy(dir.join("fig.v1.png"), format!("{keep}.png")).unwrap();
            std::fs::copy(dir.join("fig.v1.svg"), format!("{keep}.svg")).unwrap();
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn log_panel_without_positive_data_is_no_data() {
        let dir = scratch_dir("nodata");
        let p = Panel {
            title: "bad".to_string(),
            x_label: "x".to_string(),
            y_label: "y".to_string(),
            log_x: false,
            log_y: true,
            series: vec![series(
                "s",
                SeriesStyle::Simulation,
                0,
                &[1.0, 2.0, 3.0],
                &[0.0, -1.0, f64::NAN],
            )],
        };
        let err = draw_panels(&[p], &dir.join("f"), (400, 300)).unwrap_err();
        assert!(matches!(err, PlotError::NoData { ref panel, .. } if panel == "bad"));
        assert!(!dir.join("f.png").exists());
        let err = draw_panels(&[], &dir.join("f"), (400, 300)).unwrap_err();
        assert!(matches!(err, PlotError::NoData { .. }));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn nan_and_odd_input_do_not_panic() {
        let dir = scratch_dir("nan");
        let nan = f64::NAN;
        let inf = f64::INFINITY;
        let mut sim = series(
            "sim",
            SeriesStyle::Simulation,
            9,
            &[0.0, 1.0, nan, 3.0, 4.0, 5.0],
            &[1.0, nan, 2.0, inf, 3.0],
        );
        sim.lo = Some(vec![0.5, 0.5, nan]);
        sim.hi = Some(vec![1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5]);
        let panels = vec![
            Panel {
                title: "nan".to_string(),
                x_label: String::new(),
                y_label: String::new(),
                log_x: false,
                log_y: false,
                series: vec![
                    sim,
                    series("empty", SeriesStyle::Theory, 1, &[], &[1.0]),
                    series("one", SeriesStyle::Theory, 2, &[2.0], &[2.0]),
                ],
            },
            Panel {
                title: String::new(),
                x_label: "x".to_string(),
                y_label: "y".to_string(),
                log_x: true,
                log_y: true,
                series: vec![series(
                    "const",
                    SeriesStyle::Marker,
                    3,
                    &[0.0, 5.0, nan],
                    &[1e-300, 1e-300, 1e-300],
                )],
            },
            Panel {
                title: "constant".to_string(),
                x_label: "x".to_string(),
                y_label: "y".to_string(),
                log_x: false,
                log_y: false,
                series: vec![series(
                    "c",
                    SeriesStyle::Theory,
                    0,
                    &[1e300, 1e300, -1e300],
                    &[0.0, 0.0, 0.0],
                )],
            },
            Panel {
                title: "tiny".to_string(),
                x_label: "x".to_string(),
                y_label: "y".to_string(),
                log_x: false,
                log_y: false,
                series: vec![series(
                    "t",
                    SeriesStyle::Simulation,
                    0,
                    &[1e-9, 2e-9, 3e-9],
                    &[-1e-7, 2e-7, 1e6],
                )],
            },
            Panel {
                title: "extremes".to_string(),
                x_label: "x".to_string(),
                y_label: "y".to_string(),
                log_x: false,
                log_y: false,
                series: vec![
                    series("max", SeriesStyle::Marker, 0, &[f64::MAX], &[f64::MAX]),
                    series("sub", SeriesStyle::Marker, 1, &[5e-324], &[-f64::MAX]),
                ],
            },
            Panel {
                title: "subnormal".to_string(),
                x_label: "x".to_string(),
                y_label: "y".to_string(),
                log_x: true,
                log_y: false,
                series: vec![series(
                    "s",
                    SeriesStyle::Theory,
                    0,
                    &[5e-324, 1e-320, f64::MAX],
                    &[5e-324, 0.0, 1e-320],
                )],
            },
        ];
        draw_panels(&panels, &dir.join("nan"), (10, 10)).unwrap();
        if let Ok(keep) = std::env::var("LEARNDYN_PLOT_KEEP") {
            std::fs::copy(dir.join("nan.png"), format!("{keep}-nan.png")).unwrap();
        }
        assert!(dir.join("nan.png").exists());
        assert!(dir.join("nan.svg").exists());
        let only_nan = Panel {
            title: "all nan".to_string(),
            x_label: String::new(),
            y_label: String::new(),
            log_x: false,
            log_y: false,
            series: vec![series("n", SeriesStyle::Theory, 0, &[nan], &[nan])],
        };
        assert!(matches!(
            draw_panels(&[only_nan], &dir.join("n2"), (400, 300)),
            Err(PlotError::NoData { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn unwritable_target_is_backend_error() {
        let dir = scratch_dir("backend");
        let file = dir.join("not-a-dir");
        std::fs::write(&file, b"x").unwrap();
        let err = draw_panels(&demo_panels(), &file.join("fig"), (400, 300)).unwrap_err();
        assert!(matches!(err, PlotError::Backend { .. }), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn tick_labels_are_tidy() {
        let a = make_axis(0.0, 1.0, false, 5);
        let labels: Vec<String> = a.ticks.iter().map(|&t| tick_label(&a, t)).collect();
        assert_eq!(labels, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        let l = make_axis(-3.2, 0.5, true, 6);
        assert_eq!((l.lo, l.hi), (-4.0, 1.0));
        assert_eq!(tick_label(&l, -3.0), "10⁻³");
        let n = make_axis(-2.0, -1.0, false, 5);
        assert!(n
            .ticks
            .iter()
            .any(|&t| tick_label(&n, t).starts_with('\u{2212}')));
    }

    /// A 4×5 heatmap over a logarithmic learning-rate axis, with a missing cell.
    fn demo_heatmap() -> Heatmap {
        let x = vec![1e-4, 1e-3, 1e-2, 1e-1, 1.0];
        let y = vec![1.0, 2.0, 3.0, 4.0];
        let z = y
            .iter()
            .map(|&w: &f64| {
                x.iter()
                    .map(|&lr: &f64| (-(lr.log10() + 2.0).powi(2) / (2.0 * w)).exp() * w.sqrt())
                    .collect()
            })
            .collect::<Vec<Vec<f64>>>();
        let mut z = z;
        z[1][3] = f64::NAN;
        Heatmap {
            title: "Final test accuracy".to_string(),
            x_label: "learning rate η".to_string(),
            y_label: "depth".to_string(),
            z_label: "accuracy gain".to_string(),
            x,
            y,
            z,
            log_x: true,
            log_y: false,
            log_z: false,
        }
    }

    fn keep(dir: &Path, stem: &str, suffix: &str) {
        if let Ok(keep) = std::env::var("LEARNDYN_PLOT_KEEP") {
            std::fs::copy(
                dir.join(format!("{stem}.png")),
                format!("{keep}-{suffix}.png"),
            )
            .unwrap();
            std::fs::copy(
                dir.join(format!("{stem}.svg")),
                format!("{keep}-{suffix}.svg"),
            )
            .unwrap();
        }
    }

    #[test]
    fn draws_log_x_heatmap_with_missing_cell() {
        let dir = scratch_dir("heat");
        let map = demo_heatmap();
        draw_heatmap(&map, &dir.join("heat.v1"), (640, 460)).unwrap();
        let png = std::fs::read(dir.join("heat.v1.png")).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let svg = std::fs::read_to_string(dir.join("heat.v1.svg")).unwrap();
        for label in [
            "Final test accuracy",
            "learning rate η",
            "depth",
            "accuracy gain",
            "10⁻³",
            "missing",
        ] {
            assert!(svg.contains(label), "{label} not in the SVG");
        }
        // 4×5 cells: values are written in the cells.
        assert!(svg.contains(&value_label(map.z[0][2])));
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 2, "{left:?}");
        keep(&dir, "heat.v1", "heat");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn log_z_heatmap_treats_non_positive_as_missing() {
        let dir = scratch_dir("heatlogz");
        let x: Vec<f64> = (0..14).map(|i| f64::from(i) * 0.25).collect();
        let y: Vec<f64> = (0..12)
            .map(|i| 10f64.powf(f64::from(i) / 4.0 - 2.0))
            .collect();
        let z: Vec<Vec<f64>> = y
            .iter()
            .enumerate()
            .map(|(i, &s)| {
                x.iter()
                    .enumerate()
                    .map(|(j, &t)| match (i + j) % 17 {
                        0 => 0.0,
                        5 => -1.0,
                        _ => s * (-t).exp() * 1e3,
                    })
                    .collect()
            })
            .collect();
        let map = Heatmap {
            title: "Loss".to_string(),
            x_label: "time t".to_string(),
            y_label: "init scale σ".to_string(),
            z_label: "loss".to_string(),
            x,
            y,
            z,
            log_x: false,
            log_y: true,
            log_z: true,
        };
        let p = prepare_heatmap(&map, (640, 460)).unwrap();
        assert!(p.any_missing);
        assert!(p.cells[0][0].is_none() && p.cells[0][5].is_none());
        assert!(p.annotate.is_none(), "14×12 grid is not annotated");
        assert!(p.z_ticks.iter().all(|t| t.at >= p.z_lo && t.at <= p.z_hi));
        draw_heatmap(&map, &dir.join("logz"), (640, 460)).unwrap();
        let svg = std::fs::read_to_string(dir.join("logz.svg")).unwrap();
        assert!(svg.contains("init scale σ") && svg.contains("10⁻¹"));
        keep(&dir, "logz", "heat-logz");
        // Only non-positive values: nothing to draw on a log colour scale.
        let mut bad = map.clone();
        bad.z = bad
            .z
            .iter()
            .map(|r| r.iter().map(|v| -v.abs()).collect())
            .collect();
        assert!(matches!(
            draw_heatmap(&bad, &dir.join("bad"), (640, 460)),
            Err(PlotError::NoData { .. })
        ));
        assert!(!dir.join("bad.png").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_heatmaps_are_no_data() {
        let dir = scratch_dir("heatbad");
        let nan = f64::NAN;
        let base = Heatmap {
            title: "bad".to_string(),
            x: vec![1.0, 2.0],
            y: vec![1.0],
            z: vec![vec![1.0, 2.0]],
            ..Heatmap::default()
        };
        let cases = [
            Heatmap::default(),
            Heatmap {
                x: vec![],
                z: vec![vec![]],
                ..base.clone()
            },
            Heatmap {
                z: vec![],
                ..base.clone()
            },
            Heatmap {
                z: vec![vec![1.0]],
                ..base.clone()
            },
            Heatmap {
                z: vec![vec![1.0, 2.0], vec![3.0, 4.0]],
                ..base.clone()
            },
            Heatmap {
                z: vec![vec![nan, f64::INFINITY]],
                ..base.clone()
            },
            Heatmap {
                x: vec![2.0, 1.0],
                ..base.clone()
            },
            Heatmap {
                x: vec![1.0, 1.0],
                ..base.clone()
            },
            Heatmap {
                x: vec![0.0, 1.0],
                log_x: true,
                ..base.clone()
            },
            Heatmap {
                y: vec![nan],
                ..base.clone()
            },
            Heatmap {
                x: vec![f64::MAX, f64::MAX],
                ..base.clone()
            },
            Heatmap {
                x: vec![-f64::MAX, f64::MAX],
                ..base.clone()
            },
        ];
        for (k, map) in cases.iter().enumerate() {
            let r = draw_heatmap(map, &dir.join(format!("b{k}")), (400, 300));
            match r {
                Err(PlotError::NoData { message, .. }) => assert!(!message.is_empty()),
                other => panic!("case {k}: {other:?}"),
            }
        }
        let left = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(left, 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn odd_heatmaps_draw() {
        let dir = scratch_dir("heatodd");
        let nan = f64::NAN;
        let cases = [
            // A single cell.
            Heatmap {
                x: vec![3.0],
                y: vec![0.0],
                z: vec![vec![0.25]],
                ..Heatmap::default()
            },
            // Constant z, on log axes, with a missing cell.
            Heatmap {
                title: "constant".to_string(),
                z_label: "z".to_string(),
                x: vec![1e-3, 1e-2],
                y: vec![5.0, 50.0],
                z: vec![vec![7.0, 7.0], vec![nan, 7.0]],
                log_x: true,
                log_y: true,
                log_z: true,
                ..Heatmap::default()
            },
            // Constant zero, tiny and huge coordinates, extreme values.
            Heatmap {
                x: vec![1e-300, 2e-300, 3e-300],
                y: vec![-1e300, 1e300],
                z: vec![vec![0.0, 0.0, 0.0], vec![0.0, nan, 0.0]],
                ..Heatmap::default()
            },
            Heatmap {
                x: vec![5e-324],
                y: vec![f64::MAX],
                z: vec![vec![-f64::MAX]],
                log_x: true,
                log_y: true,
                ..Heatmap::default()
            },
            Heatmap {
                x: vec![0.0, 1.0],
                y: vec![0.0, 1.0],
                z: vec![vec![-f64::MAX, f64::MAX], vec![5e-324, 0.0]],
                ..Heatmap::default()
            },
            // Many cells: nice ticks, no values written.
            Heatmap {
                x: (0..300).map(|i| 10f64.powf(f64::from(i) / 50.0)).collect(),
                y: (0..200).map(f64::from).collect(),
                z: (0..200)
                    .map(|i| (0..300).map(|j| f64::from(i * j % 97)).collect())
                    .collect(),
                log_x: true,
                ..Heatmap::default()
            },
            // A narrow logarithmic axis (less than a factor of two).
            Heatmap {
                x: (0..12).map(|i| 1.0 + f64::from(i) * 0.05).collect(),
                y: vec![1.0, 1.1],
                z: vec![(0..12).map(f64::from).collect(); 2],
                log_x: true,
                log_z: true,
                ..Heatmap::default()
            },
        ];
        for (k, map) in cases.iter().enumerate() {
            draw_heatmap(map, &dir.join(format!("o{k}")), (10, 10))
                .unwrap_or_else(|e| panic!("case {k}: {e}"));
            assert!(dir.join(format!("o{k}.png")).exists());
            keep(&dir, &format!("o{k}"), &format!("heat-odd{k}"));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn crowded_heatmap_labels_do_not_overlap() {
        let dir = scratch_dir("heatcrowd");
        // Ten columns at half-decade steps: a tick per centre, labels thinned.
        let x: Vec<f64> = (0..10)
            .map(|k| 10f64.powf(f64::from(k) / 2.0 - 4.0))
            .collect();
        let y: Vec<f64> = (1..=8).map(|k| f64::from(k) * 0.125).collect();
        let z: Vec<Vec<f64>> = (0..8)
            .map(|i| (0..10).map(|j| f64::from(i * 10 + j) * 1234.5).collect())
            .collect();
        let map = Heatmap {
            title: "Crowded".to_string(),
            x_label: "step size".to_string(),
            y_label: "fraction".to_string(),
            z_label: "steps to converge".to_string(),
            x,
            y,
            z,
            log_x: true,
            ..Heatmap::default()
        };
        for size in [(400, 300), (640, 460), (1200, 800)] {
            let p = prepare_heatmap(&map, size).unwrap();
            assert_eq!(p.x_ticks.len(), 10);
            let l = p.layout;
            let spans: Vec<(i32, i32)> = p
                .x_ticks
                .iter()
                .filter_map(|t| {
                    let s = t.label.as_deref()?;
                    let c = to_px(t.at, p.x.lo(), p.x.hi(), l.left, l.right);
                    let w = text_width(s, TICK_PX) as i32;
                    Some((c - w / 2, c + w / 2))
                })
                .collect();
            assert!(spans.len() >= 2, "{size:?}");
            assert!(
                spans.windows(2).all(|w| w[0].1 < w[1].0),
                "{size:?}: {spans:?}"
            );
            assert!(spans[0].0 >= 0 && spans[spans.len() - 1].1 < l.bar_left);
            assert!(l.left < l.right && l.right < l.bar_left && l.top < l.bottom);
            assert!(p.annotate.is_none(), "ten columns are not annotated");
        }
        // An 8×8 grid: values written, in a font that fits the cells.
        let mut small = map.clone();
        small.x.truncate(8);
        for row in &mut small.z {
            row.truncate(8);
        }
        let p = prepare_heatmap(&small, (640, 460)).unwrap();
        let px = p.annotate.expect("8×8 grid is annotated");
        assert!((ANNOTATE_PX.1..=ANNOTATE_PX.0).contains(&px));
        draw_heatmap(&map, &dir.join("crowd"), (640, 460)).unwrap();
        keep(&dir, "crowd", "heat-crowd");
        draw_heatmap(&small, &dir.join("crowd8"), (640, 460)).unwrap();
        keep(&dir, "crowd8", "heat-crowd8");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn heatmap_helpers() {
        assert_eq!(viridis(0.0), RGBColor(0x44, 0x01, 0x54));
        assert_eq!(viridis(1.0), RGBColor(0xfd, 0xe7, 0x25));
        assert_eq!(viridis(f64::NAN), viridis(0.0));
        assert_eq!(text_on(viridis(0.0)), WHITE);
        assert_eq!(text_on(viridis(1.0)), BLACK);
        assert_eq!(value_label(0.123456), "0.123");
        assert_eq!(value_label(-12.345), "\u{2212}12.3");
        assert_eq!(value_label(1234.5), "1230");
        assert_eq!(value_label(2.5e-5), "2.5×10⁻⁵");
        assert_eq!(value_label(1e6), "10⁶");
        assert_eq!(value_label(86437.0), "86400");
        assert_eq!(value_label(123456.0), "1.23×10⁵");
        assert_eq!(
            centre_labels(&[1e-3, 3e-3, 1e-2], true),
            ["10⁻³", "3×10⁻³", "10⁻²"]
        );
        assert_eq!(
            centre_labels(&[0.5, 1.0, 1.5], false),
            ["0.5", "1.0", "1.5"]
        );
        assert_eq!(centre_labels(&[1.0, 2.0, 4.0], false), ["1", "2", "4"]);
        let a = HeatAxis::new("x", &[1e-3, 1e-2, 1e-1], true).unwrap();
        assert_eq!(a.edges.len(), 4);
        assert!((a.edges[0] + 3.5).abs() < 1e-12 && (a.edges[1] + 2.5).abs() < 1e-12);
        let l = HeatAxis::new("x", &[1.0, 2.0, 4.0], false).unwrap();
        assert!((l.edges[0] - 0.5).abs() < 1e-12 && (l.edges[3] - 5.0).abs() < 1e-12);
        let t: Vec<String> = log_ticks(-3.2, 0.4, 6)
            .into_iter()
            .filter_map(|t| t.label)
            .collect();
        assert_eq!(t, ["10⁻³", "10⁻²", "10⁻¹", "10⁰"]);
    }
}
