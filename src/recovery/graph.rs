//! The fixed-point graph (M11's second half; theory/recovery.md RM-13; attractors.md §6 M11):
//! nodes are fixed points labelled by their index (number of unstable directions), directed
//! edges the unstable-manifold connections `saddle -> the fixed point reached from
//! x* +- delta v`, `v` each real unstable eigen-direction (real and imaginary parts of a
//! complex pair). The distance between the true and the model's graph is the graph edit
//! distance under the node correspondence of M11's matching: unmatched nodes (insertions and
//! deletions), matched nodes with different labels (relabelling) and edges present in one
//! graph but not the other (edges at an unmatched node included) each cost 1. It is an upper
//! bound on the exact edit distance, attained when the matching is the optimal one.

use crate::error::Result;
use crate::linalg::{self, Matrix};
use crate::model::state_map::TimeKind;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// The autonomous dynamics of a model or of the truth: the state after `horizon` time units
/// from `x0`, in the model's own coordinates.
#[derive(Clone)]
pub struct Simulator(pub Arc<SimFn>);

/// `(x0, horizon) -> state after horizon`.
pub type SimFn = dyn Fn(&[f64], f64) -> Result<Vec<f64>> + Send + Sync;

/// How [`build`] probes the unstable manifolds.
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    /// Map or flow (decides the rates of the eigenvalues).
    pub time: TimeKind,
    /// Time of one map step (ignored for a flow).
    pub dt: f64,
    /// Directions with rate `Re >= rate_tol` are unstable.
    pub rate_tol: f64,
    /// Offset from the fixed point along each direction.
    pub delta: f64,
    /// Time the flow runs from the offset state.
    pub horizon: f64,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Simulator")
    }
}

/// One node's input: the point, its Jacobian (model coordinates), and its index.
pub struct Node<'a> {
    /// The point (model coordinates).
    pub x: &'a [f64],
    /// `df/dx` (continuous) or `dF/dx` (discrete).
    pub jacobian: &'a Matrix,
    /// Number of unstable directions (the label).
    pub index: usize,
}

/// A fixed-point graph: labels and directed edges `(from, to)` by node index.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    /// Index (unstable directions) of each node.
    pub labels: Vec<usize>,
    /// Unstable-manifold connections.
    pub edges: BTreeSet<(usize, usize)>,
}

/// Build the graph: from each node with unstable directions, start at `x* +- delta v` for each
/// unstable real direction (rate `Re >= rate_tol`, rates `ln(mu) / dt` for a map), run for
/// `horizon`, and connect to the node `assign` names for the end state (`None`: no edge).
pub fn build(
    nodes: &[Node<'_>],
    probe: Probe,
    sim: &Simulator,
    assign: &dyn Fn(&[f64]) -> Option<usize>,
) -> Result<Graph> {
    let Probe {
        time,
        dt,
        rate_tol,
        delta,
        horizon,
    } = probe;
    let mut edges = BTreeSet::new();
    for (i, n) in nodes.iter().enumerate() {
        if n.index == 0 {
            continue;
        }
        let (vals, vecs) = linalg::eig(n.jacobian)?;
        let mut dirs: Vec<Vec<f64>> = Vec::new();
        for (mu, v) in vals.iter().zip(&vecs) {
            let rate = match time {
                TimeKind::Continuous => *mu,
                TimeKind::Discrete => mu.ln() / dt,
            };
            if rate.re < rate_tol {
                continue;
            }
            dirs.push(v.iter().map(|c| c.re).collect());
            if mu.im.abs() > 0.0 {
                dirs.push(v.iter().map(|c| c.im).collect());
            }
        }
        for d in dirs {
            let norm = d.iter().map(|v| v * v).sum::<f64>().sqrt();
            if norm == 0.0 {
                continue;
            }
            for sign in [1.0, -1.0] {
                let x0: Vec<f64> =
                    n.x.iter()
                        .zip(&d)
                        .map(|(a, b)| a + sign * delta * b / norm)
                        .collect();
                let end = (sim.0)(&x0, horizon)?;
                if let Some(j) = assign(&end) {
                    if j != i {
                        edges.insert((i, j));
                    }
                }
            }
        }
    }
    Ok(Graph {
        labels: nodes.iter().map(|n| n.index).collect(),
        edges,
    })
}

/// Edit distance between `a` and `b` under the node correspondence `pairs` (`(a node, b
/// node)`), and the size `|V_a| + |E_a| + |V_b| + |E_b|` it can be normalized by.
pub fn edit_distance(a: &Graph, b: &Graph, pairs: &[(usize, usize)]) -> (usize, usize) {
    let to_b: HashMap<usize, usize> = pairs.iter().copied().collect();
    let unmatched = (a.labels.len() - pairs.len()) + (b.labels.len() - pairs.len());
    let relabel = pairs
        .iter()
        .filter(|(i, j)| a.labels[*i] != b.labels[*j])
        .count();
    let mapped: BTreeSet<(usize, usize)> = a
        .edges
        .iter()
        .filter_map(|(i, j)| Some((*to_b.get(i)?, *to_b.get(j)?)))
        .collect();
    // Edges of a that survive the map and are in b are shared; everything else costs 1.
    let shared = mapped.intersection(&b.edges).count();
    let edge_cost = (a.edges.len() - shared) + (b.edges.len() - shared);
    let size = a.labels.len() + a.edges.len() + b.labels.len() + b.edges.len();
    (unmatched + relabel + edge_cost, size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn double_well_graph_and_distances() {
        // dx/dt = x - x^3: saddle at 0 (index 1) connected to the wells at -1 and +1.
        let sim = Simulator(Arc::new(|x0: &[f64], t: f64| {
            // Exact solution of x' = x - x^3: x(t) = x0 e^t / sqrt(1 + x0^2 (e^{2t} - 1)).
            let e = t.exp();
            Ok(vec![
                x0[0] * e / (1.0 + x0[0] * x0[0] * (e * e - 1.0)).sqrt(),
            ])
        }));
        let pts = [vec![-1.0], vec![0.0], vec![1.0]];
        let jac = [
            Matrix::from_fn(1, 1, |_, _| -2.0),
            Matrix::from_fn(1, 1, |_, _| 1.0),
            Matrix::from_fn(1, 1, |_, _| -2.0),
        ];
        let nodes: Vec<Node> = (0..3)
            .map(|i| Node {
                x: &pts[i],
                jacobian: &jac[i],
                index: usize::from(i == 1),
            })
            .collect();
        let assign = |x: &[f64]| (0..3).find(|&i| (pts[i][0] - x[0]).abs() < 0.1);
        let probe = Probe {
            time: TimeKind::Continuous,
            dt: 1.0,
            rate_tol: 1e-3,
            delta: 1e-4,
            horizon: 30.0,
        };
        let g = build(&nodes, probe, &sim, &assign).unwrap();
        assert_eq!(g.edges, BTreeSet::from([(1, 0), (1, 2)]));
        assert_eq!(edit_distance(&g, &g, &[(0, 0), (1, 1), (2, 2)]), (0, 10));
        // One well missing from the model: its node and its edge differ.
        let h = Graph {
            labels: vec![1, 0],
            edges: BTreeSet::from([(0, 1)]),
        };
        assert_eq!(edit_distance(&g, &h, &[(1, 0), (2, 1)]).0, 2);
    }
}
