//! Test harness: an in-process hub, a cookie-keeping "browser", and the client side of the
//! authorization code flow with PKCE.

#![allow(dead_code)]

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, VerifyingKey};
use keyway_api::{DESKTOP_CLIENT_ID, Role};
use keyway_hub::{Clock, Hub, HubKey, RunningHub, Settings};
use reqwest::StatusCode;
use serde_json::Value;
use tempfile::TempDir;

pub const USER: &str = "alice";
pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestHub {
    pub url: String,
    pub clock: Clock,
    pub database_url: String,
    /// The hub key the database's signing keys are sealed with.
    pub hub_key: HubKey,
    running: Option<RunningHub>,
    dir: TempDir,
}

/// A new hub key in a `0600` file `hub.key` in `dir`, for commands run with `--key-file`.
pub fn key_file_in(dir: &std::path::Path) -> (HubKey, std::path::PathBuf) {
    let key = HubKey::generate();
    let path = dir.join("hub.key");
    key.write_new_file(&path).expect("write the hub key file");
    (key, path)
}

impl TestHub {
    pub async fn start() -> TestHub {
        TestHub::start_with(|_| {}).await
    }

    /// Starts a hub with user `alice` (developer, admin); `tweak` may change the settings.
    pub async fn start_with(tweak: impl FnOnce(&mut Settings)) -> TestHub {
        TestHub::start_with_users(tweak, &[]).await
    }

    /// Like [`TestHub::start_with`], with more users (`(name, roles)`, password [`PASSWORD`]).
    pub async fn start_with_users(tweak: impl FnOnce(&mut Settings), users: &[(&str, &[Role])]) -> TestHub {
        TestHub::start_with_pats(tweak, users, &[]).await.0
    }

    /// Like [`TestHub::start_with_users`], and a user PAT (audience `cli`) for each of
    /// `pat_owners`, minted on the database as `keyway-hub pat mint` does: their secrets, in order.
    pub async fn start_with_pats(
        tweak: impl FnOnce(&mut Settings),
        users: &[(&str, &[Role])],
        pat_owners: &[&str],
    ) -> (TestHub, Vec<String>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let database_url = database_url(&dir);
        let clock = Clock::system();
        let mut settings = Settings {
            listen: "127.0.0.1:0".parse().unwrap(),
            database_url: database_url.clone(),
            hub_key: Some(HubKey::generate()),
            clock: clock.clone(),
            ..Settings::default()
        };
        tweak(&mut settings);
        let hub_key = settings.hub_key.clone().expect("tests give the hub a key");
        let database_url = settings.database_url.clone();
        let hub = Hub::open(settings).await.expect("open hub");
        hub.create_user(USER, PASSWORD, &[Role::Developer, Role::Admin]).await.expect("create user");
        for (name, roles) in users {
            hub.create_user(name, PASSWORD, roles).await.expect("create user");
        }
        let mut pats = Vec::new();
        for owner in pat_owners {
            pats.push(hub.mint_pat(owner, None, keyway_api::auth::Audience::Cli, None).await.expect("mint pat"));
        }
        let running = hub.serve().await.expect("serve");
        let url = running.issuer.clone();
        // The listen address, not the issuer: an issuer may have a path the hub's routes lack.
        wait_ready(&format!("http://{}", running.addr)).await;
        (TestHub { url, clock, database_url, hub_key, running: Some(running), dir }, pats)
    }

    /// A hub on an existing database (no user is added), listening on `settings.listen`.
    pub async fn open_existing(settings: Settings) -> TestHub {
        let dir = tempfile::tempdir().expect("tempdir");
        let (clock, database_url) = (settings.clock.clone(), settings.database_url.clone());
        let hub_key = settings.hub_key.clone().expect("tests give the hub a key");
        let running = Hub::open(settings).await.expect("open hub").serve().await.expect("serve");
        let url = running.issuer.clone();
        wait_ready(&format!("http://{}", running.addr)).await;
        TestHub { url, clock, database_url, hub_key, running: Some(running), dir }
    }

