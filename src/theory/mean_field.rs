//! Stationary mean field of a rank-one RNN on a random bulk (theory/mean_field.md, MF-1..MF-6;
//! Mastrogiuseppe & Ostojic 2018; reference notes §5.8, T5.12-T5.14, check MF1).
//!
//! The network (MF-1) is `dx_i/dt = -x_i + sum_j J_ij phi(x_j)`, `phi = tanh`,
//! `J = g chi / sqrt(N) + m n^T / N`, with `chi_ij` i.i.d. standard normal and `(m_i, n_i)`
//! i.i.d. zero-mean jointly Gaussian pairs, `Var m = sigma_m^2`, `Cov(m, n) = sigma_mn`. Write
//! `n_i = (sigma_mn / sigma_m^2) m_i + sigma_perp xi_i` with `xi_i` standard normal and
//! independent of `m`: the stationary mean field depends on `sigma_m` and `sigma_mn` only, not
//! on `sigma_perp` (which sets `Var n = sigma_mn^2 / sigma_m^2 + sigma_perp^2` and, with it, the
//! finite-`N` spread). Check MF1 uses `sigma_m = 1`.
//!
//! Stationary states (MF-2, MF-3): `x_i = kappa m_i + delta_i` with `kappa = <n_i phi(x_i)>` and
//! `delta_i` Gaussian, so `x_i` is Gaussian with variance `Delta_0`. Besides the trivial state
//! `kappa = 0` (`Delta_0 = 0` for `g < 1`) there is a pair `+-kappa` iff
//! `1 = sigma_mn <[phi']>_{Delta_0}`, which has a solution iff `sigma_mn > 1`; then
//! `kappa^2 sigma_m^2 = Delta_0 - g^2 <[phi^2]>_{Delta_0}` and, for tanh,
//! `<[phi^2]> = 1 - <[phi']> = 1 - 1/sigma_mn`. `<[f]>_D` is the Gaussian average
//! `int Dz f(sqrt(D) z)`, computed by Gauss-Hermite quadrature ([`GaussianRule`], MF-4) at
//! orders raised until two successive orders agree (a trapezoid rule beyond Gauss-Hermite's
//! reach, `sigma_mn > 3.1`). Units: `x`, `kappa` and `sqrt(Delta_0)` are in units of the
//! argument of `phi`; `kappa` scales as `1 / sigma_m` at fixed `sigma_mn`.
//!
//! Finite networks (MF-1, MF-2, MF-5): [`FiniteNetwork`] draws one and relaxes it to its
//! stationary state; [`kappa_sd`] is the leading-order spread `c / sqrt(N)` of its `kappa`
//! around the mean field (theory/mean_field.md, "Checks"). The figure `figures/mean_field/`
//! draws both.
//!
//! Scope: `0 <= g < 1`, where the bulk alone is silent and these stationary states are the whole
//! story (MF-5). For `g >= 1` the bulk is chaotic and the stationary equations do not describe
//! the network (dynamic mean field, not implemented): such input is an error.
//!
//! # References
//! - F. Mastrogiuseppe, S. Ostojic (2018), "Linking connectivity, dynamics, and computations in
//!   low-rank recurrent neural networks", Neuron 99, 609-623.

use crate::error::{Error, Result};
use crate::linalg::{sym_eig, Matrix};

/// Largest Gauss-Hermite order [`GaussianRule::gauss_hermite`] accepts. Above it the Hermite
/// functions `p_k(x) e^{-x^2/4}` at the outermost node (`x ~ sqrt(4 n)`) underflow.
pub const MAX_ORDER: usize = 600;

/// Gauss-Hermite orders [`solve`] tries, in turn, until two successive ones agree to the
/// tolerance (MF-4).
pub const ORDERS: [usize; 4] = [100, 200, 400, MAX_ORDER];

/// Half-width of the trapezoid rule in `z`: `|z| <= 9` (the Gaussian tail beyond is
/// `< 1e-18`).
pub const TRAPEZOID_Z_MAX: f64 = 9.0;

/// Largest number of trapezoid nodes [`GaussianRule::trapezoid`] builds (step `>= 18 / 40000`).
pub const TRAPEZOID_MAX_NODES: usize = 40_001;

