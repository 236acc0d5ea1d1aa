//! Profiles: which server to talk to and as which client. Never secrets: those live in the vault.
//!
//! Stored as TOML in `$KEYWAY_CONFIG_DIR` or the XDG config dir (`~/.config/keyway/config.toml`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use url::Url;

use crate::Error;

pub const DEFAULT_PROFILE: &str = "default";
const FILE_NAME: &str = "config.toml";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    #[serde(skip)]
    pub name: String,
    /// The hub (or, with `issuer`, any OpenID provider's) base URL.
    pub server: Url,
    #[serde(default = "default_client_id")]
    pub client_id: String,
    /// Set for a generic OpenID provider: discovery is read from this issuer instead of `server`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<Url>,
    /// True when `server` is the hub embedded in the desktop app.
    #[serde(default)]
    pub local: bool,
    /// The agent (name or id) this profile acts as: it must hold that agent's PAT, never a
    /// user PAT (the guardrail), and sends it as `agent_id` when exchanging.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The service account this profile signs in as (its token is in the keychain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    /// Where the desktop app has the browser bring a sign-in back (`redirect = "deep-link"`).
    /// The CLI always uses the loopback listener.
    #[serde(default, skip_serializing_if = "RedirectStyle::is_loopback")]
    pub redirect: RedirectStyle,
}

/// How the browser hands a sign-in back to the desktop app.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RedirectStyle {
    /// A listener on `http://127.0.0.1:<any free port>/callback` (RFC 8252 §7.3).
    #[default]
    Loopback,
    /// The private-use URI scheme `app.keyway.desktop:/oauth/callback` (RFC 8252 §7.1): the
    /// browser hands the URL to the operating system, which starts the installed app with it; a
    /// running app receives it from that second launch.
    DeepLink,
}

impl RedirectStyle {
    pub fn is_loopback(&self) -> bool {
        *self == RedirectStyle::Loopback
    }
}

fn default_client_id() -> String {
    keyway_api::DESKTOP_CLIENT_ID.to_string()
}

impl Profile {
    pub fn new(name: &str, server: Url) -> Profile {
        Profile {
            name: name.to_string(),
            server,
            client_id: default_client_id(),
            issuer: None,
            local: false,
            agent: None,
            service_account: None,
            redirect: RedirectStyle::Loopback,
        }
    }

    /// The URL discovery is read from: the explicit issuer, else the server.
    pub fn issuer_url(&self) -> &Url {
        self.issuer.as_ref().unwrap_or(&self.server)
    }

    /// True when the profile signs in at some OpenID provider named by its issuer rather than
    /// at a Keyway hub (which asks for its sign-in differently, see [`crate::oidc::LoginRequest`]).
    pub fn generic_provider(&self) -> bool {
        self.issuer.is_some()
    }
}

/// Check a profile name: it becomes part of keychain account names and file names.
pub fn validate_profile_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "'{name}' is not a valid profile name: use 1-64 letters, digits, '-', '_' or '.'"
        )))
    }
}

/// Parse a server URL typed by a person: http(s) only, no credentials, no fragment.
pub fn parse_server_url(input: &str) -> Result<Url, Error> {
    let input = input.trim();
    let url = Url::parse(input).map_err(|e| {
        Error::InvalidInput(format!("'{input}' is not a valid URL ({e}); try e.g. https://hub.example.com"))
    })?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(Error::InvalidInput(format!("'{input}' must start with https:// (or http:// for a local hub)")));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::InvalidInput(format!("'{input}' has no host name")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::InvalidInput("a server URL must not contain a user name or password".into()));
    }
    if url.fragment().is_some() || url.query().is_some() {
        return Err(Error::InvalidInput(format!("'{input}' must not have a query or fragment")));
    }
    Ok(url)
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_profile: Option<String>,
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

impl Config {
    /// `$KEYWAY_CONFIG_DIR`, else `<XDG config dir>/keyway`.
    pub fn dir() -> Result<PathBuf, Error> {
        if let Some(d) = std::env::var_os("KEYWAY_CONFIG_DIR") {
            return Ok(PathBuf::from(d));
        }
        dirs::config_dir()
            .map(|d| d.join("keyway"))
            .ok_or_else(|| Error::Config("no configuration directory: set HOME or KEYWAY_CONFIG_DIR".into()))
    }

    pub fn path() -> Result<PathBuf, Error> {
        Ok(Self::dir()?.join(FILE_NAME))
    }

    pub fn load() -> Result<Config, Error> {
        Self::load_from(&Self::path()?)
    }

