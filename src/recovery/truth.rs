//! The exact description of a ground-truth system (theory/recovery.md RS-0): what a fitted
//! model should recover. Written to `truth/attractors.json` of a dataset.

use crate::error::Result;
use crate::linalg::Matrix;
use crate::model::state_map::TimeKind;
use num_complex::Complex64;
use serde::{Deserialize, Serialize};

/// Directions with `|Re lambda| <= MARGINAL_TOL` count as marginal in a truth description
/// (exact descriptions have exact zeros; the tolerance only absorbs eigen-solver rounding).
pub const MARGINAL_TOL: f64 = 1e-9;

/// A fixed point of the true (autonomous) flow with its linearization.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrueFixedPoint {
    /// The point, length `dim`.
    pub x: Vec<f64>,
    /// Eigenvalues `[re, im]` of the Jacobian `df/dx` at `x`, largest real part first.
    pub eigenvalues: Vec<[f64; 2]>,
    /// Number of eigenvalues with `Re > MARGINAL_TOL`.
    pub n_unstable: usize,
    /// Number of eigenvalues with `|Re| <= MARGINAL_TOL` (continuous attractors).
    pub n_marginal: usize,
    /// `n_unstable == 0 && n_marginal == 0`.
    pub stable: bool,
    /// `-1 / Re lambda` per eigenvalue, same order (time units; +inf for marginal).
    pub timescales: Vec<f64>,
}

impl TrueFixedPoint {
    /// Describe `x` from its Jacobian `jac` (`dim x dim`, continuous time).
    pub fn from_jacobian(x: Vec<f64>, jac: &Matrix) -> Result<Self> {
        let ev = crate::analysis::spectra::sorted_eigenvalues(jac, TimeKind::Continuous)?;
        Ok(Self::from_eigenvalues(x, &ev))
    }

    /// Describe `x` from its eigenvalues (any order; sorted here).
    pub fn from_eigenvalues(x: Vec<f64>, ev: &[Complex64]) -> Self {
        let mut ev = ev.to_vec();
        crate::analysis::spectra::sort_eigenvalues(&mut ev, TimeKind::Continuous);
        let n_unstable = ev.iter().filter(|z| z.re > MARGINAL_TOL).count();
        let n_marginal = ev.iter().filter(|z| z.re.abs() <= MARGINAL_TOL).count();
        let timescales = ev
            .iter()
            .map(|z| {
                if z.re.abs() <= MARGINAL_TOL {
                    f64::INFINITY
                } else {
                    -1.0 / z.re
                }
            })
            .collect();
        TrueFixedPoint {
            x,
            eigenvalues: ev.iter().map(|z| [z.re, z.im]).collect(),
            n_unstable,
            n_marginal,
            stable: n_unstable == 0 && n_marginal == 0,
            timescales,
        }
    }

    /// The eigenvalues as complex numbers.
    pub fn eigenvalues_c(&self) -> Vec<Complex64> {
        self.eigenvalues
            .iter()
            .map(|[re, im]| Complex64::new(*re, *im))
            .collect()
    }
}

/// Shape of a continuous attractor.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ManifoldKind {
    /// A segment or line of fixed points (Betti numbers 1, 0).
    Line,
    /// A closed curve of fixed points (Betti numbers 1, 1).
    Ring,
}

/// A continuous attractor: a manifold of fixed points, sampled.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifold {
    /// Line or ring.
    pub kind: ManifoldKind,
    /// Sample points on the manifold, each of length `dim`, in order along it.
    pub points: Vec<Vec<f64>>,
    /// Unit tangent at each sample point.
    pub tangents: Vec<Vec<f64>>,
    /// Number of marginal directions at each point (1 for a line or ring).
    pub marginal_modes: usize,
    /// Largest |f(x)| over the sample points (0 up to rounding for an exact description).
    pub max_speed: f64,
}

/// A stable limit cycle.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LimitCycle {
    /// Period (time units).
    pub period: f64,
    /// Points along one period, equally spaced in time.
    pub points: Vec<Vec<f64>>,
    /// Nontrivial Floquet multipliers' moduli (the trivial multiplier 1 left out).
    pub floquet: Vec<f64>,
}

/// A chaotic attractor, described by sample points along a long post-transient trajectory.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Chaotic {
    /// Sample points on the attractor.
    pub points: Vec<Vec<f64>>,
}

/// How a description was obtained.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Provenance {
    /// Closed form (fixed points and Jacobians exact up to rounding).
    ClosedForm,
    /// Closed-form fixed points; cycles or chaotic sets from learndyn's solvers.
    ClosedFormAndNumerical,
    /// Fixed points found by learndyn's fixed-point finder (teacher networks).
    Numerical,
}

/// Everything known about the attractors of the autonomous system (`u = 0`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Truth {
    /// Continuous for the built-in systems (flows); discrete for teacher networks that are
    /// maps, whose fixed points list continuous-equivalent rates `ln(mu) / dt`.
    pub time: TimeKind,
    /// State dimension.
    pub dim: usize,
    /// Isolated fixed points, stable first then by index (`n_unstable`).
    pub fixed_points: Vec<TrueFixedPoint>,
    /// Continuous attractors.
    pub manifolds: Vec<Manifold>,
    /// Stable limit cycles.
    pub limit_cycles: Vec<LimitCycle>,
    /// Chaotic attractors.
    pub chaotic: Vec<Chaotic>,
    /// How it was obtained.
    pub provenance: Provenance,
}

impl Truth {
    /// A description with only isolated fixed points (sorted: stable first, then by index,
    /// then lexicographically).
    pub fn fixed_points(dim: usize, mut points: Vec<TrueFixedPoint>) -> Self {
        points.sort_by(|a, b| {
            (a.n_unstable + a.n_marginal)
                .cmp(&(b.n_unstable + b.n_marginal))
                .then_with(|| {
                    a.x.iter()
                        .zip(&b.x)
                        .map(|(p, q)| p.total_cmp(q))
                        .find(|o| o.is_ne())
                        .unwrap_or(std::cmp::Ordering::Equal)
                })
        });
        Truth {
            time: TimeKind::Continuous,
            dim,
            fixed_points: points,
            manifolds: Vec::new(),
            limit_cycles: Vec::new(),
            chaotic: Vec::new(),
            provenance: Provenance::ClosedForm,
        }
    }

    /// Number of attractors: stable fixed points, manifolds, limit cycles, chaotic sets.
    pub fn n_attractors(&self) -> usize {
        self.fixed_points.iter().filter(|p| p.stable).count()
            + self.manifolds.len()
            + self.limit_cycles.len()
            + self.chaotic.len()
    }
}