/// Trapezoid step constant of [`solve`]'s fallback: `h = TRAPEZOID_C / sqrt(Delta_0)` gives a
/// discretization error `~ exp(-pi^2 / TRAPEZOID_C) = e^-99` on `<[phi']>_{Delta_0}`, and the
/// check step `2 h` one of `~ e^-49` (MF-4).
pub const TRAPEZOID_C: f64 = 0.1;

/// Which rule a [`GaussianRule`] is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RuleKind {
    /// Gauss-Hermite of this order (number of nodes).
    GaussHermite {
        /// Number of nodes `n`; exact for polynomials of degree `<= 2 n - 1`.
        order: usize,
    },
    /// Trapezoid rule in `z` on `[-TRAPEZOID_Z_MAX, TRAPEZOID_Z_MAX]` with this step.
    Trapezoid {
        /// Node spacing `h` in `z`.
        step: f64,
    },
}

impl RuleKind {
    /// `"gauss-hermite"` or `"trapezoid"`.
    pub fn name(&self) -> &'static str {
        match self {
            RuleKind::GaussHermite { .. } => "gauss-hermite",
            RuleKind::Trapezoid { .. } => "trapezoid",
        }
    }
}

/// A quadrature rule for the standard normal measure `Dz` (MF-4): `sum_k w_k f(z_k)`
/// approximates `int f(z) e^{-z^2/2} / sqrt(2 pi) dz`. Nodes are ascending and symmetric about
/// 0, weights positive.
///
/// - [`GaussianRule::gauss_hermite`]: exact for polynomials of degree up to `2 n - 1` (weights
///   sum to 1). Nodes are the eigenvalues of the Jacobi matrix of the probabilists' Hermite
///   polynomials (Golub-Welsch), polished by Newton steps on the Hermite function
///   `p_n(x) e^{-x^2/4}`; weights are `w_k = 1 / sum_{j<n} p_j(x_k)^2` (Christoffel numbers,
///   `p_j` orthonormal), both evaluated with the factor `e^{-x^2/4}` so that nothing overflows
///   up to [`MAX_ORDER`].
/// - [`GaussianRule::trapezoid`]: `z_k = k h`, `w_k = h e^{-z_k^2/2} / sqrt(2 pi)`; for `f`
///   analytic in the strip `|Im z| < a` the error is `~ exp(-2 pi a / h)`.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianRule {
    nodes: Vec<f64>,
    weights: Vec<f64>,
    kind: RuleKind,
}

/// `(psi_n(x), psi_{n-1}(x), sum_{j<n} psi_j(x)^2)` for the Hermite functions
/// `psi_j = p_j(x) e^{-x^2/4}`, `p_j` orthonormal under the standard normal measure
/// (`p_{j+1} = (x p_j - sqrt(j) p_{j-1}) / sqrt(j + 1)`).
fn hermite_functions(n: usize, x: f64) -> (f64, f64, f64) {
    let (mut prev, mut cur, mut sum) = (0.0, (-x * x / 4.0).exp(), 0.0);
    for j in 0..n {
        sum += cur * cur;
        let next = (x * cur - (j as f64).sqrt() * prev) / ((j + 1) as f64).sqrt();
        prev = cur;
        cur = next;
    }
    (cur, prev, sum)
}

