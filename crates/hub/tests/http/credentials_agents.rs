//! Agents and their enrollment, and service accounts (rotation with grace, revocation).

use std::time::Duration;

use keyway_api::Role;
use keyway_api::auth::{Me, Page, PrincipalKind, TokenClass};
use keyway_api::credentials::{
    AgentView, CreatedServiceAccount, CredentialStatus, ExchangeResponse, MintedSecret, ServiceAccountView,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;
use crate::credentials::*;

#[tokio::test]
async fn enrollment_is_one_time_and_makes_new_agents_only() {
    let hub = start().await;
    let admin = admin_jwt(&hub, USER).await;
    let resp = post_json(&hub, "/api/credentials/enrollment", &admin, json!({"audience": "both"})).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let enrollment: MintedSecret = resp.json().await.unwrap();
    assert!(enrollment.secret.starts_with("kwp_e_"));
    let exp = enrollment.credential.expires_at.unwrap() - enrollment.credential.created_at;
    assert_eq!(exp, 15 * 60);
    // An enrollment token is not exchangeable.
    expect_error(
        post_exchange(&hub, &enrollment.secret, json!({"requested_token_class": "agent_access"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "class_not_allowed",
    )
    .await;
    // A name is required.
    let resp = post_json(&hub, "/auth/enroll", &enrollment.secret, json!({})).await;
    expect_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    let resp = post_json(&hub, "/auth/enroll", &enrollment.secret, json!({"agent_name": "newbie"})).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let agent_pat: MintedSecret = resp.json().await.unwrap();
    assert!(agent_pat.secret.starts_with("kwp_a_"));
    assert_eq!(agent_pat.credential.agent_name.as_deref(), Some("newbie"));
    let r =
        exchange_ok(&hub, &agent_pat.secret, json!({"requested_token_class": "agent_access", "audience": "mcp"})).await;
    let me: Me = get(&hub, "/api/me", &r.access_token).await.json().await.unwrap();
    assert_eq!(me.name, "newbie");

    // Second use.
    let resp = post_json(&hub, "/auth/enroll", &enrollment.secret, json!({"agent_name": "again"})).await;
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_credential").await;

    // Enrollment makes new agents only. A token naming an existing agent is refused when it is
    // minted; a token naming none cannot take an existing agent's name (disabled or not), and
    // the refusal does not use it up.
    let resp = post_json(&hub, "/api/credentials/enrollment", &admin, json!({"agent_name": "newbie"})).await;
    expect_error(resp, StatusCode::CONFLICT, "conflict").await;
    let resp = post_json(&hub, "/api/credentials/enrollment", &admin, json!({})).await;
    let free: MintedSecret = resp.json().await.unwrap();
    let resp = post_json(&hub, "/auth/enroll", &free.secret, json!({"agent_name": "newbie"})).await;
    let body = expect_error(resp, StatusCode::CONFLICT, "conflict").await;
    assert!(body.message.contains("newbie"), "{}", body.message);
    let disabled = http()
        .patch(hub.at(&format!("/api/agents/{}", agent_pat.credential.agent_id.clone().unwrap())))
        .bearer_auth(&admin)
        .json(&json!({"disabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.status(), StatusCode::OK);
    let resp = post_json(&hub, "/auth/enroll", &free.secret, json!({"agent_name": "NEWBIE"})).await;
    expect_error(resp, StatusCode::CONFLICT, "conflict").await;
    let resp = post_json(&hub, "/auth/enroll", &free.secret, json!({"agent_name": "third"})).await;
    assert_eq!(resp.status(), StatusCode::CREATED, "the refused token still enrolls a new agent");
    let third: MintedSecret = resp.json().await.unwrap();
    assert_ne!(third.credential.agent_id, agent_pat.credential.agent_id);

    // A token for a new named agent: another name is refused, its own name works.
    let resp = post_json(&hub, "/api/credentials/enrollment", &admin, json!({"agent_name": "fresh"})).await;
    let named: MintedSecret = resp.json().await.unwrap();
    let resp = post_json(&hub, "/auth/enroll", &named.secret, json!({"agent_name": "other"})).await;
    expect_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let resp = post_json(&hub, "/auth/enroll", &named.secret, json!({})).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let second: MintedSecret = resp.json().await.unwrap();
    assert_eq!(second.credential.agent_name.as_deref(), Some("fresh"));

    // Expired enrollment tokens fail like any dead credential.
    let resp = post_json(&hub, "/api/credentials/enrollment", &admin, json!({"expires_minutes": 1})).await;
    let short: MintedSecret = resp.json().await.unwrap();
    hub.clock.advance(Duration::from_secs(61));
    let resp = post_json(&hub, "/auth/enroll", &short.secret, json!({"agent_name": "late"})).await;
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_credential").await;
    let access = session(&hub, USER).await;
    assert_eq!(audit(&hub, &access, "enrollment.redeem").await.len(), 3);
}

async fn sa_token(hub: &TestHub, name: &str, token: &str) -> reqwest::Response {
    http().post(hub.at("/auth/service-account/token")).basic_auth(name, Some(token)).send().await.unwrap()
}

#[tokio::test]
async fn service_accounts_rotate_with_grace_and_revoke() {
    let hub = start().await;
    let admin = admin_jwt(&hub, USER).await;
    // Only admins, and only with a user_admin JWT.
    let bob_admin = admin_jwt(&hub, BOB).await;
    let resp = post_json(&hub, "/api/service-accounts", &bob_admin, json!({"name": "ci-bot"})).await;
    expect_error(resp, StatusCode::FORBIDDEN, "role_required").await;
    let resp = post_json(&hub, "/api/service-accounts", &session(&hub, USER).await, json!({"name": "ci-bot"})).await;
    expect_error(resp, StatusCode::FORBIDDEN, "admin_required").await;
    let resp = post_json(&hub, "/api/service-accounts", &admin, json!({"name": "ci-bot", "group": "admin"})).await;
    expect_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    let resp = post_json(&hub, "/api/service-accounts", &admin, json!({"name": "ci-bot", "group": "reviewer"})).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let created: CreatedServiceAccount = resp.json().await.unwrap();
    assert!(created.secret.starts_with("kwp_s_"));
    assert_eq!(created.account.group, Role::Reviewer);
    assert_eq!(created.account.tokens.len(), 1);
    let resp = post_json(&hub, "/api/service-accounts", &admin, json!({"name": "CI-BOT"})).await;
    expect_error(resp, StatusCode::CONFLICT, "conflict").await;

    let resp = sa_token(&hub, "ci-bot", &created.secret).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let r: ExchangeResponse = resp.json().await.unwrap();
    assert_eq!(r.token_class, TokenClass::ServiceAccess);
    let me: Me = get(&hub, "/api/me", &r.access_token).await.json().await.unwrap();
    assert_eq!(me.kind, PrincipalKind::ServiceAccount);
    assert_eq!(me.roles, vec![Role::Reviewer]);
    // Wrong name, wrong token, no header.
    expect_error(sa_token(&hub, "other", &created.secret).await, StatusCode::UNAUTHORIZED, "invalid_credential").await;
    expect_error(sa_token(&hub, "ci-bot", "kwp_s_nope").await, StatusCode::UNAUTHORIZED, "invalid_credential").await;
    let resp = http().post(hub.at("/auth/service-account/token")).send().await.unwrap();
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_credential").await;
    // A service token exchanges for service_access only.
    expect_error(
        post_exchange(&hub, &created.secret, json!({"requested_token_class": "user_access"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "class_not_allowed",
    )
    .await;

    // Rotate with a grace period: both work until it ends.
    let id = &created.account.id;
    let resp = post_json(&hub, &format!("/api/service-accounts/{id}/rotate"), &admin, json!({"grace_secs": 60})).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let second: MintedSecret = resp.json().await.unwrap();
    assert_eq!(sa_token(&hub, "ci-bot", &created.secret).await.status(), StatusCode::OK);
    assert_eq!(sa_token(&hub, "ci-bot", &second.secret).await.status(), StatusCode::OK);
    let list: Page<ServiceAccountView> = get(&hub, "/api/service-accounts", &admin).await.json().await.unwrap();
    let statuses: Vec<CredentialStatus> = list.items[0].tokens.iter().map(|t| t.status).collect();
    assert!(statuses.contains(&CredentialStatus::Retiring) && statuses.contains(&CredentialStatus::Active));
    hub.clock.advance(Duration::from_secs(61));
    expect_error(sa_token(&hub, "ci-bot", &created.secret).await, StatusCode::UNAUTHORIZED, "invalid_credential").await;
    assert_eq!(sa_token(&hub, "ci-bot", &second.secret).await.status(), StatusCode::OK);

    // Default grace 0: the old token stops at once.
    let admin = admin_jwt(&hub, USER).await;
    let resp = post_json(&hub, &format!("/api/service-accounts/{id}/rotate"), &admin, json!({})).await;
    let third: MintedSecret = resp.json().await.unwrap();
    expect_error(sa_token(&hub, "ci-bot", &second.secret).await, StatusCode::UNAUTHORIZED, "invalid_credential").await;
    assert_eq!(sa_token(&hub, "ci-bot", &third.secret).await.status(), StatusCode::OK);

    // Revoke, naming the account (as the desktop's list does): nothing works any more.
    let resp = post_json(&hub, "/api/service-accounts/no-such-account/revoke", &admin, json!({})).await;
    expect_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let resp = post_json(&hub, "/api/service-accounts/ci-bot/revoke", &admin, json!({})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.json::<ServiceAccountView>().await.unwrap().disabled);
    expect_error(sa_token(&hub, "ci-bot", &third.secret).await, StatusCode::UNAUTHORIZED, "invalid_credential").await;
    let access = session(&hub, USER).await;
    for action in ["service_account.create", "service_account.rotate", "service_account.revoke"] {
        assert!(!audit(&hub, &access, action).await.is_empty(), "{action}");
    }
}

#[tokio::test]
async fn agents_create_rename_disable() {
    let hub = start().await;
    let admin = admin_jwt(&hub, USER).await;
    let resp = post_json(&hub, "/api/agents", &admin, json!({"name": "scout"})).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let agent: AgentView = resp.json().await.unwrap();
    expect_error(
        post_json(&hub, "/api/agents", &admin, json!({"name": "Scout"})).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    let pat = mint(&hub, &admin, json!({"agent": "scout"})).await;
    let patch = |body: Value| {
        let url = hub.at(&format!("/api/agents/{}", agent.id));
        let admin = admin.clone();
        async move { http().patch(url).bearer_auth(admin).json(&body).send().await.unwrap() }
    };
    let renamed: AgentView = patch(json!({"name": "ranger"})).await.json().await.unwrap();
    assert_eq!(renamed.name, "ranger");
    let r =
        exchange_ok(&hub, &pat.secret, json!({"requested_token_class": "agent_access", "agent_id": "ranger"})).await;
    let me: Me = get(&hub, "/api/me", &r.access_token).await.json().await.unwrap();
    assert_eq!(me.name, "ranger");
    expect_error(patch(json!({"name": "../x"})).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    // Minting for a disabled agent is a conflict.
    patch(json!({"disabled": true})).await;
    let resp = post_json(&hub, "/api/credentials", &admin, json!({"agent": "ranger"})).await;
    expect_error(resp, StatusCode::CONFLICT, "conflict").await;
    // Unknown agent without --create.
    let resp = post_json(&hub, "/api/credentials", &admin, json!({"agent": "ghost"})).await;
    expect_error(resp, StatusCode::NOT_FOUND, "not_found").await;
}
