//! OL-12 (theory/outlier.md): the continuous-time full-matrix loss of learning a leaky
//! integrator, by two Lyapunov equations, checked against the aligned-manifold closed form
//! (OL-2, OL-3), against finite differences, and against quadrature of the impulse response;
//! and gradient descent on it from a random bulk (Bordelon et al.'s continuous-time setting).

use learndyn::linalg::{self, Matrix};
use learndyn::theory::outlier::{aligned_params, ContinuousOutlier, FullParams};
use learndyn::theory::outlier_continuous::{gd, loss_grad};

fn unit(n: usize, seed: u64) -> Vec<f64> {
    let p = FullParams::random_bulk(seed, n, 0.0, 1.0);
    let norm = p.u.iter().map(|x| x * x).sum::<f64>().sqrt();
    p.u.iter().map(|x| x / norm).collect()
}

/// OL-12 on the aligned manifold `W = lambda r r^T, u = alpha r, v = beta r` is OL-2's loss
/// and OL-3's gradient (`dL/dalpha = r^T dL/du`, `dL/dlambda = r^T dL/dW r`). OL-12 is a
/// difference of terms of size up to `s = A^2/(4c) + |A|/(c + c*) + 1/(4c*)` (OL-2's residual
/// form is not), so the two agree to a few ulps of `s` (1e-13 s; exactly at the optimum,
/// the last case, OL-2 is 0 and OL-12 its rounding).
#[test]
fn ol12_on_the_aligned_manifold_is_ol2_and_ol3() {
    let r = unit(7, 3);
    for &(alpha, beta, lambda, c_star) in &[
        (0.3, 0.2, 0.1, 0.5),
        (1.2, 0.9, 0.7, 0.2),
        (0.05, 1.5, -0.4, 1.0),
        (2.0, 0.5, 0.95, 0.05),
    ] {
        let (w, u, v) = aligned_params(&[alpha, beta, lambda], &r).unwrap();
        let full = loss_grad(&w, &u, &v, c_star).unwrap();
        let reduced = ContinuousOutlier::new(c_star).unwrap();
        let y = [alpha, beta, lambda];
        let l = reduced.loss(&y);
        let (amp, c) = (alpha * beta, 1.0 - lambda);
        let scale = amp * amp / (4.0 * c) + amp.abs() / (c + c_star) + 0.25 / c_star;
        assert!(
            (full.loss - l).abs() <= 1e-13 * scale,
            "loss {} vs OL-2 {l} at {y:?}, c* {c_star}",
            full.loss
        );
        let mut g = [0.0; 3];
        reduced.gradient(&y, &mut g);
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        let wr: Vec<f64> = (0..7)
            .map(|i| (0..7).map(|j| full.dw.get(i, j) * r[j]).sum())
            .collect();
        let got = [dot(&r, &full.du), dot(&r, &full.dv), dot(&r, &wr)];
        for k in 0..3 {
            assert!(
                (got[k] - g[k]).abs() <= 1e-11 * (1.0 + g[k].abs()),
                "gradient {k}: {} vs OL-3 {} at {y:?}",
                got[k],
                g[k]
            );
        }
    }
}

/// OL-12's gradients against central differences (step 1e-6: truncation h^2 |L'''| ~ 1e-12,
/// rounding eps |L| / h ~ 1e-10 for O(1) losses, so 1e-7 (1 + |g|) has a factor > 100), at a
/// random stable W off the aligned manifold.
#[test]
fn ol12_gradients_match_finite_differences() {
    let n = 5;
    let p = FullParams::random_bulk(11, n, 0.3, 1.0);
    let c_star = 0.3;
    let base = loss_grad(&p.w, &p.u, &p.v, c_star).unwrap();
    let h = 1e-6;
    let check = |fd: f64, an: f64, what: &str| {
        assert!(
            (fd - an).abs() <= 1e-7 * (1.0 + an.abs()),
            "{what}: fd {fd} vs analytic {an}"
        );
    };
    for i in 0..n {
        for j in 0..n {
            let mut wp = p.w.clone();
            wp.set(i, j, p.w.get(i, j) + h);
            let lp = loss_grad(&wp, &p.u, &p.v, c_star).unwrap().loss;
            wp.set(i, j, p.w.get(i, j) - h);
            let lm = loss_grad(&wp, &p.u, &p.v, c_star).unwrap().loss;
            check((lp - lm) / (2.0 * h), base.dw.get(i, j), "dW");
        }
        for (which, an) in [(0, base.du[i]), (1, base.dv[i])] {
            let (mut up, mut vp) = (p.u.clone(), p.v.clone());
            let x = if which == 0 { &mut up } else { &mut vp };
            x[i] += h;
            let lp = loss_grad(&p.w, &up, &vp, c_star).unwrap().loss;
            let x = if which == 0 { &mut up } else { &mut vp };
            x[i] -= 2.0 * h;
            let lm = loss_grad(&p.w, &up, &vp, c_star).unwrap().loss;
            check(
                (lp - lm) / (2.0 * h),
                an,
                if which == 0 { "du" } else { "dv" },
            );
        }
    }
}

