//! The [`Write`]s of users, roles, set-password codes and sessions on SQLite (the rest of
//! [`crate::store::ChangeStore`] is in `changes.rs`, which hands these over).

use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteQueryResult;

use crate::store::StoreError;
use crate::store::changes::{Outcome, Write};

fn changed(result: SqliteQueryResult) -> Outcome {
    if result.rows_affected() > 0 { Outcome::Done } else { Outcome::Unchanged }
}

/// A user that exists and is not deleted.
async fn live_user(conn: &mut SqliteConnection, id: &str) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1 AND deleted_at IS NULL)")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?)
}

async fn end_sessions(conn: &mut SqliteConnection, user_id: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE token_families SET revoked_at = ?1 WHERE user_id = ?2 AND revoked_at IS NULL")
        .bind(now)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM login_sessions WHERE user_id = ?1").bind(user_id).execute(&mut *conn).await?;
    Ok(())
}

pub(super) async fn write(conn: &mut SqliteConnection, w: &Write<'_>) -> Result<Outcome, StoreError> {
    Ok(match w {
        Write::InsertUser(u) => {
            let inserted = sqlx::query(
                "INSERT INTO users (id, username, password_hash, created_at, disabled, deleted_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .bind(&u.id)
            .bind(&u.username)
            .bind(&u.password_hash)
            .bind(u.created_at)
            .bind(u.disabled)
            .bind(u.deleted_at)
            .execute(&mut *conn)
            .await;
            match inserted {
                Ok(_) => {}
                Err(sqlx::Error::Database(db)) if db.is_unique_violation() => return Ok(Outcome::NameTaken),
                Err(e) => return Err(e.into()),
            }
            for role in &u.roles {
                sqlx::query("INSERT OR IGNORE INTO user_roles (user_id, role) VALUES (?1, ?2)")
                    .bind(&u.id)
                    .bind(role.as_str())
                    .execute(&mut *conn)
                    .await?;
            }
            Outcome::Done
        }
        Write::SetUserPassword { id, hash } => changed(
            sqlx::query("UPDATE users SET password_hash = ?1 WHERE id = ?2 AND deleted_at IS NULL")
                .bind(hash)
                .bind(id)
                .execute(&mut *conn)
                .await?,
        ),
        Write::PutSetPasswordCode { user_id, hash, now, expires_at } => changed(
            sqlx::query(
                "INSERT INTO set_password_codes (user_id, code_hash, created_at, expires_at, request_id) \
                 VALUES (?1, ?2, ?3, ?4, NULL) \
                 ON CONFLICT (user_id) DO UPDATE SET code_hash = excluded.code_hash, \
                     created_at = excluded.created_at, expires_at = excluded.expires_at, request_id = NULL",
            )
            .bind(user_id)
            .bind(hash.as_bytes())
            .bind(now)
            .bind(expires_at)
            .execute(&mut *conn)
            .await?,
        ),
        Write::ClearSetPasswordCode { user_id } => {
            sqlx::query("DELETE FROM set_password_codes WHERE user_id = ?1").bind(user_id).execute(&mut *conn).await?;
            Outcome::Done
        }
        Write::SetUserDisabled { id, disabled } => changed(
            sqlx::query("UPDATE users SET disabled = ?1 WHERE id = ?2 AND deleted_at IS NULL")
                .bind(disabled)
                .bind(id)
                .execute(&mut *conn)
                .await?,
        ),
        Write::SetUserRoles { id, roles } => {
            if !live_user(conn, id).await? {
                return Ok(Outcome::Unchanged);
            }
            sqlx::query("DELETE FROM user_roles WHERE user_id = ?1").bind(id).execute(&mut *conn).await?;
            for role in roles.iter() {
                sqlx::query("INSERT OR IGNORE INTO user_roles (user_id, role) VALUES (?1, ?2)")
                    .bind(id)
                    .bind(role.as_str())
                    .execute(&mut *conn)
                    .await?;
            }
            Outcome::Done
        }
        Write::DeleteUser { id, now } => {
            let done = sqlx::query(
                "UPDATE users SET deleted_at = ?1, disabled = 1, password_hash = '' \
                 WHERE id = ?2 AND deleted_at IS NULL",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() == 0 {
                return Ok(Outcome::Unchanged);
            }
            sqlx::query("DELETE FROM user_roles WHERE user_id = ?1").bind(id).execute(&mut *conn).await?;
            sqlx::query("DELETE FROM set_password_codes WHERE user_id = ?1").bind(id).execute(&mut *conn).await?;
            sqlx::query(
                "UPDATE credentials SET revoked_at = ?1 \
                 WHERE owner_id = ?2 AND revoked_at IS NULL AND kind <> 'service_token'",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *conn)
            .await?;
            sqlx::query("UPDATE agents SET disabled = 1 WHERE owner_id = ?1").bind(id).execute(&mut *conn).await?;
            end_sessions(conn, id, *now).await?;
            Outcome::Done
        }
        Write::EndUserSessions { user_id, now } => {
            end_sessions(conn, user_id, *now).await?;
            Outcome::Done
        }
        Write::EndSession { user_id, id, now } => changed(
            sqlx::query(
                "UPDATE token_families SET revoked_at = ?1 \
                 WHERE id = ?2 AND user_id = ?3 AND revoked_at IS NULL AND expires_at > ?1",
            )
            .bind(now)
            .bind(id)
            .bind(user_id)
            .execute(&mut *conn)
            .await?,
        ),
        Write::RequireActiveAdmin => {
            let any: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM users u JOIN user_roles r ON r.user_id = u.id \
                 WHERE r.role = 'admin' AND u.disabled = 0 AND u.deleted_at IS NULL)",
            )
            .fetch_one(&mut *conn)
            .await?;
            if any { Outcome::Done } else { Outcome::Unchanged }
        }
        Write::PutSessionSettings(s) => {
            let to_i64 = |v: u64| i64::try_from(v).map_err(|_| StoreError::Unstorable("setting out of range".into()));
            changed(
                sqlx::query(
                    "INSERT INTO session_settings (id, absolute_secs, idle_secs) VALUES (1, ?1, ?2) \
                     ON CONFLICT (id) DO UPDATE SET absolute_secs = excluded.absolute_secs, \
                         idle_secs = excluded.idle_secs",
                )
                .bind(to_i64(s.absolute_secs)?)
                .bind(to_i64(s.idle_secs)?)
                .execute(&mut *conn)
                .await?,
            )
        }
        other => return super::scim::write(conn, other).await,
    })
}

