//! What the API side reads of a running recording: statistics, whether it
//! ended on its own, a preview. A [`Watch`] is a cheap handle that can be
//! kept apart from the [`Recording`](crate::Recording) (a snapshot of the
//! service's state holds one), so reading never waits for a command.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use txcr_encode::Thumbnail;

use crate::shared::Shared;
use crate::stats::Stats;
use crate::sync::lock;
use crate::RecordError;

/// A reading handle on a recording (clone it freely; it keeps the counters
/// alive, not the threads).
#[derive(Debug, Clone)]
pub struct Watch {
    pub(crate) shared: Arc<Shared>,
}

impl Watch {
    /// Current statistics. Takes no lock the recording threads hold for
    /// more than a copy: the recorded time comes from the API side's copy of
    /// the clock, so a recording thread preempted at its lower priority never
    /// holds up the answer.
    pub fn stats(&self) -> Stats {
        let sh = &self.shared;
        Stats {
            recorded: lock(&sh.clock).media_time(Instant::now()),
            frames: sh.frames.load(Ordering::Relaxed),
            dropped: sh.dropped.load(Ordering::Relaxed),
            unchanged: sh.unchanged.load(Ordering::Relaxed),
            slices: lock(&sh.slices).clone(),
            failure: lock(&sh.failure).clone(),
            audio: lock(&sh.audio).clone(),
            sources: lock(&sh.sources).clone(),
            disk_full: sh.disk_full.load(Ordering::Relaxed),
            look: sh.look,
        }
    }

    /// Whether the recording ended on its own (see [`Stats::failure`]), or
    /// was stopped.
    pub fn has_ended(&self) -> bool {
        self.shared.is_stopped()
    }

    /// A picture of what is being recorded, at most `max_width` pixels wide,
    /// made from the next frame captured (while paused, from one grabbed for
    /// it). Waits at most `timeout`.
    pub fn preview(&self, max_width: u32, timeout: Duration) -> Result<Thumbnail, RecordError> {
        let sh = &self.shared;
        sh.preview.clear();
        lock(&sh.ctl).preview = Some(max_width);
        sh.wake.notify_all();
        match sh.preview.wait(timeout) {
            Some(made) => made.map_err(RecordError::Preview),
            None => {
                lock(&sh.ctl).preview = None;
                Err(RecordError::Preview(format!(
                    "no picture was captured within {} ms",
                    timeout.as_millis()
                )))
            }
        }
    }
}
