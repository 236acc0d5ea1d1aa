//! URLs the operating system hands the desktop app: the first launch's argument, or a later
//! launch's, forwarded by tauri-plugin-single-instance. Pure: no I/O, never panics.
//!
//! - `app.keyway.desktop:/oauth/callback?…` (exactly [`keyway_api::DEEP_LINK_REDIRECT`] plus a
//!   query) is the browser's answer to a deep-link sign-in. Whether it belongs to the sign-in in
//!   progress (state, issuer) is for keyway-client to judge; this only recognises the address.
//! - `keyway://approvals`, `keyway://approvals/<id>`, `keyway://credentials` name a page.
//! - `keyway://device?code=BCDF-GHJK` opens the "Approve a device" dialog with the code filled
//!   in (RFC 8628's user code, normalised); it approves nothing by itself.
//! - Anything else is not understood, and says why.

use keyway_api::DEEP_LINK_REDIRECT;
use keyway_api::desktop::{AdminSection, Route};
use url::Url;

/// The scheme of links into the app.
pub const LINK_SCHEME: &str = "keyway";

/// Longest URL looked at; a link or a sign-in answer is far shorter.
const MAX_LEN: usize = 8 * 1024;

/// What an incoming URL is.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    /// A sign-in answer: the whole URL, to be delivered to the sign-in in progress.
    LoginCallback(String),
    /// A link to a page of the app.
    Open(Route),
    /// Neither; the text says why, for the person.
    NotUnderstood(String),
}

pub fn parse(input: &str) -> Incoming {
    if input.len() > MAX_LEN {
        return not_understood(input, "it is too long");
    }
    let Ok(url) = Url::parse(input) else {
        return not_understood(input, "it is not a URL");
    };
    if url.scheme() == callback_scheme() {
        return match is_callback(&url) {
            true => Incoming::LoginCallback(url.into()),
            false => not_understood(input, "it is not a sign-in answer Keyway asked for"),
        };
    }
    if url.scheme() != LINK_SCHEME {
        return not_understood(input, "Keyway opens only keyway:// links");
    }
    match route(&url) {
        Some(route) => Incoming::Open(route),
        None => not_understood(
            input,
            "Keyway knows keyway://approvals, keyway://approvals/<id>, keyway://credentials, keyway://audit, keyway://admin and keyway://device?code=<code>",
        ),
    }
}

/// The link that opens `route` (the inverse of [`parse`] for pages).
pub fn link_to(route: &Route) -> String {
    match route {
        Route::Session => format!("{LINK_SCHEME}://session"),
        Route::Credentials => format!("{LINK_SCHEME}://credentials"),
        Route::Approvals { id: None } => format!("{LINK_SCHEME}://approvals"),
        Route::Approvals { id: Some(id) } => format!("{LINK_SCHEME}://approvals/{id}"),
        Route::Audit => format!("{LINK_SCHEME}://audit"),
        Route::Admin { section: AdminSection::Users } => format!("{LINK_SCHEME}://admin"),
        Route::Admin { section } => format!("{LINK_SCHEME}://admin/{}", section.as_str()),
        Route::Device { code: None } => format!("{LINK_SCHEME}://device"),
        Route::Device { code: Some(code) } => format!("{LINK_SCHEME}://device?code={code}"),
    }
}

fn callback_scheme() -> &'static str {
    DEEP_LINK_REDIRECT.split_once(':').map_or(DEEP_LINK_REDIRECT, |(scheme, _)| scheme)
}

/// Exactly the registered redirect address, with a query and nothing else.
fn is_callback(url: &Url) -> bool {
    url[..url::Position::AfterPath] == *DEEP_LINK_REDIRECT
        && url.query().is_some_and(|q| !q.is_empty())
        && url.fragment().is_none()
}

