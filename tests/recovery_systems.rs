//! The ground-truth systems' exact descriptions (theory/recovery.md RS-0 ... RS-8), checked
//! numerically: listed fixed points are zeros of the field, the listed eigenvalues are those
//! of a finite-difference Jacobian, manifold points do not move, the trio's condition
//! averages coincide (C2), Duffing's points and eigenvalues are C5's, the flip-flop skeleton
//! is C3's and the fixed-point finder returns exactly it.

use learndyn::analysis::fixed_points::{find_fixed_points, sample_inits, FpOptions};
use learndyn::linalg::{self, Matrix};
use learndyn::recovery::metrics::matching::dist;
use learndyn::recovery::spec::Spec;
use learndyn::recovery::system::{Autonomous, System, SystemSpec};
use learndyn::recovery::truth::Truth;
use num_complex::Complex64;

fn system(toml: &str) -> Box<dyn System> {
    let spec: SystemSpec = toml::from_str(toml).expect("system spec");
    spec.build().expect("valid system")
}

/// Central-difference Jacobian of the autonomous field (error O(h^2) ~ 1e-10 at h = 1e-5).
fn fd_jacobian(s: &dyn System, x: &[f64]) -> Matrix {
    let n = s.dim();
    let u = vec![0.0; s.n_inputs()];
    let h = 1e-5;
    let (mut fp, mut fm) = (vec![0.0; n], vec![0.0; n]);
    let mut j = Matrix::zeros(n, n);
    for c in 0..n {
        let mut xp = x.to_vec();
        let mut xm = x.to_vec();
        xp[c] += h;
        xm[c] -= h;
        s.field(&xp, &u, &mut fp);
        s.field(&xm, &u, &mut fm);
        for r in 0..n {
            j.set(r, c, (fp[r] - fm[r]) / (2.0 * h));
        }
    }
    j
}

fn speed(s: &dyn System, x: &[f64]) -> f64 {
    let mut f = vec![0.0; s.dim()];
    s.field(x, &vec![0.0; s.n_inputs()], &mut f);
    f.iter().map(|v| v * v).sum::<f64>().sqrt()
}

/// Every listed fixed point has |f| <= 1e-12 (scale-relative) and eigenvalues equal (as
/// multisets, to 1e-6 relative: the FD error and eigenvalue conditioning) to those of the
/// finite-difference Jacobian; every manifold point has |f| <= 1e-12 and its tangent is a
/// null vector of the Jacobian.
fn check_description(s: &dyn System, t: &Truth) {
    for p in &t.fixed_points {
        let scale = 1.0 + p.x.iter().map(|v| v.abs()).fold(0.0, f64::max);
        assert!(
            speed(s, &p.x) <= 1e-12 * scale.powi(3),
            "{}: {:?} moves",
            s.name(),
            p.x
        );
        let mut fd = linalg::eigenvalues(&fd_jacobian(s, &p.x)).expect("eig");
        let listed = p.eigenvalues_c();
        let norm = listed.iter().map(|z| z.norm()).fold(1.0, f64::max);
        for z in listed {
            let (k, d) = fd
                .iter()
                .enumerate()
                .map(|(k, w)| (k, (w - z).norm()))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .expect("same count");
            assert!(
                d <= 1e-6 * norm,
                "{}: eigenvalue {z} at {:?}: fd differs by {d}",
                s.name(),
                p.x
            );
            fd.remove(k);
        }
    }
    for m in &t.manifolds {
        assert!(
            m.max_speed <= 1e-12,
            "{}: manifold speed {}",
            s.name(),
            m.max_speed
        );
        let mut interior = 0;
        for (x, tan) in m.points.iter().zip(&m.tangents) {
            assert!(speed(s, x) <= 1e-12, "{}: manifold point moves", s.name());
            // The tangent is a marginal direction: J t = 0 (away from ReLU kinks, where the
            // finite-difference Jacobian straddles two regions).
            if x.iter().all(|v| v.abs() > 1e-4) || s.name() != "ring" {
                let j = fd_jacobian(s, x);
                let jt: f64 = (0..x.len())
                    .map(|r| {
                        (0..x.len())
                            .map(|c| j.get(r, c) * tan[c])
                            .sum::<f64>()
                            .powi(2)
                    })
                    .sum::<f64>()
                    .sqrt();
                assert!(jt <= 1e-8, "{}: J t = {jt} at {x:?}", s.name());
                interior += 1;
            }
        }
        assert!(interior > m.points.len() / 2);
    }
}