    /// The address the hub listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.running.as_ref().expect("running").addr
    }

    /// The temp dir the database lives in.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    pub async fn stop(mut self) -> TempDir {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
        self.dir
    }

    /// Stops the hub and starts a new one on the same database and, so that the issuer (and
    /// so the tokens issued before) stays the same, the same address.
    pub async fn restart_same_address(self) -> TestHub {
        self.restart_same_address_after(|| async {}).await
    }

    /// [`TestHub::restart_same_address`], running `between` while the hub is stopped.
    pub async fn restart_same_address_after<F, Fut>(self, between: F) -> TestHub
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        self.restart_same_address_tweaked(between, |_| {}).await
    }

    /// [`TestHub::restart_same_address`] with `tweak` applied to the new hub's settings.
    pub async fn restart_same_address_with(self, tweak: impl FnOnce(&mut Settings)) -> TestHub {
        self.restart_same_address_tweaked(|| async {}, tweak).await
    }

    async fn restart_same_address_tweaked<F, Fut>(self, between: F, tweak: impl FnOnce(&mut Settings)) -> TestHub
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let listen = self.running.as_ref().expect("running").addr;
        let database_url = self.database_url.clone();
        let clock = self.clock.clone();
        let hub_key = self.hub_key.clone();
        let dir = self.stop().await;
        between().await;
        let settings = Settings {
            listen,
            database_url: database_url.clone(),
            hub_key: Some(hub_key.clone()),
            clock: clock.clone(),
            ..Settings::default()
        };
        let mut settings = settings;
        tweak(&mut settings);
        let running = Hub::open(settings).await.expect("reopen").serve().await.expect("serve");
        let url = running.issuer.clone();
        wait_ready(&url).await;
        TestHub { url, clock, database_url, hub_key, running: Some(running), dir }
    }

    /// Stops the hub and starts a new one on the same database.
    pub async fn restart_same_db(self) -> TestHub {
        let database_url = self.database_url.clone();
        let clock = self.clock.clone();
        let hub_key = self.hub_key.clone();
        let dir = self.stop().await;
        let settings = Settings {
            listen: "127.0.0.1:0".parse().unwrap(),
            database_url: database_url.clone(),
            hub_key: Some(hub_key.clone()),
            clock: clock.clone(),
            ..Settings::default()
        };
        let running = Hub::open(settings).await.expect("reopen").serve().await.expect("serve");
        let url = running.issuer.clone();
        wait_ready(&url).await;
        TestHub { url, clock, database_url, hub_key, running: Some(running), dir }
    }
}

impl TestHub {
    /// Another hub of the same deployment: this hub's database, hub key and issuer, its own
    /// address (which its `url` names); `tweak` may change its settings.
    pub async fn beside(&self, tweak: impl FnOnce(&mut Settings)) -> TestHub {
        let mut settings = Settings {
            listen: "127.0.0.1:0".parse().unwrap(),
            database_url: self.database_url.clone(),
            hub_key: Some(self.hub_key.clone()),
            issuer: Some(self.url.clone()),
            clock: self.clock.clone(),
            ..Settings::default()
        };
        tweak(&mut settings);
        let running = Hub::open(settings).await.expect("open the second hub").serve().await.expect("serve");
        let url = format!("http://{}", running.addr);
        wait_ready(&url).await;
        let dir = tempfile::tempdir().expect("tempdir");
        TestHub {
            url,
            clock: self.clock.clone(),
            database_url: self.database_url.clone(),
            hub_key: self.hub_key.clone(),
            running: Some(running),
            dir,
        }
    }
}

/// True when this run tests the hub on PostgreSQL (`KEYWAY_TEST_BACKEND=postgres`), else SQLite.
pub fn on_postgres() -> bool {
    keyway_test_support::postgres::wanted()
}

/// A fresh database for one hub: a SQLite file in `dir`, or a new database on the test
/// PostgreSQL server.
fn database_url(dir: &TempDir) -> String {
    if on_postgres() {
        keyway_test_support::postgres::database().expect("a database on the test PostgreSQL server")
    } else {
        format!("sqlite://{}", dir.path().join("hub.db").display())
    }
}

impl TestHub {
    /// Runs statements on the hub's database behind its back (a second connection): `sqlite`
    /// on SQLite, `postgres` in order on PostgreSQL.
    pub async fn execute_on_db(&self, sqlite: &str, postgres: &[&str]) {
        if on_postgres() {
            let db = sqlx::PgPool::connect(&self.database_url).await.expect("connect to the hub's database");
            for sql in postgres {
                sqlx::query(sql).execute(&db).await.expect(sql);
            }
            db.close().await;
        } else {
            let db = sqlx::SqlitePool::connect(&self.database_url).await.expect("connect to the hub's database");
            sqlx::query(sqlite).execute(&db).await.expect(sqlite);
            db.close().await;
        }
    }
}

