//! The approval queue live: SSE subscribers (who is told what, `Last-Event-ID`) and long-poll
//! waiters.

use std::time::{Duration, Instant};

use keyway_api::reviews::{ReviewEvent, ReviewRequest, ReviewStatus};
use reqwest::StatusCode;
use serde_json::json;

use crate::common::*;
use crate::reviews::*;

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