/// OL-12's loss is `1/2 int (v^T e^{A tau} u - e^{-c* tau})^2 dtau`: the impulse response
/// integrated by classical RK4 (step 0.01, error ~ (0.01)^4 |A|^4 ~ 1e-8 per unit time) and the
/// integral by the trapezoid rule on the same grid (error ~ 0.01^2 / 12 |f''| ~ 1e-6 of the
/// integrand's scale), to tau = 80 (the tail is below e^{-0.3 x 80} ~ 1e-10): the two agree to
/// 1e-5 relative.
#[test]
fn ol12_loss_is_the_integral_of_the_squared_impulse_response_error() {
    let n = 4;
    let p = FullParams::random_bulk(5, n, 0.5, 1.0);
    let c_star = 0.4;
    let closed = loss_grad(&p.w, &p.u, &p.v, c_star).unwrap().loss;
    let a = p.w.clone().add_scaled(&Matrix::identity(n), -1.0);
    let f = |h: &[f64]| -> Vec<f64> {
        (0..n)
            .map(|i| (0..n).map(|j| a.get(i, j) * h[j]).sum())
            .collect()
    };
    let (dt, steps) = (0.01, 8000);
    let mut h = p.u.clone();
    let err = |h: &[f64], t: f64| {
        let y: f64 = h.iter().zip(&p.v).map(|(a, b)| a * b).sum();
        (y - (-c_star * t).exp()).powi(2)
    };
    let mut integral = 0.5 * err(&h, 0.0);
    for k in 1..=steps {
        let k1 = f(&h);
        let h2: Vec<f64> = h.iter().zip(&k1).map(|(x, d)| x + 0.5 * dt * d).collect();
        let k2 = f(&h2);
        let h3: Vec<f64> = h.iter().zip(&k2).map(|(x, d)| x + 0.5 * dt * d).collect();
        let k3 = f(&h3);
        let h4: Vec<f64> = h.iter().zip(&k3).map(|(x, d)| x + dt * d).collect();
        let k4 = f(&h4);
        for i in 0..n {
            h[i] += dt / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
        }
        let w = if k == steps { 0.5 } else { 1.0 };
        integral += w * err(&h, k as f64 * dt);
    }
    let quad = 0.5 * integral * dt;
    assert!(
        (quad - closed).abs() <= 1e-5 * closed,
        "quadrature {quad} vs closed form {closed}"
    );
    // An unstable W is refused with the field named.
    let bad = Matrix::identity(n).scale(1.5);
    let e = loss_grad(&bad, &p.u, &p.v, c_star).unwrap_err().to_string();
    assert!(e.contains("W - I must be stable"), "{e}");
}

/// Bordelon et al.'s continuous-time setting (OL-12), measured: GD on all of (W, u, v) from
/// `W0 = g chi / sqrt N`, `u, v ~ N(0, 1/N)`, target rate `c* = 0.2` (an outlier would sit at
/// `1 - c* = 0.8`). Claims: (1) GD fits the target at every g (loss down 100-fold from its
/// start; a convergence criterion, set by us); (2) small g is rich: the weight change is above
/// the Eckart-Young minimum `sigma_min((1 - c*) I - W0)` that any W with an eigenvalue at
/// `1 - c*` needs, and the learned W has an eigenvalue within 0.02 of 0.8 outside the bulk;
/// (3) the relative weight change falls with g. N = 32 keeps the bulk edge (~g (1 + O(N^-1/2)))
/// below 1 up to g = 0.75, where W - I stays stable.
#[test]
fn ol12_continuous_time_rich_vs_lazy_by_init_scale() {
    let (n, c_star, eta, steps) = (32, 0.2, 0.05, 3000);
    let mut prev = f64::INFINITY;
    for (k, g) in [0.05, 0.3, 0.6, 0.75].into_iter().enumerate() {
        let init = FullParams::random_bulk(1, n, g, 1.0);
        let w0 = init.w.clone();
        let run = gd(init, c_star, eta, steps).unwrap();
        assert!(run.diverged_at.is_none(), "g {g}: diverged");
        let (l0, l1) = (run.losses[0], *run.losses.last().unwrap());
        let dw = run.params.w.sub(&w0);
        let rel = dw.norm_fro() / w0.norm_fro();
        let eig = linalg::eigenvalues(&run.params.w).unwrap();
        let near = eig
            .iter()
            .map(|z| ((z.re - (1.0 - c_star)).powi(2) + z.im.powi(2)).sqrt())
            .fold(f64::INFINITY, f64::min);
        let shifted = Matrix::identity(n).scale(1.0 - c_star).sub(&w0);
        let sv = linalg::singular_values(shifted.view()).unwrap();
        let ey = sv.iter().copied().fold(f64::INFINITY, f64::min) / w0.norm_fro();
        eprintln!(
            "g {g}: loss {l0:.4} -> {l1:.3e}, |dW|/|W0| {rel:.4} (Eckart-Young {ey:.4}), \
             nearest eigenvalue to 0.8 at distance {near:.2e}"
        );
        assert!(l1 < l0 / 100.0, "g {g}: loss {l0} -> {l1}");
        if k == 0 {
            assert!(rel > ey, "g {g}: change {rel} below Eckart-Young {ey}");
            assert!(near < 0.02, "g {g}: nearest eigenvalue {near}");
        }
        assert!(rel < prev, "g {g}: relative change {rel} not below {prev}");
        prev = rel;
    }
}
