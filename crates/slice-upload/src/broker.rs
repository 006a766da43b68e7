//! Brokered uploads: the teacher's machine holds no bucket keys. For each
//! object it asks the backend (`TXCR_BACKEND_URL`) for a presigned PUT URL,
//! proving who it is with the user's UserSig, and once a task's manifest is
//! stored it tells the backend the task is complete, so the splice starts at
//! once. Slices go up in one PUT each (presigned URLs allow up to 5 GB; the
//! store does not upload in parts), so multipart resume does not apply here;
//! a failed PUT is simply sent again.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use base64::Engine;
use serde::de::DeserializeOwned;
use serde_json::Value;
use txcr_storage::broker::{
    Caller, Envelope, PresignAnswer, PresignRequest, COMPLETE_PATH, PRESIGN_PATH,
};
use txcr_storage::{Leaf, ObjectKey, StoreError};

use crate::creds::BrokerCreds;
use crate::journal::TaskMeta;
use crate::store::{checked_etag, ObjectStore};

/// An [`ObjectStore`] that uploads through URLs the backend presigns.
#[derive(Debug)]
pub struct BrokeredStore {
    base: String,
    http: reqwest::Client,
    creds: BrokerCreds,
    /// Task id → its teacher.
    users: Mutex<HashMap<String, String>>,
}

impl BrokeredStore {
    /// Upload through the backend at `base_url` with users' UserSigs from `creds`.
    pub fn new(base_url: &str, creds: BrokerCreds) -> Result<Self, StoreError> {
        let http = reqwest::Client::builder()
            .user_agent("txcloudrecord")
            .build()
            .map_err(|e| StoreError::Permanent(format!("HTTP client: {e}")))?;
        Ok(Self {
            base: base_url.trim_end_matches('/').to_owned(),
            http,
            creds,
            users: Mutex::new(HashMap::new()),
        })
    }

    /// Who asks for `key`'s task.
    fn caller(&self, key: &ObjectKey) -> Result<Caller, StoreError> {
        let task = key.task();
        let user = self
            .users
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&task.task_id)
            .cloned()
            .ok_or_else(|| StoreError::Permanent(format!("unknown task {}", task.task_id)))?;
        let sig = self.creds.get(task.sdkappid, &user).ok_or_else(|| {
            StoreError::Permanent(format!(
                "no UserSig for {user}: Init again so uploads can be authorised"
            ))
        })?;
        Ok(Caller {
            sdk_app_id: task.sdkappid,
            class_id: task.class_id,
            task_id: task.task_id.clone(),
            user_id: user,
            user_sig: sig,
        })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<T, StoreError> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .json(body)
            .timeout(std::time::Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| StoreError::Transient(format!("backend unreachable: {e}")))?;
        let status = r.status();
        let v: Value = r
            .json()
            .await
            .map_err(|e| StoreError::Transient(format!("backend answer: {e}")))?;
        let err = &v["Response"]["Error"];
        if status.is_success() && err.is_null() {
            return serde_json::from_value::<Envelope<T>>(v)
                .map(|e| e.response)
                .map_err(|e| StoreError::Transient(format!("backend answer: {e}")));
        }
        let msg = format!("backend refused: {} {}", err["Code"], err["Message"]);
        if status.is_server_error() {
            Err(StoreError::Transient(msg))
        } else {
            Err(StoreError::Permanent(msg))
        }
    }

    /// A presigned URL for `key`, and who asked.
    async fn presigned(&self, key: &ObjectKey) -> Result<(String, Caller), StoreError> {
        let caller = self.caller(key)?;
        let leaf = key.leaf().name();
        let req = PresignRequest {
            caller,
            objects: vec![leaf.clone()],
        };
        let answer: PresignAnswer = self.call(PRESIGN_PATH, &req).await?;
        let url = answer
            .urls
            .get(&leaf)
            .cloned()
            .ok_or_else(|| StoreError::Transient("the backend sent no URL".into()))?;
        Ok((url, req.caller))
    }

    async fn put(
        &self,
        url: &str,
        body: reqwest::Body,
        md5: Option<[u8; 16]>,
        ct: &str,
    ) -> Result<String, StoreError> {
        let mut req = self.http.put(url).header("Content-Type", ct).body(body);
        if let Some(m) = md5 {
            req = req.header(
                "Content-MD5",
                base64::engine::general_purpose::STANDARD.encode(m),
            );
        }
        let r = req
            .send()
            .await
            .map_err(|e| StoreError::Transient(format!("storage unreachable: {e}")))?;
        let status = r.status();
        if status.is_success() {
            let etag = r
                .headers()
                .get("etag")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .trim_matches('"')
                .to_owned();
            return Ok(etag);
        }
        let msg = format!("storage answered {status} to the presigned PUT");
        // A URL that expired on the way is presigned again on the next try.
        if status.is_server_error() || status.as_u16() == 403 || status.as_u16() == 429 {
            Err(StoreError::Transient(msg))
        } else {
            Err(StoreError::Permanent(msg))
        }
    }
}

impl ObjectStore for BrokeredStore {
    fn task_known(&self, meta: &TaskMeta) {
        self.users
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(meta.task_id.clone(), meta.user_id.clone());
    }

    async fn put_file(
        &self,
        key: &ObjectKey,
        path: &Path,
        md5: [u8; 16],
    ) -> Result<String, StoreError> {
        let (url, _) = self.presigned(key).await?;
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| StoreError::Permanent(format!("reading {}: {e}", path.display())))?;
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(file));
        let etag = self.put(&url, body, Some(md5), "video/x-flv").await?;
        checked_etag(&etag, md5)
    }

    async fn put_bytes(
        &self,
        key: &ObjectKey,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), StoreError> {
        let (url, caller) = self.presigned(key).await?;
        let md5: [u8; 16] = {
            use md5::{Digest, Md5};
            Md5::digest(&bytes).into()
        };
        self.put(&url, bytes.into(), Some(md5), content_type)
            .await?;
        if key.leaf() == Leaf::Manifest {
            // The manifest is stored; the backend would also find it by its
            // scan, but being told starts the splice now.
            let told: Result<Value, _> = self.call(COMPLETE_PATH, &caller).await;
            if let Err(e) = told {
                tracing::warn!(error = %e, "could not tell the backend the task is complete; its scan will find it");
            }
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("presigned uploads brokered by {}", self.base)
    }
}
