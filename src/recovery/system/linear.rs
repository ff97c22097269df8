//! Linear teachers (RS-8, attractors.md §3.6): `dx/dt = (B - I) x + noise`, driven only by
//! the process noise of the trial spec. `B` is the functionally feed-forward chain (Jordan
//! shift `B[i, i+1] = 1`: every eigenvalue of `B - I` is -1, timescale 1), the non-normal
//! line attractor (`diag(line_eigenvalue, 0.2, ..., 0.2)` under a seeded Gaussian
//! similarity transform), or a matrix from a `.npy` file. Exact description: the one fixed
//! point 0 with the eigenvalues of `B - I` (when 1 is not an eigenvalue of `B`).

use super::{bad, describe_fixed_point, System};
use crate::error::Result;
use crate::linalg::{self, Matrix};
use crate::recovery::truth::Truth;
use serde::{Deserialize, Serialize};

/// Which teacher matrix `B`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum LinearTeacher {
    /// The Jordan shift `B[i, i+1] = 1` (feed-forward chain).
    Chain,
    /// `S diag(line_eigenvalue, 0.2, ...) S^-1` with `S` Gaussian (seeded by `seed`).
    NonNormalLine,
    /// `B` read from `path` (a square `.npy`).
    Npy,
}

/// Parameters of a linear teacher (`[system] kind = "linear"`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Linear {
    /// chain, non_normal_line or npy.
    pub teacher: LinearTeacher,
    /// Dimension D (chain and non_normal_line).
    pub dim: usize,
    /// Slow eigenvalue of `B` for non_normal_line (< 1).
    pub line_eigenvalue: f64,
    /// Seed of the similarity transform (non_normal_line).
    pub seed: u64,
    /// The `.npy` file of `B` (teacher = npy).
    pub path: Option<std::path::PathBuf>,
    /// The matrix `B - I` (filled in by validation).
    #[serde(skip)]
    pub a: Option<Matrix>,
}

impl Default for Linear {
    fn default() -> Self {
        Linear {
            teacher: LinearTeacher::Chain,
            dim: 10,
            line_eigenvalue: 0.999,
            seed: 0,
            path: None,
            a: None,
        }
    }
}

impl Linear {
    pub(super) fn validated(&self) -> Result<Self> {
        let b = match self.teacher {
            LinearTeacher::Chain => {
                if !(1..=2000).contains(&self.dim) {
                    return Err(bad("dim", "must be 1 ..= 2000"));
                }
                Matrix::from_fn(self.dim, self.dim, |i, j| f64::from(u8::from(j == i + 1)))
            }
            LinearTeacher::NonNormalLine => {
                if !(1..=2000).contains(&self.dim) {
                    return Err(bad("dim", "must be 1 ..= 2000"));
                }
                if !(self.line_eigenvalue.is_finite() && self.line_eigenvalue < 1.0) {
                    return Err(bad(
                        "line_eigenvalue",
                        "must be < 1 (1 would be an exact line)",
                    ));
                }
                let mut rng = crate::random::rng(self.seed, 0x11AE);
                let s = crate::random::gaussian_matrix(&mut rng, self.dim, self.dim);
                let mut d = vec![0.2; self.dim];
                d[0] = self.line_eigenvalue;
                let sd = s.matmul(&Matrix::from_diag(&d));
                // B = S D S^-1: solve B^T = S^-T (S D)^T.
                linalg::solve(&s.transpose(), &sd.transpose())
                    .map_err(|_| {
                        bad(
                            "seed",
                            "the similarity transform is singular; pick another seed",
                        )
                    })?
                    .transpose()
            }
            LinearTeacher::Npy => {
                let Some(p) = &self.path else {
                    return Err(bad("path", "teacher = \"npy\" needs path = \"B.npy\""));
                };
                let b = crate::npy::read_matrix(p)?;
                if b.nrows() != b.ncols() || b.nrows() == 0 {
                    return Err(bad(
                        "path",
                        format!(
                            "{}: B must be square, got {}x{}",
                            p.display(),
                            b.nrows(),
                            b.ncols()
                        ),
                    ));
                }
                b
            }
        };
        let n = b.nrows();
        let a = Matrix::from_fn(n, n, |i, j| b.get(i, j) - f64::from(u8::from(i == j)));
        Ok(Linear {
            dim: n,
            a: Some(a),
            ..self.clone()
        })
    }

    fn a(&self) -> &Matrix {
        self.a.as_ref().expect("validated linear teacher")
    }
}

impl System for Linear {
    fn name(&self) -> &'static str {
        "linear"
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn field(&self, x: &[f64], _u: &[f64], out: &mut [f64]) {
        let a = self.a();
        for (i, o) in out.iter_mut().enumerate() {
            *o = (0..self.dim).map(|j| a.get(i, j) * x[j]).sum();
        }
    }
    fn jacobian(&self, _x: &[f64], _u: &[f64], jac: &mut Matrix) {
        *jac = self.a().clone();
    }
    fn truth(&self) -> Result<Truth> {
        Ok(Truth::fixed_points(
            self.dim,
            vec![describe_fixed_point(self, vec![0.0; self.dim])?],
        ))
    }
    fn init_box(&self) -> (Vec<f64>, Vec<f64>) {
        (vec![-0.5; self.dim], vec![0.5; self.dim])
    }
}
