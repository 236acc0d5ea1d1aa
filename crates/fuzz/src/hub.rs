//! The hub's parsers: form and query parameters, cookies and bearer tokens, JWTs, redirect URIs,
//! PATs, JSON bodies and SCIM filters and times.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use http::header::{AUTHORIZATION, COOKIE};
use http::{HeaderMap, HeaderValue};
use keyway_api::{clients, credentials, keys, reviews, scim, users};
use keyway_hub::fuzzing::{self as hub, FormParams, Pat, TokenKeys};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::{Host, Url};

use crate::input::{pick, text, two_lines};

/// Query strings and form bodies, and what the OAuth endpoints read from their values: scopes,
/// device user codes, PKCE values and the redirect carrying a code back.
pub fn form_params(data: &[u8]) {
    // What the hub must see: the first non-empty value of each name, and which names repeat.
    let mut first: HashMap<String, String> = HashMap::new();
    let mut count: HashMap<String, usize> = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(data) {
        if value.is_empty() {
            continue;
        }
        *count.entry(name.to_string()).or_default() += 1;
        first.entry(name.into_owned()).or_insert_with(|| value.into_owned());
    }
    let query = FormParams::from_query(data);
    let body = FormParams::from_body(data);
    assert_eq!(body.is_some(), std::str::from_utf8(data).is_ok(), "a form body is refused only when not UTF-8");
    for (name, n) in &count {
        assert_eq!(query.get(name), first.get(name).map(String::as_str), "{name}");
        assert_eq!(query.is_duplicated(name), *n > 1, "{name}");
        if let Some(body) = &body {
            assert_eq!(body.get(name), query.get(name));
        }
    }
    assert_eq!(query.accepted(), count.values().all(|n| *n == 1));

    let s = text(data);
    match hub::parse_scope(Some(&s)) {
        Ok(scope) => {
            let scopes: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
            assert!(scopes.iter().all(|s| hub::SCOPES.contains(s)), "{scope}");
            assert!(scopes.iter().enumerate().all(|(i, s)| !scopes[..i].contains(s)), "repeated: {scope}");
            assert_eq!(hub::parse_scope(Some(&scope)).as_ref(), Ok(&scope), "normalizing twice changes it");
        }
        Err(_) => assert!(s.split(' ').any(|w| !w.is_empty() && !hub::SCOPES.contains(&w))),
    }
    if let Some(code) = hub::normalize_user_code(&s) {
        assert!(code.len() == 9 && code.as_bytes()[4] == b'-', "{code}");
        assert_eq!(hub::normalize_user_code(&code).as_deref(), Some(code.as_str()));
    }
    if hub::is_valid_code_verifier(&s) {
        assert!((43..=128).contains(&s.len()) && s.is_ascii());
    }
    if hub::is_valid_code_challenge(&s) {
        assert!(s.len() == 43 && s.is_ascii());
    }
    let (uri, value) = two_lines(&s);
    let pairs = [("code", value), ("state", uri), ("iss", "https://hub.example")];
    let redirect = hub::redirect_with(uri, &pairs);
    let added = redirect.strip_prefix(uri).expect("the redirect keeps the URI it was given");
    let back: Vec<(String, String)> = url::form_urlencoded::parse(&added.as_bytes()[1..]).into_owned().collect();
    let want: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    assert_eq!(back, want, "the appended parameters read back as given");
}

/// Cookies and the bearer token of request headers (one header value per line).
pub fn cookie(data: &[u8]) {
    let mut headers = HeaderMap::new();
    for line in data.split(|b| *b == b'\n') {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.append(COOKIE, value.clone());
            if !headers.contains_key(AUTHORIZATION) {
                headers.insert(AUTHORIZATION, value);
            }
        }
    }
    let values: Vec<&str> = headers.get_all(COOKIE).iter().filter_map(|v| v.to_str().ok()).collect();
    let first_name = values.first().and_then(|v| v.split(['=', ';']).next()).map(str::trim).unwrap_or("");
    for name in ["kw_session", "kw_csrf", first_name] {
        let Some(value) = hub::cookie(&headers, name) else { continue };
        assert!(!value.is_empty() && !value.contains(';'), "{name}={value:?}");
        assert!(!value.starts_with('"') && !value.ends_with('"'), "{name}={value:?}");
        assert!(values.iter().any(|v| v.contains(&format!("{name}=")) && v.contains(value)), "{name}={value:?}");
    }
    if let Some(token) = hub::bearer_token(&headers) {
        let header = headers[AUTHORIZATION].to_str().expect("a bearer token is text");
        assert!(header.get(..7).is_some_and(|s| s.eq_ignore_ascii_case("bearer ")), "{header:?}");
        assert!(!token.is_empty() && token.trim() == token, "{token:?}");
    }
}

