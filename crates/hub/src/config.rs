//! Hub settings: typed, with defaults in code and a few environment overrides.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use url::Url;

use crate::clock::Clock;
use crate::error::Error;
use crate::net::IpNet;

/// Environment variable overriding [`Settings::listen`].
pub const ENV_LISTEN: &str = "KEYWAY_HUB_LISTEN";
/// Environment variable overriding [`Settings::database_url`].
pub const ENV_DATABASE: &str = "KEYWAY_HUB_DATABASE";
/// Environment variable overriding [`Settings::issuer`].
pub const ENV_ISSUER: &str = "KEYWAY_HUB_ISSUER";

/// Environment variable adding to [`Settings::trusted_proxies`] (comma-separated).
pub const ENV_TRUSTED_PROXIES: &str = "KEYWAY_HUB_TRUSTED_PROXIES";

/// Longest lifetime an authorization code may have (RFC 9700 §4.1.2 recommends short-lived codes).
pub const MAX_CODE_TTL: Duration = Duration::from_secs(60);

/// Everything the hub can be configured with.
#[derive(Clone)]
pub struct Settings {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// sqlx database URL, e.g. `sqlite://keyway-hub.db`.
    pub database_url: String,
    /// Public base URL of the hub (`iss`); defaults to `http://<bound address>`.
    pub issuer: Option<String>,
    /// Lifetime of access tokens.
    pub access_token_ttl: Duration,
    /// Absolute lifetime of a sign-in (refresh token family), counted from the login.
    pub session_lifetime: Duration,
    /// Lifetime of authorization codes; at most [`MAX_CODE_TTL`].
    pub code_ttl: Duration,
    /// Lifetime of the browser's login session cookie.
    pub login_session_ttl: Duration,
    /// Proxies whose `X-Forwarded-For` names the client (sign-in throttling by address);
    /// without one, the socket's address is the client's.
    pub trusted_proxies: Vec<IpNet>,
    /// Password hashes running or waiting at once; beyond it sign-in answers `503`. 0: four
    /// per core.
    pub hash_queue: usize,
    /// Longest time a request may take (streams and waits are exempt, and bounded in number).
    pub request_timeout: Duration,
    /// Open connections at most; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// A connection whose writes make no progress for this long is closed (a client that
    /// stopped reading a stream).
    pub write_stall: Duration,
    /// Time source; tests pass an adjustable one.
    pub clock: Clock,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)),
            database_url: "sqlite://keyway-hub.db".to_owned(),
            issuer: None,
            access_token_ttl: Duration::from_secs(15 * 60),
            session_lifetime: Duration::from_secs(30 * 24 * 3600),
            code_ttl: MAX_CODE_TTL,
            login_session_ttl: Duration::from_secs(12 * 3600),
            trusted_proxies: Vec::new(),
            hash_queue: 0,
            request_timeout: Duration::from_secs(30),
            max_connections: 1024,
            write_stall: Duration::from_secs(30),
            clock: Clock::system(),
        }
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            // May carry credentials (e.g. a future Postgres URL).
            .field("database_url", &"[redacted]")
            .field("issuer", &self.issuer)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("session_lifetime", &self.session_lifetime)
            .field("code_ttl", &self.code_ttl)
            .field("login_session_ttl", &self.login_session_ttl)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("hash_queue", &self.hash_queue)
            .field("request_timeout", &self.request_timeout)
            .field("max_connections", &self.max_connections)
            .field("write_stall", &self.write_stall)
            .field("clock", &self.clock)
            .finish()
    }
}

