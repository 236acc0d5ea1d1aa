//! The installed package end to end: the .deb that `cargo xtask test` has just bundled
//! (`KEYWAY_DEB`) is installed with apt, its desktop entry and URL schemes are checked through
//! xdg-mime, the installed binary runs in the real webview under tauri-driver, signs in with the
//! deep-link redirect (the scripted browser hands the hub's answer to the desktop with
//! `xdg-open`, which starts a second Keyway that forwards it to the first), follows `keyway://`
//! links opened with `xdg-open`, refuses a forged sign-in answer, and finally the package is
//! purged and must leave nothing behind but the person's own files.
//!
//! Installing needs root or password-less sudo (as `cargo xtask setup` does for apt).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, ensure};
use fantoccini::{Client, Locator};
use keyway_api::Role;
use keyway_api::desktop::{EVENT_NAVIGATE, EVENT_NOTICE};
use keyway_e2e::webdriver::{Driver, WAIT, click, page_text, record_events, wait_for_event};
use keyway_e2e::{Sandbox, TestHub, keychain_lookup, output_within, root};

const PASSWORD: &str = "correct horse battery";
const PACKAGE: &str = "keyway";
const INSTALLED_BIN: &str = "/usr/bin/keyway-desktop";
const DESKTOP_FILE: &str = "Keyway.desktop";

