//! Seeded random numbers: one ChaCha8 stream per (seed, purpose), so results do not depend on
//! the order in which runs execute or on the thread count.

use crate::linalg::Matrix;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

/// Stream ids: one per purpose, so that e.g. changing the task does not change the init.
pub mod stream {
    /// Teacher singular vectors.
    pub const TEACHER: u64 = 1;
    /// Input samples.
    pub const SAMPLES: u64 = 2;
    /// Label noise.
    pub const NOISE: u64 = 3;
    /// Input weights of a teacher RNN (independent of the teacher's recurrent eigenvectors).
    pub const TEACHER_INPUT: u64 = 4;
    /// The fixed random bulk `g chi` of a low-rank RNN (the seed is the task seed).
    pub const BULK: u64 = 5;
    /// Frozen state (process) noise of RNN training data (the seed is the task seed).
    pub const STATE_NOISE: u64 = 6;
    /// Network initialization (the seed is the run seed).
    pub const INIT: u64 = 10;
    /// Minibatch draws of SGD / Adam (the seed is the run seed).
    pub const BATCHES: u64 = 11;
}

/// SplitMix64 finalizer (Steele, Lea & Flood 2014): a bijective 64-bit mixer.
pub fn mix64(mut z: u64) -> u64 {
    z ^= z >> 30;
    z = z.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z ^= z >> 27;
    z = z.wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A reproducible generator for `(seed, stream)`.
pub fn rng(seed: u64, stream: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(mix64(
        mix64(seed) ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15),
    ))
}

/// `rows x cols` matrix of i.i.d. standard normal entries (filled column by column).
pub fn gaussian_matrix(rng: &mut ChaCha8Rng, rows: usize, cols: usize) -> Matrix {
    Matrix::from_fn(rows, cols, |_, _| rng.sample::<f64, _>(StandardNormal))
}

/// The peers' portable counter-based generator (`../shared/peers/_common.py`), reproduced bit
/// for bit so benchmarks run the *identical* problems: `key = mix64((seed << 20) + stream)`,
/// `out_i = mix64(key + (i + 1) * 0x9E3779B97F4A7C15)`, `u_i = (out_i >> 11) * 2^-53`,
/// `z_i = sqrt(3) * (2 u_i - 1)` (mean 0, variance 1, uniform).
pub mod portable {
    use super::mix64;
    use crate::linalg::Matrix;

    const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

    /// Stream key of `(seed, stream)`.
    pub fn key(seed: u64, stream: u64) -> u64 {
        mix64((seed << 20).wrapping_add(stream))
    }

    /// Raw 64-bit outputs `out_0 .. out_{n-1}`.
    pub fn u64s(seed: u64, stream: u64, n: usize) -> Vec<u64> {
        let k = key(seed, stream);
        (0..n as u64)
            .map(|i| mix64(k.wrapping_add((i + 1).wrapping_mul(GAMMA))))
            .collect()
    }

    /// `n` unit-variance uniform variates `z_i`, in the peers' order.
    pub fn unit(seed: u64, stream: u64, n: usize) -> Vec<f64> {
        let s3 = 3.0f64.sqrt();
        u64s(seed, stream, n)
            .into_iter()
            .map(|o| {
                let u = (o >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
                // Two separate roundings, as numpy does (no fused multiply-add).
                let two_u_minus_one = 2.0 * u - 1.0;
                s3 * two_u_minus_one
            })
            .collect()
    }

    /// `unit(seed, stream, (rows, cols))` filled in row-major (C) order, as a matrix.
    pub fn unit_matrix(seed: u64, stream: u64, rows: usize, cols: usize) -> Matrix {
        let z = unit(seed, stream, rows * cols);
        Matrix::from_fn(rows, cols, |i, j| z[i * cols + j])
    }
}

#[cfg(test)]
mod tests {
    use super::portable;

    #[test]
    fn portable_rng_matches_the_peers_test_vectors() {
        // `python ../shared/peers/_common.py` prints these.
        assert_eq!(portable::key(0, 1), 0x5692_161d_100b_05e5);
        assert_eq!(
            portable::u64s(0, 1, 3),
            vec![
                0xbfef_8030_ddc2_d772,
                0x5f55_2ce4_82f2_aa47,
                0x7033_5fc3_daf3_d8a7
            ]
        );
        let z = portable::unit(0, 1, 4);
        let want: [f64; 4] = [
            0.8651532862661657,
            -0.4420421499064823,
            -0.21379081991967355,
            1.5731064490331768,
        ];
        for (a, b) in z.iter().zip(want) {
            assert_eq!(a.to_bits(), b.to_bits(), "{a} vs {b}");
        }
    }
}
