//! The upload queue: tasks and slices from the journal, handed to workers.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use backon::{ExponentialBuilder, Retryable};
use md5::{Digest, Md5};
use serde_json::json;
use txcr_mux::{slice_path, FlvReader};

use crate::journal::{Journal, Multipart, SliceRecord, SliceState, TaskMeta, TaskRecord};
use crate::store::{hex, ObjectStore, StoreError};
use crate::UploadError;

/// How uploads behave.
#[derive(Debug, Clone)]
pub struct UploadConfig {
    /// Key prefix (`TXCR_S3_PREFIX`), without slashes at the ends.
    pub prefix: String,
    /// Parallel uploaders (default 3).
    pub workers: usize,
    /// Delete a local slice once its upload is confirmed (default false).
    pub delete_after_upload: bool,
    /// How long an uploaded task stays in `GetState.Upload` (default 600 s).
    pub keep_uploaded: Duration,
    /// How long to wait before retrying after a permanent error (default 60 s).
    pub permanent_retry: Duration,
    /// Slices larger than this go up in parts (default 64 MiB).
    pub multipart_threshold: u64,
    /// Bytes per part (default 16 MiB; S3 needs at least 5 MiB).
    pub part_size: u64,
}

impl Default for UploadConfig {
    fn default() -> Self {
        Self {
            prefix: String::new(),
            workers: 3,
            delete_after_upload: false,
            keep_uploaded: Duration::from_secs(600),
            permanent_retry: Duration::from_secs(60),
            multipart_threshold: 64 << 20,
            part_size: 16 << 20,
        }
    }
}

/// A task as `GetState.Upload` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskStatus {
    /// Task id.
    pub task_id: String,
    /// `wait` | `uploading` | `uploaded` | `upload failed`.
    pub state: &'static str,
    /// Seconds of video whose slices are confirmed.
    pub uploaded_secs: u64,
    /// Seconds recorded in the task (finished slices).
    pub total_secs: u64,
    /// Slices stored / known.
    pub slices: (usize, usize),
    /// Why the last attempt failed, if it did.
    pub error: Option<String>,
}

#[derive(Debug)]
struct Task {
    rec: TaskRecord,
    in_flight: BTreeSet<u32>,
    manifest_in_flight: bool,
    /// Last failure: (message, permanent).
    error: Option<(String, bool)>,
    retry_at: Option<Instant>,
    done_at: Option<Instant>,
}

impl Task {
    fn new(rec: TaskRecord) -> Self {
        // A task uploaded before a restart starts its time on the list anew.
        let done_at = rec.manifest_stored.then(Instant::now);
        Self {
            rec,
            in_flight: BTreeSet::new(),
            manifest_in_flight: false,
            error: None,
            retry_at: None,
            done_at,
        }
    }
}

enum Job {
    Slice {
        task: String,
        seq: u32,
        path: PathBuf,
        key: String,
        md5: [u8; 16],
        bytes: u64,
    },
    Manifest {
        task: String,
        key: String,
        body: Vec<u8>,
    },
}

struct Inner {
    journal: Journal,
    /// Tells the store about a task ([`ObjectStore::task_known`]).
    on_task: Box<dyn Fn(&TaskMeta) + Send + Sync>,
    cfg: UploadConfig,
    tasks: Mutex<BTreeMap<String, Task>>,
    wake: tokio::sync::Notify,
}

