//! Initializations of deep linear networks.
//!
//! - [`Init::Gaussian`]: i.i.d. `N(0, scale^2 / fan_in)` entries.
//! - [`Init::Orthogonal`]: `scale` times a Haar-random (semi-)orthogonal matrix per layer.
//! - [`Init::Aligned`]: Saxe's decoupled initial condition (T1.4 in
//!   `theory/deep_linear.md`, DL-3): `W_1 = R_1 diag(a_1) V^T`, `W_l = R_l diag(a_l) R_{l-1}^T`,
//!   `W_L = U diag(a_L) R_{L-1}^T` with random orthonormal hidden directions `R_l` and per-mode
//!   layer scalars with product `u0` and balance `a_{l+1}^2 - a_l^2 = lambda`.
//! - [`Init::Explicit`]: given matrices.

use crate::error::{Error, Result};
use crate::linalg::{self, Matrix};
use crate::model::DeepLinearNet;
use crate::random;
use rand::rngs::ChaCha8Rng;

/// An initialization rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Init {
    /// Entries i.i.d. `N(0, scale^2 / fan_in)` (`fan_in` = columns of the layer).
    Gaussian {
        /// Overall scale (> 0).
        scale: f64,
    },
    /// `scale` times a random matrix with orthonormal rows or columns (whichever is fewer).
    Orthogonal {
        /// Singular value of every layer (> 0).
        scale: f64,
    },
    /// Decoupled (aligned) initial condition on the teacher's modes (DL-3).
    Aligned {
        /// Initial end-to-end strength `u_alpha(0)` of each mode (length = teacher rank).
        u0: Vec<f64>,
        /// Balance `lambda = a_{l+1}^2 - a_l^2` between consecutive layers, the same for all
        /// modes (for two layers `lambda = b^2 - a^2`, Saxe's notation).
        lambda: f64,
        /// Standard deviation of i.i.d. Gaussian noise added to every weight (0 = exact).
        perturb: f64,
    },
    /// Random lambda-balanced weights (RC-5): `W_{l+1}^T W_{l+1} - W_l W_l^T = lambda I` for
    /// every layer pair. For `lambda >= 0`, `W_1` has i.i.d. `N(0, scale^2 / fan_in)` entries
    /// and each next layer is `O diag(sqrt(m)) U^T` from the eigendecomposition
    /// `W_l W_l^T + lambda I = U diag(m) U^T` with random orthonormal `O`; for `lambda < 0`
    /// the construction runs backward from a Gaussian `W_L`. Possible only if the widths allow
    /// it (e.g. two layers: `Nh <= No` for `lambda > 0`, `Nh <= Ni` for `lambda < 0`).
    LambdaBalanced {
        /// Scale of the Gaussian layer the construction starts from (> 0).
        scale: f64,
        /// The balance `lambda`.
        lambda: f64,
    },
    /// Explicit weights `W_1, ..., W_L`.
    Explicit(Vec<Matrix>),
}

/// `O diag(sqrt(m_+)) U^T` for `M = U diag(m) U^T` (`k x k`, PSD up to rounding) and a random
/// `rows x r` orthonormal `O`, `r` = numerical rank of `M`: a `rows x k` matrix `W` with
/// `W^T W = M`. Errors if `M` has a clearly negative eigenvalue or rank above `rows`.
fn factor_psd(m: &Matrix, rows: usize, rng: &mut ChaCha8Rng, what: &str) -> Result<Matrix> {
    let (w, u) = linalg::sym_eig(m.view())?;
    let wmax = w
        .iter()
        .fold(0.0f64, |a, x| a.max(x.abs()))
        .max(f64::MIN_POSITIVE);
    let tol = 1e-12 * wmax * (w.len() as f64);
    if let Some(neg) = w.iter().find(|&&x| x < -tol) {
        return Err(Error::invalid(
            "init.lambda",
            format!("{what}: W^T W would need a negative eigenvalue ({neg:e}); use a smaller |lambda| or a larger init.scale"),
        ));
    }
    let keep: Vec<usize> = (0..w.len()).filter(|&i| w[i] > tol).collect();
    if keep.len() > rows {
        return Err(Error::invalid(
            "init.lambda",
            format!(
                "{what}: a lambda-balanced layer needs rank {} but has only {rows} rows; with lambda > 0 every hidden width must be <= the next layer's width (two layers: hidden <= d_out), with lambda < 0 <= the previous one (hidden <= d_in)",
                keep.len()
            ),
        ));
    }
    let o = random_orthonormal(rng, rows, keep.len().max(1))?;
    let k = m.nrows();
    Ok(Matrix::from_fn(rows, k, |i, j| {
        keep.iter()
            .enumerate()
            .map(|(c, &e)| o.get(i, c) * w[e].sqrt() * u.get(j, e))
            .sum()
    }))
}

