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
//! - Ch. Tsitouras, "Runge-Kutta pairs of order 5(4) satisfying only the first column
//!   simplifying assumption", Comput. Math. Appl. 62 (2011) 770-775 ([`TSIT5`]).
//! - E. Hairer, G. Wanner, `dop853.f` (1996, corrected 2002), the code accompanying HNW I, for
//!   the Dormand-Prince 8(5,3) pair ([`DOP853`]).

// Published coefficients keep all their digits (the compiler rounds each literal to the nearest
// f64), so that every literal can be compared with its source.
#![allow(clippy::excessive_precision)]

/// How the stepper interpolates inside an accepted step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenseOutput {
    /// Shampine's 4th-order continuous extension of DOPRI5 (HNW I, Section II.6, `contd5`),
    /// using the coefficients [`DOPRI5_DENSE`].
    Dopri5,
    /// Cubic Hermite interpolation from the end-point values and derivatives (3rd order).
    /// Used by methods without a native interpolant.
    Hermite,
    /// Tsitouras' free 4th-order interpolant, `b_i(theta)` from [`TSIT5_DENSE`].
    Tsit5,
    /// Hairer's 7th-order continuous extension of DOP853 (`contd8`): three extra stages
    /// ([`DOP853_DENSE_C`], [`DOP853_DENSE_A`]) evaluated once per step that needs output,
    /// combined with [`DOP853_DENSE_D`].
    Dop853,
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
    /// Weights of a second, lower-order error estimate combined with `e` as in Hairer's
    /// DOP853 ([`DOP853_E3`]); `None` for a plain embedded estimate.
    pub e3: Option<&'static [f64]>,
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
    e3: None,
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
    e3: None,
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
    e3: None,
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
    e3: None,
};

/// Tsitouras 5(4) (Tsit5): 7 stages, FSAL, order 5 propagated, order 4 embedded.
///
/// Ch. Tsitouras, "Runge-Kutta pairs of order 5(4) satisfying only the first column
/// simplifying assumption", Comput. Math. Appl. 62 (2011) 770-775. The digits are the
/// high-precision values of OrdinaryDiffEq.jl (`lib/OrdinaryDiffEqTsit5/src/tsit_tableaus.jl`,
/// the generic-type `Tsit5ConstantCacheActual`, MIT), which agree with diffrax
/// (`diffrax/_solver/tsit5.py`, `_tsit5_tableau`, Apache-2.0); each literal is rounded to the
/// nearest `f64` by the compiler.
///
/// Error weights: OrdinaryDiffEq's `btilde = b_hat - b`; here `e = b - b_hat = -btilde`
/// (diffrax's `b_error` has this sign). The embedded `b_hat` (with `b_hat_7 = 1/66`) is the
/// 4th-order solution of the pair; the propagated 5th-order `b` has `b_7 = 0`.
///
/// Native dense output: [`TSIT5_DENSE`] ([`DenseOutput::Tsit5`]).
pub const TSIT5: Tableau = Tableau {
    name: "tsit5",
    stages: 7,
    c: &[
        0.0,
        0.161,
        0.327,
        0.9,
        0.9800255409045096857298102862870245954942137979563024768854764293221195950761080302604,
        1.0,
        1.0,
    ],
    a: &[
        // row 1
        0.161,
        // row 2
        -0.8480655492356988544426874250230774675121177393430391537369234245294192976164141156943e-2,
        0.3354806554923569885444268742502307746751211773934303915373692342452941929761641411569,
        // row 3
        2.897153057105493432130432594192938764924887287701866490314866693455023795137503079289,
        -6.359448489975074843148159912383825625952700647415626703305928850207288721235210244366,
        4.362295432869581411017727318190886861027813359713760212991062156752264926097707165077,
        // row 4
        5.325864828439256604428877920840511317836476253097040101202360397727981648835607691791,
        -11.74888356406282787774717033978577296188744178259862899288666928009020615663593781589,
        7.495539342889836208304604784564358155658679161518186721010132816213648793440552049753,
        -0.9249506636175524925650207933207191611349983406029535244034750452930469056411389539635e-1,
        // row 5
        5.861455442946420028659251486982647890394337666164814434818157239052507339770711679748,
        -12.92096931784710929170611868178335939541780751955743459166312250439928519268343184452,
        8.159367898576158643180400794539253485181918321135053305748355423955009222648673734986,
        -0.7158497328140099722453054252582973869127213147363544882721139659546372402303777878835e-1,
        -0.2826905039406838290900305721271224146717633626879770007617876201276764571291579142206e-1,
        // row 6 (= b: FSAL)
        0.9646076681806522951816731316512876333711995238157997181903319145764851595234062815396e-1,
        0.01,
        0.4798896504144995747752495322905965199130404621990332488332634944254542060153074523509,
        1.379008574103741893192274821856872770756462643091360525934940067397245698027561293331,
        -3.290069515436080679901047585711363850115683290894936158531296799594813811049925401677,
        2.324710524099773982415355918398765796109060233222962411944060046314465391054716027841,
    ],
    b: &[
        0.9646076681806522951816731316512876333711995238157997181903319145764851595234062815396e-1,
        0.01,
        0.4798896504144995747752495322905965199130404621990332488332634944254542060153074523509,
        1.379008574103741893192274821856872770756462643091360525934940067397245698027561293331,
        -3.290069515436080679901047585711363850115683290894936158531296799594813811049925401677,
        2.324710524099773982415355918398765796109060233222962411944060046314465391054716027841,
        0.0,
    ],
    // e = -btilde of OrdinaryDiffEq.jl (b_hat_1..6 are its commented-out `b1..b6`).
    e: Some(&[
        1.780011052225771443378550607539534775944678804333659557637450799792588061629796e-3,
        8.164344596567469032236360633546862401862537590159047610940604670770447527463931e-4,
        -7.880878010261996010314727672526304238628733777103128603258129604952959142646516e-3,
        1.44711007173262907537165147972635116720922712343167677619514233896760819649515e-1,
        -5.823571654525552250199376106520421794260781239567387797673045438803694038950012e-1,
        4.580821059291869466616365188325542974428047279788398179474684434732070620889539e-1,
        -1.0 / 66.0,
    ]),
    order: 5,
    embedded_order: Some(4),
    fsal: true,
    dense: DenseOutput::Tsit5,
    e3: None,
};

