//! The rules of the exchange: a PAT, service token or browser sign-in's access token becomes a
//! JWT of one class (`TokenClass`: TTL, scope allowlist), narrowed by the credential's kind,
//! audience, agent binding and own scopes. Every refusal is audited with its real reason,
//! while the caller sees one `invalid_credential` for every unusable credential. The routes are
//! in `crate::api::exchange`.

use std::sync::Arc;

use axum::http::StatusCode;
use keyway_api::auth::{Audience, TokenClass};
use keyway_api::codes;
use keyway_api::credentials::{CredentialKind, ExchangeRequest, ExchangeResponse};
use keyway_api::{DESKTOP_CLIENT_ID, Role};
use serde_json::json;
use subtle::ConstantTimeEq as _;

use super::cache::Cached;
use super::dead_reason;
use crate::access_token::{self, Grant};
use crate::audit::Audit;
use crate::error::Error;
use crate::pat::{Token, letter};
use crate::policy::{may_change, service_account_roles, user_admin_refused};
use crate::state::AppState;
use crate::store::{CredentialRecord, Store};

/// RFC 8693 `issued_token_type` of every exchanged JWT.
pub(crate) const ISSUED_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// The one answer for every unusable credential: revoked, expired, unknown, mistyped, disabled.
pub(crate) fn invalid_credential() -> Error {
    Error::api(
        StatusCode::UNAUTHORIZED,
        codes::INVALID_CREDENTIAL,
        "The credential is invalid, expired or revoked. Check it, and that you are talking to the right hub.",
    )
}

/// What an exchange asks for, from JSON or from RFC 8693 form parameters.
#[derive(Debug)]
pub(crate) struct ExchangeAsk {
    pub(crate) class: TokenClass,
    pub(crate) scope: Option<String>,
    pub(crate) audience: Option<Audience>,
    pub(crate) agent_id: Option<String>,
}

impl From<ExchangeRequest> for ExchangeAsk {
    fn from(r: ExchangeRequest) -> ExchangeAsk {
        ExchangeAsk { class: r.requested_token_class, scope: r.scope, audience: r.audience, agent_id: r.agent_id }
    }
}

/// Audits a refused exchange and returns the refusal. Refusals change nothing and anyone can
/// send them, so they are counted in memory and written as summary rows at the next flush
/// (`crate::audit::refusals`): no write on the request path.
pub(crate) async fn refuse<S: Store>(
    state: &AppState<S>,
    credential: Option<&CredentialRecord>,
    public_id: Option<&str>,
    reason: &str,
    err: Error,
) -> Error {
    let event = Audit::by_holder(credential, state.now(), "exchange.refused")
        .target_opt("credential", public_id)
        .outcome(err.code())
        .detail(json!({ "reason": reason }))
        .event();
    state.refusals.record(event);
    err
}

/// Resolves a raw token to its live credential, or `invalid_credential` (audited with the real
/// reason).
pub(crate) async fn authenticate<S: Store>(state: &AppState<S>, raw: &str) -> Result<(Token, Arc<Cached>), Error> {
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
    if let Some(reason) = dead_reason(&live.record, state.now()) {
        return Err(refuse(state, Some(&live.record), Some(&id), reason, invalid_credential()).await);
    }
    // A disabled or deleted person's PATs (and their agents') stop working; a service token
    // belongs to its service account, not to the admin who minted it.
    if !live.owner_active && live.record.kind != CredentialKind::ServiceToken {
        return Err(refuse(state, Some(&live.record), Some(&id), "owner_disabled", invalid_credential()).await);
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
fn issue<S>(state: &AppState<S>, grant: Grant<'_>) -> Result<ExchangeResponse, Error> {
    let now = state.now();
    let class = grant.class;
    let (access_token, claims) = access_token::issue(state, grant, now)?;
    Ok(ExchangeResponse {
        access_token,
        token_type: "Bearer".to_owned(),
        expires_in: u64::try_from(claims.exp.saturating_sub(now)).unwrap_or(0),
        token_class: class,
        scope: claims.scope,
        issued_token_type: ISSUED_TOKEN_TYPE.to_owned(),
    })
}

/// A JWT exchanged from a credential or a sign-in: Keyway's own client id, the class TTL.
#[allow(clippy::too_many_arguments, reason = "every field of the JWT is a parameter")]
fn grant<'a>(
    class: TokenClass,
    sub: &'a str,
    name: &'a str,
    owner: Option<&'a str>,
    roles: &'a [Role],
    scopes: &[String],
    cred: Option<&'a str>,
    sid: Option<&'a str>,
    not_after: Option<i64>,
) -> Grant<'a> {
    Grant {
        class,
        sub,
        name,
        owner,
        roles,
        scope: scopes.join(" "),
        client_id: DESKTOP_CLIENT_ID,
        sid,
        auth_time: None,
        cred,
        ttl_secs: class.ttl_secs(),
        not_after,
    }
}