/// Work handed to the intake thread, in order.
enum Intake {
    Slice {
        task: String,
        seq: u32,
        path: PathBuf,
        start_ms: u64,
        duration_ms: u64,
    },
    End {
        task: String,
    },
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

fn unhex(s: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = s
            .get(i * 2..i * 2 + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .unwrap_or(0);
    }
    out
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Task>> {
        self.tasks.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn key(&self, m: &TaskMeta, leaf: &str) -> String {
        let base = format!("{}/{}/{}/{leaf}", m.sdkappid, m.class_id, m.task_id);
        if self.cfg.prefix.is_empty() {
            base
        } else {
            format!("{}/{base}", self.cfg.prefix)
        }
    }

    fn manifest(&self, r: &TaskRecord) -> Vec<u8> {
        let m = &r.meta;
        json!({
            "TaskId": m.task_id, "SdkAppId": m.sdkappid, "ClassId": m.class_id, "UserId": m.user_id,
            "StartTime": m.start_time,
            "Slices": r.slices.iter().map(|s| json!({
                "Seq": s.seq, "Key": self.key(m, &format!("{:04}.flv", s.seq)), "Bytes": s.bytes,
                "StartMs": s.start_ms, "DurationMs": s.duration_ms, "Md5": s.md5,
            })).collect::<Vec<_>>(),
        })
        .to_string()
        .into_bytes()
    }

    fn take_job(&self) -> Option<Job> {
        let now = Instant::now();
        let mut tasks = self.lock();
        for (id, t) in tasks.iter_mut() {
            if t.retry_at.is_some_and(|at| at > now) || t.rec.manifest_stored {
                continue;
            }
            if let Some(s) = t
                .rec
                .slices
                .iter()
                .find(|s| s.state == SliceState::Queued && !t.in_flight.contains(&s.seq))
            {
                t.in_flight.insert(s.seq);
                return Some(Job::Slice {
                    task: id.clone(),
                    seq: s.seq,
                    path: s.path.clone(),
                    key: self.key(&t.rec.meta, &format!("{:04}.flv", s.seq)),
                    md5: unhex(&s.md5),
                    bytes: s.bytes,
                });
            }
            let complete = !t.rec.recording
                && t.rec
                    .slices
                    .iter()
                    .all(|s| s.state == SliceState::Confirmed);
            if complete && !t.manifest_in_flight && !t.rec.slices.is_empty() {
                t.manifest_in_flight = true;
                return Some(Job::Manifest {
                    task: id.clone(),
                    key: self.key(&t.rec.meta, "manifest.json"),
                    body: self.manifest(&t.rec),
                });
            }
        }
        None
    }

    /// Apply a job's outcome durably.
    fn finish(&self, job: &Job, result: Result<String, StoreError>) {
        let mut tasks = self.lock();
        let (id, seq) = match job {
            Job::Slice { task, seq, .. } => (task, Some(*seq)),
            Job::Manifest { task, .. } => (task, None),
        };
        let Some(t) = tasks.get_mut(id) else { return };
        match seq {
            Some(s) => {
                t.in_flight.remove(&s);
            }
            None => t.manifest_in_flight = false,
        }
        match result {
            Ok(etag) => {
                t.error = None;
                t.retry_at = None;
                let mut delete = None;
                match seq {
                    Some(s) => {
                        if let Some(sl) = t.rec.slices.iter_mut().find(|x| x.seq == s) {
                            sl.state = SliceState::Confirmed;
                            sl.etag = Some(etag);
                            delete = self.cfg.delete_after_upload.then(|| sl.path.clone());
                        }
                    }
                    None => {
                        t.rec.manifest_stored = true;
                        t.rec.uploaded_at = Some(unix_now());
                        t.done_at = Some(Instant::now());
                        tracing::info!(task = %id, slices = t.rec.slices.len(), "task uploaded");
                    }
                }
                if let Err(e) = self.journal.save(&t.rec) {
                    tracing::error!("upload journal: {e}");
                    return;
                }
                // Only once "confirmed" is on disk may the local copy go.
                if let Some(p) = delete {
                    let _ = std::fs::remove_file(p);
                }
            }
            Err(e) => {
                tracing::warn!(task = %id, "upload failed: {e}; retrying in {:?}", self.cfg.permanent_retry);
                t.error = Some((e.to_string(), true));
                t.retry_at = Some(Instant::now() + self.cfg.permanent_retry);
            }
        }
    }

    fn multipart(&self, task: &str, seq: u32) -> Option<Multipart> {
        self.lock()
            .get(task)?
            .rec
            .slices
            .iter()
            .find(|s| s.seq == seq)?
            .multipart
            .clone()
    }

    /// Journal a multipart upload's progress before going on.
    fn save_multipart(
        &self,
        task: &str,
        seq: u32,
        mp: Option<Multipart>,
    ) -> Result<(), StoreError> {
        let mut tasks = self.lock();
        let Some(t) = tasks.get_mut(task) else {
            return Ok(());
        };
        if let Some(s) = t.rec.slices.iter_mut().find(|s| s.seq == seq) {
            s.multipart = mp;
        }
        self.journal
            .save(&t.rec)
            .map_err(|e| StoreError::Transient(e.to_string()))
    }

    fn note_transient(&self, job: &Job, e: &StoreError) {
        let id = match job {
            Job::Slice { task, .. } | Job::Manifest { task, .. } => task,
        };
        if let Some(t) = self.lock().get_mut(id) {
            t.error = Some((e.to_string(), false));
        }
    }
}

/// A large slice in parts, continuing from what the journal says is stored.
async fn put_multipart<S: ObjectStore>(
    inner: &Inner,
    store: &S,
    task: &str,
    seq: u32,
    path: &Path,
    key: &str,
    size: u64,
) -> Result<String, StoreError> {
    let mut mp = match inner.multipart(task, seq) {
        Some(mp) => mp,
        None => {
            let upload_id = store.create_multipart(key).await?;
            let mp = Multipart {
                upload_id,
                part_size: inner.cfg.part_size.max(5 << 20),
                parts: Vec::new(),
            };
            inner.save_multipart(task, seq, Some(mp.clone()))?;
            mp
        }
    };
    let count = size.div_ceil(mp.part_size).max(1) as i32;
    for n in 1..=count {
        if mp.parts.iter().any(|(p, _)| *p == n) {
            continue;
        }
        let (offset, len) = (u64::from(n as u32 - 1) * mp.part_size, mp.part_size);
        let file = path.to_owned();
        let bytes = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
            use std::io::{Seek, SeekFrom};
            let mut f = std::fs::File::open(&file)?;
            f.seek(SeekFrom::Start(offset))?;
            let mut buf = Vec::with_capacity(len as usize);
            f.take(len).read_to_end(&mut buf)?;
            Ok(buf)
        })
        .await
        .map_err(|e| StoreError::Transient(e.to_string()))?
        .map_err(|e| StoreError::Permanent(format!("reading {}: {e}", path.display())))?;
        let md5: [u8; 16] = Md5::digest(&bytes).into();
        let attempt = store.upload_part(key, &mp.upload_id, n, bytes, md5).await;
        let etag = match attempt {
            Err(StoreError::NoSuchUpload(e)) => {
                inner.save_multipart(task, seq, None)?;
                return Err(StoreError::Transient(format!(
                    "multipart upload restarted: {e}"
                )));
            }
            // Some S3-compatible servers (s3s-fs among them) answer a part for
            // a vanished upload with AccessDenied rather than NoSuchUpload:
            // after a refused part, the next try starts a fresh upload (and
            // fails at once if the credentials really are refused).
            Err(e @ StoreError::Permanent(_)) => {
                inner.save_multipart(task, seq, None)?;
                return Err(e);
            }
            other => other?,
        };
        mp.parts.push((n, etag));
        inner.save_multipart(task, seq, Some(mp.clone()))?;
    }
    mp.parts.sort_by_key(|(n, _)| *n);
    match store
        .complete_multipart(key, &mp.upload_id, &mp.parts)
        .await
    {
        Err(StoreError::NoSuchUpload(e)) => {
            inner.save_multipart(task, seq, None)?;
            Err(StoreError::Transient(format!(
                "multipart upload restarted: {e}"
            )))
        }
        Err(e @ StoreError::Permanent(_)) => {
            inner.save_multipart(task, seq, None)?;
            Err(e)
        }
        other => other,
    }
}

