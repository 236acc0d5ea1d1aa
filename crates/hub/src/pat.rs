//! The wire format of Keyway credentials: PATs, enrollment tokens and service tokens.
//!
//! ```text
//! kwp_a_ 7Hq2mZ0aB9cD  <30 base62 secret chars>  <6 base62 CRC32>
//! prefix public id (12) secret (≥ 178 bits)        checksum of everything before it
//! ```
//!
//! The prefix names the kind (`u` user PAT, `a` agent PAT, `e` enrollment, `s` service token),
//! so secret scanners recognise a leaked token; the checksum lets clients and the hub refuse a
//! mistyped token without any lookup (CRC-32 catches every single-character change). Only the
//! public id (`cr_` + the 12 id characters) and the SHA-256 of the whole token are stored.
//! Pure functions, no I/O.

use std::fmt;

use keyway_api::credentials::CredentialKind;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::secret::{ALPHABET, TokenHash, random_base62};

/// Prefix of every Keyway PAT, enrollment token and service token.
pub(crate) const CREDENTIAL_PREFIX: &str = "kwp_";
/// Length of the public id inside the token.
pub(crate) const ID_LEN: usize = 12;
/// Length of the random secret part: 30 base62 characters carry 178 bits.
pub(crate) const SECRET_LEN: usize = 30;
/// Length of the checksum: CRC-32 in fixed-width base62 (62^6 > 2^32).
pub(crate) const CHECKSUM_LEN: usize = 6;
const PREFIX_LEN: usize = 6;
/// Total length of every token.
pub(crate) const TOKEN_LEN: usize = PREFIX_LEN + ID_LEN + SECRET_LEN + CHECKSUM_LEN;
/// Prefix of public ids as lists show them.
pub(crate) const PUBLIC_ID_PREFIX: &str = "cr_";

/// Why a string is not a well-formed token (said only in logs and the audit log).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FormatError {
    #[error("unknown prefix")]
    Prefix,
    #[error("wrong length")]
    Length,
    #[error("character outside base62")]
    Alphabet,
    #[error("checksum mismatch")]
    Checksum,
}

/// A credential token. `Debug` shows the kind and public id only; zeroed on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct Token(String);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({}…[redacted])", &self.0[..PREFIX_LEN + ID_LEN])
    }
}

fn kind_of_prefix(prefix: &str) -> Option<CredentialKind> {
    [CredentialKind::UserPat, CredentialKind::AgentPat, CredentialKind::Enrollment, CredentialKind::ServiceToken]
        .into_iter()
        .find(|k| k.prefix() == prefix)
}

/// A fresh public id (`cr_` + 12 base62 characters, 71 bits).
pub(crate) fn new_public_id() -> String {
    format!("{PUBLIC_ID_PREFIX}{}", random_base62(ID_LEN))
}

fn checksum(body: &str) -> String {
    let mut n = crc32fast::hash(body.as_bytes()) as u64;
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    // Six base62 digits always hold a u32, and only ASCII was written.
    String::from_utf8_lossy(&out).into_owned()
}

impl Token {
    /// A new token of `kind` for the public id `public_id` (as made by [`new_public_id`]), with a
    /// fresh secret from the OS CSPRNG.
    pub(crate) fn generate(kind: CredentialKind, public_id: &str) -> Token {
        let id = public_id.strip_prefix(PUBLIC_ID_PREFIX).unwrap_or(public_id);
        debug_assert_eq!(id.len(), ID_LEN);
        let mut body = format!("{}{}{}", kind.prefix(), id, random_base62(SECRET_LEN));
        let sum = checksum(&body);
        body.push_str(&sum);
        Token(body)
    }

    /// Checks prefix, length, alphabet and checksum; no lookup.
    pub(crate) fn parse(value: &str) -> Result<Token, FormatError> {
        let Some(prefix) = value.get(..PREFIX_LEN) else {
            return Err(FormatError::Prefix);
        };
        if kind_of_prefix(prefix).is_none() {
            return Err(FormatError::Prefix);
        }
        if value.len() != TOKEN_LEN {
            return Err(FormatError::Length);
        }
        if !value.as_bytes()[PREFIX_LEN..].iter().all(u8::is_ascii_alphanumeric) {
            return Err(FormatError::Alphabet);
        }
        let (body, sum) = value.split_at(TOKEN_LEN - CHECKSUM_LEN);
        // Not secret: the checksum is computed from the token itself.
        if checksum(body) != sum {
            return Err(FormatError::Checksum);
        }
        Ok(Token(value.to_owned()))
    }

