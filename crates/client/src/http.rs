//! The one way this client calls the hub's API: builds the request (auth, fingerprint, body,
//! query, headers, timeout), sends it, and turns a failure into [`Error`] — `Unreachable` when
//! the hub cannot be reached, `Refused` with the hub's code and message when it says no.

use std::time::Duration;

use keyway_api::auth::TokenClass;
use keyway_api::credentials::FINGERPRINT_HEADER;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest as _, Sha256};

use crate::secret::SecretString;
use crate::{Client, Error};

/// How a request proves who is calling.
pub(crate) enum Auth<'a> {
    /// A JWT of this class for the profile ([`Client::token`]).
    Jwt(TokenClass),
    /// This secret as the bearer token (a PAT or sign-in to exchange, an enrollment token).
    Bearer(&'a SecretString),
    /// HTTP Basic with a service account's name and token.
    Basic { name: &'a str, token: &'a SecretString },
}

/// One request to the hub, described before it is sent.
pub(crate) struct Request<'a> {
    method: Method,
    path: &'a str,
    auth: Auth<'a>,
    fingerprint_of: Option<&'a SecretString>,
    /// The body and its content type.
    body: Option<(Vec<u8>, &'static str)>,
    query: Vec<(String, String)>,
    headers: Vec<(&'static str, &'a str)>,
    timeout: Option<Duration>,
    renew_stale: bool,
}

impl<'a> Request<'a> {
    pub(crate) fn new(method: Method, path: &'a str, auth: Auth<'a>) -> Self {
        Request {
            method,
            path,
            auth,
            fingerprint_of: None,
            body: None,
            query: Vec::new(),
            headers: Vec::new(),
            timeout: None,
            renew_stale: false,
        }
    }

    /// A JSON body.
    pub(crate) fn json<B: Serialize + ?Sized>(mut self, body: &B) -> Result<Self, Error> {
        let bytes =
            serde_json::to_vec(body).map_err(|e| Error::InvalidInput(format!("cannot encode the request: {e}")))?;
        self.body = Some((bytes, "application/json"));
        Ok(self)
    }

    /// An `application/x-www-form-urlencoded` body (the OAuth endpoints').
    pub(crate) fn form(mut self, pairs: &[(&str, &str)]) -> Self {
        let encoded = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
        self.body = Some((encoded.into_bytes(), "application/x-www-form-urlencoded"));
        self
    }

    /// Sends the hub this secret's fingerprint ([`fingerprint`]), so it can notice a token used
    /// from somewhere else.
    pub(crate) fn fingerprint_of(mut self, secret: &'a SecretString) -> Self {
        self.fingerprint_of = Some(secret);
        self
    }

    pub(crate) fn query(mut self, pairs: Vec<(String, String)>) -> Self {
        self.query = pairs;
        self
    }

    pub(crate) fn header(mut self, name: &'static str, value: &'a str) -> Self {
        self.headers.push((name, value));
        self
    }

    pub(crate) fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// On `401 invalid_token`, forget the profile's JWTs, get a fresh one once, and retry.
    pub(crate) fn renew_stale_token(mut self) -> Self {
        self.renew_stale = true;
        self
    }
}

impl Client {
    /// The absolute URL of an API path on the profile's hub.
    pub(crate) fn api_url(&self, path: &str) -> String {
        format!("{}{path}", self.profile.server.as_str().trim_end_matches('/'))
    }

    /// Sends `req` and returns the hub's successful response (its body not yet read).
    pub(crate) async fn send(&self, req: Request<'_>) -> Result<reqwest::Response, Error> {
        let url = self.api_url(req.path);
        let mut renewed = false;
        loop {
            let mut builder = self.http.request(req.method.clone(), &url);
            builder = match &req.auth {
                // Boxed: getting a JWT may itself call the hub (an exchange) through here.
                Auth::Jwt(class) => builder.bearer_auth(Box::pin(self.token(*class)).await?.secret()),
                Auth::Bearer(secret) => builder.bearer_auth(secret.secret()),
                Auth::Basic { name, token } => builder.basic_auth(name, Some(token.secret())),
            };
            if let Some(secret) = req.fingerprint_of {
                builder = builder.header(FINGERPRINT_HEADER, fingerprint(secret.secret()));
            }
            for (name, value) in &req.headers {
                builder = builder.header(*name, *value);
            }
            if let Some((body, content_type)) = &req.body {
                builder = builder.header(reqwest::header::CONTENT_TYPE, *content_type).body(body.clone());
            }
            if !req.query.is_empty() {
                builder = builder.query(&req.query);
            }
            if let Some(t) = req.timeout {
                builder = builder.timeout(t);
            }
            let resp = builder.send().await.map_err(|e| Error::unreachable(&url, &e))?;
            let status = resp.status();
            if status.is_success() {
                return Ok(resp);
            }
            let bytes = resp.bytes().await.unwrap_or_default();
            let err = crate::oidc::refused(status, &bytes);
            let stale = status == StatusCode::UNAUTHORIZED
                && matches!(&err, Error::Refused { code, .. } if code == keyway_api::codes::INVALID_TOKEN);
            if req.renew_stale && stale && !renewed {
                renewed = true;
                self.renew_tokens().await?;
                continue;
            }
            return Err(err);
        }
    }

    /// Sends `req` and reads the hub's JSON answer.
    pub(crate) async fn call<T: DeserializeOwned>(&self, req: Request<'_>) -> Result<T, Error> {
        let path = req.path;
        let resp = self.send(req).await?;
        let bytes = resp.bytes().await.map_err(|e| Error::unreachable(&self.api_url(path), &e))?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Protocol(format!("unexpected answer from {path}: {e}")))
    }
}

/// SHA-256 (hex) of the token, this machine's host name and the working directory: lets the
/// hub notice the same token used from somewhere else.
pub fn fingerprint(token: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_default();
    let cwd = std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default();
    let mut h = Sha256::new();
    h.update(token.as_bytes());
    h.update([0]);
    h.update(host.trim().as_bytes());
    h.update([0]);
    h.update(cwd.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// An id as one URL path segment: short and plain (letters, digits, `-`, `_`); anything else
/// is refused as not being `what` (e.g. "review request id").
pub(crate) fn path_segment<'a>(id: &'a str, what: &str) -> Result<&'a str, Error> {
    if !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        Ok(id)
    } else {
        Err(Error::InvalidInput(format!("'{id}' is not a {what}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_must_be_one_safe_segment() {
        assert!(path_segment("abc-DEF_123", "review request id").is_ok());
        for bad in ["", "../x", "a/b", "a?b", "a b"] {
            assert!(path_segment(bad, "review request id").is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_are_short_and_taken_as_given() {
        assert!(path_segment(&"a".repeat(64), "valid id").is_ok());
        assert!(path_segment(&"a".repeat(65), "valid id").is_err());
        assert!(path_segment(" abc", "valid id").is_err());
        let err = path_segment("a/b", "review request id").unwrap_err().to_string();
        assert_eq!(err, "'a/b' is not a review request id");
    }
}
