//! `POST /login`: checks the form's CSRF token and the credentials, starts a browser
//! session, and issues the authorization code. A person holding a one-time set-password code
//! types it as their password and is asked for a new password (`POST /login/set-password`),
//! then signed in the same way.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

use super::code::{code_redirect, new_code};
use super::login_page::{
    Access, FormContext, WRONG_CREDENTIALS, clear_csrf_cookie, csrf_cookie_name, error_page, internal_error_page,
    login_form, session_cookie, set_page_headers, set_password_form,
};
use crate::accounts::{code_matches, user_changed, validate_new_password};
use crate::audit::{self, Audit};
use crate::clock::secs;
use crate::error::Error;
use crate::http::{Body, Params, cookie};
use crate::secret::{CsrfToken, Password, SessionId};
use crate::state::AppState;
use crate::store::changes::{Applied, Change, Write};
use crate::store::{LoginSession, PendingAuthorization, Store, UserRecord};
use crate::throttle::{self, Attempt, ClientIp};
use crate::users::validate_username;

const DISABLED: &str = "This account is disabled. Ask an administrator.";

/// The double-submit check of both forms.
pub(crate) fn csrf_ok(headers: &HeaderMap, params: &Params) -> bool {
    let cookie_name = params.get("request").and_then(csrf_cookie_name);
    !params.is_duplicated("csrf")
        && !params.is_duplicated("request")
        && match (cookie_name.as_deref().and_then(|n| cookie(headers, n)), params.get("csrf")) {
            (Some(expected), Some(submitted)) => CsrfToken::from_wire(expected.to_owned()).matches(submitted),
            _ => false,
        }
}

pub(crate) fn csrf_refused() -> Response {
    tracing::warn!("sign-in refused: missing or mismatched CSRF token");
    error_page(
        StatusCode::FORBIDDEN,
        "Sign-in form expired",
        "This sign-in form has expired or did not come from this site. Go back to the application and start signing in again.",
    )
}

/// `POST /login`: checks CSRF and credentials, starts a browser session, issues the code.
pub(crate) async fn login<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    Body(mut params): Body<Params>,
) -> Response {
    if !csrf_ok(&headers, &params) {
        return csrf_refused();
    }
    let username = params.take("username").unwrap_or_default();
    let password = Password::new(params.take("password").unwrap_or_default());
    let request_id = params.take("request").unwrap_or_default();
    let attempt = Attempt::new(&username, ip, &request_id);
    match login_inner(&state, &request_id, &username, password, &attempt).await {
        Ok(response) => response,
        Err(e) => throttle::error_response(e),
    }
}

pub(crate) fn expired_request() -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        "Sign-in request expired",
        "This sign-in request has expired or was already used. Go back to the application and start signing in again.",
    )
}

/// The names a sign-in form shows: the client's and the resource's.
struct Names {
    client: String,
    resource: Option<String>,
}

/// The client (built-in, registered or from its metadata document) and resource a pending
/// request is for, by name, as the first form showed them.
async fn names_of<S: Store>(state: &AppState<S>, pending: &PendingAuthorization) -> Result<Names, Error> {
    let client = match super::clients::find(state, &pending.client_id).await {
        Ok(Some(c)) => c.name,
        Ok(None) | Err(Error::OAuth { .. }) => "Keyway".to_owned(),
        Err(e) => return Err(e),
    };
    let resource = match pending.resource.as_deref() {
        Some(uri) => state.store.resource_by_uri(uri).await?.map(|r| r.name),
        None => None,
    };
    Ok(Names { client, resource })
}

fn form_of<'a>(pending: &'a PendingAuthorization, names: &'a Names) -> FormContext<'a> {
    let access = Access {
        resource: pending.resource.as_deref(),
        resource_name: names.resource.as_deref(),
        scope: &pending.scope,
    };
    FormContext { request_id: &pending.id, client_name: &names.client, redirect_uri: &pending.redirect_uri, access }
}

