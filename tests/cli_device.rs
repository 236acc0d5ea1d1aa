//! The device authorization grant (RFC 8628) from the CLI, against a real hub on 127.0.0.1 with
//! the real Secret Service: one `keyway login --device` waits while another `keyway`, signed in
//! through the browser, approves or denies its code with `keyway device approve|deny`. Run
//! through `cargo xtask test`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, ensure};
use keyway_api::Role;
use keyway_e2e::{ANY_JWT, Sandbox, TestHub, bin, keychain_lookup, output_within, play_browser};
use serde_json::Value;

const PASSWORD: &str = "correct horse battery";

fn keyway(sb: &Sandbox) -> Command {
    sb.command(&bin("keyway"))
}

/// A profile name no other test uses, so parallel tests never share a keychain entry.
fn profile(tag: &str) -> String {
    format!("t-{tag}-{}", std::process::id())
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Reads a child's stderr on a thread, sending each line on, and keeping them all.
fn lines_of(child: &mut Child) -> (mpsc::Receiver<String>, JoinHandle<String>) {
    let stderr = child.stderr.take().expect("piped");
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    (rx, reader)
}

async fn next_line(rx: &mpsc::Receiver<String>, what: &str, wanted: impl Fn(&str) -> bool) -> Result<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line =
            tokio::task::block_in_place(|| rx.recv_timeout(left)).with_context(|| format!("no {what} printed"))?;
        if wanted(&line) {
            return Ok(line);
        }
    }
}

