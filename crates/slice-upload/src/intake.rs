//! The queue's own thread: hashing and journaling of closed slices, in the
//! order the recorder handed them over, so the recorder never waits for them.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;

use txcr_storage::Chapter;

use crate::shared::Inner;

/// Work handed to the intake thread, in order.
pub(crate) enum Intake {
    /// A slice was closed.
    Slice {
        task: String,
        seq: u32,
        path: PathBuf,
        start_ms: u64,
        duration_ms: u64,
    },
    /// A chapter was marked (by the screen: nobody waits for its index).
    Chapter { task: String, chapter: Chapter },
    /// The recording ended.
    End { task: String },
}

/// Start the thread working through what the sender hands over.
pub(crate) fn start(queue: Arc<Inner>, rx: Receiver<Intake>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("txcr-upload-intake".into())
        .spawn(move || {
            for msg in rx {
                let r = match msg {
                    Intake::Slice {
                        task,
                        seq,
                        path,
                        start_ms,
                        duration_ms,
                    } => queue.add_slice(&task, seq, &path, start_ms, duration_ms),
                    Intake::Chapter { task, chapter } => {
                        queue.add_chapter(&task, chapter).map(drop)
                    }
                    Intake::End { task } => queue.end_task(&task),
                };
                if let Err(e) = r {
                    tracing::error!("upload queue: {e}");
                }
            }
        })
        .map(drop)
}

/// A channel for [`start`].
pub(crate) fn channel() -> (Sender<Intake>, Receiver<Intake>) {
    std::sync::mpsc::channel()
}
