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

mod access_token;
mod accounts;
mod api;
mod audit;
mod backend;
mod clients;
mod clock;
mod config;
mod credentials;
mod ed25519;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod http;
mod hub_key;
mod jwt;
mod keys;
mod learning;
mod limits;
mod live_users;
mod migrate_store;
mod net;
mod notices;
mod oauth;
mod openapi;
mod pat;
mod policy;
mod principal;
mod reviews;
mod routes;
mod routing;
mod scim;
mod secret;
mod server;
mod sessions;
mod sso;
mod state;
pub mod store;
mod tasks;
mod throttle;
mod users;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use keyway_api::Role;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use crate::audit::chain::{AuditBreak, AuditReport};
pub use crate::backend::Backend;
pub use crate::clock::Clock;
pub use crate::config::{
    ENV_DATABASE, ENV_ISSUER, ENV_KEY, ENV_KEY_FILE, ENV_LISTEN, ENV_TRUSTED_PROXIES, MAX_CODE_TTL, Mode, Settings,
};
pub use crate::error::Error;
pub use crate::hub_key::HubKey;
pub use crate::keys::{Jwk, Jwks, OVERLAP_SECS, key_id};
pub use crate::migrate_store::{MigrateError, MigrateOptions, MigrateReport, migrate_store};
pub use crate::net::IpNet;
pub use crate::secret::Password;
pub use crate::sso::config::{DEFAULT_GROUPS_CLAIM, SsoSecret, SsoSettings, parse_role_mapping};
pub use crate::store::Store;
pub use crate::store::postgres::PgStore;
pub use crate::store::sqlite::SqliteStore;
pub use crate::users::{MIN_PASSWORD_CHARS, validate_username};

use crate::audit::Audit;
use crate::clients::ClientRegistry;
use crate::credentials::issue::{
    self, AgentChoice, Mint, Owner, agent_for, agent_name_taken, allowlist, insert_if_new,
};
use crate::keys::Keys;
use crate::reviews::events::ReviewEvents;
use crate::state::{AppState, Shared};
use crate::store::changes::{Change, Write};
use crate::users::Passwords;
/// How long [`RunningHub::shutdown`] waits for in-flight requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// An opened hub: database migrated, signing key loaded. Call [`Hub::serve`] to run it.
pub struct Hub<S: Store = SqliteStore> {
    settings: Settings,
    store: S,
    keys: Arc<Keys>,
    passwords: Arc<Passwords>,
}

impl<S: Store> fmt::Debug for Hub<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hub").field("settings", &self.settings).field("keys", &self.keys).finish_non_exhaustive()
    }
}

impl Hub<SqliteStore> {
    /// Connects to the database in `settings` — SQLite (`sqlite://…`, created if missing) or
    /// PostgreSQL (`postgres://…`), by the URL's scheme — migrates it, and loads the signing keys
    /// with `settings.hub_key` (creating and sealing one on first start, sealing one an earlier
    /// version stored in clear). Without a hub key, or with one that is not this database's, it
    /// fails with [`Error::HubKey`] and creates no key.
    pub async fn open(settings: Settings) -> Result<AnyHub, Error> {
        AnyHub::open(settings).await
    }
}

impl<S: Store> Hub<S> {
    /// Like [`Hub::open`] with any [`Store`] backend.
    pub async fn with_store(settings: Settings, store: S) -> Result<Hub<S>, Error> {
        settings.validate()?;
        if settings.insecure_client_metadata_loopback {
            tracing::warn!(
                "INSECURE: client metadata documents may be fetched over plain http from the loopback interface"
            );
        }
        store.migrate().await?;
        hold_clock_at_newest_audit(&store, &settings.clock).await?;
        let keys = Arc::new(Keys::open(&store, settings.hub_key.as_ref(), &settings.clock).await?);
        store.set_audit_signer(keys.clone());
        let chained = store.seal_audit_log().await?;
        if chained > 0 {
            tracing::info!(rows = chained, "chained the audit rows written before the log was a hash chain");
        }
        let passwords = Passwords::new(settings.hash_queue);
        Ok(Hub { settings, store, keys, passwords })
    }

