//! `/oauth/authorize`: parameter checks, redirect URI matching, error pages vs error redirects.

use keyway_api::Role;
use reqwest::StatusCode;

use crate::common::*;

/// Asserts `resp` is the HTML error page: 400, no redirect, nothing about a code.
async fn expect_error_page(resp: reqwest::Response) {
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.headers().get("location").is_none(), "must never redirect");
    let content_type = resp.headers().get("content-type").unwrap().to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = resp.text().await.unwrap();
    assert!(html.contains("<main>"));
    assert!(!html.contains("name=\"password\""), "no login form on an error page");
}

/// Asserts an error redirect to the client with `state` and `iss`.
fn expect_error_redirect(resp: &reqwest::Response, hub: &TestHub, flow: &Flow, code: &str) -> String {
    let params = redirect_params(resp, flow);
    assert_eq!(param(&params, "error"), Some(code), "{params:?}");
    assert_eq!(param(&params, "state"), Some(flow.state.as_str()));
    assert_eq!(param(&params, "iss"), Some(hub.url.as_str()));
    assert_eq!(param(&params, "code"), None);
    param(&params, "error_description").expect("error_description").to_owned()
}

#[tokio::test]
async fn plain_code_challenge_method_is_refused() {
    let hub = TestHub::start().await;
    let flow = Flow::new(&v4(41001));
    let resp =
        browser().get(flow.authorize_url(&hub.url, &[("code_challenge_method", Some("plain"))])).send().await.unwrap();
    let description = expect_error_redirect(&resp, &hub, &flow, "invalid_request");
    assert!(description.contains("S256"), "{description}");
}

#[tokio::test]
async fn missing_code_challenge_method_is_refused() {
    let hub = TestHub::start().await;
    let flow = Flow::new(&v4(41002));
    let resp = browser().get(flow.authorize_url(&hub.url, &[("code_challenge_method", None)])).send().await.unwrap();
    expect_error_redirect(&resp, &hub, &flow, "invalid_request");
}

#[tokio::test]
async fn missing_code_challenge_is_refused() {
    let hub = TestHub::start().await;
    let flow = Flow::new(&v4(41003));
    let resp = browser().get(flow.authorize_url(&hub.url, &[("code_challenge", None)])).send().await.unwrap();
    let description = expect_error_redirect(&resp, &hub, &flow, "invalid_request");
    assert!(description.contains("code_challenge"), "{description}");
}

#[tokio::test]
async fn malformed_code_challenge_is_refused() {
    let hub = TestHub::start().await;
    let flow = Flow::new(&v4(41004));
    for bad in ["short", &"a".repeat(44), &format!("{}+", "a".repeat(42)), &format!("{}=", "a".repeat(42))] {
        let resp = browser().get(flow.authorize_url(&hub.url, &[("code_challenge", Some(bad))])).send().await.unwrap();
        expect_error_redirect(&resp, &hub, &flow, "invalid_request");
    }
}

#[tokio::test]
async fn unsupported_response_type_and_scope_are_refused() {
    let hub = TestHub::start().await;
    let flow = Flow::new(&v4(41005));
    let resp = browser().get(flow.authorize_url(&hub.url, &[("response_type", Some("token"))])).send().await.unwrap();
    expect_error_redirect(&resp, &hub, &flow, "unsupported_response_type");
    let resp = browser().get(flow.authorize_url(&hub.url, &[("scope", Some("openid root"))])).send().await.unwrap();
    expect_error_redirect(&resp, &hub, &flow, "invalid_scope");
}

#[tokio::test]
async fn missing_state_is_refused() {
    let hub = TestHub::start().await;
    let flow = Flow::new(&v4(41006));
    let resp = browser().get(flow.authorize_url(&hub.url, &[("state", None)])).send().await.unwrap();
    let params = redirect_params(&resp, &flow);
    assert_eq!(param(&params, "error"), Some("invalid_request"));
    assert_eq!(param(&params, "state"), None);
}

#[tokio::test]
async fn bad_redirect_uris_get_an_error_page_never_a_redirect() {
    let hub = TestHub::start().await;
    let bad = [
        "http://127.0.0.1:41007/other",     // path
        "http://127.0.0.1:41007/callback/", // path (trailing slash)
        "http://127.0.0.2:41007/callback",  // host
        "http://10.0.0.1:41007/callback",   // host
        "https://127.0.0.1:41007/callback", // scheme
        "http://localhost:41007/callback",  // RFC 8252 §8.3: IP literals only
        "http://localhost/callback",
        "http://127.0.0.1:41007/callback?extra=1",
        "https://evil.example/callback",
        "app.keyway.desktop:/oauth/other",
    ];
    for redirect in bad {
        let flow = Flow::new(redirect);
        let resp = browser().get(flow.authorize_url(&hub.url, &[])).send().await.unwrap();
        expect_error_page(resp).await;
    }
    // Missing redirect_uri, unknown client, missing client.
    let flow = Flow::new(&v4(41007));
    for overrides in
        [vec![("redirect_uri", None)], vec![("client_id", Some("not-a-client"))], vec![("client_id", None)]]
    {
        let resp = browser().get(flow.authorize_url(&hub.url, &overrides)).send().await.unwrap();
        expect_error_page(resp).await;
    }
}

