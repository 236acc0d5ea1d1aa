//! PKCE (RFC 7636) with the S256 method only.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::secret::SecretString;

/// A PKCE verifier: 32 random bytes, base64url (43 characters).
pub struct PkceVerifier(SecretString);

impl PkceVerifier {
    pub fn random() -> Self {
        PkceVerifier(SecretString::new(random_token(32)))
    }

    pub fn from_string(s: String) -> Self {
        PkceVerifier(SecretString::new(s))
    }

    pub fn secret(&self) -> &str {
        self.0.secret()
    }

    /// The S256 challenge: BASE64URL(SHA256(ASCII(verifier))).
    pub fn challenge_s256(&self) -> String {
        s256(self.0.secret())
    }
}

pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// `bytes` bytes from the OS CSPRNG, base64url without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7636 Appendix B.
    #[test]
    fn rfc7636_appendix_b_vector() {
        let v = PkceVerifier::from_string("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into());
        assert_eq!(v.challenge_s256(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn random_verifiers_are_43_chars_and_distinct() {
        let a = PkceVerifier::random();
        let b = PkceVerifier::random();
        assert_eq!(a.secret().len(), 43);
        assert_ne!(a.secret(), b.secret());
        assert!(a.secret().bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }
}
