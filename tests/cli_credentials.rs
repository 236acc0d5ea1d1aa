//! The `keyway` CLI's credential commands against a real hub on 127.0.0.1, with PATs and
//! service tokens in the real Secret Service (gnome-keyring in the test's headless D-Bus
//! session). Run through `cargo xtask test`.

use std::io::{BufRead, BufReader, Write as _};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, ensure};
use keyway_api::Role;
use keyway_e2e::{Sandbox, TestHub, bin, keychain_lookup, ledger, play_browser};
use serde_json::Value;

const PASSWORD: &str = "correct horse battery";

fn keyway(sb: &Sandbox) -> Command {
    let mut c = sb.command(&bin("keyway"));
    for var in ["KEYWAY_PAT", "KEYWAY_SERVICE_TOKEN", "KEYWAY_ENROLLMENT_TOKEN"] {
        c.env_remove(var);
    }
    c
}

/// A profile name no other test uses, so parallel tests never share a keychain entry.
fn profile(tag: &str) -> String {
    format!("c-{tag}-{}", std::process::id())
}

/// Runs `keyway ARGS` with `stdin` piped in (the way secrets reach it).
fn with_stdin(sb: &Sandbox, args: &[&str], stdin: &str) -> Result<Output> {
    ledger::record(ledger::Kind::of_shape(stdin).unwrap_or(ledger::Kind::Password), stdin);
    let mut child =
        keyway(sb).args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    child.stdin.take().context("stdin")?.write_all(format!("{stdin}\n").as_bytes())?;
    Ok(child.wait_with_output()?)
}

fn run(sb: &Sandbox, args: &[&str]) -> Result<Output> {
    Ok(keyway(sb).args(args).stdin(Stdio::null()).output()?)
}

