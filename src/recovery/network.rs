//! Networks in a documented standard weights form (theory/recovery.md RS-11, RM-11): a
//! folder with `network.json` and one `.npy` file per weight block, named as learndyn's own
//! runs write them (`[output] weights = true` writes `weights/seed<S>_<block>.npy`; set
//! `prefix = "seed<S>_"`), so a network trained by learndyn, or by anyone, can serve as a
//! ground-truth teacher ([`crate::recovery::system`], `kind = "network"`) or be handed in as a
//! fitted model that learndyn runs, linearizes and searches for fixed points itself
//! ([`fitted`]).
//!
//! Forms (`form`), state `h` of length `k`, input `x`, blocks in brackets (`[rows, cols]`):
//! - `rnn` (discrete): `h' = phi(W h + U x + b)`;
//! - `rate_rnn`: `tau dh/dt = -h + W phi(h) + U x + b` (continuous), or with `alpha` its Euler
//!   map `h' = (1 - alpha) h + alpha (W phi(h) + U x + b)` (learndyn's rate form, discrete);
//! - `gru` (discrete): learndyn's GRU (theory/gru.md GRU-5) from `wi [3k, n_in]`,
//!   `wh [3k, k]`, optional `bi [3k, 1]`, `bhn [k, 1]`;
//! - `lds`: `dh/dt = A h + U x + b` (`time = "continuous"`) or `h' = A h + U x + b`
//!   (`"discrete"`), from `a [k, k]`.
//!
//! `W` is `w [k, k]`, or low rank `bulk + M N^T / k` from `m`, `n` `[k, R]` and an optional
//! `bulk [k, k]`. `u [k, n_in]`, `b [k, 1]` are optional (zero). Readout: optional
//! `c [neurons, k]`, `d [neurons, 1]`, rates `link(C h + d)`. A discrete form's step stands
//! for `dt` time units (default: the dataset's sample interval).

use crate::analysis::fixed_points::{find_fixed_points, sample_inits, FpOptions, RnnMap};
use crate::error::{Error, Result};
use crate::integrate::{self, Ivp, Method, Options, Output, VectorField, Workspace};
use crate::linalg::Matrix;
use crate::model::gru::GruMap;
use crate::model::rnn::Activation;
use crate::model::state_map::{StateMap, TimeKind};
use crate::npy::{self, Array3};
use crate::recovery::basins;
use crate::recovery::dataset::Dataset;
use crate::recovery::score::{self, Fitted, ModelFixedPoints, ModelPoint};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A found point counts as fixed when `q = |F(x) - x|^2 / 2 <= FIXED_Q` (RS-11).
pub const FIXED_Q: f64 = 1e-24;

/// The network's form (`network.json` key `form`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Form {
    /// `h' = phi(W h + U x + b)`.
    Rnn,
    /// `tau dh/dt = -h + W phi(h) + U x + b`, or its Euler map with `alpha`.
    RateRnn,
    /// learndyn's GRU.
    Gru,
    /// Linear dynamical system.
    Lds,
}

/// The readout link of the network's rates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ReadoutLink {
    /// `C h + d` (continuous observations).
    #[default]
    Identity,
    /// `exp(C h + d)`.
    Exp,
    /// `ln(1 + exp(C h + d))`.
    Softplus,
}

/// `network.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkFile {
    /// The form.
    pub form: Form,
    /// `phi` of `rnn` and `rate_rnn` [default: tanh].
    #[serde(default = "tanh")]
    pub activation: Activation,
    /// `rate_rnn`: time constant of the flow [default 1].
    #[serde(default = "one")]
    pub tau: f64,
    /// `rate_rnn`: `dt / tau` of learndyn's Euler map; given, the network is discrete.
    #[serde(default)]
    pub alpha: Option<f64>,
    /// `lds`: continuous or discrete [default: continuous].
    #[serde(default)]
    pub time: Option<TimeKind>,
    /// Time one step of a discrete form stands for [default: the dataset's dt].
    #[serde(default)]
    pub dt: Option<f64>,
    /// Rate link of the readout [default: identity].
    #[serde(default)]
    pub link: ReadoutLink,
    /// Prefix of the block files, e.g. `seed0_` for a learndyn run's `weights/` folder.
    #[serde(default)]
    pub prefix: String,
    /// Folder of the block files, relative to `network.json` [default: the same folder].
    #[serde(default)]
    pub weights: Option<PathBuf>,
}

