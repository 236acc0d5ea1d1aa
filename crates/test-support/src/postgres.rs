//! A throwaway PostgreSQL server for tests: Debian's `postgresql` binaries, a cluster in a
//! temporary directory owned by an unprivileged user, listening only on a Unix socket in that
//! directory (no TCP port at all), trust authentication for the `postgres` superuser and
//! password authentication (SCRAM) for every other role. One server per test process, started
//! on first use; [`database`] gives each caller a fresh database on it, so tests run in parallel.
//! A test that needs to stop and start a server under a running hub makes its own with
//! [`private`]; one that needs TCP (and TLS) makes one with [`private_loopback`], which also
//! listens on 127.0.0.1 (a free port, never beyond loopback), with `ssl=on` and a certificate
//! from a throwaway CA ([`tls`]) when asked.
//!
//! The server goes away with the process: the postmaster is started with a parent-death signal
//! (SIGKILL) from a thread that lives as long as the process, and an exit handler shuts it down
//! (immediate mode) and removes its directory. Nothing is installed as a system service.
//!
//! `initdb` runs once per machine and PostgreSQL version into a template cluster that is never
//! started (`$TMPDIR/keyway-pg-template-<version>`); each process copies it (tens of
//! milliseconds instead of a second or two).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail, ensure};

pub mod tls;

/// The environment variable that picks the hub tests' backend: `postgres` for this server,
/// anything else (or unset) for SQLite.
pub const BACKEND_ENV: &str = "KEYWAY_TEST_BACKEND";

/// Extra server settings for every server this starts, `name=value` separated by spaces (each
/// becomes `-c name=value`), to look into what the hub asks of it: for example
/// `log_min_duration_statement=0 logging_collector=on log_directory=/tmp/pg-log` (a directory
/// the server's user may write; the cluster's own directory is removed at the end).
pub const OPTIONS_ENV: &str = "KEYWAY_TEST_PG_OPTIONS";

/// True when the tests are asked to run on PostgreSQL ([`BACKEND_ENV`] is `postgres`).
pub fn wanted() -> bool {
    std::env::var(BACKEND_ENV).is_ok_and(|v| v.eq_ignore_ascii_case("postgres"))
}

/// The running test server.
#[derive(Debug)]
pub struct Server {
    /// The cluster's directory (data in `data/`, the socket and the log beside it).
    pub dir: PathBuf,
    pid: u32,
    bin: PathBuf,
    /// Its port: the socket's name (`.s.PGSQL.<port>`), and the TCP port when it listens on
    /// loopback.
    port: u16,
    listen: Listen,
}

/// Where a server listens besides its socket.
#[derive(Clone, Debug)]
enum Listen {
    /// Nowhere: no TCP at all.
    SocketOnly,
    /// 127.0.0.1 (on [`Server`]'s port), with TLS when its certificate is given.
    Loopback { tls: Option<tls::ServerFiles> },
}

/// The port of a socket-only server.
const SOCKET_PORT: u16 = 5432;

static SERVER: OnceLock<std::result::Result<Server, String>> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

/// The process's server, started on first call.
pub fn server() -> Result<&'static Server> {
    SERVER.get_or_init(|| Server::start().map_err(|e| format!("{e:#}"))).as_ref().map_err(|e| anyhow!("{e}"))
}

/// A fresh, empty database on the process's server, owned by the superuser: its URL.
pub fn database() -> Result<String> {
    let server = server()?;
    let name = format!("keyway_{}_{}", std::process::id(), NEXT_DB.fetch_add(1, Ordering::Relaxed));
    server.sql(&format!("CREATE DATABASE {name}"))?;
    Ok(server.url(&name, "postgres", None))
}

impl Server {
    /// `postgres://` URL of `db` as `user` (with `password`, which SCRAM roles need).
    pub fn url(&self, db: &str, user: &str, password: Option<&str>) -> String {
        let auth = match password {
            Some(p) => format!("{user}:{p}"),
            None => user.to_owned(),
        };
        format!("postgres://{auth}@localhost:{}/{db}?host={}", self.port, self.dir.display())
    }

    /// `postgres://` URL of `db` as `user` over TCP on 127.0.0.1 (`localhost`), with no query:
    /// the caller adds `?sslmode=…`. Only for a [`private_loopback`] server.
    pub fn loopback_url(&self, db: &str, user: &str, password: &str) -> String {
        format!("postgres://{user}:{password}@localhost:{}/{db}", self.port)
    }

