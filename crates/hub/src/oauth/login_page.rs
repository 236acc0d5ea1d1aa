//! The server-rendered pages of sign-in: the form, messages and errors, their security
//! headers, and the cookies of the form (CSRF) and of the browser session. `POST /login` is in
//! `login.rs`.
//!
//! Plain HTML, no JavaScript. CSRF protection is double-submit: a random token in the
//! `kw_csrf_<request>` cookie (HttpOnly, SameSite=Strict, Path=/login) and the same token in a hidden
//! field, compared in constant time.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::Error;
use crate::secret::{CsrfToken, SessionId};
use crate::state::AppState;

/// How long a pending authorization request waits for the user to sign in.
pub(crate) const PENDING_TTL_SECS: i64 = 600;

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

pub(crate) fn document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n\
         <body>\n<main>\n{body}</main>\n</body>\n</html>\n",
        title = escape(title),
    )
}

/// The sign-in form; with `sso`, first a button that signs in through that IdP.
pub(crate) fn render_login(
    request_id: &str,
    csrf: &str,
    client_name: &str,
    access: &Access<'_>,
    username: &str,
    error: Option<&str>,
    sso: Option<&str>,
) -> String {
    let error_html = match error {
        Some(message) => format!("<p class=\"error\" role=\"alert\" id=\"login-error\">{}</p>\n", escape(message)),
        None => String::new(),
    };
    let described_by = if error.is_some() { " aria-describedby=\"login-error\"" } else { "" };
    // After a failed attempt the name is filled in: focus the password instead.
    let (username_focus, password_focus) = if username.is_empty() { (" autofocus", "") } else { ("", " autofocus") };
    let body = format!(
        "<h1>Sign in to Keyway</h1>\n<p>to continue to {client}</p>\n{access_html}{error_html}\
         <form method=\"post\" action=\"/login\">\n\
         <input type=\"hidden\" name=\"request\" value=\"{request}\">\n\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
         <label for=\"username\">Username</label>\n\
         <input id=\"username\" name=\"username\" type=\"text\" autocomplete=\"username\" autocapitalize=\"none\" \
         spellcheck=\"false\" required{username_focus} value=\"{username}\"{described_by}>\n\
         <label for=\"password\">Password</label>\n\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required{password_focus}>\n\
         <button type=\"submit\">Sign in</button>\n</form>\n{sso_html}",
        sso_html = sso.map(|name| render_sso_button(request_id, csrf, name)).unwrap_or_default(),
        access_html = render_access(client_name, access),
        client = escape(client_name),
        request = escape(request_id),
        csrf = escape(csrf),
        username = escape(username),
    );
    document("Sign in to Keyway", &body)
}

/// What a client asks for, when it names a resource (an MCP server): which one, and the
/// scopes. Nothing for a sign-in to the hub itself.
fn render_access(client_name: &str, access: &Access<'_>) -> String {
    let Some(uri) = access.resource else {
        return String::new();
    };
    let what = match access.resource_name {
        Some(name) if name != uri => format!("<strong>{}</strong> (<code>{}</code>)", escape(name), escape(uri)),
        _ => format!("<code>{}</code>", escape(uri)),
    };
    let scopes: Vec<String> = access
        .scope
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(|s| format!("<li><code>{}</code></li>", escape(s)))
        .collect();
    let scopes = if scopes.is_empty() {
        "<p>with no scopes.</p>\n".to_owned()
    } else {
        format!("<p>with the scopes:</p>\n<ul class=\"scopes\">{}</ul>\n", scopes.concat())
    };
    format!("<p id=\"access\">{} asks for access to {what}</p>\n{scopes}", escape(client_name))
}

/// The "Sign in with …" button: a form posting to `/login/sso` (CSRF-checked like the password
/// form), which hands the request off to the IdP.
fn render_sso_button(request_id: &str, csrf: &str, name: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/login/sso\">\n\
         <input type=\"hidden\" name=\"request\" value=\"{request}\">\n\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
         <button type=\"submit\" id=\"sso\">Sign in with {name}</button>\n</form>\n",
        request = escape(request_id),
        csrf = escape(csrf),
        name = escape(name),
    )
}

