//! Integrator features beyond plain stepping (theory/integrators.md): event location on the
//! dense output, terminal events, save modes, the L-stable Rosenbrock method ROS2 and the
//! automatic stiffness switch.
mod common;
use common::*;
use learndyn::integrate::{
    solve, Atol, Crossing, Event, Ivp, Method, Options, Output, StopReason, VectorField, Workspace,
};
use learndyn::linalg::{expm, Matrix};

struct Logistic;
impl VectorField for Logistic {
    fn dim(&self) -> usize {
        1
    }
    fn eval(&mut self, _t: f64, y: &[f64], dy: &mut [f64]) {
        dy[0] = y[0] * (1.0 - y[0]);
    }
}

struct Linear(Matrix);
impl VectorField for Linear {
    fn dim(&self) -> usize {
        self.0.nrows()
    }
    fn eval(&mut self, _t: f64, y: &[f64], dy: &mut [f64]) {
        let n = self.0.nrows();
        for (i, d) in dy.iter_mut().enumerate() {
            *d = (0..n).map(|j| self.0.get(i, j) * y[j]).sum();
        }
    }
}

/// `Q diag(lambdas) Q^T` with a fixed rotation-like orthogonal Q (stiff when the eigenvalues
/// are far apart).
fn stiff_matrix(lambdas: &[f64]) -> Matrix {
    let n = lambdas.len();
    let g = Matrix::from_fn(n, n, |i, j| {
        ((i * 7 + j * 3) as f64 * 0.37).sin() + if i == j { 2.0 } else { 0.0 }
    });
    let q = learndyn::linalg::orthonormal_from(&g).unwrap();
    q.matmul(&Matrix::from_diag(lambdas)).matmul_t(&q)
}

fn exact_linear(a: &Matrix, y0: &[f64], t: f64) -> Vec<f64> {
    let e = expm(&a.clone().scale(t)).unwrap();
    (0..y0.len())
        .map(|i| (0..y0.len()).map(|j| e.get(i, j) * y0[j]).sum())
        .collect()
}

fn opts(rtol: f64) -> Options {
    Options {
        rtol,
        atol: Atol::Scalar(rtol * 1e-2),
        ..Options::default()
    }
}

/// Checks IN-9: an event is located on the dense output to the solver's accuracy.
#[test]
fn event_located_to_solver_accuracy() {
    // y = 1/(1 + 9 e^{-t}) crosses 1/2 at t* = ln 9. The located time inherits the dense
    // output's state error e ~ 100 rtol through dt = e / y'(t*) with y'(t*) = 1/4.
    let rtol = 1e-10;
    for method in ["dopri5", "tsit5", "dop853", "ros2", "auto"] {
        let m = Method::parse(method).unwrap();
        let mut ws = Workspace::new(1);
        let mut out = Output::end().with_event(Event::new(|_, y| y[0] - 0.5, Crossing::Rising));
        let sol = solve(
            &m,
            &mut Logistic,
            &Ivp::new(0.0, &[0.1], 5.0),
            &opts(rtol),
            &mut ws,
            &mut out,
        )
        .unwrap();
        assert_eq!(sol.events.len(), 1, "{method}");
        let t_star = 9f64.ln();
        let tol = if method == "ros2" {
            1e-5
        } else {
            100.0 * rtol / 0.25
        };
        assert!(
            (sol.events[0].t - t_star).abs() < tol,
            "{method}: {} vs {t_star}",
            sol.events[0].t
        );
        assert!((sol.events[0].y[0] - 0.5).abs() < tol, "{method}");
        assert_eq!(sol.stop, StopReason::ReachedEnd);
    }
}

