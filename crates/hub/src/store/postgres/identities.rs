//! [`IdentityStore`] on PostgreSQL, and the identity [`Write`]s of a change.

use sqlx::PgConnection;
use sqlx::Row as _;

use super::PgStore;
use super::connect::hash_col;
use crate::secret::TokenHash;
use crate::store::StoreError;
use crate::store::changes::{Outcome, Write};
use crate::store::identities::{IdentityStore, ManagedBy, SsoRequest};

pub(super) async fn write(conn: &mut PgConnection, w: &Write<'_>) -> Result<Outcome, StoreError> {
    let result = match w {
        Write::SetUserManaged { id, managed_by, external_id } => {
            sqlx::query("UPDATE users SET managed_by = $1, external_id = $2 WHERE id = $3 AND deleted_at IS NULL")
                .bind(managed_by.as_str())
                .bind(external_id)
                .bind(id)
                .execute(&mut *conn)
                .await
        }
        Write::LinkIdentity { issuer, subject, user_id, now } => {
            sqlx::query("INSERT INTO user_identities (issuer, subject, user_id, created_at) VALUES ($1, $2, $3, $4)")
                .bind(issuer)
                .bind(subject)
                .bind(user_id)
                .bind(now)
                .execute(&mut *conn)
                .await
        }
        other => return Err(StoreError::Unstorable(format!("not an identity write: {other:?}"))),
    };
    match result {
        Ok(r) if r.rows_affected() > 0 => Ok(Outcome::Done),
        Ok(_) => Ok(Outcome::Unchanged),
        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Ok(Outcome::NameTaken),
        Err(e) => Err(e.into()),
    }
}

impl IdentityStore for PgStore {
    async fn user_managed_by(&self, id: &str) -> Result<Option<ManagedBy>, StoreError> {
        let managed: Option<Option<String>> = sqlx::query_scalar("SELECT managed_by FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(managed.flatten().as_deref().and_then(ManagedBy::parse))
    }

    async fn identity_user(&self, issuer: &str, subject: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT user_id FROM user_identities WHERE issuer = $1 AND subject = $2")
            .bind(issuer)
            .bind(subject)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn user_by_external_id(&self, external_id: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT id FROM users WHERE external_id = $1")
            .bind(external_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn insert_sso_request(&self, r: &SsoRequest) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM sso_requests WHERE expires_at <= $1").bind(r.created_at).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO sso_requests (state_hash, request_id, nonce, verifier, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(r.state_hash.as_bytes())
        .bind(&r.request_id)
        .bind(&r.nonce)
        .bind(&r.verifier)
        .bind(r.created_at)
        .bind(r.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn take_sso_request(&self, state_hash: &TokenHash, now: i64) -> Result<Option<SsoRequest>, StoreError> {
        let row = sqlx::query(
            "DELETE FROM sso_requests WHERE state_hash = $1 \
             RETURNING state_hash, request_id, nonce, verifier, created_at, expires_at",
        )
        .bind(state_hash.as_bytes())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let request = SsoRequest {
            state_hash: hash_col(&row, "state_hash")?,
            request_id: row.try_get("request_id")?,
            nonce: row.try_get("nonce")?,
            verifier: row.try_get("verifier")?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
        };
        Ok((request.expires_at > now).then_some(request))
    }
}
