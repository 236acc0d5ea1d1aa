//! The server-rendered sign-in page and `POST /login`.
//!
//! Plain HTML, no JavaScript. CSRF protection is double-submit: a random token in the
//! `kw_csrf_<request>` cookie (HttpOnly, SameSite=Strict, Path=/login) and the same token in a hidden
//! field, compared in constant time.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::authorize::{PENDING_TTL_SECS, issue_code};
use super::{AppState, FormParams, cookie};
use crate::clock::secs;
use crate::error::Error;
use crate::secret::{CsrfToken, Password, SessionId};
use crate::store::{LoginSession, Store};
use crate::users::validate_username;

pub(crate) const CSRF_COOKIE: &str = "kw_csrf";
pub(crate) const SESSION_COOKIE: &str = "kw_session";
pub(crate) const WRONG_CREDENTIALS: &str = "Wrong username or password.";

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f4f5f7;color:#1b1d21;margin:0}\
main{max-width:22rem;margin:10vh auto;padding:2rem;background:#fff;border-radius:8px;\
box-shadow:0 1px 4px rgba(0,0,0,.15)}h1{font-size:1.4rem;margin:0 0 .5rem}\
p{line-height:1.4}label{display:block;margin:1rem 0 .25rem;font-weight:600}\
input{box-sizing:border-box;width:100%;padding:.5rem;font-size:1rem;border:1px solid #8a8f98;border-radius:4px}\
input:focus,button:focus{outline:3px solid #2b6cb0;outline-offset:1px}\
button{margin-top:1.5rem;width:100%;padding:.6rem;font-size:1rem;border:0;border-radius:4px;\
background:#1f5fa8;color:#fff;cursor:pointer}.error{color:#a4161a;font-weight:600}";

/// HTML-escapes text for element content and quoted attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

fn document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n\
         <body>\n<main>\n{body}</main>\n</body>\n</html>\n",
        title = escape(title),
    )
}

/// The sign-in form.
pub(crate) fn render_login(
    request_id: &str,
    csrf: &str,
    client_name: &str,
    username: &str,
    error: Option<&str>,
) -> String {
    let error_html = match error {
        Some(message) => format!("<p class=\"error\" role=\"alert\" id=\"login-error\">{}</p>\n", escape(message)),
        None => String::new(),
    };
    let described_by = if error.is_some() { " aria-describedby=\"login-error\"" } else { "" };
    // After a failed attempt the name is filled in: focus the password instead.
    let (username_focus, password_focus) = if username.is_empty() { (" autofocus", "") } else { ("", " autofocus") };
    let body = format!(
        "<h1>Sign in to Keyway</h1>\n<p>to continue to {client}</p>\n{error_html}\
         <form method=\"post\" action=\"/login\">\n\
         <input type=\"hidden\" name=\"request\" value=\"{request}\">\n\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
         <label for=\"username\">Username</label>\n\
         <input id=\"username\" name=\"username\" type=\"text\" autocomplete=\"username\" autocapitalize=\"none\" \
         spellcheck=\"false\" required{username_focus} value=\"{username}\"{described_by}>\n\
         <label for=\"password\">Password</label>\n\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required{password_focus}>\n\
         <button type=\"submit\">Sign in</button>\n</form>\n",
        client = escape(client_name),
        request = escape(request_id),
        csrf = escape(csrf),
        username = escape(username),
    );
    document("Sign in to Keyway", &body)
}

/// A page with a heading and a message.
pub(crate) fn render_message(title: &str, message: &str) -> String {
    document(title, &format!("<h1>{}</h1>\n<p>{}</p>\n", escape(title), escape(message)))
}

/// An HTML response with the hub's page security headers and the given `Set-Cookie`s.
pub(crate) fn html(status: StatusCode, body: String, cookies: &[String]) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    set_page_headers(headers);
    for c in cookies {
        match HeaderValue::from_str(c) {
            Ok(v) => {
                headers.append(header::SET_COOKIE, v);
            }
            Err(_) => tracing::error!("dropping a cookie that is not a valid header"),
        }
    }
    response
}

/// Content-Security-Policy of every page.
pub(crate) const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'";

fn set_page_headers(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
}

/// CSP source for where the sign-in form's POST finally redirects. Browsers (Chromium,
/// Firefox) apply `form-action` to the redirects that follow a form submission, so the
/// client's redirect URI must be allowed there or the 302 after a successful sign-in is
/// blocked.
fn redirect_source(redirect_uri: &str) -> Option<String> {
    let url = url::Url::parse(redirect_uri).ok()?;
    match url.scheme() {
        "http" | "https" => Some(url.origin().ascii_serialization()),
        scheme => Some(format!("{scheme}:")),
    }
}

pub(crate) fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    html(status, render_message(title, message), &[])
}

