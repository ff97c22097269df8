//! The attractor-recovery benchmark (issue 11; theory/recovery.md): ground-truth systems with
//! known attractors ([`system`]), their exact descriptions ([`truth`]), trials simulated with
//! learndyn's solvers and seen through observation models ([`dataset`]), and the scores of a
//! fitted model against the truth ([`score`], [`metrics`]).
//!
//! Layer: beside [`crate::experiment`]; uses `integrate`, `analysis`, `linalg`, `random`,
//! `npy`; used by the CLI.

pub mod basins;
pub mod compare;
pub(crate) mod continuous;
pub mod dataset;
pub mod fit;
pub mod graph;
pub mod inspect;
pub mod latent;
pub mod mechanism;
pub mod metrics;
pub mod network;
pub mod score;

pub mod observe;
pub mod recurrences;
pub mod run;

pub mod spec;
pub mod system;
pub mod truth;
