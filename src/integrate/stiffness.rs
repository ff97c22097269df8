//! Stiffness detection for [`Method::Auto`](super::Method::Auto) (IN-8; HNW II, Section IV.2;
//! `dopri5.f`): DOPRI5 runs until its steps are limited by stability rather than accuracy,
//! then the driver switches to ROS2.

use super::{Tableau, Workspace};

/// Hairer's stiffness test for DOPRI5: `h |lambda|` estimate above this (near the boundary of
/// the stability region, about 3.3) ...
const STIFF_HLAMBDA: f64 = 3.25;
/// ... in this many accepted steps (reset after [`NONSTIFF_RESET`] non-stiff ones) means stiff.
const STIFF_COUNT: u32 = 15;
/// Consecutive non-stiff accepted steps that clear the stiff count.
const NONSTIFF_RESET: u32 = 6;

/// Counts accepted explicit steps whose `h |lambda|` estimate lies at the edge of the
/// stability region.
#[derive(Debug, Clone, Default)]
pub(super) struct StiffnessDetector {
    /// Accepted steps with `h |lambda| > STIFF_HLAMBDA` since the last reset.
    stiff: u32,
    /// Consecutive accepted steps without.
    nonstiff: u32,
}

impl StiffnessDetector {
    /// Observe an accepted step of size `h` of `tab` (taken with the second-to-last stage
    /// input kept in `ws.y_prev_stage`). The last two stages of DOPRI5 are both at `t + h`, so
    /// `|f(y7) - f(y6)| / |y7 - y6|` estimates `|lambda|`.
    pub(super) fn observe(&mut self, tab: &Tableau, h: f64, ws: &Workspace) {
        let (n, s) = (ws.n, tab.stages);
        let (mut num, mut den) = (0.0, 0.0);
        for i in 0..n {
            let dk = ws.k[(s - 1) * n + i] - ws.k[(s - 2) * n + i];
            let dy = ws.y_new[i] - ws.y_prev_stage[i];
            num += dk * dk;
            den += dy * dy;
        }
        if den > 0.0 && h * (num / den).sqrt() > STIFF_HLAMBDA {
            self.nonstiff = 0;
            self.stiff += 1;
        } else {
            self.nonstiff += 1;
            if self.nonstiff == NONSTIFF_RESET {
                self.stiff = 0;
            }
        }
    }

    /// Whether enough stiff steps were seen to switch to the stiff method.
    pub(super) fn is_stiff(&self) -> bool {
        self.stiff >= STIFF_COUNT
    }
}
