//! A [`SeqRnn`] bound to its training sequences: the [`Model`] of RNN runs (loss RN-7, exact
//! full or truncated BPTT RN-3..RN-6, minibatches of whole sequences).

use super::rnn::SeqBatch;
use super::seq_rnn::{SeqRnn, SeqRnnWorkspace};
use super::{Block, Model};
use crate::error::Result;

/// A [`SeqRnn`] with its training data and BPTT truncation; minibatches are sets of sequences.
#[derive(Debug, Clone)]
pub struct SeqRnnModel<'a> {
    model: &'a SeqRnn,
    data: &'a SeqBatch,
    truncation: Option<usize>,
    ws: SeqRnnWorkspace,
    // Minibatch cache: the sorted sequences of the last sub-batch, its data and workspace.
    sub: Option<(Vec<usize>, SeqBatch, SeqRnnWorkspace)>,
    sorted: Vec<usize>,
}

impl<'a> SeqRnnModel<'a> {
    /// `model` on `data` with BPTT truncation `truncation` (`None`: full BPTT; see
    /// [`SeqRnn::loss_and_grad`]). One forward pass at `theta = 0` checks up front that the
    /// data fit the model (`n_in`, `n_out`, state noise), so later calls fail only on a
    /// non-finite `theta`.
    pub fn new(model: &'a SeqRnn, data: &'a SeqBatch, truncation: Option<usize>) -> Result<Self> {
        let mut ws = model.workspace(data);
        model.loss(&vec![0.0; model.n_params()], data, &mut ws)?;
        Ok(SeqRnnModel {
            model,
            data,
            truncation,
            ws,
            sub: None,
            sorted: Vec::new(),
        })
    }

    /// The network.
    pub fn rnn(&self) -> &'a SeqRnn {
        self.model
    }

    /// The training data.
    pub fn data(&self) -> &'a SeqBatch {
        self.data
    }
}

impl Model for SeqRnnModel<'_> {
    fn n_params(&self) -> usize {
        self.model.n_params()
    }

    fn blocks(&self) -> Vec<Block> {
        self.model.blocks().to_vec()
    }

    fn n_samples(&self) -> usize {
        self.data.batch()
    }

    fn loss(&mut self, theta: &[f64]) -> Result<f64> {
        self.model.loss(theta, self.data, &mut self.ws)
    }

    fn loss_and_grad(
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
        // The sub-batch keeps the data order of its sequences.
        self.sorted.clear();
        self.sorted.extend_from_slice(idx);
        self.sorted.sort_unstable();
        let reuse = self.sub.as_ref().is_some_and(|(i, _, _)| *i == self.sorted);
        if !reuse {
            let b = self.data.select(&self.sorted)?;
            // The workspace depends only on the batch size: keep it across steps.
            let ws = match self.sub.take() {
                Some((i, _, ws)) if i.len() == self.sorted.len() => ws,
                _ => self.model.workspace(&b),
            };
            self.sub = Some((self.sorted.clone(), b, ws));
        }
        let (_, b, ws) = self.sub.as_mut().expect("sub-batch just built");
        self.model
            .loss_and_grad(theta, b, self.truncation, ws, grad)
    }
}
