//! Theory sources of deep linear networks:
//! - `closed_form`: Saxe / unbalanced closed forms per mode (DL-6..DL-10) for the aligned
//!   init, or the Riccati solution (RC-3) for unaligned two-layer lambda-balanced inits;
//! - `reduced_ode`: the decoupled mode ODE (DL-5) for the aligned init, or Arora's end-to-end
//!   flow (AR-1) for unaligned balanced inits with a full-rank teacher and map.

use super::{push_gram_observables, push_map_observables, DeepLinearFamily};
use crate::analysis;
use crate::error::Result;
use crate::experiment::family::{Stamp, TheoryContext, TheoryOutcome};
use crate::experiment::observable::{Observable, Wanted};
use crate::experiment::summary::first_hits;
use crate::experiment::{Record, Source};
use crate::integrate::{self, Crossing, Event, Ivp, Output, Workspace};
use crate::linalg::{self, Matrix};
use crate::model::init::{mode_layer_scalars, Init};
use crate::model::DeepLinearNet;
use crate::task::LinearTask;
use crate::theory::deep_linear as dl;
use crate::theory::{arora, riccati};

/// Records of the mode theories from per-mode strengths `u[alpha]` at a time (aligned modes:
/// `W_e = U diag(u) V^T`).
struct ModeRecorder<'a> {
    task: &'a LinearTask,
    net: &'a DeepLinearNet,
    want: &'a Wanted,
    /// Initial layer scalars of every mode (DL-3).
    layers0: Vec<Vec<f64>>,
    /// Loss not explained by the r modes (noise floor plus teacher variance outside the
    /// modes): `L = 1/2 sum_alpha (s_alpha - u_alpha)^2 + rest` (DL-11).
    rest: f64,
}

impl ModeRecorder<'_> {
    /// Aligned: `W1^T W1 = V diag(a_1^2) V^T`, `W2 W2^T = U diag(a_2^2) U^T` (two layers).
    fn mode_grams(&self, layers: &[Vec<f64>]) -> (Matrix, Matrix) {
        let d = |l: usize| -> Vec<f64> { layers.iter().map(|a| a[l] * a[l]).collect() };
        let sym = |m: &Matrix, w: Vec<f64>| {
            Matrix::from_fn(m.nrows(), w.len(), |i, a| m.get(i, a) * w[a]).matmul_t(m)
        };
        (
            sym(&self.task.v, d(0)),
            sym(&self.task.u, d(layers[0].len() - 1)),
        )
    }

    fn push(&self, out: &mut Vec<Record>, at: Stamp, u: &[f64], drift: f64, layers: &[Vec<f64>]) {
        let (task, want) = (self.task, self.want);
        let k_sv = task.d_in().min(task.d_out());
        if want.has(Observable::Loss) {
            let l = 0.5
                * task
                    .s
                    .iter()
                    .zip(u)
                    .map(|(s, x)| (s - x) * (s - x))
                    .sum::<f64>()
                + self.rest;
            out.push(at.record(Observable::Loss, None, l));
        }
        if want.has(Observable::ModeStrength) {
            for (a, x) in u.iter().enumerate() {
                out.push(at.record(Observable::ModeStrength, Some(a), *x));
            }
        }
        if want.has(Observable::SingularValue) {
            // Aligned modes: singular values |u_alpha| sorted, then zeros.
            let mut sv: Vec<f64> = u.iter().map(|x| x.abs()).collect();
            sv.sort_by(|a, b| b.total_cmp(a));
            sv.resize(k_sv, 0.0);
            for (i, s) in sv.into_iter().enumerate() {
                out.push(at.record(Observable::SingularValue, Some(i), s));
            }
        }
        if want.has(Observable::Map) {
            let ud = Matrix::from_fn(task.u.nrows(), u.len(), |i, a| task.u.get(i, a) * u[a]);
            let we = ud.matmul_t(&task.v);
            for i in 0..we.nrows() {
                for j in 0..we.ncols() {
                    out.push(at.record(Observable::Map, Some(i * we.ncols() + j), we.get(i, j)));
                }
            }
        }
        if want.has(Observable::BalanceDrift) {
            out.push(at.record(Observable::BalanceDrift, None, drift));
        }
        if want.has(Observable::WeightChange) && !self.layers0.is_empty() {
            // Orthonormal hidden directions: ||W_l - W_l(0)||_F^2 = sum_alpha (a - a0)^2.
            for l in 0..self.net.depth() {
                let d: f64 = layers
                    .iter()
                    .zip(&self.layers0)
                    .map(|(a, a0)| (a[l] - a0[l]).powi(2))
                    .sum();
                out.push(at.record(Observable::WeightChange, Some(l), d.sqrt()));
            }
        }
        if want.any(&[Observable::KernelDistance, Observable::Alignment])
            && !self.layers0.is_empty()
        {
            let g0 = (self.net.depth() == 2).then(|| self.mode_grams(&self.layers0));
            let g = self.mode_grams(layers);
            push_gram_observables(out, at, g0.as_ref(), &g, task, want);
        }
    }
}

