//! The approval queue (`/api/reviews…`, `/api/settings/reviews`); wire types and the route list
//! are in `keyway_api::reviews`.
//!
//! Every transition (submit, vote, expiry, cancel) is written to the store in one transaction,
//! then to the audit log, then pushed to [`Live`] subscribers: the SSE streams and the waiters.
//! Expiry is exact with the hub's clock: pending requests past their TTL are expired by a
//! background sweeper and also, lazily, before any read or decision.
//!
//! SSE events carry ids; a client reconnecting with `Last-Event-ID` gets the events it missed
//! (the last 1024 are kept), or a `resync` event telling it to list the queue again.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::Stream;
use keyway_api::auth::{Page, PrincipalKind, scopes};
use keyway_api::reviews::{
    Actor, ContentType, DEFAULT_WAIT_SECS, Decide, MAX_KIND_CHARS, MAX_LINKS, MAX_PAYLOAD_BYTES, MAX_REASON_CHARS,
    MAX_THRESHOLD, MAX_TITLE_CHARS, MAX_WAIT_SECS, ReviewEvent, ReviewQuery, ReviewRequest, ReviewSettings,
    ReviewStatus, SubmitReview, Verdict,
};
use keyway_api::{Role, codes};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{broadcast, watch};

use crate::auth::{JsonBody, Principal, record};
use crate::error::Error;
use crate::oauth::AppState;
use crate::reviews::rules::{self, Refusal, Voter};
use crate::store::{AuditEvent, CancelOutcome, ReviewAudit, ReviewFilter, ReviewRecord, Store, VoteOutcome};

/// Default lifetime of a request, and the default administrator maximum.
pub(crate) const DEFAULT_TTL_SECS: u64 = 3600;
pub(crate) const DEFAULT_MAX_TTL_SECS: u64 = 24 * 3600;
/// No administrator may allow requests to live longer than this.
pub(crate) const TTL_CEILING_SECS: u64 = 30 * 24 * 3600;
/// Largest submit body: room for a full payload and its envelope, so an oversized payload gets
/// the precise message rather than a generic one.
const SUBMIT_BODY_LIMIT: usize = 4 * MAX_PAYLOAD_BYTES;
/// How often the sweeper looks for requests past their TTL.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);
/// Requests expired per sweeper transaction.
const SWEEP_BATCH: u32 = 500;
/// Events buffered per subscriber before it is considered lagging (and disconnected).
const EVENT_BUFFER: usize = 4096;
const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;
const MAX_LINK_LABEL_CHARS: usize = 100;
const MAX_LINK_URL_CHARS: usize = 2048;

/// Live fan-out of review events to SSE streams and waiters.
///
/// Every event gets an id `<epoch>-<n>` (the epoch is random per hub process); the last
/// [`REPLAY`] events are kept so an SSE client reconnecting with `Last-Event-ID` gets what it
/// missed. When that is not possible (too old, or another hub process) it is sent a `resync`
/// event and lists the queue again.
pub(crate) struct Live {
    events: broadcast::Sender<Published>,
    epoch: String,
    ring: std::sync::Mutex<Ring>,
    /// Flips to true when the hub shuts down: streams and waiters end at once.
    stop: watch::Receiver<bool>,
}

#[derive(Default)]
struct Ring {
    next: u64,
    recent: std::collections::VecDeque<Published>,
}

/// Events kept for `Last-Event-ID` replay.
const REPLAY: usize = 1024;

impl Live {
    pub(crate) fn new(stop: watch::Receiver<bool>) -> Live {
        let mut epoch = crate::secret::random_id();
        epoch.retain(|c| c.is_ascii_alphanumeric());
        epoch.truncate(12);
        Live { events: broadcast::channel(EVENT_BUFFER).0, epoch, ring: Default::default(), stop }
    }

    /// Resolves when the hub is shutting down.
    async fn stopping(&self) {
        let mut stop = self.stop.clone();
        // An error means the sender is gone: stopping too.
        let _ = stop.wait_for(|s| *s).await;
    }
}

/// What an SSE subscriber starts with.
struct Backlog {
    rx: broadcast::Receiver<Published>,
    missed: Vec<Published>,
    /// The requested position could not be replayed: the client must list again.
    resync: bool,
}

