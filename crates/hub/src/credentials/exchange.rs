//! The exchange: `POST /auth/exchange`, the RFC 8693 grant at `/oauth/token`,
//! `POST /auth/service-account/token`, `POST /auth/enroll`, and RFC 7662 `POST /oauth/introspect`.

use std::borrow::Cow;
use std::sync::Arc;

use axum::Json;
use axum::Router;
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
    CredentialKind, Enroll, ExchangeRequest, ExchangeResponse, FINGERPRINT_HEADER, MintedSecret, TOKEN_TYPE_PAT,
};
use keyway_api::{DESKTOP_CLIENT_ID, Role};
use serde_json::{Value, json};
use subtle::ConstantTimeEq as _;

use super::{Live, dead_reason, surface};
use crate::auth::{JsonBody, Principal, record};
use crate::error::Error;
use crate::jwt;
use crate::oauth::token::AccessClaims;
use crate::oauth::userinfo::{bearer_token, validate_access_token};
use crate::oauth::{ACCESS_TOKEN_AUDIENCE, AppState, FormParams, no_store};
use crate::pat::{Token, letter};
use crate::secret::random_id;
use crate::store::{AuditEvent, Store};

/// RFC 8693 `issued_token_type` of every exchanged JWT.
pub(crate) const ISSUED_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
const ACCESS_TOKEN_TYPE: &str = ISSUED_TOKEN_TYPE;

pub(crate) fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/auth/exchange", post(exchange::<S>))
        .route("/auth/enroll", post(enroll::<S>))
        .route("/auth/service-account/token", post(service_account_token::<S>))
        .route("/oauth/introspect", post(introspect::<S>))
}

/// The one answer for every unusable credential: revoked, expired, unknown, mistyped, disabled.
pub(crate) fn invalid_credential() -> Error {
    Error::api(
        StatusCode::UNAUTHORIZED,
        codes::INVALID_CREDENTIAL,
        "The credential is invalid, expired or revoked. Check it, and that you are talking to the right hub.",
    )
}

/// An exchange request, from JSON or from RFC 8693 form parameters.
#[derive(Debug)]
pub(crate) struct Ask {
    pub(crate) class: TokenClass,
    pub(crate) scope: Option<String>,
    pub(crate) audience: Option<Audience>,
    pub(crate) agent_id: Option<String>,
}

impl From<ExchangeRequest> for Ask {
    fn from(r: ExchangeRequest) -> Ask {
        Ask { class: r.requested_token_class, scope: r.scope, audience: r.audience, agent_id: r.agent_id }
    }
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

/// Audits a refused exchange and returns the refusal.
async fn refuse<S: Store>(
    state: &AppState<S>,
    live: Option<&Live>,
    public_id: Option<&str>,
    reason: &str,
    err: Error,
) -> Error {
    let (actor_kind, actor_id, actor_name) = match live {
        Some(l) => match l.record.kind {
            CredentialKind::AgentPat => ("agent", l.record.agent_id.clone(), l.record.agent_name.clone()),
            CredentialKind::ServiceToken => {
                ("service_account", l.record.service_account_id.clone(), l.record.service_account_name.clone())
            }
            _ => ("user", Some(l.record.owner_id.clone()), Some(l.record.owner_name.clone())),
        },
        None => ("anonymous", None, None),
    };
    let event = AuditEvent {
        id: 0,
        at: state.now(),
        actor_kind: actor_kind.to_owned(),
        actor_id,
        actor_name,
        action: "exchange.refused".to_owned(),
        target_kind: Some("credential".to_owned()),
        target_id: public_id.map(str::to_owned),
        outcome: err.code().to_owned(),
        detail: json!({ "reason": reason }),
    };
    if let Err(e) = record(state, event).await {
        return e;
    }
    err
}

/// Resolves a raw token to its live credential, or `invalid_credential` (audited with the real
/// reason).
pub(crate) async fn authenticate<S: Store>(state: &AppState<S>, raw: &str) -> Result<(Token, Arc<Live>), Error> {
    let token = match Token::parse(raw) {
        Ok(t) => t,
        Err(e) => return Err(refuse(state, None, None, &format!("malformed: {e}"), invalid_credential()).await),
    };
    let id = token.public_id();
    let Some(live) = state.credentials.cache.get(&state.store, &id).await? else {
        return Err(refuse(state, None, Some(&id), "unknown", invalid_credential()).await);
    };
    let hash = token.hash();
    let same: bool = hash.as_bytes().ct_eq(live.hash().as_bytes()).into();
    if !same || live.record.kind != token.kind() {
        return Err(refuse(state, None, Some(&id), "secret_mismatch", invalid_credential()).await);
    }
    if let Some(reason) = dead_reason(&live, state.now()) {
        return Err(refuse(state, Some(&live), Some(&id), reason, invalid_credential()).await);
    }
    Ok((token, live))
}

fn classes_of(kind: CredentialKind) -> &'static [TokenClass] {
    match kind {
        CredentialKind::UserPat => &[TokenClass::UserAccess, TokenClass::UserAdmin],
        CredentialKind::AgentPat => &[TokenClass::AgentAccess],
        CredentialKind::ServiceToken => &[TokenClass::ServiceAccess],
        CredentialKind::Enrollment => &[],
    }
}

