//! `POST /login`: checks the form's CSRF token and the credentials, starts a browser
//! session, and issues the authorization code.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

use super::code::{code_redirect, new_code};
use super::login_page::{
    FormContext, WRONG_CREDENTIALS, clear_csrf_cookie, csrf_cookie_name, error_page, internal_error_page, login_form,
    session_cookie, set_page_headers,
};
use crate::audit::{self, Audit};
use crate::clock::secs;
use crate::error::Error;
use crate::http::{Body, Params, cookie};
use crate::secret::{CsrfToken, Password, SessionId};
use crate::state::AppState;
use crate::store::changes::{Applied, Change, Write};
use crate::store::{LoginSession, Store};
use crate::users::validate_username;

/// `POST /login`: checks CSRF and credentials, starts a browser session, issues the code.
pub(crate) async fn login<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Body(mut params): Body<Params>,
) -> Response {
    let cookie_name = params.get("request").and_then(csrf_cookie_name);
    let csrf_ok = !params.is_duplicated("csrf")
        && !params.is_duplicated("request")
        && match (cookie_name.as_deref().and_then(|n| cookie(&headers, n)), params.get("csrf")) {
            (Some(expected), Some(submitted)) => CsrfToken::from_wire(expected.to_owned()).matches(submitted),
            _ => false,
        };
    if !csrf_ok {
        tracing::warn!("sign-in refused: missing or mismatched CSRF token");
        return error_page(
            StatusCode::FORBIDDEN,
            "Sign-in form expired",
            "This sign-in form has expired or did not come from this site. Go back to the application and start signing in again.",
        );
    }
    let username = params.take("username").unwrap_or_default();
    let password = Password::new(params.take("password").unwrap_or_default());
    let request_id = params.take("request").unwrap_or_default();
    match login_inner(&state, &request_id, &username, password).await {
        Ok(response) => response,
        Err(e) => internal_error_page(e),
    }
}

fn expired_request() -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        "Sign-in request expired",
        "This sign-in request has expired or was already used. Go back to the application and start signing in again.",
    )
}

async fn login_inner<S: Store>(
    state: &AppState<S>,
    request_id: &str,
    username: &str,
    password: Password,
) -> Result<Response, Error> {
    let now = state.now();
    let Some(pending) = state.store.pending(request_id, now).await? else {
        return Ok(expired_request());
    };
    let client_name = state.clients.get(&pending.client_id).map_or("Keyway", |c| c.name.as_str());

    // Same work for unknown users and wrong passwords: the dummy hash is verified instead.
    let user = if validate_username(username).is_ok() { state.store.user_by_name(username).await? } else { None };
    let verified = state.passwords.verify(password, user.as_ref().map(|u| u.password_hash.clone())).await?;
    let user = match user {
        Some(user) if verified => user,
        user => {
            // The username is not logged: people type passwords into it by mistake. A failed
            // sign-in changes nothing: its row is one append of its own.
            tracing::info!("sign-in failed: wrong username or password");
            let failed = match &user {
                Some(u) => Audit::by_user(&u.id, &u.username, now, "session.sign_in_failed")
                    .detail(serde_json::json!({ "reason": "wrong_password", "client": pending.client_id })),
                None => Audit::by_holder(None, now, "session.sign_in_failed")
                    .detail(serde_json::json!({ "reason": "unknown_user", "client": pending.client_id })),
            };
            audit::record(&state.store, failed.target("client", &pending.client_id).outcome("invalid_credential"))
                .await?;
            let form = FormContext { request_id, client_name, redirect_uri: &pending.redirect_uri };
            return Ok(login_form(state, &form, username, Some(WRONG_CREDENTIALS), StatusCode::UNAUTHORIZED));
        }
    };

    // One change: the request is used up (a second submission of the same form finds nothing),
    // the browser session and the code are stored, and the sign-in is audited.
    let session_id = SessionId::generate();
    let ttl = secs(state.settings.login_session_ttl);
    let session = LoginSession {
        id_hash: session_id.hash(),
        user_id: user.id.clone(),
        auth_time: now,
        expires_at: now.saturating_add(ttl),
    };
    let (code, code_record) = new_code(state, &pending, &user.id, now);
    let event = Audit::by_user(&user.id, &user.username, now, "session.sign_in")
        .target("client", &pending.client_id)
        .detail(serde_json::json!({ "method": "password" }))
        .event();
    let change = Change::new()
        .then(Write::TakePending { id: request_id, now })
        .then(Write::InsertLoginSession(&session))
        .then(Write::InsertCode(&code_record))
        .audit(&event);
    if let Applied::Stopped { .. } = state.store.apply(&change).await? {
        return Ok(expired_request());
    }
    tracing::info!(user = %user.id, username = ?user.username, "signed in");
    let mut response = code_redirect(state, &pending, &code);
    let headers = response.headers_mut();
    set_page_headers(headers);
    let mut cookies = vec![session_cookie(&session_id, ttl, state.secure_cookies)];
    cookies.extend(csrf_cookie_name(request_id).map(|name| clear_csrf_cookie(&name, state.secure_cookies)));
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            headers.append(header::SET_COOKIE, v);
        }
    }
    Ok(response)
}
