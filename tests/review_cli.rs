//! `keyway review …` against a real hub, with the session in the real Secret Service (run
//! through `cargo xtask headless`): a submitter blocks with `--wait` in its own process while a
//! reviewer decides over HTTP, and the process exits with the decision.

use std::io::{BufRead, BufReader, Write as _};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use futures_util::StreamExt as _;
use keyway_api::Role;
use keyway_api::reviews::{Decide, ReviewEvent, ReviewQuery, ReviewRequest, ReviewStatus, SubmitReview, Verdict};
use keyway_e2e::{Sandbox, TestHub, bin, keychain_lookup, play_browser};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

fn keyway(sb: &Sandbox) -> Command {
    sb.command(&bin("keyway"))
}

fn profile(tag: &str) -> String {
    format!("t-rv-{tag}-{}", std::process::id())
}

/// `keyway login --no-browser` as `user`, signing in through the printed link.
async fn cli_login(sb: &Sandbox, hub: &TestHub, profile: &str, user: &str) -> Result<()> {
    let mut child: Child = keyway(sb)
        .args(["login", "--server", &hub.url, "--profile", profile, "--no-browser"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = child.stderr.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.starts_with("http") {
                let _ = tx.send(line);
            }
        }
    });
    let url = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(30)))
        .await?
        .context("keyway login printed no link")?;
    play_browser(&url, user, PASSWORD).await?;
    let out = tokio::task::spawn_blocking(move || child.wait_with_output()).await??;
    ensure!(out.status.success(), "login of {user} failed: {}", String::from_utf8_lossy(&out.stderr));
    // Read once so that the secret ledger has the refresh token the sign-in stored.
    keychain_lookup(&format!("{profile}/refresh_token"))?.context("no refresh token in the keychain")?;
    Ok(())
}

/// A browser sign-in as `user` straight against the hub (PKCE S256): its access token.
async fn access_token(hub: &TestHub, user: &str) -> Result<String> {
    keyway_test_support::access_token(&hub.url, user, PASSWORD).await
}

/// A reviewer deciding over HTTP.
struct Reviewer {
    hub_url: String,
    token: String,
}

