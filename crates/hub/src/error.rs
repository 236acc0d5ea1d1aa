//! The hub's one error type, and how it becomes an HTTP response.
//!
//! Every error body is `keyway_api::ErrorBody` JSON. Internal causes (database, I/O, bugs) are
//! logged and answered with a generic `server_error`; their details never reach the client.

use std::borrow::Cow;
use std::net::SocketAddr;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyway_api::{ErrorBody, codes};

use crate::store::StoreError;

/// Errors of the hub library and of its HTTP endpoints.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // ---- configuration and start-up
    #[error("invalid setting {name}: {reason}")]
    InvalidSetting { name: &'static str, reason: String },
    #[error("could not listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("database error")]
    Database(#[source] sqlx::Error),
    #[error("database migration failed")]
    Migration(#[source] sqlx::migrate::MigrateError),
    /// The database cannot be reached (at start: the hub stops; on a request: `503
    /// unavailable` with `Retry-After`, the cause logged).
    #[error("the database is unavailable")]
    Unavailable(#[source] sqlx::Error),
    #[error("the stored signing key is unusable: {0}")]
    SigningKey(String),
    /// The hub key (which seals the signing keys) is missing, unreadable or not this
    /// database's.
    #[error("{0}")]
    HubKey(String),
    #[error("internal error: {0}")]
    Internal(String),

    // ---- user administration
    #[error("a user with that name already exists")]
    UserExists,
    #[error("invalid username: {0}")]
    InvalidUsername(&'static str),
    /// Why, as "must …".
    #[error("password too weak: it {0}")]
    WeakPassword(String),
    #[error("password too long: it must be at most 1024 bytes")]
    PasswordTooLong,

    // ---- HTTP protocol errors (answered to the client as they are)
    /// An OAuth error (RFC 6749 §5.2, RFC 7009): `code` is one of `keyway_api::codes`.
    #[error("{description}")]
    OAuth { code: &'static str, description: Cow<'static, str> },
    /// A bearer token that is missing, malformed, expired or revoked (RFC 6750 §3.1).
    #[error("{0}")]
    InvalidToken(Cow<'static, str>),
    #[error("no such route: {0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("request body too large")]
    PayloadTooLarge,
    /// A coded refusal of a Keyway API route (`keyway_api::codes`), answered as it is.
    #[error("{message}")]
    Api { status: StatusCode, code: &'static str, message: Cow<'static, str> },
    /// A refusal to try again later (`429 rate_limited`, `503 unavailable`), with the seconds to
    /// wait in `Retry-After`.
    #[error("{message}")]
    Later { status: StatusCode, code: &'static str, message: Cow<'static, str>, retry_after: u64 },
}

/// What a request is told while the database cannot be reached (the cause is only logged).
pub(crate) const UNAVAILABLE_MESSAGE: &str = "the hub cannot reach its database right now; try again shortly";
/// `Retry-After` of a `503 unavailable` for an unreachable database, in seconds.
pub(crate) const UNAVAILABLE_RETRY_SECS: u64 = 5;

/// `err` and its sources on one line, `outer: inner: innermost`.
pub(crate) fn report(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

impl Error {
    /// An OAuth `invalid_request`.
    pub(crate) fn invalid_request(description: impl Into<Cow<'static, str>>) -> Error {
        Error::OAuth { code: codes::INVALID_REQUEST, description: description.into() }
    }

    /// An OAuth `invalid_grant`.
    pub(crate) fn invalid_grant(description: impl Into<Cow<'static, str>>) -> Error {
        Error::OAuth { code: codes::INVALID_GRANT, description: description.into() }
    }

    pub(crate) fn oauth(code: &'static str, description: impl Into<Cow<'static, str>>) -> Error {
        Error::OAuth { code, description: description.into() }
    }

    /// A coded API refusal with its HTTP status.
    pub(crate) fn api(status: StatusCode, code: &'static str, message: impl Into<Cow<'static, str>>) -> Error {
        Error::Api { status, code, message: message.into() }
    }

    /// `403 <code>`.
    pub(crate) fn forbidden(code: &'static str, message: impl Into<Cow<'static, str>>) -> Error {
        Error::api(StatusCode::FORBIDDEN, code, message)
    }

    /// `422 <code>`.
    pub(crate) fn unprocessable(code: &'static str, message: impl Into<Cow<'static, str>>) -> Error {
        Error::api(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// `400 invalid_request`.
    pub(crate) fn bad_request(message: impl Into<Cow<'static, str>>) -> Error {
        Error::api(StatusCode::BAD_REQUEST, codes::INVALID_REQUEST, message)
    }

    /// `409 conflict`.
    pub(crate) fn conflict(message: impl Into<Cow<'static, str>>) -> Error {
        Error::api(StatusCode::CONFLICT, codes::CONFLICT, message)
    }

    /// `404 not_found` for a resource (not a route).
    pub(crate) fn missing(message: impl Into<Cow<'static, str>>) -> Error {
        Error::api(StatusCode::NOT_FOUND, codes::NOT_FOUND, message)
    }

    /// `429 rate_limited` with `Retry-After: retry_after`.
    pub(crate) fn rate_limited(message: impl Into<Cow<'static, str>>, retry_after: u64) -> Error {
        Error::Later {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: codes::RATE_LIMITED,
            message: message.into(),
            retry_after,
        }
    }

    /// `503 unavailable` with `Retry-After: retry_after`.
    pub(crate) fn unavailable(message: impl Into<Cow<'static, str>>, retry_after: u64) -> Error {
        Error::Later {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: codes::UNAVAILABLE,
            message: message.into(),
            retry_after,
        }
    }

    /// True for failures of the hub itself rather than of the request.
    pub fn is_internal(&self) -> bool {
        matches!(
            self,
            Error::InvalidSetting { .. }
                | Error::Bind { .. }
                | Error::Database(_)
                | Error::Migration(_)
                | Error::Unavailable(_)
                | Error::SigningKey(_)
                | Error::HubKey(_)
                | Error::Internal(_)
        )
    }

    /// HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::OAuth { code, .. } if *code == codes::INVALID_CLIENT => StatusCode::UNAUTHORIZED,
            Error::OAuth { .. } => StatusCode::BAD_REQUEST,
            Error::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Error::Api { status, .. } | Error::Later { status, .. } => *status,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Error::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::UserExists => StatusCode::CONFLICT,
            Error::InvalidUsername(_) | Error::WeakPassword(_) | Error::PasswordTooLong => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Wire code (`error` field) of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::OAuth { code, .. } => code,
            Error::InvalidToken(_) => codes::INVALID_TOKEN,
            Error::Api { code, .. } | Error::Later { code, .. } => code,
            Error::NotFound(_) => codes::NOT_FOUND,
            Error::MethodNotAllowed | Error::PayloadTooLarge => codes::INVALID_REQUEST,
            Error::Unavailable(_) => codes::UNAVAILABLE,
            Error::UserExists | Error::InvalidUsername(_) | Error::WeakPassword(_) | Error::PasswordTooLong => {
                codes::INVALID_REQUEST
            }
            _ => codes::SERVER_ERROR,
        }
    }

    /// The body sent to the client.
    pub fn body(&self) -> ErrorBody {
        let message = match self {
            Error::Unavailable(_) => UNAVAILABLE_MESSAGE.to_owned(),
            _ if self.is_internal() => "internal server error".to_owned(),
            _ => self.to_string(),
        };
        // OAuth endpoints (RFC 6749 §5.2, RFC 6750 §3) also carry `error_description`.
        let oauth = matches!(self, Error::OAuth { .. } | Error::InvalidToken(_)) || self.is_internal();
        ErrorBody { error: self.code().to_owned(), error_description: oauth.then(|| message.clone()), message }
    }
}

/// The one place a store's error becomes the hub's: database failures are internal
/// (`500 server_error`), an unreachable database is `503 unavailable`, a taken user name is
/// [`Error::UserExists`].
impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        match e {
            StoreError::InvalidUrl(reason) => Error::InvalidSetting { name: "database_url", reason },
            StoreError::Database(e) => Error::Database(e),
            StoreError::Unavailable(e) => Error::Unavailable(e),
            StoreError::Migration(e) => Error::Migration(e),
            StoreError::Corrupt(what) | StoreError::Unstorable(what) => Error::Internal(what),
            StoreError::UserExists => Error::UserExists,
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        if self.is_internal() {
            tracing::error!(error = %report(&self), "request failed");
        } else {
            tracing::debug!(error = %self, code = self.code(), "request refused");
        }
        let mut response = (status, axum::Json(self.body())).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Error::Api { status: StatusCode::UNAUTHORIZED, .. } = &self {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"keyway\""));
        }
        if let Error::Later { retry_after, .. } = &self {
            headers.insert(header::RETRY_AFTER, HeaderValue::from((*retry_after).max(1)));
        }
        if let Error::Unavailable(_) = &self {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(UNAVAILABLE_RETRY_SECS));
        }
        if let Error::InvalidToken(description) = &self {
            let value = format!(
                "Bearer realm=\"keyway\", error=\"invalid_token\", error_description=\"{}\"",
                description.replace(['"', '\\'], "'")
            );
            let value = HeaderValue::from_str(&value)
                .unwrap_or_else(|_| HeaderValue::from_static("Bearer realm=\"keyway\", error=\"invalid_token\""));
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_are_not_leaked() {
        let err = Error::Internal("disk on fire at /var/secret".into());
        let body = err.body();
        assert_eq!(body.error, "server_error");
        assert!(!body.message.contains("secret"));
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn store_errors_keep_their_status_and_code() {
        let db = Error::from(StoreError::Database(sqlx::Error::RowNotFound));
        assert!(db.is_internal());
        assert_eq!((db.status(), db.code()), (StatusCode::INTERNAL_SERVER_ERROR, codes::SERVER_ERROR));
        let corrupt = Error::from(StoreError::Corrupt("unknown stored role x".into()));
        assert!(corrupt.is_internal());
        assert_eq!(corrupt.code(), codes::SERVER_ERROR);
        let exists = Error::from(StoreError::UserExists);
        assert!(matches!(exists, Error::UserExists));
        assert_eq!(exists.status(), StatusCode::CONFLICT);
        let down = Error::from(StoreError::from(sqlx::Error::PoolTimedOut));
        assert!(down.is_internal(), "an outage is the hub's failure, never the request's");
        assert_eq!((down.status(), down.code()), (StatusCode::SERVICE_UNAVAILABLE, codes::UNAVAILABLE));
        assert_eq!(down.body().message, UNAVAILABLE_MESSAGE);
        let response = down.into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], UNAVAILABLE_RETRY_SECS.to_string());
        let url = Error::from(StoreError::InvalidUrl("bad".into()));
        assert!(matches!(url, Error::InvalidSetting { name: "database_url", .. }));
    }

    #[test]
    fn oauth_errors_carry_description() {
        let body = Error::invalid_grant("code expired").body();
        assert_eq!(body.error, "invalid_grant");
        assert_eq!(body.message, "code expired");
        assert_eq!(body.error_description.as_deref(), Some("code expired"));
        assert_eq!(Error::oauth(codes::INVALID_CLIENT, "x").status(), StatusCode::UNAUTHORIZED);
        assert_eq!(Error::NotFound("/x".into()).body().error_description, None);
    }
}
