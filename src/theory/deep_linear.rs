//! Mode dynamics of deep linear networks from decoupled (aligned) initial conditions
//! (`theory/deep_linear.md`; Saxe, McClelland & Ganguli 2014).
//!
//! With whitened inputs and the decoupled initial condition, each teacher mode `alpha`
//! (singular value `s`) evolves independently; its layer scalars `a_1..a_L` obey
//! `da_l/dt = (prod_{k != l} a_k) (s - u)`, `u = prod_k a_k` (DL-5), which conserves
//! `a_{l+1}^2 - a_l^2` (DL-4). Time is gradient-flow time in units of tau = 1.

use crate::integrate::{quad, VectorField};

/// Balanced two-layer mode, logistic closed form (DL-6, Saxe T1.5), with the sign pitfall
/// handled: for `u0 < 0` the balanced mode (`a = -b`) obeys `du/dt = -2u(s - u)` and decays to
/// `0-` instead of blowing up (DL-7).
///
/// `u(t) = s / (1 + (s/u0 - 1) exp(-2 sgn(u0) s t))`; `u0 = 0` stays at 0 (the saddle).
pub fn balanced_two_layer(s: f64, u0: f64, t: f64) -> f64 {
    if u0 == 0.0 {
        return 0.0;
    }
    let sign = u0.signum();
    let c = s / u0 - 1.0;
    // For large t the exponential underflows to 0 (u -> s) or overflows (u -> 0-): both limits
    // are the correct values.
    s / (1.0 + c * (-2.0 * sign * s * t).exp())
}

/// Unbalanced two-layer mode with `lambda = b^2 - a^2 != 0`, closed form (DL-8, Saxe T1.7):
/// `du/dt = sqrt(lambda^2 + 4u^2) (s - u)`. Valid for any sign of `u0` and `lambda` (the ODE
/// depends on `lambda^2` only); written in cancellation-free form.
/// For `lambda == 0` it defers to [`balanced_two_layer`].
pub fn unbalanced_two_layer(s: f64, u0: f64, lambda: f64, t: f64) -> f64 {
    let lam = lambda.abs();
    if lam == 0.0 {
        return balanced_two_layer(s, u0, t);
    }
    let d = (4.0 * s * s + lam * lam).sqrt();
    let z_plus = (2.0 * s + d) / lam;
    let z_minus = -lam / (2.0 * s + d);
    let r0 = (4.0 * u0 * u0 + lam * lam).sqrt();
    let z0 = if u0 >= 0.0 {
        (2.0 * u0 + r0) / lam
    } else {
        lam / (r0 - 2.0 * u0)
    };
    let k = (z0 - z_plus) / (z0 - z_minus);
    let e = k * (-d * t).exp();
    let z = (z_plus - e * z_minus) / (1.0 - e);
    0.25 * lam * (z - 1.0 / z)
}

/// Convergence rate of an unbalanced two-layer mode near `u = s`: `D = sqrt(4 s^2 + lambda^2)`
/// (DL-8); the balanced limit is `2s`.
pub fn two_layer_rate(s: f64, lambda: f64) -> f64 {
    (4.0 * s * s + lambda * lambda).sqrt()
}

/// Time for a balanced depth-`L` mode (DL-9, Saxe T1.8: `da/dt = a^{L-1}(s - a^L)`, `u = a^L`)
/// to go from `a0` to `a`, both in `(0, s^{1/L})` or both above it:
/// `t = int_{a0}^{a} dx / (x^{L-1}(s - x^L))` (DL-10).
///
/// Evaluated as `(1/s)[F(a) - F(a0)] + (1/s) int x/(s - x^L) dx` with
/// `F(x) = ln x` (L = 2) or `x^{2-L}/(2-L)`, and the logarithmic singularity of the second
/// integrand at `a* = s^{1/L}` subtracted analytically, so the remaining integrand is smooth.
pub fn depth_time_to_reach(s: f64, depth: usize, a0: f64, a: f64) -> f64 {
    let l = depth as f64;
    let a_star = s.powf(1.0 / l);
    let f = |x: f64| {
        if depth == 2 {
            x.ln()
        } else {
            x.powf(2.0 - l) / (2.0 - l)
        }
    };
    // x/(s - x^L) = c/(a* - x) + smooth, with s - x^L = (a* - x) q(x),
    // q(x) = sum_k a*^{L-1-k} x^k and c = a*/q(a*) = a*^{2-L}/L. Writing the remainder as
    // (x/q(x) - c)/(a* - x) avoids forming s - x^L, which cancels catastrophically near a*.
    let c = a_star.powf(2.0 - l) / l;
    let q = |x: f64| {
        let mut acc = 0.0;
        let mut xk = 1.0;
        for k in 0..depth {
            acc += a_star.powi((depth - 1 - k) as i32) * xk;
            xk *= x;
        }
        acc
    };
    let mut smooth = |x: f64| {
        let gap = a_star - x;
        if gap == 0.0 {
            return 0.0;
        }
        (x / q(x) - c) / gap
    };
    let tol = 1e-15 * (1.0 + (a - a0).abs());
    let smooth_part = quad::integrate(&mut smooth, a0, a, tol);
    let log_part = -c * ((a_star - a).abs().ln() - (a_star - a0).abs().ln());
    (f(a) - f(a0) + smooth_part + log_part) / s
}