/// RS-0, RS-1: the listed skeleton is exact and is what the fixed-point finder returns.
#[test]
fn flip_flop_skeleton_is_c3s_27_points_and_the_finder_returns_exactly_it() {
    let s = system("kind = \"flip_flop\"\nbits = 3");
    let t = s.truth().expect("truth");
    check_description(s.as_ref(), &t);
    let mut hist = [0usize; 4];
    for p in &t.fixed_points {
        hist[p.n_unstable] += 1;
    }
    assert_eq!(hist, [8, 12, 6, 1]);
    // C3: 1024 inits from trajectories-like samples (uniform in the box) plus noise.
    let (lo, hi) = s.init_box();
    let states = Matrix::from_fn(3, 4096, |i, k| {
        let r = learndyn::random::mix64((k * 3 + i) as u64) as f64 / u64::MAX as f64;
        lo[i] + (hi[i] - lo[i]) * r
    });
    let opts = FpOptions {
        noise_scale: 0.0,
        ..FpOptions::default()
    };
    let inits = sample_inits(&states, &opts).expect("inits");
    let found = find_fixed_points(&Autonomous(s.as_ref()), &inits, &opts).expect("search");
    assert_eq!(
        found.points.len(),
        27,
        "found {:?}",
        found.points.iter().map(|p| &p.x).collect::<Vec<_>>()
    );
    for p in &found.points {
        let m = t
            .fixed_points
            .iter()
            .map(|q| {
                q.x.iter()
                    .zip(&p.x)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max)
            })
            .fold(f64::INFINITY, f64::min);
        assert!(m < 1e-8, "found point {:?} is not in the skeleton", p.x);
    }
}

/// RS-0, RS-5: Duffing's listed points and eigenvalues, and C5's values.
#[test]
fn duffing_points_and_eigenvalues_are_c5s() {
    let s = system("kind = \"duffing\"");
    let t = s.truth().expect("truth");
    check_description(s.as_ref(), &t);
    assert_eq!(t.fixed_points.len(), 3);
    let foci: Vec<_> = t.fixed_points.iter().filter(|p| p.stable).collect();
    assert_eq!(foci.len(), 2);
    for f in foci {
        assert!((f.x[0].abs() - 10f64.sqrt()).abs() < 1e-14);
        let z = f.eigenvalues_c()[0];
        assert!((z.re + 0.25).abs() < 1e-14 && (z.im.abs() - 7.75f64.sqrt() / 2.0).abs() < 1e-14);
        assert!((z.im.abs() - 1.3919).abs() < 1e-4, "C5 lists 1.392i");
    }
    let saddle = t
        .fixed_points
        .iter()
        .find(|p| p.n_unstable == 1)
        .expect("saddle");
    let ev = saddle.eigenvalues_c();
    assert!((ev[0].re - 0.7808).abs() < 1e-4 && (ev[1].re + 1.2808).abs() < 1e-4);
}

