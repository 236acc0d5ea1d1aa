//! The `keyway-hub` binary on PostgreSQL: the backend is picked by the database URL's scheme
//! (`--database` or `KEYWAY_HUB_DATABASE`), and a database it cannot use (a wrong URL, a wrong
//! password, no server) stops `serve`, `user add` and `pat mint` at start with a clear one-line
//! message, a non-zero exit and no password in sight. Runs on a throwaway
//! server (keyway_test_support::postgres) whatever `KEYWAY_TEST_BACKEND` says.

#[path = "http/common.rs"]
mod common;

use std::io::Write as _;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use keyway_api::UserInfo;
use keyway_test_support::postgres;
use reqwest::StatusCode;

const BIN: &str = env!("CARGO_BIN_EXE_keyway-hub");

/// Runs the binary to its end (killed after a minute: a start that should fail and serves
/// instead must not hang the test).
fn run(args: &[&str], env_database: Option<&str>, stdin: &str) -> Output {
    let mut command = Command::new(BIN);
    command.args(args).env_remove("KEYWAY_HUB_DATABASE").env_remove("RUST_LOG").env_remove("KEYWAY_HUB_ISSUER");
    command.env_remove("KEYWAY_HUB_KEY_FILE").env("KEYWAY_HUB_KEY", key_text());
    if let Some(url) = env_database {
        command.env("KEYWAY_HUB_DATABASE", url);
    }
    let mut child =
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("run keyway-hub");
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// One hub key for the whole test process: every database here is sealed with it.
fn key_text() -> String {
    static KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    KEY.get_or_init(|| keyway_hub::HubKey::generate().to_text().to_string()).clone()
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn user_add_and_pat_mint_work_on_a_postgres_url_from_the_flag_or_the_environment() {
    let db = postgres::database().expect("test database");
    let out = run(&["user", "add", "bob", "--role", "developer"], Some(&db), "a long secret pw\n");
    assert!(out.status.success(), "stderr: {}", stderr_of(&out));
    let again = run(&["user", "add", "bob", "--role", "developer", "--database", &db], None, "a long secret pw\n");
    assert!(!again.status.success());
    assert!(stderr_of(&again).contains("already exists"), "the same database: {}", stderr_of(&again));
    let pat = run(&["pat", "mint", "--user", "bob", "--database", &db], None, "");
    assert!(pat.status.success(), "stderr: {}", stderr_of(&pat));
    let secret = String::from_utf8_lossy(&pat.stdout).trim().to_owned();
    assert!(!secret.is_empty());

    // A hub on that database signs bob in and takes his PAT.
    let url = db.clone();
    let key = keyway_hub::HubKey::parse(&key_text()).unwrap();
    let hub = TestHub::start_with(move |s| {
        s.database_url = url;
        s.hub_key = Some(key);
    })
    .await;
    let browser = browser();
    let flow = Flow::new(&v4(44011));
    let code = get_code_as(&browser, &hub, &flow, "bob", "a long secret pw").await;
    let tokens: keyway_api::TokenResponse = exchange(&hub, &flow, &code).await.json().await.unwrap();
    let info: UserInfo = userinfo(&hub, &tokens.access_token).await.json().await.unwrap();
    assert_eq!(info.preferred_username.as_deref(), Some("bob"));
    let exchanged = reqwest::Client::new()
        .post(hub.at("/auth/exchange"))
        .bearer_auth(&secret)
        .json(&serde_json::json!({ "requested_token_class": "user_access" }))
        .send()
        .await
        .unwrap();
    let status = exchanged.status();
    assert_eq!(status, StatusCode::OK, "{}", exchanged.text().await.unwrap());
}

#[test]
fn a_database_the_hub_cannot_use_stops_it_at_start_with_a_clear_message() {
    let server = postgres::server().expect("test server");
    let role = format!("keyway_pw_{}", std::process::id());
    server.sql(&format!("CREATE ROLE {role} LOGIN PASSWORD 'right-pass-1'")).unwrap();
    let wrong_password = server.url("postgres", &role, Some("wrong-pass-2"));
    // A socket directory no server listens in.
    let no_server = tempfile::tempdir().unwrap();
    let no_socket = format!("postgres://keyway:socket-pass-6@localhost/keyway?host={}", no_server.path().display());
    let cases = [
        (wrong_password.as_str(), "password authentication failed", "wrong-pass-2"),
        (
            "postgres://keyway:unreach-pass-3@127.0.0.1:1/keyway",
            "cannot reach PostgreSQL at 127.0.0.1:1: Connection refused",
            "unreach-pass-3",
        ),
        (no_socket.as_str(), "cannot reach PostgreSQL at the socket in", "socket-pass-6"),
        ("postgres://keyway:url-pass-4@localhost:notaport/keyway", "invalid", "url-pass-4"),
        ("postgres://keyway:url-pass-7@[::1/keyway", "invalid", "url-pass-7"),
        ("mysql://keyway:scheme-pass-5@localhost/keyway", "must start with sqlite:, postgres://", "scheme-pass-5"),
    ];
    for (url, says, password) in cases {
        for (args, env, stdin) in [
            (vec!["serve", "--listen", "127.0.0.1:0", "--database", url], None, ""),
            (vec!["user", "add", "bob", "--role", "developer"], Some(url), "long enough pw\n"),
            (vec!["pat", "mint", "--user", "bob"], Some(url), ""),
        ] {
            let out = run(&args, env, stdin);
            let err = stderr_of(&out);
            assert!(!out.status.success(), "{args:?} on {url} should fail: {err}");
            assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
            assert!(err.starts_with("error: ") && err.contains(says), "{url}: {err}");
            assert!(!err.contains(password), "the password is shown: {err}");
        }
    }
}

/// `sslmode` is honoured: the test server has no TLS, so a hub told to require it (or to verify
/// the server's certificate) refuses to start rather than talk in clear.
#[test]
fn a_hub_told_to_use_tls_does_not_fall_back_to_clear_text() {
    let db = postgres::database().expect("test database");
    for mode in ["require", "verify-ca", "verify-full"] {
        let url = format!("{db}&sslmode={mode}");
        let out = run(&["serve", "--listen", "127.0.0.1:0", "--database", &url], None, "");
        let err = stderr_of(&out);
        assert!(!out.status.success(), "sslmode={mode} should fail: {err}");
        assert!(err.contains("TLS"), "sslmode={mode}: {err}");
    }
    let out = run(&["pat", "mint", "--user", "nobody", "--database", &format!("{db}&sslmode=disable")], None, "");
    assert!(stderr_of(&out).contains("no such user"), "sslmode=disable connects: {}", stderr_of(&out));
}
