//! Standard OAuth for agents and MCP clients: RFC 8414 metadata, dynamic client registration
//! (RFC 7591), resource indicators (RFC 8707) and the device authorization grant (RFC 8628).

use std::time::Duration;

use keyway_api::clients::{DeviceAuthorization, GRANT_DEVICE_CODE, RegisteredClientInfo, RegisteredClients};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;
use crate::credentials::admin_jwt;

pub const MCP: &str = "http://127.0.0.1:9/mcp";

async fn register(hub: &TestHub, body: Value) -> reqwest::Response {
    reqwest::Client::new().post(hub.at("/oauth/register")).json(&body).send().await.unwrap()
}

pub async fn register_ok(hub: &TestHub, redirect: &str) -> RegisteredClientInfo {
    let resp = register(hub, json!({"client_name": "Probe MCP client", "redirect_uris": [redirect]})).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn metadata_names_the_standard_endpoints_and_agrees_with_discovery() {
    let hub = TestHub::start().await;
    let meta: Value =
        reqwest::get(hub.at("/.well-known/oauth-authorization-server")).await.unwrap().json().await.unwrap();
    let oidc: Value = reqwest::get(hub.at("/.well-known/openid-configuration")).await.unwrap().json().await.unwrap();
    assert_eq!(meta, oidc, "one document at both addresses");
    assert_eq!(meta["issuer"], hub.url);
    assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(meta["registration_endpoint"], hub.at("/oauth/register"));
    assert_eq!(meta["device_authorization_endpoint"], hub.at("/oauth/device_authorization"));
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
    assert_eq!(meta["client_id_metadata_document_supported"], true);
    assert!(meta["token_endpoint_auth_methods_supported"].as_array().unwrap().contains(&json!("none")));
    assert!(meta["grant_types_supported"].as_array().unwrap().contains(&json!(GRANT_DEVICE_CODE)));
}

#[tokio::test]
async fn a_registered_client_signs_in_and_an_admin_revokes_it() {
    let hub = TestHub::start().await;
    let client = register_ok(&hub, "http://127.0.0.1:5000/callback").await;
    assert!(client.client_id.starts_with("kwc_"));
    assert_eq!(client.token_endpoint_auth_method, "none");
    // Any loopback port, as RFC 8252 §7.3 says.
    let flow = Flow::new("http://127.0.0.1:43111/callback");
    let browser = browser();
    let url = flow.authorize_url(&hub.url, &[("client_id", Some(&client.client_id))]);
    let location = keyway_test_support::log_in(&browser, &url, USER, PASSWORD).await.unwrap();
    let code = keyway_test_support::code_from_location(&location, &hub.url, &flow).unwrap();
    let resp = token_request(
        &hub,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &flow.redirect_uri),
            ("client_id", &client.client_id),
            ("code_verifier", &flow.verifier),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let tokens: keyway_api::TokenResponse = resp.json().await.unwrap();
    let (_, claims) = verify_jwt(&hub, &tokens.access_token).await;
    assert_eq!(claims["client_id"], client.client_id);
    assert_eq!(claims["aud"], "keyway");

    let admin = admin_jwt(&hub, USER).await;
    let http = reqwest::Client::new();
    let list: RegisteredClients =
        http.get(hub.at("/api/clients")).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
    let listed = list.clients.iter().find(|c| c.client_id == client.client_id).expect("listed");
    assert!(listed.last_used_at.is_some(), "the code exchange counts as a use");
    let revoke = |id: String| http.post(hub.at(&format!("/api/clients/{id}/revoke"))).bearer_auth(&admin).send();
    assert_eq!(revoke(client.client_id.clone()).await.unwrap().status(), StatusCode::OK);
    expect_error(revoke(client.client_id.clone()).await.unwrap(), StatusCode::NOT_FOUND, "not_found").await;
    // Revoked: its refresh token and new sign-ins are refused.
    let refresh_token = tokens.refresh_token.expect("refresh token");
    let resp = token_request(
        &hub,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh_token), ("client_id", &client.client_id)],
    )
    .await;
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let resp =
        browser.get(flow.authorize_url(&hub.url, &[("client_id", Some(&client.client_id))])).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn registration_refuses_what_a_native_client_may_not_register() {
    let hub = TestHub::start().await;
    for (body, code) in [
        (json!({"redirect_uris": ["http://example.com/callback"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": ["http://192.168.1.5:8080/cb"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": ["javascript:alert(1)"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": []}), "invalid_redirect_uri"),
        (
            json!({"redirect_uris": ["http://127.0.0.1/cb"], "token_endpoint_auth_method": "client_secret_basic"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["http://127.0.0.1/cb"], "grant_types": ["client_credentials"]}),
            "invalid_client_metadata",
        ),
        (json!({"redirect_uris": ["http://127.0.0.1/cb"], "response_types": ["token"]}), "invalid_client_metadata"),
        (json!({"redirect_uris": "http://127.0.0.1/cb"}), "invalid_client_metadata"),
        (json!({"redirect_uris": ["http://127.0.0.1/cb"], "client_name": "x".repeat(101)}), "invalid_client_metadata"),
    ] {
        let resp = register(&hub, body.clone()).await;
        let err = expect_error(resp, StatusCode::BAD_REQUEST, code).await;
        assert!(err.error_description.is_some(), "{body}");
    }
    // Accepted: localhost, IPv6 loopback and a private-use scheme named after a domain.
    for uri in ["http://localhost:3000/callback", "http://[::1]/cb", "com.example.agent:/oauth"] {
        register_ok(&hub, uri).await;
    }
}

#[tokio::test]
async fn registration_is_rate_limited_per_address() {
    let hub = TestHub::start().await;
    let mut limited = None;
    for i in 0..30 {
        let resp = register(&hub, json!({"redirect_uris": ["http://127.0.0.1/cb"]})).await;
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(i);
            assert!(resp.headers().get("retry-after").is_some());
            expect_error(resp, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
            break;
        }
        assert_eq!(resp.status(), StatusCode::CREATED);
    }
    assert_eq!(limited, Some(20), "the 21st registration from one address is refused");
}

#[tokio::test]
async fn a_resource_becomes_the_audience_and_an_unknown_one_is_invalid_target() {
    let hub = TestHub::start_with(|s| s.resources = vec![MCP.to_owned()]).await;
    let flow = Flow::new(&v4(43112));
    let browser = browser();
    // Unknown at authorize: the error goes back to the client, with `iss`.
    let resp = browser
        .get(flow.authorize_url(&hub.url, &[("resource", Some("https://elsewhere.example/mcp"))]))
        .send()
        .await
        .unwrap();
    let params = redirect_params(&resp, &flow);
    assert_eq!(param(&params, "error"), Some("invalid_target"));
    assert_eq!(param(&params, "iss"), Some(hub.url.as_str()));

    let url = flow.authorize_url(&hub.url, &[("resource", Some(MCP))]);
    let location = keyway_test_support::log_in(&browser, &url, USER, PASSWORD).await.unwrap();
    let code = keyway_test_support::code_from_location(&location, &hub.url, &flow).unwrap();
    let form = |resource: &'static str| {
        vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.clone()),
            ("redirect_uri", flow.redirect_uri.clone()),
            ("client_id", keyway_api::DESKTOP_CLIENT_ID.to_owned()),
            ("code_verifier", flow.verifier.clone()),
            ("resource", resource.to_owned()),
        ]
    };
    let http = reqwest::Client::new();
    let unknown = http.post(hub.at("/oauth/token")).form(&form("https://elsewhere.example/mcp")).send().await.unwrap();
    expect_error(unknown, StatusCode::BAD_REQUEST, "invalid_target").await;
    let resp = http.post(hub.at("/oauth/token")).form(&form(MCP)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let tokens: keyway_api::TokenResponse = resp.json().await.unwrap();
    let (_, claims) = verify_jwt(&hub, &tokens.access_token).await;
    assert_eq!(claims["aud"], MCP);
    // A token for the MCP server is not one for the hub's API.
    let me = http.get(hub.at("/api/me")).bearer_auth(&tokens.access_token).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    // Refreshed tokens keep the audience; another resource is refused.
    let refresh_token = tokens.refresh_token.unwrap();
    let refresh_form = |resource: &'static str| {
        [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.as_str()),
            ("client_id", keyway_api::DESKTOP_CLIENT_ID),
            ("resource", resource),
        ]
    };
    let resp = token_request(&hub, &refresh_form(hub_url_leak(&hub))).await;
    expect_error(resp, StatusCode::BAD_REQUEST, "invalid_target").await;
    let resp = token_request(&hub, &refresh_form(MCP)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let refreshed: keyway_api::TokenResponse = resp.json().await.unwrap();
    assert_eq!(verify_jwt(&hub, &refreshed.access_token).await.1["aud"], MCP);
}

/// The hub's own URL, as a `&'static str` for the forms above.
fn hub_url_leak(hub: &TestHub) -> &'static str {
    Box::leak(hub.url.clone().into_boxed_str())
}