fn tanh() -> Activation {
    Activation::Tanh
}
fn one() -> f64 {
    1.0
}

#[derive(Debug, Clone)]
enum Dynamics {
    Rnn(Matrix),
    Rate(Matrix),
    Gru {
        wi: Matrix,
        wh: Matrix,
        bi: Vec<f64>,
        bhn: Vec<f64>,
    },
    Lds(Matrix),
}

/// A loaded network.
#[derive(Debug, Clone)]
pub struct Network {
    /// `network.json` as read.
    pub file: NetworkFile,
    dynamics: Dynamics,
    u: Matrix,
    b: Vec<f64>,
    /// Readout `(C, d)`, if given.
    pub readout: Option<(Matrix, Vec<f64>)>,
}

impl Network {
    /// Load `dir/network.json` and its blocks; errors name the file and the expected shape.
    pub fn load(dir: &Path) -> Result<Network> {
        let path = dir.join("network.json");
        let file: NetworkFile = crate::recovery::dataset::read_json(&path)?;
        let wdir = dir.join(file.weights.clone().unwrap_or_default());
        let block = |name: &str| -> Result<Option<Matrix>> {
            let p = wdir.join(format!("{}{name}.npy", file.prefix));
            if !p.exists() {
                return Ok(None);
            }
            let m = npy::read_matrix(&p)?;
            if m.as_slice().iter().any(|v| !v.is_finite()) {
                return Err(Error::invalid(
                    p.display().to_string(),
                    "contains NaN or inf",
                ));
            }
            Ok(Some(m))
        };
        let need = |name: &str, m: Option<Matrix>| {
            m.ok_or_else(|| {
                Error::invalid(
                    wdir.join(format!("{}{name}.npy", file.prefix))
                        .display()
                        .to_string(),
                    format!(
                        "missing: form `{:?}` needs this block (see docs/recovery.md)",
                        file.form
                    ),
                )
            })
        };
        let recurrent = || -> Result<Matrix> {
            if let Some(w) = block("w")? {
                return Ok(w);
            }
            let m = need("m or w", block("m")?)?;
            let n = need("n", block("n")?)?;
            let k = m.nrows();
            let mut w = m.matmul_t(&n).scale(1.0 / k as f64);
            if let Some(bulk) = block("bulk")? {
                w = w.add_scaled(&bulk, 1.0);
            }
            Ok(w)
        };
        let dynamics = match file.form {
            Form::Rnn => Dynamics::Rnn(recurrent()?),
            Form::RateRnn => Dynamics::Rate(recurrent()?),
            Form::Lds => Dynamics::Lds(need("a", block("a")?)?),
            Form::Gru => Dynamics::Gru {
                wi: need("wi", block("wi")?)?,
                wh: need("wh", block("wh")?)?,
                bi: block("bi")?.map(|m| m.into_vec()).unwrap_or_default(),
                bhn: block("bhn")?.map(|m| m.into_vec()).unwrap_or_default(),
            },
        };
        let k = match &dynamics {
            Dynamics::Rnn(w) | Dynamics::Rate(w) | Dynamics::Lds(w) => w.ncols(),
            Dynamics::Gru { wh, .. } => wh.ncols(),
        };
        let shape = |what: &str, m: &Matrix, rows: usize, cols: Option<usize>| -> Result<()> {
            if m.nrows() != rows || cols.is_some_and(|c| m.ncols() != c) {
                return Err(Error::Shape {
                    what: wdir
                        .join(format!("{}{what}.npy", file.prefix))
                        .display()
                        .to_string(),
                    expected: format!(
                        "[{rows}, {}] (k = {k} from the recurrence)",
                        cols.map_or("*".into(), |c| c.to_string())
                    ),
                    got: format!("[{}, {}]", m.nrows(), m.ncols()),
                });
            }
            Ok(())
        };
        let u = block("u")?.unwrap_or_else(|| Matrix::zeros(k, 0));
        let b = block("b")?
            .map(|m| m.into_vec())
            .unwrap_or_else(|| vec![0.0; k]);
        match &dynamics {
            Dynamics::Rnn(w) | Dynamics::Rate(w) | Dynamics::Lds(w) => shape("w", w, k, Some(k))?,
            Dynamics::Gru { wi, wh, bi, bhn } => {
                shape("wh", wh, 3 * k, Some(k))?;
                shape("wi", wi, 3 * k, None)?;
                if !(bi.is_empty() || bi.len() == 3 * k) || !(bhn.is_empty() || bhn.len() == k) {
                    return Err(Error::invalid(
                        wdir.display().to_string(),
                        format!("bi must have 3k = {} entries and bhn k = {k}", 3 * k),
                    ));
                }
            }
        }
        if !matches!(dynamics, Dynamics::Gru { .. }) {
            shape("u", &u, k, None)?;
            if b.len() != k {
                return Err(Error::invalid(
                    wdir.display().to_string(),
                    format!("b must have k = {k} entries"),
                ));
            }
        }
        let readout = match block("c")? {
            Some(c) => {
                shape("c", &c, c.nrows(), Some(k))?;
                let d = block("d")?
                    .map(|m| m.into_vec())
                    .unwrap_or_else(|| vec![0.0; c.nrows()]);
                if d.len() != c.nrows() {
                    return Err(Error::invalid(
                        wdir.display().to_string(),
                        "d must have one entry per row of c",
                    ));
                }
                Some((c, d))
            }
            None => None,
        };
        if let Some(a) = file.alpha {
            if !(a > 0.0 && a <= 1.0) {
                return Err(Error::invalid(
                    path.display().to_string(),
                    "alpha must be in (0, 1]",
                ));
            }
        }
        if !(file.tau.is_finite() && file.tau > 0.0)
            || file.dt.is_some_and(|v| !(v.is_finite() && v > 0.0))
        {
            return Err(Error::invalid(
                path.display().to_string(),
                "tau and dt must be > 0",
            ));
        }
        Ok(Network {
            file,
            dynamics,
            u,
            b,
            readout,
        })
    }

