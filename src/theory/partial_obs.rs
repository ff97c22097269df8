//! Partial observation of a linear teacher: the stationary least-squares student, its spectrum
//! and timescales (PO-1..PO-8 in `theory/partial_observation.md`; Qian, Zavatone-Veth, Ruben &
//! Pehlevan 2024).
//!
//! The teacher is `dx = (B - I) x dt + dW` with `Cov(dW) = Q dt` (continuous time) or
//! `x_{t+1} = B x_t + xi_t` with `Cov(xi) = Q` (discrete time), `B` `D x D`. A subset `o` of
//! `d` units is observed, optionally through white observation noise of standard deviation `s`
//! per unit. The student is the linear model of the observed units fitted by least squares on
//! infinitely long stationary data:
//! `B_hat = (B Sigma)_oo (Sigma_oo + s^2 I)^-1` (PO-1, PO-4), with `Sigma` the stationary
//! covariance (PO-2 continuous, PO-3 discrete). For a feed-forward chain
//! (`B[i, i+1] = w`, everything else 0, `Q = I`, `s = 0`) `Sigma` has a closed-form series
//! (PO-5) and the student of a contiguous block has one free row, whose spectrum is found from
//! its characteristic polynomial (PO-6) instead of a dense eigen-solve of a near-Jordan matrix.

use crate::error::{Error, Result};
use crate::linalg::{self, lyapunov, Matrix};
use num_complex::Complex64;
use serde::{Deserialize, Serialize};

/// Continuous or discrete time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TimeKind {
    /// `dx = (B - I) x dt + dW`: timescale of an eigenvalue `lambda` of `B` is `1/(1 - Re lambda)`.
    #[default]
    Continuous,
    /// `x_{t+1} = B x_t + xi_t`: timescale is `-1/ln|lambda|` steps.
    Discrete,
}

/// How the stationary covariance and the student spectrum were obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Solve {
    /// Feed-forward chain: the closed-form covariance series (PO-5); for a contiguous observed
    /// block, the one free row and the characteristic polynomial (PO-6).
    Chain,
    /// Any teacher: Bartels–Stewart Lyapunov solve and a dense eigen-solve.
    Dense,
}

/// A partial-observation problem. Indices in `observed` are 0-based units of the teacher; the
/// student's rows and columns follow their order.
#[derive(Debug, Clone, Copy)]
pub struct Problem<'a> {
    /// Teacher matrix `B`, `D x D`.
    pub teacher: &'a Matrix,
    /// Process-noise covariance `Q`, `D x D` symmetric positive semi-definite; `None` = identity.
    pub noise: Option<&'a Matrix>,
    /// Observed units (distinct, each `< D`), `d` of them.
    pub observed: &'a [usize],
    /// Continuous or discrete time.
    pub time: TimeKind,
    /// Standard deviation `s >= 0` of white observation noise on each observed unit.
    pub obs_noise: f64,
}

/// The stationary least-squares student of a [`Problem`].
#[derive(Debug, Clone)]
pub struct Student {
    /// `B_hat`, `d x d`, rows and columns in the order of [`Problem::observed`].
    pub b_hat: Matrix,
    /// Eigenvalues of `B_hat`, sorted by real part (largest first), then imaginary part
    /// (largest first).
    pub eigenvalues: Vec<Complex64>,
    /// Timescale of each eigenvalue, same order (PO-7): `1/(1 - Re lambda)` (continuous, time
    /// units) or `-1/ln|lambda|` (discrete, steps). Infinite or negative when not decaying.
    pub timescales: Vec<f64>,
    /// Eigenvalues of the teacher `B`, sorted like [`Student::eigenvalues`].
    pub teacher_eigenvalues: Vec<Complex64>,
    /// The teacher's timescales, same order.
    pub teacher_timescales: Vec<f64>,
    /// How it was solved.
    pub solve: Solve,
}

