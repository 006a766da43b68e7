//! What the uploaders, the intake thread and the handle share: the journal
//! and the task table behind one lock, and the effects of each event on them
//! (journaled before they are acted on).

use std::io::Read;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use md5::{Digest, Md5};
use txcr_storage::{Chapter, Leaf, ObjectKey, StoreError};

use crate::config::UploadConfig;
use crate::journal::{Journal, Multipart, SliceRecord, SliceState, TaskMeta};
use crate::schedule::{Job, Schedule};
use crate::store::hex;
use crate::UploadError;

/// What the uploaders, the intake thread and the handle share.
pub(crate) struct Inner {
    pub(crate) journal: Journal,
    /// Tells the store about a task (`ObjectStore::task_known`).
    pub(crate) on_task: Box<dyn Fn(&TaskMeta) + Send + Sync>,
    pub(crate) cfg: UploadConfig,
    pub(crate) schedule: Mutex<Schedule>,
    pub(crate) wake: tokio::sync::Notify,
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
    pub(crate) fn lock(&self) -> MutexGuard<'_, Schedule> {
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
        let Leaf::Slice(seq) = key.leaf() else {
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
        let Leaf::Slice(seq) = key.leaf() else {
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

    /// A slice is closed on disk: journal it and wake an uploader. Blocking
    /// (reads the file once for its MD5); call it off the async runtime.
    pub(crate) fn add_slice(
        &self,
        task_id: &str,
        seq: u32,
        path: &Path,
        start_ms: u64,
        duration_ms: u64,
    ) -> Result<(), UploadError> {
        let md5 = hex(&md5_file(path)?);
        let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let mut schedule = self.lock();
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
            self.journal.save(rec)?;
        }
        drop(schedule);
        self.wake.notify_waiters();
        Ok(())
    }

    /// A chapter was marked: journal it (it goes into the manifest). Its
    /// index in the task's chapters, from 0.
    pub(crate) fn add_chapter(
        &self,
        task_id: &str,
        chapter: Chapter,
    ) -> Result<usize, UploadError> {
        let mut schedule = self.lock();
        let rec = schedule
            .record_mut(task_id)
            .ok_or_else(|| UploadError::UnknownTask(task_id.to_owned()))?;
        rec.chapters.push(chapter);
        self.journal.save(rec)?;
        Ok(rec.chapters.len() - 1)
    }

    /// The recording ended: once every slice is stored, the manifest follows.
    pub(crate) fn end_task(&self, task_id: &str) -> Result<(), UploadError> {
        let mut schedule = self.lock();
        if schedule
            .record(task_id)
            .is_some_and(|r| r.slices.is_empty())
        {
            // Nothing was recorded: nothing to upload.
            schedule.remove(task_id);
            self.journal.remove(task_id);
        } else if let Some(rec) = schedule.record_mut(task_id) {
            rec.recording = false;
            self.journal.save(rec)?;
        }
        drop(schedule);
        self.wake.notify_waiters();
        Ok(())
    }
}
