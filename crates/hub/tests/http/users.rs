//! Users and groups over HTTP: who may read and change them, each bad input refused with its
//! code and nothing changed, and every change taking effect at once (disable, role removal,
//! delete). The one-time set-password code and password changes too.

use keyway_api::Role;
use keyway_api::auth::{AuditEntry, Me, Page};
use keyway_api::users::{CreatedUser, Group, UserView};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;
use crate::credentials::{BOB, admin_jwt, agent_pat, exchange_ok, post_exchange, session, user_pat};

pub(crate) const AUD: &str = "audrey";
pub(crate) const REV: &str = "rita";
pub(crate) const ANN: &str = "ann";

pub(crate) async fn start() -> TestHub {
    TestHub::start_with_users(
        |_| {},
        &[(BOB, &[Role::Developer]), (AUD, &[Role::Auditor]), (REV, &[Role::Reviewer]), (ANN, &[Role::Admin])],
    )
    .await
}

pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::new()
}

pub(crate) async fn call(
    hub: &TestHub,
    method: &str,
    path: &str,
    bearer: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = http().request(method, hub.at(path)).bearer_auth(bearer);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.unwrap()
}

pub(crate) async fn ok<T: serde::de::DeserializeOwned>(resp: reqwest::Response, status: StatusCode) -> T {
    let got = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

pub(crate) async fn user_named(hub: &TestHub, reader: &str, name: &str) -> UserView {
    let page: Page<UserView> =
        ok(call(hub, "GET", &format!("/api/users?q={name}&deleted=true"), reader, None).await, StatusCode::OK).await;
    page.items.into_iter().find(|u| u.username == name).unwrap_or_else(|| panic!("no user {name}"))
}

pub(crate) async fn audit_rows(hub: &TestHub, reader: &str, action: &str) -> Vec<AuditEntry> {
    ok::<Page<AuditEntry>>(
        call(hub, "GET", &format!("/api/audit?action={action}&limit=200"), reader, None).await,
        StatusCode::OK,
    )
    .await
    .items
}

async fn me(hub: &TestHub, bearer: &str) -> reqwest::Response {
    call(hub, "GET", "/api/me", bearer, None).await
}

#[tokio::test]
async fn admins_create_and_list_users_and_auditors_only_read_them() {
    let hub = start().await;
    let admin = admin_jwt(&hub, USER).await;
    let made: CreatedUser = ok(
        call(
            &hub,
            "POST",
            "/api/users",
            &admin,
            Some(json!({"username": "Carol", "password": "a long enough secret"})),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!((made.user.username.as_str(), made.user.roles.as_slice()), ("Carol", &[Role::Developer][..]));
    assert!(made.set_password_code.is_none() && made.user.password_set && !made.user.disabled);
    // The new person signs in with that password.
    let carol =
        keyway_test_support::sign_in(&hub.url, &Flow::new(&v4(43301)), "carol", "a long enough secret").await.unwrap();
    let carol_me: Me = ok(me(&hub, &carol.access_token).await, StatusCode::OK).await;
    assert_eq!(carol_me.roles, vec![Role::Developer]);

    // Auditors read with an ordinary sign-in; search and pages.
    let aud = session(&hub, AUD).await;
    let all: Page<UserView> = ok(call(&hub, "GET", "/api/users", &aud, None).await, StatusCode::OK).await;
    let names: Vec<&str> = all.items.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, ["alice", "ann", "audrey", "bob", "Carol", "rita"]);
    let found: Page<UserView> = ok(call(&hub, "GET", "/api/users?q=AR", &aud, None).await, StatusCode::OK).await;
    assert_eq!(found.items.iter().map(|u| u.username.as_str()).collect::<Vec<_>>(), ["Carol"]);
    let first: Page<UserView> = ok(call(&hub, "GET", "/api/users?limit=4", &aud, None).await, StatusCode::OK).await;
    assert_eq!(first.items.len(), 4);
    let next = first.next.expect("a second page");
    let second: Page<UserView> =
        ok(call(&hub, "GET", &format!("/api/users?limit=4&cursor={next}"), &aud, None).await, StatusCode::OK).await;
    assert_eq!(second.items.iter().map(|u| u.username.as_str()).collect::<Vec<_>>(), ["Carol", "rita"]);
    assert!(second.next.is_none());
    let one: UserView =
        ok(call(&hub, "GET", &format!("/api/users/{}", made.user.id), &aud, None).await, StatusCode::OK).await;
    assert_eq!(one, made.user);
    let groups: Vec<Group> = ok(call(&hub, "GET", "/api/groups", &aud, None).await, StatusCode::OK).await;
    let admins = groups.iter().find(|g| g.role == Role::Admin).unwrap();
    assert_eq!(admins.members.iter().map(|m| m.username.as_str()).collect::<Vec<_>>(), ["alice", "ann"]);

    // An auditor changes nothing; a developer reads nothing.
    let body = Some(json!({"username": "dave", "password": "a long enough secret"}));
    expect_error(call(&hub, "POST", "/api/users", &aud, body.clone()).await, StatusCode::FORBIDDEN, "admin_required")
        .await;
    // Nor can an auditor get the user_admin JWT a change would take.
    let aud_access = session(&hub, AUD).await;
    expect_error(
        post_exchange(&hub, &aud_access, json!({"requested_token_class": "user_admin"})).await,
        StatusCode::FORBIDDEN,
        "user_admin_not_allowed",
    )
    .await;
    drop(body);
    let bob = session(&hub, BOB).await;
    expect_error(call(&hub, "GET", "/api/users", &bob, None).await, StatusCode::FORBIDDEN, "role_required").await;
    expect_error(call(&hub, "GET", "/api/groups", &bob, None).await, StatusCode::FORBIDDEN, "role_required").await;

    let alice = session(&hub, USER).await;
    let rows = audit_rows(&hub, &alice, "user.create").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].actor_name.as_deref(), rows[0].target_id.as_deref()),
        (Some("alice"), Some(made.user.id.as_str()))
    );
    assert_eq!(rows[0].detail["username"], "Carol");
}

