//! `keyway-bench scim`: SCIM lists with 10,000 provisioned users.
//!
//! Starts a hub in this (release) process on a fresh database, inserts the users in one
//! statement (as SCIM creates them: `managed_by = 'scim'`, an externalId, a display name and an
//! email), makes a SCIM token, then measures over loopback HTTP the first page (100) of
//! `GET /scim/v2/Users`, a page filtered by `userName eq` (what an IdP asks before it creates),
//! and one filtered by `emails.value co` (no index: a scan). SQLite, then PostgreSQL.
//!
//! Options: `--users N` (10000), `--samples N` (300), `--backend sqlite|postgres` (both).

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use keyway_hub::{Hub, Settings, SqliteStore};
use serde_json::Value;

use crate::approvals::{ms, percentile, sample};

pub fn main(args: &[String]) -> Result<()> {
    let (mut users, mut samples, mut backends) = (10_000u32, 300usize, vec!["sqlite", "postgres"]);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--users" => users = value.parse()?,
            "--samples" => samples = value.parse::<usize>()?.clamp(1, 100_000),
            "--backend" if value == "sqlite" => backends = vec!["sqlite"],
            "--backend" if value == "postgres" => backends = vec!["postgres"],
            other => bail!("unknown option {other} {value} (expected --users, --samples, --backend sqlite|postgres)"),
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    for backend in backends {
        rt.block_on(run(users, samples, backend))?;
    }
    Ok(())
}

async fn run(users: u32, samples: usize, backend: &str) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let database_url = match backend {
        "sqlite" => format!("sqlite://{}", dir.path().join("hub.db").display()),
        _ => keyway_test_support::postgres::database()?,
    };
    let settings = Settings {
        listen: "127.0.0.1:0".parse()?,
        database_url: database_url.clone(),
        hub_key: Some(keyway_hub::HubKey::generate()),
        ..Settings::default()
    };
    let hub = Hub::open(settings).await?;
    let (_, token) = hub.create_scim_token(Some("bench")).await?;
    let t = Instant::now();
    insert(&database_url, users).await?;
    eprintln!("inserted {users} SCIM users in {:.2?}", t.elapsed());
    let running = hub.serve().await?;
    let base = format!("{}/scim/v2/Users", running.issuer);
    let http = reqwest::Client::new();
    let page = |query: String, want: usize| {
        let (http, url, token) = (http.clone(), format!("{base}?{query}"), token.clone());
        move || {
            let (http, url, token) = (http.clone(), url.clone(), token.clone());
            async move {
                let body: Value = http.get(&url).bearer_auth(&token).send().await?.error_for_status()?.json().await?;
                let got = body["Resources"].as_array().map_or(0, Vec::len);
                ensure!(got == want, "{url}: {got} users, expected {want}");
                Ok(())
            }
        }
    };
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let first = sample(samples, page("count=100".into(), 100)).await?;
    let by_name = format!("filter={}", enc(&format!("userName eq \"user{:05}@example.com\"", users / 2)));
    let eq = sample(samples, page(by_name, 1)).await?;
    let co = sample(samples, page(format!("filter={}&count=100", enc("emails.value co \"99@\"")), 100)).await?;
    let later = sample(samples, page(format!("startIndex={}&count=100", users - 99), 100)).await?;
    running.shutdown().await;
    let line = |what: &str, d: &[Duration]| {
        println!("  {what:<44} p50 {:>7.2} ms   p99 {:>7.2} ms", ms(percentile(d, 50.0)), ms(percentile(d, 99.0)));
    };
    let build = if cfg!(debug_assertions) { "debug (unoptimized) build" } else { "release build" };
    println!(
        "SCIM list benchmark: {users} users in {backend}, in-process hub ({build}) over loopback HTTP, {samples} samples each"
    );
    line("first page (count=100)", &first);
    line("filter userName eq (1 match)", &eq);
    line("filter emails.value co \"99@\" (first 100)", &co);
    line("last page (startIndex=N-99, count=100)", &later);
    Ok(())
}

async fn insert(database_url: &str, n: u32) -> Result<()> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64;
    if database_url.starts_with("sqlite") {
        let store = SqliteStore::connect(database_url).await?;
        let pool = store.pool();
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) \
             INSERT INTO users (id, username, password_hash, created_at, disabled, managed_by, external_id, \
                 display_name, email) \
             SELECT printf('scim%06d', i), printf('user%05d@example.com', i), '', ?2, 0, 'scim', \
                 printf('ext-%d', i), printf('User %d', i), printf('user%05d@example.com', i) FROM n",
        )
        .bind(i64::from(n))
        .bind(now)
        .execute(pool)
        .await?;
        sqlx::query("PRAGMA optimize").execute(pool).await?;
        pool.close().await;
    } else {
        let store = keyway_hub::PgStore::connect(database_url).await?;
        let pool = store.pool();
        sqlx::query(
            "INSERT INTO users (id, username, password_hash, created_at, disabled, managed_by, external_id, \
                 display_name, email) \
             SELECT 'scim' || lpad(i::text, 6, '0'), 'user' || lpad(i::text, 5, '0') || '@example.com', '', $2, \
                 false, 'scim', 'ext-' || i, 'User ' || i, 'user' || lpad(i::text, 5, '0') || '@example.com' \
             FROM generate_series(1, $1) AS i",
        )
        .bind(i64::from(n))
        .bind(now)
        .execute(pool)
        .await?;
        sqlx::query("ANALYZE users").execute(pool).await?;
        pool.close().await;
    }
    Ok(())
}
