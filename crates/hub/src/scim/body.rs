//! The body of a SCIM request: JSON in `application/scim+json` (or `application/json`),
//! refused otherwise with a SCIM error, never an axum default.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde_json::Value;

use super::error::ScimError;

/// A JSON body of a SCIM request.
#[derive(Debug)]
pub(crate) struct ScimBody(pub(crate) Value);

impl<S: Send + Sync> FromRequest<S> for ScimBody {
    type Rejection = ScimError;

    async fn from_request(req: Request, state: &S) -> Result<ScimBody, ScimError> {
        let kind = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let essence = kind.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if essence != "application/scim+json" && essence != "application/json" {
            return Err(ScimError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                None,
                "The body must be application/scim+json (or application/json)",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ScimError::new(StatusCode::PAYLOAD_TOO_LARGE, None, "The request body is too large")
            } else {
                ScimError::invalid_syntax("The request body could not be read")
            }
        })?;
        let value = serde_json::from_slice(&bytes)
            .map_err(|e| ScimError::invalid_syntax(format!("The body is not valid JSON: {e}")))?;
        Ok(ScimBody(value))
    }
}
