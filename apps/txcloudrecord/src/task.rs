//! Starting one recording task from a StartRecord: the destination, the
//! picture and sound sources, the encoder settings and the hand-off of each
//! finished slice to the upload queue. Shared by the HTTP service and the
//! one-shot `record` command.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use txcr_capture::audio::{self, SoundOf, ToneSource};
use txcr_capture::{open_window, FrameSource, Region, TestPattern, WindowTarget};
use txcr_mux::FinishedSlice;
use txcr_protocol::{ApiError, ErrorCode, SoundKind, StartRecord, Target};
use txcr_recorder::{
    resolve_dst, ChapterHook, Recording, RecordingSpec, SliceHook, SoundInput, Stats,
};
use txcr_slice_upload::{TaskMeta, UploadQueue};
use txcr_storage::Chapter;

use crate::config::{CaptureMode, Config};
use crate::errors;

/// Size of the virtual window the test pattern stands for.
const PATTERN_SIZE: (u32, u32) = (1280, 720);

/// A recording task: its recording while it runs, its final stats after.
#[derive(Debug)]
pub struct Task {
    /// `<ClassId>-<unix ms>`.
    pub id: String,
    /// Running recording.
    pub recording: Option<Recording>,
    /// Final stats once the recording has stopped.
    pub last: Option<Stats>,
    /// The upload queue, when this task's slices are being uploaded.
    pub upload: Option<UploadQueue>,
    /// Chapters marked by `AddChapter` when nothing is uploaded (with an
    /// upload queue, the journal counts them).
    pub chapters_unsent: usize,
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn task_id(class_id: u64) -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!("{class_id}-{ms}")
}

/// Start recording `s` under `root` for `user` (UserId, SdkAppId); slices go
/// to `uploads` when `s.enable_upload` and a queue is given. With a `limit`,
/// the recording ends on its own after that much recorded time.
pub fn start(
    cfg: &Config,
    root: &Path,
    uploads: Option<&UploadQueue>,
    s: &StartRecord,
    (user, sdkappid): (String, u64),
    limit: Option<Duration>,
) -> Result<Task, ApiError> {
    let class_id = s.class_id.unwrap_or_else(|| {
        tracing::warn!("StartRecord without ClassId: recording as class 0");
        0
    });
    let id = task_id(class_id);
    let dst = s
        .dst_path
        .clone()
        .unwrap_or_else(|| format!("{class_id}/{id}.flv"));
    let dst = resolve_dst(root, &dst).map_err(|e| errors::record(&e.into()))?;
    let source = source(cfg, s)?;
    let mut spec = RecordingSpec::new(dst.clone(), s.video_fps, s.slice_time);
    spec.bitrate = s.video_bps;
    spec.x264 = cfg.x264.clone();
    spec.min_free_bytes = cfg.min_free_mb << 20;
    spec.limit = limit;
    let audio = if s.enable_audio {
        sounds(cfg, s, source.pid())
    } else {
        Vec::new()
    };
    let upload = uploads.filter(|_| s.enable_upload).cloned();
    if s.enable_upload && upload.is_none() {
        tracing::warn!(
            "EnableUpload: no storage is configured (TXCR_S3_BUCKET); slices stay on disk"
        );
    }
    if let Some(q) = &upload {
        let meta = TaskMeta {
            task_id: id.clone(),
            sdkappid,
            class_id,
            user_id: user,
            start_time: unix_now(),
            dst: dst.clone(),
        };
        q.begin_task(meta)
            .map_err(|e| ApiError::new(ErrorCode::RecorderFailed, format!("upload queue: {e}")))?;
        if s.auto_chapters.unwrap_or(cfg.auto_chapters) {
            let (q, task) = (q.clone(), id.clone());
            spec.on_slide = Some(ChapterHook(Arc::new(move |at: Duration, title: &str| {
                let chapter = Chapter {
                    start_ms: at.as_millis() as u64,
                    title: title.to_owned(),
                };
                q.queue_chapter(&task, chapter);
            })));
        }
        let (q, task) = (q.clone(), id.clone());
        spec.on_slice = Some(SliceHook(Arc::new(move |f: &FinishedSlice| {
            q.queue_slice(
                &task,
                f.info.seq,
                &f.path,
                f.info.start_ms,
                f.info.duration_ms(),
            );
        })));
    }
    let recording = match Recording::start(source, audio, spec) {
        Ok(r) => r,
        Err(e) => {
            if let Some(q) = &upload {
                q.finish_task(&id);
            }
            return Err(errors::record(&e));
        }
    };
    tracing::info!(task = %id, dst = %dst.display(), fps = s.video_fps, slice = s.slice_time, "recording started");
    Ok(Task {
        id,
        recording: Some(recording),
        last: None,
        upload,
        chapters_unsent: 0,
    })
}

