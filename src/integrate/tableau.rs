//! Butcher tableaux of explicit Runge-Kutta pairs, and their dense-output interpolants.
//!
//! A tableau is plain data (`c`, strictly lower-triangular `a`, weights `b`, error weights
//! `e = b - b_hat`), so one generic stepper in [`super::solve`] runs every method, and one test
//! (`tests/integrate.rs`) checks the order conditions of every tableau.
//!
//! # References
//! - J. R. Dormand, P. J. Prince, "A family of embedded Runge-Kutta formulae",
//!   J. Comput. Appl. Math. 6 (1980) 19-26.
//! - E. Hairer, S. P. Norsett, G. Wanner, *Solving Ordinary Differential Equations I*, 2nd ed.,
//!   Springer 1993, Section II.5 (Table 5.2) and II.6 (dense output of DOPRI5, due to Shampine 1986).

/// How the stepper interpolates inside an accepted step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenseOutput {
    /// Shampine's 4th-order continuous extension of DOPRI5 (HNW I, Section II.6, `contd5`),
    /// using the coefficients [`DOPRI5_DENSE`].
    Dopri5,
    /// Cubic Hermite interpolation from the end-point values and derivatives (3rd order).
    /// Used by methods without a native interpolant.
    Hermite,
}

/// An explicit Runge-Kutta method (optionally an embedded pair).
#[derive(Debug, Clone, Copy)]
pub struct Tableau {
    /// Short literature name, e.g. `"dopri5"`.
    pub name: &'static str,
    /// Number of stages `s`.
    pub stages: usize,
    /// Nodes `c_i`, length `s`.
    pub c: &'static [f64],
    /// Strictly lower-triangular coefficients, row by row: row `i` (0-based) holds `a_{i,0..i}`,
    /// so the flat length is `s (s - 1) / 2`.
    pub a: &'static [f64],
    /// Weights `b_i` of the propagated solution, length `s`.
    pub b: &'static [f64],
    /// Error weights `e_i = b_i - b_hat_i`, length `s`; `None` for fixed-step methods.
    pub e: Option<&'static [f64]>,
    /// Classical order of the propagated solution.
    pub order: u32,
    /// Order of the embedded error estimator (the lower order of the pair), if any.
    pub embedded_order: Option<u32>,
    /// First-same-as-last: stage `s - 1` is evaluated at `(t + h, y_new)` and can be reused as
    /// the next step's first stage.
    pub fsal: bool,
    /// Interpolant used for output between step points.
    pub dense: DenseOutput,
}

impl Tableau {
    /// Row `i` of `a` (coefficients `a_{i,0..i}`).
    #[inline]
    pub fn a_row(&self, i: usize) -> &'static [f64] {
        // Row i has i entries and starts after rows 0..i, which hold 0 + 1 + ... + (i-1).
        let start = i * i.saturating_sub(1) / 2;
        &self.a[start..start + i]
    }
}

/// Dormand-Prince 5(4) (DOPRI5): 7 stages, FSAL, order 5 propagated, order 4 embedded.
/// Coefficients from Dormand & Prince (1980), HNW I Table 5.2.
pub const DOPRI5: Tableau = Tableau {
    name: "dopri5",
    stages: 7,
    c: &[0.0, 1.0 / 5.0, 3.0 / 10.0, 4.0 / 5.0, 8.0 / 9.0, 1.0, 1.0],
    a: &[
        // row 1
        1.0 / 5.0,
        // row 2
        3.0 / 40.0,
        9.0 / 40.0,
        // row 3
        44.0 / 45.0,
        -56.0 / 15.0,
        32.0 / 9.0,
        // row 4
        19372.0 / 6561.0,
        -25360.0 / 2187.0,
        64448.0 / 6561.0,
        -212.0 / 729.0,
        // row 5
        9017.0 / 3168.0,
        -355.0 / 33.0,
        46732.0 / 5247.0,
        49.0 / 176.0,
        -5103.0 / 18656.0,
        // row 6 (= b: FSAL)
        35.0 / 384.0,
        0.0,
        500.0 / 1113.0,
        125.0 / 192.0,
        -2187.0 / 6784.0,
        11.0 / 84.0,
    ],
    b: &[
        35.0 / 384.0,
        0.0,
        500.0 / 1113.0,
        125.0 / 192.0,
        -2187.0 / 6784.0,
        11.0 / 84.0,
        0.0,
    ],
    e: Some(&[
        71.0 / 57600.0,
        0.0,
        -71.0 / 16695.0,
        71.0 / 1920.0,
        -17253.0 / 339200.0,
        22.0 / 525.0,
        -1.0 / 40.0,
    ]),
    order: 5,
    embedded_order: Some(4),
    fsal: true,
    dense: DenseOutput::Dopri5,
};

/// Coefficients `d_1..d_7` of the DOPRI5 continuous extension (HNW I, `dopri5.f`, `contd5`).
/// Entry 1 (for `k_2`) is zero.
pub const DOPRI5_DENSE: [f64; 7] = [
    -12715105075.0 / 11282082432.0,
    0.0,
    87487479700.0 / 32700410799.0,
    -10690763975.0 / 1880347072.0,
    701980252875.0 / 199316789632.0,
    -1453857185.0 / 822651844.0,
    69997945.0 / 29380423.0,
];

/// Forward Euler: order 1, fixed step.
pub const EULER: Tableau = Tableau {
    name: "euler",
    stages: 1,
    c: &[0.0],
    a: &[],
    b: &[1.0],
    e: None,
    order: 1,
    embedded_order: None,
    fsal: false,
    dense: DenseOutput::Hermite,
};

/// Heun's method (explicit trapezoid): order 2, fixed step.
pub const HEUN: Tableau = Tableau {
    name: "heun",
    stages: 2,
    c: &[0.0, 1.0],
    a: &[1.0],
    b: &[0.5, 0.5],
    e: None,
    order: 2,
    embedded_order: None,
    fsal: false,
    dense: DenseOutput::Hermite,
};

/// The classical 4th-order Runge-Kutta method, fixed step.
pub const RK4: Tableau = Tableau {
    name: "rk4",
    stages: 4,
    c: &[0.0, 0.5, 0.5, 1.0],
    a: &[0.5, 0.0, 0.5, 0.0, 0.0, 1.0],
    b: &[1.0 / 6.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 6.0],
    e: None,
    order: 4,
    embedded_order: None,
    fsal: false,
    dense: DenseOutput::Hermite,
};

/// Every tableau shipped, for generic tests (order conditions, convergence order).
pub const ALL: [&Tableau; 4] = [&DOPRI5, &EULER, &HEUN, &RK4];
