//! Tests of the benchmark workloads: the peers' problems are reproduced (losses to
//! [`PEER_TOL`](super::PEER_TOL)), the GD step against a plain implementation, bad inputs are
//! errors, and the ODE workload conserves what the flow conserves.

mod gd {
    use crate::bench::gd::{gd_line, peer_losses, DeepLinearGd, CONFIGS, ETA, SIGMA};
    use learndyn::linalg::Matrix;

    #[test]
    fn first_config_reproduces_the_peers_losses() {
        let (n, l, p, s) = CONFIGS[0];
        let (ref0, ref_s) = peer_losses(n, l, p, s, 0).expect("standard config");
        let mut prob = DeepLinearGd::new(n, n, n, l, p, SIGMA, 0).unwrap();
        let mut losses = vec![0.0; s + 1];
        prob.train(ETA, &mut losses);
        let e0 = (losses[0] - ref0).abs() / ref0;
        let e_s = (losses[s] - ref_s).abs() / ref_s;
        eprintln!(
            "loss_0 {:.17} (peers {ref0}, rel {e0:.1e}); loss_S {:.17} (peers {ref_s}, rel {e_s:.1e})",
            losses[0], losses[s]
        );
        assert!(e0 < 1e-9 && e_s < 1e-9, "rel errors {e0:e} {e_s:e}");

        // The JSON line (1 timed repeat) carries the same numbers and passes its checks.
        let line = gd_line(n, l, p, s, 1, 0).unwrap();
        let r = &line["results"]["learndyn"];
        assert_eq!(r["loss_0"].as_f64().unwrap().to_bits(), losses[0].to_bits());
        assert_eq!(r["loss_S"].as_f64().unwrap().to_bits(), losses[s].to_bits());
        assert_eq!(line["ok"], true, "{line}");
        assert_eq!(line["checks"]["loss_matches_peers"]["pass"], true);
        assert_eq!(line["workload"], "deep_linear_gd");
        assert_eq!(
            line["config"],
            serde_json::json!({"d_in": 64, "N": 64, "d_out": 64, "L": 2, "P": 256, "eta": 0.05,
                               "sigma": 0.1, "steps": 200, "repeats": 1, "seed": 0})
        );
        assert_eq!(line["flops_per_step_est"], 10485760);
    }

    #[test]
    fn tiny_config_loss_strictly_decreases() {
        let (n, l, p, s) = (8, 3, 16, 10);
        let mut prob = DeepLinearGd::new(n, n, n, l, p, 1.0, 3).unwrap();
        let mut losses = vec![0.0; s + 1];
        prob.train(ETA, &mut losses);
        assert!(losses.iter().all(|x| x.is_finite()));
        for w in losses.windows(2) {
            assert!(w[1] < w[0], "loss not strictly decreasing: {losses:?}");
        }
        // Unequal widths (d_in != N != d_out) and a single layer also work.
        for (d_in, d_out, l) in [(3, 2, 3), (5, 4, 1), (2, 6, 2)] {
            let mut prob = DeepLinearGd::new(d_in, 4, d_out, l, 7, 1.0, 1).unwrap();
            let mut losses = vec![0.0; 6];
            prob.train(ETA, &mut losses);
            for w in losses.windows(2) {
                assert!(w[1] < w[0], "dims ({d_in},{d_out},{l}): {losses:?}");
            }
        }
        // Through the JSON line (sigma 0.1, seed 0): no peer reference, the monotone check passes.
        let line = gd_line(n, l, p, s, 1, 0).unwrap();
        assert!(line["checks"].get("loss_matches_peers").is_none());
        assert_eq!(line["checks"]["loss_decreases"]["pass"], true, "{line}");
    }

