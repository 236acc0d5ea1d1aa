//! Persistence. Handlers are generic over [`Store`] so another backend (e.g. Postgres) can be
//! added next to [`sqlite::SqliteStore`] without touching them.
//!
//! Secrets never reach a store in clear: codes, refresh tokens and session ids are passed as
//! their SHA-256 ([`TokenHash`]), passwords as Argon2id PHC strings. Times are Unix seconds.

pub mod changes;
pub mod sqlite;

use std::future::Future;

use keyway_api::Role;
use keyway_api::auth::Audience;
use keyway_api::credentials::{CredentialKind, CredentialSettings};
use keyway_api::reviews::{Actor, ReviewRequest, ReviewSettings, ReviewStatus, Verdict};

use crate::error::Error;
pub use crate::secret::TokenHash;

/// A user account.
#[derive(Clone, Debug)]
pub struct UserRecord {
    pub id: String,
    pub username: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    pub roles: Vec<Role>,
    pub created_at: i64,
}

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
}

/// What to create when an authorization code is redeemed.
#[derive(Debug)]
pub struct NewFamily {
    pub family: Family,
    /// First refresh token of the family, if the client gets one.
    pub refresh_token: Option<TokenHash>,
}

/// Outcome of [`Store::redeem_code`].
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

/// Outcome of [`Store::rotate_refresh_token`].
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

/// One audit log entry: who did what to what, and how it ended (`id` is assigned by the store;
/// 0 when inserting). The same shape as on the wire.
pub use keyway_api::auth::AuditEntry as AuditEvent;

/// Filter of [`Store::audit_events`].
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    /// Only events with an id below this (cursor pagination, newest first).
    pub before: Option<i64>,
    pub action_prefix: Option<String>,
    pub actor_id: Option<String>,
    pub target_id: Option<String>,
    pub limit: u32,
}

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

/// Which credentials [`Store::credentials`] lists.
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

/// Outcome of a unique insert or rename.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    Done,
    /// The name is taken.
    NameTaken,
    /// No such row.
    Missing,
}

/// A stored review request: the wire form plus what only the hub needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReviewRecord {
    /// Submission order (the list cursor).
    pub seq: i64,
    /// For an agent submitter, the user who owns the agent.
    pub submitter_owner: Option<String>,
    pub request: ReviewRequest,
}

/// Filter of [`Store::reviews`]: newest first.
#[derive(Clone, Debug, Default)]
pub struct ReviewFilter {
    /// Only requests submitted before this `seq` (cursor pagination).
    pub before: Option<i64>,
    pub status: Option<ReviewStatus>,
    /// Only final requests (approved, rejected, expired, cancelled): the history.
    pub decided_only: bool,
    pub kind: Option<String>,
    /// Submitter id or name.
    pub submitter: Option<String>,
    /// Only requests submitted by this principal id, or by agents this user owns.
    pub owned_by: Option<String>,
    pub limit: u32,
}

/// A vote on a review request.
#[derive(Clone, Debug)]
pub struct Vote {
    pub request_id: String,
    pub voter: Actor,
    /// For an agent voter, its owning user (never true today: agents cannot decide).
    pub voter_owner: Option<String>,
    /// `Approve` or `Reject`.
    pub verdict: Verdict,
    pub reason: Option<String>,
    pub now: i64,
}

/// Outcome of [`Store::decide_review`].
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant, reason = "built once per decision")]
pub enum VoteOutcome {
    Unknown,
    /// The voter submitted the request (or owns the agent that did).
    OwnRequest,
    /// The request was already final (it may have expired just now: `expired_now`).
    Final {
        record: ReviewRecord,
        expired_now: bool,
    },
    /// The voter has already voted on this pending request.
    AlreadyVoted(ReviewRecord),
    /// The vote is recorded; `record.request.status` says whether it decided the request.
    Recorded(ReviewRecord),
}

/// Outcome of [`Store::cancel_review`].
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant, reason = "built once per cancel")]
pub enum CancelOutcome {
    Unknown,
    NotSubmitter(ReviewRecord),
    Final { record: ReviewRecord, expired_now: bool },
    Cancelled(ReviewRecord),
}

/// The audit rows of review transitions, written by the store in the transaction that makes the
/// transition: the log never misses one that happened, nor shows one that was rolled back.
pub trait ReviewAudit: Send + Sync {
    /// The caller's own transition (submit, vote, cancel), given the record as it is after it.
    fn change(&self, after: &ReviewRecord) -> AuditEvent;
    /// A pending request this call found past its TTL and expired.
    fn expiry(&self, expired: &ReviewRecord) -> AuditEvent;
}

