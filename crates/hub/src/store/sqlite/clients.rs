//! Registered clients on SQLite.

use sqlx::Row as _;
use sqlx::sqlite::SqliteRow;

use super::SqliteStore;
use super::audit::insert_audit_in;
use crate::store::AuditEvent;
use crate::store::clients::{ClientRecord, ClientStore};
use crate::store::error::StoreError;

const COLUMNS: &str = "id, name, redirect_uris, created_at, last_used_at, revoked_at, address";

fn record(row: &SqliteRow) -> Result<ClientRecord, StoreError> {
    let uris: String = row.try_get("redirect_uris")?;
    Ok(ClientRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        redirect_uris: serde_json::from_str(&uris)
            .map_err(|e| StoreError::Corrupt(format!("redirect_uris of a client: {e}")))?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked_at: row.try_get("revoked_at")?,
        address: row.try_get("address")?,
    })
}

impl ClientStore for SqliteStore {
    async fn insert_client(&self, c: &ClientRecord, audit: &AuditEvent) -> Result<(), StoreError> {
        let uris = serde_json::to_string(&c.redirect_uris).map_err(|e| StoreError::Unstorable(e.to_string()))?;
        let signer = self.signer.get()?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO oauth_clients (id, name, redirect_uris, created_at, last_used_at, revoked_at, address) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(&c.id)
        .bind(&c.name)
        .bind(uris)
        .bind(c.created_at)
        .bind(c.last_used_at)
        .bind(c.revoked_at)
        .bind(&c.address)
        .execute(&mut *tx)
        .await?;
        insert_audit_in(&mut tx, signer.as_ref(), &[audit]).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn registered_client(&self, id: &str) -> Result<Option<ClientRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM oauth_clients WHERE id = ?1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(record).transpose()
    }

    async fn registered_clients(&self, limit: u32) -> Result<Vec<ClientRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM oauth_clients ORDER BY created_at DESC, id DESC LIMIT ?1");
        let rows = sqlx::query(&sql).bind(i64::from(limit)).fetch_all(&self.pool).await?;
        rows.iter().map(record).collect()
    }

    async fn revoke_client<F>(&self, id: &str, now: i64, audit: F) -> Result<Option<ClientRecord>, StoreError>
    where
        F: FnOnce(&ClientRecord) -> AuditEvent + Send,
    {
        let signer = self.signer.get()?;
        let mut tx = self.pool.begin().await?;
        let sql = format!(
            "UPDATE oauth_clients SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL RETURNING {COLUMNS}"
        );
        let Some(row) = sqlx::query(&sql).bind(now).bind(id).fetch_optional(&mut *tx).await? else {
            return Ok(None);
        };
        let client = record(&row)?;
        sqlx::query("UPDATE token_families SET revoked_at = COALESCE(revoked_at, ?1) WHERE client_id = ?2")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        insert_audit_in(&mut tx, signer.as_ref(), &[&audit(&client)]).await?;
        tx.commit().await?;
        Ok(Some(client))
    }

    async fn record_client_uses(&self, uses: &[(String, i64)]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for (id, at) in uses {
            sqlx::query(
                "UPDATE oauth_clients SET last_used_at = ?1 WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at < ?1)",
            )
            .bind(at)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn purge_unused_clients<F>(&self, before: i64, now: i64, audit: F) -> Result<Vec<ClientRecord>, StoreError>
    where
        F: FnOnce(&[ClientRecord]) -> AuditEvent + Send,
    {
        let signer = self.signer.get()?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE token_families SET revoked_at = COALESCE(revoked_at, ?1) WHERE client_id IN \
             (SELECT id FROM oauth_clients WHERE COALESCE(last_used_at, created_at) < ?2)",
        )
        .bind(now)
        .bind(before)
        .execute(&mut *tx)
        .await?;
        let sql =
            format!("DELETE FROM oauth_clients WHERE COALESCE(last_used_at, created_at) < ?1 RETURNING {COLUMNS}");
        let rows = sqlx::query(&sql).bind(before).fetch_all(&mut *tx).await?;
        let deleted = rows.iter().map(record).collect::<Result<Vec<_>, _>>()?;
        if !deleted.is_empty() {
            insert_audit_in(&mut tx, signer.as_ref(), &[&audit(&deleted)]).await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }
}
