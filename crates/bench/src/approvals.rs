//! `keyway-bench approvals`: the review queue under a full backlog.
//!
//! Starts a hub in this (release) process on a fresh SQLite file, inserts 100,000 pending
//! requests in one statement, signs a developer and a reviewer in over HTTP, then measures over
//! loopback HTTP:
//! - the first page (50) of the pending queue as a reviewer, and of the developer's own;
//! - a decision (approve) on a pending request;
//! - the time from sending a decision until all 10 open SSE subscribers (10 reviewers) have
//!   received it.
//!
//! It runs on SQLite, then on PostgreSQL (a throwaway server, the tests' harness), in one run;
//! `--backend sqlite|postgres` runs one.
//!
//! Options: `--pending N` (100000), `--samples N` (300), `--fanout N` decisions (50),
//! `--subscribers N` (10), `--backend B` (both).

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail, ensure};
use keyway_api::Role;
use keyway_hub::{Hub, Settings, SqliteStore};
use serde_json::{Value, json};
use tokio::sync::mpsc;

const PASSWORD: &str = "benchmark password";

struct Options {
    pending: u32,
    samples: usize,
    fanout: usize,
    subscribers: usize,
    backends: Vec<Backend>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

fn options(args: &[String]) -> Result<Options> {
    let mut o = Options {
        pending: 100_000,
        samples: 300,
        fanout: 50,
        subscribers: 10,
        backends: vec![Backend::Sqlite, Backend::Postgres],
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        if flag == "--backend" {
            o.backends = match value.as_str() {
                "sqlite" => vec![Backend::Sqlite],
                "postgres" => vec![Backend::Postgres],
                other => bail!("--backend is sqlite or postgres, not '{other}'"),
            };
            continue;
        }
        let n: usize = value.parse().with_context(|| format!("{flag} takes a number, not '{value}'"))?;
        match flag.as_str() {
            "--pending" => o.pending = u32::try_from(n)?,
            "--samples" => o.samples = n.clamp(1, 100_000),
            "--fanout" => o.fanout = n.clamp(1, 10_000),
            "--subscribers" => o.subscribers = n.clamp(1, 200),
            other => {
                bail!("unknown option {other} (expected --pending, --samples, --fanout, --subscribers, --backend)")
            }
        }
    }
    ensure!(o.pending as usize >= o.samples + o.fanout, "--pending must cover --samples + --fanout decisions");
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

async fn run(o: &Options, backend: Backend) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let database_url = match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.path().join("hub.db").display()),
        Backend::Postgres => keyway_test_support::postgres::database()?,
    };
    let settings = Settings {
        listen: "127.0.0.1:0".parse()?,
        database_url: database_url.clone(),
        hub_key: Some(keyway_hub::HubKey::generate()),
        ..Settings::default()
    };
    let hub = Hub::open(settings).await?;
    hub.create_user("dev", PASSWORD, &[Role::Developer]).await?;
    hub.create_user("rev", PASSWORD, &[Role::Reviewer]).await?;
    // Each subscriber is its own reviewer: one person holds at most 8 streams.
    for n in 0..o.subscribers {
        hub.create_user(&format!("watch{n}"), PASSWORD, &[Role::Reviewer]).await?;
    }

    let t = Instant::now();
    match backend {
        Backend::Sqlite => bulk_insert(&database_url, o.pending).await?,
        Backend::Postgres => bulk_insert_postgres(&database_url, o.pending).await?,
    }
    eprintln!("inserted {} pending requests in {:.2?}", o.pending, t.elapsed());

    let running = hub.serve().await?;
    let base = running.issuer.clone();
    let http = reqwest::Client::new();
    let dev = access_token(&base, "dev").await?;
    let rev = access_token(&base, "rev").await?;

    let queue = format!("{base}/api/reviews?status=pending&limit=50");
    let first_page = sample(o.samples, || async {
        let page: Value = http.get(&queue).bearer_auth(&rev).send().await?.error_for_status()?.json().await?;
        ensure!(page["items"].as_array().map(Vec::len) == Some(50), "the first page is not full: {page}");
        Ok(())
    })
    .await?;
    let mine = format!("{base}/api/reviews?mine=true&limit=50");
    let own_page = sample(o.samples, || async {
        let page: Value = http.get(&mine).bearer_auth(&dev).send().await?.error_for_status()?.json().await?;
        ensure!(page["items"].as_array().map(Vec::len) == Some(50), "the developer's page is not full");
        Ok(())
    })
    .await?;

    let mut next = 0u32;
    let mut take_id = || {
        next += 1;
        format!("bench{next:07}")
    };
    let mut decide_times = Vec::with_capacity(o.samples);
    for _ in 0..o.samples {
        let id = take_id();
        let t0 = Instant::now();
        decide(&http, &base, &rev, &id).await?;
        decide_times.push(t0.elapsed());
    }

    // Fan-out: open subscribers, wait until each is registered, then decide and time delivery.
    let (tx, mut rx) = mpsc::unbounded_channel::<(usize, String, String, Instant)>();
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel::<usize>();
    let mut subs = Vec::new();
    for n in 0..o.subscribers {
        let watcher = access_token(&base, &format!("watch{n}")).await?;
        let resp =
            http.get(format!("{base}/api/reviews/events")).bearer_auth(&watcher).send().await?.error_for_status()?;
        subs.push(tokio::spawn(crate::sse::subscriber(n, resp, tx.clone(), ready_tx.clone())));
    }
    for _ in 0..o.subscribers {
        tokio::time::timeout(Duration::from_secs(10), ready_rx.recv()).await?.context("a subscriber failed")?;
    }
    let mut fanout = Vec::with_capacity(o.fanout);
    for _ in 0..o.fanout {
        let id = take_id();
        let t0 = Instant::now();
        decide(&http, &base, &rev, &id).await?;
        let mut got = vec![false; o.subscribers];
        let mut last = t0;
        while got.iter().any(|g| !g) {
            let (n, kind, event_id, at) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .map_err(|_| anyhow!("a subscriber missed the decision of {id}"))?
                .context("subscribers ended")?;
            if kind == "decided" && event_id == id {
                got[n] = true;
                last = last.max(at);
            }
        }
        fanout.push(last - t0);
    }
    for s in subs {
        s.abort();
    }
    running.shutdown().await;

    let (fp50, fp99) = (percentile(&first_page, 50.0), percentile(&first_page, 99.0));
    let (op50, op99) = (percentile(&own_page, 50.0), percentile(&own_page, 99.0));
    let (dp50, dp99) = (percentile(&decide_times, 50.0), percentile(&decide_times, 99.0));
    let (fo50, fomax) = (percentile(&fanout, 50.0), fanout.iter().max().copied().unwrap_or_default());
    println!(
        "approvals benchmark: {} pending requests in {}, release hub over loopback HTTP",
        o.pending,
        backend.name()
    );
    println!(
        "  first page (50, status=pending, reviewer)  p50 {:>8.2} ms  p99 {:>8.2} ms  ({} samples)",
        ms(fp50),
        ms(fp99),
        first_page.len()
    );
    println!(
        "  first page (50, mine, submitter of all)     p50 {:>8.2} ms  p99 {:>8.2} ms  ({} samples)",
        ms(op50),
        ms(op99),
        own_page.len()
    );
    println!(
        "  decide (approve, threshold 1)              p50 {:>8.2} ms  p99 {:>8.2} ms  ({} samples)",
        ms(dp50),
        ms(dp99),
        decide_times.len()
    );
    println!(
        "  decision → all {} SSE subscribers           p50 {:>8.2} ms  max {:>8.2} ms  ({} decisions)",
        o.subscribers,
        ms(fo50),
        ms(fomax),
        fanout.len()
    );
    println!(
        "{}",
        json!({
            "backend": backend.name(),
            "pending": o.pending,
            "first_page_ms": {"p50": ms(fp50), "p99": ms(fp99)},
            "own_page_ms": {"p50": ms(op50), "p99": ms(op99)},
            "decide_ms": {"p50": ms(dp50), "p99": ms(dp99)},
            "fanout_ms": {"subscribers": o.subscribers, "p50": ms(fo50), "max": ms(fomax)},
        })
    );
    Ok(())
}