/// Polls `/healthz` until the server answers (bounded).
pub async fn wait_ready(base: &str) {
    let client = reqwest::Client::new();
    for _ in 0..500 {
        if let Ok(resp) = client.get(format!("{base}/healthz")).send().await
            && resp.status() == StatusCode::OK
        {
            return;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("hub at {base} never became ready");
}

pub use keyway_test_support::{Flow, browser};

/// Value of the hidden input `name` in a login page.
pub fn hidden_field(html: &str, name: &str) -> String {
    keyway_test_support::hidden_field(html, name).unwrap_or_else(|| panic!("no hidden field {name} in:\n{html}"))
}

/// The login form of a fresh authorization request: (request id, csrf token).
pub async fn open_login_page(browser: &reqwest::Client, hub: &TestHub, flow: &Flow) -> (String, String) {
    let resp = browser.get(flow.authorize_url(&hub.url, &[])).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "authorize should show the login page");
    let html = resp.text().await.unwrap();
    assert!(html.contains("Sign in to Keyway"), "{html}");
    (hidden_field(&html, "request"), hidden_field(&html, "csrf"))
}

/// Submits the login form.
pub async fn submit_login(
    browser: &reqwest::Client,
    hub: &TestHub,
    request: &str,
    csrf: &str,
    username: &str,
    password: &str,
) -> reqwest::Response {
    browser
        .post(hub.at("/login"))
        .form(&[("request", request), ("csrf", csrf), ("username", username), ("password", password)])
        .send()
        .await
        .unwrap()
}

/// Query parameters of a redirect, after checking it goes to `flow.redirect_uri`.
pub fn redirect_params(resp: &reqwest::Response, flow: &Flow) -> Vec<(String, String)> {
    let location = redirect_location(resp);
    assert!(
        location.starts_with(&format!("{}?", flow.redirect_uri)),
        "redirect {location} does not go to {}",
        flow.redirect_uri
    );
    let url = url::Url::parse(&location).unwrap();
    url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn redirect_location(resp: &reqwest::Response) -> String {
    assert_eq!(resp.status(), StatusCode::FOUND, "expected a redirect");
    resp.headers().get("location").expect("Location").to_str().unwrap().to_owned()
}

pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The browser side: authorize, sign in as `alice`, return the code from the redirect.
pub async fn get_code(browser: &reqwest::Client, hub: &TestHub, flow: &Flow) -> String {
    get_code_as(browser, hub, flow, USER, PASSWORD).await
}

/// [`get_code`] for any user.
pub async fn get_code_as(browser: &reqwest::Client, hub: &TestHub, flow: &Flow, user: &str, password: &str) -> String {
    keyway_test_support::authorization_code(browser, &hub.url, flow, user, password)
        .await
        .unwrap_or_else(|e| panic!("sign-in of {user}: {e:#}"))
}

/// The code of a login's redirect, after checking it goes to the flow's redirect URI, echoes
/// the state, names the issuer (RFC 9207) and carries no error.
pub fn code_from_redirect(resp: &reqwest::Response, hub: &TestHub, flow: &Flow) -> String {
    keyway_test_support::code_from_location(&redirect_location(resp), &hub.url, flow)
        .unwrap_or_else(|e| panic!("{e:#}"))
}

/// Token endpoint call with form parameters.
pub async fn token_request(hub: &TestHub, form: &[(&str, &str)]) -> reqwest::Response {
    reqwest::Client::new().post(hub.at("/oauth/token")).form(form).send().await.unwrap()
}

pub async fn exchange(hub: &TestHub, flow: &Flow, code: &str) -> reqwest::Response {
    keyway_test_support::exchange_code(&hub.url, flow, code).await.unwrap()
}

pub async fn refresh(hub: &TestHub, refresh_token: &str) -> reqwest::Response {
    token_request(
        hub,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh_token), ("client_id", DESKTOP_CLIENT_ID)],
    )
    .await
}

/// Full flow up to a successful token response.
pub async fn sign_in(hub: &TestHub, redirect_uri: &str) -> (Flow, keyway_api::TokenResponse) {
    let flow = Flow::new(redirect_uri);
    let tokens =
        keyway_test_support::sign_in(&hub.url, &flow, USER, PASSWORD).await.unwrap_or_else(|e| panic!("{e:#}"));
    (flow, tokens)
}

