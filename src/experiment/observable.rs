//! What a record measures (the `observable` column of `records.csv`): one enum for every
//! model family. Each family records a subset ([`crate::experiment::family::Family`] lists
//! it); `output.observables` names them in snake case and unknown names are rejected by the
//! config parser with the accepted list.

use serde::{Deserialize, Serialize};

/// One observable. The `index` column's meaning is given per variant (`None` for scalars).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Observable {
    /// The training loss (full batch), scalar.
    Loss,
    /// Deep linear: `u_a^T W_e v_a` of teacher mode `a` (C-3); RNN: `u_a^T C W^lag U v_a`.
    /// Index: mode `a`.
    ModeStrength,
    /// Singular values of the end-to-end map, nonincreasing. Index: from 0.
    SingularValue,
    /// Deep linear: max over layer pairs of `||D_l(t) - D_l(0)||_F` (C-4), scalar.
    BalanceDrift,
    /// Entries of the end-to-end map. Index: `i * d_in + j` for entry `(i, j)`.
    Map,
    /// `||W_l(t) - W_l(0)||_F`. Index: layer from 0.
    WeightChange,
    /// Two-layer tangent-kernel distance from the initial kernel (RL-2), scalar.
    KernelDistance,
    /// First-layer alignment with the teacher's input modes (RL-3), scalar.
    Alignment,
    /// RNN: `u_a^T C W^k U v_a`. Index: `a * T + k` (`T` = `sequence.steps`).
    LagProduct,
    /// Real part of the eigenvalues of the linearization at the origin (RNN: `W`; GRU: the
    /// one-step Jacobian at `h = 0`), most persistent first (AN-1). Index: from 0.
    EigenvalueRe,
    /// Imaginary part, same order as `eigenvalue_re`.
    EigenvalueIm,
    /// Timescale of each eigenvalue (AN-2): steps (discrete) or units of tau (rate);
    /// `+inf` marginal, negative unstable. Same order as `eigenvalue_re`.
    Timescale,
    /// Singular values of the change of the linearization at the origin since the init
    /// (RNN: `W - W0`), nonincreasing. Index: from 0.
    DeltaSingularValue,
    /// Effective rank of that change (AN-3), scalar.
    EffectiveRank,
}

/// The observables of deep linear networks, in record order (`DeepLinearFamily::OBSERVABLES`;
/// all but [`Observable::Map`] are recorded by default).
/// They are the first eight of [`Observable::ALL`] (through [`Observable::Alignment`]).
pub const DEEP_LINEAR: &[Observable] = Observable::ALL.as_slice().split_at(8).0;

impl Observable {
    /// What the `index` column of this observable's rows means (`manifest.json` →
    /// `index_layout`); `None` for scalars (empty `index`). `T` is `sequence_steps`.
    pub fn index_layout(self) -> Option<&'static str> {
        use Observable::*;
        Some(match self {
            Loss | BalanceDrift | KernelDistance | Alignment | EffectiveRank => return None,
            ModeStrength => "a: the teacher mode, from 0 (strongest first)",
            SingularValue | DeltaSingularValue => "i: singular value i, nonincreasing, from 0",
            Map => "i * d_in + j: entry (i, j) of the end-to-end map, row-major",
            WeightChange => "l: layer W_(l+1), from 0",
            LagProduct => "a * T + k: mode a, lag k = 0..T-1 (a, k = divmod(index, T))",
            EigenvalueRe | EigenvalueIm | Timescale => {
                "i: eigenvalue i, most persistent first (same i in eigenvalue_re, eigenvalue_im, timescale)"
            }
        })
    }

    /// Every observable, in record order.
    pub const ALL: [Observable; 14] = [
        Observable::Loss,
        Observable::ModeStrength,
        Observable::SingularValue,
        Observable::BalanceDrift,
        Observable::Map,
        Observable::WeightChange,
        Observable::KernelDistance,
        Observable::Alignment,
        Observable::LagProduct,
        Observable::EigenvalueRe,
        Observable::EigenvalueIm,
        Observable::Timescale,
        Observable::DeltaSingularValue,
        Observable::EffectiveRank,
    ];

    /// The name as written in `records.csv` and configs.
    pub fn name(self) -> &'static str {
        match self {
            Observable::Loss => "loss",
            Observable::ModeStrength => "mode_strength",
            Observable::SingularValue => "singular_value",
            Observable::BalanceDrift => "balance_drift",
            Observable::Map => "map",
            Observable::WeightChange => "weight_change",
            Observable::KernelDistance => "kernel_distance",
            Observable::Alignment => "alignment",
            Observable::LagProduct => "lag_product",
            Observable::EigenvalueRe => "eigenvalue_re",
            Observable::EigenvalueIm => "eigenvalue_im",
            Observable::Timescale => "timescale",
            Observable::DeltaSingularValue => "delta_singular_value",
            Observable::EffectiveRank => "effective_rank",
        }
    }

    /// The observable called `name`, if any.
    pub fn parse(name: &str) -> Option<Observable> {
        Observable::ALL.into_iter().find(|o| o.name() == name)
    }
}

impl std::fmt::Display for Observable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of requested observables (membership test in record code).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wanted(u32);

impl Wanted {
    /// The set of `list`.
    pub fn of(list: &[Observable]) -> Wanted {
        Wanted(list.iter().fold(0, |m, o| m | (1 << *o as u32)))
    }
    /// Whether `o` is requested.
    pub fn has(&self, o: Observable) -> bool {
        self.0 & (1 << o as u32) != 0
    }
    /// Whether any of `list` is requested.
    pub fn any(&self, list: &[Observable]) -> bool {
        list.iter().any(|o| self.has(*o))
    }
}
