//! Point-set comparisons: minimum-cost assignment, matched fixed points (M10), Hausdorff
//! distances (M13a) and the optimal transport between eigenvalue sets (M12, DSA_W locally).

use crate::linalg::Matrix;
use num_complex::Complex64;

/// Minimum-cost assignment of the rows of `cost` (`rows x cols`, finite) to distinct
/// columns: entry `i` is row `i`'s column, `None` for the `rows - cols` rows left over when
/// `rows > cols`. Shortest augmenting paths with potentials (Kuhn-Munkres, O(n^2 m)).
pub fn hungarian(cost: &Matrix) -> Vec<Option<usize>> {
    let (r, c) = (cost.nrows(), cost.ncols());
    if r == 0 || c == 0 {
        return vec![None; r];
    }
    // Work with n <= m (rows <= cols); transpose otherwise.
    let transpose = r > c;
    let (n, m) = if transpose { (c, r) } else { (r, c) };
    let a = |i: usize, j: usize| {
        if transpose {
            cost.get(j, i)
        } else {
            cost.get(i, j)
        }
    };
    // 1-based arrays as in the classical formulation; p[j] = row matched to column j.
    let (mut u, mut v) = (vec![0.0; n + 1], vec![0.0; m + 1]);
    let (mut p, mut way) = (vec![0usize; m + 1], vec![0usize; m + 1]);
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0;
        let mut minv = vec![f64::INFINITY; m + 1];
        let mut used = vec![false; m + 1];
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let (mut delta, mut j1) = (f64::INFINITY, 0);
            for j in 1..=m {
                if !used[j] {
                    let cur = a(i0 - 1, j - 1) - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=m {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut out = vec![None; r];
    for (j, &pj) in p.iter().enumerate().skip(1) {
        if pj != 0 {
            let (row, col) = (pj - 1, j - 1);
            if transpose {
                out[col] = Some(row);
            } else {
                out[row] = Some(col);
            }
        }
    }
    out
}

/// Euclidean distance of two points of equal length (the one definition the recovery
/// metrics share).
pub fn dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// Match the points `a` to `b` by a minimum total Euclidean distance assignment and keep
/// the pairs closer than `max_distance`: `(index in a, index in b, distance)`, by index in a.
pub fn match_points(a: &[Vec<f64>], b: &[Vec<f64>], max_distance: f64) -> Vec<(usize, usize, f64)> {
    let cost = Matrix::from_fn(a.len(), b.len(), |i, j| dist(&a[i], &b[j]));
    hungarian(&cost)
        .into_iter()
        .enumerate()
        .filter_map(|(i, j)| j.map(|j| (i, j, cost.get(i, j))))
        .filter(|p| p.2 < max_distance)
        .collect()
}

/// `max over a of min over b` of the Euclidean distance (0 for empty `a`, +inf for empty `b`).
pub fn directed_hausdorff(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
    a.iter()
        .map(|p| b.iter().map(|q| dist(p, q)).fold(f64::INFINITY, f64::min))
        .fold(0.0, f64::max)
}

/// Distance from `x` to the polyline through `points` in order (closed: also the segment from
/// the last point back to the first); `+inf` for no points.
pub fn polyline_distance(x: &[f64], points: &[Vec<f64>], closed: bool) -> f64 {
    let n = points.len();
    let segs = if closed { n } else { n.saturating_sub(1) };
    let mut best = points
        .iter()
        .map(|p| dist(p, x))
        .fold(f64::INFINITY, f64::min);
    for k in 0..segs {
        let (a, b) = (&points[k], &points[(k + 1) % n]);
        let ab: Vec<f64> = b.iter().zip(a).map(|(p, q)| p - q).collect();
        let len2: f64 = ab.iter().map(|v| v * v).sum();
        if len2 == 0.0 {
            continue;
        }
        let t = (x
            .iter()
            .zip(a)
            .zip(&ab)
            .map(|((xi, ai), d)| (xi - ai) * d)
            .sum::<f64>()
            / len2)
            .clamp(0.0, 1.0);
        let q: Vec<f64> = a.iter().zip(&ab).map(|(ai, d)| ai + t * d).collect();
        best = best.min(dist(&q, x));
    }
    best
}

/// Symmetric Hausdorff distance (0 if both are empty, +inf if exactly one is).
pub fn hausdorff(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
    directed_hausdorff(a, b).max(directed_hausdorff(b, a))
}

/// Optimal transport between eigenvalue multisets, uniform weights, squared Euclidean cost
/// in the complex plane, the shorter set padded with zeros (DSA's Wasserstein score, POT
/// `emd2` with uniform weights): the mean matched cost over the padded length.
pub fn eigenvalue_wasserstein(a: &[Complex64], b: &[Complex64]) -> f64 {
    let n = a.len().max(b.len());
    if n == 0 {
        return 0.0;
    }
    let pad = |v: &[Complex64]| {
        let mut v = v.to_vec();
        v.resize(n, Complex64::new(0.0, 0.0));
        v
    };
    let (a, b) = (pad(a), pad(b));
    let cost = Matrix::from_fn(n, n, |i, j| (a[i] - b[j]).norm_sqr());
    hungarian(&cost)
        .into_iter()
        .enumerate()
        .map(|(i, j)| j.map_or(0.0, |j| cost.get(i, j)))
        .sum::<f64>()
        / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute(cost: &Matrix) -> f64 {
        // Rows <= cols: every injective map of rows into columns.
        fn go(cost: &Matrix, i: usize, used: &mut Vec<bool>) -> f64 {
            if i == cost.nrows() {
                return 0.0;
            }
            let mut best = f64::INFINITY;
            for j in 0..cost.ncols() {
                if !used[j] {
                    used[j] = true;
                    best = best.min(cost.get(i, j) + go(cost, i + 1, used));
                    used[j] = false;
                }
            }
            best
        }
        go(cost, 0, &mut vec![false; cost.ncols()])
    }

    #[test]
    fn hungarian_is_optimal_against_brute_force() {
        for (seed, r, c) in [(1, 5, 5), (2, 4, 6), (3, 6, 4), (4, 1, 3), (5, 7, 7)] {
            let m = crate::random::gaussian_matrix(&mut crate::random::rng(seed, 9), r, c);
            let got = hungarian(&m);
            let total: f64 = got
                .iter()
                .enumerate()
                .filter_map(|(i, j)| j.map(|j| m.get(i, j)))
                .sum();
            let want = if r <= c {
                brute(&m)
            } else {
                brute(&m.transpose())
            };
            assert!((total - want).abs() < 1e-12, "{r}x{c}: {total} vs {want}");
            let mut cols: Vec<usize> = got.iter().flatten().copied().collect();
            assert_eq!(cols.len(), r.min(c));
            cols.sort_unstable();
            cols.dedup();
            assert_eq!(cols.len(), r.min(c));
        }
    }

    #[test]
    fn hausdorff_and_wasserstein_hand_cases() {
        let a = vec![vec![0.0, 0.0], vec![1.0, 0.0]];
        let b = vec![vec![0.0, 0.0]];
        assert!((hausdorff(&a, &b) - 1.0).abs() < 1e-15);
        assert!(directed_hausdorff(&b, &a).abs() < 1e-15);
        let z = |r, i| Complex64::new(r, i);
        let e1 = [z(1.0, 2.0), z(-1.0, 0.0), z(1.0, -2.0)];
        let e2 = [z(-1.0, 0.0), z(1.0, -2.0), z(1.0, 2.0)];
        assert!(eigenvalue_wasserstein(&e1, &e2).abs() < 1e-15);
        // {1} vs {0, 3} after padding {1, 0}: best 1 -> 0? costs: (1-0)^2 + (0-3)^2 = 10 or
        // (1-3)^2 + (0-0)^2 = 4: mean 2.
        assert!(
            (eigenvalue_wasserstein(&[z(1.0, 0.0)], &[z(0.0, 0.0), z(3.0, 0.0)]) - 2.0).abs()
                < 1e-15
        );
    }
}
