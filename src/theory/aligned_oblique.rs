//! Aligned and oblique dynamics (theory/random_init.md RI-9; Schuessler, Mastrogiuseppe,
//! Ostojic & Barak 2024, eLife; reference notes §5.4, check AO1).
//!
//! The claim: the readout scale at init sets the regime of a trained RNN. A large readout
//! (entries of sd `1/sqrt(N)`, `||c|| = O(1)`) gives *oblique* dynamics, where the correlation
//! between readout and states falls as `N^{-1/2}`; a small readout (entries of sd `1/N`,
//! `||c|| = O(N^{-1/2})`) gives *aligned* dynamics, where it stays `O(1)`. This module holds
//! the two measures of the paper's code (`helpers.py`: `gen_corr`, `comp_pr`), the two readout
//! scales with their predicted exponents, and the log-log regression with its standard error
//! that check AO1 fits. The training protocol is
//! `experiment::aligned_oblique` (it needs the trainer, a higher layer).
//!
//! Conventions (fixed here):
//! - states are an `N x S` matrix `X`, one column per sample (time step of a trial), rows are
//!   units; they are *centred over samples*: each row minus its mean over the `S` columns;
//! - the readout is `K x N` (`K` outputs), `yhat = C x`; it is not centred;
//! - `corr(X, C) = ||C X||_F / sqrt(||C C^T||_F ||X^T X||_F)` on the centred `X` (RI-9);
//! - `PR(X) = ||X||_F^4 / ||X^T X||_F^2 = (sum_i l_i)^2 / sum_i l_i^2` over the eigenvalues
//!   `l_i` of the sample covariance (RI-9).
//!
//! The paper's `gen_corr` centres each row of both of its arguments over the *unit* axis
//! instead (the states as `samples x N`); that removes the population mean of each sample and
//! of each readout row, an `O(1/sqrt(N))` relative change for the zero-mean random readouts
//! used here. Its `comp_pr` centres over samples, as here.

use crate::error::{Error, Result};
use crate::linalg::Matrix;

/// Scale of the fixed readout at init (RI-9): the entries of `C` are `sd * N(0, 1)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadoutScale {
    /// `sd = 1/N`, `||c_k|| ~ N^{-1/2}`: the aligned regime (the paper's `out_scale = "small"`).
    Small,
    /// `sd = 1/sqrt(N)`, `||c_k|| ~ 1`: the oblique regime (`out_scale = "large"`, PyTorch's
    /// default `Linear` init).
    Large,
}

impl ReadoutScale {
    /// Parse `"small"` (or `"aligned"`) and `"large"` (or `"oblique"`).
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "small" | "aligned" => Ok(ReadoutScale::Small),
            "large" | "oblique" => Ok(ReadoutScale::Large),
            _ => Err(Error::invalid(
                "readout scale",
                format!("unknown readout scale `{s}`; use small (aligned) or large (oblique)"),
            )),
        }
    }

    /// `"small"` or `"large"`.
    pub fn name(self) -> &'static str {
        match self {
            ReadoutScale::Small => "small",
            ReadoutScale::Large => "large",
        }
    }

    /// The regime it predicts: `"aligned"` or `"oblique"`.
    pub fn regime(self) -> &'static str {
        match self {
            ReadoutScale::Small => "aligned",
            ReadoutScale::Large => "oblique",
        }
    }

    /// The sd of a readout entry at `N` units: `1/N` (small) or `1/sqrt(N)` (large).
    pub fn entry_sd(self, n: usize) -> f64 {
        let nf = n as f64;
        match self {
            ReadoutScale::Small => 1.0 / nf,
            ReadoutScale::Large => 1.0 / nf.sqrt(),
        }
    }

    /// The predicted exponent `a` of `corr ~ N^a` after training (RI-9): 0 (aligned) or
    /// `-1/2` (oblique).
    pub fn predicted_exponent(self) -> f64 {
        match self {
            ReadoutScale::Small => 0.0,
            ReadoutScale::Large => -0.5,
        }
    }
}

/// `X` with each row's mean over the columns removed (`N x S` in, `N x S` out).
pub fn centre_samples(states: &Matrix) -> Matrix {
    let (n, s) = (states.nrows(), states.ncols());
    let mut mean = vec![0.0; n];
    for col in states.as_slice().chunks_exact(n.max(1)) {
        for (m, x) in mean.iter_mut().zip(col) {
            *m += x;
        }
    }
    mean.iter_mut().for_each(|m| *m /= s.max(1) as f64);
    let mut out = states.clone();
    for col in out.as_mut_slice().chunks_exact_mut(n.max(1)) {
        for (x, m) in col.iter_mut().zip(&mean) {
            *x -= m;
        }
    }
    out
}

/// `||X^T X||_F` of an `N x S` matrix, from the smaller Gram matrix (`S x S` or `N x N`; both
/// have the same non-zero eigenvalues).
fn gram_norm(x: &Matrix) -> f64 {
    if x.ncols() <= x.nrows() {
        x.t_matmul(x).norm_fro()
    } else {
        x.matmul_t(x).norm_fro()
    }
}

