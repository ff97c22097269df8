//! Property tests (issue 14 item 17): record steps, the config's TOML round trip, and the
//! gradient-flow times of learning-rate schedules against their closed-form sums.
use learndyn::experiment::config::{Config, Spacing};
use learndyn::experiment::summary::record_steps;
use learndyn::train::{schedule_times, Schedule};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Record steps are sorted, unique, start at 0, end at `steps` and number at most `n`.
    #[test]
    fn record_steps_are_sorted_unique_and_end_at_steps(
        steps in 0u64..2_000_000,
        n in 2usize..400,
        log in any::<bool>(),
    ) {
        let spacing = if log { Spacing::Log } else { Spacing::Linear };
        let s = record_steps(steps, n, spacing);
        prop_assert_eq!(s[0], 0);
        prop_assert_eq!(*s.last().unwrap(), steps);
        prop_assert!(s.windows(2).all(|w| w[0] < w[1]), "{:?}", s);
        prop_assert!(s.len() <= n.max(2), "{} > {}", s.len(), n);
    }

    /// `to_toml` then parsing gives the same config back, for configs changed by random
    /// overrides (numbers written in shortest round-trip form, so floats survive exactly).
    #[test]
    fn config_toml_round_trip(
        lr in 1e-6f64..1.0,
        steps in 1u64..100_000,
        hidden in 3usize..64,
        seeds in proptest::collection::vec(0u64..1_000_000, 1..6),
        eps in 1e-12f64..1e-3,
        u0 in 1e-4f64..1.0,
        records in 2usize..500,
    ) {
        let seeds: Vec<String> = seeds.iter().map(u64::to_string).collect();
        let sets = vec![
            format!("train.lr={lr:?}"),
            format!("train.steps={steps}"),
            format!("model.hidden={hidden}"),
            format!("train.seeds=[{}]", seeds.join(", ")),
            format!("init.u0={u0:?}"),
            format!("output.records={records}"),
            format!("train.eps={eps:?}"),
        ];
        let c = Config::from_toml("", "<test>", &sets).unwrap();
        let text = c.to_toml();
        let back = Config::from_toml(&text, "<round trip>", &[]).unwrap();
        prop_assert_eq!(&c, &back, "{}", text);
    }

    /// Step and exponential schedules: the gradient-flow time at step `s` is the sum of the
    /// rates before it, in closed form a geometric series (`Step`: full periods of `every`
    /// steps, then the remainder; `Exponential`: ratio `factor^(1/every)` per step), to the
    /// rounding of `s` additions.
    #[test]
    fn schedule_times_are_the_summed_rates(
        lr in 1e-4f64..0.5,
        factor in 0.3f64..0.999,
        every in 1u64..50,
        steps in proptest::collection::vec(0u64..3000, 1..8),
    ) {
        let mut steps = steps;
        steps.sort_unstable();
        steps.dedup();
        let step = schedule_times(&Schedule::Step { factor, every }, lr, &steps);
        let expo = schedule_times(&Schedule::Exponential { factor, every }, lr, &steps);
        let q = factor.powf(1.0 / every as f64);
        for (k, &s) in steps.iter().enumerate() {
            let (p, r) = (s / every, s % every);
            let fp = factor.powi(p as i32);
            let want_step = lr * every as f64 * (1.0 - fp) / (1.0 - factor) + lr * r as f64 * fp;
            let want_expo = lr * (1.0 - q.powi(s as i32)) / (1.0 - q);
            // s additions of values <= lr: absolute error <= s eps (sum), with slack for the
            // powers (each within a few ulps).
            let tol = 8.0 * (s as f64 + 1.0) * f64::EPSILON * lr * (s as f64).max(1.0);
            prop_assert!((step[k] - want_step).abs() <= tol, "step s={} {} vs {}", s, step[k], want_step);
            prop_assert!((expo[k] - want_expo).abs() <= tol.max(1e-12 * want_expo / (1.0 - q)),
                "exponential s={} {} vs {}", s, expo[k], want_expo);
        }
    }
}