pub(crate) async fn start_device(hub: &TestHub, extra: &[(&str, &str)]) -> DeviceAuthorization {
    let mut form = vec![("client_id", keyway_api::DESKTOP_CLIENT_ID), ("scope", "openid offline_access")];
    form.extend_from_slice(extra);
    let resp = reqwest::Client::new().post(hub.at("/oauth/device_authorization")).form(&form).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
}

pub(crate) async fn poll(hub: &TestHub, device: &DeviceAuthorization) -> reqwest::Response {
    token_request(
        hub,
        &[
            ("grant_type", GRANT_DEVICE_CODE),
            ("device_code", &device.device_code),
            ("client_id", keyway_api::DESKTOP_CLIENT_ID),
        ],
    )
    .await
}

/// The device page as a person uses it: type the code, sign in, see what asks, click.
async fn decide_on_page(hub: &TestHub, browser: &reqwest::Client, user_code: &str, decision: &str) -> String {
    let page = browser.get(format!("{}?user_code={user_code}", hub.at("/device"))).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    let csrf = hidden_field(&html, "csrf");
    let confirm = browser
        .post(hub.at("/device"))
        .form(&[("csrf", csrf.as_str()), ("user_code", user_code), ("username", USER), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(confirm.status(), StatusCode::OK);
    let html = confirm.text().await.unwrap();
    assert!(html.contains("Keyway Desktop") && html.contains("openid offline_access"), "{html}");
    let csrf = hidden_field(&html, "csrf");
    let done = browser
        .post(hub.at("/device/decide"))
        .form(&[("csrf", csrf.as_str()), ("user_code", user_code), ("decision", decision)])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    done.text().await.unwrap()
}

#[tokio::test]
async fn device_flow_pending_slow_down_approve_and_no_replay() {
    let hub = TestHub::start_with(|s| s.resources = vec![MCP.to_owned()]).await;
    let device = start_device(&hub, &[("resource", MCP)]).await;
    assert!(device.device_code.len() >= 43, "256 bits");
    assert_eq!(device.verification_uri, hub.at("/device"));
    assert_eq!(device.user_code.len(), 9);
    assert!(device.verification_uri_complete.ends_with(&device.user_code));
    assert_eq!(device.interval, 5);
    expect_error(poll(&hub, &device).await, StatusCode::BAD_REQUEST, "authorization_pending").await;
    expect_error(poll(&hub, &device).await, StatusCode::BAD_REQUEST, "slow_down").await;

    // Following the link only fills the code in: nothing is approved until the click.
    let browser = browser();
    let page = browser.get(&device.verification_uri_complete).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(&device.user_code));
    hub.clock.advance(Duration::from_secs(11));
    expect_error(poll(&hub, &device).await, StatusCode::BAD_REQUEST, "authorization_pending").await;

    let done = decide_on_page(&hub, &browser, &device.user_code, "approve").await;
    assert!(done.contains("approved"), "{done}");
    hub.clock.advance(Duration::from_secs(11));
    let resp = poll(&hub, &device).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let tokens: keyway_api::TokenResponse = resp.json().await.unwrap();
    let (_, claims) = verify_jwt(&hub, &tokens.access_token).await;
    assert_eq!(claims["aud"], MCP);
    assert!(tokens.refresh_token.is_some());
    // Single use.
    hub.clock.advance(Duration::from_secs(11));
    expect_error(poll(&hub, &device).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
    // The code is no longer offered on the page.
    let page = browser.get(hub.at("/device")).send().await.unwrap().text().await.unwrap();
    let csrf = hidden_field(&page, "csrf");
    let resp = browser
        .post(hub.at("/device"))
        .form(&[("csrf", csrf.as_str()), ("user_code", device.user_code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn device_flow_denied_and_expired() {
    let hub = TestHub::start().await;
    let denied = start_device(&hub, &[]).await;
    let browser = browser();
    let done = decide_on_page(&hub, &browser, &denied.user_code, "deny").await;
    assert!(done.contains("denied"), "{done}");
    expect_error(poll(&hub, &denied).await, StatusCode::BAD_REQUEST, "access_denied").await;

    let expired = start_device(&hub, &[]).await;
    hub.clock.advance(Duration::from_secs(601));
    expect_error(poll(&hub, &expired).await, StatusCode::BAD_REQUEST, "expired_token").await;
    let unknown = DeviceAuthorization { device_code: "nope".into(), ..expired };
    expect_error(poll(&hub, &unknown).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let resp = reqwest::Client::new()
        .post(hub.at("/oauth/device_authorization"))
        .form(&[("client_id", keyway_api::DESKTOP_CLIENT_ID), ("resource", "https://elsewhere.example/")])
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::BAD_REQUEST, "invalid_target").await;
}

#[tokio::test]
async fn the_device_page_needs_its_csrf_token_and_limits_wrong_codes() {
    let hub = TestHub::start().await;
    let browser = browser();
    let forged = browser
        .post(hub.at("/device"))
        .form(&[("csrf", "forged"), ("user_code", "BCDF-GHJK"), ("username", USER), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let mut statuses = Vec::new();
    for _ in 0..11 {
        let page = browser.get(hub.at("/device")).send().await.unwrap().text().await.unwrap();
        let csrf = hidden_field(&page, "csrf");
        let resp = browser
            .post(hub.at("/device"))
            .form(&[("csrf", csrf.as_str()), ("user_code", "BCDF-GHJK"), ("username", USER), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        statuses.push(resp.status().as_u16());
    }
    assert_eq!(statuses[..10], [404; 10]);
    assert_eq!(statuses[10], 429, "the 11th wrong code of one person is refused");
}
