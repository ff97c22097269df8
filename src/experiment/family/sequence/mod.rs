//! What the recurrent families (RNN, GRU) share: the sequence task built from `[task]` and
//! `[sequence]` (SQ-*), its checks, the `[analysis]` fixed-point options, and the records of
//! the spectrum of a linearization (AN-1..AN-3).

mod checks;

pub use checks::validate_sequence;

use crate::analysis::fixed_points::FpOptions;
use crate::analysis::spectra::{self, TimeKind};
use crate::error::{Error, Result};
use crate::experiment::config::{LoadedConfig, TaskKind};
use crate::experiment::family::Stamp;
use crate::experiment::observable::{Observable, Wanted};
use crate::experiment::rnn_config::{
    AnalysisConfig, InputKind, Profile, Readout, SequenceConfig, StudentInput,
};
use crate::experiment::Record;
use crate::linalg::Matrix;
use crate::model::rnn::SeqBatch;
use crate::random::{self, stream};
use crate::task::sequences::{self, InputProcess, LaggedModes, SeqData, TeacherRnn};
use num_complex::Complex64;

/// Teacher modes of a task with a known lag structure (the reduced theories' assumptions).
#[derive(Debug, Clone)]
pub struct TaskModes {
    /// Input directions `V` (`d_in x K`).
    pub v: Matrix,
    /// Output directions `U` (`d_out x K`).
    pub u: Matrix,
    /// Lag profile `s_k` of every mode (`k = 0..T-1`).
    pub profiles: Vec<Vec<f64>>,
    /// The lag at which each mode's strength is measured (`mode_strength`).
    pub lags: Vec<usize>,
}

/// The training sequences of a recurrent run.
#[derive(Debug, Clone)]
pub struct SequenceTask {
    /// Training data (with its time weights).
    pub data: SeqBatch,
    /// Teacher modes, for `integrate` and `lagged_modes`.
    pub modes: Option<TaskModes>,
    /// Whether the inputs are the impulse basis (population loss of linear models).
    pub population: bool,
    /// The teacher RNN of a `teacher_rnn` task.
    pub teacher: Option<TeacherFacts>,
}

/// The teacher of a `teacher_rnn` task and what its student reads (the partial-observation
/// closed form, PO-10).
#[derive(Debug, Clone)]
pub struct TeacherFacts {
    /// The teacher network.
    pub rnn: TeacherRnn,
    /// Its observed units (the targets, in order).
    pub observed: Vec<usize>,
    /// Whether the student reads the observed units at the previous step
    /// (`sequence.student_input = "observed"`) instead of the teacher's inputs.
    pub student_reads_observed: bool,
}

/// A config error of `loaded`'s file at `key`.
pub fn cfg_err(loaded: &LoadedConfig, key: &str, message: String) -> Error {
    Error::Config {
        file: loaded.origin.clone(),
        key: key.into(),
        message,
    }
}

/// Identity matrix.
fn eye(n: usize) -> Matrix {
    let mut m = Matrix::zeros(n, n);
    for i in 0..n {
        m.set(i, i, 1.0);
    }
    m
}

/// `rows x cols` with i.i.d. `N(0, sd^2)` entries drawn column-major from `rng`.
pub fn gaussian(rng: &mut rand::rngs::ChaCha8Rng, rows: usize, cols: usize, sd: f64) -> Matrix {
    use rand_distr::{Distribution, StandardNormal};
    let mut a = Matrix::zeros(rows, cols);
    for j in 0..cols {
        for i in 0..rows {
            let z: f64 = StandardNormal.sample(rng);
            a.set(i, j, sd * z);
        }
    }
    a
}

/// The fixed-point finder's options of `[analysis]`, with the run's `seed`.
pub fn fp_options(a: &AnalysisConfig, seed: u64) -> FpOptions {
    FpOptions {
        n_inits: a.n_inits,
        noise_scale: a.noise_scale,
        tol_q: a.tol_q,
        tol_unique: a.tol_unique,
        seed,
        ..FpOptions::default()
    }
}

