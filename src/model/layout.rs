//! The layout of a flat parameter vector as named blocks: one definition shared by every model
//! family (lookup, reading and writing a block, and the checks of a `theta`).

use super::Block;
use crate::error::{Error, Result};
use crate::linalg::Matrix;

/// Named [`Block`]s laid out back to back (column-major each) over `0..n_params`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamLayout {
    owner: &'static str,
    blocks: Vec<Block>,
    n_params: usize,
}

impl ParamLayout {
    /// The layout of `shapes` `(name, rows, cols, learnable)` in order; `owner` names the model
    /// in error messages (`"SeqRnn"`, `"Gru"`).
    pub fn new(owner: &'static str, shapes: &[(&str, usize, usize, bool)]) -> Self {
        let mut offset = 0;
        let blocks = shapes
            .iter()
            .map(|&(name, rows, cols, learnable)| {
                let blk = Block {
                    name: name.to_string(),
                    offset,
                    rows,
                    cols,
                    learnable,
                };
                offset += rows * cols;
                blk
            })
            .collect();
        ParamLayout {
            owner,
            blocks,
            n_params: offset,
        }
    }

    /// Length of the flat vector.
    pub fn n_params(&self) -> usize {
        self.n_params
    }

    /// The blocks, in layout order.
    pub fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    /// The block called `name`, if there is one.
    pub fn block(&self, name: &str) -> Option<&Block> {
        self.blocks.iter().find(|b| b.name == name)
    }

    /// Block `name` of `theta` as a `rows x cols` matrix (vectors as `n x 1`); `None` if there
    /// is no such block or `theta.len() != n_params`.
    pub fn get(&self, theta: &[f64], name: &str) -> Option<Matrix> {
        if theta.len() != self.n_params {
            return None;
        }
        let blk = self.block(name)?;
        Matrix::from_col_major(blk.rows, blk.cols, theta[blk.range()].to_vec()).ok()
    }

    /// Write `value` into block `name` of `theta`. Errors on an unknown name, a `theta` of the
    /// wrong length, or a `value` of the wrong shape.
    pub fn set(&self, theta: &mut [f64], name: &str, value: &Matrix) -> Result<()> {
        self.check_len("theta", theta.len())?;
        let blk = self.block(name).ok_or_else(|| {
            let names: Vec<&str> = self.blocks.iter().map(|b| b.name.as_str()).collect();
            Error::invalid(
                format!("{} block", self.owner),
                format!("no block `{name}`; this model has {}", names.join(", ")),
            )
        })?;
        if value.nrows() != blk.rows || value.ncols() != blk.cols {
            return Err(Error::Shape {
                what: format!("{} block `{name}`", self.owner),
                expected: format!("({}, {})", blk.rows, blk.cols),
                got: format!("({}, {})", value.nrows(), value.ncols()),
            });
        }
        theta[blk.range()].copy_from_slice(value.as_slice());
        Ok(())
    }

    /// Error unless `len == n_params` (`what`: the vector's role, e.g. `"theta"`).
    pub fn check_len(&self, what: &str, len: usize) -> Result<()> {
        if len != self.n_params {
            return Err(Error::Shape {
                what: format!("{} {what}", self.owner),
                expected: format!("({},) = n_params", self.n_params),
                got: format!("({len},)"),
            });
        }
        Ok(())
    }

    /// Error unless `theta` has `n_params` finite entries; a non-finite entry is named by its
    /// block and `(row, column)`.
    pub fn check_theta(&self, theta: &[f64]) -> Result<()> {
        self.check_len("theta", theta.len())?;
        if let Some(k) = theta.iter().position(|v| !v.is_finite()) {
            let blk = self
                .blocks
                .iter()
                .find(|b| b.range().contains(&k))
                .expect("blocks cover 0..n_params");
            let i = k - blk.offset;
            return Err(Error::invalid(
                format!("{} theta", self.owner),
                format!(
                    "entry {k} (block `{}`, ({}, {})) is {}; parameters must be finite",
                    blk.name,
                    i % blk.rows,
                    i / blk.rows,
                    theta[k]
                ),
            ));
        }
        Ok(())
    }
}
