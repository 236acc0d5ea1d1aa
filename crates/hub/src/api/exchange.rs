//! The exchange's routes: `POST /auth/exchange`, the RFC 8693 grant at `/oauth/token`,
//! `POST /auth/service-account/token`, `POST /auth/enroll`, and RFC 7662 `POST /oauth/introspect`.
//! The rules they apply are in `crate::credentials::exchange`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use keyway_api::auth::{Audience, TokenClass};
use keyway_api::codes;
use keyway_api::credentials::{
    CredentialKind, Enroll, ExchangeRequest, FINGERPRINT_HEADER, MintedSecret, TOKEN_TYPE_PAT,
};
use serde_json::{Value, json};
use subtle::ConstantTimeEq as _;

use crate::audit::Audit;
use crate::credentials::dead_reason;
use crate::credentials::exchange::{
    ExchangeAsk, ISSUED_TOKEN_TYPE, authenticate, exchange_credential, exchange_session, invalid_credential, refuse,
};
use crate::credentials::issue::{
    self, AgentChoice, DAY_SECS, Mint, Owner, agent_for, agent_name_taken, insert_if_new, validate_name,
};
use crate::error::Error;
use crate::http::{Body, Params, bearer_token, no_store};
use crate::notices::Notice;
use crate::pat::{CREDENTIAL_PREFIX, Token, letter};
use crate::policy::{Rule, reads_all};
use crate::principal::Principal;
use crate::routing::Routes;
use crate::state::AppState;
use crate::store::Store;
use crate::store::changes::{Applied, Change, Write};

/// RFC 8693 `subject_token_type` of a browser sign-in's access token.
const ACCESS_TOKEN_TYPE: &str = ISSUED_TOKEN_TYPE;

pub(crate) fn router<S: Store>() -> Routes<S> {
    Routes::new()
        .route("/auth/exchange", post(exchange::<S>))
        .route("/auth/enroll", post(enroll::<S>))
        .route("/auth/service-account/token", post(service_account_token::<S>))
        .route("/oauth/introspect", post(introspect::<S>))
}

/// The fingerprint header: 64 hex characters, or absent.
fn fingerprint(headers: &HeaderMap) -> Result<Option<&str>, Error> {
    let Some(value) = headers.get(FINGERPRINT_HEADER) else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(v) if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) => Ok(Some(v)),
        _ => Err(Error::bad_request(format!("{FINGERPRINT_HEADER} must be 64 hexadecimal characters (SHA-256)"))),
    }
}

/// `POST /auth/exchange`.
async fn exchange<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Body(Json(body)): Body<Json<ExchangeRequest>>,
) -> Result<Response, Error> {
    let raw = bearer_token(&headers)?;
    let fp = fingerprint(&headers)?;
    let ask = ExchangeAsk::from(body);
    let out = if raw.starts_with(CREDENTIAL_PREFIX) {
        exchange_credential(&state, raw, &ask, fp).await?
    } else {
        exchange_session(&state, raw, &ask).await?
    };
    Ok(no_store(Json(out).into_response()))
}

/// RFC 8693 token exchange at `/oauth/token` (`subject_token` = a PAT, or a browser sign-in's
/// access token with `subject_token_type` access_token; `requested_token_class` extra
/// parameter, default: the credential's first class).
pub(crate) async fn token_exchange_grant<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Response, Error> {
    let subject = params.require("subject_token")?;
    let subject_type = params.require("subject_token_type")?;
    let fp = fingerprint(headers)?;
    let class = match params.get("requested_token_class") {
        Some(c) => Some(TokenClass::parse(c).ok_or_else(|| {
            Error::invalid_request(format!(
                "unknown requested_token_class '{}'",
                c.chars().take(40).collect::<String>()
            ))
        })?),
        None => None,
    };
    let audience = match params.get("audience") {
        Some(a) => {
            Some(Audience::parse(a).ok_or_else(|| Error::invalid_request("audience must be 'cli', 'mcp' or 'both'"))?)
        }
        None => None,
    };
    let ask = |default: TokenClass| ExchangeAsk {
        class: class.unwrap_or(default),
        scope: params.get("scope").map(str::to_owned),
        audience,
        agent_id: params.get("agent_id").map(str::to_owned),
    };
    let out = match subject_type {
        TOKEN_TYPE_PAT => {
            let default = match Token::parse(subject).map(|t| t.kind()) {
                Ok(CredentialKind::AgentPat) => TokenClass::AgentAccess,
                Ok(CredentialKind::ServiceToken) => TokenClass::ServiceAccess,
                _ => TokenClass::UserAccess,
            };
            exchange_credential(state, subject, &ask(default), fp).await?
        }
        ACCESS_TOKEN_TYPE => exchange_session(state, subject, &ask(TokenClass::UserAdmin)).await?,
        _ => {
            return Err(Error::invalid_request(format!(
                "subject_token_type must be {TOKEN_TYPE_PAT} or {ACCESS_TOKEN_TYPE}"
            )));
        }
    };
    Ok(no_store(Json(out).into_response()))
}

