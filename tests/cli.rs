//! The `keyway` CLI against a real hub on 127.0.0.1, storing its session in the real Secret
//! Service (gnome-keyring in the test's headless D-Bus session). Run through `cargo xtask test`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, ensure};
use keyway_api::Role;
use keyway_e2e::{Sandbox, TestHub, bin, keychain_lookup, keychain_search, play_browser};
use serde_json::Value;

const PASSWORD: &str = "correct horse battery";

fn keyway(sb: &Sandbox) -> Command {
    sb.command(&bin("keyway"))
}

/// A profile name no other test uses, so parallel tests never share a keychain entry.
fn profile(tag: &str) -> String {
    format!("t-{tag}-{}", std::process::id())
}

/// Start `keyway login … --no-browser`, read the link it prints, and sign in like a person would.
async fn login(sb: &Sandbox, args: &[&str], user: &str, password: &str) -> Result<Output> {
    let mut child: Child =
        keyway(sb).arg("login").args(args).arg("--no-browser").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let stderr = child.stderr.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut rest = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.starts_with("http") {
                let _ = tx.send(line.clone());
            }
            rest.push_str(&line);
            rest.push('\n');
        }
        rest
    });
    let url = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(30)))
        .await?
        .context("keyway login printed no authorization URL")?;
    // The link is alone on its line, and it is a PKCE S256 request with state and nonce.
    let parsed = url::Url::parse(&url)?;
    let q: std::collections::HashMap<_, _> = parsed.query_pairs().into_owned().collect();
    ensure!(q.get("code_challenge_method").map(String::as_str) == Some("S256"), "{url}");
    ensure!(q.get("code_challenge").is_some_and(|c| c.len() == 43), "{url}");
    ensure!(q.get("state").is_some_and(|s| s.len() >= 32) && q.get("nonce").is_some_and(|s| s.len() >= 32), "{url}");
    ensure!(
        q.get("redirect_uri").is_some_and(|r| r.starts_with("http://127.0.0.1:") && r.ends_with("/callback")),
        "{url}"
    );
    let page = play_browser(&url, user, password).await?;
    ensure!(page.contains("close this tab"), "unexpected callback page: {page}");
    let out = tokio::task::spawn_blocking(move || child.wait_with_output()).await??;
    let err = reader.join().map_err(|_| anyhow!("stderr reader panicked"))?;
    Ok(Output { status: out.status, stdout: out.stdout, stderr: err.into_bytes() })
}