    /// State dimension `k`.
    pub fn dim(&self) -> usize {
        self.b.len().max(match &self.dynamics {
            Dynamics::Gru { wh, .. } => wh.ncols(),
            _ => 0,
        })
    }

    /// Input dimension.
    pub fn n_inputs(&self) -> usize {
        match &self.dynamics {
            Dynamics::Gru { wi, .. } => wi.ncols(),
            _ => self.u.ncols(),
        }
    }

    /// The Jacobian shared by every state of a linear network (`lds`: `A`), as rows.
    pub fn linear_jacobian(&self) -> Option<Vec<Vec<f64>>> {
        match &self.dynamics {
            Dynamics::Lds(a) => Some(
                (0..a.nrows())
                    .map(|r| (0..a.ncols()).map(|c| a.get(r, c)).collect())
                    .collect(),
            ),
            _ => None,
        }
    }

    /// Discrete map or continuous flow.
    pub fn time(&self) -> TimeKind {
        match (&self.dynamics, self.file.alpha, self.file.time) {
            (Dynamics::Rnn(_) | Dynamics::Gru { .. }, _, _) => TimeKind::Discrete,
            (Dynamics::Rate(_), Some(_), _) => TimeKind::Discrete,
            (Dynamics::Lds(_), _, Some(t)) => t,
            _ => TimeKind::Continuous,
        }
    }

