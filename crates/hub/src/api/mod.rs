//! Keyway's own routes: the resource API under `/api` (every route takes a bearer JWT,
//! [`Principal`]) and the exchange under `/auth`. Refusals are `{"error", "message"}`.
//!
//! Handlers are thin: they check who may call, parse, and call the domain modules
//! (`crate::credentials`, `crate::reviews`) and the store.

mod access;
mod agents;
mod audit;
mod clients;
mod credentials;
pub(crate) mod exchange;
mod groups;
mod keys;
mod resources;
mod reviews;
mod scim_tokens;
mod service_accounts;
mod sessions;
mod users;

use axum::Json;
use axum::routing::get;
use keyway_api::auth::Me;

pub(crate) use self::agents::ListParams as AgentListParams;
pub(crate) use self::audit::AuditParams;
pub(crate) use self::credentials::CredentialListParams;
pub(crate) use self::reviews::WaitParams;
pub(crate) use self::users::ListParams as UserListParams;
use crate::error::Error;
use crate::policy::Rule;
use crate::principal::Principal;
use crate::routing::Routes;
use crate::store::Store;

/// The `/api` and `/auth` routes.
pub(crate) fn router<S: Store>() -> Routes<S> {
    Routes::new()
        .route("/api/me", get(me))
        .route("/api/audit", get(audit::list::<S>))
        .merge(credentials::router::<S>())
        .merge(agents::router::<S>())
        .merge(service_accounts::router::<S>())
        .merge(reviews::router::<S>())
        .merge(exchange::router::<S>())
        .merge(keys::router::<S>())
        .merge(users::router::<S>())
        .merge(groups::router::<S>())
        .merge(sessions::router::<S>())
        .merge(clients::router::<S>())
        .merge(resources::router::<S>())
        .merge(scim_tokens::router::<S>())
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
