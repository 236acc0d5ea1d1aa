//! SQLite backend (WAL mode, foreign keys on).

mod reviews;

use std::str::FromStr as _;
use std::time::Duration;

use keyway_api::Role;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row as _, Sqlite, Transaction};
use zeroize::Zeroizing;

use super::{
    AuditEvent, AuditQuery, CancelOutcome, CodeRecord, Family, LoginSession, NewFamily, PendingAuthorization,
    Redemption, ReviewFilter, ReviewRecord, Rotation, Store, UserRecord, Vote, VoteOutcome,
};
use crate::error::Error;
use crate::secret::TokenHash;
use keyway_api::reviews::{Actor, ReviewSettings};

/// Store backed by a SQLite database file.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url`, e.g. `sqlite://keyway-hub.db`.
    pub async fn connect(url: &str) -> Result<SqliteStore, Error> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| Error::InvalidSetting { name: "database_url", reason: e.to_string() })?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let pool = if in_memory {
            // An in-memory database lives as long as one connection to it: keep exactly one.
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await?
        } else {
            SqlitePoolOptions::new().max_connections(4).connect_with(options).await?
        };
        Ok(SqliteStore { pool })
    }

    /// The underlying pool (for tests and administration).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

fn hash_col(row: &SqliteRow, col: &str) -> Result<TokenHash, Error> {
    let bytes: Vec<u8> = row.try_get(col)?;
    TokenHash::from_slice(&bytes).ok_or_else(|| Error::Internal(format!("column {col} is not a 32-byte hash")))
}

const CODE_COLUMNS: &str =
    "code_hash, client_id, redirect_uri, user_id, scope, nonce, code_challenge, auth_time, created_at, expires_at";

fn code_from_row(row: &SqliteRow) -> Result<CodeRecord, Error> {
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
    })
}

const FAMILY_COLUMNS: &str = "id, user_id, client_id, scope, auth_time, created_at, expires_at, revoked_at";