/// `POST /auth/service-account/token`: `Authorization: Basic base64(name:token)`.
async fn service_account_token<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Error> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, v)| v.trim())
        .ok_or_else(|| {
            Error::api(
                StatusCode::UNAUTHORIZED,
                codes::INVALID_CREDENTIAL,
                "send the service account as 'Authorization: Basic base64(name:token)'",
            )
        })?;
    let decoded = STANDARD.decode(value).ok().and_then(|b| String::from_utf8(b).ok());
    let Some((name, raw)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
        return Err(Error::bad_request("the Basic credentials must be base64 of 'name:token'"));
    };
    let ask = if body.is_empty() {
        ExchangeAsk { class: TokenClass::ServiceAccess, scope: None, audience: None, agent_id: None }
    } else {
        let req: ExchangeRequest = serde_json::from_slice(&body)
            .map_err(|e| Error::bad_request(format!("the request body is not valid: {e}")))?;
        ExchangeAsk::from(req)
    };
    let fp = fingerprint(&headers)?;
    let sa = state.store.service_account_by_name(name).await?;
    let belongs = match (&sa, Token::parse(raw)) {
        (Some(sa), Ok(t)) => match state.credentials.cache.get(&state.store, &t.public_id()).await? {
            Some(live) => live.record.service_account_id.as_deref() == Some(sa.id.as_str()),
            None => false,
        },
        _ => false,
    };
    if !belongs {
        // Still goes through `authenticate` so the real reason is audited.
        if Token::parse(raw).is_err() || sa.is_none() {
            let reason = if sa.is_none() { "unknown_service_account" } else { "malformed" };
            return Err(refuse(&state, None, None, reason, invalid_credential()).await);
        }
        return Err(refuse(&state, None, None, "token_of_another_account", invalid_credential()).await);
    }
    let out = exchange_credential(&state, raw, &ask, fp).await?;
    Ok(no_store(Json(out).into_response()))
}

/// `POST /auth/enroll`: `Authorization: Bearer kwp_e_…`; creates or names the agent and
/// returns its new PAT. The enrollment token is used up.
async fn enroll<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Body(Json(body)): Body<Json<Enroll>>,
) -> Result<Response, Error> {
    let raw = bearer_token(&headers)?;
    let (_, live) = authenticate(&state, raw).await?;
    let c = live.record.clone();
    if c.kind != CredentialKind::Enrollment {
        let err = Error::unprocessable(
            codes::CLASS_NOT_ALLOWED,
            format!("PAT class '{}' cannot enroll an agent: use an enrollment token (kwp_e_…)", letter(c.kind)),
        );
        return Err(refuse(&state, Some(&live.record), Some(&c.id), "not_enrollment", err).await);
    }
    let name = match (c.enroll_agent_name.as_deref(), body.agent_name.as_deref().map(str::trim)) {
        (Some(fixed), None) => fixed.to_owned(),
        (Some(fixed), Some(asked)) if asked.eq_ignore_ascii_case(fixed) => fixed.to_owned(),
        (Some(fixed), Some(_)) => {
            return Err(Error::unprocessable(
                codes::VALIDATION_FAILED,
                format!("this enrollment token is for the agent '{fixed}'"),
            ));
        }
        (None, Some(asked)) => asked.to_owned(),
        (None, None) => {
            return Err(Error::unprocessable(codes::VALIDATION_FAILED, "agent_name is required: name your agent"));
        }
    };
    validate_name(&name, "agent name")?;
    let now = state.now();
    let owner = Owner { id: c.owner_id.clone(), name: c.owner_name.clone() };
    let agent = agent_for(&state.store, now, &owner, &name, true).await?;
    // Enrollment makes a new agent only: an existing one (enabled or not) is never taken over,
    // and the token is not used up by the refusal.
    if let AgentChoice::Found(existing) = &agent {
        return Err(issue::enrollment_agent_exists(&existing.name));
    }
    let days = c.enroll_pat_days.unwrap_or(state.store.credential_settings().await?.default_pat_days);
    let a = agent.record();
    let minted = issue::mint(
        now,
        Mint {
            owner: &owner,
            kind: CredentialKind::AgentPat,
            agent: Some(a),
            service_account: None,
            name: a.name.clone(),
            audience: c.audience,
            scopes: c.scopes.clone(),
            expires_at: Some(now.saturating_add(i64::from(days) * DAY_SECS)),
        },
    );
    let created = agent.created_event(Audit::by_user(&owner.id, &owner.name, now, "agent.create"));
    let redeemed = Audit::by_agent(&a.id, &a.name, now, "enrollment.redeem")
        .target("credential", &c.id)
        .detail(json!({ "agent_pat": minted.record.id, "owner": c.owner_id }))
        .event();
    let minted_event = Audit::by_agent(&a.id, &a.name, now, "pat.mint")
        .target("credential", &minted.record.id)
        .detail(json!({ "kind": "agent_pat", "via": "enrollment" }))
        .event();
    // One transaction: the token is used up only if the agent and its PAT are made.
    let redeem = Change::new().then(Write::RedeemEnrollment { id: &c.id, now });
    let writes = insert_if_new(redeem, Some(&agent), created.as_ref())
        .then(Write::InsertCredential(&minted.record))
        .audit(&redeemed)
        .audit(&minted_event);
    let applied = state.store.apply(&writes).await?;
    crate::notices::changed(&state, &[Notice::Credential(&c.id)]).await;
    match applied {
        Applied::Done => {}
        Applied::Stopped { at: 0, .. } => {
            return Err(refuse(&state, Some(&live.record), Some(&c.id), "used", invalid_credential()).await);
        }
        Applied::Stopped { .. } => return Err(agent_name_taken(&a.name)),
    }
    let out: MintedSecret = minted.secret;
    Ok(no_store((StatusCode::CREATED, Json(out)).into_response()))
}

