//! The approval queue over HTTP: submitting, seeing and cancelling by role, pagination, limits,
//! agents and service accounts as submitters; the helpers the other `reviews_*` files share.

use std::collections::HashSet;

use keyway_api::Role;
use keyway_api::auth::{AuditEntry, Page, PrincipalKind};
use keyway_api::reviews::{MAX_PAYLOAD_BYTES, ReviewRequest, ReviewStatus, Verdict};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

pub(crate) const DEV: &str = "dana";
pub(crate) const DEV2: &str = "dmitri";
pub(crate) const REV: &str = "rita";
pub(crate) const REV2: &str = "rob";
pub(crate) const AUD: &str = "audrey";
pub(crate) const ADM: &str = "adam";
/// A developer who is also a reviewer.
pub(crate) const BOTH: &str = "bea";

pub(crate) async fn queue_hub() -> TestHub {
    queue_hub_with(&[]).await
}

pub(crate) async fn queue_hub_with(extra: &[(&str, &[Role])]) -> TestHub {
    let mut users: Vec<(&str, &[Role])> = vec![
        (DEV, &[Role::Developer]),
        (DEV2, &[Role::Developer]),
        (REV, &[Role::Reviewer]),
        (REV2, &[Role::Reviewer]),
        (AUD, &[Role::Auditor]),
        (ADM, &[Role::Admin]),
        (BOTH, &[Role::Developer, Role::Reviewer]),
    ];
    users.extend_from_slice(extra);
    TestHub::start_with_users(|_| {}, &users).await
}

pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::new()
}

pub(crate) async fn submit(hub: &TestHub, token: &str, body: Value) -> reqwest::Response {
    http().post(hub.at("/api/reviews")).bearer_auth(token).json(&body).send().await.unwrap()
}

pub(crate) async fn submit_ok(hub: &TestHub, token: &str, body: Value) -> ReviewRequest {
    let resp = submit(hub, token, body).await;
    assert_eq!(resp.status(), StatusCode::CREATED, "{}", resp.text().await.unwrap());
    resp.json().await.unwrap()
}

pub(crate) async fn decide(
    hub: &TestHub,
    token: &str,
    id: &str,
    verdict: &str,
    reason: Option<&str>,
) -> reqwest::Response {
    let mut body = json!({ "verdict": verdict });
    if let Some(r) = reason {
        body["reason"] = json!(r);
    }
    http().post(hub.at(&format!("/api/reviews/{id}/decision"))).bearer_auth(token).json(&body).send().await.unwrap()
}

pub(crate) async fn get(hub: &TestHub, token: &str, path: &str) -> reqwest::Response {
    http().get(hub.at(path)).bearer_auth(token).send().await.unwrap()
}

