//! State-space and power-spectrum divergences (M8; Durstewitz-lab DSR measures,
//! attractors.md §3.2): `D_stsp` by binning and the Hellinger power-spectrum error `D_H`, both
//! between two sets of trajectories in the same coordinates.

use crate::error::{Error, Result};
use crate::linalg::Matrix;

/// `D_stsp` (binning): per dimension the bins span `[min - 0.1 sd, max + 0.1 sd]` of the
/// *true* samples with `n_bins` bins; `p`, `q` are the N-D histograms of `truth` and `model`
/// (`samples x dims`, at most 3 dims), Laplace-smoothed `(h + alpha) / (sum h + alpha K)`
/// with `K = n_bins^dims`; the result is `KL(p || q)` in nats. Samples outside the bins are
/// dropped.
pub fn state_space_divergence(
    truth: &Matrix,
    model: &Matrix,
    n_bins: usize,
    alpha: f64,
) -> Result<f64> {
    let dims = truth.ncols();
    if model.ncols() != dims || !(1..=3).contains(&dims) || n_bins == 0 {
        return Err(Error::invalid(
            "D_stsp",
            format!(
                "needs 1 to 3 equal dimensions (got {dims} and {})",
                model.ncols()
            ),
        ));
    }
    let n = truth.nrows() as f64;
    let edges: Vec<(f64, f64)> = (0..dims)
        .map(|j| {
            let col: Vec<f64> = (0..truth.nrows()).map(|i| truth.get(i, j)).collect();
            let m = col.iter().sum::<f64>() / n;
            let sd = (col.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n).sqrt();
            let lo = col.iter().copied().fold(f64::INFINITY, f64::min) - 0.1 * sd;
            let hi = col.iter().copied().fold(f64::NEG_INFINITY, f64::max) + 0.1 * sd;
            (lo, hi)
        })
        .collect();
    let k = n_bins.pow(dims as u32);
    let hist = |x: &Matrix| {
        let mut h = vec![0.0; k];
        'rows: for i in 0..x.nrows() {
            let mut idx = 0;
            for (j, &(lo, hi)) in edges.iter().enumerate() {
                let v = x.get(i, j);
                if !(v >= lo && v < hi) {
                    continue 'rows;
                }
                let b = (((v - lo) / (hi - lo)) * n_bins as f64) as usize;
                idx = idx * n_bins + b.min(n_bins - 1);
            }
            h[idx] += 1.0;
        }
        let total: f64 = h.iter().sum();
        h.iter()
            .map(|c| (c + alpha) / (total + alpha * k as f64))
            .collect::<Vec<f64>>()
    };
    let (p, q) = (hist(truth), hist(model));
    Ok(p.iter().zip(&q).map(|(a, b)| a * (a / b).ln()).sum())
}

/// Normalized power spectrum of one z-scored series: `|DFT|^2` at frequencies `1 ..= T/2`
/// (the mean, frequency 0, is removed by the z-score), Gaussian-smoothed with standard
/// deviation `sigma` bins (reflecting edges; no smoothing at `sigma = 0`), summing to 1.
fn spectrum(x: &[f64], sigma: f64) -> Vec<f64> {
    let t = x.len();
    let m = x.iter().sum::<f64>() / t as f64;
    let sd = (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / t as f64)
        .sqrt()
        .max(f64::MIN_POSITIVE);
    let z: Vec<f64> = x.iter().map(|v| (v - m) / sd).collect();
    let nf = t / 2;
    let mut p: Vec<f64> = (1..=nf)
        .map(|f| {
            let w = 2.0 * std::f64::consts::PI * f as f64 / t as f64;
            let (mut re, mut im) = (0.0, 0.0);
            for (s, v) in z.iter().enumerate() {
                re += v * (w * s as f64).cos();
                im -= v * (w * s as f64).sin();
            }
            re * re + im * im
        })
        .collect();
    if sigma > 0.0 && nf > 1 {
        let r = (4.0 * sigma).ceil() as i64;
        let kern: Vec<f64> = (-r..=r)
            .map(|d| (-(d * d) as f64 / (2.0 * sigma * sigma)).exp())
            .collect();
        let ks: f64 = kern.iter().sum();
        let refl = |i: i64| -> usize {
            let n = nf as i64;
            let mut i = i;
            while i < 0 || i >= n {
                i = if i < 0 { -i - 1 } else { 2 * n - i - 1 };
            }
            i as usize
        };
        p = (0..nf as i64)
            .map(|i| {
                (-r..=r)
                    .zip(&kern)
                    .map(|(d, k)| k * p[refl(i + d)])
                    .sum::<f64>()
                    / ks
            })
            .collect();
    }
    let s: f64 = p.iter().sum();
    if s > 0.0 {
        p.iter_mut().for_each(|v| *v /= s);
    }
    p
}