/// The keys the JWT target verifies with.
fn jwt_keys() -> TokenKeys {
    TokenKeys::from_seed(&[7u8; 32])
}

/// An access token as the hub issues them, signed by [`jwt_keys`].
fn jwt_issued(keys: &TokenKeys) -> String {
    let claims = serde_json::json!({
        "iss": "https://hub.example", "sub": "u_1", "aud": "keyway", "exp": 2_000_000_000i64,
        "iat": 1_700_000_000i64, "nbf": 1_700_000_000i64, "jti": "j_1", "client_id": "keyway-desktop",
        "scope": "openid", "roles": ["developer"], "preferred_username": "alice",
        "sid": "f_1", "auth_time": 1_700_000_000i64, "token_class": "user_access",
    });
    keys.sign_access(&claims)
}

/// JWT verification. Even bytes first: the rest is a token, which never verifies (no one
/// but the holder of the seed can sign). Odd: the rest edits a token the hub signed (at a
/// position, replacing, inserting or deleting), and a token that changed never verifies.
pub fn jwt(data: &[u8]) {
    let keys = jwt_keys();
    let (mode, rest) = pick(data);
    if mode % 2 == 0 {
        let token = text(rest);
        assert!(keys.verify_access(&token).is_none(), "a forged token verified: {token}");
        assert!(keys.verify_id(&token).is_none(), "a forged ID token verified: {token}");
        return;
    }
    let issued = jwt_issued(&keys);
    let claims = keys.verify_access(&issued).expect("the hub's own token verifies");
    assert_eq!(claims["sub"], "u_1");
    assert!(keys.verify_id(&issued).is_none(), "an access token verified as an ID token");
    let (op, rest) = pick(rest);
    let (at, edit) = pick(rest);
    let at = usize::from(at) * issued.len() / 256;
    let mut bytes = issued.clone().into_bytes();
    match op % 3 {
        0 => {
            let end = (at + edit.len()).min(bytes.len());
            bytes.splice(at..end, edit.iter().copied());
        }
        1 => {
            bytes.splice(at..at, edit.iter().copied());
        }
        _ => {
            let n = usize::from(edit.first().copied().unwrap_or(1)).max(1);
            bytes.drain(at..(at + n).min(bytes.len()));
        }
    }
    let edited = text(&bytes);
    if edited != issued {
        assert!(keys.verify_access(&edited).is_none(), "an edited token verified: {edited}");
    }
}

/// A canonical URL with no user information or fragment.
fn canonical(uri: &str) -> Option<Url> {
    let url = Url::parse(uri).ok()?;
    (url.as_str() == uri && url.username().is_empty() && url.password().is_none() && url.fragment().is_none())
        .then_some(url)
}

/// `127.0.0.1` or `[::1]`, the desktop client's hosts.
fn is_desktop_host(host: Option<Host<&str>>) -> bool {
    matches!(host, Some(Host::Ipv4(ip)) if ip == Ipv4Addr::LOCALHOST)
        || matches!(host, Some(Host::Ipv6(ip)) if ip == Ipv6Addr::LOCALHOST)
}

