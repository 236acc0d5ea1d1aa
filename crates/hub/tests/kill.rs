//! A `keyway-hub serve` process killed with SIGKILL in the middle of a bounded mixed load
//! (review submissions and votes, PAT mints, exchanges and revocations, browser sign-ins from
//! several concurrent tasks), then started again on the same database: every write it
//! acknowledged with a 2xx is there, and nothing half-done is visible (a credential without its
//! audit row, a review whose approvals are not its votes, a broken audit chain). Once on SQLite
//! and once on PostgreSQL (the throwaway server of keyway_test_support::postgres), whatever
//! `KEYWAY_TEST_BACKEND` says.
//!
//! Last-used times are buffered on purpose (up to one flush interval of them may be lost), so
//! they are not counted as acknowledged writes. Exchanges write nothing else: they are load.

#[path = "http/common.rs"]
mod common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use common::*;
use keyway_api::auth::{AuditEntry, Page};
use keyway_api::credentials::{CredentialView, MintedSecret};
use keyway_api::reviews::{ReviewRequest, ReviewStatus, Verdict};
use keyway_api::{DESKTOP_CLIENT_ID, TokenResponse};
use keyway_test_support::UNUSED_LOOPBACK;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};

const BIN: &str = env!("CARGO_BIN_EXE_keyway-hub");
const PASSWORD: &str = "kill test password";
const ADMIN: &str = "alice";
const SUBMITTER: &str = "dana";
const REVIEWERS: [&str; 3] = ["rita", "rob", "rene"];
const SIGNER: &str = "sam";

const SUBMITS: usize = 40;
const MINTS: usize = 40;
const SIGN_INS: usize = 20;
const EXCHANGES: usize = 30;
/// Every operation the load may attempt: each review submitted, voted on by each reviewer;
/// each mint, its exchange and every third a revocation; the sign-ins and the exchanges.
const MOST_OPERATIONS: usize = SUBMITS * (1 + REVIEWERS.len()) + MINTS * 2 + MINTS / 3 + SIGN_INS + EXCHANGES;
/// The hub is killed once this many operations were attempted (and one of each kind of write
/// was acknowledged).
const KILL_AFTER: usize = MOST_OPERATIONS / 2;

#[tokio::test]
async fn acknowledged_writes_survive_a_sigkill_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", dir.path().join("hub.db").display());
    kill_in_the_middle("SQLite", &database_url, dir.path()).await;
}

#[tokio::test]
async fn acknowledged_writes_survive_a_sigkill_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = keyway_test_support::postgres::database().expect("a database on the test PostgreSQL server");
    kill_in_the_middle("PostgreSQL", &database_url, dir.path()).await;
}

