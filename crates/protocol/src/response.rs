use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::ApiError;

/// `{"Response": fields}`.
pub fn success(fields: Value) -> Vec<u8> {
    json!({ "Response": fields }).to_string().into_bytes()
}

/// `{"Response": {"Error": {"Code": …, "Message": …}}}`.
pub fn failure(e: &ApiError) -> Vec<u8> {
    json!({ "Response": { "Error": { "Code": e.code.code(), "Message": e.message } } })
        .to_string()
        .into_bytes()
}

/// One entry of `GetState.Upload`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadView {
    /// Task id.
    #[serde(rename = "Id")]
    pub id: String,
    /// `wait` | `uploading` | `uploaded` | `upload failed`.
    #[serde(rename = "State")]
    pub state: String,
    /// Seconds of video uploaded.
    #[serde(rename = "Duration")]
    pub duration: u64,
    /// Seconds recorded in the task.
    #[serde(rename = "Total")]
    pub total: u64,
    /// Whether it is the task being recorded now (the contract's spelling).
    #[serde(rename = "IsCurrentRecoding")]
    pub is_current_recording: bool,
    /// Extension: slices finished in the task so far.
    #[serde(rename = "Slices", default)]
    pub slices: u64,
    /// Extension: of those, slices whose upload is confirmed.
    #[serde(rename = "StoredSlices", default)]
    pub stored_slices: u64,
    /// Extension: why the last upload attempt failed, while the task is
    /// retrying (state `wait`) or waits for its next try (`upload failed`).
    #[serde(rename = "LastError", skip_serializing_if = "Option::is_none", default)]
    pub last_error: Option<String>,
}

/// `GetState.Record`, with extension fields after the contract's two (read
/// with defaults when absent, as from the original service).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RecordView {
    /// `Idle` | `Recording` | `Paused`.
    #[serde(rename = "State")]
    pub state: String,
    /// Seconds recorded so far (paused time excluded).
    #[serde(rename = "Duration")]
    pub duration: u64,
    /// Extension: id of the current (or last) task.
    #[serde(rename = "TaskId", skip_serializing_if = "Option::is_none", default)]
    pub task_id: Option<String>,
    /// Extension: frames written to the output so far.
    #[serde(rename = "Frames", default)]
    pub frames: u64,
    /// Extension: frames captured but dropped because the encoder fell behind.
    #[serde(rename = "DroppedFrames", default)]
    pub dropped_frames: u64,
    /// Extension: slice files finished so far.
    #[serde(rename = "Slices", default)]
    pub slices: Vec<String>,
    /// Extension: sound — `off`, `on: <device>`, `unavailable: <why>` (video
    /// only), `failed: <why>` (stopped mid-recording).
    #[serde(rename = "Audio", default)]
    pub audio: String,
    /// Extension: each sound source of the recording, its state and level.
    #[serde(rename = "AudioSources", default)]
    pub audio_sources: Vec<crate::AudioSourceView>,
    /// Extension: what the teacher should know now (a silent microphone, a
    /// sound device gone); each also goes out once as a `warning` event.
    #[serde(rename = "Warnings", default)]
    pub warnings: Vec<String>,
    /// Extension: what the capture applied beyond the window's pixels, where
    /// the platform decides it (Windows: `cursor on, border off`; the border
    /// is `on` on builds that cannot turn it off).
    #[serde(rename = "Capture", skip_serializing_if = "Option::is_none", default)]
    pub capture: Option<String>,
    /// Extension: why the last recording ended on its own, or a warning.
    #[serde(rename = "LastError", skip_serializing_if = "Option::is_none", default)]
    pub last_error: Option<String>,
    /// Extension: the error code of `LastError` when it has one (-10005 disk full).
    #[serde(
        rename = "LastErrorCode",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub last_error_code: Option<i32>,
}

/// The whole `GetState` response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StateView {
    /// `Auth.UserId` ("" before any successful Init).
    pub user_id: String,
    /// `Auth.State`.
    pub auth_state: String,
    /// `Record`.
    pub record: RecordView,
    /// `Upload`.
    pub upload: Vec<UploadView>,
}

impl StateView {
    /// The `Response` object's fields.
    pub fn to_json(&self) -> Value {
        json!({
            "Auth": { "UserId": self.user_id, "State": self.auth_state },
            "Record": self.record,
            "Upload": self.upload,
        })
    }

