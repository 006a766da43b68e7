//! The background work: find finished tasks in storage, splice them, deliver
//! callbacks. Every step is driven by database rows, so a crash at any point
//! leaves a row that the next run (of this or another instance) picks up.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use serde::Deserialize;
use tokio::sync::watch;

use crate::ctx::Ctx;
use crate::db::{now_ms, Record, Task};
use crate::error::Error;

/// The manifest the local service writes after the last slice is stored.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Manifest {
    pub task_id: String,
    pub sdk_app_id: u64,
    pub class_id: u64,
    pub user_id: String,
    pub start_time: u64,
    pub slices: Vec<ManifestSlice>,
}

/// One slice in a manifest.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ManifestSlice {
    pub seq: u32,
    pub bytes: u64,
    pub md5: String,
}

fn parse_manifest(bytes: &[u8]) -> Result<Manifest, Error> {
    let m: Manifest = serde_json::from_slice(bytes)
        .map_err(|e| Error::Broken(format!("manifest is not valid: {e}")))?;
    if !crate::ctx::safe_id(&m.task_id) {
        return Err(Error::Broken("manifest has an unusable TaskId".into()));
    }
    Ok(m)
}

/// Register the task whose manifest is at `key`; true if it is new.
pub async fn add_manifest(ctx: &Ctx, key: &str) -> Result<bool, Error> {
    let Some(bytes) = ctx.storage.get_small(key).await? else {
        return Err(Error::Broken(format!("no manifest is stored at {key}")));
    };
    let m = parse_manifest(&bytes)?;
    let (app, class) = (m.sdk_app_id as i64, m.class_id as i64);
    if ctx
        .storage
        .task_key(app, class, &m.task_id, "manifest.json")
        != key
    {
        return Err(Error::Broken(format!(
            "manifest {key} names another task ({}/{}/{})",
            m.sdk_app_id, m.class_id, m.task_id
        )));
    }
    let added = ctx
        .db
        .add_task(&Task {
            id: format!("{app}/{class}/{}", m.task_id),
            sdkappid: app,
            class_id: class,
            task_id: m.task_id,
            user_id: m.user_id,
            start_time: m.start_time as i64,
            manifest_key: key.to_owned(),
            attempts: 0,
        })
        .await?;
    if added {
        ctx.wake.notify_one();
    }
    Ok(added)
}

/// `<sdkappid>/<class>/<task>` of a `…/<sdkappid>/<class>/<task>/manifest.json` key.
fn task_id_of(manifest_key: &str) -> String {
    let dir = manifest_key.trim_end_matches("/manifest.json");
    let mut parts: Vec<&str> = dir.rsplitn(4, '/').take(3).collect();
    parts.reverse();
    parts.join("/")
}

