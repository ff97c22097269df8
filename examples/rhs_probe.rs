//! Probe: where the time of one gradient-flow RHS goes. `cargo run --release --example rhs_probe`
use learndyn::linalg::{gemm, MatMut, MatRef, Matrix};
use learndyn::random::portable;
use std::time::Instant;

fn main() {
    let n = 256;
    let w1 = portable::unit_matrix(0, 202, n, n);
    let w2 = portable::unit_matrix(0, 203, n, n);
    let mut p = Matrix::zeros(n, n);
    let mut b1 = Matrix::zeros(n, n);
    let mut grad = vec![0.0; 2 * n * n];
    let reps = 20;
    let time = |name: &str, f: &mut dyn FnMut()| {
        f();
        let t0 = Instant::now();
        for _ in 0..reps {
            f();
        }
        println!(
            "{name:>24}: {:8.1} us",
            t0.elapsed().as_secs_f64() / reps as f64 * 1e6
        );
    };
    time("NN into Matrix", &mut || {
        gemm(p.view_mut(), w2.view(), false, w1.view(), false, 1.0, false)
    });
    time("NT into grad slice", &mut || {
        let (_, g2) = grad.split_at_mut(n * n);
        gemm(
            MatMut::new(n, n, g2).unwrap(),
            p.view(),
            false,
            w1.view(),
            true,
            1.0,
            false,
        )
    });
    time("TN into Matrix", &mut || {
        gemm(b1.view_mut(), w2.view(), true, p.view(), false, 1.0, false)
    });
    let params: Vec<f64> = w1.as_slice().iter().chain(w2.as_slice()).copied().collect();
    time("NN from param slices", &mut || {
        let a = MatRef::new(n, n, &params[n * n..]).unwrap();
        let b = MatRef::new(n, n, &params[..n * n]).unwrap();
        gemm(p.view_mut(), a, false, b, false, 1.0, false)
    });
}
