//! What each command does: the session decides, the recorder records.

use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

use serde_json::{json, Value};
use txcr_protocol::{
    ApiError, ErrorCode, Init, PreviewView, RecordView, Request, StartRecord, StateView, UploadView,
};
use txcr_recorder::{Recording, Stats, Watch};
use txcr_slice_upload::{BrokerCreds, UploadQueue};
use txcr_state::{Caller, Command, RecordState, Session};

use crate::config::Config;
use crate::errors;
use crate::task::{self, unix_now, Task};

/// How long GetPreview waits for the capture thread's picture (a frame at the
/// slowest rate, 1 fps, plus slack).
const PREVIEW_WAIT: std::time::Duration = std::time::Duration::from_millis(2500);

/// The result of a command: the `Response` fields, and whether the service
/// should shut down once the answer is sent.
#[derive(Debug)]
pub struct Outcome {
    /// `Response` fields.
    pub fields: Value,
    /// Exit requested.
    pub exit: bool,
}

#[derive(Debug, Default)]
struct Inner {
    session: Session,
    task: Option<Task>,
    /// Why the last recording ended on its own, and its code.
    last_error: Option<(String, Option<i32>)>,
    /// An error the client has not been told yet (disk full): it is the answer
    /// to the next command.
    untold: Option<ApiError>,
}

/// What `GetState` shows, as the last command left it: published by every
/// command before it answers, so a `GetState` that arrives while a command
/// runs (a StartRecord opening the encoder, a GetPreview waiting for the
/// next frame) answers at once from here instead of waiting for the session.
#[derive(Debug, Default)]
struct Shown {
    session: Session,
    task_id: Option<String>,
    /// The running recording's counters.
    recording: Option<Watch>,
    /// Final stats once the recording has stopped.
    last: Option<Stats>,
    last_error: Option<(String, Option<i32>)>,
}

impl Shown {
    fn of(inner: &Inner) -> Self {
        let task = inner.task.as_ref();
        Self {
            session: inner.session.clone(),
            task_id: task.map(|t| t.id.clone()),
            recording: task.and_then(|t| t.recording.as_ref().map(Recording::watch)),
            last: task.and_then(|t| t.last.clone()),
            last_error: inner.last_error.clone(),
        }
    }
}

/// The local service, independent of HTTP.
#[derive(Debug)]
pub struct Service {
    cfg: Config,
    uploads: Option<UploadQueue>,
    /// Brokered uploads: each user's UserSig, remembered at Init.
    creds: Option<BrokerCreds>,
    inner: Mutex<Inner>,
    /// Locked only to swap or clone the `Arc`, never while working.
    shown: Mutex<Arc<Shown>>,
}

