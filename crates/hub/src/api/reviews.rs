//! The approval queue's routes (`/api/reviews…`, `/api/settings/reviews`); wire types and the
//! route list are in `keyway_api::reviews`, the rules in `crate::reviews`.
//!
//! Every transition (submit, vote, expiry, cancel) is written to the store in one transaction
//! with its audit row, then pushed to the live subscribers: the SSE streams and the waiters.
//! Expiry is exact with the hub's clock: pending requests past their TTL are expired by a
//! background sweeper and also, lazily, before any read or decision.
//!
//! SSE events carry ids; a client reconnecting with `Last-Event-ID` gets the events it missed
//! (the last 1024 are kept), or a `resync` event telling it to list the queue again.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use futures_util::Stream;
use keyway_api::auth::Page;
use keyway_api::reviews::{
    DEFAULT_WAIT_SECS, Decide, MAX_PAYLOAD_BYTES, MAX_REASON_CHARS, MAX_WAIT_SECS, ReviewEvent, ReviewQuery,
    ReviewRequest, ReviewSettings, ReviewStatus, SubmitReview, Verdict,
};
use keyway_api::{Role, codes};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast;

use crate::audit;
use crate::credentials::issue::apply;
use crate::error::Error;
use crate::http::{Body, DEFAULT_PAGE, MAX_PAGE, cursor, page_of, query};
use crate::policy::Rule;
use crate::principal::Principal;
use crate::reviews::audit::{self as review_audit, TransitionAudit};
use crate::reviews::events::{Full, Published, Replay, STREAMS_PER_PRINCIPAL, Slot, WAITS_PER_PRINCIPAL};
use crate::reviews::rules::{self, Refusal};
use crate::reviews::submission::{self, TTL_CEILING_SECS, invalid, kb, payload_too_large, settings};
use crate::reviews::sweeper::sweep;
use crate::reviews::visibility::{actor_of, event_visible, for_caller, sees_all, visible, voter_of};
use crate::routing::Routes;
use crate::state::AppState;
use crate::store::changes::{Change, Write};
use crate::store::{CancelOutcome, ReviewFilter, ReviewRecord, Store, VoteOutcome};

/// Largest submit body: room for a full payload and its envelope, so an oversized payload gets
/// the precise message rather than a generic one.
const SUBMIT_BODY_LIMIT: usize = 4 * MAX_PAYLOAD_BYTES;

pub(crate) fn router<S: Store>() -> Routes<S> {
    Routes::new()
        .route("/api/reviews", post(submit::<S>).get(list::<S>).layer(DefaultBodyLimit::max(SUBMIT_BODY_LIMIT)))
        .route("/api/reviews/events", get(events::<S>))
        .route("/api/reviews/{id}", get(show::<S>))
        .route("/api/reviews/{id}/decision", post(decide::<S>))
        .route("/api/reviews/{id}/cancel", post(cancel::<S>))
        .route("/api/reviews/{id}/wait", get(wait::<S>))
        .route("/api/settings/reviews", get(get_settings::<S>).put(put_settings::<S>))
}

// ---- refusals

