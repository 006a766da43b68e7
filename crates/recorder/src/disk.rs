//! The free-space guard on the recording's directory.

use crate::RecordError;

/// Free-space guard on the recording's directory.
#[derive(Debug)]
pub(crate) struct DiskGuard {
    dir: std::path::PathBuf,
    min: u64,
}

impl DiskGuard {
    pub(crate) fn new(dst: &std::path::Path, min: u64) -> Self {
        let dir = dst
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default();
        Self { dir, min }
    }

    pub(crate) fn check(&self) -> Result<(), RecordError> {
        if self.min == 0 {
            return Ok(());
        }
        match fs4::available_space(&self.dir) {
            Ok(free) if free < self.min => Err(RecordError::DiskFull {
                free_mb: free >> 20,
                min_mb: self.min >> 20,
            }),
            _ => Ok(()),
        }
    }
}
