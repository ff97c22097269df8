//! Batches of training sequences (RN-7, RN-9): inputs, targets, per-step loss weights and an
//! optional frozen state noise, in the GEMM layout every recurrent network reads.

use crate::error::{Error, Result};
use crate::linalg::Matrix;

/// A batch of `B` sequences of length `T` in the GEMM layout: column `(t - 1) B + b` holds
/// time step `t` (`1..=T`) of sequence `b`. All entries are finite (checked on construction).
///
/// Per-time-step loss weights `w_t` (`t = 1..T`, RN-7) default to `1/T` each, so that the
/// weighted loss `1/(2B) sum_t w_t sum_b ||yhat_t - y_t||^2` is the mean of RN-2.
#[derive(Debug, Clone)]
pub struct SeqBatch {
    /// Inputs, `n_in x T B`.
    x: Matrix,
    /// Targets, `n_out x T B`.
    y: Matrix,
    t: usize,
    b: usize,
    /// Time weights `w_1..w_T` (finite, nonnegative).
    tw: Vec<f64>,
    /// Optional noise added to the recurrent drive, `N x T B` (RN-9).
    noise: Option<Matrix>,
}

impl SeqBatch {
    /// Inputs `x` (`n_in x T B`) and targets `y` (`n_out x T B`) of `b` sequences of length `t`.
    /// Errors if `t` or `b` is 0, a shape does not match, or an entry is not finite.
    pub fn new(x: Matrix, y: Matrix, t: usize, b: usize) -> Result<Self> {
        if t == 0 || b == 0 {
            return Err(Error::invalid(
                "RNN batch",
                format!("need T >= 1 and B >= 1, got T={t} B={b}"),
            ));
        }
        let tb = t
            .checked_mul(b)
            .ok_or_else(|| Error::invalid("RNN batch", format!("T B overflows (T={t}, B={b})")))?;
        if x.ncols() != tb || x.nrows() == 0 {
            return Err(Error::Shape {
                what: "RNN inputs X".into(),
                expected: format!("(n_in >= 1, T B = {tb})"),
                got: format!("({}, {})", x.nrows(), x.ncols()),
            });
        }
        if y.ncols() != tb || y.nrows() == 0 {
            return Err(Error::Shape {
                what: "RNN targets Y".into(),
                expected: format!("(n_out >= 1, T B = {tb})"),
                got: format!("({}, {})", y.nrows(), y.ncols()),
            });
        }
        check_finite("RNN inputs X", &x)?;
        check_finite("RNN targets Y", &y)?;
        let tw = vec![1.0 / t as f64; t];
        Ok(SeqBatch {
            x,
            y,
            t,
            b,
            tw,
            noise: None,
        })
    }