/// `AddChapter`: mark the recording's current time as a chapter titled
/// `title`, journaled before this returns. Its index among the task's
/// chapters (from 0) and its time. Without uploads the chapter has nowhere
/// to go: it is answered and logged.
pub fn add_chapter(t: &mut Task, title: String) -> Result<(usize, Duration), ApiError> {
    let Some(rec) = &t.recording else {
        return Err(ApiError::new(
            ErrorCode::NotAllowedInState,
            "nothing is being recorded",
        ));
    };
    let at = rec.now();
    tracing::info!(task = %t.id, ms = at.as_millis() as u64, %title, "chapter");
    let chapter = Chapter {
        start_ms: at.as_millis() as u64,
        title,
    };
    let index = match &t.upload {
        Some(q) => q
            .add_chapter(&t.id, chapter)
            .map_err(|e| ApiError::new(ErrorCode::RecorderFailed, format!("upload queue: {e}")))?,
        None => {
            t.chapters_unsent += 1;
            t.chapters_unsent - 1
        }
    };
    Ok((index, at))
}

/// Stop the task's recording (drained, last slice finished) and tell the
/// upload queue no more slices come.
pub fn stop(t: &mut Task) {
    if let Some(rec) = t.recording.take() {
        match rec.stop() {
            Ok(summary) => {
                tracing::info!(task = %t.id, slices = summary.stats.slices.len(), frames = summary.stats.frames, dropped = summary.stats.dropped, audio = %summary.stats.audio, "recording stopped");
                t.last = Some(summary.stats);
            }
            Err(e) => tracing::error!(task = %t.id, "recording did not stop cleanly: {e}"),
        }
        // Every slice is queued by now: the task may complete in storage.
        if let Some(q) = &t.upload {
            q.finish_task(&t.id);
        }
    }
}

fn source(cfg: &Config, s: &StartRecord) -> Result<Box<dyn FrameSource>, ApiError> {
    let region = Region {
        x: s.x,
        y: s.y,
        width: s.width,
        height: s.height,
    };
    match cfg.capture {
        CaptureMode::TestPattern => {
            let (w, h) = PATTERN_SIZE;
            Ok(Box::new(
                TestPattern::new(w, h, region).map_err(errors::capture)?,
            ))
        }
        _ => {
            let target = match &s.target {
                Target::Window(id) => WindowTarget::Id(*id),
                Target::Process(name) => WindowTarget::Process(name.clone()),
            };
            let source = open_window(&target, region, &cfg.window).map_err(errors::capture)?;
            tracing::info!(?target, look = ?source.look(), "recording a window");
            Ok(source)
        }
    }
}

/// The sounds to mix: a test tone with the test pattern, else those asked
/// for (`AudioSources`, or the configured default), each opened by the
/// capture crate's chooser. A sound that cannot be opened is still passed on:
/// its start fails with the reason, so `GetState` shows it unavailable.
fn sounds(cfg: &Config, s: &StartRecord, pid: Option<u32>) -> Vec<SoundInput> {
    if cfg.capture == CaptureMode::TestPattern {
        return vec![SoundInput::new("tone", Box::new(ToneSource::new(440.0)))];
    }
    let kinds = s.audio_sources.as_deref().unwrap_or(&cfg.audio_sources);
    let mut out = Vec::new();
    for &kind in kinds {
        let of = match kind {
            SoundKind::Mic => SoundOf::Mic,
            SoundKind::App => SoundOf::App { pid },
            SoundKind::System => SoundOf::System,
        };
        let opened = audio::open(of, cfg.audio_device.as_deref());
        // The app's sound fell back to the whole output, which is asked for too.
        if kind == SoundKind::App && opened.note.is_some() && kinds.contains(&SoundKind::System) {
            continue;
        }
        if let Some(note) = &opened.note {
            tracing::warn!(sound = kind.name(), "{note}");
        }
        let mut input =
            SoundInput::new(kind.name(), opened.source).gain_db(cfg.audio_gain_db.of(kind));
        input.note = opened.note;
        out.push(input);
    }
    out
}