fn class_list(classes: &[TokenClass]) -> String {
    if classes.is_empty() {
        return "nothing (redeem it at /auth/enroll)".to_owned();
    }
    classes.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
}

/// The scopes to grant: the requested ones (all in the class allowlist and in `held`), or by
/// default every scope of `held` the class allows.
pub(crate) fn grant_scopes(class: TokenClass, requested: Option<&str>, held: &[String]) -> Result<Vec<String>, Error> {
    let allowed = class.allowed_scopes();
    let Some(requested) = requested.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(allowed.iter().filter(|s| held.iter().any(|h| h == *s)).map(|s| (*s).to_owned()).collect());
    };
    let mut out: Vec<String> = Vec::new();
    let mut refused: Vec<&str> = Vec::new();
    for s in requested.split_ascii_whitespace() {
        if !allowed.contains(&s) || !held.iter().any(|h| h == s) {
            if !refused.contains(&s) {
                refused.push(s);
            }
        } else if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    if !refused.is_empty() {
        let shown: Vec<String> = refused.iter().map(|s| s.chars().take(64).collect()).collect();
        return Err(Error::unprocessable(
            codes::SCOPE_NOT_ALLOWED,
            format!("Scopes not allowed for {class}: [{}]", shown.join(", ")),
        ));
    }
    Ok(out)
}

/// Signs a JWT of `class` for the principal and returns the exchange answer.
#[allow(clippy::too_many_arguments, reason = "every field of the JWT is a parameter")]
pub(crate) fn issue<S>(
    state: &AppState<S>,
    class: TokenClass,
    sub: &str,
    name: &str,
    owner: Option<&str>,
    roles: &[Role],
    scopes: &[String],
    cred: Option<&str>,
    sid: Option<&str>,
    not_after: Option<i64>,
) -> Result<ExchangeResponse, Error> {
    let now = state.now();
    let mut exp = now.saturating_add(class.ttl_secs());
    if let Some(limit) = not_after {
        exp = exp.min(limit);
    }
    let scope = scopes.join(" ");
    let claims = AccessClaims {
        iss: state.issuer.clone(),
        sub: sub.to_owned(),
        aud: ACCESS_TOKEN_AUDIENCE.to_owned(),
        exp,
        iat: now,
        nbf: now,
        jti: random_id(),
        client_id: DESKTOP_CLIENT_ID.to_owned(),
        scope: scope.clone(),
        roles: roles.iter().map(|r| r.as_str().to_owned()).collect(),
        preferred_username: name.to_owned(),
        sid: sid.map(str::to_owned),
        auth_time: None,
        token_class: class,
        principal: class.principal(),
        owner: owner.map(str::to_owned),
        cred: cred.map(str::to_owned),
    };
    let access_token = jwt::sign(&state.keys, jwt::TYP_ACCESS, &claims)?;
    Ok(ExchangeResponse {
        access_token,
        token_type: "Bearer".to_owned(),
        expires_in: u64::try_from(exp.saturating_sub(now)).unwrap_or(0),
        token_class: class,
        scope,
        issued_token_type: ISSUED_TOKEN_TYPE.to_owned(),
    })
}

