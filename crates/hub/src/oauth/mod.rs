//! HTTP layer: the router, shared state, request parsing helpers.

pub(crate) mod authorize;
pub(crate) mod discovery;
pub(crate) mod login_page;
pub(crate) mod pkce;
pub(crate) mod revoke;
pub(crate) mod token;
pub(crate) mod userinfo;

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::ops::Deref;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, OriginalUri, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::clients::ClientRegistry;
use crate::config::Settings;
use crate::error::Error;
use crate::keys::Keys;
use crate::store::Store;
use crate::users::Passwords;

/// Largest request body accepted.
pub(crate) const BODY_LIMIT: usize = 64 * 1024;
/// `aud` of access tokens: Keyway's API.
pub(crate) const ACCESS_TOKEN_AUDIENCE: &str = "keyway";
/// Scopes the hub knows.
pub(crate) const SCOPES_SUPPORTED: &[&str] = &["openid", "profile", "offline_access"];

/// Everything handlers share.
pub(crate) struct Shared<S> {
    pub(crate) store: S,
    pub(crate) keys: Keys,
    pub(crate) settings: Settings,
    /// Issuer URL without a trailing slash.
    pub(crate) issuer: String,
    pub(crate) clients: ClientRegistry,
    pub(crate) passwords: Arc<Passwords>,
    /// Mark cookies `Secure` (the issuer is https).
    pub(crate) secure_cookies: bool,
    /// Credential cache and last-used buffer.
    pub(crate) credentials: crate::credentials::Credentials,
    /// Live review events (SSE streams, waiters).
    pub(crate) reviews: crate::api::reviews::Live,
}

impl<S> Shared<S> {
    pub(crate) fn now(&self) -> i64 {
        self.settings.clock.now()
    }

    pub(crate) fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }
}

/// Axum state: a cheap handle on [`Shared`].
pub(crate) struct AppState<S>(pub(crate) Arc<Shared<S>>);

impl<S> Clone for AppState<S> {
    fn clone(&self) -> Self {
        AppState(Arc::clone(&self.0))
    }
}

impl<S> Deref for AppState<S> {
    type Target = Shared<S>;
    fn deref(&self) -> &Shared<S> {
        &self.0
    }
}

/// The hub's routes.
pub(crate) fn router<S: Store>(state: AppState<S>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/.well-known/openid-configuration", get(discovery::openid_configuration::<S>))
        .route("/oauth/jwks", get(discovery::jwks::<S>))
        .route("/oauth/authorize", get(authorize::authorize::<S>))
        .route("/login", post(login_page::login::<S>))
        .route("/oauth/token", post(token::token::<S>))
        .route("/oauth/revoke", post(revoke::revoke::<S>))
        .route("/oauth/userinfo", get(userinfo::userinfo::<S>).post(userinfo::userinfo::<S>))
        .merge(crate::credentials::exchange::router::<S>())
        .merge(crate::api::router::<S>())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            Error::Internal("a request handler panicked".into()).into_response()
        }))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok"
}

async fn not_found(OriginalUri(uri): OriginalUri) -> Error {
    Error::NotFound(uri.path().to_owned())
}

async fn method_not_allowed() -> Error {
    Error::MethodNotAllowed
}

/// Form or query parameters (RFC 6749 §3.1: empty values count as absent; repeated
/// parameters are an error the handler reports).
#[derive(Debug, Default)]
pub(crate) struct Params {
    values: HashMap<String, String>,
    duplicates: Vec<String>,
}

impl Drop for Params {
    fn drop(&mut self) {
        // Values include passwords, codes and refresh tokens.
        for value in self.values.values_mut() {
            zeroize::Zeroize::zeroize(value);
        }
    }
}

impl Params {
    pub(crate) fn parse(input: &[u8]) -> Params {
        let mut params = Params::default();
        for (name, value) in url::form_urlencoded::parse(input) {
            if value.is_empty() {
                continue;
            }
            match params.values.entry(name.into_owned()) {
                Entry::Occupied(e) => params.duplicates.push(e.key().clone()),
                Entry::Vacant(e) => {
                    e.insert(value.into_owned());
                }
            }
        }
        params
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub(crate) fn take(&mut self, name: &str) -> Option<String> {
        self.values.remove(name)
    }

    pub(crate) fn is_duplicated(&self, name: &str) -> bool {
        self.duplicates.iter().any(|d| d == name)
    }

    /// `invalid_request` naming the first repeated parameter, if any.
    pub(crate) fn reject_duplicates(&self) -> Result<(), Error> {
        match self.duplicates.first() {
            Some(name) => Err(Error::invalid_request(format!("parameter '{name}' was given more than once"))),
            None => Ok(()),
        }
    }

    /// The parameter, or `invalid_request` if it is missing.
    pub(crate) fn require(&self, name: &'static str) -> Result<&str, Error> {
        self.get(name).ok_or_else(|| Error::invalid_request(format!("missing parameter '{name}'")))
    }
}

/// An `application/x-www-form-urlencoded` body. Every failure is an `invalid_request` JSON
/// error, never axum's plain-text rejection.
#[derive(Debug)]
pub(crate) struct FormParams(pub(crate) Params);

impl<S: Send + Sync> FromRequest<S> for FormParams {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(Error::invalid_request("the body must be application/x-www-form-urlencoded"));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Error::PayloadTooLarge
            } else {
                Error::invalid_request("the request body could not be read")
            }
        })?;
        if std::str::from_utf8(&bytes).is_err() {
            return Err(Error::invalid_request("the request body is not valid UTF-8"));
        }
        Ok(FormParams(Params::parse(&bytes)))
    }
}

/// The value of cookie `name` in the request, if present.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
        .filter(|v| !v.is_empty())
}

/// Adds `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1).
pub(crate) fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_treat_empty_as_absent_and_track_duplicates() {
        let p = Params::parse(b"a=1&b=&c=x%20y&a=2");
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), Some("x y"));
        assert!(p.is_duplicated("a"));
        assert!(p.reject_duplicates().is_err());
        assert!(matches!(p.require("zzz"), Err(Error::OAuth { code: "invalid_request", .. })));
    }

    #[test]
    fn cookies() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; kw_session=abc"));
        h.append(header::COOKIE, HeaderValue::from_static("kw_csrf=def"));
        assert_eq!(cookie(&h, "kw_session"), Some("abc"));
        assert_eq!(cookie(&h, "kw_csrf"), Some("def"));
        assert_eq!(cookie(&h, "nope"), None);
    }
}
