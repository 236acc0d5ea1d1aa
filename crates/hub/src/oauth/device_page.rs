//! `/device`: where a person approves a device's sign-in (RFC 8628 §3.3). They type the user
//! code (a `verification_uri_complete` link only fills it in), sign in with their hub password
//! unless their browser is signed in already, see which client asks for which scopes and
//! resource, from where and when, and approve or deny it with an explicit click: nothing is
//! approved by following a link. Forms carry a double-submit CSRF token (`kw_csrf_device`,
//! Path=/device); wrong codes are counted per person and per client address.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::device::LIMIT_WINDOW_SECS;
use super::login_page::{SESSION_COOKIE, document, error_page, escape, html, internal_error_page, session_cookie};
use crate::audit::Audit;
use crate::clock::secs;
use crate::error::Error;
use crate::http::{Body, Params, cookie};
use crate::secret::{CsrfToken, Password, SessionId, normalize_user_code};
use crate::state::AppState;
use crate::store::changes::{Change, Write};
use crate::store::{DeviceRecord, LoginSession, Store, UserRecord};
use crate::throttle::{self, Attempt, ClientIp};
use crate::users::validate_username;

const CSRF_COOKIE: &str = "kw_csrf_device";
/// Wrong user codes one person may type in a window.
const WRONG_CODES_PER_USER: u32 = 10;
/// Wrong user codes one client address may type in a window.
const WRONG_CODES_PER_ADDRESS: u32 = 30;

fn csrf_cookie(token: &CsrfToken, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{CSRF_COOKIE}={}; Path=/device; Max-Age=900; HttpOnly; SameSite=Strict{secure}", token.expose())
}

fn csrf_ok(headers: &HeaderMap, params: &Params) -> bool {
    !params.is_duplicated("csrf")
        && match (cookie(headers, CSRF_COOKIE), params.get("csrf")) {
            (Some(expected), Some(submitted)) => CsrfToken::from_wire(expected.to_owned()).matches(submitted),
            _ => false,
        }
}

fn error_html(error: Option<&str>) -> String {
    error.map_or_else(String::new, |m| format!("<p class=\"error\" role=\"alert\">{}</p>\n", escape(m)))
}

/// The code form, with the sign-in fields when the browser is not signed in.
fn entry_page<S>(
    state: &AppState<S>,
    code: &str,
    signed_in: bool,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let csrf = CsrfToken::generate();
    let credentials = if signed_in {
        String::new()
    } else {
        "<label for=\"username\">Username</label>\n<input id=\"username\" name=\"username\" type=\"text\" \
         autocomplete=\"username\" autocapitalize=\"none\" spellcheck=\"false\" required>\n\
         <label for=\"password\">Password</label>\n<input id=\"password\" name=\"password\" type=\"password\" \
         autocomplete=\"current-password\" required>\n"
            .to_owned()
    };
    let body = format!(
        "<h1>Connect a device</h1>\n<p>Type the code your device shows. You will see which application asks \
         before anything is approved.</p>\n{error}<form method=\"post\" action=\"/device\">\n\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n<label for=\"user_code\">Code</label>\n\
         <input id=\"user_code\" name=\"user_code\" type=\"text\" autocomplete=\"off\" autocapitalize=\"characters\" \
         spellcheck=\"false\" required autofocus value=\"{code}\">\n{credentials}\
         <button type=\"submit\">Continue</button>\n</form>\n",
        error = error_html(error),
        csrf = escape(csrf.expose()),
        code = escape(code),
    );
    html(status, document("Connect a device", &body), &[csrf_cookie(&csrf, state.secure_cookies)])
}

/// The page that shows what is asked, with Approve and Deny.
fn confirm_page(device: &DeviceRecord, client_name: &str, user: &UserRecord, csrf: &str, now: i64) -> String {
    let scopes = if device.scope.is_empty() { "none".to_owned() } else { device.scope.clone() };
    let resource = device.resource.clone().unwrap_or_else(|| "this Keyway hub's API".to_owned());
    let body = format!(
        "<h1>Approve this device?</h1>\n<p><strong>{client}</strong> (<code>{client_id}</code>) asks to act as \
         <strong>{user}</strong>.</p>\n<dl>\n<dt>Scopes</dt><dd>{scopes}</dd>\n<dt>Resource</dt><dd>{resource}</dd>\n\
         <dt>Asked from</dt><dd>{address}</dd>\n<dt>Asked</dt><dd>{age} seconds ago</dd>\n\
         <dt>Code</dt><dd>{code}</dd>\n</dl>\n<p>Approve only if you started this sign-in yourself, on a device \
         you trust, and it shows this code.</p>\n<form method=\"post\" action=\"/device/decide\">\n\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
         <input type=\"hidden\" name=\"user_code\" value=\"{code}\">\n\
         <button type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>\n\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\n</form>\n",
        client = escape(client_name),
        client_id = escape(&device.client_id),
        user = escape(&user.username),
        scopes = escape(&scopes),
        resource = escape(&resource),
        address = escape(device.address.as_deref().unwrap_or("unknown")),
        age = (now - device.created_at).max(0),
        code = escape(&device.user_code),
        csrf = escape(csrf),
    );
    document("Approve this device?", &body)
}

