//! Credentials, agents, service accounts and credential settings on PostgreSQL.

use keyway_api::Role;
use keyway_api::auth::Audience;
use keyway_api::credentials::{CredentialKind, CredentialSettings};
use sqlx::Row as _;
use sqlx::postgres::PgRow;

use super::PgStore;
use super::connect::hash_col;
use crate::store::credentials::{
    AgentRecord, CredentialFilter, CredentialRecord, CredentialStore, CredentialUse, ServiceAccountRecord,
};
use crate::store::error::StoreError;

const CREDENTIAL_SELECT: &str = "SELECT c.id, c.kind, c.secret_hash, c.name, c.owner_id, c.agent_id, \
    c.service_account_id, c.audience, c.scopes, c.created_at, c.expires_at, c.revoked_at, c.used_at, \
    c.enroll_agent_name, c.enroll_pat_days, c.retired_at, c.last_used_at, c.last_fingerprint, \
    c.fingerprint_changed_at, u.username AS owner_name, a.name AS agent_name, \
    COALESCE(a.disabled, FALSE) AS agent_disabled, s.name AS sa_name, s.grp AS sa_group, \
    COALESCE(s.disabled, FALSE) AS sa_disabled \
    FROM credentials c JOIN users u ON u.id = c.owner_id \
    LEFT JOIN agents a ON a.id = c.agent_id LEFT JOIN service_accounts s ON s.id = c.service_account_id";

fn kind_from_str(s: &str) -> Result<CredentialKind, StoreError> {
    [CredentialKind::UserPat, CredentialKind::AgentPat, CredentialKind::Enrollment, CredentialKind::ServiceToken]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown stored credential kind {s}")))
}

fn role_col(value: Option<String>) -> Result<Option<Role>, StoreError> {
    value.map(|v| Role::parse(&v).ok_or_else(|| StoreError::Corrupt(format!("unknown stored role {v}")))).transpose()
}

fn credential_from_row(row: &PgRow) -> Result<CredentialRecord, StoreError> {
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
        audience: Audience::parse(&audience).ok_or_else(|| StoreError::Corrupt(format!("bad audience {audience}")))?,
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
        agent_disabled: row.try_get::<bool, _>("agent_disabled")?,
        service_account_name: row.try_get("sa_name")?,
        service_account_group: role_col(row.try_get("sa_group")?)?,
        service_account_disabled: row.try_get::<bool, _>("sa_disabled")?,
    })
}

fn agent_from_row(row: &PgRow) -> Result<AgentRecord, StoreError> {
    Ok(AgentRecord {
        id: row.try_get("id")?,
        owner_id: row.try_get("owner_id")?,
        name: row.try_get("name")?,
        disabled: row.try_get::<bool, _>("disabled")?,
        created_at: row.try_get("created_at")?,
        owner_name: row.try_get("owner_name")?,
        active_credentials: u32::try_from(row.try_get::<i64, _>("active")?).unwrap_or(0),
    })
}

/// Agents with their owner's name and the number of live PATs bound to them (`$1` = now).
const AGENT_SELECT: &str = "SELECT a.id, a.owner_id, a.name, a.disabled, a.created_at, u.username AS owner_name, \
    (SELECT COUNT(*) FROM credentials c WHERE c.agent_id = a.id AND c.kind = 'agent_pat' \
       AND c.revoked_at IS NULL AND (c.expires_at IS NULL OR c.expires_at > $1)) AS active \
    FROM agents a JOIN users u ON u.id = a.owner_id";

fn service_account_from_row(row: &PgRow) -> Result<ServiceAccountRecord, StoreError> {
    Ok(ServiceAccountRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        group: role_col(Some(row.try_get("grp")?))?.unwrap_or(Role::Developer),
        created_by: row.try_get("created_by")?,
        disabled: row.try_get::<bool, _>("disabled")?,
        created_at: row.try_get("created_at")?,
    })
}

