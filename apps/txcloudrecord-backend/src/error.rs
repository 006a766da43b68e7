//! The backend's one error type. HTTP answers map it in `http`; jobs decide
//! from it whether to retry (storage or database trouble) or give up (the
//! recording itself is broken).

use txcr_splice::SpliceError;
use txcr_storage::{ManifestError, StoreError};

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// Object storage failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// A local file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The recording cannot be spliced as stored (missing, corrupt or
    /// inconsistent slices); retrying will not help.
    #[error("{0}")]
    Broken(String),
    /// A stored manifest cannot be used; retrying will not help.
    #[error("{0}")]
    Manifest(#[from] ManifestError),
    /// Splicing failed.
    #[error("{0}")]
    Splice(#[from] SpliceError),
}

impl Error {
    /// Whether a later try may succeed (storage or database trouble, disk I/O).
    pub fn is_transient(&self) -> bool {
        match self {
            // Refused credentials or a missing bucket need an operator's fix,
            // after which the job must go through: keep retrying (with backoff).
            Self::Db(_) | Self::Io { .. } | Self::Store(_) => true,
            Self::Splice(SpliceError::Io { .. } | SpliceError::Write(_)) => true,
            Self::Broken(_) | Self::Manifest(_) | Self::Splice(_) => false,
        }
    }

    /// An I/O error with context.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| Self::Io { what, source }
    }
}
