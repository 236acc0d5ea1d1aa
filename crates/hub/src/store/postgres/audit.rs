//! The audit log on PostgreSQL.

use sqlx::{PgConnection, Row as _};

use super::PgStore;
use crate::store::audit::{AuditEvent, AuditQuery, AuditStore};
use crate::store::error::StoreError;

/// Writes one audit row on `conn` (a pooled connection or an open transaction).
pub(super) async fn insert_audit_in(conn: &mut PgConnection, event: &AuditEvent) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_events \
            (at, actor_kind, actor_id, actor_name, action, target_kind, target_id, outcome, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(event.at)
    .bind(&event.actor_kind)
    .bind(&event.actor_id)
    .bind(&event.actor_name)
    .bind(&event.action)
    .bind(&event.target_kind)
    .bind(&event.target_id)
    .bind(&event.outcome)
    .bind(event.detail.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

impl AuditStore for PgStore {
    async fn insert_audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        insert_audit_in(&mut conn, event).await
    }

    async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, actor_kind, actor_id, actor_name, action, target_kind, target_id, outcome, detail \
             FROM audit_events \
             WHERE ($1 IS NULL OR id < $1) \
               AND ($2 IS NULL OR substr(action, 1, length($2)) = $2) \
               AND ($3 IS NULL OR actor_id = $3) \
               AND ($4 IS NULL OR target_id = $4) \
             ORDER BY id DESC LIMIT $5",
        )
        .bind(query.before)
        .bind(&query.action_prefix)
        .bind(&query.actor_id)
        .bind(&query.target_id)
        .bind(i64::from(query.limit.clamp(1, 1000)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let detail: String = row.try_get("detail")?;
                Ok(AuditEvent {
                    id: row.try_get("id")?,
                    at: row.try_get("at")?,
                    actor_kind: row.try_get("actor_kind")?,
                    actor_id: row.try_get("actor_id")?,
                    actor_name: row.try_get("actor_name")?,
                    action: row.try_get("action")?,
                    target_kind: row.try_get("target_kind")?,
                    target_id: row.try_get("target_id")?,
                    outcome: row.try_get("outcome")?,
                    detail: serde_json::from_str(&detail)
                        .map_err(|e| StoreError::Corrupt(format!("audit detail is not JSON: {e}")))?,
                })
            })
            .collect()
    }
}
