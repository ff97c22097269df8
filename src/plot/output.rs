//! Output: a figure drawn once to an in-memory SVG and once to a PNG, each
//! file written to a hidden temporary in the target directory and renamed
//! into place, so a reader never sees half a figure.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use plotters::coord::Shift;
use plotters::prelude::*;

use super::PlotError;

/// A figure ready to be drawn on any plotters backend.
pub(super) trait Render {
    /// Draw the whole figure on `root`, background included, and present it;
    /// `bitmap` tells the PNG from the SVG backend, whose text sits
    /// differently about its anchor.
    fn render<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        bitmap: bool,
    ) -> Result<(), String>;
}

/// `dir/<prefix><name><suffix>`, keeping every dot already in `name`.
fn with_suffix(dir: &Path, prefix: &str, name: &std::ffi::OsStr, suffix: &str) -> PathBuf {
    let mut s = OsString::from(prefix);
    s.push(name);
    s.push(suffix);
    dir.join(s)
}

/// A [`PlotError::Backend`] about `path`.
pub(super) fn backend_err(path: &Path, message: String) -> PlotError {
    PlotError::Backend {
        path: path.display().to_string(),
        message,
    }
}

/// The files of one figure: final names and the temporaries they are
/// written through.
pub(super) struct Targets {
    dir: PathBuf,
    png: PathBuf,
    svg: PathBuf,
    png_tmp: PathBuf,
    svg_tmp: PathBuf,
    csv: PathBuf,
}

impl Targets {
    /// `<stem>.png` and `<stem>.svg` (dots in the file name kept), with
    /// hidden temporaries in the same directory, unique per process and call.
    pub(super) fn new(stem: &Path) -> Result<Self, PlotError> {
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
            csv: with_suffix(&dir, "", name, ".csv"),
            dir,
        })
    }

    /// Create the directory, then draw `fig` at `size` to the SVG and the PNG,
    /// each through its temporary file renamed into place.
    pub(super) fn write<R: Render>(&self, fig: &R, size: (u32, u32)) -> Result<(), PlotError> {
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

    /// `<stem>.csv`: the figure-ready table of what was drawn, written atomically.
    pub(super) fn write_table(&self, text: &str) -> Result<(), PlotError> {
        crate::npy::write_atomic(&self.csv, text.as_bytes())
            .map_err(|e| backend_err(&self.csv, e.to_string()))
    }
}

/// A CSV cell: the number in shortest round-trip form, empty for NaN (no value).
pub(super) fn cell(out: &mut String, x: f64) {
    use std::fmt::Write;
    if !x.is_nan() {
        let _ = write!(out, "{x:?}");
    }
}

/// A CSV text cell, quoted (labels may hold commas).
pub(super) fn text_cell(out: &mut String, s: &str) {
    out.push('"');
    out.push_str(&s.replace('"', "\"\""));
    out.push('"');
}
