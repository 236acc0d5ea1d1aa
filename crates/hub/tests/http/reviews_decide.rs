//! The approval queue: decisions (reasons, one's own, thresholds), expiry on the hub's clock,
//! concurrent votes, and the audit row that goes with every transition.

use std::collections::HashSet;
use std::time::Duration;

use keyway_api::Role;
use keyway_api::auth::Page;
use keyway_api::reviews::{ReviewRequest, ReviewStatus, Verdict};
use reqwest::StatusCode;
use serde_json::json;

use crate::common::*;
use crate::reviews::*;

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
    // Exact to the second: real time passing between requests must not move it.
    hub.clock.freeze();
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
    hub.execute_on_db(
        "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'audit log full'); END",
        &[
            "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'audit log full'; END $$",
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_audit()",
        ],
    )
    .await;
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

    hub.execute_on_db("DROP TRIGGER refuse_audit", &["DROP TRIGGER refuse_audit ON audit_events"]).await;
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

#[tokio::test]
async fn may_decide_is_said_for_each_caller_by_the_hub() {
    let hub = queue_hub().await;
    let (dev, rev, rev2, aud, both) = (
        access_token_of(&hub, DEV).await,
        access_token_of(&hub, REV).await,
        access_token_of(&hub, REV2).await,
        access_token_of(&hub, AUD).await,
        access_token_of(&hub, BOTH).await,
    );
    let r = submit_ok(&hub, &both, json!({"title": "Two keys", "threshold": 2})).await;
    assert!(!r.may_decide, "the submitter is told it may not decide its own request");
    let seen = |page: Page<ReviewRequest>| page.items.iter().find(|i| i.id == r.id).map(|i| i.may_decide);
    assert_eq!(seen(list(&hub, &rev, "").await), Some(true), "a reviewer may decide a pending request");
    assert_eq!(seen(list(&hub, &aud, "").await), Some(false), "an auditor sees it but may not decide");
    assert_eq!(seen(list(&hub, &both, "").await), Some(false), "nor may its submitter, though a reviewer");
    assert!(show(&hub, &rev2, &r.id).await.may_decide);
    let voted: ReviewRequest = decide(&hub, &rev, &r.id, "approve", None).await.json().await.unwrap();
    assert!(!voted.may_decide, "a reviewer who voted may not vote again");
    assert!(!show(&hub, &rev, &r.id).await.may_decide);
    assert!(show(&hub, &rev2, &r.id).await.may_decide, "the second reviewer still may");
    let done: ReviewRequest = decide(&hub, &rev2, &r.id, "approve", None).await.json().await.unwrap();
    assert_eq!(done.status, ReviewStatus::Approved);
    assert!(!show(&hub, &rev, &r.id).await.may_decide && !done.may_decide, "nobody decides a final request");
    // A developer's own list says the same.
    let mine = submit_ok(&hub, &dev, json!({"title": "Mine"})).await;
    assert_eq!(list(&hub, &dev, "").await.items.iter().find(|i| i.id == mine.id).map(|i| i.may_decide), Some(false));
}

#[tokio::test]
async fn the_person_who_created_a_service_account_cannot_approve_its_requests() {
    const SAM: &str = "sam";
    let hub = queue_hub_with(&[(SAM, &[Role::Admin, Role::Reviewer])]).await;
    let sam = access_token_of(&hub, SAM).await;
    let sam_admin = exchanged(&hub, "/auth/exchange", ("Bearer", &sam), "user_admin").await;
    let sa = created(
        http()
            .post(hub.at("/api/service-accounts"))
            .bearer_auth(&sam_admin)
            .json(&json!({"name": "nightly", "group": "developer"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("nightly:{}", sa["secret"].as_str().unwrap()));
    let svc = exchanged(&hub, "/auth/service-account/token", ("Basic", &basic), "service_access").await;
    let r = submit_ok(&hub, &svc, json!({"title": "nightly deploy"})).await;
    let resp = decide(&hub, &sam, &r.id, "approve", None).await;
    expect_error(resp, StatusCode::FORBIDDEN, "access_denied").await;
    assert_eq!(show(&hub, &sam, &r.id).await.status, ReviewStatus::Pending, "the creator still sees it");
    let rev = access_token_of(&hub, REV).await;
    assert_eq!(decide(&hub, &rev, &r.id, "approve", None).await.status(), StatusCode::OK);
    assert_eq!(show(&hub, &sam, &r.id).await.status, ReviewStatus::Approved);
}
