//! Backchannel requests on SQLite: the review and the request inserted together, and each poll
//! in one transaction that holds SQLite's write lock from its first statement.

use sqlx::Row as _;
use sqlx::sqlite::SqliteRow;

use super::audit::insert_audit_in;
use super::reviews::{LIST_COLUMNS, attach_decisions, insert_review_in, record_from_row};
use super::{SqliteStore, hash_col};
use crate::secret::TokenHash;
use crate::store::ciba::{CibaPoll, CibaRecord, CibaStore, Minted, Step, judge};
use crate::store::error::StoreError;
use crate::store::reviews::{ReviewAudit, ReviewRecord};

const COLUMNS: &str = "auth_req_id_hash, review_id, agent_id, client_id, cred, scope, resource, details, created_at, \
                       expires_at, interval_secs, last_polled_at, issued_at, issued_jti";

fn record(row: &SqliteRow) -> Result<CibaRecord, StoreError> {
    let details: String = row.try_get("details")?;
    Ok(CibaRecord {
        auth_req_id_hash: hash_col(row, "auth_req_id_hash")?,
        review_id: row.try_get("review_id")?,
        agent_id: row.try_get("agent_id")?,
        client_id: row.try_get("client_id")?,
        cred: row.try_get("cred")?,
        scope: row.try_get("scope")?,
        resource: row.try_get("resource")?,
        details: serde_json::from_str(&details)
            .map_err(|e| StoreError::Corrupt(format!("stored authorization_details are unreadable: {e}")))?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        interval_secs: row.try_get("interval_secs")?,
        last_polled_at: row.try_get("last_polled_at")?,
        issued_at: row.try_get("issued_at")?,
        issued_jti: row.try_get("issued_jti")?,
    })
}

impl CibaStore for SqliteStore {
    async fn insert_ciba(
        &self,
        review: &ReviewRecord,
        ciba: &CibaRecord,
        audit: &impl ReviewAudit,
    ) -> Result<ReviewRecord, StoreError> {
        let signer = self.signer.get()?;
        let mut tx = self.pool.begin().await?;
        let stored = insert_review_in(&mut tx, review).await?;
        sqlx::query(
            "INSERT INTO ciba_requests (auth_req_id_hash, review_id, agent_id, client_id, cred, scope, resource, \
                details, created_at, expires_at, interval_secs, last_polled_at, issued_at, issued_jti) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, NULL, NULL, NULL)",
        )
        .bind(ciba.auth_req_id_hash.as_bytes())
        .bind(&stored.request.id)
        .bind(&ciba.agent_id)
        .bind(&ciba.client_id)
        .bind(&ciba.cred)
        .bind(&ciba.scope)
        .bind(&ciba.resource)
        .bind(ciba.details.to_string())
        .bind(ciba.created_at)
        .bind(ciba.expires_at)
        .bind(ciba.interval_secs)
        .execute(&mut *tx)
        .await?;
        insert_audit_in(&mut tx, signer.as_ref(), &[&audit.change(&stored)]).await?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn poll_ciba<F, T>(
        &self,
        hash: &TokenHash,
        agent_id: &str,
        now: i64,
        issue: F,
    ) -> Result<CibaPoll<T>, StoreError>
    where
        F: FnOnce(&CibaRecord, &ReviewRecord) -> Result<Minted<T>, &'static str> + Send,
        T: Send,
    {
        let signer = self.signer.get()?;
        let mut tx = self.pool.begin().await?;
        // A write first, so the transaction holds SQLite's write lock from here on: a
        // concurrent poll of the same request waits, then sees what this one did.
        let sql = format!(
            "UPDATE ciba_requests SET interval_secs = interval_secs WHERE auth_req_id_hash = ?1 RETURNING {COLUMNS}"
        );
        let Some(row) = sqlx::query(&sql).bind(hash.as_bytes()).fetch_optional(&mut *tx).await? else {
            return Ok(CibaPoll::Unknown);
        };
        let ciba = record(&row)?;
        if ciba.agent_id != agent_id {
            return Ok(CibaPoll::NotYours);
        }
        let sql = format!("SELECT {LIST_COLUMNS} FROM review_requests WHERE id = ?1");
        let row = sqlx::query(&sql).bind(&ciba.review_id).fetch_one(&mut *tx).await?;
        let mut review = record_from_row(&row, false)?;
        attach_decisions(&mut tx, std::slice::from_mut(&mut review)).await?;
        let outcome = match judge(&ciba, &review, now) {
            Step::Pending { slow_down } => {
                sqlx::query(
                    "UPDATE ciba_requests SET last_polled_at = ?1, interval_secs = interval_secs + ?2 \
                     WHERE auth_req_id_hash = ?3",
                )
                .bind(now)
                .bind(if slow_down { 5 } else { 0 })
                .bind(hash.as_bytes())
                .execute(&mut *tx)
                .await?;
                CibaPoll::Answered(Step::Pending { slow_down })
            }
            Step::Issue => {
                let minted = issue(&ciba, &review);
                let jti = minted.as_ref().ok().map(|(_, jti, _)| jti.clone());
                sqlx::query(
                    "UPDATE ciba_requests SET issued_at = ?1, issued_jti = ?2, last_polled_at = ?1 \
                     WHERE auth_req_id_hash = ?3",
                )
                .bind(now)
                .bind(&jti)
                .bind(hash.as_bytes())
                .execute(&mut *tx)
                .await?;
                match minted {
                    Err(reason) => CibaPoll::Refused(reason),
                    Ok((token, _, audit)) => {
                        insert_audit_in(&mut tx, signer.as_ref(), &[&audit]).await?;
                        CibaPoll::Issued { ciba, review, token }
                    }
                }
            }
            other => CibaPoll::Answered(other),
        };
        tx.commit().await?;
        Ok(outcome)
    }
}
