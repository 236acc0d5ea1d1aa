//! The hub's Ed25519 signing keys: sealed in the database under the hub key
//! (`crate::hub_key`), one current key that signs, the previous ones that keep verifying the
//! tokens they signed until those expire, rotation, and the JWKS.
//!
//! Every hub process holds the keys in memory and re-reads them from the database
//! ([`Keys::refresh`]) periodically (`Settings::key_refresh_interval`, `tasks::key_loop`) and
//! when a token names a kid it does not know, so a rotation by another process on the same
//! database (`keyway-hub keys rotate`, another hub) is picked up without a restart. A backend
//! with change notifications (PostgreSQL `LISTEN`) can call [`Keys::refresh`] on each one.

use std::sync::{Arc, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use rand::rngs::OsRng;
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::clock::Clock;
use crate::ed25519::Signer;
use crate::error::Error;
use crate::hub_key::HubKey;
use crate::store::changes::{Applied, Change, Write};
use crate::store::{AuditEvent, ChangeStore, KeyStore, SigningKeyRecord};

/// Longest lifetime of any token the hub signs: access and ID tokens live at most
/// `access_token_ttl`, which `Settings::validate` caps at 24 hours; exchanged tokens less.
pub const MAX_TOKEN_LIFETIME_SECS: i64 = 24 * 3600;
/// How long a previous key keeps verifying after a rotation: the longest token lifetime and
/// five minutes for clocks that differ between hubs. Then it leaves the JWKS.
pub const OVERLAP_SECS: i64 = MAX_TOKEN_LIFETIME_SECS + 300;

/// Key id: base64url of the first 8 bytes of SHA-256 of the raw public key.
pub fn key_id(public: &VerifyingKey) -> String {
    let digest = Sha256::digest(public.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..8])
}

/// One JSON Web Key (RFC 8037 OKP).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub kid: String,
    pub alg: String,
    #[serde(rename = "use")]
    pub use_: String,
}

/// A JWK Set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

fn jwk(kid: &str, key: &VerifyingKey) -> Jwk {
    Jwk {
        kty: "OKP".into(),
        crv: "Ed25519".into(),
        x: URL_SAFE_NO_PAD.encode(key.as_bytes()),
        kid: kid.to_owned(),
        alg: "EdDSA".into(),
        use_: "sig".into(),
    }
}

/// The key that signs now. Take it once ([`Keys::current`]) to sign and name the kid of that
/// signature consistently, even while a rotation happens.
pub(crate) struct CurrentKey {
    signing: SigningKey,
    /// The same key, for signing (`crate::ed25519`: faster, the same bytes).
    signer: Signer,
    kid: String,
    created_at: i64,
}

impl CurrentKey {
    fn from_seed(seed: &[u8; 32], created_at: i64) -> CurrentKey {
        let signing = SigningKey::from_bytes(seed);
        let kid = key_id(&signing.verifying_key());
        CurrentKey { signing, signer: Signer::from_seed(seed), kid, created_at }
    }

    pub(crate) fn kid(&self) -> &str {
        &self.kid
    }

    pub(crate) fn sign(&self, message: &[u8]) -> Signature {
        Signature::from_bytes(&self.signer.sign(message))
    }

    pub(crate) fn verifying_key(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }
}

/// A public key and until when tokens signed by it verify (`None`: the current key).
struct Public {
    kid: String,
    key: VerifyingKey,
    verify_until: Option<i64>,
}

/// One consistent view of the stored keys.
struct KeySet {
    current: Arc<CurrentKey>,
    /// Every key ever stored, newest first, retired ones included.
    public: Vec<Public>,
}

