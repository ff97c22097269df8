//! Golden tests: the outputs of every shipped run config (`configs/*.toml`), scan spec
//! (`configs/scan_*.toml`) and figure spec (`figures/*/spec.toml`, at `--quick` size), run
//! through the real `learndyn` binary, pinned against committed references in
//! `tests/golden/<case>/`.
//!
//! Pinned: `records.csv`, `summary.json`, `manifest.json`, `weights/*.npy`, `fixed_points/*`
//! of runs; `results.csv` and `scan.json` of scans; the same files under `data/` of figures.
//! Not pinned: images, and the JSON members that record when, where and by which build a
//! file was made (`timings_s`, `git_revision`, `learndyn_version`); machine paths in the
//! files are replaced by `<repo>`, `<tmp>` and `learndyn` before comparing.
//!
//! Comparison: each case's references record the machine fingerprint (target, x86 SIMD
//! features, faer version, C library) in `fingerprint.txt`. On a machine with the same
//! fingerprint every float must agree bit for bit; on another one floats agree to a
//! relative 1e-9 of their magnitude (a note is printed). Strings and integers always agree
//! exactly. A failure lists the first mismatches by file, row/path, column, expected, got.
//!
//! Regenerate the references after an **intended** change of outputs with
//!
//! ```sh
//! LEARNDYN_BLESS=1 cargo test --release --test golden
//! ```
//!
//! and list the change, with its reason, in CHANGELOG.md. See `tests/golden/README.md`.
//!
//! Some run configs are run with `--set` overrides so the whole test stays fast and the
//! references small; each override keeps every code path of its config (same model kind,
//! sources, optimizer, init and analyses) and only shortens training or thins the records.

mod golden_support;

use golden_support::{check, repo, Case, Source};
use Source::{Figure, Run, Scan};

macro_rules! golden_cases {
    ($($name:ident: $source:expr $(, [$($set:expr),* $(,)?])?;)*) => {
        /// Every golden case.
        const CASES: &[Case] = &[$(Case {
            name: stringify!($name),
            source: $source,
            set: &[$($($set),*)?],
        },)*];
        $(
            #[test]
            fn $name() {
                check(CASES.iter().find(|c| c.name == stringify!($name)).unwrap());
            }
        )*
    };
}

