//! The benchmark's metric functions, pure and shape-checked (attractors.md §6 IDs; the
//! scorer in [`crate::recovery::score`] assembles them). Data matrices are
//! `samples x dims` (rows = samples).

pub mod counts;
pub mod dsa;
pub mod matching;
pub mod regress;
pub mod spectra;
pub mod topology;
