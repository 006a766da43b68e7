//! The durable record of every task with work to upload: one JSON file per task
//! in the journal directory, replaced atomically (write, fsync, rename, fsync
//! the directory) at every change, so a kill at any instruction leaves either
//! the old or the new record, never a torn one.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use txcr_storage::{Chapter, TaskPath};

use crate::UploadError;

/// Where a slice is on its way to storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SliceState {
    /// Waiting for an uploader.
    Queued,
    /// Stored and verified.
    Confirmed,
}

/// A multipart upload in progress: resumable after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Multipart {
    /// The storage's upload id.
    pub upload_id: String,
    /// Bytes per part (the last one is shorter).
    pub part_size: u64,
    /// Parts stored so far: (part number from 1, ETag).
    pub parts: Vec<(i32, String)>,
}

/// One slice of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SliceRecord {
    /// 1-based sequence number.
    pub seq: u32,
    /// The local file.
    pub path: PathBuf,
    /// Bytes.
    pub bytes: u64,
    /// Recording-timeline start, ms.
    pub start_ms: u64,
    /// Length, ms.
    pub duration_ms: u64,
    /// MD5 of the file, lower-case hex.
    pub md5: String,
    /// Upload state.
    pub state: SliceState,
    /// The storage's ETag once confirmed.
    #[serde(default)]
    pub etag: Option<String>,
    /// A multipart upload under way (large slices).
    #[serde(default)]
    pub multipart: Option<Multipart>,
}

/// Who and what a task is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskMeta {
    /// Task id.
    pub task_id: String,
    /// Application.
    pub sdkappid: u64,
    /// Class (room).
    pub class_id: u64,
    /// Teacher.
    pub user_id: String,
    /// Unix seconds when recording started.
    pub start_time: u64,
    /// The recording's `DstPath` (slices are named after it).
    pub dst: PathBuf,
}

impl TaskMeta {
    /// The task's place in the bucket layout.
    pub fn task_path(&self) -> TaskPath {
        TaskPath {
            sdkappid: self.sdkappid,
            class_id: self.class_id,
            task_id: self.task_id.clone(),
        }
    }
}

/// A task's whole record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRecord {
    /// Who and what.
    pub meta: TaskMeta,
    /// Still being recorded (more slices may come).
    pub recording: bool,
    /// Slices in order.
    pub slices: Vec<SliceRecord>,
    /// The manifest object is stored (the task is complete in storage).
    pub manifest_stored: bool,
    /// Unix seconds when everything was stored.
    #[serde(default)]
    pub uploaded_at: Option<u64>,
    /// Chapters marked so far, in the order they were marked; they go into
    /// the manifest, so a chapter journaled before a crash still arrives.
    #[serde(default)]
    pub chapters: Vec<Chapter>,
}

/// The journal directory.
#[derive(Debug, Clone)]
pub struct Journal {
    dir: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> UploadError + '_ {
    move |source| UploadError::Journal {
        path: path.to_owned(),
        source,
    }
}

impl Journal {
    /// A journal in `dir` (created if missing).
    pub fn open(dir: &Path) -> Result<Self, UploadError> {
        fs::create_dir_all(dir).map_err(io(dir))?;
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    fn path_of(&self, task_id: &str) -> PathBuf {
        // Task ids are ours (digits and dashes); keep anything else out of paths.
        let safe: String = task_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join(format!("{safe}.json"))
    }

    /// Write a task's record durably.
    pub fn save(&self, t: &TaskRecord) -> Result<(), UploadError> {
        let path = self.path_of(&t.meta.task_id);
        let tmp = path.with_extension("json.tmp");
        let bytes =
            serde_json::to_vec_pretty(t).map_err(|e| UploadError::Corrupt(e.to_string()))?;
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(&bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        fs::rename(&tmp, &path).map_err(io(&path))?;
        // The rename itself must reach the disk before we act on it.
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.dir))?;
        Ok(())
    }

    /// Every task on record; unreadable files are reported and skipped.
    pub fn load_all(&self) -> Vec<TaskRecord> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut tasks: Vec<TaskRecord> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .filter_map(|p| match fs::read(&p).ok().and_then(|b| serde_json::from_slice(&b).ok()) {
                Some(t) => Some(t),
                None => {
                    tracing::warn!(path = %p.display(), "unreadable upload journal entry skipped");
                    None
                }
            })
            .collect();
        tasks.sort_by(|a, b| a.meta.task_id.cmp(&b.meta.task_id));
        tasks
    }

    /// Forget a task (after it is uploaded and has aged off the list).
    pub fn remove(&self, task_id: &str) {
        let _ = fs::remove_file(self.path_of(task_id));
    }
}

/// A task record for unit tests: `slices` queued 5 s slices of 10 bytes.
#[cfg(test)]
pub(crate) fn sample_task(id: &str, slices: u32, recording: bool) -> TaskRecord {
    TaskRecord {
        meta: TaskMeta {
            task_id: id.into(),
            sdkappid: 1,
            class_id: 2,
            user_id: "t".into(),
            start_time: 3,
            dst: "/r/c.flv".into(),
        },
        recording,
        slices: (1..=slices)
            .map(|seq| SliceRecord {
                seq,
                path: format!("/r/c_{seq:04}.flv").into(),
                bytes: 10,
                start_ms: u64::from(seq - 1) * 5000,
                duration_ms: 5000,
                md5: "000102030405060708090a0b0c0d0e0f".into(),
                state: SliceState::Queued,
                etag: None,
                multipart: None,
            })
            .collect(),
        manifest_stored: false,
        uploaded_at: None,
        chapters: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str) -> TaskRecord {
        sample_task(id, 1, true)
    }

    #[test]
    fn saves_replace_atomically_and_load_back() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(dir.path()).unwrap();
        let mut t = task("1-2");
        j.save(&t).unwrap();
        t.slices[0].state = SliceState::Confirmed;
        j.save(&t).unwrap();
        std::fs::write(dir.path().join("junk.json"), b"{not json").unwrap();
        std::fs::write(dir.path().join("1-3.json.tmp"), b"torn").unwrap();
        assert_eq!(j.load_all(), vec![t]);
        j.remove("1-2");
        assert!(j.load_all().is_empty());
    }
}
