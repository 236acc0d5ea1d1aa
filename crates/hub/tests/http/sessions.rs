//! Sessions over HTTP: a person's own sign-ins (see, end one, end all), an admin's forced
//! logout, the session lifetimes admins set (enforced at refresh), the one-time set-password
//! code at the sign-in page, and changing one's own password.

use std::time::Duration;

use keyway_api::TokenResponse;
use keyway_api::users::{CreatedUser, Ended, SessionSettings, SessionView, UserView};
use reqwest::StatusCode;
use serde_json::json;

use crate::common::*;
use crate::credentials::{BOB, admin_jwt, session};
use crate::users::{audit_rows, call, ok, refresh_of, start, user_named};

async fn sign_in_as(hub: &TestHub, user: &str, password: &str, port: u16) -> TokenResponse {
    keyway_test_support::sign_in(&hub.url, &Flow::new(&v4(port)), user, password)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
}

async fn sessions_of(hub: &TestHub, bearer: &str) -> Vec<SessionView> {
    ok(call(hub, "GET", "/api/me/sessions", bearer, None).await, StatusCode::OK).await
}

#[tokio::test]
async fn people_see_their_sign_ins_and_end_one_or_all() {
    let hub = start().await;
    let first = sign_in_as(&hub, BOB, PASSWORD, 43401).await;
    let second = sign_in_as(&hub, BOB, PASSWORD, 43402).await;
    // A refresh is a use, from this address.
    let resp = refresh_of(&hub, first.refresh_token.as_deref().unwrap()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let first: TokenResponse = resp.json().await.unwrap();
    let mine = sessions_of(&hub, &first.access_token).await;
    assert_eq!(mine.len(), 2);
    for s in &mine {
        assert_eq!((s.client_id.as_str(), s.address.as_deref()), ("keyway-desktop", Some("127.0.0.1")));
        assert!(!s.client_name.is_empty() && s.last_used_at.is_some() && s.expires_at > s.created_at);
    }
    assert_eq!(mine.iter().filter(|s| s.current).count(), 1);
    let other = mine.iter().find(|s| !s.current).unwrap();
    // Someone else's sign-ins are not there, and cannot be ended.
    let alice = session(&hub, USER).await;
    assert_eq!(sessions_of(&hub, &alice).await.len(), 1);
    expect_error(
        call(&hub, "DELETE", &format!("/api/me/sessions/{}", other.id), &alice, None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    let ended: Ended = ok(
        call(&hub, "DELETE", &format!("/api/me/sessions/{}", other.id), &first.access_token, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ended.ended, 1);
    expect_error(
        refresh_of(&hub, second.refresh_token.as_deref().unwrap()).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    expect_error(
        call(&hub, "GET", "/api/me", &second.access_token, None).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    expect_error(
        call(&hub, "DELETE", &format!("/api/me/sessions/{}", other.id), &first.access_token, None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(sessions_of(&hub, &first.access_token).await.len(), 1);

    // Sign out everywhere: this sign-in too.
    let ended: Ended =
        ok(call(&hub, "DELETE", "/api/me/sessions", &first.access_token, None).await, StatusCode::OK).await;
    assert_eq!(ended.ended, 1);
    expect_error(
        refresh_of(&hub, first.refresh_token.as_deref().unwrap()).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    expect_error(
        call(&hub, "GET", "/api/me", &first.access_token, None).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    let rows = audit_rows(&hub, &alice, "session.end").await;
    assert_eq!(rows.iter().map(|r| r.action.as_str()).collect::<Vec<_>>(), ["session.end_all", "session.end"]);
    assert!(rows.iter().all(|r| r.actor_name.as_deref() == Some(BOB)));
}

#[tokio::test]
async fn an_admin_forces_a_logout() {
    let hub = start().await;
    let bob = sign_in_as(&hub, BOB, PASSWORD, 43403).await;
    let alice = session(&hub, USER).await;
    let bob_id = user_named(&hub, &alice, BOB).await.id;
    let path = format!("/api/users/{bob_id}/logout");
    let bob_admin = admin_jwt(&hub, BOB).await;
    expect_error(call(&hub, "POST", &path, &bob_admin, None).await, StatusCode::FORBIDDEN, "role_required").await;
    expect_error(call(&hub, "POST", &path, &alice, None).await, StatusCode::FORBIDDEN, "admin_required").await;
    let admin = admin_jwt(&hub, USER).await;
    let ended: Ended = ok(call(&hub, "POST", &path, &admin, None).await, StatusCode::OK).await;
    assert_eq!(ended.ended, 2, "the sign-in and the one the user_admin JWT came from");
    expect_error(
        refresh_of(&hub, bob.refresh_token.as_deref().unwrap()).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    expect_error(
        call(&hub, "GET", "/api/me", &bob.access_token, None).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    let rows = audit_rows(&hub, &alice, "user.logout").await;
    assert_eq!((rows.len(), rows[0].target_id.as_deref()), (1, Some(bob_id.as_str())));
    // bob signs in again as usual.
    sign_in_as(&hub, BOB, PASSWORD, 43404).await;
}

#[tokio::test]
async fn session_lifetimes_are_admin_settings_checked_at_every_refresh() {
    let hub = start().await;
    let alice = session(&hub, USER).await;
    let defaults: SessionSettings =
        ok(call(&hub, "GET", "/api/settings/sessions", &alice, None).await, StatusCode::OK).await;
    assert_eq!(defaults, SessionSettings { absolute_secs: 30 * 86400, idle_secs: 30 * 86400 });
    let admin = admin_jwt(&hub, USER).await;
    let put = |bearer: String, body: serde_json::Value| {
        let url = hub.at("/api/settings/sessions");
        async move { reqwest::Client::new().put(url).bearer_auth(bearer).json(&body).send().await.unwrap() }
    };
    for bad in [
        json!({"absolute_secs": 600, "idle_secs": 601}),
        json!({"absolute_secs": 30, "idle_secs": 30}),
        json!({"absolute_secs": 400 * 86400, "idle_secs": 600}),
    ] {
        expect_error(put(admin.clone(), bad).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
    let bob_admin = admin_jwt(&hub, BOB).await;
    expect_error(
        put(bob_admin, json!({"absolute_secs": 600, "idle_secs": 300})).await,
        StatusCode::FORBIDDEN,
        "role_required",
    )
    .await;
    let set: SessionSettings =
        ok(put(admin, json!({"absolute_secs": 600, "idle_secs": 300})).await, StatusCode::OK).await;
    assert_eq!(set, SessionSettings { absolute_secs: 600, idle_secs: 300 });

    // Idle: unused for 300 s ends it.
    let idle = sign_in_as(&hub, BOB, PASSWORD, 43405).await;
    assert!(idle.refresh_expires_in.unwrap() <= 600);
    hub.clock.advance(Duration::from_secs(301));
    expect_error(
        refresh_of(&hub, idle.refresh_token.as_deref().unwrap()).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    // Absolute: used every 250 s, it still ends 600 s after the sign-in.
    let busy = sign_in_as(&hub, BOB, PASSWORD, 43406).await;
    let mut refresh = busy.refresh_token.unwrap();
    for _ in 0..2 {
        hub.clock.advance(Duration::from_secs(250));
        let resp = refresh_of(&hub, &refresh).await;
        assert_eq!(resp.status(), StatusCode::OK);
        refresh = resp.json::<TokenResponse>().await.unwrap().refresh_token.unwrap();
    }
    hub.clock.advance(Duration::from_secs(250));
    let body = expect_error(refresh_of(&hub, &refresh).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert!(body.message.contains("sign in again"), "{}", body.message);
    let alice = session(&hub, USER).await;
    assert_eq!(audit_rows(&hub, &alice, "settings.sessions").await.len(), 1);
}

/// The sign-in form of a fresh request, filled in and sent.
async fn submit_form(
    hub: &TestHub,
    browser: &reqwest::Client,
    flow: &Flow,
    user: &str,
    secret: &str,
) -> (String, reqwest::Response) {
    let (request, csrf) = open_login_page(browser, hub, flow).await;
    (request.clone(), submit_login(browser, hub, &request, &csrf, user, secret).await)
}

async fn set_password(
    hub: &TestHub,
    browser: &reqwest::Client,
    page: &str,
    request: &str,
    user: &str,
    password: &str,
    confirm: &str,
) -> reqwest::Response {
    let csrf = hidden_field(page, "csrf");
    browser
        .post(hub.at("/login/set-password"))
        .form(&[
            ("request", request),
            ("csrf", &csrf),
            ("username", user),
            ("password", password),
            ("confirm", confirm),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_one_time_code_lets_a_new_person_choose_a_password_at_sign_in() {
    let hub = start().await;
    let admin = admin_jwt(&hub, USER).await;
    let made: CreatedUser = ok(
        call(&hub, "POST", "/api/users", &admin, Some(json!({"username": "carol", "roles": ["reviewer"]}))).await,
        StatusCode::CREATED,
    )
    .await;
    let code = made.set_password_code.clone().expect("a one-time code");
    assert!(code.len() >= 22 && !made.user.password_set);
    assert!(made.code_expires_at.unwrap() > now());

    let browser = browser();
    let flow = Flow::new(&v4(43407));
    let (request, resp) = submit_form(&hub, &browser, &flow, "carol", &code).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let page = resp.text().await.unwrap();
    assert!(page.contains("Choose your password") && !page.contains(&code), "{page}");
    let resp = set_password(&hub, &browser, &page, &request, "carol", "a fine new password", "another one").await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = resp.text().await.unwrap();
    assert!(page.contains("do not match"));
    let resp = set_password(&hub, &browser, &page, &request, "carol", "too short", "too short").await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = resp.text().await.unwrap();
    assert!(page.contains("at least 12"), "{page}");
    // Another request cannot use the code bound to this one.
    let other_flow = Flow::new(&v4(43408));
    let (other_request, _) = open_login_page(&browser, &hub, &other_flow).await;
    let resp =
        set_password(&hub, &browser, &page, &other_request, "carol", "a fine new password", "a fine new password")
            .await;
    assert_ne!(resp.status(), StatusCode::FOUND);
    let resp =
        set_password(&hub, &browser, &page, &request, "carol", "a fine new password", "a fine new password").await;
    let code_of_sign_in = code_from_redirect(&resp, &hub, &flow);
    let tokens: TokenResponse = exchange(&hub, &flow, &code_of_sign_in).await.json().await.unwrap();
    let me: keyway_api::auth::Me =
        ok(call(&hub, "GET", "/api/me", &tokens.access_token, None).await, StatusCode::OK).await;
    assert_eq!(me.name, "carol");

    // The code is used up; the password works.
    let (_, resp) = submit_form(&hub, &browser, &Flow::new(&v4(43409)), "carol", &code).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    sign_in_as(&hub, "carol", "a fine new password", 43410).await;
    let alice = session(&hub, USER).await;
    assert_eq!(audit_rows(&hub, &alice, "user.password_set").await.len(), 1);

    // An admin's reset: a new code, the old password and sign-ins end.
    let carol_id = made.user.id;
    let reset: CreatedUser = ok(
        call(&hub, "POST", &format!("/api/users/{carol_id}/password"), &admin, Some(json!({}))).await,
        StatusCode::CREATED,
    )
    .await;
    assert!(reset.set_password_code.is_some_and(|c| c != code));
    assert!(
        keyway_test_support::sign_in(&hub.url, &Flow::new(&v4(43411)), "carol", "a fine new password").await.is_err()
    );
    expect_error(
        refresh_of(&hub, tokens.refresh_token.as_deref().unwrap()).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    // Or with a password the admin gives.
    let given: CreatedUser = ok(
        call(
            &hub,
            "POST",
            &format!("/api/users/{carol_id}/password"),
            &admin,
            Some(json!({"password": "given by the admin"})),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert!(given.set_password_code.is_none() && given.user.password_set);
    sign_in_as(&hub, "carol", "given by the admin", 43412).await;
    assert_eq!(audit_rows(&hub, &alice, "user.password_reset").await.len(), 2);
}

#[tokio::test]
async fn people_change_their_own_password_with_the_current_one() {
    let hub = start().await;
    let bob = session(&hub, BOB).await;
    let change = |current: &str, new: &str| {
        call(&hub, "PUT", "/api/me/password", &bob, Some(json!({"current": current, "new": new})))
    };
    expect_error(change("not it", "a brand new password").await, StatusCode::FORBIDDEN, "wrong_password").await;
    expect_error(change(PASSWORD, "short").await, StatusCode::UNPROCESSABLE_ENTITY, "weak_password").await;
    sign_in_as(&hub, BOB, PASSWORD, 43413).await;
    assert_eq!(change(PASSWORD, "a brand new password").await.status(), StatusCode::OK);
    sign_in_as(&hub, BOB, "a brand new password", 43414).await;
    assert!(keyway_test_support::sign_in(&hub.url, &Flow::new(&v4(43415)), BOB, PASSWORD).await.is_err());
    let alice = session(&hub, USER).await;
    let rows = audit_rows(&hub, &alice, "user.password_change").await;
    assert_eq!((rows.len(), rows[0].actor_name.as_deref()), (1, Some(BOB)));
    let _: UserView = user_named(&hub, &alice, BOB).await;
}
