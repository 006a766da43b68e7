//! The data that flows between the recorder's stages, and the one clock they share.
//!
//! Owns: [`VideoFrame`] (what capture hands to encode), [`Packet`] and the codec
//! configurations (what encode hands to mux), [`Timeline`] (the pause-aware
//! recording clock every timestamp comes from) and [`AudioClock`] (audio
//! timestamps from the sample count, held to that clock).
//!
//! Does not own: any I/O, threads, codecs or formats. The stage traits live in the
//! lowest crate that needs them (`FrameSource` in `txcr-capture`, `VideoEncoder` in
//! `txcr-encode`), each with its own error type.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use txcr_core::Timeline;
//!
//! let t0 = Instant::now();
//! let mut tl = Timeline::new(t0);
//! tl.pause(t0 + Duration::from_secs(2));
//! tl.resume(t0 + Duration::from_secs(5));
//! // Three paused seconds are not part of the recording.
//! assert_eq!(tl.media_time(t0 + Duration::from_secs(6)), Duration::from_secs(3));
//! ```

mod audio_clock;
mod frame;
mod packet;
mod timeline;

pub use audio_clock::AudioClock;
pub use frame::{FrameRef, VideoFrame};
pub use packet::{AudioConfig, MediaKind, Packet, VideoConfig};
pub use timeline::Timeline;
