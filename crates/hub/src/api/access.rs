//! What the credential, agent and service account routes share: whose the
//! credential is, how a change is audited and how a created thing is answered.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use keyway_api::auth::PrincipalKind;
use keyway_api::codes;

use crate::audit::Audit;
use crate::credentials::issue::Owner;
use crate::error::Error;
use crate::http::no_store;
use crate::principal::Principal;
use crate::store::AuditEvent;

/// The person acting, as the owner of what they create; only people manage credentials.
pub(crate) fn owner_of(p: &Principal) -> Result<Owner, Error> {
    if p.kind != PrincipalKind::User {
        return Err(Error::forbidden(
            codes::ADMIN_REQUIRED,
            format!("Management endpoints require a user_admin token, got {}", p.class),
        ));
    }
    Ok(Owner { id: p.id.clone(), name: p.name.clone() })
}

/// The audit row of a change the caller made to `target`.
pub(crate) fn change_event(
    p: &Principal,
    at: i64,
    action: &str,
    kind: &str,
    target: &str,
    detail: serde_json::Value,
) -> AuditEvent {
    Audit::by(p, at, action).target(kind, target).detail(detail).event()
}

/// `201 Created` with `body`, never cached (it may hold a secret shown once).
pub(crate) fn created(body: impl serde::Serialize) -> Response {
    no_store((StatusCode::CREATED, Json(body)).into_response())
}
