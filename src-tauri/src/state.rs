//! What the app keeps between commands: the client configuration, the keychain handle, the
//! current session and the embedded hub. Tokens stay inside keyway-client; the UI only ever
//! sees `ProfileView` and `SessionView`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use keyway_api::auth::HubMode;
use keyway_api::desktop::{AppStatus, ErrorKind, LocalHubSetup, ProfileChoice, ProfileView, SessionView};
use keyway_client::config::{Config, DEFAULT_PROFILE, Profile, RedirectStyle, parse_server_url};
use keyway_client::login::{CallbackInbox, CallbackRefused, LoginOptions, Opener, Redirect, external_callbacks};
use keyway_client::profiles;
use keyway_client::vault::Vault;
use keyway_client::{Client, SessionInfo};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::error::{CommandResult, from_login, internal, invalid_input};
use crate::local_hub::LocalHub;

/// Name of the profile that points at the embedded hub.
pub const LOCAL_PROFILE: &str = "local";
/// Name of the profile that points at the embedded learning hub ("Try Keyway without an
/// account"); it is `local` too.
pub const LEARNING_PROFILE: &str = "learning";
/// The learning hub's folder inside the app's data directory: its own, so that nothing of it
/// reaches the local hub (whose database is in the data directory itself).
const LEARNING_DIR: &str = "learning-hub";

pub struct DesktopState {
    /// The app's data directory; the embedded hub's database lives here.
    data_dir: PathBuf,
    inner: Mutex<Inner>,
    /// The sign-in in progress, if any. Kept apart from `inner` so that Cancel never waits
    /// behind the sign-in it cancels.
    login: std::sync::Mutex<Option<PendingLogin>>,
    login_ids: AtomicU64,
}

struct PendingLogin {
    id: u64,
    cancel: CancellationToken,
    /// Set when the browser comes back through the deep link rather than the loopback listener.
    inbox: Option<CallbackInbox>,
}

struct Inner {
    /// Loaded on first use.
    config: Option<Config>,
    /// Opened on first use: fails clearly when there is no Secret Service.
    vault: Option<Vault>,
    /// The client of the current profile; it holds the session (and the access token) in memory.
    client: Option<Arc<Client>>,
    hub: LocalHub,
    learning_hub: LocalHub,
}

impl DesktopState {
    pub fn new(data_dir: PathBuf) -> DesktopState {
        DesktopState {
            data_dir,
            inner: Mutex::new(Inner {
                config: None,
                vault: None,
                client: None,
                hub: LocalHub::protected(),
                learning_hub: LocalHub::learning(),
            }),
            login: std::sync::Mutex::new(None),
            login_ids: AtomicU64::new(0),
        }
    }

    /// Loads the configuration and starts the embedded hub when the current profile is local.
    /// Runs at start-up and again before every status, so a failure at start-up is retried.
    pub async fn prepare(&self) -> CommandResult<()> {
        self.inner.lock().await.prepare(&self.data_dir).await
    }

    pub async fn status(&self) -> CommandResult<AppStatus> {
        let mut inner = self.inner.lock().await;
        inner.prepare(&self.data_dir).await?;
        inner.status().await
    }

    /// "Try Keyway without an account": serves the learning hub (a new one, unless the learning
    /// profile exists already) and makes its profile the current one. Signing in follows
    /// ([`DesktopState::login`] without an opener).
    pub async fn start_learning(&self) -> CommandResult<()> {
        self.cancel_login();
        let dir = self.data_dir.join(LEARNING_DIR);
        let mut inner = self.inner.lock().await;
        if inner.config()?.get(LEARNING_PROFILE).is_some_and(|p| !p.local) {
            return Err(invalid_input(format!(
                "A profile named “{LEARNING_PROFILE}” points at a server: remove it first to try Keyway without an account."
            )));
        }
        let earlier = inner.config()?.get(LEARNING_PROFILE).map(|p| p.server.port());
        if earlier.is_none() {
            // Whatever an earlier learning hub left (the app stopped while in learning mode and
            // its profile was removed since) goes first: each try starts empty.
            inner.learning_hub.erase(&dir).await?;
        }
        let running = inner.learning_hub.start(&dir, earlier.flatten()).await?;
        let mut profile = Profile::new(LEARNING_PROFILE, hub_url(&running.issuer)?);
        profile.local = true;
        inner.make_current(profile)?;
        Ok(())
    }