fn json_of(out: &Output) -> Result<Value> {
    serde_json::from_slice(&out.stdout).with_context(|| format!("not JSON: {}", String::from_utf8_lossy(&out.stdout)))
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn login_keeps_the_session_only_in_the_keychain_and_logout_revokes_it() -> Result<()> {
    let hub = TestHub::start(&[("ada", PASSWORD, &[Role::Developer, Role::Reviewer])]).await?;
    let sb = Sandbox::new()?;
    let p = profile("login");
    let account = format!("{p}/refresh_token");

    let out = login(&sb, &["--server", &hub.url, "--profile", &p], "ada", PASSWORD).await?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(out.status.success(), "login failed: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    ensure!(stdout.contains("ada") && stdout.contains("developer, reviewer"), "{stdout}");

    // The refresh token is in the Secret Service, as the stock secret-tool sees it …
    let refresh = keychain_lookup(&account)?.context("no keychain entry after login")?;
    ensure!(refresh.len() >= 40, "suspiciously short refresh token");
    ensure!(keychain_search(&account)?.contains(&account), "secret-tool search does not list {account}");
    // … and in no file: not in HOME, the XDG dirs, nor anywhere else the CLI could write.
    let leaks = sb.files_containing(&[&refresh, "eyJ"])?;
    ensure!(leaks.is_empty(), "token material on disk: {leaks:?}");
    // The profile was saved, with the server but no secret.
    let cfg = std::fs::read_to_string(sb.dir.path().join("config/keyway/config.toml"))?;
    ensure!(cfg.contains(&hub.url) && cfg.contains(&p), "{cfg}");

    // whoami restores from the keychain in a fresh process (refresh grant + userinfo).
    let who = keyway(&sb).args(["whoami", "--json", "--profile", &p]).output()?;
    ensure!(who.status.success(), "whoami: {}", String::from_utf8_lossy(&who.stderr));
    let v = json_of(&who)?;
    assert_eq!(v["username"], "ada");
    assert_eq!(v["roles"], serde_json::json!(["developer", "reviewer"]));
    let ends = v["session_expires_at"].as_i64().context("no session_expires_at")?;
    assert!(ends > now() + 29 * 86_400, "session ends too soon: {ends}");
    // The refresh token was rotated, and the new one replaced the old in the keychain.
    let rotated = keychain_lookup(&account)?.context("entry vanished after whoami")?;
    assert_ne!(rotated, refresh);

    // logout revokes at the hub and deletes the entry.
    let bye = keyway(&sb).args(["logout", "--json", "--profile", &p]).output()?;
    ensure!(bye.status.success(), "logout: {}", String::from_utf8_lossy(&bye.stderr));
    let v = json_of(&bye)?;
    assert_eq!(v["revoked_at_server"], true);
    assert_eq!(v["removed_from_keychain"], true);
    assert_eq!(keychain_lookup(&account)?, None, "keychain entry survived logout");
    let refused = reqwest::Client::new()
        .post(format!("{}/oauth/token", hub.url))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", rotated.as_str()), ("client_id", "keyway-desktop")])
        .send()
        .await?;
    assert_eq!(refused.status(), 400);
    assert_eq!(refused.json::<Value>().await?["error"], "invalid_grant");

    let who = keyway(&sb).args(["whoami", "--json", "--profile", &p]).output()?;
    assert!(!who.status.success());
    assert_eq!(json_of(&who)?["error"], "not_signed_in");
    hub.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn profiles_side_by_side_are_listed_switched_and_removed_and_removing_signs_out() -> Result<()> {
    let team = TestHub::start(&[("ada", PASSWORD, &[Role::Developer])]).await?;
    let other = TestHub::start(&[("bob", PASSWORD, &[Role::Reviewer])]).await?;
    let sb = Sandbox::new()?;
    let (a, b) = (profile("side-a"), profile("side-b"));
    for (p, hub, user) in [(&a, &team, "ada"), (&b, &other, "bob")] {
        let out = login(&sb, &["--server", &hub.url, "--profile", p], user, PASSWORD).await?;
        ensure!(out.status.success(), "login {p}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let list = |sb: &Sandbox| -> Result<Vec<Value>> {
        let out = keyway(sb).args(["profile", "list", "--json"]).output()?;
        ensure!(out.status.success(), "profile list: {}", String::from_utf8_lossy(&out.stderr));
        Ok(json_of(&out)?.as_array().context("a list")?.clone())
    };
    let current = |l: &[Value]| l.iter().find(|p| p["current"] == true).map(|p| p["name"].clone());
    let listed = list(&sb)?;
    ensure!(listed.len() == 2, "{listed:?}");
    ensure!(listed.iter().all(|p| p["credential"] == "signed in"), "{listed:?}");
    ensure!(current(&listed) == Some(Value::from(b.as_str())), "the last sign-in is not in use: {listed:?}");

    // Switching: whoami without --profile now speaks to the first hub as ada.
    let out = keyway(&sb).args(["profile", "use", &a]).output()?;
    ensure!(out.status.success(), "profile use: {}", String::from_utf8_lossy(&out.stderr));
    let who = keyway(&sb).args(["whoami", "--json"]).output()?;
    ensure!(json_of(&who)?["username"] == "ada", "whoami after switching: {}", String::from_utf8_lossy(&who.stdout));

    // An unknown profile is refused with the names there are, and nothing changes.
    let out = keyway(&sb).args(["profile", "use", "nope"]).output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    ensure!(!out.status.success() && err.contains("nope") && err.contains(&a), "unknown profile: {err}");
    ensure!(current(&list(&sb)?) == Some(Value::from(a.as_str())), "a refused switch changed the profile in use");

    // Removing signs the profile out at its hub and empties its keychain entries.
    let refresh = keychain_lookup(&format!("{a}/refresh_token"))?.context("no sign-in for the first profile")?;
    let out = keyway(&sb).args(["profile", "remove", &a, "--json"]).output()?;
    ensure!(out.status.success(), "profile remove: {}", String::from_utf8_lossy(&out.stderr));
    let removed = json_of(&out)?;
    ensure!(removed["revoked_at_server"] == true && removed["current"] == b.as_str(), "{removed}");
    ensure!(
        keychain_lookup(&format!("{a}/refresh_token"))?.is_none(),
        "the keychain kept the removed profile's sign-in"
    );
    let refused = reqwest::Client::new()
        .post(format!("{}/oauth/token", team.url))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh.as_str()), ("client_id", "keyway-desktop")])
        .send()
        .await?;
    ensure!(refused.status() == 400, "the removed profile's refresh token still works: {}", refused.status());
    let listed = list(&sb)?;
    ensure!(listed.len() == 1 && current(&listed) == Some(Value::from(b.as_str())), "{listed:?}");
    let bye = keyway(&sb).args(["profile", "remove", &b]).output()?;
    ensure!(bye.status.success(), "removing the last profile: {}", String::from_utf8_lossy(&bye.stderr));
    ensure!(list(&sb)?.is_empty(), "a profile is left");
    team.stop().await;
    other.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn login_whoami_and_logout_work_against_a_hub_on_postgres() -> Result<()> {
    let hub = TestHub::start_on_postgres(&[("ada", PASSWORD, &[Role::Developer])]).await?;
    let sb = Sandbox::new()?;
    let p = profile("pg");
    let account = format!("{p}/refresh_token");
    let out = login(&sb, &["--server", &hub.url, "--profile", &p], "ada", PASSWORD).await?;
    ensure!(out.status.success(), "login failed: {}", String::from_utf8_lossy(&out.stderr));
    let refresh = keychain_lookup(&account)?.context("no keychain entry after login")?;
    let who = keyway(&sb).args(["whoami", "--json", "--profile", &p]).output()?;
    ensure!(who.status.success(), "whoami: {}", String::from_utf8_lossy(&who.stderr));
    assert_eq!(json_of(&who)?["username"], "ada");
    assert_ne!(keychain_lookup(&account)?.context("entry vanished after whoami")?, refresh, "rotated on PostgreSQL");
    let bye = keyway(&sb).args(["logout", "--json", "--profile", &p]).output()?;
    ensure!(bye.status.success(), "logout: {}", String::from_utf8_lossy(&bye.stderr));
    assert_eq!(json_of(&bye)?["revoked_at_server"], true);
    assert_eq!(keychain_lookup(&account)?, None);
    hub.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_session_revoked_at_the_hub_asks_to_sign_in_again() -> Result<()> {
    let hub = TestHub::start(&[("bob", PASSWORD, &[Role::Developer])]).await?;
    let sb = Sandbox::new()?;
    let p = profile("revoked");
    let account = format!("{p}/refresh_token");
    let out = login(&sb, &["--server", &hub.url, "--profile", &p], "bob", PASSWORD).await?;
    ensure!(out.status.success(), "login failed: {}", String::from_utf8_lossy(&out.stderr));
    let refresh = keychain_lookup(&account)?.context("no keychain entry")?;

    // Someone revokes the session (RFC 7009), e.g. from another device.
    let r = reqwest::Client::new()
        .post(format!("{}/oauth/revoke", hub.url))
        .form(&[("token", refresh.as_str()), ("client_id", "keyway-desktop")])
        .send()
        .await?;
    assert_eq!(r.status(), 200);

    let who = keyway(&sb).args(["whoami", "--json", "--profile", &p]).output()?;
    assert!(!who.status.success());
    let v = json_of(&who)?;
    assert_eq!(v["error"], "session_ended", "{v}");
    assert!(v["message"].as_str().unwrap_or_default().contains("Sign in again"), "{v}");
    assert_eq!(keychain_lookup(&account)?, None, "a dead refresh token was left in the keychain");
    // Plain-text mode says the same for people.
    let who = keyway(&sb).args(["whoami", "--profile", &p]).output()?;
    let err = String::from_utf8_lossy(&who.stderr);
    assert!(err.contains("keyway login") || err.contains("Not signed in"), "{err}");
    hub.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn login_works_with_any_openid_provider_by_issuer_and_client_id() -> Result<()> {
    // keyway-hub is itself a standards-compliant provider: the generic path (discovery document,
    // JWKS-verified id_token with nonce, PKCE) is exercised against it by issuer URL.
    let hub = TestHub::start(&[("cy", PASSWORD, &[Role::Auditor])]).await?;
    let sb = Sandbox::new()?;
    let p = profile("oidc");
    let out =
        login(&sb, &["--issuer", &hub.url, "--client-id", "keyway-desktop", "--profile", &p, "--json"], "cy", PASSWORD)
            .await?;
    ensure!(out.status.success(), "login failed: {}", String::from_utf8_lossy(&out.stderr));
    let v = json_of(&out)?;
    assert_eq!(v["username"], "cy");
    assert_eq!(v["roles"], serde_json::json!(["auditor"]));
    let cfg = std::fs::read_to_string(sb.dir.path().join("config/keyway/config.toml"))?;
    assert!(cfg.contains("issuer = "), "{cfg}");
    // An issuer whose discovery document names another issuer is refused.
    let wrong = keyway(&sb)
        .args([
            "login",
            "--issuer",
            &format!("{}/elsewhere", hub.url),
            "--client-id",
            "x",
            "--no-browser",
            "--profile",
            &p,
        ])
        .output()?;
    assert!(!wrong.status.success());
    keyway(&sb).args(["logout", "--profile", &p]).output()?;
    hub.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_gets_clear_messages_and_writes_nothing() -> Result<()> {
    let sb = Sandbox::new()?;
    let p = profile("bad");
    let cases: &[(&[&str], &str)] = &[
        (&["login", "--server", "hub.example.com", "--no-browser"], "not a valid URL"),
        (&["login", "--server", "ftp://hub.example.com", "--no-browser"], "https://"),
        // Port 9 (discard) on loopback: nothing listens there in the test session.
        (&["login", "--server", "http://127.0.0.1:9", "--no-browser"], "Cannot reach"),
        (&["whoami"], "keyway login"),
        (&["login", "--profile", "../evil", "--server", "http://127.0.0.1:9"], "not a valid profile name"),
    ];
    for (args, expect) in cases {
        let mut cmd = keyway(&sb);
        cmd.args(*args);
        if !args.contains(&"--profile") {
            cmd.args(["--profile", &p]);
        }
        let out = cmd.output()?;
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(err.contains(expect), "{args:?}: expected '{expect}' in: {err}");
        assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    }
    assert!(!sb.dir.path().join("config/keyway/config.toml").exists(), "a failed login saved a profile");

    // The browser never comes back: a clear timeout.
    let hub = TestHub::start(&[]).await?;
    let out = keyway(&sb)
        .args(["login", "--server", &hub.url, "--no-browser", "--timeout", "1", "--profile", &p])
        .output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("did not come back within 1 seconds"), "{err}");
    hub.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_a_secret_service_login_names_the_fix_and_falls_back_to_nothing() -> Result<()> {
    let hub = TestHub::start(&[]).await?;
    let sb = Sandbox::new()?;
    let out = keyway(&sb)
        .env("DBUS_SESSION_BUS_ADDRESS", format!("unix:path={}/no-bus", sb.dir.path().display()))
        .args(["login", "--server", &hub.url, "--no-browser", "--profile", &profile("nobus")])
        .output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "login without a keychain succeeded: {err}");
    assert!(err.contains("Secret Service") && err.contains("gnome-keyring"), "{err}");
    assert!(!err.contains("Open this link"), "it started a sign-in it could not store: {err}");
    assert!(sb.files_containing(&["refresh", "eyJ"])?.is_empty(), "something was written in plaintext");
    hub.stop().await;
    Ok(())
}
