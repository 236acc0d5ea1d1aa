//! The hub key: the 256-bit key-encryption key that seals the signing keys' seeds in the
//! database (XChaCha20-Poly1305). Every hub of one database uses the same hub key.
//!
//! Its text form is the base64url (no padding) of 32 random bytes: 43 characters. A server hub
//! reads it from a file (`--key-file`, `KEYWAY_HUB_KEY_FILE`; only its owner may read the file)
//! or from `KEYWAY_HUB_KEY`; the desktop's local hub keeps it in the OS keychain.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead as _, KeyInit as _, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore as _;
use rand::rngs::OsRng;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::error::Error;
use crate::store::keys::Sealed;

/// Format version of a sealed seed: XChaCha20-Poly1305, 24-byte nonce, associated data
/// [`associated_data`].
pub const SEAL_VERSION: i64 = 1;
/// Length of a sealed 32-byte seed (ciphertext and 16-byte tag).
pub const SEALED_LEN: usize = 32 + 16;
/// Length of the random nonce stored beside it.
pub const NONCE_LEN: usize = 24;

/// A 32-byte key-encryption key. Redacted in `Debug`, zeroized on drop.
#[derive(Clone)]
pub struct HubKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for HubKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HubKey({}, [redacted])", self.id())
    }
}

/// Binds a sealed seed to the signing key it belongs to: a sealed seed moved to another row
/// does not open.
fn associated_data(kid: &str) -> Vec<u8> {
    format!("keyway-hub signing key v{SEAL_VERSION} kid={kid}").into_bytes()
}

impl HubKey {
    /// A fresh key from the OS CSPRNG.
    pub fn generate() -> HubKey {
        let mut bytes = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(bytes.as_mut());
        HubKey(bytes)
    }

    /// Parses the text form (surrounding whitespace, e.g. a file's newline, is ignored).
    pub fn parse(text: &str) -> Result<HubKey, Error> {
        let bad = || {
            Error::HubKey(
                "the hub key is not 43 characters of base64url (32 bytes); make one with `keyway-hub keys new-key`"
                    .into(),
            )
        };
        let decoded = Zeroizing::new(URL_SAFE_NO_PAD.decode(text.trim().as_bytes()).map_err(|_| bad())?);
        let bytes: [u8; 32] = decoded.as_slice().try_into().map_err(|_| bad())?;
        Ok(HubKey(Zeroizing::new(bytes)))
    }

