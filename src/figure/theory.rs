//! Theory figures (`kind = "theory"`): tables computed from closed forms alone, no training,
//! written as scan-style tables (`point,replicate,...`) that the `[[plot]]`s draw.
//!
//! The source file names one calculation (one variant of [`TheoryFigure`]; the mean-field and
//! random-init calculations are in [`super::mean_field`] and [`super::random_init`], check AO1's
//! trained networks in [`super::aligned_oblique`], the full-matrix GD runs of OL-10 and OL-11
//! in [`super::outlier`]):
//!
//! ```toml
//! [partial_observation]      # theory/partial_observation.md, attractors.md §3.6 and C1
//! observed = 25              # d: the first d units (the downstream end of a chain)
//! chain_sizes = [25, 45, 81] # D of the Jordan-shift teacher (PO-5, PO-6)
//! line_sizes = [25, 50, 100] # D of the line-attractor teacher
//! seeds = [0, 1, 2]          # random embeddings of the line attractor
//! slow = 0.999               # its eigenvalues: one slow, the rest fast
//! fast = 0.2
//! ```
//!
//! It writes `chain.csv` (`point,replicate,status,D,d,lambda1_student,tau1_student,
//! tau2_student,tau1_teacher`) and `line_attractor.csv` (`point,replicate,status,D,d,
//! embedding,seed,lambda1_student,tau1_student,tau1_teacher`; `status` is `ok`, as in scan
//! tables; `embedding` is `similarity`, a Gaussian
//! similarity transform, non-normal, or `orthogonal`, a Haar rotation, normal).

use crate::error::{Error, Result};
use crate::linalg::{self, Matrix};
use crate::random;
use crate::theory::partial_obs::{self, Problem, TimeKind};
use serde::Deserialize;
use std::path::Path;

/// A theory figure's source file: exactly one calculation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum TheoryFigure {
    /// Student timescales of partially observed linear teachers vs population size.
    PartialObservation(PartialObservationFigure),
    /// Rank-one mean field against finite networks ([`super::mean_field`]).
    MeanField(super::mean_field::MeanFieldFigure),
    /// Random-init linear RNNs: lag kernel, curse of memory, extrapolation, weight change
    /// ([`super::random_init`]).
    RandomInit(super::random_init::RandomInitFigure),
    /// Student timescale vs observed fraction per training procedure (fits, not only closed
    /// forms: [`super::procedures`]).
    Procedures(super::procedures::ProceduresFigure),
    /// Aligned vs oblique dynamics: readout correlation and participation ratio of trained
    /// RNNs against `N` (trained networks, check AO1: [`super::aligned_oblique`]).
    AlignedOblique(super::aligned_oblique::AlignedObliqueFigure),
    /// A conjugate pair of outliers learned for a damped-oscillation target (OL-10:
    /// [`super::outlier`]).
    OutlierPair(super::outlier::OutlierPairFigure),
    /// Rich vs lazy learning of a leaky integrator by the init scale `g` (OL-11:
    /// [`super::outlier`]).
    OutlierLazyRich(super::outlier::OutlierLazyRichFigure),
}

/// `[partial_observation]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartialObservationFigure {
    /// Observed units `d` (the first `d`).
    pub observed: usize,
    /// Teacher sizes `D` of the chain.
    pub chain_sizes: Vec<usize>,
    /// Teacher sizes `D` of the line attractor.
    pub line_sizes: Vec<usize>,
    /// Seeds of the random embeddings.
    pub seeds: Vec<u64>,
    /// The line attractor's slow eigenvalue (continuous time: timescale `1/(1 - slow)`).
    pub slow: f64,
    /// Its other eigenvalues.
    pub fast: f64,
}

/// Random-stream id of the embeddings (distinct from the run streams).
const EMBEDDING_STREAM: u64 = 0x5030_0001;

/// Compute the tables of `fig` into `data`. Returns the files written.
pub fn make(fig: &TheoryFigure, data: &Path) -> Result<Vec<std::path::PathBuf>> {
    match fig {
        TheoryFigure::PartialObservation(p) => partial_observation(p, data),
        TheoryFigure::MeanField(p) => super::mean_field::make(p, data),
        TheoryFigure::RandomInit(p) => super::random_init::make(p, data),
        TheoryFigure::Procedures(p) => super::procedures::make(p, data),
        TheoryFigure::AlignedOblique(p) => super::aligned_oblique::make(p, data),
        TheoryFigure::OutlierPair(p) => super::outlier::make_pair(p, data),
        TheoryFigure::OutlierLazyRich(p) => super::outlier::make_lazy_rich(p, data),
    }
}

