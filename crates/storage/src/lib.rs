//! The storage format: what the local service writes into the bucket and the
//! backend reads back, defined once for both.
//!
//! Owns: the object layout ([`Layout`], [`TaskPath`], [`Leaf`], [`ObjectKey`]:
//! `<prefix>/<SdkAppId>/<ClassId>/<TaskId>/<leaf>`, leaves `<seq:04>.flv`,
//! `manifest.json`, `record.mp4`), the task [`Manifest`] (JSON, written after
//! a task's last slice is confirmed), the wire of brokered uploads
//! ([`broker`]: the presign and complete requests and answers), the S3
//! endpoint settings and their environment overrides ([`S3Settings`],
//! [`S3Fields`]), the one S3 client set-up ([`s3_client`]), and
//! [`StoreError`] with the classification of SDK errors ([`classify`]).
//!
//! Does not own: moving bytes (the upload queue is `txcr-slice-upload`, the
//! backend's downloads and MP4 upload are the backend's), nor recording.
//!
//! Why by hand: the layout and manifest are this project's own format; the
//! S3 client is `aws-sdk-s3`, configured here once.

pub mod broker;
mod error;
mod layout;
mod manifest;
mod s3;

#[cfg(feature = "client")]
pub use error::classify;
pub use error::StoreError;
pub use layout::{safe_id, Layout, Leaf, ObjectKey, TaskPath};
pub use manifest::{Chapter, Manifest, ManifestError, ManifestSlice};
#[cfg(feature = "client")]
pub use s3::s3_client;
pub use s3::{S3Fields, S3Settings, SettingsError};
