//! Getting finished slices to S3-compatible storage while the class is still
//! being recorded, without ever losing one.
//!
//! Owns: the durable upload journal ([`Journal`]: one JSON record per task,
//! replaced atomically with `fsync` before `rename`), the queue and its pool of
//! uploaders ([`UploadQueue`]), retries (`backon`: exponential backoff with
//! jitter, without limit for transient errors; permanent errors mark the task
//! `upload failed` and retry after a pause), crash recovery (a task that was
//! recording when the process died gets its remaining slice files re-read, a
//! torn tail truncated to the last complete FLV tag, and queued), and the
//! [`ObjectStore`] trait with its S3 implementation
//! ([`S3Store`], `aws-sdk-s3`: direct, with the school's keys) and its brokered
//! one ([`BrokeredStore`]: presigned URLs from the backend, authorised by the
//! teacher's UserSig, so the machine holds no bucket keys).
//!
//! Objects go where `txcr-storage`'s layout says (`<prefix>/<SdkAppId>/<ClassId>/<TaskId>/<seq:04>.flv`),
//! and its `manifest.json` follows the last confirmed slice.
//!
//! Files: `queue` (the handle), `shared` (journal and table behind one
//! lock, what each event does to them), `schedule` (which job next and what an
//! outcome does: a pure table), `worker` (retries), `multipart`, `recover`
//! (start-up recovery), `intake` (the queue's own thread), `journal`,
//! `store` (S3), `broker` and `creds` (presigned uploads).
//!
//! With a store that uploads in parts ([`ObjectStore::uploads_in_parts`]),
//! slices above `multipart_threshold` (64 MiB) go up in parts of `part_size`
//! (16 MiB); the upload id and every stored part's ETag are journaled as they
//! happen, so after a restart the upload continues from the last stored part.
//!
//! Each slice (or part) is sent with its `Content-MD5` (the storage verifies it) and the
//! returned ETag is compared with the MD5. A local slice is deleted only when
//! configured to, and only after its confirmation is durable.
//!
//! Does not own: recording (slices arrive through [`UploadQueue::add_slice`]),
//! what `GetState` looks like (the app maps [`TaskStatus`]), nor the storage
//! format (keys, manifest, broker wire, S3 settings: `txcr-storage`).

mod broker;
mod config;
mod creds;
mod intake;
mod journal;
mod multipart;
mod queue;
mod recover;
mod schedule;
mod shared;
mod store;
mod worker;

pub use broker::BrokeredStore;
pub use config::UploadConfig;
pub use creds::BrokerCreds;
pub use journal::{Journal, Multipart, SliceRecord, SliceState, TaskMeta, TaskRecord};
pub use queue::UploadQueue;
pub use schedule::{TaskStatus, UploadState};
pub use store::{ObjectStore, S3Store};

/// What went wrong in the upload queue itself (storage errors are
/// [`StoreError`] and are retried, not returned).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// The journal could not be written or read.
    #[error("upload journal {path}: {source}")]
    Journal {
        /// The file or directory.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A slice file could not be read.
    #[error("slice {path}: {source}")]
    Slice {
        /// The file.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A record could not be encoded.
    #[error("upload journal record: {0}")]
    Corrupt(String),
    /// No such task in the queue.
    #[error("no upload task {0}")]
    UnknownTask(String),
}
