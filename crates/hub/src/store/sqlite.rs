//! SQLite backend (WAL mode, foreign keys on).

mod changes;
mod reviews;

use std::str::FromStr as _;
use std::time::Duration;

use keyway_api::Role;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row as _, Sqlite, SqliteConnection, Transaction};
use zeroize::Zeroizing;

use keyway_api::auth::Audience;
use keyway_api::credentials::{CredentialKind, CredentialSettings};

use super::{
    AgentRecord, AuditEvent, AuditQuery, CancelOutcome, CodeRecord, CredentialFilter, CredentialRecord, CredentialUse,
    Family, LoginSession, NewFamily, PendingAuthorization, Redemption, ReviewAudit, ReviewFilter, ReviewRecord,
    Rotation, ServiceAccountRecord, Store, UserRecord, Vote, VoteOutcome, Written,
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

const CREDENTIAL_SELECT: &str = "SELECT c.id, c.kind, c.secret_hash, c.name, c.owner_id, c.agent_id, \
    c.service_account_id, c.audience, c.scopes, c.created_at, c.expires_at, c.revoked_at, c.used_at, \
    c.enroll_agent_name, c.enroll_pat_days, c.retired_at, c.last_used_at, c.last_fingerprint, \
    c.fingerprint_changed_at, u.username AS owner_name, a.name AS agent_name, \
    COALESCE(a.disabled, 0) AS agent_disabled, s.name AS sa_name, s.grp AS sa_group, \
    COALESCE(s.disabled, 0) AS sa_disabled \
    FROM credentials c JOIN users u ON u.id = c.owner_id \
    LEFT JOIN agents a ON a.id = c.agent_id LEFT JOIN service_accounts s ON s.id = c.service_account_id";

fn kind_from_str(s: &str) -> Result<CredentialKind, Error> {
    [CredentialKind::UserPat, CredentialKind::AgentPat, CredentialKind::Enrollment, CredentialKind::ServiceToken]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| Error::Internal(format!("unknown stored credential kind {s}")))
}

fn role_col(value: Option<String>) -> Result<Option<Role>, Error> {
    value.map(|v| Role::parse(&v).ok_or_else(|| Error::Internal(format!("unknown stored role {v}")))).transpose()
}

fn credential_from_row(row: &SqliteRow) -> Result<CredentialRecord, Error> {
    let kind: String = row.try_get("kind")?;
    let audience: String = row.try_get("audience")?;
    let scopes: String = row.try_get("scopes")?;
    let pat_days: Option<i64> = row.try_get("enroll_pat_days")?;
    Ok(CredentialRecord {
        id: row.try_get("id")?,
        kind: kind_from_str(&kind)?,
        secret_hash: hash_col(row, "secret_hash")?,
        name: row.try_get("name")?,
        owner_id: row.try_get("owner_id")?,
        agent_id: row.try_get("agent_id")?,
        service_account_id: row.try_get("service_account_id")?,
        audience: Audience::parse(&audience).ok_or_else(|| Error::Internal(format!("bad audience {audience}")))?,
        scopes: scopes.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
        used_at: row.try_get("used_at")?,
        enroll_agent_name: row.try_get("enroll_agent_name")?,
        enroll_pat_days: pat_days.and_then(|d| u32::try_from(d).ok()),
        retired_at: row.try_get("retired_at")?,
        last_used_at: row.try_get("last_used_at")?,
        last_fingerprint: row.try_get("last_fingerprint")?,
        fingerprint_changed_at: row.try_get("fingerprint_changed_at")?,
        owner_name: row.try_get("owner_name")?,
        agent_name: row.try_get("agent_name")?,
        agent_disabled: row.try_get::<i64, _>("agent_disabled")? != 0,
        service_account_name: row.try_get("sa_name")?,
        service_account_group: role_col(row.try_get("sa_group")?)?,
        service_account_disabled: row.try_get::<i64, _>("sa_disabled")? != 0,
    })
}