    pub fn load_from(path: &Path) -> Result<Config, Error> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(e) => return Err(Error::Config(format!("cannot read {}: {e}", path.display()))),
        };
        let mut cfg: Config =
            toml::from_str(&text).map_err(|e| Error::Config(format!("{} is not valid: {e}", path.display())))?;
        for (name, p) in cfg.profiles.iter_mut() {
            p.name = name.clone();
        }
        Ok(cfg)
    }

    pub fn save(&self) -> Result<(), Error> {
        self.save_to(&Self::path()?)
    }

    /// Write atomically (temp file + rename) so a crash never leaves half a file.
    pub fn save_to(&self, path: &Path) -> Result<(), Error> {
        let dir = path.parent().ok_or_else(|| Error::Config("config path has no parent".into()))?;
        std::fs::create_dir_all(dir).map_err(|e| Error::Config(format!("cannot create {}: {e}", dir.display())))?;
        let text = toml::to_string_pretty(self).map_err(|e| Error::Config(e.to_string()))?;
        let tmp = path.with_extension("toml.tmp");
        std::fs::write(&tmp, text).map_err(|e| Error::Config(format!("cannot write {}: {e}", tmp.display())))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::Config(format!("cannot write {}: {e}", path.display())))?;
        Ok(())
    }

    /// The default profile, if one is set and exists.
    pub fn current(&self) -> Option<&Profile> {
        self.default_profile.as_ref().and_then(|n| self.profiles.get(n))
    }

    pub fn get(&self, name: &str) -> Option<&Profile> {
        self.profiles.get(name)
    }

    pub fn upsert(&mut self, p: Profile, make_default: bool) {
        if make_default || self.default_profile.is_none() {
            self.default_profile = Some(p.name.clone());
        }
        self.profiles.insert(p.name.clone(), p);
    }

    pub fn remove(&mut self, name: &str) {
        self.profiles.remove(name);
        if self.default_profile.as_deref() == Some(name) {
            self.default_profile = self.profiles.keys().next().cloned();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_names_and_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let mut cfg = Config::default();
        cfg.upsert(Profile::new("work", Url::parse("https://hub.example.com").unwrap()), false);
        let mut local = Profile::new("local", Url::parse("http://127.0.0.1:4567").unwrap());
        local.local = true;
        cfg.upsert(local, true);
        cfg.save_to(&path).unwrap();
        let back = Config::load_from(&path).unwrap();
        assert_eq!(back, cfg);
        assert_eq!(back.current().unwrap().name, "local");
        assert_eq!(back.get("work").unwrap().client_id, keyway_api::DESKTOP_CLIENT_ID);
        assert_eq!(back.get("work").unwrap().redirect, RedirectStyle::Loopback);
    }

    #[test]
    fn redirect_style_is_read_and_defaults_to_loopback() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "[profiles.a]\nserver = \"http://127.0.0.1:1\"\nredirect = \"deep-link\"\n\n[profiles.b]\nserver = \"http://127.0.0.1:2\"\n",
        )
        .unwrap();
        let cfg = Config::load_from(&path).unwrap();
        assert_eq!(cfg.get("a").unwrap().redirect, RedirectStyle::DeepLink);
        assert_eq!(cfg.get("b").unwrap().redirect, RedirectStyle::Loopback);
        cfg.save_to(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches("redirect = \"deep-link\"").count(), 1, "{text}");
        std::fs::write(&path, "[profiles.c]\nserver = \"http://127.0.0.1:3\"\nredirect = \"carrier-pigeon\"\n")
            .unwrap();
        assert!(matches!(Config::load_from(&path), Err(Error::Config(_))));
    }

    #[test]
    fn missing_file_is_empty_config_and_garbage_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Config::load_from(&dir.path().join("nope.toml")).unwrap(), Config::default());
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "profiles = 3").unwrap();
        assert!(matches!(Config::load_from(&bad), Err(Error::Config(_))));
    }

    #[test]
    fn server_urls_are_checked() {
        assert!(parse_server_url(" https://hub.example.com ").is_ok());
        for bad in ["hub.example.com", "ftp://x", "https://u:p@x", "https://x/#f", "not a url", "http://"] {
            assert!(matches!(parse_server_url(bad), Err(Error::InvalidInput(_))), "{bad}");
        }
    }

    #[test]
    fn profile_names_are_checked() {
        assert!(validate_profile_name("work-2").is_ok());
        for bad in ["", ".x", "a/b", "a b", &"x".repeat(65)] {
            assert!(validate_profile_name(bad).is_err(), "{bad}");
        }
    }
}
