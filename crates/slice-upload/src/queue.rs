//! The service's handle on the upload queue: start-up (journal, recovery,
//! uploaders, intake thread) and the calls the recorder and `GetState` make.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use txcr_storage::{Chapter, Layout};

use crate::config::UploadConfig;
use crate::intake::{self, Intake};
use crate::journal::{Journal, TaskMeta, TaskRecord};
use crate::recover::recover_orphans;
use crate::schedule::{Schedule, TaskStatus};
use crate::shared::Inner;
use crate::store::ObjectStore;
use crate::worker::worker;
use crate::UploadError;

/// The service's handle on the upload queue. Cheap to clone.
#[derive(Clone)]
pub struct UploadQueue {
    inner: Arc<Inner>,
    intake: std::sync::mpsc::Sender<Intake>,
}

impl std::fmt::Debug for UploadQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadQueue")
            .field("cfg", &self.inner.cfg)
            .finish_non_exhaustive()
    }
}

impl UploadQueue {
    /// Load the journal, recover tasks a crash interrupted, and start
    /// `cfg.workers` uploaders on the current tokio runtime.
    pub fn start<S: ObjectStore>(
        journal_dir: &Path,
        store: S,
        cfg: UploadConfig,
    ) -> Result<Self, UploadError> {
        let journal = Journal::open(journal_dir)?;
        let store = Arc::new(store);
        let mut schedule = Schedule::new(Layout::new(&cfg.prefix));
        let mut count = 0;
        for mut rec in journal.load_all() {
            if rec.recording {
                recover_orphans(&mut rec);
                rec.recording = false;
                journal.save(&rec)?;
                tracing::info!(task = %rec.meta.task_id, slices = rec.slices.len(), "recovered a task interrupted by a crash");
            }
            store.task_known(&rec.meta);
            schedule.insert(rec, Instant::now());
            count += 1;
        }
        tracing::info!(store = %store.describe(), tasks = count, "upload queue ready");
        let for_tasks = store.clone();
        let workers = cfg.workers.max(1);
        let inner = Arc::new(Inner {
            journal,
            on_task: Box::new(move |m| for_tasks.task_known(m)),
            cfg,
            schedule: Mutex::new(schedule),
            wake: tokio::sync::Notify::new(),
        });
        for _ in 0..workers {
            tokio::spawn(worker(inner.clone(), store.clone()));
        }
        let (intake, rx) = intake::channel();
        let me = Self { inner, intake };
        intake::start(me.inner.clone(), rx).map_err(|e| UploadError::Journal {
            path: journal_dir.to_owned(),
            source: e,
        })?;
        Ok(me)
    }

    /// Hand a closed slice over without waiting: hashing and journaling happen
    /// on the queue's own thread, in order with [`UploadQueue::finish_task`], so
    /// the recorder never waits for them. (A crash before it is journaled is
    /// covered by start-up recovery, which re-reads the slice files.)
    pub fn queue_slice(
        &self,
        task_id: &str,
        seq: u32,
        path: &Path,
        start_ms: u64,
        duration_ms: u64,
    ) {
        let _ = self.intake.send(Intake::Slice {
            task: task_id.to_owned(),
            seq,
            path: path.to_owned(),
            start_ms,
            duration_ms,
        });
    }

    /// A chapter marked on a thread that must not wait (the capture
    /// thread's slide changes): journaled on the queue's own thread, in order
    /// with the slices and the end.
    pub fn queue_chapter(&self, task_id: &str, chapter: Chapter) {
        let _ = self.intake.send(Intake::Chapter {
            task: task_id.to_owned(),
            chapter,
        });
    }

    /// A chapter marked by the teacher's app: journaled (durable) before this
    /// returns, so it survives a crash the moment it is answered. Its index
    /// in the task's chapters, from 0. Blocking; call it off the async
    /// runtime.
    pub fn add_chapter(&self, task_id: &str, chapter: Chapter) -> Result<usize, UploadError> {
        self.inner.add_chapter(task_id, chapter)
    }

    /// The recording ended; takes effect after every slice queued before it.
    pub fn finish_task(&self, task_id: &str) {
        let _ = self.intake.send(Intake::End {
            task: task_id.to_owned(),
        });
    }

    /// A recording started: record the task (durably) before any slice exists.
    pub fn begin_task(&self, meta: TaskMeta) -> Result<(), UploadError> {
        (self.inner.on_task)(&meta);
        let rec = TaskRecord {
            meta,
            recording: true,
            slices: Vec::new(),
            manifest_stored: false,
            uploaded_at: None,
            chapters: Vec::new(),
        };
        self.inner.journal.save(&rec)?;
        self.inner.lock().insert(rec, Instant::now());
        Ok(())
    }

    /// A slice is closed on disk: journal it and wake an uploader. Blocking
    /// (reads the file once for its MD5); call it off the async runtime.
    pub fn add_slice(
        &self,
        task_id: &str,
        seq: u32,
        path: &Path,
        start_ms: u64,
        duration_ms: u64,
    ) -> Result<(), UploadError> {
        self.inner
            .add_slice(task_id, seq, path, start_ms, duration_ms)
    }

    /// The recording ended: once every slice is stored, the manifest follows.
    pub fn end_task(&self, task_id: &str) -> Result<(), UploadError> {
        self.inner.end_task(task_id)
    }

    /// Every task with work to upload, or uploaded less than `keep_uploaded` ago.
    pub fn status(&self) -> Vec<TaskStatus> {
        let mut schedule = self.inner.lock();
        for id in schedule.expire(Instant::now(), self.inner.cfg.keep_uploaded) {
            self.inner.journal.remove(&id);
        }
        schedule.status()
    }
}