/// Tsitouras' free 4th-order continuous extension of [`TSIT5`]: row `i` holds the coefficients
/// of the polynomial `b_i(theta) = sum_k TSIT5_DENSE[i][k] theta^k` in ascending powers
/// `theta^0 .. theta^4` (the constant term is 0), and for `0 <= theta <= 1`
///
/// `y(t + theta h) ~ y + h sum_{i=0}^{6} b_i(theta) k_i`,
///
/// with `k_0..k_6` the step's seven stages (`k_6 = f(t + h, y_new)`, the FSAL stage, so the
/// interpolant costs no extra evaluation). `b_i(1) = b_i`, `b_i(0) = 0`, `sum_i b_i(theta) = theta`.
///
/// Source: the expanded polynomial coefficients `r11 .. r74` (`b_i(theta) = r_i1 theta +
/// r_i2 theta^2 + r_i3 theta^3 + r_i4 theta^4`) of OrdinaryDiffEq.jl's generic-type `Tsit5Interp`
/// (`lib/OrdinaryDiffEqTsit5/src/tsit_tableaus.jl`, MIT), taken from Tsitouras (2011); they
/// agree with the factored form of diffrax's `_Tsit5Interpolation` (e.g. diffrax's
/// `b7 = 2.5 (t - 1)(t - 0.6) t^2` is row 6 here). `r11 = 0.99999999999999997428...` rounds to 1.0.
pub const TSIT5_DENSE: [[f64; 5]; 7] = [
    [
        0.0,
        0.999999999999999974283372471559910888475488471328,
        -2.763706197274825911336735930481400260916070804192,
        2.91325546182191274375068099306808,
        -1.0530884977290216,
    ],
    [
        0.0,
        0.0,
        0.13169999999999999727,
        -0.22339999999999999818,
        0.1017,
    ],
    [
        0.0,
        0.0,
        3.93029623689475152850687446709813398,
        -5.94103387213150473470249202589458001,
        2.490627285651252793,
    ],
    [
        0.0,
        0.0,
        -12.411077166933676983734381540685453484102414134010752,
        30.3381886302823215981729903691836576,
        -16.54810288924490272,
    ],
    [
        0.0,
        0.0,
        37.50931341651103919496903965334519631242339792120440212,
        -88.1789048947664011014276693541209817,
        47.37952196281928122,
    ],
    [
        0.0,
        0.0,
        -27.896526289197287805948263144598643896,
        65.09189467479367152629021928716553658,
        -34.87065786149660974,
    ],
    [0.0, 0.0, 1.5, -4.0, 2.5],
];

