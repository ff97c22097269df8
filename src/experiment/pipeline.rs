//! The one run pipeline, generic over the model [`Family`]: the theory sources the family
//! computes (`closed_form`, `reduced_ode`), the full finite-width gradient flow from the first
//! seed's init (`gradient_flow`, the same for every family), one training run per seed with
//! the one [`Trainer`], the family's analyses (fixed points), and the summary. Records of each
//! source are kept in that order; within a simulation, by seed then time.

use super::family::{Family, ModelUse, Stamp, TheoryContext, TheoryOutcome, TrajectoryObserver};
use super::observable::Wanted;
use super::summary::{gd_learn_times, record_steps, summarize};
use super::{
    config::{Config, LoadedConfig, OptimizerKind, ScheduleKind},
    Progress, Record, RunOutput, SeedRun, Skipped, Source,
};
use crate::dynamics::GradientFlow;
use crate::error::{Error, Result};
use crate::integrate::{self, Atol, Ivp, Method, Options, Output, VectorField, Workspace};
use crate::model::Model;
use crate::random::{self, stream};
use crate::train::{self, Optimizer, TrainSettings, TrainStatus, Trainer};
use std::collections::BTreeMap;
use std::time::Instant;

/// Everything the stages of one run share.
struct Stages<'a> {
    config: &'a Config,
    steps: Vec<u64>,
    times: Vec<f64>,
    want: Wanted,
    method: Method,
    opts: Options,
    records: Vec<Record>,
    skipped: Vec<Skipped>,
    learn_times: BTreeMap<String, Vec<Option<f64>>>,
    timings: BTreeMap<String, f64>,
    integrator_stats: BTreeMap<String, integrate::Stats>,
}

