//! `/oauth/token`, `/oauth/revoke`, `/oauth/userinfo`.

use std::time::Duration;

use keyway_api::{DESKTOP_CLIENT_ID, TokenResponse, UserInfo};
use reqwest::StatusCode;

use crate::common::*;

#[tokio::test]
async fn happy_path_with_nonce_verified_against_jwks() {
    let hub = TestHub::start().await;
    let browser = browser();
    let flow = Flow::new(&v4(43001));
    let code = get_code(&browser, &hub, &flow).await;
    let resp = exchange(&hub, &flow, &code).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers().get("cache-control").unwrap(), "no-store");
    let tokens: TokenResponse = resp.json().await.unwrap();
    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.expires_in, 900);
    assert_eq!(tokens.scope.as_deref(), Some("openid profile offline_access"));
    let refresh_expires_in = tokens.refresh_expires_in.expect("refresh_expires_in");
    assert!((30 * 24 * 3600 - 5..=30 * 24 * 3600).contains(&refresh_expires_in), "{refresh_expires_in}");
    assert_eq!(tokens.refresh_token.as_ref().map(String::len), Some(43));

    // ID token.
    let (header, id) = verify_jwt(&hub, tokens.id_token.as_deref().expect("id_token")).await;
    assert_eq!(header["typ"], "JWT");
    assert_eq!(id["iss"], hub.url.as_str());
    assert_eq!(id["aud"], DESKTOP_CLIENT_ID);
    assert_eq!(id["nonce"], flow.nonce.as_str());
    assert_eq!(id["preferred_username"], USER);
    assert_eq!(id["name"], USER);
    assert_eq!(id["roles"], serde_json::json!(["developer", "admin"]));
    let now = now();
    assert!(id["exp"].as_i64().unwrap() > now);
    assert!((id["iat"].as_i64().unwrap() - now).abs() < 60);
    assert!(id["auth_time"].as_i64().unwrap() <= now);

    // Access token (RFC 9068).
    let (header, at) = verify_jwt(&hub, &tokens.access_token).await;
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(at["iss"], hub.url.as_str());
    assert_eq!(at["aud"], "keyway");
    assert_eq!(at["client_id"], DESKTOP_CLIENT_ID);
    assert_eq!(at["sub"], id["sub"]);
    assert_eq!(at["preferred_username"], USER);
    assert_eq!(at["roles"], serde_json::json!(["developer", "admin"]));
    assert_eq!(at["exp"].as_i64().unwrap() - at["iat"].as_i64().unwrap(), 900);
    assert!(at["nbf"].is_i64());
    assert!(at["jti"].as_str().unwrap().len() >= 16);
    assert!(at["sid"].is_string());
    assert_eq!(at["scope"], "openid profile offline_access");

    // Userinfo.
    let resp = userinfo(&hub, &tokens.access_token).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let info: UserInfo = resp.json().await.unwrap();
    assert_eq!(info.sub, at["sub"].as_str().unwrap());
    assert_eq!(info.preferred_username.as_deref(), Some(USER));
    assert_eq!(info.roles, ["developer", "admin"]);
}

#[tokio::test]
async fn no_nonce_no_openid() {
    let hub = TestHub::start().await;
    let browser = browser();
    let mut flow = Flow::new(&v4(43002));
    flow.scope = "offline_access".into();
    let resp = browser.get(flow.authorize_url(&hub.url, &[("nonce", None)])).send().await.unwrap();
    let html = resp.text().await.unwrap();
    let resp =
        submit_login(&browser, &hub, &hidden_field(&html, "request"), &hidden_field(&html, "csrf"), USER, PASSWORD)
            .await;
    let code = code_from_redirect(&resp, &hub, &flow);
    let tokens: TokenResponse = exchange(&hub, &flow, &code).await.json().await.unwrap();
    assert!(tokens.id_token.is_none(), "no openid scope, no id_token");
    assert!(tokens.refresh_token.is_some());
}

