//! Registered resources on SQLite.

use sqlx::Row as _;
use sqlx::sqlite::SqliteRow;

use super::SqliteStore;
use super::audit::insert_audit_in;
use crate::store::AuditEvent;
use crate::store::error::StoreError;
use crate::store::resources::{ResourceRecord, ResourceStore};

const COLUMNS: &str = "id, uri, name, scopes, created_at, created_by";

fn record(row: &SqliteRow) -> Result<ResourceRecord, StoreError> {
    let scopes: String = row.try_get("scopes")?;
    Ok(ResourceRecord {
        id: row.try_get("id")?,
        uri: row.try_get("uri")?,
        name: row.try_get("name")?,
        scopes: serde_json::from_str(&scopes).map_err(|e| StoreError::Corrupt(format!("scopes of a resource: {e}")))?,
        created_at: row.try_get("created_at")?,
        created_by: row.try_get("created_by")?,
    })
}

impl ResourceStore for SqliteStore {
    async fn insert_resource(&self, r: &ResourceRecord, audit: &AuditEvent) -> Result<bool, StoreError> {
        let scopes = serde_json::to_string(&r.scopes).map_err(|e| StoreError::Unstorable(e.to_string()))?;
        let signer = self.signer.get()?;
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO oauth_resources (id, uri, name, scopes, created_at, created_by) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (uri) DO NOTHING",
        )
        .bind(&r.id)
        .bind(&r.uri)
        .bind(&r.name)
        .bind(scopes)
        .bind(r.created_at)
        .bind(&r.created_by)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Ok(false);
        }
        insert_audit_in(&mut tx, signer.as_ref(), &[audit]).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn resource_by_uri(&self, uri: &str) -> Result<Option<ResourceRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM oauth_resources WHERE uri = ?1");
        let row = sqlx::query(&sql).bind(uri).fetch_optional(&self.pool).await?;
        row.as_ref().map(record).transpose()
    }

    async fn resources(&self) -> Result<Vec<ResourceRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM oauth_resources ORDER BY uri");
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter().map(record).collect()
    }

    async fn delete_resource<F>(&self, id: &str, now: i64, audit: F) -> Result<Option<ResourceRecord>, StoreError>
    where
        F: FnOnce(&ResourceRecord) -> AuditEvent + Send,
    {
        let signer = self.signer.get()?;
        let mut tx = self.pool.begin().await?;
        let sql = format!("DELETE FROM oauth_resources WHERE id = ?1 RETURNING {COLUMNS}");
        let Some(row) = sqlx::query(&sql).bind(id).fetch_optional(&mut *tx).await? else {
            return Ok(None);
        };
        let resource = record(&row)?;
        sqlx::query("UPDATE token_families SET revoked_at = COALESCE(revoked_at, ?1) WHERE resource = ?2")
            .bind(now)
            .bind(&resource.uri)
            .execute(&mut *tx)
            .await?;
        insert_audit_in(&mut tx, signer.as_ref(), &[&audit(&resource)]).await?;
        tx.commit().await?;
        Ok(Some(resource))
    }
}