/// The .deb to install: `KEYWAY_DEB`, else the one `cargo xtask bundle --debug` leaves.
fn deb_path() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("KEYWAY_DEB") {
        return Ok(PathBuf::from(p));
    }
    let dir = root().join("target/bundle/debug");
    std::fs::read_dir(&dir)
        .with_context(|| format!("no {}: run the tests with `cargo xtask test`, which bundles first", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .with_context(|| format!("no .deb in {}", dir.display()))
}

/// How long an apt call may take, including a wait for the package lock that another apt
/// (a machine's daily update, say) may hold.
const APT: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs apt-get as root (directly, or through password-less sudo), within [`APT`].
fn apt_get(args: &[&str]) -> Result<String> {
    let root = unsafe { libc::geteuid() } == 0;
    let mut c = if root { Command::new("apt-get") } else { Command::new("sudo") };
    if !root {
        c.args(["-n", "apt-get"]);
    }
    c.args(["-o", "DPkg::Lock::Timeout=40"]).args(args).env("DEBIAN_FRONTEND", "noninteractive");
    let out = output_within(&mut c, APT)?;
    ensure!(
        out.status.success(),
        "apt-get {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A helper program's trimmed stdout; each has [`HELPER`] to answer.
fn stdout(cmd: &mut Command) -> Result<String> {
    let out = output_within(cmd, HELPER)?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

const HELPER: std::time::Duration = std::time::Duration::from_secs(20);

/// Where the test is, with the time since it began, so a test that runs out of time shows
/// how far it got.
fn step(what: &str) {
    static T0: std::sync::LazyLock<std::time::Instant> = std::sync::LazyLock::new(std::time::Instant::now);
    eprintln!("[{:6.1} s] {what}", T0.elapsed().as_secs_f64());
}

/// The files (not directories) the package ships, as absolute paths.
fn shipped_files(deb: &Path) -> Result<Vec<PathBuf>> {
    let listing = stdout(Command::new("dpkg-deb").arg("--contents").arg(deb))?;
    Ok(listing
        .lines()
        .filter(|l| !l.starts_with('d'))
        .filter_map(|l| l.split_whitespace().last())
        .map(|p| Path::new("/").join(p.trim_start_matches("./")))
        .collect())
}

/// Purges the package when the test ends, passed or failed.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        if let Err(e) = apt_get(&["purge", "-y", "-qq", PACKAGE]) {
            eprintln!("could not purge {PACKAGE}: {e:#}");
        }
    }
}

/// `xdg-open <url>` as the desktop would run it, in the sandbox. BROWSER is
/// `tests/support/no-browser.sh`, so xdg-open never falls back to a real web browser (which
/// would not return) when it finds no handler. With no desktop environment xdg-open waits for
/// the handler, which for a second Keyway exits as soon as the running one took the URL; one
/// that does not within [`HANDOVER`] fails the test instead of holding it.
async fn xdg_open(sb: &Sandbox, url: &str) -> Result<()> {
    let errors = sb.dir.path().join("xdg-open.err");
    let mut child = sb
        .command(Path::new("xdg-open"))
        .arg(url)
        .env("BROWSER", root().join("tests/support/no-browser.sh"))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&errors)?)
        // Its own group, so a handler that hangs goes with it.
        .process_group(0)
        .spawn()
        .context("running xdg-open (apt install xdg-utils)")?;
    let t0 = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if t0.elapsed() > HANDOVER {
            if let Ok(pgid) = i32::try_from(child.id()) {
                // SAFETY: killpg only sends a signal, to the group this xdg-open leads.
                unsafe { libc::killpg(pgid, libc::SIGKILL) };
            }
            let _ = child.kill();
            let _ = child.wait();
            anyhow::bail!(
                "xdg-open {url} did not return within {HANDOVER:?}: the second Keyway did not hand it over; \
                 it said: {}",
                std::fs::read_to_string(&errors).unwrap_or_default().trim()
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    ensure!(
        status.success(),
        "xdg-open {url} failed ({status}): {}",
        std::fs::read_to_string(&errors).unwrap_or_default().trim()
    );
    Ok(())
}

/// How long a second launch may take to hand its URL to the running app and exit.
const HANDOVER: std::time::Duration = std::time::Duration::from_secs(30);
/// The whole desktop part of the test; below nextest's limit, so a hang still reports the page
/// and the app's log, and the package is still purged.
const BUDGET: std::time::Duration = std::time::Duration::from_secs(170);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_installed_package_signs_in_through_the_deep_link_and_follows_links() -> Result<()> {
    step("start");
    let deb = deb_path()?;
    apt_get(&["install", "-y", "-qq", "--reinstall", deb.to_str().context("path")?])?;
    step("installed");
    let installed = Installed;
    let files = shipped_files(&deb)?;

    // What the package put on the system: the binary, its menu entry and icons.
    for expected in [INSTALLED_BIN, &format!("/usr/share/applications/{DESKTOP_FILE}")] {
        ensure!(files.iter().any(|f| f == Path::new(expected)), "the package does not ship {expected}: {files:?}");
        ensure!(Path::new(expected).is_file(), "{expected} is not installed");
    }
    ensure!(
        files.iter().any(|f| f.starts_with("/usr/share/icons/hicolor") && f.ends_with("apps/keyway-desktop.png")),
        "no icon in the package: {files:?}"
    );
    let entry = std::fs::read_to_string(format!("/usr/share/applications/{DESKTOP_FILE}"))?;
    ensure!(entry.lines().any(|l| l == "Icon=keyway-desktop"), "menu entry without the icon:\n{entry}");
    let exec = entry.lines().find_map(|l| l.strip_prefix("Exec=")).context("no Exec line")?;
    ensure!(exec.split_whitespace().any(|w| w == "%u"), "Exec does not pass the URL (%u): {exec}");
    let mime = entry.lines().find_map(|l| l.strip_prefix("MimeType=")).context("no MimeType line")?;
    let validate = output_within(
        Command::new("desktop-file-validate").arg(format!("/usr/share/applications/{DESKTOP_FILE}")),
        HELPER,
    )?;
    ensure!(validate.status.success(), "desktop-file-validate: {}", String::from_utf8_lossy(&validate.stdout));

    step("the package's files and menu entry are right");
    let sb = Sandbox::new()?;
    for scheme in ["keyway", "app.keyway.desktop"] {
        ensure!(mime.split(';').any(|m| m == format!("x-scheme-handler/{scheme}")), "{scheme} not in MimeType={mime}");
        let handler = stdout(sb.command(Path::new("xdg-mime")).args([
            "query",
            "default",
            &format!("x-scheme-handler/{scheme}"),
        ]))?;
        ensure!(handler == DESKTOP_FILE, "xdg-mime names {handler:?} for {scheme}, not {DESKTOP_FILE}");
    }

    // A profile that signs in through the deep link.
    let hub = TestHub::start(&[("ada", PASSWORD, &[Role::Developer, Role::Reviewer])]).await?;
    let cfg = sb.dir.path().join("config/keyway");
    std::fs::create_dir_all(&cfg)?;
    std::fs::write(
        cfg.join("config.toml"),
        format!(
            "default_profile = \"default\"\n\n[profiles.default]\nserver = \"{}\"\nredirect = \"deep-link\"\n",
            hub.url
        ),
    )?;
    let browser = root().join("tests/support/scripted-browser.sh");
    let env = [
        ("BROWSER", browser.to_str().context("path")?),
        ("KEYWAY_TEST_USER", "ada"),
        ("KEYWAY_TEST_PASSWORD", PASSWORD),
        ("KEYWAY_LOGIN_TIMEOUT_SECS", "60"),
    ];
    step("hub up; starting tauri-driver");
    let driver = Driver::start(&sb, &env, "tauri-driver.log").await?;
    step("opening the installed app");
    let app = driver.open(Path::new(INSTALLED_BIN)).await?;
    step("window open");
    let result = tokio::time::timeout(BUDGET, async {
        drive(&app, &sb).await?;
        window_is_remembered(&driver, &app, &sb).await
    })
    .await
    .unwrap_or_else(|_| Err(anyhow::anyhow!("the installed app did not finish within {BUDGET:?}")));
    if result.is_err() {
        let page = tokio::time::timeout(std::time::Duration::from_secs(10), page_text(&app)).await;
        eprintln!("page: {}", page.unwrap_or_else(|_| "(the webview does not answer)".into()));
        eprintln!("log: {}", std::fs::read_to_string(sb.dir.path().join("tauri-driver.log")).unwrap_or_default());
    }
    step("desktop part done; closing");
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), app.close()).await;
    drop(driver);
    hub.stop().await;
    result?;

    // Uninstall: nothing the package shipped is left, the schemes are no longer handled, and
    // the person's own files (profile, window state) stay.
    step("purging");
    drop(installed);
    let left: Vec<_> = files.iter().filter(|f| f.exists()).collect();
    ensure!(left.is_empty(), "left behind after purge: {left:?}");
    let status = stdout(Command::new("dpkg-query").args(["-W", "-f=${Status}", PACKAGE]))?;
    ensure!(!status.contains("installed") || status.contains("not-installed"), "still installed: {status}");
    for scheme in ["keyway", "app.keyway.desktop"] {
        let handler = stdout(sb.command(Path::new("xdg-mime")).args([
            "query",
            "default",
            &format!("x-scheme-handler/{scheme}"),
        ]))?;
        ensure!(handler.is_empty(), "{scheme} still handled by {handler:?} after purge");
    }
    ensure!(cfg.join("config.toml").is_file(), "the person's profile went with the package");
    Ok(())
}

