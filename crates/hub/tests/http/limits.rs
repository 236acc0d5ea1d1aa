//! Limits on every route: the hub answers only its own `Host`, requests time out with a coded
//! error, and streams are exempt from that timeout.

use std::time::Duration;

use keyway_api::Role;
use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::common::*;

/// Sends `head` (and `body`) on a raw connection and reads the answer until the hub closes it.
async fn raw(hub: &TestHub, head: &str, body: &[u8]) -> String {
    let addr = hub.url.trim_start_matches("http://");
    let mut conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(body).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), conn.read_to_end(&mut answer))
        .await
        .expect("an answer within 20 s")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

fn host_of(hub: &TestHub) -> String {
    hub.url.trim_start_matches("http://").to_owned()
}

#[tokio::test]
async fn a_request_for_another_host_is_refused() {
    let hub = TestHub::start().await;
    let port = hub.url.rsplit(':').next().unwrap().to_owned();
    for path in ["/.well-known/openid-configuration", "/api/me", "/oauth/authorize"] {
        // What a DNS-rebinding page's request looks like: the hub's address, the page's name.
        let head = format!("GET {path} HTTP/1.1\r\nHost: rebind.attacker.test:{port}\r\nConnection: close\r\n\r\n");
        let answer = raw(&hub, &head, b"").await;
        assert!(answer.starts_with("HTTP/1.1 421"), "{path}: {answer}");
        assert!(answer.contains(r#""error":"misdirected_request""#), "{answer}");
    }
    let own = format!(
        "GET /.well-known/openid-configuration HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        host_of(&hub)
    );
    assert!(raw(&hub, &own, b"").await.starts_with("HTTP/1.1 200"));
    let local = format!(
        "GET /.well-known/openid-configuration HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n"
    );
    assert!(raw(&hub, &local, b"").await.starts_with("HTTP/1.1 200"));
    // The issuer from the URL (what reqwest, the CLI and the app send) works as ever.
    let resp = reqwest::get(hub.at("/.well-known/openid-configuration")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_slow_request_times_out_while_a_stream_outlives_the_timeout() {
    let hub =
        TestHub::start_with_users(|s| s.request_timeout = Duration::from_secs(1), &[("rita", &[Role::Reviewer])]).await;
    let dev = access_token_of(&hub, USER).await;
    let rev = access_token_of(&hub, "rita").await;
    let mut events = reqwest::Client::new().get(hub.at("/api/reviews/events")).bearer_auth(&rev).send().await.unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    let greeting = events.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&greeting).contains("subscribed"));

    // A body that never arrives in full: the hub gives up after its timeout.
    let head = format!(
        "POST /api/reviews HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {dev}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n",
        host_of(&hub)
    );
    let answer = raw(&hub, &head, br#"{"title": "never fin"#).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""error":"timeout""#), "{answer}");

    // The stream, open longer than the timeout by now, still carries events.
    let resp = reqwest::Client::new()
        .post(hub.at("/api/reviews"))
        .bearer_auth(&dev)
        .json(&json!({"title": "after the timeout"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let mut seen = String::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        while !seen.contains("after the timeout") {
            let chunk = events.chunk().await.unwrap().expect("the stream is still open");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .expect("the event within 10 s");
    assert!(seen.contains("event: created"), "{seen}");
}

#[tokio::test]
async fn connections_past_the_cap_wait_for_a_free_slot() {
    let hub = TestHub::start_with(|s| s.max_connections = 1).await;
    let addr = hub.url.trim_start_matches("http://").to_owned();
    let head = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    // Reads until `n` answers came on `conn`.
    async fn answers(conn: &mut TcpStream, n: usize) {
        let mut seen = String::new();
        tokio::time::timeout(Duration::from_secs(10), async {
            while seen.matches("HTTP/1.1 200").count() < n {
                let mut buf = [0u8; 1024];
                let got = conn.read(&mut buf).await.unwrap();
                assert!(got > 0, "closed after {seen}");
                seen.push_str(&String::from_utf8_lossy(&buf[..got]));
            }
        })
        .await
        .expect("answers within 10 s");
    }
    // The first connection is answered and stays open (keep-alive): it holds the one slot.
    let mut first = TcpStream::connect(&addr).await.unwrap();
    first.write_all(head.as_bytes()).await.unwrap();
    answers(&mut first, 1).await;
    // The second is not taken in while the first is open, though the hub keeps answering the
    // first in the meantime…
    let mut second = TcpStream::connect(&addr).await.unwrap();
    second.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..3 {
        first.write_all(head.as_bytes()).await.unwrap();
        answers(&mut first, 1).await;
    }
    let mut buf = [0u8; 64];
    match second.try_read(&mut buf) {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("a second connection was served past the cap of one: {other:?}"),
    }
    // …and is answered once the first closes.
    drop(first);
    answers(&mut second, 1).await;
}

/// A connection waiting for a request is closed after the idle time without a byte: one opened
/// with nothing sent, and one kept alive after its answer. A request in progress is not idle: a
/// wait longer than the idle time gets its answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_but_a_long_wait_is_not() {
    let hub = TestHub::start_with(|s| s.idle_timeout = Duration::from_secs(20)).await;
    let addr = host_of(&hub);
    let token = access_token_of(&hub, USER).await;
    let review = crate::reviews::submit_ok(&hub, &token, json!({"title": "Wait past the idle time"})).await;

    let mut silent = TcpStream::connect(&addr).await.unwrap();
    let mut kept = TcpStream::connect(&addr).await.unwrap();
    kept.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes()).await.unwrap();
    let mut buf = [0u8; 4096];
    let got = kept.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..got]).starts_with("HTTP/1.1 200"));
    let mut waiting = TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "GET /api/reviews/{}/wait?timeout=25 HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n",
        review.id
    );
    waiting.write_all(head.as_bytes()).await.unwrap();

    for (what, conn) in [("opened and silent", &mut silent), ("kept alive after its answer", &mut kept)] {
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(90), conn.read_to_end(&mut rest)).await;
        assert!(closed.is_ok(), "a connection {what} is still open after 90 s");
        assert!(rest.is_empty(), "{what}: {}", String::from_utf8_lossy(&rest));
    }
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(90), async {
        while !String::from_utf8_lossy(&answer).contains("\"status\":\"pending\"") {
            let got = waiting.read(&mut buf).await.unwrap();
            assert!(got > 0, "the wait was cut: {}", String::from_utf8_lossy(&answer));
            answer.extend_from_slice(&buf[..got]);
        }
    })
    .await
    .expect("the wait's answer within 90 s");
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
}

