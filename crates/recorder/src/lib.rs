//! The recording engine: one [`Recording`] runs a frame source through the encoder
//! into slice files, on two threads, until stopped.
//!
//! Owns: pacing (frames are grabbed on a steady clock at the requested rate and
//! stamped from the pause-aware [`Timeline`](txcr_core::Timeline)), backpressure
//! (capture → encode is a queue of two I420 pictures, converted on the capture
//! thread straight from what the source lends; when the encoder falls behind,
//! new frames are dropped and counted, memory never grows), the recording
//! threads' priority (nice 5 on Linux, x264's workers included; API threads may
//! call [`answer_promptly`] to be served first; a recording process may call
//! [`decline_huge_pages`] to keep x264's buffers small), pause/resume, a clean
//! stop (encoder drained, last slice finished and `fsync`ed), and where a
//! recording may be written ([`resolve_dst`]), and the sound: every
//! [`SoundInput`] (microphone, the class app's sound) stamped by its own clock,
//! held to the timeline by a steered rubato resampler, mixed into one AAC track
//! behind a short delay with a soft limiter, each source metered
//! ([`SourceHealth`]: level, silence, a device that went away).
//!
//! Does not own: which source or what window (`txcr-capture`), codecs
//! (`txcr-encode`), the file format (`txcr-mux`), the API or session rules.
//!
//! This is the crate to embed to record from another Rust program:
//!
//! ```no_run
//! use txcr_capture::{Region, TestPattern};
//! use txcr_recorder::{Recording, RecordingSpec};
//!
//! let source = TestPattern::new(1280, 720, Region::default())?;
//! let rec = Recording::start(Box::new(source), Vec::new(), RecordingSpec::new("/tmp/class.flv".into(), 15, 300))?;
//! std::thread::sleep(std::time::Duration::from_secs(3));
//! let summary = rec.stop()?;
//! println!("{} frames in {:?}", summary.stats.frames, summary.stats.slices);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod audio;
mod capture;
mod changes;
mod codecs;
mod disk;
mod encode;
mod lane;
mod memory;
mod meter;
mod mix;
mod pacing;
mod paths;
mod preview;
mod priority;
mod recording;
mod shared;
mod slides;
mod spec;
mod stats;
mod sync;
mod watch;

pub use codecs::{Codecs, X264Aac, AAC_BITRATE};
pub use memory::decline_huge_pages;
pub use paths::{resolve_dst, PathError};
pub use priority::answer_promptly;
pub use recording::Recording;
pub use spec::{ChapterHook, RecordingSpec, SliceHook, SoundInput};
pub use stats::{Level, Sound, SourceHealth, SourceState, Stats, Summary};
pub use txcr_encode::Thumbnail;
pub use watch::Watch;

/// Why a recording could not start or ended badly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The destination is not acceptable.
    #[error(transparent)]
    Path(#[from] PathError),
    /// The source failed.
    #[error(transparent)]
    Capture(#[from] txcr_capture::CaptureError),
    /// The encoder failed.
    #[error(transparent)]
    Encode(#[from] txcr_encode::EncodeError),
    /// Writing slices failed.
    #[error(transparent)]
    Mux(#[from] txcr_mux::MuxError),
    /// No preview picture could be made.
    #[error("preview: {0}")]
    Preview(String),
    /// A recorder thread could not start or panicked.
    #[error("recorder thread failed: {0}")]
    Thread(String),
    /// Free space on the recording disk fell below the configured minimum.
    #[error(
        "the recording disk has {free_mb} MB free, below the {min_mb} MB minimum; free some space"
    )]
    DiskFull {
        /// Free megabytes.
        free_mb: u64,
        /// The configured minimum.
        min_mb: u64,
    },
}

impl RecordError {
    /// Whether this is the disk running out (the guard, or a write failing
    /// with "no space left").
    pub fn is_disk_full(&self) -> bool {
        match self {
            Self::DiskFull { .. } => true,
            Self::Mux(txcr_mux::MuxError::Io { source, .. }) => {
                // ENOSPC (28) on Unix; ERROR_DISK_FULL (112) / ERROR_HANDLE_DISK_FULL (39) on Windows.
                let code = source.raw_os_error();
                (cfg!(unix) && code == Some(28))
                    || (cfg!(windows) && matches!(code, Some(112 | 39)))
            }
            _ => false,
        }
    }
}
