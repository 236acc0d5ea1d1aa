//! `POST /oauth/token`: authorization code (with PKCE), refresh token and device code (RFC 8628)
//! grants; token exchange is `crate::api::exchange`'s.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use keyway_api::auth::TokenClass;
use keyway_api::{TokenResponse, codes};
use serde::{Deserialize, Serialize};

use super::{pkce, resource};
use crate::access_token::{self, Grant};
use crate::audit::Audit;
use crate::clients::Client;
use crate::clock::secs;
use crate::error::Error;
use crate::http::{Body, Params, no_store};
use crate::jwt;
use crate::secret::{AuthorizationCode, DeviceCode, RefreshToken, random_id};
use crate::sessions;
use crate::state::AppState;
use crate::store::{AuditEvent, DevicePoll, Family, GrantAudit, NewFamily, Redemption, Rotation, Store, UserRecord};
use crate::throttle::ClientIp;

/// Claims of an ID token (OIDC Core §2).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct IdClaims {
    pub(crate) iss: String,
    pub(crate) sub: String,
    pub(crate) aud: String,
    pub(crate) azp: String,
    pub(crate) exp: i64,
    pub(crate) iat: i64,
    pub(crate) auth_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) nonce: Option<String>,
    pub(crate) sid: String,
    pub(crate) preferred_username: String,
    pub(crate) name: String,
    pub(crate) roles: Vec<String>,
}

pub(crate) fn has_scope(scope: &str, wanted: &str) -> bool {
    scope.split(' ').any(|s| s == wanted)
}

/// The client named by `client_id` (public clients authenticate by id alone).
pub(crate) async fn client_of<S: Store>(state: &AppState<S>, params: &Params) -> Result<Client, Error> {
    super::clients::require(state, params.require("client_id")?).await
}

/// RFC 8707 at the token endpoint: a `resource` given here must be the one the grant was made
/// for (one resource per token).
async fn check_resource<S: Store>(state: &AppState<S>, params: &Params, granted: Option<&str>) -> Result<(), Error> {
    let Some(asked) = params.get("resource") else {
        return Ok(());
    };
    if resource::audience(state, Some(asked)).await?.as_deref() != granted {
        return Err(Error::oauth(codes::INVALID_TARGET, "resource is not the one this grant was made for"));
    }
    Ok(())
}

pub(crate) async fn token<S: Store>(
    State(state): State<AppState<S>>,
    headers: axum::http::HeaderMap,
    ClientIp(ip): ClientIp,
    Body(params): Body<Params>,
) -> Result<Response, Error> {
    // From the socket, or from X-Forwarded-For behind a trusted proxy (`crate::throttle`).
    let address = (!ip.is_unspecified()).then(|| ip.to_string());
    let address = address.as_deref();
    params.reject_duplicates()?;
    let body = match params.require("grant_type")? {
        keyway_api::credentials::GRANT_TOKEN_EXCHANGE => {
            return crate::api::exchange::token_exchange_grant(&state, &headers, &params).await;
        }
        "authorization_code" => authorization_code(&state, &params, address).await?,
        "refresh_token" => refresh_token(&state, &params, address).await?,
        keyway_api::clients::GRANT_DEVICE_CODE => device_code_grant(&state, &params, address).await?,
        keyway_api::ciba::GRANT_CIBA => return super::ciba::grant(&state, &headers, &params).await,
        _ => {
            return Err(Error::oauth(
                codes::UNSUPPORTED_GRANT_TYPE,
                "only authorization_code, refresh_token, device_code (RFC 8628), ciba (OpenID CIBA) and token-exchange (RFC 8693) are supported",
            ));
        }
    };
    Ok(no_store(Json(body).into_response()))
}

/// The audit rows of the grants, by the family's person through `client`.
struct TokenAudit<'a> {
    now: i64,
    client: &'a str,
}

