//! SCIM 2.0 provisioning (RFC 7643, RFC 7644) under `/scim/v2`: an IdP creates, changes,
//! disables and deletes the users it manages, and sets Keyway's roles through group
//! membership. Callers authenticate with a SCIM bearer token (`auth`); answers and errors are
//! `application/scim+json` (`error`).

pub(crate) mod auth;
mod body;
mod discovery;
pub(crate) mod error;
pub(crate) mod filter;
mod groups;
mod patch;
mod resources;
pub(crate) mod time;
mod users;

use axum::routing::{any, get, post};

pub(crate) use self::users::ListParams;
use crate::routing::Routes;
use crate::store::Store;

/// The `/scim/v2` routes.
pub(crate) fn router<S: Store>() -> Routes<S> {
    Routes::new()
        .route("/scim/v2/Users", get(users::list::<S>).post(users::create::<S>))
        .route("/scim/v2/Users/.search", post(users::search::<S>))
        .route("/scim/v2/.search", post(users::search::<S>))
        .route(
            "/scim/v2/Users/{id}",
            get(users::one::<S>).put(users::replace::<S>).patch(users::patch::<S>).delete(users::delete::<S>),
        )
        .route("/scim/v2/Groups", get(groups::list::<S>).post(groups::create::<S>))
        .route(
            "/scim/v2/Groups/{id}",
            get(groups::one::<S>).put(groups::replace::<S>).patch(groups::patch::<S>).delete(groups::delete::<S>),
        )
        .route("/scim/v2/ServiceProviderConfig", get(discovery::config::<S>))
        .route("/scim/v2/ResourceTypes", get(discovery::types::<S>))
        .route("/scim/v2/ResourceTypes/{id}", get(discovery::one_type::<S>))
        .route("/scim/v2/Schemas", get(discovery::schemas::<S>))
        .route("/scim/v2/Schemas/{id}", get(discovery::one_schema::<S>))
        .route("/scim/v2/{*rest}", any(users::unknown))
}