#[tokio::test]
async fn wrong_code_verifier_is_invalid_grant() {
    let hub = TestHub::start().await;
    let browser = browser();
    let flow = Flow::new(&v4(43003));
    let code = get_code(&browser, &hub, &flow).await;
    let mut wrong = flow.clone();
    wrong.verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into();
    let body = expect_error(exchange(&hub, &wrong, &code).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert_eq!(body.error_description.as_deref(), Some(body.message.as_str()));
}

#[tokio::test]
async fn missing_code_verifier_is_invalid_request() {
    let hub = TestHub::start().await;
    let browser = browser();
    let flow = Flow::new(&v4(43004));
    let code = get_code(&browser, &hub, &flow).await;
    let resp = token_request(
        &hub,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &flow.redirect_uri),
            ("client_id", DESKTOP_CLIENT_ID),
        ],
    )
    .await;
    expect_error(resp, StatusCode::BAD_REQUEST, "invalid_request").await;
    // The code was not spent by the malformed request.
    assert_eq!(exchange(&hub, &flow, &code).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn redirect_uri_must_match_exactly_including_port() {
    let hub = TestHub::start().await;
    let browser = browser();
    let flow = Flow::new(&v4(43005));
    let code = get_code(&browser, &hub, &flow).await;
    let mut other_port = flow.clone();
    other_port.redirect_uri = v4(43006);
    expect_error(exchange(&hub, &other_port, &code).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

#[tokio::test]
async fn code_replay_revokes_everything_issued_from_the_code() {
    let hub = TestHub::start().await;
    let browser = browser();
    let flow = Flow::new(&v4(43007));
    let code = get_code(&browser, &hub, &flow).await;
    let first: TokenResponse = exchange(&hub, &flow, &code).await.json().await.unwrap();
    assert_eq!(userinfo(&hub, &first.access_token).await.status(), StatusCode::OK);

    expect_error(exchange(&hub, &flow, &code).await, StatusCode::BAD_REQUEST, "invalid_grant").await;

    expect_error(
        refresh(&hub, first.refresh_token.as_deref().unwrap()).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    let resp = userinfo(&hub, &first.access_token).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let www = resp.headers().get("www-authenticate").unwrap().to_str().unwrap().to_owned();
    assert!(www.contains("error=\"invalid_token\""), "{www}");
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn expired_code_is_invalid_grant() {
    let hub = TestHub::start_with(|s| s.code_ttl = Duration::from_secs(30)).await;
    let browser = browser();
    let flow = Flow::new(&v4(43008));
    let code = get_code(&browser, &hub, &flow).await;
    hub.clock.advance(Duration::from_secs(31));
    let body = expect_error(exchange(&hub, &flow, &code).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert!(body.message.contains("expired"), "{body:?}");
}

#[tokio::test]
async fn code_is_valid_just_before_it_expires() {
    let hub = TestHub::start().await;
    let browser = browser();
    let flow = Flow::new(&v4(43009));
    let code = get_code(&browser, &hub, &flow).await;
    hub.clock.advance(Duration::from_secs(58));
    assert_eq!(exchange(&hub, &flow, &code).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn unknown_code_and_wrong_client() {
    let hub = TestHub::start().await;
    let flow = Flow::new(&v4(43010));
    expect_error(exchange(&hub, &flow, "not-a-code").await, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let resp = token_request(
        &hub,
        &[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("redirect_uri", &flow.redirect_uri),
            ("client_id", "someone-else"),
            ("code_verifier", &flow.verifier),
        ],
    )
    .await;
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let hub = TestHub::start().await;
    let (_, first) = sign_in(&hub, &v4(43011)).await;
    let r1 = first.refresh_token.clone().unwrap();

    let resp = refresh(&hub, &r1).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers().get("cache-control").unwrap(), "no-store");
    let second: TokenResponse = resp.json().await.unwrap();
    let r2 = second.refresh_token.clone().unwrap();
    assert_ne!(r1, r2, "rotated");
    let (_, id) = verify_jwt(&hub, second.id_token.as_deref().expect("id_token on refresh")).await;
    assert!(id.get("nonce").is_none(), "no nonce on refresh");
    assert_eq!(userinfo(&hub, &second.access_token).await.status(), StatusCode::OK);

    // Reusing r1 after the grace period: refused, and the whole family (including r2 and its
    // access token) is revoked.
    hub.clock.advance(Duration::from_secs(31));
    expect_error(refresh(&hub, &r1).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
    expect_error(refresh(&hub, &r2).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert_eq!(userinfo(&hub, &second.access_token).await.status(), StatusCode::UNAUTHORIZED);
}

/// A client whose refresh answer was lost sends the same token again: within the grace period,
/// and while nothing issued since has been used, it gets new tokens and the session goes on.
/// The token it never received is used up, and showing it later ends the session.
#[tokio::test]
async fn a_lost_refresh_answer_is_retried_within_the_grace_period() {
    let hub = TestHub::start().await;
    let (_, first) = sign_in(&hub, &v4(43015)).await;
    let r1 = first.refresh_token.clone().unwrap();
    let lost: TokenResponse = refresh(&hub, &r1).await.json().await.unwrap();
    let r2 = lost.refresh_token.unwrap();

    hub.clock.advance(Duration::from_secs(29));
    let resp = refresh(&hub, &r1).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let retried: TokenResponse = resp.json().await.unwrap();
    let r3 = retried.refresh_token.clone().unwrap();
    assert!(r3 != r1 && r3 != r2);
    assert_eq!(userinfo(&hub, &retried.access_token).await.status(), StatusCode::OK);

    // The session goes on from r3.
    let next: TokenResponse = refresh(&hub, &r3).await.json().await.unwrap();
    let r4 = next.refresh_token.unwrap();

    // r2 was never received by the client: whoever shows it is not the client, and the
    // session ends.
    expect_error(refresh(&hub, &r2).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
    expect_error(refresh(&hub, &r4).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert_eq!(userinfo(&hub, &next.access_token).await.status(), StatusCode::UNAUTHORIZED);
}

/// Within the grace period too, an old token is a reuse once a newer one has been used: the
/// family went on without it.
#[tokio::test]
async fn an_old_refresh_token_after_its_successor_was_used_ends_the_session() {
    let hub = TestHub::start().await;
    let (_, first) = sign_in(&hub, &v4(43016)).await;
    let r1 = first.refresh_token.clone().unwrap();
    let second: TokenResponse = refresh(&hub, &r1).await.json().await.unwrap();
    let third: TokenResponse = refresh(&hub, second.refresh_token.as_deref().unwrap()).await.json().await.unwrap();
    let r3 = third.refresh_token.unwrap();

    let body = expect_error(refresh(&hub, &r1).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert!(body.message.contains("already used"), "{body:?}");
    expect_error(refresh(&hub, &r3).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert_eq!(userinfo(&hub, &third.access_token).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn rotation_chain_keeps_the_absolute_end() {
    let hub = TestHub::start().await;
    let (_, mut tokens) = sign_in(&hub, &v4(43012)).await;
    let first_end = tokens.refresh_expires_in.unwrap();
    for _ in 0..3 {
        hub.clock.advance(Duration::from_secs(24 * 3600));
        let resp = refresh(&hub, tokens.refresh_token.as_deref().unwrap()).await;
        assert_eq!(resp.status(), StatusCode::OK);
        tokens = resp.json().await.unwrap();
    }
    let left = tokens.refresh_expires_in.unwrap();
    assert!(left <= first_end - 3 * 24 * 3600, "rotation must not extend the session: {left} vs {first_end}");
}

#[tokio::test]
async fn session_ends_at_its_absolute_lifetime() {
    let hub = TestHub::start_with(|s| s.session_lifetime = Duration::from_secs(3600)).await;
    let (_, tokens) = sign_in(&hub, &v4(43013)).await;
    assert!(tokens.refresh_expires_in.unwrap() <= 3600);
    assert_eq!(tokens.expires_in, 900);

    hub.clock.advance(Duration::from_secs(3000));
    let resp = refresh(&hub, tokens.refresh_token.as_deref().unwrap()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let tokens: TokenResponse = resp.json().await.unwrap();
    assert!(tokens.expires_in <= 600, "access tokens do not outlive the session: {}", tokens.expires_in);

    hub.clock.advance(Duration::from_secs(601));
    let body = expect_error(
        refresh(&hub, tokens.refresh_token.as_deref().unwrap()).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    assert!(body.message.contains("ended"), "{body:?}");
}

#[tokio::test]
async fn default_session_lifetime_is_30_days() {
    let hub = TestHub::start().await;
    let (_, tokens) = sign_in(&hub, &v4(43014)).await;
    hub.clock.advance(Duration::from_secs(30 * 24 * 3600 + 1));
    expect_error(
        refresh(&hub, tokens.refresh_token.as_deref().unwrap()).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn revoked_refresh_token_is_invalid_grant() {
    let hub = TestHub::start().await;
    let (_, tokens) = sign_in(&hub, &v4(43015)).await;
    let rt = tokens.refresh_token.clone().unwrap();
    let resp = reqwest::Client::new()
        .post(hub.at("/oauth/revoke"))
        .form(&[("token", rt.as_str()), ("token_type_hint", "refresh_token"), ("client_id", DESKTOP_CLIENT_ID)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    expect_error(refresh(&hub, &rt).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert_eq!(userinfo(&hub, &tokens.access_token).await.status(), StatusCode::UNAUTHORIZED, "family revoked");
}

#[tokio::test]
async fn revoking_an_access_token() {
    let hub = TestHub::start().await;
    let (_, tokens) = sign_in(&hub, &v4(43016)).await;
    let client = reqwest::Client::new();
    let resp = client
        .post(hub.at("/oauth/revoke"))
        .form(&[("token", tokens.access_token.as_str()), ("client_id", DESKTOP_CLIENT_ID)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(userinfo(&hub, &tokens.access_token).await.status(), StatusCode::UNAUTHORIZED);
    // The refresh token still works and yields a usable access token.
    let fresh: TokenResponse = refresh(&hub, tokens.refresh_token.as_deref().unwrap()).await.json().await.unwrap();
    assert_eq!(userinfo(&hub, &fresh.access_token).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn revoke_answers_200_for_unknown_tokens_and_400_without_token() {
    let hub = TestHub::start().await;
    let client = reqwest::Client::new();
    let resp = client
        .post(hub.at("/oauth/revoke"))
        .form(&[("token", "never-issued"), ("client_id", DESKTOP_CLIENT_ID)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = client.post(hub.at("/oauth/revoke")).form(&[("client_id", DESKTOP_CLIENT_ID)]).send().await.unwrap();
    expect_error(resp, StatusCode::BAD_REQUEST, "invalid_request").await;
}

#[tokio::test]
async fn tampered_access_token_is_refused() {
    let hub = TestHub::start().await;
    let (_, tokens) = sign_in(&hub, &v4(43017)).await;
    let at = tokens.access_token;
    let sig_start = at.rfind('.').unwrap() + 1;
    let middle = sig_start + (at.len() - sig_start) / 2;
    let mut bytes = at.clone().into_bytes();
    bytes[middle] = if bytes[middle] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    assert_ne!(tampered, at);
    let resp = userinfo(&hub, &tampered).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.headers().get("www-authenticate").unwrap().to_str().unwrap().contains("error=\"invalid_token\""));
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_token").await;
    // The untouched token still works.
    assert_eq!(userinfo(&hub, &at).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn userinfo_without_or_with_garbage_token() {
    let hub = TestHub::start().await;
    let resp = reqwest::get(hub.at("/oauth/userinfo")).await.unwrap();
    assert!(resp.headers().contains_key("www-authenticate"));
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_token").await;
    expect_error(userinfo(&hub, "garbage").await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let resp = reqwest::Client::new()
        .get(hub.at("/oauth/userinfo"))
        .header("authorization", "Basic YTpi")
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn expired_access_token_is_refused() {
    let hub = TestHub::start().await;
    let (_, tokens) = sign_in(&hub, &v4(43018)).await;
    hub.clock.advance(Duration::from_secs(901));
    expect_error(userinfo(&hub, &tokens.access_token).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn concurrent_code_redemptions_yield_one_success() {
    let hub = TestHub::start().await;
    let browser = browser();
    let flow = Flow::new(&v4(43019));
    let code = get_code(&browser, &hub, &flow).await;
    let (a, b) = tokio::join!(exchange(&hub, &flow, &code), exchange(&hub, &flow, &code));
    let ok = [a.status(), b.status()].iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(ok, 1, "exactly one redemption succeeds: {} {}", a.status(), b.status());
}