    /// The step equals an independent, allocating implementation of the peers' `np_loss_grad` and
    /// simultaneous update (dW for every layer first, then all updates) to rounding.
    #[test]
    fn step_matches_a_plain_reference_implementation() {
        let (d_in, n, d_out, l, p) = (5, 6, 3, 3, 9);
        let mut prob = DeepLinearGd::new(d_in, n, d_out, l, p, 1.0, 2).unwrap();
        let mut ws: Vec<Matrix> = prob.weights().to_vec();
        let x = learndyn::random::portable::unit_matrix(2, 1, d_in, p);
        let w_star = learndyn::random::portable::unit_matrix(2, 2, d_out, d_in)
            .scale(1.0 / (d_in as f64).sqrt());
        let y = w_star.matmul(&x);
        for _ in 0..4 {
            let mut hs = vec![x.clone()];
            for w in &ws {
                let next = w.matmul(hs.last().unwrap());
                hs.push(next);
            }
            let e = hs[l].sub(&y);
            let loss_ref = 0.5 * e.norm_fro().powi(2) / p as f64;
            let mut g = e.scale(1.0 / p as f64);
            let mut grads = vec![Matrix::zeros(1, 1); l];
            for k in (0..l).rev() {
                grads[k] = g.matmul_t(&hs[k]);
                if k > 0 {
                    g = ws[k].t_matmul(&g);
                }
            }
            for (w, dw) in ws.iter_mut().zip(&grads) {
                *w = w.sub(&dw.clone().scale(ETA));
            }
            let loss = prob.step(ETA);
            assert!(
                (loss - loss_ref).abs() <= 1e-13 * loss_ref,
                "{loss} vs {loss_ref}"
            );
            for (a, b) in prob.weights().iter().zip(&ws) {
                assert!(a.sub(b).max_abs() <= 1e-14 * b.max_abs().max(1.0));
            }
        }
    }
}

mod ode {
    use crate::bench::ode::matrix_problem;
    use learndyn::integrate::{solve, Atol, Ivp, Method, Options, Output, Workspace};

    #[test]
    fn matrix_workload_conserves_balancedness_at_solver_tolerance() {
        // Peers' workload 3b (N = 16): Q = W1 W1^T - W2^T W2 is exactly conserved by the flow
        // (C-4), so its drift is integration error: for an order-p method with local error
        // control at rtol, the accumulated drift stays within ~100 rtol |Q|-scale over t = 20.
        let (net, m, theta0) = matrix_problem(16, 0.1, 0);
        let q = |th: &[f64]| {
            let w1 = net.layer(th, 1).to_owned();
            let w2 = net.layer(th, 2).to_owned();
            w1.matmul_t(&w1).sub(&w2.t_matmul(&w2))
        };
        let q0 = q(&theta0);
        for (name, rtol) in [
            ("dopri5", 1e-8),
            ("tsit5", 1e-8),
            ("dop853", 1e-8),
            ("dop853", 1e-12),
        ] {
            let mut field = learndyn::dynamics::GradientFlow::new(
                learndyn::model::DeepLinearModel::new(&net, &m, None),
            );
            let mut ws = Workspace::new(theta0.len());
            let sol = solve(
                &Method::parse(name).unwrap(),
                &mut field,
                &Ivp::new(0.0, &theta0, 20.0),
                &Options {
                    rtol,
                    atol: Atol::Scalar(rtol * 1e-2),
                    ..Options::default()
                },
                &mut ws,
                &mut Output::end(),
            )
            .unwrap();
            let drift = q(&sol.y_end).sub(&q0).max_abs();
            assert!(
                drift <= 100.0 * rtol * q0.max_abs().max(1.0),
                "{name} rtol {rtol}: drift {drift:e}"
            );
        }
    }
}

mod rnn {
    use crate::bench::rnn::{rnn_line, CONFIGS};

    /// Bad benchmark calls are errors: an unknown activation, zero length, zero batch.
    #[test]
    fn bad_calls_are_errors() {
        assert!(rnn_line(8, 3, 2, "sigmoid", 2, 1, 0).is_err());
        assert!(rnn_line(8, 0, 2, "tanh", 2, 1, 0).is_err());
        assert!(rnn_line(8, 3, 2, "tanh", 0, 1, 0).is_err());
    }

    /// The peers' N = 64 configurations reproduce their losses (checked inside `rnn_line`).
    #[test]
    fn peers_small_configs_match() {
        for &(n, t, b, phi, s) in CONFIGS.iter().filter(|c| c.0 == 64) {
            let v = rnn_line(n, t, b, phi, s, 1, 0).unwrap();
            assert_eq!(v["checks"]["loss_matches_peers"]["pass"], true, "{v}");
            assert_eq!(v["ok"], true, "{v}");
            assert_eq!(
                v["config"]["eta"].as_f64(),
                Some(if phi == "tanh" { 2.0 } else { 0.5 } / 64.0)
            );
        }
    }

