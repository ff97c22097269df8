//! Deep linear networks `W_L ... W_1` on a linear teacher (`model.kind = "deep_linear"`):
//! sections `[task]` and `[init]`; theory sources in its `theory` submodule (closed forms
//! DL-6..DL-10 and RC-3, reduced ODEs DL-5 and AR-1); observables of the end-to-end map, the balance (C-4)
//! and the rich/lazy diagnostics (RL-2, RL-3).

mod checks;
mod theory;

use super::{Facts, Family, ModelUse, Stamp, TheoryContext, TheoryOutcome, TrajectoryObserver};
use crate::analysis;
use crate::error::{Error, Result};
use crate::experiment::config::{Config, InitKind, LoadedConfig};
use crate::experiment::observable::{Observable, Wanted};
use crate::experiment::{Record, Source};
use crate::integrate::{Crossing, Event};
use crate::linalg::Matrix;
use crate::model::init::Init;
use crate::model::{DeepLinearModel, DeepLinearNet};
use crate::random::{self, stream};
use crate::task::{LinearTask, TeacherMap, TeacherSpec};

/// The realized deep-linear problem: task, network and the rule that draws each seed's
/// initial weights.
pub struct DeepLinearFamily {
    /// The task.
    pub task: LinearTask,
    /// The network.
    pub net: DeepLinearNet,
    /// The initialization rule.
    pub init: Init,
}

impl Family for DeepLinearFamily {
    type Model<'a> = DeepLinearModel<'a>;
    type Observer<'a> = NetObserver<'a>;
    const NAME: &'static str = "deep linear";
    const OBSERVABLES: &'static [Observable] = crate::experiment::observable::DEEP_LINEAR;

    fn memory(c: &Config) -> Vec<crate::experiment::memory::Item> {
        use crate::experiment::memory::{f64s, Item};
        let mut dims = vec![c.task.d_in];
        dims.extend(c.hidden_widths());
        dims.push(c.task.d_out);
        let params = dims
            .windows(2)
            .fold(0usize, |a, w| a.saturating_add(w[0].saturating_mul(w[1])));
        let width_sum = dims.iter().fold(0usize, |a, &d| a.saturating_add(d));
        let samples = c.task.samples.filter(|&p| p > 0).unwrap_or(c.task.d_in);
        let seeds = c.train.seeds.len().max(1);
        let io = c.task.d_in.saturating_add(c.task.d_out);
        vec![
            super::params_memory(params, seeds),
            Item {
                what: "training data",
                key: "task.samples",
                bytes: f64s(&[samples, io]),
            },
            Item {
                what: "activations and their gradients",
                key: "task.samples",
                bytes: f64s(&[samples, width_sum, 2, seeds]),
            },
            Item {
                what: "teacher map and closed forms",
                key: "task.d_in",
                bytes: f64s(&[io, io, 10]),
            },
            // Per-mode observables have one value per singular value of the end-to-end map.
            super::records_memory(c, Self::OBSERVABLES.len(), c.task.d_in.max(c.task.d_out)),
        ]
    }

    fn validate(c: &Config, origin: &str) -> Result<()> {
        checks::validate(c, origin)
    }

    fn build(loaded: &LoadedConfig) -> Result<Self> {
        build(loaded)
    }

    fn initial_params(&self, seed: u64) -> Result<Vec<f64>> {
        let mut rng = random::rng(seed, stream::INIT);
        self.init
            .sample(&self.net, &self.task.u, &self.task.v, &mut rng)
    }