/// `POST /oauth/introspect` (RFC 7662), for a caller with a bearer JWT. Tokens the caller may
/// not see (not its own, its agents', or — for admins and auditors — anyone's) are reported
/// `active: false`, like dead ones.
async fn introspect<S: Store>(
    State(state): State<AppState<S>>,
    principal: Principal,
    Body(params): Body<Params>,
) -> Result<Response, Error> {
    params.reject_duplicates()?;
    let token = params.require("token")?;
    principal.require(Rule::Anyone)?;
    let sees_all = reads_all(&principal);
    let may_see = |sub: &str, owner: Option<&str>| sees_all || sub == principal.id || owner == Some(&principal.id);
    let inactive = || Ok(no_store(Json(json!({ "active": false })).into_response()));
    let now = state.now();
    let body: Value = if token.starts_with(CREDENTIAL_PREFIX) {
        let Ok(t) = Token::parse(token) else { return inactive() };
        let Some(live) = state.credentials.cache.get(&state.store, &t.public_id()).await? else {
            return inactive();
        };
        let c = &live.record;
        let same: bool = t.hash().as_bytes().ct_eq(c.secret_hash.as_bytes()).into();
        if !same || dead_reason(&live.record, now).is_some() || !may_see(&c.owner_id, None) {
            return inactive();
        }
        json!({
            "active": true,
            "token_type": c.kind.as_str(),
            "cred": c.id,
            "sub": c.agent_id.clone().or(c.service_account_id.clone()).unwrap_or(c.owner_id.clone()),
            "owner": c.owner_id,
            "username": c.agent_name.clone().or(c.service_account_name.clone()).unwrap_or(c.owner_name.clone()),
            "scope": c.scopes.join(" "),
            "audience": c.audience.as_str(),
            "iat": c.created_at,
            "exp": c.expires_at,
            "iss": state.issuer,
        })
    } else {
        // Live as the resource routes judge it: a JWT whose credential, agent or person is
        // revoked or disabled is inactive.
        let claims = match crate::principal::live_claims(&state, token).await {
            Ok((c, _)) => c,
            Err(e) if e.is_internal() => return Err(e),
            Err(_) => return inactive(),
        };
        if !may_see(&claims.sub, claims.owner.as_deref()) {
            return inactive();
        }
        let scope = claims.scopes().join(" ");
        json!({
            "active": true,
            "token_type": "Bearer",
            "scope": scope,
            "client_id": claims.client_id,
            "username": claims.preferred_username,
            "sub": claims.sub,
            "aud": claims.aud,
            "iss": claims.iss,
            "exp": claims.exp,
            "iat": claims.iat,
            "nbf": claims.nbf,
            "jti": claims.jti,
            "token_class": claims.token_class,
            "principal": claims.principal,
            "owner": claims.owner,
            "cred": claims.cred,
        })
    };
    Ok(no_store(Json(body).into_response()))
}
