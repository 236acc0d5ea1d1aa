//! Resources (RFC 8707) an admin registers: `/api/resources` (list, create, delete), coded
//! refusals of bad input, the registered resource as a token's `aud` with its own scopes,
//! `invalid_scope` for any other, the consent page naming them, and the audit rows.

use keyway_api::clients::{ResourceView, Resources};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::agents_std::MCP;
use crate::common::*;
use crate::credentials::{admin_jwt, get, http, post_json};

const FILES: &str = "https://files.example/mcp";

pub async fn create_resource(hub: &TestHub, admin: &str, uri: &str, scopes: &[&str]) -> ResourceView {
    let resp = post_json(hub, "/api/resources", admin, json!({"uri": uri, "name": "Files", "scopes": scopes})).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn an_admin_registers_lists_and_deletes_resources_and_bad_input_is_coded() {
    let hub = TestHub::start_with(|s| s.resources = vec![MCP.to_owned()]).await;
    let admin = admin_jwt(&hub, USER).await;
    let made = create_resource(&hub, &admin, FILES, &["files:read", "files:write", "files:read"]).await;
    assert!(made.id.as_deref().is_some_and(|id| id.starts_with("kwr_")));
    assert_eq!(made.scopes, ["files:read", "files:write"], "deduplicated, in order");
    assert_eq!(made.created_by.as_deref(), Some(USER));

    let bad = |uri: &'static str, scopes: Value| {
        let (hub, admin) = (&hub, &admin);
        async move { post_json(hub, "/api/resources", admin, json!({"uri": uri, "name": "X", "scopes": scopes})).await }
    };
    expect_error(bad("files.example/mcp", json!([])).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
        .await;
    expect_error(bad("/mcp", json!([])).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let fragment = bad("https://files.example/mcp#x", json!([])).await;
    let body = expect_error(fragment, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(body.message.contains("fragment"), "{}", body.message);
    expect_error(
        bad("https://x.example/mcp", json!(["openid"])).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    expect_error(
        bad("https://x.example/mcp", json!(["a b"])).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let hub_itself = Box::leak(hub.url.clone().into_boxed_str());
    expect_error(bad(hub_itself, json!([])).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    expect_error(bad(FILES, json!([])).await, StatusCode::CONFLICT, "conflict").await;
    expect_error(bad(MCP, json!([])).await, StatusCode::CONFLICT, "conflict").await;
    let no_name = post_json(&hub, "/api/resources", &admin, json!({"uri": "https://y.example/mcp", "name": " "})).await;
    expect_error(no_name, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    let list: Resources = get(&hub, "/api/resources", &admin).await.json().await.unwrap();
    let uris: Vec<(&str, bool)> = list.resources.iter().map(|r| (r.uri.as_str(), r.configured)).collect();
    assert_eq!(uris, [(FILES, false), (MCP, true)], "nothing refused was kept");

    let id = made.id.clone().unwrap();
    let resp = http().delete(hub.at(&format!("/api/resources/{id}"))).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = http().delete(hub.at(&format!("/api/resources/{id}"))).bearer_auth(&admin).send().await.unwrap();
    expect_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let list: Resources = get(&hub, "/api/resources", &admin).await.json().await.unwrap();
    assert_eq!(list.resources.len(), 1);

    let audit: Value = get(&hub, "/api/audit?action=resource.", &admin).await.json().await.unwrap();
    let rows: Vec<(&str, &str)> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["target_id"].as_str().unwrap()))
        .collect();
    assert_eq!(rows, [("resource.delete", id.as_str()), ("resource.create", id.as_str())]);
}

#[tokio::test]
async fn a_registered_resource_is_the_audience_with_its_scopes_and_others_are_invalid_scope() {
    let hub = TestHub::start().await;
    let admin = admin_jwt(&hub, USER).await;
    let flow = Flow::new(&v4(43121));
    let browser = browser();
    // Not registered yet: invalid_target.
    let resp = browser.get(flow.authorize_url(&hub.url, &[("resource", Some(FILES))])).send().await.unwrap();
    assert_eq!(param(&redirect_params(&resp, &flow), "error"), Some("invalid_target"));
    let made = create_resource(&hub, &admin, FILES, &["files:read", "files:write"]).await;

    // A scope the resource does not have, or a resource scope without the resource.
    for (resource, scope) in [(Some(FILES), "openid files:delete"), (None, "openid files:read")] {
        let resp = browser
            .get(flow.authorize_url(&hub.url, &[("resource", resource), ("scope", Some(scope))]))
            .send()
            .await
            .unwrap();
        assert_eq!(param(&redirect_params(&resp, &flow), "error"), Some("invalid_scope"), "{resource:?} {scope}");
    }

    let url = flow.authorize_url(&hub.url, &[("resource", Some(FILES)), ("scope", Some("files:read offline_access"))]);
    let page = browser.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(
        page.contains("asks for access to <strong>Files</strong> (<code>https://files.example/mcp</code>)"),
        "{page}"
    );
    assert!(page.contains("<li><code>files:read</code></li><li><code>offline_access</code></li>"), "{page}");
    // After a wrong password the form says the same.
    let wrong =
        submit_login(&browser, &hub, &hidden_field(&page, "request"), &hidden_field(&page, "csrf"), USER, "nope").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let again = wrong.text().await.unwrap();
    assert!(again.contains("asks for access to <strong>Files</strong>"), "{again}");
    assert!(again.contains("<li><code>files:read</code></li>"), "{again}");
    let location = keyway_test_support::log_in(&browser, &url, USER, PASSWORD).await.unwrap();
    let code = keyway_test_support::code_from_location(&location, &hub.url, &flow).unwrap();
    let resp = token_request(
        &hub,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &flow.redirect_uri),
            ("client_id", keyway_api::DESKTOP_CLIENT_ID),
            ("code_verifier", &flow.verifier),
            ("resource", FILES),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let tokens: keyway_api::TokenResponse = resp.json().await.unwrap();
    let (_, claims) = verify_jwt(&hub, &tokens.access_token).await;
    assert_eq!(claims["aud"], FILES);
    assert_eq!(claims["scope"], "files:read offline_access");

    // Deleted: no new sign-in names it, and the sign-in for it refreshes no more.
    let refresh = |token: String| {
        let hub = &hub;
        async move {
            let form = [
                ("grant_type", "refresh_token"),
                ("refresh_token", token.as_str()),
                ("client_id", keyway_api::DESKTOP_CLIENT_ID),
            ];
            token_request(hub, &form).await
        }
    };
    let resp = refresh(tokens.refresh_token.clone().expect("refresh token")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let rotated: keyway_api::TokenResponse = resp.json().await.unwrap();
    let id = made.id.unwrap();
    let resp = http().delete(hub.at(&format!("/api/resources/{id}"))).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    expect_error(refresh(rotated.refresh_token.unwrap()).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let resp = browser.get(flow.authorize_url(&hub.url, &[("resource", Some(FILES))])).send().await.unwrap();
    assert_eq!(param(&redirect_params(&resp, &flow), "error"), Some("invalid_target"));
}
