//! The OAuth 2.1 / OpenID Connect endpoints: discovery and JWKS, authorization with the
//! sign-in page, the token endpoint's grants, revocation and userinfo. One file per endpoint
//! family; errors are RFC 6749's.

pub(crate) mod authorize;
pub(crate) mod ciba;
pub(crate) mod client_metadata;
pub(crate) mod clients;
pub(crate) mod code;
pub(crate) mod device;
pub(crate) mod device_api;
pub(crate) mod device_page;
pub(crate) mod discovery;
pub(crate) mod fetch_guard;
pub(crate) mod login;
pub(crate) mod login_page;
pub(crate) mod pkce;
pub(crate) mod register;
pub(crate) mod resource;
pub(crate) mod revoke;
pub(crate) mod token;
pub(crate) mod userinfo;

use axum::routing::{get, post};

use crate::routing::Routes;
use crate::store::Store;

/// The OAuth and OpenID Connect routes.
pub(crate) fn router<S: Store>() -> Routes<S> {
    Routes::new()
        .route("/.well-known/openid-configuration", get(discovery::openid_configuration::<S>))
        .route("/oauth/jwks", get(discovery::jwks::<S>))
        .route("/oauth/authorize", get(authorize::authorize::<S>))
        .route("/login", post(login::login::<S>))
        .route("/login/set-password", post(login::set_password::<S>))
        .route("/oauth/token", post(token::token::<S>))
        .route("/oauth/revoke", post(revoke::revoke::<S>))
        .route("/oauth/userinfo", get(userinfo::userinfo::<S>).post(userinfo::userinfo::<S>))
        .route("/.well-known/oauth-authorization-server", get(discovery::authorization_server::<S>))
        .route("/.well-known/oauth-authorization-server/{*issuer_path}", get(discovery::inserted::<S>))
        .route("/.well-known/openid-configuration/{*issuer_path}", get(discovery::inserted::<S>))
        .route("/oauth/register", post(register::register::<S>))
        .route("/oauth/device_authorization", post(device::device_authorization::<S>))
        .route(keyway_api::ciba::BACKCHANNEL_PATH, post(ciba::bc_authorize::<S>))
        .route("/device", get(device_page::show::<S>).post(device_page::enter::<S>))
        .route("/device/decide", post(device_page::decide::<S>))
        .route("/oauth/device/lookup", post(device_api::lookup::<S>))
        .route("/oauth/device/approve", post(device_api::approve::<S>))
        .route("/oauth/device/deny", post(device_api::deny::<S>))
}
