//! `keyway-bench exchange`: in one run against one hub, with one fixed generator (`wrk -t1 -c64
//! -d10s`), the `/healthz` floor, PAT → JWT exchanges, and exchanges refused for an unknown and
//! for a revoked PAT; the hub's CPU per request from `/proc`; and the exchange/floor ratio.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result, bail, ensure};
use serde_json::{Value, json};

use crate::wrk::{self, Report, Script};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The hub, e.g. http://127.0.0.1:8080 (loopback only).
    #[arg(long)]
    pub url: String,
    /// The hub's process id, to read its CPU time per run (Linux `/proc`).
    #[arg(long)]
    pub hub_pid: Option<u32>,
    /// Length of each run.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// JWT class to ask for.
    #[arg(long, default_value = "agent_access")]
    pub class: String,
    /// The hub's database backend, for the report.
    #[arg(long, default_value = "sqlite")]
    pub backend: String,
}

/// The credentials the benchmark uses, from the environment (never argv).
struct Seed {
    pat: String,
    unknown_pat: String,
    revoke_pat: String,
    user: String,
    password: String,
}

fn env(name: &str) -> Result<String> {
    std::env::var(name).with_context(|| format!("set {name} (cargo xtask bench exchange does)"))
}

/// The goals of the exchange issue (reported, never asserted).
const GOAL_RATIO: f64 = 0.45;
const GOAL_CPU_US: f64 = 35.0;
const GOAL_P99_MS: f64 = 5.0;

pub async fn run(args: Args) -> Result<()> {
    let seed = Seed {
        pat: env("KEYWAY_BENCH_PAT")?,
        unknown_pat: env("KEYWAY_BENCH_UNKNOWN_PAT")?,
        revoke_pat: env("KEYWAY_BENCH_REVOKE_PAT")?,
        user: env("KEYWAY_BENCH_USER")?,
        password: env("KEYWAY_BENCH_PASSWORD")?,
    };
    let base = args.url.trim_end_matches('/').to_owned();
    let url = reqwest::Url::parse(&base).context("--url is not a URL")?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    };
    ensure!(loopback, "benchmarks run against a loopback IP address only");

    let http = reqwest::Client::new();
    let body = json!({"requested_token_class": args.class}).to_string();
    // Each exchange mints a fresh token: two in a row differ (their own jti).
    let a = exchange(&http, &base, &seed.pat, &body).await?;
    let b = exchange(&http, &base, &seed.pat, &body).await?;
    ensure!(a.0 == 200 && b.0 == 200, "the probe exchange did not succeed: {} {}", a.0, a.1);
    ensure!(a.1["access_token"] != b.1["access_token"], "two exchanges returned the same token");
    revoke(&http, &base, &seed).await?;
    for (what, pat) in [("unknown", &seed.unknown_pat), ("revoked", &seed.revoke_pat)] {
        let (status, answer) = exchange(&http, &base, pat, &body).await?;
        ensure!(status == 401, "the {what} PAT's probe answered {status} {answer}, not 401");
    }

    let dir = tempfile::tempdir()?;
    let fingerprint = "0".repeat(64);
    let exchange_with = |pat: &str| {
        (
            format!("Bearer {pat}"),
            [("Content-Type", "application/json"), ("X-Keyway-Fingerprint", fingerprint.as_str())],
        )
    };
    let mut rows = Vec::new();
    let healthz = Script { method: "GET", path: "/healthz", headers: &[], body: None };
    rows.push(("GET /healthz (floor)", measure(dir.path(), "healthz", &base, &healthz, &args)?));
    for (name, label, pat) in [
        ("exchange", "POST /auth/exchange", &seed.pat),
        ("unknown", "refused: unknown PAT", &seed.unknown_pat),
        ("revoked", "refused: revoked PAT", &seed.revoke_pat),
    ] {
        let (authorization, rest) = exchange_with(pat);
        let headers = [("Authorization", authorization.as_str()), rest[0], rest[1]];
        let script = Script { method: "POST", path: "/auth/exchange", headers: &headers, body: Some(&body) };
        rows.push((label, measure(dir.path(), name, &base, &script, &args)?));
    }
    print(&rows, &args);
    let (ok, refused) = (&rows[1].1, &rows[2..]);
    ensure!(ok.report.non_2xx == 0, "{} exchanges were refused in the success run", ok.report.non_2xx);
    for (label, m) in refused {
        ensure!(m.report.non_2xx == m.report.requests, "{label}: some requests were not refused");
    }
    Ok(())
}

