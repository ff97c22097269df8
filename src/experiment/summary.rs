//! From records to `summary.json`: record steps, seed means of the simulations, discrepancies
//! of each theory source to them, and the learning times of the modes.

use super::config::Spacing;
use super::observable::Observable;
use super::{Discrepancy, Record, SeedRun, Summary};
use crate::train::TrainStatus;
use std::collections::BTreeMap;

/// Record steps: `n` points from 0 to `steps`, linear or log spaced (log includes step 0),
/// deduplicated and sorted.
pub fn record_steps(steps: u64, n: usize, spacing: Spacing) -> Vec<u64> {
    let mut out: Vec<u64> = if steps == 0 {
        vec![0]
    } else if spacing == Spacing::Log {
        let mut v = vec![0u64];
        let m = n.saturating_sub(1).max(1);
        for k in 0..m {
            // m points from step 1 to `steps`; a single one is `steps` itself (not step 1,
            // which with step 0 and `steps` made n + 1 points; found by a property test).
            let e = if m == 1 {
                1.0
            } else {
                k as f64 / (m - 1) as f64
            };
            v.push((steps as f64).powf(e).round() as u64);
        }
        v
    } else {
        (0..n)
            .map(|k| ((k as f64) * steps as f64 / (n - 1) as f64).round() as u64)
            .collect()
    };
    out.push(steps);
    out.sort_unstable();
    out.dedup();
    out
}

/// Key of a record value: (observable, index, time bits).
type Key = (Observable, Option<usize>, u64);

/// Seed-mean of the GD records of the non-diverged seeds, keyed by (observable, index, t).
pub fn seed_mean(records: &[Record], seeds: &[u64]) -> BTreeMap<Key, f64> {
    let mut acc: BTreeMap<Key, (f64, usize)> = BTreeMap::new();
    for r in records {
        if r.source.is_simulation() && r.seed.is_some_and(|s| seeds.contains(&s)) {
            let e = acc
                .entry((r.observable, r.index, r.t.to_bits()))
                .or_insert((0.0, 0));
            e.0 += r.value;
            e.1 += 1;
        }
    }
    acc.into_iter()
        .filter(|(_, (_, n))| *n == seeds.len())
        .map(|(k, (s, n))| (k, s / n as f64))
        .collect()
}

/// First event time of each mode (events are one per mode, index = mode).
pub fn first_hits(hits: &[crate::integrate::EventHit], rank: usize) -> Vec<Option<f64>> {
    (0..rank)
        .map(|a| hits.iter().find(|h| h.index == a).map(|h| h.t))
        .collect()
}

/// Seed-mean GD: first time `u_alpha >= s_alpha / 2`, interpolated between record steps.
pub fn gd_learn_times(records: &[Record], seeds: &[u64], s: &[f64]) -> Option<Vec<Option<f64>>> {
    if seeds.is_empty() {
        return None;
    }
    let mean = seed_mean(records, seeds);
    let mut per_mode: Vec<Vec<(f64, f64)>> = vec![Vec::new(); s.len()];
    for ((obs, idx, tb), v) in &mean {
        if *obs == Observable::ModeStrength {
            if let Some(a) = idx.filter(|a| *a < s.len()) {
                per_mode[a].push((f64::from_bits(*tb), *v));
            }
        }
    }
    if per_mode.iter().all(Vec::is_empty) {
        return None;
    }
    Some(
        per_mode
            .iter_mut()
            .zip(s)
            .map(|(pts, &s_a)| {
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                let target = 0.5 * s_a;
                if pts.first().is_some_and(|p| p.1 >= target) {
                    return pts.first().map(|p| p.0);
                }
                pts.windows(2).find_map(|w| {
                    let ((t0, v0), (t1, v1)) = (w[0], w[1]);
                    (v0 < target && v1 >= target)
                        .then(|| t0 + (target - v0) / (v1 - v0) * (t1 - t0))
                })
            })
            .collect(),
    )
}

