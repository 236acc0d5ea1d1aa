//! Approvals that mint the token: OpenID CIBA in poll mode, with RFC 9396
//! `authorization_details`.
//!
//! An agent, authenticated by its own `agent_access` JWT, asks at `POST /oauth/bc-authorize` for
//! exactly what it wants to do. That becomes a review request of kind `authorization` (its
//! payload the details), live in the queue like any other, decided by the queue's rules (a
//! `login_hint` names the one reviewer who may decide it). The agent polls the token endpoint
//! with the CIBA grant and, once the threshold of approvals is met, gets a JWT of at most five
//! minutes whose `authorization_details` claim is what was approved, once, audited.

use axum::Json;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use keyway_api::auth::{PrincipalKind, TokenClass};
use keyway_api::ciba::{self as wire, ApprovalToken, BackchannelAuthorization};
use keyway_api::reviews::{Actor, ContentType, ReviewEvent, SubmitReview};
use keyway_api::{Role, codes};
use serde_json::{Value, json};

use super::resource;
use crate::access_token::{self, Grant};
use crate::error::Error;
use crate::http::{Params, bearer_token, no_store};
use crate::policy::Rule;
use crate::principal::{Principal, live_claims};
use crate::reviews::audit::{TransitionAudit, by as review_audit};
use crate::reviews::submission;
use crate::secret::AuthReqId;
use crate::state::AppState;
use crate::store::ciba::{Minted, Step};
use crate::store::{CibaPoll, CibaRecord, ReviewRecord, Store};
use crate::throttle::count;

/// Backchannel requests one agent may make in [`crate::throttle::WINDOW_SECS`].
const REQUESTS_PER_AGENT: u32 = 60;

/// The agent behind the request's bearer JWT: CIBA needs an authenticated client, and here the
/// client is the agent itself (a raw PAT stays at `/auth/exchange`).
async fn agent<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
) -> Result<(Principal, Option<String>, String), Error> {
    let unauthenticated = |why: &str| {
        Error::oauth(codes::INVALID_CLIENT, format!("{why}: send the agent's agent_access JWT as a bearer token"))
    };
    let token = bearer_token(headers).map_err(|_| unauthenticated("no bearer token"))?;
    let (claims, principal) = live_claims(state, token).await.map_err(|e| unauthenticated(&e.to_string()))?;
    if principal.kind != PrincipalKind::Agent || principal.class != TokenClass::AgentAccess {
        return Err(Error::oauth(
            codes::UNAUTHORIZED_CLIENT,
            "only an agent's agent_access JWT may ask for an approval here; people submit reviews at /api/reviews",
        ));
    }
    Ok((principal, claims.cred, claims.client_id))
}

/// The scopes the minted token asks for: among the agent's own (`openid` is accepted and
/// dropped: the token's subject is the agent, so there is no ID token).
fn scopes_of(p: &Principal, asked: Option<&str>) -> Result<String, Error> {
    let mut scopes: Vec<&str> = Vec::new();
    for s in asked.unwrap_or("").split(' ').filter(|s| !s.is_empty() && *s != "openid") {
        if !p.has_scope(s) {
            return Err(Error::oauth(codes::INVALID_SCOPE, format!("scope '{s}' is not one this agent's token holds")));
        }
        if !scopes.contains(&s) {
            scopes.push(s);
        }
    }
    Ok(scopes.join(" "))
}

/// The reviewer `login_hint` names: an enabled person with the reviewer role, who is not the
/// agent's owner (who may never approve their own agent's requests).
async fn reviewer<S: Store>(state: &AppState<S>, agent: &Principal, hint: &str) -> Result<Actor, Error> {
    let unknown = || {
        Error::oauth(
            codes::UNKNOWN_USER_ID,
            format!("login_hint '{hint}' names no reviewer who may decide this request"),
        )
    };
    let user = state.store.user_by_name(hint.trim()).await?.ok_or_else(unknown)?;
    if !user.is_active() || !user.roles.contains(&Role::Reviewer) || agent.owner.as_deref() == Some(user.id.as_str()) {
        return Err(unknown());
    }
    Ok(Actor { kind: PrincipalKind::User, id: user.id, name: user.username })
}

fn title_of(binding_message: Option<&str>, details: &Value) -> String {
    if let Some(message) = binding_message {
        return message.trim().to_owned();
    }
    let types: Vec<&str> =
        details.as_array().into_iter().flatten().filter_map(|d| d.get("type").and_then(Value::as_str)).collect();
    let title = format!("Authorization for {}", types.join(", "));
    title.chars().take(keyway_api::reviews::MAX_TITLE_CHARS).collect()
}

