//! Driving the desktop app in the real webview: tauri-driver (→ WebKitWebDriver) on free loopback
//! ports, with a sandbox's environment for the app it starts, and small waiting helpers.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};
use fantoccini::{Client, ClientBuilder, Locator};

use crate::{Sandbox, bin, root, wait_for};

pub const PASSWORD: &str = "correct horse battery";
pub const WAIT: Duration = Duration::from_secs(40);

/// tauri-driver on free loopback ports, with the sandbox's environment for the app it starts.
pub struct Driver {
    child: Child,
    pub port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // tauri-driver leads its own process group (WebKitWebDriver, the app, the browser
        // script): end them all, not only the leader.
        if let Ok(pgid) = i32::try_from(self.child.id()) {
            // SAFETY: killpg only sends a signal; the group is the one tauri-driver leads.
            unsafe { libc::killpg(pgid, libc::SIGTERM) };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub async fn start_driver(sb: &Sandbox, user: &str) -> Result<Driver> {
    start_driver_with(sb, user, &[]).await
}

pub async fn start_driver_with(sb: &Sandbox, user: &str, env: &[(&str, &str)]) -> Result<Driver> {
    // The ports are picked free, then handed over: another test may take one in between, so a
    // driver that does not come up is retried on fresh ports.
    let mut last = None;
    for _ in 0..3 {
        match try_start_driver(sb, user, env).await {
            Ok(d) => return Ok(d),
            Err(e) => last = Some(e),
        }
    }
    Err(last.expect("three attempts"))
}

pub async fn try_start_driver(sb: &Sandbox, user: &str, env: &[(&str, &str)]) -> Result<Driver> {
    let (port, native) = (free_port()?, free_port()?);
    let tauri_driver = which("tauri-driver").context("tauri-driver is not installed: run `cargo xtask setup`")?;
    let mut cmd = sb.command(&tauri_driver);
    cmd.envs(env.iter().copied());
    let child = cmd
        .args(["--port", &port.to_string(), "--native-port", &native.to_string()])
        .env("BROWSER", root().join("tests/support/scripted-browser.sh"))
        .env("KEYWAY_TEST_USER", user)
        .env("KEYWAY_TEST_PASSWORD", PASSWORD)
        .env("KEYWAY_LOGIN_TIMEOUT_SECS", "60")
        // No accessibility bus: GTK would start one that outlives the test.
        .env("NO_AT_BRIDGE", "1")
        // Driver, WebKit and app output go to a file: nothing outlives the test on its pipes.
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(sb.dir.path().join("tauri-driver.log"))?)
        .process_group(0)
        .spawn()?;
    let driver = Driver { child, port };
    // Ready when the WebDriver status endpoint answers through tauri-driver (which proxies to
    // WebKitWebDriver): an open port alone is not enough.
    let http = reqwest::Client::new();
    wait_for("tauri-driver", Duration::from_secs(30), || {
        let http = http.clone();
        async move {
            let r = http.get(format!("http://127.0.0.1:{port}/status")).send().await;
            match r {
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

pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

/// Start the app (a new WebDriver session starts a new app process).
pub async fn open_app(driver: &Driver) -> Result<Client> {
    open_app_at(driver, &bin("keyway-desktop")).await
}

/// Start the app binary at `application` (e.g. an installed copy).
pub async fn open_app_at(driver: &Driver, application: &std::path::Path) -> Result<Client> {
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), "wry".into());
    caps.insert("tauri:options".into(), serde_json::json!({ "application": application }));
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .context("starting the app through tauri-driver")?;
    Ok(client)
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

pub async fn screenshot(app: &Client, name: &str) -> Result<()> {
    if let Some(dir) = std::env::var_os("KEYWAY_SCREENSHOTS_DIR") {
        // A WebDriver screenshot shows the last painted frame: let two frames paint first.
        app.execute_async(
            "const done = arguments[arguments.length - 1]; requestAnimationFrame(() => requestAnimationFrame(() => done()));",
            vec![],
        )
        .await?;
        let png = app.screenshot().await?;
        std::fs::write(PathBuf::from(dir).join(format!("{name}.png")), png)?;
    }
    Ok(())
}

/// The page's text, for assertion messages.
pub async fn page_text(app: &Client) -> String {
    match app.find(Locator::Css("body")).await {
        Ok(b) => b.text().await.unwrap_or_default(),
        Err(e) => format!("<no body: {e}>"),
    }
}