    /// The settings the hub was opened with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Creates a user. Fails with [`Error::UserExists`], [`Error::InvalidUsername`] or
    /// [`Error::WeakPassword`] (see [`users::validate_password`]).
    pub async fn create_user(&self, username: &str, password: &str, roles: &[Role]) -> Result<(), Error> {
        validate_username(username)?;
        let password = Password::new(password);
        users::validate_password(username, &password)?;
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
            disabled: false,
            deleted_at: None,
            managed_by: None,
        };
        self.store.insert_user(&user).await?;
        tracing::info!(user = %user.id, username = %user.username, "user created");
        Ok(())
    }

    /// Mints a PAT for `username` without the HTTP API (bootstrap and operations): an agent
    /// PAT bound to `agent` (created if missing), or a user PAT when `agent` is `None`. Returns
    /// the secret, which is shown nowhere else.
    pub async fn mint_pat(
        &self,
        username: &str,
        agent: Option<&str>,
        audience: keyway_api::auth::Audience,
        days: Option<u32>,
    ) -> Result<String, Error> {
        use keyway_api::credentials::CredentialKind;
        let Some(user) = self.store.user_by_name(username).await? else {
            return Err(Error::InvalidUsername("no such user"));
        };
        let now = self.settings.clock.now();
        let limits = self.store.credential_settings().await?;
        let days = days.unwrap_or(limits.default_pat_days);
        if days == 0 || days > limits.max_pat_days {
            return Err(Error::InvalidSetting {
                name: "days",
                reason: format!("must be 1 to {}", limits.max_pat_days),
            });
        }
        let owner = Owner { id: user.id.clone(), name: user.username.clone() };
        let agent = match agent {
            None => None,
            Some(name) => {
                validate_username(name)?;
                Some(agent_for(&self.store, now, &owner, name, true).await?)
            }
        };
        let kind = if agent.is_some() { CredentialKind::AgentPat } else { CredentialKind::UserPat };
        let a = agent.as_ref().map(AgentChoice::record);
        let mint = Mint {
            owner: &owner,
            kind,
            agent: a,
            service_account: None,
            name: a.map(|a| a.name.clone()).unwrap_or_else(|| format!("{} PAT", user.username)),
            audience,
            scopes: allowlist(kind).iter().map(|s| (*s).to_owned()).collect(),
            expires_at: Some(now.saturating_add(i64::from(days) * issue::DAY_SECS)),
        };
        let minted = issue::mint(now, mint);
        let event = Audit::by_operator(now, "pat.mint")
            .target("credential", &minted.record.id)
            .detail(serde_json::json!({ "kind": kind.as_str(), "owner": user.id, "via": "keyway-hub pat mint" }))
            .event();
        let created = agent.as_ref().and_then(|a| a.created_event(Audit::by_operator(now, "agent.create")));
        let writes = insert_if_new(Change::new(), agent.as_ref(), created.as_ref())
            .then(Write::InsertCredential(&minted.record))
            .audit(&event);
        issue::apply(&self.store, &writes, |_, _| agent_name_taken(&minted.record.name)).await?;
        Ok(minted.secret.secret)
    }

    /// Makes a new signing key current (`keyway-hub keys rotate`); the previous one keeps
    /// verifying the tokens it signed for [`OVERLAP_SECS`]. Returns `(new kid, previous kid)`.
    /// Running hubs on the same database pick the new key up by themselves.
    pub async fn rotate_signing_key(&self) -> Result<(String, String), Error> {
        let now = self.settings.clock.now();
        let previous = self.keys.kid();
        let rotated = self
            .keys
            .rotate(&self.store, now, |kid, previous, verify_until| {
                Audit::by_operator(now, "key.rotate")
                    .target("signing_key", kid)
                    .detail(serde_json::json!({
                        "previous": previous, "previous_verifies_until": verify_until, "via": "keyway-hub keys rotate"
                    }))
                    .event()
            })
            .await?;
        if rotated.is_some() {
            // Running hubs re-read their keys at once (they would within their refresh interval).
            let notice = notices::payload(&notices::new_origin(), notices::Notice::Keys);
            if let Err(e) = self.store.notify(&[notice]).await {
                tracing::warn!(error = %error::report(&e), "telling the running hubs of the rotation failed");
            }
        }
        match rotated {
            Some(kid) => Ok((kid, previous)),
            None => Err(Error::conflict("another process rotated the signing key at the same moment; try again")),
        }
    }

    /// The kid of the current signing key.
    pub fn signing_kid(&self) -> String {
        self.keys.kid()
    }

    /// Checks the audit log's hash chain and its signed head (`keyway-hub audit verify`).
    pub async fn verify_audit(&self) -> Result<AuditReport, Error> {
        audit::chain::verify(&self.store, &self.keys).await
    }

    /// Creates a SCIM token (`keyway-hub scim token create`): returns its id and its secret,
    /// which is shown nowhere else (only its SHA-256 is stored).
    pub async fn create_scim_token(&self, label: Option<&str>) -> Result<(String, String), Error> {
        let label = scim::auth::label_of(label)?;
        let now = self.settings.clock.now();
        let (secret, record) = scim::auth::new_token(&label, None, now);
        let event = Audit::by_operator(now, "scim_token.create")
            .target("scim_token", &record.id)
            .detail(serde_json::json!({ "label": label, "via": "keyway-hub scim token create" }))
            .event();
        let applied = self.store.apply(&Change::new().then(Write::InsertScimToken(&record)).audit(&event)).await?;
        if !applied.is_done() {
            return Err(Error::Internal("a new SCIM token's hash is taken".into()));
        }
        Ok((record.id, secret))
    }

    /// Number of users.
    pub async fn user_count(&self) -> Result<u64, Error> {
        Ok(self.store.user_count().await?)
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

        let sso = self.settings.sso.clone();
        let (stop_tx, stop_rx) = watch::channel(false);
        let shared = self.store.shared();
        let state = AppState(Arc::new(Shared {
            store: self.store,
            keys: self.keys,
            secure_cookies: issuer.starts_with("https://"),
            issuer: issuer.clone(),
            settings: self.settings,
            clients: ClientRegistry::builtin(),
            client_usage: Default::default(),
            client_metadata: Default::default(),
            passwords: self.passwords,
            credentials: Default::default(),
            reviews: ReviewEvents::new(stop_rx.clone(), shared),
            origin: notices::new_origin(),
            refusals: Default::default(),
            users: Default::default(),
            sso: sso.map(|s| Arc::new(sso::provider::Idp::new(s))),
        }));
        learning::prepare(&state).await?;
        let limits = limits::Limits::new(&issuer, addr, state.settings.request_timeout);
        let app = routes::router(state.clone(), limits);
        let listener = limits::CappedListener::new(
            listener,
            state.settings.max_connections,
            state.settings.write_stall,
            state.settings.idle_timeout,
            state.settings.head_timeout,
        );

        let server = tokio::spawn(server::serve(listener, app, stop_rx.clone()));
        let (flush_stop, flush_stop_rx) = watch::channel(false);
        let refusal_flusher = tokio::spawn(tasks::refusal_flush_loop(state.clone(), flush_stop_rx.clone()));
        let flusher = tokio::spawn(tasks::flush_loop(state.clone(), flush_stop_rx));
        let sweeper = tokio::spawn(reviews::sweeper::sweep_loop(state.clone(), stop_rx.clone()));
        let key_watch = tokio::spawn(tasks::key_loop(state.clone(), stop_rx.clone()));
        let listener = tokio::spawn(notices::listen_loop(state.clone(), stop_rx.clone()));
        let purger = tokio::spawn(tasks::purge_loop(state, stop_rx));

        tracing::info!(%addr, %issuer, "keyway hub listening on http://{addr}");
        Ok(RunningHub {
            addr,
            issuer,
            stop: stop_tx,
            server,
            purger,
            sweeper,
            key_watch,
            listener,
            flusher,
            refusal_flusher,
            flush_stop,
        })
    }
}

