//! A typed, blocking client of the local command API: what a Rust classroom
//! app (and this project's tests and examples) uses to drive `txcloudrecord`.
//!
//! Owns: requests with the contract's field names ([`StartRecord`]), reading
//! the envelope into `Ok` or a [`ClientError::Api`] with its code, the
//! `GetState` answer as [`StateView`], the preview picture, and the live
//! event stream ([`Events`]).
//!
//! Does not own: the wire format itself (`txcr-protocol`, shared with the
//! service, so both sides read the same types) or UserSig generation
//! (`txcr-auth`; a real app gets UserSigs from its server).
//!
//! ```no_run
//! use txcr_client::{Client, StartRecord};
//!
//! let c = Client::new(37604);
//! c.init(1400000000, "teacher", "<UserSig from your server>")?;
//! c.start_record(&StartRecord::process("zoom", 7))?;
//! for event in c.events()?.take(20) {
//!     println!("{:?}", event?);
//! }
//! c.stop_record()?;
//! # Ok::<(), txcr_client::ClientError>(())
//! ```

mod events;

use std::time::Duration;

use serde_json::{json, Value};
pub use txcr_protocol::events::{Event, SliceEvent};
use txcr_protocol::PreviewView;
/// `StartRecord`'s body (the wire type is `txcr_protocol`'s).
pub use txcr_protocol::StartRecordBody as StartRecord;
pub use txcr_protocol::{ErrorCode, StateView, UploadView};

pub use events::Events;

/// The service's default port.
pub const DEFAULT_PORT: u16 = 37604;

/// What went wrong with a call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The service refused the command.
    #[error("{message} ({code})")]
    Api {
        /// The error code (-10000…).
        code: i32,
        /// The service's message.
        message: String,
    },
    /// The service could not be reached, or the connection failed.
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    /// The answer was not what the contract says.
    #[error("unexpected answer: {0}")]
    Protocol(String),
}

impl ClientError {
    /// The API error code, when the service refused the command.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Api { code, .. } => ErrorCode::from_code(*code),
            _ => None,
        }
    }
}

/// A preview picture (`GetPreview`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Recording time of the frame shown, milliseconds.
    pub pts_ms: u64,
    /// The PNG file.
    pub png: Vec<u8>,
}

/// A connection to one service.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    origin: Option<String>,
    http: reqwest::blocking::Client,
}

impl Client {
    /// The service on `127.0.0.1:port`.
    pub fn new(port: u16) -> Self {
        Self {
            base: format!("http://127.0.0.1:{port}/localrecord/v1/"),
            origin: None,
            http: reqwest::blocking::Client::builder()
                // StartRecord and StopRecord take a second or two at most.
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
        }
    }

    /// Send an `Origin` header with every request, as a web page of that
    /// origin would (for tests of the browser rules).
    pub fn with_origin(mut self, origin: &str) -> Self {
        self.origin = Some(origin.to_owned());
        self
    }

    fn post(&self, cmd: &str, body: &Value) -> Result<Value, ClientError> {
        let mut req = self.http.post(format!("{}{cmd}", self.base));
        if let Some(o) = &self.origin {
            req = req.header("Origin", o);
        }
        let text = req
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()?
            .text()?;
        response(&text)
    }

    /// `Init`.
    pub fn init(&self, sdkappid: u64, user_id: &str, user_sig: &str) -> Result<(), ClientError> {
        self.post(
            "Init",
            &json!({"SdkAppId": sdkappid, "UserId": user_id, "UserSig": user_sig}),
        )
        .map(drop)
    }

    /// `StartRecord`.
    pub fn start_record(&self, start: &StartRecord) -> Result<(), ClientError> {
        let body = serde_json::to_value(start).map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.post("StartRecord", &body).map(drop)
    }

    /// `PauseRecord`.
    pub fn pause_record(&self) -> Result<(), ClientError> {
        self.post("PauseRecord", &json!({})).map(drop)
    }

    /// `ResumeRecord`.
    pub fn resume_record(&self) -> Result<(), ClientError> {
        self.post("ResumeRecord", &json!({})).map(drop)
    }

    /// `StopRecord`: returns once the last slice is complete on disk.
    pub fn stop_record(&self) -> Result<(), ClientError> {
        self.post("StopRecord", &json!({})).map(drop)
    }

    /// `Exit`: the service stops (a running recording is finished first).
    pub fn exit(&self) -> Result<(), ClientError> {
        self.post("Exit", &json!({})).map(drop)
    }

    /// `GetState`.
    pub fn get_state(&self) -> Result<StateView, ClientError> {
        let v = self.post("GetState", &json!({}))?;
        StateView::from_json(&v).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// `GetPreview` (extension): the current picture, at most `max_width`
    /// pixels wide (`None`: the service's default, 320).
    pub fn get_preview(&self, max_width: Option<u32>) -> Result<Preview, ClientError> {
        let body = max_width.map_or_else(|| json!({}), |w| json!({ "MaxWidth": w }));
        let v = self.post("GetPreview", &body)?;
        let bad = |what: String| ClientError::Protocol(format!("GetPreview: {what}"));
        let p: PreviewView = serde_json::from_value(v).map_err(|e| bad(e.to_string()))?;
        let png = p
            .png()
            .ok_or_else(|| bad("Image is not a PNG data URL".into()))?;
        Ok(Preview {
            width: p.width,
            height: p.height,
            pts_ms: p.pts_ms,
            png,
        })
    }

    /// The live event stream (extension `GET Events`): the current state
    /// first, then every change. Blocks on each `next()` until an event comes.
    pub fn events(&self) -> Result<Events, ClientError> {
        let http = reqwest::blocking::Client::builder()
            .timeout(None::<Duration>)
            .build()?;
        let mut req = http.get(format!("{}Events", self.base));
        if let Some(o) = &self.origin {
            req = req.header("Origin", o);
        }
        let resp = req.header("Accept", "text/event-stream").send()?;
        let is_stream = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/event-stream"));
        if !is_stream {
            // Refused: the body is the usual envelope.
            let text = resp.text()?;
            response(&text)?;
            return Err(ClientError::Protocol(format!("Events answered {text}")));
        }
        Ok(Events::new(resp))
    }
}

/// The `Response` object of an answer, or its error.
fn response(text: &str) -> Result<Value, ClientError> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| ClientError::Protocol(format!("not JSON ({e}): {text:.200}")))?;
    let mut r = match v {
        Value::Object(mut o) => o
            .remove("Response")
            .ok_or_else(|| ClientError::Protocol(format!("no Response in {text:.200}")))?,
        _ => return Err(ClientError::Protocol(format!("not an object: {text:.200}"))),
    };
    if let Some(e) = r.get_mut("Error") {
        return Err(ClientError::Api {
            code: e["Code"].as_i64().unwrap_or(0) as i32,
            message: e["Message"].as_str().unwrap_or_default().to_owned(),
        });
    }
    Ok(r)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests
mod tests {
    use super::*;

    #[test]
    fn envelopes_become_values_or_coded_errors() {
        assert_eq!(response(r#"{"Response":{}}"#).unwrap(), json!({}));
        let e = response(r#"{"Response":{"Error":{"Code":-10006,"Message":"no"}}}"#).unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::NotAllowedInState));
        assert_eq!(e.to_string(), "no (-10006)");
        assert!(matches!(response("<html>"), Err(ClientError::Protocol(_))));
    }
}
