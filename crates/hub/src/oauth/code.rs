//! Issuing an authorization code, and the redirects that carry codes and errors back to the
//! client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::login_page;
use crate::clock::secs;
use crate::error::Error;
use crate::secret::AuthorizationCode;
use crate::state::AppState;
use crate::store::{CodeRecord, PendingAuthorization};

/// Appends query parameters to a redirect URI.
pub(crate) fn redirect_with(uri: &str, pairs: &[(&str, &str)]) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    let separator = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{separator}{query}")
}

/// A 302 to `location` that is never cached and sends no referrer.
pub(crate) fn found(location: &str) -> Response {
    let Ok(value) = HeaderValue::from_str(location) else {
        // Only reachable if a registered redirect URI held non-header characters.
        return login_page::internal_error_page(Error::Internal("redirect location is not a valid header".into()));
    };
    let mut response = StatusCode::FOUND.into_response();
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, value);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// A new authorization code for `pending`, and the record the store keeps of it (its hash).
pub(crate) fn new_code<S>(
    state: &AppState<S>,
    pending: &PendingAuthorization,
    user_id: &str,
    auth_time: i64,
) -> (AuthorizationCode, CodeRecord) {
    let code = AuthorizationCode::generate();
    let now = state.now();
    let record = CodeRecord {
        code_hash: code.hash(),
        client_id: pending.client_id.clone(),
        redirect_uri: pending.redirect_uri.clone(),
        user_id: user_id.to_owned(),
        scope: pending.scope.clone(),
        nonce: pending.nonce.clone(),
        code_challenge: pending.code_challenge.clone(),
        auth_time,
        created_at: now,
        expires_at: now + secs(state.settings.code_ttl),
        resource: pending.resource.clone(),
    };
    (code, record)
}

/// The redirect back to the client with a stored code.
pub(crate) fn code_redirect<S>(
    state: &AppState<S>,
    pending: &PendingAuthorization,
    code: &AuthorizationCode,
) -> Response {
    tracing::info!(client = %pending.client_id, "issued an authorization code");
    let location = redirect_with(
        &pending.redirect_uri,
        &[("code", code.expose()), ("state", &pending.state), ("iss", &state.issuer)],
    );
    found(&location)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_building() {
        assert_eq!(
            redirect_with("http://127.0.0.1:5/callback", &[("code", "a b"), ("state", "x&y")]),
            "http://127.0.0.1:5/callback?code=a+b&state=x%26y"
        );
        assert_eq!(
            redirect_with("app.keyway.desktop:/oauth/callback?k=v", &[("a", "1")]),
            "app.keyway.desktop:/oauth/callback?k=v&a=1"
        );
    }
}
