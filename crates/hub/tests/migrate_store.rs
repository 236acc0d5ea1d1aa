//! `keyway-hub migrate-store`: a hub moved from SQLite to PostgreSQL keeps working. A SQLite hub
//! gets users, PATs, an agent, a service account, a review with a vote and a browser sign-in
//! through its HTTP API; the binary copies it into a throwaway PostgreSQL database; a hub on
//! that database (same address, so the same issuer, and the same hub key) takes the PATs, the
//! refresh token and the JWTs issued before the move, shows the review and the audit rows, and
//! `audit verify` passes. Also: a non-empty target is refused, `--force` replaces it, a wrong
//! key or a bad URL is refused before the target is touched, and no password is printed. Runs on
//! the test PostgreSQL server (keyway_test_support::postgres) whatever `KEYWAY_TEST_BACKEND` says.

#[path = "http/common.rs"]
#[allow(unused_imports, reason = "the harness's browser helpers are for other tests")]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::*;
use keyway_api::Role;
use keyway_api::auth::{AuditEntry, Me, Page};
use keyway_api::reviews::{ReviewRequest, ReviewStatus};
use keyway_api::users::{CreatedUser, UserView};
use keyway_hub::{HubKey, Settings};
use keyway_test_support::postgres;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Digest as _;

const BIN: &str = env!("CARGO_BIN_EXE_keyway-hub");
const REV: &str = "rita";
const REV2: &str = "rob";

/// Runs `keyway-hub` with no database or key in its environment (killed after two minutes).
fn hub_cmd(args: &[&str]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("KEYWAY_HUB_KEY")
        .env_remove("KEYWAY_HUB_KEY_FILE")
        .env_remove("KEYWAY_HUB_DATABASE")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run keyway-hub");
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn migrate(from: &str, to: &str, key_file: &Path, force: bool) -> Output {
    let key_file = key_file.to_str().unwrap();
    let mut args = vec!["migrate-store", "--from", from, "--to", to, "--key-file", key_file];
    if force {
        args.push("--force");
    }
    hub_cmd(&args)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The per-table row counts of a migrate-store summary.
fn summary_counts(stdout: &str) -> Vec<(String, u64)> {
    stdout
        .lines()
        .filter(|l| l.starts_with("  "))
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            Some((words.next()?.to_owned(), words.next()?.parse().ok()?))
        })
        .filter(|(t, _)| t != "total")
        .collect()
}

/// Rows per table on either database, for the tables a summary names.
async fn sqlite_counts(url: &str, tables: &[(String, u64)]) -> Vec<(String, u64)> {
    let options = url.parse::<sqlx::sqlite::SqliteConnectOptions>().unwrap().read_only(true);
    let db = sqlx::SqlitePool::connect_with(options).await.unwrap();
    let mut out = Vec::new();
    for (table, _) in tables {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(&db).await.unwrap();
        out.push((table.clone(), n as u64));
    }
    db.close().await;
    out
}

async fn pg_counts(url: &str, tables: &[(String, u64)]) -> Vec<(String, u64)> {
    let db = sqlx::PgPool::connect(url).await.unwrap();
    let mut out = Vec::new();
    for (table, _) in tables {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(&db).await.unwrap();
        out.push((table.clone(), n as u64));
    }
    db.close().await;
    out
}

/// The SQLite file's bytes, hashed, after writing its WAL into it (so the hash is of everything).
async fn settled_hash(dir: &Path) -> Vec<u8> {
    let db = sqlx::SqlitePool::connect(&sqlite_url(dir)).await.unwrap();
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&db).await.unwrap();
    db.close().await;
    sha2::Sha256::digest(std::fs::read(dir.join("hub.db")).unwrap()).to_vec()
}

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("hub.db").display())
}

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

async fn call(hub: &TestHub, method: &str, path: &str, bearer: &str, body: Option<Value>) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = http().request(method, hub.at(path)).bearer_auth(bearer);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.unwrap()
}