/// Timescale of eigenvalue `lambda` of `B` (PO-7): the convention of AN-2
/// (`analysis::spectra::timescale`) applied to the drift `B - I` (continuous) or the map `B`
/// (discrete): `1 / rate` with rate `1 - Re lambda` or `-ln|lambda|`; `+inf` for an exactly
/// marginal mode, negative for an unstable one.
pub fn timescale(lambda: Complex64, time: TimeKind) -> f64 {
    let rate = match time {
        TimeKind::Continuous => 1.0 - lambda.re,
        TimeKind::Discrete => -lambda.norm().ln(),
    };
    if rate == 0.0 {
        f64::INFINITY
    } else {
        1.0 / rate
    }
}

/// Sort eigenvalues by real part descending, then imaginary part descending.
pub fn sort_by_real_part(v: &mut [Complex64]) {
    v.sort_by(|a, b| b.re.total_cmp(&a.re).then(b.im.total_cmp(&a.im)));
}

/// The weight `w` if `b` is a feed-forward chain `B[i, i+1] = w != 0` with every other entry
/// exactly zero (`D >= 2`). Exact comparison on purpose: the closed forms hold only for that
/// exact structure, and any other matrix takes the dense path.
#[allow(clippy::float_cmp)]
pub fn chain_weight(b: &Matrix) -> Option<f64> {
    let n = b.nrows();
    if n < 2 || b.ncols() != n {
        return None;
    }
    let w = b.get(0, 1);
    if w == 0.0 {
        return None;
    }
    for j in 0..n {
        for i in 0..n {
            let v = b.get(i, j);
            let want = if j == i + 1 { w } else { 0.0 };
            if v != want {
                return None;
            }
        }
    }
    Some(w)
}

/// Entry `Sigma_ij` of the stationary covariance of the chain `B[k, k+1] = w` (`D` units,
/// `Q = I`), PO-5. Continuous:
/// `Sigma_ij = sum_{m = max(i,j)}^{D-1} w^{2m-i-j} C(2m-i-j, m-i) / 2^{2m-i-j+1}`, summed in
/// log space so no term under- or overflows; discrete: `delta_ij sum_{k=0}^{D-1-i} w^{2k}`.
pub fn chain_cov(i: usize, j: usize, d_total: usize, w: f64, time: TimeKind) -> f64 {
    match time {
        TimeKind::Discrete => {
            if i != j {
                return 0.0;
            }
            (0..d_total - i).map(|k| w.powi(2 * k as i32)).sum()
        }
        TimeKind::Continuous => {
            let m0 = i.max(j);
            let (mut p, mut q) = ((m0 - i) as f64, (m0 - j) as f64);
            let lw = w.abs().ln();
            let l2 = std::f64::consts::LN_2;
            // First term: C(n, p) = 1 because one of p, q is 0.
            let mut log_term = (p + q) * lw - (p + q + 1.0) * l2;
            let mut sum = 0.0;
            for _ in m0..d_total {
                sum += log_term.exp();
                let n = p + q;
                log_term += ((n + 1.0) * (n + 2.0)).ln() - ((p + 1.0) * (q + 1.0)).ln() + 2.0 * lw
                    - 2.0 * l2;
                p += 1.0;
                q += 1.0;
            }
            // w^(2m-i-j) has the sign of w^(|i-j|) for every m.
            if w < 0.0 && (i.abs_diff(j)) % 2 == 1 {
                -sum
            } else {
                sum
            }
        }
    }
}

