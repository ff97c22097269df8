//! A [`Gru`] bound to its training sequences: its [`Model`] (loss GRU-2, exact full or
//! truncated BPTT GRU-3/GRU-4, minibatches of whole sequences).

use super::{Gru, GruWorkspace};
use crate::error::Result;
use crate::model::rnn::SeqBatch;
use crate::model::{Block, Model};

/// The BPTT model of a [`Gru`] on a [`SeqBatch`] (full or truncated). Minibatches are
/// [`SeqBatch::select`]ed sub-batches of the sequences in data order, cached while the same
/// sequences repeat.
#[derive(Debug)]
pub struct GruModel<'a> {
    model: &'a Gru,
    data: &'a SeqBatch,
    truncation: Option<usize>,
    ws: GruWorkspace,
    sub: Option<(Vec<usize>, SeqBatch, GruWorkspace)>,
    sorted: Vec<usize>,
}

impl<'a> GruModel<'a> {
    /// `model` on all sequences of `data` with BPTT window `truncation` (`None`: full BPTT).
    /// One forward pass at `theta = 0` checks up front that the data fit the model.
    pub fn new(model: &'a Gru, data: &'a SeqBatch, truncation: Option<usize>) -> Result<Self> {
        let mut ws = model.workspace(data);
        model.loss(&vec![0.0; model.n_params()], data, &mut ws)?;
        Ok(GruModel {
            model,
            data,
            truncation,
            ws,
            sub: None,
            sorted: Vec::new(),
        })
    }

    /// The workspace of the last full-batch evaluation (its [`GruWorkspace::states`]).
    pub fn workspace(&self) -> &GruWorkspace {
        &self.ws
    }

    /// The network.
    pub fn gru(&self) -> &'a Gru {
        self.model
    }
}

impl Model for GruModel<'_> {
    fn n_params(&self) -> usize {
        self.model.n_params()
    }

    fn blocks(&self) -> Vec<Block> {
        self.model.blocks().to_vec()
    }

    fn n_samples(&self) -> usize {
        self.data.batch()
    }

    /// Loss on all sequences (the workspace then holds their states).
    fn loss(&mut self, theta: &[f64]) -> Result<f64> {
        self.model.loss(theta, self.data, &mut self.ws)
    }

    /// [`Gru::loss_and_grad`] on all sequences or on `data.select(batch)` (in data order).
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
        self.sorted.clear();
        self.sorted.extend_from_slice(idx);
        self.sorted.sort_unstable();
        if self.sub.as_ref().is_none_or(|(i, _, _)| *i != self.sorted) {
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