async fn kill_in_the_middle(backend: &str, database_url: &str, dir: &Path) {
    let (_, key_file) = key_file_in(dir);
    let users: Vec<(&str, &[&str])> =
        [(ADMIN, &["admin", "developer"][..]), (SUBMITTER, &["developer"]), (SIGNER, &["developer"])]
            .into_iter()
            .chain(REVIEWERS.iter().map(|r| (*r, &["reviewer"][..])))
            .collect();
    for (name, roles) in users {
        user_add(database_url, &key_file, name, roles);
    }
    let log = dir.join("hub.log");
    let mut hub = HubProcess::start(database_url, &key_file, "127.0.0.1:0".parse().unwrap(), &log).await;
    let base = hub.url.clone();

    let admin = admin_jwt(&base).await;
    let submitter = access_token(&base, SUBMITTER).await;
    let mut reviewers = Vec::new();
    for name in REVIEWERS {
        reviewers.push((name, access_token(&base, name).await));
    }
    let load = Load::default();
    // PATs the exchange task uses from the start (acknowledged mints too).
    let mut warm = Vec::new();
    for i in 0..3 {
        let minted: MintedSecret = created(
            post(&base, "/api/credentials", &admin, json!({"kind": "user_pat", "name": format!("warm {i}")})).await,
        )
        .await;
        load.record(|a| a.mints.push((minted.credential.id.clone(), minted.secret.clone())));
        warm.push(minted.secret);
    }

    let (ids, _) = broadcast::channel::<String>(SUBMITS + 1);
    let mut tasks = tokio::task::JoinSet::new();
    for (n, (name, token)) in reviewers.into_iter().enumerate() {
        tasks.spawn(voter(load.clone(), base.clone(), name, token, n, ids.subscribe()));
    }
    tasks.spawn(submitter_task(load.clone(), base.clone(), submitter, ids));
    tasks.spawn(minter(load.clone(), base.clone(), admin.clone()));
    // Sign-ins are the slowest (a password hash each): two browsers.
    for _ in 0..2 {
        tasks.spawn(signer(load.clone(), base.clone()));
    }
    tasks.spawn(exchanger(load.clone(), base.clone(), warm));

    let mut attempts = load.attempts.subscribe();
    // In the middle: enough attempted, and every kind of write acknowledged.
    let middle = |n: &usize| *n >= KILL_AFTER && load.acked.lock().unwrap().each_kind_at_least(1);
    tokio::select! {
        _ = attempts.wait_for(middle) => {}
        () = async {
            while let Some(done) = tasks.join_next().await {
                done.expect("a load task panicked");
            }
        } => {}
    }
    hub.kill();
    let killed_after = *load.attempts.borrow();
    while let Some(done) = tasks.join_next().await {
        done.expect("a load task panicked");
    }
    let attempted = *load.attempts.borrow();

    let hub = HubProcess::start(database_url, &key_file, hub.addr, &log).await;
    assert_eq!(hub.url, base, "the same address, so the same issuer");
    let acked = std::mem::take(&mut *load.acked.lock().unwrap());
    let report = check(&hub.url, &acked).await;
    drop(hub);
    let verify = Command::new(BIN)
        .args(["audit", "verify", "--database", database_url])
        .arg("--key-file")
        .arg(&key_file)
        .env_remove("KEYWAY_HUB_KEY")
        .env_remove("KEYWAY_HUB_KEY_FILE")
        .env_remove("KEYWAY_HUB_DATABASE")
        .output()
        .unwrap();

    let writes = acked.writes();
    println!(
        "kill test on {backend}: {attempted} operations attempted (killed after {killed_after} of at most \
         {MOST_OPERATIONS}), {writes} acknowledged writes ({} review submissions, {} votes, {} mints, {} revocations, \
         {} sign-ins) and {} exchanges answered; lost {}, half-done {}",
        acked.submits.len(),
        acked.votes.len(),
        acked.mints.len(),
        acked.revokes.len(),
        acked.sign_ins.len(),
        acked.exchanges,
        report.lost.len(),
        report.half_done.len(),
    );
    assert!(killed_after < MOST_OPERATIONS, "the hub was killed in the middle of the load");
    assert!(writes > 0, "the load made acknowledged writes");
    assert!(report.lost.is_empty(), "lost acknowledged writes: {:#?}", report.lost);
    assert!(report.half_done.is_empty(), "half-done writes: {:#?}", report.half_done);
    assert!(verify.status.success(), "the audit chain: {}", String::from_utf8_lossy(&verify.stderr));
}

// ---- the load

/// What the load did: attempts so far (the kill waits on it), and what the hub acknowledged.
#[derive(Clone, Default)]
struct Load {
    attempts: Arc<watch::Sender<usize>>,
    acked: Arc<Mutex<Acked>>,
}

#[derive(Default)]
struct Acked {
    /// Review ids.
    submits: Vec<String>,
    /// (review id, reviewer, verdict).
    votes: Vec<(String, String, Verdict)>,
    /// (credential id, secret).
    mints: Vec<(String, String)>,
    /// Credential ids.
    revokes: Vec<String>,
    /// Refresh tokens.
    sign_ins: Vec<String>,
    /// Exchanges answered 200 (not writes).
    exchanges: usize,
}

