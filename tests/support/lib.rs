//! Helpers shared by the end-to-end tests: a real hub on 127.0.0.1, a sandboxed HOME, the real
//! keychain (through `secret-tool`) and a scripted browser.
//!
//! Under `cargo xtask test` they also serve its secret scan: every secret a helper sees goes to
//! the ledger ([`ledger`]), the test directories are kept ([`KEEP_DIRS_ENV`]) and the in-process
//! hubs log to a file ([`LOG_DIR_ENV`]), so that the scan can look for those secrets in them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use keyway_api::Role;
use keyway_hub::{Hub, RunningHub, Settings};
pub use keyway_test_support::ledger;
use keyway_test_support::ledger::Kind;

pub mod idp;
pub mod webdriver;

/// Set (to anything but empty) by `cargo xtask test`: the test directories are kept after the test,
/// under the run's own `TMPDIR`, for the secret scan; the xtask deletes them after it.
pub const KEEP_DIRS_ENV: &str = "KEYWAY_TEST_KEEP_DIRS";
/// Set by `cargo xtask test`: the directory the in-process hubs log to, one file per test process.
pub const LOG_DIR_ENV: &str = "KEYWAY_TEST_LOG_DIR";
/// The hubs' log filter when `RUST_LOG` does not say: debug for Keyway's own crates and the
/// request traces, so the scan sees everything the hub can log.
pub const HUB_LOG_FILTER: &str = "info,keyway_hub=debug,keyway_api=debug,keyway_client=debug,tower_http=debug";

/// A fresh temporary directory named `<prefix>…` in `TMPDIR`, deleted when dropped unless
/// [`KEEP_DIRS_ENV`] asks to keep it.
pub fn temp_dir(prefix: &str) -> Result<tempfile::TempDir> {
    let keep = std::env::var_os(KEEP_DIRS_ENV).is_some_and(|v| !v.is_empty());
    Ok(tempfile::Builder::new().prefix(prefix).disable_cleanup(keep).tempdir()?)
}

/// With [`LOG_DIR_ENV`] set, sends this process's logs (the in-process hubs') to
/// `<dir>/hub-<test binary>-<pid>.log`, once per process.
fn log_hubs_to_file() -> Result<()> {
    static INSTALLED: Once = Once::new();
    let Some(dir) = std::env::var_os(LOG_DIR_ENV) else { return Ok(()) };
    let mut result = Ok(());
    INSTALLED.call_once(|| {
        let exe = std::env::current_exe().ok();
        let binary = exe.as_deref().and_then(Path::file_stem).and_then(|s| s.to_str()).unwrap_or("test");
        let file = Path::new(&dir).join(format!("hub-{binary}-{}.log", std::process::id()));
        result = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&file)
            .with_context(|| format!("opening the hub log {}", file.display()))
            .map(|f| {
                let filter = tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(HUB_LOG_FILTER));
                let _ = tracing_subscriber::fmt()
                    .with_env_filter(filter)
                    .with_writer(Mutex::new(f))
                    .with_ansi(false)
                    .try_init();
            });
    });
    result
}

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The directory holding the workspace's built binaries (`target/debug`), found from the test
/// executable (`target/debug/deps/<test>`), so a custom `CARGO_TARGET_DIR` works too.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent().and_then(Path::parent).expect("target/<profile>/deps/<test>").to_path_buf()
}

/// A built workspace binary; `cargo xtask test` builds them all before the tests run.
pub fn bin(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(p.is_file(), "{} is missing: run the tests with `cargo xtask test`, which builds it first", p.display());
    p
}

/// A real keyway-hub on 127.0.0.1 with a SQLite file in a temp dir.
pub struct TestHub {
    pub url: String,
    /// The running hub's clock: advancing it expires codes and tokens without waiting.
    pub clock: keyway_hub::Clock,
    running: Option<RunningHub>,
    _dir: tempfile::TempDir,
}

impl TestHub {
    /// Start a hub with these users (`(name, password, roles)`).
    pub async fn start(users: &[(&str, &str, &[Role])]) -> Result<TestHub> {
        Ok(TestHub::start_with_pats(users, &[]).await?.0)
    }

    /// Like [`TestHub::start`], and mints a user PAT (agent `None`) or agent PAT for each
    /// `(user, agent)` in `pats`, returned in order.
    pub async fn start_with_pats(
        users: &[(&str, &str, &[Role])],
        pats: &[(&str, Option<&str>)],
    ) -> Result<(TestHub, Vec<String>)> {
        TestHub::start_on(None, users, pats, &[]).await
    }

    /// Like [`TestHub::start`], on a fresh database of the throwaway PostgreSQL server
    /// (`keyway_test_support::postgres`) instead of a SQLite file.
    pub async fn start_on_postgres(users: &[(&str, &str, &[Role])]) -> Result<TestHub> {
        let database_url = keyway_test_support::postgres::database()?;
        Ok(TestHub::start_on(Some(database_url), users, &[], &[]).await?.0)
    }

