//! Review event streams are bounded: per caller, and a stream whose client stops reading is
//! ended. The memory figure of many replaying streams is an ignored test.

use std::time::Duration;

use keyway_api::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::common::*;

const REV: &str = "rita";

async fn open(hub: &TestHub, token: &str) -> reqwest::Response {
    reqwest::Client::new().get(hub.at("/api/reviews/events")).bearer_auth(token).send().await.unwrap()
}

/// A review whose event is about `size` bytes (links make it big).
fn review(n: usize, links: usize, url_chars: usize) -> Value {
    let links: Vec<Value> = (0..links)
        .map(|i| json!({"label": format!("link {i}"), "url": format!("https://example.com/{}", "x".repeat(url_chars))}))
        .collect();
    json!({"title": format!("review {n} {}", "t".repeat(150)), "links": links})
}

async fn submit_many(hub: &TestHub, token: &str, count: usize, links: usize, url_chars: usize) {
    let http = reqwest::Client::new();
    for n in 0..count {
        let resp = http
            .post(hub.at("/api/reviews"))
            .bearer_auth(token)
            .json(&review(n, links, url_chars))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED, "{}", resp.text().await.unwrap());
    }
}

/// The id of a first event: replaying after it replays everything submitted later.
async fn first_event_id(hub: &TestHub, dev: &str, rev: &str) -> String {
    let mut events = open(hub, rev).await;
    submit_many(hub, dev, 1, 0, 1).await;
    let mut seen = String::new();
    while !seen.contains("\nid: ") && !seen.starts_with("id: ") {
        seen.push_str(&String::from_utf8_lossy(&events.chunk().await.unwrap().unwrap()));
    }
    seen.lines().find_map(|l| l.strip_prefix("id: ")).unwrap().to_owned()
}

