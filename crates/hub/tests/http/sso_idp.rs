//! A real OpenID provider for the SSO tests: node's `oidc-provider` (pinned, installed by
//! `cargo xtask setup` under `~/.cache/keyway-oidc-provider`, or named by `KEYWAY_OIDC_PROVIDER`)
//! run from `tests/sso/provider.mjs` on 127.0.0.1, and a browser that signs in at its pages.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader};

use crate::common::*;

pub const CLIENT_ID: &str = "keyway-hub";
pub const SECRET: &str = "hub-secret-at-the-idp-0123456789abcdef";

/// Where the pinned `oidc-provider` package is.
fn module_dir() -> PathBuf {
    let dir = match std::env::var_os("KEYWAY_OIDC_PROVIDER") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
            .join(".cache/keyway-oidc-provider/node_modules/oidc-provider"),
    };
    assert!(
        dir.join("lib/index.js").is_file(),
        "the SSO tests need npm's oidc-provider at {} (run `cargo xtask setup`, or set KEYWAY_OIDC_PROVIDER to \
         the package's directory)",
        dir.display()
    );
    dir
}

/// One running provider; killed when dropped.
pub struct Idp {
    pub url: String,
    child: tokio::process::Child,
}

impl Idp {
    pub async fn start() -> Idp {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sso/provider.mjs");
        let mut child = tokio::process::Command::new("node")
            .arg(script)
            .env("KEYWAY_OIDC_PROVIDER", module_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start node (the SSO tests need Node.js; `cargo xtask setup` installs it)");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("the OpenID provider did not start within 60 s")
            .expect("read the provider's output")
            .expect("the OpenID provider exited before listening");
        let url = line.strip_prefix("listening ").expect("a 'listening URL' line").trim().to_owned();
        // The provider logs to stdout too: keep reading, or its next line fails (EPIPE) and it exits.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Idp { url, child }
    }

    async fn post(&self, path: &str, body: Value) {
        let resp = reqwest::Client::new().post(format!("{}{path}", self.url)).json(&body).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NO_CONTENT, "{path}: {}", resp.text().await.unwrap_or_default());
    }

    /// Registers the hub as the provider's one confidential client (`extra`: auth_method,
    /// id_token_alg, groups_in_id_token).
    pub async fn client_for(&self, hub: &TestHub, extra: Value) {
        let mut body = json!({
            "client_id": CLIENT_ID,
            "client_secret": SECRET,
            "redirect_uri": hub.at("/sso/callback"),
        });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        self.post("/_test/setup", body).await;
    }

    /// Adds or replaces an account.
    pub async fn account(&self, id: &str, email: &str, preferred_username: Option<&str>, groups: &[&str]) {
        self.post(
            "/_test/account",
            json!({ "id": id, "email": email, "preferred_username": preferred_username, "groups": groups }),
        )
        .await;
    }

    /// New signing keys (new `kid`s).
    pub async fn rotate_keys(&self) {
        self.post("/_test/keys", json!({})).await;
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// The hub's SSO settings for `issuer`: engineering → developer, security → admin,
/// review → reviewer.
pub fn sso_settings(issuer: &str, secret: &str) -> keyway_hub::SsoSettings {
    let mut s = keyway_hub::SsoSettings::new(issuer, CLIENT_ID, keyway_hub::SsoSecret::new(secret));
    s.roles = vec![
        ("engineering".into(), keyway_api::Role::Developer),
        ("security".into(), keyway_api::Role::Admin),
        ("review".into(), keyway_api::Role::Reviewer),
    ];
    s.name = Some("Example IdP".into());
    s
}

fn location(resp: &reqwest::Response) -> String {
    let base = resp.url().clone();
    let raw = resp.headers().get("location").expect("a redirect has a Location").to_str().unwrap();
    base.join(raw).expect("a Location URL").to_string()
}

/// The `action` of the first form in `html`.
fn form_action(html: &str) -> String {
    let start = html.find("action=\"").expect("a form with an action") + "action=\"".len();
    html[start..].split('"').next().unwrap().replace("&amp;", "&")
}

/// From the hub's redirect to the IdP, through the IdP's login page as `account`, to the hub's
/// answer at `/sso/callback` (what the test gets back).
pub async fn through_idp(
    browser: &reqwest::Client,
    hub: &TestHub,
    mut resp: reqwest::Response,
    account: &str,
) -> reqwest::Response {
    for _ in 0..20 {
        if resp.status().is_redirection() {
            let next = location(&resp);
            let at_hub = next.starts_with(&hub.url);
            resp = browser.get(&next).send().await.unwrap();
            if at_hub {
                return resp;
            }
            continue;
        }
        let url = resp.url().clone();
        let status = resp.status();
        let html = resp.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "the provider's page at {url}: {html}");
        let action = url.join(&form_action(&html)).unwrap();
        let form: Vec<(&str, &str)> = if html.contains("name=\"login\"") {
            vec![("prompt", "login"), ("login", account), ("password", "any")]
        } else if html.contains("value=\"consent\"") {
            vec![("prompt", "consent")]
        } else {
            panic!("an unexpected page at {url}: {html}");
        };
        resp = browser.post(action).form(&form).send().await.unwrap();
    }
    panic!("the sign-in at the provider did not come back to the hub");
}

/// Opens the hub's sign-in page for `flow` and presses "Sign in with …": the hub's answer.
pub async fn press_sso_button(browser: &reqwest::Client, hub: &TestHub, flow: &Flow) -> reqwest::Response {
    let resp = browser.get(flow.authorize_url(&hub.url, &[])).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    assert!(html.contains("Sign in with Example IdP"), "{html}");
    let (request, csrf) = (hidden_field(&html, "request"), hidden_field(&html, "csrf"));
    browser.post(hub.at("/login/sso")).form(&[("request", &request), ("csrf", &csrf)]).send().await.unwrap()
}

/// A whole sign-in through the IdP as `account`: the hub's answer to the IdP's callback.
pub async fn sso_sign_in(hub: &TestHub, flow: &Flow, account: &str) -> reqwest::Response {
    let browser = browser();
    let resp = press_sso_button(&browser, hub, flow).await;
    assert_eq!(resp.status(), StatusCode::FOUND, "the hub hands off to the IdP");
    through_idp(&browser, hub, resp, account).await
}

/// A whole sign-in through the IdP that ends with Keyway's tokens.
pub async fn sso_tokens(hub: &TestHub, account: &str) -> keyway_api::TokenResponse {
    let flow = Flow::new(&v4(43311));
    let resp = sso_sign_in(hub, &flow, account).await;
    let code = code_from_redirect(&resp, hub, &flow);
    let resp = exchange(hub, &flow, &code).await;
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
}