/// `POST /oauth/bc-authorize` (CIBA Core §7): a review request whose approval mints the token.
pub(crate) async fn bc_authorize<S: Store>(
    axum::extract::State(state): axum::extract::State<AppState<S>>,
    headers: HeaderMap,
    body: Result<crate::http::Body<Params>, Error>,
) -> Result<Response, Error> {
    // Who asks comes first: nobody else learns anything from how the body is refused.
    let (principal, cred, client_id) = agent(&state, &headers).await?;
    principal.require(Rule::ReviewsSubmit).map_err(|e| Error::oauth(codes::UNAUTHORIZED_CLIENT, e.to_string()))?;
    let crate::http::Body(params) = body?;
    params.reject_duplicates()?;
    for unsupported in ["login_hint_token", "id_token_hint", "request", "request_uri", "user_code"] {
        if params.get(unsupported).is_some() {
            return Err(Error::invalid_request(format!(
                "{unsupported} is not supported: name a reviewer with login_hint"
            )));
        }
    }
    if params.get("client_notification_token").is_some() {
        return Err(Error::invalid_request("only poll mode is supported: leave out client_notification_token"));
    }
    let raw = params.get("authorization_details").ok_or_else(|| {
        Error::oauth(codes::INVALID_AUTHORIZATION_DETAILS, "authorization_details is required: what is to be approved")
    })?;
    let details: Value = serde_json::from_str(raw).map_err(|e| {
        Error::oauth(codes::INVALID_AUTHORIZATION_DETAILS, format!("authorization_details is not JSON: {e}"))
    })?;
    if let Some(problem) = wire::details_problem(&details) {
        return Err(Error::oauth(codes::INVALID_AUTHORIZATION_DETAILS, problem));
    }
    let binding_message = params.get("binding_message");
    if let Some(problem) = binding_message.and_then(wire::binding_message_problem) {
        return Err(Error::oauth(codes::INVALID_BINDING_MESSAGE, problem));
    }
    let scope = scopes_of(&principal, params.get("scope"))?;
    let audience = resource::audience(&state, params.get("resource")).await?;
    let asked_of = match params.get("login_hint") {
        Some(hint) => Some(reviewer(&state, &principal, hint).await?),
        None => None,
    };
    let number = |name: &str| -> Result<Option<u64>, Error> {
        params
            .get(name)
            .map(|v| v.parse::<u64>().map_err(|_| Error::invalid_request(format!("{name} must be a whole number"))))
            .transpose()
    };
    let submission = SubmitReview {
        title: title_of(binding_message, &details),
        kind: None,
        payload: details.clone(),
        content_type: Some(ContentType::Json),
        links: Vec::new(),
        ttl_secs: number("requested_expiry")?,
        threshold: number("threshold")?.map(|t| u32::try_from(t).unwrap_or(u32::MAX)),
    };
    let (mut record, _) =
        submission::check(&state, &principal, submission).await.map_err(|e| Error::invalid_request(e.to_string()))?;
    count(&state, &format!("ciba:{}", principal.id), REQUESTS_PER_AGENT, "backchannel requests").await?;
    record.request.kind = wire::REVIEW_KIND.to_owned();
    record.request.asked_of = asked_of;
    let now = record.request.created_at;
    let auth_req_id = AuthReqId::generate();
    let ciba = CibaRecord {
        auth_req_id_hash: auth_req_id.hash(),
        review_id: record.request.id.clone(),
        agent_id: principal.id.clone(),
        client_id,
        cred,
        scope,
        resource: audience,
        details,
        created_at: now,
        expires_at: record.request.expires_at,
        interval_secs: i64::try_from(wire::INTERVAL_SECS).unwrap_or(5),
        last_polled_at: None,
        issued_at: None,
        issued_jti: None,
    };
    let audit = TransitionAudit {
        now,
        change: |stored: &ReviewRecord| {
            let r = &stored.request;
            review_audit(&principal, now, "review.submit", &r.id)
                .detail(json!({
                    "title": r.title,
                    "kind": r.kind,
                    "threshold": r.threshold,
                    "expires_at": r.expires_at,
                    "backchannel": true,
                    "asked_of": r.asked_of.as_ref().map(|a| a.name.as_str()),
                    "resource": ciba.resource,
                }))
                .event()
        },
    };
    let stored = state.store.insert_ciba(&record, &ciba, &audit).await?;
    tracing::info!(agent = %principal.id, review = %stored.request.id, "backchannel request queued");
    let body = BackchannelAuthorization {
        auth_req_id: auth_req_id.expose().to_owned(),
        expires_in: u64::try_from(stored.request.expires_at - now).unwrap_or(0),
        interval: wire::INTERVAL_SECS,
        review_id: stored.request.id.clone(),
    };
    crate::notices::announce(&state, stored, |request| ReviewEvent::Created { request }).await;
    Ok(no_store(Json(body).into_response()))
}

