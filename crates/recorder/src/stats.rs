//! What a recording reports while it runs and when it has stopped.

use std::time::Duration;

use txcr_mux::FinishedSlice;

pub use crate::meter::Level;

/// A snapshot of a running (or finished) recording.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Recorded time (paused time excluded).
    pub recorded: Duration,
    /// Frames encoded and written.
    pub frames: u64,
    /// Frames dropped because the encoder was behind, or capture ticks missed.
    pub dropped: u64,
    /// Ticks whose picture had not changed: nothing read, converted or
    /// encoded (the frame before stays on screen). Not dropped.
    pub unchanged: u64,
    /// Finished slices, in order.
    pub slices: Vec<FinishedSlice>,
    /// Set when the recording ended on its own (source gone, disk error).
    pub failure: Option<String>,
    /// Sound.
    pub audio: Sound,
    /// Each sound source: its state and level.
    pub sources: Vec<SourceHealth>,
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

/// How a sound source is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceState {
    /// Delivering sound.
    On,
    /// Delivering only digital silence for 10 s or more (muted, unplugged
    /// into nothing, a dead input).
    Silent,
    /// Started, but nothing arrives (the device went away; it is being
    /// reopened, and the gap is silence).
    Failed(String),
    /// Could not start: the recording is without this sound.
    Unavailable(String),
}

impl SourceState {
    /// `on`, `silent`, `failed`, `unavailable`: the words of `GetState`.
    pub fn word(&self) -> &'static str {
        match self {
            Self::On => "on",
            Self::Silent => "silent",
            Self::Failed(_) => "failed",
            Self::Unavailable(_) => "unavailable",
        }
    }
}

/// One sound source of a recording.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceHealth {
    /// `mic`, `app`, `system`, `tone`.
    pub label: String,
    /// What it records from.
    pub device: String,
    /// How it is doing.
    pub state: SourceState,
    /// Its level over the last second (before gain).
    pub level: Level,
    /// Sample frames (and blocks) lost: arrived too late or dropped while the
    /// recorder was behind.
    pub dropped: u64,
    /// Why it is not quite what was asked for, if so.
    pub note: Option<String>,
}

impl SourceHealth {
    pub(crate) fn unavailable(
        label: String,
        device: String,
        why: String,
        note: Option<String>,
    ) -> Self {
        Self {
            label,
            device,
            state: SourceState::Unavailable(why),
            level: Level::default(),
            dropped: 0,
            note,
        }
    }

    /// What the teacher should be told now, if anything.
    pub fn warning(&self) -> Option<String> {
        let who = match self.label.as_str() {
            "mic" => "the microphone".to_owned(),
            "app" => "the class app's sound".to_owned(),
            "system" => "the system sound".to_owned(),
            other => other.to_owned(),
        };
        match &self.state {
            SourceState::On => None,
            SourceState::Silent => Some(format!(
                "{who} has recorded only silence for 10 s or more: is it muted or unplugged?"
            )),
            SourceState::Failed(why) => Some(format!("{who}: {why}")),
            SourceState::Unavailable(why) => Some(format!("{who} is not recorded: {why}")),
        }
    }
}
