//! The index: tasks (the splice jobs), records (finished MP4s), registered
//! callback URLs and the callback outbox. One SQL dialect for SQLite and
//! PostgreSQL through `sqlx::Any`; jobs and callbacks are claimed with a lease
//! in one atomic `UPDATE … RETURNING` (with `FOR UPDATE SKIP LOCKED` on
//! PostgreSQL), so several backends share the work and a dead one's jobs are
//! taken over when its lease runs out.

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
        duration_ms BIGINT NOT NULL,
        chapters TEXT NOT NULL DEFAULT '[]',
        live_kept BIGINT NOT NULL DEFAULT 1)",
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

/// Columns added since a table was first made: each is probed and added to
/// a database made before it (the statement both dialects accept; neither
/// `ADD COLUMN IF NOT EXISTS` nor `PRAGMA` is common to them).
const UPGRADES: &[(&str, &str)] = &[
    (
        "SELECT chapters FROM records LIMIT 1",
        "ALTER TABLE records ADD COLUMN chapters TEXT NOT NULL DEFAULT '[]'",
    ),
    // 1: the record's live segments may still be in storage.
    (
        "SELECT live_kept FROM records LIMIT 1",
        "ALTER TABLE records ADD COLUMN live_kept BIGINT NOT NULL DEFAULT 1",
    ),
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

impl Task {
    /// Where its objects are.
    pub fn place(&self) -> txcr_storage::TaskPath {
        txcr_storage::TaskPath {
            sdkappid: self.sdkappid as u64,
            class_id: self.class_id as u64,
            task_id: self.task_id.clone(),
        }
    }
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
    /// In time order, ms from the recording's start.
    pub chapters: Vec<txcr_storage::Chapter>,
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
        chapters: {
            let text: String = r.try_get("chapters")?;
            // Written by this backend from a parsed manifest; a row that
            // cannot be read back shows no chapters rather than no record.
            serde_json::from_str(&text).unwrap_or_default()
        },
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
        for (probe, add) in UPGRADES {
            if sqlx::query(*probe).fetch_optional(&db.pool).await.is_err() {
                tracing::info!("upgrading the database: {add}");
                sqlx::query(*add).execute(&db.pool).await?;
            }
        }
        Ok(db)
    }

    fn skip_locked(&self) -> &'static str {
        if self.postgres {
            " FOR UPDATE SKIP LOCKED"
        } else {
            ""
        }
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

    /// Whether the database answers within 2 s: a health check must not
    /// hang for the pool's whole acquire timeout while the database is down.
    pub async fn ping(&self) -> bool {
        let ping = sqlx::query("SELECT 1").execute(&self.pool);
        matches!(
            tokio::time::timeout(std::time::Duration::from_secs(2), ping).await,
            Ok(Ok(_))
        )
    }
}

mod forget;
mod outbox;
pub use outbox::Delivery;
mod tasks;
