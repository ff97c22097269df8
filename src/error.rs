//! The crate's error type. Every variant carries the fields a user needs to fix the problem,
//! and its message says what to do.

use crate::integrate::IntegrateError;
use crate::linalg::LinalgError;

/// Any failure of a learndyn library call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value is missing, unknown or out of range.
    #[error("{file}: {key}: {message}")]
    Config {
        /// The config file (or `<--set>` / `<built-in>`).
        file: String,
        /// The offending key, as `section.key`.
        key: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// An array (from a `.npy` file or computed) has the wrong shape.
    #[error("{what}: expected shape {expected}, got {got}")]
    Shape {
        /// Which array.
        what: String,
        /// Shape that was expected, e.g. `(4, 3)`.
        expected: String,
        /// Shape that was found.
        got: String,
    },
    /// Invalid numerical input (NaN, negative where positive is needed, ...).
    #[error("{what}: {message}")]
    Invalid {
        /// Which quantity.
        what: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: String,
        /// The underlying I/O error (shown in the message, not chained, so it prints once).
        cause: std::io::Error,
    },
    /// A `.npy` file could not be parsed or is not a 1-D/2-D float64 array.
    #[error("{path}: {message}")]
    Npy {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A linear-algebra failure.
    #[error(transparent)]
    Linalg(#[from] LinalgError),
    /// An ODE integration failure.
    #[error(transparent)]
    Integrate(#[from] IntegrateError),
}

impl Error {
    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(what: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            what: what.into(),
            message: message.into(),
        }
    }
    /// Shorthand for [`Error::Io`].
    pub fn io(path: impl AsRef<std::path::Path>, cause: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().display().to_string(),
            cause,
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
