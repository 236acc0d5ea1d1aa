//! OAuth clients: the built-in ones and those registered dynamically (RFC 7591, stored, so
//! every hub of one database knows them). All are public native clients (RFC 8252): no
//! secret, PKCE required.

use url::{Host, Url};

use crate::store::ClientRecord;

/// The prefix of a registered client's id; no built-in id has it.
pub(crate) const REGISTERED_PREFIX: &str = "kwc_";

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
        RedirectRule::parse_with(uri, false)
    }

    /// `localhost`: a registered client's `http://localhost` redirect is matched like a
    /// loopback IP's (any port), as MCP clients register it.
    fn parse_with(uri: &str, localhost: bool) -> RedirectRule {
        match Url::parse(uri) {
            Ok(mut url)
                if url.scheme() == "http"
                    && (url.port().is_none() || localhost)
                    && (is_loopback_ip(url.host()) || (localhost && is_localhost(url.host()))) =>
            {
                // The port is chosen when the client runs (RFC 8252 §7.3): any is accepted.
                let _ = url.set_port(None);
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
                // what was compared (no "/a/../callback", upper-case scheme, etc.), and the
                // origin alone that registration takes too (`http://127.0.0.1:8080`, which
                // parses with the root path).
                let origin_alone =
                    url.path() == "/" && url.query().is_none() && url.as_str().strip_suffix('/') == Some(candidate);
                (url.as_str() == candidate || origin_alone)
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

fn is_localhost(host: Option<Host<&str>>) -> bool {
    matches!(host, Some(Host::Domain(d)) if d == "localhost")
}

/// Why a registration's redirect URI is refused (RFC 7591 `invalid_redirect_uri`), or `None`
/// if a native client may register it: a loopback `http` redirect (`127.0.0.1`, `[::1]` or
/// `localhost`, any port), a claimed `https` one, or a private-use scheme named after a domain
/// (`com.example.app:/callback`, RFC 8252 §7.1).
pub(crate) fn refuse_redirect(uri: &str) -> Option<String> {
    if uri.len() > keyway_api::clients::MAX_REDIRECT_URI_LEN {
        return Some("a redirect URI is too long".to_owned());
    }
    let Ok(url) = Url::parse(uri) else {
        return Some(format!("'{uri}' is not an absolute URI"));
    };
    if url.as_str() != uri && url.as_str() != format!("{uri}/") {
        return Some(format!("'{uri}' is not in canonical form"));
    }
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Some(format!("'{uri}' may not have a fragment or user information"));
    }
    match url.scheme() {
        "http" if is_loopback_ip(url.host()) || is_localhost(url.host()) => None,
        "http" => Some(format!("'{uri}' is plain http to another host than the loopback interface")),
        "https" if url.host().is_some() => None,
        "javascript" | "data" | "file" | "vbscript" | "blob" | "about" | "ftp" | "ws" | "wss" => {
            Some(format!("the scheme of '{uri}' cannot be a redirect"))
        }
        scheme if scheme.contains('.') => None,
        _ => Some(format!("'{uri}' is a private-use scheme not named after a domain (like com.example.app:/callback)")),
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

    /// A dynamically registered client, as the store keeps it.
    pub(crate) fn from_record(record: &ClientRecord) -> Client {
        Client {
            id: record.id.clone(),
            // Pages say the name was not checked by anyone: any client may register any name.
            name: format!("{} (unverified)", record.name),
            redirects: record.redirect_uris.iter().map(|u| RedirectRule::parse_with(u, true)).collect(),
            always_refresh: true,
        }
    }

    /// A client named by a Client ID Metadata Document (its URL is the id): its redirect URIs
    /// are matched as a registered client's.
    pub(crate) fn from_metadata(id: &str, name: &str, redirect_uris: &[&str]) -> Client {
        Client {
            id: id.to_owned(),
            name: name.to_owned(),
            redirects: redirect_uris.iter().map(|u| RedirectRule::parse_with(u, true)).collect(),
            always_refresh: true,
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

/// The most metadata documents cached; beyond it the cache starts afresh.
const METADATA_CACHE_MAX: usize = 1000;

/// A fetched client, or why it was refused.
pub(crate) type MetadataOutcome = Result<Client, String>;

/// Clients fetched from their metadata documents (`crate::oauth::client_metadata`) and recent
/// refusals, by URL, with the time each is kept until.
#[derive(Debug, Default)]
pub(crate) struct MetadataCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, (i64, MetadataOutcome)>>,
}

impl MetadataCache {
    pub(crate) fn get(&self, url: &str, now: i64) -> Option<MetadataOutcome> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(url).filter(|(until, _)| *until > now).map(|(_, r)| r.clone())
    }

    pub(crate) fn put(&self, url: &str, until: i64, entry: MetadataOutcome) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= METADATA_CACHE_MAX {
            entries.clear();
        }
        entries.insert(url.to_owned(), (until, entry));
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

    #[test]
    fn registered_redirects() {
        let record = ClientRecord {
            id: "kwc_x".into(),
            name: "x".into(),
            redirect_uris: vec!["http://localhost:3000/callback".into(), "http://127.0.0.1:9/cb".into()],
            created_at: 0,
            last_used_at: None,
            revoked_at: None,
            address: None,
        };
        let c = Client::from_record(&record);
        for ok in ["http://localhost:5555/callback", "http://localhost/callback", "http://127.0.0.1:1/cb"] {
            assert!(c.allows_redirect(ok), "{ok}");
        }
        for bad in ["http://localhost:5555/other", "http://127.0.0.2:9/cb", "https://localhost:3000/callback"] {
            assert!(!c.allows_redirect(bad), "{bad}");
        }
    }

    #[test]
    fn a_registered_loopback_origin_matches_as_registered() {
        // Found by the redirect_uri fuzz target: registration took it, authorization refused it.
        let uri = "http://127.0.0.1:33418";
        assert_eq!(refuse_redirect(uri), None);
        let record = ClientRecord {
            id: "kwc_x".into(),
            name: "x".into(),
            redirect_uris: vec![uri.into()],
            created_at: 0,
            last_used_at: None,
            revoked_at: None,
            address: None,
        };
        let c = Client::from_record(&record);
        for ok in [uri, "http://127.0.0.1:1", "http://127.0.0.1:1/", "http://127.0.0.1"] {
            assert!(c.allows_redirect(ok), "{ok}");
        }
        for bad in ["http://127.0.0.1:1/x", "http://127.0.0.1:1?x=1", "http://127.0.0.1:1#f", "http://127.0.0.2:1"] {
            assert!(!c.allows_redirect(bad), "{bad}");
        }
        let desktop = ClientRegistry::builtin();
        assert!(!desktop.get("keyway-desktop").unwrap().allows_redirect("http://127.0.0.1:1"));
    }

    #[test]
    fn which_redirects_may_be_registered() {
        for ok in [
            "http://127.0.0.1:33418/callback",
            "http://[::1]/cb",
            "http://localhost:8080/callback",
            "https://app.example.com/cb",
            "com.example.app:/oauth",
        ] {
            assert_eq!(refuse_redirect(ok), None, "{ok}");
        }
        for bad in [
            "http://example.com/callback",
            "http://192.168.1.2/cb",
            "javascript:alert(1)",
            "myapp:/cb",
            "http://127.0.0.1/cb#frag",
            "http://u:p@127.0.0.1/cb",
            "not a uri",
            "",
        ] {
            assert!(refuse_redirect(bad).is_some(), "{bad}");
        }
    }
}

/// The last uses of registered clients (a token issued or refreshed), kept in memory and
/// written behind with the credential last-used times (`crate::tasks::flush_loop`), so issuing
/// a token makes no write of its own for it.
#[derive(Debug, Default)]
pub(crate) struct ClientUsage {
    pending: std::sync::Mutex<std::collections::HashMap<String, i64>>,
}

impl ClientUsage {
    /// Records a use of `id` at `at`, if it is a registered client.
    pub(crate) fn record(&self, id: &str, at: i64) {
        if !id.starts_with(REGISTERED_PREFIX) {
            return;
        }
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let last = pending.entry(id.to_owned()).or_insert(at);
        *last = (*last).max(at);
    }

    /// Writes everything pending. On failure the batch is put back (newer uses win).
    pub(crate) async fn flush<S: crate::store::Store>(&self, store: &S) -> Result<usize, crate::store::StoreError> {
        let batch: Vec<(String, i64)> = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            if pending.is_empty() {
                return Ok(0);
            }
            std::mem::take(&mut *pending).into_iter().collect()
        };
        if let Err(e) = store.record_client_uses(&batch).await {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            for (id, at) in batch {
                let last = pending.entry(id).or_insert(at);
                *last = (*last).max(at);
            }
            return Err(e);
        }
        Ok(batch.len())
    }
}
