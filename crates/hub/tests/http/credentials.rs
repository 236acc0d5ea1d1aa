//! Credentials: management rights, minting, revocation and rotation, lifetimes, lists and their
//! pages, introspection, coded errors, last use; the helpers the other `credentials_*` files
//! share. Against the real hub over HTTP, each asserting the exact code and status.

use std::time::Duration;

use keyway_api::Role;
use keyway_api::auth::{AuditEntry, Page};
use keyway_api::credentials::{AgentView, CredentialView, ExchangeResponse, MintedSecret};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

pub(crate) const BOB: &str = "bob";

pub(crate) async fn start() -> TestHub {
    TestHub::start_with_users(|_| {}, &[(BOB, &[Role::Developer])]).await
}

pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::new()
}

/// A browser sign-in's access token for `user`.
pub(crate) async fn session(hub: &TestHub, user: &str) -> String {
    let browser = browser();
    let flow = Flow::new(&v4(43200));
    let code = get_code_as(&browser, hub, &flow, user, PASSWORD).await;
    let resp = exchange(hub, &flow, &code).await;
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json::<keyway_api::TokenResponse>().await.unwrap().access_token
}

pub(crate) async fn post_exchange(hub: &TestHub, bearer: &str, body: Value) -> reqwest::Response {
    http().post(hub.at("/auth/exchange")).bearer_auth(bearer).json(&body).send().await.unwrap()
}

pub(crate) async fn exchange_ok(hub: &TestHub, bearer: &str, body: Value) -> ExchangeResponse {
    let resp = post_exchange(hub, bearer, body.clone()).await;
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// `user`'s user_admin JWT, from a browser sign-in.
pub(crate) async fn admin_jwt(hub: &TestHub, user: &str) -> String {
    let access = session(hub, user).await;
    exchange_ok(hub, &access, json!({"requested_token_class": "user_admin"})).await.access_token
}

pub(crate) async fn post_json(hub: &TestHub, path: &str, bearer: &str, body: Value) -> reqwest::Response {
    http().post(hub.at(path)).bearer_auth(bearer).json(&body).send().await.unwrap()
}

pub(crate) async fn get(hub: &TestHub, path: &str, bearer: &str) -> reqwest::Response {
    http().get(hub.at(path)).bearer_auth(bearer).send().await.unwrap()
}

pub(crate) async fn mint(hub: &TestHub, admin: &str, body: Value) -> MintedSecret {
    let resp = post_json(hub, "/api/credentials", admin, body.clone()).await;
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}: {text}");
    serde_json::from_str(&text).unwrap()
}

pub(crate) async fn user_pat(hub: &TestHub, admin: &str) -> String {
    mint(hub, admin, json!({"kind": "user_pat"})).await.secret
}

pub(crate) async fn agent_pat(hub: &TestHub, admin: &str, agent: &str, audience: &str) -> MintedSecret {
    mint(hub, admin, json!({"agent": agent, "create_agent": true, "audience": audience})).await
}

pub(crate) async fn audit(hub: &TestHub, admin_access: &str, action: &str) -> Vec<AuditEntry> {
    let resp = get(hub, &format!("/api/audit?action={action}&limit=200"), admin_access).await;
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json::<Page<AuditEntry>>().await.unwrap().items
}

/// `body` + its CRC-32 in six base62 digits: a well-formed token the hub never minted.
pub(crate) fn with_checksum(body: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut n = crc32fast::hash(body.as_bytes()) as u64;
    let mut sum = [b'0'; 6];
    for slot in sum.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    format!("{body}{}", std::str::from_utf8(&sum).unwrap())
}

pub(crate) fn scopes_of(r: &ExchangeResponse) -> Vec<&str> {
    r.scope.split(' ').filter(|s| !s.is_empty()).collect()
}

