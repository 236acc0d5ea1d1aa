//! Dynamically registered clients that go unused expire: the last use (a token issued or
//! refreshed) is written behind, and the periodic purge deletes clients unused for
//! `unused_client_days`, ends their sign-ins and audits it. Driven by the hub's test clock.

use std::time::Duration;

use keyway_api::clients::RegisteredClients;
use reqwest::StatusCode;
use serde_json::Value;

use crate::agents_std::register_ok;
use crate::common::*;
use crate::credentials::{admin_jwt, get};

const DAY: Duration = Duration::from_secs(24 * 3600);

async fn clients(hub: &TestHub) -> RegisteredClients {
    let admin = admin_jwt(hub, USER).await;
    get(hub, "/api/clients", &admin).await.json().await.unwrap()
}

/// Signs in with `client_id`; the tokens.
async fn sign_in_with(hub: &TestHub, client_id: &str, port: u16) -> keyway_api::TokenResponse {
    let flow = Flow::new(&v4(port));
    let url = flow.authorize_url(&hub.url, &[("client_id", Some(client_id))]);
    let location = keyway_test_support::log_in(&browser(), &url, USER, PASSWORD).await.unwrap();
    let code = keyway_test_support::code_from_location(&location, &hub.url, &flow).unwrap();
    let resp = token_request(
        hub,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &flow.redirect_uri),
            ("client_id", client_id),
            ("code_verifier", &flow.verifier),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn registered_clients_unused_for_the_set_days_are_purged_and_used_ones_stay() {
    // Sessions outlive the test's 35 days, so only the client's expiry ends one.
    let settings = |s: &mut keyway_hub::Settings| {
        s.unused_client_days = 30;
        s.session_lifetime = 90 * DAY;
    };
    let hub = TestHub::start_with(settings).await;
    let used = register_ok(&hub, "http://127.0.0.1/callback").await;
    let idle = register_ok(&hub, "http://127.0.0.1/callback").await;
    let idle_signed_in = register_ok(&hub, "http://127.0.0.1/callback").await;
    let tokens = sign_in_with(&hub, &used.client_id, 43131).await;
    let idle_tokens = sign_in_with(&hub, &idle_signed_in.client_id, 43132).await;

    // Day 20: a refresh is a use.
    hub.clock.advance(20 * DAY);
    let refresh_token = tokens.refresh_token.expect("refresh token");
    let resp = token_request(
        &hub,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh_token), ("client_id", &used.client_id)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let rotated: keyway_api::TokenResponse = resp.json().await.unwrap();
    let used_at = hub.clock.now();
    let listed = clients(&hub).await;
    let last_use = listed.clients.iter().find(|c| c.client_id == used.client_id).and_then(|c| c.last_used_at);
    assert!(last_use.is_some_and(|t| t >= used_at), "the refresh is the last use: {last_use:?}");

    // Day 35: the purge runs when the restarted hub starts its periodic work.
    hub.clock.advance(15 * DAY);
    let fresh = register_ok(&hub, "http://127.0.0.1/callback").await;
    let hub = hub.restart_same_address_with(settings).await;
    let mut left = clients(&hub).await;
    for _ in 0..200 {
        if left.clients.len() < 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        left = clients(&hub).await;
    }
    let mut ids: Vec<&str> = left.clients.iter().map(|c| c.client_id.as_str()).collect();
    ids.sort_unstable();
    let mut kept = vec![used.client_id.as_str(), fresh.client_id.as_str()];
    kept.sort_unstable();
    assert_eq!(ids, kept, "the two unused for 35 days are gone");

    // The idle client's sign-in ended with it; the used one's refreshes on.
    let resp = token_request(
        &hub,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", rotated.refresh_token.as_deref().unwrap()),
            ("client_id", &used.client_id),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let refreshed: keyway_api::TokenResponse = resp.json().await.unwrap();
    assert!(!refreshed.access_token.is_empty());
    let resp = token_request(
        &hub,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", idle_tokens.refresh_token.as_deref().unwrap()),
            ("client_id", &idle_signed_in.client_id),
        ],
    )
    .await;
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;

    let admin = admin_jwt(&hub, USER).await;
    let audit: Value = get(&hub, "/api/audit?action=client.expire", &admin).await.json().await.unwrap();
    let rows = audit["items"].as_array().expect("items");
    assert_eq!(rows.len(), 1, "{audit}");
    assert_eq!(rows[0]["detail"]["count"], 2);
    let mut expired: Vec<&str> =
        rows[0]["detail"]["clients"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    expired.sort_unstable();
    let mut want = vec![idle.client_id.as_str(), idle_signed_in.client_id.as_str()];
    want.sort_unstable();
    assert_eq!(expired, want);
}
