//! The upload queue against a real S3-compatible server (s3s-fs, signatures
//! checked), with faults injected where a real server cannot make them. One
//! test binary (a module per subject), one link step.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

mod common;

mod faults;
mod upload;