    /// Runs `sql` as the superuser on the `postgres` database.
    pub fn sql(&self, sql: &str) -> Result<()> {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-d", "postgres", "-h"])
            .arg(&self.dir)
            .arg("-p")
            .arg(self.port.to_string())
            .args(["-c", sql])
            .stdin(Stdio::null())
            .output()
            .context("running psql")?;
        ensure!(out.status.success(), "psql -c {sql:?} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
        Ok(())
    }

    fn start() -> Result<Server> {
        let bin = bin_dir()?;
        let user = RunAs::pick()?;
        let dir = new_cluster(&bin, &user, HBA)?;
        let server = Server { dir, pid: 0, bin, port: SOCKET_PORT, listen: Listen::SocketOnly };
        let pid = spawn_for_life(server.command(&user)?)?;
        let server = Server { pid, ..server };
        STOP.get_or_init(|| (server.pid, server.dir.clone()));
        // SAFETY: `stop_at_exit` is an `extern "C" fn()` that only reads a static.
        unsafe { libc::atexit(stop_at_exit) };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&self) -> Result<()> {
        for _ in 0..600 {
            let ready = Command::new(self.bin.join("pg_isready"))
                .arg("-q")
                .arg("-h")
                .arg(&self.dir)
                .arg("-p")
                .arg(self.port.to_string())
                .stdin(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return Ok(());
            }
            if !Path::new(&format!("/proc/{}", self.pid)).exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = std::fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default();
        bail!("the test PostgreSQL server did not start:\n{log}")
    }
}

/// A new cluster directory (a copy of the template, `data/` and `pg_hba.conf` saying `hba`),
/// owned by `user`.
fn new_cluster(bin: &Path, user: &RunAs, hba: &str) -> Result<PathBuf> {
    let template = template(bin, user)?;
    let dir = std::env::temp_dir().join(format!("keyway-pg-{}-{}", std::process::id(), crate::random_b64(6)));
    std::fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
    user.own(&dir)?;
    let mut cp = user.command(Path::new("cp"), false);
    cp.arg("-a").arg(&template).arg(dir.join("data"));
    run(cp).context("copying the template cluster")?;
    std::fs::write(dir.join("pg_hba.conf"), hba).context("writing pg_hba.conf")?;
    user.own(&dir.join("pg_hba.conf"))?;
    Ok(dir)
}

impl Server {
    /// `postgres` on the cluster in `dir`: its socket in `dir`, TCP as [`Listen`] says, its
    /// output appended to `dir/postgres.log`, killed when the spawning thread ends.
    fn command(&self, user: &RunAs) -> Result<Command> {
        let dir = &self.dir;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("postgres.log"))
            .context("opening the server log")?;
        let mut postgres = user.command(&self.bin.join("postgres"), true);
        postgres.arg("-D").arg(dir.join("data")).arg("-k").arg(dir).arg("-p").arg(self.port.to_string());
        match &self.listen {
            Listen::SocketOnly => {
                postgres.args(["-c", "listen_addresses="]);
            }
            Listen::Loopback { tls } => {
                postgres.args(["-c", "listen_addresses=127.0.0.1"]);
                if let Some(files) = tls {
                    postgres.args(["-c", "ssl=on", "-c"]).arg(format!("ssl_cert_file={}", files.cert.display()));
                    postgres.arg("-c").arg(format!("ssl_key_file={}", files.key.display()));
                }
            }
        }
        postgres
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off", "-c", "max_connections=300"])
            .arg("-c")
            .arg(format!("hba_file={}", dir.join("pg_hba.conf").display()));
        for option in std::env::var(OPTIONS_ENV).unwrap_or_default().split_whitespace() {
            postgres.arg("-c").arg(option);
        }
        postgres.stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log);
        Ok(postgres)
    }
}

/// A server of the caller's own, apart from the process's shared one ([`server`]), that it may
/// stop and start again on the same data (an outage under a running hub). Made like the
/// shared one (a socket only, in its own temporary directory); dropping it stops it at once
/// and removes the directory.
#[derive(Debug)]
pub struct PrivateServer {
    server: Server,
    user: RunAs,
    /// The thread that spawned the running postmaster and waits for it (its end is the
    /// postmaster's).
    running: Option<std::thread::JoinHandle<()>>,
    /// The CA that signed its certificate, when it has TLS.
    ca: Option<tls::Ca>,
}

/// A new private server, started.
pub fn private() -> Result<PrivateServer> {
    let bin = bin_dir()?;
    let user = RunAs::pick()?;
    let dir = new_cluster(&bin, &user, HBA)?;
    let server = Server { dir, pid: 0, bin, port: SOCKET_PORT, listen: Listen::SocketOnly };
    let mut private = PrivateServer { server, user, running: None, ca: None };
    private.start()?;
    Ok(private)
}