    /// Like [`TestHub::start`], after `seed` (SQL statements) has run on the freshly migrated
    /// SQLite database: the hub is opened once to create it, then again to serve, as after an
    /// upgrade (so it chains audit rows written without their hashes, for instance).
    pub async fn start_seeded(users: &[(&str, &str, &[Role])], seed: &[&str]) -> Result<TestHub> {
        Ok(TestHub::start_on(None, users, &[], seed).await?.0)
    }

    async fn start_on(
        database_url: Option<String>,
        users: &[(&str, &str, &[Role])],
        pats: &[(&str, Option<&str>)],
        seed: &[&str],
    ) -> Result<(TestHub, Vec<String>)> {
        log_hubs_to_file()?;
        let dir = temp_dir("keyway-hub-")?;
        let file = dir.path().join("hub.db");
        let settings = Settings {
            listen: "127.0.0.1:0".parse()?,
            database_url: database_url.unwrap_or_else(|| format!("sqlite://{}", file.display())),
            hub_key: Some(keyway_hub::HubKey::generate()),
            ..Settings::default()
        };
        let clock = settings.clock.clone();
        if !seed.is_empty() {
            drop(Hub::open(settings.clone()).await?);
            let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", file.display())).await?;
            for sql in seed {
                sqlx::query(sql).execute(&pool).await?;
            }
            pool.close().await;
        }
        let hub = Hub::open(settings).await?;
        for (name, password, roles) in users {
            ledger::record(Kind::Password, password);
            hub.create_user(name, password, roles).await?;
        }
        let mut minted = Vec::new();
        for (user, agent) in pats {
            let pat = hub.mint_pat(user, *agent, keyway_api::auth::Audience::Both, None).await?;
            ledger::record(Kind::KwpToken, &pat);
            minted.push(pat);
        }
        let running = hub.serve().await?;
        let url = running.issuer.clone();
        let probe = reqwest::Client::new();
        wait_for("the hub", Duration::from_secs(10), || {
            let probe = probe.clone();
            let url = url.clone();
            async move { probe.get(format!("{url}/healthz")).send().await.is_ok_and(|r| r.status().is_success()) }
        })
        .await?;
        Ok((TestHub { url, clock, running: Some(running), _dir: dir }, minted))
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }
}

/// Poll `ready` until it says yes; never a fixed sleep.
pub async fn wait_for<F, Fut>(what: &str, limit: Duration, mut ready: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let t0 = Instant::now();
    loop {
        // A check that itself never answers ends the wait too.
        let left = limit.saturating_sub(t0.elapsed()) + Duration::from_secs(1);
        if tokio::time::timeout(left, ready()).await == Ok(true) {
            return Ok(());
        }
        if t0.elapsed() > limit {
            bail!("{what} was not ready within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A private HOME with its own XDG dirs, so a test sees exactly the files its programs wrote.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Result<Sandbox> {
        let dir = temp_dir("keyway-sandbox-")?;
        for sub in ["home", "config", "data", "cache", "state"] {
            std::fs::create_dir_all(dir.path().join(sub))?;
        }
        Ok(Sandbox { dir })
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// Environment for a program run in the sandbox. The keyring daemon's own XDG_DATA_HOME is
    /// not affected: it is already running in the session.
    pub fn env(&self) -> Vec<(String, PathBuf)> {
        let p = self.dir.path();
        vec![
            ("HOME".into(), p.join("home")),
            ("XDG_CONFIG_HOME".into(), p.join("config")),
            ("XDG_DATA_HOME".into(), p.join("data")),
            ("XDG_CACHE_HOME".into(), p.join("cache")),
            ("XDG_STATE_HOME".into(), p.join("state")),
        ]
    }

    pub fn command(&self, program: &Path) -> Command {
        let mut c = Command::new(program);
        c.env_remove("KEYWAY_CONFIG_DIR").env_remove("KEYWAY_PROFILE").env_remove("BROWSER");
        for (k, v) in self.env() {
            c.env(k, v);
        }
        c
    }

    /// Every file under the sandbox that contains one of `needles`.
    pub fn files_containing(&self, needles: &[&str]) -> Result<Vec<PathBuf>> {
        files_containing(self.dir.path(), needles)
    }
}

/// The needle that stands for any JWT: a header and the start of a payload, both base64url JSON
/// objects (`eyJ…` `.` `eyJ…`). Plain "eyJ" alone turns up in binary caches by chance.
pub const ANY_JWT: &str = "eyJ";

/// True if `bytes` hold something shaped like a compact JWT.
pub fn contains_jwt(bytes: &[u8]) -> bool {
    let is_b64url = |b: &u8| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_';
    let mut from = 0;
    while let Some(at) = bytes[from..].windows(3).position(|w| w == b"eyJ") {
        let start = from + at;
        let header = bytes[start..].iter().take_while(|b| is_b64url(b)).count();
        let rest = &bytes[start + header..];
        if header >= 16 && rest.len() > 4 && rest[0] == b'.' && rest[1..4] == *b"eyJ" {
            return true;
        }
        from = start + 3;
    }
    false
}

/// Every regular file under `dir` (recursively) that contains one of `needles`; the needle
/// [`ANY_JWT`] matches anything shaped like a JWT.
pub fn files_containing(dir: &Path, needles: &[&str]) -> Result<Vec<PathBuf>> {
    let mut hits = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let ft = e.file_type()?;
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                let bytes = std::fs::read(e.path()).unwrap_or_default();
                let hit = needles.iter().any(|n| {
                    if *n == ANY_JWT {
                        contains_jwt(&bytes)
                    } else {
                        !n.is_empty() && bytes.windows(n.len()).any(|w| w == n.as_bytes())
                    }
                });
                if hit {
                    hits.push(e.path());
                }
            }
        }
    }
    Ok(hits)
}

