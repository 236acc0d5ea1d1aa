//! Several hubs on one PostgreSQL database act as one deployment: one issuer, sign-ins that
//! start on one hub and finish on another, changes that the other hubs learn of at once (a
//! notice, not a cache entry running out), review events that reach every hub's streams and
//! waiters, and the periodic work on exactly one hub. Runs on a throwaway server
//! (keyway_test_support::postgres) whatever `KEYWAY_TEST_BACKEND` says.
//!
//! Where a test waits for another hub to learn of a change, its deadline (5 s) is shorter than
//! the caches' lifetime (10 s) and the hubs re-read their keys only every hour, so only the
//! notice can make the test pass.

#[path = "http/common.rs"]
mod common;

use std::time::{Duration, Instant};

use common::*;
use keyway_api::Role;
use keyway_api::reviews::{ReviewEvent, ReviewRequest, ReviewStatus};
use keyway_hub::store::NoticeStore as _;
use keyway_hub::{Hub, PgStore, Settings, Store as _};
use keyway_test_support::postgres;
use reqwest::StatusCode;
use serde_json::{Value, json};

const DEV: &str = "dana";
const REV: &str = "rita";
const REV2: &str = "remy";

/// Less than the caches' 10 s.
const NOTICE_DEADLINE: Duration = Duration::from_secs(5);

fn on_one_database(s: &mut Settings) {
    s.database_url = postgres::database().expect("a database on the test PostgreSQL server");
    s.key_refresh_interval = Duration::from_secs(3600);
}

/// Hub A (users alice, dana, rita, remy) and hub B beside it.
async fn pair() -> (TestHub, TestHub) {
    let users: &[(&str, &[Role])] = &[(DEV, &[Role::Developer]), (REV, &[Role::Reviewer]), (REV2, &[Role::Reviewer])];
    let a = TestHub::start_with_users(on_one_database, users).await;
    let b = a.beside(|s| s.key_refresh_interval = Duration::from_secs(3600)).await;
    (a, b)
}

