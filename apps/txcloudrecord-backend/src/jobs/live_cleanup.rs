//! Live replay's segments go once their class has its MP4: `live_keep`
//! (24 h) after the splice, so a student still watching live when class
//! ended can finish. They are a copy of the slices, made for live viewing.
//!
//! Driven by the record's `live_kept` flag: objects first, then the flag,
//! so a crash in between only repeats the (idempotent) deletions.

use std::sync::Arc;

use tokio::sync::watch;
use txcr_storage::{Leaf, TaskPath};

use super::periodic::{periodically, sweep_interval};
use crate::ctx::Ctx;
use crate::db::now_ms;
use crate::error::Error;

/// Delete the live segments of records spliced `live_keep` ago, hourly
/// (or four times per `live_keep` if that is shorter).
pub async fn drop_live_segments(ctx: Arc<Ctx>, stop: watch::Receiver<bool>) {
    let keep = ctx.cfg.live_keep;
    periodically(sweep_interval(keep), stop, || async {
        let before = (now_ms() - keep.as_millis() as i64) / 1000;
        match ctx.db.live_to_drop(before).await {
            Ok(tasks) => {
                for task in tasks {
                    if let Err(e) = drop_one(&ctx, &task).await {
                        tracing::warn!(task = %task, error = %e, "live segments kept for now");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot list records with live segments"),
        }
    })
    .await;
}

async fn drop_one(ctx: &Ctx, task: &TaskPath) -> Result<(), Error> {
    let objects = ctx
        .storage
        .objects_under(&ctx.storage.task_prefix(task))
        .await?;
    let mut gone = 0;
    for (key, _) in objects {
        if matches!(key.leaf(), Leaf::LiveInit | Leaf::LiveSegment(_)) {
            ctx.storage.delete(key.as_str()).await?;
            gone += 1;
        }
    }
    ctx.live.forget(task);
    ctx.db.live_dropped(task).await?;
    if gone > 0 {
        tracing::info!(task = %task, objects = gone, "live segments deleted");
    }
    Ok(())
}
