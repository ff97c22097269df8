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

#[cfg(test)]
mod tests {
    use super::*;

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