    /// "Leave learning mode": signs out at the learning hub, removes its profile and its
    /// keychain entries, stops the hub and deletes its folder and key. Back to set-up, whatever
    /// other profiles there are.
    pub async fn leave_learning(&self) -> CommandResult<AppStatus> {
        self.cancel_login();
        let mut inner = self.inner.lock().await;
        if inner.config()?.get(LEARNING_PROFILE).is_some_and(|p| p.local) {
            let vault = inner.vault()?;
            profiles::remove(inner.config()?, &vault, LEARNING_PROFILE).await?;
        }
        let config = inner.config()?;
        config.default_profile = None;
        config.save()?;
        inner.client = None;
        inner.learning_hub.erase(&self.data_dir.join(LEARNING_DIR)).await?;
        tracing::info!("left learning mode");
        inner.status().await
    }

    pub async fn local_hub_initialized(&self) -> CommandResult<bool> {
        let mut inner = self.inner.lock().await;
        let port = inner.config()?.profiles.get(LOCAL_PROFILE).and_then(|p| p.server.port());
        inner.hub.is_initialized(&self.data_dir, port).await
    }

    /// Creates the owner account if the embedded hub has none (otherwise `setup` is not used),
    /// serves the hub and makes the local profile the current one.
    pub async fn setup_local_hub(&self, setup: &LocalHubSetup) -> CommandResult<AppStatus> {
        let mut inner = self.inner.lock().await;
        inner.hub.initialize(&self.data_dir, &setup.username, &setup.password).await?;
        let running = inner.hub.start(&self.data_dir, None).await?;
        let mut profile = Profile::new(LOCAL_PROFILE, hub_url(&running.issuer)?);
        profile.local = true;
        inner.make_current(profile)?;
        inner.status().await
    }

    /// Checks that `url` answers as a Keyway hub, then makes it the current profile (keeping
    /// the redirect style the profile had).
    pub async fn connect_server(&self, url: &str) -> CommandResult<AppStatus> {
        let server = parse_server_url(url)?;
        let mut inner = self.inner.lock().await;
        let name = name_for_server(inner.config()?, &server);
        let mut profile = Profile::new(&name, server);
        if let Some(earlier) = inner.config()?.get(&name) {
            profile.redirect = earlier.redirect;
        }
        let client = Client::new(profile.clone(), inner.vault()?)?;
        client.check_server().await?;
        inner.make_current(profile)?;
        inner.client = Some(Arc::new(client));
        inner.status().await
    }

    /// Signs in through the browser (`opener`), or, without one, at a learning hub, which needs
    /// no browser. Resolves when signed in, cancelled or timed out; says which way the browser
    /// came back.
    pub async fn login(&self, opener: Option<Opener>) -> CommandResult<(AppStatus, RedirectStyle)> {
        let client = {
            let mut inner = self.inner.lock().await;
            inner.prepare(&self.data_dir).await?;
            inner.client()?.ok_or_else(no_profile)?
        };
        let id = self.login_ids.fetch_add(1, Ordering::Relaxed);
        let cancel = CancellationToken::new();
        let style = if opener.is_some() { client.profile().redirect } else { RedirectStyle::Loopback };
        let (inbox, redirect) = match style {
            RedirectStyle::Loopback => (None, Redirect::Loopback),
            RedirectStyle::DeepLink => {
                let (inbox, callbacks) = external_callbacks(keyway_api::DEEP_LINK_REDIRECT);
                (Some(inbox), Redirect::External(callbacks))
            }
        };
        let pending = PendingLogin { id, cancel: cancel.clone(), inbox };
        if let Some(earlier) = self.pending_login().replace(pending) {
            earlier.cancel.cancel();
        }
        let options = LoginOptions { cancel, redirect, ..LoginOptions::default() };
        let result = match opener {
            Some(opener) => client.login(opener, options).await,
            None => client.login_learning(options).await,
        };
        {
            let mut pending = self.pending_login();
            if pending.as_ref().is_some_and(|p| p.id == id) {
                *pending = None;
            }
        }
        let session = result.map_err(from_login)?;
        let mut inner = self.inner.lock().await;
        if !inner.client.as_ref().is_some_and(|current| Arc::ptr_eq(current, &client)) {
            return Err(internal("The server was changed while signing in; sign in again."));
        }
        tracing::info!(sub = %session.user.sub, "signed in");
        Ok((inner.status().await?, style))
    }

    /// Hands a sign-in answer that came through the deep link to the sign-in waiting for it.
    /// Refused, changing nothing, when no deep-link sign-in is waiting or the answer is not its
    /// own (unknown or already-used state).
    pub async fn deliver_callback(&self, url: &str) -> Result<(), CallbackRefused> {
        let inbox = self.pending_login().as_ref().and_then(|p| p.inbox.clone());
        match inbox {
            Some(inbox) => inbox.deliver(url).await,
            None => Err(CallbackRefused(
                "A sign-in answer arrived, but no sign-in through the deep link is waiting for it, so it was ignored. \
                 Nothing was changed."
                    .to_owned(),
            )),
        }
    }