impl Acked {
    fn each_kind_at_least(&self, n: usize) -> bool {
        [self.submits.len(), self.votes.len(), self.mints.len(), self.revokes.len(), self.sign_ins.len()]
            .iter()
            .all(|&k| k >= n)
    }

    fn writes(&self) -> usize {
        self.submits.len() + self.votes.len() + self.mints.len() + self.revokes.len() + self.sign_ins.len()
    }
}

impl Load {
    fn attempt(&self) {
        self.attempts.send_modify(|n| *n += 1);
    }

    fn record(&self, f: impl FnOnce(&mut Acked)) {
        f(&mut self.acked.lock().unwrap());
    }
}

/// The answer's body when it is a 2xx, in full; `Err(())` when the hub is gone (no answer, or
/// none in full), `Ok(None)` for a refusal.
async fn answer<T: DeserializeOwned>(sent: reqwest::Result<reqwest::Response>) -> Result<Option<T>, ()> {
    let resp = sent.map_err(|_| ())?;
    if !resp.status().is_success() {
        return Ok(None);
    }
    resp.json().await.map(Some).map_err(|_| ())
}

async fn submitter_task(load: Load, base: String, token: String, ids: broadcast::Sender<String>) {
    let http = reqwest::Client::new();
    for i in 0..SUBMITS {
        load.attempt();
        let body = json!({"title": format!("change {i}"), "threshold": 2, "payload": {"n": i}});
        let sent = http.post(format!("{base}/api/reviews")).bearer_auth(&token).json(&body).send().await;
        match answer::<ReviewRequest>(sent).await {
            Ok(Some(r)) => {
                load.record(|a| a.submits.push(r.id.clone()));
                let _ = ids.send(r.id);
            }
            Ok(None) => {}
            Err(()) => break,
        }
    }
}

/// Votes on every submitted review: approves, and the third reviewer rejects every third.
async fn voter(
    load: Load,
    base: String,
    name: &'static str,
    token: String,
    n: usize,
    mut ids: broadcast::Receiver<String>,
) {
    let http = reqwest::Client::new();
    let mut k = 0;
    while let Ok(id) = ids.recv().await {
        k += 1;
        let (verdict, body) = if n == 2 && k % 3 == 0 {
            (Verdict::Reject, json!({"verdict": "reject", "reason": "not this one"}))
        } else {
            (Verdict::Approve, json!({"verdict": "approve"}))
        };
        load.attempt();
        let sent = http.post(format!("{base}/api/reviews/{id}/decision")).bearer_auth(&token).json(&body).send().await;
        match answer::<ReviewRequest>(sent).await {
            Ok(Some(_)) => load.record(|a| a.votes.push((id, name.to_owned(), verdict))),
            Ok(None) => {}
            Err(()) => break,
        }
    }
}

/// Mints user PATs, exchanges each, and revokes every third the oldest still active.
async fn minter(load: Load, base: String, admin: String) {
    let http = reqwest::Client::new();
    let mut active: Vec<String> = Vec::new();
    for i in 0..MINTS {
        load.attempt();
        let body = json!({"kind": "user_pat", "name": format!("load {i}")});
        let sent = http.post(format!("{base}/api/credentials")).bearer_auth(&admin).json(&body).send().await;
        let minted = match answer::<MintedSecret>(sent).await {
            Ok(Some(m)) => m,
            Ok(None) => continue,
            Err(()) => break,
        };
        load.record(|a| a.mints.push((minted.credential.id.clone(), minted.secret.clone())));
        active.push(minted.credential.id.clone());
        load.attempt();
        match answer::<Value>(exchange(&http, &base, &minted.secret).await).await {
            Ok(Some(_)) => load.record(|a| a.exchanges += 1),
            Ok(None) => {}
            Err(()) => break,
        }
        if i % 3 == 2 {
            let id = active.remove(0);
            load.attempt();
            let sent = http.post(format!("{base}/api/credentials/{id}/revoke")).bearer_auth(&admin).send().await;
            match answer::<CredentialView>(sent).await {
                Ok(Some(_)) => load.record(|a| a.revokes.push(id)),
                Ok(None) => {}
                Err(()) => break,
            }
        }
    }
}

