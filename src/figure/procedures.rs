//! Figure calculation `[procedures]` (issue 13 item 2, issue 12's partial-observation
//! reproduction): on the same partially observed teacher data, the slowest timescale of
//! students trained by one-step least squares (teacher forcing, RF-1), by free-running BPTT
//! with hidden units (RF-3) and by generalized teacher forcing (RF-4), beside the closed form
//! of the stationary least-squares student (PO-1/PO-3, discrete time) and the teacher's.
//!
//! ```toml
//! [procedures]
//! dim = 8                  # D: units of the feed-forward chain teacher (every timescale 1)
//! observed = [1, 2, 4, 8]  # d: observed units (a random subset, as the dataset draws it)
//! trials = 40              # trials x steps samples, dt apart, noise-driven
//! steps = 200
//! dt = 0.05
//! latent = 8               # state size of the BPTT and GTF students (hidden units: latent - d)
//! fit_steps = 1500         # their Adam steps
//! alpha = 0.5              # GTF's mixing
//! seed = 0
//! ```
//!
//! Writes `timescales.csv`: `point,replicate,status,D,d,fraction,procedure,mu1,tau1` with
//! `procedure` one of `closed_form`, `least_squares`, `bptt`, `gtf`, `teacher`, `mu1` the
//! largest eigenvalue modulus of the one-step map (of the fitted students: among the modes
//! that shape their predictions, see `top_modulus`) and `tau1 = -dt / ln mu1` the slowest
//! timescale in time units (NaN with `status = "unstable"` when `mu1 >= 1`).

use crate::error::{Error, Result};
use crate::linalg::{self, Matrix};
use crate::npy;
use crate::recovery::dataset::{self, Dataset};
use crate::recovery::fit::{self, FitMethod};
use crate::recovery::latent::{self, LatentForm, LatentSpec, Procedure};
use crate::recovery::spec::Spec;
use crate::theory::partial_obs::{stationary_student, Problem, TimeKind};
use num_complex::Complex64;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// `[procedures]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProceduresFigure {
    /// Units `D` of the chain teacher.
    pub dim: usize,
    /// Observed unit counts `d`.
    pub observed: Vec<usize>,
    /// Trials.
    pub trials: usize,
    /// Samples per trial.
    pub steps: usize,
    /// Time between samples.
    pub dt: f64,
    /// State size of the BPTT and GTF students.
    pub latent: usize,
    /// Their Adam steps.
    pub fit_steps: u64,
    /// GTF's alpha.
    pub alpha: f64,
    /// Dataset seed.
    #[serde(default)]
    pub seed: u64,
}

/// Euler-Maruyama substeps per sample of the datasets.
const SUBSTEPS: usize = 5;

fn dataset_for(p: &ProceduresFigure, d: usize) -> Result<Dataset> {
    let text = format!(
        "seed = {}\n[system]\nkind = \"linear\"\nteacher = \"chain\"\ndim = {}\n\
         [trials]\ncount = {}\nsteps = {}\ndt = {}\nprocess_noise = 1.0\nsubsteps = {SUBSTEPS}\n\
         [observe]\nmixing = \"subset\"\nneurons = {d}\nnoise = \"none\"\n",
        p.seed, p.dim, p.trials, p.steps, p.dt
    );
    dataset::generate(&Spec::parse(&text, "[procedures]")?)
}

/// The exact per-sample transition of the dataset's Euler-Maruyama trials, `A = M^S` with
/// `M = I + h J` (`J` the teacher's Jacobian, `h = dt / S`), and the per-sample noise covariance
/// `Q = sigma^2 h sum_{s<S} M^s M^sT` (sigma = 1).
fn transition(d: &Dataset) -> Result<(Matrix, Matrix)> {
    let sys = d.meta.spec.system.build()?;
    let n = sys.dim();
    let mut j = Matrix::zeros(n, n);
    sys.jacobian(&vec![0.0; n], &vec![0.0; sys.n_inputs()], &mut j);
    let h = d.meta.dt / SUBSTEPS as f64;
    let m = Matrix::identity(n).add_scaled(&j, h);
    let (mut a, mut q) = (Matrix::identity(n), Matrix::zeros(n, n));
    for _ in 0..SUBSTEPS {
        q = q.add_scaled(&a.matmul(&a.transpose()), h);
        a = m.matmul(&a);
    }
    Ok((a, q))
}

/// Relative weight below which a mode is ignored (see `top_modulus`).
pub const MODE_WEIGHT_FLOOR: f64 = 1e-2;

/// Largest eigenvalue modulus of the fitted one-step map `A` in `dir` among the modes that
/// shape its predictions: mode `i` (right eigenvector `v_i`, left `w_i`, `W = V^-1`) enters the
/// free-running prediction `C A^t h_0` as `C v_i (w_i^T h_0) mu_i^t`, so its weight is
/// `|C v_i| rms_trials |w_i^T h_0|`; modes below [`MODE_WEIGHT_FLOOR`] of the largest weight
/// (hidden directions the readout does not see or the initial states do not excite, whose
/// eigenvalues the data cannot determine) are left out.
fn top_modulus(dir: &Path) -> Result<f64> {
    let a = npy::read_matrix(&dir.join("a.npy"))?;
    let c = npy::read_matrix(&dir.join("c.npy"))?;
    let h0 = npy::read_matrix(&dir.join("initial_states.npy"))?;
    let k = a.nrows();
    let (vals, vecs) = linalg::eig(&a)?;
    let v = num_complex_matrix(&vecs, k);
    let w = complex_inverse(&v)?;
    let weights: Vec<f64> = (0..k)
        .map(|i| {
            let cv = (0..c.nrows())
                .map(|r| {
                    (0..k)
                        .map(|j| v[j][i] * c.get(r, j))
                        .sum::<Complex64>()
                        .norm_sqr()
                })
                .sum::<f64>()
                .sqrt();
            let ex = ((0..h0.nrows())
                .map(|t| {
                    (0..k)
                        .map(|j| w[i][j] * h0.get(t, j))
                        .sum::<Complex64>()
                        .norm_sqr()
                })
                .sum::<f64>()
                / h0.nrows().max(1) as f64)
                .sqrt();
            cv * ex
        })
        .collect();
    let wmax = weights.iter().copied().fold(0.0, f64::max);
    Ok(vals
        .iter()
        .zip(&weights)
        .filter(|(_, &wt)| wt >= MODE_WEIGHT_FLOOR * wmax)
        .map(|(z, _)| z.norm())
        .fold(0.0, f64::max))
}

