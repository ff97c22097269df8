//! Checks of the sections every recurrent family reads: `[task]` (a sequence task),
//! `[sequence]`, the `[train]` keys of sequence data and `[analysis]`.

use crate::error::Result;
use crate::experiment::config::{Config, InitConfig, OneOrMany, OptimizerKind, TaskKind};
use crate::experiment::family::fail;
use crate::experiment::rnn_config::{InputKind, Profile, StudentInput};

/// The checks every recurrent family shares: one hidden size, no `[init]`, a sequence task
/// and its `[sequence]` keys, the `[train]` keys of sequence data, `[analysis]`. `family` is
/// the family's name in messages and `inits` the section that sets its initialization.
pub fn validate_sequence(c: &Config, origin: &str, family: &str, inits: &str) -> Result<()> {
    network(c, origin, family, inits)?;
    sequence_keys(c, origin, family)?;
    task_kind(c, origin)?;
    unused_keys(c, origin)?;
    train_keys(c, origin)?;
    analysis(c, origin)?;
    Ok(())
}

fn pos(x: f64) -> bool {
    x > 0.0 && x.is_finite()
}

fn nonneg(x: f64) -> bool {
    x >= 0.0 && x.is_finite()
}

/// One hidden size and no `[init]` (the family's init is in its own section).
fn network(c: &Config, origin: &str, family: &str, inits: &str) -> Result<()> {
    let err = |key: &str, message: String| fail(origin, key, message);
    if c.model.depth != 2 {
        return err(
            "model.depth",
            format!(
                "does not apply to {family} runs; remove it (the network size is model.hidden)"
            ),
        );
    }
    let hidden = match &c.model.hidden {
        OneOrMany::One(h) => *h,
        OneOrMany::Many(_) => {
            return err(
                "model.hidden",
                format!("a {family} has one hidden size: give one number"),
            )
        }
    };
    if hidden == 0 {
        return err("model.hidden", "must be >= 1".into());
    }
    if c.init != InitConfig::default() {
        return err(
            "init",
            format!(
                "the [init] section is for deep linear networks; {family} inits are set in {inits}"
            ),
        );
    }
    Ok(())
}

/// A sequence task and the `[sequence]` keys every task reads.
fn sequence_keys(c: &Config, origin: &str, family: &str) -> Result<()> {
    let err = |key: &str, message: String| fail(origin, key, message);
    let s = c.sequence.clone().unwrap_or_default();
    let t = &c.task;
    if !TaskKind::SEQUENCE.contains(&t.kind) {
        let allowed: Vec<&str> = TaskKind::SEQUENCE.iter().map(|k| k.name()).collect();
        return err(
            "task.kind",
            format!(
                "\"{}\" is not a sequence task; {family} runs learn one of {allowed:?}",
                t.kind.name()
            ),
        );
    }
    if t.d_in == 0 || t.d_out == 0 {
        return err("task.d_in", "d_in and d_out must be >= 1".into());
    }
    if !nonneg(t.noise_std) {
        return err(
            "task.noise_std",
            format!("must be finite and >= 0, got {}", t.noise_std),
        );
    }
    if t.samples.is_some() {
        return err(
            "task.samples",
            format!(
                "does not apply to {family} runs; the number of sequences is sequence.sequences"
            ),
        );
    }
    if s.steps == 0 {
        return err(
            "sequence.steps",
            "sequences need at least 1 time step".into(),
        );
    }
    if s.sequences == 0 {
        return err("sequence.sequences", "must be >= 1".into());
    }
    if !nonneg(s.input_std) || !nonneg(s.pulse_amplitude) || !s.input_value.is_finite() {
        return err(
            "sequence.input_std",
            "input_std and pulse_amplitude must be finite and >= 0, input_value finite".into(),
        );
    }
    if !(0.0..=1.0).contains(&s.pulse_prob) {
        return err(
            "sequence.pulse_prob",
            format!("must lie in [0, 1], got {}", s.pulse_prob),
        );
    }
    Ok(())
}