impl GaussianRule {
    /// The Gauss-Hermite rule of order `n` (`1 <= n <=` [`MAX_ORDER`]); an error outside that
    /// range.
    pub fn gauss_hermite(n: usize) -> Result<Self> {
        if n == 0 || n > MAX_ORDER {
            return Err(Error::invalid(
                "order",
                format!("Gauss-Hermite order must be in 1..={MAX_ORDER}, got {n}"),
            ));
        }
        // Jacobi matrix: zero diagonal, off-diagonal sqrt(k), k = 1..n-1 (lower triangle).
        let jacobi = Matrix::from_fn(
            n,
            n,
            |i, j| {
                if i == j + 1 {
                    (i as f64).sqrt()
                } else {
                    0.0
                }
            },
        );
        let (mut nodes, _) = sym_eig(jacobi.view())?;
        let sqrt_n = (n as f64).sqrt();
        for x in nodes.iter_mut() {
            for _ in 0..8 {
                let (psi_n, psi_m, _) = hermite_functions(n, *x);
                // d/dx psi_n = sqrt(n) psi_{n-1} - x psi_n / 2.
                let d = sqrt_n * psi_m - 0.5 * *x * psi_n;
                if d == 0.0 || !d.is_finite() {
                    break;
                }
                let step = psi_n / d;
                *x -= step;
                if step.abs() <= 4.0 * f64::EPSILON * x.abs().max(1.0) {
                    break;
                }
            }
        }
        // Exact symmetry: x_k = -x_{n-1-k}, and 0 in the middle for odd n.
        for k in 0..n / 2 {
            let a = 0.5 * (nodes[n - 1 - k] - nodes[k]);
            nodes[k] = -a;
            nodes[n - 1 - k] = a;
        }
        if n % 2 == 1 {
            nodes[n / 2] = 0.0;
        }
        let weights = nodes
            .iter()
            .map(|&x| {
                let (_, _, s) = hermite_functions(n, x);
                (-x * x / 2.0).exp() / s
            })
            .collect();
        Ok(GaussianRule {
            nodes,
            weights,
            kind: RuleKind::GaussHermite { order: n },
        })
    }

    /// The trapezoid rule with step `h` on `|z| <=` [`TRAPEZOID_Z_MAX`]; an error unless
    /// `0 < h <= 1` and the rule has at most [`TRAPEZOID_MAX_NODES`] nodes.
    pub fn trapezoid(h: f64) -> Result<Self> {
        let half = (TRAPEZOID_Z_MAX / h).floor();
        if !(h > 0.0 && h <= 1.0) || 2.0 * half + 1.0 > TRAPEZOID_MAX_NODES as f64 {
            return Err(Error::invalid(
                "step",
                format!(
                    "trapezoid step must be in [{:.1e}, 1], got {h:e}",
                    2.0 * TRAPEZOID_Z_MAX / (TRAPEZOID_MAX_NODES - 1) as f64
                ),
            ));
        }
        let half = half as i64;
        let c = h / (2.0 * std::f64::consts::PI).sqrt();
        let nodes: Vec<f64> = (-half..=half).map(|k| k as f64 * h).collect();
        let weights = nodes.iter().map(|z| c * (-z * z / 2.0).exp()).collect();
        Ok(GaussianRule {
            nodes,
            weights,
            kind: RuleKind::Trapezoid { step: h },
        })
    }

    /// Which rule this is.
    pub fn kind(&self) -> RuleKind {
        self.kind
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Always `false`: every rule has at least one node.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The nodes `z_k`, ascending.
    pub fn nodes(&self) -> &[f64] {
        &self.nodes
    }

    /// The weights `w_k` of [`GaussianRule::nodes`].
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// The Gaussian average `<[f]>_delta = int Dz f(sqrt(delta) z)` (`delta >= 0` a variance;
    /// `Dz` the standard normal measure) by this rule.
    pub fn average(&self, delta: f64, f: impl Fn(f64) -> f64) -> f64 {
        let s = delta.max(0.0).sqrt();
        self.nodes
            .iter()
            .zip(&self.weights)
            .map(|(&x, &w)| w * f(s * x))
            .sum()
    }
}

/// `phi'(x) = 1 - tanh(x)^2 = sech(x)^2`.
pub fn dphi(x: f64) -> f64 {
    let c = x.cosh();
    if c.is_finite() {
        1.0 / (c * c)
    } else {
        0.0
    }
}

/// Parameters of the rank-one network (MF-1): overlap `sigma_mn = Cov(m_i, n_i)`, the standard
/// deviation `sigma_m` of `m_i`, and the bulk strength `g` (the radius of the bulk of the
/// spectrum of `J`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankOne {
    /// `sigma_mn = Cov(m_i, n_i)`, the `N -> infinity` outlier eigenvalue `n^T m / N` of `J`.
    pub sigma_mn: f64,
    /// Standard deviation `sigma_m > 0` of `m_i` (check MF1: 1).
    pub sigma_m: f64,
    /// Bulk strength `0 <= g < 1`.
    pub g: f64,
}

