//! The audit log on PostgreSQL: rows chained by hash, the signed head updated in the same
//! transaction (see `crate::store::audit` for the encoding).

use std::sync::{Arc, RwLock};

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, QueryBuilder, Row as _};

use super::PgStore;
use crate::store::audit::{
    AuditEvent, AuditHead, AuditQuery, AuditSigner, AuditStore, ChainRow, GENESIS, head_message, row_hash,
};
use crate::store::error::StoreError;

/// The key appends sign the head with, shared by every clone of the store.
#[derive(Clone, Default)]
pub(super) struct SignerSlot(Arc<RwLock<Option<Arc<dyn AuditSigner>>>>);

impl std::fmt::Debug for SignerSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = self.0.read().map(|s| s.is_some()).unwrap_or(false);
        f.debug_struct("SignerSlot").field("set", &set).finish()
    }
}

impl SignerSlot {
    /// The signer, or an error when the hub has set none (nothing is appended unsigned).
    pub(super) fn get(&self) -> Result<Arc<dyn AuditSigner>, StoreError> {
        let slot = self.0.read().map_err(|_| StoreError::Corrupt("the audit signer lock is poisoned".into()))?;
        slot.clone().ok_or_else(|| StoreError::Unstorable("no key to sign the audit log's head with".into()))
    }
}

/// The head as read under the write lock.
struct Head {
    last_id: i64,
    last_hash: [u8; 32],
    count: i64,
}

fn hash32(bytes: Option<Vec<u8>>) -> Option<[u8; 32]> {
    bytes.and_then(|b| b.as_slice().try_into().ok())
}

/// Reads the head and locks its row (`FOR UPDATE`: the first statement of the append, so
/// appends from every hub serialize until this transaction ends), sealing the log first if it
/// was never sealed.
async fn lock_head(conn: &mut PgConnection) -> Result<Head, StoreError> {
    let row = sqlx::query("SELECT last_id, last_hash, count, sealed FROM audit_head WHERE id = 1 FOR UPDATE")
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::Corrupt("the audit log has no head row".into()))?;
    let sealed: i64 = row.try_get("sealed")?;
    if sealed == 0 {
        return seal_in(conn).await.map(|(head, _)| head);
    }
    Ok(Head {
        last_id: row.try_get("last_id")?,
        last_hash: hash32(row.try_get("last_hash")?)
            .ok_or_else(|| StoreError::Corrupt("the audit head's hash is not 32 bytes".into()))?,
        count: row.try_get("count")?,
    })
}

/// Chains every row of a never-sealed log in id order and marks it sealed (the caller holds
/// the write lock and signs the head). A never-sealed log with a chained row is refused: the
/// seal is not a way to re-chain a log.
async fn seal_in(conn: &mut PgConnection) -> Result<(Head, u64), StoreError> {
    let chained: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE hash IS NOT NULL").fetch_one(&mut *conn).await?;
    if chained > 0 {
        return Err(StoreError::Corrupt(
            "the audit log's rows are chained but its head says it was never sealed: the head was changed".into(),
        ));
    }
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM audit_events ORDER BY id")).fetch_all(&mut *conn).await?;
    let mut head = Head { last_id: 0, last_hash: GENESIS, count: 0 };
    for row in &rows {
        let row = chain_row(row)?;
        let hash = row_hash(&head.last_hash, &row);
        sqlx::query("UPDATE audit_events SET hash = $1 WHERE id = $2")
            .bind(&hash[..])
            .bind(row.id)
            .execute(&mut *conn)
            .await?;
        head = Head { last_id: row.id, last_hash: hash, count: head.count + 1 };
    }
    sqlx::query("UPDATE audit_head SET last_id = $1, last_hash = $2, count = $3, sealed = 1 WHERE id = 1")
        .bind(head.last_id)
        .bind(&head.last_hash[..])
        .bind(head.count)
        .execute(&mut *conn)
        .await?;
    let n = rows.len() as u64;
    Ok((head, n))
}