/// Balanced depth-`L` mode strength `u(t) = a(t)^L` from `u0 > 0` (DL-9), by inverting
/// [`depth_time_to_reach`] (an implicit closed form). For `L = 2` this equals
/// [`balanced_two_layer`]. Returns `None` for `u0 <= 0` (use the reduced ODE).
pub fn balanced_depth(s: f64, depth: usize, u0: f64, t: f64) -> Option<f64> {
    if u0 <= 0.0 || s.is_nan() || s <= 0.0 {
        return None;
    }
    if depth == 2 {
        return Some(balanced_two_layer(s, u0, t));
    }
    if t <= 0.0 {
        return Some(u0);
    }
    let l = depth as f64;
    let a0 = u0.powf(1.0 / l);
    let a_star = s.powf(1.0 / l);
    if (a0 - a_star).abs() <= f64::EPSILON * a_star {
        return Some(u0);
    }
    // Bisection on w = -ln|a* - a| in (w0, w_max): T is increasing in w, and w spreads the
    // approach to a* so the relative gap is resolved to full precision.
    let side = if a0 < a_star { 1.0 } else { -1.0 };
    let a_of = |w: f64| a_star - side * (-w).exp();
    let w0 = -(a_star - a0).abs().ln();
    let w_max = -(a_star * f64::EPSILON).ln();
    if depth_time_to_reach(s, depth, a0, a_of(w_max)) <= t {
        return Some(a_of(w_max).powi(depth as i32));
    }
    let (mut lo, mut hi) = (w0, w_max);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if depth_time_to_reach(s, depth, a0, a_of(mid)) < t {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 4.0 * f64::EPSILON * hi.abs().max(1.0) {
            break;
        }
    }
    Some(a_of(0.5 * (lo + hi)).powi(depth as i32))
}

/// Reduced ODE of decoupled modes (DL-5): state `[a_{0,1..L}, a_{1,1..L}, ...]` (mode-major,
/// `depth` layer scalars per mode), `da_{alpha,l}/dt = (prod_{k != l} a_{alpha,k})(s_alpha - u_alpha)`.
#[derive(Debug, Clone)]
pub struct ModeOde {
    /// Singular values `s_alpha`, one per mode.
    pub s: Vec<f64>,
    /// Number of weight matrices `L`.
    pub depth: usize,
}

impl ModeOde {
    /// Mode strength `u_alpha = prod_l a_{alpha,l}` of mode `alpha` in `state`.
    pub fn strength(&self, state: &[f64], alpha: usize) -> f64 {
        state[alpha * self.depth..(alpha + 1) * self.depth]
            .iter()
            .product()
    }
}

impl VectorField for ModeOde {
    fn dim(&self) -> usize {
        self.s.len() * self.depth
    }
    fn eval(&mut self, _t: f64, y: &[f64], dydt: &mut [f64]) {
        let l = self.depth;
        for (alpha, &s) in self.s.iter().enumerate() {
            let a = &y[alpha * l..(alpha + 1) * l];
            let out = &mut dydt[alpha * l..(alpha + 1) * l];
            let u: f64 = a.iter().product();
            // prod_{k != j} a_k by prefix/suffix products (no division: a_j may be 0).
            let mut prefix = 1.0;
            for j in 0..l {
                out[j] = prefix;
                prefix *= a[j];
            }
            let mut suffix = 1.0;
            for j in (0..l).rev() {
                out[j] *= suffix * (s - u);
                suffix *= a[j];
            }
        }
    }
}

/// The balanced single-scalar form (DL-9, Saxe T1.8): `da/dt = a^{L-1}(s - a^L)` per mode.
#[derive(Debug, Clone)]
pub struct BalancedModeOde {
    /// Singular values `s_alpha`.
    pub s: Vec<f64>,
    /// Number of weight matrices `L`.
    pub depth: usize,
}

impl VectorField for BalancedModeOde {
    fn dim(&self) -> usize {
        self.s.len()
    }
    fn eval(&mut self, _t: f64, y: &[f64], dydt: &mut [f64]) {
        let l = self.depth as i32;
        for ((d, &a), &s) in dydt.iter_mut().zip(y).zip(&self.s) {
            *d = a.powi(l - 1) * (s - a.powi(l));
        }
    }
}

/// Learning time of a decoupled mode: the first `t` with `u(t) = s/2` (DL-6 inverted for two
/// balanced layers, DL-10 for depth `L`, bisection on DL-8 for unbalanced two-layer modes);
/// `Some(0)` if `u0 >= s/2` already, `None` if the mode never gets there (the saddle: `u0 <= 0`
/// with `lambda = 0`, or unbalanced deep modes, which have no closed form).
pub fn time_to_learn(s: f64, u0: f64, lambda: f64, depth: usize) -> Option<f64> {
    let target = 0.5 * s;
    if u0 >= target {
        return Some(0.0);
    }
    if lambda == 0.0 {
        if u0 <= 0.0 {
            return None;
        }
        let l = depth as f64;
        return Some(depth_time_to_reach(
            s,
            depth,
            u0.powf(1.0 / l),
            target.powf(1.0 / l),
        ));
    }
    if depth != 2 {
        return None;
    }
    // u(t) is increasing while u < s (DL-8): bracket, then bisect to full precision.
    let mut hi = 1.0 / two_layer_rate(s, lambda);
    while unbalanced_two_layer(s, u0, lambda, hi) < target {
        hi *= 2.0;
        if hi > 1e12 {
            return None;
        }
    }
    let mut lo = 0.0;
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if unbalanced_two_layer(s, u0, lambda, mid) < target {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 4.0 * f64::EPSILON * hi {
            break;
        }
    }
    Some(0.5 * (lo + hi))
}
