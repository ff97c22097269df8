//! Finite models: parameters, forward map, loss and its exact gradient.
//!
//! No integration or training code lives here: [`crate::dynamics`] turns a model's gradient
//! into a vector field, and [`crate::train`] runs discrete optimizers on it.

pub mod deep_linear;
pub mod gru;
pub mod init;
pub mod rnn;

pub use deep_linear::{DeepLinearNet, DlnWorkspace, Moments};
pub mod seq_rnn;

pub use seq_rnn::{Block, Form, Learn, SeqRnn, SeqRnnSpec, SeqRnnWorkspace};
