//! Ed25519 signing on AWS-LC's assembly (`aws-lc-rs`), the exchange's largest cost: about two
//! thirds of the time `ed25519-dalek` takes for the same signature on this hub's hardware.
//! Ed25519 signatures are deterministic (RFC 8032), so the bytes are exactly those
//! `ed25519-dalek` would make; verifiers see no change. Verification stays on `ed25519-dalek`
//! (`verify_strict`).

use aws_lc_rs::signature::Ed25519KeyPair;
#[cfg(test)]
use aws_lc_rs::signature::KeyPair as _;

/// A signing key. `Debug` shows nothing of it.
pub(crate) struct Signer(Ed25519KeyPair);

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer([redacted])")
    }
}

impl Signer {
    /// From the 32-byte RFC 8032 seed (the private key).
    pub(crate) fn from_seed(seed: &[u8; 32]) -> Signer {
        // Only a wrong length is refused, and the seed is always 32 bytes.
        Signer(Ed25519KeyPair::from_seed_unchecked(seed).expect("a 32-byte Ed25519 seed is always accepted"))
    }

    /// The 64-byte signature of `message`.
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        let signature = self.0.sign(message);
        let mut out = [0u8; 64];
        out.copy_from_slice(signature.as_ref());
        out
    }

    /// The 32-byte public key (the JWKS takes it from ed25519-dalek's key of the same seed).
    #[cfg(test)]
    pub(crate) fn public_key(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.0.public_key().as_ref());
        out
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signer as _, SigningKey};

    use super::*;

    /// The same seed and message give ed25519-dalek's bytes, which verify strictly.
    #[test]
    fn signatures_are_ed25519_dalek_s_bytes() {
        for (i, len) in [0usize, 1, 64, 700, 5000].into_iter().enumerate() {
            let seed = [u8::try_from(i).unwrap() * 37 + 1; 32];
            let message: Vec<u8> = (0..len).map(|b| (b % 251) as u8).collect();
            let dalek = SigningKey::from_bytes(&seed);
            let ours = Signer::from_seed(&seed);
            assert_eq!(ours.public_key(), dalek.verifying_key().to_bytes());
            let sig = ours.sign(&message);
            assert_eq!(sig, dalek.sign(&message).to_bytes(), "message of {len} bytes");
            let parsed = ed25519_dalek::Signature::from_bytes(&sig);
            assert!(dalek.verifying_key().verify_strict(&message, &parsed).is_ok());
            assert!(dalek.verifying_key().verify_strict(b"another message", &parsed).is_err());
        }
    }

    #[test]
    fn debug_shows_nothing() {
        assert_eq!(format!("{:?}", Signer::from_seed(&[9u8; 32])), "Signer([redacted])");
    }
}