#[tokio::test]
async fn a_caller_holds_at_most_eight_streams() {
    let hub = TestHub::start_with_users(|_| {}, &[(REV, &[Role::Reviewer])]).await;
    let rev = access_token_of(&hub, REV).await;
    let mut held = Vec::new();
    for _ in 0..8 {
        let resp = open(&hub, &rev).await;
        assert_eq!(resp.status(), StatusCode::OK);
        held.push(resp);
    }
    let ninth = open(&hub, &rev).await;
    assert_eq!(ninth.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(ninth.headers().get("retry-after").is_some());
    assert_eq!(ninth.json::<Value>().await.unwrap()["error"], "rate_limited");
    // Someone else is not held to rita's share.
    let alice = access_token_of(&hub, USER).await;
    assert_eq!(open(&hub, &alice).await.status(), StatusCode::OK);
    // A closed stream gives its place back (once the hub has seen it go).
    drop(held.pop());
    let mut reopened = false;
    for _ in 0..200 {
        if open(&hub, &rev).await.status() == StatusCode::OK {
            reopened = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(reopened, "the dropped stream's place was not given back");
}

#[tokio::test]
async fn a_stream_whose_client_stops_reading_is_ended() {
    let hub = TestHub::start_with_users(|s| s.write_stall = Duration::from_secs(2), &[(REV, &[Role::Reviewer])]).await;
    let dev = access_token_of(&hub, USER).await;
    let rev = access_token_of(&hub, REV).await;
    let first = first_event_id(&hub, &dev, &rev).await;
    // About 7 MB of events to replay: more than the hub and the kernel buffer.
    submit_many(&hub, &dev, 180, 20, 1900).await;

    // A client that asks for the replay and never reads, with a small receive buffer.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(hub.url.trim_start_matches("http://").parse().unwrap()).await.unwrap();
    let head = format!(
        "GET /api/reviews/events HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {rev}\r\nLast-Event-ID: {first}\r\n\r\n",
        hub.url.trim_start_matches("http://")
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    // Its answer has begun (it holds its place); the client reads no further.
    let mut start = [0u8; 12];
    stalled.read_exact(&mut start).await.unwrap();
    assert_eq!(&start, b"HTTP/1.1 200");

    // Seven more streams fill rita's share while the stalled one lives…
    let mut held = Vec::new();
    for _ in 0..7 {
        let resp = open(&hub, &rev).await;
        assert_eq!(resp.status(), StatusCode::OK);
        held.push(resp);
    }
    assert_eq!(open(&hub, &rev).await.status(), StatusCode::TOO_MANY_REQUESTS);
    // …until the hub gives up on the writes that make no progress and ends it.
    let mut ended = false;
    for _ in 0..600 {
        if open(&hub, &rev).await.status() == StatusCode::OK {
            ended = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ended, "the stream that is not read was never ended");
    drop(stalled);
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Figure: the memory of a hub (this process) holding 200 idle SSE connections that each ask
/// for the replay from the oldest of 1024 kept events and read nothing.
#[tokio::test]
#[ignore = "a measurement; run with --ignored --nocapture"]
async fn memory_of_200_idle_replaying_streams() {
    let users: Vec<String> = (0..25).map(|n| format!("r{n}")).collect();
    let roles: &[Role] = &[Role::Reviewer];
    let list: Vec<(&str, &[Role])> = users.iter().map(|u| (u.as_str(), roles)).collect();
    let hub = TestHub::start_with_users(|_| {}, &list).await;
    let dev = access_token_of(&hub, USER).await;
    let first = access_token_of(&hub, &users[0]).await;
    let first_id = first_event_id(&hub, &dev, &first).await;
    submit_many(&hub, &dev, 1023, 2, 300).await;
    let mut tokens = Vec::new();
    for u in &users {
        tokens.push(access_token_of(&hub, u).await);
    }
    let before = rss_kib();
    let mut conns = Vec::new();
    for i in 0..200 {
        let mut conn = tokio::net::TcpStream::connect(hub.url.trim_start_matches("http://")).await.unwrap();
        let head = format!(
            "GET /api/reviews/events HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nLast-Event-ID: {first_id}\r\n\r\n",
            hub.url.trim_start_matches("http://"),
            tokens[i % tokens.len()]
        );
        conn.write_all(head.as_bytes()).await.unwrap();
        conns.push(conn);
    }
    // Let the hub take every connection in and write what it can.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = rss_kib();
    println!(
        "200 idle SSE connections replaying 1024 events: RSS {before} KiB before, {after} KiB with them (+{} KiB, {} KiB each)",
        after.saturating_sub(before),
        after.saturating_sub(before) / 200
    );
    drop(conns);
}

/// Reads `stream` until it ends; false if it is still open after 20 s.
async fn ends_within_20s(mut stream: reqwest::Response) -> bool {
    tokio::time::timeout(Duration::from_secs(20), async { while let Ok(Some(_)) = stream.chunk().await {} })
        .await
        .is_ok()
}

#[tokio::test]
async fn a_stream_ends_when_its_credential_is_revoked_or_its_person_disabled() {
    use crate::credentials::{admin_jwt, agent_pat, exchange_ok, post_json};
    let hub = TestHub::start_with_users(|_| {}, &[(REV, &[Role::Reviewer])]).await;
    let admin = admin_jwt(&hub, USER).await;
    let pat = agent_pat(&hub, &admin, "watcher", "cli").await;
    let agent = exchange_ok(&hub, &pat.secret, json!({"requested_token_class": "agent_access"})).await.access_token;
    let rev = access_token_of(&hub, REV).await;
    let by_agent = open(&hub, &agent).await;
    let by_rev = open(&hub, &rev).await;
    assert_eq!((by_agent.status(), by_rev.status()), (StatusCode::OK, StatusCode::OK));

    let revoked = post_json(&hub, &format!("/api/credentials/{}/revoke", pat.credential.id), &admin, json!({})).await;
    assert_eq!(revoked.status(), StatusCode::OK);
    assert!(ends_within_20s(by_agent).await, "the stream of a revoked PAT's JWT is still open");

    let users: Value = crate::credentials::get(&hub, "/api/users", &admin).await.json().await.unwrap();
    let rita = users["items"].as_array().unwrap().iter().find(|u| u["username"] == REV).unwrap()["id"].clone();
    let disabled = post_json(&hub, &format!("/api/users/{}/disable", rita.as_str().unwrap()), &admin, json!({})).await;
    assert_eq!(disabled.status(), StatusCode::OK);
    assert!(ends_within_20s(by_rev).await, "a disabled reviewer's stream is still open");
}
