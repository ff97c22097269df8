//! Drawing a prepared heatmap: cells, frame and ticks, colorbar and missing
//! key, labels and title, on either backend.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{PreparedHeatmap, CBAR_W, HATCH_STEP, KEY_SIDE, MISSING_FILL, MISSING_HATCH};
use super::{MISSING_TEXT, TICK_GAP, TICK_LEN};
use crate::plot::color::{text_on, viridis};
use crate::plot::output::Render;
use crate::plot::series::MARGIN;
use crate::plot::text::{line_height, Place, TextMetrics, AXIS_PX, FONT, TICK_PX, TITLE_PX};
use crate::plot::ticks::{fraction, to_px, value_label};

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

impl PreparedHeatmap<'_> {
    /// Colour of colour coordinate `v`.
    fn colour(&self, v: f64) -> RGBColor {
        viridis(fraction(v, self.z_lo, self.z_hi))
    }

    /// Pixel column of plotting coordinate `v` on the x axis.
    fn px(&self, v: f64) -> i32 {
        let l = self.layout;
        to_px(v, self.x.lo(), self.x.hi(), l.left, l.right)
    }

    /// Pixel row of plotting coordinate `v` on the y axis.
    fn py(&self, v: f64) -> i32 {
        let l = self.layout;
        to_px(v, self.y.lo(), self.y.hi(), l.bottom, l.top)
    }

    /// Draw the whole heatmap on `root`, in layers: background, cells with
    /// their values, frame and axis ticks, colorbar (and missing key), then
    /// the axis labels and the title.
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        bitmap: bool,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let met = TextMetrics::of(bitmap);
        root.fill(&WHITE)?;
        self.draw_cells(root, met)?;
        self.draw_axes(root, met)?;
        self.draw_colorbar(root, met)?;
        self.draw_labels(root, met)
    }

    /// Cells, half-open pixel rectangles so neighbours tile exactly, with
    /// their values written in them if [`PreparedHeatmap::annotate`] is set.
    fn draw_cells<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        met: TextMetrics,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let (x, y) = (&self.x, &self.y);
        for (i, row) in self.cells.iter().enumerate() {
            let (y0, y1) = (self.py(y.edges[i + 1]), self.py(y.edges[i]));
            if y0 >= y1 {
                continue;
            }
            for (j, cell) in row.iter().enumerate() {
                let (x0, x1) = (self.px(x.edges[j]), self.px(x.edges[j + 1]));
                if x0 >= x1 {
                    continue;
                }
                match cell {
                    Some(v) => {
                        let c = self.colour(*v);
                        root.draw(&Rectangle::new([(x0, y0), (x1, y1)], c.filled()))?;
                        if let Some(size) = self.annotate {
                            met.draw(
                                root,
                                &value_label(self.map.z[i][j]),
                                (FONT, size).into_font(),
                                text_on(c),
                                (HPos::Center, Place::CapMiddle),
                                ((x0 + x1) / 2, (y0 + y1) / 2),
                            )?;
                        }
                    }
                    None => draw_missing(root, (x0, y0, x1, y1))?,
                }
            }
        }
        Ok(())
    }

    /// The frame of the plot and the x and y ticks, outwards, with their
    /// labels.
    fn draw_axes<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        met: TextMetrics,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let l = self.layout;
        let tick_font = || (FONT, TICK_PX).into_font();
        let frame = BLACK.stroke_width(1);
        root.draw(&Rectangle::new(
            [(l.left - 1, l.top - 1), (l.right, l.bottom)],
            frame,
        ))?;
        let label_top = l.bottom + TICK_LEN + TICK_GAP;
        for t in &self.x_ticks {
            let p = self.px(t.at);
            root.draw(&PathElement::new(
                vec![(p, l.bottom), (p, l.bottom + TICK_LEN)],
                frame,
            ))?;
            if let Some(s) = &t.label {
                let at = (HPos::Center, Place::CapTop);
                met.draw(root, s, tick_font(), BLACK, at, (p, label_top))?;
            }
        }
        for t in &self.y_ticks {
            let p = self.py(t.at);
            let x0 = l.left - 1 - TICK_LEN;
            root.draw(&PathElement::new(vec![(x0, p), (l.left - 1, p)], frame))?;
            if let Some(s) = &t.label {
                let at = (HPos::Right, Place::CapMiddle);
                met.draw(root, s, tick_font(), BLACK, at, (x0 - TICK_GAP, p))?;
            }
        }
        Ok(())
    }

    /// The colorbar: one strip per pixel row, framed, ticks on the right;
    /// under it the "missing" key if a cell is missing.
    fn draw_colorbar<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        met: TextMetrics,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let l = self.layout;
        let tick_font = || (FONT, TICK_PX).into_font();
        let frame = BLACK.stroke_width(1);
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
            let p = to_px(t.at, self.z_lo, self.z_hi, l.bottom, l.top);
            let x1 = bar_right + TICK_LEN;
            root.draw(&PathElement::new(vec![(bar_right, p), (x1, p)], frame))?;
            if let Some(s) = &t.label {
                let at = (HPos::Left, Place::CapMiddle);
                met.draw(root, s, tick_font(), BLACK, at, (x1 + TICK_GAP, p))?;
            }
        }
        if self.any_missing {
            let (kx, ky) = (l.bar_left, l.bottom + TICK_LEN + TICK_GAP);
            draw_missing(root, (kx, ky, kx + KEY_SIDE, ky + KEY_SIDE))?;
            root.draw(&Rectangle::new(
                [(kx, ky), (kx + KEY_SIDE - 1, ky + KEY_SIDE - 1)],
                MISSING_HATCH.stroke_width(1),
            ))?;
            let at = (HPos::Left, Place::CapMiddle);
            let (tx, ty) = (kx + KEY_SIDE + 6, ky + KEY_SIDE / 2);
            met.draw(root, MISSING_TEXT, tick_font(), BLACK, at, (tx, ty))?;
        }
        Ok(())
    }

    /// Axis labels, colorbar label and title.
    fn draw_labels<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        met: TextMetrics,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let map = self.map;
        let l = self.layout;
        let w = self.size.0 as i32;
        let m = MARGIN as i32;
        let axis_font = || (FONT, AXIS_PX).into_font();
        if !map.x_label.is_empty() {
            let at = (HPos::Center, Place::CapTop);
            let label_top = l.bottom + TICK_LEN + TICK_GAP;
            let (cx, cy) = ((l.left + l.right) / 2, label_top + line_height(TICK_PX) + 6);
            met.draw(root, &map.x_label, axis_font(), BLACK, at, (cx, cy))?;
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
            let bar_right = l.bar_left + CBAR_W;
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
            met.draw(root, &map.title, font, BLACK, at, (c, m + 3))?;
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