    /// The map or flow at input `x` as a [`StateMap`] (residual and Jacobian of `F` or `f`).
    pub fn at(&self, x: &[f64]) -> Box<dyn StateMap + '_> {
        let k = self.dim();
        let mut drive = self.b.clone();
        for (j, &xj) in x.iter().enumerate().take(self.u.ncols()) {
            for (i, d) in drive.iter_mut().enumerate() {
                *d += self.u.get(i, j) * xj;
            }
        }
        match &self.dynamics {
            Dynamics::Rnn(w) => Box::new(RnnMap {
                w: w.clone(),
                drive,
                activation: self.file.activation,
                continuous: false,
            }),
            Dynamics::Rate(w) => {
                let flow = RnnMap {
                    w: w.clone(),
                    drive,
                    activation: self.file.activation,
                    continuous: true,
                };
                Box::new(Scaled {
                    flow,
                    tau: self.file.tau,
                    alpha: self.file.alpha,
                })
            }
            Dynamics::Gru { wi, wh, bi, bhn } => {
                let mut d = if bi.is_empty() {
                    vec![0.0; 3 * k]
                } else {
                    bi.clone()
                };
                for (j, &xj) in x.iter().enumerate().take(wi.ncols()) {
                    for (i, v) in d.iter_mut().enumerate() {
                        *v += wi.get(i, j) * xj;
                    }
                }
                let bhn = if bhn.is_empty() {
                    vec![0.0; k]
                } else {
                    bhn.clone()
                };
                Box::new(GruMap {
                    wh: wh.clone(),
                    drive: d,
                    bhn,
                })
            }
            Dynamics::Lds(a) => Box::new(Affine {
                a: a.clone(),
                drive,
                time: self.time(),
            }),
        }
    }

    /// The next state (discrete) or the velocity (continuous) at `(h, x)` into `out`.
    pub fn eval(&self, h: &[f64], x: &[f64], out: &mut [f64]) {
        self.at(x).residual(h, out);
        if self.time() == TimeKind::Discrete {
            out.iter_mut().zip(h).for_each(|(o, hi)| *o += hi);
        }
    }

    /// Rates `link(C h + d)` of one state (empty without a readout).
    pub fn rates(&self, h: &[f64]) -> Vec<f64> {
        let Some((c, d)) = &self.readout else {
            return Vec::new();
        };
        (0..c.nrows())
            .map(|i| {
                let a = d[i] + (0..c.ncols()).map(|j| c.get(i, j) * h[j]).sum::<f64>();
                match self.file.link {
                    ReadoutLink::Identity => a,
                    ReadoutLink::Exp => a.exp(),
                    ReadoutLink::Softplus => crate::recovery::observe::softplus(a),
                }
            })
            .collect()
    }

    /// Run from `h0` under the inputs `x` (`steps x n_inputs`, row `s` held on
    /// `[t_s, t_{s+1})`), sampled every `dt`: `steps x k` states, the first being `h0`.
    /// Discrete forms are sampled at the nearest step to each sample time (`step` = the
    /// form's dt).
    pub fn run(&self, h0: &[f64], x: &Matrix, dt: f64, step: f64) -> Result<Matrix> {
        let (k, steps) = (self.dim(), x.nrows());
        let mut out = Matrix::zeros(steps, k);
        let mut h = h0.to_vec();
        let mut next = vec![0.0; k];
        // A map is sampled at the nearest step to each sample time (cumulative, so the
        // horizon is kept when dt is not a multiple of the step).
        let mut done = 0usize;
        let method = Method::parse("dopri5").expect("built-in method");
        let opts = Options {
            rtol: 1e-8,
            atol: integrate::Atol::Scalar(1e-10),
            ..Options::default()
        };
        let mut ws = Workspace::new(k);
        for s in 0..steps {
            for (j, v) in h.iter().enumerate() {
                out.set(s, j, *v);
            }
            if s + 1 == steps {
                break;
            }
            let xs: Vec<f64> = (0..x.ncols()).map(|j| x.get(s, j)).collect();
            match self.time() {
                TimeKind::Discrete => {
                    let target = (((s + 1) as f64 * dt) / step).round() as usize;
                    while done < target {
                        self.eval(&h, &xs, &mut next);
                        std::mem::swap(&mut h, &mut next);
                        done += 1;
                    }
                }
                TimeKind::Continuous => {
                    let map = self.at(&xs);
                    let sol = integrate::solve(
                        &method,
                        &mut Flow(map.as_ref()),
                        &Ivp::new(0.0, &h, dt),
                        &opts,
                        &mut ws,
                        &mut Output::end(),
                    )?;
                    h = sol.y_end;
                }
            }
            if h.iter().any(|v| !v.is_finite()) {
                return Err(Error::invalid("network", format!("the state diverged (not finite) at sample {s}; the weights do not give bounded trajectories here")));
            }
        }
        Ok(out)
    }

    /// Fixed points of the autonomous network (zero input) by learndyn's finder from the
    /// columns of `states` (`k x m`, e.g. states along trajectories) plus Gaussian noise of
    /// standard deviation `noise`, keeping only points with `q <= tol_q` (slow points dropped).
    pub fn fixed_points(
        &self,
        states: &Matrix,
        noise: f64,
        seed: u64,
    ) -> Result<Vec<(Vec<f64>, Matrix)>> {
        // Strict: a true fixed point polishes to rounding (q ~ 1e-30); a gated network's
        // saturated regions (GRU update gate z ~ 1) have q ~ 1e-19 everywhere, slow but not
        // fixed, and would be listed by the default tol_q = 1e-12.
        let opts = FpOptions {
            noise_scale: noise,
            tol_q: FIXED_Q,
            tol_slow: FIXED_Q,
            seed,
            ..FpOptions::default()
        };
        let inits = sample_inits(states, &opts)?;
        let map = self.at(&vec![0.0; self.n_inputs()]);
        let found = find_fixed_points(map.as_ref(), &inits, &opts)?;
        let k = self.dim();
        Ok(found
            .points
            .into_iter()
            .filter(|p| p.is_fixed)
            .map(|p| {
                let mut j = Matrix::zeros(k, k);
                map.jacobian(&p.x, &mut j);
                (p.x, j)
            })
            .collect())
    }
}