fn family_from_row(row: &SqliteRow) -> Result<Family, Error> {
    Ok(Family {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        client_id: row.try_get("client_id")?,
        scope: row.try_get("scope")?,
        auth_time: row.try_get("auth_time")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

const PENDING_COLUMNS: &str =
    "id, client_id, redirect_uri, scope, state, nonce, code_challenge, created_at, expires_at";

fn pending_from_row(row: &SqliteRow) -> Result<PendingAuthorization, Error> {
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
    })
}

async fn revoke_family_tx(tx: &mut Transaction<'_, Sqlite>, id: &str, now: i64) -> Result<(), Error> {
    sqlx::query("UPDATE token_families SET revoked_at = COALESCE(revoked_at, ?1) WHERE id = ?2")
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn insert_family_tx(tx: &mut Transaction<'_, Sqlite>, family: &Family) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO token_families (id, user_id, client_id, scope, auth_time, created_at, expires_at, revoked_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .bind(&family.id)
    .bind(&family.user_id)
    .bind(&family.client_id)
    .bind(&family.scope)
    .bind(family.auth_time)
    .bind(family.created_at)
    .bind(family.expires_at)
    .bind(family.revoked_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_refresh_tx(
    tx: &mut Transaction<'_, Sqlite>,
    hash: &TokenHash,
    family_id: &str,
    now: i64,
) -> Result<(), Error> {
    sqlx::query("INSERT INTO refresh_tokens (token_hash, family_id, created_at, used_at) VALUES (?1, ?2, ?3, NULL)")
        .bind(hash.as_bytes())
        .bind(family_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl SqliteStore {
    async fn user_where(&self, clause: &str, value: &str) -> Result<Option<UserRecord>, Error> {
        let sql = format!("SELECT id, username, password_hash, created_at FROM users WHERE {clause}");
        let Some(row) = sqlx::query(&sql).bind(value).fetch_optional(&self.pool).await? else {
            return Ok(None);
        };
        let id: String = row.try_get("id")?;
        let role_names: Vec<String> =
            sqlx::query_scalar("SELECT role FROM user_roles WHERE user_id = ?1 ORDER BY role")
                .bind(&id)
                .fetch_all(&self.pool)
                .await?;
        let mut roles = Vec::with_capacity(role_names.len());
        for name in role_names {
            match Role::parse(&name) {
                Some(role) => roles.push(role),
                None => tracing::warn!(user = %id, role = %name, "ignoring unknown stored role"),
            }
        }
        roles.sort();
        Ok(Some(UserRecord {
            id,
            username: row.try_get("username")?,
            password_hash: row.try_get("password_hash")?,
            roles,
            created_at: row.try_get("created_at")?,
        }))
    }
}

impl Store for SqliteStore {
    async fn migrate(&self) -> Result<(), Error> {
        sqlx::migrate!("./migrations/sqlite").run(&self.pool).await?;
        Ok(())
    }

    async fn signing_key_or_insert(
        &self,
        kid: &str,
        seed: &[u8; 32],
        now: i64,
    ) -> Result<(String, Zeroizing<Vec<u8>>), Error> {
        // One statement, so two hubs starting on a fresh database cannot both insert a key.
        sqlx::query(
            "INSERT INTO signing_keys (kid, algorithm, seed, created_at) \
             SELECT ?1, 'EdDSA', ?2, ?3 WHERE NOT EXISTS (SELECT 1 FROM signing_keys)",
        )
        .bind(kid)
        .bind(&seed[..])
        .bind(now)
        .execute(&self.pool)
        .await?;
        let row = sqlx::query("SELECT kid, seed FROM signing_keys ORDER BY created_at, kid LIMIT 1")
            .fetch_one(&self.pool)
            .await?;
        let kid: String = row.try_get("kid")?;
        let seed = Zeroizing::new(row.try_get::<Vec<u8>, _>("seed")?);
        Ok((kid, seed))
    }

    async fn insert_user(&self, user: &UserRecord) -> Result<(), Error> {
        let mut tx = self.pool.begin().await?;
        let inserted =
            sqlx::query("INSERT INTO users (id, username, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)")
                .bind(&user.id)
                .bind(&user.username)
                .bind(&user.password_hash)
                .bind(user.created_at)
                .execute(&mut *tx)
                .await;
        match inserted {
            Ok(_) => {}
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                return Err(Error::UserExists);
            }
            Err(e) => return Err(e.into()),
        }
        for role in &user.roles {
            sqlx::query("INSERT OR IGNORE INTO user_roles (user_id, role) VALUES (?1, ?2)")
                .bind(&user.id)
                .bind(role.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn user_count(&self) -> Result<u64, Error> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&self.pool).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<UserRecord>, Error> {
        self.user_where("username = ?1 COLLATE NOCASE", username).await
    }

    async fn user_by_id(&self, id: &str) -> Result<Option<UserRecord>, Error> {
        self.user_where("id = ?1", id).await
    }

    async fn insert_pending(&self, p: &PendingAuthorization) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO pending_authorizations \
             (id, client_id, redirect_uri, scope, state, nonce, code_challenge, created_at, expires_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
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
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn pending(&self, id: &str, now: i64) -> Result<Option<PendingAuthorization>, Error> {
        let sql = format!("SELECT {PENDING_COLUMNS} FROM pending_authorizations WHERE id = ?1 AND expires_at > ?2");
        let row = sqlx::query(&sql).bind(id).bind(now).fetch_optional(&self.pool).await?;
        row.as_ref().map(pending_from_row).transpose()
    }

    async fn take_pending(&self, id: &str, now: i64) -> Result<Option<PendingAuthorization>, Error> {
        let sql =
            format!("DELETE FROM pending_authorizations WHERE id = ?1 AND expires_at > ?2 RETURNING {PENDING_COLUMNS}");
        let row = sqlx::query(&sql).bind(id).bind(now).fetch_optional(&self.pool).await?;
        row.as_ref().map(pending_from_row).transpose()
    }

    async fn insert_login_session(&self, s: &LoginSession) -> Result<(), Error> {
        sqlx::query("INSERT INTO login_sessions (id_hash, user_id, auth_time, expires_at) VALUES (?1, ?2, ?3, ?4)")
            .bind(s.id_hash.as_bytes())
            .bind(&s.user_id)
            .bind(s.auth_time)
            .bind(s.expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn login_session(&self, id_hash: &TokenHash, now: i64) -> Result<Option<LoginSession>, Error> {
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

    async fn insert_code(&self, c: &CodeRecord) -> Result<(), Error> {
        let sql = format!(
            "INSERT INTO authorization_codes ({CODE_COLUMNS}, used_at, family_id) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULL, NULL)"
        );
        sqlx::query(&sql)
            .bind(c.code_hash.as_bytes())
            .bind(&c.client_id)
            .bind(&c.redirect_uri)
            .bind(&c.user_id)
            .bind(&c.scope)
            .bind(&c.nonce)
            .bind(&c.code_challenge)
            .bind(c.auth_time)
            .bind(c.created_at)
            .bind(c.expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn redeem_code<F>(&self, code_hash: &TokenHash, now: i64, check: F) -> Result<Redemption, Error>
    where
        F: FnOnce(&CodeRecord) -> Result<NewFamily, &'static str> + Send,
    {
        let mut tx = self.pool.begin().await?;
        // The UPDATE comes first so the transaction holds SQLite's write lock from here on:
        // a concurrent redemption waits and then sees the code used.
        let sql = format!(
            "UPDATE authorization_codes SET used_at = ?1 WHERE code_hash = ?2 AND used_at IS NULL \
             RETURNING {CODE_COLUMNS}"
        );
        let claimed = sqlx::query(&sql).bind(now).bind(code_hash.as_bytes()).fetch_optional(&mut *tx).await?;
        let Some(row) = claimed else {
            let previous: Option<Option<String>> =
                sqlx::query_scalar("SELECT family_id FROM authorization_codes WHERE code_hash = ?1")
                    .bind(code_hash.as_bytes())
                    .fetch_optional(&mut *tx)
                    .await?;
            let outcome = match previous {
                None => Redemption::Unknown,
                Some(family_id) => {
                    if let Some(id) = &family_id {
                        revoke_family_tx(&mut tx, id, now).await?;
                    }
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
    ) -> Result<Rotation, Error> {
        let mut tx = self.pool.begin().await?;
        let claimed: Option<String> = sqlx::query_scalar(
            "UPDATE refresh_tokens SET used_at = ?1 WHERE token_hash = ?2 AND used_at IS NULL RETURNING family_id",
        )
        .bind(now)
        .bind(old.as_bytes())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(family_id) = claimed else {
            let used: Option<String> = sqlx::query_scalar("SELECT family_id FROM refresh_tokens WHERE token_hash = ?1")
                .bind(old.as_bytes())
                .fetch_optional(&mut *tx)
                .await?;
            let outcome = match used {
                None => Rotation::Unknown,
                Some(family_id) => {
                    revoke_family_tx(&mut tx, &family_id, now).await?;
                    Rotation::Reused { family_id }
                }
            };
            tx.commit().await?;
            return Ok(outcome);
        };
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
        insert_refresh_tx(&mut tx, new, &family.id, now).await?;
        tx.commit().await?;
        Ok(Rotation::Rotated(family))
    }

    async fn family_of_refresh_token(&self, token: &TokenHash) -> Result<Option<Family>, Error> {
        let sql = format!(
            "SELECT {FAMILY_COLUMNS} FROM token_families \
             WHERE id = (SELECT family_id FROM refresh_tokens WHERE token_hash = ?1)"
        );
        let row = sqlx::query(&sql).bind(token.as_bytes()).fetch_optional(&self.pool).await?;
        row.as_ref().map(family_from_row).transpose()
    }

    async fn family(&self, id: &str) -> Result<Option<Family>, Error> {
        let sql = format!("SELECT {FAMILY_COLUMNS} FROM token_families WHERE id = ?1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(family_from_row).transpose()
    }

    async fn revoke_family(&self, id: &str, now: i64) -> Result<(), Error> {
        sqlx::query("UPDATE token_families SET revoked_at = COALESCE(revoked_at, ?1) WHERE id = ?2")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn revoke_access_token(&self, jti: &str, expires_at: i64) -> Result<(), Error> {
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

    async fn access_token_revoked(&self, jti: &str, family_id: Option<&str>, now: i64) -> Result<bool, Error> {
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

    async fn insert_audit(&self, event: &AuditEvent) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO audit_events \
                (at, actor_kind, actor_id, actor_name, action, target_kind, target_id, outcome, detail) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
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
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, Error> {
        let rows = sqlx::query(
            "SELECT id, at, actor_kind, actor_id, actor_name, action, target_kind, target_id, outcome, detail \
             FROM audit_events \
             WHERE (?1 IS NULL OR id < ?1) \
               AND (?2 IS NULL OR substr(action, 1, length(?2)) = ?2) \
               AND (?3 IS NULL OR actor_id = ?3) \
               AND (?4 IS NULL OR target_id = ?4) \
             ORDER BY id DESC LIMIT ?5",
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
                        .map_err(|e| Error::Internal(format!("audit detail is not JSON: {e}")))?,
                })
            })
            .collect()
    }

    async fn insert_review(&self, record: &ReviewRecord) -> Result<ReviewRecord, Error> {
        self.insert_review_impl(record).await
    }

    async fn review(&self, id: &str) -> Result<Option<ReviewRecord>, Error> {
        self.review_impl(id).await
    }

    async fn reviews(&self, filter: &ReviewFilter) -> Result<Vec<ReviewRecord>, Error> {
        self.reviews_impl(filter).await
    }

    async fn decide_review(&self, vote: &Vote) -> Result<VoteOutcome, Error> {
        self.decide_review_impl(vote).await
    }

    async fn cancel_review(&self, id: &str, actor: &Actor, now: i64) -> Result<CancelOutcome, Error> {
        self.cancel_review_impl(id, actor, now).await
    }

    async fn expire_reviews(&self, now: i64, limit: u32) -> Result<Vec<ReviewRecord>, Error> {
        self.expire_reviews_impl(now, limit).await
    }

    async fn reviews_due(&self, now: i64) -> Result<bool, Error> {
        self.reviews_due_impl(now).await
    }

    async fn review_settings(&self) -> Result<Option<ReviewSettings>, Error> {
        self.review_settings_impl().await
    }

    async fn put_review_settings(&self, settings: &ReviewSettings) -> Result<(), Error> {
        self.put_review_settings_impl(settings).await
    }

    async fn purge_expired(&self, now: i64) -> Result<u64, Error> {
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
        ] {
            removed += sqlx::query(sql).bind(now).execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(removed)
    }
}