impl GrantAudit for TokenAudit<'_> {
    fn refreshed(&self, family: &Family) -> AuditEvent {
        Audit::by_user_id(&family.user_id, self.now, "session.refresh")
            .target("session", &family.id)
            .detail(serde_json::json!({ "client": self.client }))
            .event()
    }

    fn refresh_retried(&self, family: &Family) -> AuditEvent {
        Audit::by_user_id(&family.user_id, self.now, "session.refresh_retried")
            .target("session", &family.id)
            .detail(serde_json::json!({ "client": self.client }))
            .event()
    }

    fn refresh_reused(&self, family: &Family) -> AuditEvent {
        Audit::by_user_id(&family.user_id, self.now, "session.refresh_reused")
            .target("session", &family.id)
            .outcome(codes::INVALID_GRANT)
            .detail(serde_json::json!({ "client": self.client, "revoked": true }))
            .event()
    }

    fn code_replayed(&self, user_id: &str, family_id: Option<&str>) -> AuditEvent {
        Audit::by_user_id(user_id, self.now, "session.code_replayed")
            .target_opt("session", family_id)
            .outcome(codes::INVALID_GRANT)
            .detail(serde_json::json!({ "client": self.client, "revoked": family_id.is_some() }))
            .event()
    }
}

fn issues_refresh_token(client: &Client, scope: &str) -> bool {
    client.always_refresh || has_scope(scope, "offline_access")
}

async fn authorization_code<S: Store>(
    state: &AppState<S>,
    params: &Params,
    address: Option<&str>,
) -> Result<TokenResponse, Error> {
    let client = &client_of(state, params).await?;
    let code = AuthorizationCode::from_wire(params.require("code")?.to_owned());
    let redirect_uri = params.require("redirect_uri")?;
    let verifier = params.require("code_verifier")?;
    if !pkce::is_valid_verifier(verifier) {
        return Err(Error::invalid_request("code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~"));
    }

    // A `resource` here must be a known one (else `invalid_target` before the code is used up)
    // and the one asked for at authorize (else the code is used up and refused).
    let asked = resource::audience(state, params.get("resource")).await?;
    let resource_param = params.get("resource").is_some();
    let now = state.now();
    let limits = sessions::limits(state).await?;
    let session_lifetime =
        secs(state.settings.session_lifetime).min(i64::try_from(limits.absolute_secs).unwrap_or(i64::MAX));
    let refresh = RefreshToken::generate();
    let refresh_hash = refresh.hash();
    let outcome = state
        .store
        .redeem_code(&code.hash(), now, &TokenAudit { now, client: &client.id }, |c| {
            let resource_refused = resource_param && asked != c.resource;
            if c.client_id != client.id {
                return Err("the authorization code was issued to another client");
            }
            if c.redirect_uri != redirect_uri {
                return Err("redirect_uri does not match the authorization request");
            }
            if c.expires_at <= now {
                return Err("the authorization code has expired");
            }
            if !pkce::verify(verifier, &c.code_challenge) {
                return Err("code_verifier does not match the code_challenge");
            }
            if resource_refused {
                return Err("resource is not the one the authorization was made for");
            }
            let expires_at = c.auth_time.saturating_add(session_lifetime);
            if expires_at <= now {
                return Err("the sign-in session has ended");
            }
            Ok(NewFamily {
                family: Family {
                    id: random_id(),
                    user_id: c.user_id.clone(),
                    client_id: c.client_id.clone(),
                    scope: c.scope.clone(),
                    auth_time: c.auth_time,
                    created_at: now,
                    expires_at,
                    revoked_at: None,
                    last_used_at: Some(now),
                    address: address.map(str::to_owned),
                    resource: c.resource.clone(),
                },
                refresh_token: issues_refresh_token(client, &c.scope).then_some(refresh_hash),
            })
        })
        .await?;

    let (code, family) = match outcome {
        Redemption::Issued { code, family } => (code, family),
        Redemption::Unknown => {
            return Err(Error::invalid_grant("the authorization code is invalid"));
        }
        Redemption::Refused(reason) => return Err(Error::invalid_grant(reason)),
        Redemption::Replayed { family_id } => {
            tracing::warn!(client = %client.id, family = ?family_id, "authorization code replayed; tokens issued from it are revoked");
            return Err(Error::invalid_grant("the authorization code has already been used"));
        }
    };
    let user = live_user(state, &family, now).await?;
    state.client_usage.record(&client.id, now);
    let refresh = issues_refresh_token(client, &family.scope).then_some(refresh);
    tracing::info!(client = %client.id, user = %user.id, family = %family.id, "issued tokens for an authorization code");
    issue_tokens(state, &user, &family, code.nonce, refresh, now)
}