fn json_of(out: &Output) -> Result<Value> {
    let v = serde_json::from_slice(&out.stdout).with_context(|| {
        format!("not JSON: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    })?;
    ledger::record_json(&v);
    Ok(v)
}

fn ok_json(out: Output) -> Result<Value> {
    ensure!(
        out.status.success(),
        "keyway failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    json_of(&out)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

async fn me(hub: &TestHub, jwt: &str) -> Result<Value> {
    let resp = reqwest::Client::new().get(format!("{}/api/me", hub.url)).bearer_auth(jwt).send().await?;
    ensure!(resp.status() == 200, "/api/me answered {}", resp.status());
    Ok(resp.json().await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pat_mint_exchange_revoke_and_nothing_on_disk() -> Result<()> {
    let (hub, pats) =
        TestHub::start_with_pats(&[("ada", PASSWORD, &[Role::Developer, Role::Admin])], &[("ada", None)]).await?;
    let user_pat = &pats[0];
    let sb = Sandbox::new()?;
    let (p, a, g, kept) = (profile("user"), profile("agent"), profile("guard"), profile("kept"));
    let mut secrets: Vec<String> = vec![user_pat.clone()];

    // A user PAT, read from stdin, checked at the hub, kept in the keychain.
    let v = ok_json(with_stdin(&sb, &["login", "--pat", "--server", &hub.url, "--profile", &p, "--json"], user_pat)?)?;
    assert_eq!(v["kind"], "user");
    assert_eq!(v["username"], "ada");
    assert_eq!(keychain_lookup(&format!("{p}/pat"))?.as_deref(), Some(user_pat.as_str()));

    // A mistyped PAT is refused offline, and nothing is stored.
    let mut typo: Vec<char> = user_pat.chars().collect();
    typo[20] = if typo[20] == 'A' { 'B' } else { 'A' };
    let typo: String = typo.into_iter().collect();
    let out = with_stdin(&sb, &["login", "--pat", "--server", &hub.url, "--profile", &g], &typo)?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("checksum"), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(keychain_lookup(&format!("{g}/pat"))?, None);

    // Mint an agent PAT (the CLI gets a user_admin JWT on its own).
    let v = ok_json(run(&sb, &["token", "mint", "bot", "--create", "--audience", "both", "--json", "--profile", &p])?)?;
    let agent_pat = v["secret"].as_str().context("no secret")?.to_owned();
    let cred_id = v["credential"]["id"].as_str().context("no id")?.to_owned();
    ensure!(agent_pat.starts_with("kwp_a_"), "{agent_pat}");
    secrets.push(agent_pat.clone());

    // The aX guardrail: a profile acting as an agent refuses a user PAT.
    let out = with_stdin(&sb, &["login", "--pat", "--agent", "bot", "--server", &hub.url, "--profile", &g], user_pat)?;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("user PAT") && err.contains("bot"), "{err}");
    assert_eq!(keychain_lookup(&format!("{g}/pat"))?, None);

    // The agent profile with its own PAT; `token print` gives a bearer for curl-style use.
    let v = ok_json(with_stdin(
        &sb,
        &["login", "--pat", "--agent", "bot", "--server", &hub.url, "--profile", &a, "--json"],
        &agent_pat,
    )?)?;
    assert_eq!(v["kind"], "agent");
    let out = run(&sb, &["token", "print", "--profile", &a])?;
    ensure!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let jwt = stdout(&out);
    ensure!(jwt.starts_with("eyJ"), "{jwt}");
    secrets.push(jwt.clone());
    let who = me(&hub, &jwt).await?;
    assert_eq!(who["kind"], "agent");
    assert_eq!(who["name"], "bot");
    assert_eq!(who["token_class"], "agent_access");
    // An agent profile cannot be asked for a user class.
    let out = run(&sb, &["token", "print", "--class", "user_access", "--profile", &a, "--json"])?;
    assert_eq!(json_of(&out)?["error"], "class_not_allowed");

    // --no-print-token keeps the new PAT in the keychain for a profile acting as the agent.
    let out =
        run(&sb, &["token", "mint", "bot", "--no-print-token", "--save-profile", &kept, "--json", "--profile", &p])?;
    let text = stdout(&out);
    let v = ok_json(out)?;
    assert_eq!(v["profile"], kept.as_str());
    assert!(!text.contains("kwp_"), "the PAT was printed: {text}");
    let kept_pat = keychain_lookup(&format!("{kept}/pat"))?.context("not kept")?;
    secrets.push(kept_pat);
    let out = run(&sb, &["token", "print", "--profile", &kept])?;
    ensure!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    secrets.push(stdout(&out));
    assert_eq!(me(&hub, &stdout(&out)).await?["name"], "bot");

    // List, then revoke: the next exchange fails with invalid_credential.
    let list = ok_json(run(&sb, &["credentials", "list", "--json", "--profile", &p])?)?;
    let ids: Vec<&str> = list.as_array().context("array")?.iter().filter_map(|c| c["id"].as_str()).collect();
    assert!(ids.contains(&cred_id.as_str()), "{list}");
    assert!(!list.to_string().contains("kwp_"), "a list shows a secret");
    let text = stdout(&run(&sb, &["credentials", "list", "--profile", &p])?);
    assert!(text.contains(&cred_id) && text.contains("agent_pat"), "{text}");
    let v = ok_json(run(&sb, &["credentials", "revoke", &cred_id, "--json", "--profile", &p])?)?;
    assert_eq!(v["status"], "revoked");
    let out = run(&sb, &["token", "print", "--profile", &a, "--json"])?;
    assert!(!out.status.success());
    assert_eq!(json_of(&out)?["error"], "invalid_credential");
    // The JWT printed before died with its PAT.
    let resp = reqwest::Client::new().get(format!("{}/api/me", hub.url)).bearer_auth(&jwt).send().await?;
    assert_eq!(resp.status(), 401);

    // Rotate the kept PAT: a new secret is printed once, the keychain copy is now dead.
    let kept_id = ok_json(run(&sb, &["credentials", "list", "--json", "--profile", &p])?)?
        .as_array()
        .context("array")?
        .iter()
        .find(|c| c["status"] == "active" && c["kind"] == "agent_pat")
        .and_then(|c| c["id"].as_str().map(str::to_owned))
        .context("no active agent PAT")?;
    let v = ok_json(run(&sb, &["credentials", "rotate", &kept_id, "--json", "--profile", &p])?)?;
    secrets.push(v["secret"].as_str().context("secret")?.to_owned());
    let out = run(&sb, &["token", "print", "--profile", &kept, "--json"])?;
    assert_eq!(json_of(&out)?["error"], "invalid_credential");

    // Agents: create, list, disable.
    ok_json(run(&sb, &["agent", "create", "helper", "--json", "--profile", &p])?)?;
    let list = ok_json(run(&sb, &["agent", "list", "--json", "--profile", &p])?)?;
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");
    let v = ok_json(run(&sb, &["agent", "disable", "helper", "--json", "--profile", &p])?)?;
    assert_eq!(v["disabled"], true);

    // No token of this test is in any file the CLI could have written.
    let mut needles: Vec<&str> = secrets.iter().map(String::as_str).collect();
    needles.push("eyJ");
    let leaks = sb.files_containing(&needles)?;
    ensure!(leaks.is_empty(), "token material on disk: {leaks:?}");
    for prof in [&p, &a, &kept] {
        run(&sb, &["logout", "--profile", prof])?;
    }
    assert_eq!(keychain_lookup(&format!("{p}/pat"))?, None, "logout left the PAT");
    hub.stop().await;
    Ok(())
}

/// `keyway login --no-browser`, signing in like a person would.
async fn browser_login(sb: &Sandbox, hub: &TestHub, p: &str, user: &str) -> Result<()> {
    let mut child: Child = keyway(sb)
        .args(["login", "--server", &hub.url, "--profile", p, "--no-browser"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = child.stderr.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.starts_with("http") {
                let _ = tx.send(line);
            }
        }
    });
    let url = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(30)))
        .await?
        .context("keyway login printed no authorization URL")?;
    play_browser(&url, user, PASSWORD).await?;
    let out = tokio::task::spawn_blocking(move || child.wait_with_output()).await??;
    reader.join().map_err(|_| anyhow!("reader panicked"))?;
    ensure!(out.status.success(), "login failed");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_processes_print_tokens_at_once() -> Result<()> {
    let (hub, pats) =
        TestHub::start_with_pats(&[("bea", PASSWORD, &[Role::Developer])], &[("bea", Some("runner"))]).await?;
    let sb = Sandbox::new()?;
    let signed_in = profile("signin");
    let agent = profile("runner");
    browser_login(&sb, &hub, &signed_in, "bea").await?;
    ok_json(with_stdin(
        &sb,
        &["login", "--pat", "--agent", "runner", "--server", &hub.url, "--profile", &agent, "--json"],
        &pats[0],
    )?)?;
    // Each process holds no JWT yet: all 8 must renew at the same moment. For the sign-in
    // profile that is a refresh-token rotation, which only works if they take turns.
    for (p, class) in [(&signed_in, "user_access"), (&signed_in, "user_admin"), (&agent, "agent_access")] {
        let children: Vec<Child> = (0..8)
            .map(|_| {
                keyway(&sb)
                    .args(["token", "print", "--class", class, "--profile", p])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
            })
            .collect::<std::io::Result<_>>()?;
        let outs: Vec<Output> = tokio::task::spawn_blocking(move || {
            children.into_iter().map(|c| c.wait_with_output()).collect::<std::io::Result<Vec<_>>>()
        })
        .await??;
        for out in &outs {
            ensure!(out.status.success(), "{class}: {}", String::from_utf8_lossy(&out.stderr));
            let who = me(&hub, &stdout(out)).await?;
            assert_eq!(who["token_class"], class);
        }
    }
    // The sign-in survived the rotations.
    let out = run(&sb, &["whoami", "--json", "--profile", &signed_in])?;
    assert_eq!(ok_json(out)?["username"], "bea");
    assert!(sb.files_containing(&[&pats[0], "eyJ"])?.is_empty(), "token material on disk");
    run(&sb, &["logout", "--profile", &signed_in])?;
    run(&sb, &["logout", "--profile", &agent])?;
    hub.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn service_account_login_and_rotate() -> Result<()> {
    let (hub, pats) =
        TestHub::start_with_pats(&[("cal", PASSWORD, &[Role::Developer, Role::Admin])], &[("cal", None)]).await?;
    let sb = Sandbox::new()?;
    let admin = profile("saadmin");
    let bot = profile("sabot");
    ok_json(with_stdin(&sb, &["login", "--pat", "--server", &hub.url, "--profile", &admin, "--json"], &pats[0])?)?;
    let v = ok_json(run(
        &sb,
        &["service-account", "create", "ci-bot", "--group", "auditor", "--json", "--profile", &admin],
    )?)?;
    let first = v["secret"].as_str().context("secret")?.to_owned();
    ensure!(first.starts_with("kwp_s_"));

    // Login with the token from the environment.
    let out = keyway(&sb)
        .args(["service-account", "login", "ci-bot", "--server", &hub.url, "--profile", &bot, "--json"])
        .env("KEYWAY_SERVICE_TOKEN", &first)
        .stdin(Stdio::null())
        .output()?;
    let v = ok_json(out)?;
    assert_eq!(v["kind"], "service_account");
    assert_eq!(v["roles"], serde_json::json!(["auditor"]));
    assert_eq!(keychain_lookup(&format!("{bot}/service_token"))?.as_deref(), Some(first.as_str()));
    let out = run(&sb, &["token", "print", "--profile", &bot])?;
    ensure!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let jwt = stdout(&out);
    assert_eq!(me(&hub, &jwt).await?["token_class"], "service_access");

    // Rotate (no grace): the stored token stops working; log in again with the new one (stdin).
    let v = ok_json(run(&sb, &["service-account", "rotate", "ci-bot", "--json", "--profile", &admin])?)?;
    let second = v["secret"].as_str().context("secret")?.to_owned();
    let out = run(&sb, &["token", "print", "--profile", &bot, "--json"])?;
    assert_eq!(json_of(&out)?["error"], "invalid_credential");
    ok_json(with_stdin(
        &sb,
        &["service-account", "login", "ci-bot", "--server", &hub.url, "--profile", &bot, "--json"],
        &second,
    )?)?;
    let out = run(&sb, &["token", "print", "--profile", &bot])?;
    ensure!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // With a grace period both work for a while.
    let v =
        ok_json(run(&sb, &["service-account", "rotate", "ci-bot", "--grace", "600", "--json", "--profile", &admin])?)?;
    let third = v["secret"].as_str().context("secret")?.to_owned();
    let out = run(&sb, &["token", "print", "--profile", &bot])?;
    ensure!(out.status.success(), "the retiring token stopped early: {}", String::from_utf8_lossy(&out.stderr));

    let leaks = sb.files_containing(&[&pats[0], &first, &second, &third, &jwt, "eyJ"])?;
    ensure!(leaks.is_empty(), "token material on disk: {leaks:?}");
    run(&sb, &["logout", "--profile", &bot])?;
    run(&sb, &["logout", "--profile", &admin])?;
    assert_eq!(keychain_lookup(&format!("{bot}/service_token"))?, None);
    hub.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn enrollment_token_from_the_environment_becomes_an_agent_profile() -> Result<()> {
    let (hub, pats) = TestHub::start_with_pats(&[("dee", PASSWORD, &[Role::Developer])], &[("dee", None)]).await?;
    let sb = Sandbox::new()?;
    let p = profile("enroll");
    // The owner mints an enrollment token (as the desktop app would) with a user_admin JWT.
    let http = reqwest::Client::new();
    let admin: Value = http
        .post(format!("{}/auth/exchange", hub.url))
        .bearer_auth(&pats[0])
        .json(&serde_json::json!({"requested_token_class": "user_admin"}))
        .send()
        .await?
        .json()
        .await?;
    let admin = admin["access_token"].as_str().context("no admin JWT")?;
    let enrollment: Value = http
        .post(format!("{}/api/credentials/enrollment", hub.url))
        .bearer_auth(admin)
        .json(&serde_json::json!({}))
        .send()
        .await?
        .json()
        .await?;
    let enrollment = enrollment["secret"].as_str().context("no enrollment secret")?.to_owned();

    let enroll = |profile: &str| {
        keyway(&sb)
            .args(["token", "enroll", "--server", &hub.url, "--agent-name", "scout", "--profile", profile, "--json"])
            .env("KEYWAY_ENROLLMENT_TOKEN", &enrollment)
            .stdin(Stdio::null())
            .output()
    };
    let v = ok_json(enroll(&p)?)?;
    assert_eq!(v["credential"]["agent_name"], "scout");
    let agent_pat = keychain_lookup(&format!("{p}/pat"))?.context("no PAT kept")?;
    ensure!(agent_pat.starts_with("kwp_a_"));
    let out = run(&sb, &["token", "print", "--profile", &p])?;
    ensure!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(me(&hub, &stdout(&out)).await?["name"], "scout");
    // The token is used up.
    let out = enroll(&profile("enroll2"))?;
    assert_eq!(json_of(&out)?["error"], "invalid_credential");
    ensure!(sb.files_containing(&[&enrollment, &agent_pat, "eyJ"])?.is_empty(), "token material on disk");
    run(&sb, &["logout", "--profile", &p])?;
    hub.stop().await;
    Ok(())
}

/// More credentials than the hub sends in one page: `credentials list` follows the pages and
/// shows each one exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn credentials_list_follows_the_hubs_pages() -> Result<()> {
    const MANY: usize = 230;
    let wanted: Vec<(&str, Option<&str>)> = (0..MANY).map(|_| ("ada", None)).collect();
    let (hub, pats) = TestHub::start_with_pats(&[("ada", PASSWORD, &[Role::Developer])], &wanted).await?;
    let sb = Sandbox::new()?;
    let p = profile("pages");
    ok_json(with_stdin(&sb, &["login", "--pat", "--server", &hub.url, "--profile", &p, "--json"], &pats[0])?)?;
    let list = ok_json(run(&sb, &["credentials", "list", "--json", "--profile", &p])?)?;
    let ids: Vec<&str> = list.as_array().context("array")?.iter().filter_map(|c| c["id"].as_str()).collect();
    let unique: std::collections::HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(ids.len(), MANY, "listed {} of {MANY}", ids.len());
    assert_eq!(unique.len(), MANY, "a credential listed twice");
    hub.stop().await;
    Ok(())
}