impl Reviewer {
    /// The newest pending request titled `title`, waiting (bounded) for it to be submitted.
    async fn pending(&self, title: &str) -> Result<ReviewRequest> {
        let t0 = Instant::now();
        loop {
            let page: Value = reqwest::Client::new()
                .get(format!("{}/api/reviews?status=pending", self.hub_url))
                .bearer_auth(&self.token)
                .send()
                .await?
                .json()
                .await?;
            let items: Vec<ReviewRequest> = serde_json::from_value(page["items"].clone())?;
            if let Some(r) = items.into_iter().find(|r| r.title == title) {
                return Ok(r);
            }
            if t0.elapsed() > Duration::from_secs(20) {
                bail!("'{title}' was never submitted");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A wait on `id` that answers at once (`timeout=0`), finding it still pending.
    async fn still_pending(&self, id: &str) -> Result<()> {
        let r: ReviewRequest = reqwest::Client::new()
            .get(format!("{}/api/reviews/{id}/wait?timeout=0", self.hub_url))
            .bearer_auth(&self.token)
            .send()
            .await?
            .json()
            .await?;
        ensure!(r.status == ReviewStatus::Pending, "{id} is {:?} before the decision", r.status);
        Ok(())
    }

    async fn decide(&self, id: &str, body: Value) -> Result<()> {
        let resp = reqwest::Client::new()
            .post(format!("{}/api/reviews/{id}/decision", self.hub_url))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await?;
        ensure!(resp.status() == 200, "decision refused: {}", resp.text().await?);
        Ok(())
    }
}

/// Waits (bounded) for a child process; kills it if it does not end.
async fn finish(child: Child, limit: Duration) -> Result<(Output, Instant)> {
    let pid = child.id();
    let waited = tokio::time::timeout(
        limit,
        tokio::task::spawn_blocking(move || child.wait_with_output().map(|o| (o, Instant::now()))),
    )
    .await;
    match waited {
        Ok(done) => Ok(done??),
        Err(_) => {
            // SAFETY: kill(2) on the pid of our own child, which has not been reaped.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            bail!("the process did not exit within {limit:?}")
        }
    }
}

fn spawn_submit(sb: &Sandbox, profile: &str, args: &[&str], stdin: Option<&str>) -> Result<Child> {
    let mut child = keyway(sb)
        .args(["review", "submit", "--profile", profile])
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(text) = stdin {
        let mut input = child.stdin.take().expect("piped");
        input.write_all(text.as_bytes())?;
    }
    Ok(child)
}

fn stdout_json(out: &Output) -> Result<Value> {
    serde_json::from_slice(&out.stdout).with_context(|| {
        format!("not JSON: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn submit_wait_exits_with_the_decision() -> Result<()> {
    let hub = TestHub::start(&[("dora", PASSWORD, &[Role::Developer]), ("remy", PASSWORD, &[Role::Reviewer])]).await?;
    let sb = Sandbox::new()?;
    let p = profile("wait");
    cli_login(&sb, &hub, &p, "dora").await?;
    let reviewer = Reviewer { hub_url: hub.url.clone(), token: access_token(&hub, "remy").await? };

    // Approved → 0, with the payload read from standard input as a diff.
    let diff = "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new\n";
    let child = spawn_submit(
        &sb,
        &p,
        &["--title", "Ship it", "--kind", "deployment", "--payload", "-", "--content-type", "diff", "--wait", "--json"],
        Some(diff),
    )?;
    let r = reviewer.pending("Ship it").await?;
    assert_eq!(r.submitter.name, "dora");
    assert_eq!(r.kind, "deployment");
    reviewer.decide(&r.id, json!({"verdict": "approve"})).await?;
    let decided = Instant::now();
    let (out, ended) = finish(child, Duration::from_secs(30)).await?;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(ended.duration_since(decided) < Duration::from_secs(10), "the waiter took {:?}", ended - decided);
    let v = stdout_json(&out)?;
    assert_eq!(v["status"], "approved");
    assert_eq!(v["id"], r.id.as_str());
    let full: Value = reqwest::Client::new()
        .get(format!("{}/api/reviews/{}", hub.url, r.id))
        .bearer_auth(&reviewer.token)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!((full["content_type"].as_str(), full["payload"].as_str()), (Some("diff"), Some(diff)));

    // Rejected → 1, and the reason reaches the submitter.
    let child = spawn_submit(&sb, &p, &["--title", "Drop prod", "--wait"], None)?;
    let r = reviewer.pending("Drop prod").await?;
    reviewer.decide(&r.id, json!({"verdict": "reject", "reason": "take a backup first"})).await?;
    let (out, _) = finish(child, Duration::from_secs(30)).await?;
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("Rejected by remy") && said.contains("take a backup first"), "{said}");

    // Nobody decides before --timeout → 2, and the request is still pending.
    let child = spawn_submit(&sb, &p, &["--title", "Slow one", "--wait", "--timeout", "2", "--json"], None)?;
    let (out, _) = finish(child, Duration::from_secs(30)).await?;
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout_json(&out)?["status"], "pending");

    // Cancelled by the submitter from another process → 2.
    let child = spawn_submit(&sb, &p, &["--title", "Changed my mind", "--wait"], None)?;
    let r = reviewer.pending("Changed my mind").await?;
    let cancel = keyway(&sb).args(["review", "cancel", &r.id, "--profile", &p]).output()?;
    assert!(cancel.status.success(), "{}", String::from_utf8_lossy(&cancel.stderr));
    let (out, _) = finish(child, Duration::from_secs(30)).await?;
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Cancelled"));

    // `review wait` on a decided request answers at once with the same codes.
    let waited = keyway(&sb).args(["review", "wait", &r.id, "--profile", &p]).output()?;
    assert_eq!(waited.status.code(), Some(2));

    // Errors while waiting are 3, never a panic: an unknown request, and an oversized payload.
    let missing = keyway(&sb).args(["review", "wait", "nosuchrequest", "--profile", &p]).output()?;
    assert_eq!(missing.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("No review request"), "{missing:?}");
    let big = "x".repeat(300 * 1024);
    let child = spawn_submit(&sb, &p, &["--title", "Too big", "--payload", "-", "--wait"], Some(&big))?;
    let (out, _) = finish(child, Duration::from_secs(30)).await?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("256 KB") && !err.contains("panicked"), "{err}");
    keyway(&sb).args(["logout", "--profile", &p]).output()?;
    hub.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reviewers_list_show_approve_and_reject_from_the_command_line() -> Result<()> {
    let hub = TestHub::start(&[("dora", PASSWORD, &[Role::Developer]), ("remy", PASSWORD, &[Role::Reviewer])]).await?;
    let sb = Sandbox::new()?;
    let dev = profile("dev");
    let rev = profile("rev");
    cli_login(&sb, &hub, &dev, "dora").await?;
    cli_login(&sb, &hub, &rev, "remy").await?;
    let plan = sb.dir.path().join("plan.json");
    std::fs::write(&plan, r#"{"replicas": 3, "image": "api:2"}"#)?;

    let run = |profile: &str, args: &[&str]| -> Result<Output> {
        Ok(keyway(&sb).arg("review").args(args).args(["--profile", profile]).output()?)
    };
    let out = run(
        &dev,
        &[
            "submit",
            "--title",
            "Scale api",
            "--payload",
            &format!("@{}", plan.display()),
            "--link",
            "Dashboard=https://grafana.example/d/1",
            "--threshold",
            "1",
            "--ttl",
            "10m",
            "--json",
        ],
    )?;
    ensure!(out.status.success(), "submit: {}", String::from_utf8_lossy(&out.stderr));
    let submitted: ReviewRequest = serde_json::from_slice(&out.stdout)?;
    assert_eq!(submitted.status, ReviewStatus::Pending);
    assert_eq!(submitted.expires_at - submitted.created_at, 600);
    assert_eq!(submitted.payload, Some(json!({"replicas": 3, "image": "api:2"})));
    let other = run(&dev, &["submit", "--title", "Second", "--json"])?;
    let second: ReviewRequest = serde_json::from_slice(&other.stdout)?;

    // The reviewer's queue, as a table and as JSON.
    let table = run(&rev, &["list", "--status", "pending"])?;
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("Scale api") && text.contains("Second") && text.contains("dora"),
        "{text}{}",
        String::from_utf8_lossy(&table.stderr)
    );
    let page: Value = serde_json::from_slice(&run(&rev, &["list", "--json", "--limit", "1"])?.stdout)?;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
    let cursor = page["next"].as_str().context("a next page")?.to_owned();
    let rest: Value = serde_json::from_slice(&run(&rev, &["list", "--json", "--cursor", &cursor])?.stdout)?;
    assert_eq!(rest["items"][0]["id"], submitted.id.as_str());
    let shown = run(&rev, &["show", &submitted.id])?;
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(text.contains("\"replicas\": 3") && text.contains("https://grafana.example/d/1"), "{text}");

    // Rejecting needs a reason, said plainly; nothing was sent.
    let out = run(&rev, &["reject", &second.id])?;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("A reason is required to reject") && !err.contains("panicked"), "{err}");
    let out = run(&rev, &["reject", &second.id, "--reason", "not now", "--json"])?;
    ensure!(out.status.success(), "reject: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout_json(&out)?["status"], "rejected");

    // The developer cannot decide; the reviewer approves; a second vote is "already decided".
    let out = run(&dev, &["approve", &submitted.id])?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("reviewer"), "{out:?}");
    let out = run(&rev, &["approve", &submitted.id, "--reason", "fine"])?;
    ensure!(out.status.success(), "approve: {}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Approved by remy"));
    let out = run(&rev, &["approve", &submitted.id, "--json"])?;
    assert!(!out.status.success());
    let v = stdout_json(&out)?;
    assert_eq!(v["error"], "conflict");
    assert!(v["message"].as_str().unwrap_or_default().contains("Already decided"), "{v}");

    // Bad input: clear messages, no panics.
    let cases: &[(&[&str], &str)] = &[
        (&["show", "../etc"], "not a review request id"),
        (&["submit", "--title", "x", "--payload", "plan.json"], "@FILE"),
        (&["submit", "--title", "x", "--payload", "@/nonexistent/plan.json"], "could not read"),
        (&["submit", "--title", "x", "--ttl", "forever"], "not a duration"),
        (&["submit", "--title", "  "], "--title must not be empty"),
        (&["list", "--status", "maybe"], "unknown status"),
    ];
    for (args, expect) in cases {
        let out = run(&dev, args)?;
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(err.contains(expect) && !err.contains("panicked"), "{args:?}: expected '{expect}' in {err}");
    }
    for p in [&dev, &rev] {
        keyway(&sb).args(["logout", "--profile", p]).output()?;
    }
    hub.stop().await;
    Ok(())
}

/// The library the desktop app builds on: events stream, long-poll wait, coded refusals.
#[test]
fn the_client_library_streams_events_waits_and_keeps_refusal_codes() -> Result<()> {
    let sb = Sandbox::new()?;
    // The in-process client reads its profiles (and takes its locks) in the sandbox. SAFETY:
    // set before the runtime starts; nextest runs every test in its own process.
    unsafe { std::env::set_var("KEYWAY_CONFIG_DIR", sb.dir.path().join("config/keyway")) };
    tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build()?.block_on(async {
        let hub =
            TestHub::start(&[("dora", PASSWORD, &[Role::Developer]), ("remy", PASSWORD, &[Role::Reviewer])]).await?;
        let p = profile("lib");
        cli_login(&sb, &hub, &p, "dora").await?;
        let reviewer = Reviewer { hub_url: hub.url.clone(), token: access_token(&hub, "remy").await? };
        let cfg = keyway_client::Config::load()?;
        let profile = cfg.get(&p).cloned().context("the login saved no profile")?;
        let client = keyway_client::Client::new(profile, keyway_client::Vault::open()?)?;
        let submit = |title: &str| SubmitReview {
            title: title.to_owned(),
            kind: Some("guardrail_output".into()),
            payload: json!({"answer": 42}),
            content_type: None,
            links: vec![],
            ttl_secs: Some(600),
            threshold: None,
        };

        // The stream subscribes on first poll: keep submitting until it reports one.
        let events = client.review_events();
        tokio::pin!(events);
        let mut submitted = Vec::new();
        let first = loop {
            tokio::select! {
                item = events.next() => break item.context("the stream ended")??,
                _ = tokio::time::sleep(Duration::from_millis(200)) => {
                    submitted.push(client.submit_review(&submit(&format!("live {}", submitted.len()))).await?.id);
                    ensure!(submitted.len() < 50, "no event after 50 submissions");
                }
            }
        };
        let ReviewEvent::Created { request } = first else { bail!("expected created, got {first:?}") };
        ensure!(submitted.contains(&request.id), "an event for a request we did not submit");
        reviewer.decide(&request.id, json!({"verdict": "approve"})).await?;
        let decided = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match events.next().await {
                    Some(Ok(ReviewEvent::Decided { request: r })) if r.id == request.id => return Ok(r),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(anyhow!(e)),
                    None => bail!("the stream ended"),
                }
            }
        })
        .await??;
        assert_eq!(decided.status, ReviewStatus::Approved);

        // wait_review returns once decided, and as it stands at the timeout.
        let b = client.submit_review(&submit("wait for it")).await?;
        let still = client.wait_review(&b.id, Duration::from_secs(1)).await?;
        assert_eq!(still.status, ReviewStatus::Pending);
        // The decision comes once the wait is under way and the hub has answered a later one.
        let (sent, sending) = tokio::sync::oneshot::channel();
        let wait = keyway_test_support::under_way(client.wait_review(&b.id, Duration::from_secs(30)), sent);
        let (waited, ()) = tokio::join!(wait, async {
            tokio::time::timeout(Duration::from_secs(10), sending).await.expect("the wait started").expect("sent");
            reviewer.still_pending(&b.id).await.expect("a later wait answered");
            reviewer.decide(&b.id, json!({"verdict": "reject", "reason": "too risky"})).await.expect("reject");
        });
        let waited = waited?;
        assert_eq!(waited.status, ReviewStatus::Rejected);
        assert_eq!(waited.decisions[0].reason.as_deref(), Some("too risky"));

        // Lists, and the hub's codes and messages kept in refusals.
        let mine =
            client.list_reviews(&ReviewQuery { mine: Some(true), limit: Some(200), ..Default::default() }).await?;
        assert_eq!(mine.items.len(), submitted.len() + 1);
        match client.decide_review(&b.id, &Decide { verdict: Verdict::Approve, reason: None }).await {
            Err(keyway_client::Error::Refused { code, message }) => {
                assert_eq!(code, "role_required");
                assert!(message.contains("reviewer"), "{message}");
            }
            other => panic!("a developer decided: {other:?}"),
        }
        match client.get_review("nosuchrequest").await {
            Err(e) => assert_eq!(e.code(), "not_found"),
            Ok(r) => panic!("found {r:?}"),
        }
        let c = client.submit_review(&submit("never mind")).await?;
        assert_eq!(client.cancel_review(&c.id).await?.status, ReviewStatus::Cancelled);
        assert_eq!(
            client.cancel_review(&c.id).await.map_err(|e| e.code().to_owned()).err().as_deref(),
            Some("conflict")
        );
        client.logout().await?;
        hub.stop().await;
        Ok(())
    })
}

