//! The reduced theories of linear RNNs started from the aligned init: the outlier model of
//! learning to integrate (OL-*, both forms through OL-9) and the per-mode linear-RNN ODE
//! (LR-2, discrete form, last-step readout); for rank-R runs (`rnn.rank > 0`) the overlap-space
//! flow of the low-rank RNN (LK-4, any init, exact for a zero bulk `rnn.g = 0`).

use super::RnnFamily;
use crate::analysis::spectra;
use crate::error::Result;
use crate::experiment::config::{Config, TaskKind};
use crate::experiment::family::sequence;
use crate::experiment::family::solve_saving;
use crate::experiment::family::{Stamp, TheoryContext};
use crate::experiment::observable::Observable;
use crate::experiment::rnn_config::{InputKind, Readout, RnnInitKind};
use crate::experiment::{Record, Source};
use crate::integrate;
use crate::linalg::Matrix;
use crate::model::rnn::Activation;
use crate::model::seq_rnn::Form;
use crate::theory::low_rank::{self, OverlapFlow, Trained};
use crate::theory::lrnn::LrnnModes;
use crate::theory::outlier::{LagWeights, RateOutlier};
use num_complex::Complex64;

impl RnnFamily {
    /// Why the reduced theory does not apply (None: it does).
    pub(super) fn reduced_reason(&self, c: &Config) -> Option<String> {
        let spec = self.model.spec();
        if spec.rank.is_some() {
            return self.low_rank_reason(c);
        }
        let s = c.sequence.clone().unwrap_or_default();
        if self.task.modes.is_none() {
            return Some(format!(
                "task.kind = \"{}\" has no mode structure; the reduced ODEs need \"integrate\" or \"lagged_modes\"",
                c.task.kind.name()
            ));
        }
        if self.rnn.init != RnnInitKind::Aligned {
            return Some(
                "the reduced ODEs start from the aligned init (rnn.init = \"aligned\")".into(),
            );
        }
        // The outlier model covers both forms (OL-9); LR-2 only the discrete one.
        let rate_ok = c.task.kind == TaskKind::Integrate;
        if spec.activation != Activation::Identity
            || (matches!(spec.form, Form::Rate { .. }) && !rate_ok)
            || spec.bias
        {
            return Some("the reduced ODEs are for linear RNNs without bias (rnn.activation = \"identity\", rnn.bias = false); LR-2 (lagged_modes) also needs rnn.form = \"discrete\"".into());
        }
        if !(spec.learn.w && spec.learn.u && spec.learn.c) || spec.learn.h0 || self.rnn.h0 != 0.0 {
            return Some("the reduced ODEs train W, U and C from h_0 = 0 (rnn.learn = [\"w\", \"u\", \"c\"], rnn.h0 = 0)".into());
        }
        if c.task.noise_std > 0.0 || self.rnn.noise_std > 0.0 {
            return Some("observation and state noise are not part of the reduced ODEs".into());
        }
        if c.train.truncation.is_some() {
            return Some("truncated BPTT is not the gradient of the loss the reduced ODEs flow on (omit train.truncation)".into());
        }
        let white = s.input == InputKind::WhiteNoise && s.input_std.to_bits() == 1.0f64.to_bits();
        if !(self.task.population || white) {
            return Some(format!(
                "the reduced ODEs assume unit white-noise inputs: sequence.input = \"impulse_basis\" (exact) or \"white_noise\" with input_std = 1 (sampled), not \"{}\"",
                serde_name(&s.input)
            ));
        }
        match (c.task.kind, s.readout) {
            (TaskKind::Integrate, Readout::All) | (TaskKind::LaggedModes, Readout::Last) => None,
            (TaskKind::Integrate, _) => Some("the outlier model (OL-*) is for outputs at every step: sequence.readout = \"all\"".into()),
            _ => Some("the per-mode linear-RNN ODE (LR-2) reads out at the last step: sequence.readout = \"last\"".into()),
        }
    }

