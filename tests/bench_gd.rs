//! Workload 1 of the peers (deep linear network, full-batch GD): learndyn reproduces the peers'
//! loss trajectory end points and the loss decreases.

use learndyn::bench::gd::{gd_line, peer_losses, DeepLinearGd, CONFIGS, ETA, SIGMA};

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
    use learndyn::linalg::Matrix;
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