fn validate(p: &Problem<'_>) -> Result<usize> {
    let n = p.teacher.nrows();
    if p.teacher.ncols() != n || n == 0 {
        return Err(Error::Shape {
            what: "teacher B".into(),
            expected: "(D, D) with D >= 1".into(),
            got: format!("({}, {})", n, p.teacher.ncols()),
        });
    }
    if let Some(q) = p.noise {
        if q.nrows() != n || q.ncols() != n {
            return Err(Error::Shape {
                what: "noise covariance Q".into(),
                expected: format!("({n}, {n}), the teacher's size"),
                got: format!("({}, {})", q.nrows(), q.ncols()),
            });
        }
        let asym = (0..n)
            .flat_map(|i| (0..n).map(move |j| (i, j)))
            .map(|(i, j)| (q.get(i, j) - q.get(j, i)).abs())
            .fold(0.0, f64::max);
        if asym > 1e-12 * q.max_abs().max(1.0) {
            return Err(Error::invalid(
                "noise covariance Q",
                format!("is not symmetric (largest |Q_ij - Q_ji| = {asym:e}); pass (Q + Q.T)/2"),
            ));
        }
    }
    if p.observed.is_empty() {
        return Err(Error::invalid(
            "observed",
            "no unit is observed; give at least one index",
        ));
    }
    let mut seen = vec![false; n];
    for &k in p.observed {
        if k >= n {
            return Err(Error::invalid(
                "observed",
                format!(
                    "unit {k} does not exist: the teacher has D = {n} units, numbered 0 to {}",
                    n - 1
                ),
            ));
        }
        if std::mem::replace(&mut seen[k], true) {
            return Err(Error::invalid(
                "observed",
                format!("unit {k} is listed twice"),
            ));
        }
    }
    if !(p.obs_noise >= 0.0 && p.obs_noise.is_finite()) {
        return Err(Error::invalid(
            "obs_noise",
            format!("{} must be a finite standard deviation >= 0", p.obs_noise),
        ));
    }
    Ok(n)
}

fn sorted_eigenvalues(m: &Matrix) -> Result<Vec<Complex64>> {
    let mut v = linalg::eigenvalues(m)?;
    sort_by_real_part(&mut v);
    Ok(v)
}

fn check_stable(eigs: &[Complex64], time: TimeKind) -> Result<()> {
    let bad = eigs.iter().find(|l| match time {
        TimeKind::Continuous => l.re >= 1.0,
        TimeKind::Discrete => l.norm() >= 1.0,
    });
    match bad {
        None => Ok(()),
        Some(l) => Err(Error::invalid(
            "teacher B",
            format!(
                "has eigenvalue {:.6}{:+.6}i, so the teacher has no stationary state ({}); \
                 scale B down",
                l.re,
                l.im,
                match time {
                    TimeKind::Continuous => "continuous time needs every Re(lambda) < 1",
                    TimeKind::Discrete => "discrete time needs every |lambda| < 1",
                }
            ),
        )),
    }
}

/// The stationary covariance `Sigma` (`D x D`) of the teacher (PO-2 continuous, PO-3 discrete).
pub fn stationary_cov(b: &Matrix, q: Option<&Matrix>, time: TimeKind) -> Result<Matrix> {
    let n = b.nrows();
    let eye = Matrix::identity(n);
    let q = q.unwrap_or(&eye);
    Ok(match time {
        TimeKind::Continuous => lyapunov::continuous(&b.sub(&eye), q)?,
        TimeKind::Discrete => lyapunov::discrete(b, q)?,
    })
}

/// `B_hat = (B Sigma)_oo (Sigma_oo + s^2 I)^-1` from the blocks `bs_oo = (B Sigma)_oo` and
/// `s_oo = Sigma_oo` (`d x d`), PO-1/PO-4, by a solve with the symmetric `Sigma_oo + s^2 I`.
fn fit_from_blocks(bs_oo: &Matrix, s_oo: &Matrix, obs_var: f64) -> Result<Matrix> {
    let d = s_oo.nrows();
    let n = Matrix::from_fn(d, d, |i, j| {
        s_oo.get(i, j) + if i == j { obs_var } else { 0.0 }
    });
    Ok(linalg::solve(&n, &bs_oo.transpose())?.transpose())
}

