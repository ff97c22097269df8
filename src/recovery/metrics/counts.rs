//! Count likelihoods: Poisson negative log-likelihood and co-smoothing bits per spike (M2).

use crate::error::{Error, Result};
use crate::linalg::Matrix;

/// `ln Gamma(x)` for `x > 0` (Lanczos, g = 7, 9 terms; relative error ~1e-15), with the
/// reflection-free shift for small `x`.
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Gamma(x) = Gamma(x + 1) / x.
        return ln_gamma(x + 1.0) - x.ln();
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Poisson negative log-likelihood `sum rate - k ln rate + ln k!` of counts `k` (non-negative
/// integers) under `rates` (> 0, finite), same length.
pub fn poisson_nll(counts: &[f64], rates: &[f64]) -> Result<f64> {
    if counts.len() != rates.len() {
        return Err(Error::Shape {
            what: "Poisson rates".into(),
            expected: format!("{}", counts.len()),
            got: format!("{}", rates.len()),
        });
    }
    let mut s = 0.0;
    for (&k, &r) in counts.iter().zip(rates) {
        if !(r.is_finite() && r > 0.0) {
            return Err(Error::invalid(
                "rates",
                format!("a predicted rate is {r}; Poisson rates must be positive and finite"),
            ));
        }
        if !(k >= 0.0 && k.fract() == 0.0) {
            return Err(Error::invalid("counts", format!("{k} is not a count")));
        }
        s += r - k * r.ln() + ln_gamma(k + 1.0);
    }
    Ok(s)
}

/// Co-smoothing bits per spike (M2): `(NLL_null - NLL_model) / (total spikes * ln 2)` for
/// `counts` and `rates` (`samples x neurons`), the null model predicting the constant rate
/// `null_rates[j]` for neuron `j`. Errors when there are no spikes.
pub fn co_bps(counts: &Matrix, rates: &Matrix, null_rates: &[f64]) -> Result<f64> {
    if counts.nrows() != rates.nrows()
        || counts.ncols() != rates.ncols()
        || null_rates.len() != counts.ncols()
    {
        return Err(Error::Shape {
            what: "co-bps rates".into(),
            expected: format!("({}, {})", counts.nrows(), counts.ncols()),
            got: format!("({}, {})", rates.nrows(), rates.ncols()),
        });
    }
    let null = Matrix::from_fn(counts.nrows(), counts.ncols(), |_, j| null_rates[j]);
    let spikes: f64 = counts.as_slice().iter().sum();
    if spikes <= 0.0 {
        return Err(Error::invalid(
            "co-bps",
            "the held-out neurons have no spikes",
        ));
    }
    let a = poisson_nll(counts.as_slice(), null.as_slice())?;
    let b = poisson_nll(counts.as_slice(), rates.as_slice())?;
    Ok((a - b) / (spikes * std::f64::consts::LN_2))
}

/// Poisson GLM `log rate = a + w . x` fitted to `counts` (one neuron) from `x`
/// (`samples x p`) by Newton's method on the penalized negative log-likelihood
/// `sum_s (rate_s - y_s log rate_s) + ridge/2 |w|^2` (the intercept is not penalized), with
/// step halving; at most `max_iter` iterations. Returns `(a, w)`. The features should be
/// standardized (the ridge is in their units).
pub fn poisson_glm(
    x: &Matrix,
    counts: &[f64],
    ridge: f64,
    max_iter: usize,
) -> Result<(f64, Vec<f64>)> {
    let (n, p) = (x.nrows(), x.ncols());
    if counts.len() != n || n == 0 {
        return Err(Error::Shape {
            what: "Poisson GLM counts".into(),
            expected: format!("({n},) with n >= 1"),
            got: format!("({},)", counts.len()),
        });
    }
    let mean = counts.iter().sum::<f64>() / n as f64;
    let mut theta = vec![0.0; p + 1];
    theta[0] = mean.max(1e-12).ln();
    let eta = |t: &[f64], s: usize| t[0] + (0..p).map(|j| t[j + 1] * x.get(s, j)).sum::<f64>();
    let loss = |t: &[f64]| -> f64 {
        let mut l = 0.0;
        for (s, y) in counts.iter().enumerate() {
            let e = eta(t, s).min(50.0);
            l += e.exp() - y * e;
        }
        l + 0.5 * ridge * t[1..].iter().map(|v| v * v).sum::<f64>()
    };
    let mut cur = loss(&theta);
    for _ in 0..max_iter {
        let mut g = vec![0.0; p + 1];
        let mut h = Matrix::zeros(p + 1, p + 1);
        for (s, y) in counts.iter().enumerate() {
            let r = eta(&theta, s).min(50.0).exp();
            let feat = |j: usize| if j == 0 { 1.0 } else { x.get(s, j - 1) };
            for (a, ga) in g.iter_mut().enumerate() {
                *ga += (r - y) * feat(a);
                for b in 0..=a {
                    h.set(a, b, h.get(a, b) + r * feat(a) * feat(b));
                }
            }
        }
        for a in 0..=p {
            for b in 0..a {
                h.set(b, a, h.get(a, b));
            }
            if a > 0 {
                g[a] += ridge * theta[a];
                h.set(a, a, h.get(a, a) + ridge);
            }
        }
        let step = crate::linalg::solve(&h, &Matrix::from_fn(p + 1, 1, |i, _| g[i]))?;
        let mut t = 1.0;
        let mut improved = false;
        while t > 1e-8 {
            let cand: Vec<f64> = (0..=p).map(|i| theta[i] - t * step.get(i, 0)).collect();
            let l = loss(&cand);
            if l <= cur {
                let done = (cur - l).abs() <= 1e-12 * cur.abs().max(1.0);
                theta = cand;
                cur = l;
                improved = !done;
                break;
            }
            t *= 0.5;
        }
        if !improved {
            break;
        }
    }
    Ok((theta[0], theta[1..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_glm_recovers_a_log_linear_rate() {
        // Noise-free "counts" equal to the rate itself: the minimizer is the true (a, w).
        let x = Matrix::from_fn(400, 2, |s, j| ((s * (j + 3)) as f64 * 0.37).sin());
        let y: Vec<f64> = (0..400)
            .map(|s| (0.5 + 0.8 * x.get(s, 0) - 0.3 * x.get(s, 1)).exp())
            .collect();
        let (a, w) = poisson_glm(&x, &y, 0.0, 50).unwrap();
        assert!((a - 0.5).abs() < 1e-9 && (w[0] - 0.8).abs() < 1e-9 && (w[1] + 0.3).abs() < 1e-9);
    }

    #[test]
    fn ln_gamma_matches_log_factorials() {
        let mut lf = 0.0f64;
        for n in 1..=170u32 {
            // ln((n-1)!) = ln Gamma(n).
            let g = ln_gamma(f64::from(n));
            assert!(
                (g - lf).abs() <= 1e-13 * lf.abs().max(1.0),
                "n = {n}: {g} vs {lf}"
            );
            lf += f64::from(n).ln();
        }
    }

    #[test]
    fn co_bps_is_zero_at_the_null_and_positive_for_a_better_model() {
        let k = Matrix::from_fn(4, 1, |i, _| [0.0, 1.0, 3.0, 0.0][i]);
        let null = Matrix::from_fn(4, 1, |_, _| 1.0);
        assert!(co_bps(&k, &null, &[1.0]).unwrap().abs() < 1e-15);
        let better = Matrix::from_fn(4, 1, |i, _| [0.2, 1.0, 3.0, 0.2][i]);
        assert!(co_bps(&k, &better, &[1.0]).unwrap() > 0.0);
    }
}
