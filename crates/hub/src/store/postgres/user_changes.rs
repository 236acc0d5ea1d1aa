//! The [`Write`]s of users, roles, set-password codes and sessions on PostgreSQL (the rest of
//! [`crate::store::ChangeStore`] is in `changes.rs`, which hands these over).
//!
//! SQLite runs one writer at a time; here two changes may run at once, so a change that ends
//! in [`Write::RequireActiveAdmin`] first locks the admins' user rows (`lock_admins`): two
//! changes that could each remove a different last-but-one admin then run one after the other,
//! and the second counts what the first left.

use sqlx::PgConnection;
use sqlx::postgres::PgQueryResult;

use crate::store::StoreError;
use crate::store::changes::{Outcome, Write};

fn changed(result: PgQueryResult) -> Outcome {
    if result.rows_affected() > 0 { Outcome::Done } else { Outcome::Unchanged }
}

/// Locks the user rows of everyone holding `admin`, in id order (so two such changes never
/// wait on each other in a circle). Called before the first write of a change that checks
/// [`Write::RequireActiveAdmin`].
pub(super) async fn lock_admins(conn: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query(
        "SELECT u.id FROM users u \
         WHERE EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role = 'admin') \
         ORDER BY u.id FOR UPDATE",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(())
}

/// A user that exists and is not deleted, its row locked for the rest of the change.
async fn live_user(conn: &mut PgConnection, id: &str) -> Result<bool, StoreError> {
    let row: Option<i32> = sqlx::query_scalar("SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NULL FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.is_some())
}

async fn end_sessions(conn: &mut PgConnection, user_id: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE token_families SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM login_sessions WHERE user_id = $1").bind(user_id).execute(&mut *conn).await?;
    Ok(())
}

async fn insert_roles(conn: &mut PgConnection, id: &str, roles: &[keyway_api::Role]) -> Result<(), StoreError> {
    for role in roles {
        sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(id)
            .bind(role.as_str())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub(super) async fn write(conn: &mut PgConnection, w: &Write<'_>) -> Result<Outcome, StoreError> {
    Ok(match w {
        Write::InsertUser(u) => {
            let inserted = sqlx::query(
                "INSERT INTO users (id, username, password_hash, created_at, disabled, deleted_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
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
                // The transaction is aborted; the caller rolls it back.
                Err(sqlx::Error::Database(db)) if db.is_unique_violation() => return Ok(Outcome::NameTaken),
                Err(e) => return Err(e.into()),
            }
            insert_roles(conn, &u.id, &u.roles).await?;
            Outcome::Done
        }
        Write::SetUserPassword { id, hash } => changed(
            sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2 AND deleted_at IS NULL")
                .bind(hash)
                .bind(id)
                .execute(&mut *conn)
                .await?,
        ),
        Write::PutSetPasswordCode { user_id, hash, now, expires_at } => changed(
            sqlx::query(
                "INSERT INTO set_password_codes (user_id, code_hash, created_at, expires_at, request_id) \
                 VALUES ($1, $2, $3, $4, NULL) \
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
            sqlx::query("DELETE FROM set_password_codes WHERE user_id = $1").bind(user_id).execute(&mut *conn).await?;
            Outcome::Done
        }
        Write::SetUserDisabled { id, disabled } => changed(
            sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2 AND deleted_at IS NULL")
                .bind(disabled)
                .bind(id)
                .execute(&mut *conn)
                .await?,
        ),
        Write::SetUserRoles { id, roles } => {
            if !live_user(conn, id).await? {
                return Ok(Outcome::Unchanged);
            }
            sqlx::query("DELETE FROM user_roles WHERE user_id = $1").bind(id).execute(&mut *conn).await?;
            insert_roles(conn, id, roles).await?;
            Outcome::Done
        }
        Write::DeleteUser { id, now } => {
            let done = sqlx::query(
                "UPDATE users SET deleted_at = $1, disabled = TRUE, password_hash = '' \
                 WHERE id = $2 AND deleted_at IS NULL",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() == 0 {
                return Ok(Outcome::Unchanged);
            }
            sqlx::query("DELETE FROM user_roles WHERE user_id = $1").bind(id).execute(&mut *conn).await?;
            sqlx::query("DELETE FROM set_password_codes WHERE user_id = $1").bind(id).execute(&mut *conn).await?;
            sqlx::query(
                "UPDATE credentials SET revoked_at = $1 \
                 WHERE owner_id = $2 AND revoked_at IS NULL AND kind <> 'service_token'",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *conn)
            .await?;
            sqlx::query("UPDATE agents SET disabled = TRUE WHERE owner_id = $1").bind(id).execute(&mut *conn).await?;
            end_sessions(conn, id, *now).await?;
            Outcome::Done
        }
        Write::EndUserSessions { user_id, now } => {
            end_sessions(conn, user_id, *now).await?;
            Outcome::Done
        }
        Write::EndSession { user_id, id, now } => changed(
            sqlx::query(
                "UPDATE token_families SET revoked_at = $1 \
                 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL AND expires_at > $1",
            )
            .bind(now)
            .bind(id)
            .bind(user_id)
            .execute(&mut *conn)
            .await?,
        ),
        Write::RequireActiveAdmin => {
            // The admins' rows were locked before the change's first write (`lock_admins`).
            let any: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM users u JOIN user_roles r ON r.user_id = u.id \
                 WHERE r.role = 'admin' AND NOT u.disabled AND u.deleted_at IS NULL)",
            )
            .fetch_one(&mut *conn)
            .await?;
            if any { Outcome::Done } else { Outcome::Unchanged }
        }
        Write::PutSessionSettings(s) => {
            let to_i64 = |v: u64| i64::try_from(v).map_err(|_| StoreError::Unstorable("setting out of range".into()));
            changed(
                sqlx::query(
                    "INSERT INTO session_settings (id, absolute_secs, idle_secs) VALUES (1, $1, $2) \
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

    use crate::store::changes::{Applied, Change, ChangeStore as _, Write};
    use crate::store::postgres::PgStore;
    use crate::store::{AuditStore as _, Store as _, UserRecord, UserStore as _};

    fn admin(id: &str) -> UserRecord {
        UserRecord {
            id: id.into(),
            username: id.into(),
            password_hash: "x".into(),
            roles: vec![Role::Admin],
            created_at: 1,
            disabled: false,
            deleted_at: None,
            managed_by: None,
        }
    }

    #[tokio::test]
    async fn two_admins_removed_at_once_leave_one() {
        let store = PgStore::connect(&keyway_test_support::postgres::database().unwrap()).await.unwrap();
        store.migrate().await.unwrap();
        store.set_audit_signer(std::sync::Arc::new(crate::keys::Keys::from_seed(&[1; 32])));
        for round in 0..20 {
            let (a, b) = (format!("a{round}"), format!("b{round}"));
            store.insert_user(&admin(&a)).await.unwrap();
            store.insert_user(&admin(&b)).await.unwrap();
            if round > 0 {
                // Only this round's two are admins.
                let prev = [format!("a{}", round - 1), format!("b{}", round - 1)];
                for id in &prev {
                    let c = Change::new().then(Write::DeleteUser { id, now: 2 });
                    store.apply(&c).await.unwrap();
                }
            }
            let dev = [Role::Developer];
            let demote =
                Change::new().then(Write::SetUserRoles { id: &a, roles: &dev }).then(Write::RequireActiveAdmin);
            let delete = Change::new().then(Write::DeleteUser { id: &b, now: 3 }).then(Write::RequireActiveAdmin);
            let (x, y) = tokio::join!(store.apply(&demote), store.apply(&delete));
            let done = [x.unwrap(), y.unwrap()].iter().filter(|o| **o == Applied::Done).count();
            assert_eq!(done, 1, "round {round}: exactly one of the two changes may apply");
        }
    }
}