/// Layer scalars `(a_1, ..., a_L)` of one decoupled mode with product `u0` and
/// `a_{l+1}^2 - a_l^2 = lambda` (DL-3). The sign of `u0` is carried by the last layer.
///
/// For `L = 2` this is `a^2 = (-lambda + sqrt(lambda^2 + 4 u0^2))/2`,
/// `b^2 = (lambda + sqrt(lambda^2 + 4 u0^2))/2`; for deeper nets `a_1^2` is found by bisection
/// (the product is increasing in `a_1^2`).
pub fn mode_layer_scalars(u0: f64, lambda: f64, depth: usize) -> Vec<f64> {
    let target = u0.abs();
    let mut a = if depth == 2 {
        let root = (lambda * lambda + 4.0 * u0 * u0).sqrt();
        vec![
            ((root - lambda) / 2.0).max(0.0).sqrt(),
            ((root + lambda) / 2.0).max(0.0).sqrt(),
        ]
    } else {
        let lo0 = (-(depth as f64 - 1.0) * lambda).max(0.0);
        let prod = |x2: f64| -> f64 {
            (0..depth)
                .map(|l| (x2 + l as f64 * lambda).max(0.0).sqrt())
                .product()
        };
        let (mut lo, mut hi) = (lo0, lo0 + 1.0);
        if target == 0.0 {
            // The product vanishes exactly at the lower end (a_1 or a_L is 0).
            hi = lo0;
        }
        while prod(hi) < target {
            hi = lo0 + 2.0 * (hi - lo0);
        }
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if prod(mid) < target {
                lo = mid;
            } else {
                hi = mid;
            }
            if hi - lo <= f64::EPSILON * hi {
                break;
            }
        }
        let x2 = 0.5 * (lo + hi);
        (0..depth)
            .map(|l| (x2 + l as f64 * lambda).max(0.0).sqrt())
            .collect()
    };
    if u0 < 0.0 {
        let last = a.len() - 1;
        a[last] = -a[last];
    }
    a
}

fn random_orthonormal(rng: &mut ChaCha8Rng, rows: usize, cols: usize) -> Result<Matrix> {
    if rows >= cols {
        Ok(linalg::orthonormal_from(&random::gaussian_matrix(
            rng, rows, cols,
        ))?)
    } else {
        Ok(linalg::orthonormal_from(&random::gaussian_matrix(rng, cols, rows))?.transpose())
    }
}