/// Scan the bucket for manifests every `watch_interval`.
pub async fn watch_storage(ctx: Arc<Ctx>, mut stop: watch::Receiver<bool>) {
    let mut known: HashSet<String> = HashSet::new();
    let mut loaded = false;
    loop {
        if !loaded {
            match ctx.db.task_ids().await {
                Ok(ids) => {
                    known = ids;
                    loaded = true;
                }
                Err(e) => tracing::warn!(error = %e, "cannot read known tasks"),
            }
        }
        if loaded {
            match ctx.storage.manifests().await {
                Ok(keys) => {
                    for key in keys {
                        let id = task_id_of(&key);
                        if known.contains(&id) {
                            continue;
                        }
                        match add_manifest(&ctx, &key).await {
                            Ok(_) => {
                                tracing::info!(task = %id, "finished task found in storage");
                                known.insert(id);
                            }
                            Err(e) if e.is_transient() => {
                                tracing::warn!(key, error = %e, "cannot read manifest; will retry")
                            }
                            Err(e) => {
                                tracing::error!(key, error = %e, "unusable manifest skipped");
                                known.insert(id);
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot list the bucket"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(ctx.cfg.watch_interval) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Claim and splice tasks until told to stop. On stop, a running splice gets
/// `shutdown_grace` to finish; otherwise its task is released for others.
pub async fn splice_worker(ctx: Arc<Ctx>, mut stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            return;
        }
        let task = match ctx.db.claim_task(&ctx.me, ctx.cfg.job_lease).await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "cannot claim a task");
                None
            }
        };
        let Some(task) = task else {
            tokio::select! {
                _ = ctx.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = stop.changed() => return,
            }
            continue;
        };
        run_task(&ctx, task, &mut stop).await;
    }
}

async fn run_task(ctx: &Arc<Ctx>, task: Task, stop: &mut watch::Receiver<bool>) {
    let started = Instant::now();
    tracing::info!(task = %task.id, "splicing");
    let mut job = tokio::spawn(splice_task(ctx.clone(), task.clone()));
    let heartbeat = {
        let (ctx, id) = (ctx.clone(), task.id.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(ctx.cfg.job_lease / 3).await;
                if !matches!(
                    ctx.db.extend_task(&id, &ctx.me, ctx.cfg.job_lease).await,
                    Ok(true)
                ) {
                    tracing::warn!(task = %id, "lease lost");
                }
            }
        })
    };
    let result = tokio::select! {
        r = &mut job => Some(r),
        _ = stop.changed() => {
            tracing::info!(task = %task.id, "shutting down: letting the splice finish");
            tokio::time::timeout(ctx.cfg.shutdown_grace, &mut job).await.ok()
        }
    };
    heartbeat.abort();
    let result = match result {
        Some(Ok(r)) => r,
        Some(Err(e)) => Err(Error::Broken(format!("splice task panicked: {e}"))),
        None => {
            job.abort();
            let _ = ctx.db.release_task(&task.id, &ctx.me, 0, None).await;
            ctx.metrics.job("released");
            tracing::info!(task = %task.id, "released unfinished");
            return;
        }
    };
    match result {
        Ok(rec) => {
            let body = |r: &Record| ctx.callback_body(r);
            match ctx.db.finish_task(&ctx.me, &rec, body).await {
                Ok(true) => {
                    ctx.metrics.job("done");
                    ctx.metrics.splice_time(started.elapsed().as_secs_f64());
                    tracing::info!(task = %task.id, ms = rec.duration_ms, bytes = rec.video_size,
                        secs = started.elapsed().as_secs_f64(), "spliced");
                }
                Ok(false) => tracing::warn!(task = %task.id, "lease lost; result dropped"),
                Err(e) => {
                    tracing::warn!(task = %task.id, error = %e, "cannot record the result");
                    let _ = ctx
                        .db
                        .release_task(&task.id, &ctx.me, now_ms() + 5000, Some(&e.to_string()))
                        .await;
                }
            }
        }
        Err(e) if e.is_transient() => {
            let wait = retry_delay(task.attempts as u32);
            tracing::warn!(task = %task.id, error = %e, "splice failed; will retry");
            ctx.metrics.job("retry");
            let _ = ctx
                .db
                .release_task(
                    &task.id,
                    &ctx.me,
                    now_ms() + wait.as_millis() as i64,
                    Some(&e.to_string()),
                )
                .await;
        }
        Err(e) => {
            tracing::error!(task = %task.id, error = %e, "recording cannot be spliced");
            ctx.metrics.job("failed");
            let _ = ctx.db.fail_task(&task.id, &ctx.me, &e.to_string()).await;
        }
    }
}

/// Exponential backoff with ±20 % jitter, 2 s doubling up to 10 minutes.
fn retry_delay(attempt: u32) -> Duration {
    let base = 2f64 * 2f64.powi(attempt.min(12) as i32 - 1);
    let jitter = rand::rng().random_range(0.8..1.2);
    Duration::from_secs_f64((base * jitter).min(600.0))
}

/// Fetch the slices, check them against the manifest, splice, store the MP4.
async fn splice_task(ctx: Arc<Ctx>, task: Task) -> Result<Record, Error> {
    let bytes = ctx
        .storage
        .get_small(&task.manifest_key)
        .await?
        .ok_or_else(|| Error::Broken("the manifest is gone from storage".into()))?;
    let m = parse_manifest(&bytes)?;
    let work: PathBuf = ctx
        .cfg
        .data_dir
        .join("work")
        .join(task.id.replace('/', "_"));
    let _ = tokio::fs::remove_dir_all(&work).await;
    tokio::fs::create_dir_all(&work)
        .await
        .map_err(Error::io(format!("creating {}", work.display())))?;
    let result = splice_in(&ctx, &task, &m, &work).await;
    let _ = tokio::fs::remove_dir_all(&work).await;
    result
}

async fn splice_in(
    ctx: &Ctx,
    task: &Task,
    m: &Manifest,
    work: &std::path::Path,
) -> Result<Record, Error> {
    if m.slices.is_empty() {
        return Err(Error::Broken("the manifest lists no slices".into()));
    }
    let mut files = Vec::new();
    for (i, s) in m.slices.iter().enumerate() {
        if s.seq as usize != i + 1 {
            return Err(Error::Broken(format!(
                "slice {} is missing from the manifest (found slice {} in its place)",
                i + 1,
                s.seq
            )));
        }
        // Keys follow the layout, under this backend's prefix (a brokered
        // client does not know it), never a key the manifest names.
        let leaf = format!("{:04}.flv", s.seq);
        let key = ctx
            .storage
            .task_key(task.sdkappid, task.class_id, &task.task_id, &leaf);
        let path = work.join(&leaf);
        let (n, md5) = ctx.storage.download(&key, &path).await?.ok_or_else(|| {
            Error::Broken(format!("slice {} ({key}) is missing from storage", s.seq))
        })?;
        if n != s.bytes || !hex::encode(md5).eq_ignore_ascii_case(&s.md5) {
            return Err(Error::Broken(format!(
                "slice {} in storage does not match the manifest ({n} bytes, MD5 {}; expected {} bytes, MD5 {})",
                s.seq,
                hex::encode(md5),
                s.bytes,
                s.md5
            )));
        }
        files.push(path);
    }
    if !ctx.cfg.splice_hold.is_zero() {
        tokio::time::sleep(ctx.cfg.splice_hold).await;
    }
    let out = work.join("record.mp4");
    let report = {
        let (files, out) = (files.clone(), out.clone());
        tokio::task::spawn_blocking(move || txcr_splice::splice_to_file(&files, &out))
            .await
            .map_err(|e| Error::Broken(format!("splice panicked: {e}")))??
    };
    let key = ctx
        .storage
        .task_key(task.sdkappid, task.class_id, &task.task_id, "record.mp4");
    ctx.storage.upload(&key, &out, "video/mp4").await?;
    Ok(Record {
        id: task.id.clone(),
        sdkappid: task.sdkappid,
        class_id: task.class_id,
        task_id: task.task_id.clone(),
        user_id: task.user_id.clone(),
        start_time: task.start_time,
        splice_time: now_ms() / 1000,
        video_key: key,
        video_size: report.bytes as i64,
        duration_ms: report.duration_ms as i64,
    })
}

/// Deliver queued callbacks until told to stop.
pub async fn callback_sender(ctx: Arc<Ctx>, mut stop: watch::Receiver<bool>) {
    loop {
        let next = match ctx
            .db
            .claim_callback(&ctx.me, Duration::from_secs(60))
            .await
        {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "cannot claim a callback");
                None
            }
        };
        let Some(cb) = next else {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = stop.changed() => return,
            }
            continue;
        };
        let secret = ctx.cfg.keys.get(cb.sdkappid as u64).unwrap_or_default();
        let ts = now_ms() / 1000;
        let sent = ctx
            .http
            .post(&cb.url)
            .header("Content-Type", "application/json")
            .header("X-TXCR-Timestamp", ts.to_string())
            .header(
                "X-TXCR-Signature",
                txcr_auth::webhook_sign(secret, ts, &cb.body),
            )
            .body(cb.body.clone())
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        let error = match sent {
            Ok(r) if r.status().is_success() => None,
            Ok(r) => Some(format!("receiver answered {}", r.status())),
            Err(e) => Some(format!("cannot reach the receiver: {e}")),
        };
        let (state, next_at) = match &error {
            None => ("sent", 0),
            Some(_) if now_ms() - cb.created_at > ctx.cfg.callback_retry.as_millis() as i64 => {
                ("abandoned", 0)
            }
            Some(_) => (
                "pending",
                now_ms()
                    + retry_delay(cb.attempts as u32)
                        .min(Duration::from_secs(300))
                        .as_millis() as i64,
            ),
        };
        match (state, &error) {
            ("sent", _) => tracing::info!(task = %cb.id, url = %cb.url, "callback delivered"),
            ("abandoned", Some(e)) => {
                tracing::error!(task = %cb.id, error = %e, "callback given up")
            }
            (_, Some(e)) => {
                tracing::warn!(task = %cb.id, error = %e, attempt = cb.attempts, "callback failed; will retry")
            }
            _ => {}
        }
        ctx.metrics
            .callback(if state == "pending" { "retry" } else { state });
        if let Err(e) = ctx
            .db
            .callback_result(&cb.id, state, next_at, error.as_deref())
            .await
        {
            tracing::warn!(task = %cb.id, error = %e, "cannot record the callback result");
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn task_id_of_a_manifest_key() {
        assert_eq!(
            super::task_id_of("school/rec/1400000000/42/42-17/manifest.json"),
            "1400000000/42/42-17"
        );
        assert_eq!(super::task_id_of("1/2/3/manifest.json"), "1/2/3");
    }
}