/// The signed-in person of this browser, if any.
async fn session_of<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
) -> Result<Option<(LoginSession, UserRecord)>, Error> {
    let Some(raw) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let Some(session) = state.store.login_session(&SessionId::from_wire(raw.to_owned()).hash(), state.now()).await?
    else {
        return Ok(None);
    };
    Ok(state.store.user_by_id(&session.user_id).await?.filter(UserRecord::is_active).map(|u| (session, u)))
}

/// `GET /device[?user_code=…]`: the code form; a code in the link is only filled in.
pub(crate) async fn show<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref().unwrap_or("").as_bytes());
    let code = params.get("user_code").and_then(normalize_user_code).unwrap_or_default();
    match session_of(&state, &headers).await {
        Ok(session) => entry_page(&state, &code, session.is_some(), None, StatusCode::OK),
        Err(e) => internal_error_page(e),
    }
}

/// `POST /device`: signs in if needed, looks the code up, and shows what it asks.
pub(crate) async fn enter<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    Body(mut params): Body<Params>,
) -> Response {
    if !csrf_ok(&headers, &params) {
        return forged();
    }
    match enter_inner(&state, &headers, ip, &mut params).await {
        Ok(response) => response,
        Err(e) => throttle::error_response(e),
    }
}

fn forged() -> Response {
    tracing::warn!("device page refused: missing or mismatched CSRF token");
    error_page(
        StatusCode::FORBIDDEN,
        "Form expired",
        "This form has expired or did not come from this site. Open the device page again.",
    )
}

/// Is `key` over `limit` wrong codes in its window?
async fn over<S: Store>(state: &AppState<S>, key: &str, limit: u32) -> Result<bool, Error> {
    let now = state.now();
    Ok(state
        .store
        .throttle(key)
        .await?
        .is_some_and(|r| r.failures >= limit && r.window_start > now - LIMIT_WINDOW_SECS))
}

/// The throttle keys of wrong user codes: per person, per client address.
fn wrong_code_keys(user_id: &str, ip: std::net::IpAddr) -> [String; 2] {
    [format!("device-code:{user_id}"), format!("device-code-address:{ip}")]
}

/// True if this person or this address typed too many wrong codes lately (the page and
/// `POST /oauth/device/…` count together).
pub(super) async fn too_many_wrong_codes<S: Store>(
    state: &AppState<S>,
    user_id: &str,
    ip: std::net::IpAddr,
) -> Result<bool, Error> {
    let [user_key, address_key] = wrong_code_keys(user_id, ip);
    Ok(over(state, &user_key, WRONG_CODES_PER_USER).await?
        || over(state, &address_key, WRONG_CODES_PER_ADDRESS).await?)
}

/// Counts one wrong (or expired, or answered) code against this person and this address.
pub(super) async fn wrong_code<S: Store>(
    state: &AppState<S>,
    user_id: &str,
    ip: std::net::IpAddr,
) -> Result<(), Error> {
    let now = state.now();
    for key in wrong_code_keys(user_id, ip) {
        state.store.throttle_fail(&key, now, LIMIT_WINDOW_SECS).await?;
    }
    Ok(())
}

