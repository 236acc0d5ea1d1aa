//! "Approve a device" in the real webview: a device's sign-in (RFC 8628) started at the hub,
//! its code opened from a `keyway://device?code=…` link, shown with its client, address and time,
//! refused to a key and approved only by a click. Run through `cargo xtask test`.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Result, bail, ensure};
use fantoccini::Client;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use keyway_api::Role;
use keyway_api::clients::{DeviceAuthorization, GRANT_DEVICE_CODE};
use keyway_e2e::webdriver::{Driver, PASSWORD, click, count, element, screenshot, sign_in, text_of, until};
use keyway_e2e::{Sandbox, TestHub, bin};
use serde_json::Value;

/// A second `keyway-desktop <link>`: it hands the link to the running app and exits.
fn open_link(sb: &Sandbox, link: &str) -> Result<()> {
    let mut child = sb.command(&bin("keyway-desktop")).arg(link).stdout(Stdio::null()).stderr(Stdio::null()).spawn()?;
    let t0 = std::time::Instant::now();
    while child.try_wait()?.is_none() {
        if t0.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            bail!("the second launch with {link} did not hand it over and exit");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Presses keys as a person does (WebDriver key actions, not synthetic DOM events).
async fn press(app: &Client, keys: &str) -> Result<()> {
    let mut actions = KeyActions::new("keyboard".into());
    for c in keys.chars() {
        actions = actions.then(KeyAction::Down { value: c }).then(KeyAction::Up { value: c });
    }
    app.perform_actions(actions).await?;
    Ok(())
}

/// One poll of the token endpoint as the device: its status and body.
async fn poll(hub: &TestHub, device: &DeviceAuthorization) -> Result<(u16, Value)> {
    let resp = reqwest::Client::new()
        .post(format!("{}/oauth/token", hub.url))
        .form(&[
            ("grant_type", GRANT_DEVICE_CODE),
            ("device_code", device.device_code.as_str()),
            ("client_id", keyway_api::DESKTOP_CLIENT_ID),
        ])
        .send()
        .await?;
    Ok((resp.status().as_u16(), resp.json().await?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_device_code_from_a_link_is_shown_refused_to_keys_and_approved_by_a_click() -> Result<()> {
    let hub = TestHub::start(&[("ada", PASSWORD, &[Role::Developer])]).await?;
    let sb = Sandbox::new()?;
    let driver = Driver::for_user(&sb, "ada", &[]).await?;
    let app = driver.open_app().await?;
    sign_in(&app, &hub).await?;

    // A code typed by hand that no device asked with: refused in words.
    click(&app, "#device-open").await?;
    element(&app, "#device-code").await?.send_keys("BCDF-GHJK").await?;
    click(&app, "#device-lookup").await?;
    let refusal = text_of(&app, "#device-dialog .banner-text").await?;
    ensure!(refusal.contains("No device sign-in is waiting for BCDF-GHJK"), "{refusal}");
    screenshot(&app, "device-wrong-code").await?;
    press(&app, "\u{E00C}").await?; // Escape closes the dialog.
    until(&app, "the dialog to close", || async { Ok(count(&app, "#device-dialog").await? == 0) }).await?;

    // A device asks; its link opens the dialog with what asks, and approves nothing.
    let started = reqwest::Client::new()
        .post(format!("{}/oauth/device_authorization", hub.url))
        .form(&[("client_id", keyway_api::DESKTOP_CLIENT_ID), ("scope", "openid offline_access")])
        .send()
        .await?;
    ensure!(started.status().is_success(), "device authorization: {}", started.status());
    let device: DeviceAuthorization = started.json().await?;
    open_link(&sb, &format!("keyway://device?code={}", device.user_code))?;
    ensure!(text_of(&app, "#device-client").await? == "Keyway Desktop", "the client is not shown");
    ensure!(text_of(&app, "#device-address").await? == "127.0.0.1", "the address is not shown");
    ensure!(!text_of(&app, "#device-asked").await?.is_empty(), "the time is not shown");
    ensure!(text_of(&app, "#device-user-code").await? == device.user_code, "another code is shown");
    screenshot(&app, "device-approve").await?;

    // Keys never approve: Enter and Space on the focused Approve button are refused.
    app.execute("document.getElementById('device-approve').focus();", vec![]).await?;
    press(&app, "\u{E007} ").await?;
    element(&app, "#device-keyed").await?;
    let (status, body) = poll(&hub, &device).await?;
    ensure!(status == 400 && body["error"] == "authorization_pending", "approved without a click: {status} {body}");

    // A click does.
    click(&app, "#device-approve").await?;
    ensure!(text_of(&app, "#device-done").await?.contains("Approved"), "no approval shown");
    let mut last = Value::Null;
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_secs(6)).await;
        let (status, body) = poll(&hub, &device).await?;
        if status == 200 {
            ensure!(body["refresh_token"].is_string(), "{body}");
            app.close().await?;
            drop(driver);
            hub.stop().await;
            return Ok(());
        }
        ensure!(matches!(body["error"].as_str(), Some("slow_down")), "{status} {body}");
        last = body;
    }
    bail!("the approved device got no tokens: {last}")
}