/// How long after a refresh token's use the client may send it again, when the answer was lost,
/// and get new tokens instead of ending the session: only while none of the tokens issued since
/// has been used (see [`crate::store::OAuthStore::rotate_refresh_token`]).
pub(crate) const REFRESH_RETRY_GRACE_SECS: i64 = 30;

async fn refresh_token<S: Store>(
    state: &AppState<S>,
    params: &Params,
    address: Option<&str>,
) -> Result<TokenResponse, Error> {
    let client = &client_of(state, params).await?;
    let old = RefreshToken::from_wire(params.require("refresh_token")?.to_owned());
    let now = state.now();

    // A narrower scope may be asked for (RFC 6749 §6); check it before the token is used up.
    let narrowed = match params.get("scope") {
        None => None,
        Some(requested) => {
            let Some(family) = state.store.family_of_refresh_token(&old.hash()).await? else {
                return Err(Error::invalid_grant("the refresh token is invalid"));
            };
            let mut scopes: Vec<&str> = Vec::new();
            for s in requested.split(' ').filter(|s| !s.is_empty()) {
                if !has_scope(&family.scope, s) {
                    return Err(Error::oauth(codes::INVALID_SCOPE, format!("scope '{s}' was not granted")));
                }
                if !scopes.contains(&s) {
                    scopes.push(s);
                }
            }
            Some(scopes.join(" "))
        }
    };

    // A `resource` must be the family's; checked before the token is used up.
    if params.get("resource").is_some() {
        let Some(family) = state.store.family_of_refresh_token(&old.hash()).await? else {
            return Err(Error::invalid_grant("the refresh token is invalid"));
        };
        check_resource(state, params, family.resource.as_deref()).await?;
    }
    let new = RefreshToken::generate();
    let family = match state
        .store
        .rotate_refresh_token(
            &old.hash(),
            &new.hash(),
            &client.id,
            now,
            now - REFRESH_RETRY_GRACE_SECS,
            &TokenAudit { now, client: &client.id },
        )
        .await?
    {
        Rotation::Rotated(family) => family,
        Rotation::Unknown => return Err(Error::invalid_grant("the refresh token is invalid")),
        Rotation::Refused(reason) => return Err(Error::invalid_grant(reason)),
        Rotation::Reused { family_id } => {
            tracing::warn!(client = %client.id, family = %family_id, "refresh token reused; the session is revoked");
            return Err(Error::invalid_grant("the refresh token was already used; the session has been revoked"));
        }
    };
    // The lifetimes the admins set, checked at every refresh (they may have changed since).
    let limits = sessions::limits(state).await?;
    if let Some(reason) = sessions::ended(&family, &limits, now) {
        state.store.revoke_family(&family.id, now).await?;
        return Err(Error::invalid_grant(reason));
    }
    let user = live_user(state, &family, now).await?;
    state.store.touch_family(&family.id, now, address).await?;
    state.client_usage.record(&client.id, now);
    let mut family = family;
    family.expires_at = sessions::end_of(&family, &limits);
    if let Some(scope) = narrowed {
        family.scope = scope;
    }
    issue_tokens(state, &user, &family, None, Some(new), now)
}

/// The family's user; a deleted or disabled user ends the family.
async fn live_user<S: Store>(state: &AppState<S>, family: &Family, now: i64) -> Result<UserRecord, Error> {
    match state.store.user_by_id(&family.user_id).await? {
        Some(user) if user.is_active() => Ok(user),
        _ => {
            state.store.revoke_family(&family.id, now).await?;
            Err(Error::invalid_grant("the user is disabled or no longer exists"))
        }
    }
}

