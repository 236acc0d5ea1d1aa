//! Client ID Metadata Documents: a `client_id` that is a URL names the client's metadata, which
//! the hub fetches (here from a document server of the test on 127.0.0.1, allowed only by
//! `insecure_client_metadata_loopback`), checks and caches. A mismatched `client_id`, an
//! unregistered redirect URI, a document too large, a redirect, and a loopback address without
//! the insecure setting are refused with `invalid_client` (or an error page at authorize).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::{Json, Router};
use reqwest::StatusCode;
use serde_json::json;

use crate::common::*;

/// A document server on 127.0.0.1: its base URL and how many documents it served.
struct Docs {
    base: String,
    hits: Arc<AtomicUsize>,
}

async fn serve_docs() -> Docs {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let doc = |id: String, redirect: &str| {
        json!({
            "client_id": id,
            "client_name": "Doc client",
            "redirect_uris": [redirect],
            "token_endpoint_auth_method": "none",
        })
    };
    let (good, mismatch, large, bad_redirect) = (
        doc(format!("{base}/good"), "http://127.0.0.1/callback"),
        doc(format!("{base}/other"), "http://127.0.0.1/callback"),
        json!({"client_id": format!("{base}/large"), "redirect_uris": ["http://127.0.0.1/callback"], "logo_uri": "x".repeat(6000)}),
        doc(format!("{base}/bad-redirect"), "http://example.com/callback"),
    );
    let app = Router::new()
        .route(
            "/good",
            get(|State(hits): State<Arc<AtomicUsize>>| async move {
                hits.fetch_add(1, Ordering::SeqCst);
                Json(good)
            }),
        )
        .route("/mismatch", get(|| async move { Json(mismatch) }))
        .route("/large", get(|| async move { Json(large) }))
        .route("/bad-redirect", get(|| async move { Json(bad_redirect) }))
        .route("/moved", get(|| async { Redirect::temporary("/good").into_response() }))
        .with_state(hits.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Docs { base, hits }
}

/// A token request naming `client_id` with a code that does not exist: the client is judged
/// first.
async fn token_as(hub: &TestHub, client_id: &str) -> reqwest::Response {
    token_request(
        hub,
        &[
            ("grant_type", "authorization_code"),
            ("code", "no-such-code"),
            ("redirect_uri", "http://127.0.0.1:43141/callback"),
            ("client_id", client_id),
            ("code_verifier", "v".repeat(43).as_str()),
        ],
    )
    .await
}

async fn refused(hub: &TestHub, client_id: &str, why: &str) {
    let body = expect_error(token_as(hub, client_id).await, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let said = body.error_description.unwrap_or(body.message);
    assert!(said.contains(why), "{client_id}: {said}");
}

#[tokio::test]
async fn a_metadata_document_client_signs_in_and_is_cached() {
    let docs = serve_docs().await;
    let hub = TestHub::start_with(|s| s.insecure_client_metadata_loopback = true).await;
    let meta: serde_json::Value =
        reqwest::get(hub.at("/.well-known/oauth-authorization-server")).await.unwrap().json().await.unwrap();
    assert_eq!(meta["client_id_metadata_document_supported"], true);

    let client_id = format!("{}/good", docs.base);
    let flow = Flow::new("http://127.0.0.1:43141/callback");
    let browser = browser();
    let url = flow.authorize_url(&hub.url, &[("client_id", Some(&client_id))]);
    let page = browser.get(&url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(page.contains("Doc client (127.0.0.1)"));
    // After a wrong password the form still names the client.
    let wrong =
        submit_login(&browser, &hub, &hidden_field(&page, "request"), &hidden_field(&page, "csrf"), USER, "nope").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.text().await.unwrap().contains("Doc client (127.0.0.1)"));
    let location = keyway_test_support::log_in(&browser, &url, USER, PASSWORD).await.unwrap();
    let code = keyway_test_support::code_from_location(&location, &hub.url, &flow).unwrap();
    let resp = token_request(
        &hub,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &flow.redirect_uri),
            ("client_id", &client_id),
            ("code_verifier", &flow.verifier),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let tokens: keyway_api::TokenResponse = resp.json().await.unwrap();
    assert_eq!(verify_jwt(&hub, &tokens.access_token).await.1["client_id"], client_id);
    assert_eq!(docs.hits.load(Ordering::SeqCst), 1, "fetched once, then cached");

    // A redirect URI the document does not list: nothing is sent there.
    let other = Flow::new("http://127.0.0.1:43141/elsewhere");
    let resp = browser.get(other.authorize_url(&hub.url, &[("client_id", Some(&client_id))])).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains("Invalid redirect address"));
}

#[tokio::test]
async fn bad_metadata_documents_are_refused_with_invalid_client() {
    let docs = serve_docs().await;
    let hub = TestHub::start_with(|s| s.insecure_client_metadata_loopback = true).await;
    let base = &docs.base;
    refused(&hub, &format!("{base}/mismatch"), "is not the URL it was fetched from").await;
    refused(&hub, &format!("{base}/large"), "larger than 5120 bytes").await;
    refused(&hub, &format!("{base}/moved"), "redirects are not followed").await;
    refused(&hub, &format!("{base}/bad-redirect"), "redirect URI refused").await;
    refused(&hub, &format!("{base}/"), "must have a path").await;
    refused(&hub, &format!("{base}/good#x"), "fragment").await;
    // At authorize, a refused document is an error page, not a redirect.
    let flow = Flow::new("http://127.0.0.1:43141/callback");
    let mismatch = format!("{base}/mismatch");
    let resp = browser().get(flow.authorize_url(&hub.url, &[("client_id", Some(&mismatch))])).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains("is not the URL it was fetched from"));
}

#[tokio::test]
async fn without_the_insecure_setting_loopback_and_plain_http_are_refused() {
    let docs = serve_docs().await;
    let hub = TestHub::start().await;
    refused(&hub, &format!("{}/good", docs.base), "must use https").await;
    // `localhost` is refused once resolved: its addresses are loopback ones.
    let port = docs.base.rsplit(':').next().unwrap();
    refused(&hub, &format!("https://localhost:{port}/good"), "non-public address").await;
    refused(&hub, &format!("https://127.0.0.1:{port}/good"), "non-public address (127.0.0.1)").await;
    refused(&hub, &format!("https://10.0.0.1:{port}/good"), "non-public address (10.0.0.1)").await;
    refused(&hub, "https://169.254.169.254/latest/meta-data", "non-public address").await;
    assert_eq!(docs.hits.load(Ordering::SeqCst), 0, "nothing was fetched");
}