/// The rate flow divided by `tau`, or its Euler map with `alpha`.
struct Scaled {
    flow: RnnMap,
    tau: f64,
    alpha: Option<f64>,
}

impl StateMap for Scaled {
    fn dim(&self) -> usize {
        self.flow.dim()
    }
    fn kind(&self) -> TimeKind {
        if self.alpha.is_some() {
            TimeKind::Discrete
        } else {
            TimeKind::Continuous
        }
    }
    fn residual(&self, x: &[f64], out: &mut [f64]) {
        self.flow.residual(x, out);
        // Euler map: F(h) - h = alpha f(h); flow: f(h) / tau.
        let s = self.alpha.unwrap_or(1.0 / self.tau);
        out.iter_mut().for_each(|v| *v *= s);
    }
    fn jacobian(&self, x: &[f64], jac: &mut Matrix) {
        self.flow.jacobian(x, jac);
        let n = self.dim();
        match self.alpha {
            Some(a) => {
                *jac =
                    Matrix::from_fn(n, n, |i, j| f64::from(u8::from(i == j)) + a * jac.get(i, j));
            }
            None => *jac = jac.clone().scale(1.0 / self.tau),
        }
    }
}

/// `A h + drive`: the flow, or the map `h' = A h + drive`.
struct Affine {
    a: Matrix,
    drive: Vec<f64>,
    time: TimeKind,
}

