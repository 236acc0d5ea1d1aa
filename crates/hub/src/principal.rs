//! Who is calling a resource route: the [`Principal`] extractor, and the checks routes make
//! on it (scope, class, role).

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use keyway_api::Role;
use keyway_api::auth::{PrincipalKind, TokenClass};
use keyway_api::codes;

use crate::access_token::{self, AccessClaims};
use crate::error::Error;
use crate::http::bearer_token;
use crate::pat::CREDENTIAL_PREFIX;
use crate::state::AppState;
use crate::store::Store;

/// The identity behind a verified bearer JWT.
#[derive(Clone, Debug)]
pub(crate) struct Principal {
    pub(crate) kind: PrincipalKind,
    /// `sub`: the user, agent or service account id.
    pub(crate) id: String,
    /// Display name (username, agent name, service account name).
    pub(crate) name: String,
    /// For agents, the user who owns the agent.
    pub(crate) owner: Option<String>,
    pub(crate) roles: Vec<Role>,
    pub(crate) class: TokenClass,
    pub(crate) scopes: Vec<String>,
    pub(crate) exp: i64,
    /// The sign-in (token family) the JWT belongs to, if any.
    pub(crate) sid: Option<String>,
}

impl Principal {
    pub(crate) fn from_claims(claims: AccessClaims) -> Principal {
        let scopes = claims.scopes();
        Principal {
            kind: claims.principal,
            id: claims.sub,
            name: claims.preferred_username,
            owner: claims.owner,
            roles: claims.roles.iter().filter_map(|r| Role::parse(r)).collect(),
            class: claims.token_class,
            scopes,
            exp: claims.exp,
            sid: claims.sid,
        }
    }

    pub(crate) fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub(crate) fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// `403 insufficient_scope` unless the JWT carries every scope in `needed`.
    pub(crate) fn require_scopes(&self, needed: &[&str]) -> Result<(), Error> {
        let missing: Vec<&str> = needed.iter().copied().filter(|s| !self.has_scope(s)).collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(Error::forbidden(
                codes::INSUFFICIENT_SCOPE,
                format!("Missing required scopes: [{}]", missing.join(", ")),
            ))
        }
    }

    /// `403 admin_required` unless this is a `user_admin` JWT, then the scope check.
    pub(crate) fn require_admin(&self, needed: &[&str]) -> Result<(), Error> {
        if self.class != TokenClass::UserAdmin {
            return Err(Error::forbidden(
                codes::ADMIN_REQUIRED,
                format!("Management endpoints require a user_admin token, got {}", self.class),
            ));
        }
        self.require_scopes(needed)
    }

    /// `403 role_required` unless the principal holds `role`.
    pub(crate) fn require_role(&self, role: Role) -> Result<(), Error> {
        if self.has_role(role) {
            Ok(())
        } else {
            Err(Error::forbidden(codes::ROLE_REQUIRED, format!("This needs the '{role}' role")))
        }
    }
}

impl<S: Store> FromRequestParts<AppState<S>> for Principal {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState<S>) -> Result<Principal, Error> {
        if state.settings.mode == crate::config::Mode::Learning
            && !parts.headers.contains_key(axum::http::header::AUTHORIZATION)
        {
            return learner(state).await;
        }
        let token = bearer_token(&parts.headers)?;
        if token.starts_with(CREDENTIAL_PREFIX) {
            return Err(Error::api(
                StatusCode::UNAUTHORIZED,
                codes::PAT_NOT_ALLOWED,
                "PATs cannot be used on resource routes: exchange it for a JWT at /auth/exchange first",
            ));
        }
        Ok(live_claims(state, token).await?.1)
    }
}

/// A JWT that is valid and still live, with its principal: every route that takes a bearer JWT
/// (resource routes, userinfo, introspection) judges it here. A JWT exchanged from a credential
/// dies with it (revoked, expired, agent or service account disabled), and a person's JWT with
/// the person's state and roles ([`live_user_check`]).
pub(crate) async fn live_claims<S: Store>(
    state: &AppState<S>,
    token: &str,
) -> Result<(AccessClaims, Principal), Error> {
    let claims = access_token::validate(state, token).await?;
    if let Some(cred) = claims.cred.as_deref() {
        let live = state.credentials.cache.get(&state.store, cred).await?;
        if live.is_none_or(|l| crate::credentials::dead_reason(&l.record, state.now()).is_some()) {
            return Err(Error::InvalidToken("the credential this token was exchanged from is no longer valid".into()));
        }
    }
    let principal = Principal::from_claims(claims.clone());
    live_user_check(state, &principal).await?;
    Ok((claims, principal))
}

/// A person's JWT (or their agent's) works only while the person is enabled, and a person's
/// JWT only with roles they still hold: disabling a user or taking a role away takes effect
/// at once (see `crate::live_users`).
async fn live_user_check<S: Store>(state: &AppState<S>, p: &Principal) -> Result<(), Error> {
    let user_id = match p.kind {
        PrincipalKind::User => Some(p.id.as_str()),
        PrincipalKind::Agent => p.owner.as_deref(),
        _ => None,
    };
    let Some(user_id) = user_id else { return Ok(()) };
    let live = state.users.get(&state.store, user_id).await?;
    let Some(live) = live.filter(|l| l.active) else {
        return Err(Error::InvalidToken("the user this token acts for is disabled or deleted".into()));
    };
    if p.kind == PrincipalKind::User && !p.roles.iter().all(|r| live.roles.contains(r)) {
        return Err(Error::InvalidToken(
            "this token carries a role the user no longer holds: sign in again or exchange for a new token".into(),
        ));
    }
    Ok(())
}

/// The learner, as the caller of a request without a credential in learning mode.
async fn learner<S: Store>(state: &AppState<S>) -> Result<Principal, Error> {
    let Some(learner) = state.store.learner().await? else {
        return Err(Error::InvalidToken("a bearer access token is required".into()));
    };
    let mut scopes: Vec<String> = Vec::new();
    for class in [TokenClass::UserAccess, TokenClass::UserAdmin] {
        scopes.extend(class.allowed_scopes().iter().map(|s| (*s).to_owned()));
    }
    Ok(Principal {
        kind: PrincipalKind::User,
        id: learner.id,
        name: learner.username,
        owner: None,
        roles: learner.roles,
        class: TokenClass::UserAdmin,
        scopes,
        exp: state.now() + TokenClass::UserAdmin.ttl_secs(),
        sid: None,
    })
}
