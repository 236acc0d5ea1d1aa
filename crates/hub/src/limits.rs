//! Limits on every route: the hub's own `Host` only (no DNS rebinding), a request timeout
//! (streams and waits are exempt; they are bounded in number where they are served), and a cap
//! on open connections, whose writes end when they make no progress for a while, and which are
//! closed when they sit idle between requests or trickle a request's head.

// The `unguarded` build leaves the guard out (see `UNGUARDED`).
#![cfg_attr(feature = "unguarded", allow(dead_code))]

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyway_api::codes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

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

/// The request guard, as a layer: refuses another `Host` with `421 misdirected_request`, and
/// a request that takes longer than the timeout with `408 timeout`. A hand-written service
/// rather than `middleware::from_fn`, which boxes the inner service and the future of every
/// request: this is on the path of every exchange.
#[derive(Clone)]
pub(crate) struct GuardLayer(Arc<Limits>);

impl GuardLayer {
    pub(crate) fn new(limits: Limits) -> GuardLayer {
        GuardLayer(Arc::new(limits))
    }
}

impl<S> tower::Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Guard<S> {
        Guard { inner, limits: Arc::clone(&self.0) }
    }
}

#[derive(Clone)]
pub(crate) struct Guard<S> {
    inner: S,
    limits: Arc<Limits>,
}

impl<S> tower::Service<Request> for Guard<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Guarded<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Guarded<S::Future> {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| request.uri().authority().map(|a| a.as_str()));
        // The health check answers anyone (it says nothing); everything else only its own host.
        if request.uri().path() != "/healthz" && !host.is_some_and(|h| self.limits.host_allowed(h)) {
            let refusal = Error::api(
                StatusCode::MISDIRECTED_REQUEST,
                codes::MISDIRECTED_REQUEST,
                "this hub does not answer for that Host; use its issuer URL",
            );
            return Guarded::Refused { response: Some(refusal.into_response()) };
        }
        if is_stream(request.uri().path()) {
            return Guarded::Open { inner: self.inner.call(request) };
        }
        Guarded::Timed { inner: tokio::time::timeout(self.limits.timeout, self.inner.call(request)) }
    }
}

pin_project_lite::pin_project! {
    /// What [`Guard`] answers with: a refusal, a stream's own future, or a timed one.
    #[project = GuardedProj]
    pub(crate) enum Guarded<F> {
        Refused { response: Option<Response> },
        Open { #[pin] inner: F },
        Timed { #[pin] inner: tokio::time::Timeout<F> },
    }
}

impl<F: Future<Output = Result<Response, Infallible>>> Future for Guarded<F> {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            GuardedProj::Refused { response } => Poll::Ready(Ok(response.take().unwrap_or_default())),
            GuardedProj::Open { inner } => inner.poll(cx),
            GuardedProj::Timed { inner } => inner.poll(cx).map(|done| match done {
                Ok(answer) => answer,
                Err(_) => Ok(Error::api(StatusCode::REQUEST_TIMEOUT, codes::TIMEOUT, "the request took too long")
                    .into_response()),
            }),
        }
    }
}

/// The hub's listener: at most `max` connections open at once (further ones wait in the
/// listen backlog), each ending when a write cannot make progress for `stall`, when it waits
/// for a request for `idle` without a byte, or when a request's head, once begun, is not
/// complete within `head`.
pub(crate) struct CappedListener {
    inner: TcpListener,
    permits: Arc<Semaphore>,
    stall: Duration,
    idle: Duration,
    head: Duration,
}

impl CappedListener {
    pub(crate) fn new(
        inner: TcpListener,
        max: usize,
        stall: Duration,
        idle: Duration,
        head: Duration,
    ) -> CappedListener {
        CappedListener { inner, permits: Arc::new(Semaphore::new(max.max(1))), stall, idle, head }
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
        // Answers are written whole, so Nagle's algorithm would only hold the last segment of
        // one back until the previous is acknowledged.
        let _ = io.set_nodelay(true);
        let capped = Capped {
            io,
            _permit: permit,
            stall: self.stall,
            stalled: None,
            idle: self.idle,
            head: self.head,
            phase: Phase::default(),
            since: Instant::now(),
            timer: None,
        };
        (capped, Peer(addr))
    }

    fn local_addr(&self) -> io::Result<Peer> {
        self.inner.local_addr().map(Peer)
    }
}

