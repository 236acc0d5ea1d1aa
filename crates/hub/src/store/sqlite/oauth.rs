//! The OAuth flow's state on SQLite.

use sqlx::sqlite::SqliteRow;
use sqlx::{Row as _, Sqlite, Transaction};

use super::audit::insert_audit_in;
use super::{SqliteStore, hash_col};
use crate::secret::TokenHash;
use crate::store::error::StoreError;
use crate::store::oauth::{
    CodeRecord, Family, GrantAudit, LoginSession, NewFamily, OAuthStore, PendingAuthorization, Redemption, Rotation,
};

const CODE_COLUMNS: &str = "code_hash, client_id, redirect_uri, user_id, scope, nonce, code_challenge, auth_time, created_at, expires_at, resource";

fn code_from_row(row: &SqliteRow) -> Result<CodeRecord, StoreError> {
    Ok(CodeRecord {
        code_hash: hash_col(row, "code_hash")?,
        client_id: row.try_get("client_id")?,
        redirect_uri: row.try_get("redirect_uri")?,
        user_id: row.try_get("user_id")?,
        scope: row.try_get("scope")?,
        nonce: row.try_get("nonce")?,
        code_challenge: row.try_get("code_challenge")?,
        auth_time: row.try_get("auth_time")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        resource: row.try_get("resource")?,
    })
}

const FAMILY_COLUMNS: &str =
    "id, user_id, client_id, scope, auth_time, created_at, expires_at, revoked_at, last_used_at, address, resource";

fn family_from_row(row: &SqliteRow) -> Result<Family, StoreError> {
    Ok(Family {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        client_id: row.try_get("client_id")?,
        scope: row.try_get("scope")?,
        auth_time: row.try_get("auth_time")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
        last_used_at: row.try_get("last_used_at")?,
        address: row.try_get("address")?,
        resource: row.try_get("resource")?,
    })
}

const PENDING_COLUMNS: &str =
    "id, client_id, redirect_uri, scope, state, nonce, code_challenge, created_at, expires_at, resource";

fn pending_from_row(row: &SqliteRow) -> Result<PendingAuthorization, StoreError> {
    Ok(PendingAuthorization {
        id: row.try_get("id")?,
        client_id: row.try_get("client_id")?,
        redirect_uri: row.try_get("redirect_uri")?,
        scope: row.try_get("scope")?,
        state: row.try_get("state")?,
        nonce: row.try_get("nonce")?,
        code_challenge: row.try_get("code_challenge")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        resource: row.try_get("resource")?,
    })
}

async fn revoke_family_tx(tx: &mut Transaction<'_, Sqlite>, id: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE token_families SET revoked_at = COALESCE(revoked_at, ?1) WHERE id = ?2")
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub(super) async fn insert_family_tx(tx: &mut Transaction<'_, Sqlite>, family: &Family) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO token_families (id, user_id, client_id, scope, auth_time, created_at, expires_at, revoked_at, \
            last_used_at, address, resource) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )
    .bind(&family.id)
    .bind(&family.user_id)
    .bind(&family.client_id)
    .bind(&family.scope)
    .bind(family.auth_time)
    .bind(family.created_at)
    .bind(family.expires_at)
    .bind(family.revoked_at)
    .bind(family.last_used_at)
    .bind(&family.address)
    .bind(&family.resource)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// True if a token of the family other than `old`, issued at or after `old` was used, has been
/// used itself: the family went on past `old`, so `old` coming back is a reuse, not a retry.
async fn successor_used(
    tx: &mut Transaction<'_, Sqlite>,
    family_id: &str,
    old: &TokenHash,
    used_at: i64,
) -> Result<bool, StoreError> {
    let used: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM refresh_tokens WHERE family_id = ?1 AND token_hash <> ?2 \
         AND created_at >= ?3 AND used_at IS NOT NULL)",
    )
    .bind(family_id)
    .bind(old.as_bytes())
    .bind(used_at)
    .fetch_one(&mut **tx)
    .await?;
    Ok(used)
}

