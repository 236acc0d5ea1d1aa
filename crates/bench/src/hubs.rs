//! `keyway-bench hubs`: two hubs on one PostgreSQL database, as one deployment.
//!
//! Starts a throwaway PostgreSQL server (the tests' harness: `initdb` in a temporary directory,
//! a Unix socket only), two hubs in this (release) process on one database with one issuer,
//! and measures over loopback HTTP:
//! - the time from sending a decision to hub A until an SSE subscriber on hub B receives it;
//! - the time from sending a revocation to hub A until hub B refuses the PAT (B had it cached);
//! - PAT → JWT exchanges per second with the load split across both hubs (one wrk per hub,
//!   each `-t1 -c64`, at the same time).
//!
//! Options: `--decisions N` (200), `--revocations N` (100), `--seconds S` (10).

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use keyway_api::Role;
use keyway_hub::{Hub, HubKey, RunningHub, Settings};
use serde_json::{Value, json};

use crate::wrk;

const PASSWORD: &str = "benchmark password";

struct Options {
    decisions: usize,
    revocations: usize,
    seconds: u64,
}

fn options(args: &[String]) -> Result<Options> {
    let mut o = Options { decisions: 200, revocations: 100, seconds: 10 };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        let n: u64 = value.parse().with_context(|| format!("{flag} takes a number, not '{value}'"))?;
        match flag.as_str() {
            "--decisions" => o.decisions = n.clamp(1, 10_000) as usize,
            "--revocations" => o.revocations = n.clamp(1, 10_000) as usize,
            "--seconds" => o.seconds = n.clamp(1, wrk::MAX_SECONDS),
            other => bail!("unknown option {other} (expected --decisions, --revocations, --seconds)"),
        }
    }
    Ok(o)
}

pub fn main(args: &[String]) -> Result<()> {
    let o = options(args)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(run(o))
}

async fn serve(database_url: &str, key: &HubKey, issuer: Option<String>) -> Result<RunningHub> {
    let settings = Settings {
        listen: "127.0.0.1:0".parse()?,
        database_url: database_url.to_owned(),
        hub_key: Some(key.clone()),
        issuer,
        ..Settings::default()
    };
    Ok(Hub::open(settings).await?.serve().await?)
}