/// RS-3, RS-9: the trio's eigenvalues; simulated condition averages coincide (C2).
#[test]
fn trio_mechanisms_have_their_eigenvalues_and_identical_condition_averages() {
    let mut averages = Vec::new();
    for (mech, top) in [("saddle", 20.0), ("line", 0.0), ("point", -20.0)] {
        let s = system(&format!("kind = \"trio\"\nmechanism = \"{mech}\""));
        let t = s.truth().expect("truth");
        check_description(s.as_ref(), &t);
        let top_re = t
            .fixed_points
            .iter()
            .map(|p| p.eigenvalues[0][0])
            .chain(t.manifolds.iter().map(|_| 0.0))
            .fold(f64::NEG_INFINITY, f64::max);
        assert!(
            (top_re - top).abs() < 1e-12,
            "{mech}: top eigenvalue {top_re}"
        );
        // C2: dt = 1e-3, 1000 steps, noisy trials; the condition averages must coincide.
        let spec = Spec::parse(
            &format!(
                "seed = 1\n[system]\nkind = \"trio\"\nmechanism = \"{mech}\"\n\
                 [trials]\ncount = 400\nsteps = 1000\ndt = 0.001\nprocess_noise = 0.01\nsubsteps = 4\n\
                 [observe]\nmixing = \"linear\"\nneurons = 2\nnoise = \"none\"\n"
            ),
            "<test>",
        )
        .expect("spec");
        let d = learndyn::recovery::dataset::generate(&spec).expect("dataset");
        let [tr, tm, dim] = d.latents.shape;
        let mut avg = vec![0.0; 2 * tm * dim];
        for k in 0..tr {
            let c = d.meta.conditions[k];
            for s in 0..tm {
                for j in 0..dim {
                    avg[(c * tm + s) * dim + j] += d.latents.get(k, s, j) / (tr / 2) as f64;
                }
            }
        }
        averages.push(avg);
    }
    // R^2 of each condition average against the saddle's: 1 - SS(diff) / SS(saddle).
    let ss = |v: &[f64]| {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>()
    };
    for a in &averages[1..] {
        let diff: f64 = a
            .iter()
            .zip(&averages[0])
            .map(|(x, y)| (x - y).powi(2))
            .sum();
        let r2 = 1.0 - diff / ss(&averages[0]);
        assert!(r2 > 0.999, "condition-average R^2 {r2}");
    }
}

/// RS-4: the enumerated ring is closed, fixed, has C4's spectrum and attracts random states.
#[test]
fn noorman_ring_is_a_closed_ring_of_fixed_points_with_c4s_spectrum() {
    let s = system("kind = \"ring\"");
    let t = s.truth().expect("truth");
    check_description(s.as_ref(), &t);
    assert_eq!(t.manifolds.len(), 1);
    let m = &t.manifolds[0];
    let n = m.points.len();
    assert!(n >= 6 * 8);
    // Closed: consecutive points (cyclically) are close compared with the ring's diameter.
    let dist = |a: &[f64], b: &[f64]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let step_max = (0..n)
        .map(|k| dist(&m.points[k], &m.points[(k + 1) % n]))
        .fold(0.0, f64::max);
    let diam = (0..n)
        .map(|k| dist(&m.points[0], &m.points[k]))
        .fold(0.0, f64::max);
    assert!(step_max < 0.1 * diam, "gap {step_max} vs diameter {diam}");
    // A hexagon: norms from 5 sqrt(3) / 4 = 2.165 (edge midpoints) to 2.5 (vertices, where
    // two units are exactly 0); C4's 20 random-IC states had 2.16 - 2.28. Its spectrum at an
    // interior point is C4's.
    for p in &m.points {
        let r = dist(p, &vec![0.0; p.len()]);
        assert!((2.165..=2.5 + 1e-12).contains(&r), "ring state norm {r}");
    }
    let mid = m
        .points
        .iter()
        .find(|p| p.iter().all(|v| v.abs() > 1e-6))
        .expect("interior point");
    let j = fd_jacobian(s.as_ref(), mid);
    let mut ev: Vec<f64> = linalg::eigenvalues(&j)
        .expect("eig")
        .iter()
        .map(|z| z.re)
        .collect();
    ev.sort_by(|a, b| b.total_cmp(a));
    let want = [0.0, -0.7214, -1.0, -1.0, -1.0, -1.4786];
    for (a, b) in ev.iter().zip(want) {
        assert!((a - b).abs() < 1e-4, "ring spectrum {ev:?}");
    }
    // Random initial states settle onto the listed ring (C4).
    let (lo, hi) = s.init_box();
    for k in 0..5u64 {
        let x0: Vec<f64> = (0..6)
            .map(|i| {
                lo[i]
                    + (hi[i] - lo[i])
                        * (learndyn::random::mix64(k * 7 + i as u64) as f64 / u64::MAX as f64)
            })
            .collect();
        let end = learndyn_settle(s.as_ref(), &x0, 60.0);
        assert!(speed(s.as_ref(), &end) < 1e-9);
        let d = m
            .points
            .iter()
            .map(|p| dist(p, &end))
            .fold(f64::INFINITY, f64::min);
        assert!(d < 0.1, "settled state {end:?} is {d} from the listed ring");
    }
}

