//! The hand-off to the IdP: `POST /login/sso` (the sign-in form's "Sign in with …" button) and,
//! with `--sso-only`, `/oauth/authorize` itself. The IdP is sent state, nonce and a PKCE S256
//! challenge; the hub keeps their other halves in the database, bound to the pending request
//! (so any hub of the database takes the answer), and the state in a cookie of this browser.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;

use super::error::SsoError;
use crate::http::{Body, Params};
use crate::oauth::code::{found, redirect_with};
use crate::oauth::login::{csrf_ok, csrf_refused, expired_request};
use crate::oauth::login_page::internal_error_page;
use crate::oauth::pkce::s256_challenge;
use crate::secret::{TokenHash, random_base62};
use crate::state::AppState;
use crate::store::{PendingAuthorization, SsoRequest, Store};

/// The path of the hub's redirect URI at the IdP.
pub(crate) const CALLBACK_PATH: &str = "/sso/callback";
/// Random characters of state, nonce (≈ 256 bits each) and the PKCE verifier.
const STATE_CHARS: usize = 43;
const VERIFIER_CHARS: usize = 64;

/// The cookie that ties the IdP's answer to the browser that was sent there.
pub(crate) fn state_cookie_name(request_id: &str) -> String {
    format!("kw_sso_{request_id}")
}

/// `POST /login/sso`: the sign-in form's button (CSRF-checked like the password form).
pub(crate) async fn start<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Body(params): Body<Params>,
) -> Response {
    if !csrf_ok(&headers, &params) {
        return csrf_refused();
    }
    let request_id = params.get("request").unwrap_or_default();
    let pending = match state.store.pending(request_id, state.now()).await {
        Ok(Some(pending)) => pending,
        Ok(None) => return expired_request(),
        Err(e) => return internal_error_page(e.into()),
    };
    hand_off(&state, &pending).await.unwrap_or_else(super::pages::page)
}

/// The redirect to the IdP's authorization endpoint for `pending`.
pub(crate) async fn hand_off<S: Store>(
    state: &AppState<S>,
    pending: &PendingAuthorization,
) -> Result<Response, SsoError> {
    let Some(idp) = state.sso.as_ref() else {
        return Err(SsoError::Misconfigured("this Keyway hub signs in through no identity provider".into()));
    };
    let meta = idp.metadata().await?;
    let now = state.now();
    let client_state = random_base62(STATE_CHARS);
    let nonce = random_base62(STATE_CHARS);
    let verifier = random_base62(VERIFIER_CHARS);
    let request = SsoRequest {
        state_hash: TokenHash::of(&client_state),
        request_id: pending.id.clone(),
        nonce: nonce.clone(),
        verifier: verifier.clone(),
        created_at: now,
        expires_at: pending.expires_at,
    };
    state.store.insert_sso_request(&request).await?;

    let mut scopes = vec!["openid", "email", "profile"];
    let groups = idp.settings.groups_claim.as_str();
    if meta.scopes.iter().any(|s| s == groups) {
        scopes.push(groups);
    }
    let scope = scopes.join(" ");
    let challenge = s256_challenge(&verifier);
    let redirect_uri = state.endpoint(CALLBACK_PATH);
    let location = redirect_with(
        meta.authorization_endpoint.as_str(),
        &[
            ("response_type", "code"),
            ("client_id", &idp.settings.client_id),
            ("redirect_uri", &redirect_uri),
            ("scope", &scope),
            ("state", &client_state),
            ("nonce", &nonce),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    tracing::info!(request = %pending.id, "handing the sign-in off to the identity provider");
    let mut response = found(&location);
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    // Lax: the IdP's answer is a top-level GET navigation from its site.
    let max_age = (pending.expires_at - now).max(0);
    let cookie = format!(
        "{}={client_state}; Path={CALLBACK_PATH}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}",
        state_cookie_name(&pending.id)
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}