async fn run(o: Options) -> Result<()> {
    let database_url = keyway_test_support::postgres::database()?;
    let key = HubKey::generate();
    let first =
        Hub::open(Settings { database_url: database_url.clone(), hub_key: Some(key.clone()), ..Settings::default() })
            .await?;
    first.create_user("admin", PASSWORD, &[Role::Admin, Role::Developer]).await?;
    first.create_user("dev", PASSWORD, &[Role::Developer]).await?;
    first.create_user("rev", PASSWORD, &[Role::Reviewer]).await?;
    drop(first);
    let a = serve(&database_url, &key, None).await?;
    let issuer = a.issuer.clone();
    let b = serve(&database_url, &key, Some(issuer.clone())).await?;
    let (on_a, on_b) = (issuer.clone(), format!("http://{}", b.addr));
    let http = reqwest::Client::new();
    let dev = keyway_test_support::access_token(&issuer, "dev", PASSWORD).await?;
    let rev = keyway_test_support::access_token(&issuer, "rev", PASSWORD).await?;
    let admin_access = keyway_test_support::access_token(&issuer, "admin", PASSWORD).await?;
    let admin = post(&http, &on_a, "/auth/exchange", &admin_access, json!({"requested_token_class": "user_admin"}))
        .await?["access_token"]
        .as_str()
        .context("no user_admin token")?
        .to_owned();

    // Decisions on A, seen on B.
    let mut stream = Stream::open(&http, &on_b, &rev).await?;
    let mut decided = Vec::with_capacity(o.decisions);
    for n in 0..o.decisions {
        let r = post(&http, &on_a, "/api/reviews", &dev, json!({"title": format!("bench {n}")})).await?;
        let id = r["id"].as_str().context("no review id")?.to_owned();
        stream.until(&id, "created").await?;
        let t = Instant::now();
        post(&http, &on_a, &format!("/api/reviews/{id}/decision"), &rev, json!({"verdict": "approve"})).await?;
        stream.until(&id, "decided").await?;
        decided.push(t.elapsed());
    }

    // Revocations on A, refused on B.
    let mut revoked = Vec::with_capacity(o.revocations);
    for n in 0..o.revocations {
        let minted =
            post(&http, &on_a, "/api/credentials", &admin, json!({"agent": format!("r{n}"), "create_agent": true}))
                .await?;
        let pat = minted["secret"].as_str().context("no secret")?.to_owned();
        let id = minted["credential"]["id"].as_str().context("no id")?.to_owned();
        ensure!(exchange_status(&http, &on_b, &pat).await? == 200, "B does not accept the new PAT");
        let t = Instant::now();
        post(&http, &on_a, &format!("/api/credentials/{id}/revoke"), &admin, json!({})).await?;
        let deadline = t + Duration::from_secs(30);
        while exchange_status(&http, &on_b, &pat).await? != 401 {
            ensure!(Instant::now() < deadline, "B still accepts a PAT revoked on A after 30 s");
        }
        revoked.push(t.elapsed());
    }

    // Exchanges split across both hubs.
    let minted = post(&http, &on_a, "/api/credentials", &admin, json!({"agent": "load", "create_agent": true})).await?;
    let pat = minted["secret"].as_str().context("no secret")?.to_owned();
    let dir = tempfile::tempdir()?;
    let auth = format!("Bearer {pat}");
    let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/json")];
    let body = r#"{"requested_token_class":"agent_access"}"#;
    let script = wrk::Script { method: "POST", path: "/auth/exchange", headers: &headers, body: Some(body) };
    let seconds = o.seconds;
    let (ra, rb) = std::thread::scope(|s| {
        let one = s.spawn(|| wrk::run(dir.path(), "a", &on_a, &script, seconds));
        let two = s.spawn(|| wrk::run(dir.path(), "b", &on_b, &script, seconds));
        (one.join(), two.join())
    });
    let (ra, rb) = (ra.map_err(|_| anyhow::anyhow!("wrk thread"))??, rb.map_err(|_| anyhow::anyhow!("wrk thread"))??);
    ensure!(ra.non_2xx == 0 && rb.non_2xx == 0, "exchanges were refused under load");

    println!("\ntwo hubs on one PostgreSQL database, one run");
    report("decision on A → SSE subscriber on B", &mut decided);
    report("revocation on A → refused on B", &mut revoked);
    println!(
        "exchanges, wrk -t{} -c{} -d{seconds}s on each hub at once: A {:.0}/s (p99 {:.2} ms) + B {:.0}/s (p99 {:.2} ms) = {:.0}/s",
        wrk::THREADS,
        wrk::CONNECTIONS,
        ra.per_sec,
        ra.p99.as_secs_f64() * 1e3,
        rb.per_sec,
        rb.p99.as_secs_f64() * 1e3,
        ra.per_sec + rb.per_sec
    );
    b.shutdown().await;
    a.shutdown().await;
    Ok(())
}

fn report(what: &str, samples: &mut [Duration]) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1];
    println!(
        "{what}: n={} p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        samples.len(),
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        samples[samples.len() - 1].as_secs_f64() * 1e3
    );
}

async fn post(http: &reqwest::Client, base: &str, path: &str, bearer: &str, body: Value) -> Result<Value> {
    let resp = http.post(format!("{base}{path}")).bearer_auth(bearer).json(&body).send().await?;
    let status = resp.status();
    let text = resp.text().await?;
    ensure!(status.is_success(), "{path}: {status} {text}");
    Ok(serde_json::from_str(&text)?)
}

async fn exchange_status(http: &reqwest::Client, base: &str, pat: &str) -> Result<u16> {
    let resp = http
        .post(format!("{base}/auth/exchange"))
        .bearer_auth(pat)
        .json(&json!({"requested_token_class": "agent_access"}))
        .send()
        .await?;
    Ok(resp.status().as_u16())
}

/// An SSE stream of review events, read frame by frame.
struct Stream {
    resp: reqwest::Response,
    buf: String,
}

impl Stream {
    async fn open(http: &reqwest::Client, base: &str, token: &str) -> Result<Stream> {
        let resp = http.get(format!("{base}/api/reviews/events")).bearer_auth(token).send().await?;
        ensure!(resp.status().is_success(), "events: {}", resp.status());
        Ok(Stream { resp, buf: String::new() })
    }

    /// Reads until the event `name` of request `id` (10 s at most).
    async fn until(&mut self, id: &str, name: &str) -> Result<()> {
        let wanted = format!("event: {name}");
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                while let Some(end) = self.buf.find("\n\n") {
                    let frame: String = self.buf.drain(..end + 2).collect();
                    if frame.lines().any(|l| l == wanted) && frame.contains(id) {
                        return Ok(());
                    }
                }
                let chunk = self.resp.chunk().await?.context("the event stream ended")?;
                self.buf.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await
        .with_context(|| format!("no {name} event for {id} within 10 s"))?
    }
}
