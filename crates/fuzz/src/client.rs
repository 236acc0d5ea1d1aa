//! The client's parsers: the loopback listener's request, the live review stream (SSE) and the
//! links the operating system hands the desktop app.

use keyway_api::DEEP_LINK_REDIRECT;
use keyway_client::fuzzing::{self as client, FrameBuffer};
use keyway_client::links::{self, Incoming};
use keyway_client::loopback::{CallbackParams, Verdict, judge, parse_request_line};

use crate::input::{pick, text};

const STATE: &str = "st_4Kq9";
const ISSUER: &str = "http://127.0.0.1:8080";

/// What `judge` may answer for `query`: a code only with this sign-in's state and, when an
/// issuer is given, this hub's.
fn check_callback(query: &str, iss_required: bool) {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    // The listener keeps the last value of a repeated name.
    let last = |name: &str| pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    match judge(CallbackParams::from_query(query), STATE, ISSUER, iss_required) {
        Verdict::Code(code) => {
            assert_eq!(last("state"), Some(STATE));
            assert_eq!(last("code"), Some(code.secret()));
            assert!(!code.secret().is_empty());
            assert!(last("error").is_none(), "a refusal was taken for a code");
            match last("iss") {
                Some(iss) => assert_eq!(iss.trim_end_matches('/'), ISSUER),
                None => assert!(!iss_required),
            }
        }
        Verdict::Refused { .. } => assert_eq!(last("state"), Some(STATE), "a stray request ended the sign-in"),
        Verdict::Ignore(_) => assert_ne!(last("state"), Some(STATE)),
    }
}

/// The loopback listener's request head, then the callback query it carries.
pub fn loopback_request(data: &[u8]) {
    let (iss_required, head) = pick(data);
    // As the listener reads it.
    let head = text(head);
    let Some(target) = parse_request_line(&head) else { return };
    assert!(target.starts_with('/') && !target.contains(' '), "{target:?}");
    let line = head.lines().next().unwrap_or_default();
    assert!(line.starts_with(&format!("GET {target} HTTP/1.")), "{line:?}");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path == "/callback" {
        check_callback(query, iss_required % 2 == 1);
    }
}

/// The live review stream: bytes in any chunks read as the same frames as all at once, and a
/// frame is an event, a resync or nothing.
pub fn sse(data: &[u8]) {
    let (seed, stream) = pick(data);
    let mut whole = FrameBuffer::default();
    let mut at_once = Vec::new();
    if whole.push(stream).is_ok() {
        at_once.extend(std::iter::from_fn(|| whole.next_frame()));
    }
    let mut chunked = FrameBuffer::default();
    let mut in_chunks = Vec::new();
    let mut rest = stream;
    let mut size = usize::from(seed % 7) + 1;
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        rest = tail;
        size = size * 3 % 11 + 1;
        if chunked.push(chunk).is_err() {
            return;
        }
        in_chunks.extend(std::iter::from_fn(|| chunked.next_frame()));
    }
    assert_eq!(in_chunks, at_once, "chunks changed the frames");
    assert_eq!(chunked.pending(), whole.pending());
    assert!(!whole.pending().contains(&b'\r'));
    for frame in &at_once {
        match client::review_item(frame) {
            None => assert!(frame.event.as_deref() != Some("resync")),
            Some(Err(_)) => assert_eq!(frame.event.as_deref(), Some("resync")),
            Some(Ok(event)) => {
                let json = serde_json::to_string(&event).expect("an event serializes");
                assert_eq!(serde_json::from_str::<keyway_api::reviews::ReviewEvent>(&json).ok(), Some(event));
            }
        }
    }
}

/// Links into the desktop app and its deep-link sign-in answer. An odd first byte puts the
/// callback address in front of the rest, to reach the answer's query sooner.
pub fn deep_link(data: &[u8]) {
    let (mode, rest) = pick(data);
    let rest = text(rest);
    let input = if mode % 2 == 1 { format!("{DEEP_LINK_REDIRECT}?{rest}") } else { rest.into_owned() };
    match links::parse(&input) {
        Incoming::LoginCallback(url) => {
            assert!(url.starts_with(&format!("{DEEP_LINK_REDIRECT}?")), "{url}");
            let query = client::callback_query(&url, DEEP_LINK_REDIRECT).expect("the sign-in takes the answer");
            assert!(!query.is_empty());
            check_callback(&query, true);
        }
        Incoming::Open(route) => {
            // As the URL standard reads it: tabs and newlines dropped, leading controls and
            // spaces trimmed.
            let read: String = input.chars().filter(|c| !matches!(c, '\t' | '\n' | '\r')).collect();
            let read = read.trim_start_matches(|c: char| c <= ' ').to_ascii_lowercase();
            assert!(read.starts_with("keyway:"), "{input:?}");
            assert_eq!(links::parse(&links::link_to(&route)), Incoming::Open(route));
        }
        Incoming::NotUnderstood(message) => {
            assert!(message.chars().count() < 300, "{message}");
            assert!(!message.chars().any(char::is_control), "{message:?}");
        }
    }
}
