//! Backchannel authentication requests (OpenID CIBA, poll mode), shared by the hubs of one
//! database. Each is a review request (the decision is the queue's) plus a row of its own: the
//! `auth_req_id` as its SHA-256, the agent that asked, what its token will carry, the polling
//! state and the one time the token was issued. What a poll answers is decided here, once, by
//! [`judge`]; the backends lock the row, apply it and write its audit row in one transaction.
//! The purge of expired rows (`OAuthStore::purge_expired`) keeps them an hour past their expiry,
//! so a late poll still hears `expired_token`; their reviews stay, as history.

use std::future::Future;

use keyway_api::reviews::{ReviewStatus, Verdict};

use super::AuditEvent;
use super::error::StoreError;
use super::reviews::{ReviewAudit, ReviewRecord};
use crate::secret::TokenHash;

/// One backchannel request.
#[derive(Clone, Debug)]
pub struct CibaRecord {
    pub auth_req_id_hash: TokenHash,
    /// The review request the reviewers decide.
    pub review_id: String,
    /// The agent that asked; only it may redeem the approval.
    pub agent_id: String,
    /// The `client_id` of the agent's JWT, carried into the token.
    pub client_id: String,
    /// The credential the agent's JWT was exchanged from: the token dies with it.
    pub cred: Option<String>,
    /// Scopes the token will carry (space separated, maybe empty).
    pub scope: String,
    /// The resource (RFC 8707) the token is for: its `aud`.
    pub resource: Option<String>,
    /// The `authorization_details` the token will carry, exactly as approved.
    pub details: serde_json::Value,
    pub created_at: i64,
    pub expires_at: i64,
    /// The least number of seconds between two polls.
    pub interval_secs: i64,
    pub last_polled_at: Option<i64>,
    /// When the token was issued (or the approval used up by a refusal): it answers nothing more.
    pub issued_at: Option<i64>,
    pub issued_jti: Option<String>,
}

/// What one poll does, given the request and its review as they stand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Used up already.
    Used,
    Expired,
    /// Rejected, with the reviewer's reason.
    Rejected(Option<String>),
    /// Cancelled by the agent.
    Cancelled,
    /// Undecided: record the poll; `slow_down` when it came sooner than the interval (which
    /// then grows by 5 seconds).
    Pending {
        slow_down: bool,
    },
    /// Approved and not yet redeemed: issue the token now.
    Issue,
}

/// The answer to a poll at `now` (pure: both backends call it on the locked rows).
pub fn judge(ciba: &CibaRecord, review: &ReviewRecord, now: i64) -> Step {
    if ciba.issued_at.is_some() {
        return Step::Used;
    }
    // An approval not redeemed in time is spent too: the agent asked for no longer than this.
    if now >= ciba.expires_at {
        return Step::Expired;
    }
    match review.request.status {
        ReviewStatus::Approved => Step::Issue,
        ReviewStatus::Rejected => Step::Rejected(
            review.request.decisions.iter().rev().find(|d| d.verdict == Verdict::Reject).and_then(|d| d.reason.clone()),
        ),
        ReviewStatus::Cancelled => Step::Cancelled,
        ReviewStatus::Expired => Step::Expired,
        ReviewStatus::Pending if now >= review.request.expires_at => Step::Expired,
        ReviewStatus::Pending => {
            Step::Pending { slow_down: ciba.last_polled_at.is_some_and(|last| now - last < ciba.interval_secs) }
        }
    }
}

/// Outcome of [`CibaStore::poll_ciba`]; `T` is what `issue` made (the token).
#[derive(Debug)]
#[allow(clippy::large_enum_variant, reason = "built once per poll")]
pub enum CibaPoll<T> {
    /// No such `auth_req_id`.
    Unknown,
    /// Another agent's request: nothing was changed.
    NotYours,
    /// What [`judge`] said, applied; for [`Step::Issue`] see `Issued` and `Refused`.
    Answered(Step),
    /// The token `issue` made; the request is used up and its audit row written.
    Issued { ciba: CibaRecord, review: ReviewRecord, token: T },
    /// Approved, but `issue` refused (the agent is gone…); the request is used up.
    Refused(&'static str),
}

/// What `issue` returns: the token, its `jti`, and the audit row of its issue.
pub type Minted<T> = (T, String, AuditEvent);

/// Storage of backchannel requests.
pub trait CibaStore: Send + Sync {
    /// Stores the review request and the backchannel request together, with the review's
    /// audit row (`audit.change`), in one transaction. Returns the review as stored.
    fn insert_ciba(
        &self,
        review: &ReviewRecord,
        ciba: &CibaRecord,
        audit: &impl ReviewAudit,
    ) -> impl Future<Output = Result<ReviewRecord, StoreError>> + Send;
    /// One poll by `agent_id`, in one transaction: the row is locked, [`judge`] decides, the
    /// poll is recorded, and an approval is redeemed once (`issue` makes the token; its audit
    /// row is written with the redemption). Concurrent polls cannot both get a token.
    fn poll_ciba<F, T>(
        &self,
        auth_req_id_hash: &TokenHash,
        agent_id: &str,
        now: i64,
        issue: F,
    ) -> impl Future<Output = Result<CibaPoll<T>, StoreError>> + Send
    where
        F: FnOnce(&CibaRecord, &ReviewRecord) -> Result<Minted<T>, &'static str> + Send,
        T: Send;
}
