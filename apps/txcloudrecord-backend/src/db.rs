//! The index: tasks (the splice jobs), records (finished MP4s), registered
//! callback URLs and the callback outbox. One SQL dialect for SQLite and
//! PostgreSQL through `sqlx::Any`; jobs and callbacks are claimed with a lease
//! in one atomic `UPDATE … RETURNING` (with `FOR UPDATE SKIP LOCKED` on
//! PostgreSQL), so several backends share the work and a dead one's jobs are
//! taken over when its lease runs out.

use std::collections::HashSet;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
// Composed SQL below is built from constants only, never from input.
use sqlx::{AnyPool, AssertSqlSafe, Row};

use crate::error::Error;

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS tasks (
        id TEXT PRIMARY KEY,
        sdkappid BIGINT NOT NULL,
        class_id BIGINT NOT NULL,
        task_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        start_time BIGINT NOT NULL,
        manifest_key TEXT NOT NULL,
        state TEXT NOT NULL,
        claimed_by TEXT,
        lease_until BIGINT NOT NULL DEFAULT 0,
        next_at BIGINT NOT NULL DEFAULT 0,
        attempts BIGINT NOT NULL DEFAULT 0,
        last_error TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS tasks_state ON tasks (state, next_at)",
    "CREATE TABLE IF NOT EXISTS records (
        id TEXT PRIMARY KEY,
        sdkappid BIGINT NOT NULL,
        class_id BIGINT NOT NULL,
        task_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        start_time BIGINT NOT NULL,
        splice_time BIGINT NOT NULL,
        video_key TEXT NOT NULL,
        video_size BIGINT NOT NULL,
        duration_ms BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS records_class ON records (sdkappid, class_id, start_time)",
    "CREATE TABLE IF NOT EXISTS callback_urls (
        sdkappid BIGINT PRIMARY KEY,
        url TEXT NOT NULL,
        updated_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS outbox (
        id TEXT PRIMARY KEY,
        sdkappid BIGINT NOT NULL,
        url TEXT NOT NULL,
        body TEXT NOT NULL,
        state TEXT NOT NULL,
        claimed_by TEXT,
        lease_until BIGINT NOT NULL DEFAULT 0,
        next_at BIGINT NOT NULL DEFAULT 0,
        attempts BIGINT NOT NULL DEFAULT 0,
        last_error TEXT,
        created_at BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_at)",
    "CREATE TABLE IF NOT EXISTS task_owners (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        created_at BIGINT NOT NULL)",
];

/// Unix time in ms.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A task to splice, as found in storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// `<sdkappid>/<class>/<task>`.
    pub id: String,
    pub sdkappid: i64,
    pub class_id: i64,
    pub task_id: String,
    pub user_id: String,
    pub start_time: i64,
    pub manifest_key: String,
    /// Tries so far (counting the current one).
    pub attempts: i64,
}

/// A finished recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub id: String,
    pub sdkappid: i64,
    pub class_id: i64,
    pub task_id: String,
    pub user_id: String,
    pub start_time: i64,
    pub splice_time: i64,
    pub video_key: String,
    pub video_size: i64,
    pub duration_ms: i64,
}

/// A callback to deliver.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub id: String,
    pub sdkappid: i64,
    pub url: String,
    pub body: String,
    pub attempts: i64,
    pub created_at: i64,
}

/// Filters of the query API.
#[derive(Debug, Default)]
pub struct RecordFilter {
    pub sdkappid: i64,
    pub class_id: i64,
    pub user_id: Option<String>,
    pub task_id: Option<String>,
    pub offset: i64,
    pub limit: i64,
}

/// The database handle.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    postgres: bool,
}

fn task_of(r: &AnyRow) -> Result<Task, sqlx::Error> {
    Ok(Task {
        id: r.try_get("id")?,
        sdkappid: r.try_get("sdkappid")?,
        class_id: r.try_get("class_id")?,
        task_id: r.try_get("task_id")?,
        user_id: r.try_get("user_id")?,
        start_time: r.try_get("start_time")?,
        manifest_key: r.try_get("manifest_key")?,
        attempts: r.try_get("attempts")?,
    })
}

fn record_of(r: &AnyRow) -> Result<Record, sqlx::Error> {
    Ok(Record {
        id: r.try_get("id")?,
        sdkappid: r.try_get("sdkappid")?,
        class_id: r.try_get("class_id")?,
        task_id: r.try_get("task_id")?,
        user_id: r.try_get("user_id")?,
        start_time: r.try_get("start_time")?,
        splice_time: r.try_get("splice_time")?,
        video_key: r.try_get("video_key")?,
        video_size: r.try_get("video_size")?,
        duration_ms: r.try_get("duration_ms")?,
    })
}