/// The keys of the chosen sequence task.
/// Keys with whether they were set, and the tasks that read them.
type KeyGroup<'a> = (&'a [(&'a str, bool)], &'a [TaskKind]);

/// `[sequence]` keys set (to other than their defaults) for a task that does not read them are
/// errors, not silently ignored (issue 15).
fn unused_keys(c: &Config, origin: &str) -> Result<()> {
    let Some(s) = &c.sequence else {
        return Ok(());
    };
    let d = crate::experiment::rnn_config::SequenceConfig::default();
    let kind = c.task.kind;
    let groups: [KeyGroup<'_>; 3] = [
        (
            &[
                ("teacher_hidden", s.teacher_hidden != d.teacher_hidden),
                (
                    "teacher_activation",
                    s.teacher_activation != d.teacher_activation,
                ),
                ("teacher_alpha", s.teacher_alpha != d.teacher_alpha),
                ("eigenvalues", s.eigenvalues != d.eigenvalues),
                ("complex_pairs", s.complex_pairs != d.complex_pairs),
                ("teacher_w", s.teacher_w != d.teacher_w),
                ("observed", s.observed != d.observed),
            ],
            &[TaskKind::TeacherRnn],
        ),
        (
            &[
                ("lags", s.lags != d.lags),
                ("profile", s.profile != d.profile),
            ],
            &[TaskKind::LaggedModes],
        ),
        (
            &[
                ("inputs", s.inputs != d.inputs),
                ("targets", s.targets != d.targets),
            ],
            &[TaskKind::Npy],
        ),
    ];
    for (keys, kinds) in groups {
        if kinds.contains(&kind) {
            continue;
        }
        if let Some((key, _)) = keys.iter().find(|(_, set)| *set) {
            let names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
            return fail(
                origin,
                &format!("sequence.{key}"),
                format!(
                    "applies only to task.kind = {:?}, not \"{}\"; remove it or change task.kind",
                    names.join(", "),
                    kind.name()
                ),
            );
        }
    }
    Ok(())
}

fn task_kind(c: &Config, origin: &str) -> Result<()> {
    let err = |key: &str, message: String| fail(origin, key, message);
    let s = c.sequence.clone().unwrap_or_default();
    let t = &c.task;
    if s.student_input.is_some() && t.kind != TaskKind::TeacherRnn {
        return err(
            "sequence.student_input",
            format!(
                "applies only to task.kind = \"teacher_rnn\", not \"{}\"",
                t.kind.name()
            ),
        );
    }
    if s.student_input == Some(StudentInput::Observed) && t.d_in != t.d_out {
        return err(
            "task.d_in",
            format!("sequence.student_input = \"observed\" feeds the d_out = {} observed units back as the student's inputs (and drives the teacher with as many input channels): d_in must equal d_out", t.d_out),
        );
    }
    match t.kind {
        TaskKind::Integrate => {
            if t.d_in != t.d_out {
                return err(
                    "task.d_out",
                    format!("the integration task maps each input to its running sum: d_out must equal d_in = {}", t.d_in),
                );
            }
            if !s.gamma.is_finite() {
                return err("sequence.gamma", "must be finite".into());
            }
        }
        TaskKind::LaggedModes => {
            let k = t.singular_values.len();
            if k == 0 || k > t.d_in.min(t.d_out) {
                return err(
                    "task.singular_values",
                    format!(
                        "need 1 to min(d_in, d_out) = {} mode strengths",
                        t.d_in.min(t.d_out)
                    ),
                );
            }
            if s.profile == Profile::Geometric {
                if !s.gamma.is_finite() {
                    return err("sequence.gamma", "must be finite".into());
                }
            } else if s.lags.len() != k {
                return err(
                    "sequence.lags",
                    format!("give one lag per mode (task.singular_values has {k})"),
                );
            }
            if let Some(&l) = s
                .lags
                .iter()
                .find(|&&l| s.profile == Profile::Delay && l >= s.steps)
            {
                return err(
                    "sequence.lags",
                    format!(
                        "lag {l} does not fit in sequence.steps = {}: lags must be < steps",
                        s.steps
                    ),
                );
            }
            if t.singular_values.iter().any(|x| !x.is_finite()) {
                return err("task.singular_values", "must be finite".into());
            }
        }
        TaskKind::FlipFlop if t.d_in != t.d_out => {
            return err(
                "task.d_out",
                format!("the flip-flop has one input and one output per bit: d_out must equal d_in = {}", t.d_in),
            );
        }
        TaskKind::TeacherRnn => {
            if s.teacher_hidden == 0 {
                return err("sequence.teacher_hidden", "must be >= 1".into());
            }
            if s.teacher_w.is_none()
                && s.eigenvalues.len() + 2 * s.complex_pairs.len() > s.teacher_hidden
            {
                return err(
                    "sequence.eigenvalues",
                    format!(
                        "{} real eigenvalues and {} complex pairs need teacher_hidden >= {}",
                        s.eigenvalues.len(),
                        s.complex_pairs.len(),
                        s.eigenvalues.len() + 2 * s.complex_pairs.len()
                    ),
                );
            }
            if s.eigenvalues
                .iter()
                .chain(s.complex_pairs.iter().flatten())
                .any(|x| !x.is_finite())
            {
                return err(
                    "sequence.eigenvalues",
                    "eigenvalues and complex pairs must be finite".into(),
                );
            }
            match &s.observed {
                Some(o) => {
                    if o.len() != t.d_out {
                        return err(
                            "sequence.observed",
                            format!("lists the observed units, one per output: needs task.d_out = {} entries, got {}", t.d_out, o.len()),
                        );
                    }
                    if let Some(&u) = o.iter().find(|&&u| u >= s.teacher_hidden) {
                        return err(
                            "sequence.observed",
                            format!("unit {u} does not exist: the teacher has teacher_hidden = {} units (0-based)", s.teacher_hidden),
                        );
                    }
                }
                None => {
                    if t.d_out > s.teacher_hidden {
                        return err(
                            "task.d_out",
                            format!("the first d_out teacher units are observed: d_out must be <= sequence.teacher_hidden = {}", s.teacher_hidden),
                        );
                    }
                }
            }
        }
        TaskKind::Npy if s.inputs.is_none() || s.targets.is_none() => {
            return err(
                "sequence.inputs",
                "task.kind = \"npy\" needs sequence.inputs and sequence.targets (.npy files [batch, time, dim])".into(),
            );
        }
        _ => {}
    }
    Ok(())
}

/// The `[train]` keys of sequence data.
fn train_keys(c: &Config, origin: &str) -> Result<()> {
    let err = |key: &str, message: String| fail(origin, key, message);
    let s = c.sequence.clone().unwrap_or_default();
    let t = &c.task;
    let tr = &c.train;
    if tr.batch_size.is_some_and(|b| {
        b == 0 || (t.kind != TaskKind::Npy && s.input != InputKind::ImpulseBasis && b > s.sequences)
    }) {
        return err(
            "train.batch_size",
            format!("must be between 1 and sequence.sequences ({})", s.sequences),
        );
    }
    if tr.optimizer == OptimizerKind::Gd && tr.batch_size.is_some() {
        return err(
            "train.batch_size",
            "applies to \"sgd\" and \"adam\"; gd is full batch".into(),
        );
    }
    if t.kind == TaskKind::Npy && t.noise_std > 0.0 {
        return err(
            "task.noise_std",
            "observation noise is for synthetic tasks; your .npy targets are used as they are (remove it)".into(),
        );
    }
    if tr.truncation == Some(0) {
        return err(
            "train.truncation",
            "must be >= 1 steps (omit it for full BPTT)".into(),
        );
    }
    Ok(())
}

/// `[analysis]` (fixed points).
fn analysis(c: &Config, origin: &str) -> Result<()> {
    let err = |key: &str, message: String| fail(origin, key, message);
    let a = c.analysis.clone().unwrap_or_default();
    let t = &c.task;
    if a.fixed_points && a.n_inits == 0 {
        return err("analysis.n_inits", "must be >= 1".into());
    }
    let fp_defaults = crate::analysis::fixed_points::FpOptions::default();
    if a.tol_q > fp_defaults.tol_slow {
        return err(
            "analysis.tol_q",
            format!(
                "must be <= {} (points up to that q are kept as slow points)",
                fp_defaults.tol_slow
            ),
        );
    }
    if !nonneg(a.noise_scale) {
        return err(
            "analysis.noise_scale",
            format!("{} must be finite and >= 0", a.noise_scale),
        );
    }
    for (key, v) in [
        ("analysis.tol_q", a.tol_q),
        ("analysis.tol_unique", a.tol_unique),
    ] {
        if !pos(v) {
            return err(key, format!("{v} must be finite and > 0"));
        }
    }
    if let Some(u) = &a.input {
        if u.len() != t.d_in || u.iter().any(|x| !x.is_finite()) {
            return err(
                "analysis.input",
                format!(
                    "give task.d_in = {} finite numbers (the constant input)",
                    t.d_in
                ),
            );
        }
    }
    Ok(())
}
