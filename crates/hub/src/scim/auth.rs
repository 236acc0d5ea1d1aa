//! Who is provisioning: an IdP with a SCIM bearer token ([`ScimCaller`]), and how tokens are
//! made. A token is `kwscim_` + 43 base62 characters (256 bits from the OS CSPRNG); the hub
//! stores only its SHA-256, finds it by that hash and compares the hashes in constant time. A
//! token this hub's database never issued (another hub's), a revoked one, or none at all is
//! `401`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use keyway_api::codes;
use keyway_api::scim::MAX_SCIM_TOKEN_LABEL;
use subtle::ConstantTimeEq as _;

use super::error::ScimError;
use crate::audit::Audit;
use crate::error::Error;
use crate::secret::{TokenHash, random_base62, random_id};
use crate::state::AppState;
use crate::store::{ScimTokenRecord, Store};

/// The prefix of every SCIM token (so scanners can spot a leaked one).
pub(crate) const TOKEN_PREFIX: &str = "kwscim_";
const TOKEN_CHARS: usize = 43;

/// The IdP calling a SCIM route, known by its token.
#[derive(Clone, Debug)]
pub(crate) struct ScimCaller {
    pub(crate) token_id: String,
    pub(crate) label: String,
}

impl ScimCaller {
    /// An audit row of a change this caller made.
    pub(crate) fn audit(&self, at: i64, action: &str) -> Audit {
        Audit::by_subject("scim_token", &self.token_id, &self.label, at, action)
    }
}

/// A label: trimmed, 1–64 characters, no control characters; "scim" when none.
pub(crate) fn label_of(label: Option<&str>) -> Result<String, Error> {
    let label = label.map(str::trim).filter(|l| !l.is_empty()).unwrap_or("scim");
    if label.chars().count() > MAX_SCIM_TOKEN_LABEL || label.chars().any(char::is_control) {
        return Err(Error::unprocessable(
            codes::VALIDATION_FAILED,
            format!("A label is at most {MAX_SCIM_TOKEN_LABEL} characters, without control characters"),
        ));
    }
    Ok(label.to_owned())
}

/// A new token: the secret (shown once) and the record to store.
pub(crate) fn new_token(label: &str, created_by: Option<&str>, now: i64) -> (String, ScimTokenRecord) {
    let secret = format!("{TOKEN_PREFIX}{}", random_base62(TOKEN_CHARS));
    let record = ScimTokenRecord {
        id: format!("scim_{}", random_id()),
        token_hash: TokenHash::of(&secret),
        label: label.to_owned(),
        created_by: created_by.map(str::to_owned),
        created_at: now,
        revoked_at: None,
    };
    (secret, record)
}

impl<S: Store> FromRequestParts<AppState<S>> for ScimCaller {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState<S>) -> Result<ScimCaller, ScimError> {
        let refused = || ScimError::unauthorized("A valid SCIM bearer token of this hub is required");
        let value = parts.headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let token = match value.and_then(|v| v.split_once(' ')) {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => return Err(refused()),
        };
        if !token.starts_with(TOKEN_PREFIX) || token.len() != TOKEN_PREFIX.len() + TOKEN_CHARS {
            return Err(refused());
        }
        let hash = TokenHash::of(token);
        let Some(record) = state.store.scim_token_by_hash(&hash).await? else { return Err(refused()) };
        let same: bool = record.token_hash.as_bytes().ct_eq(hash.as_bytes()).into();
        if !same || record.revoked_at.is_some() {
            return Err(refused());
        }
        Ok(ScimCaller { token_id: record.id, label: record.label })
    }
}