/// An agent PAT of `owner`'s that may submit and read reviews, minted over HTTP.
async fn agent_pat(hub: &TestHub, owner: &str, agent: &str) -> Result<String> {
    let http = reqwest::Client::new();
    let jwt = access_token(hub, owner).await?;
    let admin: Value = http
        .post(format!("{}/auth/exchange", hub.url))
        .bearer_auth(&jwt)
        .json(&json!({"requested_token_class": "user_admin"}))
        .send()
        .await?
        .json()
        .await?;
    let minted: Value = http
        .post(format!("{}/api/credentials", hub.url))
        .bearer_auth(admin["access_token"].as_str().context("no user_admin token")?)
        .json(&json!({"agent": agent, "create_agent": true, "scopes": ["reviews.submit", "reviews.read"]}))
        .send()
        .await?
        .json()
        .await?;
    Ok(minted["secret"].as_str().with_context(|| format!("no PAT minted: {minted}"))?.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_agent_gets_a_token_for_exactly_what_a_reviewer_approved() -> Result<()> {
    let hub = TestHub::start(&[("dora", PASSWORD, &[Role::Developer]), ("remy", PASSWORD, &[Role::Reviewer])]).await?;
    let sb = Sandbox::new()?;
    let bot = profile("bot");
    let pat = agent_pat(&hub, "dora", "deploy-bot").await?;
    let mut login = keyway(&sb)
        .args(["login", "--pat", "--server", &hub.url, "--profile", &bot])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    login.stdin.take().expect("piped").write_all(pat.as_bytes())?;
    let out = login.wait_with_output()?;
    ensure!(out.status.success(), "login --pat failed: {}", String::from_utf8_lossy(&out.stderr));
    let reviewer = Reviewer { hub_url: hub.url.clone(), token: access_token(&hub, "remy").await? };
    let details = json!([{"type": "deployment", "target": "api", "version": "v2", "args_sha256": "9f2c0a"}]);
    let file = sb.dir.path().join("deploy.json");
    std::fs::write(&file, details.to_string())?;
    let at_file = format!("@{}", file.display());

    // Approved → 0, and standard output is the minted JWT alone.
    let args = ["--details", at_file.as_str(), "--binding-message", "Deploy api v2", "--wait", "--token"];
    let child = spawn_submit(&sb, &bot, &args, None)?;
    let r = reviewer.pending("Deploy api v2").await?;
    ensure!(r.kind == "authorization", "kind {}", r.kind);
    reviewer.decide(&r.id, json!({"verdict": "approve"})).await?;
    let (out, _) = finish(child, Duration::from_secs(60)).await?;
    ensure!(out.status.code() == Some(0), "exit {:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout)?;
    let jwt = stdout.trim();
    ensure!(stdout.lines().count() == 1 && jwt.split('.').count() == 3, "stdout is not one JWT: {stdout:?}");
    use base64::Engine as _;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(jwt.split('.').nth(1).unwrap_or_default())?,
    )?;
    ensure!(claims["authorization_details"] == details, "claims: {claims}");
    ensure!(claims["preferred_username"] == "deploy-bot", "claims: {claims}");

    // Rejected → 1, nothing on standard output, the reason on standard error.
    let args = ["--details", at_file.as_str(), "--binding-message", "Deploy api v3", "--wait", "--token"];
    let child = spawn_submit(&sb, &bot, &args, None)?;
    let r = reviewer.pending("Deploy api v3").await?;
    reviewer.decide(&r.id, json!({"verdict": "reject", "reason": "not during the freeze"})).await?;
    let (out, _) = finish(child, Duration::from_secs(60)).await?;
    ensure!(out.status.code() == Some(1), "exit {:?}", out.status);
    ensure!(out.stdout.is_empty(), "stdout: {}", String::from_utf8_lossy(&out.stdout));
    ensure!(
        String::from_utf8_lossy(&out.stderr).contains("not during the freeze"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Malformed details are refused before anything is asked; a person's profile cannot ask.
    std::fs::write(&file, r#"{"type": "deployment"}"#)?;
    let out = keyway(&sb).args(["review", "submit", "--profile", &bot, "--details", &at_file, "--wait"]).output()?;
    ensure!(out.status.code() == Some(3), "exit {:?}", out.status);
    ensure!(String::from_utf8_lossy(&out.stderr).contains("array"), "{}", String::from_utf8_lossy(&out.stderr));
    let person = profile("person");
    cli_login(&sb, &hub, &person, "dora").await?;
    std::fs::write(&file, details.to_string())?;
    let out = keyway(&sb).args(["review", "submit", "--profile", &person, "--details", &at_file, "--wait"]).output()?;
    ensure!(out.status.code() == Some(3), "exit {:?}", out.status);
    ensure!(String::from_utf8_lossy(&out.stderr).contains("agent PAT"), "{}", String::from_utf8_lossy(&out.stderr));
    Ok(())
}