    /// Read a `Response` object as [`to_json`](Self::to_json) writes it.
    pub fn from_json(v: &Value) -> Result<Self, serde_json::Error> {
        #[derive(Deserialize)]
        struct Auth {
            #[serde(rename = "UserId", default)]
            user_id: String,
            #[serde(rename = "State")]
            state: String,
        }
        #[derive(Deserialize)]
        struct Wire {
            #[serde(rename = "Auth")]
            auth: Auth,
            #[serde(rename = "Record")]
            record: RecordView,
            #[serde(rename = "Upload", default)]
            upload: Vec<UploadView>,
        }
        let w = Wire::deserialize(v)?;
        Ok(Self {
            user_id: w.auth.user_id,
            auth_state: w.auth.state,
            record: w.record,
            upload: w.upload,
        })
    }
}

/// `GetPreview`'s answer (extension): a PNG of what is being recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewView {
    /// Picture width.
    #[serde(rename = "Width")]
    pub width: u32,
    /// Picture height.
    #[serde(rename = "Height")]
    pub height: u32,
    /// Milliseconds of recording time the picture shows.
    #[serde(rename = "Pts", default)]
    pub pts_ms: u64,
    /// The PNG as a data URL (`data:image/png;base64,…`), for an `<img>`.
    #[serde(rename = "Image")]
    pub image: String,
}

impl PreviewView {
    const DATA_URL: &'static str = "data:image/png;base64,";

    /// The answer for a `width`×`height` PNG showing `pts_ms`.
    pub fn new(width: u32, height: u32, pts_ms: u64, png: &[u8]) -> Self {
        use base64::Engine as _;
        Self {
            width,
            height,
            pts_ms,
            image: format!(
                "{}{}",
                Self::DATA_URL,
                base64::engine::general_purpose::STANDARD.encode(png)
            ),
        }
    }

    /// The PNG bytes of `image`; `None` when it is not a PNG data URL.
    pub fn png(&self) -> Option<Vec<u8>> {
        use base64::Engine as _;
        let b64 = self.image.strip_prefix(Self::DATA_URL)?;
        base64::engine::general_purpose::STANDARD.decode(b64).ok()
    }

    /// As the `Response` object.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests
mod tests {
    use super::*;

    #[test]
    fn a_preview_is_a_png_data_url_both_ways() {
        let p = PreviewView::new(320, 180, 1500, b"\x89PNG");
        let v = p.to_json();
        assert_eq!(v["Image"], "data:image/png;base64,iVBORw==");
        assert_eq!(
            (v["Width"].as_u64(), v["Pts"].as_u64()),
            (Some(320), Some(1500))
        );
        let back: PreviewView = serde_json::from_value(v).unwrap();
        assert_eq!(back.png().unwrap(), b"\x89PNG");
    }
    use crate::ErrorCode;

    #[test]
    fn envelopes_have_the_contract_shape() {
        let v: Value =
            serde_json::from_slice(&failure(&ApiError::invalid("Invalid parameter"))).unwrap();
        assert_eq!(
            v,
            json!({"Response":{"Error":{"Code":-10000,"Message":"Invalid parameter"}}})
        );
        let v: Value = serde_json::from_slice(&success(json!({}))).unwrap();
        assert_eq!(v, json!({"Response":{}}));
        assert_eq!(ErrorCode::DiskFull.code(), -10005);
    }

    #[test]
    fn state_uses_the_contract_spellings() {
        let s = StateView {
            user_id: "seven".into(),
            auth_state: "Auth Success".into(),
            record: RecordView {
                state: "Recording".into(),
                duration: 30,
                task_id: None,
                frames: 450,
                dropped_frames: 0,
                slices: vec![],
                audio: "off".into(),
                audio_sources: vec![],
                warnings: vec![],
                capture: None,
                last_error: None,
                last_error_code: None,
            },
            upload: vec![UploadView {
                id: "t".into(),
                state: "uploading".into(),
                duration: 0,
                total: 200,
                is_current_recording: true,
                slices: 2,
                stored_slices: 1,
                last_error: None,
            }],
        };
        let v = s.to_json();
        assert_eq!(v["Auth"], json!({"UserId":"seven","State":"Auth Success"}));
        assert_eq!(v["Record"]["State"], "Recording");
        assert_eq!(v["Record"]["Duration"], 30);
        assert_eq!(v["Upload"][0]["IsCurrentRecoding"], true);
        assert_eq!(v["Upload"][0]["Total"], 200);
        assert_eq!(StateView::from_json(&v).unwrap(), s);
        // The original service's answer, without our extension fields.
        let plain = json!({"Auth":{"UserId":"","State":"Not Authentication"},
            "Record":{"State":"Idle","Duration":0},"Upload":[]});
        assert_eq!(StateView::from_json(&plain).unwrap().record.state, "Idle");
    }
}