/// `keyway://<page>[/<id>]` with nothing else (no user, port, query or fragment), or
/// `keyway://device` with at most a `code` query.
fn route(url: &Url) -> Option<Route> {
    if !url.username().is_empty() || url.password().is_some() || url.port().is_some() || url.fragment().is_some() {
        return None;
    }
    let page = url.host_str()?;
    if page == "device" {
        return device_route(url);
    }
    if url.query().is_some() {
        return None;
    }
    let path = url.path();
    let rest = path.strip_prefix('/').unwrap_or(path);
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    match (page, rest) {
        ("session", "") => Some(Route::Session),
        ("credentials", "") => Some(Route::Credentials),
        ("approvals", "") => Some(Route::Approvals { id: None }),
        ("approvals", id) if is_id(id) => Some(Route::Approvals { id: Some(id.to_owned()) }),
        ("audit", "") => Some(Route::Audit),
        ("admin", "") => Some(Route::Admin { section: AdminSection::Users }),
        ("admin", section) => AdminSection::parse(section).map(|section| Route::Admin { section }),
        _ => None,
    }
}

/// `keyway://device` or `keyway://device?code=<a user code>`: nothing else in the query.
fn device_route(url: &Url) -> Option<Route> {
    if !matches!(url.path(), "" | "/") {
        return None;
    }
    let Some(query) = url.query() else { return Some(Route::Device { code: None }) };
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    match pairs.as_slice() {
        [(name, value)] if name == "code" => {
            crate::device::normalize(value).ok().map(|code| Route::Device { code: Some(code) })
        }
        _ => None,
    }
}

