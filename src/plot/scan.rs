//! Plots of a scan results table: lines over one axis (mean over seeds and any other axes, with
//! a min-max band), or a heatmap over two axes. They read the table only; [`crate::scan`] reads
//! the file (`learndyn plot`, scan figures) and hands it to [`draw_table`].

use super::{draw_heatmap, draw_panels, Heatmap, Panel, PlotError, Series, SeriesStyle};
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// What to draw.
#[derive(Debug, Clone)]
pub struct PlotRequest {
    /// Column on the x axis.
    pub x: String,
    /// Column on the y axis (heatmap), if any.
    pub y: Option<String>,
    /// Metric columns (lines: one series each; heatmap: the first).
    pub z: Vec<String>,
    /// Column whose values split the lines into separate series (lines only).
    pub group: Option<String>,
    /// Log x axis (`None`: from the scan's axis spacing).
    pub log_x: Option<bool>,
    /// Log y axis (`None`: heatmap from the axis spacing; lines: log if all values > 0 and
    /// spanning more than two decades).
    pub log_y: Option<bool>,
    /// Log colour scale (heatmap).
    pub log_z: bool,
    /// Fit a log-log slope to each line's means and show it in the legend.
    pub fit_slope: bool,
    /// Title (`None`: what is averaged and the band, from the table).
    pub title: Option<String>,
    /// Label of the x axis (`None`: the column name).
    pub x_label: Option<String>,
    /// Label of the y axis (`None`: the metric's column name, or `value` for several; for a
    /// heatmap, the y column's name).
    pub y_label: Option<String>,
    /// Metric columns (of `z`) drawn as markers, one per row, not averaged (lines only);
    /// filled, or open for a `*theory*` column.
    pub points: Vec<String>,
    /// Draw only the rows whose column (first) holds exactly this cell (second), e.g.
    /// `("fit.method", "lds")`: one method of a recovery run's table.
    pub filter: Vec<(String, String)>,
}

/// A scan results table (`results.csv`, see `docs/scans.md`) as the plots read it.
pub struct ScanTable<'a> {
    /// The file the table was read from, named in errors.
    pub path: &'a Path,
    /// Column names: `point,replicate,seed`, the axis keys, `status,message`, the metrics.
    pub header: &'a [String],
    /// The rows, each as long as `header`, in (point, replicate) order.
    pub rows: &'a [Vec<String>],
    /// Whether the scan spaced the axis of a column logarithmically: the default of
    /// [`PlotRequest::log_x`], and of [`PlotRequest::log_y`] for a heatmap.
    pub log_spacing: &'a dyn Fn(&str) -> bool,
}

