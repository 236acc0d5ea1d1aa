//! `GET /api/audit`: the audit log, newest first, for auditors and admins.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use keyway_api::auth::{AuditEntry, Page};
use serde::Deserialize;

use crate::error::Error;
use crate::http::{DEFAULT_PAGE, MAX_PAGE, cursor, page_of, query};
use crate::policy::Rule;
use crate::principal::Principal;
use crate::state::AppState;
use crate::store::{AuditQuery, Store};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditParams {
    cursor: Option<String>,
    limit: Option<u32>,
    action: Option<String>,
    actor: Option<String>,
    target: Option<String>,
    outcome: Option<String>,
    since: Option<i64>,
    until: Option<i64>,
}

/// `GET /api/audit?cursor&limit&action=<prefix>&actor=<id or name>&target=<id>&outcome=<ok or
/// code>&since=<unix s>&until=<unix s>`: newest first, `since` inclusive and `until` exclusive;
/// auditors and admins only.
pub(super) async fn list<S: Store>(
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
        action_prefix: params.action.filter(|s| !s.is_empty()),
        actor_id: params.actor.filter(|s| !s.is_empty()),
        target_id: params.target.filter(|s| !s.is_empty()),
        outcome: params.outcome.filter(|s| !s.is_empty()),
        since: params.since,
        until: params.until,
        limit: limit + 1,
    };
    let events = state.store.audit_events(&filter).await?;
    let (items, next) = page_of(events, limit, |e| e.id.to_string());
    Ok(Json(Page { items, next }))
}