/// A request id as the hub writes them: 1–64 ASCII letters, digits, `-` or `_`.
pub fn is_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn not_understood(input: &str, why: &str) -> Incoming {
    // Show the start of the link only, escaped of control characters.
    let shown: String = input.chars().take(80).flat_map(char::escape_default).take(120).collect();
    Incoming::NotUnderstood(format!("Link not understood: “{shown}” ({why})."))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn callback(query: &str) -> String {
        format!("{DEEP_LINK_REDIRECT}?{query}")
    }

    #[test]
    fn pages() {
        let open = |s: &str| parse(s);
        assert_eq!(open("keyway://approvals"), Incoming::Open(Route::Approvals { id: None }));
        assert_eq!(open("keyway://approvals/"), Incoming::Open(Route::Approvals { id: None }));
        assert_eq!(open("keyway://approvals/rq_7-x"), Incoming::Open(Route::Approvals { id: Some("rq_7-x".into()) }));
        assert_eq!(open("keyway://approvals/rq7/"), Incoming::Open(Route::Approvals { id: Some("rq7".into()) }));
        assert_eq!(open("keyway://credentials"), Incoming::Open(Route::Credentials));
        assert_eq!(open("keyway://session"), Incoming::Open(Route::Session));
        assert_eq!(open("keyway://audit"), Incoming::Open(Route::Audit));
        assert_eq!(open("keyway://admin"), Incoming::Open(Route::Admin { section: AdminSection::Users }));
        assert_eq!(open("keyway://admin/groups/"), Incoming::Open(Route::Admin { section: AdminSection::Groups }));
        assert_eq!(open("keyway://admin/settings"), Incoming::Open(Route::Admin { section: AdminSection::Settings }));
        assert_eq!(open("keyway://admin/scim"), Incoming::Open(Route::Admin { section: AdminSection::Scim }));
        let device = |code: &str| Incoming::Open(Route::Device { code: Some(code.into()) });
        assert_eq!(open("keyway://device?code=BCDF-GHJK"), device("BCDF-GHJK"));
        assert_eq!(open("keyway://device/?code=bcdfghjk"), device("BCDF-GHJK"));
        assert_eq!(open("keyway://device?code=BCDF%20GHJK"), device("BCDF-GHJK"));
        assert_eq!(open("keyway://device"), Incoming::Open(Route::Device { code: None }));
    }

    #[test]
    fn callbacks() {
        let url = callback("code=abc&state=xyz&iss=http%3A%2F%2F127.0.0.1%3A8080");
        assert_eq!(parse(&url), Incoming::LoginCallback(url.clone()));
        assert_eq!(
            parse(&callback("error=access_denied&state=s")),
            Incoming::LoginCallback(callback("error=access_denied&state=s"))
        );
    }

    #[test]
    fn not_understood() {
        for bad in [
            "",
            "keyway",
            "keyway:",
            "keyway://",
            "keyway://nowhere",
            "keyway://approvals/a/b",
            "keyway://approvals/a%20b",
            "keyway://approvals/7?x=1",
            "keyway://approvals/7#top",
            "keyway://u@approvals/7",
            "keyway://approvals:80/7",
            "keyway:approvals/7",
            "keyway:///approvals/7",
            "keyway://credentials/x",
            "keyway://admin/nope",
            "keyway://admin/users/x",
            "keyway://audit/1",
            "keyway://device/x?code=BCDF-GHJK",
            "keyway://device?code=BCDF-GHJ",
            "keyway://device?code=<b>HELLO</b>",
            "keyway://device?code=BCDF-GHJK&approve=1",
            "keyway://device?code=BCDF-GHJK&code=CDFG-HJKL",
            "keyway://device?user_code=BCDF-GHJK",
            "keyway://device?code=BCDF-GHJK#x",
            "keyway://APPROVALS",
            "https://keyway.example/approvals/7",
            "file:///etc/passwd",
            "app.keyway.desktop:/oauth/callback",
            "app.keyway.desktop:/oauth/callback?",
            "app.keyway.desktop:/oauth/callback/?code=a&state=b",
            "app.keyway.desktop:/oauth/other?code=a&state=b",
            "app.keyway.desktop://oauth/callback?code=a&state=b",
            "app.keyway.desktop:/oauth/callback?code=a&state=b#f",
            "keyway:/oauth/callback?code=a&state=b",
        ] {
            match parse(bad) {
                Incoming::NotUnderstood(message) => assert!(message.starts_with("Link not understood"), "{message}"),
                other => panic!("{bad:?} was taken as {other:?}"),
            }
        }
        assert!(matches!(parse(&"keyway://approvals/".repeat(1000)), Incoming::NotUnderstood(_)));
    }

    fn route_strategy() -> impl Strategy<Value = Route> {
        prop_oneof![
            Just(Route::Session),
            Just(Route::Credentials),
            proptest::option::of("[A-Za-z0-9_-]{1,64}").prop_map(|id| Route::Approvals { id }),
            Just(Route::Audit),
            proptest::sample::select(AdminSection::ALL.to_vec()).prop_map(|section| Route::Admin { section }),
            proptest::option::of("[A-Z]{4}-[A-Z]{4}").prop_map(|code| Route::Device { code }),
        ]
    }

    proptest! {
        #[test]
        fn garbage_never_panics_and_the_message_is_bounded(s in "\\PC*") {
            if let Incoming::NotUnderstood(m) = parse(&s) {
                prop_assert!(m.chars().count() < 300);
            }
        }

        #[test]
        fn url_shaped_garbage_never_panics(
            scheme in "(keyway|app\\.keyway\\.desktop|https|[a-z][a-z0-9+.-]{0,12})",
            sep in "(:|:/|://|:///)",
            rest in "[ -~]{0,60}",
        ) {
            let _ = parse(&format!("{scheme}{sep}{rest}"));
        }

        #[test]
        fn a_link_is_never_a_callback(rest in "\\PC*") {
            let parsed = parse(&format!("keyway:{rest}"));
            prop_assert!(!matches!(parsed, Incoming::LoginCallback(_)), "{:?}", parsed);
        }

        #[test]
        fn only_the_registered_address_is_a_callback(s in "[a-z.]{1,20}:[ -~]{0,60}") {
            if let Incoming::LoginCallback(url) = parse(&s) {
                prop_assert!(url.starts_with(&format!("{DEEP_LINK_REDIRECT}?")), "{}", url);
            }
        }

        #[test]
        fn a_callback_is_never_a_link(query in "[A-Za-z0-9=&._~-]{1,80}") {
            let url = callback(&query);
            prop_assert_eq!(parse(&url), Incoming::LoginCallback(url.clone()));
        }

        #[test]
        fn every_page_round_trips(route in route_strategy()) {
            prop_assert_eq!(parse(&link_to(&route)), Incoming::Open(route));
        }
    }
}