    /// The client of the current profile when it is signed in; a clear error otherwise.
    pub async fn signed_in_client(&self) -> CommandResult<Arc<Client>> {
        let mut inner = self.inner.lock().await;
        let client = inner.client()?.ok_or_else(no_profile)?;
        if client.current().await.is_none() {
            return Err(keyway_api::desktop::CommandError {
                kind: ErrorKind::Refused,
                message: "You are signed out. Sign in again to continue.".into(),
            });
        }
        Ok(client)
    }

    /// Cancels the sign-in in progress, if any.
    pub fn cancel_login(&self) {
        if let Some(pending) = self.pending_login().take() {
            pending.cancel.cancel();
        }
    }

    pub async fn logout(&self) -> CommandResult<AppStatus> {
        let mut inner = self.inner.lock().await;
        let client = inner.client()?.ok_or_else(no_profile)?;
        let outcome = client.logout().await?;
        tracing::info!(revoked_at_server = outcome.revoked_at_server, "signed out");
        inner.status().await
    }

    /// Removes the current profile (signing out first when signed in) and stops the embedded
    /// hub if it served that profile. The hub's database stays, with its accounts.
    pub async fn forget_profile(&self) -> CommandResult<AppStatus> {
        self.cancel_login();
        let mut inner = self.inner.lock().await;
        if let Some(profile) = inner.config()?.current().cloned() {
            // Sign out whether or not a session is in memory: a refresh token left in the
            // keychain would otherwise be sent to whatever server this profile name points at
            // next. `logout` deletes the entry even when the server cannot be reached.
            // Without a keychain there is nothing to remove, and forgetting must still work.
            if let Ok(Some(client)) = inner.client()
                && let Err(error) = client.logout().await
            {
                tracing::warn!(%error, "sign-out before forgetting the profile failed");
            }
            let config = inner.config()?;
            config.remove(&profile.name);
            config.save()?;
            if profile.local {
                inner.hub_of(&profile).stop();
            }
            tracing::info!(profile = profile.name, "forgot the profile");
        }
        inner.client = None;
        inner.status().await
    }

    /// Every profile, for the switcher.
    pub async fn profiles(&self) -> CommandResult<Vec<ProfileChoice>> {
        let mut inner = self.inner.lock().await;
        let vault = inner.vault()?;
        let list = profiles::list(inner.config()?, &vault)?;
        Ok(list
            .into_iter()
            .map(|p| ProfileChoice {
                name: p.name,
                server: p.server,
                local: p.local,
                current: p.current,
                signed_in: p.credential.is_some(),
            })
            .collect())
    }

    /// Switches to another profile; its session comes back from the keychain if it has one.
    pub async fn use_profile(&self, name: &str) -> CommandResult<AppStatus> {
        self.cancel_login();
        let mut inner = self.inner.lock().await;
        let config = inner.config()?;
        profiles::use_profile(config, name)?;
        config.save()?;
        inner.client = None;
        inner.prepare(&self.data_dir).await?;
        inner.status().await
    }

    /// Removes a profile: signed out at its server when reachable, its keychain entries deleted.
    /// The embedded hub stops when it served that profile; its database stays.
    pub async fn remove_profile(&self, name: &str) -> CommandResult<AppStatus> {
        self.cancel_login();
        let mut inner = self.inner.lock().await;
        let vault = inner.vault()?;
        let local = inner.config()?.get(name).filter(|p| p.local).cloned();
        let removed = profiles::remove(inner.config()?, &vault, name).await?;
        inner.config()?.save()?;
        if let Some(profile) = local {
            inner.hub_of(&profile).stop();
        }
        tracing::info!(profile = removed.name, revoked = removed.revoked_at_server, "removed the profile");
        inner.client = None;
        inner.prepare(&self.data_dir).await?;
        inner.status().await
    }