/// Browser sign-ins (authorize, the login form, the code exchange) with a refresh token.
/// One browser (its cookies kept), which must still type the password each time.
async fn signer(load: Load, base: String) {
    let browser = browser();
    for _ in 0..SIGN_INS / 2 {
        load.attempt();
        let flow = Flow::new(UNUSED_LOOPBACK);
        let Ok(code) = keyway_test_support::authorization_code(&browser, &base, &flow, SIGNER, PASSWORD).await else {
            break;
        };
        match answer::<TokenResponse>(keyway_test_support::exchange_code(&base, &flow, &code).await).await {
            Ok(Some(TokenResponse { refresh_token: Some(refresh), .. })) => load.record(|a| a.sign_ins.push(refresh)),
            Ok(_) => {}
            Err(()) => break,
        }
    }
}

async fn exchanger(load: Load, base: String, pats: Vec<String>) {
    let http = reqwest::Client::new();
    for i in 0..EXCHANGES {
        load.attempt();
        match answer::<Value>(exchange(&http, &base, &pats[i % pats.len()]).await).await {
            Ok(Some(_)) => load.record(|a| a.exchanges += 1),
            Ok(None) => {}
            Err(()) => break,
        }
    }
}

async fn exchange(http: &reqwest::Client, base: &str, pat: &str) -> reqwest::Result<reqwest::Response> {
    http.post(format!("{base}/auth/exchange"))
        .bearer_auth(pat)
        .json(&json!({"requested_token_class": "user_access"}))
        .send()
        .await
}

// ---- after the restart

#[derive(Default)]
struct Report {
    /// Acknowledged writes that are not there.
    lost: Vec<String>,
    /// Writes that are there only in part.
    half_done: Vec<String>,
}