/// Exchanges a raw PAT or service token for a JWT, applying every rule of the class table.
pub(crate) async fn exchange_credential<S: Store>(
    state: &AppState<S>,
    raw: &str,
    ask: &Ask,
    fp: Option<&str>,
) -> Result<ExchangeResponse, Error> {
    let (token, live) = authenticate(state, raw).await?;
    let c = &live.record;
    let id = c.id.as_str();
    let allowed = classes_of(c.kind);
    if !allowed.contains(&ask.class) {
        let err = Error::unprocessable(
            codes::CLASS_NOT_ALLOWED,
            format!(
                "PAT class '{}' cannot exchange for '{}' (it can exchange for: {})",
                letter(token.kind()),
                ask.class,
                class_list(allowed)
            ),
        );
        return Err(refuse(state, Some(&live), Some(id), "class", err).await);
    }
    let from = surface(ask.audience);
    if !c.audience.allows(from) {
        let err = Error::forbidden(
            codes::AUDIENCE_NOT_ALLOWED,
            format!("PAT audience is '{}', and this request comes from '{}'", c.audience.as_str(), from.as_str()),
        );
        return Err(refuse(state, Some(&live), Some(id), "audience", err).await);
    }
    if let Some(agent) = ask.agent_id.as_deref() {
        let bound = c.kind == CredentialKind::AgentPat
            && (c.agent_id.as_deref() == Some(agent)
                || c.agent_name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(agent)));
        if !bound {
            let message = if c.kind == CredentialKind::AgentPat {
                "agent_id does not match bound agent"
            } else {
                "agent_id was given, but this is not an agent PAT: a user PAT cannot act as an agent"
            };
            let err = Error::forbidden(codes::BINDING_NOT_ALLOWED, message);
            return Err(refuse(state, Some(&live), Some(id), "binding", err).await);
        }
    }
    let scopes = match grant_scopes(ask.class, ask.scope.as_deref(), &c.scopes) {
        Ok(s) => s,
        Err(err) => return Err(refuse(state, Some(&live), Some(id), "scope", err).await),
    };
    let response = match c.kind {
        CredentialKind::AgentPat => {
            let agent_id = c.agent_id.as_deref().unwrap_or_default();
            let agent_name = c.agent_name.as_deref().unwrap_or_default();
            issue(
                state,
                ask.class,
                agent_id,
                agent_name,
                Some(&c.owner_id),
                &[],
                &scopes,
                Some(id),
                None,
                c.expires_at,
            )?
        }
        CredentialKind::ServiceToken => {
            let sa_id = c.service_account_id.as_deref().unwrap_or_default();
            let sa_name = c.service_account_name.as_deref().unwrap_or_default();
            let roles: Vec<Role> = c.service_account_group.into_iter().collect();
            issue(state, ask.class, sa_id, sa_name, None, &roles, &scopes, Some(id), None, c.expires_at)?
        }
        _ => issue(
            state,
            ask.class,
            &c.owner_id,
            &c.owner_name,
            None,
            &live.owner_roles,
            &scopes,
            Some(id),
            None,
            c.expires_at,
        )?,
    };
    state.credentials.usage.record(id, state.now(), fp);
    Ok(response)
}

/// A browser sign-in's access token exchanged for `user_admin` (or a fresh `user_access`):
/// how the desktop app and a browser-signed-in CLI act as admin only when the person acts.
async fn exchange_session<S: Store>(state: &AppState<S>, jwt: &str, ask: &Ask) -> Result<ExchangeResponse, Error> {
    let claims = match validate_access_token(state, jwt).await {
        Ok(c) => c,
        Err(e) if e.is_internal() => return Err(e),
        Err(_) => return Err(refuse(state, None, None, "invalid_jwt", invalid_credential()).await),
    };
    let Some(sid) = claims.sid.clone().filter(|_| claims.token_class == TokenClass::UserAccess) else {
        let err = invalid_credential();
        return Err(refuse(state, None, None, "not_a_sign_in_token", err).await);
    };
    let Some(user) = state.store.user_by_id(&claims.sub).await? else {
        return Err(refuse(state, None, None, "user_gone", invalid_credential()).await);
    };
    if !matches!(ask.class, TokenClass::UserAccess | TokenClass::UserAdmin) {
        let err = Error::unprocessable(
            codes::CLASS_NOT_ALLOWED,
            format!(
                "A browser sign-in cannot exchange for '{}' (it can exchange for: user_access, user_admin)",
                ask.class
            ),
        );
        return Err(err);
    }
    if ask.agent_id.is_some() {
        return Err(Error::forbidden(codes::BINDING_NOT_ALLOWED, "a person's sign-in cannot act as an agent"));
    }
    let held: Vec<String> = ask.class.allowed_scopes().iter().map(|s| (*s).to_owned()).collect();
    let scopes = grant_scopes(ask.class, ask.scope.as_deref(), &held)?;
    // Nothing outlives the sign-in it came from.
    let family_end = state.store.family(&sid).await?.map(|f| f.expires_at);
    issue(state, ask.class, &user.id, &user.username, None, &user.roles, &scopes, None, Some(&sid), family_end)
}