impl RankOne {
    /// Validated parameters: every value finite, `sigma_m > 0`, `0 <= g < 1`.
    pub fn new(sigma_mn: f64, sigma_m: f64, g: f64) -> Result<Self> {
        if !sigma_mn.is_finite() {
            return Err(Error::invalid(
                "sigma_mn",
                format!("the overlap Cov(m, n) must be finite, got {sigma_mn}"),
            ));
        }
        if !(sigma_m.is_finite() && sigma_m > 0.0) {
            return Err(Error::invalid(
                "sigma_m",
                format!("the standard deviation of m must be finite and > 0, got {sigma_m}"),
            ));
        }
        if !(g.is_finite() && g >= 0.0) {
            return Err(Error::invalid(
                "g",
                format!("the bulk strength must be finite and >= 0, got {g}"),
            ));
        }
        if g >= 1.0 {
            return Err(Error::invalid(
                "g",
                format!(
                    "g = {g} >= 1: the random bulk is chaotic and the stationary mean field does \
                     not describe the network (dynamic mean field is not implemented); use g < 1"
                ),
            ));
        }
        Ok(RankOne {
            sigma_mn,
            sigma_m,
            g,
        })
    }
}

/// Tolerance of [`solve`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanFieldOptions {
    /// Largest accepted change of `kappa` and `Delta_0` between the last two Gauss-Hermite
    /// orders of [`ORDERS`] (or two trapezoid steps; absolute; default `1e-9`).
    pub tol: f64,
}

impl Default for MeanFieldOptions {
    fn default() -> Self {
        MeanFieldOptions { tol: 1e-9 }
    }
}

/// One stationary state `x_i = kappa m_i + delta_i` of the mean field (MF-2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StationaryState {
    /// `kappa >= 0` (the non-trivial states are the pair `+-kappa`; units of `phi`'s argument
    /// per unit of `m`).
    pub kappa: f64,
    /// Variance `Delta_0` of `x_i` across units.
    pub delta0: f64,
    /// `<[phi']>_{Delta_0}` (`1 / sigma_mn` on the non-trivial branch, MF-3).
    pub mean_dphi: f64,
    /// `<[phi^2]>_{Delta_0}`, the mean squared rate.
    pub mean_phi2: f64,
    /// Radius `g sqrt(<[phi'^2]>_{Delta_0})` of the bulk of the spectrum of
    /// `J diag(phi'(x))` (MF-5): the state is not destabilized by the bulk while it is below 1.
    pub bulk_radius: f64,
}

/// Which stationary state is stable (MF-5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Branch {
    /// `kappa = 0` (`sigma_mn <= 1`; marginal at `sigma_mn = 1`).
    Trivial,
    /// The pair `+-kappa`, `kappa > 0` (`sigma_mn > 1`).
    Nontrivial,
}

impl Branch {
    /// `"trivial"` or `"nontrivial"`.
    pub fn name(&self) -> &'static str {
        match self {
            Branch::Trivial => "trivial",
            Branch::Nontrivial => "nontrivial",
        }
    }
}

/// The stationary mean field of a [`RankOne`] network.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanField {
    /// The trivial state `kappa = 0`, `Delta_0 = 0` (the unique solution of
    /// `Delta_0 = g^2 <[phi^2]>_{Delta_0}` for `g < 1`).
    pub trivial: StationaryState,
    /// The non-trivial pair `+-kappa` (MF-3), `None` for `sigma_mn <= 1`.
    pub nontrivial: Option<StationaryState>,
    /// The stable state (MF-5).
    pub stable: Branch,
    /// The outlier eigenvalue of `J` as `N -> infinity`: `n^T m / N -> sigma_mn` (MF-5); the
    /// trivial state's Jacobian `-I + J` has the eigenvalue `sigma_mn - 1`.
    pub outlier: f64,
    /// The rule of the returned values (`None` when no quadrature was needed: `sigma_mn <= 1`).
    pub quadrature: Option<RuleKind>,
    /// `max(|kappa - kappa'|, |Delta_0 - Delta_0'|)` between the returned values and those of
    /// the previous, coarser rule (MF-4): a conservative bound on the quadrature error.
    pub error_estimate: f64,
}