/// First time a trajectory reaches half of its final value (linear interpolation), per mode.
fn time_to_half(points: &[(f64, f64)]) -> Option<f64> {
    let &(_, last) = points.last()?;
    let &(_, first) = points.first()?;
    let half = 0.5 * last;
    // A mode that did not grow (stuck at a saddle, or decaying) was never learned.
    if last == 0.0 || !half.is_finite() || last.abs() <= first.abs() {
        return None;
    }
    let above = |v: f64| if last > 0.0 { v >= half } else { v <= half };
    for w in points.windows(2) {
        let ((t0, v0), (t1, v1)) = (w[0], w[1]);
        if above(v0) {
            return Some(t0);
        }
        if above(v1) {
            return Some(t0 + (half - v0) / (v1 - v0) * (t1 - t0));
        }
    }
    points.first().filter(|p| above(p.1)).map(|p| p.0)
}

/// The summary of a run's records: discrepancies of each theory source to the seed-mean
/// simulation and `time_to_half` (`time_to_learn` is filled in by the pipeline).
pub fn summarize(records: &[Record], runs: Vec<SeedRun>, lr: f64, rank: usize) -> Summary {
    let ok_seeds: Vec<u64> = runs
        .iter()
        .filter(|r| matches!(r.status, TrainStatus::Completed))
        .map(|r| r.seed)
        .collect();
    let mean = seed_mean(records, &ok_seeds);
    let mut discrepancy: BTreeMap<String, BTreeMap<String, Discrepancy>> = BTreeMap::new();
    let mut per_source_modes: BTreeMap<String, Vec<Vec<(f64, f64)>>> = BTreeMap::new();
    for r in records {
        if r.observable == Observable::ModeStrength {
            let name = if r.source.is_simulation() {
                None
            } else {
                Some(r.source.name())
            };
            if let (Some(name), Some(a)) = (name, r.index) {
                let v = per_source_modes
                    .entry(name.to_string())
                    .or_insert_with(|| vec![Vec::new(); rank]);
                if a < rank {
                    v[a].push((r.t, r.value));
                }
            }
        }
        if !r.source.is_theory() {
            continue;
        }
        let Some(&m) = mean.get(&(r.observable, r.index, r.t.to_bits())) else {
            continue;
        };
        let d = discrepancy
            .entry(r.source.name().to_string())
            .or_default()
            .entry(r.observable.name().to_string())
            .or_insert(Discrepancy {
                max_abs: 0.0,
                max_rel: 0.0,
                points: 0,
            });
        d.max_abs = d.max_abs.max((r.value - m).abs());
        // max_rel temporarily holds max |mean_sim|; divided below.
        d.max_rel = d.max_rel.max(m.abs());
        d.points += 1;
    }
    for obs in discrepancy.values_mut() {
        for d in obs.values_mut() {
            d.max_rel = if d.max_rel > 0.0 {
                d.max_abs / d.max_rel
            } else {
                f64::NAN
            };
        }
    }
    // Seed-mean GD mode trajectories.
    let mut gd_modes = vec![Vec::new(); rank];
    for ((obs, idx, tb), v) in &mean {
        if *obs == Observable::ModeStrength {
            if let Some(a) = idx.filter(|a| *a < rank) {
                gd_modes[a].push((f64::from_bits(*tb), *v));
            }
        }
    }
    for m in &mut gd_modes {
        m.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let mut time_to_half_map = BTreeMap::new();
    for (name, modes) in per_source_modes {
        time_to_half_map.insert(name, modes.iter().map(|m| time_to_half(m)).collect());
    }
    if !ok_seeds.is_empty() && gd_modes.iter().any(|m| !m.is_empty()) {
        let sim_name = records
            .iter()
            .find(|r| r.source.is_simulation())
            .map_or("gd", |r| r.source.name());
        time_to_half_map.insert(
            sim_name.to_string(),
            gd_modes.iter().map(|m| time_to_half(m)).collect(),
        );
    }
    Summary {
        discrepancy,
        time_to_half: time_to_half_map,
        time_to_learn: BTreeMap::new(),
        lr,
        seeds_in_mean: ok_seeds,
        runs,
    }
}
