//! The hub's Ed25519 signing key: created on first start, stored in the database, reused after.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use rand::rngs::OsRng;
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::ed25519::Signer;
use crate::error::Error;
use crate::store::Store;

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

/// The signing key and the keys tokens are verified with.
pub(crate) struct Keys {
    signing: SigningKey,
    /// The same key, for signing (`crate::ed25519`: faster, the same bytes).
    signer: Signer,
    kid: String,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl Keys {
    /// Loads the stored key, or generates one from the OS RNG and stores it.
    pub(crate) async fn load_or_create<S: Store>(store: &S, now: i64) -> Result<Keys, Error> {
        let candidate = SigningKey::generate(&mut OsRng);
        let candidate_kid = key_id(&candidate.verifying_key());
        let (kid, seed) = store.signing_key_or_insert(&candidate_kid, candidate.as_bytes(), now).await?;
        let seed: [u8; 32] =
            seed.as_slice().try_into().map_err(|_| Error::SigningKey("stored seed is not 32 bytes".into()))?;
        let keys = Keys::from_seed(&seed);
        if keys.kid != kid {
            return Err(Error::SigningKey(format!("stored kid {kid} does not match its key")));
        }
        if kid == candidate_kid {
            tracing::info!(%kid, "created a new signing key");
        } else {
            tracing::debug!(%kid, "loaded the signing key");
        }
        Ok(keys)
    }

    pub(crate) fn from_seed(seed: &[u8; 32]) -> Keys {
        let signing = SigningKey::from_bytes(seed);
        let kid = key_id(&signing.verifying_key());
        Keys { signing, signer: Signer::from_seed(seed), kid }
    }

    pub(crate) fn kid(&self) -> &str {
        &self.kid
    }

    pub(crate) fn sign(&self, message: &[u8]) -> Signature {
        Signature::from_bytes(&self.signer.sign(message))
    }

    /// The public key with this `kid`, if it is one of ours.
    pub(crate) fn verifying_key(&self, kid: &str) -> Option<VerifyingKey> {
        (kid == self.kid).then(|| self.signing.verifying_key())
    }

    pub(crate) fn jwks(&self) -> Jwks {
        Jwks {
            keys: vec![Jwk {
                kty: "OKP".into(),
                crv: "Ed25519".into(),
                x: URL_SAFE_NO_PAD.encode(self.signing.verifying_key().as_bytes()),
                kid: self.kid.clone(),
                alg: "EdDSA".into(),
                use_: "sig".into(),
            }],
        }
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
