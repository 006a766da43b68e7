//! Brokered uploads: the teacher's machine holds no bucket keys. For each
//! object it asks the backend (`TXCR_BACKEND_URL`) for a presigned PUT URL,
//! proving who it is with the user's UserSig, and once a task's manifest is
//! stored it tells the backend the task is complete, so the splice starts at
//! once. Slices go up in one PUT each (presigned URLs allow up to 5 GB; the
//! store does not upload in parts), so multipart resume does not apply here;
//! a failed PUT is simply sent again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine;
use serde_json::{json, Value};

use crate::journal::TaskMeta;
use crate::store::{checked_etag, ObjectStore, StoreError};

/// The UserSig of each user as given at Init, kept (0600) in the data
/// directory so tasks recovered after a restart can still upload.
#[derive(Debug, Clone)]
pub struct BrokerCreds {
    path: PathBuf,
    sigs: Arc<Mutex<HashMap<String, String>>>,
}

fn cred_key(app: u64, user: &str) -> String {
    format!("{app}/{user}")
}

impl BrokerCreds {
    /// Credentials stored at `path` (loaded if present).
    pub fn load(path: &Path) -> Self {
        let sigs = std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Self {
            path: path.to_owned(),
            sigs: Arc::new(Mutex::new(sigs)),
        }
    }

    /// Remember `sig` for `user` of `app` (replacing an older one).
    pub fn set(&self, app: u64, user: &str, sig: &str) {
        let mut m = self.sigs.lock().unwrap_or_else(|e| e.into_inner());
        if m.get(&cred_key(app, user)).map(String::as_str) == Some(sig) {
            return;
        }
        m.insert(cred_key(app, user), sig.to_owned());
        let tmp = self.path.with_extension("tmp");
        let written = serde_json::to_vec(&*m)
            .map_err(std::io::Error::other)
            .and_then(|b| write_private(&tmp, &b))
            .and_then(|()| std::fs::rename(&tmp, &self.path));
        if let Err(e) = written {
            tracing::warn!(error = %e, "cannot store upload credentials");
        }
    }

    fn get(&self, app: u64, user: &str) -> Option<String> {
        let m = self.sigs.lock().unwrap_or_else(|e| e.into_inner());
        m.get(&cred_key(app, user)).cloned()
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// An [`ObjectStore`] that uploads through URLs the backend presigns.
#[derive(Debug)]
pub struct BrokeredStore {
    base: String,
    http: reqwest::Client,
    creds: BrokerCreds,
    /// Task id → (app, class, user).
    tasks: Mutex<HashMap<String, (u64, u64, String)>>,
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
            tasks: Mutex::new(HashMap::new()),
        })
    }

    /// `<app>/<class>/<task>/<leaf>` → the identity fields for the backend.
    fn identity(&self, key: &str) -> Result<(Value, String), StoreError> {
        let parts: Vec<&str> = key.rsplitn(2, '/').collect();
        let (leaf, dir) = match parts.as_slice() {
            [leaf, dir] => (*leaf, *dir),
            _ => return Err(StoreError::Permanent(format!("unexpected key {key}"))),
        };
        let task = dir.rsplit('/').next().unwrap_or_default();
        let (app, class, user) = self
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(task)
            .cloned()
            .ok_or_else(|| StoreError::Permanent(format!("unknown task {task}")))?;
        let sig = self.creds.get(app, &user).ok_or_else(|| {
            StoreError::Permanent(format!(
                "no UserSig for {user}: Init again so uploads can be authorised"
            ))
        })?;
        let id = json!({"SdkAppId": app, "ClassId": class, "TaskId": task,
                        "UserId": user, "UserSig": sig});
        Ok((id, leaf.to_owned()))
    }

    async fn call(&self, path: &str, body: &Value) -> Result<Value, StoreError> {
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
            return Ok(v["Response"].clone());
        }
        let msg = format!("backend refused: {} {}", err["Code"], err["Message"]);
        if status.is_server_error() {
            Err(StoreError::Transient(msg))
        } else {
            Err(StoreError::Permanent(msg))
        }
    }

    async fn presigned(&self, key: &str) -> Result<(String, Value, String), StoreError> {
        let (mut id, leaf) = self.identity(key)?;
        id["Objects"] = json!([leaf]);
        let r = self.call("/v1/upload/presign", &id).await?;
        let url = r["Urls"][&leaf]
            .as_str()
            .ok_or_else(|| StoreError::Transient("the backend sent no URL".into()))?
            .to_owned();
        Ok((url, id, leaf))
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
        self.tasks.lock().unwrap_or_else(|e| e.into_inner()).insert(
            meta.task_id.clone(),
            (meta.sdkappid, meta.class_id, meta.user_id.clone()),
        );
    }

    async fn put_file(&self, key: &str, path: &Path, md5: [u8; 16]) -> Result<String, StoreError> {
        let (url, _, _) = self.presigned(key).await?;
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| StoreError::Permanent(format!("reading {}: {e}", path.display())))?;
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(file));
        let etag = self.put(&url, body, Some(md5), "video/x-flv").await?;
        checked_etag(&etag, md5)
    }

    async fn put_bytes(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), StoreError> {
        let (url, id, leaf) = self.presigned(key).await?;
        let md5: [u8; 16] = {
            use md5::{Digest, Md5};
            Md5::digest(&bytes).into()
        };
        self.put(&url, bytes.into(), Some(md5), content_type)
            .await?;
        if leaf == "manifest.json" {
            // The manifest is stored; the backend would also find it by its
            // scan, but being told starts the splice now.
            if let Err(e) = self.call("/v1/tasks/complete", &id).await {
                tracing::warn!(error = %e, "could not tell the backend the task is complete; its scan will find it");
            }
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("presigned uploads brokered by {}", self.base)
    }
}