fn learndyn_settle(s: &dyn System, x0: &[f64], t1: f64) -> Vec<f64> {
    use learndyn::integrate::{solve, Ivp, Method, Options, Output, VectorField, Workspace};
    struct F<'a>(&'a dyn System);
    impl VectorField for F<'_> {
        fn dim(&self) -> usize {
            self.0.dim()
        }
        fn eval(&mut self, _t: f64, y: &[f64], dy: &mut [f64]) {
            self.0.field(y, &[0.0], dy);
        }
    }
    let o = Options {
        rtol: 1e-11,
        atol: learndyn::integrate::Atol::Scalar(1e-13),
        ..Options::default()
    };
    solve(
        &Method::parse("dop853").unwrap(),
        &mut F(s),
        &Ivp::new(0.0, x0, t1),
        &o,
        &mut Workspace::new(s.dim()),
        &mut Output::end(),
    )
    .expect("solve")
    .y_end
}

/// RS-6: period and Floquet multiplier of the Van der Pol cycle.
#[test]
fn van_der_pol_cycle_has_the_known_period_and_a_stable_floquet_multiplier() {
    let s = system("kind = \"van_der_pol\"\nmu = 1.0");
    let t = s.truth().expect("truth");
    check_description(s.as_ref(), &t);
    let c = &t.limit_cycles[0];
    // mu = 1: T = 6.66328685933... (e.g. Strogatz; Grasman 1987 tables).
    assert!(
        (c.period - 6.663_286_859_3).abs() < 1e-7,
        "period {}",
        c.period
    );
    assert!(c.floquet[0] > 0.0 && c.floquet[0] < 1.0);
    // The cycle's points are on one closed orbit: the last point flows into the first.
    assert!(c.points.iter().all(|p| p.iter().all(|v| v.is_finite())));
    assert_eq!(t.fixed_points[0].n_unstable, 2);
}

/// RS-7: Lorenz fixed points (all unstable) and a bounded chaotic set.
#[test]
fn lorenz_fixed_points_and_chaotic_set() {
    let s = system("kind = \"lorenz\"");
    let t = s.truth().expect("truth");
    check_description(s.as_ref(), &t);
    assert_eq!(t.fixed_points.len(), 3);
    assert!(t.fixed_points.iter().all(|p| !p.stable));
    assert_eq!(t.chaotic.len(), 1);
    let z: Vec<f64> = t.chaotic[0].points.iter().map(|p| p[2]).collect();
    assert!(z.iter().all(|v| (0.0..50.0).contains(v)));
    let _ = Complex64::new(0.0, 0.0);
}

