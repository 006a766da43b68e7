//! How uploads behave.

use std::time::Duration;

/// How uploads behave.
#[derive(Debug, Clone)]
pub struct UploadConfig {
    /// Key prefix (`TXCR_S3_PREFIX`), without slashes at the ends.
    pub prefix: String,
    /// Parallel uploaders (default 3).
    pub workers: usize,
    /// Delete a local slice once its upload is confirmed (default false).
    pub delete_after_upload: bool,
    /// How long an uploaded task stays in `GetState.Upload` (default 600 s).
    pub keep_uploaded: Duration,
    /// How long to wait before retrying after a permanent error (default 60 s).
    pub permanent_retry: Duration,
    /// Slices larger than this go up in parts (default 64 MiB).
    pub multipart_threshold: u64,
    /// Bytes per part (default 16 MiB; S3 needs at least 5 MiB).
    pub part_size: u64,
}

impl Default for UploadConfig {
    fn default() -> Self {
        Self {
            prefix: String::new(),
            workers: 3,
            delete_after_upload: false,
            keep_uploaded: Duration::from_secs(600),
            permanent_retry: Duration::from_secs(60),
            multipart_threshold: 64 << 20,
            part_size: 16 << 20,
        }
    }
}