/// Runs `cmd` to completion with its output captured, killing it (and failing) if it takes
/// longer than `limit`: a keychain that waits for an unlock prompt must not hang the run.
pub fn output_within(cmd: &mut Command, limit: Duration) -> Result<std::process::Output> {
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("running {cmd:?}"))?;
    // Drained while the child runs, so a chatty program never blocks on a full pipe.
    fn drain(pipe: Option<impl std::io::Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    }
    let (out, err) = (drain(child.stdout.take()), drain(child.stderr.take()));
    let t0 = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            anyhow::bail!("{cmd:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ok(std::process::Output { status, stdout: out.join().unwrap_or_default(), stderr: err.join().unwrap_or_default() })
}

/// How long a `secret-tool` call may take.
const KEYCHAIN_CALL: Duration = Duration::from_secs(20);

/// The secret stored in the Secret Service for `account` under service `keyway`, read with the
/// stock `secret-tool` (a second, independent client of the keychain).
pub fn keychain_lookup(account: &str) -> Result<Option<String>> {
    let out = output_within(
        Command::new("secret-tool").args(["lookup", "service", "keyway", "username", account]),
        KEYCHAIN_CALL,
    )
    .context("running secret-tool (apt install libsecret-tools)")?;
    let s = String::from_utf8(out.stdout)?;
    if !out.status.success() || s.is_empty() {
        return Ok(None);
    }
    let kind = match account.rsplit('/').next() {
        Some("refresh_token") => Kind::RefreshToken,
        Some("hub_key") => Kind::HubKey,
        _ => Kind::of_shape(&s).unwrap_or(Kind::RefreshToken),
    };
    ledger::record(kind, &s);
    Ok(Some(s))
}

/// Records the authorization code in a redirect to a client (`…?code=…`), if it has one.
pub fn record_code_in(location: &str) {
    let Ok(url) = url::Url::parse(location) else { return };
    if let Some((_, code)) = url.query_pairs().find(|(k, _)| k == "code") {
        ledger::record(Kind::AuthorizationCode, &code);
    }
}

/// What `secret-tool search` finds for `account` under service `keyway` (attributes and labels).
pub fn keychain_search(account: &str) -> Result<String> {
    let out = output_within(
        Command::new("secret-tool").args(["search", "--all", "service", "keyway", "username", account]),
        KEYCHAIN_CALL,
    )
    .context("running secret-tool (apt install libsecret-tools)")?;
    Ok(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// Play the browser: open the authorize URL, sign in on the hub's page, follow the redirect to
/// the client's loopback listener. Returns the final page's text.
pub async fn play_browser(authorize_url: &str, user: &str, password: &str) -> Result<String> {
    let http = keyway_test_support::browser();
    let location = keyway_test_support::log_in(&http, authorize_url, user, password).await?;
    record_code_in(&location);
    ensure!(location.starts_with("http://127.0.0.1:"), "redirected to {location}, not the loopback listener");
    let done = http.get(&location).send().await?;
    ensure!(done.status() == 200, "the loopback listener answered {}", done.status());
    Ok(done.text().await?)
}

#[cfg(test)]
mod tests {
    use super::contains_jwt;

    #[test]
    fn jwt_shapes_are_found_and_chance_bytes_are_not() {
        let jwt = b"x eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJl y";
        assert!(contains_jwt(jwt));
        assert!(!contains_jwt(b"\x00\x13eyJ\xff\x01 binary eyJ"));
        assert!(!contains_jwt(b"eyJhbGciOiJFZERTQSJ9 no payload"));
        assert!(!contains_jwt(b"eyJ"));
    }
}
