//! `POST /login`: credentials, CSRF, timing of unknown users vs wrong passwords.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::common::*;

/// The page with per-response values (CSRF token, request id, echoed username) blanked out.
fn normalized(html: &str, username: &str) -> String {
    let csrf = hidden_field(html, "csrf");
    let request = hidden_field(html, "request");
    html.replace(&csrf, "CSRF").replace(&request, "REQUEST").replace(&format!("value=\"{username}\""), "value=\"USER\"")
}

async fn failed_login(hub: &TestHub, username: &str, password: &str) -> (StatusCode, String, Duration) {
    // Each attempt in a throttling window of its own: this compares the failures, not the
    // throttle (`throttle.rs` tests that).
    hub.clock.advance(Duration::from_secs(3600));
    let browser = browser();
    let flow = Flow::new(&v4(42000));
    let (request, csrf) = open_login_page(&browser, hub, &flow).await;
    let started = Instant::now();
    let resp = submit_login(&browser, hub, &request, &csrf, username, password).await;
    let elapsed = started.elapsed();
    assert!(resp.headers().get("location").is_none());
    let status = resp.status();
    let html = resp.text().await.unwrap();
    (status, normalized(&html, username), elapsed)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::test]
async fn wrong_password_and_unknown_user_look_and_take_the_same() {
    let hub = TestHub::start().await;
    // Warm up connections and code paths once.
    failed_login(&hub, USER, "wrong password").await;

    let (mut wrong, mut unknown) = (Vec::new(), Vec::new());
    let mut bodies = Vec::new();
    for _ in 0..5 {
        let (status, body, took) = failed_login(&hub, USER, "wrong password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        wrong.push(took);
        bodies.push(body);
        let (status, body, took) = failed_login(&hub, "mallory", "wrong password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        unknown.push(took);
        bodies.push(body);
    }
    assert!(bodies[0].contains("Wrong username or password."));
    assert!(bodies[0].contains("name=\"password\""), "the form is shown again");
    assert!(bodies.iter().all(|b| *b == bodies[0]), "unknown user and wrong password must give the same page");

    let (w, u) = (median(wrong), median(unknown));
    let ratio = w.as_secs_f64().max(u.as_secs_f64()) / w.as_secs_f64().min(u.as_secs_f64());
    assert!(ratio <= 3.0, "median wrong-password {w:?} vs unknown-user {u:?}: the dummy hash path is missing");
}

#[tokio::test]
async fn bad_credentials_then_good_credentials() {
    let hub = TestHub::start().await;
    let browser = browser();
    let flow = Flow::new(&v4(42001));
    let (request, csrf) = open_login_page(&browser, &hub, &flow).await;
    let resp = submit_login(&browser, &hub, &request, &csrf, USER, "not it").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let html = resp.text().await.unwrap();
    // The re-rendered form carries a new token and the same request.
    let (request2, csrf2) = (hidden_field(&html, "request"), hidden_field(&html, "csrf"));
    assert_eq!(request2, request);
    let resp = submit_login(&browser, &hub, &request2, &csrf2, USER, PASSWORD).await;
    let code = code_from_redirect(&resp, &hub, &flow);
    assert_eq!(exchange(&hub, &flow, &code).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn usernames_are_escaped_in_the_form() {
    let hub = TestHub::start().await;
    let browser = browser();
    let flow = Flow::new(&v4(42002));
    let (request, csrf) = open_login_page(&browser, &hub, &flow).await;
    let resp = submit_login(&browser, &hub, &request, &csrf, "\"><script>alert(1)</script>", "x").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let html = resp.text().await.unwrap();
    assert!(!html.contains("<script>"));
    assert!(html.contains("&quot;&gt;&lt;script&gt;"));
}

async fn expect_csrf_refusal(resp: reqwest::Response) {
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp.headers().get("location").is_none(), "no redirect, no code");
    let html = resp.text().await.unwrap();
    assert!(!html.contains("code="));
}

#[tokio::test]
async fn missing_csrf_field_is_refused() {
    let hub = TestHub::start().await;
    let browser = browser();
    let flow = Flow::new(&v4(42003));
    let (request, _) = open_login_page(&browser, &hub, &flow).await;
    let resp = browser
        .post(hub.at("/login"))
        .form(&[("request", request.as_str()), ("username", USER), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    expect_csrf_refusal(resp).await;
}

#[tokio::test]
async fn mismatched_csrf_token_is_refused() {
    let hub = TestHub::start().await;
    let browser = browser();
    let flow = Flow::new(&v4(42004));
    let (request, csrf) = open_login_page(&browser, &hub, &flow).await;
    let mut forged = csrf.clone().into_bytes();
    forged[20] = if forged[20] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    expect_csrf_refusal(submit_login(&browser, &hub, &request, &forged, USER, PASSWORD).await).await;
}

#[tokio::test]
async fn missing_csrf_cookie_is_refused() {
    // A cross-site form post: the attacker knows a token of their own but the victim's
    // browser has no matching cookie.
    let hub = TestHub::start().await;
    let attacker = browser();
    let flow = Flow::new(&v4(42005));
    let (request, csrf) = open_login_page(&attacker, &hub, &flow).await;
    let victim = browser();
    expect_csrf_refusal(submit_login(&victim, &hub, &request, &csrf, USER, PASSWORD).await).await;
}

#[tokio::test]
async fn expired_or_unknown_request_is_refused() {
    let hub = TestHub::start().await;
    let browser = browser();
    let flow = Flow::new(&v4(42006));
    let (_, csrf) = open_login_page(&browser, &hub, &flow).await;
    // No form was ever served for an unknown request, so it has no CSRF cookie: refused first.
    let resp = submit_login(&browser, &hub, "no-such-request", &csrf, USER, PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp.headers().get("location").is_none());

    let (request, csrf) = open_login_page(&browser, &hub, &flow).await;
    hub.clock.advance(Duration::from_secs(11 * 60));
    let resp = submit_login(&browser, &hub, &request, &csrf, USER, PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.headers().get("location").is_none());
}

#[tokio::test]
async fn two_pending_sign_ins_in_one_browser_do_not_break_each_other() {
    let hub = TestHub::start().await;
    let browser = browser();
    let (a, b) = (Flow::new(&v4(41050)), Flow::new(&v4(41051)));
    // Both forms are open before either is sent (the app and the CLI signing in at once).
    let (request_a, csrf_a) = open_login_page(&browser, &hub, &a).await;
    let (request_b, csrf_b) = open_login_page(&browser, &hub, &b).await;
    let resp = submit_login(&browser, &hub, &request_a, &csrf_a, USER, PASSWORD).await;
    let code = code_from_redirect(&resp, &hub, &a);
    assert_eq!(exchange(&hub, &a, &code).await.status(), StatusCode::OK);
    let resp = submit_login(&browser, &hub, &request_b, &csrf_b, USER, PASSWORD).await;
    let code = code_from_redirect(&resp, &hub, &b);
    assert_eq!(exchange(&hub, &b, &code).await.status(), StatusCode::OK);
    // One request's token does not open another's form.
    let c = Flow::new(&v4(41052));
    let (request_c, _) = open_login_page(&browser, &hub, &c).await;
    let resp = submit_login(&browser, &hub, &request_c, &csrf_a, USER, PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}
