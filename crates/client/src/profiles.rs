//! Profiles side by side: list them, choose the one in use, remove one. The CLI's
//! `keyway profile list|use|remove` and the desktop's switcher both go through here, so both
//! agree on what "in use" and "signed in" mean and on what removing deletes.

use serde::Serialize;

use crate::Client;
use crate::config::{Config, Profile};
use crate::error::Error;
use crate::vault::{SecretKind, Vault};

/// The secrets a profile may hold in the keychain, all of which go when it is removed. The key
/// of the desktop's local hub is not among them: it belongs to the hub's database, which stays.
const PROFILE_SECRETS: [SecretKind; 4] =
    [SecretKind::RefreshToken, SecretKind::AccessToken, SecretKind::Pat, SecretKind::ServiceToken];

/// One profile as the lists show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProfileSummary {
    pub name: String,
    pub server: String,
    /// The hub embedded in the desktop app.
    pub local: bool,
    /// The profile commands use when none is named.
    pub current: bool,
    /// What the keychain holds for it: a sign-in, a PAT or a service token.
    pub credential: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
}

/// Every profile, by name, with what the keychain holds for each.
pub fn list(cfg: &Config, vault: &Vault) -> Result<Vec<ProfileSummary>, Error> {
    cfg.profiles.values().map(|p| summary(cfg, p, vault)).collect()
}

fn summary(cfg: &Config, p: &Profile, vault: &Vault) -> Result<ProfileSummary, Error> {
    let mut credential = None;
    for (kind, label) in [
        (SecretKind::RefreshToken, "signed in"),
        (SecretKind::AccessToken, "signed in"),
        (SecretKind::Pat, "PAT"),
        (SecretKind::ServiceToken, "service token"),
    ] {
        if vault.get(&p.name, kind)?.is_some() {
            credential = Some(label);
            break;
        }
    }
    Ok(ProfileSummary {
        name: p.name.clone(),
        server: p.server.to_string(),
        local: p.local,
        current: cfg.default_profile.as_deref() == Some(p.name.as_str()),
        credential,
        agent: p.agent.clone(),
        service_account: p.service_account.clone(),
    })
}

/// Makes `name` the profile in use. An unknown name changes nothing.
pub fn use_profile(cfg: &mut Config, name: &str) -> Result<(), Error> {
    if cfg.get(name).is_none() {
        return Err(unknown(cfg, name));
    }
    cfg.default_profile = Some(name.to_owned());
    Ok(())
}

/// What removing a profile did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Removed {
    pub name: String,
    /// The sign-in was revoked at its server (false when there was none, or the server could
    /// not be reached: the keychain entry is deleted all the same).
    pub revoked_at_server: bool,
    /// The profile in use afterwards, if any is left.
    pub current: Option<String>,
}

/// Signs the profile out (revoking its sign-in at the server when it can), deletes every secret
/// it holds in the keychain and removes it from `cfg`. The caller saves `cfg`.
pub async fn remove(cfg: &mut Config, vault: &Vault, name: &str) -> Result<Removed, Error> {
    let profile = cfg.get(name).cloned().ok_or_else(|| unknown(cfg, name))?;
    let revoked = Client::new(profile, vault.clone())?.logout().await?.revoked_at_server;
    for kind in PROFILE_SECRETS {
        vault.delete(name, kind)?;
    }
    cfg.remove(name);
    Ok(Removed { name: name.to_owned(), revoked_at_server: revoked, current: cfg.default_profile.clone() })
}

fn unknown(cfg: &Config, name: &str) -> Error {
    let known: Vec<&str> = cfg.profiles.keys().map(String::as_str).collect();
    let known = if known.is_empty() { "none yet".to_owned() } else { known.join(", ") };
    Error::InvalidInput(format!("There is no profile named “{name}” (profiles: {known})."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Config {
        let mut cfg = Config::default();
        for (name, url) in [("team", "https://hub.example.com"), ("local", "http://127.0.0.1:7400")] {
            cfg.upsert(Profile::new(name, url.parse().unwrap()), false);
        }
        cfg
    }

    #[test]
    fn using_a_known_profile_makes_it_current_and_an_unknown_one_changes_nothing() {
        let mut cfg = cfg();
        assert_eq!(cfg.default_profile.as_deref(), Some("team"));
        use_profile(&mut cfg, "local").unwrap();
        assert_eq!(cfg.current().map(|p| p.name.as_str()), Some("local"));
        let before = cfg.clone();
        let e = use_profile(&mut cfg, "nope").unwrap_err();
        assert!(e.to_string().contains("nope") && e.to_string().contains("local, team"), "{e}");
        assert_eq!(cfg, before);
    }
}
