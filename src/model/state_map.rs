//! State maps of trained networks: the dynamics whose fixed points and linearizations
//! [`crate::analysis`] studies (FP-1, FP-3). They live with the models so that each model
//! family implements its own map in its own file; [`crate::analysis::fixed_points`] and
//! [`crate::analysis::spectra`] re-export them.

use crate::error::Result;
use crate::linalg::Matrix;
use num_complex::Complex64;

/// Whether eigenvalues belong to a discrete map or a continuous-time flow: decides the
/// residual of a fixed point, the stability criterion and the unit of the timescales (FP-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeKind {
    /// `x_{t+1} = F(x_t)`; fixed point `F(x) = x`; stable iff all `|lambda| < 1`; timescales in
    /// steps.
    Discrete,
    /// `dx/dt = f(x)`; fixed point `f(x) = 0`; stable iff all `Re(lambda) < 0`; timescales in
    /// the flow's time unit.
    Continuous,
}

impl TimeKind {
    /// Persistence of the mode of eigenvalue `z`: `|z|` (discrete) or `Re z` (continuous).
    pub fn persistence(self, z: Complex64) -> f64 {
        match self {
            TimeKind::Discrete => z.norm(),
            TimeKind::Continuous => z.re,
        }
    }

    /// The persistence of a marginal mode: 1 (discrete) or 0 (continuous).
    pub fn marginal(self) -> f64 {
        match self {
            TimeKind::Discrete => 1.0,
            TimeKind::Continuous => 0.0,
        }
    }
}

/// A map whose fixed points we want: discrete `x -> F(x)` (fixed point `F(x) = x`) or
/// continuous `dx/dt = f(x)` (fixed point `f(x) = 0`).
pub trait StateMap {
    /// State dimension `n`.
    fn dim(&self) -> usize;
    /// Discrete map or continuous flow.
    fn kind(&self) -> TimeKind;
    /// Discrete: `F(x) - x`. Continuous: `f(x)`. `x` and `out` have length [`StateMap::dim`].
    fn residual(&self, x: &[f64], out: &mut [f64]);
    /// Jacobian `dF/dx` (discrete) or `df/dx` (continuous) at `x`, written into `jac`
    /// (`dim x dim`, entry `(i, j) = d F_i / d x_j`). Note: for a discrete map this is the
    /// Jacobian of `F`, not of the residual `F(x) - x`.
    fn jacobian(&self, x: &[f64], jac: &mut Matrix);
    /// Check that the map is consistent (shapes, finite parameters) before it is used;
    /// [`crate::analysis::fixed_points::find_fixed_points`] calls it first. The default accepts everything.
    fn check(&self) -> Result<()> {
        Ok(())
    }
}
