//! SCIM tokens under `/api/scim/tokens`: auditors and admins list them; admins (a `user_admin`
//! JWT) create one, whose secret is answered once, and revoke one, which stops working at once
//! (the SCIM routes look the token up on every request).

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{delete, get};
use keyway_api::codes;
use keyway_api::scim::{CreateScimToken, CreatedScimToken, ScimTokenView};
use serde_json::json;

use super::access::{change_event, created};
use super::users::{can_manage_users, can_read_users};
use crate::error::Error;
use crate::http::Body;
use crate::principal::Principal;
use crate::routing::Routes;
use crate::scim::auth::{label_of, new_token};
use crate::state::AppState;
use crate::store::changes::{Applied, Change, Write};
use crate::store::{ScimTokenRecord, Store};

pub(crate) fn router<S: Store>() -> Routes<S> {
    Routes::new()
        .route("/api/scim/tokens", get(list::<S>).post(create::<S>))
        .route("/api/scim/tokens/{id}", delete(revoke::<S>))
}

pub(crate) fn view(t: &ScimTokenRecord) -> ScimTokenView {
    ScimTokenView {
        id: t.id.clone(),
        label: t.label.clone(),
        created_by: t.created_by.clone(),
        created_at: t.created_at,
        revoked_at: t.revoked_at,
    }
}

/// `GET /api/scim/tokens`: every token, newest first.
async fn list<S: Store>(State(state): State<AppState<S>>, p: Principal) -> Result<Json<Vec<ScimTokenView>>, Error> {
    can_read_users(&p)?;
    Ok(Json(state.store.scim_tokens().await?.iter().map(view).collect()))
}

/// `POST /api/scim/tokens`: a new token, its secret answered this once.
async fn create<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    body: Result<Body<Json<CreateScimToken>>, Error>,
) -> Result<Response, Error> {
    can_manage_users(&p)?;
    let Body(Json(body)) = body?;
    let label = label_of(body.label.as_deref())?;
    let now = state.now();
    let (secret, record) = new_token(&label, Some(&p.id), now);
    let event = change_event(&p, now, "scim_token.create", "scim_token", &record.id, json!({ "label": label }));
    let applied = state.store.apply(&Change::new().then(Write::InsertScimToken(&record)).audit(&event)).await?;
    if !applied.is_done() {
        return Err(Error::Internal("a new SCIM token's hash is taken".into()));
    }
    tracing::info!(token = %record.id, label = %record.label, "SCIM token created");
    Ok(created(CreatedScimToken { token: view(&record), secret }))
}

/// `DELETE /api/scim/tokens/{id}`: revoked at once (idempotent for a revoked one).
async fn revoke<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<ScimTokenView>, Error> {
    can_manage_users(&p)?;
    let unknown = || Error::api(axum::http::StatusCode::NOT_FOUND, codes::UNKNOWN_SCIM_TOKEN, "No such SCIM token");
    let tokens = state.store.scim_tokens().await?;
    let token = tokens.iter().find(|t| t.id == id).ok_or_else(unknown)?;
    if token.revoked_at.is_none() {
        let now = state.now();
        let event =
            change_event(&p, now, "scim_token.revoke", "scim_token", &token.id, json!({ "label": token.label }));
        let change = Change::new().then(Write::RevokeScimToken { id: &token.id, now }).audit(&event);
        if let Applied::Stopped { .. } = state.store.apply(&change).await? {
            // Revoked by someone else meanwhile.
        }
    }
    let tokens = state.store.scim_tokens().await?;
    Ok(Json(tokens.iter().find(|t| t.id == id).map(view).ok_or_else(unknown)?))
}
