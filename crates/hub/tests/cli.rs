//! The `keyway-hub` binary: `user add` and `serve`.

#[path = "http/common.rs"]
mod common;

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Output, Stdio};

use common::*;
use keyway_api::UserInfo;
use reqwest::StatusCode;

const BIN: &str = env!("CARGO_BIN_EXE_keyway-hub");

fn user_add(database_url: &str, key_file: &std::path::Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(["user", "add"])
        .args(args)
        .args(["--database", database_url])
        .arg("--key-file")
        .arg(key_file)
        .env_remove("KEYWAY_HUB_KEY")
        .env_remove("KEYWAY_HUB_KEY_FILE")
        .env_remove("KEYWAY_HUB_DATABASE")
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run keyway-hub");
    // The child may exit before reading (bad arguments): a broken pipe is fine then.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn user_add_reads_the_password_from_stdin_and_the_user_can_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", dir.path().join("cli.db").display());
    let (key, key_file) = key_file_in(dir.path());

    let out =
        user_add(&database_url, &key_file, &["bob", "--role", "developer", "--role", "reviewer"], "a long secret pw\n");
    assert!(out.status.success(), "stderr: {}", stderr_of(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("created user bob"));

    // The password never shows up in the output.
    assert!(!String::from_utf8_lossy(&out.stdout).contains("a long secret pw"));
    assert!(!stderr_of(&out).contains("a long secret pw"));

    let db = database_url.clone();
    let hub = TestHub::start_with(move |s| {
        s.database_url = db;
        s.hub_key = Some(key);
    })
    .await;
    let browser = browser();
    let flow = Flow::new(&v4(44001));
    let code = get_code_as(&browser, &hub, &flow, "bob", "a long secret pw").await;
    let resp = exchange(&hub, &flow, &code).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let tokens: keyway_api::TokenResponse = resp.json().await.unwrap();
    let info: UserInfo = userinfo(&hub, &tokens.access_token).await.json().await.unwrap();
    assert_eq!(info.preferred_username.as_deref(), Some("bob"));
    assert_eq!(info.roles, ["developer", "reviewer"]);
}

#[tokio::test]
async fn user_add_failures_are_one_line_and_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", dir.path().join("cli.db").display());
    let (_, key_file) = key_file_in(dir.path());
    let user_add = |database_url: &str, args: &[&str], stdin: &str| user_add(database_url, &key_file, args, stdin);

    // The same rule as the API's: 12 characters, not containing the username.
    let weak = user_add(&database_url, &["carol", "--role", "admin"], "11 chars pw\n");
    assert!(!weak.status.success());
    let err = stderr_of(&weak);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with("error: ") && err.contains("at least 12"), "{err}");
    let named = user_add(&database_url, &["carol", "--role", "admin"], "Carol's password\n");
    assert!(!named.status.success());
    assert!(stderr_of(&named).contains("must not contain the username"), "{}", stderr_of(&named));

    assert!(user_add(&database_url, &["carol", "--role", "admin"], "long enough pw\n").status.success());
    let dup = user_add(&database_url, &["carol", "--role", "admin"], "long enough pw\n");
    assert!(!dup.status.success());
    let err = stderr_of(&dup);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("already exists"), "{err}");

    let bad_name = user_add(&database_url, &["no spaces", "--role", "admin"], "long enough pw\n");
    assert!(!bad_name.status.success());
    assert!(stderr_of(&bad_name).contains("invalid username"));

    let empty = user_add(&database_url, &["dave", "--role", "admin"], "");
    assert!(!empty.status.success());

    let bad_role = user_add(&database_url, &["erin", "--role", "owner"], "long enough pw\n");
    assert!(!bad_role.status.success());
    assert!(stderr_of(&bad_role).contains("unknown role"));

    let no_role = user_add(&database_url, &["frank"], "long enough pw\n");
    assert!(!no_role.status.success());
}

#[tokio::test]
async fn serve_prints_its_address_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", dir.path().join("serve.db").display());
    let (_, key_file) = key_file_in(dir.path());
    let mut child = KillOnDrop(
        Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--database", &database_url])
            .arg("--key-file")
            .arg(&key_file)
            .env_remove("KEYWAY_HUB_ISSUER")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run keyway-hub serve"),
    );
    let stdout = child.0.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .unwrap()
    .unwrap();
    let url =
        line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected line {line:?}")).to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    wait_ready(&url).await;
    let doc: keyway_api::DiscoveryDocument =
        reqwest::get(format!("{url}/.well-known/openid-configuration")).await.unwrap().json().await.unwrap();
    assert_eq!(doc.issuer, url);
}

/// Kills the child process we started (and only it) when the test ends, even on failure.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A SQLite database the hub cannot open (a path under a file, an unknown option) stops `serve`
/// and `user add` at start with one line and a non-zero exit.
#[test]
fn a_sqlite_database_the_hub_cannot_open_stops_it_at_start_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let (_, key_file) = key_file_in(dir.path());
    let under_a_file = format!("sqlite://{}/hub.db", key_file.display());
    let unknown_mode = format!("sqlite://{}?mode=bogus", dir.path().join("hub.db").display());
    for (url, says) in [(under_a_file.as_str(), "Not a directory"), (unknown_mode.as_str(), "unknown value \"bogus\"")]
    {
        let serve = run_bounded(
            Command::new(BIN)
                .args(["serve", "--listen", "127.0.0.1:0", "--database", url])
                .arg("--key-file")
                .arg(&key_file)
                .env_remove("RUST_LOG"),
        );
        let add = user_add(url, &key_file, &["erin", "--role", "developer"], "long enough pw\n");
        for out in [serve, add] {
            let err = stderr_of(&out);
            assert!(!out.status.success(), "{url}: {err}");
            assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
            assert!(err.starts_with("error: ") && err.contains("database_url") && err.contains(says), "{url}: {err}");
        }
    }
}

/// Runs `command` to its end, killed after a minute (a start that should fail and serves
/// instead must not hang the test).
fn run_bounded(command: &mut Command) -> Output {
    let mut child = command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    child.wait_with_output().unwrap()
}
