//! Betti numbers of a point cloud (M13d): the Vietoris-Rips complex at one scale, over GF(2).

use super::matching::dist;

/// Greedy net of `points`: a point is kept if it is farther than `spacing` from every
/// point kept before it (input order, deterministic).
pub fn subsample_greedy(points: &[Vec<f64>], spacing: f64) -> Vec<Vec<f64>> {
    let mut kept: Vec<Vec<f64>> = Vec::new();
    for p in points {
        if kept.iter().all(|q| dist(p, q) > spacing) {
            kept.push(p.clone());
        }
    }
    kept
}

/// `(b0, b1)` of the Vietoris-Rips complex of `points` at `scale` (an edge when two points
/// are within `scale`, a triangle for each 3-clique), over GF(2): `b0` from union-find,
/// `b1 = E - (V - b0) - rank(d2)` with `d2` the triangle-to-edge boundary matrix. Callers
/// subsample (e.g. [`subsample_greedy`] at a third of `scale`) so neighbouring samples are
/// well within `scale` and the triangle count stays small.
pub fn betti_0_1(points: &[Vec<f64>], scale: f64) -> (usize, usize) {
    let n = points.len();
    let mut adj = vec![Vec::new(); n];
    let mut edges = Vec::new();
    for i in 0..n {
        for j in i + 1..n {
            if dist(&points[i], &points[j]) <= scale {
                adj[i].push(j);
                adj[j].push(i);
                edges.push((i, j));
            }
        }
    }
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(p: &mut [usize], x: usize) -> usize {
        let mut r = x;
        while p[r] != r {
            r = p[r];
        }
        let mut y = x;
        while p[y] != r {
            let next = p[y];
            p[y] = r;
            y = next;
        }
        r
    }
    for &(i, j) in &edges {
        let (a, b) = (find(&mut parent, i), find(&mut parent, j));
        if a != b {
            parent[a] = b;
        }
    }
    let b0 = (0..n).filter(|&i| find(&mut parent, i) == i).count();
    let index: std::collections::HashMap<(usize, usize), usize> =
        edges.iter().enumerate().map(|(k, &e)| (e, k)).collect();
    // Triangles as edge-index bitsets, reduced by Gaussian elimination over GF(2).
    let words = edges.len().div_ceil(64);
    let mut pivots: std::collections::HashMap<usize, Vec<u64>> = std::collections::HashMap::new();
    let mut rank = 0;
    for &(i, j) in &edges {
        for &k in &adj[i] {
            if k > j && adj[j].contains(&k) {
                let mut row = vec![0u64; words];
                for e in [(i, j), (i, k), (j, k)] {
                    let b = index[&e];
                    row[b / 64] ^= 1 << (b % 64);
                }
                // Reduce by existing pivots (highest set bit first).
                while let Some(top) = (0..words)
                    .rev()
                    .find(|&w| row[w] != 0)
                    .map(|w| w * 64 + 63 - row[w].leading_zeros() as usize)
                {
                    match pivots.get(&top) {
                        Some(p) => {
                            for (a, b) in row.iter_mut().zip(p) {
                                *a ^= b;
                            }
                        }
                        None => {
                            pivots.insert(top, row);
                            rank += 1;
                            break;
                        }
                    }
                }
            }
        }
    }
    let b1 = edges.len() - (n - b0) - rank;
    (b0, b1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn circle(n: usize, r: f64, cx: f64) -> Vec<Vec<f64>> {
        (0..n)
            .map(|k| {
                let t = 2.0 * std::f64::consts::PI * k as f64 / n as f64;
                vec![cx + r * t.cos(), r * t.sin()]
            })
            .collect()
    }

    #[test]
    fn betti_numbers_of_simple_shapes() {
        let spacing = 2.0 * std::f64::consts::PI / 200.0;
        assert_eq!(betti_0_1(&circle(200, 1.0, 0.0), 3.0 * spacing), (1, 1));
        let line: Vec<Vec<f64>> = (0..100).map(|k| vec![k as f64 * 0.01, 0.0]).collect();
        assert_eq!(betti_0_1(&line, 0.03), (1, 0));
        let mut two = circle(200, 1.0, 0.0);
        two.extend(circle(200, 1.0, 5.0));
        assert_eq!(betti_0_1(&two, 3.0 * spacing), (2, 2));
        let grid: Vec<Vec<f64>> = (0..15)
            .flat_map(|i| (0..15).map(move |j| vec![i as f64 * 0.1, j as f64 * 0.1]))
            .collect();
        assert_eq!(betti_0_1(&grid, 0.15), (1, 0));
    }
}
