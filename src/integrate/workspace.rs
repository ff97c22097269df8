//! Preallocated scratch of a solve.

/// Preallocated scratch for [`solve`](super::solve) for one method and problem size.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub(super) n: usize,
    /// Stage derivatives, `MAX_STAGES` blocks of length `n`.
    pub(super) k: Vec<f64>,
    pub(super) y: Vec<f64>,
    pub(super) y_new: Vec<f64>,
    pub(super) y_stage: Vec<f64>,
    /// Input of the second-to-last stage (stiffness detection).
    pub(super) y_prev_stage: Vec<f64>,
    pub(super) f_new: Vec<f64>,
    pub(super) y_out: Vec<f64>,
    pub(super) scale: Vec<f64>,
    /// Dense-output coefficient vectors of the current step (DOP853: r2..r8), `7 n`.
    pub(super) dense: Vec<f64>,
    /// Whether the dense output of the current accepted step is prepared.
    pub(super) dense_ready: bool,
    /// Implicit-method scratch, allocated on first use.
    pub(super) ros: Option<RosWorkspace>,
}

/// Scratch of the implicit method (ROS2): Jacobian, LU factors and pivots, two state vectors.
#[derive(Debug, Clone)]
pub(super) struct RosWorkspace {
    pub(super) jac: Vec<f64>,
    pub(super) lu: Vec<f64>,
    pub(super) piv: Vec<usize>,
    pub(super) f0: Vec<f64>,
    pub(super) tmp: Vec<f64>,
}

/// Stage buffers reserved in every workspace (enough for every shipped tableau).
const MAX_STAGES: usize = 16;

impl Workspace {
    /// Scratch for states of length `n` (any method; the implicit method's `n x n` buffers
    /// are added on its first use).
    pub fn new(n: usize) -> Self {
        Workspace {
            n,
            k: vec![0.0; MAX_STAGES * n],
            y: vec![0.0; n],
            y_new: vec![0.0; n],
            y_stage: vec![0.0; n],
            y_prev_stage: vec![0.0; n],
            f_new: vec![0.0; n],
            y_out: vec![0.0; n],
            scale: vec![0.0; n],
            dense: vec![0.0; 7 * n],
            dense_ready: false,
            ros: None,
        }
    }

    /// The implicit method's scratch, allocated on first use.
    pub(super) fn ros_mut(&mut self) -> &mut RosWorkspace {
        let n = self.n;
        self.ros.get_or_insert_with(|| RosWorkspace {
            jac: vec![0.0; n * n],
            lu: vec![0.0; n * n],
            piv: vec![0; n],
            f0: vec![0.0; n],
            tmp: vec![0.0; n],
        })
    }
}