impl Service {
    /// A service with these settings.
    pub fn new(cfg: Config, uploads: Option<UploadQueue>, creds: Option<BrokerCreds>) -> Self {
        Self {
            cfg,
            uploads,
            creds,
            inner: Mutex::new(Inner::default()),
            shown: Mutex::new(Arc::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The session, unless a command holds it.
    fn try_lock(&self) -> Option<MutexGuard<'_, Inner>> {
        match self.inner.try_lock() {
            Ok(g) => Some(g),
            Err(TryLockError::Poisoned(e)) => Some(e.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    fn publish(&self, inner: &Inner) {
        let shown = Arc::new(Shown::of(inner));
        *self.shown.lock().unwrap_or_else(|e| e.into_inner()) = shown;
    }

    fn shown(&self) -> Arc<Shown> {
        self.shown.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Run one command for `caller`. Blocks while a recording starts or
    /// stops; `GetState` never does (see [`Shown`]).
    pub fn handle(&self, req: Request, caller: &Caller) -> Result<Outcome, ApiError> {
        let ok = |fields| {
            Ok(Outcome {
                fields,
                exit: false,
            })
        };
        match req {
            Request::GetState => self.state(caller, true).and_then(|v| ok(v.to_json())),
            Request::GetPreview { max_width } => self.preview(max_width, caller),
            req => {
                let mut inner = self.lock();
                let result = self.command(&mut inner, req, caller);
                self.publish(&inner);
                result
            }
        }
    }

    /// What `GetState` answers `caller`: the session's state when no command
    /// holds it (a recording that ended on its own is taken down first),
    /// else the state the last command left. `take_untold`: answer an error
    /// the client has not been told yet instead (a command does; the event
    /// stream leaves it for the next command).
    fn state(&self, caller: &Caller, take_untold: bool) -> Result<StateView, ApiError> {
        if let Some(mut inner) = self.try_lock() {
            let reaped = reap(&mut inner);
            let untold = if take_untold {
                inner.untold.take()
            } else {
                None
            };
            if reaped || untold.is_some() {
                self.publish(&inner);
            }
            if let Some(e) = untold {
                return Err(e);
            }
        }
        let shown = self.shown();
        shown
            .session
            .check(Command::GetState, caller)
            .map_err(|e| errors::state(&e))?;
        Ok(state_view(&shown, self.uploads.as_ref()))
    }

    /// GetPreview: checked under the session, then waits for the picture
    /// without holding it (up to a frame interval), so other commands and
    /// `GetState` go on meanwhile.
    fn preview(&self, max_width: u32, caller: &Caller) -> Result<Outcome, ApiError> {
        let watch = {
            let mut inner = self.lock();
            if reap(&mut inner) {
                self.publish(&inner);
            }
            if let Some(e) = inner.untold.take() {
                self.publish(&inner);
                return Err(e);
            }
            inner
                .session
                .check(Command::GetPreview, caller)
                .map_err(|e| errors::state(&e))?;
            let rec = inner.task.as_ref().and_then(|t| t.recording.as_ref());
            rec.map(Recording::watch).ok_or_else(|| {
                ApiError::new(ErrorCode::NotAllowedInState, "nothing is being recorded")
            })?
        };
        let t = watch
            .preview(max_width, PREVIEW_WAIT)
            .map_err(|e| errors::record(&e))?;
        Ok(Outcome {
            fields: PreviewView::new(t.width, t.height, t.pts.as_millis() as u64, &t.png).to_json(),
            exit: false,
        })
    }

    /// Every command but GetState and GetPreview, under the session.
    fn command(
        &self,
        inner: &mut Inner,
        req: Request,
        caller: &Caller,
    ) -> Result<Outcome, ApiError> {
        reap(inner);
        if let Some(e) = inner.untold.take() {
            return Err(e);
        }
        let ok = |fields| {
            Ok(Outcome {
                fields,
                exit: false,
            })
        };
        match req {
            Request::Init(init) => self.init(inner, init, caller).and_then(|()| ok(json!({}))),
            Request::StartRecord(s) => self.start(inner, &s, caller).and_then(|()| ok(json!({}))),
            Request::StopRecord => transition(inner, Command::StopRecord, caller, |t| {
                task::stop(t);
            })
            .and_then(|()| ok(json!({}))),
            Request::PauseRecord => transition(inner, Command::PauseRecord, caller, |t| {
                t.recording.iter().for_each(Recording::pause);
            })
            .and_then(|()| ok(json!({}))),
            Request::ResumeRecord => transition(inner, Command::ResumeRecord, caller, |t| {
                t.recording.iter().for_each(Recording::resume);
            })
            .and_then(|()| ok(json!({}))),
            Request::AddChapter { title } => {
                inner
                    .session
                    .check(Command::AddChapter, caller)
                    .map_err(|e| errors::state(&e))?;
                let task = inner.task.as_mut().ok_or_else(|| {
                    ApiError::new(ErrorCode::NotAllowedInState, "nothing is being recorded")
                })?;
                let (index, at) = task::add_chapter(task, title)?;
                ok(json!({"Index": index, "Pts": at.as_millis() as u64}))
            }
            // Answered by `handle` without the session lock.
            Request::GetState | Request::GetPreview { .. } => Err(ApiError::new(
                ErrorCode::RecorderFailed,
                "internal error: a reading command reached the session",
            )),
            Request::Exit => {
                inner
                    .session
                    .check(Command::Exit, caller)
                    .map_err(|e| errors::state(&e))?;
                self.finish(inner);
                Ok(Outcome {
                    fields: json!({}),
                    exit: true,
                })
            }
        }
    }

    /// What `GetState` would answer `caller` now, for the event stream.
    /// Unlike a command, it leaves an untold error for the next command to
    /// answer.
    pub fn snapshot(&self, caller: &Caller) -> Result<StateView, ApiError> {
        self.state(caller, false)
    }

    /// Stop a running recording cleanly (Exit, signals, shutdown).
    pub fn shutdown(&self) {
        let mut inner = self.lock();
        self.finish(&mut inner);
        self.publish(&inner);
    }

    fn finish(&self, inner: &mut Inner) {
        if let Some(t) = inner.task.as_mut() {
            task::stop(t);
        }
        inner.session.recording_ended();
    }

    fn init(&self, inner: &mut Inner, init: Init, caller: &Caller) -> Result<(), ApiError> {
        inner
            .session
            .check(Command::Init, caller)
            .map_err(|e| errors::state(&e))?;
        inner.session.auth_started();
        match txcr_auth::verify_user_sig(
            &self.cfg.apps,
            init.sdk_app_id,
            &init.user_id,
            &init.user_sig,
            unix_now(),
        ) {
            Ok(v) => {
                if let Some(c) = &self.creds {
                    c.set(v.sdkappid, &v.identifier, &init.user_sig);
                }
                inner
                    .session
                    .auth_succeeded(caller.clone(), v.identifier, v.sdkappid);
                Ok(())
            }
            Err(e) => {
                tracing::warn!(user = %init.user_id, "Init refused: {e}");
                inner.session.auth_failed();
                Err(errors::auth(&e))
            }
        }
    }

    fn start(&self, inner: &mut Inner, s: &StartRecord, caller: &Caller) -> Result<(), ApiError> {
        inner
            .session
            .check(Command::StartRecord, caller)
            .map_err(|e| errors::state(&e))?;
        let user = inner
            .session
            .user()
            .map(|(u, a)| (u.to_owned(), a))
            .unwrap_or_default();
        let task = crate::task::start(
            &self.cfg,
            &self.cfg.record_root,
            self.uploads.as_ref(),
            s,
            user,
            None,
        )?;
        inner.task = Some(task);
        inner.last_error = None;
        inner.session.commit(Command::StartRecord);
        Ok(())
    }
}

/// Check a recording command, do its work on the current task, commit.
fn transition(
    inner: &mut Inner,
    cmd: Command,
    caller: &Caller,
    work: impl FnOnce(&mut Task),
) -> Result<(), ApiError> {
    inner
        .session
        .check(cmd, caller)
        .map_err(|e| errors::state(&e))?;
    if let Some(t) = inner.task.as_mut() {
        work(t);
    }
    inner.session.commit(cmd);
    Ok(())
}

/// A recording that ended on its own (capture or disk failure) goes back to
/// Idle. Whether one did.
fn reap(inner: &mut Inner) -> bool {
    let Some(t) = inner.task.as_mut() else {
        return false;
    };
    if t.recording.as_ref().is_some_and(Recording::has_ended) {
        task::stop(t);
        let (why, disk_full) = t
            .last
            .as_ref()
            .map_or((None, false), |s| (s.failure.clone(), s.disk_full));
        if let Some(why) = why {
            let code = disk_full.then_some(ErrorCode::DiskFull);
            if let Some(c) = code {
                inner.untold = Some(ApiError::new(c, format!("recording stopped: {why}")));
            }
            inner.last_error = Some((why, code.map(ErrorCode::code)));
        }
        inner.session.recording_ended();
        return true;
    }
    false
}

fn state_view(shown: &Shown, uploads: Option<&UploadQueue>) -> StateView {
    let s = &shown.session;
    let stats = shown
        .recording
        .as_ref()
        .map(Watch::stats)
        .or_else(|| shown.last.clone());
    let recording = s.record() != RecordState::Idle;
    let duration = stats
        .as_ref()
        .filter(|_| recording)
        .map_or(0, |st| st.recorded.as_secs());
    let stats = stats.unwrap_or_default();
    StateView {
        user_id: s.user().map(|(u, _)| u.to_owned()).unwrap_or_default(),
        auth_state: s.auth().as_str().into(),
        record: RecordView {
            state: s.record().as_str().into(),
            duration,
            task_id: shown.task_id.clone(),
            frames: stats.frames,
            dropped_frames: stats.dropped,
            slices: stats
                .slices
                .iter()
                .map(|f| f.path.display().to_string())
                .collect(),
            audio: stats.audio.to_string(),
            audio_sources: stats.sources.iter().map(source_view).collect(),
            warnings: if recording {
                stats.sources.iter().filter_map(|h| h.warning()).collect()
            } else {
                Vec::new()
            },
            capture: stats.look.map(|l| l.to_string()),
            last_error: shown.last_error.as_ref().map(|(m, _)| m.clone()),
            last_error_code: shown.last_error.as_ref().and_then(|(_, c)| *c),
        },
        upload: uploads.map_or_else(Vec::new, |q| {
            let current = shown
                .task_id
                .as_deref()
                .filter(|_| shown.recording.is_some());
            q.status()
                .into_iter()
                .map(|st| {
                    let is_current = current == Some(st.task_id.as_str());
                    UploadView {
                        state: st.state.as_str().into(),
                        duration: st.uploaded_secs,
                        // The running task's total includes what is being recorded now.
                        total: if is_current {
                            st.total_secs.max(duration)
                        } else {
                            st.total_secs
                        },
                        is_current_recording: is_current,
                        slices: st.slices.1 as u64,
                        stored_slices: st.slices.0 as u64,
                        last_error: st.error,
                        id: st.task_id,
                    }
                })
                .collect()
        }),
    }
}

/// `GetState.Record.AudioSources[i]` from a source's health.
fn source_view(h: &txcr_recorder::SourceHealth) -> txcr_protocol::AudioSourceView {
    use txcr_recorder::SourceState;
    let why = match &h.state {
        SourceState::Failed(why) | SourceState::Unavailable(why) => Some(why.clone()),
        SourceState::On | SourceState::Silent => None,
    };
    txcr_protocol::AudioSourceView {
        name: h.label.clone(),
        device: h.device.clone(),
        state: h.state.word().into(),
        peak_db: h.level.peak_db.round() as i32,
        rms_db: h.level.rms_db.round() as i32,
        dropped: h.dropped,
        note: why.or_else(|| h.note.clone()),
    }
}