/// Exchanges a raw PAT or service token for a JWT, applying every rule of the class table.
pub(crate) async fn exchange_credential<S: Store>(
    state: &AppState<S>,
    raw: &str,
    ask: &ExchangeAsk,
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
        return Err(refuse(state, Some(&live.record), Some(id), "class", err).await);
    }
    let from = caller_audience(ask.audience);
    if !c.audience.allows(from) {
        let err = Error::forbidden(
            codes::AUDIENCE_NOT_ALLOWED,
            format!("PAT audience is '{}', and this request comes from '{}'", c.audience.as_str(), from.as_str()),
        );
        return Err(refuse(state, Some(&live.record), Some(id), "audience", err).await);
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
            return Err(refuse(state, Some(&live.record), Some(id), "binding", err).await);
        }
    }
    if ask.class == TokenClass::UserAdmin && !may_change(&live.owner_roles) {
        let err = user_admin_refused(&live.owner_roles);
        return Err(refuse(state, Some(&live.record), Some(id), "roles", err).await);
    }
    let scopes = match grant_scopes(ask.class, ask.scope.as_deref(), &c.scopes) {
        Ok(s) => s,
        Err(err) => return Err(refuse(state, Some(&live.record), Some(id), "scope", err).await),
    };
    let response = match c.kind {
        CredentialKind::AgentPat => {
            let agent_id = c.agent_id.as_deref().unwrap_or_default();
            let agent_name = c.agent_name.as_deref().unwrap_or_default();
            let g =
                grant(ask.class, agent_id, agent_name, Some(&c.owner_id), &[], &scopes, Some(id), None, c.expires_at);
            issue(state, g)?
        }
        CredentialKind::ServiceToken => {
            let sa_id = c.service_account_id.as_deref().unwrap_or_default();
            let sa_name = c.service_account_name.as_deref().unwrap_or_default();
            let roles = service_account_roles(c.service_account_group);
            issue(state, grant(ask.class, sa_id, sa_name, None, &roles, &scopes, Some(id), None, c.expires_at))?
        }
        _ => {
            let roles = &live.owner_roles;
            issue(
                state,
                grant(ask.class, &c.owner_id, &c.owner_name, None, roles, &scopes, Some(id), None, c.expires_at),
            )?
        }
    };
    state.credentials.usage.record(id, state.now(), fp);
    Ok(response)
}

/// A browser sign-in's access token exchanged for `user_admin` (or a fresh `user_access`):
/// how the desktop app and a browser-signed-in CLI act as admin only when the person acts.
pub(crate) async fn exchange_session<S: Store>(
    state: &AppState<S>,
    jwt: &str,
    ask: &ExchangeAsk,
) -> Result<ExchangeResponse, Error> {
    let claims = match access_token::validate(state, jwt).await {
        Ok(c) => c,
        Err(e) if e.is_internal() => return Err(e),
        Err(_) => return Err(refuse(state, None, None, "invalid_jwt", invalid_credential()).await),
    };
    // Only the sign-in's own token: a narrowed one cannot be exchanged back to more.
    let Some(sid) = claims.sid.clone().filter(|_| claims.is_sign_in()) else {
        let err = invalid_credential();
        return Err(refuse(state, None, None, "not_a_sign_in_token", err).await);
    };
    let Some(user) = state.store.user_by_id(&claims.sub).await?.filter(|u| u.is_active()) else {
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
    if ask.class == TokenClass::UserAdmin && !may_change(&user.roles) {
        return Err(refuse(state, None, None, "roles", user_admin_refused(&user.roles)).await);
    }
    let held: Vec<String> = ask.class.allowed_scopes().iter().map(|s| (*s).to_owned()).collect();
    let scopes = grant_scopes(ask.class, ask.scope.as_deref(), &held)?;
    // Nothing outlives the sign-in it came from.
    let family_end = state.store.family(&sid).await?.map(|f| f.expires_at);
    let g = grant(ask.class, &user.id, &user.username, None, &user.roles, &scopes, None, Some(&sid), family_end);
    issue(state, g)
}

/// The audience a request comes from: `cli` unless it says `mcp` (or `both`).
fn caller_audience(requested: Option<Audience>) -> Audience {
    requested.unwrap_or(Audience::Cli)
}
