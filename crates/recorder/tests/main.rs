//! The recorder against real parts: the real encoders, slice files read back
//! by ffprobe/ffmpeg. One test binary (modules below), one link step.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

mod av_mux;
mod fake_codec;
mod pipeline;
mod probe;
mod timestamps;