/// Checks IN-9: a terminal event ends the solve at its root; earlier saves are still emitted.
#[test]
fn terminal_event_stops_the_solve_there() {
    let m = Method::parse("dopri5").unwrap();
    let mut ws = Workspace::new(1);
    let times: Vec<f64> = (0..=50).map(|k| 0.1 * k as f64).collect();
    let mut saved = Vec::new();
    let mut cb = |t: f64, _: &[f64]| saved.push(t);
    let mut out = Output::at_times(&times, &mut cb)
        .with_event(Event::new(|_, y| y[0] - 0.5, Crossing::Rising).terminal());
    let sol = solve(
        &m,
        &mut Logistic,
        &Ivp::new(0.0, &[0.1], 5.0),
        &opts(1e-10),
        &mut ws,
        &mut out,
    )
    .unwrap();
    let t_star = 9f64.ln();
    match sol.stop {
        StopReason::Event { index, t } => {
            assert_eq!(index, 0);
            assert!((t - t_star).abs() < 1e-8);
        }
        other => panic!("expected a terminal event, got {other:?}"),
    }
    assert!((sol.t_end - t_star).abs() < 1e-8);
    assert!((sol.y_end[0] - 0.5).abs() < 1e-8);
    drop(out);
    // Saves stop at the event time.
    assert!(
        saved.iter().all(|&t| t <= sol.t_end) && saved.len() == 22,
        "{saved:?}"
    );
}

/// Checks IN-9: rising, falling and either-direction events, with several crossings.
#[test]
fn directional_events_and_multiple_crossings() {
    // y = (cos t, -sin t) rotates: y0 crosses 0 falling at pi/2, rising at 3 pi/2, falling at 5 pi/2.
    let rot = Matrix::from_fn(2, 2, |i, j| match (i, j) {
        (0, 1) => 1.0,
        (1, 0) => -1.0,
        _ => 0.0,
    });
    let m = Method::parse("dopri5").unwrap();
    let mut ws = Workspace::new(2);
    let mut out = Output::end()
        .with_event(Event::new(|_, y| y[0], Crossing::Rising))
        .with_event(Event::new(|_, y| y[0], Crossing::Falling))
        .with_event(Event::new(|_, y| y[0], Crossing::Either));
    let pi = std::f64::consts::PI;
    let sol = solve(
        &m,
        &mut Linear(rot),
        &Ivp::new(0.0, &[1.0, 0.0], 8.0),
        &opts(1e-11),
        &mut ws,
        &mut out,
    )
    .unwrap();
    let times = |idx: usize| -> Vec<f64> {
        sol.events
            .iter()
            .filter(|h| h.index == idx)
            .map(|h| h.t)
            .collect()
    };
    let close = |a: &[f64], b: &[f64]| {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-8)
    };
    assert!(close(&times(0), &[1.5 * pi]), "{:?}", times(0));
    assert!(close(&times(1), &[0.5 * pi, 2.5 * pi]), "{:?}", times(1));
    assert!(
        close(&times(2), &[0.5 * pi, 1.5 * pi, 2.5 * pi]),
        "{:?}",
        times(2)
    );
    assert!(sol.events.windows(2).all(|w| w[0].t <= w[1].t));
}

#[test]
fn save_every_step_and_end_only() {
    let m = Method::parse("dopri5").unwrap();
    let mut ws = Workspace::new(1);
    let mut steps = Vec::new();
    let mut cb = |t: f64, y: &[f64]| steps.push((t, y[0]));
    let sol = solve(
        &m,
        &mut Logistic,
        &Ivp::new(0.0, &[0.1], 5.0),
        &opts(1e-8),
        &mut ws,
        &mut Output::every_step(&mut cb),
    )
    .unwrap();
    assert_eq!(steps.len() as u64, sol.stats.accepted + 1);
    assert_eq!(steps[0], (0.0, 0.1));
    assert_eq!(steps.last().unwrap().0.to_bits(), 5f64.to_bits());
    assert!(steps.windows(2).all(|w| w[1].0 > w[0].0));
    let mut end = Vec::new();
    let mut cb2 = |t: f64, y: &[f64]| end.push((t, y[0]));
    let mut out = Output::end();
    out.on_save = Some(&mut cb2);
    let sol2 = solve(
        &m,
        &mut Logistic,
        &Ivp::new(0.0, &[0.1], 5.0),
        &opts(1e-8),
        &mut ws,
        &mut out,
    )
    .unwrap();
    drop(out);
    assert_eq!(end, vec![(5.0, sol2.y_end[0])]);
}

