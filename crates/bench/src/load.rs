//! The shared load loop: N keep-alive HTTP/1.1 connections, each sending one request after the
//! other until the deadline; every latency is kept (runs are bounded in time), and the report
//! gives throughput, percentiles, the slowest request and the error count.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Longest run accepted (load runs are bounded).
pub const MAX_DURATION: Duration = Duration::from_secs(120);
/// Most connections accepted.
pub const MAX_CONNECTIONS: usize = 1024;

/// A tokio runtime with `threads` workers (the load generator shares the machine with the hub).
pub fn runtime(threads: usize) -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .context("cannot start the runtime")
}

/// One run's settings.
#[derive(Clone, Debug)]
pub struct Load {
    pub addr: SocketAddr,
    pub connections: usize,
    pub duration: Duration,
}

/// What a run measured.
#[derive(Debug, Default)]
pub struct Report {
    pub ok: u64,
    pub errors: u64,
    /// Status codes other than the expected one, and transport failures, with counts.
    pub error_kinds: Vec<(String, u64)>,
    pub latencies_us: Vec<u32>,
    pub elapsed: Duration,
    /// CPU seconds the load generator itself used during the run (Linux).
    pub generator_cpu_secs: Option<f64>,
}

impl Report {
    fn percentile(sorted: &[u32], p: f64) -> u32 {
        if sorted.is_empty() {
            return 0;
        }
        let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
        sorted[rank.min(sorted.len() - 1)]
    }

    /// Prints the result table.
    pub fn print(&mut self, title: &str, load: &Load) {
        self.latencies_us.sort_unstable();
        let ms = |us: u32| format!("{:.2} ms", f64::from(us) / 1000.0);
        let rate = self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9);
        println!();
        println!("{title}: {} connections, {:.1} s", load.connections, self.elapsed.as_secs_f64());
        println!("┌──────────────┬──────────────┐");
        println!("│ requests ok  │ {:>12} │", self.ok);
        println!("│ per second   │ {:>12.0} │", rate);
        println!("│ p50          │ {:>12} │", ms(Self::percentile(&self.latencies_us, 50.0)));
        println!("│ p99          │ {:>12} │", ms(Self::percentile(&self.latencies_us, 99.0)));
        println!("│ max          │ {:>12} │", ms(self.latencies_us.last().copied().unwrap_or(0)));
        println!("│ errors       │ {:>12} │", self.errors);
        if let Some(cpu) = self.generator_cpu_secs {
            println!("│ loadgen CPU  │ {:>10.2} s │", cpu);
        }
        println!("└──────────────┴──────────────┘");
        for (kind, n) in &self.error_kinds {
            println!("  {n} × {kind}");
        }
    }

    fn error(&mut self, kind: String) {
        self.errors += 1;
        match self.error_kinds.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => self.error_kinds.push((kind, 1)),
        }
    }

    fn merge(&mut self, other: Report) {
        self.ok += other.ok;
        for (k, n) in other.error_kinds {
            for _ in 0..n {
                self.error(k.clone());
            }
        }
        self.latencies_us.extend(other.latencies_us);
    }
}

/// Runs `make` requests on `load.connections` connections until `load.duration` has passed;
/// a response counts as ok when its status is `expect`.
pub async fn run<F>(load: &Load, expect: u16, make: F) -> Result<Report>
where
    F: Fn() -> Request<Full<Bytes>> + Send + Sync + 'static,
{
    anyhow::ensure!(load.duration <= MAX_DURATION, "a run lasts at most {} s", MAX_DURATION.as_secs());
    anyhow::ensure!((1..=MAX_CONNECTIONS).contains(&load.connections), "1 to {MAX_CONNECTIONS} connections");
    let make = Arc::new(make);
    let cpu_before = own_cpu_secs();
    let start = Instant::now();
    let deadline = start + load.duration;
    let mut tasks = Vec::with_capacity(load.connections);
    for _ in 0..load.connections {
        let make = Arc::clone(&make);
        let addr = load.addr;
        tasks.push(tokio::spawn(async move { connection(addr, deadline, expect, &*make).await }));
    }
    let mut report = Report::default();
    for t in tasks {
        report.merge(t.await.context("a load task failed")?);
    }
    report.elapsed = start.elapsed();
    report.generator_cpu_secs = own_cpu_secs().zip(cpu_before).map(|(a, b)| a - b);
    Ok(report)
}

/// User + system CPU seconds of this process so far (Linux `/proc`; `None` elsewhere).
fn own_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    Some((fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?) / 100.0)
}

async fn connection<F>(addr: SocketAddr, deadline: Instant, expect: u16, make: &F) -> Report
where
    F: Fn() -> Request<Full<Bytes>>,
{
    let mut report = Report { latencies_us: Vec::with_capacity(64 * 1024), ..Report::default() };
    'reconnect: while Instant::now() < deadline {
        let stream = match TcpStream::connect(addr).await {
            Ok(s) => s,
            Err(e) => {
                report.error(format!("connect: {}", e.kind()));
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (mut sender, conn) = match hyper::client::conn::http1::handshake(TokioIo::new(stream)).await {
            Ok(pair) => pair,
            Err(e) => {
                report.error(format!("handshake: {e}"));
                continue;
            }
        };
        let driver = tokio::spawn(conn);
        while Instant::now() < deadline {
            if sender.ready().await.is_err() {
                report.error("connection closed".into());
                driver.abort();
                continue 'reconnect;
            }
            let t0 = Instant::now();
            let resp = match sender.send_request(make()).await {
                Ok(r) => r,
                Err(e) => {
                    report.error(format!("request: {e}"));
                    driver.abort();
                    continue 'reconnect;
                }
            };
            let status = resp.status().as_u16();
            let body = resp.into_body().collect().await;
            let us = u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX);
            match body {
                Ok(_) if status == expect => {
                    report.ok += 1;
                    report.latencies_us.push(us);
                }
                Ok(_) => report.error(format!("HTTP {status}")),
                Err(e) => report.error(format!("body: {e}")),
            }
        }
        driver.abort();
    }
    report
}
