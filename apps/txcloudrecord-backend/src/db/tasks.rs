//! Splice jobs: finding, claiming under a lease, finishing in one
//! transaction with the record and its callback; task ownership for the broker.

use std::collections::HashSet;
use std::time::Duration;

use sqlx::{AssertSqlSafe, Row};

use super::{now_ms, task_of, Db, Record, Task, TASK_COLS};
use crate::error::Error;

impl Db {
    /// The ids of every task already known (for the storage scan).
    pub async fn task_ids(&self) -> Result<HashSet<String>, Error> {
        let rows = sqlx::query("SELECT id FROM tasks")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("id").map_err(Error::from))
            .collect()
    }

    /// Add a task to splice; false if it was known already.
    pub async fn add_task(&self, t: &Task) -> Result<bool, Error> {
        let now = now_ms();
        let done = sqlx::query(
            "INSERT INTO tasks (id, sdkappid, class_id, task_id, user_id, start_time, manifest_key,
                                state, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $8)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&t.id)
        .bind(t.sdkappid)
        .bind(t.class_id)
        .bind(&t.task_id)
        .bind(&t.user_id)
        .bind(t.start_time)
        .bind(&t.manifest_key)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Take the oldest due task (pending, or running under an expired lease).
    pub async fn claim_task(&self, me: &str, lease: Duration) -> Result<Option<Task>, Error> {
        let now = now_ms();
        let sql = format!(
            "UPDATE tasks SET state = 'running', claimed_by = $1, lease_until = $2,
                    attempts = attempts + 1, updated_at = $3
             WHERE id = (SELECT id FROM tasks
                         WHERE (state = 'pending' AND next_at <= $3)
                            OR (state = 'running' AND lease_until < $3)
                         ORDER BY created_at LIMIT 1{})
             RETURNING {TASK_COLS}",
            self.skip_locked()
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(me)
            .bind(now + lease.as_millis() as i64)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(task_of).transpose()?)
    }

    /// Keep a claimed task; false if the lease was lost.
    pub async fn extend_task(&self, id: &str, me: &str, lease: Duration) -> Result<bool, Error> {
        let done = sqlx::query(
            "UPDATE tasks SET lease_until = $1 WHERE id = $2 AND claimed_by = $3 AND state = 'running'",
        )
        .bind(now_ms() + lease.as_millis() as i64)
        .bind(id)
        .bind(me)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Give a task back: `retry_at` for another try later (`error` says why),
    /// or now when shutting down.
    pub async fn release_task(
        &self,
        id: &str,
        me: &str,
        retry_at: i64,
        error: Option<&str>,
    ) -> Result<(), Error> {
        sqlx::query(
            "UPDATE tasks SET state = 'pending', claimed_by = NULL, lease_until = 0, next_at = $1,
                    last_error = $2, updated_at = $3
             WHERE id = $4 AND claimed_by = $5 AND state = 'running'",
        )
        .bind(retry_at)
        .bind(error)
        .bind(now_ms())
        .bind(id)
        .bind(me)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A task that cannot be spliced (missing or corrupt slice): kept, with the reason.
    pub async fn fail_task(&self, id: &str, me: &str, error: &str) -> Result<(), Error> {
        sqlx::query(
            "UPDATE tasks SET state = 'failed', lease_until = 0, last_error = $1, updated_at = $2
             WHERE id = $3 AND claimed_by = $4 AND state = 'running'",
        )
        .bind(error)
        .bind(now_ms())
        .bind(id)
        .bind(me)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every task of a class with its state (pending, running, done,
    /// failed) and last error: (task_id, user_id, state, error).
    pub async fn class_tasks(
        &self,
        sdkappid: i64,
        class_id: i64,
    ) -> Result<Vec<(String, String, String, Option<String>)>, Error> {
        let rows = sqlx::query(
            "SELECT task_id, user_id, state, last_error FROM tasks
             WHERE sdkappid = $1 AND class_id = $2 ORDER BY start_time, task_id LIMIT 1000",
        )
        .bind(sdkappid)
        .bind(class_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("task_id")?,
                    r.try_get("user_id")?,
                    r.try_get("state")?,
                    r.try_get("last_error")?,
                ))
            })
            .collect()
    }

    /// Mark a task done, store its record and, if the app registered a
    /// callback URL, queue the callback, all in one transaction. `body` builds
    /// the callback JSON. False (and nothing written) if the lease was lost.
    pub async fn finish_task(
        &self,
        me: &str,
        rec: &Record,
        body: impl FnOnce(&Record) -> String,
    ) -> Result<bool, Error> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE tasks SET state = 'done', lease_until = 0, last_error = NULL, updated_at = $1
             WHERE id = $2 AND claimed_by = $3 AND state = 'running'",
        )
        .bind(now)
        .bind(&rec.id)
        .bind(me)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO records (id, sdkappid, class_id, task_id, user_id, start_time, splice_time,
                                  video_key, video_size, duration_ms, chapters)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&rec.id)
        .bind(rec.sdkappid)
        .bind(rec.class_id)
        .bind(&rec.task_id)
        .bind(&rec.user_id)
        .bind(rec.start_time)
        .bind(rec.splice_time)
        .bind(&rec.video_key)
        .bind(rec.video_size)
        .bind(rec.duration_ms)
        .bind(serde_json::to_string(&rec.chapters).unwrap_or_else(|_| "[]".into()))
        .execute(&mut *tx)
        .await?;
        let url = sqlx::query("SELECT url FROM callback_urls WHERE sdkappid = $1")
            .bind(rec.sdkappid)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(url) = url {
            let url: String = url.try_get("url")?;
            sqlx::query(
                "INSERT INTO outbox (id, sdkappid, url, body, state, created_at)
                 VALUES ($1, $2, $3, $4, 'pending', $5) ON CONFLICT (id) DO NOTHING",
            )
            .bind(&rec.id)
            .bind(rec.sdkappid)
            .bind(url)
            .bind(body(rec))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The first user to upload into a task owns it; true if `user` does.
    pub async fn own_task(&self, id: &str, user: &str) -> Result<bool, Error> {
        sqlx::query(
            "INSERT INTO task_owners (id, user_id, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(user)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        let owner: String = sqlx::query("SELECT user_id FROM task_owners WHERE id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await?
            .try_get("user_id")?;
        Ok(owner == user)
    }
}