async fn check(base: &str, acked: &Acked) -> Report {
    let mut report = Report::default();
    let admin_access = access_token(base, ADMIN).await;
    let admin = admin_jwt(base).await;
    let audit: Vec<AuditEntry> = all(base, "/api/audit", &admin_access).await;
    let ok_rows = |action: &str, target: &str| {
        audit
            .iter()
            .filter(|e| e.action == action && e.outcome == "ok" && e.target_id.as_deref() == Some(target))
            .count()
    };

    // Credentials: every acknowledged mint is listed with its audit row; one acknowledged as
    // revoked is refused, every other active one still exchanges.
    let listed: HashMap<String, CredentialView> =
        all::<CredentialView>(base, "/api/credentials", &admin).await.into_iter().map(|c| (c.id.clone(), c)).collect();
    let revoked: HashSet<&str> = acked.revokes.iter().map(String::as_str).collect();
    let http = reqwest::Client::new();
    for (id, secret) in &acked.mints {
        let Some(c) = listed.get(id) else {
            report.lost.push(format!("minted credential {id} is not listed"));
            continue;
        };
        if ok_rows("pat.mint", id) != 1 {
            report.lost.push(format!("minted credential {id} has no pat.mint audit row"));
        }
        let status = exchange(&http, base, secret).await.unwrap().status();
        if revoked.contains(id.as_str()) {
            if c.revoked_at.is_none() || status != StatusCode::UNAUTHORIZED {
                report.lost.push(format!("revoked credential {id}: revoked_at {:?}, exchange {status}", c.revoked_at));
            }
            if ok_rows("credential.revoke", id) != 1 {
                report.lost.push(format!("revoked credential {id} has no credential.revoke audit row"));
            }
        } else if c.revoked_at.is_none() && status != StatusCode::OK {
            report.lost.push(format!("minted credential {id} no longer exchanges: {status}"));
        }
    }
    // Nothing half-done: every credential there has its mint row, every revoked one its
    // revocation row, and every mint row its credential.
    for c in listed.values() {
        if ok_rows("pat.mint", &c.id) != 1 {
            report.half_done.push(format!("credential {} is there without its pat.mint audit row", c.id));
        }
        if c.revoked_at.is_some() && ok_rows("credential.revoke", &c.id) != 1 {
            report.half_done.push(format!("credential {} is revoked without a credential.revoke audit row", c.id));
        }
    }
    for e in audit.iter().filter(|e| e.action == "pat.mint") {
        if !e.target_id.as_ref().is_some_and(|id| listed.contains_key(id)) {
            report.half_done.push(format!("audit row {} records a mint whose credential is not there", e.id));
        }
    }

    // Reviews: every acknowledged submission and vote is there; approvals are the approving
    // votes, each vote has its audit row, and the status follows from the votes.
    let mut reviews = HashMap::new();
    for r in all::<ReviewRequest>(base, "/api/reviews", &admin_access).await {
        let full: ReviewRequest = get_json(base, &format!("/api/reviews/{}", r.id), &admin_access).await;
        reviews.insert(r.id.clone(), full);
    }
    for id in &acked.submits {
        if !reviews.contains_key(id) {
            report.lost.push(format!("submitted review {id} is not there"));
        } else if ok_rows("review.submit", id) != 1 {
            report.lost.push(format!("submitted review {id} has no review.submit audit row"));
        }
    }
    for (id, reviewer, verdict) in &acked.votes {
        let voted = reviews.get(id).is_some_and(|r| {
            r.decisions.iter().any(|d| d.verdict == *verdict && d.actor.as_ref().is_some_and(|a| &a.name == reviewer))
        });
        if !voted {
            report.lost.push(format!("the {verdict:?} of {reviewer} on review {id} is not there"));
        }
    }
    for r in reviews.values() {
        let approvals = r.decisions.iter().filter(|d| d.verdict == Verdict::Approve).count();
        let rejections = r.decisions.iter().filter(|d| d.verdict == Verdict::Reject).count();
        let expected = match (rejections, approvals >= r.threshold as usize) {
            (0, false) => ReviewStatus::Pending,
            (0, true) => ReviewStatus::Approved,
            _ => ReviewStatus::Rejected,
        };
        if r.approvals as usize != approvals || r.status != expected || rejections > 1 {
            report.half_done.push(format!(
                "review {}: {} approvals, status {:?}, but its decisions are {approvals} approvals and {rejections} \
                 rejections",
                r.id, r.approvals, r.status
            ));
        }
        if ok_rows("review.decide", &r.id) != approvals + rejections {
            report.half_done.push(format!("review {}: its votes and its review.decide audit rows differ", r.id));
        }
        if ok_rows("review.submit", &r.id) != 1 {
            report.half_done.push(format!("review {} is there without its review.submit audit row", r.id));
        }
    }

    // Sign-ins: each acknowledged one's refresh token still works, and each has its audit row.
    for refresh in &acked.sign_ins {
        let resp = http
            .post(format!("{base}/oauth/token"))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh), ("client_id", DESKTOP_CLIENT_ID)])
            .send()
            .await
            .unwrap();
        if resp.status() != StatusCode::OK {
            report.lost.push(format!("an acknowledged sign-in's refresh token is refused: {}", resp.status()));
        }
    }
    let sign_in_rows =
        audit.iter().filter(|e| e.action == "session.sign_in" && e.actor_name.as_deref() == Some(SIGNER)).count();
    if sign_in_rows < acked.sign_ins.len() {
        report.lost.push(format!("{} sign-ins acknowledged, {sign_in_rows} audited", acked.sign_ins.len()));
    }
    report
}

