//! keyway-client: everything a Keyway client does, without a UI.
//!
//! Used by the `keyway` CLI and the desktop app. Long-lived secrets (refresh tokens) live only in
//! the OS keychain ([`vault`]); access tokens only in memory, unless the provider issued no
//! refresh token: the session then lasts as long as its access token, which the keychain keeps
//! with its expiry until then.

pub mod approvals;
pub mod audit;
pub mod config;
pub mod credentials;
pub mod device;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
mod http;
mod learning;
pub mod links;
pub mod login;
pub mod loopback;
pub mod oidc;
pub mod pkce;
pub mod profiles;
pub mod registry;
pub mod reviews;
pub mod secret;
mod sse;
pub mod time;
pub mod users;
pub mod vault;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use keyway_api::UserInfo;
use tokio::sync::Mutex;

pub use config::{Config, Profile, RedirectStyle};
pub use error::Error;
pub use secret::SecretString;
pub use vault::{SecretKind, StoredAccess, Vault};

use login::{LoginOptions, Opener, Pending};
use oidc::{LoginRequest, Provider};

/// Renew the access token when it has less than this many seconds left.
const RENEW_MARGIN_SECS: i64 = 60;

/// Who is signed in, and until when. Holds no secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    pub user: UserInfo,
    /// Unix seconds when the in-memory access token expires.
    pub access_expires_at: i64,
    /// Unix seconds when the session ends for good, if known: what the server said of its
    /// refresh token, or the access token's expiry when there is no refresh token.
    pub session_expires_at: Option<i64>,
    /// False when the provider issued no refresh token: the session cannot be renewed and ends
    /// with its access token, at `access_expires_at`.
    pub renewable: bool,
}

struct Session {
    access_token: SecretString,
    info: SessionInfo,
}

/// What `logout` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogoutOutcome {
    /// The refresh token was revoked at the server (false: there was none, or the server has no
    /// revocation endpoint).
    pub revoked_at_server: bool,
    /// A keychain entry was removed.
    pub removed_from_keychain: bool,
}

/// A client for one profile.
pub struct Client {
    profile: Profile,
    vault: Vault,
    http: reqwest::Client,
    provider: Mutex<Option<Arc<Provider>>>,
    session: Mutex<Option<Session>>,
    /// JWTs exchanged from the profile's PAT, service token or sign-in, by class (memory only).
    jwts: Mutex<std::collections::HashMap<keyway_api::auth::TokenClass, credentials::CachedJwt>>,
}

/// The time now, in Unix seconds (0 if the clock is before 1970).
pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