impl KeySet {
    /// Builds the set from the stored keys, opening the current one's seed with `hub_key`.
    fn load(records: &[SigningKeyRecord], hub_key: &HubKey) -> Result<KeySet, Error> {
        let current = records
            .iter()
            .find(|r| r.retired_at.is_none())
            .ok_or_else(|| Error::SigningKey("the database has signing keys but none is current".into()))?;
        let sealed = current
            .sealed
            .as_ref()
            .ok_or_else(|| Error::SigningKey(format!("the current signing key {} has no sealed seed", current.kid)))?;
        let seed = hub_key.open(&current.kid, sealed)?;
        let key = CurrentKey::from_seed(&seed, current.created_at);
        if key.kid != current.kid || key.verifying_key().as_bytes() != &current.public_key {
            return Err(Error::SigningKey(format!("stored kid {} does not match its key", current.kid)));
        }
        let public = records
            .iter()
            .filter_map(|r| {
                let key = VerifyingKey::from_bytes(&r.public_key).ok()?;
                Some(Public { kid: r.kid.clone(), key, verify_until: r.verify_until })
            })
            .collect();
        Ok(KeySet { current: Arc::new(key), public })
    }

    /// The keys tokens verify with at `now`: the current one and the previous ones still in
    /// their overlap.
    fn verifying(&self, now: i64) -> impl Iterator<Item = &Public> {
        self.public.iter().filter(move |p| p.verify_until.is_none_or(|until| until > now))
    }
}

/// Checks, writing nothing, that `hub_key` opens what [`Keys::open`] needs of `records`: the
/// current key whole (its seed opens and matches its kid and public key), and every other
/// sealed seed too. The current key's kid; `None` when there is no key yet.
pub(crate) fn check_hub_key(records: &[SigningKeyRecord], hub_key: &HubKey) -> Result<Option<String>, Error> {
    if records.is_empty() {
        return Ok(None);
    }
    let set = KeySet::load(records, hub_key)?;
    for record in records {
        if let Some(sealed) = &record.sealed {
            hub_key.open(&record.kid, sealed)?;
        }
    }
    Ok(Some(set.current.kid.clone()))
}

/// The signing keys, shared by every handler; see the module docs.
pub(crate) struct Keys {
    hub_key: HubKey,
    clock: Clock,
    set: RwLock<Arc<KeySet>>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys").field("kid", &self.current().kid).finish_non_exhaustive()
    }
}

/// A signing key, newly made and sealed, ready to store.
fn new_record(hub_key: &HubKey, now: i64) -> Result<SigningKeyRecord, Error> {
    let signing = SigningKey::generate(&mut OsRng);
    let kid = key_id(&signing.verifying_key());
    let sealed = hub_key.seal(&kid, signing.as_bytes())?;
    Ok(SigningKeyRecord {
        public_key: signing.verifying_key().to_bytes(),
        kid,
        sealed: Some(sealed),
        created_at: now,
        retired_at: None,
        verify_until: None,
    })
}

/// The error of a hub without a hub key; `fresh`: on a database that has no signing key yet.
pub(crate) fn no_hub_key(fresh: bool) -> Error {
    let how = "Make a key with `keyway-hub keys new-key --out /etc/keyway/hub.key` and pass it with \
               --key-file (or KEYWAY_HUB_KEY_FILE, or the key itself in KEYWAY_HUB_KEY); every hub of one \
               database needs the same key";
    if fresh {
        Error::HubKey(format!("no hub key is configured, and a new database needs one to seal its signing key. {how}"))
    } else {
        Error::HubKey(format!(
            "no hub key is configured: this database's signing key is sealed (or is to be sealed) with one. Pass \
             the key this database was sealed with. {how}"
        ))
    }
}

