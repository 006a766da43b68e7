//! Which upload comes next, and what each outcome does to a task: a pure
//! table over the queue's tasks. The caller passes the instant and does the
//! I/O (journal, files, storage) the answers ask for.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use txcr_storage::{Layout, Leaf, Manifest, ManifestSlice, ObjectKey, StoreError};

use crate::journal::{SliceState, TaskRecord};

/// Where a task is, as `GetState.Upload` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadState {
    /// Nothing is moving: waiting for work, or retrying a transient error.
    Wait,
    /// An upload is under way.
    Uploading,
    /// Every slice and the manifest are stored.
    Uploaded,
    /// The storage refused; retried after a pause.
    Failed,
}

impl UploadState {
    /// The contract's word: `wait` | `uploading` | `uploaded` | `upload failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Wait => "wait",
            Self::Uploading => "uploading",
            Self::Uploaded => "uploaded",
            Self::Failed => "upload failed",
        }
    }
}

impl std::fmt::Display for UploadState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A task as `GetState.Upload` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskStatus {
    /// Task id.
    pub task_id: String,
    /// Where it is.
    pub state: UploadState,
    /// Seconds of video whose slices are confirmed.
    pub uploaded_secs: u64,
    /// Seconds recorded in the task (finished slices).
    pub total_secs: u64,
    /// Slices stored / known.
    pub slices: (usize, usize),
    /// Why the last attempt failed, if it did.
    pub error: Option<String>,
}

/// Why the last attempt of a task failed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    /// Transient: the worker is still trying.
    Retrying(String),
    /// Permanent: the task waits for its retry.
    Refused(String),
}

#[derive(Debug)]
struct Task {
    rec: TaskRecord,
    in_flight: BTreeSet<u32>,
    manifest_in_flight: bool,
    failure: Option<Failure>,
    retry_at: Option<Instant>,
    done_at: Option<Instant>,
}

/// One object to store.
#[derive(Debug, Clone)]
pub(crate) enum Job {
    /// A slice file.
    Slice {
        key: ObjectKey,
        path: PathBuf,
        md5: [u8; 16],
        bytes: u64,
    },
    /// A task's manifest, after its last slice.
    Manifest { key: ObjectKey, body: Vec<u8> },
}

impl Job {
    /// Where it goes.
    pub(crate) fn key(&self) -> &ObjectKey {
        match self {
            Self::Slice { key, .. } | Self::Manifest { key, .. } => key,
        }
    }

    fn task_id(&self) -> &str {
        &self.key().task().task_id
    }
}

/// What the caller must do after an outcome.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Effects {
    /// Journal the task's record (then act on the rest).
    pub save: bool,
    /// Delete this local slice once the record is saved.
    pub delete: Option<PathBuf>,
}

/// The queue's tasks and the decisions over them.
#[derive(Debug)]
pub(crate) struct Schedule {
    layout: Layout,
    tasks: BTreeMap<String, Task>,
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

impl Schedule {
    /// No tasks; keys under `layout`.
    pub(crate) fn new(layout: Layout) -> Self {
        Self {
            layout,
            tasks: BTreeMap::new(),
        }
    }

    /// Add (or replace) a task; one stored before (a restart) starts its
    /// time on the list anew at `now`.
    pub(crate) fn insert(&mut self, rec: TaskRecord, now: Instant) {
        let done_at = rec.manifest_stored.then_some(now);
        self.tasks.insert(
            rec.meta.task_id.clone(),
            Task {
                rec,
                in_flight: BTreeSet::new(),
                manifest_in_flight: false,
                failure: None,
                retry_at: None,
                done_at,
            },
        );
    }

    /// A task's record.
    pub(crate) fn record(&self, id: &str) -> Option<&TaskRecord> {
        self.tasks.get(id).map(|t| &t.rec)
    }

    /// A task's record, to change (the caller journals it).
    pub(crate) fn record_mut(&mut self, id: &str) -> Option<&mut TaskRecord> {
        self.tasks.get_mut(id).map(|t| &mut t.rec)
    }

    /// Forget a task.
    pub(crate) fn remove(&mut self, id: &str) {
        self.tasks.remove(id);
    }

