//! Tests of the generic ODE integrators (`learndyn::integrate`) and the quadrature (`quad`).
//!
//! What is tested, and why:
//! - The Butcher tableaux themselves: every order condition (rooted trees) up to the declared
//!   order, the row-sum condition, that the declared order is sharp, and that the embedded
//!   weights of an adaptive pair have exactly the declared lower order (otherwise the error
//!   estimate would vanish or be of the wrong order). This catches a mistyped coefficient.
//! - The driver: observed convergence orders on a linear system with an exact `expm` oracle,
//!   the order of the dense output, exact values at `t0`/`t1` and the save-callback contract,
//!   that adaptive accuracy follows the tolerance, pinned work counters (so a change in the step
//!   control is visible in review), the typed errors, and that splitting a solve in two agrees.
//! - The Gauss-Kronrod quadrature on polynomials (exact by degree), a smooth and a
//!   near-singular integrand.
//!
//! Every tolerance is derived (machine epsilon, method order, problem size) in a comment next
//! to it; none was tuned to make a test pass.
mod common;
use common::*;
use learndyn::integrate::tableau::{self, Tableau, DOPRI5, EULER, RK4};
use learndyn::integrate::{quad, solve, Atol, IntegrateError, Options, Solution, VectorField, Workspace};
use learndyn::linalg::{expm, Matrix};

// ---------------------------------------------------------------------------------------------
// Order conditions from rooted trees
// ---------------------------------------------------------------------------------------------

/// All rooted trees up to some order. A tree is the non-decreasing list of the indices (into
/// `children`) of its root's subtrees, so each multiset of subtrees, i.e. each tree, appears once.
struct Trees {
    children: Vec<Vec<usize>>,
    /// Number of nodes `|t|`.
    order: Vec<usize>,
    /// Density `gamma(t) = |t| prod gamma(t_k)`; the order condition is `Phi(t) = 1/gamma(t)`.
    gamma: Vec<f64>,
}

impl Trees {
    fn up_to(max_order: usize) -> Trees {
        let mut trees = Trees { children: vec![vec![]], order: vec![1], gamma: vec![1.0] };
        for n in 2..=max_order {
            // Subtrees are drawn from the trees of order < n, which are exactly those built so far.
            let smaller = trees.children.len();
            let mut found = Vec::new();
            fill(&trees, smaller, 0, n - 1, &mut Vec::new(), &mut found);
            for ch in found {
                let gamma = n as f64 * ch.iter().map(|&k| trees.gamma[k]).product::<f64>();
                trees.children.push(ch);
                trees.order.push(n);
                trees.gamma.push(gamma);
            }
        }
        trees
    }

    fn of_order(&self, n: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.order.len()).filter(move |&t| self.order[t] == n)
    }
}

/// Non-decreasing index lists from `start..smaller` whose orders sum to `remaining`.
fn fill(t: &Trees, smaller: usize, start: usize, remaining: usize, cur: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
    if remaining == 0 {
        out.push(cur.clone());
        return;
    }
    for k in start..smaller {
        if t.order[k] <= remaining {
            cur.push(k);
            fill(t, smaller, k, remaining - t.order[k], cur, out);
            cur.pop();
        }
    }
}

/// Elementary weights `Phi(t) = sum_i b_i g_t(i)` of every tree, where for `t = [t_1 .. t_m]`
/// `g_t(i) = prod_k (c_i if t_k is a single node, else sum_j a_ij g_{t_k}(j))`.
/// `a` is the dense `s x s` (strictly lower) coefficient matrix.
fn elementary_weights(trees: &Trees, a: &[Vec<f64>], b: &[f64], c: &[f64]) -> Vec<f64> {
    let s = b.len();
    let mut g: Vec<Vec<f64>> = Vec::with_capacity(trees.children.len());
    for ch in &trees.children {
        let gt: Vec<f64> = (0..s)
            .map(|i| {
                ch.iter()
                    .map(|&k| {
                        if trees.children[k].is_empty() {
                            c[i]
                        } else {
                            (0..s).map(|j| a[i][j] * g[k][j]).sum::<f64>()
                        }
                    })
                    .product::<f64>()
            })
            .collect();
        g.push(gt);
    }
    g.iter().map(|gt| b.iter().zip(gt).map(|(bi, gi)| bi * gi).sum()).collect()
}