    /// The reduced-theory records: the outlier model (integrate, OL-*) or the per-mode LR-2
    /// ODE (lagged_modes), each mode started from the aligned gains.
    pub(super) fn reduced_records(
        &self,
        ctx: &TheoryContext,
    ) -> Result<(Vec<Record>, integrate::Stats)> {
        if self.model.spec().rank.is_some() {
            return self.low_rank_records(ctx);
        }
        let c = ctx.config;
        let modes = self.task.modes.as_ref().expect("checked by reduced_reason");
        let s = c.sequence.clone().unwrap_or_default();
        let n = self.model.spec().hidden;
        let k = modes.lags.len();
        let g = &self.rnn.aligned_gains;
        let (b0, a0, c0) = (g[0], g[1], g[2]);
        // Per save: (t, loss, per-mode (b, a, c)).
        let mut local: Vec<(f64, f64, Vec<[f64; 3]>)> = Vec::new();
        let stats = if c.task.kind == TaskKind::Integrate {
            // Every mode (input dimension) follows the same outlier ODE; state [b, c, lambda].
            // The rate form's one-step map has eigenvalue 1 - alpha + alpha lambda (OL-9); the
            // discrete form is alpha = 1.
            let alpha = match self.model.spec().form {
                Form::Rate { alpha } => alpha,
                Form::Discrete => 1.0,
            };
            let mut ode =
                RateOutlier::new(alpha, 1.0, s.gamma, LagWeights::Finite { steps: s.steps })?;
            let y0 = [b0, c0, a0];
            let loss_of = ode;
            let mut on_save = |t: f64, y: &[f64]| {
                let l = k as f64 * loss_of.loss(y);
                local.push((t, l, vec![[y[0], y[2], y[1]]; k]));
            };
            solve_saving(ctx.method, &mut ode, &y0, ctx.times, ctx.opts, &mut on_save)?
        } else {
            // LR-2: state [c, a, b] per mode; L = 1/2 sum_a sum_k (s_k - c a^k b)^2.
            let mut ode = LrnnModes {
                s: modes.profiles.clone(),
            };
            let y0: Vec<f64> = (0..k).flat_map(|_| [c0, a0, b0]).collect();
            let profiles = modes.profiles.clone();
            let mut on_save = |t: f64, y: &[f64]| {
                let mut l = 0.0;
                let mut gains = Vec::with_capacity(k);
                for (m, p) in profiles.iter().enumerate() {
                    let (cc, aa, bb) = (y[3 * m], y[3 * m + 1], y[3 * m + 2]);
                    let mut ak = 1.0;
                    for &sk in p {
                        l += 0.5 * (sk - cc * ak * bb).powi(2);
                        ak *= aa;
                    }
                    gains.push([bb, aa, cc]);
                }
                local.push((t, l, gains));
            };
            solve_saving(ctx.method, &mut ode, &y0, ctx.times, ctx.opts, &mut on_save)?
        };
        let want = ctx.want;
        let mut out = Vec::new();
        for (t, loss, gains) in local {
            let at = Stamp::theory(Source::ReducedOde, t);
            if want.has(Observable::Loss) {
                out.push(at.record(Observable::Loss, None, loss));
            }
            if want.has(Observable::ModeStrength) {
                for (a, g) in gains.iter().enumerate() {
                    let [bb, aa, cc] = *g;
                    let v = cc * aa.powi(modes.lags[a] as i32) * bb;
                    out.push(at.record(Observable::ModeStrength, Some(a), v));
                }
            }
            if want.has(Observable::LagProduct) {
                let steps = modes.profiles.first().map_or(0, Vec::len);
                for (a, g) in gains.iter().enumerate() {
                    let [bb, aa, cc] = *g;
                    let mut ak = 1.0;
                    for k in 0..steps {
                        out.push(at.record(
                            Observable::LagProduct,
                            Some(a * steps + k),
                            cc * ak * bb,
                        ));
                        ak *= aa;
                    }
                }
            }
            // W = R diag(a) R^T: eigenvalues a_m and n - k zeros; W - W0 = R diag(a - a0) R^T.
            let mut ev: Vec<Complex64> = gains.iter().map(|g| Complex64::new(g[1], 0.0)).collect();
            ev.extend(std::iter::repeat_n(Complex64::new(0.0, 0.0), n - k));
            ev.sort_by(|x, y| y.norm().total_cmp(&x.norm()).then(y.im.total_cmp(&x.im)));
            // The reduced theories are of the discrete form's W (as before the pipeline split).
            sequence::push_spectrum(
                &mut out,
                at,
                &ev,
                &|l| super::w_timescale(l, Form::Discrete),
                want,
            );
            let mut sv: Vec<f64> = gains.iter().map(|g| (g[1] - a0).abs()).collect();
            sv.extend(std::iter::repeat_n(0.0, n - k));
            sv.sort_by(|x, y| y.total_cmp(x));
            sequence::push_delta(&mut out, at, &sv, want);
        }
        Ok((out, stats))
    }
}

