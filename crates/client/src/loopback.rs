//! The loopback redirect listener (RFC 8252 §7.3): one tiny HTTP/1.1 responder on 127.0.0.1
//! that waits for `GET /callback?code=…&state=…` and answers with a page the person can close.

use std::collections::HashMap;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::Error;
use crate::secret::SecretString;

const MAX_REQUEST: usize = 16 * 1024;

/// What the browser brought back.
pub struct Callback {
    pub code: SecretString,
}

/// A parsed callback query, before it is checked against the pending login.
#[derive(Default, PartialEq, Eq)]
pub struct CallbackParams {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    pub iss: Option<String>,
}

impl std::fmt::Debug for CallbackParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |o: &Option<String>| o.as_ref().map(|_| "[redacted]");
        f.debug_struct("CallbackParams")
            .field("state", &hidden(&self.state))
            .field("code", &hidden(&self.code))
            .field("error", &self.error)
            .field("error_description", &self.error_description)
            .field("iss", &self.iss)
            .finish()
    }
}

impl CallbackParams {
    pub fn from_query(query: &str) -> CallbackParams {
        let mut map: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        CallbackParams {
            state: map.remove("state"),
            code: map.remove("code"),
            error: map.remove("error"),
            error_description: map.remove("error_description"),
            iss: map.remove("iss"),
        }
    }
}

/// The outcome of checking one callback request.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not a callback for this login: keep waiting (a stray or forged request must not end it).
    Ignore(&'static str),
    /// The provider refused the sign-in.
    Refused {
        code: String,
        message: String,
    },
    Code(SecretString),
}

/// Check a callback against the expected state and issuer (RFC 6749 §10.12, RFC 9207).
pub fn judge(params: CallbackParams, expected_state: &str, issuer: &str, iss_required: bool) -> Verdict {
    use subtle_eq::ct_eq;
    let Some(state) = params.state else { return Verdict::Ignore("missing state") };
    if !ct_eq(state.as_bytes(), expected_state.as_bytes()) {
        return Verdict::Ignore("state does not match this sign-in");
    }
    match params.iss {
        Some(iss) if iss.trim_end_matches('/') != issuer.trim_end_matches('/') => {
            return Verdict::Refused {
                code: "invalid_issuer".into(),
                message: format!("the sign-in response came from issuer '{iss}', not '{issuer}'"),
            };
        }
        None if iss_required => {
            return Verdict::Refused {
                code: "invalid_issuer".into(),
                message: "the sign-in response has no issuer".into(),
            };
        }
        _ => {}
    }
    if let Some(code) = params.error {
        let message = params.error_description.unwrap_or_else(|| format!("the server refused the sign-in ({code})"));
        return Verdict::Refused { code, message };
    }
    match params.code {
        Some(c) if !c.is_empty() => Verdict::Code(SecretString::new(c)),
        _ => Verdict::Refused { code: "invalid_request".into(), message: "the sign-in response has no code".into() },
    }
}

