//! The review queue: requests, their decisions, and the queue's settings. Who may vote and what
//! a vote does are the review rules' (`crate::reviews::rules`); a store applies what they
//! return, atomically.

use std::future::Future;

use keyway_api::reviews::{Actor, Decision, ReviewRequest, ReviewSettings, ReviewStatus};

use super::audit::AuditEvent;
use super::error::StoreError;

/// A stored review request: the wire form plus what only the hub needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReviewRecord {
    /// Submission order (the list cursor).
    pub seq: i64,
    /// For an agent submitter, the user who owns the agent.
    pub submitter_owner: Option<String>,
    pub request: ReviewRequest,
}

/// Filter of [`ReviewStore::reviews`]: newest first.
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

/// What a vote does to a pending request: the decision to append and the request's state after
/// it. Built by the review rules, applied by [`ReviewStore::decide_review`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decided {
    /// The decision row (verdict, voter, reason, time).
    pub decision: Decision,
    pub status: ReviewStatus,
    pub approvals: u32,
    /// Set when the vote made the request final.
    pub decided_at: Option<i64>,
}

/// Outcome of [`ReviewStore::decide_review`]; `R` is the rule's refusal.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant, reason = "built once per decision")]
pub enum VoteOutcome<R> {
    Unknown,
    /// The request was already final (it may have expired just now: `expired_now`).
    Final {
        record: ReviewRecord,
        expired_now: bool,
    },
    /// The rule refused the vote; nothing was written. `record` is the request as it stands.
    Refused {
        refusal: R,
        record: ReviewRecord,
    },
    /// The vote is recorded; `record.request.status` says whether it decided the request.
    Recorded(ReviewRecord),
}

/// Outcome of [`ReviewStore::cancel_review`].
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

/// Storage of the review queue.
pub trait ReviewStore: Send + Sync {
    /// Stores a new pending review request (its `seq` is assigned and returned in the record).
    /// Its audit row (`audit.change`) is written with it.
    fn insert_review(
        &self,
        record: &ReviewRecord,
        audit: &impl ReviewAudit,
    ) -> impl Future<Output = Result<ReviewRecord, StoreError>> + Send;
    /// One request with its payload and decisions.
    fn review(&self, id: &str) -> impl Future<Output = Result<Option<ReviewRecord>, StoreError>> + Send;
    /// Requests matching `filter`, newest first, with decisions but without payloads.
    fn reviews(&self, filter: &ReviewFilter) -> impl Future<Output = Result<Vec<ReviewRecord>, StoreError>> + Send;
    /// Records a vote atomically: concurrent votes serialize, so exactly one decides a request.
    /// The request is locked; a final one is returned as `Final`, and a pending one past its TTL
    /// at `now` is expired first (and returned as `Final` too). Otherwise `rule` is given the
    /// locked request (pending, with its decisions, without its payload): what it returns is
    /// applied (decision row, request state, and the `audit.change` row, in one transaction),
    /// or its refusal returned as `Refused` with nothing written. An expiry is audited in the
    /// same transaction too.
    fn decide_review<F, R>(
        &self,
        id: &str,
        now: i64,
        audit: &impl ReviewAudit,
        rule: F,
    ) -> impl Future<Output = Result<VoteOutcome<R>, StoreError>> + Send
    where
        F: FnOnce(&ReviewRecord) -> Result<Decided, R> + Send,
        R: Send;
    /// Cancels a pending request on behalf of `actor` if `may_cancel` accepts it (the locked
    /// request, final or not); audited like a vote.
    fn cancel_review<F>(
        &self,
        id: &str,
        actor: &Actor,
        now: i64,
        audit: &impl ReviewAudit,
        may_cancel: F,
    ) -> impl Future<Output = Result<CancelOutcome, StoreError>> + Send
    where
        F: FnOnce(&ReviewRecord) -> bool + Send;
    /// Expires every pending request whose TTL has passed at `now` (at most `limit`), recording
    /// an `expire` decision and an audit row (`audit.expiry`) for each; returns them.
    fn expire_reviews(
        &self,
        now: i64,
        limit: u32,
        audit: &impl ReviewAudit,
    ) -> impl Future<Output = Result<Vec<ReviewRecord>, StoreError>> + Send;
    /// True if some pending request is due to expire at `now` (cheap: a partial index).
    fn reviews_due(&self, now: i64) -> impl Future<Output = Result<bool, StoreError>> + Send;
    fn review_settings(&self) -> impl Future<Output = Result<Option<ReviewSettings>, StoreError>> + Send;
}
