//! Secret values: random tokens, codes and passwords.
//!
//! Each is a newtype whose `Debug` never shows the value and whose memory is zeroed on drop.
//! Tokens are generated from the OS RNG with 256 bits of entropy and only their SHA-256
//! ([`TokenHash`]) is ever stored.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use rand::rngs::OsRng;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Bytes of entropy in every generated secret (256 bits).
const SECRET_BYTES: usize = 32;

/// SHA-256 of a secret: the only form in which secrets are stored or looked up.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    pub(crate) fn of(value: &str) -> TokenHash {
        TokenHash(Sha256::digest(value.as_bytes()).into())
    }

    /// The 32 hash bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// From 32 stored bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<TokenHash> {
        <[u8; 32]>::try_from(bytes).ok().map(TokenHash)
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A prefix is enough to correlate log lines; the hash is not secret anyway.
        write!(f, "TokenHash({:02x}{:02x}{:02x}{:02x}…)", self.0[0], self.0[1], self.0[2], self.0[3])
    }
}

fn random_b64(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    let out = URL_SAFE_NO_PAD.encode(&buf);
    buf.zeroize();
    out
}

/// A random, non-secret identifier: 22 base62 characters (131 bits) for user ids, review
/// request ids, token family ids and `jti`s. Letters and digits only, so an id never starts
/// with `-` (which a command line would read as an option) and reads as one word.
pub(crate) fn random_id() -> String {
    random_base62(22)
}

/// The base62 alphabet of ids and credential tokens.
pub(crate) const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Bytes below this map onto [`ALPHABET`] without bias (`248 = 4 × 62`); the rest are drawn again.
const UNBIASED_BELOW: u8 = 248;

/// `n` characters drawn uniformly from [`ALPHABET`] by the OS CSPRNG (5.95 bits each).
///
/// The random bytes come from one `getrandom` call for the whole string (asking the OS once
/// per character cost more than the rest of a PAT exchange's JWT), and a byte that would bias
/// the draw is thrown away rather than reduced.
pub(crate) fn random_base62(n: usize) -> String {
    let mut out = String::with_capacity(n);
    // A 3% rejection rate: n + 8 bytes nearly always suffice, and a short batch draws again.
    let mut buf = vec![0u8; n + 8];
    while out.len() < n {
        OsRng.fill_bytes(&mut buf);
        for &b in buf.iter().filter(|&&b| b < UNBIASED_BELOW) {
            if out.len() == n {
                break;
            }
            out.push(ALPHABET[usize::from(b) % ALPHABET.len()] as char);
        }
    }
    buf.zeroize();
    out
}