impl RnnFamily {
    /// Why the overlap flow LK-4 does not apply to this rank-R run (None: it does, exactly).
    fn low_rank_reason(&self, c: &Config) -> Option<String> {
        let spec = self.model.spec();
        let s = c.sequence.clone().unwrap_or_default();
        if self.task.modes.is_none() {
            return Some(format!(
                "task.kind = \"{}\" has no lag targets; the low-rank overlap ODE (LK-4) needs \"integrate\" or \"lagged_modes\"",
                c.task.kind.name()
            ));
        }
        if spec.activation != Activation::Identity || spec.bias {
            return Some("the low-rank overlap ODE (LK-4) is for linear RNNs without bias (rnn.activation = \"identity\", rnn.bias = false)".into());
        }
        if spec.learn.h0 || self.rnn.h0 != 0.0 {
            return Some("the low-rank overlap ODE (LK-4) starts from h_0 = 0 and does not train it (rnn.h0 = 0, no \"h0\" in rnn.learn)".into());
        }
        if c.task.noise_std > 0.0 || self.rnn.noise_std > 0.0 {
            return Some(
                "observation and state noise are not part of the low-rank overlap ODE (LK-4)"
                    .into(),
            );
        }
        if c.train.truncation.is_some() {
            return Some("truncated BPTT is not the gradient of the loss the overlap ODE flows on (omit train.truncation)".into());
        }
        let white = s.input == InputKind::WhiteNoise && s.input_std.to_bits() == 1.0f64.to_bits();
        if !(self.task.population || white) {
            return Some(format!(
                "the low-rank overlap ODE (LK-4) assumes unit white-noise inputs: sequence.input = \"impulse_basis\" (exact) or \"white_noise\" with input_std = 1 (sampled), not \"{}\"",
                serde_name(&s.input)
            ));
        }
        match (c.task.kind, s.readout) {
            (TaskKind::Integrate, Readout::All) | (TaskKind::LaggedModes, Readout::Last) => {}
            _ => return Some("the low-rank overlap ODE (LK-4) covers task.kind = \"integrate\" with sequence.readout = \"all\" and \"lagged_modes\" with \"last\"".into()),
        }
        if self.rnn.g > 0.0 {
            return Some(format!(
                "the overlaps close only for a bulk that annihilates the trained vectors (LK-3, e.g. rnn.g = 0); the random bulk g chi (rnn.g = {}) feeds the directions chi^j U, (chi^T)^j C^T into M and N, an O(g^2) effect at every N (theory/low_rank.md, LK-6)",
                self.rnn.g
            ));
        }
        None
    }

