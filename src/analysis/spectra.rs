//! Spectra of linearized dynamics: the one eigenvalue ordering and the one timescale
//! convention of learndyn (AN-1, AN-2, AN-3 in theory/rnn.md; FP-3 in theory/fixed_points.md).
//!
//! Everything here is about a Jacobian `J` of a discrete map (`x_{t+1} = F(x_t)`, eigenvalues
//! `lambda` of `dF/dx`) or of a continuous flow (`dx/dt = f(x)`, eigenvalues of `df/dx`):
//! - **persistence** of a mode: `|lambda|` (discrete) or `Re lambda` (continuous); larger is
//!   slower;
//! - **ordering** ([`sort_eigenvalues`]): most persistent first; ties (a complex-conjugate
//!   pair, or equal moduli) by larger real part, then larger imaginary part; NaN last;
//! - **timescale** ([`timescale`]): `-1 / ln|lambda|` steps (discrete) or `-1 / Re lambda`
//!   time units (continuous); `+inf` for a marginal mode (`|lambda| = 1`, `Re lambda = 0`),
//!   negative for an unstable one (its e-folding time of growth).

use crate::error::Result;
use crate::linalg::{self, Matrix};
use num_complex::Complex64;

pub use crate::model::state_map::TimeKind;

/// Sort eigenvalues most persistent first (module docs): by [`TimeKind::persistence`]
/// descending, then real part descending, then imaginary part descending; NaN entries last.
pub fn sort_eigenvalues(ev: &mut [Complex64], kind: TimeKind) {
    let key = |z: &Complex64| {
        let p = kind.persistence(*z);
        // total_cmp orders a positive NaN above +inf: map NaN to -inf so it sorts last.
        if p.is_nan() {
            f64::NEG_INFINITY
        } else {
            p
        }
    };
    ev.sort_by(|a, b| {
        key(b)
            .total_cmp(&key(a))
            .then(b.re.total_cmp(&a.re))
            .then(b.im.total_cmp(&a.im))
    });
}

/// Eigenvalues of the square matrix `j`, sorted by [`sort_eigenvalues`].
pub fn sorted_eigenvalues(j: &Matrix, kind: TimeKind) -> Result<Vec<Complex64>> {
    let mut ev = linalg::eigenvalues(j)?;
    sort_eigenvalues(&mut ev, kind);
    Ok(ev)
}

/// Timescale of the mode of eigenvalue `z` (AN-2, FP-3): `-1 / ln|z|` steps (discrete) or
/// `-1 / Re z` time units (continuous). `+inf` for an exactly marginal mode (not the `-inf`
/// that `-1 / (-0.0)` would give), negative for an unstable one, NaN for a NaN eigenvalue.
pub fn timescale(z: Complex64, kind: TimeKind) -> f64 {
    let rate = match kind {
        TimeKind::Discrete => -z.norm().ln(),
        TimeKind::Continuous => -z.re,
    };
    if rate == 0.0 {
        f64::INFINITY
    } else {
        1.0 / rate
    }
}

/// Effective rank of a spectrum (AN-3): `exp(-sum p_i ln p_i)` with `p_i = sigma_i / sum sigma`;
/// 0 for a zero (or NaN) spectrum.
pub fn effective_rank(sigma: &[f64]) -> f64 {
    let total: f64 = sigma.iter().sum();
    if total.is_nan() || total <= 0.0 {
        return 0.0;
    }
    let h: f64 = sigma
        .iter()
        .map(|&s| s / total)
        .filter(|&p| p > 0.0)
        .map(|p| -p * p.ln())
        .sum();
    h.exp()
}
