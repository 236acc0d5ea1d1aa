//! Learning mode: no authentication for a first contact, loopback only, and nothing of it left
//! once the hub is protected again.

use keyway_api::TokenResponse;
use keyway_hub::{Mode, Settings};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

fn learning(s: &mut Settings) {
    s.mode = Mode::Learning;
}

async fn mode_of(hub: &TestHub) -> String {
    let v: Value = reqwest::get(hub.at("/auth/mode")).await.unwrap().json().await.unwrap();
    v["mode"].as_str().unwrap().to_owned()
}

/// The code `/oauth/authorize` answers at once in learning mode, no form.
async fn code_without_a_form(hub: &TestHub, flow: &Flow) -> String {
    let resp = browser().get(flow.authorize_url(&hub.url, &[])).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND, "{:?}", resp.headers());
    code_from_redirect(&resp, hub, flow)
}

#[tokio::test]
async fn learning_mode_acts_without_a_credential_and_every_client_signs_in_without_a_form() {
    let hub = TestHub::start_with(learning).await;
    assert_eq!(mode_of(&hub).await, "learning");

    // No credential: the learner, holding every role, reads and changes.
    let http = reqwest::Client::new();
    let resp = http.get(hub.at("/api/users")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers().get("keyway-mode").unwrap(), "learning");
    let users: Value = resp.json().await.unwrap();
    let learner = users["items"].as_array().unwrap().iter().find(|u| u["username"] == "learner").unwrap().clone();
    assert_eq!(learner["roles"], json!(["developer", "reviewer", "auditor", "admin"]));
    let review = http.post(hub.at("/api/reviews")).json(&json!({"title": "First contact"})).send().await.unwrap();
    assert_eq!(review.status(), StatusCode::CREATED, "{}", review.text().await.unwrap());
    // A credential that is there is still checked: a bad one is refused, not ignored.
    let bad = http.get(hub.at("/api/users")).bearer_auth("not-a-jwt").send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(bad.headers().get("keyway-mode").unwrap(), "learning");

    // An OAuth client signs in unchanged: the code comes at once, its tokens are the learner's.
    let flow = Flow::new(&v4(43401));
    let code = code_without_a_form(&hub, &flow).await;
    let tokens: TokenResponse = exchange(&hub, &flow, &code).await.json().await.unwrap();
    let info: Value = userinfo(&hub, &tokens.access_token).await.json().await.unwrap();
    assert_eq!(info["preferred_username"], "learner");
}

/// A client that tries a silent sign-in first (`prompt=none`) gets its code in learning mode,
/// as without it; a protected hub answers the same request `login_required`.
#[tokio::test]
async fn a_silent_sign_in_gets_a_code_in_learning_mode_and_login_required_when_protected() {
    let hub = TestHub::start_with(learning).await;
    let flow = Flow::new(&v4(43411));
    let resp = browser().get(flow.authorize_url(&hub.url, &[("prompt", Some("none"))])).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND, "{:?}", resp.headers());
    let code = code_from_redirect(&resp, &hub, &flow);
    let tokens: TokenResponse = exchange(&hub, &flow, &code).await.json().await.unwrap();
    let info: Value = userinfo(&hub, &tokens.access_token).await.json().await.unwrap();
    assert_eq!(info["preferred_username"], "learner");

    let hub = TestHub::start().await;
    let flow = Flow::new(&v4(43412));
    let resp = browser().get(flow.authorize_url(&hub.url, &[("prompt", Some("none"))])).send().await.unwrap();
    let params = redirect_params(&resp, &flow);
    assert_eq!(param(&params, "error"), Some("login_required"), "{params:?}");
}

#[tokio::test]
async fn a_hub_switched_to_protected_has_no_learner_and_no_token_the_learner_held() {
    let hub = TestHub::start_with(learning).await;
    let flow = Flow::new(&v4(43402));
    let code = code_without_a_form(&hub, &flow).await;
    let tokens: TokenResponse = exchange(&hub, &flow, &code).await.json().await.unwrap();
    assert_eq!(userinfo(&hub, &tokens.access_token).await.status(), StatusCode::OK);
    // The learner mints an agent PAT.
    let minted = reqwest::Client::new()
        .post(hub.at("/api/credentials"))
        .json(&json!({"agent": "learner-bot", "create_agent": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(minted.status(), StatusCode::CREATED, "{}", minted.text().await.unwrap());
    let pat: Value = minted.json().await.unwrap();
    let pat = pat["secret"].as_str().unwrap().to_owned();

    // The same database and address, protected.
    let hub = hub.restart_same_address().await;
    assert_eq!(mode_of(&hub).await, "protected");
    let resp = reqwest::get(hub.at("/api/users")).await.unwrap();
    assert!(resp.headers().get("keyway-mode").is_none());
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_eq!(userinfo(&hub, &tokens.access_token).await.status(), StatusCode::UNAUTHORIZED);
    expect_error(
        refresh(&hub, tokens.refresh_token.as_deref().unwrap()).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    let exchanged = reqwest::Client::new()
        .post(hub.at("/auth/exchange"))
        .bearer_auth(&pat)
        .json(&json!({"requested_token_class": "agent_access"}))
        .send()
        .await
        .unwrap();
    assert_eq!(exchanged.status(), StatusCode::UNAUTHORIZED);
    // No live learner in the list an admin reads; a protected sign-in shows the form again.
    let admin = access_token_of(&hub, USER).await;
    let users: Value = reqwest::Client::new()
        .get(hub.at("/api/users"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(users["items"].as_array().unwrap().iter().all(|u| u["username"] != "learner"), "{users}");
    let page = browser().get(Flow::new(&v4(43403)).authorize_url(&hub.url, &[])).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("password"));

    // Learning again: a new learner, called learner again, with none of the old one's tokens.
    let hub = hub.restart_same_address_with(learning).await;
    assert_eq!(mode_of(&hub).await, "learning");
    assert_eq!(userinfo(&hub, &tokens.access_token).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn learning_mode_refuses_to_listen_beyond_loopback() {
    let dir = tempfile::tempdir().unwrap();
    for (listen, issuer) in
        [("0.0.0.0:0", Some("http://127.0.0.1:1")), ("127.0.0.1:0", Some("https://keyway.example.com"))]
    {
        let settings = Settings {
            listen: listen.parse().unwrap(),
            issuer: issuer.map(str::to_owned),
            database_url: format!("sqlite://{}", dir.path().join("learning.db").display()),
            hub_key: Some(keyway_hub::HubKey::generate()),
            mode: Mode::Learning,
            ..Settings::default()
        };
        let err = match keyway_hub::Hub::open(settings).await {
            Ok(_) => panic!("learning mode on {listen} with {issuer:?} was accepted"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("loopback"), "{err}");
    }
}
