//! Metric invariances as property tests (theory/recovery.md RM-1): the scores of the truth
//! handed in as a model do not change under any well-conditioned invertible affine map and
//! permutation of its latents (fixed points mapped, Jacobians conjugated, query trajectories
//! mapped), drawn at random.

use learndyn::linalg::{self, Matrix};
use learndyn::npy::Array3;
use learndyn::recovery::dataset::{self, Dataset};
use learndyn::recovery::score::{self, Fitted, ModelPoint};
use learndyn::recovery::spec::Spec;
use proptest::prelude::*;
use std::sync::OnceLock;

fn dataset() -> &'static Dataset {
    static D: OnceLock<Dataset> = OnceLock::new();
    D.get_or_init(|| {
        let text = "seed = 5\n[system]\nkind = \"duffing\"\n[trials]\ncount = 40\nsteps = 100\ndt = 0.1\n\
                    process_noise = 0.05\n[observe]\nmixing = \"linear\"\nneurons = 10\nnoise = \"poisson\"\n\
                    [split]\nheld_out = 3\n";
        dataset::generate(&Spec::parse(text, "<test>").unwrap()).unwrap()
    })
}

fn mapped(d: &Dataset, t: &Matrix, c: &[f64]) -> Fitted {
    let k = d.truth.dim;
    let apply = |x: &[f64]| -> Vec<f64> {
        (0..k)
            .map(|i| c[i] + (0..k).map(|j| t.get(i, j) * x[j]).sum::<f64>())
            .collect()
    };
    let mut f = Fitted::truth(d);
    f.simulator = None; // the exchange carries no dynamics
    let map3 = |a: &Array3| -> Array3 {
        Array3 {
            shape: a.shape,
            data: a.data.chunks(k).flat_map(apply).collect(),
        }
    };
    let (lat, traj) = (map3(&f.latents), f.trajectories.as_ref().map(&map3));
    f.latents = lat;
    f.trajectories = traj;
    let ti = linalg::solve(t, &Matrix::identity(k)).unwrap();
    if let Some(fps) = f.fixed_points.as_mut() {
        for p in fps.points.iter_mut() {
            let j = Matrix::from_fn(k, k, |r, s| p.jacobian[r][s]);
            let jt = t.matmul(&j).matmul(&ti);
            *p = ModelPoint {
                x: apply(&p.x),
                jacobian: (0..k)
                    .map(|r| (0..k).map(|s| jt.get(r, s)).collect())
                    .collect(),
            };
        }
    }
    f
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// RM-1: M4, M5, M6 = 1, M10 = M11 = 1, M12 = 0, M9 = M17 = 0 for every random affine map
    /// with a permutation (condition number at most ~4 by construction: diagonal in [1, 3],
    /// off-diagonal in [-0.4, 0.4]).
    #[test]
    fn scores_are_invariant_under_affine_maps_and_permutations(
        diag in proptest::collection::vec(1.0f64..3.0, 2),
        off in proptest::collection::vec(-0.4f64..0.4, 2),
        shift in proptest::collection::vec(-5.0f64..5.0, 2),
        swap in any::<bool>(),
    ) {
        let d = dataset();
        let m = Matrix::from_fn(2, 2, |i, j| if i == j { diag[i] } else { off[i] });
        let t = if swap { Matrix::from_fn(2, 2, |i, j| m.get(1 - i, j)) } else { m };
        let r = score::score(d, &mapped(d, &t, &shift)).unwrap();
        let v = |id: &str| r.metrics[id]["value"].as_f64().unwrap_or(f64::NAN);
        for id in ["M4", "M5", "M6"] {
            prop_assert!((v(id) - 1.0).abs() < 1e-9, "{id} = {}", v(id));
        }
        prop_assert_eq!(v("M10"), 1.0);
        prop_assert_eq!(v("M11"), 1.0);
        prop_assert!(v("M12").abs() < 1e-6, "M12 = {}", v("M12"));
        prop_assert_eq!(v("M9"), 0.0);
        prop_assert_eq!(v("M17"), 0.0);
        prop_assert!(v("M7") < 1e-16, "M7 = {}", v("M7"));
    }
}
