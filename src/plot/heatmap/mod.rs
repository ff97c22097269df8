//! Heatmaps: a grid of cells coloured on the viridis scale, a colorbar on
//! the right spanning the height of the plot, ticks at the cell centres of
//! short axes, values written in the cells of small grids, and missing cells
//! grey and hatched.

use std::path::Path;

use plotters::style::RGBColor;

use super::output::{backend_err, Targets};
use super::series::{MARGIN, PANEL_MAX};
use super::text::{ensure_fonts, line_height, text_width, AXIS_PX, TICK_PX, TITLE_PX};
use super::ticks::{centre_labels, label_stride, scale_ticks, thin_labels};
use super::ticks::{to_plot, to_px, value_label, Extent, Tick};
use super::PlotError;

mod draw;
#[cfg(test)]
mod tests;

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

/// Check the shape of `map` (`y.len()` rows of `x.len()` values) and build
/// its two axes; the error says what is wrong.
fn grid_axes(map: &Heatmap) -> Result<(HeatAxis, HeatAxis), String> {
    let (nx, ny) = (map.x.len(), map.y.len());
    if nx == 0 || ny == 0 {
        return Err(format!("empty grid: x has {nx} centres, y has {ny}"));
    }
    if map.z.len() != ny {
        return Err(format!("z has {} rows but y has {ny} centres", map.z.len()));
    }
    if let Some((i, row)) = map.z.iter().enumerate().find(|(_, r)| r.len() != nx) {
        return Err(format!(
            "z row {i} has {} values but x has {nx} centres",
            row.len()
        ));
    }
    let x = HeatAxis::new("x", &map.x, map.log_x)?;
    let y = HeatAxis::new("y", &map.y, map.log_y)?;
    Ok((x, y))
}

/// Range `(lo, hi)` of the colour coordinates `cells` (`None`: missing): the
/// extent of the values, or a symmetric range around a constant (half its
/// magnitude, or half a decade with `log_z`); an error if no cell has a value.
fn colour_range(cells: &[Vec<Option<f64>>], log_z: bool) -> Result<(f64, f64), String> {
    let mut ez = Extent(None);
    for &v in cells.iter().flatten().flatten() {
        ez.add(v);
    }
    let Some((z0, z1)) = ez.0 else {
        return Err(if log_z {
            "no positive finite z to draw on a logarithmic colour scale".to_string()
        } else {
            "no finite z to draw".to_string()
        });
    };
    Ok(if z0 < z1 && (z1 * 0.5 - z0 * 0.5) > 0.0 {
        (z0, z1)
    } else {
        // A constant: a symmetric range around it.
        let half = if log_z { 0.5 } else { 0.5 * z0.abs() };
        let (lo, hi) = ((z0 - half).max(-f64::MAX), (z0 + half).min(f64::MAX));
        if lo < hi {
            (lo, hi)
        } else {
            (z0 - 1.0, z0 + 1.0)
        }
    })
}

/// Ticks of a heatmap, per axis.
struct HeatTicks {
    x: Vec<Tick>,
    y: Vec<Tick>,
    z: Vec<Tick>,
}

/// Lay out a `size` figure of `map` with axes `x`, `y` and colour scale
/// `z_axis`: vertically title, plot, tick labels and x label; horizontally
/// y label, y tick labels, plot, colorbar with its ticks and label (or the
/// "missing" key if `any_missing` and wider).
fn place(
    map: &Heatmap,
    size: (u32, u32),
    (x, y, z_axis): (&HeatAxis, &HeatAxis, &HeatAxis),
    any_missing: bool,
) -> (HeatLayout, HeatTicks) {
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
    let y_ticks = heat_axis_ticks(y, bottom, top, 45, &row_extent);
    let z_ticks = heat_axis_ticks(z_axis, bottom, top, 45, &row_extent);
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
    let base = HeatLayout {
        left: left0,
        top,
        right: left0 + 1,
        bottom,
        bar_left: w - m - col,
        z_tick_w,
    };
    let (layout, x_ticks) = fit_x(x, base);
    let ticks = HeatTicks {
        x: x_ticks,
        y: y_ticks,
        z: z_ticks,
    };
    (layout, ticks)
}

