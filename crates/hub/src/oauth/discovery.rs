//! OpenID Provider metadata (OIDC Discovery 1.0) and authorization server metadata (RFC 8414),
//! one document at both addresses, and the JWKS.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use keyway_api::DiscoveryDocument;

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

pub(crate) async fn jwks<S: Store>(State(state): State<AppState<S>>) -> Response {
    cacheable(Json(state.keys.jwks()).into_response())
}