/// Records of a theory that gives the end-to-end map `we` (Riccati, Arora): loss, the map
/// observables and a zero balance drift (the balance is conserved exactly, C-4).
fn push_map_theory(
    out: &mut Vec<Record>,
    at: Stamp,
    we: &Matrix,
    task: &LinearTask,
    want: &Wanted,
) {
    if want.has(Observable::Loss) {
        let l = 0.5 * task.moments.w_star.sub(we).norm_fro().powi(2) + task.moments.loss_min;
        out.push(at.record(Observable::Loss, None, l));
    }
    push_map_observables(out, at, we, task, want);
    if want.has(Observable::BalanceDrift) {
        out.push(at.record(Observable::BalanceDrift, None, 0.0));
    }
}

/// `a_{l+1}^2 - a_l^2` for each mode and layer pair, mode-major.
fn balances(y: &[f64], depth: usize) -> Vec<f64> {
    y.chunks(depth)
        .flat_map(|a| (0..depth - 1).map(move |l| a[l + 1] * a[l + 1] - a[l] * a[l]))
        .collect()
}

impl DeepLinearFamily {
    /// `(u0, lambda)` of the aligned init.
    fn aligned(&self) -> Option<(Vec<f64>, f64)> {
        match &self.init {
            Init::Aligned { u0, lambda, .. } => Some((u0.clone(), *lambda)),
            _ => None,
        }
    }

    /// Why the mode theories do not apply. Non-whitened inputs rule out every theory but
    /// the full flow; say that first.
    fn mode_theory_reason(&self, ctx: &TheoryContext) -> Option<String> {
        let task = &self.task;
        if !task.moments.whitened {
            Some(format!(
                "inputs are not whitened (||Sigma_xx - I||_F = {:.3e}); the closed forms and reduced ODEs assume Sigma_xx = I (set task.whiten = true)",
                task.whitening_error
            ))
        } else if self.aligned().is_none() {
            Some(format!(
                "init.kind = \"{}\" is not the decoupled (aligned) initial condition the mode theories assume",
                ctx.config.init.kind.name()
            ))
        } else {
            None
        }
    }

    fn recorder<'a>(&'a self, want: &'a Wanted) -> ModeRecorder<'a> {
        let (task, net) = (&self.task, &self.net);
        let layers0 = self
            .aligned()
            .map(|(u0, lambda)| {
                u0.iter()
                    .map(|&x| mode_layer_scalars(x, lambda, net.depth()))
                    .collect()
            })
            .unwrap_or_default();
        let rest = task.moments.loss_min + 0.5 * task.moments.w_star.norm_fro().powi(2)
            - 0.5 * task.s.iter().map(|s| s * s).sum::<f64>();
        ModeRecorder {
            task,
            net,
            want,
            layers0,
            rest,
        }
    }