#[tokio::test]
async fn bad_input_is_refused_with_its_code_and_changes_nothing() {
    let hub = start().await;
    let admin = admin_jwt(&hub, USER).await;
    let alice = session(&hub, USER).await;
    let create = |body: Value| call(&hub, "POST", "/api/users", &admin, Some(body));
    expect_error(
        create(json!({"username": "BOB", "password": "a long enough secret"})).await,
        StatusCode::CONFLICT,
        "user_exists",
    )
    .await;
    expect_error(
        create(json!({"username": "dave", "password": "short"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "weak_password",
    )
    .await;
    let body = expect_error(
        create(json!({"username": "dave", "password": "dave-dave-dave-1"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "weak_password",
    )
    .await;
    assert!(body.message.contains("username"), "{}", body.message);
    expect_error(
        create(json!({"username": "-dave", "password": "a long enough secret"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    expect_error(
        create(json!({"username": "dave", "roles": ["root"]})).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;

    let me_id = user_named(&hub, &alice, USER).await.id;
    for (method, path, body) in [
        ("POST", "/api/users/nobody/disable", None),
        ("POST", "/api/users/nobody/enable", None),
        ("DELETE", "/api/users/nobody", None),
        ("PUT", "/api/users/nobody/roles", Some(json!({"roles": ["developer"]}))),
        ("POST", "/api/users/nobody/password", Some(json!({}))),
        ("POST", "/api/users/nobody/logout", None),
        ("PUT", "/api/groups/reviewer/members/nobody", None),
        ("GET", "/api/users/nobody", None),
    ] {
        expect_error(call(&hub, method, path, &admin, body).await, StatusCode::NOT_FOUND, "unknown_user").await;
    }
    expect_error(
        call(&hub, "PUT", &format!("/api/groups/root/members/{me_id}"), &admin, None).await,
        StatusCode::NOT_FOUND,
        "unknown_role",
    )
    .await;
    // Demoting, disabling or deleting yourself.
    for (method, path, body) in [
        ("PUT", format!("/api/users/{me_id}/roles"), Some(json!({"roles": ["developer"]}))),
        ("DELETE", format!("/api/groups/admin/members/{me_id}"), None),
        ("POST", format!("/api/users/{me_id}/disable"), None),
        ("DELETE", format!("/api/users/{me_id}"), None),
    ] {
        expect_error(call(&hub, method, &path, &admin, body).await, StatusCode::CONFLICT, "self_demotion").await;
    }
    let bob_id = user_named(&hub, &alice, BOB).await.id;
    expect_error(
        call(&hub, "POST", &format!("/api/users/{bob_id}/password"), &admin, Some(json!({"password": "bob"}))).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "weak_password",
    )
    .await;

    // Nothing of it happened: the same users, alice still an admin, no audit rows of users.
    let page: Page<UserView> =
        ok(call(&hub, "GET", "/api/users?deleted=true", &alice, None).await, StatusCode::OK).await;
    assert_eq!(page.items.len(), 5);
    let me_now = user_named(&hub, &alice, USER).await;
    assert!(me_now.roles.contains(&Role::Admin) && !me_now.disabled && me_now.deleted_at.is_none());
    assert!(audit_rows(&hub, &alice, "user.").await.is_empty());
    assert!(audit_rows(&hub, &alice, "group.").await.is_empty());
    // bob still signs in with his password.
    session(&hub, BOB).await;
}

/// The last enabled admin cannot be removed, even by an admin whose own role was taken away
/// on another hub node a moment before (its cache still says admin): the store's guard runs
/// in the change's transaction.
#[tokio::test]
async fn the_last_admin_is_never_removed() {
    let hub = start().await;
    let issuer = hub.url.clone();
    let other = keyway_hub::Hub::open(keyway_hub::Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: hub.database_url.clone(),
        issuer: Some(issuer),
        clock: hub.clock.clone(),
        hub_key: Some(hub.hub_key.clone()),
        ..keyway_hub::Settings::default()
    })
    .await
    .unwrap()
    .serve()
    .await
    .unwrap();
    let other_url = format!("http://{}", other.addr);
    let on_other = |method: &str, path: &str, bearer: &str| {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        http().request(method, format!("{other_url}{path}")).bearer_auth(bearer.to_owned()).send()
    };
    let alice = session(&hub, USER).await;
    let alice_id = user_named(&hub, &alice, USER).await.id;
    let ann_id = user_named(&hub, &alice, ANN).await.id;
    let ann_admin = admin_jwt(&hub, ANN).await;
    // The other node has seen ann as an admin.
    assert_eq!(on_other("GET", "/api/users", &ann_admin).await.unwrap().status(), StatusCode::OK);

    // alice takes ann's admin role away on this node: fine, alice is still an admin.
    let admin = admin_jwt(&hub, USER).await;
    let ann: UserView = ok(
        call(&hub, "PUT", &format!("/api/users/{ann_id}/roles"), &admin, Some(json!({"roles": ["developer"]}))).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ann.roles, vec![Role::Developer]);
    // ann, on the other node, tries to remove alice, the last admin, every way there is. A
    // node that still believes ann an admin lets the change reach the database, which refuses
    // it; on PostgreSQL the change's notice may already have reached that node, which then
    // refuses her token. Either way alice stays.
    for (method, path) in [
        ("DELETE", format!("/api/groups/admin/members/{alice_id}")),
        ("POST", format!("/api/users/{alice_id}/disable")),
        ("DELETE", format!("/api/users/{alice_id}")),
    ] {
        let resp = on_other(method, &path, &ann_admin).await.unwrap();
        if on_postgres() && resp.status() == StatusCode::UNAUTHORIZED {
            expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_token").await;
        } else {
            expect_error(resp, StatusCode::CONFLICT, "last_admin").await;
        }
    }
    let alice_now = user_named(&hub, &alice, USER).await;
    assert!(alice_now.roles.contains(&Role::Admin) && !alice_now.disabled && alice_now.deleted_at.is_none());
    // Here, ann's token is refused at once: it carries a role she no longer holds.
    expect_error(call(&hub, "GET", "/api/users", &ann_admin, None).await, StatusCode::UNAUTHORIZED, "invalid_token")
        .await;
    other.shutdown().await;
}

#[tokio::test]
async fn disabling_a_user_stops_their_sign_ins_jwts_and_pats_at_once() {
    let hub = start().await;
    let admin = admin_jwt(&hub, USER).await;
    let alice = session(&hub, USER).await;
    let bob_id = user_named(&hub, &alice, BOB).await.id;
    let bob_tokens = keyway_test_support::sign_in(&hub.url, &Flow::new(&v4(43302)), BOB, PASSWORD).await.unwrap();
    let bob_admin = admin_jwt(&hub, BOB).await;
    let pat = user_pat(&hub, &bob_admin).await;
    let agent = agent_pat(&hub, &bob_admin, "builder", "cli").await.secret;
    let from_pat = exchange_ok(&hub, &pat, json!({"requested_token_class": "user_access"})).await.access_token;
    let from_agent = exchange_ok(&hub, &agent, json!({"requested_token_class": "agent_access"})).await.access_token;
    for token in [&bob_tokens.access_token, &from_pat, &from_agent] {
        assert_eq!(me(&hub, token).await.status(), StatusCode::OK);
    }

    let view: UserView =
        ok(call(&hub, "POST", &format!("/api/users/{bob_id}/disable"), &admin, None).await, StatusCode::OK).await;
    assert!(view.disabled);
    for token in [&bob_tokens.access_token, &from_pat, &from_agent, &bob_admin] {
        expect_error(me(&hub, token).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
    for secret in [&pat, &agent] {
        let class = if secret == &pat { "user_access" } else { "agent_access" };
        expect_error(
            post_exchange(&hub, secret, json!({"requested_token_class": class})).await,
            StatusCode::UNAUTHORIZED,
            "invalid_credential",
        )
        .await;
    }
    let refresh = bob_tokens.refresh_token.clone().unwrap();
    expect_error(refresh_of(&hub, &refresh).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
    // The sign-in page says so, after the right password only.
    let browser = browser();
    let flow = Flow::new(&v4(43303));
    let (request, csrf) = open_login_page(&browser, &hub, &flow).await;
    let resp = submit_login(&browser, &hub, &request, &csrf, BOB, PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp.text().await.unwrap().contains("disabled"));
    // Refused exchanges are written behind as summary rows.
    let refused = crate::audit::wait_for(&hub, &alice, "exchange.refused", |rows| {
        rows.iter().any(|r| r.detail["reason"] == "owner_disabled")
    })
    .await;
    assert!(refused.iter().any(|r| r.detail["reason"] == "owner_disabled"), "{refused:?}");
    assert_eq!(audit_rows(&hub, &alice, "user.disable").await.len(), 1);

    // Enabled again: the PATs work again; the ended sign-in stays ended.
    let view: UserView =
        ok(call(&hub, "POST", &format!("/api/users/{bob_id}/enable"), &admin, None).await, StatusCode::OK).await;
    assert!(!view.disabled);
    let again = exchange_ok(&hub, &pat, json!({"requested_token_class": "user_access"})).await.access_token;
    assert_eq!(me(&hub, &again).await.status(), StatusCode::OK);
    expect_error(refresh_of(&hub, &refresh).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert_eq!(audit_rows(&hub, &alice, "user.enable").await.len(), 1);
}

pub(crate) async fn refresh_of(hub: &TestHub, refresh_token: &str) -> reqwest::Response {
    refresh(hub, refresh_token).await
}

#[tokio::test]
async fn taking_a_role_away_refuses_jwts_carrying_it_and_pats_keep_the_rest() {
    let hub = start().await;
    let admin = admin_jwt(&hub, USER).await;
    let alice = session(&hub, USER).await;
    let bob_id = user_named(&hub, &alice, BOB).await.id;
    let added: UserView =
        ok(call(&hub, "PUT", &format!("/api/groups/reviewer/members/{bob_id}"), &admin, None).await, StatusCode::OK)
            .await;
    assert_eq!(added.roles, vec![Role::Developer, Role::Reviewer]);
    let reviewers: Group = ok(call(&hub, "GET", "/api/groups/reviewer", &alice, None).await, StatusCode::OK).await;
    assert_eq!(reviewers.members.iter().map(|m| m.username.as_str()).collect::<Vec<_>>(), [BOB, REV]);

    let bob = session(&hub, BOB).await;
    let bob_admin = admin_jwt(&hub, BOB).await;
    let pat = user_pat(&hub, &bob_admin).await;
    let from_pat = exchange_ok(&hub, &pat, json!({"requested_token_class": "user_access"})).await.access_token;
    let seen: Me = ok(me(&hub, &from_pat).await, StatusCode::OK).await;
    assert_eq!(seen.roles, vec![Role::Developer, Role::Reviewer]);

    let removed: UserView =
        ok(call(&hub, "DELETE", &format!("/api/groups/reviewer/members/{bob_id}"), &admin, None).await, StatusCode::OK)
            .await;
    assert_eq!(removed.roles, vec![Role::Developer]);
    for token in [&bob, &from_pat] {
        expect_error(me(&hub, token).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
    // The PAT goes on, with what bob's remaining role allows.
    let fresh = exchange_ok(&hub, &pat, json!({"requested_token_class": "user_access"})).await.access_token;
    let seen: Me = ok(me(&hub, &fresh).await, StatusCode::OK).await;
    assert_eq!(seen.roles, vec![Role::Developer]);
    let rows = audit_rows(&hub, &alice, "group.").await;
    assert_eq!(rows.iter().map(|r| r.action.as_str()).collect::<Vec<_>>(), ["group.remove", "group.add"]);
    assert_eq!(rows[0].detail["to"], json!(["developer"]));

    // The roles route too: bob becomes an auditor only.
    let set: UserView = ok(
        call(
            &hub,
            "PUT",
            &format!("/api/users/{bob_id}/roles"),
            &admin,
            Some(json!({"roles": ["auditor", "auditor"]})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(set.roles, vec![Role::Auditor]);
    expect_error(me(&hub, &fresh).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn deleting_a_user_revokes_their_credentials_and_keeps_reviews_and_audit_naming_them() {
    let hub = start().await;
    let admin = admin_jwt(&hub, USER).await;
    let alice = session(&hub, USER).await;
    let bob_id = user_named(&hub, &alice, BOB).await.id;
    let bob = session(&hub, BOB).await;
    let bob_admin = admin_jwt(&hub, BOB).await;
    let agent = agent_pat(&hub, &bob_admin, "builder", "cli").await;
    let review: Value =
        ok(call(&hub, "POST", "/api/reviews", &bob, Some(json!({"title": "deploy"}))).await, StatusCode::CREATED).await;

    let gone: UserView =
        ok(call(&hub, "DELETE", &format!("/api/users/{bob_id}"), &admin, None).await, StatusCode::OK).await;
    assert!(gone.deleted_at.is_some() && gone.disabled && gone.roles.is_empty() && !gone.password_set);
    expect_error(
        post_exchange(&hub, &agent.secret, json!({"requested_token_class": "agent_access"})).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credential",
    )
    .await;
    let creds: Page<keyway_api::credentials::CredentialView> =
        ok(call(&hub, "GET", "/api/credentials?all=true", &alice, None).await, StatusCode::OK).await;
    let bobs: Vec<_> = creds.items.iter().filter(|c| c.owner_id == bob_id).collect();
    assert!(!bobs.is_empty() && bobs.iter().all(|c| c.revoked_at.is_some()), "{bobs:?}");
    let agents: Page<keyway_api::credentials::AgentView> =
        ok(call(&hub, "GET", "/api/agents?all=true", &alice, None).await, StatusCode::OK).await;
    assert!(agents.items.iter().filter(|a| a.owner_id == bob_id).all(|a| a.disabled));

    // The review and the audit rows still name bob.
    let aud = session(&hub, AUD).await;
    let id = review["id"].as_str().unwrap();
    let seen: Value = ok(call(&hub, "GET", &format!("/api/reviews/{id}"), &aud, None).await, StatusCode::OK).await;
    assert_eq!(seen["submitter"]["name"], BOB, "{seen}");
    let minted = audit_rows(&hub, &aud, "pat.mint").await;
    assert!(minted.iter().any(|r| r.actor_name.as_deref() == Some(BOB)));
    let deleted = audit_rows(&hub, &aud, "user.delete").await;
    assert_eq!((deleted.len(), deleted[0].detail["username"].as_str()), (1, Some(BOB)));
    // Lists leave the tombstone out unless asked; its name stays taken; it cannot sign in.
    let page: Page<UserView> = ok(call(&hub, "GET", "/api/users", &aud, None).await, StatusCode::OK).await;
    assert!(page.items.iter().all(|u| u.username != BOB));
    assert_eq!(user_named(&hub, &aud, BOB).await.deleted_at, gone.deleted_at);
    expect_error(
        call(&hub, "POST", "/api/users", &admin, Some(json!({"username": "bob", "password": "a long enough secret"})))
            .await,
        StatusCode::CONFLICT,
        "user_exists",
    )
    .await;
    expect_error(
        call(&hub, "POST", &format!("/api/users/{bob_id}/enable"), &admin, None).await,
        StatusCode::NOT_FOUND,
        "unknown_user",
    )
    .await;
    assert!(keyway_test_support::sign_in(&hub.url, &Flow::new(&v4(43304)), BOB, PASSWORD).await.is_err());
}