fn check_states(states: &Matrix) -> Result<()> {
    if states.nrows() == 0 || states.ncols() < 2 {
        return Err(Error::Shape {
            what: "states X".into(),
            expected: "(N >= 1, S >= 2): units x samples".into(),
            got: format!("({}, {})", states.nrows(), states.ncols()),
        });
    }
    if let Some(k) = states.as_slice().iter().position(|v| !v.is_finite()) {
        return Err(Error::invalid(
            "states X",
            format!(
                "entry {k} is {}; states must be finite",
                states.as_slice()[k]
            ),
        ));
    }
    Ok(())
}

/// Generalized correlation between a readout `C` (`K x N`) and states `X` (`N x S`, centred
/// over samples here) (RI-9): `||C X||_F / sqrt(||C C^T||_F ||X^T X||_F)`, in `[0, 1]`. For
/// `K = 1` it is `||X^T c|| / (||c|| ||X||_F) * PR(X)^{1/4}`: the cosine between the readout and
/// the states, times a factor that is 1 for rank-one states. It is 1 exactly when `X` has rank
/// one along `c` (more generally, when `X X^T` and `C^T C` are proportional).
///
/// Errors on a shape mismatch, fewer than 2 samples, a non-finite entry, or states or readout
/// that are zero after centring.
pub fn readout_correlation(readout: &Matrix, states: &Matrix) -> Result<f64> {
    check_states(states)?;
    if readout.ncols() != states.nrows() || readout.nrows() == 0 {
        return Err(Error::Shape {
            what: "readout C".into(),
            expected: format!("(K >= 1, N = {})", states.nrows()),
            got: format!("({}, {})", readout.nrows(), readout.ncols()),
        });
    }
    let x = centre_samples(states);
    let nxx = gram_norm(&x);
    let ncc = readout.matmul_t(readout).norm_fro();
    if !(nxx > 0.0 && ncc > 0.0 && ncc.is_finite()) {
        return Err(Error::invalid(
            "readout correlation",
            format!("||X^T X||_F = {nxx:e}, ||C C^T||_F = {ncc:e}; both must be positive"),
        ));
    }
    Ok(readout.matmul(&x).norm_fro() / (nxx * ncc).sqrt())
}

/// Participation ratio of the states `X` (`N x S`, centred over samples here) (RI-9):
/// `||X||_F^4 / ||X^T X||_F^2 = (sum l_i)^2 / sum l_i^2` over the eigenvalues of the sample
/// covariance; between 1 (one direction) and `min(N, S - 1)` (isotropic). Errors as
/// [`readout_correlation`] on the states.
pub fn participation_ratio(states: &Matrix) -> Result<f64> {
    check_states(states)?;
    let x = centre_samples(states);
    let nxx = gram_norm(&x);
    if nxx <= 0.0 {
        return Err(Error::invalid(
            "participation ratio",
            "the states are constant over samples; PR is undefined",
        ));
    }
    Ok(x.norm_fro().powi(4) / (nxx * nxx))
}

/// Ordinary least-squares fit `ln y = intercept + slope ln x` (RI-9's scaling check).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlopeFit {
    /// Fitted exponent.
    pub slope: f64,
    /// Its standard error `sqrt(RSS / (n - 2) / sum (ln x_i - mean)^2)`.
    pub se: f64,
    /// Fitted `ln y` at `x = 1`.
    pub intercept: f64,
    /// Number of points `n`.
    pub points: usize,
}

/// [`SlopeFit`] of `ln y` against `ln x` over all points (repeated `x`, e.g. several seeds per
/// size, are separate points). Errors unless there are at least 3 points, all `x, y > 0` and
/// finite, with at least two distinct `x`.
pub fn loglog_fit(x: &[f64], y: &[f64]) -> Result<SlopeFit> {
    if x.len() != y.len() || x.len() < 3 {
        return Err(Error::invalid(
            "log-log fit",
            format!(
                "needs at least 3 (x, y) pairs of equal length, got {} and {}",
                x.len(),
                y.len()
            ),
        ));
    }
    if let Some(i) =
        (0..x.len()).find(|&i| !(x[i] > 0.0 && y[i] > 0.0 && x[i].is_finite() && y[i].is_finite()))
    {
        return Err(Error::invalid(
            "log-log fit",
            format!(
                "point {i} is ({}, {}); x and y must be positive and finite",
                x[i], y[i]
            ),
        ));
    }
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    let n = lx.len() as f64;
    let mx = lx.iter().sum::<f64>() / n;
    let my = ly.iter().sum::<f64>() / n;
    let sxx: f64 = lx.iter().map(|a| (a - mx).powi(2)).sum();
    if sxx <= 0.0 {
        return Err(Error::invalid(
            "log-log fit",
            "all x are equal; the slope is undefined",
        ));
    }
    let sxy: f64 = lx.iter().zip(&ly).map(|(a, b)| (a - mx) * (b - my)).sum();
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let rss: f64 = lx
        .iter()
        .zip(&ly)
        .map(|(a, b)| (b - intercept - slope * a).powi(2))
        .sum();
    Ok(SlopeFit {
        slope,
        se: (rss / (n - 2.0) / sxx).sqrt(),
        intercept,
        points: lx.len(),
    })
}