    /// The same batch with per-time-step loss weights `w` (`w[t - 1]` weighs step `t`, RN-7):
    /// the loss becomes `L = 1/(2B) sum_t w_t sum_b ||yhat_t - y_t||^2` (the default `1/T` each
    /// gives RN-2's `1/(2BT)` mean). Errors if `w.len() != T` or an entry is negative or not
    /// finite. Only [`crate::model::seq_rnn::SeqRnn`] and the GRU use non-default weights;
    /// the benchmark [`crate::model::rnn::Rnn`] refuses them.
    pub fn with_time_weights(mut self, w: Vec<f64>) -> Result<Self> {
        if w.len() != self.t {
            return Err(Error::Shape {
                what: "RNN time weights".into(),
                expected: format!("T = {} entries (one per time step)", self.t),
                got: format!("{} entries", w.len()),
            });
        }
        if let Some(k) = w.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
            return Err(Error::invalid(
                "RNN time weights",
                format!(
                    "weight of step t = {} is {}; weights must be finite and >= 0",
                    k + 1,
                    w[k]
                ),
            ));
        }
        self.tw = w;
        Ok(self)
    }

    /// Time weights `w_1..w_T` (length `T`; default `1/T` each).
    pub fn time_weights(&self) -> &[f64] {
        &self.tw
    }

    /// True if every time weight is exactly the default `1/T` (the RN-2 mean that [`Rnn`]
    /// assumes).
    pub(crate) fn has_default_time_weights(&self) -> bool {
        let d = (1.0 / self.t as f64).to_bits();
        self.tw.iter().all(|w| w.to_bits() == d)
    }

    /// The sub-batch of the given sequences (indices into `0..B`, in the given order, repeats
    /// allowed, e.g. for minibatch SGD), with the same `T` and time weights. Errors if
    /// `sequences` is empty or an index is `>= B`.
    pub fn select(&self, sequences: &[usize]) -> Result<SeqBatch> {
        if sequences.is_empty() {
            return Err(Error::invalid(
                "RNN batch selection",
                "no sequences selected; pass at least one index",
            ));
        }
        if let Some(&bad) = sequences.iter().find(|&&s| s >= self.b) {
            return Err(Error::invalid(
                "RNN batch selection",
                format!(
                    "sequence index {bad} is out of range; the batch has B = {} sequences",
                    self.b
                ),
            ));
        }
        let nb = sequences.len();
        let pick = |m: &Matrix| {
            Matrix::from_fn(m.nrows(), self.t * nb, |i, col| {
                let (step, k) = (col / nb, col % nb);
                m.get(i, step * self.b + sequences[k])
            })
        };
        Ok(SeqBatch {
            x: pick(&self.x),
            y: pick(&self.y),
            t: self.t,
            b: nb,
            tw: self.tw.clone(),
            noise: self.noise.as_ref().map(pick),
        })
    }

    /// Attach a frozen noise realization `xi` (`N x T B`, same column layout as `x`) that
    /// [`crate::model::seq_rnn::SeqRnn`] adds to the drive `U x_t + b` at every step (RN-9):
    /// discrete `h_t = phi(W h_{t-1} + U x_t + b + xi_t)`, rate
    /// `h_t = (1 - alpha) h_{t-1} + alpha (W phi(h_{t-1}) + U x_t + b + xi_t)`. Error if the
    /// column count is not `T B` or an entry is not finite; the row count must equal the
    /// model's hidden size (checked by the model).
    pub fn with_state_noise(mut self, xi: Matrix) -> Result<Self> {
        if xi.ncols() != self.t * self.b {
            return Err(Error::Shape {
                what: "RNN state noise".into(),
                expected: format!("(N, T B = {})", self.t * self.b),
                got: format!("({}, {})", xi.nrows(), xi.ncols()),
            });
        }
        check_finite("RNN state noise", &xi)?;
        self.noise = Some(xi);
        Ok(self)
    }

    /// The state noise, if any (`N x T B`).
    pub fn state_noise(&self) -> Option<&Matrix> {
        self.noise.as_ref()
    }

    /// Inputs `X`, `n_in x T B`.
    pub fn x(&self) -> &Matrix {
        &self.x
    }
    /// Targets `Y`, `n_out x T B`.
    pub fn y(&self) -> &Matrix {
        &self.y
    }
    /// Sequence length `T`.
    pub fn steps(&self) -> usize {
        self.t
    }
    /// Batch size `B`.
    pub fn batch(&self) -> usize {
        self.b
    }
    /// Input dimension `n_in`.
    pub fn n_in(&self) -> usize {
        self.x.nrows()
    }
    /// Output dimension `n_out`.
    pub fn n_out(&self) -> usize {
        self.y.nrows()
    }
}

pub(crate) fn check_finite(what: &str, m: &Matrix) -> Result<()> {
    match m.as_slice().iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(k) => Err(Error::invalid(
            what,
            format!(
                "entry ({}, {}) is {}; all entries must be finite",
                k % m.nrows().max(1),
                k / m.nrows().max(1),
                m.as_slice()[k]
            ),
        )),
    }
}
