//! Every attractor, not only fixed points (M17; theory/recovery.md RM-10; attractors.md §2.6,
//! Datseris & Wagemakers 2022, the method behind Attractors.jl's `AttractorsViaRecurrences`):
//! initial conditions are mapped to attractors from their trajectories alone, by recurrences
//! on a grid of cells, so limit cycles, chaotic sets and continua of fixed points are found
//! like fixed points, with their basin fractions.
//!
//! Per trajectory (samples in true coordinates), a small state machine:
//! - landing on cells of an attractor found before, [`KNOWN_HITS`] times in a row, labels the
//!   initial condition with it;
//! - landing on cells this trajectory visited before, [`RECURRENCES`] times in a row, means it
//!   is on an attractor: the cells of the rest of the trajectory (at least [`COLLECT`] samples,
//!   else the last [`COLLECT`]) are the attractor's, with their samples as its points;
//! - ending before either (a finite query trajectory) leaves it undetermined.
//!
//! Deviation from Attractors.jl, stated: a new attractor whose cells touch (Chebyshev
//! distance <= 1 in cell index) those of an earlier one is merged into it, so that a continuum
//! of fixed points (line, ring), reached at a different place from each initial condition,
//! counts as one attractor. Cells are cubes of side `cell` (the match radius) from the origin,
//! in a hash map (any dimension).

use crate::recovery::metrics::matching;
use std::collections::{HashMap, HashSet};

/// Consecutive recurrences that mean "on an attractor".
pub const RECURRENCES: usize = 40;
/// Consecutive hits of a known attractor's cells that label an initial condition with it.
pub const KNOWN_HITS: usize = 5;
/// Samples collected as an attractor's points after its detection.
pub const COLLECT: usize = 60;

/// One attractor: its cells and sample points.
#[derive(Debug, Clone)]
pub struct Attractor {
    /// Sample points on it (true coordinates).
    pub points: Vec<Vec<f64>>,
    cells: HashSet<Vec<i64>>,
}

impl Attractor {
    /// "point" when every sample lies in one cell's neighbourhood (extent below two cells),
    /// else "set" (a cycle, a chaotic set or a continuum).
    pub fn kind(&self, cell: f64) -> &'static str {
        let mut extent = 0.0f64;
        for a in &self.points {
            for b in &self.points {
                extent = extent.max(matching::dist(a, b));
            }
        }
        if extent < 2.0 * cell {
            "point"
        } else {
            "set"
        }
    }
}

/// The result: attractors and a label per initial condition (`None`: undetermined).
#[derive(Debug, Clone)]
pub struct Basins {
    /// The attractors found.
    pub attractors: Vec<Attractor>,
    /// Per initial condition, the index of its attractor.
    pub labels: Vec<Option<usize>>,
}

impl Basins {
    /// Fraction of initial conditions labelled with each attractor (same order).
    pub fn fractions(&self) -> Vec<f64> {
        let n = self.labels.len().max(1) as f64;
        (0..self.attractors.len())
            .map(|k| self.labels.iter().filter(|l| **l == Some(k)).count() as f64 / n)
            .collect()
    }
}

fn cell_of(x: &[f64], cell: f64) -> Vec<i64> {
    x.iter().map(|v| (v / cell).floor() as i64).collect()
}

fn touches(a: &HashSet<Vec<i64>>, b: &HashSet<Vec<i64>>) -> bool {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    // Exact on the shared cells, then the neighbours of the smaller set.
    small.iter().any(|c| {
        large.contains(c)
            || large
                .iter()
                .any(|d| c.iter().zip(d).all(|(p, q)| (p - q).abs() <= 1))
    })
}

/// Map each trajectory (a sequence of states) to an attractor by recurrences on cells of
/// side `cell`.
pub fn map_attractors(trajectories: &[Vec<Vec<f64>>], cell: f64) -> Basins {
    let mut attractors: Vec<Attractor> = Vec::new();
    let mut owner: HashMap<Vec<i64>, usize> = HashMap::new();
    let mut labels = Vec::with_capacity(trajectories.len());
    for traj in trajectories {
        let mut seen: HashSet<Vec<i64>> = HashSet::new();
        let (mut recur, mut known, mut last_known) = (0usize, 0usize, usize::MAX);
        let mut label = None;
        for (s, x) in traj.iter().enumerate() {
            let c = cell_of(x, cell);
            if let Some(&k) = owner.get(&c) {
                known = if k == last_known { known + 1 } else { 1 };
                last_known = k;
                if known >= KNOWN_HITS {
                    label = Some(k);
                    break;
                }
            } else {
                known = 0;
                last_known = usize::MAX;
            }
            if seen.contains(&c) {
                recur += 1;
            } else {
                recur = 0;
                seen.insert(c);
            }
            if recur >= RECURRENCES {
                let from = (s + 1).min(traj.len().saturating_sub(COLLECT));
                let points: Vec<Vec<f64>> = traj[from..].to_vec();
                let cells: HashSet<Vec<i64>> = points.iter().map(|p| cell_of(p, cell)).collect();
                let k = match attractors.iter().position(|a| touches(&a.cells, &cells)) {
                    Some(k) => {
                        attractors[k].points.extend(points);
                        attractors[k].cells.extend(cells.iter().cloned());
                        k
                    }
                    None => {
                        attractors.push(Attractor {
                            points,
                            cells: cells.clone(),
                        });
                        attractors.len() - 1
                    }
                };
                for c in &attractors[k].cells {
                    owner.insert(c.clone(), k);
                }
                label = Some(k);
                break;
            }
        }
        labels.push(label);
    }
    Basins { attractors, labels }
}

