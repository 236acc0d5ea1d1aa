//! Compact JWS with EdDSA (RFC 7515, RFC 8037), written out by hand: the hub only ever signs
//! and verifies its own tokens, so the format is fixed and small.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signature;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::keys::Keys;
use crate::store::KeyStore;

/// Tokens longer than this are refused before any decoding.
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// `typ` of access tokens (RFC 9068 §2.1).
pub(crate) const TYP_ACCESS: &str = "at+jwt";
/// `typ` of ID tokens.
pub(crate) const TYP_ID: &str = "JWT";

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum JwtError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token is not signed with EdDSA")]
    Algorithm,
    #[error("the token has the wrong type")]
    Type,
    #[error("the token was signed by an unknown key")]
    UnknownKey,
    #[error("the token signature is invalid")]
    Signature,
}

/// Signs `claims` as a compact JWS with header `{alg: EdDSA, typ, kid}`.
pub(crate) fn sign<C: Serialize>(keys: &Keys, typ: &str, claims: &C) -> Result<String, Error> {
    // One key for the header's kid and the signature, whatever rotates meanwhile.
    let key = keys.current();
    let header = Header { alg: "EdDSA".into(), typ: Some(typ.into()), kid: Some(key.kid().into()) };
    let header = serde_json::to_vec(&header).map_err(|e| Error::Internal(format!("encoding JWT header: {e}")))?;
    let claims = serde_json::to_vec(claims).map_err(|e| Error::Internal(format!("encoding JWT claims: {e}")))?;
    let mut token = URL_SAFE_NO_PAD.encode(header);
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(claims));
    let signature = key.sign(token.as_bytes());
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(signature.to_bytes()));
    Ok(token)
}

fn typ_matches(actual: Option<&str>, expected: &str) -> bool {
    // RFC 7515 §4.1.9: the "application/" prefix may be omitted; media types are case-insensitive.
    let Some(actual) = actual else { return false };
    let actual = actual.strip_prefix("application/").unwrap_or(actual);
    actual.eq_ignore_ascii_case(expected)
}

/// [`verify`], re-reading the keys once when the token names a kid this process does not know
/// (another process may have rotated the key).
pub(crate) async fn verify_fresh<C: DeserializeOwned, S: KeyStore>(
    keys: &Keys,
    store: &S,
    token: &str,
    expected_typ: &str,
) -> Result<C, JwtError> {
    match verify(keys, token, expected_typ) {
        Err(JwtError::UnknownKey) if keys.refresh_for_unknown_kid(store).await => verify(keys, token, expected_typ),
        other => other,
    }
}

/// Verifies the signature and `typ` of a compact JWS and returns its claims, with the key its
/// `kid` names (the current key or a previous one in its overlap). Claim checks (`iss`, `exp`,
/// …) are the caller's.
pub(crate) fn verify<C: DeserializeOwned>(keys: &Keys, token: &str, expected_typ: &str) -> Result<C, JwtError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwtError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(claims_b64), Some(sig_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let header_bytes = URL_SAFE_NO_PAD.decode(header_b64).map_err(|_| JwtError::Malformed)?;
    let header: Header = serde_json::from_slice(&header_bytes).map_err(|_| JwtError::Malformed)?;
    if header.alg != "EdDSA" {
        return Err(JwtError::Algorithm);
    }
    if !typ_matches(header.typ.as_deref(), expected_typ) {
        return Err(JwtError::Type);
    }
    let key = header.kid.as_deref().and_then(|kid| keys.verifying_key(kid)).ok_or(JwtError::UnknownKey)?;
    let sig_bytes = URL_SAFE_NO_PAD.decode(sig_b64).map_err(|_| JwtError::Signature)?;
    let sig_bytes: [u8; 64] = sig_bytes.as_slice().try_into().map_err(|_| JwtError::Signature)?;
    let signature = Signature::from_bytes(&sig_bytes);
    let signing_input_len = header_b64.len() + 1 + claims_b64.len();
    key.verify_strict(&token.as_bytes()[..signing_input_len], &signature).map_err(|_| JwtError::Signature)?;
    let claims_bytes = URL_SAFE_NO_PAD.decode(claims_b64).map_err(|_| JwtError::Malformed)?;
    serde_json::from_slice(&claims_bytes).map_err(|_| JwtError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn keys() -> Keys {
        Keys::from_seed(&[42u8; 32])
    }

    #[test]
    fn round_trip() {
        let k = keys();
        let token = sign(&k, TYP_ACCESS, &json!({"sub": "u1", "n": 1})).unwrap();
        let claims: Value = verify(&k, &token, TYP_ACCESS).unwrap();
        assert_eq!(claims["sub"], "u1");
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
        assert_eq!(header, json!({"alg": "EdDSA", "typ": "at+jwt", "kid": k.kid()}));
    }

    #[test]
    fn refuses_wrong_type_key_and_tampering() {
        let k = keys();
        let token = sign(&k, TYP_ID, &json!({"sub": "u1"})).unwrap();
        assert_eq!(verify::<Value>(&k, &token, TYP_ACCESS).unwrap_err(), JwtError::Type);
        assert_eq!(verify::<Value>(&Keys::from_seed(&[1u8; 32]), &token, TYP_ID).unwrap_err(), JwtError::UnknownKey);

        // Change the claims but keep the signature.
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(br#"{"sub":"admin"}"#);
        assert_eq!(verify::<Value>(&k, &parts.join("."), TYP_ID).unwrap_err(), JwtError::Signature);

        // alg "none" is refused before anything else.
        let none = format!("{}.{}.", URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#), parts[1]);
        assert_eq!(verify::<Value>(&k, &none, TYP_ID).unwrap_err(), JwtError::Algorithm);
        assert_eq!(verify::<Value>(&k, "a.b", TYP_ID).unwrap_err(), JwtError::Malformed);
        assert_eq!(verify::<Value>(&k, "a.b.c.d", TYP_ID).unwrap_err(), JwtError::Malformed);
    }

    #[test]
    fn accepts_media_type_form_of_typ() {
        assert!(typ_matches(Some("application/at+JWT"), TYP_ACCESS));
        assert!(!typ_matches(None, TYP_ACCESS));
        assert!(!typ_matches(Some("JWT"), TYP_ACCESS));
    }
}
