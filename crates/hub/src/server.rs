//! The hub's HTTP/1.1 server loop: what `axum::serve` does (a task per connection, the peer's
//! address on every request, graceful shutdown), plus telling each connection when a request's
//! head is whole.
//!
//! A client that sends its request line and headers a byte at a time would otherwise hold its
//! connection, and one of the listener's capped slots, for as long as it likes: the request
//! timeout only starts once the head is complete, and the idle timeout only sees a silent
//! connection. The connection ([`crate::limits::Capped`]) times the head from its first byte,
//! and the service below marks its end, so the whole head must arrive within the head timeout
//! or the connection is closed. (hyper's own `header_read_timeout` would do it with a new timer
//! for every request.)

use std::convert::Infallible;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::serve::Listener as _;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::sync::watch;
use tower::ServiceExt as _;

use crate::limits::CappedListener;
use crate::net::Peer;

/// Serves `router` on `listener` until `stop` says `true` (or its sender is gone), then lets
/// each open connection finish its request in flight and returns when all have closed.
pub(crate) async fn serve(mut listener: CappedListener, router: Router, mut stop: watch::Receiver<bool>) {
    // Every connection task holds a receiver; the loop's end waits for them all to go.
    let (open_tx, open_rx) = watch::channel(());
    loop {
        let (io, peer): (_, Peer) = tokio::select! {
            conn = listener.accept() => conn,
            _ = stop.wait_for(|stop| *stop) => break,
        };
        let router = router.clone();
        let mut stop = stop.clone();
        let open = open_rx.clone();
        let phase = io.phase();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                phase.serving();
                let mut request = request.map(Body::new);
                request.extensions_mut().insert(ConnectInfo(peer));
                let router = router.clone();
                async move { Ok::<_, Infallible>(router.oneshot(request).await.unwrap_or_else(|e| match e {})) }
            });
            let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(io), service);
            tokio::pin!(conn);
            let stopping = async move {
                // Resolves on `true` or when the sender is dropped; the guard is not kept.
                let _ = stop.wait_for(|stop| *stop).await;
            };
            tokio::select! {
                result = conn.as_mut() => log_end(result),
                () = stopping => {
                    conn.as_mut().graceful_shutdown();
                    log_end(conn.await);
                }
            }
            drop(open);
        });
    }
    drop(open_rx);
    drop(listener);
    open_tx.closed().await;
}

fn log_end(result: Result<(), hyper::Error>) {
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection ended");
    }
}