impl Live {
    fn publish_with_owner(&self, event: ReviewEvent, owner: Option<String>) {
        let mut ring = self.ring.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        ring.next += 1;
        let published = Published { seq: ring.next, event, owner };
        if ring.recent.len() == REPLAY {
            ring.recent.pop_front();
        }
        ring.recent.push_back(published.clone());
        // Sent under the lock, so a subscriber registering concurrently sees each event once:
        // either in its backlog or on its receiver. No subscriber is not an error.
        let _ = self.events.send(published);
    }

    fn subscribe(&self) -> broadcast::Receiver<Published> {
        self.events.subscribe()
    }

    fn event_id(&self, seq: u64) -> String {
        format!("{}-{seq}", self.epoch)
    }

    /// Subscribes, with the events after `last_event_id` that are still kept.
    fn subscribe_after(&self, last_event_id: Option<&str>) -> Backlog {
        let ring = self.ring.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let rx = self.events.subscribe();
        let Some(last) = last_event_id else {
            return Backlog { rx, missed: vec![], resync: false };
        };
        let seq = last
            .split_once('-')
            .filter(|(epoch, _)| *epoch == self.epoch)
            .and_then(|(_, n)| n.parse::<u64>().ok())
            .filter(|n| *n <= ring.next);
        let oldest = ring.recent.front().map_or(ring.next + 1, |p| p.seq);
        match seq {
            Some(n) if n + 1 >= oldest => {
                Backlog { rx, missed: ring.recent.iter().filter(|p| p.seq > n).cloned().collect(), resync: false }
            }
            _ => Backlog { rx, missed: vec![], resync: true },
        }
    }
}

pub(crate) fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/api/reviews", post(submit::<S>).get(list::<S>).layer(DefaultBodyLimit::max(SUBMIT_BODY_LIMIT)))
        .route("/api/reviews/events", get(events::<S>))
        .route("/api/reviews/{id}", get(show::<S>))
        .route("/api/reviews/{id}/decision", post(decide::<S>))
        .route("/api/reviews/{id}/cancel", post(cancel::<S>))
        .route("/api/reviews/{id}/wait", get(wait::<S>))
        .route("/api/settings/reviews", get(get_settings::<S>).put(put_settings::<S>))
}

// ---- rules

/// Reviewers, auditors and admins (people) see every request; everyone else, agents and
/// service accounts included, their own.
fn sees_all(p: &Principal) -> bool {
    p.kind == PrincipalKind::User
        && (p.has_role(Role::Reviewer) || p.has_role(Role::Auditor) || p.has_role(Role::Admin))
}

fn is_submitter(p: &Principal, r: &ReviewRequest) -> bool {
    r.submitter.kind == p.kind && r.submitter.id == p.id
}

/// The caller submitted it, or (a person) owns the agent that did.
fn owns(p: &Principal, record_owner: Option<&str>, r: &ReviewRequest) -> bool {
    is_submitter(p, r) || (p.kind == PrincipalKind::User && record_owner == Some(p.id.as_str()))
}

fn visible(p: &Principal, rec: &ReviewRecord) -> bool {
    sees_all(p) || owns(p, rec.submitter_owner.as_deref(), &rec.request)
}

/// Events carry no owner: a request is visible in an event to whoever may list it.
fn event_visible(p: &Principal, r: &ReviewRequest, owner: Option<&str>) -> bool {
    sees_all(p) || owns(p, owner, r)
}

fn actor_of(p: &Principal) -> Actor {
    Actor { kind: p.kind, id: p.id.clone(), name: p.name.clone() }
}

fn require_read(p: &Principal) -> Result<(), Error> {
    if p.has_scope(scopes::REVIEWS_READ) || p.has_scope(scopes::REVIEWS_SUBMIT) {
        Ok(())
    } else {
        p.require_scopes(&[scopes::REVIEWS_READ])
    }
}

fn not_found(id: &str) -> Error {
    Error::missing(format!("No review request with id '{id}'"))
}

fn invalid(message: impl Into<std::borrow::Cow<'static, str>>) -> Error {
    Error::unprocessable(codes::VALIDATION_FAILED, message)
}

fn kb(bytes: usize) -> String {
    format!("{:.1} KB", bytes as f64 / 1024.0)
}