/// The form a person with a one-time code sets their password in. It posts to
/// `/login/set-password`; the code itself is not in it (the hub bound it to this request).
pub(crate) fn render_set_password(request_id: &str, csrf: &str, username: &str, error: Option<&str>) -> String {
    let error_html = match error {
        Some(message) => format!("<p class=\"error\" role=\"alert\" id=\"set-error\">{}</p>\n", escape(message)),
        None => String::new(),
    };
    let described_by = if error.is_some() { " aria-describedby=\"set-error\"" } else { "" };
    let body = format!(
        "<h1>Choose your password</h1>\n<p>Signing in as <strong>{username}</strong>. Choose a password of at \
         least {min} characters.</p>\n{error_html}\
         <form method=\"post\" action=\"/login/set-password\">\n\
         <input type=\"hidden\" name=\"request\" value=\"{request}\">\n\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
         <input type=\"hidden\" name=\"username\" value=\"{username}\">\n\
         <label for=\"password\">New password</label>\n\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" required autofocus{described_by}>\n\
         <label for=\"confirm\">Repeat the new password</label>\n\
         <input id=\"confirm\" name=\"confirm\" type=\"password\" autocomplete=\"new-password\" required>\n\
         <button type=\"submit\">Set password and sign in</button>\n</form>\n",
        username = escape(username),
        min = keyway_api::users::MIN_PASSWORD_CHARS,
        request = escape(request_id),
        csrf = escape(csrf),
    );
    document("Choose your password", &body)
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
pub(crate) const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'";

pub(crate) fn set_page_headers(headers: &mut HeaderMap) {
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

/// Logs an internal failure and shows a generic page (`503` with `Retry-After` while the
/// database cannot be reached).
pub(crate) fn internal_error_page(err: Error) -> Response {
    if err.is_internal() {
        tracing::error!(error = %crate::error::report(&err), "sign-in request failed");
    }
    if let Error::Unavailable(_) = err {
        let mut page = error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "The hub is unavailable",
            "The Keyway hub cannot reach its database right now. Please try again in a moment.",
        );
        page.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(crate::error::UNAVAILABLE_RETRY_SECS));
        return page;
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
pub(crate) fn csrf_cookie_name(request_id: &str) -> Option<String> {
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

pub(crate) fn clear_csrf_cookie(name: &str, secure: bool) -> String {
    format!("{name}=; Path=/login; Max-Age=0; HttpOnly; SameSite=Strict{}", cookie_attrs(secure))
}

pub(crate) fn session_cookie(id: &SessionId, max_age: i64, secure: bool) -> String {
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
    pub(crate) access: Access<'a>,
}

/// What the client asks for: a resource (RFC 8707) and scopes.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Access<'a> {
    /// The resource's canonical URI (`None`: the hub itself).
    pub(crate) resource: Option<&'a str>,
    pub(crate) resource_name: Option<&'a str>,
    pub(crate) scope: &'a str,
}

/// The sign-in form with a fresh CSRF token (cookie + hidden field).
pub(crate) fn login_form<S>(
    state: &AppState<S>,
    form: &FormContext<'_>,
    username: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let sso = state.sso.as_ref().map(|idp| idp.settings.display_name());
    let mut response = form_page(state, form, status, |csrf| {
        render_login(form.request_id, csrf, form.client_name, &form.access, username, error, sso.as_deref())
    });
    // The button's POST redirects to the IdP: `form-action` allows its authorization endpoint.
    if let Some(source) = state.sso.as_ref().and_then(|idp| idp.authorize_origin_now())
        && let Some(current) = response.headers().get(header::CONTENT_SECURITY_POLICY).and_then(|v| v.to_str().ok())
        && let Ok(value) = HeaderValue::from_str(&format!("{current} {source}"))
    {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// The set-password form with a fresh CSRF token (cookie + hidden field).
pub(crate) fn set_password_form<S>(
    state: &AppState<S>,
    form: &FormContext<'_>,
    username: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    form_page(state, form, status, |csrf| render_set_password(form.request_id, csrf, username, error))
}

fn form_page<S>(
    state: &AppState<S>,
    form: &FormContext<'_>,
    status: StatusCode,
    render: impl FnOnce(&str) -> String,
) -> Response {
    let csrf = CsrfToken::generate();
    let body = render(csrf.expose());
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
        let html = render_login(
            "req\"1",
            "tok",
            "App <b>",
            &Access::default(),
            "<script>",
            Some("Wrong username or password."),
            None,
        );
        assert!(!html.contains("/login/sso"));
        let with_sso = render_login("r", "t", "App", &Access::default(), "", None, Some("Corp <IdP>"));
        assert!(with_sso.contains("action=\"/login/sso\""));
        assert!(with_sso.contains("Sign in with Corp &lt;IdP&gt;"));
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
        assert!(!html.contains("asks for access"));
    }

    #[test]
    fn the_page_names_the_resource_and_scopes_asked_for() {
        let access = Access {
            resource: Some("https://mcp.example/<x>"),
            resource_name: Some("Files <1>"),
            scope: "files:read offline_access",
        };
        let html = render_login("r", "t", "Agent <a>", &access, "", None, None);
        assert!(html.contains("Agent &lt;a&gt; asks for access to <strong>Files &lt;1&gt;</strong> (<code>https://mcp.example/&lt;x&gt;</code>)"));
        assert!(html.contains("<li><code>files:read</code></li><li><code>offline_access</code></li>"));
    }
}