    fn model(&self, purpose: ModelUse) -> Result<DeepLinearModel<'_>> {
        let data = match purpose {
            ModelUse::Train => self.task.data.as_ref().map(|(x, y)| (x, y)),
            ModelUse::Flow => None,
        };
        Ok(DeepLinearModel::new(&self.net, &self.task.moments, data))
    }

    fn observer<'a>(&'a self, theta0: &[f64], want: &Wanted) -> Result<NetObserver<'a>> {
        Ok(NetObserver {
            net: &self.net,
            task: &self.task,
            balance0: self.net.balance_matrices(theta0),
            theta0: theta0.to_vec(),
            want: want.clone(),
        })
    }

    fn theory(&self, source: Source, ctx: &TheoryContext) -> Result<TheoryOutcome> {
        match source {
            Source::ClosedForm => self.closed_form(ctx),
            Source::ReducedOde => self.reduced_ode(ctx),
            other => Ok(TheoryOutcome::Skipped(format!(
                "{} is not a family theory source",
                other.name()
            ))),
        }
    }

    /// Mode `a` crosses half of its teacher strength: `u_a^T W_e v_a = s_a / 2`.
    fn learn_events(&self) -> Vec<Event<'_>> {
        let (net, task) = (&self.net, &self.task);
        task.s
            .iter()
            .enumerate()
            .map(|(a, &s_a)| {
                let (u_a, v_a) = (task.u.first_cols(a + 1), task.v.first_cols(a + 1));
                Event::new(
                    move |_, y: &[f64]| {
                        let we = net.end_to_end(y);
                        analysis::mode_strengths(&we, &u_a, &v_a)[a] - 0.5 * s_a
                    },
                    Crossing::Rising,
                )
            })
            .collect()
    }

    fn weights(&self, theta: &[f64]) -> Vec<(String, Matrix)> {
        self.net
            .unpack(theta)
            .into_iter()
            .enumerate()
            .map(|(l, w)| (format!("W{}", l + 1), w))
            .collect()
    }

    fn facts(&self) -> Facts {
        Facts {
            teacher_singular_values: self.task.s.clone(),
            whitening_error: self.task.whitening_error,
            rank: self.task.rank(),
            learn_targets: Some(self.task.s.clone()),
        }
    }
}

/// Build the problem of a deep-linear config (reads the `.npy` files it names).
fn build(loaded: &LoadedConfig) -> Result<DeepLinearFamily> {
    let c = &loaded.config;
    let cfg_err = |key: &str, message: String| Error::Config {
        file: loaded.origin.clone(),
        key: key.into(),
        message,
    };
    let read = |key: &str, p: &str| {
        crate::npy::read_matrix(&loaded.resolve_path(p)).map_err(|e| {
            cfg_err(
                key,
                format!("{e} (paths are relative to the config file's folder)"),
            )
        })
    };
    let map = match &c.task.sigma_yx {
        Some(p) => TeacherMap::Explicit(read("task.sigma_yx", p)?),
        None => TeacherMap::SingularValues(c.task.singular_values.clone()),
    };
    let spec = TeacherSpec {
        d_in: c.task.d_in,
        d_out: c.task.d_out,
        map,
        seed: c.task.seed,
        samples: c.task.samples.filter(|&p| p > 0),
        whiten: c.task.whiten,
        noise_std: c.task.noise_std,
    };
    let task = spec.build()?;
    let mut dims = vec![c.task.d_in];
    dims.extend(c.hidden_widths());
    dims.push(c.task.d_out);
    let net = DeepLinearNet::new(dims)?;
    let init = match c.init.kind {
        InitKind::Gaussian => Init::Gaussian {
            scale: c.init.scale,
        },
        InitKind::Orthogonal => Init::Orthogonal {
            scale: c.init.scale,
        },
        InitKind::LambdaBalanced => Init::LambdaBalanced {
            scale: c.init.scale,
            lambda: c.init.lambda,
        },
        InitKind::Aligned => {
            let r = task.rank();
            let u0 = c.init.u0.expand(r).ok_or_else(|| {
                cfg_err(
                    "init.u0",
                    format!("give one number, or one per teacher mode ({r})"),
                )
            })?;
            Init::Aligned {
                u0,
                lambda: c.init.lambda,
                perturb: c.init.perturb,
            }
        }
        InitKind::Npy => {
            let mut layers = Vec::new();
            for p in &c.init.weights {
                layers.push(read("init.weights", p)?);
            }
            // Check shapes now, so the error names the file.
            net.pack(&layers)
                .map_err(|e| cfg_err("init.weights", e.to_string()))?;
            Init::Explicit(layers)
        }
    };
    if let Init::Aligned { .. } = &init {
        let r = task.rank();
        let narrowest = net.dims()[1..net.depth()]
            .iter()
            .copied()
            .min()
            .unwrap_or(r);
        if narrowest < r {
            return Err(cfg_err(
                "model.hidden",
                format!("an aligned init needs every hidden width >= the teacher's rank {r}; the narrowest is {narrowest}"),
            ));
        }
    }
    let problem = DeepLinearFamily { task, net, init };
    // Draw the first seed's init now, so impossible inits (e.g. widths that cannot be
    // lambda-balanced) are input errors found by `check`, not failures mid-run.
    if let Some(&seed) = c.train.seeds.first() {
        problem
            .initial_params(seed)
            .map_err(|e| cfg_err("init", e.to_string()))?;
    }
    Ok(problem)
}