fn payload_too_large(what: &str) -> Error {
    Error::api(
        StatusCode::PAYLOAD_TOO_LARGE,
        codes::PAYLOAD_TOO_LARGE,
        format!(
            "{what}; a review payload may be at most {} ({MAX_PAYLOAD_BYTES} bytes) of JSON. \
             Put large content elsewhere and add a link to it.",
            kb(MAX_PAYLOAD_BYTES)
        ),
    )
}

/// Who decided a final request, in words (for `409 conflict`).
fn describe_final(r: &ReviewRequest) -> String {
    let names = |verdict: Verdict| -> Vec<String> {
        r.decisions
            .iter()
            .filter(|d| d.verdict == verdict)
            .filter_map(|d| d.actor.as_ref().map(|a| a.name.clone()))
            .collect()
    };
    let when = r.decided_at.map(|t| format!(" at {t} (unix)")).unwrap_or_default();
    match r.status {
        ReviewStatus::Approved => format!("approved by {}{when}", names(Verdict::Approve).join(" and ")),
        ReviewStatus::Rejected => {
            let reason = r
                .decisions
                .iter()
                .rev()
                .find(|d| d.verdict == Verdict::Reject)
                .and_then(|d| d.reason.clone())
                .map(|reason| format!(": \"{reason}\""))
                .unwrap_or_default();
            format!("rejected by {}{when}{reason}", names(Verdict::Reject).join(" and "))
        }
        ReviewStatus::Expired => format!("expired{when} before enough reviewers approved it"),
        ReviewStatus::Cancelled => format!("cancelled by its submitter{when}"),
        ReviewStatus::Pending => "still pending".to_owned(),
    }
}

fn already_decided(r: &ReviewRequest) -> Error {
    Error::conflict(format!("Already decided: this request was {}", describe_final(r)))
}

/// A vote or cancel that found the request final: announces the expiry if this very call
/// expired it (the store has audited it), and returns the "already decided" refusal.
fn already_final<S: Store>(state: &AppState<S>, rec: ReviewRecord, expired_now: bool) -> Error {
    let err = already_decided(&rec.request);
    if expired_now {
        announce(state, rec, |request| ReviewEvent::Expired { request });
    }
    err
}

/// The audit rows a store call writes with its transition: `change` builds the caller's own,
/// and a request found past its TTL is audited as expired by the hub.
struct Audit<F> {
    now: i64,
    change: F,
}

impl<F: Fn(&ReviewRecord) -> AuditEvent + Send + Sync> ReviewAudit for Audit<F> {
    fn change(&self, after: &ReviewRecord) -> AuditEvent {
        (self.change)(after)
    }

    fn expiry(&self, expired: &ReviewRecord) -> AuditEvent {
        expiry_event(self.now, expired)
    }
}

/// The audit row of a request that expired, noticed at `now`.
fn expiry_event(now: i64, expired: &ReviewRecord) -> AuditEvent {
    let mut event = audit_event(None, now, "review.expire", "ok", &expired.request);
    event.detail = json!({ "expires_at": expired.request.expires_at, "approvals": expired.request.approvals });
    event
}

fn audit_event(p: Option<&Principal>, at: i64, action: &str, outcome: &str, r: &ReviewRequest) -> AuditEvent {
    let mut event = match p {
        Some(p) => p.audit(at, action, outcome),
        None => AuditEvent {
            id: 0,
            at,
            actor_kind: "hub".to_owned(),
            actor_id: None,
            actor_name: None,
            action: action.to_owned(),
            target_kind: None,
            target_id: None,
            outcome: outcome.to_owned(),
            detail: json!({}),
        },
    };
    event.target_kind = Some("review".to_owned());
    event.target_id = Some(r.id.clone());
    event
}

async fn settings<S: Store>(state: &AppState<S>) -> Result<ReviewSettings, Error> {
    Ok(state
        .store
        .review_settings()
        .await?
        .unwrap_or(ReviewSettings { default_ttl_secs: DEFAULT_TTL_SECS, max_ttl_secs: DEFAULT_MAX_TTL_SECS }))
}

