//! `keyway-bench ciba`: approvals that mint the token, and device-flow polls.
//!
//! Starts a hub in this (release) process on a fresh database, makes agents (each may ask 60
//! times in 15 minutes, so the load is spread over several), opens live reviewer streams, then
//! measures over loopback HTTP:
//! - backchannel requests per second into the queue (`POST /oauth/bc-authorize`, one task per
//!   agent), each fanned out as a `created` event to every live reviewer;
//! - for single requests: the time from asking until every live reviewer has it, and from the
//!   decision until the agent's poll gets the token;
//! - device-flow polls per second (`/oauth/token`, device-code grant) over pending codes.
//!
//! Options: `--agents N` (20), `--per-agent N` (50, at most 60), `--subscribers N` (10),
//! `--single N` (30), `--poll-secs N` (5), `--backend sqlite|postgres` (both).

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail, ensure};
use keyway_api::Role;
use keyway_hub::{Hub, Settings};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::approvals::{ms, percentile};

const PASSWORD: &str = "benchmark password";
const DETAILS: &str = r#"[{"type":"deployment","target":"api","version":"v2","args_sha256":"9f2c0a41"}]"#;

struct Options {
    agents: usize,
    per_agent: usize,
    subscribers: usize,
    single: usize,
    poll_secs: u64,
    backends: Vec<&'static str>,
}

fn options(args: &[String]) -> Result<Options> {
    let mut o = Options {
        agents: 20,
        per_agent: 50,
        subscribers: 10,
        single: 30,
        poll_secs: 5,
        backends: vec!["sqlite", "postgres"],
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        if flag == "--backend" {
            o.backends = match value.as_str() {
                "sqlite" => vec!["sqlite"],
                "postgres" => vec!["postgres"],
                other => bail!("--backend is sqlite or postgres, not '{other}'"),
            };
            continue;
        }
        let n: usize = value.parse().with_context(|| format!("{flag} takes a number, not '{value}'"))?;
        match flag.as_str() {
            "--agents" => o.agents = n.clamp(1, 200),
            "--per-agent" => o.per_agent = n.clamp(1, 59),
            "--subscribers" => o.subscribers = n.clamp(1, 100),
            "--single" => o.single = n.clamp(1, 1000),
            "--poll-secs" => o.poll_secs = (n as u64).clamp(1, 60),
            other => bail!(
                "unknown option {other} (expected --agents, --per-agent, --subscribers, --single, --poll-secs, --backend)"
            ),
        }
    }
    Ok(o)
}

pub fn main(args: &[String]) -> Result<()> {
    let o = options(args)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    for backend in o.backends.clone() {
        rt.block_on(run(&o, backend))?;
    }
    Ok(())
}

