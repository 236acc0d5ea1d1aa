//! The hub's OpenAPI 3.1 document, served at `GET /openapi.json`. `utoipa` builds it from the
//! wire types (`keyway_api` with its `openapi` feature, and the query types of the handlers)
//! and from the operations declared here, one file per area; a test of the HTTP suite walks the
//! router and fails on any (path, method) the document lacks or names in excess.
//!
//! Errors are named per family: Keyway's `{"error", "message"}` (`ErrorBody`), RFC 6749's
//! `{"error", "error_description"}` on the OAuth endpoints (`OAuthError`), and RFC 7644's
//! `ScimError` under `/scim/v2`. Browser pages answer HTML.

mod admin;
mod keyway;
mod oauth;
mod responses;
mod schemas;
mod scim;

use std::sync::LazyLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

/// The security schemes operations name.
fn security_schemes() -> [(&'static str, &'static str, HttpAuthScheme, Option<&'static str>); 4] {
    [
        (
            "jwt",
            "A short-lived access JWT of this hub (EdDSA), from `/auth/exchange`, `/oauth/token` or \
             `/auth/service-account/token`.",
            HttpAuthScheme::Bearer,
            Some("JWT"),
        ),
        (
            "pat",
            "A long-lived Keyway credential (`kwp_…`): a personal access token, an agent's PAT, an \
             enrollment token; only exchanged for a JWT, never accepted by resource routes.",
            HttpAuthScheme::Bearer,
            Some("kwp_"),
        ),
        (
            "service_account",
            "A service account's name and token, as `Basic base64(name:token)`.",
            HttpAuthScheme::Basic,
            None,
        ),
        (
            "scim",
            "A SCIM provisioning token (`kwscim_…`) of an identity provider.",
            HttpAuthScheme::Bearer,
            Some("kwscim_"),
        ),
    ]
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Keyway hub",
        description = "An OAuth 2.1 / OpenID Connect authorization server for Keyway's native clients, \
                       with Keyway's own API under /api and /auth and SCIM 2.0 provisioning under /scim/v2."
    ),
    paths(openapi_json),
    tags(
        (name = "oauth", description = "OAuth 2.1 / OpenID Connect endpoints and discovery."),
        (name = "browser", description = "Pages and forms a person's browser uses to sign in."),
        (name = "auth", description = "Exchanging a credential for a short-lived JWT."),
        (name = "api", description = "Keyway's resource API: every route takes a bearer JWT."),
        (name = "admin", description = "People, groups, sessions and provisioning tokens."),
        (name = "reviews", description = "Review requests and their decisions."),
        (name = "scim", description = "SCIM 2.0 provisioning (RFC 7643, RFC 7644)."),
        (name = "meta", description = "Health, mode and this document.")
    )
)]
struct Doc;

/// The whole document.
pub(crate) fn document() -> utoipa::openapi::OpenApi {
    let mut doc = Doc::openapi();
    doc.merge(oauth::Doc::openapi());
    doc.merge(keyway::Doc::openapi());
    doc.merge(admin::Doc::openapi());
    doc.merge(scim::Doc::openapi());
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, description, scheme, format) in security_schemes() {
        let mut http = Http::new(scheme);
        http.description = Some(description.to_owned());
        http.bearer_format = format.map(str::to_owned);
        components.add_security_scheme(name, SecurityScheme::Http(http));
    }
    doc
}

/// The document as JSON, built once.
static JSON: LazyLock<String> = LazyLock::new(|| {
    document().to_json().unwrap_or_else(|e| format!("{{\"error\":\"server_error\",\"message\":\"{e}\"}}"))
});

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    security(()),
    responses((status = 200, description = "The hub's OpenAPI 3.1 document.", content_type = "application/json"))
)]
pub(crate) async fn openapi_json() -> Response {
    let mut response = ([(header::CONTENT_TYPE, "application/json")], JSON.as_str()).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}
