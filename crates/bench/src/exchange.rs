//! `keyway-bench exchange`: PAT → JWT exchanges per second and their latency.

use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;

use crate::load::{self, Load};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The hub, e.g. http://127.0.0.1:8080 (loopback only).
    #[arg(long)]
    pub url: String,
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    #[arg(long, default_value_t = 15)]
    pub seconds: u64,
    /// Worker threads of the load generator.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// JWT class to ask for.
    #[arg(long, default_value = "agent_access")]
    pub class: String,
}

pub async fn run(args: Args) -> Result<()> {
    let pat = std::env::var("KEYWAY_BENCH_PAT").context("set KEYWAY_BENCH_PAT to the PAT to exchange")?;
    let url: hyper::Uri = args.url.parse().context("--url is not a URL")?;
    let host = url.host().context("--url has no host")?;
    let port = url.port_u16().unwrap_or(80);
    let addr: std::net::SocketAddr = format!("{host}:{port}").parse().context("--url must be an IP address")?;
    if !addr.ip().is_loopback() {
        bail!("benchmarks run against loopback only");
    }
    let body = Bytes::from(serde_json::to_vec(&serde_json::json!({"requested_token_class": args.class}))?);
    let authorization = format!("Bearer {pat}");
    let fingerprint = "0".repeat(64);
    let host_header = format!("{host}:{port}");
    let make = move || {
        Request::post("/auth/exchange")
            .header("host", &host_header)
            .header("authorization", &authorization)
            .header("content-type", "application/json")
            .header("x-keyway-fingerprint", &fingerprint)
            .body(Full::new(body.clone()))
            .expect("static request parts are valid")
    };
    // One request first: a wrong PAT or class fails loudly instead of measuring errors.
    let probe = Load { addr, connections: 1, duration: Duration::from_millis(200) };
    let mut warm = load::run(&probe, 200, make.clone()).await?;
    if warm.ok == 0 {
        warm.print("probe", &probe);
        bail!("the probe exchange did not succeed");
    }
    let load = Load { addr, connections: args.connections, duration: Duration::from_secs(args.seconds) };
    let mut report = load::run(&load, 200, make).await?;
    report.print("POST /auth/exchange (PAT → JWT)", &load);
    Ok(())
}