pub(super) async fn insert_refresh_tx(
    tx: &mut Transaction<'_, Sqlite>,
    hash: &TokenHash,
    family_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO refresh_tokens (token_hash, family_id, created_at, used_at) VALUES (?1, ?2, ?3, NULL)")
        .bind(hash.as_bytes())
        .bind(family_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl OAuthStore for SqliteStore {
    async fn count_pending(&self, now: i64) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM pending_authorizations WHERE expires_at > ?1")
            .bind(now)
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn insert_pending(&self, p: &PendingAuthorization) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO pending_authorizations \
             (id, client_id, redirect_uri, scope, state, nonce, code_challenge, created_at, expires_at, resource) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .bind(&p.id)
        .bind(&p.client_id)
        .bind(&p.redirect_uri)
        .bind(&p.scope)
        .bind(&p.state)
        .bind(&p.nonce)
        .bind(&p.code_challenge)
        .bind(p.created_at)
        .bind(p.expires_at)
        .bind(&p.resource)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn pending(&self, id: &str, now: i64) -> Result<Option<PendingAuthorization>, StoreError> {
        let sql = format!("SELECT {PENDING_COLUMNS} FROM pending_authorizations WHERE id = ?1 AND expires_at > ?2");
        let row = sqlx::query(&sql).bind(id).bind(now).fetch_optional(&self.pool).await?;
        row.as_ref().map(pending_from_row).transpose()
    }

    async fn take_pending(&self, id: &str, now: i64) -> Result<Option<PendingAuthorization>, StoreError> {
        let sql =
            format!("DELETE FROM pending_authorizations WHERE id = ?1 AND expires_at > ?2 RETURNING {PENDING_COLUMNS}");
        let row = sqlx::query(&sql).bind(id).bind(now).fetch_optional(&self.pool).await?;
        row.as_ref().map(pending_from_row).transpose()
    }

    async fn login_session(&self, id_hash: &TokenHash, now: i64) -> Result<Option<LoginSession>, StoreError> {
        let row = sqlx::query(
            "SELECT id_hash, user_id, auth_time, expires_at FROM login_sessions WHERE id_hash = ?1 AND expires_at > ?2",
        )
        .bind(id_hash.as_bytes())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            None => Ok(None),
            Some(row) => Ok(Some(LoginSession {
                id_hash: hash_col(&row, "id_hash")?,
                user_id: row.try_get("user_id")?,
                auth_time: row.try_get("auth_time")?,
                expires_at: row.try_get("expires_at")?,
            })),
        }
    }

    async fn redeem_code<F>(
        &self,
        code_hash: &TokenHash,
        now: i64,
        audit: &impl GrantAudit,
        check: F,
    ) -> Result<Redemption, StoreError>
    where
        F: FnOnce(&CodeRecord) -> Result<NewFamily, &'static str> + Send,
    {
        let signer = self.signer.get()?;
        let mut tx = self.pool.begin().await?;
        // The UPDATE comes first so the transaction holds SQLite's write lock from here on:
        // a concurrent redemption waits and then sees the code used.
        let sql = format!(
            "UPDATE authorization_codes SET used_at = ?1 WHERE code_hash = ?2 AND used_at IS NULL \
             RETURNING {CODE_COLUMNS}"
        );
        let claimed = sqlx::query(&sql).bind(now).bind(code_hash.as_bytes()).fetch_optional(&mut *tx).await?;
        let Some(row) = claimed else {
            let previous: Option<(Option<String>, String)> =
                sqlx::query_as("SELECT family_id, user_id FROM authorization_codes WHERE code_hash = ?1")
                    .bind(code_hash.as_bytes())
                    .fetch_optional(&mut *tx)
                    .await?;
            let outcome = match previous {
                None => Redemption::Unknown,
                Some((family_id, user_id)) => {
                    if let Some(id) = &family_id {
                        revoke_family_tx(&mut tx, id, now).await?;
                    }
                    let event = audit.code_replayed(&user_id, family_id.as_deref());
                    insert_audit_in(&mut tx, signer.as_ref(), &[&event]).await?;
                    Redemption::Replayed { family_id }
                }
            };
            tx.commit().await?;
            return Ok(outcome);
        };
        let code = code_from_row(&row)?;
        let outcome = match check(&code) {
            Err(reason) => Redemption::Refused(reason),
            Ok(NewFamily { family, refresh_token }) => {
                insert_family_tx(&mut tx, &family).await?;
                if let Some(hash) = &refresh_token {
                    insert_refresh_tx(&mut tx, hash, &family.id, now).await?;
                }
                sqlx::query("UPDATE authorization_codes SET family_id = ?1 WHERE code_hash = ?2")
                    .bind(&family.id)
                    .bind(code_hash.as_bytes())
                    .execute(&mut *tx)
                    .await?;
                Redemption::Issued { code, family }
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn rotate_refresh_token(
        &self,
        old: &TokenHash,
        new: &TokenHash,
        client_id: &str,
        now: i64,
        retry_since: i64,
        audit: &impl GrantAudit,
    ) -> Result<Rotation, StoreError> {
        let signer = self.signer.get()?;
        let mut tx = self.pool.begin().await?;
        let claimed: Option<String> = sqlx::query_scalar(
            "UPDATE refresh_tokens SET used_at = ?1 WHERE token_hash = ?2 AND used_at IS NULL RETURNING family_id",
        )
        .bind(now)
        .bind(old.as_bytes())
        .fetch_optional(&mut *tx)
        .await?;
        let retried = claimed.is_none();
        let family_id = match claimed {
            Some(family_id) => family_id,
            None => {
                let used: Option<(String, Option<i64>, Option<i64>)> = sqlx::query_as(
                    "SELECT family_id, used_at, superseded_at FROM refresh_tokens WHERE token_hash = ?1",
                )
                .bind(old.as_bytes())
                .fetch_optional(&mut *tx)
                .await?;
                let Some((family_id, used_at, superseded_at)) = used else {
                    tx.commit().await?;
                    return Ok(Rotation::Unknown);
                };
                let used_at = used_at.unwrap_or(i64::MIN);
                if superseded_at.is_some()
                    || used_at < retry_since
                    || successor_used(&mut tx, &family_id, old, used_at).await?
                {
                    revoke_family_tx(&mut tx, &family_id, now).await?;
                    let sql = format!("SELECT {FAMILY_COLUMNS} FROM token_families WHERE id = ?1");
                    let row = sqlx::query(&sql).bind(&family_id).fetch_one(&mut *tx).await?;
                    let event = audit.refresh_reused(&family_from_row(&row)?);
                    insert_audit_in(&mut tx, signer.as_ref(), &[&event]).await?;
                    tx.commit().await?;
                    return Ok(Rotation::Reused { family_id });
                }
                family_id
            }
        };
        // Locked so a concurrent revocation of the family lands before or after, not between.
        let sql = format!("SELECT {FAMILY_COLUMNS} FROM token_families WHERE id = ?1");
        let row = sqlx::query(&sql).bind(&family_id).fetch_one(&mut *tx).await?;
        let family = family_from_row(&row)?;
        let refusal = if family.revoked_at.is_some() {
            Some("the refresh token has been revoked")
        } else if family.expires_at <= now {
            Some("the session has ended; sign in again")
        } else if family.client_id != client_id {
            Some("the refresh token was issued to another client")
        } else {
            None
        };
        if let Some(reason) = refusal {
            // Leave the token as it was: refusing must not look like a use.
            tx.rollback().await?;
            return Ok(Rotation::Refused(reason));
        }
        let event = if retried {
            // The tokens issued since `old` was used never reached the client: used up, and
            // never themselves in a grace period.
            sqlx::query(
                "UPDATE refresh_tokens SET used_at = ?1, superseded_at = ?1 \
                 WHERE family_id = ?2 AND used_at IS NULL",
            )
            .bind(now)
            .bind(&family.id)
            .execute(&mut *tx)
            .await?;
            audit.refresh_retried(&family)
        } else {
            audit.refreshed(&family)
        };
        insert_refresh_tx(&mut tx, new, &family.id, now).await?;
        insert_audit_in(&mut tx, signer.as_ref(), &[&event]).await?;
        tx.commit().await?;
        Ok(Rotation::Rotated(family))
    }

    async fn family_of_refresh_token(&self, token: &TokenHash) -> Result<Option<Family>, StoreError> {
        let sql = format!(
            "SELECT {FAMILY_COLUMNS} FROM token_families \
             WHERE id = (SELECT family_id FROM refresh_tokens WHERE token_hash = ?1)"
        );
        let row = sqlx::query(&sql).bind(token.as_bytes()).fetch_optional(&self.pool).await?;
        row.as_ref().map(family_from_row).transpose()
    }

    async fn family(&self, id: &str) -> Result<Option<Family>, StoreError> {
        let sql = format!("SELECT {FAMILY_COLUMNS} FROM token_families WHERE id = ?1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(family_from_row).transpose()
    }

    async fn revoke_family(&self, id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE token_families SET revoked_at = COALESCE(revoked_at, ?1) WHERE id = ?2")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn revoke_access_token(&self, jti: &str, expires_at: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO revoked_access_tokens (jti, expires_at) VALUES (?1, ?2) \
             ON CONFLICT (jti) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)",
        )
        .bind(jti)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn access_token_revoked(&self, jti: &str, family_id: Option<&str>, now: i64) -> Result<bool, StoreError> {
        let Some(family_id) = family_id else {
            let revoked: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM revoked_access_tokens WHERE jti = ?1)")
                    .bind(jti)
                    .fetch_one(&self.pool)
                    .await?;
            return Ok(revoked);
        };
        let live: bool = sqlx::query_scalar(
            "SELECT NOT EXISTS (SELECT 1 FROM revoked_access_tokens WHERE jti = ?1) \
                AND EXISTS (SELECT 1 FROM token_families WHERE id = ?2 AND revoked_at IS NULL AND expires_at > ?3)",
        )
        .bind(jti)
        .bind(family_id)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(!live)
    }

    async fn sessions_of(&self, user_id: &str, now: i64) -> Result<Vec<Family>, StoreError> {
        let sql = format!(
            "SELECT {FAMILY_COLUMNS} FROM token_families \
             WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2 ORDER BY created_at DESC, id"
        );
        let rows = sqlx::query(&sql).bind(user_id).bind(now).fetch_all(&self.pool).await?;
        rows.iter().map(family_from_row).collect()
    }

    async fn touch_family(&self, id: &str, now: i64, address: Option<&str>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE token_families SET last_used_at = max(COALESCE(last_used_at, ?1), ?1), \
             address = COALESCE(?2, address) WHERE id = ?3",
        )
        .bind(now)
        .bind(address)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn session_settings(&self) -> Result<Option<keyway_api::users::SessionSettings>, StoreError> {
        let row = sqlx::query("SELECT absolute_secs, idle_secs FROM session_settings WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let secs = |col: &str| -> Result<u64, StoreError> {
            let v: i64 = row.try_get(col)?;
            u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("session_settings.{col} is negative")))
        };
        Ok(Some(keyway_api::users::SessionSettings {
            absolute_secs: secs("absolute_secs")?,
            idle_secs: secs("idle_secs")?,
        }))
    }

    async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut removed = 0;
        for sql in [
            "DELETE FROM pending_authorizations WHERE expires_at <= ?1",
            "DELETE FROM login_sessions WHERE expires_at <= ?1",
            "DELETE FROM revoked_access_tokens WHERE expires_at <= ?1",
            // Families go when their sign-in has ended; their refresh tokens cascade and the
            // codes they came from lose their family_id.
            "DELETE FROM token_families WHERE expires_at <= ?1",
            // Used codes are kept while their family lives so a replay can still revoke it.
            "DELETE FROM authorization_codes WHERE expires_at <= ?1 AND family_id IS NULL",
            "DELETE FROM device_authorizations WHERE expires_at <= ?1",
            "DELETE FROM ciba_requests WHERE expires_at <= ?1 - 3600",
        ] {
            removed += sqlx::query(sql).bind(now).execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(removed)
    }
}
