//! Faults a real server cannot be made to produce on cue, injected between
//! the queue and a real S3-compatible server: refused requests, and answers
//! lost after the object was stored (the process dying between the upload and
//! the journal update looks the same to the queue). Plus a multipart upload
//! that vanished while the process was down, and the aging of finished tasks.

use crate::common;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use txcr_slice_upload::{ObjectStore, S3Store, UploadConfig, UploadQueue};
use txcr_storage::{ObjectKey, StoreError};

/// Every third request refused before it reaches the server, every third one
/// stored but its answer lost.
struct Flaky {
    inner: S3Store,
    calls: Arc<AtomicUsize>,
}

impl Flaky {
    fn fate(&self) -> usize {
        self.calls.fetch_add(1, Ordering::SeqCst) % 3
    }
}

impl ObjectStore for Flaky {
    async fn put_file(
        &self,
        key: &ObjectKey,
        path: &Path,
        md5: [u8; 16],
    ) -> Result<String, StoreError> {
        match self.fate() {
            0 => Err(StoreError::Transient("injected: 503 Slow Down".into())),
            1 => {
                self.inner.put_file(key, path, md5).await?;
                Err(StoreError::Transient(
                    "injected: answer lost after storing".into(),
                ))
            }
            _ => self.inner.put_file(key, path, md5).await,
        }
    }
    async fn put_bytes(&self, key: &ObjectKey, bytes: Vec<u8>, ct: &str) -> Result<(), StoreError> {
        match self.fate() {
            0 => Err(StoreError::Transient("injected: connection reset".into())),
            _ => self.inner.put_bytes(key, bytes, ct).await,
        }
    }
    fn uploads_in_parts(&self) -> bool {
        self.inner.uploads_in_parts()
    }
    async fn create_multipart(&self, key: &ObjectKey) -> Result<String, StoreError> {
        self.inner.create_multipart(key).await
    }
    async fn upload_part(
        &self,
        key: &ObjectKey,
        id: &str,
        part: i32,
        bytes: Vec<u8>,
        md5: [u8; 16],
    ) -> Result<String, StoreError> {
        self.inner.upload_part(key, id, part, bytes, md5).await
    }
    async fn complete_multipart(
        &self,
        key: &ObjectKey,
        id: &str,
        parts: &[(i32, String)],
    ) -> Result<String, StoreError> {
        self.inner.complete_multipart(key, id, parts).await
    }
    fn describe(&self) -> String {
        format!("flaky {}", self.inner.describe())
    }
}

async fn wait_state(
    q: &UploadQueue,
    want: &str,
    within: Duration,
) -> Vec<txcr_slice_upload::TaskStatus> {
    let t0 = Instant::now();
    loop {
        let st = q.status();
        if st.first().is_some_and(|s| s.state.as_str() == want) || t0.elapsed() > within {
            return st;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_and_lost_answers_are_retried_and_every_slice_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(&dir.path().join("s3"), 0).await;
    let port = srv.port;
    let calls = Arc::new(AtomicUsize::new(0));
    let flaky = Flaky {
        inner: store(port, SK),
        calls: calls.clone(),
    };
    let cfg = UploadConfig {
        keep_uploaded: Duration::from_secs(2),
        ..UploadConfig::default()
    };
    let q = UploadQueue::start(&dir.path().join("journal"), flaky, cfg).unwrap();
    q.begin_task(meta(dir.path())).unwrap();
    let files = slices(dir.path(), 6);
    for f in &files {
        let (q2, info, path) = (q.clone(), f.info.clone(), f.path.clone());
        tokio::task::spawn_blocking(move || {
            q2.add_slice("7-100", info.seq, &path, info.start_ms, info.duration_ms())
        })
        .await
        .unwrap()
        .unwrap();
    }
    q.end_task("7-100").unwrap();
    let st = wait_state(&q, "uploaded", Duration::from_secs(60)).await;
    assert_eq!(st[0].state.as_str(), "uploaded", "{st:?}");
    assert!(
        calls.load(Ordering::SeqCst) >= 10,
        "faults were injected and retried"
    );

    let reader = store(port, SK);
    let stored = keys(&reader, "1400000000/7/7-100/").await;
    let mut want: Vec<String> = (1..=files.len())
        .map(|i| format!("1400000000/7/7-100/{i:04}.flv"))
        .collect();
    want.push("1400000000/7/7-100/manifest.json".into());
    assert_eq!(stored, want, "each slice once, under its own key");
    for f in &files {
        let key = format!("1400000000/7/7-100/{:04}.flv", f.info.seq);
        assert_eq!(get(&reader, &key).await, std::fs::read(&f.path).unwrap());
    }

    // A finished task leaves GetState's list after keep_uploaded.
    tokio::time::sleep(Duration::from_millis(2600)).await;
    assert!(q.status().is_empty(), "{:?}", q.status());
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multipart_upload_gone_while_down_starts_over_and_completes() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(&dir.path().join("s3"), 0).await;
    let port = srv.port;
    // The journal remembers an upload with one part stored; the storage has
    // since aborted it (lifecycle rule, operator, expiry).
    let st = store(port, SK);
    let (key, upload_id, bytes) =
        died_after_part_one(dir.path(), &st, 11 << 20, 0x1234_5678_9abc_def1).await;
    st.client()
        .abort_multipart_upload()
        .bucket(BUCKET)
        .key(&key)
        .upload_id(&upload_id)
        .send()
        .await
        .unwrap();
    let cfg = UploadConfig {
        multipart_threshold: 1 << 20,
        part_size: 5 << 20,
        permanent_retry: Duration::from_millis(300),
        ..UploadConfig::default()
    };
    let q = UploadQueue::start(&dir.path().join("journal"), store(port, SK), cfg).unwrap();
    let status = wait_state(&q, "uploaded", Duration::from_secs(30)).await;
    assert_eq!(status[0].state.as_str(), "uploaded", "{status:?}");
    assert_eq!(get(&st, &key).await, bytes);
    srv.shutdown().await;
}