/// Storage backend of the hub.
///
/// Methods return `Send` futures so handlers can be generic over the backend.
pub trait Store: changes::ChangeStore + Send + Sync + 'static {
    /// Creates or upgrades the schema.
    fn migrate(&self) -> impl Future<Output = Result<(), Error>> + Send;

    /// Stores `candidate` as the signing key unless one exists; returns the oldest stored key
    /// as `(kid, 32-byte Ed25519 seed)`.
    fn signing_key_or_insert(
        &self,
        kid: &str,
        seed: &[u8; 32],
        now: i64,
    ) -> impl Future<Output = Result<(String, zeroize::Zeroizing<Vec<u8>>), Error>> + Send;

    /// Inserts a user; `Error::UserExists` if the name is taken (case-insensitively).
    fn insert_user(&self, user: &UserRecord) -> impl Future<Output = Result<(), Error>> + Send;
    fn user_count(&self) -> impl Future<Output = Result<u64, Error>> + Send;
    /// Case-insensitive lookup.
    fn user_by_name(&self, username: &str) -> impl Future<Output = Result<Option<UserRecord>, Error>> + Send;
    fn user_by_id(&self, id: &str) -> impl Future<Output = Result<Option<UserRecord>, Error>> + Send;

    fn insert_pending(&self, pending: &PendingAuthorization) -> impl Future<Output = Result<(), Error>> + Send;
    /// The pending request if it exists and has not expired.
    fn pending(&self, id: &str, now: i64) -> impl Future<Output = Result<Option<PendingAuthorization>, Error>> + Send;
    /// Removes and returns the pending request (single use) if it has not expired.
    fn take_pending(
        &self,
        id: &str,
        now: i64,
    ) -> impl Future<Output = Result<Option<PendingAuthorization>, Error>> + Send;

    fn insert_login_session(&self, session: &LoginSession) -> impl Future<Output = Result<(), Error>> + Send;
    /// The session if it exists and has not expired.
    fn login_session(
        &self,
        id_hash: &TokenHash,
        now: i64,
    ) -> impl Future<Output = Result<Option<LoginSession>, Error>> + Send;

    fn insert_code(&self, code: &CodeRecord) -> impl Future<Output = Result<(), Error>> + Send;

    /// Atomically marks the code used and, if `check` accepts it, creates the family `check`
    /// returns. A code that was already used revokes the family issued from it (RFC 9700
    /// §4.2.4). Concurrent redemptions of one code cannot both succeed.
    fn redeem_code<F>(
        &self,
        code_hash: &TokenHash,
        now: i64,
        check: F,
    ) -> impl Future<Output = Result<Redemption, Error>> + Send
    where
        F: FnOnce(&CodeRecord) -> Result<NewFamily, &'static str> + Send;

    /// Atomically marks `old` used and stores `new` in the same family (rotation), after
    /// checking the family is live and belongs to `client_id`. Presenting a used token revokes
    /// the family (RFC 9700 §4.14.2).
    fn rotate_refresh_token(
        &self,
        old: &TokenHash,
        new: &TokenHash,
        client_id: &str,
        now: i64,
    ) -> impl Future<Output = Result<Rotation, Error>> + Send;

    /// The family a refresh token belongs to (used or not).
    fn family_of_refresh_token(&self, token: &TokenHash) -> impl Future<Output = Result<Option<Family>, Error>> + Send;
    fn family(&self, id: &str) -> impl Future<Output = Result<Option<Family>, Error>> + Send;
    /// Marks a family revoked (idempotent).
    fn revoke_family(&self, id: &str, now: i64) -> impl Future<Output = Result<(), Error>> + Send;

    /// Records an access token's `jti` as revoked until `expires_at`.
    fn revoke_access_token(&self, jti: &str, expires_at: i64) -> impl Future<Output = Result<(), Error>> + Send;
    /// True if the access token `jti` or its family `sid` (when it has one) is revoked, or the
    /// family is gone.
    fn access_token_revoked(
        &self,
        jti: &str,
        family_id: Option<&str>,
        now: i64,
    ) -> impl Future<Output = Result<bool, Error>> + Send;

    /// Appends an event to the audit log.
    fn insert_audit(&self, event: &AuditEvent) -> impl Future<Output = Result<(), Error>> + Send;
    /// Audit events, newest first, matching `query`.
    fn audit_events(&self, query: &AuditQuery) -> impl Future<Output = Result<Vec<AuditEvent>, Error>> + Send;

    // ---- credentials, agents, service accounts

    fn insert_credential(&self, c: &CredentialRecord) -> impl Future<Output = Result<(), Error>> + Send;
    fn credential(&self, id: &str) -> impl Future<Output = Result<Option<CredentialRecord>, Error>> + Send;
    /// Newest first.
    fn credentials(
        &self,
        filter: &CredentialFilter,
    ) -> impl Future<Output = Result<Vec<CredentialRecord>, Error>> + Send;
    /// Sets `revoked_at` if unset; true if it was live (not revoked) before.
    fn revoke_credential(&self, id: &str, now: i64) -> impl Future<Output = Result<bool, Error>> + Send;
    /// Replaces the secret hash of an unrevoked credential (rotation); false if none.
    fn replace_credential_secret(&self, id: &str, hash: &TokenHash)
    -> impl Future<Output = Result<bool, Error>> + Send;
    /// Marks a service token replaced: it expires at `until` (at the latest).
    fn retire_credential(&self, id: &str, now: i64, until: i64) -> impl Future<Output = Result<(), Error>> + Send;
    /// Atomically marks an unused, unrevoked, unexpired enrollment token used; false if it
    /// was not (a second use).
    fn redeem_enrollment(&self, id: &str, now: i64) -> impl Future<Output = Result<bool, Error>> + Send;
    /// Writes last-used times and fingerprints (and fingerprint changes) of a batch.
    fn record_credential_uses(&self, uses: &[CredentialUse]) -> impl Future<Output = Result<(), Error>> + Send;

    fn insert_agent(&self, a: &AgentRecord) -> impl Future<Output = Result<Written, Error>> + Send;
    fn agent(&self, id: &str) -> impl Future<Output = Result<Option<AgentRecord>, Error>> + Send;
    /// Case-insensitive, among `owner_id`'s agents.
    fn agent_by_name(
        &self,
        owner_id: &str,
        name: &str,
    ) -> impl Future<Output = Result<Option<AgentRecord>, Error>> + Send;
    /// `None`: every agent.
    fn agents(&self, owner_id: Option<&str>, now: i64) -> impl Future<Output = Result<Vec<AgentRecord>, Error>> + Send;
    fn update_agent(
        &self,
        id: &str,
        name: Option<&str>,
        disabled: Option<bool>,
    ) -> impl Future<Output = Result<Written, Error>> + Send;

    fn insert_service_account(&self, sa: &ServiceAccountRecord) -> impl Future<Output = Result<Written, Error>> + Send;
    fn service_account(&self, id: &str) -> impl Future<Output = Result<Option<ServiceAccountRecord>, Error>> + Send;
    fn service_account_by_name(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<ServiceAccountRecord>, Error>> + Send;
    fn service_accounts(&self) -> impl Future<Output = Result<Vec<ServiceAccountRecord>, Error>> + Send;
    /// Disables the account and revokes all its tokens.
    fn disable_service_account(&self, id: &str, now: i64) -> impl Future<Output = Result<bool, Error>> + Send;

    fn credential_settings(&self) -> impl Future<Output = Result<CredentialSettings, Error>> + Send;
    fn set_credential_settings(&self, s: &CredentialSettings) -> impl Future<Output = Result<(), Error>> + Send;
    /// Stores a new pending review request (its `seq` is assigned and returned in the record).
    /// Its audit row (`audit.change`) is written with it.
    fn insert_review(
        &self,
        record: &ReviewRecord,
        audit: &impl ReviewAudit,
    ) -> impl Future<Output = Result<ReviewRecord, Error>> + Send;
    /// One request with its payload and decisions.
    fn review(&self, id: &str) -> impl Future<Output = Result<Option<ReviewRecord>, Error>> + Send;
    /// Requests matching `filter`, newest first, with decisions but without payloads.
    fn reviews(&self, filter: &ReviewFilter) -> impl Future<Output = Result<Vec<ReviewRecord>, Error>> + Send;
    /// Records a vote atomically: concurrent votes serialize, so exactly one decides a request.
    /// A pending request past its TTL is expired first (and the vote refused as `Final`). A
    /// recorded vote and an expiry are audited in the same transaction.
    fn decide_review(
        &self,
        vote: &Vote,
        audit: &impl ReviewAudit,
    ) -> impl Future<Output = Result<VoteOutcome, Error>> + Send;
    /// Cancels a pending request on behalf of its submitter (`actor`); audited like a vote.
    fn cancel_review(
        &self,
        id: &str,
        actor: &Actor,
        now: i64,
        audit: &impl ReviewAudit,
    ) -> impl Future<Output = Result<CancelOutcome, Error>> + Send;
    /// Expires every pending request whose TTL has passed at `now` (at most `limit`), recording
    /// an `expire` decision and an audit row (`audit.expiry`) for each; returns them.
    fn expire_reviews(
        &self,
        now: i64,
        limit: u32,
        audit: &impl ReviewAudit,
    ) -> impl Future<Output = Result<Vec<ReviewRecord>, Error>> + Send;
    /// True if some pending request is due to expire at `now` (cheap: a partial index).
    fn reviews_due(&self, now: i64) -> impl Future<Output = Result<bool, Error>> + Send;
    fn review_settings(&self) -> impl Future<Output = Result<Option<ReviewSettings>, Error>> + Send;
    fn put_review_settings(&self, settings: &ReviewSettings) -> impl Future<Output = Result<(), Error>> + Send;

    /// Deletes expired rows; returns how many.
    fn purge_expired(&self, now: i64) -> impl Future<Output = Result<u64, Error>> + Send;
}