/// True vs model on the same initial conditions: attractors matched by Hausdorff distance
/// (below `eps`, Hungarian), then per initial condition whether the model's attractor is the
/// match of the true one.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// `(true index, model index, Hausdorff distance)` of matched attractors.
    pub pairs: Vec<(usize, usize, f64)>,
    /// Fraction of initial conditions (with a determined true label) whose model label is
    /// not the match of their true label.
    pub basin_error: Option<f64>,
    /// Total-variation distance between basin fractions, unmatched attractors counting whole:
    /// `1/2 sum_k |f_true(k) - f_model(pi(k))| + 1/2 (unmatched fractions)`.
    pub fraction_distance: f64,
}

/// Compare `truth` and `model` (labels over the same initial conditions).
pub fn compare(truth: &Basins, model: &Basins, eps: f64) -> Comparison {
    let (nt, nm) = (truth.attractors.len(), model.attractors.len());
    let mut cost = crate::linalg::Matrix::zeros(nt, nm);
    for (i, a) in truth.attractors.iter().enumerate() {
        for (j, b) in model.attractors.iter().enumerate() {
            cost.set(i, j, matching::hausdorff(&a.points, &b.points));
        }
    }
    let assign = if nt > 0 && nm > 0 {
        matching::hungarian(&cost)
    } else {
        vec![None; nt]
    };
    let pairs: Vec<(usize, usize, f64)> = assign
        .iter()
        .enumerate()
        .filter_map(|(i, j)| j.map(|j| (i, j, cost.get(i, j))))
        .filter(|p| p.2 < eps)
        .collect();
    let to_model: HashMap<usize, usize> = pairs.iter().map(|p| (p.0, p.1)).collect();
    let determined: Vec<usize> = (0..truth.labels.len())
        .filter(|&i| truth.labels[i].is_some())
        .collect();
    let wrong = determined
        .iter()
        .filter(|&&i| {
            let want = truth.labels[i].and_then(|k| to_model.get(&k).copied());
            want.is_none() || model.labels.get(i).copied().flatten() != want
        })
        .count();
    let basin_error = (!determined.is_empty()).then(|| wrong as f64 / determined.len() as f64);
    let (ft, fm) = (truth.fractions(), model.fractions());
    let mut tv = 0.0;
    let mut used = vec![false; nm];
    for (i, f) in ft.iter().enumerate() {
        match to_model.get(&i) {
            Some(&j) => {
                tv += (f - fm[j]).abs();
                used[j] = true;
            }
            None => tv += f,
        }
    }
    tv += fm
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(f, _)| f)
        .sum::<f64>();
    Comparison {
        pairs,
        basin_error,
        fraction_distance: 0.5 * tv,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settle(x0: f64, target: f64, n: usize) -> Vec<Vec<f64>> {
        (0..n)
            .map(|s| vec![target + (x0 - target) * (-0.2 * s as f64).exp(), 0.0])
            .collect()
    }

    fn circle(r: f64, n: usize, phase: f64) -> Vec<Vec<f64>> {
        (0..n)
            .map(|s| {
                // 21 samples per period.
                let t = phase + std::f64::consts::TAU / 21.0 * s as f64;
                vec![r * t.cos(), r * t.sin()]
            })
            .collect()
    }

    #[test]
    fn two_points_and_a_cycle_with_their_basins() {
        let mut trajs = Vec::new();
        for k in 0..4 {
            trajs.push(settle(0.1 * k as f64, -5.0, 200));
            trajs.push(settle(0.1 * k as f64, 5.0, 200));
            trajs.push(circle(10.0, 200, k as f64));
        }
        let b = map_attractors(&trajs, 0.5);
        assert_eq!(
            b.attractors.len(),
            3,
            "{:?} {:?}",
            b.labels,
            b.attractors
                .iter()
                .map(|a| a.points.len())
                .collect::<Vec<_>>()
        );
        assert!(b.labels.iter().all(|l| l.is_some()));
        let kinds: Vec<&str> = b.attractors.iter().map(|a| a.kind(0.5)).collect();
        assert_eq!(kinds.iter().filter(|k| **k == "point").count(), 2);
        assert_eq!(kinds.iter().filter(|k| **k == "set").count(), 1);
        for f in b.fractions() {
            assert!((f - 1.0 / 3.0).abs() < 1e-12);
        }
        // A model that sends everything to +5 loses two thirds of the initial conditions.
        let one: Vec<Vec<Vec<f64>>> = (0..12).map(|k| settle(0.1 * k as f64, 5.0, 200)).collect();
        let m = map_attractors(&one, 0.5);
        let c = compare(&b, &m, 1.0);
        assert_eq!(c.pairs.len(), 1);
        assert!((c.basin_error.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert!((c.fraction_distance - 2.0 / 3.0).abs() < 1e-12);
        let same = compare(&b, &b, 1.0);
        assert_eq!(same.basin_error, Some(0.0));
        assert!(same.fraction_distance.abs() < 1e-15);
    }

    #[test]
    fn a_continuum_of_fixed_points_is_one_attractor() {
        let trajs: Vec<Vec<Vec<f64>>> = (0..20)
            .map(|k| {
                (0..200)
                    .map(|s| {
                        vec![
                            0.2 * k as f64,
                            (-0.3 * s as f64).exp() * (1.0 + 0.1 * k as f64),
                        ]
                    })
                    .collect()
            })
            .collect();
        let b = map_attractors(&trajs, 0.5);
        assert_eq!(b.attractors.len(), 1);
        assert_eq!(b.attractors[0].kind(0.5), "set");
    }
}
