//! Limits on every route: the hub's own `Host` only (no DNS rebinding), a request timeout
//! (streams and waits are exempt; they are bounded in number where they are served), and a cap
//! on open connections, whose writes end when they make no progress for a while, and which are
//! closed when they sit idle between requests.

// The `unguarded` build leaves the guard out (see `UNGUARDED`).
#![cfg_attr(feature = "unguarded", allow(dead_code))]

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use keyway_api::codes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::Error;
use crate::net::Peer;

/// What the request guard checks.
#[derive(Debug)]
pub(crate) struct Limits {
    /// `host[:port]` values the hub answers to, lower case.
    hosts: Vec<String>,
    timeout: Duration,
}

impl Limits {
    /// The issuer's host (with and without its default port) and the bound address
    /// (`localhost:<port>` too when it is a loopback address).
    pub(crate) fn new(issuer: &str, bound: std::net::SocketAddr, timeout: Duration) -> Limits {
        let mut hosts = Vec::new();
        if let Ok(url) = url::Url::parse(issuer)
            && let Some(host) = url.host_str()
        {
            match url.port() {
                Some(port) => hosts.push(format!("{host}:{port}")),
                None => {
                    hosts.push(host.to_owned());
                    if let Some(port) = url.port_or_known_default() {
                        hosts.push(format!("{host}:{port}"));
                    }
                }
            }
        }
        if !bound.ip().is_unspecified() {
            hosts.push(bound.to_string());
            if bound.ip().is_loopback() {
                hosts.push(format!("localhost:{}", bound.port()));
            }
        }
        for host in &mut hosts {
            host.make_ascii_lowercase();
        }
        Limits { hosts, timeout }
    }

    fn host_allowed(&self, host: &str) -> bool {
        self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }
}

/// The `unguarded` build (`cargo xtask bench exchange --compare-limits` only): connections
/// without their stall and idle timers, to measure what they cost. Never a build to serve with.
const UNGUARDED: bool = cfg!(feature = "unguarded");

/// Routes that hold a request open on purpose: exempt from the timeout.
fn is_stream(path: &str) -> bool {
    path == "/api/reviews/events" || (path.starts_with("/api/reviews/") && path.ends_with("/wait"))
}

/// Middleware: refuses another `Host` with `421 misdirected_request`, and a request that takes
/// longer than the timeout with `408 timeout`.
pub(crate) async fn guard(State(limits): State<Arc<Limits>>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    // The health check answers anyone (it says nothing); everything else only its own host.
    if request.uri().path() != "/healthz" && !host.is_some_and(|h| limits.host_allowed(h)) {
        return Error::api(
            StatusCode::MISDIRECTED_REQUEST,
            codes::MISDIRECTED_REQUEST,
            "this hub does not answer for that Host; use its issuer URL",
        )
        .into_response();
    }
    if is_stream(request.uri().path()) {
        return next.run(request).await;
    }
    match tokio::time::timeout(limits.timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => Error::api(StatusCode::REQUEST_TIMEOUT, codes::TIMEOUT, "the request took too long").into_response(),
    }
}

/// The hub's listener: at most `max` connections open at once (further ones wait in the
/// listen backlog), each ending when a write cannot make progress for `stall`, or when it waits
/// for a request for `idle` without a byte.
pub(crate) struct CappedListener {
    inner: TcpListener,
    permits: Arc<Semaphore>,
    stall: Duration,
    idle: Duration,
}

impl CappedListener {
    pub(crate) fn new(inner: TcpListener, max: usize, stall: Duration, idle: Duration) -> CappedListener {
        CappedListener { inner, permits: Arc::new(Semaphore::new(max.max(1))), stall, idle }
    }
}

impl axum::serve::Listener for CappedListener {
    type Io = Capped;
    type Addr = Peer;

