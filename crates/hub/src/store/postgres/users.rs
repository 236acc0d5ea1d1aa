//! User accounts on PostgreSQL.

use keyway_api::Role;
use sqlx::Row as _;

use super::PgStore;
use crate::store::error::StoreError;
use crate::store::users::{UserRecord, UserStore};

impl PgStore {
    async fn user_where(&self, clause: &str, value: &str) -> Result<Option<UserRecord>, StoreError> {
        let sql = format!("SELECT id, username, password_hash, created_at FROM users WHERE {clause}");
        let Some(row) = sqlx::query(&sql).bind(value).fetch_optional(&self.pool).await? else {
            return Ok(None);
        };
        let id: String = row.try_get("id")?;
        let role_names: Vec<String> =
            sqlx::query_scalar("SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role")
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

impl UserStore for PgStore {
    async fn insert_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let inserted =
            sqlx::query("INSERT INTO users (id, username, password_hash, created_at) VALUES ($1, $2, $3, $4)")
                .bind(&user.id)
                .bind(&user.username)
                .bind(&user.password_hash)
                .bind(user.created_at)
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
}