async fn run(o: &Options, backend: &str) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let database_url = match backend {
        "sqlite" => format!("sqlite://{}", dir.path().join("hub.db").display()),
        _ => keyway_test_support::postgres::database()?,
    };
    let settings = Settings {
        listen: "127.0.0.1:0".parse()?,
        database_url,
        hub_key: Some(keyway_hub::HubKey::generate()),
        ..Settings::default()
    };
    let hub = Hub::open(settings).await?;
    hub.create_user("dev", PASSWORD, &[Role::Developer]).await?;
    hub.create_user("rev", PASSWORD, &[Role::Reviewer]).await?;
    for n in 0..o.subscribers {
        hub.create_user(&format!("watch{n}"), PASSWORD, &[Role::Reviewer]).await?;
    }
    let running = hub.serve().await?;
    let base = running.issuer.clone();
    let http = reqwest::Client::new();
    let rev = keyway_test_support::access_token(&base, "rev", PASSWORD).await?;
    let dev = keyway_test_support::access_token(&base, "dev", PASSWORD).await?;
    let admin = exchange(&http, &base, &dev, "user_admin").await?;
    let mut agents = Vec::with_capacity(o.agents + 1);
    for n in 0..=o.agents {
        let minted: Value = http
            .post(format!("{base}/api/credentials"))
            .bearer_auth(&admin)
            .json(&json!({"agent": format!("bot{n}"), "create_agent": true, "scopes": ["reviews.submit", "reviews.read"]}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let pat = minted["secret"].as_str().context("no PAT")?;
        agents.push(exchange(&http, &base, pat, "agent_access").await?);
    }
    let single_agent = agents.pop().context("no agent")?;

    // Live reviewers: every request below is fanned out to each of them.
    let (tx, mut rx) = mpsc::unbounded_channel::<(usize, String, String, Instant)>();
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel::<usize>();
    let mut subs = Vec::new();
    for n in 0..o.subscribers {
        let watcher = keyway_test_support::access_token(&base, &format!("watch{n}"), PASSWORD).await?;
        let resp =
            http.get(format!("{base}/api/reviews/events")).bearer_auth(&watcher).send().await?.error_for_status()?;
        subs.push(tokio::spawn(crate::sse::subscriber(n, resp, tx.clone(), ready_tx.clone())));
    }
    for _ in 0..o.subscribers {
        tokio::time::timeout(Duration::from_secs(10), ready_rx.recv()).await?.context("a subscriber failed")?;
    }

    // Backchannel requests into the queue, one task per agent.
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for agent in agents {
        let (http, base, per_agent) = (http.clone(), base.clone(), o.per_agent);
        tasks.push(tokio::spawn(async move {
            for i in 0..per_agent {
                ask(&http, &base, &agent, &format!("Deploy {i}")).await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let elapsed = t0.elapsed();
    let total = o.agents * o.per_agent;
    let rate = total as f64 / elapsed.as_secs_f64();
    // Every request reaches every reviewer.
    let mut created = 0usize;
    while created < total * o.subscribers {
        let (_, kind, _, _) = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .map_err(|_| anyhow!("only {created} of {} created events arrived", total * o.subscribers))?
            .context("subscribers ended")?;
        if kind == "created" {
            created += 1;
        }
    }
    let delivered = t0.elapsed();

    // Single requests: asked → every reviewer has it; decided → the agent's poll has the token.
    let mut to_reviewers = Vec::with_capacity(o.single);
    let mut to_token = Vec::with_capacity(o.single);
    for i in 0..o.single {
        let t = Instant::now();
        let (auth_req_id, review_id) = ask(&http, &base, &single_agent, &format!("Single {i}")).await?;
        wait_all(&mut rx, o.subscribers, "created", &review_id).await?;
        to_reviewers.push(t.elapsed());
        let t = Instant::now();
        let resp = http
            .post(format!("{base}/api/reviews/{review_id}/decision"))
            .bearer_auth(&rev)
            .json(&json!({"verdict": "approve"}))
            .send()
            .await?;
        ensure!(resp.status() == 200, "deciding: {}", resp.text().await?);
        let token = http
            .post(format!("{base}/oauth/token"))
            .bearer_auth(&single_agent)
            .form(&[("grant_type", keyway_api::ciba::GRANT_CIBA), ("auth_req_id", auth_req_id.as_str())])
            .send()
            .await?;
        ensure!(token.status() == 200, "redeeming: {}", token.text().await?);
        to_token.push(t.elapsed());
        wait_all(&mut rx, o.subscribers, "decided", &review_id).await?;
    }
    for s in subs {
        s.abort();
    }

    // Device-flow polls: 30 pending codes (the per-address limit), polled round-robin.
    let mut codes = Vec::new();
    for _ in 0..30 {
        let d: Value = http
            .post(format!("{base}/oauth/device_authorization"))
            .form(&[("client_id", keyway_api::DESKTOP_CLIENT_ID)])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        codes.push(d["device_code"].as_str().context("no device_code")?.to_owned());
    }
    let deadline = Instant::now() + Duration::from_secs(o.poll_secs);
    let mut pollers = Vec::new();
    for w in 0..16 {
        let (http, base, codes) = (http.clone(), base.clone(), codes.clone());
        pollers.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                let code = &codes[(w + n as usize) % codes.len()];
                let resp = http
                    .post(format!("{base}/oauth/token"))
                    .form(&[
                        ("grant_type", keyway_api::clients::GRANT_DEVICE_CODE),
                        ("device_code", code.as_str()),
                        ("client_id", keyway_api::DESKTOP_CLIENT_ID),
                    ])
                    .send()
                    .await?;
                let body: Value = resp.json().await?;
                let error = body["error"].as_str().unwrap_or_default();
                ensure!(error == "authorization_pending" || error == "slow_down", "a poll answered {body}");
                n += 1;
            }
            anyhow::Ok(n)
        }));
    }
    let mut polls = 0u64;
    for p in pollers {
        polls += p.await??;
    }
    let poll_rate = polls as f64 / o.poll_secs as f64;
    running.shutdown().await;

    let name = if backend == "sqlite" { "SQLite" } else { "PostgreSQL" };
    println!("ciba benchmark on {name}, release hub over loopback HTTP, {} live reviewers", o.subscribers);
    println!(
        "  backchannel requests into the queue  {rate:>9.0}/s  ({total} from {} agents in {elapsed:.2?}; all fanned out after {delivered:.2?})",
        o.agents
    );
    println!(
        "  asked → all reviewers have it        p50 {:>8.2} ms  p99 {:>8.2} ms  ({} requests)",
        ms(percentile(&to_reviewers, 50.0)),
        ms(percentile(&to_reviewers, 99.0)),
        to_reviewers.len()
    );
    println!(
        "  decided → the agent holds its token  p50 {:>8.2} ms  p99 {:>8.2} ms",
        ms(percentile(&to_token, 50.0)),
        ms(percentile(&to_token, 99.0))
    );
    println!(
        "  device-flow polls                    {poll_rate:>9.0}/s  (16 pollers over 30 pending codes, {} s)",
        o.poll_secs
    );
    println!(
        "{}",
        json!({
            "backend": name,
            "backchannel_per_sec": rate.round(),
            "asked_to_reviewers_ms": {"p50": ms(percentile(&to_reviewers, 50.0)), "p99": ms(percentile(&to_reviewers, 99.0))},
            "decided_to_token_ms": {"p50": ms(percentile(&to_token, 50.0)), "p99": ms(percentile(&to_token, 99.0))},
            "device_polls_per_sec": poll_rate.round(),
        })
    );
    Ok(())
}

async fn exchange(http: &reqwest::Client, base: &str, bearer: &str, class: &str) -> Result<String> {
    let v: Value = http
        .post(format!("{base}/auth/exchange"))
        .bearer_auth(bearer)
        .json(&json!({"requested_token_class": class}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(v["access_token"].as_str().context("no access_token")?.to_owned())
}

/// One backchannel request: its `auth_req_id` and review id.
async fn ask(http: &reqwest::Client, base: &str, agent: &str, message: &str) -> Result<(String, String)> {
    let resp = http
        .post(format!("{base}/oauth/bc-authorize"))
        .bearer_auth(agent)
        .form(&[("authorization_details", DETAILS), ("binding_message", message)])
        .send()
        .await?;
    ensure!(resp.status() == 200, "bc-authorize: {} {}", resp.status(), resp.text().await?);
    let v: Value = resp.json().await?;
    Ok((
        v["auth_req_id"].as_str().context("no auth_req_id")?.to_owned(),
        v["review_id"].as_str().context("no review_id")?.to_owned(),
    ))
}

/// Waits until all `n` subscribers have had the `kind` event of `id`.
async fn wait_all(
    rx: &mut mpsc::UnboundedReceiver<(usize, String, String, Instant)>,
    n: usize,
    kind: &str,
    id: &str,
) -> Result<()> {
    let mut got = vec![false; n];
    while got.iter().any(|g| !g) {
        let (who, k, event_id, _) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .map_err(|_| anyhow!("a subscriber missed the {kind} event of {id}"))?
            .context("subscribers ended")?;
        if k == kind && event_id == id {
            got[who] = true;
        }
    }
    Ok(())
}
