//! The signed-in pages end to end in the real webview: credentials minted and revoked by clicks
//! and used from the CLI; review requests submitted from the CLI arriving live and decided with
//! the keyboard. Run through `cargo xtask test`.

use std::io::Write as _;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::{Client, Locator};
use keyway_api::Role;
use keyway_e2e::webdriver::{Driver, PASSWORD, click, count, element, page_text, screenshot, sign_in, text_of, until};
use keyway_e2e::{Sandbox, TestHub, bin, ledger, root};

/// `keyway login` as `user` into a new profile named after `tag` (the scripted browser plays
/// the person): the profile's name.
fn cli_sign_in(sb: &Sandbox, hub: &TestHub, user: &str, tag: &str) -> Result<String> {
    let profile = format!("{tag}-{}", std::process::id());
    let out = sb
        .command(&bin("keyway"))
        .args(["login", "--server", &hub.url, "--profile", &profile])
        .env("BROWSER", root().join("tests/support/scripted-browser.sh"))
        .env("KEYWAY_TEST_USER", user)
        .env("KEYWAY_TEST_PASSWORD", PASSWORD)
        .output()?;
    ensure!(out.status.success(), "CLI login failed: {}", String::from_utf8_lossy(&out.stderr));
    Ok(profile)
}

/// Presses keys as a person does (WebDriver key actions, not synthetic DOM events).
async fn press(app: &Client, keys: &str) -> Result<()> {
    let mut actions = KeyActions::new("keyboard".into());
    for c in keys.chars() {
        actions = actions.then(KeyAction::Down { value: c }).then(KeyAction::Up { value: c });
    }
    app.perform_actions(actions).await?;
    Ok(())
}

fn keyway(sb: &Sandbox, args: &[&str], stdin: Option<&str>) -> Result<Output> {
    let mut child = sb
        .command(&bin("keyway"))
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(input) = stdin {
        child.stdin.take().context("stdin")?.write_all(input.as_bytes())?;
    }
    Ok(child.wait_with_output()?)
}