fn issue_tokens<S>(
    state: &AppState<S>,
    user: &UserRecord,
    family: &Family,
    nonce: Option<String>,
    refresh: Option<RefreshToken>,
    now: i64,
) -> Result<TokenResponse, Error> {
    let grant = Grant {
        class: TokenClass::UserAccess,
        sub: &user.id,
        name: &user.username,
        owner: None,
        roles: &user.roles,
        scope: family.scope.clone(),
        client_id: &family.client_id,
        sid: Some(&family.id),
        auth_time: Some(family.auth_time),
        cred: None,
        ttl_secs: secs(state.settings.access_token_ttl),
        // Nothing outlives the sign-in it belongs to.
        not_after: Some(family.expires_at),
    };
    let audience = family.resource.as_deref().unwrap_or(access_token::AUDIENCE);
    let (access_token, access) = access_token::issue_for(state, grant, audience, now)?;
    let access_exp = access.exp;
    let roles = access.roles;
    let id_token = if has_scope(&family.scope, "openid") {
        let claims = IdClaims {
            iss: state.issuer.clone(),
            sub: user.id.clone(),
            aud: family.client_id.clone(),
            azp: family.client_id.clone(),
            exp: access_exp,
            iat: now,
            auth_time: family.auth_time,
            nonce,
            sid: family.id.clone(),
            preferred_username: user.username.clone(),
            name: user.username.clone(),
            roles,
        };
        Some(jwt::sign(&state.keys, jwt::TYP_ID, &claims)?)
    } else {
        None
    };
    let remaining = |until: i64| u64::try_from(until.saturating_sub(now)).unwrap_or(0);
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer".to_owned(),
        expires_in: remaining(access_exp),
        refresh_expires_in: refresh.as_ref().map(|_| remaining(family.expires_at)),
        refresh_token: refresh.map(|r| r.expose().to_owned()),
        id_token,
        scope: (!family.scope.is_empty()).then(|| family.scope.clone()),
    })
}

/// The token endpoint's `urn:ietf:params:oauth:grant-type:device_code` grant (RFC 8628 §3.4).
async fn device_code_grant<S: Store>(
    state: &AppState<S>,
    params: &Params,
    address: Option<&str>,
) -> Result<TokenResponse, Error> {
    let client = client_of(state, params).await?;
    let code = DeviceCode::from_wire(params.require("device_code")?.to_owned());
    let asked = resource::audience(state, params.get("resource")).await?;
    let resource_param = params.get("resource").is_some();
    let now = state.now();
    let limits = sessions::limits(state).await?;
    let session_lifetime =
        secs(state.settings.session_lifetime).min(i64::try_from(limits.absolute_secs).unwrap_or(i64::MAX));
    let refresh = RefreshToken::generate();
    let refresh_hash = refresh.hash();
    let outcome = state
        .store
        .poll_device(&code.hash(), now, |d| {
            if d.client_id != client.id {
                return Err("the device code was issued to another client");
            }
            if resource_param && asked != d.resource {
                return Err("resource is not the one the device asked for");
            }
            let (Some(user_id), Some(auth_time)) = (d.user_id.clone(), d.auth_time) else {
                return Err("the device authorization has no approver");
            };
            let expires_at = auth_time.saturating_add(session_lifetime);
            if expires_at <= now {
                return Err("the sign-in session has ended");
            }
            Ok(NewFamily {
                family: Family {
                    id: random_id(),
                    user_id,
                    client_id: d.client_id.clone(),
                    scope: d.scope.clone(),
                    auth_time,
                    created_at: now,
                    expires_at,
                    revoked_at: None,
                    last_used_at: Some(now),
                    address: address.map(str::to_owned),
                    resource: d.resource.clone(),
                },
                refresh_token: issues_refresh_token(&client, &d.scope).then_some(refresh_hash),
            })
        })
        .await?;
    let family = match outcome {
        DevicePoll::Issued { family, .. } => family,
        DevicePoll::Unknown => return Err(Error::invalid_grant("the device code is invalid")),
        DevicePoll::Used => return Err(Error::invalid_grant("the device code has already been used")),
        DevicePoll::Refused(reason) => return Err(Error::invalid_grant(reason)),
        DevicePoll::Expired => return Err(Error::oauth(codes::EXPIRED_TOKEN, "the device code has expired")),
        DevicePoll::Denied => return Err(Error::oauth(codes::ACCESS_DENIED, "the person denied this sign-in")),
        DevicePoll::Pending { slow_down: true } => {
            return Err(Error::oauth(codes::SLOW_DOWN, "polling too fast: wait 5 seconds more between polls"));
        }
        DevicePoll::Pending { slow_down: false } => {
            return Err(Error::oauth(codes::AUTHORIZATION_PENDING, "the sign-in is not approved yet"));
        }
    };
    let user = live_user(state, &family, now).await?;
    state.client_usage.record(&client.id, now);
    let refresh = issues_refresh_token(&client, &family.scope).then_some(refresh);
    tracing::info!(client = %client.id, user = %user.id, family = %family.id, "issued tokens for a device code");
    issue_tokens(state, &user, &family, None, refresh, now)
}
