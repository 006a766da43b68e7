//! An uploader: takes the next job, stores it with retries, applies the
//! outcome. Transient errors retry without limit (`backon`: exponential
//! backoff with jitter; a class can outlast an outage); a permanent one ends
//! the attempt and the task waits for its retry.

use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use txcr_storage::StoreError;

use crate::multipart::put_multipart;
use crate::schedule::Job;
use crate::shared::Inner;
use crate::store::ObjectStore;

/// Upload until the runtime ends.
pub(crate) async fn worker<S: ObjectStore>(inner: Arc<Inner>, store: Arc<S>) {
    loop {
        let Some(job) = inner.take_job() else {
            tokio::select! {
                _ = inner.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            continue;
        };
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(200))
            .with_max_delay(Duration::from_secs(30))
            .with_jitter()
            .without_max_times();
        let result = (|| run_job(&inner, store.as_ref(), &job))
            .retry(backoff)
            .when(StoreError::is_transient)
            .notify(|e, wait| {
                tracing::debug!("upload retry in {wait:?}: {e}");
                inner.retrying(&job, e);
            })
            .await;
        inner.finish(&job, result);
        inner.wake.notify_waiters();
    }
}

async fn run_job<S: ObjectStore>(
    inner: &Inner,
    store: &S,
    job: &Job,
) -> Result<String, StoreError> {
    let cfg = &inner.cfg;
    match job {
        Job::Slice {
            key, path, bytes, ..
        } if store.uploads_in_parts() && *bytes > cfg.multipart_threshold => {
            put_multipart(inner, store, key, path, *bytes, cfg.part_size).await
        }
        Job::Slice { key, path, md5, .. } => store.put_file(key, path, *md5).await,
        Job::Manifest { key, body } => store
            .put_bytes(key, body.clone(), "application/json")
            .await
            .map(|()| String::new()),
    }
}