#[tokio::test]
async fn error_page_escapes_nothing_back() {
    // The error page must not reflect attacker-controlled input.
    let hub = TestHub::start().await;
    let flow = Flow::new("http://127.0.0.1:1/<script>alert(1)</script>");
    let resp = browser().get(flow.authorize_url(&hub.url, &[])).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(!resp.text().await.unwrap().contains("<script>"));
}

#[tokio::test]
async fn both_loopback_forms_work_on_any_port() {
    let hub = TestHub::start().await;
    for redirect in [v4(41010), v4(52011), v6(41012), v6(52013)] {
        let (flow, tokens) = sign_in(&hub, &redirect).await;
        assert_eq!(flow.redirect_uri, redirect);
        assert!(tokens.refresh_token.is_some());
    }
}

#[tokio::test]
async fn deep_link_redirect_works() {
    let hub = TestHub::start().await;
    let (_, tokens) = sign_in(&hub, keyway_api::DEEP_LINK_REDIRECT).await;
    assert!(tokens.id_token.is_some());
}

/// The desktop client's private-use redirect (RFC 8252 §7.1) is matched exactly: any other
/// scheme, path, authority form or query is refused with an error page, never a redirect (the
/// OS would hand such a URL to whichever app claims the scheme).
#[tokio::test]
async fn unregistered_deep_link_redirects_are_refused() {
    let hub = TestHub::start().await;
    let bad = [
        "keyway:/oauth/callback", // our link scheme is not a redirect
        "keyway://oauth/callback",
        "com.example.evil:/oauth/callback",       // someone else's private-use scheme
        "desktop.keyway.app:/oauth/callback",     // the domain in the wrong order
        "app.keyway.desktop:/oauth/callback/",    // path
        "app.keyway.desktop:/oauth/callback?x=1", // query
        "app.keyway.desktop:/OAUTH/callback",
        "app.keyway.desktop://oauth/callback", // authority form
        "APP.KEYWAY.DESKTOP:/oauth/callback",  // not the registered spelling
        "app.keyway.desktop:oauth/callback",
    ];
    for redirect in bad {
        let flow = Flow::new(redirect);
        let resp = browser().get(flow.authorize_url(&hub.url, &[])).send().await.unwrap();
        expect_error_page(resp).await;
    }
}

/// RFC 8252 §8.3: "localhost" may resolve to something other than the loopback interface and
/// lets another program that binds it on another interface receive the code, so native clients
/// use the IP literal. The hub therefore refuses every `localhost` spelling for the desktop
/// client (rather than treating it as a loopback redirect with any port).
#[tokio::test]
async fn localhost_redirects_are_refused_for_the_desktop_client() {
    let hub = TestHub::start().await;
    for redirect in [
        "http://localhost/callback",
        "http://localhost:41030/callback",
        "http://LOCALHOST:41030/callback",
        "http://localhost.:41030/callback",
        "https://localhost:41030/callback",
        "http://sub.localhost:41030/callback",
    ] {
        let flow = Flow::new(redirect);
        let resp = browser().get(flow.authorize_url(&hub.url, &[])).send().await.unwrap();
        expect_error_page(resp).await;
    }
}

#[tokio::test]
async fn login_page_has_the_security_headers_and_an_accessible_form() {
    let hub = TestHub::start().await;
    let flow = Flow::new(&v4(41020));
    let resp = browser().get(flow.authorize_url(&hub.url, &[])).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let h = resp.headers();
    assert_eq!(h.get("cache-control").unwrap(), "no-store");
    assert_eq!(h.get("x-frame-options").unwrap(), "DENY");
    assert_eq!(h.get("referrer-policy").unwrap(), "no-referrer");
    let csp = h.get("content-security-policy").unwrap().to_str().unwrap();
    // No page may frame the sign-in form (clickjacking), whatever the browser's X-Frame-Options.
    assert!(
        csp.starts_with("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'"),
        "{csp}"
    );
    // The POST's final redirect to the client must be allowed too (browsers check form-action
    // on redirects).
    assert!(csp.ends_with(" http://127.0.0.1:41020"), "{csp}");
    let cookie = h
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("kw_csrf_"))
        .expect("csrf cookie");
    assert!(cookie.contains("HttpOnly"));
    assert!(cookie.contains("SameSite=Strict"));
    assert!(cookie.contains("Path=/login"));
    let html = resp.text().await.unwrap();
    for needle in [
        "<main>",
        "<h1>Sign in to Keyway</h1>",
        "<form method=\"post\" action=\"/login\">",
        "<label for=\"username\">",
        "name=\"username\"",
        "<label for=\"password\">",
        "name=\"password\" type=\"password\"",
        "autofocus",
        ">Sign in</button>",
        "name=\"request\"",
        "name=\"csrf\"",
    ] {
        assert!(html.contains(needle), "missing {needle} in:\n{html}");
    }
    assert!(!html.contains("<script"), "no JavaScript");
}