async fn run_job<S: ObjectStore>(
    inner: &Inner,
    store: &S,
    job: &Job,
) -> Result<String, StoreError> {
    match job {
        Job::Slice {
            task,
            seq,
            path,
            key,
            bytes,
            ..
        } if store.uploads_in_parts() && *bytes > inner.cfg.multipart_threshold => {
            put_multipart(inner, store, task, *seq, path, key, *bytes).await
        }
        Job::Slice { path, key, md5, .. } => store.put_file(key, path, *md5).await,
        Job::Manifest { key, body, .. } => store
            .put_bytes(key, body.clone(), "application/json")
            .await
            .map(|()| String::new()),
    }
}

async fn worker<S: ObjectStore>(inner: Arc<Inner>, store: Arc<S>) {
    loop {
        let Some(job) = inner.take_job() else {
            tokio::select! {
                _ = inner.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            continue;
        };
        // Transient errors retry without limit (a class can outlast an outage);
        // a permanent one ends this attempt and the task waits for its retry.
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(200))
            .with_max_delay(Duration::from_secs(30))
            .with_jitter()
            .without_max_times();
        let result = (|| run_job(&inner, store.as_ref(), &job))
            .retry(backoff)
            .when(StoreError::is_transient)
            .notify(|e, wait| {
                tracing::debug!("upload retry in {wait:?}: {e}");
                inner.note_transient(&job, e);
            })
            .await;
        inner.finish(&job, result);
        inner.wake.notify_waiters();
    }
}

