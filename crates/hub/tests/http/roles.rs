//! What each role sees and changes, on real rows: auditors read everything and change nothing,
//! admins change other people's credentials, developers only their own, agents act with none of
//! their owner's roles, service accounts with their group's. (Who may call each route at all is
//! the matrix's: `matrix.rs`.)

use keyway_api::Role;
use keyway_api::auth::{AuditEntry, Me, Page};
use keyway_api::credentials::{AgentView, CreatedServiceAccount, CredentialView, ServiceAccountView};
use keyway_api::reviews::ReviewRequest;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;
use crate::credentials::{exchange_ok, get, http, mint, post_exchange, post_json, session};

const DEV: &str = "dev";
const DEV2: &str = "dev2";
const REV: &str = "rev";
const AUD: &str = "aud";
const ADM: &str = "adm";
/// Holds every role: its agent still acts with none.
const ALL: &str = "omni";

async fn start() -> TestHub {
    let users: [(&str, &[Role]); 6] = [
        (DEV, &[Role::Developer]),
        (DEV2, &[Role::Developer]),
        (REV, &[Role::Reviewer]),
        (AUD, &[Role::Auditor]),
        (ADM, &[Role::Admin]),
        (ALL, &Role::ALL),
    ];
    TestHub::start_with_users(|_| {}, &users).await
}

async fn user_admin(hub: &TestHub, access: &str) -> String {
    exchange_ok(hub, access, json!({"requested_token_class": "user_admin"})).await.access_token
}

async fn json_of<T: serde::de::DeserializeOwned>(resp: reqwest::Response, status: StatusCode) -> T {
    let got = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    serde_json::from_str(&text).unwrap()
}

async fn submit(hub: &TestHub, token: &str, title: &str) -> reqwest::Response {
    post_json(hub, "/api/reviews", token, json!({ "title": title })).await
}

async fn queue(hub: &TestHub, token: &str) -> Vec<String> {
    let page: Page<ReviewRequest> = json_of(get(hub, "/api/reviews?limit=200", token).await, StatusCode::OK).await;
    page.items.into_iter().map(|r| r.title).collect()
}

