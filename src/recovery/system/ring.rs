//! The Noorman head-direction ring attractor (RS-4, attractors.md C4; Noorman et al., as in
//! Ságodi et al. 2024): `tau dx/dt = -x + (1/N) (W_sym + v(t) W_asym) relu(x) + c_ff` with
//! `W_sym_jk = J_I + J_E cos(theta_j - theta_k)`, `W_asym_jk = sin(theta_j - theta_k)`,
//! `theta_j = 2 pi j / N`. The input `v(t)` is the angular velocity.
//!
//! Exact description (RS-4): inside the region where exactly the units `S` are active the
//! flow is affine, so a fixed point solves `(I - W_SS/N) x_S = c_ff 1_S` with the inactive
//! units `x_j = c_ff + (1/N) W_jS x_S <= 0`. Where `I - W_SS/N` is singular with a
//! one-dimensional null space `v`, the solutions form a segment `x_S = x_p + s v`, cut to the
//! sign constraints (closed: ring states sit on switching boundaries). Enumerating all `2^N`
//! supports gives the ring as a closed polygon of such segments (a hexagon for N = 6), with
//! its tangent `dx/ds` per segment, and any isolated fixed points. Supports whose block has
//! a null space of dimension > 1 are skipped (see `enumerate`).
//!
//! Perturbed ring (RS-10, C4's second half; Ságodi et al. 2024): `perturbation = eps` adds
//! the random linear field `eps R x / tau`, `R_jk ~ N(0, 1/N)` drawn from `perturbation_seed`.
//! The flow stays piecewise linear, so its fixed points are still exact: in the region of
//! support `S` they solve the full `N x N` system `(I - eps R - W P_S / N) x = c_ff 1` with the
//! sign constraints; generically only a few survive, isolated. The ring itself persists as a
//! normally attracting slow invariant manifold (Fenichel) within O(eps) of the unperturbed
//! one; it has no closed form, so the truth lists it as samples obtained by relaxing the
//! unperturbed ring's points under the perturbed flow for `RELAX` = 12 time constants (the
//! fast directions contract at least like `exp(-0.72 t / tau)`, so the samples lie on the slow
//! manifold to about `2e-4` of their O(eps) starting offset), with tangents from neighbouring
//! samples and `max_speed` the largest drift speed along it (O(eps)).

use super::{bad, System};
use crate::error::Result;
use crate::linalg::{self, Matrix};
use crate::recovery::truth::{Manifold, ManifoldKind, Truth};
use rand::rngs::ChaCha8Rng;
use rand::RngExt;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

/// Parameters of the ring (`[system] kind = "ring"`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ring {
    /// Number of units N (3 ..= 16; the exact description enumerates 2^N supports).
    pub units: usize,
    /// Excitatory cosine strength J_E.
    pub j_e: f64,
    /// Uniform (inhibitory) strength J_I.
    pub j_i: f64,
    /// Constant feed-forward drive c_ff.
    pub c_ff: f64,
    /// Time constant tau.
    pub tau: f64,
    /// Standard deviation of the angular-velocity input, drawn afresh every
    /// `velocity_steps` steps (0: no input; trials then rest where they settle).
    pub velocity_std: f64,
    /// Steps the angular velocity is held.
    pub velocity_steps: usize,
    /// Strength `eps` of the random linear perturbation `eps R x / tau` (RS-10; 0: the exact
    /// ring attractor).
    pub perturbation: f64,
    /// Seed of the perturbation matrix `R` (independent of the dataset's seed, so one
    /// perturbed system can be sampled by several datasets).
    pub perturbation_seed: u64,
    /// `R`, row-major `N x N`, drawn by `validated` (not part of the spec).
    #[serde(skip)]
    r: Vec<f64>,
}

/// Time constants the unperturbed ring's samples relax under the perturbed flow (RS-10).
const RELAX: f64 = 12.0;

impl Default for Ring {
    fn default() -> Self {
        Ring {
            units: 6,
            j_e: 4.0,
            j_i: -2.4,
            c_ff: 1.0,
            tau: 1.0,
            velocity_std: 0.0,
            velocity_steps: 10,
            perturbation: 0.0,
            perturbation_seed: 0,
            r: Vec::new(),
        }
    }
}

