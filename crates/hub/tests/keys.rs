//! The signing keys: sealed at rest under the hub key, found the same way by every command,
//! refused without the right key, rotated with overlap (by `keyway-hub keys rotate`, by the
//! admin's period), and picked by `kid`.

#[path = "http/common.rs"]
#[allow(unused_imports, reason = "the harness's browser helpers are for other tests")]
mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use ed25519_dalek::{Signer as _, SigningKey};
use keyway_hub::HubKey;
use keyway_hub::store::Sealed;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Row as _;

const BIN: &str = env!("CARGO_BIN_EXE_keyway-hub");

/// Runs `keyway-hub` with no hub key in its environment (tests pass `--key-file`).
fn hub_cmd(args: &[&str], stdin: &str) -> Output {
    use std::io::Write as _;
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("KEYWAY_HUB_KEY")
        .env_remove("KEYWAY_HUB_KEY_FILE")
        .env_remove("KEYWAY_HUB_DATABASE")
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run keyway-hub");
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn pool(database_url: &str) -> sqlx::SqlitePool {
    sqlx::SqlitePool::connect(database_url).await.unwrap()
}

/// Every stored signing key as `(kid, the rest of the row)`, for comparing before and after.
async fn key_rows(database_url: &str) -> Vec<String> {
    let db = pool(database_url).await;
    let rows = sqlx::query(
        "SELECT kid, hex(public_key) AS p, seal_version, sealed_with, nullif(hex(nonce), '') AS n, nullif(hex(sealed_seed), '') AS s, \
            created_at, retired_at, verify_until FROM hub_signing_keys ORDER BY kid",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    let out = rows
        .iter()
        .map(|r| {
            format!(
                "{} {} {:?} {:?} {:?} {:?} {} {:?} {:?}",
                r.get::<String, _>("kid"),
                r.get::<String, _>("p"),
                r.get::<Option<i64>, _>("seal_version"),
                r.get::<Option<String>, _>("sealed_with"),
                r.get::<Option<String>, _>("n"),
                r.get::<Option<String>, _>("s"),
                r.get::<i64, _>("created_at"),
                r.get::<Option<i64>, _>("retired_at"),
                r.get::<Option<i64>, _>("verify_until"),
            )
        })
        .collect();
    db.close().await;
    out
}

/// Opens the sealed seed of `kid` with `key`, straight from the database.
async fn stored_seed(database_url: &str, key: &HubKey, kid: &str) -> [u8; 32] {
    let db = pool(database_url).await;
    let row = sqlx::query("SELECT seal_version, sealed_with, nonce, sealed_seed FROM hub_signing_keys WHERE kid = ?1")
        .bind(kid)
        .fetch_one(&db)
        .await
        .unwrap();
    let sealed = Sealed {
        version: row.get("seal_version"),
        key_id: row.get("sealed_with"),
        nonce: row.get("nonce"),
        ciphertext: row.get("sealed_seed"),
    };
    db.close().await;
    *key.open(kid, &sealed).expect("the hub key opens the stored seed")
}

/// The database file and its WAL, as bytes.
fn file_bytes(database_url: &str) -> Vec<u8> {
    let path = database_url.strip_prefix("sqlite://").unwrap();
    let mut bytes = std::fs::read(path).unwrap();
    if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
        bytes.extend(wal);
    }
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn jwks_kids(hub: &TestHub) -> Vec<String> {
    let jwks: Value = reqwest::get(hub.at("/oauth/jwks")).await.unwrap().json().await.unwrap();
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
}

fn header_kid(token: &str) -> String {
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

/// The token's claims signed again by `key` under `kid`: what another hub holding that key
/// would issue.
fn resign(token: &str, key: &SigningKey, kid: &str) -> String {
    let claims = token.split('.').nth(1).unwrap();
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid}).to_string());
    let input = format!("{header}.{claims}");
    let signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

async fn me(hub: &TestHub, token: &str) -> reqwest::Response {
    reqwest::Client::new().get(hub.at("/api/me")).bearer_auth(token).send().await.unwrap()
}

/// Both places a bearer token is checked accept `token`.
async fn token_works(hub: &TestHub, token: &str) {
    assert_eq!(userinfo(hub, token).await.status(), StatusCode::OK);
    assert_eq!(me(hub, token).await.status(), StatusCode::OK);
}

/// Polls `check` (bounded) until it holds; the hub's key watch runs on its own interval.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..500 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what} never happened");
}

