//! The value columns of a recovery run table (the output contract, docs/recovery.md): what
//! the dataset and the fit report, then each metric's scalar fields of `score.json`
//! flattened to `M<id>_<name>` (the metric's `value`) and `M<id>_<field>` (its scalar
//! details). A cell is `nan` where `score.json` has `null` (the metric does not apply, the
//! reason is in `score.json`); booleans are 1 / 0.

use super::spec::MetricId;
use serde_json::Value;

/// Columns about the job itself, before the scores: the observed neurons (after
/// `observe.fraction`), the true state dimension, the fitted state dimension and the fit's
/// one-step-ahead R^2 on the training and on the validation + test trials.
pub const JOB_COLUMNS: [&str; 5] = [
    "neurons",
    "system_dim",
    "state_dim",
    "one_step_r2_train",
    "one_step_r2_eval",
];

/// Per metric: its ID, its name (the column of its `value`) and the scalar fields of its
/// `score.json` entry that get a column each, in table order.
pub const SCORE_COLUMNS: [(MetricId, &str, &[&str]); 17] = [
    (MetricId::M1, "rate_R2", &[]),
    (MetricId::M2, "co_bps", &[]),
    (MetricId::M3, "fewshot_co_bps", &[]),
    (MetricId::M4, "state_R2", &[]),
    (MetricId::M5, "latent_R2", &[]),
    (MetricId::M6, "cycle_consistency", &[]),
    (MetricId::M7, "DSA", &["angular", "euclidean"]),
    (MetricId::M8, "D_H", &["D_stsp"]),
    (MetricId::M9, "E_top", &[]),
    (
        MetricId::M10,
        "stable_fp_F1",
        &[
            "precision",
            "recall",
            "true_stable",
            "model_stable",
            "matched",
            "mean_matched_distance_over_diameter",
        ],
    ),
    (
        MetricId::M11,
        "index_agreement",
        &[
            "matched",
            "graph_edit_distance",
            "graph_edit_distance_normalized",
            "true_graph_edges",
            "model_graph_edges",
        ],
    ),
    (
        MetricId::M12,
        "timescale_error",
        &[
            "eigenvalue_wasserstein",
            "matched",
            "true_top_multiplier",
            "model_top_multiplier",
        ],
    ),
    (
        MetricId::M13,
        "continuous_attractor",
        &[
            "hausdorff",
            "slow_points",
            "slow_samples",
            "mean_marginal_modes",
            "true_marginal_modes",
            "tangency",
            "betti_match",
            "drift_max",
            "drift_mean",
            "true_drift_max",
            "memory_time",
        ],
    ),
    (
        MetricId::M14,
        "limit_cycle",
        &[
            "true_period",
            "true_period_estimate",
            "model_period_estimate",
            "distance_to_true_cycle_over_diameter",
        ],
    ),
    (
        MetricId::M15,
        "spurious_attractors",
        &["outside_data_domain"],
    ),
    (
        MetricId::M16,
        "domain_of_validity",
        &["e_top_outside", "inside", "outside"],
    ),
    (
        MetricId::M17,
        "attractors_by_recurrences",
        &[
            "true_attractors",
            "model_attractors",
            "matched",
            "basin_fraction_distance",
            "true_undetermined",
            "model_undetermined",
        ],
    ),
];

/// Scalar fields of `score.json` entries that have no column: hyperparameters of the
/// estimators, and copies of the entry's `value`. (Every other scalar field has a column; a
/// test holds the two lists to the scorer's output.)
pub const NOT_IN_TABLE: [(MetricId, &str); 11] = [
    (MetricId::M6, "variance_threshold"),
    (MetricId::M7, "components"),
    (MetricId::M7, "n_delays"),
    (MetricId::M7, "delay_interval"),
    (MetricId::M7, "rank"),
    (MetricId::M7, "ridge"),
    (MetricId::M7, "trials"),
    (MetricId::M7, "true_operator_rank"),
    (MetricId::M7, "model_operator_rank"),
    (MetricId::M15, "inside_data_domain"),
    (MetricId::M16, "e_top_inside"),
];

/// `score.json` key of a metric ID (`"M4"`).
pub fn id_name(id: MetricId) -> String {
    format!("{id:?}")
}

/// The score columns of `metrics` (all when `None`), as `(column, ID, field)` with field
/// `value` for the metric's value.
pub fn score_columns(metrics: Option<&[MetricId]>) -> Vec<(String, MetricId, &'static str)> {
    let mut out = Vec::new();
    for (id, name, fields) in SCORE_COLUMNS {
        if metrics.is_some_and(|m| !m.contains(&id)) {
            continue;
        }
        let n = id_name(id);
        out.push((format!("{n}_{name}"), id, "value"));
        for f in fields {
            out.push((format!("{n}_{f}"), id, *f));
        }
    }
    out
}

/// A `score.json` field as a number: numbers as they are, booleans 1 / 0, anything else
/// (null, missing) NaN.
pub fn number(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::Bool(b) => f64::from(u8::from(*b)),
        _ => f64::NAN,
    }
}