async fn login_inner<S: Store>(
    state: &AppState<S>,
    request_id: &str,
    username: &str,
    password: Password,
    attempt: &Attempt,
) -> Result<Response, Error> {
    let now = state.now();
    let Some(pending) = state.store.pending(request_id, now).await? else {
        return Ok(expired_request());
    };
    if let Some(wait) = attempt.locked(state).await? {
        return Ok(throttle::locked_page(wait));
    }
    let names = names_of(state, &pending).await?;
    let form = form_of(&pending, &names);

    let user = if validate_username(username).is_ok() { state.store.user_by_name(username).await? } else { None };
    // A one-time code is typed where the password goes; it is bound to this request and the
    // person chooses a password next.
    if let Some(u) = user.as_ref().filter(|u| u.is_active())
        && let Some(code) = state.store.set_password_code(&u.id, now).await?
        && code_matches(&code, password.expose())
        && state.store.bind_set_password_code(&u.id, request_id, now).await?
    {
        tracing::info!(user = %u.id, "one-time code accepted; asking for a new password");
        return Ok(set_password_form(state, &form, &u.username, None, StatusCode::OK));
    }
    // Same work for unknown users and wrong passwords: the dummy hash is verified instead.
    let stored = user.as_ref().map(|u| u.password_hash.clone()).filter(|h| !h.is_empty());
    let verified = state.passwords.verify(password, stored).await?;
    let user = match user {
        Some(user) if verified && user.is_active() => user,
        user => {
            // The username is not logged: people type passwords into it by mistake. A failed
            // sign-in changes nothing: its row is one append of its own.
            let disabled = verified && user.is_some();
            let failed = match &user {
                Some(u) => {
                    let reason = if disabled { "disabled" } else { "wrong_password" };
                    Audit::by_user(&u.id, &u.username, now, "session.sign_in_failed")
                        .detail(serde_json::json!({ "reason": reason, "client": pending.client_id }))
                }
                None => Audit::by_holder(None, now, "session.sign_in_failed")
                    .detail(serde_json::json!({ "reason": "unknown_user", "client": pending.client_id })),
            };
            audit::record(&state.store, failed.target("client", &pending.client_id).outcome("invalid_credential"))
                .await?;
            if disabled {
                tracing::info!("sign-in refused: the account is disabled");
                return Ok(login_form(state, &form, username, Some(DISABLED), StatusCode::FORBIDDEN));
            }
            tracing::info!("sign-in failed: wrong username or password");
            if attempt.failed(state, user.as_ref().map(|u| u.id.as_str())).await? {
                state.store.take_pending(request_id, now).await?;
                attempt.forget_request(state).await?;
                return Ok(throttle::used_up_page());
            }
            return Ok(login_form(state, &form, username, Some(WRONG_CREDENTIALS), StatusCode::UNAUTHORIZED));
        }
    };
    attempt.succeeded(state).await?;
    signed_in(state, request_id, &user, now).await
}

/// `POST /login/set-password`: the new password of a person whose one-time code was accepted
/// for this very sign-in request.
pub(crate) async fn set_password<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Body(mut params): Body<Params>,
) -> Response {
    if !csrf_ok(&headers, &params) {
        return csrf_refused();
    }
    let username = params.take("username").unwrap_or_default();
    let password = Password::new(params.take("password").unwrap_or_default());
    let confirm = Password::new(params.take("confirm").unwrap_or_default());
    let request_id = params.take("request").unwrap_or_default();
    match set_password_inner(&state, &request_id, &username, password, confirm).await {
        Ok(response) => response,
        Err(e) => internal_error_page(e),
    }
}

