//! The hubs embedded in the app. "Use a local hub": its database lives in the app's data
//! directory and it listens on a loopback port that stays the same across restarts when it can,
//! because that port is part of the issuer URL the stored session belongs to. "Try Keyway without
//! an account": a hub in learning mode with a directory and a keychain key of its own, so nothing
//! of it reaches the local hub or a server; leaving learning mode deletes both.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use keyway_api::desktop::CommandError;
use keyway_client::secret::SecretString;
use keyway_client::vault::{SecretKind, Vault};
use keyway_hub::{AnyHub, Hub, HubKey, Mode, RunningHub, Settings};

use crate::error::{CommandResult, from_hub, internal};

/// The keychain profile of the local hub's key: service `keyway`, account `local/hub_key`.
const KEY_PROFILE: &str = "local";
/// The learning hub's: account `learning/hub_key`.
const LEARNING_KEY_PROFILE: &str = "learning";

/// An embedded hub, in one of three steps: nothing, opened (database ready), serving.
pub struct LocalHub {
    mode: Mode,
    /// The keychain profile its hub key is kept under.
    key_profile: &'static str,
    opened: Option<AnyHub>,
    running: Option<RunningHub>,
}

impl LocalHub {
    /// The local hub: protected, its owner signs in with a password.
    pub fn protected() -> LocalHub {
        LocalHub { mode: Mode::Protected, key_profile: KEY_PROFILE, opened: None, running: None }
    }

    /// The learning hub: authentication off, every role for its learner.
    pub fn learning() -> LocalHub {
        LocalHub { mode: Mode::Learning, key_profile: LEARNING_KEY_PROFILE, opened: None, running: None }
    }

    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Whether the hub in `data_dir` already has its owner. Does not create a database.
    pub async fn is_initialized(&mut self, data_dir: &Path, port: Option<u16>) -> CommandResult<bool> {
        if self.running.is_some() {
            return Ok(true);
        }
        if !database_path(data_dir).exists() {
            return Ok(false);
        }
        let hub = self.open(data_dir, port).await?;
        Ok(hub.user_count().await.map_err(from_hub)? > 0)
    }

    /// Opens the database (creating it) and creates the owner with every role, unless the hub
    /// has users already.
    pub async fn initialize(&mut self, data_dir: &Path, username: &str, password: &str) -> CommandResult<()> {
        if self.running.is_some() {
            return Ok(());
        }
        let hub = self.open(data_dir, None).await?;
        if hub.user_count().await.map_err(from_hub)? == 0 {
            hub.create_user(username, password, &keyway_api::Role::ALL).await.map_err(from_hub)?;
            tracing::info!(username, "created the owner of the local hub");
        }
        Ok(())
    }

    /// Serves the hub (opening it first if needed), on `port` when it is free. Returns the
    /// address it listens on.
    pub async fn start(&mut self, data_dir: &Path, port: Option<u16>) -> CommandResult<&RunningHub> {
        if self.running.is_none() {
            if self.opened.is_none() {
                self.open(data_dir, port).await?;
            }
            let hub = self.opened.take().ok_or_else(|| internal("The local hub is not open."))?;
            let running = hub.serve().await.map_err(from_hub)?;
            tracing::info!(addr = %running.addr, "local hub serving");
            self.running = Some(running);
        }
        self.running.as_ref().ok_or_else(|| internal("The local hub is not running."))
    }

    /// Stops serving (letting requests in flight finish) and closes the database.
    pub fn stop(&mut self) {
        self.opened = None;
        if let Some(running) = self.running.take() {
            tauri::async_runtime::spawn(running.shutdown());
        }
    }

    /// Stops serving, waits until the hub has let go of its database, then deletes the
    /// database's folder and the hub's key from the keychain. Nothing of the hub is left.
    pub async fn erase(&mut self, data_dir: &Path) -> CommandResult<()> {
        self.opened = None;
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
        match std::fs::remove_dir_all(data_dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(internal(format!("Could not delete the folder {}: {e}", data_dir.display()))),
        }
        Vault::open()?.delete(self.key_profile, SecretKind::LocalHubKey)?;
        tracing::info!(folder = %data_dir.display(), "erased the embedded hub");
        Ok(())
    }

    async fn open(&mut self, data_dir: &Path, port: Option<u16>) -> CommandResult<&AnyHub> {
        if self.opened.is_none() {
            // The folder holds the local hub's database (password hashes, the signing key):
            // the person's own alone.
            private_dir(data_dir)
                .map_err(|e| internal(format!("Could not create the data folder {}: {e}", data_dir.display())))?;
            let port = free_loopback_port(port)?;
            let vault = Vault::open()?;
            let (hub_key, made) = hub_key(&vault, self.key_profile)?;
            let settings = Settings {
                listen: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                database_url: format!("sqlite://{}", database_path(data_dir).display()),
                hub_key: Some(hub_key),
                mode: self.mode,
                ..Default::default()
            };
            match Hub::open(settings).await {
                Ok(hub) => self.opened = Some(hub),
                Err(error) => {
                    if made {
                        // The new key opened nothing: leave the keychain as it was.
                        let _ = vault.delete(self.key_profile, SecretKind::LocalHubKey);
                    }
                    return Err(match error {
                        keyway_hub::Error::HubKey(why) => internal(format!(
                            "The local hub's key in the OS keychain (service “keyway”, account “{}/hub_key”) \
                             does not open its database {}: {why}",
                            self.key_profile,
                            database_path(data_dir).display()
                        )),
                        other => from_hub(other),
                    });
                }
            }
        }
        self.opened.as_ref().ok_or_else(|| internal("The local hub is not open."))
    }
}

/// An embedded hub's key from the OS keychain (account `<key_profile>/hub_key`), or a new one
/// stored there first (a new database, or one from before its signing key was sealed). Says
/// whether it was made now.
fn hub_key(vault: &Vault, key_profile: &str) -> CommandResult<(HubKey, bool)> {
    if let Some(text) = vault.get(key_profile, SecretKind::LocalHubKey)? {
        let key = HubKey::parse(text.secret()).map_err(|e| {
            internal(format!(
                "The local hub's key in the OS keychain (account “{key_profile}/hub_key”) is unusable: {e}"
            ))
        })?;
        return Ok((key, false));
    }
    let key = HubKey::generate();
    vault.set(key_profile, SecretKind::LocalHubKey, &SecretString::new(key.to_text().to_string()))?;
    tracing::info!(hub_key = %key.id(), key_profile, "stored a new key for an embedded hub in the OS keychain");
    Ok((key, true))
}

pub fn database_path(data_dir: &Path) -> PathBuf {
    data_dir.join("hub.db")
}

/// `preferred` when it is free on 127.0.0.1, else one the OS picks.
fn free_loopback_port(preferred: Option<u16>) -> Result<u16, CommandError> {
    if let Some(port) = preferred.filter(|p| *p != 0) {
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
        tracing::info!(port, "the local hub's earlier port is taken; picking another");
    }
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| internal(format!("Could not find a free port for the local hub: {e}")))
}

/// Creates `dir` (and its parents) if missing, and makes it `0700`.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}