/// Least-squares slope of `ln y` against `ln x` over the points with `x, y > 0`.
pub fn loglog_slope(x: &[f64], y: &[f64]) -> Option<f64> {
    let pts: Vec<(f64, f64)> = x
        .iter()
        .zip(y)
        .filter(|(a, b)| **a > 0.0 && **b > 0.0)
        .map(|(a, b)| (a.ln(), b.ln()))
        .collect();
    if pts.len() < 2 {
        return None;
    }
    let n = pts.len() as f64;
    let (mx, my) = (
        pts.iter().map(|p| p.0).sum::<f64>() / n,
        pts.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

fn num(s: &str) -> f64 {
    s.parse::<f64>().unwrap_or(f64::NAN)
}

/// Draw `<stem>.png` and `<stem>.svg` from the finished (`status` `ok`) rows of `table`: a
/// heatmap if `req.y` is given, else lines.
///
/// # Errors
/// [`Error::Config`] naming the table if a requested column (or `status`) is missing;
/// [`Error::Invalid`] if no metric is named or the figure cannot be drawn.
pub fn draw_table(table: &ScanTable<'_>, req: &PlotRequest, stem: &Path) -> Result<()> {
    let header = table.header;
    let col = |name: &str| -> Result<usize> {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| Error::Config {
                file: table.path.display().to_string(),
                key: name.to_string(),
                message: format!("no such column; columns are {}", header.join(", ")),
            })
    };
    let xi = col(&req.x)?;
    let zis: Vec<usize> = req.z.iter().map(|z| col(z)).collect::<Result<_>>()?;
    if zis.is_empty() {
        return Err(Error::invalid("--z", "name at least one metric column"));
    }
    let si = col("status")?;
    let filters: Vec<(usize, &str)> = req
        .filter
        .iter()
        .map(|(c, v)| col(c).map(|i| (i, v.as_str())))
        .collect::<Result<_>>()?;
    // Only finished runs (failed and diverged rows carry no metrics) that pass the filters.
    let usable: Vec<&Vec<String>> = table
        .rows
        .iter()
        .filter(|r| r[si] == "ok" && filters.iter().all(|&(i, v)| r[i] == v))
        .collect();
    if usable.is_empty() && !filters.is_empty() {
        return Err(Error::invalid(
            "--where",
            format!(
                "no finished row of {} matches {}",
                table.path.display(),
                req.filter
                    .iter()
                    .map(|(c, v)| format!("{c}={v}"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
        ));
    }
    if let Some(y) = &req.y {
        if *y == req.x {
            return Err(Error::invalid(
                "--y",
                format!("is the same column as --x ({y}); a heatmap needs two different axes"),
            ));
        }
    }
    // Axes and metrics must hold numbers (or nan); a text column cannot be drawn.
    let numeric = |name: &str, i: usize| -> Result<()> {
        match usable.iter().find(|r| r[i].parse::<f64>().is_err()) {
            None => Ok(()),
            Some(r) => Err(Error::Config {
                file: table.path.display().to_string(),
                key: name.to_string(),
                message: format!(
                    "column is not numeric (it holds '{}'); plot a numeric column, or split \
                     the lines by this one with --group",
                    r[i]
                ),
            }),
        }
    };
    numeric(&req.x, xi)?;
    for (z, &i) in req.z.iter().zip(&zis) {
        numeric(z, i)?;
    }
    if let Some(y) = &req.y {
        numeric(y, col(y)?)?;
    }
    let n_axes = header
        .iter()
        .position(|h| h == "status")
        .unwrap_or(3)
        .saturating_sub(3);
    let used = 1
        + usize::from(req.y.is_some())
        + usize::from(req.group.is_some())
        + filters
            .iter()
            .filter(|(i, _)| (3..3 + n_axes).contains(i))
            .count();
    let over = format!(
        "{}mean over seeds{}",
        req.filter
            .iter()
            .map(|(c, v)| format!("{c}={v}; "))
            .collect::<String>(),
        if n_axes > used {
            " and the other axes"
        } else {
            ""
        }
    );
    let log_x = req.log_x.unwrap_or_else(|| (table.log_spacing)(&req.x));
    let to_err = |e: PlotError| Error::invalid(stem.display().to_string(), e.to_string());
    if let Some(y) = &req.y {
        let yi = col(y)?;
        let (xs, ys, z) = mean_grid(&usable, (xi, yi, zis[0]));
        let map = Heatmap {
            title: req
                .title
                .clone()
                .unwrap_or_else(|| format!("{} ({over})", req.z[0])),
            x_label: req.x_label.clone().unwrap_or_else(|| req.x.clone()),
            y_label: req.y_label.clone().unwrap_or_else(|| y.clone()),
            z_label: req.z[0].clone(),
            x: xs,
            y: ys,
            z,
            log_x,
            log_y: req.log_y.unwrap_or_else(|| (table.log_spacing)(y)),
            log_z: req.log_z,
        };
        return draw_heatmap(&map, stem, (760, 560)).map_err(to_err);
    }
    let gi = req.group.as_deref().map(col).transpose()?;
    let (series, all_y) = line_series(&usable, xi, (&zis, gi), req);
    let positive = all_y.iter().all(|v| *v > 0.0);
    let (mn, mx) = all_y
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(a, b), v| (a.min(*v), b.max(*v)));
    let log_y = req.log_y.unwrap_or(positive && mx > 100.0 * mn);
    // A requested metric without a single finite value is said in the title, not left out
    // silently (issue 14).
    let empty: Vec<&str> = req
        .z
        .iter()
        .zip(&zis)
        .filter(|(_, &i)| {
            !usable
                .iter()
                .any(|r| r[i].parse::<f64>().is_ok_and(f64::is_finite))
        })
        .map(|(z, _)| z.as_str())
        .collect();
    let note = if empty.is_empty() {
        String::new()
    } else {
        format!("; no finite values: {}", empty.join(", "))
    };
    let panel = Panel {
        // The legend names the metrics; a long list would not fit in the title.
        title: match &req.title {
            Some(t) => format!("{t}{note}"),
            None if req.z.len() == 1 => format!("{} ({over}; band: min-max{note})", req.z[0]),
            None => format!("{over}; band: min-max{note}"),
        },
        x_label: req.x_label.clone().unwrap_or_else(|| req.x.clone()),
        y_label: req.y_label.clone().unwrap_or_else(|| {
            if req.z.len() == 1 {
                req.z[0].clone()
            } else {
                "value".into()
            }
        }),
        log_x,
        log_y,
        series,
    };
    draw_panels(&[panel], stem, (760, 520)).map_err(to_err)
}

/// The grid of a heatmap of column `zi` over columns `xi` and `yi` of `rows`: the ascending
/// distinct finite x and y, and the mean of the finite z at each (x, y) as `ys.len()` rows of
/// `xs.len()` values, NaN where there is none.
fn mean_grid(
    rows: &[&Vec<String>],
    (xi, yi, zi): (usize, usize, usize),
) -> (Vec<f64>, Vec<f64>, Vec<Vec<f64>>) {
    let mut xs: Vec<f64> = rows
        .iter()
        .map(|r| num(&r[xi]))
        .filter(|v| v.is_finite())
        .collect();
    let mut ys: Vec<f64> = rows
        .iter()
        .map(|r| num(&r[yi]))
        .filter(|v| v.is_finite())
        .collect();
    for v in [&mut xs, &mut ys] {
        v.sort_by(f64::total_cmp);
        v.dedup_by(|a, b| a.to_bits() == b.to_bits());
    }
    let mut cells: BTreeMap<(u64, u64), (f64, usize)> = BTreeMap::new();
    for r in rows {
        let z = num(&r[zi]);
        if z.is_finite() {
            let e = cells
                .entry((num(&r[xi]).to_bits(), num(&r[yi]).to_bits()))
                .or_insert((0.0, 0));
            e.0 += z;
            e.1 += 1;
        }
    }
    let z: Vec<Vec<f64>> = ys
        .iter()
        .map(|yv| {
            xs.iter()
                .map(|xv| {
                    cells
                        .get(&(xv.to_bits(), yv.to_bits()))
                        .map_or(f64::NAN, |(s, n)| s / *n as f64)
                })
                .collect()
        })
        .collect();
    (xs, ys, z)
}

/// One line per metric column in `zis` (and per value of the group column `gi`, if any) over
/// column `xi` of `rows`: the mean over the rows at each x with a min-max band (theory metrics,
/// named `*theory*`, dashed and without band; metrics in `req.points`, one marker per row,
/// open for theory metrics). Returns the series and every band edge, which
/// decide the default log y.
fn line_series(
    rows: &[&Vec<String>],
    xi: usize,
    (zis, gi): (&[usize], Option<usize>),
    req: &PlotRequest,
) -> (Vec<Series>, Vec<f64>) {
    let mut series = Vec::new();
    let mut all_y = Vec::new();
    for (m, (&zi, zname)) in zis.iter().zip(&req.z).enumerate() {
        let mut groups: BTreeMap<String, BTreeMap<u64, Vec<f64>>> = BTreeMap::new();
        for r in rows {
            let (x, z) = (num(&r[xi]), num(&r[zi]));
            if x.is_finite() && z.is_finite() {
                let g = gi.map_or(String::new(), |g| r[g].clone());
                groups
                    .entry(g)
                    .or_default()
                    .entry(x.to_bits())
                    .or_default()
                    .push(z);
            }
        }
        let points = req.points.contains(zname);
        let mut keys: Vec<String> = groups.keys().cloned().collect();
        keys.sort_by(|a, b| num(a).total_cmp(&num(b)).then(a.cmp(b)));
        for (gidx, g) in keys.iter().enumerate() {
            let pts = &groups[g];
            let mut xs: Vec<f64> = pts.keys().map(|b| f64::from_bits(*b)).collect();
            xs.sort_by(f64::total_cmp);
            let stat = |f: &dyn Fn(&[f64]) -> f64| {
                xs.iter()
                    .map(|x| f(&pts[&x.to_bits()]))
                    .collect::<Vec<f64>>()
            };
            let mean = stat(&|v| v.iter().sum::<f64>() / v.len() as f64);
            let lo = stat(&|v| v.iter().cloned().fold(f64::INFINITY, f64::min));
            let hi = stat(&|v| v.iter().cloned().fold(f64::NEG_INFINITY, f64::max));
            all_y.extend(lo.iter().chain(&hi).copied());
            let theory = zname.contains("theory");
            let mut label = match &req.group {
                Some(gname) => format!("{zname}, {gname} = {g}"),
                None => zname.clone(),
            };
            if points {
                // Every row its own marker, in x order.
                let (px, py): (Vec<f64>, Vec<f64>) = xs
                    .iter()
                    .flat_map(|x| pts[&x.to_bits()].iter().map(move |z| (*x, *z)))
                    .unzip();
                all_y.extend(py.iter().copied());
                if req.fit_slope {
                    if let Some(k) = loglog_slope(&px, &py) {
                        label.push_str(&format!(" (slope {k:.2})"));
                    }
                }
                series.push(Series {
                    label,
                    // A theory value per row (e.g. a realized prediction) rings its point.
                    style: if theory {
                        SeriesStyle::OpenMarker
                    } else {
                        SeriesStyle::Marker
                    },
                    color: if req.group.is_some() { gidx } else { m },
                    x: px,
                    y: py,
                    lo: None,
                    hi: None,
                });
                continue;
            }
            if req.fit_slope {
                if let Some(k) = loglog_slope(&xs, &mean) {
                    label.push_str(&format!(" (slope {k:.2})"));
                }
            }
            series.push(Series {
                label,
                style: if theory {
                    SeriesStyle::Theory
                } else {
                    SeriesStyle::Simulation
                },
                color: if req.group.is_some() { gidx } else { m },
                x: xs,
                y: mean,
                lo: (!theory).then_some(lo),
                hi: (!theory).then_some(hi),
            });
        }
    }
    (series, all_y)
}