impl Settings {
    /// Defaults, overridden by `KEYWAY_HUB_LISTEN`, `KEYWAY_HUB_DATABASE` and `KEYWAY_HUB_ISSUER`
    /// when they are set and non-empty.
    pub fn from_env() -> Result<Settings, Error> {
        Settings::from_lookup(|name| std::env::var(name).ok())
    }

    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, Error> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let mut settings = Settings::default();
        if let Some(listen) = get(ENV_LISTEN) {
            settings.listen = listen.parse().map_err(|_| Error::InvalidSetting {
                name: ENV_LISTEN,
                reason: format!("'{listen}' is not an address like 127.0.0.1:8080"),
            })?;
        }
        if let Some(database) = get(ENV_DATABASE) {
            settings.database_url = database;
        }
        if let Some(issuer) = get(ENV_ISSUER) {
            settings.issuer = Some(normalize_issuer(&issuer)?);
        }
        if let Some(proxies) = get(ENV_TRUSTED_PROXIES) {
            for proxy in proxies.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let net =
                    proxy.parse().map_err(|reason| Error::InvalidSetting { name: ENV_TRUSTED_PROXIES, reason })?;
                settings.trusted_proxies.push(net);
            }
        }
        Ok(settings)
    }

    /// Checks values that could make the hub insecure or useless.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let bad = |name: &'static str, reason: &str| Err(Error::InvalidSetting { name, reason: reason.to_owned() });
        if self.code_ttl.is_zero() || self.code_ttl > MAX_CODE_TTL {
            return bad("code_ttl", "must be between 1 and 60 seconds");
        }
        if self.access_token_ttl < Duration::from_secs(1) || self.access_token_ttl > Duration::from_secs(24 * 3600) {
            return bad("access_token_ttl", "must be between 1 second and 24 hours");
        }
        if self.session_lifetime < Duration::from_secs(1)
            || self.session_lifetime > Duration::from_secs(366 * 24 * 3600)
        {
            return bad("session_lifetime", "must be between 1 second and 366 days");
        }
        if self.login_session_ttl < Duration::from_secs(1)
            || self.login_session_ttl > Duration::from_secs(30 * 24 * 3600)
        {
            return bad("login_session_ttl", "must be between 1 second and 30 days");
        }
        if self.request_timeout < Duration::from_secs(1) || self.request_timeout > Duration::from_secs(3600) {
            return bad("request_timeout", "must be between 1 second and 1 hour");
        }
        if self.write_stall < Duration::from_secs(1) {
            return bad("write_stall", "must be at least 1 second");
        }
        if self.max_connections == 0 {
            return bad("max_connections", "must be at least 1");
        }
        if self.database_url.trim().is_empty() {
            return bad("database_url", "must not be empty");
        }
        match &self.issuer {
            Some(issuer) => {
                normalize_issuer(issuer)?;
            }
            // The default issuer is the listen address, which clients must be able to reach:
            // `http://0.0.0.0:…` is no address to sign in at.
            None if self.listen.ip().is_unspecified() => {
                return Err(Error::InvalidSetting {
                    name: "issuer",
                    reason: format!(
                        "the hub listens on {} (every interface), so it needs its public URL: set --issuer \
                         (KEYWAY_HUB_ISSUER), e.g. https://keyway.example.com",
                        self.listen
                    ),
                });
            }
            None => {}
        }
        Ok(())
    }
}

/// Validates an issuer URL (RFC 8414 §2: https or http, no query, no fragment) and strips a
/// trailing slash so endpoint URLs can be appended.
pub(crate) fn normalize_issuer(raw: &str) -> Result<String, Error> {
    let invalid = |reason: &str| Error::InvalidSetting { name: "issuer", reason: format!("'{raw}' {reason}") };
    let url = Url::parse(raw.trim()).map_err(|e| invalid(&format!("is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("must start with https:// or http://"));
    }
    if url.host().is_none() {
        return Err(invalid("has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("must not have a query or a fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must not contain credentials"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn defaults() {
        let s = Settings::default();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.database_url, "sqlite://keyway-hub.db");
        assert_eq!(s.access_token_ttl, Duration::from_secs(900));
        assert_eq!(s.code_ttl, Duration::from_secs(60));
        s.validate().unwrap();
    }

    #[test]
    fn env_overrides() {
        let env: HashMap<&str, &str> = HashMap::from([
            (ENV_LISTEN, "127.0.0.1:9999"),
            (ENV_DATABASE, "sqlite:///tmp/x.db"),
            (ENV_ISSUER, "https://hub.example.com/"),
        ]);
        let s = Settings::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(s.listen.port(), 9999);
        assert_eq!(s.database_url, "sqlite:///tmp/x.db");
        assert_eq!(s.issuer.as_deref(), Some("https://hub.example.com"));

        let bad = Settings::from_lookup(|k| (k == ENV_LISTEN).then(|| "nope".to_owned()));
        assert!(matches!(bad, Err(Error::InvalidSetting { name: ENV_LISTEN, .. })));
    }

    #[test]
    fn debug_redacts_database_url() {
        let s = Settings { database_url: "postgres://u:secret@h/db".into(), ..Settings::default() };
        assert!(!format!("{s:?}").contains("secret"));
    }

    #[test]
    fn validation() {
        let long_code = Settings { code_ttl: Duration::from_secs(61), ..Settings::default() };
        assert!(long_code.validate().is_err());
        for bad in ["ftp://x", "https://x/?q", "https://x/#f", "not a url", "https://u:p@x"] {
            assert!(normalize_issuer(bad).is_err(), "{bad}");
        }
        assert_eq!(normalize_issuer("http://127.0.0.1:8080").unwrap(), "http://127.0.0.1:8080");
        assert_eq!(normalize_issuer("https://h.example/sub/").unwrap(), "https://h.example/sub");
        for every in ["0.0.0.0:8080", "[::]:8080"] {
            let wild = Settings { listen: every.parse().unwrap(), ..Settings::default() };
            let err = wild.validate().unwrap_err().to_string();
            assert!(err.contains("--issuer"), "{every}: {err}");
            let named = Settings { issuer: Some("https://keyway.example.com".into()), ..wild };
            named.validate().unwrap();
        }
    }
}