pub(crate) async fn show(hub: &TestHub, token: &str, id: &str) -> ReviewRequest {
    let resp = get(hub, token, &format!("/api/reviews/{id}")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
}

pub(crate) async fn list(hub: &TestHub, token: &str, query: &str) -> Page<ReviewRequest> {
    let resp = get(hub, token, &format!("/api/reviews?{query}")).await;
    assert_eq!(resp.status(), StatusCode::OK, "{query}");
    resp.json().await.unwrap()
}

pub(crate) async fn audit(hub: &TestHub, token: &str, action: &str) -> Vec<AuditEntry> {
    let page: Page<AuditEntry> =
        get(hub, token, &format!("/api/audit?action={action}&limit=200")).await.json().await.unwrap();
    page.items
}

#[tokio::test]
async fn developers_submit_and_see_their_own_reviewers_decide_auditors_and_admins_only_read() {
    let hub = queue_hub().await;
    let dev = access_token_of(&hub, DEV).await;
    let dev2 = access_token_of(&hub, DEV2).await;
    let rev = access_token_of(&hub, REV).await;
    let aud = access_token_of(&hub, AUD).await;
    let adm = access_token_of(&hub, ADM).await;

    let r = submit_ok(
        &hub,
        &dev,
        json!({"title": "  Deploy api v2  ", "kind": "deployment", "payload": {"image": "api:2"},
               "links": [{"label": "PR", "url": "https://git.example/pr/1"}]}),
    )
    .await;
    assert_eq!(r.title, "Deploy api v2");
    assert_eq!(r.kind, "deployment");
    assert_eq!(r.status, ReviewStatus::Pending);
    assert_eq!(r.submitter.kind, PrincipalKind::User);
    assert_eq!(r.submitter.name, DEV);
    assert_eq!((r.threshold, r.approvals), (1, 0));
    assert_eq!(r.expires_at - r.created_at, 3600, "default TTL is one hour");
    assert_eq!(r.payload, Some(json!({"image": "api:2"})));

    // The submitter sees it; another developer neither lists nor reads it.
    assert_eq!(list(&hub, &dev, "").await.items.len(), 1);
    assert!(list(&hub, &dev2, "").await.items.is_empty());
    expect_error(get(&hub, &dev2, &format!("/api/reviews/{}", r.id)).await, StatusCode::NOT_FOUND, "not_found").await;
    // Reviewers, auditors and admins see everything; lists carry no payload.
    for token in [&rev, &aud, &adm] {
        let page = list(&hub, token, "status=pending").await;
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].payload, None);
        assert_eq!(show(&hub, token, &r.id).await.payload, Some(json!({"image": "api:2"})));
    }
    // Only reviewers decide.
    for token in [&aud, &adm, &dev, &dev2] {
        expect_error(decide(&hub, token, &r.id, "approve", None).await, StatusCode::FORBIDDEN, "role_required").await;
    }
    assert_eq!(show(&hub, &aud, &r.id).await.status, ReviewStatus::Pending);
    let resp = decide(&hub, &rev, &r.id, "approve", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let decided: ReviewRequest = resp.json().await.unwrap();
    assert_eq!(decided.status, ReviewStatus::Approved);
    assert_eq!(decided.decisions.len(), 1);
    assert_eq!(decided.decisions[0].actor.as_ref().unwrap().name, REV);
    assert_eq!(decided.decisions[0].reason, None);
    // The auditor reads the decision; the submitter sees the outcome.
    let seen = show(&hub, &aud, &r.id).await;
    assert_eq!(seen.status, ReviewStatus::Approved);
    assert!(seen.decided_at.is_some());
    assert_eq!(list(&hub, &dev, "status=approved").await.items.len(), 1);
    assert!(list(&hub, &dev, "status=pending").await.items.is_empty());

    // Both transitions are in the audit log.
    let submits = audit(&hub, &adm, "review.submit").await;
    assert_eq!(submits.len(), 1);
    assert_eq!(submits[0].actor_name.as_deref(), Some(DEV));
    assert_eq!(submits[0].target_id.as_deref(), Some(r.id.as_str()));
    let decides = audit(&hub, &aud, "review.decide").await;
    assert_eq!(decides.len(), 1);
    assert_eq!(decides[0].actor_name.as_deref(), Some(REV));
    assert_eq!(decides[0].detail["status"], "approved");

    // Without a token nothing is served.
    let resp = http().get(hub.at("/api/reviews")).send().await.unwrap();
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn only_the_submitter_cancels_and_only_while_pending() {
    let hub = queue_hub().await;
    let dev = access_token_of(&hub, DEV).await;
    let dev2 = access_token_of(&hub, DEV2).await;
    let rev = access_token_of(&hub, REV).await;
    let adm = access_token_of(&hub, ADM).await;
    let r = submit_ok(&hub, &dev, json!({"title": "Maybe later"})).await;
    let cancel = |token: String, id: String| {
        let url = hub.at(&format!("/api/reviews/{id}/cancel"));
        async move { http().post(url).bearer_auth(token).send().await.unwrap() }
    };
    // A reviewer submits nothing, so cancels nothing; one who also submits sees it is not theirs.
    expect_error(cancel(rev.clone(), r.id.clone()).await, StatusCode::FORBIDDEN, "role_required").await;
    let both = access_token_of(&hub, BOTH).await;
    let body = expect_error(cancel(both, r.id.clone()).await, StatusCode::FORBIDDEN, "access_denied").await;
    assert!(body.message.contains(DEV), "{}", body.message);
    expect_error(cancel(dev2.clone(), r.id.clone()).await, StatusCode::NOT_FOUND, "not_found").await;
    let resp = cancel(dev.clone(), r.id.clone()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let cancelled: ReviewRequest = resp.json().await.unwrap();
    assert_eq!(cancelled.status, ReviewStatus::Cancelled);
    assert_eq!(cancelled.decisions[0].verdict, Verdict::Cancel);
    let body = expect_error(cancel(dev.clone(), r.id.clone()).await, StatusCode::CONFLICT, "conflict").await;
    assert!(body.message.contains("cancelled"), "{}", body.message);
    let body = expect_error(decide(&hub, &rev, &r.id, "approve", None).await, StatusCode::CONFLICT, "conflict").await;
    assert!(body.message.contains("cancelled"), "{}", body.message);
    // Decided requests cannot be cancelled either.
    let r2 = submit_ok(&hub, &dev, json!({"title": "Quick one"})).await;
    assert_eq!(decide(&hub, &rev, &r2.id, "approve", None).await.status(), StatusCode::OK);
    let body = expect_error(cancel(dev.clone(), r2.id.clone()).await, StatusCode::CONFLICT, "conflict").await;
    assert!(body.message.contains("approved by rita"), "{}", body.message);
    assert_eq!(audit(&hub, &adm, "review.cancel").await.len(), 1);
}

#[tokio::test]
async fn pages_are_stable_under_inserts_and_filters_combine() {
    let hub = queue_hub().await;
    let dev = access_token_of(&hub, DEV).await;
    let dev2 = access_token_of(&hub, DEV2).await;
    let rev = access_token_of(&hub, REV).await;
    let mut submitted = Vec::new();
    for i in 0..25 {
        let (token, kind) = if i % 5 == 0 { (&dev2, "deployment") } else { (&dev, "guardrail_output") };
        submitted.push(submit_ok(&hub, token, json!({"title": format!("request {i}"), "kind": kind})).await.id);
    }
    let page1 = list(&hub, &rev, "limit=10").await;
    assert_eq!(page1.items.len(), 10);
    let newest: Vec<_> = submitted.iter().rev().take(10).cloned().collect();
    assert_eq!(page1.items.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), newest, "newest first");
    // New requests arrive between pages: they do not shift the pages already being read.
    for i in 0..5 {
        submit_ok(&hub, &dev, json!({"title": format!("late {i}")})).await;
    }
    let mut seen: Vec<String> = page1.items.iter().map(|r| r.id.clone()).collect();
    let mut cursor = page1.next.clone().expect("a next page");
    loop {
        let page = list(&hub, &rev, &format!("limit=10&cursor={cursor}")).await;
        seen.extend(page.items.iter().map(|r| r.id.clone()));
        match page.next {
            Some(next) => cursor = next,
            None => break,
        }
    }
    let expected: Vec<String> = submitted.iter().rev().cloned().collect();
    assert_eq!(seen, expected, "every request exactly once, in order");
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), 25);

    // Filters.
    assert_eq!(list(&hub, &rev, "kind=deployment&limit=200").await.items.len(), 5);
    assert_eq!(list(&hub, &rev, &format!("submitter={DEV2}")).await.items.len(), 5);
    assert_eq!(list(&hub, &dev, "mine=true&limit=200").await.items.len(), 25);
    // Filters compose with the own-only rule (submitter id or name, both accepted).
    assert_eq!(list(&hub, &rev, &format!("submitter={DEV}&status=pending&limit=200")).await.items.len(), 25);
    let dana_id = list(&hub, &dev, "limit=1").await.items[0].submitter.id.clone();
    assert_eq!(list(&hub, &rev, &format!("submitter={dana_id}&mine=false&limit=200")).await.items.len(), 25);
    assert!(list(&hub, &dev2, &format!("submitter={DEV}")).await.items.is_empty());
    assert_eq!(
        list(&hub, &dev, &format!("submitter={DEV}&mine=true&kind=guardrail_output&limit=200")).await.items.len(),
        20
    );
    assert!(list(&hub, &rev, "mine=true").await.items.is_empty());
    assert_eq!(list(&hub, &dev2, "limit=200").await.items.len(), 5, "developers see only their own");
    assert!(list(&hub, &rev, "status=approved").await.items.is_empty());
    // The history: only final requests, whatever their status.
    assert!(list(&hub, &rev, "decided=true").await.items.is_empty());
    assert_eq!(decide(&hub, &rev, &submitted[3], "approve", None).await.status(), StatusCode::OK);
    assert_eq!(decide(&hub, &rev, &submitted[7], "reject", Some("no")).await.status(), StatusCode::OK);
    let history = list(&hub, &rev, "decided=true&limit=200").await.items;
    assert_eq!(
        history.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        vec![submitted[7].clone(), submitted[3].clone()],
        "newest first, nothing pending"
    );
    assert_eq!(list(&hub, &rev, "decided=false&limit=200").await.items.len(), 30, "false means no filter");
    for bad in ["cursor=abc", "status=maybe", "limit=-3", "mine=perhaps", "decided=sometimes"] {
        expect_error(get(&hub, &rev, &format!("/api/reviews?{bad}")).await, StatusCode::BAD_REQUEST, "invalid_request")
            .await;
    }
}