    fn pending_login(&self) -> std::sync::MutexGuard<'_, Option<PendingLogin>> {
        // A panic while holding this lock leaves nothing half-done: recover the guard.
        self.login.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Inner {
    fn config(&mut self) -> CommandResult<&mut Config> {
        if self.config.is_none() {
            self.config = Some(Config::load()?);
        }
        self.config.as_mut().ok_or_else(|| internal("The configuration is not loaded."))
    }

    fn vault(&mut self) -> CommandResult<Vault> {
        if self.vault.is_none() {
            self.vault = Some(Vault::open()?);
        }
        self.vault.clone().ok_or_else(|| internal("The keychain is not open."))
    }

    /// The client of the current profile; `None` when there is no profile.
    fn client(&mut self) -> CommandResult<Option<Arc<Client>>> {
        let Some(profile) = self.config()?.current().cloned() else {
            return Ok(None);
        };
        if let Some(client) = &self.client
            && client.profile().name == profile.name
            && client.profile().server == profile.server
        {
            return Ok(Some(client.clone()));
        }
        let client = Arc::new(Client::new(profile, self.vault()?)?);
        self.client = Some(client.clone());
        Ok(Some(client))
    }

    fn make_current(&mut self, profile: Profile) -> CommandResult<()> {
        let config = self.config()?;
        config.upsert(profile, true);
        config.save()?;
        self.client = None;
        Ok(())
    }

    /// The embedded hub a local profile points at.
    fn hub_of(&mut self, profile: &Profile) -> &mut LocalHub {
        if profile.name == LEARNING_PROFILE { &mut self.learning_hub } else { &mut self.hub }
    }

    async fn prepare(&mut self, data_dir: &std::path::Path) -> CommandResult<()> {
        let Some(profile) = self.config()?.current().cloned() else {
            return Ok(());
        };
        if !profile.local || self.hub_of(&profile).is_running() {
            return Ok(());
        }
        let dir = if profile.name == LEARNING_PROFILE { data_dir.join(LEARNING_DIR) } else { data_dir.to_owned() };
        let running = self.hub_of(&profile).start(&dir, profile.server.port()).await?;
        let server = hub_url(&running.issuer)?;
        if server != profile.server || profile.issuer.is_some() {
            tracing::info!(%server, "the local hub moved to another port; updating the profile");
            let mut profile = profile;
            profile.server = server;
            profile.issuer = None;
            self.make_current(profile)?;
        }
        Ok(())
    }

    async fn status(&mut self) -> CommandResult<AppStatus> {
        let Some(client) = self.client()? else {
            return Ok(AppStatus::NeedsSetup);
        };
        let mut profile = profile_view(client.profile());
        profile.learning = learning_hub(&client).await;
        let session = match client.current().await {
            Some(session) => session,
            None => match client.restore().await {
                Ok(Some(session)) => session,
                Ok(None) => {
                    return Ok(AppStatus::SignedOut { profile, notice: None });
                }
                // Revoked or expired: the client has removed it from the keychain already.
                Err(error) if error.kind() == ErrorKind::Refused => {
                    return Ok(AppStatus::SignedOut { profile, notice: Some(error.to_string()) });
                }
                Err(error) => return Err(error.into()),
            },
        };
        Ok(AppStatus::SignedIn { profile, session: session_view(&session) })
    }
}

/// The profile name for a server: the profile that already points at it, else `default` while
/// that is free, else the server's host (then `-2`, `-3`, …), so that a second server is added
/// beside the first instead of replacing it.
fn name_for_server(config: &Config, server: &Url) -> String {
    if let Some(p) = config.profiles.values().find(|p| !p.local && p.server == *server) {
        return p.name.clone();
    }
    if config.get(DEFAULT_PROFILE).is_none() {
        return DEFAULT_PROFILE.to_owned();
    }
    let host: String = server
        .host_str()
        .unwrap_or("server")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '-' })
        .take(48)
        .collect();
    let host = host.trim_start_matches('.').to_owned();
    let host = if host.is_empty() { "server".to_owned() } else { host };
    (1..)
        .map(|n| if n == 1 { host.clone() } else { format!("{host}-{n}") })
        .find(|name| config.get(name).is_none())
        .unwrap_or(host)
}

fn no_profile() -> keyway_api::desktop::CommandError {
    invalid_input("No server is set up yet: choose a local hub or connect to a server first.")
}

fn profile_view(profile: &Profile) -> ProfileView {
    ProfileView {
        name: profile.name.clone(),
        server: profile.server.to_string(),
        local: profile.local,
        learning: false,
    }
}

/// Whether the profile's hub says it is in learning mode. Only a hub on loopback can be (a
/// learning hub refuses to listen anywhere else), so no other server is asked; one that cannot
/// say counts as protected.
async fn learning_hub(client: &Client) -> bool {
    let loopback = match client.profile().server.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    if !loopback || client.profile().issuer.is_some() {
        return false;
    }
    match client.hub_mode().await {
        Ok(mode) => mode == HubMode::Learning,
        Err(error) => {
            tracing::warn!(%error, "could not ask the hub for its mode");
            false
        }
    }
}

fn session_view(session: &SessionInfo) -> SessionView {
    let user = &session.user;
    let username = user.preferred_username.clone().unwrap_or_else(|| user.sub.clone());
    let display_name = user.name.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| username.clone());
    SessionView {
        subject: user.sub.clone(),
        username,
        display_name,
        roles: user.roles.clone(),
        session_expires_at: session.session_expires_at,
        access_expires_at: session.access_expires_at,
        renewable: session.renewable,
    }
}

/// The embedded hub's issuer (`http://127.0.0.1:<port>`), which is also its server URL.
fn hub_url(issuer: &str) -> CommandResult<Url> {
    Url::parse(issuer).map_err(|e| internal(format!("The local hub's address {issuer} is unusable: {e}")))
}
