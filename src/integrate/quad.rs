//! Adaptive scalar quadrature (Gauss-Kronrod 7-15), for implicit closed forms such as
//! learning times `t = \int da / f(a)`.

/// Kronrod nodes on [-1, 1] (nonnegative half, descending), 15-point rule.
const XGK: [f64; 8] = [
    0.991_455_371_120_812_6,
    0.949_107_912_342_758_5,
    0.864_864_423_359_769_1,
    0.741_531_185_599_394_4,
    0.586_087_235_467_691_1,
    0.405_845_151_377_397_2,
    0.207_784_955_007_898_5,
    0.0,
];
/// Kronrod weights matching [`XGK`].
const WGK: [f64; 8] = [
    0.022_935_322_010_529_22,
    0.063_092_092_629_978_55,
    0.104_790_010_322_250_2,
    0.140_653_259_715_525_9,
    0.169_004_726_639_267_9,
    0.190_350_578_064_785_4,
    0.204_432_940_075_298_9,
    0.209_482_141_084_728,
];
/// Gauss weights of the embedded 7-point rule (nodes XGK[1], XGK[3], XGK[5], XGK[7]).
const WG: [f64; 4] = [
    0.129_484_966_168_869_7,
    0.279_705_391_489_276_7,
    0.381_830_050_505_118_9,
    0.417_959_183_673_469_4,
];

fn gk15(f: &mut dyn FnMut(f64) -> f64, a: f64, b: f64) -> (f64, f64) {
    let c = 0.5 * (a + b);
    let r = 0.5 * (b - a);
    let fc = f(c);
    let mut k = WGK[7] * fc;
    let mut g = WG[3] * fc;
    for j in 0..7 {
        let x = r * XGK[j];
        let s = f(c - x) + f(c + x);
        k += WGK[j] * s;
        if j % 2 == 1 {
            g += WG[j / 2] * s;
        }
    }
    (k * r, ((k - g) * r).abs())
}

/// Integral of `f` over `[a, b]` by adaptive bisection with the Gauss-Kronrod 7-15 pair,
/// to an absolute error of about `tol` (at most `max_depth` bisection levels).
/// Returns the estimate; the integrand must be finite on the open interval.
pub fn integrate(f: &mut dyn FnMut(f64) -> f64, a: f64, b: f64, tol: f64) -> f64 {
    fn rec(
        f: &mut dyn FnMut(f64) -> f64,
        a: f64,
        b: f64,
        tol: f64,
        whole: (f64, f64),
        depth: u32,
    ) -> f64 {
        let (val, err) = whole;
        if err <= tol || depth == 0 || (b - a).abs() < 1e-15 * a.abs().max(1.0) {
            return val;
        }
        let m = 0.5 * (a + b);
        let left = gk15(f, a, m);
        let right = gk15(f, m, b);
        rec(f, a, m, 0.5 * tol, left, depth - 1) + rec(f, m, b, 0.5 * tol, right, depth - 1)
    }
    if b - a == 0.0 {
        return 0.0;
    }
    let whole = gk15(f, a, b);
    rec(f, a, b, tol, whole, 50)
}