/// Logs an internal failure and shows a generic page.
pub(crate) fn internal_error_page(err: Error) -> Response {
    if err.is_internal() {
        tracing::error!(error = %crate::error::report(&err), "sign-in request failed");
    }
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "The Keyway hub could not handle this sign-in. Please try again in a moment.",
    )
}

fn cookie_attrs(secure: bool) -> &'static str {
    if secure { "; Secure" } else { "" }
}

/// The CSRF cookie is named after its pending request, so two sign-ins under way in one browser
/// (the app and the CLI at once, say) each keep their own. `None` for a request id that could
/// not be part of a cookie name: such a request does not exist.
fn csrf_cookie_name(request_id: &str) -> Option<String> {
    let ok = !request_id.is_empty()
        && request_id.len() <= 64
        && request_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| format!("{CSRF_COOKIE}_{request_id}"))
}

fn csrf_cookie(name: &str, token: &CsrfToken, secure: bool) -> String {
    format!(
        "{name}={}; Path=/login; Max-Age={PENDING_TTL_SECS}; HttpOnly; SameSite=Strict{}",
        token.expose(),
        cookie_attrs(secure)
    )
}

fn clear_csrf_cookie(name: &str, secure: bool) -> String {
    format!("{name}=; Path=/login; Max-Age=0; HttpOnly; SameSite=Strict{}", cookie_attrs(secure))
}

fn session_cookie(id: &SessionId, max_age: i64, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{}",
        id.expose(),
        cookie_attrs(secure)
    )
}

/// What the sign-in form is for.
pub(crate) struct FormContext<'a> {
    pub(crate) request_id: &'a str,
    pub(crate) client_name: &'a str,
    pub(crate) redirect_uri: &'a str,
}

/// The sign-in form with a fresh CSRF token (cookie + hidden field).
pub(crate) fn login_form<S>(
    state: &AppState<S>,
    form: &FormContext<'_>,
    username: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let csrf = CsrfToken::generate();
    let body = render_login(form.request_id, csrf.expose(), form.client_name, username, error);
    let cookies: Vec<String> = csrf_cookie_name(form.request_id)
        .map(|name| csrf_cookie(&name, &csrf, state.secure_cookies))
        .into_iter()
        .collect();
    let mut response = html(status, body, &cookies);
    if let Some(source) = redirect_source(form.redirect_uri)
        && let Ok(value) = HeaderValue::from_str(&format!("{CSP} {source}"))
    {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// `POST /login`: checks CSRF and credentials, starts a browser session, issues the code.
pub(crate) async fn login<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    FormParams(mut params): FormParams,
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
        _ => {
            // The username is not logged: people type passwords into it by mistake.
            tracing::info!("sign-in failed: wrong username or password");
            let form = FormContext { request_id, client_name, redirect_uri: &pending.redirect_uri };
            return Ok(login_form(state, &form, username, Some(WRONG_CREDENTIALS), StatusCode::UNAUTHORIZED));
        }
    };

    // Single use: a second submission of the same form finds nothing.
    let Some(pending) = state.store.take_pending(request_id, now).await? else {
        return Ok(expired_request());
    };
    let session_id = SessionId::generate();
    let ttl = secs(state.settings.login_session_ttl);
    state
        .store
        .insert_login_session(&LoginSession {
            id_hash: session_id.hash(),
            user_id: user.id.clone(),
            auth_time: now,
            expires_at: now.saturating_add(ttl),
        })
        .await?;
    tracing::info!(user = %user.id, username = ?user.username, "signed in");
    let mut response = issue_code(state, &pending, &user.id, now).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(escape(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;&#x27;&lt;/a&gt;");
    }

    #[test]
    fn form_action_sources() {
        assert_eq!(redirect_source("http://127.0.0.1:5000/callback").as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!(redirect_source("http://[::1]:5000/callback").as_deref(), Some("http://[::1]:5000"));
        assert_eq!(redirect_source("app.keyway.desktop:/oauth/callback").as_deref(), Some("app.keyway.desktop:"));
    }

    #[test]
    fn login_page_is_accessible_and_escaped() {
        let html = render_login("req\"1", "tok", "App <b>", "<script>", Some("Wrong username or password."));
        assert!(html.contains("<main>"));
        assert!(html.contains("<h1>Sign in to Keyway</h1>"));
        assert!(html.contains("<label for=\"username\">"));
        assert!(html.contains("<label for=\"password\">"));
        assert!(html.contains("autofocus"));
        assert!(html.contains(">Sign in</button>"));
        assert!(html.contains("value=\"req&quot;1\""));
        assert!(html.contains("App &lt;b&gt;"));
        assert!(!html.contains("<script>"));
        assert!(!html.contains("<script"));
        assert!(html.contains("role=\"alert\""));
    }
}
