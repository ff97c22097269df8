//! Probe: faer GEMM rates through learndyn::linalg::gemm for the transposition patterns the
//! gradient flow uses. `cargo run --release --example gemm_probe`
use learndyn::linalg::{gemm, Matrix};
use learndyn::random::portable;
use std::time::Instant;

fn main() {
    {
        use learndyn::integrate::VectorField;
        for n in [16usize, 64, 256] {
            let (net, m, theta) = learndyn::bench::ode::matrix_problem(n, 0.1, 0);
            let mut f = learndyn::dynamics::GradientFlow::new(
                learndyn::model::DeepLinearModel::new(&net, &m, None),
            );
            let mut dy = vec![0.0; theta.len()];
            let reps = (1e9 / (6.0 * (n as f64).powi(3))) as usize + 5;
            f.eval(0.0, &theta, &mut dy);
            let t0 = Instant::now();
            for _ in 0..reps {
                f.eval(0.0, &theta, &mut dy);
            }
            let dt = t0.elapsed().as_secs_f64() / reps as f64;
            println!("rhs n={n}: {:.2} us", dt * 1e6);
        }
    }
    for n in [16usize, 64, 256] {
        let a = portable::unit_matrix(1, 1, n, n);
        let b = portable::unit_matrix(1, 2, n, n);
        let mut c = Matrix::zeros(n, n);
        for (ta, tb) in [(false, false), (true, false), (false, true)] {
            let reps = (2e8 / (2.0 * (n as f64).powi(3))) as usize + 1;
            let t0 = Instant::now();
            for _ in 0..reps {
                gemm(c.view_mut(), a.view(), ta, b.view(), tb, 1.0, false);
            }
            let dt = t0.elapsed().as_secs_f64() / reps as f64;
            println!(
                "n={n:4} ta={ta:5} tb={tb:5}: {:8.2} us  {:6.1} GFlop/s",
                dt * 1e6,
                2.0 * (n as f64).powi(3) / dt / 1e9
            );
        }
    }
}

#[allow(dead_code)]
fn unused() {}
