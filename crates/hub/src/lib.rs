//! Keyway hub: an OAuth 2.1 / OpenID Connect authorization server for Keyway's public native
//! clients (RFC 8252, RFC 9700, RFC 7636 PKCE, RFC 7009 revocation, RFC 9068 JWT access tokens).
//!
//! ```no_run
//! # async fn run() -> Result<(), keyway_hub::Error> {
//! use keyway_hub::{Hub, Settings};
//! let hub = Hub::open(Settings::from_env()?).await?;
//! hub.create_user("alice", "correct horse battery", &[keyway_api::Role::Developer]).await?;
//! let running = hub.serve().await?;
//! println!("listening on {}", running.issuer);
//! running.shutdown().await;
//! # Ok(()) }
//! ```

mod api;
mod auth;
mod clients;
mod clock;
mod config;
mod error;
mod jwt;
mod keys;
mod oauth;
mod secret;
pub mod store;
mod users;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use keyway_api::Role;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use crate::clock::Clock;
pub use crate::config::{ENV_DATABASE, ENV_ISSUER, ENV_LISTEN, MAX_CODE_TTL, Settings};
pub use crate::error::Error;
pub use crate::keys::{Jwk, Jwks, key_id};
pub use crate::secret::Password;
pub use crate::store::Store;
pub use crate::store::sqlite::SqliteStore;
pub use crate::users::{MIN_PASSWORD_CHARS, validate_username};

use crate::clients::ClientRegistry;
use crate::keys::Keys;
use crate::oauth::{AppState, Shared};
use crate::users::Passwords;

/// How often expired codes, sessions and tokens are purged.
const PURGE_INTERVAL: Duration = Duration::from_secs(600);
/// How long [`RunningHub::shutdown`] waits for in-flight requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// An opened hub: database migrated, signing key loaded. Call [`Hub::serve`] to run it.
pub struct Hub<S: Store = SqliteStore> {
    settings: Settings,
    store: S,
    keys: Keys,
    passwords: Arc<Passwords>,
}

impl<S: Store> fmt::Debug for Hub<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hub").field("settings", &self.settings).field("keys", &self.keys).finish_non_exhaustive()
    }
}

impl Hub<SqliteStore> {
    /// Connects to the SQLite database in `settings` (creating it if missing), migrates it, and
    /// loads the signing key (creating and storing one on first start).
    pub async fn open(settings: Settings) -> Result<Hub, Error> {
        settings.validate()?;
        let store = SqliteStore::connect(&settings.database_url).await?;
        Hub::with_store(settings, store).await
    }
}

impl<S: Store> Hub<S> {
    /// Like [`Hub::open`] with any [`Store`] backend.
    pub async fn with_store(settings: Settings, store: S) -> Result<Hub<S>, Error> {
        settings.validate()?;
        store.migrate().await?;
        let keys = Keys::load_or_create(&store, settings.clock.now()).await?;
        Ok(Hub { settings, store, keys, passwords: Passwords::new() })
    }

    /// The settings the hub was opened with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Creates a user. Fails with [`Error::UserExists`], [`Error::InvalidUsername`] or
    /// [`Error::WeakPassword`] (fewer than 8 characters).
    pub async fn create_user(&self, username: &str, password: &str, roles: &[Role]) -> Result<(), Error> {
        validate_username(username)?;
        let password = Password::new(password);
        users::validate_password(&password)?;
        if self.store.user_by_name(username).await?.is_some() {
            return Err(Error::UserExists);
        }
        let password_hash = self.passwords.hash(password).await?;
        let mut roles = roles.to_vec();
        roles.sort();
        roles.dedup();
        let user = store::UserRecord {
            id: secret::random_id(),
            username: username.to_owned(),
            password_hash,
            roles,
            created_at: self.settings.clock.now(),
        };
        self.store.insert_user(&user).await?;
        tracing::info!(user = %user.id, username = %user.username, "user created");
        Ok(())
    }

    /// Number of users.
    pub async fn user_count(&self) -> Result<u64, Error> {
        self.store.user_count().await
    }

    /// Binds `settings.listen` (port 0 picks a free port) and serves the hub in the background
    /// until [`RunningHub::shutdown`] is called or the [`RunningHub`] is dropped.
    pub async fn serve(self) -> Result<RunningHub, Error> {
        let listen = self.settings.listen;
        let listener = TcpListener::bind(listen).await.map_err(|source| Error::Bind { addr: listen, source })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind { addr: listen, source })?;
        let issuer = match &self.settings.issuer {
            Some(issuer) => config::normalize_issuer(issuer)?,
            None => format!("http://{addr}"),
        };
        self.passwords.warm_up().await?;

        let (stop_tx, stop_rx) = watch::channel(false);
        let state = AppState(Arc::new(Shared {
            store: self.store,
            keys: self.keys,
            secure_cookies: issuer.starts_with("https://"),
            issuer: issuer.clone(),
            settings: self.settings,
            clients: ClientRegistry::builtin(),
            passwords: self.passwords,
            reviews: api::reviews::Live::new(stop_rx.clone()),
        }));
        let app = oauth::router(state.clone());

        let mut server_stop = stop_rx.clone();
        let server = tokio::spawn(async move {
            let shutdown = async move {
                // Resolves on `true` or when the sender is dropped.
                let _ = server_stop.wait_for(|stop| *stop).await;
            };
            if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
                tracing::error!(error = %e, "the HTTP server stopped with an error");
            }
        });
        let sweeper = tokio::spawn(api::reviews::sweep_loop(state.clone(), stop_rx.clone()));
        let purger = tokio::spawn(purge_loop(state, stop_rx));

        tracing::info!(%addr, %issuer, "keyway hub listening on http://{addr}");
        Ok(RunningHub { addr, issuer, stop: stop_tx, server, purger, sweeper })
    }
}

async fn purge_loop<S: Store>(state: AppState<S>, mut stop: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(PURGE_INTERVAL);
    loop {
        tokio::select! {
            // Only `true` is ever sent; an error means the sender is gone: stop either way.
            _ = stop.changed() => return,
            _ = interval.tick() => {
                match state.store.purge_expired(state.now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(rows = n, "purged expired rows"),
                    Err(e) => tracing::warn!(error = %error::report(&e), "purging expired rows failed"),
                }
            }
        }
    }
}

/// A hub serving HTTP in the background. Dropping it stops the server too.
pub struct RunningHub {
    /// The address actually bound.
    pub addr: SocketAddr,
    /// The issuer URL (no trailing slash).
    pub issuer: String,
    stop: watch::Sender<bool>,
    server: JoinHandle<()>,
    purger: JoinHandle<()>,
    sweeper: JoinHandle<()>,
}

impl fmt::Debug for RunningHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningHub").field("addr", &self.addr).field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

impl RunningHub {
    /// Stops accepting connections, lets in-flight requests finish (up to 10 s), and returns.
    pub async fn shutdown(self) {
        let RunningHub { stop, mut server, purger, sweeper, addr, .. } = self;
        let _ = stop.send(true);
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut server).await.is_err() {
            tracing::warn!("requests still running after the grace period; aborting them");
            server.abort();
        }
        let _ = purger.await;
        let _ = sweeper.await;
        tracing::info!(%addr, "keyway hub stopped");
    }
}