impl Ring {
    pub(super) fn validated(&self) -> Result<Self> {
        if !(3..=16).contains(&self.units) {
            return Err(bad("units", "must be 3 ..= 16"));
        }
        for (k, v) in [("j_e", self.j_e), ("j_i", self.j_i), ("c_ff", self.c_ff)] {
            if !v.is_finite() {
                return Err(bad(k, "must be a finite number"));
            }
        }
        if !(self.tau.is_finite() && self.tau > 0.0) {
            return Err(bad("tau", "must be > 0"));
        }
        if !(self.velocity_std.is_finite() && self.velocity_std >= 0.0) || self.velocity_steps == 0
        {
            return Err(bad(
                "velocity_std",
                "must be >= 0, with velocity_steps >= 1",
            ));
        }
        if !(self.perturbation.is_finite() && self.perturbation >= 0.0) {
            return Err(bad(
                "perturbation",
                "must be a number >= 0 (0: the exact ring)",
            ));
        }
        let mut ring = self.clone();
        ring.r.clear();
        if self.perturbation > 0.0 {
            let n = self.units;
            let mut rng = crate::random::rng(self.perturbation_seed, 0x819E);
            let g = crate::random::gaussian_matrix(&mut rng, n, n);
            let scale = 1.0 / (n as f64).sqrt();
            ring.r = (0..n * n).map(|i| scale * g.get(i / n, i % n)).collect();
        }
        Ok(ring)
    }

    /// The perturbation term `eps (R x)_j` (0 without perturbation).
    fn perturb(&self, j: usize, x: &[f64]) -> f64 {
        if self.r.is_empty() {
            return 0.0;
        }
        let n = self.units;
        self.perturbation * (0..n).map(|k| self.r[j * n + k] * x[k]).sum::<f64>()
    }

    /// Fixed points of the perturbed flow (RS-10): one linear solve per support.
    fn perturbed_fixed_points(&self) -> Result<Vec<Vec<f64>>> {
        let n = self.units;
        let nf = n as f64;
        let mut out = Vec::new();
        for mask in 1u32..(1 << n) {
            let a = Matrix::from_fn(n, n, |j, k| {
                let w = if mask & (1 << k) != 0 {
                    self.w_sym(j, k) / nf
                } else {
                    0.0
                };
                f64::from(u8::from(j == k)) - self.perturbation * self.r[j * n + k] - w
            });
            let b = Matrix::from_fn(n, 1, |_, _| self.c_ff);
            let Ok(x) = linalg::solve(&a, &b) else {
                continue; // singular block: no isolated point with this support
            };
            let x: Vec<f64> = (0..n).map(|j| x.get(j, 0)).collect();
            // Strictly inside the region, where the Jacobian is defined.
            let inside = (0..n).all(|j| {
                if mask & (1 << j) != 0 {
                    x[j] > 1e-9
                } else {
                    x[j] < -1e-9
                }
            });
            if inside && x.iter().all(|v| v.is_finite()) {
                out.push(x);
            }
        }
        Ok(out)
    }