/// `Delta_0` solving `sigma_mn <[phi']>_{Delta_0} = 1` (MF-3) with `rule`, by bisection
/// (`<[phi']>_D` decreases strictly from 1 at `D = 0`). Requires `sigma_mn > 1`.
pub fn nontrivial_delta0(sigma_mn: f64, rule: &GaussianRule) -> Result<f64> {
    if !(sigma_mn > 1.0 && sigma_mn.is_finite()) {
        return Err(Error::invalid(
            "sigma_mn",
            format!("a non-trivial state needs a finite sigma_mn > 1, got {sigma_mn}"),
        ));
    }
    let h = |d: f64| sigma_mn * rule.average(d, dphi) - 1.0;
    let (mut lo, mut hi) = (0.0, 1.0);
    while h(hi) > 0.0 {
        lo = hi;
        hi *= 2.0;
        if hi > 1e12 {
            return Err(Error::invalid(
                "sigma_mn",
                format!("no Delta_0 below 1e12 solves sigma_mn <[phi']> = 1 for {sigma_mn}"),
            ));
        }
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if h(mid) > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(0.5 * (lo + hi))
}

/// The non-trivial state with one quadrature rule (MF-2, MF-3).
fn nontrivial_at(net: &RankOne, rule: &GaussianRule) -> Result<StationaryState> {
    let delta0 = nontrivial_delta0(net.sigma_mn, rule)?;
    // tanh^2 = 1 - phi', so <[phi^2]> = 1 - <[phi']> = 1 - 1/sigma_mn at the solution.
    let mean_dphi = 1.0 / net.sigma_mn;
    let mean_phi2 = 1.0 - mean_dphi;
    let kappa2 = (delta0 - net.g * net.g * mean_phi2) / (net.sigma_m * net.sigma_m);
    let dphi2 = rule.average(delta0, |x| dphi(x) * dphi(x));
    Ok(StationaryState {
        kappa: kappa2.max(0.0).sqrt(),
        delta0,
        mean_dphi,
        mean_phi2,
        bulk_radius: net.g * dphi2.sqrt(),
    })
}

/// The Gauss-Hermite rules of [`ORDERS`], built once per process (a rule of order 600 costs an
/// eigendecomposition of its Jacobi matrix, far more than the bisection that uses it).
fn gauss_hermite_orders() -> Result<&'static [GaussianRule]> {
    static RULES: std::sync::OnceLock<Vec<GaussianRule>> = std::sync::OnceLock::new();
    if let Some(r) = RULES.get() {
        return Ok(r);
    }
    let rules = ORDERS
        .iter()
        .map(|&n| GaussianRule::gauss_hermite(n))
        .collect::<Result<Vec<_>>>()?;
    Ok(RULES.get_or_init(|| rules))
}

