//! Entry points into the hub's parsers of untrusted input, for the fuzz targets (`crates/fuzz`)
//! and their corpus test. Not the hub's API: each is one call into the code the routes run, with
//! nothing of its own but the conversion of its answer into plain types.

use axum::Json;
use axum::http::HeaderMap;
use keyway_api::credentials::CredentialKind;
use serde::de::DeserializeOwned;

use crate::access_token::AccessClaims;
use crate::clients::{self, Client, ClientRegistry};
use crate::http::{self, BodyFormat, Params};
use crate::jwt;
use crate::keys::Keys;
use crate::oauth::{authorize, code, discovery, pkce};
use crate::pat::{self, Token};
use crate::scim::{filter, time};
use crate::secret;
use crate::store::ClientRecord;

/// Form or query parameters as the OAuth endpoints read them ([`Params`]).
pub struct FormParams(Params);

impl FormParams {
    /// A query string, as `GET /oauth/authorize` reads it.
    pub fn from_query(input: &[u8]) -> FormParams {
        FormParams(Params::parse(input))
    }

    /// An `application/x-www-form-urlencoded` body, as `POST /oauth/token` reads it; `None` when
    /// the body is refused.
    pub fn from_body(input: &[u8]) -> Option<FormParams> {
        <Params as BodyFormat>::parse(input).ok().map(FormParams)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name)
    }

    pub fn is_duplicated(&self, name: &str) -> bool {
        self.0.is_duplicated(name)
    }

    /// False when a parameter was repeated (the endpoints refuse such a request).
    pub fn accepted(&self) -> bool {
        self.0.reject_duplicates().is_ok()
    }
}

/// The scopes the hub knows.
pub const SCOPES: &[&str] = discovery::SCOPES_SUPPORTED;

/// A requested `scope`, normalized or refused.
pub fn parse_scope(raw: Option<&str>) -> Result<String, String> {
    authorize::parse_scope(raw)
}

/// A typed device user code in its stored form.
pub fn normalize_user_code(typed: &str) -> Option<String> {
    secret::normalize_user_code(typed)
}

pub fn is_valid_code_challenge(challenge: &str) -> bool {
    pkce::is_valid_challenge(challenge)
}

pub fn is_valid_code_verifier(verifier: &str) -> bool {
    pkce::is_valid_verifier(verifier)
}

/// A redirect URI with query parameters appended (codes and errors back to the client).
pub fn redirect_with(uri: &str, pairs: &[(&str, &str)]) -> String {
    code::redirect_with(uri, pairs)
}

/// The value of cookie `name` in the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    http::cookie(headers, name)
}

/// The request's bearer token.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    http::bearer_token(headers).ok()
}

/// Signing keys from one seed, to sign and verify tokens as the hub does.
pub struct TokenKeys(Keys);

impl TokenKeys {
    pub fn from_seed(seed: &[u8; 32]) -> TokenKeys {
        TokenKeys(Keys::from_seed(seed))
    }

    /// An access token (`typ` `at+jwt`) over `claims`.
    pub fn sign_access(&self, claims: &serde_json::Value) -> String {
        jwt::sign(&self.0, jwt::TYP_ACCESS, claims).unwrap_or_default()
    }

    /// The claims of `token` if it verifies as an access token, as the API reads them.
    pub fn verify_access(&self, token: &str) -> Option<serde_json::Value> {
        let claims: AccessClaims = jwt::verify(&self.0, token, jwt::TYP_ACCESS).ok()?;
        serde_json::to_value(claims).ok()
    }

    /// The claims of `token` if it verifies as an ID token.
    pub fn verify_id(&self, token: &str) -> Option<serde_json::Value> {
        jwt::verify(&self.0, token, jwt::TYP_ID).ok()
    }
}

/// True if the built-in desktop client may be sent back to `uri`.
pub fn desktop_allows_redirect(uri: &str) -> bool {
    ClientRegistry::builtin().get(keyway_api::DESKTOP_CLIENT_ID).is_some_and(|c| c.allows_redirect(uri))
}

/// True if a dynamically registered client with `registered` redirect URIs may be sent back
/// to `uri`.
pub fn registered_allows_redirect(registered: &[String], uri: &str) -> bool {
    let record = ClientRecord {
        id: format!("{}fuzz", clients::REGISTERED_PREFIX),
        name: "fuzz".into(),
        redirect_uris: registered.to_vec(),
        created_at: 0,
        last_used_at: None,
        revoked_at: None,
        address: None,
    };
    Client::from_record(&record).allows_redirect(uri)
}

/// Why registration refuses `uri`, or `None` if a client may register it.
pub fn refuse_redirect(uri: &str) -> Option<String> {
    clients::refuse_redirect(uri)
}

/// A well-formed credential token ([`Token::parse`]).
pub struct Pat(Token);

impl Pat {
    pub fn parse(value: &str) -> Result<Pat, String> {
        Token::parse(value).map(Pat).map_err(|e| e.to_string())
    }

    pub fn generate(kind: CredentialKind) -> Pat {
        Pat(Token::generate(kind, &pat::new_public_id()))
    }

    pub fn as_str(&self) -> &str {
        self.0.expose()
    }

    pub fn kind(&self) -> CredentialKind {
        self.0.kind()
    }

    pub fn public_id(&self) -> String {
        self.0.public_id()
    }

    /// What logs show of it.
    pub fn debug(&self) -> String {
        format!("{:?}", self.0)
    }
}

/// The length of every credential token.
pub const PAT_LEN: usize = pat::TOKEN_LEN;

/// A JSON request body as the API routes read it (`Body<Json<T>>`).
pub fn json_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    <Json<T> as BodyFormat>::parse(bytes).map(|Json(t)| t).map_err(|e| e.into_owned())
}

/// What a SCIM filter does: `None` if it is refused, else whether the store can run it on
/// users and whether it selects a group named `group` with `members`.
pub fn scim_filter(s: &str, group: &str, members: &[String]) -> Option<(bool, bool)> {
    let f = filter::parse(s).ok()?;
    Some((filter::user_filter(&f).is_ok(), filter::group_matches(&f, group, members)))
}

/// A SCIM date-time in Unix seconds.
pub fn scim_time(s: &str) -> Option<i64> {
    time::parse(s)
}

/// Unix seconds as SCIM writes them.
pub fn scim_time_format(secs: i64) -> String {
    time::format(secs)
}
