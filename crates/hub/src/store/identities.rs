//! People from the upstream OpenID provider: who manages a user's roles, their identities at
//! the IdP (linked by issuer and subject, never by email), and the sign-ins handed off to the
//! IdP and not yet back. The writes are [`crate::store::changes::Write`]s (`SetUserManaged`,
//! `LinkIdentity`), applied with the sign-in they belong to.

use std::future::Future;

use super::error::StoreError;
use crate::secret::TokenHash;

/// Who decides a user's roles, when not Keyway's own editor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManagedBy {
    /// Created by a sign-in through the IdP: roles recomputed from its groups at each sign-in.
    Sso,
    /// Provisioned over SCIM: roles follow SCIM group membership.
    Scim,
}

impl ManagedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            ManagedBy::Sso => "sso",
            ManagedBy::Scim => "scim",
        }
    }

    pub fn parse(s: &str) -> Option<ManagedBy> {
        match s {
            "sso" => Some(ManagedBy::Sso),
            "scim" => Some(ManagedBy::Scim),
            _ => None,
        }
    }
}

/// One hand-off to the IdP, bound to the pending authorization request it continues.
#[derive(Clone)]
pub struct SsoRequest {
    /// SHA-256 of the `state` sent to the IdP.
    pub state_hash: TokenHash,
    pub request_id: String,
    pub nonce: String,
    /// The PKCE code verifier (S256) the IdP's code is redeemed with.
    pub verifier: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl std::fmt::Debug for SsoRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoRequest")
            .field("request_id", &self.request_id)
            .field("verifier", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Storage of identities at the upstream IdP.
pub trait IdentityStore: Send + Sync {
    /// Who manages user `id`'s roles (`None`: a local user, or no such user).
    fn user_managed_by(&self, id: &str) -> impl Future<Output = Result<Option<ManagedBy>, StoreError>> + Send;
    /// The user linked to (`issuer`, `subject`).
    fn identity_user(
        &self,
        issuer: &str,
        subject: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
    /// The user whose `external_id` (SCIM's externalId, the IdP's subject) is `external_id`.
    fn user_by_external_id(&self, external_id: &str)
    -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
    /// Stores a hand-off (and drops expired ones).
    fn insert_sso_request(&self, request: &SsoRequest) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Removes and returns the unexpired hand-off whose state hashes to `state_hash` (single use).
    fn take_sso_request(
        &self,
        state_hash: &TokenHash,
        now: i64,
    ) -> impl Future<Output = Result<Option<SsoRequest>, StoreError>> + Send;
}