impl Keys {
    /// Loads the stored keys with `hub_key`. On a new database it makes the first key; a seed
    /// stored in clear by an earlier version is sealed (and erased) first. A missing or wrong
    /// hub key is an error that leaves the database as it was, never a new key.
    pub(crate) async fn open<S: KeyStore>(store: &S, hub_key: Option<&HubKey>, clock: &Clock) -> Result<Keys, Error> {
        let now = clock.now();
        let mut records = store.signing_keys().await?;
        let legacy = store.legacy_seeds().await?;
        let Some(hub_key) = hub_key else {
            return Err(no_hub_key(records.is_empty() && legacy.is_empty()));
        };
        if !records.is_empty() {
            // Before anything is written: a wrong key stops here.
            KeySet::load(&records, hub_key)?;
        }
        if !legacy.is_empty() {
            let mut sealed = Vec::with_capacity(legacy.len());
            let mut has_current = !records.is_empty();
            for old in &legacy {
                let seed: [u8; 32] = old.seed.as_slice().try_into().map_err(|_| {
                    Error::SigningKey(format!("the stored seed of signing key {} is not 32 bytes", old.kid))
                })?;
                let key = CurrentKey::from_seed(&seed, old.created_at);
                if key.kid != old.kid {
                    return Err(Error::SigningKey(format!("stored kid {} does not match its key", old.kid)));
                }
                // The oldest was the one that signed; any other verifies for one more overlap.
                let (retired_at, verify_until) =
                    if has_current { (Some(now), Some(now.saturating_add(OVERLAP_SECS))) } else { (None, None) };
                has_current = true;
                sealed.push(SigningKeyRecord {
                    public_key: key.verifying_key().to_bytes(),
                    sealed: Some(hub_key.seal(&old.kid, &seed)?),
                    kid: old.kid.clone(),
                    created_at: old.created_at,
                    retired_at,
                    verify_until,
                });
            }
            store.seal_legacy_seeds(&sealed).await?;
            tracing::info!(keys = sealed.len(), hub_key = %hub_key.id(), "sealed the signing key stored in clear");
            records = store.signing_keys().await?;
        }
        if records.is_empty() {
            let first = new_record(hub_key, now)?;
            if store.insert_first_signing_key(&first).await? {
                tracing::info!(kid = %first.kid, hub_key = %hub_key.id(), "created a new signing key");
            }
            // Another hub may have stored the first key at the same moment: take what is stored.
            records = store.signing_keys().await?;
        }
        let set = KeySet::load(&records, hub_key)?;
        tracing::debug!(kid = %set.current.kid, "loaded the signing keys");
        Ok(Keys { hub_key: hub_key.clone(), clock: clock.clone(), set: RwLock::new(Arc::new(set)) })
    }

    /// Keys from one seed, for tests of the token format and its fuzz target.
    pub(crate) fn from_seed(seed: &[u8; 32]) -> Keys {
        let current = CurrentKey::from_seed(seed, 0);
        let public = vec![Public { kid: current.kid.clone(), key: current.verifying_key(), verify_until: None }];
        Keys {
            hub_key: HubKey::generate(),
            clock: Clock::system(),
            set: RwLock::new(Arc::new(KeySet { current: Arc::new(current), public })),
        }
    }

