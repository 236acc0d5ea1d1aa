//! Request parsing and response helpers every route shares: form and query parameters, the one
//! body extractor ([`Body`]), cookies, bearer tokens, list pages and cache headers.

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::Entry;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, Query, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::de::DeserializeOwned;

use crate::error::Error;

/// Default and largest page sizes of list routes.
pub(crate) const DEFAULT_PAGE: u32 = 50;
pub(crate) const MAX_PAGE: u32 = 200;

/// Form or query parameters (RFC 6749 §3.1: empty values count as absent; repeated
/// parameters are an error the handler reports). `Debug` names the parameters, never their
/// values, which include passwords, codes and refresh tokens.
#[derive(Default)]
pub(crate) struct Params {
    values: HashMap<String, String>,
    duplicates: Vec<String>,
}

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.values.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_struct("Params").field("names", &names).field("duplicates", &self.duplicates).finish()
    }
}

impl Drop for Params {
    fn drop(&mut self) {
        // Values include passwords, codes and refresh tokens.
        for value in self.values.values_mut() {
            zeroize::Zeroize::zeroize(value);
        }
    }
}

impl Params {
    pub(crate) fn parse(input: &[u8]) -> Params {
        let mut params = Params::default();
        for (name, value) in url::form_urlencoded::parse(input) {
            if value.is_empty() {
                continue;
            }
            match params.values.entry(name.into_owned()) {
                Entry::Occupied(e) => params.duplicates.push(e.key().clone()),
                Entry::Vacant(e) => {
                    e.insert(value.into_owned());
                }
            }
        }
        params
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub(crate) fn take(&mut self, name: &str) -> Option<String> {
        self.values.remove(name)
    }

    pub(crate) fn is_duplicated(&self, name: &str) -> bool {
        self.duplicates.iter().any(|d| d == name)
    }

    /// `invalid_request` naming the first repeated parameter, if any.
    pub(crate) fn reject_duplicates(&self) -> Result<(), Error> {
        match self.duplicates.first() {
            Some(name) => Err(Error::invalid_request(format!("parameter '{name}' was given more than once"))),
            None => Ok(()),
        }
    }

    /// The parameter, or `invalid_request` if it is missing.
    pub(crate) fn require(&self, name: &'static str) -> Result<&str, Error> {
        self.get(name).ok_or_else(|| Error::invalid_request(format!("missing parameter '{name}'")))
    }
}

/// What a request body can be read as: its media type, how it parses, and how a refusal is
/// said in the error format of the routes that take it.
pub(crate) trait BodyFormat: Sized {
    /// Named in the refusal of another media type.
    const MEDIA_TYPE: &'static str;
    fn accepts(mime: &str) -> bool;
    fn parse(bytes: &[u8]) -> Result<Self, Cow<'static, str>>;
    /// The route's own error for a body it cannot take.
    fn refuse(message: Cow<'static, str>) -> Error;
}

/// `application/x-www-form-urlencoded`, on the OAuth endpoints: refusals are RFC 6749
/// `invalid_request` with `error_description`.
impl BodyFormat for Params {
    const MEDIA_TYPE: &'static str = "application/x-www-form-urlencoded";

    fn accepts(mime: &str) -> bool {
        mime.eq_ignore_ascii_case(Self::MEDIA_TYPE)
    }

    fn parse(bytes: &[u8]) -> Result<Self, Cow<'static, str>> {
        if std::str::from_utf8(bytes).is_err() {
            return Err("the request body is not valid UTF-8".into());
        }
        Ok(Params::parse(bytes))
    }

    fn refuse(message: Cow<'static, str>) -> Error {
        Error::invalid_request(message)
    }
}

/// JSON (`application/json` or any `+json` type), on Keyway's own routes: refusals are
/// `{"error": "invalid_request", "message"}`.
impl<T: DeserializeOwned> BodyFormat for Json<T> {
    const MEDIA_TYPE: &'static str = "application/json";

    fn accepts(mime: &str) -> bool {
        mime.eq_ignore_ascii_case(Self::MEDIA_TYPE)
            || (mime.len() > 5 && mime[mime.len() - 5..].eq_ignore_ascii_case("+json"))
    }

    fn parse(bytes: &[u8]) -> Result<Self, Cow<'static, str>> {
        serde_json::from_slice(bytes).map(Json).map_err(|e| format!("the request body is not valid: {e}").into())
    }

    fn refuse(message: Cow<'static, str>) -> Error {
        Error::bad_request(message)
    }
}