/// A CSV file of `header` and `rows` (each a line without its newline).
pub(super) fn csv(header: &str, rows: &[String]) -> Vec<u8> {
    let mut s = String::from(header);
    s.push('\n');
    for r in rows {
        s.push_str(r);
        s.push('\n');
    }
    s.into_bytes()
}

fn partial_observation(
    p: &PartialObservationFigure,
    data: &Path,
) -> Result<Vec<std::path::PathBuf>> {
    let d = p.observed;
    if d == 0 || p.chain_sizes.iter().chain(&p.line_sizes).any(|&n| n < d) {
        return Err(Error::invalid(
            "partial_observation",
            format!("every size must be >= observed = {d} >= 1"),
        ));
    }
    let observed: Vec<usize> = (0..d).collect();
    let mut rows = vec![];
    for (point, &n) in p.chain_sizes.iter().enumerate() {
        let b = Matrix::from_fn(n, n, |i, j| if j == i + 1 { 1.0 } else { 0.0 });
        let s = partial_obs::stationary_student(&problem(&b, &observed))?;
        let tau2 = second_timescale(&s);
        rows.push(format!(
            "{point},0,ok,{n},{d},{},{},{tau2},{}",
            s.eigenvalues[0].re, s.timescales[0], s.teacher_timescales[0]
        ));
    }
    let chain = data.join("chain.csv");
    crate::npy::write_atomic(
        &chain,
        &csv(
            "point,replicate,status,D,d,lambda1_student,tau1_student,tau2_student,tau1_teacher",
            &rows,
        ),
    )?;
    let mut rows = vec![];
    let mut point = 0;
    for embedding in ["similarity", "orthogonal"] {
        for &n in &p.line_sizes {
            for (rep, &seed) in p.seeds.iter().enumerate() {
                let b = line_attractor(n, p.slow, p.fast, embedding, seed)?;
                let s = partial_obs::stationary_student(&problem(&b, &observed))?;
                rows.push(format!(
                    "{point},{rep},ok,{n},{d},{embedding},{seed},{},{},{}",
                    s.eigenvalues[0].re, s.timescales[0], s.teacher_timescales[0]
                ));
            }
            point += 1;
        }
    }
    let line = data.join("line_attractor.csv");
    crate::npy::write_atomic(
        &line,
        &csv(
            "point,replicate,status,D,d,embedding,seed,lambda1_student,tau1_student,tau1_teacher",
            &rows,
        ),
    )?;
    Ok(vec![chain, line])
}

fn problem<'a>(b: &'a Matrix, observed: &'a [usize]) -> Problem<'a> {
    Problem {
        teacher: b,
        noise: None,
        observed,
        time: TimeKind::Continuous,
        obs_noise: 0.0,
    }
}

/// The timescale of the next distinct eigenvalue after the first (a conjugate pair shares its
/// timescale: then it is the pair's).
fn second_timescale(s: &partial_obs::Student) -> f64 {
    if s.eigenvalues[0].im.abs() > 0.0 {
        return s.timescales[0];
    }
    s.timescales.get(1).copied().unwrap_or(f64::NAN)
}

/// `S diag(slow, fast, ..., fast) S^-1` with `S` Gaussian (`similarity`) or Haar orthogonal
/// (`orthogonal`), `n x n`, drawn from `seed`.
fn line_attractor(n: usize, slow: f64, fast: f64, embedding: &str, seed: u64) -> Result<Matrix> {
    let mut rng = random::rng(seed, EMBEDDING_STREAM);
    let g = random::gaussian_matrix(&mut rng, n, n);
    let diag: Vec<f64> = (0..n).map(|i| if i == 0 { slow } else { fast }).collect();
    let dm = Matrix::from_diag(&diag);
    Ok(match embedding {
        "orthogonal" => {
            let q = linalg::orthonormal_from(&g)?;
            q.matmul(&dm).matmul_t(&q)
        }
        _ => {
            // B = S D S^-1, through the solve S^T X = (S D)^T, X = B^T.
            let sd = g.matmul(&dm);
            linalg::solve(&g.transpose(), &sd.transpose())?.transpose()
        }
    })
}