    async fn accept(&mut self) -> (Capped, Peer) {
        // The semaphore is never closed, so this waits for a free slot.
        let permit = loop {
            if let Ok(permit) = Arc::clone(&self.permits).acquire_owned().await {
                break permit;
            }
        };
        let (io, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        let capped = Capped {
            io,
            _permit: permit,
            stall: self.stall,
            stalled: None,
            idle: self.idle,
            waiting: true,
            idled: None,
        };
        (capped, Peer(addr))
    }

    fn local_addr(&self) -> io::Result<Peer> {
        self.inner.local_addr().map(Peer)
    }
}

/// A connection holding its slot; a write that stays blocked for `stall` fails, which ends
/// the connection (a client that stops reading an SSE stream is let go). So does a read that
/// stays pending for `idle` while the connection waits for a request: nothing read since it
/// opened or since the hub last wrote to it. After a request's bytes, the hub's answer is
/// awaited (a wait may take minutes), and an event stream pings every 15 s, each ping a write
/// that restarts the idle time.
pub(crate) struct Capped {
    io: TcpStream,
    _permit: OwnedSemaphorePermit,
    stall: Duration,
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
    idle: Duration,
    /// No byte read since the connection opened or since the last write.
    waiting: bool,
    idled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Capped {
    /// Written to (an answer, or a stream's event or ping): the next request is awaited, from
    /// now. The idle timer is armed here, with this task's waker: the server may not read again
    /// until the socket is readable, and the timer's wake-up is what makes it read and see it.
    fn wrote(&mut self, cx: &mut Context<'_>, poll: &Poll<io::Result<usize>>) {
        if !matches!(poll, Poll::Ready(Ok(n)) if *n > 0) {
            return;
        }
        self.waiting = true;
        let deadline = tokio::time::Instant::now() + self.idle;
        let timer = match &mut self.idled {
            Some(timer) => {
                timer.as_mut().reset(deadline);
                timer
            }
            None => self.idled.insert(Box::pin(tokio::time::sleep_until(deadline))),
        };
        // Registers the wake-up; it cannot be due yet.
        let _ = timer.as_mut().poll(cx);
    }

    fn track<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.stalled = None;
            return poll;
        }
        let stall = self.stall;
        let timer = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(stall)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.stalled = None;
                Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the client stopped reading")))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

use std::future::Future as _;

impl AsyncRead for Capped {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if UNGUARDED {
            return Pin::new(&mut this.io).poll_read(cx, buf);
        }
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = poll
            && buf.filled().len() > before
        {
            this.waiting = false;
        }
        if !poll.is_pending() || !this.waiting {
            return poll;
        }
        let idle = this.idle;
        let timer = this.idled.get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the connection sat idle"))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for Capped {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if UNGUARDED {
            return Pin::new(&mut this.io).poll_write(cx, buf);
        }
        let poll = Pin::new(&mut this.io).poll_write(cx, buf);
        this.wrote(cx, &poll);
        this.track(cx, poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if UNGUARDED {
            return Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        }
        let poll = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.wrote(cx, &poll);
        this.track(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if UNGUARDED {
            return Pin::new(&mut this.io).poll_flush(cx);
        }
        let poll = Pin::new(&mut this.io).poll_flush(cx);
        this.track(cx, poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_hosts_only() {
        let local = Limits::new("http://127.0.0.1:8080", "127.0.0.1:8080".parse().unwrap(), Duration::from_secs(1));
        for ok in ["127.0.0.1:8080", "localhost:8080", "LOCALHOST:8080"] {
            assert!(local.host_allowed(ok), "{ok}");
        }
        for bad in ["evil.example:8080", "127.0.0.1:8081", "127.0.0.1", "attacker.test"] {
            assert!(!local.host_allowed(bad), "{bad}");
        }
        let public = Limits::new("https://id.example.com", "0.0.0.0:8080".parse().unwrap(), Duration::from_secs(1));
        for ok in ["id.example.com", "id.example.com:443"] {
            assert!(public.host_allowed(ok), "{ok}");
        }
        assert!(!public.host_allowed("0.0.0.0:8080"));
        assert!(is_stream("/api/reviews/events") && is_stream("/api/reviews/r1/wait") && !is_stream("/api/reviews"));
    }
}
