//! Approvals that mint the token (OpenID CIBA poll mode with RFC 9396 `authorization_details`):
//! an agent asks at the backchannel endpoint, reviewers approve in the queue, the agent polls
//! the token endpoint and gets one short JWT carrying exactly what was approved.

use std::time::Duration;

use keyway_api::Role;
use keyway_api::ciba::{ApprovalToken, BackchannelAuthorization, GRANT_CIBA, MAX_BINDING_MESSAGE_CHARS};
use keyway_api::reviews::{ContentType, ReviewEvent, ReviewStatus};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;
use crate::reviews::*;

fn deployment() -> Value {
    json!([{"type": "deployment", "target": "api", "version": "v2", "args_sha256": "9f2c0a"}])
}

/// An agent of dana's that may submit and read reviews, and its `agent_access` JWT.
async fn agent_of(hub: &TestHub, owner: &str, name: &str) -> String {
    let owner_jwt = access_token_of(hub, owner).await;
    let admin = exchanged(hub, "/auth/exchange", ("Bearer", &owner_jwt), "user_admin").await;
    let minted = created(
        http()
            .post(hub.at("/api/credentials"))
            .bearer_auth(&admin)
            .json(&json!({"agent": name, "create_agent": true, "scopes": ["reviews.submit", "reviews.read"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    exchanged(hub, "/auth/exchange", ("Bearer", minted["secret"].as_str().unwrap()), "agent_access").await
}

async fn ask(hub: &TestHub, bearer: Option<&str>, form: &[(&str, &str)]) -> reqwest::Response {
    let mut request = http().post(hub.at("/oauth/bc-authorize")).form(form);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn ask_ok(hub: &TestHub, agent: &str, form: &[(&str, &str)]) -> BackchannelAuthorization {
    let resp = ask(hub, Some(agent), form).await;
    assert_eq!(resp.status(), StatusCode::OK, "{}", resp.text().await.unwrap());
    resp.json().await.unwrap()
}

async fn poll(hub: &TestHub, agent: &str, auth_req_id: &str) -> reqwest::Response {
    http()
        .post(hub.at("/oauth/token"))
        .bearer_auth(agent)
        .form(&[("grant_type", GRANT_CIBA), ("auth_req_id", auth_req_id)])
        .send()
        .await
        .unwrap()
}

async fn poll_refused(hub: &TestHub, agent: &str, auth_req_id: &str, code: &str) -> String {
    let resp = poll(hub, agent, auth_req_id).await;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some(code)), "{body}");
    body["error_description"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn an_approval_mints_one_short_token_that_carries_exactly_what_was_approved() {
    let hub = queue_hub().await;
    let doc: Value = reqwest::get(hub.at("/.well-known/openid-configuration")).await.unwrap().json().await.unwrap();
    assert_eq!(doc["backchannel_authentication_endpoint"], hub.at("/oauth/bc-authorize"));
    assert_eq!(doc["backchannel_token_delivery_modes_supported"], json!(["poll"]));
    assert!(doc["grant_types_supported"].as_array().unwrap().contains(&json!(GRANT_CIBA)));

    let bot = agent_of(&hub, DEV, "deploy-bot").await;
    let rev = access_token_of(&hub, REV).await;
    let rev2 = access_token_of(&hub, REV2).await;
    let dev = access_token_of(&hub, DEV).await;
    let mut live = Sse::open(&hub, &rev).await;

    let details = deployment();
    let asked = ask_ok(
        &hub,
        &bot,
        &[
            ("authorization_details", &details.to_string()),
            ("binding_message", "Deploy api v2 (build 4411)"),
            ("threshold", "2"),
        ],
    )
    .await;
    assert_eq!(asked.interval, 5);
    assert!(asked.expires_in > 0 && asked.auth_req_id.len() >= 43, "{asked:?}");

    // The request is in the queue, live, as a review whose payload is the details.
    let (kind, event) = live.event().await;
    assert_eq!(kind, "created");
    let ReviewEvent::Created { request } = event else { panic!("{event:?}") };
    assert_eq!(request.id, asked.review_id);
    let shown = show(&hub, &rev, &asked.review_id).await;
    assert_eq!((shown.kind.as_str(), shown.title.as_str()), ("authorization", "Deploy api v2 (build 4411)"));
    assert_eq!(shown.content_type, ContentType::Json);
    assert_eq!(shown.payload.as_ref(), Some(&details));
    assert_eq!(shown.submitter.name, "deploy-bot");

    // Undecided: pending, and slow_down for a poll sooner than the interval.
    poll_refused(&hub, &bot, &asked.auth_req_id, "authorization_pending").await;
    poll_refused(&hub, &bot, &asked.auth_req_id, "slow_down").await;
    hub.clock.advance(Duration::from_secs(11));
    poll_refused(&hub, &bot, &asked.auth_req_id, "authorization_pending").await;

    // The agent's owner may not approve it; one approval of two is not enough.
    assert_eq!(decide(&hub, &dev, &asked.review_id, "approve", None).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(decide(&hub, &rev, &asked.review_id, "approve", None).await.status(), StatusCode::OK);
    hub.clock.advance(Duration::from_secs(11));
    poll_refused(&hub, &bot, &asked.auth_req_id, "authorization_pending").await;
    assert_eq!(decide(&hub, &rev2, &asked.review_id, "approve", None).await.status(), StatusCode::OK);

    hub.clock.advance(Duration::from_secs(11));
    let resp = poll(&hub, &bot, &asked.auth_req_id).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let token: ApprovalToken = resp.json().await.unwrap();
    assert_eq!(token.authorization_details, details);
    assert!(token.expires_in <= 300 && token.expires_in > 0, "{}", token.expires_in);
    let (_, claims) = verify_jwt(&hub, &token.access_token).await;
    assert_eq!(claims["authorization_details"], details, "the JWT carries exactly what was approved");
    assert_eq!(claims["token_class"], "agent_access");
    assert_eq!(claims["preferred_username"], "deploy-bot");
    assert!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap() <= 300);
    let jti = claims["jti"].as_str().unwrap().to_owned();

    // Once only.
    hub.clock.advance(Duration::from_secs(11));
    poll_refused(&hub, &bot, &asked.auth_req_id, "invalid_grant").await;

    // Audited, with the token's jti and who approved.
    let auditor = access_token_of(&hub, AUD).await;
    let rows = audit(&hub, &auditor, "review.token_issued").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].detail["jti"], jti.as_str());
    assert_eq!(rows[0].detail["approved_by"], json!([REV, REV2]));
    assert_eq!(rows[0].target_id.as_deref(), Some(asked.review_id.as_str()));
}

#[tokio::test]
async fn a_rejection_is_access_denied_with_its_reason_and_an_unanswered_request_expires() {
    let hub = queue_hub().await;
    let bot = agent_of(&hub, DEV, "deploy-bot").await;
    let rev = access_token_of(&hub, REV).await;
    let details = deployment().to_string();

    let rejected = ask_ok(&hub, &bot, &[("authorization_details", &details)]).await;
    assert_eq!(show(&hub, &rev, &rejected.review_id).await.title, "Authorization for deployment");
    let resp = decide(&hub, &rev, &rejected.review_id, "reject", Some("not during the freeze")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let why = poll_refused(&hub, &bot, &rejected.auth_req_id, "access_denied").await;
    assert!(why.contains("not during the freeze"), "{why}");

    let unanswered = ask_ok(&hub, &bot, &[("authorization_details", &details), ("requested_expiry", "60")]).await;
    assert_eq!(unanswered.expires_in, 60);
    hub.clock.advance(Duration::from_secs(61));
    poll_refused(&hub, &bot, &unanswered.auth_req_id, "expired_token").await;
    // Too late to approve, too.
    assert_ne!(decide(&hub, &rev, &unanswered.review_id, "approve", None).await.status(), StatusCode::OK);
    poll_refused(&hub, &bot, &unanswered.auth_req_id, "expired_token").await;
    assert_eq!(show(&hub, &rev, &unanswered.review_id).await.status, ReviewStatus::Expired);
}

#[tokio::test]
async fn a_login_hint_names_the_one_reviewer_who_may_decide_and_only_the_asking_agent_redeems() {
    let hub = queue_hub().await;
    let bot = agent_of(&hub, DEV, "deploy-bot").await;
    let other_bot = agent_of(&hub, DEV2, "other-bot").await;
    let rev = access_token_of(&hub, REV).await;
    let rev2 = access_token_of(&hub, REV2).await;

    let asked = ask_ok(&hub, &bot, &[("authorization_details", &deployment().to_string()), ("login_hint", REV2)]).await;
    let seen = show(&hub, &rev, &asked.review_id).await;
    assert_eq!(seen.asked_of.as_ref().map(|a| a.name.as_str()), Some(REV2));
    assert!(!seen.may_decide, "another reviewer sees it, but may not decide it");
    let resp = decide(&hub, &rev, &asked.review_id, "approve", None).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let body: Value = resp.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains(REV2), "{body}");
    assert!(show(&hub, &rev2, &asked.review_id).await.may_decide);
    assert_eq!(decide(&hub, &rev2, &asked.review_id, "approve", None).await.status(), StatusCode::OK);

    // Another agent holding the auth_req_id gets nothing and uses nothing up.
    poll_refused(&hub, &other_bot, &asked.auth_req_id, "invalid_grant").await;
    // Without the agent's JWT the token endpoint does not know who polls.
    let resp = http()
        .post(hub.at("/oauth/token"))
        .form(&[("grant_type", GRANT_CIBA), ("auth_req_id", asked.auth_req_id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = poll(&hub, &bot, &asked.auth_req_id).await;
    assert_eq!(resp.status(), StatusCode::OK, "{}", resp.text().await.unwrap());
}

#[tokio::test]
async fn backchannel_requests_refuse_bad_input_with_the_standard_codes_and_queue_nothing() {
    let hub = queue_hub_with(&[("rhea", &[Role::Reviewer]), ("dora", &[Role::Developer, Role::Reviewer])]).await;
    let bot = agent_of(&hub, "dora", "deploy-bot").await;
    let dev = access_token_of(&hub, DEV).await;
    let rev = access_token_of(&hub, REV).await;
    let good = deployment().to_string();

    // Only a live agent JWT may ask.
    let resp = ask(&hub, None, &[("authorization_details", &good)]).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"], "invalid_client");
    let resp = ask(&hub, Some(&dev), &[("authorization_details", &good)]).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"], "unauthorized_client");

    let big = json!([{"type": "deployment", "blob": "x".repeat(5000)}]).to_string();
    let long_message = "m".repeat(MAX_BINDING_MESSAGE_CHARS + 1);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![], "invalid_authorization_details"),
        (vec![("authorization_details", "{not json")], "invalid_authorization_details"),
        (vec![("authorization_details", r#"{"type":"deployment"}"#)], "invalid_authorization_details"),
        (vec![("authorization_details", r#"[{"target":"api"}]"#)], "invalid_authorization_details"),
        (vec![("authorization_details", &big)], "invalid_authorization_details"),
        (vec![("authorization_details", &good), ("binding_message", &long_message)], "invalid_binding_message"),
        (vec![("authorization_details", &good), ("binding_message", "two\nlines")], "invalid_binding_message"),
        (vec![("authorization_details", &good), ("login_hint", "nobody")], "unknown_user_id"),
        // The agent's owner, and a person who is no reviewer, cannot be asked.
        (vec![("authorization_details", &good), ("login_hint", "dora")], "unknown_user_id"),
        (vec![("authorization_details", &good), ("login_hint", AUD)], "unknown_user_id"),
        (vec![("authorization_details", &good), ("scope", "credentials.mint")], "invalid_scope"),
        (vec![("authorization_details", &good), ("resource", "https://elsewhere.example/mcp")], "invalid_target"),
        (vec![("authorization_details", &good), ("client_notification_token", "ping")], "invalid_request"),
        (vec![("authorization_details", &good), ("id_token_hint", "x")], "invalid_request"),
        (vec![("authorization_details", &good), ("requested_expiry", "soon")], "invalid_request"),
        (vec![("authorization_details", &good), ("threshold", "0")], "invalid_request"),
        (vec![("authorization_details", &good), ("authorization_details", &good)], "invalid_request"),
    ];
    for (form, code) in cases {
        let resp = ask(&hub, Some(&bot), &form).await;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some(code)), "{form:?}: {body}");
        assert!(!body["error_description"].as_str().unwrap_or_default().is_empty(), "{body}");
    }
    assert!(list(&hub, &rev, "status=pending").await.items.is_empty(), "a refused request queues nothing");

    // The kind is the backchannel's own: an ordinary submission may not pass for one.
    let resp = submit(&hub, &dev, json!({"title": "looks minted", "kind": "authorization"})).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // A well-formed request with a hint and a scope of the agent's own goes through.
    let ok = ask_ok(
        &hub,
        &bot,
        &[("authorization_details", &good), ("login_hint", "rhea"), ("scope", "openid reviews.read")],
    )
    .await;
    let rhea = access_token_of(&hub, "rhea").await;
    assert_eq!(decide(&hub, &rhea, &ok.review_id, "approve", None).await.status(), StatusCode::OK);
    let token: ApprovalToken = poll(&hub, &bot, &ok.auth_req_id).await.json().await.unwrap();
    assert_eq!(token.scope.as_deref(), Some("reviews.read"));
}

#[tokio::test]
async fn concurrent_polls_of_one_approval_get_exactly_one_token() {
    let hub = queue_hub().await;
    let bot = agent_of(&hub, DEV, "deploy-bot").await;
    let rev = access_token_of(&hub, REV).await;
    let asked = ask_ok(&hub, &bot, &[("authorization_details", &deployment().to_string())]).await;
    assert_eq!(decide(&hub, &rev, &asked.review_id, "approve", None).await.status(), StatusCode::OK);
    let polls = (0..20).map(|_| poll(&hub, &bot, &asked.auth_req_id));
    let answers = futures_util::future::join_all(polls).await;
    let mut issued = 0;
    for resp in answers {
        match resp.status() {
            StatusCode::OK => issued += 1,
            StatusCode::BAD_REQUEST => {
                let body: Value = resp.json().await.unwrap();
                let code = body["error"].as_str().unwrap_or_default().to_owned();
                assert!(code == "invalid_grant" || code == "slow_down", "{body}");
            }
            other => panic!("a poll answered {other}"),
        }
    }
    assert_eq!(issued, 1, "one approval, one token");
}
