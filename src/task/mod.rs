//! Tasks (data): the linear teacher whose input-output statistics the network learns.
//!
//! The teacher map is `Sigma_yx = U S V^T` (C-3) with `S` given and `U`, `V` random orthogonal
//! from the task seed, or an explicit `Sigma_yx` from a `.npy` file. Training sees either the
//! population moments (`Sigma_xx = I`) or the empirical moments of `P` samples
//! `x ~ N(0, I)`, `y = W* x + noise`, optionally whitened so that `X X^T / P = I` exactly.

use crate::error::{Error, Result};
use crate::linalg::{self, Matrix};
use crate::model::Moments;
use crate::random::{self, stream};

/// What defines the teacher map.
#[derive(Debug, Clone, PartialEq)]
pub enum TeacherMap {
    /// Singular values (nonincreasing, positive); singular vectors random from the seed.
    SingularValues(Vec<f64>),
    /// An explicit `d_out x d_in` matrix `Sigma_yx` (with `Sigma_xx = I`, also the teacher map).
    Explicit(Matrix),
}

/// Specification of a linear-teacher task.
#[derive(Debug, Clone, PartialEq)]
pub struct TeacherSpec {
    /// Input dimension.
    pub d_in: usize,
    /// Output dimension.
    pub d_out: usize,
    /// The teacher map.
    pub map: TeacherMap,
    /// Seed of the teacher's singular vectors, samples and noise.
    pub seed: u64,
    /// `None`: population moments. `Some(P)`: `P` samples.
    pub samples: Option<usize>,
    /// Whiten the sampled inputs so that their empirical covariance is exactly `I`.
    pub whiten: bool,
    /// Standard deviation of Gaussian label noise (samples only; adds `noise_std^2 d_out / 2`
    /// to the population loss floor).
    pub noise_std: f64,
}

/// A realized linear-teacher task.
#[derive(Debug, Clone)]
pub struct LinearTask {
    /// The moments the loss is built from.
    pub moments: Moments,
    /// Teacher's left singular vectors (`d_out x r`), the mode directions `u_alpha`.
    pub u: Matrix,
    /// Teacher's singular values `s_alpha` (length `r`, nonincreasing) of the training `Sigma_yx`.
    pub s: Vec<f64>,
    /// Teacher's right singular vectors (`d_in x r`), the mode directions `v_alpha`.
    pub v: Matrix,
    /// `||Sigma_xx - I||_F` of the training inputs (0 for population or whitened data).
    pub whitening_error: f64,
    /// The samples `(X, Y)` (`d_in x P`, `d_out x P`) when the task is finite.
    pub data: Option<(Matrix, Matrix)>,
}

impl LinearTask {
    /// Number of modes `r` (teacher rank).
    pub fn rank(&self) -> usize {
        self.s.len()
    }
    /// Input dimension.
    pub fn d_in(&self) -> usize {
        self.moments.d_in()
    }
    /// Output dimension.
    pub fn d_out(&self) -> usize {
        self.moments.d_out()
    }
}

/// Numerical rank threshold for singular values of an explicit `Sigma_yx`.
fn rank_of(s: &[f64], d: usize) -> usize {
    let smax = s.first().copied().unwrap_or(0.0);
    let cut = smax * f64::EPSILON * (d as f64) * 8.0;
    s.iter().filter(|&&x| x > cut).count()
}

impl TeacherSpec {
    /// Build the task: draw singular vectors and samples from the seed, form the moments.
    pub fn build(&self) -> Result<LinearTask> {
        let (d_in, d_out) = (self.d_in, self.d_out);
        if d_in == 0 || d_out == 0 {
            return Err(Error::invalid("task.d_in/d_out", "dimensions must be >= 1"));
        }
        if !(self.noise_std >= 0.0 && self.noise_std.is_finite()) {
            return Err(Error::invalid(
                "task.noise_std",
                format!("must be finite and >= 0, got {}", self.noise_std),
            ));
        }
        let teacher = self.teacher_map()?;
        let mut whitening_error = 0.0;
        let mut data = None;
        let moments = match self.samples {
            None => {
                let tr_yy = teacher.norm_fro().powi(2) + self.noise_std.powi(2) * d_out as f64;
                let loss_min = 0.5 * (tr_yy - teacher.norm_fro().powi(2));
                Moments {
                    sigma_xx: Matrix::identity(d_in),
                    sigma_yx: teacher.clone(),
                    w_star: teacher.clone(),
                    loss_min,
                    whitened: true,
                }
            }
            Some(p) => {
                let (m, err, xy) = self.sample_moments(&teacher, p)?;
                whitening_error = err;
                data = Some(xy);
                m
            }
        };
        // Modes: SVD of the Sigma_yx that training sees.
        let svd = linalg::svd(moments.sigma_yx.view())?;
        let r = match &self.map {
            TeacherMap::SingularValues(s) => s.len(),
            TeacherMap::Explicit(_) => rank_of(&svd.s, d_in.max(d_out)),
        };
        if r == 0 {
            return Err(Error::invalid(
                "task.sigma_yx",
                "the teacher map is zero: nothing to learn",
            ));
        }
        let mut u = svd.u.first_cols(r);
        let mut v = svd.v.first_cols(r);
        sign_fix(&mut u, &mut v);
        Ok(LinearTask {
            moments,
            u,
            s: svd.s[..r].to_vec(),
            v,
            whitening_error,
            data,
        })
    }

