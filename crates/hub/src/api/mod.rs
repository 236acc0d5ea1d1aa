//! Keyway's own routes: the resource API under `/api` (every route takes a bearer JWT,
//! [`Principal`]) and the exchange under `/auth`. Refusals are `{"error", "message"}`.
//!
//! Handlers are thin: they check who may call, parse, and call the domain modules
//! (`crate::credentials`, `crate::reviews`) and the store.

mod access;
mod agents;
mod credentials;
pub(crate) mod exchange;
mod keys;
mod reviews;
mod service_accounts;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::get;
use keyway_api::auth::{AuditEntry, Me, Page};
use serde::Deserialize;

use crate::error::Error;
use crate::http::{DEFAULT_PAGE, MAX_PAGE, cursor, page_of, query};
use crate::policy::Rule;
use crate::principal::Principal;
use crate::routing::Routes;
use crate::state::AppState;
use crate::store::{AuditQuery, Store};

/// The `/api` and `/auth` routes.
pub(crate) fn router<S: Store>() -> Routes<S> {
    Routes::new()
        .route("/api/me", get(me))
        .route("/api/audit", get(audit::<S>))
        .merge(credentials::router::<S>())
        .merge(agents::router::<S>())
        .merge(service_accounts::router::<S>())
        .merge(reviews::router::<S>())
        .merge(exchange::router::<S>())
        .merge(keys::router::<S>())
}

async fn me(principal: Principal) -> Result<Json<Me>, Error> {
    principal.require(Rule::Anyone)?;
    Ok(Json(Me {
        kind: principal.kind,
        id: principal.id,
        name: principal.name,
        owner: principal.owner,
        roles: principal.roles,
        token_class: principal.class,
        scopes: principal.scopes,
        expires_at: principal.exp,
    }))
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
    principal.require(Rule::AuditRead)?;
    let params = query(params)?;
    let before = cursor(params.cursor.as_deref(), |c| c.parse::<i64>().ok())?;
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
