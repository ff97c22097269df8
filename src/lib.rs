//! # learndyn
//!
//! Learning-dynamics theory beside finite networks trained the real way.
//!
//! One model description gives (a) the analytic theory (closed forms and reduced ODEs),
//! (b) the full finite-width gradient-flow ODE, integrated by adaptive Runge-Kutta solvers, and
//! (c) discrete training (gradient descent) of the finite network; every observable is recorded
//! for all of them side by side.
//!
//! Module map, lower layers first (a module never imports one below it in this list... above):
//! - [`linalg`]: the only module touching faer/nalgebra; column-major [`linalg::Matrix`].
//! - [`random`], [`npy`], [`error`]: seeded streams, `.npy` I/O, the error type.
//! - [`model`]: the [`model::Model`] trait (named parameter blocks, loss and exact gradient)
//!   and its networks: deep linear, RNN, GRU; initializations; sequence batches.
//! - [`task`]: linear teacher (population or finite samples).
//! - [`integrate`]: generic ODE solvers (know nothing about networks).
//! - [`dynamics`]: the gradient-flow vector field `dtheta/dt = -grad L`.
//! - [`theory`]: closed forms and reduced mode ODEs.
//! - [`train`]: discrete optimizers (GD is its own loop, not Euler on the ODE).
//! - [`analysis`]: observables (mode strengths, singular values, balancedness).
//! - [`experiment`]: config types ([`experiment::config`]) and their loading
//!   ([`experiment::load`]); the model families ([`experiment::family`], one module each) and
//!   the one pipeline over them ([`experiment::pipeline`]): seeds, sources, records,
//!   discrepancies.
//! - [`plot`]: drawing, split by concern (panels, legends, heatmaps, ticks, text, colours,
//!   atomic PNG/SVG output), and the figures laid out with it: [`plot::run`], the figure of a
//!   run from its records, and [`plot::scan`], lines and heatmaps of a scan table.
//! - [`record`]: the output files of a run (records, summary, manifest, weights, fixed points,
//!   and the figure drawn by [`plot::run`]).
//! - [`scan`]: parameter scans into one results table; [`scan::plot_table`] reads a table for
//!   [`plot::scan`].
//! - [`figure`]: figure specs (`figures/<id>/spec.toml`) and `learndyn figure`: the one module
//!   that turns a spec into data (a run or a scan) and images (through [`plot`]).
//!
//! The benchmarks beside the Python peers (`learndyn bench ...`) are not part of the library:
//! they live in the binary (`src/bin/learndyn/bench/`) and use only the public API above.
//!
//! Conventions (`theory/conventions.md`): loss `L = 1/2 E||y - f(x)||^2`; gradient flow
//! `dtheta/dt = -grad L` (tau = 1); gradient descent `theta <- theta - lr grad L`; the one bridge
//! between them is [`train::gd_time`]: `t = lr * step`.

#![deny(missing_docs)]
#![deny(clippy::float_cmp)]

pub mod analysis;
pub mod dynamics;
pub mod error;
pub mod experiment;
pub mod figure;
pub mod integrate;
pub mod linalg;
pub mod model;
pub mod npy;
pub mod plot;
pub mod random;
pub mod record;
pub mod recovery;
pub mod scan;
pub mod task;
pub mod theory;
pub mod train;

pub use error::{Error, Result};
