//! A headless sign-in against a running Keyway hub, for tests and benchmarks: the hub's
//! authorization endpoint, its login form and its token endpoint driven over HTTP without a
//! browser (authorization code + PKCE S256).
//!
//! It speaks only HTTP to the hub, so keyway-hub's own tests can use it without a dependency
//! circle. [`postgres`] starts a throwaway PostgreSQL server for the hub's tests on that backend;
//! [`ledger`] writes down the secrets a test sees, for the secret scan at the end of the run.

pub mod ledger;
pub mod postgres;

use anyhow::{Context as _, Result, anyhow, ensure};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyway_api::{DESKTOP_CLIENT_ID, TokenResponse};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

/// A loopback redirect nothing listens on: fine when only the code in it is wanted.
pub const UNUSED_LOOPBACK: &str = "http://127.0.0.1:9/callback";

/// `n` bytes from the OS CSPRNG, base64url without padding.
pub fn random_b64(n: usize) -> String {
    let mut buf = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// The S256 code challenge of a PKCE verifier.
pub fn challenge_of(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A browser: keeps cookies, does not follow redirects.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// A native client's side of one authorization request (the desktop client).
#[derive(Clone, Debug)]
pub struct Flow {
    pub redirect_uri: String,
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    pub scope: String,
}

impl Flow {
    /// Fresh state, nonce and PKCE verifier; scope `openid profile offline_access`.
    pub fn new(redirect_uri: &str) -> Flow {
        Flow {
            redirect_uri: redirect_uri.to_owned(),
            state: random_b64(16),
            nonce: random_b64(16),
            verifier: random_b64(32),
            scope: "openid profile offline_access".to_owned(),
        }
    }

    /// Standard authorize parameters; `overrides` replace (or with `None`, remove) some.
    pub fn params(&self, overrides: &[(&str, Option<&str>)]) -> Vec<(String, String)> {
        let challenge = challenge_of(&self.verifier);
        let mut params: Vec<(String, String)> = [
            ("response_type", "code"),
            ("client_id", DESKTOP_CLIENT_ID),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("scope", self.scope.as_str()),
            ("state", self.state.as_str()),
            ("nonce", self.nonce.as_str()),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        for (name, value) in overrides {
            params.retain(|(k, _)| k != name);
            if let Some(v) = value {
                params.push(((*name).to_owned(), (*v).to_owned()));
            }
        }
        params
    }

    /// The authorize URL at the hub `issuer` (its base URL).
    pub fn authorize_url(&self, issuer: &str, overrides: &[(&str, Option<&str>)]) -> String {
        let mut url = url::Url::parse(&format!("{issuer}/oauth/authorize")).expect("hub URL");
        url.query_pairs_mut().extend_pairs(self.params(overrides));
        url.to_string()
    }
}

/// The value of the hidden `<input name=NAME value=…>` in a page, HTML entities decoded.
pub fn hidden_field(html: &str, name: &str) -> Option<String> {
    let needle = format!("name=\"{name}\"");
    let tag_start = html.find(&needle).and_then(|i| html[..i].rfind("<input"))?;
    let tag = &html[tag_start..tag_start + html[tag_start..].find('>')?];
    let v = tag.split("value=\"").nth(1)?.split('"').next()?;
    Some(
        v.replace("&quot;", "\"")
            .replace("&#x27;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// The browser's part: open `authorize_url`, sign in on the hub's page as `user`, and return
/// where the hub redirects to (the `Location` of its 302). `http` should keep cookies and not
/// follow redirects ([`browser`]).
pub async fn log_in(http: &reqwest::Client, authorize_url: &str, user: &str, password: &str) -> Result<String> {
    ledger::record(ledger::Kind::Password, password);
    let page = http.get(authorize_url).send().await?;
    ensure!(page.status() == 200, "authorize answered {}", page.status());
    let html = page.text().await?;
    ensure!(html.contains("Sign in to Keyway"), "authorize did not show the login page: {html}");
    let csrf = hidden_field(&html, "csrf").ok_or_else(|| anyhow!("no csrf field in {html}"))?;
    let request = hidden_field(&html, "request").ok_or_else(|| anyhow!("no request field in {html}"))?;
    let login = url::Url::parse(authorize_url)?.join("/login")?;
    let resp = http
        .post(login)
        .form(&[("request", request.as_str()), ("csrf", csrf.as_str()), ("username", user), ("password", password)])
        .send()
        .await?;
    ensure!(
        resp.status() == 302,
        "login of {user} answered {}: {}",
        resp.status(),
        resp.text().await.unwrap_or_default()
    );
    Ok(resp.headers().get("location").context("no Location after sign-in")?.to_str()?.to_owned())
}

/// The code in the hub's redirect `location`, after checking that it goes to the flow's
/// redirect URI, echoes its state, names the issuer (RFC 9207) and carries no error.
pub fn code_from_location(location: &str, issuer: &str, flow: &Flow) -> Result<String> {
    ensure!(
        location.starts_with(&format!("{}?", flow.redirect_uri)),
        "redirect {location} does not go to {}",
        flow.redirect_uri
    );
    let params: Vec<(String, String)> =
        url::Url::parse(location)?.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    ensure!(param("state") == Some(flow.state.as_str()), "state must be echoed: {location}");
    ensure!(param("iss") == Some(issuer), "iss must be sent (RFC 9207): {location}");
    ensure!(param("error").is_none(), "the hub answered an error: {location}");
    let code = param("code").map(str::to_owned).context("no code in the redirect")?;
    ledger::record(ledger::Kind::AuthorizationCode, &code);
    Ok(code)
}

/// The browser side of a flow: sign in as `user` and return the authorization code.
pub async fn authorization_code(
    http: &reqwest::Client,
    issuer: &str,
    flow: &Flow,
    user: &str,
    password: &str,
) -> Result<String> {
    let location = log_in(http, &flow.authorize_url(issuer, &[]), user, password).await?;
    code_from_location(&location, issuer, flow)
}

/// The token endpoint's answer to the flow's code (with its PKCE verifier), as it comes.
pub async fn exchange_code(issuer: &str, flow: &Flow, code: &str) -> reqwest::Result<reqwest::Response> {
    reqwest::Client::new()
        .post(format!("{issuer}/oauth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", flow.redirect_uri.as_str()),
            ("client_id", DESKTOP_CLIENT_ID),
            ("code_verifier", flow.verifier.as_str()),
        ])
        .send()
        .await
}

/// The whole headless sign-in: authorize, the login form as `user`, the code exchange.
pub async fn sign_in(issuer: &str, flow: &Flow, user: &str, password: &str) -> Result<TokenResponse> {
    let code = authorization_code(&browser(), issuer, flow, user, password).await?;
    let resp = exchange_code(issuer, flow, &code).await?;
    ensure!(resp.status() == 200, "token endpoint answered {} for {user}: {}", resp.status(), resp.text().await?);
    let tokens: TokenResponse = resp.json().await?;
    ledger::record_token_response(&tokens);
    Ok(tokens)
}

/// A sign-in as `user` (scope `openid profile`): its access token.
pub async fn access_token(issuer: &str, user: &str, password: &str) -> Result<String> {
    let flow = Flow { scope: "openid profile".to_owned(), ..Flow::new(UNUSED_LOOPBACK) };
    Ok(sign_in(issuer, &flow, user, password).await?.access_token)
}

/// Polls `request` once, so that it is under way (connecting to the hub), says so on `sent`,
/// then finishes it: a test can wait for the first without a fixed sleep.
pub async fn under_way<F: std::future::Future>(request: F, sent: tokio::sync::oneshot::Sender<()>) -> F::Output {
    let mut request = std::pin::pin!(request);
    let first = std::future::poll_fn(|cx| std::task::Poll::Ready(request.as_mut().poll(cx))).await;
    let _ = sent.send(());
    match first {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => request.await,
    }
}