#[tokio::test]
async fn the_database_file_holds_the_seed_sealed_never_in_clear() {
    let hub = TestHub::start().await;
    let kids = jwks_kids(&hub).await;
    assert_eq!(kids.len(), 1);
    let seed = stored_seed(&hub.database_url, &hub.hub_key, &kids[0]).await;
    // It is the real seed: it makes the key the JWKS publishes.
    let jwks: Value = reqwest::get(hub.at("/oauth/jwks")).await.unwrap().json().await.unwrap();
    let public = SigningKey::from_bytes(&seed).verifying_key();
    assert_eq!(jwks["keys"][0]["x"], URL_SAFE_NO_PAD.encode(public.as_bytes()));
    let database_url = hub.database_url.clone();
    let _dir = hub.stop().await;
    let bytes = file_bytes(&database_url);
    assert!(!bytes.is_empty());
    assert!(!contains(&bytes, &seed), "the plaintext seed is in the database file");
}

#[tokio::test]
async fn a_seed_stored_in_clear_is_sealed_on_first_start_and_tokens_issued_before_keep_verifying() {
    let hub = TestHub::start().await;
    let (_, tokens) = sign_in(&hub, &v4(44101)).await;
    let kid = header_kid(&tokens.access_token);
    let seed = stored_seed(&hub.database_url, &hub.hub_key, &kid).await;
    let database_url = hub.database_url.clone();
    let url_before = hub.url.clone();

    // Stop, turn the database into what a hub from before sealing left (the seed in clear in
    // `signing_keys`, no migration 0008), and start again on the same address, so the issuer
    // of the tokens issued before is the same.
    let db_url = database_url.clone();
    let old_kid = kid.clone();
    let hub = hub
        .restart_same_address_after(move || async move {
            let db = pool(&db_url).await;
            for sql in [
                "DROP TABLE hub_signing_keys",
                "DROP TABLE key_settings",
                "DELETE FROM _sqlx_migrations WHERE version = 8",
            ] {
                sqlx::query(sql).execute(&db).await.unwrap();
            }
            sqlx::query("INSERT INTO signing_keys (kid, algorithm, seed, created_at) VALUES (?1, 'EdDSA', ?2, 1)")
                .bind(&old_kid)
                .bind(&seed[..])
                .execute(&db)
                .await
                .unwrap();
            db.close().await;
            assert!(contains(&file_bytes(&db_url), &seed), "the setup stores the seed in clear");
        })
        .await;
    assert_eq!(hub.url, url_before);
    let hub_key = hub.hub_key.clone();

    // Same key, same kid: the tokens issued before verify, and the JWKS is unchanged.
    assert_eq!(jwks_kids(&hub).await, vec![kid.clone()]);
    token_works(&hub, &tokens.access_token).await;
    let (_, fresh) = sign_in(&hub, &v4(44102)).await;
    assert_eq!(header_kid(&fresh.access_token), kid);
    assert_eq!(stored_seed(&database_url, &hub_key, &kid).await, seed);

    let db = pool(&database_url).await;
    let clear: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM signing_keys").fetch_one(&db).await.unwrap();
    assert_eq!(clear, 0, "the seed in clear is erased");
    db.close().await;
    let _dir = hub.stop().await;
    assert!(!contains(&file_bytes(&database_url), &seed), "no plaintext seed is left in the database file");
}