/// `keyway login --no-browser` for the approver, signed in like a person would.
async fn sign_in(sb: &Sandbox, hub: &TestHub, p: &str, user: &str) -> Result<()> {
    let mut child = keyway(sb)
        .args(["login", "--server", &hub.url, "--profile", p, "--no-browser"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let (rx, reader) = lines_of(&mut child);
    let url = next_line(&rx, "authorization URL", |l| l.starts_with("http")).await?;
    play_browser(&url, user, PASSWORD).await?;
    let out = tokio::task::spawn_blocking(move || child.wait_with_output()).await??;
    let err = reader.join().map_err(|_| anyhow!("stderr reader panicked"))?;
    ensure!(out.status.success(), "approver's login failed: {}{err}", String::from_utf8_lossy(&out.stdout));
    Ok(())
}

/// A `keyway login --device` in progress, and the code it printed.
struct DeviceLogin {
    child: Child,
    reader: JoinHandle<String>,
    code: String,
    printed: Vec<String>,
}

async fn start_device_login(sb: &Sandbox, hub: &TestHub, p: &str) -> Result<DeviceLogin> {
    let mut child = keyway(sb)
        .args(["login", "--device", "--json", "--server", &hub.url, "--profile", p])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let (rx, reader) = lines_of(&mut child);
    let mut printed = vec![next_line(&rx, "verification URI", |l| l.contains("/device")).await?];
    let code = next_line(&rx, "user code", |l| is_code(l.trim())).await?.trim().to_owned();
    printed.push(next_line(&rx, "complete link", |l| l.starts_with("http")).await?);
    Ok(DeviceLogin { child, reader, code, printed })
}

fn is_code(s: &str) -> bool {
    s.len() == 9 && s.chars().enumerate().all(|(i, c)| if i == 4 { c == '-' } else { c.is_ascii_uppercase() })
}

impl DeviceLogin {
    async fn finish(self) -> Result<Output> {
        let DeviceLogin { child, reader, .. } = self;
        let out = tokio::time::timeout(
            Duration::from_secs(60),
            tokio::task::spawn_blocking(move || child.wait_with_output()),
        )
        .await
        .context("keyway login --device did not end within a minute")???;
        let err = reader.join().map_err(|_| anyhow!("stderr reader panicked"))?;
        Ok(Output { status: out.status, stdout: out.stdout, stderr: err.into_bytes() })
    }
}

/// `keyway device …` with `answer` on stdin.
fn device(sb: &Sandbox, p: &str, args: &[&str], answer: &str) -> Result<Output> {
    let mut child = keyway(sb)
        .arg("device")
        .args(args)
        .args(["--profile", p])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child.stdin.take().expect("piped").write_all(answer.as_bytes())?;
    let out = child.wait_with_output()?;
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_device_signs_in_when_another_signed_in_cli_approves_its_code() -> Result<()> {
    let hub = TestHub::start(&[("ada", PASSWORD, &[Role::Developer, Role::Reviewer])]).await?;
    let approver = Sandbox::new()?;
    let pa = profile("dev-approver");
    sign_in(&approver, &hub, &pa, "ada").await?;

    let headless = Sandbox::new()?;
    let pd = profile("dev-device");
    let login = start_device_login(&headless, &hub, &pd).await?;
    ensure!(login.printed[0].contains(&format!("{}/device", hub.url)), "{:?}", login.printed);
    ensure!(login.printed[1].ends_with(&format!("/device?user_code={}", login.code)), "{:?}", login.printed);

    // Asked first, the person says no: the request is shown, nothing is approved.
    let no = device(&approver, &pa, &["approve", &login.code], "n\n")?;
    ensure!(!no.status.success(), "approved without a yes: {}", text(&no));
    let shown = String::from_utf8_lossy(&no.stderr);
    ensure!(shown.contains("Keyway Desktop (keyway-desktop)"), "{shown}");
    ensure!(shown.contains("from:    127.0.0.1") && shown.contains(" UTC ("), "{shown}");
    ensure!(shown.contains("Not approved"), "{shown}");

    // Then yes, with the code typed loosely.
    let loose = login.code.replace('-', " ").to_lowercase();
    let yes = device(&approver, &pa, &["approve", &loose], "y\n")?;
    ensure!(yes.status.success(), "approve failed: {}", text(&yes));
    ensure!(String::from_utf8_lossy(&yes.stdout).contains("Approved: Keyway Desktop"), "{}", text(&yes));

    let code = login.code.clone();
    let out = login.finish().await?;
    ensure!(out.status.success(), "device login failed: {}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).with_context(|| text(&out))?;
    ensure!(v["username"] == "ada" && v["renewable"] == true, "{v}");
    // Kept as a browser sign-in is: the refresh token in the keychain, and nowhere else.
    let refresh = keychain_lookup(&format!("{pd}/refresh_token"))?.context("no refresh token in the keychain")?;
    ensure!(keychain_lookup(&format!("{pd}/access_token"))?.is_none(), "an access token was kept");
    let leaks = headless.files_containing(&[&refresh, ANY_JWT])?;
    ensure!(leaks.is_empty(), "token material on disk: {leaks:?}");
    let who = output_within(keyway(&headless).args(["whoami", "--json", "--profile", &pd]), Duration::from_secs(30))?;
    ensure!(who.status.success(), "whoami: {}", text(&who));

    // The code was used: approving it again is refused in words.
    let again = device(&approver, &pa, &["approve", &code, "--yes"], "")?;
    ensure!(!again.status.success(), "{}", text(&again));
    ensure!(text(&again).contains(&format!("No device sign-in is waiting for {code}")), "{}", text(&again));
    hub.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_denied_device_login_ends_with_access_denied() -> Result<()> {
    let hub = TestHub::start(&[("ada", PASSWORD, &[Role::Developer])]).await?;
    let approver = Sandbox::new()?;
    let pa = profile("deny-approver");
    sign_in(&approver, &hub, &pa, "ada").await?;
    let headless = Sandbox::new()?;
    let pd = profile("deny-device");
    let login = start_device_login(&headless, &hub, &pd).await?;

    let deny = device(&approver, &pa, &["deny", &login.code], "")?;
    ensure!(deny.status.success(), "deny failed: {}", text(&deny));
    ensure!(String::from_utf8_lossy(&deny.stdout).contains("Denied"), "{}", text(&deny));
    let out = login.finish().await?;
    ensure!(!out.status.success(), "a denied login succeeded: {}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).with_context(|| text(&out))?;
    ensure!(v["error"] == "access_denied", "{v}");
    ensure!(v["message"].as_str().is_some_and(|m| m.contains("denied")), "{v}");
    ensure!(keychain_lookup(&format!("{pd}/refresh_token"))?.is_none(), "a denied login kept a session");
    hub.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_device_code_ends_the_login_and_cannot_be_approved() -> Result<()> {
    let hub = TestHub::start(&[("ada", PASSWORD, &[Role::Developer])]).await?;
    let approver = Sandbox::new()?;
    let pa = profile("exp-approver");
    sign_in(&approver, &hub, &pa, "ada").await?;
    let headless = Sandbox::new()?;
    let pd = profile("exp-device");
    let login = start_device_login(&headless, &hub, &pd).await?;

    // Past the code's ten minutes on the hub's clock.
    hub.clock.advance(Duration::from_secs(601));
    let code = login.code.clone();
    let out = login.finish().await?;
    ensure!(!out.status.success(), "an expired login succeeded: {}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).with_context(|| text(&out))?;
    ensure!(v["error"] == "expired_token", "{v}");
    ensure!(v["message"].as_str().is_some_and(|m| m.contains("expired") && m.contains("again")), "{v}");

    let late = device(&approver, &pa, &["approve", &code, "--yes"], "")?;
    ensure!(!late.status.success(), "{}", text(&late));
    ensure!(text(&late).contains("may have expired"), "{}", text(&late));
    hub.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wrong_device_code_is_refused_in_words() -> Result<()> {
    let hub = TestHub::start(&[("ada", PASSWORD, &[Role::Developer])]).await?;
    let approver = Sandbox::new()?;
    let pa = profile("wrong-approver");
    sign_in(&approver, &hub, &pa, "ada").await?;

    // Well-formed, but no device asked with it.
    let wrong = device(&approver, &pa, &["approve", "BCDF-GHJK", "--yes", "--json"], "")?;
    ensure!(!wrong.status.success(), "{}", text(&wrong));
    let v: Value = serde_json::from_slice(&wrong.stdout).with_context(|| text(&wrong))?;
    ensure!(v["error"] == "not_found", "{v}");
    ensure!(v["message"].as_str().is_some_and(|m| m.contains("No device sign-in is waiting for BCDF-GHJK")), "{v}");
    // Not a code at all: refused before the hub counts it.
    let junk = device(&approver, &pa, &["deny", "12345"], "")?;
    ensure!(!junk.status.success(), "{}", text(&junk));
    ensure!(text(&junk).contains("is not a device code"), "{}", text(&junk));
    hub.stop().await;
    Ok(())
}