/// Run `loaded` with family `F` (see the module docs). `progress` receives stage events.
pub fn run<F: Family>(
    loaded: &LoadedConfig,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunOutput> {
    let c = &loaded.config;
    super::family::check_memory(c)?;
    let family = F::build(loaded)?;
    let steps = record_steps(c.train.steps, c.output.records, c.output.spacing);
    let times = train::schedule_times(&schedule(c), c.train.lr, &steps);
    let (method, opts) = solver(loaded)?;
    let mut st = Stages {
        config: c,
        steps,
        times,
        want: Wanted::of(&super::family::requested_observables::<F>(c)),
        method,
        opts,
        records: Vec::new(),
        skipped: Vec::new(),
        learn_times: BTreeMap::new(),
        timings: BTreeMap::new(),
        integrator_stats: BTreeMap::new(),
    };
    let requested = requested_sources(c);
    for source in [Source::ClosedForm, Source::ReducedOde] {
        if requested.contains(&source) {
            theory_source(&family, &mut st, source, progress)?;
        }
    }
    if requested.contains(&Source::GradientFlow) {
        gradient_flow(&family, &mut st, progress)?;
    }
    let Simulated {
        runs,
        weights: final_weights,
        trained,
    } = simulate(&family, &mut st, progress)?;
    let started = Instant::now();
    let fixed_points = family.fixed_points(&trained, progress)?;
    if c.analysis.as_ref().is_some_and(|a| a.fixed_points) {
        st.timings
            .insert("fixed_points".into(), started.elapsed().as_secs_f64());
    }
    let facts = family.facts();
    let mut summary = summarize(&st.records, runs, c.train.lr, facts.rank);
    summary.time_to_learn = std::mem::take(&mut st.learn_times);
    if let Some(s) = &facts.learn_targets {
        if let Some(sim) = gd_learn_times(&st.records, &summary.seeds_in_mean, s) {
            summary
                .time_to_learn
                .insert(simulation(c).0.name().into(), sim);
        }
    }
    Ok(RunOutput {
        records: st.records,
        summary,
        final_weights,
        skipped: st.skipped,
        timings: st.timings,
        integrator_stats: st.integrator_stats,
        teacher_singular_values: facts.teacher_singular_values,
        whitening_error: facts.whitening_error,
        record_steps: st.steps,
        fixed_points,
        model_kind: c.model.kind,
    })
}

/// The theory sources of `theory.sources`, in the order the pipeline computes them.
fn requested_sources(c: &Config) -> Vec<Source> {
    c.theory
        .sources
        .iter()
        .filter_map(|s| Source::parse(s))
        .collect()
}

/// One family theory source, timed, its records or skip reason kept.
fn theory_source<F: Family>(
    family: &F,
    st: &mut Stages,
    source: Source,
    progress: &mut dyn FnMut(Progress),
) -> Result<()> {
    let started = Instant::now();
    progress(Progress::Start(source.name().replace('_', " "), 1));
    let ctx = TheoryContext {
        config: st.config,
        times: &st.times,
        want: &st.want,
        method: &st.method,
        opts: &st.opts,
    };
    match family.theory(source, &ctx)? {
        TheoryOutcome::Computed {
            records,
            learn_times,
            stats,
        } => {
            st.records.extend(records);
            if let Some(l) = learn_times {
                st.learn_times.insert(source.name().into(), l);
            }
            if let Some(s) = stats {
                st.integrator_stats.insert(source.name().into(), s);
            }
        }
        TheoryOutcome::Skipped(reason) => st.skipped.push(Skipped {
            source: source.name().into(),
            reason,
        }),
    }
    progress(Progress::Finish);
    st.timings
        .insert(source.name().into(), started.elapsed().as_secs_f64());
    Ok(())
}

/// `gradient_flow`: the family's full-batch model integrated from the first seed's init;
/// the observables at every record time, and the first crossings of the family's learn
/// events as its `time_to_learn`. A failed integration drops the partial trajectory and
/// skips the source, with the reason.
fn gradient_flow<F: Family>(
    family: &F,
    st: &mut Stages,
    progress: &mut dyn FnMut(Progress),
) -> Result<()> {
    let started = Instant::now();
    let theta0 = family.initial_params(st.config.train.seeds[0])?;
    let observer = family.observer(&theta0, &st.want)?;
    let mut field = GradientFlow::new(family.model(ModelUse::Flow)?);
    // A second model evaluates the loss at the saved states while the field is borrowed.
    let mut loss_model = family.model(ModelUse::Flow)?;
    let mut ws = Workspace::new(field.dim());
    let t_end = *st.times.last().unwrap_or(&0.0);
    let mut local = Vec::new();
    let mut failure = None;
    progress(Progress::Start(
        "gradient flow".into(),
        st.times.len() as u64,
    ));
    let mut on_save = |t: f64, y: &[f64]| {
        match loss_model.loss(y) {
            Ok(loss) => observer.push(&mut local, Stamp::theory(Source::GradientFlow, t), y, loss),
            Err(e) => failure = failure.take().or(Some(e)),
        }
        progress(Progress::Advance(1));
    };
    let events = family.learn_events();
    let n_events = events.len();
    let mut out = Output::at_times(&st.times, &mut on_save);
    for e in events {
        out = out.with_event(e);
    }
    let sol = integrate::solve(
        &st.method,
        &mut field,
        &Ivp::new(0.0, &theta0, t_end),
        &st.opts,
        &mut ws,
        &mut out,
    );
    drop(out);
    progress(Progress::Finish);
    match (sol, failure) {
        (Ok(sol), None) => {
            st.records.extend(local);
            if n_events > 0 {
                let first = (0..n_events)
                    .map(|a| sol.events.iter().find(|h| h.index == a).map(|h| h.t))
                    .collect();
                st.learn_times.insert("gradient_flow".into(), first);
            }
            st.integrator_stats
                .insert("gradient_flow".into(), sol.stats);
        }
        (Err(e), _) => st.skipped.push(Skipped {
            source: "gradient_flow".into(),
            reason: format!("integration failed: {e}"),
        }),
        (Ok(_), Some(e)) => return Err(e),
    }
    st.timings
        .insert("gradient_flow".into(), started.elapsed().as_secs_f64());
    Ok(())
}

/// What the training stage hands on: per seed, in `train.seeds` order.
struct Simulated {
    /// Status and final loss of every seed.
    runs: Vec<SeedRun>,
    /// Final weights of every seed, as named blocks.
    weights: Vec<(u64, Vec<(String, crate::linalg::Matrix)>)>,
    /// Flat parameters of the seeds that completed (not diverged), for the analysis stage.
    trained: Vec<(u64, Vec<f64>)>,
}

/// One training run per seed.
fn simulate<F: Family>(
    family: &F,
    st: &mut Stages,
    progress: &mut dyn FnMut(Progress),
) -> Result<Simulated> {
    let c = st.config;
    let started = Instant::now();
    let (sim, optimizer) = simulation(c);
    let trainer = Trainer::new(TrainSettings {
        lr: c.train.lr,
        steps: c.train.steps,
        optimizer,
        batch_size: c.train.batch_size,
        clip: c.train.clip,
        schedule: schedule(c),
        divergence_factor: c.train.divergence_factor,
    });
    let (mut runs, mut weights, mut trained) = (Vec::new(), Vec::new(), Vec::new());
    let per_seed = c.train.steps.max(1);
    progress(Progress::Start(
        format!("{} x {} seeds", sim.name(), c.train.seeds.len()),
        c.train.seeds.len() as u64 * per_seed,
    ));
    for &seed in &c.train.seeds {
        let mut theta = family.initial_params(seed)?;
        let observer = family.observer(&theta, &st.want)?;
        let mut model = family.model(ModelUse::Train)?;
        let mut rng = random::rng(seed, stream::BATCHES);
        let (mut last_loss, mut last_step) = (f64::NAN, 0);
        let records = &mut st.records;
        let status = trainer.train(
            &mut model,
            &mut theta,
            &mut rng,
            &st.steps,
            &mut |s: train::Stamp, th: &[f64]| {
                let at = Stamp {
                    source: sim,
                    seed: Some(seed),
                    step: Some(s.step),
                    t: s.t,
                };
                observer.push(records, at, th, s.loss);
                last_loss = s.loss;
                progress(Progress::Loss(s.loss));
                progress(Progress::Advance(s.step - last_step));
                last_step = s.step;
            },
        )?;
        progress(Progress::Advance(per_seed.saturating_sub(last_step)));
        runs.push(SeedRun {
            seed,
            status,
            final_loss: last_loss,
        });
        weights.push((seed, family.weights(&theta)));
        if matches!(status, TrainStatus::Completed) {
            trained.push((seed, theta));
        }
    }
    progress(Progress::Finish);
    st.timings
        .insert(sim.name().into(), started.elapsed().as_secs_f64());
    Ok(Simulated {
        runs,
        weights,
        trained,
    })
}

/// The simulated source (named after the optimizer, the `source` column of its records) and
/// its update rule, from `train.optimizer` and Adam's `train.beta1/beta2/eps`.
pub fn simulation(c: &Config) -> (Source, Optimizer) {
    match c.train.optimizer {
        OptimizerKind::Sgd => (Source::Sgd, Optimizer::Sgd),
        OptimizerKind::Adam => (
            Source::Adam,
            Optimizer::Adam {
                beta1: c.train.beta1,
                beta2: c.train.beta2,
                eps: c.train.eps,
            },
        ),
        OptimizerKind::Gd => (Source::Gd, Optimizer::Gd),
    }
}

/// The learning-rate schedule of `train.schedule` with `train.decay`, `decay_every` and the
/// run length (cosine).
pub fn schedule(c: &Config) -> train::Schedule {
    let (decay, every) = (c.train.decay, c.train.decay_every.max(1));
    match c.train.schedule {
        ScheduleKind::Constant => train::Schedule::Constant,
        ScheduleKind::Step => train::Schedule::Step {
            factor: decay,
            every,
        },
        ScheduleKind::Exponential => train::Schedule::Exponential {
            factor: decay,
            every,
        },
        ScheduleKind::Cosine => train::Schedule::Cosine {
            final_fraction: decay,
            steps: c.train.steps.max(1),
        },
    }
}

/// The ODE method and options of `[integrate]`, for the theory sources.
pub fn solver(loaded: &LoadedConfig) -> Result<(Method, Options)> {
    let c = &loaded.config.integrate;
    let opts = Options {
        rtol: c.rtol,
        atol: Atol::Scalar(c.atol),
        max_steps: c.max_steps,
        fixed_step: c.fixed_step,
        ..Options::default()
    };
    let method = Method::parse(&c.method).ok_or_else(|| Error::Config {
        file: loaded.origin.clone(),
        key: "integrate.method".into(),
        message: format!("'{}' is unknown; allowed: {:?}", c.method, Method::NAMES),
    })?;
    Ok((method, opts))
}