/// One wrk run and the hub's CPU time during it.
struct Measured {
    report: Report,
    cpu_us_per_request: Option<f64>,
}

fn measure(dir: &Path, name: &str, base: &str, script: &Script<'_>, args: &Args) -> Result<Measured> {
    let before = args.hub_pid.and_then(cpu_secs);
    let report = wrk::run(dir, name, base, script, args.seconds)?;
    let after = args.hub_pid.and_then(cpu_secs);
    let cpu_us_per_request = match (before, after) {
        (Some(b), Some(a)) => Some((a - b) * 1e6 / report.requests as f64),
        _ => None,
    };
    Ok(Measured { report, cpu_us_per_request })
}

fn print(rows: &[(&str, Measured)], args: &Args) {
    println!(
        "\nwrk -t{} -c{} -d{}s, one hub on {}, one run",
        wrk::THREADS,
        wrk::CONNECTIONS,
        args.seconds,
        args.backend
    );
    println!("{:<24} {:>10} {:>9} {:>9} {:>14} {:>8}", "", "rate/s", "p50 ms", "p99 ms", "hub CPU µs/req", "errors");
    for (label, m) in rows {
        let cpu = m.cpu_us_per_request.map_or("-".to_owned(), |c| format!("{c:.1}"));
        println!(
            "{:<24} {:>10.0} {:>9.2} {:>9.2} {:>14} {:>8}",
            label,
            m.report.per_sec,
            ms(m.report.p50),
            ms(m.report.p99),
            cpu,
            m.report.socket_errors
        );
    }
    let (floor, ok) = (&rows[0].1.report, &rows[1].1.report);
    let ratio = ok.per_sec / floor.per_sec;
    println!("\nexchange / healthz floor: {ratio:.3} (goal ≥ {GOAL_RATIO})");
    if let Some(cpu) = rows[1].1.cpu_us_per_request {
        println!("hub CPU per exchange: {cpu:.1} µs (goal ≤ {GOAL_CPU_US})");
    }
    println!("exchange p99: {:.2} ms (goal ≤ {GOAL_P99_MS})", ms(ok.p99));
    for (label, m) in &rows[2..] {
        println!("{label}: {:.2}× the success rate (goal ≥ 1)", m.report.per_sec / ok.per_sec);
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

async fn exchange(http: &reqwest::Client, base: &str, pat: &str, body: &str) -> Result<(u16, Value)> {
    let resp = http
        .post(format!("{base}/auth/exchange"))
        .bearer_auth(pat)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await?;
    let status = resp.status().as_u16();
    Ok((status, resp.json().await.unwrap_or(Value::Null)))
}

/// Revokes the to-be-revoked PAT through the API, signed in as its owner.
async fn revoke(http: &reqwest::Client, base: &str, seed: &Seed) -> Result<()> {
    let access = keyway_test_support::access_token(base, &seed.user, &seed.password).await?;
    let (status, admin) = exchange(http, base, &access, r#"{"requested_token_class":"user_admin"}"#).await?;
    ensure!(status == 200, "no user_admin token for the bench user: {status} {admin}");
    let admin = admin["access_token"].as_str().context("no access_token")?;
    // The public id is `cr_` and the token's 12 id characters after its 6-character prefix.
    let id = seed.revoke_pat.get(6..18).context("the PAT to revoke is too short")?;
    let resp =
        http.post(format!("{base}/api/credentials/cr_{id}/revoke")).bearer_auth(admin).json(&json!({})).send().await?;
    if !resp.status().is_success() {
        bail!("revoking the bench PAT answered {}: {}", resp.status(), resp.text().await.unwrap_or_default());
    }
    Ok(())
}

/// User + system CPU seconds of process `pid` so far (Linux `/proc`; `None` elsewhere).
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}