/// Holds `clock` at the newest audit row's time: a hub restarted with its system clock set back
/// keeps the time it had reached, so nothing that expired comes back (`crate::clock`).
async fn hold_clock_at_newest_audit<S: Store>(store: &S, clock: &Clock) -> Result<(), Error> {
    let newest = store.audit_events(&store::AuditQuery { limit: 1, ..Default::default() }).await?;
    if let Some(event) = newest.first() {
        clock.hold_at_least(event.at);
        let behind = clock.behind_secs();
        if behind > 0 {
            tracing::warn!(
                behind_secs = behind,
                "the system clock is behind the newest audit row; the hub holds its time there until the clock catches up"
            );
        }
    }
    Ok(())
}

/// A hub opened on the backend its settings' database URL names (the hub is generic over its
/// [`Store`]; this is a hub on either).
#[derive(Debug)]
pub enum AnyHub {
    Sqlite(Hub<SqliteStore>),
    Postgres(Hub<PgStore>),
}

/// Runs `$body` with `$hub` bound to the inner hub, whichever backend it is on.
macro_rules! each {
    ($self:expr, $hub:ident => $body:expr) => {
        match $self {
            AnyHub::Sqlite($hub) => $body,
            AnyHub::Postgres($hub) => $body,
        }
    };
}