const TASK_COLS: &str =
    "id, sdkappid, class_id, task_id, user_id, start_time, manifest_key, attempts";

impl Db {
    /// Connect and create the tables if missing.
    pub async fn open(url: &str) -> Result<Self, Error> {
        sqlx::any::install_default_drivers();
        let postgres = url.starts_with("postgres");
        let pool = AnyPoolOptions::new()
            .max_connections(if postgres { 8 } else { 4 })
            .connect(url)
            .await?;
        let db = Self { pool, postgres };
        for stmt in SCHEMA {
            sqlx::query(*stmt).execute(&db.pool).await?;
        }
        Ok(db)
    }

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

    fn skip_locked(&self) -> &'static str {
        if self.postgres {
            " FOR UPDATE SKIP LOCKED"
        } else {
            ""
        }
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
                                  video_key, video_size, duration_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
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

    /// Register (or replace) an app's callback URL.
    pub async fn set_callback_url(&self, sdkappid: i64, url: &str) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO callback_urls (sdkappid, url, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (sdkappid) DO UPDATE SET url = excluded.url, updated_at = excluded.updated_at",
        )
        .bind(sdkappid)
        .bind(url)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Take the oldest due callback.
    pub async fn claim_callback(
        &self,
        me: &str,
        lease: Duration,
    ) -> Result<Option<Outgoing>, Error> {
        let now = now_ms();
        let sql = format!(
            "UPDATE outbox SET claimed_by = $1, lease_until = $2, attempts = attempts + 1
             WHERE id = (SELECT id FROM outbox
                         WHERE state = 'pending' AND next_at <= $3 AND lease_until < $3
                         ORDER BY next_at LIMIT 1{})
             RETURNING id, sdkappid, url, body, attempts, created_at",
            self.skip_locked()
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(me)
            .bind(now + lease.as_millis() as i64)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(Outgoing {
            id: r.try_get("id")?,
            sdkappid: r.try_get("sdkappid")?,
            url: r.try_get("url")?,
            body: r.try_get("body")?,
            attempts: r.try_get("attempts")?,
            created_at: r.try_get("created_at")?,
        }))
    }

    /// Record a delivery attempt: `sent`, or due again at `next_at`, or given up.
    pub async fn callback_result(
        &self,
        id: &str,
        state: &str,
        next_at: i64,
        error: Option<&str>,
    ) -> Result<(), Error> {
        sqlx::query(
            "UPDATE outbox SET state = $1, next_at = $2, last_error = $3, lease_until = 0,
                    claimed_by = NULL WHERE id = $4",
        )
        .bind(state)
        .bind(next_at)
        .bind(error)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records matching the query API's filters, newest first, and how many match.
    pub async fn records(&self, f: &RecordFilter) -> Result<(Vec<Record>, i64), Error> {
        let cond = "sdkappid = $1 AND class_id = $2
                    AND ($3 = '' OR user_id = $3) AND ($4 = '' OR task_id = $4)";
        let user = f.user_id.clone().unwrap_or_default();
        let task = f.task_id.clone().unwrap_or_default();
        let total: i64 = sqlx::query(AssertSqlSafe(format!(
            "SELECT COUNT(*) AS n FROM records WHERE {cond}"
        )))
        .bind(f.sdkappid)
        .bind(f.class_id)
        .bind(&user)
        .bind(&task)
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?;
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT * FROM records WHERE {cond} ORDER BY start_time, task_id LIMIT $5 OFFSET $6"
        )))
        .bind(f.sdkappid)
        .bind(f.class_id)
        .bind(&user)
        .bind(&task)
        .bind(f.limit)
        .bind(f.offset)
        .fetch_all(&self.pool)
        .await?;
        let recs = rows.iter().map(record_of).collect::<Result<Vec<_>, _>>()?;
        Ok((recs, total))
    }

    /// One record by id.
    pub async fn record(&self, id: &str) -> Result<Option<Record>, Error> {
        let row = sqlx::query("SELECT * FROM records WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(record_of).transpose()?)
    }

    /// Counts by state, for metrics: (table, state, n).
    pub async fn counts(&self) -> Result<Vec<(String, String, i64)>, Error> {
        let rows = sqlx::query(
            "SELECT 'tasks' AS t, state, COUNT(*) AS n FROM tasks GROUP BY state
             UNION ALL SELECT 'outbox' AS t, state, COUNT(*) AS n FROM outbox GROUP BY state",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("t")?, r.try_get("state")?, r.try_get("n")?)))
            .collect()
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

    /// Is the database answering?
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}