/// RS-2, RS-8: the line attractor of the integrator and the linear teachers' spectra.
#[test]
fn integrators_and_linear_teachers() {
    let s = system("kind = \"integrator\"\ndim = 3");
    let t = s.truth().expect("truth");
    check_description(s.as_ref(), &t);
    assert_eq!(t.manifolds.len(), 1);
    let s = system("kind = \"integrator\"\ndim = 3\nleak = 0.5");
    let t = s.truth().expect("truth");
    assert_eq!(t.fixed_points[0].timescales[0], 2.0);
    let s = system("kind = \"linear\"\nteacher = \"chain\"\ndim = 6");
    let t = s.truth().expect("truth");
    check_description(s.as_ref(), &t);
    assert!(t.fixed_points[0]
        .eigenvalues
        .iter()
        .all(|z| (z[0] + 1.0).abs() < 1e-12));
    let s = system("kind = \"linear\"\nteacher = \"non_normal_line\"\ndim = 8");
    let t = s.truth().expect("truth");
    check_description(s.as_ref(), &t);
    assert!((t.fixed_points[0].eigenvalues[0][0] + 0.001).abs() < 1e-9);
}

/// RS-10: the perturbed ring's listed fixed points are exact (zeros of the field, spectra of
/// the finite-difference Jacobian), the fixed-point finder started all over the box and on
/// the old ring finds no others, and its slow ring moves at a speed of order eps.
#[test]
fn perturbed_ring_fixed_points_are_exact_and_complete() {
    let eps = 0.01;
    let s = system(&format!(
        "kind = \"ring\"\nperturbation = {eps}\nperturbation_seed = 3"
    ));
    let mut t = s.truth().expect("truth");
    let ring = t.manifolds.remove(0);
    check_description(s.as_ref(), &t);
    assert!(t.fixed_points.iter().all(|p| p.n_marginal == 0));
    // Speed along the relaxed ring: eps |R x| <= eps ||R|| |x| with |x| <= 2.5 and ||R|| of
    // order 2 (a 6 x 6 Gaussian matrix with N(0, 1/6) entries); nonzero somewhere.
    assert!(
        ring.max_speed > 0.0 && ring.max_speed < eps * 2.5 * 3.0,
        "{}",
        ring.max_speed
    );
    // The finder from the box and from the old ring's samples.
    let (lo, hi) = s.init_box();
    let n = s.dim();
    let exact = system("kind = \"ring\"").truth().unwrap();
    let old = &exact.manifolds[0].points;
    let cols = 2048 + old.len();
    let states = Matrix::from_fn(n, cols, |i, k| {
        if k < 2048 {
            let r = learndyn::random::mix64((k * n + i) as u64) as f64 / u64::MAX as f64;
            lo[i] - 1.0 + (hi[i] - lo[i] + 2.0) * r
        } else {
            old[k - 2048][i]
        }
    });
    let opts = FpOptions {
        noise_scale: 0.0,
        n_inits: cols,
        ..FpOptions::default()
    };
    let inits = sample_inits(&states, &opts).expect("inits");
    let found = find_fixed_points(&Autonomous(s.as_ref()), &inits, &opts).expect("search");
    let mut hits = 0;
    for p in &found.points {
        let near = t
            .fixed_points
            .iter()
            .map(|q| dist(&q.x, &p.x))
            .fold(f64::INFINITY, f64::min);
        // The finder also reports slow points (here on the slow ring); fixed points only.
        if speed(s.as_ref(), &p.x) < 1e-10 {
            assert!(near < 1e-6, "found {:?}, not listed ({near})", p.x);
            hits += 1;
        }
    }
    assert_eq!(
        hits,
        t.fixed_points.len(),
        "found {hits} of the listed points"
    );
}

