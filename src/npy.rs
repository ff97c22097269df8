//! `.npy` reading and atomic writing of float64 matrices (numpy loads them as-is).

use crate::error::{Error, Result};
use crate::linalg::Matrix;
use npyz::WriterBuilder;
use std::path::Path;

/// Read a 2-D (or 1-D, as a column) float64 `.npy` array in either C or Fortran order.
pub fn read_matrix(path: &Path) -> Result<Matrix> {
    let bad = |message: String| Error::Npy {
        path: path.display().to_string(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let file =
        npyz::NpyFile::new(&bytes[..]).map_err(|e| bad(format!("not a valid .npy file ({e})")))?;
    let shape: Vec<u64> = file.shape().to_vec();
    let order = file.order();
    let dtype = file.dtype();
    let data: Vec<f64> = file.into_vec::<f64>().map_err(|e| {
        bad(format!(
            "expected a float64 array, found dtype {dtype:?} ({e}); save it with np.save(path, a.astype(np.float64))"
        ))
    })?;
    let (rows, cols) = match shape.as_slice() {
        [n] => (*n as usize, 1),
        [r, c] => (*r as usize, *c as usize),
        other => {
            return Err(bad(format!(
                "expected a 1-D or 2-D array, got shape {other:?}"
            )))
        }
    };
    if data.iter().any(|x| !x.is_finite()) {
        return Err(bad("contains NaN or inf; every entry must be finite".into()));
    }
    let m = match order {
        npyz::Order::Fortran => Matrix::from_col_major(rows, cols, data)?,
        npyz::Order::C => Matrix::from_fn(rows, cols, |i, j| data[i * cols + j]),
    };
    Ok(m)
}

/// Write `m` as a 2-D float64 `.npy` (Fortran order, so numpy sees the same `(rows, cols)`
/// array), atomically: a temporary file in the same folder is renamed over `path`.
pub fn write_matrix(path: &Path, m: &Matrix) -> Result<()> {
    let tmp = tmp_path(path);
    {
        let file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let mut w = std::io::BufWriter::new(file);
        let mut writer = npyz::WriteOptions::<f64>::new()
            .default_dtype()
            .order(npyz::Order::Fortran)
            .shape(&[m.nrows() as u64, m.ncols() as u64])
            .writer(&mut w)
            .begin_nd()
            .map_err(|e| Error::io(&tmp, e))?;
        writer
            .extend(m.as_slice().iter().copied())
            .map_err(|e| Error::io(&tmp, e))?;
        writer.finish().map_err(|e| Error::io(&tmp, e))?;
        use std::io::Write;
        w.flush().map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// `<dir>/.<name>.<pid>-<n>.tmp`: same folder, so the rename is atomic; unique per process
/// and call, so concurrent writers (scan shards) never share a temporary file.
pub fn tmp_path(path: &Path) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.{}-{n}.tmp", std::process::id()))
}

/// Write `bytes` to `path` atomically (temporary file in the same folder, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = tmp_path(path);
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}