/// The tableau's `a` as a dense `s x s` matrix.
fn dense_a(tab: &Tableau) -> Vec<Vec<f64>> {
    (0..tab.stages)
        .map(|i| {
            let mut row = vec![0.0; tab.stages];
            row[..i].copy_from_slice(tab.a_row(i));
            row
        })
        .collect()
}

/// Residuals `|Phi(t) - 1/gamma(t)|` and their rounding bounds, per tree.
///
/// Rounding bound: every term of `Phi(t)` is a product of `|t|` coefficients (each a correctly
/// rounded rational, relative error <= eps/2) formed with `|t|` multiplications and summed in
/// nested sums of `s` terms at most `|t|` deep, so (standard gamma_k analysis) the computed
/// value is within `k eps sum|terms|` with `k = |t| (s + 2)`; `sum|terms|` is `Phi` evaluated
/// on `|a|, |b|, |c|`. The `1/gamma` constant adds `eps/gamma`.
fn residuals(trees: &Trees, a: &[Vec<f64>], b: &[f64], c: &[f64]) -> Vec<(f64, f64)> {
    let abs_a: Vec<Vec<f64>> = a.iter().map(|r| r.iter().map(|x| x.abs()).collect()).collect();
    let abs_b: Vec<f64> = b.iter().map(|x| x.abs()).collect();
    let abs_c: Vec<f64> = c.iter().map(|x| x.abs()).collect();
    let phi = elementary_weights(trees, a, b, c);
    let phi_abs = elementary_weights(trees, &abs_a, &abs_b, &abs_c);
    let s = b.len() as f64;
    (0..phi.len())
        .map(|t| {
            let k = trees.order[t] as f64 * (s + 2.0);
            let bound = k * EPS * phi_abs[t] + EPS / trees.gamma[t];
            ((phi[t] - 1.0 / trees.gamma[t]).abs(), bound)
        })
        .collect()
}