    /// The perturbed slow ring (RS-10): the unperturbed ring's samples relaxed for `RELAX`
    /// time constants, ordered by angle, with tangents from neighbours.
    fn perturbed_manifold(&self, unperturbed: &Manifold) -> Result<Manifold> {
        let times = [0.0, RELAX * self.tau];
        let mut points = Vec::with_capacity(unperturbed.points.len());
        for p in &unperturbed.points {
            let traj = super::trajectory(self, p, &times)?;
            points.push(traj[1].clone());
        }
        let two_pi = 2.0 * std::f64::consts::PI;
        points.sort_by(|a, b| {
            self.angle(a)
                .rem_euclid(two_pi)
                .total_cmp(&self.angle(b).rem_euclid(two_pi))
        });
        let m = points.len();
        let tangents = (0..m)
            .map(|k| {
                let (a, b) = (&points[(k + m - 1) % m], &points[(k + 1) % m]);
                let t: Vec<f64> = b.iter().zip(a).map(|(p, q)| p - q).collect();
                let norm = t.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-300);
                t.iter().map(|v| v / norm).collect()
            })
            .collect();
        let max_speed = self.max_speed(&points);
        Ok(Manifold {
            kind: ManifoldKind::Ring,
            points,
            tangents,
            marginal_modes: 1,
            max_speed,
        })
    }

    /// Largest speed `|f(x, 0)|` over `points`.
    fn max_speed(&self, points: &[Vec<f64>]) -> f64 {
        let mut f = vec![0.0; self.units];
        points
            .iter()
            .map(|p| {
                self.field(p, &[0.0], &mut f);
                f.iter().map(|v| v * v).sum::<f64>().sqrt()
            })
            .fold(0.0, f64::max)
    }

    fn theta(&self, j: usize) -> f64 {
        2.0 * std::f64::consts::PI * j as f64 / self.units as f64
    }

    fn w_sym(&self, j: usize, k: usize) -> f64 {
        self.j_i + self.j_e * (self.theta(j) - self.theta(k)).cos()
    }

    fn w_asym(&self, j: usize, k: usize) -> f64 {
        (self.theta(j) - self.theta(k)).sin()
    }

    /// Angle of the population vector `sum_j x_j e^{i theta_j}`.
    fn angle(&self, x: &[f64]) -> f64 {
        let (mut c, mut s) = (0.0, 0.0);
        for (j, v) in x.iter().enumerate() {
            c += v * self.theta(j).cos();
            s += v * self.theta(j).sin();
        }
        s.atan2(c)
    }

    /// The fixed-point segments (start, end, tangent) and isolated fixed points of every
    /// support (RS-4).
    #[allow(clippy::type_complexity)]
    fn enumerate(&self) -> Result<(Vec<(Vec<f64>, Vec<f64>, Vec<f64>)>, Vec<Vec<f64>>)> {
        let n = self.units;
        let nf = n as f64;
        let tol = 1e-9 * nf;
        let mut segments = Vec::new();
        let mut isolated = Vec::new();
        for mask in 1u32..(1 << n) {
            let s: Vec<usize> = (0..n).filter(|j| mask & (1 << j) != 0).collect();
            let m = Matrix::from_fn(s.len(), s.len(), |a, b| {
                f64::from(u8::from(a == b)) - self.w_sym(s[a], s[b]) / nf
            });
            let svd = linalg::svd(m.view())?;
            let smin = *svd.s.last().expect("non-empty support");
            // Full state from the active part: x_j = c + (1/N) W_jS x_S for every j.
            let full = |xs: &[f64]| -> Vec<f64> {
                (0..n)
                    .map(|j| {
                        self.c_ff
                            + s.iter()
                                .zip(xs)
                                .map(|(&k, v)| self.w_sym(j, k) * v)
                                .sum::<f64>()
                                / nf
                    })
                    .collect()
            };
            // Minimum-norm solution of M x_S = c 1 through the SVD, null space cut off.
            let k = svd.s.iter().filter(|&&v| v > tol).count();
            let xp: Vec<f64> = (0..s.len())
                .map(|i| {
                    (0..k)
                        .map(|r| {
                            let ub: f64 = (0..s.len()).map(|a| svd.u.get(a, r) * self.c_ff).sum();
                            svd.v.get(i, r) * ub / svd.s[r]
                        })
                        .sum()
                })
                .collect();
            let mut res = 0.0f64;
            for a in 0..s.len() {
                let mx: f64 = (0..s.len()).map(|b| m.get(a, b) * xp[b]).sum();
                res = res.max((mx - self.c_ff).abs());
            }
            if res > 1e-8 * (1.0 + self.c_ff.abs()) {
                continue; // inconsistent: no fixed point with this support
            }
            let inside = |x: &[f64], slack: f64| {
                (0..n).all(|j| {
                    if mask & (1 << j) != 0 {
                        x[j] >= -slack
                    } else {
                        x[j] <= slack
                    }
                })
            };
            if smin > tol {
                let x = full(&xp);
                // Strictly inside its region: a point on a switching boundary with a
                // nonsingular block is a vertex of a segment (listed with the ring), and the
                // Jacobian is not defined there.
                if inside(&x, -1e-9) {
                    isolated.push(x);
                }
                continue;
            }
            if s.len() - k != 1 {
                // A higher-dimensional family (e.g. the alternate units {0, 2, 4} of N = 6,
                // where the inactive units' sum is positive on all of it, so it is empty).
                // Not enumerated: the settling check in tests/recovery_systems.rs guards
                // against a missed set.
                continue;
            }
            let v: Vec<f64> = (0..s.len()).map(|i| svd.v.get(i, s.len() - 1)).collect();
            // x(s) = x0 + s t in full space; constraints: active >= 0, inactive <= 0.
            let x0 = full(&xp);
            let mut t = full(&v);
            for tj in t.iter_mut() {
                *tj -= self.c_ff;
            }
            let (mut lo, mut hi) = (f64::NEG_INFINITY, f64::INFINITY);
            for j in 0..n {
                // active: x0 + s t >= 0; inactive: -(x0 + s t) >= 0.
                let sign = if mask & (1 << j) != 0 { 1.0 } else { -1.0 };
                let (a, b) = (sign * x0[j], sign * t[j]);
                if b.abs() <= 1e-14 {
                    if a < -1e-12 {
                        lo = f64::INFINITY;
                    }
                } else if b > 0.0 {
                    lo = lo.max(-a / b);
                } else {
                    hi = hi.min(-a / b);
                }
            }
            if lo.is_finite() && hi.is_finite() && hi > lo + 1e-9 {
                let at = |s: f64| {
                    x0.iter()
                        .zip(&t)
                        .map(|(a, b)| a + s * b)
                        .collect::<Vec<_>>()
                };
                segments.push((at(lo), at(hi), t.clone()));
            }
        }
        Ok((segments, isolated))
    }
}