/// Dormand-Prince 8(5,3) as in Hairer's DOP853: 12 stages plus the FSAL stage, order 8
/// propagated, with a 5th-order error estimator (the `e` here) and a 3rd-order one
/// ([`DOP853_E3`]) that Hairer combines into one error norm, and a 7th-order dense output that
/// needs three more stages ([`DOP853_DENSE_C`], [`DOP853_DENSE_A`], [`DOP853_DENSE_D`]).
///
/// Source: E. Hairer, G. Wanner, `dop853.f` (version of April 25, 1996, small corrections
/// March 4, 2002; described in HNW I, 2nd ed., Chapter II), public copy in
/// github.com/cpmech/hwode `dop853.f`, parameters `c2..c16`, `a21..a1615`, `b1..b12`,
/// `bhh1..bhh3`, `er1..er12`, `d41..d716`; every value was checked to be identical to scipy's
/// `scipy/integrate/_ivp/dop853_coefficients.py` (BSD-3-Clause, arrays `C`, `A`, `B`, `E3`, `E5`,
/// `D`). The method is due to Dormand and Prince (as stated in `dop853.f`).
///
/// Representation: 13 stages, stage 13 (0-based index 12) being `f(t + h, y_new)`: its row of
/// `a` is `b` and `c_13 = 1` (scipy's `A[12, :12] = B`, `C[12] = 1`; `dop853.f` calls it `K4`
/// after the step), so the generic FSAL stepper takes the stage-13 input as `y_new` and its
/// derivative as the next step's first stage. 12 evaluations per attempted step, as with
/// `fsal = false` and 12 stages, except that a rejected step also pays for stage 13 (Hairer
/// evaluates it only after acceptance). Stage 12 (0-based 11) also has `c = 1` (`XPH` in
/// `dop853.f`), but it is evaluated at an intermediate state, not at `y_new`. Hairer's
/// stiffness test uses the last two stages, as for DOPRI5 (0-based):
/// `h_lamb = |h| ||k_12 - k_11|| / ||y_new - Y_11||` (`Y_11` the input of stage 11), with the
/// threshold 6.1 instead of DOPRI5's 3.25.
///
/// Error estimate: `e = b - b_hat5` are Hairer's `er1 .. er12` (scipy's `E5`), entry 13 is 0, so
/// the generic driver's RMS norm of `h sum e_i k_i` is a plain 5th-order (`embedded_order`)
/// estimate. Hairer's own norm also uses [`DOP853_E3`]; see there.
pub const DOP853: Tableau = Tableau {
    name: "dop853",
    stages: 13,
    c: &[
        0.0,
        0.526001519587677318785587544488e-01,
        0.789002279381515978178381316732e-01,
        0.118350341907227396726757197510,
        0.281649658092772603273242802490,
        0.333333333333333333333333333333,
        0.25,
        0.307692307692307692307692307692,
        0.651282051282051282051282051282,
        0.6,
        0.857142857142857142857142857142,
        1.0,
        1.0,
    ],
    a: &[
        // row 1
        5.26001519587677318785587544488e-2,
        // row 2
        1.97250569845378994544595329183e-2,
        5.91751709536136983633785987549e-2,
        // row 3
        2.95875854768068491816892993775e-2,
        0.0,
        8.87627564304205475450678981324e-2,
        // row 4
        2.41365134159266685502369798665e-1,
        0.0,
        -8.84549479328286085344864962717e-1,
        9.24834003261792003115737966543e-1,
        // row 5
        3.7037037037037037037037037037e-2,
        0.0,
        0.0,
        1.70828608729473871279604482173e-1,
        1.25467687566822425016691814123e-1,
        // row 6
        3.7109375e-2,
        0.0,
        0.0,
        1.70252211019544039314978060272e-1,
        6.02165389804559606850219397283e-2,
        -1.7578125e-2,
        // row 7
        3.70920001185047927108779319836e-2,
        0.0,
        0.0,
        1.70383925712239993810214054705e-1,
        1.07262030446373284651809199168e-1,
        -1.53194377486244017527936158236e-2,
        8.27378916381402288758473766002e-3,
        // row 8
        6.24110958716075717114429577812e-1,
        0.0,
        0.0,
        -3.36089262944694129406857109825,
        -8.68219346841726006818189891453e-1,
        2.75920996994467083049415600797e1,
        2.01540675504778934086186788979e1,
        -4.34898841810699588477366255144e1,
        // row 9
        4.77662536438264365890433908527e-1,
        0.0,
        0.0,
        -2.48811461997166764192642586468,
        -5.90290826836842996371446475743e-1,
        2.12300514481811942347288949897e1,
        1.52792336328824235832596922938e1,
        -3.32882109689848629194453265587e1,
        -2.03312017085086261358222928593e-2,
        // row 10
        -9.3714243008598732571704021658e-1,
        0.0,
        0.0,
        5.18637242884406370830023853209,
        1.09143734899672957818500254654,
        -8.14978701074692612513997267357,
        -1.85200656599969598641566180701e1,
        2.27394870993505042818970056734e1,
        2.49360555267965238987089396762,
        -3.0467644718982195003823669022,
        // row 11
        2.27331014751653820792359768449,
        0.0,
        0.0,
        -1.05344954667372501984066689879e1,
        -2.00087205822486249909675718444,
        -1.79589318631187989172765950534e1,
        2.79488845294199600508499808837e1,
        -2.85899827713502369474065508674,
        -8.87285693353062954433549289258,
        1.23605671757943030647266201528e1,
        6.43392746015763530355970484046e-1,
        // row 12 (= b: FSAL)
        5.42937341165687622380535766363e-2,
        0.0,
        0.0,
        0.0,
        0.0,
        4.45031289275240888144113950566,
        1.89151789931450038304281599044,
        -5.8012039600105847814672114227,
        3.1116436695781989440891606237e-1,
        -1.52160949662516078556178806805e-1,
        2.01365400804030348374776537501e-1,
        4.47106157277725905176885569043e-2,
    ],
    b: &[
        5.42937341165687622380535766363e-2,
        0.0,
        0.0,
        0.0,
        0.0,
        4.45031289275240888144113950566,
        1.89151789931450038304281599044,
        -5.8012039600105847814672114227,
        3.1116436695781989440891606237e-1,
        -1.52160949662516078556178806805e-1,
        2.01365400804030348374776537501e-1,
        4.47106157277725905176885569043e-2,
        0.0,
    ],
    e: Some(&[
        0.1312004499419488073250102996e-1,
        0.0,
        0.0,
        0.0,
        0.0,
        -0.1225156446376204440720569753e1,
        -0.4957589496572501915214079952,
        0.1664377182454986536961530415e1,
        -0.3503288487499736816886487290,
        0.3341791187130174790297318841,
        0.8192320648511571246570742613e-1,
        -0.2235530786388629525884427845e-1,
        0.0,
    ]),
    order: 8,
    embedded_order: Some(5),
    fsal: true,
    dense: DenseOutput::Dop853,
    e3: Some(&DOP853_E3),
};

