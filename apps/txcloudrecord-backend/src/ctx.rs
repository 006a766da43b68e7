//! The handles every part of the backend shares (passed, never global).

use serde_json::json;
use tokio::sync::Notify;

use crate::config::Config;
use crate::db::{now_ms, Db, Record};
use crate::metrics::Metrics;
use crate::storage::Storage;

/// Shared state of one backend instance.
#[derive(Debug)]
pub struct Ctx {
    pub cfg: Config,
    pub db: Db,
    pub storage: Storage,
    pub metrics: Metrics,
    /// This instance's name in job leases.
    pub me: String,
    /// Base of media links (the configured public URL, or the bound address).
    pub public_url: String,
    /// Wakes the splice worker when a task arrives.
    pub wake: Notify,
    /// Webhook client.
    pub http: reqwest::Client,
}

impl Ctx {
    /// A signed link to a record's MP4, valid for the configured time.
    pub fn media_url(&self, r: &Record) -> String {
        let expire = now_ms() / 1000 + self.cfg.media_link_ttl.as_secs() as i64;
        self.media_url_until(r, expire)
    }

    /// A signed link to a record's MP4, valid until `expire` (unix seconds).
    pub fn media_url_until(&self, r: &Record, expire: i64) -> String {
        let key = self
            .cfg
            .apps
            .get(&(r.sdkappid as u64))
            .map(|a| a.tickey.as_str())
            .unwrap_or_default();
        format!(
            "{}/media/{}/{}/{}.mp4?expire_time={expire}&sign={}",
            self.public_url,
            r.sdkappid,
            r.class_id,
            r.task_id,
            txcr_auth::media_sign(key, r.sdkappid, r.class_id, &r.task_id, expire)
        )
    }

    /// The contract's record fields (callback and query list).
    pub fn record_json(&self, r: &Record) -> serde_json::Value {
        json!({
            "RoomId": r.class_id,
            "UserId": r.user_id,
            "TaskId": r.task_id,
            "StartTime": r.start_time,
            "SplicTime": r.splice_time,
            "VideoOutputType": "mp4",
            "VideoOutputId": video_output_id(r),
            "VideoOutputUrl": self.media_url(r),
            "VideoOutputSize": r.video_size,
            "VideoOutputDuration": r.duration_ms,
        })
    }

    /// The callback body: the record fields plus SdkAppId.
    pub fn callback_body(&self, r: &Record) -> String {
        let mut v = self.record_json(r);
        v["SdkAppId"] = json!(r.sdkappid);
        v.to_string()
    }
}

/// The id of a record's MP4.
pub fn video_output_id(r: &Record) -> String {
    format!("{}_{}_{}", r.sdkappid, r.class_id, r.task_id)
}
