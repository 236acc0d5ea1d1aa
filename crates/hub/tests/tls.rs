//! TLS to PostgreSQL: a hub told `sslmode=verify-full` with the server's CA works end to end
//! over TCP on 127.0.0.1 (and the server sees its connections encrypted); told a CA that did not
//! sign the server's certificate, or `sslmode=require` against a server without TLS, it stops
//! at start with a clear one-line message, a non-zero exit and no password in sight. On private
//! servers (keyway_test_support::postgres::private_loopback), whatever `KEYWAY_TEST_BACKEND`
//! says.

#[path = "http/common.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use keyway_api::UserInfo;
use keyway_test_support::postgres::{self, PrivateServer, tls};
use reqwest::StatusCode;

const BIN: &str = env!("CARGO_BIN_EXE_keyway-hub");

/// A login role with `password` and a database of its own on `server`: the database's name.
fn role_and_database(server: &PrivateServer, role: &str, password: &str) -> String {
    let admin = server.server();
    admin.sql(&format!("CREATE ROLE {role} LOGIN PASSWORD '{password}'")).expect("create the role");
    admin.sql(&format!("CREATE DATABASE {role} OWNER {role}")).expect("create its database");
    role.to_owned()
}

/// `url` with `sslmode` and, when given, `sslrootcert`.
fn with_tls(url: &str, mode: &str, ca: Option<&Path>) -> String {
    match ca {
        Some(ca) => format!("{url}?sslmode={mode}&sslrootcert={}", ca.display()),
        None => format!("{url}?sslmode={mode}"),
    }
}

#[tokio::test]
async fn a_hub_on_verify_full_signs_in_and_exchanges_over_tls_and_the_server_sees_it_encrypted() {
    let server = postgres::private_loopback(true).expect("a private PostgreSQL server with TLS");
    let (role, password) = ("keyway_tls_hub", "tls-pass-hub-41");
    let db = role_and_database(&server, role, password);
    let ca = server.ca().expect("the server's CA").cert.clone();
    let url = with_tls(&server.server().loopback_url(&db, role, password), "verify-full", Some(&ca));
    let (hub, pats) = TestHub::start_with_pats(move |s| s.database_url = url, &[], &[USER]).await;

    // A sign-in (reads and writes through the pool) and a PAT exchange (a credential read).
    let flow = Flow::new(&v4(46001));
    let code = get_code(&browser(), &hub, &flow).await;
    let tokens: keyway_api::TokenResponse = exchange(&hub, &flow, &code).await.json().await.unwrap();
    let info: UserInfo = userinfo(&hub, &tokens.access_token).await.json().await.unwrap();
    assert_eq!(info.preferred_username.as_deref(), Some(USER));
    let exchanged = reqwest::Client::new()
        .post(hub.at("/auth/exchange"))
        .bearer_auth(&pats[0])
        .json(&serde_json::json!({ "requested_token_class": "user_access" }))
        .send()
        .await
        .unwrap();
    let status = exchanged.status();
    assert_eq!(status, StatusCode::OK, "{}", exchanged.text().await.unwrap());

    // Every connection of the hub's role, seen from an administrator's connection over the
    // socket, is encrypted.
    let admin = sqlx::PgPool::connect(&server.server().url("postgres", "postgres", None)).await.unwrap();
    let seen: Vec<(bool, Option<String>)> = sqlx::query_as(
        "SELECT s.ssl, s.version FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.usename = $1",
    )
    .bind(role)
    .fetch_all(&admin)
    .await
    .unwrap();
    assert!(!seen.is_empty(), "the hub has connections open");
    for (ssl, version) in &seen {
        assert!(*ssl && version.as_deref().is_some_and(|v| v.starts_with("TLS")), "{seen:?}");
    }
    admin.close().await;
    drop(hub);
}

#[test]
fn a_hub_that_cannot_verify_the_server_or_gets_no_tls_stops_at_start_with_a_clear_message() {
    let tls_server = postgres::private_loopback(true).expect("a private PostgreSQL server with TLS");
    let clear_server = postgres::private_loopback(false).expect("a private PostgreSQL server without TLS");
    let (role, password) = ("keyway_tls_refused", "tls-pass-refused-52");
    let tls_db = role_and_database(&tls_server, role, password);
    let clear_db = role_and_database(&clear_server, role, password);
    let dir = tempfile::tempdir().unwrap();
    let other_ca = tls::Ca::new(&tls::private_dir(dir.path(), "other").unwrap(), "other").unwrap();
    let on_tls = tls_server.server().loopback_url(&tls_db, role, password);
    let on_clear = clear_server.server().loopback_url(&clear_db, role, password);
    let cases = [
        // A CA that did not sign the server's certificate.
        (with_tls(&on_tls, "verify-full", Some(&other_ca.cert)), "certificate"),
        (with_tls(&on_tls, "verify-ca", Some(&other_ca.cert)), "certificate"),
        // No TLS on the server: no fall-back to clear text.
        (with_tls(&on_clear, "require", None), "TLS"),
        // And the TLS server takes no clear text over TCP.
        (with_tls(&on_tls, "disable", None), "no encryption"),
    ];
    for (url, says) in &cases {
        let out = serve(url);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success(), "{url} should fail: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(err.starts_with("error: ") && err.contains(says), "{url}: {err}");
        assert!(!err.contains(password), "the password is shown: {err}");
    }
    // The same server, role and password with the right CA: it starts (so the refusals above
    // are the CA's and the modes', not the login's).
    let ca = tls_server.ca().unwrap().cert.clone();
    let out = run_pat_mint(&with_tls(&on_tls, "verify-full", Some(&ca)));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(err.contains("no such user"), "it reached the database over TLS: {err}");
}

/// `keyway-hub serve` on `url`, to its end (killed after a minute: a start that should fail and
/// serves instead must not hang the test).
fn serve(url: &str) -> Output {
    run(&["serve", "--listen", "127.0.0.1:0", "--database", url])
}

/// `keyway-hub pat mint` for a user that does not exist, on `url`.
fn run_pat_mint(url: &str) -> Output {
    run(&["pat", "mint", "--user", "nobody", "--database", url])
}

fn run(args: &[&str]) -> Output {
    let mut command = Command::new(BIN);
    command.args(args).env_remove("KEYWAY_HUB_DATABASE").env_remove("RUST_LOG").env_remove("KEYWAY_HUB_ISSUER");
    command.env_remove("KEYWAY_HUB_KEY_FILE").env("KEYWAY_HUB_KEY", keyway_hub::HubKey::generate().to_text());
    let mut child = command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
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
