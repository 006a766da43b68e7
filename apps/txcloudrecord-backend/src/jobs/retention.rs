//! Deleting recordings: a class's (or one task's) at the admin API's
//! request, and every recording older than `retention_days` when that is set.
//!
//! Objects go first, then the rows. A task whose objects could not all be
//! deleted keeps its rows, so the index never forgets something storage still
//! holds, and the next sweep (or the admin's retry) finishes the job; a
//! storage scan between the two steps finds no manifest that would bring the
//! task back. Media links stop working with the rows: the page and `/media`
//! look the record up first.

use std::sync::Arc;

use tokio::sync::watch;
use txcr_storage::TaskPath;

use super::periodic::{periodically, sweep_interval};
use crate::ctx::Ctx;
use crate::db::now_ms;
use crate::error::Error;

/// What a deletion removed.
#[derive(Debug, Default)]
pub struct Deleted {
    /// The tasks the index knew, by task id.
    pub tasks: Vec<String>,
    /// Objects removed from storage (slices, manifests, MP4s), including
    /// those of tasks the index never saw (a class still recording).
    pub objects: usize,
}

/// Delete every recording of a class, or only task `task_id` of it.
pub async fn delete_class(
    ctx: &Ctx,
    sdkappid: u64,
    class_id: u64,
    task_id: Option<&str>,
) -> Result<Deleted, Error> {
    let prefix = match task_id {
        Some(t) => match TaskPath::new(sdkappid, class_id, t) {
            Some(task) => ctx.storage.task_prefix(&task),
            // No such id can have been stored.
            None => return Ok(Deleted::default()),
        },
        None => ctx.storage.class_prefix(sdkappid, class_id),
    };
    let tasks = ctx
        .db
        .class_task_refs(sdkappid as i64, class_id as i64, task_id)
        .await?;
    let objects = ctx.storage.delete_under(&prefix).await?;
    for task in &tasks {
        ctx.db.forget_task(task).await?;
    }
    tracing::info!(sdkappid, class_id, task = ?task_id, tasks = tasks.len(), objects, "recordings deleted");
    Ok(Deleted {
        tasks: tasks.into_iter().map(|t| t.task_id).collect(),
        objects,
    })
}

/// Delete recordings older than `retention` (by their start), and failed
/// tasks first seen that long ago; nothing when retention is off.
pub async fn sweep_old(ctx: Arc<Ctx>, stop: watch::Receiver<bool>) {
    let Some(retention) = ctx.cfg.retention else {
        return;
    };
    periodically(sweep_interval(retention), stop, || async {
        let before_ms = now_ms() - retention.as_millis() as i64;
        match ctx.db.expired(before_ms / 1000, before_ms).await {
            Ok(tasks) => {
                for task in tasks {
                    if let Err(e) = forget(&ctx, &task).await {
                        tracing::warn!(task = %task, error = %e, "expired recording kept for now");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot list expired recordings"),
        }
    })
    .await;
}

async fn forget(ctx: &Ctx, task: &TaskPath) -> Result<(), Error> {
    let objects = ctx
        .storage
        .delete_under(&ctx.storage.task_prefix(task))
        .await?;
    ctx.db.forget_task(task).await?;
    tracing::info!(task = %task, objects, "expired recording deleted");
    Ok(())
}