/// Expires every pending request past its TTL, audits and announces each. Cheap when none is
/// due (one indexed probe).
pub(crate) async fn sweep<S: Store>(state: &AppState<S>) -> Result<(), Error> {
    let now = state.now();
    if !state.store.reviews_due(now).await? {
        return Ok(());
    }
    loop {
        let audit = Audit { now, change: move |r: &ReviewRecord| expiry_event(now, r) };
        let expired = state.store.expire_reviews(now, SWEEP_BATCH, &audit).await?;
        let n = expired.len();
        for rec in expired {
            announce(state, rec, |request| ReviewEvent::Expired { request });
        }
        if n < SWEEP_BATCH as usize {
            return Ok(());
        }
    }
}

/// Pushes a transition to subscribers (without the payload: clients fetch it when shown).
fn announce<S: Store>(state: &AppState<S>, rec: ReviewRecord, event: impl FnOnce(ReviewRequest) -> ReviewEvent) {
    let mut request = rec.request;
    request.payload = None;
    state.reviews.publish_with_owner(event(request), rec.submitter_owner);
}

/// The background sweeper: runs until `stop` flips.
pub(crate) async fn sweep_loop<S: Store>(state: AppState<S>, mut stop: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(SWEEP_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = interval.tick() => {
                if let Err(e) = sweep(&state).await {
                    tracing::warn!(error = %crate::error::report(&e), "expiring review requests failed");
                }
            }
        }
    }
}

// ---- submit

fn validate_title(raw: &str) -> Result<String, Error> {
    let title = raw.trim();
    if title.is_empty() {
        return Err(invalid("A title is required: say in a few words what should be approved"));
    }
    let n = title.chars().count();
    if n > MAX_TITLE_CHARS {
        return Err(invalid(format!("The title is {n} characters long; at most {MAX_TITLE_CHARS} are allowed")));
    }
    if title.chars().any(char::is_control) {
        return Err(invalid("The title must be one line without control characters"));
    }
    Ok(title.to_owned())
}

fn validate_kind(raw: Option<&str>) -> Result<String, Error> {
    let kind = raw.map(str::trim).filter(|k| !k.is_empty()).unwrap_or("general");
    let ok = kind.chars().count() <= MAX_KIND_CHARS
        && kind.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.'));
    if !ok {
        return Err(invalid(format!(
            "Kind '{kind}' is not valid: use up to {MAX_KIND_CHARS} of a-z, 0-9, '_', '-' and '.'"
        )));
    }
    Ok(kind.to_owned())
}

fn validate_links(links: &[keyway_api::reviews::Link]) -> Result<(), Error> {
    if links.len() > MAX_LINKS {
        return Err(invalid(format!("{} links given; at most {MAX_LINKS} are allowed", links.len())));
    }
    for link in links {
        let label = link.label.trim();
        if label.is_empty() || label.chars().count() > MAX_LINK_LABEL_CHARS || label.chars().any(char::is_control) {
            return Err(invalid(format!(
                "Every link needs a one-line label of 1 to {MAX_LINK_LABEL_CHARS} characters"
            )));
        }
        let ok = link.url.len() <= MAX_LINK_URL_CHARS
            && url::Url::parse(&link.url).is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.has_host());
        if !ok {
            return Err(invalid(format!(
                "Link '{label}' must be an http(s) URL of at most {MAX_LINK_URL_CHARS} characters"
            )));
        }
    }
    Ok(())
}