fn clipboard(target: Option<&str>) -> Result<String> {
    let mut cmd = Command::new("xclip");
    cmd.args(["-selection", "clipboard", "-o"]);
    if let Some(t) = target {
        cmd.args(["-t", t]);
    }
    let out = cmd.output().context("xclip is not installed: run `cargo xtask setup`")?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_credential_minted_by_clicks_works_from_the_cli_until_it_is_revoked_by_clicks() -> Result<()> {
    let hub = TestHub::start(&[("ada", PASSWORD, &[Role::Developer, Role::Reviewer, Role::Admin])]).await?;
    let sb = Sandbox::new()?;
    let driver = Driver::for_user(&sb, "ada", &[("KEYWAY_CLIPBOARD_CLEAR_SECS", "3")]).await?;
    let app = driver.open_app().await?;
    sign_in(&app, &hub).await?;

    click(&app, "#nav-credentials").await?;
    element(&app, "#credentials-empty").await?;

    // Mint an agent token for a new agent; least privilege is preselected.
    click(&app, "#mint").await?;
    element(&app, "#mint-agent").await?.send_keys("deploy-bot").await?;
    element(&app, "#new-agent-hint").await?;
    let checked = |css: &'static str| {
        let app = app.clone();
        async move {
            Ok::<_, anyhow::Error>(app.find(Locator::Css(css)).await?.prop("checked").await?.as_deref() == Some("true"))
        }
    };
    ensure!(checked("#audience-cli").await?, "the narrowest audience is not preselected");
    ensure!(
        checked("#scope-reviews-submit").await? && !checked("#scope-messages").await?,
        "scopes preselected wrongly"
    );
    screenshot(&app, "mint").await?;
    click(&app, "#mint-submit").await?;

    // The secret is shown once, copied to a clipboard that forgets it.
    let field = element(&app, "#new-secret").await?;
    let secret = field.prop("value").await?.context("no secret shown")?;
    ledger::record(ledger::Kind::KwpToken, &secret);
    ensure!(secret.starts_with("kwp_a_") && secret.len() > 40, "unexpected secret shape: {secret:?}");
    click(&app, "#copy-secret").await?;
    text_of(&app, "#copied").await?;
    ensure!(clipboard(None)? == secret, "the clipboard does not hold the secret");
    let targets = clipboard(Some("TARGETS"))?;
    ensure!(targets.contains("x-kde-passwordManagerHint"), "not marked as a secret for clipboard managers: {targets}");
    until(&app, "the clipboard to be cleared", || async { Ok(clipboard(None)? != secret) }).await?;
    click(&app, "#secret-done").await?;
    ensure!(app.find(Locator::Css("#new-secret")).await.is_err(), "the secret is still on screen");

    let row = element(&app, "tr[data-kind=agent_pat]").await?;
    let row_id = row.attr("id").await?.context("row without id")?;
    let id = row_id.strip_prefix("cred-").context("row id")?.to_owned();
    ensure!(row.text().await?.contains("deploy-bot"), "row: {}", row.text().await?);

    // The agent uses it from the CLI: stored in the keychain, exchanged for an agent JWT.
    let profile = format!("bot-{}", std::process::id());
    let out = keyway(
        &sb,
        &["login", "--pat", "--agent", "deploy-bot", "--server", &hub.url, "--profile", &profile],
        Some(&format!("{secret}\n")),
    )?;
    ensure!(out.status.success(), "login --pat failed: {}", String::from_utf8_lossy(&out.stderr));
    let out = keyway(&sb, &["token", "print", "--profile", &profile], None)?;
    ensure!(out.status.success(), "token print failed: {}", String::from_utf8_lossy(&out.stderr));
    let jwt = String::from_utf8(out.stdout)?.trim().to_owned();
    ledger::record(ledger::Kind::Jwt, &jwt);
    let me: serde_json::Value =
        reqwest::Client::new().get(format!("{}/api/me", hub.url)).bearer_auth(&jwt).send().await?.json().await?;
    ensure!(me["kind"] == "agent" && me["name"] == "deploy-bot" && me["token_class"] == "agent_access", "{me}");

    // The table shows the use (after a reload of the page's data).
    click(&app, "#nav-session").await?;
    click(&app, "#nav-credentials").await?;
    screenshot(&app, "credentials").await?;

    // Revoke by clicks, confirmed; the next exchange is refused.
    click(&app, &format!("#revoke-{id}")).await?;
    click(&app, "#confirm-revoke").await?;
    until(&app, "the revoked row to leave the active list", || async {
        Ok(app.find(Locator::Css(&format!("#{row_id}"))).await.is_err())
    })
    .await?;
    click(&app, "#show-inactive").await?;
    let status = element(&app, &format!("#{row_id}")).await?.attr("data-status").await?;
    ensure!(status.as_deref() == Some("revoked"), "status after revoke: {status:?}");
    let out = keyway(&sb, &["token", "print", "--profile", &profile, "--json"], None)?;
    ensure!(!out.status.success(), "a revoked PAT still exchanges");
    let err: serde_json::Value = serde_json::from_slice(&out.stdout).context("no JSON error")?;
    ensure!(err["error"] == "invalid_credential", "{err}");

    // Nothing the test saw is on disk or in any log: HOME, XDG dirs, app data, driver log.
    let leaks = sb.files_containing(&[&secret, &jwt])?;
    ensure!(leaks.is_empty(), "secret material on disk: {leaks:?}");
    app.close().await?;
    drop(driver);
    hub.stop().await;
    Ok(())
}

/// `keyway review submit … --wait` as a child process; the payload goes in on stdin.
fn submit(sb: &Sandbox, profile: &str, title: &str, content_type: &str, payload: &str) -> Result<Child> {
    let mut child = sb
        .command(&bin("keyway"))
        .args(["review", "submit", "--title", title, "--content-type", content_type, "--payload", "-"])
        .args(["--wait", "--timeout", "120", "--profile", profile])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child.stdin.take().context("stdin")?.write_all(payload.as_bytes())?;
    Ok(child)
}

