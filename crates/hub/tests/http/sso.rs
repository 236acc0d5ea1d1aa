//! Sign-in through an upstream OpenID provider, against a real one (`sso_idp.rs`): the hub as
//! its confidential client, group → role mapping at every sign-in, refusals as pages, and the
//! role editor refusing what the IdP manages.

use keyway_api::Role;
use keyway_api::auth::Page;
use keyway_api::users::UserView;
use reqwest::StatusCode;
use serde_json::json;

use crate::common::*;
use crate::credentials::admin_jwt;
use crate::sso_idp::*;
use crate::users::{audit_rows, call, ok, user_named};

async fn hub_and_idp(tweak: impl FnOnce(&mut keyway_hub::SsoSettings), users: &[(&str, &[Role])]) -> (TestHub, Idp) {
    let idp = Idp::start().await;
    let mut sso = sso_settings(&idp.url, SECRET);
    tweak(&mut sso);
    let hub = TestHub::start_with_users(|s| s.sso = Some(sso), users).await;
    idp.client_for(&hub, json!({})).await;
    (hub, idp)
}

async fn users(hub: &TestHub, reader: &str) -> Vec<UserView> {
    ok::<Page<UserView>>(call(hub, "GET", "/api/users?limit=200", reader, None).await, StatusCode::OK).await.items
}

async fn page_of(resp: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(resp.status(), status);
    assert!(resp.headers().get("location").is_none(), "a refusal redirects nowhere (no code)");
    let content_type = resp.headers().get("content-type").unwrap().to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    resp.text().await.unwrap()
}

#[tokio::test]
async fn a_sign_in_through_the_idp_ends_with_keyway_tokens_and_group_changes_count_at_the_next() {
    let (hub, idp) = hub_and_idp(|_| {}, &[]).await;
    idp.account("sub-carol", "carol@example.com", None, &["engineering"]).await;

    // The sign-in page offers the IdP, and its CSP lets the form hand off there and nowhere else.
    let browser = browser();
    let flow = Flow::new(&v4(43311));
    let page = browser.get(flow.authorize_url(&hub.url, &[])).send().await.unwrap();
    let csp = page.headers().get("content-security-policy").unwrap().to_str().unwrap().to_owned();
    assert!(csp.contains(&format!("form-action 'self' http://127.0.0.1:43311 {}", idp.url)), "{csp}");

    let tokens = sso_tokens(&hub, "sub-carol").await;
    let info: keyway_api::UserInfo = userinfo(&hub, &tokens.access_token).await.json().await.unwrap();
    assert_eq!(info.preferred_username.as_deref(), Some("carol@example.com"), "an email is a user name");
    assert_eq!(info.roles, vec!["developer"]);
    assert!(tokens.refresh_token.is_some(), "Keyway's own tokens, as after a password sign-in");

    let admin = access_token_of(&hub, USER).await;
    let carol = user_named(&hub, &admin, "carol@example.com").await;
    assert_eq!(carol.managed_by.as_deref(), Some("sso"), "the view says the IdP manages her");
    assert_eq!(user_named(&hub, &admin, USER).await.managed_by, None, "a local user is managed here");
    let signed_in = audit_rows(&hub, &admin, "session.sign_in").await;
    let row = signed_in.iter().find(|r| r.actor_id.as_deref() == Some(carol.id.as_str())).expect("audited");
    assert_eq!(row.detail["method"], "sso");
    assert!(audit_rows(&hub, &admin, "user.create").await.iter().any(|r| r.target_id.as_deref() == Some(&carol.id)));

    // At the IdP carol joins security: at her next sign-in she is an admin too, the same user.
    idp.account("sub-carol", "carol@example.com", None, &["engineering", "security"]).await;
    let tokens = sso_tokens(&hub, "sub-carol").await;
    let info: keyway_api::UserInfo = userinfo(&hub, &tokens.access_token).await.json().await.unwrap();
    assert_eq!(info.roles, vec!["developer", "admin"]);
    let all = users(&hub, &admin).await;
    assert_eq!(all.iter().filter(|u| u.username == "carol@example.com").count(), 1, "no duplicate");
    assert_eq!(user_named(&hub, &admin, "carol@example.com").await.id, carol.id);
    let changed = audit_rows(&hub, &admin, "user.roles").await;
    assert!(changed.iter().any(|r| r.target_id.as_deref() == Some(&carol.id) && r.detail["source"] == "sso"));

    // The IdP rotates its keys: the hub reads its JWKS again for the unknown kid.
    idp.rotate_keys().await;
    idp.account("sub-carol", "carol@example.com", None, &["engineering"]).await;
    let tokens = sso_tokens(&hub, "sub-carol").await;
    let info: keyway_api::UserInfo = userinfo(&hub, &tokens.access_token).await.json().await.unwrap();
    assert_eq!(info.roles, vec!["developer"]);
    idp.stop().await;
}