/// Error weights of DOP853's 3rd-order estimator, `e3 = b - b_hat3` in the stage order of
/// [`DOP853`] (13 entries, the last, for the FSAL stage, is 0). `b_hat3` has only three nonzero
/// weights, `bhh1 = 0.2440944881889763...` on stage 0, `bhh2 = 0.7338466882816118...` on stage 8
/// and `bhh3 = 0.0220588235294117...` on stage 11 (0-based; `K1, K9, K3` in `dop853.f`); these
/// are `b_i - bhh` computed in `f64` (as scipy's `E3 = B - ...` and as `dop853.f` does at run
/// time: `ERRI = K4 - BHH1*K1 - BHH2*K9 - BHH3*K3`, where its `K4` holds `sum b_i k_i`).
///
/// Hairer's error norm (`dop853.f`, and scipy's `DOP853._estimate_error_norm`): with
/// `sk_i = atol_i + rtol max(|y_i|, |y_new_i|)` and, per component,
/// `err5_i = sum_j e_j k_j,i` ([`DOP853`]`.e`), `err3_i = sum_j e3_j k_j,i` (both WITHOUT the
/// factor h),
///
/// `E5 = sum_i (err5_i / sk_i)^2`, `E3 = sum_i (err3_i / sk_i)^2`,
/// `deno = E5 + 0.01 E3` (if `deno <= 0`, use 1),
/// `err = |h| E5 / sqrt(n deno)`,
///
/// i.e. with RMS norms `e5 = sqrt(E5/n)`, `e3 = sqrt(E3/n)`:
/// `err = |h| e5^2 / sqrt(e5^2 + 0.01 e3^2)`. The step is accepted when `err <= 1`. Since
/// `h e5 = O(h^6)` and `h e3 = O(h^4)`, `err` behaves like `O(h^8)`, so Hairer's controller uses
/// the exponent `expo1 = 1/8 - 0.2 beta` (default `beta = 0` in `dop853.f`, step ratio limited
/// to `[0.333, 6]`, safety 0.9), not `1/(embedded_order + 1)`.
pub const DOP853_E3: [f64; 13] = [
    5.42937341165687622380535766363e-2 - 0.244094488188976377952755905512,
    0.0,
    0.0,
    0.0,
    0.0,
    4.45031289275240888144113950566,
    1.89151789931450038304281599044,
    -5.8012039600105847814672114227,
    3.1116436695781989440891606237e-1 - 0.733846688281611857341361741547,
    -1.52160949662516078556178806805e-1,
    2.01365400804030348374776537501e-1,
    4.47106157277725905176885569043e-2 - 0.220588235294117647058823529412e-1,
    0.0,
];