/// The stationary mean field (MF-2, MF-3, MF-5) of `net`.
///
/// The non-trivial state is computed with the Gauss-Hermite rules of [`ORDERS`] in turn until
/// `kappa` and `Delta_0` change by at most `opts.tol` between two successive orders (MF-4); the
/// values of the higher order are returned. The Gauss-Hermite error on `<[phi']>_D` decays only
/// like `exp(-pi sqrt(n / D))` (the poles of `sech^2` lie at `z = i pi / (2 sqrt D)`), so at the
/// default tolerance this fails for `sigma_mn` above about 3.1 (`Delta_0 > 5.5`). Then the
/// trapezoid rule in `z` takes over, with step `h = TRAPEZOID_C / sqrt(Delta_0)`
/// (error `~ exp(-pi^2 / TRAPEZOID_C)`), checked against the step `2 h` in the same way.
///
/// Errors: a non-finite or non-positive `opts.tol`, or no agreement of either rule (only for
/// `Delta_0` beyond about `(TRAPEZOID_C (TRAPEZOID_MAX_NODES - 1) / 18)^2 = 4.9e4`, that is
/// `sigma_mn` above about 280).
pub fn solve(net: &RankOne, opts: &MeanFieldOptions) -> Result<MeanField> {
    if !(opts.tol.is_finite() && opts.tol > 0.0) {
        return Err(Error::invalid(
            "tol",
            format!(
                "the quadrature tolerance must be finite and > 0, got {}",
                opts.tol
            ),
        ));
    }
    let trivial = StationaryState {
        kappa: 0.0,
        delta0: 0.0,
        mean_dphi: 1.0,
        mean_phi2: 0.0,
        bulk_radius: net.g,
    };
    let mut out = MeanField {
        trivial,
        nontrivial: None,
        stable: Branch::Trivial,
        outlier: net.sigma_mn,
        quadrature: None,
        error_estimate: 0.0,
    };
    if net.sigma_mn <= 1.0 {
        return Ok(out);
    }
    let change = |a: &StationaryState, b: &StationaryState| {
        (a.kappa - b.kappa).abs().max((a.delta0 - b.delta0).abs())
    };
    let mut accept = |state: StationaryState, rule: &GaussianRule, err: f64| {
        out.nontrivial = Some(state);
        out.stable = Branch::Nontrivial;
        out.quadrature = Some(rule.kind());
        out.error_estimate = err;
        out
    };
    let mut prev: Option<StationaryState> = None;
    for rule in gauss_hermite_orders()? {
        let state = nontrivial_at(net, rule)?;
        if let Some(p) = prev {
            let err = change(&state, &p);
            if err <= opts.tol {
                return Ok(accept(state, rule, err));
            }
        }
        prev = Some(state);
    }
    // Trapezoid fallback: the step must resolve the sech^2 peak of width 1/sqrt(Delta_0) in z,
    // so refine the guess of Delta_0 until the root lies below it (h sqrt(Delta_0) <= C).
    let mut d = prev.map_or(1.0, |p| p.delta0).max(1.0);
    let too_wide = |d: f64, e: Error| {
        Error::invalid(
            "sigma_mn",
            format!(
                "sigma_mn = {} gives Delta_0 above {d:.3e}, too wide for the quadrature rules \
                 ({e}); use a smaller sigma_mn",
                net.sigma_mn
            ),
        )
    };
    for _ in 0..60 {
        let h = TRAPEZOID_C / d.sqrt();
        let fine = GaussianRule::trapezoid(h).map_err(|e| too_wide(d, e))?;
        let state = nontrivial_at(net, &fine).map_err(|e| too_wide(d, e))?;
        if state.delta0 > 1.01 * d {
            d = 1.1 * state.delta0;
            continue;
        }
        let coarse = GaussianRule::trapezoid(2.0 * h).map_err(|e| too_wide(d, e))?;
        let err = change(&state, &nontrivial_at(net, &coarse)?);
        if err <= opts.tol {
            return Ok(accept(state, &fine, err));
        }
        return Err(Error::invalid(
            "sigma_mn",
            format!(
                "sigma_mn = {}: kappa changes by {err:.1e} > tol {:.1e} between trapezoid \
                 steps {:.3e} and {h:.3e}; loosen the tolerance",
                net.sigma_mn,
                opts.tol,
                2.0 * h
            ),
        ));
    }
    Err(too_wide(
        d,
        Error::invalid("Delta_0", "the trapezoid step did not settle"),
    ))
}

/// The two-term expansion of `kappa` at the onset `sigma_mn = 1 + eps`, `eps -> 0+` (MF-6):
/// `kappa^2 sigma_m^2 = (1 - g^2) eps + (1 + g^2) eps^2 + O(eps^3)`, from the tanh series
/// `<[phi']>_D = 1 - D + 2 D^2 + O(D^3)` and `<[phi^2]>_D = D - 2 D^2 + O(D^3)`. Returns 0 for
/// `sigma_mn <= 1`. Leading order: `kappa ~ sqrt((1 - g^2) (sigma_mn - 1)) / sigma_m`.
pub fn onset_kappa(net: &RankOne) -> f64 {
    let eps = net.sigma_mn - 1.0;
    if eps <= 0.0 {
        return 0.0;
    }
    let g2 = net.g * net.g;
    ((1.0 - g2) * eps + (1.0 + g2) * eps * eps).sqrt() / net.sigma_m
}

/// A finite network of the MF-1 model: `J = g chi / sqrt(N) + m n^T / N` with `m_i = sigma_m z_i`
/// and `n_i = (sigma_mn / sigma_m^2) m_i + sigma_perp xi_i` (`z`, `xi`, `chi` i.i.d. standard
/// normal). `J` is never formed: [`FiniteNetwork::drive`] applies it in `O(N^2)` (`O(N)` at
/// `g = 0`, where no bulk is drawn).
#[derive(Debug, Clone)]
pub struct FiniteNetwork {
    /// Bulk strength `g`.
    pub g: f64,
    /// The bulk `chi` (`N x N`, unscaled); `None` for `g = 0`.
    pub chi: Option<Matrix>,
    /// `m` (length `N`).
    pub m: Vec<f64>,
    /// `n` (length `N`).
    pub n: Vec<f64>,
}

