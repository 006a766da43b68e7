//! The service and the backend end to end, against real parts: the real
//! binaries, a real X server and X clients, PulseAudio, an S3-compatible
//! server, PostgreSQL, Chromium, and ffprobe/ffmpeg on the files. One test
//! binary (a module per subject), so one link step.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

use txcr_testkit as util;

mod api;
mod audio;
mod damage;
mod disk;
mod doctor;
mod live;
mod openapi;
mod record_cli;
mod recording;
mod upload;
mod web_example;
mod x11;