const WAITING: u8 = 0;
const READING: u8 = 1;
const SERVING: u8 = 2;

/// Where a connection is between requests: waiting for one (opened, or written to), reading
/// its head (a byte arrived while waiting), or serving it (the server has the whole head). The
/// connection's reads and writes move it, and so does the server when a request reaches it.
#[derive(Clone, Default)]
pub(crate) struct Phase(Arc<AtomicU8>);

impl Phase {
    /// The server has a request's whole head.
    pub(crate) fn serving(&self) {
        self.0.store(SERVING, Ordering::Relaxed);
    }

    fn get(&self) -> u8 {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self, phase: u8) {
        self.0.store(phase, Ordering::Relaxed);
    }
}

/// A connection holding its slot; a write that stays blocked for `stall` fails, which ends
/// the connection (a client that stops reading an SSE stream is let go). So does a read that
/// stays pending for `idle` while the connection waits for a request (nothing read since it
/// opened or since the hub last wrote to it), or for `head` once a request's first byte came
/// and its head is not yet whole. After the head, the hub's answer is awaited (a wait may take
/// minutes), and an event stream pings every 15 s, each ping a write that restarts the idle
/// time.
///
/// One timer per connection covers both deadlines, and it is not moved on every request (that
/// would be a timer-wheel operation per answer): it is armed no later than the nearest
/// deadline, and never more than `head` ahead, so it is never late for a head begun after it
/// was armed. When it fires early, the real deadline is checked and it is armed again.
pub(crate) struct Capped {
    io: TcpStream,
    _permit: OwnedSemaphorePermit,
    stall: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
    idle: Duration,
    head: Duration,
    phase: Phase,
    /// When the phase became `WAITING` or `READING`.
    since: Instant,
    timer: Option<Pin<Box<Sleep>>>,
}

impl Capped {
    /// The handle the server marks a request's arrival with.
    pub(crate) fn phase(&self) -> Phase {
        self.phase.clone()
    }

    /// The deadline of the current phase, if it has one.
    fn deadline(&self) -> Option<Instant> {
        match self.phase.get() {
            WAITING => Some(self.since + self.idle),
            READING => Some(self.since + self.head),
            _ => None,
        }
    }

    /// Arms the timer at the phase's deadline, or sooner (see [`Capped`]), with this task's
    /// waker: the server may not read again until woken, and the timer's wake-up is what
    /// makes it read and see the deadline.
    fn arm(&mut self, cx: &mut Context<'_>, now: Instant) {
        let soonest = now + self.head;
        let at = self.deadline().map_or(soonest, |d| d.min(soonest));
        let timer = match &mut self.timer {
            Some(timer) => {
                timer.as_mut().reset(at);
                timer
            }
            None => self.timer.insert(Box::pin(tokio::time::sleep_until(at))),
        };
        let _ = timer.as_mut().poll(cx);
    }

    /// Written to (an answer, or a stream's event or ping): the next request is awaited, from
    /// now. The timer is armed again only when it has fired since.
    fn wrote(&mut self, cx: &mut Context<'_>, poll: &Poll<io::Result<usize>>) {
        if !matches!(poll, Poll::Ready(Ok(n)) if *n > 0) {
            return;
        }
        let now = Instant::now();
        self.phase.set(WAITING);
        self.since = now;
        if self.timer.as_ref().is_none_or(|t| t.is_elapsed()) {
            self.arm(cx, now);
        }
    }

    /// A read that is pending while the connection waits for or reads a request: has its
    /// deadline passed?
    fn overdue(&mut self, cx: &mut Context<'_>) -> Option<&'static str> {
        let phase = self.phase.get();
        if phase == SERVING {
            return None;
        }
        let fired = match &mut self.timer {
            Some(timer) => timer.as_mut().poll(cx).is_ready(),
            None => true,
        };
        if !fired {
            return None;
        }
        let now = Instant::now();
        if self.deadline().is_some_and(|d| now >= d) {
            return Some(if phase == WAITING { "the connection sat idle" } else { "the request head took too long" });
        }
        self.arm(cx, now);
        None
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
            && this.phase.get() == WAITING
        {
            this.phase.set(READING);
            this.since = Instant::now();
        }
        if !poll.is_pending() {
            return poll;
        }
        match this.overdue(cx) {
            Some(why) => Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, why))),
            None => Poll::Pending,
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