    /// The teacher map `Sigma_yx` of the population: `U diag(s) V^T` with `U`, `V` drawn
    /// from stream TEACHER, or the explicit matrix (`d_out x d_in`).
    fn teacher_map(&self) -> Result<Matrix> {
        let (d_in, d_out) = (self.d_in, self.d_out);
        let mut rng = random::rng(self.seed, stream::TEACHER);
        match &self.map {
            TeacherMap::SingularValues(s) => {
                let k = d_in.min(d_out);
                if s.is_empty() || s.len() > k {
                    return Err(Error::invalid(
                        "task.singular_values",
                        format!("need 1 to min(d_in, d_out) = {k} values, got {}", s.len()),
                    ));
                }
                if s.iter().any(|x| !(x.is_finite() && *x > 0.0)) {
                    return Err(Error::invalid(
                        "task.singular_values",
                        "every singular value must be finite and > 0",
                    ));
                }
                if s.windows(2).any(|w| w[1] > w[0]) {
                    return Err(Error::invalid(
                        "task.singular_values",
                        "list the singular values in nonincreasing order (mode 0 is the strongest)",
                    ));
                }
                let u = linalg::orthonormal_from(&random::gaussian_matrix(&mut rng, d_out, d_out))?
                    .first_cols(s.len());
                let v = linalg::orthonormal_from(&random::gaussian_matrix(&mut rng, d_in, d_in))?
                    .first_cols(s.len());
                let us = Matrix::from_fn(d_out, s.len(), |i, j| u.get(i, j) * s[j]);
                Ok(us.matmul_t(&v))
            }
            TeacherMap::Explicit(m) => {
                if (m.nrows(), m.ncols()) != (d_out, d_in) {
                    return Err(Error::Shape {
                        what: "task.sigma_yx".into(),
                        expected: format!("(d_out, d_in) = ({d_out}, {d_in})"),
                        got: format!("({}, {})", m.nrows(), m.ncols()),
                    });
                }
                Ok(m.clone())
            }
        }
    }

    /// The moments of `p` samples `x ~ N(0, I)` (whitened if asked) with `y = teacher x +
    /// noise`: (moments, `||Sigma_xx - I||_F` before snapping, the samples `(x, y)`).
    fn sample_moments(
        &self,
        teacher: &Matrix,
        p: usize,
    ) -> Result<(Moments, f64, (Matrix, Matrix))> {
        let (d_in, d_out) = (self.d_in, self.d_out);
        if p == 0 {
            return Err(Error::invalid(
                "task.samples",
                "must be >= 1 (omit it for population moments)",
            ));
        }
        let mut srng = random::rng(self.seed, stream::SAMPLES);
        let mut x = random::gaussian_matrix(&mut srng, d_in, p);
        let pf = p as f64;
        if self.whiten {
            if p < d_in {
                return Err(Error::invalid(
                    "task.whiten",
                    format!(
                        "whitening needs samples >= d_in ({p} < {d_in}); add samples or set whiten = false"
                    ),
                ));
            }
            let cov = x.matmul_t(&x).scale(1.0 / pf);
            let w = linalg::sym_fn(cov.view(), |l| 1.0 / l.sqrt())?;
            x = w.matmul(&x);
        }
        let mut y = teacher.matmul(&x);
        if self.noise_std > 0.0 {
            let mut nrng = random::rng(self.seed, stream::NOISE);
            let noise = random::gaussian_matrix(&mut nrng, d_out, p);
            for (a, b) in y.as_mut_slice().iter_mut().zip(noise.as_slice()) {
                *a += self.noise_std * b;
            }
        }
        let mut sigma_xx = x.matmul_t(&x).scale(1.0 / pf);
        let whitening_error = sigma_xx.sub(&Matrix::identity(d_in)).norm_fro();
        if self.whiten {
            // Exactly I up to rounding; snap to I so the whitened fast path is exact.
            sigma_xx = Matrix::identity(d_in);
        }
        let sigma_yx = y.matmul_t(&x).scale(1.0 / pf);
        let tr_yy = y.norm_fro().powi(2) / pf;
        let pinv = linalg::psd_pinv(sigma_xx.view(), 1e-12)?;
        let w_star = sigma_yx.matmul(&pinv);
        let loss_min = (0.5 * (tr_yy - (w_star.t_matmul(&sigma_yx)).trace())).max(0.0);
        let whitened = self.whiten;
        let moments = Moments {
            sigma_xx,
            sigma_yx,
            w_star,
            loss_min,
            whitened,
        };
        Ok((moments, whitening_error, (x, y)))
    }
}

/// Sign convention (C-3) of the modes `u` (`d_out x r`) and `v` (`d_in x r`): flips each
/// pair so that the largest-|entry| of `v_alpha` is positive.
fn sign_fix(u: &mut Matrix, v: &mut Matrix) {
    let (d_in, d_out, r) = (v.nrows(), u.nrows(), v.ncols());
    for a in 0..r {
        let (imax, _) = (0..d_in).fold((0, 0.0), |(bi, bv), i| {
            let x = v.get(i, a).abs();
            if x > bv {
                (i, x)
            } else {
                (bi, bv)
            }
        });
        if v.get(imax, a) < 0.0 {
            for i in 0..d_in {
                v.set(i, a, -v.get(i, a));
            }
            for i in 0..d_out {
                u.set(i, a, -u.get(i, a));
            }
        }
    }
}

/// Sequence tasks and teachers for RNN training (theory/rnn.md SQ-1..SQ-10).
pub mod sequences;