impl Init {
    /// Draw the flat parameter vector of `net`. `u`, `v` (`d_out x r`, `d_in x r`) are the
    /// teacher's mode directions, used by [`Init::Aligned`]; `rng` is the run's init stream.
    pub fn sample(
        &self,
        net: &DeepLinearNet,
        u: &Matrix,
        v: &Matrix,
        rng: &mut ChaCha8Rng,
    ) -> Result<Vec<f64>> {
        let depth = net.depth();
        let layers: Vec<Matrix> = match self {
            Init::Gaussian { scale } => {
                check_scale("init.scale", *scale)?;
                (1..=depth)
                    .map(|l| {
                        let (r, c) = net.layer_shape(l);
                        random::gaussian_matrix(rng, r, c).scale(scale / (c as f64).sqrt())
                    })
                    .collect()
            }
            Init::Orthogonal { scale } => {
                check_scale("init.scale", *scale)?;
                let mut out = Vec::with_capacity(depth);
                for l in 1..=depth {
                    let (r, c) = net.layer_shape(l);
                    out.push(random_orthonormal(rng, r, c)?.scale(*scale));
                }
                out
            }
            Init::Aligned {
                u0,
                lambda,
                perturb,
            } => {
                let rank = u.ncols();
                if u0.len() != rank {
                    return Err(Error::invalid(
                        "init.u0",
                        format!(
                            "give one value per teacher mode ({rank}), or a single number; got {}",
                            u0.len()
                        ),
                    ));
                }
                if u0.iter().any(|x| !x.is_finite()) || !lambda.is_finite() {
                    return Err(Error::invalid("init.u0/lambda", "must be finite"));
                }
                if !(*perturb >= 0.0 && perturb.is_finite()) {
                    return Err(Error::invalid("init.perturb", "must be finite and >= 0"));
                }
                let min_hidden = net.dims()[1..depth].iter().copied().min().unwrap_or(rank);
                if min_hidden < rank {
                    return Err(Error::invalid(
                        "model.hidden",
                        format!(
                            "an aligned init needs every hidden width >= the teacher's rank {rank}; the narrowest is {min_hidden}"
                        ),
                    ));
                }
                let scalars: Vec<Vec<f64>> = u0
                    .iter()
                    .map(|&x| mode_layer_scalars(x, *lambda, depth))
                    .collect();
                // Hidden directions R_l: dims[l] x rank, orthonormal columns.
                let mut r_dirs = Vec::with_capacity(depth - 1);
                for l in 1..depth {
                    r_dirs.push(random_orthonormal(rng, net.dims()[l], rank)?);
                }
                let mut out = Vec::with_capacity(depth);
                for l in 1..=depth {
                    let left = if l == depth { u } else { &r_dirs[l - 1] };
                    let right = if l == 1 { v } else { &r_dirs[l - 2] };
                    let scaled = Matrix::from_fn(left.nrows(), rank, |i, a| {
                        left.get(i, a) * scalars[a][l - 1]
                    });
                    let mut w = scaled.matmul_t(right);
                    if *perturb > 0.0 {
                        let noise = random::gaussian_matrix(rng, w.nrows(), w.ncols());
                        for (x, e) in w.as_mut_slice().iter_mut().zip(noise.as_slice()) {
                            *x += perturb * e;
                        }
                    }
                    out.push(w);
                }
                out
            }
            Init::LambdaBalanced { scale, lambda } => {
                check_scale("init.scale", *scale)?;
                let mut out: Vec<Matrix> = Vec::with_capacity(depth);
                if *lambda >= 0.0 {
                    let (r, c) = net.layer_shape(1);
                    out.push(random::gaussian_matrix(rng, r, c).scale(scale / (c as f64).sqrt()));
                    for l in 2..=depth {
                        let prev = &out[l - 2];
                        let mut m = prev.matmul_t(prev);
                        for i in 0..m.nrows() {
                            m.set(i, i, m.get(i, i) + lambda);
                        }
                        let rows = net.layer_shape(l).0;
                        out.push(factor_psd(&m, rows, rng, &format!("W_{l}"))?);
                    }
                } else {
                    // Backward: W_l W_l^T = W_{l+1}^T W_{l+1} - lambda I (PSD for lambda < 0).
                    let (r, c) = net.layer_shape(depth);
                    let mut rev =
                        vec![random::gaussian_matrix(rng, r, c).scale(scale / (c as f64).sqrt())];
                    for l in (1..depth).rev() {
                        let next = rev.last().expect("nonempty");
                        let mut m = next.t_matmul(next);
                        for i in 0..m.nrows() {
                            m.set(i, i, m.get(i, i) - lambda);
                        }
                        let cols = net.layer_shape(l).1;
                        // W_l = (cols x rows factor)^T so that W_l W_l^T = m.
                        rev.push(factor_psd(&m, cols, rng, &format!("W_{l}"))?.transpose());
                    }
                    rev.reverse();
                    out = rev;
                }
                out
            }
            Init::Explicit(ws) => {
                if ws
                    .iter()
                    .any(|w| w.as_slice().iter().any(|x| !x.is_finite()))
                {
                    return Err(Error::invalid("init.weights", "contain NaN or inf"));
                }
                ws.clone()
            }
        };
        net.pack(&layers)
    }
}

fn check_scale(key: &str, scale: f64) -> Result<()> {
    if scale > 0.0 && scale.is_finite() {
        Ok(())
    } else {
        Err(Error::invalid(
            key,
            format!("must be finite and > 0, got {scale}"),
        ))
    }
}