    /// The next object to store, marked as in flight: a queued slice of the
    /// first task not waiting for a retry, else a complete task's manifest.
    pub(crate) fn take_job(&mut self, now: Instant) -> Option<Job> {
        for t in self.tasks.values_mut() {
            if t.retry_at.is_some_and(|at| at > now) || t.rec.manifest_stored {
                continue;
            }
            let task = t.rec.meta.task_path();
            if let Some(s) = t
                .rec
                .slices
                .iter()
                .find(|s| s.state == SliceState::Queued && !t.in_flight.contains(&s.seq))
            {
                t.in_flight.insert(s.seq);
                return Some(Job::Slice {
                    key: self.layout.key(&task, Leaf::Slice(s.seq)),
                    path: s.path.clone(),
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
                    key: self.layout.key(&task, Leaf::Manifest),
                    body: manifest(&self.layout, &t.rec).to_bytes(),
                });
            }
        }
        None
    }

    /// A transient error on the way: shown while the worker keeps trying.
    pub(crate) fn retrying(&mut self, job: &Job, e: &StoreError) {
        if let Some(t) = self.tasks.get_mut(job.task_id()) {
            t.failure = Some(Failure::Retrying(e.to_string()));
        }
    }

    /// Apply a job's outcome (the ETag, or the error that ended the attempt)
    /// at `now` (and `unix_now`, seconds, for the record).
    pub(crate) fn finished(
        &mut self,
        job: &Job,
        result: &Result<String, StoreError>,
        (now, unix_now): (Instant, u64),
        retry_after: Duration,
        delete_local: bool,
    ) -> Effects {
        let Some(t) = self.tasks.get_mut(job.task_id()) else {
            return Effects::default();
        };
        let leaf = job.key().leaf();
        match leaf {
            Leaf::Slice(seq) => {
                t.in_flight.remove(&seq);
            }
            _ => t.manifest_in_flight = false,
        }
        let etag = match result {
            Ok(etag) => etag.clone(),
            Err(e) => {
                t.failure = Some(Failure::Refused(e.to_string()));
                t.retry_at = Some(now + retry_after);
                return Effects::default();
            }
        };
        t.failure = None;
        t.retry_at = None;
        let mut delete = None;
        match leaf {
            Leaf::Slice(seq) => {
                if let Some(s) = t.rec.slices.iter_mut().find(|x| x.seq == seq) {
                    s.state = SliceState::Confirmed;
                    s.etag = Some(etag);
                    delete = delete_local.then(|| s.path.clone());
                }
            }
            _ => {
                t.rec.manifest_stored = true;
                t.rec.uploaded_at = Some(unix_now);
                t.done_at = Some(now);
            }
        }
        Effects { save: true, delete }
    }

    /// Drop the tasks uploaded more than `keep` before `now`; their ids.
    pub(crate) fn expire(&mut self, now: Instant, keep: Duration) -> Vec<String> {
        let old: Vec<String> = self
            .tasks
            .iter()
            .filter(|(_, t)| t.done_at.is_some_and(|d| now.duration_since(d) > keep))
            .map(|(id, _)| id.clone())
            .collect();
        for id in &old {
            self.tasks.remove(id);
        }
        old
    }

