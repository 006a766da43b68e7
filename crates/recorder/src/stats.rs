//! What a recording reports while it runs and when it has stopped.

use std::time::Duration;

use txcr_mux::FinishedSlice;

/// A snapshot of a running (or finished) recording.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Recorded time (paused time excluded).
    pub recorded: Duration,
    /// Frames encoded and written.
    pub frames: u64,
    /// Frames dropped because the encoder was behind, or capture ticks missed.
    pub dropped: u64,
    /// Finished slices, in order.
    pub slices: Vec<FinishedSlice>,
    /// Set when the recording ended on its own (source gone, disk error).
    pub failure: Option<String>,
    /// Sound.
    pub audio: Sound,
    /// The recording ended because the disk was (nearly) full.
    pub disk_full: bool,
    /// Cursor and capture border, where the source decides them (Windows).
    pub look: Option<txcr_capture::Look>,
}

/// What a stopped recording left.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Final statistics; `slices` lists every file.
    pub stats: Stats,
}

/// Sound in a recording.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Sound {
    /// Not asked for.
    #[default]
    Off,
    /// Recording from this device.
    On(String),
    /// Could not start: the recording is video only.
    Unavailable(String),
    /// Stopped mid-recording: the video goes on.
    Failed(String),
}

impl std::fmt::Display for Sound {
    /// `off`, `on: <device>`, `unavailable: <why>`, `failed: <why>` (the
    /// words of `GetState`'s `Record.Audio`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Off => f.write_str("off"),
            Self::On(device) => write!(f, "on: {device}"),
            Self::Unavailable(why) => write!(f, "unavailable: {why}"),
            Self::Failed(why) => write!(f, "failed: {why}"),
        }
    }
}
