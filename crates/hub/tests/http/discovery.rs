//! Discovery, JWKS, health, and the JSON shape of generic errors.

use keyway_api::DiscoveryDocument;
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;

#[tokio::test]
async fn discovery_document_advertises_the_endpoints() {
    let hub = TestHub::start().await;
    let resp = reqwest::get(hub.at("/.well-known/openid-configuration")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let doc: DiscoveryDocument = resp.json().await.unwrap();
    assert_eq!(doc.issuer, hub.url);
    assert!(hub.url.starts_with("http://127.0.0.1:"));
    assert_eq!(doc.authorization_endpoint, hub.at("/oauth/authorize"));
    assert_eq!(doc.token_endpoint, hub.at("/oauth/token"));
    assert_eq!(doc.userinfo_endpoint, hub.at("/oauth/userinfo"));
    assert_eq!(doc.jwks_uri, hub.at("/oauth/jwks"));
    assert_eq!(doc.revocation_endpoint, hub.at("/oauth/revoke"));
    assert_eq!(doc.code_challenge_methods_supported, ["S256"]);
    assert_eq!(doc.id_token_signing_alg_values_supported, ["EdDSA"]);
    assert_eq!(doc.response_types_supported, ["code"]);
    assert_eq!(
        doc.grant_types_supported,
        [
            "authorization_code",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:token-exchange",
            "urn:ietf:params:oauth:grant-type:device_code",
            "urn:openid:params:grant-type:ciba"
        ]
    );
    assert_eq!(doc.token_endpoint_auth_methods_supported, ["none"]);
    assert!(doc.scopes_supported.iter().any(|s| s == "openid"));
    assert!(doc.authorization_response_iss_parameter_supported);
}

/// RFC 8414 §3.1: for an issuer with a path, a client inserts the well-known part between the
/// host and the path; a proxy forwarding the host's `/.well-known/` to the hub reaches these.
/// Behind a proxy that strips the path, the plain addresses stay the issuer's too.
#[tokio::test]
async fn an_issuer_with_a_path_has_its_metadata_with_the_path_inserted() {
    let issuer = "https://hub.example/teams/core";
    let hub = TestHub::start_with(|s| s.issuer = Some(issuer.into())).await;
    let base = format!("http://{}", hub.addr());
    for path in [
        "/.well-known/oauth-authorization-server/teams/core",
        "/.well-known/openid-configuration/teams/core",
        "/.well-known/oauth-authorization-server/teams/core/",
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let resp = reqwest::get(format!("{base}{path}")).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert_eq!(resp.headers()["cache-control"], "public, max-age=300", "{path}");
        let doc: DiscoveryDocument = resp.json().await.unwrap();
        assert_eq!(doc.issuer, issuer, "{path}");
        assert_eq!(doc.token_endpoint, format!("{issuer}/oauth/token"), "{path}");
        assert_eq!(doc.jwks_uri, format!("{issuer}/oauth/jwks"), "{path}");
    }
    for path in [
        "/.well-known/oauth-authorization-server/teams",
        "/.well-known/oauth-authorization-server/teams/core/more",
        "/.well-known/oauth-authorization-server/Teams/Core",
        "/.well-known/openid-configuration/other",
    ] {
        let resp = reqwest::get(format!("{base}{path}")).await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "not_found", "{path}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains("/.well-known/oauth-authorization-server/teams/core"), "{path}: {message}");
    }

    // An issuer without a path has nothing at an inserted one.
    let plain = TestHub::start().await;
    let resp = reqwest::get(plain.at("/.well-known/oauth-authorization-server/teams/core")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
    assert!(body["message"].as_str().unwrap().contains("has no path"), "{body}");
}

#[tokio::test]
async fn jwks_has_one_ed25519_key_and_survives_restart() {
    let hub = TestHub::start().await;
    let jwks: Value = reqwest::get(hub.at("/oauth/jwks")).await.unwrap().json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert_eq!(key["alg"], "EdDSA");
    assert_eq!(key["use"], "sig");
    let x = key["x"].as_str().unwrap();
    assert_eq!(x.len(), 43, "32 bytes, base64url without padding");
    assert!(!key.as_object().unwrap().contains_key("d"), "no private part");
    // kid = base64url(first 8 bytes of SHA-256(public key))
    use base64::Engine as _;
    use sha2::Digest as _;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(x).unwrap();
    let expected_kid = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&sha2::Sha256::digest(&raw)[..8]);
    assert_eq!(key["kid"], expected_kid.as_str());

    let hub = hub.restart_same_db().await;
    let again: Value = reqwest::get(hub.at("/oauth/jwks")).await.unwrap().json().await.unwrap();
    assert_eq!(again, jwks, "the signing key is stored and reused");
}

#[tokio::test]
async fn healthz_says_ok() {
    let hub = TestHub::start().await;
    let resp = reqwest::get(hub.at("/healthz")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn unknown_route_is_json_404() {
    let hub = TestHub::start().await;
    let resp = reqwest::get(hub.at("/no/such/thing")).await.unwrap();
    let body = expect_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    assert!(body.message.contains("/no/such/thing"));
}

#[tokio::test]
async fn wrong_method_is_json_405() {
    let hub = TestHub::start().await;
    let resp = reqwest::get(hub.at("/oauth/token")).await.unwrap();
    expect_error(resp, StatusCode::METHOD_NOT_ALLOWED, "invalid_request").await;
}

#[tokio::test]
async fn malformed_token_requests_are_json_400() {
    let hub = TestHub::start().await;
    let client = reqwest::Client::new();

    // JSON instead of a form.
    let resp = client
        .post(hub.at("/oauth/token"))
        .header("content-type", "application/json")
        .body(r#"{"grant_type":"authorization_code"}"#)
        .send()
        .await
        .unwrap();
    let body = expect_error(resp, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert_eq!(body.error_description.as_deref(), Some(body.message.as_str()));

    // No content type, garbage body.
    let resp = client.post(hub.at("/oauth/token")).body("\u{0}\u{1}garbage").send().await.unwrap();
    expect_error(resp, StatusCode::BAD_REQUEST, "invalid_request").await;

    // Not UTF-8.
    let resp = client
        .post(hub.at("/oauth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![0xff, 0xfe, b'=', 0x80])
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::BAD_REQUEST, "invalid_request").await;

    // Missing grant_type, unknown grant_type, repeated parameter.
    expect_error(token_request(&hub, &[("code", "x")]).await, StatusCode::BAD_REQUEST, "invalid_request").await;
    expect_error(
        token_request(&hub, &[("grant_type", "password"), ("username", "a")]).await,
        StatusCode::BAD_REQUEST,
        "unsupported_grant_type",
    )
    .await;
    expect_error(
        token_request(&hub, &[("grant_type", "refresh_token"), ("grant_type", "refresh_token")]).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;

    // Unknown client.
    expect_error(
        token_request(&hub, &[("grant_type", "refresh_token"), ("refresh_token", "x"), ("client_id", "evil")]).await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    )
    .await;

    // Body over 64 KB.
    let big = "a".repeat(70 * 1024);
    let resp = client
        .post(hub.at("/oauth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=authorization_code&pad={big}"))
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::PAYLOAD_TOO_LARGE, "invalid_request").await;
}

#[tokio::test]
async fn token_errors_are_not_cached() {
    let hub = TestHub::start().await;
    let resp = token_request(&hub, &[("grant_type", "nope")]).await;
    assert_eq!(resp.headers().get("cache-control").unwrap(), "no-store");
}
