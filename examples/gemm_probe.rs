//! Probe: faer GEMM rates through learndyn::linalg::gemm for the transposition patterns the
//! gradient flow uses. `cargo run --release --example gemm_probe`
use learndyn::linalg::{gemm, Matrix};
use learndyn::model::{DeepLinearNet, Moments};
use learndyn::random::portable;
use std::time::Instant;

/// A two-layer `n -> n -> n` network on a whitened random teacher (the shape of the peers'
/// matrix workload): network, moments and flat parameters.
fn two_layer_flow_problem(n: usize) -> (DeepLinearNet, Moments, Vec<f64>) {
    let scale = 1.0 / (n as f64).sqrt();
    let syx = portable::unit_matrix(0, 201, n, n).scale(scale);
    let w1 = portable::unit_matrix(0, 202, n, n).scale(0.1 * scale);
    let w2 = portable::unit_matrix(0, 203, n, n).scale(0.1 * scale);
    let net = DeepLinearNet::new(vec![n, n, n]).expect("valid dims");
    let theta = net.pack(&[w1, w2]).expect("shapes match");
    let moments = Moments {
        sigma_xx: Matrix::identity(n),
        sigma_yx: syx.clone(),
        w_star: syx,
        loss_min: 0.0,
        whitened: true,
    };
    (net, moments, theta)
}

fn main() {
    {
        use learndyn::integrate::VectorField;
        for n in [16usize, 64, 256] {
            let (net, m, theta) = two_layer_flow_problem(n);
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
