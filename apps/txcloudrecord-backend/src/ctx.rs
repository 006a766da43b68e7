//! The handles every part of the backend shares (passed, never global).

use tokio::sync::Notify;

use crate::config::Config;
use crate::db::{now_ms, Db, Record};
use crate::live::Live;
use crate::metrics::Metrics;
use crate::storage::Storage;
use crate::wire::{Callback, RecordInfo};

/// Shared state of one backend instance.
#[derive(Debug)]
pub struct Ctx {
    pub cfg: Config,
    pub db: Db,
    pub storage: Storage,
    pub metrics: Metrics,
    /// What is known of the tasks watched live.
    pub live: Live,
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
    pub fn record_info(&self, r: &Record) -> RecordInfo {
        RecordInfo {
            room_id: r.class_id,
            user_id: r.user_id.clone(),
            task_id: r.task_id.clone(),
            start_time: r.start_time,
            splic_time: r.splice_time,
            video_output_type: "mp4",
            video_output_id: video_output_id(r),
            video_output_url: self.media_url(r),
            video_output_size: r.video_size,
            video_output_duration: r.duration_ms,
            chapters: r.chapters.clone(),
        }
    }

    /// The callback body: the record fields plus SdkAppId.
    pub fn callback_body(&self, r: &Record) -> String {
        let body = Callback {
            record: self.record_info(r),
            sdk_app_id: r.sdkappid,
        };
        serde_json::to_string(&body).unwrap_or_default()
    }
}

/// The id of a record's MP4.
pub fn video_output_id(r: &Record) -> String {
    format!("{}_{}_{}", r.sdkappid, r.class_id, r.task_id)
}