/// Nodes `c_14, c_15, c_16` of DOP853's three extra dense-output stages (0-based stages 13, 14,
/// 15): `0.1`, `0.2`, `7/9` (`dop853.f` `c14..c16`, scipy `C[13..16]`).
pub const DOP853_DENSE_C: [f64; 3] = [0.1, 0.2, 0.777777777777777777777777777778];

/// `a`-rows of DOP853's extra dense-output stages: row `m` (stage `13 + m`, 0-based) holds
/// `a_{13+m, j}` for `j = 0..16`, zero for `j >= 13 + m` (scipy `A[13..16, :]`, `dop853.f`
/// `a141..a1615`). They reference stage 12 (0-based), i.e. `f(t + h, y_new)`, and each other:
///
/// `Y_{13+m} = y + h sum_{j < 13+m} DOP853_DENSE_A[m][j] k_j`,
/// `k_{13+m} = f(t + DOP853_DENSE_C[m] h, Y_{13+m})`, for m = 0, 1, 2 in order.
///
/// Only needed after an accepted step, and only if interpolation is requested (3 evaluations).
pub const DOP853_DENSE_A: [[f64; 16]; 3] = [
    [
        5.61675022830479523392909219681e-2,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        2.53500210216624811088794765333e-1,
        -2.46239037470802489917441475441e-1,
        -1.24191423263816360469010140626e-1,
        1.5329179827876569731206322685e-1,
        8.20105229563468988491666602057e-3,
        7.56789766054569976138603589584e-3,
        -8.298e-3,
        0.0,
        0.0,
        0.0,
    ],
    [
        3.18346481635021405060768473261e-2,
        0.0,
        0.0,
        0.0,
        0.0,
        2.83009096723667755288322961402e-2,
        5.35419883074385676223797384372e-2,
        -5.49237485713909884646569340306e-2,
        0.0,
        0.0,
        -1.08347328697249322858509316994e-4,
        3.82571090835658412954920192323e-4,
        -3.40465008687404560802977114492e-4,
        1.41312443674632500278074618366e-1,
        0.0,
        0.0,
    ],
    [
        -4.28896301583791923408573538692e-1,
        0.0,
        0.0,
        0.0,
        0.0,
        -4.69762141536116384314449447206,
        7.68342119606259904184240953878,
        4.06898981839711007970213554331,
        3.56727187455281109270669543021e-1,
        0.0,
        0.0,
        0.0,
        -1.39902416515901462129418009734e-3,
        2.9475147891527723389556272149,
        -9.15095847217987001081870187138,
        0.0,
    ],
];