#[cfg(test)]
mod tests {
    use keyway_api::Role;

    use crate::store::changes::{Applied, Change, ChangeStore as _, Outcome, Write};
    use crate::store::sqlite::SqliteStore;
    use crate::store::{AuditStore as _, Store as _, UserRecord, UserStore as _};

    fn user(id: &str, roles: Vec<Role>) -> UserRecord {
        UserRecord {
            id: id.into(),
            username: id.into(),
            password_hash: "x".into(),
            roles,
            created_at: 1,
            disabled: false,
            deleted_at: None,
            managed_by: None,
        }
    }

    #[tokio::test]
    async fn a_change_that_would_leave_no_admin_keeps_nothing() {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        store.set_audit_signer(std::sync::Arc::new(crate::keys::Keys::from_seed(&[1; 32])));
        store.insert_user(&user("a", vec![Role::Admin])).await.unwrap();
        store.insert_user(&user("b", vec![Role::Admin, Role::Developer])).await.unwrap();
        let dev = [Role::Developer];
        let both = Change::new()
            .then(Write::SetUserRoles { id: "a", roles: &dev })
            .then(Write::SetUserDisabled { id: "b", disabled: true })
            .then(Write::RequireActiveAdmin);
        assert_eq!(store.apply(&both).await.unwrap(), Applied::Stopped { at: 2, outcome: Outcome::Unchanged });
        assert_eq!(store.user_by_id("a").await.unwrap().unwrap().roles, vec![Role::Admin]);
        assert!(!store.user_by_id("b").await.unwrap().unwrap().disabled);
        let one = Change::new().then(Write::DeleteUser { id: "a", now: 5 }).then(Write::RequireActiveAdmin);
        assert_eq!(store.apply(&one).await.unwrap(), Applied::Done);
        let a = store.user_by_id("a").await.unwrap().unwrap();
        assert_eq!((a.deleted_at, a.roles.len(), a.password_hash.as_str()), (Some(5), 0, ""));
        let again = Change::new().then(Write::DeleteUser { id: "a", now: 6 });
        assert_eq!(store.apply(&again).await.unwrap(), Applied::Stopped { at: 0, outcome: Outcome::Unchanged });
    }
}
