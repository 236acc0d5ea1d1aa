//! Credential exchange: every row of the exchange-rules, class, audience, binding and error
//! tables, each asserting the exact code and status, and a browser sign-in's exchange.

use std::time::Duration;

use keyway_api::auth::{Me, PrincipalKind, TokenClass};
use keyway_api::credentials::{AgentView, CredentialStatus, CredentialView, ExchangeResponse};
use reqwest::StatusCode;
use serde_json::json;

use crate::common::*;
use crate::credentials::*;

#[tokio::test]
async fn exchange_rules_table_user_and_agent_pats() {
    let hub = start().await;
    let admin = admin_jwt(&hub, USER).await;
    let upat = user_pat(&hub, &admin).await;
    assert!(upat.starts_with("kwp_u_") && upat.len() == 54, "{upat}");
    let apat = agent_pat(&hub, &admin, "builder", "both").await;
    assert!(apat.secret.starts_with("kwp_a_"));

    // User PAT (kwp_u_): user_access and user_admin; not agent_access.
    for (class, ttl, scopes) in [
        ("user_access", 900, TokenClass::UserAccess.allowed_scopes()),
        ("user_admin", 300, TokenClass::UserAdmin.allowed_scopes()),
    ] {
        let r = exchange_ok(&hub, &upat, json!({"requested_token_class": class})).await;
        assert_eq!(r.token_class.as_str(), class);
        assert_eq!(r.expires_in, ttl);
        assert_eq!(r.token_type, "Bearer");
        assert_eq!(r.issued_token_type, "urn:ietf:params:oauth:token-type:access_token");
        assert_eq!(scopes_of(&r), scopes.to_vec());
        let (header, claims) = verify_jwt(&hub, &r.access_token).await;
        assert_eq!(header["typ"], "at+jwt");
        assert_eq!(claims["token_class"], class);
        assert_eq!(claims["principal"], "user");
        assert_eq!(claims["preferred_username"], USER);
        assert!(claims["cred"].as_str().unwrap().starts_with("cr_"));
        assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), ttl as i64);
    }
    let body = expect_error(
        post_exchange(&hub, &upat, json!({"requested_token_class": "agent_access"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "class_not_allowed",
    )
    .await;
    assert!(body.message.contains("PAT class 'u' cannot exchange for 'agent_access'"), "{}", body.message);
    expect_error(
        post_exchange(&hub, &upat, json!({"requested_token_class": "service_access"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "class_not_allowed",
    )
    .await;

    // Agent PAT (kwp_a_): agent_access only.
    let r = exchange_ok(&hub, &apat.secret, json!({"requested_token_class": "agent_access"})).await;
    assert_eq!(r.expires_in, 900);
    assert_eq!(scopes_of(&r), TokenClass::AgentAccess.allowed_scopes().to_vec());
    let me: Me = get(&hub, "/api/me", &r.access_token).await.json().await.unwrap();
    assert_eq!(me.kind, PrincipalKind::Agent);
    assert_eq!(me.name, "builder");
    assert_eq!(me.token_class, TokenClass::AgentAccess);
    assert_eq!(me.id, apat.credential.agent_id.clone().unwrap());
    assert!(me.owner.is_some());
    for class in ["user_access", "user_admin"] {
        let body = expect_error(
            post_exchange(&hub, &apat.secret, json!({"requested_token_class": class})).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "class_not_allowed",
        )
        .await;
        assert!(body.message.contains(&format!("PAT class 'a' cannot exchange for '{class}'")), "{}", body.message);
    }
    // RFC 8693 at the token endpoint follows the same table.
    let form = |token: &str, class: &str| {
        vec![
            ("grant_type".to_owned(), "urn:ietf:params:oauth:grant-type:token-exchange".to_owned()),
            ("subject_token".to_owned(), token.to_owned()),
            ("subject_token_type".to_owned(), "urn:keyway:params:oauth:token-type:pat".to_owned()),
            ("requested_token_class".to_owned(), class.to_owned()),
        ]
    };
    let resp = http().post(hub.at("/oauth/token")).form(&form(&apat.secret, "agent_access")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let r: ExchangeResponse = resp.json().await.unwrap();
    assert_eq!(r.token_class, TokenClass::AgentAccess);
    let resp = http().post(hub.at("/oauth/token")).form(&form(&apat.secret, "user_access")).send().await.unwrap();
    expect_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "class_not_allowed").await;
    let resp = http().post(hub.at("/oauth/token")).form(&form(&upat, "user_admin")).send().await.unwrap();
    assert_eq!(resp.json::<ExchangeResponse>().await.unwrap().token_class, TokenClass::UserAdmin);
    let mut bad = form(&upat, "nope");
    let resp = http().post(hub.at("/oauth/token")).form(&bad).send().await.unwrap();
    expect_error(resp, StatusCode::BAD_REQUEST, "invalid_request").await;
    bad[2].1 = "urn:x".into();
    let resp = http().post(hub.at("/oauth/token")).form(&bad).send().await.unwrap();
    expect_error(resp, StatusCode::BAD_REQUEST, "invalid_request").await;
}

#[tokio::test]
async fn scopes_follow_the_class_allowlists_and_the_pats_own_scopes() {
    let hub = start().await;
    let admin = admin_jwt(&hub, USER).await;
    let upat = user_pat(&hub, &admin).await;
    // A management scope in an access class, and the other way round.
    let body = expect_error(
        post_exchange(&hub, &upat, json!({"requested_token_class": "user_admin", "scope": "agents.create messages"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "scope_not_allowed",
    )
    .await;
    assert_eq!(body.message, "Scopes not allowed for user_admin: [messages]");
    expect_error(
        post_exchange(&hub, &upat, json!({"requested_token_class": "user_access", "scope": "credentials.revoke"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "scope_not_allowed",
    )
    .await;
    // A narrower request is granted exactly.
    let r = exchange_ok(&hub, &upat, json!({"requested_token_class": "user_access", "scope": "tasks messages"})).await;
    assert_eq!(scopes_of(&r), ["tasks", "messages"]);
    // agent_access never holds reviews.decide.
    let apat = agent_pat(&hub, &admin, "a1", "cli").await.secret;
    expect_error(
        post_exchange(&hub, &apat, json!({"requested_token_class": "agent_access", "scope": "reviews.decide"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "scope_not_allowed",
    )
    .await;
    // A PAT minted with fewer scopes narrows further.
    let narrow = mint(&hub, &admin, json!({"agent": "a1", "scopes": ["messages"]})).await.secret;
    let r = exchange_ok(&hub, &narrow, json!({"requested_token_class": "agent_access"})).await;
    assert_eq!(scopes_of(&r), ["messages"]);
    let body = expect_error(
        post_exchange(&hub, &narrow, json!({"requested_token_class": "agent_access", "scope": "tasks"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "scope_not_allowed",
    )
    .await;
    assert!(body.message.contains("[tasks]"), "{}", body.message);
    // Minting with a scope outside the kind's allowlist is refused too.
    let resp = post_json(&hub, "/api/credentials", &admin, json!({"agent": "a1", "scopes": ["agents.create"]})).await;
    expect_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "scope_not_allowed").await;
}

#[tokio::test]
async fn audience_table() {
    let hub = start().await;
    let admin = admin_jwt(&hub, USER).await;
    for (pat_audience, surface, allowed) in [
        ("cli", "cli", true),
        ("cli", "mcp", false),
        ("mcp", "cli", false),
        ("mcp", "mcp", true),
        ("both", "cli", true),
        ("both", "mcp", true),
    ] {
        let pat = agent_pat(&hub, &admin, &format!("aud-{pat_audience}"), pat_audience).await.secret;
        let resp =
            post_exchange(&hub, &pat, json!({"requested_token_class": "agent_access", "audience": surface})).await;
        if allowed {
            assert_eq!(resp.status(), StatusCode::OK, "{pat_audience} from {surface}");
        } else {
            let body = expect_error(resp, StatusCode::FORBIDDEN, "audience_not_allowed").await;
            assert!(body.message.contains(&format!("PAT audience is '{pat_audience}'")), "{}", body.message);
        }
    }
    // No audience in the request means the CLI.
    let mcp = agent_pat(&hub, &admin, "aud-default", "mcp").await.secret;
    expect_error(
        post_exchange(&hub, &mcp, json!({"requested_token_class": "agent_access"})).await,
        StatusCode::FORBIDDEN,
        "audience_not_allowed",
    )
    .await;
}

#[tokio::test]
async fn binding_table() {
    let hub = start().await;
    let admin = admin_jwt(&hub, USER).await;
    let a = agent_pat(&hub, &admin, "alpha", "cli").await;
    let b = agent_pat(&hub, &admin, "beta", "cli").await;
    let a_id = a.credential.agent_id.clone().unwrap();
    let b_id = b.credential.agent_id.clone().unwrap();
    exchange_ok(&hub, &a.secret, json!({"requested_token_class": "agent_access", "agent_id": a_id})).await;
    exchange_ok(&hub, &a.secret, json!({"requested_token_class": "agent_access", "agent_id": "alpha"})).await;
    let body = expect_error(
        post_exchange(&hub, &a.secret, json!({"requested_token_class": "agent_access", "agent_id": b_id})).await,
        StatusCode::FORBIDDEN,
        "binding_not_allowed",
    )
    .await;
    assert_eq!(body.message, "agent_id does not match bound agent");
    // The aX guardrail: a user PAT is never an agent credential.
    let upat = user_pat(&hub, &admin).await;
    expect_error(
        post_exchange(&hub, &upat, json!({"requested_token_class": "user_access", "agent_id": a_id})).await,
        StatusCode::FORBIDDEN,
        "binding_not_allowed",
    )
    .await;
}

#[tokio::test]
async fn invalid_credential_is_one_answer_for_every_dead_pat_and_the_audit_says_why() {
    let hub = start().await;
    let access = session(&hub, USER).await;
    let admin = exchange_ok(&hub, &access, json!({"requested_token_class": "user_admin"})).await.access_token;
    let revoked = agent_pat(&hub, &admin, "r", "cli").await;
    let expiring = mint(&hub, &admin, json!({"agent": "e", "create_agent": true, "expires_days": 1})).await;
    let disabled = agent_pat(&hub, &admin, "d", "cli").await;
    let good = agent_pat(&hub, &admin, "g", "cli").await;

    let resp = post_json(&hub, &format!("/api/credentials/{}/revoke", revoked.credential.id), &admin, json!({})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<CredentialView>().await.unwrap().status, CredentialStatus::Revoked);
    let agent = disabled.credential.agent_id.clone().unwrap();
    let resp = http()
        .patch(hub.at(&format!("/api/agents/{agent}")))
        .bearer_auth(&admin)
        .json(&json!({"disabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.json::<AgentView>().await.unwrap().disabled);

    // A well-formed token nobody minted; a mistyped one (checksum); garbage.
    let mut unknown: Vec<char> = good.secret.chars().collect();
    unknown[10] = if unknown[10] == 'x' { 'y' } else { 'x' };
    let mistyped: String = unknown.iter().collect();
    let forged = {
        // Same public id, other secret, valid checksum: only the hash comparison refuses it.
        let minted = agent_pat(&hub, &admin, "other", "cli").await.secret;
        with_checksum(&format!("{}{}", &good.secret[..18], &minted[18..48]))
    };

    let mut bodies = Vec::new();
    hub.clock.advance(Duration::from_secs(86_400 + 1));
    for (what, pat) in [
        ("revoked", revoked.secret.as_str()),
        ("expired", expiring.secret.as_str()),
        ("agent_disabled", disabled.secret.as_str()),
        ("checksum", mistyped.as_str()),
        ("secret_mismatch", forged.as_str()),
        ("garbage", "kwp_a_short"),
    ] {
        let resp = post_exchange(&hub, pat, json!({"requested_token_class": "agent_access"})).await;
        let body = expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_credential").await;
        bodies.push((what, body));
    }
    // Indistinguishable to the caller.
    for (what, body) in &bodies {
        assert_eq!(body, &bodies[0].1, "{what} answers differently");
    }
    // The good one still works (after a day), and re-enabling the agent brings its PAT back.
    exchange_ok(&hub, &good.secret, json!({"requested_token_class": "agent_access"})).await;
    let resp = http()
        .patch(hub.at(&format!("/api/agents/{agent}")))
        .bearer_auth(admin_jwt(&hub, USER).await)
        .json(&json!({"disabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    exchange_ok(&hub, &disabled.secret, json!({"requested_token_class": "agent_access"})).await;

    // The audit log has the real reasons (refusals are written behind, as summary rows).
    let access = session(&hub, USER).await;
    let refused = crate::audit::wait_for(&hub, &access, "exchange.refused", |rows| {
        ["revoked", "expired", "agent_disabled", "secret_mismatch"]
            .iter()
            .all(|reason| rows.iter().any(|e| e.detail["reason"] == *reason && e.outcome == "invalid_credential"))
            && rows.iter().any(|e| e.detail["reason"].as_str().unwrap_or_default().starts_with("malformed"))
    })
    .await;
    assert!(refused.iter().all(|e| e.detail["count"] == 1), "{refused:?}");
    assert!(!audit(&hub, &access, "credential.revoke").await.is_empty());
    assert!(audit(&hub, &access, "pat.mint").await.len() >= 5);
    assert!(!audit(&hub, &access, "agent.disable").await.is_empty());
}

#[tokio::test]
async fn a_browser_sign_in_exchanges_for_user_admin_only_when_asked() {
    let hub = start().await;
    let access = session(&hub, USER).await;
    let admin = exchange_ok(&hub, &access, json!({"requested_token_class": "user_admin"})).await;
    assert_eq!(admin.expires_in, 300);
    assert_eq!(scopes_of(&admin), TokenClass::UserAdmin.allowed_scopes().to_vec());
    let me: Me = get(&hub, "/api/me", &admin.access_token).await.json().await.unwrap();
    assert_eq!(me.token_class, TokenClass::UserAdmin);
    assert_eq!(me.name, USER);
    // Narrowed scopes hold (a sign-in's own JWT carries the whole user_access allowlist).
    let narrow = exchange_ok(&hub, &access, json!({"requested_token_class": "user_admin", "scope": "agents.create"}))
        .await
        .access_token;
    let me: Me = get(&hub, "/api/me", &narrow).await.json().await.unwrap();
    assert_eq!(me.scopes, ["agents.create"]);
    // So does a narrowed user_access: it acts with what it names, and cannot be widened again.
    let reader = exchange_ok(&hub, &access, json!({"requested_token_class": "user_access", "scope": "reviews.read"}))
        .await
        .access_token;
    let me: Me = get(&hub, "/api/me", &reader).await.json().await.unwrap();
    assert_eq!(me.scopes, ["reviews.read"]);
    assert_eq!(get(&hub, "/api/reviews", &reader).await.status(), StatusCode::OK);
    let submit = http().post(hub.at("/api/reviews")).bearer_auth(&reader).json(&json!({"title": "x"})).send().await;
    expect_error(submit.unwrap(), StatusCode::FORBIDDEN, "insufficient_scope").await;
    expect_error(
        post_exchange(&hub, &reader, json!({"requested_token_class": "user_access"})).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credential",
    )
    .await;
    // Not an agent, and not from an already exchanged JWT.
    expect_error(
        post_exchange(&hub, &access, json!({"requested_token_class": "agent_access"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "class_not_allowed",
    )
    .await;
    expect_error(
        post_exchange(&hub, &admin.access_token, json!({"requested_token_class": "user_admin"})).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credential",
    )
    .await;
    expect_error(
        post_exchange(&hub, "eyJnot.a.jwt", json!({"requested_token_class": "user_admin"})).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credential",
    )
    .await;
    // A revoked sign-in access token cannot be exchanged any more.
    let resp = http()
        .post(hub.at("/oauth/revoke"))
        .form(&[("token", access.as_str()), ("client_id", "keyway-desktop"), ("token_type_hint", "access_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    expect_error(
        post_exchange(&hub, &access, json!({"requested_token_class": "user_admin"})).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credential",
    )
    .await;
}