/// A new private server that also listens on 127.0.0.1, on a port that was free a moment ago;
/// with `tls`, it has `ssl=on` with a certificate for `localhost` and 127.0.0.1 from a
/// throwaway CA ([`PrivateServer::ca`]) and takes only TLS connections over TCP. Over TCP every
/// role logs in with its password (SCRAM), the superuser included, which has none: make a role
/// (with [`Server::sql`], over the socket) for the connections to test.
pub fn private_loopback(tls: bool) -> Result<PrivateServer> {
    let bin = bin_dir()?;
    let user = RunAs::pick()?;
    let hba = format!("{HBA}{} all all 127.0.0.1/32 scram-sha-256\n", if tls { "hostssl" } else { "host" });
    let dir = new_cluster(&bin, &user, &hba)?;
    let (ca, files) = match tls {
        true => {
            let certs = tls::private_dir(&dir, "tls")?;
            let ca = tls::Ca::new(&certs, "ca")?;
            let files = ca.issue_server(&certs)?;
            for path in [&certs, &files.cert, &files.key] {
                user.own(path)?;
            }
            (Some(ca), Some(files))
        }
        false => (None, None),
    };
    let port = free_loopback_port()?;
    let server = Server { dir, pid: 0, bin, port, listen: Listen::Loopback { tls: files } };
    let mut private = PrivateServer { server, user, running: None, ca };
    private.start()?;
    Ok(private)
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
fn free_loopback_port() -> Result<u16> {
    let probe = std::net::TcpListener::bind(("127.0.0.1", 0)).context("finding a free port on 127.0.0.1")?;
    Ok(probe.local_addr()?.port())
}

impl PrivateServer {
    /// The server (its URLs, `sql`).
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// A fresh, empty database on it, owned by the superuser: its URL.
    pub fn database(&self) -> Result<String> {
        let name = format!("keyway_{}", NEXT_DB.fetch_add(1, Ordering::Relaxed));
        self.server.sql(&format!("CREATE DATABASE {name}"))?;
        Ok(self.server.url(&name, "postgres", None))
    }

    /// The CA that signed its certificate (a [`private_loopback`] server with TLS).
    pub fn ca(&self) -> Option<&tls::Ca> {
        self.ca.as_ref()
    }

    /// Starts the server (again) on its data and waits until it accepts connections.
    pub fn start(&mut self) -> Result<()> {
        if self.running.is_some() {
            return Ok(());
        }
        let command = self.server.command(&self.user)?;
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = std::thread::Builder::new()
            .name("postgres-private".into())
            .spawn(move || match command_spawn(command) {
                Ok(mut child) => {
                    let _ = tx.send(Ok(child.id()));
                    let _ = child.wait();
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            })
            .context("starting the server's parent thread")?;
        self.server.pid = rx.recv().context("the server's parent thread ended")?.map_err(|e| anyhow!(e))?;
        self.running = Some(waiter);
        self.server.wait_ready()
    }

    /// Stops the server (fast shutdown: clients are disconnected, the data is kept) and waits
    /// until it is gone.
    pub fn stop(&mut self) -> Result<()> {
        self.halt(libc::SIGINT, Duration::from_secs(60))
    }

    /// Sends `signal` to the postmaster, waits up to `grace` for it to end, then kills it.
    fn halt(&mut self, signal: libc::c_int, grace: Duration) -> Result<()> {
        let Some(waiter) = self.running.take() else { return Ok(()) };
        let pid = self.server.pid as libc::pid_t;
        // SAFETY: a signal to the child this handle started; its waiter has not reaped it yet.
        unsafe { libc::kill(pid, signal) };
        let deadline = std::time::Instant::now() + grace;
        while !waiter.is_finished() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if !waiter.is_finished() {
            // SAFETY: as above; the waiter reaps it.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        waiter.join().map_err(|_| anyhow!("the server's parent thread panicked"))
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        let _ = self.halt(libc::SIGQUIT, Duration::from_secs(5));
        let _ = std::fs::remove_dir_all(&self.server.dir);
    }
}

fn command_spawn(mut command: Command) -> std::result::Result<std::process::Child, String> {
    command.spawn().map_err(|e| format!("starting postgres: {e}"))
}

/// The superuser on the socket needs no password; every other role does.
const HBA: &str = "local all postgres trust\nlocal all all scram-sha-256\n";

static STOP: OnceLock<(u32, PathBuf)> = OnceLock::new();

/// Shuts the server down (SIGQUIT: immediate mode), waits for it and removes its directory.
extern "C" fn stop_at_exit() {
    let Some((pid, dir)) = STOP.get() else { return };
    let pid = *pid as libc::pid_t;
    // SAFETY: plain system calls on a child process this process started.
    unsafe {
        libc::kill(pid, libc::SIGQUIT);
        for _ in 0..200 {
            if libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) != 0 {
                break;
            }
            libc::usleep(10_000);
        }
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Spawns `command` from a thread that never ends, so the child's parent-death signal (which
/// Linux ties to the spawning thread) fires only when the whole process ends.
fn spawn_for_life(mut command: Command) -> Result<u32> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("postgres-parent".into())
        .spawn(move || {
            let spawned = command.spawn();
            let _ = tx.send(spawned.as_ref().map(|c| c.id()).map_err(|e| e.to_string()));
            // Keep the Child (and this thread) for the life of the process.
            let _child = spawned;
            loop {
                std::thread::park();
            }
        })
        .context("starting the server's parent thread")?;
    rx.recv().context("the server's parent thread ended")?.map_err(|e| anyhow!("starting postgres: {e}"))
}

/// The newest `/usr/lib/postgresql/<version>/bin` (Debian's layout).
fn bin_dir() -> Result<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("PostgreSQL is not installed (/usr/lib/postgresql is missing): run `cargo xtask setup`")?
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).ok_or_else(|| anyhow!("no PostgreSQL server binaries under /usr/lib/postgresql"))
}

/// The template cluster for `bin`'s version, made by `initdb` on first use.
fn template(bin: &Path, user: &RunAs) -> Result<PathBuf> {
    let version = bin.parent().and_then(|p| p.file_name()).map(|v| v.to_string_lossy().into_owned());
    let root = std::env::temp_dir().join(format!("keyway-pg-template-{}", version.unwrap_or_default()));
    let data = root.join("data");
    if data.join("PG_VERSION").exists() {
        return Ok(data);
    }
    // Made beside and renamed into place, so parallel first runs never see half a cluster.
    let work = std::env::temp_dir().join(format!("keyway-pg-initdb-{}", crate::random_b64(6)));
    std::fs::create_dir(&work)?;
    user.own(&work)?;
    let made = work.join("data");
    let mut initdb = user.command(&bin.join("initdb"), false);
    initdb.arg("-D").arg(&made).args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"]);
    let result = run(initdb).context("initdb");
    if result.is_ok() {
        let _ = std::fs::create_dir(&root);
        let _ = user.own(&root);
        let _ = std::fs::rename(&made, &data);
    }
    let _ = std::fs::remove_dir_all(&work);
    result?;
    ensure!(data.join("PG_VERSION").exists(), "initdb left no cluster in {}", data.display());
    Ok(data)
}

/// Runs `command` to its end; its standard error is the failure.
fn run(mut command: Command) -> Result<()> {
    let out = command.stdin(Stdio::null()).output().context("running a PostgreSQL tool")?;
    ensure!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr).trim());
    Ok(())
}