async fn enter_inner<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
    ip: std::net::IpAddr,
    params: &mut Params,
) -> Result<Response, Error> {
    let now = state.now();
    let typed = params.get("user_code").unwrap_or("").to_owned();
    let mut cookies = Vec::new();
    let mut fresh_csrf = None;
    let (user, csrf) = match session_of(state, headers).await? {
        Some((_, user)) => (user, params.get("csrf").unwrap_or("").to_owned()),
        None => {
            let username = params.take("username").unwrap_or_default();
            let password = Password::new(params.take("password").unwrap_or_default());
            let attempt = Attempt::new(&username, ip, "device");
            if let Some(wait) = attempt.locked(state).await? {
                return Ok(throttle::locked_page(wait));
            }
            let found =
                if validate_username(&username).is_ok() { state.store.user_by_name(&username).await? } else { None };
            let stored = found.as_ref().map(|u| u.password_hash.clone()).filter(|h| !h.is_empty());
            let verified = state.passwords.verify(password, stored).await?;
            let Some(user) = found.filter(|u| verified && u.is_active()) else {
                attempt.failed(state, None).await?;
                let error = Some(super::login_page::WRONG_CREDENTIALS);
                return Ok(entry_page(state, &typed, false, error, StatusCode::UNAUTHORIZED));
            };
            attempt.succeeded(state).await?;
            let session_id = SessionId::generate();
            let ttl = secs(state.settings.login_session_ttl);
            let session = LoginSession {
                id_hash: session_id.hash(),
                user_id: user.id.clone(),
                auth_time: now,
                expires_at: now.saturating_add(ttl),
            };
            let event = Audit::by_user(&user.id, &user.username, now, "session.sign_in")
                .target("page", "device")
                .detail(json!({ "method": "password" }))
                .event();
            state.store.apply(&Change::new().then(Write::InsertLoginSession(&session)).audit(&event)).await?;
            cookies.push(session_cookie(&session_id, ttl, state.secure_cookies));
            // The form's token was seen with a password: the confirmation carries a fresh one.
            let csrf = CsrfToken::generate();
            fresh_csrf = Some(csrf_cookie(&csrf, state.secure_cookies));
            (user, csrf.expose().to_owned())
        }
    };
    if too_many_wrong_codes(state, &user.id, ip).await? {
        let mut page = error_page(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many wrong codes",
            "Too many wrong codes were typed. Wait a few minutes, then try again.",
        );
        page.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(60));
        return Ok(page);
    }
    let device = match normalize_user_code(&typed) {
        Some(code) => state.store.device_by_user_code(&code, now).await?,
        None => None,
    };
    let Some(device) = device else {
        wrong_code(state, &user.id, ip).await?;
        tracing::info!(user = %user.id, "device page: wrong or expired user code");
        let mut page = entry_page(
            state,
            &typed,
            true,
            Some("That code is not valid, or it has expired or been used."),
            StatusCode::NOT_FOUND,
        );
        append_cookies(&mut page, &cookies);
        return Ok(page);
    };
    let client_name =
        super::clients::find(state, &device.client_id).await?.map_or(device.client_id.clone(), |c| c.name);
    cookies.extend(fresh_csrf);
    Ok(html(StatusCode::OK, confirm_page(&device, &client_name, &user, &csrf, now), &cookies))
}

fn append_cookies(response: &mut Response, cookies: &[String]) {
    for c in cookies {
        if let Ok(v) = axum::http::HeaderValue::from_str(c) {
            response.headers_mut().append(axum::http::header::SET_COOKIE, v);
        }
    }
}

/// `POST /device/decide`: the signed-in person's Approve or Deny.
pub(crate) async fn decide<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Body(params): Body<Params>,
) -> Response {
    if !csrf_ok(&headers, &params) {
        return forged();
    }
    match decide_inner(&state, &headers, &params).await {
        Ok(response) => response,
        Err(e) => internal_error_page(e),
    }
}

async fn decide_inner<S: Store>(state: &AppState<S>, headers: &HeaderMap, params: &Params) -> Result<Response, Error> {
    let Some((session, user)) = session_of(state, headers).await? else {
        return Ok(error_page(
            StatusCode::UNAUTHORIZED,
            "Not signed in",
            "Your sign-in on this page has ended. Open the device page again.",
        ));
    };
    let approve = match params.get("decision") {
        Some("approve") if !params.is_duplicated("decision") => true,
        Some("deny") if !params.is_duplicated("decision") => false,
        _ => return Ok(error_page(StatusCode::BAD_REQUEST, "No decision", "Choose Approve or Deny.")),
    };
    let now = state.now();
    let code = params.get("user_code").and_then(normalize_user_code);
    let device = match &code {
        Some(code) => state.store.device_by_user_code(code, now).await?,
        None => None,
    };
    let expired = || {
        error_page(
            StatusCode::NOT_FOUND,
            "Code expired",
            "This code has expired or was already answered. Start again on your device.",
        )
    };
    let Some(device) = device else {
        return Ok(expired());
    };
    let action = if approve { "device.approve" } else { "device.deny" };
    let event = Audit::by_user(&user.id, &user.username, now, action)
        .target("client", &device.client_id)
        .detail(json!({ "scope": device.scope, "resource": device.resource, "address": device.address }))
        .event();
    if !state.store.decide_device(&device.user_code, approve, &user.id, session.auth_time, now, &event).await? {
        return Ok(expired());
    }
    tracing::info!(user = %user.id, client = %device.client_id, approve, "device authorization decided");
    Ok(if approve {
        error_page(StatusCode::OK, "Device approved", "The device is signed in. You can close this page.")
    } else {
        error_page(StatusCode::OK, "Device denied", "The device was not signed in. You can close this page.")
    })
}
