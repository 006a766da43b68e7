//! Callback URLs and the outbox the sender drains.

use std::time::Duration;

use sqlx::{AssertSqlSafe, Row};

use super::{now_ms, Db, Outgoing};
use crate::error::Error;

/// Where a callback is after an attempt (the `outbox.state` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The receiver took it.
    Sent,
    /// Due again later.
    Pending,
    /// Given up after `callback_retry`.
    Abandoned,
}

impl Delivery {
    /// The database's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Pending => "pending",
            Self::Abandoned => "abandoned",
        }
    }
}

impl Db {
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
        state: Delivery,
        next_at: i64,
        error: Option<&str>,
    ) -> Result<(), Error> {
        sqlx::query(
            "UPDATE outbox SET state = $1, next_at = $2, last_error = $3, lease_until = 0,
                    claimed_by = NULL WHERE id = $4",
        )
        .bind(state.as_str())
        .bind(next_at)
        .bind(error)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