    pub(crate) fn kind(&self) -> CredentialKind {
        // `parse` and `generate` only build tokens with a known prefix.
        kind_of_prefix(&self.0[..PREFIX_LEN]).unwrap_or(CredentialKind::AgentPat)
    }

    /// `cr_` + the id characters.
    pub(crate) fn public_id(&self) -> String {
        format!("{PUBLIC_ID_PREFIX}{}", &self.0[PREFIX_LEN..PREFIX_LEN + ID_LEN])
    }

    pub(crate) fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }

    /// The token itself, to show it once to its owner.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

/// The one-letter class name of a kind, as the refusal messages say it (`u`, `a`, `e`, `s`).
pub(crate) fn letter(kind: CredentialKind) -> &'static str {
    &kind.prefix()[4..5]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KINDS: [CredentialKind; 4] =
        [CredentialKind::UserPat, CredentialKind::AgentPat, CredentialKind::Enrollment, CredentialKind::ServiceToken];

    #[test]
    fn shape() {
        let id = new_public_id();
        let t = Token::generate(CredentialKind::AgentPat, &id);
        assert_eq!(t.expose().len(), TOKEN_LEN);
        assert!(t.expose().starts_with("kwp_a_"));
        assert_eq!(t.public_id(), id);
        assert_eq!(t.kind(), CredentialKind::AgentPat);
        assert!(!format!("{t:?}").contains(&t.expose()[20..]));
        assert_eq!(letter(CredentialKind::UserPat), "u");
        assert_eq!(letter(CredentialKind::ServiceToken), "s");
        // Entropy of the secret part: 30 × log2(62) ≥ 160 bits.
        assert!(SECRET_LEN as f64 * 62f64.log2() >= 160.0);
        assert_ne!(Token::generate(CredentialKind::AgentPat, &id).expose(), t.expose());
    }

    #[test]
    fn refusals() {
        assert_eq!(Token::parse("").unwrap_err(), FormatError::Prefix);
        assert_eq!(Token::parse("kwp_x_abc").unwrap_err(), FormatError::Prefix);
        assert_eq!(Token::parse("kwp_a_abc").unwrap_err(), FormatError::Length);
        let t = Token::generate(CredentialKind::UserPat, &new_public_id());
        let mut s = t.expose().to_owned();
        s.replace_range(20..21, "-");
        assert_eq!(Token::parse(&s).unwrap_err(), FormatError::Alphabet);
        // Multi-byte characters never panic the parser.
        assert!(Token::parse("kwp_a_ééééééééééééééééééééééééééé").is_err());
        assert!(Token::parse("kwé").is_err());
    }

    proptest! {
        #[test]
        fn round_trip(kind_ix in 0usize..4) {
            let id = new_public_id();
            let t = Token::generate(KINDS[kind_ix], &id);
            let back = Token::parse(t.expose()).unwrap();
            prop_assert_eq!(back.kind(), KINDS[kind_ix]);
            prop_assert_eq!(back.public_id(), id);
            prop_assert_eq!(back.hash(), t.hash());
        }

        #[test]
        fn any_single_corrupted_character_is_refused(kind_ix in 0usize..4, pos in 0usize..TOKEN_LEN, c in any::<char>()) {
            let t = Token::generate(KINDS[kind_ix], &new_public_id());
            let original = t.expose().chars().nth(pos).unwrap();
            prop_assume!(c != original);
            let mut s: Vec<char> = t.expose().chars().collect();
            s[pos] = c;
            let corrupted: String = s.into_iter().collect();
            prop_assert!(Token::parse(&corrupted).is_err(), "{} accepted", corrupted);
        }

        #[test]
        fn parse_never_panics(s in ".{0,80}") {
            let _ = Token::parse(&s);
        }
    }
}
