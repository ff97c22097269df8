//! `.npy` reading and atomic writing of float64 matrices (numpy loads them as-is).

use crate::error::{Error, Result};
use crate::linalg::Matrix;
use npyz::WriterBuilder;
use std::path::Path;

/// Byte offset of the data in a `.npy` file (after the magic, version, header length and
/// header), or `None` if the preamble is malformed.
fn data_offset(bytes: &[u8]) -> Option<usize> {
    match bytes.get(6)? {
        1 => Some(10 + usize::from(u16::from_le_bytes([*bytes.get(8)?, *bytes.get(9)?]))),
        2 | 3 => {
            let b = bytes.get(8..12)?;
            Some(12 + u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        }
        _ => None,
    }
}

/// The data of a float64 or float32 `.npy` file as f64 (float32 converted exactly), in file
/// order. A file shorter than its shape needs is reported as truncated, with the byte counts.
fn read_floats(
    bytes: &[u8],
    file: npyz::NpyFile<&[u8]>,
    bad: &dyn Fn(String) -> Error,
) -> Result<Vec<f64>> {
    let dtype = file.dtype();
    let width = match &dtype {
        npyz::DType::Plain(ts) if ts.type_char() == npyz::TypeChar::Float => ts.size_field(),
        _ => 0,
    };
    if width != 8 && width != 4 {
        return Err(bad(format!(
            "expected a float64 or float32 array, found dtype {}; save it with \
             np.save(path, a.astype(np.float64))",
            dtype.descr()
        )));
    }
    let count: u64 = file.shape().iter().product();
    let need = count.saturating_mul(width);
    let have = data_offset(bytes).map_or(0, |o| bytes.len().saturating_sub(o)) as u64;
    if have < need {
        return Err(bad(format!(
            "is truncated: shape {:?} of {}-byte floats needs {need} bytes of data, the file \
             has {have}; write it again (np.save)",
            file.shape(),
            width
        )));
    }
    Ok(if width == 8 {
        file.into_vec::<f64>()
            .map_err(|e| bad(format!("could not read the float64 data ({e})")))?
    } else {
        file.into_vec::<f32>()
            .map_err(|e| bad(format!("could not read the float32 data ({e})")))?
            .into_iter()
            .map(f64::from)
            .collect()
    })
}

/// Read a 2-D (or 1-D, as a column) float64 (or float32, converted exactly) `.npy` array in either C or Fortran order.
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
    let data = read_floats(&bytes, file, &bad)?;
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

/// A 3-D float array read from a `.npy` file, e.g. sequences `[batch, time, dim]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Array3 {
    /// The numpy shape `[n0, n1, n2]`.
    pub shape: [usize; 3],
    /// Entries in C (row-major) order whatever the file's order: entry `[i, j, k]` is
    /// `data[(i * n1 + j) * n2 + k]`.
    pub data: Vec<f64>,
}

impl Array3 {
    /// Entry `[i, j, k]` (0-based numpy indices; panics if out of range, a programming error).
    pub fn get(&self, i: usize, j: usize, k: usize) -> f64 {
        let [_, n1, n2] = self.shape;
        self.data[(i * n1 + j) * n2 + k]
    }
}

/// Read a 3-D float64 or float32 `.npy` array (C or Fortran order; float32 is widened to f64
/// exactly). Errors name the file: unreadable, not a float array, not 3-D. Finiteness is not
/// checked here (the caller knows what the axes mean and can say where a bad entry is).
pub fn read_array3(path: &Path) -> Result<Array3> {
    let bad = |message: String| Error::Npy {
        path: path.display().to_string(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let file =
        npyz::NpyFile::new(&bytes[..]).map_err(|e| bad(format!("not a valid .npy file ({e})")))?;
    let shape: Vec<u64> = file.shape().to_vec();
    let order = file.order();
    let dims: [usize; 3] = match shape.as_slice() {
        [a, b, c] => [*a as usize, *b as usize, *c as usize],
        other => {
            return Err(bad(format!(
                "expected a 3-D array [batch, time, dim], got a {}-D array of shape {other:?}; \
                 reshape it (e.g. a[None] or a[..., None]) before np.save",
                other.len()
            )))
        }
    };
    let raw = read_floats(&bytes, file, &bad)?;
    let [n0, n1, n2] = dims;
    let data = match order {
        npyz::Order::C => raw,
        // Fortran order: entry [i, j, k] is raw[i + n0 * (j + n1 * k)].
        npyz::Order::Fortran => {
            let mut c = vec![0.0; raw.len()];
            for i in 0..n0 {
                for j in 0..n1 {
                    for k in 0..n2 {
                        c[(i * n1 + j) * n2 + k] = raw[i + n0 * (j + n1 * k)];
                    }
                }
            }
            c
        }
    };
    Ok(Array3 { shape: dims, data })
}

/// Write `a` as a 3-D float64 `.npy` array of shape `a.shape` (C order), atomically (a
/// temporary file in the same folder is renamed over `path`).
pub fn write_array3(path: &Path, a: &Array3) -> Result<()> {
    let tmp = tmp_path(path);
    {
        let file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let mut w = std::io::BufWriter::new(file);
        let shape: Vec<u64> = a.shape.iter().map(|&n| n as u64).collect();
        let mut writer = npyz::WriteOptions::<f64>::new()
            .default_dtype()
            .order(npyz::Order::C)
            .shape(&shape)
            .writer(&mut w)
            .begin_nd()
            .map_err(|e| Error::io(&tmp, e))?;
        writer
            .extend(a.data.iter().copied())
            .map_err(|e| Error::io(&tmp, e))?;
        writer.finish().map_err(|e| Error::io(&tmp, e))?;
        use std::io::Write;
        w.flush().map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}