/// Records of the eigenvalues `ev` of a linearization (already in the AN-1 order), with the
/// timescale of each given by `timescale` (AN-2).
pub fn push_spectrum(
    out: &mut Vec<Record>,
    at: Stamp,
    ev: &[Complex64],
    timescale: &dyn Fn(Complex64) -> f64,
    want: &Wanted,
) {
    for (i, l) in ev.iter().enumerate() {
        if want.has(Observable::EigenvalueRe) {
            out.push(at.record(Observable::EigenvalueRe, Some(i), l.re));
        }
        if want.has(Observable::EigenvalueIm) {
            out.push(at.record(Observable::EigenvalueIm, Some(i), l.im));
        }
        if want.has(Observable::Timescale) {
            out.push(at.record(Observable::Timescale, Some(i), timescale(*l)));
        }
    }
}

/// The eigenvalues of `m` in the AN-1 order of `kind` (NaN if they cannot be computed, e.g.
/// a diverged run).
pub fn sorted_eigenvalues(m: &Matrix, kind: TimeKind) -> Vec<Complex64> {
    spectra::sorted_eigenvalues(m, kind)
        .unwrap_or_else(|_| vec![Complex64::new(f64::NAN, f64::NAN); m.nrows()])
}

/// Records of the singular values `sv` of the change of a linearization since the init
/// (nonincreasing) and its effective rank (AN-3).
pub fn push_delta(out: &mut Vec<Record>, at: Stamp, sv: &[f64], want: &Wanted) {
    if want.has(Observable::DeltaSingularValue) {
        for (i, &s) in sv.iter().enumerate() {
            out.push(at.record(Observable::DeltaSingularValue, Some(i), s));
        }
    }
    if want.has(Observable::EffectiveRank) {
        out.push(at.record(Observable::EffectiveRank, None, spectra::effective_rank(sv)));
    }
}

/// Singular values of `d` (NaN if they cannot be computed).
pub fn singular_values(d: &Matrix) -> Vec<f64> {
    crate::linalg::singular_values(d.view()).unwrap_or_else(|_| vec![f64::NAN; d.nrows()])
}

/// Build the sequence task of `loaded` (reads the `.npy` files it names).
pub fn build_task(loaded: &LoadedConfig) -> Result<SequenceTask> {
    let c = &loaded.config;
    let s = c.sequence.clone().unwrap_or_default();
    let t = &c.task;
    let steps = s.steps;
    let process = match s.input {
        InputKind::WhiteNoise => InputProcess::WhiteNoise { std: s.input_std },
        InputKind::Pulses => InputProcess::Pulses {
            prob: s.pulse_prob,
            amplitude: s.pulse_amplitude,
        },
        InputKind::Constant => InputProcess::Constant {
            value: s.input_value,
        },
        InputKind::ImpulseBasis => InputProcess::ImpulseBasis,
    };
    let population = matches!(process, InputProcess::ImpulseBasis);
    let inputs = || sequences::generate_inputs(&process, t.d_in, steps, s.sequences, t.seed);
    let mut modes = None;
    let mut teacher = None;
    let seq: SeqData = match t.kind {
        TaskKind::Integrate => {
            let (x, b) = inputs()?;
            let y = sequences::integrate_targets(&x, steps, b, s.gamma)?;
            let d = t.d_in;
            modes = Some(TaskModes {
                v: eye(d),
                u: eye(d),
                profiles: vec![(0..steps).map(|k| s.gamma.powi(k as i32)).collect(); d],
                lags: vec![0; d],
            });
            SeqData {
                x,
                y,
                steps,
                batch: b,
            }
        }
        TaskKind::LaggedModes => {
            let profiles: Vec<Vec<f64>> = t
                .singular_values
                .iter()
                .zip(0..)
                .enumerate()
                .map(|(a, (&sv, _))| {
                    (0..steps)
                        .map(|k| {
                            if s.profile == Profile::Geometric {
                                sv * s.gamma.powi(k as i32)
                            } else if k == s.lags[a] {
                                sv
                            } else {
                                0.0
                            }
                        })
                        .collect()
                })
                .collect();
            let teacher = LaggedModes::random(t.d_in, t.d_out, profiles.clone(), t.seed)?;
            let (x, b) = inputs()?;
            let y = sequences::lag_filter(&teacher.lag_matrices(), &x, steps, b)?;
            modes = Some(TaskModes {
                v: teacher.v.clone(),
                u: teacher.u.clone(),
                profiles,
                lags: if s.profile == Profile::Geometric {
                    vec![0; t.singular_values.len()]
                } else {
                    s.lags.clone()
                },
            });
            SeqData {
                x,
                y,
                steps,
                batch: b,
            }
        }
        TaskKind::FlipFlop => {
            sequences::flip_flop(t.d_in, steps, s.sequences, s.pulse_prob, t.seed)?
        }
        TaskKind::TeacherRnn => {
            let (seq, facts) = teacher_rnn_data(loaded, &s, &inputs)?;
            teacher = Some(facts);
            seq
        }
        TaskKind::Npy => npy_data(loaded, &s)?,
        TaskKind::LinearTeacher => {
            return Err(cfg_err(
                loaded,
                "task.kind",
                "\"linear_teacher\" is not a sequence task".into(),
            ))
        }
    };
    // Observation noise on the targets of the synthetic tasks (teacher_rnn adds its own).
    let seq = if t.noise_std > 0.0 && !matches!(t.kind, TaskKind::TeacherRnn | TaskKind::Npy) {
        let y = sequences::observe(&seq.y, None, None, t.noise_std, t.seed)?;
        SeqData { y, ..seq }
    } else {
        seq
    };
    let (steps, batch) = (seq.steps, seq.batch);
    let mut data = SeqBatch::new(seq.x, seq.y, steps, batch)?;
    if s.readout == Readout::Last {
        let mut w = vec![0.0; steps];
        w[steps - 1] = 1.0;
        data = data.with_time_weights(w)?;
    }
    Ok(SequenceTask {
        data,
        modes,
        population,
        teacher,
    })
}

