//! The refusals many operations share, as response sets: Keyway `ErrorBody`s, and SCIM errors.

#![allow(dead_code)]

use keyway_api::ErrorBody;
use utoipa::IntoResponses;

use super::schemas::ScimError;

/// What any route behind a bearer JWT may answer before its own work.
#[derive(IntoResponses)]
pub(crate) enum JwtRefusals {
    /// A missing, malformed, expired or revoked JWT (`invalid_token`, `WWW-Authenticate`).
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// The caller's role, kind, class or scopes do not allow it (`role_required`,
    /// `admin_required`, `principal_not_allowed`, `class_not_allowed`, `insufficient_scope` …).
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// Too many requests (`rate_limited`, `Retry-After`).
    #[response(status = 429)]
    RateLimited(ErrorBody),
    /// The hub cannot reach its database (`unavailable`, `Retry-After`).
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// The refusals of a request body or query.
#[derive(IntoResponses)]
pub(crate) enum InputRefusals {
    /// A body or query that does not parse (`invalid_request`).
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// A well-formed request the hub will not do (`validation_failed` and the route's own codes).
    #[response(status = 422)]
    Unprocessable(ErrorBody),
}

/// No such thing (`not_found`, `unknown_user`, `unknown_role` …).
#[derive(IntoResponses)]
#[response(status = 404)]
pub(crate) struct NotFound(ErrorBody);

/// What any SCIM route may answer, as RFC 7644 §3.12 errors.
#[derive(IntoResponses)]
pub(crate) enum ScimRefusals {
    /// A missing, unknown or revoked SCIM token.
    #[response(status = 401, content_type = "application/scim+json")]
    Unauthorized(ScimError),
    /// Too many requests (`Retry-After`).
    #[response(status = 429, content_type = "application/scim+json")]
    RateLimited(ScimError),
}

/// A SCIM request that does not parse or names what the hub does not have (`invalidSyntax`,
/// `invalidFilter`, `invalidValue`, `invalidPath` …).
#[derive(IntoResponses)]
#[response(status = 400, content_type = "application/scim+json")]
pub(crate) struct ScimBadRequest(ScimError);

/// No such resource.
#[derive(IntoResponses)]
#[response(status = 404, content_type = "application/scim+json")]
pub(crate) struct ScimNotFound(ScimError);