/// Place the plot horizontally: from `base.left` to the gap before the
/// colorbar column at `base.bar_left`, widening the left margin or that gap
/// (up to four times) when the outermost x tick labels would run past the
/// figure margin or into the colorbar. Returns the layout and the x ticks.
fn fit_x(x: &HeatAxis, base: HeatLayout) -> (HeatLayout, Vec<Tick>) {
    let m = MARGIN as i32;
    let (left0, bar_left) = (base.left, base.bar_left);
    let col_extent = |l: &str| f64::from(text_width(l, TICK_PX));
    let (mut extra_left, mut extra_gap) = (0, 0);
    let mut x_ticks = Vec::new();
    let mut layout = base;
    for _ in 0..4 {
        let left = left0 + extra_left;
        let right = (bar_left - CBAR_GAP - extra_gap).max(left + 40);
        layout = HeatLayout {
            left,
            right,
            bar_left: bar_left.max(right + CBAR_GAP),
            ..base
        };
        x_ticks = heat_axis_ticks(x, left, right, 90, &col_extent);
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
    (layout, x_ticks)
}

/// Font size of the values written in the cells: one size for all, the
/// largest from [`ANNOTATE_PX`] that fits every present cell of `lay`, or
/// `None` if none fits or the grid is larger than [`ANNOTATE_MAX`] a side.
fn annotate_size(
    map: &Heatmap,
    cells: &[Vec<Option<f64>>],
    (x, y): (&HeatAxis, &HeatAxis),
    lay: HeatLayout,
) -> Option<f64> {
    if map.x.len() > ANNOTATE_MAX || map.y.len() > ANNOTATE_MAX {
        return None;
    }
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
            return Some(px);
        }
        px -= 1.0;
        if px < ANNOTATE_PX.1 {
            return None;
        }
    }
}

/// Check a heatmap and compute its colour range, ticks and layout.
fn prepare_heatmap(map: &Heatmap, size: (u32, u32)) -> Result<PreparedHeatmap<'_>, PlotError> {
    let no_data = |message: String| PlotError::NoData {
        panel: map.title.clone(),
        message,
    };
    let (x, y) = grid_axes(map).map_err(no_data)?;
    let cells: Vec<Vec<Option<f64>>> = map
        .z
        .iter()
        .map(|row| row.iter().map(|&v| to_plot(v, map.log_z)).collect())
        .collect();
    let (z_lo, z_hi) = colour_range(&cells, map.log_z).map_err(no_data)?;
    let any_missing = cells.iter().flatten().any(Option::is_none);
    let z_axis = HeatAxis {
        log: map.log_z,
        centres: Vec::new(),
        edges: vec![z_lo, z_hi],
        labels: Vec::new(),
    };
    let (layout, ticks) = place(map, size, (&x, &y, &z_axis), any_missing);
    let annotate = annotate_size(map, &cells, (&x, &y), layout);
    Ok(PreparedHeatmap {
        map,
        size,
        x,
        y,
        cells,
        z_lo,
        z_hi,
        x_ticks: ticks.x,
        y_ticks: ticks.y,
        z_ticks: ticks.z,
        annotate,
        any_missing,
        layout,
    })
}

/// Draw a heatmap with a colorbar and write `<stem>.png` and `<stem>.svg`
/// atomically, with the same conventions as [`draw_panels`](super::draw_panels).
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
    targets.write(&prepared, size)?;
    targets.write_table(&heatmap_csv(map))
}

/// The figure-ready table of `map` (`<stem>.csv`): header `x,y,z`, one row per cell, rows of
/// the grid in order; `z` empty for a missing cell.
fn heatmap_csv(map: &Heatmap) -> String {
    use crate::plot::output::cell;
    let mut s = String::from("x,y,z\n");
    for (j, &y) in map.y.iter().enumerate() {
        for (i, &x) in map.x.iter().enumerate() {
            cell(&mut s, x);
            s.push(',');
            cell(&mut s, y);
            s.push(',');
            cell(
                &mut s,
                map.z
                    .get(j)
                    .and_then(|r| r.get(i))
                    .copied()
                    .unwrap_or(f64::NAN),
            );
            s.push('\n');
        }
    }
    s
}
