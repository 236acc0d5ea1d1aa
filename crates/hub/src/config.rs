//! Hub settings: typed, with defaults in code and a few environment overrides.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use url::Url;

use crate::clock::Clock;
use crate::error::Error;
use crate::hub_key::HubKey;
use crate::net::IpNet;
use crate::sso::config::SsoSettings;

/// Environment variable overriding [`Settings::listen`].
pub const ENV_LISTEN: &str = "KEYWAY_HUB_LISTEN";
/// Environment variable overriding [`Settings::database_url`].
pub const ENV_DATABASE: &str = "KEYWAY_HUB_DATABASE";
/// Environment variable overriding [`Settings::issuer`].
pub const ENV_ISSUER: &str = "KEYWAY_HUB_ISSUER";
/// Environment variable naming the hub key file ([`Settings::hub_key`]).
pub const ENV_KEY_FILE: &str = "KEYWAY_HUB_KEY_FILE";
/// Environment variable holding the hub key itself ([`Settings::hub_key`]).
pub const ENV_KEY: &str = "KEYWAY_HUB_KEY";

/// Resources (RFC 8707) besides the hub's own API, comma-separated canonical URIs.
pub const ENV_RESOURCES: &str = "KEYWAY_HUB_RESOURCES";
/// Environment variable setting [`Settings::unused_client_days`].
pub const ENV_UNUSED_CLIENT_DAYS: &str = "KEYWAY_HUB_UNUSED_CLIENT_DAYS";
/// Environment variable turning on [`Settings::insecure_client_metadata_loopback`] (`1`).
pub const ENV_INSECURE_CLIENT_METADATA_LOOPBACK: &str = "KEYWAY_HUB_INSECURE_CLIENT_METADATA_LOOPBACK";
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
    /// A connection that is waiting for its next request (none sent yet, or the last one
    /// answered) is closed after this long without a byte, so idle keep-alive connections do
    /// not hold the [`Settings::max_connections`] slots. A request in progress (a wait) is not
    /// idle, and an event stream writes a ping every 15 s: at least 20 s.
    pub idle_timeout: Duration,
    /// A request's line and headers must all arrive within this long of the connection being
    /// ready for them (opened, or its last answer sent), or the connection is closed: a client
    /// that trickles its head a byte at a time holds a slot no longer than this. So it is also
    /// the longest a kept-alive connection waits for its next request.
    pub head_timeout: Duration,
    /// The key that seals the signing keys in the database; the same on every hub of one
    /// database. Required: a hub without one refuses to start, even on a new database.
    /// [`Settings::from_env`] reads it from `KEYWAY_HUB_KEY_FILE` or `KEYWAY_HUB_KEY`.
    pub hub_key: Option<HubKey>,
    /// How often the signing keys are re-read from the database (a rotation by another
    /// process) and checked for automatic rotation.
    pub key_refresh_interval: Duration,
    /// Sign-in through an upstream OpenID provider (`--sso-*`); `None`: passwords only.
    pub sso: Option<SsoSettings>,
    /// Protected (roles enforced, the default) or learning (authentication off, loopback only).
    pub mode: Mode,
    /// Time source; tests pass an adjustable one.
    pub clock: Clock,
    /// Resources (RFC 8707) the hub issues tokens for besides its own API: the canonical URIs
    /// of MCP servers. A token asked for one carries it as its `aud`.
    pub resources: Vec<String>,
    /// Sign-in requests (`/oauth/authorize`) one client address may start in 15 minutes; each
    /// leaves a pending row for 10 minutes. Beyond it: `429` with `Retry-After`.
    pub pending_per_address: u32,
    /// Pending sign-in requests the hub keeps at most, from everyone; beyond it: `503` with
    /// `Retry-After` until some expire or are used.
    pub pending_total: u64,
    /// Days after which a dynamically registered client (RFC 7591) that got no token (issued
    /// or refreshed) is deleted, with the sign-ins issued to it; `0`: never.
    pub unused_client_days: u32,
    /// INSECURE, for tests only: Client ID Metadata Document URLs may be plain `http` and on
    /// the loopback interface. Off, they must be `https` to a public address.
    pub insecure_client_metadata_loopback: bool,
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
            idle_timeout: Duration::from_secs(60),
            head_timeout: Duration::from_secs(20),
            hub_key: None,
            key_refresh_interval: Duration::from_secs(30),
            sso: None,
            mode: Mode::Protected,
            clock: Clock::system(),
            resources: Vec::new(),
            pending_per_address: 300,
            pending_total: 20_000,
            unused_client_days: 30,
            insecure_client_metadata_loopback: false,
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
            .field("idle_timeout", &self.idle_timeout)
            .field("head_timeout", &self.head_timeout)
            .field("hub_key", &self.hub_key)
            .field("key_refresh_interval", &self.key_refresh_interval)
            .field("sso", &self.sso)
            .field("mode", &self.mode)
            .field("clock", &self.clock)
            .field("resources", &self.resources)
            .field("pending_per_address", &self.pending_per_address)
            .field("pending_total", &self.pending_total)
            .field("unused_client_days", &self.unused_client_days)
            .field("insecure_client_metadata_loopback", &self.insecure_client_metadata_loopback)
            .finish()
    }
}

