//! Failure counters on PostgreSQL.

use sqlx::Row as _;

use super::PgStore;
use crate::store::error::StoreError;
use crate::store::throttle::{ThrottleRecord, ThrottleStore};

fn record(row: &sqlx::postgres::PgRow) -> Result<ThrottleRecord, StoreError> {
    let failures: i64 = row.try_get("failures")?;
    Ok(ThrottleRecord {
        failures: u32::try_from(failures).unwrap_or(u32::MAX),
        window_start: row.try_get("window_start")?,
        locked_until: row.try_get("locked_until")?,
    })
}

impl ThrottleStore for PgStore {
    async fn throttle(&self, key: &str) -> Result<Option<ThrottleRecord>, StoreError> {
        let row = sqlx::query("SELECT failures, window_start, locked_until FROM throttle WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(record).transpose()
    }

    async fn throttle_fail(&self, key: &str, now: i64, window_secs: i64) -> Result<ThrottleRecord, StoreError> {
        // One statement: the conflicting row is locked while it is updated, so concurrent
        // failures (of this hub or another) each count.
        let row = sqlx::query(
            "INSERT INTO throttle (key, failures, window_start, locked_until) VALUES ($1, 1, $2, 0)
             ON CONFLICT (key) DO UPDATE SET
                 failures = CASE WHEN throttle.window_start <= $2 - $3 THEN 1 ELSE throttle.failures + 1 END,
                 window_start = CASE WHEN throttle.window_start <= $2 - $3 THEN $2 ELSE throttle.window_start END
             RETURNING failures, window_start, locked_until",
        )
        .bind(key)
        .bind(now)
        .bind(window_secs)
        .fetch_one(&self.pool)
        .await?;
        record(&row)
    }

    async fn throttle_lock(&self, key: &str, until: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE throttle SET locked_until = GREATEST(locked_until, $2) WHERE key = $1")
            .bind(key)
            .bind(until)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn throttle_clear(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM throttle WHERE key = $1").bind(key).execute(&self.pool).await?;
        Ok(())
    }

    async fn throttle_purge(&self, window_before: i64, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM throttle WHERE window_start < $1 AND locked_until < $2")
            .bind(window_before)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