/// `POST /auth/exchange`.
async fn exchange<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<ExchangeRequest>,
) -> Result<Response, Error> {
    let raw = bearer_token(&headers)?;
    let fp = fingerprint(&headers)?;
    let ask = Ask::from(body);
    let out = if raw.starts_with(crate::auth::CREDENTIAL_PREFIX) {
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
    params: &crate::oauth::Params,
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
    let ask = |default: TokenClass| Ask {
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
        Ask { class: TokenClass::ServiceAccess, scope: None, audience: None, agent_id: None }
    } else {
        let req: ExchangeRequest = serde_json::from_slice(&body)
            .map_err(|e| Error::bad_request(format!("the request body is not valid: {e}")))?;
        Ask::from(req)
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
    JsonBody(body): JsonBody<Enroll>,
) -> Result<Response, Error> {
    let raw = bearer_token(&headers)?;
    let (_, live) = authenticate(&state, raw).await?;
    let c = live.record.clone();
    if c.kind != CredentialKind::Enrollment {
        let err = Error::unprocessable(
            codes::CLASS_NOT_ALLOWED,
            format!("PAT class '{}' cannot enroll an agent: use an enrollment token (kwp_e_…)", letter(c.kind)),
        );
        return Err(refuse(&state, Some(&live), Some(&c.id), "not_enrollment", err).await);
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
    crate::api::credentials::validate_name(&name, "agent name")?;
    let now = state.now();
    if !state.store.redeem_enrollment(&c.id, now).await? {
        state.credentials.cache.invalidate(&c.id);
        return Err(refuse(&state, Some(&live), Some(&c.id), "used", invalid_credential()).await);
    }
    state.credentials.cache.invalidate(&c.id);
    let owner = crate::api::credentials::Owner { id: c.owner_id.clone(), name: c.owner_name.clone() };
    let agent = crate::api::credentials::agent_for(&state, &owner, &name, true).await?;
    let days = c.enroll_pat_days.unwrap_or(state.store.credential_settings().await?.default_pat_days);
    let minted = crate::api::credentials::mint(
        &state,
        &owner,
        CredentialKind::AgentPat,
        Some(&agent),
        agent.name.clone(),
        c.audience,
        c.scopes.clone(),
        Some(now.saturating_add(i64::from(days) * 86_400)),
        None,
    )
    .await?;
    let mut event = AuditEvent {
        id: 0,
        at: now,
        actor_kind: "agent".to_owned(),
        actor_id: Some(agent.id.clone()),
        actor_name: Some(agent.name.clone()),
        action: "enrollment.redeem".to_owned(),
        target_kind: Some("credential".to_owned()),
        target_id: Some(c.id.clone()),
        outcome: "ok".to_owned(),
        detail: json!({ "agent_pat": minted.credential.id, "owner": c.owner_id }),
    };
    record(&state, event.clone()).await?;
    event.action = "pat.mint".to_owned();
    event.target_id = Some(minted.credential.id.clone());
    event.detail = json!({ "kind": "agent_pat", "via": "enrollment" });
    record(&state, event).await?;
    let out: MintedSecret = minted;
    Ok(no_store((StatusCode::CREATED, Json(out)).into_response()))
}

/// `POST /oauth/introspect` (RFC 7662), for a caller with a bearer JWT. Tokens the caller may
/// not see (not its own, its agents', or — for admins and auditors — anyone's) are reported
/// `active: false`, like dead ones.
async fn introspect<S: Store>(
    State(state): State<AppState<S>>,
    principal: Principal,
    FormParams(params): FormParams,
) -> Result<Response, Error> {
    params.reject_duplicates()?;
    let token = params.require("token")?;
    let sees_all = principal.has_role(Role::Admin) || principal.has_role(Role::Auditor);
    let may_see = |sub: &str, owner: Option<&str>| sees_all || sub == principal.id || owner == Some(&principal.id);
    let inactive = || Ok(no_store(Json(json!({ "active": false })).into_response()));
    let now = state.now();
    let body: Value = if token.starts_with(crate::auth::CREDENTIAL_PREFIX) {
        let Ok(t) = Token::parse(token) else { return inactive() };
        let Some(live) = state.credentials.cache.get(&state.store, &t.public_id()).await? else {
            return inactive();
        };
        let c = &live.record;
        let same: bool = t.hash().as_bytes().ct_eq(c.secret_hash.as_bytes()).into();
        if !same || dead_reason(&live, now).is_some() || !may_see(&c.owner_id, None) {
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
        let claims = match validate_access_token(&state, token).await {
            Ok(c) => c,
            Err(e) if e.is_internal() => return Err(e),
            Err(_) => return inactive(),
        };
        if !may_see(&claims.sub, claims.owner.as_deref()) {
            return inactive();
        }
        let scope: Cow<'_, str> = if claims.sid.is_some() && claims.token_class == TokenClass::UserAccess {
            Cow::Owned(TokenClass::UserAccess.allowed_scopes().join(" "))
        } else {
            Cow::Borrowed(&claims.scope)
        };
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