async fn service_account(hub: &TestHub, admin: &str, name: &str, group: &str) -> String {
    let resp = post_json(hub, "/api/service-accounts", admin, json!({ "name": name, "group": group })).await;
    let created: CreatedServiceAccount = json_of(resp, StatusCode::CREATED).await;
    let resp = http()
        .post(hub.at("/auth/service-account/token"))
        .basic_auth(name, Some(&created.secret))
        .send()
        .await
        .unwrap();
    json_of::<Value>(resp, StatusCode::OK).await["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn auditors_read_everything_and_change_nothing() {
    let hub = start().await;
    let dev = session(&hub, DEV).await;
    let dev_admin = user_admin(&hub, &dev).await;
    let pat = mint(&hub, &dev_admin, json!({"agent": "scout", "create_agent": true})).await;
    let r: ReviewRequest = json_of(submit(&hub, &dev, "dev's request").await, StatusCode::CREATED).await;
    let adm_admin = user_admin(&hub, &session(&hub, ADM).await).await;
    service_account(&hub, &adm_admin, "nightly", "developer").await;

    let aud = session(&hub, AUD).await;
    let all: Page<CredentialView> = json_of(get(&hub, "/api/credentials?all=true", &aud).await, StatusCode::OK).await;
    assert!(all.items.iter().any(|c| c.id == pat.credential.id), "the auditor sees the developer's PAT");
    let own: Page<CredentialView> = json_of(get(&hub, "/api/credentials", &aud).await, StatusCode::OK).await;
    assert!(own.items.is_empty(), "without ?all the list is the auditor's own");
    let agents: Page<AgentView> = json_of(get(&hub, "/api/agents?all=true", &aud).await, StatusCode::OK).await;
    assert!(agents.items.iter().any(|a| a.name == "scout"));
    let accounts: Page<ServiceAccountView> =
        json_of(get(&hub, "/api/service-accounts", &aud).await, StatusCode::OK).await;
    assert_eq!(accounts.items.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["nightly"]);
    assert_eq!(get(&hub, "/api/settings/credentials", &aud).await.status(), StatusCode::OK);
    assert!(queue(&hub, &aud).await.contains(&"dev's request".to_owned()));
    let audit: Page<AuditEntry> = json_of(get(&hub, "/api/audit?action=pat.mint", &aud).await, StatusCode::OK).await;
    assert_eq!(audit.items.len(), 1);
    let resp = http().post(hub.at("/oauth/introspect")).bearer_auth(&aud).form(&[("token", &pat.secret)]).send();
    assert_eq!(json_of::<Value>(resp.await.unwrap(), StatusCode::OK).await["active"], true);

    // And changes nothing: no user_admin, so no revoke, no settings, no decision, no submission.
    expect_error(
        post_exchange(&hub, &aud, json!({"requested_token_class": "user_admin"})).await,
        StatusCode::FORBIDDEN,
        "user_admin_not_allowed",
    )
    .await;
    let revoke = format!("/api/credentials/{}/revoke", pat.credential.id);
    expect_error(post_json(&hub, &revoke, &aud, json!({})).await, StatusCode::FORBIDDEN, "admin_required").await;
    let decision = format!("/api/reviews/{}/decision", r.id);
    let resp = post_json(&hub, &decision, &aud, json!({"verdict": "approve"})).await;
    expect_error(resp, StatusCode::FORBIDDEN, "role_required").await;
    expect_error(submit(&hub, &aud, "mine").await, StatusCode::FORBIDDEN, "role_required").await;
    // The PAT still works: nothing was changed.
    exchange_ok(&hub, &pat.secret, json!({"requested_token_class": "agent_access"})).await;
}

#[tokio::test]
async fn developers_change_their_own_and_admins_anyones() {
    let hub = start().await;
    let dev_admin = user_admin(&hub, &session(&hub, DEV).await).await;
    let pat = mint(&hub, &dev_admin, json!({"agent": "scout", "create_agent": true})).await;
    let agent: Page<AgentView> = json_of(get(&hub, "/api/agents", &dev_admin).await, StatusCode::OK).await;
    let agent_id = agent.items[0].id.clone();
    let revoke = format!("/api/credentials/{}/revoke", pat.credential.id);

    // Another developer: not found, as if it did not exist; and sees none of it.
    let dev2_admin = user_admin(&hub, &session(&hub, DEV2).await).await;
    expect_error(post_json(&hub, &revoke, &dev2_admin, json!({})).await, StatusCode::NOT_FOUND, "not_found").await;
    let resp = http().patch(hub.at(&format!("/api/agents/{agent_id}"))).bearer_auth(&dev2_admin);
    let resp = resp.json(&json!({"disabled": true})).send().await.unwrap();
    expect_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let theirs: Page<CredentialView> = json_of(get(&hub, "/api/credentials", &dev2_admin).await, StatusCode::OK).await;
    assert!(theirs.items.is_empty());
    expect_error(get(&hub, "/api/credentials?all=true", &dev2_admin).await, StatusCode::FORBIDDEN, "role_required")
        .await;

    // An admin who is not a developer mints nothing of their own, and manages anyone's.
    let adm_admin = user_admin(&hub, &session(&hub, ADM).await).await;
    let resp = post_json(&hub, "/api/credentials", &adm_admin, json!({"kind": "user_pat"})).await;
    expect_error(resp, StatusCode::FORBIDDEN, "role_required").await;
    let resp = post_json(&hub, "/api/agents", &adm_admin, json!({"name": "own-agent"})).await;
    expect_error(resp, StatusCode::FORBIDDEN, "role_required").await;
    let resp = http().patch(hub.at(&format!("/api/agents/{agent_id}"))).bearer_auth(&adm_admin);
    let disabled: AgentView =
        json_of(resp.json(&json!({"disabled": true})).send().await.unwrap(), StatusCode::OK).await;
    assert!(disabled.disabled);
    let revoked: CredentialView = json_of(post_json(&hub, &revoke, &adm_admin, json!({})).await, StatusCode::OK).await;
    assert_eq!(revoked.id, pat.credential.id);
    expect_error(
        post_exchange(&hub, &pat.secret, json!({"requested_token_class": "agent_access"})).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credential",
    )
    .await;

    // A reviewer mints nothing, and lists no credentials.
    let rev = session(&hub, REV).await;
    expect_error(get(&hub, "/api/credentials", &rev).await, StatusCode::FORBIDDEN, "role_required").await;
    let resp = post_json(&hub, "/api/credentials/enrollment", &rev, json!({})).await;
    expect_error(resp, StatusCode::FORBIDDEN, "admin_required").await;
}

#[tokio::test]
async fn an_agent_acts_with_none_of_its_owners_roles() {
    let hub = start().await;
    let omni = session(&hub, ALL).await;
    let me: Me = json_of(get(&hub, "/api/me", &omni).await, StatusCode::OK).await;
    assert_eq!(me.roles, Role::ALL.to_vec());
    let pat = mint(&hub, &user_admin(&hub, &omni).await, json!({"agent": "helper", "create_agent": true})).await;
    let agent = exchange_ok(&hub, &pat.secret, json!({"requested_token_class": "agent_access"})).await.access_token;
    let me: Me = json_of(get(&hub, "/api/me", &agent).await, StatusCode::OK).await;
    assert!(me.roles.is_empty(), "{me:?}");

    let dev = session(&hub, DEV).await;
    let theirs: ReviewRequest = json_of(submit(&hub, &dev, "dev's").await, StatusCode::CREATED).await;
    json_of::<ReviewRequest>(submit(&hub, &agent, "the agent's").await, StatusCode::CREATED).await;
    // Its owner sees the whole queue; the agent only its own, and decides nothing.
    assert_eq!(queue(&hub, &agent).await, ["the agent's"]);
    assert_eq!(queue(&hub, &omni).await.len(), 2);
    let show = get(&hub, &format!("/api/reviews/{}", theirs.id), &agent).await;
    expect_error(show, StatusCode::NOT_FOUND, "not_found").await;
    let decision = format!("/api/reviews/{}/decision", theirs.id);
    let resp = post_json(&hub, &decision, &agent, json!({"verdict": "approve"})).await;
    expect_error(resp, StatusCode::FORBIDDEN, "principal_not_allowed").await;
    for path in ["/api/audit", "/api/credentials?all=true", "/api/service-accounts", "/api/settings/credentials"] {
        expect_error(get(&hub, path, &agent).await, StatusCode::FORBIDDEN, "principal_not_allowed").await;
    }
    // Introspection: the agent sees its own token only, not its owner's.
    let resp = http().post(hub.at("/oauth/introspect")).bearer_auth(&agent).form(&[("token", &dev)]).send();
    assert_eq!(json_of::<Value>(resp.await.unwrap(), StatusCode::OK).await["active"], false);
}

#[tokio::test]
async fn a_service_account_acts_with_its_groups_role() {
    let hub = start().await;
    let adm_admin = user_admin(&hub, &session(&hub, ADM).await).await;
    let sa_dev = service_account(&hub, &adm_admin, "builder", "developer").await;
    let sa_rev = service_account(&hub, &adm_admin, "triage", "reviewer").await;
    let sa_aud = service_account(&hub, &adm_admin, "compliance", "auditor").await;
    for (token, role) in [(&sa_dev, Role::Developer), (&sa_rev, Role::Reviewer), (&sa_aud, Role::Auditor)] {
        let me: Me = json_of(get(&hub, "/api/me", token).await, StatusCode::OK).await;
        assert_eq!(me.roles, [role]);
    }
    let dev = session(&hub, DEV).await;
    let theirs: ReviewRequest = json_of(submit(&hub, &dev, "dev's").await, StatusCode::CREATED).await;

    // developer: submits, and follows its own only.
    json_of::<ReviewRequest>(submit(&hub, &sa_dev, "built").await, StatusCode::CREATED).await;
    assert_eq!(queue(&hub, &sa_dev).await, ["built"]);
    // reviewer: reads the whole queue, submits nothing, and decisions stay with people.
    assert_eq!(queue(&hub, &sa_rev).await.len(), 2);
    expect_error(submit(&hub, &sa_rev, "x").await, StatusCode::FORBIDDEN, "role_required").await;
    let decision = format!("/api/reviews/{}/decision", theirs.id);
    let resp = post_json(&hub, &decision, &sa_rev, json!({"verdict": "approve"})).await;
    expect_error(resp, StatusCode::FORBIDDEN, "principal_not_allowed").await;
    // auditor: reads the audit log and the queue; credentials are listed to people only.
    let audit: Page<AuditEntry> =
        json_of(get(&hub, "/api/audit?action=service_account.create", &sa_aud).await, StatusCode::OK).await;
    assert_eq!(audit.items.len(), 3);
    assert_eq!(queue(&hub, &sa_aud).await.len(), 2);
    expect_error(get(&hub, "/api/credentials", &sa_aud).await, StatusCode::FORBIDDEN, "principal_not_allowed").await;
    expect_error(get(&hub, "/api/audit", &sa_dev).await, StatusCode::FORBIDDEN, "role_required").await;
}