/// Checks IN-7: ROS2 converges at order 2.
#[test]
fn ros2_is_second_order() {
    // Fixed steps (h0 = h_max = h, loose tolerances so nothing is rejected) on a mildly stiff
    // linear system against expm: global error O(h^2).
    let a = stiff_matrix(&[-1.0, -3.0, -10.0]);
    let y0 = [1.0, -0.5, 0.25];
    let exact = exact_linear(&a, &y0, 1.0);
    let hs = [1.0 / 16.0, 1.0 / 32.0, 1.0 / 64.0, 1.0 / 128.0];
    let mut errs = Vec::new();
    for h in hs {
        let o = Options {
            rtol: 1e6,
            atol: Atol::Scalar(1e6),
            h0: Some(h),
            h_max: h,
            ..Options::default()
        };
        let mut ws = Workspace::new(3);
        let sol = solve(
            &Method::Ros2,
            &mut Linear(a.clone()),
            &Ivp::new(0.0, &y0, 1.0),
            &o,
            &mut ws,
            &mut Output::end(),
        )
        .unwrap();
        assert_eq!(sol.stats.rejected, 0);
        errs.push(
            sol.y_end
                .iter()
                .zip(&exact)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max),
        );
    }
    let order = slope(&hs, &errs);
    assert!(
        (order - 2.0).abs() <= ORDER_SLACK,
        "ROS2 order {order}, errors {errs:?}"
    );
}

/// Checks IN-7: ROS2 is L-stable (a stiff decaying component is damped in one large step).
#[test]
fn ros2_is_l_stable() {
    // y' = -1e6 y with h = 1: R(-1e6) = O(1/(gamma z)) ~ 1e-6 (L-stable: R(inf) = 0), while an
    // explicit method would blow up by |1 + z| ~ 1e6 per step.
    let a = Matrix::from_diag(&[-1e6]);
    let o = Options {
        rtol: 1e6,
        atol: Atol::Scalar(1e6),
        h0: Some(1.0),
        h_max: 1.0,
        ..Options::default()
    };
    let mut ws = Workspace::new(1);
    let sol = solve(
        &Method::Ros2,
        &mut Linear(a),
        &Ivp::new(0.0, &[1.0], 1.0),
        &o,
        &mut ws,
        &mut Output::end(),
    )
    .unwrap();
    assert!(sol.y_end[0].abs() < 1e-5, "{}", sol.y_end[0]);
}

/// Checks IN-8: on a stiff problem `auto` detects stiffness, switches to ROS2 and saves work.
#[test]
fn auto_switches_to_the_stiff_method_and_saves_work() {
    // Eigenvalues -1 and -1e4: DOPRI5 is stability-limited to h ~ 3.3e-4 for the whole span,
    // the stiff method is not. Auto detects it, switches, and stays accurate. ROS2 is second
    // order, so its advantage shows at moderate tolerances (rtol 1e-4 here); at 1e-6 it still
    // wins but only by ~4x in RHS evaluations.
    let a = stiff_matrix(&[-1.0, -1e4]);
    let y0 = [1.0, 1.0];
    let t1 = 5.0;
    let exact = exact_linear(&a, &y0, t1);
    let run = |name: &str| {
        let mut ws = Workspace::new(2);
        solve(
            &Method::parse(name).unwrap(),
            &mut Linear(a.clone()),
            &Ivp::new(0.0, &y0, t1),
            &opts(1e-4),
            &mut ws,
            &mut Output::end(),
        )
        .unwrap()
    };
    let explicit = run("dopri5");
    let auto = run("auto");
    assert!(explicit.switched_to_stiff_at.is_none());
    let switched = auto
        .switched_to_stiff_at
        .expect("auto should detect stiffness");
    assert!(switched < 0.1, "switched late: {switched}");
    assert!(
        auto.stats.rhs_evals * 5 < explicit.stats.rhs_evals,
        "auto {:?} vs dopri5 {:?}",
        auto.stats,
        explicit.stats
    );
    for sol in [&explicit, &auto] {
        let err = sol
            .y_end
            .iter()
            .zip(&exact)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        // Global error within 10 rtol of the O(1) initial state.
        assert!(err < 1e-3, "{err:e}");
    }
}

/// Checks IN-8: on a non-stiff problem `auto` never switches.
#[test]
fn auto_stays_explicit_on_non_stiff_problems() {
    let mut ws = Workspace::new(1);
    let sol = solve(
        &Method::Auto,
        &mut Logistic,
        &Ivp::new(0.0, &[0.1], 10.0),
        &opts(1e-8),
        &mut ws,
        &mut Output::end(),
    )
    .unwrap();
    assert!(sol.switched_to_stiff_at.is_none());
    assert_eq!(sol.stats.jacobians, 0);
}
