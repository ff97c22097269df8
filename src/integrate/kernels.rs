//! The hot loops of every explicit method, compiled three times (AVX-512, AVX2, baseline) and
//! chosen at run time, so that a binary built on one machine runs everywhere (a login node and
//! heterogeneous cluster nodes) yet uses the widest vector unit it finds.
//!
//! Every variant performs the same floating-point operations in the same order (no fused
//! multiply-add, reductions split into a fixed number of lanes), so results are bitwise identical
//! whichever variant runs.

/// Components processed together (8 f64 = one AVX-512 register, two AVX2 registers).
pub const LANES: usize = 8;

/// Below this many components the kernels run inline without dispatch.
const SMALL: usize = 64;

/// Maximum number of terms in a linear combination (stages of the largest tableau, plus its
/// dense-output stages).
pub const MAX_TERMS: usize = 16;

/// Absolute tolerance as the kernels see it.
#[derive(Clone, Copy)]
pub enum AtolRef<'a> {
    /// One value for all components.
    Scalar(f64),
    /// One value per component.
    PerComponent(&'a [f64]),
}

/// Gather the nonzero terms `(h coef_j, k_j)`.
#[inline(always)]
fn terms<'a>(
    h: f64,
    coef: &[f64],
    k: &'a [f64],
    n: usize,
) -> ([(f64, &'a [f64]); MAX_TERMS], usize) {
    let mut t: [(f64, &[f64]); MAX_TERMS] = [(0.0, &[]); MAX_TERMS];
    let mut m = 0;
    for (j, &a) in coef.iter().enumerate() {
        if a != 0.0 {
            t[m] = (h * a, &k[j * n..(j + 1) * n]);
            m += 1;
        }
    }
    (t, m)
}

#[inline(always)]
fn lin_comb_body(out: &mut [f64], base: Option<&[f64]>, h: f64, coef: &[f64], k: &[f64]) {
    let n = out.len();
    let (t, m) = terms(h, coef, k, n);
    let t = &t[..m];
    let main = n - n % LANES;
    let mut off = 0;
    while off < main {
        let mut acc = [0.0; LANES];
        if let Some(b) = base {
            acc.copy_from_slice(&b[off..off + LANES]);
        }
        for &(a, kj) in t {
            let kk = &kj[off..off + LANES];
            for l in 0..LANES {
                acc[l] += a * kk[l];
            }
        }
        out[off..off + LANES].copy_from_slice(&acc);
        off += LANES;
    }
    for i in main..n {
        let mut acc = base.map_or(0.0, |b| b[i]);
        for &(a, kj) in t {
            acc += a * kj[i];
        }
        out[i] = acc;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl")]
unsafe fn lin_comb_avx512(out: &mut [f64], base: Option<&[f64]>, h: f64, coef: &[f64], k: &[f64]) {
    lin_comb_body(out, base, h, coef, k)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn lin_comb_avx2(out: &mut [f64], base: Option<&[f64]>, h: f64, coef: &[f64], k: &[f64]) {
    lin_comb_body(out, base, h, coef, k)
}

/// `out = base + h sum_j coef[j] k_j` (base 0 when `None`), with `k_j = k[j n .. (j + 1) n]`,
/// `n = out.len()`: one pass over memory, zero coefficients skipped, the summation order fixed
/// (base, then terms in index order).
#[inline]
pub fn lin_comb(out: &mut [f64], base: Option<&[f64]>, h: f64, coef: &[f64], k: &[f64]) {
    // Tiny states: the inlined baseline loop beats a non-inlinable dispatched call.
    if out.len() < SMALL {
        return lin_comb_body(out, base, h, coef, k);
    }
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
        {
            // SAFETY: the CPU supports the features this variant was compiled for.
            return unsafe { lin_comb_avx512(out, base, h, coef, k) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: as above.
            return unsafe { lin_comb_avx2(out, base, h, coef, k) };
        }
    }
    lin_comb_body(out, base, h, coef, k)
}

/// Scaled error contribution `r / scale`; a zero error on a zero-scale component (atol = 0 and
/// y = 0) is no error, a nonzero one infinite.
#[inline(always)]
pub fn scaled(r: f64, scale: f64) -> f64 {
    if scale > 0.0 {
        r / scale
    } else if r == 0.0 {
        0.0
    } else {
        f64::INFINITY
    }
}

/// [`scaled`] without branches (selects), so that the lane loop vectorizes.
#[inline(always)]
fn scaled_select(r: f64, scale: f64) -> f64 {
    let safe = if scale > 0.0 { scale } else { 1.0 };
    let q = r / safe;
    let zero_scale = if r == 0.0 { 0.0 } else { f64::INFINITY };
    if scale > 0.0 {
        q
    } else {
        zero_scale
    }
}

/// Per-component absolute tolerance, monomorphized so the lane loop has no per-element branch.
trait AtolGet: Copy {
    fn at(&self, i: usize) -> f64;
}

impl AtolGet for f64 {
    #[inline(always)]
    fn at(&self, _i: usize) -> f64 {
        *self
    }
}

impl AtolGet for &[f64] {
    #[inline(always)]
    fn at(&self, i: usize) -> f64 {
        self[i]
    }
}

/// Sums of squares of the scaled error estimates, see [`error_sums`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn error_sums_body(
    e: &[f64],
    e3: &[f64],
    h5: f64,
    k: &[f64],
    y: &[f64],
    y_new: &[f64],
    atol: AtolRef<'_>,
    rtol: f64,
) -> (f64, f64) {
    match atol {
        AtolRef::Scalar(a) => error_sums_impl(e, e3, h5, k, y, y_new, a, rtol),
        AtolRef::PerComponent(v) => error_sums_impl(e, e3, h5, k, y, y_new, v, rtol),
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn error_sums_impl<A: AtolGet>(
    e: &[f64],
    e3: &[f64],
    h5: f64,
    k: &[f64],
    y: &[f64],
    y_new: &[f64],
    atol: A,
    rtol: f64,
) -> (f64, f64) {
    let n = y.len();
    let (t5, m5) = terms(h5, e, k, n);
    let (t3, m3) = terms(1.0, e3, k, n);
    let (t5, t3) = (&t5[..m5], &t3[..m3]);
    let mut s5 = [0.0; LANES];
    let mut s3 = [0.0; LANES];
    let main = n - n % LANES;
    let mut off = 0;
    while off < main {
        let mut a5 = [0.0; LANES];
        let mut a3 = [0.0; LANES];
        for &(a, kj) in t5 {
            let kk = &kj[off..off + LANES];
            for l in 0..LANES {
                a5[l] += a * kk[l];
            }
        }
        for &(a, kj) in t3 {
            let kk = &kj[off..off + LANES];
            for l in 0..LANES {
                a3[l] += a * kk[l];
            }
        }
        let (yy, yn) = (&y[off..off + LANES], &y_new[off..off + LANES]);
        for l in 0..LANES {
            let sc = atol.at(off + l) + rtol * yy[l].abs().max(yn[l].abs());
            let r5 = scaled_select(a5[l], sc);
            let r3 = scaled_select(a3[l], sc);
            s5[l] += r5 * r5;
            s3[l] += r3 * r3;
        }
        off += LANES;
    }
    for i in main..n {
        let (mut a5, mut a3) = (0.0, 0.0);
        for &(a, kj) in t5 {
            a5 += a * kj[i];
        }
        for &(a, kj) in t3 {
            a3 += a * kj[i];
        }
        let sc = atol.at(i) + rtol * y[i].abs().max(y_new[i].abs());
        let (r5, r3) = (scaled_select(a5, sc), scaled_select(a3, sc));
        s5[i - main] += r5 * r5;
        s3[i - main] += r3 * r3;
    }
    (s5.iter().sum(), s3.iter().sum())
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl")]
#[allow(clippy::too_many_arguments)]
unsafe fn error_sums_avx512(
    e: &[f64],
    e3: &[f64],
    h5: f64,
    k: &[f64],
    y: &[f64],
    y_new: &[f64],
    atol: AtolRef<'_>,
    rtol: f64,
) -> (f64, f64) {
    error_sums_body(e, e3, h5, k, y, y_new, atol, rtol)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn error_sums_avx2(
    e: &[f64],
    e3: &[f64],
    h5: f64,
    k: &[f64],
    y: &[f64],
    y_new: &[f64],
    atol: AtolRef<'_>,
    rtol: f64,
) -> (f64, f64) {
    error_sums_body(e, e3, h5, k, y, y_new, atol, rtol)
}

#[inline]
/// `(sum_i (h5 sum_j e_j k_j,i / sc_i)^2, sum_i (sum_j e3_j k_j,i / sc_i)^2)` with
/// `sc_i = atol_i + rtol max(|y_i|, |y_new_i|)`, in one pass over memory.
#[allow(clippy::too_many_arguments)]
pub fn error_sums(
    e: &[f64],
    e3: &[f64],
    h5: f64,
    k: &[f64],
    y: &[f64],
    y_new: &[f64],
    atol: AtolRef<'_>,
    rtol: f64,
) -> (f64, f64) {
    if y.len() < SMALL {
        return error_sums_body(e, e3, h5, k, y, y_new, atol, rtol);
    }
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
        {
            // SAFETY: the CPU supports the features this variant was compiled for.
            return unsafe { error_sums_avx512(e, e3, h5, k, y, y_new, atol, rtol) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: as above.
            return unsafe { error_sums_avx2(e, e3, h5, k, y, y_new, atol, rtol) };
        }
    }
    error_sums_body(e, e3, h5, k, y, y_new, atol, rtol)
}