    /// The LK-4 records of a rank-R run, started from the first seed's init (as the
    /// `gradient_flow` source).
    fn low_rank_records(&self, ctx: &TheoryContext) -> Result<(Vec<Record>, integrate::Stats)> {
        let c = ctx.config;
        let modes = self
            .task
            .modes
            .as_ref()
            .expect("checked by low_rank_reason");
        let s = c.sequence.clone().unwrap_or_default();
        let m = &self.model;
        let spec = m.spec();
        let rank = spec.rank.expect("a rank-R run");
        let theta0 = self.init_params(c.train.seeds[0])?;
        let block = |name: &str| {
            m.get(&theta0, name).ok_or_else(|| {
                crate::error::Error::invalid("rank-R RNN", format!("no block {name}"))
            })
        };
        let v0 = low_rank::stack_vectors(&block("m")?, &block("n")?, &block("u")?, &block("c")?)?;
        let alpha = match spec.form {
            Form::Rate { alpha } => alpha,
            Form::Discrete => 1.0,
        };
        let (sigma, weights) = lag_targets(modes, s.steps, s.readout);
        let trained = Trained {
            mn: spec.learn.w,
            u: spec.learn.u,
            c: spec.learn.c,
        };
        let mut ode = OverlapFlow::new(rank, alpha, sigma, weights, trained, &v0)?;
        let y0 = ode.initial_state();
        let observer = ode.clone();
        let mut states = Vec::new();
        let mut on_save = |t: f64, y: &[f64]| states.push((t, observer.observe(y)));
        let stats = solve_saving(ctx.method, &mut ode, &y0, ctx.times, ctx.opts, &mut on_save)?;
        let (want, n, form) = (ctx.want, spec.hidden, spec.form);
        let steps = s.steps;
        let mut out = Vec::new();
        for (t, state) in states {
            let at = Stamp::theory(Source::ReducedOde, t);
            let st = state?;
            if want.has(Observable::Loss) {
                out.push(at.record(Observable::Loss, None, st.loss));
            }
            // u_a^T (C W^k U) v_a.
            let project = |a: usize, k: usize| {
                let map = &st.w_lag_maps[k];
                let mut v = 0.0;
                for i in 0..map.nrows() {
                    for j in 0..map.ncols() {
                        v += modes.u.get(i, a) * map.get(i, j) * modes.v.get(j, a);
                    }
                }
                v
            };
            if want.has(Observable::ModeStrength) {
                for (a, &lag) in modes.lags.iter().enumerate() {
                    out.push(at.record(Observable::ModeStrength, Some(a), project(a, lag)));
                }
            }
            if want.has(Observable::LagProduct) {
                for a in 0..modes.lags.len() {
                    for k in 0..steps {
                        out.push(at.record(
                            Observable::LagProduct,
                            Some(a * steps + k),
                            project(a, k),
                        ));
                    }
                }
            }
            // W = M N^T / n: the eigenvalues of N^T M / n and n - R zeros.
            let mut ev = st.eigenvalues.clone();
            ev.resize(n, Complex64::new(0.0, 0.0));
            spectra::sort_eigenvalues(&mut ev, super::time_kind(form));
            sequence::push_spectrum(&mut out, at, &ev, &|l| super::w_timescale(l, form), want);
            let mut sv = st.delta_singular_values.clone();
            sv.resize(n, 0.0);
            sequence::push_delta(&mut out, at, &sv, want);
        }
        Ok((out, stats))
    }
}

/// Target lag maps `Sigma_k = sum_a s_a(k) u_a v_a^T` and lag weights (LK-2): `(T - k) / T`
/// for outputs at every step (OL-5), 1 for the last-step readout (LR-1).
fn lag_targets(
    modes: &sequence::TaskModes,
    steps: usize,
    readout: Readout,
) -> (Vec<Matrix>, Vec<f64>) {
    let (d_out, d_in) = (modes.u.nrows(), modes.v.nrows());
    let sigma = (0..steps)
        .map(|k| {
            Matrix::from_fn(d_out, d_in, |i, j| {
                (0..modes.lags.len())
                    .map(|a| modes.profiles[a][k] * modes.u.get(i, a) * modes.v.get(j, a))
                    .sum()
            })
        })
        .collect();
    let t = steps as f64;
    let weights = (0..steps)
        .map(|k| match readout {
            Readout::Last => 1.0,
            Readout::All => (t - k as f64) / t,
        })
        .collect();
    (sigma, weights)
}

