//! The OAuth flow's state: pending authorizations, login sessions, authorization codes, token
//! families and their refresh tokens, revoked access tokens.

use std::future::Future;

use super::AuditEvent;
use super::error::StoreError;
use crate::secret::TokenHash;

/// An authorization request waiting for the user to sign in.
#[derive(Clone, Debug)]
pub struct PendingAuthorization {
    pub id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: String,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// The resource (RFC 8707) the token will be for; `None`: the hub's own API.
    pub resource: Option<String>,
}

/// A browser login session (the `kw_session` cookie).
#[derive(Clone, Debug)]
pub struct LoginSession {
    pub id_hash: TokenHash,
    pub user_id: String,
    pub auth_time: i64,
    pub expires_at: i64,
}

/// An issued authorization code.
#[derive(Clone, Debug)]
pub struct CodeRecord {
    pub code_hash: TokenHash,
    pub client_id: String,
    pub redirect_uri: String,
    pub user_id: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    /// The resource (RFC 8707) the token will be for; `None`: the hub's own API.
    pub resource: Option<String>,
}

/// A token family: everything issued from one authorization code (the `sid` of its access
/// tokens). Revoking the family revokes its refresh tokens and access tokens.
#[derive(Clone, Debug)]
pub struct Family {
    pub id: String,
    pub user_id: String,
    pub client_id: String,
    pub scope: String,
    pub auth_time: i64,
    pub created_at: i64,
    /// Absolute end of the sign-in, whatever the rotations.
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    /// Last refresh (or the code exchange that began it).
    pub last_used_at: Option<i64>,
    /// The client address it was last used from.
    pub address: Option<String>,
    /// The resource (RFC 8707) its access tokens are for; `None`: the hub's own API.
    pub resource: Option<String>,
}

/// What to create when an authorization code is redeemed.
#[derive(Debug)]
pub struct NewFamily {
    pub family: Family,
    /// First refresh token of the family, if the client gets one.
    pub refresh_token: Option<TokenHash>,
}

/// Outcome of [`OAuthStore::redeem_code`].
#[derive(Debug)]
#[allow(clippy::large_enum_variant, reason = "built once per token request")]
pub enum Redemption {
    /// No such code.
    Unknown,
    /// The code had already been redeemed: the family issued from it has been revoked.
    Replayed { family_id: Option<String> },
    /// The code is now used up but the check refused it (expired, wrong verifier…).
    Refused(&'static str),
    /// The family was created.
    Issued { code: CodeRecord, family: Family },
}

/// Outcome of [`OAuthStore::rotate_refresh_token`].
#[derive(Debug)]
pub enum Rotation {
    /// No such refresh token.
    Unknown,
    /// The token had already been used: the whole family has been revoked (reuse detection).
    Reused { family_id: String },
    /// The family is revoked, expired, or belongs to another client.
    Refused(&'static str),
    /// The old token is used up and the new one stored.
    Rotated(Family),
}

/// The audit rows the token grants write in the transaction of what they change.
pub trait GrantAudit: Send + Sync {
    /// A refresh token of `family` was rotated.
    fn refreshed(&self, family: &Family) -> AuditEvent;
    /// A refresh token came back within the grace period after its use, before its successor
    /// was used: the successor is superseded and a new token stored.
    fn refresh_retried(&self, family: &Family) -> AuditEvent;
    /// A used refresh token came back: `family` is revoked.
    fn refresh_reused(&self, family: &Family) -> AuditEvent;
    /// A used code of `user_id` came back: the family issued from it, if any, is revoked.
    fn code_replayed(&self, user_id: &str, family_id: Option<&str>) -> AuditEvent;
}

/// Storage of the OAuth flow's state.
pub trait OAuthStore: Send + Sync {
    fn insert_pending(&self, pending: &PendingAuthorization) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// How many pending authorizations are live at `now` (the hub's cap on them).
    fn count_pending(&self, now: i64) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// The pending request if it exists and has not expired.
    fn pending(
        &self,
        id: &str,
        now: i64,
    ) -> impl Future<Output = Result<Option<PendingAuthorization>, StoreError>> + Send;
    /// Removes and returns the pending request (single use) if it has not expired.
    fn take_pending(
        &self,
        id: &str,
        now: i64,
    ) -> impl Future<Output = Result<Option<PendingAuthorization>, StoreError>> + Send;

    /// The session if it exists and has not expired.
    fn login_session(
        &self,
        id_hash: &TokenHash,
        now: i64,
    ) -> impl Future<Output = Result<Option<LoginSession>, StoreError>> + Send;

    /// Atomically marks the code used and, if `check` accepts it, creates the family `check`
    /// returns. A code that was already used revokes the family issued from it (RFC 9700
    /// §4.2.4), audited with `audit` in the same transaction. Concurrent redemptions of one
    /// code cannot both succeed.
    fn redeem_code<F>(
        &self,
        code_hash: &TokenHash,
        now: i64,
        audit: &impl GrantAudit,
        check: F,
    ) -> impl Future<Output = Result<Redemption, StoreError>> + Send
    where
        F: FnOnce(&CodeRecord) -> Result<NewFamily, &'static str> + Send;

    /// Atomically marks `old` used and stores `new` in the same family (rotation), after
    /// checking the family is live and belongs to `client_id`. Presenting a used token revokes
    /// the family (RFC 9700 §4.14.2), except for a retry: `old` used at or after `retry_since`
    /// (and not itself superseded) while no token of the family issued since its use has been
    /// used. A retry supersedes those unused tokens and stores `new`, as a rotation does.
    /// Rotation, retry and reuse are audited with `audit` in the same transaction.
    fn rotate_refresh_token(
        &self,
        old: &TokenHash,
        new: &TokenHash,
        client_id: &str,
        now: i64,
        retry_since: i64,
        audit: &impl GrantAudit,
    ) -> impl Future<Output = Result<Rotation, StoreError>> + Send;

    /// The family a refresh token belongs to (used or not).
    fn family_of_refresh_token(
        &self,
        token: &TokenHash,
    ) -> impl Future<Output = Result<Option<Family>, StoreError>> + Send;
    fn family(&self, id: &str) -> impl Future<Output = Result<Option<Family>, StoreError>> + Send;
    /// Marks a family revoked (idempotent).
    fn revoke_family(&self, id: &str, now: i64) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records an access token's `jti` as revoked until `expires_at`.
    fn revoke_access_token(&self, jti: &str, expires_at: i64) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// True if the access token `jti` or its family `sid` (when it has one) is revoked, or the
    /// family is gone.
    fn access_token_revoked(
        &self,
        jti: &str,
        family_id: Option<&str>,
        now: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// A user's live sign-ins (not revoked, not ended), newest first.
    fn sessions_of(&self, user_id: &str, now: i64) -> impl Future<Output = Result<Vec<Family>, StoreError>> + Send;
    /// Records a use of the family: when, and from which client address.
    fn touch_family(
        &self,
        id: &str,
        now: i64,
        address: Option<&str>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The session lifetimes an admin set, if any.
    fn session_settings(
        &self,
    ) -> impl Future<Output = Result<Option<keyway_api::users::SessionSettings>, StoreError>> + Send;

    /// Deletes expired rows; returns how many.
    fn purge_expired(&self, now: i64) -> impl Future<Output = Result<u64, StoreError>> + Send;
}