/// The `teacher_rnn` task: a teacher RNN (from `sequence.teacher_w` or a drawn spectrum)
/// driven by the inputs, observed at `sequence.observed` with `task.noise_std`. With
/// `sequence.student_input = "observed"` the student's inputs are the (noisy) observed units
/// one step earlier, `x_t = y_{t-1}` and `x_0 = 0` (PO-10).
fn teacher_rnn_data(
    loaded: &LoadedConfig,
    s: &SequenceConfig,
    inputs: &dyn Fn() -> Result<(Matrix, usize)>,
) -> Result<(SeqData, TeacherFacts)> {
    let t = &loaded.config.task;
    let steps = s.steps;
    let w = match &s.teacher_w {
        Some(p) => crate::npy::read_matrix(&loaded.resolve_path(p)).map_err(|e| {
            cfg_err(
                loaded,
                "sequence.teacher_w",
                format!("{e} (paths are relative to the config file's folder)"),
            )
        })?,
        None => {
            let pairs: Vec<(f64, f64)> = s.complex_pairs.iter().map(|p| (p[0], p[1])).collect();
            sequences::spectrum_matrix(s.teacher_hidden, &s.eigenvalues, &pairs, t.seed)?
        }
    };
    if w.nrows() != s.teacher_hidden || w.ncols() != s.teacher_hidden {
        return Err(cfg_err(
            loaded,
            "sequence.teacher_w",
            format!(
                "is {}x{}, but sequence.teacher_hidden = {} needs a square {}x{} matrix",
                w.nrows(),
                w.ncols(),
                s.teacher_hidden,
                s.teacher_hidden,
                s.teacher_hidden
            ),
        ));
    }
    // Its own stream: spectrum_matrix draws the eigenvectors from TEACHER, and
    // sharing it would align U with the first eigenvectors.
    let mut rng = random::rng(t.seed, stream::TEACHER_INPUT);
    let sc = 1.0 / (t.d_in as f64).sqrt();
    let u = gaussian(&mut rng, s.teacher_hidden, t.d_in, sc);
    let teacher = TeacherRnn {
        w,
        u,
        c: None,
        activation: s.teacher_activation,
        alpha: s.teacher_alpha,
    };
    let (x, b) = inputs()?;
    let states = teacher.states(&x, steps, b)?;
    let observed: Vec<usize> = s.observed.clone().unwrap_or_else(|| (0..t.d_out).collect());
    let y = sequences::observe(&states, Some(&observed), None, t.noise_std, t.seed)?;
    let reads = s.student_input == Some(StudentInput::Observed);
    // Columns are step-major (column t * batch + j); the student's input at step t is the
    // observation at step t - 1.
    let x = if reads {
        let d = y.nrows();
        Matrix::from_fn(
            d,
            steps * b,
            |i, col| {
                if col < b {
                    0.0
                } else {
                    y.get(i, col - b)
                }
            },
        )
    } else {
        x
    };
    let facts = TeacherFacts {
        rnn: teacher,
        observed,
        student_reads_observed: reads,
    };
    Ok((
        SeqData {
            x,
            y,
            steps,
            batch: b,
        },
        facts,
    ))
}