/// The token endpoint's CIBA grant (CIBA Core §10): the agent that asked polls with its own JWT.
pub(crate) async fn grant<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Response, Error> {
    let (principal, _, _) = agent(state, headers).await?;
    let auth_req_id = AuthReqId::from_wire(params.require("auth_req_id")?.to_owned());
    let now = state.now();
    let ttl = i64::try_from(wire::TOKEN_TTL_SECS).unwrap_or(300);
    let mint = |ciba: &CibaRecord, review: &ReviewRecord| -> Result<Minted<(String, i64)>, &'static str> {
        let grant = Grant {
            class: TokenClass::AgentAccess,
            sub: &principal.id,
            name: &principal.name,
            owner: principal.owner.as_deref(),
            roles: &principal.roles,
            scope: ciba.scope.clone(),
            client_id: &ciba.client_id,
            sid: None,
            auth_time: None,
            cred: ciba.cred.as_deref(),
            ttl_secs: ttl,
            not_after: None,
        };
        let audience = ciba.resource.as_deref().unwrap_or(access_token::AUDIENCE);
        let (jwt, claims) = access_token::issue_approved(state, grant, audience, Some(ciba.details.clone()), now)
            .map_err(|_| "the token could not be signed")?;
        let approvers: Vec<&str> = review
            .request
            .decisions
            .iter()
            .filter(|d| d.verdict == keyway_api::reviews::Verdict::Approve)
            .filter_map(|d| d.actor.as_ref().map(|a| a.name.as_str()))
            .collect();
        let audit = review_audit(&principal, now, "review.token_issued", &review.request.id)
            .detail(json!({ "jti": claims.jti, "aud": claims.aud, "exp": claims.exp, "approved_by": approvers }))
            .event();
        Ok(((jwt, claims.exp), claims.jti, audit))
    };
    let outcome = state.store.poll_ciba(&auth_req_id.hash(), &principal.id, now, mint).await?;
    let (ciba, review, (access_token, exp)) = match outcome {
        CibaPoll::Issued { ciba, review, token } => (ciba, review, token),
        CibaPoll::Unknown | CibaPoll::NotYours => return Err(Error::invalid_grant("the auth_req_id is invalid")),
        CibaPoll::Refused(reason) => return Err(Error::invalid_grant(reason)),
        CibaPoll::Answered(step) => return Err(refusal(step)),
    };
    tracing::info!(agent = %principal.id, review = %review.request.id, "issued the token of an approval");
    let body = ApprovalToken {
        access_token,
        token_type: "Bearer".to_owned(),
        expires_in: u64::try_from(exp - now).unwrap_or(0),
        authorization_details: ciba.details,
        scope: (!ciba.scope.is_empty()).then_some(ciba.scope),
    };
    Ok(no_store(Json(body).into_response()))
}

/// The standard error of a poll that issues nothing (CIBA Core §11).
fn refusal(step: Step) -> Error {
    match step {
        Step::Pending { slow_down: true } => {
            Error::oauth(codes::SLOW_DOWN, "polling too fast: wait 5 seconds more between polls")
        }
        Step::Pending { slow_down: false } => {
            Error::oauth(codes::AUTHORIZATION_PENDING, "the request is not approved yet")
        }
        Step::Expired => Error::oauth(codes::EXPIRED_TOKEN, "the request expired before it was approved and redeemed"),
        Step::Rejected(reason) => Error::oauth(
            codes::ACCESS_DENIED,
            match reason {
                Some(reason) => format!("a reviewer rejected the request: {reason}"),
                None => "a reviewer rejected the request".to_owned(),
            },
        ),
        Step::Cancelled => Error::oauth(codes::ACCESS_DENIED, "the request was cancelled"),
        Step::Used | Step::Issue => Error::invalid_grant("the approval was already redeemed: ask again"),
    }
}