async fn set_password_inner<S: Store>(
    state: &AppState<S>,
    request_id: &str,
    username: &str,
    password: Password,
    confirm: Password,
) -> Result<Response, Error> {
    let now = state.now();
    let Some(pending) = state.store.pending(request_id, now).await? else {
        return Ok(expired_request());
    };
    let names = names_of(state, &pending).await?;
    let form = form_of(&pending, &names);
    let user = if validate_username(username).is_ok() { state.store.user_by_name(username).await? } else { None };
    let Some(user) = user.filter(|u| u.is_active()) else {
        return Ok(code_expired());
    };
    let bound = state.store.set_password_code(&user.id, now).await?;
    if bound.and_then(|c| c.request_id).as_deref() != Some(request_id) {
        return Ok(code_expired());
    }
    if password.expose() != confirm.expose() {
        let error = Some("The two passwords do not match.");
        return Ok(set_password_form(state, &form, &user.username, error, StatusCode::UNPROCESSABLE_ENTITY));
    }
    if let Err(e) = validate_new_password(&user.username, &password) {
        let error = e.to_string();
        return Ok(set_password_form(state, &form, &user.username, Some(&error), StatusCode::UNPROCESSABLE_ENTITY));
    }
    let hash = state.passwords.hash(password).await?;
    let event = Audit::by_user(&user.id, &user.username, now, "user.password_set").target("user", &user.id).event();
    let change = Change::new()
        .then(Write::SetUserPassword { id: &user.id, hash: &hash })
        .then(Write::ClearSetPasswordCode { user_id: &user.id })
        .audit(&event);
    let applied = state.store.apply(&change).await?;
    user_changed(state, &user.id).await;
    if applied != Applied::Done {
        return Ok(code_expired());
    }
    tracing::info!(user = %user.id, "password set with a one-time code");
    signed_in(state, request_id, &user, now).await
}

fn code_expired() -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        "One-time code expired",
        "This one-time code has expired or was already used. Ask an administrator for a new one.",
    )
}

/// The person is who they said: take the request (single use), start the browser session,
/// issue the code.
async fn signed_in<S: Store>(
    state: &AppState<S>,
    request_id: &str,
    user: &UserRecord,
    now: i64,
) -> Result<Response, Error> {
    let Some(pending) = state.store.pending(request_id, now).await? else {
        return Ok(expired_request());
    };
    // One change: the request is used up (a second submission of the same form finds nothing),
    // the browser session and the code are stored, and the sign-in is audited.
    let sign_in = SignIn::new(state, &pending, &user.id, now);
    let event = Audit::by_user(&user.id, &user.username, now, "session.sign_in")
        .target("client", &pending.client_id)
        .detail(serde_json::json!({ "method": "password" }))
        .event();
    let change = Change { writes: sign_in.writes(now).into() }.audit(&event);
    if let Applied::Stopped { .. } = state.store.apply(&change).await? {
        return Ok(expired_request());
    }
    tracing::info!(user = %user.id, username = ?user.username, "signed in");
    Ok(sign_in.response(state))
}

/// What every successful sign-in (password or the upstream IdP) stores and answers: the
/// browser session, the code, and the redirect back to the client with the session cookie.
pub(crate) struct SignIn<'p> {
    pending: &'p PendingAuthorization,
    session_id: SessionId,
    session: LoginSession,
    code: crate::secret::AuthorizationCode,
    code_record: crate::store::CodeRecord,
    ttl: i64,
}

impl<'p> SignIn<'p> {
    pub(crate) fn new<S>(state: &AppState<S>, pending: &'p PendingAuthorization, user_id: &str, now: i64) -> Self {
        let session_id = SessionId::generate();
        let ttl = secs(state.settings.login_session_ttl);
        let session = LoginSession {
            id_hash: session_id.hash(),
            user_id: user_id.to_owned(),
            auth_time: now,
            expires_at: now.saturating_add(ttl),
        };
        let (code, code_record) = new_code(state, pending, user_id, now);
        SignIn { pending, session_id, session, code, code_record, ttl }
    }

    /// The writes of the sign-in's change: the pending request taken (single use), the browser
    /// session and the code stored. The caller adds its audit rows.
    pub(crate) fn writes(&self, now: i64) -> [Write<'_>; 3] {
        [
            Write::TakePending { id: &self.pending.id, now },
            Write::InsertLoginSession(&self.session),
            Write::InsertCode(&self.code_record),
        ]
    }

    /// The redirect with the code, once the change is applied.
    pub(crate) fn response<S>(&self, state: &AppState<S>) -> Response {
        let mut response = code_redirect(state, self.pending, &self.code);
        let headers = response.headers_mut();
        set_page_headers(headers);
        let mut cookies = vec![session_cookie(&self.session_id, self.ttl, state.secure_cookies)];
        cookies.extend(csrf_cookie_name(&self.pending.id).map(|name| clear_csrf_cookie(&name, state.secure_cookies)));
        for c in cookies {
            if let Ok(v) = HeaderValue::from_str(&c) {
                headers.append(header::SET_COOKIE, v);
            }
        }
        response
    }
}
