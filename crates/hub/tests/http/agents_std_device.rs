//! The device authorization grant decided with a person's JWT (`POST /oauth/device/lookup`,
//! `…/approve`, `…/deny`), as `keyway device` and the desktop's dialog call it.

use std::time::Duration;

use keyway_api::clients::{DeviceDecided, DeviceRequest};
use reqwest::StatusCode;
use serde_json::json;

use crate::agents_std::{poll, start_device};
use crate::common::*;
use crate::credentials::{exchange_ok, post_json, session, user_pat};

#[tokio::test]
async fn a_person_looks_a_device_up_then_approves_it_once() {
    let hub = TestHub::start().await;
    let device = start_device(&hub, &[]).await;
    let jwt = session(&hub, USER).await;
    // Case and dashes do not matter.
    let typed = device.user_code.replace('-', "").to_lowercase();
    let resp = post_json(&hub, "/oauth/device/lookup", &jwt, json!({"user_code": typed})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let seen: DeviceRequest = resp.json().await.unwrap();
    assert_eq!(seen.user_code, device.user_code);
    assert_eq!(seen.client_id, keyway_api::DESKTOP_CLIENT_ID);
    assert_eq!(seen.client_name, "Keyway Desktop");
    assert_eq!(seen.scope, "openid offline_access");
    assert_eq!(seen.address.as_deref(), Some("127.0.0.1"));
    assert_eq!(seen.expires_at - seen.created_at, 600);
    // Looking up decides nothing.
    expect_error(poll(&hub, &device).await, StatusCode::BAD_REQUEST, "authorization_pending").await;

    let resp = post_json(&hub, "/oauth/device/approve", &jwt, json!({"user_code": device.user_code})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let decided: DeviceDecided = resp.json().await.unwrap();
    assert!(decided.approved);
    hub.clock.advance(Duration::from_secs(6));
    let resp = poll(&hub, &device).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let tokens: keyway_api::TokenResponse = resp.json().await.unwrap();
    let (_, claims) = verify_jwt(&hub, &tokens.access_token).await;
    assert_eq!(claims["preferred_username"], USER);
    assert!(tokens.refresh_token.is_some());

    // A code answered once is answered.
    let again = post_json(&hub, "/oauth/device/approve", &jwt, json!({"user_code": device.user_code})).await;
    let body = expect_error(again, StatusCode::NOT_FOUND, "not_found").await;
    assert!(body.message.contains("already answered"), "{}", body.message);
    let audit = crate::credentials::get(&hub, "/api/audit", &jwt).await.text().await.unwrap();
    assert!(audit.contains("\"device.approve\""), "{audit}");
}

#[tokio::test]
async fn a_denied_or_expired_device_gets_no_tokens() {
    let hub = TestHub::start().await;
    let jwt = session(&hub, USER).await;
    let denied = start_device(&hub, &[]).await;
    let resp = post_json(&hub, "/oauth/device/deny", &jwt, json!({"user_code": denied.user_code})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(!resp.json::<DeviceDecided>().await.unwrap().approved);
    expect_error(poll(&hub, &denied).await, StatusCode::BAD_REQUEST, "access_denied").await;

    let expired = start_device(&hub, &[]).await;
    hub.clock.advance(Duration::from_secs(601));
    let resp = post_json(&hub, "/oauth/device/approve", &jwt, json!({"user_code": expired.user_code})).await;
    expect_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    expect_error(poll(&hub, &expired).await, StatusCode::BAD_REQUEST, "expired_token").await;
}

#[tokio::test]
async fn wrong_codes_are_limited_per_person() {
    let hub = TestHub::start().await;
    let jwt = session(&hub, USER).await;
    let mut statuses = Vec::new();
    for typed in ["BCDF-GHJK", "not a code"].iter().cycle().take(11) {
        let resp = post_json(&hub, "/oauth/device/lookup", &jwt, json!({"user_code": typed})).await;
        statuses.push(resp.status().as_u16());
    }
    assert_eq!(statuses[..10], [404; 10]);
    assert_eq!(statuses[10], 429, "the 11th wrong code of one person is refused");
    // The limit holds for a real code too, until the window passes.
    let device = start_device(&hub, &[]).await;
    let resp = post_json(&hub, "/oauth/device/approve", &jwt, json!({"user_code": device.user_code})).await;
    expect_error(resp, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    expect_error(poll(&hub, &device).await, StatusCode::BAD_REQUEST, "authorization_pending").await;
}

#[tokio::test]
async fn a_jwt_exchanged_from_a_credential_may_not_approve_a_device() {
    let hub = TestHub::start().await;
    let admin = crate::credentials::admin_jwt(&hub, USER).await;
    let pat = user_pat(&hub, &admin).await;
    let from_pat = exchange_ok(&hub, &pat, json!({"requested_token_class": "user_access"})).await.access_token;
    let device = start_device(&hub, &[]).await;
    let resp = post_json(&hub, "/oauth/device/approve", &from_pat, json!({"user_code": device.user_code})).await;
    let body = expect_error(resp, StatusCode::FORBIDDEN, "principal_not_allowed").await;
    assert!(body.message.contains("sign-in"), "{}", body.message);
    expect_error(poll(&hub, &device).await, StatusCode::BAD_REQUEST, "authorization_pending").await;
}
