//! Recurrent networks bound to their training sequences: one [`Model`] for every sequence
//! family (loss RN-7 / GRU-2, exact full or truncated BPTT RN-3..RN-6 / GRU-3, GRU-4,
//! minibatches of whole sequences). A new recurrent family implements [`SequenceNet`] and gets
//! its [`Model`] from [`SequenceModel`].

use super::rnn::SeqBatch;
use super::seq_rnn::{SeqRnn, SeqRnnWorkspace};
use super::{Block, Model};
use crate::error::Result;

/// A recurrent network over a flat parameter vector, evaluated on a [`SeqBatch`]: what
/// [`SequenceModel`] needs of it.
pub trait SequenceNet {
    /// Buffers of one evaluation; they depend only on the batch's shape.
    type Workspace: std::fmt::Debug;
    /// Length of the flat parameter vector.
    fn n_params(&self) -> usize;
    /// The named blocks of the parameter vector, in layout order.
    fn blocks(&self) -> &[Block];
    /// A workspace for `data`'s shape.
    fn workspace(&self, data: &SeqBatch) -> Self::Workspace;
    /// Loss on `data` (forward pass; the workspace then holds the states).
    fn loss(&self, theta: &[f64], data: &SeqBatch, ws: &mut Self::Workspace) -> Result<f64>;
    /// Loss and its exact gradient by BPTT (`truncation`: `None` full, `Some(k)` windows of
    /// `k` steps), into `grad` (`n_params` entries).
    fn loss_and_grad(
        &self,
        theta: &[f64],
        data: &SeqBatch,
        truncation: Option<usize>,
        ws: &mut Self::Workspace,
        grad: &mut [f64],
    ) -> Result<f64>;
}

impl SequenceNet for SeqRnn {
    type Workspace = SeqRnnWorkspace;
    fn n_params(&self) -> usize {
        SeqRnn::n_params(self)
    }
    fn blocks(&self) -> &[Block] {
        SeqRnn::blocks(self)
    }
    fn workspace(&self, data: &SeqBatch) -> SeqRnnWorkspace {
        SeqRnn::workspace(self, data)
    }
    fn loss(&self, theta: &[f64], data: &SeqBatch, ws: &mut SeqRnnWorkspace) -> Result<f64> {
        SeqRnn::loss(self, theta, data, ws)
    }
    fn loss_and_grad(
        &self,
        theta: &[f64],
        data: &SeqBatch,
        truncation: Option<usize>,
        ws: &mut SeqRnnWorkspace,
        grad: &mut [f64],
    ) -> Result<f64> {
        SeqRnn::loss_and_grad(self, theta, data, truncation, ws, grad)
    }
}

/// A [`SequenceNet`] with its training data and BPTT truncation; minibatches are sets of
/// sequences, evaluated as [`SeqBatch::select`]ed sub-batches in data order (cached while the
/// same sequences repeat).
#[derive(Debug)]
pub struct SequenceModel<'a, N: SequenceNet> {
    net: &'a N,
    data: &'a SeqBatch,
    truncation: Option<usize>,
    ws: N::Workspace,
    // Minibatch cache: the sorted sequences of the last sub-batch, its data and workspace.
    sub: Option<(Vec<usize>, SeqBatch, N::Workspace)>,
    sorted: Vec<usize>,
}

/// The RNN of runs on its sequences.
pub type SeqRnnModel<'a> = SequenceModel<'a, SeqRnn>;

impl<'a, N: SequenceNet> SequenceModel<'a, N> {
    /// `net` on `data` with BPTT truncation `truncation` (`None`: full BPTT). One forward pass
    /// at `theta = 0` checks up front that the data fit the network (`n_in`, `n_out`, state
    /// noise), so later calls fail only on a non-finite `theta`.
    pub fn new(net: &'a N, data: &'a SeqBatch, truncation: Option<usize>) -> Result<Self> {
        let mut ws = net.workspace(data);
        net.loss(&vec![0.0; net.n_params()], data, &mut ws)?;
        Ok(SequenceModel {
            net,
            data,
            truncation,
            ws,
            sub: None,
            sorted: Vec::new(),
        })
    }

    /// The network.
    pub fn net(&self) -> &'a N {
        self.net
    }

    /// The training data.
    pub fn data(&self) -> &'a SeqBatch {
        self.data
    }

    /// The workspace of the last full-batch evaluation (e.g. its states, for fixed-point
    /// initial conditions).
    pub fn workspace(&self) -> &N::Workspace {
        &self.ws
    }
}

impl<N: SequenceNet> Model for SequenceModel<'_, N> {
    fn n_params(&self) -> usize {
        self.net.n_params()
    }

    fn blocks(&self) -> Vec<Block> {
        self.net.blocks().to_vec()
    }

    fn n_samples(&self) -> usize {
        self.data.batch()
    }

    fn loss(&mut self, theta: &[f64]) -> Result<f64> {
        self.net.loss(theta, self.data, &mut self.ws)
    }

    fn loss_and_grad(
        &mut self,
        theta: &[f64],
        batch: Option<&[usize]>,
        grad: &mut [f64],
    ) -> Result<f64> {
        let Some(idx) = batch else {
            return self
                .net
                .loss_and_grad(theta, self.data, self.truncation, &mut self.ws, grad);
        };
        // The sub-batch keeps the data order of its sequences.
        self.sorted.clear();
        self.sorted.extend_from_slice(idx);
        self.sorted.sort_unstable();
        if self.sub.as_ref().is_none_or(|(i, _, _)| *i != self.sorted) {
            let b = self.data.select(&self.sorted)?;
            // The workspace depends only on the batch size: keep it across steps.
            let ws = match self.sub.take() {
                Some((i, _, ws)) if i.len() == self.sorted.len() => ws,
                _ => self.net.workspace(&b),
            };
            self.sub = Some((self.sorted.clone(), b, ws));
        }
        let (_, b, ws) = self.sub.as_mut().expect("sub-batch just built");
        self.net.loss_and_grad(theta, b, self.truncation, ws, grad)
    }
}
