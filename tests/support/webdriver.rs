//! Driving a Keyway app binary in the real webview: tauri-driver (→ WebKitWebDriver) on free
//! loopback ports, started with a sandbox's environment, and small helpers over fantoccini.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use fantoccini::{Client, ClientBuilder, Locator};

use crate::{Sandbox, bin, root, wait_for};

/// How long to wait for an element.
pub const WAIT: Duration = Duration::from_secs(40);
/// Password of the users the desktop tests sign in as.
pub const PASSWORD: &str = "correct horse battery";

/// A running tauri-driver; dropping it ends its whole process group (WebKitWebDriver, the app
/// and whatever the app started).
pub struct Driver {
    child: Child,
    pub port: u16,
    /// tauri-driver's stderr, which also has WebKitWebDriver's and the app's.
    log: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Ok(pgid) = i32::try_from(self.child.id()) {
            // SAFETY: killpg only sends a signal; the group is the one tauri-driver leads.
            unsafe { libc::killpg(pgid, libc::SIGTERM) };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The program name of every Keyway desktop build (development and installed).
const APP_NAME: &str = "keyway-desktop";

/// Ends any Keyway app left on this session bus by an earlier test that was killed (a timed-out
/// test never runs its `Drop`). The app is single-instance per session bus, so a leftover would
/// take every later launch's window for itself. A Keyway on another bus (the person's own) is
/// not touched: it cannot collide.
async fn end_stale_apps() -> Result<()> {
    let pids = apps_on_this_bus();
    if pids.is_empty() {
        return Ok(());
    }
    eprintln!("ending {APP_NAME} processes left by an earlier test: {pids:?}");
    for pid in &pids {
        // SAFETY: kill only sends a signal to a process of ours that we just read.
        unsafe { libc::kill(*pid, libc::SIGKILL) };
    }
    wait_for("the stale app processes to end", Duration::from_secs(10), || {
        let left = apps_on_this_bus();
        async move { left.is_empty() }
    })
    .await
}

/// The Keyway apps running on this test's session bus.
fn apps_on_this_bus() -> Vec<i32> {
    let Some(bus) = std::env::var_os("DBUS_SESSION_BUS_ADDRESS") else { return Vec::new() };
    let mut needle = b"DBUS_SESSION_BUS_ADDRESS=".to_vec();
    needle.extend_from_slice(std::os::unix::ffi::OsStrExt::as_bytes(bus.as_os_str()));
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            comm.trim_end() == APP_NAME
                && std::fs::read(format!("/proc/{pid}/environ"))
                    .is_ok_and(|env| env.split(|b| *b == 0).any(|kv| kv == needle.as_slice()))
        })
        .collect()
}

/// Waits for the app of a closed session to finish exiting (it still holds the single-instance
/// name on the bus for a moment, and a new launch would hand itself over to it and quit); one
/// that does not exit within 10 s is ended.
async fn previous_app_gone() -> Result<()> {
    let exited = wait_for("the previous app to exit", Duration::from_secs(10), || {
        let left = apps_on_this_bus();
        async move { left.is_empty() }
    })
    .await;
    match exited {
        Ok(()) => {}
        Err(_) => end_stale_apps().await?,
    }
    // The bus may still list an exited app's single-instance name for a moment; a launch then
    // forwards itself to it, gets no reply and quits. Wait until the name is released.
    wait_for("the previous app's single-instance name to be released", Duration::from_secs(10), || async {
        !single_instance_name_taken()
    })
    .await
}