/// Who runs the server: this user, or the `postgres` system user when this is root (PostgreSQL
/// refuses to run as root).
#[derive(Debug)]
struct RunAs {
    /// (uid, gid) to switch to, when root.
    switch: Option<(u32, u32)>,
}

impl RunAs {
    fn pick() -> Result<RunAs> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Ok(RunAs { switch: None });
        }
        let name = c"postgres";
        // SAFETY: a NUL-terminated name; the result is read at once, before any other call.
        let pw = unsafe { libc::getpwnam(name.as_ptr()) };
        ensure!(!pw.is_null(), "running as root and there is no `postgres` user to run PostgreSQL as");
        // SAFETY: non-null, just returned.
        let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
        Ok(RunAs { switch: Some((uid, gid)) })
    }

    /// `program` as this user; with `pdeathsig`, killed when the spawning thread ends.
    fn command(&self, program: &Path, pdeathsig: bool) -> Command {
        let mut c = Command::new("setpriv");
        if let Some((uid, gid)) = self.switch {
            c.arg(format!("--reuid={uid}")).arg(format!("--regid={gid}")).arg("--clear-groups");
        }
        if pdeathsig {
            c.arg("--pdeathsig=KILL");
        }
        c.arg("--").arg(program);
        // A folder every user may enter (initdb and postgres look at their working directory).
        c.current_dir("/");
        c
    }

    fn own(&self, path: &Path) -> Result<()> {
        if let Some((uid, gid)) = self.switch {
            std::os::unix::fs::chown(path, Some(uid), Some(gid))
                .with_context(|| format!("giving {} to the postgres user", path.display()))?;
        }
        Ok(())
    }
}
