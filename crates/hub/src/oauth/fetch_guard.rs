//! Fetching a URL a client names, guarded against server-side request forgery: HTTPS only, the
//! host resolved once and every address checked (no private, loopback, link-local, shared,
//! multicast or reserved address) and the connection pinned to a checked address (no second
//! resolution to rebind), no proxy, no redirects, and limits on time and size. Loopback and
//! plain HTTP only with `Settings::insecure_client_metadata_loopback` (tests).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use url::{Host, Url};

/// How long a whole fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Why a fetch was refused or failed, as the client is told.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Failed(String),
}

/// Whether `ip` may be fetched: a public unicast address, or with `loopback` also a loopback
/// one. IPv4-mapped IPv6 addresses are judged as IPv4.
pub(crate) fn allowed_ip(ip: IpAddr, loopback: bool) -> bool {
    match ip {
        IpAddr::V4(v4) => allowed_v4(v4, loopback),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => allowed_v4(v4, loopback),
            None => allowed_v6(v6, loopback),
        },
    }
}

fn allowed_v4(ip: Ipv4Addr, loopback: bool) -> bool {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        return loopback;
    }
    !(ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (RFC 6598)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240)
}

fn allowed_v6(ip: Ipv6Addr, loopback: bool) -> bool {
    if ip.is_loopback() {
        return loopback;
    }
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // documentation
        || first == 0x0064 && ip.segments()[1] == 0xff9b // NAT64, may reach IPv4 inside
        || first == 0x2002 // 6to4, embeds any IPv4
        || first == 0)
}

/// Fetches `url` as JSON of at most `max_bytes`.
pub(crate) async fn fetch_json(url: &Url, max_bytes: usize, insecure_loopback: bool) -> Result<Vec<u8>, FetchError> {
    let refused = |why: String| Err(FetchError::Refused(why));
    match url.scheme() {
        "https" => {}
        "http" if insecure_loopback => {}
        _ => return refused("the client_id URL must use https".to_owned()),
    }
    let Some(host) = url.host() else {
        return refused("the client_id URL has no host".to_owned());
    };
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = match host {
        Host::Ipv4(ip) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
        Host::Ipv6(ip) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
        Host::Domain(name) => {
            match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::lookup_host((name, port))).await {
                Ok(Ok(addrs)) => addrs.collect(),
                Ok(Err(_)) => return Err(FetchError::Failed(format!("the host '{name}' cannot be resolved"))),
                Err(_) => return Err(FetchError::Failed(format!("resolving the host '{name}' timed out"))),
            }
        }
    };
    if addrs.is_empty() {
        return Err(FetchError::Failed("the client_id URL's host has no address".to_owned()));
    }
    // Every address must be allowed, so whichever one would be used is.
    if let Some(bad) = addrs.iter().find(|a| !allowed_ip(a.ip(), insecure_loopback)) {
        return refused(format!("the client_id URL's host resolves to a non-public address ({})", bad.ip()));
    }
    if url.scheme() == "http" && !addrs.iter().all(|a| a.ip().is_loopback() || canonical_loopback(a.ip())) {
        return refused("plain http is allowed only to the loopback interface".to_owned());
    }
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(FETCH_TIMEOUT)
        .user_agent(concat!("keyway-hub/", env!("CARGO_PKG_VERSION")));
    if let Host::Domain(name) = host {
        builder = builder.resolve_to_addrs(name, &addrs);
    }
    let http = builder.build().map_err(|_| FetchError::Failed("the HTTP client cannot be built".to_owned()))?;
    let mut resp =
        http.get(url.clone()).header(reqwest::header::ACCEPT, "application/json").send().await.map_err(|e| {
            FetchError::Failed(if e.is_timeout() {
                "fetching it timed out".to_owned()
            } else {
                "fetching it failed".to_owned()
            })
        })?;
    let status = resp.status();
    if status.is_redirection() {
        return refused(format!("it answered a redirect ({status}); redirects are not followed"));
    }
    if status != reqwest::StatusCode::OK {
        return Err(FetchError::Failed(format!("it answered {status}, not 200")));
    }
    if resp.content_length().is_some_and(|n| n > max_bytes as u64) {
        return refused(format!("the document is larger than {max_bytes} bytes"));
    }
    let mut body = Vec::new();
    loop {
        match tokio::time::timeout(FETCH_TIMEOUT, resp.chunk()).await {
            Ok(Ok(Some(chunk))) => {
                if body.len() + chunk.len() > max_bytes {
                    return refused(format!("the document is larger than {max_bytes} bytes"));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Ok(None)) => return Ok(body),
            Ok(Err(_)) => return Err(FetchError::Failed("reading the document failed".to_owned())),
            Err(_) => return Err(FetchError::Failed("reading the document timed out".to_owned())),
        }
    }
}

fn canonical_loopback(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_unicast_addresses_are_allowed() {
        for ok in ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "1.1.1.1"] {
            assert!(allowed_ip(ok.parse().unwrap(), false), "{ok}");
        }
        for bad in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "240.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
            "2002:a00:1::",
            "2001:db8::1",
        ] {
            assert!(!allowed_ip(bad.parse().unwrap(), false), "{bad}");
        }
        assert!(allowed_ip("127.0.0.1".parse().unwrap(), true));
        assert!(allowed_ip("::1".parse().unwrap(), true));
        assert!(!allowed_ip("10.0.0.1".parse().unwrap(), true), "the insecure setting allows loopback only");
    }
}