impl Client {
    pub fn new(profile: Profile, vault: Vault) -> Result<Client, Error> {
        config::validate_profile_name(&profile.name)?;
        Ok(Client {
            profile,
            vault,
            http: oidc::http_client(),
            provider: Mutex::new(None),
            session: Mutex::new(None),
            jwts: Mutex::new(Default::default()),
        })
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    async fn provider(&self) -> Result<Arc<Provider>, Error> {
        let mut slot = self.provider.lock().await;
        if let Some(p) = slot.as_ref() {
            return Ok(p.clone());
        }
        let p = Arc::new(Provider::discover(&self.http, self.profile.issuer_url()).await?);
        *slot = Some(p.clone());
        Ok(p)
    }

    /// Check that the profile's server answers as an OpenID provider (used before saving a profile).
    pub async fn check_server(&self) -> Result<(), Error> {
        *self.provider.lock().await = None;
        self.provider().await.map(|_| ())
    }

    /// Sign in through the browser; the refresh token goes to the keychain.
    pub async fn login(&self, opener: Opener, opts: LoginOptions) -> Result<SessionInfo, Error> {
        self.sign_in(Some(opener), opts).await
    }

    /// Sign in at a hub in learning mode, which shows no form: the client takes the
    /// authorization request to the hub itself (Authorization Code with PKCE S256 all the same;
    /// the refresh token goes to the keychain). Refused by a hub that is not in learning mode.
    pub async fn login_learning(&self, opts: LoginOptions) -> Result<SessionInfo, Error> {
        self.sign_in(None, opts).await
    }

    /// The browser's sign-in with `opener`; without one, a learning hub's.
    async fn sign_in(&self, opener: Option<Opener>, opts: LoginOptions) -> Result<SessionInfo, Error> {
        // Fresh discovery and keys for every sign-in.
        *self.provider.lock().await = None;
        let provider = self.provider().await?;
        let LoginOptions { timeout, cancel, redirect } = opts;
        let (waiter, redirect_uri) = login::Waiter::new(redirect).await?;
        let pending = Pending::new(redirect_uri);
        let request = LoginRequest::for_provider(&provider, !self.profile.generic_provider());
        let url = pending.authorize_url(&provider, &self.profile.client_id, &request);
        let waiting = login::await_code(waiter, &pending, &provider, timeout, &cancel);
        let code = match opener {
            Some(opener) => {
                opener(url.as_str()).map_err(|e| {
                    Error::InvalidInput(format!(
                        "Could not open a web browser ({e}). Set BROWSER, or use `keyway login --no-browser`."
                    ))
                })?;
                waiting.await?
            }
            None => {
                let asked = async {
                    learning::authorize_without_form(&self.http, &url, &pending.redirect_uri).await?;
                    // Delivered: the listener's answer decides.
                    std::future::pending::<Result<SecretString, Error>>().await
                };
                tokio::select! {
                    code = waiting => code?,
                    failed = asked => failed?,
                }
            }
        };
        let tokens = provider
            .exchange_code(&self.http, &self.profile.client_id, &code, &pending.redirect_uri, pending.verifier.secret())
            .await?;
        self.keep(&provider, &tokens, Some(&pending.nonce)).await
    }

    /// Checks a sign-in's tokens (the id_token against the JWKS, with `nonce` when one was
    /// sent; userinfo names the same person), then keeps the session: the refresh token in the
    /// keychain, or the access token of a sign-in without one. A sign-in that fails a check
    /// stores nothing.
    pub(crate) async fn keep(
        &self,
        provider: &Provider,
        tokens: &keyway_api::TokenResponse,
        nonce: Option<&str>,
    ) -> Result<SessionInfo, Error> {
        let id_token = tokens
            .id_token
            .as_deref()
            .ok_or_else(|| Error::Protocol("the server returned no id_token for an openid sign-in".into()))?;
        let claims = provider.verify_id_token(&self.profile.client_id, id_token, nonce)?;
        let refresh = tokens.refresh_token.clone().map(SecretString::new);
        // Who is this? Checked before anything is kept: a sign-in that fails here stores nothing.
        let info = self.finish(provider, tokens, Some(claims.subject().as_str()), refresh.is_some()).await?;
        let _lock = self.lock().await?;
        let name = &self.profile.name;
        // One kind of sign-in per profile: whatever an earlier one left goes.
        let kept = match &refresh {
            Some(refresh) => self
                .vault
                .set(name, SecretKind::RefreshToken, refresh)
                .and_then(|()| self.vault.delete(name, SecretKind::AccessToken)),
            None => {
                let stored = StoredAccess {
                    token: SecretString::new(tokens.access_token.clone()),
                    expires_at: info.access_expires_at,
                };
                self.vault.set_access(name, &stored).and_then(|()| self.vault.delete(name, SecretKind::RefreshToken))
            }
        };
        if let Err(e) = kept {
            *self.session.lock().await = None;
            return Err(e);
        }
        Ok(info)
    }

    /// Turn a token response into the in-memory session, asking userinfo who this is.
    async fn finish(
        &self,
        provider: &Provider,
        tokens: &keyway_api::TokenResponse,
        subject: Option<&str>,
        renewable: bool,
    ) -> Result<SessionInfo, Error> {
        let access_token = SecretString::new(tokens.access_token.clone());
        let t = now();
        // Lifetimes come from the server: add them without overflow, whatever they say.
        let at = |secs: u64| t.saturating_add(i64::try_from(secs).unwrap_or(i64::MAX));
        let access_expires_at = at(tokens.expires_in);
        let session_expires_at = if renewable { tokens.refresh_expires_in.map(at) } else { Some(access_expires_at) };
        self.hold(provider, access_token, access_expires_at, session_expires_at, renewable, subject).await
    }

    /// Asks userinfo who holds `access_token`, then keeps the session in memory.
    async fn hold(
        &self,
        provider: &Provider,
        access_token: SecretString,
        access_expires_at: i64,
        session_expires_at: Option<i64>,
        renewable: bool,
        subject: Option<&str>,
    ) -> Result<SessionInfo, Error> {
        let user = match provider.userinfo(&self.http, &access_token).await? {
            Some(u) => u,
            None => UserInfo {
                sub: subject.unwrap_or_default().to_string(),
                preferred_username: None,
                name: None,
                roles: vec![],
            },
        };
        if let Some(sub) = subject
            && sub != user.sub
        {
            return Err(Error::Protocol("userinfo names a different user than the id_token".into()));
        }
        let info = SessionInfo { user, access_expires_at, session_expires_at, renewable };
        *self.session.lock().await = Some(Session { access_token, info: info.clone() });
        Ok(info)
    }

    /// Restore the session silently from the keychain (refresh grant, or the stored access
    /// token of a sign-in without a refresh token while it lasts).
    /// `Ok(None)`: nothing stored. `Err(SessionEnded)`: the server no longer accepts it, or its
    /// access token has expired (the keychain entry has been removed).
    pub async fn restore(&self) -> Result<Option<SessionInfo>, Error> {
        let provider = self.provider().await?;
        let _lock = self.lock().await?;
        // Read under the lock: another process may have rotated the token meanwhile.
        let Some(refresh) = self.vault.get(&self.profile.name, SecretKind::RefreshToken)? else {
            return self.restore_access(&provider).await;
        };
        let tokens = match provider.refresh(&self.http, &self.profile.client_id, &refresh).await {
            Ok(t) => t,
            Err(Error::Refused { code, message }) if code == keyway_api::codes::INVALID_GRANT => {
                self.vault.delete(&self.profile.name, SecretKind::RefreshToken)?;
                *self.session.lock().await = None;
                return Err(Error::SessionEnded(message));
            }
            Err(e) => return Err(e),
        };
        if let Some(new_refresh) = &tokens.refresh_token {
            self.vault.set(&self.profile.name, SecretKind::RefreshToken, &SecretString::new(new_refresh.clone()))?;
        }
        let subject = match &tokens.id_token {
            Some(t) => Some(provider.verify_id_token(&self.profile.client_id, t, None)?.subject().to_string()),
            None => None,
        };
        self.finish(&provider, &tokens, subject.as_deref(), true).await.map(Some)
    }

    /// The session of a sign-in without a refresh token: its stored access token, until it
    /// expires or the provider stops accepting it. Called with the profile's lock held.
    async fn restore_access(&self, provider: &Provider) -> Result<Option<SessionInfo>, Error> {
        let name = &self.profile.name;
        *self.session.lock().await = None;
        let Some(stored) = self.vault.get_access(name)? else { return Ok(None) };
        if stored.expires_at <= now() {
            self.vault.delete(name, SecretKind::AccessToken)?;
            return Err(Error::SessionEnded(format!(
                "the provider issued no refresh token, so it lasted as long as its access token, until {}",
                time::utc(stored.expires_at)
            )));
        }
        let at = stored.expires_at;
        match self.hold(provider, stored.token, at, Some(at), false, None).await {
            Err(Error::Refused { code, .. }) if code == keyway_api::codes::INVALID_TOKEN => {
                self.vault.delete(name, SecretKind::AccessToken)?;
                Err(Error::SessionEnded("the provider no longer accepts its access token".into()))
            }
            other => other.map(Some),
        }
    }

    /// A valid access token, renewed from the keychain when close to expiry.
    pub async fn access_token(&self) -> Result<SecretString, Error> {
        // A token that cannot be renewed is used to its last second.
        if let Some(s) = self.session.lock().await.as_ref()
            && s.info.access_expires_at - now() > if s.info.renewable { RENEW_MARGIN_SECS } else { 0 }
        {
            return Ok(s.access_token.clone());
        }
        self.restore().await?.ok_or(Error::NotSignedIn)?;
        let guard = self.session.lock().await;
        guard.as_ref().map(|s| s.access_token.clone()).ok_or(Error::NotSignedIn)
    }

    /// Ask the server who we are (userinfo with a fresh access token).
    pub async fn whoami(&self) -> Result<SessionInfo, Error> {
        let token = self.access_token().await?;
        let provider = self.provider().await?;
        let mut guard = self.session.lock().await;
        let s = guard.as_mut().ok_or(Error::NotSignedIn)?;
        if let Some(user) = provider.userinfo(&self.http, &token).await? {
            s.info.user = user;
        }
        Ok(s.info.clone())
    }

    /// The session held in memory, if any.
    pub async fn current(&self) -> Option<SessionInfo> {
        self.session.lock().await.as_ref().map(|s| s.info.clone())
    }

    /// Revoke the sign-in's token at the server (RFC 7009: the refresh token, or the access
    /// token of a sign-in without one) and delete it from the keychain. The keychain entry is
    /// deleted even when the server cannot be reached.
    pub async fn logout(&self) -> Result<LogoutOutcome, Error> {
        let _lock = self.lock().await?;
        *self.session.lock().await = None;
        let name = &self.profile.name;
        let token = match self.vault.get(name, SecretKind::RefreshToken)? {
            Some(refresh) => Some((refresh, "refresh_token")),
            None => self.vault.get_access(name)?.map(|a| (a.token, "access_token")),
        };
        let Some((token, hint)) = token else {
            return Ok(LogoutOutcome { revoked_at_server: false, removed_from_keychain: false });
        };
        let revoked = match self.provider().await {
            Ok(p) => p.revoke(&self.http, &self.profile.client_id, &token, hint).await,
            Err(e) => Err(e),
        };
        self.vault.delete(name, SecretKind::RefreshToken)?;
        self.vault.delete(name, SecretKind::AccessToken)?;
        match revoked {
            Ok(r) => Ok(LogoutOutcome { revoked_at_server: r, removed_from_keychain: true }),
            Err(e) => {
                tracing::warn!("the server could not revoke the session: {e}");
                Ok(LogoutOutcome { revoked_at_server: false, removed_from_keychain: true })
            }
        }
    }

    /// A cross-process lock per profile, so two processes never refresh the same token at once
    /// (rotation would make the loser trip reuse detection and end the session).
    pub(crate) async fn lock(&self) -> Result<std::fs::File, Error> {
        let dir = Config::dir()?.join("locks");
        let path = dir.join(format!("{}.lock", self.profile.name));
        tokio::task::spawn_blocking(move || -> Result<std::fs::File, Error> {
            std::fs::create_dir_all(&dir)?;
            let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
            f.lock()?;
            Ok(f)
        })
        .await
        .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?
    }
}
