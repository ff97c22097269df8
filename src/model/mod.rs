//! Finite models: parameters, forward map, loss and its exact gradient.
//!
//! No integration or training code lives here: [`crate::dynamics`] turns a [`Model`]'s gradient
//! into a vector field, and [`crate::train`] runs discrete optimizers on it. Both see only the
//! [`Model`] trait, so a new model family is one file that implements it.

pub mod deep_linear;
pub mod gru;
pub mod init;
pub mod layout;
pub mod rnn;
pub mod seq_batch;
pub mod seq_rnn;
pub mod sequence;
pub mod state_map;

pub use deep_linear::{DeepLinearModel, DeepLinearNet, DlnWorkspace, Moments};
pub use gru::GruModel;
pub use layout::ParamLayout;
pub use seq_rnn::{Form, Learn, SeqRnn, SeqRnnSpec, SeqRnnWorkspace};
pub use sequence::{SeqRnnModel, SequenceModel, SequenceNet};

use crate::error::Result;

/// One named block of a flat parameter vector: entries `offset .. offset + rows * cols`,
/// column-major `rows x cols` (vectors are `n x 1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The block's name, also the stem of its weights file (`W1`, ... for deep linear
    /// networks; `w`, `m`, `n`, `u`, `c`, `b`, `h0` for RNNs).
    pub name: String,
    /// First index in the flat vector.
    pub offset: usize,
    /// Rows of the block.
    pub rows: usize,
    /// Columns of the block.
    pub cols: usize,
    /// Whether the block is trained (frozen blocks get an exactly zero gradient).
    pub learnable: bool,
}

impl Block {
    /// Number of entries, `rows * cols`.
    pub fn len(&self) -> usize {
        self.rows * self.cols
    }
    /// True for an empty block.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The indices of the block in the flat vector.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.len()
    }
}

/// A finite network bound to the data it is trained on: the one interface of the trainer
/// ([`crate::train::Trainer`]) and of the gradient flow ([`crate::dynamics::GradientFlow`]).
///
/// Parameters are a flat vector `theta` of length [`Model::n_params`], laid out as the named
/// [`Block`]s of [`Model::blocks`] (in order, column-major, covering `0..n_params`). The loss is
/// the expectation-convention loss of the model's family (C-1 for deep linear networks, RN-7
/// for RNNs) and its gradient is exact (C-2, RN-3..RN-6). Methods take `&mut self` because
/// implementations own their workspaces; nothing is allocated per call in the full-batch path.
pub trait Model {
    /// Length of the flat parameter vector.
    fn n_params(&self) -> usize;
    /// The named blocks of the parameter vector, in layout order.
    fn blocks(&self) -> Vec<Block>;
    /// Number of training samples that minibatches are drawn from (data columns, sequences);
    /// 0 when only the population (moment) loss exists, so every step is full batch.
    fn n_samples(&self) -> usize;
    /// Loss on the full training set.
    fn loss(&mut self, theta: &[f64]) -> Result<f64>;
    /// Loss and its exact gradient (into `grad`, `n_params` entries) on the samples `batch`
    /// (indices in `0..n_samples`, distinct, in the order they were drawn; implementations may
    /// reorder them) or on the full training set (`None`). Returns the loss of that batch.
    fn loss_and_grad(
        &mut self,
        theta: &[f64],
        batch: Option<&[usize]>,
        grad: &mut [f64],
    ) -> Result<f64>;
    /// `out = -grad L(theta)` on the full training set: the gradient-flow right-hand side
    /// (C-5). The default negates [`Model::loss_and_grad`]; models with a cheaper fused form
    /// (no loss, the sign folded into the products) override it.
    fn neg_gradient(&mut self, theta: &[f64], out: &mut [f64]) -> Result<()> {
        self.loss_and_grad(theta, None, out)?;
        out.iter_mut().for_each(|v| *v = -*v);
        Ok(())
    }
}