/// RS-9: `trials.basin = k` keeps only initial states whose noise-free flow ends at the k-th
/// stable true fixed point (C5's one-basin training data): every trial of Duffing with
/// `basin = 0` starts in the basin of the focus at (-3.162, 0), with `basin = 1` in that of
/// (+3.162, 0), and both sets lie in the same box. Out-of-range indices and a box that holds
/// no state of the basin are errors naming `trials.basin`.
#[test]
fn basin_option_keeps_only_initial_states_in_one_basin() {
    let spec_n = |count: usize, extra: &str| {
        Spec::parse(
            &format!(
                "seed = 3\n[system]\nkind = \"duffing\"\n[trials]\ncount = {count}\nsteps = 2\n\
                 dt = 0.1\n{extra}\n[observe]\nneurons = 2\nnoise = \"none\"\n"
            ),
            "<test>",
        )
    };
    let spec = |extra: &str| spec_n(40, extra);
    let truth = system("kind = \"duffing\"").truth().expect("truth");
    let foci: Vec<&Vec<f64>> = truth
        .fixed_points
        .iter()
        .filter(|p| p.stable)
        .map(|p| &p.x)
        .collect();
    assert!(
        foci[0][0] < 0.0 && foci[1][0] > 0.0,
        "stable points in attractors.json order"
    );
    let duffing = system("kind = \"duffing\"");
    for (basin, focus) in foci.iter().enumerate() {
        let s = spec(&format!("basin = {basin}")).expect("valid spec");
        let d = learndyn::recovery::dataset::generate(&s).expect("dataset");
        for k in 0..d.latents.shape[0] {
            let x0 = [d.latents.get(k, 0, 0), d.latents.get(k, 0, 1)];
            assert!(
                x0[0].abs() <= 4.0 && x0[1].abs() <= 2.5,
                "inside the box: {x0:?}"
            );
            // The noise-free flow over 50 slowest timescales (4 time units each).
            let end = learndyn::recovery::system::trajectory(duffing.as_ref(), &x0, &[0.0, 200.0])
                .expect("trajectory");
            assert!(
                dist(&end[1], focus) < 1e-3,
                "basin {basin}, trial {k} from {x0:?} ends at {:?}",
                end[1]
            );
        }
    }
    // Without the option both basins are drawn.
    let d = learndyn::recovery::dataset::generate(&spec("").unwrap()).expect("dataset");
    let ends: Vec<f64> = (0..d.latents.shape[0])
        .map(|k| {
            let x0 = [d.latents.get(k, 0, 0), d.latents.get(k, 0, 1)];
            learndyn::recovery::system::trajectory(duffing.as_ref(), &x0, &[0.0, 200.0]).unwrap()[1]
                [0]
        })
        .collect();
    assert!(ends.iter().any(|&x| x < 0.0) && ends.iter().any(|&x| x > 0.0));
    let err = spec("basin = 2").unwrap_err().to_string();
    assert!(
        err.contains("trials.basin") && err.contains("0 ..= 1"),
        "{err}"
    );
    // A box deep inside the other focus' basin: no accepted draw, the error names the field.
    let s = spec_n(
        1,
        "basin = 0\ninit_low = [3.0, -0.1]\ninit_high = [3.3, 0.1]",
    )
    .expect("spec");
    let err = learndyn::recovery::dataset::generate(&s)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("trials.basin") && err.contains("widen"),
        "{err}"
    );
}

