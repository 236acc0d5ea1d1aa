//! User accounts on SQLite.

use keyway_api::Role;
use sqlx::Row as _;
use sqlx::sqlite::SqliteRow;

use super::{SqliteStore, hash_col};
use crate::store::error::StoreError;
use crate::store::users::{SetPasswordCode, UserFilter, UserRecord, UserStore};

const USER_COLUMNS: &str = "id, username, password_hash, created_at, disabled, deleted_at, managed_by";

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

pub(super) fn user_from_row(row: &SqliteRow) -> Result<UserRecord, StoreError> {
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

impl SqliteStore {
    async fn user_where(&self, clause: &str, value: &str) -> Result<Option<UserRecord>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLUMNS}, (SELECT group_concat(role, ',') FROM user_roles r WHERE r.user_id = users.id) \
             AS roles FROM users WHERE {clause}"
        );
        let row = sqlx::query(&sql).bind(value).fetch_optional(&self.pool).await?;
        row.as_ref().map(user_from_row).transpose()
    }
}

impl UserStore for SqliteStore {
    async fn insert_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO users (id, username, password_hash, created_at, disabled, deleted_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
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
            sqlx::query("INSERT OR IGNORE INTO user_roles (user_id, role) VALUES (?1, ?2)")
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
        self.user_where("username = ?1 COLLATE NOCASE", username).await
    }

    async fn user_by_id(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        self.user_where("id = ?1", id).await
    }

    async fn learner(&self) -> Result<Option<UserRecord>, StoreError> {
        self.user_where("id LIKE ?1 AND deleted_at IS NULL", "learner-%").await
    }

    async fn users(&self, f: &UserFilter) -> Result<Vec<UserRecord>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLUMNS}, (SELECT group_concat(role, ',') FROM user_roles r WHERE r.user_id = users.id) \
             AS roles FROM users \
             WHERE (?1 IS NULL OR instr(lower(username), lower(?1)) > 0) \
               AND (?2 IS NULL OR EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = users.id AND r.role = ?2)) \
               AND (?3 IS NULL OR username > ?3 COLLATE NOCASE) \
               AND (?4 OR deleted_at IS NULL) \
             ORDER BY username COLLATE NOCASE LIMIT ?5"
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
             WHERE user_id = ?1 AND expires_at > ?2",
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
        let done = sqlx::query("UPDATE set_password_codes SET request_id = ?1 WHERE user_id = ?2 AND expires_at > ?3")
            .bind(request_id)
            .bind(user_id)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