mod subtle_eq {
    /// Constant-time equality for equal-length inputs.
    pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// Wait on `listener` until a request carries this login's callback.
pub async fn wait_for_callback(
    listener: TcpListener,
    expected_state: &str,
    issuer: &str,
    iss_required: bool,
) -> Result<Callback, Error> {
    // Each connection is served on its own task, so a socket that connects and says nothing (a
    // browser's speculative preconnect, a port scanner) never holds up the real callback.
    let expected_state: std::sync::Arc<str> = expected_state.into();
    let issuer: std::sync::Arc<str> = issuer.into();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Verdict>(8);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = accepted?;
                let (tx, state, iss) = (tx.clone(), expected_state.clone(), issuer.clone());
                connections.spawn(async move {
                    match handle(stream, &state, &iss, iss_required).await {
                        Ok(Some(verdict)) => {
                            let _ = tx.send(verdict).await;
                        }
                        Ok(None) => {}
                        Err(e) => tracing::debug!("sign-in listener connection failed: {e}"),
                    }
                });
            }
            Some(verdict) = rx.recv() => match verdict {
                Verdict::Code(code) => return Ok(Callback { code }),
                Verdict::Refused { code, message } => return Err(Error::Refused { code, message }),
                Verdict::Ignore(why) => tracing::warn!("ignored a request on the sign-in listener: {why}"),
            },
            // Reap finished connection tasks so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn handle(
    mut stream: TcpStream,
    expected_state: &str,
    issuer: &str,
    iss_required: bool,
) -> std::io::Result<Option<Verdict>> {
    let head = match tokio::time::timeout(Duration::from_secs(10), read_head(&mut stream)).await {
        Ok(r) => r?,
        Err(_) => return Ok(None),
    };
    let Some(target) = parse_request_line(&head) else {
        respond(&mut stream, 400, "Bad request", "This address only accepts the Keyway sign-in response.").await?;
        return Ok(None);
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path != "/callback" {
        respond(&mut stream, 404, "Not found", "This address only accepts the Keyway sign-in response.").await?;
        return Ok(None);
    }
    let verdict = judge(CallbackParams::from_query(query), expected_state, issuer, iss_required);
    match &verdict {
        Verdict::Code(_) => {
            respond(
                &mut stream,
                200,
                "Signed in",
                "You are signed in to Keyway. You can close this tab and return to the app.",
            )
            .await?
        }
        Verdict::Refused { message, .. } => respond(&mut stream, 400, "Sign-in failed", message).await?,
        Verdict::Ignore(_) => {
            respond(
                &mut stream,
                400,
                "Not this sign-in",
                "This response does not belong to the sign-in in progress; it was ignored.",
            )
            .await?
        }
    }
    Ok(Some(verdict))
}

async fn read_head(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_REQUEST {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "request too large"));
        }
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// `GET <target> HTTP/1.x` → target.
pub fn parse_request_line(head: &str) -> Option<&str> {
    let line = head.lines().next()?;
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    (method == "GET" && version.starts_with("HTTP/1.") && target.starts_with('/') && parts.next().is_none())
        .then_some(target)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

async fn respond(stream: &mut TcpStream, status: u16, title: &str, text: &str) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Bad Request",
    };
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Keyway — {t}</title>\
         <style>body{{font:16px system-ui,sans-serif;margin:15vh auto;max-width:32em;padding:0 1em;color:#1d2430}}\
         h1{{font-size:1.4em}}</style></head><body><main><h1>{t}</h1><p>{x}</p></main></body></html>",
        t = escape(title),
        x = escape(text)
    );
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n\
         Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISS: &str = "http://127.0.0.1:8080";

    fn p(q: &str) -> CallbackParams {
        CallbackParams::from_query(q)
    }

    #[test]
    fn a_matching_callback_yields_the_code() {
        assert_eq!(
            judge(p("code=abc&state=s1&iss=http%3A%2F%2F127.0.0.1%3A8080"), "s1", ISS, true),
            Verdict::Code(SecretString::new("abc".into()))
        );
    }

    #[test]
    fn wrong_or_missing_state_is_ignored_not_fatal() {
        assert!(matches!(judge(p("code=abc&state=other"), "s1", ISS, false), Verdict::Ignore(_)));
        assert!(matches!(judge(p("code=abc"), "s1", ISS, false), Verdict::Ignore(_)));
        // Even an error response with a wrong state cannot cancel the pending sign-in.
        assert!(matches!(judge(p("error=access_denied&state=x"), "s1", ISS, false), Verdict::Ignore(_)));
    }

    #[test]
    fn issuer_mix_up_is_refused() {
        assert!(matches!(
            judge(p("code=abc&state=s1&iss=https%3A%2F%2Fevil"), "s1", ISS, false),
            Verdict::Refused { .. }
        ));
        assert!(matches!(judge(p("code=abc&state=s1"), "s1", ISS, true), Verdict::Refused { .. }));
    }

    #[test]
    fn provider_errors_are_reported() {
        match judge(p("error=access_denied&error_description=no%20way&state=s1"), "s1", ISS, false) {
            Verdict::Refused { code, message } => {
                assert_eq!(code, "access_denied");
                assert_eq!(message, "no way");
            }
            v => panic!("unexpected {v:?}"),
        }
    }

    #[test]
    fn debug_output_hides_code_and_state() {
        let shown = format!(
            "{:?} {:?}",
            p("code=topsecret&state=alsosecret"),
            Verdict::Code(SecretString::new("topsecret".into()))
        );
        assert!(!shown.contains("topsecret") && !shown.contains("alsosecret"), "{shown}");
    }

    #[test]
    fn request_lines() {
        assert_eq!(parse_request_line("GET /callback?a=b HTTP/1.1\r\nHost: x\r\n\r\n"), Some("/callback?a=b"));
        for bad in ["", "POST /callback HTTP/1.1", "GET callback HTTP/1.1", "GET /x HTTP/2", "GET /a b HTTP/1.1"] {
            assert_eq!(parse_request_line(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn the_listener_ignores_strays_and_returns_the_code() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let waiter = tokio::spawn(async move { wait_for_callback(listener, "st", ISS, false).await });
        // A connection that never sends a byte must not hold up the callback.
        let _silent = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
        let stray = http.get(format!("http://127.0.0.1:{port}/callback?code=evil&state=forged")).send().await.unwrap();
        assert_eq!(stray.status(), 400);
        let other = http.get(format!("http://127.0.0.1:{port}/favicon.ico")).send().await.unwrap();
        assert_eq!(other.status(), 404);
        let ok = http.get(format!("http://127.0.0.1:{port}/callback?code=good&state=st")).send().await.unwrap();
        assert_eq!(ok.status(), 200);
        assert!(ok.text().await.unwrap().contains("close this tab"));
        let cb = waiter.await.unwrap().unwrap();
        assert_eq!(cb.code.secret(), "good");
    }
}