    /// `closed_form` (see the module docs).
    pub(super) fn closed_form(&self, ctx: &TheoryContext) -> Result<TheoryOutcome> {
        let (task, net) = (&self.task, &self.net);
        let riccati_init = if net.depth() == 2 && self.aligned().is_none() && task.moments.whitened
        {
            let theta0 = self.initial_params_of(ctx)?;
            let (w1, w2) = (
                net.layer(&theta0, 1).to_owned(),
                net.layer(&theta0, 2).to_owned(),
            );
            riccati::lambda_balance(&w1, &w2, 1e-10).map(|l| (w1, w2, l))
        } else {
            None
        };
        if let Some((w1, w2, lambda)) = riccati_init {
            return self.riccati(ctx, &w1, &w2, lambda);
        }
        let reason = self.mode_theory_reason(ctx).map(|r| {
            if net.depth() == 2 && task.moments.whitened {
                format!("{r}, and the init is not lambda-balanced (W2^T W2 - W1 W1^T != lambda I), so the Riccati solution does not apply either")
            } else {
                r
            }
        });
        if let Some(reason) = reason {
            return Ok(TheoryOutcome::Skipped(reason));
        }
        let (u0, lambda) = self.aligned().expect("aligned: no mode-theory reason");
        if net.depth() > 2 && lambda != 0.0 {
            return Ok(TheoryOutcome::Skipped("no closed form for unbalanced (lambda != 0) networks deeper than 2 layers; see reduced_ode".into()));
        }
        if net.depth() > 2 && u0.iter().any(|&x| x <= 0.0) {
            return Ok(TheoryOutcome::Skipped(
                "the depth-L closed form needs u0 > 0 for every mode; see reduced_ode".into(),
            ));
        }
        let rec = self.recorder(ctx.want);
        let mut records = Vec::new();
        for &t in ctx.times {
            let u: Vec<f64> = task
                .s
                .iter()
                .zip(&u0)
                .map(|(&s, &x)| {
                    if net.depth() == 2 {
                        dl::unbalanced_two_layer(s, x, lambda, t)
                    } else {
                        dl::balanced_depth(s, net.depth(), x, t).unwrap_or(f64::NAN)
                    }
                })
                .collect();
            let layers: Vec<Vec<f64>> = u
                .iter()
                .map(|&x| mode_layer_scalars(x, lambda, net.depth()))
                .collect();
            rec.push(
                &mut records,
                Stamp::theory(Source::ClosedForm, t),
                &u,
                0.0,
                &layers,
            );
        }
        let learn = task
            .s
            .iter()
            .zip(&u0)
            .map(|(&s, &x)| dl::time_to_learn(s, x, lambda, net.depth()))
            .collect();
        Ok(TheoryOutcome::Computed {
            records,
            learn_times: Some(learn),
            stats: None,
        })
    }

    /// The first seed's initial parameters.
    fn initial_params_of(&self, ctx: &TheoryContext) -> Result<Vec<f64>> {
        use crate::experiment::family::Family;
        self.initial_params(ctx.config.train.seeds[0])
    }

    /// The Riccati solution (RC-3) from the first seed's lambda-balanced `(W1, W2)`.
    fn riccati(
        &self,
        ctx: &TheoryContext,
        w1: &Matrix,
        w2: &Matrix,
        lambda: f64,
    ) -> Result<TheoryOutcome> {
        let task = &self.task;
        let r = riccati::Riccati::new(&task.moments.sigma_yx, lambda)?;
        let mut p = r.p_of(w1, w2);
        let g_init = (w1.t_matmul(w1), w2.matmul_t(w2));
        let mut t_prev = 0.0;
        let mut records = Vec::new();
        let half: Vec<f64> = task.s.iter().map(|s| 0.5 * s).collect();
        let mut learn: Vec<Option<f64>> = vec![None; half.len()];
        let mut before: Option<(f64, Matrix, Vec<f64>)> = None;
        for &t in ctx.times {
            p = r.propagate(&p, t - t_prev)?;
            t_prev = t;
            let we = r.map_of(&p);
            // Time to learn (DL-11's definition, issue 14): the first time the projection
            // u_a^T W_e v_a reaches s_a / 2, bracketed between record times and located by
            // bisection on the closed form itself.
            let m = analysis::mode_strengths(&we, &task.u, &task.v);
            for a in 0..half.len() {
                if learn[a].is_some() || m[a] < half[a] {
                    continue;
                }
                learn[a] = Some(match &before {
                    None => t,
                    Some((t0, p0, m0)) if m0[a] < half[a] => crossing(&r, p0, (*t0, t), |we| {
                        analysis::mode_strengths(we, &task.u, &task.v)[a] - half[a]
                    })?,
                    Some(_) => t,
                });
            }
            before = Some((t, p.clone(), m));
            let at = Stamp::theory(Source::ClosedForm, t);
            push_map_theory(&mut records, at, &we, task, ctx.want);
            let g = (r.w1tw1_of(&p), r.w2w2t_of(&p));
            push_gram_observables(&mut records, at, Some(&g_init), &g, task, ctx.want);
        }
        Ok(TheoryOutcome::Computed {
            records,
            learn_times: Some(learn),
            stats: None,
        })
    }

