//! The backend end to end, against real parts: the real local service
//! records and uploads to a real S3-compatible server (or the embedded one),
//! PostgreSQL, a webhook receiver, Chromium on the playback page. One test
//! binary (a module per subject), so one link step.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

use txcr_testkit as util;

#[cfg(target_os = "linux")] // a real X window (Xvfb)
mod chapters;
mod end_to_end;
mod hostile;
mod live;
mod openapi;
mod retention;
