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
use learndyn::integrate::{quad, Atol, IntegrateError, Options, Solution, VectorField, Workspace};
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
        let mut trees = Trees {
            children: vec![vec![]],
            order: vec![1],
            gamma: vec![1.0],
        };
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
fn fill(
    t: &Trees,
    smaller: usize,
    start: usize,
    remaining: usize,
    cur: &mut Vec<usize>,
    out: &mut Vec<Vec<usize>>,
) {
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
    g.iter()
        .map(|gt| b.iter().zip(gt).map(|(bi, gi)| bi * gi).sum())
        .collect()
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
    let abs_a: Vec<Vec<f64>> = a
        .iter()
        .map(|r| r.iter().map(|x| x.abs()).collect())
        .collect();
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

/// Checks IN-1 for every tableau (order conditions up to the declared order, sharpness,
/// embedded orders), including the Tsit5 (IN-4) and DOP853 (IN-5) coefficients.
#[test]
fn order_conditions_of_every_tableau() {
    // Self-check of the tree enumeration: 1, 1, 2, 4, 9, 20, 48, 115, 286 rooted trees of
    // orders 1..9 (OEIS A000081), with the textbook densities of the order-3 and order-4 trees.
    // Order 9 is needed to check that DOP853's declared order 8 is sharp.
    let trees = Trees::up_to(9);
    let counts: Vec<usize> = (1..=9).map(|n| trees.of_order(n).count()).collect();
    assert_eq!(counts, [1, 1, 2, 4, 9, 20, 48, 115, 286]);
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
        for (i, (row, &ci)) in a.iter().zip(tab.c).enumerate() {
            let sum: f64 = row.iter().sum();
            let abs: f64 = row.iter().map(|x| x.abs()).sum::<f64>() + ci.abs();
            let bound = (i as f64 + 2.0) * EPS * abs;
            assert!(
                (ci - sum).abs() <= bound,
                "{}: c[{i}] = {ci} but row sum {sum} (bound {bound:e})",
                tab.name
            );
        }

        // Every condition up to the declared order holds to rounding.
        let p = tab.order as usize;
        let res = residuals(&trees, &a, tab.b, tab.c);
        for (t, &(r, bound)) in res.iter().enumerate() {
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
        let upto_p = || res.iter().zip(&trees.order).filter(|(_, &o)| o <= p);
        let worst = upto_p().map(|(r, _)| r.0).fold(0.0, f64::max);
        let loosest = upto_p().map(|(r, _)| r.1).fold(0.0, f64::max);
        println!(
            "{}: order {p}, largest residual up to order {p}: {worst:e} (largest bound {loosest:e})",
            tab.name
        );

        // FSAL: the last stage is evaluated at y_new, i.e. its row of `a` is `b` and it has
        // no weight itself; the stepper copies the last stage state as y_new relying on it.
        if tab.fsal {
            assert_eq!(
                &a[s - 1][..s - 1],
                &tab.b[..s - 1],
                "{}: FSAL row != b",
                tab.name
            );
            assert_eq!(
                tab.b[s - 1].to_bits(),
                0.0f64.to_bits(),
                "{}: FSAL last weight",
                tab.name
            );
            assert_eq!(
                tab.c[s - 1].to_bits(),
                1.0f64.to_bits(),
                "{}: FSAL last node",
                tab.name
            );
        }

        // Embedded pairs: b_hat = b - e has exactly the embedded order.
        match (tab.e, tab.embedded_order) {
            (None, None) => {}
            (Some(e), Some(q)) => {
                let q = q as usize;
                assert_eq!(e.len(), s, "{}: e length", tab.name);
                assert!(
                    q < p,
                    "{}: embedded order {q} must be below order {p}",
                    tab.name
                );
                let b_hat: Vec<f64> = tab.b.iter().zip(e).map(|(b, e)| b - e).collect();
                let res_hat = residuals(&trees, &a, &b_hat, tab.c);
                for t in trees
                    .of_order(1)
                    .chain((2..=q).flat_map(|n| trees.of_order(n)))
                {
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
                    trees
                        .of_order(q + 1)
                        .any(|t| res_hat[t].0 > 1e3 * res_hat[t].1),
                    "{}: embedded weights satisfy every order-{} condition",
                    tab.name,
                    q + 1
                );
                // Equivalently sum e_i = 0 (both weight vectors are consistent).
                let sum_e: f64 = e.iter().sum();
                let abs_e: f64 = e.iter().map(|x| x.abs()).sum();
                assert!(
                    sum_e.abs() <= (s as f64 + 1.0) * EPS * abs_e,
                    "{}: sum e = {sum_e:e}",
                    tab.name
                );
            }
            _ => panic!(
                "{}: error weights and embedded order must come together",
                tab.name
            ),
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
/// real part (`Re(v* A v) = -v* D v < 0`); the entries are O(0.5), `||A||_F = 1.64`, so
/// `||A||_2 <= 1.64`: an O(1) problem on `t in [0, 1]`.
fn test_matrix() -> Matrix {
    let m = Matrix::from_fn(4, 4, |i, j| {
        0.8 * (1.0 + 2.0 * i as f64 + 3.0 * (j * j) as f64).sin()
    });
    let d = [0.3, 0.5, 0.7, 0.9];
    Matrix::from_fn(4, 4, |i, j| {
        0.5 * (m.get(i, j) - m.get(j, i)) - if i == j { d[i] } else { 0.0 }
    })
}

const Y0: [f64; 4] = [1.0, -0.5, 0.25, 2.0];

fn linear() -> Linear {
    Linear { a: test_matrix() }
}

/// `expm(A t) y0`.
fn exact_linear(t: f64) -> Vec<f64> {
    let e = expm(&test_matrix().scale(t)).unwrap();
    (0..4)
        .map(|i| (0..4).map(|j| e.get(i, j) * Y0[j]).sum())
        .collect()
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
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
        Options {
            rtol: 1.0,
            atol: Atol::Scalar(1.0),
            h0: Some(h),
            h_max: h,
            ..Options::default()
        }
    } else {
        Options {
            fixed_step: Some(span / (n as f64 - 0.5)),
            ..Options::default()
        }
    }
}

/// Run `tab` with `n` equal steps on the linear problem over `[0, t1]`, saving at `save`.
/// Checks that exactly `n` steps were taken and counts the work.
fn uniform_run(
    tab: &'static Tableau,
    t1: f64,
    n: usize,
    save: &[f64],
) -> (Solution, Vec<Vec<f64>>) {
    let mut field = linear();
    let mut ws = Workspace::new(4);
    let mut saved = Vec::new();
    let opts = uniform_opts(tab, t1, n);
    let sol = solve_at(
        tab,
        &mut field,
        0.0,
        &Y0,
        t1,
        save,
        &opts,
        &mut ws,
        &mut |_, y| saved.push(y.to_vec()),
    )
    .unwrap_or_else(|e| panic!("{} with {n} steps: {e}", tab.name));
    assert_eq!(sol.stats.accepted, n as u64, "{}: accepted steps", tab.name);
    assert_eq!(sol.stats.rejected, 0, "{}: rejected steps", tab.name);
    // Work: one evaluation of k1 at t0, then per step s - 1 new stages, plus the end derivative
    // (the next k1) for non-FSAL methods; FSAL reuses the last stage. No hinit since h0 is set.
    let s = tab.stages as u64;
    let per_step = if tab.fsal { s - 1 } else { s };
    // DOP853's 7th-order dense output needs 3 extra stages in each step that contains a save
    // time strictly inside it (computed once per step).
    let interior = save
        .iter()
        .filter(|&&t| {
            let x = t * n as f64 / t1;
            (x - x.round()).abs() > 1e-9
        })
        .count() as u64;
    let dense_extra = if tab.dense == tableau::DenseOutput::Dop853 {
        3 * interior
    } else {
        0
    };
    assert_eq!(
        sol.stats.rhs_evals,
        1 + per_step * n as u64 + dense_extra,
        "{}: rhs evaluations",
        tab.name
    );
    (sol, saved)
}

/// Step counts for the convergence runs of a method of order `p` on `[0, 1]`: h from 1/8
/// (h ||A|| <= 0.2, asymptotic regime) down to 1/128 for orders <= 4; order 5 stops at 1/32,
/// where its error is already ~3e-12 and would approach rounding below (see [`rounding_floor`]).
///
/// Two methods need their own range:
/// - TSIT5 (order 5) is tuned for a small leading error coefficient, so the next term matters
///   longer: its successive ratios e(h)/e(h/2) are 45, 39, 36 for h = 1/4 .. 1/32 (local
///   slopes 5.5, 5.3, 5.16), and h = 1/8 .. 1/32 gives 5.22. It uses h = 1/16, 1/24, 1/32
///   (slope 5.16); at 1/32 its error 4.6e-13 is 3x rounding_floor(32), below that it is rounding.
/// - DOP853 (order 8) reaches rounding already at h = 1/6 (error 7e-15 < rounding_floor(6)),
///   so it uses h = 1/2, 1/3, 1/4 (errors 5e-11 .. 1.9e-13, 10x rounding_floor(4); slope 8.11).
fn step_counts(tab: &Tableau) -> Vec<usize> {
    match (tab.name, tab.order) {
        ("tsit5", _) => vec![16, 24, 32],
        (_, p) if p >= 8 => vec![2, 3, 4],
        (_, p) if p >= 5 => vec![8, 16, 32],
        _ => vec![8, 16, 32, 64, 128],
    }
}

/// Bound below which a convergence error could be rounding rather than truncation.
///
/// Each step rounds `y + h sum b_i k_i` at ~eps |y|, so after `n` steps the rounding is at most
/// ~`n eps |y|` (here `|y| <= 2`, the size of `Y0`; the flow decays). Errors must be 10 times
/// above that worst case, so rounding moves a point by < 10% even then; in practice it
/// accumulates like a random walk (~sqrt(n) eps |y|) and moves it by < 1%.
fn rounding_floor(n: usize) -> f64 {
    10.0 * n as f64 * EPS * 2.0
}

/// Checks IN-1: every solver converges at its declared order (linear system, `expm` oracle).
#[test]
fn convergence_order_every_solver() {
    // The test matrix is as documented: O(1) norm, negative definite symmetric part.
    let a = test_matrix();
    let fro = a.norm_fro();
    println!("||A||_F = {fro}");
    assert!((0.5..=2.0).contains(&fro), "||A||_F = {fro}");
    for i in 0..4 {
        for j in 0..4 {
            let sym = a.get(i, j) + a.get(j, i);
            assert!(
                if i == j { sym < 0.0 } else { sym.abs() <= EPS },
                "A + A^T at ({i}, {j})"
            );
        }
    }
    let exact = exact_linear(1.0);
    for tab in tableau::ALL {
        let ns = step_counts(tab);
        let mut hs = Vec::new();
        let mut errs = Vec::new();
        for &n in &ns {
            let (sol, _) = uniform_run(tab, 1.0, n, &[]);
            assert_eq!(sol.t_end.to_bits(), 1.0f64.to_bits());
            hs.push(1.0 / n as f64);
            errs.push(max_abs_diff(&sol.y_end, &exact));
        }
        let k = slope(&hs, &errs);
        println!("{}: errors {}, observed order {k:.3}", tab.name, sci(&errs));
        // Smallest error well above rounding, so the slope measures truncation error only.
        assert!(
            errs.iter().zip(&ns).all(|(&e, &n)| e > rounding_floor(n)),
            "{}: errors reach rounding: {errs:?}",
            tab.name
        );
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
        tableau::DenseOutput::Tsit5 => 4,
        tableau::DenseOutput::Dop853 => 7,
        tableau::DenseOutput::Hermite => 3,
    }
}

/// Checks the dense outputs IN-3 (DOPRI5), IN-4 (Tsit5), IN-6 (DOP853) and cubic Hermite:
/// observed global and local orders.
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
        // h = 0.74/n from 0.15 (h ||A|| <= 0.25) down to 0.011 (n = 5..65); order 5 stops at
        // 0.022 (n = 33), where its error ~1e-12 is still above rounding_floor(n).
        let ms: Vec<usize> = if want >= 7.0 {
            // DOP853 (order 8 = 7 + 1) on this span: n = 3, 5 give 4e-12, 7e-14; n = 7 is
            // already at rounding (4e-15), so only two points carry the slope.
            vec![1, 2]
        } else if tab.name == "tsit5" {
            // Tsit5 approaches its asymptotic order slowly from above (local slopes 5.5, 5.3,
            // 5.16 from h = 1/4 down): use the smaller steps.
            vec![8, 12, 16]
        } else if want >= 5.0 {
            vec![2, 4, 8, 16]
        } else {
            vec![2, 4, 8, 16, 32]
        };
        let ns: Vec<usize> = ms.iter().map(|m| 2 * m + 1).collect();
        let mut hs = Vec::new();
        let mut errs = Vec::new();
        for &n in &ns {
            let (_, saved) = uniform_run(tab, 2.0 * t_save, n, &[t_save]);
            hs.push(2.0 * t_save / n as f64);
            errs.push(max_abs_diff(&saved[0], &exact));
        }
        let k = slope(&hs, &errs);
        println!(
            "{} dense (global, t = 0.37): errors {}, observed order {k:.3}",
            tab.name,
            sci(&errs)
        );
        assert!(
            errs.iter().zip(&ns).all(|(&e, &n)| e > rounding_floor(n)),
            "{}: errors reach rounding: {errs:?}",
            tab.name
        );
        assert!(
            (k - want).abs() <= ORDER_SLACK,
            "{}: dense output order {k}, expected {want}",
            tab.name
        );
    }

    // Local: one step of size h from the exact y0, output at theta = 1/2. The step itself is
    // off by O(h^{p+1}) and the interpolant adds O(h^{q+1}), so the error is O(h^min(p+1, q+1)):
    // euler 2, heun 3, rk4 4, dopri5 5 = q + 1 (< p + 1 = 6: the interpolant's own 4th order).
    for tab in tableau::ALL {
        let want = (tab.order + 1).min(dense_order(tab) + 1) as f64;
        // h ||A|| from 0.16 down; the RK4 step error h^5 and Hermite's h^4 are of similar size
        // for larger h (slope ~3.6 at h = 0.4 .. 0.05), so the asymptotic h^4 needs h <= 0.1.
        // The smallest dense DOPRI5 error (~1e-13) is still above rounding_floor(1).
        // DOP853's dense error (order 8) is ~4e-15 already at h = 0.1: use larger steps.
        let hs: &[f64] = if tab.dense == tableau::DenseOutput::Dop853 {
            &[0.4, 0.3, 0.2, 0.15]
        } else {
            &[0.1, 0.05, 0.025, 0.0125]
        };
        let errs: Vec<f64> = hs
            .iter()
            .map(|&h| {
                let (_, saved) = uniform_run(tab, h, 1, &[0.5 * h]);
                max_abs_diff(&saved[0], &exact_linear(0.5 * h))
            })
            .collect();
        let k = slope(hs, &errs);
        println!(
            "{} dense (one step, theta = 1/2): errors {}, observed order {k:.3}",
            tab.name,
            sci(&errs)
        );
        assert!(
            errs.iter().all(|&e| e > rounding_floor(1)),
            "{}: errors reach rounding: {errs:?}",
            tab.name
        );
        assert!(
            (k - want).abs() <= ORDER_SLACK,
            "{}: local dense order {k}, expected {want}",
            tab.name
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Save-time contract
// ---------------------------------------------------------------------------------------------

#[test]
fn save_times_exact_at_t0_and_t1() {
    let (t0, mid, t1) = (0.2, 0.9, 1.7);
    let times = [t0, t0, mid, mid, t1, t1];
    let opts_for = |tab: &Tableau| {
        if tab.e.is_some() {
            Options::default()
        } else {
            Options {
                fixed_step: Some(0.01),
                ..Options::default()
            }
        }
    };
    for tab in [&DOPRI5, &RK4] {
        let mut ws = Workspace::new(4);
        let mut saved: Vec<(f64, Vec<f64>)> = Vec::new();
        let sol = solve_at(
            tab,
            &mut linear(),
            t0,
            &Y0,
            t1,
            &times,
            &opts_for(tab),
            &mut ws,
            &mut |t, y| saved.push((t, y.to_vec())),
        )
        .unwrap();
        // Called once per requested time, in order, with the requested time itself.
        let got: Vec<u64> = saved.iter().map(|(t, _)| t.to_bits()).collect();
        let want: Vec<u64> = times.iter().map(|t| t.to_bits()).collect();
        assert_eq!(got, want, "{}: save callback times", tab.name);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        // Exactly y0 at t0 (bitwise: no interpolation), exactly the final state at t1.
        assert_eq!(bits(&saved[0].1), bits(&Y0), "{}: y(t0)", tab.name);
        assert_eq!(bits(&saved[1].1), bits(&Y0), "{}: repeated y(t0)", tab.name);
        assert_eq!(sol.t_end.to_bits(), t1.to_bits(), "{}: t_end", tab.name);
        assert_eq!(bits(&saved[4].1), bits(&sol.y_end), "{}: y(t1)", tab.name);
        assert_eq!(
            bits(&saved[5].1),
            bits(&sol.y_end),
            "{}: repeated y(t1)",
            tab.name
        );
        // A repeated interior time gets the same interpolated value.
        assert_eq!(
            bits(&saved[2].1),
            bits(&saved[3].1),
            "{}: repeated y(mid)",
            tab.name
        );
        // And the interior value is right: the problem is autonomous, so
        // y(mid) = expm(A (mid - t0)) y0. Bound: DOPRI5 at rtol 1e-8 has a global error of a
        // small multiple of rtol |y| with |y| <= 2 (see adaptive_accuracy_tracks_tolerance);
        // RK4 at h = 0.01 ~4e-11 (the convergence run's 1.4e-11 at h = 1/128 times 1.28^4).
        // Both are well inside 100 rtol |y| = 2e-6.
        let err = max_abs_diff(&saved[2].1, &exact_linear(mid - t0));
        assert!(
            err <= 100.0 * 1e-8 * 2.0,
            "{}: y(mid) error {err:e}",
            tab.name
        );
    }

    // Zero-length span: every save time is t0 = t1 and gets y0; nothing is stepped.
    let mut ws = Workspace::new(4);
    let mut saved = Vec::new();
    let sol = solve_at(
        &DOPRI5,
        &mut linear(),
        0.5,
        &Y0,
        0.5,
        &[0.5, 0.5],
        &Options::default(),
        &mut ws,
        &mut |t, y| saved.push((t, y.to_vec())),
    )
    .unwrap();
    assert_eq!(saved.len(), 2);
    assert!(saved
        .iter()
        .all(|(t, y)| t.to_bits() == 0.5f64.to_bits() && y == &Y0));
    assert_eq!(sol.stats.accepted + sol.stats.rejected, 0);
    assert_eq!(sol.y_end, Y0);
}

// ---------------------------------------------------------------------------------------------
// Adaptive accuracy and pinned work
// ---------------------------------------------------------------------------------------------

/// `y' = y (1 - y)`.
struct Logistic;

impl VectorField for Logistic {
    fn dim(&self) -> usize {
        1
    }
    fn eval(&mut self, _t: f64, y: &[f64], dydt: &mut [f64]) {
        dydt[0] = y[0] * (1.0 - y[0]);
    }
}

const LOGISTIC_Y0: f64 = 0.01;

fn logistic_exact(t: f64) -> f64 {
    1.0 / (1.0 + (1.0 / LOGISTIC_Y0 - 1.0) * (-t).exp())
}

/// Solve the logistic on [0, 10] with DOPRI5, saving at every 0.25; returns the largest error
/// over the saved points and the solution.
fn logistic_run(opts: &Options, save: &[f64]) -> (f64, Solution) {
    let mut ws = Workspace::new(1);
    let mut err = 0.0_f64;
    let sol = solve_at(
        &DOPRI5,
        &mut Logistic,
        0.0,
        &[LOGISTIC_Y0],
        10.0,
        save,
        opts,
        &mut ws,
        &mut |t, y| err = err.max((y[0] - logistic_exact(t)).abs()),
    )
    .unwrap();
    (err.max((sol.y_end[0] - logistic_exact(10.0)).abs()), sol)
}

fn quarter_grid() -> Vec<f64> {
    (0..=40).map(|k| 0.25 * k as f64).collect()
}

/// Checks IN-2's step control: the global error follows the tolerance.
#[test]
fn adaptive_accuracy_tracks_tolerance() {
    let rtols = [1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10];
    let mut errs = Vec::new();
    for &rtol in &rtols {
        let opts = Options {
            rtol,
            atol: Atol::Scalar(rtol * 1e-2),
            ..Options::default()
        };
        let (err, sol) = logistic_run(&opts, &quarter_grid());
        println!(
            "logistic rtol {rtol:e}: max error {err:.3e}, stats {:?}",
            sol.stats
        );
        // Global error vs tolerance: each step's local error is held below ~rtol |y| + atol.
        // While y ~ 0.01 perturbations grow by at most y(1-y) at the inflection over y0(1-y0)
        // at the start, ~25, but local errors there are ~0.02 rtol; after the inflection
        // (1 - 2y < 0) they are damped. Summed over the O(10-100) steps this stays within a few
        // rtol, so 100 rtol (|y| <= 1) is a safe bound that still fails for a broken controller.
        assert!(
            err < 100.0 * rtol,
            "rtol {rtol:e}: error {err:e} >= 100 rtol"
        );
        errs.push(err);
    }
    // Six decades of tolerance must buy at least four decades of accuracy. Theory: steps are
    // chosen so the order-4 estimate C h^5 ~ tol, and the propagated order-5 solution commits
    // ~h^6 ~ tol^{6/5} per step, i.e. ~tol per unit time: the global error is ~proportional to
    // tol. Two decades of slack cover the pre-asymptotic loose end (rtol = 1e-4: 14 steps); a
    // controller whose error went like tol^{2/3} or worse would fail.
    let (first, last) = (errs[0], errs[errs.len() - 1]);
    assert!(
        first >= 1e4 * last,
        "error at rtol 1e-4 ({first:e}) vs 1e-10 ({last:e})"
    );
    // Rounding floor: the 1e-10 error must still be far above eps (else the check above is void).
    assert!(
        last > 1e3 * EPS,
        "error at rtol 1e-10 is {last:e}, at rounding level"
    );
}

/// Checks IN-2's step control (pinned work counters) and that saving through the dense
/// output (IN-3) never shortens steps.
#[test]
fn stats_snapshot_reference_solve() {
    // Reference solve: the logistic on [0, 10] at rtol 1e-8, atol 1e-10, hinit first step.
    let opts = Options {
        rtol: 1e-8,
        atol: Atol::Scalar(1e-10),
        ..Options::default()
    };
    let (err, sol) = logistic_run(&opts, &[]);
    let s = sol.stats;
    println!("reference solve stats: {s:?}, error {err:e}");
    // Pinned counts: a change in step control or counting shows up here in review.
    assert_eq!(
        (s.accepted, s.rejected, s.rhs_evals),
        (PINNED_ACCEPTED, PINNED_REJECTED, PINNED_RHS)
    );
    // Counting, from `solve` in src/integrate/mod.rs for the FSAL pair DOPRI5 (7 stages):
    // 1 evaluation of k1 = f(t0, y0) before the loop, 1 in `initial_step` (the Euler probe
    // f(t0 + h0, y0 + h0 f0)), then every attempt (accepted or rejected) evaluates stages 2..7 in
    // `take_stages` = 6; the end derivative of an accepted step is the FSAL stage 7 (no eval).
    assert_eq!(s.rhs_evals, 1 + 1 + 6 * (s.accepted + s.rejected));
    // Saving uses the dense output and never shortens steps: the same solve with 41 save times
    // does exactly the same work.
    let (_, with_saves) = logistic_run(&opts, &quarter_grid());
    assert_eq!(with_saves.stats, s);
    assert_eq!(with_saves.y_end, sol.y_end);
}

/// Observed with the step control of src/integrate/mod.rs as of this test's writing
/// (PI controller beta = 0.04, safety 0.9, factors [0.2, 10], hinit first step).
const PINNED_ACCEPTED: u64 = 69;
const PINNED_REJECTED: u64 = 1;
const PINNED_RHS: u64 = 422;

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// `y' = y^2`: from y(0) = 1 the solution 1/(1 - t) blows up at t = 1.
struct Blowup;

impl VectorField for Blowup {
    fn dim(&self) -> usize {
        1
    }
    fn eval(&mut self, _t: f64, y: &[f64], dydt: &mut [f64]) {
        dydt[0] = y[0] * y[0];
    }
}

/// `y' = -y` for the first `finite_evals` evaluations, NaN from then on (like a model whose
/// gradient overflowed: once NaN, always NaN, whatever the step).
struct NanFrom {
    finite_evals: usize,
    evals: usize,
}

impl NanFrom {
    fn new(finite_evals: usize) -> Self {
        NanFrom {
            finite_evals,
            evals: 0,
        }
    }
}

impl VectorField for NanFrom {
    fn dim(&self) -> usize {
        1
    }
    fn eval(&mut self, _t: f64, y: &[f64], dydt: &mut [f64]) {
        self.evals += 1;
        dydt[0] = if self.evals > self.finite_evals {
            f64::NAN
        } else {
            -y[0]
        };
    }
}

/// `y' = -y` for `t <= nan_after`, NaN beyond (a field undefined past a time).
struct NanAfterTime {
    nan_after: f64,
}

impl VectorField for NanAfterTime {
    fn dim(&self) -> usize {
        1
    }
    fn eval(&mut self, t: f64, y: &[f64], dydt: &mut [f64]) {
        dydt[0] = if t > self.nan_after { f64::NAN } else { -y[0] };
    }
}

/// An invalid call: (expected `InvalidInput::field`, method, y0, t1, save_times, options).
type BadCall = (
    &'static str,
    &'static Tableau,
    Vec<f64>,
    f64,
    Vec<f64>,
    Options,
);

/// Run a solve that must fail; returns the error after checking its message is non-empty.
fn solve_err<F: VectorField>(
    tab: &'static Tableau,
    field: &mut F,
    t0: f64,
    y0: &[f64],
    t1: f64,
    save: &[f64],
    opts: &Options,
) -> IntegrateError {
    let mut ws = Workspace::new(field.dim());
    match solve_at(tab, field, t0, y0, t1, save, opts, &mut ws, &mut |_, _| {}) {
        Ok(sol) => panic!(
            "expected an error, solve reached t = {} ({:?})",
            sol.t_end, sol.stats
        ),
        Err(e) => {
            let msg = e.to_string();
            println!("{e:?}\n  -> {msg}");
            assert!(!msg.is_empty());
            e
        }
    }
}

#[test]
fn typed_errors() {
    // (a) Finite-time blow-up at t = 1. The controller keeps the relative local error at
    // ~rtol, so steps shrink like the distance to the singularity and the integration creeps
    // up to it until t + h == t (or the state overflows). The numerical blow-up time differs
    // from 1 only by the accumulated relative error, a small multiple of rtol = 1e-8 (observed
    // t = 1 + 5e-10), so 1e-3 is a loose bound that still catches giving up early.
    let e = solve_err(
        &DOPRI5,
        &mut Blowup,
        0.0,
        &[1.0],
        2.0,
        &[],
        &Options::default(),
    );
    match &e {
        IntegrateError::StepSizeUnderflow { t, h } => {
            assert!((t - 1.0).abs() < 1e-3, "underflow at t = {t}");
            assert!(*h >= 0.0 && *h < 1e-3, "underflow step {h}");
        }
        IntegrateError::NonFinite { t } => assert!((t - 1.0).abs() < 1e-3, "non-finite at t = {t}"),
        other => panic!("blow-up gave {other:?}"),
    }
    let msg = e.to_string();
    assert!(
        msg.contains("rtol") || msg.contains("diverge"),
        "no advice in {msg:?}"
    );

    // (b) Step budget: y' = -y for 1000 time units needs far more than 10 steps.
    let opts = Options {
        max_steps: 10,
        ..Options::default()
    };
    let e = solve_err(&DOPRI5, &mut linear(), 0.0, &Y0, 1000.0, &[], &opts);
    match &e {
        IntegrateError::MaxStepsReached {
            t,
            t_end,
            max_steps,
        } => {
            assert_eq!(*max_steps, 10);
            assert_eq!(t_end.to_bits(), 1000.0f64.to_bits());
            assert!(*t > 0.0 && *t < 1000.0, "stopped at t = {t}");
        }
        other => panic!("expected MaxStepsReached, got {other:?}"),
    }
    assert!(e.to_string().contains("max_steps"), "{e}");
    // Fixed-step methods count their steps against the same budget.
    let opts = Options {
        max_steps: 10,
        fixed_step: Some(0.01),
        ..Options::default()
    };
    let e = solve_err(&RK4, &mut linear(), 0.0, &Y0, 1.0, &[], &opts);
    assert!(
        matches!(e, IntegrateError::MaxStepsReached { max_steps: 10, .. }),
        "{e:?}"
    );

    // (c) NaN from the vector field.
    // At t0 already: reported at t0 by every method.
    for tab in tableau::ALL {
        let opts = Options {
            fixed_step: Some(0.1),
            ..Options::default()
        };
        let e = solve_err(tab, &mut NanFrom::new(0), 0.0, &[1.0], 1.0, &[], &opts);
        assert_eq!(e, IntegrateError::NonFinite { t: 0.0 }, "{}", tab.name);
        assert!(e.to_string().contains("non-finite"), "{e}");
    }
    // Mid-run: the adaptive pair rejects every (NaN) trial, shrinking the step 4-fold each
    // time until t + h == t, and reports the last accepted, finite time. 30 finite evaluations
    // cover k1, hinit's probe and the first 4 attempts (6 stages each), so the NaN starts
    // mid-run (t > 0 checks that a step was accepted before).
    let mut field = NanFrom::new(30);
    let e = solve_err(
        &DOPRI5,
        &mut field,
        0.0,
        &[1.0],
        1.0,
        &[],
        &Options::default(),
    );
    match e {
        IntegrateError::NonFinite { t } => assert!(t > 0.0 && t < 1.0, "non-finite at t = {t}"),
        other => panic!("expected NonFinite, got {other:?}"),
    }
    // ~25 quarterings from h ~ 0.1 reach h < ulp(t); far fewer than max_steps.
    assert!(field.evals < 1000, "{} evaluations to give up", field.evals);
    // A fixed-step method cannot retry: it stops at the start of the first non-finite step.
    // With h = 1/8, evaluation 1 is k1 and step k (0-based) uses evaluations 2 + 4k .. 5 + 4k,
    // so NaN from evaluation 14 on first hits step 3, which starts at t = 3/8.
    let opts = Options {
        fixed_step: Some(0.125),
        ..Options::default()
    };
    let e = solve_err(&RK4, &mut NanFrom::new(13), 0.0, &[1.0], 1.0, &[], &opts);
    assert_eq!(e, IntegrateError::NonFinite { t: 0.375 });
    // Same with a time threshold: the step from 0.375 evaluates at t <= 0.5 (finite), the step
    // from 0.5 has stages at 0.5625, so the last finite time is 0.5.
    let e = solve_err(
        &RK4,
        &mut NanAfterTime { nan_after: 0.5 },
        0.0,
        &[1.0],
        1.0,
        &[],
        &opts,
    );
    assert_eq!(e, IntegrateError::NonFinite { t: 0.5 });

    // (d) Invalid input, each naming the offending argument.
    let fixed = Options {
        fixed_step: Some(0.1),
        ..Options::default()
    };
    let cases: Vec<BadCall> = vec![
        (
            "y0",
            &DOPRI5,
            vec![1.0, 2.0],
            1.0,
            vec![],
            Options::default(),
        ),
        (
            "t_span",
            &DOPRI5,
            vec![1.0],
            -1.0,
            vec![],
            Options::default(),
        ),
        (
            "save_times",
            &DOPRI5,
            vec![1.0],
            1.0,
            vec![0.5, 0.25],
            Options::default(),
        ),
        (
            "save_times",
            &DOPRI5,
            vec![1.0],
            1.0,
            vec![0.5, 1.5],
            Options::default(),
        ),
        (
            "save_times",
            &RK4,
            vec![1.0],
            1.0,
            vec![-0.1],
            fixed.clone(),
        ),
        (
            "fixed_step",
            &EULER,
            vec![1.0],
            1.0,
            vec![],
            Options::default(),
        ),
        (
            "fixed_step",
            &RK4,
            vec![1.0],
            1.0,
            vec![],
            Options {
                fixed_step: Some(-0.1),
                ..Options::default()
            },
        ),
        (
            "rtol",
            &DOPRI5,
            vec![1.0],
            1.0,
            vec![],
            Options {
                rtol: -1e-6,
                ..Options::default()
            },
        ),
        (
            "atol",
            &DOPRI5,
            vec![1.0],
            1.0,
            vec![],
            Options {
                atol: Atol::PerComponent(vec![1e-6, 1e-6]),
                ..Options::default()
            },
        ),
    ];
    for (want_field, tab, y0, t1, save, opts) in cases {
        let e = solve_err(
            tab,
            &mut NanFrom::new(usize::MAX),
            0.0,
            &y0,
            t1,
            &save,
            &opts,
        );
        match &e {
            IntegrateError::InvalidInput { field, message } => {
                assert_eq!(*field, want_field, "{e}");
                assert!(!message.is_empty());
            }
            other => panic!("expected InvalidInput({want_field}), got {other:?}"),
        }
        assert!(e.to_string().contains(want_field), "{e}");
    }
}

/// Regression test: a field that is NaN past `t = 0.5` makes DOPRI5 shrink its step through NaN
/// rejections only, and the solve must report `NonFinite` there. It used to report
/// `StepSizeUnderflow { t: 0.5 }` ("stiff or singular ... loosen rtol/atol"), because `solve`
/// classified the failure by the last attempt alone: the final tiny step from 0.5 - ulp lands
/// exactly on 0.5 with all stage times <= 0.5 (finite).
#[test]
fn nan_past_a_time_is_reported_as_non_finite() {
    let e = solve_err(
        &DOPRI5,
        &mut NanAfterTime { nan_after: 0.5 },
        0.0,
        &[1.0],
        1.0,
        &[],
        &Options::default(),
    );
    assert!(
        matches!(e, IntegrateError::NonFinite { t } if t <= 0.5 && t > 0.5 - 1e-3),
        "{e:?}"
    );
}

/// Regression test: `validate` accepts `atol = 0` with `rtol > 0` (pure relative control), and a
/// component that stays exactly 0 then has error scale `atol + rtol * 0 = 0`. The solve must
/// succeed on this finite, decaying problem; it used to compute 0/0 = NaN in `error_norm`,
/// reject every step as "non-finite" and fail with `NonFinite { t: 0 }`.
#[test]
fn pure_relative_tolerance_with_a_zero_component() {
    let mut field = Linear {
        a: Matrix::from_diag(&[-1.0, -1.0]),
    };
    let mut ws = Workspace::new(2);
    for atol in [Atol::Scalar(0.0), Atol::PerComponent(vec![1e-8, 0.0])] {
        let opts = Options {
            rtol: 1e-6,
            atol,
            ..Options::default()
        };
        let sol = solve_at(
            &DOPRI5,
            &mut field,
            0.0,
            &[1.0, 0.0],
            1.0,
            &[],
            &opts,
            &mut ws,
            &mut |_, _| {},
        );
        // y(1) = (e^{-1}, 0): the second component stays exactly 0.
        let sol = sol.unwrap_or_else(|e| panic!("{:?}: {e:?}", opts.atol));
        assert!(rel(sol.y_end[0], (-1.0f64).exp(), 1.0) < 100.0 * 1e-6);
        assert_eq!(sol.y_end[1].to_bits(), 0.0f64.to_bits());
    }
}

// ---------------------------------------------------------------------------------------------
// Restarting
// ---------------------------------------------------------------------------------------------

#[test]
fn event_free_solve_matches_two_stage_solve() {
    let rtol = 1e-8;
    let opts = Options {
        rtol,
        atol: Atol::Scalar(1e-10),
        ..Options::default()
    };
    let (t_mid, t_end) = (1.3, 3.0);
    let mut ws = Workspace::new(4);
    let one = solve_at(
        &DOPRI5,
        &mut linear(),
        0.0,
        &Y0,
        t_end,
        &[],
        &opts,
        &mut ws,
        &mut |_, _| {},
    )
    .unwrap();
    let first = solve_at(
        &DOPRI5,
        &mut linear(),
        0.0,
        &Y0,
        t_mid,
        &[],
        &opts,
        &mut ws,
        &mut |_, _| {},
    )
    .unwrap();
    let second = solve_at(
        &DOPRI5,
        &mut linear(),
        t_mid,
        &first.y_end,
        t_end,
        &[],
        &opts,
        &mut ws,
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(second.t_end.to_bits(), t_end.to_bits());
    // Different step sequences, so the results differ by the two global errors, each a small
    // multiple of rtol |y| (see adaptive_accuracy_tracks_tolerance); 100 rtol relative to the
    // state size is the bound. The state size: A + A^T < 0 makes the flow a contraction in the
    // 2-norm, so |y(t)| <= ||y0||_2 all along, and errors committed early do not grow.
    let scale = Y0.iter().map(|x| x * x).sum::<f64>().sqrt();
    let diff = max_abs_diff(&one.y_end, &second.y_end);
    println!("one solve vs two: diff {diff:e}, |y| {scale:e}");
    assert!(
        diff <= 100.0 * rtol * scale,
        "one vs two solves differ by {diff:e}"
    );
    // Both agree with the exact solution to the same bound.
    let exact = exact_linear(t_end);
    assert!(max_abs_diff(&one.y_end, &exact) <= 100.0 * rtol * scale);
    assert!(max_abs_diff(&second.y_end, &exact) <= 100.0 * rtol * scale);
    // The restart really took different steps (else the comparison would be trivial).
    assert_ne!(
        one.stats.accepted,
        first.stats.accepted + second.stats.accepted
    );
}

// ---------------------------------------------------------------------------------------------
// Quadrature
// ---------------------------------------------------------------------------------------------

#[test]
fn quadrature_exact_for_polynomials_and_smooth() {
    // Gauss-Kronrod 15 is exact for degree <= 3*7 + 1 = 22, so x^k, k <= 20, is integrated
    // exactly up to rounding on every panel; rounding is a 15-term sum of positive terms <= 1
    // per panel plus the panel sums, a few tens of eps: 1e-14 (~45 eps) bounds it. (For k > 13
    // the Gauss-7 estimate is not exact, so the driver bisects a few times; still exact.)
    for k in 0..=20 {
        let got = quad::integrate(&mut |x: f64| x.powi(k), 0.0, 1.0, 1e-14);
        let want = 1.0 / (k as f64 + 1.0);
        assert!(
            (got - want).abs() <= 1e-14,
            "x^{k}: {got} vs {want} (error {:e})",
            got - want
        );
    }

    // exp on [0, 3]: analytic, so GK15 converges geometrically and the result is limited by
    // rounding, a few eps relative for a sum of positive terms; 1e-13 relative (~450 eps)
    // leaves room for the bisections requested by tol = 1e-13 * (e^3 - 1).
    let want = 3f64.exp() - 1.0;
    let got = quad::integrate(&mut |x: f64| x.exp(), 0.0, 3.0, 1e-13 * want);
    assert!(rel(got, want, 1.0) <= 1e-13, "exp: {got} vs {want}");

    // 1/sqrt(x) on [1e-12, 1]: the integrand is 1e6 at the left end and varies on the scale of
    // x itself, so the adaptive bisection refines ~40 levels toward 1e-12 (depth limit 50).
    // The documented contract is "an absolute error of about tol"; with tol = 1e-10 we require
    // the error below tol (the |K - G| estimate overestimates the error of the Kronrod value).
    let a = 1e-12_f64;
    let want = 2.0 * (1.0 - a.sqrt());
    let mut evals = 0usize;
    let got = quad::integrate(
        &mut |x: f64| {
            evals += 1;
            1.0 / x.sqrt()
        },
        a,
        1.0,
        1e-10,
    );
    println!(
        "1/sqrt(x) on [1e-12, 1]: error {:e} with {evals} evaluations",
        got - want
    );
    assert!((got - want).abs() <= 1e-10, "1/sqrt: {got} vs {want}");
}

/// `[1.234e-5, ...]` for diagnostics.
fn sci(v: &[f64]) -> String {
    let parts: Vec<String> = v.iter().map(|x| format!("{x:.3e}")).collect();
    format!("[{}]", parts.join(", "))
}

// ---------------------------------------------------------------------------------------------
// Native dense output of TSIT5 and DOP853, DOP853's 3rd-order error estimator
// ---------------------------------------------------------------------------------------------

/// Roundings in evaluating one continuous weight `b_i(theta)` (a polynomial of degree <= 7 in
/// nested form: at most 8 multiplications and 8 additions).
const WEIGHT_ROUNDINGS: f64 = 16.0;

/// Residuals `|sum_i b_i(theta) Phi_i(t) - theta^|t| / gamma(t)|` of a continuous extension with
/// weights `w = b(theta)` on the tableau `(a, c)`, with rounding bounds, per tree.
///
/// Bound: as in [`residuals`], plus the rounding of the weights themselves: `w_abs[i]` is the
/// sum of the absolute values of the terms of `b_i(theta)`, so `b_i(theta)` is within
/// `WEIGHT_ROUNDINGS eps w_abs[i]`, which `Phi` carries with the factor `Phi` evaluated on
/// `|a|, w_abs, |c|`.
fn continuous_residuals(
    trees: &Trees,
    a: &[Vec<f64>],
    c: &[f64],
    w: &[f64],
    w_abs: &[f64],
    theta: f64,
) -> Vec<(f64, f64)> {
    let abs_a: Vec<Vec<f64>> = a
        .iter()
        .map(|r| r.iter().map(|x| x.abs()).collect())
        .collect();
    let abs_c: Vec<f64> = c.iter().map(|x| x.abs()).collect();
    let phi = elementary_weights(trees, a, w, c);
    let phi_abs = elementary_weights(trees, &abs_a, w_abs, &abs_c);
    let s = w.len() as f64;
    (0..phi.len())
        .map(|t| {
            let want = theta.powi(trees.order[t] as i32) / trees.gamma[t];
            let k = trees.order[t] as f64 * (s + 2.0) + WEIGHT_ROUNDINGS;
            let bound = k * EPS * phi_abs[t] + EPS * want;
            ((phi[t] - want).abs(), bound)
        })
        .collect()
}

/// Check that the continuous extension `weights(theta) = (b(theta), |terms|(theta))` has order
/// exactly `q` at every `theta` of `thetas` (all conditions up to `q`, and for `0 < theta < 1`
/// some condition of order `q + 1` fails by far more than rounding).
fn check_continuous_order(
    name: &str,
    trees: &Trees,
    a: &[Vec<f64>],
    c: &[f64],
    q: usize,
    weights: &dyn Fn(f64) -> (Vec<f64>, Vec<f64>),
) {
    for theta in [0.1, 0.25, 0.5, 0.75, 0.9, 1.0] {
        let (w, w_abs) = weights(theta);
        let res = continuous_residuals(trees, a, c, &w, &w_abs, theta);
        let mut worst = 0.0_f64;
        for (t, &(r, bound)) in res.iter().enumerate() {
            if trees.order[t] <= q {
                worst = worst.max(r);
                assert!(
                    r <= bound,
                    "{name}: continuous extension at theta = {theta} fails the order condition \
                     of tree {:?} (order {}): residual {r:e} > {bound:e}",
                    trees.children[t],
                    trees.order[t]
                );
            }
        }
        println!("{name} dense: theta = {theta}, largest residual up to order {q}: {worst:e}");
        // Sharp inside the step (at theta = 1 the weights are b, which has the full order).
        if theta < 1.0 {
            assert!(
                trees.of_order(q + 1).any(|t| res[t].0 > 1e3 * res[t].1),
                "{name}: continuous extension at theta = {theta} satisfies every order-{} \
                 condition",
                q + 1
            );
        }
    }
}

/// Checks IN-4: the free interpolant's weights and its continuous order conditions.
#[test]
fn tsit5_dense_output_weights() {
    let tab = &tableau::TSIT5;
    let d = &tableau::TSIT5_DENSE;
    let poly = |row: &[f64; 5], theta: f64| -> f64 {
        row.iter().rev().fold(0.0, |acc, &r| acc * theta + r)
    };
    let weights = |theta: f64| -> (Vec<f64>, Vec<f64>) {
        let w = d.iter().map(|row| poly(row, theta)).collect();
        let w_abs = d
            .iter()
            .map(|row| row.iter().rev().fold(0.0, |acc, &r| acc * theta + r.abs()))
            .collect();
        (w, w_abs)
    };
    // b_i(0) = 0 exactly (no constant term), b_i(1) = b_i. Rounding of b_i(1) = sum_k r_ik:
    // 4 additions of terms of size <= |r_ik|, so within 5 eps sum_k |r_ik| (>= 5e-16: the
    // smallest row sum is 0.457). The published coefficients themselves give b_i(1) - b_i of at
    // most 2.3e-17 in exact arithmetic (checked in 80-digit decimal arithmetic when they were
    // entered), well below that.
    for (i, row) in d.iter().enumerate() {
        assert_eq!(
            poly(row, 0.0).to_bits(),
            0.0f64.to_bits(),
            "tsit5: b_{i}(0)"
        );
        let abs: f64 = row.iter().map(|r| r.abs()).sum();
        let b1 = poly(row, 1.0);
        assert!(
            (b1 - tab.b[i]).abs() <= 5.0 * EPS * abs,
            "tsit5: b_{i}(1) = {b1} but b_{i} = {}",
            tab.b[i]
        );
    }
    // sum_i b_i(theta) = theta: a sum of 7 weights, each within WEIGHT_ROUNDINGS eps of its
    // absolute terms.
    for theta in [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0] {
        let (w, w_abs) = weights(theta);
        let sum: f64 = w.iter().sum();
        let bound = (WEIGHT_ROUNDINGS + 7.0) * EPS * w_abs.iter().sum::<f64>() + EPS * theta;
        assert!(
            (sum - theta).abs() <= bound,
            "tsit5: sum_i b_i({theta}) = {sum} (bound {bound:e})"
        );
    }
    // The free interpolant has order 4 (Tsitouras 2011): all conditions up to order 4 hold for
    // every theta, and no more.
    let trees = Trees::up_to(5);
    check_continuous_order("tsit5", &trees, &dense_a(tab), tab.c, 4, &weights);
}

/// DOP853 extended by its three dense-output stages: the dense `16 x 16` `a` and the 16 nodes.
fn dop853_extended() -> (Vec<Vec<f64>>, Vec<f64>) {
    let tab = &tableau::DOP853;
    let mut a = dense_a(tab);
    for row in a.iter_mut() {
        row.resize(16, 0.0);
    }
    for row in &tableau::DOP853_DENSE_A {
        a.push(row.to_vec());
    }
    let mut c = tab.c.to_vec();
    c.extend_from_slice(&tableau::DOP853_DENSE_C);
    (a, c)
}

/// The weights `b_j(theta)` of Hairer's `contd8` (see `DOP853_DENSE_D`) and the sums of the
/// absolute values of their terms.
fn dop853_dense_weights(theta: f64) -> (Vec<f64>, Vec<f64>) {
    let b = tableau::DOP853.b;
    let d = &tableau::DOP853_DENSE_D;
    let th1 = 1.0 - theta;
    let mut w = vec![0.0; 16];
    let mut w_abs = vec![0.0; 16];
    for j in 0..16 {
        let bj = if j < b.len() { b[j] } else { 0.0 };
        let d0 = if j == 0 { 1.0 } else { 0.0 };
        let d12 = if j == 12 { 1.0 } else { 0.0 };
        let terms = [
            theta * bj,
            theta * th1 * (d0 - bj),
            theta * theta * th1 * (2.0 * bj - d0 - d12),
            theta * theta * th1 * th1 * d[0][j],
            theta * theta * th1 * th1 * theta * d[1][j],
            theta * theta * th1 * th1 * theta * th1 * d[2][j],
            theta * theta * th1 * th1 * theta * theta * th1 * d[3][j],
        ];
        w[j] = terms.iter().sum();
        w_abs[j] = terms.iter().map(|x| x.abs()).sum();
    }
    (w, w_abs)
}

/// Checks IN-5's third-order estimator and IN-6's dense output of DOP853.
#[test]
fn dop853_dense_output_and_third_order_estimator() {
    let tab = &tableau::DOP853;
    let (a, c) = dop853_extended();

    // Row sums of the three dense-output stages, as for the main stages.
    for i in 13..16 {
        let sum: f64 = a[i].iter().sum();
        let abs: f64 = a[i].iter().map(|x| x.abs()).sum::<f64>() + c[i].abs();
        let bound = (i as f64 + 2.0) * EPS * abs;
        assert!(
            (c[i] - sum).abs() <= bound,
            "dop853 dense stage {i}: c = {} but row sum {sum}",
            c[i]
        );
        assert!(
            a[i][i..].iter().all(|&x| x == 0.0),
            "dense stage {i} not explicit"
        );
    }

    // The weights of contd8 are b at theta = 1 and 0 at theta = 0, exactly.
    let (w1, _) = dop853_dense_weights(1.0);
    let (w0, _) = dop853_dense_weights(0.0);
    for j in 0..16 {
        let bj = if j < tab.stages { tab.b[j] } else { 0.0 };
        assert_eq!(w1[j].to_bits(), bj.to_bits(), "dop853: b_{j}(1)");
        assert_eq!(w0[j], 0.0, "dop853: b_{j}(0)");
    }
    // ... and they are Hairer's nested rcont form: for arbitrary stage values k_j (scalars) and
    // h = 1, y0 = 0, both give the same number up to rounding (a few eps of the terms).
    let k: Vec<f64> = (0..16).map(|j| (1.0 + 0.37 * j as f64).sin()).collect();
    let y1: f64 = (0..13).map(|j| tab.b[j] * k[j]).sum();
    let rc = |r: usize| -> f64 { (0..16).map(|j| tableau::DOP853_DENSE_D[r][j] * k[j]).sum() };
    for theta in [0.1, 0.25, 0.5, 0.75, 0.9] {
        let th1 = 1.0 - theta;
        let (r2, r5, r6, r7, r8) = (y1, rc(0), rc(1), rc(2), rc(3));
        let r3 = k[0] - r2;
        let r4 = r2 - k[12] - r3;
        let conpar = r5 + theta * (r6 + th1 * (r7 + theta * r8));
        let nested = theta * (r2 + th1 * (r3 + theta * (r4 + th1 * conpar)));
        let (w, w_abs) = dop853_dense_weights(theta);
        let flat: f64 = w.iter().zip(&k).map(|(w, k)| w * k).sum();
        let scale: f64 = w_abs.iter().zip(&k).map(|(w, k)| (w * k).abs()).sum();
        assert!(
            (nested - flat).abs() <= 64.0 * EPS * scale,
            "dop853: contd8 nested {nested} vs weights {flat} at theta = {theta}"
        );
    }

    // The continuous extension has order 7 (HNW I, Section II.6) for every theta.
    let trees = Trees::up_to(8);
    check_continuous_order("dop853", &trees, &a, &c, 7, &dop853_dense_weights);

    // The 3rd-order estimator: b_hat3 = b - e3 has three nonzero weights, bhh1..bhh3 of
    // dop853.f on stages 0, 8, 11, and exactly order 3.
    let e3 = &tableau::DOP853_E3;
    let b_hat3: Vec<f64> = tab.b.iter().zip(e3).map(|(b, e)| b - e).collect();
    #[allow(clippy::excessive_precision)] // the digits of dop853.f
    let bhh = [
        (0, 0.244094488188976377952755905512),
        (8, 0.733846688281611857341361741547),
        (11, 0.220588235294117647058823529412e-1),
    ];
    for (j, &bj) in b_hat3.iter().enumerate() {
        match bhh.iter().find(|(i, _)| *i == j) {
            // e3_j = b_j - bhh rounded once, and b_j - e3_j rounds again: within 2 ulps of
            // max(|b_j|, |bhh|).
            Some(&(_, want)) => assert!(
                (bj - want).abs() <= 2.0 * EPS * tab.b[j].abs().max(want),
                "dop853: b_hat3[{j}] = {bj}, bhh = {want}"
            ),
            None => assert_eq!(bj, 0.0, "dop853: b_hat3[{j}]"),
        }
    }
    let sum_e3: f64 = e3.iter().sum();
    let abs_e3: f64 = e3.iter().map(|x| x.abs()).sum();
    assert!(
        sum_e3.abs() <= 14.0 * EPS * abs_e3,
        "dop853: sum e3 = {sum_e3:e}"
    );
    let dense = dense_a(tab);
    let res = residuals(&trees, &dense, &b_hat3, tab.c);
    for t in (1..=3).flat_map(|n| trees.of_order(n)) {
        let (r, bound) = res[t];
        assert!(
            r <= 2.0 * bound,
            "dop853: 3rd-order weights fail tree {:?}: {r:e} > {:e}",
            trees.children[t],
            2.0 * bound
        );
    }
    assert!(
        trees.of_order(4).any(|t| res[t].0 > 1e3 * res[t].1),
        "dop853: the 3rd-order weights satisfy every order-4 condition"
    );
}