/// Inserts `event` after `head` and advances it.
async fn append_row(conn: &mut PgConnection, head: &mut Head, event: &AuditEvent) -> Result<(), StoreError> {
    let detail = event.detail.to_string();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO audit_events \
            (at, actor_kind, actor_id, actor_name, action, target_kind, target_id, outcome, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(event.at)
    .bind(&event.actor_kind)
    .bind(&event.actor_id)
    .bind(&event.actor_name)
    .bind(&event.action)
    .bind(&event.target_kind)
    .bind(&event.target_id)
    .bind(&event.outcome)
    .bind(&detail)
    .fetch_one(&mut *conn)
    .await?;
    let hash = row_hash(&head.last_hash, &ChainRow::of(id, event));
    sqlx::query("UPDATE audit_events SET hash = $1 WHERE id = $2").bind(&hash[..]).bind(id).execute(&mut *conn).await?;
    *head = Head { last_id: id, last_hash: hash, count: head.count + 1 };
    Ok(())
}

/// Signs and stores `head`.
async fn sign_head(conn: &mut PgConnection, signer: &dyn AuditSigner, head: &Head) -> Result<(), StoreError> {
    let (kid, signature) = signer.sign_head(&|kid| head_message(kid, head.last_id, &head.last_hash, head.count));
    sqlx::query(
        "UPDATE audit_head SET last_id = $1, last_hash = $2, count = $3, kid = $4, signature = $5, sealed = 1 \
         WHERE id = 1",
    )
    .bind(head.last_id)
    .bind(&head.last_hash[..])
    .bind(head.count)
    .bind(kid)
    .bind(signature)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Appends `events` to the chain on `conn` (a pooled connection in a transaction, or the
/// transaction of the change they record) and signs the new head.
pub(super) async fn insert_audit_in(
    conn: &mut PgConnection,
    signer: &dyn AuditSigner,
    events: &[&AuditEvent],
) -> Result<(), StoreError> {
    let mut head = lock_head(conn).await?;
    for event in events {
        append_row(conn, &mut head, event).await?;
    }
    sign_head(conn, signer, &head).await
}

const COLUMNS: &str = "id, at, actor_kind, actor_id, actor_name, action, target_kind, target_id, outcome, detail, hash";

fn chain_row(row: &PgRow) -> Result<ChainRow, StoreError> {
    Ok(ChainRow {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        actor_kind: row.try_get("actor_kind")?,
        actor_id: row.try_get("actor_id")?,
        actor_name: row.try_get("actor_name")?,
        action: row.try_get("action")?,
        target_kind: row.try_get("target_kind")?,
        target_id: row.try_get("target_id")?,
        outcome: row.try_get("outcome")?,
        detail: row.try_get("detail")?,
        hash: hash32(row.try_get("hash")?),
    })
}

impl AuditStore for PgStore {
    fn set_audit_signer(&self, signer: Arc<dyn AuditSigner>) {
        if let Ok(mut slot) = self.signer.0.write() {
            *slot = Some(signer);
        }
    }

    async fn seal_audit_log(&self) -> Result<u64, StoreError> {
        let signer = self.signer.get()?;
        let mut tx = self.pool.begin().await?;
        let sealed: i64 = sqlx::query_scalar("SELECT sealed FROM audit_head WHERE id = 1 FOR UPDATE")
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::Corrupt("the audit log has no head row".into()))?;
        if sealed != 0 {
            tx.rollback().await?;
            return Ok(0);
        }
        let (head, n) = seal_in(&mut tx).await?;
        sign_head(&mut tx, signer.as_ref(), &head).await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn insert_audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        self.insert_audits(std::slice::from_ref(event)).await
    }

    async fn insert_audits(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let signer = self.signer.get()?;
        let mut tx = self.pool.begin().await?;
        let events: Vec<&AuditEvent> = events.iter().collect();
        insert_audit_in(&mut tx, signer.as_ref(), &events).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        // Only the filters given are in the statement. With `($n IS NULL OR …)` for each,
        // PostgreSQL's generic plan for the one prepared statement (chosen after five runs)
        // could not use the actor, target or time index for the filters actually set.
        let mut sql = QueryBuilder::<Postgres>::new(
            "SELECT id, at, actor_kind, actor_id, actor_name, action, target_kind, target_id, outcome, detail \
             FROM audit_events WHERE TRUE",
        );
        if let Some(before) = query.before {
            sql.push(" AND id < ").push_bind(before);
        }
        if let Some(prefix) = &query.action_prefix {
            sql.push(" AND substr(action, 1, length(").push_bind(prefix).push(")) = ").push_bind(prefix);
        }
        if let Some(actor) = &query.actor_id {
            sql.push(" AND (actor_id = ").push_bind(actor).push(" OR actor_name = ").push_bind(actor).push(")");
        }
        if let Some(target) = &query.target_id {
            sql.push(" AND target_id = ").push_bind(target);
        }
        if let Some(outcome) = &query.outcome {
            sql.push(" AND outcome = ").push_bind(outcome);
        }
        if let Some(since) = query.since {
            sql.push(" AND at >= ").push_bind(since);
        }
        if let Some(until) = query.until {
            sql.push(" AND at < ").push_bind(until);
        }
        sql.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(query.limit.clamp(1, 1000)));
        let rows = sql.build().fetch_all(&self.pool).await?;
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

    async fn audit_head(&self) -> Result<Option<AuditHead>, StoreError> {
        let Some(row) = sqlx::query("SELECT last_id, last_hash, count, kid, signature FROM audit_head WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(AuditHead {
            last_id: row.try_get("last_id")?,
            last_hash: hash32(row.try_get("last_hash")?).unwrap_or(GENESIS),
            count: row.try_get("count")?,
            kid: row.try_get("kid")?,
            signature: row.try_get("signature")?,
        }))
    }

    async fn audit_chain(&self, after: i64, limit: u32) -> Result<Vec<ChainRow>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM audit_events WHERE id > $1 ORDER BY id LIMIT $2"))
            .bind(after)
            .bind(i64::from(limit.max(1)))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(chain_row).collect()
    }
}
