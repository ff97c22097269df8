//! Loss and gradient of a [`Gru`] on all sequences of a batch or on a minibatch of them, in the
//! shape of [`crate::train::seq::Objective`] (the trait is implemented where training is wired,
//! so that `model` does not import `train`).

use super::{Gru, GruWorkspace};
use crate::error::Result;
use crate::model::rnn::SeqBatch;

/// The BPTT objective of a [`Gru`] on a [`SeqBatch`] (full or truncated), with the methods of
/// [`crate::train::seq::Objective`]; minibatches are [`SeqBatch::select`]ed sub-batches, cached
/// while the same indices repeat.
#[derive(Debug)]
pub struct GruObjective<'a> {
    model: &'a Gru,
    data: &'a SeqBatch,
    truncation: Option<usize>,
    ws: GruWorkspace,
    sub: Option<(Vec<usize>, SeqBatch, GruWorkspace)>,
}

impl<'a> GruObjective<'a> {
    /// The objective of `model` on all sequences of `data` with BPTT window `truncation`
    /// (`None`: full BPTT).
    pub fn new(model: &'a Gru, data: &'a SeqBatch, truncation: Option<usize>) -> Self {
        GruObjective {
            model,
            data,
            truncation,
            ws: model.workspace(data),
            sub: None,
        }
    }

    /// The workspace of the last full-batch evaluation (its [`GruWorkspace::states`]).
    pub fn workspace(&self) -> &GruWorkspace {
        &self.ws
    }

    /// Length of the parameter vector.
    pub fn n_params(&self) -> usize {
        self.model.n_params()
    }

    /// Number of training sequences (the population minibatches are drawn from).
    pub fn n_sequences(&self) -> usize {
        self.data.batch()
    }

    /// Loss and gradient (into `grad`, `n_params` entries) on the sequences `batch` (indices
    /// into `0..B`; `None`: all of them), i.e. [`Gru::loss_and_grad`] on
    /// `data.select(batch)`. Errors as [`Gru::loss_and_grad`] and [`SeqBatch::select`].
    pub fn loss_and_grad(
        &mut self,
        theta: &[f64],
        batch: Option<&[usize]>,
        grad: &mut [f64],
    ) -> Result<f64> {
        let Some(idx) = batch else {
            return self
                .model
                .loss_and_grad(theta, self.data, self.truncation, &mut self.ws, grad);
        };
        if self.sub.as_ref().is_none_or(|(i, _, _)| i != idx) {
            let b = self.data.select(idx)?;
            // The workspace depends only on the batch size: keep it across steps.
            let ws = match self.sub.take() {
                Some((i, _, ws)) if i.len() == idx.len() => ws,
                _ => self.model.workspace(&b),
            };
            self.sub = Some((idx.to_vec(), b, ws));
        }
        let (_, b, ws) = self.sub.as_mut().expect("sub-batch just built");
        self.model
            .loss_and_grad(theta, b, self.truncation, ws, grad)
    }

    /// Loss on all sequences (the workspace then holds their states).
    pub fn loss(&mut self, theta: &[f64]) -> Result<f64> {
        self.model.loss(theta, self.data, &mut self.ws)
    }
}
