//! The state the API side and the recording threads share: the clock and
//! schedule under one lock, counters, finished slices, the first failure.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

use txcr_core::Timeline;
use txcr_mux::FinishedSlice;

use crate::pacing::Pacer;
use crate::preview::PreviewSlot;
use crate::spec::{ChapterHook, SliceHook};
use crate::stats::{Sound, SourceHealth};
use crate::sync::lock;

#[derive(Debug)]
pub(crate) struct Control {
    pub(crate) timeline: Timeline,
    /// When the capture thread takes its frames. A pause takes effect at the
    /// tick not yet taken, so the first frame after resume lands exactly one
    /// interval after the last frame before the pause: no gap, no short step.
    pub(crate) pacer: Pacer,
    /// A preview is wanted, at most this wide: the capture thread makes it
    /// from its next frame.
    pub(crate) preview: Option<u32>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) ctl: Mutex<Control>,
    pub(crate) wake: Condvar,
    /// The recording is over (stopped, failed or at its time limit). Set
    /// under `ctl` (the capture thread waits on `wake` for it), read without.
    pub(crate) stopped: AtomicBool,
    /// A copy of `ctl.timeline`, made by each change to it (pause, resume,
    /// stop: all on the API side), for `GetState`'s recorded time: reading
    /// it never waits for a recording thread, which runs at a lower priority
    /// and may be preempted while it holds `ctl`.
    pub(crate) clock: Mutex<Timeline>,
    /// When the recording started: sound captured earlier is not recorded.
    pub(crate) started: Instant,
    pub(crate) frames: AtomicU64,
    pub(crate) dropped: AtomicU64,
    /// Ticks whose picture had not changed and sent nothing.
    pub(crate) unchanged: AtomicU64,
    pub(crate) slices: Mutex<Vec<FinishedSlice>>,
    pub(crate) failure: Mutex<Option<String>>,
    pub(crate) audio: Mutex<Sound>,
    /// Each sound source's health, published by the audio thread.
    pub(crate) sources: Mutex<Vec<SourceHealth>>,
    pub(crate) on_slice: Option<SliceHook>,
    pub(crate) on_slide: Option<ChapterHook>,
    pub(crate) disk_full: std::sync::atomic::AtomicBool,
    pub(crate) preview: PreviewSlot,
    pub(crate) look: Option<txcr_capture::Look>,
}

impl Shared {
    pub(crate) fn slice_done(&self, done: FinishedSlice) {
        tracing::info!(path = %done.path.display(), ms = done.info.duration_ms(), "slice finished");
        if let Some(hook) = &self.on_slice {
            (hook.0)(&done);
        }
        lock(&self.slices).push(done);
    }

    pub(crate) fn fail(&self, why: String) {
        tracing::error!("recording failed: {why}");
        lock(&self.failure).get_or_insert(why);
        let ctl = lock(&self.ctl);
        self.mark_stopped(&ctl);
        drop(ctl);
        self.wake.notify_all();
    }

    /// The recording is over: set with `ctl` held (passed in to prove it),
    /// so the capture thread's wait on `wake` cannot miss it.
    pub(crate) fn mark_stopped(&self, _ctl: &Control) {
        self.stopped.store(true, Ordering::Release);
    }

    /// Whether the recording is over; call it with `ctl` held where a wait
    /// on `wake` depends on it.
    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    /// Publish the timeline after a change (see `clock`).
    pub(crate) fn show_clock(&self, ctl: &Control) {
        *lock(&self.clock) = ctl.timeline;
    }
}