/// The `npy` task: the user's `[batch, time, dim]` inputs and targets.
fn npy_data(loaded: &LoadedConfig, s: &SequenceConfig) -> Result<SeqData> {
    let t = &loaded.config.task;
    let (xi, yi) = (
        s.inputs.as_deref().unwrap_or_default(),
        s.targets.as_deref().unwrap_or_default(),
    );
    for (key, p) in [("sequence.inputs", xi), ("sequence.targets", yi)] {
        if p.trim().is_empty() {
            return Err(cfg_err(
                loaded,
                key,
                "is empty; give the path of a [batch, time, dim] float64 .npy file".into(),
            ));
        }
    }
    let (xp, yp) = (loaded.resolve_path(xi), loaded.resolve_path(yi));
    let d = sequences::load_npy_sequences(&xp, &yp).map_err(|e| {
        // Name the key of the file that failed (both, for a shape mismatch between them).
        let key = match &e {
            Error::Npy { path, .. } | Error::Io { path, .. }
                if *path == yp.display().to_string() =>
            {
                "sequence.targets"
            }
            Error::Invalid { what, .. } if *what == yp.display().to_string() => "sequence.targets",
            _ => "sequence.inputs",
        };
        cfg_err(loaded, key, e.to_string())
    })?;
    if d.x.nrows() != t.d_in || d.y.nrows() != t.d_out {
        return Err(cfg_err(
            loaded,
            "task.d_in",
            format!(
                "the .npy data have d_in = {} and d_out = {}, but the config says task.d_in = {} and task.d_out = {}; make them agree",
                d.x.nrows(),
                d.y.nrows(),
                t.d_in,
                t.d_out
            ),
        ));
    }
    Ok(d)
}

/// The memory of a recurrent problem (RNN, GRU): `params` parameters, `state_copies` arrays of
/// `steps x sequences x hidden` kept by BPTT (states, pre-activations, gates, deltas), the
/// sequences and the teacher's states, Jacobians of the analyses, and the records.
pub(crate) fn recurrent_memory(
    c: &crate::experiment::config::Config,
    params: usize,
    state_copies: usize,
    observables: usize,
) -> Vec<crate::experiment::memory::Item> {
    use crate::experiment::memory::{f64s, Item};
    let default = crate::experiment::rnn_config::SequenceConfig::default();
    let s = c.sequence.as_ref().unwrap_or(&default);
    let hidden = c.hidden_widths().first().copied().unwrap_or(8);
    let seeds = c.train.seeds.len().max(1);
    let io = c.task.d_in.saturating_add(c.task.d_out);
    let n_inits = c.analysis.as_ref().map_or(0, |a| a.n_inits);
    vec![
        super::params_memory(params, seeds),
        Item {
            what: "BPTT states",
            key: "sequence.steps, sequence.sequences or model.hidden",
            bytes: f64s(&[s.steps, s.sequences, hidden, state_copies, seeds]),
        },
        Item {
            what: "sequences",
            key: "sequence.sequences",
            bytes: f64s(&[s.steps, s.sequences, io]),
        },
        Item {
            what: "teacher states",
            key: "sequence.teacher_hidden",
            bytes: if c.task.kind == crate::experiment::config::TaskKind::TeacherRnn {
                f64s(&[s.steps, s.sequences, s.teacher_hidden])
                    .saturating_add(f64s(&[s.teacher_hidden, s.teacher_hidden]))
            } else {
                0
            },
        },
        Item {
            what: "Jacobians and eigenvectors",
            key: "model.hidden",
            bytes: f64s(&[hidden, hidden, 6]).saturating_add(f64s(&[n_inits, hidden])),
        },
        super::records_memory(c, observables, hidden.max(c.task.d_in).max(c.task.d_out)),
    ]
}