async fn exit_code(child: Child) -> Result<(i32, String)> {
    let out =
        tokio::time::timeout(Duration::from_secs(60), tokio::task::spawn_blocking(move || child.wait_with_output()))
            .await
            .context("the waiting submitter did not exit after the decision")???;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Ok((out.status.code().unwrap_or(-1), text))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn review_requests_arrive_live_and_are_decided_with_the_keyboard() -> Result<()> {
    let hub = TestHub::start(&[("rita", PASSWORD, &[Role::Reviewer]), ("dev", PASSWORD, &[Role::Developer])]).await?;
    let sb = Sandbox::new()?;
    let driver = Driver::for_user(&sb, "rita", &[]).await?;
    let app = driver.open_app().await?;
    sign_in(&app, &hub).await?;
    click(&app, "#nav-approvals").await?;
    element(&app, "#queue-empty").await?;
    until(&app, "the live feed", || async { Ok(text_of(&app, "#live-indicator").await?.contains("Live")) }).await?;

    // The developer signs in from the CLI (the scripted browser plays the person).
    let profile = cli_sign_in(&sb, &hub, "dev", "dev")?;

    let diff = "--- a/deploy.yaml\n+++ b/deploy.yaml\n@@ -1,3 +1,3 @@\n image: api\n-tag: v1\n+tag: v2\n replicas: 3\n";
    let first = submit(&sb, &profile, "Deploy api v2", "diff", diff)?;
    until(&app, "the first request to appear without a reload", || async {
        Ok(count(&app, "#queue-list li").await? == 1)
    })
    .await?;
    let notes = "# Rotate the signing key\n\n- new key `k2`\n- old key kept **7 days**\n";
    let second = submit(&sb, &profile, "Rotate the signing key", "markdown", notes)?;
    until(&app, "both requests in the queue", || async { Ok(count(&app, "#queue-list li").await? == 2) }).await?;
    ensure!(text_of(&app, "#pending-count").await? == "2", "badge: {}", page_text(&app).await);

    // j selects the newest; a approves it.
    press(&app, "j").await?;
    let title = text_of(&app, "#detail-title").await?;
    ensure!(title == "Rotate the signing key", "selected {title:?}");
    element(&app, ".payload-markdown h3").await?;
    screenshot(&app, "approvals").await?;
    press(&app, "a").await?;
    until(&app, "the approved request to leave the queue", || async { Ok(count(&app, "#queue-list li").await? == 1) })
        .await?;

    // The next one is selected; r asks for a reason, Enter sends it.
    until(&app, "the next request to be selected", || async {
        Ok(text_of(&app, "#detail-title").await? == "Deploy api v2")
    })
    .await?;
    element(&app, ".payload-diff .diff-add").await?;
    screenshot(&app, "approvals-diff").await?;
    press(&app, "r").await?;
    element(&app, "#reject-reason").await?;
    until(&app, "the reason field to take the focus", || async {
        Ok(app.execute("return document.activeElement && document.activeElement.id;", vec![]).await?
            == serde_json::json!("reject-reason"))
    })
    .await?;
    press(&app, "Tag v2 fails its smoke test").await?;
    press(&app, "\u{E007}").await?;
    element(&app, "#queue-empty").await?;

    // The waiting submitters learn the outcome: 0 approved, 1 rejected.
    let (code, text) = exit_code(second).await?;
    ensure!(code == 0, "approved request: exit {code}: {text}");
    let (code, text) = exit_code(first).await?;
    ensure!(code == 1 && text.contains("smoke test"), "rejected request: exit {code}: {text}");

    // History shows who decided what and why.
    click(&app, "#tab-history").await?;
    until(&app, "both in history", || async { Ok(count(&app, "#queue-list li").await? == 2) }).await?;
    click(&app, "#queue-list li[data-status=rejected]").await?;
    let decisions = text_of(&app, "#decisions").await?;
    ensure!(decisions.contains("rita") && decisions.contains("smoke test"), "decisions: {decisions}");
    screenshot(&app, "approvals-history").await?;

    // Signed out and in again, the queue is live again: a new request arrives without a reload.
    click(&app, "#nav-session").await?;
    click(&app, "#sign-out").await?;
    click(&app, "#sign-in").await?;
    text_of(&app, "#user-name").await?;
    click(&app, "#nav-approvals").await?;
    element(&app, "#queue-empty").await?;
    until(&app, "the live feed after signing in again", || async {
        Ok(text_of(&app, "#live-indicator").await?.contains("Live"))
    })
    .await?;
    let out = sb
        .command(&bin("keyway"))
        .args(["review", "submit", "--title", "After the break", "--profile", &profile])
        .output()?;
    ensure!(out.status.success(), "submit failed: {}", String::from_utf8_lossy(&out.stderr));
    until(&app, "the new request to arrive live", || async { Ok(count(&app, "#queue-list li").await? == 1) }).await?;
    app.close().await?;
    drop(driver);
    hub.stop().await;
    Ok(())
}

/// Hands `link` to the running app the way the desktop does: a second launch with the URL,
/// which passes it over the session bus and exits.
fn open_link(sb: &Sandbox, link: &str) -> Result<()> {
    let mut child = sb.command(&bin("keyway-desktop")).arg(link).stdout(Stdio::null()).stderr(Stdio::null()).spawn()?;
    let t0 = std::time::Instant::now();
    while child.try_wait()?.is_none() {
        if t0.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            bail!("the second launch with {link} did not hand it over and exit");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_link_to_a_request_selects_it_but_a_key_pressed_at_once_decides_nothing() -> Result<()> {
    let hub = TestHub::start(&[("rita", PASSWORD, &[Role::Reviewer]), ("dev", PASSWORD, &[Role::Developer])]).await?;
    let sb = Sandbox::new()?;
    let driver = Driver::for_user(&sb, "rita", &[]).await?;
    let app = driver.open_app().await?;
    sign_in(&app, &hub).await?;
    click(&app, "#nav-approvals").await?;
    element(&app, "#queue-empty").await?;

    let profile = cli_sign_in(&sb, &hub, "dev", "dev-link")?;
    let waiting = submit(&sb, &profile, "Drop the staging database", "text", "DROP DATABASE staging;")?;
    until(&app, "the request in the queue", || async { Ok(count(&app, "#queue-list li").await? == 1) }).await?;
    let id = element(&app, "#queue-list li").await?.attr("id").await?.context("no id")?;
    let id = id.strip_prefix("review-").context("an id of another shape")?.to_owned();

    // The link selects the request, and for a moment the keys decide nothing: a stray `a`
    // meant for another window is shown as such and changes nothing.
    open_link(&sb, &format!("keyway://approvals/{id}"))?;
    element(&app, &format!("#page-approvals[data-selected='{id}'][data-keys-armed='false']")).await?;
    press(&app, "a").await?;
    element(&app, "#keys-wait").await?;
    ensure!(count(&app, "#queue-list li").await? == 1, "a key pressed right after the link decided the request");
    ensure!(
        text_of(&app, "#review-detail").await?.contains("Drop the staging database"),
        "the linked request is not shown"
    );

    // A moment later the same key is the person's answer.
    element(&app, "#page-approvals[data-keys-armed='true']").await?;
    ensure!(!is_shown(&app, "#keys-wait").await?, "the notice stayed after the keys were armed again");
    press(&app, "a").await?;
    element(&app, "#queue-empty").await?;
    let (code, text) = exit_code(waiting).await?;
    ensure!(code == 0, "the request was not approved: exit {code}: {text}");
    app.close().await?;
    drop(driver);
    hub.stop().await;
    Ok(())
}

async fn is_shown(app: &Client, css: &str) -> Result<bool> {
    Ok(count(app, css).await? > 0)
}

/// An agent PAT of `owner`'s (reviews.submit, reviews.read), minted over HTTP, in a new CLI
/// profile of the sandbox.
async fn agent_profile(sb: &Sandbox, hub: &TestHub, owner: &str, agent: &str) -> Result<String> {
    let http = reqwest::Client::new();
    let jwt = keyway_test_support::access_token(&hub.url, owner, PASSWORD).await?;
    let admin: serde_json::Value = http
        .post(format!("{}/auth/exchange", hub.url))
        .bearer_auth(&jwt)
        .json(&serde_json::json!({"requested_token_class": "user_admin"}))
        .send()
        .await?
        .json()
        .await?;
    let minted: serde_json::Value = http
        .post(format!("{}/api/credentials", hub.url))
        .bearer_auth(admin["access_token"].as_str().context("no user_admin token")?)
        .json(&serde_json::json!({"agent": agent, "create_agent": true, "scopes": ["reviews.submit", "reviews.read"]}))
        .send()
        .await?
        .json()
        .await?;
    let pat = minted["secret"].as_str().with_context(|| format!("no PAT: {minted}"))?;
    ledger::record(ledger::Kind::KwpToken, pat);
    let profile = format!("{agent}-{}", std::process::id());
    let out = keyway(sb, &["login", "--pat", "--server", &hub.url, "--profile", &profile], Some(pat))?;
    ensure!(out.status.success(), "login --pat failed: {}", String::from_utf8_lossy(&out.stderr));
    Ok(profile)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_agents_request_shows_what_approving_grants_and_the_click_mints_its_token() -> Result<()> {
    let hub = TestHub::start(&[("rita", PASSWORD, &[Role::Reviewer]), ("dev", PASSWORD, &[Role::Developer])]).await?;
    let sb = Sandbox::new()?;
    let driver = Driver::for_user(&sb, "rita", &[]).await?;
    let app = driver.open_app().await?;
    sign_in(&app, &hub).await?;
    click(&app, "#nav-approvals").await?;
    element(&app, "#queue-empty").await?;

    let profile = agent_profile(&sb, &hub, "dev", "deploy-bot").await?;
    let details = r#"[{"type":"deployment","target":"api","version":"v2","args_sha256":"9f2c0a41"}]"#;
    let mut child = sb
        .command(&bin("keyway"))
        .args(["review", "submit", "--details", "-", "--binding-message", "Deploy api v2 (build 4411)"])
        .args(["--wait", "--token", "--timeout", "120", "--profile", &profile])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child.stdin.take().context("stdin")?.write_all(details.as_bytes())?;
    until(&app, "the agent's request in the queue", || async { Ok(count(&app, "#queue-list li").await? == 1) }).await?;
    click(&app, "#queue-list li").await?;
    let note = text_of(&app, "#grant-note").await?;
    ensure!(note.contains("deploy-bot") && note.contains("5 minutes"), "note: {note}");
    let table = text_of(&app, ".grant-table").await?;
    for shown in ["target", "api", "version", "v2", "args_sha256", "9f2c0a41"] {
        ensure!(table.contains(shown), "{shown} is not shown: {table}");
    }
    ensure!(text_of(&app, ".grant-type").await? == "deployment", "type: {}", text_of(&app, ".grant-type").await?);
    screenshot(&app, "approvals-authorization").await?;
    click(&app, "#approve").await?;
    element(&app, "#queue-empty").await?;

    // The waiting agent gets the minted token, and only the token, on standard output.
    let out =
        tokio::time::timeout(Duration::from_secs(60), tokio::task::spawn_blocking(move || child.wait_with_output()))
            .await
            .context("the agent did not exit after the approval")???;
    ensure!(out.status.code() == Some(0), "exit {:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));
    let jwt = String::from_utf8(out.stdout)?;
    ensure!(jwt.trim().split('.').count() == 3, "not a JWT on stdout: {jwt:?}");
    ledger::record(ledger::Kind::Jwt, jwt.trim());
    app.close().await?;
    drop(driver);
    hub.stop().await;
    Ok(())
}