// Runs: full training length where it is cheap; `output.records` thinned to keep the
// references small (the record schedule, linear or log, is unchanged).
golden_cases! {
    run_deep_balanced: Run("configs/deep_balanced.toml"), ["output.records=16"];
    run_demo: Run("configs/demo.toml"), ["output.records=11"];
    run_finite_samples: Run("configs/finite_samples.toml"), ["output.records=11"];
    run_gaussian_init: Run("configs/gaussian_init.toml"), ["output.records=11"];
    // 3000 Adam steps and 1024 inits take 8 s; 200 steps and 128 inits keep BPTT through the
    // gates, clipping, Adam, the origin spectrum and the fixed-point finder.
    run_gru_flip_flop: Run("configs/gru_flip_flop.toml"),
        ["train.steps=200", "output.records=5", "analysis.n_inits=128"];
    run_lambda_balanced: Run("configs/lambda_balanced.toml"), ["output.records=11"];
    run_non_whitened: Run("configs/non_whitened.toml"), ["output.records=11"];
    // 3000 Adam steps and 1024 fixed-point inits take 9 s; 300 steps and 128 inits keep
    // BPTT, clipping, Adam and the fixed-point finder (its figure case runs 100 steps).
    run_rnn_flip_flop: Run("configs/rnn_flip_flop.toml"),
        ["train.steps=300", "output.records=6", "analysis.n_inits=128"];
    run_rnn_integrator: Run("configs/rnn_integrator.toml"),
        ["output.records=6", "train.seeds=[0, 1]"];
    // 34 s at full size (the 64-unit gradient flow); 300 steps keep the flow, which its
    // figure case drops.
    run_rnn_integrator_bulk: Run("configs/rnn_integrator_bulk.toml"),
        ["train.steps=300", "output.records=4", "train.seeds=[0]"];
    run_rnn_integrator_lowrank: Run("configs/rnn_integrator_lowrank.toml"),
        ["output.records=6", "train.seeds=[0, 1]"];
    // 3000 Adam steps take 0.3 s; 300 keep the closed form and the closed-loop spectrum.
    run_rnn_partial_observation: Run("configs/rnn_partial_observation.toml"),
        ["train.steps=300", "output.records=4"];
    run_rnn_temporal_precedence: Run("configs/rnn_temporal_precedence.toml"),
        ["output.records=11"];
    run_sgd_adam: Run("configs/sgd_adam.toml"), ["output.records=11"];
    run_unbalanced: Run("configs/unbalanced.toml"), ["output.records=11"];
    // Scans at full size (each takes a few seconds at most).
    scan_lr_width: Scan("configs/scan_lr_width.toml");
    scan_smoke: Scan("configs/scan_smoke.toml");
    scan_time_to_learn: Scan("configs/scan_time_to_learn.toml");
    // Figures at their spec's --quick size.
    figure_aligned_oblique: Figure("aligned_oblique");
    figure_ctdb_latent_sweep: Figure("ctdb_latent_sweep");
    figure_depth_plateau: Figure("depth_plateau");
    figure_duffing_out_of_domain: Figure("duffing_out_of_domain");
    figure_galgali_trio: Figure("galgali_trio");
    figure_kunin_single_neuron: Figure("kunin_single_neuron");
    figure_lazy_rich: Figure("lazy_rich");
    figure_lr_scaling: Figure("lr_scaling");
    figure_mean_field: Figure("mean_field");
    figure_outlier_lazy_rich: Figure("outlier_lazy_rich");
    figure_outlier_pair: Figure("outlier_pair");
    figure_partial_observation: Figure("partial_observation");
    figure_procedure_timescales: Figure("procedure_timescales");
    figure_random_init: Figure("random_init");
    figure_riccati_unaligned: Figure("riccati_unaligned");
    figure_rnn_flip_flop: Figure("rnn_flip_flop");
    figure_rnn_integrator: Figure("rnn_integrator");
    figure_rnn_integrator_bulk: Figure("rnn_integrator_bulk");
    figure_rnn_integrator_lowrank: Figure("rnn_integrator_lowrank");
    figure_ring_recovery: Figure("ring_recovery");
    figure_rnn_temporal_precedence: Figure("rnn_temporal_precedence");
    figure_saxe_modes: Figure("saxe_modes");
    figure_validity_data: Figure("validity_data");
    figure_validity_map: Figure("validity_map");
}

/// Every shipped config, scan spec and figure spec has a case, and every reference folder
/// belongs to a case, so a new config cannot go unpinned and a removed one leaves no stale
/// references.
#[test]
fn every_config_and_figure_has_a_case() {
    let mut expected = Vec::new();
    for e in std::fs::read_dir(repo().join("configs")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            // Recovery dataset specs are not run configs: `cli::recovery_data_and_score_
            // through_the_cli` makes and scores each one (and tests/recovery_run.rs runs the
            // recovery run specs, `recovery_run_*`).
            if stem.starts_with("recovery_") {
                continue;
            }
            if stem.starts_with("scan_") {
                expected.push(stem);
            } else {
                expected.push(format!("run_{stem}"));
            }
        }
    }
    for e in std::fs::read_dir(repo().join("figures")).unwrap() {
        let p = e.unwrap().path();
        if p.join("spec.toml").is_file() {
            let id = p.file_name().unwrap().to_string_lossy().into_owned();
            expected.push(format!("figure_{id}"));
        }
    }
    let names: Vec<&str> = CASES.iter().map(|c| c.name).collect();
    let missing: Vec<&String> = expected
        .iter()
        .filter(|e| !names.contains(&e.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "add golden cases to tests/golden.rs for {missing:?}, then bless them"
    );
    for c in CASES {
        let path = match c.source {
            Run(p) | Scan(p) => repo().join(p),
            Figure(id) => repo().join("figures").join(id).join("spec.toml"),
        };
        assert!(
            path.is_file(),
            "{}: {} does not exist",
            c.name,
            path.display()
        );
    }
    let golden = repo().join("tests").join("golden");
    if !golden_support::blessing() {
        for e in std::fs::read_dir(&golden).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                assert!(
                    names.contains(&name.as_str()),
                    "{} belongs to no golden case; delete it",
                    p.display()
                );
            }
        }
    }
}
