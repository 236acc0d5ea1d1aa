//! [`ChangeStore`] on PostgreSQL: one transaction per change.

use sqlx::PgConnection;

use super::PgStore;
use super::audit::insert_audit_in;
use super::connect::{changed, unique};
use super::keys;
use crate::store::StoreError;
use crate::store::audit::AuditSigner;
use crate::store::changes::{Applied, Change, ChangeStore, Outcome, Write};

async fn write(conn: &mut PgConnection, signer: &dyn AuditSigner, w: &Write<'_>) -> Result<Outcome, StoreError> {
    Ok(match w {
        Write::InsertCredential(c) => changed(
            sqlx::query(
                "INSERT INTO credentials (id, kind, secret_hash, name, owner_id, agent_id, service_account_id, \
                    audience, scopes, created_at, expires_at, revoked_at, used_at, enroll_agent_name, \
                    enroll_pat_days, retired_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
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
            .execute(&mut *conn)
            .await?,
        ),
        Write::RevokeCredential { id, now } => changed(
            sqlx::query("UPDATE credentials SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(id)
                .execute(&mut *conn)
                .await?,
        ),
        Write::ReplaceCredentialSecret { id, hash } => changed(
            sqlx::query("UPDATE credentials SET secret_hash = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(hash.as_bytes())
                .bind(id)
                .execute(&mut *conn)
                .await?,
        ),
        Write::RetireCredential { id, now, until } => changed(
            sqlx::query(
                "UPDATE credentials SET retired_at = COALESCE(retired_at, $1), \
                 expires_at = CASE WHEN expires_at IS NULL OR expires_at > $2 THEN $2 ELSE expires_at END \
                 WHERE id = $3",
            )
            .bind(now)
            .bind(until)
            .bind(id)
            .execute(&mut *conn)
            .await?,
        ),
        Write::RedeemEnrollment { id, now } => changed(
            sqlx::query(
                "UPDATE credentials SET used_at = $1 WHERE id = $2 AND kind = 'enrollment' AND used_at IS NULL \
                 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $1)",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *conn)
            .await?,
        ),
        Write::InsertAgent(a) => unique(
            sqlx::query("INSERT INTO agents (id, owner_id, name, disabled, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(&a.id)
                .bind(&a.owner_id)
                .bind(&a.name)
                .bind(a.disabled)
                .bind(a.created_at)
                .execute(&mut *conn)
                .await,
        )?,
        Write::UpdateAgent { id, name, disabled } => unique(
            sqlx::query("UPDATE agents SET name = COALESCE($1, name), disabled = COALESCE($2, disabled) WHERE id = $3")
                .bind(name)
                .bind(disabled)
                .bind(id)
                .execute(&mut *conn)
                .await,
        )?,
        Write::InsertServiceAccount(sa) => unique(
            sqlx::query(
                "INSERT INTO service_accounts (id, name, grp, created_by, disabled, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&sa.id)
            .bind(&sa.name)
            .bind(sa.group.as_str())
            .bind(&sa.created_by)
            .bind(sa.disabled)
            .bind(sa.created_at)
            .execute(&mut *conn)
            .await,
        )?,
        Write::DisableServiceAccount { id, now } => {
            let done = sqlx::query("UPDATE service_accounts SET disabled = TRUE WHERE id = $1")
                .bind(id)
                .execute(&mut *conn)
                .await?;
            sqlx::query("UPDATE credentials SET revoked_at = $1 WHERE service_account_id = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(id)
                .execute(&mut *conn)
                .await?;
            changed(done)
        }
        Write::SetCredentialSettings(s) => changed(
            sqlx::query("UPDATE credential_settings SET max_pat_days = $1, default_pat_days = $2 WHERE id = 1")
                .bind(i64::from(s.max_pat_days))
                .bind(i64::from(s.default_pat_days))
                .execute(&mut *conn)
                .await?,
        ),
        Write::PutReviewSettings(s) => {
            let to_i64 = |v: u64| i64::try_from(v).map_err(|_| StoreError::Unstorable("setting out of range".into()));
            changed(
                sqlx::query(
                    "INSERT INTO review_settings (id, default_ttl_secs, max_ttl_secs) VALUES (1, $1, $2) \
                     ON CONFLICT (id) DO UPDATE SET default_ttl_secs = excluded.default_ttl_secs, \
                         max_ttl_secs = excluded.max_ttl_secs",
                )
                .bind(to_i64(s.default_ttl_secs)?)
                .bind(to_i64(s.max_ttl_secs)?)
                .execute(&mut *conn)
                .await?,
            )
        }
        Write::RotateSigningKey { current, next, now, verify_until } => {
            if keys::rotate_in(conn, current, next, *now, *verify_until).await? {
                Outcome::Done
            } else {
                Outcome::Unchanged
            }
        }
        Write::PutKeySettings(s) => {
            if keys::put_settings_in(conn, s).await? > 0 {
                Outcome::Done
            } else {
                Outcome::Unchanged
            }
        }
        Write::TakePending { id, now } => changed(
            sqlx::query("DELETE FROM pending_authorizations WHERE id = $1 AND expires_at > $2")
                .bind(id)
                .bind(now)
                .execute(&mut *conn)
                .await?,
        ),
        Write::InsertLoginSession(s) => changed(
            sqlx::query("INSERT INTO login_sessions (id_hash, user_id, auth_time, expires_at) VALUES ($1, $2, $3, $4)")
                .bind(s.id_hash.as_bytes())
                .bind(&s.user_id)
                .bind(s.auth_time)
                .bind(s.expires_at)
                .execute(&mut *conn)
                .await?,
        ),
        Write::InsertCode(c) => changed(
            sqlx::query(
                "INSERT INTO authorization_codes (code_hash, client_id, redirect_uri, user_id, scope, nonce, \
                    code_challenge, auth_time, created_at, expires_at, used_at, family_id, resource) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, NULL, $11)",
            )
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
            .bind(&c.resource)
            .execute(&mut *conn)
            .await?,
        ),
        Write::RevokeFamily { id, now } => changed(
            sqlx::query("UPDATE token_families SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(id)
                .execute(&mut *conn)
                .await?,
        ),
        Write::RevokeAccessToken { jti, expires_at } => {
            sqlx::query(
                "INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2) \
                 ON CONFLICT (jti) DO UPDATE SET expires_at = GREATEST(revoked_access_tokens.expires_at, EXCLUDED.expires_at)",
            )
            .bind(jti)
            .bind(expires_at)
            .execute(&mut *conn)
            .await?;
            Outcome::Done
        }
        Write::Audit(event) => {
            insert_audit_in(conn, signer, &[event]).await?;
            Outcome::Done
        }
        w @ (Write::SetUserManaged { .. } | Write::LinkIdentity { .. }) => super::identities::write(conn, w).await?,
        other => super::user_changes::write(conn, other).await?,
    })
}

impl ChangeStore for PgStore {
    async fn apply(&self, change: &Change<'_>) -> Result<Applied, StoreError> {
        let signer = self.signer.get()?;
        let mut tx = self.pool.begin().await?;
        if change.writes.iter().any(|w| matches!(w, Write::RequireActiveAdmin)) {
            super::user_changes::lock_admins(&mut tx).await?;
        }
        for (at, w) in change.writes.iter().enumerate() {
            let outcome = write(&mut tx, signer.as_ref(), w).await?;
            if outcome != Outcome::Done {
                tx.rollback().await?;
                return Ok(Applied::Stopped { at, outcome });
            }
        }
        tx.commit().await?;
        Ok(Applied::Done)
    }
}

#[cfg(test)]
mod tests {
    use keyway_api::Role;

    use super::*;
    use crate::store::{
        AgentRecord, AuditEvent, AuditQuery, AuditStore, CredentialStore, Store, UserRecord, UserStore,
    };

    fn agent(id: &str, name: &str) -> AgentRecord {
        AgentRecord {
            id: id.into(),
            owner_id: "u1".into(),
            name: name.into(),
            disabled: false,
            created_at: 1,
            owner_name: "alice".into(),
            active_credentials: 0,
        }
    }

    fn event(action: &str) -> AuditEvent {
        crate::audit::Audit::by_operator(1, action).event()
    }

    #[tokio::test]
    async fn a_change_that_stops_keeps_nothing_and_one_that_applies_keeps_all() {
        let store = PgStore::connect(&keyway_test_support::postgres::database().unwrap()).await.unwrap();
        store.migrate().await.unwrap();
        store.set_audit_signer(std::sync::Arc::new(crate::keys::Keys::from_seed(&[1; 32])));
        let user = UserRecord {
            id: "u1".into(),
            username: "alice".into(),
            password_hash: "x".into(),
            roles: vec![Role::Developer],
            created_at: 1,
            disabled: false,
            deleted_at: None,
            managed_by: None,
        };
        store.insert_user(&user).await.unwrap();
        let (first, taken, audit) = (agent("ag_1", "bot"), agent("ag_2", "BOT"), event("agent.create"));
        let stopped =
            Change::new().then(Write::InsertAgent(&first)).audit(&audit).then(Write::InsertAgent(&taken)).audit(&audit);
        assert_eq!(store.apply(&stopped).await.unwrap(), Applied::Stopped { at: 2, outcome: Outcome::NameTaken });
        assert!(store.agent("ag_1", 1).await.unwrap().is_none(), "the first write was rolled back");
        let rows = |n| AuditQuery { limit: n, ..Default::default() };
        assert!(store.audit_events(&rows(10)).await.unwrap().is_empty(), "no audit row of a change not made");

        let applied = Change::new().then(Write::InsertAgent(&first)).audit(&audit);
        assert_eq!(store.apply(&applied).await.unwrap(), Applied::Done);
        assert!(store.agent("ag_1", 1).await.unwrap().is_some());
        assert_eq!(store.audit_events(&rows(10)).await.unwrap().len(), 1);
        // Nothing to change is reported, and its audit row is not written either.
        let missing = Change::new().then(Write::RevokeCredential { id: "cr_none", now: 2 }).audit(&audit);
        assert_eq!(store.apply(&missing).await.unwrap(), Applied::Stopped { at: 0, outcome: Outcome::Unchanged });
        assert_eq!(store.audit_events(&rows(10)).await.unwrap().len(), 1);
    }
}