/// A loopback IP address (RFC 8252 §7.3) or `localhost`, which registered clients may use.
fn is_loopback(host: Option<Host<&str>>) -> bool {
    match host {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

/// Redirect URIs: the desktop client's (loopback and its deep link) and a registered client's.
/// A match is the registered string itself, or a loopback redirect on another port; and a
/// client is always sent back to the URI it registered.
pub fn redirect_uri(data: &[u8]) {
    let s = text(data);
    let (registered, candidate) = two_lines(&s);
    let candidate = if candidate.is_empty() { registered } else { candidate };
    for uri in [registered, candidate] {
        if hub::desktop_allows_redirect(uri) && uri != keyway_api::DEEP_LINK_REDIRECT {
            let url = canonical(uri).unwrap_or_else(|| panic!("{uri:?} is not canonical"));
            assert!(url.scheme() == "http" && is_desktop_host(url.host()), "{uri:?}");
            assert!(url.path() == "/callback" && url.query().is_none(), "{uri:?}");
        }
    }
    let registered_list = [registered.to_owned()];
    if hub::registered_allows_redirect(&registered_list, candidate) && candidate != registered {
        // Canonical, or an origin alone (its canonical form adds the root path).
        let url = canonical(candidate)
            .or_else(|| canonical(&format!("{candidate}/")))
            .unwrap_or_else(|| panic!("{candidate:?} is not canonical"));
        assert!(url.scheme() == "http" && is_loopback(url.host()), "{candidate:?}");
        let reg = Url::parse(registered).expect("a loopback rule parsed");
        assert_eq!((url.host(), url.path(), url.query()), (reg.host(), reg.path(), reg.query()), "{candidate:?}");
    }
    if hub::refuse_redirect(registered).is_none() {
        assert!(registered.len() <= clients::MAX_REDIRECT_URI_LEN);
        let url = Url::parse(registered).expect("a registrable redirect is a URL");
        assert!(url.fragment().is_none() && url.username().is_empty() && url.password().is_none(), "{registered}");
        let scheme = url.scheme();
        assert!(
            matches!(scheme, "http" | "https") || scheme.contains('.'),
            "{registered:?}: a private-use scheme must be named after a domain"
        );
        if scheme == "http" {
            assert!(is_loopback(url.host()), "{registered:?}");
        }
        assert!(
            hub::registered_allows_redirect(&registered_list, registered),
            "{registered:?} may be registered but is then refused as the redirect"
        );
    }
}

/// PATs and other credential tokens: a token that parses is exactly the input, names its kind
/// and public id, and hides its secret from `Debug`.
pub fn pat(data: &[u8]) {
    let s = text(data);
    let Ok(token) = Pat::parse(&s) else { return };
    assert_eq!(token.as_str(), s);
    assert_eq!(s.len(), hub::PAT_LEN);
    assert!(s.starts_with(token.kind().prefix()), "{s}");
    assert_eq!(token.public_id(), format!("cr_{}", &s[6..18]));
    assert!(!token.debug().contains(&s[18..]), "Debug shows the secret");
    assert!(Pat::parse(token.as_str()).is_ok());
}

/// `T` read as a body, and read again from what it writes: the same.
fn round_trip<T: Serialize + DeserializeOwned>(bytes: &[u8]) {
    let Ok(value) = hub::json_body::<T>(bytes) else { return };
    let written = serde_json::to_vec(&value).expect("a request type serializes");
    let again = hub::json_body::<T>(&written).unwrap_or_else(|e| panic!("{}: {e}", String::from_utf8_lossy(&written)));
    let (a, b) = (serde_json::to_value(&value).ok(), serde_json::to_value(&again).ok());
    assert_eq!(a, b, "a request body changes when read back");
}

/// JSON request bodies, each of the API's request types (the first byte picks one).
pub fn json_body(data: &[u8]) {
    let (which, body) = pick(data);
    let types: [fn(&[u8]); 20] = [
        round_trip::<clients::ClientRegistration>,
        round_trip::<credentials::ExchangeRequest>,
        round_trip::<credentials::Enroll>,
        round_trip::<credentials::MintPat>,
        round_trip::<credentials::MintEnrollment>,
        round_trip::<credentials::CredentialSettings>,
        round_trip::<credentials::CreateAgent>,
        round_trip::<credentials::UpdateAgent>,
        round_trip::<credentials::CreateServiceAccount>,
        round_trip::<credentials::RotateServiceToken>,
        round_trip::<users::ChangePassword>,
        round_trip::<users::SessionSettings>,
        round_trip::<users::CreateUser>,
        round_trip::<users::SetRoles>,
        round_trip::<users::ResetPassword>,
        round_trip::<scim::CreateScimToken>,
        round_trip::<keys::KeySettings>,
        round_trip::<reviews::SubmitReview>,
        round_trip::<reviews::Decide>,
        round_trip::<reviews::ReviewSettings>,
    ];
    types[usize::from(which) % types.len()](body);
}

/// SCIM filters (first line) and dateTimes (second line): a time that parses writes out as
/// one that parses to the same second, within the years RFC 3339 writes (an offset or a leap
/// second may carry `9999-12-31T23:59:60-05:30` past them).
pub fn scim(data: &[u8]) {
    let s = text(data);
    let (filter, time) = two_lines(&s);
    let _ = hub::scim_filter(filter, "admins", &["u_1".to_owned()]);
    for t in [filter, time] {
        if let Some(secs) = hub::scim_time(t) {
            let written = hub::scim_time_format(secs);
            if written.len() != "2026-12-01T19:20:40Z".len() {
                continue;
            }
            assert_eq!(hub::scim_time(&written), Some(secs), "{t:?} → {written}");
        }
    }
}
