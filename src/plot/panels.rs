//! Drawing panels (the data types are in `series`): a figure is a row (or a grid three
//! columns wide) of panels. Preparing a panel checks it, cuts its series into drawable runs
//! and bands, fixes its axes and picks its legend corner; drawing it lays the layers in a
//! fixed order (bands, simulation lines, theory lines, markers, frame, legend).

use std::path::Path;

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use super::color::{palette, tint};
use super::legend::{choose_legend, draw_legend, legend_box};
use super::output::{backend_err, Render, Targets};
use super::series::{
    label_areas, prepare_series, Panel, Prepared, PreparedPanel, SeriesStyle, FIGURE_MAX, MARGIN,
    MARGIN_RIGHT, PANEL_MAX, PANEL_MIN,
};
use super::text::{ensure_fonts, AXIS_PX, FONT, TICK_PX, TITLE_PX};
use super::ticks::{make_axis, tick_label, Extent, Ticked};
use super::PlotError;

/// Check and prepare one panel.
pub(super) fn prepare_panel(p: &Panel, size: (u32, u32)) -> Result<PreparedPanel<'_>, PlotError> {
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
    let mut y = make_axis(y0, y1, p.log_y, y_target);
    let (mut legend, covered) = choose_legend(p, &series, &x, &y, size);
    let mut legend_outside = 0;
    if covered > 0 {
        (y, legend, legend_outside) = place_legend(p, &series, &x, y, (y0, y1), y_target, size);
    }
    Ok(PreparedPanel {
        panel: p,
        x,
        y,
        series,
        legend,
        legend_outside,
    })
}

/// Where a legend goes when every inside corner hides data (issue 16): headroom above the data
/// (or below it, for the lower corners) of up to 0.8 times the data's span; else outside, right
/// of the plotting area, if the plot keeps 3/5 of the panel's width; else headroom of up to
/// 1.8 spans (the data keeps over a third of the height); else the corner that hides the least.
/// Returns the y axis, the corner and the extra right margin (0: inside).
fn place_legend(
    p: &Panel,
    series: &[Prepared<'_>],
    x: &super::ticks::Axis,
    y: super::ticks::Axis,
    (y0, y1): (f64, f64),
    y_target: usize,
    size: (u32, u32),
) -> (super::ticks::Axis, SeriesLabelPosition, u32) {
    let span = if y1 > y0 { y1 - y0 } else { 1.0 };
    let headroom = |fs: &[f64]| {
        fs.iter()
            .map(|f| (y0, y1 + f * span))
            .chain(fs.iter().map(|f| (y0 - f * span, y1)))
            .find_map(|(lo, hi)| {
                let axis = make_axis(lo, hi, p.log_y, y_target);
                let (pos, c) = choose_legend(p, series, x, &axis, size);
                (c == 0).then_some((axis, pos, 0))
            })
    };
    if let Some(found) = headroom(&[0.15, 0.3, 0.5, 0.8]) {
        return found;
    }
    let (w, _) = legend_box(series).unwrap_or((0, 0));
    if w + 8 <= size.0 * 2 / 5 {
        return (y, SeriesLabelPosition::UpperRight, w + 8);
    }
    if let Some(found) = headroom(&[1.2, 1.8]) {
        return found;
    }
    let (pos, _) = choose_legend(p, series, x, &y, size);
    (y, pos, 0)
}

/// Draw one prepared panel into `area`.
fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    pp: &PreparedPanel<'_>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let p = pp.panel;
    let (x, y) = (&pp.x, &pp.y);
    let (caption, x_area, y_area) = label_areas(p, y);
    // A legend outside gets its own strip right of the plot (the plotting area clips).
    let (plot_area, legend_area) = if pp.legend_outside > 0 {
        let (w, _) = area.dim_in_pixel();
        let (l, r) = area.split_horizontally(w.saturating_sub(pp.legend_outside + MARGIN));
        (l, Some(r))
    } else {
        (area.clone(), None)
    };

    let mut builder = ChartBuilder::on(&plot_area);
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

    draw_layers(&mut chart, pp)?;
    // Frame on all four sides.
    chart.draw_series(std::iter::once(Rectangle::new(
        [(x.lo, y.lo), (x.hi, y.hi)],
        BLACK.stroke_width(1),
    )))?;
    match legend_area {
        None => draw_legend(&mut chart, pp, pp.legend.clone()),
        Some(r) => {
            let mut strip = ChartBuilder::on(&r)
                .margin_top(caption + MARGIN)
                .margin_right(MARGIN)
                .build_cartesian_2d(Ticked(x.clone()), Ticked(y.clone()))?;
            draw_legend(&mut strip, pp, SeriesLabelPosition::UpperLeft)
        }
    }
}

/// Draw the series of `pp` on its `chart` in layers: bands first, under every
/// line; then simulation lines below theory lines, and markers on top.
fn draw_layers<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<Ticked, Ticked>>,
    pp: &PreparedPanel<'_>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let y = &pp.y;
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
        SeriesStyle::OpenMarker,
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
                SeriesStyle::OpenMarker => {
                    chart.draw_series(
                        s.runs
                            .iter()
                            .flatten()
                            .map(|&q| Circle::new(q, 7, c.stroke_width(2))),
                    )?;
                }
            }
        }
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
    targets.write(&figure, (width, height))?;
    targets.write_table(&super::series::panels_csv(panels))
}
