//! Drawing: theory-vs-simulation line plots with bands and heatmaps, written as PNG and SVG,
//! and the figures of runs and scans laid out with them.
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
//!
//! The code is split by concern: private drawing primitives, whose public
//! items are re-exported here, then the figures laid out with them:
//!
//! * `panels`: [`Panel`]s of [`Series`], prepared and drawn on a grid
//!   ([`draw_panels`]);
//! * `legend`: where a panel's legend goes and how its entries look;
//! * `heatmap`: [`Heatmap`]s with a colorbar ([`draw_heatmap`]);
//! * `ticks`: plotting coordinates, axis ranges, tick positions and how
//!   numbers are written on axes and in cells;
//! * `text`: the embedded font, font sizes, text measuring and placement;
//! * `color`: the line palette and the viridis colour map;
//! * `output`: writing a figure as PNG and SVG, atomically;
//! * [`run`]: the figure of a run (`figure.png`), laid out from its records;
//! * [`scan`]: line plots and heatmaps of a scan results table.
//!
//! The figure *specs* (`figures/<id>/spec.toml`, `learndyn figure`) are not
//! here but in [`crate::figure`], which runs them and calls these layouts.

mod color;
mod heatmap;
pub mod inspect;
mod legend;
mod output;
mod panels;
pub mod recovery;
pub mod run;
pub mod scan;
mod series;
mod text;
mod ticks;

#[cfg(test)]
mod tests;

pub use heatmap::{draw_heatmap, Heatmap};
pub use panels::draw_panels;
pub use series::{Panel, Series, SeriesStyle};

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
