//! The one-step map of a trained GRU at a constant input (theory/gru.md GRU-5, GRU-6), for
//! fixed points ([`crate::analysis::fixed_points::find_fixed_points`]) and the linearization at
//! the origin.

use super::{sigmoid, Gru};
use crate::error::{Error, Result};
use crate::linalg::Matrix;
use crate::model::state_map::{StateMap, TimeKind};

impl Gru {
    /// The one-step map `F(h) = GRU(h, x = input)` at a constant input (length `n_in`) as a
    /// discrete [`StateMap`] (GRU-5). Errors if `theta` or `input` has the wrong length or a
    /// non-finite entry.
    pub fn state_map(&self, theta: &[f64], input: &[f64]) -> Result<GruMap> {
        self.check_theta(theta)?;
        let (n, n_in) = (self.spec.hidden, self.spec.n_in);
        if input.len() != n_in {
            return Err(Error::Shape {
                what: "GRU map input".into(),
                expected: format!("({n_in},) = (n_in,)"),
                got: format!("({},)", input.len()),
            });
        }
        if input.iter().any(|v| !v.is_finite()) {
            return Err(Error::invalid(
                "GRU map input",
                "contains NaN or inf; pass a finite constant input",
            ));
        }
        let wi = self.view(theta, "wi");
        let mut drive = self
            .slice(theta, "bi")
            .map_or_else(|| vec![0.0; 3 * n], <[f64]>::to_vec);
        for (j, &xj) in input.iter().enumerate() {
            let col = &wi.as_slice()[j * 3 * n..(j + 1) * 3 * n];
            drive.iter_mut().zip(col).for_each(|(d, w)| *d += w * xj);
        }
        Ok(GruMap {
            wh: self.get(theta, "wh").expect("wh always present"),
            drive,
            bhn: self
                .slice(theta, "bhn")
                .map_or_else(|| vec![0.0; n], <[f64]>::to_vec),
        })
    }

    /// Jacobian `dF/dh` of the one-step map at `h = 0` under zero input (GRU-6), `N x N`: the
    /// linearization at the origin, whose eigenvalues are the network's modes there (a fixed
    /// point only if `F(0) = (1 - z) n = 0`, e.g. without biases, where it is
    /// `I / 2 + W_hn / 4`). Errors as [`Gru::state_map`].
    pub fn origin_jacobian(&self, theta: &[f64]) -> Result<Matrix> {
        let n = self.spec.hidden;
        let map = self.state_map(theta, &vec![0.0; self.spec.n_in])?;
        let mut jac = Matrix::zeros(n, n);
        map.jacobian(&vec![0.0; n], &mut jac);
        Ok(jac)
    }
}

/// The one-step map of a GRU at a constant input (GRU-5), `F(h) = (1 - z) .* n + z .* h` with
/// `[r; z] = sigmoid([drive_r; drive_z] + [W_hr; W_hz] h)`,
/// `n = tanh(drive_n + r .* (W_hn h + b_hn))`, where `drive = W_i x + b_i` (length `3N`). A
/// discrete [`StateMap`]; build it with [`Gru::state_map`].
#[derive(Debug, Clone)]
pub struct GruMap {
    /// Recurrent weights `[W_hr; W_hz; W_hn]`, `3N x N`.
    pub wh: Matrix,
    /// Constant input drive `W_i x + b_i`, length `3N` (`[r; z; n]`).
    pub drive: Vec<f64>,
    /// Candidate recurrent bias `b_hn`, length `N` (zeros without bias).
    pub bhn: Vec<f64>,
}

impl GruMap {
    /// Gate values at `x`: `(r, z, n, W_hn x + b_hn)`, each length `N`.
    fn gates(&self, x: &[f64]) -> [Vec<f64>; 4] {
        let n = self.wh.ncols();
        let mut a = self.drive.clone();
        let mut hn = self.bhn.clone();
        for (j, &xj) in x.iter().enumerate() {
            let col = &self.wh.as_slice()[j * 3 * n..(j + 1) * 3 * n];
            a[..2 * n]
                .iter_mut()
                .zip(col)
                .for_each(|(v, w)| *v += w * xj);
            hn.iter_mut()
                .zip(&col[2 * n..])
                .for_each(|(v, w)| *v += w * xj);
        }
        let r: Vec<f64> = a[..n].iter().map(|&v| sigmoid(v)).collect();
        let z: Vec<f64> = a[n..2 * n].iter().map(|&v| sigmoid(v)).collect();
        let c = (0..n)
            .map(|i| (a[2 * n + i] + r[i] * hn[i]).tanh())
            .collect();
        [r, z, c, hn]
    }
}

impl StateMap for GruMap {
    fn dim(&self) -> usize {
        self.wh.ncols()
    }

    fn kind(&self) -> TimeKind {
        TimeKind::Discrete
    }

    fn residual(&self, x: &[f64], out: &mut [f64]) {
        let [_, z, c, _] = self.gates(x);
        for (i, o) in out.iter_mut().enumerate() {
            *o = (1.0 - z[i]) * c[i] + z[i] * x[i] - x[i];
        }
    }

    /// GRU-5: `dF/dh = diag(z) + diag((1 - z)(1 - n^2) r) W_hn
    /// + diag((1 - z)(1 - n^2) hn r (1 - r)) W_hr + diag((h - n) z (1 - z)) W_hz`.
    fn jacobian(&self, x: &[f64], jac: &mut Matrix) {
        let n = self.wh.ncols();
        let [r, z, c, hn] = self.gates(x);
        let dn: Vec<f64> = (0..n).map(|i| (1.0 - z[i]) * (1.0 - c[i] * c[i])).collect();
        for j in 0..n {
            for i in 0..n {
                let w = |gate: usize| self.wh.get(gate * n + i, j);
                let mut v = dn[i] * (r[i] * w(2) + hn[i] * r[i] * (1.0 - r[i]) * w(0))
                    + (x[i] - c[i]) * z[i] * (1.0 - z[i]) * w(1);
                if i == j {
                    v += z[i];
                }
                jac.set(i, j, v);
            }
        }
    }

    fn check(&self) -> Result<()> {
        let n = self.wh.ncols();
        if n == 0 || self.wh.nrows() != 3 * n || self.drive.len() != 3 * n || self.bhn.len() != n {
            return Err(Error::Shape {
                what: "GruMap (wh, drive, bhn)".into(),
                expected: "((3n, n), (3n,), (n,)) with n >= 1".into(),
                got: format!(
                    "(({}, {}), ({},), ({},))",
                    self.wh.nrows(),
                    n,
                    self.drive.len(),
                    self.bhn.len()
                ),
            });
        }
        let all = self
            .wh
            .as_slice()
            .iter()
            .chain(&self.drive)
            .chain(&self.bhn);
        if all.into_iter().any(|v| !v.is_finite()) {
            return Err(Error::invalid(
                "GruMap",
                "wh, drive or bhn contains NaN or inf; fixed points need finite weights",
            ));
        }
        Ok(())
    }
}
