//! DSA between several systems' trajectories (theory/recovery.md RM-5, RM-14; attractors.md
//! §3.1 and C2): the pairwise distances of their delay-embedding operators, and whether
//! labelled classes form separate clusters (C2: "DSA places the 3 classes in separate
//! clusters"). The same operator as M7 ([`crate::recovery::score`]), between any two sets of
//! trials rather than between a model and its truth.

use crate::error::{Error, Result};
use crate::linalg::Matrix;
use crate::npy::Array3;
use crate::recovery::metrics::{dsa, matching};
use num_complex::Complex64;
use serde::Serialize;

/// The embedding of a DSA comparison.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DsaSettings {
    /// Trials used per set (the first ones; CtDB uses 1% of trials).
    pub trials: usize,
    /// Principal axes kept and whitened before the embedding (the system's dimension: more
    /// axes bring in noise directions that dominate a delay embedding).
    pub components: usize,
    /// Delays of the embedding.
    pub n_delays: usize,
    /// Rank of the operator (the embedding's principal coordinates kept).
    pub rank: usize,
}

/// Trials per set of a DSA comparison unless told otherwise (CtDB uses 1% of trials; a few
/// dozen suffice for the low-dimensional operators here and keep the embedding SVD small).
pub const DEFAULT_TRIALS: usize = 25;

impl DsaSettings {
    /// M7's choice for trials of `time` samples and `components` axes: `n_delays =
    /// clamp(time / 4, 1, 10)`, rank `2 components` (capped at the embedding's dimension),
    /// [`DEFAULT_TRIALS`] trials.
    pub fn for_shape(time: usize, components: usize) -> Self {
        let n_delays = (time / 4).clamp(1, 10);
        DsaSettings {
            trials: DEFAULT_TRIALS,
            components,
            n_delays,
            rank: (2 * components).min(n_delays * components),
        }
    }
}

/// The delay-embedding operator (`rank x rank`) of the trials `trials` of `a` (`[trials, time,
/// dims]`), each whitened on the pooled top `components` principal axes (RM-5).
pub fn operator(
    a: &Array3,
    trials: &[usize],
    components: usize,
    s: &DsaSettings,
) -> Result<Matrix> {
    let [_, tm, w] = a.shape;
    let per: Vec<Matrix> = trials
        .iter()
        .map(|&k| Matrix::from_fn(tm, w, |t, j| a.get(k, t, j)))
        .collect();
    dsa::havok_operator(&dsa::whitened(&per, components)?, s.n_delays, s.rank)
}

/// DSA's scores between two operators: the eigenvalue Wasserstein score and, when the sizes
/// allow, the Procrustes angle (radians; RM-14, `restarts` seeded random starts).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scores {
    /// Optimal transport between the eigenvalue multisets (squared Euclidean cost).
    pub wasserstein: f64,
    /// `arccos max_C <A, C B C^T>` on Frobenius-normalized operators; `None` when the
    /// operators differ in size or are too large ([`dsa::PROCRUSTES_MAX_RANK`]).
    pub angular: Option<f64>,
}

/// Both scores between operators `a` and `b`.
pub fn scores(a: &Matrix, b: &Matrix, restarts: usize, seed: u64) -> Result<Scores> {
    let (ea, eb): (Vec<Complex64>, Vec<Complex64>) = (
        crate::linalg::eigenvalues(a)?,
        crate::linalg::eigenvalues(b)?,
    );
    Ok(Scores {
        wasserstein: matching::eigenvalue_wasserstein(&ea, &eb),
        angular: dsa::procrustes_scores(a, b, restarts, seed)?.map(|p| p.0),
    })
}

/// One pair of a [`dsa_matrix`]: indices into the inputs (`i < j`) and the scores.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Pair {
    /// First set.
    pub i: usize,
    /// Second set.
    pub j: usize,
    /// The scores.
    pub scores: Scores,
}

/// DSA between every pair of `sets` (each `[trials, time, dims]`, any dims; the same
/// `time` is not required), on each set's first `s.trials` trials; pairs in the order
/// `(0, 1), (0, 2), .., (1, 2), ..`.
pub fn dsa_matrix(sets: &[Array3], s: &DsaSettings, seed: u64) -> Result<Vec<Pair>> {
    let ops = sets
        .iter()
        .enumerate()
        .map(|(n, a)| {
            let [tr, tm, w] = a.shape;
            if w < s.components || tm <= s.n_delays {
                return Err(Error::invalid(
                    "compare",
                    format!(
                        "input {n} has {w} dimensions and {tm} samples per trial; DSA with \
                         {} components and {} delays needs at least {} dimensions and {} \
                         samples (lower --components or --delays)",
                        s.components,
                        s.n_delays,
                        s.components,
                        s.n_delays + 1
                    ),
                ));
            }
            let trials: Vec<usize> = (0..tr.min(s.trials)).collect();
            operator(a, &trials, s.components, s)
        })
        .collect::<Result<Vec<_>>>()?;
    let mut out = Vec::new();
    for i in 0..ops.len() {
        for j in i + 1..ops.len() {
            out.push(Pair {
                i,
                j,
                scores: scores(&ops[i], &ops[j], 16, seed)?,
            });
        }
    }
    Ok(out)
}

/// How labelled sets cluster under one score: the largest distance within a class, the
/// smallest between classes, and whether every within-class distance is below every
/// between-class one (`None` for a score some pair lacks, or with no within- or no
/// between-class pair).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Separation {
    /// Largest within-class distance.
    pub max_within: f64,
    /// Smallest between-class distance.
    pub min_between: f64,
    /// `max_within < min_between`: the classes are separate clusters (single linkage cut
    /// between the two gives exactly the classes).
    pub separated: bool,
}

/// The separation of classes `labels` (one per set) under `score` of each pair.
pub fn separation(
    pairs: &[Pair],
    labels: &[String],
    score: impl Fn(&Scores) -> Option<f64>,
) -> Option<Separation> {
    let (mut within, mut between) = (f64::NEG_INFINITY, f64::INFINITY);
    let (mut any_w, mut any_b) = (false, false);
    for p in pairs {
        let v = score(&p.scores)?;
        if labels[p.i] == labels[p.j] {
            within = within.max(v);
            any_w = true;
        } else {
            between = between.min(v);
            any_b = true;
        }
    }
    (any_w && any_b).then_some(Separation {
        max_within: within,
        min_between: between,
        separated: within < between,
    })
}