impl StateMap for Affine {
    fn dim(&self) -> usize {
        self.a.nrows()
    }
    fn kind(&self) -> TimeKind {
        self.time
    }
    fn residual(&self, x: &[f64], out: &mut [f64]) {
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.drive[i] + (0..x.len()).map(|j| self.a.get(i, j) * x[j]).sum::<f64>();
            if self.time == TimeKind::Discrete {
                *o -= x[i];
            }
        }
    }
    fn jacobian(&self, _x: &[f64], jac: &mut Matrix) {
        *jac = self.a.clone();
    }
}

/// A continuous [`StateMap`] as an integrable vector field.
struct Flow<'a>(&'a dyn StateMap);

impl VectorField for Flow<'_> {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn eval(&mut self, _t: f64, y: &[f64], dydt: &mut [f64]) {
        self.0.residual(y, dydt);
    }
}

/// Files a fitter writes or a scorer reads in a network folder (weights of every form, the
/// exported latents and trajectories, fixed points, the queries and the old score).
const MODEL_FILES: [&str; 20] = [
    "network.json",
    "w.npy",
    "a.npy",
    "u.npy",
    "b.npy",
    "c.npy",
    "d.npy",
    "m.npy",
    "n.npy",
    "wi.npy",
    "wh.npy",
    "bi.npy",
    "bhn.npy",
    "initial_states.npy",
    "latents.npy",
    "rates.npy",
    "trajectories.npy",
    "fixed_points.json",
    "fit.json",
    "summary.txt",
];

/// Remove what an earlier fit left in `dir` (weights of every form, latents, rates,
/// trajectories, fixed points, `queries/` and `score/`), so a refit into the same folder
/// never mixes with stale latents or weights of another form. Other files are left alone; a
/// dataset folder (with `dataset.json`) is refused.
pub fn clear_model_folder(dir: &Path) -> Result<()> {
    if dir.join("dataset.json").exists() {
        return Err(Error::invalid(
            "--out",
            format!(
                "{} is a dataset folder; write the fitted model to its own folder (the default \
                 is <dataset>/fit-<method>)",
                dir.display()
            ),
        ));
    }
    for f in MODEL_FILES {
        let p = dir.join(f);
        if p.exists() {
            std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
        }
    }
    for sub in ["queries", "score"] {
        let p = dir.join(sub);
        if p.is_dir() {
            std::fs::remove_dir_all(&p).map_err(|e| Error::io(&p, e))?;
        }
    }
    Ok(())
}

