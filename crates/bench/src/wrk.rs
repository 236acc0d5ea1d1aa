//! The one load generator of the exchange benchmark: `wrk -t1 -c64 -d10s --latency` (Debian's
//! `wrk`), driven with a Lua script for the request, and its report parsed into figures.
//! A fixed, external generator keeps runs comparable: a heavier one would raise the figures
//! with no change to the hub.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

/// One run's fixed shape.
pub const THREADS: u32 = 1;
pub const CONNECTIONS: u32 = 64;
/// Longest run accepted (load runs are bounded).
pub const MAX_SECONDS: u64 = 60;

/// What one request of a run is.
pub struct Script<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: Option<&'a str>,
}

impl Script<'_> {
    /// The Lua source (values quoted as Lua long strings, so nothing needs escaping).
    fn lua(&self) -> String {
        let mut s = format!("wrk.method = [==[{}]==]\nwrk.path = [==[{}]==]\n", self.method, self.path);
        for (k, v) in self.headers {
            let _ = writeln!(s, "wrk.headers[ [==[{k}]==] ] = [==[{v}]==]");
        }
        if let Some(body) = self.body {
            let _ = writeln!(s, "wrk.body = [==[{body}]==]");
        }
        s
    }
}

/// What wrk measured.
#[derive(Debug, Default)]
pub struct Report {
    pub requests: u64,
    pub per_sec: f64,
    pub p50: Duration,
    pub p99: Duration,
    /// Responses that were not 2xx/3xx.
    pub non_2xx: u64,
    /// Connect, read, write and timeout errors.
    pub socket_errors: u64,
}

/// Runs wrk against `base` (`http://127.0.0.1:PORT`) for `seconds`; the script (which may hold
/// a credential) is written 0600 into `dir` and never appears on a command line.
pub fn run(dir: &Path, name: &str, base: &str, script: &Script<'_>, seconds: u64) -> Result<Report> {
    if seconds == 0 || seconds > MAX_SECONDS {
        bail!("a run lasts 1..={MAX_SECONDS} s");
    }
    let file = dir.join(format!("{name}.lua"));
    write_private(&file, &script.lua())?;
    let out = Command::new("wrk")
        .arg(format!("-t{THREADS}"))
        .arg(format!("-c{CONNECTIONS}"))
        .arg(format!("-d{seconds}s"))
        .arg("--latency")
        .arg("-s")
        .arg(&file)
        .arg(base)
        .output()
        .context("running wrk (apt install wrk; `cargo xtask setup` does)")?;
    let _ = std::fs::remove_file(&file);
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("wrk failed ({}): {}{}", out.status, text, String::from_utf8_lossy(&out.stderr));
    }
    parse(&text).with_context(|| format!("cannot read wrk's report:\n{text}"))
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

/// Parses wrk's text report.
pub fn parse(text: &str) -> Result<Report> {
    let mut r = Report::default();
    let mut in_distribution = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("Latency Distribution") {
            in_distribution = true;
            continue;
        }
        if in_distribution {
            match t.split_whitespace().collect::<Vec<_>>().as_slice() {
                ["50%", v] => r.p50 = duration(v)?,
                ["99%", v] => r.p99 = duration(v)?,
                [p, _] if p.ends_with('%') => {}
                _ => in_distribution = false,
            }
        }
        if let Some(v) = t.strip_prefix("Requests/sec:") {
            r.per_sec = v.trim().parse().context("Requests/sec")?;
        } else if let Some(v) = t.strip_prefix("Non-2xx or 3xx responses:") {
            r.non_2xx = v.trim().parse().context("Non-2xx")?;
        } else if let Some(v) = t.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            r.socket_errors = v.split(',').filter_map(|part| part.split_whitespace().nth(1)?.parse::<u64>().ok()).sum();
        } else if let Some((n, _)) = t.split_once(" requests in ") {
            r.requests = n.trim().parse().context("request count")?;
        }
    }
    if r.requests == 0 || r.per_sec == 0.0 || r.p99.is_zero() {
        bail!("no requests, rate or latency in the report");
    }
    Ok(r)
}

/// `812.00us`, `1.23ms`, `2.00s`.
fn duration(v: &str) -> Result<Duration> {
    let (num, unit) = v.split_at(v.find(|c: char| c.is_ascii_alphabetic()).context("no unit")?);
    let n: f64 = num.parse().context("latency")?;
    let secs = match unit {
        "us" => n / 1e6,
        "ms" => n / 1e3,
        "s" => n,
        "m" => n * 60.0,
        other => bail!("unknown latency unit '{other}'"),
    };
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Running 10s test @ http://127.0.0.1:8080
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.96ms  520.11us  12.01ms   80.00%
    Req/Sec    21.70k     1.02k   23.10k    71.00%
  Latency Distribution
     50%    2.90ms
     75%    3.20ms
     90%    3.50ms
     99%  812.00us
  216001 requests in 10.00s, 120.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 17
Requests/sec:  21600.10
Transfer/sec:     12.00MB
";

    #[test]
    fn reads_every_figure_of_a_report() {
        let r = parse(SAMPLE).unwrap();
        assert_eq!(r.requests, 216_001);
        assert!((r.per_sec - 21_600.10).abs() < 1e-6);
        assert_eq!(r.p50, Duration::from_micros(2_900));
        assert_eq!(r.p99, Duration::from_micros(812));
        assert_eq!(r.non_2xx, 17);
        assert_eq!(r.socket_errors, 3);
    }

    #[test]
    fn a_report_without_requests_is_an_error() {
        assert!(parse("Running 10s test @ http://127.0.0.1:1\n").is_err());
    }

    #[test]
    fn the_script_quotes_values_as_long_strings() {
        let s = Script { method: "POST", path: "/x", headers: &[("A", "b\"c")], body: Some("{\"k\":1}") };
        let lua = s.lua();
        assert!(lua.contains("wrk.headers[ [==[A]==] ] = [==[b\"c]==]"), "{lua}");
        assert!(lua.contains("wrk.body = [==[{\"k\":1}]==]"), "{lua}");
    }
}