impl CredentialStore for PgStore {
    async fn credential(&self, id: &str) -> Result<Option<CredentialRecord>, StoreError> {
        let sql = format!("{CREDENTIAL_SELECT} WHERE c.id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(credential_from_row).transpose()
    }

    async fn credentials(&self, f: &CredentialFilter) -> Result<Vec<CredentialRecord>, StoreError> {
        let sql = format!(
            "{CREDENTIAL_SELECT} WHERE ($1 IS NULL OR c.owner_id = $1) AND ($2 IS NULL OR c.service_account_id = $2) \
             AND ($3 IS NULL OR c.agent_id = $3) \
             AND ($4 IS NULL OR c.created_at < $4 OR (c.created_at = $4 AND c.id > $5)) \
             ORDER BY c.created_at DESC, c.id LIMIT $6"
        );
        let (after_at, after_id) = f.after.clone().unzip();
        let rows = sqlx::query(&sql)
            .bind(&f.owner_id)
            .bind(&f.service_account_id)
            .bind(&f.agent_id)
            .bind(after_at)
            .bind(after_id)
            // LIMIT NULL is none.
            .bind(f.limit.map(i64::from))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(credential_from_row).collect()
    }

    async fn record_credential_uses(&self, uses: &[CredentialUse]) -> Result<(), StoreError> {
        if uses.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for u in uses {
            sqlx::query(
                "UPDATE credentials SET last_used_at = GREATEST(COALESCE(last_used_at, 0), $1), \
                 fingerprint_changed_at = CASE \
                    WHEN $3 THEN $1 \
                    WHEN $2 IS NOT NULL AND last_fingerprint IS NOT NULL AND last_fingerprint <> $2 THEN $1 \
                    ELSE fingerprint_changed_at END, \
                 last_fingerprint = COALESCE($2, last_fingerprint) \
                 WHERE id = $4",
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

    async fn agent(&self, id: &str, now: i64) -> Result<Option<AgentRecord>, StoreError> {
        let sql = format!("{AGENT_SELECT} WHERE a.id = $2");
        let row = sqlx::query(&sql).bind(now).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(agent_from_row).transpose()
    }

    async fn agent_by_name(&self, owner_id: &str, name: &str, now: i64) -> Result<Option<AgentRecord>, StoreError> {
        let sql = format!("{AGENT_SELECT} WHERE a.owner_id = $2 AND lower(a.name) = lower($3)");
        let row = sqlx::query(&sql).bind(now).bind(owner_id).bind(name).fetch_optional(&self.pool).await?;
        row.as_ref().map(agent_from_row).transpose()
    }

    async fn agents(&self, owner_id: Option<&str>, now: i64) -> Result<Vec<AgentRecord>, StoreError> {
        let sql = format!("{AGENT_SELECT} WHERE ($2 IS NULL OR a.owner_id = $2) ORDER BY lower(a.name), a.id");
        let rows = sqlx::query(&sql).bind(now).bind(owner_id).fetch_all(&self.pool).await?;
        rows.iter().map(agent_from_row).collect()
    }

    async fn service_account(&self, id: &str) -> Result<Option<ServiceAccountRecord>, StoreError> {
        let row =
            sqlx::query("SELECT * FROM service_accounts WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(service_account_from_row).transpose()
    }

    async fn service_account_by_name(&self, name: &str) -> Result<Option<ServiceAccountRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM service_accounts WHERE lower(name) = lower($1)")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(service_account_from_row).transpose()
    }

    async fn service_accounts(&self) -> Result<Vec<ServiceAccountRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM service_accounts ORDER BY lower(name), id").fetch_all(&self.pool).await?;
        rows.iter().map(service_account_from_row).collect()
    }

    async fn credential_settings(&self) -> Result<CredentialSettings, StoreError> {
        let row = sqlx::query("SELECT max_pat_days, default_pat_days FROM credential_settings WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        let days =
            |col: &str| -> Result<u32, StoreError> { Ok(u32::try_from(row.try_get::<i64, _>(col)?).unwrap_or(90)) };
        Ok(CredentialSettings { max_pat_days: days("max_pat_days")?, default_pat_days: days("default_pat_days")? })
    }
}