/// The stationary least-squares student of `p` (PO-1..PO-7). Errors, naming the input, on
/// shapes, repeated or out-of-range observed units, a negative noise level, or a teacher with
/// no stationary state.
pub fn stationary_student(p: &Problem<'_>) -> Result<Student> {
    let n = validate(p)?;
    let is_identity = |q: &Matrix| *q == Matrix::identity(n);
    // The chain's closed forms assume Q = I and no observation noise.
    let chain =
        chain_weight(p.teacher).filter(|_| p.obs_noise == 0.0 && p.noise.is_none_or(is_identity));
    let (b_hat, eigenvalues, teacher_eigenvalues, solve) = match chain {
        Some(w) => {
            let (b_hat, eigs) = chain_student(p, n, w)?;
            (b_hat, eigs, vec![Complex64::new(0.0, 0.0); n], Solve::Chain)
        }
        None => {
            let teacher_eigs = sorted_eigenvalues(p.teacher)?;
            check_stable(&teacher_eigs, p.time)?;
            let sigma = stationary_cov(p.teacher, p.noise, p.time)?;
            let bs = p.teacher.matmul(&sigma);
            let o = p.observed;
            let bs_oo = Matrix::from_fn(o.len(), o.len(), |i, j| bs.get(o[i], o[j]));
            let s_oo = Matrix::from_fn(o.len(), o.len(), |i, j| sigma.get(o[i], o[j]));
            let b_hat = fit_from_blocks(&bs_oo, &s_oo, p.obs_noise * p.obs_noise)?;
            let eigs = sorted_eigenvalues(&b_hat)?;
            (b_hat, eigs, teacher_eigs, Solve::Dense)
        }
    };
    let ts = |v: &[Complex64]| v.iter().map(|&l| timescale(l, p.time)).collect();
    Ok(Student {
        timescales: ts(&eigenvalues),
        teacher_timescales: ts(&teacher_eigenvalues),
        b_hat,
        eigenvalues,
        teacher_eigenvalues,
        solve,
    })
}

/// The student of a chain teacher from the exact covariance entries (PO-5). For an ascending
/// contiguous block `a..a+d` the rows `r < d-1` are exactly `w e_{r+1}` and only the last row
/// is solved for; its spectrum comes from PO-6. Otherwise the fit is dense.
fn chain_student(p: &Problem<'_>, n: usize, w: f64) -> Result<(Matrix, Vec<Complex64>)> {
    let o = p.observed;
    let d = o.len();
    let cov = |i: usize, j: usize| chain_cov(i, j, n, w, p.time);
    let s_oo = Matrix::from_fn(d, d, |i, j| cov(o[i], o[j]));
    // (B Sigma)_{i j} = w Sigma_{i+1, j}, zero on the last unit (it has no input).
    let bs = |i: usize, j: usize| if i + 1 < n { w * cov(i + 1, j) } else { 0.0 };
    let contiguous = o.windows(2).all(|x| x[1] == x[0] + 1);
    if !contiguous {
        let bs_oo = Matrix::from_fn(d, d, |i, j| bs(o[i], o[j]));
        let b_hat = fit_from_blocks(&bs_oo, &s_oo, 0.0)?;
        let eigs = sorted_eigenvalues(&b_hat)?;
        return Ok((b_hat, eigs));
    }
    let last = o[d - 1];
    let row: Vec<f64> = if last + 1 < n {
        let rhs = Matrix::from_fn(d, 1, |i, _| bs(last, o[i]));
        linalg::solve(&s_oo, &rhs)?.into_vec()
    } else {
        vec![0.0; d]
    };
    let mut b_hat = Matrix::zeros(d, d);
    for r in 0..d.saturating_sub(1) {
        b_hat.set(r, r + 1, w);
    }
    for (k, &c) in row.iter().enumerate() {
        b_hat.set(d - 1, k, c);
    }
    Ok((b_hat, chain_eigenvalues(&row, w)?))
}