fn agent_from_row(row: &SqliteRow) -> Result<AgentRecord, Error> {
    Ok(AgentRecord {
        id: row.try_get("id")?,
        owner_id: row.try_get("owner_id")?,
        name: row.try_get("name")?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        created_at: row.try_get("created_at")?,
        owner_name: row.try_get("owner_name")?,
        active_credentials: u32::try_from(row.try_get::<i64, _>("active")?).unwrap_or(0),
    })
}

/// Agents with their owner's name and the number of live PATs bound to them (`?1` = now).
const AGENT_SELECT: &str = "SELECT a.id, a.owner_id, a.name, a.disabled, a.created_at, u.username AS owner_name, \
    (SELECT COUNT(*) FROM credentials c WHERE c.agent_id = a.id AND c.kind = 'agent_pat' \
       AND c.revoked_at IS NULL AND (c.expires_at IS NULL OR c.expires_at > ?1)) AS active \
    FROM agents a JOIN users u ON u.id = a.owner_id";

fn service_account_from_row(row: &SqliteRow) -> Result<ServiceAccountRecord, Error> {
    Ok(ServiceAccountRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        group: role_col(Some(row.try_get("grp")?))?.unwrap_or(Role::Developer),
        created_by: row.try_get("created_by")?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

fn written<T>(result: Result<T, sqlx::Error>) -> Result<Written, Error> {
    match result {
        Ok(_) => Ok(Written::Done),
        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Ok(Written::NameTaken),
        Err(e) => Err(e.into()),
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Writes one audit row on `conn` (a pooled connection or an open transaction).
async fn insert_audit_in(conn: &mut SqliteConnection, event: &AuditEvent) -> Result<(), Error> {
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
    .execute(conn)
    .await?;
    Ok(())
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
        let mut conn = self.pool.acquire().await?;
        insert_audit_in(&mut conn, event).await
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

    async fn insert_credential(&self, c: &CredentialRecord) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO credentials (id, kind, secret_hash, name, owner_id, agent_id, service_account_id, audience, \
                scopes, created_at, expires_at, revoked_at, used_at, enroll_agent_name, enroll_pat_days, retired_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        )
        .bind(&c.id)
        .bind(c.kind.as_str())
        .bind(c.secret_hash.as_bytes())
        .bind(&c.name)
        .bind(&c.owner_id)
        .bind(&c.agent_id)
        .bind(&c.service_account_id)
        .bind(c.audience.as_str())
        .bind(c.scopes.join(" "))
        .bind(c.created_at)
        .bind(c.expires_at)
        .bind(c.revoked_at)
        .bind(c.used_at)
        .bind(&c.enroll_agent_name)
        .bind(c.enroll_pat_days.map(i64::from))
        .bind(c.retired_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn credential(&self, id: &str) -> Result<Option<CredentialRecord>, Error> {
        let sql = format!("{CREDENTIAL_SELECT} WHERE c.id = ?1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(credential_from_row).transpose()
    }

    async fn credentials(&self, f: &CredentialFilter) -> Result<Vec<CredentialRecord>, Error> {
        let sql = format!(
            "{CREDENTIAL_SELECT} WHERE (?1 IS NULL OR c.owner_id = ?1) AND (?2 IS NULL OR c.service_account_id = ?2) \
             AND (?3 IS NULL OR c.agent_id = ?3) \
             AND (?4 IS NULL OR c.created_at < ?4 OR (c.created_at = ?4 AND c.id > ?5)) \
             ORDER BY c.created_at DESC, c.id LIMIT ?6"
        );
        let (after_at, after_id) = f.after.clone().unzip();
        let rows = sqlx::query(&sql)
            .bind(&f.owner_id)
            .bind(&f.service_account_id)
            .bind(&f.agent_id)
            .bind(after_at)
            .bind(after_id)
            // SQLite reads a negative LIMIT as none.
            .bind(f.limit.map_or(-1, i64::from))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(credential_from_row).collect()
    }

    async fn revoke_credential(&self, id: &str, now: i64) -> Result<bool, Error> {
        let done = sqlx::query("UPDATE credentials SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn replace_credential_secret(&self, id: &str, hash: &TokenHash) -> Result<bool, Error> {
        let done = sqlx::query("UPDATE credentials SET secret_hash = ?1 WHERE id = ?2 AND revoked_at IS NULL")
            .bind(hash.as_bytes())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn retire_credential(&self, id: &str, now: i64, until: i64) -> Result<(), Error> {
        sqlx::query(
            "UPDATE credentials SET retired_at = COALESCE(retired_at, ?1), \
             expires_at = CASE WHEN expires_at IS NULL OR expires_at > ?2 THEN ?2 ELSE expires_at END \
             WHERE id = ?3",
        )
        .bind(now)
        .bind(until)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn redeem_enrollment(&self, id: &str, now: i64) -> Result<bool, Error> {
        let done = sqlx::query(
            "UPDATE credentials SET used_at = ?1 WHERE id = ?2 AND kind = 'enrollment' AND used_at IS NULL \
             AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?1)",
        )
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn record_credential_uses(&self, uses: &[CredentialUse]) -> Result<(), Error> {
        if uses.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for u in uses {
            sqlx::query(
                "UPDATE credentials SET last_used_at = max(COALESCE(last_used_at, 0), ?1), \
                 fingerprint_changed_at = CASE \
                    WHEN ?3 THEN ?1 \
                    WHEN ?2 IS NOT NULL AND last_fingerprint IS NOT NULL AND last_fingerprint <> ?2 THEN ?1 \
                    ELSE fingerprint_changed_at END, \
                 last_fingerprint = COALESCE(?2, last_fingerprint) \
                 WHERE id = ?4",
            )
            .bind(u.at)
            .bind(&u.fingerprint)
            .bind(u.changed_in_batch)
            .bind(&u.id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn insert_agent(&self, a: &AgentRecord) -> Result<Written, Error> {
        written(
            sqlx::query("INSERT INTO agents (id, owner_id, name, disabled, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")
                .bind(&a.id)
                .bind(&a.owner_id)
                .bind(&a.name)
                .bind(a.disabled)
                .bind(a.created_at)
                .execute(&self.pool)
                .await,
        )
    }

    async fn agent(&self, id: &str) -> Result<Option<AgentRecord>, Error> {
        let sql = format!("{AGENT_SELECT} WHERE a.id = ?2");
        let row = sqlx::query(&sql).bind(now_secs()).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(agent_from_row).transpose()
    }

    async fn agent_by_name(&self, owner_id: &str, name: &str) -> Result<Option<AgentRecord>, Error> {
        let sql = format!("{AGENT_SELECT} WHERE a.owner_id = ?2 AND a.name = ?3 COLLATE NOCASE");
        let row = sqlx::query(&sql).bind(now_secs()).bind(owner_id).bind(name).fetch_optional(&self.pool).await?;
        row.as_ref().map(agent_from_row).transpose()
    }

    async fn agents(&self, owner_id: Option<&str>, now: i64) -> Result<Vec<AgentRecord>, Error> {
        let sql = format!("{AGENT_SELECT} WHERE (?2 IS NULL OR a.owner_id = ?2) ORDER BY a.name COLLATE NOCASE, a.id");
        let rows = sqlx::query(&sql).bind(now).bind(owner_id).fetch_all(&self.pool).await?;
        rows.iter().map(agent_from_row).collect()
    }

    async fn update_agent(&self, id: &str, name: Option<&str>, disabled: Option<bool>) -> Result<Written, Error> {
        let result =
            sqlx::query("UPDATE agents SET name = COALESCE(?1, name), disabled = COALESCE(?2, disabled) WHERE id = ?3")
                .bind(name)
                .bind(disabled)
                .bind(id)
                .execute(&self.pool)
                .await;
        match result {
            Ok(r) if r.rows_affected() == 0 => Ok(Written::Missing),
            other => written(other),
        }
    }

    async fn insert_service_account(&self, sa: &ServiceAccountRecord) -> Result<Written, Error> {
        written(
            sqlx::query(
                "INSERT INTO service_accounts (id, name, grp, created_by, disabled, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .bind(&sa.id)
            .bind(&sa.name)
            .bind(sa.group.as_str())
            .bind(&sa.created_by)
            .bind(sa.disabled)
            .bind(sa.created_at)
            .execute(&self.pool)
            .await,
        )
    }

    async fn service_account(&self, id: &str) -> Result<Option<ServiceAccountRecord>, Error> {
        let row =
            sqlx::query("SELECT * FROM service_accounts WHERE id = ?1").bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(service_account_from_row).transpose()
    }

    async fn service_account_by_name(&self, name: &str) -> Result<Option<ServiceAccountRecord>, Error> {
        let row = sqlx::query("SELECT * FROM service_accounts WHERE name = ?1 COLLATE NOCASE")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(service_account_from_row).transpose()
    }

    async fn service_accounts(&self) -> Result<Vec<ServiceAccountRecord>, Error> {
        let rows =
            sqlx::query("SELECT * FROM service_accounts ORDER BY name COLLATE NOCASE").fetch_all(&self.pool).await?;
        rows.iter().map(service_account_from_row).collect()
    }

    async fn disable_service_account(&self, id: &str, now: i64) -> Result<bool, Error> {
        let mut tx = self.pool.begin().await?;
        let done =
            sqlx::query("UPDATE service_accounts SET disabled = 1 WHERE id = ?1").bind(id).execute(&mut *tx).await?;
        sqlx::query("UPDATE credentials SET revoked_at = ?1 WHERE service_account_id = ?2 AND revoked_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn credential_settings(&self) -> Result<CredentialSettings, Error> {
        let row = sqlx::query("SELECT max_pat_days, default_pat_days FROM credential_settings WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        let days = |col: &str| -> Result<u32, Error> { Ok(u32::try_from(row.try_get::<i64, _>(col)?).unwrap_or(90)) };
        Ok(CredentialSettings { max_pat_days: days("max_pat_days")?, default_pat_days: days("default_pat_days")? })
    }

    async fn set_credential_settings(&self, s: &CredentialSettings) -> Result<(), Error> {
        sqlx::query("UPDATE credential_settings SET max_pat_days = ?1, default_pat_days = ?2 WHERE id = 1")
            .bind(i64::from(s.max_pat_days))
            .bind(i64::from(s.default_pat_days))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn insert_review(&self, record: &ReviewRecord, audit: &impl ReviewAudit) -> Result<ReviewRecord, Error> {
        self.insert_review_impl(record, audit).await
    }

    async fn review(&self, id: &str) -> Result<Option<ReviewRecord>, Error> {
        self.review_impl(id).await
    }

    async fn reviews(&self, filter: &ReviewFilter) -> Result<Vec<ReviewRecord>, Error> {
        self.reviews_impl(filter).await
    }

    async fn decide_review(&self, vote: &Vote, audit: &impl ReviewAudit) -> Result<VoteOutcome, Error> {
        self.decide_review_impl(vote, audit).await
    }

    async fn cancel_review(
        &self,
        id: &str,
        actor: &Actor,
        now: i64,
        audit: &impl ReviewAudit,
    ) -> Result<CancelOutcome, Error> {
        self.cancel_review_impl(id, actor, now, audit).await
    }

    async fn expire_reviews(&self, now: i64, limit: u32, audit: &impl ReviewAudit) -> Result<Vec<ReviewRecord>, Error> {
        self.expire_reviews_impl(now, limit, audit).await
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
