//! Registered OAuth clients. All are public native clients (RFC 8252): no secret, PKCE required.

use url::{Host, Url};

/// How a registered redirect URI is matched.
#[derive(Clone, Debug)]
enum RedirectRule {
    /// Loopback interface redirect (RFC 8252 §7.3): scheme, host, path and query compared
    /// exactly, any port accepted.
    Loopback(Url),
    /// Private-use scheme or other redirect: compared as exact strings.
    Exact(String),
}

impl RedirectRule {
    fn parse(uri: &str) -> RedirectRule {
        match Url::parse(uri) {
            Ok(url) if url.scheme() == "http" && url.port().is_none() && is_loopback_ip(url.host()) => {
                RedirectRule::Loopback(url)
            }
            _ => RedirectRule::Exact(uri.to_owned()),
        }
    }

    fn matches(&self, candidate: &str) -> bool {
        match self {
            RedirectRule::Exact(registered) => registered == candidate,
            RedirectRule::Loopback(registered) => {
                let Ok(url) = Url::parse(candidate) else {
                    return false;
                };
                // Only the canonical spelling is accepted, so what we redirect to is exactly
                // what was compared (no "/a/../callback", upper-case scheme, etc.).
                url.as_str() == candidate
                    && url.scheme() == registered.scheme()
                    && url.host() == registered.host()
                    && url.path() == registered.path()
                    && url.query() == registered.query()
                    && url.fragment().is_none()
                    && url.username().is_empty()
                    && url.password().is_none()
            }
        }
    }
}

fn is_loopback_ip(host: Option<Host<&str>>) -> bool {
    match host {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        // "localhost" is deliberately not a loopback redirect (RFC 8252 §8.3).
        _ => false,
    }
}

/// A registered client.
#[derive(Clone, Debug)]
pub(crate) struct Client {
    pub(crate) id: String,
    /// Shown on the login page.
    pub(crate) name: String,
    redirects: Vec<RedirectRule>,
    /// Issue a refresh token even without the `offline_access` scope.
    pub(crate) always_refresh: bool,
}

impl Client {
    pub(crate) fn new(id: &str, name: &str, redirect_uris: &[&str], always_refresh: bool) -> Client {
        Client {
            id: id.to_owned(),
            name: name.to_owned(),
            redirects: redirect_uris.iter().map(|u| RedirectRule::parse(u)).collect(),
            always_refresh,
        }
    }

    /// True if `uri` is one of this client's redirect URIs.
    pub(crate) fn allows_redirect(&self, uri: &str) -> bool {
        self.redirects.iter().any(|r| r.matches(uri))
    }
}

/// The clients the hub knows.
#[derive(Clone, Debug)]
pub(crate) struct ClientRegistry {
    clients: Vec<Client>,
}

impl ClientRegistry {
    /// The built-in clients: the Keyway desktop app and CLI.
    pub(crate) fn builtin() -> ClientRegistry {
        ClientRegistry {
            clients: vec![Client::new(
                keyway_api::DESKTOP_CLIENT_ID,
                "Keyway Desktop",
                &[keyway_api::LOOPBACK_REDIRECT_V4, keyway_api::LOOPBACK_REDIRECT_V6, keyway_api::DEEP_LINK_REDIRECT],
                true,
            )],
        }
    }

    pub(crate) fn get(&self, id: &str) -> Option<&Client> {
        self.clients.iter().find(|c| c.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desktop_redirects() {
        let reg = ClientRegistry::builtin();
        let c = reg.get("keyway-desktop").unwrap();
        for ok in [
            "http://127.0.0.1/callback",
            "http://127.0.0.1:1/callback",
            "http://127.0.0.1:54321/callback",
            "http://[::1]:8080/callback",
            "http://[::1]/callback",
            "app.keyway.desktop:/oauth/callback",
        ] {
            assert!(c.allows_redirect(ok), "{ok}");
        }
        for bad in [
            "http://localhost:54321/callback",
            "http://localhost/callback",
            "https://127.0.0.1:54321/callback",
            "http://127.0.0.2:54321/callback",
            "http://127.0.0.1:54321/callback/",
            "http://127.0.0.1:54321/other",
            "http://127.0.0.1:54321/callback?x=1",
            "http://127.0.0.1:54321/callback#f",
            "http://u@127.0.0.1:54321/callback",
            "http://127.0.0.1:54321/a/../callback",
            "HTTP://127.0.0.1:54321/callback",
            "http://[::1]:8080/callbacks",
            "app.keyway.desktop:/oauth/callback/",
            "app.keyway.desktop://oauth/callback",
            "",
        ] {
            assert!(!c.allows_redirect(bad), "{bad}");
        }
        assert!(reg.get("other").is_none());
    }
}