/// Eigenvectors (one `Vec` per eigenvalue) as a `k x k` row-major matrix `v[row][col]`.
fn num_complex_matrix(vecs: &[Vec<Complex64>], k: usize) -> Vec<Vec<Complex64>> {
    (0..k)
        .map(|r| (0..k).map(|c| vecs[c][r]).collect())
        .collect()
}

/// Inverse of a small complex matrix by Gauss-Jordan with partial pivoting.
fn complex_inverse(m: &[Vec<Complex64>]) -> Result<Vec<Vec<Complex64>>> {
    let k = m.len();
    let mut a: Vec<Vec<Complex64>> = m.to_vec();
    let mut inv: Vec<Vec<Complex64>> = (0..k)
        .map(|i| {
            (0..k)
                .map(|j| Complex64::new(f64::from(u8::from(i == j)), 0.0))
                .collect()
        })
        .collect();
    for col in 0..k {
        let piv = (col..k)
            .max_by(|&x, &y| a[x][col].norm().total_cmp(&a[y][col].norm()))
            .unwrap_or(col);
        if a[piv][col].norm() < 1e-300 {
            return Err(Error::invalid(
                "procedures",
                "a fitted map is not diagonalizable",
            ));
        }
        a.swap(col, piv);
        inv.swap(col, piv);
        let p = a[col][col];
        for j in 0..k {
            a[col][j] /= p;
            inv[col][j] /= p;
        }
        for r in 0..k {
            if r != col {
                let f = a[r][col];
                for j in 0..k {
                    let (ac, ic) = (a[col][j], inv[col][j]);
                    a[r][j] -= f * ac;
                    inv[r][j] -= f * ic;
                }
            }
        }
    }
    Ok(inv)
}

fn row(rows: &[String], p: &ProceduresFigure, d: usize, procedure: &str, mu: f64) -> String {
    let (status, tau) = if mu < 1.0 {
        ("ok", -p.dt / mu.ln())
    } else {
        ("unstable", f64::NAN)
    };
    // One table point per (d, procedure): the plot averages replicates within a point.
    let point = rows.len();
    format!(
        "{point},0,{status},{},{d},{},{procedure},{mu},{tau}",
        p.dim,
        d as f64 / p.dim as f64
    )
}

/// Compute `timescales.csv` into `data`.
pub fn make(p: &ProceduresFigure, data: &Path) -> Result<Vec<PathBuf>> {
    if p.dim == 0 || p.observed.iter().any(|&d| d == 0 || d > p.dim) {
        return Err(Error::invalid(
            "procedures.observed",
            format!("every d must be 1 ..= dim = {}", p.dim),
        ));
    }
    if !(0.0..=1.0).contains(&p.alpha) {
        return Err(Error::invalid("procedures.alpha", "must be in [0, 1]"));
    }
    let work = data.join("work");
    let mut rows = Vec::new();
    for &d in &p.observed {
        let ds = dataset_for(p, d)?;
        let (a, q) = transition(&ds)?;
        let units =
            ds.readout.units.clone().ok_or_else(|| {
                Error::invalid("procedures", "the subset readout names its units")
            })?;
        let closed = stationary_student(&Problem {
            teacher: &a,
            noise: Some(&q),
            observed: &units,
            time: TimeKind::Discrete,
            obs_noise: 0.0,
        })?;
        rows.push(row(
            &rows,
            p,
            d,
            "closed_form",
            closed.eigenvalues[0].norm(),
        ));
        let mu_teacher = linalg::eigenvalues(&a)?
            .iter()
            .map(|z| z.norm())
            .fold(0.0, f64::max);
        rows.push(row(&rows, p, d, "teacher", mu_teacher));
        let ls = work.join(format!("d{d}-least_squares"));
        fit::fit(&ds, FitMethod::Observed, None, 0.0, &ls)?;
        rows.push(row(&rows, p, d, "least_squares", top_modulus(&ls)?));
        for (name, procedure) in [
            ("bptt", Procedure::FreeRunning),
            ("gtf", Procedure::Gtf { alpha: p.alpha }),
        ] {
            let spec = LatentSpec {
                procedure,
                steps: p.fit_steps,
                validate_every: (p.fit_steps / 10).max(1),
                ..LatentSpec::new(LatentForm::Linear, p.latent)
            };
            let dir = work.join(format!("d{d}-{name}"));
            latent::fit(&ds, &spec, &dir, &mut |_| {})?;
            rows.push(row(&rows, p, d, name, top_modulus(&dir)?));
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    let path = data.join("timescales.csv");
    let mut text = String::from("point,replicate,status,D,d,fraction,procedure,mu1,tau1\n");
    for r in rows {
        text.push_str(&r);
        text.push('\n');
    }
    npy::write_atomic(&path, text.as_bytes())?;
    Ok(vec![path])
}