/// Every item of a paginated list, following `next`.
async fn all<T: DeserializeOwned>(base: &str, path: &str, token: &str) -> Vec<T> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = url::Url::parse(&format!("{base}{path}")).unwrap();
        url.query_pairs_mut().append_pair("limit", "200");
        if let Some(c) = &cursor {
            url.query_pairs_mut().append_pair("cursor", c);
        }
        let page: Page<T> = get_json(base, &url[url::Position::BeforePath..], token).await;
        items.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return items,
        }
    }
}

async fn get_json<T: DeserializeOwned>(base: &str, path: &str, token: &str) -> T {
    let resp = reqwest::Client::new().get(format!("{base}{path}")).bearer_auth(token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "GET {path}");
    resp.json().await.unwrap()
}

// ---- the hub process and its users

async fn access_token(base: &str, user: &str) -> String {
    keyway_test_support::access_token(base, user, PASSWORD).await.unwrap_or_else(|e| panic!("sign-in of {user}: {e:#}"))
}

/// The admin's `user_admin` JWT (from a browser sign-in).
async fn admin_jwt(base: &str) -> String {
    let access = access_token(base, ADMIN).await;
    let resp = exchange_with(base, &access, "user_admin").await;
    let v: Value = created_or_ok(resp).await;
    v["access_token"].as_str().unwrap().to_owned()
}

async fn exchange_with(base: &str, bearer: &str, class: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/auth/exchange"))
        .bearer_auth(bearer)
        .json(&json!({ "requested_token_class": class }))
        .send()
        .await
        .unwrap()
}

async fn post(base: &str, path: &str, token: &str, body: Value) -> reqwest::Response {
    reqwest::Client::new().post(format!("{base}{path}")).bearer_auth(token).json(&body).send().await.unwrap()
}

async fn created<T: DeserializeOwned>(resp: reqwest::Response) -> T {
    assert_eq!(resp.status(), StatusCode::CREATED);
    resp.json().await.unwrap()
}

async fn created_or_ok<T: DeserializeOwned>(resp: reqwest::Response) -> T {
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap()
}

fn user_add(database_url: &str, key_file: &Path, name: &str, roles: &[&str]) {
    let mut command = Command::new(BIN);
    command.args(["user", "add", name, "--database", database_url]).arg("--key-file").arg(key_file);
    for role in roles {
        command.args(["--role", role]);
    }
    let mut child = command
        .env_remove("KEYWAY_HUB_KEY")
        .env_remove("KEYWAY_HUB_KEY_FILE")
        .env_remove("KEYWAY_HUB_DATABASE")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(format!("{PASSWORD}\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "user add {name}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A `keyway-hub serve` child process, killed when dropped.
struct HubProcess {
    child: std::process::Child,
    addr: SocketAddr,
    url: String,
}

impl HubProcess {
    /// Starts the hub on `listen` and waits until it serves; its log goes to `log`.
    async fn start(database_url: &str, key_file: &Path, listen: SocketAddr, log: &Path) -> HubProcess {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", &listen.to_string(), "--database", database_url])
            .arg("--key-file")
            .arg(key_file)
            .env_remove("KEYWAY_HUB_KEY")
            .env_remove("KEYWAY_HUB_KEY_FILE")
            .env_remove("KEYWAY_HUB_DATABASE")
            .env_remove("KEYWAY_HUB_ISSUER")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("run keyway-hub serve");
        let stdout = child.stdout.take().unwrap();
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).map(|_| line)
        })
        .await
        .unwrap()
        .unwrap();
        let url =
            line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected line {line:?}")).to_owned();
        let addr = url.strip_prefix("http://").unwrap().parse().unwrap();
        let hub = HubProcess { child, addr, url };
        wait_ready(&hub.url).await;
        hub
    }

    /// SIGKILL, and wait for it to be gone.
    fn kill(&mut self) {
        self.child.kill().expect("SIGKILL the hub");
        self.child.wait().unwrap();
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