/// A network folder as a fitted model (RM-11): latents from `latents.npy` if present, else
/// the network run on each trial's inputs from `initial_states.npy` (`[trials, k]`); rates
/// from the readout; fixed points found by learndyn's finder from the training trials'
/// latents; trajectories from the query initial states (zero input). Errors name the file.
pub fn fitted(dir: &Path, d: &Dataset) -> Result<Fitted> {
    let net = Network::load(dir)?;
    let k = net.dim();
    let n_in = net.n_inputs();
    if n_in != 0 && n_in != d.meta.inputs {
        return Err(Error::Shape {
            what: format!("{}: input weights", dir.display()),
            expected: format!(
                "{} input columns (the dataset's inputs) or none",
                d.meta.inputs
            ),
            got: format!("{n_in}"),
        });
    }
    let step = net.file.dt.unwrap_or(d.meta.dt);
    let [tr, tm] = [d.meta.trials, d.meta.time];
    let lat_path = dir.join("latents.npy");
    let latents = if lat_path.exists() {
        let l = npy::read_array3(&lat_path)?;
        if l.shape != [tr, tm, k] {
            return Err(Error::Shape {
                what: lat_path.display().to_string(),
                expected: format!("[{tr}, {tm}, {k}] (trials, bins, the network's k)"),
                got: format!("{:?}", l.shape),
            });
        }
        l
    } else {
        let p = dir.join("initial_states.npy");
        if !p.exists() {
            return Err(Error::invalid(
                dir.display().to_string(),
                "a network folder needs latents.npy [trials, time, k] or initial_states.npy \
                 [trials, k] (each trial's initial state, from which learndyn runs the network \
                 on the dataset's inputs); see docs/recovery.md",
            ));
        }
        let h0 = npy::read_matrix(&p)?;
        if h0.nrows() != tr || h0.ncols() != k {
            return Err(Error::Shape {
                what: p.display().to_string(),
                expected: format!("[{tr}, {k}] (trials, k)"),
                got: format!("[{}, {}]", h0.nrows(), h0.ncols()),
            });
        }
        let mut data = Vec::with_capacity(tr * tm * k);
        for t in 0..tr {
            let x = Matrix::from_fn(tm, n_in, |s, j| d.inputs.get(t, s, j));
            let x0: Vec<f64> = (0..k).map(|j| h0.get(t, j)).collect();
            let run = net.run(&x0, &x, d.meta.dt, step)?;
            for s in 0..tm {
                data.extend((0..k).map(|j| run.get(s, j)));
            }
        }
        Array3 {
            shape: [tr, tm, k],
            data,
        }
    };
    let rates = match &net.readout {
        Some((c, _)) if c.nrows() == d.meta.neurons => Some(Array3 {
            shape: [tr, tm, d.meta.neurons],
            data: latents.data.chunks(k).flat_map(|h| net.rates(h)).collect(),
        }),
        _ => None,
    };
    // Finder inits: every training-trial latent state, thinned to at most 4096.
    let train = &d.meta.splits.train;
    let all: Vec<&[f64]> = train
        .iter()
        .flat_map(|&t| (0..tm).map(move |s| (t, s)))
        .map(|(t, s)| &latents.data[(t * tm + s) * k..(t * tm + s + 1) * k])
        .collect();
    let stride = all.len().div_ceil(4096).max(1);
    let picked: Vec<&[f64]> = all.iter().step_by(stride).copied().collect();
    let states = Matrix::from_fn(k, picked.len(), |i, c| picked[c][i]);
    // As FixedPointFinder: noise around the visited states (half their RMS), so that saddles
    // between the visited regions are reached too.
    let rms = (states.as_slice().iter().map(|v| v * v).sum::<f64>()
        / states.as_slice().len().max(1) as f64)
        .sqrt();
    let points = net
        .fixed_points(&states, 0.5 * rms, d.meta.spec.seed)?
        .into_iter()
        .map(|(x, j)| ModelPoint {
            x,
            jacobian: (0..k)
                .map(|r| (0..k).map(|c| j.get(r, c)).collect())
                .collect(),
        })
        .collect();
    let fixed_points = Some(ModelFixedPoints {
        time: net.time(),
        dt: (net.time() == TimeKind::Discrete).then_some(step),
        points,
        linear_jacobian: net.linear_jacobian(),
    });
    let mut fit = Fitted {
        name: dir.display().to_string(),
        latents,
        rates,
        fixed_points,
        trajectories: None,
        simulator: None,
    };
    let forward = score::forward_map(d, &fit)?;
    let x0 = basins::model_initial_states(d, &forward)?;
    let zeros = Matrix::zeros(basins::STEPS, n_in);
    let mut data = Vec::with_capacity(x0.nrows() * basins::STEPS * k);
    for i in 0..x0.nrows() {
        let h0: Vec<f64> = (0..k).map(|j| x0.get(i, j)).collect();
        let run = net.run(&h0, &zeros, basins::query_dt(d), step)?;
        for s in 0..basins::STEPS {
            data.extend((0..k).map(|j| run.get(s, j)));
        }
    }
    fit.trajectories = Some(Array3 {
        shape: [x0.nrows(), basins::STEPS, k],
        data,
    });
    let net = std::sync::Arc::new(net);
    let zero = Matrix::zeros(2, n_in);
    fit.simulator = Some(crate::recovery::graph::Simulator(std::sync::Arc::new(
        move |x0: &[f64], t: f64| {
            let run = net.run(x0, &zero, t, step)?;
            Ok((0..run.ncols()).map(|j| run.get(1, j)).collect())
        },
    )));
    Ok(fit)
}
