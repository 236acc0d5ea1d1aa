//! `GET /sso/callback`: the IdP's answer. The state is taken once (single use) and must match
//! this browser's cookie; the code is redeemed with the PKCE verifier and the client secret;
//! the id_token is verified; the groups come from the id_token, else from userinfo. Then
//! `identity.rs` signs the person in. Every failure is a page saying what went wrong.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;

use super::error::SsoError;
use super::identity::{self, Person};
use super::provider::IdpClaims;
use super::start::{CALLBACK_PATH, state_cookie_name};
use crate::audit::{self, Audit};
use crate::http::{Params, cookie};
use crate::oauth::login_page::error_page;
use crate::secret::{TokenHash, ct_eq};
use crate::state::AppState;
use crate::store::Store;

pub(crate) async fn callback<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref().unwrap_or("").as_bytes());
    let Some(client_state) = params.get("state").filter(|_| !params.is_duplicated("state")) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Invalid sign-in answer",
            "This address is where your organisation's identity provider sends you back after sign-in; this \
             request did not come from it. Go back to the application and start signing in again.",
        );
    };
    callback_inner(&state, &headers, &params, client_state).await.unwrap_or_else(super::pages::page)
}

/// The groups claim as a list of names (a single string counts as one group).
fn groups_of(value: Option<&Value>) -> Option<Vec<String>> {
    match value? {
        Value::Array(items) => Some(items.iter().filter_map(Value::as_str).map(str::to_owned).collect()),
        Value::String(one) => Some(vec![one.clone()]),
        Value::Null => None,
        _ => Some(Vec::new()),
    }
}

async fn callback_inner<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
    params: &Params,
    client_state: &str,
) -> Result<Response, SsoError> {
    let now = state.now();
    let Some(request) = state.store.take_sso_request(&TokenHash::of(client_state), now).await? else {
        return Err(SsoError::Expired);
    };
    let Some(idp) = state.sso.as_ref() else {
        return Err(SsoError::Misconfigured("this Keyway hub signs in through no identity provider".into()));
    };
    match cookie(headers, &state_cookie_name(&request.request_id)) {
        Some(c) if ct_eq(c, client_state) => {}
        _ => {
            return Ok(error_page(
                StatusCode::FORBIDDEN,
                "Sign-in started elsewhere",
                "This sign-in was not started in this browser, so the hub does not finish it here. Go back to the \
                 application and start signing in again.",
            ));
        }
    }
    let Some(pending) = state.store.pending(&request.request_id, now).await? else {
        return Err(SsoError::Expired);
    };
    let meta = idp.metadata().await?;
    // RFC 9207: an IdP that names itself must name the configured one.
    if let Some(iss) = params.get("iss")
        && iss.trim_end_matches('/') != meta.issuer.trim_end_matches('/')
    {
        return Err(SsoError::Unverified(format!("the answer came from {iss}, not from {}", meta.issuer)));
    }
    if let Some(error) = params.get("error") {
        let description = params.get("error_description").unwrap_or("");
        let row = Audit::by_hub(now, "session.sign_in_failed")
            .target("client", &pending.client_id)
            .detail(serde_json::json!({ "reason": "idp_error", "method": "sso", "error": error }))
            .outcome("refused");
        audit::record(&state.store, row).await?;
        return Err(SsoError::Denied(format!(
            "Your organisation's identity provider ended the sign-in ({error}{}{description}). Go back to the \
             application to try again.",
            if description.is_empty() { "" } else { ": " }
        )));
    }
    let Some(code) = params.get("code") else {
        return Err(SsoError::Unverified("the identity provider's answer has no code".into()));
    };
    let redirect_uri = state.endpoint(CALLBACK_PATH);
    let tokens = idp.exchange(&meta, code, &redirect_uri, &request.verifier).await?;
    let Some(id_token) = tokens.id_token.as_deref() else {
        return Err(SsoError::Unverified("the identity provider sent no id_token".into()));
    };
    let claims: IdpClaims = idp.verify(&meta, id_token, &request.nonce).await?;
    let subject = claims.subject().as_str().to_owned();
    let claim = idp.settings.groups_claim.as_str();
    let extra = &claims.additional_claims().0;
    let mut preferred = claims.preferred_username().map(|n| n.as_str().to_owned());
    let mut email = claims.email().map(|e| e.as_str().to_owned());
    let groups = match groups_of(extra.get(claim)) {
        Some(groups) => Some(groups),
        None => {
            let info = idp.userinfo(&meta, &tokens.access_token, &subject).await?;
            preferred = preferred.or_else(|| info.get("preferred_username").and_then(Value::as_str).map(str::to_owned));
            email = email.or_else(|| info.get("email").and_then(Value::as_str).map(str::to_owned));
            groups_of(info.get(claim))
        }
    };
    if groups.is_none() && idp.settings.default_role.is_none() {
        return Err(SsoError::Misconfigured(format!(
            "the identity provider sent no '{claim}' claim, in the id_token or at userinfo (is the claim released \
             to this client, and is --sso-groups-claim right?)"
        )));
    }
    let person =
        Person { issuer: meta.issuer.clone(), subject, groups, names: preferred.into_iter().chain(email).collect() };
    identity::sign_in(state, idp, &pending, &person).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_claims() {
        assert_eq!(groups_of(Some(&serde_json::json!(["a", "b", 3]))), Some(vec!["a".to_owned(), "b".to_owned()]));
        assert_eq!(groups_of(Some(&serde_json::json!("a"))), Some(vec!["a".to_owned()]));
        assert_eq!(groups_of(Some(&Value::Null)), None);
        assert_eq!(groups_of(None), None);
    }
}