/// `D_H`: the Hellinger distance `(1/sqrt 2) ||sqrt p - sqrt q||` between normalized power
/// spectra (z-scored, frequencies 1 ..= T/2, smoothed, normalized) of each dimension of paired trials (each `time x dims`, same shapes),
/// averaged over dimensions and trials. In [0, 1]; 0 for identical spectra.
pub fn power_spectrum_error(truth: &[Matrix], model: &[Matrix], sigma: f64) -> Result<f64> {
    if truth.len() != model.len() || truth.is_empty() {
        return Err(Error::invalid(
            "D_H",
            "needs the same, non-zero number of trials",
        ));
    }
    let mut total = 0.0;
    let mut count = 0usize;
    for (a, b) in truth.iter().zip(model) {
        if a.nrows() != b.nrows() || a.ncols() != b.ncols() || a.nrows() < 4 {
            return Err(Error::invalid(
                "D_H",
                "paired trials need equal shapes and >= 4 samples",
            ));
        }
        for j in 0..a.ncols() {
            let col = |m: &Matrix| (0..m.nrows()).map(|i| m.get(i, j)).collect::<Vec<f64>>();
            let (p, q) = (spectrum(&col(a), sigma), spectrum(&col(b), sigma));
            let h: f64 = p
                .iter()
                .zip(&q)
                .map(|(x, y)| (x.sqrt() - y.sqrt()).powi(2))
                .sum();
            total += (0.5 * h).sqrt();
            count += 1;
        }
    }
    Ok(total / count as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pure tones: a sinusoid's spectrum is one bin, so two tones at different frequencies
    /// have disjoint spectra (D_H = 1), the same tone in a different phase and scale has
    /// D_H = 0; the histogram KL is 0 for identical samples and grows with a shift.
    #[test]
    fn tones_and_shifts() {
        let t = 64;
        let tone = |f: f64, ph: f64, a: f64| {
            Matrix::from_fn(t, 1, |s, _| {
                a * (2.0 * std::f64::consts::PI * f * s as f64 / t as f64 + ph).sin()
            })
        };
        let d = |a: &Matrix, b: &Matrix| {
            power_spectrum_error(std::slice::from_ref(a), std::slice::from_ref(b), 0.0).unwrap()
        };
        assert!(d(&tone(3.0, 0.0, 1.0), &tone(3.0, 1.0, 5.0)) < 1e-12);
        assert!((d(&tone(3.0, 0.0, 1.0), &tone(7.0, 0.0, 1.0)) - 1.0).abs() < 1e-12);
        let x = Matrix::from_fn(500, 2, |i, j| ((i * (j + 3)) % 17) as f64);
        assert!(state_space_divergence(&x, &x, 10, 1e-5).unwrap().abs() < 1e-15);
        let shifted = Matrix::from_fn(500, 2, |i, j| x.get(i, j) + 2.0);
        assert!(state_space_divergence(&x, &shifted, 10, 1e-5).unwrap() > 1.0);
    }
}