#[tokio::test]
async fn a_wrong_key_is_refused_with_a_clear_message_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", dir.path().join("hub.db").display());
    let (_, right) = key_file_in(dir.path());
    let wrong_dir = tempfile::tempdir().unwrap();
    let (_, wrong) = key_file_in(wrong_dir.path());
    let right = right.to_str().unwrap();
    let wrong = wrong.to_str().unwrap();

    let made = hub_cmd(
        &["user", "add", "bob", "--role", "developer", "--database", &database_url, "--key-file", right],
        "a long password\n",
    );
    assert!(made.status.success(), "{}", text(&made.stderr));
    let before = key_rows(&database_url).await;
    assert_eq!(before.len(), 1);

    for args in [
        vec!["serve", "--listen", "127.0.0.1:0", "--database", &database_url, "--key-file", wrong],
        vec!["user", "add", "carol", "--role", "developer", "--database", &database_url, "--key-file", wrong],
        vec!["pat", "mint", "--user", "bob", "--database", &database_url, "--key-file", wrong],
        vec!["keys", "rotate", "--database", &database_url, "--key-file", wrong],
    ] {
        let out = hub_cmd(&args, "another password\n");
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded with a wrong key");
        assert!(err.contains("does not open this database's signing key"), "{args:?}: {err}");
        assert!(err.trim().lines().count() == 1 && err.starts_with("error: "), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}: {}", text(&out.stdout));
    }
    assert_eq!(key_rows(&database_url).await, before, "a wrong key changed the stored keys");
    let db = pool(&database_url).await;
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&db).await.unwrap();
    db.close().await;
    assert_eq!(users, 1, "carol was not added");

    // The right key still works, through the environment as well.
    let out = Command::new(BIN)
        .args(["pat", "mint", "--user", "bob", "--database", &database_url])
        .env_remove("KEYWAY_HUB_KEY")
        .env("KEYWAY_HUB_KEY_FILE", right)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let key_text = std::fs::read_to_string(right).unwrap();
    let out = Command::new(BIN)
        .args(["pat", "mint", "--user", "bob", "--database", &database_url])
        .env_remove("KEYWAY_HUB_KEY_FILE")
        .env("KEYWAY_HUB_KEY", key_text.trim())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(key_rows(&database_url).await, before);
}

#[tokio::test]
async fn without_a_key_every_command_refuses_and_says_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let fresh = format!("sqlite://{}", dir.path().join("fresh.db").display());
    for args in [
        vec!["serve", "--listen", "127.0.0.1:0", "--database", &fresh],
        vec!["user", "add", "bob", "--role", "developer", "--database", &fresh],
        vec!["keys", "rotate", "--database", &fresh],
    ] {
        let out = hub_cmd(&args, "a long password\n");
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{args:?} started without a key");
        assert!(err.contains("no hub key is configured") && err.contains("keyway-hub keys new-key"), "{args:?}: {err}");
    }
    assert!(!dir.path().join("fresh.db").exists(), "nothing is created without a hub key");

    // An existing database: the message says it needs the key it was sealed with.
    let (_, key_file) = key_file_in(dir.path());
    let db = format!("sqlite://{}", dir.path().join("sealed.db").display());
    let made = hub_cmd(
        &["user", "add", "bob", "--role", "developer", "--database", &db, "--key-file", key_file.to_str().unwrap()],
        "a long password\n",
    );
    assert!(made.status.success(), "{}", text(&made.stderr));
    let before = key_rows(&db).await;
    let out = hub_cmd(&["pat", "mint", "--user", "bob", "--database", &db], "");
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("Pass the key this database was sealed with"), "{}", text(&out.stderr));
    assert_eq!(key_rows(&db).await, before);
}

#[tokio::test]
async fn a_key_file_others_may_read_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("hub.db").display());
    let (_, key_file) = key_file_in(dir.path());
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out =
        hub_cmd(&["serve", "--listen", "127.0.0.1:0", "--database", &db, "--key-file", key_file.to_str().unwrap()], "");
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("open to other users (mode 0644)") && err.contains("chmod 600"), "{err}");
}

