//! Sound sources: blocks of interleaved f32 samples, stamped with the instant
//! they arrived, pushed into a bounded channel that never blocks the producer.

mod choose;
mod cpal_source;
#[cfg(target_os = "linux")]
mod pulse;
mod tone;
#[cfg(windows)]
mod wasapi_app;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Instant;

pub use choose::{open, Opened, SoundOf};
pub use cpal_source::CpalSource;
#[cfg(target_os = "linux")]
pub use pulse::{PulseSource, PulseTarget};
pub use tone::ToneSource;
#[cfg(windows)]
pub use wasapi_app::AppLoopback;

use crate::CaptureError;

/// The PulseAudio protocol's name for the monitor of the default output:
/// what the machine plays.
pub const DEFAULT_MONITOR: &str = "@DEFAULT_MONITOR@";

/// Sample rate and channel count of a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioFormat {
    /// Samples per second per channel.
    pub sample_rate: u32,
    /// Interleaved channels.
    pub channels: u16,
}

/// A block of captured sound.
#[derive(Debug, Clone)]
pub struct AudioBlock {
    /// Interleaved samples, `frames × channels`, nominally in [-1, 1].
    pub samples: Vec<f32>,
    /// When the block arrived (its last sample was captured about then).
    pub captured_at: Instant,
}

/// The audio capture stage.
pub trait AudioSource: Send {
    /// The format of the blocks.
    fn format(&self) -> AudioFormat;

    /// Start delivering blocks into `sink` until the source is dropped.
    fn start(&mut self, sink: BlockSink) -> Result<(), CaptureError>;

    /// What it records, for logs and `GetState`.
    fn describe(&self) -> String;

    /// Whether it delivers blocks all the time (a device: a pause in
    /// delivery means it was lost), or only while there is sound (an
    /// application's streams, which come and go).
    fn always_delivers(&self) -> bool {
        true
    }
}

/// Where a source puts its blocks: a bounded channel shared by every source
/// of a recording, each block tagged with its source's number; when it is
/// full the block is dropped and counted, so a stalled consumer never stalls
/// the sound card callback.
#[derive(Debug, Clone)]
pub struct BlockSink {
    tx: SyncSender<(usize, AudioBlock)>,
    tag: usize,
    dropped: Arc<AtomicU64>,
}

impl BlockSink {
    /// A sink sending into `tx`, counting drops in `dropped`.
    pub fn new(tx: SyncSender<(usize, AudioBlock)>, dropped: Arc<AtomicU64>) -> Self {
        Self::tagged(tx, 0, dropped)
    }

    /// A sink whose blocks arrive tagged `tag`.
    pub fn tagged(
        tx: SyncSender<(usize, AudioBlock)>,
        tag: usize,
        dropped: Arc<AtomicU64>,
    ) -> Self {
        Self { tx, tag, dropped }
    }

    /// Hand over a block; false once the consumer is gone.
    pub fn push(&self, block: AudioBlock) -> bool {
        match self.tx.try_send((self.tag, block)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }
}

/// A source that could not be opened: starting it fails with `why`, so a
/// recording goes on without it and says why.
pub fn unavailable(why: String) -> Box<dyn AudioSource> {
    Box::new(Unavailable(why))
}

/// A sound source that could not be opened: starting it fails with the
/// reason.
#[derive(Debug)]
struct Unavailable(String);

impl AudioSource for Unavailable {
    fn format(&self) -> AudioFormat {
        AudioFormat {
            sample_rate: 48_000,
            channels: 2,
        }
    }

    fn start(&mut self, _: BlockSink) -> Result<(), CaptureError> {
        Err(CaptureError::Unavailable(self.0.clone()))
    }

    fn describe(&self) -> String {
        "no device".into()
    }
}