fn not_found(id: &str) -> Error {
    Error::missing(format!("No review request with id '{id}'"))
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
async fn already_final<S: Store>(state: &AppState<S>, rec: ReviewRecord, expired_now: bool) -> Error {
    let err = already_decided(&rec.request);
    if expired_now {
        crate::notices::announce(state, rec, |request| ReviewEvent::Expired { request }).await;
    }
    err
}

// ---- submit

async fn submit<S: Store>(
    State(state): State<AppState<S>>,
    principal: Principal,
    body: Result<Body<Json<SubmitReview>>, Error>,
) -> Result<(StatusCode, Json<ReviewRequest>), Error> {
    principal.require(Rule::ReviewsSubmit)?;
    let Body(Json(req)) = body.map_err(|e| match e {
        Error::PayloadTooLarge => payload_too_large(&format!("The request is larger than {}", kb(SUBMIT_BODY_LIMIT))),
        other => other,
    })?;
    let threshold = req.threshold.unwrap_or(1);
    let (record_in, size) = submission::check(&state, &principal, req).await?;
    let now = record_in.request.created_at;
    let audit = TransitionAudit {
        now,
        change: |stored: &ReviewRecord| {
            review_audit::by(&principal, now, "review.submit", &stored.request.id)
                .detail(json!({
                    "title": stored.request.title,
                    "kind": stored.request.kind,
                    "threshold": threshold,
                    "expires_at": stored.request.expires_at,
                    "payload_bytes": size,
                }))
                .event()
        },
    };
    let stored = state.store.insert_review(&record_in, &audit).await?;
    let response = stored.request.clone();
    crate::notices::announce(&state, stored, |request| ReviewEvent::Created { request }).await;
    Ok((StatusCode::CREATED, Json(response)))
}

// ---- read

async fn list<S: Store>(
    State(state): State<AppState<S>>,
    principal: Principal,
    query_params: Result<Query<ReviewQuery>, QueryRejection>,
) -> Result<Json<Page<ReviewRequest>>, Error> {
    principal.require(Rule::ReviewsRead)?;
    let q = query(query_params)?;
    let before = cursor(q.cursor.as_deref(), |c| c.parse::<i64>().ok())?;
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
    let (records, next) = page_of(records, limit, |r| r.seq.to_string());
    let now = state.now();
    Ok(Json(Page { items: records.iter().map(|r| for_caller(&principal, r, now)).collect(), next }))
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
    principal.require(Rule::ReviewsRead)?;
    sweep(&state).await?;
    let rec = load_visible(&state, &principal, &id).await?;
    Ok(Json(for_caller(&principal, &rec, state.now())))
}

// ---- decide, cancel

async fn decide<S: Store>(
    State(state): State<AppState<S>>,
    principal: Principal,
    Path(id): Path<String>,
    body: Result<Body<Json<Decide>>, Error>,
) -> Result<Json<ReviewRequest>, Error> {
    principal.require(Rule::ReviewsDecide)?;
    let Body(Json(decide)) = body?;
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
    let voter = voter_of(&principal);
    let audit = TransitionAudit {
        now,
        change: |after: &ReviewRecord| {
            let r = &after.request;
            review_audit::by(&principal, now, "review.decide", &r.id)
                .detail(json!({
                    "verdict": decide.verdict,
                    "reason": reason,
                    "status": r.status.as_str(),
                    "approvals": r.approvals,
                    "threshold": r.threshold,
                }))
                .event()
        },
    };
    let rule = |rec: &ReviewRecord| rules::decide(&voter, decide.verdict, reason.as_deref(), rec, now);
    match state.store.decide_review(&id, now, &audit, rule).await? {
        VoteOutcome::Unknown => Err(not_found(&id)),
        VoteOutcome::Refused { refusal: Refusal::OwnRequest, .. } => {
            let refused = review_audit::by(&principal, now, "review.decide", &id)
                .outcome(codes::ACCESS_DENIED)
                .detail(json!({ "refused": "own request" }));
            audit::record(&state.store, refused).await?;
            Err(Error::forbidden(
                codes::ACCESS_DENIED,
                "You submitted this request (or own the agent that did): another reviewer must decide it",
            ))
        }
        VoteOutcome::Final { record: rec, expired_now } => Err(already_final(&state, rec, expired_now).await),
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
        VoteOutcome::Refused { refusal: Refusal::AskedOfAnother, record: rec } => {
            let asked = rec.request.asked_of.map(|a| a.name).unwrap_or_default();
            Err(Error::forbidden(
                codes::ACCESS_DENIED,
                format!("This request asks {asked} to decide it, and nobody else may"),
            ))
        }
        VoteOutcome::Refused { refusal: Refusal::NotPending | Refusal::Expired, record: rec } => {
            Err(already_final(&state, rec, false).await)
        }
        VoteOutcome::Recorded(rec) => {
            let response = for_caller(&principal, &rec, now);
            if rec.request.status.is_final() {
                crate::notices::announce(&state, rec, |request| ReviewEvent::Decided { request }).await;
            } else {
                crate::notices::announce(&state, rec, |request| ReviewEvent::Voted { request }).await;
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
    principal.require(Rule::ReviewsSubmit)?;
    let now = state.now();
    let audit = TransitionAudit {
        now,
        change: |after: &ReviewRecord| review_audit::by(&principal, now, "review.cancel", &after.request.id).event(),
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
        CancelOutcome::Final { record: rec, expired_now } => Err(already_final(&state, rec, expired_now).await),
        CancelOutcome::Cancelled(rec) => {
            let response = for_caller(&principal, &rec, now);
            crate::notices::announce(&state, rec, |request| ReviewEvent::Cancelled { request }).await;
            Ok(Json(response))
        }
    }
}

// ---- wait, live

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct WaitParams {
    /// Seconds to wait for a decision before answering the request as it is.
    timeout: Option<u64>,
}

async fn wait<S: Store>(
    State(state): State<AppState<S>>,
    principal: Principal,
    Path(id): Path<String>,
    params: Result<Query<WaitParams>, QueryRejection>,
) -> Result<Json<ReviewRequest>, Error> {
    principal.require(Rule::ReviewsRead)?;
    let _slot = state
        .reviews
        .admit("wait", &principal.id, WAITS_PER_PRINCIPAL)
        .map_err(|f| full(f, "waits", WAITS_PER_PRINCIPAL))?;
    let Query(params) = params.map_err(|_| Error::bad_request("timeout must be a whole number of seconds"))?;
    let timeout = Duration::from_secs(params.timeout.unwrap_or(DEFAULT_WAIT_SECS).min(MAX_WAIT_SECS));
    let deadline = tokio::time::Instant::now() + timeout;
    // Subscribe before reading, so a decision between the read and the wait is not missed.
    let mut rx = state.reviews.subscribe();
    sweep(&state).await?;
    let rec = load_visible(&state, &principal, &id).await?;
    if rec.request.status.is_final() {
        return Ok(Json(for_caller(&principal, &rec, state.now())));
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
    let rec = load_visible(&state, &principal, &id).await?;
    Ok(Json(for_caller(&principal, &rec, state.now())))
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

/// A stream or wait refused: the caller's share is taken (`429`), or the hub's (`503`).
fn full(f: Full, what: &str, per: usize) -> Error {
    match f {
        Full::Principal => {
            Error::rate_limited(format!("at most {per} {what} per caller are open at once; close one first"), 5)
        }
        Full::Hub => Error::unavailable(format!("the hub holds as many {what} as it can; try again shortly"), 5),
    }
}

struct Subscription<S> {
    rx: broadcast::Receiver<Published>,
    /// Replaying the kept events after this sequence number (read one at a time).
    replay: Option<u64>,
    /// The last sequence number sent or passed over: live events up to it were replayed.
    seen: u64,
    resync: bool,
    /// Counts this stream against the caller's share while it lives.
    _slot: Slot,
    state: AppState<S>,
    principal: Principal,
    /// The stream ends when the bearer JWT expires; the client reconnects with a fresh one.
    ends: tokio::time::Instant,
    /// The bearer JWT, judged again every [`RECHECK`]: the stream ends when its credential,
    /// session, agent or person is revoked or disabled.
    token: String,
    recheck: tokio::time::Interval,
    greeted: bool,
}

/// The SSE event of `p` as `principal` gets it: `may_decide` said for them.
fn sse_event<S>(state: &AppState<S>, principal: &Principal, p: &Published) -> Event {
    let mut event = p.event.clone();
    let request = event.request_mut();
    let rec = ReviewRecord { seq: 0, submitter_owner: p.owner.clone(), request: request.clone() };
    request.may_decide = for_caller(principal, &rec, state.now()).may_decide;
    let data = serde_json::to_string(&event).unwrap_or_default();
    Event::default().id(state.reviews.event_id(p.seq)).event(event_name(&p.event)).data(data)
}

/// How often an open event stream judges its bearer JWT again.
const RECHECK: Duration = Duration::from_secs(5);

/// `GET /api/reviews/events`: every transition the caller may see, as it happens. Honours
/// `Last-Event-ID` for the last 1024 events, read from the shared buffer as the client takes
/// them; sends `event: resync` when it cannot. At most 8 streams per caller (`429`).
async fn events<S: Store>(
    State(state): State<AppState<S>>,
    principal: Principal,
    headers: axum::http::HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Error> {
    principal.require(Rule::ReviewsRead)?;
    let left = u64::try_from(principal.exp.saturating_sub(state.now())).unwrap_or(0);
    let token = crate::http::bearer_token(&headers)?.to_owned();
    let last = headers.get("last-event-id").and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty());
    let slot = state
        .reviews
        .admit("sse", &principal.id, STREAMS_PER_PRINCIPAL)
        .map_err(|f| full(f, "event streams", STREAMS_PER_PRINCIPAL))?;
    let backlog = state.reviews.subscribe_after(last);
    let sub = Subscription {
        rx: backlog.rx,
        replay: backlog.replay_after,
        seen: backlog.replay_after.unwrap_or(0),
        resync: backlog.resync,
        _slot: slot,
        state: state.clone(),
        principal,
        ends: tokio::time::Instant::now() + Duration::from_secs(left),
        token,
        recheck: tokio::time::interval_at(tokio::time::Instant::now() + RECHECK, RECHECK),
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
        while let Some(at) = sub.replay {
            match sub.state.reviews.replay_after(at) {
                Replay::Next(p) => {
                    sub.replay = Some(p.seq);
                    sub.seen = p.seq;
                    if event_visible(&sub.principal, p.event.request(), p.owner.as_deref()) {
                        let event = sse_event(&sub.state, &sub.principal, &p);
                        return Some((Ok(event), sub));
                    }
                }
                Replay::UpToDate => sub.replay = None,
                // The client read slower than events passed through the buffer.
                Replay::Gone => {
                    sub.replay = None;
                    return Some((Ok(Event::default().event("resync").data("{}")), sub));
                }
            }
        }
        loop {
            tokio::select! {
                got = sub.rx.recv() => match got {
                    Ok(p) => {
                        if p.seq <= sub.seen || !event_visible(&sub.principal, p.event.request(), p.owner.as_deref()) {
                            continue;
                        }
                        let event = sse_event(&sub.state, &sub.principal, &p);
                        return Some((Ok(event), sub));
                    }
                    // A subscriber that fell behind is disconnected; it reconnects with
                    // Last-Event-ID and gets the rest (or `resync`).
                    Err(_) => return None,
                },
                _ = tokio::time::sleep_until(sub.ends) => return None,
                _ = sub.recheck.tick() => match crate::principal::live_claims(&sub.state, &sub.token).await {
                    // A database hiccup is no reason to drop a reader.
                    Err(e) if !e.is_internal() => return None,
                    _ => {}
                },
                _ = sub.state.reviews.stopping() => return None,
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

// ---- settings

async fn get_settings<S: Store>(
    State(state): State<AppState<S>>,
    principal: Principal,
) -> Result<Json<ReviewSettings>, Error> {
    principal.require(Rule::Anyone)?;
    Ok(Json(settings(&state).await?))
}

async fn put_settings<S: Store>(
    State(state): State<AppState<S>>,
    principal: Principal,
    body: Result<Body<Json<ReviewSettings>>, Error>,
) -> Result<Json<ReviewSettings>, Error> {
    // Management, as for credential settings: an admin with a short-lived user_admin JWT.
    principal.require(Rule::SettingsWrite)?;
    let Body(Json(new)) = body?;
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
    let changed = audit::Audit::by(&principal, state.now(), "review.settings")
        .target("settings", "reviews")
        .detail(json!({ "before": old, "after": new }))
        .event();
    let writes = Change::new().then(Write::PutReviewSettings(&new)).audit(&changed);
    apply(&state.store, &writes, |_, _| Error::Internal("the review settings were not stored".into())).await?;
    Ok(Json(new))
}