/// Inserts `n` pending requests submitted by `dev` in one statement.
async fn bulk_insert(database_url: &str, n: u32) -> Result<()> {
    let store = SqliteStore::connect(database_url).await?;
    let pool = store.pool();
    let dev_id: String = sqlx::query_scalar("SELECT id FROM users WHERE username = 'dev'").fetch_one(pool).await?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64;
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) \
         INSERT INTO review_requests (id, title, kind, payload, content_type, links, submitter_kind, submitter_id, \
             submitter_name, submitter_owner, created_at, expires_at, threshold, approvals, status, decided_at) \
         SELECT printf('bench%07d', i), 'Benchmark request ' || i, 'guardrail_output', \
             json_object('i', i, 'text', 'a guardrail output to check'), 'json', '[]', 'user', ?2, 'dev', NULL, \
             ?3 - 3600 + i / 100, ?3 + 86400, 1, 0, 'pending', NULL \
         FROM n",
    )
    .bind(i64::from(n))
    .bind(&dev_id)
    .bind(now)
    .execute(pool)
    .await?;
    sqlx::query("PRAGMA optimize").execute(pool).await?;
    pool.close().await;
    Ok(())
}

/// [`bulk_insert`] on PostgreSQL.
async fn bulk_insert_postgres(database_url: &str, n: u32) -> Result<()> {
    let store = keyway_hub::PgStore::connect(database_url).await?;
    let pool = store.pool();
    let dev_id: String = sqlx::query_scalar("SELECT id FROM users WHERE username = 'dev'").fetch_one(pool).await?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64;
    sqlx::query(
        "INSERT INTO review_requests (id, title, kind, payload, content_type, links, submitter_kind, submitter_id, \
             submitter_name, submitter_owner, created_at, expires_at, threshold, approvals, status, decided_at) \
         SELECT 'bench' || lpad(i::text, 7, '0'), 'Benchmark request ' || i, 'guardrail_output', \
             json_build_object('i', i, 'text', 'a guardrail output to check')::text, 'json', '[]', 'user', $2, 'dev', \
             NULL, $3 - 3600 + i / 100, $3 + 86400, 1, 0, 'pending', NULL \
         FROM generate_series(1, $1) AS i",
    )
    .bind(i64::from(n))
    .bind(&dev_id)
    .bind(now)
    .execute(pool)
    .await?;
    sqlx::query("ANALYZE review_requests").execute(pool).await?;
    pool.close().await;
    Ok(())
}

async fn decide(http: &reqwest::Client, base: &str, token: &str, id: &str) -> Result<()> {
    let resp = http
        .post(format!("{base}/api/reviews/{id}/decision"))
        .bearer_auth(token)
        .json(&json!({"verdict": "approve"}))
        .send()
        .await?;
    ensure!(resp.status() == 200, "deciding {id}: {} {}", resp.status(), resp.text().await?);
    Ok(())
}

/// Runs `f` 10 % of `n` times to warm up, then `n` times, timing each run.
pub(crate) async fn sample<F, Fut>(n: usize, mut f: F) -> Result<Vec<Duration>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    for _ in 0..(n / 10).max(1) {
        f().await?;
    }
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = Instant::now();
        f().await?;
        times.push(t0.elapsed());
    }
    Ok(times)
}

pub(crate) fn percentile(samples: &[Duration], p: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub(crate) fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 100.0
}

/// A browser sign-in (authorization code + PKCE S256) over HTTP: the access token.
async fn access_token(base: &str, user: &str) -> Result<String> {
    keyway_test_support::access_token(base, user, PASSWORD).await
}