impl AnyHub {
    async fn open(settings: Settings) -> Result<AnyHub, Error> {
        settings.validate()?;
        Ok(match Backend::of(&settings.database_url)? {
            Backend::Sqlite => {
                if settings.hub_key.is_none() && !SqliteStore::exists(&settings.database_url) {
                    // Nothing is created without a key.
                    return Err(keys::no_hub_key(true));
                }
                let store = SqliteStore::connect(&settings.database_url).await?;
                AnyHub::Sqlite(Hub::with_store(settings, store).await?)
            }
            Backend::Postgres => {
                let store = PgStore::connect(&settings.database_url).await?;
                AnyHub::Postgres(Hub::with_store(settings, store).await?)
            }
        })
    }

    /// Which backend the hub is on.
    pub fn backend(&self) -> Backend {
        match self {
            AnyHub::Sqlite(_) => Backend::Sqlite,
            AnyHub::Postgres(_) => Backend::Postgres,
        }
    }

    /// See [`Hub::settings`].
    pub fn settings(&self) -> &Settings {
        each!(self, hub => hub.settings())
    }

    /// See [`Hub::create_user`].
    pub async fn create_user(&self, username: &str, password: &str, roles: &[Role]) -> Result<(), Error> {
        each!(self, hub => hub.create_user(username, password, roles).await)
    }

    /// See [`Hub::mint_pat`].
    pub async fn mint_pat(
        &self,
        username: &str,
        agent: Option<&str>,
        audience: keyway_api::auth::Audience,
        days: Option<u32>,
    ) -> Result<String, Error> {
        each!(self, hub => hub.mint_pat(username, agent, audience, days).await)
    }

    /// See [`Hub::rotate_signing_key`].
    pub async fn rotate_signing_key(&self) -> Result<(String, String), Error> {
        each!(self, hub => hub.rotate_signing_key().await)
    }

    /// See [`Hub::signing_kid`].
    pub fn signing_kid(&self) -> String {
        each!(self, hub => hub.signing_kid())
    }

    /// See [`Hub::verify_audit`].
    pub async fn verify_audit(&self) -> Result<AuditReport, Error> {
        each!(self, hub => hub.verify_audit().await)
    }

    /// See [`Hub::create_scim_token`].
    pub async fn create_scim_token(&self, label: Option<&str>) -> Result<(String, String), Error> {
        each!(self, hub => hub.create_scim_token(label).await)
    }

    /// See [`Hub::user_count`].
    pub async fn user_count(&self) -> Result<u64, Error> {
        each!(self, hub => hub.user_count().await)
    }

    /// See [`Hub::serve`].
    pub async fn serve(self) -> Result<RunningHub, Error> {
        each!(self, hub => hub.serve().await)
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
    /// Writes credential last-used times behind; flushes once more when stopped.
    flusher: JoinHandle<()>,
    /// Writes refusal summaries to the audit log; flushes once more when stopped.
    refusal_flusher: JoinHandle<()>,
    flush_stop: watch::Sender<bool>,
    sweeper: JoinHandle<()>,
    /// Re-reads the signing keys and rotates them when due.
    key_watch: JoinHandle<()>,
    /// Applies the other hubs' notices (shared database only).
    listener: JoinHandle<()>,
}

impl fmt::Debug for RunningHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningHub").field("addr", &self.addr).field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

impl RunningHub {
    /// Stops accepting connections, lets in-flight requests finish (up to 10 s), and returns.
    pub async fn shutdown(self) {
        let RunningHub {
            stop,
            mut server,
            purger,
            sweeper,
            key_watch,
            listener,
            flusher,
            refusal_flusher,
            flush_stop,
            addr,
            ..
        } = self;
        let _ = stop.send(true);
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut server).await.is_err() {
            tracing::warn!("requests still running after the grace period; aborting them");
            server.abort();
        }
        let _ = purger.await;
        let _ = sweeper.await;
        let _ = key_watch.await;
        let _ = listener.await;
        // After the server: uses recorded by the last requests are written too.
        let _ = flush_stop.send(true);
        let _ = flusher.await;
        let _ = refusal_flusher.await;
        tracing::info!(%addr, "keyway hub stopped");
    }
}

/// The path of every route the hub serves, as registered (`{id}` marks a path parameter), in
/// registration order. A path may take several methods.
pub fn route_paths() -> Vec<&'static str> {
    routes::routes::<SqliteStore>().paths().to_vec()
}
