//! `GET /oauth/authorize` (RFC 6749 §4.1.1 with PKCE, RFC 9207 `iss`): validates the request
//! and shows the sign-in form; `POST /login` (`login.rs`) issues the code.

use std::net::IpAddr;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use keyway_api::codes;

use super::code::{found, redirect_with};
use super::discovery::SCOPES_SUPPORTED;
use super::login_page::{self, PENDING_TTL_SECS, SESSION_COOKIE};
use super::pkce;
use crate::error::Error;
use crate::http::{Params, cookie};
use crate::secret::{SessionId, random_id};
use crate::state::AppState;
use crate::store::{PendingAuthorization, Store};
use crate::throttle::{self, ClientIp};
const MAX_STATE_LEN: usize = 1024;
const MAX_NONCE_LEN: usize = 512;

/// Error response to the client's redirect URI (RFC 6749 §4.1.2.1, RFC 9207).
fn redirect_error(issuer: &str, redirect_uri: &str, code: &str, description: &str, state: Option<&str>) -> Response {
    let mut pairs = vec![("error", code), ("error_description", description)];
    if let Some(state) = state {
        pairs.push(("state", state));
    }
    pairs.push(("iss", issuer));
    found(&redirect_with(redirect_uri, &pairs))
}

/// Normalizes a requested scope: known scopes, deduplicated, in request order.
pub(crate) fn parse_scope(raw: Option<&str>) -> Result<String, String> {
    let mut scopes: Vec<&str> = Vec::new();
    for s in raw.unwrap_or("").split(' ').filter(|s| !s.is_empty()) {
        if !SCOPES_SUPPORTED.contains(&s) {
            return Err(format!("scope '{s}' is not supported"));
        }
        if !scopes.contains(&s) {
            scopes.push(s);
        }
    }
    Ok(scopes.join(" "))
}

pub(crate) async fn authorize<S: Store>(
    State(state): State<AppState<S>>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref().unwrap_or("").as_bytes());
    match authorize_inner(&state, ip, &headers, &params).await {
        Ok(response) => response,
        // A cap reached is "come back later", with when.
        Err(e) => throttle::error_response(e),
    }
}

/// Each sign-in request leaves a pending row until it is used or expires: one address may start
/// only so many in a window, and the hub keeps only so many in all, so a loop of requests cannot
/// fill the database.
async fn within_caps<S: Store>(state: &AppState<S>, ip: IpAddr, now: i64) -> Result<(), Error> {
    let live = state.store.count_pending(now).await?;
    if live >= state.settings.pending_total {
        tracing::warn!(live, "the cap on pending sign-in requests is reached");
        return Err(Error::unavailable("The hub has too many sign-ins waiting. Try again in a minute.", 60));
    }
    throttle::count(state, &format!("authorize:{ip}"), state.settings.pending_per_address, "sign-in requests").await
}

