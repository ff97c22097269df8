//! Text: the embedded font and its sizes, measuring text, and placing a line
//! of text on a backend whose glyphs sit differently about their anchor.

use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::register_font;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Font family name under which DejaVu Sans is registered with plotters.
pub(super) const FONT: &str = "sans-serif";
/// Title font size in pixels.
pub(super) const TITLE_PX: f64 = 20.0;
/// Axis-label font size in pixels.
pub(super) const AXIS_PX: f64 = 18.0;
/// Tick-label font size in pixels.
pub(super) const TICK_PX: f64 = 15.0;
/// Legend font size in pixels.
pub(super) const LEGEND_PX: f64 = 15.0;

/// Register the embedded fonts with plotters, once per process.
pub(super) fn ensure_fonts() -> Result<(), String> {
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

/// Width in pixels of `text` at `px` pixels, or an estimate if the font fails.
pub(super) fn text_width(text: &str, px: f64) -> u32 {
    (FONT, px)
        .into_font()
        .box_size(text)
        .map(|(w, _)| w)
        .unwrap_or_else(|_| (text.chars().count() as f64 * px * 0.62) as u32)
}

/// Height in pixels of one line of text at `px` pixels.
pub(super) fn line_height(px: f64) -> i32 {
    (px * 1.25).ceil() as i32
}

/// Where horizontal text sits about its anchor on a backend, in fractions
/// of the font size.
#[derive(Debug, Clone, Copy)]
pub(super) struct TextMetrics {
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
    pub(super) fn of(bitmap: bool) -> Self {
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

    /// Draw horizontal `text` in `font` and `colour`, anchored horizontally
    /// by `h` at pixel column `x` and placed vertically by `place` at pixel
    /// row `y`.
    pub(super) fn draw<DB: DrawingBackend>(
        self,
        root: &DrawingArea<DB, Shift>,
        text: &str,
        font: FontDesc<'_>,
        colour: RGBColor,
        (h, place): (HPos, Place),
        (x, y): (i32, i32),
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let size = font.get_size();
        let baseline = f64::from(y)
            + match place {
                Place::CapTop => self.cap * size,
                Place::CapMiddle => 0.5 * self.cap * size,
            };
        let top = (baseline - self.baseline * size).round() as i32;
        let style = TextStyle::from(font)
            .color(&colour)
            .pos(Pos::new(h, VPos::Top));
        root.draw_text(text, &style, (x, top))
    }
}

/// Vertical placement of a line of text.
#[derive(Debug, Clone, Copy)]
pub(super) enum Place {
    /// Top of the capitals at the given pixel row.
    CapTop,
    /// Middle of the capitals (digits) at the given pixel row.
    CapMiddle,
}
