//! OpenID Provider metadata (OIDC Discovery 1.0) and authorization server metadata (RFC 8414),
//! one document at both addresses (and, for an issuer with a path, at both addresses with the
//! path inserted), and the JWKS.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use keyway_api::DiscoveryDocument;

use crate::error::Error;
use crate::state::AppState;
use crate::store::Store;

/// Scopes the hub knows.
pub(crate) const SCOPES_SUPPORTED: &[&str] = &["openid", "profile", "offline_access"];

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

pub(crate) fn document<S>(state: &AppState<S>) -> DiscoveryDocument {
    DiscoveryDocument {
        issuer: state.issuer.clone(),
        authorization_endpoint: state.endpoint("/oauth/authorize"),
        token_endpoint: state.endpoint("/oauth/token"),
        userinfo_endpoint: state.endpoint("/oauth/userinfo"),
        jwks_uri: state.endpoint("/oauth/jwks"),
        revocation_endpoint: state.endpoint("/oauth/revoke"),
        response_types_supported: strings(&["code"]),
        grant_types_supported: strings(&[
            "authorization_code",
            "refresh_token",
            keyway_api::credentials::GRANT_TOKEN_EXCHANGE,
            keyway_api::clients::GRANT_DEVICE_CODE,
            keyway_api::ciba::GRANT_CIBA,
        ]),
        subject_types_supported: strings(&["public"]),
        id_token_signing_alg_values_supported: strings(&["EdDSA"]),
        code_challenge_methods_supported: strings(&["S256"]),
        token_endpoint_auth_methods_supported: strings(&["none"]),
        scopes_supported: strings(SCOPES_SUPPORTED),
        claims_supported: strings(&[
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "sid",
            "preferred_username",
            "name",
            "roles",
        ]),
        authorization_response_iss_parameter_supported: true,
        registration_endpoint: Some(state.endpoint("/oauth/register")),
        device_authorization_endpoint: Some(state.endpoint("/oauth/device_authorization")),
        backchannel_authentication_endpoint: Some(state.endpoint(keyway_api::ciba::BACKCHANNEL_PATH)),
        backchannel_token_delivery_modes_supported: strings(&["poll"]),
        backchannel_user_code_parameter_supported: false,
        client_id_metadata_document_supported: true,
    }
}

fn cacheable(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

pub(crate) async fn openid_configuration<S: Store>(State(state): State<AppState<S>>) -> Response {
    cacheable(Json(document(&state)).into_response())
}

/// RFC 8414 authorization server metadata: the same document as OIDC discovery, so the two
/// never disagree.
pub(crate) async fn authorization_server<S: Store>(State(state): State<AppState<S>>) -> Response {
    cacheable(Json(document(&state)).into_response())
}

/// The well-known prefixes a client puts before an issuer's path (RFC 8414 §3.1, and the same
/// insertion for OpenID discovery, which MCP clients try next).
const AUTHORIZATION_SERVER: &str = "/.well-known/oauth-authorization-server";
const OPENID_CONFIGURATION: &str = "/.well-known/openid-configuration";

/// RFC 8414 §3.1 path insertion. For an issuer with a path, `https://h.example/tenant`, a client
/// asks `https://h.example/.well-known/oauth-authorization-server/tenant` (or
/// `/.well-known/openid-configuration/tenant`): a proxy that forwards the host's `/.well-known/`
/// to the hub reaches this. The path must be the issuer's own; any other, and any path at all
/// when the issuer has none, is not this hub's metadata.
pub(crate) async fn inserted<S: Store>(State(state): State<AppState<S>>, uri: Uri) -> Response {
    let asked = uri.path();
    let suffix =
        asked.strip_prefix(AUTHORIZATION_SERVER).or_else(|| asked.strip_prefix(OPENID_CONFIGURATION)).unwrap_or(asked);
    match issuer_path(&state.issuer) {
        Some(own) if own == suffix.trim_end_matches('/') => cacheable(Json(document(&state)).into_response()),
        Some(own) => Error::missing(format!(
            "no metadata here: this hub's issuer is {}, whose metadata is at {AUTHORIZATION_SERVER}{own}",
            state.issuer
        ))
        .into_response(),
        None => Error::missing(format!(
            "no metadata here: this hub's issuer {} has no path, so its metadata is at {AUTHORIZATION_SERVER}",
            state.issuer
        ))
        .into_response(),
    }
}

/// The issuer's path as it appears in a URL (`/tenant`), or `None` when it has none.
fn issuer_path(issuer: &str) -> Option<String> {
    let url = url::Url::parse(issuer).ok()?;
    let path = url.path().trim_end_matches('/');
    (!path.is_empty()).then(|| path.to_owned())
}

pub(crate) async fn jwks<S: Store>(State(state): State<AppState<S>>) -> Response {
    cacheable(Json(state.keys.jwks()).into_response())
}

#[cfg(test)]
mod tests {
    use super::issuer_path;

    #[test]
    fn an_issuers_path_is_what_follows_its_host() {
        assert_eq!(issuer_path("https://h.example/tenant").as_deref(), Some("/tenant"));
        assert_eq!(issuer_path("https://h.example/a/b").as_deref(), Some("/a/b"));
        assert_eq!(issuer_path("https://h.example/t%20x").as_deref(), Some("/t%20x"));
        assert_eq!(issuer_path("https://h.example"), None);
        assert_eq!(issuer_path("http://127.0.0.1:8080"), None);
    }
}