    /// Reads a key file, refusing one that anybody but its owner may read or write.
    pub fn from_file(path: &Path) -> Result<HubKey, Error> {
        use std::os::unix::fs::PermissionsExt as _;
        let shown = path.display();
        let meta =
            std::fs::metadata(path).map_err(|e| Error::HubKey(format!("cannot read the hub key file {shown}: {e}")))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(Error::HubKey(format!(
                "the hub key file {shown} is open to other users (mode {mode:04o}); make it the owner's alone \
                 with `chmod 600 {shown}`"
            )));
        }
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| Error::HubKey(format!("cannot read the hub key file {shown}: {e}")))?,
        );
        HubKey::parse(&text).map_err(|e| Error::HubKey(format!("{shown}: {e}")))
    }

    /// The text form: shown to the operator once, or kept in the keychain.
    pub fn to_text(&self) -> Zeroizing<String> {
        Zeroizing::new(URL_SAFE_NO_PAD.encode(self.0.as_ref()))
    }

    /// Writes the text form to a new file that only its owner may read (`0600`); refuses to
    /// overwrite an existing file.
    pub fn write_new_file(&self, path: &Path) -> Result<(), Error> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| Error::HubKey(format!("cannot create the hub key file {}: {e}", path.display())))?;
        let mut text = self.to_text();
        text.push('\n');
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| Error::HubKey(format!("cannot write the hub key file {}: {e}", path.display())))
    }

    /// A public name of the key (base64url of 8 bytes of a domain-separated SHA-256): tells
    /// which key sealed a seed, so a wrong key is named as such. It reveals nothing of the key.
    pub fn id(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(b"keyway-hub key id\0");
        hasher.update(self.0.as_ref());
        URL_SAFE_NO_PAD.encode(&hasher.finalize()[..8])
    }

    /// Seals the seed of signing key `kid` with a fresh random nonce.
    pub fn seal(&self, kid: &str, seed: &[u8; 32]) -> Result<Sealed, Error> {
        let cipher = XChaCha20Poly1305::new(self.0.as_ref().into());
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let aad = associated_data(kid);
        let ciphertext = cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: seed, aad: &aad })
            .map_err(|_| Error::Internal("sealing the signing key failed".into()))?;
        Ok(Sealed { version: SEAL_VERSION, key_id: self.id(), nonce: nonce.to_vec(), ciphertext })
    }

    /// Opens the sealed seed of signing key `kid`; a wrong key or a changed row is an error that
    /// says so.
    pub fn open(&self, kid: &str, sealed: &Sealed) -> Result<Zeroizing<[u8; 32]>, Error> {
        if sealed.version != SEAL_VERSION {
            return Err(Error::SigningKey(format!("signing key {kid} is sealed in unknown format {}", sealed.version)));
        }
        if sealed.key_id != self.id() {
            return Err(wrong_key(kid, &sealed.key_id, &self.id()));
        }
        if sealed.nonce.len() != NONCE_LEN || sealed.ciphertext.len() != SEALED_LEN {
            return Err(Error::SigningKey(format!("signing key {kid} is not a sealed 32-byte seed")));
        }
        let cipher = XChaCha20Poly1305::new(self.0.as_ref().into());
        let aad = associated_data(kid);
        let plain = Zeroizing::new(
            cipher
                .decrypt(XNonce::from_slice(&sealed.nonce), Payload { msg: &sealed.ciphertext, aad: &aad })
                .map_err(|_| wrong_key(kid, &sealed.key_id, &self.id()))?,
        );
        let mut seed = Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(&plain);
        Ok(seed)
    }
}

fn wrong_key(kid: &str, sealed_with: &str, given: &str) -> Error {
    Error::HubKey(format!(
        "the hub key does not open this database's signing key {kid}: it was sealed with hub key {sealed_with}, and \
         the key given is {given}. Every hub of one database needs the same key (--key-file, KEYWAY_HUB_KEY_FILE \
         or KEYWAY_HUB_KEY)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips_and_is_redacted() {
        let key = HubKey::generate();
        let text = key.to_text();
        assert_eq!(text.len(), 43);
        let again = HubKey::parse(&format!("{}\n", text.as_str())).unwrap();
        assert_eq!(again.id(), key.id());
        assert!(!format!("{key:?}").contains(text.as_str()));
        for bad in ["", "short", &"A".repeat(44), "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"] {
            assert!(HubKey::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn seal_opens_only_with_the_same_key_and_kid() {
        let key = HubKey::generate();
        let seed = [9u8; 32];
        let sealed = key.seal("kid-a", &seed).unwrap();
        assert_eq!(sealed.ciphertext.len(), SEALED_LEN);
        assert_ne!(&sealed.ciphertext[..32], &seed[..]);
        assert_eq!(*key.open("kid-a", &sealed).unwrap(), seed);
        // Another row's kid: the associated data differs.
        assert!(key.open("kid-b", &sealed).is_err());
        // Another key, even if it claimed the same id.
        let other = HubKey::generate();
        assert!(other.open("kid-a", &sealed).unwrap_err().to_string().contains("does not open"));
        let forged = Sealed { key_id: other.id(), ..sealed.clone() };
        assert!(other.open("kid-a", &forged).is_err());
        // Two seals of one seed differ (random nonce).
        assert_ne!(key.seal("kid-a", &seed).unwrap().nonce, sealed.nonce);
    }

    #[test]
    fn a_key_file_open_to_others_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.key");
        let key = HubKey::generate();
        key.write_new_file(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(HubKey::from_file(&path).unwrap().id(), key.id());
        assert!(key.write_new_file(&path).is_err(), "never overwrites");
        for mode in [0o640, 0o604, 0o620] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = HubKey::from_file(&path).unwrap_err().to_string();
            assert!(err.contains("chmod 600"), "{mode:o}: {err}");
        }
    }
}
