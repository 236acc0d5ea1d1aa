//! Entry points into the client's parsers of what the network and the operating system hand it,
//! for the fuzz targets (`crates/fuzz`) and their corpus test. Not the client's API: the
//! loopback listener's parsers ([`crate::loopback`]) and the incoming links
//! ([`crate::links`]) are public already; these reach the rest.

use keyway_api::reviews::ReviewEvent;

pub use crate::sse::{Frame, FrameBuffer, MAX_FRAME_BYTES, Overflow};

/// What a frame of the live review stream brings ([`crate::Client::review_events`]'s items).
pub fn review_item(frame: &Frame) -> Option<Result<ReviewEvent, String>> {
    crate::reviews::review_item(frame).map(|item| item.map_err(|e| e.to_string()))
}

/// The query of a sign-in answer delivered as a URL (the deep-link callback), if it is
/// addressed to `redirect_uri`.
pub fn callback_query(url: &str, redirect_uri: &str) -> Option<String> {
    crate::login::callback_query(url, redirect_uri)
}