/// A client that trickles its request head a byte at a time, each byte well within the idle
/// time, is let go at the head deadline, before its head is complete. The same head sent at
/// once is answered, and so is a kept-alive connection's next request, with its own deadline.
#[tokio::test]
async fn a_request_head_trickled_a_byte_at_a_time_is_cut_off_at_the_head_deadline() {
    let hub = TestHub::start_with(|s| s.head_timeout = Duration::from_secs(2)).await;
    let addr = host_of(&hub);
    let head = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nX-Padding: {}\r\n\r\n", "p".repeat(64));

    let mut prompt = TcpStream::connect(&addr).await.unwrap();
    let mut buf = [0u8; 1024];
    for round in 0..2 {
        prompt.write_all(head.as_bytes()).await.unwrap();
        let got = prompt.read(&mut buf).await.unwrap();
        let answer = String::from_utf8_lossy(&buf[..got]);
        assert!(answer.starts_with("HTTP/1.1 200"), "request {round} sent at once: {answer}");
        // A pause shorter than the deadline before the next request on the same connection.
        tokio::time::sleep(Duration::from_millis(1200)).await;
    }

    let mut trickle = TcpStream::connect(&addr).await.unwrap();
    let (mut rd, mut wr) = trickle.split();
    let mut sent = 0;
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            tokio::select! {
                read = rd.read(&mut buf) => break read,
                _ = tokio::time::sleep(Duration::from_millis(200)) => {
                    if sent < head.len() {
                        if wr.write_all(&head.as_bytes()[sent..=sent]).await.is_err() {
                            break Ok(0);
                        }
                        sent += 1;
                    }
                }
            }
        }
    })
    .await
    .expect("the hub still holds the trickling connection after 30 s");
    assert!(sent < head.len(), "the whole head ({sent} bytes) went through a byte every 200 ms");
    if let Ok(got) = ended {
        let answer = String::from_utf8_lossy(&buf[..got]);
        assert!(got == 0 || answer.starts_with("HTTP/1.1 408"), "the trickling connection got: {answer}");
    }
}