/// The config spelling of a serde enum value.
fn serde_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|x| x.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl RnnFamily {
    /// Why the partial-observation closed form (PO-10) does not apply (None: it does).
    pub(super) fn closed_form_reason(&self, c: &Config) -> Option<String> {
        // Other tasks keep the message they always had (golden manifests pin it).
        let Some(teacher) = self.task.teacher.as_ref() else {
            return Some(
                "RNN learning dynamics have no closed form in learndyn; see reduced_ode and gradient_flow".into(),
            );
        };
        if !teacher.student_reads_observed {
            return Some("the student reads the teacher's inputs and can represent its input-output map exactly; the stationary student of the observed units (PO-10) needs sequence.student_input = \"observed\"".into());
        }
        if teacher.rnn.activation != Activation::Identity {
            return Some("the stationary student (PO-1) is for a linear teacher (sequence.teacher_activation = \"identity\")".into());
        }
        let s = c.sequence.clone().unwrap_or_default();
        if s.input != InputKind::WhiteNoise {
            return Some(format!(
                "the teacher's process noise is U x_t only for white-noise inputs (sequence.input = \"white_noise\"), not \"{}\"",
                serde_name(&s.input)
            ));
        }
        if s.readout != Readout::All {
            return Some(
                "the one-step fit of PO-10 scores every step (sequence.readout = \"all\")".into(),
            );
        }
        let spec = self.model.spec();
        if spec.activation != Activation::Identity
            || spec.bias
            || !matches!(spec.form, Form::Discrete)
            || spec.rank.is_some()
        {
            return Some("the student of PO-10 is a linear one-step map: rnn.activation = \"identity\", rnn.bias = false, rnn.form = \"discrete\", rnn.rank = 0".into());
        }
        if spec.learn.w || self.rnn.g > 0.0 || self.rnn.init != RnnInitKind::Random {
            return Some("a student with recurrent memory (W != 0) fits the best predictor from the whole observed past, not the one-step stationary student of PO-10; fix W = 0 (rnn.g = 0, no \"w\" in rnn.learn)".into());
        }
        if spec.learn.h0 || self.rnn.h0 != 0.0 || self.rnn.noise_std > 0.0 {
            return Some("the student of PO-10 has h_0 = 0 and no state noise (rnn.h0 = 0, no \"h0\" in rnn.learn, rnn.noise_std = 0)".into());
        }
        if !(spec.learn.u || spec.learn.c) {
            return Some("train U or C (rnn.learn) so the one-step map C U is fitted".into());
        }
        if spec.hidden < teacher.observed.len() {
            return Some(format!(
                "model.hidden = {} < d_out = {}: the one-step map C U is rank-limited (a reduced-rank fit, not PO-10)",
                spec.hidden,
                teacher.observed.len()
            ));
        }
        None
    }

    /// The partial-observation problem of the run (PO-10): the teacher's one-step map
    /// `M = W` (discrete) or `(1 - a) I + a W` (rate form, Euler step `a`), its process noise
    /// `Q = s_x^2 U U^T` (times `a^2`), the observed units and `task.noise_std` (PO-4), in
    /// discrete time (the student's time).
    pub(super) fn partial_observation_problem(
        &self,
        c: &Config,
    ) -> Option<(Matrix, Matrix, Vec<usize>)> {
        let teacher = self.task.teacher.as_ref()?;
        let s = c.sequence.clone().unwrap_or_default();
        let rnn = &teacher.rnn;
        let n = rnn.w.nrows();
        let a = rnn.alpha.unwrap_or(1.0);
        let m = Matrix::from_fn(n, n, |i, j| {
            let keep = if i == j { 1.0 - a } else { 0.0 };
            keep + a * rnn.w.get(i, j)
        });
        let drive = rnn.u.clone().scale(a * s.input_std);
        let q = drive.matmul_t(&drive);
        Some((m, q, teacher.observed.clone()))
    }

    /// The records of the stationary student (PO-10): its spectrum, padded with zeros to
    /// `model.hidden` and ordered like the trained student's closed loop, and the timescales
    /// in steps; the same values at every record time (the `t -> infinity` limit of the fit).
    pub(super) fn closed_form_records(&self, ctx: &TheoryContext) -> Result<Vec<Record>> {
        use crate::theory::partial_obs::{self, Problem, TimeKind as PoTime};
        let c = ctx.config;
        let (m, q, observed) = self
            .partial_observation_problem(c)
            .expect("checked by closed_form_reason");
        let student = partial_obs::stationary_student(&Problem {
            teacher: &m,
            noise: Some(&q),
            observed: &observed,
            time: PoTime::Discrete,
            obs_noise: c.task.noise_std,
        })?;
        let n = self.model.spec().hidden;
        let mut ev = student.eigenvalues.clone();
        ev.resize(n, Complex64::new(0.0, 0.0));
        spectra::sort_eigenvalues(&mut ev, spectra::TimeKind::Discrete);
        let mut out = Vec::new();
        for &t in ctx.times {
            let at = Stamp::theory(Source::ClosedForm, t);
            sequence::push_spectrum(
                &mut out,
                at,
                &ev,
                &|l| super::w_timescale(l, Form::Discrete),
                ctx.want,
            );
        }
        Ok(out)
    }
}
