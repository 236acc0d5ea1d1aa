//! What every handler shares: [`AppState`], a cheap handle on [`Shared`].

use std::ops::Deref;
use std::sync::Arc;

use crate::audit::refusals::Refusals;
use crate::clients::{ClientRegistry, ClientUsage};
use crate::config::Settings;
use crate::credentials::cache::Credentials;
use crate::keys::Keys;
use crate::live_users::LiveUsers;
use crate::reviews::events::ReviewEvents;
use crate::users::Passwords;

/// Everything handlers share.
pub(crate) struct Shared<S> {
    pub(crate) store: S,
    pub(crate) keys: Arc<Keys>,
    pub(crate) settings: Settings,
    /// Issuer URL without a trailing slash.
    pub(crate) issuer: String,
    pub(crate) clients: ClientRegistry,
    /// Last uses of registered clients, written behind.
    pub(crate) client_usage: ClientUsage,
    /// Clients fetched from their metadata documents, and recent refusals.
    pub(crate) client_metadata: crate::clients::MetadataCache,
    pub(crate) passwords: Arc<Passwords>,
    /// Mark cookies `Secure` (the issuer is https).
    pub(crate) secure_cookies: bool,
    /// Credential cache and last-used buffer.
    pub(crate) credentials: Credentials,
    /// Live review events (SSE streams, waiters).
    pub(crate) reviews: ReviewEvents,
    /// Refusals counted for the audit log, written behind as summary rows.
    pub(crate) refusals: Refusals,
    /// Users as requests see them (disabled, roles), invalidated by every user change.
    pub(crate) users: LiveUsers,
    /// This process's tag on the notices it sends the other hubs (`crate::notices`).
    pub(crate) origin: String,
    /// The upstream OpenID provider people sign in through, if configured.
    pub(crate) sso: Option<Arc<crate::sso::provider::Idp>>,
}

impl<S> Shared<S> {
    /// The hub's clock, in Unix seconds.
    pub(crate) fn now(&self) -> i64 {
        self.settings.clock.now()
    }

    /// The absolute URL of one of the hub's own paths.
    pub(crate) fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }
}

/// Axum state: a cheap handle on [`Shared`].
pub(crate) struct AppState<S>(pub(crate) Arc<Shared<S>>);

impl<S> Clone for AppState<S> {
    fn clone(&self) -> Self {
        AppState(Arc::clone(&self.0))
    }
}

impl<S> Deref for AppState<S> {
    type Target = Shared<S>;
    fn deref(&self) -> &Shared<S> {
        &self.0
    }
}
