//! Credentials (PATs, enrollment tokens, service tokens), the agents and service accounts they
//! belong to, the credential settings, and the write-behind of credential uses.

use std::future::Future;

use keyway_api::Role;
use keyway_api::auth::Audience;
use keyway_api::credentials::{CredentialKind, CredentialSettings};

use super::error::StoreError;
use crate::secret::TokenHash;

/// A PAT, enrollment token or service token (never the secret: its SHA-256).
#[derive(Clone, Debug)]
pub struct CredentialRecord {
    /// Public id, `cr_…`.
    pub id: String,
    pub kind: CredentialKind,
    pub secret_hash: TokenHash,
    pub name: String,
    pub owner_id: String,
    pub agent_id: Option<String>,
    pub service_account_id: Option<String>,
    pub audience: Audience,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// Enrollment tokens: when redeemed.
    pub used_at: Option<i64>,
    /// Enrollment tokens: the agent name the redeemer must take, if fixed.
    pub enroll_agent_name: Option<String>,
    /// Enrollment tokens: lifetime in days of the agent PAT they produce.
    pub enroll_pat_days: Option<u32>,
    /// Service tokens replaced by rotation.
    pub retired_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub last_fingerprint: Option<String>,
    pub fingerprint_changed_at: Option<i64>,
    // ---- read from joined rows (ignored on insert)
    pub owner_name: String,
    pub agent_name: Option<String>,
    pub agent_disabled: bool,
    pub service_account_name: Option<String>,
    pub service_account_group: Option<Role>,
    pub service_account_disabled: bool,
}

/// What a new credential is. [`NewCredential::issue`] makes its secret (a CSPRNG token under a
/// fresh public id) and the record to store, which keeps only the secret's hash.
pub(crate) struct NewCredential<'a> {
    pub kind: CredentialKind,
    pub name: String,
    pub owner_id: &'a str,
    pub owner_name: &'a str,
    pub agent: Option<&'a AgentRecord>,
    pub service_account: Option<&'a ServiceAccountRecord>,
    pub audience: Audience,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    /// Enrollment tokens: the agent name the redeemer must take, and the lifetime in days of
    /// the agent PAT they produce.
    pub enroll_agent_name: Option<String>,
    pub enroll_pat_days: Option<u32>,
}

impl NewCredential<'_> {
    /// The record to insert and the secret, to be shown once.
    pub(crate) fn issue(self) -> (CredentialRecord, crate::pat::Token) {
        let id = crate::pat::new_public_id();
        let token = crate::pat::Token::generate(self.kind, &id);
        let record = CredentialRecord {
            id,
            kind: self.kind,
            secret_hash: token.hash(),
            name: self.name,
            owner_id: self.owner_id.to_owned(),
            agent_id: self.agent.map(|a| a.id.clone()),
            service_account_id: self.service_account.map(|s| s.id.clone()),
            audience: self.audience,
            scopes: self.scopes,
            created_at: self.created_at,
            expires_at: self.expires_at,
            revoked_at: None,
            used_at: None,
            enroll_agent_name: self.enroll_agent_name,
            enroll_pat_days: self.enroll_pat_days,
            retired_at: None,
            last_used_at: None,
            last_fingerprint: None,
            fingerprint_changed_at: None,
            owner_name: self.owner_name.to_owned(),
            agent_name: self.agent.map(|a| a.name.clone()),
            agent_disabled: false,
            service_account_name: self.service_account.map(|s| s.name.clone()),
            service_account_group: self.service_account.map(|s| s.group),
            service_account_disabled: false,
        };
        (record, token)
    }
}

/// Which credentials [`CredentialStore::credentials`] lists.
#[derive(Clone, Debug, Default)]
pub struct CredentialFilter {
    pub owner_id: Option<String>,
    pub service_account_id: Option<String>,
    pub agent_id: Option<String>,
    /// Only credentials listed after this `(created_at, id)` in the list's order (newest first,
    /// then by id): cursor pagination.
    pub after: Option<(i64, String)>,
    /// At most this many; all when `None`.
    pub limit: Option<u32>,
}

/// An exchange's use of a credential, written behind in batches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialUse {
    pub id: String,
    pub at: i64,
    pub fingerprint: Option<String>,
    /// A different fingerprint was seen within the batch.
    pub changed_in_batch: bool,
}

#[derive(Clone, Debug)]
pub struct AgentRecord {
    pub id: String,
    pub owner_id: String,
    pub name: String,
    pub disabled: bool,
    pub created_at: i64,
    // ---- joined
    pub owner_name: String,
    pub active_credentials: u32,
}

#[derive(Clone, Debug)]
pub struct ServiceAccountRecord {
    pub id: String,
    pub name: String,
    pub group: Role,
    pub created_by: String,
    pub disabled: bool,
    pub created_at: i64,
}

/// Storage of credentials, agents and service accounts.
pub trait CredentialStore: Send + Sync {
    fn credential(&self, id: &str) -> impl Future<Output = Result<Option<CredentialRecord>, StoreError>> + Send;
    /// Newest first.
    fn credentials(
        &self,
        filter: &CredentialFilter,
    ) -> impl Future<Output = Result<Vec<CredentialRecord>, StoreError>> + Send;
    /// Writes last-used times and fingerprints (and fingerprint changes) of a batch.
    fn record_credential_uses(&self, uses: &[CredentialUse]) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The agent, its live PAT count taken at `now`.
    fn agent(&self, id: &str, now: i64) -> impl Future<Output = Result<Option<AgentRecord>, StoreError>> + Send;
    /// Case-insensitive, among `owner_id`'s agents; the live PAT count is taken at `now`.
    fn agent_by_name(
        &self,
        owner_id: &str,
        name: &str,
        now: i64,
    ) -> impl Future<Output = Result<Option<AgentRecord>, StoreError>> + Send;
    /// `None`: every agent.
    fn agents(
        &self,
        owner_id: Option<&str>,
        now: i64,
    ) -> impl Future<Output = Result<Vec<AgentRecord>, StoreError>> + Send;

    fn service_account(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<ServiceAccountRecord>, StoreError>> + Send;
    fn service_account_by_name(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<ServiceAccountRecord>, StoreError>> + Send;
    fn service_accounts(&self) -> impl Future<Output = Result<Vec<ServiceAccountRecord>, StoreError>> + Send;

    fn credential_settings(&self) -> impl Future<Output = Result<CredentialSettings, StoreError>> + Send;
}
