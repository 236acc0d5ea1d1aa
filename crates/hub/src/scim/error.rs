//! SCIM's own errors (RFC 7644 §3.12): `{"schemas": [Error], "status": "400", "scimType":
//! "invalidFilter", "detail": "…"}`, in the SCIM media type. The hub's errors met on the way
//! (an unreachable database, a body too large) are answered in this shape too; internal causes
//! are logged, never returned.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::Error;

/// The SCIM media type.
pub(crate) const SCIM_JSON: &str = "application/scim+json";
pub(crate) const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// A SCIM error: status, `scimType` (for 400 and 409) and a readable detail.
#[derive(Debug)]
pub(crate) struct ScimError {
    pub(crate) status: StatusCode,
    pub(crate) scim_type: Option<&'static str>,
    pub(crate) detail: Cow<'static, str>,
}

impl ScimError {
    pub(crate) fn new(
        status: StatusCode,
        scim_type: Option<&'static str>,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        ScimError { status, scim_type, detail: detail.into() }
    }

    /// `400` with a `scimType`.
    pub(crate) fn bad(scim_type: &'static str, detail: impl Into<Cow<'static, str>>) -> Self {
        ScimError::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }

    pub(crate) fn invalid_filter(detail: impl Into<Cow<'static, str>>) -> Self {
        ScimError::bad("invalidFilter", detail)
    }

    pub(crate) fn invalid_syntax(detail: impl Into<Cow<'static, str>>) -> Self {
        ScimError::bad("invalidSyntax", detail)
    }

    pub(crate) fn invalid_value(detail: impl Into<Cow<'static, str>>) -> Self {
        ScimError::bad("invalidValue", detail)
    }

    pub(crate) fn invalid_path(detail: impl Into<Cow<'static, str>>) -> Self {
        ScimError::bad("invalidPath", detail)
    }

    pub(crate) fn mutability(detail: impl Into<Cow<'static, str>>) -> Self {
        ScimError::bad("mutability", detail)
    }

    /// `409 uniqueness`.
    pub(crate) fn uniqueness(detail: impl Into<Cow<'static, str>>) -> Self {
        ScimError::new(StatusCode::CONFLICT, Some("uniqueness"), detail)
    }

    pub(crate) fn not_found(detail: impl Into<Cow<'static, str>>) -> Self {
        ScimError::new(StatusCode::NOT_FOUND, None, detail)
    }

    pub(crate) fn unauthorized(detail: impl Into<Cow<'static, str>>) -> Self {
        ScimError::new(StatusCode::UNAUTHORIZED, None, detail)
    }

    /// `409`: the change would leave the hub without an enabled admin.
    pub(crate) fn last_admin() -> Self {
        ScimError::new(
            StatusCode::CONFLICT,
            None,
            "This would leave the hub without an enabled admin: make another user an admin first. Nothing was changed.",
        )
    }
}

impl From<Error> for ScimError {
    fn from(e: Error) -> ScimError {
        let status = e.status();
        let detail = if status.is_server_error() {
            if status == StatusCode::INTERNAL_SERVER_ERROR {
                tracing::error!(error = %crate::error::report(&e), "SCIM request failed");
                Cow::Borrowed("internal error")
            } else {
                Cow::Owned(e.body().message)
            }
        } else {
            Cow::Owned(e.body().message)
        };
        let scim_type = match status {
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => Some("invalidValue"),
            StatusCode::CONFLICT => Some("uniqueness"),
            _ => None,
        };
        let status = if status == StatusCode::UNPROCESSABLE_ENTITY { StatusCode::BAD_REQUEST } else { status };
        ScimError { status, scim_type, detail }
    }
}

impl From<crate::store::StoreError> for ScimError {
    fn from(e: crate::store::StoreError) -> ScimError {
        ScimError::from(Error::from(e))
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        tracing::debug!(status = %self.status, scim_type = ?self.scim_type, detail = %self.detail, "SCIM request refused");
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = json!(t);
        }
        let mut response = scim_json(self.status, &body);
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"keyway-scim\""));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(crate::error::UNAVAILABLE_RETRY_SECS));
        }
        response
    }
}

/// A JSON body in the SCIM media type, never cached.
pub(crate) fn scim_json(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
