//! What to record and how: the caller's side of a recording.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use txcr_capture::audio::AudioSource;
use txcr_encode::X264Options;
use txcr_mux::FinishedSlice;

use crate::codecs::{Codecs, X264Aac};

/// Called on the encode thread with each slice once it is complete on disk
/// (duration patched, `fsync`ed): the hand-off to the upload queue.
#[derive(Clone)]
pub struct SliceHook(pub Arc<dyn Fn(&FinishedSlice) + Send + Sync>);

impl std::fmt::Debug for SliceHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SliceHook")
    }
}

/// Called on the capture thread at each slide change (see `AutoChapters` in
/// the local API) with its recorded time and title ("Slide 2", …); it must
/// not block. Set, slide changes are looked for; unset, they are not.
#[derive(Clone)]
pub struct ChapterHook(pub Arc<ChapterFn>);

/// The function a [`ChapterHook`] holds: recorded time and title.
pub type ChapterFn = dyn Fn(Duration, &str) + Send + Sync;

impl std::fmt::Debug for ChapterHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChapterHook")
    }
}

/// What to record and how.
#[derive(Debug, Clone)]
pub struct RecordingSpec {
    /// Resolved destination (`DstPath`); slices are named after it.
    pub dst: PathBuf,
    /// Frames per second.
    pub fps: u32,
    /// Bits per second; `None` = [`txcr_encode::auto_bitrate`].
    pub bitrate: Option<u32>,
    /// Slice length, seconds.
    pub slice_secs: u32,
    /// x264's preset, tune and options (for [`X264Aac`]).
    pub x264: X264Options,
    /// Opens the encoders; default [`X264Aac`].
    pub codecs: Arc<dyn Codecs>,
    /// Told about every finished slice.
    pub on_slice: Option<SliceHook>,
    /// Told about every slide change; `None`: none are looked for.
    pub on_slide: Option<ChapterHook>,
    /// Stop cleanly when the recording disk has less free space than this
    /// (checked at start and every second); 0 disables the guard.
    pub min_free_bytes: u64,
    /// End on its own after this much recorded time (paused time excluded):
    /// the recording covers `[0, limit)`, so no frame stamped at the limit
    /// opens a slice of its own. `None`: until stopped.
    pub limit: Option<Duration>,
}

impl RecordingSpec {
    /// Defaults: automatic bitrate, x264 `veryfast`, AAC-LC.
    pub fn new(dst: PathBuf, fps: u32, slice_secs: u32) -> Self {
        Self {
            dst,
            fps,
            bitrate: None,
            slice_secs,
            x264: X264Options::default(),
            codecs: Arc::new(X264Aac),
            on_slice: None,
            on_slide: None,
            min_free_bytes: 0,
            limit: None,
        }
    }
}

/// One sound of the recording, mixed with the others into the one AAC track.
pub struct SoundInput {
    /// Its name in `GetState` and logs: `mic`, `app`, `system`, `tone`.
    pub label: String,
    /// Where the samples come from.
    pub source: Box<dyn AudioSource>,
    /// Linear gain applied before mixing.
    pub gain: f32,
    /// Why the source is not quite what was asked for (a fallback), if so.
    pub note: Option<String>,
}

impl SoundInput {
    /// `source` named `label`, at unit gain.
    pub fn new(label: &str, source: Box<dyn AudioSource>) -> Self {
        Self {
            label: label.to_owned(),
            source,
            gain: 1.0,
            note: None,
        }
    }

    /// At `db` decibels of gain.
    pub fn gain_db(mut self, db: f32) -> Self {
        self.gain = 10f32.powf(db / 20.0);
        self
    }
}

impl std::fmt::Debug for SoundInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoundInput")
            .field("label", &self.label)
            .field("source", &self.source.describe())
            .field("gain", &self.gain)
            .finish()
    }
}