async fn submit<S: Store>(
    State(state): State<AppState<S>>,
    principal: Principal,
    body: Result<JsonBody<SubmitReview>, Error>,
) -> Result<(StatusCode, Json<ReviewRequest>), Error> {
    principal.require_scopes(&[scopes::REVIEWS_SUBMIT])?;
    let JsonBody(req) = body.map_err(|e| match e {
        Error::PayloadTooLarge => payload_too_large(&format!("The request is larger than {}", kb(SUBMIT_BODY_LIMIT))),
        other => other,
    })?;
    let title = validate_title(&req.title)?;
    let kind = validate_kind(req.kind.as_deref())?;
    let size = serde_json::to_vec(&req.payload).map(|v| v.len()).unwrap_or(usize::MAX);
    if size > MAX_PAYLOAD_BYTES {
        return Err(payload_too_large(&format!("The payload is {} ({size} bytes) of JSON", kb(size))));
    }
    let content_type = req.content_type.unwrap_or_default();
    if content_type != ContentType::Json && !req.payload.is_string() {
        return Err(invalid(
            format!(
                "A payload shown as {content_type:?} must be a JSON string; use content type json for other values"
            )
            .to_lowercase(),
        ));
    }
    validate_links(&req.links)?;
    let limits = settings(&state).await?;
    let ttl = match req.ttl_secs {
        None => limits.default_ttl_secs.min(limits.max_ttl_secs),
        Some(0) => return Err(invalid("ttl_secs must be at least 1 second")),
        Some(t) if t > limits.max_ttl_secs => {
            return Err(invalid(format!(
                "ttl_secs {t} is above the maximum of {} seconds set by an administrator",
                limits.max_ttl_secs
            )));
        }
        Some(t) => t,
    };
    let threshold = req.threshold.unwrap_or(1);
    if !(1..=MAX_THRESHOLD).contains(&threshold) {
        return Err(invalid(format!("threshold must be between 1 and {MAX_THRESHOLD} approvals, got {threshold}")));
    }
    let now = state.now();
    let record_in = ReviewRecord {
        seq: 0,
        submitter_owner: if principal.kind == PrincipalKind::Agent { principal.owner.clone() } else { None },
        request: ReviewRequest {
            id: crate::secret::random_id(),
            title,
            kind,
            payload: Some(req.payload),
            content_type,
            links: req.links,
            submitter: actor_of(&principal),
            created_at: now,
            expires_at: now.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX)),
            threshold,
            approvals: 0,
            status: ReviewStatus::Pending,
            decided_at: None,
            decisions: vec![],
            may_decide: false,
        },
    };
    let audit = Audit {
        now,
        change: |stored: &ReviewRecord| {
            let mut event = audit_event(Some(&principal), now, "review.submit", "ok", &stored.request);
            event.detail = json!({
                "title": stored.request.title,
                "kind": stored.request.kind,
                "threshold": threshold,
                "expires_at": stored.request.expires_at,
                "payload_bytes": size,
            });
            event
        },
    };
    let stored = state.store.insert_review(&record_in, &audit).await?;
    let response = stored.request.clone();
    announce(&state, stored, |request| ReviewEvent::Created { request });
    Ok((StatusCode::CREATED, Json(response)))
}

// ---- read

async fn list<S: Store>(
    State(state): State<AppState<S>>,
    principal: Principal,
    query: Result<Query<ReviewQuery>, QueryRejection>,
) -> Result<Json<Page<ReviewRequest>>, Error> {
    require_read(&principal)?;
    let q = super::query(query)?;
    let before = match q.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => Some(c.parse::<i64>().map_err(|_| Error::bad_request("invalid cursor: pass back `next`"))?),
    };
    let limit = q.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    sweep(&state).await?;
    let own_only = q.mine.unwrap_or(false) || !sees_all(&principal);
    let filter = ReviewFilter {
        before,
        status: q.status,
        decided_only: q.decided.unwrap_or(false),
        kind: q.kind.filter(|k| !k.is_empty()),
        submitter: q.submitter.filter(|s| !s.is_empty()),
        owned_by: own_only.then(|| principal.id.clone()),
        limit: limit + 1,
    };
    let records = state.store.reviews(&filter).await?;
    // A service account or agent id never appears as an owner, so the owner match is only a
    // person's; a kind mismatch with the same id cannot happen (ids are random).
    let (records, next) = super::page_of(records, limit, |r| r.seq.to_string());
    Ok(Json(Page { items: records.into_iter().map(|r| r.request).collect(), next }))
}

async fn load_visible<S: Store>(state: &AppState<S>, p: &Principal, id: &str) -> Result<ReviewRecord, Error> {
    match state.store.review(id).await? {
        Some(rec) if visible(p, &rec) => Ok(rec),
        _ => Err(not_found(id)),
    }
}