#[tokio::test]
async fn a_signed_in_browser_still_confirms_every_native_sign_in() {
    let hub = TestHub::start().await;
    let browser = browser();
    let first = Flow::new(&v4(41030));
    let code = get_code(&browser, &hub, &first).await;
    assert_eq!(exchange(&hub, &first, &code).await.status(), StatusCode::OK);

    // RFC 8252 §8.6: the browser is signed in, yet a new request shows the form, not a code.
    let second = Flow::new(&v6(41031));
    let resp = browser.get(second.authorize_url(&hub.url, &[])).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "a code was issued without interaction");
    assert!(resp.headers().get("location").is_none());
    assert!(resp.text().await.unwrap().contains("name=\"password\""));

    // prompt=none cannot succeed: interaction_required when signed in, login_required if not.
    let third = Flow::new(&v4(41032));
    let resp = browser.get(third.authorize_url(&hub.url, &[("prompt", Some("none"))])).send().await.unwrap();
    expect_error_redirect(&resp, &hub, &third, "interaction_required");
    let resp = self::browser().get(third.authorize_url(&hub.url, &[("prompt", Some("none"))])).send().await.unwrap();
    expect_error_redirect(&resp, &hub, &third, "login_required");
}

#[tokio::test]
async fn session_cookie_is_http_only_and_lax() {
    let hub = TestHub::start().await;
    let browser = browser();
    let flow = Flow::new(&v4(41040));
    let (request, csrf) = open_login_page(&browser, &hub, &flow).await;
    let resp = submit_login(&browser, &hub, &request, &csrf, USER, PASSWORD).await;
    let cookies: Vec<String> =
        resp.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    let session = cookies.iter().find(|c| c.starts_with("kw_session=")).expect("session cookie");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax") && session.contains("Path=/"));
    assert!(!session.contains("Secure"), "http issuer: no Secure flag");
    code_from_redirect(&resp, &hub, &flow);

    // The pending request is single use.
    let again = submit_login(&browser, &hub, &request, &csrf, USER, PASSWORD).await;
    assert_ne!(again.status(), StatusCode::FOUND);
}

#[tokio::test]
async fn sign_in_requests_are_capped_per_address_and_in_all_and_a_cap_says_when_to_come_back() {
    let hub = TestHub::start_with(|s| {
        s.pending_per_address = 5;
        s.pending_total = 1_000;
    })
    .await;
    let flow = Flow::new(&v4(41001));
    let pending = |hub: &TestHub| {
        let hub = hub.url.clone();
        async move { browser().get(Flow::new(&v4(41001)).authorize_url(&hub, &[])).send().await.unwrap() }
    };
    for _ in 0..5 {
        assert_eq!(pending(&hub).await.status(), StatusCode::OK, "a sign-in request within the cap");
    }
    let over = browser().get(flow.authorize_url(&hub.url, &[])).send().await.unwrap();
    assert_eq!(over.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = over.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(wait > 0 && wait <= 15 * 60, "Retry-After {wait}");
    let html = over.text().await.unwrap();
    assert!(html.contains("too many sign-in requests") && !html.contains("name=\"password\""), "{html}");

    // The total: a hub with room for 3 pending requests refuses the fourth with 503, and once
    // a sign-in has used one up, a new one fits again.
    let small = TestHub::start_with_users(|s| s.pending_total = 3, &[("ada", &[Role::Developer])]).await;
    let b = browser();
    let first = Flow::new(&v4(41001));
    let (request, csrf) = open_login_page(&b, &small, &first).await;
    for _ in 0..2 {
        assert_eq!(pending(&small).await.status(), StatusCode::OK);
    }
    let full = pending(&small).await;
    assert_eq!(full.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(full.headers().contains_key("retry-after"));
    let signed_in = submit_login(&b, &small, &request, &csrf, "ada", PASSWORD).await;
    assert!(signed_in.status().is_redirection(), "the sign-in within the cap: {}", signed_in.status());
    assert_eq!(pending(&small).await.status(), StatusCode::OK, "a used request makes room");
}
