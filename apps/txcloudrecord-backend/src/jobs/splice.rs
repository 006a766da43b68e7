//! Splicing: claim a task row (with a lease kept alive by a heartbeat),
//! fetch its slices checked against the manifest, splice them into one MP4,
//! store it, and record the result with its callback in one transaction.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use txcr_splice::ChapterMark;
use txcr_storage::{Chapter, Leaf, Manifest};

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
        Ok((rec, manifest)) => {
            let body = |r: &Record| ctx.callback_body(r);
            match ctx.db.finish_task(&ctx.me, &rec, body).await {
                Ok(true) => {
                    ctx.metrics.job("done");
                    ctx.metrics.splice_time(started.elapsed().as_secs_f64());
                    tracing::info!(task = %task.id, ms = rec.duration_ms, bytes = rec.video_size,
                        secs = started.elapsed().as_secs_f64(), "spliced");
                    if ctx.cfg.delete_slices_after_splice {
                        delete_slices(ctx, &task, &manifest).await;
                    }
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

/// Once the MP4 and its record are stored: the task's slices go (the
/// manifest stays, a small note of what the class was made of). Best effort:
/// a slice left behind is logged and costs only space.
async fn delete_slices(ctx: &Ctx, task: &Task, m: &Manifest) {
    let place = task.place();
    for s in &m.slices {
        let key = ctx.storage.key(&place, Leaf::Slice(s.seq));
        if let Err(e) = ctx.storage.delete(key.as_str()).await {
            tracing::warn!(task = %task.id, %key, error = %e, "slice kept: cannot delete it");
        }
    }
}

/// Fetch the slices, check them against the manifest, splice, store the MP4;
/// the record, and the manifest it was made from.
async fn splice_task(ctx: Arc<Ctx>, task: Task) -> Result<(Record, Manifest), Error> {
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
        .map_err(Error::io("creating the work folder"))?;
    let result = splice_in(&ctx, &task, &m, &work).await;
    let _ = tokio::fs::remove_dir_all(&work).await;
    result.map(|rec| (rec, m))
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
    let place = task.place();
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
            .download(key.as_str(), &path, s.bytes)
            .await?
            .ok_or_else(|| {
                Error::Broken(format!("slice {} ({key}) is missing from storage", s.seq))
            })?;
        if n > s.bytes {
            return Err(Error::Broken(format!(
                "slice {} ({key}) in storage is larger than the manifest's {} bytes",
                s.seq, s.bytes
            )));
        }
        if n != s.bytes || !hex::encode(md5).eq_ignore_ascii_case(&s.md5) {
            return Err(Error::Broken(format!(
                "slice {} ({key}) in storage does not match the manifest ({n} bytes, MD5 {}; expected {} bytes, MD5 {})",
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
        let (inputs, out) = (files.clone(), out.clone());
        let chapters = m.chapters.clone();
        tokio::task::spawn_blocking(move || {
            let marks: Vec<ChapterMark<'_>> = chapters
                .iter()
                .map(|c| ChapterMark {
                    start_ms: c.start_ms,
                    title: &c.title,
                })
                .collect();
            txcr_splice::splice_to_file(&inputs, &marks, &out)
        })
        .await
        .map_err(|e| Error::Broken(format!("splice panicked: {e}")))?
        .map_err(|e| {
            named(e, &files, m, |seq| {
                ctx.storage.key(&place, Leaf::Slice(seq))
            })
        })?
    };
    for (s, span) in m.slices.iter().zip(&report.slice_spans_ms) {
        if !holds(*span, s.duration_ms) {
            let key = ctx.storage.key(&place, Leaf::Slice(s.seq));
            return Err(Error::Broken(format!(
                "slice {} ({key}) holds {span} ms of recording, but the manifest says {} ms: part of the class is missing or its timestamps are broken",
                s.seq, s.duration_ms
            )));
        }
    }
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
        chapters: report
            .chapters
            .into_iter()
            .map(|(start_ms, title)| Chapter { start_ms, title })
            .collect(),
    })
}

/// How far a slice's media may be from its manifest's `DurationMs`: a frame
/// interval at the slowest rate (1 fps) plus the last still picture's wait
/// before a cut, or a tenth of a long slice.
fn tolerance_ms(duration_ms: u64) -> u64 {
    (duration_ms / 10).max(1500)
}

/// Whether a slice whose media spans `span_ms` holds the `duration_ms` its
/// manifest says: not much less (a part of the class missing) and not much
/// more (timestamps jumping ahead).
fn holds(span_ms: u64, duration_ms: u64) -> bool {
    span_ms.abs_diff(duration_ms) <= tolerance_ms(duration_ms)
}

/// A splice error as the task's reason: slices named by sequence number and
/// object key, never by this backend's work files.
fn named(
    e: txcr_splice::SpliceError,
    files: &[PathBuf],
    m: &Manifest,
    key: impl Fn(u32) -> txcr_storage::ObjectKey,
) -> Error {
    use txcr_splice::SpliceError as S;
    let seq = |i: usize| m.slices.get(i).map_or(i as u32 + 1, |s| s.seq);
    match e {
        S::CorruptSlice { slice, why, .. } => {
            let seq = seq(slice.saturating_sub(1));
            Error::Broken(format!("slice {seq} ({}) is corrupt: {why}", key(seq)))
        }
        S::RunsPastNext {
            slice,
            last_ms,
            next_ms,
        } => {
            let seq = seq(slice.saturating_sub(1));
            Error::Broken(format!(
                "slice {seq} ({}) runs to {last_ms} ms, past the start of the next slice ({next_ms} ms): its timestamps jump ahead",
                key(seq)
            ))
        }
        S::ConfigChanged { slice, what } => {
            let seq = seq(slice.saturating_sub(1));
            Error::Broken(format!(
                "slice {seq} ({}) changes the {what} codec configuration (another picture size or encoder settings); slices of one recording must share it",
                key(seq)
            ))
        }
        S::Io { path, source } => match files.iter().position(|f| *f == path) {
            Some(i) => Error::Io {
                what: format!("reading slice {} ({})", seq(i), key(seq(i))),
                source,
            },
            None => Error::Io {
                what: "writing the MP4".into(),
                source,
            },
        },
        other => Error::Splice(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slice_holds_its_duration_within_a_frame_and_a_still_pictures_wait() {
        assert!(holds(4_950, 5_000) && holds(3_600, 5_000) && holds(6_400, 5_000));
        assert!(!holds(0, 2_000), "a slice with no media for 2 s of class");
        assert!(!holds(3_400, 5_000) && !holds(6_600, 5_000));
        assert!(holds(270_000, 300_000) && !holds(260_000, 300_000));
        assert!(!holds(3_600_000, 300_000), "timestamps an hour ahead");
    }
}
