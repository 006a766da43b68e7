//! What the backend tells the school's server: a finished recording as the
//! contract names its fields, in the callback and in the query API's list.

use serde::Serialize;

/// One recording (`record_info_list[]`, and the callback's fields).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RecordInfo {
    /// The class.
    pub room_id: i64,
    /// The teacher.
    pub user_id: String,
    /// The task.
    pub task_id: String,
    /// Unix seconds when recording started.
    pub start_time: i64,
    /// Unix seconds when the splice finished (the contract's spelling).
    pub splic_time: i64,
    /// Always `mp4`.
    pub video_output_type: &'static str,
    /// `<sdkappid>_<class>_<task>`.
    pub video_output_id: String,
    /// A signed link to the MP4.
    pub video_output_url: String,
    /// Bytes.
    pub video_output_size: i64,
    /// Milliseconds.
    pub video_output_duration: i64,
    /// Extension: the recording's chapters, ms from its start, in time
    /// order (empty when none were marked).
    pub chapters: Vec<txcr_storage::Chapter>,
}

/// The callback body: the record's fields plus the app.
#[derive(Debug, Clone, Serialize)]
pub struct Callback {
    /// The recording.
    #[serde(flatten)]
    pub record: RecordInfo,
    /// The application.
    #[serde(rename = "SdkAppId")]
    pub sdk_app_id: i64,
}

/// The query API's answer (errors too: then `finish` and an empty list).
#[derive(Debug, Clone, Serialize)]
pub struct QueryAnswer {
    /// 0, or the query API's error code.
    pub error_code: i64,
    /// Why, if not 0.
    pub error_msg: String,
    /// No more pages.
    pub finish: bool,
    /// Records matching, over all pages.
    pub total: i64,
    /// This page.
    pub record_info_list: Vec<RecordInfo>,
}

/// One task of a class, as the `tasks` extension lists it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskInfo {
    /// The task.
    pub task_id: String,
    /// Its teacher.
    pub user_id: String,
    /// `recording` (slices arriving, no manifest yet) | `pending` |
    /// `running` | `done` | `failed`.
    pub state: String,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// Its live replay playlist (HLS), for a task not spliced yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub playlist_url: Option<String>,
    /// When it began, about (unix s), for a `recording` task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<i64>,
}

/// The `tasks` extension's answer.
#[derive(Debug, Clone, Serialize)]
pub struct TasksAnswer {
    /// 0.
    pub error_code: i64,
    /// Empty.
    pub error_msg: String,
    /// Every task of the class.
    pub task_list: Vec<TaskInfo>,
}

/// The `delete` extension's answer.
#[derive(Debug, Clone, Serialize)]
pub struct DeleteAnswer {
    /// 0, or the query API's error code.
    pub error_code: i64,
    /// Why, if not 0.
    pub error_msg: String,
    /// The tasks removed from the index.
    pub deleted_task_list: Vec<String>,
    /// Objects removed from storage (every slice, manifest and MP4).
    pub deleted_objects: usize,
}