/// Coefficients `d4j .. d7j` of DOP853's 7th-order continuous extension (`dop853.f`, scipy `D`):
/// row `r` (0..4) holds `d_{r+4, j}` for the 16 stages `j = 0..16` (0-based: 0..11 the step's
/// stages, 12 `f(t + h, y_new)`, 13..15 the extra stages of [`DOP853_DENSE_A`]).
///
/// Hairer's `contd8`, for an accepted step `t -> t + h` with `y`, `y_new`, stages `k_j`:
///
/// `rcont1 = y`, `rcont2 = y_new - y`, `rcont3 = h k_0 - rcont2`,
/// `rcont4 = rcont2 - h k_12 - rcont3`,
/// `rcont{5,6,7,8} = h sum_{j=0}^{15} DOP853_DENSE_D[{0,1,2,3}][j] k_j`,
///
/// and at `theta = (t_out - t)/h`, `theta1 = 1 - theta`:
///
/// `conpar = rcont5 + theta (rcont6 + theta1 (rcont7 + theta rcont8))`,
/// `y(t_out) = rcont1 + theta (rcont2 + theta1 (rcont3 + theta (rcont4 + theta1 conpar)))`.
///
/// Equivalently `y(t + theta h) = y + h sum_j b_j(theta) k_j` with the weights
///
/// `b_j(theta) = theta b_j + theta theta1 (u_j - b_j) + theta^2 theta1 (2 b_j - u_j - v_j)`
/// `           + theta^2 theta1^2 (D0_j + theta D1_j + theta theta1 D2_j + theta^2 theta1 D3_j)`,
///
/// where `b_j = 0` for `j >= 12`, `u_j = [j == 0]`, `v_j = [j == 12]` and
/// `Dr = DOP853_DENSE_D[r]` (the test `dop853_dense_output_and_third_order_estimator` checks that
/// the two forms agree and that these weights satisfy every order condition up to order 7).
/// (In `dop853.f` the stage-12 derivative is `K4`, and the extra stages overwrite `K10, K2, K3`.)
pub const DOP853_DENSE_D: [[f64; 16]; 4] = [
    [
        -0.84289382761090128651353491142e1,
        0.0,
        0.0,
        0.0,
        0.0,
        0.56671495351937776962531783590,
        -0.30689499459498916912797304727e1,
        0.23846676565120698287728149680e1,
        0.21170345824450282767155149946e1,
        -0.87139158377797299206789907490,
        0.22404374302607882758541771650e1,
        0.63157877876946881815570249290,
        -0.88990336451333310820698117400e-1,
        0.18148505520854727256656404962e2,
        -0.91946323924783554000451984436e1,
        -0.44360363875948939664310572000e1,
    ],
    [
        0.10427508642579134603413151009e2,
        0.0,
        0.0,
        0.0,
        0.0,
        0.24228349177525818288430175319e3,
        0.16520045171727028198505394887e3,
        -0.37454675472269020279518312152e3,
        -0.22113666853125306036270938578e2,
        0.77334326684722638389603898808e1,
        -0.30674084731089398182061213626e2,
        -0.93321305264302278729567221706e1,
        0.15697238121770843886131091075e2,
        -0.31139403219565177677282850411e2,
        -0.93529243588444783865713862664e1,
        0.35816841486394083752465898540e2,
    ],
    [
        0.19985053242002433820987653617e2,
        0.0,
        0.0,
        0.0,
        0.0,
        -0.38703730874935176555105901742e3,
        -0.18917813819516756882830838328e3,
        0.52780815920542364900561016686e3,
        -0.11573902539959630126141871134e2,
        0.68812326946963000169666922661e1,
        -0.10006050966910838403183860980e1,
        0.77771377980534432092869265740,
        -0.27782057523535084065932004339e1,
        -0.60196695231264120758267380846e2,
        0.84320405506677161018159903784e2,
        0.11992291136182789328035130030e2,
    ],
    [
        -0.25693933462703749003312586129e2,
        0.0,
        0.0,
        0.0,
        0.0,
        -0.15418974869023643374053993627e3,
        -0.23152937917604549567536039109e3,
        0.35763911791061412378285349910e3,
        0.93405324183624310003907691704e2,
        -0.37458323136451633156875139351e2,
        0.10409964950896230045147246184e3,
        0.29840293426660503123344363579e2,
        -0.43533456590011143754432175058e2,
        0.96324553959188282948394950600e2,
        -0.39177261675615439165231486172e2,
        -0.14972683625798562581422125276e3,
    ],
];

/// Every tableau shipped, for generic tests (order conditions, convergence order).
pub const ALL: [&Tableau; 6] = [&DOPRI5, &TSIT5, &DOP853, &EULER, &HEUN, &RK4];