#[test]
fn order_conditions_of_every_tableau() {
    // Self-check of the tree enumeration: 1, 1, 2, 4, 9, 20 rooted trees of orders 1..6
    // (OEIS A000081), with the textbook densities of the order-3 and order-4 trees.
    let trees = Trees::up_to(6);
    let counts: Vec<usize> = (1..=6).map(|n| trees.of_order(n).count()).collect();
    assert_eq!(counts, [1, 1, 2, 4, 9, 20]);
    let mut g4: Vec<f64> = trees.of_order(4).map(|t| trees.gamma[t]).collect();
    g4.sort_by(f64::total_cmp);
    assert_eq!(g4, [4.0, 8.0, 12.0, 24.0]);

    for tab in tableau::ALL {
        let s = tab.stages;
        assert_eq!(tab.c.len(), s, "{}: c length", tab.name);
        assert_eq!(tab.b.len(), s, "{}: b length", tab.name);
        assert_eq!(tab.a.len(), s * (s - 1) / 2, "{}: a length", tab.name);
        let a = dense_a(tab);

        // Row-sum condition c_i = sum_j a_ij (the trees above use c for leaves, which is
        // only equivalent to the textbook conditions under this). Rounding: a sum of i
        // rounded terms, within (i + 1) eps sum_j |a_ij| (plus eps |c_i| for c's own rounding).
        for i in 0..s {
            let sum: f64 = a[i].iter().sum();
            let abs: f64 = a[i].iter().map(|x| x.abs()).sum::<f64>() + tab.c[i].abs();
            let bound = (i as f64 + 2.0) * EPS * abs;
            assert!(
                (tab.c[i] - sum).abs() <= bound,
                "{}: c[{i}] = {} but row sum {sum} (bound {bound:e})",
                tab.name,
                tab.c[i]
            );
        }

        // Every condition up to the declared order holds to rounding.
        let p = tab.order as usize;
        let res = residuals(&trees, &a, tab.b, tab.c);
        for t in 0..res.len() {
            let (r, bound) = res[t];
            if trees.order[t] <= p {
                assert!(
                    r <= bound,
                    "{}: order condition of tree {:?} (order {}, gamma {}) fails: residual {r:e} > {bound:e}",
                    tab.name,
                    trees.children[t],
                    trees.order[t],
                    trees.gamma[t]
                );
            }
        }
        // ... and the declared order is sharp: some condition of order p + 1 fails by far more
        // than rounding (1e3 times the bound: the error constants are O(1e-3), not O(eps)).
        assert!(
            trees.of_order(p + 1).any(|t| res[t].0 > 1e3 * res[t].1),
            "{}: satisfies every order-{} condition, so its declared order {p} is not sharp",
            tab.name,
            p + 1
        );
        let worst = res.iter().zip(&trees.order).filter(|(_, &o)| o <= p).map(|(r, _)| r.0).fold(0.0, f64::max);
        println!("{}: order {p}, largest residual up to order {p}: {worst:e}", tab.name);

        // FSAL: the last stage is evaluated at y_new, i.e. its row of `a` is `b` and it has
        // no weight itself; the stepper copies the last stage state as y_new relying on it.
        if tab.fsal {
            assert_eq!(&a[s - 1][..s - 1], &tab.b[..s - 1], "{}: FSAL row != b", tab.name);
            assert_eq!(tab.b[s - 1].to_bits(), 0.0f64.to_bits(), "{}: FSAL last weight", tab.name);
            assert_eq!(tab.c[s - 1].to_bits(), 1.0f64.to_bits(), "{}: FSAL last node", tab.name);
        }

        // Embedded pairs: b_hat = b - e has exactly the embedded order.
        match (tab.e, tab.embedded_order) {
            (None, None) => {}
            (Some(e), Some(q)) => {
                let q = q as usize;
                assert_eq!(e.len(), s, "{}: e length", tab.name);
                assert!(q < p, "{}: embedded order {q} must be below order {p}", tab.name);
                let b_hat: Vec<f64> = tab.b.iter().zip(e).map(|(b, e)| b - e).collect();
                let res_hat = residuals(&trees, &a, &b_hat, tab.c);
                for t in trees.of_order(1).chain((2..=q).flat_map(|n| trees.of_order(n))) {
                    let (r, bound) = res_hat[t];
                    // b - e adds one more rounding per weight: allow twice the bound.
                    assert!(
                        r <= 2.0 * bound,
                        "{}: embedded weights fail the order condition of tree {:?} (order {}): {r:e}",
                        tab.name,
                        trees.children[t],
                        trees.order[t]
                    );
                }
                // Not all of order q + 1: otherwise the estimate err = h sum e_i k_i would be
                // O(h^{q+2}) and the controller (exponent 1/(q+1)) would be mistuned; in the
                // extreme of full order p it vanishes to leading order.
                assert!(
                    trees.of_order(q + 1).any(|t| res_hat[t].0 > 1e3 * res_hat[t].1),
                    "{}: embedded weights satisfy every order-{} condition",
                    tab.name,
                    q + 1
                );
                // Equivalently sum e_i = 0 (both weight vectors are consistent).
                let sum_e: f64 = e.iter().sum();
                let abs_e: f64 = e.iter().map(|x| x.abs()).sum();
                assert!(sum_e.abs() <= (s as f64 + 1.0) * EPS * abs_e, "{}: sum e = {sum_e:e}", tab.name);
            }
            _ => panic!("{}: error weights and embedded order must come together", tab.name),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A linear test problem with an exact oracle
// ---------------------------------------------------------------------------------------------

/// `y' = A y`.
struct Linear {
    a: Matrix,
}

impl VectorField for Linear {
    fn dim(&self) -> usize {
        self.a.nrows()
    }
    fn eval(&mut self, _t: f64, y: &[f64], dydt: &mut [f64]) {
        let n = self.a.nrows();
        for (i, d) in dydt.iter_mut().enumerate() {
            *d = (0..n).map(|j| self.a.get(i, j) * y[j]).sum();
        }
    }
}

/// A fixed 4x4 matrix: a skew-symmetric part with entries from a deterministic formula minus a
/// positive diagonal. Since `A + A^T = -2 D` is negative definite, every eigenvalue has negative
/// real part (`Re(v* A v) = -v* D v < 0`); the entries are O(0.5), so `||A||_2 ~ 1`.
fn test_matrix() -> Matrix {
    let m = Matrix::from_fn(4, 4, |i, j| 0.8 * (1.0 + 2.0 * i as f64 + 3.0 * (j * j) as f64).sin());
    let d = [0.3, 0.5, 0.7, 0.9];
    Matrix::from_fn(4, 4, |i, j| 0.5 * (m.get(i, j) - m.get(j, i)) - if i == j { d[i] } else { 0.0 })
}

const Y0: [f64; 4] = [1.0, -0.5, 0.25, 2.0];

fn linear() -> Linear {
    Linear { a: test_matrix() }
}

/// `expm(A t) y0`.
fn exact_linear(t: f64) -> Vec<f64> {
    let e = expm(&test_matrix().scale(t)).unwrap();
    (0..4).map(|i| (0..4).map(|j| e.get(i, j) * Y0[j]).sum()).collect()
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

/// Options that make `tab` take exactly `n` equal steps over a span `span`.
///
/// Fixed-step methods use `ceil(span / fixed_step)` steps; asking for `span / (n - 1/2)` gives
/// `ceil(n - 1/2) = n` whatever the rounding of the division. The adaptive pair has no fixed
/// mode: start at `h` and cap steps at `h`, with tolerances so loose (1 absolute and relative on
/// an O(1) state whose local errors are << 1) that no step is rejected or shortened.
fn uniform_opts(tab: &Tableau, span: f64, n: usize) -> Options {
    let h = span / n as f64;
    if tab.e.is_some() {
        Options { rtol: 1.0, atol: Atol::Scalar(1.0), h0: Some(h), h_max: h, ..Options::default() }
    } else {
        Options { fixed_step: Some(span / (n as f64 - 0.5)), ..Options::default() }
    }
}

/// Run `tab` with `n` equal steps on the linear problem over `[0, t1]`, saving at `save`.
/// Checks that exactly `n` steps were taken and counts the work.
fn uniform_run(tab: &Tableau, t1: f64, n: usize, save: &[f64]) -> (Solution, Vec<Vec<f64>>) {
    let mut field = linear();
    let mut ws = Workspace::new(tab, 4);
    let mut saved = Vec::new();
    let opts = uniform_opts(tab, t1, n);
    let sol = solve(tab, &mut field, 0.0, &Y0, t1, save, &opts, &mut ws, &mut |_, y| saved.push(y.to_vec()))
        .unwrap_or_else(|e| panic!("{} with {n} steps: {e}", tab.name));
    assert_eq!(sol.stats.accepted, n as u64, "{}: accepted steps", tab.name);
    assert_eq!(sol.stats.rejected, 0, "{}: rejected steps", tab.name);
    // Work: one evaluation of k1 at t0, then per step s - 1 new stages, plus the end derivative
    // (the next k1) for non-FSAL methods; FSAL reuses the last stage. No hinit since h0 is set.
    let s = tab.stages as u64;
    let per_step = if tab.fsal { s - 1 } else { s };
    assert_eq!(sol.stats.rhs_evals, 1 + per_step * n as u64, "{}: rhs evaluations", tab.name);
    (sol, saved)
}

/// Step counts for the convergence runs of a method of order `p` on `[0, 1]`: h from 1/8 down
/// to 1/128 for orders <= 4 (RK4's error ~ h^4/5! ||A||^5 stays >= ~1e-11 >> rounding); order 5
/// stops at h = 1/64 (error ~ h^5/6! ~ 1e-12 there) so the smallest errors stay >= ~100 times
/// the rounding floor ~ n eps ||y|| ~ 1e-14 of n steps.
fn step_counts(p: u32) -> Vec<usize> {
    if p >= 5 {
        vec![4, 8, 16, 32, 64]
    } else {
        vec![8, 16, 32, 64, 128]
    }
}

#[test]
fn convergence_order_every_solver() {
    let exact = exact_linear(1.0);
    for tab in tableau::ALL {
        let ns = step_counts(tab.order);
        let mut hs = Vec::new();
        let mut errs = Vec::new();
        for &n in &ns {
            let (sol, _) = uniform_run(tab, 1.0, n, &[]);
            assert_eq!(sol.t_end.to_bits(), 1.0f64.to_bits());
            hs.push(1.0 / n as f64);
            errs.push(max_abs_diff(&sol.y_end, &exact));
        }
        let k = slope(&hs, &errs);
        println!("{}: errors {errs:.3e?}, observed order {k:.3}", tab.name);
        // Smallest error well above rounding, so the slope measures truncation error only.
        assert!(errs.iter().all(|&e| e > 1e3 * 4.0 * EPS), "{}: errors reach rounding: {errs:?}", tab.name);
        assert!(
            (k - tab.order as f64).abs() <= ORDER_SLACK,
            "{}: observed order {k} vs declared {} (errors {errs:?})",
            tab.name,
            tab.order
        );
    }
}

/// Order of the interpolant: Shampine's DOPRI5 extension is 4th order, cubic Hermite 3rd order
/// (a continuous extension of order q has local error O(h^{q+1})).
fn dense_order(tab: &Tableau) -> u32 {
    match tab.dense {
        tableau::DenseOutput::Dopri5 => 4,
        tableau::DenseOutput::Hermite => 3,
    }
}

#[test]
fn dense_output_order() {
    // Global: integrate over [0, 0.74] with n = 2m + 1 equal steps, so t = 0.37 is the
    // midpoint (theta = 1/2) of step m for every n. Keeping theta fixed matters: the
    // interpolation error is h^{q+1} times a polynomial in theta, and a theta that drifts with
    // h (as for h = 2^-k) would bend the log-log line.
    //
    // Expected observed order: the interpolant uses the computed step-end values and slopes,
    // which carry the global error O(h^p); on top it adds its own local error O(h^{q+1}), which
    // does not accumulate. So the error at 0.37 is O(h^min(p, q+1)):
    //   euler 1, heun 2, rk4 min(4, 4) = 4, dopri5 min(5, 5) = 5.
    // In particular the "4th-order" DOPRI5 interpolant shows slope 5 here, not 4; its order 4
    // is visible only locally (below).
    let t_save = 0.37;
    let exact = exact_linear(t_save);
    for tab in tableau::ALL {
        let want = tab.order.min(dense_order(tab) + 1) as f64;
        let ms: Vec<usize> = if want >= 5.0 { vec![2, 4, 8, 16] } else { vec![4, 8, 16, 32, 64] };
        let mut hs = Vec::new();
        let mut errs = Vec::new();
        for m in ms {
            let n = 2 * m + 1;
            let (_, saved) = uniform_run(tab, 2.0 * t_save, n, &[t_save]);
            hs.push(2.0 * t_save / n as f64);
            errs.push(max_abs_diff(&saved[0], &exact));
        }
        let k = slope(&hs, &errs);
        println!("{} dense (global, t = 0.37): errors {errs:.3e?}, observed order {k:.3}", tab.name);
        assert!(errs.iter().all(|&e| e > 1e3 * 4.0 * EPS), "{}: errors reach rounding: {errs:?}", tab.name);
        assert!((k - want).abs() <= ORDER_SLACK, "{}: dense output order {k}, expected {want}", tab.name);
    }

    // Local: one step of size h from the exact y0, output at theta = 1/2. The step itself is
    // off by O(h^{p+1}) and the interpolant adds O(h^{q+1}), so the error is O(h^min(p+1, q+1)):
    // euler 2, heun 3, rk4 4, dopri5 5 = q + 1 (< p + 1 = 6: the interpolant's own 4th order).
    for tab in tableau::ALL {
        let want = (tab.order + 1).min(dense_order(tab) + 1) as f64;
        let hs = [0.4, 0.2, 0.1, 0.05];
        let errs: Vec<f64> = hs
            .iter()
            .map(|&h| {
                let (_, saved) = uniform_run(tab, h, 1, &[0.5 * h]);
                max_abs_diff(&saved[0], &exact_linear(0.5 * h))
            })
            .collect();
        let k = slope(&hs, &errs);
        println!("{} dense (one step, theta = 1/2): errors {errs:.3e?}, observed order {k:.3}", tab.name);
        assert!(errs.iter().all(|&e| e > 1e3 * 4.0 * EPS), "{}: errors reach rounding: {errs:?}", tab.name);
        assert!((k - want).abs() <= ORDER_SLACK, "{}: local dense order {k}, expected {want}", tab.name);
    }
}
