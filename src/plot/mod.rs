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
    /// Nothing to draw on a log axis (all values non-positive), or no finite data.
    #[error("panel '{panel}': {message}")]
    NoData {
        /// Title of the offending panel.
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
            (FONT, TITLE_PX).into_font().style(FontStyle::Bold),
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

/// `dir/<prefix><name><suffix>`, keeping every dot already in `name`.
fn with_suffix(dir: &Path, prefix: &str, name: &std::ffi::OsStr, suffix: &str) -> PathBuf {
    let mut s = OsString::from(prefix);
    s.push(name);
    s.push(suffix);
    dir.join(s)
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
    let backend_err = |path: &Path, message: String| PlotError::Backend {
        path: path.display().to_string(),
        message,
    };
    let name = stem
        .file_name()
        .ok_or_else(|| backend_err(stem, "stem has no file name".to_string()))?;
    let dir = match stem.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let png = with_suffix(&dir, "", name, ".png");
    let svg = with_suffix(&dir, "", name, ".svg");
    // Unique per process and call, so concurrent writers never share a temporary.
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let tag = format!(
        "{}-{}",
        std::process::id(),
        CALLS.fetch_add(1, Ordering::Relaxed)
    );
    let png_tmp = with_suffix(&dir, ".", name, &format!(".{tag}.tmp.png"));
    let svg_tmp = with_suffix(&dir, ".", name, &format!(".{tag}.tmp.svg"));

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

    std::fs::create_dir_all(&dir)
        .map_err(|e| backend_err(&dir, format!("cannot create directory: {e}")))?;

    // SVG into memory, then to disk.
    let mut svg_text = String::new();
    {
        let root = SVGBackend::with_string(&mut svg_text, (width, height)).into_drawing_area();
        draw_figure(&root, &prepared, (nrows, ncols)).map_err(|m| backend_err(&svg, m))?;
    }
    let finish = |tmp: &Path, fin: &Path, r: Result<(), String>| -> Result<(), PlotError> {
        let r = r.and_then(|()| std::fs::rename(tmp, fin).map_err(|e| e.to_string()));
        if let Err(m) = r {
            let _ = std::fs::remove_file(tmp);
            return Err(backend_err(fin, m));
        }
        Ok(())
    };
    let r = std::fs::write(&svg_tmp, svg_text.as_bytes()).map_err(|e| e.to_string());
    finish(&svg_tmp, &svg, r)?;

    // PNG: the bitmap backend picks the encoder from the extension, so the
    // temporary file ends in `.png`.
    let r = {
        let root = BitMapBackend::new(&png_tmp, (width, height)).into_drawing_area();
        draw_figure(&root, &prepared, (nrows, ncols))
    };
    finish(&png_tmp, &png, r)
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
}