#[tokio::test]
async fn keys_new_key_prints_a_key_or_writes_a_private_file() {
    use std::os::unix::fs::PermissionsExt as _;
    let out = hub_cmd(&["keys", "new-key"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    let key = HubKey::parse(&printed).expect("a hub key on stdout");
    let again = HubKey::parse(&text(&hub_cmd(&["keys", "new-key"], "").stdout)).unwrap();
    assert_ne!(key.id(), again.id(), "each key is new");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.key");
    let out = hub_cmd(&["keys", "new-key", "--out", path.to_str().unwrap()], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "the key is not printed when written to a file");
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    let written = HubKey::from_file(&path).unwrap();
    assert!(!text(&out.stderr).contains(written.to_text().as_str()));
    // An existing file is never replaced.
    let out = hub_cmd(&["keys", "new-key", "--out", path.to_str().unwrap()], "");
    assert!(!out.status.success());
    assert_eq!(HubKey::from_file(&path).unwrap().id(), written.id());
}

fn key_file_of(hub: &TestHub, dir: &Path) -> String {
    let path = dir.join("hub.key");
    hub.hub_key.write_new_file(&path).unwrap();
    path.to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_rotation_by_the_cli_is_used_by_the_running_hub_and_old_tokens_keep_working() {
    let hub = TestHub::start_with(|s| s.key_refresh_interval = Duration::from_millis(50)).await;
    let (_, old) = sign_in(&hub, &v4(44103)).await;
    let old_kid = header_kid(&old.access_token);
    assert_eq!(jwks_kids(&hub).await, vec![old_kid.clone()]);

    let dir = tempfile::tempdir().unwrap();
    let key_file = key_file_of(&hub, dir.path());
    let out = hub_cmd(&["keys", "rotate", "--database", &hub.database_url, "--key-file", &key_file], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    let new_kid = said.split_whitespace().nth(2).unwrap().to_owned();
    assert_ne!(new_kid, old_kid);
    assert!(said.contains(&old_kid), "{said}");

    // The running hub picks the rotation up by itself: the JWKS lists both keys.
    eventually("the hub listing the new key", || async { jwks_kids(&hub).await.len() == 2 }).await;
    let kids = jwks_kids(&hub).await;
    assert!(kids.contains(&old_kid) && kids.contains(&new_kid), "{kids:?}");

    // New tokens carry the new kid and verify against the JWKS; the old token still works.
    let (_, new) = sign_in(&hub, &v4(44104)).await;
    assert_eq!(header_kid(&new.access_token), new_kid);
    assert_eq!(header_kid(new.id_token.as_deref().unwrap()), new_kid);
    verify_jwt(&hub, &new.access_token).await;
    verify_jwt(&hub, &old.access_token).await;
    token_works(&hub, &new.access_token).await;
    token_works(&hub, &old.access_token).await;
    // And the refresh token of the old sign-in gets tokens from the new key.
    let refreshed: keyway_api::TokenResponse =
        refresh(&hub, old.refresh_token.as_deref().unwrap()).await.json().await.unwrap();
    assert_eq!(header_kid(&refreshed.access_token), new_kid);

    // Once the overlap has passed, the previous key leaves the JWKS and verifies nothing.
    hub.clock.advance(Duration::from_secs(keyway_hub::OVERLAP_SECS as u64 + 1));
    assert_eq!(jwks_kids(&hub).await, vec![new_kid.clone()]);
    let (_, later) = sign_in(&hub, &v4(44108)).await;
    assert_eq!(header_kid(&later.access_token), new_kid);
    token_works(&hub, &later.access_token).await;
    // Its sealed seed is dropped; its public key stays.
    eventually("the old seed dropped", || async {
        key_rows(&hub.database_url).await.iter().any(|r| r.starts_with(&old_kid) && r.contains(" None None None None "))
    })
    .await;
}

#[tokio::test]
async fn a_token_from_a_key_rotated_elsewhere_makes_the_hub_reread_its_keys_and_unknown_kids_are_refused() {
    // No periodic re-read during the test: only the unknown kid makes the hub look.
    let hub = TestHub::start_with(|s| s.key_refresh_interval = Duration::from_secs(3600)).await;
    let (_, tokens) = sign_in(&hub, &v4(44105)).await;
    let old_kid = header_kid(&tokens.access_token);

    // An unknown kid, and a known kid with another key's signature: both refused.
    let stranger = SigningKey::from_bytes(&[3u8; 32]);
    for forged in
        [resign(&tokens.access_token, &stranger, "AAAAAAAAAAA"), resign(&tokens.access_token, &stranger, &old_kid)]
    {
        expect_error(me(&hub, &forged).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
        expect_error(userinfo(&hub, &forged).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
    let no_kid = {
        let claims = tokens.access_token.split('.').nth(1).unwrap();
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": "EdDSA", "typ": "at+jwt"}).to_string());
        let input = format!("{header}.{claims}");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(stranger.sign(input.as_bytes()).to_bytes()))
    };
    expect_error(me(&hub, &no_kid).await, StatusCode::UNAUTHORIZED, "invalid_token").await;

    // Another process rotates; a token signed with the new key (as another hub of this database
    // would sign it) names a kid this hub has not loaded yet.
    let dir = tempfile::tempdir().unwrap();
    let key_file = key_file_of(&hub, dir.path());
    let out = hub_cmd(&["keys", "rotate", "--database", &hub.database_url, "--key-file", &key_file], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let new_kid = text(&out.stdout).split_whitespace().nth(2).unwrap().to_owned();
    assert_eq!(jwks_kids(&hub).await, vec![old_kid.clone()], "not re-read yet");
    let new_seed = stored_seed(&hub.database_url, &hub.hub_key, &new_kid).await;
    let from_elsewhere = resign(&tokens.access_token, &SigningKey::from_bytes(&new_seed), &new_kid);
    token_works(&hub, &from_elsewhere).await;
    let kids = jwks_kids(&hub).await;
    assert!(kids.contains(&old_kid) && kids.contains(&new_kid), "{kids:?}");
    let (_, new) = sign_in(&hub, &v4(44106)).await;
    assert_eq!(header_kid(&new.access_token), new_kid);
    token_works(&hub, &tokens.access_token).await;
}

async fn exchange_admin(hub: &TestHub, access: &str) -> String {
    let resp = reqwest::Client::new()
        .post(hub.at("/auth/exchange"))
        .bearer_auth(access)
        .json(&json!({"requested_token_class": "user_admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn admins_set_the_rotation_period_and_the_hub_rotates_when_it_is_due() {
    use keyway_api::Role;
    let hub = TestHub::start_with_users(
        |s| s.key_refresh_interval = Duration::from_millis(50),
        &[("dave", &[Role::Developer])],
    )
    .await;
    let http = reqwest::Client::new();
    let admin = access_token_of(&hub, USER).await;
    let dev = access_token_of(&hub, "dave").await;
    let url = hub.at("/api/settings/keys");

    let got: Value = http.get(&url).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(got, json!({"rotation_days": 90}));
    expect_error(http.get(&url).bearer_auth(&dev).send().await.unwrap(), StatusCode::FORBIDDEN, "role_required").await;
    // Changing it takes a user_admin token of an admin.
    let put = |token: String, body: Value| {
        let (http, url) = (http.clone(), url.clone());
        async move { http.put(url).bearer_auth(token).json(&body).send().await.unwrap() }
    };
    expect_error(put(admin.clone(), json!({"rotation_days": 1})).await, StatusCode::FORBIDDEN, "admin_required").await;
    let dev_admin = exchange_admin(&hub, &dev).await;
    expect_error(put(dev_admin, json!({"rotation_days": 1})).await, StatusCode::FORBIDDEN, "role_required").await;
    let admin_jwt = exchange_admin(&hub, &admin).await;
    expect_error(
        put(admin_jwt.clone(), json!({"rotation_days": 3651})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let resp = put(admin_jwt.clone(), json!({"rotation_days": "soon"})).await;
    assert!(resp.status().is_client_error(), "{}", resp.status());
    let got: Value = http.get(&url).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(got, json!({"rotation_days": 90}), "refused changes change nothing");

    let old_kid = header_kid(&admin);
    let resp = put(admin_jwt.clone(), json!({"rotation_days": 1})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    // Not due yet: still one key.
    assert_eq!(jwks_kids(&hub).await, vec![old_kid.clone()]);

    // A day later the key watch rotates by itself, once.
    hub.clock.advance(Duration::from_secs(86_400));
    eventually("the automatic rotation", || async { jwks_kids(&hub).await.len() == 2 }).await;
    let (_, new) = sign_in(&hub, &v4(44107)).await;
    assert_ne!(header_kid(&new.access_token), old_kid);
    let admin = new.access_token;
    let audit: Value = http
        .get(hub.at("/api/audit?action=key.rotate"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rows = audit["items"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{audit}");
    assert_eq!(rows[0]["actor_kind"], "hub", "{audit}");
    let settings: Value = http
        .get(hub.at("/api/audit?action=settings.keys"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(settings["items"].as_array().unwrap().len(), 1, "{settings}");
}
