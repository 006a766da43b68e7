//! The task manifest: written by the local service after the last slice of a
//! task is confirmed, read by the backend to splice. Its presence means every
//! slice it lists is stored.

use serde::{Deserialize, Serialize};

use crate::layout::TaskPath;

/// `manifest.json` of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Manifest {
    /// Task id.
    pub task_id: String,
    /// Application.
    pub sdk_app_id: u64,
    /// Class (room).
    pub class_id: u64,
    /// Teacher.
    pub user_id: String,
    /// Unix seconds when recording started.
    pub start_time: u64,
    /// Every slice, in order.
    pub slices: Vec<ManifestSlice>,
    /// The chapters marked while recording, in time order (absent in
    /// manifests written before chapters existed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chapters: Vec<Chapter>,
}

/// A point of a recording a viewer can jump to: marked by the teacher's app
/// (`AddChapter`) or by a slide change. The same shape travels in the
/// manifest, the backend's records, the query API and the callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Chapter {
    /// Recording time (paused time excluded), ms.
    pub start_ms: u64,
    /// What the viewer sees.
    pub title: String,
}

/// One slice in a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ManifestSlice {
    /// From 1.
    pub seq: u32,
    /// Where the writer stored it (a reader follows its own layout instead).
    #[serde(default)]
    pub key: String,
    /// Bytes.
    pub bytes: u64,
    /// Recording-timeline start, ms.
    #[serde(default)]
    pub start_ms: u64,
    /// Length, ms.
    #[serde(default)]
    pub duration_ms: u64,
    /// MD5, lower-case hex.
    pub md5: String,
}

/// A manifest that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Not the manifest's JSON.
    #[error("manifest is not valid: {0}")]
    Json(#[from] serde_json::Error),
    /// The task id cannot be part of a key.
    #[error("manifest has an unusable TaskId")]
    TaskId,
}

impl Manifest {
    /// Read one; the task id must be usable in keys.
    pub fn parse(bytes: &[u8]) -> Result<Self, ManifestError> {
        let m: Self = serde_json::from_slice(bytes)?;
        m.task().ok_or(ManifestError::TaskId)?;
        Ok(m)
    }

    /// The JSON, as stored.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The task it describes (`None` if its id is unusable).
    pub fn task(&self) -> Option<TaskPath> {
        TaskPath::new(self.sdk_app_id, self.class_id, &self.task_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_local_service_writes() {
        let m = Manifest::parse(
            br#"{"TaskId":"t-1","SdkAppId":1400000000,"ClassId":42,"UserId":"teacher","StartTime":1700000000,
                 "Slices":[{"Seq":1,"Key":"p/1400000000/42/t-1/0001.flv","Bytes":10,"StartMs":0,"DurationMs":5000,"Md5":"00"}]}"#,
        )
        .expect("a manifest");
        assert_eq!(m.slices[0].duration_ms, 5000);
        assert_eq!(Manifest::parse(&m.to_bytes()).expect("round trip"), m);
        let text = String::from_utf8(m.to_bytes()).expect("utf-8");
        for field in [
            "\"TaskId\"",
            "\"SdkAppId\"",
            "\"StartMs\"",
            "\"DurationMs\"",
            "\"Md5\"",
        ] {
            assert!(text.contains(field), "{field} in {text}");
        }
    }

    #[test]
    fn refuses_unusable_ones() {
        assert!(matches!(
            Manifest::parse(b"{}"),
            Err(ManifestError::Json(_))
        ));
        assert!(matches!(
            Manifest::parse(br#"{"TaskId":"../x","SdkAppId":1,"ClassId":2,"UserId":"u","StartTime":0,"Slices":[]}"#),
            Err(ManifestError::TaskId)
        ));
    }
}
