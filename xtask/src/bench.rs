//! `cargo xtask bench <name>`: a release hub on 127.0.0.1 with a fresh database (SQLite, then
//! PostgreSQL on a throwaway server), seeded for the benchmark, then `keyway-bench <name>`
//! against it (bounded in time), then cleanup.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{cargo, run, target_dir};

const BENCH_USER: &str = "bench";
const BENCH_PASSWORD: &str = "not a secret: for measuring";

pub fn bench(args: &[String]) -> Result<()> {
    let Some((name, rest)) = args.split_first() else {
        bail!("cargo xtask bench <exchange|approvals|hubs|scim|desktop|audit|audit-page> [keyway-bench options]");
    };
    if name == "audit-page" {
        // The Audit page over 100,000 rows in the real webview: an ignored end-to-end test, in
        // the test session (D-Bus, keychain, Xvfb).
        return crate::test(
            &["--run-ignored", "only", "--no-capture", "-E", "test(audit_page_first_render)"].map(String::from),
            None,
        );
    }
    if name == "audit" {
        // `keyway-hub audit verify` over 100,000 rows: an ignored test of the hub, in release.
        return run(cargo().args([
            "nextest",
            "run",
            "--release",
            "-p",
            "keyway-hub",
            "--test",
            "audit_chain",
            "--run-ignored",
            "only",
            "--no-capture",
            "-E",
            "test(verify_time)",
        ]));
    }
    if ["approvals", "hubs", "scim", "ciba"].contains(&name.as_str()) {
        // These drivers run their own hubs in-process on a fresh database (hubs: on a
        // throwaway PostgreSQL server).
        return run(cargo().args(["run", "--release", "-p", "keyway-bench", "--", name]).args(rest));
    }
    if name != "exchange" {
        bail!("unknown benchmark '{name}' (known: exchange, approvals, hubs, scim, ciba, desktop, audit)");
    }
    let release = target_dir().join("release");
    let compare = rest.iter().any(|a| a == "--compare-limits");
    let rest: Vec<String> = rest.iter().filter(|a| *a != "--compare-limits").cloned().collect();
    let unguarded = release.join("keyway-hub-unguarded");
    if compare {
        // The same hub without its limits (the `unguarded` feature), kept aside under its own
        // name; the normal build below then replaces the binary it shares a name with.
        run(cargo().args(["build", "--release", "-p", "keyway-hub", "--features", "keyway-hub/unguarded"]))?;
        std::fs::copy(release.join("keyway-hub"), &unguarded).context("keeping the unguarded hub aside")?;
    }
    run(cargo().args(["build", "--release", "-p", "keyway-hub", "-p", "keyway-bench"]))?;
    // On SQLite, then on PostgreSQL, in one run (`--backend sqlite|postgres` for one).
    let (backends, rest) = backends_of(&rest)?;
    for backend in backends {
        if compare {
            // Alternating, twice, so that a change in the machine's load shows as a spread.
            for round in 1..=2 {
                eprintln!("xtask: {backend} round {round}: the hub with its limits");
                exchange_on(backend, &rest, &release.join("keyway-hub"))?;
                eprintln!("xtask: {backend} round {round}: the same hub without them (unguarded)");
                exchange_on(backend, &rest, &unguarded)?;
            }
        } else {
            exchange_on(backend, &rest, &release.join("keyway-hub"))?;
        }
    }
    Ok(())
}

/// `--backend B` taken out of the options: the backends to run on.
fn backends_of(rest: &[String]) -> Result<(Vec<&'static str>, Vec<String>)> {
    let mut backends = vec!["sqlite", "postgres"];
    let mut others = Vec::new();
    let mut it = rest.iter();
    while let Some(arg) = it.next() {
        if arg == "--backend" {
            backends = match it.next().map(String::as_str) {
                Some("sqlite") => vec!["sqlite"],
                Some("postgres") => vec!["postgres"],
                other => bail!("--backend is sqlite or postgres, not {other:?}"),
            };
        } else {
            others.push(arg.clone());
        }
    }
    Ok((backends, others))
}