/// Constant-time equality of two secret strings.
pub(crate) fn ct_eq(a: &str, b: &str) -> bool {
    // `ct_eq` on slices of different length returns false without looking at the contents;
    // lengths of our secrets are public (fixed) so this leaks nothing.
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

macro_rules! secret_token {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Zeroize, ZeroizeOnDrop)]
        pub struct $name(String);

        impl $name {
            /// A fresh value with 256 bits from the OS RNG.
            pub(crate) fn generate() -> Self {
                Self(random_b64(SECRET_BYTES))
            }

            /// Wraps a value received from a client.
            pub(crate) fn from_wire(value: String) -> Self {
                Self(value)
            }

            /// The value, for sending it to its owner.
            pub(crate) fn expose(&self) -> &str {
                &self.0
            }

            /// The SHA-256 under which the value is stored.
            #[allow(dead_code, reason = "CSRF tokens are compared, never stored")]
            pub(crate) fn hash(&self) -> TokenHash {
                TokenHash::of(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret_token!(
    /// An OAuth refresh token.
    RefreshToken
);
secret_token!(
    /// An OAuth authorization code.
    AuthorizationCode
);
secret_token!(
    /// A device code (RFC 8628): what a device polls the token endpoint with.
    DeviceCode
);
secret_token!(
    /// A backchannel request's `auth_req_id` (OpenID CIBA): with the agent's own JWT, it redeems
    /// an approval once.
    AuthReqId
);
secret_token!(
    /// The id of a browser login session (the `kw_session` cookie).
    SessionId
);
secret_token!(
    /// A double-submit CSRF token (the `kw_csrf` cookie and the hidden form field).
    CsrfToken
);

impl CsrfToken {
    /// Constant-time comparison with the value submitted in the form.
    pub(crate) fn matches(&self, submitted: &str) -> bool {
        !self.0.is_empty() && ct_eq(&self.0, submitted)
    }
}

/// The alphabet of device user codes (RFC 8628 §6.1): 20 consonants, no vowels (no words),
/// no look-alikes.
pub(crate) const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";

/// A fresh user code: 8 characters of [`USER_CODE_ALPHABET`] (34.5 bits) as `XXXX-XXXX`.
pub(crate) fn user_code() -> String {
    let mut out = String::with_capacity(9);
    let mut byte = [0u8; 1];
    while out.len() < 9 {
        if out.len() == 4 {
            out.push('-');
        }
        OsRng.fill_bytes(&mut byte);
        // 240 = 12 × 20: bytes below it map onto the alphabet without bias.
        if byte[0] < 240 {
            out.push(char::from(USER_CODE_ALPHABET[usize::from(byte[0] % 20)]));
        }
    }
    out
}

/// A typed user code in the form the hub stores (`XXXX-XXXX`, upper case, dashes and spaces
/// ignored), or `None` if it cannot be one.
pub(crate) fn normalize_user_code(typed: &str) -> Option<String> {
    let chars: Vec<char> = typed.chars().filter(|c| !matches!(c, '-' | ' ')).map(|c| c.to_ascii_uppercase()).collect();
    if chars.len() != 8 || !chars.iter().all(|c| c.is_ascii() && USER_CODE_ALPHABET.contains(&(*c as u8))) {
        return None;
    }
    let mut out: String = chars[..4].iter().collect();
    out.push('-');
    out.extend(&chars[4..]);
    Some(out)
}

/// A user's password, as typed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Password(String);

impl Password {
    pub fn new(value: impl Into<String>) -> Password {
        Password(value.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes() {
        let code = user_code();
        assert_eq!(code.len(), 9);
        assert_eq!(normalize_user_code(&code).as_deref(), Some(code.as_str()));
        assert_eq!(normalize_user_code("wdjb mjht").as_deref(), Some("WDJB-MJHT"));
        assert_eq!(normalize_user_code("WDJBMJHT").as_deref(), Some("WDJB-MJHT"));
        for bad in ["WDJB-MJH", "WDJB-MJHA", "WDJB-MJH0", "", "WDJB-MJHTT"] {
            assert_eq!(normalize_user_code(bad), None, "{bad}");
        }
        assert_ne!(user_code(), user_code());
    }

    #[test]
    fn generated_tokens_are_long_and_distinct() {
        let a = RefreshToken::generate();
        let b = RefreshToken::generate();
        assert_eq!(a.expose().len(), 43);
        assert_ne!(a.expose(), b.expose());
        assert_ne!(a.hash(), b.hash());
    }

    /// With base64url, one id in 64 started with `-` and a CLI took it for an option.
    #[test]
    fn ids_are_letters_and_digits_and_distinct() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| random_id()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in &ids {
            assert_eq!(id.len(), 22, "{id}");
            assert!(id.chars().all(|c| c.is_ascii_alphanumeric()), "{id}");
        }
        // Every character of the alphabet turns up in the first place, so ids use all of it.
        let first: std::collections::HashSet<char> = ids.iter().filter_map(|id| id.chars().next()).collect();
        assert_eq!(first.len(), 62);
    }

    /// Reducing every byte modulo 62 would give the first eight characters 5/256 of the draws
    /// instead of 4/256 (+25%); rejection keeps every character at 1/62.
    #[test]
    fn base62_characters_are_drawn_without_bias() {
        let per_char = 2_000;
        let drawn = random_base62(ALPHABET.len() * per_char);
        let mut counts = [0u32; 62];
        for b in drawn.bytes() {
            counts[ALPHABET.iter().position(|&a| a == b).expect("only alphabet characters")] += 1;
        }
        // The standard deviation of each count is about 44: ±300 is ±6.8σ.
        for (i, &c) in counts.iter().enumerate() {
            assert!((1_700..=2_300).contains(&c), "character {} drawn {c} times of {per_char}", ALPHABET[i] as char);
        }
        assert_eq!(random_base62(0), "");
        assert_eq!(random_base62(1).len(), 1);
    }

    #[test]
    fn debug_is_redacted() {
        let t = AuthorizationCode::generate();
        let shown = format!("{t:?}");
        assert!(!shown.contains(t.expose()));
        assert_eq!(format!("{:?}", Password::new("hunter22")), "Password([redacted])");
    }

    #[test]
    fn csrf_comparison() {
        let t = CsrfToken::generate();
        assert!(t.matches(t.expose()));
        assert!(!t.matches(""));
        assert!(!t.matches("x"));
        assert!(!CsrfToken::from_wire(String::new()).matches(""));
    }
}
