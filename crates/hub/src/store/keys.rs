//! The hub's signing keys: each Ed25519 seed sealed under the hub key (never in clear), its
//! public key, and its life: current (signs), previous (verifies until `verify_until`),
//! retired (its public key kept for old signatures on records, its seed dropped).

use std::future::Future;

use keyway_api::keys::KeySettings;

use super::error::StoreError;

/// A seed sealed under a hub key (`crate::hub_key`), as stored: the format version, which hub
/// key sealed it, the random nonce and the ciphertext with its tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    pub version: i64,
    /// The public id of the hub key that sealed it.
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// One signing key as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub kid: String,
    /// The raw Ed25519 public key.
    pub public_key: [u8; 32],
    /// The sealed seed; `None` once the key no longer verifies tokens.
    pub sealed: Option<Sealed>,
    pub created_at: i64,
    /// When it stopped signing (a newer key took over); `None` for the current key.
    pub retired_at: Option<i64>,
    /// Tokens it signed verify until then; `None` for the current key.
    pub verify_until: Option<i64>,
}

/// A seed stored in clear by a hub from before sealing: only read to seal it. Redacted in
/// `Debug`.
pub struct LegacySeed {
    pub kid: String,
    pub seed: zeroize::Zeroizing<Vec<u8>>,
    pub created_at: i64,
}

impl std::fmt::Debug for LegacySeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LegacySeed")
            .field("kid", &self.kid)
            .field("seed", &"[redacted]")
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// Storage of the signing keys.
pub trait KeyStore: Send + Sync {
    /// Every signing key, newest first.
    fn signing_keys(&self) -> impl Future<Output = Result<Vec<SigningKeyRecord>, StoreError>> + Send;

    /// Stores `key` as the first signing key; `false` (nothing stored) when there is one.
    fn insert_first_signing_key(&self, key: &SigningKeyRecord)
    -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Seeds stored in clear by an earlier version, oldest first.
    fn legacy_seeds(&self) -> impl Future<Output = Result<Vec<LegacySeed>, StoreError>> + Send;

    /// In one transaction: stores the sealed `keys` (unless their kid is stored already) and
    /// erases the seeds kept in clear, overwriting the freed space, so that no plaintext seed is
    /// left in the database file or its journal.
    fn seal_legacy_seeds(&self, keys: &[SigningKeyRecord]) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Drops the sealed seed of keys whose `verify_until` has passed (their public keys stay);
    /// returns how many.
    fn drop_expired_seeds(&self, now: i64) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The admin's key settings (defaults when never set).
    fn key_settings(&self) -> impl Future<Output = Result<KeySettings, StoreError>> + Send;
}
