//! The desktop app end to end: the real app in the real webview (WebKitGTK under Xvfb), driven
//! by tauri-driver + WebKitWebDriver, signing in through a real hub with a scripted browser and
//! keeping its session in the real Secret Service. Run through `cargo xtask test`.
//!
//! With `KEYWAY_SCREENSHOTS_DIR` set (`cargo xtask screenshots`), it saves the pages it visits.

use anyhow::{Context, Result, ensure};
use fantoccini::Locator;
use keyway_api::Role;
use keyway_e2e::webdriver::{Driver, PASSWORD, WAIT, click, count, element, page_text, screenshot, text_of};
use keyway_e2e::{Sandbox, TestHub, keychain_lookup, keychain_search};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connect_sign_in_restore_and_sign_out_in_the_real_webview() -> Result<()> {
    let hub = TestHub::start(&[("ada", PASSWORD, &[Role::Developer, Role::Reviewer])]).await?;
    let sb = Sandbox::new()?;
    let driver = Driver::for_user(&sb, "ada", &[]).await?;
    let account = "default/refresh_token";

    // First launch: no profile, so the app offers a local hub or a server.
    let app = driver.open_app().await?;
    click(&app, "#choose-server").await?;
    screenshot(&app, "setup").await?;
    app.wait().at_most(WAIT).for_element(Locator::Css("#server-url")).await?.send_keys(&hub.url).await?;
    click(&app, "#connect").await?;

    // Sign in: the scripted browser plays the person on the hub's page.
    app.wait().at_most(WAIT).for_element(Locator::Css("#sign-in")).await?;
    screenshot(&app, "login").await?;
    click(&app, "#sign-in").await?;
    let who = text_of(&app, "#user-name").await.with_context(|| "never reached the signed-in page")?;
    let roles = text_of(&app, "#roles").await?;
    ensure!(who.contains("ada"), "signed-in page shows {who:?}: {}", page_text(&app).await);
    ensure!(
        roles.contains("developer") && roles.contains("reviewer") && !roles.contains("admin"),
        "roles shown: {roles:?}"
    );
    let expiry = text_of(&app, "#session-expiry").await?;
    ensure!(!expiry.is_empty(), "no session expiry shown");
    screenshot(&app, "signed-in").await?;

    // The webview may listen to the app's events and call Keyway's own commands, and nothing
    // else of the core: a window command is refused by the capability.
    let script = r#"
        const done = arguments[arguments.length - 1];
        window.__TAURI__.core.invoke('plugin:window|set_title', { label: 'main', value: 'changed' })
            .then(() => done('allowed'), (err) => done('refused: ' + String(err)));
    "#;
    let answer = app.execute_async(script, vec![]).await?;
    let answer = answer.as_str().unwrap_or_default().to_owned();
    ensure!(answer.starts_with("refused") && answer.contains("not allowed"), "a core window command: {answer}");

    let refresh = keychain_lookup(account)?.context("no refresh token in the keychain after sign-in")?;
    ensure!(keychain_search(account)?.contains(account), "secret-tool search does not list {account}");
    app.close().await?;

    // Restart: the session comes back from the keychain without any click.
    let app = driver.open_app().await?;
    let who = text_of(&app, "#user-name").await.with_context(|| "the session was not restored on restart")?;
    ensure!(who.contains("ada"), "restored page shows {who:?}");
    let rotated = keychain_lookup(account)?.context("keychain entry vanished on restore")?;
    ensure!(rotated != refresh, "the refresh token was not rotated on restore");

    // No token string in any file the app could have written: HOME, XDG dirs, app data dir.
    let leaks = sb.files_containing(&[&refresh, &rotated, "eyJ"])?;
    ensure!(leaks.is_empty(), "token material on disk: {leaks:?}");

    // Sign out: revoked at the hub, gone from the keychain, back on the sign-in page.
    click(&app, "#sign-out").await?;
    app.wait().at_most(WAIT).for_element(Locator::Css("#sign-in")).await?;
    ensure!(keychain_lookup(account)?.is_none(), "the keychain entry survived sign-out");
    let r = reqwest::Client::new()
        .post(format!("{}/oauth/token", hub.url))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", rotated.as_str()), ("client_id", "keyway-desktop")])
        .send()
        .await?;
    ensure!(r.status() == 400, "the signed-out refresh token still works: {}", r.status());

    // Signed in again, the hub goes away; the person changes server from the error page. The
    // old server's refresh token must not stay behind for the next server to be sent.
    click(&app, "#sign-in").await?;
    text_of(&app, "#user-name").await.with_context(|| "second sign-in failed")?;
    ensure!(keychain_lookup(account)?.is_some(), "no keychain entry after the second sign-in");
    app.close().await?;
    hub.stop().await;
    let app = driver.open_app().await?;
    let error = text_of(&app, "#error").await.with_context(|| "no error shown with the hub gone")?;
    ensure!(error.contains("Cannot reach"), "unexpected error: {error:?}");
    click(&app, "#change-server").await?;
    app.wait().at_most(WAIT).for_element(Locator::Css("#choose-server")).await?;
    ensure!(keychain_lookup(account)?.is_none(), "changing server left the old server's token in the keychain");
    app.close().await?;
    drop(driver);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn first_run_with_a_local_hub_creates_the_owner_and_signs_in() -> Result<()> {
    let sb = Sandbox::new()?;
    let driver = Driver::for_user(&sb, "owner", &[]).await?;
    let app = driver.open_app().await?;

    click(&app, "#choose-local").await?;
    // A mismatched confirmation is caught before anything is created.
    let field = |css: &'static str| app.wait().at_most(WAIT).for_element(Locator::Css(css));
    field("#owner-username").await?.send_keys("owner").await?;
    field("#owner-password").await?.send_keys(PASSWORD).await?;
    field("#owner-confirm").await?.send_keys("something else").await?;
    app.wait().at_most(WAIT).for_element(Locator::Css("#password-mismatch")).await?;
    field("#owner-confirm").await?.clear().await?;
    field("#owner-confirm").await?.send_keys(PASSWORD).await?;
    screenshot(&app, "local-hub-setup").await?;
    click(&app, "#create-hub").await?;

    click(&app, "#sign-in").await?;
    let who = text_of(&app, "#user-name").await.with_context(|| "never reached the signed-in page")?;
    ensure!(who.contains("owner"), "signed-in page shows {who:?}");
    let roles = text_of(&app, "#roles").await?;
    for role in ["developer", "reviewer", "auditor", "admin"] {
        ensure!(roles.contains(role), "the owner lacks {role}: {roles:?}");
    }
    ensure!(keychain_lookup("local/refresh_token")?.is_some(), "no keychain entry for the local profile");
    // The embedded hub keeps its database in the app's data dir.
    let data = sb.dir.path().join("data/app.keyway.desktop");
    ensure!(data.join("hub.db").is_file(), "no hub.db in {}", data.display());
    // Its signing key is sealed under a key the app keeps in the OS keychain.
    let hub_key = keychain_lookup("local/hub_key")?.context("no keychain entry for the local hub's key")?;
    let hub_key = keyway_hub::HubKey::parse(&hub_key).context("the local hub's key in the keychain")?;
    let mut db = std::fs::read(data.join("hub.db"))?;
    // The app is running: recent pages may still be in the WAL.
    db.extend(std::fs::read(data.join("hub.db-wal")).unwrap_or_default());
    let sealed_with = hub_key.id();
    ensure!(
        db.windows(sealed_with.len()).any(|w| w == sealed_with.as_bytes()),
        "hub.db names no signing key sealed with the keychain's key {sealed_with}"
    );

    click(&app, "#sign-out").await?;
    app.wait().at_most(WAIT).for_element(Locator::Css("#sign-in")).await?;
    ensure!(keychain_lookup("local/refresh_token")?.is_none(), "the keychain entry survived sign-out");
    app.close().await?;
    Ok(())
}

/// `GET /auth/mode` of the hub at `server`, and its `Keyway-Mode` header.
async fn hub_mode(server: &str) -> Result<(String, Option<String>)> {
    let r = reqwest::get(format!("{}/auth/mode", server.trim_end_matches('/'))).await?;
    let header = r.headers().get("keyway-mode").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body: serde_json::Value = r.json().await?;
    Ok((body["mode"].as_str().unwrap_or_default().to_owned(), header))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn trying_keyway_without_an_account_runs_a_learning_hub_of_its_own_until_left() -> Result<()> {
    let sb = Sandbox::new()?;
    // The learning hub needs no browser; the scripted one (which fills in a form a learning hub
    // does not show) plays the owner of the protected local hub afterwards.
    let driver = Driver::for_user(&sb, "owner", &[]).await?;
    let app = driver.open_app().await?;
    let data = sb.dir.path().join("data/app.keyway.desktop");

    element(&app, "#try-learning").await?;
    screenshot(&app, "setup-learning").await?;
    click(&app, "#try-learning").await?;

    // Signed in at once, as the learner with every role, under the banner.
    let who = text_of(&app, "#user-name").await.with_context(|| "never reached the signed-in page")?;
    ensure!(who.contains("learner"), "signed-in page shows {who:?}");
    let roles = text_of(&app, "#roles").await?;
    for role in ["developer", "reviewer", "auditor", "admin"] {
        ensure!(roles.contains(role), "the learner lacks {role}: {roles:?}");
    }
    let banner = text_of(&app, "#learning-banner").await.context("no learning banner on the session page")?;
    ensure!(banner.contains("Authentication is off") && banner.contains("every role"), "the banner says {banner:?}");
    // A refresh token was issued: the session renews itself, so it carries no such label.
    ensure!(count(&app, "#session-not-renewable").await? == 0, "a renewable session is labelled as not renewable");
    screenshot(&app, "learning-banner").await?;
    for (tab, page) in [
        ("#nav-credentials", "#page-credentials"),
        ("#nav-approvals", "#page-approvals"),
        ("#nav-audit", "#page-audit"),
        ("#nav-admin", "#page-admin"),
        ("#nav-session", "#page-session"),
    ] {
        click(&app, tab).await?;
        element(&app, page).await?;
        ensure!(count(&app, "#learning-banner").await? == 1, "no learning banner on {page}");
        ensure!(count(&app, "#learning-banner [aria-label=Dismiss]").await? == 0, "the banner can be dismissed");
    }

    // A hub in learning mode, in a folder of its own with a key of its own; the refresh token
    // is in the keychain and nowhere on disk.
    let server = text_of(&app, "#server").await?;
    let (mode, header) = hub_mode(&server).await?;
    ensure!(mode == "learning" && header.as_deref() == Some("learning"), "{server} says {mode:?}, {header:?}");
    ensure!(data.join("learning-hub/hub.db").is_file(), "no learning-hub/hub.db in {}", data.display());
    ensure!(!data.join("hub.db").exists(), "the learning hub wrote the local hub's database");
    let key = keychain_lookup("learning/hub_key")?.context("no keychain entry for the learning hub's key")?;
    ensure!(keychain_lookup("local/hub_key")?.as_ref() != Some(&key), "the learning hub has the local hub's key");
    let sealed_with = keyway_hub::HubKey::parse(&key).context("the learning hub's key in the keychain")?.id();
    let mut db = std::fs::read(data.join("learning-hub/hub.db"))?;
    db.extend(std::fs::read(data.join("learning-hub/hub.db-wal")).unwrap_or_default());
    ensure!(
        db.windows(sealed_with.len()).any(|w| w == sealed_with.as_bytes()),
        "the learning hub's signing key is not sealed with its own key {sealed_with}"
    );
    let refresh = keychain_lookup("learning/refresh_token")?.context("no refresh token in the keychain")?;
    let leaks = sb.files_containing(&[&refresh, "eyJ"])?;
    ensure!(leaks.is_empty(), "token material on disk: {leaks:?}");

    // Leaving: back on set-up without the banner; the hub, its folder, key and session gone.
    click(&app, "#leave-learning").await?;
    element(&app, "#try-learning").await?;
    ensure!(count(&app, "#learning-banner").await? == 0, "the banner stayed after leaving learning mode");
    ensure!(!data.join("learning-hub").exists(), "the learning hub's folder survived leaving");
    ensure!(keychain_lookup("learning/hub_key")?.is_none(), "the learning hub's key survived leaving");
    ensure!(keychain_lookup("learning/refresh_token")?.is_none(), "the learner's session survived leaving");
    ensure!(hub_mode(&server).await.is_err(), "the learning hub still answers at {server}");

    // A protected local hub afterwards starts empty (it asks for its owner) and shows no banner.
    click(&app, "#choose-local").await?;
    let field = |css: &'static str| app.wait().at_most(WAIT).for_element(Locator::Css(css));
    field("#owner-username").await.context("the local hub is not new after learning mode")?.send_keys("owner").await?;
    field("#owner-password").await?.send_keys(PASSWORD).await?;
    field("#owner-confirm").await?.send_keys(PASSWORD).await?;
    click(&app, "#create-hub").await?;
    click(&app, "#sign-in").await?;
    let who = text_of(&app, "#user-name").await.with_context(|| "never signed in to the local hub")?;
    ensure!(who.contains("owner"), "signed-in page shows {who:?}");
    let local = text_of(&app, "#server").await?;
    ensure!(hub_mode(&local).await?.0 == "protected", "the local hub at {local} is not protected");
    ensure!(count(&app, "#learning-banner").await? == 0, "a protected local hub shows the learning banner");
    ensure!(!data.join("learning-hub").exists(), "the local hub brought the learning folder back");
    let _ = keychain_lookup("local/refresh_token");
    app.close().await?;
    drop(driver);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_a_secret_service_the_app_names_the_fix_and_stores_nothing() -> Result<()> {
    let hub = TestHub::start(&[("dee", PASSWORD, &[Role::Developer])]).await?;
    let sb = Sandbox::new()?;
    // A profile exists, so the app goes straight for the keychain to restore a session.
    let cfg = sb.dir.path().join("config/keyway");
    std::fs::create_dir_all(&cfg)?;
    std::fs::write(
        cfg.join("config.toml"),
        format!("default_profile = \"default\"\n\n[profiles.default]\nserver = \"{}\"\n", hub.url),
    )?;
    let no_bus = format!("unix:path={}/no-such-bus", sb.dir.path().display());
    let driver = Driver::for_user(&sb, "dee", &[("DBUS_SESSION_BUS_ADDRESS", &no_bus)]).await?;
    let app = driver.open_app().await?;
    let error = text_of(&app, "#error").await.with_context(|| "no error shown without a keychain")?;
    ensure!(
        error.contains("Secret Service") && error.contains("gnome-keyring"),
        "the error does not name the fix: {error:?}"
    );
    screenshot(&app, "no-keychain").await?;
    ensure!(app.find(Locator::Css("#user-name")).await.is_err(), "signed in without a keychain");
    ensure!(sb.files_containing(&["eyJ"])?.is_empty(), "token material on disk");
    app.close().await?;
    drop(driver);
    hub.stop().await;
    Ok(())
}
