//! Another OpenID provider than a Keyway hub, for the CLI's `--issuer` sign-in: node's
//! `oidc-provider` (OpenID Certified, pinned, installed by `cargo xtask setup` under
//! `~/.cache/keyway-oidc-provider`, or named by `KEYWAY_OIDC_PROVIDER`), run from the hub's SSO
//! test script `crates/hub/tests/sso/provider.mjs` on 127.0.0.1 with one public native client.
//! [`oidc_browser`] signs in at its pages.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader};

use crate::root;

/// Where the pinned `oidc-provider` package is.
fn module_dir() -> Result<PathBuf> {
    let dir = match std::env::var_os("KEYWAY_OIDC_PROVIDER") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
            .join(".cache/keyway-oidc-provider/node_modules/oidc-provider"),
    };
    ensure!(
        dir.join("lib/index.js").is_file(),
        "these tests need npm's oidc-provider at {} (run `cargo xtask setup`, or set KEYWAY_OIDC_PROVIDER to \
         the package's directory)",
        dir.display()
    );
    Ok(dir)
}

/// The browser script that signs in at the provider's pages (`$BROWSER`, with
/// `KEYWAY_TEST_USER` naming the account).
pub fn oidc_browser() -> PathBuf {
    root().join("tests/support/oidc-browser.sh")
}

/// When the provider issues refresh tokens to its native client.
#[derive(Clone, Copy, Debug)]
pub enum RefreshTokens {
    /// As OIDC Core §11 says: for `offline_access`, only when the request has `prompt=consent`
    /// (oidc-provider's own rule).
    WithConsent,
    /// Never, whatever is asked.
    Never,
}

/// One running provider; killed when dropped.
pub struct OpenIdProvider {
    pub url: String,
    child: tokio::process::Child,
}

impl OpenIdProvider {
    /// Starts the provider with one public native client `client_id` (loopback redirect on any
    /// port, PKCE, `offline_access` offered) whose access tokens live `access_ttl` seconds.
    pub async fn start(client_id: &str, refresh: RefreshTokens, access_ttl: u64) -> Result<OpenIdProvider> {
        let script = root().join("crates/hub/tests/sso/provider.mjs");
        let mut child = tokio::process::Command::new("node")
            .arg(script)
            .env("KEYWAY_OIDC_PROVIDER", module_dir()?)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("start node (these tests need Node.js; `cargo xtask setup` installs it)")?;
        let stdout = child.stdout.take().context("piped stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .context("the OpenID provider did not start within 60 s")??
            .context("the OpenID provider exited before listening")?;
        let Some(url) = line.strip_prefix("listening ") else { bail!("not a 'listening URL' line: {line}") };
        let url = url.trim().to_owned();
        // The provider logs to stdout too: keep reading, or its next line fails (EPIPE) and it exits.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let idp = OpenIdProvider { url, child };
        let refresh = match refresh {
            RefreshTokens::WithConsent => "consent",
            RefreshTokens::Never => "never",
        };
        idp.post(
            "/_test/setup",
            json!({"client_id": client_id, "native": true, "refresh": refresh, "access_ttl": access_ttl}),
        )
        .await?;
        Ok(idp)
    }

    async fn post(&self, path: &str, body: Value) -> Result<()> {
        let resp = reqwest::Client::new().post(format!("{}{path}", self.url)).json(&body).send().await?;
        ensure!(resp.status() == 204, "{path}: {} {}", resp.status(), resp.text().await.unwrap_or_default());
        Ok(())
    }

    /// Adds an account: signing in with the login `id` (any password) is `preferred_username`.
    pub async fn account(&self, id: &str, preferred_username: &str) -> Result<()> {
        self.post("/_test/account", json!({"id": id, "preferred_username": preferred_username})).await
    }

    /// The provider's discovery document.
    pub async fn discovery(&self) -> Result<Value> {
        Ok(reqwest::get(format!("{}/.well-known/openid-configuration", self.url)).await?.json().await?)
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}