impl System for Ring {
    fn name(&self) -> &'static str {
        "ring"
    }
    fn dim(&self) -> usize {
        self.units
    }
    fn n_inputs(&self) -> usize {
        1
    }
    fn field(&self, x: &[f64], u: &[f64], out: &mut [f64]) {
        let n = self.units;
        let nf = n as f64;
        for j in 0..n {
            let mut r = 0.0;
            for (k, xk) in x.iter().enumerate() {
                if *xk > 0.0 {
                    r += (self.w_sym(j, k) + u[0] * self.w_asym(j, k)) * xk;
                }
            }
            out[j] = (-x[j] + r / nf + self.perturb(j, x) + self.c_ff) / self.tau;
        }
    }
    fn jacobian(&self, x: &[f64], u: &[f64], jac: &mut Matrix) {
        let n = self.units;
        let nf = n as f64;
        *jac = Matrix::from_fn(n, n, |j, k| {
            let w = if x[k] > 0.0 {
                (self.w_sym(j, k) + u[0] * self.w_asym(j, k)) / nf
            } else {
                0.0
            };
            let p = if self.r.is_empty() {
                0.0
            } else {
                self.perturbation * self.r[j * n + k]
            };
            (w + p - f64::from(u8::from(j == k))) / self.tau
        });
    }
    fn truth(&self) -> Result<Truth> {
        if self.perturbation > 0.0 {
            let mut exact = self.clone();
            exact.perturbation = 0.0;
            exact.r.clear();
            let ring = exact.truth()?;
            let mut truth = Truth::fixed_points(self.units, Vec::new());
            for x in self.perturbed_fixed_points()? {
                truth
                    .fixed_points
                    .push(super::describe_fixed_point(self, x)?);
            }
            truth.fixed_points.sort_by_key(|p| p.n_unstable);
            for mf in &ring.manifolds {
                truth.manifolds.push(self.perturbed_manifold(mf)?);
            }
            truth.provenance = crate::recovery::truth::Provenance::ClosedFormAndNumerical;
            return Ok(truth);
        }
        let (mut segments, isolated) = self.enumerate()?;
        let mut truth = Truth::fixed_points(self.units, Vec::new());
        for x in isolated {
            truth
                .fixed_points
                .push(super::describe_fixed_point(self, x)?);
        }
        truth.fixed_points.sort_by_key(|p| p.n_unstable);
        if segments.is_empty() {
            return Ok(truth);
        }
        // Orient each segment by increasing angle, then order them around the ring.
        let two_pi = 2.0 * std::f64::consts::PI;
        for seg in segments.iter_mut() {
            let d = (self.angle(&seg.1) - self.angle(&seg.0)).rem_euclid(two_pi);
            if d > std::f64::consts::PI {
                std::mem::swap(&mut seg.0, &mut seg.1);
                seg.2.iter_mut().for_each(|v| *v = -*v);
            }
        }
        segments.sort_by(|a, b| {
            self.angle(&a.0)
                .rem_euclid(two_pi)
                .total_cmp(&self.angle(&b.0).rem_euclid(two_pi))
        });
        let per = 24;
        let (mut points, mut tangents) = (Vec::new(), Vec::new());
        for (a, b, t) in &segments {
            let norm = t.iter().map(|v| v * v).sum::<f64>().sqrt();
            for k in 0..per {
                let f = k as f64 / per as f64;
                points.push(a.iter().zip(b).map(|(p, q)| p + f * (q - p)).collect());
                tangents.push(t.iter().map(|v| v / norm).collect());
            }
        }
        let max_speed = self.max_speed(&points);
        truth.manifolds.push(Manifold {
            kind: ManifoldKind::Ring,
            points,
            tangents,
            marginal_modes: 1,
            max_speed,
        });
        Ok(truth)
    }
    fn init_box(&self) -> (Vec<f64>, Vec<f64>) {
        (vec![0.0; self.units], vec![1.0; self.units])
    }
    fn inputs(&self, _condition: usize, steps: usize, _dt: f64, rng: &mut ChaCha8Rng) -> Matrix {
        let mut u = Matrix::zeros(steps, 1);
        if self.velocity_std > 0.0 {
            let mut v = 0.0;
            for k in 0..steps {
                if k % self.velocity_steps == 0 {
                    let z: f64 = rng.sample(StandardNormal);
                    v = self.velocity_std * z;
                }
                u.set(k, 0, v);
            }
        }
        u
    }
}
