//! Keyway's resource API under `/api`: every route takes a bearer JWT ([`Principal`]) and
//! answers `{"error", "message"}` on refusal.

pub(crate) mod credentials;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use keyway_api::Role;
use keyway_api::auth::{AuditEntry, Me, Page};
use serde::Deserialize;

use crate::auth::Principal;
use crate::error::Error;
use crate::oauth::AppState;
use crate::store::{AuditQuery, Store};

pub(crate) mod reviews;

/// Default and largest page sizes of list routes.
pub(crate) const DEFAULT_PAGE: u32 = 50;
pub(crate) const MAX_PAGE: u32 = 200;

/// A route's query string, or a 400 `invalid_request` that says what is wrong with it.
pub(crate) fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, Error> {
    q.map(|Query(p)| p).map_err(|e| Error::bad_request(format!("invalid query: {}", e.body_text())))
}

/// One page of a list read with one row more than `limit`: the first `limit` rows, and when
/// more follow, the cursor of the page's last row (`next`).
pub(crate) fn page_of<T>(mut rows: Vec<T>, limit: u32, cursor: impl Fn(&T) -> String) -> (Vec<T>, Option<String>) {
    let next = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(cursor)
    } else {
        None
    };
    (rows, next)
}

/// The `/api` routes.
pub(crate) fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/api/me", get(me))
        .route("/api/audit", get(audit::<S>))
        .merge(credentials::router::<S>())
        .merge(reviews::router::<S>())
}

async fn me(principal: Principal) -> Json<Me> {
    Json(Me {
        kind: principal.kind,
        id: principal.id,
        name: principal.name,
        owner: principal.owner,
        roles: principal.roles,
        token_class: principal.class,
        scopes: principal.scopes,
        expires_at: principal.exp,
    })
}

#[derive(Debug, Deserialize)]
struct AuditParams {
    cursor: Option<String>,
    limit: Option<u32>,
    action: Option<String>,
    actor: Option<String>,
    target: Option<String>,
}

/// `GET /api/audit?cursor&limit&action=<prefix>&actor=<id>&target=<id>`: newest first;
/// auditors and admins only.
async fn audit<S: Store>(
    State(state): State<AppState<S>>,
    principal: Principal,
    params: Result<Query<AuditParams>, QueryRejection>,
) -> Result<Json<Page<AuditEntry>>, Error> {
    if !(principal.has_role(Role::Auditor) || principal.has_role(Role::Admin)) {
        principal.require_role(Role::Auditor)?;
    }
    let params = query(params)?;
    let before = match params.cursor.as_deref() {
        None => None,
        Some(c) => Some(c.parse::<i64>().map_err(|_| Error::bad_request("invalid cursor"))?),
    };
    let limit = params.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let filter = AuditQuery {
        before,
        action_prefix: params.action,
        actor_id: params.actor,
        target_id: params.target,
        limit: limit + 1,
    };
    let events = state.store.audit_events(&filter).await?;
    let (items, next) = page_of(events, limit, |e| e.id.to_string());
    Ok(Json(Page { items, next }))
}
