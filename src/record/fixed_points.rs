//! The fixed-point files of a run: `fixed_points/seed<S>.npy` and `.json` (docs/outputs.md).

use crate::analysis::fixed_points::FixedPointSet;
use crate::error::{Error, Result};
use crate::linalg::Matrix;
use crate::npy;
use std::path::{Path, PathBuf};

/// Writes the fixed points of `set`: `<dir>/<stem>.npy` (`k x dim` float64, one row per point, in the order of
/// `points`) and `<dir>/<stem>.json` (per point: `q`, `speed`, `iterations`,
/// `eigenvalues_re`, `eigenvalues_im`, `n_unstable`, `n_marginal`, `stable`, `timescales`
/// (infinite values as `null`), `is_fixed`, `x`; plus `kind`, `dim`, `n_inits`, the drop
/// counts, `index_histogram` and `options`), each atomically. An empty set writes a
/// `0 x 0` array. Creates `dir` if needed.
/// Returns the two paths written (npy first).
pub fn write_fixed_points(set: &FixedPointSet, dir: &Path, stem: &str) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let dim = set.points.first().map_or(0, |p| p.x.len());
    let xs = Matrix::from_fn(set.points.len(), dim, |i, j| set.points[i].x[j]);
    let npy_path = dir.join(format!("{stem}.npy"));
    npy::write_matrix(&npy_path, &xs)?;
    let finite_or_null = |v: f64| {
        if v.is_finite() {
            serde_json::json!(v)
        } else {
            serde_json::Value::Null
        }
    };
    let points: Vec<serde_json::Value> = set
        .points
        .iter()
        .map(|p| {
            serde_json::json!({
                "x": p.x,
                "q": p.q,
                "speed": finite_or_null(p.speed),
                "iterations": p.iterations,
                "eigenvalues_re": p.eigenvalues.iter().map(|z| z.re).collect::<Vec<_>>(),
                "eigenvalues_im": p.eigenvalues.iter().map(|z| z.im).collect::<Vec<_>>(),
                "n_unstable": p.n_unstable,
                "n_marginal": p.n_marginal,
                "stable": p.stable,
                "timescales": p.timescales.iter().map(|&t| finite_or_null(t)).collect::<Vec<_>>(),
                "is_fixed": p.is_fixed,
            })
        })
        .collect();
    let doc = serde_json::json!({
        "kind": set.kind,
        "dim": dim,
        "n_points": set.points.len(),
        "n_inits": set.n_inits,
        "n_not_converged": set.n_not_converged,
        "n_duplicates": set.n_duplicates,
        "n_outliers": set.n_outliers,
        "index_histogram": set.index_histogram(),
        "options": set.options,
        "points": points,
    });
    let json = dir.join(format!("{stem}.json"));
    let text = serde_json::to_string_pretty(&doc)
        .map_err(|e| Error::invalid("fixed-point json", e.to_string()))?;
    npy::write_atomic(&json, text.as_bytes())?;
    Ok(vec![npy_path, json])
}
