//! The approval queue over HTTP: roles, rules, expiry with the hub's clock, cancel, pagination,
//! limits, concurrent decisions, live events and waiters.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use keyway_api::Role;
use keyway_api::auth::{AuditEntry, Page, PrincipalKind};
use keyway_api::reviews::{MAX_PAYLOAD_BYTES, ReviewEvent, ReviewRequest, ReviewSettings, ReviewStatus, Verdict};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

const DEV: &str = "dana";
const DEV2: &str = "dmitri";
const REV: &str = "rita";
const REV2: &str = "rob";
const AUD: &str = "audrey";
const ADM: &str = "adam";
/// A developer who is also a reviewer.
const BOTH: &str = "bea";

async fn queue_hub() -> TestHub {
    queue_hub_with(&[]).await
}

async fn queue_hub_with(extra: &[(&str, &[Role])]) -> TestHub {
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

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

async fn submit(hub: &TestHub, token: &str, body: Value) -> reqwest::Response {
    http().post(hub.at("/api/reviews")).bearer_auth(token).json(&body).send().await.unwrap()
}

async fn submit_ok(hub: &TestHub, token: &str, body: Value) -> ReviewRequest {
    let resp = submit(hub, token, body).await;
    assert_eq!(resp.status(), StatusCode::CREATED, "{}", resp.text().await.unwrap());
    resp.json().await.unwrap()
}

async fn decide(hub: &TestHub, token: &str, id: &str, verdict: &str, reason: Option<&str>) -> reqwest::Response {
    let mut body = json!({ "verdict": verdict });
    if let Some(r) = reason {
        body["reason"] = json!(r);
    }
    http().post(hub.at(&format!("/api/reviews/{id}/decision"))).bearer_auth(token).json(&body).send().await.unwrap()
}

async fn get(hub: &TestHub, token: &str, path: &str) -> reqwest::Response {
    http().get(hub.at(path)).bearer_auth(token).send().await.unwrap()
}

async fn show(hub: &TestHub, token: &str, id: &str) -> ReviewRequest {
    let resp = get(hub, token, &format!("/api/reviews/{id}")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
}

async fn list(hub: &TestHub, token: &str, query: &str) -> Page<ReviewRequest> {
    let resp = get(hub, token, &format!("/api/reviews?{query}")).await;
    assert_eq!(resp.status(), StatusCode::OK, "{query}");
    resp.json().await.unwrap()
}

async fn audit(hub: &TestHub, token: &str, action: &str) -> Vec<AuditEntry> {
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
async fn a_rejection_needs_a_reason_and_decides_alone() {
    let hub = queue_hub().await;
    let dev = access_token_of(&hub, DEV).await;
    let rev = access_token_of(&hub, REV).await;
    let rev2 = access_token_of(&hub, REV2).await;
    let r = submit_ok(&hub, &dev, json!({"title": "Drop table", "threshold": 2})).await;

    for reason in [None, Some(""), Some("   ")] {
        let body = expect_error(
            decide(&hub, &rev, &r.id, "reject", reason).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert!(body.message.contains("reason is required"), "{}", body.message);
    }
    let long = "x".repeat(2001);
    expect_error(
        decide(&hub, &rev, &r.id, "reject", Some(&long)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    expect_error(
        decide(&hub, &rev, &r.id, "expire", None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    expect_error(decide(&hub, &rev, &r.id, "maybe", None).await, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert_eq!(show(&hub, &rev, &r.id).await.decisions.len(), 0, "refused votes leave no trace");

    // One rejection decides, even with threshold 2.
    let resp = decide(&hub, &rev, &r.id, "reject", Some("  no backup first  ")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let rejected: ReviewRequest = resp.json().await.unwrap();
    assert_eq!(rejected.status, ReviewStatus::Rejected);
    assert_eq!(rejected.decisions[0].verdict, Verdict::Reject);
    assert_eq!(rejected.decisions[0].reason.as_deref(), Some("no backup first"));
    let body = expect_error(decide(&hub, &rev2, &r.id, "approve", None).await, StatusCode::CONFLICT, "conflict").await;
    assert!(body.message.contains("Already decided") && body.message.contains(REV), "{}", body.message);
    assert!(body.message.contains("no backup first"), "{}", body.message);
    expect_error(decide(&hub, &rev, "nope", "approve", None).await, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn nobody_decides_their_own_request() {
    let hub = queue_hub().await;
    let both = access_token_of(&hub, BOTH).await;
    let adm = access_token_of(&hub, ADM).await;
    let r = submit_ok(&hub, &both, json!({"title": "My own change"})).await;
    for verdict in [("approve", None), ("reject", Some("changed my mind"))] {
        let body = expect_error(
            decide(&hub, &both, &r.id, verdict.0, verdict.1).await,
            StatusCode::FORBIDDEN,
            "access_denied",
        )
        .await;
        assert!(body.message.contains("another reviewer"), "{}", body.message);
    }
    let now = show(&hub, &both, &r.id).await;
    assert_eq!((now.status, now.decisions.len()), (ReviewStatus::Pending, 0));
    // The refusal is audited.
    let refused = audit(&hub, &adm, "review.decide").await;
    assert_eq!(refused.len(), 2);
    assert!(refused.iter().all(|e| e.outcome == "access_denied"));
}

#[tokio::test]
async fn threshold_two_needs_two_distinct_reviewers() {
    let hub = queue_hub().await;
    let dev = access_token_of(&hub, DEV).await;
    let rev = access_token_of(&hub, REV).await;
    let rev2 = access_token_of(&hub, REV2).await;
    let r = submit_ok(&hub, &dev, json!({"title": "Two keys", "threshold": 2})).await;
    let first: ReviewRequest = decide(&hub, &rev, &r.id, "approve", Some("looks fine")).await.json().await.unwrap();
    assert_eq!((first.status, first.approvals), (ReviewStatus::Pending, 1));
    let body = expect_error(decide(&hub, &rev, &r.id, "approve", None).await, StatusCode::CONFLICT, "conflict").await;
    assert!(body.message.contains("already voted") && body.message.contains("1 more"), "{}", body.message);
    assert_eq!(show(&hub, &dev, &r.id).await.status, ReviewStatus::Pending);
    let second: ReviewRequest = decide(&hub, &rev2, &r.id, "approve", None).await.json().await.unwrap();
    assert_eq!((second.status, second.approvals), (ReviewStatus::Approved, 2));
    let names: Vec<_> = second.decisions.iter().map(|d| d.actor.clone().unwrap().name).collect();
    assert_eq!(names, [REV, REV2]);
    for (t, bad) in [(0, "0"), (21, "21")] {
        let body = expect_error(
            submit(&hub, &dev, json!({"title": "x", "threshold": t})).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert!(body.message.contains(bad), "{}", body.message);
    }
}

#[tokio::test]
async fn a_request_past_its_ttl_expires_exactly_and_is_recorded() {
    let hub = queue_hub().await;
    let dev = access_token_of(&hub, DEV).await;
    let rev = access_token_of(&hub, REV).await;
    let aud = access_token_of(&hub, AUD).await;
    let adm = access_token_of(&hub, ADM).await;
    let r = submit_ok(&hub, &dev, json!({"title": "Short-lived", "ttl_secs": 60})).await;
    let other = submit_ok(&hub, &dev, json!({"title": "Long-lived", "ttl_secs": 600})).await;
    hub.clock.advance(Duration::from_secs(59));
    assert_eq!(show(&hub, &dev, &r.id).await.status, ReviewStatus::Pending);
    hub.clock.advance(Duration::from_secs(1));
    // Read right at the TTL: expired, whether or not the sweeper has run yet.
    let expired = show(&hub, &aud, &r.id).await;
    assert_eq!(expired.status, ReviewStatus::Expired);
    assert_eq!(expired.decided_at, Some(r.expires_at));
    assert_eq!(expired.decisions.len(), 1);
    assert_eq!(expired.decisions[0].verdict, Verdict::Expire);
    assert_eq!(expired.decisions[0].actor, None);
    let body = expect_error(decide(&hub, &rev, &r.id, "approve", None).await, StatusCode::CONFLICT, "conflict").await;
    assert!(body.message.contains("expired"), "{}", body.message);
    assert_eq!(show(&hub, &dev, &other.id).await.status, ReviewStatus::Pending);
    assert_eq!(list(&hub, &rev, "status=expired").await.items.len(), 1);
    assert_eq!(list(&hub, &rev, "status=pending").await.items.len(), 1);
    let events = audit(&hub, &adm, "review.expire").await;
    assert_eq!(events.len(), 1, "expired once, recorded once: {events:?}");
    assert_eq!(events[0].actor_kind, "hub");

    // A decision racing the TTL is refused and expires the request itself.
    let racing = submit_ok(&hub, &dev, json!({"title": "Racing", "ttl_secs": 30})).await;
    hub.clock.advance(Duration::from_secs(30));
    let body =
        expect_error(decide(&hub, &rev, &racing.id, "approve", None).await, StatusCode::CONFLICT, "conflict").await;
    assert!(body.message.contains("expired"), "{}", body.message);
    assert_eq!(show(&hub, &dev, &racing.id).await.status, ReviewStatus::Expired);
}

#[tokio::test]
async fn admins_set_ttl_limits_and_submitters_are_held_to_them() {
    let hub = queue_hub().await;
    let dev = access_token_of(&hub, DEV).await;
    let adm = access_token_of(&hub, ADM).await;
    let current: ReviewSettings = get(&hub, &dev, "/api/settings/reviews").await.json().await.unwrap();
    assert_eq!(current, ReviewSettings { default_ttl_secs: 3600, max_ttl_secs: 86400 });
    let body = expect_error(
        submit(&hub, &dev, json!({"title": "x", "ttl_secs": 86401})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(body.message.contains("86400"), "{}", body.message);
    expect_error(
        submit(&hub, &dev, json!({"title": "x", "ttl_secs": 0})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    let put = |token: String, body: Value| {
        let url = hub.at("/api/settings/reviews");
        async move { http().put(url).bearer_auth(token).json(&body).send().await.unwrap() }
    };
    // A sign-in's access token is not enough to manage: admin_required; a user_admin JWT of a
    // non-admin: role_required.
    expect_error(
        put(adm.clone(), json!({"default_ttl_secs": 60, "max_ttl_secs": 120})).await,
        StatusCode::FORBIDDEN,
        "admin_required",
    )
    .await;
    let dev_admin = exchanged(&hub, "/auth/exchange", ("Bearer", &dev), "user_admin").await;
    expect_error(
        put(dev_admin, json!({"default_ttl_secs": 60, "max_ttl_secs": 120})).await,
        StatusCode::FORBIDDEN,
        "role_required",
    )
    .await;
    let adm_access = adm.clone();
    let adm = exchanged(&hub, "/auth/exchange", ("Bearer", &adm), "user_admin").await;
    for bad in [
        json!({"default_ttl_secs": 600, "max_ttl_secs": 120}),
        json!({"default_ttl_secs": 0, "max_ttl_secs": 120}),
        json!({"default_ttl_secs": 60, "max_ttl_secs": 31 * 86400}),
    ] {
        expect_error(put(adm.clone(), bad).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
    let resp = put(adm.clone(), json!({"default_ttl_secs": 60, "max_ttl_secs": 120})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let r = submit_ok(&hub, &dev, json!({"title": "default ttl"})).await;
    assert_eq!(r.expires_at - r.created_at, 60);
    expect_error(
        submit(&hub, &dev, json!({"title": "x", "ttl_secs": 121})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(audit(&hub, &adm_access, "review.settings").await.len(), 1);
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
    let body = expect_error(cancel(rev.clone(), r.id.clone()).await, StatusCode::FORBIDDEN, "access_denied").await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_decisions_produce_exactly_one_outcome() {
    let reviewers = ["r1", "r2", "r3", "r4"];
    let extra: Vec<(&str, &[Role])> = reviewers.iter().map(|r| (*r, &[Role::Reviewer][..])).collect();
    let hub = queue_hub_with(&extra).await;
    let dev = access_token_of(&hub, DEV).await;
    let aud = access_token_of(&hub, AUD).await;
    let mut tokens = Vec::new();
    for r in reviewers {
        tokens.push(access_token_of(&hub, r).await);
    }

    for threshold in [1u32, 2] {
        let r = submit_ok(&hub, &dev, json!({"title": format!("race {threshold}"), "threshold": threshold})).await;
        let mut tasks = Vec::new();
        for i in 0..200 {
            let token = tokens[i % tokens.len()].clone();
            let url = hub.at(&format!("/api/reviews/{}/decision", r.id));
            tasks.push(tokio::spawn(async move {
                let resp =
                    http().post(url).bearer_auth(token).json(&json!({"verdict": "approve"})).send().await.unwrap();
                let status = resp.status();
                (status, resp.text().await.unwrap())
            }));
        }
        let mut ok = Vec::new();
        let mut conflicts = Vec::new();
        for t in tasks {
            let (status, text) = t.await.unwrap();
            match status {
                StatusCode::OK => ok.push(serde_json::from_str::<ReviewRequest>(&text).unwrap()),
                StatusCode::CONFLICT => conflicts.push(serde_json::from_str::<keyway_api::ErrorBody>(&text).unwrap()),
                other => panic!("unexpected {other}: {text}"),
            }
        }
        assert_eq!(ok.len(), threshold as usize, "one accepted vote per needed approval");
        assert_eq!(conflicts.len(), 200 - threshold as usize);
        assert_eq!(ok.iter().filter(|r| r.status == ReviewStatus::Approved).count(), 1, "exactly one decided it");
        assert!(conflicts.iter().all(|c| c.error == "conflict"));
        if threshold == 1 {
            let decider = ok[0].decisions[0].actor.clone().unwrap().name;
            for c in &conflicts {
                assert!(c.message.contains("Already decided") && c.message.contains(&decider), "{}", c.message);
            }
        }
        let final_state = show(&hub, &aud, &r.id).await;
        assert_eq!(final_state.status, ReviewStatus::Approved);
        assert_eq!(final_state.approvals, threshold);
        assert_eq!(final_state.decisions.len(), threshold as usize, "no lost or duplicated decisions");
        let voters: HashSet<_> = final_state.decisions.iter().map(|d| d.actor.clone().unwrap().id).collect();
        assert_eq!(voters.len(), threshold as usize, "distinct reviewers");
        let audited = audit(&hub, &aud, "review.decide").await;
        assert_eq!(
            audited.iter().filter(|e| e.target_id.as_deref() == Some(r.id.as_str())).count(),
            threshold as usize
        );
    }
}

/// A minimal `text/event-stream` reader.
struct Sse {
    resp: reqwest::Response,
    buf: String,
}

impl Sse {
    async fn open(hub: &TestHub, token: &str) -> Sse {
        Sse::open_after(hub, token, None).await
    }

    async fn open_after(hub: &TestHub, token: &str, last_event_id: Option<&str>) -> Sse {
        let mut req = http().get(hub.at("/api/reviews/events")).bearer_auth(token);
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        let mut sse = Sse { resp, buf: String::new() };
        // The hub greets every subscriber once it is registered.
        let first = sse.frame().await;
        assert!(first.starts_with(": subscribed"), "{first}");
        sse
    }

    /// The next frame (bounded wait).
    async fn frame(&mut self) -> String {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                if let Some(end) = self.buf.find("\n\n") {
                    let frame = self.buf[..end].to_owned();
                    self.buf.drain(..end + 2);
                    if frame.trim().is_empty() || frame.trim() == ":" {
                        continue;
                    }
                    return frame;
                }
                let chunk = self.resp.chunk().await.unwrap().expect("the stream ended");
                self.buf.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await
        .expect("an event within 10 s")
    }

    /// The next review event, with its SSE event name.
    async fn event(&mut self) -> (String, ReviewEvent) {
        let (name, _, event) = self.event_with_id().await;
        (name, event)
    }

    /// The next event: (name, id, event); a `resync` has no review event.
    async fn raw_event(&mut self) -> (String, String, String) {
        loop {
            let frame = self.frame().await;
            if frame.starts_with(':') {
                continue;
            }
            let field = |name: &str| -> String {
                frame.lines().filter_map(|l| l.strip_prefix(name)).collect::<Vec<_>>().join("")
            };
            return (field("event: "), field("id: "), field("data: "));
        }
    }

    async fn event_with_id(&mut self) -> (String, String, ReviewEvent) {
        let (name, id, data) = self.raw_event().await;
        (name, id, serde_json::from_str(&data).unwrap_or_else(|e| panic!("{e}: {data}")))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_subscriber_is_told_live_and_only_about_what_it_may_see() {
    let hub = queue_hub().await;
    let dev = access_token_of(&hub, DEV).await;
    let dev2 = access_token_of(&hub, DEV2).await;
    let rev = access_token_of(&hub, REV).await;
    let aud = access_token_of(&hub, AUD).await;
    let mut reviewer = Sse::open(&hub, &rev).await;
    let mut auditor = Sse::open(&hub, &aud).await;
    let mut other_dev = Sse::open(&hub, &dev2).await;

    let r = submit_ok(&hub, &dev, json!({"title": "Live one", "payload": {"secret": "not in events"}})).await;
    for sub in [&mut reviewer, &mut auditor] {
        let (name, event) = sub.event().await;
        assert_eq!(name, "created");
        assert!(matches!(&event, ReviewEvent::Created { request } if request.id == r.id && request.payload.is_none()));
    }
    let resp = decide(&hub, &rev, &r.id, "approve", Some("ship it")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    for sub in [&mut reviewer, &mut auditor] {
        let (name, event) = sub.event().await;
        assert_eq!(name, "decided");
        let ReviewEvent::Decided { request } = event else { panic!("{event:?}") };
        assert_eq!((request.id.as_str(), request.status), (r.id.as_str(), ReviewStatus::Approved));
        assert_eq!(request.decisions[0].reason.as_deref(), Some("ship it"));
    }
    // The other developer saw none of that; its own request is the first thing it hears about.
    let mine = submit_ok(&hub, &dev2, json!({"title": "Mine"})).await;
    let (name, event) = other_dev.event().await;
    assert_eq!(name, "created");
    assert_eq!(event.request().id, mine.id);
    // Cancel and expiry reach subscribers too.
    let cancel =
        http().post(hub.at(&format!("/api/reviews/{}/cancel", mine.id))).bearer_auth(&dev2).send().await.unwrap();
    assert_eq!(cancel.status(), StatusCode::OK);
    for sub in [&mut other_dev, &mut reviewer] {
        let (name, event) = sub.event().await;
        if name == "created" {
            // The reviewer also heard of the creation.
            let (name, event) = sub.event().await;
            assert_eq!((name.as_str(), event.request().id.as_str()), ("cancelled", mine.id.as_str()));
        } else {
            assert_eq!((name.as_str(), event.request().id.as_str()), ("cancelled", mine.id.as_str()));
        }
    }
    let short = submit_ok(&hub, &dev, json!({"title": "Short", "ttl_secs": 5})).await;
    let (name, _) = auditor.event().await; // created: Mine
    assert_eq!(name, "created");
    let (name, _) = auditor.event().await; // cancelled: Mine
    assert_eq!(name, "cancelled");
    let (name, _) = auditor.event().await; // created: Short
    assert_eq!(name, "created");
    hub.clock.advance(Duration::from_secs(5));
    // The sweeper notices without any request.
    let (name, event) = auditor.event().await;
    assert_eq!((name.as_str(), event.request().id.as_str()), ("expired", short.id.as_str()));
    assert_eq!(event.request().status, ReviewStatus::Expired);
}

/// Returns once a long-poll `waiter` on `id` is held by the hub: its request is under way
/// ([`keyway_test_support::under_way`]), the hub has since answered a later wait on the same request
/// (`timeout=0`: the same steps, subscribe then read, without the wait), and the waiter has
/// still not returned. The hub shows no count of its waiters, so this is what HTTP can observe.
async fn held<T>(
    hub: &TestHub,
    token: &str,
    id: &str,
    sending: tokio::sync::oneshot::Receiver<()>,
    waiter: &tokio::task::JoinHandle<T>,
) {
    tokio::time::timeout(Duration::from_secs(10), sending).await.expect("the waiter sent its request").unwrap();
    let probe: ReviewRequest =
        get(hub, token, &format!("/api/reviews/{id}/wait?timeout=0")).await.json().await.unwrap();
    assert_eq!(probe.status, ReviewStatus::Pending);
    assert!(!waiter.is_finished(), "the waiter returned before anything happened");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_waiter_returns_as_soon_as_the_request_is_decided() {
    let hub = queue_hub().await;
    let dev = access_token_of(&hub, DEV).await;
    let rev = access_token_of(&hub, REV).await;
    let r = submit_ok(&hub, &dev, json!({"title": "Wait for me"})).await;

    // A short wait on a pending request answers it as it stands.
    let still: ReviewRequest =
        get(&hub, &dev, &format!("/api/reviews/{}/wait?timeout=1", r.id)).await.json().await.unwrap();
    assert_eq!(still.status, ReviewStatus::Pending);

    let url = hub.at(&format!("/api/reviews/{}/wait?timeout=60", r.id));
    let token = dev.clone();
    let (sent, sending) = tokio::sync::oneshot::channel();
    let waiter = tokio::spawn(async move {
        let resp = keyway_test_support::under_way(http().get(url).bearer_auth(token).send(), sent).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        (resp.json::<ReviewRequest>().await.unwrap(), Instant::now())
    });
    // The waiter gets its request in first (not required for correctness: a waiter that
    // arrives late answers at once).
    held(&hub, &dev, &r.id, sending, &waiter).await;
    let decided_at = Instant::now();
    assert_eq!(decide(&hub, &rev, &r.id, "reject", Some("not today")).await.status(), StatusCode::OK);
    let (got, returned_at) =
        tokio::time::timeout(Duration::from_secs(10), waiter).await.expect("waiter returned").unwrap();
    assert_eq!(got.status, ReviewStatus::Rejected);
    assert_eq!(got.decisions[0].reason.as_deref(), Some("not today"));
    assert!(returned_at.duration_since(decided_at) < Duration::from_secs(10));
    // Waiting on a final request answers at once; strangers get 404; bad timeouts 400.
    let again: ReviewRequest = get(&hub, &dev, &format!("/api/reviews/{}/wait", r.id)).await.json().await.unwrap();
    assert_eq!(again.status, ReviewStatus::Rejected);
    let dev2 = access_token_of(&hub, DEV2).await;
    expect_error(
        get(&hub, &dev2, &format!("/api/reviews/{}/wait?timeout=1", r.id)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        get(&hub, &dev, &format!("/api/reviews/{}/wait?timeout=soon", r.id)).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;

    // Expiry wakes a waiter too (the sweeper runs on the hub's clock).
    let short = submit_ok(&hub, &dev, json!({"title": "Expiring", "ttl_secs": 10})).await;
    let url = hub.at(&format!("/api/reviews/{}/wait?timeout=60", short.id));
    let token = dev.clone();
    let (sent, sending) = tokio::sync::oneshot::channel();
    let waiter = tokio::spawn(async move {
        keyway_test_support::under_way(http().get(url).bearer_auth(token).send(), sent)
            .await
            .unwrap()
            .json::<ReviewRequest>()
            .await
            .unwrap()
    });
    held(&hub, &dev, &short.id, sending, &waiter).await;
    hub.clock.advance(Duration::from_secs(10));
    let got = tokio::time::timeout(Duration::from_secs(10), waiter).await.expect("waiter returned").unwrap();
    assert_eq!(got.status, ReviewStatus::Expired);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_subscriber_reconnecting_with_last_event_id_gets_what_it_missed() {
    let hub = queue_hub().await;
    let dev = access_token_of(&hub, DEV).await;
    let rev = access_token_of(&hub, REV).await;
    let mut sub = Sse::open(&hub, &rev).await;
    let first = submit_ok(&hub, &dev, json!({"title": "one"})).await;
    let (_, id, event) = sub.event_with_id().await;
    assert_eq!(event.request().id, first.id);
    assert!(!id.is_empty());
    drop(sub);

    // Missed while disconnected.
    let second = submit_ok(&hub, &dev, json!({"title": "two"})).await;
    assert_eq!(decide(&hub, &rev, &first.id, "approve", None).await.status(), StatusCode::OK);
    let mut sub = Sse::open_after(&hub, &rev, Some(&id)).await;
    let (name, id2, event) = sub.event_with_id().await;
    assert_eq!((name.as_str(), event.request().id.as_str()), ("created", second.id.as_str()));
    let (name, id3, event) = sub.event_with_id().await;
    assert_eq!((name.as_str(), event.request().id.as_str()), ("decided", first.id.as_str()));
    assert!(id != id2 && id2 != id3);
    // Then live again.
    let third = submit_ok(&hub, &dev, json!({"title": "three"})).await;
    assert_eq!(sub.event().await.1.request().id, third.id);

    // An id the hub cannot replay from (another hub process, or too old): resync.
    for stale in ["someotherhub-3", "garbage"] {
        let mut sub = Sse::open_after(&hub, &rev, Some(stale)).await;
        let (name, _, _) = sub.raw_event().await;
        assert_eq!(name, "resync");
    }
}

/// A JWT from `/auth/exchange` (or the service-account endpoint with `basic`).
async fn exchanged(hub: &TestHub, path: &str, auth: (&str, &str), class: &str) -> String {
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

async fn created(resp: reqwest::Response) -> Value {
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

/// A transition and its audit row are one transaction: while the audit log refuses rows, no
/// request is submitted, voted on or cancelled; once it takes them again, each transition that
/// happens has exactly one row.
#[tokio::test]
async fn a_transition_whose_audit_row_cannot_be_written_does_not_happen() {
    let hub = queue_hub().await;
    let dev = access_token_of(&hub, DEV).await;
    let rev = access_token_of(&hub, REV).await;
    let adm = access_token_of(&hub, ADM).await;
    let r = submit_ok(&hub, &dev, json!({"title": "Rotate keys", "payload": {}})).await;
    let cancel = |id: &str| http().post(hub.at(&format!("/api/reviews/{id}/cancel"))).bearer_auth(&dev).send();

    // The audit log fails every insert (a second connection to the hub's database).
    let db = sqlx::SqlitePool::connect(&hub.database_url).await.unwrap();
    sqlx::query(
        "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'audit log full'); END",
    )
    .execute(&db)
    .await
    .unwrap();
    let refused = [
        decide(&hub, &rev, &r.id, "approve", None).await,
        cancel(&r.id).await.unwrap(),
        submit(&hub, &dev, json!({"title": "Another", "payload": {}})).await,
    ];
    for resp in refused {
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
    let unchanged = show(&hub, &rev, &r.id).await;
    assert_eq!(unchanged.status, ReviewStatus::Pending);
    assert!(unchanged.decisions.is_empty(), "a vote without its audit row was kept: {:?}", unchanged.decisions);
    assert_eq!(list(&hub, &rev, "").await.items.len(), 1, "a request without its audit row was kept");

    sqlx::query("DROP TRIGGER refuse_audit").execute(&db).await.unwrap();
    let decided: ReviewRequest = decide(&hub, &rev, &r.id, "approve", None).await.json().await.unwrap();
    assert_eq!(decided.status, ReviewStatus::Approved);
    let rows: Vec<_> = audit(&hub, &adm, "review.decide")
        .await
        .into_iter()
        .filter(|e| e.target_id.as_deref() == Some(r.id.as_str()))
        .collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].outcome.as_str(), rows[0].detail["status"].as_str()), ("ok", Some("approved")));
    assert_eq!(audit(&hub, &adm, "review.submit").await.len(), 1);
    assert!(audit(&hub, &adm, "review.cancel").await.is_empty());
}
