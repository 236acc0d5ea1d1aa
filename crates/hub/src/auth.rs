//! Who is calling a resource route: the [`Principal`] extractor, and the checks routes make
//! on it (scope, class, role). Also the JSON body extractor and the audit helper routes share.

use std::borrow::Cow;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use keyway_api::Role;
use keyway_api::auth::{PrincipalKind, TokenClass};
use keyway_api::codes;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::oauth::AppState;
use crate::oauth::token::AccessClaims;
use crate::oauth::userinfo::{bearer_token, validate_access_token};
use crate::store::{AuditEvent, Store};

/// Prefix of every Keyway PAT, enrollment token and service token.
pub(crate) const CREDENTIAL_PREFIX: &str = "kwp_";

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
}

impl Principal {
    pub(crate) fn from_claims(claims: AccessClaims) -> Principal {
        let scopes = if claims.sid.is_some() && claims.token_class == TokenClass::UserAccess {
            // A browser sign-in holds the whole `user_access` allowlist; its `scope` claim
            // names the OpenID scopes the client asked for.
            claims.token_class.allowed_scopes().iter().map(|s| (*s).to_owned()).collect()
        } else {
            claims.scope.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect()
        };
        Principal {
            kind: claims.principal,
            id: claims.sub,
            name: claims.preferred_username,
            owner: claims.owner,
            roles: claims.roles.iter().filter_map(|r| Role::parse(r)).collect(),
            class: claims.token_class,
            scopes,
            exp: claims.exp,
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

    /// An audit event with this principal as the actor.
    pub(crate) fn audit(&self, at: i64, action: &str, outcome: &str) -> AuditEvent {
        AuditEvent {
            id: 0,
            at,
            actor_kind: self.kind.as_str().to_owned(),
            actor_id: Some(self.id.clone()),
            actor_name: Some(self.name.clone()),
            action: action.to_owned(),
            target_kind: None,
            target_id: None,
            outcome: outcome.to_owned(),
            detail: serde_json::Value::Object(Default::default()),
        }
    }
}

impl<S: Store> FromRequestParts<AppState<S>> for Principal {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState<S>) -> Result<Principal, Error> {
        let token = bearer_token(&parts.headers)?;
        if token.starts_with(CREDENTIAL_PREFIX) {
            return Err(Error::api(
                StatusCode::UNAUTHORIZED,
                codes::PAT_NOT_ALLOWED,
                "PATs cannot be used on resource routes: exchange it for a JWT at /auth/exchange first",
            ));
        }
        let claims = validate_access_token(state, token).await?;
        // A JWT exchanged from a credential dies with it (revoked, expired, agent disabled).
        if let Some(cred) = claims.cred.as_deref() {
            let live = state.credentials.cache.get(&state.store, cred).await?;
            if live.is_none_or(|l| crate::credentials::dead_reason(&l, state.now()).is_some()) {
                return Err(Error::InvalidToken(
                    "the credential this token was exchanged from is no longer valid".into(),
                ));
            }
        }
        Ok(Principal::from_claims(claims))
    }
}

/// A JSON request body. Every failure is a coded `invalid_request` (never axum's plain text).
#[derive(Debug)]
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime.eq_ignore_ascii_case("application/json")
                    || (mime.len() > 5 && mime[mime.len() - 5..].eq_ignore_ascii_case("+json"))
            });
        if !is_json {
            return Err(Error::bad_request("the body must be application/json"));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Error::PayloadTooLarge
            } else {
                Error::bad_request("the request body could not be read")
            }
        })?;
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
            let what: Cow<'static, str> = format!("the request body is not valid: {e}").into();
            Error::bad_request(what)
        })
    }
}

/// Writes `event` to the audit log. A failure to audit fails the request: an action that
/// cannot be recorded is not taken silently.
pub(crate) async fn record<S: Store>(state: &AppState<S>, event: AuditEvent) -> Result<(), Error> {
    Ok(state.store.insert_audit(&event).await?)
}
