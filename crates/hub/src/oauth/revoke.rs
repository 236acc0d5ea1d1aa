//! `POST /oauth/revoke` (RFC 7009).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use keyway_api::codes;

use super::token::client_of;
use crate::access_token::AccessClaims;
use crate::audit::Audit;
use crate::clients::Client;
use crate::error::Error;
use crate::http::{Body, Params, no_store};
use crate::jwt;
use crate::secret::RefreshToken;
use crate::state::AppState;
use crate::store::Store;
use crate::store::changes::{Change, Write};

fn wrong_client() -> Error {
    Error::oauth(codes::UNAUTHORIZED_CLIENT, "the token was issued to another client")
}

pub(crate) async fn revoke<S: Store>(
    State(state): State<AppState<S>>,
    Body(params): Body<Params>,
) -> Result<Response, Error> {
    params.reject_duplicates()?;
    let token = params.require("token")?;
    let client = &client_of(&state, &params).await?;
    // The hint only decides which kind is tried first (RFC 7009 §2.1); unknown hints are ignored.
    let access_first = params.get("token_type_hint") == Some("access_token");
    if access_first {
        if !revoke_access_token(&state, client, token).await? {
            revoke_refresh_token(&state, client, token).await?;
        }
    } else if !revoke_refresh_token(&state, client, token).await? {
        revoke_access_token(&state, client, token).await?;
    }
    // Unknown and already-revoked tokens get the same answer (RFC 7009 §2.2).
    Ok(no_store(StatusCode::OK.into_response()))
}

async fn revoke_refresh_token<S: Store>(state: &AppState<S>, client: &Client, token: &str) -> Result<bool, Error> {
    let token = RefreshToken::from_wire(token.to_owned());
    let Some(family) = state.store.family_of_refresh_token(&token.hash()).await? else {
        return Ok(false);
    };
    if family.client_id != client.id {
        return Err(wrong_client());
    }
    let now = state.now();
    let event = Audit::by_user_id(&family.user_id, now, "session.logout")
        .target("session", &family.id)
        .detail(serde_json::json!({ "client": client.id }))
        .event();
    // Already ended: nothing changes, and nothing is audited.
    state.store.apply(&Change::new().then(Write::RevokeFamily { id: &family.id, now }).audit(&event)).await?;
    tracing::info!(client = %client.id, family = %family.id, "refresh token revoked; session ended");
    Ok(true)
}

async fn revoke_access_token<S: Store>(state: &AppState<S>, client: &Client, token: &str) -> Result<bool, Error> {
    let Ok(claims) = jwt::verify_fresh::<AccessClaims, S>(&state.keys, &state.store, token, jwt::TYP_ACCESS).await
    else {
        return Ok(false);
    };
    if claims.iss != state.issuer {
        return Ok(false);
    }
    if claims.client_id != client.id {
        return Err(wrong_client());
    }
    let now = state.now();
    if claims.exp > now {
        let event =
            Audit::by_subject(claims.principal.as_str(), &claims.sub, &claims.preferred_username, now, "token.revoke")
                .target("access_token", &claims.jti)
                .detail(serde_json::json!({ "client": client.id, "session": claims.sid }))
                .event();
        let revoke = Write::RevokeAccessToken { jti: &claims.jti, expires_at: claims.exp };
        state.store.apply(&Change::new().then(revoke).audit(&event)).await?;
        tracing::info!(client = %client.id, jti = %claims.jti, "access token revoked");
    }
    Ok(true)
}