/// True while a Keyway app holds its single-instance name on this session bus.
fn single_instance_name_taken() -> bool {
    let listed = std::process::Command::new("dbus-send")
        .args(["--session", "--print-reply", "--dest=org.freedesktop.DBus", "/", "org.freedesktop.DBus.ListNames"])
        .output();
    match listed {
        Ok(out) if out.status.success() => {
            String::from_utf8_lossy(&out.stdout).contains("app.keyway.desktop.SingleInstance")
        }
        // No dbus-send, or no bus: nothing to wait for.
        _ => false,
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A program on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

impl Driver {
    /// tauri-driver with the sandbox's environment plus `env`; its log goes to `<sandbox>/log`.
    /// The ports are picked free and then handed over, so a driver that does not come up is
    /// retried on fresh ports.
    pub async fn start(sb: &Sandbox, env: &[(&str, &str)], log: &str) -> Result<Driver> {
        let mut last = None;
        for _ in 0..3 {
            match Self::try_start(sb, env, log).await {
                Ok(d) => return Ok(d),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("three attempts"))
    }

    async fn try_start(sb: &Sandbox, env: &[(&str, &str)], log: &str) -> Result<Driver> {
        end_stale_apps().await?;
        let (port, native) = (free_port()?, free_port()?);
        let log = sb.dir.path().join(log);
        let tauri_driver = which("tauri-driver").context("tauri-driver is not installed: run `cargo xtask setup`")?;
        let child = sb
            .command(&tauri_driver)
            .envs(env.iter().copied())
            .args(["--port", &port.to_string(), "--native-port", &native.to_string()])
            // No accessibility bus: GTK would start one that outlives the test.
            .env("NO_AT_BRIDGE", "1")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .process_group(0)
            .spawn()?;
        let driver = Driver { child, port, log };
        let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
        wait_for("tauri-driver", Duration::from_secs(30), || {
            let http = http.clone();
            async move {
                match http.get(format!("http://127.0.0.1:{port}/status")).send().await {
                    Ok(r) if r.status().is_success() => {
                        r.json::<serde_json::Value>().await.is_ok_and(|v| v["value"]["ready"] == true)
                    }
                    _ => false,
                }
            }
        })
        .await?;
        Ok(driver)
    }

    /// tauri-driver for the development build, signing in as `user` through the scripted
    /// browser (`tests/support/scripted-browser.sh`, password [`PASSWORD`]), plus `env`.
    pub async fn for_user(sb: &Sandbox, user: &str, env: &[(&str, &str)]) -> Result<Driver> {
        crate::ledger::record(crate::ledger::Kind::Password, PASSWORD);
        let browser = root().join("tests/support/scripted-browser.sh");
        let browser = browser.to_str().context("the repository path is not UTF-8")?;
        let mut all: Vec<(&str, &str)> = vec![
            ("BROWSER", browser),
            ("KEYWAY_TEST_USER", user),
            ("KEYWAY_TEST_PASSWORD", PASSWORD),
            ("KEYWAY_LOGIN_TIMEOUT_SECS", "60"),
        ];
        all.extend_from_slice(env);
        Driver::start(sb, &all, "tauri-driver.log").await
    }

    /// Starts the development build of the app (`target/<profile>/keyway-desktop`).
    pub async fn open_app(&self) -> Result<Client> {
        self.open(&bin("keyway-desktop")).await
    }

    /// Starts `application` (a new WebDriver session starts a new app process).
    pub async fn open(&self, application: &Path) -> Result<Client> {
        previous_app_gone().await?;
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), "wry".into());
        caps.insert("tauri:options".into(), serde_json::json!({ "application": application }));
        let url = format!("http://127.0.0.1:{}", self.port);
        let mut builder = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        builder.capabilities(caps);
        // A window that never appears must fail this test with a reason, not hang the run.
        let started = std::time::Instant::now();
        let client = tokio::time::timeout(WAIT, builder.connect(&url))
            .await
            .map_err(|_| anyhow::anyhow!("{} did not open a window within {WAIT:?}", application.display()))
            .and_then(|c| c.context("starting the app through tauri-driver"));
        client.map_err(|e| {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            e.context(format!(
                "after {:.1} s; the end of {}:\n{}",
                started.elapsed().as_secs_f64(),
                self.log.display(),
                tail.join("\n")
            ))
        })
    }
}

pub async fn text_of(app: &Client, css: &str) -> Result<String> {
    let el =
        app.wait().at_most(WAIT).for_element(Locator::Css(css)).await.with_context(|| format!("waiting for {css}"))?;
    Ok(el.text().await?)
}

pub async fn click(app: &Client, css: &str) -> Result<()> {
    app.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .with_context(|| format!("waiting for {css}"))?
        .click()
        .await?;
    Ok(())
}

/// The page's text, for assertion messages.
pub async fn page_text(app: &Client) -> String {
    match app.find(Locator::Css("body")).await {
        Ok(b) => b.text().await.unwrap_or_default(),
        Err(e) => format!("<no body: {e}>"),
    }
}

/// Records, inside the page, every Tauri event named in `events` (the shell → UI channel), so a
/// test can see what the shell told the UI whatever the UI does with it.
pub async fn record_events(app: &Client, events: &[&str]) -> Result<()> {
    let script = r#"
        const done = arguments[arguments.length - 1];
        const names = arguments[0];
        window.__recorded = window.__recorded || [];
        Promise.all(names.map((name) => window.__TAURI__.event.listen(name, (e) => {
            window.__recorded.push({ event: name, payload: e.payload });
        }))).then(() => done(true), (err) => done(String(err)));
    "#;
    let answer = app.execute_async(script, vec![serde_json::json!(events)]).await?;
    anyhow::ensure!(answer == serde_json::json!(true), "could not listen to {events:?}: {answer}");
    Ok(())
}

/// Waits until a recorded event named `event` has a payload for which `matches` holds.
pub async fn wait_for_event(
    app: &Client,
    event: &str,
    matches: impl Fn(&serde_json::Value) -> bool,
) -> Result<serde_json::Value> {
    let t0 = std::time::Instant::now();
    loop {
        let recorded = app.execute("return window.__recorded || [];", vec![]).await?;
        if let Some(hit) = recorded
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["event"] == event)
            .map(|r| r["payload"].clone())
            .find(|p| matches(p))
        {
            return Ok(hit);
        }
        if t0.elapsed() > WAIT {
            anyhow::bail!("no {event} event as expected within {WAIT:?}; recorded: {recorded}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// With `KEYWAY_SCREENSHOTS_DIR` set (`cargo xtask screenshots`), saves the window as
/// `<dir>/<name>.png`.
pub async fn screenshot(app: &Client, name: &str) -> Result<()> {
    if let Some(dir) = std::env::var_os("KEYWAY_SCREENSHOTS_DIR") {
        // A WebDriver screenshot shows the last painted frame: let two frames paint first. A
        // window the compositor does not draw (covered, or between frames under load) may never
        // run the callbacks: then the frame already painted is taken after a short wait.
        let frames = app.execute_async(
            "const done = arguments[arguments.length - 1]; requestAnimationFrame(() => requestAnimationFrame(() => done()));",
            vec![],
        );
        match tokio::time::timeout(Duration::from_secs(3), frames).await {
            Ok(painted) => {
                painted?;
            }
            Err(_) => println!("screenshot {name}: no animation frame within 3 s; taking the last painted one"),
        }
        let png = match tokio::time::timeout(Duration::from_secs(20), app.screenshot()).await {
            Ok(png) => png?,
            Err(_) => anyhow::bail!("screenshot {name}: the webview gave no picture within 20 s"),
        };
        std::fs::write(PathBuf::from(dir).join(format!("{name}.png")), png)?;
    }
    Ok(())
}

/// The element, waiting for it; on a timeout the error shows what the page shows instead.
pub async fn element(app: &Client, css: &str) -> Result<fantoccini::elements::Element> {
    match app.wait().at_most(WAIT).for_element(Locator::Css(css)).await {
        Ok(el) => Ok(el),
        Err(e) => bail!("waiting for {css}: {e}; the page shows: {}", page_text(app).await),
    }
}

pub async fn count(app: &Client, css: &str) -> Result<usize> {
    Ok(app.find_all(Locator::Css(css)).await?.len())
}

/// Waits until `check` holds, polling the page; on a timeout the error shows the page.
pub async fn until<F, Fut>(app: &Client, what: &str, mut check: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let t0 = Instant::now();
    loop {
        match check().await {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            // The page re-rendered under the query (WebKit: "Stale element found when trying to
            // create the node handle"): look again.
            // The same, as WebKit says it for a node that was replaced meanwhile.
            Err(e)
                if ["stale element", "was not found"].iter().any(|m| format!("{e:#}").to_lowercase().contains(m)) => {}
            Err(e) => return Err(e),
        }
        if t0.elapsed() > WAIT {
            bail!("timed out waiting for {what}; the page shows: {}", page_text(app).await);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Connects the app to `hub` and signs in through the scripted browser.
pub async fn sign_in(app: &Client, hub: &crate::TestHub) -> Result<()> {
    click(app, "#choose-server").await?;
    element(app, "#server-url").await?.send_keys(&hub.url).await?;
    click(app, "#connect").await?;
    click(app, "#sign-in").await?;
    text_of(app, "#user-name").await.context("never reached the signed-in page")?;
    // Read once so that the secret ledger has the refresh token the app stored.
    let _ = crate::keychain_lookup("default/refresh_token");
    Ok(())
}
