//! The wire of brokered uploads: a teacher's machine holds no bucket keys and
//! asks the backend for presigned PUT URLs, proving who it is with the
//! user's UserSig.
//!
//! `POST /v1/upload/presign` [`PresignRequest`] → `{"Response": `[`PresignAnswer`]`}`;
//! `POST /v1/tasks/complete` [`Caller`] → `{"Response": `[`CompleteAnswer`]`}`.
//! Errors come in the Tencent-Cloud envelope `{"Response":{"Error":{"Code","Message"},"RequestId"}}`.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::layout::TaskPath;

/// Where the presign request goes.
pub const PRESIGN_PATH: &str = "/v1/upload/presign";
/// Where a client says a task's manifest is stored.
pub const COMPLETE_PATH: &str = "/v1/tasks/complete";
/// Objects one presign request may name.
pub const MAX_OBJECTS: usize = 100;

/// Who asks, for which task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Caller {
    /// Application (a number, or its digits as a string).
    #[serde(deserialize_with = "number")]
    pub sdk_app_id: u64,
    /// Class (a number, or its digits as a string).
    #[serde(deserialize_with = "number")]
    pub class_id: u64,
    /// The task.
    #[serde(default)]
    pub task_id: String,
    /// The teacher.
    #[serde(default)]
    pub user_id: String,
    /// The teacher's UserSig.
    #[serde(default)]
    pub user_sig: String,
}

impl Caller {
    /// The task's place (`None` if its id is unusable in keys).
    pub fn task(&self) -> Option<TaskPath> {
        TaskPath::new(self.sdk_app_id, self.class_id, &self.task_id)
    }
}

/// Presigned PUT URLs for objects of one task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PresignRequest {
    /// Who asks.
    #[serde(flatten)]
    pub caller: Caller,
    /// Leaf names (`0001.flv`, `manifest.json`), 1 to [`MAX_OBJECTS`].
    pub objects: Vec<String>,
}

/// The presigned URLs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PresignAnswer {
    /// Request id.
    pub request_id: String,
    /// Seconds each URL stays valid.
    pub expires_in: u64,
    /// Leaf name → URL.
    pub urls: BTreeMap<String, String>,
}

/// The answer to a completed task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CompleteAnswer {
    /// Request id.
    pub request_id: String,
    /// Whether the task was new to the backend.
    pub added: bool,
}

/// The success envelope `{"Response": …}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Envelope<T> {
    /// The answer.
    pub response: T,
}

fn number<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrDigits {
        Number(u64),
        Digits(String),
    }
    match NumberOrDigits::deserialize(d)? {
        NumberOrDigits::Number(n) => Ok(n),
        NumberOrDigits::Digits(s) => s
            .parse()
            .map_err(|_| serde::de::Error::custom("expected a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_presign_request_as_clients_send_it() {
        let r: PresignRequest = serde_json::from_str(
            r#"{"SdkAppId":1400000000,"ClassId":"42","TaskId":"t","UserId":"u","UserSig":"s","Objects":["0001.flv"]}"#,
        )
        .expect("a request");
        assert_eq!((r.caller.sdk_app_id, r.caller.class_id), (1400000000, 42));
        let back = serde_json::to_value(&r).expect("json");
        assert_eq!(back["Objects"][0], "0001.flv");
        assert_eq!(back["UserSig"], "s");
        assert!(serde_json::from_str::<Caller>(r#"{"SdkAppId":"x","ClassId":1}"#).is_err());
        assert!(serde_json::from_str::<Caller>(r#"{"ClassId":1}"#).is_err());
    }
}
