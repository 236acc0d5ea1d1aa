//! Device authorizations on SQLite.

use sqlx::Row as _;
use sqlx::sqlite::SqliteRow;

use super::audit::insert_audit_in;
use super::oauth::{insert_family_tx, insert_refresh_tx};
use super::{SqliteStore, hash_col};
use crate::secret::TokenHash;
use crate::store::AuditEvent;
use crate::store::devices::{DevicePoll, DeviceRecord, DeviceStatus, DeviceStore};
use crate::store::error::StoreError;
use crate::store::oauth::NewFamily;

const COLUMNS: &str = "device_code_hash, user_code, client_id, scope, resource, address, created_at, expires_at, \
                       interval_secs, last_polled_at, status, user_id, auth_time, decided_at";

fn record(row: &SqliteRow) -> Result<DeviceRecord, StoreError> {
    let status: String = row.try_get("status")?;
    Ok(DeviceRecord {
        device_code_hash: hash_col(row, "device_code_hash")?,
        user_code: row.try_get("user_code")?,
        client_id: row.try_get("client_id")?,
        scope: row.try_get("scope")?,
        resource: row.try_get("resource")?,
        address: row.try_get("address")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        interval_secs: row.try_get("interval_secs")?,
        last_polled_at: row.try_get("last_polled_at")?,
        status: DeviceStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown device status {status}")))?,
        user_id: row.try_get("user_id")?,
        auth_time: row.try_get("auth_time")?,
        decided_at: row.try_get("decided_at")?,
    })
}

impl DeviceStore for SqliteStore {
    async fn insert_device(&self, d: &DeviceRecord) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO device_authorizations (device_code_hash, user_code, client_id, scope, resource, address, \
                created_at, expires_at, interval_secs, last_polled_at, status, user_id, auth_time, decided_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) \
             ON CONFLICT (user_code) DO NOTHING",
        )
        .bind(d.device_code_hash.as_bytes())
        .bind(&d.user_code)
        .bind(&d.client_id)
        .bind(&d.scope)
        .bind(&d.resource)
        .bind(&d.address)
        .bind(d.created_at)
        .bind(d.expires_at)
        .bind(d.interval_secs)
        .bind(d.last_polled_at)
        .bind(d.status.as_str())
        .bind(&d.user_id)
        .bind(d.auth_time)
        .bind(d.decided_at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn device_by_user_code(&self, user_code: &str, now: i64) -> Result<Option<DeviceRecord>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM device_authorizations WHERE user_code = ?1 AND status = 'pending' AND expires_at > ?2"
        );
        let row = sqlx::query(&sql).bind(user_code).bind(now).fetch_optional(&self.pool).await?;
        row.as_ref().map(record).transpose()
    }

    async fn decide_device(
        &self,
        user_code: &str,
        approve: bool,
        user_id: &str,
        auth_time: i64,
        now: i64,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let signer = self.signer.get()?;
        let mut tx = self.pool.begin().await?;
        let status = if approve { DeviceStatus::Approved } else { DeviceStatus::Denied };
        let done = sqlx::query(
            "UPDATE device_authorizations SET status = ?1, user_id = ?2, auth_time = ?3, decided_at = ?4 \
             WHERE user_code = ?5 AND status = 'pending' AND expires_at > ?4",
        )
        .bind(status.as_str())
        .bind(user_id)
        .bind(auth_time)
        .bind(now)
        .bind(user_code)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        insert_audit_in(&mut tx, signer.as_ref(), &[audit]).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn poll_device<F>(&self, hash: &TokenHash, now: i64, issue: F) -> Result<DevicePoll, StoreError>
    where
        F: FnOnce(&DeviceRecord) -> Result<NewFamily, &'static str> + Send,
    {
        let mut tx = self.pool.begin().await?;
        // A write first, so the transaction holds SQLite's write lock from here on: a
        // concurrent poll of the same code waits, then sees what this one did.
        sqlx::query("UPDATE device_authorizations SET interval_secs = interval_secs WHERE device_code_hash = ?1")
            .bind(hash.as_bytes())
            .execute(&mut *tx)
            .await?;
        let sql = format!("SELECT {COLUMNS} FROM device_authorizations WHERE device_code_hash = ?1");
        let Some(row) = sqlx::query(&sql).bind(hash.as_bytes()).fetch_optional(&mut *tx).await? else {
            return Ok(DevicePoll::Unknown);
        };
        let device = record(&row)?;
        let outcome = match device.status {
            DeviceStatus::Used => DevicePoll::Used,
            _ if device.expires_at <= now => DevicePoll::Expired,
            DeviceStatus::Denied => DevicePoll::Denied,
            DeviceStatus::Pending => {
                let slow_down = device.last_polled_at.is_some_and(|last| now - last < device.interval_secs);
                let grow = if slow_down { 5 } else { 0 };
                sqlx::query(
                    "UPDATE device_authorizations SET last_polled_at = ?1, interval_secs = interval_secs + ?2 \
                     WHERE device_code_hash = ?3",
                )
                .bind(now)
                .bind(grow)
                .bind(hash.as_bytes())
                .execute(&mut *tx)
                .await?;
                DevicePoll::Pending { slow_down }
            }
            DeviceStatus::Approved => {
                sqlx::query(
                    "UPDATE device_authorizations SET status = 'used', last_polled_at = ?1 WHERE device_code_hash = ?2",
                )
                .bind(now)
                .bind(hash.as_bytes())
                .execute(&mut *tx)
                .await?;
                match issue(&device) {
                    Err(reason) => DevicePoll::Refused(reason),
                    Ok(NewFamily { family, refresh_token }) => {
                        insert_family_tx(&mut tx, &family).await?;
                        if let Some(token) = &refresh_token {
                            insert_refresh_tx(&mut tx, token, &family.id, now).await?;
                        }
                        DevicePoll::Issued { device, family }
                    }
                }
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }
}