/// The one body extractor: `Body<Params>` for forms, `Body<Json<T>>` for JSON. Every failure
/// is a coded refusal in the route's format, never axum's plain-text rejection; a body over
/// the route's limit is `413`.
#[derive(Debug)]
pub(crate) struct Body<T>(pub(crate) T);

impl<S: Send + Sync, T: BodyFormat> FromRequest<S> for Body<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let accepted = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| T::accepts(mime.trim()));
        if !accepted {
            return Err(T::refuse(format!("the body must be {}", T::MEDIA_TYPE).into()));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Error::PayloadTooLarge
            } else {
                T::refuse("the request body could not be read".into())
            }
        })?;
        T::parse(&bytes).map(Body).map_err(T::refuse)
    }
}

/// A route's query string, or a 400 `invalid_request` that says what is wrong with it.
pub(crate) fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, Error> {
    q.map(|Query(p)| p).map_err(|e| Error::bad_request(format!("invalid query: {}", e.body_text())))
}

/// A list's `cursor` parameter as `parse` reads it: absent or empty is the first page, and one
/// that does not parse is a 400 (cursors are only ever a previous page's `next`).
pub(crate) fn cursor<T>(raw: Option<&str>, parse: impl FnOnce(&str) -> Option<T>) -> Result<Option<T>, Error> {
    match raw.filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(c) => parse(c).map(Some).ok_or_else(|| Error::bad_request("invalid cursor: pass back `next`")),
    }
}

/// One page of a list read with one row more than `limit`: the first `limit` rows, and when
/// more follow, the cursor of the page's last row (`next`).
pub(crate) fn page_of<T>(mut rows: Vec<T>, limit: u32, cursor: impl Fn(&T) -> String) -> (Vec<T>, Option<String>) {
    let next = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(cursor)
    } else {
        None
    };
    (rows, next)
}

/// The value of cookie `name` in the request, if present.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
        .filter(|v| !v.is_empty())
}

/// The bearer token of the request (RFC 6750 §2.1).
pub(crate) fn bearer_token(headers: &HeaderMap) -> Result<&str, Error> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Error::InvalidToken("a bearer access token is required".into()))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => Ok(token.trim()),
        _ => Err(Error::InvalidToken("the Authorization header must be 'Bearer <access token>'".into())),
    }
}

/// Adds `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1).
pub(crate) fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_treat_empty_as_absent_and_track_duplicates() {
        let p = Params::parse(b"a=1&b=&c=x%20y&a=2");
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), Some("x y"));
        assert!(p.is_duplicated("a"));
        assert!(p.reject_duplicates().is_err());
        assert!(matches!(p.require("zzz"), Err(Error::OAuth { code: "invalid_request", .. })));
    }

    #[test]
    fn params_debug_shows_names_not_values() {
        let p = Params::parse(b"username=alice&password=hunter2hunter2&code=abc");
        let shown = format!("{p:?}");
        assert!(shown.contains("password") && shown.contains("username"), "{shown}");
        assert!(!shown.contains("hunter2") && !shown.contains("alice") && !shown.contains("abc"), "{shown}");
    }

    #[test]
    fn cookies() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; kw_session=abc"));
        h.append(header::COOKIE, HeaderValue::from_static("kw_csrf=def"));
        assert_eq!(cookie(&h, "kw_session"), Some("abc"));
        assert_eq!(cookie(&h, "kw_csrf"), Some("def"));
        assert_eq!(cookie(&h, "nope"), None);
    }

    #[test]
    fn body_refusals_speak_the_routes_format() {
        assert!(matches!(<Params as BodyFormat>::refuse("x".into()), Error::OAuth { code: "invalid_request", .. }));
        assert!(matches!(
            <Json<serde_json::Value> as BodyFormat>::refuse("x".into()),
            Error::Api { status: StatusCode::BAD_REQUEST, code: "invalid_request", .. }
        ));
        assert!(<Json<serde_json::Value> as BodyFormat>::accepts("application/merge-patch+json"));
        assert!(!<Json<serde_json::Value> as BodyFormat>::accepts("text/plain"));
        assert!(<Params as BodyFormat>::parse(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn cursors() {
        assert_eq!(cursor(None, |c| c.parse::<i64>().ok()).unwrap(), None);
        assert_eq!(cursor(Some(""), |c| c.parse::<i64>().ok()).unwrap(), None);
        assert_eq!(cursor(Some("42"), |c| c.parse::<i64>().ok()).unwrap(), Some(42));
        assert!(cursor(Some("x"), |c| c.parse::<i64>().ok()).is_err());
    }
}
