//! The checks of deep-linear configs (`[model]`, `[task]`, `[init]` and the `[train]` keys of
//! deep linear runs); the checks every family shares are in `experiment::load`.

use crate::error::Result;
use crate::experiment::config::{
    Config, InitConfig, InitKind, OneOrMany, OptimizerKind, TaskKind, TrainConfig,
};
use crate::experiment::family::fail;

/// The checks of deep-linear configs (`[model]`, `[task]`, `[init]`, and the `[train]` keys
/// that only recurrent runs read), in this order; the first failure is the error.
pub(super) fn validate(c: &Config, origin: &str) -> Result<()> {
    recurrent_only_keys(c, origin)?;
    model(c, origin)?;
    task(c, origin)?;
    init_values(c, origin)?;
    init_keys(c, origin)?;
    batches(c, origin)?;
    Ok(())
}

/// The `[train]` keys only recurrent runs read are not set.
fn recurrent_only_keys(c: &Config, origin: &str) -> Result<()> {
    let err = |key: &str, message: String| fail(origin, key, message);
    let td = TrainConfig::default();
    if c.train.clip.is_some()
        || c.train.truncation.is_some()
        || c.train.schedule != td.schedule
        || c.train.decay.to_bits() != td.decay.to_bits()
        || c.train.decay_every != td.decay_every
    {
        return err(
            "train",
            "clip, schedule, decay, decay_every and truncation apply only to recurrent runs \
             (model.kind = \"rnn\" or \"gru\") so far; remove them for deep linear runs"
                .into(),
        );
    }
    Ok(())
}

/// Largest `model.depth` accepted.
const MAX_DEPTH: usize = 1000;

/// `model.depth` and `model.hidden`.
fn model(c: &Config, origin: &str) -> Result<()> {
    let err = |key: &str, message: String| fail(origin, key, message);
    let m = &c.model;
    if m.depth < 2 {
        return err(
            "model.depth",
            format!("must be >= 2 (number of weight matrices), got {}", m.depth),
        );
    }
    // Bounded before anything is sized by it (a fuzzed depth of 6e18 once asked for 6e18
    // hidden widths).
    if m.depth > MAX_DEPTH {
        return err(
            "model.depth",
            format!(
                "must be <= {MAX_DEPTH} (number of weight matrices), got {}",
                m.depth
            ),
        );
    }
    match m.hidden.expand(m.depth - 1) {
        None => {
            return err(
                "model.hidden",
                format!(
                    "give one width, or a list of depth - 1 = {} widths",
                    m.depth - 1
                ),
            )
        }
        Some(h) if h.contains(&0) => return err("model.hidden", "every width must be >= 1".into()),
        _ => {}
    }
    Ok(())
}

/// `[task]`: a linear teacher with valid singular values, noise and samples.
fn task(c: &Config, origin: &str) -> Result<()> {
    let err = |key: &str, message: String| fail(origin, key, message);
    let t = &c.task;
    if t.kind != TaskKind::LinearTeacher {
        return err(
                "task.kind",
                format!("\"{}\" is a sequence task; deep linear networks learn \"linear_teacher\" (or set model.kind = \"rnn\" or \"gru\")", t.kind.name()),
            );
    }
    if t.d_in == 0 {
        return err("task.d_in", "must be >= 1".into());
    }
    if t.d_out == 0 {
        return err("task.d_out", "must be >= 1".into());
    }
    if t.sigma_yx.is_none() {
        let k = t.d_in.min(t.d_out);
        if t.singular_values.is_empty() || t.singular_values.len() > k {
            return err(
                "task.singular_values",
                format!(
                    "need 1 to min(d_in, d_out) = {k} values, got {}",
                    t.singular_values.len()
                ),
            );
        }
        if t.singular_values
            .iter()
            .any(|s| !(s.is_finite() && *s > 0.0))
        {
            return err(
                "task.singular_values",
                "every value must be finite and > 0".into(),
            );
        }
        if t.singular_values.windows(2).any(|w| w[1] > w[0]) {
            return err(
                "task.singular_values",
                "list them in nonincreasing order (mode 0 is the strongest)".into(),
            );
        }
    }
    if !(t.noise_std >= 0.0 && t.noise_std.is_finite()) {
        return err(
            "task.noise_std",
            format!("must be finite and >= 0, got {}", t.noise_std),
        );
    }
    if let Some(p) = t.samples {
        if p > 0 && t.whiten && p < t.d_in {
            return err(
                "task.samples",
                format!(
                    "whitening needs samples >= d_in = {}; got {p} (or set task.whiten = false)",
                    t.d_in
                ),
            );
        }
    }
    Ok(())
}