#[tokio::test]
async fn a_person_removed_from_every_group_is_refused_with_a_page_and_loses_the_roles() {
    let (hub, idp) = hub_and_idp(|_| {}, &[]).await;
    let admin = access_token_of(&hub, USER).await;

    // Never in a mapped group: refused, and nothing created.
    idp.account("sub-sam", "sam@example.com", Some("sam"), &["sales"]).await;
    let flow = Flow::new(&v4(43312));
    let html = page_of(sso_sign_in(&hub, &flow, "sub-sam").await, StatusCode::FORBIDDEN).await;
    assert!(html.contains("none of your groups"), "{html}");
    assert!(users(&hub, &admin).await.iter().all(|u| u.username != "sam"));
    let failed = audit_rows(&hub, &admin, "session.sign_in_failed").await;
    assert!(failed.iter().any(|r| r.detail["reason"] == "no_role" && r.detail["method"] == "sso"));

    // Signed in once as a reviewer, then removed from every group at the IdP.
    idp.account("sub-rita", "rita@example.com", Some("rita"), &["review"]).await;
    let before = sso_tokens(&hub, "sub-rita").await;
    idp.account("sub-rita", "rita@example.com", Some("rita"), &[]).await;
    let flow = Flow::new(&v4(43313));
    let html = page_of(sso_sign_in(&hub, &flow, "sub-rita").await, StatusCode::FORBIDDEN).await;
    assert!(html.contains("none of your groups"), "{html}");
    assert_eq!(user_named(&hub, &admin, "rita").await.roles, Vec::<Role>::new(), "the IdP decides the roles");
    // A JWT carrying a removed role is refused at once.
    expect_error(
        call(&hub, "GET", "/api/reviews", &before.access_token, None).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    idp.stop().await;
}

#[tokio::test]
async fn a_wrong_client_secret_shows_a_clear_page_and_creates_nothing() {
    let idp = Idp::start().await;
    let sso = sso_settings(&idp.url, "not-the-secret-the-idp-knows");
    let hub = TestHub::start_with(|s| s.sso = Some(sso)).await;
    idp.client_for(&hub, json!({})).await;
    idp.account("sub-carol", "carol@example.com", None, &["engineering"]).await;
    let flow = Flow::new(&v4(43314));
    let html = page_of(sso_sign_in(&hub, &flow, "sub-carol").await, StatusCode::BAD_GATEWAY).await;
    assert!(html.contains("refused this hub"), "{html}");
    assert!(html.contains("invalid_client"), "{html}");
    let admin = access_token_of(&hub, USER).await;
    assert_eq!(users(&hub, &admin).await.len(), 1, "only the local admin");
    idp.stop().await;
}

#[tokio::test]
async fn an_idp_that_is_down_shows_a_clear_page_and_local_admins_keep_a_way_in() {
    // An IdP that is gone: its port is closed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut sso = sso_settings(&issuer, SECRET);
    sso.only = true;
    let hub = TestHub::start_with(|s| s.sso = Some(sso)).await;

    // --sso-only: /oauth/authorize goes to the IdP, which cannot be reached.
    let browser = browser();
    let flow = Flow::new(&v4(43315));
    let html =
        page_of(browser.get(flow.authorize_url(&hub.url, &[])).send().await.unwrap(), StatusCode::BAD_GATEWAY).await;
    assert!(html.contains("cannot be reached"), "{html}");

    // Break-glass: `local=1` shows the password form, and the local admin signs in.
    let url = flow.authorize_url(&hub.url, &[("local", Some("1"))]);
    let resp = browser.get(url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    let (request, csrf) = (hidden_field(&html, "request"), hidden_field(&html, "csrf"));
    let resp = submit_login(&browser, &hub, &request, &csrf, USER, PASSWORD).await;
    let code = code_from_redirect(&resp, &hub, &flow);
    assert_eq!(exchange(&hub, &flow, &code).await.status(), StatusCode::OK);

    // Without --sso-only the form's button says the same, and the password form stays.
    let hub2 = TestHub::start_with(|s| s.sso = Some(sso_settings(&issuer, SECRET))).await;
    let html = page_of(press_sso_button(&browser, &hub2, &Flow::new(&v4(43316))).await, StatusCode::BAD_GATEWAY).await;
    assert!(html.contains("cannot be reached"), "{html}");
}

#[tokio::test]
async fn a_user_scim_created_first_is_found_by_external_id_and_linked() {
    let (hub, idp) = hub_and_idp(|_| {}, &[("dana", &[Role::Reviewer])]).await;
    // ES256 id_tokens this time.
    idp.client_for(&hub, json!({ "id_token_alg": "ES256" })).await;
    hub.execute_on_db(
        "UPDATE users SET managed_by = 'scim', external_id = 'sub-dana' WHERE username = 'dana'",
        &["UPDATE users SET managed_by = 'scim', external_id = 'sub-dana' WHERE username = 'dana'"],
    )
    .await;
    idp.account("sub-dana", "dana@example.com", Some("dana.at.idp"), &["engineering"]).await;
    let admin = access_token_of(&hub, USER).await;
    let count = users(&hub, &admin).await.len();
    for _ in 0..2 {
        let tokens = sso_tokens(&hub, "sub-dana").await;
        let info: keyway_api::UserInfo = userinfo(&hub, &tokens.access_token).await.json().await.unwrap();
        assert_eq!(info.preferred_username.as_deref(), Some("dana"), "the SCIM user, not a new one");
        assert_eq!(info.roles, vec!["reviewer"], "a SCIM user's roles follow SCIM");
    }
    assert_eq!(users(&hub, &admin).await.len(), count, "no duplicate");
    idp.stop().await;
}

#[tokio::test]
async fn the_role_editor_refuses_what_the_idp_manages_and_edits_local_users() {
    let (hub, idp) = hub_and_idp(|_| {}, &[("bob", &[Role::Developer])]).await;
    idp.account("sub-erin", "erin@example.com", Some("erin"), &["engineering"]).await;
    sso_tokens(&hub, "sub-erin").await;
    let admin = admin_jwt(&hub, USER).await;
    let erin = user_named(&hub, &admin, "erin").await;
    let refused = [
        ("PUT", format!("/api/users/{}/roles", erin.id), Some(json!({"roles": ["admin"]}))),
        ("PUT", format!("/api/groups/admin/members/{}", erin.id), None),
        ("DELETE", format!("/api/groups/developer/members/{}", erin.id), None),
        ("POST", format!("/api/users/{}/password", erin.id), Some(json!({"password": "a brand new password"}))),
    ];
    for (method, path, body) in refused {
        let body =
            expect_error(call(&hub, method, &path, &admin, body).await, StatusCode::CONFLICT, "managed_externally")
                .await;
        assert!(body.message.contains("identity provider"), "{}", body.message);
    }
    assert_eq!(user_named(&hub, &admin, "erin").await.roles, vec![Role::Developer], "nothing changed");
    let bob = user_named(&hub, &admin, "bob").await;
    let path = format!("/api/users/{}/roles", bob.id);
    let changed: UserView =
        ok(call(&hub, "PUT", &path, &admin, Some(json!({"roles": ["reviewer"]}))).await, StatusCode::OK).await;
    assert_eq!(changed.roles, vec![Role::Reviewer]);
    idp.stop().await;
}

#[tokio::test]
async fn a_wrong_issuer_or_a_missing_groups_claim_shows_a_clear_page() {
    let idp = Idp::start().await;
    // The IdP calls itself http://127.0.0.1:…; the hub was told http://localhost:….
    let other_name = idp.url.replace("127.0.0.1", "localhost");
    let hub = TestHub::start_with(|s| s.sso = Some(sso_settings(&other_name, SECRET))).await;
    idp.client_for(&hub, json!({})).await;
    let browser = browser();
    let html = page_of(press_sso_button(&browser, &hub, &Flow::new(&v4(43317))).await, StatusCode::BAD_GATEWAY).await;
    assert!(html.contains("says its issuer is"), "{html}");

    // The groups claim the hub was told to read is one the IdP never sends.
    let hub = TestHub::start_with(|s| {
        let mut sso = sso_settings(&idp.url, SECRET);
        sso.groups_claim = "departments".into();
        s.sso = Some(sso);
    })
    .await;
    idp.client_for(&hub, json!({})).await;
    idp.account("sub-carol", "carol@example.com", None, &["engineering"]).await;
    let html = page_of(sso_sign_in(&hub, &Flow::new(&v4(43318)), "sub-carol").await, StatusCode::BAD_GATEWAY).await;
    assert!(html.contains("no &#x27;departments&#x27; claim"), "{html}");
    let admin = access_token_of(&hub, USER).await;
    assert_eq!(users(&hub, &admin).await.len(), 1, "nothing created");
    idp.stop().await;
}
