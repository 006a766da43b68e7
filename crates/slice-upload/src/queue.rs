//! The service's handle on the upload queue: the journal and the task table
//! behind one lock, the uploaders and the intake thread started with it.

use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use md5::{Digest, Md5};
use txcr_storage::{Layout, ObjectKey, StoreError};

use crate::config::UploadConfig;
use crate::intake::{self, Intake};
use crate::journal::{Journal, Multipart, SliceRecord, SliceState, TaskMeta, TaskRecord};
use crate::recover::recover_orphans;
use crate::schedule::{Job, Schedule, TaskStatus};
use crate::store::{hex, ObjectStore};
use crate::worker::worker;
use crate::UploadError;

/// What the uploaders and the handle share.
pub(crate) struct Inner {
    journal: Journal,
    /// Tells the store about a task ([`ObjectStore::task_known`]).
    on_task: Box<dyn Fn(&TaskMeta) + Send + Sync>,
    pub(crate) cfg: UploadConfig,
    schedule: Mutex<Schedule>,
    pub(crate) wake: tokio::sync::Notify,
}

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

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn md5_file(path: &Path) -> Result<[u8; 16], UploadError> {
    let io = |source| UploadError::Slice {
        path: path.to_owned(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut h = Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().into())
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Schedule> {
        self.schedule.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn take_job(&self) -> Option<Job> {
        self.lock().take_job(Instant::now())
    }

    pub(crate) fn retrying(&self, job: &Job, e: &StoreError) {
        self.lock().retrying(job, e);
    }

    /// Apply a job's outcome durably.
    pub(crate) fn finish(&self, job: &Job, result: Result<String, StoreError>) {
        if let Err(e) = &result {
            tracing::warn!(task = %job.key().task(), "upload failed: {e}; retrying in {:?}", self.cfg.permanent_retry);
        }
        let mut schedule = self.lock();
        let fx = schedule.finished(
            job,
            &result,
            (Instant::now(), unix_now()),
            self.cfg.permanent_retry,
            self.cfg.delete_after_upload,
        );
        let id = &job.key().task().task_id;
        let Some(rec) = schedule.record(id).filter(|_| fx.save) else {
            return;
        };
        if let Err(e) = self.journal.save(rec) {
            tracing::error!("upload journal: {e}");
            return;
        }
        if rec.manifest_stored {
            tracing::info!(task = %id, slices = rec.slices.len(), "task uploaded");
        }
        // Only once "confirmed" is on disk may the local copy go.
        if let Some(p) = fx.delete {
            let _ = std::fs::remove_file(p);
        }
    }

    /// The multipart upload journaled for a slice.
    pub(crate) fn multipart(&self, key: &ObjectKey) -> Option<Multipart> {
        let txcr_storage::Leaf::Slice(seq) = key.leaf() else {
            return None;
        };
        self.lock()
            .record(&key.task().task_id)?
            .slices
            .iter()
            .find(|s| s.seq == seq)?
            .multipart
            .clone()
    }

    /// Journal a multipart upload's progress before going on.
    pub(crate) fn save_multipart(
        &self,
        key: &ObjectKey,
        mp: Option<Multipart>,
    ) -> Result<(), StoreError> {
        let txcr_storage::Leaf::Slice(seq) = key.leaf() else {
            return Ok(());
        };
        let mut schedule = self.lock();
        let Some(rec) = schedule.record_mut(&key.task().task_id) else {
            return Ok(());
        };
        if let Some(s) = rec.slices.iter_mut().find(|s| s.seq == seq) {
            s.multipart = mp;
        }
        self.journal
            .save(rec)
            .map_err(|e| StoreError::Transient(e.to_string()))
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
        intake::start(me.clone(), rx).map_err(|e| UploadError::Journal {
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
        let md5 = hex(&md5_file(path)?);
        let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let mut schedule = self.inner.lock();
        let rec = schedule
            .record_mut(task_id)
            .ok_or_else(|| UploadError::UnknownTask(task_id.to_owned()))?;
        if rec.slices.iter().all(|s| s.seq != seq) {
            rec.slices.push(SliceRecord {
                seq,
                path: path.to_owned(),
                bytes,
                start_ms,
                duration_ms,
                md5,
                state: SliceState::Queued,
                etag: None,
                multipart: None,
            });
            rec.slices.sort_by_key(|s| s.seq);
            self.inner.journal.save(rec)?;
        }
        drop(schedule);
        self.inner.wake.notify_waiters();
        Ok(())
    }

    /// The recording ended: once every slice is stored, the manifest follows.
    pub fn end_task(&self, task_id: &str) -> Result<(), UploadError> {
        let mut schedule = self.inner.lock();
        if schedule
            .record(task_id)
            .is_some_and(|r| r.slices.is_empty())
        {
            // Nothing was recorded: nothing to upload.
            schedule.remove(task_id);
            self.inner.journal.remove(task_id);
        } else if let Some(rec) = schedule.record_mut(task_id) {
            rec.recording = false;
            self.inner.journal.save(rec)?;
        }
        drop(schedule);
        self.inner.wake.notify_waiters();
        Ok(())
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
