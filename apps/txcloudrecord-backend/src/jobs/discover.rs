//! Finding finished tasks: a task is finished when its `manifest.json` is
//! stored. Found by scanning the bucket every `watch_interval`, or at once
//! when a brokered client says so; either way it becomes a `tasks` row.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::watch;
use txcr_storage::{Leaf, Manifest, ObjectKey};

use crate::ctx::Ctx;
use crate::db::Task;
use crate::error::Error;

/// Register the task whose manifest is at `key`; true if it is new.
pub async fn add_manifest(ctx: &Ctx, key: &ObjectKey) -> Result<bool, Error> {
    let Some(bytes) = ctx.storage.get_small(key.as_str()).await? else {
        return Err(Error::Broken(format!("no manifest is stored at {key}")));
    };
    let m = Manifest::parse(&bytes)?;
    if m.task().as_ref() != Some(key.task()) || key.leaf() != Leaf::Manifest {
        return Err(Error::Broken(format!(
            "manifest {key} names another task ({}/{}/{})",
            m.sdk_app_id, m.class_id, m.task_id
        )));
    }
    let added = ctx
        .db
        .add_task(&Task {
            id: key.task().to_string(),
            sdkappid: m.sdk_app_id as i64,
            class_id: m.class_id as i64,
            task_id: m.task_id,
            user_id: m.user_id,
            start_time: m.start_time as i64,
            manifest_key: key.as_str().to_owned(),
            attempts: 0,
        })
        .await?;
    if added {
        ctx.wake.notify_one();
    }
    Ok(added)
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
                        let id = key.task().to_string();
                        if known.contains(&id) {
                            continue;
                        }
                        match add_manifest(&ctx, &key).await {
                            Ok(_) => {
                                tracing::info!(task = %id, "finished task found in storage");
                                known.insert(id);
                            }
                            Err(e) if e.is_transient() => {
                                tracing::warn!(key = %key, error = %e, "cannot read manifest; will retry")
                            }
                            Err(e) => {
                                tracing::error!(key = %key, error = %e, "unusable manifest skipped");
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
