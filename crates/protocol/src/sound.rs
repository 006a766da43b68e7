//! The sound fields of the extension: which sounds a recording takes
//! (`StartRecord.AudioSources`) and how each is doing
//! (`GetState.Record.AudioSources`).

use serde::{Deserialize, Serialize};

/// A sound of the class, as named in `AudioSources`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SoundKind {
    /// The teacher's microphone.
    Mic,
    /// What the recorded application plays (only its processes where the
    /// platform allows, else the whole system output).
    App,
    /// Everything the machine plays.
    System,
}

impl SoundKind {
    /// Every kind, in the order they are mixed and shown.
    pub const ALL: [Self; 3] = [Self::Mic, Self::App, Self::System];

    /// Its name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mic => "mic",
            Self::App => "app",
            Self::System => "system",
        }
    }

    /// The kind named `name` (`mic`, `app`, `system`, case-blind).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(name.trim()))
    }
}

/// One entry of `GetState.Record.AudioSources`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AudioSourceView {
    /// `mic`, `app`, `system` (`tone` with the test pattern).
    #[serde(rename = "Name")]
    pub name: String,
    /// What it records from.
    #[serde(rename = "Device")]
    pub device: String,
    /// `on` | `silent` (only digital silence for 10 s) | `failed` (nothing
    /// arrives; being reopened) | `unavailable` (could not start).
    #[serde(rename = "State")]
    pub state: String,
    /// Loudest sample over the last second, dBFS (-120 for nothing).
    #[serde(rename = "PeakDb")]
    pub peak_db: i32,
    /// RMS over the last second, dBFS.
    #[serde(rename = "RmsDb")]
    pub rms_db: i32,
    /// Sample frames lost (late, or the recorder behind).
    #[serde(rename = "Dropped")]
    pub dropped: u64,
    /// Why it is not quite what was asked for (a fallback), or why it failed.
    #[serde(rename = "Note", skip_serializing_if = "Option::is_none", default)]
    pub note: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_and_write_their_wire_names() {
        assert_eq!(SoundKind::parse(" MIC "), Some(SoundKind::Mic));
        assert_eq!(SoundKind::parse("speakers"), None);
        assert_eq!(
            serde_json::to_string(&[SoundKind::App, SoundKind::System]).ok(),
            Some(r#"["app","system"]"#.to_owned())
        );
    }
}