    /// All six configurations as JSON lines (slow in debug):
    /// `cargo test --release --bin learndyn -- --ignored --nocapture print_all_configs`.
    #[test]
    #[ignore]
    fn print_all_configs() {
        let only_n: Option<usize> = std::env::var("RNN_N").ok().and_then(|v| v.parse().ok());
        for &(n, t, b, phi, s) in CONFIGS.iter() {
            if only_n.is_some_and(|m| m != n) {
                continue;
            }
            let v = rnn_line(n, t, b, phi, s, 5, 0).unwrap();
            println!("{v}");
            assert_eq!(v["ok"], true);
        }
    }
}

mod fit {
    use crate::bench::fit::{fit_line, make_problem, peer_losses, train, CONFIGS};
    use learndyn::model::Model;

    /// Workload 4 reproduces the peers' JAX losses (loss_0 and loss_S after 10 Adam steps) to
    /// 1e-9 relative: the same problem through the portable random numbers, the same GRU, the
    /// same Adam (measured: 4e-14 and 7e-14).
    #[test]
    fn first_config_reproduces_the_peers_losses() {
        let c = CONFIGS[0];
        let (ref0, ref_s) = peer_losses(c, 0).expect("recorded");
        let (mut m, mut theta) = make_problem(c, 0).unwrap();
        let s = c.5;
        let mut losses = vec![0.0; s + 1];
        train(&mut m, &mut theta, &mut losses).unwrap();
        let e0 = (losses[0] - ref0).abs() / ref0;
        let e_s = (losses[s] - ref_s).abs() / ref_s;
        eprintln!("loss_0 rel {e0:.1e}, loss_S rel {e_s:.1e}");
        assert!(e0 < 1e-9 && e_s < 1e-9, "rel errors {e0:e} {e_s:e}");
    }

    /// A tiny problem against a plain reference: the loss by scalar loops from the peers'
    /// equations (h_0 = 0, readouts at h_1..h_T), equal to the model's to 1e-14.
    #[test]
    fn tiny_problem_loss_matches_a_plain_forward_pass() {
        let c = (3, 5, 2, 2, 4, 1);
        let (mut m, theta) = make_problem(c, 7).unwrap();
        let (k, t, b, n_in, n_out, _) = c;
        let l = m.layout().clone();
        let g = |name: &str| l.get(&theta, name).unwrap();
        let (wi, wh, bi, bh, cm, d) = (g("wi"), g("wh"), g("bi"), g("bh"), g("c"), g("d"));
        let raw = learndyn::random::portable::unit(7, 401, b * t * n_in);
        let data = m.data().clone();
        let sig = |a: f64| 1.0 / (1.0 + (-a).exp());
        let mut total = 0.0;
        for bb in 0..b {
            let mut h = vec![0.0; k];
            for tt in 0..t {
                let x = &raw[(bb * t + tt) * n_in..(bb * t + tt + 1) * n_in];
                let gi =
                    |r: usize| bi.get(r, 0) + (0..n_in).map(|j| wi.get(r, j) * x[j]).sum::<f64>();
                let gh = |r: usize, h: &[f64]| {
                    bh.get(r, 0) + (0..k).map(|j| wh.get(r, j) * h[j]).sum::<f64>()
                };
                let hn: Vec<f64> = (0..k)
                    .map(|j| {
                        let r = sig(gi(j) + gh(j, &h));
                        let z = sig(gi(k + j) + gh(k + j, &h));
                        let nn = (gi(2 * k + j) + r * gh(2 * k + j, &h)).tanh();
                        (1.0 - z) * nn + z * h[j]
                    })
                    .collect();
                h = hn;
                let col = (tt + 1) * b + bb;
                for o in 0..n_out {
                    let eta = d.get(o, 0) + (0..k).map(|j| cm.get(o, j) * h[j]).sum::<f64>();
                    total += eta.exp() - data.y[col * n_out + o] * eta;
                }
            }
        }
        let want = total / (t * b * n_out) as f64;
        let got = m.loss(&theta).unwrap();
        assert!((got - want).abs() < 1e-14 * want.abs(), "{got} vs {want}");
        // The JSON line: its checks pass (no peer reference for this size).
        let line = fit_line(c, 1, 7).unwrap();
        assert_eq!(line["ok"], true, "{line}");
        assert_eq!(line["workload"], "gru_fit");
    }
}
