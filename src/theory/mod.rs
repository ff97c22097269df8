//! Learning-dynamics theory: closed forms and reduced ODEs, each citing its equation ID in
//! `theory/deep_linear.md`.

pub mod aligned_oblique;
pub mod arora;
pub mod deep_linear;
pub mod kunin;
pub mod low_rank;
pub mod lrnn;
pub mod mean_field;
pub mod outlier;
pub mod outlier_continuous;
pub mod partial_obs;
pub mod random_init;
pub mod riccati;