/// Eigenvalues of the `d x d` matrix with `B[r, r+1] = w` (`r < d-1`) and last row `c` (PO-6):
/// the roots of `lambda^d = sum_k c_k w^(d-1-k) lambda^k`. Leading coefficients that are
/// exactly zero are exact zero roots; the rest are the eigenvalues of the companion matrix of
/// the deflated polynomial. Sorted by real part, largest first.
pub fn chain_eigenvalues(c: &[f64], w: f64) -> Result<Vec<Complex64>> {
    let d = c.len();
    let a: Vec<f64> = (0..d).map(|k| c[k] * w.powi((d - 1 - k) as i32)).collect();
    let zeros = a.iter().take_while(|&&x| x == 0.0).count();
    let m = d - zeros;
    let mut eigs = vec![Complex64::new(0.0, 0.0); zeros];
    if m > 0 {
        // lambda^m = sum_{k<m} a[zeros + k] lambda^k: companion with ones on the superdiagonal
        // and the coefficients in the last row.
        let comp = Matrix::from_fn(m, m, |i, j| {
            if i + 1 == j {
                1.0
            } else if i == m - 1 {
                a[zeros + j]
            } else {
                0.0
            }
        });
        eigs.extend(linalg::eigenvalues(&comp)?);
    }
    sort_by_real_part(&mut eigs);
    Ok(eigs)
}

/// The stationary student of the Euler–Maruyama discretization of a continuous-time problem
/// with step `alpha` (PO-8): the discrete teacher `M = I + alpha (B - I)` with noise
/// `alpha Q`, its discrete student `M_hat`, and `A_hat = (M_hat - (1 - alpha) I) / alpha`,
/// which is what [`ridge_fit`] converges to on data simulated with that step. `d x d`.
pub fn euler_student(p: &Problem<'_>, alpha: f64) -> Result<Matrix> {
    let n = validate(p)?;
    if !(alpha > 0.0 && alpha <= 1.0) {
        return Err(Error::invalid(
            "alpha",
            format!("{alpha} must be a step in (0, 1]"),
        ));
    }
    let eye = Matrix::identity(n);
    let m = eye.clone().add_scaled(&p.teacher.sub(&eye), alpha);
    let q = p.noise.unwrap_or(&eye).clone().scale(alpha);
    let discrete = Problem {
        teacher: &m,
        noise: Some(&q),
        time: TimeKind::Discrete,
        ..*p
    };
    let m_hat = stationary_student(&discrete)?.b_hat;
    let d = p.observed.len();
    Ok(Matrix::from_fn(d, d, |i, j| {
        (m_hat.get(i, j) - if i == j { 1.0 - alpha } else { 0.0 }) / alpha
    }))
}

/// The ridge least-squares student of a recorded trajectory (PO-8):
/// `A_hat = alpha (X+ - (1 - alpha) X) X^T (rho I + alpha^2 X X^T)^-1`, `d x d`, where `x` is
/// `d x (T+1)` (column `t` = observed state at step `t`), `X` its first `T` columns and `X+`
/// its last `T`. `alpha = 1` is the discrete-time one-step fit `X+ X^T (rho I + X X^T)^-1`.
pub fn ridge_fit(x: &Matrix, alpha: f64, rho: f64) -> Result<Matrix> {
    let (d, t1) = (x.nrows(), x.ncols());
    if t1 < 2 {
        return Err(Error::invalid("trajectory", "needs at least 2 time points"));
    }
    let t = t1 - 1;
    let mut xxt = Matrix::zeros(d, d);
    let mut yxt = Matrix::zeros(d, d);
    let s = x.as_slice();
    for k in 0..t {
        let (xk, xn) = (&s[k * d..(k + 1) * d], &s[(k + 1) * d..(k + 2) * d]);
        for j in 0..d {
            for i in 0..d {
                xxt.set(i, j, xxt.get(i, j) + xk[i] * xk[j]);
                let y = xn[i] - (1.0 - alpha) * xk[i];
                yxt.set(i, j, yxt.get(i, j) + y * xk[j]);
            }
        }
    }
    let n = Matrix::from_fn(d, d, |i, j| {
        alpha * alpha * xxt.get(i, j) + if i == j { rho } else { 0.0 }
    });
    Ok(linalg::solve(&n, &yxt.scale(alpha).transpose())?.transpose())
}
