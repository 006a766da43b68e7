//! StartRecord's body as a client writes it: the contract's names, fields
//! left out where the service's default should apply. Used by the Rust
//! client and by `txcloudrecord record`; the service parses bodies leniently
//! with [`crate::parse_request`] (what other clients send varies).

use serde::Serialize;

/// `StartRecord`'s fields with the contract's names; `None` leaves a field
/// out, so the service's default applies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct StartRecordBody {
    /// The window to record (X11 window id or HWND).
    #[serde(rename = "Wnd", skip_serializing_if = "Option::is_none")]
    pub wnd: Option<u64>,
    /// Or the executable whose largest window to record.
    #[serde(rename = "AppProc", skip_serializing_if = "Option::is_none")]
    pub app_proc: Option<String>,
    /// `.flv` path inside the recording root.
    #[serde(rename = "DstPath", skip_serializing_if = "Option::is_none")]
    pub dst_path: Option<String>,
    /// Region left.
    #[serde(rename = "x", skip_serializing_if = "Option::is_none")]
    pub x: Option<u32>,
    /// Region top.
    #[serde(rename = "y", skip_serializing_if = "Option::is_none")]
    pub y: Option<u32>,
    /// Region width (0 = the window's).
    #[serde(rename = "Width", skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Region height (0 = the window's).
    #[serde(rename = "Height", skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Frames per second (1–60; default 15).
    #[serde(rename = "VideoFps", skip_serializing_if = "Option::is_none")]
    pub video_fps: Option<u32>,
    /// Bits per second (default: automatic).
    #[serde(rename = "VideoBps", skip_serializing_if = "Option::is_none")]
    pub video_bps: Option<u32>,
    /// Record sound (default true).
    #[serde(rename = "EnableAudio", skip_serializing_if = "Option::is_none")]
    pub enable_audio: Option<bool>,
    /// Extension: which sounds to mix (default: the service's setting).
    #[serde(rename = "AudioSources", skip_serializing_if = "Option::is_none")]
    pub audio_sources: Option<Vec<crate::SoundKind>>,
    /// Upload slices (default true).
    #[serde(rename = "EnableUpload", skip_serializing_if = "Option::is_none")]
    pub enable_upload: Option<bool>,
    /// Slice length in seconds (default 300).
    #[serde(rename = "SliceTime", skip_serializing_if = "Option::is_none")]
    pub slice_time: Option<u32>,
    /// Extension: a chapter at each slide change (default: the service's
    /// setting).
    #[serde(rename = "AutoChapters", skip_serializing_if = "Option::is_none")]
    pub auto_chapters: Option<bool>,
    /// The class.
    #[serde(rename = "ClassId")]
    pub class_id: u64,
}

impl StartRecordBody {
    /// Record window `wnd` for class `class_id`, with the defaults.
    pub fn window(wnd: u64, class_id: u64) -> Self {
        Self {
            wnd: Some(wnd),
            class_id,
            ..Self::default()
        }
    }

    /// Record the largest window of executable `name` for class `class_id`.
    pub fn process(name: &str, class_id: u64) -> Self {
        Self {
            app_proc: Some(name.to_owned()),
            class_id,
            ..Self::default()
        }
    }

    /// Slices of `secs` seconds.
    pub fn slice_time(mut self, secs: u32) -> Self {
        self.slice_time = Some(secs);
        self
    }

    /// `fps` frames per second.
    pub fn fps(mut self, fps: u32) -> Self {
        self.video_fps = Some(fps);
        self
    }

    /// Sound on or off.
    pub fn audio(mut self, on: bool) -> Self {
        self.enable_audio = Some(on);
        self
    }

    /// Mix these sounds.
    pub fn sounds(mut self, kinds: &[crate::SoundKind]) -> Self {
        self.audio_sources = Some(kinds.to_vec());
        self
    }

    /// Upload on or off.
    pub fn upload(mut self, on: bool) -> Self {
        self.enable_upload = Some(on);
        self
    }

    /// Chapters at slide changes on or off.
    pub fn auto_chapters(mut self, on: bool) -> Self {
        self.auto_chapters = Some(on);
        self
    }

    /// Write to `path` (inside the recording root).
    pub fn dst_path(mut self, path: &str) -> Self {
        self.dst_path = Some(path.to_owned());
        self
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests
mod tests {
    use super::*;

    #[test]
    fn only_set_fields_go_on_the_wire_and_the_service_reads_them_back() {
        let s = StartRecordBody::window(4194305, 7)
            .slice_time(60)
            .audio(false);
        let body = serde_json::to_string(&s).unwrap();
        assert_eq!(
            body,
            r#"{"Wnd":4194305,"EnableAudio":false,"SliceTime":60,"ClassId":7}"#
        );
        let crate::Request::StartRecord(parsed) =
            crate::parse_request("StartRecord", body.as_bytes()).unwrap()
        else {
            panic!()
        };
        assert_eq!(parsed.target, crate::Target::Window(4194305));
        assert_eq!((parsed.slice_time, parsed.enable_audio), (60, false));
    }
}