/// Settings of [`FiniteNetwork::relax`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RelaxOptions {
    /// Stop when `max_i |x_i - (J phi(x))_i| < tol` (default `1e-10`).
    pub tol: f64,
    /// Largest number of steps (default 2000).
    pub max_steps: usize,
}

impl Default for RelaxOptions {
    fn default() -> Self {
        RelaxOptions {
            tol: 1e-10,
            max_steps: 2000,
        }
    }
}

/// The stationary state a [`FiniteNetwork`] settles on.
#[derive(Debug, Clone, PartialEq)]
pub struct FiniteState {
    /// `kappa = n^T phi(x) / N` (MF-2).
    pub kappa: f64,
    /// `Delta_0 = x^T x / N`, the second moment of `x_i` across units (MF-2; the mean field's
    /// `x_i` have mean 0).
    pub delta0: f64,
    /// Steps taken.
    pub steps: usize,
    /// The state `x`.
    pub x: Vec<f64>,
}

impl FiniteNetwork {
    /// Draw a network of `n_units` units: `chi` from `random::rng(seed, stream::BULK)` (not
    /// drawn for `g = 0`), then `m` and `n` from `random::rng(seed, stream::TEACHER)`, unit by
    /// unit (`z_i`, then `xi_i`). `sigma_perp` (finite, `>= 0`) sets `Var n` and with it the
    /// finite-`N` spread, not the mean field.
    pub fn sample(n_units: usize, net: &RankOne, sigma_perp: f64, seed: u64) -> Result<Self> {
        use crate::random::{gaussian_matrix, rng, stream};
        use rand::RngExt;
        use rand_distr::StandardNormal;
        if n_units == 0 {
            return Err(Error::invalid(
                "n_units",
                "a network needs at least one unit",
            ));
        }
        if !(sigma_perp.is_finite() && sigma_perp >= 0.0) {
            return Err(Error::invalid(
                "sigma_perp",
                format!("must be finite and >= 0, got {sigma_perp}"),
            ));
        }
        let chi =
            (net.g > 0.0).then(|| gaussian_matrix(&mut rng(seed, stream::BULK), n_units, n_units));
        let mut r = rng(seed, stream::TEACHER);
        let m: Vec<f64> = (0..n_units)
            .map(|_| net.sigma_m * r.sample::<f64, _>(StandardNormal))
            .collect();
        let a = net.sigma_mn / (net.sigma_m * net.sigma_m);
        let n = m
            .iter()
            .map(|&mi| a * mi + sigma_perp * r.sample::<f64, _>(StandardNormal))
            .collect();
        Ok(FiniteNetwork {
            g: net.g,
            chi,
            m,
            n,
        })
    }

    /// Number of units `N`.
    pub fn len(&self) -> usize {
        self.m.len()
    }

    /// Always `false`: [`FiniteNetwork::sample`] draws at least one unit.
    pub fn is_empty(&self) -> bool {
        self.m.is_empty()
    }

    /// `out = J phi(x) = g chi phi(x) / sqrt(N) + m (n . phi(x)) / N`.
    pub fn drive(&self, x: &[f64], out: &mut [f64]) {
        let nn = self.len();
        let phi: Vec<f64> = x.iter().map(|v| v.tanh()).collect();
        let kappa = self.n.iter().zip(&phi).map(|(a, b)| a * b).sum::<f64>() / nn as f64;
        out.iter_mut()
            .zip(&self.m)
            .for_each(|(o, &mi)| *o = kappa * mi);
        let Some(chi) = &self.chi else {
            return;
        };
        let c = self.g / (nn as f64).sqrt();
        for (col, p) in chi.as_slice().chunks_exact(nn).zip(&phi) {
            let a = c * p;
            out.iter_mut().zip(col).for_each(|(o, &v)| *o += a * v);
        }
    }

