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
    /// Network initialization (the seed is the run seed).
    pub const INIT: u64 = 10;
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
