//! The benchmarks' reader of the hub's review event stream (SSE).

use std::time::Instant;

use anyhow::Result;
use serde_json::Value;
use tokio::sync::mpsc;

/// Reads one SSE stream; reports readiness at the greeting, and each event's type and id.
pub(crate) async fn subscriber(
    n: usize,
    mut resp: reqwest::Response,
    tx: mpsc::UnboundedSender<(usize, String, String, Instant)>,
    ready: mpsc::UnboundedSender<usize>,
) -> Result<()> {
    let mut buf: Vec<u8> = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        let at = Instant::now();
        buf.extend_from_slice(&chunk);
        while let Some(end) = buf.windows(2).position(|w| w == b"\n\n") {
            let frame: Vec<u8> = buf.drain(..end + 2).collect();
            let frame = String::from_utf8_lossy(&frame[..end]).into_owned();
            if frame.starts_with(": subscribed") {
                let _ = ready.send(n);
                continue;
            }
            let Some(kind) = frame.lines().find_map(|l| l.strip_prefix("event: ")) else { continue };
            let data: String = frame.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
            let v: Value = serde_json::from_str(&data)?;
            let id = v["request"]["id"].as_str().unwrap_or_default().to_owned();
            let _ = tx.send((n, kind.to_owned(), id, at));
        }
    }
    Ok(())
}
