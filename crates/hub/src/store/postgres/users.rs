//! User accounts on PostgreSQL.

use keyway_api::Role;
use sqlx::Row as _;
use sqlx::postgres::PgRow;

use super::PgStore;
use super::connect::hash_col;
use crate::store::error::StoreError;
use crate::store::users::{SetPasswordCode, UserFilter, UserRecord, UserStore};

/// The user's columns and their roles, comma-separated, as `roles`.
const USER_SELECT: &str = "SELECT id, username, password_hash, created_at, disabled, deleted_at, managed_by, \
     (SELECT string_agg(role, ',') FROM user_roles r WHERE r.user_id = users.id) AS roles FROM users";

/// Roles of one user, in order; unknown stored names are skipped.
fn parse_roles(id: &str, names: Option<String>) -> Vec<Role> {
    let mut roles: Vec<Role> = Vec::new();
    for name in names.unwrap_or_default().split(',').filter(|n| !n.is_empty()) {
        match Role::parse(name) {
            Some(role) => roles.push(role),
            None => tracing::warn!(user = %id, role = %name, "ignoring unknown stored role"),
        }
    }
    roles.sort();
    roles.dedup();
    roles
}

pub(super) fn user_from_row(row: &PgRow) -> Result<UserRecord, StoreError> {
    let id: String = row.try_get("id")?;
    let roles = parse_roles(&id, row.try_get("roles")?);
    Ok(UserRecord {
        username: row.try_get("username")?,
        password_hash: row.try_get("password_hash")?,
        roles,
        created_at: row.try_get("created_at")?,
        disabled: row.try_get("disabled")?,
        deleted_at: row.try_get("deleted_at")?,
        managed_by: row.try_get("managed_by")?,
        id,
    })
}

impl PgStore {
    async fn user_where(&self, clause: &str, value: &str) -> Result<Option<UserRecord>, StoreError> {
        let sql = format!("{USER_SELECT} WHERE {clause}");
        let row = sqlx::query(&sql).bind(value).fetch_optional(&self.pool).await?;
        row.as_ref().map(user_from_row).transpose()
    }
}

impl UserStore for PgStore {
    async fn insert_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO users (id, username, password_hash, created_at, disabled, deleted_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&user.id)
        .bind(&user.username)
        .bind(&user.password_hash)
        .bind(user.created_at)
        .bind(user.disabled)
        .bind(user.deleted_at)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                return Err(StoreError::UserExists);
            }
            Err(e) => return Err(e.into()),
        }
        for role in &user.roles {
            sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(&user.id)
                .bind(role.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn user_count(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&self.pool).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        self.user_where("lower(username) = lower($1)", username).await
    }

    async fn user_by_id(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        self.user_where("id = $1", id).await
    }

    async fn learner(&self) -> Result<Option<UserRecord>, StoreError> {
        self.user_where("id LIKE $1 AND deleted_at IS NULL", "learner-%").await
    }

    async fn users(&self, f: &UserFilter) -> Result<Vec<UserRecord>, StoreError> {
        // Byte order of the lower-cased name, as SQLite's NOCASE sorts, so pages line up.
        let sql = format!(
            "{USER_SELECT} \
             WHERE ($1::text IS NULL OR strpos(lower(username), lower($1)) > 0) \
               AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = users.id AND r.role = $2)) \
               AND ($3::text IS NULL OR lower(username) COLLATE \"C\" > lower($3) COLLATE \"C\") \
               AND ($4 OR deleted_at IS NULL) \
             ORDER BY lower(username) COLLATE \"C\" LIMIT $5"
        );
        let rows = sqlx::query(&sql)
            .bind(&f.search)
            .bind(f.role.map(Role::as_str))
            .bind(&f.after)
            .bind(f.include_deleted)
            .bind(i64::from(f.limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn set_password_code(&self, user_id: &str, now: i64) -> Result<Option<SetPasswordCode>, StoreError> {
        let row = sqlx::query(
            "SELECT user_id, code_hash, expires_at, request_id FROM set_password_codes \
             WHERE user_id = $1 AND expires_at > $2",
        )
        .bind(user_id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(SetPasswordCode {
            user_id: row.try_get("user_id")?,
            code_hash: hash_col(&row, "code_hash")?,
            expires_at: row.try_get("expires_at")?,
            request_id: row.try_get("request_id")?,
        }))
    }

    async fn bind_set_password_code(&self, user_id: &str, request_id: &str, now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE set_password_codes SET request_id = $1 WHERE user_id = $2 AND expires_at > $3")
            .bind(request_id)
            .bind(user_id)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
