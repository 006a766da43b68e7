//! The live progress stream (extension): `GET /localrecord/v1/Events` answers
//! `text/event-stream` (server-sent events), so a client sees the recording
//! without polling `GetState`.
//!
//! Every event's `data` is one line of JSON:
//! - `state`: the whole `GetState` response object, first on connecting, then
//!   whenever any of it changes (state, duration, frames, uploads…);
//! - `slice`: a slice file was finished: `{"TaskId","Path","Index"}` (1-based);
//! - `upload`: an upload entry's state, stored duration or last error
//!   changed: the `GetState.Upload` entry;
//! - `error`: a recording ended on its own, or the stream cannot go on:
//!   `{"Code","Message"}`;
//! - `warning`: something the teacher can fix during class (a microphone
//!   recording only silence, a sound device gone): `{"Message"}`, once each
//!   time it begins (`GetState.Record.Warnings` lists those standing).
//!
//! The server derives `slice`, `upload`, `error` and `warning` from consecutive states
//! with [`diff`], so every event is backed by what `GetState` says.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{ApiError, StateView, UploadView};

/// One event of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // one event at a time, made and sent at once
pub enum Event {
    /// The `GetState` response now.
    State(StateView),
    /// A slice was finished.
    Slice(SliceEvent),
    /// An upload entry changed.
    Upload(UploadView),
    /// A warning began: `{"Message"}`.
    Warning {
        /// What the teacher should know.
        message: String,
    },
    /// An error: `{"Code","Message"}`.
    Error {
        /// The error code (-10005 disk full, …; 0 when the error has none).
        code: i32,
        /// What happened.
        message: String,
    },
}

/// `slice` event data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SliceEvent {
    /// The task the slice belongs to.
    #[serde(rename = "TaskId")]
    pub task_id: String,
    /// Its file.
    #[serde(rename = "Path")]
    pub path: String,
    /// 1 for the first slice of the task.
    #[serde(rename = "Index")]
    pub index: usize,
}

impl Event {
    /// The SSE event name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::State(_) => "state",
            Self::Slice(_) => "slice",
            Self::Upload(_) => "upload",
            Self::Warning { .. } => "warning",
            Self::Error { .. } => "error",
        }
    }

    /// The event's `data`, one line of JSON.
    pub fn data(&self) -> Value {
        match self {
            Self::State(s) => s.to_json(),
            Self::Slice(s) => serde_json::to_value(s).unwrap_or_default(),
            Self::Upload(u) => serde_json::to_value(u).unwrap_or_default(),
            Self::Warning { message } => serde_json::json!({ "Message": message }),
            Self::Error { code, message } => {
                serde_json::json!({ "Code": code, "Message": message })
            }
        }
    }

    /// An error event from an API error.
    pub fn error(e: &ApiError) -> Self {
        Self::Error {
            code: e.code.code(),
            message: e.message.clone(),
        }
    }

    /// The event as it goes on the wire: `event: …\ndata: …\n\n`.
    pub fn to_sse(&self) -> String {
        format!("event: {}\ndata: {}\n\n", self.name(), self.data())
    }

    /// Read an event from its name and data (as a client receives them).
    /// `None` for names this version does not know (skip them).
    pub fn parse(name: &str, data: &str) -> Option<Result<Self, serde_json::Error>> {
        let v: Value = match serde_json::from_str(data) {
            Ok(v) => v,
            Err(e) => return Some(Err(e)),
        };
        Some(match name {
            "state" => StateView::from_json(&v).map(Self::State),
            "slice" => serde_json::from_value(v).map(Self::Slice),
            "upload" => serde_json::from_value(v).map(Self::Upload),
            "warning" => Ok(Self::Warning {
                message: v["Message"].as_str().unwrap_or_default().to_owned(),
            }),
            "error" => Ok(Self::Error {
                code: v["Code"].as_i64().unwrap_or(0) as i32,
                message: v["Message"].as_str().unwrap_or_default().to_owned(),
            }),
            _ => return None,
        })
    }
}