#[tokio::test]
async fn management_needs_user_admin_and_the_scope() {
    let hub = start().await;
    let access = session(&hub, USER).await;
    let admin = exchange_ok(&hub, &access, json!({"requested_token_class": "user_admin"})).await.access_token;
    let apat = agent_pat(&hub, &admin, "worker", "cli").await;
    let agent_jwt =
        exchange_ok(&hub, &apat.secret, json!({"requested_token_class": "agent_access"})).await.access_token;

    // admin_required: an agent JWT, or a user_access one.
    let body = expect_error(
        post_json(&hub, "/api/credentials", &agent_jwt, json!({"agent": "worker"})).await,
        StatusCode::FORBIDDEN,
        "admin_required",
    )
    .await;
    assert!(body.message.contains("got agent_access"), "{}", body.message);
    expect_error(
        post_json(&hub, "/api/credentials", &access, json!({"agent": "worker"})).await,
        StatusCode::FORBIDDEN,
        "admin_required",
    )
    .await;
    expect_error(
        post_json(&hub, &format!("/api/credentials/{}/revoke", apat.credential.id), &access, json!({})).await,
        StatusCode::FORBIDDEN,
        "admin_required",
    )
    .await;
    // insufficient_scope: a user_admin JWT without the scope the action needs.
    let narrow = exchange_ok(&hub, &access, json!({"requested_token_class": "user_admin", "scope": "agents.create"}))
        .await
        .access_token;
    let body = expect_error(
        post_json(&hub, "/api/credentials", &narrow, json!({"agent": "worker"})).await,
        StatusCode::FORBIDDEN,
        "insufficient_scope",
    )
    .await;
    assert!(body.message.contains("credentials.issue.agent"), "{}", body.message);
    expect_error(
        post_json(&hub, &format!("/api/credentials/{}/revoke", apat.credential.id), &narrow, json!({})).await,
        StatusCode::FORBIDDEN,
        "insufficient_scope",
    )
    .await;
    // pat_not_allowed: a raw PAT on a resource route.
    expect_error(get(&hub, "/api/me", &apat.secret).await, StatusCode::UNAUTHORIZED, "pat_not_allowed").await;
    expect_error(get(&hub, "/api/credentials", &apat.secret).await, StatusCode::UNAUTHORIZED, "pat_not_allowed").await;
    // An agent cannot read credentials either: only people do.
    let resp = get(&hub, "/api/credentials", &agent_jwt).await;
    expect_error(resp, StatusCode::FORBIDDEN, "principal_not_allowed").await;
    // Another user's credential is not found, not revocable.
    let bob_admin = admin_jwt(&hub, BOB).await;
    expect_error(
        post_json(&hub, &format!("/api/credentials/{}/revoke", apat.credential.id), &bob_admin, json!({})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let resp = get(&hub, "/api/credentials?all=true", &bob_admin).await;
    expect_error(resp, StatusCode::FORBIDDEN, "role_required").await;
}

#[tokio::test]
async fn revoke_and_rotate_take_effect_at_once_only_owners_rotate_and_exchanged_jwts_die_with_their_pat() {
    let hub = start().await;
    let admin = admin_jwt(&hub, USER).await;
    let pat = agent_pat(&hub, &admin, "rot", "cli").await;
    let jwt = exchange_ok(&hub, &pat.secret, json!({"requested_token_class": "agent_access"})).await.access_token;
    assert_eq!(get(&hub, "/api/me", &jwt).await.status(), StatusCode::OK);

    let resp = post_json(&hub, &format!("/api/credentials/{}/rotate", pat.credential.id), &admin, json!({})).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let rotated: MintedSecret = resp.json().await.unwrap();
    assert_eq!(rotated.credential.id, pat.credential.id);
    assert_ne!(rotated.secret, pat.secret);
    expect_error(
        post_exchange(&hub, &pat.secret, json!({"requested_token_class": "agent_access"})).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credential",
    )
    .await;
    exchange_ok(&hub, &rotated.secret, json!({"requested_token_class": "agent_access"})).await;
    assert_eq!(audit(&hub, &session(&hub, USER).await, "credential.rotate").await.len(), 1);

    // An admin never receives someone else's new secret: bob's PAT is his to rotate; alice,
    // an admin, may only revoke it.
    let bob_admin = admin_jwt(&hub, BOB).await;
    let bobs = agent_pat(&hub, &bob_admin, "bobs", "cli").await;
    let resp = post_json(&hub, &format!("/api/credentials/{}/rotate", bobs.credential.id), &admin, json!({})).await;
    let body = expect_error(resp, StatusCode::FORBIDDEN, "access_denied").await;
    assert!(body.message.contains(BOB), "{}", body.message);
    exchange_ok(&hub, &bobs.secret, json!({"requested_token_class": "agent_access"})).await;
    assert_eq!(audit(&hub, &session(&hub, USER).await, "credential.rotate").await.len(), 1, "nothing rotated");
    let resp = post_json(&hub, &format!("/api/credentials/{}/rotate", bobs.credential.id), &bob_admin, json!({})).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let resp = post_json(&hub, &format!("/api/credentials/{}/revoke", bobs.credential.id), &admin, json!({})).await;
    assert_eq!(resp.status(), StatusCode::OK);

    let resp = post_json(&hub, &format!("/api/credentials/{}/revoke", pat.credential.id), &admin, json!({})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    expect_error(
        post_exchange(&hub, &rotated.secret, json!({"requested_token_class": "agent_access"})).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credential",
    )
    .await;
    // The JWT exchanged before is dead too.
    expect_error(get(&hub, "/api/me", &jwt).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    // Rotating a revoked credential is a conflict.
    let resp = post_json(&hub, &format!("/api/credentials/{}/rotate", pat.credential.id), &admin, json!({})).await;
    expect_error(resp, StatusCode::CONFLICT, "conflict").await;

    // RFC 7009 revocation of an exchanged JWT.
    let upat = user_pat(&hub, &admin).await;
    let jwt = exchange_ok(&hub, &upat, json!({"requested_token_class": "user_access"})).await.access_token;
    let resp = http()
        .post(hub.at("/oauth/revoke"))
        .form(&[("token", jwt.as_str()), ("client_id", "keyway-desktop"), ("token_type_hint", "access_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    expect_error(get(&hub, "/api/me", &jwt).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn admin_sets_the_longest_pat_lifetime() {
    let hub = start().await;
    let admin = admin_jwt(&hub, USER).await;
    let settings: Value = get(&hub, "/api/settings/credentials", &admin).await.json().await.unwrap();
    assert_eq!(settings, json!({"max_pat_days": 365, "default_pat_days": 90}));
    let default = mint(&hub, &admin, json!({"agent": "x", "create_agent": true})).await;
    assert_eq!(default.credential.expires_at.unwrap() - default.credential.created_at, 90 * 86_400);

    let put = |bearer: String, body: Value| {
        let hub_url = hub.at("/api/settings/credentials");
        async move { http().put(hub_url).bearer_auth(bearer).json(&body).send().await.unwrap() }
    };
    let resp = put(admin.clone(), json!({"max_pat_days": 30, "default_pat_days": 7})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = post_json(&hub, "/api/credentials", &admin, json!({"agent": "x", "expires_days": 31})).await;
    let body = expect_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(body.message.contains("30"), "{}", body.message);
    let ok = mint(&hub, &admin, json!({"agent": "x", "expires_days": 30})).await;
    assert_eq!(ok.credential.expires_at.unwrap() - ok.credential.created_at, 30 * 86_400);
    let resp = post_json(&hub, "/api/credentials", &admin, json!({"agent": "x", "expires_days": 0})).await;
    expect_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    // Bad settings and non-admins.
    let resp = put(admin.clone(), json!({"max_pat_days": 10, "default_pat_days": 11})).await;
    expect_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let resp = put(admin_jwt(&hub, BOB).await, json!({"max_pat_days": 10, "default_pat_days": 1})).await;
    expect_error(resp, StatusCode::FORBIDDEN, "role_required").await;
    let resp = put(session(&hub, USER).await, json!({"max_pat_days": 10, "default_pat_days": 1})).await;
    expect_error(resp, StatusCode::FORBIDDEN, "admin_required").await;
}

#[tokio::test]
async fn lists_show_last_use_and_fingerprint_changes() {
    let hub = start().await;
    let access = session(&hub, USER).await;
    let admin = exchange_ok(&hub, &access, json!({"requested_token_class": "user_admin"})).await.access_token;
    let pat = agent_pat(&hub, &admin, "fp", "cli").await;
    let fp_a = "a".repeat(64);
    let fp_b = "b".repeat(64);
    let ex = |fp: String| {
        let url = hub.at("/auth/exchange");
        let secret = pat.secret.clone();
        async move {
            http()
                .post(url)
                .bearer_auth(secret)
                .header("x-keyway-fingerprint", fp)
                .json(&json!({"requested_token_class": "agent_access"}))
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(ex(fp_a.clone()).await.status(), StatusCode::OK);
    let list: Page<CredentialView> = get(&hub, "/api/credentials", &access).await.json().await.unwrap();
    let v = list.items.iter().find(|c| c.id == pat.credential.id).unwrap();
    assert!(v.last_used_at.is_some());
    assert_eq!(v.last_fingerprint.as_deref(), Some(fp_a.as_str()));
    assert_eq!(v.fingerprint_changed_at, None);
    assert_eq!(ex(fp_b.clone()).await.status(), StatusCode::OK);
    let list: Page<CredentialView> = get(&hub, "/api/credentials", &access).await.json().await.unwrap();
    let v = list.items.iter().find(|c| c.id == pat.credential.id).unwrap();
    assert_eq!(v.last_fingerprint.as_deref(), Some(fp_b.as_str()));
    assert!(v.fingerprint_changed_at.is_some(), "a changed fingerprint must be marked");
    // A malformed fingerprint is a clear 400.
    expect_error(ex("zz".into()).await, StatusCode::BAD_REQUEST, "invalid_request").await;

    // Own list vs all (admins).
    let bob_admin = admin_jwt(&hub, BOB).await;
    mint(&hub, &bob_admin, json!({"agent": "bobs", "create_agent": true})).await;
    let mine: Page<CredentialView> = get(&hub, "/api/credentials", &access).await.json().await.unwrap();
    assert!(mine.items.iter().all(|c| c.owner_name == USER));
    let all: Page<CredentialView> = get(&hub, "/api/credentials?all=true", &access).await.json().await.unwrap();
    assert!(all.items.iter().any(|c| c.owner_name == BOB));
    let agents: Page<AgentView> = get(&hub, "/api/agents", &access).await.json().await.unwrap();
    assert_eq!(agents.items.len(), 1);
    assert_eq!(agents.items[0].active_credentials, 1);
    // The secret is never in a list.
    let text = get(&hub, "/api/credentials?all=true", &access).await.text().await.unwrap();
    assert!(!text.contains(&pat.secret) && !text.contains("kwp_"), "{text}");
}

/// The list comes a page at a time, newest first; following `next` gives every credential
/// once, in the same order as one big page, including credentials minted in the same second.
#[tokio::test]
async fn the_credential_list_comes_in_pages_that_follow_each_other_exactly() {
    let hub = start().await;
    let access = session(&hub, USER).await;
    let admin = admin_jwt(&hub, USER).await;
    for i in 0..7 {
        if i == 3 {
            hub.clock.advance(Duration::from_secs(2));
        }
        mint(&hub, &admin, json!({"agent": format!("pager-{i}"), "create_agent": true})).await;
    }
    let whole: Page<CredentialView> = get(&hub, "/api/credentials?limit=500", &access).await.json().await.unwrap();
    assert_eq!(whole.items.len(), 7);
    assert_eq!(whole.next, None);
    assert!(whole.items.windows(2).all(|w| w[0].created_at >= w[1].created_at), "not newest first");

    let mut paged = Vec::new();
    let mut pages = 0;
    let mut path = "/api/credentials?limit=2".to_owned();
    loop {
        let page: Page<CredentialView> = get(&hub, &path, &access).await.json().await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 2);
        paged.extend(page.items.into_iter().map(|c| c.id));
        match page.next {
            Some(next) => path = format!("/api/credentials?limit=2&cursor={next}"),
            None => break,
        }
        assert!(pages < 10, "the pages do not end");
    }
    assert_eq!(pages, 4);
    assert_eq!(paged, whole.items.iter().map(|c| c.id.clone()).collect::<Vec<_>>());

    // Out-of-range sizes are brought into range; a cursor that is not one is a clear 400.
    let one: Page<CredentialView> = get(&hub, "/api/credentials?limit=0", &access).await.json().await.unwrap();
    assert_eq!(one.items.len(), 1);
    assert!(one.next.is_some());
    for bad in ["nonsense", "12.", ".cr_x", "12.cr_x%27--", "x.cr_abc"] {
        let resp = get(&hub, &format!("/api/credentials?cursor={bad}"), &access).await;
        let body = expect_error(resp, StatusCode::BAD_REQUEST, "invalid_request").await;
        assert!(body.message.contains("cursor"), "{bad}: {}", body.message);
    }
    expect_error(get(&hub, "/api/credentials?limit=many", &access).await, StatusCode::BAD_REQUEST, "invalid_request")
        .await;
}

#[tokio::test]
async fn introspection_answers_only_what_the_caller_may_see_and_judges_jwts_as_the_resource_routes_do() {
    let hub = start().await;
    let admin = admin_jwt(&hub, BOB).await;
    let pat = agent_pat(&hub, &admin, "seen", "cli").await;
    let jwt = exchange_ok(&hub, &pat.secret, json!({"requested_token_class": "agent_access"})).await.access_token;
    let bob = session(&hub, BOB).await;
    let introspect = |bearer: String, token: String| {
        let url = hub.at("/oauth/introspect");
        async move {
            let resp = http().post(url).bearer_auth(bearer).form(&[("token", token)]).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            resp.json::<Value>().await.unwrap()
        }
    };
    // The owner sees its agent's JWT and PAT.
    let v = introspect(bob.clone(), jwt.clone()).await;
    assert_eq!(v["active"], true, "{v}");
    assert_eq!(v["token_class"], "agent_access");
    assert_eq!(v["username"], "seen");
    let v = introspect(bob.clone(), pat.secret.clone()).await;
    assert_eq!(v["active"], true, "{v}");
    assert_eq!(v["token_type"], "agent_pat");
    // A stranger's agent sees nothing; garbage is inactive.
    let other_pat = agent_pat(&hub, &admin, "other", "cli").await;
    let other_jwt =
        exchange_ok(&hub, &other_pat.secret, json!({"requested_token_class": "agent_access"})).await.access_token;
    assert_eq!(introspect(other_jwt.clone(), bob.clone()).await, json!({"active": false}));
    assert_eq!(introspect(bob.clone(), "eyJnope".into()).await, json!({"active": false}));
    assert_eq!(introspect(bob.clone(), "kwp_a_nope".into()).await, json!({"active": false}));
    // Admins (alice) see everyone's.
    let alice = session(&hub, USER).await;
    assert_eq!(introspect(alice.clone(), jwt.clone()).await["active"], true);
    assert_eq!(introspect(alice.clone(), other_jwt.clone()).await["active"], true);
    // Revoked: inactive, and so is the JWT exchanged from it.
    post_json(&hub, &format!("/api/credentials/{}/revoke", pat.credential.id), &admin, json!({})).await;
    assert_eq!(introspect(bob.clone(), pat.secret.clone()).await, json!({"active": false}));
    assert_eq!(introspect(bob.clone(), jwt.clone()).await, json!({"active": false}));
    // A disabled agent's JWT: inactive.
    let disabled = http()
        .patch(hub.at(&format!("/api/agents/{}", other_pat.credential.agent_id.clone().unwrap())))
        .bearer_auth(&admin)
        .json(&json!({"disabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.status(), StatusCode::OK);
    assert_eq!(introspect(alice.clone(), other_jwt).await, json!({"active": false}));
    // A user PAT's JWT: userinfo answers while the PAT lives, and refuses it once revoked.
    let upat = mint(&hub, &admin, json!({"kind": "user_pat"})).await;
    let user_jwt = exchange_ok(&hub, &upat.secret, json!({"requested_token_class": "user_access"})).await.access_token;
    assert_eq!(userinfo(&hub, &user_jwt).await.status(), StatusCode::OK);
    assert_eq!(introspect(alice.clone(), user_jwt.clone()).await["active"], true);
    post_json(&hub, &format!("/api/credentials/{}/revoke", upat.credential.id), &admin, json!({})).await;
    expect_error(userinfo(&hub, &user_jwt).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_eq!(introspect(alice, user_jwt).await, json!({"active": false}));
    // Unauthenticated callers are refused.
    let resp = http().post(hub.at("/oauth/introspect")).form(&[("token", jwt.as_str())]).send().await.unwrap();
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn bad_input_gets_coded_errors_never_a_500() {
    let hub = start().await;
    let admin = admin_jwt(&hub, USER).await;
    let pat = user_pat(&hub, &admin).await;
    let raw = |path: &str, bearer: &str, body: &'static str| {
        let url = hub.at(path);
        let bearer = bearer.to_owned();
        async move {
            http()
                .post(url)
                .bearer_auth(bearer)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    for (path, bearer, body) in [
        ("/auth/exchange", pat.as_str(), "{"),
        ("/auth/exchange", pat.as_str(), r#"{"requested_token_class": 7}"#),
        ("/auth/exchange", pat.as_str(), r#"{"requested_token_class": "root"}"#),
        ("/auth/exchange", pat.as_str(), r#"{"requested_token_class": "user_access", "audience": "web"}"#),
        ("/api/credentials", admin.as_str(), r#"{"kind": "agent_pat", "expires_days": -1}"#),
        ("/api/credentials", admin.as_str(), r#"{"kind": "galaxy"}"#),
        ("/api/agents", admin.as_str(), r#"{"name": ["x"]}"#),
        ("/auth/enroll", pat.as_str(), "\"nope\""),
    ] {
        let resp = raw(path, bearer, body).await;
        expect_error(resp, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    let huge = "x".repeat(5000);
    for (path, body) in [
        ("/api/agents", json!({"name": huge})),
        ("/api/credentials", json!({"agent": huge, "create_agent": true})),
        ("/api/credentials", json!({"kind": "user_pat", "name": huge})),
        ("/api/credentials", json!({"kind": "enrollment"})),
        ("/api/credentials", json!({"kind": "agent_pat"})),
        ("/api/credentials/enrollment", json!({"expires_minutes": 100000})),
        ("/api/credentials/enrollment", json!({"agent_name": "a b"})),
        ("/api/service-accounts", json!({"name": huge})),
    ] {
        let resp = post_json(&hub, path, &admin, body).await;
        expect_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
    // Huge and odd credentials: invalid_credential, not a crash.
    for bearer in [format!("kwp_u_{huge}"), "kwp_".into(), "kwp_u_%%%".into()] {
        let resp = post_exchange(&hub, &bearer, json!({"requested_token_class": "user_access"})).await;
        expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_credential").await;
    }
    // A header that is not ASCII is no bearer token at all.
    let resp = http()
        .post(hub.at("/auth/exchange"))
        .header("authorization", reqwest::header::HeaderValue::from_bytes("Bearer kwp_u_é".as_bytes()).unwrap())
        .json(&json!({"requested_token_class": "user_access"}))
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let resp = http().post(hub.at("/auth/exchange")).json(&json!({"requested_token_class": "user_access"})).send();
    expect_error(resp.await.unwrap(), StatusCode::UNAUTHORIZED, "invalid_token").await;
    let resp = post_json(&hub, "/api/credentials/cr_nothing/revoke", &admin, json!({})).await;
    expect_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let resp = http()
        .patch(hub.at("/api/agents/ag_nothing"))
        .bearer_auth(&admin)
        .json(&json!({"disabled": true}))
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let resp =
        http().post(hub.at("/auth/service-account/token")).header("authorization", "Basic !!!").send().await.unwrap();
    expect_error(resp, StatusCode::BAD_REQUEST, "invalid_request").await;
    let resp = get(&hub, "/api/credentials?all=maybe", &admin).await;
    expect_error(resp, StatusCode::BAD_REQUEST, "invalid_request").await;
}

#[tokio::test]
async fn last_use_is_written_behind_and_survives_a_restart() {
    let hub = start().await;
    let admin = admin_jwt(&hub, USER).await;
    let pat = agent_pat(&hub, &admin, "persist", "cli").await;
    for _ in 0..3 {
        exchange_ok(&hub, &pat.secret, json!({"requested_token_class": "agent_access"})).await;
    }
    // Shutdown flushes the buffer; a new hub on the same database sees the use.
    let hub = hub.restart_same_db().await;
    let access = session(&hub, USER).await;
    let list: Page<CredentialView> = get(&hub, "/api/credentials", &access).await.json().await.unwrap();
    let v = list.items.iter().find(|c| c.id == pat.credential.id).unwrap();
    assert!(v.last_used_at.is_some(), "{v:?}");
}
