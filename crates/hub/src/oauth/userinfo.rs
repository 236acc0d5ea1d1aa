//! `GET|POST /oauth/userinfo` (OIDC Core §5.3) and access token validation.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use keyway_api::UserInfo;

use super::token::AccessClaims;
use super::{ACCESS_TOKEN_AUDIENCE, AppState, no_store};
use crate::error::Error;
use crate::jwt;
use crate::store::Store;

/// Allowed clock skew for `nbf`/`iat` (the hub checks its own tokens, so this is small).
const LEEWAY_SECS: i64 = 30;

/// The bearer token of the request (RFC 6750 §2.1).
pub(crate) fn bearer_token(headers: &HeaderMap) -> Result<&str, Error> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Error::InvalidToken("a bearer access token is required".into()))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => Ok(token.trim()),
        _ => Err(Error::InvalidToken("the Authorization header must be 'Bearer <access token>'".into())),
    }
}

/// Verifies an access token: signature, type, issuer, audience, lifetime, revocation.
pub(crate) async fn validate_access_token<S: Store>(state: &AppState<S>, token: &str) -> Result<AccessClaims, Error> {
    let claims: AccessClaims = jwt::verify(&state.keys, token, jwt::TYP_ACCESS).map_err(|e| {
        tracing::debug!(error = %e, "access token refused");
        Error::InvalidToken("the access token is invalid".into())
    })?;
    let now = state.now();
    if claims.iss != state.issuer || claims.aud != ACCESS_TOKEN_AUDIENCE {
        return Err(Error::InvalidToken("the access token was not issued for this hub".into()));
    }
    if claims.exp <= now {
        return Err(Error::InvalidToken("the access token has expired".into()));
    }
    if claims.nbf > now + LEEWAY_SECS || claims.iat > now + LEEWAY_SECS {
        return Err(Error::InvalidToken("the access token is not valid yet".into()));
    }
    if state.store.access_token_revoked(&claims.jti, claims.sid.as_deref(), now).await? {
        return Err(Error::InvalidToken("the access token has been revoked".into()));
    }
    Ok(claims)
}

pub(crate) async fn userinfo<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let token = bearer_token(&headers)?;
    let claims = validate_access_token(&state, token).await?;
    let Some(user) = state.store.user_by_id(&claims.sub).await? else {
        return Err(Error::InvalidToken("the user no longer exists".into()));
    };
    let info = UserInfo {
        sub: user.id,
        preferred_username: Some(user.username.clone()),
        name: Some(user.username),
        roles: user.roles.iter().map(|r| r.as_str().to_owned()).collect(),
    };
    Ok(no_store(Json(info).into_response()))
}
