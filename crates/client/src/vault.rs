//! The OS keychain: the only place a client keeps long-lived secrets.
//!
//! Entries live under service `keyway`, account `<profile>/<kind>` (Secret Service on Linux,
//! Keychain on macOS, Credential Manager on Windows). There is no plaintext fallback.

use std::sync::OnceLock;

use keyring_core::Entry;

use crate::{Error, secret::SecretString};

pub const SERVICE: &str = "keyway";

/// What kind of secret an entry holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretKind {
    RefreshToken,
    /// A sign-in's access token with its expiry ([`StoredAccess`]), kept only when the provider
    /// issued no refresh token: the session then lasts as long as this token.
    AccessToken,
    /// A user or agent PAT (`kwp_u_…`, `kwp_a_…`).
    Pat,
    /// A service account's token (`kwp_s_…`).
    ServiceToken,
    /// The key that seals the signing keys of the desktop's local hub (profile `local`).
    LocalHubKey,
}

impl SecretKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SecretKind::RefreshToken => "refresh_token",
            SecretKind::AccessToken => "access_token",
            SecretKind::Pat => "pat",
            SecretKind::ServiceToken => "service_token",
            SecretKind::LocalHubKey => "hub_key",
        }
    }
}

/// A handle on the OS keychain (the process-wide default store, opened by [`Vault::open`]).
#[derive(Clone)]
pub struct Vault {
    _opened: (),
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault(os keychain)")
    }
}

#[cfg(target_os = "linux")]
const FIX: &str = "Keyway keeps your session only in the OS keychain, and no Secret Service is \
     available. Install and start one (Debian/Ubuntu: `sudo apt install gnome-keyring`, then log in \
     to a desktop session, or run `gnome-keyring-daemon --unlock --components=secrets` inside a D-Bus \
     session) and try again";
#[cfg(target_os = "macos")]
const FIX: &str = "Keyway keeps your session only in the macOS Keychain, which could not be opened";
#[cfg(target_os = "windows")]
const FIX: &str = "Keyway keeps your session only in the Windows Credential Manager, which could not be opened";
#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
const FIX: &str = "Keyway has no OS keychain support on this platform";

static STORE: OnceLock<Result<(), String>> = OnceLock::new();

fn init_store() -> Result<(), String> {
    #[cfg(target_os = "linux")]
    let store = dbus_secret_service_keyring_store::Store::new();
    #[cfg(target_os = "macos")]
    let store = apple_native_keyring_store::keychain::Store::new();
    #[cfg(target_os = "windows")]
    let store = windows_native_keyring_store::Store::new();
    #[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
    {
        let store = store.map_err(|e| e.to_string())?;
        keyring_core::set_default_store(store);
        Ok(())
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
    Err("unsupported platform".to_string())
}

impl Vault {
    /// Connect to the OS keychain, or fail with a message that names the fix.
    pub fn open() -> Result<Vault, Error> {
        match STORE.get_or_init(init_store) {
            Ok(()) => Ok(Vault { _opened: () }),
            Err(cause) => Err(Error::Keychain(format!("{FIX}. (Cause: {cause})"))),
        }
    }

    fn entry(&self, profile: &str, kind: SecretKind) -> Result<Entry, Error> {
        Entry::new(SERVICE, &account(profile, kind)).map_err(keychain_error)
    }

    pub fn get(&self, profile: &str, kind: SecretKind) -> Result<Option<SecretString>, Error> {
        match self.entry(profile, kind)?.get_password() {
            Ok(s) => Ok(Some(SecretString::new(s))),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(keychain_error(e)),
        }
    }

    pub fn set(&self, profile: &str, kind: SecretKind, secret: &SecretString) -> Result<(), Error> {
        self.entry(profile, kind)?.set_password(secret.secret()).map_err(keychain_error)
    }

    /// Remove the entry; removing an absent entry is not an error.
    pub fn delete(&self, profile: &str, kind: SecretKind) -> Result<(), Error> {
        match self.entry(profile, kind)?.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(e) => Err(keychain_error(e)),
        }
    }
}

/// The access token of a sign-in that has no refresh token, and when it expires. Kept as one
/// keychain entry (`{"access_token", "expires_at"}`), so the two never disagree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAccess {
    pub token: SecretString,
    /// Unix seconds.
    pub expires_at: i64,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredAccessEntry<'a> {
    access_token: std::borrow::Cow<'a, str>,
    expires_at: i64,
}

impl StoredAccess {
    fn to_entry(&self) -> SecretString {
        let entry = StoredAccessEntry { access_token: self.token.secret().into(), expires_at: self.expires_at };
        SecretString::new(serde_json::to_string(&entry).expect("two plain fields always serialize"))
    }

    /// `None`: the entry is not one this client wrote.
    fn from_entry(entry: &SecretString) -> Option<StoredAccess> {
        let e: StoredAccessEntry = serde_json::from_str(entry.secret()).ok()?;
        Some(StoredAccess { token: SecretString::new(e.access_token.into_owned()), expires_at: e.expires_at })
    }
}

impl Vault {
    /// The stored access token of a sign-in without a refresh token. An entry that cannot be
    /// read is removed and counts as none.
    pub fn get_access(&self, profile: &str) -> Result<Option<StoredAccess>, Error> {
        let Some(entry) = self.get(profile, SecretKind::AccessToken)? else { return Ok(None) };
        match StoredAccess::from_entry(&entry) {
            Some(stored) => Ok(Some(stored)),
            None => {
                tracing::warn!("removing an unreadable access token entry from the keychain");
                self.delete(profile, SecretKind::AccessToken)?;
                Ok(None)
            }
        }
    }

    pub fn set_access(&self, profile: &str, stored: &StoredAccess) -> Result<(), Error> {
        self.set(profile, SecretKind::AccessToken, &stored.to_entry())
    }
}

/// The keychain account name of a secret.
pub fn account(profile: &str, kind: SecretKind) -> String {
    format!("{profile}/{}", kind.as_str())
}

fn keychain_error(e: keyring_core::Error) -> Error {
    match e {
        keyring_core::Error::NoStorageAccess(cause) => Error::Keychain(format!(
            "The OS keychain is locked or refused access ({cause}). Unlock it (on Linux: your login \
             keyring, e.g. with Seahorse or `gnome-keyring-daemon --unlock`) and try again."
        )),
        other => Error::Keychain(format!("The OS keychain failed: {other}. {FIX}.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_access_token_reads_back_and_hides_in_debug() {
        let stored =
            StoredAccess { token: SecretString::new("at-\"quoted\"-secret".into()), expires_at: 1_700_000_000 };
        let entry = stored.to_entry();
        assert_eq!(StoredAccess::from_entry(&entry), Some(stored.clone()));
        assert!(!format!("{stored:?}").contains("quoted"));
        assert_eq!(StoredAccess::from_entry(&SecretString::new("not json".into())), None);
    }
}