/// `[init]` values of the chosen kind.
fn init_values(c: &Config, origin: &str) -> Result<()> {
    let err = |key: &str, message: String| fail(origin, key, message);
    let t = &c.task;
    let i = &c.init;
    if i.kind.has_scale() && !(i.scale > 0.0 && i.scale.is_finite()) {
        return err(
            "init.scale",
            format!("must be finite and > 0, got {}", i.scale),
        );
    }
    if i.kind == InitKind::LambdaBalanced && !i.lambda.is_finite() {
        return err("init.lambda", "must be finite".into());
    }
    if i.kind == InitKind::Aligned {
        if !(i.lambda.is_finite()) {
            return err("init.lambda", "must be finite".into());
        }
        if !(i.perturb >= 0.0 && i.perturb.is_finite()) {
            return err(
                "init.perturb",
                format!("must be finite and >= 0, got {}", i.perturb),
            );
        }
        let u0_ok = match &i.u0 {
            OneOrMany::One(x) => x.is_finite(),
            OneOrMany::Many(v) => !v.is_empty() && v.iter().all(|x| x.is_finite()),
        };
        if !u0_ok {
            return err(
                "init.u0",
                "must be a finite number or a non-empty list of them".into(),
            );
        }
        if t.sigma_yx.is_none() {
            let r = t.singular_values.len();
            if i.u0.expand(r).is_none() {
                return err(
                    "init.u0",
                    format!("give one number, or one per teacher mode ({r})"),
                );
            }
            let narrowest = c.hidden_widths().into_iter().min().unwrap_or(r);
            if narrowest < r {
                return err(
                        "model.hidden",
                        format!(
                            "an aligned init needs every hidden width >= the teacher's rank {r}; the narrowest is {narrowest}"
                        ),
                    );
            }
        }
    }
    Ok(())
}

/// `[init]` keys that only other init kinds read are not set.
fn init_keys(c: &Config, origin: &str) -> Result<()> {
    let err = |key: &str, message: String| fail(origin, key, message);
    let (m, i) = (&c.model, &c.init);
    // Keys that only some init kinds read: setting them for another kind is a mistake.
    let defaults = InitConfig::default();
    // "Changed from its default" is an exact (bitwise) question, not a numerical one.
    let changed = |x: f64, default: f64| x.to_bits() != default.to_bits();
    let only = |key: &str, kinds: &str| {
        err(
            key,
            format!(
                "applies only to init.kind = {kinds}, not \"{}\"; remove it or change init.kind",
                i.kind.name()
            ),
        )
    };
    if i.kind != InitKind::Aligned {
        if i.u0 != defaults.u0 {
            return only("init.u0", "\"aligned\"");
        }
        if changed(i.lambda, defaults.lambda) && i.kind != InitKind::LambdaBalanced {
            return only("init.lambda", "\"aligned\" or \"lambda_balanced\"");
        }
        if changed(i.perturb, defaults.perturb) {
            return only("init.perturb", "\"aligned\"");
        }
    }
    if !i.kind.has_scale() && changed(i.scale, defaults.scale) {
        return only(
            "init.scale",
            "\"gaussian\", \"orthogonal\" or \"lambda_balanced\"",
        );
    }
    if i.kind != InitKind::Npy && !i.weights.is_empty() {
        return only("init.weights", "\"npy\"");
    }
    if i.kind == InitKind::Npy && i.weights.len() != m.depth {
        return err(
            "init.weights",
            format!(
                "give one .npy path per layer ({} for depth {}), got {}",
                m.depth,
                m.depth,
                i.weights.len()
            ),
        );
    }
    Ok(())
}

/// Optimizer and batch size fit the data.
fn batches(c: &Config, origin: &str) -> Result<()> {
    let err = |key: &str, message: String| fail(origin, key, message);
    let t = &c.task;
    let tr = &c.train;
    if tr.optimizer == OptimizerKind::Sgd && t.samples.unwrap_or(0) == 0 {
        return err(
            "train.optimizer",
            "\"sgd\" draws minibatches from finite data: set task.samples (and train.batch_size)"
                .into(),
        );
    }
    if let Some(b) = tr.batch_size {
        if tr.optimizer == OptimizerKind::Gd {
            return err(
                "train.batch_size",
                "applies to \"sgd\" and \"adam\"; gd is full batch".into(),
            );
        }
        if b == 0 || t.samples.is_some_and(|p| b > p) {
            return err(
                "train.batch_size",
                format!(
                    "must be between 1 and task.samples ({}), got {b}",
                    t.samples.unwrap_or(0)
                ),
            );
        }
    }
    Ok(())
}
