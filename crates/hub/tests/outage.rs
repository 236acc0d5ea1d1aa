//! PostgreSQL going away under a running hub: requests that need the database are answered
//! `503 unavailable` with `Retry-After` (never a 500, a panic or a hang), what they asked for is
//! not half-done, and the hub serves again by itself once the server is back. On a private
//! server (keyway_test_support::postgres::private) that the test stops and starts, whatever
//! `KEYWAY_TEST_BACKEND` says.

#[path = "http/common.rs"]
mod common;

use std::time::{Duration, Instant};

use common::*;
use keyway_api::DESKTOP_CLIENT_ID;
use keyway_api::reviews::ReviewRequest;
use reqwest::StatusCode;
use serde_json::json;

/// The longest a request may take while the database is away: answered, not hung. (Not a speed
/// assertion: the hub gives up on a connection after a few seconds.)
const ANSWER_DEADLINE: Duration = Duration::from_secs(30);
/// How long the hub may take to serve again once the server is back.
const RECOVERY_DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_hub_answers_unavailable_while_postgres_is_away_and_serves_again_when_it_is_back() {
    let mut server = keyway_test_support::postgres::private().expect("a private PostgreSQL server");
    let url = server.database().unwrap();
    let hub = TestHub::start_with(move |s| s.database_url = url).await;
    let (_, tokens) = sign_in(&hub, &v4(45001)).await;
    let token = tokens.access_token.clone();
    let refresh_token = tokens.refresh_token.clone().expect("a refresh token");
    let http = reqwest::Client::new();
    let list = || http.get(hub.at("/api/reviews")).bearer_auth(&token).send();
    let submit =
        |title: &str| http.post(hub.at("/api/reviews")).bearer_auth(&token).json(&json!({ "title": title })).send();
    let refresh = || {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.as_str()),
            ("client_id", DESKTOP_CLIENT_ID),
        ];
        http.post(hub.at("/oauth/token")).form(&form).send()
    };
    assert_eq!(list().await.unwrap().status(), StatusCode::OK);
    assert_eq!(submit("before").await.unwrap().status(), StatusCode::CREATED);

    server.stop().unwrap();
    // A read, a write, a refresh (OAuth JSON) and a sign-in page (HTML): each answered 503.
    let answers = [
        ("list", answered(list()).await),
        ("submit", answered(submit("during")).await),
        ("refresh", answered(refresh()).await),
        ("authorize", answered(browser().get(Flow::new(&v4(45002)).authorize_url(&hub.url, &[])).send()).await),
    ];
    for (what, resp) in answers {
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE, "{what}");
        let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(retry >= 1, "{what}: Retry-After {retry}");
        if what == "authorize" {
            let page = resp.text().await.unwrap();
            assert!(page.contains("cannot reach its database"), "{page}");
            continue;
        }
        let body = expect_error(resp, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
        let text = format!("{body:?}");
        assert!(!text.contains(&server.server().dir.display().to_string()), "no internals: {text}");
    }

    server.start().unwrap();
    let deadline = Instant::now() + RECOVERY_DEADLINE;
    loop {
        let status = list().await.unwrap().status();
        if status == StatusCode::OK {
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "while it reconnects");
        assert!(Instant::now() < deadline, "the hub did not serve again within {RECOVERY_DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // It writes again, the refused write is not there, and the refresh token refused during
    // the outage still works (it was not used up).
    let after: ReviewRequest = submit("after").await.unwrap().json().await.unwrap();
    assert_eq!(after.title, "after");
    let page: keyway_api::auth::Page<ReviewRequest> = list().await.unwrap().json().await.unwrap();
    let titles: Vec<&str> = page.items.iter().map(|r| r.title.as_str()).collect();
    assert_eq!(titles, ["after", "before"]);
    assert_eq!(refresh().await.unwrap().status(), StatusCode::OK);
    drop(hub);
}

/// The answer to `request`, which must come within [`ANSWER_DEADLINE`] and be a response (a
/// panic in a handler would drop the connection instead).
async fn answered(request: impl std::future::Future<Output = reqwest::Result<reqwest::Response>>) -> reqwest::Response {
    tokio::time::timeout(ANSWER_DEADLINE, request)
        .await
        .expect("answered while the database is away, not hung")
        .expect("a response, not a dropped connection")
}