/// The exchange benchmark against one release hub on `backend`.
fn exchange_on(backend: &str, rest: &[String], hub: &Path) -> Result<()> {
    let bin = target_dir().join("release");
    let dir = std::env::temp_dir().join(format!("keyway-bench-{}-{backend}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    // PostgreSQL: a throwaway server for as long as `pg` lives (its databases on stdout).
    let mut pg = None;
    let result = (|| -> Result<()> {
        let (database, other) = if backend == "postgres" {
            let (server, urls) = PgServer::start(&bin.join("keyway-bench"))?;
            pg = Some(server);
            urls
        } else {
            (
                format!("sqlite://{}", dir.join("hub.db").display()),
                format!("sqlite://{}", dir.join("other.db").display()),
            )
        };
        // The hub key that seals the signing key: every command on the database takes it.
        let key_file = dir.join("hub.key");
        new_key(&hub, &key_file)?;
        let key_file = key_file.to_str().context("the temp dir is not UTF-8")?;
        user_add(&hub, &database, key_file)?;
        let mut env: Vec<(&str, String)> = Vec::new();
        env.push(("KEYWAY_BENCH_PAT", mint(&hub, &database, key_file, "bench-agent")?));
        env.push(("KEYWAY_BENCH_REVOKE_PAT", mint(&hub, &database, key_file, "bench-revoked")?));
        // Well formed, but from another database: unknown to this hub.
        user_add(&hub, &other, key_file)?;
        env.push(("KEYWAY_BENCH_UNKNOWN_PAT", mint(&hub, &other, key_file, "bench-agent")?));
        env.push(("KEYWAY_BENCH_USER", BENCH_USER.to_owned()));
        env.push(("KEYWAY_BENCH_PASSWORD", BENCH_PASSWORD.to_owned()));
        let port = free_port()?;
        let mut server = Server(
            Command::new(&hub)
                .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--database", &database])
                .args(["--key-file", key_file])
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .spawn()
                .context("starting keyway-hub")?,
        );
        wait_listening(port, &mut server.0)?;
        let mut cmd = Command::new(bin.join("keyway-bench"));
        cmd.arg("exchange")
            .args(["--url", &format!("http://127.0.0.1:{port}")])
            .args(["--hub-pid", &server.0.id().to_string()])
            .args(["--backend", backend])
            .args(rest);
        // Not `run`: it would print the command with the PAT in its environment.
        eprintln!("xtask: keyway-bench exchange --url http://127.0.0.1:{port} --backend {backend} {}", rest.join(" "));
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let status = cmd.status().context("running keyway-bench")?;
        if !status.success() {
            bail!("keyway-bench failed with {status}");
        }
        Ok(())
    })();
    drop(pg);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// `keyway-bench pg-server`: a throwaway PostgreSQL server that lives until its stdin closes.
struct PgServer(Child);

impl PgServer {
    /// Starts it and reads the URLs of its two fresh databases.
    fn start(bench: &Path) -> Result<(PgServer, (String, String))> {
        use std::io::BufRead as _;
        let mut child = Command::new(bench)
            .arg("pg-server")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("starting keyway-bench pg-server")?;
        let stdout = child.stdout.take().context("stdout")?;
        let mut lines = std::io::BufReader::new(stdout).lines();
        let mut next = || -> Result<String> { lines.next().context("pg-server ended early")?.map_err(Into::into) };
        let urls = (next()?, next()?);
        Ok((PgServer(child), urls))
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        // Closing stdin ends it; its exit handler stops the server and removes its directory.
        drop(self.0.stdin.take());
        let _ = self.0.wait();
    }
}

/// Stops the hub (SIGTERM to its own pid, so it flushes; then waits) when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.0.id().to_string()).status();
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(15) {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn new_key(hub: &Path, key_file: &Path) -> Result<()> {
    let status = Command::new(hub).args(["keys", "new-key", "--out"]).arg(key_file).status()?;
    if !status.success() {
        bail!("keyway-hub keys new-key failed");
    }
    Ok(())
}

fn user_add(hub: &Path, database: &str, key_file: &str) -> Result<()> {
    let mut child = Command::new(hub)
        .args(["user", "add", BENCH_USER, "--role", "developer", "--database", database, "--key-file", key_file])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()?;
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().context("stdin")?;
        writeln!(stdin, "{BENCH_PASSWORD}")?;
    }
    if !child.wait()?.success() {
        bail!("keyway-hub user add failed");
    }
    Ok(())
}

fn mint(hub: &Path, database: &str, key_file: &str, agent: &str) -> Result<String> {
    let out = Command::new(hub)
        .args(["pat", "mint", "--user", BENCH_USER, "--agent", agent, "--database", database])
        .args(["--key-file", key_file])
        .output()?;
    if !out.status.success() {
        bail!("keyway-hub pat mint failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_listening(port: u16, child: &mut Child) -> Result<()> {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(20) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            bail!("keyway-hub exited early with {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("keyway-hub did not listen on port {port}")
}