    /// Euler steps with `dt = 1` (`x <- J phi(x)`, the fixed-point map of
    /// `dx/dt = -x + J phi(x)`) from `x = m` until `max |x - J phi(x)| < opts.tol` (MF-2, MF-5).
    /// Convergence means the spectral radius of `J diag(phi'(x*))` is below 1, so the fixed
    /// point is linearly stable. From `x = m` the network settles on `+kappa` (or on the
    /// trivial state). An error after `opts.max_steps` steps without convergence (near the
    /// onset `sigma_mn = 1` the contraction is slow).
    pub fn relax(&self, opts: &RelaxOptions) -> Result<FiniteState> {
        let nn = self.len();
        let mut x = self.m.clone();
        let mut y = vec![0.0; nn];
        let mut res = f64::INFINITY;
        for step in 1..=opts.max_steps {
            self.drive(&x, &mut y);
            res = x
                .iter()
                .zip(&y)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            std::mem::swap(&mut x, &mut y);
            if res < opts.tol {
                let kappa = self
                    .n
                    .iter()
                    .zip(&x)
                    .map(|(a, b)| a * b.tanh())
                    .sum::<f64>()
                    / nn as f64;
                let delta0 = x.iter().map(|v| v * v).sum::<f64>() / nn as f64;
                return Ok(FiniteState {
                    kappa,
                    delta0,
                    steps: step,
                    x,
                });
            }
        }
        Err(Error::invalid(
            "relax",
            format!(
                "no stationary state after {} steps (residual {res:.2e} > tol {:.1e}); raise \
                 max_steps or move sigma_mn away from the onset 1",
                opts.max_steps, opts.tol
            ),
        ))
    }
}

/// Leading-order standard deviation `c / sqrt(N)` of the `kappa` of one [`FiniteNetwork`] of
/// `n_units` units around the non-trivial mean field (theory/mean_field.md, Checks; MF-2):
/// `sd = sqrt(Var(n phi(x)) / N) / (1 - F')`. `Var(n phi(x))` is the spread of the sample mean
/// that defines `kappa` at fixed `kappa` (`x = kappa m + delta`, `delta ~ N(0, q)`,
/// `q = g^2 <[phi^2]>`); `1 - F' = 2 sigma_mn kappa^2 sigma_m^2 |P| / (1 - g^2 |P|)`, with
/// `P = d<[phi']>/dD = <[phi''']>/2` at `Delta_0`, is the linear response of the
/// self-consistency `kappa = F(kappa) = sigma_mn kappa <[phi']>_{Delta(kappa)}`. The
/// expectations are 2-D Gauss-Hermite sums of order 120. `None` for `sigma_mn <= 1` (no
/// non-trivial state; the spread diverges at the onset as `1/kappa^2`).
pub fn kappa_sd(net: &RankOne, sigma_perp: f64, n_units: usize) -> Result<Option<f64>> {
    let Some(s) = solve(net, &MeanFieldOptions::default())?.nontrivial else {
        return Ok(None);
    };
    let gh = GaussianRule::gauss_hermite(120)?;
    let q = net.g * net.g * s.mean_phi2;
    let (mut e_z2phi2, mut e_phi2) = (0.0, 0.0);
    for (&z1, &w1) in gh.nodes().iter().zip(gh.weights()) {
        for (&z2, &w2) in gh.nodes().iter().zip(gh.weights()) {
            let p2 = (s.kappa * net.sigma_m * z1 + q.sqrt() * z2).tanh().powi(2);
            e_z2phi2 += w1 * w2 * z1 * z1 * p2;
            e_phi2 += w1 * w2 * p2;
        }
    }
    let a = net.sigma_mn / net.sigma_m;
    let var = a * a * e_z2phi2 + sigma_perp * sigma_perp * e_phi2 - s.kappa.powi(2);
    // phi''' = -2 sech^2 (1 - 3 tanh^2).
    let p = 0.5
        * gh.average(s.delta0, |x| {
            let t2 = x.tanh().powi(2);
            -2.0 * (1.0 - t2) * (1.0 - 3.0 * t2)
        });
    let gain = 2.0 * net.sigma_mn * (s.kappa * net.sigma_m).powi(2) * p.abs()
        / (1.0 - net.g * net.g * p.abs());
    Ok(Some((var / n_units as f64).sqrt() / gain))
}