/// Waits until the notice banner (`#app-notice`) shows `text`, reading it afresh each time (the
/// UI may re-render it).
async fn banner_says(app: &Client, text: &str) -> Result<()> {
    let t0 = std::time::Instant::now();
    loop {
        let shown = match app.find(Locator::Css("#app-notice")).await {
            Ok(banner) => banner.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if shown.contains(text) {
            return Ok(());
        }
        ensure!(t0.elapsed() < WAIT, "the banner shows {shown:?}, not {text:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Waits until the page shows an element matching `css`.
async fn shown(app: &Client, css: &str) -> Result<()> {
    app.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .with_context(|| format!("the app does not show {css}"))?;
    Ok(())
}

/// The window comes back at the size it was left at (tauri-plugin-window-state).
async fn window_is_remembered(driver: &Driver, app: &Client, sb: &Sandbox) -> Result<()> {
    step("window size");
    let size: (u32, u32) = (820, 610);
    app.set_window_size(size.0, size.1).await?;
    ensure!(
        app.get_window_size().await? == (size.0.into(), size.1.into()),
        "the window did not take the size {size:?}"
    );
    // Written shortly after the change, so even an app that is killed (as tauri-driver ends it)
    // comes back at that size.
    let state = sb.dir.path().join("config/app.keyway.desktop/.window-state.json");
    keyway_e2e::wait_for("the window state file with the new size", WAIT, || {
        let text = std::fs::read_to_string(&state).unwrap_or_default().replace(' ', "");
        async move { text.contains("\"width\":820") && text.contains("\"height\":610") }
    })
    .await?;
    app.clone().close().await?;
    step("reopening");
    let again = driver.open(Path::new(INSTALLED_BIN)).await?;
    // The saved size is applied as the window is made, but the X server confirms it
    // asynchronously: read it until it shows (or WAIT passes).
    let wanted = (u64::from(size.0), u64::from(size.1));
    let t0 = std::time::Instant::now();
    let restored = loop {
        match again.get_window_size().await {
            Ok(got) if got == wanted || t0.elapsed() > WAIT => break Ok(got),
            Ok(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
            Err(e) => break Err(e),
        }
    };
    let _ = again.close().await;
    let restored = restored?;
    ensure!(
        restored == wanted,
        "the window came back at {restored:?}, not {size:?}; the saved state: {}",
        std::fs::read_to_string(&state).unwrap_or_default()
    );
    Ok(())
}

async fn drive(app: &Client, sb: &Sandbox) -> Result<()> {
    let account = "default/refresh_token";
    record_events(app, &[EVENT_NAVIGATE, EVENT_NOTICE]).await?;

    // Sign in: the hub's answer comes back through xdg-open and a second launch.
    step("sign in");
    click(app, "#sign-in").await?;
    // Found by content: the page re-renders when the shell moves it to the session page.
    shown(app, "#page-session").await?;
    app.wait()
        .at_most(WAIT)
        .for_element(Locator::XPath("//*[@id='user-name'][contains(., 'ada')]"))
        .await
        .with_context(|| "never signed in as ada")?;
    wait_for_event(app, EVENT_NAVIGATE, |p| p["page"] == "session").await.context("no move to the session page")?;
    let token = keychain_lookup(account)?.context("no refresh token in the keychain after the deep-link sign-in")?;

    // A link opened by the desktop reaches the running app.
    step("signed in; following links");
    xdg_open(sb, "keyway://approvals/rq-42").await?;
    wait_for_event(app, EVENT_NAVIGATE, |p| p["page"] == "approvals" && p["id"] == "rq-42").await?;
    shown(app, "#page-approvals[data-selected='rq-42']").await?;
    xdg_open(sb, "keyway://credentials").await?;
    wait_for_event(app, EVENT_NAVIGATE, |p| p["page"] == "credentials").await?;
    shown(app, "#page-credentials").await?;
    xdg_open(sb, "keyway://approvals").await?;
    wait_for_event(app, EVENT_NAVIGATE, |p| p["page"] == "approvals" && p.get("id").is_none()).await?;
    shown(app, "#page-approvals").await?;

    // A forged sign-in answer (no sign-in is waiting, wrong state) is refused visibly and
    // changes nothing.
    step("a forged sign-in answer");
    xdg_open(sb, "app.keyway.desktop:/oauth/callback?code=forged-code&state=forged-state").await?;
    let notice = wait_for_event(app, EVENT_NOTICE, |p| p.as_str().is_some_and(|s| s.contains("ignored"))).await?;
    let notice = notice.as_str().unwrap_or_default().to_owned();
    banner_says(app, &notice).await?;
    ensure!(keychain_lookup(account)? == Some(token), "a forged answer changed the stored session");
    // Still signed in as ada after all of this.
    xdg_open(sb, "keyway://session").await?;
    app.wait()
        .at_most(WAIT)
        .for_element(Locator::XPath("//*[@id='page-session']//*[@id='user-name'][contains(., 'ada')]"))
        .await
        .context("no longer signed in as ada")?;

    // A link to nowhere.
    step("a link to nowhere");
    xdg_open(sb, "keyway://nowhere/7").await?;
    wait_for_event(app, EVENT_NOTICE, |p| p.as_str().is_some_and(|s| s.starts_with("Link not understood"))).await?;
    app.wait()
        .at_most(WAIT)
        .for_element(Locator::XPath("//*[@id='app-notice'][contains(., 'Link not understood')]"))
        .await
        .context("the banner does not say the link was not understood")?;
    Ok(())
}