    fn snapshot(&self) -> Arc<KeySet> {
        Arc::clone(&self.set.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// The key that signs now.
    pub(crate) fn current(&self) -> Arc<CurrentKey> {
        Arc::clone(&self.snapshot().current)
    }

    /// The current key's id. To sign and name the kid together, use [`Keys::current`].
    pub(crate) fn kid(&self) -> String {
        self.current().kid.clone()
    }

    /// Signs with the current key. To know which key signed, use [`Keys::current`].
    #[allow(dead_code, reason = "the key API for records the hub signs, e.g. the audit chain's head")]
    pub(crate) fn sign(&self, message: &[u8]) -> Signature {
        self.current().sign(message)
    }

    /// The public key with this `kid` if tokens it signed verify now (the current key, or a
    /// previous one in its overlap).
    pub(crate) fn verifying_key(&self, kid: &str) -> Option<VerifyingKey> {
        let now = self.clock.now();
        self.snapshot().verifying(now).find(|p| p.kid == kid).map(|p| p.key)
    }

    /// The public key with this `kid`, retired ones included: for checking old signatures on
    /// records the hub signed (never for tokens, which [`Keys::verifying_key`] is for).
    #[allow(dead_code, reason = "the key API for records the hub signs, e.g. the audit chain's head")]
    pub(crate) fn public_key(&self, kid: &str) -> Option<VerifyingKey> {
        self.snapshot().public.iter().find(|p| p.kid == kid).map(|p| p.key)
    }

    /// The JWKS: the current key and the previous ones still in their overlap.
    pub(crate) fn jwks(&self) -> Jwks {
        let now = self.clock.now();
        Jwks { keys: self.snapshot().verifying(now).map(|p| jwk(&p.kid, &p.key)).collect() }
    }

    /// Re-reads the keys from the database (a rotation by another process). Returns whether the
    /// current key changed.
    pub(crate) async fn refresh<S: KeyStore>(&self, store: &S) -> Result<bool, Error> {
        let records = store.signing_keys().await?;
        let set = KeySet::load(&records, &self.hub_key)?;
        let mut guard = self.set.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let changed = guard.current.kid != set.current.kid;
        if changed {
            tracing::info!(kid = %set.current.kid, previous = %guard.current.kid, "the signing key changed");
        }
        *guard = Arc::new(set);
        Ok(changed)
    }

    /// For a token that names a kid this process does not know: re-reads the keys if the
    /// database has others than those loaded (one small read; the seed is opened only then).
    /// Returns whether the keys changed.
    pub(crate) async fn refresh_for_unknown_kid<S: KeyStore>(&self, store: &S) -> bool {
        let records = match store.signing_keys().await {
            Ok(records) => records,
            Err(e) => {
                tracing::warn!(error = %crate::error::report(&e), "re-reading the signing keys failed");
                return false;
            }
        };
        let loaded = self.snapshot();
        let same = records.len() == loaded.public.len()
            && records.iter().zip(&loaded.public).all(|(r, p)| r.kid == p.kid && r.verify_until == p.verify_until);
        if same {
            return false;
        }
        match KeySet::load(&records, &self.hub_key) {
            Ok(set) => {
                tracing::info!(kid = %set.current.kid, "re-read the signing keys for a token with a new kid");
                *self.set.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(set);
                true
            }
            Err(e) => {
                tracing::warn!(error = %crate::error::report(&e), "re-reading the signing keys failed");
                false
            }
        }
    }

    /// Makes a new current key; the one before keeps verifying for [`OVERLAP_SECS`]. `audit`
    /// builds the change's audit row from (new kid, previous kid, verify_until). Returns the
    /// new kid, or `None` when another process rotated first (the keys are re-read then).
    pub(crate) async fn rotate<S: KeyStore + ChangeStore>(
        &self,
        store: &S,
        now: i64,
        audit: impl FnOnce(&str, &str, i64) -> AuditEvent,
    ) -> Result<Option<String>, Error> {
        self.refresh(store).await?;
        let current = self.current();
        let next = new_record(&self.hub_key, now)?;
        let verify_until = now.saturating_add(OVERLAP_SECS);
        let event = audit(&next.kid, &current.kid, verify_until);
        let change = Change::new()
            .then(Write::RotateSigningKey { current: &current.kid, next: &next, now, verify_until })
            .audit(&event);
        let applied = store.apply(&change).await?;
        self.refresh(store).await?;
        match applied {
            Applied::Done => {
                tracing::info!(kid = %next.kid, previous = %current.kid, "rotated the signing key");
                Ok(Some(next.kid))
            }
            Applied::Stopped { .. } => Ok(None),
        }
    }

    /// Whether the current key is older than `rotation_days` (never when `0`).
    pub(crate) fn due_for_rotation(&self, rotation_days: u32, now: i64) -> bool {
        rotation_days > 0 && now >= self.current().created_at.saturating_add(i64::from(rotation_days) * 86_400)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kid_and_jwks_shape() {
        let keys = Keys::from_seed(&[7u8; 32]);
        assert_eq!(keys.kid().len(), 11); // 8 bytes base64url without padding
        let jwks = serde_json::to_value(keys.jwks()).unwrap();
        let k = &jwks["keys"][0];
        assert_eq!(k["kty"], "OKP");
        assert_eq!(k["crv"], "Ed25519");
        assert_eq!(k["use"], "sig");
        assert_eq!(k["alg"], "EdDSA");
        assert_eq!(URL_SAFE_NO_PAD.decode(k["x"].as_str().unwrap()).unwrap().len(), 32);
    }
}