/// `trials.burn_in` (C4's trials start on the ring, as recordings during ongoing activity do):
/// after B samples of zero input from the box U(0, 1)^6, the first recorded state of every
/// ring trial is on the ring. Near the ring the off-ring part decays like exp(-0.7214 t) (the
/// slowest nonzero decay rate of the ring's Jacobian, RS-4): 5 more time units of burn-in
/// shrink the speed |f(x)| by exp(-0.7214 x 5) to 10% (measured: within 3%), which says the
/// state is in the ring's linear regime. Before that, from the box, some ReLU units switch and
/// the decay is slower for a while (measured: up to 0.25 of the speed left after 5 time
/// units, against exp(-3.6) = 0.027); the bound allows an entry time of T0 = 5 time units:
/// |f(x(T))| <= |f(x0)| exp(-0.7214 (T - T0)) with x0 the drawn state (measured: at most 0.5
/// of it at T = 10). Without burn-in the same trials start far off the ring (speeds > 10x
/// that bound). `burn_in = 0` and a spec without the key give the same dataset and the same
/// spec hash, and the burn-in changes neither the trials' inputs nor their initial draws. Bad
/// values are errors naming the key.
#[test]
fn burn_in_starts_ring_trials_on_the_ring_and_zero_changes_nothing() {
    const SLOWEST_DECAY: f64 = 0.7214;
    const T_ENTER: f64 = 5.0;
    let (dt, burn_in, more) = (0.1, 100usize, 50usize);
    let spec = |extra: &str| {
        Spec::parse(
            &format!(
                "seed = 5\n[system]\nkind = \"ring\"\nvelocity_std = 0.5\n[trials]\ncount = 24\n\
                 steps = 3\ndt = {dt}\n{extra}\n[observe]\nneurons = 4\nnoise = \"poisson\"\n"
            ),
            "<test>",
        )
    };
    let gen = |extra: &str| {
        learndyn::recovery::dataset::generate(&spec(extra).expect("valid spec")).expect("dataset")
    };
    let ring = system("kind = \"ring\"\nvelocity_std = 0.5");
    let first = |d: &learndyn::recovery::dataset::Dataset, k: usize| -> Vec<f64> {
        (0..6).map(|j| d.latents.get(k, 0, j)).collect()
    };
    let (d0, db) = (gen(""), gen(&format!("burn_in = {burn_in}")));
    let dm = gen(&format!("burn_in = {}", burn_in + more));
    let factor = (-SLOWEST_DECAY * (burn_in as f64 * dt - T_ENTER)).exp();
    let ring_factor = (-SLOWEST_DECAY * more as f64 * dt).exp();
    let listed = ring.truth().expect("truth").manifolds.remove(0);
    for k in 0..d0.latents.shape[0] {
        let (x0, xb) = (first(&d0, k), first(&db, k));
        let (s0, sb) = (speed(ring.as_ref(), &x0), speed(ring.as_ref(), &xb));
        let bound = s0 * factor;
        assert!(
            sb <= bound,
            "trial {k}: speed {sb:e} after burn-in > {bound:e}"
        );
        assert!(
            s0 > 10.0 * bound,
            "trial {k}: starts on the ring without burn-in"
        );
        let ratio = speed(ring.as_ref(), &first(&dm, k)) / sb;
        assert!(
            (0.9 * ring_factor..=1.1 * ring_factor).contains(&ratio),
            "trial {k}: speed ratio {ratio:e} over {more} more samples, not the ring's \
             exp(-0.7214 t) = {ring_factor:e}"
        );
        // And it is near the listed ring of fixed points (its samples are 1/N apart).
        let d = listed
            .points
            .iter()
            .map(|p| dist(p, &xb))
            .fold(f64::INFINITY, f64::min);
        assert!(d < 0.1, "trial {k}: {xb:?} is {d} from the ring");
    }
    // The burn-in moves the start only: inputs identical by bits.
    let bits = |a: &learndyn::npy::Array3| a.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&d0.inputs), bits(&db.inputs));
    // burn_in = 0 is today's dataset, hash and all.
    let dz = gen("burn_in = 0");
    for (a, b) in [
        (&d0.observations, &dz.observations),
        (&d0.latents, &dz.latents),
        (&d0.rates, &dz.rates),
        (&d0.inputs, &dz.inputs),
    ] {
        assert_eq!(bits(a), bits(b));
    }
    assert_eq!(d0.meta.spec_sha256, dz.meta.spec_sha256);
    assert!(!spec("burn_in = 0").unwrap().canonical().contains("burn_in"));
    assert!(spec("burn_in = 7")
        .unwrap()
        .canonical()
        .contains("burn_in = 7"));
    for bad in ["-5", "2.5", "\"10\""] {
        let err = spec(&format!("burn_in = {bad}")).unwrap_err().to_string();
        assert!(
            err.contains("trials.burn_in") && err.contains(">= 0"),
            "burn_in = {bad}: {err}"
        );
    }
}