    /// The first seed's initial end-to-end map, if the init is balanced and unaligned with
    /// a full-rank teacher and map (Arora's flow applies).
    fn balanced_unaligned_map(&self, ctx: &TheoryContext) -> Result<Option<Matrix>> {
        let (task, net) = (&self.task, &self.net);
        if self.aligned().is_some() || !task.moments.whitened {
            return Ok(None);
        }
        let theta0 = self.initial_params_of(ctx)?;
        let scale = theta0
            .iter()
            .fold(0.0f64, |m, x| m.max(x.abs()))
            .powi(2)
            .max(f64::MIN_POSITIVE);
        let balanced = net.balance_matrices(&theta0).iter().all(|d| {
            d.max_abs() <= 1e-10 * scale * net.dims().iter().max().copied().unwrap_or(1) as f64
        });
        // AR-1 takes fractional powers of W_e W_e^T: near a rank-deficient map they turn
        // rounding into large noise (x^{1/N} of 1e-16), so use it only while the map stays
        // full rank: a full-rank teacher and a full-rank initial map.
        let we0 = net.end_to_end(&theta0);
        let sv = linalg::singular_values(we0.view()).unwrap_or_default();
        let full_rank = task.rank() == task.d_in().min(task.d_out())
            && sv.last().is_some_and(|&lo| lo > 1e-6 * sv[0]);
        Ok((balanced && full_rank).then_some(we0))
    }

    /// `reduced_ode` (see the module docs).
    pub(super) fn reduced_ode(&self, ctx: &TheoryContext) -> Result<TheoryOutcome> {
        if let Some(we0) = self.balanced_unaligned_map(ctx)? {
            return Ok(self.arora(ctx, &we0));
        }
        if let Some(reason) = self.mode_theory_reason(ctx) {
            return Ok(TheoryOutcome::Skipped(if self.task.moments.whitened {
                format!("{reason}, and Arora's end-to-end flow needs a balanced init (W_(l+1)^T W_(l+1) = W_l W_l^T) with a full-rank teacher and initial map")
            } else {
                reason
            }));
        }
        Ok(self.mode_ode(ctx))
    }

    /// Arora's end-to-end flow (AR-1) from `we0`.
    fn arora(&self, ctx: &TheoryContext, we0: &Matrix) -> TheoryOutcome {
        let task = &self.task;
        let mut field = arora::EndToEnd {
            depth: self.net.depth(),
            w_star: task.moments.w_star.clone(),
        };
        let (m, n) = (we0.nrows(), we0.ncols());
        let mut local = Vec::new();
        let mut on_save = |t: f64, y: &[f64]| {
            local.push((t, Matrix::from_col_major(m, n, y.to_vec()).expect("map")));
        };
        let sol = crate::experiment::family::solve_saving(
            ctx.method,
            &mut field,
            we0.as_slice(),
            ctx.times,
            ctx.opts,
            &mut on_save,
        );
        match sol {
            Ok(stats) => {
                let mut records = Vec::new();
                for (t, we) in local {
                    let at = Stamp::theory(Source::ReducedOde, t);
                    push_map_theory(&mut records, at, &we, task, ctx.want);
                }
                TheoryOutcome::Computed {
                    records,
                    learn_times: None,
                    stats: Some(stats),
                }
            }
            Err(e) => TheoryOutcome::Skipped(format!("integration failed: {e}")),
        }
    }