#[tokio::test]
async fn payload_and_fields_are_bounded_with_clear_errors() {
    let hub = queue_hub().await;
    let dev = access_token_of(&hub, DEV).await;
    // A JSON string of n characters encodes as n + 2 bytes.
    let at_limit = "a".repeat(MAX_PAYLOAD_BYTES - 2);
    let r = submit_ok(&hub, &dev, json!({"title": "big", "content_type": "text", "payload": at_limit})).await;
    assert_eq!(r.payload.as_ref().and_then(Value::as_str).map(str::len), Some(MAX_PAYLOAD_BYTES - 2));
    let over = "a".repeat(MAX_PAYLOAD_BYTES - 1);
    let resp = submit(&hub, &dev, json!({"title": "too big", "content_type": "text", "payload": over})).await;
    let body = expect_error(resp, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    assert!(body.message.contains("262145 bytes") && body.message.contains("262144 bytes"), "{}", body.message);
    // Far beyond the limit: the same clear answer.
    let huge = "a".repeat(2 * 1024 * 1024);
    let resp = submit(&hub, &dev, json!({"title": "huge", "payload": huge})).await;
    let body = expect_error(resp, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    assert!(body.message.contains("262144 bytes"), "{}", body.message);

    let cases: &[(Value, &str)] = &[
        (json!({"title": ""}), "title is required"),
        (json!({"title": "   "}), "title is required"),
        (json!({"title": "a".repeat(201)}), "201 characters"),
        (json!({"title": "two\nlines"}), "one line"),
        (json!({"title": "x", "kind": "Bad Kind"}), "Kind"),
        (json!({"title": "x", "content_type": "diff", "payload": {"a": 1}}), "json string"),
        (json!({"title": "x", "links": [{"label": "evil", "url": "javascript:alert(1)"}]}), "http(s) URL"),
        (json!({"title": "x", "links": [{"label": "", "url": "https://a.example"}]}), "label"),
    ];
    for (body, expect) in cases {
        let err =
            expect_error(submit(&hub, &dev, body.clone()).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
                .await;
        assert!(err.message.contains(expect), "{body}: {}", err.message);
    }
    expect_error(submit(&hub, &dev, json!({"kind": "x"})).await, StatusCode::BAD_REQUEST, "invalid_request").await;
    let resp = http().post(hub.at("/api/reviews")).bearer_auth(&dev).body("title=x").send().await.unwrap();
    expect_error(resp, StatusCode::BAD_REQUEST, "invalid_request").await;
    // Nothing but the one valid request was stored.
    assert_eq!(list(&hub, &dev, "").await.items.len(), 1);
}

/// A JWT from `/auth/exchange` (or the service-account endpoint with `basic`).
pub(crate) async fn exchanged(hub: &TestHub, path: &str, auth: (&str, &str), class: &str) -> String {
    let resp = http()
        .post(hub.at(path))
        .header("authorization", format!("{} {}", auth.0, auth.1))
        .json(&json!({"requested_token_class": class}))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{path} as {class}: {body}");
    body["access_token"].as_str().unwrap().to_owned()
}

pub(crate) async fn created(resp: reqwest::Response) -> Value {
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

#[tokio::test]
async fn agents_and_service_accounts_submit_owners_see_it_and_they_never_decide() {
    let hub = queue_hub().await;
    let dev = access_token_of(&hub, DEV).await;
    let dev2 = access_token_of(&hub, DEV2).await;
    let rev = access_token_of(&hub, REV).await;

    // dana mints an agent PAT for ci-bot that may only submit and read reviews.
    let admin = exchanged(&hub, "/auth/exchange", ("Bearer", &dev), "user_admin").await;
    let minted = created(
        http()
            .post(hub.at("/api/credentials"))
            .bearer_auth(&admin)
            .json(&json!({"agent": "ci-bot", "create_agent": true, "scopes": ["reviews.submit", "reviews.read"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let pat = minted["secret"].as_str().unwrap();
    let bot = exchanged(&hub, "/auth/exchange", ("Bearer", pat), "agent_access").await;

    let r = submit_ok(&hub, &bot, json!({"title": "ship it?", "kind": "deployment"})).await;
    assert_eq!(r.submitter.kind, PrincipalKind::Agent);
    assert_eq!(r.submitter.name, "ci-bot");
    // Its owner sees it as hers; another developer does not; reviewers see the queue.
    assert!(list(&hub, &dev, "mine=true").await.items.iter().any(|x| x.id == r.id));
    assert!(!list(&hub, &dev2, "limit=200").await.items.iter().any(|x| x.id == r.id));
    assert!(list(&hub, &rev, "status=pending").await.items.iter().any(|x| x.id == r.id));
    // An agent never decides, not even another's request.
    let other = submit_ok(&hub, &dev2, json!({"title": "not the bot's"})).await;
    for id in [&r.id, &other.id] {
        let resp = decide(&hub, &bot, id, "approve", None).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    }
    // The reviewer decides; the agent reads the outcome of its request.
    assert_eq!(decide(&hub, &rev, &r.id, "approve", None).await.status(), StatusCode::OK);
    assert_eq!(show(&hub, &bot, &r.id).await.status, ReviewStatus::Approved);
    // A PAT without reviews.submit cannot submit.
    let narrow = created(
        http()
            .post(hub.at("/api/credentials"))
            .bearer_auth(&admin)
            .json(&json!({"agent": "reader-bot", "create_agent": true, "scopes": ["reviews.read"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let reader =
        exchanged(&hub, "/auth/exchange", ("Bearer", narrow["secret"].as_str().unwrap()), "agent_access").await;
    expect_error(submit(&hub, &reader, json!({"title": "nope"})).await, StatusCode::FORBIDDEN, "insufficient_scope")
        .await;

    // A service account (created by the admin) submits under its own name.
    let adm = access_token_of(&hub, ADM).await;
    let adm_admin = exchanged(&hub, "/auth/exchange", ("Bearer", &adm), "user_admin").await;
    let sa = created(
        http()
            .post(hub.at("/api/service-accounts"))
            .bearer_auth(&adm_admin)
            .json(&json!({"name": "nightly", "group": "developer"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("nightly:{}", sa["secret"].as_str().unwrap()));
    let svc = exchanged(&hub, "/auth/service-account/token", ("Basic", &basic), "service_access").await;
    let s = submit_ok(&hub, &svc, json!({"title": "nightly report"})).await;
    assert_eq!(s.submitter.kind, PrincipalKind::ServiceAccount);
    assert_eq!(s.submitter.name, "nightly");
    let resp = decide(&hub, &svc, &other.id, "approve", None).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN, "a service account decided");
}