async fn show<S: Store>(
    State(state): State<AppState<S>>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<ReviewRequest>, Error> {
    require_read(&principal)?;
    sweep(&state).await?;
    Ok(Json(load_visible(&state, &principal, &id).await?.request))
}

// ---- decide, cancel

async fn decide<S: Store>(
    State(state): State<AppState<S>>,
    principal: Principal,
    Path(id): Path<String>,
    body: Result<JsonBody<Decide>, Error>,
) -> Result<Json<ReviewRequest>, Error> {
    principal.require_scopes(&[scopes::REVIEWS_DECIDE])?;
    principal.require_role(Role::Reviewer)?;
    let JsonBody(decide) = body?;
    if !matches!(decide.verdict, Verdict::Approve | Verdict::Reject) {
        return Err(invalid("verdict must be approve or reject"));
    }
    let reason = decide.reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    if decide.verdict == Verdict::Reject && reason.is_none() {
        return Err(invalid("A reason is required to reject: tell the submitter what to change"));
    }
    if let Some(r) = &reason {
        let n = r.chars().count();
        if n > MAX_REASON_CHARS {
            return Err(invalid(format!("The reason is {n} characters long; at most {MAX_REASON_CHARS} are allowed")));
        }
    }
    let now = state.now();
    let voter = Voter {
        actor: actor_of(&principal),
        owner: principal.owner.clone(),
        reviewer: principal.has_role(Role::Reviewer) && principal.has_scope(scopes::REVIEWS_DECIDE),
    };
    let audit = Audit {
        now,
        change: |after: &ReviewRecord| {
            let r = &after.request;
            let mut event = audit_event(Some(&principal), now, "review.decide", "ok", r);
            event.detail = json!({
                "verdict": decide.verdict,
                "reason": reason,
                "status": r.status.as_str(),
                "approvals": r.approvals,
                "threshold": r.threshold,
            });
            event
        },
    };
    let rule = |rec: &ReviewRecord| rules::decide(&voter, decide.verdict, reason.as_deref(), rec, now);
    match state.store.decide_review(&id, now, &audit, rule).await? {
        VoteOutcome::Unknown => Err(not_found(&id)),
        VoteOutcome::Refused { refusal: Refusal::OwnRequest, .. } => {
            let mut event = principal.audit(now, "review.decide", codes::ACCESS_DENIED);
            event.target_kind = Some("review".to_owned());
            event.target_id = Some(id.clone());
            event.detail = json!({ "refused": "own request" });
            record(&state, event).await?;
            Err(Error::forbidden(
                codes::ACCESS_DENIED,
                "You submitted this request (or own the agent that did): another reviewer must decide it",
            ))
        }
        VoteOutcome::Final { record: rec, expired_now } => Err(already_final(&state, rec, expired_now)),
        VoteOutcome::Refused { refusal: Refusal::AlreadyVoted, record: rec } => {
            let r = &rec.request;
            let missing = r.threshold.saturating_sub(r.approvals);
            Err(Error::conflict(format!(
                "You have already voted on this request; it needs {missing} more approval(s) from other reviewers"
            )))
        }
        // Checked above, or by the store before the rule runs.
        VoteOutcome::Refused { refusal: Refusal::NotReviewer, .. } => {
            Err(Error::forbidden(codes::ROLE_REQUIRED, format!("This needs the '{}' role", Role::Reviewer)))
        }
        VoteOutcome::Refused { refusal: Refusal::NotAVote, .. } => Err(invalid("verdict must be approve or reject")),
        VoteOutcome::Refused { refusal: Refusal::NotPending | Refusal::Expired, record: rec } => {
            Err(already_final(&state, rec, false))
        }
        VoteOutcome::Recorded(rec) => {
            let response = rec.request.clone();
            if rec.request.status.is_final() {
                announce(&state, rec, |request| ReviewEvent::Decided { request });
            } else {
                announce(&state, rec, |request| ReviewEvent::Voted { request });
            }
            Ok(Json(response))
        }
    }
}

async fn cancel<S: Store>(
    State(state): State<AppState<S>>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<ReviewRequest>, Error> {
    principal.require_scopes(&[scopes::REVIEWS_SUBMIT])?;
    let now = state.now();
    let audit = Audit {
        now,
        change: |after: &ReviewRecord| audit_event(Some(&principal), now, "review.cancel", "ok", &after.request),
    };
    let actor = actor_of(&principal);
    match state.store.cancel_review(&id, &actor, now, &audit, |rec| rules::is_submitter(&actor, rec)).await? {
        CancelOutcome::Unknown => Err(not_found(&id)),
        CancelOutcome::NotSubmitter(rec) => {
            if visible(&principal, &rec) {
                Err(Error::forbidden(
                    codes::ACCESS_DENIED,
                    format!("Only its submitter ({}) can cancel this request", rec.request.submitter.name),
                ))
            } else {
                Err(not_found(&id))
            }
        }
        CancelOutcome::Final { record: rec, expired_now } => Err(already_final(&state, rec, expired_now)),
        CancelOutcome::Cancelled(rec) => {
            let response = rec.request.clone();
            announce(&state, rec, |request| ReviewEvent::Cancelled { request });
            Ok(Json(response))
        }
    }
}

// ---- wait, live

#[derive(Debug, Deserialize)]
struct WaitParams {
    timeout: Option<u64>,
}

async fn wait<S: Store>(
    State(state): State<AppState<S>>,
    principal: Principal,
    Path(id): Path<String>,
    params: Result<Query<WaitParams>, QueryRejection>,
) -> Result<Json<ReviewRequest>, Error> {
    require_read(&principal)?;
    let Query(params) = params.map_err(|_| Error::bad_request("timeout must be a whole number of seconds"))?;
    let timeout = Duration::from_secs(params.timeout.unwrap_or(DEFAULT_WAIT_SECS).min(MAX_WAIT_SECS));
    let deadline = tokio::time::Instant::now() + timeout;
    // Subscribe before reading, so a decision between the read and the wait is not missed.
    let mut rx = state.reviews.subscribe();
    sweep(&state).await?;
    let rec = load_visible(&state, &principal, &id).await?;
    if rec.request.status.is_final() {
        return Ok(Json(rec.request));
    }
    loop {
        tokio::select! {
            got = rx.recv() => match got {
                Ok(published) if published.event.request().id == id && published.event.request().status.is_final() => break,
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    if load_visible(&state, &principal, &id).await?.request.status.is_final() {
                        break;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            _ = tokio::time::sleep_until(deadline) => break,
            _ = state.reviews.stopping() => break,
        }
    }
    Ok(Json(load_visible(&state, &principal, &id).await?.request))
}

fn event_name(e: &ReviewEvent) -> &'static str {
    match e {
        ReviewEvent::Created { .. } => "created",
        ReviewEvent::Voted { .. } => "voted",
        ReviewEvent::Decided { .. } => "decided",
        ReviewEvent::Expired { .. } => "expired",
        ReviewEvent::Cancelled { .. } => "cancelled",
    }
}

struct Subscription<S> {
    rx: broadcast::Receiver<Published>,
    missed: std::collections::VecDeque<Published>,
    resync: bool,
    state: AppState<S>,
    principal: Principal,
    /// The stream ends when the bearer JWT expires; the client reconnects with a fresh one.
    ends: tokio::time::Instant,
    greeted: bool,
}

fn sse_event<S>(state: &AppState<S>, p: &Published) -> Event {
    let data = serde_json::to_string(&p.event).unwrap_or_default();
    Event::default().id(state.reviews.event_id(p.seq)).event(event_name(&p.event)).data(data)
}

/// `GET /api/reviews/events`: every transition the caller may see, as it happens. Honours
/// `Last-Event-ID` for the last 1024 events; sends `event: resync` when it cannot.
async fn events<S: Store>(
    State(state): State<AppState<S>>,
    principal: Principal,
    headers: axum::http::HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Error> {
    require_read(&principal)?;
    let left = u64::try_from(principal.exp.saturating_sub(state.now())).unwrap_or(0);
    let last = headers.get("last-event-id").and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty());
    let backlog = state.reviews.subscribe_after(last);
    let sub = Subscription {
        rx: backlog.rx,
        missed: backlog.missed.into(),
        resync: backlog.resync,
        state: state.clone(),
        principal,
        ends: tokio::time::Instant::now() + Duration::from_secs(left),
        greeted: false,
    };
    let stream = futures_util::stream::unfold(sub, |mut sub| async move {
        if !sub.greeted {
            sub.greeted = true;
            return Some((Ok(Event::default().comment("subscribed")), sub));
        }
        if sub.resync {
            sub.resync = false;
            return Some((Ok(Event::default().event("resync").data("{}")), sub));
        }
        while let Some(p) = sub.missed.pop_front() {
            if event_visible(&sub.principal, p.event.request(), p.owner.as_deref()) {
                let event = sse_event(&sub.state, &p);
                return Some((Ok(event), sub));
            }
        }
        loop {
            tokio::select! {
                got = sub.rx.recv() => match got {
                    Ok(p) => {
                        if !event_visible(&sub.principal, p.event.request(), p.owner.as_deref()) {
                            continue;
                        }
                        let event = sse_event(&sub.state, &p);
                        return Some((Ok(event), sub));
                    }
                    // A subscriber that fell behind is disconnected; it reconnects with
                    // Last-Event-ID and gets the rest (or `resync`).
                    Err(_) => return None,
                },
                _ = tokio::time::sleep_until(sub.ends) => return None,
                _ = sub.state.reviews.stopping() => return None,
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

// ---- settings

async fn get_settings<S: Store>(
    State(state): State<AppState<S>>,
    _principal: Principal,
) -> Result<Json<ReviewSettings>, Error> {
    Ok(Json(settings(&state).await?))
}

async fn put_settings<S: Store>(
    State(state): State<AppState<S>>,
    principal: Principal,
    body: Result<JsonBody<ReviewSettings>, Error>,
) -> Result<Json<ReviewSettings>, Error> {
    // Management, as for credential settings: an admin with a short-lived user_admin JWT.
    principal.require_admin(&[])?;
    principal.require_role(Role::Admin)?;
    let JsonBody(new) = body?;
    if new.default_ttl_secs == 0 || new.max_ttl_secs == 0 {
        return Err(invalid("TTLs must be at least 1 second"));
    }
    if new.max_ttl_secs > TTL_CEILING_SECS {
        return Err(invalid(format!("max_ttl_secs may be at most {TTL_CEILING_SECS} seconds (30 days)")));
    }
    if new.default_ttl_secs > new.max_ttl_secs {
        return Err(invalid("default_ttl_secs must not be above max_ttl_secs"));
    }
    let old = settings(&state).await?;
    state.store.put_review_settings(&new).await?;
    let mut event = principal.audit(state.now(), "review.settings", "ok");
    event.target_kind = Some("settings".to_owned());
    event.target_id = Some("reviews".to_owned());
    event.detail = json!({ "before": old, "after": new });
    record(&state, event).await?;
    Ok(Json(new))
}

/// An event with its sequence number and the owning user of an agent submitter (kept off the
/// wire).
#[derive(Clone, Debug)]
pub(crate) struct Published {
    pub(crate) seq: u64,
    pub(crate) event: ReviewEvent,
    pub(crate) owner: Option<String>,
}

#[cfg(test)]
mod tests {
    use keyway_api::auth::PrincipalKind;
    use keyway_api::reviews::{Actor, ContentType, ReviewEvent, ReviewRequest, ReviewStatus};

    use super::*;

    fn request(n: usize) -> ReviewRequest {
        ReviewRequest {
            id: format!("r{n}"),
            title: "t".into(),
            kind: "general".into(),
            payload: None,
            content_type: ContentType::Json,
            links: vec![],
            submitter: Actor { kind: PrincipalKind::User, id: "u".into(), name: "u".into() },
            created_at: 0,
            expires_at: 1,
            threshold: 1,
            approvals: 0,
            status: ReviewStatus::Pending,
            decided_at: None,
            decisions: vec![],
            may_decide: false,
        }
    }

    #[test]
    fn replay_gives_what_was_missed_or_asks_for_a_resync() {
        let (_stop, rx) = watch::channel(false);
        let live = Live::new(rx);
        // Before anything happened, any id of this hub is up to date.
        let fresh = live.subscribe_after(Some(&live.event_id(0)));
        assert!(!fresh.resync && fresh.missed.is_empty());
        for n in 1..=REPLAY + 100 {
            live.publish_with_owner(ReviewEvent::Created { request: request(n) }, None);
        }
        let recent = live.subscribe_after(Some(&live.event_id((REPLAY + 50) as u64)));
        assert!(!recent.resync);
        let ids: Vec<u64> = recent.missed.iter().map(|p| p.seq).collect();
        assert_eq!(ids, ((REPLAY + 51) as u64..=(REPLAY + 100) as u64).collect::<Vec<_>>());
        // The oldest kept event is 101: asking from 100 works, from 99 it cannot.
        assert_eq!(live.subscribe_after(Some(&live.event_id(100))).missed.len(), REPLAY);
        assert!(live.subscribe_after(Some(&live.event_id(99))).resync);
        for stale in ["otherhub-5", "nonsense", &live.event_id(10_000)] {
            assert!(live.subscribe_after(Some(stale)).resync, "{stale}");
        }
        assert!(!live.subscribe_after(None).resync);
    }
}