    /// The decoupled mode ODE (DL-5) from the aligned init, with events at half of each
    /// teacher strength.
    fn mode_ode(&self, ctx: &TheoryContext) -> TheoryOutcome {
        let task = &self.task;
        let (u0, lambda) = self.aligned().expect("aligned: no mode-theory reason");
        let depth = self.net.depth();
        let rank = task.rank();
        let mut ode = dl::ModeOde {
            s: task.s.clone(),
            depth,
        };
        let y0: Vec<f64> = u0
            .iter()
            .flat_map(|&x| mode_layer_scalars(x, lambda, depth))
            .collect();
        let bal0: Vec<f64> = balances(&y0, depth);
        let mut ws = Workspace::new(y0.len());
        let mut local = Vec::new();
        let mut on_save = |t: f64, y: &[f64]| {
            let u: Vec<f64> = (0..rank)
                .map(|a| y[a * depth..(a + 1) * depth].iter().product())
                .collect();
            let bal = balances(y, depth);
            // max over layer pairs of the Frobenius norm over modes (matches C-4 for
            // aligned networks: D_l = R diag(a_{l+1}^2 - a_l^2) R^T).
            let drift = (0..depth - 1)
                .map(|l| {
                    (0..rank)
                        .map(|a| {
                            let i = a * (depth - 1) + l;
                            (bal[i] - bal0[i]).powi(2)
                        })
                        .sum::<f64>()
                        .sqrt()
                })
                .fold(0.0, f64::max);
            let layers: Vec<Vec<f64>> = y.chunks(depth).map(|c| c.to_vec()).collect();
            local.push((t, u, drift, layers));
        };
        let mut out = Output::at_times(ctx.times, &mut on_save);
        for (a, &s_a) in task.s.iter().enumerate() {
            out = out.with_event(Event::new(
                move |_, y: &[f64]| {
                    y[a * depth..(a + 1) * depth].iter().product::<f64>() - 0.5 * s_a
                },
                Crossing::Rising,
            ));
        }
        let t_end = *ctx.times.last().unwrap_or(&0.0);
        let sol = integrate::solve(
            ctx.method,
            &mut ode,
            &Ivp::new(0.0, &y0, t_end),
            ctx.opts,
            &mut ws,
            &mut out,
        );
        drop(out);
        // An integration failure skips this source (with the reason), not the run.
        match sol {
            Ok(sol) => {
                let rec = self.recorder(ctx.want);
                let mut records = Vec::new();
                for (t, u, drift, layers) in local {
                    let at = Stamp::theory(Source::ReducedOde, t);
                    rec.push(&mut records, at, &u, drift, &layers);
                }
                TheoryOutcome::Computed {
                    records,
                    learn_times: Some(first_hits(&sol.events, rank)),
                    stats: Some(sol.stats),
                }
            }
            Err(e) => TheoryOutcome::Skipped(format!("integration failed: {e}")),
        }
    }
}

/// The time in `(t0, t1)` where `f(W_e(t))` crosses 0 upward, `W_e` the Riccati solution
/// from `p0` at `t0` (with `f < 0` at `t0` and `f >= 0` at `t1`), by bisection to a relative
/// width of 4 eps (at most 60 halvings).
fn crossing(
    r: &riccati::Riccati,
    p0: &Matrix,
    (t0, t1): (f64, f64),
    f: impl Fn(&Matrix) -> f64,
) -> Result<f64> {
    let (mut lo, mut hi) = (t0, t1);
    for _ in 0..60 {
        if hi - lo <= 4.0 * f64::EPSILON * hi.abs().max(1.0) {
            break;
        }
        let mid = 0.5 * (lo + hi);
        let we = r.map_of(&r.propagate(p0, mid - t0)?);
        if f(&we) >= 0.0 {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(hi)
}