/// The events that take a client from `prev` (`None`: it just connected) to
/// `next`: `slice`, `upload` and `error` events first, then `state` if
/// anything changed.
pub fn diff(prev: Option<&StateView>, next: &StateView) -> Vec<Event> {
    let mut out = Vec::new();
    let Some(prev) = prev else {
        return vec![Event::State(next.clone())];
    };
    if prev == next {
        return out;
    }
    let same_task = prev.record.task_id == next.record.task_id;
    let known = if same_task {
        prev.record.slices.len()
    } else {
        0
    };
    for (i, path) in next.record.slices.iter().enumerate().skip(known) {
        out.push(Event::Slice(SliceEvent {
            task_id: next.record.task_id.clone().unwrap_or_default(),
            path: path.clone(),
            index: i + 1,
        }));
    }
    for u in &next.upload {
        let before = prev.upload.iter().find(|p| p.id == u.id);
        if before.is_none_or(|b| {
            b.state != u.state || b.duration != u.duration || b.last_error != u.last_error
        }) {
            out.push(Event::Upload(u.clone()));
        }
    }
    for w in &next.record.warnings {
        if !same_task || !prev.record.warnings.contains(w) {
            out.push(Event::Warning { message: w.clone() });
        }
    }
    let error = (&next.record.last_error, next.record.last_error_code);
    if let (Some(message), code) = error {
        if (&prev.record.last_error, prev.record.last_error_code) != error || !same_task {
            out.push(Event::Error {
                code: code.unwrap_or(0),
                message: message.clone(),
            });
        }
    }
    out.push(Event::State(next.clone()));
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests
mod tests {
    use super::*;
    use crate::RecordView;

    fn state(task: &str, slices: &[&str], upload: &[(&str, u64)]) -> StateView {
        StateView {
            user_id: "t".into(),
            auth_state: "Auth Success".into(),
            record: RecordView {
                state: "Recording".into(),
                task_id: Some(task.into()),
                slices: slices.iter().map(|s| s.to_string()).collect(),
                ..RecordView::default()
            },
            upload: upload
                .iter()
                .map(|(id, d)| UploadView {
                    id: id.to_string(),
                    state: "uploading".into(),
                    duration: *d,
                    total: 10,
                    is_current_recording: true,
                    slices: 1,
                    stored_slices: 0,
                    last_error: None,
                })
                .collect(),
        }
    }

    #[test]
    fn a_new_client_gets_the_state_and_nothing_else() {
        let s = state("a", &["a_0001.flv"], &[("a", 5)]);
        assert_eq!(diff(None, &s), vec![Event::State(s.clone())]);
        assert_eq!(diff(Some(&s), &s), vec![]);
    }

    #[test]
    fn new_slices_uploads_and_errors_come_before_the_state() {
        let a = state("a", &["a_0001.flv"], &[("a", 0)]);
        let mut b = state("a", &["a_0001.flv", "a_0002.flv"], &[("a", 5)]);
        b.record.last_error = Some("disk full".into());
        b.record.last_error_code = Some(-10005);
        let names: Vec<_> = diff(Some(&a), &b).iter().map(Event::name).collect();
        assert_eq!(names, ["slice", "upload", "error", "state"]);
        let Event::Slice(s) = &diff(Some(&a), &b)[0] else {
            panic!()
        };
        assert_eq!((s.index, s.path.as_str()), (2, "a_0002.flv"));
        // The next task's slices count from its first.
        let c = state("c", &["c_0001.flv"], &[("a", 5)]);
        let Event::Slice(s) = &diff(Some(&b), &c)[0] else {
            panic!()
        };
        assert_eq!((s.index, s.task_id.as_str()), (1, "c"));
    }

    #[test]
    fn a_warning_goes_out_once_when_it_begins() {
        let a = state("a", &[], &[]);
        let mut b = a.clone();
        b.record.warnings = vec!["the microphone has recorded only silence".into()];
        let names: Vec<_> = diff(Some(&a), &b).iter().map(Event::name).collect();
        assert_eq!(names, ["warning", "state"]);
        let mut c = b.clone();
        c.record.duration = 12;
        let names: Vec<_> = diff(Some(&b), &c).iter().map(Event::name).collect();
        assert_eq!(names, ["state"], "a standing warning is not repeated");
        // Gone and back: told again.
        assert_eq!(diff(Some(&a), &c)[0].name(), "warning");
    }

    #[test]
    fn events_survive_the_wire() {
        let b = state("a", &["a_0001.flv"], &[("a", 5)]);
        let all = diff(Some(&state("a", &[], &[])), &b);
        let more = [
            Event::Error {
                code: -10005,
                message: "full".into(),
            },
            Event::Warning {
                message: "silent".into(),
            },
        ];
        for e in all.iter().chain(&more) {
            let sse = e.to_sse();
            let mut lines = sse.lines();
            let name = lines.next().unwrap().strip_prefix("event: ").unwrap();
            let data = lines.next().unwrap().strip_prefix("data: ").unwrap();
            assert_eq!(&Event::parse(name, data).unwrap().unwrap(), e);
        }
        assert!(Event::parse("later", "{}").is_none());
    }
}
