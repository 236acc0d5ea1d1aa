//! `/api`: the bearer JWT becomes a principal; raw PATs and non-auditors are refused with codes.

use keyway_api::Role;
use keyway_api::auth::{AuditEntry, Me, Page, PrincipalKind, TokenClass};
use reqwest::StatusCode;

use crate::common::*;

async fn get(hub: &TestHub, path: &str, bearer: &str) -> reqwest::Response {
    reqwest::Client::new().get(hub.at(path)).bearer_auth(bearer).send().await.unwrap()
}

#[tokio::test]
async fn me_describes_a_browser_sign_in_as_user_access() {
    let hub = TestHub::start().await;
    let (_, tokens) = sign_in(&hub, &v4(43101)).await;
    let resp = get(&hub, "/api/me", &tokens.access_token).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let me: Me = resp.json().await.unwrap();
    assert_eq!(me.kind, PrincipalKind::User);
    assert_eq!(me.name, USER);
    assert_eq!(me.token_class, TokenClass::UserAccess);
    assert_eq!(me.roles, vec![Role::Developer, Role::Admin]);
    assert!(me.scopes.iter().any(|s| s == "reviews.submit"), "{:?}", me.scopes);
    assert!(!me.scopes.iter().any(|s| s == "credentials.revoke"), "{:?}", me.scopes);
}

#[tokio::test]
async fn raw_pat_on_a_resource_route_is_pat_not_allowed() {
    let hub = TestHub::start().await;
    let resp = get(&hub, "/api/me", "kwp_u_notreallyatoken").await;
    assert!(resp.headers().contains_key("www-authenticate"));
    let body = expect_error(resp, StatusCode::UNAUTHORIZED, "pat_not_allowed").await;
    assert!(body.message.contains("exchange"), "{}", body.message);
    expect_error(get(&hub, "/api/me", "eyJnope").await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let resp = reqwest::get(hub.at("/api/me")).await.unwrap();
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn audit_log_is_for_auditors_and_admins_with_coded_errors() {
    let hub = TestHub::start().await;
    // alice is developer + admin.
    let (_, tokens) = sign_in(&hub, &v4(43102)).await;
    let resp = get(&hub, "/api/audit?limit=5", &tokens.access_token).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let page: Page<AuditEntry> = resp.json().await.unwrap();
    assert!(page.items.len() <= 5);
    expect_error(
        get(&hub, "/api/audit?cursor=x", &tokens.access_token).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    expect_error(
        get(&hub, "/api/audit?limit=-1", &tokens.access_token).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
}
