//! Axes and ticks: plotting coordinates (log10 of the data on a logarithmic
//! axis) and their pixels, the range and ticks of a panel's axis (whole
//! decades on a logarithmic axis, nice 1-2-5 steps on a linear one), the
//! ticks of a heatmap's scales, and how numbers are written on axes and in
//! heatmap cells (superscript powers of ten, typographic minus, three
//! significant digits).

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

/// Value `v` in plotting coordinates, or `None` if it cannot be drawn.
pub(super) fn to_plot(v: f64, log: bool) -> Option<f64> {
    if !v.is_finite() {
        None
    } else if log {
        (v > 0.0).then(|| v.log10()).filter(|l| l.is_finite())
    } else {
        Some(v)
    }
}

/// Running minimum and maximum.
#[derive(Clone, Copy)]
pub(super) struct Extent(pub(super) Option<(f64, f64)>);

impl Extent {
    pub(super) fn add(&mut self, v: f64) {
        self.0 = Some(match self.0 {
            None => (v, v),
            Some((a, b)) => (a.min(v), b.max(v)),
        });
    }
}

/// Fraction of the way from `lo` to `hi` at which `v` lies (overflow-safe).
pub(super) fn fraction(v: f64, lo: f64, hi: f64) -> f64 {
    (v * 0.5 - lo * 0.5) / (hi * 0.5 - lo * 0.5)
}

/// Pixel of plotting coordinate `v` when `lo..hi` maps onto `p0..p1`.
pub(super) fn to_px(v: f64, lo: f64, hi: f64, p0: i32, p1: i32) -> i32 {
    let px = f64::from(p0) + fraction(v, lo, hi) * f64::from(p1 - p0);
    if px.is_finite() {
        px.round().clamp(-1e6, 1e6) as i32
    } else {
        p0
    }
}

/// One axis after preparation, in plotting coordinates (log10 of the data on
/// a logarithmic axis).
#[derive(Debug, Clone)]
pub(super) struct Axis {
    log: bool,
    pub(super) lo: f64,
    pub(super) hi: f64,
    /// Labelled ticks.
    pub(super) ticks: Vec<f64>,
    /// Unlabelled grid lines.
    minor: Vec<f64>,
    /// Tick spacing on a linear axis (formatting precision).
    step: f64,
    /// Linear labels in scientific notation.
    sci: bool,
}

/// An [`Axis`] as a plotters coordinate: linear in plotting coordinates, with
/// our own ticks (labels come from [`tick_label`] through the mesh formatter).
pub(super) struct Ticked(pub(super) Axis);

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
pub(super) fn make_axis(min: f64, max: f64, log: bool, target: usize) -> Axis {
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
pub(super) fn tick_label(axis: &Axis, v: f64) -> String {
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

/// A tick mark at a plotting coordinate, labelled or not.
#[derive(Debug, Clone)]
pub(super) struct Tick {
    pub(super) at: f64,
    pub(super) label: Option<String>,
}

/// Ticks on a logarithmic scale `lo..hi` (log10 units), about `target` of
/// them: decades when at least three fit; else 1-2-5 (or 1…9) times a decade
/// when that gives two to `target` ticks; else two decades if they fit; else
/// 1-2-5 times a decade however many; else (less than a factor of two)
/// nicely spaced values on the linear scale.
pub(super) fn log_ticks(lo: f64, hi: f64, target: usize) -> Vec<Tick> {
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
pub(super) fn scale_ticks(lo: f64, hi: f64, log: bool, target: usize) -> Vec<Tick> {
    if log {
        log_ticks(lo, hi, target)
    } else {
        linear_scale_ticks(lo, hi, target)
    }
}

/// Smallest stride such that labelling every stride-th tick (from the
/// first) leaves at least `gap` pixels between neighbouring labels; `px` are
/// the tick positions and `extent` the label sizes along the axis.
pub(super) fn label_stride(px: &[i32], extent: &[f64], gap: f64) -> usize {
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
pub(super) fn thin_labels(ticks: &mut [Tick], px: &[i32], extent: &[f64], gap: f64) {
    let k = label_stride(px, extent, gap);
    for (i, t) in ticks.iter_mut().enumerate() {
        if i % k != 0 {
            t.label = None;
        }
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
pub(super) fn value_label(v: f64) -> String {
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
pub(super) fn centre_labels(c: &[f64], log: bool) -> Vec<String> {
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