async fn json_of(resp: reqwest::Response, want: StatusCode) -> Value {
    let status = resp.status();
    let body = resp.text().await.unwrap();
    assert_eq!(status, want, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// A JWT from `/auth/exchange` for `bearer` (a PAT or a sign-in's access token).
async fn exchanged(hub: &TestHub, bearer: &str, class: &str) -> String {
    let resp = call(hub, "POST", "/auth/exchange", bearer, Some(json!({"requested_token_class": class}))).await;
    json_of(resp, StatusCode::OK).await["access_token"].as_str().unwrap().to_owned()
}

async fn service_token(hub: &TestHub, name: &str, secret: &str) -> reqwest::Response {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{name}:{secret}"));
    http()
        .post(hub.at("/auth/service-account/token"))
        .header("authorization", format!("Basic {basic}"))
        .json(&json!({"requested_token_class": "service_access"}))
        .send()
        .await
        .unwrap()
}

/// What the SQLite hub handed out before the move.
struct Before {
    refresh_token: String,
    /// alice's browser sign-in access token, and a user_access JWT exchanged from her PAT.
    access_token: String,
    pat_jwt: String,
    user_pat: String,
    agent_pat: String,
    service_secret: String,
    review: String,
    carol: String,
    dave: String,
    erin: String,
}

/// A stopped SQLite hub in `dir` (`hub.db`, `hub.key`) that holds one of everything; its address.
async fn sqlite_hub_with_everything(dir: &Path) -> (Before, std::net::SocketAddr) {
    let key = HubKey::generate();
    key.write_new_file(&dir.join("hub.key")).unwrap();
    let url = sqlite_url(dir);
    let users: &[(&str, &[Role])] = &[(REV, &[Role::Reviewer]), (REV2, &[Role::Reviewer])];
    let hub = TestHub::start_with_users(
        move |s| {
            s.database_url = url;
            s.hub_key = Some(key);
        },
        users,
    )
    .await;
    let (_, tokens) = sign_in(&hub, &v4(44201)).await;
    let admin = exchanged(&hub, &tokens.access_token, "user_admin").await;
    let mut ids = Vec::new();
    for body in [
        json!({"username": "carol", "password": "a long enough secret", "roles": ["developer"]}),
        json!({"username": "dave", "roles": ["auditor"]}),
        json!({"username": "erin", "password": "a long enough secret"}),
    ] {
        let made: CreatedUser = serde_json::from_value(
            json_of(call(&hub, "POST", "/api/users", &admin, Some(body)).await, StatusCode::CREATED).await,
        )
        .unwrap();
        ids.push(made.user.id);
    }
    let (carol, dave, erin) = (ids[0].clone(), ids[1].clone(), ids[2].clone());
    assert!(call(&hub, "POST", &format!("/api/users/{carol}/disable"), &admin, None).await.status().is_success());
    assert!(call(&hub, "DELETE", &format!("/api/users/{erin}"), &admin, None).await.status().is_success());

    let mint = |body: Value| {
        let (hub, admin) = (&hub, &admin);
        async move {
            let resp = call(hub, "POST", "/api/credentials", admin, Some(body)).await;
            json_of(resp, StatusCode::CREATED).await["secret"].as_str().unwrap().to_owned()
        }
    };
    let user_pat = mint(json!({"kind": "user_pat"})).await;
    let agent_pat =
        mint(json!({"agent": "ci-bot", "create_agent": true, "scopes": ["reviews.submit", "reviews.read"]})).await;
    json_of(call(&hub, "POST", "/api/agents", &admin, Some(json!({"name": "scout"}))).await, StatusCode::CREATED).await;
    let sa = json_of(
        call(&hub, "POST", "/api/service-accounts", &admin, Some(json!({"name": "nightly", "group": "developer"})))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let service_secret = sa["secret"].as_str().unwrap().to_owned();
    assert_eq!(service_token(&hub, "nightly", &service_secret).await.status(), StatusCode::OK);

    let pat_jwt = exchanged(&hub, &user_pat, "user_access").await;
    let bot = exchanged(&hub, &agent_pat, "agent_access").await;
    let submitted = call(&hub, "POST", "/api/reviews", &bot, Some(json!({"title": "ship it?", "threshold": 2}))).await;
    let review = json_of(submitted, StatusCode::CREATED).await["id"].as_str().unwrap().to_owned();
    let rita = access_token_of(&hub, REV).await;
    let vote_path = format!("/api/reviews/{review}/decision");
    let vote = call(&hub, "POST", &vote_path, &rita, Some(json!({"verdict": "approve"}))).await;
    assert_eq!(vote.status(), StatusCode::OK);

    let addr = hub.addr();
    hub.stop().await;
    let before = Before {
        refresh_token: tokens.refresh_token.expect("a refresh token"),
        access_token: tokens.access_token,
        pat_jwt,
        user_pat,
        agent_pat,
        service_secret,
        review,
        carol,
        dave,
        erin,
    };
    (before, addr)
}

/// A hub on `database_url` at `addr` with the key in `dir/hub.key`.
async fn hub_on(database_url: &str, addr: std::net::SocketAddr, dir: &Path) -> TestHub {
    TestHub::open_existing(Settings {
        listen: addr,
        database_url: database_url.to_owned(),
        hub_key: Some(HubKey::from_file(&dir.join("hub.key")).unwrap()),
        ..Settings::default()
    })
    .await
}

#[tokio::test]
async fn a_hub_moved_to_postgres_keeps_its_tokens_reviews_audit_chain_and_keys() {
    let dir = tempfile::tempdir().unwrap();
    let (before, addr) = sqlite_hub_with_everything(dir.path()).await;
    let (source, key_file) = (sqlite_url(dir.path()), dir.path().join("hub.key"));
    let target = postgres::database().expect("a database on the test PostgreSQL server");
    let hash = settled_hash(dir.path()).await;

    let started = Instant::now();
    let out = migrate(&source, &target, &key_file, false);
    let took = started.elapsed();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    eprintln!("migrate-store took {took:?}:\n{stdout}");
    let counts = summary_counts(&stdout);
    assert!(counts.len() >= 22, "every table is in the summary: {stdout}");
    assert_eq!(sqlite_counts(&source, &counts).await, counts, "the summary counts the source's rows");
    assert_eq!(pg_counts(&target, &counts).await, counts, "the target holds every source row");
    let rows = |table: &str| counts.iter().find(|(t, _)| t == table).map(|(_, n)| *n).unwrap();
    assert_eq!(rows("users"), 6);
    assert_eq!((rows("agents"), rows("service_accounts"), rows("credentials")), (2, 1, 3));
    assert_eq!((rows("review_requests"), rows("review_decisions"), rows("set_password_codes")), (1, 1, 1));
    assert!(rows("refresh_tokens") >= 1 && rows("audit_events") >= 10 && rows("hub_signing_keys") == 1);
    assert_eq!(settled_hash(dir.path()).await, hash, "the source is not changed");

    // A second run finds the target holding a hub, and leaves it as it is.
    let again = migrate(&source, &target, &key_file, false);
    let err = text(&again.stderr);
    assert!(!again.status.success(), "a non-empty target is refused: {}", text(&again.stdout));
    assert!(err.contains("not empty") && err.contains("--force") && err.contains("users: 6 rows"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert_eq!(pg_counts(&target, &counts).await, counts);

    let hub = hub_on(&target, addr, dir.path()).await;
    // Tokens issued by the SQLite hub: the same issuer, the same signing key.
    let (_, claims) = verify_jwt(&hub, &before.access_token).await;
    assert_eq!(claims["iss"], hub.url);
    for jwt in [&before.access_token, &before.pat_jwt] {
        let me: Me =
            serde_json::from_value(json_of(call(&hub, "GET", "/api/me", jwt, None).await, StatusCode::OK).await)
                .unwrap();
        assert_eq!(me.name, USER);
    }
    // The PATs and the service token exchange; the refresh token refreshes.
    exchanged(&hub, &before.user_pat, "user_access").await;
    let bot = exchanged(&hub, &before.agent_pat, "agent_access").await;
    assert_eq!(service_token(&hub, "nightly", &before.service_secret).await.status(), StatusCode::OK);
    let refreshed = refresh(&hub, &before.refresh_token).await;
    let refreshed = json_of(refreshed, StatusCode::OK).await;
    assert!(refreshed["refresh_token"].as_str().is_some_and(|t| t != before.refresh_token));
    let access = refreshed["access_token"].as_str().unwrap().to_owned();
    let successor = refreshed["refresh_token"].as_str().unwrap().to_owned();

    // The users as they were: disabled, deleted, waiting to set a password.
    let admin = exchanged(&hub, &access, "user_admin").await;
    let user = |id: String| {
        let (hub, admin) = (&hub, &admin);
        async move {
            let v = json_of(call(hub, "GET", &format!("/api/users/{id}"), admin, None).await, StatusCode::OK).await;
            serde_json::from_value::<UserView>(v).unwrap()
        }
    };
    assert!(user(before.carol.clone()).await.disabled);
    assert!(user(before.erin.clone()).await.deleted_at.is_some());
    assert!(!user(before.dave.clone()).await.password_set);
    let carol = keyway_test_support::sign_in(&hub.url, &Flow::new(&v4(44202)), "carol", "a long enough secret").await;
    assert!(carol.is_err(), "a disabled user stays disabled");

    // The review with its vote; the second vote decides it, and new reviews get new ids.
    let rob = access_token_of(&hub, REV2).await;
    let shown: ReviewRequest = serde_json::from_value(
        json_of(call(&hub, "GET", &format!("/api/reviews/{}", before.review), &rob, None).await, StatusCode::OK).await,
    )
    .unwrap();
    assert_eq!((shown.approvals, shown.decisions.len(), shown.status), (1, 1, ReviewStatus::Pending));
    assert_eq!(shown.decisions[0].actor.as_ref().map(|a| a.name.as_str()), Some(REV));
    let path = format!("/api/reviews/{}/decision", before.review);
    let decided = json_of(call(&hub, "POST", &path, &rob, Some(json!({"verdict": "approve"}))).await, StatusCode::OK);
    assert_eq!(decided.await["status"], "approved");
    let second = call(&hub, "POST", "/api/reviews", &bot, Some(json!({"title": "after the move"}))).await;
    json_of(second, StatusCode::CREATED).await;
    let listed: Page<ReviewRequest> =
        serde_json::from_value(json_of(call(&hub, "GET", "/api/reviews", &rob, None).await, StatusCode::OK).await)
            .unwrap();
    assert_eq!(listed.items.len(), 2);

    // The audit rows written before the move, beside the ones written after.
    let audit = |action: &'static str| {
        let (hub, token) = (&hub, &access);
        async move {
            let path = format!("/api/audit?action={action}&limit=200");
            let v = json_of(call(hub, "GET", &path, token, None).await, StatusCode::OK).await;
            serde_json::from_value::<Page<AuditEntry>>(v).unwrap().items
        }
    };
    assert_eq!(audit("review.submit").await.len(), 2);
    assert!(audit("pat.mint").await.len() >= 2);
    assert_eq!(audit("user.delete").await.len(), 1);
    // The first refresh token was used, and so is its successor now: its reuse is caught on the
    // new database too, and ends the session.
    json_of(refresh(&hub, &successor).await, StatusCode::OK).await;
    expect_error(refresh(&hub, &before.refresh_token).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
    expect_error(refresh(&hub, &successor).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
    hub.stop().await;

    let key = key_file.to_str().unwrap();
    let verify = hub_cmd(&["audit", "verify", "--database", &target, "--key-file", key]);
    assert!(verify.status.success(), "audit verify on the target: {}", text(&verify.stderr));
    assert!(text(&verify.stdout).contains("audit log intact"), "{}", text(&verify.stdout));

    // --force: the target, changed since, holds exactly the source again.
    let forced = migrate(&source, &target, &key_file, true);
    assert!(forced.status.success(), "stderr: {}", text(&forced.stderr));
    assert!(text(&forced.stdout).contains("--force: the "), "{}", text(&forced.stdout));
    assert_eq!(pg_counts(&target, &counts).await, counts);
    let verify = hub_cmd(&["audit", "verify", "--database", &target, "--key-file", key]);
    assert!(verify.status.success(), "audit verify after --force: {}", text(&verify.stderr));
    assert_eq!(settled_hash(dir.path()).await, hash, "the source is not changed");

    // A copy that fails half-way (an agent's flag that is neither 0 nor 1, past the users)
    // leaves the target as it was, even with --force.
    let broken_dir = tempfile::tempdir().unwrap();
    std::fs::copy(dir.path().join("hub.db"), broken_dir.path().join("hub.db")).unwrap();
    let broken = sqlite_url(broken_dir.path());
    let mut db = <sqlx::SqliteConnection as sqlx::Connection>::connect(&broken).await.unwrap();
    sqlx::query("PRAGMA ignore_check_constraints = ON").execute(&mut db).await.unwrap();
    sqlx::query("UPDATE agents SET disabled = 7 WHERE name = 'scout'").execute(&mut db).await.unwrap();
    sqlx::Connection::close(db).await.unwrap();
    let failed = migrate(&broken, &target, &key_file, true);
    let err = text(&failed.stderr);
    assert!(!failed.status.success() && err.contains("agents.disabled"), "{err}");
    assert_eq!(pg_counts(&target, &counts).await, counts, "the target keeps its rows");
    let verify = hub_cmd(&["audit", "verify", "--database", &target, "--key-file", key]);
    assert!(verify.status.success(), "audit verify after a failed copy: {}", text(&verify.stderr));
}

/// A stopped SQLite hub with its users (from the harness) in `dir`.
async fn small_source(dir: &Path) -> String {
    let key = HubKey::generate();
    key.write_new_file(&dir.join("hub.key")).unwrap();
    let url = sqlite_url(dir);
    let db = url.clone();
    let hub = TestHub::start_with(move |s| {
        s.database_url = db;
        s.hub_key = Some(key);
    })
    .await;
    hub.stop().await;
    url
}

/// How many tables the target holds (migrations included).
async fn pg_tables(url: &str) -> i64 {
    let db = sqlx::PgPool::connect(url).await.unwrap();
    let n = sqlx::query_scalar("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()")
        .fetch_one(&db)
        .await
        .unwrap();
    db.close().await;
    n
}

#[tokio::test]
async fn a_missing_or_wrong_hub_key_is_refused_before_the_target_is_touched() {
    let dir = tempfile::tempdir().unwrap();
    let source = small_source(dir.path()).await;
    let target = postgres::database().unwrap();
    let other = dir.path().join("other.key");
    HubKey::generate().write_new_file(&other).unwrap();

    let wrong = migrate(&source, &target, &other, false);
    let err = text(&wrong.stderr);
    assert!(!wrong.status.success());
    assert!(err.contains("does not open") && err.contains("signing key"), "{err}");
    let missing = hub_cmd(&["migrate-store", "--from", &source, "--to", &target]);
    let err = text(&missing.stderr);
    assert!(!missing.status.success());
    assert!(err.contains("no hub key"), "{err}");
    assert_eq!(pg_tables(&target).await, 0, "nothing was written to the target, not even its migrations");

    // The right key: the same target takes the copy.
    let right = migrate(&source, &target, &dir.path().join("hub.key"), false);
    assert!(right.status.success(), "stderr: {}", text(&right.stderr));
}

#[tokio::test]
async fn bad_urls_and_unreachable_databases_fail_with_one_line_and_no_password() {
    let dir = tempfile::tempdir().unwrap();
    let source = small_source(dir.path()).await;
    let key_file: PathBuf = dir.path().join("hub.key");
    let server = postgres::server().unwrap();
    let role = format!("keyway_mig_{}", std::process::id());
    server.sql(&format!("CREATE ROLE {role} LOGIN PASSWORD 'right-pass-1'")).unwrap();
    let wrong_password = server.url("postgres", &role, Some("wrong-pass-2"));
    let missing = format!("sqlite://{}", dir.path().join("nothing.db").display());
    let cases = [
        (
            source.as_str(),
            "mysql://keyway:scheme-pass-3@localhost/keyway",
            "--to must be a PostgreSQL",
            "scheme-pass-3",
        ),
        (
            source.as_str(),
            "postgres://keyway:unreach-pass-4@127.0.0.1:1/keyway",
            "Connection refused",
            "unreach-pass-4",
        ),
        (source.as_str(), wrong_password.as_str(), "password authentication failed", "wrong-pass-2"),
        (source.as_str(), "postgres://keyway:url-pass-5@localhost:notaport/k", "invalid", "url-pass-5"),
        (
            "postgres://keyway:from-pass-6@localhost/k",
            "postgres://localhost/k",
            "--from must be a SQLite",
            "from-pass-6",
        ),
        (missing.as_str(), "postgres://keyway:p-7@localhost/k", "no database file", "p-7"),
    ];
    for (from, to, says, password) in cases {
        let out = migrate(from, to, &key_file, false);
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{from} → {to} should fail: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(err.starts_with("error: ") && err.contains(says), "{to}: {err}");
        assert!(!err.contains(password) && !text(&out.stdout).contains(password), "the password is shown: {err}");
    }
    assert!(!dir.path().join("nothing.db").exists(), "a missing source is not created");

    // With the right password the copy is made, and the summary names the target without it.
    let owned = format!("keyway_mig_db_{}", std::process::id());
    server.sql(&format!("CREATE DATABASE {owned} OWNER {role}")).unwrap();
    let out = migrate(&source, &server.url(&owned, &role, Some("right-pass-1")), &key_file, false);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert!(stdout.contains(&format!("{role}:***@")) && !stdout.contains("right-pass-1"), "{stdout}");
}
