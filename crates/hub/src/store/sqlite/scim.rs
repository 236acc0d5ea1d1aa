//! SCIM tokens and SCIM's view of users on SQLite, and the SCIM [`Write`]s (handed over by
//! `user_changes.rs`).

use keyway_api::Role;
use sqlx::Row as _;
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;

use super::users::user_from_row;
use super::{SqliteStore, hash_col};
use super::{changed, unique};
use crate::secret::TokenHash;
use crate::store::StoreError;
use crate::store::changes::{Outcome, Write};
use crate::store::scim::{
    SCIM_USERS_WHERE, ScimStore, ScimTokenRecord, ScimUserQuery, ScimUserRecord, SqlParam, where_sql,
};

const SCIM_USER_SELECT: &str = "SELECT id, username, password_hash, created_at, disabled, deleted_at, managed_by, \
     external_id, display_name, email, modified_at, \
     (SELECT group_concat(role, ',') FROM user_roles r WHERE r.user_id = users.id) AS roles FROM users";

const TOKEN_COLUMNS: &str = "id, token_hash, label, created_by, created_at, revoked_at";

fn scim_user_from_row(row: &SqliteRow) -> Result<ScimUserRecord, StoreError> {
    Ok(ScimUserRecord {
        user: user_from_row(row)?,
        managed_by: row.try_get("managed_by")?,
        external_id: row.try_get("external_id")?,
        display_name: row.try_get("display_name")?,
        email: row.try_get("email")?,
        modified_at: row.try_get("modified_at")?,
    })
}

fn token_from_row(row: &SqliteRow) -> Result<ScimTokenRecord, StoreError> {
    Ok(ScimTokenRecord {
        id: row.try_get("id")?,
        token_hash: hash_col(row, "token_hash")?,
        label: row.try_get("label")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    params: &'q [SqlParam],
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    for p in params {
        q = match p {
            SqlParam::Text(t) => q.bind(t.as_str()),
            SqlParam::Int(i) => q.bind(*i),
            SqlParam::Bool(b) => q.bind(*b),
        };
    }
    q
}

impl ScimStore for SqliteStore {
    async fn scim_token_by_hash(&self, hash: &TokenHash) -> Result<Option<ScimTokenRecord>, StoreError> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM scim_tokens WHERE token_hash = ?1");
        let row = sqlx::query(&sql).bind(hash.as_bytes()).fetch_optional(&self.pool).await?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn scim_tokens(&self) -> Result<Vec<ScimTokenRecord>, StoreError> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM scim_tokens ORDER BY created_at DESC, id DESC");
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter().map(token_from_row).collect()
    }

    async fn scim_user(&self, id: &str) -> Result<Option<ScimUserRecord>, StoreError> {
        let sql = format!("{SCIM_USER_SELECT} WHERE id = ?1 AND {SCIM_USERS_WHERE}");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(scim_user_from_row).transpose()
    }

    async fn scim_users(&self, query: &ScimUserQuery) -> Result<(u64, Vec<ScimUserRecord>), StoreError> {
        let mut params = Vec::new();
        let condition = match &query.filter {
            Some(f) => where_sql(f, &mut params, &|n| format!("?{n}")),
            None => "(1 = 1)".to_owned(),
        };
        let count_sql = format!("SELECT count(*) FROM users WHERE {SCIM_USERS_WHERE} AND {condition}");
        let total: i64 = bind_all(sqlx::query(&count_sql), &params).fetch_one(&self.pool).await?.try_get(0)?;
        let n = params.len();
        let page_sql = format!(
            "{SCIM_USER_SELECT} WHERE {SCIM_USERS_WHERE} AND {condition} ORDER BY lower(username), id LIMIT ?{} OFFSET ?{}",
            n + 1,
            n + 2
        );
        let offset = i64::try_from(query.offset).unwrap_or(i64::MAX);
        let rows = bind_all(sqlx::query(&page_sql), &params)
            .bind(i64::from(query.limit))
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        let users = rows.iter().map(scim_user_from_row).collect::<Result<Vec<_>, _>>()?;
        Ok((u64::try_from(total).unwrap_or(0), users))
    }

    async fn scim_role_members(&self, role: Role, limit: u32) -> Result<Vec<(String, String)>, StoreError> {
        let sql = "SELECT u.id, u.username FROM users u JOIN user_roles r ON r.user_id = u.id \
             WHERE r.role = ?1 AND u.managed_by IS NOT NULL AND u.deleted_at IS NULL \
             ORDER BY lower(u.username), u.id LIMIT ?2";
        let rows = sqlx::query(sql).bind(role.as_str()).bind(i64::from(limit)).fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("username")?))).collect()
    }
}

pub(super) async fn write(conn: &mut SqliteConnection, w: &Write<'_>) -> Result<Outcome, StoreError> {
    Ok(match w {
        Write::SetScimProfile { id, external_id, display_name, email, now } => unique(
            sqlx::query(
                "UPDATE users SET managed_by = COALESCE(managed_by, 'scim'), external_id = ?1, display_name = ?2, \
                 email = ?3, modified_at = ?4 WHERE id = ?5 AND deleted_at IS NULL",
            )
            .bind(external_id)
            .bind(display_name)
            .bind(email)
            .bind(now)
            .bind(id)
            .execute(&mut *conn)
            .await,
        )?,
        Write::RenameUser { id, username } => unique(
            sqlx::query("UPDATE users SET username = ?1 WHERE id = ?2 AND deleted_at IS NULL")
                .bind(username)
                .bind(id)
                .execute(&mut *conn)
                .await,
        )?,
        Write::ForgetExternalId { id } => {
            sqlx::query("UPDATE users SET external_id = NULL WHERE id = ?1").bind(id).execute(&mut *conn).await?;
            Outcome::Done
        }
        Write::InsertScimToken(t) => unique(
            sqlx::query(
                "INSERT INTO scim_tokens (id, token_hash, label, created_by, created_at, revoked_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .bind(&t.id)
            .bind(t.token_hash.as_bytes())
            .bind(&t.label)
            .bind(&t.created_by)
            .bind(t.created_at)
            .bind(t.revoked_at)
            .execute(&mut *conn)
            .await,
        )?,
        Write::RevokeScimToken { id, now } => changed(
            sqlx::query("UPDATE scim_tokens SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL")
                .bind(now)
                .bind(id)
                .execute(&mut *conn)
                .await?,
        ),
        other => return Err(StoreError::Unstorable(format!("not a write of this store: {other:?}"))),
    })
}
