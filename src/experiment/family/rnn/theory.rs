//! The reduced theories of linear RNNs started from the aligned init: the outlier model of
//! learning to integrate (OL-*, both forms through OL-9) and the per-mode linear-RNN ODE
//! (LR-2, discrete form, last-step readout).

use super::RnnFamily;
use crate::error::Result;
use crate::experiment::config::{Config, TaskKind};
use crate::experiment::family::sequence;
use crate::experiment::family::solve_saving;
use crate::experiment::family::{Stamp, TheoryContext};
use crate::experiment::observable::Observable;
use crate::experiment::rnn_config::{InputKind, Readout, RnnInitKind};
use crate::experiment::{Record, Source};
use crate::integrate;
use crate::model::rnn::Activation;
use crate::model::seq_rnn::Form;
use crate::theory::lrnn::LrnnModes;
use crate::theory::outlier::{LagWeights, RateOutlier};
use num_complex::Complex64;

impl RnnFamily {
    /// Why the reduced theory does not apply (None: it does).
    pub(super) fn reduced_reason(&self, c: &Config) -> Option<String> {
        let spec = self.model.spec();
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

/// The config spelling of a serde enum value.
fn serde_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|x| x.as_str().map(str::to_string))
        .unwrap_or_default()
}
