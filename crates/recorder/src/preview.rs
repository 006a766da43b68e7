//! Preview pictures: the API thread asks, the capture thread answers with the
//! next frame it takes (or, while paused, one it grabs just for this), so a
//! preview costs nothing until somebody asks.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use txcr_encode::Thumbnail;

use crate::sync::lock;

/// Where the capture thread leaves the picture asked for.
#[derive(Debug, Default)]
pub(crate) struct PreviewSlot {
    made: Mutex<Option<Result<Thumbnail, String>>>,
    ready: Condvar,
}

impl PreviewSlot {
    /// Forget an answer nobody waited for (called before a new request).
    pub(crate) fn clear(&self) {
        *lock(&self.made) = None;
    }

    /// The capture thread's answer.
    pub(crate) fn publish(&self, made: Result<Thumbnail, String>) {
        *lock(&self.made) = Some(made);
        self.ready.notify_all();
    }

    /// Wait up to `timeout` for the answer.
    pub(crate) fn wait(&self, timeout: Duration) -> Option<Result<Thumbnail, String>> {
        let made = lock(&self.made);
        let (mut made, _) = self
            .ready
            .wait_timeout_while(made, timeout, |m| m.is_none())
            .unwrap_or_else(|e| e.into_inner());
        made.take()
    }
}
