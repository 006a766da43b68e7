//! Deleting recordings from the index: what a class (or one task of it)
//! left in every table, which tasks are past the retention time, and which
//! records' live segments are due to go.

use sqlx::any::AnyRow;
use sqlx::Row;
use txcr_storage::TaskPath;

use super::{Db, Delivery};
use crate::error::Error;

/// The task a row names (rows hold only ids the layout accepts).
fn place_of(r: &AnyRow) -> Result<Option<TaskPath>, Error> {
    let app: i64 = r.try_get("sdkappid")?;
    let class: i64 = r.try_get("class_id")?;
    let task: String = r.try_get("task_id")?;
    Ok(TaskPath::new(app as u64, class as u64, &task))
}

impl Db {
    /// Every task of a class known to the index (or just `task_id`), as
    /// tasks or as records.
    pub async fn class_task_refs(
        &self,
        sdkappid: i64,
        class_id: i64,
        task_id: Option<&str>,
    ) -> Result<Vec<TaskPath>, Error> {
        let rows = sqlx::query(
            "SELECT sdkappid, class_id, task_id FROM tasks
                    WHERE sdkappid = $1 AND class_id = $2 AND ($3 = '' OR task_id = $3)
             UNION SELECT sdkappid, class_id, task_id FROM records
                    WHERE sdkappid = $1 AND class_id = $2 AND ($3 = '' OR task_id = $3)
             ORDER BY task_id",
        )
        .bind(sdkappid)
        .bind(class_id)
        .bind(task_id.unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .filter_map(|r| place_of(r).transpose())
            .collect()
    }

    /// Records spliced before `before_secs` (unix seconds) whose live
    /// segments may still be in storage.
    pub async fn live_to_drop(&self, before_secs: i64) -> Result<Vec<TaskPath>, Error> {
        let rows = sqlx::query(
            "SELECT sdkappid, class_id, task_id FROM records
             WHERE live_kept = 1 AND splice_time < $1 LIMIT 1000",
        )
        .bind(before_secs)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .filter_map(|r| place_of(r).transpose())
            .collect()
    }

    /// Whether a record's live segments were deleted (they are not made
    /// again).
    pub async fn live_gone(&self, task: &TaskPath) -> Result<bool, Error> {
        let row = sqlx::query("SELECT live_kept FROM records WHERE id = $1")
            .bind(task.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => r.try_get::<i64, _>("live_kept")? == 0,
            None => false,
        })
    }

    /// A record's live segments are gone from storage.
    pub async fn live_dropped(&self, task: &TaskPath) -> Result<(), Error> {
        sqlx::query("UPDATE records SET live_kept = 0 WHERE id = $1")
            .bind(task.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Tasks past retention: recordings that started before `before_secs`
    /// (unix seconds), and failed tasks first seen before `before_ms`.
    /// Tasks still waiting or being spliced are never returned.
    pub async fn expired(&self, before_secs: i64, before_ms: i64) -> Result<Vec<TaskPath>, Error> {
        let rows = sqlx::query(
            "SELECT sdkappid, class_id, task_id FROM records WHERE start_time < $1
             UNION SELECT sdkappid, class_id, task_id FROM tasks
                   WHERE state = 'failed' AND created_at < $2
             LIMIT 1000",
        )
        .bind(before_secs)
        .bind(before_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .filter_map(|r| place_of(r).transpose())
            .collect()
    }

    /// Remove a task from every table in one transaction: its job, its
    /// record, its owner, and a callback not yet delivered (it would carry
    /// a dead link). Delivered callbacks stay as the log of what was sent.
    pub async fn forget_task(&self, task: &TaskPath) -> Result<(), Error> {
        let id = task.to_string();
        let mut tx = self.pool.begin().await?;
        for sql in [
            "DELETE FROM records WHERE id = $1",
            "DELETE FROM tasks WHERE id = $1",
            "DELETE FROM task_owners WHERE id = $1",
        ] {
            sqlx::query(sql).bind(&id).execute(&mut *tx).await?;
        }
        sqlx::query("DELETE FROM outbox WHERE id = $1 AND state = $2")
            .bind(&id)
            .bind(Delivery::Pending.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