impl Settings {
    /// Defaults, overridden by `KEYWAY_HUB_LISTEN`, `KEYWAY_HUB_DATABASE` and `KEYWAY_HUB_ISSUER`
    /// when they are set and non-empty, with the hub key from `KEYWAY_HUB_KEY_FILE` or
    /// `KEYWAY_HUB_KEY` (see [`Settings::from_env_with_key_file`]).
    pub fn from_env() -> Result<Settings, Error> {
        Settings::from_env_with_key_file(None)
    }

    /// [`Settings::from_env`], with the hub key found the one way every `keyway-hub` command
    /// finds it: the file `key_file` (`--key-file`) if given, else the file named by
    /// `KEYWAY_HUB_KEY_FILE`, else the key in `KEYWAY_HUB_KEY`. A key file must be its owner's
    /// alone (no group or other permissions). Setting both variables is refused as ambiguous.
    pub fn from_env_with_key_file(key_file: Option<&Path>) -> Result<Settings, Error> {
        Settings::from_lookup(key_file, |name| std::env::var(name).ok())
    }

    fn from_lookup(key_file: Option<&Path>, lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, Error> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let hub_key = match (key_file, get(ENV_KEY_FILE), get(ENV_KEY)) {
            (Some(path), _, _) => Some(HubKey::from_file(path)?),
            (None, Some(_), Some(_)) => {
                return Err(Error::HubKey(format!(
                    "both {ENV_KEY_FILE} and {ENV_KEY} are set; set only one (or pass --key-file)"
                )));
            }
            (None, Some(path), None) => Some(HubKey::from_file(Path::new(&path))?),
            (None, None, Some(text)) => Some(
                HubKey::parse(&zeroize::Zeroizing::new(text)).map_err(|e| Error::HubKey(format!("{ENV_KEY}: {e}")))?,
            ),
            (None, None, None) => None,
        };
        let mut settings = Settings { hub_key, ..Settings::default() };
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
        if let Some(days) = get(ENV_UNUSED_CLIENT_DAYS) {
            settings.unused_client_days = days.parse().map_err(|_| Error::InvalidSetting {
                name: ENV_UNUSED_CLIENT_DAYS,
                reason: format!("'{days}' is not a number of days (0: never)"),
            })?;
        }
        if let Some(on) = get(ENV_INSECURE_CLIENT_METADATA_LOOPBACK) {
            settings.insecure_client_metadata_loopback = match on.as_str() {
                "1" | "true" => true,
                "0" | "false" => false,
                _ => {
                    return Err(Error::InvalidSetting {
                        name: ENV_INSECURE_CLIENT_METADATA_LOOPBACK,
                        reason: format!("'{on}' is not 1 or 0"),
                    });
                }
            };
        }
        if let Some(resources) = get(ENV_RESOURCES) {
            for resource in resources.split(',').map(str::trim).filter(|r| !r.is_empty()) {
                settings.resources.push(resource.to_owned());
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
        if self.idle_timeout < Duration::from_secs(20) {
            return bad("idle_timeout", "must be at least 20 seconds (event streams ping every 15 s)");
        }
        if self.head_timeout < Duration::from_secs(1) || self.head_timeout > Duration::from_secs(3600) {
            return bad("head_timeout", "must be between 1 second and 1 hour");
        }
        if self.max_connections == 0 {
            return bad("max_connections", "must be at least 1");
        }
        if self.key_refresh_interval < Duration::from_millis(10)
            || self.key_refresh_interval > Duration::from_secs(3600)
        {
            return bad("key_refresh_interval", "must be between 10 milliseconds and 1 hour");
        }
        if let Some(sso) = &self.sso {
            sso.validate()?;
        }
        if self.mode == Mode::Learning {
            check_learning(self)?;
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
        if self.unused_client_days > 3650 {
            return bad("unused_client_days", "must be at most 3650 days (0: never)");
        }
        for resource in &self.resources {
            // RFC 8707 §2: an absolute URI without a fragment.
            if !url::Url::parse(resource).is_ok_and(|u| u.fragment().is_none() && u.has_host()) {
                return bad("resources", &format!("'{resource}' is not an absolute URI without a fragment"));
            }
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
        let s = Settings::from_lookup(None, |k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(s.listen.port(), 9999);
        assert_eq!(s.database_url, "sqlite:///tmp/x.db");
        assert_eq!(s.issuer.as_deref(), Some("https://hub.example.com"));

        let bad = Settings::from_lookup(None, |k| (k == ENV_LISTEN).then(|| "nope".to_owned()));
        assert!(matches!(bad, Err(Error::InvalidSetting { name: ENV_LISTEN, .. })));
    }

    #[test]
    fn debug_redacts_database_url_and_hub_key() {
        let key = HubKey::generate();
        let text = key.to_text();
        let s = Settings { database_url: "postgres://u:secret@h/db".into(), hub_key: Some(key), ..Settings::default() };
        let shown = format!("{s:?}");
        assert!(!shown.contains("secret"));
        assert!(!shown.contains(text.as_str()));
    }

    #[test]
    fn the_hub_key_comes_from_the_flag_then_the_file_variable_then_the_key_variable() {
        let dir = tempfile::tempdir().unwrap();
        let (flag, file) = (dir.path().join("flag.key"), dir.path().join("env.key"));
        let (flag_key, file_key, env_key) = (HubKey::generate(), HubKey::generate(), HubKey::generate());
        flag_key.write_new_file(&flag).unwrap();
        file_key.write_new_file(&file).unwrap();
        let file_name = file.display().to_string();
        let env_text = env_key.to_text().to_string();
        let id = |s: Settings| s.hub_key.map(|k| k.id());

        let only_key = |k: &str| (k == ENV_KEY).then(|| env_text.clone());
        assert_eq!(id(Settings::from_lookup(None, only_key).unwrap()), Some(env_key.id()));
        let only_file = |k: &str| (k == ENV_KEY_FILE).then(|| file_name.clone());
        assert_eq!(id(Settings::from_lookup(None, only_file).unwrap()), Some(file_key.id()));
        let both = |k: &str| match k {
            ENV_KEY => Some(env_text.clone()),
            ENV_KEY_FILE => Some(file_name.clone()),
            _ => None,
        };
        assert!(Settings::from_lookup(None, both).unwrap_err().to_string().contains("set only one"));
        assert_eq!(id(Settings::from_lookup(Some(&flag), both).unwrap()), Some(flag_key.id()));
        assert_eq!(id(Settings::from_lookup(None, |_| None).unwrap()), None);
        let malformed = Settings::from_lookup(None, |k| (k == ENV_KEY).then(|| "not a key".to_owned()));
        assert!(malformed.unwrap_err().to_string().contains(ENV_KEY));
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

/// The settings learning mode needs: loopback only (the listen address and the issuer), and no
/// upstream IdP (it would be bypassed).
fn check_learning(settings: &Settings) -> Result<(), Error> {
    let bad = |reason: String| Err(Error::InvalidSetting { name: "mode", reason });
    if !settings.listen.ip().is_loopback() {
        return bad(format!(
            "learning mode turns authentication off, so the hub listens on loopback only, not on {}",
            settings.listen
        ));
    }
    if let Some(issuer) = &settings.issuer {
        let host = url::Url::parse(issuer).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default();
        let loopback = host == "localhost"
            || host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if !loopback {
            return bad(format!(
                "learning mode turns authentication off, so its issuer must be a loopback address, not {issuer}"
            ));
        }
    }
    if settings.sso.is_some() {
        return bad("learning mode signs everyone in as the learner: it cannot be combined with --sso-*".to_owned());
    }
    Ok(())
}

/// Learning mode turns authentication off for a first contact: every request without a
/// credential acts as a local learner holding every role. Protected mode enforces roles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    #[default]
    Protected,
    Learning,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Protected => "protected",
            Mode::Learning => "learning",
        }
    }

    pub fn parse(s: &str) -> Option<Mode> {
        [Mode::Protected, Mode::Learning].into_iter().find(|m| m.as_str() == s)
    }
}