async fn authorize_inner<S: Store>(
    state: &AppState<S>,
    ip: IpAddr,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Response, Error> {
    // Until client and redirect URI are known good, errors are shown here, never redirected
    // (RFC 6749 §4.1.2.1, RFC 9700 §4.11: no open redirector).
    let client = match params.get("client_id") {
        _ if params.is_duplicated("client_id") => {
            return Ok(login_page::error_page(
                StatusCode::BAD_REQUEST,
                "Invalid sign-in request",
                "The request names more than one application.",
            ));
        }
        None => {
            return Ok(login_page::error_page(
                StatusCode::BAD_REQUEST,
                "Invalid sign-in request",
                "The request does not say which application is signing in (client_id is missing).",
            ));
        }
        Some(id) => match super::clients::find(state, id).await {
            Ok(Some(client)) => client,
            // A metadata document refused: the page says why (nothing goes to an unchecked
            // redirect URI).
            Err(e) if !e.is_internal() => {
                return Ok(login_page::error_page(StatusCode::BAD_REQUEST, "Application refused", &e.to_string()));
            }
            Err(e) => return Err(e),
            Ok(None) => {
                return Ok(login_page::error_page(
                    StatusCode::BAD_REQUEST,
                    "Unknown application",
                    "The application asking you to sign in is not registered with this Keyway hub.",
                ));
            }
        },
    };
    let redirect_uri = match params.get("redirect_uri") {
        Some(uri) if !params.is_duplicated("redirect_uri") && client.allows_redirect(uri) => uri,
        _ => {
            return Ok(login_page::error_page(
                StatusCode::BAD_REQUEST,
                "Invalid redirect address",
                "The address the application wants to return to after sign-in is not registered for it. Nothing was sent to the application.",
            ));
        }
    };

    let issuer = state.issuer.as_str();
    let client_state = params.get("state").filter(|s| s.len() <= MAX_STATE_LEN && !params.is_duplicated("state"));
    let refuse =
        |code: &str, description: &str| Ok(redirect_error(issuer, redirect_uri, code, description, client_state));

    if let Err(e) = params.reject_duplicates() {
        return refuse(codes::INVALID_REQUEST, &e.to_string());
    }
    match params.get("response_type") {
        Some("code") => {}
        None => return refuse(codes::INVALID_REQUEST, "response_type is missing"),
        Some(_) => {
            return refuse(codes::UNSUPPORTED_RESPONSE_TYPE, "only response_type=code is supported");
        }
    }
    let Some(client_state) = client_state else {
        return refuse(codes::INVALID_REQUEST, "state is required (at most 1024 characters)");
    };
    match params.get("code_challenge_method") {
        Some("S256") => {}
        None => {
            return refuse(codes::INVALID_REQUEST, "code_challenge_method is required and must be S256");
        }
        Some("plain") => {
            return refuse(codes::INVALID_REQUEST, "code_challenge_method plain is not allowed; use S256");
        }
        Some(_) => return refuse(codes::INVALID_REQUEST, "code_challenge_method must be S256"),
    }
    let code_challenge = match params.get("code_challenge") {
        None => return refuse(codes::INVALID_REQUEST, "code_challenge is required (PKCE)"),
        Some(c) if !pkce::is_valid_challenge(c) => {
            return refuse(codes::INVALID_REQUEST, "code_challenge must be 43 base64url characters (S256)");
        }
        Some(c) => c,
    };
    // RFC 8707: one resource per token; an unknown one is `invalid_target`. The scopes are the
    // hub's and the resource's.
    let target = match super::resource::target(state, params.get("resource")).await {
        Ok(target) => target,
        Err(e) if e.is_internal() => return Err(e),
        Err(e) => return refuse(codes::INVALID_TARGET, &e.to_string()),
    };
    let scope = match super::resource::scope_for(&target, params.get("scope")) {
        Ok(scope) => scope,
        Err(e) => return refuse(codes::INVALID_SCOPE, &e.to_string()),
    };
    let resource = target.audience.clone();
    let nonce = params.get("nonce");
    if nonce.is_some_and(|n| n.len() > MAX_NONCE_LEN) {
        return refuse(codes::INVALID_REQUEST, "nonce is too long (at most 512 characters)");
    }
    // `max_age` and `prompt=login` always hold: every sign-in authenticates afresh (below).
    if params.get("max_age").is_some_and(|a| !a.parse::<i64>().is_ok_and(|a| a >= 0)) {
        return refuse(codes::INVALID_REQUEST, "max_age must be a non-negative integer");
    }
    let prompts: Vec<&str> = params.get("prompt").unwrap_or("").split(' ').filter(|p| !p.is_empty()).collect();
    let prompt_none = prompts.contains(&"none");
    if prompt_none && prompts.len() > 1 {
        return refuse(codes::INVALID_REQUEST, "prompt=none cannot be combined with other values");
    }

    let now = state.now();
    let pending = PendingAuthorization {
        id: random_id(),
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scope,
        state: client_state.to_owned(),
        nonce: nonce.map(str::to_owned),
        code_challenge: code_challenge.to_owned(),
        created_at: now,
        expires_at: now + PENDING_TTL_SECS,
        resource,
    };

    // RFC 8252 §8.6: whatever listens on a loopback port (or claims a private-use scheme) can
    // receive a native client's code, so a code is never issued without the person acting on
    // this very request, even when the browser is already signed in. `prompt=none` therefore
    // cannot succeed; it says why. In learning mode nobody is authenticated at all, so a silent
    // request (a client that tries `prompt=none` first) gets its code like any other.
    let learning = state.settings.mode == crate::config::Mode::Learning;
    if prompt_none && !learning {
        let signed_in = match cookie(headers, SESSION_COOKIE) {
            Some(c) => state.store.login_session(&SessionId::from_wire(c.to_owned()).hash(), now).await?.is_some(),
            None => false,
        };
        return if signed_in {
            refuse("interaction_required", "a native app's sign-in needs the person to confirm it")
        } else {
            refuse("login_required", "the user is not signed in")
        };
    }
    within_caps(state, ip, now).await?;
    state.store.insert_pending(&pending).await?;
    if learning {
        return crate::learning::sign_in(state, &pending).await;
    }
    // `--sso-only`: straight to the IdP, unless `local=1` asks for the password form (the
    // break-glass path of local admins while the IdP is out).
    if let Some(idp) = &state.sso
        && idp.settings.only
        && params.get("local") != Some("1")
    {
        return Ok(crate::sso::start::hand_off(state, &pending).await.unwrap_or_else(crate::sso::pages::page));
    }
    let form = login_page::FormContext {
        request_id: &pending.id,
        client_name: &client.name,
        redirect_uri: &pending.redirect_uri,
        access: login_page::Access {
            resource: pending.resource.as_deref(),
            resource_name: target.name.as_deref(),
            scope: &pending.scope,
        },
    };
    Ok(login_page::login_form(state, &form, "", None, StatusCode::OK))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_parsing() {
        assert_eq!(parse_scope(Some("openid  profile openid")).unwrap(), "openid profile");
        assert_eq!(parse_scope(None).unwrap(), "");
        assert!(parse_scope(Some("openid admin")).is_err());
    }
}
