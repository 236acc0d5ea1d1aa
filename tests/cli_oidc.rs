//! `keyway login --issuer … --client-id …` at another OpenID provider than a Keyway hub: the real
//! oidc-provider (OpenID Certified) with a public native client, signed in through its own pages
//! by `tests/support/oidc-browser.sh` as `$BROWSER`, the session kept in the real Secret Service.
//! Run through `cargo xtask test`.

use std::process::{Command, Output};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, ensure};
use keyway_e2e::idp::{OpenIdProvider, RefreshTokens, oidc_browser};
use keyway_e2e::{ANY_JWT, Sandbox, bin, keychain_lookup, output_within, wait_for};
use serde_json::Value;

const CLIENT_ID: &str = "keyway-cli";

fn keyway(sb: &Sandbox) -> Command {
    sb.command(&bin("keyway"))
}

/// A profile name no other test uses, so parallel tests never share a keychain entry.
fn profile(tag: &str) -> String {
    format!("t-{tag}-{}", std::process::id())
}

/// `keyway … --profile p`, killed (and failed) if it takes over a minute.
fn run(sb: &Sandbox, p: &str, args: &[&str]) -> Result<Output> {
    output_within(keyway(sb).args(args).args(["--profile", p]), Duration::from_secs(60))
}

/// `keyway login --issuer … --client-id …`, the browser signing in at the provider as `user`.
fn login(sb: &Sandbox, idp: &OpenIdProvider, p: &str, user: &str, extra: &[&str]) -> Result<Output> {
    let mut cmd = keyway(sb);
    cmd.args(["login", "--issuer", &idp.url, "--client-id", CLIENT_ID, "--profile", p])
        .args(extra)
        .env("BROWSER", oidc_browser())
        .env("KEYWAY_TEST_USER", user);
    output_within(&mut cmd, Duration::from_secs(120))
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn json_of(out: &Output) -> Result<Value> {
    serde_json::from_slice(&out.stdout).with_context(|| format!("not JSON: {}", text(out)))
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Polls the clock until `unix` has passed (the access token's end, known to the second).
async fn until_past(unix: i64) -> Result<()> {
    let left = u64::try_from(unix - now()).unwrap_or(0);
    wait_for("the access token's expiry", Duration::from_secs(left + 10), || async move { now() > unix }).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oidc_login_at_a_provider_that_issues_refresh_tokens_only_with_consent_keeps_a_renewable_session() -> Result<()>
{
    let idp = OpenIdProvider::start(CLIENT_ID, RefreshTokens::WithConsent, 3).await?;
    idp.account("ada", "ada").await?;
    let discovery = idp.discovery().await?;
    ensure!(discovery["scopes_supported"].to_string().contains("offline_access"), "{discovery}");
    let sb = Sandbox::new()?;
    let p = profile("oidc-consent");
    let account = format!("{p}/refresh_token");

    let out = login(&sb, &idp, &p, "ada", &["--json"])?;
    ensure!(out.status.success(), "login failed: {}", text(&out));
    let v = json_of(&out)?;
    ensure!(v["username"] == "ada" && v["renewable"] == true, "{v}");
    let first_expiry = v["access_expires_at"].as_i64().context("no access_expires_at")?;
    let refresh = keychain_lookup(&account)?.context("no refresh token in the keychain after login")?;
    ensure!(keychain_lookup(&format!("{p}/access_token"))?.is_none(), "a renewable session kept its access token");
    let leaks = sb.files_containing(&[&refresh, ANY_JWT])?;
    ensure!(leaks.is_empty(), "token material on disk: {leaks:?}");

    // Once the access token has expired, a fresh process renews it with the refresh grant; the
    // provider rotates refresh tokens of public clients, and the new one replaces the old.
    until_past(first_expiry).await?;
    let who = run(&sb, &p, &["whoami", "--json"])?;
    ensure!(who.status.success(), "whoami after the access token expired: {}", text(&who));
    let v = json_of(&who)?;
    ensure!(v["username"] == "ada" && v["renewable"] == true, "{v}");
    ensure!(v["access_expires_at"].as_i64().is_some_and(|t| t > first_expiry), "not a new access token: {v}");
    let rotated = keychain_lookup(&account)?.context("the refresh token vanished after whoami")?;
    ensure!(rotated != refresh, "the refresh grant did not run (the refresh token was not rotated)");

    // logout revokes at the provider and empties the keychain.
    let bye = run(&sb, &p, &["logout", "--json"])?;
    ensure!(bye.status.success(), "logout: {}", text(&bye));
    let v = json_of(&bye)?;
    ensure!(v["revoked_at_server"] == true && v["removed_from_keychain"] == true, "{v}");
    ensure!(keychain_lookup(&account)?.is_none(), "the refresh token survived logout");
    let token_endpoint = discovery["token_endpoint"].as_str().context("no token_endpoint")?;
    let refused = reqwest::Client::new()
        .post(token_endpoint)
        .form(&[("grant_type", "refresh_token"), ("refresh_token", rotated.as_str()), ("client_id", CLIENT_ID)])
        .send()
        .await?;
    ensure!(refused.status() == 400, "the revoked refresh token still works: {}", refused.status());
    idp.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oidc_login_at_a_provider_that_issues_no_refresh_token_lasts_as_long_as_the_access_token() -> Result<()> {
    let idp = OpenIdProvider::start(CLIENT_ID, RefreshTokens::Never, 10).await?;
    idp.account("bo", "bo").await?;
    let userinfo = idp.discovery().await?["userinfo_endpoint"].as_str().context("no userinfo_endpoint")?.to_owned();
    let sb = Sandbox::new()?;
    let p = profile("oidc-norefresh");
    let account = format!("{p}/access_token");

    // The sign-in succeeds and says when it ends, and why.
    let out = login(&sb, &idp, &p, "bo", &[])?;
    ensure!(out.status.success(), "login failed: {}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    ensure!(said.contains("Signed in as") && said.contains("no refresh token"), "{said}");
    ensure!(keychain_lookup(&format!("{p}/refresh_token"))?.is_none(), "a refresh token in the keychain");
    let stored: Value = serde_json::from_str(&keychain_lookup(&account)?.context("no access token in the keychain")?)?;
    let token = stored["access_token"].as_str().context("no access_token in the entry")?.to_owned();
    let ends = stored["expires_at"].as_i64().context("no expires_at in the entry")?;
    ensure!(said.contains(&keyway_client::time::utc(ends)), "login did not say the session ends at {ends}: {said}");
    let leaks = sb.files_containing(&[&token])?;
    ensure!(leaks.is_empty(), "the access token is on disk: {leaks:?}");

    // While the access token lives, commands use it; whoami shows when the session ends.
    let who = run(&sb, &p, &["whoami", "--json"])?;
    ensure!(who.status.success(), "whoami while the access token lives: {}", text(&who));
    let v = json_of(&who)?;
    ensure!(v["username"] == "bo" && v["renewable"] == false, "{v}");
    ensure!(v["session_expires_at"] == ends && v["access_expires_at"] == ends, "{v}");
    let who = run(&sb, &p, &["whoami"])?;
    ensure!(who.status.success() && text(&who).contains("no refresh token"), "whoami: {}", text(&who));

    // Then the session has ended: a coded, readable error and a non-zero exit, and the dead entry goes.
    until_past(ends).await?;
    let late = run(&sb, &p, &["whoami", "--json"])?;
    ensure!(!late.status.success(), "whoami after the access token expired succeeded: {}", text(&late));
    let v = json_of(&late)?;
    let message = v["message"].as_str().unwrap_or_default();
    ensure!(v["error"] == "session_ended", "{v}");
    ensure!(message.contains("session has ended") && message.contains("keyway login"), "{v}");
    ensure!(message.contains("no refresh token"), "{v}");
    ensure!(keychain_lookup(&account)?.is_none(), "the expired access token was left in the keychain");
    let late = run(&sb, &p, &["whoami"])?;
    ensure!(!late.status.success() && text(&late).contains("keyway login"), "{}", text(&late));
    ensure!(!text(&late).contains("panicked"), "{}", text(&late));
    let bye = run(&sb, &p, &["logout"])?;
    ensure!(bye.status.success(), "logout after the end: {}", text(&bye));
    ensure!(keychain_lookup(&account)?.is_none(), "an entry after logout");

    // A live session of this kind: logout revokes its access token and removes it.
    let out = login(&sb, &idp, &p, "bo", &["--json"])?;
    ensure!(out.status.success(), "second login failed: {}", text(&out));
    let stored: Value = serde_json::from_str(&keychain_lookup(&account)?.context("no access token after login")?)?;
    let token = stored["access_token"].as_str().context("no access_token in the entry")?.to_owned();
    let bye = run(&sb, &p, &["logout", "--json"])?;
    ensure!(bye.status.success(), "logout: {}", text(&bye));
    let v = json_of(&bye)?;
    ensure!(v["revoked_at_server"] == true && v["removed_from_keychain"] == true, "{v}");
    ensure!(keychain_lookup(&account)?.is_none(), "the access token survived logout");
    let after = reqwest::Client::new().get(&userinfo).bearer_auth(&token).send().await?;
    ensure!(after.status() == 401, "the access token still works after logout: {}", after.status());
    idp.stop().await;
    Ok(())
}