/// A browser sign-in as `user` (password [`PASSWORD`]): its access token.
pub async fn access_token_of(hub: &TestHub, user: &str) -> String {
    let flow = Flow::new(&v4(43999));
    let tokens = keyway_test_support::sign_in(&hub.url, &flow, user, PASSWORD)
        .await
        .unwrap_or_else(|e| panic!("sign-in of {user}: {e:#}"));
    tokens.access_token
}

/// Asserts an OAuth JSON error and returns its body.
pub async fn expect_error(resp: reqwest::Response, status: StatusCode, code: &str) -> keyway_api::ErrorBody {
    assert_eq!(resp.status(), status);
    let content_type = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(content_type.as_deref(), Some("application/json"));
    let body: keyway_api::ErrorBody = resp.json().await.expect("JSON error body");
    assert_eq!(body.error, code, "{body:?}");
    assert!(!body.message.is_empty());
    body
}

pub async fn userinfo(hub: &TestHub, access_token: &str) -> reqwest::Response {
    reqwest::Client::new().get(hub.at("/oauth/userinfo")).bearer_auth(access_token).send().await.unwrap()
}

/// Verifies a compact JWS against the hub's JWKS and returns (header, claims).
pub async fn verify_jwt(hub: &TestHub, token: &str) -> (Value, Value) {
    let jwks: Value = reqwest::get(hub.at("/oauth/jwks")).await.unwrap().json().await.unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(header["alg"], "EdDSA");
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("kid of the token is in the JWKS");
    let x: [u8; 32] = URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap().try_into().unwrap();
    let key = VerifyingKey::from_bytes(&x).unwrap();
    let sig: [u8; 64] = URL_SAFE_NO_PAD.decode(parts[2]).unwrap().try_into().unwrap();
    key.verify_strict(format!("{}.{}", parts[0], parts[1]).as_bytes(), &Signature::from_bytes(&sig))
        .expect("signature verifies against the JWKS");
    (header, claims)
}

pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// A loopback redirect on `port`.
pub fn v4(port: u16) -> String {
    format!("http://127.0.0.1:{port}/callback")
}

pub fn v6(port: u16) -> String {
    format!("http://[::1]:{port}/callback")
}

/// A minimal `text/event-stream` reader.
pub struct Sse {
    resp: reqwest::Response,
    buf: String,
}

impl Sse {
    pub async fn open(hub: &TestHub, token: &str) -> Sse {
        Sse::open_after(hub, token, None).await
    }

    pub async fn open_after(hub: &TestHub, token: &str, last_event_id: Option<&str>) -> Sse {
        let mut req = reqwest::Client::new().get(hub.at("/api/reviews/events")).bearer_auth(token);
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        let mut sse = Sse { resp, buf: String::new() };
        // The hub greets every subscriber once it is registered.
        let first = sse.frame().await;
        assert!(first.starts_with(": subscribed"), "{first}");
        sse
    }

    /// The next frame (bounded wait).
    pub async fn frame(&mut self) -> String {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                if let Some(end) = self.buf.find("\n\n") {
                    let frame = self.buf[..end].to_owned();
                    self.buf.drain(..end + 2);
                    if frame.trim().is_empty() || frame.trim() == ":" {
                        continue;
                    }
                    return frame;
                }
                let chunk = self.resp.chunk().await.unwrap().expect("the stream ended");
                self.buf.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await
        .expect("an event within 10 s")
    }

    /// The next review event, with its SSE event name.
    pub async fn event(&mut self) -> (String, keyway_api::reviews::ReviewEvent) {
        let (name, _, event) = self.event_with_id().await;
        (name, event)
    }

    /// The next event: (name, id, event); a `resync` has no review event.
    pub async fn raw_event(&mut self) -> (String, String, String) {
        loop {
            let frame = self.frame().await;
            if frame.starts_with(':') {
                continue;
            }
            let field = |name: &str| -> String {
                frame.lines().filter_map(|l| l.strip_prefix(name)).collect::<Vec<_>>().join("")
            };
            return (field("event: "), field("id: "), field("data: "));
        }
    }

    pub async fn event_with_id(&mut self) -> (String, String, keyway_api::reviews::ReviewEvent) {
        let (name, id, data) = self.raw_event().await;
        (name, id, serde_json::from_str(&data).unwrap_or_else(|e| panic!("{e}: {data}")))
    }
}