/// Records of the observables that depend only on the end-to-end map `we` (`d_out x d_in`):
/// mode strengths (C-3), singular values (nonincreasing), and the map entries (`map`, index
/// `i * d_in + j`).
fn push_map_observables(
    out: &mut Vec<Record>,
    at: Stamp,
    we: &Matrix,
    task: &LinearTask,
    want: &Wanted,
) {
    if want.has(Observable::ModeStrength) {
        for (a, u) in analysis::mode_strengths(we, &task.u, &task.v)
            .into_iter()
            .enumerate()
        {
            out.push(at.record(Observable::ModeStrength, Some(a), u));
        }
    }
    if want.has(Observable::SingularValue) {
        // A non-finite map (diverging run) has no SVD: record NaN rather than fail.
        let k = we.nrows().min(we.ncols());
        let sv = analysis::singular_values(we).unwrap_or_else(|_| vec![f64::NAN; k]);
        for (i, s) in sv.into_iter().enumerate() {
            out.push(at.record(Observable::SingularValue, Some(i), s));
        }
    }
    if want.has(Observable::Map) {
        for i in 0..we.nrows() {
            for j in 0..we.ncols() {
                out.push(at.record(Observable::Map, Some(i * we.ncols() + j), we.get(i, j)));
            }
        }
    }
}

/// `(W1^T W1, W2 W2^T)` of a two-layer parameter vector (the tangent-kernel Gram blocks).
fn grams(net: &DeepLinearNet, params: &[f64]) -> (Matrix, Matrix) {
    let w1 = net.layer(params, 1).to_owned();
    let w2 = net.layer(params, net.depth()).to_owned();
    (w1.t_matmul(&w1), w2.matmul_t(&w2))
}

/// Rich/lazy diagnostics from Gram blocks: kernel distance from the initial blocks (two
/// layers only) and first-layer alignment (RL-2, RL-3).
fn push_gram_observables(
    out: &mut Vec<Record>,
    at: Stamp,
    g0: Option<&(Matrix, Matrix)>,
    g: &(Matrix, Matrix),
    task: &LinearTask,
    want: &Wanted,
) {
    if want.has(Observable::KernelDistance) {
        if let Some((p0, q0)) = g0 {
            out.push(at.record(
                Observable::KernelDistance,
                None,
                analysis::kernel_distance(p0, q0, &g.0, &g.1),
            ));
        }
    }
    if want.has(Observable::Alignment) {
        out.push(at.record(
            Observable::Alignment,
            None,
            analysis::input_alignment(&g.0, &task.v),
        ));
    }
}

/// Observables of a full network state (simulations and the gradient flow).
pub struct NetObserver<'a> {
    net: &'a DeepLinearNet,
    task: &'a LinearTask,
    balance0: Vec<Matrix>,
    theta0: Vec<f64>,
    want: Wanted,
}

impl TrajectoryObserver for NetObserver<'_> {
    fn push(&self, out: &mut Vec<Record>, at: Stamp, params: &[f64], loss: f64) {
        let want = &self.want;
        if want.has(Observable::Loss) {
            out.push(at.record(Observable::Loss, None, loss));
        }
        if want.any(&[
            Observable::ModeStrength,
            Observable::SingularValue,
            Observable::Map,
        ]) {
            let we = self.net.end_to_end(params);
            push_map_observables(out, at, &we, self.task, want);
        }
        if want.has(Observable::BalanceDrift) {
            out.push(at.record(
                Observable::BalanceDrift,
                None,
                analysis::balance_drift(self.net, params, &self.balance0),
            ));
        }
        if want.has(Observable::WeightChange) {
            for l in 1..=self.net.depth() {
                let (w, w0) = (self.net.layer(params, l), self.net.layer(&self.theta0, l));
                let d: f64 = w
                    .as_slice()
                    .iter()
                    .zip(w0.as_slice())
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum();
                out.push(at.record(Observable::WeightChange, Some(l - 1), d.sqrt()));
            }
        }
        if want.any(&[Observable::KernelDistance, Observable::Alignment]) {
            let g0 = (self.net.depth() == 2).then(|| grams(self.net, &self.theta0));
            push_gram_observables(
                out,
                at,
                g0.as_ref(),
                &grams(self.net, params),
                self.task,
                want,
            );
        }
    }
}