/// Polls `check` until it holds, failing after `deadline`.
async fn eventually<F, Fut>(what: &str, deadline: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = Instant::now() + deadline;
    while !check().await {
        assert!(Instant::now() < until, "{what}: not within {deadline:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

async fn post(hub: &TestHub, path: &str, bearer: &str, body: Value) -> reqwest::Response {
    http().post(hub.at(path)).bearer_auth(bearer).json(&body).send().await.unwrap()
}

async fn json_of(resp: reqwest::Response, want: StatusCode) -> Value {
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(status, want, "{text}");
    serde_json::from_str(&text).unwrap()
}

async fn user_admin(hub: &TestHub) -> String {
    let access = access_token_of(hub, USER).await;
    let resp = post(hub, "/auth/exchange", &access, json!({"requested_token_class": "user_admin"})).await;
    json_of(resp, StatusCode::OK).await["access_token"].as_str().unwrap().to_owned()
}

async fn exchange_status(hub: &TestHub, pat: &str) -> StatusCode {
    post(hub, "/auth/exchange", pat, json!({"requested_token_class": "agent_access"})).await.status()
}

fn kid_of(jwt: &str) -> String {
    use base64::Engine as _;
    let header = jwt.split('.').next().unwrap();
    let header: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_jwt_from_one_hub_is_accepted_by_another_and_a_sign_in_started_on_one_finishes_on_the_other() {
    let (a, b) = pair().await;
    let access = access_token_of(&a, USER).await;
    let me: Value = json_of(userinfo(&b, &access).await, StatusCode::OK).await;
    assert_eq!(me["preferred_username"], USER);
    let (header, claims) = verify_jwt(&b, &access).await;
    assert_eq!(claims["iss"], a.url.as_str(), "one issuer for the deployment");
    assert!(header["kid"].is_string());

    // The authorization request is made on A; the password goes to B; the code is redeemed on
    // B and the refresh token used on A.
    let browser = browser();
    let flow = Flow::new(&v4(43301));
    let (request, csrf) = open_login_page(&browser, &a, &flow).await;
    let resp = submit_login(&browser, &b, &request, &csrf, USER, PASSWORD).await;
    let params = redirect_params(&resp, &flow);
    assert_eq!(param(&params, "iss"), Some(a.url.as_str()));
    assert_eq!(param(&params, "state"), Some(flow.state.as_str()));
    let code = param(&params, "code").expect("a code").to_owned();
    let tokens: keyway_api::TokenResponse = json_of(exchange(&b, &flow, &code).await, StatusCode::OK).await.pipe();
    let refreshed = refresh(&a, tokens.refresh_token.as_deref().expect("a refresh token")).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    // The code was used on B: A refuses it too.
    expect_error(exchange(&a, &flow, &code).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

trait Pipe {
    fn pipe<T: serde::de::DeserializeOwned>(self) -> T;
}

impl Pipe for Value {
    fn pipe<T: serde::de::DeserializeOwned>(self) -> T {
        serde_json::from_value(self).unwrap()
    }
}

#[tokio::test]
async fn a_revocation_or_a_disable_through_one_hub_is_refused_by_the_other_at_once() {
    let (a, b) = pair().await;
    let admin = user_admin(&a).await;
    let minted = json_of(
        post(&a, "/api/credentials", &admin, json!({"agent": "worker", "create_agent": true})).await,
        StatusCode::CREATED,
    )
    .await;
    let pat = minted["secret"].as_str().unwrap().to_owned();
    let id = minted["credential"]["id"].as_str().unwrap().to_owned();
    // B reads the PAT once and keeps it in its cache.
    assert_eq!(exchange_status(&b, &pat).await, StatusCode::OK);
    assert_eq!(exchange_status(&b, &pat).await, StatusCode::OK);
    json_of(post(&a, &format!("/api/credentials/{id}/revoke"), &admin, json!({})).await, StatusCode::OK).await;
    eventually("B refuses the PAT revoked through A", NOTICE_DEADLINE, || async {
        exchange_status(&b, &pat).await == StatusCode::UNAUTHORIZED
    })
    .await;

    // A user disabled through A: B refuses their sign-in's JWT, which it had just accepted.
    let dana = access_token_of(&a, DEV).await;
    assert_eq!(userinfo(&b, &dana).await.status(), StatusCode::OK);
    let users = json_of(http().get(a.at("/api/users")).bearer_auth(&admin).send().await.unwrap(), StatusCode::OK).await;
    let dana_id = users["items"].as_array().unwrap().iter().find(|u| u["username"] == DEV).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    json_of(post(&a, &format!("/api/users/{dana_id}/disable"), &admin, json!({})).await, StatusCode::OK).await;
    eventually("B refuses the JWT of a user disabled through A", NOTICE_DEADLINE, || async {
        userinfo(&b, &dana).await.status() == StatusCode::UNAUTHORIZED
    })
    .await;
}

#[tokio::test]
async fn a_key_rotation_on_any_hub_is_used_by_every_hub_without_a_restart() {
    let (a, b) = pair().await;
    let admin = user_admin(&a).await;
    let minted = json_of(
        post(&a, "/api/credentials", &admin, json!({"agent": "signer", "create_agent": true})).await,
        StatusCode::CREATED,
    )
    .await;
    let pat = minted["secret"].as_str().unwrap().to_owned();
    let minted_kid = |hub: &TestHub| {
        let (hub, pat) = (hub.at("/auth/exchange"), pat.clone());
        async move {
            let resp = http()
                .post(hub)
                .bearer_auth(pat)
                .json(&json!({"requested_token_class": "agent_access"}))
                .send()
                .await
                .unwrap();
            kid_of(json_of(resp, StatusCode::OK).await["access_token"].as_str().unwrap())
        }
    };
    let before = minted_kid(&a).await;
    assert_eq!(minted_kid(&b).await, before);
    // `keyway-hub keys rotate` on the database, from a third process that serves nothing.
    let operator = Hub::open(Settings {
        database_url: a.database_url.clone(),
        hub_key: Some(a.hub_key.clone()),
        ..Settings::default()
    })
    .await
    .unwrap();
    let (new_kid, previous) = operator.rotate_signing_key().await.unwrap();
    assert_eq!(previous, before);
    for hub in [&a, &b] {
        eventually("the hub signs with the rotated key", NOTICE_DEADLINE, || {
            let kid = minted_kid(hub);
            let new_kid = new_kid.clone();
            async move { kid.await == new_kid }
        })
        .await;
    }
}

/// The next review event of `sse`, which must not be a `resync` here.
async fn next(sse: &mut Sse) -> (String, String, ReviewEvent) {
    let (name, id, event) = sse.event_with_id().await;
    assert_ne!(name, "resync", "no resync expected here");
    (name, id, event)
}

async fn submit(hub: &TestHub, token: &str, body: Value) -> ReviewRequest {
    json_of(post(hub, "/api/reviews", token, body).await, StatusCode::CREATED).await.pipe()
}

async fn vote(hub: &TestHub, token: &str, id: &str) -> StatusCode {
    post(hub, &format!("/api/reviews/{id}/decision"), token, json!({"verdict": "approve"})).await.status()
}

#[tokio::test]
async fn review_events_through_one_hub_reach_streams_and_waiters_on_the_other_and_replay_on_either() {
    let (a, b) = pair().await;
    let dev = access_token_of(&a, DEV).await;
    let rev = access_token_of(&a, REV).await;
    let rev2 = access_token_of(&a, REV2).await;
    let mut on_b = Sse::open(&b, &rev).await;

    let first = submit(&a, &dev, json!({"title": "Deploy api", "threshold": 2})).await;
    let (name, _, event) = next(&mut on_b).await;
    assert_eq!((name.as_str(), event.request().id.as_str()), ("created", first.id.as_str()));

    // A waiter on B returns when the deciding vote is cast on A.
    let waiter = {
        let (url, token) = (b.at(&format!("/api/reviews/{}/wait?timeout=30", first.id)), rev.clone());
        tokio::spawn(async move { http().get(url).bearer_auth(token).send().await.unwrap() })
    };
    assert_eq!(vote(&a, &rev, &first.id).await, StatusCode::OK);
    let (name, _, _) = next(&mut on_b).await;
    assert_eq!(name, "voted");
    assert_eq!(vote(&a, &rev2, &first.id).await, StatusCode::OK);
    let (name, last_id, event) = next(&mut on_b).await;
    assert_eq!(name, "decided");
    assert_eq!(event.request().status, ReviewStatus::Approved);
    let waited: ReviewRequest = json_of(waiter.await.unwrap(), StatusCode::OK).await.pipe();
    assert_eq!(waited.status, ReviewStatus::Approved);
    drop(on_b);

    // Missed while away, then the client comes back to A with the id B gave it.
    let second = submit(&b, &dev, json!({"title": "Rotate db password"})).await;
    let cancel = post(&b, &format!("/api/reviews/{}/cancel", second.id), &dev, json!({})).await;
    assert_eq!(cancel.status(), StatusCode::OK);
    let mut on_a = Sse::open_after(&a, &rev, Some(&last_id)).await;
    let (name, _, event) = next(&mut on_a).await;
    assert_eq!((name.as_str(), event.request().id.as_str()), ("created", second.id.as_str()));
    let (name, _, event) = next(&mut on_a).await;
    assert_eq!((name.as_str(), event.request().id.as_str()), ("cancelled", second.id.as_str()));
}

#[tokio::test]
async fn the_periodic_work_lease_is_held_by_one_process_and_taken_over_when_it_dies() {
    let url = postgres::database().unwrap();
    let one = PgStore::connect(&url).await.unwrap();
    one.migrate().await.unwrap();
    let two = PgStore::connect(&url).await.unwrap();
    assert!(one.lead().await.unwrap());
    assert!(one.lead().await.unwrap(), "the holder keeps it");
    assert!(!two.lead().await.unwrap(), "one holder at a time");
    drop(one);
    eventually("the second process takes the lease", NOTICE_DEADLINE, || async { two.lead().await.unwrap() }).await;
    let three = PgStore::connect(&url).await.unwrap();
    assert!(!three.lead().await.unwrap());
}

#[tokio::test]
async fn when_the_sweeping_hub_stops_another_expires_the_requests() {
    let (a, b) = pair().await;
    let dev = access_token_of(&a, DEV).await;
    let rev = access_token_of(&a, REV).await;
    // A started first and holds the lease; it goes away.
    drop(a.stop().await);
    let mut on_b = Sse::open(&b, &rev).await;
    let short = submit(&b, &dev, json!({"title": "Short-lived", "ttl_secs": 60})).await;
    assert_eq!(next(&mut on_b).await.0, "created");
    b.clock.advance(Duration::from_secs(61));
    // Nobody reads the request: only the sweeper can expire it.
    let (name, _, event) = next(&mut on_b).await;
    assert_eq!((name.as_str(), event.request().id.as_str()), ("expired", short.id.as_str()));
}

/// One password attempt on `hub`, from a fresh sign-in request there.
async fn attempt(hub: &TestHub, password: &str) -> reqwest::Response {
    let browser = browser();
    let flow = Flow::new(&v4(43302));
    let (request, csrf) = open_login_page(&browser, hub, &flow).await;
    submit_login(&browser, hub, &request, &csrf, USER, password).await
}

#[tokio::test]
async fn wrong_passwords_on_one_hub_count_on_the_other() {
    let (a, b) = pair().await;
    let mut checked = 0;
    for _ in 0..40 {
        if checked == 10 {
            break;
        }
        let resp = attempt(&a, "not the password").await;
        match resp.status() {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                let wait: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
                a.clock.advance(Duration::from_secs(wait));
            }
            other => panic!("attempt {checked}: {other}"),
        }
    }
    assert_eq!(checked, 10, "ten wrong passwords were checked on A");
    // The counters (this account, this address) are rows every hub reads: B refuses even the
    // right password.
    let resp = attempt(&b, PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().get("retry-after").is_some());
}
