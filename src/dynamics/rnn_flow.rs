//! Full-parameter gradient flow of a [`SeqRnn`] on fixed data (C-5, RN-8).

use crate::error::Result;
use crate::integrate::VectorField;
use crate::model::rnn::SeqBatch;
use crate::model::{SeqRnn, SeqRnnWorkspace};

/// Gradient flow `dtheta/dt = -grad L(theta)` of a [`SeqRnn`] on the fixed batch `data`, with
/// full BPTT (C-5, RN-8). The state is the flat parameter vector (length
/// [`SeqRnn::n_params`], layout [`SeqRnn::blocks`]); frozen blocks have zero velocity and stay
/// constant. Time is in units of `tau = 1`: gradient descent with learning rate `lr` after `k`
/// steps approximates the flow at `t = lr k` (C-6), with an `O(lr)` error.
///
/// A state with a non-finite entry (a diverging solve) gets an all-NaN velocity, which the
/// integrator's error control rejects, since [`VectorField::eval`] cannot return an error.
#[derive(Debug, Clone)]
pub struct SeqRnnFlow<'a> {
    model: &'a SeqRnn,
    data: &'a SeqBatch,
    ws: SeqRnnWorkspace,
}

impl<'a> SeqRnnFlow<'a> {
    /// The flow of `model` on `data`. Errors if `data`'s `n_in` / `n_out` do not fit the model.
    pub fn new(model: &'a SeqRnn, data: &'a SeqBatch) -> Result<Self> {
        let mut ws = model.workspace(data);
        // One forward pass at a zero (finite) state validates the data shapes up front, so
        // `eval` can only fail on a non-finite state.
        let theta = vec![0.0; model.n_params()];
        model.loss(&theta, data, &mut ws)?;
        Ok(SeqRnnFlow { model, data, ws })
    }

    /// The loss at `theta` (RN-7); errors as [`SeqRnn::loss`].
    pub fn loss(&mut self, theta: &[f64]) -> Result<f64> {
        self.model.loss(theta, self.data, &mut self.ws)
    }
}

impl VectorField for SeqRnnFlow<'_> {
    fn dim(&self) -> usize {
        self.model.n_params()
    }

    fn eval(&mut self, _t: f64, y: &[f64], dydt: &mut [f64]) {
        match self
            .model
            .loss_and_grad(y, self.data, None, &mut self.ws, dydt)
        {
            Ok(_) => dydt.iter_mut().for_each(|v| *v = -*v),
            Err(_) => dydt.fill(f64::NAN),
        }
    }
}