/// Re-read what a crashed recording left after its last journaled slice:
/// truncate a torn tail to its last complete tag and queue what holds video.
fn recover_orphans(t: &mut TaskRecord) {
    let mut seq = t.slices.iter().map(|s| s.seq).max().unwrap_or(0) + 1;
    loop {
        let path = slice_path(&t.meta.dst, seq);
        let Ok(mut bytes) = std::fs::read(&path) else {
            break;
        };
        let valid = txcr_mux::valid_prefix_len(&bytes).unwrap_or(0);
        if valid < bytes.len() {
            tracing::warn!(path = %path.display(), kept = valid, lost = bytes.len() - valid, "repairing a slice cut off by a crash");
            bytes.truncate(valid);
            let ok = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .and_then(|f| {
                    f.set_len(valid as u64)?;
                    f.sync_all()
                });
            if ok.is_err() {
                break;
            }
        }
        let video: Vec<u64> = FlvReader::new(&bytes)
            .map(|r| {
                r.filter(|t| t.tag_type == txcr_mux::flv::TAG_VIDEO && t.body.get(1) == Some(&1))
                    .map(|t| u64::from(t.ts_ms))
                    .collect()
            })
            .unwrap_or_default();
        let (Some(&first), Some(&last)) = (video.first(), video.last()) else {
            break;
        };
        let frame = if video.len() > 1 {
            (last - first) / (video.len() as u64 - 1)
        } else {
            0
        };
        let md5 = hex(&Md5::digest(&bytes));
        t.slices.push(SliceRecord {
            seq,
            path,
            bytes: bytes.len() as u64,
            start_ms: first,
            duration_ms: last - first + frame,
            md5,
            state: SliceState::Queued,
            etag: None,
            multipart: None,
        });
        seq += 1;
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
        let mut tasks = BTreeMap::new();
        for mut rec in journal.load_all() {
            if rec.recording {
                recover_orphans(&mut rec);
                rec.recording = false;
                journal.save(&rec)?;
                tracing::info!(task = %rec.meta.task_id, slices = rec.slices.len(), "recovered a task interrupted by a crash");
            }
            store.task_known(&rec.meta);
            tasks.insert(rec.meta.task_id.clone(), Task::new(rec));
        }
        tracing::info!(store = %store.describe(), tasks = tasks.len(), "upload queue ready");
        let for_tasks = store.clone();
        let workers = cfg.workers.max(1);
        let inner = Arc::new(Inner {
            journal,
            on_task: Box::new(move |m| for_tasks.task_known(m)),
            cfg,
            tasks: Mutex::new(tasks),
            wake: tokio::sync::Notify::new(),
        });
        for _ in 0..workers {
            tokio::spawn(worker(inner.clone(), store.clone()));
        }
        let (intake, rx) = std::sync::mpsc::channel::<Intake>();
        let me = Self { inner, intake };
        let q = me.clone();
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
                        } => q.add_slice(&task, seq, &path, start_ms, duration_ms),
                        Intake::End { task } => q.end_task(&task),
                    };
                    if let Err(e) = r {
                        tracing::error!("upload queue: {e}");
                    }
                }
            })
            .map_err(|e| UploadError::Journal {
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
        self.inner
            .lock()
            .insert(rec.meta.task_id.clone(), Task::new(rec));
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
        let mut tasks = self.inner.lock();
        let t = tasks
            .get_mut(task_id)
            .ok_or_else(|| UploadError::UnknownTask(task_id.to_owned()))?;
        if t.rec.slices.iter().all(|s| s.seq != seq) {
            t.rec.slices.push(SliceRecord {
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
            t.rec.slices.sort_by_key(|s| s.seq);
            self.inner.journal.save(&t.rec)?;
        }
        drop(tasks);
        self.inner.wake.notify_waiters();
        Ok(())
    }

    /// The recording ended: once every slice is stored, the manifest follows.
    pub fn end_task(&self, task_id: &str) -> Result<(), UploadError> {
        let mut tasks = self.inner.lock();
        if tasks.get(task_id).is_some_and(|t| t.rec.slices.is_empty()) {
            // Nothing was recorded: nothing to upload.
            tasks.remove(task_id);
            self.inner.journal.remove(task_id);
        } else if let Some(t) = tasks.get_mut(task_id) {
            t.rec.recording = false;
            self.inner.journal.save(&t.rec)?;
        }
        drop(tasks);
        self.inner.wake.notify_waiters();
        Ok(())
    }

    /// Every task with work to upload, or uploaded less than `keep_uploaded` ago.
    pub fn status(&self) -> Vec<TaskStatus> {
        let keep = self.inner.cfg.keep_uploaded;
        let mut tasks = self.inner.lock();
        let expired: Vec<String> = tasks
            .iter()
            .filter(|(_, t)| t.done_at.is_some_and(|d| d.elapsed() > keep))
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            tasks.remove(&id);
            self.inner.journal.remove(&id);
        }
        tasks
            .iter()
            .map(|(id, t)| {
                let secs = |f: &dyn Fn(&SliceRecord) -> bool| {
                    t.rec
                        .slices
                        .iter()
                        .filter(|s| f(s))
                        .map(|s| s.duration_ms)
                        .sum::<u64>()
                        / 1000
                };
                let confirmed = t
                    .rec
                    .slices
                    .iter()
                    .filter(|s| s.state == SliceState::Confirmed)
                    .count();
                let state = match (&t.error, t.rec.manifest_stored) {
                    (_, true) => "uploaded",
                    (Some((_, true)), _) => "upload failed",
                    (Some((_, false)), _) => "wait",
                    _ if !t.in_flight.is_empty() || t.manifest_in_flight => "uploading",
                    _ => "wait",
                };
                TaskStatus {
                    task_id: id.clone(),
                    state,
                    uploaded_secs: secs(&|s| s.state == SliceState::Confirmed),
                    total_secs: secs(&|_| true),
                    slices: (confirmed, t.rec.slices.len()),
                    error: t.error.as_ref().map(|(e, _)| e.clone()),
                }
            })
            .collect()
    }
}
