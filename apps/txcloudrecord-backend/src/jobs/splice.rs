//! Splicing: claim a task row (with a lease kept alive by a heartbeat),
//! fetch its slices checked against the manifest, splice them into one MP4,
//! store it, and record the result with its callback in one transaction.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use txcr_storage::{Leaf, Manifest, TaskPath};

use crate::ctx::Ctx;
use crate::db::{now_ms, Record, Task};
use crate::error::Error;

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
            let wait = super::retry::delay(task.attempts as u32, Duration::from_secs(600));
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

/// Fetch the slices, check them against the manifest, splice, store the MP4.
async fn splice_task(ctx: Arc<Ctx>, task: Task) -> Result<Record, Error> {
    let bytes = ctx
        .storage
        .get_small(&task.manifest_key)
        .await?
        .ok_or_else(|| Error::Broken("the manifest is gone from storage".into()))?;
    let m = Manifest::parse(&bytes)?;
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
    let place = TaskPath {
        sdkappid: task.sdkappid as u64,
        class_id: task.class_id as u64,
        task_id: task.task_id.clone(),
    };
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
        let leaf = Leaf::Slice(s.seq);
        let key = ctx.storage.key(&place, leaf);
        let path = work.join(leaf.name());
        let (n, md5) = ctx
            .storage
            .download(key.as_str(), &path)
            .await?
            .ok_or_else(|| {
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
    let key = ctx.storage.key(&place, Leaf::Record);
    ctx.storage.upload(key.as_str(), &out, "video/mp4").await?;
    Ok(Record {
        id: task.id.clone(),
        sdkappid: task.sdkappid,
        class_id: task.class_id,
        task_id: task.task_id.clone(),
        user_id: task.user_id.clone(),
        start_time: task.start_time,
        splice_time: now_ms() / 1000,
        video_key: key.as_str().to_owned(),
        video_size: report.bytes as i64,
        duration_ms: report.duration_ms as i64,
    })
}