/// Keys of every section, a few wrong ones among them, for the fuzzer below.
const KEYS: &[(&str, &[&str])] = &[
    ("model", &["kind", "depth", "hidden", "widths"]),
    (
        "task",
        &[
            "kind",
            "d_in",
            "d_out",
            "singular_values",
            "samples",
            "noise_std",
            "seed",
            "whiten",
        ],
    ),
    ("init", &["kind", "scale", "u0", "lambda"]),
    (
        "train",
        &[
            "lr",
            "steps",
            "seeds",
            "optimizer",
            "batch_size",
            "clip",
            "schedule",
            "eps",
        ],
    ),
    (
        "output",
        &["records", "spacing", "format", "figure", "weights"],
    ),
    (
        "integrate",
        &["method", "rtol", "atol", "max_steps", "fixed_step"],
    ),
    (
        "rnn",
        &["form", "activation", "alpha", "rank", "g", "noise_std"],
    ),
    (
        "sequence",
        &["steps", "sequences", "input", "lags", "profile", "observed"],
    ),
    (
        "analysis",
        &["fixed_points", "n_inits", "noise_scale", "tol_q"],
    ),
    ("gru", &["init", "gain", "bias"]),
    ("nonsense", &["x"]),
];

fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|v| v.to_string()),
        (-1e12f64..1e12).prop_map(|v| format!("{v:?}")),
        Just("nan".to_string()),
        Just("inf".to_string()),
        Just("-0.0".to_string()),
        "[a-z_]{0,12}".prop_map(|s| format!("\"{s}\"")),
        any::<bool>().prop_map(|b| b.to_string()),
        proptest::collection::vec(-5i64..1_000_000_000_000, 0..5).prop_map(|v| format!("{v:?}")),
        proptest::collection::vec(-3.0f64..3.0, 0..4).prop_map(|v| format!("{v:?}")),
        "[\\[\\]{}=,.0-9a-z\"-]{0,10}",
    ]
}

fn assignment() -> impl Strategy<Value = (usize, usize, String)> {
    (0..KEYS.len(), 0usize..8, toml_value())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Random TOML documents (known and unknown sections and keys, values of any type,
    /// malformed text) and random `--set` values never panic: a config either loads and its
    /// problem checks (or is refused with an error), or the error names what is wrong
    /// (issue 15). Sizes are kept from exhausting memory by the memory estimate.
    #[test]
    fn check_never_panics_on_random_configs(
        doc in proptest::collection::vec(assignment(), 0..8),
        sets in proptest::collection::vec(assignment(), 0..3),
    ) {
        let mut text = String::new();
        for (s, k, v) in &doc {
            let (sec, keys) = KEYS[*s];
            text.push_str(&format!("[{sec}]\n{} = {v}\n", keys[k % keys.len()]));
        }
        let overrides: Vec<String> = sets
            .iter()
            .map(|(s, k, v)| {
                let (sec, keys) = KEYS[*s];
                format!("{sec}.{}={v}", keys[k % keys.len()])
            })
            .collect();
        let result = std::panic::catch_unwind(|| {
            match learndyn::experiment::load_builtin("fuzz", &text, &overrides) {
                Ok(loaded) => {
                    let _ = learndyn::experiment::check_problem(&loaded);
                }
                Err(e) => assert!(!e.to_string().is_empty()),
            }
        });
        prop_assert!(result.is_ok(), "panicked on:\n{}\n--set {:?}", text, overrides);
    }
}

/// The case the property test found: log spacing with 2 records is steps 0 and `steps`.
#[test]
fn log_spaced_two_records_are_the_ends() {
    assert_eq!(record_steps(2, 2, Spacing::Log), vec![0, 2]);
    assert_eq!(record_steps(1000, 2, Spacing::Log), vec![0, 1000]);
    assert_eq!(record_steps(1000, 3, Spacing::Log), vec![0, 1, 1000]);
}