    /// Every task as `GetState` shows it.
    pub(crate) fn status(&self) -> Vec<TaskStatus> {
        self.tasks.iter().map(|(id, t)| status(id, t)).collect()
    }
}

fn status(id: &str, t: &Task) -> TaskStatus {
    let secs = |confirmed_only: bool| {
        t.rec
            .slices
            .iter()
            .filter(|s| !confirmed_only || s.state == SliceState::Confirmed)
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
    let state = match (&t.failure, t.rec.manifest_stored) {
        (_, true) => UploadState::Uploaded,
        (Some(Failure::Refused(_)), _) => UploadState::Failed,
        (Some(Failure::Retrying(_)), _) => UploadState::Wait,
        _ if !t.in_flight.is_empty() || t.manifest_in_flight => UploadState::Uploading,
        _ => UploadState::Wait,
    };
    TaskStatus {
        task_id: id.to_owned(),
        state,
        uploaded_secs: secs(true),
        total_secs: secs(false),
        slices: (confirmed, t.rec.slices.len()),
        error: t.failure.as_ref().map(|f| match f {
            Failure::Retrying(m) | Failure::Refused(m) => m.clone(),
        }),
    }
}

fn manifest(layout: &Layout, r: &TaskRecord) -> Manifest {
    let m = &r.meta;
    let task = m.task_path();
    Manifest {
        task_id: m.task_id.clone(),
        sdk_app_id: m.sdkappid,
        class_id: m.class_id,
        user_id: m.user_id.clone(),
        start_time: m.start_time,
        slices: r
            .slices
            .iter()
            .map(|s| ManifestSlice {
                seq: s.seq,
                key: layout.key(&task, Leaf::Slice(s.seq)).as_str().to_owned(),
                bytes: s.bytes,
                start_ms: s.start_ms,
                duration_ms: s.duration_ms,
                md5: s.md5.clone(),
            })
            .collect(),
        chapters: {
            let mut c = r.chapters.clone();
            c.sort_by_key(|c| c.start_ms);
            c
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::sample_task as task;

    fn state(s: &Schedule) -> UploadState {
        s.status()[0].state
    }

    const RETRY: Duration = Duration::from_secs(60);

    #[test]
    fn slices_in_order_then_the_manifest_once_recording_ended() {
        let now = Instant::now();
        let mut s = Schedule::new(Layout::new("p"));
        s.insert(task("a", 2, true), now);
        let jobs: Vec<Job> = std::iter::from_fn(|| s.take_job(now)).collect();
        let keys: Vec<&str> = jobs.iter().map(|j| j.key().as_str()).collect();
        assert_eq!(keys, ["p/1/2/a/0001.flv", "p/1/2/a/0002.flv"]);
        assert!(matches!(&jobs[0], Job::Slice { md5, .. } if md5[15] == 15));
        assert_eq!(state(&s), UploadState::Uploading);
        for j in &jobs {
            let fx = s.finished(j, &Ok("etag".into()), (now, 7), RETRY, true);
            assert!(fx.save && fx.delete.is_some());
        }
        assert_eq!(
            s.take_job(now).map(|j| j.key().leaf()),
            None,
            "still recording"
        );
        let rec = s.record_mut("a").expect("task");
        rec.recording = false;
        let chapter = |start_ms, title: &str| txcr_storage::Chapter {
            start_ms,
            title: title.into(),
        };
        // Marked in this order: the app's at 9 s, then the screen's (its
        // intake came later) at 4 s.
        rec.chapters = vec![chapter(9000, "Questions"), chapter(4000, "Slide 2")];
        let m = s.take_job(now).expect("the manifest");
        let Job::Manifest { key, body } = &m else {
            panic!("{m:?}")
        };
        assert_eq!(key.as_str(), "p/1/2/a/manifest.json");
        let parsed = Manifest::parse(body).expect("a manifest");
        assert_eq!(parsed.slices[1].key, "p/1/2/a/0002.flv");
        assert_eq!(
            parsed.chapters,
            [chapter(4000, "Slide 2"), chapter(9000, "Questions")],
            "in time order"
        );
        assert!(s.take_job(now).is_none(), "one manifest in flight");
        s.finished(&m, &Ok(String::new()), (now, 7), RETRY, false);
        assert_eq!(s.record("a").and_then(|r| r.uploaded_at), Some(7));
        assert_eq!(state(&s), UploadState::Uploaded);
        assert_eq!(s.status()[0].slices, (2, 2));
        assert!(s
            .expire(now + Duration::from_secs(5), Duration::from_secs(10))
            .is_empty());
        assert_eq!(
            s.expire(now + Duration::from_secs(11), Duration::from_secs(10)),
            ["a"]
        );
    }

    #[test]
    fn a_refused_task_waits_for_its_retry_and_others_go_on() {
        let now = Instant::now();
        let mut s = Schedule::new(Layout::default());
        s.insert(task("a", 1, false), now);
        s.insert(task("b", 1, false), now);
        let a = s.take_job(now).expect("a's slice");
        let refused = StoreError::Permanent("AccessDenied".into());
        assert_eq!(
            s.finished(&a, &Err(refused.clone()), (now, 7), RETRY, true),
            Effects::default()
        );
        let st = &s.status()[0];
        assert_eq!(
            (st.state, st.error.as_deref()),
            (UploadState::Failed, Some(refused.to_string().as_str()))
        );
        let b = s.take_job(now).expect("b goes on");
        assert_eq!(b.key().as_str(), "1/2/b/0001.flv");
        assert!(s.take_job(now + Duration::from_secs(59)).is_none());
        let again = s.take_job(now + Duration::from_secs(61)).expect("a again");
        assert_eq!(again.key().as_str(), "1/2/a/0001.flv");
    }

    #[test]
    fn a_transient_error_shows_as_wait_with_its_reason() {
        let now = Instant::now();
        let mut s = Schedule::new(Layout::default());
        s.insert(task("a", 1, true), now);
        let j = s.take_job(now).expect("a slice");
        s.retrying(&j, &StoreError::Transient("503".into()));
        let st = &s.status()[0];
        assert_eq!(st.state, UploadState::Wait);
        assert!(st.error.as_deref().is_some_and(|e| e.contains("503")));
        s.finished(&j, &Ok("e".into()), (now, 7), RETRY, false);
        let st = &s.status()[0];
        assert_eq!(
            (st.state, st.error.clone(), st.uploaded_secs),
            (UploadState::Wait, None, 5)
        );
    }
}
